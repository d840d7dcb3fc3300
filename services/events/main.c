/*  kumppani-events: wiring only (kp_boot_main). The work is in the files events.h lists.
 *  Settings of its own: registry-api, registry-pub and registry-key (KP_BOOT_FOLLOW_ITEMS):
 *  follow the registry's log; organisers and municipality codes are then checked against its
 *  read model. retention-days (default 180): a sign-up's personal data is erased this long
 *  after its event ended (timer.c). index-dir: the key index's directory (index.c). The test
 *  clock is the common one. */
#include "events.h"

static int
s_start(void *svcp, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    evt_svc_t *svc = svcp;
    svc->srv = srv;
    svc->arena = kp_arena_new(8u << 20);
    svc->index_dir = kp_config_get(items, "index-dir");
    int rc = evt_index_open(svc); /* before the timer's first pass reads it */
    rc = rc ? rc : evt_timer_start(svc, items);
    return rc ? rc : evt_consume_start(svc, boot, items);
}

static void
s_fini(void *svcp)
{
    evt_index_close(svcp);
    kp_arena_destroy(&((evt_svc_t *)svcp)->arena);
}

int
main(int argc, char **argv)
{
    static evt_svc_t svc;
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7201", "tcp://127.0.0.1:7202", "./data/events", "events"),
        KP_BOOT_FOLLOW_ITEMS("registry", NULL, NULL),
        {"retention-days", "180",
         "days after an event's end until its sign-ups' personal data is erased (1..3650)", NULL},
        {"index-dir", "",
         "where the key index lives (default <data-dir>/index; on tmpfs it is rebuilt after a "
         "reboot)",
         NULL},
        {0},
    };
    kp_service_def_t def = {KP_SERVICE_TABLES("events", evt, EVT),
                            .items = items,
                            .migrate = evt_migrate,
                            .svc = &svc,
                            .start = s_start,
                            .fini = s_fini};
    return kp_boot_main(&def, argc, argv);
}
