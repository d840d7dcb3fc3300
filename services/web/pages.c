/*  web/pages.c: the public pages: the calendar (filters and their iCalendar URLs), an event,
 *  the iCalendar downloads, the accessibility statement with its feedback form, the privacy
 *  notice and the style sheet; and the filters' choices every page's form shares (web_select,
 *  web_choices, web_muni_options).
 *
 *  Pages read the read model (store.c) in the server's turn and render templates; only the
 *  iCalendar downloads go over the bus (the events service makes iCalendar text), with the
 *  connection suspended meanwhile. Drafts are never in the read model, so no page, and no
 *  iCalendar request, can reveal one. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define CAL_MAX 200

void
web_event_values(web_req_t *r, web_tv_t *o, const web_event_t *ev)
{
    kp_arena_t *a = r->arena;
    char buf[128];
    web_tv_strf(a, o, "id", "%llu", (unsigned long long)ev->id);
    web_tv_strf(a, o, "href", "/events/%llu", (unsigned long long)ev->id);
    web_tv_strf(a, o, "ics_href", "/events/%llu.ics", (unsigned long long)ev->id);
    web_tv_strf(a, o, "signup_href", "/events/%llu/signup", (unsigned long long)ev->id);
    web_tv_str(a, o, "title", ev->title);
    web_tv_textf(r, o, "kind", "kind_%d", (int)ev->kind);
    web_tv_time(r, o, "start", ev->start_unix);
    web_tv_end_time(r, o, "end", ev->start_unix, ev->end_unix);
    kp_time_iso(ev->start_unix, buf, sizeof buf);
    web_tv_str(a, o, "start_iso", buf);
    web_tv_str(a, o, "place", ev->place);
    web_tv_str(a, o, "municipality", web_muni_name(r, ev->municipality_code));
    web_tv_str(a, o, "municipality_code", ev->municipality_code);
    web_tv_str(a, o, "theme", ev->theme);
    web_tv_str(a, o, "description", ev->description_text);
    web_tv_str(a, o, "accessibility", ev->accessibility_text);
    web_tv_textf(r, o, "language", "lang_%s", ev->language[0] ? ev->language : "fi");
    web_tv_bool(a, o, "online", ev->online_url[0] != 0);
    bool cancelled = ev->state == ES(CANCELLED), held = ev->state == ES(HELD);
    web_tv_bool(a, o, "cancelled", cancelled);
    web_tv_bool(a, o, "held", held);
    web_tv_bool(a, o, "rescheduled", ev->state == ES(RESCHEDULED));
    web_tv_str(a, o, "cancel_reason", ev->cancel_reason_text);
    int64_t now = kp_now_ms() / 1000;
    int64_t deadline = ev->signup_deadline_unix ? ev->signup_deadline_unix : ev->start_unix;
    bool open = (ev->state == ES(PUBLISHED) || ev->state == ES(RESCHEDULED)) && now < deadline;
    web_tv_bool(a, o, "open", open);
    web_tv_bool(a, o, "closed", !open && !cancelled);
    web_tv_time(r, o, "deadline", deadline);
    if (ev->capacity == 0) {
        web_tv_bool(a, o, "unlimited", true);
    } else {
        uint32_t taken = ev->confirmed_n + ev->offered_n;
        uint32_t free_n = taken >= ev->capacity ? 0 : ev->capacity - taken;
        web_tv_strf(a, o, "capacity", "%u", ev->capacity);
        web_tv_strf(a, o, "free", "%u", free_n);
        web_tv_bool(a, o, "full", free_n == 0);
        web_tv_bool(a, o, "has_free", free_n > 0);
    }
    web_tv_strf(a, o, "waitlisted", "%u", ev->waitlisted_n);
}

/* ---- municipalities' names ---------------------------------------------------------------- */

const char *
web_muni_name(web_req_t *r, const char *code)
{
    kp_tx_t tx;
    Kumppani__V1__Municipality *m;
    bool found = false;
    if (!code || web_tx(r, &tx) || web_store_muni_get(&tx, code, &m, &found) || !found)
        return code ? code : "";
    if (r->lang == WEB_LANG_SV && m->name_sv[0])
        return m->name_sv;
    return m->name_fi[0] ? m->name_fi : code;
}

/* The next letter of s as its place in the Finnish alphabet: letters case-folded, å ä ö
 * (and æ ø) after z, w with v, other characters by their code point after the letters. */
static unsigned
s_fi_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    unsigned c = *p++;
    if (c >= 0xc0 && (*p & 0xc0) == 0x80) { /* two-byte UTF-8 */
        c = (c & 0x1f) << 6 | (*p++ & 0x3f);
        while ((*p & 0xc0) == 0x80)
            p++;
    } else if (c >= 0x80) {
        while ((*p & 0xc0) == 0x80)
            p++;
    }
    *s = p;
    if (c >= 'A' && c <= 'Z')
        c += 'a' - 'A';
    if (c >= 0xc0 && c <= 0xde && c != 0xd7)
        c += 0x20; /* Latin-1 capitals */
    switch (c) {
    case 'w':
        return 'v' * 4 + 1;
    case 0xe5:
        return 'z' * 4 + 4; /* å */
    case 0xe4:
    case 0xe6:
        return 'z' * 4 + 8; /* ä æ */
    case 0xf6:
    case 0xf8:
        return 'z' * 4 + 12; /* ö ø */
    case 0xfc:
        return 'y' * 4 + 1; /* ü with y */
    case 0xe9:
    case 0xe8:
        return 'e' * 4 + 1;
    default:
        return c >= 'a' && c <= 'z' ? c * 4 : c < 'a' ? c : 0x1000 + c;
    }
}

static int
s_fi_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && *y) {
        unsigned cx = s_fi_next(&x), cy = s_fi_next(&y);
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return *x ? 1 : *y ? -1 : strcmp(a, b);
}

typedef struct {
    const char *code, *name;
} muni_opt_t;

static int
s_by_name(const void *x, const void *y)
{
    const muni_opt_t *a = x, *b = y;
    int c = s_fi_cmp(a->name, b->name);
    return c ? c : strcmp(a->code, b->code);
}

void
web_muni_options(web_req_t *r, web_tv_t *list, const char *const *codes, unsigned n,
                 const char *selected)
{
    muni_opt_t *o = kp_arena_alloc(r->arena, (n ? n : 1) * sizeof *o);
    if (!o)
        return;
    for (unsigned i = 0; i < n; i++)
        o[i] = (muni_opt_t){codes[i], web_muni_name(r, codes[i])};
    qsort(o, n, sizeof *o, s_by_name);
    for (unsigned i = 0; i < n; i++) {
        web_tv_t *it = web_tv_item(r->arena, list);
        web_tv_str(r->arena, it, "code", o[i].code);
        web_tv_str(r->arena, it, "value", o[i].code);
        web_tv_str(r->arena, it, "name", o[i].name);
        web_tv_bool(r->arena, it, "selected", selected && strcmp(selected, o[i].code) == 0);
    }
}

web_tv_t *
web_select(web_req_t *r, web_tv_t *root, const char *key, const char *id, const char *label_key,
           const char *err_field, const char *err_key)
{
    web_tv_t *o = web_tv_obj(r->arena, root, key);
    web_tv_str(r->arena, o, "id", id);
    web_tv_str(r->arena, o, "label", web_text(r, label_key));
    if (err_field && strcmp(err_field, id) == 0)
        web_tv_str(r->arena, o, "invalid", web_text(r, err_key));
    return web_tv_list(r->arena, o, "options");
}

void
web_choices(web_req_t *r, web_tv_t *list, const char *key_prefix, int n, const char *const *values,
            int selected)
{
    for (int i = 1; i <= n; i++) {
        char key[48];
        snprintf(key, sizeof key, "%s%d", key_prefix, i);
        web_tv_t *it = web_tv_item(r->arena, list);
        if (values)
            web_tv_str(r->arena, it, "value", values[i]);
        else
            web_tv_strf(r->arena, it, "value", "%d", i);
        web_tv_str(r->arena, it, "name", web_text(r, key));
        web_tv_bool(r->arena, it, "selected", i == selected);
    }
}

void
web_button(web_req_t *r, web_tv_t *root, const char *key, const char *label_key, const char *fmt,
           ...)
{
    char action[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(action, sizeof action, fmt, ap);
    va_end(ap);
    web_tv_t *o = web_tv_obj(r->arena, root, key);
    web_tv_str(r->arena, o, "action", action);
    web_tv_str(r->arena, o, "label", web_text(r, label_key));
}

void
web_join(web_req_t *r, web_tv_t *obj, const char *key, char *const *items, size_t n,
         const char *none)
{
    web_buf_t b = {.max = 1024};
    for (size_t i = 0; i < n; i++) {
        web_buf_adds(&b, i ? ", " : "");
        web_buf_adds(&b, items[i]);
    }
    web_tv_str(r->arena, obj, key, b.p ? b.p : none);
    web_buf_free(&b);
}

void
web_tv_count(kp_arena_t *a, web_tv_t *obj, const char *name, size_t n)
{
    char key[64];
    snprintf(key, sizeof key, "%s_n", name);
    web_tv_strf(a, obj, key, "%zu", n);
    snprintf(key, sizeof key, "no_%s", name);
    web_tv_bool(a, obj, key, n == 0);
}

/* ---- the calendar ------------------------------------------------------------------------ */

typedef struct {
    web_req_t *r;
    web_tv_t *list, *munis;
    const char *muni;
    int kind;
    int64_t now;
    unsigned n, munis_n;
    char seen[64][8];
} cal_t;

static int
s_cal_one(void *arg, web_event_t *ev)
{
    cal_t *c = arg;
    if (ev->end_unix <= c->now || ev->state == ES(HELD))
        return 0;
    bool seen = false;
    for (unsigned i = 0; i < c->munis_n; i++)
        seen |= strcmp(c->seen[i], ev->municipality_code) == 0;
    if (!seen && c->munis_n < 64 && strlen(ev->municipality_code) < 8)
        snprintf(c->seen[c->munis_n++], 8, "%s", ev->municipality_code);
    if ((c->muni && strcmp(c->muni, ev->municipality_code) != 0) ||
        (c->kind && (int)ev->kind != c->kind))
        return 0;
    if (c->n++ >= CAL_MAX)
        return 0;
    web_event_values(c->r, web_tv_item(c->r->arena, c->list), ev);
    return 0;
}

void
web_pg_calendar(web_req_t *r, const char *arg)
{
    (void)arg;
    web_tv_t *root = web_root(r, "cal_title");
    const char *muni = web_query(r, "municipality"), *kind = web_query(r, "kind");
    cal_t c = {.r = r};
    c.muni = kp_is_muni_code(muni) ? muni : NULL;
    c.kind = kind && strlen(kind) == 1 && kind[0] >= '1' && kind[0] <= '9' ? kind[0] - '0' : 0;
    c.now = kp_now_ms() / 1000;
    c.list = web_tv_list(r->arena, root, "events");
    c.munis = web_select(r, root, "sel_municipality", "municipality", "cal_muni_name", NULL, NULL);
    kp_tx_t tx;
    int rc = web_tx(r, &tx);
    if (!rc)
        rc = web_store_events_from(&tx, c.now - 31 * 86400, s_cal_one, &c);
    if (rc < 0) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    const char *codes[64];
    for (unsigned i = 0; i < c.munis_n; i++)
        codes[i] = c.seen[i];
    web_muni_options(r, c.munis, codes, c.munis_n, c.muni);
    web_choices(r, web_select(r, root, "sel_kind", "kind", "cal_kind", NULL, NULL), "kind_", 9,
                NULL, c.kind);
    char q[64] = "";
    if (c.muni && c.kind)
        snprintf(q, sizeof q, "?municipality=%s&kind=%d", c.muni, c.kind);
    else if (c.muni)
        snprintf(q, sizeof q, "?municipality=%s", c.muni);
    else if (c.kind)
        snprintf(q, sizeof q, "?kind=%d", c.kind);
    web_tv_strf(r->arena, root, "ics_url", "%s/calendar.ics%s", r->svc->base_url, q);
    web_tv_bool(r->arena, root, "filtered", c.muni || c.kind);
    web_tv_bool(r->arena, root, "none", c.n == 0);
    web_tv_strf(r->arena, root, "count", "%u", c.n);
    web_page(r, 200, "calendar", root);
}

/* ---- iCalendar over the bus -------------------------------------------------------------- */

/* True if the content line at p (up to its CRLF) starts with the property name (e.g. "URL"),
 * followed by ':' or ';' (a parameter). */
static bool
s_ics_prop(const char *p, const char *name)
{
    size_t n = strlen(name);
    return strncmp(p, name, n) == 0 && (p[n] == ':' || p[n] == ';');
}

/* The iCalendar text for the public: without the online meeting's link, which only a confirmed
 * sign-up sees (on its personal page). The events service writes it as the URL property, and
 * as LOCATION when the event has no place; a dropped line's folded continuation lines (those
 * beginning with a space or a tab, RFC 5545 3.1) go with it. */
static void
s_ics_public(web_buf_t *b, const char *text)
{
    bool drop = false;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
        if (*p != ' ' && *p != '\t') {
            const char *v = strchr(p, ':');
            drop = s_ics_prop(p, "URL") ||
                   (s_ics_prop(p, "LOCATION") && v && v < p + n &&
                    (strncmp(v + 1, "http://", 7) == 0 || strncmp(v + 1, "https://", 8) == 0));
        }
        if (!drop)
            web_buf_add(b, p, n);
        p += n;
    }
}

static void
s_ics_done(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    Kumppani__V1__EventTextReply *t =
        web_body(r, reply, &kumppani__v1__event_text_reply__descriptor);
    if (t) {
        web_buf_t b = {0};
        s_ics_public(&b, t->text);
        web_reply(r, 200, "text/calendar; charset=utf-8", &b);
    } else if (web_code(reply) == KUMPPANI__V1__CODE__CODE_NOT_FOUND) {
        web_error(r, 404, "err_not_found");
    } else {
        kp_log_warn("http.ics", "code=%d", web_code(reply));
        web_error(r, 503, "err_unavailable");
    }
}

static void
s_ics_call(web_req_t *r, const char *method, const ProtobufCMessage *body)
{
    if (!web_call(r, r->svc->bus_read, method, body, NULL, s_ics_done))
        web_error(r, 503, "err_unavailable");
}

void
web_pg_calendar_ics(web_req_t *r, const char *arg)
{
    (void)arg;
    Kumppani__V1__IcalFeedRequest rq = KUMPPANI__V1__ICAL_FEED_REQUEST__INIT;
    const char *muni = web_query(r, "municipality"), *kind = web_query(r, "kind");
    if ((muni && !kp_is_muni_code(muni)) ||
        (kind && !(strlen(kind) == 1 && kind[0] >= '1' && kind[0] <= '9'))) {
        web_error(r, 400, "err_filter");
        return;
    }
    rq.municipality_code = (char *)(muni ? muni : "");
    rq.kind = kind ? kind[0] - '0' : 0;
    s_ics_call(r, "events.ical.feed", &rq.base);
}

/* The event of an id argument, from the read model; answers 404/503 and returns NULL. */
static web_event_t *
s_event(web_req_t *r, const char *arg)
{
    uint64_t id = web_parse_id(arg);
    web_event_t *ev = NULL;
    bool found = false;
    kp_tx_t tx;
    if (id) {
        int rc = web_tx(r, &tx);
        if (!rc)
            rc = web_store_event_get(&tx, id, &ev, &found);
        if (rc) {
            web_error(r, 503, "err_unavailable");
            return NULL;
        }
    }
    if (!found) {
        web_error(r, 404, "err_no_event");
        return NULL;
    }
    return ev;
}

void
web_pg_event_ics(web_req_t *r, const char *arg)
{
    web_event_t *ev = s_event(r, arg);
    if (!ev)
        return;
    Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
    rq.event_id = ev->id;
    s_ics_call(r, "events.ical.event", &rq.base);
}

void
web_pg_event(web_req_t *r, const char *arg)
{
    web_event_t *ev = s_event(r, arg);
    if (!ev)
        return;
    web_tv_t *root = web_root(r, "event_title");
    web_tv_str(r->arena, root, "title", ev->title);
    web_event_values(r, web_tv_obj(r->arena, root, "event"), ev);
    web_page(r, 200, "event", root);
}

/* ---- accessibility, privacy, static ------------------------------------------------------ */

static void
s_accessibility(web_req_t *r, unsigned status, bool thanks, const web_ferr_t *errs, unsigned n)
{
    web_tv_t *root = web_root(r, "a11y_title");
    web_tv_bool(r->arena, root, "thanks", thanks);
    web_tv_str(r->arena, root, "lang_base", "/accessibility"); /* also after the POST */
    web_tv_t *el = web_tv_list(r->arena, root, "errors");
    web_tv_t *f = web_tv_obj(r->arena, root, "err");
    for (unsigned i = 0; i < n; i++) {
        web_tv_t *it = web_tv_item(r->arena, el);
        web_tv_str(r->arena, it, "field", errs[i].field);
        web_tv_str(r->arena, it, "message", web_text(r, errs[i].msg));
        web_tv_str(r->arena, f, errs[i].field, web_text(r, errs[i].msg));
    }
    web_tv_bool(r->arena, root, "has_errors", n > 0);
    web_tv_strf(r->arena, root, "errors_n", "%u", n);
    if (!thanks && n) {
        web_tv_str(r->arena, root, "message", web_field(r, "message"));
        web_tv_str(r->arena, root, "contact", web_field(r, "contact"));
    }
    web_page(r, status, "accessibility", root);
}

void
web_pg_accessibility(web_req_t *r, const char *arg)
{
    (void)arg;
    /* ?done=feedback: the page after the feedback's 303 (Post/Redirect/Get), with the thanks. */
    const char *done = web_query(r, "done");
    s_accessibility(r, 200, done && strcmp(done, "feedback") == 0, NULL, 0);
}

void
web_pg_feedback(web_req_t *r, const char *arg)
{
    (void)arg;
    if (!web_csrf_check(r))
        return;
    const char *msg = web_field(r, "message"), *contact = web_field(r, "contact");
    web_ferr_t errs[2];
    unsigned n = 0;
    if (!msg || !msg[strspn(msg, " \t\r\n")]) /* empty, or spaces alone */
        errs[n++] = (web_ferr_t){"message", "err_feedback_required"};
    else if (kp_text_chars(msg) > 4000)
        errs[n++] = (web_ferr_t){"message", "err_text_long_4000"};
    if (contact && (kp_text_chars(contact) > 200 || strchr(contact, '\n')))
        errs[n++] = (web_ferr_t){"contact", "err_contact_long"};
    if (n) {
        s_accessibility(r, 400, false, errs, n);
        return;
    }
    /* One file per message in the operator's spool (0600); never logged. */
    char path[4096], rnd[WEB_COOKIE_LEN + 1];
    web_token_random(rnd);
    snprintf(path, sizeof path, "%s/%lld-%.12s.txt", r->svc->feedback_dir, (long long)kp_now_ms(),
             rnd);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    web_buf_t b = {0};
    web_buf_addf(&b, "language: %s\ncontact: ", web_lang_codes[r->lang]);
    web_buf_adds(&b, contact ? contact : "");
    web_buf_adds(&b, "\n\n");
    web_buf_adds(&b, msg);
    web_buf_adds(&b, "\n");
    bool ok = fd >= 0 && write(fd, b.p, b.n) == (ssize_t)b.n && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    web_buf_free(&b);
    if (!ok) {
        kp_log_err("feedback.write", "errno=%d", errno);
        web_error(r, 503, "err_unavailable");
        return;
    }
    kp_log_notice("feedback.received", "lang=%s", web_lang_codes[r->lang]);
    /* Post/Redirect/Get: a reload or Back shows the thanks and sends nothing again. */
    web_redirect(r, "/accessibility?done=feedback#feedback");
}

void
web_pg_privacy(web_req_t *r, const char *arg)
{
    (void)arg;
    web_page(r, 200, "privacy", web_root(r, "privacy_title"));
}

void
web_pg_static(web_req_t *r, const char *arg)
{
    if (strcmp(arg, "site.css") != 0 || !r->svc->css) {
        web_error(r, 404, "err_not_found");
        return;
    }
    web_buf_t b = {0};
    web_buf_add(&b, r->svc->css, r->svc->css_len);
    web_reply(r, 200, "text/css; charset=utf-8", &b);
}
