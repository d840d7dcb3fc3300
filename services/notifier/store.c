/*  notifier/store.c: the key layouts, records and index walks of the notifier's LMDB store
 *  (layout in notifier.h). The only file of the service that calls mdb_* (through the kp_tx
 *  record layer, which maps and logs every LMDB failure once).
 *
 *  Invariant: ntf_rec_put is the one place that keeps the due, by_event, by_request and dead
 *  indexes in step with a record: a record has a due entry exactly while it is SCHEDULED (at
 *  due_ms) or SENDING (at lease_until_ms), and a dead entry exactly while it is DEAD (ntf_rec_del
 *  removes all of a deleted record's entries). Everything here reads and writes in the unit's
 *  transaction; records decode into tx->arena.
 *
 *  Puts (measured: the catch-up of the events log from zero, 1.3 million sign-up events, 4,000
 *  a replay page, one synced turn a page). Profiled (perf, DWARF call graphs), puts took 41 %
 *  of the notifier's CPU, the reads before them 12 % and the commit 16 %. So planning puts a
 *  notification once with MDB_NOOVERWRITE instead of reading its key and then putting it (a
 *  known key is refused untouched, as the read found it before), and the keys that grow (a due
 *  entry at the turn's time, a sign-up's id) go in with MDB_APPEND: one descent without key
 *  compares, and pages split full instead of half-full. In the profile the reads fell from
 *  7.6 % to 2.0 % of the CPU. What remains is the two index entries of 100 insertion points
 *  each (by_event, ev_signups: a quarter of the CPU), the record puts and the commit. End to
 *  end (kp-bench-signup --catch-up on, 15 runs before and 11 after, alternated) the median went
 *  from 95,600 to 108,500 events/s and the best run from 134,600 to 138,100 (notifier CPU per
 *  event at best 5.47 -> 5.27 us); the machine's spread (45,000 to 138,000) is wider than that. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "notifier.h"

#include <stdlib.h>
#include <string.h>

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x

const char *const ntf_db_names[NTF_DB_N] = {
    "ntf",    "due",   "by_event", "dead",     "events", "signups",   "ev_signups",
    "optout", "state", "brk_req",  "contacts", "munis",  "by_request"};

/* A flag is a key with an empty value: present (on) or absent (off). */
static int
s_flag(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, bool on)
{
    return kp_raw_set(tx, db, key, key_len, on ? "" : NULL, 0);
}

static int
s_flag_get(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, bool *on)
{
    MDB_val v;
    return kp_raw_get(tx, db, key, key_len, &v, on);
}

static int
s_flag_append(kp_tx_t *tx, unsigned db, const void *key, size_t key_len)
{
    return kp_raw_put_flags(tx, db, key, key_len, "", 0, MDB_APPEND);
}

/* id (8) . key */
static size_t
s_idkey(uint8_t *buf, uint64_t id, const char *key)
{
    size_t kl = strlen(key);
    kp_be64_put(buf, id);
    memcpy(buf + 8, key, kl);
    return 8 + kl;
}

static int64_t
s_due_at(const ntf_rec_t *r)
{
    if (r->state == ST(SCHEDULED))
        return r->due_ms;
    if (r->state == ST(SENDING))
        return r->lease_until_ms;
    return -1;
}

/* ---- notifications ------------------------------------------------------------------------ */

int
ntf_rec_get(kp_tx_t *tx, const char *key, ntf_rec_t **out, bool *found)
{
    return kp_rec_get(tx, NTF_DB_NTF, key, strlen(key), &kumppani__v1__notification__descriptor,
                      (void **)out, found);
}

/* Keeps the due, dead, by_event and by_request entries of r (old: as stored, or NULL for a new
 * record) in step with it. The due entry of a new record is put with s_flag_append: planning
 * from the logs puts it at the turn's time, above every entry already there. */
static int
s_index(kp_tx_t *tx, const ntf_rec_t *old, const ntf_rec_t *r)
{
    uint8_t buf[8 + NTF_KEY_MAX];
    int rc;
    int64_t was = old ? s_due_at(old) : -1, now = s_due_at(r);
    if (was != now) {
        if (was >= 0 &&
            (rc = s_flag(tx, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)was, r->key), false)))
            return rc;
        if (now >= 0 &&
            (rc = s_flag_append(tx, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)now, r->key))))
            return rc;
    }
    bool dead_was = old && old->state == ST(DEAD);
    bool dead_now = r->state == ST(DEAD);
    if (dead_was != dead_now && (rc = s_flag(tx, NTF_DB_DEAD, r->key, strlen(r->key), dead_now)))
        return rc;
    if (!old && r->event_id &&
        (rc = s_flag(tx, NTF_DB_BY_EVENT, buf, s_idkey(buf, r->event_id, r->key), true)))
        return rc;
    if (!old && r->request_id &&
        (rc = s_flag(tx, NTF_DB_BY_REQUEST, buf, s_idkey(buf, r->request_id, r->key), true)))
        return rc;
    return 0;
}

int
ntf_rec_put(kp_tx_t *tx, const ntf_rec_t *old, const ntf_rec_t *r)
{
    if (strlen(r->key) > NTF_KEY_MAX)
        return KP_EINVAL;
    int rc = s_index(tx, old, r);
    return rc ? rc : kp_rec_put(tx, NTF_DB_NTF, r->key, strlen(r->key), &r->base);
}

int
ntf_rec_del(kp_tx_t *tx, const ntf_rec_t *old)
{
    uint8_t buf[8 + NTF_KEY_MAX];
    int rc = 0;
    int64_t due = s_due_at(old);
    if (strlen(old->key) > NTF_KEY_MAX)
        return KP_EINVAL;
    if (due >= 0)
        rc = s_flag(tx, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)due, old->key), false);
    if (rc == 0 && old->state == ST(DEAD))
        rc = s_flag(tx, NTF_DB_DEAD, old->key, strlen(old->key), false);
    if (rc == 0 && old->event_id)
        rc = s_flag(tx, NTF_DB_BY_EVENT, buf, s_idkey(buf, old->event_id, old->key), false);
    if (rc == 0 && old->request_id)
        rc = s_flag(tx, NTF_DB_BY_REQUEST, buf, s_idkey(buf, old->request_id, old->key), false);
    return rc ? rc : kp_raw_del(tx, NTF_DB_NTF, old->key, strlen(old->key), NULL);
}

/* One put with MDB_NOOVERWRITE, not a read and then a put: a known key refuses it untouched
 * (nothing is written), and a new one costs one descent of the biggest tree instead of two. */
int
ntf_rec_plan(kp_tx_t *tx, const ntf_rec_t *r, bool *planned)
{
    size_t key_len = strlen(r->key);
    *planned = false;
    if (key_len > NTF_KEY_MAX)
        return KP_EINVAL;
    int rc = kp_rec_put_flags(tx, NTF_DB_NTF, r->key, key_len, &r->base, MDB_NOOVERWRITE);
    if (rc)
        return rc == 1 ? 0 : rc;
    *planned = true;
    return s_index(tx, NULL, r);
}

void
ntf_rec_attempt(kp_tx_t *tx, ntf_rec_t *r, bool ok, const char *result)
{
    kp_arena_t *a = tx->arena;
    size_t keep = r->n_attempts < NTF_ATTEMPTS_KEPT ? r->n_attempts : NTF_ATTEMPTS_KEPT - 1;
    Kumppani__V1__DeliveryAttempt **v = kp_arena_alloc(a, (keep + 1) * sizeof *v);
    Kumppani__V1__DeliveryAttempt *at = kp_arena_alloc(a, sizeof *at);
    if (!v || !at)
        return;
    kumppani__v1__delivery_attempt__init(at);
    at->time_ms = tx->now_ms;
    at->ok = ok;
    at->result = kp_arena_memdup(a, result, strlen(result));
    if (!at->result)
        at->result = (char *)"";
    if (keep)
        memcpy(v, r->attempts + (r->n_attempts - keep), keep * sizeof *v);
    v[keep] = at;
    r->attempts = v;
    r->n_attempts = keep + 1;
}

/* ---- the schedule and the dead letters ---------------------------------------------------- */

typedef struct {
    char *key;
    size_t cap;
    int64_t due;
    bool malformed;
    uint8_t bad[512];
    size_t bad_len;
} s_first_t;

static int
s_due_first(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    s_first_t *f = arg;
    if (k->mv_size > 8 && k->mv_size - 8 <= NTF_KEY_MAX) {
        f->due = (int64_t)kp_be64_get(k->mv_data);
        memcpy(f->key, (const char *)k->mv_data + 8, k->mv_size - 8);
        f->key[k->mv_size - 8] = 0;
    } else {
        f->malformed = true;
        f->bad_len = k->mv_size < sizeof f->bad ? k->mv_size : sizeof f->bad;
        memcpy(f->bad, k->mv_data, f->bad_len);
    }
    return 1;
}

int
ntf_due_first(kp_tx_t *tx, int64_t *due_ms, char key[NTF_KEY_MAX + 1], bool *found)
{
    for (;;) {
        s_first_t f = {.key = key};
        int rc = kp_rec_each(tx, NTF_DB_DUE, NULL, 0, NULL, 0, s_due_first, &f);
        *found = rc == 1 && !f.malformed;
        if (rc < 0)
            return rc;
        if (rc == 0 || !f.malformed) {
            *due_ms = f.due;
            return 0;
        }
        /* A malformed entry cannot be ours: drop it and look again. */
        if ((rc = kp_raw_del(tx, NTF_DB_DUE, f.bad, f.bad_len, NULL)))
            return rc;
    }
}

int
ntf_due_drop(kp_tx_t *tx, int64_t due_ms, const char *key)
{
    uint8_t buf[8 + NTF_KEY_MAX];
    return s_flag(tx, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)due_ms, key), false);
}

typedef struct {
    kp_tx_t *tx;
    ntf_rec_t **v;
    size_t n, limit;
} s_page_t;

static int
s_dead_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    s_page_t *p = arg;
    if (p->n >= p->limit)
        return 1;
    char *key = kp_arena_memdup(p->tx->arena, k->mv_data, k->mv_size);
    bool found;
    if (!key)
        return KP_ENOMEM;
    int rc = ntf_rec_get(p->tx, key, &p->v[p->n], &found);
    if (rc)
        return rc;
    if (found)
        p->n++;
    return 0;
}

int
ntf_dead_page(kp_tx_t *tx, const char *after_key, uint32_t limit, ntf_rec_t ***out, size_t *out_n)
{
    s_page_t p = {.tx = tx, .limit = limit};
    p.v = kp_arena_alloc(tx->arena, (limit ? limit : 1) * sizeof *p.v);
    if (!p.v)
        return KP_ENOMEM;
    int rc =
        kp_rec_each_after(tx, NTF_DB_DEAD, after_key, strlen(after_key), NULL, 0, s_dead_one, &p);
    *out = p.v;
    *out_n = p.n;
    return rc < 0 ? rc : 0;
}

/* ---- what the notifier heard from the events service --------------------------------------- */

KP_REC_ID_GET(ntf_event_get, NTF_DB_EVENTS, Kumppani__V1__EventInfo,
              kumppani__v1__event_info__descriptor)
KP_REC_ID_PUT(ntf_event_put, NTF_DB_EVENTS, Kumppani__V1__EventInfo)
KP_REC_ID_GET(ntf_signup_get, NTF_DB_SIGNUPS, Kumppani__V1__Signup,
              kumppani__v1__signup__descriptor)

int
ntf_signup_put(kp_tx_t *tx, const Kumppani__V1__Signup *s)
{
    uint8_t ek[16];
    kp_be64_put(ek, s->event_id);
    kp_be64_put(ek + 8, s->id);
    bool live = s->state != KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED;
    int rc = s_flag(tx, NTF_DB_EV_SIGNUPS, ek, 16, live);
    /* sign-up ids grow: a new sign-up goes after the last one */
    return rc ? rc : kp_rec_put_flags(tx, NTF_DB_SIGNUPS, ek + 8, 8, &s->base, MDB_APPEND);
}

int
ntf_signup_del(kp_tx_t *tx, uint64_t event_id, uint64_t signup_id)
{
    uint8_t ek[16], k[8];
    kp_be64_put(ek, event_id);
    kp_be64_put(ek + 8, signup_id);
    kp_be64_put(k, signup_id);
    int rc = kp_raw_del(tx, NTF_DB_EV_SIGNUPS, ek, 16, NULL);
    return rc ? rc : kp_raw_del(tx, NTF_DB_SIGNUPS, k, 8, NULL);
}

typedef struct {
    kp_tx_t *tx;
    bool (*want)(void *, const ntf_rec_t *);
    void *arg;
    char **v;
    size_t n, cap;
} s_scan_t;

/* Each record comes decoded in n->scan_arena, emptied for the next: the walk's memory does not
 * grow with the store (the unit's arena keeps only the keys wanted). */
static int
s_scan_one(void *arg, const MDB_val *k, void *rec)
{
    s_scan_t *sc = arg;
    const ntf_rec_t *r = rec;
    if (!sc->want(sc->arg, r))
        return 0;
    char **nv = kp_arena_grow(sc->tx->arena, sc->v, sc->n, &sc->cap, sizeof *nv, 64);
    if (!nv)
        return KP_ENOMEM;
    sc->v = nv;
    char *key = kp_arena_alloc(sc->tx->arena, k->mv_size + 1);
    if (!key)
        return KP_ENOMEM;
    memcpy(key, k->mv_data, k->mv_size);
    key[k->mv_size] = 0;
    sc->v[sc->n++] = key;
    return 0;
}

int
ntf_rec_scan(kp_tx_t *tx, bool (*want)(void *, const ntf_rec_t *), void *arg, char ***keys,
             size_t *keys_n)
{
    s_scan_t sc = {.tx = tx, .want = want, .arg = arg};
    const ntf_t *n = tx->svc;
    int rc = kp_rec_walk_scratch(tx, NTF_DB_NTF, NULL, 0, &kumppani__v1__notification__descriptor,
                                 n->scan_arena, s_scan_one, &sc);
    *keys = sc.v;
    *keys_n = sc.n;
    return rc < 0 ? rc : 0;
}

/* A growing arena array of ids or key strings (the rest of an 8-byte-prefixed key). */
typedef struct {
    kp_arena_t *a;
    void *v;
    size_t n, cap, size;
    bool text;
} s_acc_t;

static int
s_push(s_acc_t *acc, const void *item)
{
    void *nv = kp_arena_grow(acc->a, acc->v, acc->n, &acc->cap, acc->size, 64);
    if (!nv)
        return KP_ENOMEM;
    acc->v = nv;
    memcpy((char *)acc->v + acc->n++ * acc->size, item, acc->size);
    return 0;
}

static int
s_acc(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    s_acc_t *acc = arg;
    if (acc->text) {
        char *s = kp_arena_memdup(acc->a, (const char *)k->mv_data + 8, k->mv_size - 8);
        return s ? s_push(acc, &s) : KP_ENOMEM;
    }
    uint64_t id = kp_be64_get((const uint8_t *)k->mv_data + 8);
    return s_push(acc, &id);
}

/* Collects the rest of each key of db that starts with the big-endian id. */
static int
s_prefix_collect(kp_tx_t *tx, unsigned db, uint64_t id, s_acc_t *acc)
{
    uint8_t p[8];
    kp_be64_put(p, id);
    return kp_rec_each(tx, db, p, 8, p, 8, s_acc, acc);
}

int
ntf_event_signups(kp_tx_t *tx, uint64_t event_id, uint64_t **ids, size_t *ids_n)
{
    s_acc_t acc = {.a = tx->arena, .size = sizeof(uint64_t)};
    int rc = s_prefix_collect(tx, NTF_DB_EV_SIGNUPS, event_id, &acc);
    *ids = acc.v;
    *ids_n = acc.n;
    return rc;
}

int
ntf_event_keys(kp_tx_t *tx, uint64_t event_id, char ***keys, size_t *keys_n)
{
    s_acc_t acc = {.a = tx->arena, .size = sizeof(char *), .text = true};
    int rc = s_prefix_collect(tx, NTF_DB_BY_EVENT, event_id, &acc);
    *keys = acc.v;
    *keys_n = acc.n;
    return rc;
}

int
ntf_request_keys(kp_tx_t *tx, uint64_t request_id, char ***keys, size_t *keys_n)
{
    s_acc_t acc = {.a = tx->arena, .size = sizeof(char *), .text = true};
    int rc = s_prefix_collect(tx, NTF_DB_BY_REQUEST, request_id, &acc);
    *keys = acc.v;
    *keys_n = acc.n;
    return rc;
}

/* ---- opt-outs and switches ------------------------------------------------------------------ */

#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

/* An opt-out's key: the channel, then the address in one form: an e-mail lowered, a phone
 * number as kp_privacy_phone_norm writes it (so that "040 1234567" and "+358401234567" are one
 * entry; stores before schema 4 are rewritten so on opening). */
static size_t
s_optkey(uint8_t *buf, size_t cap, int channel, const char *address)
{
    buf[0] = (uint8_t)channel;
    if (channel == CH(SMS))
        kp_privacy_phone_norm(address, (char *)buf + 1, cap - 1);
    else
        kp_text_ascii_lower((char *)buf + 1, cap - 1, address);
    return 1 + strlen((char *)buf + 1);
}

int
ntf_optout_get(kp_tx_t *tx, int channel, const char *address, bool *out)
{
    uint8_t buf[300];
    return s_flag_get(tx, NTF_DB_OPTOUT, buf, s_optkey(buf, sizeof buf, channel, address), out);
}

int
ntf_optout_set(kp_tx_t *tx, int channel, const char *address, bool on)
{
    uint8_t buf[300];
    return s_flag(tx, NTF_DB_OPTOUT, buf, s_optkey(buf, sizeof buf, channel, address), on);
}

typedef struct {
    kp_tx_t *tx;
    size_t n, limit;
    int *ch;
    char **addr;
} s_opage_t;

static int
s_optout_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    s_opage_t *p = arg;
    if (p->n >= p->limit)
        return 1;
    if (k->mv_size < 2)
        return 0;
    const uint8_t *b = k->mv_data;
    char *a = kp_arena_alloc(p->tx->arena, k->mv_size);
    if (!a)
        return KP_ENOMEM;
    memcpy(a, b + 1, k->mv_size - 1);
    a[k->mv_size - 1] = 0;
    p->ch[p->n] = b[0];
    p->addr[p->n++] = a;
    return 0;
}

int
ntf_optout_page(kp_tx_t *tx, const char *after, uint32_t limit, int **channels, char ***addresses,
                size_t *n)
{
    /* after: "<channel digit>:<address>" as the reply's last entry, or "" */
    uint8_t buf[300];
    size_t after_len = 0;
    if (after && after[0] >= '1' && after[0] <= '3' && after[1] == ':')
        after_len = s_optkey(buf, sizeof buf, after[0] - '0', after + 2);
    s_opage_t p = {.tx = tx, .limit = limit};
    p.ch = kp_arena_alloc(tx->arena, (limit ? limit : 1) * sizeof *p.ch);
    p.addr = kp_arena_alloc(tx->arena, (limit ? limit : 1) * sizeof *p.addr);
    if (!p.ch || !p.addr)
        return KP_ENOMEM;
    int rc = kp_rec_each_after(tx, NTF_DB_OPTOUT, buf, after_len, NULL, 0, s_optout_one, &p);
    *channels = p.ch;
    *addresses = p.addr;
    *n = p.n;
    return rc < 0 ? rc : 0;
}

int
ntf_state_get(kp_tx_t *tx, const char *name, bool *on)
{
    return s_flag_get(tx, NTF_DB_STATE, name, strlen(name), on);
}

int
ntf_state_set(kp_tx_t *tx, const char *name, bool on)
{
    return s_flag(tx, NTF_DB_STATE, name, strlen(name), on);
}

/* ---- what the notifier heard from the expert-broker and the registry ---------------------- */

KP_REC_ID_GET(ntf_brkreq_get, NTF_DB_BRK_REQ, Kumppani__V1__BrokerRequest,
              kumppani__v1__broker_request__descriptor)
KP_REC_ID_PUT(ntf_brkreq_put, NTF_DB_BRK_REQ, Kumppani__V1__BrokerRequest)

int
ntf_muni_put(kp_tx_t *tx, const Kumppani__V1__Municipality *m)
{
    char *end;
    unsigned long code = strtoul(m->code, &end, 10);
    if (!m->code[0] || *end)
        return 0;
    return kp_rec_put_id(tx, NTF_DB_MUNIS, code, &m->base);
}

int
ntf_muni_get(kp_tx_t *tx, const char *code, Kumppani__V1__Municipality **out, bool *found)
{
    char *end;
    unsigned long c = strtoul(code ? code : "", &end, 10);
    *found = false;
    if (!code || !code[0] || *end)
        return 0;
    return kp_rec_get_id(tx, NTF_DB_MUNIS, c, &kumppani__v1__municipality__descriptor, (void **)out,
                         found);
}

KP_REC_ID_PUT(ntf_contact_put, NTF_DB_CONTACTS, Kumppani__V1__Role)
KP_REC_ID_DEL(ntf_contact_del, NTF_DB_CONTACTS)

/* Every value of a database decoded as one message type, through a filter. */
typedef struct {
    kp_tx_t *tx;
    const ProtobufCMessageDescriptor *d;
    s_acc_t acc;
    bool (*keep)(void *arg, const ProtobufCMessage *m);
    void *keep_arg;
} s_each_t;

static int
s_msg_one(void *arg, void *rec)
{
    s_each_t *e = arg;
    return !e->keep || e->keep(e->keep_arg, rec) ? s_push(&e->acc, &rec) : 0;
}

static int
s_msgs(s_each_t *e, unsigned db, void ***out, size_t *out_n)
{
    e->acc.a = e->tx->arena;
    e->acc.size = sizeof(void *);
    int rc = kp_rec_walk(e->tx, db, NULL, 0, e->d, s_msg_one, e);
    *out = e->acc.v;
    *out_n = e->acc.n;
    return rc;
}

int
ntf_contacts(kp_tx_t *tx, Kumppani__V1__Role ***out, size_t *out_n)
{
    s_each_t e = {.tx = tx, .d = &kumppani__v1__role__descriptor};
    return s_msgs(&e, NTF_DB_CONTACTS, (void ***)out, out_n);
}

typedef struct {
    const char *code;
    int64_t from, to;
} s_coming_t;

static bool
s_coming_keep(void *arg, const ProtobufCMessage *m)
{
    const s_coming_t *c = arg;
    const Kumppani__V1__EventInfo *e = (const Kumppani__V1__EventInfo *)m;
    bool live = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED ||
                e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_RESCHEDULED;
    return live && strcmp(e->municipality_code, c->code) == 0 && e->start_unix >= c->from &&
           e->start_unix < c->to;
}

static int
s_by_start(const void *x, const void *y)
{
    const Kumppani__V1__EventInfo *a = *(Kumppani__V1__EventInfo *const *)x;
    const Kumppani__V1__EventInfo *b = *(Kumppani__V1__EventInfo *const *)y;
    if (a->start_unix != b->start_unix)
        return a->start_unix < b->start_unix ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int
ntf_events_coming(kp_tx_t *tx, const char *code, int64_t from_unix, int64_t to_unix,
                  Kumppani__V1__EventInfo ***out, size_t *out_n)
{
    s_coming_t c = {.code = code, .from = from_unix, .to = to_unix};
    s_each_t e = {.tx = tx,
                  .d = &kumppani__v1__event_info__descriptor,
                  .keep = s_coming_keep,
                  .keep_arg = &c};
    int rc = s_msgs(&e, NTF_DB_EVENTS, (void ***)out, out_n);
    if (rc == 0 && *out_n > 1)
        qsort(*out, *out_n, sizeof(void *), s_by_start);
    return rc;
}

/* ---- upgrades (kp_store_opts_t.migrate) -----------------------------------------------------
 *
 *  1 -> 2: the notifier keeps no personal data of a sign-up. A store written by
 *  schema 1 holds whole Signups (name, e-mail, phone, texts) in `signups` and the name and
 *  address in the sign-up messages' records; both are emptied here, in the opening
 *  transaction (the address is asked from the events service when a message is sent). The
 *  freed pages leave data.mdb at the first compaction (ntf_migrated asks for one). */

static int
s_v2_rewrite(MDB_txn *txn, const char *db, bool signups, uint64_t *n)
{
    MDB_dbi dbi;
    MDB_cursor *c = NULL;
    int rc = mdb_dbi_open(txn, db, 0, &dbi);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = mdb_cursor_open(txn, dbi, &c)))
        return kp_err_from_mdb(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ProtobufCMessage *m = protobuf_c_message_unpack(
            signups ? &kumppani__v1__signup__descriptor : &kumppani__v1__notification__descriptor,
            NULL, v.mv_size, v.mv_data);
        if (!m) {
            rc = KP_ECORRUPT;
            break;
        }
        char *keep[6] = {0};
        bool change = false;
        if (signups) {
            Kumppani__V1__Signup *s = (Kumppani__V1__Signup *)m;
            char **f[6] = {
                &s->name,        &s->email, &s->phone, &s->organisation, &s->accessibility_text,
                &s->dietary_text};
            s->has_email = s->has_email || s->email[0];
            s->has_phone = s->has_phone || s->phone[0];
            for (int i = 0; i < 6; i++) {
                keep[i] = *f[i];
                change = change || (*f[i])[0];
                *f[i] = (char *)"";
            }
        } else {
            ntf_rec_t *r = (ntf_rec_t *)m;
            if (r->signup_id && r->channel != KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_WEBHOOK &&
                (r->address[0] || r->recipient_name[0])) {
                keep[0] = r->address;
                keep[1] = r->recipient_name;
                r->address = r->recipient_name = (char *)"";
                change = true;
            }
        }
        int prc = change ? kp_store_repack(c, &k, m) : 0;
        if (change && !prc)
            (*n)++;
        /* give the decoded message its own strings back before freeing it */
        if (signups && change) {
            Kumppani__V1__Signup *s = (Kumppani__V1__Signup *)m;
            char **f[6] = {
                &s->name,        &s->email, &s->phone, &s->organisation, &s->accessibility_text,
                &s->dietary_text};
            for (int i = 0; i < 6; i++)
                *f[i] = keep[i];
        } else if (change) {
            ((ntf_rec_t *)m)->address = keep[0];
            ((ntf_rec_t *)m)->recipient_name = keep[1];
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (prc) {
            rc = prc;
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc > 0 ? kp_err_from_mdb(rc) : rc;
}

/*  2 -> 3: "What was sent" for a broker request (notifier.sent with request_id) walks the
 *  by_request index, which ntf_rec_put keeps from schema 3 on. The records of older stores
 *  already carry their request_id: the index is built from them here, in the opening
 *  transaction (a crash before its commit leaves the store at schema 2, to be indexed again). */
static int
s_v3_index(MDB_txn *txn, uint64_t *n)
{
    MDB_dbi ntf, idx;
    MDB_cursor *c = NULL;
    int rc = mdb_dbi_open(txn, "ntf", 0, &ntf);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = mdb_dbi_open(txn, "by_request", MDB_CREATE, &idx)) ||
        (rc = mdb_cursor_open(txn, ntf, &c)))
        return kp_err_from_mdb(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ntf_rec_t *r = kumppani__v1__notification__unpack(NULL, v.mv_size, v.mv_data);
        if (!r) {
            rc = KP_ECORRUPT;
            break;
        }
        uint64_t rid = r->request_id;
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (!rid || k.mv_size > NTF_KEY_MAX)
            continue;
        uint8_t buf[8 + NTF_KEY_MAX];
        kp_be64_put(buf, rid);
        memcpy(buf + 8, k.mv_data, k.mv_size);
        MDB_val ik = {8 + k.mv_size, buf}, iv = {0, (void *)""};
        if ((rc = mdb_put(txn, idx, &ik, &iv, 0)) != 0)
            break;
        (*n)++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc > 0 ? kp_err_from_mdb(rc) : rc;
}

/*  3 -> 4: an SMS opt-out's key holds the number in one form (s_optkey); before, it held the
 *  text as typed, lowered, so that "+358 40 1234567" and "040 1234567" were two entries and an
 *  opt-out in one form did not stop messages to the other. The keys are rewritten here, in the
 *  opening transaction (collected first: nothing is written while the cursor walks). */
static int
s_v4_optouts(MDB_txn *txn, uint64_t *n)
{
    MDB_dbi db;
    MDB_cursor *c = NULL;
    int rc = mdb_dbi_open(txn, "optout", 0, &db);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || (rc = mdb_cursor_open(txn, db, &c)))
        return kp_err_from_mdb(rc);
    uint8_t(*old)[300] = NULL;
    size_t *old_len = NULL, m = 0, cap = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 2 || k.mv_size >= sizeof old[0] ||
            ((const uint8_t *)k.mv_data)[0] != CH(SMS))
            continue;
        if (m == cap) {
            cap = cap ? 2 * cap : 16;
            old = kp_xrealloc(old, cap * sizeof *old);
            old_len = kp_xrealloc(old_len, cap * sizeof *old_len);
        }
        memcpy(old[m], k.mv_data, k.mv_size);
        old[m][k.mv_size] = 0;
        old_len[m++] = k.mv_size;
    }
    mdb_cursor_close(c);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    for (size_t i = 0; i < m && rc == 0; i++) {
        uint8_t nk[300];
        size_t nl = s_optkey(nk, sizeof nk, CH(SMS), (const char *)old[i] + 1);
        if (nl == old_len[i] && memcmp(nk, old[i], nl) == 0)
            continue;
        MDB_val ok = {old_len[i], old[i]}, nkv = {nl, nk}, e = {0, (void *)""};
        if ((rc = mdb_del(txn, db, &ok, NULL)) == 0 && (rc = mdb_put(txn, db, &nkv, &e, 0)) == 0)
            (*n)++;
    }
    free(old);
    free(old_len);
    return rc > 0 ? kp_err_from_mdb(rc) : rc;
}

int
ntf_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to)
{
    (void)to;
    uint64_t n = 0, indexed = 0;
    int rc = 0;
    if (from < 2 && (rc = s_v2_rewrite(txn, "signups", true, &n)) == 0)
        rc = s_v2_rewrite(txn, "ntf", false, &n);
    if (rc == 0 && n) {
        ((ntf_t *)arg)->migrated = true;
        kp_log_notice("notifier.migrate", "to=2 records=%llu", (unsigned long long)n);
    }
    if (rc == 0 && from < 3 && (rc = s_v3_index(txn, &indexed)) == 0)
        kp_log_notice("notifier.migrate", "to=3 indexed=%llu", (unsigned long long)indexed);
    uint64_t optouts = 0;
    if (rc == 0 && from < 4 && (rc = s_v4_optouts(txn, &optouts)) == 0)
        kp_log_notice("notifier.migrate", "to=4 sms_optouts=%llu", (unsigned long long)optouts);
    return rc;
}
