/*  events/offer.c: a coordinator's hand on the waitlist: promoting one waitlisted sign-up out
 *  of its turn, and extending an open offer's deadline.
 *
 *  Both keep the rules of signup.c: the counts move through evt_count, an offer lives in the
 *  offers table under its deadline (so the timer in timer.c sees the new one), and the same
 *  log events are emitted (the public copy of the sign-up only). A promotion that does not fit
 *  the event's capacity and role rules is refused unless the coordinator says beyond_capacity;
 *  the counts then pass the capacity, which evt_fits reads as "full" (it adds in 64 bits), so
 *  nobody else moves up until places free again. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"

#define C(x) EVT_C(x)
#define OFFER_EXTEND_MAX 10080

static void
s_reply(kp_call_t *call, evt_signup_t *s)
{
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = s;
    kp_call_ok(call, &r.base);
}

/* The sign-up and its event, or NULL after answering. Whether the waitlist may move (the event
 * open and not started) is s_open's, for the handlers that move it. */
static evt_signup_t *
s_begin(kp_tx_t *t, uint64_t signup_id, evt_event_t **ev)
{
    evt_signup_t *s = evt_load_signup(t, signup_id);
    if (!s || !(*ev = evt_load_event(t, s->event_id)))
        return NULL;
    return s;
}

static bool
s_open(kp_call_t *call, kp_tx_t *t, const evt_event_t *ev)
{
    if (!EVT_OPEN(ev)) {
        kp_call_fail(call, C(CONFLICT), "event %llu is %s; its waitlist does not move",
                     (unsigned long long)ev->id, evt_state_name(ev->state));
        return false;
    }
    if (ev->start_unix <= t->now_ms / 1000) {
        kp_call_fail(call, C(CONFLICT), "event %llu has started", (unsigned long long)ev->id);
        return false;
    }
    return true;
}

void
evt_h_signup_promote(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__PromoteSignupRequest *rq = kp_tx_open(t, call, svc);
    evt_event_t *ev;
    evt_signup_t *s = s_begin(t, rq->signup_id, &ev);
    if (!s)
        return;
    if (s->state == SS(CONFIRMED) || s->state == SS(OFFERED)) {
        s_reply(call, s); /* promoted already: a resend changes nothing */
        return;
    }
    if (s->state != SS(WAITLISTED)) {
        kp_call_fail(call, C(CONFLICT), "sign-up %llu is not on the waitlist",
                     (unsigned long long)s->id);
        return;
    }
    if (!s_open(call, t, ev))
        return;
    if (!rq->beyond_capacity && !evt_fits(ev, s->role, evt_places(s))) {
        kp_call_fail(call, C(CONFLICT),
                     "sign-up %llu does not fit (capacity or role rules); 'beyond_capacity' "
                     "promotes it anyway",
                     (unsigned long long)s->id);
        return;
    }
    bool offer = ev->offer_window_minutes > 0;
    int rc = evt_count(t->arena, ev, s, SS(WAITLISTED), -1);
    s->state = offer ? SS(OFFERED) : SS(CONFIRMED);
    s->updated_ms = ev->updated_ms = t->now_ms;
    if (!rc && offer) {
        int64_t dl = t->now_ms + (int64_t)ev->offer_window_minutes * 60000;
        if (dl > ev->start_unix * 1000)
            dl = ev->start_unix * 1000; /* an offer never outlives the start */
        s->offer_deadline_ms = dl;
        rc = evt_offer_put(t, dl, s->id);
    }
    if (rc || (rc = evt_count(t->arena, ev, s, s->state, 1)) || (rc = evt_signup_put(t, s)) ||
        (rc = evt_event_put(t, ev)) ||
        (rc = evt_signup_emit(t, offer ? "SignupOffered" : "SignupPromoted", s))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("signup.promoted_by_hand", "event_id=%llu signup=%llu offer=%d beyond=%d",
                (unsigned long long)ev->id, (unsigned long long)s->id, offer, rq->beyond_capacity);
    s_reply(call, s);
}

void
evt_h_signup_extend_offer(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__ExtendOfferRequest *rq = kp_tx_open(t, call, svc);
    if (rq->minutes < 1 || rq->minutes > OFFER_EXTEND_MAX) {
        kp_call_fail(call, C(INVALID), "field 'minutes': 1..%d", OFFER_EXTEND_MAX);
        return;
    }
    evt_event_t *ev;
    evt_signup_t *s = s_begin(t, rq->signup_id, &ev);
    if (!s)
        return;
    if (s->state != SS(OFFERED) || t->now_ms >= s->offer_deadline_ms) {
        kp_call_fail(call, C(CONFLICT), "sign-up %llu has no open offer",
                     (unsigned long long)s->id);
        return;
    }
    if (!s_open(call, t, ev))
        return;
    int64_t start_ms = ev->start_unix * 1000, dl = s->offer_deadline_ms + rq->minutes * 60000LL;
    if (s->offer_deadline_ms >= start_ms) {
        kp_call_fail(call, C(CONFLICT), "the offer to sign-up %llu already lasts until the start",
                     (unsigned long long)s->id);
        return;
    }
    if (dl > start_ms)
        dl = start_ms;
    int rc;
    if ((rc = evt_offer_del(t, s->offer_deadline_ms, s->id)) ||
        (rc = evt_offer_put(t, dl, s->id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s->offer_deadline_ms = dl;
    s->updated_ms = t->now_ms;
    if ((rc = evt_signup_put(t, s)) || (rc = evt_signup_emit(t, "SignupOffered", s))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("signup.offer_extended", "event_id=%llu signup=%llu minutes=%u",
                (unsigned long long)ev->id, (unsigned long long)s->id, rq->minutes);
    s_reply(call, s);
}
