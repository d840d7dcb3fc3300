/*  kumppani-web: the public web pages (calendar, events, sign-up, personal links, the
 *  accessibility statement and the privacy notice). Wiring only; see web.h for the anatomy
 *  and boot.c for the settings and what they do. */
#include "kp_boot.h"
#include "web.h"

int
main(int argc, char **argv)
{
    static web_svc_t svc;
    kp_service_def_t def = {
        KP_SERVICE_TABLES("web", web, WEB), .items = web_items, .svc = &svc,
        .configure = web_configure,         .start = web_start, .fini = web_fini,
    };
    return kp_boot_main(&def, argc, argv);
}
