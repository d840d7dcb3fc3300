/*  kp_log: logfmt lines on stderr.
 *
 *  The whole line is formatted into one buffer and written with a single write(2), so lines
 *  from several processes sharing a terminal or a collector pipe do not interleave. */
#include "kp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int kp__log_level = KP_LOG_INFO;
static const char *s_service = "kumppani";

static const char *const s_names[] = {"emerg",   "alert",  "crit", "err",
                                      "warning", "notice", "info", "debug"};

void
kp_log_init(const char *service, int level)
{
    if (service)
        s_service = service;
    if (level >= KP_LOG_ERR && level <= KP_LOG_DEBUG)
        kp__log_level = level;
}

int
kp_log_level_parse(const char *name)
{
    for (int i = KP_LOG_ERR; i <= KP_LOG_DEBUG; i++)
        if (strcmp(name, s_names[i]) == 0)
            return i;
    if (strcmp(name, "warn") == 0)
        return KP_LOG_WARNING;
    return -1;
}

void
kp__log(int level, const char *event, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    /* The real wall clock, not kp_now_ms: a log line records when it was written, also
     * while a test has moved the service's clock. */
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_names[level & 7], s_service, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line - 2 && fmt && fmt[0]) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
