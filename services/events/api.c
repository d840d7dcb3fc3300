/*  events/api.c: the event handlers of the events service — create, update, the lifecycle
 *  (publish, reschedule, cancel, held), recurring series, get and list — and the method table.
 *
 *  Each handler validates everything before it writes anything, names the field and the rule
 *  in its error, and never puts a submitted value into an error or a log line (names, e-mails
 *  and phone numbers are personal data; ids and codes are not). Writes happen in the turn
 *  together with the domain event that describes them (evt_emit). */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"

#include <string.h>

#define C(x) EVT_C(x)
#define MAX_DURATION_S (14 * 24 * 3600)
#define ST(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x

/* ---- field rules ------------------------------------------------------------------------- */

bool
evt_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max)
{
    size_t n = kp_text_chars(v);
    if (n < min) {
        kp_call_fail(call, C(INVALID), "field '%s': required", field);
        return false;
    }
    if (n > max) {
        kp_call_fail(call, C(INVALID), "field '%s': at most %zu characters", field, max);
        return false;
    }
    return true;
}

/* An identifier of an external system: 1..64 of [a-z0-9._-]. */
bool
evt_source_ok(kp_call_t *call, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64) {
        kp_call_fail(call, C(INVALID), "field 'source': 1..64 characters required");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            kp_call_fail(call, C(INVALID), "field 'source': only a-z, 0-9, '.', '_' and '-'");
            return false;
        }
    }
    return true;
}

bool
evt_language_ok(kp_call_t *call, const char *v)
{
    if (!*v || strcmp(v, "fi") == 0 || strcmp(v, "sv") == 0 || strcmp(v, "en") == 0)
        return true;
    kp_call_fail(call, C(INVALID), "field 'language': one of fi, sv, en");
    return false;
}

/* Three digits; when the service follows the registry, also a municipality it knows. */
bool
evt_municipality_ok(kp_call_t *call, kp_tx_t *t, const char *field, const char *v)
{
    if (!(strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' &&
          v[2] >= '0' && v[2] <= '9')) {
        kp_call_fail(call, C(INVALID), "field '%s': three digits (e.g. 743)", field);
        return false;
    }
    if (EVT_SVC(t) && EVT_SVC(t)->registry) {
        bool found = false;
        int rc = evt_reg_muni_get(t, v, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found) {
            kp_call_fail(call, C(INVALID), "field '%s': not a municipality of the registry", field);
            return false;
        }
    }
    return true;
}

static bool
s_url(kp_call_t *call, const char *field, const char *v, bool required)
{
    if (!evt_text(call, field, v, required ? 1 : 0, 500))
        return false;
    if (v[0] && strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        kp_call_fail(call, C(INVALID), "field '%s': must start with https:// or http://", field);
        return false;
    }
    for (const char *p = v; *p; p++)
        if (*p == ' ') {
            kp_call_fail(call, C(INVALID), "field '%s': no spaces in a link", field);
            return false;
        }
    return true;
}

const char *
evt_state_name(int state)
{
    switch (state) {
    case ST(DRAFT):
        return "draft";
    case ST(PUBLISHED):
        return "published";
    case ST(CANCELLED):
        return "cancelled";
    case ST(HELD):
        return "held";
    case ST(RESCHEDULED):
        return "rescheduled";
    default:
        return "unknown";
    }
}

/* The loaders answer "<what> <id> not found" (the id, not kp_rec_load's field name: clients
 * and tests read the id back from the message). */
static void *
s_load(kp_tx_t *t, uint64_t id, bool found, int rc, void *rec, const char *what)
{
    if (rc)
        kp_call_fail_err(t->call, rc);
    else if (!found)
        kp_call_fail(t->call, C(NOT_FOUND), "%s %llu not found", what, (unsigned long long)id);
    return rc || !found ? NULL : rec;
}

evt_event_t *
evt_load_event(kp_tx_t *t, uint64_t id)
{
    evt_event_t *ev = NULL;
    bool found = false;
    if (id == 0) {
        kp_call_fail(t->call, C(INVALID), "field 'event_id': required");
        return NULL;
    }
    int rc = evt_event_get(t, id, &ev, &found);
    return s_load(t, id, found, rc, ev, "event");
}

evt_signup_t *
evt_load_signup(kp_tx_t *t, uint64_t id)
{
    evt_signup_t *s = NULL;
    bool found = false;
    int rc = evt_signup_get(t, id, &s, &found);
    return s_load(t, id, found, rc, s, "sign-up");
}

static void
s_reply_event(kp_call_t *call, evt_event_t *ev)
{
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    kp_call_ok(call, &r.base);
}

/* Times: start in the future, end after it within 14 days, the deadline (if any) in the
 * future and not after the start. */
static bool
s_times_ok(kp_call_t *call, int64_t now_s, int64_t start, int64_t end, int64_t deadline)
{
    if (start <= now_s) {
        kp_call_fail(call, C(INVALID), "field 'start_unix': must be in the future");
        return false;
    }
    if (end <= start || end - start > MAX_DURATION_S) {
        kp_call_fail(call, C(INVALID), "field 'end_unix': after the start, within 14 days");
        return false;
    }
    if (deadline && (deadline <= now_s || deadline > start)) {
        kp_call_fail(call, C(INVALID),
                     "field 'signup_deadline_unix': in the future and not after the start");
        return false;
    }
    return true;
}

static bool
s_capacity_ok(kp_call_t *call, uint32_t capacity)
{
    if (capacity > 100000) {
        kp_call_fail(call, C(INVALID), "field 'capacity': at most 100000 (0: no limit)");
        return false;
    }
    return true;
}

static bool
s_role_rules_ok(kp_call_t *call, uint32_t capacity, Kumppani__V1__RoleRule **rules, size_t n)
{
    if (n > 6) {
        kp_call_fail(call, C(INVALID), "field 'role_rules': at most one rule per role");
        return false;
    }
    uint64_t reserved = 0;
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        const Kumppani__V1__RoleRule *r = rules[i];
        if (r->role <= KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_UNSPECIFIED ||
            r->role > KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_EXPERIENCE_EXPERT) {
            kp_call_fail(call, C(INVALID),
                         "field 'role_rules.role': one of the ParticipantRole "
                         "values");
            return false;
        }
        if (seen & (1u << r->role)) {
            kp_call_fail(call, C(INVALID), "field 'role_rules': at most one rule per role");
            return false;
        }
        seen |= 1u << r->role;
        if (r->max_percent > 100) {
            kp_call_fail(call, C(INVALID), "field 'role_rules.max_percent': 0..100");
            return false;
        }
        if ((r->max_percent || r->reserved_n) && capacity == 0) {
            kp_call_fail(call, C(INVALID),
                         "field 'role_rules': percentages and reservations "
                         "need a capacity");
            return false;
        }
        if (r->max_n && r->reserved_n > r->max_n) {
            kp_call_fail(call, C(INVALID), "field 'role_rules.reserved_n': not above max_n");
            return false;
        }
        if (r->max_n > 100000) {
            kp_call_fail(call, C(INVALID), "field 'role_rules.max_n': at most 100000");
            return false;
        }
        reserved += r->reserved_n;
    }
    if (capacity && reserved > capacity) {
        kp_call_fail(call, C(INVALID),
                     "field 'role_rules.reserved_n': reservations exceed the "
                     "capacity");
        return false;
    }
    return true;
}

static bool
s_organiser_ok(kp_call_t *call, kp_tx_t *t, uint64_t org, const char *muni)
{
    if (org && muni[0]) {
        kp_call_fail(call, C(INVALID),
                     "field 'organiser': an organisation or a municipality, "
                     "not both");
        return false;
    }
    if (muni[0])
        return evt_municipality_ok(call, t, "organiser_municipality_code", muni);
    if (org && EVT_SVC(t)->registry) {
        int status = 0;
        bool found = false;
        int rc = evt_reg_org_get(t, org, &status, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found) {
            kp_call_fail(call, C(INVALID),
                         "field 'organiser_organisation_id': not an organisation of the registry");
            return false;
        }
        if (status != 1 /* ORG_STATUS_ACTIVE */) {
            kp_call_fail(call, C(INVALID),
                         "field 'organiser_organisation_id': the organisation is dissolved");
            return false;
        }
    }
    return true;
}

static bool
s_offer_window_ok(kp_call_t *call, uint32_t m)
{
    if (m && (m < 5 || m > 10080)) {
        kp_call_fail(call, C(INVALID),
                     "field 'offer_window_minutes': 0 (automatic promotion) or 5..10080");
        return false;
    }
    return true;
}

/* Every rule of a CreateEventRequest but the times. */
static bool
s_create_fields_ok(kp_call_t *call, kp_tx_t *t, const Kumppani__V1__CreateEventRequest *rq)
{
    if (rq->kind <= KUMPPANI__V1__EVENT_KIND__KIND_UNSPECIFIED ||
        rq->kind > KUMPPANI__V1__EVENT_KIND__KIND_OTHER) {
        kp_call_fail(call, C(INVALID), "field 'kind': required, one of the EventKind values");
        return false;
    }
    return evt_text(call, "title", rq->title, 1, 200) &&
           evt_municipality_ok(call, t, "municipality_code", rq->municipality_code) &&
           evt_text(call, "place", rq->place, 0, 300) &&
           s_url(call, "online_url", rq->online_url, false) &&
           evt_language_ok(call, rq->language) && evt_text(call, "theme", rq->theme, 0, 100) &&
           evt_text(call, "description_text", rq->description_text, 0, 4000) &&
           s_capacity_ok(call, rq->capacity) && s_offer_window_ok(call, rq->offer_window_minutes) &&
           s_role_rules_ok(call, rq->capacity, rq->role_rules, rq->n_role_rules) &&
           s_organiser_ok(call, t, rq->organiser_organisation_id, rq->organiser_municipality_code);
}

/* Fills a new event from a request (strings borrowed from rq). */
static void
s_event_from(evt_event_t *ev, const Kumppani__V1__CreateEventRequest *rq, int64_t now_ms)
{
    ev->kind = rq->kind;
    ev->title = rq->title;
    ev->municipality_code = rq->municipality_code;
    ev->start_unix = rq->start_unix;
    ev->end_unix = rq->end_unix;
    ev->capacity = rq->capacity;
    ev->state = ST(DRAFT);
    ev->place = rq->place;
    ev->online_url = rq->online_url;
    ev->language = (char *)(rq->language[0] ? rq->language : "fi");
    ev->signup_deadline_unix = rq->signup_deadline_unix;
    ev->theme = rq->theme;
    ev->organiser_organisation_id = rq->organiser_organisation_id;
    ev->organiser_municipality_code = rq->organiser_municipality_code;
    ev->description_text = rq->description_text;
    ev->offer_window_minutes = rq->offer_window_minutes;
    ev->role_rules = rq->role_rules;
    ev->n_role_rules = rq->n_role_rules;
    ev->created_ms = ev->updated_ms = now_ms;
}

/* ---- events ------------------------------------------------------------------------------ */

static void
s_event_create(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__CreateEventRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for create");
        return;
    }
    if (!s_create_fields_ok(call, t, rq) ||
        !s_times_ok(call, t->now_ms / 1000, rq->start_unix, rq->end_unix, rq->signup_deadline_unix))
        return;
    if (kp_call_idem(call, key, klen))
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
    kp_log_info("event.created", "event=%llu kind=%d", (unsigned long long)ev.id, ev.kind);
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

static void
s_series_create(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__CreateSeriesRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for create");
        return;
    }
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
    if (!s_create_fields_ok(call, t, f) ||
        !s_times_ok(call, t->now_ms / 1000, f->start_unix, f->end_unix, f->signup_deadline_unix))
        return;
    if (kp_call_idem(call, key, klen))
        return;
    int64_t dur = f->end_unix - f->start_unix;
    int64_t lead = f->signup_deadline_unix ? f->start_unix - f->signup_deadline_unix : -1;
    Kumppani__V1__SeriesReply r = KUMPPANI__V1__SERIES_REPLY__INIT;
    r.events = kp_arena_alloc(t->arena, rq->count * sizeof *r.events);
    evt_event_t *evs = kp_arena_alloc(t->arena, rq->count * sizeof *evs);
    int rc = r.events && evs ? 0 : KP_ENOMEM;
    if (!rc)
        rc = kp_tx_next_id(t, "series", &r.series_id);
    /* Monthly by day skips months without the day; at most 2 * count months are tried. */
    for (unsigned k = 0, idx = 0; !rc && idx < rq->count && k < 2 * rq->count; k++) {
        int64_t start = s_occurrence(f->start_unix, rq->frequency, k);
        if (start == 0)
            continue;
        evt_event_t *ev = &evs[idx];
        kumppani__v1__event_info__init(ev);
        s_event_from(ev, f, t->now_ms);
        ev->start_unix = start;
        ev->end_unix = start + dur;
        ev->signup_deadline_unix = lead >= 0 ? start - lead : 0;
        ev->series_id = r.series_id;
        ev->series_index = ++idx;
        if (rq->publish)
            ev->state = ST(PUBLISHED);
        Kumppani__V1__EventReply er = KUMPPANI__V1__EVENT_REPLY__INIT;
        er.event = ev;
        if ((rc = kp_tx_next_id(t, "event", &ev->id)) || (rc = evt_event_put(t, ev)) ||
            (rc = kp_tx_emit(t, "EventCreated", &er.base)) ||
            (rq->publish && (rc = kp_tx_emit(t, "EventPublished", &er.base))))
            break;
        r.events[r.n_events++] = ev;
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

static const char *const s_update_fields[] = {
    "title",     "place",    "online_url",        "theme",     "description",
    "language",  "capacity", "municipality_code", "organiser", "offer_window_minutes",
    "role_rules"};

static void
s_event_update(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__UpdateEventRequest *rq = kp_call_body(call);
    const Kumppani__V1__CreateEventRequest *v = rq->values;
    if (!v || rq->n_fields == 0) {
        kp_call_fail(call, C(INVALID), "fields 'values' and 'fields': required");
        return;
    }
    for (size_t i = 0; i < rq->n_fields; i++) {
        bool known = false;
        for (size_t j = 0; j < sizeof s_update_fields / sizeof *s_update_fields; j++)
            known = known || strcmp(rq->fields[i], s_update_fields[j]) == 0;
        if (!known) {
            kp_call_fail(call, C(INVALID),
                         "field 'fields': unknown name (title, place, online_url, theme, "
                         "description, language, capacity, municipality_code, organiser, "
                         "offer_window_minutes, role_rules; times change by reschedule)");
            return;
        }
    }
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    if (ev->state == ST(CANCELLED) || ev->state == ST(HELD)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; it can no longer be changed",
                     evt_state_name(ev->state));
        return;
    }
    bool cap = s_has_field(rq, "capacity"), rules = s_has_field(rq, "role_rules");
    uint32_t capacity = cap ? v->capacity : ev->capacity;
    if ((s_has_field(rq, "title") && !evt_text(call, "title", v->title, 1, 200)) ||
        (s_has_field(rq, "place") && !evt_text(call, "place", v->place, 0, 300)) ||
        (s_has_field(rq, "online_url") && !s_url(call, "online_url", v->online_url, false)) ||
        (s_has_field(rq, "theme") && !evt_text(call, "theme", v->theme, 0, 100)) ||
        (s_has_field(rq, "description") &&
         !evt_text(call, "description_text", v->description_text, 0, 4000)) ||
        (s_has_field(rq, "language") && !evt_language_ok(call, v->language)) ||
        (cap && !s_capacity_ok(call, v->capacity)) ||
        (s_has_field(rq, "municipality_code") &&
         !evt_municipality_ok(call, t, "municipality_code", v->municipality_code)) ||
        (s_has_field(rq, "organiser") &&
         !s_organiser_ok(call, t, v->organiser_organisation_id, v->organiser_municipality_code)) ||
        (s_has_field(rq, "offer_window_minutes") &&
         !s_offer_window_ok(call, v->offer_window_minutes)) ||
        ((cap || rules) && !s_role_rules_ok(call, capacity, rules ? v->role_rules : ev->role_rules,
                                            rules ? v->n_role_rules : ev->n_role_rules)))
        return;
    if (cap && capacity && capacity < ev->confirmed_n + ev->offered_n) {
        kp_call_fail(call, C(CONFLICT),
                     "field 'capacity': below the places already confirmed or offered");
        return;
    }
    if (s_has_field(rq, "title"))
        ev->title = v->title;
    if (s_has_field(rq, "place"))
        ev->place = v->place;
    if (s_has_field(rq, "online_url"))
        ev->online_url = v->online_url;
    if (s_has_field(rq, "theme"))
        ev->theme = v->theme;
    if (s_has_field(rq, "description"))
        ev->description_text = v->description_text;
    if (s_has_field(rq, "language"))
        ev->language = (char *)(v->language[0] ? v->language : "fi");
    if (s_has_field(rq, "municipality_code"))
        ev->municipality_code = v->municipality_code;
    if (s_has_field(rq, "organiser")) {
        ev->organiser_organisation_id = v->organiser_organisation_id;
        ev->organiser_municipality_code = v->organiser_municipality_code;
    }
    if (s_has_field(rq, "offer_window_minutes"))
        ev->offer_window_minutes = v->offer_window_minutes;
    if (rules) {
        ev->role_rules = v->role_rules;
        ev->n_role_rules = v->n_role_rules;
    }
    ev->capacity = capacity;
    ev->updated_ms = t->now_ms;
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = kp_tx_emit(t, "EventUpdated", &r.base)) ||
        (EVT_OPEN(ev) && (rc = evt_fill(t, ev))) || (rc = evt_event_put(t, ev))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.updated", "event=%llu fields=%zu", (unsigned long long)ev->id, rq->n_fields);
    kp_call_ok(call, &r.base);
}

static void
s_event_publish(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    evt_event_t *ev = evt_load_event(t, rq->event_id);
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
    ev->updated_ms = t->now_ms;
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = kp_tx_emit(t, "EventPublished", &r.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.published", "event=%llu", (unsigned long long)ev->id);
    kp_call_ok(call, &r.base);
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

static void
s_event_reschedule(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__RescheduleEventRequest *rq = kp_call_body(call);
    if (!evt_text(call, "reason_text", rq->reason_text, 0, 1000))
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    if (ev->state != ST(DRAFT) && !EVT_OPEN(ev)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; it cannot be rescheduled",
                     evt_state_name(ev->state));
        return;
    }
    if (!s_times_ok(call, t->now_ms / 1000, rq->start_unix, rq->end_unix, rq->signup_deadline_unix))
        return;
    if (rq->start_unix == ev->start_unix && rq->end_unix == ev->end_unix &&
        rq->signup_deadline_unix == ev->signup_deadline_unix) {
        s_reply_event(call, ev); /* the same time again changes nothing */
        return;
    }
    int64_t prev_start = ev->start_unix, prev_end = ev->end_unix;
    ev->previous_start_unix = prev_start;
    ev->start_unix = rq->start_unix;
    ev->end_unix = rq->end_unix;
    ev->signup_deadline_unix = rq->signup_deadline_unix;
    ev->sequence++;
    if (ev->state != ST(DRAFT))
        ev->state = ST(RESCHEDULED);
    ev->updated_ms = t->now_ms;
    int rc;
    if ((rc = evt_event_put(t, ev)) ||
        (rc = s_emit_changed(t, "EventRescheduled", ev, prev_start, prev_end, rq->reason_text))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.rescheduled", "event=%llu sequence=%u", (unsigned long long)ev->id,
                ev->sequence);
    s_reply_event(call, ev);
}

static void
s_event_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__CancelEventRequest *rq = kp_call_body(call);
    if (!evt_text(call, "reason_text", rq->reason_text, 1, 1000))
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
    ev->state = ST(CANCELLED);
    ev->cancel_reason_text = rq->reason_text;
    ev->updated_ms = t->now_ms;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = s_emit_changed(t, "EventCancelled", ev, ev->start_unix,
                                                            ev->end_unix, rq->reason_text))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.cancelled", "event=%llu", (unsigned long long)ev->id);
    s_reply_event(call, ev);
}

static void
s_event_held(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__HeldEventRequest *rq = kp_call_body(call);
    if (!s_url(call, "memo_url", rq->memo_url, false) ||
        !s_url(call, "materials_url", rq->materials_url, false))
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
    ev->state = ST(HELD);
    ev->memo_url = rq->memo_url;
    ev->materials_url = rq->materials_url;
    ev->updated_ms = t->now_ms;
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc;
    if ((rc = evt_event_put(t, ev)) || (rc = kp_tx_emit(t, "EventHeld", &r.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.held", "event=%llu", (unsigned long long)ev->id);
    kp_call_ok(call, &r.base);
}

static void
s_event_get(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (ev)
        s_reply_event(call, ev);
}

typedef struct {
    evt_event_t **v;
    size_t n, limit;
    uint64_t series_id;
} event_acc_t;

static int
s_collect_event(void *arg, evt_event_t *ev)
{
    event_acc_t *acc = arg;
    if (acc->series_id && ev->series_id != acc->series_id)
        return 0;
    acc->v[acc->n++] = ev;
    return acc->n == acc->limit;
}

static void
s_event_list(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    kp_tx_of_call(t, call, svc);
    const Kumppani__V1__ListEventsRequest *rq = kp_call_body(call);
    unsigned limit = rq->limit == 0 ? 100 : rq->limit;
    if (limit > 500) {
        kp_call_fail(call, C(INVALID), "field 'limit': at most 500");
        return;
    }
    event_acc_t acc = {kp_arena_alloc(t->arena, limit * sizeof *acc.v), 0, limit, rq->series_id};
    /* A series filter scans further; bounded so that one call stays short. */
    unsigned scan = rq->series_id ? 20000 : limit;
    int rc = acc.v ? evt_events_each(t, rq->after_id, scan, s_collect_event, &acc) : KP_ENOMEM;
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__ListEventsReply r = KUMPPANI__V1__LIST_EVENTS_REPLY__INIT;
    r.events = acc.v;
    r.n_events = acc.n;
    kp_call_ok(call, &r.base);
}

#define READERS (KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE)
#define PUBLISHERS (KP_ROLE_ADMIN | KP_ROLE_PUBLISHER)
#define M(name, roles, msg, fn)                                                                    \
    {                                                                                              \
        name, roles, &kumppani__v1__##msg##__descriptor, fn                                        \
    }

const kp_method_t evt_methods[] = {
    M("events.event.create", KP_ROLE_ADMIN, create_event_request, s_event_create),
    M("events.event.update", KP_ROLE_ADMIN, update_event_request, s_event_update),
    M("events.event.publish", KP_ROLE_ADMIN, event_ref, s_event_publish),
    M("events.event.reschedule", KP_ROLE_ADMIN, reschedule_event_request, s_event_reschedule),
    M("events.event.cancel", KP_ROLE_ADMIN, cancel_event_request, s_event_cancel),
    M("events.event.held", KP_ROLE_ADMIN, held_event_request, s_event_held),
    M("events.event.get", READERS, event_ref, s_event_get),
    M("events.event.list", READERS, list_events_request, s_event_list),
    M("events.series.create", KP_ROLE_ADMIN, create_series_request, s_series_create),
    M(EVT_METHOD_SUBMIT, PUBLISHERS, submit_signup_request, evt_h_signup_submit),
    M("events.signup.cancel", PUBLISHERS, cancel_signup_request, evt_h_signup_cancel),
    /* A publisher may submit and cancel sign-ups, nothing else (DESIGN 7): a person leaves the
     * waitlist or declines an offer through it by cancelling; answering an offer goes
     * through the coordinator (admin). */
    M("events.signup.accept_offer", KP_ROLE_ADMIN, cancel_signup_request, evt_h_signup_accept),
    M("events.signup.decline_offer", KP_ROLE_ADMIN, cancel_signup_request, evt_h_signup_decline),
    M("events.signup.leave_waitlist", KP_ROLE_ADMIN, cancel_signup_request, evt_h_signup_leave),
    M("events.signup.list", KP_ROLE_ADMIN | KP_ROLE_READER, list_signups_request,
      evt_h_signup_list),
    M("events.signup.attendance", KP_ROLE_ADMIN, signup_attendance_request,
      evt_h_signup_attendance),
    M("events.signup.door_csv", KP_ROLE_ADMIN | KP_ROLE_READER, event_ref, evt_h_door_csv),
    M("events.stats", READERS, event_stats_request, evt_h_stats),
    M("events.ical.event", READERS, event_ref, evt_h_ical_event),
    M("events.ical.feed", READERS, ical_feed_request, evt_h_ical_feed),
};
const unsigned evt_methods_n = sizeof evt_methods / sizeof evt_methods[0];
