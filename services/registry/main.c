/*  kumppani-registry: arguments, wiring, start and stop. The work is in api.c, store.c,
 *  csv.c and consume.c.
 *
 *  Test hook: clock-offset-ms is added to the clock used for dates (today, role dates) and
 *  for coverage ("no meeting in N months"), so tests can look at the future. */
#include "kp_boot.h"
#include "kp_consumer.h"
#include "kp_log.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7101", "tcp://127.0.0.1:7102", "./data/registry",
                      "registry"),
        {"events-api", "tcp://127.0.0.1:7201",
         "the events service's ROUTER (contact-person meetings); \"off\": do not follow", NULL},
        {"events-pub", "tcp://127.0.0.1:7202", "the events service's PUB", NULL},
        {"events-key", NULL, "the events service's public key file (with keys-dir)", NULL},
        {"clock-offset-ms", "0", "test hook: milliseconds added to the clock of dates", NULL},
        {0},
    };
    int rc = kp_config_load(items, "kumppani-registry", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    setenv("TZ", "Europe/Helsinki", 1); /* dates are Helsinki calendar dates */
    tzset();
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    reg_svc_t svc = {0};
    uint64_t off = 0;
    char events_pub[KP_Z85_KEY_LEN + 1] = "";
    if (kp_boot_load(&boot, "registry", items, &so) != 0 ||
        kp_config_uint(items, "clock-offset-ms", &off) != 0) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    svc.clock_offset_ms = (int64_t)off;
    const char *eapi = kp_config_get(items, "events-api");
    bool follow = eapi && strcmp(eapi, "off") != 0;
    if (follow && boot.have_keys) {
        if (kp_boot_peer_key(items, "events-key", events_pub) != 0) {
            fprintf(stderr, "kumppani-registry: events-key must name the events service's "
                            "public key file (or events-api off)\n");
            kp_boot_fini(&boot);
            kp_config_free(items);
            return 1;
        }
    }
    so.dbs = reg_db_names;
    so.dbs_n = REG_DB_N;
    so.schema_version = REG_SCHEMA_VERSION;
    so.methods = reg_methods;
    so.methods_n = reg_methods_n;
    so.svc = &svc;

    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    if (rc == 0) {
        rc = reg_seed(server);
        if (rc == 0 && follow) {
            kp_consumer_opts_t co = {.source = "events",
                                     .api_endpoint = eapi,
                                     .pub_endpoint = kp_config_get(items, "events-pub"),
                                     .keys = boot.have_keys ? &boot.keys : NULL,
                                     .server_pub = events_pub,
                                     .apply = reg_consume_apply};
            rc = kp_consumer_start(server, &co);
        }
        if (rc == 0)
            rc = kp_server_run(server);
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    kp_boot_fini(&boot);
    kp_config_free(items);
    return rc || lrc ? 1 : 0;
}
