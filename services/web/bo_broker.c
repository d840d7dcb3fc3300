/*  web/bo_broker.c: the back office's broker page (expert and regional coordinators): the
 *  queue of open requests (what is asked, when, where, how many experts, how many accepted,
 *  the answer deadline, the offer wave) and the assignments, over the bus with the office key;
 *  a request's offers and ranking, completion, marking completed assignments paid (one or
 *  many, by ticking them or pasting the export's ids), the payment export and the statistics
 *  for a period of Helsinki dates. A requester who is a person is shown by kind only: their
 *  name and contacts stay in the broker. */
#include "bo.h"
#include "kp_time.h"
#include "kumppani/v1/broker.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define LIST_MAX 200
#define PAID_MAX 1000 /* broker.assignment.paid's limit */
#define REF_MAX 100
/* The broker's pages are the regional and the expert coordinators'. */
#define BROKER_ROLES (BO_R(REGIONAL) | BO_R(EXPERT))

typedef struct {
    bo_account_t *acct;
    Kumppani__V1__ListBrokerRequestsReply *reqs;
    Kumppani__V1__ListBrokerRequestsReply *unfilled; /* those that still lie ahead are shown */
    /* A refused form shown again (400): its error (a text key) beside its field, what: "hours",
     * "fee" or "travel" of assignment asg's completion (control f-<what>-<asg>), "ids" or "ref"
     * of marking paid, or "from" or "to" of the payment export's period (asg 0, control
     * f-<what>). */
    const char *err, *what;
    uint64_t asg;
} brk_t;

/* "YYYY-MM-DD" of a moment in Helsinki. */
static void
s_day_text(int64_t unix_s, char out[16])
{
    char buf[32];
    kp_time_format(unix_s, buf, sizeof buf); /* "YYYY-MM-DD HH:MM" */
    snprintf(out, 16, "%.10s", buf);
}

/* A number of the page's own redirect (?marked=3), 0 when absent or not a number. */
static uint64_t
s_num(const char *s)
{
    return s && strcmp(s, "0") != 0 ? web_parse_id(s) : 0;
}

/* Whether the form sent assignment id among its ticked boxes ("assignment"). */
static bool
s_ticked(web_req_t *r, uint64_t id)
{
    for (size_t i = 0; i < r->fields_n; i++)
        if (strcmp(r->names[i], "assignment") == 0 && web_parse_id(r->values[i]) == id)
            return true;
    return false;
}

/* The period of ?from=YYYY-MM-DD&to=YYYY-MM-DD, Helsinki dates, both days included: [*from,
 * *to) in Unix seconds, 0 for an open end; *from_s and *to_s the dates as sent ("" : open). NULL
 * for a period, else the field refused ("from" or "to") with its error's text key in *err: a
 * malformed date, or "to" before "from". The end is the midnight starting the day after "to"
 * (kp_time_day_start of a moment 36 hours after its midnight, so that a day of 23 or 25 hours at
 * a clock change ends right). */
static const char *
s_period(web_req_t *r, const char **from_s, const char **to_s, int64_t *from, int64_t *to,
         const char **err)
{
    static const char *const name[2] = {"from", "to"};
    const char *d[2] = {web_query(r, "from"), web_query(r, "to")};
    int64_t v[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        if (!d[i])
            d[i] = "";
    *from_s = d[0];
    *to_s = d[1];
    for (int i = 0; i < 2; i++) {
        char buf[32], why[96];
        if (!*d[i])
            continue;
        snprintf(buf, sizeof buf, "%s 00:00", d[i]);
        if (strlen(d[i]) != 10 || d[i][4] != '-' || d[i][7] != '-' ||
            kp_time_parse_local(buf, &v[i], why, sizeof why) != 0) {
            *err = "bo_err_day";
            return name[i];
        }
    }
    if (v[1])
        v[1] = kp_time_day_start(v[1] + 36 * 3600);
    if (v[1] && v[1] <= v[0]) {
        *err = "bo_err_day_order";
        return "to";
    }
    *from = v[0];
    *to = v[1];
    return NULL;
}

/* A moment's time text under key; nothing for 0 (not set). */
static void
s_time(web_req_t *r, web_tv_t *o, const char *key, int64_t unix_s)
{
    if (unix_s)
        web_tv_time(r, o, key, unix_s);
}

/* Whether b is the payment export's period refused. */
static bool
s_export_refused(const brk_t *b)
{
    return b->err && (strcmp(b->what, "from") == 0 || strcmp(b->what, "to") == 0);
}

/* The requests of l as the rows of list name (its count name_n, no_name when none); ahead:
 * only those whose start still lies ahead (an unfilled request the coordinator can still
 * help with). */
static void
s_req_rows(web_req_t *r, web_tv_t *root, const char *name,
           const Kumppani__V1__ListBrokerRequestsReply *l, bool ahead)
{
    kp_arena_t *a = r->arena;
    web_tv_t *rl = web_tv_list(a, root, name);
    size_t n = 0;
    int64_t now_s = kp_now_ms() / 1000;
    for (size_t i = 0; l && i < l->n_requests; i++) {
        const Kumppani__V1__BrokerRequest *q = l->requests[i];
        const Kumppani__V1__BrokerRequestInput *in = q->input;
        if (!in || (ahead && in->start_unix < now_s))
            continue;
        web_tv_t *it = web_tv_item(a, rl);
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)q->id);
        web_tv_str(a, it, "title", in->title);
        web_tv_textf(r, it, "purpose", "bo_purpose_%d", (int)in->purpose);
        web_tv_textf(r, it, "requester", "bo_requester_%d", (int)in->requester_kind);
        s_time(r, it, "start", in->start_unix);
        s_time(r, it, "deadline", in->answer_deadline_unix);
        web_tv_str(a, it, "where", in->municipality[0] ? web_muni_name(r, in->municipality) : "–");
        web_tv_bool(a, it, "remote", in->remote);
        web_tv_strf(a, it, "needed", "%u", in->experts_needed);
        web_tv_strf(a, it, "accepted", "%u", q->accepted_n);
        web_tv_strf(a, it, "wave", "%u", q->wave);
        n++;
    }
    web_tv_count(a, root, name, n);
}

static void
s_asg_done(web_req_t *r, void *body)
{
    brk_t *b = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__ListAssignmentsReply *ar = body;
    web_tv_t *root = bo_root(r, b->acct, "bo_broker_title");
    if (b->err) {
        char *field = kp_arena_alloc(a, 32); /* the key of root's err.<field>: kept */
        if (field)
            snprintf(field, 32, "%s-%llu", b->what, (unsigned long long)b->asg);
        bo_field_error(r, root, b->err, b->asg && field ? field : b->what);
        if (s_export_refused(b)) { /* its dates and choice as sent */
            web_tv_str(a, root, "from", web_query(r, "from"));
            web_tv_str(a, root, "to", web_query(r, "to"));
            const char *u = web_query(r, "unpaid");
            web_tv_bool(a, root, "x_all", !u || strcmp(u, "1") != 0);
        } else if (!b->asg) { /* marking paid: the ids and reference typed */
            web_tv_t *v = web_tv_obj(a, root, "v");
            web_tv_str(a, v, "ids", web_field(r, "ids"));
            web_tv_str(a, v, "ref", web_field(r, "ref"));
        }
    }
    bool shown = !b->asg; /* the refused completion's row is on the page */
    s_req_rows(r, root, "requests", b->reqs, false);
    s_req_rows(r, root, "unfilled", b->unfilled, true);
    web_tv_t *al = web_tv_list(a, root, "assignments");
    size_t payable_n = 0;
    for (size_t i = 0; i < ar->n_assignments; i++) {
        const Kumppani__V1__Assignment *s = ar->assignments[i];
        web_tv_t *it = web_tv_item(a, al);
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)s->id);
        web_tv_strf(a, it, "request", "%llu", (unsigned long long)s->request_id);
        web_tv_strf(a, it, "expert", "%llu", (unsigned long long)s->expert_id);
        web_tv_textf(r, it, "state", "bo_asg_%d", (int)s->state);
        s_time(r, it, "start", s->start_unix);
        if (s->minutes)
            web_tv_strf(a, it, "hours", "%u.%02u", s->minutes / 60, s->minutes % 60 * 100 / 60);
        if (s->fee_cents)
            web_tv_strf(a, it, "fee", "%u,%02u €", s->fee_cents / 100, s->fee_cents % 100);
        bool open = s->state == KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_CONFIRMED;
        web_tv_bool(a, it, "open", open);
        if (open && b->asg && s->id == b->asg) { /* its completion refused: the values sent */
            web_tv_t *sent = web_tv_obj(a, it, "sent");
            web_tv_str(a, sent, "hours", web_field(r, "hours"));
            web_tv_str(a, sent, "fee", web_field(r, "fee"));
            web_tv_str(a, sent, "travel", web_field(r, "travel"));
            web_tv_str(a, web_tv_obj(a, it, "err"), b->what, web_text(r, b->err));
            shown = true;
        }
        bool completed = s->state == KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_COMPLETED;
        web_tv_bool(a, it, "payable", completed && !s->paid_ms);
        web_tv_bool(a, it, "ticked", b->err && !b->asg && s_ticked(r, s->id));
        if (completed && s->paid_ms) {
            char day[16];
            s_day_text(s->paid_ms / 1000, day);
            web_tv_str(a, it, "paid", day);
            web_tv_str(a, it, "paid_ref", s->payment_ref);
        }
        payable_n += completed && !s->paid_ms;
    }
    web_tv_bool(a, root, "any_payable", payable_n > 0);
    const char *done = web_query(r, "done");
    web_tv_bool(a, root, "completed", done && strcmp(done, "completed") == 0);
    if (done && strcmp(done, "paid") == 0) {
        web_tv_t *pd = web_tv_obj(a, root, "paid_done");
        web_tv_strf(a, pd, "marked", "%llu", (unsigned long long)s_num(web_query(r, "marked")));
        web_tv_strf(a, pd, "already", "%llu", (unsigned long long)s_num(web_query(r, "already")));
    }
    web_tv_count(a, root, "assignments", ar->n_assignments);
    if (shown)
        web_page(r, b->err ? 400 : 200, "bo_broker", root);
    else
        bo_error(r, b->acct, 400, b->err);
}

static void
s_unfilled_done(web_req_t *r, void *body)
{
    brk_t *b = r->cont_arg;
    b->unfilled = body;
    Kumppani__V1__ListAssignmentsRequest rq = KUMPPANI__V1__LIST_ASSIGNMENTS_REQUEST__INIT;
    rq.limit = LIST_MAX;
    bo_get(r, b->acct, r->svc->bus_office_broker, "broker.assignment.list", &rq.base,
           &kumppani__v1__list_assignments_reply__descriptor, NULL, s_asg_done);
}

/* A page of the broker's requests in state, then next with the reply. */
static void
s_requests(web_req_t *r, brk_t *b, Kumppani__V1__RequestState state, bo_body_cb next)
{
    Kumppani__V1__ListBrokerRequestsRequest rq = KUMPPANI__V1__LIST_BROKER_REQUESTS_REQUEST__INIT;
    rq.state = state;
    rq.limit = LIST_MAX;
    bo_get(r, b->acct, r->svc->bus_office_broker, "broker.request.list", &rq.base,
           &kumppani__v1__list_broker_requests_reply__descriptor, NULL, next);
}

static void
s_reqs_done(web_req_t *r, void *body)
{
    brk_t *b = r->cont_arg;
    b->reqs = body;
    s_requests(r, b, KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_UNFILLED, s_unfilled_done);
}

/* The broker's page for b (r's state): its open requests, the unfilled ones, assignments. */
static void
s_broker_page(web_req_t *r, brk_t *b)
{
    s_requests(r, b, KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_OPEN, s_reqs_done);
}

void
bo_pg_broker(web_req_t *r, const char *arg)
{
    (void)arg;
    brk_t *b = bo_begin(r, BROKER_ROLES, "broker.request.list", "", sizeof *b);
    if (b)
        s_broker_page(r, b);
}

/* The broker's page again (400) with a refused form's error (a text key) beside its field: what
 * of assignment asg's completion, or of marking paid (asg 0); see brk_t. */
static void
s_broker_refused(web_req_t *r, bo_account_t *a, const char *err, const char *what, uint64_t asg)
{
    brk_t *b = bo_state(r, a, sizeof *b);
    if (!b)
        return;
    b->err = err;
    b->what = what;
    b->asg = asg;
    s_broker_page(r, b);
}

/* ---- one request: its offers with their deadlines and the ranking explained ---------------- */

typedef struct {
    bo_account_t *acct;
    uint64_t id;
    Kumppani__V1__BrokerRequestReply *req;
} one_t;

static void
s_ms_time(web_req_t *r, web_tv_t *o, const char *key, int64_t ms)
{
    s_time(r, o, key, ms / 1000);
}

/* The broker's reasons why an expert is not eligible ("expertise", "already-offered") in the
 * page's language (bo_why_<reason>, '-' as '_'); a reason without a text is shown as sent. */
static void
s_reasons(web_req_t *r, web_tv_t *it, char *const *why, size_t n)
{
    web_buf_t b = {.max = 1024};
    for (size_t i = 0; i < n; i++) {
        char key[64];
        int k = snprintf(key, sizeof key, "bo_why_%s", why[i]);
        for (char *c = key; *c; c++)
            *c = *c == '-' ? '_' : *c;
        const char *t = k > 0 && (size_t)k < sizeof key ? web_text(r, key) : key;
        web_buf_adds(&b, i ? ", " : "");
        web_buf_adds(&b, strcmp(t, key) == 0 ? why[i] : t);
    }
    web_tv_str(r->arena, it, "reasons", b.p ? b.p : "–");
    web_buf_free(&b);
}

/* The ranking rule in the page's language: the broker says it in English with its one
 * setting, the weeks within which the same requester is avoided ("... within 8 weeks ...");
 * a rule worded otherwise is shown as the broker says it. */
static void
s_rule(web_req_t *r, web_tv_t *root, const char *rule)
{
    const char *w = strstr(rule, "within ");
    char *end = NULL;
    unsigned long weeks = w ? strtoul(w + 7, &end, 10) : 0;
    const char *text = web_text(r, "bo_brq_rule_text");
    const char *at = strstr(text, "{weeks}");
    if (!w || !end || strncmp(end, " weeks", 6) != 0 || !at) {
        web_tv_str(r->arena, root, "rule", rule);
        return;
    }
    web_tv_strf(r->arena, root, "rule", "%.*s%lu%s", (int)(at - text), text, weeks, at + 7);
}

static void
s_explain_done(web_req_t *r, void *body)
{
    one_t *o = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__ExplainRequestReply *ex = body;
    const Kumppani__V1__BrokerRequest *q = o->req->request;
    web_tv_t *root = bo_root(r, o->acct, "bo_brq_title");
    web_tv_strf(a, root, "id", "%llu", (unsigned long long)o->id);
    web_tv_str(a, root, "title", q && q->input ? q->input->title : "");
    if (q && q->input)
        s_time(r, root, "deadline", q->input->answer_deadline_unix);
    s_rule(r, root, ex->rule);
    if (q && q->input) { /* open, filled, unfilled or cancelled, and how many are confirmed */
        web_tv_textf(r, root, "state", "bo_rq_state_%d", (int)q->state);
        web_tv_strf(a, root, "accepted", "%u", q->accepted_n);
        web_tv_strf(a, root, "needed", "%u", q->input->experts_needed);
    }
    web_tv_t *ol = web_tv_list(a, root, "offers");
    size_t open_n = 0;
    for (size_t i = 0; i < o->req->n_offers; i++) {
        const Kumppani__V1__Offer *f = o->req->offers[i];
        web_tv_t *it = web_tv_item(a, ol);
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)f->id);
        web_tv_strf(a, it, "expert", "%llu", (unsigned long long)f->expert_id);
        web_tv_textf(r, it, "state", "bo_offer_%d", (int)f->state);
        web_tv_bool(a, it, "held",
                    f->held_ms != 0 && f->state == KUMPPANI__V1__OFFER_STATE__OFFER_STATE_OPEN);
        web_tv_strf(a, it, "wave", "%u", f->wave);
        web_tv_strf(a, it, "rank", "%u", f->rank);
        s_ms_time(r, it, "made", f->made_ms);
        s_ms_time(r, it, "deadline", f->deadline_ms);
        open_n += f->state == KUMPPANI__V1__OFFER_STATE__OFFER_STATE_OPEN;
    }
    web_tv_strf(a, root, "offers_n", "%zu", o->req->n_offers);
    web_tv_strf(a, root, "open_n", "%zu", open_n);
    web_tv_bool(a, root, "no_offers", o->req->n_offers == 0);
    web_tv_t *cl = web_tv_list(a, root, "candidates");
    for (size_t i = 0; i < ex->n_candidates; i++) {
        const Kumppani__V1__ExpertCandidate *c = ex->candidates[i];
        web_tv_t *it = web_tv_item(a, cl);
        web_tv_strf(a, it, "expert", "%llu", (unsigned long long)c->expert_id);
        if (c->rank)
            web_tv_strf(a, it, "rank", "%u", c->rank);
        else
            web_tv_str(a, it, "rank", "–");
        web_tv_str(a, it, "eligible", web_text(r, c->eligible ? "bo_yes" : "bo_no"));
        s_reasons(r, it, c->reasons, c->n_reasons);
        if (c->last_assigned_ms)
            s_ms_time(r, it, "last", c->last_assigned_ms);
        else
            web_tv_str(a, it, "last", web_text(r, "bo_never"));
        web_tv_strf(a, it, "n90", "%u", c->assignments_90d);
        web_tv_str(a, it, "same", web_text(r, c->recent_same_requester ? "bo_yes" : "bo_no"));
        if (c->offer_state) {
            web_tv_textf(r, it, "offer", "bo_offer_%d", (int)c->offer_state);
        } else
            web_tv_str(a, it, "offer", "–");
    }
    web_tv_count(a, root, "candidates", ex->n_candidates);
    web_page(r, 200, "bo_broker_request", root);
}

static void
s_req_got(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    one_t *o = r->cont_arg;
    int code = web_code(rep);
    o->req = web_body(r, rep, &kumppani__v1__broker_request_reply__descriptor);
    if (!o->req) {
        bo_missing(r, o->acct, code == C(NOT_FOUND), "err_not_found");
        return;
    }
    Kumppani__V1__BrokerRequestRef rq = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
    rq.request_id = o->id;
    bo_get(r, o->acct, r->svc->bus_office_broker, "broker.request.explain", &rq.base,
           &kumppani__v1__explain_request_reply__descriptor, NULL, s_explain_done);
}

void
bo_pg_broker_request(web_req_t *r, const char *arg)
{
    bo_account_t *a = bo_require_role(r, BROKER_ROLES, "broker.request.explain", "");
    if (!a)
        return;
    one_t *o = bo_state_id(r, a, arg, "err_not_found", sizeof *o);
    if (!o)
        return;
    Kumppani__V1__BrokerRequestRef rq = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
    rq.request_id = o->id;
    bo_call(r, a, r->svc->bus_office_broker, "broker.request.get", &rq.base, NULL, s_req_got);
}

/* ---- completing an assignment with hours and fee ---------------------------------------- */

typedef struct {
    bo_account_t *acct;
    char obj[48];
} cmp_t;

/* "1,5" or "1.25" or "2" (at most two decimals) into hundredths; false if not such. */
static bool
s_hundredths(const char *s, uint32_t max, uint32_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    int dec = -1;
    for (; *s; s++) {
        if ((*s == ',' || *s == '.') && dec < 0)
            dec = 0;
        else if (*s >= '0' && *s <= '9' && dec < 2) {
            v = v * 10 + (uint64_t)(*s - '0');
            if (dec >= 0)
                dec++;
            if (v > (uint64_t)max * 100)
                return false;
        } else
            return false;
    }
    for (int d = dec < 0 ? 0 : dec; d < 2; d++)
        v *= 10;
    if (v > (uint64_t)max * 100)
        return false;
    *out = (uint32_t)v;
    return true;
}

static void
s_complete_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    cmp_t *c = r->cont_arg;
    int code = web_code(rep);
    bo_audit(r, c->acct->id, "broker.assignment.complete", c->obj, code == C(OK) ? "ok" : "failed");
    if (code == C(OK))
        web_redirect(r, "/office/broker?done=completed#asgs");
    else if (code == C(NOT_FOUND) || code == C(CONFLICT) || code == C(INVALID))
        bo_error(r, c->acct, code == C(NOT_FOUND) ? 404 : 409, "bo_err_complete");
    else
        bo_error(r, c->acct, 503, "err_unavailable");
}

void
bo_pg_broker_complete(web_req_t *r, const char *arg)
{
    char obj[48];
    uint64_t id = web_parse_id(arg);
    snprintf(obj, sizeof obj, "assignment=%llu", (unsigned long long)id);
    bo_account_t *a = bo_require_role(r, BROKER_ROLES, "broker.assignment.complete", obj);
    if (!a)
        return;
    if (!id) {
        bo_error(r, a, 404, "err_not_found");
        return;
    }
    uint32_t hours, fee, travel = 0;
    const char *tr = web_field(r, "travel");
    /* The first field refused: the page again, its error beside it in the assignment's row. */
    const char *what = NULL, *err = NULL;
    if (!s_hundredths(web_field(r, "hours"), 24 * 30, &hours) || hours == 0) {
        what = "hours";
        err = "bo_err_hours";
    } else if (!s_hundredths(web_field(r, "fee"), 100000, &fee)) {
        what = "fee";
        err = "bo_err_fee";
    } else if (tr && *tr && !s_hundredths(tr, 100000, &travel)) {
        what = "travel";
        err = "bo_err_travel";
    }
    if (what) {
        s_broker_refused(r, a, err, what, id);
        return;
    }
    cmp_t *c = bo_state(r, a, sizeof *c);
    if (!c)
        return;
    memcpy(c->obj, obj, sizeof obj);
    Kumppani__V1__CompleteAssignmentRequest rq = KUMPPANI__V1__COMPLETE_ASSIGNMENT_REQUEST__INIT;
    rq.assignment_id = id;
    rq.minutes = (hours * 60 + 50) / 100;
    rq.fee_cents = fee;
    rq.travel_cents = travel;
    char idem[64];
    snprintf(idem, sizeof idem, "web-complete-%llu", (unsigned long long)id);
    bo_call(r, a, r->svc->bus_office_broker, "broker.assignment.complete", &rq.base, idem,
            s_complete_done);
}

/* ---- the payment export (CSV, every page of it) ----------------------------------------- */

typedef struct {
    bo_account_t *acct;
    web_buf_t csv;
    bool unpaid;
    unsigned rows;
    const char *from_s, *to_s; /* the period's dates as asked ("" : open) */
    int64_t from, to;
} exp_t;

static void s_export_page(web_req_t *r, exp_t *e, uint64_t after);

static void
s_export_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    exp_t *e = r->cont_arg;
    Kumppani__V1__AssignmentExportReply *x =
        bo_body(r, e->acct, rep, &kumppani__v1__assignment_export_reply__descriptor);
    if (!x) {
        web_buf_free(&e->csv);
        return;
    }
    const char *t = x->csv_text;
    if (e->csv.n) { /* later pages: without their header line */
        const char *nl = strchr(t, '\n');
        t = nl ? nl + 1 : "";
    }
    web_buf_adds(&e->csv, t);
    e->rows += x->rows;
    if (x->next_after_id && x->rows) {
        s_export_page(r, e, x->next_after_id);
        return;
    }
    char obj[80];
    snprintf(obj, sizeof obj, "rows=%u%s%s%.10s%s%.10s", e->rows, e->unpaid ? " unpaid" : "",
             e->from_s[0] ? " from=" : "", e->from_s, e->to_s[0] ? " to=" : "", e->to_s);
    bo_audit(r, e->acct->id, "broker.assignment.export", obj, "ok");
    bo_csv(r, &e->csv, "payments.csv");
}

static void
s_export_page(web_req_t *r, exp_t *e, uint64_t after)
{
    Kumppani__V1__AssignmentExportRequest rq = KUMPPANI__V1__ASSIGNMENT_EXPORT_REQUEST__INIT;
    rq.after_id = after;
    rq.unpaid_only = e->unpaid;
    rq.from_unix = e->from;
    rq.to_unix = e->to;
    if (!bo_call(r, e->acct, r->svc->bus_office_broker, "broker.assignment.export", &rq.base, NULL,
                 s_export_done)) {
        web_buf_free(&e->csv);
    }
}

void
bo_pg_broker_export(web_req_t *r, const char *arg)
{
    (void)arg;
    exp_t *e = bo_begin(r, BROKER_ROLES, "broker.assignment.export", "", sizeof *e);
    if (!e)
        return;
    const char *err, *refused = s_period(r, &e->from_s, &e->to_s, &e->from, &e->to, &err);
    if (refused) { /* the broker's page again, the error beside the date */
        s_broker_refused(r, e->acct, err, refused, 0);
        return;
    }
    e->csv.max = 64u << 20;
    const char *u = web_query(r, "unpaid");
    e->unpaid = u && strcmp(u, "1") == 0;
    s_export_page(r, e, 0);
}

/* ---- the broker's statistics ------------------------------------------------------------ */

typedef struct {
    bo_account_t *acct;
    const char *from_s, *to_s;
    /* A refused date: its error (a text key) and field ("from" or "to"); the statistics are
     * shown for all time with the dates sent (400). */
    const char *err, *err_field;
} bst_t;

static void
s_stats_done(web_req_t *r, void *body)
{
    bst_t *b = r->cont_arg;
    bo_account_t *acct = b->acct;
    kp_arena_t *a = r->arena;
    Kumppani__V1__BrokerStatsReply *st = body;
    web_tv_t *root = bo_root(r, acct, "bo_bst_title");
    if (b->err)
        bo_field_error(r, root, b->err, b->err_field);
    web_tv_str(a, root, "from", b->from_s);
    web_tv_str(a, root, "to", b->to_s);
    web_tv_bool(a, root, "period", !b->err && (b->from_s[0] || b->to_s[0]));
    web_tv_t *l = web_tv_list(a, root, "rows");
    struct {
        const char *key;
        uint32_t v;
    } rows[] = {{"bo_bst_filed", st->requests_filed},
                {"bo_bst_filled", st->requests_filled},
                {"bo_bst_unfilled", st->requests_unfilled},
                {"bo_bst_open", st->requests_open},
                {"bo_bst_cancelled", st->requests_cancelled},
                {"bo_bst_wg", st->working_groups},
                {"bo_bst_wg_expert", st->working_groups_with_expert},
                {"bo_bst_eligible", st->experts_eligible},
                {"bo_bst_min", st->assignments_min},
                {"bo_bst_max", st->assignments_max}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        web_tv_t *it = web_tv_item(a, l);
        web_tv_str(a, it, "what", web_text(r, rows[i].key));
        web_tv_strf(a, it, "n", "%u", rows[i].v);
    }
    web_tv_t *it = web_tv_item(a, l);
    web_tv_str(a, it, "what", web_text(r, "bo_bst_fill_median"));
    web_tv_strf(a, it, "n", "%.1f h", (double)st->fill_ms_median / 3600000.0);
    it = web_tv_item(a, l);
    web_tv_str(a, it, "what", web_text(r, "bo_bst_gini"));
    web_tv_strf(a, it, "n", "%.2f", st->gini);
    web_tv_t *pl = web_tv_list(a, root, "experts");
    for (size_t i = 0; i < st->n_per_expert; i++) {
        const Kumppani__V1__ExpertCount *x = st->per_expert[i];
        web_tv_t *e = web_tv_item(a, pl);
        web_tv_strf(a, e, "expert", "%llu", (unsigned long long)x->expert_id);
        web_tv_strf(a, e, "n", "%u", x->assignments);
        web_tv_str(a, e, "eligible", web_text(r, x->eligible ? "bo_yes" : "bo_no"));
    }
    web_tv_bool(a, root, "no_experts", st->n_per_expert == 0);
    web_page(r, b->err ? 400 : 200, "bo_broker_stats", root);
}

void
bo_pg_broker_stats(web_req_t *r, const char *arg)
{
    (void)arg;
    bst_t *b = bo_begin(r, BROKER_ROLES, "broker.stats", "", sizeof *b);
    if (!b)
        return;
    Kumppani__V1__BrokerStatsRequest rq = KUMPPANI__V1__BROKER_STATS_REQUEST__INIT;
    /* refused, the statistics of all time (rq's period left open) */
    b->err_field = s_period(r, &b->from_s, &b->to_s, &rq.from_unix, &rq.to_unix, &b->err);
    bo_get(r, b->acct, r->svc->bus_office_broker, "broker.stats", &rq.base,
           &kumppani__v1__broker_stats_reply__descriptor, NULL, s_stats_done);
}

/* ---- marking completed assignments paid ---------------------------------------------------- */

typedef struct {
    bo_account_t *acct;
    char obj[200];
} pay_t;

static void
s_paid_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    pay_t *p = r->cont_arg;
    int code = web_code(rep);
    Kumppani__V1__MarkPaidReply *mp = web_body(r, rep, &kumppani__v1__mark_paid_reply__descriptor);
    bo_audit(r, p->acct->id, "broker.assignment.paid", p->obj, mp ? "ok" : "failed");
    if (mp)
        web_redirect(r, "/office/broker?done=paid&marked=%u&already=%u#asgs", mp->marked,
                     mp->already_paid);
    else
        bo_refused_as(r, p->acct, code, "bo_err_paid", "bo_err_paid", "bo_err_paid");
}

/* Adds the ids of text ("12 13, 14;15", as pasted from the export's first column) to ids;
 * false for anything but ids and separators, or too many. */
static bool
s_paste_ids(const char *text, uint64_t *ids, size_t *n)
{
    while (text && *text) {
        size_t sep = strspn(text, " \t\r\n,;");
        text += sep;
        size_t len = strspn(text, "0123456789");
        if (!*text)
            break;
        char num[24];
        if (len == 0 || len >= sizeof num || *n == PAID_MAX)
            return false;
        memcpy(num, text, len);
        num[len] = 0;
        if (!(ids[*n] = web_parse_id(num)))
            return false;
        (*n)++;
        text += len;
    }
    return true;
}

void
bo_pg_broker_paid(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require_role(r, BROKER_ROLES, "broker.assignment.paid", "");
    if (!a)
        return;
    uint64_t *ids = kp_arena_alloc(r->arena, PAID_MAX * sizeof *ids);
    pay_t *p = kp_arena_alloc(r->arena, sizeof *p);
    if (!ids || !p) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    size_t n = 0;
    bool bad = false;
    for (size_t i = 0; !bad && i < r->fields_n; i++)
        if (strcmp(r->names[i], "assignment") == 0) {
            bad = n == PAID_MAX || !(ids[n] = web_parse_id(r->values[i]));
            n += !bad;
        }
    const char *ref = web_field(r, "ref");
    if (bad) { /* a box's own value, not a number */
        bo_error(r, a, 400, "bo_err_paid_ids");
        return;
    }
    /* What a person typed or left out: the page again, the error beside the field. */
    bool pasted = s_paste_ids(web_field(r, "ids"), ids, &n);
    if (!pasted || n == 0) {
        s_broker_refused(r, a, pasted ? "bo_err_paid_none" : "bo_err_paid_ids", "ids", 0);
        return;
    }
    if (!ref || !*ref || strlen(ref) > REF_MAX) {
        s_broker_refused(r, a, "bo_err_paid_ref", "ref", 0);
        return;
    }
    /* ids only: "assignments=3 first=12 last=14", never the payment reference's text */
    p->acct = a;
    snprintf(p->obj, sizeof p->obj, "assignments=%zu", n);
    for (size_t i = 0, len = strlen(p->obj); i < n && len + 24 < sizeof p->obj; i++)
        len += (size_t)snprintf(p->obj + len, sizeof p->obj - len, "%s%llu",
                                i ? "," : " ids=", (unsigned long long)ids[i]);
    r->cont_arg = p;
    Kumppani__V1__MarkPaidRequest rq = KUMPPANI__V1__MARK_PAID_REQUEST__INIT;
    rq.assignment_ids = ids;
    rq.n_assignment_ids = n;
    rq.payment_ref = (char *)ref;
    bo_call(r, a, r->svc->bus_office_broker, "broker.assignment.paid", &rq.base, NULL, s_paid_done);
}
