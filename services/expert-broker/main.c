/*  kumppani-expert-broker: wiring only (kp_boot_main). The handlers are in one file per
 *  resource behind api.c's method table, matching in match.c, the deadline timer in timer.c,
 *  the registry's log in consume.c and every LMDB access in store.c (broker.h has the map). */
#include "broker.h"
#include "kp_boot.h"

static kp_config_item_t s_items[] = {
    KP_BOOT_ITEMS("tcp://127.0.0.1:7301", "tcp://127.0.0.1:7302", "./data/expert-broker",
                  "expert-broker"),
    KP_BOOT_FOLLOW_ITEMS("registry", NULL, NULL),
    {"no-repeat-weeks", "8",
     "weeks in which an expert is not offered the same requester again while others are eligible",
     NULL},
    {"retention-days", "365",
     "days after a request ended (filled and held, unfilled, cancelled) that its requester's "
     "contact details are kept (invoicing, follow-up); 0: kept",
     NULL},
    {0},
};

static brk_svc_t s_svc;

int
main(int argc, char **argv)
{
    kp_service_def_t def = {
        KP_SERVICE_TABLES("expert-broker", brk, BRK),
        .items = s_items,
        .svc = &s_svc,
        .configure = brk_configure,
        .start = brk_start,
        .fini = brk_fini,
    };
    return kp_boot_main(&def, argc, argv);
}
