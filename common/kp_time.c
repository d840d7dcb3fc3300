/*  kp_time: the clock with its test offset, and Helsinki calendar conversions (kp_time.h).
 *
 *  Conversions go through localtime_r/mktime with TZ=Europe/Helsinki rather than a written
 *  offset rule: the tz database knows the EU summer-time rule and any future change to it. */
#include "kp_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool s_enabled;
static int64_t s_offset_ms;

int64_t
kp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + s_offset_ms;
}

int64_t
kp_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
kp_clock_enable(void)
{
    s_enabled = true;
}

bool
kp_clock_enabled(void)
{
    return s_enabled;
}

int
kp_clock_set_offset(int64_t offset_ms)
{
    if (!s_enabled)
        return -EPERM;
    s_offset_ms = offset_ms;
    return 0;
}

int64_t
kp_clock_offset(void)
{
    return s_offset_ms;
}

void
kp_time_tz_init(void)
{
    setenv("TZ", KP_TIME_ZONE, 1);
    tzset();
}

int
kp_time_local(int64_t unix_s, struct tm *out)
{
    time_t t = (time_t)unix_s;
    return localtime_r(&t, out) ? 0 : -1;
}

int
kp_time_from_local(const struct tm *in, int64_t *unix_s)
{
    /* Try the fields as summer time first, then as standard time; keep a reading that
     * converts back to the same wall clock. Summer time first makes the doubled hour in
     * October mean its first occurrence; no reading at all means the hour skipped in March. */
    for (int isdst = 1; isdst >= 0; isdst--) {
        struct tm tm = *in, back;
        tm.tm_isdst = isdst;
        time_t t = mktime(&tm);
        if (t == (time_t)-1 || !localtime_r(&t, &back))
            continue;
        if (back.tm_year == in->tm_year && back.tm_mon == in->tm_mon &&
            back.tm_mday == in->tm_mday && back.tm_hour == in->tm_hour &&
            back.tm_min == in->tm_min && back.tm_isdst == isdst) {
            *unix_s = (int64_t)t;
            return 0;
        }
    }
    return -1;
}

/* Reads n digits at s into *v. */
static bool
s_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

static int
s_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int
kp_time_parse_local(const char *s, int64_t *unix_s, char *why, size_t why_len)
{
    int y, mo, d, h, mi;
    /* "YYYY-MM-DD HH:MM": exactly 16 characters. */
    if (!s || strlen(s) != 16 || !s_digits(s, 4, &y) || s[4] != '-' || !s_digits(s + 5, 2, &mo) ||
        s[7] != '-' || !s_digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') ||
        !s_digits(s + 11, 2, &h) || s[13] != ':' || !s_digits(s + 14, 2, &mi)) {
        snprintf(why, why_len, "expected \"YYYY-MM-DD HH:MM\" (Helsinki time)");
        return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo) || h > 23 || mi > 59) {
        snprintf(why, why_len, "no such date or time");
        return -1;
    }
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    if (kp_time_from_local(&tm, unix_s) == 0)
        return 0;
    snprintf(why, why_len,
             "time does not exist in Helsinki (skipped by the change to summer time)");
    return -1;
}

void
kp_time_format(int64_t unix_s, char *buf, size_t len)
{
    struct tm tm;
    if (kp_time_local(unix_s, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, len, "?");
}

void
kp_time_iso(int64_t unix_s, char *buf, size_t len)
{
    struct tm tm;
    char z[8];
    if (kp_time_local(unix_s, &tm) || strftime(z, sizeof z, "%z", &tm) != 5 ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, len, "?");
        return;
    }
    /* strftime's %z is "+0300"; ISO 8601 extended format wants "+03:00". */
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%.3s:%.2s", z, z + 3);
}

int64_t
kp_time_day_start(int64_t unix_s)
{
    struct tm tm;
    int64_t out;
    if (kp_time_local(unix_s, &tm))
        return unix_s;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return kp_time_from_local(&tm, &out) == 0 ? out : unix_s - (unix_s % 86400);
}
