/*  expert-broker/erase.c: erasing an expert (broker.expert.erase, and the registry's
 *  PersonErased through consume.c).
 *
 *  The profile is emptied and the sensitive detail deleted; open offers are withdrawn (their
 *  requests move on) and confirmed assignments cancelled; free texts about the expert
 *  (decline and cancel reasons, feedback comments) are cleared. The assignments stay under
 *  the id (pseudonymous: ids, times, hours, fees), so payments can still be accounted for;
 *  that is also why an expert with completed assignments not yet paid cannot be erased. The
 *  idempotency records of broker.expert.register keep the first reply (the whole profile) for
 *  a retry: they are rewritten to the erased record, and the store is compacted at the end of
 *  the turn (kp_server_compact_soon), so that the profile's bytes leave data.mdb. */
#include "broker.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

#define ERASE_MAX 4096

typedef struct {
    kp_tx_t *tx;
    uint64_t expert_id;
    brk_offer_t **offers; /* the expert's open offers, and closed ones with a reason */
    size_t offers_n;
    uint64_t *asgs;
    size_t asgs_n;
    int rc;
} erase_t;

static int
s_erase_offer(void *arg, uint64_t id, void *rec)
{
    erase_t *x = arg;
    brk_offer_t *o = rec;
    (void)id;
    if (o->expert_id == x->expert_id && (o->state == OS(OPEN) || o->reason[0]) &&
        x->offers_n < ERASE_MAX)
        x->offers[x->offers_n++] = o;
    return 0;
}

/* The expert's assignments stay (pseudonymous: ids, times, hours, fees); confirmed ones are
 * cancelled, free-text feedback and cancel reasons (which may name the person) cleared. */
static int
s_erase_asg(kp_tx_t *tx, uint64_t id)
{
    int rc;
    brk_asg_t *a = brk_get(tx, BRK_DB_ASGS, id, &rc);
    if (rc || !a)
        return rc;
    const char *why = "expert erased";
    if (a->state == AS(CONFIRMED) && (rc = brk_asg_cancel_write(tx, a, "coordinator", why, true)))
        return rc;
    if (a->expert_feedback)
        a->expert_feedback->comment_text = "";
    if (a->requester_feedback)
        a->requester_feedback->comment_text = "";
    if (a->cancel_reason[0] && strcmp(a->cancel_reason, why) != 0)
        a->cancel_reason = "(erased)";
    return kp_rec_put_id(tx, BRK_DB_ASGS, a->id, &a->base);
}

/* An idempotency record of broker.expert.register: the erased expert instead of the profile. */
static const ProtobufCMessage *
s_fix_registered(void *arg, kp_tx_t *tx, const ProtobufCMessage *m)
{
    brk_expert_t *e = arg;
    const Kumppani__V1__ExpertReply *r = (const void *)m;
    if (!r->expert || r->expert->id != e->id)
        return NULL;
    Kumppani__V1__ExpertReply *c = kp_arena_alloc(tx->arena, sizeof *c);
    if (!c)
        return NULL;
    *c = *r;
    c->expert = e;
    return &c->base;
}

int
brk_expert_erase_write(kp_tx_t *tx, brk_expert_t *e)
{
    if (e->erased)
        return 0;
    Kumppani__V1__ExpertInput *p = kp_arena_alloc(tx->arena, sizeof *p);
    if (!p)
        return KP_ENOMEM;
    kumppani__v1__expert_input__init(p);
    p->kind = e->profile ? e->profile->kind : 0;
    e->profile = p;
    e->erased = true;
    e->erased_ms = e->updated_ms = tx->now_ms;
    e->paused = true;
    e->has_sensitive_detail = false;
    e->home_org_name = "";
    int rc;
    if ((rc = brk_text_del(tx, BRK_DB_SENSITIVE, e->id)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base)))
        return rc;
    erase_t x = {tx,
                 e->id,
                 kp_arena_alloc(tx->arena, ERASE_MAX * sizeof(brk_offer_t *)),
                 0,
                 kp_arena_alloc(tx->arena, ERASE_MAX * sizeof(uint64_t)),
                 0,
                 0};
    if (!x.offers || !x.asgs)
        return KP_ENOMEM;
    if ((rc = brk_each_rec(tx, BRK_DB_OFFERS, 0, true, s_erase_offer, &x)) || x.rc ||
        (rc = brk_idx_ids(tx, BRK_DB_EXP_ASGS, e->id, x.asgs, ERASE_MAX, &x.asgs_n)))
        return rc ? rc : x.rc;
    size_t withdrawn = 0;
    for (size_t i = 0; i < x.offers_n; i++) {
        brk_offer_t *o = x.offers[i];
        o->reason = "";
        if (o->state != OS(OPEN)) {
            if ((rc = kp_rec_put_id(tx, BRK_DB_OFFERS, o->id, &o->base)))
                return rc;
            continue;
        }
        withdrawn++;
        if ((rc = brk_offer_close(tx, o, OS(WITHDRAWN), "OfferWithdrawn")))
            return rc;
        brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, o->request_id, &rc);
        if (rc || (rq && (rc = brk_fill(tx, rq))))
            return rc;
    }
    for (size_t i = 0; i < x.asgs_n; i++)
        if ((rc = s_erase_asg(tx, x.asgs[i])))
            return rc;
    Kumppani__V1__ExpertRef ref = KUMPPANI__V1__EXPERT_REF__INIT;
    ref.expert_id = e->id;
    unsigned fixed = 0;
    if ((rc = brk_emit(tx, "ExpertErased", &ref.base)) ||
        (rc =
             brk_idem_rewrite(tx, "broker.expert.register", &kumppani__v1__expert_reply__descriptor,
                              s_fix_registered, e, &fixed)))
        return rc;
    kp_server_compact_soon(tx->srv);
    kp_log_notice("expert.erased", "expert=%llu offers_withdrawn=%zu assignments=%zu idem=%u",
                  (unsigned long long)e->id, withdrawn, x.asgs_n, fixed);
    return 0;
}

static int
s_unpaid_one(void *arg, void *rec)
{
    uint32_t *unpaid = arg;
    const brk_asg_t *a = rec;
    if (a->state == AS(COMPLETED) && !a->paid_ms)
        (*unpaid)++;
    return 0;
}

int
brk_expert_unpaid(kp_tx_t *tx, uint64_t expert_id, uint32_t *unpaid)
{
    *unpaid = 0;
    return brk_idx_each_rec(tx, BRK_DB_EXP_ASGS, expert_id, BRK_DB_ASGS, s_unpaid_one, unpaid);
}

void
brk_expert_erase(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ExpertRef *body = kp_tx_open(&tx, call, svc);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", body->expert_id);
    if (!e)
        return;
    uint32_t unpaid = 0;
    int rc = e->erased ? 0 : brk_expert_unpaid(&tx, e->id, &unpaid);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (unpaid) {
        kp_call_fail(call, C(CONFLICT),
                     "expert %llu has %u completed assignments not marked paid: export and pay "
                     "them first (broker.assignment.paid)",
                     (unsigned long long)e->id, unpaid);
        return;
    }
    brk_answer_expert(call, &tx, brk_expert_erase_write(&tx, e), e);
}
