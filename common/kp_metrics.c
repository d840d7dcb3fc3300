/*  kp_metrics: Prometheus text from a HealthReply. Label values are service and source
 *  names (ours, never user input), so they need no escaping beyond what the names allow. */
#include "kp_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *buf;
    size_t len, off;
    int overflow;
} out_t;

static void s_put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_put(out_t *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->off)
        o->overflow = 1;
    else
        o->off += (size_t)n;
}

static void
s_metric(out_t *o, int headers, const char *name, const char *type, const char *help,
         const char *service, double v)
{
    if (headers)
        s_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    s_put(o, "%s{service=\"%s\"} %.17g\n", name, service, v);
}

int
kp_metrics_format(const Kumppani__V1__HealthReply *r, int headers, char *buf, size_t len)
{
    out_t o = {buf, len, 0, 0};
    const char *svc = r->service;
    s_metric(&o, headers, "kumppani_up", "gauge", "1 while the service answers.", svc, 1);
    s_metric(&o, headers, "kumppani_log_head_seq", "gauge", "Last committed event sequence.", svc,
             (double)r->head_seq);
    s_metric(&o, headers, "kumppani_commits_total", "counter", "Turns committed since start.", svc,
             (double)r->commits);
    s_metric(&o, headers, "kumppani_committed_requests_total", "counter",
             "Requests answered in committed turns since start.", svc,
             (double)r->committed_requests);
    s_metric(&o, headers, "kumppani_last_commit_timestamp_seconds", "gauge",
             "Unix time of the last commit.", svc, (double)r->last_commit_ms / 1000.0);
    s_metric(&o, headers, "kumppani_start_timestamp_seconds", "gauge", "Unix time of start.", svc,
             (double)r->started_ms / 1000.0);
    s_metric(&o, headers, "kumppani_store_used_bytes", "gauge", "LMDB map bytes in use.", svc,
             (double)r->store_used_bytes);
    s_metric(&o, headers, "kumppani_store_map_bytes", "gauge", "LMDB map size.", svc,
             (double)r->store_map_bytes);
    s_metric(&o, headers, "kumppani_schema_version", "gauge", "Store schema version.", svc,
             (double)r->schema_version);
    s_metric(&o, headers, "kumppani_zap_denied_total", "counter",
             "Connections refused by the allow-list.", svc, (double)r->zap_denied);
    s_metric(&o, headers, "kumppani_replies_dropped_total", "counter",
             "Replies that could not be sent (the peer had gone).", svc,
             (double)r->replies_dropped);
    s_metric(&o, headers, "kumppani_events_dropped_total", "counter",
             "Events the PUB socket dropped for a slow subscriber (it replays them).", svc,
             (double)r->events_dropped);
    s_metric(&o, headers, "kumppani_turns_aborted_total", "counter",
             "Turns aborted: a write failed and nothing of the turn was written.", svc,
             (double)r->turns_aborted);
    if (headers && r->n_consumers)
        s_put(&o, "# HELP kumppani_consumer_applied_seq Last event applied from a source.\n"
                  "# TYPE kumppani_consumer_applied_seq gauge\n"
                  "# HELP kumppani_consumer_lag Events of a source not yet applied.\n"
                  "# TYPE kumppani_consumer_lag gauge\n");
    for (size_t i = 0; i < r->n_consumers; i++) {
        const Kumppani__V1__ConsumerLag *c = r->consumers[i];
        uint64_t lag =
            c->source_head_seq > c->applied_seq ? c->source_head_seq - c->applied_seq : 0;
        s_put(&o, "kumppani_consumer_applied_seq{service=\"%s\",source=\"%s\"} %llu\n", svc,
              c->source, (unsigned long long)c->applied_seq);
        s_put(&o, "kumppani_consumer_lag{service=\"%s\",source=\"%s\"} %llu\n", svc, c->source,
              (unsigned long long)lag);
    }
    return o.overflow ? -1 : (int)o.off;
}

int
kp_metrics_write(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, text, len) != (ssize_t)len)
        rc = -EIO;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}
