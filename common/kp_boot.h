/*  kp_boot: the settings and start-up every service shares, and the one shape of a main.
 *
 *  Every service's main.c is wiring only: a table of settings (KP_BOOT_ITEMS first, then
 *  KP_BOOT_FOLLOW_ITEMS for each log it follows, then its own, then {0}), a kp_service_def_t
 *  naming its databases, methods and three hooks, and `return kp_boot_main(&def, argc, argv)`.
 *  kp_boot_main reads the settings, sets the Helsinki calendar and the clock, opens the server,
 *  calls start (timers, kp_boot_follow for each followed log), runs the loop, and tears it all
 *  down in order. Exit codes: 0 after a clean stop or --help, 1 when the service could not
 *  start or failed, 2 for bad settings.
 *
 *  Profiles: "profile" is development (default) or production. The production profile refuses
 *  to start with the test clock on or without CURVE keys, so a test hook cannot reach a real
 *  deployment by a forgotten setting.
 *
 *  A service lists KP_BOOT_ITEMS(...) first in its kp_config_item_t table, then its own
 *  items, then {0}. kp_boot_load reads keys and the allow-list named by those settings and
 *  fills a kp_server_opts_t; the service adds its databases and methods and calls
 *  kp_server_new. Keys: with keys-dir set, the service uses <keys-dir>/<key-name>.key and the
 *  allow-list <keys-dir>/allow (or the allow setting); without it, plain TCP. */
#ifndef KP_BOOT_H
#define KP_BOOT_H

#include "kp_config.h"
#include "kp_consumer.h"
#include "kp_server.h"
#include "kp_zsock.h"

/* clang-format off */
#define KP_BOOT_ITEMS(api, pub, data, name) \
    {"data-dir", data, "directory of this service's LMDB store", NULL}, \
    {"api", api, "ROUTER endpoint to bind for requests", NULL}, \
    {"pub", pub, "PUB endpoint to bind for the event log", NULL}, \
    {"keys-dir", NULL, "directory of CURVE keys; unset: plain TCP (development only)", NULL}, \
    {"key-name", name, "this service's key pair <keys-dir>/<key-name>.key", NULL}, \
    {"allow", NULL, "allow-list file (default <keys-dir>/allow)", NULL}, \
    {"log-level", "info", "err, warning, notice, info or debug", NULL}, \
    {"map-size-mb", "8192", "LMDB map size in MiB (sparse)", NULL}, \
    {"heartbeat-ms", "1000", "interval of heartbeats on the PUB socket", NULL}, \
    {"batch-max", "2048", "requests per turn (group commit)", NULL}, \
    {"metrics-file", NULL, "Prometheus text file rewritten every 5 s (textfile collector)", NULL}, \
    {"metrics-http", NULL, "host:port answering GET /metrics for a Prometheus scraper", NULL}, \
    {"profile", "development", "development or production (refuses test-clock, requires keys)", NULL}, \
    {"test-clock", "off", "on: admin method sys.clock.set moves this service's clock (TESTS ONLY)", NULL}

/* The settings of following another service's log: <src>-api, <src>-pub and <src>-key (its
 * public key: a name in keys-dir, or a path). With api and pub unset the log is not followed. */
#define KP_BOOT_FOLLOW_ITEMS(src, api, pub) \
    {src "-api", api, "the " src " service's ROUTER (with " src "-pub: follow its log)", NULL}, \
    {src "-pub", pub, "the " src " service's PUB (its event log)", NULL}, \
    {src "-key", src, "the " src " service's public key: a name in keys-dir or a path to a .pub", NULL}
/* clang-format on */

typedef struct {
    kp_keypair_t keys;
    bool have_keys;
    kp_allow_t *allow;
} kp_boot_t;

/* Applies log-level and fills so (service, data_dir, endpoints, keys, allow, map size,
 * heartbeat, batch) from items. Returns 0 or KP_ECONFIG / KP_EKEY (message logged). The
 * strings in so are borrowed from items; keys and allow from b (kp_boot_fini frees them). */
int kp_boot_load(kp_boot_t *b, const char *service, const kp_config_item_t *items,
                 kp_server_opts_t *so);

void kp_boot_fini(kp_boot_t *b);

/* The public key of a service this one talks to, from setting item: a path (it has a '/') or
 * a name in keys-dir (<keys-dir>/<name>.pub). out holds KP_Z85_KEY_LEN + 1. Returns 0, or
 * KP_EKEY with the setting named in the log. */
int kp_boot_peer_key(const kp_config_item_t *items, const char *item, char *out);

/* Follows the log of service src when <src>-api and <src>-pub are set (kp_consumer, with this
 * service's keys and <src>-key): apply(arg, ...) runs for each event exactly once in effect.
 * *following (may be NULL) says whether it was started. Returns 0 (also when not configured),
 * KP_ECONFIG when only one of api and pub is set, KP_EKEY or a consumer error (logged). */
int kp_boot_follow(const kp_boot_t *b, const kp_config_item_t *items, kp_server_t *srv,
                   const char *src, kp_consumer_apply_fn apply, void *arg, bool *following);

typedef struct {
    const char *name;        /* "events": log source, key name, log svc= */
    const char *program;     /* "kumppani-events", for --help and messages */
    kp_config_item_t *items; /* KP_BOOT_ITEMS, follow items, the service's own, {0} */
    const char *const *dbs;  /* the service's databases (kp_server_opts_t) */
    unsigned dbs_n;
    unsigned schema_version;
    int (*migrate)(void *arg, MDB_txn *txn, unsigned from, unsigned to);
    const kp_method_t *methods;
    unsigned methods_n;
    void *svc; /* the service's state, passed to handlers and hooks */
    /* Reads the service's own settings into svc before the server opens. Returns 0, or
     * KP_ECONFIG after printing which setting is wrong. NULL: nothing to read. */
    int (*configure)(void *svc, const kp_config_item_t *items);
    /* With the server open, before the loop runs: timers, parts, followed logs. Returns 0 or a
     * KP code (logged). NULL: nothing. */
    int (*start)(void *svc, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items);
    /* After the loop has closed: frees what configure and start made. NULL: nothing. */
    void (*fini)(void *svc);
} kp_service_def_t;

/* The part of a kp_service_def_t every service spells alike: its name, its program's name and
 * the tables its header declares under its prefixes p and P (p_db_names, P_DB_N,
 * P_SCHEMA_VERSION, p_methods, p_methods_n). The rest (items, hooks, svc) follows it. */
#define KP_SERVICE_TABLES(NAME, p, P)                                                              \
    .name = NAME, .program = "kumppani-" NAME, .dbs = p##_db_names, .dbs_n = P##_DB_N,             \
    .schema_version = P##_SCHEMA_VERSION, .methods = p##_methods, .methods_n = p##_methods_n

/* Runs a service from its definition (see above). Returns the process exit code. */
int kp_boot_main(const kp_service_def_t *def, int argc, char **argv);

#endif
