/*  kp-bench-registry-search: search latency of the registry over 100,000 organisations.
 *
 *  Usage:
 *      kp-bench-registry-search [--orgs N] [--queries N] [--service PATH] [--port P] [--keep]
 *
 *      build/release/bench/kp-bench-registry-search --orgs 100000 --queries 2000
 *
 *  Measure with the release build; the ASan build measures ASan.
 *
 *  1. Starts the real kumppani-registry (this build tree's, or --service) on a fresh data
 *     directory under $TMPDIR or /tmp, on 127.0.0.1:--port (default 17101) and --port+1,
 *     plain TCP, log level warning, not following the events service.
 *  2. Loads N organisations through registry.csv.import (chunks of whole rows under 60 KiB,
 *     synced commits as always): names of two or three words drawn from Finnish name parts
 *     (with å, ä, ö), a home municipality among the 18, one to three fields, networks.
 *  3. Runs each query class --queries times, one request in flight, varying the words and
 *     filters from a fixed seed: prefix of one word (2..5 letters), two words, municipality,
 *     field + status, network + municipality, combined word + municipality + field, and the
 *     next page through a cursor. Per class: p50 and p99 of the handler's own time
 *     (SearchReply.server_us, "server") and of send -> reply on CLOCK_MONOTONIC ("client"),
 *     plus the mean results per page and index entries scanned.
 *
 *  Output: a table, then one RESULT line per class for scripts. Exit 0 if every request got
 *  CODE_OK. */
#include "bench_util.h"
#include "kp_arena.h"
#include "kp_time.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/log.pb-c.h"
#include "kumppani/v1/registry.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#ifndef KP_BENCH_DEFAULT_SERVICE
#define KP_BENCH_DEFAULT_SERVICE "kumppani-registry"
#endif

static const char *const s_munis[18] = {"005", "010", "052", "145", "151", "152",
                                        "218", "232", "233", "300", "301", "403",
                                        "408", "743", "759", "846", "934", "989"};
static const char *const s_fields[] = {"mental-health", "substance-use", "disability",
                                       "older-people",  "youth",         "patients",
                                       "multicultural", "sport-culture", "village"};
static const char *const s_w1[] = {
    "Seinäjoen", "Lapuan",   "Kauhavan", "Ähtärin",   "Alavuden",    "Kurikan",    "Ilmajoen",
    "Teuvan",    "Soinin",   "Vimpelin", "Isojoen",   "Evijärven",   "Kuortaneen", "Lappajärven",
    "Alajärven", "Karijoen", "Isokyrön", "Kauhajoen", "Östermarkin", "Åminnen"};
static const char *const s_w2[] = {
    "Mielenterveys",      "Omaishoitajat",    "Eläkkeensaajat",   "Nuorisoseura",  "Kyläyhdistys",
    "Urheiluseura",       "Martat",           "Sydänyhdistys",    "Reumayhdistys", "Kuurojen",
    "Näkövammaiset",      "Diabetesyhdistys", "Monikulttuurinen", "Partiolaiset",  "Työttömät",
    "Vanhempainyhdistys", "Päihdetyö",        "Äijäseura",        "Ystäväpiiri",   "Lähimmäiset"};
static const char *const s_w3[] = {"ry",     "Seura",          "Yhdistys", "Kerho",
                                   "Piiri",  "Toimintakeskus", "Kilta",    "Verkosto",
                                   "Liitto", "Säätiö"};
static const char *const s_nets[] = {"ngo-council", "partnership-table:743",
                                     "partnership-table:408", "wellbeing-forum"};
#define N(a) (sizeof a / sizeof a[0])

static void *s_zctx, *s_sock;
static uint64_t s_rid;
static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* One call, one in flight. Returns the reply body's status code, the body in *out (malloc'd)
 * and the round trip in *us; -1 on timeout. */
static int
s_call(const char *method, const ProtobufCMessage *body, uint8_t **out, size_t *out_len,
       int64_t *us)
{
    size_t blen = protobuf_c_message_get_packed_size(body);
    uint8_t *b = malloc(blen + 1);
    protobuf_c_message_pack(body, b);
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = ++s_rid;
    rq.method = (char *)method;
    rq.body.data = b;
    rq.body.len = blen;
    size_t len = kumppani__v1__request__get_packed_size(&rq);
    uint8_t *f = malloc(len);
    kumppani__v1__request__pack(&rq, f);
    int64_t t0 = kp_mono_us();
    zmq_send(s_sock, f, len, 0);
    free(f);
    free(b);
    for (;;) {
        zmq_pollitem_t it = {s_sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 30000) <= 0)
            return -1;
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, s_sock, 0);
        int64_t t1 = kp_mono_us();
        Kumppani__V1__Reply *r =
            kumppani__v1__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!r)
            return -1;
        if (r->request_id != s_rid) {
            kumppani__v1__reply__free_unpacked(r, NULL);
            continue;
        }
        int code = r->status ? (int)r->status->code : 0;
        if (code && r->status->message)
            fprintf(stderr, "%s: %s\n", method, r->status->message);
        if (out) {
            *out = malloc(r->body.len + 1);
            memcpy(*out, r->body.data, r->body.len);
            *out_len = r->body.len;
        }
        if (us)
            *us = t1 - t0;
        kumppani__v1__reply__free_unpacked(r, NULL);
        return code;
    }
}

/* A prefix of 2..5 letters (whole UTF-8 characters) of w. */
static void
s_prefix(const char *w, char *out, size_t cap)
{
    size_t want = 2 + s_rand() % 4, chars = 0, i = 0;
    while (w[i] && chars < want && i + 4 < cap) {
        size_t l = ((uint8_t)w[i] & 0x80) ? 2 : 1;
        memcpy(out + i, w + i, l);
        i += l;
        chars++;
    }
    out[i] = 0;
}

static int
s_load(unsigned n_orgs)
{
    char *buf = malloc(64 * 1024);
    unsigned done = 0;
    int64_t t0 = kp_mono_us();
    while (done < n_orgs) {
        size_t len = (size_t)snprintf(
            buf, 1024, "name_fi,home_municipality,municipalities,fields,networks,member_count\n");
        unsigned rows = 0;
        while (done < n_orgs && len < 60 * 1024 - 512) {
            unsigned i = done++;
            const char *f1 = s_fields[s_rand() % N(s_fields)];
            const char *f2 = s_fields[s_rand() % N(s_fields)];
            len += (size_t)snprintf(
                buf + len, 512, "%s %s %s %u,%s,%s,%s|%s,%s,%u\n", s_w1[s_rand() % N(s_w1)],
                s_w2[s_rand() % N(s_w2)], s_w3[s_rand() % N(s_w3)], i, s_munis[s_rand() % 18],
                s_munis[s_rand() % 18], f1, f2, s_rand() % 4 ? "" : s_nets[s_rand() % N(s_nets)],
                (unsigned)(s_rand() % 500));
            rows++;
        }
        Kumppani__V1__ImportRequest rq = KUMPPANI__V1__IMPORT_REQUEST__INIT;
        rq.kind = KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS;
        rq.csv.data = (uint8_t *)buf;
        rq.csv.len = len;
        uint8_t *out;
        size_t ol;
        if (s_call("registry.csv.import", &rq.base, &out, &ol, NULL) != 0) {
            free(buf);
            return -1;
        }
        Kumppani__V1__ImportReply *r = kumppani__v1__import_reply__unpack(NULL, ol, out);
        free(out);
        if (!r || r->created != rows) {
            fprintf(stderr, "import: %u rows sent, %u read, %u created, %u updated, %zu errors\n",
                    rows, r ? r->rows : 0, r ? r->created : 0, r ? r->updated : 0,
                    r ? r->n_errors : 0);
            free(buf);
            return -1;
        }
        kumppani__v1__import_reply__free_unpacked(r, NULL);
    }
    free(buf);
    double s = (double)(kp_mono_us() - t0) / 1e6;
    printf("loaded %u organisations in %.1f s (%.0f/s, CSV import, synced commits)\n", n_orgs, s,
           n_orgs / s);
    return 0;
}

enum { Q_WORD, Q_TWO, Q_MUNI, Q_FIELD_STATUS, Q_NET_MUNI, Q_COMBINED, Q_NEXT_PAGE, Q_N };
static const char *const s_qname[Q_N] = {
    "word-prefix",          "two-words", "municipality", "field+status",
    "network+municipality", "combined",  "next-page"};

int
main(int argc, char **argv)
{
    unsigned n_orgs = 100000, n_q = 1000, port = 17101;
    const char *service = KP_BENCH_DEFAULT_SERVICE;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--orgs") == 0 && i + 1 < argc)
            n_orgs = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
            n_q = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc)
            service = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else {
            fprintf(stderr,
                    "usage: %s [--orgs N] [--queries N] [--service PATH] [--port P] "
                    "[--keep]\n",
                    argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (n_orgs < 1 || n_q < 1 || n_q > 1000000 || port < 1024 || port > 65000) {
        fprintf(stderr, "kp-bench-registry-search: bad arguments\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], api[64], pub[64];
    snprintf(dir, sizeof dir, "%s/kp-bench-registry-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(api, sizeof api, "tcp://127.0.0.1:%u", port);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%u", port + 1);
    pid_t pid = fork();
    if (pid == 0) {
        execl(service, service, "--api", api, "--pub", pub, "--data-dir", dir, "--log-level",
              "warning", "--events-api", "off", (char *)NULL);
        perror("exec");
        _exit(127);
    }
    s_zctx = zmq_ctx_new();
    s_sock = zmq_socket(s_zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s_sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s_sock, api);
    Kumppani__V1__HealthRequest hq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    int rc = 1;
    if (s_call("sys.health", &hq.base, NULL, NULL, NULL) != 0 || s_load(n_orgs) != 0)
        goto out;
    int64_t *srv = malloc(n_q * sizeof *srv), *cli = malloc(n_q * sizeof *cli);
    printf("%-22s %9s %9s %9s %9s %8s %9s\n", "query", "srv_p50", "srv_p99", "cli_p50", "cli_p99",
           "results", "scanned");
    rc = 0;
    for (int q = 0; q < Q_N && rc == 0; q++) {
        double results = 0, scanned = 0;
        for (unsigned i = 0; i < n_q && rc == 0; i++) {
            Kumppani__V1__SearchRequest rq = KUMPPANI__V1__SEARCH_REQUEST__INIT;
            char query[128] = "", p1[32], p2[32];
            rq.limit = 20;
            s_prefix(s_w1[s_rand() % N(s_w1)], p1, sizeof p1);
            s_prefix(s_w2[s_rand() % N(s_w2)], p2, sizeof p2);
            const char *muni = s_munis[s_rand() % 18];
            int field = 1 + (int)(s_rand() % 9);
            char *cursor = NULL;
            switch (q) {
            case Q_WORD:
                snprintf(query, sizeof query, "%s", s_rand() % 2 ? p1 : p2);
                break;
            case Q_TWO:
                snprintf(query, sizeof query, "%s %s", p1, p2);
                break;
            case Q_MUNI:
                rq.municipality = (char *)muni;
                break;
            case Q_FIELD_STATUS:
                rq.field = field;
                rq.status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE;
                break;
            case Q_NET_MUNI:
                rq.network = (char *)s_nets[s_rand() % N(s_nets)];
                rq.municipality = (char *)muni;
                break;
            case Q_COMBINED:
                snprintf(query, sizeof query, "%s", p2);
                rq.municipality = (char *)muni;
                rq.field = field;
                break;
            case Q_NEXT_PAGE: {
                /* First page of a word query (not measured), then its next page. */
                snprintf(query, sizeof query, "%s", p1);
                rq.query = query;
                uint8_t *o;
                size_t ol;
                if (s_call("registry.org.search", &rq.base, &o, &ol, NULL) != 0) {
                    rc = 1;
                    break;
                }
                Kumppani__V1__SearchReply *r = kumppani__v1__search_reply__unpack(NULL, ol, o);
                free(o);
                cursor = r && r->next_cursor ? strdup(r->next_cursor) : strdup("");
                if (r)
                    kumppani__v1__search_reply__free_unpacked(r, NULL);
                rq.cursor = cursor;
                break;
            }
            }
            rq.query = query;
            uint8_t *o;
            size_t ol;
            int64_t us;
            if (rc || s_call("registry.org.search", &rq.base, &o, &ol, &us) != 0) {
                rc = 1;
                free(cursor);
                break;
            }
            free(cursor);
            Kumppani__V1__SearchReply *r = kumppani__v1__search_reply__unpack(NULL, ol, o);
            free(o);
            if (!r) {
                rc = 1;
                break;
            }
            srv[i] = r->server_us * 1000;
            cli[i] = us * 1000;
            results += (double)r->n_organisations;
            scanned += r->scanned;
            kumppani__v1__search_reply__free_unpacked(r, NULL);
        }
        if (rc)
            break;
        qsort(srv, n_q, sizeof *srv, bench_cmp_i64);
        qsort(cli, n_q, sizeof *cli, bench_cmp_i64);
        double sp50 = bench_pct(srv, n_q, 50) / 1000, sp99 = bench_pct(srv, n_q, 99) / 1000;
        double cp50 = bench_pct(cli, n_q, 50) / 1000, cp99 = bench_pct(cli, n_q, 99) / 1000;
        printf("%-22s %7.3fms %7.3fms %7.3fms %7.3fms %8.1f %9.0f\n", s_qname[q], sp50 / 1000,
               sp99 / 1000, cp50 / 1000, cp99 / 1000, results / n_q, scanned / n_q);
        printf("RESULT query=%s orgs=%u n=%u server_p50_ms=%.3f server_p99_ms=%.3f "
               "client_p50_ms=%.3f client_p99_ms=%.3f\n",
               s_qname[q], n_orgs, n_q, sp50 / 1000, sp99 / 1000, cp50 / 1000, cp99 / 1000);
    }
    free(srv);
    free(cli);
out:
    zmq_close(s_sock);
    zmq_ctx_term(s_zctx);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    bench_cleanup(dir, keep); /* a directory left behind is named, the figures stand */
    return rc || !WIFEXITED(st) || WEXITSTATUS(st) ? 1 : 0;
}
