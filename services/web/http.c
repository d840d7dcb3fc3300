/*  web/http.c: libmicrohttpd inside the service's libuv loop.
 *
 *  MHD runs with MHD_USE_EPOLL and no thread of its own: its epoll descriptor sits on a
 *  uv_poll_t, and a uv_timer_t follows MHD_get_timeout; each wake-up calls MHD_run and re-arms
 *  the timer. So every request runs on the loop thread, between the server's turns, and may
 *  read the read model through the turn's transaction (web_tx). A request that needs the bus
 *  (a sign-up, a cancel, an iCalendar feed) is suspended (MHD_suspend_connection) by web_call,
 *  and resumed by setting its answer (web_reply, under web_page and web_error) when the bus's
 *  answer or the timeout comes; the timer is then fired at once so MHD sends the response in
 *  the same loop iteration. So a page cannot forget to resume, nor resume twice.
 *
 *  Durable before answered (DESIGN 2): MHD may write a response as soon as it is queued, long
 *  before the loop's turn ends and commits. So s_queue commits the turn's transaction first
 *  (kp_server_commit) whenever one is open: a request that wrote (an audit entry, a failed
 *  sign-in's count, a session) is answered only after its write is on disk, and a failed commit
 *  is answered 503. HTTP writes lose the group commit; they are a person's clicks.
 *
 *  Limits: connections in total and per address (MHD), an idle timeout per connection, which
 *  drops slow clients (MHD), a memory limit per connection that bounds headers (MHD answers
 *  431), a body limit (413, from Content-Length at once, else while reading), a per-address
 *  token bucket (429 with Retry-After), paths with "..", "//", backslashes or control
 *  characters refused (400) before any route sees them, and form values that are not UTF-8
 *  text refused (400). No file is ever opened by a request path: static files are read at
 *  start. Header values are fixed strings, our own base64url tokens and a language code, so a
 *  request cannot put a line break into a response header.
 *
 *  Every response carries: Content-Security-Policy (no inline script, no script at all,
 *  frame-ancestors 'none', form-action 'self'), X-Content-Type-Options nosniff,
 *  Referrer-Policy no-referrer (personal links must not leak), X-Frame-Options DENY,
 *  Permissions-Policy, Cross-Origin-Opener-Policy and Cache-Control no-store (static: public). */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"
#include "web.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSP                                                                                        \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "                   \
    "frame-ancestors 'none'; base-uri 'none'"
#define FIELDS_MAX 256 /* the back office's bulk marking at the door: many sign-ups */

static bool s_path_ok(const char *p);

/* ---- the loop ---------------------------------------------------------------------------- */

static void s_on_timer(uv_timer_t *t);

static void
s_arm(web_svc_t *svc)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(svc->mhd, &ms) == MHD_YES)
        uv_timer_start(&svc->timer, s_on_timer, ms > 60000 ? 60000 : ms, 0);
    else
        uv_timer_stop(&svc->timer);
}

static void
s_run(web_svc_t *svc)
{
    if (!svc->mhd)
        return;
    MHD_run(svc->mhd);
    s_arm(svc);
}

static void
s_on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    s_run(p->data);
}

static void
s_on_timer(uv_timer_t *t)
{
    s_run(t->data);
}

/* ---- responses --------------------------------------------------------------------------- */

static void
s_headers(web_req_t *r, struct MHD_Response *resp, bool cacheable)
{
    web_svc_t *svc = r->svc;
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Permissions-Policy",
                            "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cache-Control", cacheable ? "public, max-age=3600" : "no-store");
    MHD_add_response_header(resp, "Content-Language", web_lang_codes[r->lang]);
    if (svc->secure_cookies)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    char c[160];
    if (r->new_csrf_cookie) {
        snprintf(c, sizeof c, "kp_csrf=%s; Path=/; HttpOnly; SameSite=Strict%s", r->csrf_cookie,
                 svc->secure_cookies ? "; Secure" : "");
        MHD_add_response_header(resp, "Set-Cookie", c);
    }
    if (r->set_cookie)
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->set_lang_cookie) {
        snprintf(c, sizeof c, "kp_lang=%s; Path=/; Max-Age=31536000; SameSite=Lax%s",
                 web_lang_codes[r->lang], svc->secure_cookies ? "; Secure" : "");
        MHD_add_response_header(resp, "Set-Cookie", c);
    }
}

static void s_finish(web_req_t *r);

void
web_reply(web_req_t *r, unsigned status, const char *ctype, web_buf_t *body)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    struct MHD_Response *resp;
    if (body && body->p) {
        resp = MHD_create_response_from_buffer(body->n, body->p, MHD_RESPMEM_MUST_FREE);
        body->p = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    web_buf_free(body ? body : &(web_buf_t){0});
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", ctype);
        s_headers(r, resp, status == 200 && strncmp(ctype, "text/css", 8) == 0);
        if (status == 429)
            MHD_add_response_header(resp, "Retry-After", "1");
        r->resp = resp;
        r->status = status;
    }
    /* The answer is set: a request a bus call suspended resumes. It leaves when MHD next runs,
     * after this turn's commit (s_queue), so a caller may still add a header or an audit. */
    s_finish(r);
}

web_tv_t *
web_root(web_req_t *r, const char *title_key)
{
    web_svc_t *svc = r->svc;
    web_tv_t *root = web_tv_new(r->arena);
    web_tv_attach(r->arena, root, "t", svc->texts[r->lang]);
    web_tv_str(r->arena, root, "lang", web_lang_codes[r->lang]);
    web_tv_str(r->arena, root, "title", web_text(r, title_key));
    web_tv_str(r->arena, root, "base_url", svc->base_url);
    if (svc->contact)
        web_tv_str(r->arena, root, "contact", svc->contact);
    web_tv_t *langs = web_tv_list(r->arena, root, "langs");
    for (int l = 0; l < WEB_LANG_N; l++) {
        web_tv_t *it = web_tv_item(r->arena, langs);
        web_tv_str(r->arena, it, "code", web_lang_codes[l]);
        web_tv_str(r->arena, it, "name", web_tv_get(svc->texts[l], "lang_name"));
        web_tv_strf(r->arena, it, "href", "%s?lang=%s", s_path_ok(r->path) ? r->path : "/",
                    web_lang_codes[l]);
        web_tv_bool(r->arena, it, "current", l == r->lang);
    }
    char tok[WEB_TOKEN_MAX];
    web_csrf_token(svc->csrf_key, r->csrf_cookie, tok);
    web_tv_str(r->arena, root, "csrf", tok);
    return root;
}

void
web_redirect_v(web_req_t *r, const char *fmt, va_list ap)
{
    char location[256];
    vsnprintf(location, sizeof location, fmt, ap);
    web_buf_t b = {0};
    web_reply(r, 303, "text/plain; charset=utf-8", &b);
    if (r->resp)
        MHD_add_response_header(r->resp, "Location", location);
}

void
web_redirect(web_req_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    web_redirect_v(r, fmt, ap);
    va_end(ap);
}

void
web_page(web_req_t *r, unsigned status, const char *page, web_tv_t *root)
{
    web_buf_t b = {0};
    if (!root || kp_arena_refusals(r->arena) ||
        web_tmpl_render(r->svc->tmpl, page, root, &b) != 0) {
        kp_log_err("http.render", "page=%s", page);
        web_buf_free(&b);
        web_buf_adds(&b, "500 internal error\n");
        web_reply(r, 500, "text/plain; charset=utf-8", &b);
        return;
    }
    web_reply(r, status, "text/html; charset=utf-8", &b);
}

void
web_error(web_req_t *r, unsigned status, const char *msg_key)
{
    web_tv_t *root = web_root(r, "err_title");
    web_tv_strf(r->arena, root, "status", "%u", status);
    web_tv_str(r->arena, root, "message", web_text(r, msg_key));
    web_page(r, status, "error", root);
}

static enum MHD_Result
s_queue(web_req_t *r)
{
    if (!r->resp)
        return MHD_NO;
    /* Durable before answered: whatever this request wrote (an audit entry, a failed sign-in's
     * count, a session) commits before MHD may write its answer, which it can do before the
     * loop's turn ends. A turn with no write commits without a sync (LMDB). */
    if (kp_store_turn_open(kp_server_store(r->svc->srv)) && kp_server_commit(r->svc->srv) != 0) {
        r->set_cookie = NULL; /* the session it names was not written */
        web_error(r, 503, "err_unavailable");
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    kp_log_debug("http.reply", "route=%s status=%u", r->route ? r->route : "-", r->status);
    return ok;
}

/* ---- requests ---------------------------------------------------------------------------- */

const char *
web_header(web_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
web_query(web_req_t *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v && kp_text_check(v, strlen(v), false) != KP_TEXT_OK)
        return NULL;
    return v;
}

const char *
web_field(web_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->fields_n; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static int
s_hex(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes a form component in place; false if a % escape is broken. */
static bool
s_unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+')
            *o++ = ' ';
        else if (*s == '%') {
            int h = s_hex(s[1]), l = h < 0 ? -1 : s_hex(s[2]);
            if (l < 0 || (h | l) == 0)
                return false; /* broken, or an encoded NUL */
            *o++ = (char)(h << 4 | l);
            s += 2;
        } else
            *o++ = *s;
    }
    *o = 0;
    return true;
}

/* Parses an application/x-www-form-urlencoded body. */
static void
s_parse_form(web_req_t *r)
{
    r->names = kp_arena_alloc(r->arena, FIELDS_MAX * sizeof(char *));
    r->values = kp_arena_alloc(r->arena, FIELDS_MAX * sizeof(char *));
    char *body = kp_arena_memdup(r->arena, r->body.p ? r->body.p : "", r->body.n);
    if (!r->names || !r->values || !body) {
        r->form_bad = true;
        return;
    }
    if (strlen(body) != r->body.n) {
        r->form_bad = true; /* a NUL byte in the body */
        return;
    }
    for (char *p = body, *next; p && *p; p = next) {
        next = strchr(p, '&');
        if (next)
            *next++ = 0;
        char *eq = strchr(p, '=');
        char *v = eq ? eq + 1 : p + strlen(p);
        if (eq)
            *eq = 0;
        if (!s_unescape(p) || !s_unescape(v) || r->fields_n == FIELDS_MAX) {
            r->form_bad = true;
            return;
        }
        /* Browsers send a textarea's line breaks as CR LF; the text rule (and the events
         * service) refuses CR, so CRs go before the value is checked. */
        char *o = v;
        for (char *s = v; *s; s++)
            if (*s != '\r')
                *o++ = *s;
        *o = 0;
        if (kp_text_check(p, strlen(p), false) != KP_TEXT_OK ||
            kp_text_check(v, strlen(v), true) != KP_TEXT_OK) {
            r->form_bad = true;
            return;
        }
        r->names[r->fields_n] = p;
        r->values[r->fields_n++] = v;
    }
}

bool
web_csrf_check(web_req_t *r)
{
    if (r->new_csrf_cookie ||
        !web_csrf_ok(r->svc->csrf_key, r->csrf_cookie, web_field(r, "csrf"))) {
        kp_log_info("http.csrf", "route=%s what=\"missing or wrong CSRF token\"", r->route);
        web_error(r, 403, "err_csrf");
        return false;
    }
    return true;
}

static void
s_suspend(web_req_t *r)
{
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    r->next = r->svc->suspended;
    r->svc->suspended = r;
}

/* Resumes r if a bus call suspended it (web_reply: its answer is set). */
static void
s_finish(web_req_t *r)
{
    web_svc_t *svc = r->svc;
    if (!r->suspended)
        return;
    for (web_req_t **p = &svc->suspended; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    r->suspended = false;
    MHD_resume_connection(r->conn);
    if (svc->handles_open)
        uv_timer_start(&svc->timer, s_on_timer, 0, 0);
}

bool
web_call(web_req_t *r, web_bus_t *bus, const char *method, const ProtobufCMessage *body,
         const char *idem, web_bus_cb cb)
{
    if (!bus || web_bus_call(bus, method, body, idem, cb, r) != 0)
        return false;
    if (!r->suspended)
        s_suspend(r);
    return true;
}

int
web_code(const Kumppani__V1__Reply *rep)
{
    return rep && rep->status ? (int)rep->status->code : -1;
}

void *
web_body(web_req_t *r, const Kumppani__V1__Reply *rep, const ProtobufCMessageDescriptor *d)
{
    if (web_code(rep) != KUMPPANI__V1__CODE__CODE_OK)
        return NULL;
    return protobuf_c_message_unpack(d, kp_arena_pbc(r->arena), rep->body.len, rep->body.data);
}

int
web_tx(web_req_t *r, kp_tx_t *tx)
{
    return kp_tx_begin(tx, r->svc->srv, NULL, r->arena, r->svc);
}

/* The address the rate limit counts: the peer, or the last X-Forwarded-For hop when the peer
 * is the trusted reverse proxy. */
static void
s_addr(web_req_t *r, char *out, size_t len)
{
    out[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
    }
    const char *tp = r->svc->trusted_proxy;
    const char *xff = tp && *tp && strcmp(out, tp) == 0 ? web_header(r, "X-Forwarded-For") : NULL;
    if (xff) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        snprintf(out, len, "%.47s", last);
    }
}

static bool
s_rate_ok(web_req_t *r)
{
    web_svc_t *svc = r->svc;
    if (svc->rate_per_s <= 0)
        return true;
    char addr[48];
    s_addr(r, addr, sizeof addr);
    uint32_t h = 2166136261u;
    for (const char *p = addr; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    web_rate_t *e = &svc->rate[h % WEB_RATE_SLOTS];
    int64_t now = kp_mono_us();
    if (strcmp(e->addr, addr) != 0) {
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        e->tokens = svc->rate_burst;
        e->last_us = now;
    }
    e->tokens += (double)(now - e->last_us) / 1e6 * svc->rate_per_s;
    if (e->tokens > svc->rate_burst)
        e->tokens = svc->rate_burst;
    e->last_us = now;
    if (e->tokens < 1) {
        svc->limited_n++;
        return false;
    }
    e->tokens -= 1;
    return true;
}

static void
s_lang(web_req_t *r)
{
    const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "lang");
    int l = web_lang_parse(q);
    if (l >= 0) {
        r->lang = l;
        r->set_lang_cookie = true;
        return;
    }
    l = web_lang_parse(MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "kp_lang"));
    r->lang = l >= 0 ? l : web_lang_accept(web_header(r, "Accept-Language"));
}

static void
s_csrf_cookie(web_req_t *r)
{
    const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "kp_csrf");
    if (c && strlen(c) == WEB_COOKIE_LEN &&
        strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                  "vwxyz0123456789-_") == WEB_COOKIE_LEN) {
        memcpy(r->csrf_cookie, c, WEB_COOKIE_LEN + 1);
        return;
    }
    web_token_random(r->csrf_cookie);
    r->new_csrf_cookie = true;
}

static bool
s_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 1024 || p[0] != '/' || strstr(p, "..") || strstr(p, "//") || strchr(p, '\\'))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

static void
s_dispatch(web_req_t *r)
{
    if (!s_path_ok(r->path)) {
        r->route = "bad-path";
        web_error(r, 400, "err_bad_path");
        return;
    }
    const char *m = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    bool path_known = false;
    size_t pl = strlen(r->path);
    for (unsigned i = 0; i < web_routes_n; i++) {
        const web_route_t *rt = &web_routes[i];
        const char *arg = NULL;
        if (!rt->suffix) {
            if (strcmp(r->path, rt->prefix) != 0)
                continue;
        } else {
            size_t a = strlen(rt->prefix), b = strlen(rt->suffix);
            if (pl <= a + b || strncmp(r->path, rt->prefix, a) != 0 ||
                strcmp(r->path + pl - b, rt->suffix) != 0)
                continue;
            char *x = kp_arena_memdup(r->arena, r->path + a, pl - a - b);
            if (!x || strchr(x, '/'))
                continue;
            arg = x;
        }
        path_known = true;
        if (strcmp(rt->method, m) != 0)
            continue;
        r->route = rt->name;
        r->route_op = rt->op;
        if (r->post) {
            const char *ct = web_header(r, "Content-Type");
            if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
                web_error(r, 415, "err_form");
                return;
            }
            s_parse_form(r);
            if (r->form_bad) {
                web_error(r, 400, "err_form");
                return;
            }
        }
        rt->fn(r, arg);
        return;
    }
    r->route = path_known ? "bad-method" : "not-found";
    web_error(r, path_known ? 405 : 404, path_known ? "err_method" : "err_not_found");
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    web_svc_t *svc = cls;
    web_req_t *r = *con_cls;
    if (!r) {
        r = kp_xcalloc(1, sizeof *r);
        r->svc = svc;
        r->conn = conn;
        r->method = method;
        r->path = kp_xstrdup(url);
        r->arena = kp_arena_new(2u << 20);
        r->body.max = svc->body_max + 1;
        *con_cls = r;
        svc->requests_n++;
        s_lang(r);
        s_csrf_cookie(r);
        r->post = strcmp(method, "POST") == 0;
        if (!s_rate_ok(r)) {
            r->route = "rate-limited";
            web_error(r, 429, "err_rate");
            return s_queue(r);
        }
        if (!r->post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            r->route = "bad-method";
            web_error(r, 405, "err_method");
            return s_queue(r);
        }
        const char *cl = web_header(r, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > svc->body_max) {
            r->route = "too-large";
            web_error(r, 413, "err_too_large");
            return s_queue(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.n + *upload_size > svc->body_max)
            r->body_too_large = true;
        else
            web_buf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resp)
        return s_queue(r);
    if (r->dispatched) {
        web_error(r, 500, "err_internal"); /* resumed without an answer: a bug */
        return s_queue(r);
    }
    r->dispatched = true;
    if (r->body_too_large) {
        r->route = "too-large";
        web_error(r, 413, "err_too_large");
        return s_queue(r);
    }
    s_dispatch(r);
    if (r->resp)
        return s_queue(r);
    if (r->suspended)
        return MHD_YES;
    web_error(r, 500, "err_internal");
    return s_queue(r);
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    web_req_t *r = *con_cls;
    if (!r)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        kp_log_debug("http.ended", "route=%s code=%d", r->route ? r->route : "-", (int)toe);
    if (r->resp)
        MHD_destroy_response(r->resp);
    web_buf_free(&r->body);
    kp_arena_destroy(&r->arena);
    free(r->path);
    free(r);
    *con_cls = NULL;
}

/* MHD's own messages, logged by their format only: their arguments may name a client's
 * address, which is personal data. */
static void
s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)ap;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", fmt);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '"' || *p == '\\')
            *p = ' ';
    kp_log_debug("http.mhd", "what=\"%s\"", buf);
}

int
web_http_start(web_svc_t *svc)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    char host[64];
    unsigned port = 0;
    const char *colon = strrchr(svc->listen, ':');
    if (!colon || (size_t)(colon - svc->listen) >= sizeof host ||
        sscanf(colon + 1, "%u", &port) != 1 || port > 65535) {
        kp_log_err("http.listen", "what=\"http must be host:port\"");
        return KP_ECONFIG;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - svc->listen), svc->listen);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        kp_log_err("http.listen", "what=\"http host must be an IPv4 address\"");
        return KP_ECONFIG;
    }
    sa.sin_port = htons((uint16_t)port);
    svc->rate = kp_xcalloc(WEB_RATE_SLOTS, sizeof *svc->rate);
    svc->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        s_access, svc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        svc->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, svc->per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, svc->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED, s_completed, svc, MHD_OPTION_EXTERNAL_LOGGER,
        s_mhd_log, svc, MHD_OPTION_END);
    if (!svc->mhd) {
        kp_log_err("http.start", "listen=%s what=\"cannot start the HTTP server\"", svc->listen);
        return KP_ECONFIG;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(svc->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_loop_t *loop = kp_server_loop(svc->srv);
    uv_poll_init(loop, &svc->poll, di->epoll_fd);
    uv_timer_init(loop, &svc->timer);
    svc->poll.data = svc->timer.data = svc;
    svc->handles_open = true;
    uv_poll_start(&svc->poll, UV_READABLE, s_on_poll);
    s_arm(svc);
    kp_log_notice("http.start", "listen=%s", svc->listen);
    return 0;
}

void
web_http_stop(web_svc_t *svc)
{
    /* Every suspended request must be resumed before MHD stops (MHD's rule); the buses have
     * already answered their calls, which resumed them. Anything left is answered here. */
    while (svc->suspended) {
        web_req_t *r = svc->suspended;
        web_error(r, 503, "err_unavailable"); /* resumes it */
    }
    if (svc->handles_open) {
        uv_poll_stop(&svc->poll);
        uv_timer_stop(&svc->timer);
        uv_close((uv_handle_t *)&svc->poll, NULL);
        uv_close((uv_handle_t *)&svc->timer, NULL);
        svc->handles_open = false;
    }
    if (svc->mhd) {
        /* One last run sends the answers of the connections just resumed. */
        MHD_run(svc->mhd);
        MHD_stop_daemon(svc->mhd);
        svc->mhd = NULL;
    }
    free(svc->rate);
    svc->rate = NULL;
}
