/*  events/store.c: the events service's tables (layout in events.h) and their upgrades. The
 *  only file of the service that calls mdb_*.
 *
 *  Records are protobuf messages (EventInfo, Signup): the same bytes the API speaks, so a reply
 *  is the stored record. They go through kp_tx's record layer, which decodes into the unit's
 *  arena and maps and logs every LMDB failure once; this file adds the key layouts, the index
 *  entries that must change together with a record (a sign-up and its state byte), and the
 *  index walks. A missing record is found = false, never an error.
 *
 *  evt_migrate runs while the store opens, before any server or unit of work exists, so it
 *  works on the raw opening transaction. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const char *const evt_db_names[EVT_DB_N] = {"events", "signups",  "ev_signups", "ev_email",
                                            "offers", "reg_orgs", "reg_munis",  "evt_meta"};

/* ---- events and sign-ups ------------------------------------------------------------------ */

KP_REC_ID_GET(evt_event_get, EVT_DB_EVENTS, evt_event_t, kumppani__v1__event_info__descriptor)
KP_REC_ID_PUT(evt_event_put, EVT_DB_EVENTS, evt_event_t)
KP_REC_ID_GET(evt_signup_get, EVT_DB_SIGNUPS, evt_signup_t, kumppani__v1__signup__descriptor)

/* The record and its entry in the event's list (the key index, index.c). */
int
evt_signup_put(kp_tx_t *t, const evt_signup_t *s)
{
    int rc = kp_rec_put_id(t, EVT_DB_SIGNUPS, s->id, &s->base);
    return rc ? rc : evt_list_put(t, s->event_id, s->id, s->state);
}

size_t
evt_ext_key(char *key, const char *source, const char *external_id)
{
    size_t s = strlen(source), e = strlen(external_id);
    assert(s + 1 + e <= EVT_EXT_KEY_MAX); /* the field rules bound both */
    memcpy(key, source, s);
    key[s] = 0;
    memcpy(key + s + 1, external_id, e);
    return s + 1 + e;
}

/* ---- loading what a request names (in a call: kp_rec_need) -------------------------------- */

evt_event_t *
evt_load_event(kp_tx_t *t, uint64_t id)
{
    return kp_rec_need(t, EVT_DB_EVENTS, id, &kumppani__v1__event_info__descriptor, "event_id",
                       "event");
}

evt_signup_t *
evt_load_signup(kp_tx_t *t, uint64_t id)
{
    return kp_rec_need(t, EVT_DB_SIGNUPS, id, &kumppani__v1__signup__descriptor, "signup_id",
                       "sign-up");
}

/* ---- walks -------------------------------------------------------------------------------- */

/* The records go through kp_rec_walk, which decodes them and stops on a corrupt one; fn's
 * "stop" (non-zero) ends the walk without being an error. */
typedef struct {
    int (*signup_fn)(void *, evt_signup_t *);
    int (*event_fn)(void *, evt_event_t *);
    void *arg;
    unsigned n, limit; /* events given, and how many at most (0: no bound) */
} walk_t;

static int
s_signup_entry(void *arg, void *rec)
{
    walk_t *w = arg;
    return w->signup_fn(w->arg, rec) != 0;
}

int
evt_signups_scan(kp_tx_t *t, int (*fn)(void *, evt_signup_t *), void *arg)
{
    walk_t w = {.signup_fn = fn, .arg = arg};
    int rc = kp_rec_walk(t, EVT_DB_SIGNUPS, NULL, 0, &kumppani__v1__signup__descriptor,
                         s_signup_entry, &w);
    return rc > 0 ? 0 : rc;
}

/* Stops after the limit-th event, so that no record past the page is decoded. */
static int
s_event_entry(void *arg, void *rec)
{
    walk_t *w = arg;
    return w->event_fn(w->arg, rec) != 0 || ++w->n == w->limit;
}

int
evt_events_each(kp_tx_t *t, uint64_t after_id, unsigned limit, int (*fn)(void *, evt_event_t *),
                void *arg)
{
    if (limit == 0)
        return 0;
    uint8_t key[8];
    kp_be64_put(key, after_id + 1);
    walk_t w = {.event_fn = fn, .arg = arg, .limit = limit};
    int rc = kp_rec_walk(t, EVT_DB_EVENTS, key, 8, &kumppani__v1__event_info__descriptor,
                         s_event_entry, &w);
    return rc > 0 ? 0 : rc;
}

/* ---- offers: deadline_ms . signup_id -> "" ------------------------------------------------ */

static void
s_offer_key(uint8_t *key, int64_t deadline_ms, uint64_t signup_id)
{
    kp_be64_put(key, (uint64_t)deadline_ms);
    kp_be64_put(key + 8, signup_id);
}

int
evt_offer_put(kp_tx_t *t, int64_t deadline_ms, uint64_t signup_id)
{
    uint8_t key[16];
    s_offer_key(key, deadline_ms, signup_id);
    EVT_SVC(t)->offers_dirty = true;
    return kp_raw_put(t, EVT_DB_OFFERS, key, 16, key, 0);
}

int
evt_offer_del(kp_tx_t *t, int64_t deadline_ms, uint64_t signup_id)
{
    uint8_t key[16];
    s_offer_key(key, deadline_ms, signup_id);
    EVT_SVC(t)->offers_dirty = true;
    return kp_raw_del(t, EVT_DB_OFFERS, key, 16, NULL);
}

typedef struct {
    unsigned n, *got;
    int64_t *deadline_ms;
    uint64_t *signup_id;
} offers_walk_t;

static int
s_offer_entry(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    offers_walk_t *w = arg;
    if (*w->got == w->n)
        return 1;
    if (k->mv_size == 16) {
        w->deadline_ms[*w->got] = (int64_t)kp_be64_get(k->mv_data);
        w->signup_id[*w->got] = kp_be64_get((const uint8_t *)k->mv_data + 8);
        (*w->got)++;
    }
    return 0;
}

int
evt_offers_first(kp_tx_t *t, unsigned n, int64_t *deadline_ms, uint64_t *signup_id, unsigned *got)
{
    *got = 0;
    offers_walk_t w = {n, got, deadline_ms, signup_id};
    int rc = kp_rec_each(t, EVT_DB_OFFERS, NULL, 0, NULL, 0, s_offer_entry, &w);
    return rc > 0 ? 0 : rc;
}

/* ---- the registry read model -------------------------------------------------------------- */

int
evt_reg_org_get(kp_tx_t *t, uint64_t org_id, int *status, bool *found)
{
    uint8_t key[8];
    MDB_val v;
    kp_be64_put(key, org_id);
    int rc = kp_raw_get(t, EVT_DB_REG_ORGS, key, 8, &v, found);
    *found = *found && v.mv_size == 1;
    if (*found)
        *status = *(const uint8_t *)v.mv_data;
    return rc;
}

int
evt_reg_org_put(kp_tx_t *t, uint64_t org_id, int status)
{
    uint8_t key[8], b = (uint8_t)status;
    kp_be64_put(key, org_id);
    return kp_raw_put(t, EVT_DB_REG_ORGS, key, 8, &b, 1);
}

KP_REC_ID_DEL(evt_reg_org_del, EVT_DB_REG_ORGS)

int
evt_reg_muni_get(kp_tx_t *t, const char *code, bool *found)
{
    MDB_val v;
    *found = false;
    return *code ? kp_raw_get(t, EVT_DB_REG_MUNIS, code, strlen(code), &v, found) : 0;
}

int
evt_reg_muni_put(kp_tx_t *t, const char *code)
{
    size_t n = strlen(code);
    return n == 0 || n > 16 ? 0 : kp_raw_put(t, EVT_DB_REG_MUNIS, code, n, code, 0);
}

/* ---- upgrades (kp_store_opts_t.migrate) -----------------------------------------------------
 *
 *  1 -> 2: schema 2 keeps per-role counts in each event (EventInfo.role_counts), which the
 *  role balance rules read. A store written by schema 1 has sign-ups but no such counts, so
 *  they are computed once here from each event's live sign-ups, inside the opening
 *  transaction: the store opens either fully upgraded or not at all. */

#define ROLES_N 7 /* ParticipantRole values 0..6 */

static int
s_v2_role_counts(MDB_txn *txn)
{
    MDB_dbi events, signups, ev_signups;
    int rc;
    if ((rc = mdb_dbi_open(txn, "events", 0, &events)) ||
        (rc = mdb_dbi_open(txn, "signups", 0, &signups)) ||
        (rc = mdb_dbi_open(txn, "ev_signups", 0, &ev_signups)))
        return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc); /* nothing stored yet */
    MDB_cursor *ec = NULL, *sc = NULL;
    if ((rc = mdb_cursor_open(txn, events, &ec)) || (rc = mdb_cursor_open(txn, ev_signups, &sc)))
        goto done;
    MDB_val k, v;
    uint64_t n_events = 0;
    for (rc = mdb_cursor_get(ec, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(ec, &k, &v, MDB_NEXT)) {
        uint64_t event_id = kp_be64_get(k.mv_data);
        uint32_t held[ROLES_N] = {0}, waiting[ROLES_N] = {0};
        uint8_t key[16];
        kp_be64_put(key, event_id);
        kp_be64_put(key + 8, 0);
        MDB_val sk = {16, key}, sv;
        int src = mdb_cursor_get(sc, &sk, &sv, MDB_SET_RANGE);
        for (; src == 0 && sk.mv_size == 16 && kp_be64_get(sk.mv_data) == event_id;
             src = mdb_cursor_get(sc, &sk, &sv, MDB_NEXT)) {
            MDB_val idk = {8, (uint8_t *)sk.mv_data + 8}, rec;
            if (mdb_get(txn, signups, &idk, &rec) != 0)
                continue;
            evt_signup_t *s = kumppani__v1__signup__unpack(NULL, rec.mv_size, rec.mv_data);
            if (!s) {
                rc = KP_ECORRUPT;
                goto done;
            }
            uint32_t places = 1 + s->companions;
            unsigned role = (unsigned)s->role < ROLES_N ? (unsigned)s->role : 0;
            if (s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_WAITLISTED)
                waiting[role] += places;
            else if (s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED ||
                     s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_OFFERED)
                held[role] += places;
            kumppani__v1__signup__free_unpacked(s, NULL);
        }
        evt_event_t *ev = kumppani__v1__event_info__unpack(NULL, v.mv_size, v.mv_data);
        if (!ev) {
            rc = KP_ECORRUPT;
            goto done;
        }
        Kumppani__V1__RoleCount counts[ROLES_N], *ptrs[ROLES_N];
        size_t n = 0;
        for (unsigned r = 1; r < ROLES_N; r++) {
            if (!held[r] && !waiting[r])
                continue;
            kumppani__v1__role_count__init(&counts[n]);
            counts[n].role = r;
            counts[n].confirmed_n = held[r];
            counts[n].waitlisted_n = waiting[r];
            ptrs[n] = &counts[n];
            n++;
        }
        /* The decoded message owns its old list; swap ours in to pack, then swap back. */
        size_t old_n = ev->n_role_counts;
        Kumppani__V1__RoleCount **old = ev->role_counts;
        ev->n_role_counts = n;
        ev->role_counts = ptrs;
        rc = kp_store_repack(ec, &k, &ev->base);
        ev->n_role_counts = old_n;
        ev->role_counts = old;
        kumppani__v1__event_info__free_unpacked(ev, NULL);
        if (rc)
            goto done;
        n_events++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    kp_log_notice("events.migrate", "to=2 events=%llu", (unsigned long long)n_events);
done:
    if (sc)
        mdb_cursor_close(sc);
    if (ec)
        mdb_cursor_close(ec);
    /* LMDB codes (and errno values) become KP codes; our own pass through. */
    return rc > 0 || (rc <= MDB_KEYEXIST && rc >= MDB_LAST_ERRCODE) ? kp_err_from_mdb(rc) : rc;
}

/*  2 -> 3: the log carries only public copies of sign-ups. Old entries are
 *  rewritten with kp_store_log_rewrite, which needs the kp_store_t that the migrate hook does
 *  not receive (it runs inside kp_store_open). So the hook records a marker "log-scrub" in
 *  evt_meta, in the opening transaction, and the first pass of the timer (evt_log_scrub, in
 *  the first turn, before any request is read) rewrites the log and deletes the marker in one
 *  transaction: a crash in between leaves the marker, and the next start scrubs again. */

#define SCRUB_MARK "log-scrub"

static int
s_v3_mark_scrub(MDB_txn *txn)
{
    MDB_dbi meta;
    int rc = mdb_dbi_open(txn, "evt_meta", MDB_CREATE, &meta);
    MDB_val k = {sizeof SCRUB_MARK - 1, SCRUB_MARK}, v = {0, ""};
    if (rc == 0)
        rc = mdb_put(txn, meta, &k, &v, 0);
    return rc ? kp_err_from_mdb(rc) : 0;
}

/*  3 -> 4: the e-mail index and the events' lists leave the synced store for the key index
 *  (index.c), which the first start builds from the signups table. The old tables are emptied
 *  here (ev_email held addresses in clear, which an erasure does not reach); first answers
 *  stored under the publisher's id stay where they are and are still read (signup.c,
 *  privacy.c). */
static int
s_v4_drop(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, name, 0, &dbi);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0)
        rc = mdb_drop(txn, dbi, 0);
    return rc ? kp_err_from_mdb(rc) : 0;
}

int
evt_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to)
{
    (void)arg;
    (void)to;
    int rc = from < 2 ? s_v2_role_counts(txn) : 0;
    rc = rc == 0 && from < 3 ? s_v3_mark_scrub(txn) : rc;
    rc = rc == 0 && from < 4 ? s_v4_drop(txn, "ev_email") : rc;
    return rc == 0 && from < 4 ? s_v4_drop(txn, "ev_signups") : rc;
}

/* The rewrite of one logged event: a sign-up event gets its public copy. */
typedef struct {
    kp_arena_t *arena;
} scrub_t;

static int
s_scrub_one(void *arg, const Kumppani__V1__Event *ev, uint8_t **payload, size_t *payload_len,
            bool *changed)
{
    scrub_t *sc = arg;
    if (!ev->type || strncmp(ev->type, "Signup", 6) != 0 || strcmp(ev->type, "SignupErased") == 0)
        return 0;
    Kumppani__V1__SignupReply *r = kumppani__v1__signup_reply__unpack(
        kp_arena_pbc(sc->arena), ev->payload.len, ev->payload.data);
    if (!r || !r->signup)
        return 0; /* not ours to judge: left as it is */
    evt_signup_t pub;
    evt_signup_public(r->signup, &pub);
    r->signup = &pub;
    size_t len = kumppani__v1__signup_reply__get_packed_size(r);
    uint8_t *buf = kp_arena_alloc(sc->arena, len ? len : 1);
    if (!buf)
        return KP_ENOMEM;
    kumppani__v1__signup_reply__pack(r, buf);
    *payload = buf;
    *payload_len = len;
    *changed = true;
    return 0;
}

int
evt_log_scrub(kp_tx_t *t)
{
    MDB_val v;
    bool found = false;
    int rc = kp_raw_get(t, EVT_DB_META, SCRUB_MARK, sizeof SCRUB_MARK - 1, &v, &found);
    if (rc || !found)
        return rc;
    MDB_txn *w = kp_tx_wtxn(t);
    if (!w)
        return KP_ESTORE;
    scrub_t sc = {t->arena};
    uint64_t n = 0;
    if ((rc = kp_store_log_rewrite(kp_server_store(t->srv), w, s_scrub_one, &sc, &n)) ||
        (rc = kp_raw_del(t, EVT_DB_META, SCRUB_MARK, sizeof SCRUB_MARK - 1, NULL)))
        return rc;
    kp_log_notice("events.migrate", "to=3 log_rewritten=%llu", (unsigned long long)n);
    kp_server_compact_soon(t->srv); /* the old payloads leave data.mdb */
    return 0;
}
