/*  test_kumppani: the client library against a tiny in-test ROUTER (a thread).
 *
 *  The server answers every request with a stale reply (another request_id) and an
 *  undecodable frame before the real answer, so every successful call also proves that those
 *  are skipped. It can drop the first N requests (to exercise Lazy Pirate resends), and run
 *  as a CURVE server whose ZAP handler admits or refuses every key. */
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"
#include "kumppani.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define SEEN_MAX 16

typedef struct {
    void *ctx;
    void *router;
    void *zap; /* with CURVE: the ZAP handler's REP */
    char endpoint[64];
    pthread_t th;
    atomic_bool stop;
    int drop_n;     /* requests to ignore before answering */
    bool zap_admit; /* with CURVE: the ZAP verdict */
    kp_keypair_t keys;
    pthread_mutex_t mu;
    int seen_n; /* requests received, guarded by mu */
    uint64_t seen_ids[SEEN_MAX];
    char seen_keys[SEEN_MAX][64];
} srv_t;

static void
s_send_reply(void *router, zmq_msg_t *rid, uint64_t id, int code, const char *msg, const void *body,
             size_t body_len)
{
    Kumppani__V1__Status st = KUMPPANI__V1__STATUS__INIT;
    Kumppani__V1__Reply r = KUMPPANI__V1__REPLY__INIT;
    st.code = (Kumppani__V1__Code)code;
    st.message = (char *)msg;
    r.request_id = id;
    r.status = &st;
    r.body.data = (uint8_t *)body;
    r.body.len = body_len;
    uint8_t buf[4096];
    size_t n = kumppani__v1__reply__pack(&r, buf);
    zmq_send(router, zmq_msg_data(rid), zmq_msg_size(rid), ZMQ_SNDMORE);
    zmq_send(router, buf, n, 0);
}

static void
s_handle(srv_t *s)
{
    zmq_msg_t rid, frame;
    zmq_msg_init(&rid);
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&rid, s->router, 0) < 0 || zmq_msg_recv(&frame, s->router, 0) < 0)
        goto done;
    Kumppani__V1__Request *req =
        kumppani__v1__request__unpack(NULL, zmq_msg_size(&frame), zmq_msg_data(&frame));
    assert_non_null(req);
    pthread_mutex_lock(&s->mu);
    int n = s->seen_n++;
    if (n < SEEN_MAX) {
        s->seen_ids[n] = req->request_id;
        snprintf(s->seen_keys[n], sizeof s->seen_keys[n], "%s", req->idempotency_key);
    }
    pthread_mutex_unlock(&s->mu);
    if (n < s->drop_n)
        goto free_req;

    /* Noise first: an answer to some other request, then a frame that is not a Reply. */
    s_send_reply(s->router, &rid, req->request_id + 1000, 0, "", "stale", 5);
    zmq_send(s->router, zmq_msg_data(&rid), zmq_msg_size(&rid), ZMQ_SNDMORE);
    zmq_send(s->router, "\xff\xff\xff", 3, 0);

    if (strcmp(req->method, "test.echo") == 0) {
        s_send_reply(s->router, &rid, req->request_id, 0, "", req->body.data, req->body.len);
    } else if (strcmp(req->method, "test.fail") == 0) {
        s_send_reply(s->router, &rid, req->request_id, KUMPPANI__V1__CODE__CODE_INVALID,
                     "field 'title': required", NULL, 0);
    } else if (strcmp(req->method, "sys.health") == 0) {
        Kumppani__V1__HealthReply h = KUMPPANI__V1__HEALTH_REPLY__INIT;
        h.service = "events";
        h.head_seq = 7;
        uint8_t buf[256];
        size_t len = kumppani__v1__health_reply__pack(&h, buf);
        s_send_reply(s->router, &rid, req->request_id, 0, "", buf, len);
    } else if (strcmp(req->method, "events.event.get") == 0) {
        /* An OK reply whose body is not an EventReply. */
        s_send_reply(s->router, &rid, req->request_id, 0, "", "\xff\xff\xff", 3);
    } else {
        s_send_reply(s->router, &rid, req->request_id, KUMPPANI__V1__CODE__CODE_UNKNOWN_METHOD,
                     "no such method", NULL, 0);
    }
free_req:
    kumppani__v1__request__free_unpacked(req, NULL);
done:
    zmq_msg_close(&rid);
    zmq_msg_close(&frame);
}

/* Answers one ZAP request (RFC 27) with the configured verdict. */
static void
s_zap(srv_t *s)
{
    zmq_msg_t f[8];
    int n = 0;
    for (int more = 1; more && n < 8; n++) {
        zmq_msg_init(&f[n]);
        zmq_msg_recv(&f[n], s->zap, 0);
        more = zmq_msg_more(&f[n]);
    }
    const char *code = s->zap_admit ? "200" : "400";
    zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    zmq_send(s->zap, code, 3, ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(s->zap, "test", 4, ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void *
s_run(void *arg)
{
    srv_t *s = arg;
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t items[2] = {{.socket = s->router, .events = ZMQ_POLLIN},
                                   {.socket = s->zap, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, s->zap ? 2 : 1, 20) <= 0)
            continue;
        if (s->zap && (items[1].revents & ZMQ_POLLIN))
            s_zap(s);
        if (items[0].revents & ZMQ_POLLIN)
            s_handle(s);
    }
    return NULL;
}

static srv_t *
s_srv_start(int drop_n, bool curve, bool zap_admit)
{
    srv_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->drop_n = drop_n;
    s->zap_admit = zap_admit;
    pthread_mutex_init(&s->mu, NULL);
    s->ctx = zmq_ctx_new();
    if (curve) {
        assert_int_equal(kp_keypair_generate(&s->keys), 0);
        s->zap = zmq_socket(s->ctx, ZMQ_REP);
        assert_int_equal(zmq_bind(s->zap, "inproc://zeromq.zap.01"), 0);
    }
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    assert_int_equal(kp_zsock_server(s->router, curve ? &s->keys : NULL), 0);
    assert_int_equal(zmq_bind(s->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof s->endpoint;
    assert_int_equal(zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &len), 0);
    assert_int_equal(pthread_create(&s->th, NULL, s_run, s), 0);
    return s;
}

static void
s_srv_stop(srv_t **s_p)
{
    srv_t *s = *s_p;
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    zmq_close(s->router);
    if (s->zap)
        zmq_close(s->zap);
    zmq_ctx_term(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *s_p = NULL;
}

static int
s_seen(srv_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->seen_n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* A client of endpoint (plain TCP) with the given timeout and attempts. */
static kpc_t *
s_client(const char *endpoint, int timeout_ms, int attempts)
{
    kpc_t *c = NULL;
    kpc_opts_t o = {.endpoint = endpoint, .timeout_ms = timeout_ms, .attempts = attempts};
    assert_int_equal(kpc_new(&c, &o), 0);
    return c;
}

static void
test_new_args(void **state)
{
    (void)state;
    kpc_t *c = NULL;
    kpc_opts_t o = {0};
    assert_int_equal(kpc_new(&c, NULL), KP_EINVAL);
    assert_int_equal(kpc_new(&c, &o), KP_EINVAL);
    o.endpoint = "nonsense";
    assert_int_equal(kpc_new(&c, &o), KP_ECONFIG);
    o.endpoint = "tcp://127.0.0.1:7999";
    o.server_pub = "not a key";
    assert_int_equal(kpc_new(&c, &o), KP_EKEY);
    kp_keypair_t kp;
    assert_int_equal(kp_keypair_generate(&kp), 0);
    o.server_pub = kp.pub; /* but no client keys */
    assert_int_equal(kpc_new(&c, &o), KP_EKEY);
    assert_null(c);
    kpc_destroy(&c); /* NULL is fine */
    kpc_destroy(NULL);
}

static void
test_timeout_bounded(void **state)
{
    (void)state;
    /* A port that was just free: nobody listens there. */
    char ep[64];
    void *ctx = zmq_ctx_new(), *tmp = zmq_socket(ctx, ZMQ_ROUTER);
    size_t len = sizeof ep;
    assert_int_equal(zmq_bind(tmp, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(tmp, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    zmq_close(tmp);
    zmq_ctx_term(ctx);

    kpc_t *c = s_client(ep, 200, 3);
    kpc_reply_t r;
    int64_t t0 = kp_mono_us() / 1000;
    assert_int_equal(kpc_call(c, "test.echo", "k", "x", 1, &r), KP_ETIMEOUT);
    int64_t ms = kp_mono_us() / 1000 - t0;
    assert_true(ms >= 590);  /* it did wait each attempt out */
    assert_true(ms <= 1500); /* and not longer than the bound */
    assert_null(r.body);
    kpc_reply_fini(&r);
    kpc_destroy(&c);
    assert_null(c);
}

static void
test_echo_skips_stale(void **state)
{
    (void)state;
    srv_t *s = s_srv_start(0, false, false);
    kpc_t *c = s_client(s->endpoint, 2000, 1);
    for (int i = 0; i < 3; i++) {
        kpc_reply_t r;
        assert_int_equal(kpc_call(c, "test.echo", NULL, "hello", 5, &r), 0);
        assert_int_equal(r.status.code, 0);
        assert_int_equal(r.body_len, 5);
        assert_memory_equal(r.body, "hello", 5);
        kpc_reply_fini(&r);
        assert_null(r.body);
    }
    /* An error status is still an answer. */
    kpc_reply_t r;
    assert_int_equal(kpc_call(c, "test.fail", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status.code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r.status.message, "field 'title': required");
    assert_string_equal(kpc_code_name(r.status.code), "INVALID");
    kpc_reply_fini(&r);
    assert_int_equal(kpc_call(c, NULL, NULL, NULL, 0, &r), KP_EINVAL);
    assert_int_equal(kpc_call(c, "test.echo", NULL, NULL, 3, &r), KP_EINVAL);
    static uint8_t big[KP_WIRE_MAX_FRAME + 1];
    assert_int_equal(kpc_call(c, "test.echo", NULL, big, sizeof big, &r), KP_ETOOBIG);
    kpc_destroy(&c);
    s_srv_stop(&s);
}

static void
test_resend_same_id_and_key(void **state)
{
    (void)state;
    srv_t *s = s_srv_start(2, false, false); /* ignores the first two sends */
    kpc_t *c = s_client(s->endpoint, 300, 3);
    kpc_reply_t r;
    assert_int_equal(kpc_call(c, "test.echo", "idem-1", "abc", 3, &r), 0);
    assert_int_equal(r.status.code, 0);
    assert_memory_equal(r.body, "abc", 3);
    kpc_reply_fini(&r);
    assert_int_equal(s_seen(s), 3);
    pthread_mutex_lock(&s->mu);
    assert_true(s->seen_ids[0] == s->seen_ids[1] && s->seen_ids[1] == s->seen_ids[2]);
    for (int i = 0; i < 3; i++)
        assert_string_equal(s->seen_keys[i], "idem-1");
    uint64_t first = s->seen_ids[0];
    pthread_mutex_unlock(&s->mu);

    /* The next call has a new id. */
    assert_int_equal(kpc_call(c, "test.echo", NULL, "d", 1, &r), 0);
    kpc_reply_fini(&r);
    pthread_mutex_lock(&s->mu);
    assert_true(s->seen_ids[3] == first + 1);
    pthread_mutex_unlock(&s->mu);
    kpc_destroy(&c);
    s_srv_stop(&s);
}

static void
test_typed(void **state)
{
    (void)state;
    srv_t *s = s_srv_start(0, false, false);
    kpc_t *c = s_client(s->endpoint, 2000, 2);
    kpc_status_t st;

    Kumppani__V1__HealthReply *h = NULL;
    assert_int_equal(kpc_health(c, &h, &st), 0);
    assert_int_equal(st.code, 0);
    assert_non_null(h);
    assert_string_equal(h->service, "events");
    assert_true(h->head_seq == 7);
    kpc_msg_destroy(&h);
    assert_null(h);
    kpc_msg_destroy(&h); /* NULL is fine */

    /* The service refuses: 0 with the status, and no message. */
    Kumppani__V1__SignupReply *sr = NULL;
    Kumppani__V1__SubmitSignupRequest req = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    req.event_id = 1;
    assert_int_equal(kpc_signup_submit(c, &req, &sr, &st), 0);
    assert_int_equal(st.code, KUMPPANI__V1__CODE__CODE_UNKNOWN_METHOD);
    assert_string_equal(st.message, "no such method");
    assert_null(sr);

    /* An OK reply with an undecodable body. */
    Kumppani__V1__EventReply *er = NULL;
    assert_int_equal(kpc_event_get(c, 1, &er, &st), KP_EDECODE);
    assert_null(er);

    /* create needs a key. */
    Kumppani__V1__CreateEventRequest cr = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    assert_int_equal(kpc_event_create(c, NULL, &cr, &er, &st), KP_EINVAL);
    assert_int_equal(kpc_event_create(c, "", &cr, &er, &st), KP_EINVAL);
    kpc_destroy(&c);
    s_srv_stop(&s);
}

static void
s_curve(bool admit)
{
    srv_t *s = s_srv_start(0, true, admit);
    kp_keypair_t ck;
    assert_int_equal(kp_keypair_generate(&ck), 0);
    kpc_t *c = NULL;
    kpc_opts_t o = {.endpoint = s->endpoint,
                    .server_pub = s->keys.pub,
                    .client_pub = ck.pub,
                    .client_sec = ck.sec,
                    .timeout_ms = 1000,
                    .attempts = 3};
    assert_int_equal(kpc_new(&c, &o), 0);
    kpc_reply_t r;
    int64_t t0 = kp_mono_us() / 1000;
    int rc = kpc_call(c, "test.echo", NULL, "sealed", 6, &r);
    if (admit) {
        assert_int_equal(rc, 0);
        assert_memory_equal(r.body, "sealed", 6);
    } else {
        assert_int_equal(rc, KP_EKEY);
        assert_true(kp_mono_us() / 1000 - t0 < 1000); /* noticed at once, not by timing out */
        assert_int_equal(s_seen(s), 0);
    }
    kpc_reply_fini(&r);
    kpc_destroy(&c);
    s_srv_stop(&s);
}

static void
test_curve_admitted(void **state)
{
    (void)state;
    s_curve(true);
}

static void
test_curve_refused(void **state)
{
    (void)state;
    s_curve(false);
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_new_args, test_timeout_bounded, test_echo_skips_stale,
                       test_resend_same_id_and_key, test_typed, test_curve_admitted,
                       test_curve_refused);
}
