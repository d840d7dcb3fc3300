/*  registry/coverage.c: where the network of contact persons has holes.
 *
 *  Gaps: the municipalities (of a region) without a current contact person on a date (today
 *  by default). Idle: the current contact persons who have not convened their NGOs, that is,
 *  without a contact-person meeting (learned from the events service's log, consume.c) that
 *  started within the last N months up to now, was published (a draft convenes nobody) and
 *  was not cancelled. A meeting counts for a contact person when an organisation they
 *  currently represent or chair organised it, or, when no organisation did, when it is
 *  organised by or (naming no organiser) held in their municipality (see consume.c), and
 *  a meeting that names its convener (from the events log, or entered with
 *  registry.meeting.record, meeting.c) counts for that contact person alone. The
 *  reply says how far the registry has read the events log, so a caller can tell "idle"
 *  from "not heard yet". */
#include "kp_err.h"
#include "registry.h"

#include <string.h>

/* reg_roles_each's fn: stops the walk (1) at a contact person current on the date arg. */
static int
s_current_cp(void *arg, reg_role_t *r)
{
    return r->kind == REG_RK(CONTACT_PERSON) && reg_role_current(r, arg);
}

void
reg_cov_gaps(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__CoverageGapsRequest *rq = kp_tx_open(&tx, call, svc);
    char today[11];
    const char *date = reg_date_or_today(&tx, "on_date", rq->on_date, today);
    if (!date)
        return;
    reg_muni_t **m;
    size_t n;
    int rc = reg_muni_list(&tx, rq->region_code, &m, &n);
    Kumppani__V1__CoverageGapsReply r = KUMPPANI__V1__COVERAGE_GAPS_REPLY__INIT;
    r.municipalities = m;
    for (size_t i = 0; rc >= 0 && i < n; i++)
        if (!(rc = reg_roles_each(&tx, 'm', m[i]->code, 3, s_current_cp, (void *)date)))
            r.municipalities[r.n_municipalities++] = m[i];
    kp_tx_answer(&tx, rc > 0 ? 0 : rc, &r.base);
}

#define ORGS_MAX 32 /* organisations one contact person represents that count */

typedef struct {
    const char *muni;
    uint64_t person_id; /* the contact person */
    const char *date;
    uint64_t orgs[ORGS_MAX]; /* the organisations the contact person represents or chairs */
    size_t orgs_n;
    int64_t now_s;
    int64_t last; /* the latest start found, Unix s; 0: none */
} last_ctx_t;

static int
s_org_role(void *arg, reg_role_t *r)
{
    last_ctx_t *c = arg;
    if ((r->kind == REG_RK(REPRESENTATIVE) || r->kind == REG_RK(CHAIR)) &&
        reg_role_current(r, c->date) && c->orgs_n < ORGS_MAX)
        c->orgs[c->orgs_n++] = r->organisation_id;
    return 0;
}

/* Does the meeting count for the contact person of c? */
static bool
s_theirs(const last_ctx_t *c, const reg_meeting_t *m, uint64_t org)
{
    if (m->organiser_person_id) /* it names its convener */
        return m->organiser_person_id == c->person_id;
    if (!org)
        return strcmp(m->municipality_code, c->muni) == 0;
    for (size_t i = 0; i < c->orgs_n; i++)
        if (c->orgs[i] == org)
            return true;
    return false;
}

static int
s_last_one(void *arg, const reg_meeting_t *m, uint64_t org)
{
    last_ctx_t *c = arg;
    if (!m->cancelled && !m->draft && m->start_unix <= c->now_s && m->start_unix > c->last &&
        s_theirs(c, m, org))
        c->last = m->start_unix;
    return 0;
}

typedef struct {
    kp_tx_t *tx;
    const char *date;
    int64_t now_s, since_s;
    Kumppani__V1__IdleContactPerson **out;
    size_t n, cap;
} idle_ctx_t;

static int
s_idle_one(void *arg, reg_role_t *r)
{
    idle_ctx_t *c = arg;
    if (r->kind != REG_RK(CONTACT_PERSON) || !reg_role_current(r, c->date) || c->n >= c->cap)
        return 0;
    last_ctx_t lc = {.muni = r->municipality_code,
                     .person_id = r->person_id,
                     .date = c->date,
                     .now_s = c->now_s};
    int rc = reg_roles_of(c->tx, 'p', r->person_id, s_org_role, &lc);
    if (!rc)
        rc = reg_meeting_each(c->tx, s_last_one, &lc);
    if (rc || lc.last >= c->since_s)
        return rc;
    Kumppani__V1__IdleContactPerson *ip = kp_arena_alloc(c->tx->arena, sizeof *ip);
    if (!ip)
        return KP_ENOMEM;
    kumppani__v1__idle_contact_person__init(ip);
    ip->role = r;
    ip->last_meeting_unix = lc.last;
    bool found;
    if ((rc = reg_person_get(c->tx, r->person_id, &ip->person, &found)))
        return rc;
    if (!found)
        ip->person = NULL;
    c->out[c->n++] = ip;
    return 0;
}

void
reg_cov_idle(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__CoverageIdleRequest *rq = kp_tx_open(&tx, call, svc);
    unsigned months = rq->months ? rq->months : 6;
    if (months > 60) {
        kp_call_fail(call, REG_C(INVALID), "field 'months': 1..60");
        return;
    }
    char today[11];
    reg_today(&tx, today);
    idle_ctx_t c = {&tx, today, tx.now_ms / 1000, 0, NULL, 0, 4096};
    c.since_s = c.now_s - (int64_t)months * 30 * 86400 - (int64_t)months / 2 * 86400;
    c.out = kp_arena_alloc(tx.arena, c.cap * sizeof *c.out);
    reg_muni_t **m;
    size_t n;
    int rc = c.out ? reg_muni_list(&tx, rq->region_code, &m, &n) : KP_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        rc = reg_roles_each(&tx, 'm', m[i]->code, 3, s_idle_one, &c);
    Kumppani__V1__CoverageIdleReply r = KUMPPANI__V1__COVERAGE_IDLE_REPLY__INIT;
    if (!rc)
        rc = kp_store_offset_get(tx.store, tx.txn, "events", &r.events_applied_seq);
    r.contact_persons = c.out;
    r.n_contact_persons = c.n;
    kp_tx_answer(&tx, rc, &r.base);
}
