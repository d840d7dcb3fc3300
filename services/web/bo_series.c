/*  web/bo_series.c: an event's series in the back office, and the
 *  event-scoped start that the event page's, the series' and the waitlist's actions share
 *  (bo_evop_start).
 *
 *  A series is its occurrences: ordinary events sharing series_id, numbered by series_index
 *  (the events service's event.c). The event page of an occurrence lists them all, with two
 *  forms: "change from this occurrence on" (events.series.update from its index: the fields
 *  that differ from this occurrence's, and the time if it moved; each moved occurrence is a
 *  reschedule and its people are told) and "extend by N occurrences" (events.series.extend,
 *  at the series' own frequency, drafts or published). The new-event form's "repeat"
 *  fieldset makes a series at once (events.series.create), as drafts or all published.
 *
 *  Scope: every action first fetches the event by id and refuses (403, audited "denied") an
 *  account whose role or municipalities do not cover it, before anything is changed. The
 *  occurrences of a series share the first one's municipality (the forms here never change
 *  it), so the occurrence's municipality is the series'. Every change is audited with ids
 *  only; the events service's refusal answers 400 (bad data) or 409 (the state). */
#include "bo.h"
#include "kp_text.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define SF(x) KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_##x
#define OCC_PAGE 500
#define OCC_MAX 2000

/* ---- the event-scoped start -------------------------------------------------------------- */

static void
s_evop_event(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    bo_evop_t *o = r->cont_arg;
    Kumppani__V1__EventReply *er = web_body(r, rep, &kumppani__v1__event_reply__descriptor);
    if (!er || !er->event) {
        bo_evop_failed(r, rep, "events.event.get");
        return;
    }
    o->ev = er->event;
    if (!bo_muni_ok(o->acct, o->ev->municipality_code)) {
        bo_forbidden(r, o->acct, o->method, o->obj);
        return;
    }
    o->then(r);
}

bo_evop_t *
bo_evop_start(web_req_t *r, bo_account_t *a, const char *arg, const char *method,
              void (*then)(web_req_t *r))
{
    bo_evop_t *o = bo_state_id(r, a, arg, "err_no_event", sizeof *o);
    if (!o)
        return NULL;
    o->method = method;
    o->then = then;
    snprintf(o->obj, sizeof o->obj, "event=%llu", (unsigned long long)o->event_id);
    if (!bo_role_ok(a, BO_R(REGIONAL) | BO_R(MUNICIPAL))) {
        bo_forbidden(r, a, method, o->obj);
        return NULL;
    }
    Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
    rq.event_id = o->event_id;
    if (!bo_call(r, a, r->svc->bus_office, "events.event.get", &rq.base, NULL, s_evop_event))
        return NULL;
    return o;
}

void
bo_evop_failed(web_req_t *r, const Kumppani__V1__Reply *rep, const char *method)
{
    bo_evop_t *o = r->cont_arg;
    int code = bo_code(rep, method);
    bool fetch = strcmp(method, "events.event.get") == 0;
    if (code >= 0 && (fetch ? o->audit_fetch : strcmp(method, "events.signup.get") != 0))
        bo_audit(r, o->acct->id, method, o->obj, "failed");
    bo_refused(r, o->acct, code, fetch ? "err_no_event" : "bo_err_not_found");
}

/* ---- the occurrences --------------------------------------------------------------------- */

static const bo_list_t s_occurrences = {
    "events.event.list", &kumppani__v1__list_events_reply__descriptor, "events", OCC_PAGE, OCC_MAX};

bool
bo_series_load(web_req_t *r, const bo_account_t *a, uint64_t series_id, bo_list_cb then)
{
    Kumppani__V1__ListEventsRequest rq = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
    rq.series_id = series_id;
    return bo_list_all(r, a, r->svc->bus_office, &s_occurrences, &rq.base, then, NULL);
}

static int
s_by_index(const void *x, const void *y)
{
    const web_event_t *a = *(web_event_t *const *)x, *b = *(web_event_t *const *)y;
    return a->series_index < b->series_index ? -1 : a->series_index > b->series_index;
}

/* ---- the section ------------------------------------------------------------------------- */

static const char *const s_freq_names[] = {"", "weekly", "biweekly", "monthly_day",
                                           "monthly_weekday"};

/* An occurrence that a change from it on would still touch. */
bool
bo_series_changeable(const web_event_t *ev)
{
    return ev->state != ES(CANCELLED) && ev->state != ES(HELD) &&
           ev->start_unix > kp_now_ms() / 1000;
}

void
bo_series_section(web_req_t *r, web_tv_t *root, const web_event_t *ev, web_event_t **occ, size_t n,
                  bool sent)
{
    kp_arena_t *a = r->arena;
    if (!ev->series_id)
        return;
    qsort(occ, n, sizeof *occ, s_by_index);
    web_tv_t *s = web_tv_obj(a, root, "series");
    web_tv_strf(a, s, "id", "%llu", (unsigned long long)ev->series_id);
    web_tv_strf(a, s, "index", "%u", ev->series_index);
    web_tv_strf(a, s, "event_id", "%llu", (unsigned long long)ev->id);
    web_tv_strf(a, s, "count", "%zu", n);
    int f = ev->series_frequency;
    if (f > 0 && f <= SF(MONTHLY_WEEKDAY))
        web_tv_textf(r, s, "frequency", "bo_repeat_%s", s_freq_names[f]);
    web_tv_t *list = web_tv_list(a, s, "occurrences");
    for (size_t i = 0; i < n; i++) {
        web_tv_t *it = web_tv_item(a, list);
        web_tv_strf(a, it, "index", "%u", occ[i]->series_index);
        web_tv_strf(a, it, "href", "/office/events/%llu", (unsigned long long)occ[i]->id);
        web_tv_time(r, it, "when", occ[i]->start_unix);
        web_tv_str(a, it, "title", occ[i]->title);
        web_tv_textf(r, it, "state", "bo_es_%d",
                     occ[i]->state >= 0 && occ[i]->state <= 5 ? occ[i]->state : 0);
        web_tv_bool(a, it, "current", occ[i]->id == ev->id);
    }
    web_tv_bool(a, s, "can_change", bo_series_changeable(ev));
    web_tv_str(a, s, "title_v", ev->title);
    web_tv_str(a, s, "place_v", ev->place);
    web_tv_strf(a, s, "capacity_v", "%u", ev->capacity);
    struct tm tm;
    if (kp_time_local(ev->start_unix, &tm) == 0) {
        web_tv_strf(a, s, "date_v", "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        web_tv_strf(a, s, "start_v", "%02d:%02d", tm.tm_hour, tm.tm_min);
    }
    if (kp_time_local(ev->end_unix, &tm) == 0)
        web_tv_strf(a, s, "end_v", "%02d:%02d", tm.tm_hour, tm.tm_min);
    /* a refused change: the values sent, over the event's (field f's value is f_v) */
    static const char *const sent_fields[][2] = {
        {"title", "title_v"}, {"place", "place_v"}, {"capacity", "capacity_v"}, {"date", "date_v"},
        {"start", "start_v"}, {"end", "end_v"},     {"reason", "reason_v"}};
    for (size_t i = 0; sent && i < sizeof sent_fields / sizeof sent_fields[0]; i++)
        web_tv_str(a, s, sent_fields[i][1], web_field(r, sent_fields[i][0]));
    char nonce[WEB_COOKIE_LEN + 1];
    web_token_random(nonce);
    web_tv_str(a, s, "nonce", nonce);
    const char *done = web_query(r, "done");
    if (done && (strcmp(done, "series_created") == 0 || strcmp(done, "series_published") == 0 ||
                 strcmp(done, "series_changed") == 0 || strcmp(done, "series_extended") == 0))
        web_tv_textf(r, root, "done", "bo_done_%s", done);
}

/* ---- the new-event form's repeat fieldset ------------------------------------------------ */

void
bo_series_form(web_req_t *r, web_tv_t *root, web_tv_t *v)
{
    kp_arena_t *a = r->arena;
    const char *rep = r->post ? web_field(r, "repeat") : NULL;
    web_tv_t *list = web_tv_list(a, root, "repeats");
    for (int f = 0; f <= SF(MONTHLY_WEEKDAY); f++) {
        char key[40];
        snprintf(key, sizeof key, "bo_repeat_%s", f ? s_freq_names[f] : "none");
        web_tv_t *it = web_tv_item(a, list);
        web_tv_str(a, it, "value", f ? s_freq_names[f] : "none");
        web_tv_str(a, it, "name", web_text(r, key));
        web_tv_bool(a, it, "selected",
                    rep ? strcmp(rep, f ? s_freq_names[f] : "none") == 0 : f == 0);
    }
    const char *cnt = r->post ? web_field(r, "repeat_count") : NULL;
    web_tv_str(a, v, "repeat_count", cnt && *cnt ? cnt : "4");
    const char *pub = r->post ? web_field(r, "repeat_publish") : NULL;
    web_tv_bool(a, v, "repeat_publish", pub && strcmp(pub, "yes") == 0);
}

int
bo_series_repeat(web_req_t *r, uint32_t *count, const char **field)
{
    const char *rep = web_field(r, "repeat"), *cnt = web_field(r, "repeat_count");
    *field = "repeat";
    if (!rep || !*rep || strcmp(rep, "none") == 0)
        return 0;
    int f = 0;
    for (int i = 1; i <= SF(MONTHLY_WEEKDAY) && !f; i++)
        if (strcmp(rep, s_freq_names[i]) == 0)
            f = i;
    if (!f)
        return -1;
    *field = "repeat_count";
    long n = web_digits(cnt, 2, 60);
    if (n < 2)
        return -1;
    *count = (uint32_t)n;
    return f;
}

/* ---- creating a series ------------------------------------------------------------------- */

typedef struct {
    bo_account_t *acct;
} create_t;

static void
s_create_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    create_t *c = r->cont_arg;
    Kumppani__V1__SeriesReply *sr = web_body(r, rep, &kumppani__v1__series_reply__descriptor);
    if (!sr || !sr->n_events) {
        int code = bo_code(rep, "events.series.create");
        if (code >= 0)
            bo_audit(r, c->acct->id, "events.series.create", "", "failed");
        bo_error(r, c->acct, code == C(INVALID) || code == C(CONFLICT) ? 400 : 503,
                 code == C(INVALID) || code == C(CONFLICT) ? "bo_err_refused" : "err_unavailable");
        return;
    }
    char obj[64];
    snprintf(obj, sizeof obj, "series=%llu event=%llu", (unsigned long long)sr->series_id,
             (unsigned long long)sr->events[0]->id);
    bo_audit(r, c->acct->id, "events.series.create", obj, "ok");
    web_redirect(r, "/office/events/%llu?done=%s#series", (unsigned long long)sr->events[0]->id,
                 sr->events[0]->state == ES(DRAFT) ? "series_created" : "series_published");
}

void
bo_series_create(web_req_t *r, bo_account_t *a, Kumppani__V1__CreateEventRequest *first, int freq,
                 uint32_t count, const char *idem)
{
    create_t *c = bo_state(r, a, sizeof *c);
    if (!c)
        return;
    Kumppani__V1__CreateSeriesRequest rq = KUMPPANI__V1__CREATE_SERIES_REQUEST__INIT;
    rq.first = first;
    rq.frequency = freq;
    rq.count = count;
    const char *pub = web_field(r, "repeat_publish");
    rq.publish = pub && strcmp(pub, "yes") == 0;
    bo_call(r, a, r->svc->bus_office, "events.series.create", &rq.base, idem, s_create_done);
}

/* ---- changing and extending -------------------------------------------------------------- */

static void
s_series_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    bo_evop_t *o = r->cont_arg;
    const char *done =
        strcmp(o->method, "events.series.extend") == 0 ? "series_extended" : "series_changed";
    if (!bo_changed(r, o->acct, web_code(rep), o->method, o->obj,
                    "/office/events/%llu?done=%s#series", (unsigned long long)o->event_id, done))
        bo_evop_failed(r, rep, o->method);
}

/* The event must be an occurrence; the object names the series too. */
static bool
s_in_series(web_req_t *r, bo_evop_t *o)
{
    if (!o->ev->series_id) {
        bo_audit(r, o->acct->id, o->method, o->obj, "failed");
        bo_error(r, o->acct, 409, "bo_err_no_series");
        return false;
    }
    snprintf(o->obj, sizeof o->obj, "event=%llu series=%llu", (unsigned long long)o->event_id,
             (unsigned long long)o->ev->series_id);
    return true;
}

static void
s_change_step(web_req_t *r)
{
    bo_evop_t *o = r->cont_arg;
    if (!s_in_series(r, o))
        return;
    const web_event_t *ev = o->ev;
    const char *title = web_field(r, "title"), *place = web_field(r, "place"),
               *cap = web_field(r, "capacity"), *date = web_field(r, "date"),
               *reason = web_field(r, "reason");
    Kumppani__V1__UpdateSeriesRequest *rq = kp_arena_alloc(r->arena, sizeof *rq);
    Kumppani__V1__CreateEventRequest *v = kp_arena_alloc(r->arena, sizeof *v);
    char **fields = kp_arena_alloc(r->arena, 3 * sizeof *fields);
    if (!rq || !v || !fields) {
        bo_error(r, o->acct, 503, "err_unavailable");
        return;
    }
    kumppani__v1__update_series_request__init(rq);
    kumppani__v1__create_event_request__init(v);
    rq->series_id = ev->series_id;
    rq->from_index = ev->series_index;
    rq->values = v;
    rq->fields = fields;
    if (title && *title && strcmp(title, ev->title) != 0) {
        v->title = (char *)title;
        fields[rq->n_fields++] = "title";
    }
    if (place && strcmp(place, ev->place) != 0) {
        v->place = (char *)place;
        fields[rq->n_fields++] = "place";
    }
    uint32_t c = cap && *cap ? (uint32_t)strtoul(cap, NULL, 10) : 0;
    if (cap && c != ev->capacity) {
        v->capacity = c;
        fields[rq->n_fields++] = "capacity";
    }
    int64_t start = 0, end = 0;
    if (date && *date) {
        /* checked in bo_pg_series_change */
        bo_when(date, web_field(r, "start"), &start);
        bo_when(date, web_field(r, "end"), &end);
        if (start != ev->start_unix || end != ev->end_unix) {
            rq->start_unix = start;
            rq->end_unix = end;
            rq->reason_text = (char *)(reason ? reason : "");
        }
    }
    if (!rq->n_fields && !rq->start_unix) {
        bo_error(r, o->acct, 400, "bo_err_no_change");
        return;
    }
    bo_call(r, o->acct, r->svc->bus_office, o->method, &rq->base, NULL, s_series_done);
}

void
bo_pg_series_change(web_req_t *r, const char *arg)
{
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    const char *title = web_field(r, "title"), *place = web_field(r, "place"),
               *cap = web_field(r, "capacity"), *date = web_field(r, "date"),
               *reason = web_field(r, "reason");
    int64_t start, end;
    const char *err = NULL, *field = NULL;
    if (title && (kp_text_chars(title) > 200 || strchr(title, '\n')))
        err = "bo_err_title", field = "series_title";
    else if (place && (kp_text_chars(place) > 200 || strchr(place, '\n')))
        err = "bo_err_place", field = "series_place";
    else if (cap && *cap && web_digits(cap, 5, 99999) < 0)
        err = "bo_err_capacity", field = "series_capacity";
    else if (date && *date &&
             (!bo_when(date, web_field(r, "start"), &start) ||
              !bo_when(date, web_field(r, "end"), &end) || end <= start))
        err = "bo_err_date", field = "series_date";
    else if (reason && kp_text_chars(reason) > 1000)
        err = "err_text_long_1000", field = "series_reason";
    if (err) {
        bo_event_refused(r, a, arg, "change", err, field);
        return;
    }
    bo_evop_start(r, a, arg, "events.series.update", s_change_step);
}

static void
s_extend_step(web_req_t *r)
{
    bo_evop_t *o = r->cont_arg;
    if (!s_in_series(r, o))
        return;
    Kumppani__V1__ExtendSeriesRequest rq = KUMPPANI__V1__EXTEND_SERIES_REQUEST__INIT;
    const char *freq = web_field(r, "frequency");
    rq.series_id = o->ev->series_id;
    rq.count = (uint32_t)strtoul(web_field(r, "count"), NULL, 10);
    rq.publish = web_field(r, "publish") && strcmp(web_field(r, "publish"), "yes") == 0;
    for (int f = 1; freq && f <= SF(MONTHLY_WEEKDAY); f++)
        if (strcmp(freq, s_freq_names[f]) == 0)
            rq.frequency = f;
    char idem[80];
    snprintf(idem, sizeof idem, "office-ext-%s", web_field(r, "nonce"));
    bo_call(r, o->acct, r->svc->bus_office, o->method, &rq.base, idem, s_series_done);
}

void
bo_pg_series_extend(web_req_t *r, const char *arg)
{
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    const char *cnt = web_field(r, "count"), *nonce = web_field(r, "nonce");
    if (web_digits(cnt, 2, 60) < 1) {
        bo_event_refused(r, a, arg, "extend", "bo_err_extend_count", "count");
        return;
    }
    if (!nonce || strlen(nonce) != WEB_COOKIE_LEN) {
        bo_error(r, a, 400, "err_form");
        return;
    }
    bo_evop_start(r, a, arg, "events.series.extend", s_extend_step);
}
