/*  test_kp_wire: checked decoding (malformed frames, string rules at every depth, the
 *  decoding-memory bound), reply packing and code names.
 *
 *  Malformed inputs are written out byte by byte so that each one breaks exactly one rule;
 *  good inputs are packed with the generated code. The error texts are compared exactly:
 *  they are part of the API (clients show them, and they must never echo the value). */
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_wire.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

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
#include "kp_unit.h"

#define REQ (&kumppani__v1__request__descriptor)
#define SIGNUP (&kumppani__v1__submit_signup_request__descriptor)

typedef struct {
    kp_arena_t *a;
    char why[KP_WIRE_WHY];
    int err;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->a = kp_arena_new(KP_WIRE_DECODE_CAP);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    kp_arena_destroy(&fx->a);
    free(fx);
    return 0;
}

/* Unpacks len bytes at p as d and expects failure with err and exactly this reason. Then
 * asks kp_wire_check, which never allocates: it must give the same answer, unless the fault is
 * one only the decoder finds (memory, or a wire type that does not fit the field). */
static void
s_expect_fail(fx_t *fx, const ProtobufCMessageDescriptor *d, const void *p, size_t len, int err,
              const char *why)
{
    fx->err = 12345;
    fx->why[0] = 0;
    ProtobufCMessage *m = kp_wire_unpack(d, fx->a, p, len, &fx->err, fx->why, sizeof fx->why);
    assert_null(m);
    assert_int_equal(fx->err, err);
    assert_string_equal(fx->why, why);
    char why2[KP_WIRE_WHY] = "";
    int rc = kp_wire_check(d, p, len, why2, sizeof why2);
    if (rc == 0) {
        assert_true(err == KP_ENOMEM || err == KP_EDECODE);
    } else {
        assert_int_equal(rc, err);
        assert_string_equal(why2, why);
    }
}

static void
test_request_good(void **state)
{
    fx_t *fx = *state;
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = 0x1122334455667788ull;
    rq.method = "events.signup.submit";
    rq.idempotency_key = "portal:Äänekoski:42";
    uint8_t body[] = {0x00, 0xff, 0x0a, 0xc3}; /* bytes, not text: no checks apply */
    rq.body.data = body;
    rq.body.len = sizeof body;
    uint8_t buf[256];
    size_t n = kumppani__v1__request__pack(&rq, buf);
    assert_int_equal(kp_wire_check(REQ, buf, n, fx->why, sizeof fx->why), 0);
    Kumppani__V1__Request *out = (Kumppani__V1__Request *)kp_wire_unpack(
        REQ, fx->a, buf, n, &fx->err, fx->why, sizeof fx->why);
    assert_non_null(out);
    assert_int_equal(fx->err, 0);
    assert_true(out->request_id == rq.request_id);
    assert_string_equal(out->method, rq.method);
    assert_string_equal(out->idempotency_key, rq.idempotency_key);
    assert_int_equal(out->body.len, sizeof body);
    assert_memory_equal(out->body.data, body, sizeof body);
    /* Decoded from the arena: the memory is counted there. */
    assert_true(kp_arena_used(fx->a) > 0);

    /* The empty message is a valid Request. */
    assert_non_null(kp_wire_unpack(REQ, fx->a, buf, 0, &fx->err, fx->why, sizeof fx->why));
}

static void
test_signup_good(void **state)
{
    fx_t *fx = *state;
    Kumppani__V1__SubmitSignupRequest s = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    s.event_id = 7;
    s.source = "county-portal";
    s.external_id = "A-1";
    s.name = "Päivi Öhman-Åberg 😀";
    s.email = "paivi@example.fi";
    s.phone = "+358 40 123 4567";
    s.organisation = "Etelä-Pohjanmaan Järjestöt ry";
    s.role = KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_NGO;
    s.consent_reminders = 1;
    s.language = "fi";
    uint8_t buf[512];
    size_t n = kumppani__v1__submit_signup_request__pack(&s, buf);
    Kumppani__V1__SubmitSignupRequest *o = (Kumppani__V1__SubmitSignupRequest *)kp_wire_unpack(
        SIGNUP, fx->a, buf, n, &fx->err, fx->why, sizeof fx->why);
    assert_non_null(o);
    assert_int_equal(o->event_id, 7);
    assert_string_equal(o->name, s.name);
    assert_string_equal(o->organisation, s.organisation);
    assert_int_equal(o->role, KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_NGO);
    assert_true(o->consent_reminders);
}

static void
test_malformed(void **state)
{
    fx_t *fx = *state;
    static const uint8_t trunc_varint[] = {0x08, 0x80}; /* request_id: no end */
    static const uint8_t trunc_tag[] = {0x80};          /* tag varint cut */
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0x01}; /* 11 bytes */
    static const uint8_t bad_len[] = {0x12, 0x05, 'a', 'b'};                /* method: 5 promised */
    static const uint8_t huge_len[] = {0x22, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* body: 4 GiB */
    static const uint8_t wt3[] = {0x0b}; /* field 1, start group */
    static const uint8_t wt4[] = {0x0c}; /* field 1, end group */
    static const uint8_t wt6[] = {0x0e, 0x00};
    static const uint8_t wt7[] = {0x0f, 0x00};
    static const uint8_t field0[] = {0x00, 0x01};         /* field number 0 */
    static const uint8_t fixed64_cut[] = {0x09, 1, 2, 3}; /* wire type 1, 3 of 8 */
    static const uint8_t fixed32_cut[] = {0x0d, 1, 2};    /* wire type 5, 2 of 4 */
    static const uint8_t after_good[] = {0x08, 0x01, 0x12, 0x01, 'x', 0x1a}; /* cut tag's len */
    const struct {
        const uint8_t *p;
        size_t len;
    } cases[] = {
        {trunc_varint, sizeof trunc_varint},
        {trunc_tag, sizeof trunc_tag},
        {long_varint, sizeof long_varint},
        {bad_len, sizeof bad_len},
        {huge_len, sizeof huge_len},
        {wt3, sizeof wt3},
        {wt4, sizeof wt4},
        {wt6, sizeof wt6},
        {wt7, sizeof wt7},
        {field0, sizeof field0},
        {fixed64_cut, sizeof fixed64_cut},
        {fixed32_cut, sizeof fixed32_cut},
        {after_good, sizeof after_good},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx->why[0] = 0;
        int rc = kp_wire_check(REQ, cases[i].p, cases[i].len, fx->why, sizeof fx->why);
        if (rc != KP_EDECODE)
            fail_msg("case %zu: kp_wire_check returned %d", i, rc);
        assert_string_equal(fx->why, "malformed protobuf");
        s_expect_fail(fx, REQ, cases[i].p, cases[i].len, KP_EDECODE, "malformed protobuf");
    }
    /* Same faults inside a SubmitSignupRequest. */
    static const uint8_t s_wt3[] = {0x08, 0x07, 0x23};
    s_expect_fail(fx, SIGNUP, s_wt3, sizeof s_wt3, KP_EDECODE, "malformed protobuf");
    static const uint8_t s_len[] = {0x22, 0x09, 'P', 'a'};
    s_expect_fail(fx, SIGNUP, s_len, sizeof s_len, KP_EDECODE, "malformed protobuf");
}

static void
test_wrong_wire_type(void **state)
{
    fx_t *fx = *state;
    /* name (field 4, a string) sent as a varint: well-formed wire format, wrong type. The walk
     * refuses it and names the field, before protobuf-c sees it. */
    static const uint8_t p[] = {0x20, 0x05};
    int err = 0;
    assert_null(kp_wire_unpack(SIGNUP, fx->a, p, sizeof p, &err, fx->why, sizeof fx->why));
    assert_int_equal(err, KP_EINVAL);
    assert_string_equal(fx->why, "field 'name': must be a string");
}

/* Consent must be explicit: a bool sent as anything but the varint 0 or 1 is refused, where
 * protobuf-c alone would decode it as true. consent_reminders is field 9 of
 * SubmitSignupRequest. */
static void
test_consent_wire_type(void **state)
{
    fx_t *fx = *state;
    static const uint8_t as_string[] = {0x4a, 0x03, 'y', 'e', 's'}; /* field 9, wire type 2 */
    static const uint8_t as_fixed32[] = {0x4d, 1, 0, 0, 0};         /* field 9, wire type 5 */
    static const uint8_t as_fixed64[] = {0x49, 1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t as_two[] = {0x48, 0x02}; /* varint 2 */
    const struct {
        const uint8_t *p;
        size_t len;
    } bad[] = {{as_string, sizeof as_string},
               {as_fixed32, sizeof as_fixed32},
               {as_fixed64, sizeof as_fixed64},
               {as_two, sizeof as_two}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = 0;
        fx->why[0] = 0;
        if (kp_wire_unpack(SIGNUP, fx->a, bad[i].p, bad[i].len, &err, fx->why, sizeof fx->why))
            fail_msg("case %zu: a malformed consent was decoded", i);
        assert_int_equal(err, KP_EINVAL);
        assert_string_equal(fx->why, "field 'consent_reminders': must be a bool (varint 0 or 1)");
    }
    /* Protobuf-c alone would have said yes: the reason for the check. */
    Kumppani__V1__SubmitSignupRequest *loose =
        kumppani__v1__submit_signup_request__unpack(NULL, sizeof as_string, as_string);
    if (loose) {
        assert_true(loose->consent_reminders);
        kumppani__v1__submit_signup_request__free_unpacked(loose, NULL);
    }
    /* The explicit forms pass. */
    static const uint8_t yes[] = {0x48, 0x01}, no[] = {0x48, 0x00};
    int err = 0;
    Kumppani__V1__SubmitSignupRequest *o = (Kumppani__V1__SubmitSignupRequest *)kp_wire_unpack(
        SIGNUP, fx->a, yes, sizeof yes, &err, fx->why, sizeof fx->why);
    assert_non_null(o);
    assert_true(o->consent_reminders);
    o = (Kumppani__V1__SubmitSignupRequest *)kp_wire_unpack(SIGNUP, fx->a, no, sizeof no, &err,
                                                            fx->why, sizeof fx->why);
    assert_non_null(o);
    assert_false(o->consent_reminders);
    /* An enum sent as a string is named too. */
    static const uint8_t role_str[] = {0x42, 0x01, 'x'}; /* role (field 8) as a string */
    assert_null(
        kp_wire_unpack(SIGNUP, fx->a, role_str, sizeof role_str, &err, fx->why, sizeof fx->why));
    assert_int_equal(err, KP_EINVAL);
    assert_string_equal(fx->why, "field 'role': must be an enum value (varint)");
}

static void
test_string_rules(void **state)
{
    fx_t *fx = *state;
    /* SubmitSignupRequest.name is field 4 (tag 0x22). */
    static const uint8_t bad_utf8[] = {0x08, 0x01, 0x22, 0x03, 'M', 0xc3, 0x28};
    s_expect_fail(fx, SIGNUP, bad_utf8, sizeof bad_utf8, KP_EINVAL,
                  "field 'name': not valid UTF-8");
    static const uint8_t overlong[] = {0x22, 0x02, 0xc0, 0x80};
    s_expect_fail(fx, SIGNUP, overlong, sizeof overlong, KP_EINVAL,
                  "field 'name': not valid UTF-8");
    static const uint8_t ctrl[] = {0x2a, 0x04, 'a', '@', 'b', '\r'}; /* email, field 5 */
    s_expect_fail(fx, SIGNUP, ctrl, sizeof ctrl, KP_EINVAL,
                  "field 'email': control character not allowed");
    static const uint8_t lf[] = {0x3a, 0x02, 'x', '\n'}; /* organisation: not *_text */
    s_expect_fail(fx, SIGNUP, lf, sizeof lf, KP_EINVAL,
                  "field 'organisation': control character not allowed");
    static const uint8_t c1[] = {0x52, 0x02, 0xc2, 0x85}; /* language, field 10 */
    s_expect_fail(fx, SIGNUP, c1, sizeof c1, KP_EINVAL,
                  "field 'language': control character not allowed");
    /* The envelope's own strings. */
    static const uint8_t method[] = {0x08, 0x02, 0x12, 0x02, 'a', 0x7f};
    s_expect_fail(fx, REQ, method, sizeof method, KP_EINVAL,
                  "field 'method': control character not allowed");
    /* The first bad field is the one named, and a good field before it does not matter. */
    static const uint8_t two[] = {0x12, 0x01, 'm', 0x1a, 0x01, 0xff, 0x12, 0x01, 0x01};
    s_expect_fail(fx, REQ, two, sizeof two, KP_EINVAL, "field 'idempotency_key': not valid UTF-8");
    /* bytes fields are not text: body may hold anything. */
    static const uint8_t body[] = {0x22, 0x03, 0x00, 0xc0, 0x0d};
    int err;
    assert_non_null(kp_wire_unpack(REQ, fx->a, body, sizeof body, &err, fx->why, sizeof fx->why));
}

static void
test_embedded_nul(void **state)
{
    fx_t *fx = *state;
    static const uint8_t p[] = {0x22, 0x05, 'M', 'a', 0x00, 'x', 'y'};
    /* protobuf-c alone accepts it and the C string silently ends at the NUL: */
    Kumppani__V1__SubmitSignupRequest *raw =
        kumppani__v1__submit_signup_request__unpack(NULL, sizeof p, p);
    assert_non_null(raw);
    assert_string_equal(raw->name, "Ma");
    kumppani__v1__submit_signup_request__free_unpacked(raw, NULL);
    /* kp_wire sees the true length and refuses. */
    s_expect_fail(fx, SIGNUP, p, sizeof p, KP_EINVAL, "field 'name': NUL byte not allowed");
}

static void
test_nested_path(void **state)
{
    fx_t *fx = *state;
    /* SignupReply { signup (1): Signup { id: 3, name (5): "a\x01" } } */
    static const uint8_t p[] = {0x0a, 0x06, 0x08, 0x03, 0x2a, 0x02, 'a', 0x01};
    s_expect_fail(fx, &kumppani__v1__signup_reply__descriptor, p, sizeof p, KP_EINVAL,
                  "field 'signup.name': control character not allowed");
    /* ListSignupsReply { signups (2) [good, bad] }: repeated sub-messages are all walked. */
    static const uint8_t q[] = {0x12, 0x03, 0x2a, 0x01, 'a', 0x12, 0x04, 0x32, 0x02, 0xed, 0xa0};
    s_expect_fail(fx, &kumppani__v1__list_signups_reply__descriptor, q, sizeof q, KP_EINVAL,
                  "field 'signups.email': not valid UTF-8");
    /* ReplayPage { events (1): Event { type (4): NUL } } */
    static const uint8_t r[] = {0x0a, 0x03, 0x22, 0x01, 0x00};
    s_expect_fail(fx, &kumppani__v1__replay_page__descriptor, r, sizeof r, KP_EINVAL,
                  "field 'events.type': NUL byte not allowed");
    /* A malformed sub-message is malformed even when the outer length is right. */
    static const uint8_t s[] = {0x0a, 0x02, 0x2a, 0x05};
    s_expect_fail(fx, &kumppani__v1__signup_reply__descriptor, s, sizeof s, KP_EDECODE,
                  "malformed protobuf");
}

static void
test_why_never_echoes(void **state)
{
    fx_t *fx = *state;
    static const uint8_t p[] = {0x22, 0x0a, 'S', 'E', 'C', 'R', 'E', 'T', 'N', 'A', 'M', 0x01};
    s_expect_fail(fx, SIGNUP, p, sizeof p, KP_EINVAL,
                  "field 'name': control character not allowed");
    assert_null(strstr(fx->why, "SECRET"));
    /* A short buffer truncates and terminates. */
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(kp_wire_check(SIGNUP, p, sizeof p, small, sizeof small), KP_EINVAL);
    assert_string_equal(small, "field '");
}

static void
test_too_big(void **state)
{
    fx_t *fx = *state;
    size_t n = KP_WIRE_HARD_MAX + 1;
    uint8_t *p = calloc(1, n);
    assert_int_equal(kp_wire_check(REQ, p, n, fx->why, sizeof fx->why), KP_ETOOBIG);
    int err = 0;
    assert_null(kp_wire_unpack(REQ, fx->a, p, n, &err, fx->why, sizeof fx->why));
    assert_int_equal(err, KP_ETOOBIG);
    free(p);
}

/* A ReplayPage of n_events empty Event sub-messages (2 bytes each on the wire). */
static uint8_t *
s_empty_events(size_t n_events, size_t *len)
{
    uint8_t *p = malloc(2 * n_events);
    for (size_t i = 0; i < n_events; i++) {
        p[2 * i] = 0x0a;
        p[2 * i + 1] = 0x00;
    }
    *len = 2 * n_events;
    return p;
}

static void
test_decode_memory_bound(void **state)
{
    (void)state;
    size_t len;
    const size_t n_events = 30 * 1024; /* 60 KiB of input, under KP_WIRE_MAX_FRAME */
    uint8_t *p = s_empty_events(n_events, &len);
    assert_true(len <= KP_WIRE_MAX_FRAME);
    char why[KP_WIRE_WHY];
    int err = 0;

    kp_arena_t *small = kp_arena_new(256 * 1024);
    size_t refused = kp_arena_refusals(small);
    assert_null(kp_wire_unpack(&kumppani__v1__replay_page__descriptor, small, p, len, &err, why,
                               sizeof why));
    assert_int_equal(err, KP_ENOMEM);
    assert_string_equal(why, "message too complex to decode");
    assert_true(kp_arena_refusals(small) > refused);
    assert_true(kp_arena_used(small) <= 256 * 1024);
    kp_arena_destroy(&small);

    /* The service's own per-request cap is also enough to refuse it. */
    kp_arena_t *req = kp_arena_new(KP_WIRE_DECODE_CAP);
    assert_null(
        kp_wire_unpack(&kumppani__v1__replay_page__descriptor, req, p, len, &err, why, sizeof why));
    assert_int_equal(err, KP_ENOMEM);
    assert_true(kp_arena_used(req) <= KP_WIRE_DECODE_CAP);
    kp_arena_destroy(&req);

    /* Given enough memory the same bytes decode: it was the bound, not the input. */
    kp_arena_t *big = kp_arena_new(64u << 20);
    Kumppani__V1__ReplayPage *page = (Kumppani__V1__ReplayPage *)kp_wire_unpack(
        &kumppani__v1__replay_page__descriptor, big, p, len, &err, why, sizeof why);
    assert_non_null(page);
    assert_int_equal(err, 0);
    assert_int_equal(page->n_events, n_events);
    assert_int_equal(page->events[n_events - 1]->seq, 0);
    assert_string_equal(page->events[0]->type, "");
    /* ~4 MB for 60 KiB: the amplification the bound exists for. */
    assert_true(kp_arena_used(big) > 20 * len);
    kp_arena_destroy(&big);
    free(p);
}

static void
test_reply_round_trip(void **state)
{
    fx_t *fx = *state;
    uint8_t *out;
    size_t out_len;
    static const uint8_t body[] = {1, 2, 3, 0, 255};
    assert_int_equal(kp_wire_reply(fx->a, 42, KUMPPANI__V1__CODE__CODE_INVALID,
                                   "field 'name': must not be empty", body, sizeof body, &out,
                                   &out_len),
                     0);
    Kumppani__V1__Reply *r = (Kumppani__V1__Reply *)kp_wire_unpack(
        &kumppani__v1__reply__descriptor, fx->a, out, out_len, &fx->err, fx->why, sizeof fx->why);
    assert_non_null(r);
    assert_int_equal(r->request_id, 42);
    assert_non_null(r->status);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'name': must not be empty");
    assert_int_equal(r->body.len, sizeof body);
    assert_memory_equal(r->body.data, body, sizeof body);

    /* NULL message and body. */
    assert_int_equal(kp_wire_reply(fx->a, UINT64_MAX, KUMPPANI__V1__CODE__CODE_OK, NULL, NULL, 0,
                                   &out, &out_len),
                     0);
    r = (Kumppani__V1__Reply *)kp_wire_unpack(&kumppani__v1__reply__descriptor, fx->a, out, out_len,
                                              &fx->err, fx->why, sizeof fx->why);
    assert_non_null(r);
    assert_true(r->request_id == UINT64_MAX);
    assert_string_equal(r->status->message, "");
    assert_int_equal(r->body.len, 0);

    /* Packing into a full arena fails cleanly. */
    kp_arena_t *tiny = kp_arena_new(16);
    assert_int_equal(kp_wire_reply(tiny, 1, KUMPPANI__V1__CODE__CODE_INVALID,
                                   "a message longer than sixteen bytes", NULL, 0, &out, &out_len),
                     KP_ENOMEM);
    kp_arena_destroy(&tiny);
}

static void
test_code_name(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {KUMPPANI__V1__CODE__CODE_OK, "OK"},
        {KUMPPANI__V1__CODE__CODE_BAD_REQUEST, "BAD_REQUEST"},
        {KUMPPANI__V1__CODE__CODE_INVALID, "INVALID"},
        {KUMPPANI__V1__CODE__CODE_UNKNOWN_METHOD, "UNKNOWN_METHOD"},
        {KUMPPANI__V1__CODE__CODE_TOO_LARGE, "TOO_LARGE"},
        {KUMPPANI__V1__CODE__CODE_INTERNAL, "INTERNAL"},
        {10, "UNKNOWN"},
        {-1, "UNKNOWN"},
    };
    for (size_t i = 0; i < KP_UNIT_N(names); i++)
        assert_string_equal(kp_wire_code_name(names[i].code), names[i].name);
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_request_good, test_signup_good, test_malformed,
                       test_wrong_wire_type, test_consent_wire_type, test_string_rules,
                       test_embedded_nul, test_nested_path, test_why_never_echoes, test_too_big,
                       test_decode_memory_bound, test_reply_round_trip, test_code_name);
}
