/*  expert-broker/store.c: the broker's key layouts, index walks and deadline schedule, and
 *  the only file of the service that touches LMDB (through the kp_tx record layer).
 *
 *  Records are protobuf messages keyed by their id (u64 big-endian, kp_rec_*_id); indexes are
 *  16-byte keys a . b with empty values; the deadline schedule is keyed due_ms . kind . id
 *  (17 bytes) so that the first key is always the next deadline. Records read are decoded into
 *  the unit's arena and live as long as it; nothing is cached in memory. Store errors are
 *  mapped and logged once by kp_tx; callers pass the code on. */
#include "broker.h"
#include "kp_err.h"
#include "kp_wire.h"

#include <assert.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x

const char *const brk_db_names[BRK_DB_N] = {
    "experts", "sensitive", "requests", "tokens", "offers", "req_offers",
    "asgs",    "exp_asgs",  "req_asgs", "due",    "audit",  "orgs",
};

/* The record type of each database keyed by id (NULL: not a record database). */
static const ProtobufCMessageDescriptor *const s_types[BRK_DB_N] = {
    [BRK_DB_EXPERTS] = &kumppani__v1__expert__descriptor,
    [BRK_DB_REQUESTS] = &kumppani__v1__broker_request__descriptor,
    [BRK_DB_OFFERS] = &kumppani__v1__offer__descriptor,
    [BRK_DB_ASGS] = &kumppani__v1__assignment__descriptor,
    [BRK_DB_AUDIT] = &kumppani__v1__broker_audit_entry__descriptor,
};

/* Events leave out free text (decline and cancel reasons, feedback comments, a request's
 * description): it may say anything about a person (an illness behind a cancellation), and the
 * log is kept for ever and replayed to other services. The records keep it; erasure clears it. */
int
brk_emit(kp_tx_t *tx, const char *type, const ProtobufCMessage *m)
{
    Kumppani__V1__Offer o;
    Kumppani__V1__Assignment a;
    Kumppani__V1__AssignmentFeedback fe, fr;
    Kumppani__V1__BrokerRequestReply rr;
    Kumppani__V1__BrokerRequest rq;
    Kumppani__V1__BrokerRequestInput in;
    if (m->descriptor == &kumppani__v1__offer__descriptor) {
        o = *(const Kumppani__V1__Offer *)m;
        o.reason = "";
        m = &o.base;
    } else if (m->descriptor == &kumppani__v1__assignment__descriptor) {
        a = *(const Kumppani__V1__Assignment *)m;
        a.cancel_reason = "";
        if (a.expert_feedback) {
            fe = *a.expert_feedback;
            fe.comment_text = "";
            a.expert_feedback = &fe;
        }
        if (a.requester_feedback) {
            fr = *a.requester_feedback;
            fr.comment_text = "";
            a.requester_feedback = &fr;
        }
        m = &a.base;
    } else if (m->descriptor == &kumppani__v1__broker_request_reply__descriptor &&
               ((const Kumppani__V1__BrokerRequestReply *)m)->request &&
               ((const Kumppani__V1__BrokerRequestReply *)m)->request->input) {
        rr = *(const Kumppani__V1__BrokerRequestReply *)m;
        rq = *rr.request;
        in = *rq.input;
        in.description_text = "";
        rq.input = &in;
        rq.cancel_reason = "";
        rr.request = &rq;
        m = &rr.base;
    }
    return kp_tx_emit(tx, type, m);
}

void *
brk_get(kp_tx_t *tx, unsigned db, uint64_t id, int *rc)
{
    assert(db < BRK_DB_N && s_types[db]);
    void *out = NULL;
    bool found = false;
    *rc = kp_rec_get_id(tx, db, id, s_types[db], &out, &found);
    return *rc == 0 && found ? out : NULL;
}

void *
brk_load(kp_tx_t *tx, unsigned db, const char *field, const char *what, uint64_t id)
{
    return kp_rec_need(tx, db, id, s_types[db], field, what);
}

brk_request_t *
brk_load_ref(kp_tx_t *tx, uint64_t request_id)
{
    int rc;
    brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, request_id, &rc);
    if (rc || !rq)
        kp_call_fail_err(tx->call, rc ? rc : KP_ECORRUPT);
    return rq;
}

void *
brk_get_heap(kp_tx_t *tx, unsigned db, uint64_t id, int *rc)
{
    assert(db < BRK_DB_N && s_types[db]);
    uint8_t k[8];
    kp_be64_put(k, id);
    MDB_val v;
    bool found = false;
    *rc = kp_raw_get(tx, db, k, sizeof k, &v, &found);
    if (*rc || !found)
        return NULL;
    void *m = protobuf_c_message_unpack(s_types[db], NULL, v.mv_size, v.mv_data);
    if (!m)
        *rc = KP_ECORRUPT;
    return m;
}

int
brk_idx_put(kp_tx_t *tx, unsigned db, uint64_t a, uint64_t b)
{
    uint8_t k[16];
    kp_be64_put(k, a);
    kp_be64_put(k + 8, b);
    return kp_raw_put(tx, db, k, sizeof k, "", 0);
}

int
brk_idx_each(kp_tx_t *tx, unsigned db, uint64_t a, int (*fn)(void *, uint64_t), void *arg)
{
    uint8_t k[16];
    kp_be64_put(k, a);
    kp_be64_put(k + 8, 0);
    int rc = kp_rec_each_id(tx, db, k, sizeof k, k, 8, sizeof k, fn, arg);
    return rc > 0 ? 0 : rc; /* stopped early by fn */
}

int
brk_idx_each_rec(kp_tx_t *tx, unsigned idx_db, uint64_t a, unsigned rec_db,
                 int (*fn)(void *arg, void *rec), void *arg)
{
    assert(rec_db < BRK_DB_N && s_types[rec_db]);
    uint8_t k[16];
    kp_be64_put(k, a);
    kp_be64_put(k + 8, 0);
    int rc =
        kp_rec_each_idx(tx, idx_db, k, sizeof k, k, 8, sizeof k, rec_db, s_types[rec_db], fn, arg);
    return rc > 0 ? 0 : rc; /* stopped early by fn */
}

typedef struct {
    int (*fn)(void *, uint64_t, MDB_val *);
    void *arg;
} walk_t;

static int
s_rec_one(void *arg, const MDB_val *key, const MDB_val *val)
{
    walk_t *w = arg;
    if (key->mv_size != 8)
        return 0;
    MDB_val v = *val;
    return w->fn(w->arg, kp_be64_get(key->mv_data), &v) ? 1 : 0;
}

int
brk_each(kp_tx_t *tx, unsigned db, uint64_t after, int (*fn)(void *, uint64_t, MDB_val *),
         void *arg)
{
    if (after == UINT64_MAX)
        return 0;
    uint8_t k[8];
    kp_be64_put(k, after + 1);
    walk_t w = {fn, arg};
    int rc = kp_rec_each(tx, db, k, sizeof k, NULL, 0, s_rec_one, &w);
    return rc > 0 ? 0 : rc;
}

typedef struct {
    kp_tx_t *tx;
    const ProtobufCMessageDescriptor *d;
    bool keep;
    int (*fn)(void *, uint64_t, void *);
    void *arg;
    int rc;
} rec_walk_t;

static int
s_rec_decoded(void *arg, uint64_t id, MDB_val *val)
{
    rec_walk_t *w = arg;
    ProtobufCMessage *m = protobuf_c_message_unpack(
        w->d, w->keep ? kp_arena_pbc(w->tx->arena) : NULL, val->mv_size, val->mv_data);
    if (!m) {
        w->rc = KP_ECORRUPT;
        return 1;
    }
    int stop = w->fn(w->arg, id, m);
    if (!w->keep)
        protobuf_c_message_free_unpacked(m, NULL);
    return stop;
}

int
brk_each_rec(kp_tx_t *tx, unsigned db, uint64_t after, bool keep,
             int (*fn)(void *arg, uint64_t id, void *rec), void *arg)
{
    assert(db < BRK_DB_N && s_types[db]);
    rec_walk_t w = {tx, s_types[db], keep, fn, arg, 0};
    int rc = brk_each(tx, db, after, s_rec_decoded, &w);
    return rc ? rc : w.rc;
}

/* ---- walks that collect --------------------------------------------------------------------- */

typedef struct {
    void **v;
    size_t n, cap;
    int state; /* requests: 0 any */
} collect_t;

static int
s_list_one(void *arg, uint64_t id, void *m)
{
    collect_t *l = arg;
    (void)id;
    if (l->state && ((brk_request_t *)m)->state != (Kumppani__V1__RequestState)l->state)
        return 0;
    l->v[l->n++] = m;
    return l->n >= l->cap;
}

int
brk_list(kp_tx_t *tx, unsigned db, uint64_t after, size_t limit, int state, void ***v, size_t *n)
{
    collect_t l = {kp_arena_alloc(tx->arena, limit * sizeof(void *)), 0, limit, state};
    *v = l.v;
    *n = 0;
    int rc = l.v ? brk_each_rec(tx, db, after, true, s_list_one, &l) : KP_ENOMEM;
    *n = l.n;
    return rc;
}

static int
s_idx_load_one(void *arg, void *rec)
{
    collect_t *x = arg;
    if (x->n < x->cap)
        x->v[x->n++] = rec;
    return x->n >= x->cap;
}

int
brk_idx_load(kp_tx_t *tx, unsigned idx_db, uint64_t a, unsigned rec_db, size_t cap, void ***v,
             size_t *n)
{
    collect_t x = {kp_arena_alloc(tx->arena, cap * sizeof(void *)), 0, cap, 0};
    *v = x.v;
    *n = 0;
    int rc = x.v ? brk_idx_each_rec(tx, idx_db, a, rec_db, s_idx_load_one, &x) : KP_ENOMEM;
    *n = x.n;
    return rc;
}

typedef struct {
    uint64_t *ids;
    size_t n, cap;
} ids_t;

static int
s_collect_id(void *arg, uint64_t id)
{
    ids_t *x = arg;
    if (x->n < x->cap)
        x->ids[x->n++] = id;
    return 0;
}

int
brk_idx_ids(kp_tx_t *tx, unsigned db, uint64_t a, uint64_t *ids, size_t cap, size_t *n)
{
    ids_t x = {ids, 0, cap};
    int rc = brk_idx_each(tx, db, a, s_collect_id, &x);
    *n = x.n;
    return rc;
}

static void
s_due_key(uint8_t k[17], int64_t due_ms, int kind, uint64_t id)
{
    kp_be64_put(k, (uint64_t)(due_ms < 0 ? 0 : due_ms));
    k[8] = (uint8_t)kind;
    kp_be64_put(k + 9, id);
}

int
brk_due_put(kp_tx_t *tx, int64_t due_ms, int kind, uint64_t id)
{
    uint8_t k[17];
    s_due_key(k, due_ms, kind, id);
    return kp_raw_put(tx, BRK_DB_DUE, k, sizeof k, "", 0);
}

int
brk_due_del(kp_tx_t *tx, int64_t due_ms, int kind, uint64_t id)
{
    uint8_t k[17];
    s_due_key(k, due_ms, kind, id);
    return kp_raw_del(tx, BRK_DB_DUE, k, sizeof k, NULL);
}

typedef struct {
    int64_t *due_ms;
    int *kind;
    uint64_t *id;
    bool *found;
} due_first_t;

static int
s_due_first(void *arg, const MDB_val *key, const MDB_val *val)
{
    due_first_t *x = arg;
    (void)val;
    if (key->mv_size != 17)
        return 1; /* not a schedule key: report nothing, as before */
    const uint8_t *k = key->mv_data;
    *x->due_ms = (int64_t)kp_be64_get(k);
    *x->kind = k[8];
    *x->id = kp_be64_get(k + 9);
    *x->found = true;
    return 1;
}

int
brk_due_next(kp_server_t *srv, int64_t *due_ms, bool *found)
{
    *found = false;
    MDB_txn *txn;
    int rc = mdb_txn_begin(kp_store_env(kp_server_store(srv)), NULL, MDB_RDONLY, &txn);
    if (rc)
        return KP_ESTORE;
    kp_tx_t tx = {.srv = srv, .store = kp_server_store(srv), .txn = txn};
    int kind;
    uint64_t id;
    rc = brk_due_first(&tx, due_ms, &kind, &id, found);
    mdb_txn_abort(txn);
    return rc;
}

int
brk_due_first(kp_tx_t *tx, int64_t *due_ms, int *kind, uint64_t *id, bool *found)
{
    *found = false;
    due_first_t x = {due_ms, kind, id, found};
    int rc = kp_rec_each(tx, BRK_DB_DUE, NULL, 0, NULL, 0, s_due_first, &x);
    return rc > 0 ? 0 : rc;
}

/* Raw values keyed by a u64 id, copied into the arena as a string. */
static int
s_text_get(kp_tx_t *tx, unsigned db, uint64_t id, const char **text, bool *found)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    MDB_val v;
    int rc = kp_raw_get(tx, db, k, sizeof k, &v, found);
    if (rc || !*found)
        return rc;
    char *s = kp_arena_memdup(tx->arena, v.mv_data, v.mv_size);
    if (!s)
        return KP_ENOMEM;
    *text = s;
    return 0;
}

static int
s_raw_put(kp_tx_t *tx, unsigned db, uint64_t id, const void *p, size_t n)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    return kp_raw_put(tx, db, k, sizeof k, p, n);
}

int
brk_text_get(kp_tx_t *tx, unsigned db, uint64_t id, const char **text, bool *found)
{
    return s_text_get(tx, db, id, text, found);
}

int
brk_text_put(kp_tx_t *tx, unsigned db, uint64_t id, const char *text)
{
    return s_raw_put(tx, db, id, text, strlen(text));
}

int
brk_text_del(kp_tx_t *tx, unsigned db, uint64_t id)
{
    return kp_rec_del_id(tx, db, id);
}

int
brk_token_put(kp_tx_t *tx, uint64_t request_id, const uint8_t hash[32])
{
    return s_raw_put(tx, BRK_DB_TOKENS, request_id, hash, 32);
}

int
brk_token_check(kp_tx_t *tx, uint64_t request_id, const uint8_t hash[32], bool *match)
{
    uint8_t k[8];
    kp_be64_put(k, request_id);
    MDB_val v;
    bool found = false;
    int rc = kp_raw_get(tx, BRK_DB_TOKENS, k, sizeof k, &v, &found);
    *match = rc == 0 && found && v.mv_size == 32 && sodium_memcmp(hash, v.mv_data, 32) == 0;
    return rc;
}

/* ---- kp_server's idempotency records ------------------------------------------------------ */

/* A retry with the same key is answered from the first reply, so the replies must not keep
 * what an erasure took off the records: kp_server_idem_rewrite (which alone knows their
 * layout) hands each reply of method to fix, which gives a replacement or NULL. */
typedef struct {
    kp_tx_t *tx;
    const ProtobufCMessage *(*fix)(void *arg, kp_tx_t *tx, const ProtobufCMessage *m);
    void *arg;
} s_idem_fix_t;

static const ProtobufCMessage *
s_idem_fix(void *arg, const ProtobufCMessage *reply)
{
    s_idem_fix_t *f = arg;
    return f->fix(f->arg, f->tx, reply);
}

int
brk_idem_rewrite(kp_tx_t *tx, const char *method, const ProtobufCMessageDescriptor *d,
                 const ProtobufCMessage *(*fix)(void *arg, kp_tx_t *tx, const ProtobufCMessage *m),
                 void *arg, unsigned *rewritten)
{
    s_idem_fix_t f = {tx, fix, arg};
    return kp_server_idem_rewrite(tx->srv, kp_tx_wtxn(tx), method, d, s_idem_fix, &f, rewritten);
}
