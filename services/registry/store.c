/*  registry/store.c: the registry's tables and indexes (layout in registry.h) and their
 *  walks. This is the only file of the service that calls LMDB; every other file reaches the
 *  store through the functions below (named reg_<thing>_<verb>, all taking the unit of work)
 *  or the kp_tx record layer. LMDB failures are mapped and logged once by kp_tx_err.
 *
 *  An organisation's index entries are derived from its record alone, so an update removes
 *  the entries of the old record and writes those of the new one in the same transaction.
 *
 *  For search (planned in search.c) this file gives candidate streams over the facets and
 *  words indexes, the byname summaries and the walk in name order. A stream's runs are
 *  cursors that seek with MDB_SET_RANGE; a cursor already near its target stays in its leaf
 *  page, which is what makes leapfrogging cheap. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_wire.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const reg_db_names[REG_DB_N] = {"munis", "orgs",     "byname",   "facets",
                                            "words", "uniq",     "people",   "pidem",
                                            "roles", "role_idx", "meetings", "meeting_org"};

#define WORDS_COLLECT_MAX 2000 /* a query word matching fewer entries is collected and sorted */

/* ---- municipalities ---------------------------------------------------------------------- */

int
reg_muni_get(kp_tx_t *tx, const char *code, reg_muni_t **out, bool *found)
{
    if (strlen(code) != 3) {
        *found = false;
        return 0;
    }
    return kp_rec_get(tx, REG_DB_MUNIS, code, 3, &kumppani__v1__municipality__descriptor,
                      (void **)out, found);
}

int
reg_muni_put(kp_tx_t *tx, const reg_muni_t *m)
{
    return kp_rec_put(tx, REG_DB_MUNIS, m->code, 3, &m->base);
}

typedef struct {
    const char *region;
    reg_muni_t **out;
    size_t n, cap;
} munis_ctx_t;

/* Stops when the list is full, so that no record past it is decoded. */
static int
s_muni_one(void *arg, void *rec)
{
    munis_ctx_t *c = arg;
    reg_muni_t *m = rec;
    if (!c->region || !c->region[0] || strcmp(c->region, m->region_code) == 0)
        c->out[c->n++] = m;
    return c->n >= c->cap;
}

int
reg_muni_list(kp_tx_t *tx, const char *region, reg_muni_t ***out, size_t *n)
{
    munis_ctx_t c = {region, NULL, 0, 400};
    c.out = kp_arena_alloc(tx->arena, c.cap * sizeof *c.out);
    *out = c.out;
    *n = 0;
    if (!c.out)
        return KP_ENOMEM;
    int rc = kp_rec_walk(tx, REG_DB_MUNIS, NULL, 0, &kumppani__v1__municipality__descriptor,
                         s_muni_one, &c);
    *n = c.n;
    return rc > 0 ? 0 : rc;
}

int
reg_muni_count(kp_tx_t *tx, uint64_t *n)
{
    return kp_rec_count(tx, REG_DB_MUNIS, n);
}

/* ---- people, roles, meetings ------------------------------------------------------------- */

KP_REC_ID_GET(reg_person_get, REG_DB_PEOPLE, reg_person_t, kumppani__v1__person__descriptor)
KP_REC_ID_PUT(reg_person_put, REG_DB_PEOPLE, reg_person_t)
KP_REC_ID_DEL(reg_person_del, REG_DB_PEOPLE)

typedef struct {
    bool (*hit)(void *, const reg_person_t *);
    void *arg;
    uint64_t *ids;
    size_t n, cap;
} people_t;

static int
s_people_one(void *arg, const MDB_val *key, const MDB_val *val)
{
    people_t *w = arg;
    if (key->mv_size != 8)
        return 0;
    reg_person_t *p = (void *)protobuf_c_message_unpack(&kumppani__v1__person__descriptor, NULL,
                                                        val->mv_size, val->mv_data);
    if (!p)
        return KP_ECORRUPT;
    bool hit = w->hit(w->arg, p);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    if (hit)
        w->ids[w->n++] = kp_be64_get(key->mv_data);
    return w->n == w->cap ? 1 : 0;
}

int
reg_people_ids(kp_tx_t *tx, uint64_t from_id, bool (*hit)(void *arg, const reg_person_t *p),
               void *arg, uint64_t *ids, size_t cap, size_t *n)
{
    people_t w = {hit, arg, ids, 0, cap};
    uint8_t from[8];
    kp_be64_put(from, from_id);
    int rc = cap ? kp_rec_each(tx, REG_DB_PEOPLE, from, sizeof from, NULL, 0, s_people_one, &w) : 0;
    *n = w.n;
    return rc > 0 ? 0 : rc;
}

int
reg_pidem_get(kp_tx_t *tx, const void *key, size_t key_len, uint64_t *id, bool *found)
{
    MDB_val v;
    int rc = kp_raw_get(tx, REG_DB_PIDEM, key, key_len, &v, found);
    if (rc || !*found)
        return rc;
    if (v.mv_size != 8) {
        *found = false;
        return 0;
    }
    *id = kp_be64_get(v.mv_data);
    return 0;
}

int
reg_pidem_put(kp_tx_t *tx, const void *key, size_t key_len, uint64_t id)
{
    uint8_t idb[8];
    kp_be64_put(idb, id);
    return kp_raw_put(tx, REG_DB_PIDEM, key, key_len, idb, sizeof idb);
}

KP_REC_ID_GET(reg_role_get, REG_DB_ROLES, reg_role_t, kumppani__v1__role__descriptor)

int
reg_role_put(kp_tx_t *tx, const reg_role_t *r, bool index)
{
    int rc = kp_rec_put_id(tx, REG_DB_ROLES, r->id, &r->base);
    if (rc || !index)
        return rc;
    uint8_t ik[20];
    ik[0] = 'p';
    kp_be64_put(ik + 1, r->person_id);
    kp_be64_put(ik + 9, r->id);
    if ((rc = kp_raw_put(tx, REG_DB_ROLE_IDX, ik, 17, "", 0)))
        return rc;
    size_t n;
    if (r->municipality_code[0]) {
        ik[0] = 'm';
        memcpy(ik + 1, r->municipality_code, 3);
        kp_be64_put(ik + 4, r->id);
        n = 12;
    } else {
        ik[0] = 'o';
        kp_be64_put(ik + 1, r->organisation_id);
        kp_be64_put(ik + 9, r->id);
        n = 17;
    }
    return kp_raw_put(tx, REG_DB_ROLE_IDX, ik, n, "", 0);
}

#define ROLES_MAX 1024 /* roles under one index prefix that a walk visits */

typedef struct {
    uint64_t *ids;
    size_t n;
} role_ids_t;

static int
s_role_id(void *arg, uint64_t id)
{
    role_ids_t *c = arg;
    if (c->n >= ROLES_MAX)
        return 1;
    c->ids[c->n++] = id;
    return 0;
}

int
reg_roles_each(kp_tx_t *tx, uint8_t tag, const void *v, size_t vlen,
               int (*fn)(void *arg, reg_role_t *r), void *arg)
{
    uint8_t prefix[16];
    prefix[0] = tag;
    memcpy(prefix + 1, v, vlen);
    size_t pn = 1 + vlen;
    uint64_t ids[ROLES_MAX];
    role_ids_t c = {ids, 0};
    int rc = kp_rec_each_id(tx, REG_DB_ROLE_IDX, prefix, pn, prefix, pn, pn + 8, s_role_id, &c);
    if (rc < 0)
        return rc;
    /* Collected first: fn may write (and LMDB cursors do not survive writes well). */
    for (size_t i = 0; i < c.n; i++) {
        reg_role_t *r;
        bool found;
        if ((rc = reg_role_get(tx, ids[i], &r, &found)))
            return rc;
        if (found && (rc = fn(arg, r)))
            return rc;
    }
    return 0;
}

int
reg_roles_of(kp_tx_t *tx, uint8_t tag, uint64_t id, int (*fn)(void *arg, reg_role_t *r), void *arg)
{
    uint8_t idb[8];
    kp_be64_put(idb, id);
    return reg_roles_each(tx, tag, idb, sizeof idb, fn, arg);
}

/* A recorded meeting (registry.meeting.record) is keyed by its id with the top bit set, so
 * that it never meets an events service event id. */
int
reg_meeting_put(kp_tx_t *tx, const reg_meeting_t *m, uint64_t organiser_org)
{
    uint64_t id = m->recorded_id ? REG_MEETING_RECORDED | m->recorded_id : m->event_id;
    int rc = kp_rec_put_id(tx, REG_DB_MEETINGS, id, &m->base);
    if (rc)
        return rc;
    uint8_t key[8], org[8];
    kp_be64_put(key, id);
    kp_be64_put(org, organiser_org);
    return kp_raw_set(tx, REG_DB_MEETING_ORG, key, sizeof key, organiser_org ? org : NULL,
                      sizeof org);
}

typedef struct {
    kp_tx_t *tx;
    int (*fn)(void *, const reg_meeting_t *, uint64_t);
    void *arg;
} meeting_ctx_t;

static int
s_meeting_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    meeting_ctx_t *c = arg;
    int rc;
    reg_meeting_t *m = kp_rec_decode(c->tx, REG_DB_MEETINGS,
                                     &kumppani__v1__contact_person_meeting__descriptor, v, &rc);
    if (!m)
        return rc == KP_ECORRUPT ? 0 : rc; /* an undecodable record counts as no meeting */
    MDB_val org;
    bool found;
    rc = kp_raw_get(c->tx, REG_DB_MEETING_ORG, k->mv_data, k->mv_size, &org, &found);
    if (rc)
        return rc;
    return c->fn(c->arg, m, found && org.mv_size == 8 ? kp_be64_get(org.mv_data) : 0);
}

int
reg_meeting_each(kp_tx_t *tx, int (*fn)(void *arg, const reg_meeting_t *m, uint64_t org), void *arg)
{
    meeting_ctx_t c = {tx, fn, arg};
    return kp_rec_each(tx, REG_DB_MEETINGS, NULL, 0, NULL, 0, s_meeting_one, &c);
}

/* ---- organisations and their index entries ----------------------------------------------- */

KP_REC_ID_GET(reg_org_get, REG_DB_ORGS, reg_org_t, kumppani__v1__organisation__descriptor)

typedef struct {
    int (*fn)(void *arg, void *org);
    void *arg;
} s_org_each_t;

static int
s_org_each_one(void *arg, const MDB_val *k, void *org)
{
    (void)k;
    s_org_each_t *e = arg;
    return e->fn(e->arg, org);
}

int
reg_org_each(kp_tx_t *tx, uint64_t from_id, int (*fn)(void *arg, void *org), void *arg)
{
    uint8_t key[8];
    kp_be64_put(key, from_id);
    const reg_svc_t *svc = tx->svc;
    s_org_each_t e = {fn, arg};
    return kp_rec_walk_scratch(tx, REG_DB_ORGS, key, sizeof key,
                               &kumppani__v1__organisation__descriptor, svc->scan, s_org_each_one,
                               &e);
}

/* "sk 0 id" of an organisation into pos; returns its length. */
static size_t
s_pos(const reg_org_t *o, uint8_t *pos)
{
    size_t n = reg_sortkey(o->fields->name_fi, pos, REG_SK_MAX);
    pos[n++] = 0;
    kp_be64_put(pos + n, o->id);
    return n + 8;
}

/* The summary: status u8, fields u32, n_munis u8 + 3 bytes each, n_networks u8 + (len u8,
 * bytes) each, then the folded words of both names separated by spaces. */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf_t;

static void
s_put(buf_t *b, const void *p, size_t n)
{
    if (b->n + n <= b->cap)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void
s_word_to_buf(void *arg, const uint8_t *w, size_t n)
{
    buf_t *b = arg;
    if (b->n + n + 1 > b->cap)
        return;
    s_put(b, w, n);
    s_put(b, " ", 1);
}

static size_t
s_summary(const reg_org_t *o, uint8_t *out, size_t cap)
{
    buf_t b = {out, 0, cap};
    const reg_fields_t *f = o->fields;
    uint8_t st = (uint8_t)o->status, u8;
    s_put(&b, &st, 1);
    uint32_t bits = 0;
    for (size_t i = 0; i < f->n_fields; i++)
        bits |= 1u << (f->fields[i] & 31);
    uint8_t bb[4] = {(uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                     (uint8_t)bits};
    s_put(&b, bb, 4);
    u8 = (uint8_t)(1 + f->n_municipalities);
    s_put(&b, &u8, 1);
    s_put(&b, f->home_municipality, 3);
    for (size_t i = 0; i < f->n_municipalities; i++)
        s_put(&b, f->municipalities[i], 3);
    u8 = (uint8_t)f->n_networks;
    s_put(&b, &u8, 1);
    for (size_t i = 0; i < f->n_networks; i++) {
        u8 = (uint8_t)strlen(f->networks[i]);
        s_put(&b, &u8, 1);
        s_put(&b, f->networks[i], u8);
    }
    reg_words(f->name_fi, s_word_to_buf, &b);
    reg_words(f->name_sv, s_word_to_buf, &b);
    return b.n > cap ? cap : b.n;
}

typedef int (*entry_fn)(void *, const uint8_t *, size_t);

typedef struct {
    entry_fn fn;
    void *arg;
    const uint8_t *pos;
    size_t pos_len;
    int rc;
} words_ctx_t;

static void
s_word_entry(void *arg, const uint8_t *w, size_t n)
{
    words_ctx_t *c = arg;
    uint8_t key[REG_WORD_MAX + 1 + REG_POS_MAX];
    memcpy(key, w, n);
    key[n] = 0;
    memcpy(key + n + 1, c->pos, c->pos_len);
    if (!c->rc)
        c->rc = c->fn(c->arg, key, n + 1 + c->pos_len);
}

/* Calls fn(arg, key, len) with every words and facets key of o; the key's first byte tells
 * the db: 'W' words, 'F' facets. */
static int
s_each_index_key(const reg_org_t *o, entry_fn fn, void *arg)
{
    uint8_t pos[REG_POS_MAX];
    size_t pl = s_pos(o, pos);
    uint8_t key[2 + 80 + REG_POS_MAX];
    const reg_fields_t *f = o->fields;
    int rc;
#define FACET(tag, v, vlen)                                                                        \
    do {                                                                                           \
        key[0] = 'F';                                                                              \
        key[1] = (tag);                                                                            \
        memcpy(key + 2, (v), (vlen));                                                              \
        key[2 + (vlen)] = 0;                                                                       \
        memcpy(key + 3 + (vlen), pos, pl);                                                         \
        if ((rc = fn(arg, key, 3 + (vlen) + pl)))                                                  \
            return rc;                                                                             \
    } while (0)
    FACET('m', f->home_municipality, 3);
    for (size_t i = 0; i < f->n_municipalities; i++)
        if (strcmp(f->municipalities[i], f->home_municipality) != 0)
            FACET('m', f->municipalities[i], 3);
    for (size_t i = 0; i < f->n_fields; i++) {
        uint8_t fb = (uint8_t)f->fields[i];
        FACET('f', &fb, 1);
    }
    for (size_t i = 0; i < f->n_networks; i++)
        FACET('n', f->networks[i], strlen(f->networks[i]));
    uint8_t sb = (uint8_t)o->status;
    FACET('s', &sb, 1);
#undef FACET
    /* Words: their keys never start with 'F' (folded words are lower case). */
    words_ctx_t wc = {fn, arg, pos, pl, 0};
    reg_words(f->name_fi, s_word_entry, &wc);
    if (!wc.rc)
        reg_words(f->name_sv, s_word_entry, &wc);
    return wc.rc;
}

typedef struct {
    kp_tx_t *tx;
    bool del;
} idx_ctx_t;

static int
s_index_op(void *arg, const uint8_t *key, size_t len)
{
    idx_ctx_t *c = arg;
    unsigned db = key[0] == 'F' ? REG_DB_FACETS : REG_DB_WORDS;
    const uint8_t *k = key[0] == 'F' ? key + 1 : key;
    size_t kl = key[0] == 'F' ? len - 1 : len;
    return kp_raw_set(c->tx, db, k, kl, c->del ? NULL : "", 0);
}

static int
s_uniq(kp_tx_t *tx, char tag, const char *v, uint64_t id, bool del)
{
    if (!*v)
        return 0;
    uint8_t key[64];
    size_t n = strlen(v);
    key[0] = (uint8_t)tag;
    memcpy(key + 1, v, n);
    uint8_t idb[8];
    kp_be64_put(idb, id);
    return kp_raw_set(tx, REG_DB_UNIQ, key, n + 1, del ? NULL : idb, sizeof idb);
}

static int
s_index(kp_tx_t *tx, const reg_org_t *o, bool del)
{
    uint8_t pos[REG_POS_MAX], sum[2048];
    size_t pl = s_pos(o, pos);
    size_t sl = del ? 0 : s_summary(o, sum, sizeof sum);
    int rc = kp_raw_set(tx, REG_DB_BYNAME, pos, pl, del ? NULL : sum, sl);
    if (rc)
        return rc;
    idx_ctx_t c = {tx, del};
    if ((rc = s_each_index_key(o, s_index_op, &c)))
        return rc;
    if ((rc = s_uniq(tx, 'b', o->fields->business_id, o->id, del)) ||
        (rc = s_uniq(tx, 'a', o->fields->association_number, o->id, del)))
        return rc;
    return 0;
}

/* ---- upgrades (kp_store_opts_t.migrate) -----------------------------------------------------
 *
 *  1 -> 2: search words fold å ä æ to a, ö ø to o and ü to u (collate.c), so the words index
 *  and the words at the end of each byname summary are rebuilt from the organisations, inside
 *  the opening transaction (the store opens fully upgraded or not at all). Keys in name order
 *  and the facets do not change; meetings are learned again (s_v2_meetings). This runs before
 *  any unit of work exists: raw LMDB. */

typedef struct {
    MDB_txn *txn;
    MDB_dbi words;
} mig_ctx_t;

static int
s_mig_word(void *arg, const uint8_t *key, size_t len)
{
    mig_ctx_t *c = arg;
    if (key[0] == 'F')
        return 0; /* facets stay as they are */
    MDB_val k = {len, (void *)key}, v = {0, ""};
    return mdb_put(c->txn, c->words, &k, &v, 0);
}

static int
s_v2_words(MDB_txn *txn)
{
    MDB_dbi orgs, byname;
    mig_ctx_t c = {txn, 0};
    int rc;
    if ((rc = mdb_dbi_open(txn, "orgs", 0, &orgs)) ||
        (rc = mdb_dbi_open(txn, "byname", 0, &byname)) ||
        (rc = mdb_dbi_open(txn, "words", 0, &c.words)))
        return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc); /* nothing stored yet */
    if ((rc = mdb_drop(txn, c.words, 0)))
        return kp_err_from_mdb(rc);
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, orgs, &cur)))
        return kp_err_from_mdb(rc);
    MDB_val k, v;
    uint64_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        reg_org_t *o = kumppani__v1__organisation__unpack(NULL, v.mv_size, v.mv_data);
        if (!o || !o->fields) {
            if (o)
                kumppani__v1__organisation__free_unpacked(o, NULL);
            rc = KP_ECORRUPT;
            break;
        }
        uint8_t pos[REG_POS_MAX], sum[2048];
        MDB_val pk = {s_pos(o, pos), pos}, sv = {s_summary(o, sum, sizeof sum), sum};
        rc = mdb_put(txn, byname, &pk, &sv, 0);
        if (!rc)
            rc = s_each_index_key(o, s_mig_word, &c);
        kumppani__v1__organisation__free_unpacked(o, NULL);
        if (rc)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc)
        kp_log_notice("registry.migrate", "to=2 organisations=%llu", (unsigned long long)n);
    return rc > 0 || (rc <= MDB_KEYEXIST && rc >= MDB_LAST_ERRCODE) ? kp_err_from_mdb(rc) : rc;
}

/* 1 -> 2, meetings: schema 2 keeps whether a meeting is a draft (ContactPersonMeeting.draft),
 * which a schema-1 record cannot tell. Meetings are derived from the events log alone, so
 * they are dropped with the events consumer's offset (kp_store's offsets: source name -> seq)
 * and learned again, with their state, when the registry follows the log from its start. */
static int
s_v2_meetings(MDB_txn *txn)
{
    static const char *const dbs[] = {"meetings", "meeting_org"};
    MDB_dbi dbi;
    int rc;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        if ((rc = mdb_dbi_open(txn, dbs[i], 0, &dbi)) == MDB_NOTFOUND)
            continue;
        if (rc || (rc = mdb_drop(txn, dbi, 0)))
            return kp_err_from_mdb(rc);
    }
    if ((rc = mdb_dbi_open(txn, "offsets", 0, &dbi)) == MDB_NOTFOUND)
        return 0;
    MDB_val k = {6, "events"};
    if (rc || ((rc = mdb_del(txn, dbi, &k, NULL)) && rc != MDB_NOTFOUND))
        return kp_err_from_mdb(rc);
    kp_log_notice("registry.migrate", "to=2 meetings=relearn-from-events-log");
    return 0;
}

int
reg_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to)
{
    (void)arg;
    (void)to;
    int rc = 0;
    if (from < 2 && !(rc = s_v2_words(txn)))
        rc = s_v2_meetings(txn);
    return rc;
}

int
reg_org_put(kp_tx_t *tx, const reg_org_t *org, const reg_org_t *old)
{
    int rc;
    if (old && (rc = s_index(tx, old, true)))
        return rc;
    if ((rc = kp_rec_put_id(tx, REG_DB_ORGS, org->id, &org->base)))
        return rc;
    return s_index(tx, org, false);
}

int
reg_org_del(kp_tx_t *tx, const reg_org_t *old)
{
    int rc;
    if ((rc = s_index(tx, old, true)))
        return rc;
    return kp_rec_del_id(tx, REG_DB_ORGS, old->id);
}

int
reg_uniq_get(kp_tx_t *tx, char tag, const char *v, uint64_t *id)
{
    *id = 0;
    size_t n = strlen(v);
    if (!n || n > 60)
        return 0;
    uint8_t key[64];
    key[0] = (uint8_t)tag;
    memcpy(key + 1, v, n);
    MDB_val d;
    bool found;
    int rc = kp_raw_get(tx, REG_DB_UNIQ, key, n + 1, &d, &found);
    if (!rc && found && d.mv_size == 8)
        *id = kp_be64_get(d.mv_data);
    return rc;
}

typedef struct {
    size_t n;
    const char *home;
    uint64_t *id;
} by_name_t;

static int
s_by_name_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    by_name_t *c = arg;
    const uint8_t *s = v->mv_data;
    if (k->mv_size != c->n + 9)
        return 1; /* a longer name with this one as its prefix: past the run */
    if (v->mv_size >= 9 && memcmp(s + 6, c->home, 3) == 0) {
        *c->id = kp_be64_get((const uint8_t *)k->mv_data + c->n + 1);
        return 1;
    }
    return 0;
}

int
reg_org_by_name(kp_tx_t *tx, const char *name_fi, const char *home, uint64_t *id)
{
    *id = 0;
    uint8_t pos[REG_POS_MAX];
    size_t n = reg_sortkey(name_fi, pos, REG_SK_MAX);
    pos[n] = 0;
    by_name_t c = {n, home, id};
    int rc = kp_rec_each(tx, REG_DB_BYNAME, pos, n + 1, pos, n + 1, s_by_name_one, &c);
    return rc > 0 ? 0 : rc;
}

/* ---- search's index walks (search.c plans the search and intersects the streams) -------
 *
 * A stream gives, in collation order, the positions ("sk 0 id") of the organisations that
 * satisfy one term: a facet (one run of the facets index under "tag value 0"), a query word
 * (one run of the words index per distinct indexed word it is a prefix of, merged), or a
 * query word's few entries collected and sorted. seek(x) moves a stream to its first
 * position >= x. The intersection leapfrogs: each stream in turn seeks to the highest
 * position seen so far until all agree (MDB_SET_RANGE on a cursor already near the target
 * stays in its leaf page), so the work follows the sparsest term, not the longest scan. */

#define EST_CAP 64 /* entries counted to rank the streams by selectivity */

int
reg_pos_cmp(const void *a, const void *b)
{
    const MDB_val *x = a, *y = b;
    size_t n = x->mv_size < y->mv_size ? x->mv_size : y->mv_size;
    int c = memcmp(x->mv_data, y->mv_data, n);
    return c ? c : (x->mv_size > y->mv_size) - (x->mv_size < y->mv_size);
}

int
reg_summary_get(kp_tx_t *tx, const uint8_t *pos, size_t pos_len, MDB_val *val, bool *found)
{
    return kp_raw_get(tx, REG_DB_BYNAME, pos, pos_len, val, found);
}

/* Collects the positions of index entries whose word starts with w, up to max; returns the
 * count, or max + 1 when there are more. */
static int
s_collect_word(kp_tx_t *tx, const uint8_t *w, size_t wn, MDB_val *v, unsigned max, unsigned *n_out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(tx->txn, kp_tx_dbi(tx, REG_DB_WORDS), &cur);
    if (rc)
        return kp_tx_err(tx, "cursor", REG_DB_WORDS, rc);
    MDB_val k = {wn, (void *)w}, d;
    unsigned n = 0;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= wn && memcmp(k.mv_data, w, wn) == 0) {
        if (n >= max) {
            n++;
            break;
        }
        const uint8_t *kp = k.mv_data;
        const uint8_t *z = memchr(kp, 0, k.mv_size);
        if (z && v) {
            size_t off = (size_t)(z - kp) + 1;
            v[n] = (MDB_val){k.mv_size - off, (void *)(kp + off)};
        }
        n++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *n_out = n;
    return kp_tx_err(tx, "each", REG_DB_WORDS, rc);
}

void
reg_stream_close(reg_stream_t *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->cur[i])
            mdb_cursor_close(s->cur[i]);
    s->n = 0;
}

/* Adds the run "pre" (a facet's or an indexed word's key prefix, ending in 0) to s. */
static int
s_stream_run(kp_tx_t *tx, unsigned db, reg_stream_t *s, const uint8_t *pre, size_t pl)
{
    unsigned i = s->n;
    if (i >= REG_RUNS_MAX || pl > REG_PRE_MAX)
        return KP_EINVAL;
    int rc = mdb_cursor_open(tx->txn, kp_tx_dbi(tx, db), &s->cur[i]);
    if (rc)
        return kp_tx_err(tx, "cursor", db, rc);
    s->tx = tx;
    s->db = db;
    memcpy(s->pre[i], pre, pl);
    s->pre_len[i] = pl;
    s->head[i] = (MDB_val){0, NULL};
    s->ended[i] = false;
    s->n++;
    return 0;
}

int
reg_stream_seek(reg_stream_t *s, const uint8_t *x, size_t xl, MDB_val *out, unsigned *steps)
{
    *out = (MDB_val){0, NULL};
    MDB_val xv = {xl, (void *)x};
    if (!s->n) {
        while (s->arr_i < s->arr_n && reg_pos_cmp(&s->arr[s->arr_i], &xv) < 0)
            s->arr_i++;
        if (s->arr_i < s->arr_n)
            *out = s->arr[s->arr_i];
        return 0;
    }
    for (unsigned i = 0; i < s->n; i++) {
        if (s->ended[i])
            continue;
        if (!s->head[i].mv_data || reg_pos_cmp(&s->head[i], &xv) < 0) {
            uint8_t key[REG_PRE_MAX + REG_POS_MAX + 1];
            size_t pl = s->pre_len[i];
            memcpy(key, s->pre[i], pl);
            memcpy(key + pl, x, xl);
            MDB_val k = {pl + xl, key}, d;
            int rc = mdb_cursor_get(s->cur[i], &k, &d, MDB_SET_RANGE);
            (*steps)++;
            if (rc == 0 && k.mv_size > pl && memcmp(k.mv_data, s->pre[i], pl) == 0) {
                s->head[i] = (MDB_val){k.mv_size - pl, (uint8_t *)k.mv_data + pl};
            } else if (rc == 0 || rc == MDB_NOTFOUND) {
                s->ended[i] = true;
                continue;
            } else {
                return kp_tx_err(s->tx, "seek", s->db, rc);
            }
        }
        if (!out->mv_data || reg_pos_cmp(&s->head[i], out) < 0)
            *out = s->head[i];
    }
    return 0;
}

int
reg_stream_estimate(reg_stream_t *s, const uint8_t *x, size_t xl)
{
    s->est_n = 0;
    s->dense = false;
    if (!s->n) {
        s->est_n = s->arr_n;
        return 0;
    }
    for (unsigned i = 0; i < s->n; i++) {
        uint8_t key[REG_PRE_MAX + REG_POS_MAX + 1];
        size_t pl = s->pre_len[i];
        memcpy(key, s->pre[i], pl);
        memcpy(key + pl, x, xl);
        MDB_val k = {pl + xl, key}, d;
        unsigned c = 0;
        int rc = mdb_cursor_get(s->cur[i], &k, &d, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size > pl && memcmp(k.mv_data, s->pre[i], pl) == 0) {
            if (++c == EST_CAP) {
                size_t el = k.mv_size - pl;
                MDB_val e = {el, (uint8_t *)k.mv_data + pl}, o = {s->est_len, s->est};
                if (el <= REG_POS_MAX && (!s->dense || reg_pos_cmp(&e, &o) < 0)) {
                    memcpy(s->est, e.mv_data, el);
                    s->est_len = el;
                }
                s->dense = true;
                break;
            }
            rc = mdb_cursor_get(s->cur[i], &k, &d, MDB_NEXT);
        }
        if (rc && rc != MDB_NOTFOUND)
            return kp_tx_err(s->tx, "estimate", s->db, rc);
        s->est_n += c;
        s->head[i] = (MDB_val){0, NULL};
    }
    return 0;
}

int
reg_stream_facet(kp_tx_t *tx, reg_stream_t *s, uint8_t tag, const void *v, size_t vlen)
{
    uint8_t pre[REG_PRE_MAX];
    if (vlen + 2 > sizeof pre)
        return KP_EINVAL;
    pre[0] = tag;
    memcpy(pre + 1, v, vlen);
    pre[vlen + 1] = 0;
    return s_stream_run(tx, REG_DB_FACETS, s, pre, vlen + 2);
}

int
reg_stream_word(kp_tx_t *tx, reg_stream_t *s, const uint8_t *w, size_t wn, bool *usable)
{
    MDB_cursor *scan;
    *usable = false;
    int rc = mdb_cursor_open(tx->txn, kp_tx_dbi(tx, REG_DB_WORDS), &scan);
    if (rc)
        return kp_tx_err(tx, "cursor", REG_DB_WORDS, rc);
    uint8_t key[REG_WORD_MAX + 2];
    MDB_val k = {wn, (void *)w}, d;
    unsigned distinct = 0;
    rc = mdb_cursor_get(scan, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= wn && memcmp(k.mv_data, w, wn) == 0) {
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        size_t l = z ? (size_t)(z - (const uint8_t *)k.mv_data) : 0;
        if (!z || l > REG_WORD_MAX || ++distinct > REG_RUNS_MAX)
            break;
        memcpy(key, k.mv_data, l);
        key[l] = 0;
        if ((rc = s_stream_run(tx, REG_DB_WORDS, s, key, l + 1)))
            break;
        key[l] = 1; /* past every "word 0 ..." */
        k = (MDB_val){l + 1, key};
        rc = mdb_cursor_get(scan, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(scan);
    if (rc && rc != MDB_NOTFOUND) {
        reg_stream_close(s);
        return rc < 0 ? rc : kp_tx_err(tx, "words", REG_DB_WORDS, rc);
    }
    if (distinct <= REG_RUNS_MAX) {
        *usable = true;
        return 0;
    }
    reg_stream_close(s);
    unsigned n;
    if ((rc = s_collect_word(tx, w, wn, NULL, WORDS_COLLECT_MAX, &n)))
        return rc;
    if (n > WORDS_COLLECT_MAX)
        return 0;
    MDB_val *v = kp_arena_alloc(tx->arena, (n + 1) * sizeof *v);
    if (!v)
        return KP_ENOMEM;
    if ((rc = s_collect_word(tx, w, wn, v, WORDS_COLLECT_MAX, &n)))
        return rc;
    qsort(v, n, sizeof *v, reg_pos_cmp);
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++)
        if (!m || reg_pos_cmp(&v[i], &v[m - 1]) != 0)
            v[m++] = v[i];
    s->arr = v;
    s->arr_n = m;
    s->arr_i = 0;
    *usable = true;
    return 0;
}

typedef struct {
    size_t pn;
    bool summaries;
    int (*fn)(void *, const uint8_t *, size_t, const MDB_val *);
    void *arg;
} walk_t;

static int
s_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    walk_t *w = arg;
    if (k->mv_size <= w->pn)
        return 0;
    return w->fn(w->arg, (const uint8_t *)k->mv_data + w->pn, k->mv_size - w->pn,
                 w->summaries ? v : NULL);
}

int
reg_order_walk(kp_tx_t *tx, uint8_t tag, const void *v, size_t vlen, const uint8_t *after,
               size_t after_len,
               int (*fn)(void *arg, const uint8_t *pos, size_t pos_len, const MDB_val *summary),
               void *arg)
{
    uint8_t start[REG_PRE_MAX + REG_POS_MAX];
    size_t pn = 0;
    unsigned db = REG_DB_BYNAME;
    if (tag) {
        if (vlen + 2 > REG_PRE_MAX || after_len > REG_POS_MAX)
            return KP_EINVAL;
        db = REG_DB_FACETS;
        start[pn++] = tag;
        memcpy(start + pn, v, vlen);
        pn += vlen;
        start[pn++] = 0;
    }
    memcpy(start + pn, after, after_len);
    walk_t w = {pn, db == REG_DB_BYNAME, fn, arg};
    /* strictly after the cursor */
    return kp_rec_each_after(tx, db, start, pn + after_len, start, pn, s_walk_one, &w);
}
