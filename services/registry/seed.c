/*  registry/seed.c: the first-start data, the 18 municipalities of Etelä-Pohjanmaa (region 14).
 *
 *  On a store that has no municipality and no event yet, the registry adds them in the turn
 *  before the loop runs, each with its MunicipalityAdded event, so that followers learn them
 *  like any other change. A store that has either is never seeded again (a region may have
 *  renamed or added municipalities since). */
#include "kp_log.h"
#include "registry.h"

static const struct {
    const char *code, *fi, *sv;
} s_ep[] = {
    {"005", "Alajärvi", ""},       {"010", "Alavus", "Alavo"},    {"052", "Evijärvi", ""},
    {"145", "Ilmajoki", "Ilmola"}, {"151", "Isojoki", "Storå"},   {"152", "Isokyrö", "Storkyro"},
    {"218", "Karijoki", "Bötom"},  {"232", "Kauhajoki", ""},      {"233", "Kauhava", ""},
    {"300", "Kuortane", ""},       {"301", "Kurikka", ""},        {"403", "Lappajärvi", ""},
    {"408", "Lapua", "Lappo"},     {"743", "Seinäjoki", ""},      {"759", "Soini", ""},
    {"846", "Teuva", "Östermark"}, {"934", "Vimpeli", "Vindala"}, {"989", "Ähtäri", "Etseri"},
};

int
reg_seed(kp_server_t *srv, reg_svc_t *svc)
{
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, srv, NULL, svc->arena, svc);
    if (rc)
        return rc;
    uint64_t n = 0;
    if ((rc = reg_muni_count(&tx, &n)))
        goto out;
    if (n > 0 || kp_store_turn_head(tx.store) > 0)
        return 0; /* not the first start */
    for (size_t i = 0; !rc && i < sizeof s_ep / sizeof s_ep[0]; i++) {
        reg_muni_t m = KUMPPANI__V1__MUNICIPALITY__INIT;
        m.code = (char *)s_ep[i].code;
        m.name_fi = (char *)s_ep[i].fi;
        m.name_sv = (char *)s_ep[i].sv;
        m.region_code = "14";
        m.region_name = "Etelä-Pohjanmaa";
        m.updated_ms = tx.now_ms;
        rc = reg_muni_save(&tx, &m);
    }
out:
    kp_arena_reset(svc->arena);
    if (rc)
        kp_server_abort_turn(srv, rc);
    else
        kp_log_notice("registry.seeded", "municipalities=%zu", sizeof s_ep / sizeof s_ep[0]);
    return rc;
}
