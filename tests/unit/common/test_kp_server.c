/*  test_kp_server: the turn loop of kp_server (and kp_zwatch under it), in one process.
 *
 *  Each test starts a server on its own uv loop in a fresh mkdtemp directory, on free
 *  loopback ports, and talks to it with a DEALER (and a SUB for the event log) from a second
 *  ZeroMQ context. The loop must never block the test, so the client drives it: every wait
 *  below is "uv_run(UV_RUN_NOWAIT), then look at the client sockets, then zmq_poll 1 ms",
 *  bounded by a deadline. uv_run(NOWAIT) runs the whole loop order once (idle, prepare, poll
 *  with a zero timeout), so a turn's commit and replies happen inside it.
 *
 *  The test methods: "test.put" (EventRef) emits a "Put" event and writes key event_id into
 *  "kv"; event_id 0 is refused before anything is written, and an event_id of 2^62 or more
 *  is refused after writing, which must leave nothing of that request committed.
 *  "test.signup" (SubmitSignupRequest) answers OK; "test.silent" answers nothing. */
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_server.h"
#include "kp_store.h"
#include "kp_test_server.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define DEADLINE_US (60 * 1000000LL)
#define PIPELINE_N 10000

/* ---- the service under test --------------------------------------------------------------- */

static const char *const s_dbs[] = {"kv"};

static void
s_kv_put(kp_call_t *call, const void *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)key}, v = {1, "1"};
    int rc = mdb_put(kp_call_txn(call), kp_store_dbi(kp_call_store(call), 0), &k, &v, 0);
    assert_int_equal(rc, 0);
}

#define TOO_BIG_ID (UINT64_C(1) << 62)

static void
s_put(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    /* Validate, then write: a refusal here touches nothing. */
    if (rq->event_id == 0) {
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INVALID, "field 'event_id': must be > 0");
        return;
    }
    int rc = kp_call_emit(call, "Put", &rq->base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    uint8_t key[8];
    kp_be64_put(key, rq->event_id);
    s_kv_put(call, key, sizeof key);
    /* A failure after writing: whatever the server does with the turn, nothing of this
     * request may be committed, and its reply must not be OK. */
    if (rq->event_id >= TOO_BIG_ID) {
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INVALID, "field 'event_id': too large");
        return;
    }
    kp_call_ok(call, &rq->base); /* echo the body */
}

static void
s_signup(kp_call_t *call, void *svc)
{
    (void)svc;
    kp_call_ok(call, NULL);
}

static void
s_silent(kp_call_t *call, void *svc)
{
    (void)call;
    (void)svc;
}

static const kp_method_t s_methods[] = {
    KP_METHOD("test.put", KP_ROLE_ALL, event_ref, s_put),
    KP_METHOD("test.signup", KP_ROLE_ALL, submit_signup_request, s_signup),
    KP_METHOD("test.silent", KP_ROLE_ALL, event_ref, s_silent),
};

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct {
    kp_test_srv_t t; /* the server under test */
    void *sub;
    kp_arena_t *a;
    uint64_t events_seen, last_seq; /* from the SUB socket */
    uint64_t last_event_id;         /* payload of the last "Put" event seen */
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    kp_server_opts_t o = {.service = "test",
                          .map_size = 64u << 20,
                          KP_TEST_DBS(s_dbs),
                          .heartbeat_ms = 20,
                          KP_TEST_METHODS(s_methods)};
    if (kp_test_srv_start(&fx->t, "kp_server", o, true) != 0)
        return -1;
    fx->sub = zmq_socket(fx->t.zctx, ZMQ_SUB);
    if (kp_zsock_defaults(fx->sub) != 0 || zmq_setsockopt(fx->sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        zmq_connect(fx->sub, fx->t.pub) != 0)
        return -1;
    fx->a = kp_arena_new(64u << 20);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    zmq_close(fx->sub);
    int rc = kp_test_srv_stop(&fx->t);
    kp_arena_destroy(&fx->a);
    free(fx);
    assert_int_equal(rc, 0);
    return rc;
}

/* ---- the client ----------------------------------------------------------------------------- */

/* Sends one request frame; returns false on EAGAIN. */
static bool
s_send(fx_t *fx, uint64_t request_id, const char *method, const ProtobufCMessage *body)
{
    return kp_test_send(fx->t.dealer, request_id, method, body, ZMQ_DONTWAIT);
}

static void
s_send_put(fx_t *fx, uint64_t request_id, uint64_t event_id)
{
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    assert_true(s_send(fx, request_id, "test.put", &ref.base));
}

/* Reads every published event waiting on the SUB socket; checks seq order. */
static void
s_drain_sub(fx_t *fx)
{
    for (;;) {
        char topic[4];
        uint8_t buf[1024];
        int n = zmq_recv(fx->sub, topic, sizeof topic, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(fx->sub, ZMQ_RCVMORE, &more, &ml);
        assert_true(more);
        int len = zmq_recv(fx->sub, buf, sizeof buf, 0);
        assert_true(len >= 0 && (size_t)len <= sizeof buf);
        if (n == 1 && topic[0] == 'H') {
            Kumppani__V1__Heartbeat *hb = kumppani__v1__heartbeat__unpack(NULL, len, buf);
            assert_non_null(hb);
            assert_string_equal(hb->source, "test");
            /* A heartbeat never announces what was not committed. */
            assert_true(hb->head_seq <= kp_store_head(kp_server_store(fx->t.srv)));
            kumppani__v1__heartbeat__free_unpacked(hb, NULL);
            continue;
        }
        assert_int_equal(n, 1);
        assert_int_equal(topic[0], 'E');
        Kumppani__V1__Event *ev = kumppani__v1__event__unpack(NULL, len, buf);
        assert_non_null(ev);
        /* Published in order, never ahead of the committed head. */
        if (fx->last_seq)
            assert_int_equal(ev->seq, fx->last_seq + 1);
        assert_true(ev->seq <= kp_store_head(kp_server_store(fx->t.srv)));
        assert_string_equal(ev->source, "test");
        assert_string_equal(ev->type, "Put");
        Kumppani__V1__EventRef *ref =
            kumppani__v1__event_ref__unpack(NULL, ev->payload.len, ev->payload.data);
        assert_non_null(ref);
        fx->last_event_id = ref->event_id;
        kumppani__v1__event_ref__free_unpacked(ref, NULL);
        fx->last_seq = ev->seq;
        fx->events_seen++;
        kumppani__v1__event__free_unpacked(ev, NULL);
    }
}

/* Runs the server loop once and waits up to 1 ms for client input. */
static void
s_pump(fx_t *fx)
{
    uv_run(&fx->t.loop, UV_RUN_NOWAIT);
    s_drain_sub(fx);
    zmq_pollitem_t items[] = {{fx->t.dealer, 0, ZMQ_POLLIN, 0}, {fx->sub, 0, ZMQ_POLLIN, 0}};
    zmq_poll(items, 2, 1);
}

/* Receives one reply (decoded into fx->a), pumping the server meanwhile. */
static Kumppani__V1__Reply *
s_reply(fx_t *fx)
{
    int64_t end = kp_mono_us() + DEADLINE_US;
    for (;;) {
        Kumppani__V1__Reply *r = kp_test_try_reply(fx->t.dealer, fx->a);
        if (r)
            return r;
        if (kp_mono_us() > end)
            fail_msg("no reply within the deadline");
        s_pump(fx);
    }
}

static Kumppani__V1__HealthReply *
s_health(fx_t *fx)
{
    Kumppani__V1__HealthRequest hr = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    assert_true(s_send(fx, 777, "sys.health", &hr.base));
    Kumppani__V1__Reply *r = s_reply(fx);
    assert_int_equal(r->request_id, 777);
    Kumppani__V1__HealthReply *h =
        kp_test_ok_body(r, &kumppani__v1__health_reply__descriptor, fx->a);
    assert_string_equal(h->service, "test");
    return h;
}

/* Pumps until a heartbeat or event has shown that the SUB socket is subscribed. */
static void
s_wait_subscribed(fx_t *fx)
{
    int64_t end = kp_mono_us() + DEADLINE_US;
    for (;;) {
        uv_run(&fx->t.loop, UV_RUN_NOWAIT);
        char topic[4];
        if (zmq_recv(fx->sub, topic, sizeof topic, ZMQ_DONTWAIT) == 1 && topic[0] == 'H') {
            uint8_t buf[256];
            assert_true(zmq_recv(fx->sub, buf, sizeof buf, 0) >= 0);
            return;
        }
        if (kp_mono_us() > end)
            fail_msg("no heartbeat within the deadline");
        zmq_pollitem_t it = {fx->sub, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 1);
    }
}

/* Whether the key event_id is in "kv" as committed (a fresh read transaction). */
static bool
s_committed(fx_t *fx, uint64_t event_id)
{
    kp_store_t *st = kp_server_store(fx->t.srv);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(kp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    uint8_t key[8];
    kp_be64_put(key, event_id);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(txn, kp_store_dbi(st, 0), &k, &v);
    mdb_txn_abort(txn);
    return rc == 0;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void
test_pipeline_10k(void **state)
{
    fx_t *fx = *state;
    s_wait_subscribed(fx);
    Kumppani__V1__HealthReply *h0 = s_health(fx);
    uint64_t commits0 = h0->commits;
    const uint64_t base = 1000000;
    uint8_t *seen = calloc(PIPELINE_N, 1);
    unsigned sent = 0, got = 0;
    int64_t t0 = kp_mono_us(), end = t0 + DEADLINE_US;
    while (got < PIPELINE_N) {
        bool progress = false;
        while (sent < PIPELINE_N) {
            Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
            ref.event_id = sent + 1;
            if (!s_send(fx, base + sent, "test.put", &ref.base))
                break;
            sent++;
            progress = true;
        }
        uv_run(&fx->t.loop, UV_RUN_NOWAIT);
        s_drain_sub(fx);
        Kumppani__V1__Reply *r;
        while ((r = kp_test_try_reply(fx->t.dealer, fx->a)) != NULL) {
            assert_true(r->request_id >= base && r->request_id < base + PIPELINE_N);
            unsigned i = (unsigned)(r->request_id - base);
            if (seen[i])
                fail_msg("request %u answered twice", i);
            seen[i] = 1;
            if (r->status->code != KUMPPANI__V1__CODE__CODE_OK)
                fail_msg("request %u: %s %s", i, kp_wire_code_name(r->status->code),
                         r->status->message);
            /* The reply echoes the body of its own request. */
            Kumppani__V1__EventRef *ref =
                kumppani__v1__event_ref__unpack(NULL, r->body.len, r->body.data);
            assert_non_null(ref);
            assert_int_equal(ref->event_id, i + 1);
            kumppani__v1__event_ref__free_unpacked(ref, NULL);
            /* What a reply acknowledges is already committed. */
            if (!s_committed(fx, i + 1))
                fail_msg("request %u answered before its write committed", i);
            got++;
            progress = true;
        }
        kp_arena_reset(fx->a);
        if (kp_mono_us() > end)
            fail_msg("stalled: sent %u, answered %u after 60 s", sent, got);
        if (!progress) {
            zmq_pollitem_t items[] = {{fx->t.dealer, 0, ZMQ_POLLIN, 0}};
            zmq_poll(items, 1, 1);
        }
    }
    int64_t t1 = kp_mono_us();
    free(seen);

    Kumppani__V1__HealthReply *h = s_health(fx);
    print_message("%d requests in %.0f ms, %llu turns\n", PIPELINE_N, (t1 - t0) / 1000.0,
                  (unsigned long long)(h->commits - commits0 - 1));
    assert_int_equal(h->head_seq, PIPELINE_N);
    /* Group commit: many requests per synced commit (+1 for the first health request). */
    assert_true(h->commits - commits0 < PIPELINE_N / 4);
    assert_true(h->committed_requests >= PIPELINE_N);
    assert_true(h->last_commit_ms >= h->started_ms);

    /* Every event is published, in order, once (the SUB socket has a deep queue). */
    end = kp_mono_us() + DEADLINE_US;
    while (fx->events_seen < PIPELINE_N && kp_mono_us() < end)
        s_pump(fx);
    assert_int_equal(fx->events_seen, PIPELINE_N);
    assert_int_equal(fx->last_seq, PIPELINE_N);
}

static void
test_failed_call_in_batch(void **state)
{
    fx_t *fx = *state;
    s_wait_subscribed(fx);
    s_send_put(fx, 1, 11);
    Kumppani__V1__Reply *r = s_reply(fx);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    Kumppani__V1__HealthReply *h0 = s_health(fx);
    uint64_t commits0 = h0->commits, head0 = h0->head_seq;
    assert_int_equal(head0, 1);

    /* Three requests in one turn: let them all reach the ROUTER before the loop runs. */
    s_send_put(fx, 2, 21);
    s_send_put(fx, 3, 0); /* refused before writing */
    s_send_put(fx, 4, 41);
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000}, NULL);
    Kumppani__V1__Code codes[5] = {0};
    char msg3[128] = "";
    for (int i = 0; i < 3; i++) {
        r = s_reply(fx);
        assert_true(r->request_id >= 2 && r->request_id <= 4);
        codes[r->request_id] = r->status->code;
        if (r->request_id == 3) {
            snprintf(msg3, sizeof msg3, "%s", r->status->message);
            assert_int_equal(r->body.len, 0);
        }
    }
    assert_int_equal(codes[2], KUMPPANI__V1__CODE__CODE_OK);
    assert_int_equal(codes[3], KUMPPANI__V1__CODE__CODE_INVALID);
    assert_int_equal(codes[4], KUMPPANI__V1__CODE__CODE_OK);
    assert_string_equal(msg3, "field 'event_id': must be > 0");

    Kumppani__V1__HealthReply *h = s_health(fx);
    /* One turn for the first health request, one for the batch of three. */
    assert_int_equal(h->commits - commits0, 2);
    /* The neighbours' writes and events stayed, numbered without a gap. */
    assert_int_equal(h->head_seq, head0 + 2);
    assert_true(s_committed(fx, 21));
    assert_true(s_committed(fx, 41));
    assert_false(s_committed(fx, 0));
    int64_t end = kp_mono_us() + DEADLINE_US;
    while (fx->events_seen < 3 && kp_mono_us() < end)
        s_pump(fx);
    assert_int_equal(fx->events_seen, 3);
    assert_int_equal(fx->last_seq, 3);
    assert_int_equal(fx->last_event_id, 41);
}

static void
test_fail_after_write(void **state)
{
    fx_t *fx = *state;
    s_wait_subscribed(fx);
    /* Three requests in one turn; the middle one fails after writing. */
    s_send_put(fx, 1, 51);
    s_send_put(fx, 2, TOO_BIG_ID);
    s_send_put(fx, 3, 61);
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000}, NULL);
    static const uint64_t ids[4] = {0, 51, TOO_BIG_ID, 61};
    unsigned ok_n = 0;
    for (int i = 0; i < 3; i++) {
        Kumppani__V1__Reply *r = s_reply(fx);
        assert_true(r->request_id >= 1 && r->request_id <= 3);
        bool ok = r->status->code == KUMPPANI__V1__CODE__CODE_OK;
        ok_n += ok;
        /* An OK reply means committed; any other reply means nothing was written. */
        if (ok != s_committed(fx, ids[r->request_id]))
            fail_msg("request %llu: reply %s but committed=%d", (unsigned long long)r->request_id,
                     kp_wire_code_name(r->status->code), !ok);
        if (r->request_id == 2)
            assert_false(ok);
    }
    Kumppani__V1__HealthReply *h = s_health(fx);
    assert_int_equal(h->head_seq, ok_n); /* one event per OK reply, no gap, no extra */
    int64_t end = kp_mono_us() + DEADLINE_US;
    while (fx->events_seen < ok_n && kp_mono_us() < end)
        s_pump(fx);
    assert_int_equal(fx->events_seen, ok_n);

    /* The next turn works normally. */
    s_send_put(fx, 4, 71);
    Kumppani__V1__Reply *r = s_reply(fx);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    assert_true(s_committed(fx, 71));
    h = s_health(fx);
    assert_int_equal(h->head_seq, ok_n + 1);
}

static void
test_errors(void **state)
{
    fx_t *fx = *state;
    /* No such method: the request id is still echoed. */
    Kumppani__V1__HealthRequest hr = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    assert_true(s_send(fx, 42, "test.nope", &hr.base));
    Kumppani__V1__Reply *r = s_reply(fx);
    assert_int_equal(r->request_id, 42);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_UNKNOWN_METHOD);
    assert_string_equal(r->status->message, "unknown method");

    /* A frame over 64 KiB: refused before decoding, so no request id. */
    size_t big_n = KP_WIRE_MAX_FRAME + 1024;
    uint8_t *big = calloc(1, big_n);
    assert_int_equal(zmq_send(fx->t.dealer, big, big_n, 0), (int)big_n);
    free(big);
    r = s_reply(fx);
    assert_int_equal(r->request_id, 0);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_TOO_LARGE);
    assert_string_equal(r->status->message, "request larger than 65536 bytes");

    /* An envelope that does not decode. */
    static const uint8_t junk[] = {0x08, 0x01, 0x0b};
    assert_int_equal(zmq_send(fx->t.dealer, junk, sizeof junk, 0), (int)sizeof junk);
    r = s_reply(fx);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_BAD_REQUEST);
    assert_string_equal(r->status->message, "envelope: malformed protobuf");

    /* A body whose string breaks a rule: INVALID, naming the field, not echoing it. */
    Kumppani__V1__SubmitSignupRequest s = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    s.name = "Matti\r\nBcc: x";
    assert_true(s_send(fx, 43, "test.signup", &s.base));
    r = s_reply(fx);
    assert_int_equal(r->request_id, 43);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'name': control character not allowed");
    /* A body that does not decode at all: BAD_REQUEST. */
    static const uint8_t badbody[] = {0x08, 0x2c, 0x12, 0x0b, 't', 'e', 's',  't',  '.',
                                      's',  'i',  'g',  'n',  'u', 'p', 0x22, 0x01, 0x0b};
    assert_int_equal(zmq_send(fx->t.dealer, badbody, sizeof badbody, 0), (int)sizeof badbody);
    r = s_reply(fx);
    assert_int_equal(r->request_id, 44);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_BAD_REQUEST);

    /* A handler that answers nothing is answered INTERNAL. */
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    assert_true(s_send(fx, 45, "test.silent", &ref.base));
    r = s_reply(fx);
    assert_int_equal(r->request_id, 45);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INTERNAL);

    /* A multi-frame message is not a request: dropped unanswered, and the connection works. */
    assert_int_equal(zmq_send(fx->t.dealer, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(fx->t.dealer, "b", 1, 0), 1);
    Kumppani__V1__HealthReply *h = s_health(fx);
    assert_int_equal(h->head_seq, 0);
}

static void
test_replay(void **state)
{
    fx_t *fx = *state;
    for (uint64_t i = 1; i <= 5; i++)
        s_send_put(fx, i, 100 + i);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_reply(fx)->status->code, KUMPPANI__V1__CODE__CODE_OK);
    Kumppani__V1__ReplayRequest rq = KUMPPANI__V1__REPLAY_REQUEST__INIT;
    rq.from_seq = 2;
    rq.limit = 3;
    assert_true(s_send(fx, 9, "log.replay", &rq.base));
    Kumppani__V1__Reply *r = s_reply(fx);
    /* ReplayPageWire on the wire decodes as a ReplayPage. */
    Kumppani__V1__ReplayPage *page =
        kp_test_ok_body(r, &kumppani__v1__replay_page__descriptor, fx->a);
    assert_int_equal(page->head_seq, 5);
    assert_int_equal(page->n_events, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(page->events[i]->seq, 2 + i);
        assert_string_equal(page->events[i]->type, "Put");
    }
}

int
main(void)
{
    kp_log_init("test", KP_LOG_WARNING);
    return KP_TEST_RUN(s_setup, s_teardown, test_pipeline_10k, test_failed_call_in_batch,
                       test_fail_after_write, test_errors, test_replay);
}
