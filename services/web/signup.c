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
 *  The personal link (/s/<token>, token.c) names the sign-up and its event and expires a few
 *  days after the event; the page shows the state from the read model and offers a cancel
 *  (events.signup.cancel by sign-up id: a publisher may cancel the sign-ups it made). The
 *  online-meeting link shows only there, and only to a confirmed sign-up. */
#include "kp_log.h"
#include "kp_time.h"
#include "web.h"

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

/* Renders the confirmation (or the personal page) of a sign-up. */
static void
s_personal(web_req_t *r, unsigned status, const kp_link_t *l, const char *token,
           const Kumppani__V1__Signup *s, bool just_signed, bool just_cancelled,
           const char *general)
{
    kp_arena_t *a = r->arena;
    web_event_t *ev = s_load_event(r, l->ref);
    web_tv_t *root = web_root(r, just_signed ? "confirm_title" : "personal_title");
    if (ev)
        web_event_values(r, web_tv_obj(a, root, "event"), ev);
    web_tv_strf(a, root, "link", "%s/s/%s", r->svc->base_url, token);
    web_tv_strf(a, root, "cancel_action", "/s/%s/cancel", token);
    char buf[128];
    web_time_text(r, l->expires_unix, buf, sizeof buf);
    web_tv_str(a, root, "link_expires", buf);
    web_tv_bool(a, root, "just_signed", just_signed);
    web_tv_bool(a, root, "just_cancelled", just_cancelled);
    if (general)
        web_tv_str(a, root, "general", web_text(r, general));
    int state = s ? (int)s->state : 0;
    web_tv_bool(a, root, "st_confirmed", state == SS(CONFIRMED));
    web_tv_bool(a, root, "st_waitlisted", state == SS(WAITLISTED));
    web_tv_bool(a, root, "st_offered", state == SS(OFFERED));
    web_tv_bool(a, root, "st_cancelled", state == SS(CANCELLED));
    web_tv_bool(a, root, "st_unknown", state == 0);
    if (s && s->companions)
        web_tv_strf(a, root, "companions", "%u", s->companions);
    bool ended = !ev || ev->end_unix <= kp_now_ms() / 1000 || ev->state == ES(CANCELLED) ||
                 ev->state == ES(HELD);
    web_tv_bool(a, root, "can_cancel", state != SS(CANCELLED) && !ended);
    if (state == SS(CONFIRMED) && ev && !ended && ev->online_url[0])
        web_tv_str(a, root, "online_url", ev->online_url);
    web_page(r, status, just_signed ? "confirm" : "personal", root);
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
s_submit_done(void *arg, const Kumppani__V1__Reply *reply)
{
    web_req_t *r = arg;
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
        kp_log_info("signup.sent", "event=%llu signup=%llu state=%d",
                    (unsigned long long)s->event_id, (unsigned long long)s->id, (int)s->state);
        s_personal(r, 200, &l, token, s, true, false, NULL);
    } else if (!ev) {
        web_error(r, 404, "err_no_event");
    } else if (code == C(INVALID) && s_refused_field(msg)) {
        web_ferr_t e = {s_refused_field(msg), "err_field_refused"};
        s_form(r, 400, ev, st->nonce, &e, 1, NULL);
    } else if (code == C(CONFLICT) && msg && strstr(msg, "already signed up")) {
        web_ferr_t e = {"email", "err_dup_email"};
        s_form(r, 409, ev, st->nonce, &e, 1, NULL);
    } else if (code == C(CONFLICT)) {
        s_form(r, 409, ev, st->nonce, NULL, 0, "err_closed");
    } else {
        kp_log_warn("signup.failed", "event=%llu code=%d", (unsigned long long)st->event_id, code);
        s_form(r, 503, ev, st->nonce, NULL, 0, "err_retry");
    }
    web_resume(r);
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
    unsigned n = web_signup_rules(r, errs);
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
    if (web_bus_call(r->svc->bus_pub, "events.signup.submit", &rq.base, NULL, s_submit_done, r)) {
        s_form(r, 503, ev, nonce, NULL, 0, "err_retry");
        return;
    }
    web_suspend(r);
}

/* Checks a personal link; answers the clear page of a bad one and returns false. */
static bool
s_link(web_req_t *r, const char *token, kp_link_t *l)
{
    int rc = kp_link_check(r->svc->link_key, token, kp_now_ms() / 1000, l);
    if (rc == 0 && l->purpose == KP_LINK_SIGNUP)
        return true;
    web_tv_t *root = web_root(r, rc == -2 ? "link_expired_title" : "link_invalid_title");
    web_tv_bool(r->arena, root, "expired", rc == -2);
    web_tv_bool(r->arena, root, "invalid", rc != -2);
    kp_log_info("link.refused", "why=%s", rc == -2 ? "expired" : "invalid");
    web_page(r, rc == -2 ? 410 : 404, "link", root);
    return false;
}

void
web_pg_personal(web_req_t *r, const char *token)
{
    kp_link_t l;
    if (!s_link(r, token, &l))
        return;
    kp_tx_t tx;
    Kumppani__V1__Signup *s = NULL;
    bool found = false;
    if (web_tx(r, &tx) || web_store_signup_get(&tx, l.id, &s, &found)) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    s_personal(r, 200, &l, token, found ? s : NULL, false, false, NULL);
}

typedef struct {
    kp_link_t l;
    const char *token;
} cancel_t;

static void
s_cancel_done(void *arg, const Kumppani__V1__Reply *reply)
{
    web_req_t *r = arg;
    cancel_t *c = r->cont_arg;
    Kumppani__V1__SignupReply *sr = NULL;
    if (reply && reply->status && reply->status->code == C(OK))
        sr = kumppani__v1__signup_reply__unpack(kp_arena_pbc(r->arena), reply->body.len,
                                                reply->body.data);
    if (sr && sr->signup) {
        kp_log_info("signup.cancel", "signup=%llu", (unsigned long long)sr->signup->id);
        s_personal(r, 200, &c->l, c->token, sr->signup, false, true, NULL);
    } else {
        kp_log_warn("signup.cancel_failed", "signup=%llu code=%d", (unsigned long long)c->l.id,
                    reply && reply->status ? (int)reply->status->code : -1);
        kp_tx_t tx;
        Kumppani__V1__Signup *s = NULL;
        bool found = false;
        if (web_tx(r, &tx) == 0)
            web_store_signup_get(&tx, c->l.id, &s, &found);
        s_personal(r, 503, &c->l, c->token, found ? s : NULL, false, false, "err_retry");
    }
    web_resume(r);
}

void
web_pg_personal_cancel(web_req_t *r, const char *token)
{
    if (!web_csrf_check(r))
        return;
    cancel_t *c = kp_arena_alloc(r->arena, sizeof *c);
    if (!c) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    if (!s_link(r, token, &c->l))
        return;
    c->token = token;
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    rq.signup_id = c->l.id;
    r->cont_arg = c;
    if (web_bus_call(r->svc->bus_pub, "events.signup.cancel", &rq.base, NULL, s_cancel_done, r)) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    web_suspend(r);
}
