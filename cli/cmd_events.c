/*  cmd_events.c: the `kumppani events ...` and `kumppani signup ...` commands, as rows of data
 *  (cli_cmd.h): events create, publish, get, list, signups, update, reschedule, cancel, held,
 *  series, balance, door CSV, iCalendar, statistics; sign-up submit, cancel, offers, the
 *  waitlist and attendance.
 *
 *  Events and sign-ups have their own JSON views and text (s_event_view, s_event_text, ...):
 *  readable enum names ("partnership-table"), times in Helsinki ISO 8601, and the key names
 *  scripts and the integration tests read since the first release; they are not the .proto
 *  field names, so these rows give the descriptor walker their views. Times are taken and
 *  shown in Europe/Helsinki (kp_time). */
#include "cli_cmd.h"
#include "kp_time.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EV "events"
#define PAGE_EVENTS 500u
#define PAGE_SIGNUPS 1000u

/* ---- events and sign-ups as JSON and text ------------------------------------------------ */

static const cli_jview_t s_rule_view[] = {
    {"role", NULL, CLI_J_NAME, "ROLE_", NULL},
    {"max", "max_n", 0, NULL, NULL},
    {"max_percent", NULL, 0, NULL, NULL},
    {"reserved", "reserved_n", 0, NULL, NULL},
    {0},
};

static const cli_jview_t s_count_view[] = {
    {"role", NULL, CLI_J_NAME, "ROLE_", NULL},
    {"confirmed", "confirmed_n", 0, NULL, NULL},
    {"waitlisted", "waitlisted_n", 0, NULL, NULL},
    {0},
};

/* EventInfo. */
static const cli_jview_t s_event_view[] = {
    {"id", NULL, 0, NULL, NULL},
    {"kind", NULL, CLI_J_NAME, "KIND_", NULL},
    {"title", NULL, 0, NULL, NULL},
    {"municipality", "municipality_code", 0, NULL, NULL},
    {"start", "start_unix", CLI_J_TIME_S, NULL, NULL},
    {"end", "end_unix", CLI_J_TIME_S, NULL, NULL},
    {"capacity", NULL, 0, NULL, NULL},
    {"state", NULL, CLI_J_NAME, "EVENT_STATE_", NULL},
    {"confirmed", "confirmed_n", 0, NULL, NULL},
    {"waitlisted", "waitlisted_n", 0, NULL, NULL},
    {"place", NULL, 0, NULL, NULL},
    {"online_url", NULL, 0, NULL, NULL},
    {"language", NULL, 0, NULL, NULL},
    {"signup_deadline", "signup_deadline_unix", CLI_J_TIME_S, NULL, NULL},
    {"created", "created_ms", CLI_J_TIME_MS, NULL, NULL},
    {"updated", "updated_ms", CLI_J_TIME_MS, NULL, NULL},
    {"theme", NULL, 0, NULL, NULL},
    {"description", "description_text", 0, NULL, NULL},
    {"accessibility", "accessibility_text", 0, NULL, NULL},
    {"organiser_organisation_id", NULL, CLI_J_OMIT_ZERO, NULL, NULL},
    {"organiser_municipality", "organiser_municipality_code", 0, NULL, NULL},
    {"offered", "offered_n", 0, NULL, NULL},
    {"offer_window_minutes", NULL, 0, NULL, NULL},
    {"series_id", NULL, 0, NULL, NULL},
    {"series_index", NULL, 0, NULL, NULL},
    {"sequence", NULL, 0, NULL, NULL},
    {"previous_start", "previous_start_unix", CLI_J_TIME_S, NULL, NULL},
    {"cancel_reason", "cancel_reason_text", 0, NULL, NULL},
    {"memo_url", NULL, 0, NULL, NULL},
    {"materials_url", NULL, 0, NULL, NULL},
    {"attended", "attended_n", 0, NULL, NULL},
    {"no_show", "no_show_n", 0, NULL, NULL},
    {"role_rules", NULL, 0, NULL, s_rule_view},
    {"role_balance", "role_counts", 0, NULL, s_count_view},
    {"convener_person_id", NULL, CLI_J_OMIT_ZERO, NULL, NULL},
    {"series_frequency", NULL, CLI_J_NAME | CLI_J_ZERO_EMPTY | CLI_J_OMIT_ZERO, "SERIES_FREQUENCY_",
     NULL},
    {0},
};

/* Signup. */
static const cli_jview_t s_signup_view[] = {
    {"id", NULL, 0, NULL, NULL},
    {"event_id", NULL, 0, NULL, NULL},
    {"source", NULL, 0, NULL, NULL},
    {"external_id", NULL, 0, NULL, NULL},
    {"name", NULL, 0, NULL, NULL},
    {"email", NULL, 0, NULL, NULL},
    {"phone", NULL, 0, NULL, NULL},
    {"organisation", NULL, 0, NULL, NULL},
    {"role", NULL, CLI_J_NAME, "ROLE_", NULL},
    {"consent_reminders", NULL, 0, NULL, NULL},
    {"language", NULL, 0, NULL, NULL},
    {"state", NULL, CLI_J_NAME, "SIGNUP_STATE_", NULL},
    {"created", "created_ms", CLI_J_TIME_MS, NULL, NULL},
    {"updated", "updated_ms", CLI_J_TIME_MS, NULL, NULL},
    {"companions", NULL, 0, NULL, NULL},
    {"accessibility", "accessibility_text", 0, NULL, NULL},
    {"dietary", "dietary_text", 0, NULL, NULL},
    {"attendance", NULL, CLI_J_NAME | CLI_J_ZERO_EMPTY, "ATTENDANCE_", NULL},
    {"offer_deadline", "offer_deadline_ms", CLI_J_TIME_MS, NULL, NULL},
    {"cancel_reason", NULL, 0, NULL, NULL},
    {0},
};

/* One line of an event's or a sign-up's text: label, then a text that is set (none if not). */
static void
s_text_line(const char *label, const char *v)
{
    if (v && *v)
        printf("%-14s%s\n", label, v);
}

static void
s_event_text(const ProtobufCMessage *m)
{
    const Kumppani__V1__EventInfo *e = (const Kumppani__V1__EventInfo *)m;
    char k[CLI_NAME_MAX], s[CLI_NAME_MAX], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], dl[CLI_TIME_MAX];
    kp_time_format(e->start_unix, t1, sizeof t1);
    kp_time_format(e->end_unix, t2, sizeof t2);
    if (e->signup_deadline_unix)
        kp_time_format(e->signup_deadline_unix, dl, sizeof dl);
    else
        snprintf(dl, sizeof dl, "until the start");
    printf("id            %llu\n", (unsigned long long)e->id);
    printf("title         %s\n", e->title);
    printf("kind          %s\n", cli_kind_name(e->kind, k));
    printf("state         %s\n", cli_event_state_name(e->state, s));
    printf("municipality  %s\n", e->municipality_code);
    printf("time          %s - %s (Helsinki)\n", t1, t2);
    /* Places, not sign-ups: a group takes 1 + its companions. */
    if (e->capacity)
        printf("places        %u of %u confirmed, %u offered, %u waitlisted\n", e->confirmed_n,
               e->capacity, e->offered_n, e->waitlisted_n);
    else
        printf("places        %u confirmed (no limit)\n", e->confirmed_n);
    printf("deadline      %s\n", dl);
    s_text_line("place", e->place);
    s_text_line("online", e->online_url);
    s_text_line("language", e->language);
    s_text_line("theme", e->theme);
    if (e->organiser_organisation_id)
        printf("organiser     organisation %llu\n",
               (unsigned long long)e->organiser_organisation_id);
    else if (e->organiser_municipality_code && *e->organiser_municipality_code)
        printf("organiser     municipality %s\n", e->organiser_municipality_code);
    if (e->series_id)
        printf("series        %llu, occurrence %u\n", (unsigned long long)e->series_id,
               e->series_index);
    if (e->offered_n)
        printf("offered       %u places\n", e->offered_n);
    if (e->offer_window_minutes)
        printf("waitlist      offers, %u minutes to accept\n", e->offer_window_minutes);
    if (e->previous_start_unix) { /* sequence counts cancels too: not a reschedule count */
        char pt[CLI_TIME_MAX];
        kp_time_format(e->previous_start_unix, pt, sizeof pt);
        printf("rescheduled   was %s\n", pt);
    }
    s_text_line("cancelled", e->cancel_reason_text);
    s_text_line("memo", e->memo_url);
    s_text_line("materials", e->materials_url);
    if (e->attended_n || e->no_show_n)
        printf("attendance    %u attended, %u no-show\n", e->attended_n, e->no_show_n);
    for (size_t i = 0; i < e->n_role_rules; i++) {
        char rn[CLI_NAME_MAX];
        printf("role rule     %s: max %u, max %u%%, reserved %u\n",
               cli_role_name(e->role_rules[i]->role, rn), e->role_rules[i]->max_n,
               e->role_rules[i]->max_percent, e->role_rules[i]->reserved_n);
    }
}

static const cli_col_t s_event_cols[] = {{"ID", 6},       {"KIND", 22}, {"STATE", 11},
                                         {"START", 16},   {"END", 16},  {"MUNI", 5},
                                         {"SIGNUPS", 11}, {"TITLE", 0}, {0}};

static void
s_event_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__EventInfo *e = (const Kumppani__V1__EventInfo *)m;
    char k[CLI_NAME_MAX], s[CLI_NAME_MAX], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], n[32];
    kp_time_format(e->start_unix, t1, sizeof t1);
    kp_time_format(e->end_unix, t2, sizeof t2);
    if (e->capacity)
        snprintf(n, sizeof n, "%u/%u+%u", e->confirmed_n, e->capacity, e->waitlisted_n);
    else
        snprintf(n, sizeof n, "%u", e->confirmed_n);
    printf("%-6llu %-22s %-11s %-16s %-16s %-5s %-11s %s\n", (unsigned long long)e->id,
           cli_kind_name(e->kind, k), cli_event_state_name(e->state, s), t1, t2,
           e->municipality_code, n, e->title);
}

static void
s_signup_text(const ProtobufCMessage *m)
{
    const Kumppani__V1__Signup *s = (const Kumppani__V1__Signup *)m;
    char r[CLI_NAME_MAX], st[CLI_NAME_MAX];
    printf("signup        %llu\n", (unsigned long long)s->id);
    printf("event         %llu\n", (unsigned long long)s->event_id);
    printf("state         %s\n", cli_signup_state_name(s->state, st));
    printf("role          %s\n", cli_role_name(s->role, r));
    printf("source        %s / %s\n", s->source, s->external_id);
    printf("reminders     %s\n", s->consent_reminders ? "yes" : "no");
    if (s->companions)
        printf("companions    %u\n", s->companions);
    if (s->offer_deadline_ms) {
        char t[CLI_TIME_MAX];
        kp_time_format(s->offer_deadline_ms / 1000, t, sizeof t);
        printf("offer until   %s\n", t);
    }
    s_text_line("cancelled", s->cancel_reason);
    if (s->attendance)
        printf("attendance    %s\n", s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED
                                         ? "attended"
                                         : "no-show");
}

static void
s_signup_row(const Kumppani__V1__Signup *s)
{
    char r[CLI_NAME_MAX], st[CLI_NAME_MAX];
    printf("%-8llu %-11s %-18s %-*s %-*s %s/%s\n", (unsigned long long)s->id,
           cli_signup_state_name(s->state, st), cli_role_name(s->role, r), cli_col(s->name, 24),
           s->name, cli_col(s->organisation, 24), s->organisation, s->source, s->external_id);
}

/* ---- replies: EventReply, SignupReply, EventTextReply ------------------------------------ */

/* A text reply to --output FILE or stdout. */
static int
s_text_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__EventTextReply *r = (const Kumppani__V1__EventTextReply *)m;
    const char *path = cli_arg(c->a, "output");
    if (!path) {
        fputs(r->text, stdout);
        return EXIT_OK_;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fputs(r->text, f) < 0 || fclose(f) != 0) {
        cli_err("cannot write %s", path);
        return EXIT_OTHER;
    }
    fprintf(stderr, "kumppani: wrote %s\n", path);
    return EXIT_OK_;
}

/* ---- fill helpers ------------------------------------------------------------------------ */

/* Parses --role-rules "ROLE:max=N,ROLE:pct=P,ROLE:reserve=R" (several keys of one role merge)
 * into rules in c->arena. Returns 0 or -1 (reported). */
static int
s_role_rules(cli_ctx_t *c, const char *spec, Kumppani__V1__RoleRule ***out, size_t *n)
{
    size_t items_n;
    char **items = cli_split(c, spec, ',', &items_n);
    Kumppani__V1__RoleRule **v = cli_alloc(c, 16 * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < items_n; i++) {
        char *item = items[i], *colon = strchr(item, ':'), *eq = colon ? strchr(colon, '=') : NULL;
        int role;
        uint64_t num;
        if (!colon || !eq)
            goto bad;
        *colon = 0;
        *eq = 0;
        if (cli_role_parse(item, &role) != 0 || cli_parse_u64(eq + 1, 0, 100000, &num) != 0)
            goto bad;
        Kumppani__V1__RoleRule *r = NULL;
        for (size_t k = 0; k < *n; k++)
            if ((int)v[k]->role == role)
                r = v[k];
        if (!r) {
            if (*n == 16)
                goto bad;
            r = cli_alloc(c, sizeof *r);
            kumppani__v1__role_rule__init(r);
            r->role = role;
            v[(*n)++] = r;
        }
        if (strcmp(colon + 1, "max") == 0)
            r->max_n = (uint32_t)num;
        else if (strcmp(colon + 1, "pct") == 0)
            r->max_percent = (uint32_t)num;
        else if (strcmp(colon + 1, "reserve") == 0)
            r->reserved_n = (uint32_t)num;
        else
            goto bad;
    }
    *out = v;
    return 0;
bad:
    *n = 0;
    cli_err("--role-rules: ROLE:max=N, ROLE:pct=P or ROLE:reserve=R, comma-separated "
            "(roles: %s)",
            cli_role_list());
    return -1;
}

/* The texts of an event copied as they are: create's row, and the values of series and update
 * (s_create checks --title and --municipality). */
static const cli_optfield_t s_event_texts[] = {
    {.opt = "title"},
    {"municipality", .field = "municipality_code"},
    {.opt = "place"},
    {"online-url", .field = "online_url"},
    {.opt = "theme"},
    {"description", .field = "description_text"},
    {"accessibility", .field = "accessibility_text"},
    {"organiser-municipality", .field = "organiser_municipality_code"},
    {0},
};

/* Each option of the event fields and the field it changes in an update's mask. */
static const cli_mask_t s_event_mask[] = {{"title", "title"},
                                          {"place", "place"},
                                          {"online-url", "online_url"},
                                          {"theme", "theme"},
                                          {"description", "description"},
                                          {"accessibility", "accessibility"},
                                          {"language", "language"},
                                          {"capacity", "capacity"},
                                          {"municipality", "municipality_code"},
                                          {"organiser-org", "organiser"},
                                          {"organiser-municipality", "organiser"},
                                          {"offer-window", "offer_window_minutes"},
                                          {"role-rules", "role_rules"},
                                          {"convener", "convener"},
                                          {0}};

/* The event fields shared by series and update, from the options present. Returns 0 or -1
 * (reported). */
static int
s_event_fields(cli_ctx_t *c, Kumppani__V1__CreateEventRequest *rq)
{
    if (cli_num(c, "convener", false, 0, UINT64_MAX, &rq->convener_person_id) ||
        cli_num32(c, "capacity", false, 0, UINT32_MAX, &rq->capacity) ||
        cli_num(c, "organiser-org", false, 1, UINT64_MAX, &rq->organiser_organisation_id) ||
        cli_num32(c, "offer-window", false, 0, UINT32_MAX, &rq->offer_window_minutes))
        return -1;
    rq->language = cli_str(c, "language", "");
    if (cli_set_fields(c, &rq->base, s_event_texts) ||
        s_role_rules(c, cli_arg(c->a, "role-rules"), &rq->role_rules, &rq->n_role_rules))
        return -1;
    return 0;
}

/* The changes of update and series-update: the values of the options given into a new
 * *values and their field names into *fields (both in c->arena); with none not NULL, no field
 * given is refused with that message. Returns 0 or -1 (reported). */
static int
s_event_changes(cli_ctx_t *c, Kumppani__V1__CreateEventRequest **values, char ***fields, size_t *nf,
                const char *none)
{
    *values = cli_alloc(c, sizeof **values);
    kumppani__v1__create_event_request__init(*values);
    return s_event_fields(c, *values) || cli_field_mask(c, s_event_mask, fields, nf, none) ? -1 : 0;
}

/* --frequency F: the SeriesFrequency named F, or 0 when absent or unknown. */
static int
s_frequency(cli_ctx_t *c)
{
    int f = 0;
    cli_enum_parse(&kumppani__v1__series_frequency__descriptor, "SERIES_FREQUENCY_",
                   cli_arg(c->a, "frequency"), &f);
    return f;
}

/* --kind KIND, optional (0 when absent). Returns 0 or -1 (reported). */
static int
s_kind_opt(cli_ctx_t *c, int *k)
{
    const char *kind = cli_arg(c->a, "kind");
    *k = 0;
    if (kind && cli_kind_parse(kind, k) != 0) {
        cli_err("--kind must be one of: %s", cli_kind_list());
        return -1;
    }
    return 0;
}

/* ---- events ------------------------------------------------------------------------------ */

static int
s_create(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__CreateEventRequest *req = (Kumppani__V1__CreateEventRequest *)m;
    const char *kind = cli_arg(c->a, "kind"), *lang = cli_arg(c->a, "language");
    int k;
    if (!kind) {
        cli_err("--kind is required (one of: %s)", cli_kind_list());
        return -1;
    }
    if (cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind must be one of: %s", cli_kind_list());
        return -1;
    }
    req->kind = (Kumppani__V1__EventKind)k;
    if (!cli_arg(c->a, "title") || !cli_arg(c->a, "municipality")) {
        cli_err("--%s is required", cli_arg(c->a, "title") ? "municipality" : "title");
        return -1;
    }
    if (cli_time_opt(c, "start", true, &req->start_unix) ||
        cli_time_opt(c, "end", true, &req->end_unix) ||
        cli_time_opt(c, "deadline", false, &req->signup_deadline_unix) ||
        cli_num32(c, "capacity", false, 0, UINT32_MAX, &req->capacity))
        return -1;
    if (lang && strcmp(lang, "fi") && strcmp(lang, "sv") && strcmp(lang, "en")) {
        cli_err("--language must be fi, sv or en");
        return -1;
    }
    req->language = (char *)(lang ? lang : "fi");
    if (cli_num(c, "organiser-org", false, 1, UINT64_MAX, &req->organiser_organisation_id) ||
        cli_num32(c, "offer-window", false, 0, UINT32_MAX, &req->offer_window_minutes) ||
        cli_num(c, "convener", false, 0, UINT64_MAX, &req->convener_person_id))
        return -1;
    return s_role_rules(c, cli_arg(c->a, "role-rules"), &req->role_rules, &req->n_role_rules);
}

static int
s_list_fill(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ListEventsRequest *rq = (Kumppani__V1__ListEventsRequest *)m;
    return cli_page_limit(c, UINT32_MAX, PAGE_EVENTS, &rq->limit) ||
                   cli_num(c, "series", false, 1, UINT64_MAX, &rq->series_id)
               ? -1
               : 0;
}

static int
s_list_page(cli_ctx_t *c, ProtobufCMessage *m, const ProtobufCMessage *reply)
{
    Kumppani__V1__ListEventsRequest *rq = (Kumppani__V1__ListEventsRequest *)m;
    const Kumppani__V1__EventInfo *last = (const void *)cli_page_rows(c, reply);
    if (last)
        rq->after_id = last->id;
    rq->limit = cli_page_size(c, PAGE_EVENTS);
    /* A series has at most 60 occurrences: one page. */
    return last && c->left > 0 && !rq->series_id;
}

static int
s_signups_fill(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ListSignupsRequest *rq = (Kumppani__V1__ListSignupsRequest *)m;
    return cli_page_limit(c, UINT32_MAX, PAGE_SIGNUPS, &rq->limit);
}

static const cli_col_t s_signup_cols[] = {
    {"ID", 8},    {"STATE", 11},        {"ROLE", 18},
    {"NAME", 24}, {"ORGANISATION", 24}, {"SOURCE/EXTERNAL-ID", 0},
    {0}};

static int
s_signups_page(cli_ctx_t *c, ProtobufCMessage *m, const ProtobufCMessage *reply)
{
    Kumppani__V1__ListSignupsRequest *rq = (Kumppani__V1__ListSignupsRequest *)m;
    const Kumppani__V1__ListSignupsReply *r = (const Kumppani__V1__ListSignupsReply *)reply;
    if (c->first && c->json) {
        c->out = json_object();
        if (r->event)
            json_object_set_new(c->out, "event", cli_json_view(&r->event->base, s_event_view));
        json_object_set_new(c->out, "signups", json_array());
    } else if (c->first && r->event) {
        printf("event %llu: %s\n\n", (unsigned long long)r->event->id, r->event->title);
        cli_header(s_signup_cols);
    }
    size_t n = r->n_signups;
    for (size_t i = 0; i < n && c->left > 0; i++, c->left--) {
        if (c->out)
            json_array_append_new(json_object_get(c->out, "signups"),
                                  cli_json_view(&r->signups[i]->base, s_signup_view));
        else
            s_signup_row(r->signups[i]);
        rq->after_id = r->signups[i]->id;
    }
    rq->limit = cli_page_size(c, PAGE_SIGNUPS);
    return n > 0 && c->left > 0;
}

static int
s_update(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__UpdateEventRequest *rq = (Kumppani__V1__UpdateEventRequest *)m;
    return s_event_changes(c, &rq->values, &rq->fields, &rq->n_fields,
                           "give at least one field to change (see --help)");
}

static int
s_series(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__CreateSeriesRequest *rq = (Kumppani__V1__CreateSeriesRequest *)m;
    Kumppani__V1__CreateEventRequest *f = cli_alloc(c, sizeof *f);
    kumppani__v1__create_event_request__init(f);
    const char *kind = cli_arg(c->a, "kind");
    int k;
    uint64_t count = 0;
    if (cli_num(c, "count", true, 2, 60, &count))
        return -1;
    if (!kind || cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind is required (one of: %s)", cli_kind_list());
        return -1;
    }
    if (!(rq->frequency = s_frequency(c))) {
        cli_err("--frequency is required: weekly, biweekly, monthly-day or monthly-weekday");
        return -1;
    }
    if (cli_time_opt(c, "start", true, &f->start_unix) ||
        cli_time_opt(c, "end", true, &f->end_unix) ||
        cli_time_opt(c, "deadline", false, &f->signup_deadline_unix) || s_event_fields(c, f))
        return -1;
    f->kind = k;
    rq->first = f;
    rq->count = (uint32_t)count;
    rq->publish = cli_flag(c->a, "publish");
    return 0;
}

static void
s_series_print(const ProtobufCMessage *m)
{
    const Kumppani__V1__SeriesReply *r = (const Kumppani__V1__SeriesReply *)m;
    printf("series %llu: %zu events\n\n", (unsigned long long)r->series_id, r->n_events);
}

static const cli_jview_t s_series_view[] = {
    {"series_id", NULL, 0, NULL, NULL},
    {"events", NULL, 0, NULL, s_event_view},
    {0},
};

/* The role balance of an event: one line or object per role, caps and reservations. */
static json_t *
s_balance(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__EventInfo *e = (const Kumppani__V1__EventInfo *)m;
    json_t *arr = c->json ? json_array() : NULL;
    if (!arr) {
        char cap[16] = "unlimited";
        if (e->capacity)
            snprintf(cap, sizeof cap, "%u", e->capacity);
        printf("event %llu: %u of %s places confirmed, %u offered, %u waitlisted\n\n",
               (unsigned long long)e->id, e->confirmed_n, cap, e->offered_n, e->waitlisted_n);
        printf("%-18s %9s %10s %7s %6s %8s\n", "ROLE", "CONFIRMED", "WAITLISTED", "MAX", "MAX%",
               "RESERVED");
    }
    for (int role = 1; role <= 6; role++) {
        uint32_t conf = 0, wait = 0, max = 0, pct = 0, res = 0;
        for (size_t i = 0; i < e->n_role_counts; i++)
            if ((int)e->role_counts[i]->role == role) {
                conf = e->role_counts[i]->confirmed_n;
                wait = e->role_counts[i]->waitlisted_n;
            }
        for (size_t i = 0; i < e->n_role_rules; i++)
            if ((int)e->role_rules[i]->role == role) {
                max = e->role_rules[i]->max_n;
                pct = e->role_rules[i]->max_percent;
                res = e->role_rules[i]->reserved_n;
            }
        char rn[CLI_NAME_MAX];
        cli_role_name(role, rn);
        if (arr) {
            json_t *o = json_object();
            json_object_set_new(o, "role", json_string(rn));
            json_object_set_new(o, "confirmed", json_integer(conf));
            json_object_set_new(o, "waitlisted", json_integer(wait));
            json_object_set_new(o, "max", json_integer(max));
            json_object_set_new(o, "max_percent", json_integer(pct));
            json_object_set_new(o, "reserved", json_integer(res));
            json_array_append_new(arr, o);
        } else {
            char ms[16], ps[16], rs[16];
            snprintf(ms, sizeof ms, "%u", max);
            snprintf(ps, sizeof ps, "%u", pct);
            snprintf(rs, sizeof rs, "%u", res);
            printf("%-18s %9u %10u %7s %6s %8s\n", rn, conf, wait, max ? ms : "-", pct ? ps : "-",
                   res ? rs : "-");
        }
    }
    return arr;
}

static int
s_balance_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    s_balance(c, m);
    return EXIT_OK_;
}

static int
s_ical_feed(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__IcalFeedRequest *rq = (Kumppani__V1__IcalFeedRequest *)m;
    int k;
    if (s_kind_opt(c, &k))
        return -1;
    rq->kind = k;
    return 0;
}

static int
s_stats(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__EventStatsRequest *rq = (Kumppani__V1__EventStatsRequest *)m;
    const char *mode = cli_arg(c->a, "mode");
    int k, md = 0;
    if (s_kind_opt(c, &k))
        return -1;
    rq->kind = k;
    if (mode && strcmp(mode, "any") != 0 &&
        cli_enum_parse(&kumppani__v1__event_mode__descriptor, "EVENT_MODE_", mode, &md)) {
        cli_err("--mode must be one of: online, online-only, in-person, hybrid");
        return -1;
    }
    rq->mode = md;
    return 0;
}

static const cli_jview_t s_stats_row_view[] = {
    {"key", NULL, 0, NULL, NULL},
    {"title", NULL, CLI_J_OMIT_ZERO, NULL, NULL},
    {"events", "events_n", 0, NULL, NULL},
    {"held", "held_n", 0, NULL, NULL},
    {"cancelled", "cancelled_n", 0, NULL, NULL},
    {"participants", "participants_n", 0, NULL, NULL},
    {"waitlisted", "waitlisted_n", 0, NULL, NULL},
    {"attended", "attended_n", 0, NULL, NULL},
    {"no_show", "no_show_n", 0, NULL, NULL},
    {"companions", "companions_n", 0, NULL, NULL},
    {"people", "people_n", 0, NULL, NULL},
    {"organisations", "organisations_n", 0, NULL, NULL},
    {0},
};

static const cli_jview_t s_stats_view[] = {
    {"total", NULL, CLI_J_OMIT_ZERO, NULL, s_stats_row_view},
    {"by_kind", NULL, 0, NULL, s_stats_row_view},
    {"by_municipality", NULL, 0, NULL, s_stats_row_view},
    {"by_role", NULL, 0, NULL, s_stats_row_view},
    {"by_month", NULL, 0, NULL, s_stats_row_view},
    {"by_event", NULL, 0, NULL, s_stats_row_view},
    {0},
};

typedef struct {
    const char *name;
    Kumppani__V1__EventStatsRow **v;
    size_t n;
} stats_group_t;

static void
s_stats_groups(const Kumppani__V1__EventStatsReply *r, stats_group_t g[5])
{
    g[0] = (stats_group_t){"by_kind", r->by_kind, r->n_by_kind};
    g[1] = (stats_group_t){"by_municipality", r->by_municipality, r->n_by_municipality};
    g[2] = (stats_group_t){"by_role", r->by_role, r->n_by_role};
    g[3] = (stats_group_t){"by_month", r->by_month, r->n_by_month};
    g[4] = (stats_group_t){"by_event", r->by_event, r->n_by_event};
}

static int
s_stats_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__EventStatsReply *r = (const Kumppani__V1__EventStatsReply *)m;
    stats_group_t g[5];
    s_stats_groups(r, g);
    if (r->total)
        printf("%u events (%u held, %u cancelled), %u participants (+%u companions), %u "
               "attended\n%u distinct people, %u distinct organisations\n",
               r->total->events_n, r->total->held_n, r->total->cancelled_n,
               r->total->participants_n, r->total->companions_n, r->total->attended_n,
               r->total->people_n, r->total->organisations_n);
    const char *by = cli_arg(c->a, "by");
    for (size_t i = 0; i < 5; i++) {
        if (by && strcmp(by, g[i].name + 3) != 0)
            continue;
        Kumppani__V1__EventStatsRow **v = g[i].v;
        printf("\n%s\n%-22s %6s %5s %9s %12s %10s %10s %8s %7s %6s %5s\n", g[i].name + 3, "",
               "EVENTS", "HELD", "CANCELLED", "PARTICIPANTS", "COMPANIONS", "WAITLISTED",
               "ATTENDED", "NO-SHOW", "PEOPLE", "ORGS");
        for (size_t k = 0; k < g[i].n; k++)
            printf("%-22s %6u %5u %9u %12u %10u %10u %8u %7u %6u %5u%s%s\n", v[k]->key,
                   v[k]->events_n, v[k]->held_n, v[k]->cancelled_n, v[k]->participants_n,
                   v[k]->companions_n, v[k]->waitlisted_n, v[k]->attended_n, v[k]->no_show_n,
                   v[k]->people_n, v[k]->organisations_n, v[k]->title && *v[k]->title ? "  " : "",
                   v[k]->title ? v[k]->title : "");
    }
    return EXIT_OK_;
}

/* ---- sign-ups ---------------------------------------------------------------------------- */

/* The options of a sign-up copied as they are (the runner checks the required ones first). */
static const cli_optfield_t s_submit_set[] = {
    {"event", .field = "event_id", .required = true, .min = 1, .max = UINT64_MAX},
    {"source", .required = true},
    {"id", .field = "external_id", .required = true},
    {"name", .required = true},
    {.opt = "email"},
    {.opt = "phone"},
    {.opt = "organisation"},
    {"consent", .field = "consent_reminders"},
    {"consent-needs", .field = "consent_needs"},
    {.opt = "language"},
    {"accessibility", .field = "accessibility_text"},
    {"dietary", .field = "dietary_text"},
    {0},
};

static int
s_submit(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__SubmitSignupRequest *req = (Kumppani__V1__SubmitSignupRequest *)m;
    int role;
    if (!cli_arg(c->a, "role")) {
        cli_err("--role is required");
        return -1;
    }
    if (cli_role_parse(cli_arg(c->a, "role"), &role) != 0) {
        cli_err("--role must be one of: %s", cli_role_list());
        return -1;
    }
    if (!cli_arg(c->a, "email") && !cli_arg(c->a, "phone")) {
        cli_err("give --email, --phone or both");
        return -1;
    }
    req->role = (Kumppani__V1__ParticipantRole)role;
    return cli_num32(c, "companions", false, 0, 20, &req->companions);
}

/* A sign-up by source and external id, or by its id (cancel, offers, the waitlist): the options,
 * and the check that one of the two is given. */
static const cli_optfield_t s_ref_set[] = {
    {"signup", .field = "signup_id", .min = 1, .max = UINT64_MAX},
    {.opt = "source"},
    {"id", .field = "external_id"},
    {0},
};

static int
s_signup_ref(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__CancelSignupRequest *rq = (Kumppani__V1__CancelSignupRequest *)m;
    const char *source = cli_arg(c->a, "source"), *ext = cli_arg(c->a, "id");
    bool by_ext = source && ext, by_id = rq->signup_id != 0;
    if (by_ext == by_id || (!by_ext && (source || ext))) {
        cli_err("give either --source and --id, or --signup");
        return -1;
    }
    return 0;
}

static int
s_attendance(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__SignupAttendanceRequest *rq = (Kumppani__V1__SignupAttendanceRequest *)m;
    bool yes = cli_flag(c->a, "attended"), no = cli_flag(c->a, "no-show");
    if (yes == no) {
        cli_err("give --attended or --no-show");
        return -1;
    }
    rq->attendance = yes ? KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED
                         : KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW;
    return 0;
}

/* ---- attendance of many sign-ups (issue 16) ---------------------------------------------- */

/* Adds one mark to the request (marks has room for cap). */
static int
s_bulk_add(cli_ctx_t *c, Kumppani__V1__BulkAttendanceRequest *rq, size_t cap, uint64_t id, int att)
{
    if (rq->n_marks == cap) {
        cli_err("at most %zu marks in one call", cap);
        return -1;
    }
    Kumppani__V1__SignupAttendanceRequest *m = kp_arena_alloc(c->arena, sizeof *m);
    assert(m);
    kumppani__v1__signup_attendance_request__init(m);
    m->signup_id = id;
    m->attendance = att;
    rq->marks[rq->n_marks++] = m;
    return 0;
}

/* --attended 1,2,3 and --no-show 4,5: ids separated by commas or spaces. */
static int
s_bulk_ids(cli_ctx_t *c, Kumppani__V1__BulkAttendanceRequest *rq, size_t cap, const char *opt,
           int att)
{
    const char *v = cli_arg(c->a, opt);
    if (!v)
        return 0;
    char num[24];
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ", ");
        uint64_t id;
        if (n && (n >= sizeof num ||
                  (memcpy(num, p, n), num[n] = 0, cli_parse_u64(num, 1, UINT64_MAX, &id) != 0))) {
            cli_err("--%s takes sign-up ids separated by commas", opt);
            return -1;
        }
        if (n && s_bulk_add(c, rq, cap, id, att))
            return -1;
        p += n;
        p += strspn(p, ", ");
    }
    return 0;
}

/* One CSV record of text at *pos (comma or semicolon sep, "..." with "" inside, CRLF or LF)
 * into cells (at most cells_cap, each copied into the arena). Returns the number of cells,
 * 0 at the end. */
static size_t
s_csv_record(cli_ctx_t *c, const char *text, size_t len, size_t *pos, char sep, char **cells,
             size_t cells_cap)
{
    size_t i = *pos, n = 0;
    if (i >= len)
        return 0;
    char *cell = kp_arena_alloc(c->arena, len - i + 1);
    assert(cell);
    for (;;) {
        size_t w = 0;
        bool quoted = i < len && text[i] == '"';
        if (quoted)
            i++;
        while (i < len) {
            char ch = text[i];
            if (quoted && ch == '"') {
                if (i + 1 < len && text[i + 1] == '"') {
                    cell[w++] = '"';
                    i += 2;
                    continue;
                }
                quoted = false;
                i++;
                continue;
            }
            if (!quoted && (ch == sep || ch == '\n' || ch == '\r'))
                break;
            cell[w++] = ch;
            i++;
        }
        cell[w] = 0;
        if (n < cells_cap)
            cells[n++] = kp_arena_memdup(c->arena, cell, w);
        if (i < len && text[i] == sep) {
            i++;
            continue;
        }
        if (i < len && text[i] == '\r')
            i++;
        if (i < len && text[i] == '\n')
            i++;
        break;
    }
    *pos = i;
    return n;
}

/* --csv FILE: the door list (events door-csv) with its "attendance" column filled in:
 * "attended" or "no-show" ("" leaves the row out). Columns are found by their header names
 * "signup" and "attendance"; comma or semicolon separated (as a spreadsheet saves it). */
static int
s_bulk_csv(cli_ctx_t *c, Kumppani__V1__BulkAttendanceRequest *rq, size_t cap)
{
    const char *path = cli_arg(c->a, "csv");
    if (!path)
        return 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_err("cannot open the file given to --csv");
        return -1;
    }
    size_t fcap = 1 << 16, len = 0;
    char *text = kp_arena_alloc(c->arena, fcap);
    assert(text);
    for (int ch; (ch = fgetc(f)) != EOF;) {
        if (len + 1 == fcap) {
            char *more = kp_arena_alloc(c->arena, fcap * 2);
            assert(more);
            memcpy(more, text, len);
            text = more;
            fcap *= 2;
        }
        text[len++] = (char)ch;
    }
    text[len] = 0;
    if (f != stdin)
        fclose(f);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a spreadsheet's byte order mark */
    size_t eol = strcspn(text + pos, "\r\n");
    char sep = memchr(text + pos, ';', eol) && !memchr(text + pos, ',', eol) ? ';' : ',';
    char *cells[32];
    size_t n = s_csv_record(c, text, len, &pos, sep, cells, 32);
    int col_id = -1, col_att = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(cells[i], "signup") == 0)
            col_id = (int)i;
        else if (strcasecmp(cells[i], "attendance") == 0)
            col_att = (int)i;
    }
    if (col_id < 0 || col_att < 0) {
        cli_err("--csv: the header needs the columns \"signup\" and \"attendance\" (the door "
                "list of `events door-csv`)");
        return -1;
    }
    for (unsigned line = 2; (n = s_csv_record(c, text, len, &pos, sep, cells, 32)) > 0; line++) {
        if (n == 1 && !cells[0][0])
            continue; /* an empty line */
        const char *att = (size_t)col_att < n ? cells[col_att] : "";
        const char *id = (size_t)col_id < n ? cells[col_id] : "";
        if (!att[0])
            continue;
        uint64_t sid;
        int a = strcasecmp(att, "attended") == 0  ? KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED
                : strcasecmp(att, "no-show") == 0 ? KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW
                                                  : 0;
        if (!a) {
            cli_err("--csv line %u: column \"attendance\": attended, no-show or empty", line);
            return -1;
        }
        if (cli_parse_u64(id, 1, UINT64_MAX, &sid) != 0) {
            cli_err("--csv line %u: column \"signup\": a sign-up id", line);
            return -1;
        }
        if (s_bulk_add(c, rq, cap, sid, a))
            return -1;
    }
    return 0;
}

static int
s_attendance_bulk(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__BulkAttendanceRequest *rq = (Kumppani__V1__BulkAttendanceRequest *)m;
    const size_t cap = 1000; /* the service's limit per call */
    rq->marks = kp_arena_alloc(c->arena, cap * sizeof *rq->marks);
    assert(rq->marks);
    if (s_bulk_ids(c, rq, cap, "attended", KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED) ||
        s_bulk_ids(c, rq, cap, "no-show", KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW) ||
        s_bulk_csv(c, rq, cap))
        return -1;
    if (rq->n_marks == 0) {
        cli_err("nothing to mark: give --attended IDS, --no-show IDS or --csv FILE (with "
                "attendance filled in)");
        return -1;
    }
    return 0;
}

/* One line per sign-up; exit 4 when any mark was refused. */
static int
s_attendance_bulk_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    (void)c;
    const Kumppani__V1__BulkAttendanceReply *r = (const Kumppani__V1__BulkAttendanceReply *)m;
    cli_header((const cli_col_t[]){{"SIGNUP", 10}, {"RESULT", 0}, {0}});
    for (size_t i = 0; i < r->n_results; i++) {
        const Kumppani__V1__AttendanceResult *x = r->results[i];
        printf("%-10llu %s\n", (unsigned long long)x->signup_id,
               x->code != KUMPPANI__V1__CODE__CODE_OK                           ? x->message
               : x->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED ? "attended"
                                                                                : "no-show");
    }
    printf("%u of %zu marked\n", r->marked_n, r->n_results);
    return r->marked_n == r->n_results ? EXIT_OK_ : EXIT_SERVICE;
}

static const cli_optspec_t s_att_bulk_opts[] = {
    {"attended", true}, {"no-show", true}, {"csv", true}, {NULL, false}};

/* ---- the table --------------------------------------------------------------------------- */

#define EVENT_FIELD_OPTS                                                                           \
    {"title", true}, {"place", true}, {"online-url", true}, {"theme", true},                       \
        {"description", true}, {"language", true}, {"capacity", true}, {"municipality", true},     \
        {"organiser-org", true}, {"organiser-municipality", true}, {"offer-window", true},         \
        {"role-rules", true}, {"accessibility", true},                                             \
    {                                                                                              \
        "convener", true                                                                           \
    }

static const cli_optspec_t s_create_opts[] = {
    {"kind", true},          {"start", true},           {"end", true},
    {"capacity", true},      {"language", true},        {"deadline", true},
    {"organiser-org", true}, {"offer-window", true},    {"role-rules", true},
    {"convener", true},      {"idempotency-key", true}, {NULL, false},
};
static const cli_optspec_t s_page_opts[] = {{"limit", true}, {NULL, false}};
static const cli_optspec_t s_list_opts[] = {{"limit", true}, {"series", true}, {NULL, false}};
/* --after ID: the pages of events and of sign-ups. */
static const cli_optfield_t s_after_set[] = {{"after", .field = "after_id", .max = UINT64_MAX},
                                             {0}};
static const cli_optspec_t s_submit_opts[] = {{"role", true}, {"companions", true}, {NULL, false}};
static const cli_optspec_t s_update_opts[] = {EVENT_FIELD_OPTS, {NULL, false}};
static const cli_optspec_t s_series_opts[] = {
    EVENT_FIELD_OPTS,          {"kind", true},  {"start", true},     {"end", true},
    {"deadline", true},        {"count", true}, {"frequency", true}, {"publish", false},
    {"idempotency-key", true}, {NULL, false}};
static const cli_optspec_t s_output_opts[] = {{"output", true}, {NULL, false}};
static const cli_optspec_t s_feed_opts[] = {{"kind", true}, {"output", true}, {NULL, false}};
static const cli_optspec_t s_stats_opts[] = {
    {"kind", true}, {"by", true}, {"mode", true}, {NULL, false}};
static const cli_optspec_t s_att_opts[] = {{"attended", false}, {"no-show", false}, {NULL, false}};

/* ---- a coordinator's hand on the waitlist (issue 14) ------------------------------------- */

#define FIELDS_HELP                                                                                \
    "  --title T  --place P  --online-url U  --theme T  --description D  --language fi|sv|en\n"    \
    "  --capacity N  --municipality CODE  --organiser-org ORG_ID | --organiser-municipality "      \
    "CODE\n"                                                                                       \
    "  --accessibility TEXT  the place's accessibility facts (public, at most 1,000)\n"            \
    "  --offer-window MINUTES  (0: promote from the waitlist at once; 5..10080: offer the\n"       \
    "                          freed place until a deadline, then pass it on)\n"                   \
    "  --role-rules \"ROLE:max=N,ROLE:pct=P,ROLE:reserve=R\"  caps and reservations per role,\n"   \
    "                          e.g. \"civil-servant:pct=40,resident:reserve=5\"\n"                 \
    "  --convener PERSON_ID    a contact-person meeting: the registry person who convenes it\n"

#define REF_HELP "(--source S --id EXTID | --signup ID)"

#define SUBMIT_HELP                                                                                \
    "         [--phone P] [--organisation O] --role ROLE [--consent] [--language L]\n"             \
    "Submits a sign-up as the source system S with its own id EXTID (resending is safe: the\n"     \
    "service keeps the first). Give an e-mail, a phone or both. --consent agrees to\n"             \
    "reminders. ROLE is one of: resident, ngo, civil-servant, elected-official, business,\n"       \
    "experience-expert. A sign-up to a full event is waitlisted.\n"                                \
    "--companions N (0..20) signs up a group of 1 + N people, all or none: the group is\n"         \
    "confirmed only if every place fits, else the whole group waits. --accessibility and\n"        \
    "--dietary state needs (shown on the door list only); they are stored only with\n"             \
    "--consent-needs, the person's consent to that use.\n"                                         \
    "See also: kumppani signup cancel --help\n"

/* Sign-up submit, one row under each of its two names ("signup", "events signup"). */
#define SUBMIT_ROW(WORDS)                                                                          \
    {                                                                                              \
        .words = WORDS, .opts = s_submit_opts, .set = s_submit_set,                                \
        .help = "Usage: kumppani " WORDS                                                           \
                " --event ID --source S --id EXTID --name N [--email E]\n" SUBMIT_HELP,            \
        .flags = CLI_IN_SUMMARY, .method = "events.signup.submit", CLI_IN(submit_signup_request),  \
        .fill = s_submit, SIGNUP_OUT                                                               \
    }

/* The columns every row of a kind shares. */
#define EVENT_OUT                                                                                  \
    .service = EV, CLI_OUT(event_reply), .unwrap = "event", .noun = "an event",                    \
    .line = s_event_text, .view = s_event_view
#define EVENT_REF(m, more) .method = m, CLI_IN(event_ref), .id_field = "event_id", .flags = (more)
#define SIGNUP_OUT                                                                                 \
    .service = EV, CLI_OUT(signup_reply), .unwrap = "signup", .noun = "a sign-up",                 \
    .line = s_signup_text, .view = s_signup_view
#define SIGNUP_REF(m)                                                                              \
    .method = m, CLI_IN(cancel_signup_request), .fill = s_signup_ref, .set = s_ref_set
/* A series' occurrences: its caption, then a table of events. */
#define SERIES_OUT                                                                                 \
    .caption = s_series_print, CLI_LINES("events", s_event_cols, s_event_row), .view = s_series_view
#define TEXT_OUT .service = EV, CLI_OUT(event_text_reply), .print = s_text_print

/* ---- a series from an occurrence on, and longer (issue 16) -------------------------------- */

static int
s_series_update(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__UpdateSeriesRequest *rq = (Kumppani__V1__UpdateSeriesRequest *)m;
    rq->from_index = 1;
    if (cli_num32(c, "from", false, 1, UINT32_MAX, &rq->from_index) ||
        s_event_changes(c, &rq->values, &rq->fields, &rq->n_fields, NULL))
        return -1;
    bool start = cli_arg(c->a, "start") != NULL;
    if (start && (cli_time_opt(c, "start", true, &rq->start_unix) ||
                  cli_time_opt(c, "end", true, &rq->end_unix)))
        return -1;
    if (!start && cli_arg(c->a, "end")) {
        cli_err("--end goes with --start");
        return -1;
    }
    if (rq->n_fields == 0 && !start) {
        cli_err("give at least one field to change, or --start and --end (see --help)");
        return -1;
    }
    rq->reason_text = cli_str(c, "reason", "");
    return 0;
}

static int
s_series_extend(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ExtendSeriesRequest *rq = (Kumppani__V1__ExtendSeriesRequest *)m;
    uint64_t count = 0;
    if (cli_num(c, "count", true, 1, 60, &count))
        return -1;
    if (!(rq->frequency = s_frequency(c)) && cli_arg(c->a, "frequency")) {
        cli_err("--frequency must be weekly, biweekly, monthly-day or monthly-weekday");
        return -1;
    }
    rq->count = (uint32_t)count;
    rq->publish = cli_flag(c->a, "publish");
    return 0;
}

static const cli_optspec_t s_series_update_opts[] = {EVENT_FIELD_OPTS, {"from", true},
                                                     {"start", true},  {"end", true},
                                                     {"reason", true}, {NULL, false}};
static const cli_optspec_t s_series_extend_opts[] = {{"count", true},
                                                     {"frequency", true},
                                                     {"publish", false},
                                                     {"idempotency-key", true},
                                                     {NULL, false}};

const cli_cmd_t cli_cmds_events[] = {
    {.words = "events create",
     .opts = s_create_opts,
     .set = s_event_texts,
     .help =
         "Usage: kumppani events create --kind KIND --title T --municipality CODE\n"
         "         --start \"YYYY-MM-DD HH:MM\" --end \"YYYY-MM-DD HH:MM\" [--capacity N] [--place "
         "P]\n"
         "         [--online-url U] [--language fi|sv|en] [--deadline \"YYYY-MM-DD HH:MM\"]\n"
         "         [--idempotency-key K] [--theme T] [--description D]\n"
         "         [--accessibility TEXT]  the place's accessibility facts (public)\n"
         "         [--organiser-org ORG_ID | --organiser-municipality CODE]\n"
         "         [--offer-window MINUTES] [--role-rules "
         "\"ROLE:max=N,ROLE:pct=P,ROLE:reserve=R\"]\n"
         "Creates an event as a draft. Times are Europe/Helsinki. KIND is one of:\n"
         "  partnership-table, ngo-council-meeting, vitality-workshop, ngo-fair, seminar,\n"
         "  training, client-panel, contact-person-meeting, other\n"
         "Capacity 0 (the default) means no limit. Without --idempotency-key a random key is "
         "used,\n"
         "and printed if the service could not be reached: retry with it to avoid a duplicate.\n",
     .flags = CLI_IDEM_KEY | CLI_IN_SUMMARY,
     .method = "events.event.create",
     CLI_IN(create_event_request),
     .fill = s_create,
     EVENT_OUT},
    {.words = "events publish",
     .help = "Usage: kumppani events publish ID\nPublishes a draft event: it opens for sign-ups.\n",
     EVENT_REF("events.event.publish", CLI_IN_SUMMARY),
     EVENT_OUT},
    {.words = "events get",
     .help = "Usage: kumppani events get ID\nShows one event.\n",
     EVENT_REF("events.event.get", CLI_IN_SUMMARY),
     EVENT_OUT},
    {.words = "events list",
     .opts = s_list_opts,
     .help = "Usage: kumppani events list [--after ID] [--limit N] [--series SERIES_ID]\n"
             "Lists events with id > ID (default: all), ascending; without --limit, every page.\n"
             "With --series, only the occurrences of that series.\n",
     .flags = CLI_PAGED | CLI_IN_SUMMARY,
     CLI_CALL(EV, "events.event.list", list_events_request, list_events_reply),
     .set = s_after_set,
     .fill = s_list_fill,
     CLI_LINES("events", s_event_cols, s_event_row),
     .view = s_event_view,
     .page = s_list_page},
    {.words = "events signups",
     .opts = s_page_opts,
     .help = "Usage: kumppani events signups ID [--after SIGNUP_ID] [--limit N]\n"
             "Lists the event's sign-ups, ascending; without --limit, every page.\n",
     .flags = CLI_PAGED | CLI_IN_SUMMARY,
     CLI_CALL(EV, "events.signup.list", list_signups_request, list_signups_reply),
     .id_field = "event_id",
     .set = s_after_set,
     .fill = s_signups_fill,
     .page = s_signups_page},
    {.words = "signup cancel",
     .help = "Usage: kumppani signup cancel (--source S --id EXTID | --signup ID)\n"
             "Cancels a sign-up; the first on the waitlist moves up. Cancelling twice is "
             "harmless.\n",
     .flags = CLI_IN_SUMMARY,
     SIGNUP_REF("events.signup.cancel"),
     SIGNUP_OUT},
    SUBMIT_ROW("signup"),
    SUBMIT_ROW("events signup"),
    {.words = "events update",
     .opts = s_update_opts,
     .help = "Usage: kumppani events update ID [field options]\n"
             "Changes the fields given, of one event (one occurrence of a series). Times change\n"
             "only with 'events reschedule', so that people are told. Field options:\n" FIELDS_HELP,
     .method = "events.event.update",
     CLI_IN(update_event_request),
     .id_field = "event_id",
     .fill = s_update,
     EVENT_OUT},
    {.words = "events reschedule",
     .help = "Usage: kumppani events reschedule ID --start \"YYYY-MM-DD HH:MM\" --end \"...\"\n"
             "         [--deadline \"...\" | --no-deadline] [--reason TEXT]\n"
             "Gives the event a new time (Helsinki); every signed-up person is told. Without\n"
             "--deadline a sign-up deadline keeps its lead before the start (2 days before\n"
             "stays 2 days before); --no-deadline keeps sign-ups open until the start.\n",
     .method = "events.event.reschedule",
     CLI_IN(reschedule_event_request),
     .id_field = "event_id",
     .set = (const cli_optfield_t[]){{"start", .field = "start_unix", .required = true},
                                     {"end", .field = "end_unix", .required = true},
                                     {"deadline", .field = "signup_deadline_unix"},
                                     {"no-deadline", .field = "no_deadline"},
                                     {"reason", .field = "reason_text"},
                                     {0}},
     EVENT_OUT},
    {.words = "events cancel",
     .help = "Usage: kumppani events cancel ID --reason TEXT\n"
             "Cancels the event; every signed-up person is told, with the reason.\n",
     .method = "events.event.cancel",
     CLI_IN(cancel_event_request),
     .id_field = "event_id",
     .set = (const cli_optfield_t[]){{"reason", .field = "reason_text", .required = true}, {0}},
     EVENT_OUT},
    {.words = "events held",
     .help = "Usage: kumppani events held ID [--memo URL] [--materials URL]\n"
             "Marks a started event held, with links to its memo and materials.\n",
     .method = "events.event.held",
     CLI_IN(held_event_request),
     .id_field = "event_id",
     .set = (const cli_optfield_t[]){{"memo", .field = "memo_url"},
                                     {"materials", .field = "materials_url"},
                                     {0}},
     EVENT_OUT},
    {.words = "events series",
     .opts = s_series_opts,
     .help = "Usage: kumppani events series --kind KIND --title T --municipality CODE\n"
             "         --start \"YYYY-MM-DD HH:MM\" --end \"...\" --frequency F --count N "
             "[--publish]\n"
             "         [--deadline \"...\"] [field options] [--idempotency-key K]\n"
             "Creates N occurrences (2..60) at the same Helsinki time. F is weekly, biweekly,\n"
             "monthly-day (same day of month) or monthly-weekday (e.g. every 2nd Tuesday). Change "
             "one\n"
             "occurrence later with events update/reschedule/cancel; list them with\n"
             "'events list --series ID'. Field options:\n" FIELDS_HELP,
     .flags = CLI_IDEM_KEY,
     CLI_CALL(EV, "events.series.create", create_series_request, series_reply),
     .fill = s_series,
     SERIES_OUT},
    {.words = "events balance",
     .help = "Usage: kumppani events balance ID\n"
             "Shows the live role balance: places per role, caps and reservations.\n",
     EVENT_REF("events.event.get", 0),
     .service = EV,
     CLI_OUT(event_reply),
     .unwrap = "event",
     .noun = "an event",
     .print = s_balance_print,
     .json = s_balance},
    {.words = "events door-csv",
     .opts = s_output_opts,
     .help = "Usage: kumppani events door-csv ID [--output FILE]\n"
             "The confirmed sign-ups as CSV for the door (name, organisation, role, companions,\n"
             "accessibility and dietary needs, attendance).\n",
     EVENT_REF("events.signup.door_csv", 0),
     TEXT_OUT},
    {.words = "events ical",
     .opts = s_output_opts,
     .help = "Usage: kumppani events ical ID [--output FILE]\nOne event as iCalendar (.ics).\n",
     EVENT_REF("events.ical.event", 0),
     TEXT_OUT},
    {.words = "events ical-feed",
     .opts = s_feed_opts,
     .help = "Usage: kumppani events ical-feed [--municipality CODE] [--kind KIND] [--theme T]\n"
             "         [--from \"YYYY-MM-DD HH:MM\"] [--output FILE]\n"
             "The upcoming events as an iCalendar feed.\n",
     .method = "events.ical.feed",
     CLI_IN(ical_feed_request),
     .set = (const cli_optfield_t[]){{"from", .field = "from_unix"},
                                     {"municipality", .field = "municipality_code"},
                                     {.opt = "theme"},
                                     {0}},
     .fill = s_ical_feed,
     TEXT_OUT},
    {.words = "events stats",
     .opts = s_stats_opts,
     .help = "Usage: kumppani events stats [--from \"YYYY-MM-DD HH:MM\"] [--to \"...\"]\n"
             "         [--municipality CODE] [--kind KIND] [--by "
             "kind|municipality|role|month|event]\n"
             "         [--mode online|online-only|in-person|hybrid]\n"
             "Events, participants (confirmed sign-ups; their companions counted apart),\n"
             "attendance (places), distinct people (by e-mail or phone) and organisations: in\n"
             "total and per kind, municipality, role, month and event. --mode filters by the\n"
             "event's links (online: it has an online link). Drafts are not counted; "
             "participants of\n"
             "cancelled events are not counted.\n",
     CLI_CALL(EV, "events.stats", event_stats_request, event_stats_reply),
     .set = (const cli_optfield_t[]){{"from", .field = "from_unix"},
                                     {"to", .field = "to_unix"},
                                     {"municipality", .field = "municipality_code"},
                                     {0}},
     .fill = s_stats,
     .print = s_stats_print,
     .view = s_stats_view},
    {.words = "events cancel-signup",
     .help = "Usage: kumppani events cancel-signup " REF_HELP "\n"
             "Cancels a sign-up; the freed place goes to the waitlist.\n",
     SIGNUP_REF("events.signup.cancel"),
     SIGNUP_OUT},
    {.words = "events accept-offer",
     .help = "Usage: kumppani events accept-offer " REF_HELP "\nAccepts an offered place.\n",
     SIGNUP_REF("events.signup.accept_offer"),
     SIGNUP_OUT},
    {.words = "events decline-offer",
     .help = "Usage: kumppani events decline-offer " REF_HELP "\n"
             "Declines an offered place; it passes to the next on the waitlist.\n",
     SIGNUP_REF("events.signup.decline_offer"),
     SIGNUP_OUT},
    {.words = "events leave-waitlist",
     .help =
         "Usage: kumppani events leave-waitlist " REF_HELP "\nTakes a sign-up off the waitlist.\n",
     SIGNUP_REF("events.signup.leave_waitlist"),
     SIGNUP_OUT},
    {.words = "events attendance",
     .opts = s_att_opts,
     .help = "Usage: kumppani events attendance --signup ID (--attended | --no-show)\n"
             "Marks a confirmed sign-up of a started event.\n",
     .method = "events.signup.attendance",
     CLI_IN(signup_attendance_request),
     .set =
         (const cli_optfield_t[]){
             {"signup", .field = "signup_id", .required = true, .min = 1, .max = UINT64_MAX}, {0}},
     .fill = s_attendance,
     SIGNUP_OUT},
    {.words = "events attendance-bulk",
     .opts = s_att_bulk_opts,
     .help = "Usage: kumppani events attendance-bulk [--attended IDS] [--no-show IDS] [--csv "
             "FILE]\n"
             "Marks many confirmed sign-ups of started events in one call (at most 1000): IDS\n"
             "are sign-up ids separated by commas; FILE is the door list of `events door-csv`\n"
             "with its \"attendance\" column filled in (attended, no-show, or empty to leave\n"
             "the row out; - reads standard input). Each sign-up gets its own result; exit 4\n"
             "when any was refused.\n",
     CLI_CALL(EV, "events.signup.attendance_bulk", bulk_attendance_request, bulk_attendance_reply),
     .fill = s_attendance_bulk,
     .print = s_attendance_bulk_print},
    {.words = "events series-update",
     .opts = s_series_update_opts,
     .help = "Usage: kumppani events series-update SERIES [--from N] [field options]\n"
             "         [--start \"YYYY-MM-DD HH:MM\" --end \"...\" [--reason TEXT]]\n"
             "Changes the occurrences of a series from occurrence N on (default 1), those not\n"
             "started, cancelled or held: the fields given, and with --start/--end a new time\n"
             "for occurrence N, the later ones moved by the same days to the same time of day\n"
             "(each a reschedule: people are told). All are checked before any is changed.\n"
             "Field options:\n" FIELDS_HELP,
     CLI_CALL(EV, "events.series.update", update_series_request, series_reply),
     .id_field = "series_id",
     .fill = s_series_update,
     SERIES_OUT},
    {.words = "events series-extend",
     .opts = s_series_extend_opts,
     .help = "Usage: kumppani events series-extend SERIES --count N [--frequency F] [--publish]\n"
             "         [--idempotency-key K]\n"
             "Adds N occurrences (1..60) after the last one, at the series' frequency (F for a\n"
             "series made before the frequency was kept), with the last one's fields.\n",
     .flags = CLI_IDEM_KEY,
     CLI_CALL(EV, "events.series.extend", extend_series_request, series_reply),
     .id_field = "series_id",
     .fill = s_series_extend,
     SERIES_OUT},
    {.words = "events promote",
     .help = "Usage: kumppani events promote --signup ID [--beyond-capacity]\n"
             "Moves a waitlisted sign-up up out of turn: offered the place when the event works\n"
             "with offers, else confirmed. One that does not fit the capacity and role rules is\n"
             "refused unless --beyond-capacity.\n",
     .method = "events.signup.promote",
     CLI_IN(promote_signup_request),
     .set = (const cli_optfield_t[]){{"signup", .field = "signup_id", .required = true, .min = 1,
                                      .max = UINT64_MAX},
                                     {"beyond-capacity", .field = "beyond_capacity"},
                                     {0}},
     SIGNUP_OUT},
    {.words = "events extend-offer",
     .help = "Usage: kumppani events extend-offer --signup ID --minutes N\n"
             "Moves an open offer's deadline N minutes (1..10080) later, never past the start;\n"
             "the person is told.\n",
     .method = "events.signup.extend_offer",
     CLI_IN(extend_offer_request),
     .set = (const cli_optfield_t[]){{"signup", .field = "signup_id", .required = true, .min = 1,
                                      .max = UINT64_MAX},
                                     {"minutes", .required = true, .min = 1, .max = 10080},
                                     {0}},
     SIGNUP_OUT},
    {0},
};
