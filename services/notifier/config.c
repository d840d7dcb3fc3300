/*  notifier/config.c: the notifier's settings, their rules (the configure hook of kp_boot),
 *  what start-up takes from them once the server is open, and the teardown.
 *
 *  Every setting name and default is kept as the tests, docker-compose.yml and scripts/suite
 *  use them. A bad setting is named on stderr and refused (exit code 2) before the store opens.
 *  The strings in ntf_conf_t are borrowed from the settings table, which lives until exit. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "notifier.h"

#include <stdio.h>
#include <string.h>

/* clang-format off */
kp_config_item_t ntf_config_items[] = {
    KP_BOOT_ITEMS("tcp://127.0.0.1:7401", "tcp://127.0.0.1:7402", "./data/notifier",
                  "notifier"),
    KP_BOOT_FOLLOW_ITEMS("events", "tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202"),
    /* the expert-broker's log (source "expert-broker") under the prefix broker-: consume.c */
    {"broker-api", NULL, "the expert-broker's ROUTER (with broker-pub: follow its log; also "
                         "asked for an expert's address at delivery time)", NULL},
    {"broker-pub", NULL, "the expert-broker's PUB (its event log)", NULL},
    {"broker-key", "expert-broker",
     "the expert-broker's public key: a name in keys-dir or a path to a .pub", NULL},
    KP_BOOT_FOLLOW_ITEMS("registry", NULL, NULL),
    {"smtp-url", "smtp://127.0.0.1:25", "SMTP server (smtp:// or smtps://host:port)", NULL},
    {"smtp-user", NULL, "SMTP user (unset: no authentication)", NULL},
    {"smtp-password", NULL, "SMTP password", NULL},
    {"smtp-from", "noreply@kumppani.local", "sender address (envelope and From:)", NULL},
    {"smtp-from-name", "Kumppani", "sender display name", NULL},
    {"smtp-tls", "try", "STARTTLS: off, try (when offered) or require", NULL},
    {"smtp-ca-file", NULL, "CA bundle to verify the SMTP server (unset: the system's)", NULL},
    {"webhook-url", NULL, "webhook endpoint (unset: no webhooks)", NULL},
    {"webhook-secret", NULL, "HMAC-SHA256 key of X-Kumppani-Signature", NULL},
    {"sms-url", NULL, "SMS gateway URL (unset: no SMS)", NULL},
    {"sms-body", "{\"to\":\"{to}\",\"text\":\"{text}\"}",
     "SMS gateway body; {to} and {text} are JSON-escaped", NULL},
    {"retry-base-ms", "5000", "first retry delay; doubles per attempt (max 1 h)", NULL},
    {"retry-max", "12", "attempts before a notification becomes a dead letter", NULL},
    {"horizon-s", "172800", "retries stop this long after the first attempt, seconds", NULL},
    {"lease-ms", "120000", "a transfer unrecorded this long is sent again", NULL},
    {"timeout-ms", "60000", "timeout of one transfer (below lease-ms)", NULL},
    {"inflight-max", "64", "transfers at once", NULL},
    {"reminders", "1=168,24;*=24", "reminder hours before the start per EventKind", NULL},
    {"quiet-from-h", "21", "SMS quiet hours start (Europe/Helsinki)", NULL},
    {"quiet-to-h", "8", "SMS quiet hours end (Europe/Helsinki)", NULL},
    {"coordinator-email", NULL, "where unfilled expert requests are reported (unset: not)",
     NULL},
    {"coordinator-language", "fi", "the coordinator's language (fi, sv, en)", NULL},
    {"digest-weekday", "1",
     "weekly digest to contact persons: 1 = Monday .. 7 = Sunday, 0 = none", NULL},
    {"digest-hour", "7", "the digest's hour (Europe/Helsinki)", NULL},
    {"digest-days", "14", "the digest lists the events of this many days ahead", NULL},
    {"digest-language", "fi", "the digest's language (fi, sv, en)", NULL},
    {"history-retention-days", "90",
     "days a sent, cancelled or dead notification (history, dead letters) is kept (1..3650)",
     NULL},
    {0},
};
/* clang-format on */

static bool
s_set(const char *endpoint)
{
    return endpoint && *endpoint && strcmp(endpoint, "off") != 0;
}

static bool
s_lang_ok(const char *l)
{
    return l && (!strcmp(l, "fi") || !strcmp(l, "sv") || !strcmp(l, "en"));
}

int
ntf_configure(void *svc, const kp_config_item_t *items)
{
    ntf_t *n = svc;
    ntf_conf_t *c = &n->conf;
    c->smtp_url = kp_config_get(items, "smtp-url");
    c->smtp_user = kp_config_get(items, "smtp-user");
    c->smtp_password = kp_config_get(items, "smtp-password");
    c->smtp_from = kp_config_get(items, "smtp-from");
    c->smtp_from_name = kp_config_get(items, "smtp-from-name");
    c->smtp_tls = kp_config_get(items, "smtp-tls");
    c->smtp_ca_file = kp_config_get(items, "smtp-ca-file");
    c->webhook_url = kp_config_get(items, "webhook-url");
    c->webhook_secret = kp_config_get(items, "webhook-secret");
    c->sms_url = kp_config_get(items, "sms-url");
    c->sms_body = kp_config_get(items, "sms-body");
    c->coordinator_email = kp_config_get(items, "coordinator-email");
    c->coordinator_language = kp_config_get(items, "coordinator-language");
    if (c->coordinator_email && c->coordinator_email[0] &&
        !kp_text_email_valid(c->coordinator_email)) {
        fprintf(stderr, "kumppani-notifier: coordinator-email must be an address\n");
        return KP_ECONFIG;
    }
    c->digest_language = kp_config_get(items, "digest-language");
    if (!s_lang_ok(c->digest_language) || !s_lang_ok(c->coordinator_language)) {
        fprintf(stderr, "kumppani-notifier: languages are fi, sv or en\n");
        return KP_ECONFIG;
    }
    uint64_t qf, qt, dw, dh, dd;
    if (kp_config_uint(items, "digest-weekday", &dw) || kp_config_uint(items, "digest-hour", &dh) ||
        kp_config_uint(items, "digest-days", &dd) || dw > 7 || dh > 23 || dd < 1 || dd > 60) {
        fprintf(stderr, "kumppani-notifier: digest-weekday 0..7, digest-hour 0..23, "
                        "digest-days 1..60\n");
        return KP_ECONFIG;
    }
    c->digest_weekday = (unsigned)dw;
    c->digest_hour = (unsigned)dh;
    c->digest_days = (unsigned)dd;
    if (kp_config_uint(items, "retry-base-ms", &c->retry_base_ms) ||
        kp_config_uint(items, "retry-max", &c->retry_max) ||
        kp_config_uint(items, "horizon-s", &c->horizon_ms) ||
        kp_config_uint(items, "lease-ms", &c->lease_ms) ||
        kp_config_uint(items, "inflight-max", &c->inflight_max) ||
        kp_config_uint(items, "timeout-ms", &c->timeout_ms) ||
        kp_config_uint(items, "quiet-from-h", &qf) || kp_config_uint(items, "quiet-to-h", &qt))
        return KP_ECONFIG;
    c->horizon_ms *= 1000;
    if (qf > 23 || qt > 23 || c->retry_base_ms == 0 || c->retry_max == 0 || c->lease_ms < 1000 ||
        c->inflight_max == 0 || c->inflight_max > 1024 || c->timeout_ms == 0 ||
        c->timeout_ms >= c->lease_ms) {
        fprintf(stderr, "kumppani-notifier: quiet hours 0..23, retry-base-ms, retry-max, "
                        "inflight-max (1..1024) > 0, lease-ms >= 1000 and above timeout-ms\n");
        return KP_ECONFIG;
    }
    c->quiet_from_h = (unsigned)qf;
    c->quiet_to_h = (unsigned)qt;
    if (!kp_text_email_valid(c->smtp_from) || !c->smtp_tls ||
        (strcmp(c->smtp_tls, "off") && strcmp(c->smtp_tls, "try") &&
         strcmp(c->smtp_tls, "require"))) {
        fprintf(stderr,
                "kumppani-notifier: smtp-from must be an address, smtp-tls off|try|require\n");
        return KP_ECONFIG;
    }
    if (ntf_plan_parse_reminders(c, kp_config_get(items, "reminders")) != 0) {
        fprintf(stderr, "kumppani-notifier: reminders must look like 1=168,24;*=24\n");
        return KP_ECONFIG;
    }
    uint64_t hd;
    if (kp_config_uint(items, "history-retention-days", &hd) || hd < 1 || hd > 3650) {
        fprintf(stderr, "kumppani-notifier: history-retention-days 1..3650\n");
        return KP_ECONFIG;
    }
    c->history_retention_ms = (int64_t)hd * 86400 * 1000;
    n->plan_arena = kp_arena_new(4 << 20);
    n->dlv_arena = kp_arena_new(4 << 20);
    return 0;
}

int
ntf_config_start(ntf_t *n, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    n->srv = srv;
    n->loop = kp_server_loop(srv);
    /* Expert messages and digests ask the broker and the registry for the address at delivery
     * time. */
    n->conf.broker_api = kp_config_get(items, "broker-api");
    n->conf.registry_api = kp_config_get(items, "registry-api");
    /* ... and sign-up messages the events service (events.signup.contact, issue 12). */
    n->conf.events_api = kp_config_get(items, "events-api");
    n->conf.have_keys = boot->have_keys;
    if (!boot->have_keys)
        return 0;
    n->conf.keys = boot->keys;
    if (s_set(n->conf.broker_api) && kp_boot_peer_key(items, "broker-key", n->conf.broker_pub))
        return KP_EKEY;
    if (s_set(n->conf.registry_api) &&
        kp_boot_peer_key(items, "registry-key", n->conf.registry_pub))
        return KP_EKEY;
    if (s_set(n->conf.events_api) && kp_boot_peer_key(items, "events-key", n->conf.events_pub))
        return KP_EKEY;
    return 0;
}

void
ntf_fini(void *svc)
{
    ntf_t *n = svc;
    ntf_dlv_free(n);
    kp_arena_destroy(&n->plan_arena);
    kp_arena_destroy(&n->dlv_arena);
    memset(&n->conf.keys, 0, sizeof n->conf.keys); /* the copy of the secret key */
}
