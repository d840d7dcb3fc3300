/*  kp_boot: the settings and start-up every service shares.
 *
 *  A service lists KP_BOOT_ITEMS(...) first in its kp_config_item_t table, then its own
 *  items, then {0}. kp_boot_load reads keys and the allow-list named by those settings and
 *  fills a kp_server_opts_t; the service adds its databases and methods and calls
 *  kp_server_new. Keys: with keys-dir set, the service uses <keys-dir>/<key-name>.key and the
 *  allow-list <keys-dir>/allow (or the allow setting); without it, plain TCP. */
#ifndef KP_BOOT_H
#define KP_BOOT_H

#include "kp_config.h"
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
    {"metrics-http", NULL, "host:port answering GET /metrics for a Prometheus scraper", NULL}
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

#endif
