/*  kp_server: the turn loop (see kp_server.h for the contract).
 *
 *  Memory: two arenas. The request arena holds one request's decoded envelope and body and
 *  is reset before the next request; the turn arena holds what must outlive the request
 *  until the turn ends — encoded replies and events — and is reset after they are sent.
 *  Both are bounded: KP_WIRE_DECODE_CAP per request, and draining stops once the turn arena
 *  passes KP_TURN_BYTES (the batch is cut, not refused).
 *
 *  Aborting a turn (a write that failed half-way): the transaction is aborted, every reply
 *  queued so far is rewritten to CODE_UNAVAILABLE, the events are dropped, and kp_store gives
 *  the sequence numbers back. The next request begins a fresh turn transaction.
 *
 *  Invariant: between prepare callbacks, every reply and event queued belongs to the open
 *  turn transaction (or to no transaction, for requests answered before touching the store);
 *  nothing is sent before kp_store_turn_commit has returned. */
#include "kp_server.h"

#include "kp_err.h"
#include "kp_log.h"
#include "kp_metrics.h"
#include "kp_mhttp.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zwatch.h"

#include <assert.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define KP_TURN_BYTES (32u << 20)
#define KP_TURN_ARENA_CAP (256u << 20)
/* A log.replay page: at most 4,000 events and what fits under the peers' message bound with
 * room for the page's framing (a few bytes an event) and CURVE. Measured (README "Benchmark"):
 * the notifier's catch-up from zero at 1.3 M events ran 61,000-65,000 events/s with pages of
 * 1,000 (each page one synced turn of the consumer) and 118,000-119,000 with pages of 4,000. */
#define KP_REPLAY_MAX_N 4000
#define KP_REPLAY_MAX_BYTES ((size_t)KP_WIRE_HARD_MAX - (64u << 10))
#define KP_MAX_PARTS 8

typedef struct {
    zmq_msg_t id;
    bool delim;
    uint64_t request_id;
    uint8_t *bytes;
    size_t len;
} out_reply_t;

typedef struct {
    uint8_t *bytes;
    size_t len;
} out_event_t;

struct kp_call {
    kp_server_t *srv;
    const kp_method_t *m;
    const Kumppani__V1__Request *req;
    const void *body;
    MDB_txn *txn;
    unsigned role;
    const char *sources; /* the key's bound source names ("" or "a,b"); NULL without keys */
    bool answered, idem_hit, wrote;
    Kumppani__V1__Code code;
    char msg[256];
    uint8_t *reply;
    size_t reply_len;
    char *idem_key;
    size_t idem_len;
};

struct kp_server {
    uv_loop_t *loop;
    void *zctx;
    kp_store_t *store;
    void *router, *pub;
    kp_zwatch_t *rwatch;
    kp_zap_t *zap;
    uv_prepare_t prepare;
    uv_timer_t heartbeat, metrics;
    kp_mhttp_t *mhttp;
    uv_signal_t sigint, sigterm;
    kp_arena_t *turn_arena, *req_arena;
    out_reply_t *replies;
    size_t replies_n, replies_cap;
    size_t replies_committed, events_committed; /* of this turn, by kp_server_commit */
    out_event_t *events;
    size_t events_n, events_cap;
    unsigned turn_n;
    kp_server_opts_t opts;
    char *name;
    bool stopping, stopped;
    kp_server_part_t parts[KP_MAX_PARTS];
    unsigned parts_n;
    int64_t started_ms, last_commit_ms, turn_now_ms;
    uint64_t replies_dropped, events_dropped;
    uint64_t turns_aborted; /* health: since start, with the last one's reason and time */
    const char *last_abort;
    int64_t last_abort_ms;
    bool compact_soon; /* kp_server_compact_soon: compact at the end of this turn */
    uint64_t compactions;
    uint64_t commits, committed_requests;
};

/* ---- queues ------------------------------------------------------------------------------ */

static void *
s_turn_alloc(void *arg, size_t n)
{
    return kp_arena_alloc(arg, n);
}

static void
s_push_event(kp_server_t *self, uint8_t *bytes, size_t len)
{
    if (self->events_n == self->events_cap) {
        self->events_cap = self->events_cap ? self->events_cap * 2 : 1024;
        self->events = kp_xrealloc(self->events, self->events_cap * sizeof *self->events);
    }
    self->events[self->events_n++] = (out_event_t){bytes, len};
}

/* Queues a reply; takes the routing-id message. Falls back to an error reply packed with
 * malloc'd memory never: the turn arena is sized so that a batch always fits. */
static void
s_queue_reply(kp_server_t *self, zmq_msg_t *id, bool delim, uint64_t request_id,
              Kumppani__V1__Code code, const char *msg, const void *body, size_t body_len)
{
    if (self->replies_n == self->replies_cap) {
        self->replies_cap = self->replies_cap ? self->replies_cap * 2 : 1024;
        self->replies = kp_xrealloc(self->replies, self->replies_cap * sizeof *self->replies);
    }
    out_reply_t *r = &self->replies[self->replies_n++];
    zmq_msg_init(&r->id);
    zmq_msg_move(&r->id, id);
    r->delim = delim;
    r->request_id = request_id;
    int rc =
        kp_wire_reply(self->turn_arena, request_id, code, msg, body, body_len, &r->bytes, &r->len);
    assert(rc == 0 && "turn arena exhausted: KP_TURN_BYTES must stay below its cap");
    (void)rc;
}

/* ---- calls ------------------------------------------------------------------------------- */

const void *
kp_call_body(kp_call_t *call)
{
    return call->body;
}

int
kp_call_op(const kp_call_t *call)
{
    return call->m->op;
}

MDB_txn *
kp_call_txn(kp_call_t *call)
{
    return call->txn;
}

MDB_txn *
kp_call_wtxn(kp_call_t *call)
{
    call->wrote = true;
    return call->txn;
}

kp_store_t *
kp_call_store(kp_call_t *call)
{
    return call->srv->store;
}

kp_arena_t *
kp_call_arena(kp_call_t *call)
{
    return call->srv->req_arena;
}

unsigned
kp_call_role(const kp_call_t *call)
{
    return call->role;
}

bool
kp_call_source_allowed(const kp_call_t *call, const char *source)
{
    if (call->role != KP_ROLE_PUBLISHER)
        return true;
    return kp_sources_contain(call->sources, source);
}

const char *
kp_call_idem_key(const kp_call_t *call, size_t *len)
{
    const char *k = call->req->idempotency_key ? call->req->idempotency_key : "";
    *len = strlen(k);
    return k;
}

int64_t
kp_call_now_ms(const kp_call_t *call)
{
    return call->srv->turn_now_ms;
}

kp_server_t *
kp_call_server(kp_call_t *call)
{
    return call->srv;
}

void
kp_server_compact_soon(kp_server_t *self)
{
    self->compact_soon = true;
}

uint64_t
kp_server_compactions(const kp_server_t *self)
{
    return self->compactions;
}

int64_t
kp_server_turn_ms(kp_server_t *self)
{
    if (self->turn_now_ms == 0)
        self->turn_now_ms = kp_now_ms();
    return self->turn_now_ms;
}

/* The idempotency record's key: method NUL key, in arena a. NULL if out of memory. */
static char *
s_idem_key(kp_arena_t *a, const char *method, const void *key, size_t key_len, size_t *len)
{
    size_t mlen = strlen(method);
    char *k = kp_arena_alloc(a, mlen + 1 + key_len);
    if (!k)
        return NULL;
    memcpy(k, method, mlen);
    k[mlen] = 0;
    memcpy(k + mlen + 1, key, key_len);
    *len = mlen + 1 + key_len;
    return k;
}

/* The stored form of a first answer: KP_IDEM_TAG, a hash of the request body, the reply
 * body. No encoded protobuf message starts with 0xFF (its low three bits would be wire type
 * 7, which does not exist), so a value without the tag is a reply stored by an older
 * version, kept and answered as it is. */
#define KP_IDEM_TAG 0xFF
#define KP_IDEM_HASH 16
#define KP_IDEM_HEAD (1 + KP_IDEM_HASH)

static void
s_body_hash(const kp_call_t *call, uint8_t out[KP_IDEM_HASH])
{
    crypto_generichash(out, KP_IDEM_HASH, call->req->body.data, call->req->body.len, NULL, 0);
}

/* Splits a stored value into its hash (NULL for an older value) and the reply. */
static void
s_idem_split(MDB_val *v, const uint8_t **hash)
{
    *hash = NULL;
    if (v->mv_size >= KP_IDEM_HEAD && ((const uint8_t *)v->mv_data)[0] == KP_IDEM_TAG) {
        *hash = (const uint8_t *)v->mv_data + 1;
        v->mv_data = (uint8_t *)v->mv_data + KP_IDEM_HEAD;
        v->mv_size -= KP_IDEM_HEAD;
    }
}

int
kp_server_idem_get(kp_server_t *self, MDB_txn *txn, const char *method, const void *key,
                   size_t key_len, bool *found, MDB_val *val)
{
    size_t len;
    char *k = s_idem_key(self->req_arena, method, key, key_len, &len);
    if (!k)
        return KP_ENOMEM;
    int rc = kp_store_idem_get(self->store, txn, k, len, found, val);
    if (rc == 0 && *found) {
        const uint8_t *hash;
        s_idem_split(val, &hash);
    }
    return rc;
}

int
kp_server_idem_replace(kp_server_t *self, MDB_txn *txn, const char *method, const void *key,
                       size_t key_len, const void *reply, size_t reply_len, bool *found)
{
    size_t len;
    MDB_val v;
    char *k = s_idem_key(self->req_arena, method, key, key_len, &len);
    if (!k)
        return KP_ENOMEM;
    int rc = kp_store_idem_get(self->store, txn, k, len, found, &v);
    if (rc || !*found)
        return rc;
    const uint8_t *hash;
    s_idem_split(&v, &hash);
    uint8_t *val = kp_arena_alloc(self->req_arena, KP_IDEM_HEAD + reply_len);
    if (!val)
        return KP_ENOMEM;
    size_t head = 0;
    if (hash) { /* keep the tag and the first request's hash (copied before the write) */
        val[0] = KP_IDEM_TAG;
        memcpy(val + 1, hash, KP_IDEM_HASH);
        head = KP_IDEM_HEAD;
    }
    if (reply_len)
        memcpy(val + head, reply, reply_len);
    return kp_store_idem_put(self->store, txn, k, len, val, head + reply_len);
}

void
kp_call_fail(kp_call_t *call, Kumppani__V1__Code code, const char *fmt, ...)
{
    assert(!call->answered && "a call is answered once");
    assert(code != KUMPPANI__V1__CODE__CODE_OK);
    call->answered = true;
    call->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof call->msg, fmt, ap);
    va_end(ap);
}

void
kp_call_fail_err(kp_call_t *call, int err)
{
    kp_log_err("call.error", "method=%s err=%d what=\"%s\"", call->m->name, err, kp_strerror(err));
    if (err == KP_EFULL || err == KP_ESTORE || err == KP_ENOMEM)
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_UNAVAILABLE,
                     "store unavailable (%s); nothing was written; retry later", kp_strerror(err));
    else
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INTERNAL, "internal error (%s)",
                     kp_strerror(err));
}

void
kp_call_ok(kp_call_t *call, const ProtobufCMessage *reply)
{
    assert(!call->answered && "a call is answered once");
    if (reply && kp_wire_pack(call->srv->turn_arena, reply, &call->reply, &call->reply_len)) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    call->answered = true;
    call->code = KUMPPANI__V1__CODE__CODE_OK;
}

typedef struct {
    const ProtobufCMessageDescriptor *d;
    const ProtobufCMessage *(*fix)(void *arg, const ProtobufCMessage *reply);
    void *arg;
    uint8_t *buf; /* the value to store instead (malloc'd, reused) */
    size_t cap;
} s_idem_fix_t;

/* Each stored reply is decoded on the heap and freed before the next: the rewrite walks every
 * reply of the method in the store, whose number grows with the store, not with the request
 * (decoded into the request arena, the replies past its 2 MiB were passed over as if they
 * were of another type, and a person's data stayed in them). */
static int
s_idem_fix(void *arg, const MDB_val *key, const MDB_val *val, void **out, size_t *out_len)
{
    (void)key;
    s_idem_fix_t *f = arg;
    MDB_val v = *val;
    const uint8_t *hash;
    s_idem_split(&v, &hash);
    ProtobufCMessage *m = protobuf_c_message_unpack(f->d, NULL, v.mv_size, v.mv_data);
    if (!m)
        return 0; /* not a reply of this type: left as it is */
    const ProtobufCMessage *n = f->fix(f->arg, m);
    if (n) {
        size_t len = protobuf_c_message_get_packed_size(n);
        if (KP_IDEM_HEAD + len > f->cap) {
            f->cap = KP_IDEM_HEAD + len;
            f->buf = kp_xrealloc(f->buf, f->cap);
        }
        /* The hash stays: the same request sent again still gets the (now erased) first
         * answer, and another request under the key still gets CONFLICT. An older value had
         * none. */
        f->buf[0] = KP_IDEM_TAG;
        if (hash)
            memcpy(f->buf + 1, hash, KP_IDEM_HASH);
        else
            memset(f->buf + 1, 0, KP_IDEM_HASH);
        protobuf_c_message_pack(n, f->buf + KP_IDEM_HEAD);
        *out = f->buf;
        *out_len = KP_IDEM_HEAD + len;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int
kp_server_idem_rewrite(kp_server_t *self, MDB_txn *txn, const char *method,
                       const ProtobufCMessageDescriptor *d,
                       const ProtobufCMessage *(*fix)(void *arg, const ProtobufCMessage *reply),
                       void *arg, unsigned *rewritten)
{
    s_idem_fix_t f = {d, fix, arg, NULL, 0};
    int rc = kp_store_idem_rewrite(self->store, txn, method, strlen(method) + 1, s_idem_fix, &f,
                                   rewritten);
    free(f.buf);
    return rc;
}

bool
kp_call_idem(kp_call_t *call, const void *key, size_t key_len)
{
    return kp_call_idem_as(call, key, key_len, NULL);
}

bool
kp_call_idem_as(kp_call_t *call, const void *key, size_t key_len, const char *conflict)
{
    size_t klen = 0;
    char *k = s_idem_key(call->srv->req_arena, call->m->name, key, key_len, &klen);
    if (!k) {
        kp_call_fail_err(call, KP_ENOMEM);
        return true;
    }
    bool found = false;
    MDB_val v;
    int rc = key_len > 400 ? KP_EINVAL
                           : kp_store_idem_get(call->srv->store, call->txn, k, klen, &found, &v);
    if (rc == KP_EINVAL) {
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INVALID,
                     "field 'idempotency_key': at most 400 bytes");
        return true;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return true;
    }
    if (found) {
        /* The same key with another request is not a retry: answering the first reply as OK
         * would tell the sender its different request was stored. */
        const uint8_t *stored;
        s_idem_split(&v, &stored);
        uint8_t hash[KP_IDEM_HASH];
        s_body_hash(call, hash);
        if (stored && memcmp(stored, hash, KP_IDEM_HASH) != 0) {
            kp_call_fail(call, KUMPPANI__V1__CODE__CODE_CONFLICT, "%s",
                         conflict ? conflict : "idempotency key reused with different content");
            return true;
        }
        uint8_t *copy = kp_arena_memdup(call->srv->turn_arena, v.mv_data, v.mv_size);
        if (!copy) {
            kp_call_fail_err(call, KP_ENOMEM);
            return true;
        }
        call->idem_hit = true;
        call->answered = true;
        call->code = KUMPPANI__V1__CODE__CODE_OK;
        call->reply = copy;
        call->reply_len = v.mv_size;
        return true;
    }
    call->idem_key = k;
    call->idem_len = klen;
    return false;
}

int
kp_call_idem_at(kp_call_t *call, const void *key, size_t key_len)
{
    size_t klen = 0;
    if (key_len == 0 || key_len > 400)
        return KP_EINVAL;
    char *k = s_idem_key(call->srv->req_arena, call->m->name, key, key_len, &klen);
    if (!k)
        return KP_ENOMEM;
    call->idem_key = k;
    call->idem_len = klen;
    return 0;
}

int
kp_server_emit(kp_server_t *self, MDB_txn *txn, const char *type, const ProtobufCMessage *payload)
{
    uint8_t *p = NULL, *ev;
    size_t plen = 0, evlen;
    uint64_t seq;
    if (payload && kp_wire_pack(self->req_arena, payload, &p, &plen))
        return KP_ENOMEM;
    int rc = kp_store_log_append(self->store, txn, type, p, plen, self->turn_now_ms, s_turn_alloc,
                                 self->turn_arena, &ev, &evlen, &seq);
    if (rc)
        return rc;
    s_push_event(self, ev, evlen);
    return 0;
}

int
kp_call_emit(kp_call_t *call, const char *type, const ProtobufCMessage *payload)
{
    return kp_server_emit(call->srv, kp_call_wtxn(call), type, payload);
}

int
kp_server_txn(kp_server_t *self, MDB_txn **txn)
{
    kp_server_turn_ms(self);
    return kp_store_turn_txn(self->store, txn);
}

/* A turn that wrote nothing (aborted, or its commit failed): counted for sys.health. */
static void
s_turn_lost(kp_server_t *self, int err)
{
    self->turns_aborted++;
    self->last_abort = kp_strerror(err);
    self->last_abort_ms = kp_now_ms();
}

void
kp_server_abort_turn(kp_server_t *self, int err)
{
    kp_log_err("turn.abort", "err=%d what=\"%s\" replies=%zu", err, kp_strerror(err),
               self->replies_n);
    s_turn_lost(self, err);
    kp_store_turn_abort(self->store);
    /* What kp_server_commit already committed in this turn stands. */
    for (size_t i = self->replies_committed; i < self->replies_n; i++) {
        out_reply_t *r = &self->replies[i];
        kp_wire_reply(self->turn_arena, r->request_id, KUMPPANI__V1__CODE__CODE_UNAVAILABLE,
                      "store could not write; nothing was written; retry later", NULL, 0, &r->bytes,
                      &r->len);
    }
    self->events_n = self->events_committed;
    for (unsigned i = 0; i < self->parts_n; i++)
        if (self->parts[i].turn_done)
            self->parts[i].turn_done(self->parts[i].arg, err);
}

/* ---- built-in methods -------------------------------------------------------------------- */

typedef struct {
    ProtobufCBinaryData *v;
    size_t n;
} replay_acc_t;

static int
s_replay_one(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    (void)seq;
    replay_acc_t *acc = arg;
    acc->v[acc->n++] = (ProtobufCBinaryData){len, (uint8_t *)bytes};
    return 0;
}

static void
s_replay(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__ReplayRequest *rq = kp_call_body(call);
    unsigned limit = rq->limit == 0 || rq->limit > KP_REPLAY_MAX_N ? KP_REPLAY_MAX_N : rq->limit;
    replay_acc_t acc = {kp_arena_alloc(call->srv->req_arena, limit * sizeof *acc.v), 0};
    if (!acc.v) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    /* The bytes stay valid: nothing writes in this transaction until the reply is packed. */
    int rc = kp_store_log_read(call->srv->store, call->txn, rq->from_seq, limit,
                               KP_REPLAY_MAX_BYTES, s_replay_one, &acc);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__ReplayPageWire page = KUMPPANI__V1__REPLAY_PAGE_WIRE__INIT;
    page.events = acc.v;
    page.n_events = acc.n;
    page.head_seq = kp_store_turn_head(call->srv->store);
    kp_call_ok(call, &page.base);
}

void
kp_server_health(kp_server_t *self, kp_arena_t *a, Kumppani__V1__HealthReply *r)
{
    r->service = self->name;
    r->head_seq = kp_store_head(self->store);
    r->last_commit_ms = self->last_commit_ms;
    r->started_ms = self->started_ms;
    r->commits = self->commits;
    r->committed_requests = self->committed_requests;
    kp_store_usage(self->store, &r->store_used_bytes, &r->store_map_bytes);
    r->schema_version = self->opts.schema_version;
    r->zap_denied = self->zap ? kp_zap_denied(self->zap) : 0;
    r->now_ms = kp_now_ms();
    r->replies_dropped = self->replies_dropped;
    r->events_dropped = self->events_dropped;
    r->turns_aborted = self->turns_aborted;
    r->last_abort = (char *)(self->last_abort ? self->last_abort : "");
    r->last_abort_ms = self->last_abort_ms;
    for (unsigned i = 0; i < self->parts_n; i++)
        if (self->parts[i].health)
            self->parts[i].health(self->parts[i].arg, a, r);
}

static void
s_health(kp_call_t *call, void *svc)
{
    (void)svc;
    Kumppani__V1__HealthReply r = KUMPPANI__V1__HEALTH_REPLY__INIT;
    kp_server_health(call->srv, call->srv->req_arena, &r);
    kp_call_ok(call, &r.base);
}

/* The health figures as Prometheus text into buf; the length or -1. */
static int
s_metrics_text(void *arg, char *buf, size_t len)
{
    kp_server_t *self = arg;
    kp_arena_t *a = kp_arena_new(256u << 10);
    Kumppani__V1__HealthReply r = KUMPPANI__V1__HEALTH_REPLY__INIT;
    kp_server_health(self, a, &r);
    int n = kp_metrics_format(&r, 1, buf, len);
    kp_arena_destroy(&a);
    return n;
}

/* Rewrites the metrics file (node_exporter's textfile collector reads it). */
static void
s_on_metrics(uv_timer_t *h)
{
    kp_server_t *self = h->data;
    char buf[16384];
    int n = s_metrics_text(self, buf, sizeof buf);
    int rc = n < 0 ? KP_ETOOBIG : kp_metrics_write(self->opts.metrics_file, buf, (size_t)n);
    if (rc)
        kp_log_warn("metrics.write", "err=%d what=\"%s\"", rc, kp_strerror(rc));
}

/* "sys.clock.set" (test clock only, see kp_time.h): sets the offset, then tells every part
 * that waits for a moment of the clock to look again. */
static void
s_clock_set(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__ClockRequest *in = kp_call_body(call);
    if (kp_clock_set_offset(in->offset_ms) != 0) {
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_FORBIDDEN,
                     "method 'sys.clock.set': the test clock is off");
        return;
    }
    kp_server_t *self = call->srv;
    /* The rest of this turn (and a timer that clock_moved fires before it ends) runs at the
     * new time, not at the time the turn began with. */
    self->turn_now_ms = kp_now_ms();
    kp_log_warn("clock.set", "offset_ms=%lld", (long long)in->offset_ms);
    for (unsigned i = 0; i < self->parts_n; i++)
        if (self->parts[i].clock_moved)
            self->parts[i].clock_moved(self->parts[i].arg);
    Kumppani__V1__ClockReply r = KUMPPANI__V1__CLOCK_REPLY__INIT;
    r.now_ms = kp_now_ms();
    kp_call_ok(call, &r.base);
}

static const kp_method_t s_clock_method =
    KP_METHOD("sys.clock.set", KP_ROLE_ADMIN, clock_request, s_clock_set);

static const kp_method_t s_builtin[] = {
    KP_METHOD("log.replay", KP_ROLES_READ, replay_request, s_replay),
    KP_METHOD("sys.health", KP_ROLE_ALL, health_request, s_health),
};

static const kp_method_t *
s_find(const kp_server_t *self, const char *name)
{
    for (size_t i = 0; i < sizeof s_builtin / sizeof s_builtin[0]; i++)
        if (strcmp(s_builtin[i].name, name) == 0)
            return &s_builtin[i];
    if (kp_clock_enabled() && strcmp(s_clock_method.name, name) == 0)
        return &s_clock_method;
    for (unsigned i = 0; i < self->opts.methods_n; i++)
        if (strcmp(self->opts.methods[i].name, name) == 0)
            return &self->opts.methods[i];
    return NULL;
}

/* ---- one request ------------------------------------------------------------------------- */

static void
s_dispatch(kp_server_t *self, zmq_msg_t *id, bool delim, zmq_msg_t *payload)
{
    char why[KP_WIRE_WHY];
    int err;
    kp_arena_reset(self->req_arena);
    if (zmq_msg_size(payload) > KP_WIRE_MAX_FRAME) {
        snprintf(why, sizeof why, "request larger than %d bytes", KP_WIRE_MAX_FRAME);
        s_queue_reply(self, id, delim, 0, KUMPPANI__V1__CODE__CODE_TOO_LARGE, why, NULL, 0);
        return;
    }
    Kumppani__V1__Request *req = (Kumppani__V1__Request *)kp_wire_unpack(
        &kumppani__v1__request__descriptor, self->req_arena, zmq_msg_data(payload),
        zmq_msg_size(payload), &err, why, sizeof why);
    if (!req) {
        char msg[KP_WIRE_WHY + 16];
        snprintf(msg, sizeof msg, "envelope: %s", why);
        s_queue_reply(self, id, delim, 0, KUMPPANI__V1__CODE__CODE_BAD_REQUEST, msg, NULL, 0);
        return;
    }
    kp_call_t call = {.srv = self, .req = req};
    if (self->opts.keys) {
        /* "<role>" or "<role> <sources>" (kp_zsock): the role word, then the bound names. */
        const char *uid = zmq_msg_gets(payload, "User-Id");
        char role[32] = "";
        if (uid) {
            const char *sp = strchr(uid, ' ');
            size_t n = sp ? (size_t)(sp - uid) : strlen(uid);
            snprintf(role, sizeof role, "%.*s", (int)(n < sizeof role ? n : 0), uid);
            call.sources = sp ? sp + 1 : "";
        }
        call.role = kp_role_parse(role);
    } else {
        call.role = KP_ROLE_ADMIN;
    }
    call.m = s_find(self, req->method);
    if (!call.m) {
        s_queue_reply(self, id, delim, req->request_id, KUMPPANI__V1__CODE__CODE_UNKNOWN_METHOD,
                      "unknown method", NULL, 0);
        return;
    }
    if (!(call.m->roles & call.role)) {
        snprintf(why, sizeof why, "role '%s' may not call %s", kp_role_name(call.role),
                 call.m->name);
        s_queue_reply(self, id, delim, req->request_id, KUMPPANI__V1__CODE__CODE_FORBIDDEN, why,
                      NULL, 0);
        kp_log_notice("call.forbidden", "method=%s role=%s", call.m->name, kp_role_name(call.role));
        return;
    }
    call.body = kp_wire_unpack(call.m->in, self->req_arena, req->body.data, req->body.len, &err,
                               why, sizeof why);
    if (!call.body) {
        char msg[KP_WIRE_WHY + 16];
        snprintf(msg, sizeof msg, "%s", why);
        s_queue_reply(self, id, delim, req->request_id,
                      err == KP_EINVAL ? KUMPPANI__V1__CODE__CODE_INVALID
                                       : KUMPPANI__V1__CODE__CODE_BAD_REQUEST,
                      msg, NULL, 0);
        return;
    }
    int rc = kp_server_txn(self, &call.txn);
    if (rc) {
        s_queue_reply(self, id, delim, req->request_id, KUMPPANI__V1__CODE__CODE_UNAVAILABLE,
                      "store unavailable; retry later", NULL, 0);
        return;
    }
    call.m->fn(&call, self->opts.svc);
    if (!call.answered) {
        kp_log_err("call.unanswered", "method=%s", call.m->name);
        kp_call_fail(&call, KUMPPANI__V1__CODE__CODE_INTERNAL, "internal error");
    }
    rc = 0;
    if (call.code == KUMPPANI__V1__CODE__CODE_OK && call.idem_key && !call.idem_hit) {
        uint8_t *val = kp_arena_alloc(self->req_arena, KP_IDEM_HEAD + call.reply_len);
        if (!val) {
            rc = KP_ENOMEM;
        } else {
            val[0] = KP_IDEM_TAG;
            s_body_hash(&call, val + 1);
            if (call.reply_len)
                memcpy(val + KP_IDEM_HEAD, call.reply, call.reply_len);
            rc = kp_store_idem_put(self->store, call.txn, call.idem_key, call.idem_len, val,
                                   KP_IDEM_HEAD + call.reply_len);
        }
    }
    if (rc || (call.code != KUMPPANI__V1__CODE__CODE_OK && call.wrote)) {
        /* A write failed half-way: nothing of this turn may commit. */
        kp_server_abort_turn(self, rc ? rc : KP_ESTORE);
        s_queue_reply(self, id, delim, req->request_id, KUMPPANI__V1__CODE__CODE_UNAVAILABLE,
                      "store could not write; nothing was written; retry later", NULL, 0);
        return;
    }
    s_queue_reply(self, id, delim, req->request_id, call.code, call.msg, call.reply,
                  call.reply_len);
}

/* Drains the ROUTER up to the batch limit. A well-formed request is [id][payload] (DEALER)
 * or [id][empty][payload] (REQ); anything else is dropped unanswered. */
static void
s_router_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    kp_server_t *self = arg;
    while (!self->stopping && self->turn_n < self->opts.batch_max &&
           kp_arena_used(self->turn_arena) < KP_TURN_BYTES) {
        zmq_msg_t f[3];
        int n = 0;
        bool more = true, bad = false;
        while (more) {
            zmq_msg_t m;
            if (!kp_zsock_try_recv(sock, &m)) {
                if (n == 0)
                    return; /* EAGAIN: drained */
                bad = true; /* cannot happen: multipart messages arrive whole */
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 3)
                f[n++] = m;
            else {
                zmq_msg_close(&m);
                bad = true;
            }
        }
        if (n == 3 && zmq_msg_size(&f[1]) != 0)
            bad = true;
        if (n < 2)
            bad = true;
        if (bad) {
            kp_log_warn("request.frames", "frames=%d", n);
        } else {
            if (self->turn_now_ms == 0)
                self->turn_now_ms = kp_now_ms();
            s_dispatch(self, &f[0], n == 3, &f[n - 1]);
            self->turn_n++;
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
}

/* ---- the end of the turn ----------------------------------------------------------------- */

int
kp_server_commit(kp_server_t *self)
{
    if (!kp_store_turn_open(self->store))
        return 0;
    int rc = kp_store_turn_commit(self->store, &self->last_commit_ms);
    if (rc) {
        kp_log_err("turn.commit", "err=%d what=\"%s\" replies=%zu", rc, kp_strerror(rc),
                   self->replies_n);
        s_turn_lost(self, rc);
        for (size_t i = self->replies_committed; i < self->replies_n; i++) {
            out_reply_t *r = &self->replies[i];
            kp_wire_reply(self->turn_arena, r->request_id, KUMPPANI__V1__CODE__CODE_UNAVAILABLE,
                          "store could not commit; nothing was written; retry later", NULL, 0,
                          &r->bytes, &r->len);
        }
        self->events_n = self->events_committed;
    } else {
        self->commits++;
        self->committed_requests += self->replies_n - self->replies_committed;
        self->events_committed = self->events_n;
    }
    self->replies_committed = self->replies_n;
    for (unsigned i = 0; i < self->parts_n; i++)
        if (self->parts[i].turn_done)
            self->parts[i].turn_done(self->parts[i].arg, rc);
    return rc;
}

static void
s_end_turn(kp_server_t *self)
{
    bool had_txn = kp_store_turn_open(self->store);
    if (!had_txn && self->replies_n == 0 && self->events_n == 0) {
        self->turn_now_ms = 0; /* the next turn reads the clock afresh */
        return;
    }
    int rc = kp_server_commit(self);
    size_t dropped = 0, ev_dropped = 0;
    for (size_t i = 0; i < self->replies_n; i++) {
        out_reply_t *r = &self->replies[i];
        if (zmq_msg_send(&r->id, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            (r->delim && zmq_send(self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) ||
            zmq_send(self->router, r->bytes, r->len, ZMQ_DONTWAIT) < 0)
            dropped++;
        zmq_msg_close(&r->id);
    }
    if (dropped)
        kp_log_warn("reply.dropped", "n=%zu errno=%d", dropped, zmq_errno());
    self->replies_dropped += dropped;
    for (size_t i = 0; i < self->events_n; i++) {
        out_event_t *e = &self->events[i];
        if (zmq_send(self->pub, "E", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(self->pub, e->bytes, e->len, ZMQ_DONTWAIT) < 0)
            ev_dropped++; /* PUB drops only for a slow subscriber, which replays the gap */
    }
    /* Counted in sys.health and the metrics (kumppani_events_dropped_total); logged at debug
     * only, because a slow subscriber would otherwise fill the log turn after turn. */
    self->events_dropped += ev_dropped;
    kp_log_debug("turn.end", "replies=%zu events=%zu events_dropped=%zu rc=%d", self->replies_n,
                 self->events_n, ev_dropped, rc);
    self->replies_n = self->replies_committed = 0;
    self->events_n = self->events_committed = 0;
    self->turn_n = 0;
    self->turn_now_ms = 0;
    kp_arena_reset(self->turn_arena);
    /* Compaction waits for a turn boundary: everything is committed and answered, no
     * transaction is open, and the next turn has not begun. */
    if (self->compact_soon && rc == 0) {
        self->compact_soon = false;
        uint64_t before = 0, after = 0;
        int64_t t0 = kp_mono_us();
        int crc = kp_store_compact(self->store, &before, &after);
        kp_log_notice("store.compact", "rc=%d before_bytes=%llu after_bytes=%llu ms=%lld", crc,
                      (unsigned long long)before, (unsigned long long)after,
                      (long long)((kp_mono_us() - t0) / 1000));
        self->compactions++;
    }
    /* Sending may have consumed the edge of any socket's fd: look again at all of them. */
    kp_zwatch_recheck_all();
}

static void
s_on_prepare(uv_prepare_t *h)
{
    s_end_turn(h->data);
}

static void
s_on_heartbeat(uv_timer_t *h)
{
    kp_server_t *self = h->data;
    Kumppani__V1__Heartbeat hb = KUMPPANI__V1__HEARTBEAT__INIT;
    hb.source = self->name;
    hb.head_seq = kp_store_head(self->store);
    hb.time_ms = kp_now_ms();
    uint8_t buf[256];
    assert(kumppani__v1__heartbeat__get_packed_size(&hb) <= sizeof buf);
    size_t n = kumppani__v1__heartbeat__pack(&hb, buf);
    zmq_send(self->pub, "H", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, buf, n, ZMQ_DONTWAIT);
    kp_zwatch_recheck_all();
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void
s_on_close_handle(uv_handle_t *h)
{
    (void)h;
}

static void
s_shutdown(kp_server_t *self)
{
    if (self->stopped)
        return;
    self->stopping = true;
    s_end_turn(self); /* commit and answer what was accepted */
    self->stopped = true;
    kp_log_notice("server.stop", "head=%llu", (unsigned long long)kp_store_head(self->store));
    for (unsigned i = 0; i < self->parts_n; i++)
        if (self->parts[i].stop)
            self->parts[i].stop(self->parts[i].arg);
    kp_zwatch_close(&self->rwatch);
    kp_zap_close(&self->zap);
    uv_close((uv_handle_t *)&self->prepare, s_on_close_handle);
    uv_close((uv_handle_t *)&self->heartbeat, s_on_close_handle);
    uv_close((uv_handle_t *)&self->metrics, s_on_close_handle);
    kp_mhttp_stop(&self->mhttp);
    uv_close((uv_handle_t *)&self->sigint, s_on_close_handle);
    uv_close((uv_handle_t *)&self->sigterm, s_on_close_handle);
    zmq_close(self->router);
    self->router = NULL;
    if (self->pub)
        zmq_close(self->pub);
    self->pub = NULL;
}

static void
s_on_signal(uv_signal_t *h, int signum)
{
    kp_log_notice("server.signal", "signal=%d", signum);
    s_shutdown(h->data);
}

void
kp_server_stop(kp_server_t *self)
{
    s_shutdown(self);
}

static int
s_bind(kp_server_t *self, void **sock, int type, const char *endpoint)
{
    *sock = zmq_socket(self->zctx, type);
    if (!*sock)
        return KP_EZMQ;
    int rc = kp_zsock_server(*sock, self->opts.keys);
    if (rc)
        return rc;
    if (zmq_bind(*sock, endpoint) != 0) {
        kp_log_err("server.bind", "endpoint=%s errno=%d what=\"%s\"", endpoint, zmq_errno(),
                   zmq_strerror(zmq_errno()));
        return KP_EZMQ;
    }
    return 0;
}

int
kp_server_new(kp_server_t **out, uv_loop_t *loop, const kp_server_opts_t *opts)
{
    if ((opts->keys && !opts->allow) || strlen(opts->service) > 64)
        return KP_ECONFIG;
    kp_server_t *self = kp_xcalloc(1, sizeof *self);
    self->loop = loop;
    self->opts = *opts;
    if (!self->opts.heartbeat_ms)
        self->opts.heartbeat_ms = 1000;
    if (!self->opts.batch_max)
        self->opts.batch_max = 2048;
    self->name = kp_xstrdup(opts->service);
    self->started_ms = kp_now_ms();
    self->turn_arena = kp_arena_new(KP_TURN_ARENA_CAP);
    self->req_arena = kp_arena_new(KP_WIRE_DECODE_CAP);
    signal(SIGPIPE, SIG_IGN);

    kp_store_opts_t so = {.dir = opts->data_dir,
                          .source = opts->service,
                          .map_size = opts->map_size,
                          .dbs = opts->dbs,
                          .dbs_n = opts->dbs_n,
                          .schema_version = opts->schema_version,
                          .migrate = opts->migrate,
                          .migrate_arg = opts->migrate_arg};
    int rc = kp_store_open(&self->store, &so);
    if (rc) {
        kp_log_err("store.open", "err=%d what=\"%s\"", rc, kp_strerror(rc));
        goto fail;
    }
    self->zctx = zmq_ctx_new();
    if (opts->keys) {
        rc = kp_zap_start(&self->zap, loop, self->zctx, opts->allow);
        if (rc)
            goto fail;
    }
    if ((rc = s_bind(self, &self->router, ZMQ_ROUTER, opts->api_endpoint)) != 0)
        goto fail;
    if (opts->pub_endpoint && (rc = s_bind(self, &self->pub, ZMQ_PUB, opts->pub_endpoint)) != 0)
        goto fail;
    if ((rc = kp_zwatch_start(&self->rwatch, loop, self->router, s_router_ready, self)) != 0)
        goto fail;
    if (opts->metrics_http && *opts->metrics_http &&
        (rc = kp_mhttp_start(&self->mhttp, loop, opts->metrics_http, s_metrics_text, self)) != 0)
        goto fail;
    uv_prepare_init(loop, &self->prepare);
    self->prepare.data = self;
    uv_prepare_start(&self->prepare, s_on_prepare);
    uv_timer_init(loop, &self->heartbeat);
    self->heartbeat.data = self;
    if (self->pub)
        uv_timer_start(&self->heartbeat, s_on_heartbeat, self->opts.heartbeat_ms,
                       self->opts.heartbeat_ms);
    uv_timer_init(loop, &self->metrics);
    self->metrics.data = self;
    if (opts->metrics_file && *opts->metrics_file)
        uv_timer_start(&self->metrics, s_on_metrics, 0, 5000);
    uv_signal_init(loop, &self->sigint);
    uv_signal_init(loop, &self->sigterm);
    self->sigint.data = self->sigterm.data = self;
    uv_signal_start(&self->sigint, s_on_signal, SIGINT);
    uv_signal_start(&self->sigterm, s_on_signal, SIGTERM);
    kp_log_notice("server.start", "api=%s pub=%s curve=%s head=%llu", opts->api_endpoint,
                  opts->pub_endpoint ? opts->pub_endpoint : "-", opts->keys ? "on" : "off",
                  (unsigned long long)kp_store_head(self->store));
    if (!opts->keys)
        kp_log_warn("server.plain", "reason=\"no keys configured: every peer is admin\"");
    *out = self;
    return 0;
fail:
    kp_zwatch_close(&self->rwatch);
    kp_zap_close(&self->zap);
    if (self->router)
        zmq_close(self->router);
    if (self->pub)
        zmq_close(self->pub);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    kp_store_close(&self->store);
    kp_arena_destroy(&self->turn_arena);
    kp_arena_destroy(&self->req_arena);
    free(self->name);
    free(self);
    /* Let libuv finish closing whatever was started. */
    uv_run(loop, UV_RUN_NOWAIT);
    return rc ? rc : KP_EZMQ;
}

int
kp_server_run(kp_server_t *self)
{
    uv_run(self->loop, UV_RUN_DEFAULT);
    s_shutdown(self);
    uv_run(self->loop, UV_RUN_DEFAULT); /* finish the close callbacks */
    return 0;
}

void
kp_server_destroy(kp_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kp_server_t *self = *self_p;
    s_shutdown(self);
    uv_run(self->loop, UV_RUN_DEFAULT);
    zmq_ctx_term(self->zctx);
    kp_store_close(&self->store);
    kp_arena_destroy(&self->turn_arena);
    kp_arena_destroy(&self->req_arena);
    free(self->replies);
    free(self->events);
    free(self->name);
    free(self);
    *self_p = NULL;
}

kp_store_t *
kp_server_store(kp_server_t *self)
{
    return self->store;
}

uv_loop_t *
kp_server_loop(kp_server_t *self)
{
    return self->loop;
}

void *
kp_server_zctx(kp_server_t *self)
{
    return self->zctx;
}

const char *
kp_server_name(const kp_server_t *self)
{
    return self->name;
}

int
kp_server_add_part(kp_server_t *self, const kp_server_part_t *part)
{
    if (self->parts_n == KP_MAX_PARTS)
        return KP_EINVAL;
    self->parts[self->parts_n++] = *part;
    return 0;
}
