/*  registry/organisation.c: organisations (register, update, dissolve, remove, get).
 *
 *  An organisation is identified by its id; business_id (Y-tunnus) and association_number are
 *  unique among organisations when given (CONFLICT names the other one). An update with fields
 *  equal to the stored ones writes nothing and emits no event. Dissolving keeps the record
 *  (status DISSOLVED, dissolved_on) and ends the roles held in it; removing deletes the record
 *  and its index entries and ends its roles; both emit their event. CSV import writes through
 *  reg_org_write too, so every change, whatever its source, carries the same event. */
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "registry.h"

#include <stdio.h>
#include <string.h>

/* Answers the call: the store error rc, or the organisation o. */
static void
s_answer(kp_tx_t *tx, int rc, reg_org_t *o)
{
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = o;
    kp_tx_answer(tx, rc, &r.base);
}

reg_org_t *
reg_org_load(kp_tx_t *tx, const char *field, uint64_t id)
{
    return kp_rec_load(tx, REG_DB_ORGS, id, &kumppani__v1__organisation__descriptor, field,
                       "organisation");
}

/* CONFLICT if business_id or association_number belongs to another organisation. Returns
 * NULL or the reason. */
static const char *
s_uniq_check(kp_tx_t *tx, const reg_fields_t *f, uint64_t self_id, char *why, size_t wl)
{
    uint64_t other;
    if (reg_uniq_get(tx, 'b', f->business_id, &other) == 0 && other && other != self_id) {
        snprintf(why, wl, "field 'business_id': already registered to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    if (reg_uniq_get(tx, 'a', f->association_number, &other) == 0 && other && other != self_id) {
        snprintf(why, wl, "field 'association_number': already registered to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    return NULL;
}

/* Checks and normalises the fields of a register or an update (self_id: the organisation
 * updated, 0 for a new one); false after answering INVALID or CONFLICT. */
static bool
s_fields_ok(kp_tx_t *tx, reg_fields_t *f, uint64_t self_id)
{
    char why[REG_WHY];
    const char *r = reg_fields_check(tx, f, why, sizeof why);
    if (r)
        kp_call_fail(tx->call, REG_C(INVALID), "%s", r);
    else if ((r = s_uniq_check(tx, f, self_id, why, sizeof why)))
        kp_call_fail(tx->call, REG_C(CONFLICT), "%s", r);
    return r == NULL;
}

int
reg_org_write(kp_tx_t *tx, reg_org_t *old, reg_fields_t *f, int status, reg_org_t **out)
{
    reg_org_t *o = kp_arena_alloc(tx->arena, sizeof *o);
    if (!o)
        return KP_ENOMEM;
    kumppani__v1__organisation__init(o);
    int rc;
    if (old) {
        *o = *old;
    } else {
        if ((rc = kp_tx_next_id(tx, "org", &o->id)))
            return rc;
        o->created_ms = tx->now_ms;
        o->dissolved_on = "";
    }
    o->fields = f;
    o->status = status;
    if (status == REG_DISSOLVED && !o->dissolved_on[0]) {
        char *d = kp_arena_alloc(tx->arena, 11);
        if (!d)
            return KP_ENOMEM;
        reg_today(tx, d);
        o->dissolved_on = d;
    }
    o->updated_ms = tx->now_ms;
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = o;
    const char *type = !old ? "OrganisationRegistered"
                       : (status == REG_DISSOLVED && old->status != REG_DISSOLVED)
                           ? "OrganisationDissolved"
                           : "OrganisationUpdated";
    if ((rc = reg_org_put(tx, o, old)) || (rc = kp_tx_emit(tx, type, &r.base)))
        return rc;
    kp_log_info(old ? "org.updated" : "org.registered", "org=%llu", (unsigned long long)o->id);
    *out = o;
    return 0;
}

bool
reg_fields_equal(kp_tx_t *tx, const reg_fields_t *a, const reg_fields_t *b)
{
    size_t la = protobuf_c_message_get_packed_size(&a->base);
    size_t lb = protobuf_c_message_get_packed_size(&b->base);
    if (la != lb)
        return false;
    uint8_t *x = kp_arena_alloc(tx->arena, la + 1);
    uint8_t *y = kp_arena_alloc(tx->arena, lb + 1);
    if (!x || !y)
        return false;
    protobuf_c_message_pack(&a->base, x);
    protobuf_c_message_pack(&b->base, y);
    return memcmp(x, y, la) == 0;
}

void
reg_org_register(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__RegisterOrganisationRequest *rq = kp_tx_open(&tx, call, svc);
    if (!kp_call_idem_key_ok(call, "register"))
        return;
    if (!rq->fields) {
        kp_call_fail(call, REG_C(INVALID), "field 'fields': required");
        return;
    }
    if (kp_call_idem_required(call, "register") || !s_fields_ok(&tx, rq->fields, 0))
        return;
    reg_org_t *o = NULL;
    int rc = reg_org_write(&tx, NULL, rq->fields, REG_ACTIVE, &o);
    s_answer(&tx, rc, o);
}

void
reg_org_update(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__UpdateOrganisationRequest *rq = kp_tx_open(&tx, call, svc);
    reg_org_t *old = reg_org_load(&tx, "id", rq->id);
    if (!old)
        return;
    if (!rq->fields) {
        kp_call_fail(call, REG_C(INVALID), "field 'fields': required");
        return;
    }
    if (rq->expected_updated_ms && rq->expected_updated_ms != old->updated_ms) {
        kp_call_fail(call, REG_C(CONFLICT), "organisation changed since expected_updated_ms");
        return;
    }
    if (!s_fields_ok(&tx, rq->fields, old->id))
        return;
    if (reg_fields_equal(&tx, rq->fields, old->fields)) {
        s_answer(&tx, 0, old); /* nothing changed: no event */
        return;
    }
    reg_org_t *o = NULL;
    int rc = reg_org_write(&tx, old, rq->fields, old->status, &o);
    s_answer(&tx, rc, o);
}

void
reg_org_dissolve(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__DissolveOrganisationRequest *rq = kp_tx_open(&tx, call, svc);
    reg_org_t *old = reg_org_load(&tx, "id", rq->id);
    if (!old)
        return;
    char today[11];
    const char *on = reg_date_or_today(&tx, "dissolved_on", rq->dissolved_on, today);
    if (!on)
        return;
    if (strcmp(on, today) > 0) {
        kp_call_fail(call, REG_C(INVALID), "field 'dissolved_on': not in the future");
        return;
    }
    if (old->status == REG_DISSOLVED) {
        kp_call_fail(call, REG_C(CONFLICT), "organisation %llu is already dissolved",
                     (unsigned long long)old->id);
        return;
    }
    old->dissolved_on = (char *)(rq->dissolved_on[0] ? rq->dissolved_on : "");
    reg_org_t *o = NULL;
    int rc = reg_org_write(&tx, old, old->fields, REG_DISSOLVED, &o);
    if (!rc)
        rc = reg_end_roles(&tx, 'o', o->id, o->dissolved_on, NULL, NULL);
    s_answer(&tx, rc, o);
}

void
reg_org_remove(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OrganisationRef *rq = kp_tx_open(&tx, call, svc);
    reg_org_t *old = reg_org_load(&tx, "id", rq->id);
    if (!old)
        return;
    char today[11];
    reg_today(&tx, today);
    int rc = reg_org_del(&tx, old);
    if (!rc)
        rc = reg_end_roles(&tx, 'o', old->id, today, NULL, NULL);
    old->status = REG_REMOVED;
    old->updated_ms = tx.now_ms;
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = old;
    if (!rc)
        rc = kp_tx_emit(&tx, "OrganisationRemoved", &r.base);
    if (!rc)
        kp_log_info("org.removed", "org=%llu", (unsigned long long)old->id);
    kp_tx_answer(&tx, rc, &r.base);
}

void
reg_org_get_h(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OrganisationRef *rq = kp_tx_open(&tx, call, svc);
    reg_org_t *o = reg_org_load(&tx, "id", rq->id);
    if (o)
        s_answer(&tx, 0, o);
}
