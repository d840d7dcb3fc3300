/*  expert-broker/expert.c: experts (register, update, pause, get, list), their sensitive
 *  detail and its audit.
 *
 *  An expert's record never holds the sensitive detail: that text is kept in its own table,
 *  stored only with the expert's consent, never part of an Expert record or an event, and
 *  given only to the holder of the requester token of a request the expert accepted; each
 *  such read writes an audit entry and a SensitiveDetailRead event (which names ids only),
 *  with the reader's role and the short fingerprint of the token presented (never the token,
 *  never the detail). A refused attempt on an existing assignment is audited too
 *  (SensitiveDetailRefused), in the broker's next turn: a failed call cannot write in its own
 *  (brk_svc_t.refused, written by the timer).
 *  Expert events carry no direct identifiers (s_expert_emit). Field rules are in api.c. */
#include "broker.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "kp_pbcopy.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

static void
s_org_name(kp_tx_t *tx, brk_expert_t *e)
{
    const char *name = "";
    bool found = false;
    e->home_org_name = "";
    if (brk_text_get(tx, BRK_DB_ORGS, e->profile->home_org_id, &name, &found) == 0 && found)
        e->home_org_name = (char *)name;
}

void
brk_answer_expert(kp_call_t *call, kp_tx_t *tx, int rc, brk_expert_t *e)
{
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
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
        rc = brk_text_del(tx, BRK_DB_SENSITIVE, e->id);
        e->has_sensitive_detail = false;
    } else if (detail[0]) {
        rc = brk_text_put(tx, BRK_DB_SENSITIVE, e->id, detail);
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

/* The expert to change: NULL when the call is answered (not found, or erased: CONFLICT). */
static brk_expert_t *
s_live_expert(kp_call_t *call, kp_tx_t *tx, uint64_t id)
{
    brk_expert_t *e = brk_load(tx, BRK_DB_EXPERTS, "expert_id", "expert", id);
    if (e && e->erased) {
        kp_call_fail(call, C(CONFLICT), "expert %llu is erased", (unsigned long long)e->id);
        return NULL;
    }
    return e;
}

void
brk_expert_register(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__RegisterExpertRequest *rq = kp_tx_open(&tx, call, svc);
    /* The idempotency key first (STYLE, the service loop): a retry gets its first answer even
     * when the request would no longer pass today's rules (a start now in the past). */
    if (kp_call_idem_required(call, "register") || !brk_check_expert_input(call, &tx, rq->expert))
        return;
    brk_expert_t e = KUMPPANI__V1__EXPERT__INIT;
    int rc = kp_tx_next_id(&tx, "expert", &e.id);
    e.profile = rq->expert;
    e.created_ms = e.updated_ms = tx.now_ms;
    if (!rc)
        rc = s_expert_store(&tx, &e, "ExpertRegistered");
    brk_answer_expert(call, &tx, rc, &e);
}

/* The stored profile with the fields named in the mask taken from `in` (in tx->arena), or
 * answers the call and returns NULL. */
static Kumppani__V1__ExpertInput *
s_profile_merge(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__ExpertInput *stored,
                const Kumppani__V1__ExpertInput *in, char **mask, size_t mask_n)
{
    if (!in || !stored) {
        kp_call_fail(call, C(INVALID), "field 'expert': required");
        return NULL;
    }
    const ProtobufCMessageDescriptor *d = &kumppani__v1__expert_input__descriptor;
    Kumppani__V1__ExpertInput *m = kp_arena_memdup(tx->arena, stored, sizeof *stored);
    if (!m) {
        kp_call_fail_err(call, KP_ENOMEM);
        return NULL;
    }
    for (size_t i = 0; i < mask_n; i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, mask[i]);
        bool twice = false;
        for (size_t j = 0; j < i && !twice; j++)
            twice = strcmp(mask[i], mask[j]) == 0;
        if (!f || twice) {
            kp_call_fail(call, C(INVALID), "field 'update_mask[%zu]': %s", i,
                         f ? "named twice" : "not a field of ExpertInput");
            return NULL;
        }
        kp_pbcopy_field(&m->base, &in->base, f);
    }
    return m;
}

void
brk_expert_update(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__UpdateExpertRequest *rq = kp_tx_open(&tx, call, svc);
    brk_expert_t *e = s_live_expert(call, &tx, rq->expert_id);
    if (!e)
        return;
    Kumppani__V1__ExpertInput *p = rq->expert;
    if (rq->n_update_mask && !(p = s_profile_merge(call, &tx, e->profile, rq->expert,
                                                   rq->update_mask, rq->n_update_mask)))
        return;
    if (!brk_check_expert_input(call, &tx, p))
        return;
    e->profile = p;
    e->updated_ms = tx.now_ms;
    brk_answer_expert(call, &tx, s_expert_store(&tx, e, "ExpertUpdated"), e);
}

void
brk_expert_pause(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__PauseExpertRequest *rq = kp_tx_open(&tx, call, svc);
    brk_expert_t *e = s_live_expert(call, &tx, rq->expert_id);
    if (!e)
        return;
    int rc = 0;
    if (e->paused != rq->paused) {
        e->paused = rq->paused;
        e->updated_ms = tx.now_ms;
        if (!(rc = kp_rec_put_id(&tx, BRK_DB_EXPERTS, e->id, &e->base)))
            rc = s_expert_emit(&tx, "ExpertUpdated", e);
    }
    brk_answer_expert(call, &tx, rc, e);
}

void
brk_expert_get(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ExpertRef *rq = kp_tx_open(&tx, call, svc);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (e)
        brk_answer_expert(call, &tx, 0, e);
}

void
brk_expert_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListExpertsRequest *rq = kp_tx_open(&tx, call, svc);
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

/* The short fingerprint of a requester token: the first 16 hex digits of its BLAKE2b-256
 * hash (never the token). */
static void
s_token_fp(const char *token, char out[17])
{
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)token, strlen(token), NULL, 0);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[hash[i] >> 4];
        out[2 * i + 1] = hex[hash[i] & 15];
    }
    out[16] = 0;
}

/* Queues the audit entry of a refused read for the next turn (see brk_svc_t). */
static void
s_refused(kp_call_t *call, kp_tx_t *tx, const brk_asg_t *a, const char *token, const char *why)
{
    brk_svc_t *svc = brk_svc(tx);
    kp_log_notice("sensitive.refused", "assignment=%llu role=%s why=%s", (unsigned long long)a->id,
                  kp_role_name(kp_call_role(call)), why);
    if (svc->refused_n >= BRK_REFUSALS_MAX) {
        svc->refused_dropped++;
        return;
    }
    brk_refusal_t *f = &svc->refused[svc->refused_n++];
    f->time_ms = tx->now_ms;
    f->assignment_id = a->id;
    f->expert_id = a->expert_id;
    f->request_id = a->request_id;
    snprintf(f->role, sizeof f->role, "%s", kp_role_name(kp_call_role(call)));
    s_token_fp(token, f->token_fp);
    f->refusal = why;
    brk_timer_kick(svc);
}

int
brk_refusals_write(kp_tx_t *tx)
{
    brk_svc_t *svc = brk_svc(tx);
    if (svc->refused_dropped) {
        kp_log_warn("sensitive.refused_unaudited", "n=%u", svc->refused_dropped);
        svc->refused_dropped = 0;
    }
    for (unsigned i = 0; i < svc->refused_n; i++) {
        const brk_refusal_t *f = &svc->refused[i];
        Kumppani__V1__BrokerAuditEntry au = KUMPPANI__V1__BROKER_AUDIT_ENTRY__INIT;
        int rc = kp_tx_next_id(tx, "audit", &au.id);
        if (rc)
            return rc;
        au.time_ms = f->time_ms;
        au.expert_id = f->expert_id;
        au.request_id = f->request_id;
        au.assignment_id = f->assignment_id;
        au.what = "sensitive-detail-refused";
        au.reader_role = (char *)f->role;
        au.token_fp = (char *)f->token_fp;
        au.refusal = (char *)f->refusal;
        if ((rc = kp_rec_put_id(tx, BRK_DB_AUDIT, au.id, &au.base)) ||
            (rc = brk_emit(tx, "SensitiveDetailRefused", &au.base)))
            return rc;
    }
    /* Emptied only once written into this turn: an aborted turn keeps none of it, and these
     * are gone too (logged above as sensitive.refused). */
    svc->refused_n = 0;
    return 0;
}

void
brk_sensitive_read(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__SensitiveReadRequest *body = kp_tx_open(&tx, call, svc);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (strlen(body->requester_token) != 32) {
        s_refused(call, &tx, a, body->requester_token, "token malformed");
        kp_call_fail(call, C(INVALID), "field 'requester_token': 32 hex characters required");
        return;
    }
    if (a->state != AS(CONFIRMED) && a->state != AS(COMPLETED)) {
        s_refused(call, &tx, a, body->requester_token, "assignment not confirmed or completed");
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
        s_refused(call, &tx, a, body->requester_token, "wrong token");
        kp_call_fail(call, C(FORBIDDEN),
                     "field 'requester_token': not the token of this "
                     "assignment's request");
        return;
    }
    const char *detail = NULL;
    if ((rc = brk_text_get(&tx, BRK_DB_SENSITIVE, a->expert_id, &detail, &found))) {
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
    char fp[17];
    s_token_fp(body->requester_token, fp);
    au.time_ms = tx.now_ms;
    au.expert_id = a->expert_id;
    au.request_id = a->request_id;
    au.assignment_id = a->id;
    au.what = "sensitive-detail-read";
    au.reader_role = (char *)kp_role_name(kp_call_role(call));
    au.token_fp = fp;
    if ((rc = kp_rec_put_id(&tx, BRK_DB_AUDIT, au.id, &au.base)) ||
        (rc = brk_emit(&tx, "SensitiveDetailRead", &au.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_notice("sensitive.read", "audit=%llu assignment=%llu expert=%llu role=%s",
                  (unsigned long long)au.id, (unsigned long long)a->id,
                  (unsigned long long)a->expert_id, au.reader_role);
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
    const Kumppani__V1__ListBrokerAuditRequest *body = kp_tx_open(&tx, call, svc);
    void **v;
    size_t n;
    if (!brk_page(call, &tx, BRK_DB_AUDIT, body->after_id, body->limit, 1000, 0, &v, &n))
        return;
    Kumppani__V1__ListBrokerAuditReply r = KUMPPANI__V1__LIST_BROKER_AUDIT_REPLY__INIT;
    r.entries = (Kumppani__V1__BrokerAuditEntry **)v;
    r.n_entries = n;
    kp_call_ok(call, &r.base);
}
