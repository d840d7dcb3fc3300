/*  expert-broker/assignment.c: assignments (cancel, complete, feedback, list).
 *
 *  An assignment is confirmed when its offer is accepted (offer.c); it is completed after its
 *  start with hours and fees, and each side may give feedback once. Cancelling a confirmed one
 *  reopens its request while the answer deadline allows (or reports it unfilled), and the
 *  expert's last-assignment time, which ranks them (match.c), counts only confirmed and
 *  completed assignments. */
#include "broker.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"

#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

/* Ends the call: the error rc, or the assignment a. */
static void
s_answer_asg(kp_tx_t *tx, int rc, brk_asg_t *a)
{
    Kumppani__V1__AssignmentReply r = KUMPPANI__V1__ASSIGNMENT_REPLY__INIT;
    r.assignment = a;
    kp_tx_answer(tx, rc, &r.base);
}

/* True if assignment a is in state st (named what); otherwise answers CODE_CONFLICT. */
static bool
s_asg_in(kp_call_t *call, const brk_asg_t *a, Kumppani__V1__AssignmentState st, const char *what)
{
    if (a->state == st)
        return true;
    kp_call_fail(call, C(CONFLICT), "assignment %llu is not %s", (unsigned long long)a->id, what);
    return false;
}

static int
s_last_one(void *arg, void *rec)
{
    int64_t *last = arg;
    const brk_asg_t *a = rec;
    if ((a->state == AS(CONFIRMED) || a->state == AS(COMPLETED)) && a->confirmed_ms > *last)
        *last = a->confirmed_ms;
    return 0;
}

/* Fairness: an expert's last-assignment time is that of their latest confirmed or completed
 * assignment, so a cancelled one does not count as having been assigned. */
static int
s_expert_relast(kp_tx_t *tx, uint64_t expert_id)
{
    int rc;
    brk_expert_t *e = brk_get(tx, BRK_DB_EXPERTS, expert_id, &rc);
    if (rc || !e)
        return rc ? rc : KP_ECORRUPT;
    int64_t last = 0;
    if ((rc = brk_idx_each_rec(tx, BRK_DB_EXP_ASGS, expert_id, BRK_DB_ASGS, s_last_one, &last)))
        return rc;
    if (last == e->last_assigned_ms)
        return 0;
    e->last_assigned_ms = last;
    return kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base);
}

/* Cancels a confirmed assignment (by either side or the coordinator); with reopen the request
 * looks for someone else while there is time (without: the request itself is being
 * cancelled). */
int
brk_asg_cancel_write(kp_tx_t *tx, brk_asg_t *a, const char *by, const char *reason, bool reopen)
{
    int rc;
    a->state = AS(CANCELLED);
    a->cancelled_ms = tx->now_ms;
    a->cancelled_by = (char *)by;
    a->cancel_reason = (char *)reason;
    if ((rc = kp_rec_put_id(tx, BRK_DB_ASGS, a->id, &a->base)) ||
        (rc = s_expert_relast(tx, a->expert_id)) ||
        (rc = brk_emit(tx, "AssignmentCancelled", &a->base)))
        return rc;
    brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, a->request_id, &rc);
    if (rc || !rq)
        return rc ? rc : KP_ECORRUPT;
    if (rq->accepted_n)
        rq->accepted_n--;
    int64_t ans_ms = rq->input->answer_deadline_unix * 1000;
    if (rq->state == RS(FILLED) && ans_ms > tx->now_ms && reopen) {
        rq->state = RS(OPEN);
        rq->filled_ms = 0;
        if ((rc = brk_due_put(tx, ans_ms, BRK_DUE_ANSWER, rq->id)))
            return rc;
    } else if (rq->state == RS(FILLED) && reopen) {
        /* Past the answer deadline nobody new is asked: the coordinator hears of it. */
        rq->state = RS(UNFILLED);
        rq->closed_ms = tx->now_ms;
        if ((rc = brk_emit_request(tx, "RequestUnfilled", rq)))
            return rc;
    }
    if ((rc = kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base)))
        return rc;
    kp_log_info("assignment.cancelled", "assignment=%llu request=%llu", (unsigned long long)a->id,
                (unsigned long long)rq->id);
    return reopen ? brk_fill(tx, rq) : 0;
}

void
brk_asg_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__CancelAssignmentRequest *body = kp_tx_open(&tx, call, svc);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (strcmp(body->by, "expert") && strcmp(body->by, "requester") &&
        strcmp(body->by, "coordinator")) {
        kp_call_fail(call, C(INVALID), "field 'by': expert, requester or coordinator");
        return;
    }
    if (!kp_check_text(call, "reason", body->reason, 1, 500) ||
        !s_asg_in(call, a, AS(CONFIRMED), "confirmed"))
        return;
    s_answer_asg(&tx, brk_asg_cancel_write(&tx, a, body->by, body->reason, true), a);
}

void
brk_asg_complete(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__CompleteAssignmentRequest *body = kp_tx_open(&tx, call, svc);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (body->minutes < 1 || body->minutes > 7 * 24 * 60) {
        kp_call_fail(call, C(INVALID), "field 'minutes': 1..10080");
        return;
    }
    if (body->fee_cents > 10000000 || body->travel_cents > 10000000) {
        kp_call_fail(call, C(INVALID), "field 'fee_cents': at most 100000 euro (also travel)");
        return;
    }
    if (!s_asg_in(call, a, AS(CONFIRMED), "confirmed"))
        return;
    if (a->start_unix * 1000 > tx.now_ms) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu has not started yet",
                     (unsigned long long)a->id);
        return;
    }
    brk_request_t *rq = brk_load_ref(&tx, a->request_id);
    if (!rq)
        return;
    int rc;
    a->state = AS(COMPLETED);
    a->completed_ms = tx.now_ms;
    a->minutes = body->minutes;
    a->fee_cents = body->fee_cents ? body->fee_cents : rq->input->fee_cents;
    a->travel_cents = body->travel_cents ? body->travel_cents : rq->input->travel_cents;
    if (!(rc = kp_rec_put_id(&tx, BRK_DB_ASGS, a->id, &a->base)) &&
        !(rc = brk_emit(&tx, "AssignmentCompleted", &a->base)))
        kp_log_info("assignment.completed", "assignment=%llu", (unsigned long long)a->id);
    s_answer_asg(&tx, rc, a);
}

void
brk_asg_feedback(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__AssignmentFeedbackRequest *body = kp_tx_open(&tx, call, svc);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    bool expert = strcmp(body->side, "expert") == 0;
    if (!expert && strcmp(body->side, "requester")) {
        kp_call_fail(call, C(INVALID), "field 'side': expert or requester");
        return;
    }
    if (body->rating < 1 || body->rating > 5) {
        kp_call_fail(call, C(INVALID), "field 'rating': 1..5");
        return;
    }
    if (!kp_check_text(call, "comment_text", body->comment_text, 0, 2000) ||
        !s_asg_in(call, a, AS(COMPLETED), "completed"))
        return;
    Kumppani__V1__AssignmentFeedback **slot = expert ? &a->expert_feedback : &a->requester_feedback;
    if (*slot) {
        kp_call_fail(call, C(CONFLICT), "the %s has already given feedback", body->side);
        return;
    }
    Kumppani__V1__AssignmentFeedback f = KUMPPANI__V1__ASSIGNMENT_FEEDBACK__INIT;
    f.rating = body->rating;
    f.comment_text = body->comment_text;
    f.given_ms = tx.now_ms;
    *slot = &f;
    int rc = kp_rec_put_id(&tx, BRK_DB_ASGS, a->id, &a->base);
    if (!rc)
        rc = brk_emit(&tx, "FeedbackGiven", &a->base);
    s_answer_asg(&tx, rc, a);
}

void
brk_asg_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListAssignmentsRequest *body = kp_tx_open(&tx, call, svc);
    Kumppani__V1__ListAssignmentsReply r = KUMPPANI__V1__LIST_ASSIGNMENTS_REPLY__INIT;
    uint32_t limit = kp_check_limit(call, body->limit, 100, 500);
    if (!limit)
        return;
    if (body->expert_id) {
        if (!brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", body->expert_id))
            return;
        void **v;
        size_t n;
        int rc = brk_idx_load(&tx, BRK_DB_EXP_ASGS, body->expert_id, BRK_DB_ASGS, 500, &v, &n);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (((brk_asg_t *)v[i])->id > body->after_id && k < limit)
                v[k++] = v[i];
        r.assignments = (brk_asg_t **)v;
        r.n_assignments = k;
    } else {
        void **v;
        if (!brk_page(call, &tx, BRK_DB_ASGS, body->after_id, limit, 500, 0, &v, &r.n_assignments))
            return;
        r.assignments = (brk_asg_t **)v;
    }
    kp_call_ok(call, &r.base);
}
