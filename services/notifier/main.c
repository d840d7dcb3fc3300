/*  kumppani-notifier: wiring only (kp_boot_main). The settings are in config.c, the followed
 *  logs in consume.c, the planning rules in plan.c, the schedule's timers in timer.c, the
 *  transfers in deliver.c, the messages in render.c, the requests in api.c and the store in
 *  store.c; notifier.h has the layout and the shared state. */
#include "kp_boot.h"
#include "notifier.h"

static ntf_t s_ntf;

/* Once the server is open: lookups' keys, transfers, timers, then the followed logs. */
static int
s_start(void *svc, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    ntf_t *n = svc;
    int rc = ntf_config_start(n, srv, boot, items);
    if (rc == 0)
        rc = ntf_dlv_start(n);
    if (rc == 0)
        rc = ntf_timer_start(n);
    if (rc == 0)
        rc = ntf_texts_watch(n);
    if (rc == 0)
        rc = ntf_consume_start(n, boot, items);
    return rc;
}

int
main(int argc, char **argv)
{
    const kp_service_def_t def = {
        KP_SERVICE_TABLES("notifier", ntf, NTF),
        .items = ntf_config_items,
        .migrate = ntf_migrate,
        .svc = &s_ntf,
        .configure = ntf_configure,
        .start = s_start,
        .fini = ntf_fini,
    };
    return kp_boot_main(&def, argc, argv);
}
