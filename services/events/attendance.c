/*  events/attendance.c: marking who came — one sign-up (events.signup.attendance) or many in
 *  one call (events.signup.attendance_bulk: a coordinator marks the door list back at once
 *  instead of one command per sign-up).
 *
 *  Both go through s_mark, which checks one mark and applies it: only a confirmed sign-up of
 *  a started event that is neither a draft nor cancelled can be marked; marking the same again
 *  changes nothing. The event keeps the places (with companions) marked attended and no-show;
 *  each change is one SignupAttended or SignupNoShow on the log (the public copy).
 *
 *  A bulk call answers every mark on its own (code and message, as a single call would have
 *  answered it): one refused mark does not stop the others. A store error fails the whole
 *  call, and then nothing of it is written (kp_server aborts the turn). */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdio.h>
#include <string.h>

#define C(x) EVT_C(x)
#define ATT(x) KUMPPANI__V1__ATTENDANCE__ATTENDANCE_##x

#define BULK_MAX 1000

/* The outcome of one mark: code is a Code value; why is set unless CODE_OK. */
typedef struct {
    int code;
    char why[96];
    evt_signup_t *s; /* the sign-up after the mark (CODE_OK) */
} mark_t;

static void
s_refuse(mark_t *m, int code, const char *why)
{
    m->code = code;
    snprintf(m->why, sizeof m->why, "%s", why);
}

/* Checks and applies one mark. Returns 0 (the outcome in *m) or a KP code (store). */
static int
s_mark(kp_tx_t *t, uint64_t signup_id, int attendance, mark_t *m)
{
    m->code = C(OK);
    m->why[0] = 0;
    m->s = NULL;
    if (attendance != ATT(ATTENDED) && attendance != ATT(NO_SHOW)) {
        s_refuse(m, C(INVALID), "field 'attendance': ATTENDED or NO_SHOW");
        return 0;
    }
    if (!signup_id) {
        s_refuse(m, C(INVALID), "field 'signup_id': required");
        return 0;
    }
    evt_signup_t *s;
    evt_event_t *ev;
    bool found;
    int rc = evt_signup_get(t, signup_id, &s, &found);
    if (rc)
        return rc;
    if (!found) {
        m->code = C(NOT_FOUND);
        snprintf(m->why, sizeof m->why, "sign-up %llu not found", (unsigned long long)signup_id);
        return 0;
    }
    if ((rc = evt_event_get(t, s->event_id, &ev, &found)))
        return rc;
    if (!found) {
        m->code = C(NOT_FOUND);
        snprintf(m->why, sizeof m->why, "event %llu not found", (unsigned long long)s->event_id);
        return 0;
    }
    if (s->state != SS(CONFIRMED)) {
        s_refuse(m, C(CONFLICT), "only a confirmed sign-up can attend");
        return 0;
    }
    if (ev->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED ||
        ev->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT) {
        m->code = C(CONFLICT);
        snprintf(m->why, sizeof m->why, "event is %s; attendance cannot be marked",
                 evt_state_name(ev->state));
        return 0;
    }
    if (ev->start_unix > t->now_ms / 1000) {
        s_refuse(m, C(CONFLICT), "event has not started yet");
        return 0;
    }
    m->s = s;
    if ((int)s->attendance == attendance)
        return 0; /* the same mark again changes nothing */
    uint32_t p = evt_places(s);
    if (s->attendance == ATT(ATTENDED))
        ev->attended_n -= ev->attended_n >= p ? p : ev->attended_n;
    else if (s->attendance == ATT(NO_SHOW))
        ev->no_show_n -= ev->no_show_n >= p ? p : ev->no_show_n;
    if (attendance == ATT(ATTENDED))
        ev->attended_n += p;
    else
        ev->no_show_n += p;
    s->attendance = attendance;
    s->updated_ms = ev->updated_ms = t->now_ms;
    bool came = attendance == ATT(ATTENDED);
    /* Every sign-up event carries the public copy only. */
    evt_signup_t pub;
    evt_signup_public(s, &pub);
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = &pub;
    if ((rc = evt_signup_put(t, s)) || (rc = evt_event_put(t, ev)) ||
        (rc = kp_tx_emit(t, came ? "SignupAttended" : "SignupNoShow", &r.base)))
        return rc;
    kp_log_info("signup.attendance", "event_id=%llu signup=%llu attended=%d",
                (unsigned long long)ev->id, (unsigned long long)s->id, came);
    return 0;
}

void
evt_h_signup_attendance(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__SignupAttendanceRequest *rq = kp_tx_open(t, call, svc);
    mark_t m;
    int rc = s_mark(t, rq->signup_id, rq->attendance, &m);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (m.code != C(OK)) {
        kp_call_fail(call, m.code, "%s", m.why);
        return;
    }
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = m.s;
    kp_call_ok(call, &r.base);
}

void
evt_h_signup_attendance_bulk(kp_call_t *call, void *svc)
{
    kp_tx_t T, *t = &T;
    const Kumppani__V1__BulkAttendanceRequest *rq = kp_tx_open(t, call, svc);
    if (rq->n_marks == 0 || rq->n_marks > BULK_MAX) {
        kp_call_fail(call, C(INVALID), "field 'marks': 1..%d", BULK_MAX);
        return;
    }
    Kumppani__V1__BulkAttendanceReply r = KUMPPANI__V1__BULK_ATTENDANCE_REPLY__INIT;
    r.results = kp_arena_alloc(t->arena, rq->n_marks * sizeof *r.results);
    Kumppani__V1__AttendanceResult *res =
        kp_arena_alloc(t->arena, rq->n_marks * sizeof(Kumppani__V1__AttendanceResult));
    if (!r.results || !res) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    for (size_t i = 0; i < rq->n_marks; i++) {
        const Kumppani__V1__SignupAttendanceRequest *q = rq->marks[i];
        mark_t m;
        int rc = s_mark(t, q->signup_id, q->attendance, &m);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
        Kumppani__V1__AttendanceResult *x = &res[i];
        kumppani__v1__attendance_result__init(x);
        x->signup_id = q->signup_id;
        x->code = (uint32_t)m.code;
        x->message = m.code == C(OK) ? (char *)"" : kp_arena_memdup(t->arena, m.why, strlen(m.why));
        if (!x->message) {
            kp_call_fail_err(call, KP_ENOMEM);
            return;
        }
        if (m.s)
            x->attendance = m.s->attendance;
        r.marked_n += m.code == C(OK);
        r.results[r.n_results++] = x;
    }
    kp_log_info("signup.attendance.bulk", "marks=%zu marked=%u", rq->n_marks, r.marked_n);
    kp_call_ok(call, &r.base);
}
