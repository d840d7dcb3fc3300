/*  kp_server: the service loop every Kumppani service runs on.
 *
 *  One libuv loop, one ZeroMQ context, one LMDB store. The server binds a ROUTER socket for
 *  the request/reply API and a PUB socket for the event log, runs the ZAP handler when CURVE
 *  keys are configured, and drives the turn (STYLE "The service loop"):
 *
 *    1. Requests are drained from the ROUTER (at most batch_max per turn). Each is decoded and
 *       checked (kp_wire), its method looked up and its role checked, and its handler run in
 *       the turn's write transaction.
 *    2. Replies and events are queued, not sent.
 *    3. Just before the loop blocks (uv_prepare), the turn commits with one synced LMDB
 *       commit; then the replies go out and the events are published. If the commit fails,
 *       every request of the turn is answered CODE_UNAVAILABLE (nothing was written; retrying
 *       is safe) and no event is published.
 *
 *  Validate, then write. A handler reads through kp_call_txn and checks everything first;
 *  only then does it take kp_call_wtxn and write. A refusal before the write leaves the batch
 *  untouched, so a bad request never sinks the others. A failure after kp_call_wtxn (only a
 *  store error can happen there) aborts the whole turn: every request of it so far is
 *  answered CODE_UNAVAILABLE, nothing of it is written, and the loop goes on with a new turn.
 *  (STYLE asks for a child transaction per write; LMDB allocates ~3 MiB of page lists for each
 *  nested transaction and copies every page it touches that its parent already dirtied, which
 *  measured 2.5 ms per request under ASan and a third of the service's CPU in release. The
 *  rule's reason — a failed request must not sink the batch — holds without it.)
 *
 *  So a reply never leaves before what it acknowledges is on disk (DESIGN 2), events and the
 *  changes they describe commit together (DESIGN 4), and the sync is shared by the batch.
 *
 *  Built-in methods: "log.replay" (ReplayRequest -> ReplayPage; roles admin, service,
 *  reader), "sys.health" (HealthRequest -> HealthReply; every role) and, only when the test
 *  clock is enabled (kp_time.h), "sys.clock.set" (ClockRequest -> ClockReply; admin).
 *
 *  Idempotency records (kp_server_idem_get) are keyed "<method> NUL <key>" in kp_store's idem
 *  table and hold a hash of the first request's body and its successful reply body; a handler
 * reaches them through kp_call_idem, and a service that must find a record by its key outside that
 * method (a cancel by the publisher's own id) through kp_server_idem_get, never by rebuilding the
 * key.
 *
 *  Drops: a reply whose peer has gone and an event the PUB drops for a slow subscriber are
 *  counted (HealthReply replies_dropped, events_dropped, and the metrics); the subscriber
 *  notices the gap and replays it. The PUB socket carries
 *  each committed event as ["E", Event] and, every heartbeat_ms, ["H", Heartbeat]. */
#ifndef KP_SERVER_H
#define KP_SERVER_H

#include "kp_arena.h"
#include "kp_store.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct kp_server kp_server_t;
typedef struct kp_call kp_call_t;

/* A method handler. It reads kp_call_body, checks it and the store through kp_call_txn,
 * writes through kp_call_wtxn, and ends with exactly one of kp_call_ok or kp_call_fail (a
 * handler that sets neither answers CODE_INTERNAL). */
typedef void (*kp_handler_fn)(kp_call_t *call, void *svc);

typedef struct {
    const char *name;                     /* "events.signup.submit" */
    unsigned roles;                       /* KP_ROLE_* bits admitted */
    const ProtobufCMessageDescriptor *in; /* the body's message type */
    kp_handler_fn fn;
    int op; /* handed to fn as kp_call_op: one handler for methods that differ in one choice */
} kp_method_t;

/* A row of a method table: KP_METHOD("events.event.create", KP_ROLE_ADMIN,
 * create_event_request, evt_h_event_create), msg being the request message's protobuf-c name
 * (kumppani.v1). KP_METHOD_OP adds the row's op. */
#define KP_METHOD(name, roles, msg, fn) KP_METHOD_OP(name, roles, msg, fn, 0)
#define KP_METHOD_OP(name, roles, msg, fn, op)                                                     \
    {                                                                                              \
        (name), (roles), &kumppani__v1__##msg##__descriptor, (fn), (op)                            \
    }

typedef struct {
    const char *service;      /* log source name and log svc= */
    const char *data_dir;     /* the LMDB environment's directory */
    const char *api_endpoint; /* ROUTER bind, e.g. "tcp://127.0.0.1:7201" */
    const char *pub_endpoint; /* PUB bind, or NULL for a service without a log */
    const kp_keypair_t *keys; /* server key pair; NULL: plain TCP (development only) */
    const kp_allow_t *allow;  /* required with keys; borrowed */
    size_t map_size;          /* 0: default */
    const char *const *dbs;   /* the service's own databases (kp_store_opts_t) */
    unsigned dbs_n;
    unsigned schema_version;
    unsigned heartbeat_ms;    /* 0: 1000 */
    unsigned batch_max;       /* requests per turn; 0: 2048 */
    const char *metrics_file; /* Prometheus text rewritten every 5 s; NULL: none */
    const char *metrics_http; /* "host:port" answering GET /metrics (kp_mhttp); NULL: none */
    /* Upgrade of an older store (kp_store_opts_t.migrate); NULL: nothing to change. */
    int (*migrate)(void *arg, MDB_txn *txn, unsigned from, unsigned to);
    void *migrate_arg;
    const kp_method_t *methods;
    unsigned methods_n;
    void *svc; /* passed to every handler */
} kp_server_opts_t;

/* Opens the store, binds the sockets and starts the loop's handles. Returns 0 or a KP code
 * (logged). Caller owns *out; kp_server_run, then kp_server_destroy. */
int kp_server_new(kp_server_t **out, uv_loop_t *loop, const kp_server_opts_t *opts);

/* Runs the loop until SIGINT or SIGTERM (or kp_server_stop), then shuts down in order:
 * stop intake, commit, send, close watchers, close sockets. Returns 0 or a KP code. */
int kp_server_run(kp_server_t *self);

/* Asks the loop to stop after the current turn. */
void kp_server_stop(kp_server_t *self);

/* Terminates the context, closes the store and checks that the loop closed cleanly.
 * Accepts NULL; sets *self_p to NULL. */
void kp_server_destroy(kp_server_t **self_p);

kp_store_t *kp_server_store(kp_server_t *self);
uv_loop_t *kp_server_loop(kp_server_t *self);
void *kp_server_zctx(kp_server_t *self);
const char *kp_server_name(const kp_server_t *self);

/* The time of the current turn (kp_now_ms at its first request or write), fixed for the
 * turn; starts a turn time if none is set. */
int64_t kp_server_turn_ms(kp_server_t *self);

/* Rewrites the first replies stored by method (an erasure must not leave a person's data in
 * them): fix(arg, reply) gets each reply decoded as d (on the heap, freed after fix's answer
 * is stored; what fix allocates for that answer may come from the request arena) and returns
 * the reply to store instead, or NULL to leave it. Request hashes are kept. *rewritten (may be
 * NULL) counts the replaced replies. Returns 0 or a KP code. A write (see kp_call_wtxn). */
int kp_server_idem_rewrite(kp_server_t *self, MDB_txn *txn, const char *method,
                           const ProtobufCMessageDescriptor *d,
                           const ProtobufCMessage *(*fix)(void *arg, const ProtobufCMessage *reply),
                           void *arg, unsigned *rewritten);

/* Asks for the store to be compacted at the end of the current turn, after its commit and its
 * replies (kp_store_compact): an erasure or a retention run calls this so that the deleted
 * bytes leave the disk without an operator. Several requests in one turn compact once. */
void kp_server_compact_soon(kp_server_t *self);

/* How many compactions have run since start. */
uint64_t kp_server_compactions(const kp_server_t *self);

/* Looks up the first reply stored by method for the idempotency key (see above). Returns 0
 * with *found and the borrowed reply body in *val (valid until the next write in txn), or a
 * KP code. */
int kp_server_idem_get(kp_server_t *self, MDB_txn *txn, const char *method, const void *key,
                       size_t key_len, bool *found, MDB_val *val);

/* Replaces the reply stored by method for the idempotency key with reply (reply_len bytes),
 * keeping the hash of the first request, so that a repeated request is still recognised and
 * answered with the new reply (an erasure stores the public copy instead of personal data).
 * *found is false (and nothing written) when there is no such record. txn must be the turn's
 * write transaction. Returns 0 or a KP code. */
int kp_server_idem_replace(kp_server_t *self, MDB_txn *txn, const char *method, const void *key,
                           size_t key_len, const void *reply, size_t reply_len, bool *found);

/* ---- inside a handler -------------------------------------------------------------------- */

/* The server the call came to. */
kp_server_t *kp_call_server(kp_call_t *call);

/* The decoded, checked body (a message of the method's `in` type). Valid during the call. */
const void *kp_call_body(kp_call_t *call);

/* The op of the call's method row (KP_METHOD_OP; 0 for a KP_METHOD row). */
int kp_call_op(const kp_call_t *call);

/* The turn's transaction, for reading. Valid during the call. */
MDB_txn *kp_call_txn(kp_call_t *call);

/* The same transaction, for writing. From this call on, a kp_call_fail aborts the whole
 * turn (see above), so take it only when every check has passed. */
MDB_txn *kp_call_wtxn(kp_call_t *call);
kp_store_t *kp_call_store(kp_call_t *call);

/* An arena for the call's scratch data; reset after the call. */
kp_arena_t *kp_call_arena(kp_call_t *call);

/* The caller's role (KP_ROLE_*); KP_ROLE_ADMIN when the server runs without keys. */
unsigned kp_call_role(const kp_call_t *call);

/* Whether the caller may act under this source name: every role but publisher may (a
 * selfservice key too: it may call only a few person-acting methods, kp_zsock.h); a
 * publisher only under the names its key is bound to (allow-list sources=, kp_zsock.h). The
 * string lives as long as the call. */
bool kp_call_source_allowed(const kp_call_t *call, const char *source);

/* The envelope's idempotency key ("" if none) and its length. */
const char *kp_call_idem_key(const kp_call_t *call, size_t *len);

/* The time of the turn, Unix milliseconds. */
int64_t kp_call_now_ms(const kp_call_t *call);

/* Answers with an error. fmt names the field and the rule, never the submitted value. */
void kp_call_fail(kp_call_t *call, Kumppani__V1__Code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers a KP error code from the store or the framework: KP_EFULL, KP_ESTORE and KP_ENOMEM
 * become CODE_UNAVAILABLE ("nothing was written; retry later"), anything else CODE_INTERNAL;
 * logged once here (the record layer has already logged the LMDB code). */
void kp_call_fail_err(kp_call_t *call, int err);

/* Answers CODE_OK with reply (may be NULL for an empty body). */
void kp_call_ok(kp_call_t *call, const ProtobufCMessage *reply);

/* Idempotency: looks up key in the method's namespace. If a first answer is stored for the
 * same request body, answers with it and returns true; the handler must then return at once
 * without writing. If the key was first used with another body, answers CODE_CONFLICT
 * "idempotency key reused with different content" and returns true. Otherwise
 * remembers the key, so that kp_call_ok stores its reply under it, and returns false. On a
 * store error it answers the error and returns true. */
bool kp_call_idem(kp_call_t *call, const void *key, size_t key_len);

/* kp_call_idem answering conflict (NULL: the text above) when the key was first used with
 * another body: for a method whose key is named in its own request's words (events'
 * source + external_id). */
bool kp_call_idem_as(kp_call_t *call, const void *key, size_t key_len, const char *conflict);

/* Stores this call's first answer under key (in the method's namespace) instead of the key
 * given to kp_call_idem, without looking it up: for a service that finds the key of a resend
 * through an index of its own and lets the record be keyed in arrival order (events keys a
 * sign-up's first answer by its id, so that the synced store takes it as an append). Returns
 * 0 or KP_ENOMEM / KP_EINVAL (over 400 bytes). */
int kp_call_idem_at(kp_call_t *call, const void *key, size_t key_len);

/* Appends a domain event (type, payload) to the log in the turn (this is a write: see
 * kp_call_wtxn); it is published after the turn commits. Returns 0 or a KP code (the caller
 * answers it with kp_call_fail_err). */
int kp_call_emit(kp_call_t *call, const char *type, const ProtobufCMessage *payload);

/* ---- for components that write outside calls (kp_consumer) ------------------------------- */

typedef struct {
    void (*turn_done)(void *arg, int rc); /* after each turn commit that had writes */
    void (*stop)(void *arg);              /* shutdown: close your watchers and sockets */
    void (*health)(void *arg, kp_arena_t *a, Kumppani__V1__HealthReply *reply);
    void (*clock_moved)(void *arg); /* the test clock was set: re-arm timers (kp_time.h) */
    void *arg;
} kp_server_part_t;

/* The figures of "sys.health" into r; consumer parts add their lag (kp_consumer). Strings
 * and arrays live in arena a. */
void kp_server_health(kp_server_t *self, kp_arena_t *a, Kumppani__V1__HealthReply *r);

/* Registers a part; the server keeps the struct's contents. At most 8. */
int kp_server_add_part(kp_server_t *self, const kp_server_part_t *part);

/* The turn's write transaction for work that is not a call (a consumer applying an event).
 * Returns 0 or a KP code. */
int kp_server_txn(kp_server_t *self, MDB_txn **txn);

/* Commits the turn's transaction now, before the turn ends, for a reply that leaves by
 * another way than the ROUTER (the web's HTTP answers) and must not leave before what it
 * acknowledges is on disk. The parts hear turn_done(rc); the replies and events queued so far
 * still go out when the turn ends (as CODE_UNAVAILABLE and not at all when the commit failed).
 * A no-op without an open transaction. Returns 0 or a KP code (logged). */
int kp_server_commit(kp_server_t *self);

/* Abandons the turn after a failed write outside a call: nothing of it is written, every
 * request of it is answered CODE_UNAVAILABLE, and the parts hear turn_done(err). */
void kp_server_abort_turn(kp_server_t *self, int err);

/* Appends an event to the log in the turn (see kp_call_emit). */
int kp_server_emit(kp_server_t *self, MDB_txn *txn, const char *type,
                   const ProtobufCMessage *payload);

#endif
