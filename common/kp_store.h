/*  kp_store: one LMDB environment per service, the turn transaction and the sequence log.
 *
 *  Every service opens one environment in its data directory with its own named databases
 *  plus four that every service has:
 *      meta      schema version, id counters ("id:<name>" -> u64 BE)
 *      log       seq (u64 BE) -> encoded kumppani.v1.Event; appended in key order
 *      idem      idempotency key -> the first successful encoded reply body
 *      offsets   source name -> last applied seq (u64 BE), for consumers
 *
 *  The turn (STYLE "The service loop"): the first write of a loop turn begins one write
 *  transaction; the service commits it once, synced, before any reply or event leaves.
 *  Requests work in the turn transaction itself (kp_server explains why not in nested
 *  transactions). The store tracks the log head through this: kp_store_head() is the committed
 *  head; events appended in an aborted or failed turn give their sequence numbers back.
 *
 *  Values read from LMDB are borrowed: valid until the next write in that transaction or its
 *  end. Copy what you keep. */
#ifndef KP_STORE_H
#define KP_STORE_H

#include "kumppani/v1/log.pb-c.h"

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_store kp_store_t;

typedef struct {
    const char *dir;         /* data directory; created (0700) if missing */
    const char *source;      /* this service's log name, e.g. "events" */
    size_t map_size;         /* bytes; 0 means 8 GiB (sparse) */
    const char *const *dbs;  /* the service's own database names */
    unsigned dbs_n;          /* at most 24 */
    unsigned schema_version; /* this program's schema; a newer store is refused */
    /* Upgrades an older store: called once at open, inside the opening transaction, with
     * the stored version (from < to); the version is then recorded as `to`. NULL: an older
     * store needs no change. Returns 0 or a KP code (the store is then not opened). */
    int (*migrate)(void *arg, MDB_txn *txn, unsigned from, unsigned to);
    void *migrate_arg;
} kp_store_opts_t;

/* Opens (creating if needed) the environment, migrating an older schema (see migrate).
 * Returns 0, -errno, KP_ESTORE or KP_EVERSION (the store was written by a newer program:
 * refused, untouched). Caller owns *out; free with kp_store_close. */
int kp_store_open(kp_store_t **out, const kp_store_opts_t *opts);

/* Aborts an open turn and closes the environment. Accepts NULL; sets *self_p to NULL. */
void kp_store_close(kp_store_t **self_p);

/* The handle of the i-th database named in opts.dbs. */
MDB_dbi kp_store_dbi(const kp_store_t *self, unsigned i);

MDB_env *kp_store_env(kp_store_t *self);

/* The end of opening an LMDB environment (the store's, or a service's own such as an index):
 * with rc 0 the transaction that opened its tables is committed, which keeps their handles;
 * otherwise, or when that commit fails, the transaction (if any) is aborted and the
 * environment closed (*env NULL). Returns the LMDB code. */
int kp_store_env_opened(MDB_env **env, MDB_txn *txn, int rc);

/* The data directory the store was opened in (a service may keep files of its own beside
 * data.mdb, such as a rebuildable index). */
const char *kp_store_dir(const kp_store_t *self);

/* Bytes of the map in use (last page number × page size) and the map size. */
void kp_store_usage(kp_store_t *self, uint64_t *used, uint64_t *map);
const char *kp_store_source(const kp_store_t *self);

/* ---- the turn --------------------------------------------------------------------------- */

/* The turn's write transaction, begun if none is open. Returns 0 or a KP code. */
int kp_store_turn_txn(kp_store_t *self, MDB_txn **txn);

/* True if a turn transaction is open. */
bool kp_store_turn_open(const kp_store_t *self);

/* Commits the turn: one synced commit for the whole batch. Returns 0 (also when no turn was
 * open) or a KP code, in which case nothing of the turn was written and the head rolls back.
 * On success *commit_ms is the commit time (may be NULL). */
int kp_store_turn_commit(kp_store_t *self, int64_t *commit_ms);

/* Aborts the turn; nothing of it is written. */
void kp_store_turn_abort(kp_store_t *self);

/* ---- erasure ------------------------------------------------------------------------------ */

/* Rewrites the store as a compacting copy (mdb_env_copy2 with MDB_CP_COMPACT) and puts it in
 * place of data.mdb, so that the bytes of deleted records leave the disk: LMDB keeps a deleted
 * record's bytes on its freed page until that page is reused, and the copy holds live pages
 * only. Only between turns (no turn open; else KP_EINVAL). The copy is written beside the
 * store, synced, and renamed over data.mdb; a crash before the rename keeps the old store and
 * the next open removes the copy. The environment is reopened afterwards, so handles from
 * kp_store_env or kp_store_dbi taken before must not be kept across the call. *before and
 * *after (may be NULL) get the file sizes. Returns 0 or a KP code (logged). */
int kp_store_compact(kp_store_t *self, uint64_t *before, uint64_t *after);

/* ---- the log ---------------------------------------------------------------------------- */

/* The last committed sequence number (0 when the log is empty). */
uint64_t kp_store_head(const kp_store_t *self);

/* The head inside the open turn (what will be committed), or the committed head. */
uint64_t kp_store_turn_head(const kp_store_t *self);

/* Appends an event (type, encoded payload) in txn, the turn's transaction, with the next
 * sequence number and time now_ms. On success *event / *event_len hold the encoded Event
 * in memory the caller provides through alloc(arg, n) (e.g. a turn arena), to publish after
 * commit, and *seq its number. Returns 0, KP_ENOMEM (alloc failed) or a store error. */
int kp_store_log_append(kp_store_t *self, MDB_txn *txn, const char *type, const void *payload,
                        size_t payload_len, int64_t now_ms, void *(*alloc)(void *, size_t),
                        void *arg, uint8_t **event, size_t *event_len, uint64_t *seq);

/* Calls fn(arg, seq, bytes, len) for the events with seq >= from, in order, stopping after
 * limit events, or before the byte total would pass max_bytes (at least one event is always
 * given), or when fn returns non-zero. The bytes are borrowed for the call only. Returns 0 or
 * a store error. */
int kp_store_log_read(kp_store_t *self, MDB_txn *txn, uint64_t from, unsigned limit,
                      size_t max_bytes, int (*fn)(void *, uint64_t, const void *, size_t),
                      void *arg);

/* Called for each logged event by kp_store_log_rewrite. To change it, set *payload and
 * *payload_len to the new encoded payload (memory the callback owns and keeps valid until its
 * next call) and *changed to true. Returns 0 or a KP code (stops the rewrite). */
typedef int (*kp_store_rewrite_fn)(void *arg, const Kumppani__V1__Event *ev, uint8_t **payload,
                                   size_t *payload_len, bool *changed);

/* Rewrites the payloads of logged events in txn (for an upgrade that takes personal data off
 * an old log, or an erasure): each event keeps its seq, source, time and type. *rewritten
 * (may be NULL) counts the events changed. Consumers that applied an event before keep their
 * effect; a replay from now on returns the new payload. Returns 0 or a KP code. */
int kp_store_log_rewrite(kp_store_t *self, MDB_txn *txn, kp_store_rewrite_fn fn, void *arg,
                         uint64_t *rewritten);

/* Replaces the value of the entry the cursor stands on (key) with m encoded, in place
 * (mdb_cursor_put with MDB_CURRENT): a rewrite of stored records, such as an upgrade's in a
 * migrate hook, which works on the opening transaction. Returns 0, KP_ENOMEM or a KP code from
 * LMDB (logged as store.mdb op=repack). */
int kp_store_repack(MDB_cursor *c, const MDB_val *key, const ProtobufCMessage *m);

/* ---- small tables every service has ------------------------------------------------------ */

/* Looks up an idempotency key. Returns 0 with *found and the borrowed value, or a store
 * error. */
int kp_store_idem_get(kp_store_t *self, MDB_txn *txn, const void *key, size_t key_len, bool *found,
                      MDB_val *val);
int kp_store_idem_put(kp_store_t *self, MDB_txn *txn, const void *key, size_t key_len,
                      const void *val, size_t val_len);

/* Calls fn for every idempotency record whose key starts with prefix; when fn sets *out, the
 * value is replaced by *out_len bytes at *out (memory fn keeps valid until its next call).
 * fn returns 0 or a KP code (stops). *rewritten (may be NULL) counts replaced values. For
 * kp_server_idem_rewrite, which knows the layout of keys and values. */
int kp_store_idem_rewrite(kp_store_t *self, MDB_txn *txn, const void *prefix, size_t prefix_len,
                          int (*fn)(void *arg, const MDB_val *key, const MDB_val *val, void **out,
                                    size_t *out_len),
                          void *arg, unsigned *rewritten);

/* The last applied seq of a source (0 if never). */
int kp_store_offset_get(kp_store_t *self, MDB_txn *txn, const char *source, uint64_t *seq);
int kp_store_offset_put(kp_store_t *self, MDB_txn *txn, const char *source, uint64_t seq);

/* Hands out the next id (1, 2, ...) of the named counter. */
int kp_store_next_id(kp_store_t *self, MDB_txn *txn, const char *name, uint64_t *id);

/* ---- keys ------------------------------------------------------------------------------- */

static inline void
kp_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t
kp_be64_get(const void *vp)
{
    const uint8_t *p = vp;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
