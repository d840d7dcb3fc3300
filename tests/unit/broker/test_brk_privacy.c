/*  test_brk_privacy: the broker's personal-data rules on plain values
 *  (common/kp_privacy.c: kp_privacy_email_eq, kp_privacy_phone_eq; match.c: brk_requester_held,
 *  brk_requester_clear, brk_request_ended_ms), which decide whom broker.privacy.erase/export
 *  and the retention pass of privacy.c touch. Each assertion fails if its rule is wrong or
 *  missing. */
#include "broker.h"
#include "kp_privacy.h"

#include <stdint.h>
#include <string.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x

/* The subject's matching rules (common/kp_privacy.c): a, b and whether they are one subject. */
static const struct {
    bool (*eq)(const char *, const char *);
    const char *a, *b;
    bool same;
} s_match_cases[] = {
    {kp_privacy_email_eq, "Liisa.V@Example.FI", "liisa.v@example.fi", true},
    {kp_privacy_email_eq, "liisa.v@example.fi", "liisa.v@example.fi.evil", false},
    {kp_privacy_email_eq, "liisa.v@example.fi", "liisa@example.fi", false},
    {kp_privacy_email_eq, "", "", false}, /* an empty e-mail matches nothing */
    {kp_privacy_email_eq, "a@b.fi", "", false},
    {kp_privacy_phone_eq, "+358 40 123 4567", "+358401234567", true},
    {kp_privacy_phone_eq, "040-123 4567", "0401234567", true},
    /* A Finnish national number is the same as its international form, however written. */
    {kp_privacy_phone_eq, "+358401234567", "0401234567", true},
    {kp_privacy_phone_eq, "040 123 4567", "00358 40 1234567", true},
    {kp_privacy_phone_eq, "+46401234567", "0401234567", false},
    {kp_privacy_phone_eq, "+358401234567", "+358401234568", false},
    {kp_privacy_phone_eq, "", "", false},
    {kp_privacy_phone_eq, "+", "+", false},
    {kp_privacy_phone_eq, "n/a", "none", false},
};

static void
t_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_match_cases / sizeof s_match_cases[0]; i++)
        if (s_match_cases[i].eq(s_match_cases[i].a, s_match_cases[i].b) != s_match_cases[i].same)
            fail_msg("\"%s\" and \"%s\": want %s", s_match_cases[i].a, s_match_cases[i].b,
                     s_match_cases[i].same ? "one subject" : "two");
    char out[32];
    kp_privacy_phone_norm("  040-123 4567", out, sizeof out);
    assert_string_equal(out, "+358401234567");
    kp_privacy_phone_norm("+46 8 123", out, sizeof out);
    assert_string_equal(out, "+468123");
    kp_privacy_phone_digits("040-123 4567", out, sizeof out);
    assert_string_equal(out, "0401234567");
}

/* An empty request whose input is in (emptied too): what a rule reads of a request. */
static brk_request_t
s_request(Kumppani__V1__BrokerRequestInput *in)
{
    brk_request_t rq = KUMPPANI__V1__BROKER_REQUEST__INIT;
    kumppani__v1__broker_request_input__init(in);
    rq.input = in;
    return rq;
}

static void
t_held(void **state)
{
    (void)state;
    Kumppani__V1__BrokerRequestInput in;
    brk_request_t rq = s_request(&in);
    in.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_ORGANISATION;
    in.requester_name = "Seinäjoen kaupunki";
    assert_false(brk_requester_held(&rq)); /* an organisation's name is not a person's */
    in.contact_phone = "+358401234567";
    assert_true(brk_requester_held(&rq));
    in.contact_phone = "";
    in.contact_name = "Olli";
    assert_true(brk_requester_held(&rq));
    in.contact_name = "";
    in.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON;
    assert_true(brk_requester_held(&rq)); /* a private requester's own name */
    in.requester_name = "";
    assert_false(brk_requester_held(&rq));
    /* brk_requester_clear empties what brk_requester_held looks at, and nothing else */
    in.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_ORGANISATION;
    in.requester_name = "Seinäjoen kaupunki";
    in.contact_name = "Olli";
    in.contact_email = "olli@example.fi";
    in.contact_phone = "+358401234567";
    in.title = "Mielenterveysilta";
    brk_requester_clear(&in);
    assert_false(brk_requester_held(&rq));
    assert_string_equal(in.contact_name, "");
    assert_string_equal(in.contact_email, "");
    assert_string_equal(in.contact_phone, "");
    assert_string_equal(in.requester_name, "Seinäjoen kaupunki"); /* an organisation stays */
    assert_string_equal(in.title, "Mielenterveysilta");
    in.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON;
    in.requester_name = "Liisa Virtanen";
    brk_requester_clear(&in);
    assert_string_equal(in.requester_name, ""); /* a private requester's own name goes */
    assert_false(brk_requester_held(&rq));
}

static void
t_ended(void **state)
{
    (void)state;
    Kumppani__V1__BrokerRequestInput in;
    brk_request_t rq = s_request(&in);
    in.start_unix = 2000000000;
    in.duration_min = 90;
    rq.created_ms = 1000;
    rq.state = RS(OPEN);
    assert_int_equal(brk_request_ended_ms(&rq), 0);
    rq.state = RS(CANCELLED);
    rq.closed_ms = 5000;
    assert_int_equal(brk_request_ended_ms(&rq), 5000);
    rq.state = RS(UNFILLED);
    assert_int_equal(brk_request_ended_ms(&rq), 5000);
    rq.state = RS(FILLED);
    rq.filled_ms = 7000;
    /* filled: when the event was over, not when it filled */
    assert_int_equal(brk_request_ended_ms(&rq), (2000000000LL + 90 * 60) * 1000);
}

/* The walk that finds a subject's records stops at its cap and says there is more, for experts
 * as for requests: a caller learns that the list is cut, and the walk does not read the rest
 * of the database. A cap of 2 over three matching records of each kind (the shipped callbacks,
 * driven as brk_each_rec drives them). */
static void
t_find_cap(void **state)
{
    (void)state;
    Kumppani__V1__DataSubject s = KUMPPANI__V1__DATA_SUBJECT__INIT;
    s.email = "liisa.v@example.fi";
    Kumppani__V1__ExpertInput p = KUMPPANI__V1__EXPERT_INPUT__INIT, other = p;
    p.email = "Liisa.V@example.fi";
    other.email = "olli@example.fi";
    brk_expert_t e = KUMPPANI__V1__EXPERT__INIT;
    Kumppani__V1__BrokerRequestInput in;
    brk_request_t rq = s_request(&in);
    in.contact_email = "liisa.v@example.fi";
    uint64_t ids[2];
    brk_find_t fe = {.s = &s, .ids = ids, .cap = 2};
    e.profile = &other; /* not the subject: neither kept nor counted */
    assert_int_equal(brk_find_expert(&fe, 1, &e), 0);
    e.profile = &p;
    assert_int_equal(brk_find_expert(&fe, 2, &e), 0);
    assert_int_equal(brk_find_expert(&fe, 3, &e), 0);
    assert_false(fe.more);
    assert_int_equal(brk_find_expert(&fe, 4, &e), 1); /* the third: the walk stops */
    assert_true(fe.more);
    assert_int_equal(fe.n, 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    brk_find_t fr = {.s = &s, .ids = ids, .cap = 2};
    assert_int_equal(brk_find_request(&fr, 5, &rq), 0);
    assert_int_equal(brk_find_request(&fr, 6, &rq), 0);
    assert_false(fr.more);
    assert_int_equal(brk_find_request(&fr, 7, &rq), 1);
    assert_true(fr.more);
    assert_int_equal(fr.n, 2);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 6);
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, t_match, t_held, t_ended, t_find_cap);
}
