/*  web/bo_waitlist.c: an event's waitlist and open offers in the back office: the
 *  waitlist in its order (the order of arrival: sign-up ids ascending, as the
 *  events service fills freed places), the open offers with their answer deadlines, and two
 *  actions, each a POST form with its CSRF token:
 *    - promote: one waitlisted person moves up out of turn (events.signup.promote): offered
 *      the place when the event works with offers, else confirmed. It must fit the capacity
 *      and role rules unless the coordinator chooses "beyond the capacity".
 *    - extend: an open offer's deadline moves later (events.signup.extend_offer), never past
 *      the start; the person is told the new deadline.
 *
 *  Scope: the event is fetched and checked first (bo_evop_start: 403, audited, for a role or
 *  municipality out of scope), then the sign-up (events.signup.get): one that is not this
 *  event's is refused the same way, so that a contact person cannot act on another
 *  municipality's sign-up through their own event. Audited with ids only. */
#include "bo.h"
#include "kp_log.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x

/* The extension choices of the form, in minutes (the events service takes 1..10080). */
static const unsigned s_extend_minutes[] = {60, 24 * 60, 2 * 24 * 60, 7 * 24 * 60};
#define EXTEND_N (sizeof s_extend_minutes / sizeof s_extend_minutes[0])

/* ---- the section ------------------------------------------------------------------------- */

static void
s_person(web_req_t *r, web_tv_t *it, const Kumppani__V1__Signup *s)
{
    kp_arena_t *a = r->arena;
    web_tv_strf(a, it, "id", "%llu", (unsigned long long)s->id);
    web_tv_str(a, it, "name", s->erased ? web_text(r, "bo_erased") : s->name);
    web_tv_str(a, it, "organisation", s->erased ? "" : s->organisation);
    web_tv_str(a, it, "role", web_text(r, bo_signup_role_key(s->role)));
    web_tv_strf(a, it, "places", "%u", 1 + s->companions);
}

bool
bo_waitlist_section(web_req_t *r, web_tv_t *root, const web_event_t *ev,
                    Kumppani__V1__Signup *const *su, size_t n, const char *refused)
{
    uint64_t refused_id = refused ? web_parse_id(web_field(r, "signup")) : 0;
    bool shown = false;
    kp_arena_t *a = r->arena;
    web_tv_t *w = web_tv_obj(a, root, "wl");
    bool open = (ev->state == ES(PUBLISHED) || ev->state == ES(RESCHEDULED)) &&
                ev->start_unix > kp_now_ms() / 1000;
    web_tv_bool(a, w, "open", open);
    web_tv_strf(a, w, "event_id", "%llu", (unsigned long long)ev->id);
    web_tv_bool(a, w, "offers_mode", ev->offer_window_minutes > 0);
    web_tv_bool(a, w, "has_capacity", ev->capacity > 0);
    web_tv_strf(a, w, "window", "%u", ev->offer_window_minutes);
    web_tv_t *wl = web_tv_list(a, w, "waiting"), *ol = web_tv_list(a, w, "offers");
    unsigned wn = 0, on = 0;
    for (size_t i = 0; i < n; i++) {
        const Kumppani__V1__Signup *s = su[i];
        if (s->state == SS(WAITLISTED)) {
            web_tv_t *it = web_tv_item(a, wl);
            s_person(r, it, s);
            web_tv_strf(a, it, "pos", "%u", ++wn);
        } else if (s->state == SS(OFFERED)) {
            web_tv_t *it = web_tv_item(a, ol);
            s_person(r, it, s);
            web_tv_time(r, it, "deadline", s->offer_deadline_ms / 1000);
            if (open && refused_id && s->id == refused_id) {
                web_tv_str(a, it, "invalid", web_text(r, refused));
                shown = true;
            }
            web_tv_t *ch = web_tv_list(a, it, "choices");
            for (size_t k = 0; k < EXTEND_N; k++) {
                char key[32];
                snprintf(key, sizeof key, "bo_extend_%u", s_extend_minutes[k]);
                web_tv_t *c = web_tv_item(a, ch);
                web_tv_strf(a, c, "value", "%u", s_extend_minutes[k]);
                web_tv_str(a, c, "name", web_text(r, key));
                web_tv_bool(a, c, "selected", k == 1);
            }
            on++;
        }
    }
    web_tv_count(a, w, "waiting", wn);
    web_tv_count(a, w, "offers", on);
    const char *done = web_query(r, "done");
    if (done && (strcmp(done, "promoted") == 0 || strcmp(done, "offered") == 0 ||
                 strcmp(done, "offer_extended") == 0))
        web_tv_textf(r, root, "done", "bo_done_%s", done);
    return !refused || shown;
}

/* ---- the actions ------------------------------------------------------------------------- */

typedef struct {
    uint64_t signup_id;
    bool beyond;
    uint32_t minutes;
} act_t;

static void
s_act_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    bo_evop_t *o = r->cont_arg;
    Kumppani__V1__SignupReply *sr = web_body(r, rep, &kumppani__v1__signup_reply__descriptor);
    if (!sr || !sr->signup) {
        bo_evop_failed(r, rep, o->method);
        return;
    }
    bo_audit(r, o->acct->id, o->method, o->obj, "ok");
    const char *done = strcmp(o->method, "events.signup.extend_offer") == 0 ? "offer_extended"
                       : sr->signup->state == SS(OFFERED)                   ? "offered"
                                                                            : "promoted";
    web_redirect(r, "/office/events/%llu?done=%s#waitlist", (unsigned long long)o->event_id, done);
}

/* The sign-up is in: it must be this event's, then the action is asked. */
static void
s_signup_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    bo_evop_t *o = r->cont_arg;
    act_t *x = o->data;
    Kumppani__V1__SignupReply *sr = web_body(r, rep, &kumppani__v1__signup_reply__descriptor);
    if (!sr || !sr->signup) {
        bo_evop_failed(r, rep, "events.signup.get");
        return;
    }
    if (sr->signup->event_id != o->event_id) {
        bo_forbidden(r, o->acct, o->method, o->obj);
        return;
    }
    if (strcmp(o->method, "events.signup.promote") == 0) {
        Kumppani__V1__PromoteSignupRequest rq = KUMPPANI__V1__PROMOTE_SIGNUP_REQUEST__INIT;
        rq.signup_id = x->signup_id;
        rq.beyond_capacity = x->beyond;
        bo_call(r, o->acct, r->svc->bus_office, o->method, &rq.base, NULL, s_act_done);
    } else {
        Kumppani__V1__ExtendOfferRequest rq = KUMPPANI__V1__EXTEND_OFFER_REQUEST__INIT;
        rq.signup_id = x->signup_id;
        rq.minutes = x->minutes;
        bo_call(r, o->acct, r->svc->bus_office, o->method, &rq.base, NULL, s_act_done);
    }
}

static void
s_act_step(web_req_t *r)
{
    bo_evop_t *o = r->cont_arg;
    act_t *x = o->data;
    snprintf(o->obj, sizeof o->obj, "event=%llu signup=%llu", (unsigned long long)o->event_id,
             (unsigned long long)x->signup_id);
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    rq.signup_id = x->signup_id;
    bo_call(r, o->acct, r->svc->bus_office, "events.signup.get", &rq.base, NULL, s_signup_done);
}

static void
s_act(web_req_t *r, const char *arg, const char *method, act_t *x)
{
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    x->signup_id = web_parse_id(web_field(r, "signup"));
    if (!x->signup_id) {
        bo_error(r, a, 400, "bo_err_none_chosen");
        return;
    }
    act_t *keep = bo_zalloc(r, a, sizeof *keep);
    if (!keep)
        return;
    *keep = *x;
    bo_evop_t *o = bo_evop_start(r, a, arg, method, s_act_step);
    if (o)
        o->data = keep;
}

void
bo_pg_promote(web_req_t *r, const char *arg)
{
    const char *b = web_field(r, "beyond");
    act_t x = {.beyond = b && strcmp(b, "yes") == 0};
    s_act(r, arg, "events.signup.promote", &x);
}

void
bo_pg_offer_extend(web_req_t *r, const char *arg)
{
    const char *m = web_field(r, "minutes");
    act_t x = {0};
    for (size_t k = 0; m && k < EXTEND_N; k++) {
        char v[16];
        snprintf(v, sizeof v, "%u", s_extend_minutes[k]);
        if (strcmp(m, v) == 0)
            x.minutes = s_extend_minutes[k];
    }
    if (!x.minutes) { /* the event's page again, the error beside the offer's row */
        bo_account_t *a = bo_require(r);
        char *field = a ? kp_arena_alloc(r->arena, 32) : NULL; /* NULL: a full arena (a 500) */
        if (field)
            snprintf(field, 32, "minutes-%llu",
                     (unsigned long long)web_parse_id(web_field(r, "signup")));
        if (a)
            bo_event_refused(r, a, arg, "offer", "bo_err_extend_minutes",
                             field ? field : "minutes");
        return;
    }
    s_act(r, arg, "events.signup.extend_offer", &x);
}
