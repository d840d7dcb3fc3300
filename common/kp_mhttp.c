/*  kp_mhttp: see kp_mhttp.h. Each connection is one struct holding its tcp handle, a read
 *  buffer and a deadline timer; it is freed when both handles have closed. */
#include "kp_mhttp.h"

#include "kp_arena.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEAD_MAX = 4096, CONN_MAX = 16, DEADLINE_MS = 5000, BODY_MAX = 65536 };

typedef struct s_conn {
    uv_tcp_t tcp;
    uv_timer_t deadline;
    uv_write_t wr;
    uv_shutdown_t sd;
    kp_mhttp_t *h;
    struct s_conn *next, **prevp;
    int open_handles;
    bool answered;
    size_t len;
    char head[HEAD_MAX];
    char *reply;
} s_conn_t;

struct kp_mhttp {
    uv_tcp_t listen;
    kp_mhttp_render_fn fn;
    void *arg;
    s_conn_t *conns;
    unsigned conns_n;
    bool stopping;
};

static void
s_conn_closed(uv_handle_t *hd)
{
    s_conn_t *c = hd->data;
    if (--c->open_handles)
        return;
    free(c->reply);
    free(c);
}

static void
s_conn_close(s_conn_t *c)
{
    if (!c->prevp)
        return; /* closing already */
    *c->prevp = c->next;
    if (c->next)
        c->next->prevp = c->prevp;
    c->prevp = NULL;
    c->h->conns_n--;
    uv_timer_stop(&c->deadline);
    uv_close((uv_handle_t *)&c->tcp, s_conn_closed);
    uv_close((uv_handle_t *)&c->deadline, s_conn_closed);
}

static void
s_on_deadline(uv_timer_t *t)
{
    s_conn_close(t->data);
}

static void
s_on_shutdown(uv_shutdown_t *sd, int status)
{
    if (status < 0)
        s_conn_close(sd->data);
}

/* The answer is out: half-close, and read (discarding) until the peer closes, so that what it
 * was still sending does not turn into a reset that eats the answer; the deadline bounds it. */
static void
s_on_written(uv_write_t *w, int status)
{
    s_conn_t *c = w->data;
    c->sd.data = c;
    if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, s_on_shutdown) != 0)
        s_conn_close(c);
}

static void
s_answer(s_conn_t *c, int code, const char *reason, const char *body, size_t body_len)
{
    c->answered = true;
    size_t cap = body_len + 256;
    c->reply = malloc(cap);
    if (!c->reply) {
        s_conn_close(c);
        return;
    }
    int n = snprintf(c->reply, cap,
                     "HTTP/1.0 %d %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, body_len);
    memcpy(c->reply + n, body, body_len);
    uv_buf_t b = uv_buf_init(c->reply, (unsigned)((size_t)n + body_len));
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, s_on_written) != 0)
        s_conn_close(c);
}

static void
s_request(s_conn_t *c)
{
    if (strncmp(c->head, "GET ", 4) != 0 || !strstr(c->head, " HTTP/1.")) {
        static const char m[] = "bad request\n";
        s_answer(c, 400, "Bad Request", m, sizeof m - 1);
        return;
    }
    const char *path = c->head + 4;
    if (!(strncmp(path, "/metrics ", 9) == 0 || strncmp(path, "/metrics?", 9) == 0)) {
        static const char m[] = "not found: GET /metrics\n";
        s_answer(c, 404, "Not Found", m, sizeof m - 1);
        return;
    }
    char *body = malloc(BODY_MAX);
    int n = body ? c->h->fn(c->h->arg, body, BODY_MAX) : -1;
    if (n < 0) {
        static const char m[] = "metrics unavailable\n";
        s_answer(c, 500, "Internal Server Error", m, sizeof m - 1);
    } else {
        s_answer(c, 200, "OK", body, (size_t)n);
    }
    free(body);
}

static void
s_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    s_conn_t *c = hd->data;
    if (c->answered)
        c->len = 0; /* draining: the buffer is scratch */
    size_t room = HEAD_MAX - 1 - c->len;
    *buf = uv_buf_init(c->head + c->len, (unsigned)room);
}

static void
s_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    s_conn_t *c = st->data;
    if (nread < 0) {
        s_conn_close(c);
        return;
    }
    if (c->answered) {
        c->len = 0;
        return;
    }
    c->len += (size_t)nread;
    c->head[c->len] = 0;
    if (memchr(c->head, 0, c->len)) { /* a NUL byte: not a request head */
        static const char m[] = "bad request\n";
        s_answer(c, 400, "Bad Request", m, sizeof m - 1);
    } else if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n")) {
        s_request(c);
    } else if (c->len >= HEAD_MAX - 1) {
        static const char m[] = "request head too large\n";
        s_answer(c, 431, "Request Header Fields Too Large", m, sizeof m - 1);
    }
}

static void
s_on_connection(uv_stream_t *ls, int status)
{
    kp_mhttp_t *h = ls->data;
    if (status < 0 || h->stopping)
        return;
    s_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(ls->loop, &c->tcp);
    uv_timer_init(ls->loop, &c->deadline);
    c->tcp.data = c->deadline.data = c;
    c->open_handles = 2;
    c->h = h;
    c->next = h->conns;
    if (c->next)
        c->next->prevp = &c->next;
    c->prevp = &h->conns;
    h->conns = c;
    h->conns_n++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        s_conn_close(c);
        return;
    }
    if (h->conns_n > CONN_MAX) { /* the oldest makes room: silent peers cannot lock scrapes out */
        s_conn_t *old = c;
        while (old->next)
            old = old->next;
        s_conn_close(old);
    }
    uv_timer_start(&c->deadline, s_on_deadline, DEADLINE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_on_read) != 0)
        s_conn_close(c);
}

/* "host:port" or "[v6]:port" into a sockaddr. */
static int
s_addr(const char *addr, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = 0;
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) ? -1 : 0;
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ? -1 : 0;
}

static void
s_listen_closed(uv_handle_t *hd)
{
    free(hd->data);
}

int
kp_mhttp_start(kp_mhttp_t **out, uv_loop_t *loop, const char *addr, kp_mhttp_render_fn fn,
               void *arg)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (s_addr(addr, &ss) != 0) {
        kp_log_err("metrics.http_addr", "addr=\"%s\" what=\"want host:port\"", addr);
        return KP_ECONFIG;
    }
    kp_mhttp_t *h = kp_xcalloc(1, sizeof *h);
    h->fn = fn;
    h->arg = arg;
    uv_tcp_init(loop, &h->listen);
    h->listen.data = h;
    int rc = uv_tcp_bind(&h->listen, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listen, 64, s_on_connection);
    if (rc) {
        kp_log_err("metrics.http_bind", "addr=\"%s\" what=\"%s\"", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&h->listen, s_listen_closed);
        return KP_ECONFIG;
    }
    kp_log_notice("metrics.http", "addr=%s", addr);
    *out = h;
    return 0;
}

void
kp_mhttp_stop(kp_mhttp_t **hp)
{
    kp_mhttp_t *h = *hp;
    if (!h)
        return;
    *hp = NULL;
    h->stopping = true;
    while (h->conns)
        s_conn_close(h->conns);
    uv_close((uv_handle_t *)&h->listen, s_listen_closed);
}
