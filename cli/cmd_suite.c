/*  cmd_suite.c: the commands about the suite, or about any one service, rather than one
 *  service's resources: keygen (no service at all), health and log replay (rows for the
 *  service named by --service, default events), and status, metrics and privacy erase/export
 *  (every service; privacy's own section says how it asks them).
 *
 *  status and metrics ask every service of the service table for its own health
 *  ("sys.health") with a short timeout, so a down service costs at most --timeout x
 *  --attempts. status prints one line per service and exits 0 only if all answered; metrics
 *  prints the Prometheus text format (kp_metrics) for a scraper, with kumppani_up 0 for a
 *  service that did not answer. */
#include "cli_cmd.h"
#include "kp_metrics.h"
#include "kp_time.h"
#include "kp_zsock.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PAGE_REPLAY 1000u

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
    int ex = EXIT_OK_;
    if (rc == -EEXIST) {
        cli_err("%s/%s.key or %s.pub already exists; not overwriting", dir, name, name);
        ex = EXIT_OTHER;
    } else if (rc) {
        cli_err("cannot write %s/%s.key: %s", dir, name, kp_strerror(rc));
        ex = EXIT_OTHER;
    } else if (c->json) {
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

/* ---- log replay and health of one service ------------------------------------------------- */

static int
s_replay_fill(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ReplayRequest *rq = (Kumppani__V1__ReplayRequest *)m;
    return cli_page_limit(c, UINT32_MAX, PAGE_REPLAY, &rq->limit); /* none: up to the head */
}

/* A log entry: its payload only by length. */
static const cli_jview_t s_event_view[] = {
    {"seq", NULL, 0, NULL, NULL},
    {"source", NULL, 0, NULL, NULL},
    {"type", NULL, 0, NULL, NULL},
    {"time", "time_ms", CLI_J_ISO_MS, NULL, NULL},
    {"payload_len", "payload", CLI_J_LEN, NULL, NULL},
    {0},
};

static const cli_col_t s_replay_cols[] = {{"SEQ", 10}, {"TIME", 25}, {"TYPE", 0}, {0}};

static void
s_replay_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Event *e = (const Kumppani__V1__Event *)m;
    char t[CLI_TIME_MAX];
    kp_time_iso(e->time_ms / 1000, t, sizeof t);
    printf("%-10llu %-25s %s\n", (unsigned long long)e->seq, t, e->type);
}

static int
s_replay_page(cli_ctx_t *c, ProtobufCMessage *m, const ProtobufCMessage *reply)
{
    Kumppani__V1__ReplayRequest *rq = (Kumppani__V1__ReplayRequest *)m;
    const Kumppani__V1__ReplayPage *r = (const Kumppani__V1__ReplayPage *)reply;
    const Kumppani__V1__Event *last = (const void *)cli_page_rows(c, reply);
    if (last)
        rq->from_seq = last->seq + 1;
    rq->limit = cli_page_size(c, PAGE_REPLAY);
    return last && rq->from_seq <= r->head_seq && c->left > 0;
}

static const cli_jview_t s_consumer_view[] = {
    {"source", NULL, 0, NULL, NULL},
    {"applied_seq", NULL, 0, NULL, NULL},
    {"source_head_seq", NULL, 0, NULL, NULL},
    {0},
};

static const cli_jview_t s_health_view[] = {
    {"service", NULL, 0, NULL, NULL},
    {"head_seq", NULL, 0, NULL, NULL},
    {"last_commit", "last_commit_ms", CLI_J_TIME_MS, NULL, NULL},
    {"started", "started_ms", CLI_J_TIME_MS, NULL, NULL},
    {"commits", NULL, 0, NULL, NULL},
    {"committed_requests", NULL, 0, NULL, NULL},
    {"consumers", NULL, 0, NULL, s_consumer_view},
    {0},
};

static int
s_health_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__HealthReply *r = (const Kumppani__V1__HealthReply *)m;
    char t1[CLI_TIME_MAX], t2[CLI_TIME_MAX];
    kp_time_format(r->started_ms / 1000, t1, sizeof t1);
    if (r->last_commit_ms)
        kp_time_format(r->last_commit_ms / 1000, t2, sizeof t2);
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
    return EXIT_OK_;
}

/* ---- status and metrics of the whole suite ---------------------------------------------- */

static const char *const s_services[] = {"registry", "events", "expert-broker", "notifier"};
#define SERVICES_N (sizeof s_services / sizeof s_services[0])

/* Health of one service, or NULL (the reason is printed). */
static Kumppani__V1__HealthReply *
s_health_of(cli_ctx_t *c, const char *service)
{
    Kumppani__V1__HealthRequest rq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    if (cli_call(c, service, "sys.health", NULL, &rq.base, &kumppani__v1__health_reply__descriptor,
                 &out) != EXIT_OK_)
        return NULL;
    return (Kumppani__V1__HealthReply *)out; /* in c->arena */
}

/* How far a consumer is behind its source (0 when it has caught up). */
static uint64_t
s_lag(const Kumppani__V1__ConsumerLag *l)
{
    return l->source_head_seq > l->applied_seq ? l->source_head_seq - l->applied_seq : 0;
}

/* Failing: it answers, but its last turn that tried to write was aborted (nothing written
 * since): "up" would hide a service that stores nothing. */
static bool
s_failing(const Kumppani__V1__HealthReply *h)
{
    return h->turns_aborted && h->last_abort_ms >= h->last_commit_ms;
}

static int
s_status(cli_ctx_t *c)
{
    json_t *arr = c->json ? json_array() : NULL;
    int down = 0, failing = 0;
    if (!c->json)
        printf("%-14s %-5s %10s %10s  %s\n", "SERVICE", "STATE", "HEAD", "COMMITS", "CONSUMERS");
    for (size_t i = 0; i < SERVICES_N; i++) {
        Kumppani__V1__HealthReply *h = s_health_of(c, s_services[i]);
        if (!h)
            down++;
        else if (s_failing(h))
            failing++;
        if (c->json) {
            json_t *o = json_object();
            json_object_set_new(o, "service", json_string(s_services[i]));
            json_object_set_new(o, "up", json_boolean(h != NULL));
            if (h) {
                json_object_set_new(o, "head_seq", json_integer((json_int_t)h->head_seq));
                json_object_set_new(o, "commits", json_integer((json_int_t)h->commits));
                json_object_set_new(o, "last_commit", cli_json_time(h->last_commit_ms / 1000));
                json_object_set_new(o, "failing", json_boolean(s_failing(h)));
                json_object_set_new(o, "turns_aborted", json_integer((json_int_t)h->turns_aborted));
                if (h->turns_aborted) {
                    json_object_set_new(o, "last_abort", cli_json_str(h->last_abort));
                    json_object_set_new(o, "last_abort_at", cli_json_time(h->last_abort_ms / 1000));
                }
                json_t *cons = json_array();
                for (size_t k = 0; k < h->n_consumers; k++) {
                    const Kumppani__V1__ConsumerLag *l = h->consumers[k];
                    json_t *x = json_object();
                    json_object_set_new(x, "source", cli_json_str(l->source));
                    json_object_set_new(x, "applied_seq", json_integer((json_int_t)l->applied_seq));
                    json_object_set_new(x, "lag", json_integer((json_int_t)s_lag(l)));
                    json_object_set_new(x, "connected", json_boolean(l->connected));
                    json_array_append_new(cons, x);
                }
                json_object_set_new(o, "consumers", cons);
            }
            json_array_append_new(arr, o);
        } else if (h) {
            printf("%-14s %-5s %10llu %10llu  ", s_services[i], s_failing(h) ? "FAILING" : "up",
                   (unsigned long long)h->head_seq, (unsigned long long)h->commits);
            for (size_t k = 0; k < h->n_consumers; k++) {
                const Kumppani__V1__ConsumerLag *l = h->consumers[k];
                printf("%s%s lag %llu%s", k ? ", " : "", l->source, (unsigned long long)s_lag(l),
                       l->connected ? "" : " (disconnected)");
            }
            printf("%s\n", h->n_consumers ? "" : "-");
            if (h->turns_aborted) {
                char t[CLI_TIME_MAX];
                kp_time_format(h->last_abort_ms / 1000, t, sizeof t);
                printf("%-14s %llu turn(s) aborted, the last at %s: %s%s\n", "",
                       (unsigned long long)h->turns_aborted, t, h->last_abort,
                       s_failing(h) ? " (nothing written since; see its log)" : "");
            }
        } else {
            printf("%-14s %-5s\n", s_services[i], "DOWN");
        }
    }
    if (c->json)
        cli_json_print(arr);
    return down ? EXIT_UNREACHABLE : failing ? EXIT_OTHER : EXIT_OK_;
}

static int
s_metrics(cli_ctx_t *c)
{
    int headers = 1;
    for (size_t i = 0; i < SERVICES_N; i++) {
        Kumppani__V1__HealthReply *h = s_health_of(c, s_services[i]);
        if (!h) {
            printf("kumppani_up{service=\"%s\"} 0\n", s_services[i]);
            continue;
        }
        char *buf = malloc(65536);
        int n = buf ? kp_metrics_format(h, headers, buf, 65536) : -1;
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            headers = 0;
        }
        free(buf);
    }
    return EXIT_OK_;
}

/* ---- privacy: a person's data across the whole suite (GDPR Art. 15 and 17) --------------- */

/*  "privacy erase" and "privacy export" name a person by e-mail, phone or (events only) a
 *  sign-up id and ask every service that holds personal data, in turn, with the admin key:
 *  "<prefix>.privacy.erase" / "<prefix>.privacy.export" (proto/kumppani/v1/privacy.proto).
 *  A service that holds nothing answers NOT_FOUND, which is an answer, not a failure. The
 *  command fails (exit 3) if a service could not be reached, because then the person may still
 *  be held there: the operator must run it again. Erasure that reached every service prints
 *  what each erased; the services then erase their copies elsewhere over the bus themselves.
 *  Nothing of the subject is printed by erase; export prints one JSON document, which is the
 *  person's own data and goes only to stdout.
 *
 *  A service handles at most a cap of records of one subject per call, and its reply says
 *  more when it stopped there (privacy.proto). The command then says so for that service
 *  (erase: run the same erasure again, it finds the rest; export: incomplete, on stderr and in
 *  the document's "incomplete" list) and exits 5 (EXIT_INCOMPLETE), unless a service could not
 *  be reached or answered an error, whose exit code (3, 4) comes first: 5 means every service
 *  answered and the person's data is not yet all erased or exported. 5 is the first code after
 *  the CLI's common ones (cli_cmd.h), so a script tells it from every failure. */

/* Every service answered, and one stopped at its cap (more): run again (erase), incomplete
 * (export). */
#define EXIT_INCOMPLETE 5

typedef struct {
    const char *service; /* the CLI's service name (endpoint, key) */
    const char *prefix;  /* its method prefix */
} s_holder_t;

static const s_holder_t s_holders[] = {
    {"events", "events"},
    {"registry", "registry"},
    {"expert-broker", "broker"},
    {"notifier", "notifier"},
};
#define HOLDERS_N (sizeof s_holders / sizeof s_holders[0])

static const cli_optspec_t s_privacy_opts[] = {
    {"email", true}, {"phone", true}, {"signup", true}, {NULL, false}};

/* The subject from the options. Returns 0 or -1 (reported). */
static int
s_subject(cli_ctx_t *c, Kumppani__V1__DataSubject *s)
{
    const char *email = cli_arg(c->a, "email"), *phone = cli_arg(c->a, "phone"),
               *signup = cli_arg(c->a, "signup");
    if ((email != NULL) + (phone != NULL) + (signup != NULL) != 1) {
        cli_err("name the person by exactly one of --email, --phone and --signup");
        return -1;
    }
    if ((email && !*email) || (phone && !*phone)) {
        cli_err("--email and --phone must not be empty");
        return -1;
    }
    if (signup) {
        char *end;
        unsigned long long id = strtoull(signup, &end, 10);
        if (!*signup || *end || id == 0) {
            cli_err("--signup takes a sign-up id (a positive number)");
            return -1;
        }
        s->signup_id = id;
    }
    s->email = (char *)(email ? email : "");
    s->phone = (char *)(phone ? phone : "");
    return 0;
}

/* What a command does with one service's answer: ex is its exit code, r the decoded reply when
 * the service held something (else NULL). Returns whether the reply says more. */
typedef bool (*s_answer_fn)(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *r);

/* Asks every holder in turn to <verb> the subject, handing each answer to fn. Returns the
 * first failure's exit code, else EXIT_INCOMPLETE when a service said more, else EXIT_OK_. */
static int
s_ask_all(cli_ctx_t *c, const char *verb, const Kumppani__V1__DataSubject *s,
          const ProtobufCMessageDescriptor *out_desc, s_answer_fn fn, void *arg)
{
    int worst = EXIT_OK_;
    bool more = false;
    for (size_t i = 0; i < HOLDERS_N; i++) {
        const s_holder_t *h = &s_holders[i];
        char method[64];
        snprintf(method, sizeof method, "%s.privacy.%s", h->prefix, verb);
        /* NOT_FOUND: holds nothing of the subject. (UNKNOWN_METHOD is a failure: that service
         * version cannot erase, and may hold the person.) */
        ProtobufCMessage *out;
        int ex = cli_call_or_none(c, h->service, method, &s->base, out_desc, &out);
        if (ex != EXIT_OK_ && worst == EXIT_OK_)
            worst = ex;
        more |= fn(arg, h, ex, ex == EXIT_OK_ ? out : NULL);
    }
    return worst == EXIT_OK_ && more ? EXIT_INCOMPLETE : worst;
}

/* erase: one JSON object per service (arg: the array; "more" as the reply's field), or two
 * lines of text, and a third when the service stopped at its cap (arg NULL). */
static bool
s_erased(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *m)
{
    json_t *arr = arg;
    const Kumppani__V1__PrivacyEraseReply *r = (const Kumppani__V1__PrivacyEraseReply *)m;
    unsigned n = r ? r->erased : 0;
    bool more = r && r->more;
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "service", json_string(h->service));
        json_object_set_new(o, "answered", json_boolean(ex == EXIT_OK_));
        json_object_set_new(o, "erased", json_integer(n));
        json_object_set_new(o, "more", json_boolean(more));
        json_array_append_new(arr, o);
    } else {
        printf("%-14s %s\n", h->service,
               ex != EXIT_OK_ ? "NOT REACHED: run the command again"
               : n            ? "erased"
                              : "held nothing");
        if (ex == EXIT_OK_ && n)
            printf("%-14s %u record(s)\n", "", n);
        if (more)
            printf("%s: more records remain; run the same erasure again\n", h->service);
    }
    return more;
}

static int
s_erase(cli_ctx_t *c)
{
    Kumppani__V1__DataSubject s = KUMPPANI__V1__DATA_SUBJECT__INIT;
    if (s_subject(c, &s))
        return EXIT_USAGE;
    json_t *arr = c->json ? json_array() : NULL;
    int worst =
        s_ask_all(c, "erase", &s, &kumppani__v1__privacy_erase_reply__descriptor, s_erased, arr);
    if (arr)
        cli_json_print(arr);
    return worst;
}

/* Beside every time in an export ("<name>_ms" or "<name>_unix", a number) the same time in
 * Helsinki as "<name>" (ISO 8601 with its offset): the document is the person's, to read. The
 * numbers stay for a program. */
static void
s_readable_times(json_t *j)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) s_readable_times(v);
        return;
    }
    if (!json_is_object(j))
        return;
    const char *k;
    json_t *v, *add = json_object(); /* set after the walk: no key is added while it runs */
    json_object_foreach(j, k, v)
    {
        s_readable_times(v);
        size_t n = strlen(k);
        bool ms = n > 3 && strcmp(k + n - 3, "_ms") == 0;
        bool unix_s = n > 5 && strcmp(k + n - 5, "_unix") == 0;
        if (!(ms || unix_s) || !json_is_integer(v) || json_integer_value(v) <= 0 || n >= 64)
            continue;
        char name[64], iso[40];
        snprintf(name, sizeof name, "%.*s", (int)(n - (ms ? 3 : 5)), k);
        json_int_t t = json_integer_value(v);
        kp_time_iso(ms ? t / 1000 : t, iso, sizeof iso);
        json_object_set_new(add, name, json_string(iso));
    }
    json_object_update_missing(j, add); /* a name the service uses itself stays its own */
    json_decref(add);
}

/* export: what the service holds under its name in the "services" object of the document in
 * arg; a service cut at its cap is named on stderr and in the document's "incomplete" list. */
static bool
s_exported(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *m)
{
    json_t *services = json_object_get(arg, "services");
    if (ex != EXIT_OK_) {
        json_object_set_new(services, h->service, json_string("not reached"));
        return false;
    }
    const Kumppani__V1__PrivacyExportReply *r = (const Kumppani__V1__PrivacyExportReply *)m;
    json_t *held = NULL;
    if (r && r->json && *r->json) {
        json_error_t err;
        held = json_loads(r->json, 0, &err);
        if (!held)
            held = json_string(r->json); /* not JSON after all: keep it as text */
        s_readable_times(held);
    }
    json_object_set_new(services, h->service, held ? held : json_null());
    if (!r || !r->more)
        return false;
    json_array_append_new(json_object_get(arg, "incomplete"), json_string(h->service));
    fprintf(stderr,
            "%s: the export from this service is cut at its cap and is incomplete (it holds "
            "the first records only)\n",
            h->service);
    return true;
}

static int
s_export(cli_ctx_t *c)
{
    Kumppani__V1__DataSubject s = KUMPPANI__V1__DATA_SUBJECT__INIT;
    if (s_subject(c, &s))
        return EXIT_USAGE;
    json_t *doc = json_object();
    json_object_set_new(doc, "subject",
                        json_string(s.email[0]   ? s.email
                                    : s.phone[0] ? s.phone
                                                 : "sign-up"));
    json_object_set_new(doc, "services", json_object());
    json_object_set_new(doc, "incomplete", json_array());
    int worst = s_ask_all(c, "export", &s, &kumppani__v1__privacy_export_reply__descriptor,
                          s_exported, doc);
    cli_json_print(doc);
    return worst;
}

static const cli_optspec_t s_keygen_opts[] = {{"dir", true}, {NULL, false}};
static const cli_optspec_t s_replay_opts[] = {{"service", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t s_health_opts[] = {{"service", true}, {NULL, false}};

const cli_cmd_t cli_cmds_suite[] = {
    {.words = "keygen",
     .opts = s_keygen_opts,
     .help =
         "Usage: kumppani keygen NAME [--dir DIR]\n"
         "Writes a new CURVE key pair to DIR/NAME.key (mode 0600) and DIR/NAME.pub and prints "
         "the\n"
         "public key. DIR defaults to the keys directory (see --keys). Never overwrites a key.\n",
     .flags = CLI_POSITIONAL_ANY | CLI_IN_SUMMARY,
     .run = s_keygen},
    {.words = "log replay",
     .opts = s_replay_opts,
     .help = "Usage: kumppani log replay [--service NAME] [--from SEQ] [--limit N]\n"
             "Prints the service's event log (seq, time, type) from SEQ (default 1); without "
             "--limit,\n"
             "up to the head. NAME defaults to events.\n",
     .flags = CLI_SERVICE_OPT | CLI_PAGED | CLI_IN_SUMMARY,
     CLI_CALL(NULL, "log.replay", replay_request, replay_page),
     .set =
         (const cli_optfield_t[]){
             {"from", .field = "from_seq", .min = 1, .max = UINT64_MAX, .def = "1"}, {0}},
     .fill = s_replay_fill,
     CLI_LINES("events", s_replay_cols, s_replay_row),
     .view = s_event_view,
     .page = s_replay_page},
    {.words = "health",
     .opts = s_health_opts,
     .help = "Usage: kumppani health [--service NAME]\n"
             "Shows a service's health: log head, commits, consumer lag. NAME defaults to "
             "events.\n",
     .flags = CLI_SERVICE_OPT | CLI_IN_SUMMARY,
     CLI_CALL(NULL, "sys.health", health_request, health_reply),
     .print = s_health_print,
     .view = s_health_view},
    {.words = "status",
     .help = "Usage: kumppani status\n"
             "Asks every service (registry, events, expert-broker, notifier) for its health and "
             "shows\n"
             "one line each: up or DOWN, log head, commits, and each consumer's lag behind its "
             "source.\n"
             "A service that answers but whose last write was aborted (nothing written since)\n"
             "is FAILING. Exit 0 if all answered, 3 if any did not, 1 if one is failing.\n"
             "Endpoints as for every command\n"
             "($KUMPPANI_<SERVICE>_API); give --timeout 1000 --attempts 1 for a quick look.\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_status},
    {.words = "metrics",
     .help = "Usage: kumppani metrics\n"
             "Prints every service's health in the Prometheus text format (for a scraper or\n"
             "node_exporter's textfile collector); a service that does not answer shows "
             "kumppani_up 0.\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_metrics},
    {.words = "privacy erase",
     .opts = s_privacy_opts,
     .help = "Usage: kumppani privacy erase (--email E | --phone P | --signup ID)\n"
             "Erases a person everywhere (GDPR Art. 17): asks every service to erase what it\n"
             "holds about the person named by e-mail or phone (or one sign-up by its id). Counts\n"
             "and statistics stay; the person's data leaves the stores, the logs and the disk.\n"
             "A service erases at most a cap of records per call; when more remain it prints\n"
             "\"<service>: more records remain; run the same erasure again\" (--json: \"more\").\n"
             "Exit 0 when every service answered and erased all it held, 3 when one could not\n"
             "be reached (run again), 4 when one answered an error, 5 when every service\n"
             "answered but one stopped at its cap (run the same erasure again).\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_erase},
    {.words = "privacy export",
     .opts = s_privacy_opts,
     .help = "Usage: kumppani privacy export (--email E | --phone P | --signup ID)\n"
             "Prints everything the suite holds about the person (GDPR Art. 15) as one JSON\n"
             "document: {\"subject\", \"services\": {<service>: what it holds, or null},\n"
             "\"incomplete\": [<service> whose export stopped at its cap]}. A service exports\n"
             "at most a cap of records per call; one cut there is named on stderr too.\n"
             "Exit 0 when every service answered in full, 3 when one could not be reached,\n"
             "4 when one answered an error, 5 when every service answered but one export is\n"
             "incomplete (cut at its cap).\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_export},
    {0},
};
