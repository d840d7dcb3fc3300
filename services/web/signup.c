/*  web/signup.c: the sign-up form, its submission over the bus, the confirmation with the
 *  personal link, and the personal page where a person sees and cancels their sign-up.
 *
 *  The web publishes exactly as any other system: events.signup.submit with source "web" and
 *  its publisher key. The external id is "web-" + the form's nonce, a random value put in a
 *  hidden field when the form is first shown and kept when it is shown again with errors; a
 *  double click, a reload of the POST or a retry after a timeout sends the same external id,
 *  and the events service answers the first sign-up again (its idempotency by source +
 *  external id), so one person makes one sign-up.
 *
 *  Errors (WCAG 3.3.1, 3.3.3): every problem is shown beside its field (aria-describedby,
 *  aria-invalid) and listed at the top with links to the fields; the values stay filled in.
 *
 *  The personal link (/s/<token>, kp_link) names the sign-up and its event and expires a few
 *  days after the event. The page asks the events service for the sign-up as it is now
 *  (events.signup.get; the read model when it does not answer) and offers what its state
 *  allows: cancel a confirmed place, leave the waitlist, accept or decline an offer before its
 *  deadline (shown in Helsinki time). These go over the web's selfservice key, which may act
 *  on one sign-up by id whatever system made it (a notifier mail carries links to sign-ups of
 *  every source) and may do nothing else. An action done is answered 303 to the page with
 *  ?done=<action> (Post/Redirect/Get: a reload or Back sends nothing again), and the page says
 *  what was done if the sign-up shows it. A link whose sign-up is gone (erased) gets a clear
 *  410 page; a refused action shows the state now and why. The online-meeting link shows only
 *  there, and only to a confirmed sign-up. */
#include "kp_log.h"
#include "kp_time.h"
#include "web.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x
#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define SOURCE "web"

static const char *const s_fields[] = {
    "name", "email", "phone", "organisation", "companions", "accessibility_text", "dietary_text"};

static bool
s_nonce_ok(const char *n)
{
    return n && strlen(n) == WEB_COOKIE_LEN &&
           strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               WEB_COOKIE_LEN;
}

static web_event_t *
s_load_event(web_req_t *r, uint64_t id)
{
    kp_tx_t tx;
    web_event_t *ev = NULL;
    bool found = false;
    if (id && (web_tx(r, &tx) || web_store_event_get(&tx, id, &ev, &found)))
        return NULL;
    return found ? ev : NULL;
}

/* Renders the form: fresh (errs NULL), or again with errors and the values sent. */
static void
s_form(web_req_t *r, unsigned status, const web_event_t *ev, const char *nonce,
       const web_ferr_t *errs, unsigned n, const char *general)
{
    kp_arena_t *a = r->arena;
    web_tv_t *root = web_root(r, "signup_title");
    web_event_values(r, web_tv_obj(a, root, "event"), ev);
    char fresh[WEB_COOKIE_LEN + 1];
    if (!nonce) {
        web_token_random(fresh);
        nonce = fresh;
    }
    web_tv_str(a, root, "nonce", nonce);
    web_tv_t *el = web_tv_list(a, root, "errors");
    web_tv_t *fe = web_tv_obj(a, root, "err");
    for (unsigned i = 0; i < n; i++) {
        web_tv_t *it = web_tv_item(a, el);
        char lk[48];
        snprintf(lk, sizeof lk, "label_%s", errs[i].field);
        web_tv_str(a, it, "field", errs[i].field);
        web_tv_str(a, it, "label", web_text(r, lk));
        web_tv_str(a, it, "message", web_text(r, errs[i].msg));
        web_tv_str(a, fe, errs[i].field, web_text(r, errs[i].msg));
    }
    if (general)
        web_tv_str(a, root, "general", web_text(r, general));
    web_tv_bool(a, root, "has_errors", n > 0 || general);
    web_tv_strf(a, root, "errors_n", "%u", n);
    web_tv_t *v = web_tv_obj(a, root, "v");
    if (r->post) {
        for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++)
            web_tv_str(a, v, s_fields[i], web_field(r, s_fields[i]));
        const char *cr = web_field(r, "consent_reminders"), *cn = web_field(r, "consent_needs");
        web_tv_bool(a, v, "consent_reminders", cr && strcmp(cr, "yes") == 0);
        web_tv_bool(a, v, "consent_needs", cn && strcmp(cn, "yes") == 0);
    }
    const char *role = r->post ? web_field(r, "role") : NULL;
    web_tv_t *roles = web_tv_list(a, root, "roles");
    for (int i = 1; i <= 6; i++) {
        char key[16], val[4];
        snprintf(key, sizeof key, "role_%d", i);
        snprintf(val, sizeof val, "%d", i);
        web_tv_t *it = web_tv_item(a, roles);
        web_tv_str(a, it, "value", val);
        web_tv_str(a, it, "name", web_text(r, key));
        web_tv_bool(a, it, "selected", role && strcmp(role, val) == 0);
    }
    web_page(r, status, "signup", root);
}

void
web_pg_signup_form(web_req_t *r, const char *arg)
{
    web_event_t *ev = s_load_event(r, web_parse_id(arg));
    if (!ev) {
        web_error(r, 404, "err_no_event");
        return;
    }
    s_form(r, 200, ev, NULL, NULL, 0, NULL);
}

typedef struct {
    uint64_t event_id;
    char nonce[WEB_COOKIE_LEN + 1];
} submit_t;

/* What a personal page shows besides the sign-up: a notice after an action, an error. */
typedef struct {
    bool just_signed, just_cancelled;
    const char *notice;  /* a text key: what was just done */
    const char *general; /* a text key: why it was not done */
} view_t;

/* Renders the confirmation (or the personal page) of a sign-up: its state, and the actions
 * the state allows before the event ends (cancel a confirmed place, leave the waitlist,
 * accept or decline an offer before its deadline). */
static void
s_personal(web_req_t *r, unsigned status, const kp_link_t *l, const char *token,
           const Kumppani__V1__Signup *s, const view_t *vw)
{
    kp_arena_t *a = r->arena;
    web_event_t *ev = s_load_event(r, l->ref);
    web_tv_t *root = web_root(r, vw->just_signed ? "confirm_title" : "personal_title");
    if (ev)
        web_event_values(r, web_tv_obj(a, root, "event"), ev);
    web_tv_strf(a, root, "link", "%s/s/%s", r->svc->base_url, token);
    /* The languages lead to the personal page (this page may answer a form's POST). */
    web_tv_strf(a, root, "lang_base", "/s/%s", token);
    web_button(r, root, "cancel", "cancel_button", "/s/%s/cancel", token);
    web_button(r, root, "leave", "leave_button", "/s/%s/leave", token);
    web_button(r, root, "accept", "offer_accept_button", "/s/%s/accept", token);
    web_button(r, root, "decline", "offer_decline_button", "/s/%s/decline", token);
    char buf[128];
    web_tv_time(r, root, "link_expires", l->expires_unix);
    web_tv_bool(a, root, "just_signed", vw->just_signed);
    web_tv_bool(a, root, "just_cancelled", vw->just_cancelled);
    if (vw->notice)
        web_tv_str(a, root, "notice", web_text(r, vw->notice));
    if (vw->general)
        web_tv_str(a, root, "general", web_text(r, vw->general));
    int state = s ? (int)s->state : 0;
    web_tv_bool(a, root, "st_confirmed", state == SS(CONFIRMED));
    web_tv_bool(a, root, "st_waitlisted", state == SS(WAITLISTED));
    web_tv_bool(a, root, "st_offered", state == SS(OFFERED));
    web_tv_bool(a, root, "st_cancelled", state == SS(CANCELLED));
    web_tv_bool(a, root, "st_unknown", state == 0);
    if (s && state == SS(CANCELLED) && strcmp(s->cancel_reason, "offer-expired") == 0)
        web_tv_bool(a, root, "offer_lapsed", true);
    if (s && s->companions)
        web_tv_strf(a, root, "companions", "%u", s->companions);
    int64_t now = kp_now_ms() / 1000;
    bool ev_cancelled = ev && ev->state == ES(CANCELLED);
    bool ended = !ev || ev->end_unix <= now || ev_cancelled || ev->state == ES(HELD);
    web_tv_bool(a, root, "ev_cancelled", ev_cancelled);
    web_tv_bool(a, root, "can_cancel", state == SS(CONFIRMED) && !ended);
    web_tv_bool(a, root, "can_leave", state == SS(WAITLISTED) && !ended);
    if (state == SS(OFFERED) && !ended) {
        bool open = s->offer_deadline_ms > kp_now_ms();
        web_tv_bool(a, root, "can_answer", open);
        web_tv_bool(a, root, "offer_lapsed", !open);
        web_tv_time(r, root, "offer_deadline", s->offer_deadline_ms / 1000);
        kp_time_iso(s->offer_deadline_ms / 1000, buf, sizeof buf);
        web_tv_str(a, root, "offer_deadline_iso", buf);
    }
    if (state == SS(CONFIRMED) && ev && !ended && ev->online_url[0])
        web_tv_str(a, root, "online_url", ev->online_url);
    web_page(r, status, vw->just_signed ? "confirm" : "personal", root);
}

/* The field an events-service refusal names ("field 'email': ..."), if one of the form's. */
static const char *
s_refused_field(const char *msg)
{
    static const char *const known[] = {
        "name",        "email", "phone", "organisation", "role", "companions", "accessibility_text",
        "dietary_text"};
    const char *f = msg ? strstr(msg, "field '") : NULL;
    if (!f)
        return NULL;
    f += 7;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        size_t n = strlen(known[i]);
        if (strncmp(f, known[i], n) == 0 && f[n] == '\'')
            return known[i];
    }
    return NULL;
}

static void
s_submit_done(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    submit_t *st = r->cont_arg;
    web_event_t *ev = s_load_event(r, st->event_id);
    int code = reply && reply->status ? (int)reply->status->code : -1;
    const char *msg = reply && reply->status ? reply->status->message : NULL;
    Kumppani__V1__SignupReply *sr = NULL;
    if (code == C(OK))
        sr = kumppani__v1__signup_reply__unpack(kp_arena_pbc(r->arena), reply->body.len,
                                                reply->body.data);
    if (sr && sr->signup) {
        const Kumppani__V1__Signup *s = sr->signup;
        kp_link_t l = {KP_LINK_SIGNUP, s->id, s->event_id, 0};
        l.expires_unix =
            (ev ? ev->end_unix : kp_now_ms() / 1000 + 86400) + (int64_t)r->svc->link_days * 86400;
        char token[WEB_TOKEN_MAX];
        kp_link_make(r->svc->link_key, &l, token);
        kp_log_info("signup.sent", "event_id=%llu signup=%llu state=%d",
                    (unsigned long long)s->event_id, (unsigned long long)s->id, (int)s->state);
        web_redirect(r, "/s/%s?new=1", token); /* the confirmation: the personal page, as new */
    } else if (!ev) {
        web_error(r, 404, "err_no_event");
    } else if (code == C(INVALID) && s_refused_field(msg)) {
        web_ferr_t e = {s_refused_field(msg), "err_field_refused"};
        s_form(r, 400, ev, st->nonce, &e, 1, NULL);
    } else if (code == C(CONFLICT) && msg && strstr(msg, "already signed up")) {
        /* The same person again: by e-mail, or by phone (the same number however written). */
        bool phone = strstr(msg, "phone number") != NULL;
        web_ferr_t e = {phone ? "phone" : "email", phone ? "err_dup_phone" : "err_dup_email"};
        s_form(r, 409, ev, st->nonce, &e, 1, NULL);
    } else if (code == C(CONFLICT)) {
        s_form(r, 409, ev, st->nonce, NULL, 0, "err_closed");
    } else {
        kp_log_warn("signup.failed", "event_id=%llu code=%d", (unsigned long long)st->event_id,
                    code);
        s_form(r, 503, ev, st->nonce, NULL, 0, "err_retry");
    }
}

void
web_pg_signup_submit(web_req_t *r, const char *arg)
{
    if (!web_csrf_check(r))
        return;
    web_event_t *ev = s_load_event(r, web_parse_id(arg));
    if (!ev) {
        web_error(r, 404, "err_no_event");
        return;
    }
    const char *nonce = web_field(r, "nonce");
    if (!s_nonce_ok(nonce)) {
        s_form(r, 400, ev, NULL, NULL, 0, "err_form_expired");
        return;
    }
    web_ferr_t errs[WEB_FERR_MAX];
    unsigned n = web_signup_rules(r, ev->capacity, errs);
    if (n) {
        s_form(r, 400, ev, nonce, errs, n, NULL);
        return;
    }
    submit_t *st = kp_arena_alloc(r->arena, sizeof *st);
    char *ext = kp_arena_alloc(r->arena, 64);
    if (!st || !ext) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    st->event_id = ev->id;
    memcpy(st->nonce, nonce, WEB_COOKIE_LEN + 1);
    snprintf(ext, 64, "web-%s", nonce);
    bool needs =
        strcmp(web_field(r, "consent_needs") ? web_field(r, "consent_needs") : "", "yes") == 0;
    const char *cr = web_field(r, "consent_reminders");
    const char *comp = web_field(r, "companions");
    Kumppani__V1__SubmitSignupRequest rq = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    rq.event_id = ev->id;
    rq.source = SOURCE;
    rq.external_id = ext;
    rq.name = (char *)web_field(r, "name");
    rq.email = (char *)(web_field(r, "email") ? web_field(r, "email") : "");
    rq.phone = (char *)(web_field(r, "phone") ? web_field(r, "phone") : "");
    rq.organisation = (char *)(web_field(r, "organisation") ? web_field(r, "organisation") : "");
    rq.role = (Kumppani__V1__ParticipantRole)(web_field(r, "role")[0] - '0');
    rq.consent_reminders = cr && strcmp(cr, "yes") == 0;
    /* The texts go only with the separate consent, and the consent goes with them (the
     * events service stores needs texts only under consent_needs). */
    rq.consent_needs = needs;
    rq.language = (char *)web_lang_codes[r->lang];
    rq.companions = comp && *comp ? (uint32_t)strtoul(comp, NULL, 10) : 0;
    rq.accessibility_text =
        (char *)(needs && web_field(r, "accessibility_text") ? web_field(r, "accessibility_text")
                                                             : "");
    rq.dietary_text =
        (char *)(needs && web_field(r, "dietary_text") ? web_field(r, "dietary_text") : "");
    r->cont_arg = st;
    if (!web_call(r, r->svc->bus_pub, "events.signup.submit", &rq.base, NULL, s_submit_done))
        s_form(r, 503, ev, nonce, NULL, 0, "err_retry");
}

bool
web_link(web_req_t *r, const char *token, unsigned purpose, kp_link_t *l)
{
    int rc = kp_link_check(r->svc->link_key, token, kp_now_ms() / 1000, l);
    if (rc == 0 && l->purpose == purpose)
        return true;
    web_tv_t *root = web_root(r, rc == -2 ? "link_expired_title" : "link_invalid_title");
    web_tv_bool(r->arena, root, "expired", rc == -2);
    web_tv_bool(r->arena, root, "invalid", rc != -2);
    kp_log_info("link.refused", "why=%s", rc == -2 ? "expired" : "invalid");
    web_page(r, rc == -2 ? 410 : 404, "link", root);
    return false;
}

void
web_link_gone(web_req_t *r)
{
    web_tv_t *root = web_root(r, "link_gone_title");
    web_tv_bool(r->arena, root, "gone", true);
    kp_log_info("link.refused", "why=gone");
    web_page(r, 410, "link", root);
}

/* The actions' names in the page's address after them (?done=<name>), by op. */
static const char *const s_op_names[] = {
    [WEB_OP_CANCEL] = "cancel",
    [WEB_OP_LEAVE] = "leave",
    [WEB_OP_ACCEPT] = "accept",
    [WEB_OP_DECLINE] = "decline",
};

/* The action a page's address says was just done (?done=<action>), or 0. */
static int
s_done_op(web_req_t *r)
{
    const char *done = web_query(r, "done");
    for (int op = WEB_OP_CANCEL; done && op <= WEB_OP_DECLINE; op++)
        if (strcmp(done, s_op_names[op]) == 0)
            return op;
    return 0;
}

void *
web_link_state(web_req_t *r, const char *token, unsigned purpose, size_t size)
{
    web_link_t *p = kp_arena_alloc(r->arena, size);
    if (!p) {
        web_error(r, 503, "err_unavailable");
        return NULL;
    }
    memset(p, 0, size);
    if (!web_link(r, token, purpose, &p->l))
        return NULL;
    p->token = token;
    p->op = r->post ? r->route_op : s_done_op(r);
    p->status = 200;
    r->cont_arg = p;
    return p;
}

void
web_link_done_redirect(web_req_t *r, const web_link_t *k)
{
    assert(k->op >= WEB_OP_CANCEL && k->op <= WEB_OP_DECLINE);
    const char *page = k->l.purpose == KP_LINK_SIGNUP ? "s" : "x";
    web_redirect(r, "/%s/%s?done=%s", page, k->token, s_op_names[k->op]);
}

void
web_link_answer(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    const web_link_t *k = r->cont_arg;
    int code = web_code(reply);
    if (code == C(OK)) {
        kp_log_info("link.acted", "route=%s id=%llu", r->route, (unsigned long long)k->l.id);
        web_link_done_redirect(r, k);
        return;
    }
    kp_log_warn("link.act_refused", "route=%s id=%llu code=%d", r->route,
                (unsigned long long)k->l.id, code);
    if (code == C(NOT_FOUND))
        web_link_gone(r);
    else
        k->refused(r, code);
}

/* Each action's method and the notice shown after it, by op. */
static const struct {
    const char *method, *notice;
} s_acts[] = {
    [WEB_OP_CANCEL] = {"events.signup.cancel", NULL}, /* the page says cancel_done */
    [WEB_OP_LEAVE] = {"events.signup.leave_waitlist", "leave_done"},
    [WEB_OP_ACCEPT] = {"events.signup.accept_offer", "offer_accept_done"},
    [WEB_OP_DECLINE] = {"events.signup.decline_offer", "offer_decline_done"},
};

/* A personal-page request in flight: the link, and what to say when it is rendered. */
typedef struct {
    web_link_t k; /* first: web_link_state */
    view_t vw;
} act_t;

/* True if the action c->k.op is what the sign-up s shows: cancelled after a cancel, a leave or
 * a decline (each by its own reason), confirmed after an accept. */
static bool
s_already_done(const act_t *c, const Kumppani__V1__Signup *s)
{
    if (c->k.op == WEB_OP_ACCEPT)
        return s->state == SS(CONFIRMED);
    const char *reason = c->k.op == WEB_OP_DECLINE  ? "offer-declined"
                         : c->k.op == WEB_OP_LEAVE  ? "left-waitlist"
                         : c->k.op == WEB_OP_CANCEL ? "request"
                                                    : NULL;
    return reason && s->state == SS(CANCELLED) && strcmp(s->cancel_reason, reason) == 0;
}

/* Renders the page of the sign-up s (NULL: not known). After an action (?done=, the 303 of its
 * POST) the page says what was done, if s shows it (a stale or hand-made flag says nothing). */
static void
s_personal_of(web_req_t *r, act_t *c, unsigned status, const Kumppani__V1__Signup *s)
{
    if (!r->post && s && s_already_done(c, s)) {
        c->vw.notice = s_acts[c->k.op].notice;
        c->vw.just_cancelled = c->k.op == WEB_OP_CANCEL;
    }
    s_personal(r, status, &c->k.l, c->k.token, s, &c->vw);
}

/* Renders from the web's read model (when the events service does not answer). */
static void
s_personal_local(web_req_t *r, act_t *c, unsigned status)
{
    kp_tx_t tx;
    Kumppani__V1__Signup *s = NULL;
    bool found = false;
    if (web_tx(r, &tx) || web_store_signup_get(&tx, c->k.l.id, &s, &found)) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    s_personal_of(r, c, status, found ? s : NULL);
}

static const Kumppani__V1__Signup *
s_reply_signup(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    Kumppani__V1__SignupReply *sr = web_body(r, reply, &kumppani__v1__signup_reply__descriptor);
    return sr ? sr->signup : NULL;
}

/* The sign-up as the events service has it now (events.signup.get): the read model may lag
 * behind an action or not know an erased sign-up is gone. */
static void
s_fetch_done(web_req_t *r, const Kumppani__V1__Reply *reply)
{
    act_t *c = r->cont_arg;
    const Kumppani__V1__Signup *s = s_reply_signup(r, reply);
    if (s && !s->erased && r->post && s_already_done(c, s)) {
        /* The same action sent again (Back and the button once more, a second tab): the
         * sign-up is already as the person wanted, so it is done rather than failed. */
        web_link_done_redirect(r, &c->k);
        return;
    }
    if (s && !s->erased)
        s_personal_of(r, c, c->k.status, s);
    else if (s || web_code(reply) == C(NOT_FOUND))
        web_link_gone(r);
    else
        s_personal_local(r, c, c->k.status);
}

static void
s_fetch(web_req_t *r, act_t *c)
{
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    rq.signup_id = c->k.l.id;
    if (!web_call(r, r->svc->bus_self, "events.signup.get", &rq.base, NULL, s_fetch_done)) {
        s_personal_local(r, c, c->k.status);
    }
}

void
web_pg_personal(web_req_t *r, const char *token)
{
    act_t *c = web_link_state(r, token, KP_LINK_SIGNUP, sizeof *c);
    if (!c)
        return;
    /* Just after the form (its POST answered 303 here): the confirmation of the sign-up;
     * just after an action: what was done. */
    const char *fresh = web_query(r, "new");
    c->vw.just_signed = fresh && strcmp(fresh, "1") == 0;
    s_fetch(r, c);
}

/* An action refused by the events service (web_link_answer): the state now with why not. */
static void
s_act_refused(web_req_t *r, int code)
{
    act_t *c = r->cont_arg;
    if (code == C(CONFLICT)) {
        /* The offer's deadline passed, the event was cancelled, or the state moved on:
         * show the state now and say so. */
        c->vw.general = c->k.op == WEB_OP_ACCEPT || c->k.op == WEB_OP_DECLINE ? "err_offer_gone"
                                                                              : "err_state_moved";
        c->k.status = 409;
        s_fetch(r, c);
    } else {
        c->vw.general = "err_retry";
        s_personal_local(r, c, 503);
    }
}

void
web_pg_personal_act(web_req_t *r, const char *token)
{
    assert(r->route_op >= WEB_OP_CANCEL && r->route_op <= WEB_OP_DECLINE);
    if (!web_csrf_check(r))
        return;
    act_t *c = web_link_state(r, token, KP_LINK_SIGNUP, sizeof *c);
    if (!c)
        return;
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    rq.signup_id = c->k.l.id;
    c->k.refused = s_act_refused;
    if (!web_call(r, r->svc->bus_self, s_acts[c->k.op].method, &rq.base, NULL, web_link_answer))
        web_error(r, 503, "err_unavailable");
}
