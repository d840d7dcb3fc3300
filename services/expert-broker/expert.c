/*  expert-broker/expert.c: experts (register, update, pause, get, list), their sensitive
 *  detail and its audit.
 *
 *  An expert's record never holds the sensitive detail: that text is kept in its own table,
 *  stored only with the expert's consent, never part of an Expert record or an event, and
 *  given only to the holder of the requester token of a request the expert accepted; each
 *  such read writes an audit entry and a SensitiveDetailRead event (which names ids only).
 *  Expert events carry no direct identifiers (s_expert_emit). Field rules are in api.c. */
#include "broker.h"
#include "kp_err.h"
#include "kp_log.h"

#include <sodium.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

static void
s_org_name(kp_tx_t *tx, brk_expert_t *e)
{
    const char *name = "";
    bool found = false;
    e->home_org_name = "";
    if (brk_org_get(tx, e->profile->home_org_id, &name, &found) == 0 && found)
        e->home_org_name = (char *)name;
}

void
brk_reply_expert(kp_call_t *call, kp_tx_t *tx, brk_expert_t *e)
{
    s_org_name(tx, e);
    Kumppani__V1__ExpertReply r = KUMPPANI__V1__EXPERT_REPLY__INIT;
    r.expert = e;
    kp_call_ok(call, &r.base);
}

/* Emits an expert event without direct identifiers: the log is kept for ever and replayed to
 * other services, so name, e-mail, phone and trainings stay in the expert's record only (which
 * erasure empties). */
static int
s_expert_emit(kp_tx_t *tx, const char *type, const brk_expert_t *e)
{
    brk_expert_t x = *e;
    Kumppani__V1__ExpertInput p = *e->profile;
    p.name = p.email = p.phone = p.sensitive_detail_text = "";
    p.trainings = NULL;
    p.n_trainings = 0;
    x.profile = &p;
    x.home_org_name = "";
    Kumppani__V1__ExpertReply r = KUMPPANI__V1__EXPERT_REPLY__INIT;
    r.expert = &x;
    return brk_emit(tx, type, &r.base);
}

/* Writes the expert and its sensitive detail; the profile kept has no sensitive text. */
static int
s_expert_store(kp_tx_t *tx, brk_expert_t *e, const char *type)
{
    Kumppani__V1__ExpertInput *p = e->profile;
    const char *detail = p->sensitive_detail_text;
    int rc = 0;
    if (!p->sensitive_consent) {
        rc = brk_sensitive_del(tx, e->id);
        e->has_sensitive_detail = false;
    } else if (detail[0]) {
        rc = brk_sensitive_put(tx, e->id, detail);
        e->has_sensitive_detail = true;
    }
    p->sensitive_detail_text = "";
    e->home_org_name = "";
    if (rc || (rc = kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
        (rc = s_expert_emit(tx, type, e)))
        return rc;
    kp_log_info("expert.stored", "expert=%llu type=%s", (unsigned long long)e->id, type);
    return 0;
}

static bool
s_not_erased(kp_call_t *call, const brk_expert_t *e)
{
    if (e->erased) {
        kp_call_fail(call, C(CONFLICT), "expert %llu is erased", (unsigned long long)e->id);
        return false;
    }
    return true;
}

void
brk_expert_register(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__RegisterExpertRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for register");
        return;
    }
    /* The idempotency key first (STYLE, the service loop): a retry gets its first answer even
     * when the request would no longer pass today's rules (a start now in the past). */
    if (kp_call_idem(call, key, klen) || !brk_check_expert_input(call, &tx, rq->expert))
        return;
    brk_expert_t e = KUMPPANI__V1__EXPERT__INIT;
    int rc = kp_tx_next_id(&tx, "expert", &e.id);
    e.profile = rq->expert;
    e.created_ms = e.updated_ms = tx.now_ms;
    if (rc || (rc = s_expert_store(&tx, &e, "ExpertRegistered"))) {
        kp_call_fail_err(call, rc);
        return;
    }
    brk_reply_expert(call, &tx, &e);
}

void
brk_expert_update(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__UpdateExpertRequest *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (!e || !s_not_erased(call, e) || !brk_check_expert_input(call, &tx, rq->expert))
        return;
    e->profile = rq->expert;
    e->updated_ms = tx.now_ms;
    int rc = s_expert_store(&tx, e, "ExpertUpdated");
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    brk_reply_expert(call, &tx, e);
}

void
brk_expert_pause(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__PauseExpertRequest *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (!e || !s_not_erased(call, e))
        return;
    if (e->paused != rq->paused) {
        e->paused = rq->paused;
        e->updated_ms = tx.now_ms;
        int rc;
        if ((rc = kp_rec_put_id(&tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
            (rc = s_expert_emit(&tx, "ExpertUpdated", e))) {
            kp_call_fail_err(call, rc);
            return;
        }
    }
    brk_reply_expert(call, &tx, e);
}

void
brk_expert_get(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ExpertRef *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (e)
        brk_reply_expert(call, &tx, e);
}

void
brk_expert_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListExpertsRequest *rq = kp_call_body(call);
    void **v;
    size_t n;
    if (!brk_page(call, &tx, BRK_DB_EXPERTS, rq->after_id, rq->limit, 500, 0, &v, &n))
        return;
    for (size_t i = 0; i < n; i++)
        s_org_name(&tx, v[i]);
    Kumppani__V1__ListExpertsReply r = KUMPPANI__V1__LIST_EXPERTS_REPLY__INIT;
    r.experts = (brk_expert_t **)v;
    r.n_experts = n;
    kp_call_ok(call, &r.base);
}

void
brk_sensitive_read(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__SensitiveReadRequest *body = kp_call_body(call);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (strlen(body->requester_token) != 32) {
        kp_call_fail(call, C(INVALID), "field 'requester_token': 32 hex characters required");
        return;
    }
    if (a->state != AS(CONFIRMED) && a->state != AS(COMPLETED)) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu is not confirmed or completed",
                     (unsigned long long)a->id);
        return;
    }
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)body->requester_token, 32, NULL,
                       0);
    bool match = false, found = false;
    int rc = brk_token_check(&tx, a->request_id, hash, &match);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!match) {
        kp_log_notice("sensitive.refused", "assignment=%llu", (unsigned long long)a->id);
        kp_call_fail(call, C(FORBIDDEN),
                     "field 'requester_token': not the token of this "
                     "assignment's request");
        return;
    }
    const char *detail = NULL;
    if ((rc = brk_sensitive_get(&tx, a->expert_id, &detail, &found))) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "expert %llu has no sensitive detail stored",
                     (unsigned long long)a->expert_id);
        return;
    }
    Kumppani__V1__BrokerAuditEntry au = KUMPPANI__V1__BROKER_AUDIT_ENTRY__INIT;
    if (!detail || (rc = kp_tx_next_id(&tx, "audit", &au.id))) {
        kp_call_fail_err(call, detail ? rc : KP_ENOMEM);
        return;
    }
    au.time_ms = tx.now_ms;
    au.expert_id = a->expert_id;
    au.request_id = a->request_id;
    au.assignment_id = a->id;
    au.what = "sensitive-detail-read";
    if ((rc = kp_rec_put_id(&tx, BRK_DB_AUDIT, au.id, &au.base)) ||
        (rc = brk_emit(&tx, "SensitiveDetailRead", &au.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_notice("sensitive.read", "audit=%llu assignment=%llu expert=%llu",
                  (unsigned long long)au.id, (unsigned long long)a->id,
                  (unsigned long long)a->expert_id);
    Kumppani__V1__SensitiveReadReply r = KUMPPANI__V1__SENSITIVE_READ_REPLY__INIT;
    r.expert_id = a->expert_id;
    r.sensitive_detail_text = (char *)detail;
    r.audit_id = au.id;
    kp_call_ok(call, &r.base);
}

void
brk_audit_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListBrokerAuditRequest *body = kp_call_body(call);
    void **v;
    size_t n;
    if (!brk_page(call, &tx, BRK_DB_AUDIT, body->after_id, body->limit, 1000, 0, &v, &n))
        return;
    Kumppani__V1__ListBrokerAuditReply r = KUMPPANI__V1__LIST_BROKER_AUDIT_REPLY__INIT;
    r.entries = (Kumppani__V1__BrokerAuditEntry **)v;
    r.n_entries = n;
    kp_call_ok(call, &r.base);
}
