/*  expert-broker/store.c: records, indexes and the deadline schedule in LMDB.
 *
 *  Records are protobuf messages keyed by their id (u64 big-endian); indexes are 16-byte keys
 *  a . b with empty values; the deadline schedule is keyed due_ms . kind . id (17 bytes) so
 *  that the first key is always the next deadline. Values read are decoded into the context's
 *  arena and live as long as it; nothing is cached in memory. */
#include "broker.h"
#include "kp_err.h"
#include "kp_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const brk_db_names[BRK_DB_N] = {
    "experts", "sensitive", "requests", "tokens", "offers", "req_offers",
    "asgs",    "exp_asgs",  "req_asgs", "due",    "audit",  "orgs",
};

int64_t
brk_clock(const brk_svc_t *svc, int64_t real_ms)
{
    if (!svc->clock_file)
        return real_ms;
    FILE *f = fopen(svc->clock_file, "r");
    if (!f)
        return real_ms;
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *end;
    long long off = strtoll(buf, &end, 10);
    return real_ms + off;
}

static int
s_mdb(int rc)
{
    return rc == 0 ? 0 : rc == MDB_MAP_FULL ? KP_EFULL : KP_ESTORE;
}

MDB_txn *
brk_wtxn(brk_ctx_t *c)
{
    return c->call ? kp_call_wtxn(c->call) : c->txn;
}

/* Events leave out free text (decline and cancel reasons, feedback comments, a request's
 * description): it may say anything about a person (an illness behind a cancellation), and the
 * log is kept for ever and replayed to other services. The records keep it; erasure clears it. */
int
brk_emit(brk_ctx_t *c, const char *type, const ProtobufCMessage *m)
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
    return c->call ? kp_call_emit(c->call, type, m) : kp_server_emit(c->svc->srv, c->txn, type, m);
}

int
brk_raw_get(brk_ctx_t *c, int db, uint64_t id, MDB_val *v, bool *found)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    MDB_val key = {8, k};
    int rc = mdb_get(c->txn, kp_store_dbi(c->st, (unsigned)db), &key, v);
    *found = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
brk_raw_put(brk_ctx_t *c, int db, uint64_t id, const void *p, size_t n)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    MDB_val key = {8, k}, val = {n, (void *)p};
    return s_mdb(mdb_put(brk_wtxn(c), kp_store_dbi(c->st, (unsigned)db), &key, &val, 0));
}

int
brk_raw_del(brk_ctx_t *c, int db, uint64_t id)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    MDB_val key = {8, k};
    int rc = mdb_del(brk_wtxn(c), kp_store_dbi(c->st, (unsigned)db), &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
brk_get(brk_ctx_t *c, int db, uint64_t id, const ProtobufCMessageDescriptor *d, void **out,
        bool *found)
{
    MDB_val v;
    int rc = brk_raw_get(c, db, id, &v, found);
    if (rc || !*found)
        return rc;
    *out = protobuf_c_message_unpack(d, kp_arena_pbc(c->a), v.mv_size, v.mv_data);
    return *out ? 0 : KP_ECORRUPT;
}

int
brk_put(brk_ctx_t *c, int db, uint64_t id, const ProtobufCMessage *m)
{
    uint8_t *p;
    size_t n;
    if (kp_wire_pack(c->a, m, &p, &n))
        return KP_ENOMEM;
    return brk_raw_put(c, db, id, p, n);
}

int
brk_idx_put(brk_ctx_t *c, int db, uint64_t a, uint64_t b)
{
    uint8_t k[16];
    kp_be64_put(k, a);
    kp_be64_put(k + 8, b);
    MDB_val key = {16, k}, val = {0, ""};
    return s_mdb(mdb_put(brk_wtxn(c), kp_store_dbi(c->st, (unsigned)db), &key, &val, 0));
}

int
brk_idx_each(brk_ctx_t *c, int db, uint64_t a, int (*fn)(void *, uint64_t), void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, kp_store_dbi(c->st, (unsigned)db), &cur);
    if (rc)
        return s_mdb(rc);
    uint8_t k[16];
    kp_be64_put(k, a);
    kp_be64_put(k + 8, 0);
    MDB_val key = {16, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size != 16 || kp_be64_get(key.mv_data) != a)
            break;
        if (fn(arg, kp_be64_get((uint8_t *)key.mv_data + 8)))
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
brk_each(brk_ctx_t *c, int db, uint64_t after, int (*fn)(void *, uint64_t, MDB_val *), void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, kp_store_dbi(c->st, (unsigned)db), &cur);
    if (rc)
        return s_mdb(rc);
    uint8_t k[8];
    kp_be64_put(k, after + 1);
    MDB_val key = {8, k}, val;
    rc = after == UINT64_MAX ? MDB_NOTFOUND : mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size == 8 && fn(arg, kp_be64_get(key.mv_data), &val))
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

static void
s_due_key(uint8_t k[17], int64_t due_ms, int kind, uint64_t id)
{
    kp_be64_put(k, (uint64_t)(due_ms < 0 ? 0 : due_ms));
    k[8] = (uint8_t)kind;
    kp_be64_put(k + 9, id);
}

int
brk_due_put(brk_ctx_t *c, int64_t due_ms, int kind, uint64_t id)
{
    uint8_t k[17];
    s_due_key(k, due_ms, kind, id);
    MDB_val key = {17, k}, val = {0, ""};
    return s_mdb(mdb_put(brk_wtxn(c), kp_store_dbi(c->st, BRK_DB_DUE), &key, &val, 0));
}

int
brk_due_del(brk_ctx_t *c, int64_t due_ms, int kind, uint64_t id)
{
    uint8_t k[17];
    s_due_key(k, due_ms, kind, id);
    MDB_val key = {17, k};
    int rc = mdb_del(brk_wtxn(c), kp_store_dbi(c->st, BRK_DB_DUE), &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
brk_due_first(kp_store_t *st, MDB_txn *txn, int64_t *due_ms, int *kind, uint64_t *id, bool *found)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, kp_store_dbi(st, BRK_DB_DUE), &cur);
    if (rc)
        return s_mdb(rc);
    MDB_val key, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    *found = rc == 0 && key.mv_size == 17;
    if (*found) {
        const uint8_t *k = key.mv_data;
        *due_ms = (int64_t)kp_be64_get(k);
        *kind = k[8];
        *id = kp_be64_get(k + 9);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

static void *
s_load(brk_ctx_t *c, int db, uint64_t id, const ProtobufCMessageDescriptor *d, int *rc)
{
    void *out = NULL;
    bool found = false;
    *rc = brk_get(c, db, id, d, &out, &found);
    return *rc == 0 && found ? out : NULL;
}

brk_expert_t *
brk_expert_load(brk_ctx_t *c, uint64_t id, int *rc)
{
    return s_load(c, BRK_DB_EXPERTS, id, &kumppani__v1__expert__descriptor, rc);
}

brk_request_t *
brk_request_load(brk_ctx_t *c, uint64_t id, int *rc)
{
    return s_load(c, BRK_DB_REQUESTS, id, &kumppani__v1__broker_request__descriptor, rc);
}

brk_offer_t *
brk_offer_load(brk_ctx_t *c, uint64_t id, int *rc)
{
    return s_load(c, BRK_DB_OFFERS, id, &kumppani__v1__offer__descriptor, rc);
}

brk_asg_t *
brk_asg_load(brk_ctx_t *c, uint64_t id, int *rc)
{
    return s_load(c, BRK_DB_ASGS, id, &kumppani__v1__assignment__descriptor, rc);
}
