/*  kumppani-notifier: arguments, wiring, start and stop. The rules are in plan.c, delivery in
 *  deliver.c, messages in render.c, requests in api.c, the store in store.c. Tests move the
 *  notifier's time with the common test clock (--test-clock on, sys.clock.set). */
#include "kp_boot.h"
#include "kp_consumer.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"
#include "notifier.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int
s_conf(ntf_conf_t *c, const kp_config_item_t *items)
{
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
        return -1;
    }
    c->digest_language = kp_config_get(items, "digest-language");
    if (!s_lang_ok(c->digest_language) || !s_lang_ok(c->coordinator_language)) {
        fprintf(stderr, "kumppani-notifier: languages are fi, sv or en\n");
        return -1;
    }
    uint64_t qf, qt, dw, dh, dd;
    if (kp_config_uint(items, "digest-weekday", &dw) || kp_config_uint(items, "digest-hour", &dh) ||
        kp_config_uint(items, "digest-days", &dd) || dw > 7 || dh > 23 || dd < 1 || dd > 60) {
        fprintf(stderr, "kumppani-notifier: digest-weekday 0..7, digest-hour 0..23, "
                        "digest-days 1..60\n");
        return -1;
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
        return -1;
    c->horizon_ms *= 1000;
    if (qf > 23 || qt > 23 || c->retry_base_ms == 0 || c->retry_max == 0 || c->lease_ms < 1000 ||
        c->inflight_max == 0 || c->inflight_max > 1024 || c->timeout_ms == 0 ||
        c->timeout_ms >= c->lease_ms) {
        fprintf(stderr, "kumppani-notifier: quiet hours 0..23, retry-base-ms, retry-max, "
                        "inflight-max (1..1024) > 0, lease-ms >= 1000 and above timeout-ms\n");
        return -1;
    }
    c->quiet_from_h = (unsigned)qf;
    c->quiet_to_h = (unsigned)qt;
    if (!kp_text_email_valid(c->smtp_from) || !c->smtp_tls ||
        (strcmp(c->smtp_tls, "off") && strcmp(c->smtp_tls, "try") &&
         strcmp(c->smtp_tls, "require"))) {
        fprintf(stderr,
                "kumppani-notifier: smtp-from must be an address, smtp-tls off|try|require\n");
        return -1;
    }
    if (ntf_plan_parse_reminders(c, kp_config_get(items, "reminders")) != 0) {
        fprintf(stderr, "kumppani-notifier: reminders must look like 1=168,24;*=24\n");
        return -1;
    }
    return 0;
}

static int
s_source(kp_server_t *srv, kp_boot_t *boot, const kp_config_item_t *items, const char *name,
         const char *prefix, kp_consumer_apply_fn fn, ntf_t *n, char *pub_buf)
{
    char k_api[48], k_pub[48], k_key[48];
    snprintf(k_api, sizeof k_api, "%s-api", prefix);
    snprintf(k_pub, sizeof k_pub, "%s-pub", prefix);
    snprintf(k_key, sizeof k_key, "%s-key", prefix);
    const char *api = kp_config_get(items, k_api), *pub = kp_config_get(items, k_pub);
    if (!api || !api[0] || !pub || !pub[0])
        return 0; /* this source is not configured */
    if (boot->have_keys) {
        if (kp_boot_peer_key(items, k_key, pub_buf) != 0) {
            fprintf(stderr, "kumppani-notifier: %s must name the source's public key file\n",
                    k_key);
            return -1;
        }
    }
    kp_consumer_opts_t co = {.source = name,
                             .api_endpoint = api,
                             .pub_endpoint = pub,
                             .keys = boot->have_keys ? &boot->keys : NULL,
                             .server_pub = pub_buf,
                             .apply = fn,
                             .arg = n};
    return kp_consumer_start(srv, &co);
}

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7401", "tcp://127.0.0.1:7402", "./data/notifier",
                      "notifier"),
        {"events-api", "tcp://127.0.0.1:7201", "the events service's ROUTER", NULL},
        {"events-pub", "tcp://127.0.0.1:7202", "the events service's PUB", NULL},
        {"events-key", NULL, "the events service's public key file (with keys-dir)", NULL},
        {"broker-api", NULL, "the expert-broker's ROUTER (unset: not followed)", NULL},
        {"broker-pub", NULL, "the expert-broker's PUB", NULL},
        {"broker-key", NULL, "the expert-broker's public key file", NULL},
        {"registry-api", NULL, "the registry's ROUTER (unset: not followed)", NULL},
        {"registry-pub", NULL, "the registry's PUB", NULL},
        {"registry-key", NULL, "the registry's public key file", NULL},
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
        {0},
    };
    int rc = kp_config_load(items, "kumppani-notifier", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    kp_time_tz_init(); /* quiet hours, reminder texts and e-mail dates are Helsinki time */
    ntf_t n = {0};
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    if (kp_boot_load(&boot, "notifier", items, &so) != 0 || s_conf(&n.conf, items) != 0 ||
        sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    so.dbs = ntf_db_names;
    so.dbs_n = NTF_DB_N;
    so.schema_version = NTF_SCHEMA_VERSION;
    so.methods = ntf_methods;
    so.methods_n = ntf_methods_n;
    so.svc = &n;
    n.plan_arena = kp_arena_new(4 << 20);
    n.dlv_arena = kp_arena_new(4 << 20);

    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    char k1[KP_Z85_KEY_LEN + 1] = "", k2[KP_Z85_KEY_LEN + 1] = "", k3[KP_Z85_KEY_LEN + 1] = "";
    rc = kp_server_new(&server, &loop, &so);
    if (rc == 0) {
        n.srv = server;
        n.st = kp_server_store(server);
        n.loop = &loop;
        /* Expert messages and digests ask the broker and the registry for the address at
         * delivery time. */
        n.conf.broker_api = kp_config_get(items, "broker-api");
        n.conf.registry_api = kp_config_get(items, "registry-api");
        n.conf.have_keys = boot.have_keys;
        if (boot.have_keys) {
            n.conf.keys = boot.keys;
            if ((s_set(n.conf.broker_api) &&
                 kp_boot_peer_key(items, "broker-key", n.conf.broker_pub) != 0) ||
                (s_set(n.conf.registry_api) &&
                 kp_boot_peer_key(items, "registry-key", n.conf.registry_pub) != 0))
                rc = KP_ECONFIG;
        }
        if (rc == 0 && (rc = ntf_dlv_start(&n)) == 0 &&
            (rc = s_source(server, &boot, items, "events", "events", ntf_plan_events, &n, k1)) ==
                0 &&
            (rc = s_source(server, &boot, items, "expert-broker", "broker", ntf_plan_broker, &n,
                           k2)) == 0 &&
            (rc = s_source(server, &boot, items, "registry", "registry", ntf_plan_registry, &n,
                           k3)) == 0)
            rc = kp_server_run(server);
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    ntf_dlv_free(&n);
    kp_arena_destroy(&n.plan_arena);
    kp_arena_destroy(&n.dlv_arena);
    curl_global_cleanup();
    kp_boot_fini(&boot);
    kp_config_free(items);
    return rc || lrc ? 1 : 0;
}
