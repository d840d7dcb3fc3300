/*  bench_signup_rpc: the control requests of kp-bench-signup to a service: a DEALER (CURVE or
 *  plain TCP), one request and its reply (ids with the top bit set, KP_BENCH_CONTROL),
 *  sys.health and its commit counters, and the benchmark's events created and published.
 *  The sign-ups themselves are sent from bench_signup_load.c. */
#include "bench_signup.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* A DEALER to 127.0.0.1:port, a CURVE client with kp (NULL: plain TCP) of server_pub, with
 * room for a whole window each way so that a send never meets the high-water mark. */
void *
bench_socket(void *zctx, unsigned port, const kp_keypair_t *kp, const char *server_pub,
             unsigned window)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    if (kp_zsock_client(s, kp, server_pub) != 0) {
        zmq_close(s);
        return NULL;
    }
    int hwm = (int)window * 2 + 64, linger = 0, ivl = 10;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl); /* see a restarted service soon */
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    if (zmq_connect(s, ep) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Sends one control request on sock and waits for its reply, ignoring replies to earlier
 * requests. Returns the reply (valid until the arena is reset), or NULL after timeout_ms, an
 * interrupt, or svc's exit. */
static Kumppani__V1__Reply *
s_call(bench_t *b, void *sock, bench_svc_t *svc, const char *method, const char *idem,
       const ProtobufCMessage *body, int timeout_ms)
{
    uint8_t buf[2048];
    uint64_t rid = KP_BENCH_CONTROL | ++b->control_n;
    size_t len = bench_pack_request(buf, sizeof buf, rid, method, idem, body);
    if (len == 0 || zmq_send(sock, buf, len, 0) < 0)
        return NULL;
    int64_t until = kp_mono_us() + (int64_t)timeout_ms * 1000;
    while (!bench_interrupted) {
        int64_t left_ms = (until - kp_mono_us()) / 1000;
        if (left_ms <= 0)
            return NULL;
        int status;
        if (bench_exited(svc, &status)) {
            fprintf(stderr, "kp-bench-signup: %s exited (status %d)\n", svc->name, status);
            return NULL;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left_ms > 100 ? 100 : (long)left_ms) <= 0)
            continue;
        zmq_msg_t m;
        if (!kp_zsock_try_recv(sock, &m))
            continue;
        kp_arena_reset(b->arena);
        Kumppani__V1__Reply *r =
            kumppani__v1__reply__unpack(kp_arena_pbc(b->arena), zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (r && r->request_id == rid)
            return r;
    }
    return NULL;
}

/* sys.health of svc through sock; NULL on failure (reason printed unless quiet). */
Kumppani__V1__HealthReply *
bench_health_of(bench_t *b, void *sock, bench_svc_t *svc, int timeout_ms, bool quiet)
{
    Kumppani__V1__HealthRequest hq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    Kumppani__V1__Reply *r = s_call(b, sock, svc, "sys.health", NULL, &hq.base, timeout_ms);
    if (!r || bench_code(r) != 0) {
        if (!quiet)
            fprintf(stderr, "kp-bench-signup: %s sys.health failed: %s\n", svc->name,
                    r ? bench_message(r) : "no reply");
        return NULL;
    }
    return kumppani__v1__health_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
}

/* Sends sys.health until svc answers it, for at most KP_BENCH_START_S. */
int
bench_wait_ready(bench_t *b, void *sock, bench_svc_t *svc, unsigned port)
{
    int64_t until = kp_mono_us() + (int64_t)KP_BENCH_START_S * 1000000;
    while (kp_mono_us() < until && !bench_interrupted) {
        Kumppani__V1__HealthReply *h = bench_health_of(b, sock, svc, 250, true);
        if (h) {
            /* Make sure it is our service that answers, not one started earlier. */
            if (h->started_ms + 1000 >= svc->fork_ms)
                return 0;
            fprintf(stderr,
                    "kp-bench-signup: port %u is answered by a service started before "
                    "this benchmark; use --api-port\n",
                    port);
            return -1;
        }
        if (svc->pid <= 0)
            return -1;
    }
    fprintf(stderr, "kp-bench-signup: %s did not answer sys.health within %d s\n", svc->name,
            KP_BENCH_START_S);
    return -1;
}

/* Reads the commit counters of the events service. Returns 0 or -1. */
int
bench_health(bench_t *b, uint64_t *commits, uint64_t *requests, uint64_t *head)
{
    Kumppani__V1__HealthReply *h =
        bench_health_of(b, b->control, &b->events, KP_BENCH_CALL_MS, false);
    if (!h)
        return -1;
    *commits = h->commits;
    *requests = h->committed_requests;
    if (head)
        *head = h->head_seq;
    return 0;
}

/* Creates and publishes one event: a seminar a month ahead, no limit. Returns its id or 0. */
static uint64_t
s_make_event(bench_t *b, unsigned k)
{
    int64_t start = kp_now_ms() / 1000 + 30 * 24 * 3600;
    char title[64];
    snprintf(title, sizeof title, "Benchmark seminar %u", k + 1);
    Kumppani__V1__CreateEventRequest cq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    cq.kind = KUMPPANI__V1__EVENT_KIND__KIND_SEMINAR;
    cq.title = title;
    cq.municipality_code = "743";
    cq.start_unix = start;
    cq.end_unix = start + 2 * 3600;
    cq.capacity = 0;
    cq.place = "Loopback";
    cq.language = "fi";
    char idem[80];
    snprintf(idem, sizeof idem, "kp-bench-signup-%d-%" PRId64 "-%u", (int)getpid(), kp_now_ms(), k);
    Kumppani__V1__Reply *r =
        s_call(b, b->control, &b->events, "events.event.create", idem, &cq.base, KP_BENCH_CALL_MS);
    if (!r || bench_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.create failed: %s\n",
                r ? bench_message(r) : "no reply");
        return 0;
    }
    Kumppani__V1__EventReply *er =
        kumppani__v1__event_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
    if (!er || !er->event || !er->event->id) {
        fprintf(stderr, "kp-bench-signup: events.event.create: reply has no event\n");
        return 0;
    }
    uint64_t id = er->event->id;
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = id;
    r = s_call(b, b->control, &b->events, "events.event.publish", NULL, &ref.base,
               KP_BENCH_CALL_MS);
    if (!r || bench_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.publish failed: %s\n",
                r ? bench_message(r) : "no reply");
        return 0;
    }
    return id;
}

/* Makes the events bench-state does not know yet, up to --events. */
int
bench_make_events(bench_t *b)
{
    while (b->n_events < b->o.events) {
        uint64_t id = s_make_event(b, b->n_events);
        if (!id)
            return -1;
        b->event_ids[b->n_events++] = id;
    }
    bench_state_save(b);
    return 0;
}
