/*  test_kp_time: the one clock (kp_now_ms with its test offset) and the Helsinki calendar.
 *
 *  The clock test runs first and alone touches the offset: the offset is process state and
 *  "refused before kp_clock_enable" can only be seen before the enable. The calendar tests
 *  compute their expected instants from UTC fields by civil-day arithmetic (no libc zone
 *  code), minus the Helsinki offset that applies: +02:00 in winter, +03:00 in summer. The
 *  2027 changes: summer time from Sunday 28 March 03:00 (01:00 UTC) to Sunday 31 October
 *  04:00 (01:00 UTC), so 03:00-03:59 of 28 March does not exist and 03:00-03:59 of 31 October
 *  happens twice. */
#include "kp_time.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
s_days(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Unix seconds of a UTC wall clock. */
static int64_t
s_utc(int y, int mo, int d, int h, int mi)
{
    return s_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* The real wall clock, without any offset. */
static int64_t
s_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* |kp_now_ms() - real - offset| within a generous second (ASan, a loaded machine). */
static void
s_assert_now_near(int64_t offset_ms)
{
    int64_t before = s_real_ms();
    int64_t now = kp_now_ms();
    int64_t after = s_real_ms();
    if (now < before + offset_ms - 1000 || now > after + offset_ms + 1000)
        fail_msg("kp_now_ms %lld not within [%lld, %lld] + offset %lld", (long long)now,
                 (long long)before, (long long)after, (long long)offset_ms);
}

/* ---- the clock ----------------------------------------------------------------------------- */

static void
test_clock(void **state)
{
    (void)state;
    /* Before the enable: refused, and nothing moves. */
    assert_false(kp_clock_enabled());
    assert_int_equal(kp_clock_set_offset(86400000), -EPERM);
    assert_int_equal(kp_clock_offset(), 0);
    s_assert_now_near(0);

    kp_clock_enable();
    assert_true(kp_clock_enabled());
    /* A day ahead: kp_now_ms moves by exactly the offset; the monotonic clock does not. */
    int64_t mono0 = kp_mono_us();
    assert_int_equal(kp_clock_set_offset(86400000), 0);
    assert_int_equal(kp_clock_offset(), 86400000);
    s_assert_now_near(86400000);
    int64_t mono1 = kp_mono_us();
    assert_true(mono1 >= mono0 && mono1 - mono0 < 1000000);
    /* Backwards too, and back to nothing. */
    assert_int_equal(kp_clock_set_offset(-3600000), 0);
    s_assert_now_near(-3600000);
    assert_int_equal(kp_clock_set_offset(0), 0);
    assert_int_equal(kp_clock_offset(), 0);
    s_assert_now_near(0);
}

/* ---- parsing Helsinki wall clock ----------------------------------------------------------- */

static void
s_parse_ok(const char *s, int64_t want)
{
    int64_t got = -1;
    char why[128] = "";
    if (kp_time_parse_local(s, &got, why, sizeof why) != 0)
        fail_msg("\"%s\" refused: %s", s, why);
    if (got != want)
        fail_msg("\"%s\" -> %lld, want %lld (off by %lld s)", s, (long long)got, (long long)want,
                 (long long)(got - want));
}

/* Refused with the given reason, which never echoes the input. */
static void
s_parse_bad(const char *s, const char *reason)
{
    int64_t got = 12345;
    char why[128] = "";
    if (kp_time_parse_local(s, &got, why, sizeof why) == 0)
        fail_msg("\"%s\" accepted as %lld", s ? s : "(null)", (long long)got);
    assert_string_equal(why, reason);
    assert_null(strstr(why, "2027"));
}

#define BAD_SHAPE "expected \"YYYY-MM-DD HH:MM\" (Helsinki time)"
#define BAD_DATE "no such date or time"
#define SKIPPED "time does not exist in Helsinki (skipped by the change to summer time)"

static void
test_parse_local(void **state)
{
    (void)state;
    /* Winter, UTC+2; 'T' is accepted for the space. */
    s_parse_ok("2027-02-04 17:00", s_utc(2027, 2, 4, 15, 0));
    s_parse_ok("2027-02-04T17:00", s_utc(2027, 2, 4, 15, 0));
    s_parse_ok("2027-01-01 00:00", s_utc(2026, 12, 31, 22, 0));
    /* Summer, UTC+3. */
    s_parse_ok("2027-07-15 12:00", s_utc(2027, 7, 15, 9, 0));
    /* Around the spring change: 02:59 is still winter, 04:00 already summer, one minute
     * apart in real time; 03:00-03:59 does not exist. */
    s_parse_ok("2027-03-28 02:59", s_utc(2027, 3, 28, 0, 59));
    s_parse_ok("2027-03-28 04:00", s_utc(2027, 3, 28, 1, 0));
    s_parse_bad("2027-03-28 03:00", SKIPPED);
    s_parse_bad("2027-03-28 03:30", SKIPPED);
    s_parse_bad("2027-03-28 03:59", SKIPPED);
    /* The doubled autumn hour means its first occurrence (still summer time, UTC+3). */
    s_parse_ok("2027-10-31 03:30", s_utc(2027, 10, 31, 0, 30));
    s_parse_ok("2027-10-31 02:59", s_utc(2027, 10, 30, 23, 59));
    s_parse_ok("2027-10-31 04:00", s_utc(2027, 10, 31, 2, 0));
    /* Leap days. */
    s_parse_ok("2028-02-29 12:00", s_utc(2028, 2, 29, 10, 0));
    s_parse_bad("2027-02-29 12:00", BAD_DATE);

    /* Bad shapes. */
    s_parse_bad(NULL, BAD_SHAPE);
    s_parse_bad("", BAD_SHAPE);
    s_parse_bad("2027-02-04", BAD_SHAPE);
    s_parse_bad("2027-02-04 17:00:00", BAD_SHAPE);
    s_parse_bad("2027/02/04 17:00", BAD_SHAPE);
    s_parse_bad("2027-02-04_17:00", BAD_SHAPE);
    s_parse_bad("2027-2-04 17:00 ", BAD_SHAPE);
    s_parse_bad("2027-02-04 17.00", BAD_SHAPE);
    s_parse_bad("2027-02-04 1x:00", BAD_SHAPE);
    s_parse_bad(" 2027-02-04 17:0", BAD_SHAPE);
    /* The right shape, no such moment. */
    s_parse_bad("2027-13-01 10:00", BAD_DATE);
    s_parse_bad("2027-00-01 10:00", BAD_DATE);
    s_parse_bad("2027-04-31 10:00", BAD_DATE);
    s_parse_bad("2027-02-04 24:00", BAD_DATE);
    s_parse_bad("2027-02-04 17:60", BAD_DATE);
    s_parse_bad("1969-12-31 23:00", BAD_DATE);
}

/* kp_time_from_local agrees with the parser (tm_isdst is ignored). */
static void
test_from_local(void **state)
{
    (void)state;
    int64_t t = 0;
    struct tm tm = {.tm_year = 127, .tm_mon = 9, .tm_mday = 31, .tm_hour = 3, .tm_min = 30};
    for (int isdst = -1; isdst <= 1; isdst++) {
        tm.tm_isdst = isdst;
        assert_int_equal(kp_time_from_local(&tm, &t), 0);
        assert_int_equal(t, s_utc(2027, 10, 31, 0, 30));
    }
    struct tm skipped = {.tm_year = 127, .tm_mon = 2, .tm_mday = 28, .tm_hour = 3, .tm_min = 15};
    t = 777;
    assert_int_equal(kp_time_from_local(&skipped, &t), -1);
    assert_int_equal(t, 777);

    /* And kp_time_local gives the fields back, with the zone's summer flag. */
    struct tm back;
    assert_int_equal(kp_time_local(s_utc(2027, 10, 31, 0, 30), &back), 0);
    assert_int_equal(back.tm_hour, 3);
    assert_int_equal(back.tm_isdst, 1);
    assert_int_equal(kp_time_local(s_utc(2027, 10, 31, 1, 30), &back), 0);
    assert_int_equal(back.tm_hour, 3); /* the second 03:30 */
    assert_int_equal(back.tm_isdst, 0);
}

/* ---- formatting ---------------------------------------------------------------------------- */

static void
test_format(void **state)
{
    (void)state;
    char buf[64];
    kp_time_iso(s_utc(2027, 2, 4, 15, 0), buf, sizeof buf);
    assert_string_equal(buf, "2027-02-04T17:00:00+02:00");
    kp_time_iso(s_utc(2027, 7, 15, 9, 0) + 5, buf, sizeof buf);
    assert_string_equal(buf, "2027-07-15T12:00:05+03:00");
    /* Both occurrences of the doubled hour, told apart by their offsets. */
    kp_time_iso(s_utc(2027, 10, 31, 0, 30), buf, sizeof buf);
    assert_string_equal(buf, "2027-10-31T03:30:00+03:00");
    kp_time_iso(s_utc(2027, 10, 31, 1, 30), buf, sizeof buf);
    assert_string_equal(buf, "2027-10-31T03:30:00+02:00");

    kp_time_format(s_utc(2027, 2, 4, 15, 0), buf, sizeof buf);
    assert_string_equal(buf, "2027-02-04 17:00");
    kp_time_format(s_utc(2027, 3, 28, 1, 0), buf, sizeof buf);
    assert_string_equal(buf, "2027-03-28 04:00");

    /* Format and parse round-trip on a minute. */
    int64_t t = s_utc(2027, 8, 9, 10, 11), u = 0;
    char why[128];
    kp_time_format(t, buf, sizeof buf);
    assert_int_equal(kp_time_parse_local(buf, &u, why, sizeof why), 0);
    assert_int_equal(u, t);

    /* A buffer too small for the date says so rather than cutting it. */
    char tiny[8];
    kp_time_iso(t, tiny, sizeof tiny);
    assert_string_equal(tiny, "?");
}

/* ---- calendar days ------------------------------------------------------------------------- */

static void
test_day_start(void **state)
{
    (void)state;
    /* An ordinary winter day: local midnight is 22:00 UTC the day before. */
    int64_t d = s_utc(2027, 2, 3, 22, 0);
    assert_int_equal(kp_time_day_start(s_utc(2027, 2, 4, 15, 0)), d);
    assert_int_equal(kp_time_day_start(d), d);
    assert_int_equal(kp_time_day_start(d + 86399), d);
    assert_int_equal(kp_time_day_start(d + 86400), d + 86400);
    assert_int_equal(kp_time_day_start(d - 1), d - 86400);

    /* The spring change day starts in winter time and lasts 23 hours. */
    int64_t mar28 = s_utc(2027, 3, 27, 22, 0), mar29 = s_utc(2027, 3, 28, 21, 0);
    assert_int_equal(kp_time_day_start(s_utc(2027, 3, 28, 0, 30)), mar28); /* 02:30 local */
    assert_int_equal(kp_time_day_start(s_utc(2027, 3, 28, 1, 30)), mar28); /* 04:30 local */
    assert_int_equal(kp_time_day_start(mar29 - 1), mar28);
    assert_int_equal(kp_time_day_start(mar29), mar29);
    assert_int_equal(mar29 - mar28, 23 * 3600);

    /* The autumn change day starts in summer time and lasts 25 hours; both 03:30s are in it. */
    int64_t oct31 = s_utc(2027, 10, 30, 21, 0), nov1 = s_utc(2027, 10, 31, 22, 0);
    assert_int_equal(kp_time_day_start(s_utc(2027, 10, 31, 0, 30)), oct31);
    assert_int_equal(kp_time_day_start(s_utc(2027, 10, 31, 1, 30)), oct31);
    assert_int_equal(kp_time_day_start(nov1 - 1), oct31);
    assert_int_equal(kp_time_day_start(nov1), nov1);
    assert_int_equal(nov1 - oct31, 25 * 3600);
}

int
main(void)
{
    kp_time_tz_init();
    return KP_TEST_RUN(NULL, NULL, test_clock, test_parse_local, test_from_local, test_format,
                       test_day_start);
}
