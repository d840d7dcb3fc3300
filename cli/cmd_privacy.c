/*  cmd_privacy.c: a person's data across the whole suite (GDPR Art. 15 and 17).
 *
 *  "privacy erase" and "privacy export" name a person by e-mail, phone or (events only) a
 *  sign-up id and ask every service that holds personal data, in turn, with the admin key:
 *  "<prefix>.privacy.erase" / "<prefix>.privacy.export" (proto/kumppani/v1/privacy.proto).
 *  A service that holds nothing answers NOT_FOUND, which is an answer, not a failure. The
 *  command fails (exit 3) if a service could not be reached, because then the person may still
 *  be held there: the operator must run it again. Erasure that reached every service prints
 *  what each erased; the services then erase their copies elsewhere over the bus themselves.
 *  Nothing of the subject is printed by erase; export prints one JSON document, which is the
 *  person's own data and goes only to stdout. */
#include "cli_cmd.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (cli_no_pos(c))
        return -1;
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
 * the service held something (else NULL). */
typedef void (*s_answer_fn)(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *r);

/* Asks every holder in turn to <verb> the subject, handing each answer to fn. Returns the
 * first failure's exit code, or EXIT_OK_ when every service answered. */
static int
s_ask_all(cli_ctx_t *c, const char *verb, const Kumppani__V1__DataSubject *s,
          const ProtobufCMessageDescriptor *out_desc, s_answer_fn fn, void *arg)
{
    int worst = EXIT_OK_;
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
        fn(arg, h, ex, ex == EXIT_OK_ ? out : NULL);
    }
    return worst;
}

/* erase: one JSON object per service (arg: the array), or two lines of text (arg NULL). */
static void
s_erased(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *m)
{
    json_t *arr = arg;
    const Kumppani__V1__PrivacyEraseReply *r = (const Kumppani__V1__PrivacyEraseReply *)m;
    unsigned n = r ? r->erased : 0;
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "service", json_string(h->service));
        json_object_set_new(o, "answered", json_boolean(ex == EXIT_OK_));
        json_object_set_new(o, "erased", json_integer(n));
        json_array_append_new(arr, o);
    } else {
        printf("%-14s %s\n", h->service,
               ex != EXIT_OK_ ? "NOT REACHED: run the command again"
               : n            ? "erased"
                              : "held nothing");
        if (ex == EXIT_OK_ && n)
            printf("%-14s %u record(s)\n", "", n);
    }
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

/* export: what the service holds under its name in arg (the "services" object). */
static void
s_exported(void *arg, const s_holder_t *h, int ex, const ProtobufCMessage *m)
{
    json_t *services = arg;
    if (ex != EXIT_OK_) {
        json_object_set_new(services, h->service, json_string("not reached"));
        return;
    }
    const Kumppani__V1__PrivacyExportReply *r = (const Kumppani__V1__PrivacyExportReply *)m;
    json_t *held = NULL;
    if (r && r->json && *r->json) {
        json_error_t err;
        held = json_loads(r->json, 0, &err);
        if (!held)
            held = json_string(r->json); /* not JSON after all: keep it as text */
    }
    json_object_set_new(services, h->service, held ? held : json_null());
}

static int
s_export(cli_ctx_t *c)
{
    Kumppani__V1__DataSubject s = KUMPPANI__V1__DATA_SUBJECT__INIT;
    if (s_subject(c, &s))
        return EXIT_USAGE;
    json_t *doc = json_object(), *services = json_object();
    int worst = s_ask_all(c, "export", &s, &kumppani__v1__privacy_export_reply__descriptor,
                          s_exported, services);
    json_object_set_new(doc, "subject",
                        json_string(s.email[0]   ? s.email
                                    : s.phone[0] ? s.phone
                                                 : "sign-up"));
    json_object_set_new(doc, "services", services);
    cli_json_print(doc);
    return worst;
}

const cli_cmd_t cli_cmds_privacy[] = {
    {.words = "privacy erase",
     .opts = s_privacy_opts,
     .help = "Usage: kumppani privacy erase (--email E | --phone P | --signup ID)\n"
             "Erases a person everywhere (GDPR Art. 17): asks every service to erase what it\n"
             "holds about the person named by e-mail or phone (or one sign-up by its id). Counts\n"
             "and statistics stay; the person's data leaves the stores, the logs and the disk.\n"
             "Exit 0 when every service answered, 3 when one could not be reached (run again).\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_erase},
    {.words = "privacy export",
     .opts = s_privacy_opts,
     .help = "Usage: kumppani privacy export (--email E | --phone P | --signup ID)\n"
             "Prints everything the suite holds about the person (GDPR Art. 15) as one JSON\n"
             "document: {\"subject\", \"services\": {<service>: what it holds, or null}}.\n"
             "Exit 0 when every service answered, 3 when one could not be reached.\n",
     .flags = CLI_IN_SUMMARY,
     .run = s_export},
    {0},
};
