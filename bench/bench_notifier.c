/*  kp-bench-notifier: how fast the notifier delivers, by e-mail to a local SMTP server and by
 *  webhook to a local HTTP endpoint.
 *
 *  Usage:
 *      kp-bench-notifier [--count N] [--inflight N] [--seconds S] [--webhooks-only] [--keep]
 *
 *  --webhooks-only: the sign-ups carry only a phone number (and no SMS gateway is set), so
 *  only the webhooks are planned and sent: their rate alone.
 *
 *      build/release/bench/kp-bench-notifier --count 20000
 *
 *  Measure with the release build; the ASan build measures ASan.
 *
 *  What it does:
 *   1. starts the real kumppani-events of this build tree on free loopback ports with a fresh
 *      data directory, creates and publishes one event and submits --count sign-ups (not
 *      timed);
 *   2. starts, inside this process, a minimal SMTP server (220/250/354, counts each message
 *      at its final ".") and a minimal HTTP/1.1 server (answers 200 to every POST), both on
 *      one libuv loop, so that the sinks cost little next to the notifier;
 *   3. starts the real kumppani-notifier pointed at both (webhook-url set, STARTTLS off) and
 *      times, per sink, from the first arrival to the --count-th: the notifier replays the
 *      events log, plans a confirmation e-mail and a webhook per sign-up, leases them, sends
 *      them over reused connections and records each outcome, every step durable.
 *
 *  Output: RESULT count=... mails_per_s=... webhooks_per_s=... Exit status 0 only if every
 *  message arrived in time. Targets (issue 6): >= 2,000 mails/s, >= 10,000 webhooks/s. */
#include "bench_util.h"
#include "kp_time.h"
#include "kumppani.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#ifndef KP_BENCH_EVENTS
#define KP_BENCH_EVENTS "kumppani-events"
#endif
#ifndef KP_BENCH_NOTIFIER
#define KP_BENCH_NOTIFIER "kumppani-notifier"
#endif

typedef struct {
    uint64_t n;
    int64_t first_us, last_us;
} sink_count_t;

static sink_count_t s_smtp, s_http;
static uint64_t s_want;
static bool s_hooks_only;
static uv_loop_t *s_loop;

typedef struct {
    uv_tcp_t tcp;
    bool smtp, in_data;
    char *buf;
    size_t len, cap;
} conn_t;

static void
s_count(sink_count_t *c)
{
    int64_t now = kp_mono_us();
    if (c->n == 0)
        c->first_us = now;
    c->n++;
    if (c->n == s_want)
        c->last_us = now;
}

static void
s_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    free(c->buf);
    free(c);
}

static void
s_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void
s_send(conn_t *c, const char *s)
{
    size_t n = strlen(s);
    uv_write_t *w = malloc(sizeof *w + n);
    memcpy((char *)(w + 1), s, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, s_written) != 0)
        free(w);
}

static void
s_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    conn_t *c = h->data;
    (void)hint;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap);
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

/* Consumes what it can from c->buf; returns bytes used. */
static size_t
s_smtp_feed(conn_t *c)
{
    size_t used = 0;
    for (;;) {
        char *p = c->buf + used, *end = c->buf + c->len;
        if (c->in_data) {
            char *m = memmem(p, (size_t)(end - p), "\r\n.\r\n", 5);
            if (!m)
                return (size_t)(end - p) > 4 ? c->len - 4 : used;
            used = (size_t)(m + 5 - c->buf);
            c->in_data = false;
            s_count(&s_smtp);
            s_send(c, "250 OK\r\n");
            continue;
        }
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return used;
        used = (size_t)(nl + 1 - c->buf);
        if (strncasecmp(p, "EHLO", 4) == 0)
            s_send(c, "250-sink\r\n250 8BITMIME\r\n");
        else if (strncasecmp(p, "HELO", 4) == 0)
            s_send(c, "250 sink\r\n");
        else if (strncasecmp(p, "DATA", 4) == 0) {
            c->in_data = true;
            s_send(c, "354 go\r\n");
            used -= 2; /* keep the DATA line's CRLF: it precedes the body's first line */
        } else if (strncasecmp(p, "QUIT", 4) == 0) {
            s_send(c, "221 bye\r\n");
        } else {
            s_send(c, "250 OK\r\n");
        }
    }
}

static size_t
s_http_feed(conn_t *c)
{
    size_t used = 0;
    for (;;) {
        char *p = c->buf + used, *end = c->buf + c->len;
        char *h = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!h)
            return used;
        size_t clen = 0;
        for (char *q = p; q < h; q++)
            if ((*q == 'C' || *q == 'c') && strncasecmp(q, "Content-Length:", 15) == 0) {
                clen = strtoul(q + 15, NULL, 10);
                break;
            }
        if ((size_t)(end - (h + 4)) < clen)
            return used;
        used = (size_t)(h + 4 + clen - c->buf);
        s_count(&s_http);
        s_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
}

static void
s_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    conn_t *c = st->data;
    if (n < 0) {
        uv_close((uv_handle_t *)st, s_closed);
        return;
    }
    c->len += (size_t)n;
    size_t used = c->smtp ? s_smtp_feed(c) : s_http_feed(c);
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

static void
s_accept(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    c->smtp = server->data != NULL;
    uv_tcp_init(s_loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, s_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->smtp)
        s_send(c, "220 sink ESMTP\r\n");
    uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_read);
}

static int
s_listen(uv_tcp_t *t, bool smtp)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(s_loop, t);
    t->data = smtp ? (void *)1 : NULL;
    if (uv_tcp_bind(t, (struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)t, 256, s_accept))
        return -1;
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(t, (struct sockaddr *)&got, &len);
    return ntohs(got.sin_port);
}

static int
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t
s_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void
s_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static int64_t s_deadline_us;

static pid_t s_waiting = -1;

static void
s_close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    bool conn = h->type == UV_TCP && h->data != NULL && h->data != (void *)1;
    uv_close(h, conn ? s_closed : NULL);
}

static void
s_check(uv_timer_t *t)
{
    if (s_waiting > 0) {
        if (waitpid(s_waiting, NULL, WNOHANG) == s_waiting)
            s_waiting = -1;
        if (s_waiting < 0 || kp_mono_us() > s_deadline_us)
            uv_stop(t->loop);
        return;
    }
    if (((s_smtp.n >= s_want || s_hooks_only) && s_http.n >= s_want) ||
        kp_mono_us() > s_deadline_us)
        uv_stop(t->loop);
}

int
main(int argc, char **argv)
{
    uint64_t count = 5000, inflight = 64, seconds = 120;
    bool keep = false, hooks_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc)
            inflight = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (strcmp(argv[i], "--webhooks-only") == 0)
            hooks_only = true;
        else {
            fprintf(stderr, "usage: kp-bench-notifier [--count N] [--inflight N] [--seconds S] "
                            "[--webhooks-only] [--keep]\n");
            return 2;
        }
    }
    if (count == 0 || inflight == 0 || inflight > 1024)
        return 2;
    s_want = count;
    s_hooks_only = hooks_only;
    char dir[] = "/tmp/kp-bench-ntf-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char ev_api[64], ev_pub[64], n_api[64], n_pub[64], ev_data[128], n_data[128], log[128];
    snprintf(ev_api, sizeof ev_api, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(ev_pub, sizeof ev_pub, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(n_api, sizeof n_api, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(n_pub, sizeof n_pub, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(ev_data, sizeof ev_data, "%s/events", dir);
    snprintf(n_data, sizeof n_data, "%s/notifier", dir);
    snprintf(log, sizeof log, "%s/services.log", dir);
    char *ev_argv[] = {KP_BENCH_EVENTS, "--api", ev_api,        "--pub",   ev_pub,
                       "--data-dir",    ev_data, "--log-level", "warning", NULL};
    pid_t ev_pid = s_spawn(ev_argv, log), n_pid = -1;
    int rc = 1;

    kpc_t *kc = NULL;
    kpc_opts_t ko = {.endpoint = ev_api, .timeout_ms = 2000, .attempts = 10};
    kpc_status_t st;
    if (kpc_new(&kc, &ko) != 0)
        goto out;
    Kumppani__V1__CreateEventRequest cr = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    int64_t now = kp_now_ms() / 1000;
    cr.kind = KUMPPANI__V1__EVENT_KIND__KIND_PARTNERSHIP_TABLE;
    cr.title = "Kumppanuuspöytä: bench";
    cr.municipality_code = "743";
    cr.start_unix = now + 30 * 86400;
    cr.end_unix = cr.start_unix + 7200;
    cr.place = "Seinäjoki";
    cr.language = "fi";
    Kumppani__V1__EventReply *er = NULL;
    if (kpc_event_create(kc, "bench-ev", &cr, &er, &st) != 0 || st.code) {
        fprintf(stderr, "bench: event create failed\n");
        goto out;
    }
    uint64_t eid = er->event->id;
    kpc_msg_destroy(&er);
    if (kpc_event_publish(kc, eid, &er, &st) != 0 || st.code)
        goto out;
    kpc_msg_destroy(&er);
    fprintf(stderr, "bench: submitting %llu sign-ups (not timed)\n", (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++) {
        char ext[32], mail[64], name[48];
        snprintf(ext, sizeof ext, "%010llu", (unsigned long long)i);
        snprintf(mail, sizeof mail, "p%llu@example.fi", (unsigned long long)i);
        snprintf(name, sizeof name, "Osallistuja %llu", (unsigned long long)i);
        Kumppani__V1__SubmitSignupRequest sr = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
        sr.event_id = eid;
        sr.source = "bench";
        sr.external_id = ext;
        sr.name = name;
        if (hooks_only) /* a phone and no SMS gateway: only the webhook is planned */
            sr.phone = "+358401234567";
        else
            sr.email = mail;
        sr.role = KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_RESIDENT;
        Kumppani__V1__SignupReply *rep = NULL;
        if (kpc_signup_submit(kc, &sr, &rep, &st) != 0 || st.code) {
            fprintf(stderr, "bench: sign-up %llu failed\n", (unsigned long long)i);
            goto out;
        }
        kpc_msg_destroy(&rep);
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    s_loop = &loop;
    uv_tcp_t smtp_srv, http_srv;
    int smtp_port = s_listen(&smtp_srv, true), http_port = s_listen(&http_srv, false);
    char smtp_url[64], hook_url[64], infl[16];
    snprintf(smtp_url, sizeof smtp_url, "smtp://127.0.0.1:%d", smtp_port);
    snprintf(hook_url, sizeof hook_url, "http://127.0.0.1:%d/hook", http_port);
    snprintf(infl, sizeof infl, "%llu", (unsigned long long)inflight);
    char *n_argv[] = {KP_BENCH_NOTIFIER,
                      "--api",
                      n_api,
                      "--pub",
                      n_pub,
                      "--data-dir",
                      n_data,
                      "--events-api",
                      ev_api,
                      "--events-pub",
                      ev_pub,
                      "--smtp-url",
                      smtp_url,
                      "--smtp-tls",
                      "off",
                      "--webhook-url",
                      hook_url,
                      "--webhook-secret",
                      "bench",
                      "--inflight-max",
                      infl,
                      "--log-level",
                      "warning",
                      NULL};
    int64_t t0 = kp_mono_us();
    n_pid = s_spawn(n_argv, log);
    s_deadline_us = t0 + (int64_t)seconds * 1000000;
    uv_timer_t chk;
    uv_timer_init(&loop, &chk);
    uv_timer_start(&chk, s_check, 50, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    double mail_s = s_smtp.n >= count ? (s_smtp.last_us - s_smtp.first_us) / 1e6 : 0;
    double hook_s = s_http.n >= count ? (s_http.last_us - s_http.first_us) / 1e6 : 0;
    double total_s = (kp_mono_us() - t0) / 1e6;
    printf("mails: %llu in %.3f s (first to last)\nwebhooks: %llu in %.3f s\n"
           "start to done: %.3f s\n",
           (unsigned long long)s_smtp.n, mail_s, (unsigned long long)s_http.n, hook_s, total_s);
    printf("RESULT count=%llu inflight=%llu mails_per_s=%.0f webhooks_per_s=%.0f\n",
           (unsigned long long)count, (unsigned long long)inflight,
           mail_s > 0 ? (count - 1) / mail_s : 0.0, hook_s > 0 ? (count - 1) / hook_s : 0.0);
    rc = (s_smtp.n >= count || hooks_only) && s_http.n >= count ? 0 : 1;
    fflush(stdout);
    /* Stop the notifier while the sinks still answer: libcurl says QUIT to the SMTP server on
     * each cached connection when it shuts down. */
    kill(n_pid, SIGTERM);
    s_deadline_us = kp_mono_us() + 20 * 1000000;
    s_waiting = n_pid;
    uv_run(&loop, UV_RUN_DEFAULT);
    if (s_waiting > 0)
        s_stop(n_pid);
    n_pid = -1;
    uv_walk(&loop, s_close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
out:
    kpc_destroy(&kc);
    s_stop(n_pid);
    s_stop(ev_pid);
    if (bench_cleanup(dir, keep) != 0)
        rc = 1;
    return rc;
}
