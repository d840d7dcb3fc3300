/*  notifier/config.c: the notifier's settings, their rules (the configure hook of kp_boot),
 *  what start-up takes from them once the server is open, and the teardown.
 *
 *  Every setting name and default is kept as the tests, docker-compose.yml and scripts/suite
 *  use them. A bad setting is named on stderr and refused (exit code 2) before the store opens.
 *  The strings in ntf_conf_t are borrowed from the settings table, which lives until exit. */
#include "kp_err.h"
#include "kp_link.h"
#include "kp_log.h"
#include "kp_text.h"
#include "notifier.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
    {"sms-user", NULL, "SMS gateway user (HTTP basic authentication; unset: none)", NULL},
    {"sms-password", NULL, "SMS gateway password (with sms-user)", NULL},
    {"sms-token", NULL, "SMS gateway bearer token (Authorization: Bearer; instead of a user)",
     NULL},
    {"web-url", NULL,
     "the web's public address, e.g. https://kumppani.example.fi (unset: messages carry no "
     "personal link)",
     NULL},
    {"link-key", "web-link",
     "personal-link secret: a name in keys-dir (<keys-dir>/<name>.secret, shared with the web; "
     "made when missing) or a path",
     NULL},
    {"link-days", "30", "a sign-up's personal link works this many days after the event's end",
     NULL},
    {"templates", NULL,
     "directory of message texts <kind>.<fi|sv|en>.txt (a missing file keeps the built-in "
     "text; an unknown placeholder refuses to start; read again on SIGHUP)",
     NULL},
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
    c->sms_user = kp_config_get(items, "sms-user");
    c->sms_password = kp_config_get(items, "sms-password");
    c->sms_auth_header = NULL;
    const char *tok = kp_config_get(items, "sms-token");
    if (tok && tok[0]) {
        if (c->sms_user && c->sms_user[0]) {
            fprintf(stderr, "kumppani-notifier: sms-user or sms-token, not both\n");
            return KP_ECONFIG;
        }
        static char hdr[600];
        if ((size_t)snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", tok) >= sizeof hdr ||
            strpbrk(tok, "\r\n")) {
            fprintf(stderr, "kumppani-notifier: sms-token: one line of at most 500 bytes\n");
            return KP_ECONFIG;
        }
        c->sms_auth_header = hdr;
    }
    const char *wu = kp_config_get(items, "web-url");
    c->web_url[0] = 0;
    if (wu && wu[0]) {
        size_t wl = strlen(wu);
        while (wl && wu[wl - 1] == '/')
            wl--; /* the link paths begin with '/' */
        if ((strncmp(wu, "http://", 7) != 0 && strncmp(wu, "https://", 8) != 0) ||
            wl >= sizeof c->web_url - 1 || strpbrk(wu, " \t\r\n\"<>")) {
            fprintf(stderr, "kumppani-notifier: web-url must be an http:// or https:// address\n");
            return KP_ECONFIG;
        }
        memcpy(c->web_url, wu, wl);
        c->web_url[wl] = 0;
    }
    uint64_t ld;
    if (kp_config_range(items, "link-days", 1, 3650, &ld))
        return KP_ECONFIG;
    c->link_days_s = (int64_t)ld * 86400;
    c->templates_dir = kp_config_get(items, "templates");
    if (c->templates_dir && c->templates_dir[0]) {
        char err[512];
        if (ntf_texts_load(c->templates_dir, &c->texts, err, sizeof err) != 0) {
            fprintf(stderr, "kumppani-notifier: templates: %s\n", err);
            return KP_ECONFIG;
        }
    }
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
    if (kp_config_range(items, "digest-weekday", 0, 7, &dw) ||
        kp_config_range(items, "digest-hour", 0, 23, &dh) ||
        kp_config_range(items, "digest-days", 1, 60, &dd))
        return KP_ECONFIG;
    c->digest_weekday = (unsigned)dw;
    c->digest_hour = (unsigned)dh;
    c->digest_days = (unsigned)dd;
    if (kp_config_range(items, "retry-base-ms", 1, UINT64_MAX, &c->retry_base_ms) ||
        kp_config_range(items, "retry-max", 1, UINT64_MAX, &c->retry_max) ||
        kp_config_uint(items, "horizon-s", &c->horizon_ms) ||
        kp_config_range(items, "lease-ms", 1000, UINT64_MAX, &c->lease_ms) ||
        kp_config_range(items, "inflight-max", 1, 1024, &c->inflight_max) ||
        kp_config_range(items, "timeout-ms", 1, UINT64_MAX, &c->timeout_ms) ||
        kp_config_range(items, "quiet-from-h", 0, 23, &qf) ||
        kp_config_range(items, "quiet-to-h", 0, 23, &qt))
        return KP_ECONFIG;
    c->horizon_ms *= 1000;
    if (c->timeout_ms >= c->lease_ms) {
        fprintf(stderr, "kumppani-notifier: timeout-ms must be below lease-ms\n");
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
    if (kp_config_range(items, "history-retention-days", 1, 3650, &hd))
        return KP_ECONFIG;
    c->history_retention_ms = (int64_t)hd * 86400 * 1000;
    n->plan_arena = kp_arena_new(4 << 20);
    n->dlv_arena = kp_arena_new(4 << 20);
    n->scan_arena = kp_arena_new(4 << 20);
    return 0;
}

/* The link secret: <keys-dir>/<link-key>.secret, or link-key as a path (with a '/'). Made
 * when missing, as the web does; if both start at once and the web wins the race to make it,
 * it is read again once written. */
static int
s_link_key(ntf_conf_t *c, const kp_config_item_t *items)
{
    const char *name = kp_config_get(items, "link-key"), *dir = kp_config_get(items, "keys-dir");
    char path[4096];
    if (!name || !name[0])
        return KP_ECONFIG;
    if (strchr(name, '/'))
        snprintf(path, sizeof path, "%s", name);
    else if (dir && dir[0])
        snprintf(path, sizeof path, "%s/%s.secret", dir, name);
    else
        snprintf(path, sizeof path, "%s/%s.secret", kp_config_get(items, "data-dir"), name);
    int rc = kp_link_key_file(path, true, c->link_key);
    for (int i = 0; i < 20 && (rc == -EEXIST || rc == KP_EKEY); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rc = kp_link_key_file(path, false, c->link_key);
    }
    if (rc) {
        kp_log_err("link.key", "rc=%d what=\"cannot read or make the link secret (link-key)\"", rc);
        return KP_EKEY;
    }
    c->have_link = true;
    /* the address hash's key, apart from the link secret */
    crypto_generichash(c->addr_key, sizeof c->addr_key, (const unsigned char *)"kp-ntf-address", 14,
                       c->link_key, sizeof c->link_key);
    if (!dir || !dir[0])
        kp_log_warn("link.key", "what=\"no keys-dir: the link secret is kept beside the data; "
                                "the web must read the same file\"");
    return 0;
}

int
ntf_config_start(ntf_t *n, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    if (n->conf.web_url[0]) {
        int rc = s_link_key(&n->conf, items);
        if (rc)
            return rc;
        kp_log_notice("link.on", "what=\"messages carry personal links to the web\"");
    } else {
        kp_log_notice("link.off", "what=\"no web-url: messages carry no personal link\"");
    }
    n->srv = srv;
    n->loop = kp_server_loop(srv);
    /* Expert messages and digests ask the broker and the registry for the address at delivery
     * time. */
    n->conf.broker_api = kp_config_get(items, "broker-api");
    n->conf.registry_api = kp_config_get(items, "registry-api");
    /* ... and sign-up messages the events service (events.signup.contact). */
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

/* SIGHUP: the template files are read again; a faulty set is refused and the texts in use
 * stay (logged, with the file and the fault: no personal data is in a template). */
static void
s_on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    ntf_t *n = h->data;
    ntf_texts_t *t = NULL;
    char err[512];
    if (ntf_texts_load(n->conf.templates_dir, &t, err, sizeof err) != 0) {
        kp_log_err("templates.reload", "what=\"refused, the texts in use stay: %s\"", err);
        return;
    }
    ntf_texts_free(&n->conf.texts);
    n->conf.texts = t;
    kp_log_notice("templates.reloaded", "files=%u", ntf_texts_files(t));
}

int
ntf_texts_watch(ntf_t *n)
{
    if (!n->conf.templates_dir || !n->conf.templates_dir[0])
        return 0;
    kp_log_notice("templates.loaded", "files=%u", ntf_texts_files(n->conf.texts));
    uv_signal_init(n->loop, &n->hup);
    n->hup.data = n;
    n->hup_on = true;
    return uv_signal_start(&n->hup, s_on_hup, SIGHUP) == 0 ? 0 : KP_EINVAL;
}

void
ntf_fini(void *svc)
{
    ntf_t *n = svc;
    ntf_texts_free(&n->conf.texts);
    ntf_dlv_free(n);
    kp_arena_destroy(&n->plan_arena);
    kp_arena_destroy(&n->dlv_arena);
    kp_arena_destroy(&n->scan_arena);
    memset(&n->conf.keys, 0, sizeof n->conf.keys); /* the copy of the secret key */
    sodium_memzero(n->conf.link_key, sizeof n->conf.link_key);
    sodium_memzero(n->conf.addr_key, sizeof n->conf.addr_key);
}
