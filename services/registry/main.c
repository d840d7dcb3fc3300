/*  kumppani-registry: wiring only (kp_boot_main); the work is in the files of registry.h.
 *  Settings: KP_BOOT_ITEMS, events-api/-pub/-key to follow the events log (consume.c; "off":
 *  not). First start seeds municipalities (seed.c); an older store is upgraded (reg_migrate). */
#include "kp_boot.h"
#include "registry.h"

#include <string.h>

static int
s_start(void *svcp, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    reg_svc_t *svc = svcp;
    svc->arena = kp_arena_new(8u << 20);
    svc->scan = kp_arena_new(1u << 20);
    const char *api = kp_config_get(items, "events-api");
    int rc = reg_seed(srv, svc);
    if (rc || (api && strcmp(api, "off") == 0))
        return rc;
    return kp_boot_follow(boot, items, srv, "events", reg_consume_apply, svc, NULL);
}

static void
s_fini(void *svcp)
{
    kp_arena_destroy(&((reg_svc_t *)svcp)->arena);
    kp_arena_destroy(&((reg_svc_t *)svcp)->scan);
}

int
main(int argc, char **argv)
{
    static reg_svc_t svc;
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7101", "tcp://127.0.0.1:7102", "./data/registry",
                      "registry"),
        KP_BOOT_FOLLOW_ITEMS("events", "tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202"),
        {0},
    };
    kp_service_def_t def = {KP_SERVICE_TABLES("registry", reg, REG),
                            .items = items,
                            .migrate = reg_migrate,
                            .svc = &svc,
                            .start = s_start,
                            .fini = s_fini};
    return kp_boot_main(&def, argc, argv);
}
