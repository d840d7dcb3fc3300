/*  web/links.c: the expert's offer page (/x/<token>) and the requester's page (/r/<token>).
 *
 *  Both are personal links (kp_link, made by the notifier for its mails): /x/ names an offer
 *  (id) and its request (ref), /r/ a request. The pages ask the broker over the bus with the
 *  web's selfservice key, which may only see one offer's or one request's public facts and
 *  answer one offer by id (broker.offer.view, broker.request.view, broker.offer.accept,
 *  broker.offer.decline), so a web that is broken into cannot list experts or requesters.
 *
 *  The expert sees what, when (Helsinki time), where, the fee and the deadline, nothing about
 *  the requester; Accept and Decline are POST forms with the CSRF token, answered 303 to the
 *  page with ?done=<answer> (Post/Redirect/Get), which then says what was done if the offer
 *  shows it. An accepted offer may be held until its wave is decided by rank (broker
 *  offer.c); the page says so. The requester sees the state (filed, offers out, confirmed,
 *  unfilled, cancelled) and, once an expert is confirmed, the expert's name and contact;
 *  nothing can be changed there. A link whose record is gone gets a clear 410 page; logs carry
 *  route names and ids, never a token. */
#include "kp_log.h"
#include "kp_time.h"
#include "kumppani/v1/broker.pb-c.h"
#include "web.h"

#include <stdio.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x

typedef struct {
    web_link_t k;        /* first: web_link_state */
    const char *notice;  /* a text key: what was just done */
    const char *general; /* a text key: why it was not done */
} xreq_t;

static xreq_t *
s_begin(web_req_t *r, const char *token, unsigned purpose)
{
    xreq_t *c = web_link_state(r, token, purpose, sizeof *c);
    if (!c)
        return NULL;
    if (!r->svc->bus_broker) {
        web_error(r, 503, "err_unavailable");
        return NULL;
    }
    return c;
}

/* Asks the broker; r answers 503 when the call cannot go. */
static void
s_call(web_req_t *r, const char *method, const ProtobufCMessage *body, web_bus_cb cb)
{
    if (!web_call(r, r->svc->bus_broker, method, body, NULL, cb)) {
        web_error(r, 503, "err_unavailable");
    }
}

/* A page's record did not come: gone (the clear 410 page), or the broker did not answer (503,
 * logged as event with the link's id under name). */
static void
s_unseen(web_req_t *r, const Kumppani__V1__Reply *reply, const char *event, const char *name)
{
    xreq_t *c = r->cont_arg;
    if (web_code(reply) == C(NOT_FOUND)) {
        web_link_gone(r);
        return;
    }
    kp_log_warn(event, "%s=%llu code=%d", name, (unsigned long long)c->k.l.id, web_code(reply));
    web_error(r, 503, "err_unavailable");
}

/* The public facts of a request, as the pages show them. */
static void
s_facts(web_req_t *r, web_tv_t *root, const Kumppani__V1__BrokerRequestInput *in)
{
    kp_arena_t *a = r->arena;
    char buf[128], key[32];
    web_tv_str(a, root, "what", in->title);
    web_tv_textf(r, root, "purpose", "purpose_%d", (int)in->purpose);
    web_tv_time(r, root, "start", in->start_unix);
    kp_time_iso(in->start_unix, buf, sizeof buf);
    web_tv_str(a, root, "start_iso", buf);
    web_tv_strf(a, root, "duration", "%u", in->duration_min);
    web_tv_bool(a, root, "ongoing", in->ongoing);
    web_tv_str(a, root, "place", in->place);
    web_tv_str(a, root, "municipality", web_muni_name(r, in->municipality));
    web_tv_bool(a, root, "remote", in->remote);
    snprintf(key, sizeof key, "lang_%s", in->language);
    const char *lang = web_text(r, key);
    web_tv_str(a, root, "language", strcmp(lang, key) == 0 ? in->language : lang);
    char sep = r->lang == WEB_LANG_EN ? '.' : ',';
    if (in->fee_cents) /* none: "no fee", not "0,00 €" */
        web_tv_strf(a, root, "fee", "%u%c%02u", in->fee_cents / 100, sep, in->fee_cents % 100);
    if (in->travel_cents)
        web_tv_strf(a, root, "travel", "%u%c%02u", in->travel_cents / 100, sep,
                    in->travel_cents % 100);
    web_tv_time(r, root, "answer_deadline", in->answer_deadline_unix);
}

/* ---- the expert's offer ------------------------------------------------------------------ */

static void
s_xoffer_render(web_req_t *r, xreq_t *c, const Kumppani__V1__OfferView *v)
{
    kp_arena_t *a = r->arena;
    const Kumppani__V1__Offer *o = v->offer;
    web_tv_t *root = web_root(r, "xoffer_title");
    s_facts(r, root, v->request);
    char buf[128];
    web_tv_time(r, root, "deadline", o->deadline_ms / 1000);
    kp_time_iso(o->deadline_ms / 1000, buf, sizeof buf);
    web_tv_str(a, root, "deadline_iso", buf);
    web_tv_strf(a, root, "lang_base", "/x/%s", c->k.token); /* not the POST's address */
    web_button(r, root, "accept", "x_accept_button", "/x/%s/accept", c->k.token);
    web_button(r, root, "decline", "x_decline_button", "/x/%s/decline", c->k.token);
    bool open = o->state == OS(OPEN), held = open && o->held_ms;
    bool done = c->k.op == WEB_OP_DECLINE  ? o->state == OS(DECLINED)
                : c->k.op == WEB_OP_ACCEPT ? o->state == OS(ACCEPTED) || held
                                           : false;
    if (done && r->post) {
        /* The same answer sent again (Back and the button once more, a second tab) is
         * refused by the broker as already answered, but the offer is as the expert wants
         * it: it is done, not failed. */
        if (c->general && strcmp(c->general, "x_err_answer") == 0) {
            web_link_done_redirect(r, &c->k);
            return;
        }
    } else if (done) { /* the page after the answer's 303 */
        c->notice = c->k.op == WEB_OP_DECLINE  ? "x_done_declined"
                    : o->state == OS(ACCEPTED) ? "x_done_confirmed"
                                               : "x_done_held";
    }
    if (c->notice)
        web_tv_str(a, root, "notice", web_text(r, c->notice));
    if (c->general)
        web_tv_str(a, root, "general", web_text(r, c->general));
    bool req_closed = v->request_state == RS(CANCELLED) || v->request_state == RS(UNFILLED);
    bool lapsed = o->state == OS(LAPSED) || (open && !held && o->deadline_ms <= kp_now_ms());
    /* The offer's own fate first; a withdrawn or open offer of a closed request says why. */
    const char *st = o->state == OS(ACCEPTED)   ? "x_state_accepted"
                     : o->state == OS(DECLINED) ? "x_state_declined"
                     : lapsed                   ? "x_state_lapsed"
                     : req_closed               ? "x_state_request_closed"
                     : held                     ? "x_state_held"
                     : open                     ? "x_state_open"
                                                : "x_state_withdrawn";
    web_tv_str(a, root, "state_text", web_text(r, st));
    web_tv_bool(a, root, "can_answer", open && !held && !lapsed && !req_closed);
    web_page(r, c->k.status, "xoffer", root);
}

static void
s_xoffer_done(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    xreq_t *c = r->cont_arg;
    Kumppani__V1__OfferView *v = web_body(r, reply, &kumppani__v1__offer_view__descriptor);
    if (v && v->offer && v->request)
        s_xoffer_render(r, c, v);
    else
        s_unseen(r, reply, "xoffer.view", "offer");
}

static void
s_xoffer_view(web_req_t *r, xreq_t *c)
{
    Kumppani__V1__OfferRef rq = KUMPPANI__V1__OFFER_REF__INIT;
    rq.offer_id = c->k.l.id;
    s_call(r, "broker.offer.view", &rq.base, s_xoffer_done);
}

void
web_pg_xoffer(web_req_t *r, const char *token)
{
    xreq_t *c = s_begin(r, token, KP_LINK_EXPERT_OFFER);
    if (c)
        s_xoffer_view(r, c);
}

/* Accept or Decline refused by the broker (web_link_answer): the offer as it is now with why
 * not. */
static void
s_xrefused(web_req_t *r, int code)
{
    xreq_t *c = r->cont_arg;
    c->general = code == C(CONFLICT) ? "x_err_answer" : "err_retry";
    c->k.status = code == C(CONFLICT) ? 409 : 503;
    s_xoffer_view(r, c);
}

static void
s_xanswer(web_req_t *r, const char *token, bool accept)
{
    if (!web_csrf_check(r))
        return;
    xreq_t *c = s_begin(r, token, KP_LINK_EXPERT_OFFER);
    if (!c)
        return;
    c->k.refused = s_xrefused;
    if (accept) {
        Kumppani__V1__OfferRef rq = KUMPPANI__V1__OFFER_REF__INIT;
        rq.offer_id = c->k.l.id;
        s_call(r, "broker.offer.accept", &rq.base, web_link_answer);
    } else {
        Kumppani__V1__DeclineOfferRequest rq = KUMPPANI__V1__DECLINE_OFFER_REQUEST__INIT;
        rq.offer_id = c->k.l.id;
        s_call(r, "broker.offer.decline", &rq.base, web_link_answer);
    }
}

void
web_pg_xoffer_answer(web_req_t *r, const char *token)
{
    s_xanswer(r, token, r->route_op == WEB_OP_ACCEPT);
}

/* ---- the requester's request ------------------------------------------------------------- */

/* An unfilled request says what is true: no expert or only some of those needed, and that
 * the answer deadline passed only when it had when the broker closed the request (the
 * broker also closes it earlier when nobody eligible is left to ask). */
static const char *
s_unfilled_key(const Kumppani__V1__BrokerRequest *rq, size_t confirmed)
{
    int64_t closed_s = rq->closed_ms ? rq->closed_ms / 1000 : kp_now_ms() / 1000;
    bool by_deadline =
        rq->input->answer_deadline_unix && closed_s >= rq->input->answer_deadline_unix;
    if (confirmed)
        return by_deadline ? "req_state_unfilled_some_deadline" : "req_state_unfilled_some_left";
    return by_deadline ? "req_state_unfilled_none_deadline" : "req_state_unfilled_none_left";
}

/* text with {confirmed} and {needed} replaced by the numbers, into out. */
static const char *
s_counts(const char *text, size_t confirmed, unsigned needed, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 24 < len;) {
        if (strncmp(p, "{confirmed}", 11) == 0) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%zu", confirmed);
            p += 11;
        } else if (strncmp(p, "{needed}", 8) == 0) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%u", needed);
            p += 8;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return out;
}

static void
s_request_done(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    kp_arena_t *a = r->arena;
    Kumppani__V1__RequestView *v = web_body(r, reply, &kumppani__v1__request_view__descriptor);
    if (!v || !v->request || !v->request->input) {
        s_unseen(r, reply, "request.view", "request");
        return;
    }
    const Kumppani__V1__BrokerRequest *rq = v->request;
    web_tv_t *root = web_root(r, "req_title");
    s_facts(r, root, rq->input);
    web_tv_strf(a, root, "needed", "%u", rq->input->experts_needed);
    web_tv_strf(a, root, "confirmed_n", "%zu", v->n_experts);
    const char *st = rq->state == RS(CANCELLED)  ? "req_state_cancelled"
                     : rq->state == RS(UNFILLED) ? s_unfilled_key(rq, v->n_experts)
                     : rq->state == RS(FILLED)   ? "req_state_confirmed"
                     : v->n_experts              ? "req_state_partly"
                     : v->offers_open            ? "req_state_offered"
                                                 : "req_state_filed";
    char text[1024];
    web_tv_str(
        a, root, "state_text",
        s_counts(web_text(r, st), v->n_experts, rq->input->experts_needed, text, sizeof text));
    web_tv_bool(a, root, "open", rq->state == RS(OPEN));
    web_tv_t *list = web_tv_list(a, root, "experts");
    for (size_t i = 0; i < v->n_experts; i++) {
        const Kumppani__V1__ConfirmedExpert *x = v->experts[i];
        web_tv_t *it = web_tv_item(a, list);
        web_tv_str(a, it, "name", x->name[0] ? x->name : web_text(r, "req_expert_erased"));
        web_tv_str(a, it, "email", x->email);
        web_tv_str(a, it, "phone", x->phone);
        web_tv_bool(a, it, "completed",
                    x->state == KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_COMPLETED);
    }
    web_tv_bool(a, root, "has_experts", v->n_experts > 0);
    web_page(r, 200, "request", root);
}

void
web_pg_request(web_req_t *r, const char *token)
{
    xreq_t *c = s_begin(r, token, KP_LINK_REQUEST);
    Kumppani__V1__BrokerRequestRef rq = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
    if (!c)
        return;
    rq.request_id = c->k.l.id;
    s_call(r, "broker.request.view", &rq.base, s_request_done);
}
