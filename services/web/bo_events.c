/*  web/bo_events.c: the back office's events: the list (filtered by municipality within the
 *  account's scope), the new-event form, an event's page (facts, role balance, participants by
 *  state, publish / reschedule / cancel with a reason), the door's check-in page (search by
 *  name, attended or no-show in one tap, plain form POSTs without JavaScript) and the exports
 *  (participants CSV, the events service's door list). The page's series and waitlist sections
 *  and their actions are bo_series.c and bo_waitlist.c.
 *
 *  Everything goes over the bus with the office key (role admin at events); the web checks the
 *  account's role and municipalities itself before anything is asked: every event-scoped page
 *  first fetches the event (events.event.get: bo_evop_start) and refuses (403, audited
 *  "denied") an event of another municipality, before any participant is read or anything
 *  changed. A sign-up marked at the door must be one of that event's (checked against its list).
 *
 *  Names and organisations of participants are shown to the coordinator and put in the CSV,
 *  never stored or logged here. Every change is audited (account id, method, event id). */
#include "bo.h"
#include "kp_check.h"
#include "kp_text.h"
#include "kp_time.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x
#define AT(x) KUMPPANI__V1__ATTENDANCE__ATTENDANCE_##x
#define EV_PAGE 500
#define SU_PAGE 1000
#define EV_MAX 5000
#define SU_MAX 20000
#define BULK_MAX 200

enum {
    OP_VIEW,
    OP_PUBLISH,
    OP_RESCHEDULE,
    OP_CANCEL,
    OP_HELD,
    OP_CHECKIN,
    OP_MARK,
    OP_CSV,
    OP_DOOR
};

typedef struct {
    bo_account_t *acct;
    int op;
    uint64_t event_id;
    web_event_t *ev;
    /* collected pages */
    Kumppani__V1__Signup **su;
    size_t su_n;
    bool su_loaded;
    web_event_t **evs;
    size_t evs_n;
    /* the action */
    const char *method;
    char obj[64];
    ProtobufCMessage *body;
    const char *muni; /* the list's filter */
    int year, month;  /* the list's month calendar (Helsinki) */
    uint64_t *sids;   /* the sign-ups to mark (one tap: one; bulk: up to BULK_MAX) */
    size_t sids_n, sid_i;
    int mark;
    web_event_t **occ; /* the event's series (bo_series.c), once loaded */
    size_t occ_n;
    bool occ_loaded;
    /* A refused form of the page (OP_VIEW with form set): the page again, with err (a
     * text key) beside the form's field err_field and the values sent (400); on the list,
     * the refused municipality filter's error; on the check-in page (OP_CHECKIN), a bulk mark
     * with no one ticked. */
    const char *form; /* "reschedule", "cancel", "held", "change" or "extend" (the series') */
    const char *err, *err_field;
} op_t;

static void s_step(web_req_t *r);

/* ---- helpers ----------------------------------------------------------------------------- */

static bool
s_call(web_req_t *r, const char *method, const ProtobufCMessage *body, const char *idem,
       web_bus_cb cb)
{
    op_t *o = r->cont_arg;
    return bo_call(r, o->acct, r->svc->bus_office, method, body, idem, cb);
}

/* Answers a failed bus call (no reply: 503; the service's refusal: 409 or 400) and audits a
 * change as failed. */
static void
s_failed(web_req_t *r, const Kumppani__V1__Reply *rep, const char *method)
{
    op_t *o = r->cont_arg;
    int code = bo_code(rep, method);
    if (o->op != OP_VIEW && o->op != OP_CHECKIN && o->op != OP_CSV && o->op != OP_DOOR && code >= 0)
        bo_audit(r, o->acct->id, method, o->obj, "failed");
    /* A mark of attendance refused before the event's start: the events service's refusal,
     * saying why. */
    bool early = o->op == OP_MARK && o->ev && o->ev->start_unix > kp_now_ms() / 1000;
    bo_refused_as(r, o->acct, code, "err_no_event",
                  early ? "bo_err_not_started" : "bo_err_conflict", "bo_err_refused");
}

static op_t *
s_op(web_req_t *r, bo_account_t *a, int op)
{
    op_t *o = bo_state(r, a, sizeof *o);
    if (o)
        o->op = op;
    return o;
}

static const char *
s_state_key(int st)
{
    static const char *const k[] = {"bo_es_0", "bo_es_1", "bo_es_2",
                                    "bo_es_3", "bo_es_4", "bo_es_5"};
    return st >= 0 && st <= 5 ? k[st] : k[0];
}

static void
s_event_row(web_req_t *r, web_tv_t *o, const web_event_t *ev)
{
    kp_arena_t *a = r->arena;
    web_event_values(r, o, ev);
    web_tv_strf(a, o, "office_href", "/office/events/%llu", (unsigned long long)ev->id);
    web_tv_str(a, o, "state", web_text(r, s_state_key(ev->state)));
    web_tv_bool(a, o, "draft", ev->state == ES(DRAFT));
    web_tv_strf(a, o, "confirmed", "%u", ev->confirmed_n);
    web_tv_strf(a, o, "attended", "%u", ev->attended_n);
    web_tv_strf(a, o, "no_show", "%u", ev->no_show_n);
}

/* ---- the list ---------------------------------------------------------------------------- */

/* The month calendar under the list: a table of weeks (Monday first), each day with links to
 * its events (the list's events: the same scope and filter), the previous and next month. */
static void
s_month(web_req_t *r, web_tv_t *root, web_event_t *const *evs, size_t n)
{
    op_t *o = r->cont_arg;
    kp_arena_t *a = r->arena;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = o->year, m = o->month;
    int days = mdays[m - 1] + (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
    struct tm t = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 1, .tm_hour = 12};
    int64_t first;
    if (kp_time_from_local(&t, &first) || kp_time_local(first, &t))
        return;
    int lead = (t.tm_wday + 6) % 7; /* Monday first */
    char key[16];
    snprintf(key, sizeof key, "month_%d", m);
    web_tv_strf(a, root, "month_name", "%s %d", web_text(r, key), y);
    const char *q = o->muni ? o->muni : "";
    web_tv_strf(a, root, "month_prev", "/office/events?month=%04d-%02d%s%s", m == 1 ? y - 1 : y,
                m == 1 ? 12 : m - 1, *q ? "&municipality=" : "", q);
    web_tv_strf(a, root, "month_next", "/office/events?month=%04d-%02d%s%s", m == 12 ? y + 1 : y,
                m == 12 ? 1 : m + 1, *q ? "&municipality=" : "", q);
    web_tv_t *wds = web_tv_list(a, root, "weekdays");
    for (int i = 1; i <= 7; i++) {
        web_tv_t *it = web_tv_item(a, wds);
        web_tv_textf(r, it, "short", "wd_%d", i % 7);
        web_tv_textf(r, it, "long", "wdl_%d", i % 7);
    }
    web_tv_t *cells[31] = {0}, *evl[31] = {0};
    web_tv_t *weeks = web_tv_list(a, root, "weeks"), *week = NULL;
    for (int c = 0; c < lead + days || c % 7; c++) {
        if (c % 7 == 0)
            week = web_tv_list(a, web_tv_item(a, weeks), "days");
        web_tv_t *cell = web_tv_item(a, week);
        int d = c - lead + 1;
        if (d >= 1 && d <= days) {
            web_tv_strf(a, cell, "day", "%d", d);
            cells[d - 1] = cell;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct tm s;
        if (kp_time_local(evs[i]->start_unix, &s) || s.tm_year != y - 1900 || s.tm_mon != m - 1)
            continue;
        int d = s.tm_mday - 1;
        if (!evl[d]) {
            evl[d] = web_tv_list(a, cells[d], "events");
            web_tv_bool(a, cells[d], "busy", true);
        }
        web_tv_t *it = web_tv_item(a, evl[d]);
        web_tv_strf(a, it, "href", "/office/events/%llu", (unsigned long long)evs[i]->id);
        web_tv_strf(a, it, "time", "%02d.%02d", s.tm_hour, s.tm_min);
        web_tv_str(a, it, "title", evs[i]->title);
    }
}

/* "YYYY-MM" (2000..2100); false if it is not one. */
static bool
s_month_arg(const char *s, int *y, int *m)
{
    if (!s || strlen(s) != 7 || s[4] != '-' || strspn(s, "0123456789") != 4 ||
        strspn(s + 5, "0123456789") != 2)
        return false;
    *y = (int)strtol(s, NULL, 10);
    *m = (int)strtol(s + 5, NULL, 10);
    return *y >= 2000 && *y <= 2100 && *m >= 1 && *m <= 12;
}

static int
s_by_start(const void *x, const void *y)
{
    const web_event_t *a = *(web_event_t *const *)x, *b = *(web_event_t *const *)y;
    return a->start_unix < b->start_unix ? -1 : a->start_unix > b->start_unix;
}

static void
s_list_render(web_req_t *r)
{
    op_t *o = r->cont_arg;
    kp_arena_t *a = r->arena;
    web_tv_t *root = bo_root(r, o->acct, "bo_events_title");
    qsort(o->evs, o->evs_n, sizeof *o->evs, s_by_start);
    web_tv_t *list = web_tv_list(a, root, "events");
    const char *refused = o->err ? "municipality" : NULL;
    web_tv_t *munis =
        web_select(r, root, "sel_municipality", "municipality", "cal_muni_name", refused, o->err);
    if (o->err)
        bo_field_error(r, root, o->err, refused);
    char seen[128][4];
    unsigned seen_n = 0;
    if (o->acct->role == BO_ROLE(MUNICIPAL))
        for (size_t i = 0; i < o->acct->n_municipalities && seen_n < 128; i++)
            snprintf(seen[seen_n++], 4, "%s", o->acct->municipalities[i]);
    unsigned n = 0;
    web_event_t **shown = kp_arena_alloc(a, (o->evs_n + 1) * sizeof *shown);
    for (size_t i = 0; i < o->evs_n; i++) {
        web_event_t *ev = o->evs[i];
        if (!bo_muni_ok(o->acct, ev->municipality_code))
            continue;
        bool known = false;
        for (unsigned j = 0; j < seen_n; j++)
            known |= strcmp(seen[j], ev->municipality_code) == 0;
        if (!known && seen_n < 128 && strlen(ev->municipality_code) == 3)
            snprintf(seen[seen_n++], 4, "%s", ev->municipality_code);
        if (o->muni && strcmp(o->muni, ev->municipality_code) != 0)
            continue;
        s_event_row(r, web_tv_item(a, list), ev);
        if (shown)
            shown[n] = ev;
        n++;
    }
    if (shown)
        s_month(r, root, shown, n);
    const char *codes[128];
    for (unsigned j = 0; j < seen_n; j++)
        codes[j] = seen[j];
    web_muni_options(r, munis, codes, seen_n, o->muni);
    web_tv_strf(a, root, "count", "%u", n);
    web_tv_bool(a, root, "none", n == 0);
    web_page(r, o->err ? 400 : 200, "bo_events", root);
}

static const bo_list_t s_events = {
    "events.event.list", &kumppani__v1__list_events_reply__descriptor, "events", EV_PAGE, EV_MAX};

static void
s_listed(web_req_t *r, void **items, size_t n)
{
    op_t *o = r->cont_arg;
    o->evs = (web_event_t **)items;
    o->evs_n = n;
    s_list_render(r);
}

void
bo_pg_events(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require_role(r, BO_R(REGIONAL) | BO_R(MUNICIPAL), "events.event.list", "");
    if (!a)
        return;
    const char *m = web_query(r, "municipality"), *month = web_query(r, "month");
    int year = 0, mon = 0; /* set below: from the month asked for, else this month */
    struct tm now;
    /* The month comes from the page's own links; the municipality is the form's: refused, the
     * list is shown unfiltered with the error beside it (400). */
    if (month && *month && !s_month_arg(month, &year, &mon)) {
        bo_error(r, a, 400, "err_filter");
        return;
    }
    const char *refused = NULL;
    if (m && *m && !kp_is_muni_code(m)) {
        refused = "bo_err_muni_filter";
        m = NULL;
    }
    if (!(month && *month)) {
        if (kp_time_local(kp_now_ms() / 1000, &now)) {
            bo_error(r, a, 503, "err_unavailable");
            return;
        }
        year = now.tm_year + 1900;
        mon = now.tm_mon + 1;
    }
    if (m && *m && !bo_muni_allowed(r, a, m, "events.event.list"))
        return;
    op_t *o = s_op(r, a, OP_VIEW);
    if (!o)
        return;
    o->muni = m && *m ? m : NULL;
    o->err = refused;
    o->year = year;
    o->month = mon;
    Kumppani__V1__ListEventsRequest rq = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
    bo_list_all(r, a, r->svc->bus_office, &s_events, &rq.base, s_listed, s_failed);
}

/* ---- the new-event form ------------------------------------------------------------------ */

static const char *const s_form_fields[] = {
    "title",    "kind",  "municipality", "date",        "start", "end",
    "capacity", "place", "language",     "description", "nonce", "accessibility"};

static void
s_new_form(web_req_t *r, bo_account_t *a, unsigned status, const char *err, const char *field)
{
    kp_arena_t *ar = r->arena;
    web_tv_t *root = bo_root(r, a, "bo_new_title");
    web_tv_t *v = web_tv_obj(ar, root, "v");
    if (r->post)
        for (size_t i = 0; i < sizeof s_form_fields / sizeof s_form_fields[0]; i++)
            web_tv_str(ar, v, s_form_fields[i], web_field(r, s_form_fields[i]));
    else {
        char nonce[WEB_COOKIE_LEN + 1];
        web_token_random(nonce);
        web_tv_str(ar, v, "nonce", nonce);
        web_tv_str(ar, v, "capacity", "0");
    }
    if (err) {
        web_tv_str(ar, root, "error", web_text(r, err));
        web_tv_str(ar, root, "error_field", field);
        web_tv_str(ar, web_tv_obj(ar, root, "err"), field, web_text(r, err));
    }
    const char *kind = r->post ? web_field(r, "kind") : NULL;
    /* The kind asked for again after a refusal ("1".."9"), else the first. */
    int kind_n = !kind ? 1 : kind[0] >= '1' && kind[0] <= '9' && !kind[1] ? kind[0] - '0' : 0;
    web_choices(r, web_tv_list(ar, root, "kinds"), "kind_", 9, NULL, kind_n);
    const char *lang = r->post ? web_field(r, "language") : "fi";
    web_tv_t *langs = web_tv_list(ar, root, "languages");
    for (int l = 0; l < WEB_LANG_N; l++) {
        char key[16];
        snprintf(key, sizeof key, "lang_%s", web_lang_codes[l]);
        web_tv_t *it = web_tv_item(ar, langs);
        web_tv_str(ar, it, "value", web_lang_codes[l]);
        web_tv_str(ar, it, "name", web_text(r, key));
        web_tv_bool(ar, it, "selected", lang && strcmp(lang, web_lang_codes[l]) == 0);
    }
    /* A municipal contact person chooses among their own municipalities. */
    if (a->role == BO_ROLE(MUNICIPAL)) {
        const char *m = r->post ? web_field(r, "municipality") : NULL;
        web_tv_bool(ar, root, "munis_select", true);
        web_tv_t *ml = web_tv_list(ar, root, "own_munis");
        web_muni_options(r, ml, (const char *const *)a->municipalities,
                         (unsigned)a->n_municipalities, m);
    }
    bo_series_form(r, root, v);
    web_page(r, status, "bo_event_new", root);
}

bool
bo_when(const char *date, const char *hm, int64_t *out)
{
    if (!date || !hm || strlen(date) != 10 || strlen(hm) != 5)
        return false;
    char buf[32], why[128];
    snprintf(buf, sizeof buf, "%s %s", date, hm);
    return kp_time_parse_local(buf, out, why, sizeof why) == 0;
}

static void
s_create_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    op_t *o = r->cont_arg;
    Kumppani__V1__EventReply *er = web_body(r, rep, &kumppani__v1__event_reply__descriptor);
    if (!er || !er->event) {
        if (web_code(rep) == C(INVALID) || web_code(rep) == C(CONFLICT)) {
            bo_audit(r, o->acct->id, "events.event.create", "", "failed");
            s_new_form(r, o->acct, 400, "bo_err_refused", "title");
        } else
            s_failed(r, rep, "events.event.create");
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "event=%llu", (unsigned long long)er->event->id);
    bo_audit(r, o->acct->id, "events.event.create", obj, "ok");
    web_redirect(r, "/office/events/%llu", (unsigned long long)er->event->id);
}

void
bo_pg_event_new(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a =
        bo_require_role(r, BO_R(REGIONAL) | BO_R(MUNICIPAL), "events.event.create", "");
    if (!a)
        return;
    if (!r->post) {
        s_new_form(r, a, 200, NULL, NULL);
        return;
    }
    const char *title = web_field(r, "title"), *kind = web_field(r, "kind"),
               *m = web_field(r, "municipality"), *cap = web_field(r, "capacity"),
               *place = web_field(r, "place"), *lang = web_field(r, "language"),
               *desc = web_field(r, "description"), *nonce = web_field(r, "nonce"),
               *acc = web_field(r, "accessibility");
    int64_t start = 0, end = 0;
    const char *err = NULL, *field = NULL;
    if (!title || !*title || kp_text_chars(title) > 200 || strchr(title, '\n'))
        err = "bo_err_title", field = "title";
    else if (!kind || strlen(kind) != 1 || kind[0] < '1' || kind[0] > '9')
        err = "bo_err_kind", field = "kind";
    else if (!kp_is_muni_code(m))
        err = "bo_err_muni", field = "municipality";
    else if (!bo_when(web_field(r, "date"), web_field(r, "start"), &start))
        err = "bo_err_date", field = "date";
    else if (!bo_when(web_field(r, "date"), web_field(r, "end"), &end) || end <= start)
        err = "bo_err_end", field = "end";
    else if (cap && *cap && web_digits(cap, 5, 99999) < 0)
        err = "bo_err_capacity", field = "capacity";
    else if (place && (kp_text_chars(place) > 200 || strchr(place, '\n')))
        err = "bo_err_place", field = "place";
    else if (web_lang_parse(lang) < 0)
        err = "bo_err_language", field = "language";
    else if (desc && kp_text_chars(desc) > 4000)
        err = "err_text_long_4000", field = "description";
    else if (acc && kp_text_chars(acc) > 1000)
        err = "err_text_long_1000", field = "accessibility";
    else if (!nonce || strlen(nonce) != WEB_COOKIE_LEN)
        err = "err_form", field = "title";
    uint32_t count = 0;
    int freq = err ? 0 : bo_series_repeat(r, &count, &field);
    if (freq < 0)
        err = "bo_err_repeat";
    if (err) {
        s_new_form(r, a, 400, err, field);
        return;
    }
    if (!bo_muni_allowed(r, a, m, "events.event.create"))
        return;
    op_t *o = s_op(r, a, OP_VIEW);
    if (!o)
        return;
    Kumppani__V1__CreateEventRequest rq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    rq.kind = kind[0] - '0';
    rq.title = (char *)title;
    rq.municipality_code = (char *)m;
    rq.start_unix = start;
    rq.end_unix = end;
    rq.capacity = cap && *cap ? (uint32_t)strtoul(cap, NULL, 10) : 0;
    rq.place = (char *)(place ? place : "");
    rq.language = (char *)lang;
    rq.description_text = (char *)(desc ? desc : "");
    rq.accessibility_text = (char *)(acc ? acc : "");
    rq.organiser_municipality_code = (char *)m;
    char idem[80];
    snprintf(idem, sizeof idem, "office-%s", nonce);
    if (freq > 0) {
        bo_series_create(r, a, &rq, freq, count, idem);
        return;
    }
    s_call(r, "events.event.create", &rq.base, idem, s_create_done);
}

/* ---- event-scoped pages: the event first, then its scope --------------------------------- */

static const bo_list_t s_signups = {"events.signup.list",
                                    &kumppani__v1__list_signups_reply__descriptor, "signups",
                                    SU_PAGE, SU_MAX};

/* A list of the op is in (bo_list_all): its sign-ups, always asked first (s_step), else its
 * series' occurrences (bo_series.c); on to the next step. */
static void
s_list_in(web_req_t *r, void **items, size_t n)
{
    op_t *o = r->cont_arg;
    if (!o->su_loaded) {
        o->su = (Kumppani__V1__Signup **)items;
        o->su_n = n;
        o->su_loaded = true;
    } else {
        o->occ = (web_event_t **)items;
        o->occ_n = n;
        o->occ_loaded = true;
    }
    s_step(r);
}

/* The event is in and in scope (bo_evop_start): the op goes on with it. */
static void
s_event_in(web_req_t *r)
{
    bo_evop_t *e = r->cont_arg;
    op_t *o = e->data;
    o->ev = e->ev;
    memcpy(o->obj, e->obj, sizeof o->obj);
    r->cont_arg = o;
    s_step(r);
}

/* Starts an event-scoped operation (bo_evop_start): method and the op's object (set on the
 * returned start's obj before the event is in) name the action for the audit. NULL after
 * answering. */
static bo_evop_t *
s_start(web_req_t *r, bo_account_t *a, int op, const char *arg, const char *method)
{
    op_t *o = s_op(r, a, op);
    if (!o)
        return NULL;
    o->method = method;
    o->event_id = web_parse_id(arg);
    bo_evop_t *e = bo_evop_start(r, a, arg, method, s_event_in);
    if (!e)
        return NULL;
    e->data = o;
    e->audit_fetch = op != OP_VIEW && op != OP_CHECKIN && op != OP_CSV && op != OP_DOOR;
    return e;
}

/* ---- rendering --------------------------------------------------------------------------- */

const char *
bo_signup_role_key(int role)
{
    static const char *const k[] = {"role_0", "role_1", "role_2", "role_3",
                                    "role_4", "role_5", "role_6"};
    return role >= 0 && role <= 6 ? k[role] : k[0];
}

static void
s_signup_row(web_req_t *r, web_tv_t *it, const Kumppani__V1__Signup *s)
{
    kp_arena_t *a = r->arena;
    web_tv_strf(a, it, "id", "%llu", (unsigned long long)s->id);
    web_tv_str(a, it, "name", s->erased ? web_text(r, "bo_erased") : s->name);
    web_tv_str(a, it, "organisation", s->organisation);
    web_tv_str(a, it, "role", web_text(r, bo_signup_role_key(s->role)));
    web_tv_strf(a, it, "companions", "%u", s->companions);
    web_tv_bool(a, it, "attended", s->attendance == AT(ATTENDED));
    web_tv_bool(a, it, "no_show", s->attendance == AT(NO_SHOW));
    web_tv_bool(a, it, "needs", s->accessibility_text[0] || s->dietary_text[0]);
}

/* The reschedule, cancel and held forms' values (root's v): the event's time and links, or
 * after a refusal of one of them or of the series' change or extension or an offer's extension
 * (o->err) the values sent (a change's are the series section's, an offer's row the
 * waitlist's), with the error beside its field. A refused form the event no longer offers (open: it
 * can be rescheduled or cancelled; hold: it can be marked held; its series can be changed or
 * extended) answers the error page instead: false after answering. */
static bool
s_event_form(web_req_t *r, web_tv_t *root, const op_t *o, bool open, bool hold)
{
    kp_arena_t *a = r->arena;
    web_tv_t *v = web_tv_obj(a, root, "v");
    struct tm tm;
    if (kp_time_local(o->ev->start_unix, &tm) == 0) {
        web_tv_strf(a, v, "date", "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        web_tv_strf(a, v, "start", "%02d:%02d", tm.tm_hour, tm.tm_min);
    }
    if (kp_time_local(o->ev->end_unix, &tm) == 0)
        web_tv_strf(a, v, "end", "%02d:%02d", tm.tm_hour, tm.tm_min);
    web_tv_str(a, v, "count", "4");
    web_tv_str(a, v, "memo_url", o->ev->memo_url);
    web_tv_str(a, v, "materials_url", o->ev->materials_url);
    if (!o->err)
        return true;
    bool extend = strcmp(o->form, "extend") == 0, held = strcmp(o->form, "held") == 0,
         change = strcmp(o->form, "change") == 0;
    if (extend   ? !o->ev->series_id
        : change ? !o->ev->series_id || !bo_series_changeable(o->ev)
        : held   ? !hold
                 : !open) {
        bo_error(r, o->acct, 400, o->err);
        return false;
    }
    if (extend)
        web_tv_str(a, v, "count", web_field(r, "count"));
    else if (held) {
        web_tv_str(a, v, "memo_url", web_field(r, "memo_url"));
        web_tv_str(a, v, "materials_url", web_field(r, "materials_url"));
    } else if (strcmp(o->form, "reschedule") == 0) {
        web_tv_str(a, v, "date", web_field(r, "date"));
        web_tv_str(a, v, "start", web_field(r, "start"));
        web_tv_str(a, v, "end", web_field(r, "end"));
        web_tv_str(a, v, "new_reason", web_field(r, "reason"));
    } else if (strcmp(o->form, "cancel") == 0)
        web_tv_str(a, v, "reason", web_field(r, "reason"));
    bo_field_error(r, root, o->err, o->err_field);
    return true;
}

static void s_checkin_page(web_req_t *r, web_tv_t *root);

/* The event's page, or its check-in page (OP_CHECKIN): both open with the event's title and
 * facts. */
static void
s_event_page(web_req_t *r)
{
    op_t *o = r->cont_arg;
    kp_arena_t *a = r->arena;
    web_event_t *ev = o->ev;
    web_tv_t *root =
        bo_root(r, o->acct, o->op == OP_CHECKIN ? "bo_checkin_title" : "bo_event_title");
    web_tv_str(a, root, "title", ev->title);
    web_tv_t *e = web_tv_obj(a, root, "event");
    s_event_row(r, e, ev);
    if (o->op == OP_CHECKIN) {
        s_checkin_page(r, root);
        return;
    }
    bool live = ev->state == ES(PUBLISHED) || ev->state == ES(RESCHEDULED);
    web_tv_bool(a, e, "can_publish", ev->state == ES(DRAFT));
    web_tv_bool(a, e, "can_reschedule", live || ev->state == ES(DRAFT));
    web_tv_bool(a, e, "can_cancel", live || ev->state == ES(DRAFT));
    bool hold = (live || ev->state == ES(HELD)) && ev->start_unix <= kp_now_ms() / 1000;
    web_tv_bool(a, e, "can_hold", hold);
    web_tv_str(a, e, "memo_url", ev->memo_url);
    web_tv_str(a, e, "materials_url", ev->materials_url);
    web_tv_strf(a, e, "waitlisted_n", "%u", ev->waitlisted_n);
    web_tv_strf(a, e, "offered_n", "%u", ev->offered_n);
    web_tv_bool(a, root, "has_balance", ev->n_role_counts > 0);
    web_tv_t *bal = web_tv_list(a, root, "balance");
    for (size_t i = 0; i < ev->n_role_counts; i++) {
        web_tv_t *it = web_tv_item(a, bal);
        web_tv_str(a, it, "role", web_text(r, bo_signup_role_key(ev->role_counts[i]->role)));
        web_tv_strf(a, it, "confirmed", "%u", ev->role_counts[i]->confirmed_n);
        web_tv_strf(a, it, "waitlisted", "%u", ev->role_counts[i]->waitlisted_n);
    }
    static const struct {
        int state;
        const char *key, *list;
    } groups[] = {{SS(CONFIRMED), "bo_ss_1", "confirmed"},
                  {SS(OFFERED), "bo_ss_4", "offered"},
                  {SS(WAITLISTED), "bo_ss_2", "waitlisted"},
                  {SS(CANCELLED), "bo_ss_3", "cancelled"}};
    web_tv_t *gl = web_tv_list(a, root, "groups");
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        web_tv_t *gi = web_tv_item(a, gl);
        web_tv_str(a, gi, "heading", web_text(r, groups[g].key));
        web_tv_str(a, gi, "id", groups[g].list);
        web_tv_t *rows = web_tv_list(a, gi, "rows");
        unsigned n = 0;
        for (size_t i = 0; i < o->su_n; i++)
            if ((int)o->su[i]->state == groups[g].state) {
                s_signup_row(r, web_tv_item(a, rows), o->su[i]);
                n++;
            }
        web_tv_strf(a, gi, "count", "%u", n);
        web_tv_bool(a, gi, "empty", n == 0);
    }
    bo_series_section(r, root, ev, o->occ, o->occ_n, o->err && strcmp(o->form, "change") == 0);
    bool offer = o->err && strcmp(o->form, "offer") == 0;
    if (!bo_waitlist_section(r, root, ev, o->su, o->su_n, offer ? o->err : NULL)) {
        bo_error(r, o->acct, 400, o->err); /* no such open offer on the page */
        return;
    }
    if (!s_event_form(r, root, o, live || ev->state == ES(DRAFT), hold))
        return;
    const char *done = web_query(r, "done");
    if (done && (strcmp(done, "published") == 0 || strcmp(done, "rescheduled") == 0 ||
                 strcmp(done, "cancelled") == 0 || strcmp(done, "held") == 0))
        web_tv_textf(r, root, "done", "bo_done_%s", done);
    web_page(r, o->err ? 400 : 200, "bo_event", root);
}

/* Case-insensitive (ASCII and the Finnish letters as bytes) substring match. */
static bool
s_name_match(const char *name, const char *q)
{
    if (!q || !*q)
        return true;
    size_t nl = strlen(name), ql = strlen(q);
    for (size_t i = 0; i + ql <= nl; i++) {
        size_t j = 0;
        while (j < ql && tolower((unsigned char)name[i + j]) == tolower((unsigned char)q[j]))
            j++;
        if (j == ql)
            return true;
    }
    return false;
}

/* The check-in page's own part: the confirmed sign-ups found by name, to be marked. */
static void
s_checkin_page(web_req_t *r, web_tv_t *root)
{
    op_t *o = r->cont_arg;
    kp_arena_t *a = r->arena;
    web_event_t *ev = o->ev;
    /* Before the start the list and the search only: nothing can be marked yet (the events
     * service refuses a mark), so a bulk mark with no one ticked is refused as early. */
    bool not_started = ev->start_unix > kp_now_ms() / 1000;
    if (o->err && not_started) {
        bo_error(r, o->acct, 409, "bo_err_not_started");
        return;
    }
    /* A refused bulk mark (o->err) answers the page again with the search its form sent. */
    const char *q = o->err ? web_field(r, "q") : web_query(r, "q");
    if (o->err)
        bo_field_error(r, root, o->err, o->err_field);
    if (q && kp_text_chars(q) > 100)
        q = NULL;
    web_tv_str(a, root, "q", q);
    web_tv_t *rows = web_tv_list(a, root, "rows");
    unsigned n = 0, all = 0;
    for (size_t i = 0; i < o->su_n; i++) {
        const Kumppani__V1__Signup *s = o->su[i];
        if (s->state != SS(CONFIRMED))
            continue;
        all++;
        if (!s_name_match(s->erased ? "" : s->name, q))
            continue;
        s_signup_row(r, web_tv_item(a, rows), s);
        n++;
    }
    web_tv_strf(a, root, "count", "%u", n);
    web_tv_strf(a, root, "all", "%u", all);
    web_tv_bool(a, root, "none", n == 0);
    web_tv_strf(a, root, "action", "/office/events/%llu/attendance", (unsigned long long)ev->id);
    web_tv_strf(a, root, "self", "/office/events/%llu/check-in", (unsigned long long)ev->id);
    const char *m = web_query(r, "marked"), *mn = web_query(r, "n");
    if (m && (strcmp(m, "attended") == 0 || strcmp(m, "no_show") == 0)) {
        char key[32];
        uint64_t cnt = web_parse_id(mn);
        snprintf(key, sizeof key, cnt > 1 ? "bo_marked_%s_n" : "bo_marked_%s", m);
        if (cnt > 1)
            web_tv_strf(a, root, "marked", "%s %llu", web_text(r, key), (unsigned long long)cnt);
        else
            web_tv_str(a, root, "marked", web_text(r, key));
    }
    web_tv_bool(a, root, "not_started", not_started);
    web_page(r, o->err ? 400 : 200, "bo_checkin", root);
}

static void
s_csv_cell(web_buf_t *b, const char *s, bool last)
{
    web_buf_adds(b, "\"");
    if (s && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t'))
        web_buf_adds(b, "'"); /* a spreadsheet must not read it as a formula */
    for (const char *p = s ? s : ""; *p; p++)
        web_buf_add(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    web_buf_adds(b, last ? "\"\r\n" : "\",");
}

static void
s_csv(web_req_t *r)
{
    op_t *o = r->cont_arg;
    web_buf_t b = {.max = 16u << 20};
    static const char *const states[] = {"", "confirmed", "waitlisted", "cancelled", "offered"};
    static const char *const att[] = {"", "attended", "no-show"};
    web_buf_adds(&b, "\xEF\xBB\xBF"); /* a BOM, so that spreadsheets read UTF-8 */
    web_buf_adds(&b, "signup_id,state,role,companions,name,organisation,attendance\r\n");
    for (size_t i = 0; i < o->su_n; i++) {
        const Kumppani__V1__Signup *s = o->su[i];
        char id[24], comp[12];
        snprintf(id, sizeof id, "%llu", (unsigned long long)s->id);
        snprintf(comp, sizeof comp, "%u", s->companions);
        s_csv_cell(&b, id, false);
        s_csv_cell(&b, s->state <= 4 ? states[s->state] : "", false);
        s_csv_cell(&b, web_text(r, bo_signup_role_key(s->role)), false);
        s_csv_cell(&b, comp, false);
        s_csv_cell(&b, s->erased ? "" : s->name, false);
        s_csv_cell(&b, s->erased ? "" : s->organisation, false);
        s_csv_cell(&b, s->attendance <= 2 ? att[s->attendance] : "", true);
    }
    if (b.full) {
        web_buf_free(&b);
        bo_error(r, o->acct, 503, "err_unavailable");
        return;
    }
    bo_audit(r, o->acct->id, "office.participants_csv", o->obj, "ok");
    bo_csv(r, &b, "participants-%llu.csv", (unsigned long long)o->event_id);
}

/* ---- changes ----------------------------------------------------------------------------- */

static void s_change_done(web_req_t *r, const Kumppani__V1__Reply *rep);

/* Marks the next sign-up of o->sids (one call at a time, each audited). */
static void
s_mark_next(web_req_t *r)
{
    op_t *o = r->cont_arg;
    snprintf(o->obj, sizeof o->obj, "event=%llu signup=%llu", (unsigned long long)o->event_id,
             (unsigned long long)o->sids[o->sid_i]);
    Kumppani__V1__SignupAttendanceRequest rq = KUMPPANI__V1__SIGNUP_ATTENDANCE_REQUEST__INIT;
    rq.signup_id = o->sids[o->sid_i];
    rq.attendance = o->mark;
    s_call(r, o->method, &rq.base, NULL, s_change_done);
}

static void
s_change_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    op_t *o = r->cont_arg;
    if (web_code(rep) != C(OK)) {
        s_failed(r, rep, o->method);
        return;
    }
    bo_audit(r, o->acct->id, o->method, o->obj, "ok");
    if (o->op == OP_MARK && ++o->sid_i < o->sids_n) {
        s_mark_next(r);
        return;
    }
    if (o->op == OP_MARK) {
        const char *q = web_field(r, "q");
        char qe[100] = "";
        size_t k = 0;
        for (const char *p = q ? q : ""; *p && k + 4 < sizeof qe; p++) {
            unsigned char c = (unsigned char)*p;
            if (isalnum(c))
                qe[k++] = (char)c;
            else
                k += (size_t)snprintf(qe + k, sizeof qe - k, "%%%02X", c);
        }
        qe[k] = 0;
        web_redirect(r, "/office/events/%llu/check-in?marked=%s&n=%zu&q=%s",
                     (unsigned long long)o->event_id,
                     o->mark == AT(ATTENDED) ? "attended" : "no_show", o->sids_n, qe);
    } else {
        static const char *const done[] = {"", "published", "rescheduled", "cancelled", "held"};
        web_redirect(r, "/office/events/%llu?done=%s", (unsigned long long)o->event_id,
                     done[o->op <= OP_HELD ? o->op : 0]);
    }
}

static void
s_door_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    op_t *o = r->cont_arg;
    Kumppani__V1__EventTextReply *t = web_body(r, rep, &kumppani__v1__event_text_reply__descriptor);
    if (!t) {
        s_failed(r, rep, "events.signup.door_csv");
        return;
    }
    bo_audit(r, o->acct->id, "events.signup.door_csv", o->obj, "ok");
    web_buf_t b = {0};
    web_buf_adds(&b, t->text);
    bo_csv(r, &b, "door-%llu.csv", (unsigned long long)o->event_id);
}

/* The next step of an event-scoped operation once the event (and, where needed, its
 * sign-ups and series) are in. */
static void
s_step(web_req_t *r)
{
    op_t *o = r->cont_arg;
    bool need_su = o->op == OP_VIEW || o->op == OP_CHECKIN || o->op == OP_MARK || o->op == OP_CSV;
    if (need_su && !o->su_loaded) {
        Kumppani__V1__ListSignupsRequest rq = KUMPPANI__V1__LIST_SIGNUPS_REQUEST__INIT;
        rq.event_id = o->event_id;
        bo_list_all(r, o->acct, r->svc->bus_office, &s_signups, &rq.base, s_list_in, s_failed);
        return;
    }
    if (o->op == OP_VIEW && o->ev->series_id && !o->occ_loaded) {
        bo_series_load(r, o->acct, o->ev->series_id, s_list_in);
        return;
    }
    switch (o->op) {
    case OP_VIEW:
    case OP_CHECKIN:
        s_event_page(r);
        break;
    case OP_CSV:
        s_csv(r);
        break;
    case OP_DOOR: {
        Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
        rq.event_id = o->event_id;
        s_call(r, "events.signup.door_csv", &rq.base, NULL, s_door_done);
        return;
    }
    case OP_MARK: {
        /* Every sign-up must be one of this event's, or nothing is marked. */
        for (size_t k = 0; k < o->sids_n; k++) {
            bool mine = false;
            for (size_t i = 0; i < o->su_n && !mine; i++)
                mine = o->su[i]->id == o->sids[k];
            if (!mine) {
                snprintf(o->obj, sizeof o->obj, "event=%llu signup=%llu",
                         (unsigned long long)o->event_id, (unsigned long long)o->sids[k]);
                bo_forbidden(r, o->acct, o->method, o->obj);
                return;
            }
        }
        s_mark_next(r);
        return;
    }
    default:
        s_call(r, o->method, o->body, NULL, s_change_done);
        return;
    }
}

/* ---- the routes -------------------------------------------------------------------------- */

/* Starts a change of event arg by the signed-in account (bo_require): method with a request of
 * type d, asked once the event is in scope. Returns the request, its event_id set, for the caller
 * to fill in before the turn ends; NULL after answering. */
static void *
s_change(web_req_t *r, int op, const char *arg, const char *method,
         const ProtobufCMessageDescriptor *d)
{
    const ProtobufCFieldDescriptor *id =
        protobuf_c_message_descriptor_get_field_by_name(d, "event_id");
    assert(id && id->type == PROTOBUF_C_TYPE_UINT64);
    bo_account_t *a = bo_require(r);
    ProtobufCMessage *m = a ? bo_zalloc(r, a, d->sizeof_message) : NULL;
    if (!m)
        return NULL;
    protobuf_c_message_init(d, m);
    *(uint64_t *)((char *)m + id->offset) = web_parse_id(arg);
    bo_evop_t *e = s_start(r, a, op, arg, method);
    if (!e)
        return NULL;
    ((op_t *)e->data)->body = m;
    return m;
}

void
bo_event_refused(web_req_t *r, bo_account_t *a, const char *arg, const char *form, const char *err,
                 const char *field)
{
    bo_evop_t *e = s_start(r, a, OP_VIEW, arg, "events.event.get");
    if (!e)
        return;
    op_t *o = e->data;
    o->form = form;
    o->err = err;
    o->err_field = field;
}

/* A change form's field refused (bo_event_refused), for the signed-in account (bo_require). The
 * forms' fields are checked before the account: nothing is answered until bo_require passes. */
static void
s_refused(web_req_t *r, const char *arg, const char *form, const char *err, const char *field)
{
    bo_account_t *a = bo_require(r);
    if (a)
        bo_event_refused(r, a, arg, form, err, field);
}

void
bo_pg_event(web_req_t *r, const char *arg)
{
    static const struct {
        int op;
        const char *method;
    } pages[] = {[BO_EV_PAGE] = {OP_VIEW, "events.event.get"},
                 [BO_EV_CHECKIN] = {OP_CHECKIN, "events.signup.list"},
                 [BO_EV_CSV] = {OP_CSV, "office.participants_csv"},
                 [BO_EV_DOOR] = {OP_DOOR, "events.signup.door_csv"}};
    assert(r->route_op >= BO_EV_PAGE && r->route_op <= BO_EV_DOOR);
    bo_account_t *a = bo_require(r);
    if (a)
        s_start(r, a, pages[r->route_op].op, arg, pages[r->route_op].method);
}

void
bo_pg_event_publish(web_req_t *r, const char *arg)
{
    s_change(r, OP_PUBLISH, arg, "events.event.publish", &kumppani__v1__event_ref__descriptor);
}

void
bo_pg_event_reschedule(web_req_t *r, const char *arg)
{
    int64_t start, end;
    const char *date = web_field(r, "date"), *reason = web_field(r, "reason");
    if (!bo_when(date, web_field(r, "start"), &start)) {
        s_refused(r, arg, "reschedule", "bo_err_date", "date");
        return;
    }
    if (!bo_when(date, web_field(r, "end"), &end) || end <= start) {
        s_refused(r, arg, "reschedule", "bo_err_end", "end");
        return;
    }
    if (reason && kp_text_chars(reason) > 1000) {
        s_refused(r, arg, "reschedule", "err_text_long_1000", "new_reason");
        return;
    }
    Kumppani__V1__RescheduleEventRequest *rq =
        s_change(r, OP_RESCHEDULE, arg, "events.event.reschedule",
                 &kumppani__v1__reschedule_event_request__descriptor);
    if (!rq)
        return;
    rq->start_unix = start;
    rq->end_unix = end;
    rq->reason_text = (char *)(reason ? reason : "");
}

void
bo_pg_event_cancel(web_req_t *r, const char *arg)
{
    const char *reason = web_field(r, "reason");
    if (!reason || !*reason || kp_text_chars(reason) > 1000) {
        s_refused(r, arg, "cancel", "bo_err_reason", "reason");
        return;
    }
    Kumppani__V1__CancelEventRequest *rq = s_change(
        r, OP_CANCEL, arg, "events.event.cancel", &kumppani__v1__cancel_event_request__descriptor);
    if (rq)
        rq->reason_text = (char *)reason;
}

/* An https:// or http:// address of at most 1000 bytes, or "" (the events service checks it
 * again). */
static bool
s_url_ok(const char *u)
{
    return !u || !*u ||
           (strlen(u) <= 1000 && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0));
}

void
bo_pg_event_held(web_req_t *r, const char *arg)
{
    const char *memo = web_field(r, "memo_url"), *mat = web_field(r, "materials_url");
    if (!s_url_ok(memo) || !s_url_ok(mat)) {
        s_refused(r, arg, "held", "bo_err_url", s_url_ok(memo) ? "materials_url" : "memo_url");
        return;
    }
    Kumppani__V1__HeldEventRequest *rq = s_change(r, OP_HELD, arg, "events.event.held",
                                                  &kumppani__v1__held_event_request__descriptor);
    if (!rq)
        return;
    rq->memo_url = (char *)(memo ? memo : "");
    rq->materials_url = (char *)(mat ? mat : "");
}

void
bo_pg_attendance(web_req_t *r, const char *arg)
{
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    const char *mark = web_field(r, "mark");
    int m = mark && strcmp(mark, "attended") == 0  ? AT(ATTENDED)
            : mark && strcmp(mark, "no_show") == 0 ? AT(NO_SHOW)
                                                   : 0;
    uint64_t *sids = kp_arena_alloc(r->arena, BULK_MAX * sizeof *sids);
    size_t n = 0;
    bool bad = !sids;
    for (size_t i = 0; !bad && i < r->fields_n; i++)
        if (strcmp(r->names[i], "signup") == 0) {
            uint64_t id = web_parse_id(r->values[i]);
            bad = !id || n == BULK_MAX;
            if (!bad)
                sids[n++] = id;
        }
    if (!bad && !n) { /* no one ticked: the check-in page again, the error above the list */
        bo_evop_t *e = s_start(r, a, OP_CHECKIN, arg, "events.signup.list");
        if (e) {
            op_t *o = e->data;
            o->err = "bo_err_none_chosen";
            o->err_field = "signup";
        }
        return;
    }
    if (bad || !m) {
        bo_error(r, a, 400, "err_form");
        return;
    }
    bo_evop_t *e = s_start(r, a, OP_MARK, arg, "events.signup.attendance");
    op_t *o = e ? e->data : NULL;
    if (o) {
        o->sids = sids;
        o->sids_n = n;
        o->mark = m;
        snprintf(e->obj, sizeof e->obj, "event=%llu signup=%llu", (unsigned long long)o->event_id,
                 (unsigned long long)sids[0]);
    }
}
