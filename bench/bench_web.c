/*  kp-bench-web: the web's calendar page, requests per second and latency, and form sign-ups
 *  end to end.
 *
 *  Usage:
 *      kp-bench-web [--connections N] [--count N] [--seconds S] [--events N] [--signups N]
 *                   [--events-bin PATH] [--web-bin PATH] [--templates DIR] [--port-base P]
 *                   [--tmp-dir DIR] [--keep]
 *
 *      build/release/bench/kp-bench-web --connections 8 --count 100000 --seconds 20
 *
 *  Measure with the release build (RelWithDebInfo); the ASan build measures ASan.
 *
 *  What it does:
 *   1. makes a fresh directory and starts the real kumppani-events and kumppani-web of this
 *      build tree on 127.0.0.1 (ports from --port-base, default 18000: events 18201/18202,
 *      web 18501 and HTTP 18080), plain TCP, log level warning, the web's rate limit off
 *      (one address is all the load here);
 *   2. creates and publishes --events events (default 30) and waits until the calendar page
 *      lists them all (the web follows the events log);
 *   3. GET / over --connections keep-alive HTTP/1.1 connections, each with one request in
 *      flight, all in this thread around poll(), until --count responses or --seconds;
 *   4. --signups form sign-ups (default 2000; 0: none): each connection POSTs the sign-up form
 *      with the CSRF cookie and token it got from the form page and a fresh nonce, and waits
 *      for the confirmation page (the web suspends the request, calls events.signup.submit
 *      over the bus, the events service commits with fsync, the web renders the answer);
 *   5. stops both with SIGTERM and removes the directory unless --keep.
 *
 *  Output: human-readable lines, then for scripts:
 *      RESULT calendar_rps=... p50_ms=... p99_ms=... max_ms=... non200=... signups_per_s=...
 *             signup_p50_ms=... signup_p99_ms=...
 *  Latency is request written -> response complete (CLOCK_MONOTONIC). Exit status 0 only if
 *  every response was 200 and both services stopped cleanly. */
#define _GNU_SOURCE /* memmem, usleep */
#include "bench_util.h"
#include "kp_time.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef KP_BENCH_EVENTS_BIN
#define KP_BENCH_EVENTS_BIN "kumppani-events"
#endif
#ifndef KP_BENCH_WEB_BIN
#define KP_BENCH_WEB_BIN "kumppani-web"
#endif
#ifndef KP_BENCH_TEMPLATES
#define KP_BENCH_TEMPLATES "services/web/templates"
#endif
#define MAX_CONN 256
#define RESP_MAX (1u << 20)

typedef struct {
    int fd;
    char *buf;
    size_t n;
    int64_t sent_us;
    bool busy;
} conn_t;

static pid_t
s_spawn(const char *dir, const char *name, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.log", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int
s_stop(pid_t pid)
{
    int st = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static int
s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Length of a complete response in buf (headers + Content-Length), or 0 if incomplete. */
static size_t
s_complete(const char *buf, size_t n, unsigned *status)
{
    const char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    const char *cl = memmem(buf, head, "Content-Length: ", 16);
    if (!cl)
        cl = memmem(buf, head, "content-length: ", 16);
    size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
    if (n < head + len)
        return 0;
    *status = (unsigned)strtoul(buf + 9, NULL, 10);
    return head + len;
}

/* One blocking request on a fresh connection; the response into out (RESP_MAX). */
static unsigned
s_once(int port, const char *req, char *out, size_t *out_n)
{
    int fd = s_connect(port);
    if (fd < 0)
        return 0;
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return 0;
    }
    size_t n = 0;
    unsigned status = 0;
    for (;;) {
        ssize_t r = read(fd, out + n, RESP_MAX - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (s_complete(out, n, &status))
            break;
    }
    out[n] = 0;
    close(fd);
    *out_n = n;
    return status;
}

/* One call to the events service (plain TCP: the admin role). Returns the reply or NULL. */
static Kumppani__V1__Reply *
s_call(void *sock, const char *method, const ProtobufCMessage *body, const char *key)
{
    static uint64_t rid;
    uint8_t b[4096], f[8192];
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = ++rid;
    rq.method = (char *)method;
    rq.idempotency_key = (char *)key;
    rq.body.len = protobuf_c_message_pack(body, b);
    rq.body.data = b;
    size_t n = kumppani__v1__request__pack(&rq, f);
    zmq_send(sock, f, n, 0);
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0)
        return NULL;
    int got = zmq_recv(sock, f, sizeof f, 0);
    return got > 0 ? kumppani__v1__reply__unpack(NULL, (size_t)got, f) : NULL;
}

typedef struct {
    int port, nconn;
    uint64_t count;
    double seconds;
    int64_t *lat;
    uint64_t done, non200;
    double elapsed_s;
} load_t;

/* Drives nconn keep-alive connections; make(i, buf) writes request i into buf. */
static void
s_load(load_t *L, size_t (*make)(uint64_t i, char *buf, void *arg), void *arg)
{
    conn_t c[MAX_CONN];
    struct pollfd pf[MAX_CONN];
    char req[16384];
    uint64_t next = 0;
    int64_t t0 = kp_mono_us(), stop = t0 + (int64_t)(L->seconds * 1e6);
    for (int i = 0; i < L->nconn; i++) {
        c[i] = (conn_t){s_connect(L->port), malloc(RESP_MAX), 0, 0, false};
        pf[i] = (struct pollfd){c[i].fd, POLLIN, 0};
    }
    for (;;) {
        int64_t now = kp_mono_us();
        bool more = next < L->count && now < stop;
        bool any = false;
        for (int i = 0; i < L->nconn; i++) {
            if (!c[i].busy && more && c[i].fd >= 0) {
                size_t n = make(next, req, arg);
                if (write(c[i].fd, req, n) != (ssize_t)n) {
                    close(c[i].fd);
                    c[i].fd = -1;
                    continue;
                }
                next++;
                c[i].busy = true;
                c[i].n = 0;
                c[i].sent_us = kp_mono_us();
                more = next < L->count;
            }
            any |= c[i].busy;
        }
        if (!any)
            break;
        if (poll(pf, (nfds_t)L->nconn, 10000) <= 0)
            break;
        for (int i = 0; i < L->nconn; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)) || !c[i].busy)
                continue;
            ssize_t r = read(c[i].fd, c[i].buf + c[i].n, RESP_MAX - 1 - c[i].n);
            if (r <= 0) {
                L->non200++;
                close(c[i].fd);
                c[i].fd = pf[i].fd = s_connect(L->port);
                c[i].busy = false;
                continue;
            }
            c[i].n += (size_t)r;
            unsigned status;
            size_t len = s_complete(c[i].buf, c[i].n, &status);
            if (!len)
                continue;
            L->lat[L->done++] = kp_mono_us() - c[i].sent_us;
            if (status != 200)
                L->non200++;
            c[i].busy = false;
        }
    }
    L->elapsed_s = (double)(kp_mono_us() - t0) / 1e6;
    for (int i = 0; i < L->nconn; i++) {
        if (c[i].fd >= 0)
            close(c[i].fd);
        free(c[i].buf);
    }
    qsort(L->lat, L->done, sizeof *L->lat, bench_cmp_i64);
}

static size_t
s_make_get(uint64_t i, char *buf, void *arg)
{
    (void)i;
    (void)arg;
    const char *r = "GET / HTTP/1.1\r\nHost: bench\r\nAccept-Language: fi\r\n\r\n";
    memcpy(buf, r, strlen(r));
    return strlen(r);
}

typedef struct {
    char cookie[64], csrf[128];
} form_t;

static size_t
s_make_post(uint64_t i, char *buf, void *arg)
{
    form_t *f = arg;
    char body[1024];
    int bn = snprintf(body, sizeof body,
                      "csrf=%s&nonce=bench%038llu&name=Bench+Person&email=b%llu%%40example.fi"
                      "&role=1&companions=0&consent_reminders=yes",
                      f->csrf, (unsigned long long)i, (unsigned long long)i);
    return (size_t)snprintf(
        buf, 16384,
        "POST /events/1/signup HTTP/1.1\r\nHost: bench\r\nCookie: kp_csrf=%s\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: %d\r\n\r\n%s",
        f->cookie, bn, body);
}

int
main(int argc, char **argv)
{
    int nconn = 8, nevents = 30, base = 18000;
    uint64_t count = 100000, signups = 2000;
    double seconds = 20;
    const char *events_bin = KP_BENCH_EVENTS_BIN, *web_bin = KP_BENCH_WEB_BIN,
               *templates = KP_BENCH_TEMPLATES, *tmp = getenv("TMPDIR");
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            keep = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "kp-bench-web: %s needs a value (see the usage in bench_web.c)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--connections") == 0)
            nconn = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--count") == 0)
            count = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            seconds = strtod(v, NULL);
        else if (strcmp(a, "--events") == 0)
            nevents = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--signups") == 0)
            signups = strtoull(v, NULL, 10);
        else if (strcmp(a, "--events-bin") == 0)
            events_bin = v;
        else if (strcmp(a, "--web-bin") == 0)
            web_bin = v;
        else if (strcmp(a, "--templates") == 0)
            templates = v;
        else if (strcmp(a, "--port-base") == 0)
            base = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--tmp-dir") == 0)
            tmp = v;
        else {
            fprintf(stderr, "kp-bench-web: unknown %s\n", a);
            return 2;
        }
    }
    if (nconn < 1 || nconn > MAX_CONN) {
        fprintf(stderr, "kp-bench-web: --connections 1..%d\n", MAX_CONN);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/kp-bench-web-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ev_api[64], ev_pub[64], web_api[64], http[64], ev_data[4200], web_data[4200];
    snprintf(ev_api, sizeof ev_api, "tcp://127.0.0.1:%d", base + 201);
    snprintf(ev_pub, sizeof ev_pub, "tcp://127.0.0.1:%d", base + 202);
    snprintf(web_api, sizeof web_api, "tcp://127.0.0.1:%d", base + 501);
    snprintf(http, sizeof http, "127.0.0.1:%d", base + 80);
    snprintf(ev_data, sizeof ev_data, "%s/events", dir);
    snprintf(web_data, sizeof web_data, "%s/web", dir);
    char *eargv[] = {(char *)events_bin, "--api", ev_api,        "--pub",   ev_pub,
                     "--data-dir",       ev_data, "--log-level", "warning", NULL};
    char *wargv[] = {(char *)web_bin,
                     "--api",
                     web_api,
                     "--data-dir",
                     web_data,
                     "--http",
                     http,
                     "--events-api",
                     ev_api,
                     "--events-pub",
                     ev_pub,
                     "--templates",
                     (char *)templates,
                     "--rate-per-s",
                     "0",
                     "--per-ip-connections",
                     "1000",
                     "--log-level",
                     "warning",
                     NULL};
    pid_t ev = s_spawn(dir, "events", eargv);
    usleep(300000);
    pid_t web = s_spawn(dir, "web", wargv);
    int port = base + 80, rc = 0;
    char *resp = malloc(RESP_MAX);
    size_t rn;

    void *zctx = zmq_ctx_new(), *sock = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(sock, ev_api);
    int64_t now = kp_now_ms() / 1000;
    for (int i = 0; i < nevents; i++) {
        Kumppani__V1__CreateEventRequest cr = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
        char title[64], key[32];
        snprintf(title, sizeof title, "Kumppanuuspöytä %d", i + 1);
        snprintf(key, sizeof key, "bench-%d", i);
        cr.kind = 1 + i % 9;
        cr.title = title;
        cr.municipality_code = i % 2 ? "743" : "091";
        cr.start_unix = now + 86400 * (1 + i);
        cr.end_unix = cr.start_unix + 7200;
        cr.place = "Kaupungintalo";
        cr.language = "fi";
        Kumppani__V1__Reply *r = NULL;
        for (int t = 0; t < 20 && !(r = s_call(sock, "events.event.create", &cr.base, key)); t++)
            usleep(200000);
        Kumppani__V1__EventReply *er =
            r && (!r->status || r->status->code == 0)
                ? kumppani__v1__event_reply__unpack(NULL, r->body.len, r->body.data)
                : NULL;
        if (!er) {
            fprintf(stderr, "kp-bench-web: cannot create events (see %s/events.log)\n", dir);
            rc = 1;
            goto out;
        }
        Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
        ref.event_id = er->event->id;
        Kumppani__V1__Reply *p = s_call(sock, "events.event.publish", &ref.base, "");
        kumppani__v1__reply__free_unpacked(p, NULL);
        kumppani__v1__event_reply__free_unpacked(er, NULL);
        kumppani__v1__reply__free_unpacked(r, NULL);
    }
    /* The calendar lists them all once the web has followed the log. */
    char want[80];
    snprintf(want, sizeof want, "Kumppanuuspöytä %d<", nevents);
    int64_t wait_end = kp_mono_us() + 20000000;
    while (kp_mono_us() < wait_end &&
           !(s_once(port, "GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", resp, &rn) ==
                 200 &&
             strstr(resp, want)))
        usleep(100000);
    if (!strstr(resp, want)) {
        fprintf(stderr, "kp-bench-web: the calendar never listed the events (see %s)\n", dir);
        rc = 1;
        goto out;
    }
    printf("calendar page: %zu bytes, %d events\n", rn, nevents);

    load_t L = {port, nconn, count, seconds, calloc(count + 1, sizeof(int64_t)), 0, 0, 0};
    s_load(&L, s_make_get, NULL);
    double rps = (double)L.done / L.elapsed_s;
    printf("calendar: %llu requests over %d keep-alive connections in %.2f s: %.0f requests/s\n",
           (unsigned long long)L.done, nconn, L.elapsed_s, rps);
    printf("calendar latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms; non-200 %llu\n",
           bench_pct(L.lat, L.done, 50) / 1000, bench_pct(L.lat, L.done, 99) / 1000,
           bench_pct(L.lat, L.done, 100) / 1000, (unsigned long long)L.non200);

    load_t S = {port, nconn, signups, seconds, calloc(signups + 1, sizeof(int64_t)), 0, 0, 0};
    double sps = 0;
    if (signups) {
        form_t f = {0};
        s_once(port, "GET /events/1/signup HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", resp,
               &rn);
        const char *ck = strstr(resp, "kp_csrf="), *tk = strstr(resp, "name=\"csrf\" value=\"");
        if (!ck || !tk) {
            fprintf(stderr, "kp-bench-web: no CSRF cookie or token on the form\n");
            rc = 1;
            goto out;
        }
        sscanf(ck + 8, "%63[A-Za-z0-9_-]", f.cookie);
        sscanf(tk + 19, "%127[A-Za-z0-9_-]", f.csrf);
        s_load(&S, s_make_post, &f);
        sps = (double)S.done / S.elapsed_s;
        printf("sign-ups: %llu form posts end to end in %.2f s: %.0f sign-ups/s\n",
               (unsigned long long)S.done, S.elapsed_s, sps);
        printf("sign-up latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms; non-200 %llu\n",
               bench_pct(S.lat, S.done, 50) / 1000, bench_pct(S.lat, S.done, 99) / 1000,
               bench_pct(S.lat, S.done, 100) / 1000, (unsigned long long)S.non200);
    }
    printf("RESULT calendar_rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non200=%llu "
           "signups_per_s=%.0f signup_p50_ms=%.2f signup_p99_ms=%.2f\n",
           rps, bench_pct(L.lat, L.done, 50) / 1000, bench_pct(L.lat, L.done, 99) / 1000,
           bench_pct(L.lat, L.done, 100) / 1000, (unsigned long long)(L.non200 + S.non200), sps,
           bench_pct(S.lat, S.done, 50) / 1000, bench_pct(S.lat, S.done, 99) / 1000);
    if (L.non200 || S.non200)
        rc = 1;
    free(L.lat);
    free(S.lat);
out:
    zmq_close(sock);
    zmq_ctx_term(zctx);
    free(resp);
    if (s_stop(web) != 0 || s_stop(ev) != 0) {
        fprintf(stderr, "kp-bench-web: a service did not stop cleanly (see %s)\n", dir);
        rc = 1;
        keep = true;
    }
    if (bench_cleanup(dir, keep) != 0)
        rc = 1;
    return rc;
}
