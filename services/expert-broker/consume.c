/*  expert-broker/consume.c: following the registry's log.
 *
 *  With registry-api and registry-pub set (KP_BOOT_FOLLOW_ITEMS), the broker follows the
 *  registry (kp_boot_follow, exactly once in effect) and keeps a read model of it in the
 *  `orgs` table: organisation id -> name of each active organisation, so an expert's home
 *  organisation must be one the registry knows (svc->registry_model). The registry's
 *  PersonErased erases the experts linked to that person (registry_person_id) here too.
 *  Events that do not decode are skipped rather than stalling the log: they are not ours to
 *  judge. */
#include "broker.h"
#include "kp_boot.h"
#include "kp_log.h"
#include "kumppani/v1/registry.pb-c.h"

#include <string.h>

#define PERSON_EXPERTS_MAX 64

typedef struct {
    uint64_t person_id;
    uint64_t ids[PERSON_EXPERTS_MAX];
    size_t n;
} person_t;

static int
s_person_expert(void *arg, uint64_t id, MDB_val *val)
{
    person_t *x = arg;
    Kumppani__V1__Expert *e = kumppani__v1__expert__unpack(NULL, val->mv_size, val->mv_data);
    if (e && !e->erased && e->profile && e->profile->registry_person_id == x->person_id &&
        x->n < PERSON_EXPERTS_MAX)
        x->ids[x->n++] = id;
    if (e)
        kumppani__v1__expert__free_unpacked(e, NULL);
    return 0;
}

static int
s_person_erased(kp_tx_t *tx, const Kumppani__V1__Event *ev)
{
    Kumppani__V1__PersonErased *pe =
        kumppani__v1__person_erased__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!pe)
        return 0;
    person_t x = {pe->person_id, {0}, 0};
    kumppani__v1__person_erased__free_unpacked(pe, NULL);
    int rc = x.person_id ? brk_each(tx, BRK_DB_EXPERTS, 0, s_person_expert, &x) : 0;
    for (size_t i = 0; !rc && i < x.n; i++) {
        brk_expert_t *e = brk_get(tx, BRK_DB_EXPERTS, x.ids[i], &rc);
        if (!rc && e)
            rc = brk_expert_erase_write(tx, e);
    }
    kp_log_info("registry.person_erased", "experts=%zu rc=%d", x.n, rc);
    return rc;
}

static int
s_organisation(kp_tx_t *tx, const Kumppani__V1__Event *ev, bool put)
{
    Kumppani__V1__OrganisationReply *r =
        kumppani__v1__organisation_reply__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!r)
        return 0;
    int rc = 0;
    const Kumppani__V1__Organisation *o = r->organisation;
    if (o) {
        if (put && o->status == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE && o->fields)
            rc = brk_text_put(tx, BRK_DB_ORGS, o->id, o->fields->name_fi);
        else
            rc = brk_text_del(tx, BRK_DB_ORGS, o->id);
        kp_log_debug("registry.org", "org=%llu type=%s", (unsigned long long)o->id, ev->type);
    }
    kumppani__v1__organisation_reply__free_unpacked(r, NULL);
    return rc;
}

static int
s_apply_registry(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    brk_svc_t *svc = arg;
    bool erased = strcmp(ev->type, "PersonErased") == 0;
    bool put = strcmp(ev->type, "OrganisationRegistered") == 0 ||
               strcmp(ev->type, "OrganisationUpdated") == 0;
    bool del = strcmp(ev->type, "OrganisationDissolved") == 0 ||
               strcmp(ev->type, "OrganisationRemoved") == 0;
    if (!erased && !put && !del)
        return 0;
    kp_arena_reset(svc->arena);
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, srv, txn, svc->arena, svc);
    if (rc)
        return rc;
    return erased ? s_person_erased(&tx, ev) : s_organisation(&tx, ev, put);
}

int
brk_consume_start(brk_svc_t *svc, kp_server_t *srv, const kp_boot_t *boot,
                  const kp_config_item_t *items)
{
    return kp_boot_follow(boot, items, srv, "registry", s_apply_registry, svc,
                          &svc->registry_model);
}
