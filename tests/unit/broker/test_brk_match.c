/*  test_brk_match: the broker's eligibility rules and fair ranking on plain values
 *  (services/expert-broker/match.c: brk_ineligible, brk_history_add, brk_rank,
 *  brk_requester_key_fmt).
 *
 *  Times are Helsinki wall-clock times (kp_time_from_local), as the rules read them: a
 *  request starting Monday 2027-03-15 10:00, for 90 minutes, in Seinäjoki (743), in Finnish,
 *  about mental health. Each test starts from an expert who is eligible for it and breaks one
 *  rule at a time, so that every assertion could fail if that rule were wrong or missing. */
#include "broker.h"
#include "kp_time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x
#define DAY_MS (24LL * 3600 * 1000)

/* Unix seconds of a Helsinki wall-clock time. */
static int64_t
s_local(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    int64_t s = 0;
    assert_int_equal(kp_time_from_local(&tm, &s), 0);
    return s;
}

typedef struct {
    brk_expert_t e;
    Kumppani__V1__ExpertInput p;
    Kumppani__V1__WeeklySlot slot;
    Kumppani__V1__WeeklySlot *slots[1];
    char *expertise[2], *languages[2], *munis[1], *blocked[1];
    Kumppani__V1__BrokerRequestInput in;
    char *in_expertise[2];
    brk_history_t h;
    const char *why[BRK_REASONS_MAX];
} fx_t;

/* An expert eligible for the request, and the request. */
static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    kumppani__v1__expert__init(&f->e);
    kumppani__v1__expert_input__init(&f->p);
    kumppani__v1__weekly_slot__init(&f->slot);
    kumppani__v1__broker_request_input__init(&f->in);
    f->e.id = 7;
    f->e.profile = &f->p;
    f->p.consent = true;
    f->expertise[0] = "substance-use";
    f->expertise[1] = "mental-health";
    f->p.expertise = f->expertise;
    f->p.n_expertise = 2;
    f->languages[0] = "sv";
    f->languages[1] = "fi";
    f->p.languages = f->languages;
    f->p.n_languages = 2;
    f->munis[0] = "743";
    f->p.municipalities = f->munis;
    f->p.n_municipalities = 1;
    f->in_expertise[0] = "mental-health";
    f->in.expertise = f->in_expertise;
    f->in.n_expertise = 1;
    f->in.language = "fi";
    f->in.municipality = "743";
    f->in.start_unix = s_local(2027, 3, 15, 10, 0); /* a Monday */
    f->in.duration_min = 90;
    f->in.requester_name = "";
    f->in.contact_email = "";
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    free(*state);
    return 0;
}

static size_t
s_why(fx_t *f)
{
    return brk_ineligible(&f->e, &f->in, &f->h, f->why);
}

static void
s_only(fx_t *f, const char *reason)
{
    size_t n = s_why(f);
    if (n != 1)
        fail_msg("expected only '%s', got %zu reasons (first '%s')", reason, n,
                 n ? f->why[0] : "-");
    assert_string_equal(f->why[0], reason);
}

/* The expert's only weekly slot: weekday (1 = Monday), from_minute to to_minute. */
static void
s_slot(fx_t *f, uint32_t weekday, uint32_t from_minute, uint32_t to_minute)
{
    f->slots[0] = &f->slot;
    f->p.availability = f->slots;
    f->p.n_availability = 1;
    f->slot.weekday = weekday;
    f->slot.from_minute = from_minute;
    f->slot.to_minute = to_minute;
}

static void
test_eligible_baseline(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_why(f), 0);
}

static void
test_expertise(void **state)
{
    fx_t *f = *state;
    f->in_expertise[0] = "youth";
    s_only(f, "expertise");
    f->in_expertise[1] = "substance-use"; /* one of the areas asked for is enough */
    f->in.n_expertise = 2;
    assert_int_equal(s_why(f), 0);
}

static void
test_language(void **state)
{
    fx_t *f = *state;
    f->in.language = "en";
    s_only(f, "language");
    f->in.language = "sv";
    assert_int_equal(s_why(f), 0);
}

static void
test_area_and_remote(void **state)
{
    fx_t *f = *state;
    f->in.municipality = "091";
    s_only(f, "area");
    f->in.remote = true; /* remote helps only when remote work suits the expert */
    s_only(f, "area");
    f->p.remote_ok = true;
    assert_int_equal(s_why(f), 0);
    f->in.municipality = ""; /* a remote request without a place */
    assert_int_equal(s_why(f), 0);
    f->p.remote_ok = false;
    s_only(f, "area");
}

static void
test_availability_window(void **state)
{
    fx_t *f = *state;
    s_slot(f, 1, 9 * 60, 11 * 60 + 30); /* Monday 9:00-11:30 holds 10:00 + 90 min */
    assert_int_equal(s_why(f), 0);
    f->slot.to_minute = 11 * 60 + 29; /* the end must fit too */
    s_only(f, "availability");
    f->slot.to_minute = 11 * 60 + 30;
    f->slot.from_minute = 10 * 60 + 1; /* and the start */
    s_only(f, "availability");
    f->slot.from_minute = 9 * 60;
    f->slot.weekday = 2; /* Tuesday */
    s_only(f, "availability");
    f->in.ongoing = true; /* an ongoing request has no single start to fit */
    assert_int_equal(s_why(f), 0);
}

static void
test_availability_is_helsinki_time(void **state)
{
    fx_t *f = *state;
    s_slot(f, 1, 10 * 60, 12 * 60);
    /* Summer time: 10:00 in Helsinki is 07:00 UTC; the window is read in Helsinki time. */
    f->in.start_unix = s_local(2027, 6, 14, 10, 0);
    assert_int_equal(s_why(f), 0);
    f->in.start_unix = s_local(2027, 6, 14, 9, 59);
    s_only(f, "availability");
}

static void
test_blocked_date(void **state)
{
    fx_t *f = *state;
    f->blocked[0] = "2027-03-15";
    f->p.blocked_dates = f->blocked;
    f->p.n_blocked_dates = 1;
    s_only(f, "blocked-date");
    /* Just after midnight in Helsinki is still the 15th there (22:05 UTC on the 14th). */
    f->in.start_unix = s_local(2027, 3, 15, 0, 5);
    s_only(f, "blocked-date");
    f->in.start_unix = s_local(2027, 3, 14, 23, 55);
    assert_int_equal(s_why(f), 0);
    f->in.start_unix = s_local(2027, 3, 15, 10, 0);
    f->in.ongoing = true;
    assert_int_equal(s_why(f), 0);
}

static void
test_consent_paused_erased(void **state)
{
    fx_t *f = *state;
    f->p.consent = false;
    s_only(f, "consent");
    f->e.paused = true;
    assert_int_equal(s_why(f), 2);
    assert_string_equal(f->why[0], "consent");
    assert_string_equal(f->why[1], "paused");
    f->e.erased = true; /* an erased expert is reported erased, not without consent */
    assert_int_equal(s_why(f), 2);
    assert_string_equal(f->why[0], "erased");
}

static void
test_monthly_cap_and_offers(void **state)
{
    fx_t *f = *state;
    f->p.monthly_cap = 2;
    f->h.month_n = 1;
    assert_int_equal(s_why(f), 0);
    f->h.month_n = 2;
    s_only(f, "monthly-cap");
    f->h.month_n = 0;
    f->h.offer_state = OS(DECLINED);
    s_only(f, "already-offered");
    f->h.offer_state = OS(ACCEPTED);
    s_only(f, "already-assigned");
}

static void
test_reasons_in_rule_order(void **state)
{
    fx_t *f = *state;
    f->e.paused = true;
    f->in_expertise[0] = "youth";
    f->in.language = "en";
    f->in.municipality = "091";
    f->h.offer_state = OS(OPEN);
    const char *want[] = {"paused", "expertise", "language", "area", "already-offered"};
    assert_int_equal(s_why(f), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f->why[i], want[i]);
}

static void
test_history_counts(void **state)
{
    (void)state;
    int64_t now = s_local(2027, 3, 1, 12, 0) * 1000LL;
    int month = 202703;
    brk_asg_t a = KUMPPANI__V1__ASSIGNMENT__INIT;
    brk_history_t h = {0};
    a.state = AS(CONFIRMED);
    a.request_id = 2;
    a.start_unix = s_local(2027, 3, 31, 23, 30); /* still March in Helsinki (21:30 UTC) */
    a.confirmed_ms = now - 10 * DAY_MS;
    assert_true(brk_history_add(&h, &a, month, 1, now, 8)); /* another request, 10 days ago */
    assert_int_equal(h.month_n, 1);
    assert_int_equal(h.n90, 1);
    assert_false(brk_history_add(&h, &a, month, 2, now, 8)); /* the same request: no */
    a.start_unix = s_local(2027, 4, 1, 0, 30);               /* April in Helsinki, March in UTC */
    a.confirmed_ms = now - 91 * DAY_MS;
    brk_history_t h2 = {0};
    assert_false(brk_history_add(&h2, &a, month, 1, now, 8)); /* 13 weeks > 8 */
    assert_int_equal(h2.month_n, 0);
    assert_int_equal(h2.n90, 0);
    assert_true(brk_history_add(&h2, &a, month, 1, now, 14)); /* within 14 weeks */
    a.state = AS(CANCELLED); /* cancelled ones do not count at all */
    brk_history_t h3 = {0};
    a.confirmed_ms = now;
    a.start_unix = s_local(2027, 3, 20, 10, 0);
    assert_false(brk_history_add(&h3, &a, month, 1, now, 8));
    assert_int_equal(h3.month_n + h3.n90, 0);
    a.state = AS(COMPLETED);
    assert_true(brk_history_add(&h3, &a, month, 1, now, 8));
    assert_int_equal(h3.month_n, 1);
    a.confirmed_ms = now - DAY_MS;
    assert_false(brk_history_add(&h3, &a, month, 1, now, 0)); /* no-repeat-weeks 0: off */
}

static void
test_requester_key(void **state)
{
    (void)state;
    Kumppani__V1__BrokerRequestInput a = KUMPPANI__V1__BROKER_REQUEST_INPUT__INIT;
    Kumppani__V1__BrokerRequestInput b = KUMPPANI__V1__BROKER_REQUEST_INPUT__INIT;
    char ka[320], kb[320];
    a.requester_kind = b.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_ORGANISATION;
    a.requester_org_id = 5;
    a.contact_email = "Tilaaja@Example.fi";
    b.requester_org_id = 5;
    b.contact_email = "toinen@example.fi";
    brk_requester_key_fmt(&a, 1, ka, sizeof ka);
    brk_requester_key_fmt(&b, 2, kb, sizeof kb);
    assert_string_equal(ka, "org:5"); /* an organisation is one requester, whoever writes */
    assert_string_equal(ka, kb);
    /* without an organisation id: the organisation's name, not the contact's e-mail */
    a.requester_org_id = b.requester_org_id = 0;
    a.requester_name = "Seinajoen Kaupunki";
    b.requester_name = "seinajoen kaupunki";
    brk_requester_key_fmt(&a, 1, ka, sizeof ka);
    brk_requester_key_fmt(&b, 2, kb, sizeof kb);
    assert_string_equal(ka, "name:seinajoen kaupunki");
    assert_string_equal(ka, kb);
    /* the same contact for two organisations: two requesters */
    b.requester_name = "Kurikan kaupunki";
    b.contact_email = a.contact_email;
    brk_requester_key_fmt(&b, 2, kb, sizeof kb);
    assert_string_not_equal(ka, kb);
    /* a private person: the request's own id */
    a.requester_kind = b.requester_kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON;
    a.requester_name = b.requester_name = "Matti";
    brk_requester_key_fmt(&a, 7, ka, sizeof ka);
    brk_requester_key_fmt(&b, 8, kb, sizeof kb);
    assert_string_equal(ka, "req:7");
    assert_string_equal(kb, "req:8");
}

static Kumppani__V1__ExpertCandidate *
s_cand(Kumppani__V1__ExpertCandidate *c, uint64_t id, bool eligible, bool same, int64_t last,
       uint32_t n90)
{
    kumppani__v1__expert_candidate__init(c);
    c->expert_id = id;
    c->eligible = eligible;
    c->recent_same_requester = same;
    c->last_assigned_ms = last;
    c->assignments_90d = n90;
    return c;
}

static void
test_fair_ranking(void **state)
{
    (void)state;
    Kumppani__V1__ExpertCandidate c[8], *v[8];
    /* In the expected order: */
    v[0] = s_cand(&c[0], 9, true, false, 0, 0);    /* never assigned: first of all */
    v[1] = s_cand(&c[1], 3, true, false, 1000, 5); /* longest wait next, many in 90 days */
    v[2] = s_cand(&c[2], 4, true, false, 2000, 0); /* same wait as 5: fewer in 90 days */
    v[3] = s_cand(&c[3], 5, true, false, 2000, 1); /* same wait as 6, same count: lower id */
    v[4] = s_cand(&c[4], 6, true, false, 2000, 1); /* */
    v[5] = s_cand(&c[5], 1, true, true, 0, 0);     /* same requester lately: after all others */
    v[6] = s_cand(&c[6], 2, false, false, 0, 0);   /* ineligible last, by id */
    v[7] = s_cand(&c[7], 8, false, false, 0, 0);   /* */
    uint64_t want[8] = {9, 3, 4, 5, 6, 1, 2, 8};
    /* Shuffle deterministically (reverse, then swap pairs) and rank. */
    Kumppani__V1__ExpertCandidate *w[8];
    for (size_t i = 0; i < 8; i++)
        w[i] = v[7 - i];
    for (size_t i = 0; i + 1 < 8; i += 2) {
        Kumppani__V1__ExpertCandidate *t = w[i];
        w[i] = w[i + 1];
        w[i + 1] = t;
    }
    brk_rank(w, 8);
    for (size_t i = 0; i < 8; i++)
        if (w[i]->expert_id != want[i])
            fail_msg("place %zu: expert %llu, expected %llu", i,
                     (unsigned long long)w[i]->expert_id, (unsigned long long)want[i]);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(w[i]->rank, i + 1);
    assert_int_equal(w[6]->rank, 0); /* the ineligible have no rank */
    assert_int_equal(w[7]->rank, 0);
}

int
main(void)
{
    kp_time_tz_init();
    /* Every test gets the fixture; the last three build their own data and leave it be. */
    return KP_TEST_RUN(
        s_setup, s_teardown, test_eligible_baseline, test_expertise, test_language,
        test_area_and_remote, test_availability_window, test_availability_is_helsinki_time,
        test_blocked_date, test_consent_paused_erased, test_monthly_cap_and_offers,
        test_reasons_in_rule_order, test_history_counts, test_requester_key, test_fair_ranking);
}
