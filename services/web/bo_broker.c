/*  web/bo_broker.c: the back office's broker page (expert and regional coordinators): the
 *  queue of open requests (what is asked, when, where, how many experts, how many accepted,
 *  the answer deadline, the offer wave) and the assignments, read-only, over the bus with the
 *  office key. A requester who is a person is shown by kind only: their name and contacts
 *  stay in the broker. */
#include "bo.h"
#include "kumppani/v1/broker.pb-c.h"

#include <stdio.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define LIST_MAX 200

typedef struct {
    bo_account_t *acct;
    Kumppani__V1__ListBrokerRequestsReply *reqs;
} brk_t;

static void
s_time(web_req_t *r, web_tv_t *o, const char *key, int64_t unix_s)
{
    char buf[128];
    if (!unix_s)
        return;
    web_time_text(r, unix_s, buf, sizeof buf);
    web_tv_str(r->arena, o, key, buf);
}

static void
s_asg_done(void *arg, const Kumppani__V1__Reply *rep)
{
    web_req_t *r = arg;
    brk_t *b = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__ListAssignmentsReply *ar = NULL;
    if (bo_code(rep) == C(OK))
        ar = kumppani__v1__list_assignments_reply__unpack(kp_arena_pbc(a), rep->body.len,
                                                          rep->body.data);
    if (!ar) {
        bo_error(r, b->acct, 503, "err_unavailable");
        bo_finish(r);
        return;
    }
    web_tv_t *root = bo_root(r, b->acct, "bo_broker_title");
    web_tv_t *rl = web_tv_list(a, root, "requests");
    for (size_t i = 0; i < b->reqs->n_requests; i++) {
        const Kumppani__V1__BrokerRequest *q = b->reqs->requests[i];
        const Kumppani__V1__BrokerRequestInput *in = q->input;
        if (!in)
            continue;
        web_tv_t *it = web_tv_item(a, rl);
        char key[32];
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)q->id);
        web_tv_str(a, it, "title", in->title);
        snprintf(key, sizeof key, "bo_purpose_%d", (int)in->purpose);
        web_tv_str(a, it, "purpose", web_text(r, key));
        snprintf(key, sizeof key, "bo_requester_%d", (int)in->requester_kind);
        web_tv_str(a, it, "requester", web_text(r, key));
        s_time(r, it, "start", in->start_unix);
        s_time(r, it, "deadline", in->answer_deadline_unix);
        web_tv_str(a, it, "where", in->municipality[0] ? in->municipality : "–");
        web_tv_bool(a, it, "remote", in->remote);
        web_tv_strf(a, it, "needed", "%u", in->experts_needed);
        web_tv_strf(a, it, "accepted", "%u", q->accepted_n);
        web_tv_strf(a, it, "wave", "%u", q->wave);
    }
    web_tv_strf(a, root, "requests_n", "%zu", b->reqs->n_requests);
    web_tv_bool(a, root, "no_requests", b->reqs->n_requests == 0);
    web_tv_t *al = web_tv_list(a, root, "assignments");
    for (size_t i = 0; i < ar->n_assignments; i++) {
        const Kumppani__V1__Assignment *s = ar->assignments[i];
        web_tv_t *it = web_tv_item(a, al);
        char key[32];
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)s->id);
        web_tv_strf(a, it, "request", "%llu", (unsigned long long)s->request_id);
        web_tv_strf(a, it, "expert", "%llu", (unsigned long long)s->expert_id);
        snprintf(key, sizeof key, "bo_asg_%d", (int)s->state);
        web_tv_str(a, it, "state", web_text(r, key));
        s_time(r, it, "start", s->start_unix);
        if (s->minutes)
            web_tv_strf(a, it, "hours", "%u.%02u", s->minutes / 60, s->minutes % 60 * 100 / 60);
        if (s->fee_cents)
            web_tv_strf(a, it, "fee", "%u,%02u €", s->fee_cents / 100, s->fee_cents % 100);
    }
    web_tv_strf(a, root, "assignments_n", "%zu", ar->n_assignments);
    web_tv_bool(a, root, "no_assignments", ar->n_assignments == 0);
    web_page(r, 200, "bo_broker", root);
    bo_finish(r);
}

static void
s_reqs_done(void *arg, const Kumppani__V1__Reply *rep)
{
    web_req_t *r = arg;
    brk_t *b = r->cont_arg;
    if (bo_code(rep) == C(OK))
        b->reqs = kumppani__v1__list_broker_requests_reply__unpack(kp_arena_pbc(r->arena),
                                                                   rep->body.len, rep->body.data);
    if (!b->reqs) {
        bo_error(r, b->acct, 503, "err_unavailable");
        bo_finish(r);
        return;
    }
    Kumppani__V1__ListAssignmentsRequest rq = KUMPPANI__V1__LIST_ASSIGNMENTS_REQUEST__INIT;
    rq.limit = LIST_MAX;
    if (!bo_call(r, b->acct, r->svc->bus_office_broker, "broker.assignment.list", &rq.base, NULL,
                 s_asg_done))
        bo_finish(r);
}

void
bo_pg_broker(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    if (!bo_role_ok(a, BO_R(REGIONAL) | BO_R(EXPERT))) {
        bo_forbidden(r, a, "broker.request.list", "");
        return;
    }
    brk_t *b = kp_arena_alloc(r->arena, sizeof *b);
    if (!b) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    memset(b, 0, sizeof *b);
    b->acct = a;
    r->cont_arg = b;
    Kumppani__V1__ListBrokerRequestsRequest rq = KUMPPANI__V1__LIST_BROKER_REQUESTS_REQUEST__INIT;
    rq.state = KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_OPEN;
    rq.limit = LIST_MAX;
    bo_call(r, a, r->svc->bus_office_broker, "broker.request.list", &rq.base, NULL, s_reqs_done);
}
