/*  cmd_notifier.c: the `kumppani notifier ...` commands (see cli_cmd.h): status and history
 *  of a notification, a preview of it, dead letters and their retry, the schedule of an
 *  event, and opt-out per channel. */
#include "cli_cmd.h"
#include "kumppani/v1/notifier.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *
s_enum(const ProtobufCEnumDescriptor *d, int v, const char *prefix)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return "unknown";
    size_t pl = strlen(prefix);
    return strncmp(ev->name, prefix, pl) == 0 ? ev->name + pl : ev->name;
}

static const char *
s_state(int v)
{
    return s_enum(&kumppani__v1__notification_state__descriptor, v, "NOTIFICATION_STATE_");
}

static const char *
s_kind(int v)
{
    return s_enum(&kumppani__v1__message_kind__descriptor, v, "MESSAGE_KIND_");
}

static const char *
s_channel(int v)
{
    return s_enum(&kumppani__v1__notification_channel__descriptor, v, "CHANNEL_");
}

static void
s_ms(int64_t ms, char *buf, size_t len)
{
    if (!ms) {
        snprintf(buf, len, "-");
        return;
    }
    cli_time_format(ms / 1000, buf, len);
}

static json_t *
s_json(const Kumppani__V1__Notification *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", cli_json_str(n->key));
    json_object_set_new(o, "kind", cli_json_str(s_kind(n->kind)));
    json_object_set_new(o, "channel", cli_json_str(s_channel(n->channel)));
    json_object_set_new(o, "state", cli_json_str(s_state(n->state)));
    json_object_set_new(o, "due", cli_json_time(n->due_ms / 1000));
    json_object_set_new(o, "attempts_n", json_integer(n->attempts_n));
    json_object_set_new(o, "event_id", json_integer((json_int_t)n->event_id));
    json_object_set_new(o, "signup_id", json_integer((json_int_t)n->signup_id));
    json_object_set_new(o, "language", cli_json_str(n->language));
    json_object_set_new(o, "urgent", json_boolean(n->urgent));
    json_t *h = json_array();
    for (size_t i = 0; i < n->n_attempts; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "time", cli_json_time(n->attempts[i]->time_ms / 1000));
        json_object_set_new(a, "ok", json_boolean(n->attempts[i]->ok));
        json_object_set_new(a, "result", cli_json_str(n->attempts[i]->result));
        json_array_append_new(h, a);
    }
    json_object_set_new(o, "history", h);
    return o;
}

static void
s_row_header(void)
{
    printf("%-16s %-10s %-8s %-10s %-8s %s\n", "DUE", "STATE", "CHANNEL", "KIND", "TRIES", "KEY");
}

static void
s_row(const Kumppani__V1__Notification *n)
{
    char due[CLI_TIME_MAX];
    s_ms(n->due_ms, due, sizeof due);
    printf("%-16s %-10s %-8s %-10.10s %-8u %s\n", due, s_state(n->state), s_channel(n->channel),
           s_kind(n->kind), n->attempts_n, n->key);
}

static int
s_key(cli_ctx_t *c, const char **key)
{
    if (c->a->pos_n != 1) {
        cli_err("give exactly one notification key (see `kumppani notifier schedule ID`)");
        return -1;
    }
    *key = c->a->pos[0];
    return 0;
}

static int
s_show(cli_ctx_t *c, const char *method)
{
    const char *key;
    if (s_key(c, &key))
        return EXIT_USAGE;
    Kumppani__V1__NotificationRef rq = KUMPPANI__V1__NOTIFICATION_REF__INIT;
    rq.key = (char *)key;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "notifier", method, NULL, &rq.base,
                      &kumppani__v1__notification_reply__descriptor, &out);
    if (ex)
        return ex;
    const Kumppani__V1__Notification *n = ((Kumppani__V1__NotificationReply *)out)->notification;
    if (!n) {
        protobuf_c_message_free_unpacked(out, NULL);
        cli_err("the service answered without a notification");
        return EXIT_OTHER;
    }
    if (c->json) {
        json_t *o = s_json(n);
        protobuf_c_message_free_unpacked(out, NULL);
        return cli_json_print(o);
    }
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
    protobuf_c_message_free_unpacked(out, NULL);
    return EXIT_OK_;
}

static int
s_status(cli_ctx_t *c)
{
    return s_show(c, "notifier.status");
}

static int
s_retry(cli_ctx_t *c)
{
    return s_show(c, "notifier.dead.retry");
}

static int
s_preview(cli_ctx_t *c)
{
    const char *key;
    if (s_key(c, &key))
        return EXIT_USAGE;
    Kumppani__V1__NotificationRef rq = KUMPPANI__V1__NOTIFICATION_REF__INIT;
    rq.key = (char *)key;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "notifier", "notifier.preview", NULL, &rq.base,
                      &kumppani__v1__preview_reply__descriptor, &out);
    if (ex)
        return ex;
    Kumppani__V1__PreviewReply *r = (Kumppani__V1__PreviewReply *)out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "subject", cli_json_str(r->subject));
        json_object_set_new(o, "body", cli_json_str(r->body_text));
        json_object_set_new(o, "ical", cli_json_str(r->ical_text));
        json_object_set_new(o, "message", cli_json_str(r->message_text));
        protobuf_c_message_free_unpacked(out, NULL);
        return cli_json_print(o);
    }
    if (cli_flag(c->a, "raw") && r->message_text[0])
        fputs(r->message_text, stdout);
    else
        printf("Subject: %s\n\n%s%s%s", r->subject, r->body_text,
               r->ical_text[0] ? "\n--- iCalendar ---\n" : "", r->ical_text);
    protobuf_c_message_free_unpacked(out, NULL);
    return EXIT_OK_;
}

static int
s_list(cli_ctx_t *c, const char *method, Kumppani__V1__ListNotificationsRequest *rq)
{
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "notifier", method, NULL, &rq->base,
                      &kumppani__v1__list_notifications_reply__descriptor, &out);
    if (ex)
        return ex;
    Kumppani__V1__ListNotificationsReply *r = (Kumppani__V1__ListNotificationsReply *)out;
    json_t *arr = c->json ? json_array() : NULL;
    if (!arr)
        s_row_header();
    for (size_t i = 0; i < r->n_notifications; i++) {
        if (arr)
            json_array_append_new(arr, s_json(r->notifications[i]));
        else
            s_row(r->notifications[i]);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return arr ? cli_json_print(arr) : EXIT_OK_;
}

static int
s_dead(cli_ctx_t *c)
{
    uint64_t limit = 0;
    if (cli_no_pos(c) || cli_num(c, "limit", false, 1, 500, &limit))
        return EXIT_USAGE;
    Kumppani__V1__ListNotificationsRequest rq = KUMPPANI__V1__LIST_NOTIFICATIONS_REQUEST__INIT;
    const char *after = cli_arg(c->a, "after");
    rq.after_key = (char *)(after ? after : "");
    rq.limit = (uint32_t)limit;
    return s_list(c, "notifier.dead.list", &rq);
}

static int
s_schedule(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    Kumppani__V1__ListNotificationsRequest rq = KUMPPANI__V1__LIST_NOTIFICATIONS_REQUEST__INIT;
    rq.event_id = id;
    return s_list(c, "notifier.schedule", &rq);
}

static int
s_optout(cli_ctx_t *c)
{
    const char *ch = cli_arg(c->a, "channel");
    if (c->a->pos_n != 1 || !ch || (strcmp(ch, "email") && strcmp(ch, "sms"))) {
        cli_err("usage: kumppani notifier optout ADDRESS --channel email|sms [--in]");
        return EXIT_USAGE;
    }
    Kumppani__V1__OptOutRequest rq = KUMPPANI__V1__OPT_OUT_REQUEST__INIT;
    rq.address = (char *)c->a->pos[0];
    rq.channel = strcmp(ch, "email") == 0 ? KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_EMAIL
                                          : KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_SMS;
    rq.opt_in = cli_flag(c->a, "in");
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "notifier", "notifier.optout", NULL, &rq.base,
                      &kumppani__v1__opt_out_reply__descriptor, &out);
    if (ex)
        return ex;
    bool off = ((Kumppani__V1__OptOutReply *)out)->opted_out;
    protobuf_c_message_free_unpacked(out, NULL);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "opted_out", json_boolean(off));
        return cli_json_print(o);
    }
    printf("%s\n", off ? "opted out" : "opted in");
    return EXIT_OK_;
}

static const cli_optspec_t s_none[] = {{NULL, false}};
static const cli_optspec_t s_preview_opts[] = {{"raw", false}, {NULL, false}};
static const cli_optspec_t s_dead_opts[] = {{"after", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t s_optout_opts[] = {{"channel", true}, {"in", false}, {NULL, false}};

const cli_cmd_t cli_cmds_notifier[] = {
    {"notifier status", s_none,
     "Usage: kumppani notifier status KEY\nShows a notification: state, due time and its "
     "delivery history.\n",
     s_status},
    {"notifier preview", s_preview_opts,
     "Usage: kumppani notifier preview KEY [--raw]\nShows the message as it would be sent now "
     "(--raw: the whole e-mail).\n",
     s_preview},
    {"notifier dead", s_dead_opts,
     "Usage: kumppani notifier dead [--after KEY] [--limit N]\nLists dead letters "
     "(notifications whose retries ran out).\n",
     s_dead},
    {"notifier retry", s_none,
     "Usage: kumppani notifier retry KEY\nSends a dead letter again (a new retry horizon).\n",
     s_retry},
    {"notifier schedule", s_none,
     "Usage: kumppani notifier schedule EVENT_ID\nLists every notification of an event: "
     "reminders, notices, their state and due time.\n",
     s_schedule},
    {"notifier optout", s_optout_opts,
     "Usage: kumppani notifier optout ADDRESS --channel email|sms [--in]\nStops everything but "
     "cancellations to the address on the channel (--in undoes it).\n",
     s_optout},
    {NULL, NULL, NULL, NULL},
};
