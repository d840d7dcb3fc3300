/*  kumppani-events: arguments, wiring, start and stop. The work is in api.c, signup.c,
 *  report.c, offers.c, registry.c and store.c.
 *
 *  Settings of its own:
 *    registry-api, registry-pub  follow the registry's log; organisers and municipality codes
 *                                are then checked against its read model
 *    registry-key                the registry's public key <keys-dir>/<registry-key>.pub
 *  The test clock is the common one (test-clock = on, sys.clock.set; kp_time.h). */
#include "events.h"
#include "kp_boot.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202", "./data/events", "events"),
        {"registry-api", NULL, "the registry's ROUTER (with registry-pub: follow its log)", NULL},
        {"registry-pub", NULL, "the registry's PUB", NULL},
        {"registry-key", "registry",
         "the registry's public key: a name in keys-dir, or a path to its .pub", NULL},
        {0},
    };
    int rc = kp_config_load(items, "kumppani-events", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    kp_time_tz_init();
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    if (kp_boot_load(&boot, "events", items, &so) != 0) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    evt_svc_t svc = {0};
    const char *rapi = kp_config_get(items, "registry-api"),
               *rpub = kp_config_get(items, "registry-pub");
    if ((rapi && *rapi) != (rpub && *rpub)) {
        fprintf(stderr, "kumppani-events: registry-api and registry-pub go together\n");
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 2;
    }
    svc.arena = kp_arena_new(8u << 20);
    so.dbs = evt_db_names;
    so.dbs_n = EVT_DB_N;
    so.schema_version = EVT_SCHEMA_VERSION;
    so.migrate = evt_migrate;
    so.methods = evt_methods;
    so.methods_n = evt_methods_n;
    so.svc = &svc;

    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    char regpub[128] = {0};
    if (rc == 0) {
        svc.srv = server;
        rc = evt_offers_start(&svc);
        if (rc == 0 && rapi && *rapi) {
            if (boot.have_keys)
                rc = kp_boot_peer_key(items, "registry-key", regpub);
            if (rc == 0)
                rc = evt_registry_start(&svc, rapi, rpub, boot.have_keys ? regpub : NULL,
                                        boot.have_keys ? &boot.keys : NULL);
        }
        if (rc == 0) {
            kp_log_notice("events.start", "registry=%d", svc.registry);
            rc = kp_server_run(server);
        }
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    kp_arena_destroy(&svc.arena);
    kp_boot_fini(&boot);
    kp_config_free(items);
    return rc || lrc ? 1 : 0;
}
