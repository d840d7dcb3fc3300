/*  registry/meeting.c: contact-person meetings entered by hand.
 *
 *  The registry learns meetings from the events service's log (consume.c). Meetings held
 *  before the suite was in use, or held without the events service, would leave every
 *  contact person "never convened" at go-live; registry.meeting.record enters such a meeting:
 *  the contact person who convened it, the date, the municipality. It is stored beside the
 *  learned ones (its key has the top bit set, registry.h), is not a draft, names its convener
 *  (organiser_person_id) and so counts for that person alone in registry.coverage.idle. Its
 *  time is the Helsinki noon of its date. "MeetingRecorded" on the log carries ids, a code and
 *  a date only.
 *
 *  The person must be, or have been, a contact person of the municipality (at any date: a
 *  role is often entered at go-live, after the meetings it convened). */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "kp_time.h"
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#define LIST_MAX 500

typedef struct {
    const char *date;  /* held_on */
    const char *muni;  /* the municipality asked for, or "" */
    const char *found; /* a municipality of a contact-person role of the person */
    unsigned on_date;  /* contact-person roles current on date (muni "") */
    const char *on_date_muni;
    bool any; /* a contact-person role there (muni given) */
} cp_ctx_t;

static int
s_cp_role(void *arg, reg_role_t *r)
{
    cp_ctx_t *c = arg;
    if (r->kind != REG_RK(CONTACT_PERSON))
        return 0;
    if (c->muni[0]) {
        c->any = c->any || strcmp(r->municipality_code, c->muni) == 0;
        return 0;
    }
    if (reg_role_current(r, c->date) &&
        (!c->on_date_muni || strcmp(c->on_date_muni, r->municipality_code) != 0)) {
        c->on_date++;
        c->on_date_muni = r->municipality_code;
    }
    if (!c->found)
        c->found = r->municipality_code;
    else if (strcmp(c->found, r->municipality_code) != 0)
        c->found = ""; /* several: ambiguous unless one is current on the date */
    return 0;
}

void
reg_meeting_record(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__RecordMeetingRequest *rq = kp_tx_open(&tx, call, svc);
    if (!kp_call_idem_key_ok(call, "record"))
        return;
    char today[11];
    reg_today(&tx, today);
    if (!reg_date_valid(rq->held_on) || strcmp(rq->held_on, today) > 0) {
        kp_call_fail(call, REG_C(INVALID), "field 'held_on': a date YYYY-MM-DD, not after today");
        return;
    }
    if (rq->municipality_code[0] &&
        !kp_check_muni_code(call, "municipality_code", rq->municipality_code))
        return;
    if (!reg_need_id(call, "person_id", rq->person_id))
        return;
    if (kp_call_idem_required(call, "record"))
        return;
    reg_person_t *p = reg_person_load(&tx, "person_id", rq->person_id);
    if (!p)
        return;
    cp_ctx_t c = {.date = rq->held_on, .muni = rq->municipality_code};
    int rc = reg_roles_of(&tx, 'p', p->id, s_cp_role, &c);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    const char *muni = rq->municipality_code;
    if (muni[0] && !c.any) {
        kp_call_fail(call, REG_C(CONFLICT),
                     "field 'person_id': not a contact person of the municipality");
        return;
    }
    if (!muni[0]) {
        muni = c.on_date == 1 ? c.on_date_muni : c.found;
        if (!muni || !muni[0]) {
            kp_call_fail(call, muni ? REG_C(INVALID) : REG_C(CONFLICT),
                         muni ? "field 'municipality_code': required (the person is a contact "
                                "person of several municipalities)"
                              : "field 'person_id': not a contact person");
            return;
        }
    }
    /* reg_date_valid checked the form YYYY-MM-DD. */
    const char *d = rq->held_on;
    struct tm tm = {.tm_year = (int)strtol(d, NULL, 10) - 1900,
                    .tm_mon = (int)strtol(d + 5, NULL, 10) - 1,
                    .tm_mday = (int)strtol(d + 8, NULL, 10),
                    .tm_hour = 12};
    reg_meeting_t m = KUMPPANI__V1__CONTACT_PERSON_MEETING__INIT;
    if (kp_time_from_local(&tm, &m.start_unix)) {
        kp_call_fail(call, REG_C(INVALID), "field 'held_on': a date YYYY-MM-DD");
        return;
    }
    m.municipality_code = (char *)muni;
    m.organiser_person_id = p->id;
    m.held_on = rq->held_on;
    Kumppani__V1__MeetingReply r = KUMPPANI__V1__MEETING_REPLY__INIT;
    r.meeting = &m;
    if (!(rc = kp_tx_next_id(&tx, "meeting", &m.recorded_id)) &&
        !(rc = reg_meeting_put(&tx, &m, 0)) && !(rc = kp_tx_emit(&tx, "MeetingRecorded", &r.base)))
        kp_log_info("meeting.recorded", "meeting=%llu person=%llu municipality=%s",
                    (unsigned long long)m.recorded_id, (unsigned long long)p->id, muni);
    kp_tx_answer(&tx, rc, &r.base);
}

typedef struct {
    uint64_t person_id;
    reg_meeting_t **v;
    size_t n;
} list_ctx_t;

static int
s_list_one(void *arg, const reg_meeting_t *m, uint64_t org)
{
    (void)org;
    list_ctx_t *c = arg;
    if (m->organiser_person_id != c->person_id)
        return 0;
    if (c->n == LIST_MAX) { /* keep the latest */
        size_t oldest = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->v[i]->start_unix < c->v[oldest]->start_unix)
                oldest = i;
        if (c->v[oldest]->start_unix < m->start_unix)
            c->v[oldest] = (reg_meeting_t *)m;
        return 0;
    }
    c->v[c->n++] = (reg_meeting_t *)m;
    return 0;
}

static int
s_latest_first(const void *a, const void *b)
{
    const reg_meeting_t *x = *(reg_meeting_t *const *)a, *y = *(reg_meeting_t *const *)b;
    return x->start_unix > y->start_unix ? -1 : x->start_unix < y->start_unix;
}

void
reg_meeting_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListMeetingsRequest *rq = kp_tx_open(&tx, call, svc);
    if (!reg_need_id(call, "person_id", rq->person_id))
        return;
    list_ctx_t c = {rq->person_id, kp_arena_alloc(tx.arena, LIST_MAX * sizeof *c.v), 0};
    int rc = c.v ? reg_meeting_each(&tx, s_list_one, &c) : KP_ENOMEM;
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    qsort(c.v, c.n, sizeof *c.v, s_latest_first);
    Kumppani__V1__ListMeetingsReply r = KUMPPANI__V1__LIST_MEETINGS_REPLY__INIT;
    r.meetings = c.v;
    r.n_meetings = c.n;
    kp_call_ok(call, &r.base);
}
