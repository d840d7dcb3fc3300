/*  kp_boot: shared start-up of services (settings -> keys, allow-list, server options). */
#include "kp_boot.h"

#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"

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
    const char *profile = kp_config_get(items, "profile"),
               *test_clock = kp_config_get(items, "test-clock");
    const char *dir = kp_config_get(items, "keys-dir");
    bool production = profile && strcmp(profile, "production") == 0;
    bool clock_on = test_clock && strcmp(test_clock, "on") == 0;
    if (!production && profile && strcmp(profile, "development") != 0) {
        fprintf(stderr, "%s: profile must be development or production\n", service);
        return KP_ECONFIG;
    }
    if (test_clock && !clock_on && strcmp(test_clock, "off") != 0) {
        fprintf(stderr, "%s: test-clock must be on or off\n", service);
        return KP_ECONFIG;
    }
    if (production && clock_on) {
        fprintf(stderr, "%s: test-clock is refused in the production profile\n", service);
        return KP_ECONFIG;
    }
    if (production && !(dir && *dir)) {
        fprintf(stderr, "%s: the production profile requires keys-dir (CURVE)\n", service);
        return KP_ECONFIG;
    }
    if (clock_on) {
        kp_clock_enable();
        kp_log_warn("clock.test", "what=\"test clock on: sys.clock.set can move this clock\"");
    }
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

int
kp_boot_follow(const kp_boot_t *b, const kp_config_item_t *items, kp_server_t *srv, const char *src,
               kp_consumer_apply_fn apply, void *arg, bool *following)
{
    char api_item[64], pub_item[64], key_item[64];
    snprintf(api_item, sizeof api_item, "%s-api", src);
    snprintf(pub_item, sizeof pub_item, "%s-pub", src);
    snprintf(key_item, sizeof key_item, "%s-key", src);
    const char *api = kp_config_get(items, api_item), *pub = kp_config_get(items, pub_item);
    bool have_api = api && *api, have_pub = pub && *pub;
    if (following)
        *following = false;
    if (have_api != have_pub) {
        kp_log_err("boot.follow", "source=%s what=\"%s and %s go together\"", src, api_item,
                   pub_item);
        return KP_ECONFIG;
    }
    if (!have_api)
        return 0;
    char server_pub[KP_Z85_KEY_LEN + 1] = {0};
    if (b->have_keys) {
        int rc = kp_boot_peer_key(items, key_item, server_pub);
        if (rc)
            return rc;
    }
    kp_consumer_opts_t co = {0};
    co.source = src;
    co.api_endpoint = api;
    co.pub_endpoint = pub;
    co.apply = apply;
    co.arg = arg;
    co.keys = b->have_keys ? &b->keys : NULL;
    co.server_pub = b->have_keys ? server_pub : NULL;
    int rc = kp_consumer_start(srv, &co);
    if (rc == 0 && following)
        *following = true;
    return rc;
}

int
kp_boot_main(const kp_service_def_t *def, int argc, char **argv)
{
    int rc = kp_config_load(def->items, def->program, argc, argv);
    if (rc) {
        kp_config_free(def->items);
        return rc == 1 ? 0 : 2;
    }
    kp_time_tz_init();
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    int exit_code = 0;
    rc = kp_boot_load(&boot, def->name, def->items, &so);
    if (rc) {
        exit_code = rc == KP_ECONFIG ? 2 : 1;
        goto out;
    }
    if (def->configure && (rc = def->configure(def->svc, def->items)) != 0) {
        exit_code = 2;
        goto out;
    }
    so.dbs = def->dbs;
    so.dbs_n = def->dbs_n;
    so.schema_version = def->schema_version;
    so.migrate = def->migrate;
    so.migrate_arg = def->svc;
    so.methods = def->methods;
    so.methods_n = def->methods_n;
    so.svc = def->svc;
    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    if (rc == 0) {
        if (def->start)
            rc = def->start(def->svc, server, &boot, def->items);
        if (rc == 0) {
            kp_log_notice("service.start", "test_clock=%d", kp_clock_enabled());
            rc = kp_server_run(server);
        }
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    exit_code = rc == KP_ECONFIG ? 2 : rc || lrc ? 1 : 0;
out:
    if (def->fini)
        def->fini(def->svc);
    kp_boot_fini(&boot);
    kp_config_free(def->items);
    return exit_code;
}
