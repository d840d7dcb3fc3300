/*  registry/municipality.c: municipalities (add or rename, list).
 *
 *  A municipality is keyed by its official three-digit code. Adding one that exists renames
 *  it; adding it unchanged writes nothing. Every change emits MunicipalityAdded with the
 *  whole record, whether it comes from a request, a CSV import or the first-start seed
 *  (seed.c). */
#include "kp_check.h"
#include "kp_err.h"
#include "registry.h"

#include <string.h>

int
reg_muni_save(kp_tx_t *tx, const reg_muni_t *m)
{
    int rc = reg_muni_put(tx, m);
    if (rc)
        return rc;
    Kumppani__V1__MunicipalityReply r = KUMPPANI__V1__MUNICIPALITY_REPLY__INIT;
    r.municipality = (reg_muni_t *)m;
    return kp_tx_emit(tx, "MunicipalityAdded", &r.base);
}

bool
reg_muni_same(const reg_muni_t *a, const reg_muni_t *b)
{
    return strcmp(a->name_fi, b->name_fi) == 0 && strcmp(a->name_sv, b->name_sv) == 0 &&
           strcmp(a->region_code, b->region_code) == 0 &&
           strcmp(a->region_name, b->region_name) == 0;
}

int
reg_muni_write(kp_tx_t *tx, const reg_muni_t *m, bool *changed)
{
    reg_muni_t *old;
    bool found;
    int rc = reg_muni_get(tx, m->code, &old, &found);
    if (rc)
        return rc;
    *changed = !(found && reg_muni_same(old, m));
    if (!*changed)
        return 0;
    reg_muni_t copy = *m;
    copy.updated_ms = tx->now_ms;
    return reg_muni_save(tx, &copy);
}

void
reg_muni_add(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const reg_muni_t *m = kp_tx_open(&tx, call, svc);
    if (!kp_check_muni_code(call, "code", m->code) ||
        !kp_check_text(call, "name_fi", m->name_fi, 1, 100) ||
        !kp_check_text(call, "name_sv", m->name_sv, 0, 100) ||
        !kp_check_text(call, "region_code", m->region_code, 0, 8) ||
        !kp_check_text(call, "region_name", m->region_name, 0, 100))
        return;
    bool changed, found = false;
    Kumppani__V1__MunicipalityReply rep = KUMPPANI__V1__MUNICIPALITY_REPLY__INIT;
    int rc = reg_muni_write(&tx, m, &changed);
    if (!rc && !(rc = reg_muni_get(&tx, m->code, &rep.municipality, &found)) && !found)
        rc = KP_ESTORE;
    kp_tx_answer(&tx, rc, &rep.base);
}

void
reg_muni_list_h(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListMunicipalitiesRequest *rq = kp_tx_open(&tx, call, svc);
    Kumppani__V1__ListMunicipalitiesReply r = KUMPPANI__V1__LIST_MUNICIPALITIES_REPLY__INIT;
    int rc = reg_muni_list(&tx, rq->region_code, &r.municipalities, &r.n_municipalities);
    kp_tx_answer(&tx, rc, &r.base);
}
