/*  events/signup.c: sign-ups, capacity, role balance, the waitlist and offers.
 *
 *  Places. A sign-up takes 1 + companions places. The event counts places: confirmed_n,
 *  offered_n (held by open offers) and waitlisted_n, and per role in role_counts (confirmed
 *  there includes offered). A group is all or nothing: it is confirmed only if every place
 *  fits, else the whole group waits; it is never split.
 *
 *  Fitting (evt_fits). A sign-up of role R with p places fits when
 *    - the capacity (if any) has p places beside those confirmed and offered,
 *    - R's rule (if any) allows it: places of R + p <= max_n, and <= max_percent of capacity,
 *    - the places still reserved for the other roles (reserved_n minus what each holds) stay
 *      free.
 *  A new sign-up that does not fit is waitlisted, in order of arrival (evt_arrival_state).
 *
 *  Filling (evt_fill). When places free up (a cancel, a declined or expired offer, a larger
 *  capacity), the first waitlisted sign-up that fits whole moves up (evt_next_promoted): a
 *  group that does not fit lets a smaller one behind it pass, and moves up itself as soon as
 *  it fits. It is promoted at once, or, if the event has offer_window_minutes, offered the
 *  place until a deadline (the offers table, watched by timer.c). An offer not accepted in
 *  time passes to the next. Filling stops when the event is not open or has started.
 *
 *  The rules (evt_places, evt_fits, evt_arrival_state, evt_next_promoted, evt_count) take
 *  plain values, not the store, so that tests/unit/events checks them directly. */
#include "events.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_pbcopy.h"
#include "kp_text.h"

#include <stdio.h>
#include <string.h>

#define C(x) EVT_C(x)

/* ---- places and roles -------------------------------------------------------------------- */

uint32_t
evt_places(const evt_signup_t *s)
{
    return 1 + s->companions;
}

static const Kumppani__V1__RoleRule *
s_rule(const evt_event_t *ev, int role)
{
    for (size_t i = 0; i < ev->n_role_rules; i++)
        if ((int)ev->role_rules[i]->role == role)
            return ev->role_rules[i];
    return NULL;
}

static uint32_t
s_role_held(const evt_event_t *ev, int role)
{
    for (size_t i = 0; i < ev->n_role_counts; i++)
        if ((int)ev->role_counts[i]->role == role)
            return ev->role_counts[i]->confirmed_n;
    return 0;
}

/* The role's count entry, added if missing (into the arena). NULL when out of memory. */
static Kumppani__V1__RoleCount *
s_role_count(kp_arena_t *a, evt_event_t *ev, int role)
{
    for (size_t i = 0; i < ev->n_role_counts; i++)
        if ((int)ev->role_counts[i]->role == role)
            return ev->role_counts[i];
    Kumppani__V1__RoleCount **v = kp_arena_alloc(a, (ev->n_role_counts + 1) * sizeof *v);
    Kumppani__V1__RoleCount *rc = kp_arena_alloc(a, sizeof *rc);
    if (!v || !rc)
        return NULL;
    kumppani__v1__role_count__init(rc);
    rc->role = role;
    if (ev->n_role_counts)
        memcpy(v, ev->role_counts, ev->n_role_counts * sizeof *v);
    v[ev->n_role_counts++] = rc;
    ev->role_counts = v;
    return rc;
}

bool
evt_fits(const evt_event_t *ev, int role, uint32_t places)
{
    uint64_t held = (uint64_t)ev->confirmed_n + ev->offered_n;
    if (ev->capacity && held + places > ev->capacity)
        return false;
    uint64_t mine = (uint64_t)s_role_held(ev, role) + places;
    const Kumppani__V1__RoleRule *r = s_rule(ev, role);
    if (r && r->max_n && mine > r->max_n)
        return false;
    if (r && r->max_percent && ev->capacity && mine * 100 > (uint64_t)r->max_percent * ev->capacity)
        return false;
    if (ev->capacity) {
        uint64_t reserved = 0;
        for (size_t i = 0; i < ev->n_role_rules; i++) {
            const Kumppani__V1__RoleRule *o = ev->role_rules[i];
            uint32_t has = s_role_held(ev, o->role);
            if ((int)o->role != role && o->reserved_n > has)
                reserved += o->reserved_n - has;
        }
        if (held + places + reserved > ev->capacity)
            return false;
    }
    return true;
}

uint32_t
evt_cap_for(uint32_t capacity, Kumppani__V1__RoleRule *const *rules, size_t n_rules, int role)
{
    uint64_t cap = capacity ? capacity : UINT32_MAX;
    for (size_t i = 0; i < n_rules; i++) {
        const Kumppani__V1__RoleRule *r = rules[i];
        if ((int)r->role != role)
            continue;
        if (r->max_n && r->max_n < cap)
            cap = r->max_n;
        if (r->max_percent && capacity && (uint64_t)r->max_percent * capacity / 100 < cap)
            cap = (uint64_t)r->max_percent * capacity / 100;
    }
    return (uint32_t)cap;
}

int
evt_arrival_state(const evt_event_t *ev, const evt_signup_t *s)
{
    return evt_fits(ev, s->role, evt_places(s)) ? SS(CONFIRMED) : SS(WAITLISTED);
}

int
evt_count(kp_arena_t *a, evt_event_t *ev, const evt_signup_t *s, int state, int sign)
{
    uint32_t p = evt_places(s);
    Kumppani__V1__RoleCount *rc = s_role_count(a, ev, s->role);
    if (!rc)
        return KP_ENOMEM;
    uint32_t *ev_n = state == SS(CONFIRMED)    ? &ev->confirmed_n
                     : state == SS(OFFERED)    ? &ev->offered_n
                     : state == SS(WAITLISTED) ? &ev->waitlisted_n
                                               : NULL;
    uint32_t *role_n = state == SS(WAITLISTED) ? &rc->waitlisted_n : &rc->confirmed_n;
    if (!ev_n)
        return 0;
    if (sign > 0) {
        *ev_n += p;
        *role_n += p;
    } else {
        *ev_n = *ev_n >= p ? *ev_n - p : 0;
        *role_n = *role_n >= p ? *role_n - p : 0;
    }
    return 0;
}

void
evt_signup_public(const evt_signup_t *s, evt_signup_t *out)
{
    static char empty[] = "";
    *out = *s;
    out->has_email = s->email && s->email[0];
    out->has_phone = s->phone && s->phone[0];
    out->name = out->email = out->phone = out->organisation = empty;
    out->accessibility_text = out->dietary_text = empty;
}

/* Every sign-up event carries the public copy only. */
int
evt_signup_emit(kp_tx_t *t, const char *type, const evt_signup_t *s)
{
    evt_signup_t pub;
    evt_signup_public(s, &pub);
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = &pub;
    return kp_tx_emit(t, type, &r.base);
}

/* ---- filling freed places ---------------------------------------------------------------- */

size_t
evt_next_promoted(const evt_event_t *ev, evt_signup_t *const *waiting, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (waiting[i]->state == SS(WAITLISTED) &&
            evt_fits(ev, waiting[i]->role, evt_places(waiting[i])))
            return i;
    return n;
}

/* The walk over the event's list hands the waitlisted sign-ups, in order of arrival, to
 * evt_next_promoted in batches, so that the rule stays a function of plain values and the
 * walk stops at the first batch with a winner. */
#define FILL_BATCH 32
#define FILL_SCAN_MAX 5000 /* bounded: the rest waits for the next freed place */

typedef struct {
    kp_tx_t *t;
    evt_event_t *ev;
    evt_signup_t *batch[FILL_BATCH], *found;
    size_t n;
    unsigned scanned;
    int rc;
} fill_scan_t;

static bool
s_fill_pick(fill_scan_t *f)
{
    size_t i = evt_next_promoted(f->ev, f->batch, f->n);
    f->found = i < f->n ? f->batch[i] : NULL;
    f->n = 0;
    return f->found != NULL;
}

static int
s_fill_scan(void *arg, uint64_t id, int state)
{
    fill_scan_t *f = arg;
    if (state != SS(WAITLISTED))
        return 0;
    if (++f->scanned > FILL_SCAN_MAX)
        return 1;
    evt_signup_t *s;
    bool found;
    if ((f->rc = evt_signup_get(f->t, id, &s, &found)))
        return 1;
    if (found)
        f->batch[f->n++] = s;
    return f->n == FILL_BATCH && s_fill_pick(f);
}

int
evt_fill(kp_tx_t *t, evt_event_t *ev)
{
    if (!EVT_OPEN(ev) || ev->start_unix <= t->now_ms / 1000 || ev->waitlisted_n == 0)
        return 0;
    for (unsigned moved = 0; moved < 10000; moved++) {
        fill_scan_t f = {.t = t, .ev = ev};
        int rc = evt_signups_each(t, ev->id, 0, UINT32_MAX, s_fill_scan, &f);
        if (rc || f.rc)
            return rc ? rc : f.rc;
        if (!f.found && f.n)
            s_fill_pick(&f);
        evt_signup_t *s = f.found;
        if (!s)
            return 0;
        bool offer = ev->offer_window_minutes > 0;
        if ((rc = evt_count(t->arena, ev, s, SS(WAITLISTED), -1)))
            return rc;
        s->state = offer ? SS(OFFERED) : SS(CONFIRMED);
        s->updated_ms = t->now_ms;
        if (offer) {
            int64_t dl = t->now_ms + (int64_t)ev->offer_window_minutes * 60000;
            if (dl > ev->start_unix * 1000)
                dl = ev->start_unix * 1000; /* an offer never outlives the start */
            s->offer_deadline_ms = dl;
            if ((rc = evt_offer_put(t, dl, s->id)))
                return rc;
        }
        if ((rc = evt_count(t->arena, ev, s, s->state, 1)) || (rc = evt_signup_put(t, s)) ||
            (rc = evt_signup_emit(t, offer ? "SignupOffered" : "SignupPromoted", s)))
            return rc;
        kp_log_info(offer ? "signup.offered" : "signup.promoted", "event_id=%llu signup=%llu",
                    (unsigned long long)ev->id, (unsigned long long)s->id);
    }
    return 0;
}

/* ---- submit ------------------------------------------------------------------------------ */

/* A resend: the publisher's id names sign-up first. Answers its first answer; or, when the
 * request is not the one first made under that id, CODE_CONFLICT saying so in the sign-up
 * API's words. The first answer of schema 3 and before is under the publisher's id (the
 * oldest hold no hash of their request and answer any resend). */
static void
s_resend(kp_call_t *call, const Kumppani__V1__SubmitSignupRequest *rq, uint64_t first)
{
    char conflict[400];
    snprintf(conflict, sizeof conflict,
             "field 'external_id': %s/%s already names sign-up %llu with other details; a new "
             "sign-up needs a new external id",
             rq->source, rq->external_id, (unsigned long long)first);
    uint8_t fk[EVT_FIRST_KEY_LEN];
    char key[EVT_EXT_KEY_MAX];
    if (kp_call_idem_as(call, fk, evt_first_key(fk, first), conflict) ||
        kp_call_idem_as(call, key, evt_ext_key(key, rq->source, rq->external_id), conflict))
        return;
    kp_log_err("signup.first_answer", "signup=%llu state=missing", (unsigned long long)first);
    kp_call_fail_err(call, KP_ECORRUPT);
}

/* Answers CODE_CONFLICT and returns true when rq's person has a live sign-up to ev already: the
 * same e-mail address, or the same phone number (kp_privacy_phone_norm) unless both give an
 * address (evt_phone_get). */
static bool
s_duplicate(kp_tx_t *t, kp_call_t *call, const evt_event_t *ev,
            const Kumppani__V1__SubmitSignupRequest *rq)
{
    uint64_t other = 0;
    bool dup = false;
    int rc = 0;
    if (rq->email[0] && (rc = evt_email_get(t, ev->id, rq->email, &other, &dup)) == 0 && dup) {
        kp_call_fail(call, C(CONFLICT),
                     "this e-mail address is already signed up to event %llu (sign-up %llu)",
                     (unsigned long long)ev->id, (unsigned long long)other);
        return true;
    }
    if (rc == 0 && rq->phone[0] &&
        (rc = evt_phone_get(t, ev->id, rq->phone, rq->email, &other, &dup)) == 0 && dup) {
        kp_call_fail(call, C(CONFLICT),
                     "this phone number is already signed up to event %llu (sign-up %llu)",
                     (unsigned long long)ev->id, (unsigned long long)other);
        return true;
    }
    if (rc)
        kp_call_fail_err(call, rc);
    return rc != 0;
}

void
evt_h_signup_submit(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__SubmitSignupRequest *rq = kp_tx_open(t, call, svc);
    if (!evt_signup_fields_ok(call, rq))
        return;
    /* A publisher's key submits only under the sources it is bound to (DESIGN 7), checked
     * before the idempotency lookup, which would otherwise answer another system's reply. */
    if (!kp_call_source_allowed(call, rq->source)) {
        kp_call_fail(call, C(FORBIDDEN),
                     "field 'source': this key may submit only under the source names bound to "
                     "it on the service's allow-list (\"<key> publisher sources=a,b\"); use "
                     "one of them, or ask the operator to add this one");
        return;
    }
    /* The publisher's own id makes the request idempotent: the key index finds the sign-up
     * it made, whose first answer is stored by id (evt_first_key). */
    uint64_t first = 0;
    bool known = false;
    int rc = evt_signup_by_ext(t, rq->source, rq->external_id, &first, &known);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (known) {
        s_resend(call, rq, first);
        return;
    }

    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    /* A group that could never get in would wait on the waitlist for ever. */
    uint32_t most = evt_cap_for(ev->capacity, ev->role_rules, ev->n_role_rules, rq->role);
    char role[48];
    if (ev->capacity && (uint64_t)rq->companions + 1 > ev->capacity) {
        kp_call_fail(call, C(INVALID),
                     "field 'companions': the group of %u is larger than the event (capacity "
                     "%u); at most %u companions",
                     1 + rq->companions, ev->capacity, ev->capacity - 1);
        return;
    }
    if (most == 0) {
        kp_call_fail(call, C(INVALID), "field 'role': the event takes no places for role %s",
                     evt_role_name(rq->role, role));
        return;
    }
    if ((uint64_t)rq->companions + 1 > most) {
        kp_call_fail(call, C(INVALID),
                     "field 'companions': the group of %u is larger than the event takes for "
                     "role %s (at most %u places); at most %u companions",
                     1 + rq->companions, evt_role_name(rq->role, role), most, most - 1);
        return;
    }
    int64_t now_s = t->now_ms / 1000;
    if (!EVT_OPEN(ev)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; sign-ups are open only when published",
                     evt_state_name(ev->state));
        return;
    }
    int64_t deadline = ev->signup_deadline_unix ? ev->signup_deadline_unix : ev->start_unix;
    if (now_s >= deadline) {
        kp_call_fail(call, C(CONFLICT), "the sign-up deadline of event %llu has passed",
                     (unsigned long long)ev->id);
        return;
    }
    if (s_duplicate(t, call, ev, rq))
        return;
    evt_signup_t s = KUMPPANI__V1__SIGNUP__INIT;
    uint8_t fk[EVT_FIRST_KEY_LEN];
    if ((rc = kp_tx_next_id(t, "signup", &s.id)) ||
        (rc = kp_call_idem_at(call, fk, evt_first_key(fk, s.id)))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_pbcopy_shared(&s.base, &rq->base); /* every field of the request (event_id: ev->id) */
    s.language = (char *)(rq->language[0] ? rq->language : ev->language);
    s.created_ms = s.updated_ms = t->now_ms;
    s.state = evt_arrival_state(ev, &s);
    bool room = s.state == SS(CONFIRMED);
    ev->updated_ms = s.created_ms;
    if ((rc = evt_count(t->arena, ev, &s, s.state, 1)) || (rc = evt_signup_put(t, &s)) ||
        (rq->email[0] && (rc = evt_email_put(t, ev->id, rq->email, s.id))) ||
        (rq->phone[0] && (rc = evt_phone_put(t, ev->id, rq->phone, s.id))) ||
        (rc = evt_ext_put(t, rq->source, rq->external_id, s.id)) || (rc = evt_event_put(t, ev)) ||
        (rc = evt_signup_emit(t, room ? "SignupConfirmed" : "SignupWaitlisted", &s))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_debug("signup.stored", "event_id=%llu signup=%llu state=%d", (unsigned long long)ev->id,
                 (unsigned long long)s.id, s.state);
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = &s;
    kp_call_ok(call, &r.base);
}

/* ---- cancel, leave, offers --------------------------------------------------------------- */

/* Finds the sign-up of a CancelSignupRequest (by id, or by source + external_id); answers
 * the error and returns NULL if there is none. */
static evt_signup_t *
s_find(kp_call_t *call, kp_tx_t *t, const Kumppani__V1__CancelSignupRequest *rq)
{
    uint64_t id = rq->signup_id;
    bool found = false;
    int rc;
    if (!id && kp_call_role(call) == KP_ROLE_SELFSERVICE) {
        kp_call_fail(call, C(INVALID), "field 'signup_id': required (a personal link names one)");
        return NULL;
    }
    if (!id) {
        if (!evt_source_ok(call, rq->source) || !evt_external_id_ok(call, rq->external_id))
            return NULL;
        if ((rc = evt_signup_by_ext(t, rq->source, rq->external_id, &id, &found))) {
            kp_call_fail_err(call, rc);
            return NULL;
        }
        if (!found) {
            kp_call_fail(call, C(NOT_FOUND), "no sign-up with this source and external_id");
            return NULL;
        }
    }
    evt_signup_t *su = evt_load_signup(t, id);
    /* A publisher may withdraw only the sign-ups made under its own sources: not, by id, one
     * that another system or a coordinator made. */
    if (su && !kp_call_source_allowed(call, su->source)) {
        kp_call_fail(call, C(FORBIDDEN), "this key may act only on sign-ups of its own sources");
        return NULL;
    }
    return su;
}

/* What a caller gets back of a sign-up: the whole record, or for a selfservice key (the web's
 * personal links, acting for whoever holds the link) only the public copy. */
static evt_signup_t *
s_self_copy(kp_call_t *call, evt_signup_t *s, evt_signup_t *pub)
{
    if (kp_call_role(call) != KP_ROLE_SELFSERVICE)
        return s;
    evt_signup_public(s, pub);
    return pub;
}

/* Ends the call: the error rc, or the sign-up s as its caller may see it (s_self_copy). */
static void
s_answer_signup(kp_tx_t *t, int rc, evt_signup_t *s)
{
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    evt_signup_t pub;
    r.signup = s_self_copy(t->call, s, &pub);
    kp_tx_answer(t, rc, &r.base);
}

/* True if s holds an open offer; otherwise answers the call CODE_CONFLICT. */
static bool
s_holds_offer(kp_call_t *call, const evt_signup_t *s)
{
    if (s->state == SS(OFFERED))
        return true;
    kp_call_fail(call, C(CONFLICT), "sign-up %llu has no open offer", (unsigned long long)s->id);
    return false;
}

int
evt_signup_cancel(kp_tx_t *t, evt_event_t *ev, evt_signup_t *s, const char *reason)
{
    int was = s->state, rc;
    if ((rc = evt_count(t->arena, ev, s, was, -1)))
        return rc;
    if (was == SS(OFFERED) && (rc = evt_offer_del(t, s->offer_deadline_ms, s->id)))
        return rc;
    s->state = SS(CANCELLED);
    s->cancel_reason = (char *)reason;
    s->offer_deadline_ms = 0;
    s->updated_ms = ev->updated_ms = t->now_ms;
    if ((rc = evt_signup_put(t, s)) || (s->email[0] && (rc = evt_email_del(t, ev->id, s->email))) ||
        (s->phone[0] && (rc = evt_phone_del(t, ev->id, s->phone, s->id))) ||
        (rc = evt_signup_emit(t, "SignupCancelled", s)) ||
        (was != SS(WAITLISTED) && (rc = evt_fill(t, ev))) || (rc = evt_event_put(t, ev)))
        return rc;
    kp_log_info("signup.cancelled", "event_id=%llu signup=%llu reason=%s",
                (unsigned long long)ev->id, (unsigned long long)s->id, reason);
    return 0;
}

int
evt_offer_end(kp_tx_t *t, evt_signup_t *s, const char *reason)
{
    evt_event_t *ev;
    bool found;
    int rc = evt_event_get(t, s->event_id, &ev, &found);
    if (rc)
        return rc;
    if (!found)
        return KP_ECORRUPT;
    return evt_signup_cancel(t, ev, s, reason);
}

/* The common start of cancel, leave, accept and decline (as kp_tx_open): the call's unit of
 * work, the sign-up and its event; or NULL, the call answered. A sign-up already in state done
 * (-1: none) is answered as it is: doing the same again changes nothing. */
static evt_signup_t *
s_open(kp_tx_t *t, kp_call_t *call, void *svc, int done, evt_event_t **ev)
{
    evt_signup_t *s = s_find(call, t, kp_tx_open(t, call, svc));
    if (!s || !(*ev = evt_load_event(t, s->event_id)))
        return NULL;
    if ((int)s->state == done) {
        s_answer_signup(t, 0, s);
        return NULL;
    }
    return s;
}

/* Cancelling and leaving the waitlist (the row's op EVT_LEAVE): the same change, with a
 * reason; cancelling again changes nothing. Leaving is only for a sign-up on the waitlist or
 * holding an offer. */
void
evt_h_signup_withdraw(kp_call_t *call, void *svc)
{
    bool waitlist_only = kp_call_op(call) == EVT_LEAVE;
    kp_tx_t T, *t = &T;
    evt_event_t *ev;
    evt_signup_t *s = s_open(t, call, svc, SS(CANCELLED), &ev);
    if (!s)
        return;
    if (waitlist_only && s->state != SS(WAITLISTED) && s->state != SS(OFFERED)) {
        kp_call_fail(call, C(CONFLICT), "sign-up %llu is not on the waitlist (cancel it instead)",
                     (unsigned long long)s->id);
        return;
    }
    s_answer_signup(t, evt_signup_cancel(t, ev, s, waitlist_only ? "left-waitlist" : "request"), s);
}

void
evt_h_signup_accept(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev;
    evt_signup_t *s = s_open(t, call, svc, SS(CONFIRMED), &ev);
    if (!s || !s_holds_offer(call, s))
        return;
    if (!EVT_OPEN(ev)) {
        kp_call_fail(call, C(CONFLICT), "event is %s; the offer can no longer be accepted",
                     evt_state_name(ev->state));
        return;
    }
    if (t->now_ms >= s->offer_deadline_ms) {
        kp_call_fail(call, C(CONFLICT), "the offer to sign-up %llu has expired",
                     (unsigned long long)s->id);
        return;
    }
    int rc;
    if ((rc = evt_offer_del(t, s->offer_deadline_ms, s->id)) ||
        (rc = evt_count(t->arena, ev, s, SS(OFFERED), -1))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s->state = SS(CONFIRMED);
    s->offer_deadline_ms = 0;
    s->updated_ms = ev->updated_ms = t->now_ms;
    if (!(rc = evt_count(t->arena, ev, s, SS(CONFIRMED), 1)) && !(rc = evt_signup_put(t, s)) &&
        !(rc = evt_event_put(t, ev)) && !(rc = evt_signup_emit(t, "SignupPromoted", s)))
        kp_log_info("signup.accepted", "event_id=%llu signup=%llu", (unsigned long long)ev->id,
                    (unsigned long long)s->id);
    s_answer_signup(t, rc, s);
}

void
evt_h_signup_decline(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    evt_event_t *ev;
    evt_signup_t *s = s_open(t, call, svc, -1, &ev); /* declining twice: no open offer */
    if (s && s_holds_offer(call, s))
        s_answer_signup(t, evt_signup_cancel(t, ev, s, "offer-declined"), s);
}

/* Attendance (one sign-up or many): attendance.c. */

/* ---- contact data at the moment of sending ------------------------------------------------- */

void
evt_h_signup_contact(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__SignupContactRequest *rq = kp_tx_open(t, call, svc);
    evt_signup_t *s = evt_load_signup(t, rq->signup_id);
    if (!s)
        return;
    if (s->erased || (!s->email[0] && !s->phone[0])) {
        kp_call_fail(call, C(NOT_FOUND), "sign-up %llu: no personal data held (erased)",
                     (unsigned long long)s->id);
        return;
    }
    Kumppani__V1__SignupContactReply r = KUMPPANI__V1__SIGNUP_CONTACT_REPLY__INIT;
    r.name = s->name;
    r.email = s->email;
    r.phone = s->phone;
    r.language = s->language;
    kp_call_ok(call, &r.base);
}

/* ---- lists ------------------------------------------------------------------------------- */

typedef struct {
    kp_tx_t *t;
    unsigned states;
    evt_signup_fn *fn;
    void *arg;
    int rc;
} records_t;

static int
s_record(void *arg, uint64_t id, int state)
{
    records_t *w = arg;
    if (w->states && (state < 0 || state > 31 || !(w->states & 1u << state)))
        return 0; /* not asked for: its record is not read */
    evt_signup_t *s;
    bool found;
    if ((w->rc = evt_signup_get(w->t, id, &s, &found)))
        return 1;
    return found ? w->fn(w->arg, s, state) : 0; /* an entry whose record is gone: skipped */
}

int
evt_signup_records(kp_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                   unsigned states, evt_signup_fn *fn, void *arg)
{
    records_t w = {t, states, fn, arg, 0};
    int rc = evt_signups_each(t, event_id, after_id, limit, s_record, &w);
    return rc ? rc : w.rc;
}

/* evt_signup_fn: s into the reply *arg (its array holds the page). */
static int
s_collect_signup(void *arg, evt_signup_t *s, int state)
{
    (void)state;
    Kumppani__V1__ListSignupsReply *r = arg;
    r->signups[r->n_signups++] = s;
    return 0;
}

void
evt_h_signup_list(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__ListSignupsRequest *rq = kp_tx_open(t, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 100, 1000);
    if (!limit)
        return;
    evt_event_t *ev = evt_load_event(t, rq->event_id);
    if (!ev)
        return;
    Kumppani__V1__ListSignupsReply r = KUMPPANI__V1__LIST_SIGNUPS_REPLY__INIT;
    r.event = ev;
    r.signups = kp_arena_alloc(t->arena, limit * sizeof *r.signups);
    int rc = r.signups ? evt_signup_records(t, ev->id, rq->after_id, limit, 0, s_collect_signup, &r)
                       : KP_ENOMEM;
    kp_tx_answer(t, rc, &r.base);
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
} id_acc_t;

static int
s_collect_live(void *arg, uint64_t id, int state)
{
    id_acc_t *acc = arg;
    if (state == SS(CANCELLED))
        return 0;
    if (acc->n == acc->cap)
        return 1;
    acc->v[acc->n++] = id;
    return 0;
}

int
evt_live_signups(kp_tx_t *t, uint64_t event_id, uint64_t **ids, size_t *n)
{
    evt_event_t *ev;
    bool found;
    int rc = evt_event_get(t, event_id, &ev, &found);
    if (rc)
        return rc;
    size_t cap = found ? (size_t)ev->confirmed_n + ev->offered_n + ev->waitlisted_n + 1 : 1;
    if (cap > 20000)
        cap = 20000; /* bounded: the notifier also knows the sign-ups from their own events */
    id_acc_t acc = {kp_arena_alloc(t->arena, cap * sizeof(uint64_t)), 0, cap};
    if (!acc.v)
        return KP_ENOMEM;
    rc = evt_signups_each(t, event_id, 0, UINT32_MAX, s_collect_live, &acc);
    *ids = acc.v;
    *n = acc.n;
    return rc;
}

/* ---- personal links ---------------------------------------------------------------------- */

/* events.signup.get: one sign-up by id, as it is now (the web's personal page: its read model
 * may lag behind an action or miss an erasure); a selfservice key gets the public copy. */
void
evt_h_signup_get(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__CancelSignupRequest *rq = kp_tx_open(t, call, svc);
    evt_signup_t *s = evt_load_signup(t, rq->signup_id);
    if (s)
        s_answer_signup(t, 0, s);
}
