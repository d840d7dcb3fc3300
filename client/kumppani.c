/*  kumppani.c: the client library (see kumppani.h for the contract).
 *
 *  Design. One DEALER socket per client, opened lazily and thrown away whenever an attempt
 *  times out (Lazy Pirate): a fresh socket cannot deliver an answer to an older request, and
 *  nothing we sent earlier stays queued to be delivered twice. Request ids start at a random
 *  value and count up, so a reply is matched by id even if a service answers late on a socket
 *  that lived through several calls.
 *
 *  With CURVE, a monitor socket watches the DEALER for a failed handshake: a service that
 *  refuses our key never answers, and without the monitor that would look like a service that
 *  is down. The monitor turns it into KP_EKEY at once.
 *
 *  Invariants:
 *    - self->sock is NULL or a connected DEALER; self->mon is non-NULL only with self->sock.
 *    - A call waits at most timeout_ms per attempt, measured on the monotonic clock from the
 *      send, so stale replies do not stretch an attempt.
 *    - Replies are checked (kp_wire_check) before they are decoded, and decoding is bounded by
 *      the frame limit (ZMQ_MAXMSGSIZE) that kp_zsock_defaults sets. */
#include "kumppani.h"

#include "kp_arena.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct kpc {
    void *ctx;
    void *sock; /* the DEALER, or NULL between attempts */
    void *mon;  /* PAIR receiving the DEALER's handshake failures, or NULL */
    char *endpoint;
    bool curve;
    kp_keypair_t keys;
    char server_pub[KP_Z85_KEY_LEN + 1];
    int timeout_ms;
    int attempts;
    uint64_t next_id;
    unsigned sockets_n; /* sockets opened so far: makes monitor endpoints unique */
};

static void
s_close(kpc_t *self)
{
    if (self->mon) {
        zmq_close(self->mon);
        self->mon = NULL;
    }
    if (self->sock) {
        /* Stops the monitor before the socket goes, so libzmq drops its inproc pipe. */
        zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
        self->sock = NULL;
    }
}

/* Opens and connects a fresh DEALER (and its monitor with CURVE). Returns 0, KP_ECONFIG for
 * a malformed endpoint, or KP_EZMQ. */
static int
s_open(kpc_t *self)
{
    int rc = KP_EZMQ;
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    rc = kp_zsock_client(self->sock, self->curve ? &self->keys : NULL, self->server_pub);
    if (rc)
        goto fail;
    /* A send must not block past the attempt's time when the pipe is full. */
    if (zmq_setsockopt(self->sock, ZMQ_SNDTIMEO, &self->timeout_ms, sizeof self->timeout_ms)) {
        rc = KP_EZMQ;
        goto fail;
    }
    if (self->curve) {
        char addr[64];
        snprintf(addr, sizeof addr, "inproc://kpc-mon-%p-%u", (void *)self, self->sockets_n++);
        rc = KP_EZMQ;
        if (zmq_socket_monitor(self->sock, addr, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
            goto fail;
        self->mon = zmq_socket(self->ctx, ZMQ_PAIR);
        if (!self->mon || zmq_connect(self->mon, addr) != 0)
            goto fail;
    }
    if (zmq_connect(self->sock, self->endpoint) != 0) {
        rc = (errno == EINVAL || errno == EPROTONOSUPPORT || errno == ENOCOMPATPROTO) ? KP_ECONFIG
                                                                                      : KP_EZMQ;
        goto fail;
    }
    return 0;
fail:
    s_close(self);
    return rc;
}

int
kpc_new(kpc_t **out, const kpc_opts_t *opts)
{
    if (!out || !opts || !opts->endpoint || opts->timeout_ms < 0 || opts->attempts < 0)
        return KP_EINVAL;
    *out = NULL;
    if (opts->server_pub &&
        (!kp_z85_key_valid(opts->server_pub) || !opts->client_pub || !opts->client_sec ||
         !kp_z85_key_valid(opts->client_pub) || !kp_z85_key_valid(opts->client_sec)))
        return KP_EKEY;
    if (sodium_init() < 0)
        return KP_EZMQ; /* libsodium backs ZeroMQ's CURVE too; nothing works without it */

    int rc = KP_EZMQ;
    kpc_t *self = kp_xcalloc(1, sizeof *self);
    self->endpoint = kp_xstrdup(opts->endpoint);
    self->timeout_ms = opts->timeout_ms ? opts->timeout_ms : KPC_TIMEOUT_MS_DEFAULT;
    self->attempts = opts->attempts ? opts->attempts : KPC_ATTEMPTS_DEFAULT;
    randombytes_buf(&self->next_id, sizeof self->next_id);
    if (opts->server_pub) {
        self->curve = true;
        memcpy(self->server_pub, opts->server_pub, KP_Z85_KEY_LEN);
        memcpy(self->keys.pub, opts->client_pub, KP_Z85_KEY_LEN);
        memcpy(self->keys.sec, opts->client_sec, KP_Z85_KEY_LEN);
    }
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    if (self->curve && !zmq_has("curve"))
        goto fail;
    /* Opening once here reports a malformed endpoint now rather than at the first call. */
    rc = s_open(self);
    if (rc)
        goto fail;
    *out = self;
    return 0;
fail:
    kpc_destroy(&self);
    return rc;
}

void
kpc_destroy(kpc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kpc_t *self = *self_p;
    s_close(self);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    sodium_memzero(&self->keys, sizeof self->keys);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

void
kpc_reply_fini(kpc_reply_t *reply)
{
    if (!reply)
        return;
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

const char *
kpc_code_name(int code)
{
    return kp_wire_code_name(code);
}

const char *
kpc_strerror(int rc)
{
    return kp_strerror(rc);
}

/* Reads one monitor event. Returns true if it reports that the service refused our key. */
static bool
s_mon_refused(kpc_t *self)
{
    bool refused = false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, self->mon, ZMQ_DONTWAIT) >= 2) {
        uint16_t ev;
        memcpy(&ev, zmq_msg_data(&m), sizeof ev);
        refused = ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    }
    /* The event's second frame is the endpoint; drain it. */
    while (zmq_msg_more(&m) && zmq_msg_recv(&m, self->mon, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&m);
    return refused;
}

/* Receives one message from the DEALER. Returns 1 and fills reply if it is the answer to
 * want_id, 0 if it was something else (stale, multi-part or undecodable: dropped), or -1 if
 * nothing was there. */
static int
s_recv_match(kpc_t *self, uint64_t want_id, kpc_reply_t *reply)
{
    zmq_msg_t m;
    if (!kp_zsock_try_recv(self->sock, &m))
        return -1;
    int found = 0;
    bool multi = zmq_msg_more(&m);
    while (zmq_msg_more(&m) && zmq_msg_recv(&m, self->sock, ZMQ_DONTWAIT) >= 0)
        ;
    if (multi)
        goto done; /* the contract is one frame; a service never sends more */

    char why[KP_WIRE_WHY];
    const uint8_t *data = zmq_msg_data(&m);
    size_t len = zmq_msg_size(&m);
    if (kp_wire_check(&kumppani__v1__reply__descriptor, data, len, why, sizeof why) != 0)
        goto done;
    Kumppani__V1__Reply *r = kumppani__v1__reply__unpack(NULL, len, data);
    if (!r)
        goto done;
    if (r->request_id == want_id) {
        found = 1;
        if (r->status) {
            reply->status.code = (int)r->status->code;
            snprintf(reply->status.message, sizeof reply->status.message, "%s",
                     r->status->message ? r->status->message : "");
        }
        if (r->body.len) {
            reply->body = kp_xmalloc(r->body.len);
            memcpy(reply->body, r->body.data, r->body.len);
            reply->body_len = r->body.len;
        }
    }
    kumppani__v1__reply__free_unpacked(r, NULL);
done:
    zmq_msg_close(&m);
    return found;
}

/* One attempt: send, then wait up to timeout_ms for the matching reply. Returns 0 (reply
 * filled), KP_ETIMEOUT, KP_EKEY or KP_EZMQ. */
static int
s_attempt(kpc_t *self, const uint8_t *frame, size_t frame_len, uint64_t id, kpc_reply_t *reply)
{
    if (!self->sock) {
        int rc = s_open(self);
        if (rc)
            return rc;
    }
    int64_t deadline = kp_mono_us() / 1000 + self->timeout_ms;
    if (zmq_send(self->sock, frame, frame_len, 0) < 0)
        return (errno == EAGAIN || errno == EINTR) ? KP_ETIMEOUT : KP_EZMQ;
    for (;;) {
        int64_t left = deadline - (kp_mono_us() / 1000);
        if (left <= 0)
            return KP_ETIMEOUT;
        zmq_pollitem_t items[2] = {{.socket = self->sock, .events = ZMQ_POLLIN},
                                   {.socket = self->mon, .events = ZMQ_POLLIN}};
        int n = zmq_poll(items, self->mon ? 2 : 1, (long)left);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* the deadline still bounds the wait */
            return KP_EZMQ;
        }
        if (self->mon && (items[1].revents & ZMQ_POLLIN) && s_mon_refused(self))
            return KP_EKEY;
        if (items[0].revents & ZMQ_POLLIN) {
            /* Drain: several stale replies may be queued ahead of ours. */
            int got;
            while ((got = s_recv_match(self, id, reply)) == 0)
                ;
            if (got == 1)
                return 0;
        }
    }
}

int
kpc_call(kpc_t *self, const char *method, const char *idempotency_key, const void *body,
         size_t body_len, kpc_reply_t *reply)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    if (!self || !method || !reply || (body_len && !body))
        return KP_EINVAL;

    Kumppani__V1__Request req = KUMPPANI__V1__REQUEST__INIT;
    req.request_id = self->next_id++;
    req.method = (char *)method;
    req.idempotency_key = (char *)(idempotency_key ? idempotency_key : "");
    req.body.data = (uint8_t *)body;
    req.body.len = body_len;
    size_t frame_len = kumppani__v1__request__get_packed_size(&req);
    if (frame_len > KP_WIRE_MAX_FRAME)
        return KP_ETOOBIG;
    uint8_t *frame = kp_xmalloc(frame_len ? frame_len : 1);
    kumppani__v1__request__pack(&req, frame);

    int rc = KP_ETIMEOUT;
    for (int i = 0; i < self->attempts; i++) {
        rc = s_attempt(self, frame, frame_len, req.request_id, reply);
        if (rc != KP_ETIMEOUT)
            break;
        /* Lazy Pirate: a fresh socket for the resend, so nothing stale stays queued. */
        s_close(self);
    }
    if (rc != 0 && rc != KP_ETIMEOUT)
        s_close(self); /* start the next call clean */
    free(frame);
    return rc;
}

/* ---- typed calls ------------------------------------------------------------------------ */

/* Packs in (may be NULL: empty body), calls, and unpacks an OK reply as out_desc into *out. */
static int
s_typed(kpc_t *self, const char *method, const char *idem, const ProtobufCMessage *in,
        const ProtobufCMessageDescriptor *out_desc, void *out, kpc_status_t *st)
{
    if (!self || !out || !st)
        return KP_EINVAL;
    memset(st, 0, sizeof *st);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (in) {
        len = protobuf_c_message_get_packed_size(in);
        if (len > KP_WIRE_MAX_FRAME)
            return KP_ETOOBIG;
        buf = kp_xmalloc(len ? len : 1);
        protobuf_c_message_pack(in, buf);
    }
    kpc_reply_t r;
    int rc = kpc_call(self, method, idem, buf, len, &r);
    free(buf);
    if (rc)
        goto done;
    *st = r.status;
    if (st->code != KUMPPANI__V1__CODE__CODE_OK)
        goto done;
    char why[KP_WIRE_WHY];
    ProtobufCMessage *msg = NULL;
    if (kp_wire_check(out_desc, r.body, r.body_len, why, sizeof why) != 0 ||
        !(msg = protobuf_c_message_unpack(out_desc, NULL, r.body_len, r.body))) {
        rc = KP_EDECODE;
        goto done;
    }
    /* out is the address of the caller's typed pointer; all object pointers share one
     * representation on the platforms libzmq supports, and memcpy keeps aliasing rules. */
    memcpy(out, &msg, sizeof msg);
done:
    kpc_reply_fini(&r);
    return rc;
}

int
kpc_event_create(kpc_t *self, const char *idempotency_key,
                 const Kumppani__V1__CreateEventRequest *req, Kumppani__V1__EventReply **out,
                 kpc_status_t *st)
{
    if (!idempotency_key || !*idempotency_key || !req)
        return KP_EINVAL;
    return s_typed(self, "events.event.create", idempotency_key, &req->base,
                   &kumppani__v1__event_reply__descriptor, out, st);
}

/* A call on one event by its id (an EventRef) answered by an EventReply. */
static int
s_event_ref_call(kpc_t *self, const char *method, uint64_t event_id, Kumppani__V1__EventReply **out,
                 kpc_status_t *st)
{
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    return s_typed(self, method, NULL, &ref.base, &kumppani__v1__event_reply__descriptor, out, st);
}

int
kpc_event_publish(kpc_t *self, uint64_t event_id, Kumppani__V1__EventReply **out, kpc_status_t *st)
{
    return s_event_ref_call(self, "events.event.publish", event_id, out, st);
}

int
kpc_event_get(kpc_t *self, uint64_t event_id, Kumppani__V1__EventReply **out, kpc_status_t *st)
{
    return s_event_ref_call(self, "events.event.get", event_id, out, st);
}

int
kpc_event_list(kpc_t *self, uint64_t after_id, uint32_t limit, Kumppani__V1__ListEventsReply **out,
               kpc_status_t *st)
{
    Kumppani__V1__ListEventsRequest req = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
    req.after_id = after_id;
    req.limit = limit;
    return s_typed(self, "events.event.list", NULL, &req.base,
                   &kumppani__v1__list_events_reply__descriptor, out, st);
}

/* A sign-up call: req (NULL refused) answered by a SignupReply. The service keys idempotency
 * on the body's source + external_id, not the envelope. */
static int
s_signup_call(kpc_t *self, const char *method, const ProtobufCMessage *req,
              Kumppani__V1__SignupReply **out, kpc_status_t *st)
{
    if (!req)
        return KP_EINVAL;
    return s_typed(self, method, NULL, req, &kumppani__v1__signup_reply__descriptor, out, st);
}

int
kpc_signup_submit(kpc_t *self, const Kumppani__V1__SubmitSignupRequest *req,
                  Kumppani__V1__SignupReply **out, kpc_status_t *st)
{
    return s_signup_call(self, "events.signup.submit", req ? &req->base : NULL, out, st);
}

int
kpc_signup_cancel(kpc_t *self, const Kumppani__V1__CancelSignupRequest *req,
                  Kumppani__V1__SignupReply **out, kpc_status_t *st)
{
    return s_signup_call(self, "events.signup.cancel", req ? &req->base : NULL, out, st);
}

int
kpc_signup_list(kpc_t *self, uint64_t event_id, uint64_t after_id, uint32_t limit,
                Kumppani__V1__ListSignupsReply **out, kpc_status_t *st)
{
    Kumppani__V1__ListSignupsRequest req = KUMPPANI__V1__LIST_SIGNUPS_REQUEST__INIT;
    req.event_id = event_id;
    req.after_id = after_id;
    req.limit = limit;
    return s_typed(self, "events.signup.list", NULL, &req.base,
                   &kumppani__v1__list_signups_reply__descriptor, out, st);
}

int
kpc_log_replay(kpc_t *self, uint64_t from_seq, uint32_t limit, Kumppani__V1__ReplayPage **out,
               kpc_status_t *st)
{
    Kumppani__V1__ReplayRequest req = KUMPPANI__V1__REPLAY_REQUEST__INIT;
    req.from_seq = from_seq;
    req.limit = limit;
    return s_typed(self, "log.replay", NULL, &req.base, &kumppani__v1__replay_page__descriptor, out,
                   st);
}

int
kpc_health(kpc_t *self, Kumppani__V1__HealthReply **out, kpc_status_t *st)
{
    Kumppani__V1__HealthRequest req = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    return s_typed(self, "sys.health", NULL, &req.base, &kumppani__v1__health_reply__descriptor,
                   out, st);
}

void
kpc_msg_destroy(void *msg_p)
{
    if (!msg_p)
        return;
    ProtobufCMessage *msg;
    memcpy(&msg, msg_p, sizeof msg);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    msg = NULL;
    memcpy(msg_p, &msg, sizeof msg);
}
