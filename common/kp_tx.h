/*  kp_tx: the unit of work every handler and helper of every service receives, and the record
 *  layer on it.
 *
 *  A unit of work is one piece of the current loop turn: a request being answered (a call), a
 *  timer's pass, or a consumer applying an event. It bundles what all of them need: the server,
 *  the store, the turn's transaction, an arena for decoded records and scratch data, the time
 *  of the turn (kp_now_ms, test clock included) and the service's own state. Store functions,
 *  rules and handlers all take a kp_tx_t *, so the same rule runs unchanged inside a request and
 *  inside a timer.
 *
 *  Validate, then write (kp_server.h): reads use tx->txn; the first write goes through
 *  kp_tx_wtxn, which in a call marks the point after which a failure abandons the turn.
 *
 *  The record layer stores protobuf messages under byte keys in one of the service's
 *  databases (the index in kp_server_opts_t.dbs). Every LMDB failure is mapped to a KP code and
 *  logged exactly once, here, with the service's name, the operation and the database; callers
 *  pass the code on (kp_call_fail_err answers it) and do not log it again. A missing record is
 *  not an error: *found says so.
 *
 *  Lifetimes: records decoded by kp_rec_get live in tx->arena until the unit ends (a call's
 *  arena is reset after the call; a timer's when it resets its arena). Raw values (MDB_val) are
 *  borrowed until the next write in the transaction. */
#ifndef KP_TX_H
#define KP_TX_H

#include "kp_arena.h"
#include "kp_server.h"
#include "kp_store.h"

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    kp_server_t *srv;
    kp_call_t *call; /* NULL outside a call (a timer, a consumer) */
    kp_store_t *store;
    MDB_txn *txn; /* the turn's transaction */
    kp_arena_t *arena;
    int64_t now_ms; /* the turn's time, from kp_now_ms (test clock included) */
    void *svc;      /* the service's own state */
} kp_tx_t;

/* The unit of a call: its transaction, arena and turn time. Cannot fail. */
void kp_tx_of_call(kp_tx_t *tx, kp_call_t *call, void *svc);

/* A unit outside a call (timer, consumer): joins or begins the turn's write transaction.
 * txn may be given (a consumer's apply receives it) or NULL (begun here). arena is the
 * caller's (reset by the caller). Returns 0 or a KP code (logged). */
int kp_tx_begin(kp_tx_t *tx, kp_server_t *srv, MDB_txn *txn, kp_arena_t *arena, void *svc);

/* The transaction to write in. In a call this is kp_call_wtxn (see kp_server.h). */
MDB_txn *kp_tx_wtxn(kp_tx_t *tx);

/* Ends the unit's call: kp_call_fail_err(call, rc) when rc is a KP code, else
 * kp_call_ok(call, reply). Only in a call. */
void kp_tx_answer(kp_tx_t *tx, int rc, const ProtobufCMessage *reply);

/* Appends a domain event in the turn (kp_call_emit / kp_server_emit). Returns 0 or a KP code. */
int kp_tx_emit(kp_tx_t *tx, const char *type, const ProtobufCMessage *payload);

/* The handle of the service's db-th database. */
MDB_dbi kp_tx_dbi(const kp_tx_t *tx, unsigned db);

/* Maps an LMDB (or errno) return code to a KP code; MDB_NOTFOUND and MDB_KEYEXIST are results
 * and map to 0 without a log line (callers that care test rc before calling). Anything else is
 * logged once as "<service>.store op=<op> db=<db> mdb=<rc>". */
int kp_tx_err(const kp_tx_t *tx, const char *op, unsigned db, int rc);

/* ---- records ----------------------------------------------------------------------------- */

/* Reads and decodes the message under key into tx->arena. Returns 0 with *found (false: *out
 * untouched), KP_ECORRUPT (undecodable, logged), KP_ENOMEM (the arena is full, logged) or a
 * store error (logged). */
int kp_rec_get(kp_tx_t *tx, unsigned db, const void *key, size_t key_len,
               const ProtobufCMessageDescriptor *d, void **out, bool *found);

/* Decodes a record's stored bytes v (as a walk hands them over) into tx->arena. Returns the
 * message, or NULL with *rc (if rc is given) KP_ECORRUPT for bytes that do not decode, logged
 * once as store.corrupt with the db and type (the same line as kp_rec_get's), or KP_ENOMEM
 * when the arena refused the room, logged as store.nomem: a full arena is no damaged store. */
void *kp_rec_decode(kp_tx_t *tx, unsigned db, const ProtobufCMessageDescriptor *d, const MDB_val *v,
                    int *rc);

/* Encodes and stores m under key (a write). Returns 0 or a KP code (logged). */
int kp_rec_put(kp_tx_t *tx, unsigned db, const void *key, size_t key_len,
               const ProtobufCMessage *m);
/* The same with LMDB's put flags, as kp_raw_put_flags (1: a known key, nothing written). */
int kp_rec_put_flags(kp_tx_t *tx, unsigned db, const void *key, size_t key_len,
                     const ProtobufCMessage *m, unsigned flags);

/* The same with a big-endian u64 key (records keyed by id, kept in id order). */
int kp_rec_get_id(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
                  void **out, bool *found);
int kp_rec_put_id(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessage *m);

/* Deletes the record under this id (a write; absent already is no error). Returns 0 or a KP
 * code. */
int kp_rec_del_id(kp_tx_t *tx, unsigned db, uint64_t id);

/* A service's typed accessors of the records a database keeps under their id, each defined in
 * its store.c as one row (the declaration stays in the service's header):
 *     KP_REC_ID_GET(reg_person_get, REG_DB_PEOPLE, reg_person_t, kumppani__v1__person__descriptor)
 * defines int reg_person_get(kp_tx_t *tx, uint64_t id, reg_person_t **out, bool *found): that
 * is kp_rec_get_id in that database as that message type. KP_REC_ID_PUT(name, db, type)
 * defines int name(kp_tx_t *tx, const type *rec), kp_rec_put_id under rec->id, and
 * KP_REC_ID_DEL(name, db) int name(kp_tx_t *tx, uint64_t id), kp_rec_del_id. The rows expand
 * to the very functions they replace, so a hot path pays nothing for them. */
#define KP_REC_ID_GET(name, db, type, desc)                                                        \
    int name(kp_tx_t *tx, uint64_t id, type **out, bool *found)                                    \
    {                                                                                              \
        return kp_rec_get_id(tx, db, id, &desc, (void **)out, found);                              \
    }
#define KP_REC_ID_PUT(name, db, type)                                                              \
    int name(kp_tx_t *tx, const type *rec)                                                         \
    {                                                                                              \
        return kp_rec_put_id(tx, db, rec->id, &rec->base);                                         \
    }
#define KP_REC_ID_DEL(name, db)                                                                    \
    int name(kp_tx_t *tx, uint64_t id)                                                             \
    {                                                                                              \
        return kp_rec_del_id(tx, db, id);                                                          \
    }

/* Loads the record with this id named by the request's field, or answers the call and returns
 * NULL: id 0 is CODE_INVALID "field '<field>': required", a store error is answered with
 * kp_call_fail_err, a missing record is CODE_NOT_FOUND "field '<field>': no such <what>". Only
 * in a call. */
void *kp_rec_load(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
                  const char *field, const char *what);

/* kp_rec_load whose CODE_NOT_FOUND names the record and its id: "<what> <id> not found" (the
 * events' and the broker's wording: their clients read the id back from the message). */
void *kp_rec_need(kp_tx_t *tx, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d,
                  const char *field, const char *what);

/* Raw values: the borrowed bytes under key. Returns 0 with *found, or a store error. */
int kp_raw_get(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, MDB_val *val,
               bool *found);

/* Stores raw bytes under key (a write). Returns 0 or a KP code. */
int kp_raw_put(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
               size_t val_len);

/* kp_raw_put with LMDB's put flags. MDB_NOOVERWRITE refuses a known key: returns 1 and writes
 * nothing. MDB_APPEND is for a key that usually grows (a time, an id): one descent without key
 * compares and full pages; a key not above the last is put the ordinary way. Returns 0, 1 or a
 * KP code (logged). */
int kp_raw_put_flags(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
                     size_t val_len, unsigned flags);

/* Deletes key (a write). Returns 0 (with *found if given: false when it was absent) or a KP
 * code. */
int kp_raw_del(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, bool *found);

/* Calls fn(arg, key, val) for each entry with key >= from (everything when from_len is 0) in
 * key order while the key starts with prefix (prefix_len 0: no bound), until fn returns
 * non-zero (that value is returned: use a positive value to stop early) or the entries end.
 * key and val are borrowed for the call only; fn must not write to this database. Returns
 * 0, fn's non-zero value, or a store error (negative). */
int kp_rec_each(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
                size_t prefix_len, int (*fn)(void *arg, const MDB_val *key, const MDB_val *val),
                void *arg);

/* The same, from the last key <= from (or the very last when from_len is 0) backwards. */
int kp_rec_each_rev(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
                    size_t prefix_len, int (*fn)(void *arg, const MDB_val *key, const MDB_val *val),
                    void *arg);

/* kp_rec_each from the first key above from (from_len 0: the first key): a page that starts
 * after the last key of the page before. */
int kp_rec_each_after(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                      const void *prefix, size_t prefix_len,
                      int (*fn)(void *arg, const MDB_val *key, const MDB_val *val), void *arg);

/* kp_rec_each with each value decoded as a d message into tx->arena (kp_rec_decode):
 * fn(arg, rec) for each entry until fn returns non-zero (that value is returned) or the entries
 * end. A value that does not decode stops the walk: KP_ECORRUPT, logged once as store.corrupt.
 * Returns 0, fn's non-zero value, KP_ECORRUPT or a store error. */
int kp_rec_walk(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec), void *arg);

/* kp_rec_walk over a whole table in the same memory however large it grows: each record is
 * decoded into scratch, an arena emptied before the next record (so rec lives until fn
 * returns; copy what is kept into tx->arena), and fn(arg, key, rec) also gets the record's key
 * (borrowed likewise). For walks over every record (retention, personal data requests,
 * exports): tx->arena would otherwise hold them all. Returns as kp_rec_walk (KP_ENOMEM when
 * one record does not fit in scratch). */
int kp_rec_walk_scratch(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                        const ProtobufCMessageDescriptor *d, kp_arena_t *scratch,
                        int (*fn)(void *arg, const MDB_val *key, void *rec), void *arg);

/* The same, from the last key <= from (or the very last when from_len is 0) backwards. */
int kp_rec_walk_rev(kp_tx_t *tx, unsigned db, const void *from, size_t from_len,
                    const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec),
                    void *arg);

/* An index walk: kp_rec_each over an index whose keys end with a record's id (u64 big-endian),
 * calling fn(arg, id) for each key of exactly key_len bytes (others are passed over). Returns
 * as kp_rec_each. */
int kp_rec_each_id(kp_tx_t *tx, unsigned db, const void *from, size_t from_len, const void *prefix,
                   size_t prefix_len, size_t key_len, int (*fn)(void *arg, uint64_t id), void *arg);

/* An index walk that loads what the index points at: for each id kp_rec_each_id hands over,
 * the record with that id in rec_db, decoded as d (kp_rec_get_id), goes to fn(arg, rec); an id
 * without a record is passed over. A store error or KP_ECORRUPT stops the walk and is
 * returned. Returns as kp_rec_each. */
int kp_rec_each_idx(kp_tx_t *tx, unsigned idx_db, const void *from, size_t from_len,
                    const void *prefix, size_t prefix_len, size_t key_len, unsigned rec_db,
                    const ProtobufCMessageDescriptor *d, int (*fn)(void *arg, void *rec),
                    void *arg);

/* Number of entries in the database. */
int kp_rec_count(kp_tx_t *tx, unsigned db, uint64_t *n);

/* Hands out the next id of the named counter (kp_store_next_id; a write). */
int kp_tx_next_id(kp_tx_t *tx, const char *name, uint64_t *id);

/* ---- the start of a handler -------------------------------------------------------------- */

/* The unit of a call (kp_tx_of_call) and the call's request body (kp_call_body), in the one
 * step every handler begins with. The body is the method's request message, decoded into the
 * call's arena and borrowed until the call ends. Cannot fail. */
const void *kp_tx_open(kp_tx_t *tx, kp_call_t *call, void *svc);

/* ---- an index entry kept in step --------------------------------------------------------- */

/* Stores val (val_len bytes) under key, or, when val is NULL, deletes key (absent already is
 * no error): the one call for an index entry that a record's write adds and its removal takes
 * away. Returns 0 or a KP code (a write). */
int kp_raw_set(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const void *val,
               size_t val_len);

#endif
