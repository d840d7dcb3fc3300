/*  notifier/consume.c: following the logs of the events service, the expert-broker and the
 *  registry (kp_consumer), and the apply function of each.
 *
 *  Every apply runs in the turn's transaction, which also stores that source's offset, so an
 *  event's effect and its offset commit together (exactly once in effect, DESIGN 5). Each
 *  begins one unit of work in a freshly reset scratch arena (ntf_t.plan_arena), applies the
 *  event — the planning rules of plan.c for the events service and the broker, the contact
 *  persons' read model here for the registry — plans the event's webhook, and asks the
 *  schedule to look again.
 *
 *  Settings: events-*, registry-* follow kp_boot_follow (<src>-api, <src>-pub, <src>-key, the
 *  setting prefix being the log's source name). The broker's settings are broker-api,
 *  broker-pub and broker-key while its log's source name is "expert-broker" (the name under
 *  which the consumer's offset is stored), so that one is started here with kp_consumer_start;
 *  it keeps kp_boot_follow's rules (api and pub together; the key a name in keys-dir or a
 *  path). broker-api and registry-api also serve delivery-time lookups (deliver.c). */
#include "kp_err.h"
#include "kp_log.h"
#include "notifier.h"

#include <string.h>

/* The unit of work of one event of a followed log. */
static int
s_begin(kp_tx_t *tx, ntf_t *n, kp_server_t *srv, MDB_txn *txn)
{
    kp_arena_reset(n->plan_arena);
    return kp_tx_begin(tx, srv, txn, n->plan_arena, n);
}

/* ... and its end: a look at the schedule once the event planned something. */
static int
s_end(ntf_t *n, int rc)
{
    if (rc == 0)
        ntf_kick(n);
    return rc;
}

static int
s_apply_events(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    kp_tx_t tx;
    int rc = s_begin(&tx, arg, srv, txn);
    return s_end(arg, rc ? rc : ntf_plan_events(&tx, ev));
}

static int
s_apply_broker(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    kp_tx_t tx;
    int rc = s_begin(&tx, arg, srv, txn);
    return s_end(arg, rc ? rc : ntf_plan_broker(&tx, ev));
}

/* The registry's log: the contact persons (roles, ids only) from ContactPersonAssigned and
 * ContactPersonEnded, less those of an erased person; the weekly digest (plan.c) goes to those
 * whose role is current on its day. A role ended on a coming day (the coordinator records a
 * contact person's last day ahead of time) stays until then, with its end date. */
static int
s_contacts(kp_tx_t *tx, const Kumppani__V1__Event *ev)
{
    const char *t = ev->type ? ev->type : "";
    ProtobufCAllocator *pa = kp_arena_pbc(tx->arena);
    if (strcmp(t, "ContactPersonAssigned") == 0 || strcmp(t, "ContactPersonEnded") == 0) {
        Kumppani__V1__RoleReply *rr =
            kumppani__v1__role_reply__unpack(pa, ev->payload.len, ev->payload.data);
        Kumppani__V1__Role *role = rr ? rr->role : NULL;
        if (!role || role->kind != KUMPPANI__V1__ROLE_KIND__ROLE_KIND_CONTACT_PERSON)
            return 0;
        return t[13] == 'A' || role->end_date[0] ? ntf_contact_put(tx, role)
                                                 : ntf_contact_del(tx, role->id);
    }
    if (strcmp(t, "MunicipalityAdded") == 0) {
        Kumppani__V1__MunicipalityReply *mr =
            kumppani__v1__municipality_reply__unpack(pa, ev->payload.len, ev->payload.data);
        return mr && mr->municipality ? ntf_muni_put(tx, mr->municipality) : 0;
    }
    if (strcmp(t, "PersonErased") == 0) {
        Kumppani__V1__PersonErased *pe =
            kumppani__v1__person_erased__unpack(pa, ev->payload.len, ev->payload.data);
        Kumppani__V1__Role **roles;
        size_t roles_n = 0;
        int rc = pe ? ntf_contacts(tx, &roles, &roles_n) : 0;
        for (size_t i = 0; i < roles_n && rc == 0; i++)
            if (roles[i]->person_id == pe->person_id)
                rc = ntf_contact_del(tx, roles[i]->id);
        return rc;
    }
    return 0;
}

static int
s_apply_registry(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    kp_tx_t tx;
    int rc = s_begin(&tx, arg, srv, txn);
    if (rc == 0)
        rc = s_contacts(&tx, ev);
    return s_end(arg, rc ? rc : ntf_plan_webhook(&tx, ev, "registry", 0, 0));
}

/* The expert-broker's log under the settings broker-* (see above). */
static int
s_follow_broker(ntf_t *n, const kp_boot_t *boot, const kp_config_item_t *items)
{
    const char *api = kp_config_get(items, "broker-api"), *pub = kp_config_get(items, "broker-pub");
    bool have_api = api && *api, have_pub = pub && *pub;
    if (have_api != have_pub) {
        kp_log_err("boot.follow", "source=expert-broker what=\"broker-api and broker-pub go "
                                  "together\"");
        return KP_ECONFIG;
    }
    if (!have_api)
        return 0;
    char server_pub[KP_Z85_KEY_LEN + 1] = {0};
    int rc = boot->have_keys ? kp_boot_peer_key(items, "broker-key", server_pub) : 0;
    if (rc)
        return rc;
    kp_consumer_opts_t co = {.source = "expert-broker",
                             .api_endpoint = api,
                             .pub_endpoint = pub,
                             .keys = boot->have_keys ? &boot->keys : NULL,
                             .server_pub = boot->have_keys ? server_pub : NULL,
                             .apply = s_apply_broker,
                             .arg = n};
    return kp_consumer_start(n->srv, &co);
}

int
ntf_consume_start(ntf_t *n, const kp_boot_t *boot, const kp_config_item_t *items)
{
    int rc = kp_boot_follow(boot, items, n->srv, "events", s_apply_events, n, NULL);
    if (rc == 0)
        rc = s_follow_broker(n, boot, items);
    if (rc == 0)
        rc = kp_boot_follow(boot, items, n->srv, "registry", s_apply_registry, n, NULL);
    return rc;
}
