/*  events/event.c: the events — create, update, the lifecycle (publish, reschedule, cancel,
 *  held), recurring series (create; change from an occurrence on; extend), get and list.
 *
 *  A series is its occurrences: events sharing series_id, numbered by series_index, each
 *  keeping the series' frequency. Changing a series from an occurrence on runs the same
 *  update and reschedule as one event, over every occurrence concerned, in two passes (all
 *  checked, then all changed) so that one refusal changes nothing. Extending repeats from the
 *  last occurrence.
 *
 *  Lifecycle: a draft is published (sign-ups open), may be rescheduled (state RESCHEDULED,
 *  sequence + 1, so calendars replace it) or cancelled (sequence + 1), and is held once it has
 *  started. The sequence is the event's one iCalendar SEQUENCE (RFC 5545 3.8.7.4: raised by
 *  every change of time or status), stored with the event and carried by every EventInfo on
 *  the log, so that the feed and a calendar file a consumer builds from the log agree.
 *  Cancelled and held are final. Repeating a transition that has already happened answers the
 *  event unchanged. Every change is written in the turn together with the domain event that
 *  describes it (kp_tx_emit); a reschedule or cancel names every live sign-up
 *  (EventChanged.signup_ids) so that the notifier can tell the people concerned. A larger
 *  capacity fills places from the waitlist at once (evt_fill). */
#include "events.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "kp_pbcopy.h"
#include "kp_time.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) EVT_C(x)
#define ST(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x

const char *
evt_state_name(int state)
{
    static const char *const names[] = {
        [ST(DRAFT)] = "draft", [ST(PUBLISHED)] = "published",     [ST(CANCELLED)] = "cancelled",
        [ST(HELD)] = "held",   [ST(RESCHEDULED)] = "rescheduled",
    };
    bool known = state >= 0 && (size_t)state < sizeof names / sizeof *names && names[state];
    return known ? names[state] : "unknown";
}

static void
s_reply_event(kp_call_t *call, evt_event_t *ev)
{
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    kp_call_ok(call, &r.base);
}

evt_event_t *
evt_open_event(kp_tx_t *t, kp_call_t *call, void *svc)
{
    const Kumppani__V1__EventRef *rq = kp_tx_open(t, call, svc);
    return evt_load_event(t, rq->event_id);
}

static int
s_where(void *arg, evt_event_t *ev)
{
    evt_where_t *w = arg;
    if (!w->keep || w->keep(w->arg, ev))
        w->v[w->n++] = ev;
    return w->n == w->cap;
}

int
evt_events_where(kp_tx_t *t, uint64_t after_id, unsigned scan, evt_where_t *w)
{
    w->n = 0;
    w->v = kp_arena_alloc(t->arena, w->cap * sizeof *w->v);
    return w->v ? evt_events_each(t, after_id, scan, s_where, w) : KP_ENOMEM;
}

/* Ends a change of ev's state: stores ev (updated now), appends type with it, logs log_id and
 * answers the call with ev, or with the store error. */
static void
s_save_answer(kp_tx_t *t, evt_event_t *ev, const char *type, const char *log_id)
{
    ev->updated_ms = t->now_ms;
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc = evt_event_put(t, ev);
    if (!rc)
        rc = kp_tx_emit(t, type, &r.base);
    if (!rc)
        kp_log_info(log_id, "event_id=%llu", (unsigned long long)ev->id);
    kp_tx_answer(t, rc, &r.base);
}

/* Fills a new event from a request (strings borrowed from rq): every field of a
 * CreateEventRequest has one of the same name in the event. */
static void
s_event_from(evt_event_t *ev, const Kumppani__V1__CreateEventRequest *rq, int64_t now_ms)
{
    kp_pbcopy_shared(&ev->base, &rq->base);
    ev->state = ST(DRAFT);
    ev->language = (char *)(rq->language[0] ? rq->language : "fi");
    ev->created_ms = ev->updated_ms = now_ms;
}

/* ---- events ------------------------------------------------------------------------------ */

void
evt_h_event_create(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__CreateEventRequest *rq = kp_tx_open(t, call, svc);
    if (!kp_call_idem_key_ok(call, "create") || !evt_create_fields_ok(t, rq) ||
        !evt_times_ok(call, t->now_ms / 1000, rq->start_unix, rq->end_unix,
                      rq->signup_deadline_unix))
        return;
    if (kp_call_idem_required(call, "create"))
        return;

    evt_event_t ev = KUMPPANI__V1__EVENT_INFO__INIT;
    int rc = kp_tx_next_id(t, "event", &ev.id);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_event_from(&ev, rq, t->now_ms);
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = &ev;
    if ((rc = evt_event_put(t, &ev)) || (rc = kp_tx_emit(t, "EventCreated", &r.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.created", "event_id=%llu kind=%d", (unsigned long long)ev.id, ev.kind);
    kp_call_ok(call, &r.base);
}

/* ---- Helsinki wall-clock time for series ---------------------------------------------------
 *
 * A series repeats the first event's Helsinki wall-clock time (kp_time): a monthly table at
 * 18:00 stays at 18:00 across the change to and from summer time. The day arithmetic below is
 * the proleptic Gregorian calendar on day numbers, free of any time zone. */

static int64_t
s_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
s_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned
s_month_days(int64_t y, unsigned m)
{
    int64_t a = s_days_from_civil(y, m, 1);
    int64_t b = m == 12 ? s_days_from_civil(y + 1, 1, 1) : s_days_from_civil(y, m + 1, 1);
    return (unsigned)(b - a);
}

/* 0 = Sunday. */
static unsigned
s_weekday(int64_t days)
{
    return (unsigned)(((days % 7) + 11) % 7);
}

/* The instant of the wall-clock time of day `of` on Helsinki day `days`. A time the spring
 * change skips (03:00-03:59) becomes the same time an hour later. 0 if out of range. */
static int64_t
s_at_local(int64_t days, const struct tm *of)
{
    int64_t y, t;
    unsigned m, d;
    s_civil_from_days(days, &y, &m, &d);
    struct tm tm = {.tm_year = (int)(y - 1900),
                    .tm_mon = (int)m - 1,
                    .tm_mday = (int)d,
                    .tm_hour = of->tm_hour,
                    .tm_min = of->tm_min,
                    .tm_sec = of->tm_sec};
    if (kp_time_from_local(&tm, &t) == 0)
        return t;
    tm.tm_hour++;
    return kp_time_from_local(&tm, &t) == 0 ? t : 0;
}

/* The start of occurrence k (0-based) of a series whose first start is first; 0 if the month
 * lacks the day (monthly by day). */
static int64_t
s_occurrence(int64_t first, int freq, unsigned k)
{
    struct tm tm;
    if (kp_time_local(first, &tm))
        return 0;
    unsigned d = (unsigned)tm.tm_mday;
    int64_t days = s_days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, d);
    if (freq == KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_WEEKLY)
        return s_at_local(days + 7 * (int64_t)k, &tm);
    if (freq == KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_BIWEEKLY)
        return s_at_local(days + 14 * (int64_t)k, &tm);
    int64_t mi = (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon + k;
    int64_t ty = mi / 12;
    unsigned tmon = (unsigned)(mi % 12) + 1, mdays = s_month_days(ty, tmon);
    if (freq == KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_MONTHLY_DAY)
        return d > mdays ? 0 : s_at_local(s_days_from_civil(ty, tmon, d), &tm);
    /* The same weekday of the same week of the month; a fifth one becomes the last. */
    unsigned nth = (d - 1) / 7, wd = s_weekday(days);
    int64_t first_of = s_days_from_civil(ty, tmon, 1);
    unsigned day = 1 + (wd + 7 - s_weekday(first_of)) % 7 + 7 * nth;
    if (day > mdays)
        day -= 7;
    return s_at_local(first_of + day - 1, &tm);
}

/* What the occurrences of one series share while they are made: the template's fields (their
 * times give each occurrence's length and sign-up lead), the reply they are added to, and the
 * moment a sign-up deadline must be after (else the occurrence has none). */
typedef struct {
    const Kumppani__V1__CreateEventRequest *f;
    Kumppani__V1__SeriesReply *r;
    uint64_t series_id;
    int freq;
    bool publish;
    int64_t deadline_after;
} s_series_t;

static int
s_series_alloc(kp_tx_t *t, Kumppani__V1__SeriesReply *r, unsigned count)
{
    r->events = kp_arena_alloc(t->arena, count * sizeof *r->events);
    return r->events ? 0 : KP_ENOMEM;
}

/* One occurrence at start, number index in its series: stored, announced (EventCreated, and
 * EventPublished when the series is published) and added to the reply. */
static int
s_series_add(kp_tx_t *t, const s_series_t *s, int64_t start, uint32_t index)
{
    const Kumppani__V1__CreateEventRequest *f = s->f;
    evt_event_t *ev = kp_arena_alloc(t->arena, sizeof *ev);
    if (!ev)
        return KP_ENOMEM;
    kumppani__v1__event_info__init(ev);
    s_event_from(ev, f, t->now_ms);
    int64_t lead = f->signup_deadline_unix ? f->start_unix - f->signup_deadline_unix : -1;
    ev->start_unix = start;
    ev->end_unix = start + (f->end_unix - f->start_unix);
    ev->signup_deadline_unix = lead >= 0 && start - lead > s->deadline_after ? start - lead : 0;
    ev->series_id = s->series_id;
    ev->series_index = index;
    ev->series_frequency = s->freq;
    if (s->publish)
        ev->state = ST(PUBLISHED);
    Kumppani__V1__EventReply er = KUMPPANI__V1__EVENT_REPLY__INIT;
    er.event = ev;
    int rc;
    if ((rc = kp_tx_next_id(t, "event", &ev->id)) || (rc = evt_event_put(t, ev)) ||
        (rc = kp_tx_emit(t, "EventCreated", &er.base)) ||
        (s->publish && (rc = kp_tx_emit(t, "EventPublished", &er.base))))
        return rc;
    s->r->events[s->r->n_events++] = ev;
    return 0;
}

void
evt_h_series_create(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__CreateSeriesRequest *rq = kp_tx_open(t, call, svc);
    if (!kp_call_idem_key_ok(call, "create"))
        return;
    if (!rq->first) {
        kp_call_fail(call, C(INVALID), "field 'first': required");
        return;
    }
    if (rq->frequency <= KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_UNSPECIFIED ||
        rq->frequency > KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_MONTHLY_WEEKDAY) {
        kp_call_fail(call, C(INVALID),
                     "field 'frequency': required, one of the SeriesFrequency "
                     "values");
        return;
    }
    if (rq->count < 2 || rq->count > 60) {
        kp_call_fail(call, C(INVALID), "field 'count': 2..60");
        return;
    }
    const Kumppani__V1__CreateEventRequest *f = rq->first;
    if (!evt_create_fields_ok(t, f) ||
        !evt_times_ok(call, t->now_ms / 1000, f->start_unix, f->end_unix, f->signup_deadline_unix))
        return;
    if (kp_call_idem_required(call, "create"))
        return;
    Kumppani__V1__SeriesReply r = KUMPPANI__V1__SERIES_REPLY__INIT;
    int rc = s_series_alloc(t, &r, rq->count);
    if (!rc)
        rc = kp_tx_next_id(t, "series", &r.series_id);
    s_series_t sr = {f, &r, r.series_id, rq->frequency, rq->publish, INT64_MIN};
    /* Monthly by day skips months without the day; at most 2 * count months are tried. */
    for (unsigned k = 0; !rc && r.n_events < rq->count && k < 2 * rq->count; k++) {
        int64_t start = s_occurrence(f->start_unix, rq->frequency, k);
        if (start != 0)
            rc = s_series_add(t, &sr, start, (uint32_t)r.n_events + 1);
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("series.created", "series=%llu events=%zu", (unsigned long long)r.series_id,
                r.n_events);
    kp_call_ok(call, &r.base);
}

static bool
s_has_field(const Kumppani__V1__UpdateEventRequest *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_fields; i++)
        if (strcmp(rq->fields[i], name) == 0)
            return true;
    return false;
}

/* The names an update takes, each with the fields it changes: fields of its values (a
 * CreateEventRequest) and of the event, under the same names. */
static const struct {
    const char *name;
    const char *fields[2];
} s_updatable[] = {
    {"title", {"title"}},
    {"place", {"place"}},
    {"online_url", {"online_url"}},
    {"theme", {"theme"}},
    {"description", {"description_text"}},
    {"language", {"language"}},
    {"capacity", {"capacity"}},
    {"municipality_code", {"municipality_code"}},
    {"organiser", {"organiser_organisation_id", "organiser_municipality_code"}},
    {"offer_window_minutes", {"offer_window_minutes"}},
    {"role_rules", {"role_rules"}},
    {"convener", {"convener_person_id"}},
    {"accessibility", {"accessibility_text"}},
};
#define UPDATABLE_N (sizeof s_updatable / sizeof *s_updatable)

/* The names in rq->fields are all known. Answers the call and returns false if not. */
static bool
s_update_names_ok(kp_call_t *call, const Kumppani__V1__UpdateEventRequest *rq)
{
    const Kumppani__V1__CreateEventRequest *v = rq->values;
    if (!v || rq->n_fields == 0)
        return kp_check_fail(call, "fields 'values' and 'fields': required");
    for (size_t i = 0; i < rq->n_fields; i++) {
        bool known = false;
        for (size_t j = 0; j < UPDATABLE_N; j++)
            known = known || strcmp(rq->fields[i], s_updatable[j].name) == 0;
        if (!known) {
            char names[256];
            size_t o = 0;
            for (size_t j = 0; j < UPDATABLE_N; j++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", j ? ", " : "",
                                      s_updatable[j].name);
            kp_call_fail(call, C(INVALID),
                         "field 'fields': unknown name (%s; times change by reschedule)", names);
            return false;
        }
    }
    return true;
}

/* Takes into ev the fields rq names from its values (strings and arrays borrowed): ev's own
 * values go into a request, the named fields over them, and the request back into ev. */
static void
s_update_apply(evt_event_t *ev, const Kumppani__V1__UpdateEventRequest *rq)
{
    const ProtobufCMessageDescriptor *d = &kumppani__v1__create_event_request__descriptor;
    Kumppani__V1__CreateEventRequest cur = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    kp_pbcopy_shared(&cur.base, &ev->base);
    for (size_t i = 0; i < UPDATABLE_N; i++) {
        if (!s_has_field(rq, s_updatable[i].name))
            continue;
        for (size_t j = 0; j < 2 && s_updatable[i].fields[j]; j++) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(d, s_updatable[i].fields[j]);
            assert(f); /* the table names fields of the request */
            kp_pbcopy_field(&cur.base, &rq->values->base, f);
        }
    }
    kp_pbcopy_shared(&ev->base, &cur.base);
    if (s_has_field(rq, "language") && !ev->language[0])
        ev->language = (char *)"fi";
}

/* A waitlisted group larger than a new capacity or role cap (evt_cap_for): it could never get
 * in and would wait for ever, as the sign-up rules refuse such a group at the door. */
typedef struct {
    uint32_t capacity;
    Kumppani__V1__RoleRule *const *rules;
    size_t n_rules;
    evt_signup_t *found;
} too_big_t;

static int
s_too_big(void *arg, evt_signup_t *s, int state)
{
    (void)state;
    too_big_t *b = arg;
    if (evt_places(s) <= evt_cap_for(b->capacity, b->rules, b->n_rules, s->role))
        return 0;
    b->found = s;
    return 1;
}

/* True when every sign-up waiting for event ev fits an event of this capacity and these role
 * rules; otherwise answers CODE_CONFLICT naming the field ('capacity' or 'role_rules') and
 * the first such sign-up (or the store error). */
static bool
s_waiting_fit(kp_tx_t *t, const evt_event_t *ev, uint32_t capacity,
              Kumppani__V1__RoleRule *const *rules, size_t n_rules)
{
    too_big_t b = {.capacity = capacity, .rules = rules, .n_rules = n_rules};
    int rc = ev->waitlisted_n
                 ? evt_signup_records(t, ev->id, 0, UINT32_MAX, 1u << SS(WAITLISTED), s_too_big, &b)
                 : 0;
    if (rc < 0) {
        kp_call_fail_err(t->call, rc);
        return false;
    }
    if (!b.found)
        return true;
    uint32_t places = evt_places(b.found);
    char role[48];
    if (capacity && places > capacity)
        kp_call_fail(t->call, C(CONFLICT),
                     "field 'capacity': sign-up %llu waits as a group of %u, which would never "
                     "get in; cancel it first (telling them why), or keep the capacity at %u or "
                     "more",
                     (unsigned long long)b.found->id, places, places);
    else
        kp_call_fail(t->call, C(CONFLICT),
                     "field 'role_rules': sign-up %llu waits as a group of %u of role %s, which "
                     "the new rules would never let in; cancel it first (telling them why), or "
                     "let the role have %u places or more",
                     (unsigned long long)b.found->id, places, evt_role_name(b.found->role, role),
                     places);
    return false;
}

/* Checks the update rq (names checked) of event ev and, if apply, applies it: the fields
 * named, the EventUpdated event, a larger capacity filled from the waitlist. Answers the call
 * and returns false on a refusal or a store error; without apply it writes nothing. */
static bool
s_update_one(kp_tx_t *t, evt_event_t *ev, const Kumppani__V1__UpdateEventRequest *rq, bool apply)
{
    kp_call_t *call = t->call;
    const Kumppani__V1__CreateEventRequest *v = rq->values;
    if (ev->state == ST(CANCELLED) || ev->state == ST(HELD)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; it can no longer be changed",
                     evt_state_name(ev->state));
        return false;
    }
    bool cap = s_has_field(rq, "capacity"), rules = s_has_field(rq, "role_rules");
    uint32_t capacity = cap ? v->capacity : ev->capacity;
    if ((s_has_field(rq, "title") && !kp_check_text(call, "title", v->title, 1, 200)) ||
        (s_has_field(rq, "place") && !kp_check_text(call, "place", v->place, 0, 300)) ||
        (s_has_field(rq, "online_url") && !evt_url_ok(call, "online_url", v->online_url, false)) ||
        (s_has_field(rq, "theme") && !kp_check_text(call, "theme", v->theme, 0, 100)) ||
        (s_has_field(rq, "description") &&
         !kp_check_text(call, "description_text", v->description_text, 0, 4000)) ||
        (s_has_field(rq, "accessibility") &&
         !kp_check_text(call, "accessibility_text", v->accessibility_text, 0, 1000)) ||
        (s_has_field(rq, "language") && !kp_check_language(call, "language", v->language)) ||
        (cap && !evt_capacity_ok(call, v->capacity)) ||
        (s_has_field(rq, "municipality_code") &&
         !evt_municipality_ok(t, "municipality_code", v->municipality_code)) ||
        (s_has_field(rq, "organiser") &&
         !evt_organiser_ok(t, v->organiser_organisation_id, v->organiser_municipality_code)) ||
        (s_has_field(rq, "offer_window_minutes") &&
         !evt_offer_window_ok(call, v->offer_window_minutes)) ||
        (s_has_field(rq, "convener") && !evt_convener_ok(call, ev->kind, v->convener_person_id)) ||
        ((cap || rules) &&
         !evt_role_rules_ok(call, capacity, rules ? v->role_rules : ev->role_rules,
                            rules ? v->n_role_rules : ev->n_role_rules)))
        return false;
    if (cap && capacity && capacity < ev->confirmed_n + ev->offered_n) {
        kp_call_fail(call, C(CONFLICT),
                     "field 'capacity': below the places already confirmed or offered");
        return false;
    }
    if ((cap || rules) && !s_waiting_fit(t, ev, capacity, rules ? v->role_rules : ev->role_rules,
                                         rules ? v->n_role_rules : ev->n_role_rules))
        return false;
    if (!apply)
        return true;
    s_update_apply(ev, rq);
    ev->updated_ms = t->now_ms;
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = kp_tx_emit(t, "EventUpdated", &r.base)) ||
        (EVT_OPEN(ev) && (rc = evt_fill(t, ev))) || (rc = evt_event_put(t, ev))) {
        kp_call_fail_err(call, rc);
        return false;
    }
    kp_log_info("event.updated", "event_id=%llu fields=%zu", (unsigned long long)ev->id,
                rq->n_fields);
    return true;
}

void
evt_h_event_update(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__UpdateEventRequest *rq = kp_tx_open(t, call, svc);
    if (!s_update_names_ok(call, rq))
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev || !s_update_one(t, ev, rq, true))
        return;
    s_reply_event(call, ev);
}

void
evt_h_event_publish(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev = evt_open_event(t, call, svc);
    if (!ev)
        return;
    if (EVT_OPEN(ev)) {
        s_reply_event(call, ev); /* publishing twice changes nothing */
        return;
    }
    if (ev->state != ST(DRAFT)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; only a draft can be published",
                     evt_state_name(ev->state));
        return;
    }
    if (ev->start_unix <= t->now_ms / 1000) {
        kp_call_fail(call, C(CONFLICT), "event has already started");
        return;
    }
    ev->state = ST(PUBLISHED);
    s_save_answer(t, ev, "EventPublished", "event.published");
}

/* Emits an EventChanged naming every live sign-up. */
static int
s_emit_changed(kp_tx_t *t, const char *type, evt_event_t *ev, int64_t prev_start, int64_t prev_end,
               const char *reason)
{
    Kumppani__V1__EventChanged ch = KUMPPANI__V1__EVENT_CHANGED__INIT;
    ch.event = ev;
    ch.previous_start_unix = prev_start;
    ch.previous_end_unix = prev_end;
    ch.reason_text = (char *)reason;
    int rc = evt_live_signups(t, ev->id, &ch.signup_ids, &ch.n_signup_ids);
    return rc ? rc : kp_tx_emit(t, type, &ch.base);
}

/* Checks a new time for ev and, if apply and it differs, applies it: state RESCHEDULED (a
 * draft stays a draft), sequence + 1, EventRescheduled naming every live sign-up. *changed
 * tells whether the time differs. Answers the call and returns false on a refusal or a store
 * error; without apply it writes nothing. */
static bool
s_reschedule_one(kp_tx_t *t, evt_event_t *ev, int64_t start, int64_t end, int64_t deadline,
                 const char *reason, bool apply, bool *changed)
{
    kp_call_t *call = t->call;
    *changed = false;
    if (ev->state != ST(DRAFT) && !EVT_OPEN(ev)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; it cannot be rescheduled",
                     evt_state_name(ev->state));
        return false;
    }
    if (!evt_times_ok(call, t->now_ms / 1000, start, end, deadline))
        return false;
    if (start == ev->start_unix && end == ev->end_unix && deadline == ev->signup_deadline_unix)
        return true; /* the same time again changes nothing */
    *changed = true;
    if (!apply)
        return true;
    int64_t prev_start = ev->start_unix, prev_end = ev->end_unix;
    ev->previous_start_unix = prev_start;
    ev->start_unix = start;
    ev->end_unix = end;
    ev->signup_deadline_unix = deadline;
    ev->sequence++;
    if (ev->state != ST(DRAFT))
        ev->state = ST(RESCHEDULED);
    ev->updated_ms = t->now_ms;
    int rc;
    if ((rc = evt_event_put(t, ev)) ||
        (rc = s_emit_changed(t, "EventRescheduled", ev, prev_start, prev_end, reason))) {
        kp_call_fail_err(call, rc);
        return false;
    }
    kp_log_info("event.rescheduled", "event_id=%llu sequence=%u", (unsigned long long)ev->id,
                ev->sequence);
    return true;
}

void
evt_h_event_reschedule(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__RescheduleEventRequest *rq = kp_tx_open(t, call, svc);
    if (!kp_check_text(call, "reason_text", rq->reason_text, 0, 1000))
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    /* A deadline not given keeps its lead before the start (a form that only moves the time
     * must not reopen sign-ups until the start), unless that moment has passed. */
    int64_t deadline = rq->signup_deadline_unix;
    if (!deadline && !rq->no_deadline && ev->signup_deadline_unix) {
        int64_t lead = ev->start_unix - ev->signup_deadline_unix;
        deadline = rq->start_unix - lead > t->now_ms / 1000 ? rq->start_unix - lead : 0;
    }
    bool changed;
    if (!s_reschedule_one(t, ev, rq->start_unix, rq->end_unix, deadline, rq->reason_text, true,
                          &changed))
        return;
    s_reply_event(call, ev);
}

void
evt_h_event_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__CancelEventRequest *rq = kp_tx_open(t, call, svc);
    if (!kp_check_text(call, "reason_text", rq->reason_text, 1, 1000))
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    if (ev->state == ST(CANCELLED)) {
        s_reply_event(call, ev); /* cancelling twice changes nothing */
        return;
    }
    if (ev->state == ST(HELD)) {
        kp_call_fail(call, C(CONFLICT), "event is held; it can no longer be cancelled");
        return;
    }
    ev->cancelled_as_draft = ev->state == ST(DRAFT);
    ev->state = ST(CANCELLED);
    ev->cancel_reason_text = rq->reason_text;
    ev->sequence++; /* STATUS changes: calendars replace the event only for a higher one */
    ev->updated_ms = t->now_ms;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = s_emit_changed(t, "EventCancelled", ev, ev->start_unix,
                                                            ev->end_unix, rq->reason_text))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.cancelled", "event_id=%llu", (unsigned long long)ev->id);
    s_reply_event(call, ev);
}

void
evt_h_event_held(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__HeldEventRequest *rq = kp_tx_open(t, call, svc);
    if (!evt_url_ok(call, "memo_url", rq->memo_url, false) ||
        !evt_url_ok(call, "materials_url", rq->materials_url, false))
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    if (!EVT_OPEN(ev) && ev->state != ST(HELD)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; only a published event can be held",
                     evt_state_name(ev->state));
        return;
    }
    if (ev->start_unix > t->now_ms / 1000) {
        kp_call_fail(call, C(CONFLICT), "event has not started yet");
        return;
    }
    /* A link left unset keeps the one given before: marking the materials later does not
     * erase the memo. */
    ev->state = ST(HELD);
    if (rq->memo_url[0])
        ev->memo_url = rq->memo_url;
    if (rq->materials_url[0])
        ev->materials_url = rq->materials_url;
    s_save_answer(t, ev, "EventHeld", "event.held");
}

void
evt_h_event_get(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev = evt_open_event(t, call, svc);
    if (ev)
        s_reply_event(call, ev);
}

/* evt_keep_fn: an occurrence of the series *arg (a uint64_t). */
static bool
s_of_series(const void *arg, const evt_event_t *ev)
{
    return ev->series_id == *(const uint64_t *)arg;
}

void
evt_h_event_list(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__ListEventsRequest *rq = kp_tx_open(t, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 100, 500);
    if (!limit)
        return;
    /* A series filter scans further; bounded so that one call stays short. */
    unsigned scan = rq->series_id ? 20000 : limit;
    evt_where_t w = {
        .keep = rq->series_id ? s_of_series : NULL, .arg = &rq->series_id, .cap = limit};
    int rc = evt_events_where(t, rq->after_id, scan, &w);
    Kumppani__V1__ListEventsReply r = KUMPPANI__V1__LIST_EVENTS_REPLY__INIT;
    r.events = w.v;
    r.n_events = w.n;
    kp_tx_answer(t, rc, &r.base);
}

/* ---- changing and extending a series ----------------------------------------------------- */

#define SERIES_MAX 2000 /* occurrences one call looks at */

static int
s_index_cmp(const void *a, const void *b)
{
    const evt_event_t *x = *(evt_event_t *const *)a, *y = *(evt_event_t *const *)b;
    return x->series_index < y->series_index ? -1 : x->series_index > y->series_index;
}

/* The occurrences of a series, in index order (*n of them); NULL after answering the call
 * (NOT_FOUND for a series without any, CONFLICT for one of SERIES_MAX or more, or the store
 * error). */
static evt_event_t **
s_load_series(kp_tx_t *t, uint64_t series_id, size_t *n)
{
    evt_where_t w = {.keep = s_of_series, .arg = &series_id, .cap = SERIES_MAX};
    int rc = evt_events_where(t, 0, 200000, &w);
    if (rc) {
        kp_call_fail_err(t->call, rc);
        return NULL;
    }
    if (w.n == SERIES_MAX) {
        kp_call_fail(t->call, C(CONFLICT), "series %llu has more than %d occurrences",
                     (unsigned long long)series_id, SERIES_MAX);
        return NULL;
    }
    if (w.n == 0) {
        kp_call_fail(t->call, C(NOT_FOUND), "series %llu not found", (unsigned long long)series_id);
        return NULL;
    }
    qsort(w.v, w.n, sizeof *w.v, s_index_cmp);
    *n = w.n;
    return w.v;
}

/* The Helsinki day number of an instant (kp_time), and its wall-clock time in *tm. */
static int
s_local_day(int64_t t, struct tm *tm, int64_t *days)
{
    if (kp_time_local(t, tm))
        return -1;
    *days = s_days_from_civil(tm->tm_year + 1900, (unsigned)tm->tm_mon + 1, (unsigned)tm->tm_mday);
    return 0;
}

void
evt_h_series_update(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__UpdateSeriesRequest *rq = kp_tx_open(t, call, svc);
    if (rq->series_id == 0) {
        kp_call_fail(call, C(INVALID), "field 'series_id': required");
        return;
    }
    if (rq->n_fields == 0 && rq->start_unix == 0) {
        kp_call_fail(call, C(INVALID), "fields 'fields' or 'start_unix': give a change");
        return;
    }
    Kumppani__V1__UpdateEventRequest up = KUMPPANI__V1__UPDATE_EVENT_REQUEST__INIT;
    up.values = rq->values;
    up.fields = rq->fields;
    up.n_fields = rq->n_fields;
    if ((rq->n_fields && !s_update_names_ok(call, &up)) ||
        !kp_check_text(call, "reason_text", rq->reason_text, 0, 1000))
        return;
    size_t n;
    evt_event_t **occ = s_load_series(t, rq->series_id, &n);
    if (!occ)
        return;
    uint32_t from = rq->from_index ? rq->from_index : 1;
    evt_event_t *first = NULL;
    for (size_t i = 0; i < n && !first; i++)
        if (occ[i]->series_index == from)
            first = occ[i];
    if (!first) {
        kp_call_fail(call, C(NOT_FOUND), "field 'from_index': series %llu has no occurrence %u",
                     (unsigned long long)rq->series_id, from);
        return;
    }
    /* The new times: the day shift and the wall-clock time of the new start. */
    struct tm new_tm, tm;
    int64_t shift = 0, dur = rq->end_unix - rq->start_unix, d0, d1;
    if (rq->start_unix) {
        if (s_local_day(rq->start_unix, &new_tm, &d1) || s_local_day(first->start_unix, &tm, &d0)) {
            kp_call_fail(call, C(INVALID), "field 'start_unix': not a time");
            return;
        }
        shift = d1 - d0;
    }
    int64_t *starts = kp_arena_alloc(t->arena, n * sizeof *starts);
    evt_event_t **done = kp_arena_alloc(t->arena, n * sizeof *done);
    if (!starts || !done) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    /* Two passes: every occurrence checked, then every one changed. */
    size_t done_n = 0;
    for (int apply = 0; apply < 2; apply++) {
        done_n = 0;
        for (size_t i = 0; i < n; i++) {
            evt_event_t *ev = occ[i];
            if (ev->series_index < from || ev->state == ST(CANCELLED) || ev->state == ST(HELD) ||
                ev->start_unix <= t->now_ms / 1000)
                continue;
            if (rq->n_fields) {
                up.event_id = ev->id;
                if (!s_update_one(t, ev, &up, apply))
                    return;
            }
            if (rq->start_unix) {
                int64_t days;
                if (!apply) {
                    if (s_local_day(ev->start_unix, &tm, &days)) {
                        kp_call_fail(call, C(INVALID), "field 'start_unix': not a time");
                        return;
                    }
                    starts[i] = ev == first ? rq->start_unix : s_at_local(days + shift, &new_tm);
                }
                int64_t lead =
                    ev->signup_deadline_unix ? ev->start_unix - ev->signup_deadline_unix : -1;
                bool changed;
                if (!s_reschedule_one(t, ev, starts[i], starts[i] + dur,
                                      lead >= 0 ? starts[i] - lead : 0, rq->reason_text, apply,
                                      &changed))
                    return;
            }
            done[done_n++] = ev;
        }
    }
    if (done_n == 0) {
        kp_call_fail(call, C(CONFLICT),
                     "no occurrence from %u on can be changed (started, cancelled or held)", from);
        return;
    }
    kp_log_info("series.updated", "series=%llu from=%u events=%zu fields=%zu times=%d",
                (unsigned long long)rq->series_id, from, done_n, rq->n_fields, rq->start_unix != 0);
    Kumppani__V1__SeriesReply r = KUMPPANI__V1__SERIES_REPLY__INIT;
    r.series_id = rq->series_id;
    r.events = done;
    r.n_events = done_n;
    kp_call_ok(call, &r.base);
}

void
evt_h_series_extend(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__ExtendSeriesRequest *rq = kp_tx_open(t, call, svc);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for extend");
        return;
    }
    if (rq->series_id == 0) {
        kp_call_fail(call, C(INVALID), "field 'series_id': required");
        return;
    }
    if (rq->count < 1 || rq->count > 60) {
        kp_call_fail(call, C(INVALID), "field 'count': 1..60");
        return;
    }
    if (rq->frequency < 0 ||
        rq->frequency > KUMPPANI__V1__SERIES_FREQUENCY__SERIES_FREQUENCY_MONTHLY_WEEKDAY) {
        kp_call_fail(call, C(INVALID), "field 'frequency': one of the SeriesFrequency values");
        return;
    }
    if (kp_call_idem(call, key, klen))
        return;
    size_t n;
    evt_event_t **occ = s_load_series(t, rq->series_id, &n);
    if (!occ)
        return;
    const evt_event_t *last = occ[n - 1];
    int freq = rq->frequency ? (int)rq->frequency : (int)last->series_frequency;
    if (!freq) {
        kp_call_fail(call, C(INVALID),
                     "field 'frequency': required (the series was created before its frequency "
                     "was kept)");
        return;
    }
    /* The template: the last occurrence's fields, every one a CreateEventRequest has (its
     * start gives the length and the sign-up lead). */
    Kumppani__V1__CreateEventRequest f = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    kp_pbcopy_shared(&f.base, &last->base);
    Kumppani__V1__SeriesReply r = KUMPPANI__V1__SERIES_REPLY__INIT;
    r.series_id = rq->series_id;
    int rc = s_series_alloc(t, &r, rq->count);
    int64_t now_s = t->now_ms / 1000;
    s_series_t sr = {&f, &r, rq->series_id, freq, rq->publish, now_s};
    for (unsigned k = 1; !rc && r.n_events < rq->count && k <= 4 * rq->count + 24; k++) {
        int64_t start = s_occurrence(last->start_unix, freq, k);
        if (start != 0 && start > now_s)
            rc = s_series_add(t, &sr, start, last->series_index + (uint32_t)r.n_events + 1);
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("series.extended", "series=%llu events=%zu", (unsigned long long)rq->series_id,
                r.n_events);
    kp_call_ok(call, &r.base);
}
