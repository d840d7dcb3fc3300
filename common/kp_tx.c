/*  kp_tx: the unit of work and the record layer (kp_tx.h).
 *
 *  This is the one place where the services' record reads and writes meet LMDB, so it is
 *  also the one place that maps and logs LMDB failures. */
#include "kp_tx.h"

#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kp_wire.h"

#include <assert.h>
#include <string.h>

void
kp_tx_of_call(kp_tx_t *tx, kp_call_t *call, void *svc)
{
    tx->call = call;
    tx->srv = kp_call_server(call);
    tx->store = kp_call_store(call);
    tx->txn = kp_call_txn(call);
    tx->arena = kp_call_arena(call);
    tx->now_ms = kp_call_now_ms(call);
    tx->svc = svc;
}

int
kp_tx_begin(kp_tx_t *tx, kp_server_t *srv, MDB_txn *txn, kp_arena_t *arena, void *svc)
{
    memset(tx, 0, sizeof *tx);
    tx->srv = srv;
    tx->store = kp_server_store(srv);
    tx->arena = arena;
    tx->svc = svc;
    int rc = txn ? 0 : kp_server_txn(srv, &txn);
    if (rc) {
        kp_log_err("tx.begin", "err=%d what=\"%s\"", rc, kp_strerror(rc));
        return rc;
    }
    tx->txn = txn;
    /* A timer or a consumer may run in a turn that began before the clock moved (the test
     * clock) or long before now: its moment is the turn's, fixed for all its work. */
    tx->now_ms = kp_server_turn_ms(srv);
    return 0;
}

MDB_txn *
kp_tx_wtxn(kp_tx_t *tx)
{
    return tx->call ? kp_call_wtxn(tx->call) : tx->txn;
}

void
kp_tx_answer(kp_tx_t *tx, int rc, const ProtobufCMessage *reply)
{
    if (rc)
        kp_call_fail_err(tx->call, rc);
    else
        kp_call_ok(tx->call, reply);
}

int
kp_tx_emit(kp_tx_t *tx, const char *type, const ProtobufCMessage *payload)
{
    return tx->call ? kp_call_emit(tx->call, type, payload)
                    : kp_server_emit(tx->srv, tx->txn, type, payload);
}

MDB_dbi
kp_tx_dbi(const kp_tx_t *tx, unsigned db)
{
    return kp_store_dbi(tx->store, db);
}

int
kp_tx_err(const kp_tx_t *tx, const char *op, unsigned db, int rc)
{
    if (rc == 0 || rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
        return 0;
    kp_log_err("store.error", "svc=%s op=%s db=%u mdb=%d what=\"%s\"", kp_server_name(tx->srv), op,
               db, rc, mdb_strerror(rc));
    return kp_err_from_mdb(rc);
}

int
kp_raw_get(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, MDB_val *val, bool *found)
{
    MDB_val k = {key_len, (void *)key};
    int rc = mdb_get(tx->txn, kp_tx_dbi(tx, db), &k, val);
    *found = rc == 0;
    return kp_tx_err(tx, "get", db, rc);
}

int
kp_raw_put(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
           size_t val_len)
{
    return kp_raw_put_flags(tx, db, key, key_len, val, val_len, 0);
}

int
kp_raw_put_flags(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
                 size_t val_len, unsigned flags)
{
    MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
    MDB_txn *w = kp_tx_wtxn(tx);
    int rc = mdb_put(w, kp_tx_dbi(tx, db), &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_APPEND)) /* not above the last key */
        rc = mdb_put(w, kp_tx_dbi(tx, db), &k, &v, flags & ~(unsigned)MDB_APPEND);
    if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE))
        return 1;
    return kp_tx_err(tx, "put", db, rc);
}

int
kp_raw_del(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, bool *found)
{
    MDB_val k = {key_len, (void *)key};
    MDB_txn *w = kp_tx_wtxn(tx);
    int rc = mdb_del(w, kp_tx_dbi(tx, db), &k, NULL);
    if (found)
        *found = rc == 0;
    return kp_tx_err(tx, "del", db, rc);
}

int
kp_rec_get(kp_tx_t *tx, unsigned db, const void *key, size_t key_len,
           const ProtobufCMessageDescriptor *d, void **out, bool *found)
{
    MDB_val v;
    int rc = kp_raw_get(tx, db, key, key_len, &v, found);
    if (rc || !*found)
        return rc;
    void *m = kp_rec_decode(tx, db, d, &v, &rc);
    if (!m) {
        *found = false;
        return rc;
    }
    *out = m;
    return 0;
}

void *
kp_rec_decode(kp_tx_t *tx, unsigned db, const ProtobufCMessageDescriptor *d, const MDB_val *v,
              int *rc)
{
    size_t refused = kp_arena_refusals(tx->arena);
    void *m = protobuf_c_message_unpack(d, kp_arena_pbc(tx->arena), v->mv_size, v->mv_data);
    if (m)
        return m;
    bool full = kp_arena_refusals(tx->arena) != refused;
    if (full)
        kp_log_err("store.nomem", "db=%u type=%s bytes=%zu arena_used=%zu", db, d->name, v->mv_size,
                   kp_arena_used(tx->arena));
    else
        kp_log_err("store.corrupt", "db=%u type=%s", db, d->name);
    if (rc)
        *rc = full ? KP_ENOMEM : KP_ECORRUPT;
    return NULL;
}

int
kp_rec_put(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const ProtobufCMessage *m)
{
    return kp_rec_put_flags(tx, db, key, key_len, m, 0);
}

int
kp_rec_put_flags(kp_tx_t *tx, unsigned db, const void *key, size_t key_len,
                 const ProtobufCMessage *m, unsigned flags)
{
    uint8_t *bytes;
    size_t len;
    if (kp_wire_pack(tx->arena, m, &bytes, &len))
        return KP_ENOMEM;
    return kp_raw_put_flags(tx, db, key, key_len, bytes, len, flags);
}

int
kp_rec_get_id(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
              void **out, bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return kp_rec_get(tx, db, key, sizeof key, d, out, found);
}

int
kp_rec_put_id(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessage *m)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return kp_rec_put(tx, db, key, sizeof key, m);
}

int
kp_rec_del_id(kp_tx_t *tx, unsigned db, uint64_t id)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return kp_raw_del(tx, db, key, sizeof key, NULL);
}

static void *
s_rec_load(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
           const char *field, const char *what, bool name_id)
{
    void *m = NULL;
    bool found = false;
    int rc = id ? kp_rec_get_id(tx, db, id, d, &m, &found) : 0;
    if (!id)
        kp_call_fail(tx->call, KUMPPANI__V1__CODE__CODE_INVALID, "field '%s': required", field);
    else if (rc)
        kp_call_fail_err(tx->call, rc);
    else if (!found && name_id)
        kp_call_fail(tx->call, KUMPPANI__V1__CODE__CODE_NOT_FOUND, "%s %llu not found", what,
                     (unsigned long long)id);
    else if (!found)
        kp_call_fail(tx->call, KUMPPANI__V1__CODE__CODE_NOT_FOUND, "field '%s': no such %s", field,
                     what);
    return id && !rc && found ? m : NULL;
}

void *
kp_rec_load(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
            const char *field, const char *what)
{
    return s_rec_load(tx, db, id, d, field, what, false);
}

void *
kp_rec_need(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
            const char *field, const char *what)
{
    return s_rec_load(tx, db, id, d, field, what, true);
}

static bool
s_in_prefix(const MDB_val *k, const void *prefix, size_t prefix_len)
{
    return prefix_len == 0 ||
           (k->mv_size >= prefix_len && memcmp(k->mv_data, prefix, prefix_len) == 0);
}

static bool
s_is_key(const MDB_val *k, const void *key, size_t key_len)
{
    return k->mv_size == key_len && memcmp(k->mv_data, key, key_len) == 0;
}

/* How a walk starts: at the first key >= from, the first key > from, or the last <= from. */
enum { S_FROM, S_AFTER, S_REV };

static int
s_each(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
       size_t prefix_len, int (*fn)(void *, const MDB_val *, const MDB_val *), void *arg, int start)
{
    bool rev = start == S_REV;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(tx->txn, kp_tx_dbi(tx, db), &cur);
    if (rc)
        return kp_tx_err(tx, "cursor", db, rc);
    MDB_val k = {from_len, (void *)from}, v;
    if (!rev) {
        rc = mdb_cursor_get(cur, &k, &v, from_len ? MDB_SET_RANGE : MDB_FIRST);
        if (rc == 0 && start == S_AFTER && from_len && s_is_key(&k, from, from_len))
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else if (from_len == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else {
        /* The last key <= from: the first key >= from, or the one before it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (rc == 0 && !s_is_key(&k, from, from_len))
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    int out = 0;
    while (rc == 0 && s_in_prefix(&k, prefix, prefix_len)) {
        out = fn(arg, &k, &v);
        if (out)
            break;
        rc = mdb_cursor_get(cur, &k, &v, rev ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (out)
        return out;
    return kp_tx_err(tx, "each", db, rc);
}

int
kp_rec_each(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
            size_t prefix_len, int (*fn)(void *, const MDB_val *, const MDB_val *), void *arg)
{
    return s_each(tx, db, from, from_len, prefix, prefix_len, fn, arg, S_FROM);
}

int
kp_rec_each_after(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
                  size_t prefix_len, int (*fn)(void *, const MDB_val *, const MDB_val *), void *arg)
{
    return s_each(tx, db, from, from_len, prefix, prefix_len, fn, arg, S_AFTER);
}

int
kp_rec_each_rev(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
                size_t prefix_len, int (*fn)(void *, const MDB_val *, const MDB_val *), void *arg)
{
    return s_each(tx, db, from, from_len, prefix, prefix_len, fn, arg, S_REV);
}

typedef struct {
    kp_tx_t *tx;
    unsigned db;
    const ProtobufCMessageDescriptor *d;
    size_t key_len;
    int (*rec_fn)(void *, void *);
    int (*id_fn)(void *, uint64_t);
    void *arg;
} s_walk_t;

static int
s_walk_rec(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)k;
    s_walk_t *w = arg;
    int rc;
    void *m = kp_rec_decode(w->tx, w->db, w->d, v, &rc);
    return m ? w->rec_fn(w->arg, m) : rc;
}

typedef struct {
    kp_tx_t one; /* the caller's unit with the scratch arena */
    unsigned db;
    const ProtobufCMessageDescriptor *d;
    int (*fn)(void *, const MDB_val *, void *);
    void *arg;
} s_scratch_t;

static int
s_scratch_rec(void *arg, const MDB_val *k, const MDB_val *v)
{
    s_scratch_t *w = arg;
    kp_arena_reset(w->one.arena);
    int rc;
    void *m = kp_rec_decode(&w->one, w->db, w->d, v, &rc);
    return m ? w->fn(w->arg, k, m) : rc;
}

int
kp_rec_walk_scratch(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                    const ProtobufCMessageDescriptor *d, kp_arena_t *scratch,
                    int (*fn)(void *arg, const MDB_val *key, void *rec), void *arg)
{
    s_scratch_t w = {.one = *tx, .db = db, .d = d, .fn = fn, .arg = arg};
    w.one.arena = scratch;
    return s_each(tx, db, from, from_len, NULL, 0, s_scratch_rec, &w, S_FROM);
}

int
kp_rec_walk(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
            const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec), void *arg)
{
    s_walk_t w = {.tx = tx, .db = db, .d = d, .rec_fn = fn, .arg = arg};
    return s_each(tx, db, from, from_len, NULL, 0, s_walk_rec, &w, S_FROM);
}

int
kp_rec_walk_rev(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec), void *arg)
{
    s_walk_t w = {.tx = tx, .db = db, .d = d, .rec_fn = fn, .arg = arg};
    return s_each(tx, db, from, from_len, NULL, 0, s_walk_rec, &w, S_REV);
}

static int
s_walk_id(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    s_walk_t *w = arg;
    if (k->mv_size != w->key_len)
        return 0;
    return w->id_fn(w->arg, kp_be64_get((const uint8_t *)k->mv_data + k->mv_size - 8));
}

int
kp_rec_each_id(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
               size_t prefix_len, size_t key_len, int (*fn)(void *arg, uint64_t id), void *arg)
{
    assert(key_len >= 8);
    s_walk_t w = {.tx = tx, .db = db, .key_len = key_len, .id_fn = fn, .arg = arg};
    return s_each(tx, db, from, from_len, prefix, prefix_len, s_walk_id, &w, S_FROM);
}

static int
s_walk_idx(void *arg, uint64_t id)
{
    s_walk_t *w = arg;
    void *m = NULL;
    bool found = false;
    int rc = kp_rec_get_id(w->tx, w->db, id, w->d, &m, &found);
    if (rc)
        return rc;
    return found ? w->rec_fn(w->arg, m) : 0;
}

int
kp_rec_each_idx(kp_tx_t *tx, unsigned idx_db, const void *from, size_t from_len, const void *prefix,
                size_t prefix_len, size_t key_len, unsigned rec_db,
                const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec), void *arg)
{
    s_walk_t w = {.tx = tx, .db = rec_db, .d = d, .rec_fn = fn, .arg = arg};
    return kp_rec_each_id(tx, idx_db, from, from_len, prefix, prefix_len, key_len, s_walk_idx, &w);
}

int
kp_rec_count(kp_tx_t *tx, unsigned db, uint64_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(tx->txn, kp_tx_dbi(tx, db), &st);
    *n = rc ? 0 : st.ms_entries;
    return kp_tx_err(tx, "stat", db, rc);
}

int
kp_tx_next_id(kp_tx_t *tx, const char *name, uint64_t *id)
{
    return kp_store_next_id(tx->store, kp_tx_wtxn(tx), name, id);
}

const void *
kp_tx_open(kp_tx_t *tx, kp_call_t *call, void *svc)
{
    kp_tx_of_call(tx, call, svc);
    return kp_call_body(call);
}

int
kp_raw_set(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
           size_t val_len)
{
    return val ? kp_raw_put(tx, db, key, key_len, val, val_len)
               : kp_raw_del(tx, db, key, key_len, NULL);
}
