/*  kp_log: one logfmt line per event on stderr.
 *
 *      ts=2026-11-23T09:10:11.123Z level=info svc=events event=turn.commit n=412 ms=0.61
 *
 *  Levels follow RFC 5424. `event` is a short stable id; the format carries ids, codes and
 *  counts only — never names, e-mails, phone numbers or free text from requests (DESIGN 8).
 *  The level is checked before formatting, so a disabled debug line costs one compare. */
#ifndef KP_LOG_H
#define KP_LOG_H

enum { KP_LOG_ERR = 3, KP_LOG_WARNING = 4, KP_LOG_NOTICE = 5, KP_LOG_INFO = 6, KP_LOG_DEBUG = 7 };

/* Sets the service name printed as svc=... (borrowed; must outlive logging) and the level. */
void kp_log_init(const char *service, int level);

/* Parses "err", "warning", "notice", "info" or "debug"; returns the level or -1. */
int kp_log_level_parse(const char *name);

extern int kp__log_level;

void kp__log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define KP__LOG(lvl, ev, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) <= kp__log_level)                                                                \
            kp__log((lvl), (ev), __VA_ARGS__);                                                     \
    } while (0)

/* fmt holds further logfmt pairs, e.g. "seq=%llu n=%u"; pass "" for none. */
#define kp_log_err(ev, ...) KP__LOG(KP_LOG_ERR, ev, __VA_ARGS__)
#define kp_log_warn(ev, ...) KP__LOG(KP_LOG_WARNING, ev, __VA_ARGS__)
#define kp_log_notice(ev, ...) KP__LOG(KP_LOG_NOTICE, ev, __VA_ARGS__)
#define kp_log_info(ev, ...) KP__LOG(KP_LOG_INFO, ev, __VA_ARGS__)
#define kp_log_debug(ev, ...) KP__LOG(KP_LOG_DEBUG, ev, __VA_ARGS__)

#endif
