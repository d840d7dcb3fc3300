/*  test_kp_helpers: the small shared helpers the services lean on, each against its contract.
 *
 *  kp_arena_grow (an array in the arena gains room by doubling, keeps its elements, and
 *  leaves *cap alone when the arena refuses), kp_arena_str_* (text that grows in the arena,
 *  "" when nothing was put, NULL once the arena refused), and, on a real kp_server, kp_tx_open
 *  (the unit of the call and its decoded body), kp_privacy_export_text (the export reply, or
 *  UNAVAILABLE when the document could not be built), kp_raw_set (a value stores, NULL
 *  deletes) and kp_check_limit (a list's page size: 0 means the default, above the most is
 *  CODE_INVALID naming the field and the rule). */
#include "kp_arena.h"
#include "kp_check.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kp_server.h"
#include "kp_test_server.h"
#include "kp_tx.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

/* ---- kp_arena_grow -------------------------------------------------------------------------- */

static void
test_grow_doubles_and_keeps(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < 100; i++) {
        v = kp_arena_grow(a, v, n, &cap, sizeof *v, 4);
        assert_non_null(v);
        assert_true(n < cap);
        v[n++] = i * 7;
    }
    assert_int_equal(cap, 128); /* 4, 8, 16, 32, 64, 128 */
    for (uint32_t i = 0; i < 100; i++)
        assert_int_equal(v[i], i * 7);
    /* Room to spare: the same array, the same room. */
    size_t before = cap;
    assert_ptr_equal(kp_arena_grow(a, v, 10, &cap, sizeof *v, 4), v);
    assert_int_equal(cap, before);
    kp_arena_destroy(&a);
}

static void
test_grow_refused(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1024);
    size_t cap = 0;
    uint64_t *v = kp_arena_grow(a, NULL, 0, &cap, sizeof *v, 64); /* 512 bytes */
    assert_non_null(v);
    assert_int_equal(cap, 64);
    for (size_t i = 0; i < 64; i++)
        v[i] = i;
    /* 1024 bytes more do not fit under the cap: NULL, the room and the elements as they were. */
    assert_null(kp_arena_grow(a, v, 64, &cap, sizeof *v, 64));
    assert_int_equal(cap, 64);
    assert_int_equal(kp_arena_refusals(a), 1);
    assert_int_equal(v[63], 63);
    /* A count whose bytes would overflow size_t is refused before any allocation. */
    size_t huge = SIZE_MAX / 2;
    assert_null(kp_arena_grow(a, v, huge, &huge, 16, 1));
    assert_int_equal(huge, SIZE_MAX / 2);
    kp_arena_destroy(&a);
}

/* ---- kp_arena_str --------------------------------------------------------------------------- */

static void
test_str_builds(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    kp_arena_str_t s = {.a = a};
    assert_string_equal(kp_arena_str_done(&s), ""); /* nothing put */
    kp_arena_str_puts(&s, "Jyväskylä");
    kp_arena_str_put(&s, ", Tampere", 5); /* only ", Tam" */
    assert_string_equal(kp_arena_str_done(&s), "Jyväskylä, Tam");
    assert_int_equal(s.len, strlen("Jyväskylä, Tam"));
    /* Past the first 256 bytes: the room doubles and the text so far is kept. */
    char line[100];
    memset(line, 'x', sizeof line);
    for (int i = 0; i < 10; i++)
        kp_arena_str_put(&s, line, sizeof line);
    char *t = kp_arena_str_done(&s);
    assert_non_null(t);
    assert_int_equal(strlen(t), strlen("Jyväskylä, Tam") + 1000);
    assert_int_equal(strncmp(t, "Jyväskylä, Tam", strlen("Jyväskylä, Tam")), 0);
    assert_int_equal(t[strlen(t) - 1], 'x');
    assert_int_equal(s.cap, 1024); /* 256, 512, 1024: 1016 bytes and the NUL */
    assert_false(s.oom);
    kp_arena_destroy(&a);
}

static void
test_str_refused(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(512);
    kp_arena_str_t s = {.a = a};
    kp_arena_str_puts(&s, "Oulu");
    char big[600];
    memset(big, 'y', sizeof big);
    kp_arena_str_put(&s, big, sizeof big); /* 1024 bytes of room do not fit */
    assert_true(s.oom);
    kp_arena_str_puts(&s, "!"); /* does nothing once refused */
    assert_true(s.oom);
    assert_null(kp_arena_str_done(&s));
    kp_arena_destroy(&a);
}

/* ---- kp_tx_open and kp_privacy_export_text on a real server ------------------------------- */

static int s_svc_marker;
static const char *const s_dbs[] = {"recs"};

/* "test.export": the unit and body through kp_tx_open; the document is the subject's e-mail
 * as JSON text, or none (NULL, as when it could not be built) when the e-mail is empty. */
static void
s_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__DataSubject *rq = kp_tx_open(&tx, call, svc);
    assert_ptr_equal(rq, kp_call_body(call));
    assert_ptr_equal(tx.call, call);
    assert_ptr_equal(tx.svc, &s_svc_marker);
    assert_ptr_equal(tx.arena, kp_call_arena(call));
    assert_int_equal(tx.now_ms, kp_call_now_ms(call));
    const char *json = NULL;
    if (rq->email[0]) {
        kp_arena_str_t s = {.a = tx.arena};
        kp_arena_str_puts(&s, "{\"email\":\"");
        kp_arena_str_puts(&s, rq->email);
        kp_arena_str_puts(&s, "\"}");
        json = kp_arena_str_done(&s);
    }
    /* An address starting "more": the service stopped at its cap. */
    kp_privacy_export_text(call, "helpers", json, strncmp(rq->email, "more", 4) == 0);
}

/* "test.limit": kp_check_limit(limit, 100, 500); the page size comes back in the reply's
 * limit. */
static void
s_limit(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListEventsRequest *rq = kp_tx_open(&tx, call, svc);
    Kumppani__V1__ListEventsRequest r = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
    r.limit = kp_check_limit(call, rq->limit, 100, 500);
    if (r.limit)
        kp_call_ok(call, &r.base);
}

static const kp_method_t s_methods[] = {
    KP_METHOD("test.export", KP_ROLE_ALL, data_subject, s_export),
    KP_METHOD("test.limit", KP_ROLE_ALL, list_events_request, s_limit),
};

static Kumppani__V1__Reply *
s_call_export(kp_test_srv_t *t, kp_arena_t *a, uint64_t request_id, const char *email)
{
    Kumppani__V1__DataSubject ds = KUMPPANI__V1__DATA_SUBJECT__INIT;
    ds.email = (char *)email;
    assert_true(kp_test_send(t->dealer, request_id, "test.export", &ds.base, 0));
    return kp_test_srv_reply(t, a, request_id, "test.export");
}

static Kumppani__V1__Reply *
s_call_limit(kp_test_srv_t *t, kp_arena_t *a, uint64_t request_id, uint32_t limit)
{
    Kumppani__V1__ListEventsRequest rq = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
    rq.limit = limit;
    assert_true(kp_test_send(t->dealer, request_id, "test.limit", &rq.base, 0));
    return kp_test_srv_reply(t, a, request_id, "test.limit");
}

/* One server for the helpers that need a unit of work or a call. */
static void
test_on_a_server(void **state)
{
    (void)state;
    kp_test_srv_t t;
    kp_server_opts_t o = {.service = "helperstest",
                          KP_TEST_DBS(s_dbs),
                          KP_TEST_METHODS(s_methods),
                          .svc = &s_svc_marker};
    assert_int_equal(kp_test_srv_start(&t, "kp_helpers", o, false), 0);
    kp_arena_t *a = kp_arena_new(4u << 20);

    /* kp_raw_set: a value stores, NULL deletes, and deleting what is absent is no error. */
    kp_tx_t tx;
    assert_int_equal(kp_tx_begin(&tx, t.srv, NULL, a, &s_svc_marker), 0);
    MDB_val v;
    bool found;
    assert_int_equal(kp_raw_set(&tx, 0, "k", 1, "abc", 3), 0);
    assert_int_equal(kp_raw_get(&tx, 0, "k", 1, &v, &found), 0);
    assert_true(found);
    assert_int_equal(v.mv_size, 3);
    assert_memory_equal(v.mv_data, "abc", 3);
    assert_int_equal(kp_raw_set(&tx, 0, "e", 1, "", 0), 0); /* a flag: an empty value */
    assert_int_equal(kp_raw_get(&tx, 0, "e", 1, &v, &found), 0);
    assert_true(found);
    assert_int_equal(v.mv_size, 0);
    assert_int_equal(kp_raw_set(&tx, 0, "k", 1, NULL, 3), 0);
    assert_int_equal(kp_raw_get(&tx, 0, "k", 1, &v, &found), 0);
    assert_false(found);
    assert_int_equal(kp_raw_set(&tx, 0, "k", 1, NULL, 0), 0);
    assert_int_equal(kp_server_commit(t.srv), 0);

    /* kp_tx_open and kp_privacy_export_text, through a call (with its more flag). */
    Kumppani__V1__Reply *r = s_call_export(&t, a, 1, "maija@example.fi");
    Kumppani__V1__PrivacyExportReply *e =
        kp_test_ok_body(r, &kumppani__v1__privacy_export_reply__descriptor, a);
    assert_string_equal(e->service, "helpers");
    assert_string_equal(e->json, "{\"email\":\"maija@example.fi\"}");
    assert_false(e->more);
    r = s_call_export(&t, a, 3, "more@example.fi");
    e = kp_test_ok_body(r, &kumppani__v1__privacy_export_reply__descriptor, a);
    assert_true(e->more);
    /* No document: the store's "retry later" answer, without a body. */
    r = s_call_export(&t, a, 2, "");
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_UNAVAILABLE);
    assert_non_null(strstr(r->status->message, "retry later"));
    assert_int_equal(r->body.len, 0);

    /* kp_check_limit: 0 is the default, 1..max as asked, above max refused with the rule. */
    const uint32_t asked[] = {0, 1, 7, 500}, page[] = {100, 1, 7, 500};
    for (size_t i = 0; i < sizeof asked / sizeof *asked; i++) {
        r = s_call_limit(&t, a, 10 + i, asked[i]);
        Kumppani__V1__ListEventsRequest *l =
            kp_test_ok_body(r, &kumppani__v1__list_events_request__descriptor, a);
        assert_int_equal(l->limit, page[i]);
    }
    r = s_call_limit(&t, a, 20, 501);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'limit': at most 500 (0: 100)");
    assert_int_equal(r->body.len, 0);

    kp_arena_destroy(&a);
    assert_int_equal(kp_test_srv_stop(&t), 0);
}

int
main(void)
{
    kp_log_init("test", KP_LOG_WARNING);
    return KP_TEST_RUN(NULL, NULL, test_grow_doubles_and_keeps, test_grow_refused, test_str_builds,
                       test_str_refused, test_on_a_server);
}
