/*  kumppani-web: the public web pages (calendar, events, sign-up, personal links, the
 *  accessibility statement and the privacy notice). Wiring only; see web.h for the anatomy
 *  and boot.c for what the settings do. */
#include "kp_boot.h"
#include "web.h"

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7501", NULL, "./data/web", "web"),
        KP_BOOT_FOLLOW_ITEMS("events", "tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202"),
        {"http", "127.0.0.1:8080", "host:port the HTTP server listens on", NULL},
        {"base-url", NULL, "public address for absolute links (default http://<http>)", NULL},
        {"templates", "services/web/templates", "templates, text/<lang>.txt and static/", NULL},
        {"publisher-key", "web-publisher", "key pair publishing sign-ups (role publisher)", NULL},
        {"self-key", "web-self", "key pair of personal links' actions (role selfservice)", NULL},
        {"broker-api", NULL, "the broker's ROUTER (the expert and requester pages)", NULL},
        {"broker-key", "expert-broker", "the broker's public key: a name in keys-dir or a path",
         NULL},
        {"link-key", "web-link", "personal-link secret <keys-dir>/<link-key>.secret", NULL},
        {"link-days", "30", "personal links last until the event's end plus these days", NULL},
        {"feedback-dir", NULL, "spool of accessibility feedback (default <data-dir>/feedback)",
         NULL},
        {"max-connections", "512", "HTTP connections at once", NULL},
        {"per-ip-connections", "32", "HTTP connections at once from one address", NULL},
        {"timeout-s", "10", "an idle HTTP connection (a slow client) is closed after this", NULL},
        {"body-max", "16384", "largest request body in bytes (413 above)", NULL},
        {"rate-per-s", "20", "requests per second per address (429 above; 0: off)", NULL},
        {"rate-burst", "60", "requests one address may make at once before the rate holds", NULL},
        {"trusted-proxy", NULL, "address of the TLS proxy whose X-Forwarded-For is believed", NULL},
        {"secure-cookies", "off", "on behind HTTPS: cookies Secure, HSTS sent", NULL},
        {"bus-timeout-ms", "5000", "how long a page waits for the events service", NULL},
        {"office-key", "web-office", "the back office's key pair (role admin at events)", NULL},
        {"session-minutes", "480", "a back-office sign-in lasts this long", NULL},
        {"registry-api", NULL, "the registry's ROUTER, for the back office (unset: none)", NULL},
        {"registry-pub", NULL, "the registry's PUB: follow its log for municipalities' names",
         NULL},
        {"registry-key", "registry", "the registry's public key: a name in keys-dir or a path",
         NULL},
        {"broker-api", NULL, "the expert broker's ROUTER, for the back office (unset: none)", NULL},
        {"broker-key", "expert-broker", "the broker's public key: a name in keys-dir or a path",
         NULL},
        {"notifier-api", NULL, "the notifier's ROUTER, for the back office (unset: none)", NULL},
        {"notifier-key", "notifier", "the notifier's public key: a name in keys-dir or a path",
         NULL},
        {0},
    };
    static web_svc_t svc;
    kp_service_def_t def = {
        .name = "web",
        .program = "kumppani-web",
        .items = items,
        .dbs = web_db_names,
        .dbs_n = WEB_DB_N,
        .schema_version = WEB_SCHEMA_VERSION,
        .methods = web_methods,
        .methods_n = web_methods_n,
        .svc = &svc,
        .configure = web_configure,
        .start = web_start,
        .fini = web_fini,
    };
    return kp_boot_main(&def, argc, argv);
}
