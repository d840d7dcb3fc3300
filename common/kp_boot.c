/*  kp_boot: shared start-up of services (settings -> keys, allow-list, server options). */
#include "kp_boot.h"

#include "kp_err.h"
#include "kp_log.h"

#include <stdio.h>
#include <string.h>

int
kp_boot_load(kp_boot_t *b, const char *service, const kp_config_item_t *items, kp_server_opts_t *so)
{
    memset(b, 0, sizeof *b);
    int level = kp_log_level_parse(kp_config_get(items, "log-level"));
    if (level < 0) {
        fprintf(stderr, "%s: log-level must be err, warning, notice, info or debug\n", service);
        return KP_ECONFIG;
    }
    kp_log_init(service, level);
    uint64_t map_mb, hb, batch;
    if (kp_config_uint(items, "map-size-mb", &map_mb) ||
        kp_config_uint(items, "heartbeat-ms", &hb) || kp_config_uint(items, "batch-max", &batch))
        return KP_ECONFIG;
    so->service = service;
    so->data_dir = kp_config_get(items, "data-dir");
    so->api_endpoint = kp_config_get(items, "api");
    so->pub_endpoint = kp_config_get(items, "pub");
    so->map_size = (size_t)map_mb << 20;
    so->heartbeat_ms = (unsigned)hb;
    so->batch_max = (unsigned)batch;
    so->metrics_file = kp_config_get(items, "metrics-file");
    so->metrics_http = kp_config_get(items, "metrics-http");
    const char *dir = kp_config_get(items, "keys-dir");
    if (dir && *dir) {
        const char *name = kp_config_get(items, "key-name");
        int rc = kp_keypair_load(&b->keys, dir, name ? name : service);
        if (rc) {
            kp_log_err("boot.key", "dir=%s name=%s err=%d what=\"%s\"", dir, name, rc,
                       kp_strerror(rc));
            return KP_EKEY;
        }
        char path[4096];
        const char *allow = kp_config_get(items, "allow");
        if (!allow || !*allow) {
            snprintf(path, sizeof path, "%s/allow", dir);
            allow = path;
        }
        rc = kp_allow_load(&b->allow, allow);
        if (rc) {
            kp_log_err("boot.allow", "path=%s err=%d what=\"%s\"", allow, rc, kp_strerror(rc));
            return KP_ECONFIG;
        }
        b->have_keys = true;
        so->keys = &b->keys;
        so->allow = b->allow;
        kp_log_info("boot.keys", "allowed=%zu", kp_allow_size(b->allow));
    }
    return 0;
}

void
kp_boot_fini(kp_boot_t *b)
{
    kp_allow_destroy(&b->allow);
    memset(&b->keys, 0, sizeof b->keys);
}

int
kp_boot_peer_key(const kp_config_item_t *items, const char *item, char *out)
{
    const char *v = kp_config_get(items, item), *dir = kp_config_get(items, "keys-dir");
    char path[4096];
    if (v && *v && strchr(v, '/'))
        snprintf(path, sizeof path, "%s", v);
    else if (v && *v && dir && *dir)
        snprintf(path, sizeof path, "%s/%s.pub", dir, v);
    else
        path[0] = 0;
    if (path[0] && kp_pubkey_load(out, path) == 0)
        return 0;
    kp_log_err("key.peer", "setting=%s what=\"cannot read that public key file\"", item);
    return KP_EKEY;
}
