/*  kumppani-events: arguments, wiring, start and stop. The work is in api.c and store.c. */
#include "events.h"
#include "kp_boot.h"
#include "kp_log.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202", "./data/events", "events"),
        {0},
    };
    int rc = kp_config_load(items, "kumppani-events", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    if (kp_boot_load(&boot, "events", items, &so) != 0) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    so.dbs = evt_db_names;
    so.dbs_n = EVT_DB_N;
    so.schema_version = EVT_SCHEMA_VERSION;
    so.methods = evt_methods;
    so.methods_n = evt_methods_n;

    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    if (rc == 0) {
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
