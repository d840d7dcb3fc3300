/*  events/report.c: what the service gives out as text or figures — the door list (CSV),
 *  statistics, and iCalendar (RFC 5545).
 *
 *  Text is built in a growing heap buffer, packed into the reply (kp_call_ok copies it into
 *  the turn arena) and freed. The door CSV quotes every field and puts a ' before a leading
 *  = + - @ so that a spreadsheet never runs it as a formula.
 *
 *  iCalendar: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 sequence),
 *  TEXT values escaped (\\ \; \, and newlines as \n; URL is a URI and is not escaped), times
 *  in UTC ("Z"), no ORGANIZER property (calendar programs would mail the organiser), UID
 *  "event-<id>@kumppani", SEQUENCE the event's own sequence (raised by reschedule and cancel,
 *  event.c; the same number every EventInfo on the log carries), STATUS:CANCELLED for a
 *  cancelled event. */
#include "events.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) EVT_C(x)
#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void
s_put(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 1024;
        b->p = kp_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void
s_text_reply(kp_call_t *call, const char *type, const char *filename, buf_t *b)
{
    Kumppani__V1__EventTextReply r = KUMPPANI__V1__EVENT_TEXT_REPLY__INIT;
    r.content_type = (char *)type;
    r.filename = (char *)filename;
    r.text = b->p ? b->p : "";
    if (b->n > 900 * 1024)
        kp_call_fail(call, C(CONFLICT), "the text would exceed 900 KiB; narrow the filter");
    else
        kp_call_ok(call, &r.base);
    free(b->p);
}

static const char *
s_enum_name(const ProtobufCEnumDescriptor *d, int v, const char *prefix, char *buf)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return "unknown";
    const char *n = ev->name;
    size_t pl = strlen(prefix);
    if (strncmp(n, prefix, pl) == 0)
        n += pl;
    size_t i = 0;
    for (; n[i] && i < 47; i++)
        buf[i] = n[i] == '_' ? '-' : (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
    buf[i] = 0;
    return buf;
}

const char *
evt_role_name(int v, char *buf)
{
    return s_enum_name(&kumppani__v1__participant_role__descriptor, v, "ROLE_", buf);
}

static const char *
s_kind(int v, char *buf)
{
    return s_enum_name(&kumppani__v1__event_kind__descriptor, v, "KIND_", buf);
}

/* ---- door CSV ---------------------------------------------------------------------------- */

static void
s_csv_field(buf_t *b, const char *v, bool last)
{
    s_put(b, "\"", 1);
    if (*v == '=' || *v == '+' || *v == '-' || *v == '@')
        s_put(b, "'", 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            s_put(b, "\"\"", 2);
        else if (*p == '\n' || *p == '\t')
            s_put(b, " ", 1);
        else
            s_put(b, p, 1);
    }
    s_put(b, last ? "\"\r\n" : "\",", last ? 3 : 2);
}

typedef struct {
    buf_t *b;
    unsigned rows;
} csv_acc_t;

/* evt_signup_fn: a confirmed sign-up's row. */
static int
s_csv_row(void *arg, evt_signup_t *s, int state)
{
    (void)state;
    csv_acc_t *a = arg;
    char num[32], role[48];
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->id);
    s_csv_field(a->b, num, false);
    s_csv_field(a->b, s->name, false);
    s_csv_field(a->b, s->organisation, false);
    s_csv_field(a->b, evt_role_name(s->role, role), false);
    snprintf(num, sizeof num, "%u", s->companions);
    s_csv_field(a->b, num, false);
    s_csv_field(a->b, s->accessibility_text, false);
    s_csv_field(a->b, s->dietary_text, false);
    s_csv_field(a->b,
                s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED  ? "attended"
                : s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW ? "no-show"
                                                                                : "",
                true);
    a->rows++;
    return 0;
}

void
evt_h_door_csv(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev = evt_open_event(t, call, svc);
    if (!ev)
        return;
    buf_t b = {0};
    s_put(&b,
          "\"signup\",\"name\",\"organisation\",\"role\",\"companions\",\"accessibility\","
          "\"dietary\",\"attendance\"\r\n",
          strlen("\"signup\",\"name\",\"organisation\",\"role\",\"companions\",\"accessibility\","
                 "\"dietary\",\"attendance\"\r\n"));
    csv_acc_t a = {&b, 0};
    int rc = evt_signup_records(t, ev->id, 0, UINT32_MAX, 1u << SS(CONFIRMED), s_csv_row, &a);
    if (rc) {
        free(b.p);
        kp_call_fail_err(call, rc);
        return;
    }
    char fn[64];
    snprintf(fn, sizeof fn, "event-%llu-door.csv", (unsigned long long)ev->id);
    kp_log_info("door.csv", "event_id=%llu rows=%u", (unsigned long long)ev->id, a.rows);
    s_text_reply(call, "text/csv; charset=utf-8", fn, &b);
}

/* ---- statistics -------------------------------------------------------------------------- */

#define ROWS_MAX 600

typedef struct {
    Kumppani__V1__EventStatsRow **v;
    size_t n;
} rows_t;

static Kumppani__V1__EventStatsRow *
s_row(kp_tx_t *t, rows_t *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->key, key) == 0)
            return r->v[i];
    if (r->n == ROWS_MAX)
        return NULL;
    Kumppani__V1__EventStatsRow *row = kp_arena_alloc(t->arena, sizeof *row);
    char *k = kp_arena_memdup(t->arena, key, strlen(key));
    if (!row || !k)
        return NULL;
    kumppani__v1__event_stats_row__init(row);
    row->key = k;
    r->v[r->n++] = row;
    return row;
}

/* Distinct people and organisations: every confirmed sign-up adds, for each row it counts in,
 * a tag (the row, a 64-bit hash of its contact or organisation); sorting the tags and counting
 * the distinct ones per row gives people_n and organisations_n. The top bit of the hash tells
 * an organisation from a person. */
typedef struct {
    uintptr_t row;
    uint64_t h;
} tag_t;

#define TAG_ORG (1ull << 63)
#define CUR_N 6 /* rows a sign-up counts in: total, kind, municipality, month, event, role */

typedef struct {
    kp_tx_t *t;
    const Kumppani__V1__EventStatsRequest *rq;
    Kumppani__V1__EventStatsRow total;
    rows_t kind, muni, role, month, event;
    evt_event_t *ev;
    Kumppani__V1__EventStatsRow *cur[CUR_N]; /* the current event's rows (role: per sign-up) */
    uint32_t role_seen;                      /* roles counted for the current event */
    uint32_t signups_n;                      /* sign-ups of the current event, every state */
    tag_t *tags;
    size_t tags_n, tags_cap;
    int rc;
} stats_t;

static int
s_stats_count(void *arg, uint64_t id, int state)
{
    (void)id;
    (void)state;
    ((stats_t *)arg)->signups_n++;
    return 0;
}

static void
s_add_event(Kumppani__V1__EventStatsRow *row, const evt_event_t *ev)
{
    if (!row)
        return;
    row->events_n++;
    row->held_n += ev->state == ES(HELD);
    row->cancelled_n += ev->state == ES(CANCELLED);
    if (ev->state != ES(CANCELLED)) {
        row->waitlisted_n += ev->waitlisted_n;
        row->attended_n += ev->attended_n;
        row->no_show_n += ev->no_show_n;
    }
}

static uint64_t
s_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

#define FNV0 0xcbf29ce484222325ull

/* The person of a sign-up: its e-mail (ASCII case ignored), else its phone (digits and a
 * leading '+', kp_privacy), else (erased) the sign-up itself. */
static uint64_t
s_person_hash(const evt_signup_t *s)
{
    char buf[256];
    if (s->email && s->email[0]) {
        kp_text_ascii_lower(buf, sizeof buf, s->email);
        return s_fnv(s_fnv(FNV0, "e", 1), buf, strlen(buf)) & ~TAG_ORG;
    }
    if (s->phone && s->phone[0]) {
        kp_privacy_phone_norm(s->phone, buf, sizeof buf);
        return s_fnv(s_fnv(FNV0, "p", 1), buf, strlen(buf)) & ~TAG_ORG;
    }
    return s_fnv(s_fnv(FNV0, "s", 1), &s->id, sizeof s->id) & ~TAG_ORG;
}

/* An organisation's name with ASCII letters and Å Ä Ö lowered and runs of white space as one
 * space, trimmed; 0 when it names none. */
static uint64_t
s_org_hash(const char *v)
{
    if (!v)
        return 0;
    uint64_t h = FNV0;
    bool any = false, space = false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char c = *p;
        if (c == ' ' || c == '\t' || c == '\n') {
            space = any;
            continue;
        }
        if (space)
            h = s_fnv(h, " ", 1);
        space = false;
        any = true;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (c == 0xC3 && (p[1] == 0x84 || p[1] == 0x85 || p[1] == 0x96)) {
            unsigned char lo[2] = {0xC3, (unsigned char)(p[1] + 0x20)};
            h = s_fnv(h, lo, 2);
            p++;
            continue;
        }
        h = s_fnv(h, &c, 1);
    }
    return any ? h | TAG_ORG : 0;
}

static void
s_tag(stats_t *st, const Kumppani__V1__EventStatsRow *row, uint64_t h)
{
    if (!row)
        return;
    if (st->tags_n == st->tags_cap) {
        st->tags_cap = st->tags_cap ? st->tags_cap * 2 : 1024;
        st->tags = kp_xrealloc(st->tags, st->tags_cap * sizeof *st->tags);
    }
    st->tags[st->tags_n++] = (tag_t){(uintptr_t)row, h};
}

static int
s_tag_cmp(const void *a, const void *b)
{
    const tag_t *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->h < y->h ? -1 : x->h > y->h;
}

/* Counts the distinct people and organisations of each row from the tags. */
static void
s_distinct(stats_t *st)
{
    if (st->tags_n)
        qsort(st->tags, st->tags_n, sizeof *st->tags, s_tag_cmp);
    for (size_t i = 0; i < st->tags_n; i++) {
        if (i && st->tags[i].row == st->tags[i - 1].row && st->tags[i].h == st->tags[i - 1].h)
            continue;
        Kumppani__V1__EventStatsRow *row = (Kumppani__V1__EventStatsRow *)st->tags[i].row;
        if (st->tags[i].h & TAG_ORG)
            row->organisations_n++;
        else
            row->people_n++;
    }
}

/* evt_signup_fn: a confirmed or waitlisted sign-up in the rows of its event. */
static int
s_stats_signup(void *arg, evt_signup_t *s, int state)
{
    stats_t *st = arg;
    char name[48];
    Kumppani__V1__EventStatsRow *row = s_row(st->t, &st->role, evt_role_name(s->role, name));
    if (!row)
        return 0;
    uint32_t p = 1 + s->companions;
    if (!(st->role_seen & (1u << (s->role & 31)))) {
        st->role_seen |= 1u << (s->role & 31);
        row->events_n++;
    }
    if (state == SS(WAITLISTED)) {
        row->waitlisted_n += p;
        return 0;
    }
    row->attended_n += s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED ? p : 0;
    row->no_show_n += s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW ? p : 0;
    st->cur[CUR_N - 1] = row;
    uint64_t person = s_person_hash(s), org = s_org_hash(s->organisation);
    for (int i = 0; i < CUR_N; i++) {
        if (!st->cur[i])
            continue;
        st->cur[i]->participants_n++;
        st->cur[i]->companions_n += s->companions;
        s_tag(st, st->cur[i], person);
        if (org)
            s_tag(st, st->cur[i], org);
    }
    return 0;
}

/* Does the event's mode (from its links) pass the filter? */
static bool
s_mode_ok(const evt_event_t *ev, int mode)
{
    bool online = ev->online_url[0] != 0, place = ev->place[0] != 0;
    switch (mode) {
    case KUMPPANI__V1__EVENT_MODE__EVENT_MODE_ONLINE:
        return online;
    case KUMPPANI__V1__EVENT_MODE__EVENT_MODE_ONLINE_ONLY:
        return online && !place;
    case KUMPPANI__V1__EVENT_MODE__EVENT_MODE_IN_PERSON:
        return !online;
    case KUMPPANI__V1__EVENT_MODE__EVENT_MODE_HYBRID:
        return online && place;
    default:
        return true;
    }
}

/* The Helsinki month of an instant, "YYYY-MM" (kp_time). */
static void
s_month(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    if (kp_time_local(t, &tm) || strftime(buf, len, "%Y-%m", &tm) == 0)
        snprintf(buf, len, "?");
}

static int
s_stats_event(void *arg, evt_event_t *ev)
{
    stats_t *st = arg;
    const Kumppani__V1__EventStatsRequest *rq = st->rq;
    if (!EVT_PUBLIC(ev) || (rq->from_unix && ev->start_unix < rq->from_unix) ||
        (rq->to_unix && ev->start_unix >= rq->to_unix) ||
        (rq->municipality_code[0] && strcmp(rq->municipality_code, ev->municipality_code)) ||
        (rq->kind && (int)ev->kind != (int)rq->kind) || !s_mode_ok(ev, rq->mode))
        return 0;
    st->signups_n = 0;
    int rc = evt_signups_each(st->t, ev->id, 0, UINT32_MAX, s_stats_count, st);
    if (rc) {
        st->rc = rc;
        return 1;
    }
    char key[48];
    st->total.signups_n += st->signups_n;
    s_add_event(&st->total, ev);
    Kumppani__V1__EventStatsRow *rows[4];
    rows[0] = s_row(st->t, &st->kind, s_kind(ev->kind, key));
    rows[1] = s_row(st->t, &st->muni, ev->municipality_code);
    s_month(ev->start_unix, key, sizeof key);
    rows[2] = s_row(st->t, &st->month, key);
    snprintf(key, sizeof key, "%llu", (unsigned long long)ev->id);
    rows[3] = s_row(st->t, &st->event, key);
    for (int i = 0; i < 4; i++) {
        s_add_event(rows[i], ev);
        if (rows[i])
            rows[i]->signups_n += st->signups_n;
    }
    if (rows[3])
        rows[3]->title = ev->title;
    st->cur[0] = &st->total;
    for (int i = 0; i < 4; i++)
        st->cur[1 + i] = rows[i];
    if (ev->state != ES(CANCELLED)) {
        st->role_seen = 0;
        rc = evt_signup_records(st->t, ev->id, 0, UINT32_MAX,
                                1u << SS(CONFIRMED) | 1u << SS(WAITLISTED), s_stats_signup, st);
        if (rc) {
            st->rc = rc;
            return 1;
        }
    }
    return 0;
}

void
evt_h_stats(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__EventStatsRequest *rq = kp_tx_open(t, call, svc);
    if (rq->from_unix < 0 || rq->to_unix < 0 || (rq->to_unix && rq->to_unix <= rq->from_unix)) {
        kp_call_fail(call, C(INVALID), "field 'to_unix': after from_unix (0: no bound)");
        return;
    }
    if (rq->municipality_code[0] &&
        !evt_municipality_ok(t, "municipality_code", rq->municipality_code))
        return;
    if (rq->kind < 0 || rq->kind > KUMPPANI__V1__EVENT_KIND__KIND_OTHER) {
        kp_call_fail(call, C(INVALID), "field 'kind': one of the EventKind values");
        return;
    }
    if (rq->mode < 0 || rq->mode > KUMPPANI__V1__EVENT_MODE__EVENT_MODE_HYBRID) {
        kp_call_fail(call, C(INVALID), "field 'mode': one of the EventMode values");
        return;
    }
    stats_t st = {.t = t, .rq = rq};
    kumppani__v1__event_stats_row__init(&st.total);
    st.total.key = "all";
    rows_t *all[] = {&st.kind, &st.muni, &st.role, &st.month, &st.event};
    for (size_t i = 0; i < 5; i++) {
        all[i]->v = kp_arena_alloc(t->arena, ROWS_MAX * sizeof *all[i]->v);
        if (!all[i]->v) {
            kp_call_fail_err(call, KP_ENOMEM);
            return;
        }
    }
    int rc = evt_events_each(t, 0, 100000, s_stats_event, &st);
    if (rc || st.rc) {
        free(st.tags);
        kp_call_fail_err(call, rc ? rc : st.rc);
        return;
    }
    s_distinct(&st);
    free(st.tags);
    Kumppani__V1__EventStatsReply r = KUMPPANI__V1__EVENT_STATS_REPLY__INIT;
    r.total = &st.total;
    r.by_kind = st.kind.v;
    r.n_by_kind = st.kind.n;
    r.by_municipality = st.muni.v;
    r.n_by_municipality = st.muni.n;
    r.by_role = st.role.v;
    r.n_by_role = st.role.n;
    r.by_month = st.month.v;
    r.n_by_month = st.month.n;
    r.by_event = st.event.v;
    r.n_by_event = st.event.n;
    kp_call_ok(call, &r.base);
}

/* ---- iCalendar --------------------------------------------------------------------------- */

/* Appends one content line, folded at 75 octets (CRLF + space), never splitting UTF-8. */
static void
s_ical_line(buf_t *b, const char *line)
{
    size_t n = strlen(line), col = 0;
    for (size_t i = 0; i < n;) {
        size_t clen = 1;
        unsigned char c = (unsigned char)line[i];
        if (c >= 0xF0)
            clen = 4;
        else if (c >= 0xE0)
            clen = 3;
        else if (c >= 0xC0)
            clen = 2;
        if (i + clen > n)
            clen = n - i;
        if (col + clen > 75) {
            s_put(b, "\r\n ", 3);
            col = 1;
        }
        s_put(b, line + i, clen);
        col += clen;
        i += clen;
    }
    s_put(b, "\r\n", 2);
}

/* What a byte of a TEXT value becomes (RFC 5545 3.3.11): backslash, semicolon, comma and
 * newline escaped, a carriage return dropped (a CRLF is one newline); NULL: itself. */
static const char *const s_ical_escape[256] = {
    ['\\'] = "\\\\", [';'] = "\\;", [','] = "\\,", ['\n'] = "\\n", ['\r'] = "",
};

/* name:value with value escaped as TEXT. */
static void
s_ical_text(buf_t *b, const char *name, const char *v)
{
    buf_t l = {0};
    s_put(&l, name, strlen(name));
    s_put(&l, ":", 1);
    for (const char *p = v; *p; p++) {
        const char *e = s_ical_escape[(unsigned char)*p];
        s_put(&l, e ? e : p, e ? strlen(e) : 1);
    }
    s_ical_line(b, l.p);
    free(l.p);
}

static void
s_ical_time(buf_t *b, const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char line[64];
    snprintf(line, sizeof line, "%s:%04d%02d%02dT%02d%02d%02dZ", name, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s_ical_line(b, line);
}

static void
s_ical_begin(buf_t *b)
{
    s_ical_line(b, "BEGIN:VCALENDAR");
    s_ical_line(b, "VERSION:2.0");
    s_ical_line(b, "PRODID:-//Kumppani//events//FI");
    s_ical_line(b, "CALSCALE:GREGORIAN");
    s_ical_line(b, "METHOD:PUBLISH");
}

static void
s_ical_event(buf_t *b, const evt_event_t *ev, int64_t now_ms)
{
    char line[128], kind[48];
    s_ical_line(b, "BEGIN:VEVENT");
    snprintf(line, sizeof line, "UID:event-%llu@kumppani", (unsigned long long)ev->id);
    s_ical_line(b, line);
    s_ical_time(b, "DTSTAMP", now_ms / 1000);
    s_ical_time(b, "LAST-MODIFIED", ev->updated_ms / 1000);
    s_ical_time(b, "DTSTART", ev->start_unix);
    s_ical_time(b, "DTEND", ev->end_unix);
    snprintf(line, sizeof line, "SEQUENCE:%u", ev->sequence);
    s_ical_line(b, line);
    s_ical_text(b, "SUMMARY", ev->title);
    if (ev->place[0])
        s_ical_text(b, "LOCATION", ev->place);
    else if (ev->online_url[0])
        s_ical_text(b, "LOCATION", ev->online_url);
    if (ev->online_url[0]) {
        /* URL is a URI value, not TEXT: written as it is (a ';' in a link stays ';'). The
         * field rules keep control characters and spaces out of links. */
        char *l = kp_xmalloc(sizeof "URL:" + strlen(ev->online_url));
        snprintf(l, sizeof "URL:" + strlen(ev->online_url), "URL:%s", ev->online_url);
        s_ical_line(b, l);
        free(l);
    }
    buf_t d = {0};
    if (ev->theme[0]) {
        s_put(&d, ev->theme, strlen(ev->theme));
        s_put(&d, "\n", 1);
    }
    s_put(&d, ev->description_text, strlen(ev->description_text));
    if (ev->accessibility_text[0]) {
        s_put(&d, d.n ? "\n" : "", d.n ? 1 : 0);
        s_put(&d, ev->accessibility_text, strlen(ev->accessibility_text));
    }
    if (ev->state == ES(CANCELLED) && ev->cancel_reason_text[0]) {
        s_put(&d, d.n ? "\n" : "", d.n ? 1 : 0);
        s_put(&d, ev->cancel_reason_text, strlen(ev->cancel_reason_text));
    }
    if (d.n)
        s_ical_text(b, "DESCRIPTION", d.p);
    free(d.p);
    s_ical_text(b, "CATEGORIES", s_kind(ev->kind, kind));
    s_ical_line(b, ev->state == ES(CANCELLED) ? "STATUS:CANCELLED" : "STATUS:CONFIRMED");
    s_ical_line(b, "END:VEVENT");
}

void
evt_h_ical_event(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev = evt_open_event(t, call, svc);
    if (!ev)
        return;
    if (!EVT_PUBLIC(ev)) {
        kp_call_fail(call, C(CONFLICT),
                     ev->state == ES(DRAFT)
                         ? "event is a draft; publish it first"
                         : "event was cancelled as a draft; it was never public");
        return;
    }
    buf_t b = {0};
    s_ical_begin(&b);
    s_ical_event(&b, ev, t->now_ms);
    s_ical_line(&b, "END:VCALENDAR");
    char fn[64];
    snprintf(fn, sizeof fn, "event-%llu.ics", (unsigned long long)ev->id);
    s_text_reply(call, "text/calendar; charset=utf-8", fn, &b);
}

/* The feed's filter (evt_keep_fn's arg). */
typedef struct {
    const Kumppani__V1__IcalFeedRequest *rq;
    int64_t from;
} feed_t;

static bool
s_in_feed(const void *arg, const evt_event_t *ev)
{
    const feed_t *f = arg;
    return EVT_PUBLIC(ev) && ev->state != ES(HELD) && ev->end_unix > f->from &&
           (!f->rq->municipality_code[0] ||
            !strcmp(f->rq->municipality_code, ev->municipality_code)) &&
           (!f->rq->kind || (int)ev->kind == (int)f->rq->kind) &&
           (!f->rq->theme[0] || !strcmp(f->rq->theme, ev->theme));
}

void
evt_h_ical_feed(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__IcalFeedRequest *rq = kp_tx_open(t, call, svc);
    if ((rq->municipality_code[0] &&
         !evt_municipality_ok(t, "municipality_code", rq->municipality_code)) ||
        !kp_check_text(call, "theme", rq->theme, 0, 100))
        return;
    if (rq->kind < 0 || rq->kind > KUMPPANI__V1__EVENT_KIND__KIND_OTHER) {
        kp_call_fail(call, C(INVALID), "field 'kind': one of the EventKind values");
        return;
    }
    if (rq->from_unix < 0) {
        kp_call_fail(call, C(INVALID), "field 'from_unix': 0 (now) or a time");
        return;
    }
    feed_t f = {rq, rq->from_unix ? rq->from_unix : t->now_ms / 1000};
    evt_where_t w = {.keep = s_in_feed, .arg = &f, .cap = 500};
    int rc = evt_events_where(t, 0, 100000, &w);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    buf_t b = {0};
    s_ical_begin(&b);
    s_ical_line(&b, "X-WR-CALNAME:Kumppani");
    for (size_t i = 0; i < w.n; i++)
        s_ical_event(&b, w.v[i], t->now_ms);
    s_ical_line(&b, "END:VCALENDAR");
    s_text_reply(call, "text/calendar; charset=utf-8", "kumppani.ics", &b);
}
