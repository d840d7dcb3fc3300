/*  cmd_events.c: the `kumppani events ...` commands beyond create/publish/get/list/signups
 *  (which live in kumppani.c): update, reschedule, cancel, held, series, balance, sign-up
 *  operations (submit, cancel, accept/decline an offer, leave the waitlist, attendance), the
 *  door CSV, statistics and iCalendar. Each calls one method through cli_call and prints a
 *  table, the text, or --json. */
#include "cli_cmd.h"
#include "kp_arena.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV "events"

/* ---- helpers ----------------------------------------------------------------------------- */

static int
s_time(cli_ctx_t *c, const char *name, bool required, int64_t *out)
{
    const char *v = cli_arg(c->a, name);
    char why[128];
    if (!v) {
        if (required)
            cli_err("--%s is required", name);
        return required ? -1 : 0;
    }
    if (cli_time_parse(v, out, why, sizeof why) != 0) {
        cli_err("--%s: %s", name, why);
        return -1;
    }
    return 0;
}

static const char *
s_str(cli_ctx_t *c, const char *name)
{
    const char *v = cli_arg(c->a, name);
    return v ? v : "";
}

static int
s_event_out(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__EventReply *r = (Kumppani__V1__EventReply *)m;
    int ex = EXIT_OK_;
    if (!r->event) {
        cli_err("the events service answered without an event");
        ex = EXIT_OTHER;
    } else if (c->json) {
        ex = cli_json_print(cli_event_json(r->event));
    } else {
        cli_event_print(r->event);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return ex;
}

static int
s_signup_out(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__SignupReply *r = (Kumppani__V1__SignupReply *)m;
    int ex = EXIT_OK_;
    if (!r->signup) {
        cli_err("the events service answered without a sign-up");
        ex = EXIT_OTHER;
    } else if (c->json) {
        ex = cli_json_print(cli_signup_json(r->signup));
    } else {
        cli_signup_print(r->signup);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return ex;
}

/* Writes a text reply to --output FILE or stdout (--json: an object with the text). */
static int
s_text_out(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__EventTextReply *r = (Kumppani__V1__EventTextReply *)m;
    const char *path = cli_arg(c->a, "output");
    int ex = EXIT_OK_;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "content_type", cli_json_str(r->content_type));
        json_object_set_new(o, "filename", cli_json_str(r->filename));
        json_object_set_new(o, "text", cli_json_str(r->text));
        ex = cli_json_print(o);
    } else if (path) {
        FILE *f = fopen(path, "wb");
        if (!f || fputs(r->text, f) < 0 || fclose(f) != 0) {
            cli_err("cannot write %s", path);
            ex = EXIT_OTHER;
        } else {
            fprintf(stderr, "kumppani: wrote %s\n", path);
        }
    } else {
        fputs(r->text, stdout);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return ex;
}

/* Parses "ROLE:max=N,ROLE:pct=P,ROLE:reserve=R" (several keys of one role merge). Returns 0 or
 * -1 (reported); rules are malloc'd into *out (free with cli_role_rules_free). */
int
cli_role_rules_parse(const char *spec, Kumppani__V1__RoleRule ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!*spec)
        return 0;
    char *copy = kp_xstrdup(spec), *save = NULL;
    Kumppani__V1__RoleRule **v = kp_xcalloc(16, sizeof *v);
    int rc = 0;
    for (char *item = copy; item && !rc; item = save) {
        save = strchr(item, ',');
        if (save)
            *save++ = 0;
        char *colon = strchr(item, ':'), *eq = colon ? strchr(colon, '=') : NULL;
        int role;
        uint64_t num;
        if (!colon || !eq) {
            rc = -1;
            break;
        }
        *colon = 0;
        *eq = 0;
        if (cli_role_parse(item, &role) != 0 || cli_parse_u64(eq + 1, 0, 100000, &num) != 0) {
            rc = -1;
            break;
        }
        Kumppani__V1__RoleRule *r = NULL;
        for (size_t i = 0; i < *n; i++)
            if ((int)v[i]->role == role)
                r = v[i];
        if (!r) {
            if (*n == 16) {
                rc = -1;
                break;
            }
            r = kp_xcalloc(1, sizeof *r);
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
            rc = -1;
    }
    free(copy);
    *out = v;
    if (rc) {
        cli_role_rules_free(v, *n);
        *out = NULL;
        *n = 0;
    }
    if (rc)
        cli_err("--role-rules: ROLE:max=N, ROLE:pct=P or ROLE:reserve=R, comma-separated "
                "(roles: %s)",
                cli_role_list());
    return rc;
}

void
cli_role_rules_free(Kumppani__V1__RoleRule **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The event fields shared by create, series and update, from the options present. Marks
 * each option given in *fields (for update). Returns 0 or -1 (reported). */
static int
s_event_fields(cli_ctx_t *c, Kumppani__V1__CreateEventRequest *rq, const char **fields, size_t *nf)
{
    static const struct {
        const char *opt, *field;
    } map[] = {{"title", "title"},
               {"place", "place"},
               {"online-url", "online_url"},
               {"theme", "theme"},
               {"description", "description"},
               {"language", "language"},
               {"capacity", "capacity"},
               {"municipality", "municipality_code"},
               {"organiser-org", "organiser"},
               {"organiser-municipality", "organiser"},
               {"offer-window", "offer_window_minutes"},
               {"role-rules", "role_rules"}};
    uint64_t cap = 0, org = 0, win = 0;
    if (cli_num(c, "capacity", false, 0, UINT32_MAX, &cap) ||
        cli_num(c, "organiser-org", false, 1, UINT64_MAX, &org) ||
        cli_num(c, "offer-window", false, 0, UINT32_MAX, &win))
        return -1;
    rq->title = (char *)s_str(c, "title");
    rq->place = (char *)s_str(c, "place");
    rq->online_url = (char *)s_str(c, "online-url");
    rq->theme = (char *)s_str(c, "theme");
    rq->description_text = (char *)s_str(c, "description");
    rq->language = (char *)s_str(c, "language");
    rq->municipality_code = (char *)s_str(c, "municipality");
    rq->organiser_municipality_code = (char *)s_str(c, "organiser-municipality");
    rq->organiser_organisation_id = org;
    rq->capacity = (uint32_t)cap;
    rq->offer_window_minutes = (uint32_t)win;
    if (cli_role_rules_parse(s_str(c, "role-rules"), &rq->role_rules, &rq->n_role_rules))
        return -1;
    if (fields)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            bool dup = false;
            for (size_t j = 0; j < *nf; j++)
                dup = dup || strcmp(fields[j], map[i].field) == 0;
            if (cli_arg(c->a, map[i].opt) && !dup)
                fields[(*nf)++] = map[i].field;
        }
    return 0;
}

static const char *
s_random_key(cli_ctx_t *c, char *buf)
{
    const char *key = cli_arg(c->a, "idempotency-key");
    if (key)
        return *key ? key : NULL;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, 33, raw, sizeof raw);
    return buf;
}

/* ---- events ------------------------------------------------------------------------------ */

static int
s_update(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__UpdateEventRequest rq = KUMPPANI__V1__UPDATE_EVENT_REQUEST__INIT;
    Kumppani__V1__CreateEventRequest v = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    const char *fields[16];
    size_t nf = 0;
    if (s_event_fields(c, &v, fields, &nf)) {
        cli_role_rules_free(v.role_rules, v.n_role_rules);
        return EXIT_USAGE;
    }
    if (nf == 0) {
        cli_err("give at least one field to change (see --help)");
        cli_role_rules_free(v.role_rules, v.n_role_rules);
        return EXIT_USAGE;
    }
    rq.event_id = id;
    rq.values = &v;
    rq.fields = (char **)fields;
    rq.n_fields = nf;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.event.update", NULL, &rq.base,
                      &kumppani__v1__event_reply__descriptor, &out);
    cli_role_rules_free(v.role_rules, v.n_role_rules);
    return ex ? ex : s_event_out(c, out);
}

static int
s_reschedule(cli_ctx_t *c)
{
    uint64_t id;
    Kumppani__V1__RescheduleEventRequest rq = KUMPPANI__V1__RESCHEDULE_EVENT_REQUEST__INIT;
    if (cli_pos_id(c, &id) || s_time(c, "start", true, &rq.start_unix) ||
        s_time(c, "end", true, &rq.end_unix) ||
        s_time(c, "deadline", false, &rq.signup_deadline_unix))
        return EXIT_USAGE;
    rq.event_id = id;
    rq.reason_text = (char *)s_str(c, "reason");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.event.reschedule", NULL, &rq.base,
                      &kumppani__v1__event_reply__descriptor, &out);
    return ex ? ex : s_event_out(c, out);
}

static int
s_cancel(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    if (!cli_arg(c->a, "reason")) {
        cli_err("--reason is required");
        return EXIT_USAGE;
    }
    Kumppani__V1__CancelEventRequest rq = KUMPPANI__V1__CANCEL_EVENT_REQUEST__INIT;
    rq.event_id = id;
    rq.reason_text = (char *)s_str(c, "reason");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.event.cancel", NULL, &rq.base,
                      &kumppani__v1__event_reply__descriptor, &out);
    return ex ? ex : s_event_out(c, out);
}

static int
s_held(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__HeldEventRequest rq = KUMPPANI__V1__HELD_EVENT_REQUEST__INIT;
    rq.event_id = id;
    rq.memo_url = (char *)s_str(c, "memo");
    rq.materials_url = (char *)s_str(c, "materials");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.event.held", NULL, &rq.base,
                      &kumppani__v1__event_reply__descriptor, &out);
    return ex ? ex : s_event_out(c, out);
}

static int
s_series(cli_ctx_t *c)
{
    static const char *const freqs[] = {NULL, "weekly", "biweekly", "monthly-day",
                                        "monthly-weekday"};
    Kumppani__V1__CreateSeriesRequest rq = KUMPPANI__V1__CREATE_SERIES_REQUEST__INIT;
    Kumppani__V1__CreateEventRequest f = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    const char *kind = cli_arg(c->a, "kind"), *freq = cli_arg(c->a, "frequency");
    int k;
    uint64_t count = 0;
    if (cli_no_pos(c) || cli_num(c, "count", true, 2, 60, &count))
        return EXIT_USAGE;
    if (!kind || cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind is required (one of: %s)", cli_kind_list());
        return EXIT_USAGE;
    }
    for (int i = 1; i < 5 && freq; i++)
        if (strcmp(freq, freqs[i]) == 0)
            rq.frequency = i;
    if (!rq.frequency) {
        cli_err("--frequency is required: weekly, biweekly, monthly-day or monthly-weekday");
        return EXIT_USAGE;
    }
    if (s_time(c, "start", true, &f.start_unix) || s_time(c, "end", true, &f.end_unix) ||
        s_time(c, "deadline", false, &f.signup_deadline_unix) || s_event_fields(c, &f, NULL, 0)) {
        cli_role_rules_free(f.role_rules, f.n_role_rules);
        return EXIT_USAGE;
    }
    f.kind = k;
    rq.first = &f;
    rq.count = (uint32_t)count;
    rq.publish = cli_flag(c->a, "publish");
    char kb[33];
    const char *key = s_random_key(c, kb);
    if (!key) {
        cli_err("--idempotency-key must not be empty");
        cli_role_rules_free(f.role_rules, f.n_role_rules);
        return EXIT_USAGE;
    }
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.series.create", key, &rq.base,
                      &kumppani__v1__series_reply__descriptor, &out);
    cli_role_rules_free(f.role_rules, f.n_role_rules);
    if (ex == EXIT_UNREACHABLE)
        fprintf(stderr,
                "kumppani: to retry without creating a duplicate, add --idempotency-key %s\n", key);
    if (ex)
        return ex;
    Kumppani__V1__SeriesReply *r = (Kumppani__V1__SeriesReply *)out;
    if (c->json) {
        json_t *o = json_object(), *arr = json_array();
        json_object_set_new(o, "series_id", json_integer((json_int_t)r->series_id));
        for (size_t i = 0; i < r->n_events; i++)
            json_array_append_new(arr, cli_event_json(r->events[i]));
        json_object_set_new(o, "events", arr);
        ex = cli_json_print(o);
    } else {
        printf("series %llu: %zu events\n\n", (unsigned long long)r->series_id, r->n_events);
        cli_event_row_header();
        for (size_t i = 0; i < r->n_events; i++)
            cli_event_row(r->events[i]);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return ex;
}

static int
s_balance(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
    rq.event_id = id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.event.get", NULL, &rq.base,
                      &kumppani__v1__event_reply__descriptor, &out);
    if (ex)
        return ex;
    const Kumppani__V1__EventInfo *e = ((Kumppani__V1__EventReply *)out)->event;
    json_t *arr = c->json ? json_array() : NULL;
    if (!arr) {
        printf("event %llu: %u of %s places confirmed, %u offered, %u waitlisted\n\n",
               (unsigned long long)e->id, e->confirmed_n, e->capacity ? "" : "unlimited",
               e->offered_n, e->waitlisted_n);
        if (e->capacity)
            printf("(capacity %u)\n\n", e->capacity);
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
    protobuf_c_message_free_unpacked(out, NULL);
    return arr ? cli_json_print(arr) : EXIT_OK_;
}

static int
s_door_csv(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
    rq.event_id = id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.signup.door_csv", NULL, &rq.base,
                      &kumppani__v1__event_text_reply__descriptor, &out);
    return ex ? ex : s_text_out(c, out);
}

static int
s_ical(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__EventRef rq = KUMPPANI__V1__EVENT_REF__INIT;
    rq.event_id = id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.ical.event", NULL, &rq.base,
                      &kumppani__v1__event_text_reply__descriptor, &out);
    return ex ? ex : s_text_out(c, out);
}

static int
s_ical_feed(cli_ctx_t *c)
{
    Kumppani__V1__IcalFeedRequest rq = KUMPPANI__V1__ICAL_FEED_REQUEST__INIT;
    const char *kind = cli_arg(c->a, "kind");
    int k = 0;
    if (cli_no_pos(c) || s_time(c, "from", false, &rq.from_unix))
        return EXIT_USAGE;
    if (kind && cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind must be one of: %s", cli_kind_list());
        return EXIT_USAGE;
    }
    rq.kind = k;
    rq.municipality_code = (char *)s_str(c, "municipality");
    rq.theme = (char *)s_str(c, "theme");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.ical.feed", NULL, &rq.base,
                      &kumppani__v1__event_text_reply__descriptor, &out);
    return ex ? ex : s_text_out(c, out);
}

static json_t *
s_row_json(const Kumppani__V1__EventStatsRow *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", cli_json_str(r->key));
    if (r->title && *r->title)
        json_object_set_new(o, "title", cli_json_str(r->title));
    json_object_set_new(o, "events", json_integer(r->events_n));
    json_object_set_new(o, "held", json_integer(r->held_n));
    json_object_set_new(o, "cancelled", json_integer(r->cancelled_n));
    json_object_set_new(o, "participants", json_integer(r->participants_n));
    json_object_set_new(o, "waitlisted", json_integer(r->waitlisted_n));
    json_object_set_new(o, "attended", json_integer(r->attended_n));
    json_object_set_new(o, "no_show", json_integer(r->no_show_n));
    return o;
}

static void
s_rows_print(const char *title, Kumppani__V1__EventStatsRow **v, size_t n)
{
    printf("\n%s\n%-22s %6s %5s %9s %12s %10s %8s %7s\n", title, "", "EVENTS", "HELD", "CANCELLED",
           "PARTICIPANTS", "WAITLISTED", "ATTENDED", "NO-SHOW");
    for (size_t i = 0; i < n; i++)
        printf("%-22s %6u %5u %9u %12u %10u %8u %7u%s%s\n", v[i]->key, v[i]->events_n, v[i]->held_n,
               v[i]->cancelled_n, v[i]->participants_n, v[i]->waitlisted_n, v[i]->attended_n,
               v[i]->no_show_n, v[i]->title && *v[i]->title ? "  " : "",
               v[i]->title ? v[i]->title : "");
}

static int
s_stats(cli_ctx_t *c)
{
    Kumppani__V1__EventStatsRequest rq = KUMPPANI__V1__EVENT_STATS_REQUEST__INIT;
    const char *kind = cli_arg(c->a, "kind");
    int k = 0;
    if (cli_no_pos(c) || s_time(c, "from", false, &rq.from_unix) ||
        s_time(c, "to", false, &rq.to_unix))
        return EXIT_USAGE;
    if (kind && cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind must be one of: %s", cli_kind_list());
        return EXIT_USAGE;
    }
    rq.kind = k;
    rq.municipality_code = (char *)s_str(c, "municipality");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.stats", NULL, &rq.base,
                      &kumppani__v1__event_stats_reply__descriptor, &out);
    if (ex)
        return ex;
    Kumppani__V1__EventStatsReply *r = (Kumppani__V1__EventStatsReply *)out;
    struct {
        const char *name;
        Kumppani__V1__EventStatsRow **v;
        size_t n;
    } g[] = {{"by_kind", r->by_kind, r->n_by_kind},
             {"by_municipality", r->by_municipality, r->n_by_municipality},
             {"by_role", r->by_role, r->n_by_role},
             {"by_month", r->by_month, r->n_by_month},
             {"by_event", r->by_event, r->n_by_event}};
    if (c->json) {
        json_t *o = json_object();
        if (r->total)
            json_object_set_new(o, "total", s_row_json(r->total));
        for (size_t i = 0; i < 5; i++) {
            json_t *arr = json_array();
            for (size_t j = 0; j < g[i].n; j++)
                json_array_append_new(arr, s_row_json(g[i].v[j]));
            json_object_set_new(o, g[i].name, arr);
        }
        ex = cli_json_print(o);
    } else {
        if (r->total)
            printf("%u events (%u held, %u cancelled), %u participants, %u attended\n",
                   r->total->events_n, r->total->held_n, r->total->cancelled_n,
                   r->total->participants_n, r->total->attended_n);
        const char *by = cli_arg(c->a, "by");
        for (size_t i = 0; i < 5; i++)
            if (!by || strcmp(by, g[i].name + 3) == 0)
                s_rows_print(g[i].name + 3, g[i].v, g[i].n);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return ex;
}

/* ---- sign-up operations ------------------------------------------------------------------ */

static int
s_signup_ref(cli_ctx_t *c, const char *method)
{
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    const char *source = cli_arg(c->a, "source"), *ext = cli_arg(c->a, "id");
    uint64_t signup_id = 0;
    if (cli_no_pos(c) || cli_num(c, "signup", false, 1, UINT64_MAX, &signup_id))
        return EXIT_USAGE;
    bool by_ext = source && ext, by_id = signup_id != 0;
    if (by_ext == by_id || (!by_ext && (source || ext))) {
        cli_err("give either --source and --id, or --signup");
        return EXIT_USAGE;
    }
    rq.source = (char *)(source ? source : "");
    rq.external_id = (char *)(ext ? ext : "");
    rq.signup_id = signup_id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, method, NULL, &rq.base, &kumppani__v1__signup_reply__descriptor, &out);
    return ex ? ex : s_signup_out(c, out);
}

static int
s_accept(cli_ctx_t *c)
{
    return s_signup_ref(c, "events.signup.accept_offer");
}

static int
s_decline(cli_ctx_t *c)
{
    return s_signup_ref(c, "events.signup.decline_offer");
}

static int
s_leave(cli_ctx_t *c)
{
    return s_signup_ref(c, "events.signup.leave_waitlist");
}

static int
s_cancel_signup(cli_ctx_t *c)
{
    return s_signup_ref(c, "events.signup.cancel");
}

static int
s_attendance(cli_ctx_t *c)
{
    Kumppani__V1__SignupAttendanceRequest rq = KUMPPANI__V1__SIGNUP_ATTENDANCE_REQUEST__INIT;
    uint64_t id;
    if (cli_no_pos(c) || cli_num(c, "signup", true, 1, UINT64_MAX, &id))
        return EXIT_USAGE;
    bool yes = cli_flag(c->a, "attended"), no = cli_flag(c->a, "no-show");
    if (yes == no) {
        cli_err("give --attended or --no-show");
        return EXIT_USAGE;
    }
    rq.signup_id = id;
    rq.attendance = yes ? KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED
                        : KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, EV, "events.signup.attendance", NULL, &rq.base,
                      &kumppani__v1__signup_reply__descriptor, &out);
    return ex ? ex : s_signup_out(c, out);
}

/* ---- the table --------------------------------------------------------------------------- */

#define EVENT_FIELD_OPTS                                                                           \
    {"title", true}, {"place", true}, {"online-url", true}, {"theme", true},                       \
        {"description", true}, {"language", true}, {"capacity", true}, {"municipality", true},     \
        {"organiser-org", true}, {"organiser-municipality", true}, {"offer-window", true},         \
    {                                                                                              \
        "role-rules", true                                                                         \
    }

static const cli_optspec_t s_update_opts[] = {EVENT_FIELD_OPTS, {NULL, false}};
static const cli_optspec_t s_series_opts[] = {
    EVENT_FIELD_OPTS,          {"kind", true},  {"start", true},     {"end", true},
    {"deadline", true},        {"count", true}, {"frequency", true}, {"publish", false},
    {"idempotency-key", true}, {NULL, false}};
static const cli_optspec_t s_resched_opts[] = {
    {"start", true}, {"end", true}, {"deadline", true}, {"reason", true}, {NULL, false}};
static const cli_optspec_t s_cancel_opts[] = {{"reason", true}, {NULL, false}};
static const cli_optspec_t s_held_opts[] = {{"memo", true}, {"materials", true}, {NULL, false}};
static const cli_optspec_t s_none_opts[] = {{NULL, false}};
static const cli_optspec_t s_output_opts[] = {{"output", true}, {NULL, false}};
static const cli_optspec_t s_feed_opts[] = {{"municipality", true}, {"kind", true},
                                            {"theme", true},        {"from", true},
                                            {"output", true},       {NULL, false}};
static const cli_optspec_t s_stats_opts[] = {{"from", true}, {"to", true}, {"municipality", true},
                                             {"kind", true}, {"by", true}, {NULL, false}};
static const cli_optspec_t s_ref_opts[] = {
    {"source", true}, {"id", true}, {"signup", true}, {NULL, false}};
static const cli_optspec_t s_att_opts[] = {
    {"signup", true}, {"attended", false}, {"no-show", false}, {NULL, false}};

#define FIELDS_HELP                                                                                \
    "  --title T  --place P  --online-url U  --theme T  --description D  --language fi|sv|en\n"    \
    "  --capacity N  --municipality CODE  --organiser-org ORG_ID | --organiser-municipality "      \
    "CODE\n"                                                                                       \
    "  --offer-window MINUTES  (0: promote from the waitlist at once; 5..10080: offer the\n"       \
    "                          freed place until a deadline, then pass it on)\n"                   \
    "  --role-rules \"ROLE:max=N,ROLE:pct=P,ROLE:reserve=R\"  caps and reservations per role,\n"   \
    "                          e.g. \"civil-servant:pct=40,resident:reserve=5\"\n"

#define REF_HELP "(--source S --id EXTID | --signup ID)"

const cli_cmd_t cli_cmds_events[] = {
    {"events update", s_update_opts,
     "Usage: kumppani events update ID [field options]\n"
     "Changes the fields given, of one event (one occurrence of a series). Times change\n"
     "only with 'events reschedule', so that people are told. Field options:\n" FIELDS_HELP,
     s_update},
    {"events reschedule", s_resched_opts,
     "Usage: kumppani events reschedule ID --start \"YYYY-MM-DD HH:MM\" --end \"...\"\n"
     "         [--deadline \"...\"] [--reason TEXT]\n"
     "Gives the event a new time (Helsinki); every signed-up person is told.\n",
     s_reschedule},
    {"events cancel", s_cancel_opts,
     "Usage: kumppani events cancel ID --reason TEXT\n"
     "Cancels the event; every signed-up person is told, with the reason.\n",
     s_cancel},
    {"events held", s_held_opts,
     "Usage: kumppani events held ID [--memo URL] [--materials URL]\n"
     "Marks a started event held, with links to its memo and materials.\n",
     s_held},
    {"events series", s_series_opts,
     "Usage: kumppani events series --kind KIND --title T --municipality CODE\n"
     "         --start \"YYYY-MM-DD HH:MM\" --end \"...\" --frequency F --count N [--publish]\n"
     "         [--deadline \"...\"] [field options] [--idempotency-key K]\n"
     "Creates N occurrences (2..60) at the same Helsinki time. F is weekly, biweekly,\n"
     "monthly-day (same day of month) or monthly-weekday (e.g. every 2nd Tuesday). Change one\n"
     "occurrence later with events update/reschedule/cancel; list them with\n"
     "'events list --series ID'. Field options:\n" FIELDS_HELP,
     s_series},
    {"events balance", s_none_opts,
     "Usage: kumppani events balance ID\n"
     "Shows the live role balance: places per role, caps and reservations.\n",
     s_balance},
    {"events door-csv", s_output_opts,
     "Usage: kumppani events door-csv ID [--output FILE]\n"
     "The confirmed sign-ups as CSV for the door (name, organisation, role, companions,\n"
     "accessibility and dietary needs, attendance).\n",
     s_door_csv},
    {"events ical", s_output_opts,
     "Usage: kumppani events ical ID [--output FILE]\nOne event as iCalendar (.ics).\n", s_ical},
    {"events ical-feed", s_feed_opts,
     "Usage: kumppani events ical-feed [--municipality CODE] [--kind KIND] [--theme T]\n"
     "         [--from \"YYYY-MM-DD HH:MM\"] [--output FILE]\n"
     "The upcoming events as an iCalendar feed.\n",
     s_ical_feed},
    {"events stats", s_stats_opts,
     "Usage: kumppani events stats [--from \"YYYY-MM-DD HH:MM\"] [--to \"...\"]\n"
     "         [--municipality CODE] [--kind KIND] [--by kind|municipality|role|month|event]\n"
     "Events, participants (with companions), attendance: in total and per kind,\n"
     "municipality, role, month and event. Drafts are not counted; participants of cancelled\n"
     "events are not counted.\n",
     s_stats},
    {"events cancel-signup", s_ref_opts,
     "Usage: kumppani events cancel-signup " REF_HELP "\n"
     "Cancels a sign-up; the freed place goes to the waitlist.\n",
     s_cancel_signup},
    {"events accept-offer", s_ref_opts,
     "Usage: kumppani events accept-offer " REF_HELP "\nAccepts an offered place.\n", s_accept},
    {"events decline-offer", s_ref_opts,
     "Usage: kumppani events decline-offer " REF_HELP "\n"
     "Declines an offered place; it passes to the next on the waitlist.\n",
     s_decline},
    {"events leave-waitlist", s_ref_opts,
     "Usage: kumppani events leave-waitlist " REF_HELP "\nTakes a sign-up off the waitlist.\n",
     s_leave},
    {"events attendance", s_att_opts,
     "Usage: kumppani events attendance --signup ID (--attended | --no-show)\n"
     "Marks a confirmed sign-up of a started event.\n",
     s_attendance},
    {NULL, NULL, NULL, NULL},
};
