/*  test_kp_idem: the start of an idempotent create, on a real kp_server. A method that requires
 *  the key refuses a request without one, naming the field and the method; with a key it runs
 *  once, and the same request again gets the first answer (the handler does not run again);
 *  the same key with other content is a conflict; another key runs again. kp_call_idem_key_ok
 *  alone checks the key and looks nothing up.
 *
 *  The test methods: "test.create" (EventRef) counts its runs and answers the count in
 *  event_id, behind kp_call_idem_required; "test.check" answers OK behind kp_call_idem_key_ok. */
#include "kp_arena.h"
#include "kp_idem.h"
#include "kp_server.h"
#include "kp_test_server.h"
#include "kp_time.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static uint64_t s_runs;

static void
s_create(kp_call_t *call, void *svc)
{
    (void)svc;
    if (kp_call_idem_required(call, "create"))
        return;
    Kumppani__V1__EventRef r = KUMPPANI__V1__EVENT_REF__INIT;
    r.event_id = ++s_runs;
    kp_call_ok(call, &r.base);
}

static void
s_check(kp_call_t *call, void *svc)
{
    (void)svc;
    if (kp_call_idem_key_ok(call, "check"))
        kp_call_ok(call, NULL);
}

static const char *const s_dbs[] = {"recs"};
static const kp_method_t s_methods[] = {
    {"test.create", KP_ROLE_ALL, &kumppani__v1__event_ref__descriptor, s_create},
    {"test.check", KP_ROLE_ALL, &kumppani__v1__event_ref__descriptor, s_check},
};

typedef struct {
    kp_test_srv_t t;
    kp_arena_t *a;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    kp_server_opts_t o = {.service = "idemtest", KP_TEST_DBS(s_dbs), KP_TEST_METHODS(s_methods)};
    if (kp_test_srv_start(&fx->t, "kp_idem", o, false) != 0)
        return -1;
    fx->a = kp_arena_new(4u << 20);
    s_runs = 0;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int rc = kp_test_srv_stop(&fx->t);
    kp_arena_destroy(&fx->a);
    free(fx);
    assert_int_equal(rc, 0);
    return rc;
}

/* One call of method with body EventRef{event_id} under key ("" for none). */
static Kumppani__V1__Reply *
s_call(fx_t *fx, uint64_t rid, const char *method, const char *key, uint64_t event_id)
{
    uint8_t body[64], frame[256];
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = rid;
    rq.method = (char *)method;
    rq.idempotency_key = (char *)key;
    rq.body.len = kumppani__v1__event_ref__pack(&ref, body);
    rq.body.data = body;
    size_t n = kumppani__v1__request__pack(&rq, frame);
    assert_int_equal(zmq_send(fx->t.dealer, frame, n, 0), (int)n);
    return kp_test_srv_reply(&fx->t, fx->a, rid, method);
}

static uint64_t
s_count(fx_t *fx, const Kumppani__V1__Reply *r)
{
    const Kumppani__V1__EventRef *ref =
        kp_test_ok_body(r, &kumppani__v1__event_ref__descriptor, fx->a);
    return ref->event_id;
}

static void
test_required(void **state)
{
    fx_t *fx = *state;
    Kumppani__V1__Reply *r = s_call(fx, 1, "test.create", "", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'idempotency_key': required for create");
    assert_int_equal(s_runs, 0);
    r = s_call(fx, 2, "test.check", "", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'idempotency_key': required for check");
    r = s_call(fx, 3, "test.check", "k", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
}

static void
test_first_answer(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_count(fx, s_call(fx, 1, "test.create", "key-1", 7)), 1);
    /* the same request again: the first answer, and the handler did not run */
    assert_int_equal(s_count(fx, s_call(fx, 2, "test.create", "key-1", 7)), 1);
    assert_int_equal(s_runs, 1);
    /* the same key with other content */
    Kumppani__V1__Reply *r = s_call(fx, 3, "test.create", "key-1", 8);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_CONFLICT);
    assert_int_equal(s_runs, 1);
    /* another key runs again */
    assert_int_equal(s_count(fx, s_call(fx, 4, "test.create", "key-2", 7)), 2);
}

int
main(void)
{
    kp_time_tz_init();
    return KP_TEST_RUN(s_setup, s_teardown, test_required, test_first_answer);
}
