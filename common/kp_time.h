/*  kp_time: the one clock and the one calendar of every Kumppani program.
 *
 *  The clock. kp_now_ms() is the wall clock every service, the store and the CLI read; nothing
 *  else calls clock_gettime(CLOCK_REALTIME). Tests of deadlines, reminders and retention need
 *  to move time forward, so the clock carries an offset that is 0 and fixed unless the test
 *  clock was enabled at start (kp_clock_enable, from the boot setting "test-clock", which
 *  kp_boot refuses in a production profile). A service with the test clock on registers the
 *  admin-only method "sys.clock.set" (kp_server), which sets the offset; every timer that
 *  waits for a moment of the service's clock is told through kp_server_part_t.clock_moved.
 *  One thread per process, so the offset is a plain variable.
 *
 *  The calendar. People in the region live in Helsinki time (Europe/Helsinki from tzdata, with
 *  its summer-time rule): kp_time_tz_init sets it once for the process, and every conversion
 *  between instants and wall-clock dates goes through the functions below, so no program
 *  guesses an offset itself. */
#ifndef KP_TIME_H
#define KP_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The zone of every wall-clock date the suite shows or reads. */
#define KP_TIME_ZONE "Europe/Helsinki"

/* ---- the clock ---------------------------------------------------------------------------- */

/* Wall-clock Unix milliseconds plus the test offset (0 unless the test clock is enabled). */
int64_t kp_now_ms(void);

/* Monotonic microseconds, for measuring durations (never moved by the test clock). */
int64_t kp_mono_us(void);

/* Allows the offset to be set. Called once at start when the test clock is configured. */
void kp_clock_enable(void);

/* True if kp_clock_enable was called. */
bool kp_clock_enabled(void);

/* Sets the offset added to the wall clock. Returns 0, or -EPERM when the test clock is not
 * enabled (the offset then stays 0). */
int kp_clock_set_offset(int64_t offset_ms);

/* The current offset (0 unless enabled and set). */
int64_t kp_clock_offset(void);

/* ---- the calendar (Helsinki) ------------------------------------------------------------- */

/* Sets TZ to KP_TIME_ZONE for the process. Call once at start, before any conversion. */
void kp_time_tz_init(void);

/* The Helsinki wall-clock fields of an instant (Unix seconds). Returns 0 or -1. */
int kp_time_local(int64_t unix_s, struct tm *out);

/* The instant (Unix seconds) of Helsinki wall-clock fields (tm_isdst ignored; in the doubled
 * autumn hour the first occurrence). Returns 0, or -1 for a time skipped by the spring change
 * or out of range. */
int kp_time_from_local(const struct tm *tm, int64_t *unix_s);

/* Parses "YYYY-MM-DD HH:MM" (or with 'T') as Helsinki time into Unix seconds. Returns 0, or
 * -1 with a reason for a person in why (never echoing the input). */
int kp_time_parse_local(const char *s, int64_t *unix_s, char *why, size_t why_len);

/* "YYYY-MM-DD HH:MM" in Helsinki time ("?" if out of range). */
void kp_time_format(int64_t unix_s, char *buf, size_t len);

/* ISO 8601 with the Helsinki offset, "2027-02-04T17:00:00+02:00" ("?" if out of range). */
void kp_time_iso(int64_t unix_s, char *buf, size_t len);

/* The Unix seconds of local midnight starting the Helsinki calendar day of unix_s. */
int64_t kp_time_day_start(int64_t unix_s);

#endif
