/*  expert-broker/request.c: requests (file, get, list, cancel, extend, explain) and how a
 *  request closes (filled, unfilled, cancelled).
 *
 *  Filing stores the request, its answer deadline in the schedule and the hash of the
 *  requester's token (the token itself is shown once, in the reply), then brk_fill makes the
 *  first wave of offers (offer.c). The log carries requests without the requester's contact
 *  person and without a private requester's name (brk_emit_request). A closed request has
 *  no open offers and no answer deadline in the schedule. */
#include "broker.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"

#include <sodium.h>
#include <stdio.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

/* The offers (at most 500) and assignments (at most 100) of request rq, in tx->arena. Returns 0
 * or a KP code. */
static int
s_links(kp_tx_t *tx, const brk_request_t *rq, void ***o, size_t *on, void ***a, size_t *an)
{
    int rc = brk_idx_load(tx, BRK_DB_REQ_OFFERS, rq->id, BRK_DB_OFFERS, 500, o, on);
    return rc ? rc : brk_idx_load(tx, BRK_DB_REQ_ASGS, rq->id, BRK_DB_ASGS, 100, a, an);
}

/* Ends the call: the error rc, or the request rq with its offers and assignments (and the
 * requester's token when filed). */
static void
s_reply_request(kp_tx_t *tx, int rc, brk_request_t *rq, const char *token)
{
    Kumppani__V1__BrokerRequestReply r = KUMPPANI__V1__BROKER_REQUEST_REPLY__INIT;
    r.request = rq;
    r.requester_token = (char *)(token ? token : "");
    void **o = NULL, **a = NULL;
    if (!rc)
        rc = s_links(tx, rq, &o, &r.n_offers, &a, &r.n_assignments);
    r.offers = (brk_offer_t **)o;
    r.assignments = (brk_asg_t **)a;
    kp_tx_answer(tx, rc, &r.base);
}

void
brk_request_file(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__FileRequestRequest *body = kp_tx_open(&tx, call, svc);
    /* The idempotency key first (STYLE, the service loop): a retry gets its first answer even
     * when the request would no longer pass today's rules (a start now in the past). */
    if (kp_call_idem_required(call, "file") || !brk_check_request_input(call, &tx, body->request))
        return;
    brk_request_t rq = KUMPPANI__V1__BROKER_REQUEST__INIT;
    int rc = kp_tx_next_id(&tx, "request", &rq.id);
    rq.input = body->request;
    rq.state = RS(OPEN);
    rq.created_ms = tx.now_ms;
    rq.cancel_reason = "";
    /* The requester's token: shown once, stored only as a hash. */
    unsigned char raw[16], hash[32];
    char token[33];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    crypto_generichash(hash, sizeof hash, (unsigned char *)token, 32, NULL, 0);
    if (!rc && !(rc = kp_rec_put_id(&tx, BRK_DB_REQUESTS, rq.id, &rq.base)) &&
        !(rc = brk_token_put(&tx, rq.id, hash)) &&
        !(rc = brk_due_put(&tx, rq.input->answer_deadline_unix * 1000, BRK_DUE_ANSWER, rq.id)) &&
        !(rc = brk_emit_request(&tx, "RequestFiled", &rq)) && !(rc = brk_fill(&tx, &rq)))
        kp_log_info("request.filed", "request=%llu purpose=%d needed=%u wave=%u",
                    (unsigned long long)rq.id, rq.input->purpose, rq.input->experts_needed,
                    rq.wave);
    s_reply_request(&tx, rc, &rq, token);
}

void
brk_request_get(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__BrokerRequestRef *rq = kp_tx_open(&tx, call, svc);
    brk_request_t *r = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", rq->request_id);
    if (r)
        s_reply_request(&tx, 0, r, NULL);
}

void
brk_request_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListBrokerRequestsRequest *rq = kp_tx_open(&tx, call, svc);
    if (rq->state < 0 || rq->state > RS(CANCELLED)) {
        kp_call_fail(call, C(INVALID), "field 'state': one of the RequestState values");
        return;
    }
    void **v;
    size_t n;
    if (!brk_page(call, &tx, BRK_DB_REQUESTS, rq->after_id, rq->limit, 500, rq->state, &v, &n))
        return;
    Kumppani__V1__ListBrokerRequestsReply r = KUMPPANI__V1__LIST_BROKER_REQUESTS_REPLY__INIT;
    r.requests = (brk_request_t **)v;
    r.n_requests = n;
    kp_call_ok(call, &r.base);
}

void
brk_request_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__CancelBrokerRequestRequest *body = kp_tx_open(&tx, call, svc);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq || !kp_check_text(call, "reason", body->reason, 1, 500))
        return;
    if (rq->state == RS(CANCELLED)) {
        s_reply_request(&tx, 0, rq, NULL);
        return;
    }
    if (rq->state != RS(OPEN) && rq->state != RS(FILLED)) {
        kp_call_fail(call, C(CONFLICT),
                     "request is unfilled; only an open or filled one can be "
                     "cancelled");
        return;
    }
    uint64_t ids[64];
    size_t ids_n;
    int rc = brk_idx_ids(&tx, BRK_DB_REQ_ASGS, rq->id, ids, 64, &ids_n);
    for (size_t i = 0; !rc && i < ids_n; i++) {
        brk_asg_t *a = brk_get(&tx, BRK_DB_ASGS, ids[i], &rc);
        if (!rc && a && a->state == AS(CONFIRMED))
            rc = brk_asg_cancel_write(&tx, a, "requester", body->reason, false);
    }
    rq->state = RS(OPEN); /* so that brk_request_close withdraws what is open */
    rq->cancel_reason = body->reason;
    if (!rc)
        rc = brk_request_close(&tx, rq, RS(CANCELLED), "RequestCancelled");
    s_reply_request(&tx, rc, rq, NULL);
}

void
brk_request_extend(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ExtendBrokerRequestRequest *body = kp_tx_open(&tx, call, svc);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq)
        return;
    int64_t ans = body->answer_deadline_unix;
    if (ans <= tx.now_ms / 1000) {
        kp_call_fail(call, C(INVALID), "field 'answer_deadline_unix': must be in the future");
        return;
    }
    if (ans > rq->input->start_unix) {
        kp_call_fail(call, C(INVALID), "field 'answer_deadline_unix': not after the start");
        return;
    }
    if (rq->state != RS(OPEN) && rq->state != RS(UNFILLED)) {
        kp_call_fail(call, C(CONFLICT),
                     "request %llu is filled or cancelled; only an open or "
                     "unfilled one can be extended",
                     (unsigned long long)rq->id);
        return;
    }
    bool reopen = rq->state == RS(UNFILLED);
    int rc = 0;
    if (!reopen)
        rc = brk_due_del(&tx, rq->input->answer_deadline_unix * 1000, BRK_DUE_ANSWER, rq->id);
    rq->input->answer_deadline_unix = ans;
    rq->state = RS(OPEN);
    rq->closed_ms = 0;
    if (!rc && !(rc = brk_due_put(&tx, ans * 1000, BRK_DUE_ANSWER, rq->id)) &&
        !(rc = kp_rec_put_id(&tx, BRK_DB_REQUESTS, rq->id, &rq->base)) &&
        !(rc = brk_emit_request(&tx, reopen ? "RequestReopened" : "RequestUpdated", rq)) &&
        !(rc = brk_fill(&tx, rq)))
        kp_log_info("request.extended", "request=%llu reopened=%d state=%d",
                    (unsigned long long)rq->id, reopen, (int)rq->state);
    s_reply_request(&tx, rc, rq, NULL);
}

void
brk_request_explain(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__BrokerRequestRef *body = kp_tx_open(&tx, call, svc);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq)
        return;
    Kumppani__V1__ExplainRequestReply r = KUMPPANI__V1__EXPLAIN_REQUEST_REPLY__INIT;
    int rc = brk_explain(&tx, rq, &r.candidates, &r.n_candidates);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.request_id = rq->id;
    char *rule = kp_arena_alloc(tx.arena, 400);
    if (rule)
        snprintf(rule, 400,
                 "eligible: consent, not paused, expertise, language, area or remote, "
                 "availability, no blocked date, under the monthly cap, no earlier offer; "
                 "ranked: no assignment with the same requester within %u weeks first, then "
                 "the longest wait since the last assignment, then fewer assignments in 90 "
                 "days, then the lower expert id",
                 brk_svc(&tx)->no_repeat_weeks);
    r.rule = rule ? rule : "";
    kp_call_ok(call, &r.base);
}

/* The request as the log carries it: without the requester's contact person, and without the
 * requester's name when the requester is a private person (the log is replayed to every
 * service and reader key; the record itself is asked with broker.request.get). */
int
brk_emit_request(kp_tx_t *tx, const char *type, brk_request_t *rq)
{
    Kumppani__V1__BrokerRequestReply r = KUMPPANI__V1__BROKER_REQUEST_REPLY__INIT;
    brk_request_t pub = *rq;
    Kumppani__V1__BrokerRequestInput in;
    if (rq->input) {
        in = *rq->input;
        brk_requester_clear(&in);
        pub.input = &in;
    }
    r.request = &pub;
    return brk_emit(tx, type, &r.base);
}

int
brk_request_close(kp_tx_t *tx, brk_request_t *rq, Kumppani__V1__RequestState state,
                  const char *type)
{
    int rc;
    if ((rc = brk_offers_withdraw(tx, rq)))
        return rc;
    rq->state = state;
    if (state == RS(FILLED))
        rq->filled_ms = tx->now_ms;
    else
        rq->closed_ms = tx->now_ms;
    if ((rc = brk_due_del(tx, rq->input->answer_deadline_unix * 1000, BRK_DUE_ANSWER, rq->id)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base)) ||
        (rc = brk_emit_request(tx, type, rq)))
        return rc;
    kp_log_info("request.closed", "request=%llu state=%d accepted=%u", (unsigned long long)rq->id,
                (int)state, rq->accepted_n);
    return 0;
}

/* ---- personal links ---------------------------------------------------------------------- */

/* broker.request.view: the requester's page (RequestView): the request's public facts, how
 * many offers are out, and the experts only once confirmed. */
void
brk_request_view(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__BrokerRequestRef *ref = kp_tx_open(&tx, call, svc);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", ref->request_id);
    if (!rq)
        return;
    Kumppani__V1__RequestView v = KUMPPANI__V1__REQUEST_VIEW__INIT;
    brk_request_t pub = *rq;
    pub.cancel_reason = "";
    if (!(pub.input = brk_request_public(&tx, rq->input))) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    v.request = &pub;
    void **o, **a;
    size_t on, an;
    int rc = s_links(&tx, rq, &o, &on, &a, &an);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    for (size_t i = 0; i < on; i++)
        v.offers_open +=
            ((brk_offer_t *)o[i])->state == KUMPPANI__V1__OFFER_STATE__OFFER_STATE_OPEN;
    Kumppani__V1__ConfirmedExpert *ce = kp_arena_alloc(tx.arena, (an + 1) * sizeof *ce);
    v.experts = kp_arena_alloc(tx.arena, (an + 1) * sizeof *v.experts);
    if (!ce || !v.experts) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < an; i++) {
        brk_asg_t *as = a[i];
        if (as->state != AS(CONFIRMED) && as->state != AS(COMPLETED))
            continue;
        brk_expert_t *e = brk_get(&tx, BRK_DB_EXPERTS, as->expert_id, &rc);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
        Kumppani__V1__ConfirmedExpert *x = &ce[v.n_experts];
        kumppani__v1__confirmed_expert__init(x);
        x->assignment_id = as->id;
        x->state = as->state;
        if (e && !e->erased && e->profile) {
            x->name = e->profile->name;
            x->email = e->profile->email;
            x->phone = e->profile->phone;
        }
        v.experts[v.n_experts++] = x;
    }
    kp_call_ok(call, &v.base);
}
