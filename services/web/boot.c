/*  web/boot.c: the web's settings, start and stop (the hooks of its kp_service_def_t).
 *
 *  configure reads the settings, the templates, the texts and the style sheet (a template
 *  error stops the start, naming the file and line), and the keys: with keys-dir, the
 *  publisher key pair <publisher-key>.key (its public key must be on the events service's
 *  allow-list with role publisher), the selfservice key pair <self-key>.key (role selfservice
 *  on the events and broker allow-lists: a person's actions through their personal link),
 *  the events service's (and with broker-api the broker's) public key, and the personal-link
 *  secret <link-key>.secret (made on first start, 0600, kept so links stay valid across
 *  restarts). The web's own key <key-name> (role service on the events allow-list) follows
 *  the log and fetches iCalendar text. Without keys-dir (development) the link secret is
 *  random per process. The CSRF secret is always random per process.
 *
 *  start opens the two bus sockets, follows the events log and starts the HTTP server; the
 *  server part's stop closes them in order: the buses first (their waiting calls answer and
 *  resume their connections), then the HTTP server. */
#include "bo.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A number setting 0..max into an unsigned field. */
static int
s_uint(const kp_config_item_t *items, const char *name, unsigned *out, uint64_t max)
{
    uint64_t v;
    int rc = kp_config_range(items, name, 0, max, &v);
    *out = (unsigned)v;
    return rc;
}

/* The settings (kumppani-web --help prints them). */
kp_config_item_t web_items[] = {
    KP_BOOT_ITEMS("tcp://127.0.0.1:7501", NULL, "./data/web", "web"),
    KP_BOOT_FOLLOW_ITEMS("events", "tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202"),
    {"http", "127.0.0.1:8080", "host:port the HTTP server listens on", NULL},
    {"base-url", NULL, "public address for absolute links (default http://<http>)", NULL},
    {"templates", "services/web/templates", "templates, text/<lang>.txt and static/", NULL},
    {"publisher-key", "web-publisher", "key pair publishing sign-ups (role publisher)", NULL},
    {"self-key", "web-self", "key pair of personal links' actions (role selfservice)", NULL},
    {"broker-api", NULL, "the broker's ROUTER (expert and requester pages, back office)", NULL},
    {"broker-key", "expert-broker", "the broker's public key: a name in keys-dir or a path", NULL},
    {"link-key", "web-link", "personal-link secret <keys-dir>/<link-key>.secret", NULL},
    {"link-days", "30", "personal links last until the event's end plus these days", NULL},
    {"feedback-dir", NULL, "spool of accessibility feedback (default <data-dir>/feedback)", NULL},
    {"contact", NULL,
     "the region's e-mail address for help with sign-ups and personal data, on every public "
     "page (unset: the pages send people to the event's organiser)",
     NULL},
    {"max-connections", "512", "HTTP connections at once", NULL},
    {"per-ip-connections", "32", "HTTP connections at once from one address", NULL},
    {"timeout-s", "10", "an idle HTTP connection (a slow client) is closed after this", NULL},
    {"body-max", "65536",
     "largest request body in bytes (413 above; the forms' longest texts, "
     "4,000 characters of ä, take 24,000)",
     NULL},
    {"rate-per-s", "20", "requests per second per address (429 above; 0: off)", NULL},
    {"rate-burst", "60", "requests one address may make at once before the rate holds", NULL},
    {"trusted-proxy", NULL, "address of the TLS proxy whose X-Forwarded-For is believed", NULL},
    {"secure-cookies", "off", "on behind HTTPS: cookies Secure, HSTS sent", NULL},
    {"bus-timeout-ms", "5000", "how long a page waits for the events service", NULL},
    {"office-key", "web-office", "the back office's key pair (role admin at events)", NULL},
    {"session-minutes", "480", "a back-office sign-in lasts this long", NULL},
    {"registry-api", NULL, "the registry's ROUTER, for the back office (unset: none)", NULL},
    {"registry-pub", NULL, "the registry's PUB: follow its log for municipalities' names", NULL},
    {"registry-key", "registry", "the registry's public key: a name in keys-dir or a path", NULL},
    {"notifier-api", NULL, "the notifier's ROUTER, for the back office (unset: none)", NULL},
    {"notifier-key", "notifier", "the notifier's public key: a name in keys-dir or a path", NULL},
    {0},
};

/* The style sheet: static/site.css, then the back office's static/bo.css if it is there. */
static int
s_read_css(web_svc_t *svc)
{
    web_buf_t b = {.max = 1u << 20};
    static const char *const files[] = {"site.css", "bo.css"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/static/%s", svc->templates_dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            if (i == 0) {
                web_buf_free(&b);
                return -1;
            }
            continue;
        }
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            web_buf_add(&b, chunk, n);
        fclose(f);
    }
    svc->css = b.p;
    svc->css_len = b.n;
    return b.full ? -1 : 0;
}

int
web_configure(void *arg, const kp_config_item_t *items)
{
    web_svc_t *svc = arg;
    unsigned body_max, rate, burst;
    if (s_uint(items, "max-connections", &svc->max_conns, 100000) ||
        s_uint(items, "per-ip-connections", &svc->per_ip, 100000) ||
        s_uint(items, "timeout-s", &svc->timeout_s, 3600) ||
        s_uint(items, "body-max", &body_max, 1u << 20) ||
        s_uint(items, "rate-per-s", &rate, 1000000) ||
        s_uint(items, "rate-burst", &burst, 1000000) ||
        s_uint(items, "link-days", &svc->link_days, 3650) ||
        s_uint(items, "bus-timeout-ms", &svc->bus_timeout_ms, 600000))
        return KP_ECONFIG;
    svc->body_max = body_max;
    svc->rate_per_s = rate;
    svc->rate_burst = burst ? burst : 1;
    svc->listen = kp_config_get(items, "http");
    const char *base = kp_config_get(items, "base-url");
    static char base_buf[300];
    if (!base || !*base) {
        snprintf(base_buf, sizeof base_buf, "http://%s", svc->listen);
        base = base_buf;
    }
    svc->base_url = base;
    svc->templates_dir = kp_config_get(items, "templates");
    svc->trusted_proxy = kp_config_get(items, "trusted-proxy");
    svc->contact = kp_config_get(items, "contact");
    if (svc->contact && !*svc->contact)
        svc->contact = NULL;
    if (svc->contact && !kp_text_email_valid(svc->contact)) {
        fprintf(stderr, "kumppani-web: contact: an e-mail address\n");
        return KP_ECONFIG;
    }
    const char *sc = kp_config_get(items, "secure-cookies");
    svc->secure_cookies = sc && strcmp(sc, "on") == 0;
    svc->events_api = kp_config_get(items, "events-api");
    svc->broker_api = kp_config_get(items, "broker-api");
    if (svc->broker_api && !*svc->broker_api)
        svc->broker_api = NULL;
    if (!svc->events_api || !*svc->events_api || !kp_config_get(items, "events-pub")) {
        fprintf(stderr, "kumppani-web: events-api and events-pub are required\n");
        return KP_ECONFIG;
    }
    static char fb[4096];
    const char *fdir = kp_config_get(items, "feedback-dir");
    if (!fdir || !*fdir) {
        snprintf(fb, sizeof fb, "%s/feedback", kp_config_get(items, "data-dir"));
        fdir = fb;
    }
    svc->feedback_dir = fdir;

    char why[512];
    svc->tmpl = web_tmpl_set_new();
    svc->text_arena = kp_arena_new(4u << 20);
    if (web_tmpl_load_dir(svc->tmpl, svc->templates_dir, why, sizeof why) ||
        web_texts_load(svc, why, sizeof why)) {
        fprintf(stderr, "kumppani-web: templates: %s\n", why);
        return KP_ECONFIG;
    }
    static const char *const pages[] = {"calendar", "event",         "signup", "confirm",
                                        "personal", "link",          "xoffer", "request",
                                        "error",    "accessibility", "privacy"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (!web_tmpl_has(svc->tmpl, pages[i])) {
            fprintf(stderr, "kumppani-web: templates: %s.html is missing\n", pages[i]);
            return KP_ECONFIG;
        }
    if (s_read_css(svc)) {
        fprintf(stderr, "kumppani-web: templates: static/site.css unreadable\n");
        return KP_ECONFIG;
    }
    if (sodium_init() < 0 || bo_init() != 0)
        return KP_ECONFIG;
    randombytes_buf(svc->csrf_key, sizeof svc->csrf_key);
    if (s_uint(items, "session-minutes", &svc->session_minutes, 7 * 24 * 60) ||
        svc->session_minutes == 0)
        return KP_ECONFIG;

    svc->registry_api = kp_config_get(items, "registry-api");
    if (svc->registry_api && !*svc->registry_api)
        svc->registry_api = NULL;
    svc->notifier_api = kp_config_get(items, "notifier-api");
    if (svc->notifier_api && !*svc->notifier_api)
        svc->notifier_api = NULL;
    const char *dir = kp_config_get(items, "keys-dir");
    if (dir && *dir) {
        int rc = kp_keypair_load(&svc->pub_keys, dir, kp_config_get(items, "publisher-key"));
        if (rc) {
            fprintf(stderr, "kumppani-web: cannot read the publisher key %s/%s.key\n", dir,
                    kp_config_get(items, "publisher-key"));
            return KP_ECONFIG;
        }
        if (kp_boot_peer_key(items, "events-key", svc->events_pub))
            return KP_ECONFIG;
        if ((rc = kp_keypair_load(&svc->self_keys, dir, kp_config_get(items, "self-key")))) {
            fprintf(stderr, "kumppani-web: cannot read the selfservice key %s/%s.key\n", dir,
                    kp_config_get(items, "self-key"));
            return KP_ECONFIG;
        }
        if (svc->broker_api && kp_boot_peer_key(items, "broker-key", svc->broker_pub))
            return KP_ECONFIG;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.secret", dir, kp_config_get(items, "link-key"));
        if ((rc = kp_link_key_file(path, true, svc->link_key)) != 0) {
            fprintf(stderr, "kumppani-web: cannot read or make the link secret %s (%d)\n", path,
                    rc);
            return KP_ECONFIG;
        }
        svc->have_keys = true;
        if (svc->registry_api && kp_boot_peer_key(items, "registry-key", svc->registry_pub))
            return KP_ECONFIG;
        if (svc->notifier_api && kp_boot_peer_key(items, "notifier-key", svc->notifier_pub))
            return KP_ECONFIG;
        const char *ok_name = kp_config_get(items, "office-key");
        if (ok_name && *ok_name && kp_keypair_load(&svc->office_keys, dir, ok_name) == 0)
            svc->have_office_key = true;
        else
            kp_log_warn("office.key", "what=\"no office key: the back office cannot reach the "
                                      "events service\"");
    } else {
        randombytes_buf(svc->link_key, sizeof svc->link_key);
        kp_log_warn("link.key", "what=\"no keys-dir: personal links last only until restart\"");
    }
    if (mkdir(kp_config_get(items, "data-dir"), 0700) != 0 && errno != EEXIST)
        return KP_ECONFIG;
    if (mkdir(svc->feedback_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kumppani-web: cannot make feedback-dir\n");
        return KP_ECONFIG;
    }
    svc->consume_arena = kp_arena_new(8u << 20);
    return 0;
}

static void
s_stop(void *arg)
{
    web_svc_t *svc = arg;
    web_bus_destroy(&svc->bus_read);
    web_bus_destroy(&svc->bus_pub);
    web_bus_destroy(&svc->bus_self);
    web_bus_destroy(&svc->bus_office);
    web_bus_destroy(&svc->bus_registry);
    web_bus_destroy(&svc->bus_broker);
    web_bus_destroy(&svc->bus_office_broker);
    web_bus_destroy(&svc->bus_notifier);
    web_http_stop(svc);
}

int
web_start(void *arg, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    web_svc_t *svc = arg;
    svc->srv = srv;
    uv_loop_t *loop = kp_server_loop(srv);
    const char *spub = svc->have_keys ? svc->events_pub : NULL;
    int rc = web_bus_new(&svc->bus_read, loop, kp_server_zctx(srv), svc->events_api,
                         boot->have_keys ? &boot->keys : NULL, spub, svc->bus_timeout_ms);
    if (rc == 0)
        rc = web_bus_new(&svc->bus_pub, loop, kp_server_zctx(srv), svc->events_api,
                         svc->have_keys ? &svc->pub_keys : NULL, spub, svc->bus_timeout_ms);
    const kp_keypair_t *self = svc->have_keys ? &svc->self_keys : NULL;
    if (rc == 0)
        rc = web_bus_new(&svc->bus_self, loop, kp_server_zctx(srv), svc->events_api, self, spub,
                         svc->bus_timeout_ms);
    if (rc == 0 && svc->broker_api)
        rc = web_bus_new(&svc->bus_broker, loop, kp_server_zctx(srv), svc->broker_api, self,
                         svc->have_keys ? svc->broker_pub : NULL, svc->bus_timeout_ms);
    if (rc == 0 && (svc->have_office_key || !svc->have_keys))
        rc =
            web_bus_new(&svc->bus_office, loop, kp_server_zctx(srv), svc->events_api,
                        svc->have_office_key ? &svc->office_keys : NULL, spub, svc->bus_timeout_ms);
    /* The back office's registry and broker pages, with the same office key. */
    const kp_keypair_t *ok = svc->have_office_key ? &svc->office_keys : NULL;
    if (rc == 0 && svc->registry_api && (ok || !svc->have_keys))
        rc = web_bus_new(&svc->bus_registry, loop, kp_server_zctx(srv), svc->registry_api, ok,
                         svc->have_keys ? svc->registry_pub : NULL, svc->bus_timeout_ms);
    if (rc == 0 && svc->broker_api && (ok || !svc->have_keys))
        rc = web_bus_new(&svc->bus_office_broker, loop, kp_server_zctx(srv), svc->broker_api, ok,
                         svc->have_keys ? svc->broker_pub : NULL, svc->bus_timeout_ms);
    if (rc == 0 && svc->notifier_api && (ok || !svc->have_keys))
        rc = web_bus_new(&svc->bus_notifier, loop, kp_server_zctx(srv), svc->notifier_api, ok,
                         svc->have_keys ? svc->notifier_pub : NULL, svc->bus_timeout_ms);
    if (rc)
        return rc;
    kp_server_part_t part = {.stop = s_stop, .arg = svc};
    if ((rc = kp_server_add_part(srv, &part)))
        return rc;
    bool following = false;
    if ((rc = kp_boot_follow(boot, items, srv, "events", web_consume_apply, svc, &following)))
        return rc;
    /* The registry's log for municipalities' names, when registry-pub is set (registry-api
     * alone serves the back office's registry pages). */
    const char *rpub = kp_config_get(items, "registry-pub");
    if (rpub && *rpub &&
        (rc = kp_boot_follow(boot, items, srv, "registry", web_consume_registry, svc, NULL)))
        return rc;
    return web_http_start(svc);
}

void
web_fini(void *arg)
{
    web_svc_t *svc = arg;
    web_tmpl_set_destroy(&svc->tmpl);
    kp_arena_destroy(&svc->text_arena);
    kp_arena_destroy(&svc->consume_arena);
    free(svc->css);
    svc->css = NULL;
    sodium_memzero(svc->link_key, sizeof svc->link_key);
    sodium_memzero(&svc->pub_keys, sizeof svc->pub_keys);
    sodium_memzero(&svc->self_keys, sizeof svc->self_keys);
    sodium_memzero(&svc->office_keys, sizeof svc->office_keys);
}
