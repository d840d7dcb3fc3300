/*  events/api.c: the request handlers of the events service.
 *
 *  Each handler validates everything before it writes anything, names the field and the rule
 *  in its error, and never puts a submitted value into an error or a log line (names, e-mails
 *  and phone numbers are personal data; ids and codes are not). Writes happen in the call's
 *  child transaction, together with the domain event that describes them (kp_call_emit). */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"

#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define MAX_DURATION_S (14 * 24 * 3600)

/* ---- field rules ------------------------------------------------------------------------- */

/* Checks a required or optional text field's length in characters. */
static bool
s_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max)
{
    size_t n = kp_text_chars(v);
    if (n < min) {
        kp_call_fail(call, C(INVALID), "field '%s': required", field);
        return false;
    }
    if (n > max) {
        kp_call_fail(call, C(INVALID), "field '%s': at most %zu characters", field, max);
        return false;
    }
    return true;
}

/* An identifier of an external system: 1..64 of [a-z0-9._-]. */
static bool
s_source(kp_call_t *call, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64) {
        kp_call_fail(call, C(INVALID), "field 'source': 1..64 characters required");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            kp_call_fail(call, C(INVALID), "field 'source': only a-z, 0-9, '.', '_' and '-'");
            return false;
        }
    }
    return true;
}

static bool
s_language(kp_call_t *call, const char *v)
{
    if (!*v || strcmp(v, "fi") == 0 || strcmp(v, "sv") == 0 || strcmp(v, "en") == 0)
        return true;
    kp_call_fail(call, C(INVALID), "field 'language': one of fi, sv, en");
    return false;
}

static bool
s_municipality(kp_call_t *call, const char *v)
{
    if (strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' &&
        v[2] <= '9')
        return true;
    kp_call_fail(call, C(INVALID), "field 'municipality_code': three digits (e.g. 743)");
    return false;
}

static const char *
s_state_name(int state)
{
    switch (state) {
    case KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT:
        return "draft";
    case KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED:
        return "published";
    case KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED:
        return "cancelled";
    case KUMPPANI__V1__EVENT_STATE__EVENT_STATE_HELD:
        return "held";
    default:
        return "unknown";
    }
}

/* Loads an event or answers NOT_FOUND / the store error. */
static evt_event_t *
s_load_event(kp_call_t *call, uint64_t id)
{
    evt_event_t *ev = NULL;
    bool found = false;
    if (id == 0) {
        kp_call_fail(call, C(INVALID), "field 'event_id': required");
        return NULL;
    }
    int rc = evt_event_get(call, id, &ev, &found);
    if (rc) {
        kp_call_fail_err(call, rc);
        return NULL;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "event %llu not found", (unsigned long long)id);
        return NULL;
    }
    return ev;
}

static void
s_reply_event(kp_call_t *call, evt_event_t *ev)
{
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    kp_call_ok(call, &r.base);
}

/* ---- events ------------------------------------------------------------------------------ */

static void
s_event_create(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__CreateEventRequest *rq = kp_call_body(call);
    int64_t now_s = kp_call_now_ms(call) / 1000;
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for create");
        return;
    }
    if (rq->kind <= KUMPPANI__V1__EVENT_KIND__KIND_UNSPECIFIED ||
        rq->kind > KUMPPANI__V1__EVENT_KIND__KIND_OTHER) {
        kp_call_fail(call, C(INVALID), "field 'kind': required, one of the EventKind values");
        return;
    }
    if (!s_text(call, "title", rq->title, 1, 200) || !s_municipality(call, rq->municipality_code) ||
        !s_text(call, "place", rq->place, 0, 300) ||
        !s_text(call, "online_url", rq->online_url, 0, 500) || !s_language(call, rq->language))
        return;
    if (rq->online_url[0] && strncmp(rq->online_url, "https://", 8) != 0 &&
        strncmp(rq->online_url, "http://", 7) != 0) {
        kp_call_fail(call, C(INVALID), "field 'online_url': must start with https:// or http://");
        return;
    }
    if (rq->start_unix <= now_s) {
        kp_call_fail(call, C(INVALID), "field 'start_unix': must be in the future");
        return;
    }
    if (rq->end_unix <= rq->start_unix || rq->end_unix - rq->start_unix > MAX_DURATION_S) {
        kp_call_fail(call, C(INVALID), "field 'end_unix': after the start, within 14 days");
        return;
    }
    if (rq->signup_deadline_unix &&
        (rq->signup_deadline_unix <= now_s || rq->signup_deadline_unix > rq->start_unix)) {
        kp_call_fail(call, C(INVALID),
                     "field 'signup_deadline_unix': in the future and not after the start");
        return;
    }
    if (rq->capacity > 100000) {
        kp_call_fail(call, C(INVALID), "field 'capacity': at most 100000 (0: no limit)");
        return;
    }
    if (kp_call_idem(call, key, klen))
        return;

    evt_event_t ev = KUMPPANI__V1__EVENT_INFO__INIT;
    int rc = kp_store_next_id(kp_call_store(call), kp_call_wtxn(call), "event", &ev.id);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    ev.kind = rq->kind;
    ev.title = rq->title;
    ev.municipality_code = rq->municipality_code;
    ev.start_unix = rq->start_unix;
    ev.end_unix = rq->end_unix;
    ev.capacity = rq->capacity;
    ev.state = KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT;
    ev.place = rq->place;
    ev.online_url = rq->online_url;
    ev.language = (char *)(rq->language[0] ? rq->language : "fi");
    ev.signup_deadline_unix = rq->signup_deadline_unix;
    ev.created_ms = ev.updated_ms = kp_call_now_ms(call);
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = &ev;
    if ((rc = evt_event_put(call, &ev)) || (rc = kp_call_emit(call, "EventCreated", &r.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.created", "event=%llu kind=%d", (unsigned long long)ev.id, ev.kind);
    kp_call_ok(call, &r.base);
}

static void
s_event_publish(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    evt_event_t *ev = s_load_event(call, rq->event_id);
    if (!ev)
        return;
    if (ev->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED) {
        s_reply_event(call, ev); /* publishing twice changes nothing */
        return;
    }
    if (ev->state != KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT) {
        kp_call_fail(call, C(CONFLICT), "event is %s; only a draft can be published",
                     s_state_name(ev->state));
        return;
    }
    if (ev->start_unix <= kp_call_now_ms(call) / 1000) {
        kp_call_fail(call, C(CONFLICT), "event has already started");
        return;
    }
    ev->state = KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED;
    ev->updated_ms = kp_call_now_ms(call);
    Kumppani__V1__EventReply r = KUMPPANI__V1__EVENT_REPLY__INIT;
    r.event = ev;
    int rc;
    if ((rc = evt_event_put(call, ev)) || (rc = kp_call_emit(call, "EventPublished", &r.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("event.published", "event=%llu", (unsigned long long)ev->id);
    kp_call_ok(call, &r.base);
}

static void
s_event_get(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    evt_event_t *ev = s_load_event(call, rq->event_id);
    if (ev)
        s_reply_event(call, ev);
}

typedef struct {
    evt_event_t **v;
    size_t n;
} event_acc_t;

static int
s_collect_event(void *arg, evt_event_t *ev)
{
    event_acc_t *acc = arg;
    acc->v[acc->n++] = ev;
    return 0;
}

static void
s_event_list(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__ListEventsRequest *rq = kp_call_body(call);
    unsigned limit = rq->limit == 0 ? 100 : rq->limit;
    if (limit > 500) {
        kp_call_fail(call, C(INVALID), "field 'limit': at most 500");
        return;
    }
    event_acc_t acc = {kp_arena_alloc(kp_call_arena(call), limit * sizeof *acc.v), 0};
    int rc = acc.v ? evt_events_each(call, rq->after_id, limit, s_collect_event, &acc) : KP_ENOMEM;
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__ListEventsReply r = KUMPPANI__V1__LIST_EVENTS_REPLY__INIT;
    r.events = acc.v;
    r.n_events = acc.n;
    kp_call_ok(call, &r.base);
}

/* ---- sign-ups ---------------------------------------------------------------------------- */

static int
s_emit_signup(kp_call_t *call, const char *type, evt_signup_t *s)
{
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = s;
    return kp_call_emit(call, type, &r.base);
}

static void
s_signup_submit(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__SubmitSignupRequest *rq = kp_call_body(call);
    if (rq->event_id == 0) {
        kp_call_fail(call, C(INVALID), "field 'event_id': required");
        return;
    }
    if (!s_source(call, rq->source) || !s_text(call, "external_id", rq->external_id, 1, 128) ||
        !s_text(call, "name", rq->name, 1, 200) ||
        !s_text(call, "organisation", rq->organisation, 0, 200) || !s_language(call, rq->language))
        return;
    if (!rq->email[0] && !rq->phone[0]) {
        kp_call_fail(call, C(INVALID), "field 'email': an e-mail or a phone number is required");
        return;
    }
    if (rq->email[0] && !kp_text_email_valid(rq->email)) {
        kp_call_fail(call, C(INVALID), "field 'email': not a valid e-mail address");
        return;
    }
    if (rq->phone[0] && !kp_text_phone_valid(rq->phone)) {
        kp_call_fail(call, C(INVALID),
                     "field 'phone': digits, spaces and dashes with an optional leading +");
        return;
    }
    if (rq->role <= KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_UNSPECIFIED ||
        rq->role > KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_EXPERIENCE_EXPERT) {
        kp_call_fail(call, C(INVALID), "field 'role': required, one of the ParticipantRole values");
        return;
    }
    /* The publisher's own id makes the request idempotent: source NUL external_id. */
    size_t sl = strlen(rq->source), el = strlen(rq->external_id);
    char *key = kp_arena_alloc(kp_call_arena(call), sl + 1 + el);
    if (!key) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    memcpy(key, rq->source, sl);
    key[sl] = 0;
    memcpy(key + sl + 1, rq->external_id, el);
    if (kp_call_idem(call, key, sl + 1 + el))
        return;

    evt_event_t *ev = s_load_event(call, rq->event_id);
    if (!ev)
        return;
    int64_t now_s = kp_call_now_ms(call) / 1000;
    if (ev->state != KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED) {
        kp_call_fail(call, C(CONFLICT), "event is %s; sign-ups are open only when published",
                     s_state_name(ev->state));
        return;
    }
    int64_t deadline = ev->signup_deadline_unix ? ev->signup_deadline_unix : ev->start_unix;
    if (now_s >= deadline) {
        kp_call_fail(call, C(CONFLICT), "the sign-up deadline of event %llu has passed",
                     (unsigned long long)ev->id);
        return;
    }
    int rc;
    if (rq->email[0]) {
        uint64_t other;
        bool dup = false;
        if ((rc = evt_email_get(call, ev->id, rq->email, &other, &dup))) {
            kp_call_fail_err(call, rc);
            return;
        }
        if (dup) {
            kp_call_fail(call, C(CONFLICT),
                         "this e-mail address is already signed up to event %llu (sign-up %llu)",
                         (unsigned long long)ev->id, (unsigned long long)other);
            return;
        }
    }
    evt_signup_t s = KUMPPANI__V1__SIGNUP__INIT;
    if ((rc = kp_store_next_id(kp_call_store(call), kp_call_wtxn(call), "signup", &s.id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s.event_id = ev->id;
    s.source = rq->source;
    s.external_id = rq->external_id;
    s.name = rq->name;
    s.email = rq->email;
    s.phone = rq->phone;
    s.organisation = rq->organisation;
    s.role = rq->role;
    s.consent_reminders = rq->consent_reminders;
    s.language = (char *)(rq->language[0] ? rq->language : ev->language);
    s.created_ms = s.updated_ms = kp_call_now_ms(call);
    bool room = ev->capacity == 0 || ev->confirmed_n < ev->capacity;
    s.state = room ? KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED
                   : KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_WAITLISTED;
    if (room)
        ev->confirmed_n++;
    else
        ev->waitlisted_n++;
    ev->updated_ms = s.created_ms;
    if ((rc = evt_signup_put(call, &s)) ||
        (rq->email[0] && (rc = evt_email_put(call, ev->id, rq->email, s.id))) ||
        (rc = evt_event_put(call, ev)) ||
        (rc = s_emit_signup(call, room ? "SignupConfirmed" : "SignupWaitlisted", &s))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_debug("signup.stored", "event=%llu signup=%llu state=%d", (unsigned long long)ev->id,
                 (unsigned long long)s.id, s.state);
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = &s;
    kp_call_ok(call, &r.base);
}

/* Promotes the earliest waitlisted sign-up into a freed place, if there is one. */
static int
s_promote(kp_call_t *call, evt_event_t *ev)
{
    uint64_t id;
    bool found;
    int rc = evt_first_waitlisted(call, ev->id, &id, &found);
    if (rc || !found)
        return rc;
    evt_signup_t *w;
    if ((rc = evt_signup_get(call, id, &w, &found)))
        return rc;
    if (!found)
        return KP_ECORRUPT;
    w->state = KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED;
    w->updated_ms = kp_call_now_ms(call);
    ev->waitlisted_n--;
    ev->confirmed_n++;
    if ((rc = evt_signup_put(call, w)) || (rc = s_emit_signup(call, "SignupPromoted", w)))
        return rc;
    kp_log_info("signup.promoted", "event=%llu signup=%llu", (unsigned long long)ev->id,
                (unsigned long long)w->id);
    return 0;
}

static void
s_signup_cancel(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__CancelSignupRequest *rq = kp_call_body(call);
    uint64_t id = rq->signup_id;
    bool found = false;
    int rc;
    if (!id) {
        if (!s_source(call, rq->source) || !s_text(call, "external_id", rq->external_id, 1, 128))
            return;
        if ((rc = evt_signup_by_ext(call, rq->source, rq->external_id, &id, &found))) {
            kp_call_fail_err(call, rc);
            return;
        }
        if (!found) {
            kp_call_fail(call, C(NOT_FOUND), "no sign-up with this source and external_id");
            return;
        }
    }
    evt_signup_t *s;
    if ((rc = evt_signup_get(call, id, &s, &found))) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "sign-up %llu not found", (unsigned long long)id);
        return;
    }
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = s;
    if (s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED) {
        kp_call_ok(call, &r.base); /* cancelling again changes nothing */
        return;
    }
    evt_event_t *ev = s_load_event(call, s->event_id);
    if (!ev)
        return;
    bool was_confirmed = s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED;
    if (was_confirmed)
        ev->confirmed_n--;
    else
        ev->waitlisted_n--;
    s->state = KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED;
    s->updated_ms = ev->updated_ms = kp_call_now_ms(call);
    if ((rc = evt_signup_put(call, s)) ||
        (s->email[0] && (rc = evt_email_del(call, ev->id, s->email))) ||
        (rc = s_emit_signup(call, "SignupCancelled", s)) ||
        (was_confirmed && ev->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED &&
         (rc = s_promote(call, ev))) ||
        (rc = evt_event_put(call, ev))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("signup.cancelled", "event=%llu signup=%llu", (unsigned long long)ev->id,
                (unsigned long long)s->id);
    kp_call_ok(call, &r.base);
}

typedef struct {
    kp_call_t *call;
    evt_signup_t **v;
    size_t n;
    int rc;
} signup_acc_t;

static int
s_collect_signup(void *arg, uint64_t id)
{
    signup_acc_t *acc = arg;
    bool found;
    evt_signup_t *s;
    acc->rc = evt_signup_get(acc->call, id, &s, &found);
    if (acc->rc)
        return 1;
    if (found)
        acc->v[acc->n++] = s;
    return 0;
}

static void
s_signup_list(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__ListSignupsRequest *rq = kp_call_body(call);
    unsigned limit = rq->limit == 0 ? 100 : rq->limit;
    if (limit > 1000) {
        kp_call_fail(call, C(INVALID), "field 'limit': at most 1000");
        return;
    }
    evt_event_t *ev = s_load_event(call, rq->event_id);
    if (!ev)
        return;
    signup_acc_t acc = {call, kp_arena_alloc(kp_call_arena(call), limit * sizeof *acc.v), 0, 0};
    int rc = acc.v ? evt_signups_each(call, ev->id, rq->after_id, limit, s_collect_signup, &acc)
                   : KP_ENOMEM;
    if (rc || acc.rc) {
        kp_call_fail_err(call, rc ? rc : acc.rc);
        return;
    }
    Kumppani__V1__ListSignupsReply r = KUMPPANI__V1__LIST_SIGNUPS_REPLY__INIT;
    r.event = ev;
    r.signups = acc.v;
    r.n_signups = acc.n;
    kp_call_ok(call, &r.base);
}

#define READERS (KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE)

const kp_method_t evt_methods[] = {
    {"events.event.create", KP_ROLE_ADMIN, &kumppani__v1__create_event_request__descriptor,
     s_event_create},
    {"events.event.publish", KP_ROLE_ADMIN, &kumppani__v1__event_ref__descriptor, s_event_publish},
    {"events.event.get", READERS, &kumppani__v1__event_ref__descriptor, s_event_get},
    {"events.event.list", READERS, &kumppani__v1__list_events_request__descriptor, s_event_list},
    {EVT_METHOD_SUBMIT, KP_ROLE_ADMIN | KP_ROLE_PUBLISHER,
     &kumppani__v1__submit_signup_request__descriptor, s_signup_submit},
    {"events.signup.cancel", KP_ROLE_ADMIN | KP_ROLE_PUBLISHER,
     &kumppani__v1__cancel_signup_request__descriptor, s_signup_cancel},
    {"events.signup.list", KP_ROLE_ADMIN | KP_ROLE_READER,
     &kumppani__v1__list_signups_request__descriptor, s_signup_list},
};
const unsigned evt_methods_n = sizeof evt_methods / sizeof evt_methods[0];
