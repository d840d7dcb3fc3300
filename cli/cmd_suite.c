/*  cmd_suite.c: `kumppani status` and `kumppani metrics`, the whole suite at a glance.
 *
 *  Both ask every service of the service table for its own health ("sys.health") with a
 *  short timeout, so a down service costs at most --timeout × --attempts. status prints one
 *  line per service and exits 0 only if all answered; metrics prints the Prometheus text
 *  format (kp_metrics) for a scraper, with kumppani_up 0 for a service that did not answer. */
#include "cli_cmd.h"
#include "kp_metrics.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const s_services[] = {"registry", "events", "expert-broker", "notifier"};
#define SERVICES_N (sizeof s_services / sizeof s_services[0])

/* Health of one service, or NULL (the reason is printed unless quiet). Caller frees. */
static Kumppani__V1__HealthReply *
s_health_of(cli_ctx_t *c, const char *service)
{
    Kumppani__V1__HealthRequest rq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    if (cli_call(c, service, "sys.health", NULL, &rq.base, &kumppani__v1__health_reply__descriptor,
                 &out) != EXIT_OK_)
        return NULL;
    return (Kumppani__V1__HealthReply *)out;
}

static int
s_status(cli_ctx_t *c)
{
    if (cli_no_pos(c))
        return EXIT_USAGE;
    json_t *arr = c->json ? json_array() : NULL;
    int down = 0;
    if (!c->json)
        printf("%-14s %-5s %10s %10s  %s\n", "SERVICE", "STATE", "HEAD", "COMMITS", "CONSUMERS");
    for (size_t i = 0; i < SERVICES_N; i++) {
        Kumppani__V1__HealthReply *h = s_health_of(c, s_services[i]);
        if (!h)
            down++;
        if (c->json) {
            json_t *o = json_object();
            json_object_set_new(o, "service", json_string(s_services[i]));
            json_object_set_new(o, "up", json_boolean(h != NULL));
            if (h) {
                json_object_set_new(o, "head_seq", json_integer((json_int_t)h->head_seq));
                json_object_set_new(o, "commits", json_integer((json_int_t)h->commits));
                json_object_set_new(o, "last_commit", cli_json_time(h->last_commit_ms / 1000));
                json_t *cons = json_array();
                for (size_t k = 0; k < h->n_consumers; k++) {
                    const Kumppani__V1__ConsumerLag *l = h->consumers[k];
                    json_t *x = json_object();
                    json_object_set_new(x, "source", cli_json_str(l->source));
                    json_object_set_new(x, "applied_seq", json_integer((json_int_t)l->applied_seq));
                    json_object_set_new(
                        x, "lag",
                        json_integer((json_int_t)(l->source_head_seq > l->applied_seq
                                                      ? l->source_head_seq - l->applied_seq
                                                      : 0)));
                    json_object_set_new(x, "connected", json_boolean(l->connected));
                    json_array_append_new(cons, x);
                }
                json_object_set_new(o, "consumers", cons);
            }
            json_array_append_new(arr, o);
        } else if (h) {
            printf("%-14s %-5s %10llu %10llu  ", s_services[i], "up",
                   (unsigned long long)h->head_seq, (unsigned long long)h->commits);
            for (size_t k = 0; k < h->n_consumers; k++) {
                const Kumppani__V1__ConsumerLag *l = h->consumers[k];
                printf("%s%s lag %llu%s", k ? ", " : "", l->source,
                       (unsigned long long)(l->source_head_seq > l->applied_seq
                                                ? l->source_head_seq - l->applied_seq
                                                : 0),
                       l->connected ? "" : " (disconnected)");
            }
            printf("%s\n", h->n_consumers ? "" : "-");
        } else {
            printf("%-14s %-5s\n", s_services[i], "DOWN");
        }
        if (h)
            protobuf_c_message_free_unpacked(&h->base, NULL);
    }
    if (c->json)
        cli_json_print(arr);
    return down ? EXIT_UNREACHABLE : EXIT_OK_;
}

static int
s_metrics(cli_ctx_t *c)
{
    if (cli_no_pos(c))
        return EXIT_USAGE;
    int headers = 1;
    for (size_t i = 0; i < SERVICES_N; i++) {
        Kumppani__V1__HealthReply *h = s_health_of(c, s_services[i]);
        if (!h) {
            printf("kumppani_up{service=\"%s\"} 0\n", s_services[i]);
            continue;
        }
        char *buf = malloc(65536);
        int n = buf ? kp_metrics_format(h, headers, buf, 65536) : -1;
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            headers = 0;
        }
        free(buf);
        protobuf_c_message_free_unpacked(&h->base, NULL);
    }
    return EXIT_OK_;
}

static const cli_optspec_t s_none[] = {{NULL, false}};

const cli_cmd_t cli_cmds_suite[] = {
    {"status", s_none,
     "Usage: kumppani status\n"
     "Asks every service (registry, events, expert-broker, notifier) for its health and shows\n"
     "one line each: up or DOWN, log head, commits, and each consumer's lag behind its source.\n"
     "Exit 0 if all answered, 3 if any did not. Endpoints as for every command\n"
     "($KUMPPANI_<SERVICE>_API); give --timeout 1000 --attempts 1 for a quick look.\n",
     s_status},
    {"metrics", s_none,
     "Usage: kumppani metrics\n"
     "Prints every service's health in the Prometheus text format (for a scraper or\n"
     "node_exporter's textfile collector); a service that does not answer shows kumppani_up 0.\n",
     s_metrics},
    {NULL, NULL, NULL, NULL},
};
