/*  kumppani: the command-line client of the Kumppani services.
 *
 *  Design. Each command is a row of s_cmds: its words, its options, its help text and a run
 *  function. main() finds the command, parses its options together with the global ones
 *  (which may come before or after the command), connects to the service through libkumppani
 *  (client/kumppani.h) and maps the outcome to an exit code:
 *
 *      0 ok   1 other failure   2 usage error   3 service unreachable   4 service error
 *
 *  A call never hangs: libkumppani gives up after --attempts attempts of --timeout ms each,
 *  and resends carry the same request id and idempotency key, so its retries are safe. For
 *  "events create" the CLI makes a random idempotency key when none is given, and prints it
 *  when the service could not be reached, so that the user can retry without a duplicate.
 *
 *  Output is a readable table on stdout, or JSON (jansson) with --json. Errors are one line on
 *  stderr naming the problem. Times are shown and taken in Europe/Helsinki (cli_lib.c). */
#include "kumppani.h"

#include "cli.h"
#include "cli_cmd.h"
#include "kp_arena.h"
#include "kp_zsock.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- output helpers ---------------------------------------------------------------------- */

void
cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kumppani: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int
cli_json_print(json_t *root)
{
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? EXIT_OK_ : EXIT_OTHER;
}

json_t *
cli_json_time(int64_t t)
{
    char buf[CLI_TIME_MAX];
    if (t == 0)
        return json_null();
    cli_time_iso(t, buf, sizeof buf);
    return json_string(buf);
}

/* A string field for JSON: protobuf-c gives "" (never NULL) for an unset string. */
json_t *
cli_json_str(const char *s)
{
    return json_string(s ? s : "");
}

json_t *
cli_event_json(const Kumppani__V1__EventInfo *e)
{
    char k[CLI_NAME_MAX], s[CLI_NAME_MAX];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)e->id));
    json_object_set_new(o, "kind", json_string(cli_kind_name(e->kind, k)));
    json_object_set_new(o, "title", cli_json_str(e->title));
    json_object_set_new(o, "municipality", cli_json_str(e->municipality_code));
    json_object_set_new(o, "start", cli_json_time(e->start_unix));
    json_object_set_new(o, "end", cli_json_time(e->end_unix));
    json_object_set_new(o, "capacity", json_integer(e->capacity));
    json_object_set_new(o, "state", json_string(cli_event_state_name(e->state, s)));
    json_object_set_new(o, "confirmed", json_integer(e->confirmed_n));
    json_object_set_new(o, "waitlisted", json_integer(e->waitlisted_n));
    json_object_set_new(o, "place", cli_json_str(e->place));
    json_object_set_new(o, "online_url", cli_json_str(e->online_url));
    json_object_set_new(o, "language", cli_json_str(e->language));
    json_object_set_new(o, "signup_deadline", cli_json_time(e->signup_deadline_unix));
    json_object_set_new(o, "created", cli_json_time(e->created_ms / 1000));
    json_object_set_new(o, "updated", cli_json_time(e->updated_ms / 1000));
    json_object_set_new(o, "theme", cli_json_str(e->theme));
    json_object_set_new(o, "description", cli_json_str(e->description_text));
    if (e->organiser_organisation_id)
        json_object_set_new(o, "organiser_organisation_id",
                            json_integer((json_int_t)e->organiser_organisation_id));
    json_object_set_new(o, "organiser_municipality", cli_json_str(e->organiser_municipality_code));
    json_object_set_new(o, "offered", json_integer(e->offered_n));
    json_object_set_new(o, "offer_window_minutes", json_integer(e->offer_window_minutes));
    json_object_set_new(o, "series_id", json_integer((json_int_t)e->series_id));
    json_object_set_new(o, "series_index", json_integer(e->series_index));
    json_object_set_new(o, "sequence", json_integer(e->sequence));
    json_object_set_new(o, "previous_start", cli_json_time(e->previous_start_unix));
    json_object_set_new(o, "cancel_reason", cli_json_str(e->cancel_reason_text));
    json_object_set_new(o, "memo_url", cli_json_str(e->memo_url));
    json_object_set_new(o, "materials_url", cli_json_str(e->materials_url));
    json_object_set_new(o, "attended", json_integer(e->attended_n));
    json_object_set_new(o, "no_show", json_integer(e->no_show_n));
    json_t *rules = json_array(), *counts = json_array();
    for (size_t i = 0; i < e->n_role_rules; i++) {
        char rn[CLI_NAME_MAX];
        json_t *r = json_object();
        json_object_set_new(r, "role", json_string(cli_role_name(e->role_rules[i]->role, rn)));
        json_object_set_new(r, "max", json_integer(e->role_rules[i]->max_n));
        json_object_set_new(r, "max_percent", json_integer(e->role_rules[i]->max_percent));
        json_object_set_new(r, "reserved", json_integer(e->role_rules[i]->reserved_n));
        json_array_append_new(rules, r);
    }
    for (size_t i = 0; i < e->n_role_counts; i++) {
        char rn[CLI_NAME_MAX];
        json_t *r = json_object();
        json_object_set_new(r, "role", json_string(cli_role_name(e->role_counts[i]->role, rn)));
        json_object_set_new(r, "confirmed", json_integer(e->role_counts[i]->confirmed_n));
        json_object_set_new(r, "waitlisted", json_integer(e->role_counts[i]->waitlisted_n));
        json_array_append_new(counts, r);
    }
    json_object_set_new(o, "role_rules", rules);
    json_object_set_new(o, "role_balance", counts);
    return o;
}

json_t *
cli_signup_json(const Kumppani__V1__Signup *s)
{
    char r[CLI_NAME_MAX], st[CLI_NAME_MAX];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)s->id));
    json_object_set_new(o, "event_id", json_integer((json_int_t)s->event_id));
    json_object_set_new(o, "source", cli_json_str(s->source));
    json_object_set_new(o, "external_id", cli_json_str(s->external_id));
    json_object_set_new(o, "name", cli_json_str(s->name));
    json_object_set_new(o, "email", cli_json_str(s->email));
    json_object_set_new(o, "phone", cli_json_str(s->phone));
    json_object_set_new(o, "organisation", cli_json_str(s->organisation));
    json_object_set_new(o, "role", json_string(cli_role_name(s->role, r)));
    json_object_set_new(o, "consent_reminders", json_boolean(s->consent_reminders));
    json_object_set_new(o, "language", cli_json_str(s->language));
    json_object_set_new(o, "state", json_string(cli_signup_state_name(s->state, st)));
    json_object_set_new(o, "created", cli_json_time(s->created_ms / 1000));
    json_object_set_new(o, "updated", cli_json_time(s->updated_ms / 1000));
    json_object_set_new(o, "companions", json_integer(s->companions));
    json_object_set_new(o, "accessibility", cli_json_str(s->accessibility_text));
    json_object_set_new(o, "dietary", cli_json_str(s->dietary_text));
    json_object_set_new(
        o, "attendance",
        json_string(s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED  ? "attended"
                    : s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_NO_SHOW ? "no-show"
                                                                                    : ""));
    json_object_set_new(o, "offer_deadline", cli_json_time(s->offer_deadline_ms / 1000));
    json_object_set_new(o, "cancel_reason", cli_json_str(s->cancel_reason));
    return o;
}

void
cli_event_print(const Kumppani__V1__EventInfo *e)
{
    char k[CLI_NAME_MAX], s[CLI_NAME_MAX], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], dl[CLI_TIME_MAX];
    cli_time_format(e->start_unix, t1, sizeof t1);
    cli_time_format(e->end_unix, t2, sizeof t2);
    if (e->signup_deadline_unix)
        cli_time_format(e->signup_deadline_unix, dl, sizeof dl);
    else
        snprintf(dl, sizeof dl, "until the start");
    printf("id            %llu\n", (unsigned long long)e->id);
    printf("title         %s\n", e->title);
    printf("kind          %s\n", cli_kind_name(e->kind, k));
    printf("state         %s\n", cli_event_state_name(e->state, s));
    printf("municipality  %s\n", e->municipality_code);
    printf("time          %s - %s (Helsinki)\n", t1, t2);
    if (e->capacity)
        printf("sign-ups      %u confirmed of %u, %u waitlisted\n", e->confirmed_n, e->capacity,
               e->waitlisted_n);
    else
        printf("sign-ups      %u confirmed (no limit)\n", e->confirmed_n);
    printf("deadline      %s\n", dl);
    if (e->place && *e->place)
        printf("place         %s\n", e->place);
    if (e->online_url && *e->online_url)
        printf("online        %s\n", e->online_url);
    if (e->language && *e->language)
        printf("language      %s\n", e->language);
    if (e->theme && *e->theme)
        printf("theme         %s\n", e->theme);
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
    if (e->sequence) {
        char pt[CLI_TIME_MAX];
        cli_time_format(e->previous_start_unix, pt, sizeof pt);
        printf("rescheduled   %u time(s); was %s\n", e->sequence, pt);
    }
    if (e->cancel_reason_text && *e->cancel_reason_text)
        printf("cancelled     %s\n", e->cancel_reason_text);
    if (e->memo_url && *e->memo_url)
        printf("memo          %s\n", e->memo_url);
    if (e->materials_url && *e->materials_url)
        printf("materials     %s\n", e->materials_url);
    if (e->attended_n || e->no_show_n)
        printf("attendance    %u attended, %u no-show\n", e->attended_n, e->no_show_n);
    for (size_t i = 0; i < e->n_role_rules; i++) {
        char rn[CLI_NAME_MAX];
        printf("role rule     %s: max %u, max %u%%, reserved %u\n",
               cli_role_name(e->role_rules[i]->role, rn), e->role_rules[i]->max_n,
               e->role_rules[i]->max_percent, e->role_rules[i]->reserved_n);
    }
}

void
cli_event_row_header(void)
{
    printf("%-6s %-22s %-10s %-16s %-16s %-5s %-11s %s\n", "ID", "KIND", "STATE", "START", "END",
           "MUNI", "SIGNUPS", "TITLE");
}

void
cli_event_row(const Kumppani__V1__EventInfo *e)
{
    char k[CLI_NAME_MAX], s[CLI_NAME_MAX], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], n[32];
    cli_time_format(e->start_unix, t1, sizeof t1);
    cli_time_format(e->end_unix, t2, sizeof t2);
    if (e->capacity)
        snprintf(n, sizeof n, "%u/%u+%u", e->confirmed_n, e->capacity, e->waitlisted_n);
    else
        snprintf(n, sizeof n, "%u", e->confirmed_n);
    printf("%-6llu %-22s %-10s %-16s %-16s %-5s %-11s %s\n", (unsigned long long)e->id,
           cli_kind_name(e->kind, k), cli_event_state_name(e->state, s), t1, t2,
           e->municipality_code, n, e->title);
}

void
cli_signup_print(const Kumppani__V1__Signup *s)
{
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
        cli_time_format(s->offer_deadline_ms / 1000, t, sizeof t);
        printf("offer until   %s\n", t);
    }
    if (s->cancel_reason && *s->cancel_reason)
        printf("cancelled     %s\n", s->cancel_reason);
    if (s->attendance)
        printf("attendance    %s\n", s->attendance == KUMPPANI__V1__ATTENDANCE__ATTENDANCE_ATTENDED
                                         ? "attended"
                                         : "no-show");
}

static void
s_signup_row(const Kumppani__V1__Signup *s)
{
    char r[CLI_NAME_MAX], st[CLI_NAME_MAX];
    printf("%-8llu %-11s %-18s %-24s %-24s %s/%s\n", (unsigned long long)s->id,
           cli_signup_state_name(s->state, st), cli_role_name(s->role, r), s->name, s->organisation,
           s->source, s->external_id);
}

/* ---- connection and outcomes ------------------------------------------------------------- */

/* Connects to the named service. Returns EXIT_OK_ with *out, or an exit code (reported). */
int
cli_connect(cli_ctx_t *c, const char *service, kpc_t **out)
{
    const cli_service_t *svc = cli_service_find(service);
    if (!svc) {
        cli_err("unknown service '%s' (one of: %s)", service, cli_service_list());
        return EXIT_USAGE;
    }
    c->service = svc->name;
    c->endpoint = cli_service_endpoint(svc, cli_arg(c->a, "endpoint"));

    char dir[2048], path[4096], server_pub[KP_Z85_KEY_LEN + 1];
    kp_keypair_t kp;
    bool curve = false;
    if (cli_keys_dir(cli_arg(c->a, "keys"), dir, sizeof dir) != 0) {
        cli_err("keys directory path too long");
        return EXIT_USAGE;
    }
    /* --key-name picks another pair of the keys directory (a container's health check uses
     * the service's own); --service-key names the service's public key file. */
    const char *key_name = cli_arg(c->a, "key-name") ? cli_arg(c->a, "key-name") : "cli";
    if (cli_arg(c->a, "service-key"))
        snprintf(path, sizeof path, "%s", cli_arg(c->a, "service-key"));
    else
        snprintf(path, sizeof path, "%s/%s.pub", dir, svc->name);
    int rc = kp_keypair_load(&kp, dir, key_name);
    if (rc == 0) {
        rc = kp_pubkey_load(server_pub, path);
        if (rc == 0)
            curve = true;
        else if (rc != -ENOENT) {
            cli_err("cannot read the service key %s: %s", path, kp_strerror(rc));
            return EXIT_OTHER;
        }
    } else if (rc != -ENOENT && rc != -ENOTDIR) {
        cli_err("cannot read the client key %s/%s.key: %s", dir, key_name, kp_strerror(rc));
        return EXIT_OTHER;
    }
    /* Without both keys the connection is plain TCP (development set-ups). */
    kpc_opts_t o = {.endpoint = c->endpoint,
                    .server_pub = curve ? server_pub : NULL,
                    .client_pub = curve ? kp.pub : NULL,
                    .client_sec = curve ? kp.sec : NULL,
                    .timeout_ms = c->timeout_ms,
                    .attempts = c->attempts};
    rc = kpc_new(out, &o);
    sodium_memzero(&kp, sizeof kp);
    if (rc) {
        cli_err("cannot connect to %s at %s: %s", svc->name, c->endpoint, kpc_strerror(rc));
        return rc == KP_ECONFIG || rc == KP_EKEY ? EXIT_USAGE : EXIT_OTHER;
    }
    return EXIT_OK_;
}

/* Maps a typed call's result to an exit code, reporting failures. */
int
cli_outcome(cli_ctx_t *c, int rc, const kpc_status_t *st)
{
    if (rc == KP_ETIMEOUT) {
        cli_err("the %s service at %s did not answer (%d attempts of %d ms)", c->service,
                c->endpoint, c->attempts, c->timeout_ms);
        return EXIT_UNREACHABLE;
    }
    if (rc == KP_EKEY) {
        cli_err("the %s service refused this client's key (is cli.pub on its allow-list?)",
                c->service);
        return EXIT_OTHER;
    }
    if (rc) {
        cli_err("call to the %s service failed: %s", c->service, kpc_strerror(rc));
        return EXIT_OTHER;
    }
    if (st->code) {
        cli_err("the %s service answered %s: %s", c->service, kpc_code_name(st->code),
                st->message[0] ? st->message : "(no message)");
        return EXIT_SERVICE;
    }
    return EXIT_OK_;
}

int
cli_call(cli_ctx_t *c, const char *service, const char *method, const char *idem,
         const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
         ProtobufCMessage **out)
{
    kpc_t *kc;
    int ex = cli_connect(c, service, &kc);
    if (ex != EXIT_OK_)
        return ex;
    uint8_t *body = NULL;
    size_t len = 0;
    if (req) {
        len = protobuf_c_message_get_packed_size(req);
        body = kp_xmalloc(len ? len : 1);
        protobuf_c_message_pack(req, body);
    }
    kpc_reply_t reply;
    int rc = kpc_call(kc, method, idem, body, len, &reply);
    free(body);
    ex = cli_outcome(c, rc, rc == 0 ? &reply.status : NULL);
    if (ex == EXIT_OK_) {
        *out = protobuf_c_message_unpack(out_desc, NULL, reply.body_len, reply.body);
        if (!*out) {
            cli_err("the %s service sent a reply this client cannot decode", c->service);
            ex = EXIT_OTHER;
        }
    }
    if (rc == 0)
        kpc_reply_fini(&reply);
    kpc_destroy(&kc);
    return ex;
}

/* Parses a required or optional numeric option. Returns 0, or -1 (reported). */
int
cli_num(cli_ctx_t *c, const char *name, bool required, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = cli_arg(c->a, name);
    if (!v) {
        if (!required)
            return 0;
        cli_err("--%s is required", name);
        return -1;
    }
    if (cli_parse_u64(v, min, max, out) != 0) {
        cli_err("--%s must be a whole number from %llu to %llu", name, (unsigned long long)min,
                (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* The one positional ID of "events publish|get|signups ID". */
int
cli_pos_id(cli_ctx_t *c, uint64_t *id)
{
    if (c->a->pos_n != 1 || cli_parse_u64(c->a->pos[0], 1, UINT64_MAX, id) != 0) {
        cli_err("expected one event ID (a positive number)");
        return -1;
    }
    return 0;
}

int
cli_no_pos(cli_ctx_t *c)
{
    if (c->a->pos_n) {
        cli_err("unexpected argument '%s'", c->a->pos[0]);
        return -1;
    }
    return 0;
}

/* ---- keygen ------------------------------------------------------------------------------ */

/* Creates each missing parent of dir (0700); kp_keypair_save creates dir itself. */
static void
s_mkparents(const char *dir)
{
    char p[2048];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        (void)mkdir(p, 0700); /* an existing parent is fine; kp_keypair_save reports the rest */
        *s = '/';
    }
}

static int
s_keygen(cli_ctx_t *c)
{
    if (c->a->pos_n != 1) {
        cli_err("expected one key NAME");
        return EXIT_USAGE;
    }
    const char *name = c->a->pos[0];
    if (!*name || name[0] == '.' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name)) {
        cli_err("NAME may hold letters, digits, '.', '_' and '-', and must not start with '.'");
        return EXIT_USAGE;
    }
    char dir[2048];
    const char *d = cli_arg(c->a, "dir");
    if (d)
        snprintf(dir, sizeof dir, "%s", d);
    else if (cli_keys_dir(cli_arg(c->a, "keys"), dir, sizeof dir) != 0) {
        cli_err("keys directory path too long");
        return EXIT_USAGE;
    }
    kp_keypair_t kp;
    int rc = kp_keypair_generate(&kp);
    if (rc) {
        cli_err("cannot generate a key pair: %s", kp_strerror(rc));
        return EXIT_OTHER;
    }
    s_mkparents(dir);
    rc = kp_keypair_save(&kp, dir, name);
    if (rc == -EEXIST) {
        cli_err("%s/%s.key or %s.pub already exists; not overwriting", dir, name, name);
        sodium_memzero(&kp, sizeof kp);
        return EXIT_OTHER;
    }
    if (rc) {
        cli_err("cannot write %s/%s.key: %s", dir, name, kp_strerror(rc));
        sodium_memzero(&kp, sizeof kp);
        return EXIT_OTHER;
    }
    int ex = EXIT_OK_;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "dir", json_string(dir));
        json_object_set_new(o, "public_key", json_string(kp.pub));
        ex = cli_json_print(o);
    } else {
        printf("%s\n", kp.pub);
    }
    sodium_memzero(&kp, sizeof kp);
    return ex;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Parses a time option into *out. Returns 0, or -1 (reported). */
static int
s_time_opt(cli_ctx_t *c, const char *name, bool required, int64_t *out)
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

/* Prints an EventReply (create, publish, get). */
static int
s_event_reply(cli_ctx_t *c, Kumppani__V1__EventReply *r)
{
    if (!r->event) {
        cli_err("the %s service answered without an event", c->service);
        return EXIT_OTHER;
    }
    if (c->json)
        return cli_json_print(cli_event_json(r->event));
    cli_event_print(r->event);
    return EXIT_OK_;
}

static int
s_events_create(cli_ctx_t *c)
{
    Kumppani__V1__CreateEventRequest req = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    const char *kind = cli_arg(c->a, "kind");
    int k;
    uint64_t cap = 0;
    if (cli_no_pos(c))
        return EXIT_USAGE;
    if (!kind) {
        cli_err("--kind is required (one of: %s)", cli_kind_list());
        return EXIT_USAGE;
    }
    if (cli_kind_parse(kind, &k) != 0) {
        cli_err("--kind must be one of: %s", cli_kind_list());
        return EXIT_USAGE;
    }
    req.kind = (Kumppani__V1__EventKind)k;
    req.title = (char *)cli_arg(c->a, "title");
    req.municipality_code = (char *)cli_arg(c->a, "municipality");
    if (!req.title || !req.municipality_code) {
        cli_err("--%s is required", req.title ? "municipality" : "title");
        return EXIT_USAGE;
    }
    if (s_time_opt(c, "start", true, &req.start_unix) ||
        s_time_opt(c, "end", true, &req.end_unix) ||
        s_time_opt(c, "deadline", false, &req.signup_deadline_unix) ||
        cli_num(c, "capacity", false, 0, UINT32_MAX, &cap))
        return EXIT_USAGE;
    req.capacity = (uint32_t)cap;
    const char *lang = cli_arg(c->a, "language");
    if (lang && strcmp(lang, "fi") && strcmp(lang, "sv") && strcmp(lang, "en")) {
        cli_err("--language must be fi, sv or en");
        return EXIT_USAGE;
    }
    req.language = (char *)(lang ? lang : "fi");
    const char *place = cli_arg(c->a, "place"), *url = cli_arg(c->a, "online-url");
    req.place = (char *)(place ? place : "");
    req.online_url = (char *)(url ? url : "");
    const char *theme = cli_arg(c->a, "theme"), *desc = cli_arg(c->a, "description"),
               *omuni = cli_arg(c->a, "organiser-municipality");
    req.theme = (char *)(theme ? theme : "");
    req.description_text = (char *)(desc ? desc : "");
    req.organiser_municipality_code = (char *)(omuni ? omuni : "");
    uint64_t org = 0, win = 0;
    if (cli_num(c, "organiser-org", false, 1, UINT64_MAX, &org) ||
        cli_num(c, "offer-window", false, 0, UINT32_MAX, &win))
        return EXIT_USAGE;
    req.organiser_organisation_id = org;
    req.offer_window_minutes = (uint32_t)win;
    const char *rules = cli_arg(c->a, "role-rules");
    if (rules && cli_role_rules_parse(rules, &req.role_rules, &req.n_role_rules) != 0)
        return EXIT_USAGE;

    /* A random key still makes the library's own resends safe; printed if we give up. */
    char key_buf[33];
    const char *key = cli_arg(c->a, "idempotency-key");
    if (!key) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(key_buf, sizeof key_buf, raw, sizeof raw);
        key = key_buf;
    } else if (!*key) {
        cli_err("--idempotency-key must not be empty");
        cli_role_rules_free(req.role_rules, req.n_role_rules);
        return EXIT_USAGE;
    }

    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex) {
        cli_role_rules_free(req.role_rules, req.n_role_rules);
        return ex;
    }
    Kumppani__V1__EventReply *r = NULL;
    kpc_status_t st;
    ex = cli_outcome(c, kpc_event_create(kc, key, &req, &r, &st), &st);
    if (ex == EXIT_UNREACHABLE)
        fprintf(stderr,
                "kumppani: to retry without creating a duplicate, add --idempotency-key %s\n", key);
    if (ex == EXIT_OK_)
        ex = s_event_reply(c, r);
    kpc_msg_destroy(&r);
    kpc_destroy(&kc);
    cli_role_rules_free(req.role_rules, req.n_role_rules);
    return ex;
}

/* publish and get: one EventRef call. */
static int
s_events_ref(cli_ctx_t *c, bool publish)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex)
        return ex;
    Kumppani__V1__EventReply *r = NULL;
    kpc_status_t st;
    int rc = publish ? kpc_event_publish(kc, id, &r, &st) : kpc_event_get(kc, id, &r, &st);
    ex = cli_outcome(c, rc, &st);
    if (ex == EXIT_OK_)
        ex = s_event_reply(c, r);
    kpc_msg_destroy(&r);
    kpc_destroy(&kc);
    return ex;
}

static int
s_events_publish(cli_ctx_t *c)
{
    return s_events_ref(c, true);
}

static int
s_events_get(cli_ctx_t *c)
{
    return s_events_ref(c, false);
}

static int
s_events_list(cli_ctx_t *c)
{
    uint64_t after = 0, limit = 0, series = 0;
    if (cli_no_pos(c) || cli_num(c, "after", false, 0, UINT64_MAX, &after) ||
        cli_num(c, "limit", false, 1, UINT32_MAX, &limit) ||
        cli_num(c, "series", false, 1, UINT64_MAX, &series))
        return EXIT_USAGE;
    if (series) { /* a series has at most 60 occurrences: one page */
        Kumppani__V1__ListEventsRequest rq = KUMPPANI__V1__LIST_EVENTS_REQUEST__INIT;
        rq.series_id = series;
        rq.after_id = after;
        rq.limit = limit && limit < PAGE_EVENTS ? (uint32_t)limit : PAGE_EVENTS;
        ProtobufCMessage *out = NULL;
        int ex = cli_call(c, "events", "events.event.list", NULL, &rq.base,
                          &kumppani__v1__list_events_reply__descriptor, &out);
        if (ex)
            return ex;
        Kumppani__V1__ListEventsReply *r = (Kumppani__V1__ListEventsReply *)out;
        json_t *arr = c->json ? json_array() : NULL;
        if (!arr)
            cli_event_row_header();
        for (size_t i = 0; i < r->n_events; i++) {
            if (arr)
                json_array_append_new(arr, cli_event_json(r->events[i]));
            else
                cli_event_row(r->events[i]);
        }
        protobuf_c_message_free_unpacked(out, NULL);
        return arr ? cli_json_print(arr) : EXIT_OK_;
    }
    uint64_t left = limit ? limit : UINT64_MAX; /* no --limit: page through all */
    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex)
        return ex;
    json_t *arr = c->json ? json_array() : NULL;
    if (!c->json)
        cli_event_row_header();
    while (left > 0) {
        Kumppani__V1__ListEventsReply *r = NULL;
        kpc_status_t st;
        uint32_t page = left < PAGE_EVENTS ? (uint32_t)left : PAGE_EVENTS;
        ex = cli_outcome(c, kpc_event_list(kc, after, page, &r, &st), &st);
        if (ex)
            break;
        size_t n = r->n_events;
        for (size_t i = 0; i < n && left > 0; i++, left--) {
            if (arr)
                json_array_append_new(arr, cli_event_json(r->events[i]));
            else
                cli_event_row(r->events[i]);
            after = r->events[i]->id;
        }
        kpc_msg_destroy(&r);
        if (n == 0)
            break;
    }
    if (arr) {
        if (ex == EXIT_OK_)
            ex = cli_json_print(arr);
        else
            json_decref(arr);
    }
    kpc_destroy(&kc);
    return ex;
}

static int
s_events_signups(cli_ctx_t *c)
{
    uint64_t id, after = 0, limit = 0;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    if (cli_num(c, "after", false, 0, UINT64_MAX, &after) ||
        cli_num(c, "limit", false, 1, UINT32_MAX, &limit))
        return EXIT_USAGE;
    uint64_t left = limit ? limit : UINT64_MAX;
    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex)
        return ex;
    json_t *root = c->json ? json_object() : NULL, *arr = c->json ? json_array() : NULL;
    bool first = true;
    while (left > 0) {
        Kumppani__V1__ListSignupsReply *r = NULL;
        kpc_status_t st;
        uint32_t page = left < PAGE_SIGNUPS ? (uint32_t)left : PAGE_SIGNUPS;
        ex = cli_outcome(c, kpc_signup_list(kc, id, after, page, &r, &st), &st);
        if (ex)
            break;
        if (first && r->event) {
            if (root)
                json_object_set_new(root, "event", cli_event_json(r->event));
            else {
                printf("event %llu: %s\n\n", (unsigned long long)r->event->id, r->event->title);
                printf("%-8s %-11s %-18s %-24s %-24s %s\n", "ID", "STATE", "ROLE", "NAME",
                       "ORGANISATION", "SOURCE/EXTERNAL-ID");
            }
        }
        first = false;
        size_t n = r->n_signups;
        for (size_t i = 0; i < n && left > 0; i++, left--) {
            if (arr)
                json_array_append_new(arr, cli_signup_json(r->signups[i]));
            else
                s_signup_row(r->signups[i]);
            after = r->signups[i]->id;
        }
        kpc_msg_destroy(&r);
        if (n == 0)
            break;
    }
    if (root) {
        json_object_set_new(root, "signups", arr);
        if (ex == EXIT_OK_)
            ex = cli_json_print(root);
        else
            json_decref(root);
    }
    kpc_destroy(&kc);
    return ex;
}

/* ---- sign-ups ---------------------------------------------------------------------------- */

/* Prints a SignupReply (submit, cancel). */
static int
s_signup_reply(cli_ctx_t *c, Kumppani__V1__SignupReply *r)
{
    if (!r->signup) {
        cli_err("the %s service answered without a sign-up", c->service);
        return EXIT_OTHER;
    }
    if (c->json)
        return cli_json_print(cli_signup_json(r->signup));
    cli_signup_print(r->signup);
    return EXIT_OK_;
}

static int
s_signup_submit(cli_ctx_t *c)
{
    Kumppani__V1__SubmitSignupRequest req = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    uint64_t event_id;
    int role;
    if (cli_no_pos(c) || cli_num(c, "event", true, 1, UINT64_MAX, &event_id))
        return EXIT_USAGE;
    static const char *const required[] = {"source", "id", "name", "role"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!cli_arg(c->a, required[i])) {
            cli_err("--%s is required", required[i]);
            return EXIT_USAGE;
        }
    if (cli_role_parse(cli_arg(c->a, "role"), &role) != 0) {
        cli_err("--role must be one of: %s", cli_role_list());
        return EXIT_USAGE;
    }
    const char *email = cli_arg(c->a, "email"), *phone = cli_arg(c->a, "phone");
    if (!email && !phone) {
        cli_err("give --email, --phone or both");
        return EXIT_USAGE;
    }
    const char *org = cli_arg(c->a, "organisation"), *lang = cli_arg(c->a, "language");
    req.event_id = event_id;
    req.source = (char *)cli_arg(c->a, "source");
    req.external_id = (char *)cli_arg(c->a, "id");
    req.name = (char *)cli_arg(c->a, "name");
    req.email = (char *)(email ? email : "");
    req.phone = (char *)(phone ? phone : "");
    req.organisation = (char *)(org ? org : "");
    req.role = (Kumppani__V1__ParticipantRole)role;
    req.consent_reminders = cli_flag(c->a, "consent");
    req.language = (char *)(lang ? lang : "");
    uint64_t comp = 0;
    if (cli_num(c, "companions", false, 0, 20, &comp))
        return EXIT_USAGE;
    req.companions = (uint32_t)comp;
    const char *acc = cli_arg(c->a, "accessibility"), *diet = cli_arg(c->a, "dietary");
    req.accessibility_text = (char *)(acc ? acc : "");
    req.dietary_text = (char *)(diet ? diet : "");

    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex)
        return ex;
    Kumppani__V1__SignupReply *r = NULL;
    kpc_status_t st;
    ex = cli_outcome(c, kpc_signup_submit(kc, &req, &r, &st), &st);
    if (ex == EXIT_OK_)
        ex = s_signup_reply(c, r);
    kpc_msg_destroy(&r);
    kpc_destroy(&kc);
    return ex;
}

static int
s_signup_cancel(cli_ctx_t *c)
{
    Kumppani__V1__CancelSignupRequest req = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    const char *source = cli_arg(c->a, "source"), *ext = cli_arg(c->a, "id");
    uint64_t signup_id = 0;
    if (cli_no_pos(c) || cli_num(c, "signup", false, 1, UINT64_MAX, &signup_id))
        return EXIT_USAGE;
    bool by_ext = source && ext, by_id = signup_id != 0;
    if (by_ext == by_id || (!by_ext && (source || ext))) {
        cli_err("give either --source and --id, or --signup");
        return EXIT_USAGE;
    }
    req.source = (char *)(source ? source : "");
    req.external_id = (char *)(ext ? ext : "");
    req.signup_id = signup_id;

    kpc_t *kc = NULL;
    int ex = cli_connect(c, "events", &kc);
    if (ex)
        return ex;
    Kumppani__V1__SignupReply *r = NULL;
    kpc_status_t st;
    ex = cli_outcome(c, kpc_signup_cancel(kc, &req, &r, &st), &st);
    if (ex == EXIT_OK_)
        ex = s_signup_reply(c, r);
    kpc_msg_destroy(&r);
    kpc_destroy(&kc);
    return ex;
}

/* ---- log and health ---------------------------------------------------------------------- */

static int
s_log_replay(cli_ctx_t *c)
{
    uint64_t from = 1, limit = 0;
    const char *service = cli_arg(c->a, "service");
    if (cli_no_pos(c) || cli_num(c, "from", false, 1, UINT64_MAX, &from) ||
        cli_num(c, "limit", false, 1, UINT32_MAX, &limit))
        return EXIT_USAGE;
    uint64_t left = limit ? limit : UINT64_MAX;
    kpc_t *kc = NULL;
    int ex = cli_connect(c, service ? service : "events", &kc);
    if (ex)
        return ex;
    json_t *arr = c->json ? json_array() : NULL;
    if (!c->json)
        printf("%-10s %-25s %s\n", "SEQ", "TIME", "TYPE");
    while (left > 0) {
        Kumppani__V1__ReplayPage *r = NULL;
        kpc_status_t st;
        uint32_t page = left < PAGE_REPLAY ? (uint32_t)left : PAGE_REPLAY;
        ex = cli_outcome(c, kpc_log_replay(kc, from, page, &r, &st), &st);
        if (ex)
            break;
        size_t n = r->n_events;
        for (size_t i = 0; i < n && left > 0; i++, left--) {
            const Kumppani__V1__Event *e = r->events[i];
            char t[CLI_TIME_MAX];
            cli_time_iso(e->time_ms / 1000, t, sizeof t);
            if (arr) {
                json_t *o = json_object();
                json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
                json_object_set_new(o, "source", cli_json_str(e->source));
                json_object_set_new(o, "type", cli_json_str(e->type));
                json_object_set_new(o, "time", json_string(t));
                json_object_set_new(o, "payload_len", json_integer((json_int_t)e->payload.len));
                json_array_append_new(arr, o);
            } else {
                printf("%-10llu %-25s %s\n", (unsigned long long)e->seq, t, e->type);
            }
            from = e->seq + 1;
        }
        bool done = n == 0 || from > r->head_seq;
        kpc_msg_destroy(&r);
        if (done)
            break;
    }
    if (arr) {
        if (ex == EXIT_OK_)
            ex = cli_json_print(arr);
        else
            json_decref(arr);
    }
    kpc_destroy(&kc);
    return ex;
}

static int
s_health(cli_ctx_t *c)
{
    const char *service = cli_arg(c->a, "service");
    if (cli_no_pos(c))
        return EXIT_USAGE;
    kpc_t *kc = NULL;
    int ex = cli_connect(c, service ? service : "events", &kc);
    if (ex)
        return ex;
    Kumppani__V1__HealthReply *r = NULL;
    kpc_status_t st;
    ex = cli_outcome(c, kpc_health(kc, &r, &st), &st);
    if (ex == EXIT_OK_ && c->json) {
        json_t *o = json_object(), *cons = json_array();
        json_object_set_new(o, "service", cli_json_str(r->service));
        json_object_set_new(o, "head_seq", json_integer((json_int_t)r->head_seq));
        json_object_set_new(o, "last_commit", cli_json_time(r->last_commit_ms / 1000));
        json_object_set_new(o, "started", cli_json_time(r->started_ms / 1000));
        json_object_set_new(o, "commits", json_integer((json_int_t)r->commits));
        json_object_set_new(o, "committed_requests",
                            json_integer((json_int_t)r->committed_requests));
        for (size_t i = 0; i < r->n_consumers; i++) {
            json_t *l = json_object();
            json_object_set_new(l, "source", cli_json_str(r->consumers[i]->source));
            json_object_set_new(l, "applied_seq",
                                json_integer((json_int_t)r->consumers[i]->applied_seq));
            json_object_set_new(l, "source_head_seq",
                                json_integer((json_int_t)r->consumers[i]->source_head_seq));
            json_array_append_new(cons, l);
        }
        json_object_set_new(o, "consumers", cons);
        ex = cli_json_print(o);
    } else if (ex == EXIT_OK_) {
        char t1[CLI_TIME_MAX], t2[CLI_TIME_MAX];
        cli_time_format(r->started_ms / 1000, t1, sizeof t1);
        if (r->last_commit_ms)
            cli_time_format(r->last_commit_ms / 1000, t2, sizeof t2);
        else
            snprintf(t2, sizeof t2, "never");
        printf("service       %s (%s)\n", r->service, c->endpoint);
        printf("head seq      %llu\n", (unsigned long long)r->head_seq);
        printf("started       %s\n", t1);
        printf("last commit   %s\n", t2);
        printf("commits       %llu (%llu requests)\n", (unsigned long long)r->commits,
               (unsigned long long)r->committed_requests);
        for (size_t i = 0; i < r->n_consumers; i++)
            printf("consumer      %s applied %llu of %llu\n", r->consumers[i]->source,
                   (unsigned long long)r->consumers[i]->applied_seq,
                   (unsigned long long)r->consumers[i]->source_head_seq);
    }
    kpc_msg_destroy(&r);
    kpc_destroy(&kc);
    return ex;
}

/* ---- the command table ------------------------------------------------------------------- */

static const cli_optspec_t s_keygen_opts[] = {{"dir", true}, {NULL, false}};
static const cli_optspec_t s_create_opts[] = {
    {"kind", true},
    {"title", true},
    {"municipality", true},
    {"start", true},
    {"end", true},
    {"capacity", true},
    {"place", true},
    {"online-url", true},
    {"language", true},
    {"deadline", true},
    {"idempotency-key", true},
    {"theme", true},
    {"description", true},
    {"organiser-org", true},
    {"organiser-municipality", true},
    {"offer-window", true},
    {"role-rules", true},
    {NULL, false},
};
static const cli_optspec_t s_none_opts[] = {{NULL, false}};
static const cli_optspec_t s_page_opts[] = {{"after", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t s_list_opts[] = {
    {"after", true}, {"limit", true}, {"series", true}, {NULL, false}};
static const cli_optspec_t s_submit_opts[] = {
    {"event", true},    {"source", true},   {"id", true},           {"name", true},
    {"email", true},    {"phone", true},    {"organisation", true}, {"role", true},
    {"consent", false}, {"language", true}, {"companions", true},   {"accessibility", true},
    {"dietary", true},  {NULL, false},
};
static const cli_optspec_t s_cancel_opts[] = {
    {"source", true}, {"id", true}, {"signup", true}, {NULL, false}};
static const cli_optspec_t s_replay_opts[] = {
    {"service", true}, {"from", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t s_health_opts[] = {{"service", true}, {NULL, false}};

static const cli_optspec_t s_global_opts[] = {
    {"json", false},    {"endpoint", true},    {"keys", true},
    {"key-name", true}, {"service-key", true}, {"timeout", true},
    {"attempts", true}, {"help", false},       {NULL, false},
};

static const cli_cmd_t s_cmds[] = {
    {"keygen", s_keygen_opts,
     "Usage: kumppani keygen NAME [--dir DIR]\n"
     "Writes a new CURVE key pair to DIR/NAME.key (mode 0600) and DIR/NAME.pub and prints the\n"
     "public key. DIR defaults to the keys directory (see --keys). Never overwrites a key.\n",
     s_keygen},
    {"events create", s_create_opts,
     "Usage: kumppani events create --kind KIND --title T --municipality CODE\n"
     "         --start \"YYYY-MM-DD HH:MM\" --end \"YYYY-MM-DD HH:MM\" [--capacity N] [--place P]\n"
     "         [--online-url U] [--language fi|sv|en] [--deadline \"YYYY-MM-DD HH:MM\"]\n"
     "         [--idempotency-key K] [--theme T] [--description D]\n"
     "         [--organiser-org ORG_ID | --organiser-municipality CODE]\n"
     "         [--offer-window MINUTES] [--role-rules \"ROLE:max=N,ROLE:pct=P,ROLE:reserve=R\"]\n"
     "Creates an event as a draft. Times are Europe/Helsinki. KIND is one of:\n"
     "  partnership-table, ngo-council-meeting, vitality-workshop, ngo-fair, seminar,\n"
     "  training, client-panel, contact-person-meeting, other\n"
     "Capacity 0 (the default) means no limit. Without --idempotency-key a random key is used,\n"
     "and printed if the service could not be reached: retry with it to avoid a duplicate.\n",
     s_events_create},
    {"events publish", s_none_opts,
     "Usage: kumppani events publish ID\nPublishes a draft event: it opens for sign-ups.\n",
     s_events_publish},
    {"events get", s_none_opts, "Usage: kumppani events get ID\nShows one event.\n", s_events_get},
    {"events list", s_list_opts,
     "Usage: kumppani events list [--after ID] [--limit N] [--series SERIES_ID]\n"
     "Lists events with id > ID (default: all), ascending; without --limit, every page.\n"
     "With --series, only the occurrences of that series.\n",
     s_events_list},
    {"events signups", s_page_opts,
     "Usage: kumppani events signups ID [--after SIGNUP_ID] [--limit N]\n"
     "Lists the event's sign-ups, ascending; without --limit, every page.\n",
     s_events_signups},
    {"signup cancel", s_cancel_opts,
     "Usage: kumppani signup cancel (--source S --id EXTID | --signup ID)\n"
     "Cancels a sign-up; the first on the waitlist moves up. Cancelling twice is harmless.\n",
     s_signup_cancel},
    {"signup", s_submit_opts,
     "Usage: kumppani signup --event ID --source S --id EXTID --name N [--email E]\n"
     "         [--phone P] [--organisation O] --role ROLE [--consent] [--language L]\n"
     "Submits a sign-up as the source system S with its own id EXTID (resending is safe: the\n"
     "service keeps the first). Give an e-mail, a phone or both. --consent agrees to\n"
     "reminders. ROLE is one of: resident, ngo, civil-servant, elected-official, business,\n"
     "experience-expert. A sign-up to a full event is waitlisted.\n"
     "--companions N (0..20) signs up a group of 1 + N people, all or none: the group is\n"
     "confirmed only if every place fits, else the whole group waits. --accessibility and\n"
     "--dietary state needs (shown on the door list).\n"
     "See also: kumppani signup cancel --help\n",
     s_signup_submit},
    {"events signup", s_submit_opts,
     "Usage: kumppani events signup --event ID --source S --id EXTID --name N [--email E]\n"
     "         [--phone P] [--organisation O] --role ROLE [--consent] [--language L]\n"
     "Submits a sign-up as the source system S with its own id EXTID (resending is safe: the\n"
     "service keeps the first). Give an e-mail, a phone or both. --consent agrees to\n"
     "reminders. ROLE is one of: resident, ngo, civil-servant, elected-official, business,\n"
     "experience-expert. A sign-up to a full event is waitlisted.\n"
     "--companions N (0..20) signs up a group of 1 + N people, all or none: the group is\n"
     "confirmed only if every place fits, else the whole group waits. --accessibility and\n"
     "--dietary state needs (shown on the door list).\n"
     "See also: kumppani signup cancel --help\n",
     s_signup_submit},
    {"log replay", s_replay_opts,
     "Usage: kumppani log replay [--service NAME] [--from SEQ] [--limit N]\n"
     "Prints the service's event log (seq, time, type) from SEQ (default 1); without --limit,\n"
     "up to the head. NAME defaults to events.\n",
     s_log_replay},
    {"health", s_health_opts,
     "Usage: kumppani health [--service NAME]\n"
     "Shows a service's health: log head, commits, consumer lag. NAME defaults to events.\n",
     s_health},
};
#define CMDS_N (sizeof s_cmds / sizeof s_cmds[0])

static const cli_cmd_t *const s_tables[] = {cli_cmds_events, cli_cmds_registry, cli_cmds_broker,
                                            cli_cmds_notifier, cli_cmds_suite};

static void
s_usage(FILE *f)
{
    fputs("Usage: kumppani [global options] COMMAND [options]\n"
          "\n"
          "Commands:\n"
          "  keygen NAME [--dir DIR]            make a CURVE key pair\n"
          "  events create --kind ... --title ...  create an event (draft)\n"
          "  events publish ID                  publish an event\n"
          "  events get ID                      show an event\n"
          "  events list [--after ID] [--limit N]\n"
          "  events signups ID [--after ID] [--limit N]\n"
          "  signup --event ID --source S --id EXTID --name N --role ROLE ...\n"
          "  signup cancel (--source S --id EXTID | --signup ID)\n"
          "  events signup ... (the same as signup)\n"
          "  log replay [--service NAME] [--from SEQ] [--limit N]\n"
          "  health [--service NAME]\n"
          "\n"
          "Every command takes --help. Services: registry, events, expert-broker, notifier.\n",
          f);
    for (size_t t = 0; t < sizeof s_tables / sizeof s_tables[0]; t++)
        for (const cli_cmd_t *cmd = s_tables[t]; cmd->words; cmd++)
            fprintf(f, "%s  %s ...", cmd == s_tables[t] ? "\n" : "", cmd->words);
    fputs("\n\n" GLOBAL_HELP, f);
}

/* Matches argv words to a command; *used is how many words it took. */
static const cli_cmd_t *
s_cmd_find(int argc, char **argv, int *used)
{
    /* Two-word commands first, so that "signup cancel" wins over "signup". */
    for (int words = 2; words >= 1; words--) {
        if (argc < words)
            continue;
        char buf[64];
        if (words == 2)
            snprintf(buf, sizeof buf, "%s %s", argv[0], argv[1]);
        else
            snprintf(buf, sizeof buf, "%s", argv[0]);
        for (size_t i = 0; i < CMDS_N; i++)
            if (strcmp(s_cmds[i].words, buf) == 0) {
                *used = words;
                return &s_cmds[i];
            }
        for (size_t t = 0; t < sizeof s_tables / sizeof s_tables[0]; t++)
            for (const cli_cmd_t *cmd = s_tables[t]; cmd->words; cmd++)
                if (strcmp(cmd->words, buf) == 0) {
                    *used = words;
                    return cmd;
                }
    }
    return NULL;
}

/* Parses an int global option in [min, max] into *out (unchanged if absent). */
static int
s_global_int(const cli_args_t *a, const char *name, uint64_t min, uint64_t max, int *out)
{
    uint64_t v;
    const char *s = cli_arg(a, name);
    if (!s)
        return 0;
    if (cli_parse_u64(s, min, max, &v) != 0) {
        cli_err("--%s must be a whole number from %llu to %llu", name, (unsigned long long)min,
                (unsigned long long)max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int
main(int argc, char **argv)
{
    cli_tz_init();
    if (sodium_init() < 0) {
        cli_err("libsodium failed to initialise");
        return EXIT_OTHER;
    }

    /* Skip leading global options to find the command words. */
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_optspec_t *o = NULL;
        for (const cli_optspec_t *g = s_global_opts; g->name; g++)
            if (strlen(g->name) == len && strncmp(g->name, name, len) == 0)
                o = g;
        if (!o)
            break; /* reported by the full parse below */
        i += o->has_arg && !eq ? 2 : 1;
    }
    if (i > argc)
        i = argc;
    int used = 0;
    const cli_cmd_t *cmd = s_cmd_find(argc - i, argv + i, &used);
    if (!cmd) {
        bool help = false;
        for (int j = 1; j < argc; j++)
            help = help || strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0 ||
                   (j == i && strcmp(argv[j], "help") == 0);
        if (help) {
            s_usage(stdout);
            return EXIT_OK_;
        }
        if (i < argc)
            cli_err("unknown command '%s%s%s'", argv[i], i + 1 < argc ? " " : "",
                    i + 1 < argc ? argv[i + 1] : "");
        s_usage(stderr);
        return EXIT_USAGE;
    }

    /* The global options before the command, then everything after it. */
    char **rest = kp_xmalloc(sizeof *rest * (size_t)argc);
    int rest_n = 0;
    for (int j = 1; j < i; j++)
        rest[rest_n++] = argv[j];
    for (int j = i + used; j < argc; j++)
        rest[rest_n++] = argv[j];
    cli_args_t a;
    const cli_optspec_t *const specs[] = {cmd->opts, s_global_opts};
    int prc = cli_args_parse(&a, rest_n, rest, specs, 2);
    free(rest);
    if (prc != 0) {
        cli_err("%s: %s (see kumppani %s --help)", cmd->words, a.err, cmd->words);
        return EXIT_USAGE;
    }
    if (cli_flag(&a, "help")) {
        fputs(cmd->help, stdout);
        fputs("\n" GLOBAL_HELP, stdout);
        return EXIT_OK_;
    }
    cli_ctx_t c = {.a = &a,
                   .json = cli_flag(&a, "json"),
                   .timeout_ms = KPC_TIMEOUT_MS_DEFAULT,
                   .attempts = KPC_ATTEMPTS_DEFAULT,
                   .service = "events"};
    if (s_global_int(&a, "timeout", 1, 600000, &c.timeout_ms) ||
        s_global_int(&a, "attempts", 1, 100, &c.attempts))
        return EXIT_USAGE;
    return cmd->run(&c);
}
