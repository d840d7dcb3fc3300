/*  cmd_notifier.c: the `kumppani notifier ...` commands, as rows (cli_cmd.h): status and
 *  history of a notification, a preview of it, dead letters and their retry, the schedule of
 *  an event, and opt-out per channel. A notification's JSON is a view (s_notification_view:
 *  short enum names, times in Helsinki ISO 8601, "history"), the shape scripts read. */
#include "cli_cmd.h"
#include "kp_time.h"
#include "kumppani/v1/notifier.pb-c.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
s_state(int v)
{
    return cli_enum_short(&kumppani__v1__notification_state__descriptor, "NOTIFICATION_STATE_", v);
}

static const char *
s_kind(int v)
{
    return cli_enum_short(&kumppani__v1__message_kind__descriptor, "MESSAGE_KIND_", v);
}

static const char *
s_channel(int v)
{
    return cli_enum_short(&kumppani__v1__notification_channel__descriptor, "CHANNEL_", v);
}

static void
s_ms(int64_t ms, char *buf, size_t len)
{
    if (!ms) {
        snprintf(buf, len, "-");
        return;
    }
    kp_time_format(ms / 1000, buf, len);
}

static const cli_jview_t s_attempt_view[] = {
    {"time", "time_ms", CLI_J_TIME_MS, NULL, NULL},
    {"ok", NULL, 0, NULL, NULL},
    {"result", NULL, 0, NULL, NULL},
    {0},
};

static const cli_jview_t s_notification_view[] = {
    {"key", NULL, 0, NULL, NULL},
    {"kind", NULL, CLI_J_SHORT, "MESSAGE_KIND_", NULL},
    {"channel", NULL, CLI_J_SHORT, "CHANNEL_", NULL},
    {"state", NULL, CLI_J_SHORT, "NOTIFICATION_STATE_", NULL},
    {"due", "due_ms", CLI_J_TIME_MS, NULL, NULL},
    {"attempts_n", NULL, 0, NULL, NULL},
    {"event_id", NULL, 0, NULL, NULL},
    {"signup_id", NULL, 0, NULL, NULL},
    {"language", NULL, 0, NULL, NULL},
    {"urgent", NULL, 0, NULL, NULL},
    {"history", "attempts", 0, NULL, s_attempt_view},
    {0},
};

static const cli_jview_t s_preview_view[] = {
    {"subject", NULL, 0, NULL, NULL},
    {"body", "body_text", 0, NULL, NULL},
    {"ical", "ical_text", 0, NULL, NULL},
    {"message", "message_text", 0, NULL, NULL},
    {0},
};

static const cli_col_t s_cols[] = {
    {"DUE", 16}, {"STATE", 10}, {"CHANNEL", 8}, {"KIND", 18}, {"TRIES", 5}, {"KEY", 0}, {0}};

static void
s_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Notification *n = (const Kumppani__V1__Notification *)m;
    char due[CLI_TIME_MAX];
    s_ms(n->due_ms, due, sizeof due);
    printf("%-16s %-10s %-8s %-18s %-5u %s\n", due, s_state(n->state), s_channel(n->channel),
           s_kind(n->kind), n->attempts_n, n->key);
}

/* The one notification key of status, retry and preview. */
static int
s_key(cli_ctx_t *c, ProtobufCMessage *m)
{
    if (c->a->pos_n != 1) {
        cli_err("give exactly one notification key (see `kumppani notifier schedule ID`)");
        return -1;
    }
    ((Kumppani__V1__NotificationRef *)m)->key = (char *)c->a->pos[0];
    return 0;
}

static void
s_show_text(const ProtobufCMessage *m)
{
    const Kumppani__V1__Notification *n = (const Kumppani__V1__Notification *)m;
    char t[CLI_TIME_MAX];
    printf("key:       %s\nkind:      %s\nchannel:   %s\nstate:     %s\n", n->key, s_kind(n->kind),
           s_channel(n->channel), s_state(n->state));
    s_ms(n->due_ms, t, sizeof t);
    printf("due:       %s%s\nevent:     %llu\nsign-up:   %llu\nlanguage:  %s\nattempts:  %u\n", t,
           n->urgent ? " (urgent)" : "", (unsigned long long)n->event_id,
           (unsigned long long)n->signup_id, n->language, n->attempts_n);
    if (n->n_attempts)
        printf("history:\n");
    for (size_t i = 0; i < n->n_attempts; i++) {
        s_ms(n->attempts[i]->time_ms, t, sizeof t);
        printf("  %s  %-4s %s\n", t, n->attempts[i]->ok ? "ok" : "fail", n->attempts[i]->result);
    }
}

static int
s_preview_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__PreviewReply *r = (const Kumppani__V1__PreviewReply *)m;
    if (cli_flag(c->a, "raw") && r->message_text[0])
        fputs(r->message_text, stdout);
    else
        printf("Subject: %s\n\n%s%s%s", r->subject, r->body_text,
               r->ical_text[0] ? "\n--- iCalendar ---\n" : "", r->ical_text);
    return EXIT_OK_;
}

static int
s_optout(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__OptOutRequest *rq = (Kumppani__V1__OptOutRequest *)m;
    const char *ch = cli_arg(c->a, "channel");
    if (c->a->pos_n != 1 || !ch || (strcmp(ch, "email") && strcmp(ch, "sms"))) {
        cli_err("usage: kumppani notifier optout ADDRESS --channel email|sms [--in]");
        return -1;
    }
    rq->address = (char *)c->a->pos[0];
    rq->channel = strcmp(ch, "email") == 0 ? KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_EMAIL
                                           : KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_SMS;
    rq->opt_in = cli_flag(c->a, "in");
    return 0;
}

static void
s_optout_print(const ProtobufCMessage *m)
{
    printf("%s\n", ((const Kumppani__V1__OptOutReply *)m)->opted_out ? "opted out" : "opted in");
}

/* notifier sent --to ADDRESS | --request ID: what went to an address, or about a broker
 * request (newest first). */
static int
s_sent(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__SentRequest *rq = (Kumppani__V1__SentRequest *)m;
    const char *to = cli_arg(c->a, "to");
    bool by_req = cli_arg(c->a, "request") != NULL;
    if ((!to || !to[0]) == !by_req) {
        cli_err("usage: kumppani notifier sent --to ADDRESS | --request ID [--limit N]");
        return -1;
    }
    if (cli_num32(c, "limit", false, 1, 500, &rq->limit) ||
        (by_req && cli_num(c, "request", true, 1, UINT64_MAX, &rq->request_id)))
        return -1;
    rq->address = (char *)(to ? to : "");
    return 0;
}

static const cli_jview_t s_optout_entry_view[] = {
    {"channel", NULL, CLI_J_SHORT, "CHANNEL_", NULL}, {"address", NULL, 0, NULL, NULL}, {0}};

/* --after CHANNEL:ADDRESS, the channel by name (email:, sms:) or by its number as the service
 * keeps it ("2:"), into the service's form; anything else is a usage error rather than a
 * list silently started again from the top. */
static int
s_optouts(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__OptOutListRequest *rq = (Kumppani__V1__OptOutListRequest *)m;
    const char *after = cli_arg(c->a, "after");
    if (!after)
        return 0;
    const char *colon = strchr(after, ':');
    int ch = 0;
    if (colon && colon - after == 1 && after[0] >= '1' && after[0] <= '3')
        ch = after[0] - '0';
    else if (colon)
        for (int v = 1; v <= 3 && !ch; v++) {
            char name[CLI_NAME_MAX];
            cli_enum_name(&kumppani__v1__notification_channel__descriptor, "CHANNEL_", v, name);
            if (strlen(name) == (size_t)(colon - after) && strncmp(after, name, strlen(name)) == 0)
                ch = v;
        }
    if (!ch || !colon[1]) {
        cli_err("--after: CHANNEL:ADDRESS, e.g. sms:+358401234567 (as the last page ended)");
        return -1;
    }
    size_t n = strlen(colon + 1) + 3;
    char *v = cli_alloc(c, n);
    snprintf(v, n, "%d:%s", ch, colon + 1);
    rq->after_address = v;
    return 0;
}

/* True when a page of n rows is full: there may be more (the page is --limit, else 100). */
static bool
s_page_full(cli_ctx_t *c, size_t n)
{
    const char *lim = cli_arg(c->a, "limit");
    return n && n >= (lim ? (size_t)strtoul(lim, NULL, 10) : 100);
}

/* The dead letters, and the next page's --after when this page is full. */
static int
s_dead_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__ListNotificationsReply *r = (const void *)m;
    cli_header(s_cols);
    for (size_t i = 0; i < r->n_notifications; i++)
        s_row(&r->notifications[i]->base);
    if (s_page_full(c, r->n_notifications))
        fprintf(stderr, "next page: --after '%s'\n", r->notifications[r->n_notifications - 1]->key);
    return EXIT_OK_;
}

/* The table, and the next page's --after only when this page is full (there may be more). */
static int
s_optouts_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__OptOutListReply *r = (const Kumppani__V1__OptOutListReply *)m;
    cli_header((const cli_col_t[]){{"CHANNEL", 8}, {"ADDRESS", 0}, {0}});
    for (size_t i = 0; i < r->n_optouts; i++)
        printf("%-8s %s\n", s_channel(r->optouts[i]->channel), r->optouts[i]->address);
    if (s_page_full(c, r->n_optouts)) {
        const Kumppani__V1__OptOutEntry *e = r->optouts[r->n_optouts - 1];
        char name[CLI_NAME_MAX];
        fprintf(stderr, "next page: --after '%s:%s'\n",
                cli_enum_name(&kumppani__v1__notification_channel__descriptor, "CHANNEL_",
                              e->channel, name),
                e->address);
    }
    return EXIT_OK_;
}

/* ---- the table --------------------------------------------------------------------------- */

static const cli_optspec_t s_preview_opts[] = {{"raw", false}, {NULL, false}};
static const cli_optspec_t s_optout_opts[] = {{"channel", true}, {"in", false}, {NULL, false}};
static const cli_optspec_t s_optouts_opts[] = {{"after", true}, {NULL, false}};
static const cli_optspec_t s_sent_opts[] = {
    {"to", true}, {"limit", true}, {"request", true}, {NULL, false}};

/* A call on one notification by its key (the one positional argument), answered by out_t. */
#define NOTIFICATION_REF(m, out_t)                                                                 \
    .flags = CLI_POSITIONAL_ANY, CLI_CALL("notifier", m, notification_ref, out_t), .fill = s_key
/* A call on one notification by its key that answers the notification. */
#define NOTIFICATION_CALL(m)                                                                       \
    NOTIFICATION_REF(m, notification_reply), .unwrap = "notification", .noun = "a notification",   \
                                             .view = s_notification_view, .line = s_show_text
/* A call that answers a list of notifications (a table, or the list as JSON). */
#define NOTIFICATION_LIST(m)                                                                       \
    CLI_CALL("notifier", m, list_notifications_request, list_notifications_reply),                 \
        .items = "notifications", .view = s_notification_view,                                     \
        CLI_LINES("notifications", s_cols, s_row)

const cli_cmd_t cli_cmds_notifier[] = {
    {.words = "notifier status",
     .help = "Usage: kumppani notifier status KEY\nShows a notification: state, due time and its "
             "delivery history.\n",
     NOTIFICATION_CALL("notifier.status")},
    {.words = "notifier preview",
     .opts = s_preview_opts,
     .help =
         "Usage: kumppani notifier preview KEY [--raw]\nShows the message as it would be sent now "
         "(--raw: the whole e-mail).\n",
     NOTIFICATION_REF("notifier.preview", preview_reply),
     .view = s_preview_view,
     .print = s_preview_print},
    {.words = "notifier dead",
     .help = "Usage: kumppani notifier dead [--after KEY] [--limit N]\nLists dead letters "
             "(notifications whose retries ran out), 100 a page (the next page's --after is\n"
             "printed on stderr).\n",
     CLI_CALL("notifier", "notifier.dead.list", list_notifications_request,
              list_notifications_reply),
     .items = "notifications",
     .view = s_notification_view,
     .print = s_dead_print,
     .set = (const cli_optfield_t[]){{"limit", .min = 1, .max = 500},
                                     {"after", .field = "after_key"},
                                     {0}}},
    {.words = "notifier retry",
     .help =
         "Usage: kumppani notifier retry KEY\nSends a dead letter again (a new retry horizon).\n",
     NOTIFICATION_CALL("notifier.dead.retry")},
    {.words = "notifier schedule",
     .help = "Usage: kumppani notifier schedule EVENT_ID\nLists every notification of an event: "
             "reminders, notices, their state and due time.\n",
     NOTIFICATION_LIST("notifier.schedule"),
     .id_field = "event_id"},
    {.words = "notifier optout",
     .opts = s_optout_opts,
     .help =
         "Usage: kumppani notifier optout ADDRESS --channel email|sms [--in]\nStops everything but "
         "cancellations to the address on the channel (--in undoes it).\n",
     .flags = CLI_POSITIONAL_ANY,
     CLI_CALL("notifier", "notifier.optout", opt_out_request, opt_out_reply),
     .fill = s_optout,
     .line = s_optout_print},
    {.words = "notifier sent",
     .opts = s_sent_opts,
     .help = "Usage: kumppani notifier sent --to ADDRESS | --request ID [--limit N]\nLists what "
             "was sent (or tried) to an e-mail address or a phone number, or about a broker "
             "request, newest first.\n",
     NOTIFICATION_LIST("notifier.sent"),
     .fill = s_sent},
    {.words = "notifier optouts",
     .help = "Usage: kumppani notifier optouts [--after CHANNEL:ADDRESS] [--limit N]\nLists the "
             "addresses that opted out, by channel (100 a page; when a page is full, the next\n"
             "page's --after, e.g. sms:+358401234567, is printed on stderr).\n",
     CLI_CALL("notifier", "notifier.optouts", opt_out_list_request, opt_out_list_reply),
     .opts = s_optouts_opts,
     .set = (const cli_optfield_t[]){{"limit", .min = 1, .max = 1000}, {0}},
     .fill = s_optouts,
     .items = "optouts",
     .view = s_optout_entry_view,
     .print = s_optouts_print},
    {0},
};
