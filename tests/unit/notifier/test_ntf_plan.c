/*  test_ntf_plan: the notifier's calendar rules (services/notifier/plan.c): SMS quiet hours in
 *  Helsinki time, also across the change to summer time and for hours that do not span
 *  midnight (issue 11: those held a message a day too long), and the reminders setting. */
#include "kp_time.h"
#include "notifier.h"

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

/* Unix ms of a Helsinki wall-clock time. */
static int64_t
s_at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    int64_t s;
    assert_int_equal(kp_time_from_local(&tm, &s), 0);
    return s * 1000;
}

/* When a message due at `due` (Helsinki wall clock) may go, with quiet hours from..to. */
static const struct {
    int from_h, to_h;
    int due[5], sent[5]; /* year, month, day, hour, minute */
} s_quiet[] = {
    /* Over midnight. Outside: unchanged. */
    {21, 8, {2026, 12, 1, 12, 30}, {2026, 12, 1, 12, 30}},
    {21, 8, {2026, 12, 1, 20, 59}, {2026, 12, 1, 20, 59}},
    {21, 8, {2026, 12, 1, 8, 0}, {2026, 12, 1, 8, 0}},
    /* Evening: the morning after; night: this morning. */
    {21, 8, {2026, 12, 1, 22, 0}, {2026, 12, 2, 8, 0}},
    {21, 8, {2026, 12, 31, 21, 0}, {2027, 1, 1, 8, 0}},
    {21, 8, {2026, 12, 2, 3, 15}, {2026, 12, 2, 8, 0}},
    /* Within a day (issue 11: these held a message a day too long). */
    {1, 6, {2026, 12, 1, 2, 0}, {2026, 12, 1, 6, 0}},
    {1, 6, {2026, 12, 1, 0, 30}, {2026, 12, 1, 0, 30}},
    {1, 6, {2026, 12, 1, 7, 0}, {2026, 12, 1, 7, 0}},
    /* No quiet hours. */
    {5, 5, {2026, 12, 1, 5, 0}, {2026, 12, 1, 5, 0}},
};

static void
test_quiet_hours(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_quiet / sizeof s_quiet[0]; i++) {
        ntf_conf_t c = {.quiet_from_h = s_quiet[i].from_h, .quiet_to_h = s_quiet[i].to_h};
        const int *d = s_quiet[i].due, *s = s_quiet[i].sent;
        assert_int_equal(ntf_quiet_next(&c, s_at(d[0], d[1], d[2], d[3], d[4])),
                         s_at(s[0], s[1], s[2], s[3], s[4]));
    }
}

static void
test_quiet_across_summer_time(void **state)
{
    (void)state;
    ntf_conf_t c = {.quiet_from_h = 21, .quiet_to_h = 8};
    /* The night of 27-28 March 2027 is an hour shorter: 08:00 is then 05:00 UTC. */
    int64_t t = ntf_quiet_next(&c, s_at(2027, 3, 27, 22, 0));
    assert_int_equal(t, s_at(2027, 3, 28, 8, 0));
    assert_int_equal(t, 1806210000LL * 1000);
    /* And the autumn night an hour longer: 08:00 EET is 06:00 UTC. */
    assert_int_equal(ntf_quiet_next(&c, s_at(2027, 10, 30, 23, 0)), 1824962400LL * 1000);
}

static void
test_reminders_setting(void **state)
{
    (void)state;
    ntf_conf_t c;
    assert_int_equal(ntf_plan_parse_reminders(&c, "1=168,24;*=24"), 0);
    assert_int_equal(c.reminders[1][0], 168);
    assert_int_equal(c.reminders[1][1], 24);
    assert_int_equal(c.reminders[1][2], 0);
    assert_int_equal(c.reminders[2][0], 24);
    assert_int_equal(c.reminders[2][1], 0);
    assert_int_equal(ntf_plan_parse_reminders(&c, ""), 0);
    assert_int_equal(c.reminders[1][0], 0);
    assert_int_equal(ntf_plan_parse_reminders(&c, "1=0"), -1);
    assert_int_equal(ntf_plan_parse_reminders(&c, "12=24"), -1);
    assert_int_equal(ntf_plan_parse_reminders(&c, "1=24x"), -1);
    assert_int_equal(ntf_plan_parse_reminders(&c, "*"), -1);
}

int
main(void)
{
    kp_time_tz_init();
    return KP_TEST_RUN(NULL, NULL, test_quiet_hours, test_quiet_across_summer_time,
                       test_reminders_setting);
}
