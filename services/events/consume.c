/*  events/consume.c: following the registry's log, into the registry read model.
 *
 *  With registry-api and registry-pub set, the service follows the registry's log
 *  (kp_boot_follow: kp_consumer, exactly once in effect, the offset commits with the effect) and
 *  keeps what it needs to check organisers and municipality codes (store.c: reg_orgs,
 *  reg_munis): MunicipalityAdded adds a code; OrganisationRegistered/Updated/Dissolved store the
 *  organisation's status; OrganisationRemoved drops it. Without them, codes are checked for
 *  their shape only (svc->registry stays false). */
#include "events.h"
#include "kp_boot.h"
#include "kumppani/v1/registry.pb-c.h"

#include <string.h>

static int
s_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    evt_svc_t *svc = arg;
    kp_arena_reset(svc->arena); /* shared with the timer; neither keeps anything in it */
    kp_tx_t t;
    int rc = kp_tx_begin(&t, srv, txn, svc->arena, svc);
    if (rc)
        return rc;
    if (strcmp(ev->type, "MunicipalityAdded") == 0) {
        Kumppani__V1__MunicipalityReply *r = kumppani__v1__municipality_reply__unpack(
            kp_arena_pbc(t.arena), ev->payload.len, ev->payload.data);
        /* Undecodable: nothing we can learn from it. */
        return r && r->municipality ? evt_reg_muni_put(&t, r->municipality->code) : 0;
    }
    if (strncmp(ev->type, "Organisation", 12) != 0)
        return 0;
    Kumppani__V1__OrganisationReply *r = kumppani__v1__organisation_reply__unpack(
        kp_arena_pbc(t.arena), ev->payload.len, ev->payload.data);
    if (!r || !r->organisation || !r->organisation->id)
        return 0;
    if (strcmp(ev->type, "OrganisationRemoved") == 0)
        return evt_reg_org_del(&t, r->organisation->id);
    return evt_reg_org_put(&t, r->organisation->id, r->organisation->status);
}

int
evt_consume_start(evt_svc_t *svc, const kp_boot_t *boot, const kp_config_item_t *items)
{
    return kp_boot_follow(boot, items, svc->srv, "registry", s_apply, svc, &svc->registry);
}
