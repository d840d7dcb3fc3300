/*  events/registry.c: the registry read model.
 *
 *  With registry-api and registry-pub set, the service follows the registry's log through
 *  kp_consumer (exactly-once effect: the offset commits with the effect) and keeps what it
 *  needs to check organisers and municipality codes: organisation id -> status
 *  (MunicipalityAdded adds a code; OrganisationRegistered/Updated/Dissolved store the status;
 *  OrganisationRemoved drops the id). Without them, codes are checked for their shape only. */
#include "events.h"
#include "kp_consumer.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kumppani/v1/registry.pb-c.h"

#include <string.h>

static int
s_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    evt_svc_t *svc = arg;
    kp_tx_t t;
    int rc = kp_tx_begin(&t, srv, txn, svc->arena, svc);
    if (rc)
        return rc;
    if (strcmp(ev->type, "MunicipalityAdded") == 0) {
        Kumppani__V1__MunicipalityReply *r =
            kumppani__v1__municipality_reply__unpack(NULL, ev->payload.len, ev->payload.data);
        if (!r)
            return 0; /* undecodable: nothing we can learn from it */
        rc = r->municipality ? evt_reg_muni_put(&t, r->municipality->code) : 0;
        kumppani__v1__municipality_reply__free_unpacked(r, NULL);
        return rc;
    }
    if (strncmp(ev->type, "Organisation", 12) != 0)
        return 0;
    Kumppani__V1__OrganisationReply *r =
        kumppani__v1__organisation_reply__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!r)
        return 0;
    if (r->organisation && r->organisation->id) {
        if (strcmp(ev->type, "OrganisationRemoved") == 0)
            rc = evt_reg_org_del(&t, r->organisation->id);
        else
            rc = evt_reg_org_put(&t, r->organisation->id, r->organisation->status);
    }
    kumppani__v1__organisation_reply__free_unpacked(r, NULL);
    return rc;
}

int
evt_registry_start(evt_svc_t *svc, const char *api, const char *pub, const char *server_pub,
                   const kp_keypair_t *keys)
{
    kp_consumer_opts_t co = {0};
    co.source = "registry";
    co.api_endpoint = api;
    co.pub_endpoint = pub;
    co.apply = s_apply;
    co.arg = svc;
    co.keys = keys;
    co.server_pub = server_pub;
    svc->registry = true;
    return kp_consumer_start(svc->srv, &co);
}
