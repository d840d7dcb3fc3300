/*  expert-broker/match.c: eligibility and fair ranking of the experts for a request.
 *
 *  Eligibility of an expert for a request (each failed rule is a reason in the explanation):
 *      consent       the expert consented to being brokered
 *      paused        the expert is not paused
 *      expertise     the expert has one of the areas asked for
 *      language      the expert speaks the request's language
 *      area          the expert serves the municipality, or the request can be attended
 *                    remotely and remote work suits the expert
 *      availability  the start falls in one of the expert's weekly windows (none: any time)
 *      blocked-date  the start is not on one of the expert's blocked dates
 *      monthly-cap   fewer confirmed or completed assignments in that month than the cap
 *      already-offered / already-assigned   one offer per expert per request
 *  Ranking of the eligible, in this order of keys:
 *      1. no assignment with the same requester within no-repeat-weeks (those who had one
 *         come after everyone else, so they are asked only when nobody else is left);
 *      2. the longest wait since the last assignment first (never assigned: first of all);
 *      3. fewer assignments in the last 90 days first;
 *      4. the lower expert id (registered earlier) first.
 *  Everything is computed from the store on each call: no state in memory. The offers made
 *  from this order are in offer.c.
 *
 *  Also here, on plain values, the rules of personal-data requests (privacy.c): a subject's
 *  e-mail matches ASCII case-insensitively, a phone by its digits and a leading '+'; a request
 *  holds its requester's data while a contact field (or a private requester's name) is set; a
 *  request ended when it closed (unfilled, cancelled) or, filled, when its event was over. */
#include "broker.h"
#include "kp_err.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x

#define DAY_MS (24LL * 3600 * 1000)
#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

void
brk_local(int64_t unix_s, int *weekday1, int *minute, char date[11], int *year_month)
{
    struct tm tm;
    if (kp_time_local(unix_s, &tm) != 0)
        memset(&tm, 0, sizeof tm); /* out of range: never a real start */
    if (weekday1)
        *weekday1 = tm.tm_wday == 0 ? 7 : tm.tm_wday;
    if (minute)
        *minute = tm.tm_hour * 60 + tm.tm_min;
    if (date)
        strftime(date, 11, "%Y-%m-%d", &tm);
    if (year_month)
        *year_month = (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

const char *
brk_requester_key(kp_tx_t *tx, const brk_request_t *rq)
{
    char *k = kp_arena_alloc(tx->arena, 320);
    if (!k)
        return "";
    brk_requester_key_fmt(rq->input, rq->id, k, 320);
    return k;
}

/* ---- the rules, on plain values ------------------------------------------------------------ */

void
brk_requester_key_fmt(const Kumppani__V1__BrokerRequestInput *in, uint64_t request_id, char *buf,
                      size_t len)
{
    if (in->requester_org_id) {
        snprintf(buf, len, "org:%llu", (unsigned long long)in->requester_org_id);
        return;
    }
    if (in->requester_kind == KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON) {
        snprintf(buf, len, "req:%llu", (unsigned long long)request_id);
        return;
    }
    char low[300];
    kp_text_ascii_lower(low, sizeof low, in->requester_name);
    snprintf(buf, len, "name:%s", low);
}

bool
brk_history_add(brk_history_t *h, const brk_asg_t *a, int request_month, uint64_t request_id,
                int64_t now_ms, unsigned no_repeat_weeks)
{
    if (a->state != AS(CONFIRMED) && a->state != AS(COMPLETED))
        return false;
    int ym;
    brk_local(a->start_unix, NULL, NULL, NULL, &ym);
    if (ym == request_month)
        h->month_n++;
    if (a->confirmed_ms >= now_ms - 90 * DAY_MS)
        h->n90++;
    return a->confirmed_ms >= now_ms - (int64_t)no_repeat_weeks * 7 * DAY_MS &&
           a->request_id != request_id;
}

static bool
s_has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

size_t
brk_ineligible(const brk_expert_t *e, const Kumppani__V1__BrokerRequestInput *in,
               const brk_history_t *h, const char *why[BRK_REASONS_MAX])
{
    const Kumppani__V1__ExpertInput *p = e->profile;
    size_t wn = 0;
    if (e->erased)
        why[wn++] = "erased";
    else if (!p->consent)
        why[wn++] = "consent";
    if (e->paused)
        why[wn++] = "paused";
    bool exp_ok = false;
    for (size_t i = 0; i < in->n_expertise && !exp_ok; i++)
        exp_ok = s_has(p->expertise, p->n_expertise, in->expertise[i]);
    if (!exp_ok)
        why[wn++] = "expertise";
    if (!s_has(p->languages, p->n_languages, in->language))
        why[wn++] = "language";
    bool in_area =
        in->municipality[0] && s_has(p->municipalities, p->n_municipalities, in->municipality);
    if (!in_area && !(in->remote && p->remote_ok))
        why[wn++] = "area";
    int wd, minute;
    char date[11];
    brk_local(in->start_unix, &wd, &minute, date, NULL);
    if (p->n_availability && !in->ongoing) {
        bool fits = false;
        int end = minute + (int)in->duration_min;
        for (size_t i = 0; i < p->n_availability && !fits; i++) {
            const Kumppani__V1__WeeklySlot *s = p->availability[i];
            fits =
                (int)s->weekday == wd && (int)s->from_minute <= minute && end <= (int)s->to_minute;
        }
        if (!fits)
            why[wn++] = "availability";
    }
    if (!in->ongoing && s_has(p->blocked_dates, p->n_blocked_dates, date))
        why[wn++] = "blocked-date";
    if (p->monthly_cap && h->month_n >= p->monthly_cap)
        why[wn++] = "monthly-cap";
    if (h->offer_state)
        why[wn++] = h->offer_state == OS(ACCEPTED) ? "already-assigned" : "already-offered";
    return wn;
}

static int
s_rank_cmp(const void *pa, const void *pb)
{
    const Kumppani__V1__ExpertCandidate *a = *(Kumppani__V1__ExpertCandidate *const *)pa;
    const Kumppani__V1__ExpertCandidate *b = *(Kumppani__V1__ExpertCandidate *const *)pb;
    if (a->eligible != b->eligible)
        return a->eligible ? -1 : 1;
    if (!a->eligible)
        return a->expert_id < b->expert_id ? -1 : a->expert_id > b->expert_id;
    if (a->recent_same_requester != b->recent_same_requester)
        return a->recent_same_requester ? 1 : -1;
    if (a->last_assigned_ms != b->last_assigned_ms)
        return a->last_assigned_ms < b->last_assigned_ms ? -1 : 1;
    if (a->assignments_90d != b->assignments_90d)
        return a->assignments_90d < b->assignments_90d ? -1 : 1;
    return a->expert_id < b->expert_id ? -1 : a->expert_id > b->expert_id;
}

void
brk_rank(Kumppani__V1__ExpertCandidate **v, size_t n)
{
    if (n)
        qsort(v, n, sizeof *v, s_rank_cmp);
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++)
        v[i]->rank = v[i]->eligible ? ++r : 0;
}

/* ---- explain: gathering the facts from the store ------------------------------------------- */

typedef struct {
    kp_tx_t *tx;
    const brk_request_t *rq;
    const char *rkey;
    int month;
    const brk_offer_t **offers; /* the offers made on this request (in the arena) */
    size_t offers_n, offers_cap;
    Kumppani__V1__ExpertCandidate **v;
    size_t n, cap;
    brk_history_t h; /* per expert, while scanning its assignments */
    int rc;
} explain_t;

/* Stops a walk of brk_explain with the error rc. */
static int
s_stop(explain_t *x, int rc)
{
    x->rc = rc;
    return 1;
}

static int
s_offer_seen(void *arg, void *rec)
{
    explain_t *x = arg;
    const brk_offer_t *o = rec;
    const brk_offer_t **nv =
        kp_arena_grow(x->tx->arena, x->offers, x->offers_n, &x->offers_cap, sizeof *nv, 64);
    if (!nv)
        return s_stop(x, KP_ENOMEM);
    x->offers = nv;
    x->offers[x->offers_n++] = o;
    return 0;
}

static int
s_asg_seen(void *arg, void *rec)
{
    explain_t *x = arg;
    const brk_asg_t *a = rec;
    if (!brk_history_add(&x->h, a, x->month, x->rq->id, x->tx->now_ms,
                         brk_svc(x->tx)->no_repeat_weeks))
        return 0;
    brk_request_t *other = brk_get(x->tx, BRK_DB_REQUESTS, a->request_id, &x->rc);
    if (x->rc)
        return 1;
    if (other && strcmp(brk_requester_key(x->tx, other), x->rkey) == 0)
        x->h.same_requester = true;
    return 0;
}

static int
s_expert_seen(void *arg, uint64_t id, void *rec)
{
    explain_t *x = arg;
    kp_tx_t *tx = x->tx;
    brk_expert_t *e = rec;
    (void)id;
    if (!e->profile)
        return s_stop(x, KP_ECORRUPT);
    Kumppani__V1__ExpertCandidate *cd = kp_arena_alloc(tx->arena, sizeof *cd);
    const char **why = kp_arena_alloc(tx->arena, BRK_REASONS_MAX * sizeof *why);
    if (!cd || !why)
        return s_stop(x, KP_ENOMEM);
    kumppani__v1__expert_candidate__init(cd);
    memset(&x->h, 0, sizeof x->h);
    int rc = brk_idx_each_rec(tx, BRK_DB_EXP_ASGS, e->id, BRK_DB_ASGS, s_asg_seen, x);
    if (rc || x->rc)
        return s_stop(x, rc ? rc : x->rc);
    for (size_t i = 0; i < x->offers_n; i++)
        if (x->offers[i]->expert_id == e->id) {
            x->h.offer_state = x->offers[i]->state;
            break;
        }
    size_t wn = brk_ineligible(e, x->rq->input, &x->h, why);
    cd->expert_id = e->id;
    cd->last_assigned_ms = e->last_assigned_ms;
    cd->offer_state = x->h.offer_state;
    cd->assignments_90d = x->h.n90;
    cd->recent_same_requester = x->h.same_requester;
    cd->eligible = wn == 0;
    cd->reasons = (char **)why;
    cd->n_reasons = wn;
    Kumppani__V1__ExpertCandidate **nv =
        kp_arena_grow(tx->arena, x->v, x->n, &x->cap, sizeof *nv, 64);
    if (!nv)
        return s_stop(x, KP_ENOMEM);
    x->v = nv;
    x->v[x->n++] = cd;
    return 0;
}

int
brk_explain(kp_tx_t *tx, const brk_request_t *rq, Kumppani__V1__ExpertCandidate ***out, size_t *n)
{
    explain_t x = {.tx = tx, .rq = rq};
    x.rkey = brk_requester_key(tx, rq);
    brk_local(rq->input->start_unix, NULL, NULL, NULL, &x.month);
    int rc = brk_idx_each_rec(tx, BRK_DB_REQ_OFFERS, rq->id, BRK_DB_OFFERS, s_offer_seen, &x);
    if (!rc && !x.rc)
        rc = brk_each_rec(tx, BRK_DB_EXPERTS, 0, true, s_expert_seen, &x);
    if (rc || x.rc)
        return rc ? rc : x.rc;
    brk_rank(x.v, x.n);
    *out = x.v;
    *n = x.n;
    return 0;
}

/* ---- the personal-data rules on plain values (privacy.c) ------------------------------------ */

bool
brk_requester_held(const brk_request_t *rq)
{
    const Kumppani__V1__BrokerRequestInput *in = rq->input;
    return in && (in->contact_name[0] || in->contact_email[0] || in->contact_phone[0] ||
                  (in->requester_kind == KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON &&
                   in->requester_name[0]));
}

void
brk_requester_clear(Kumppani__V1__BrokerRequestInput *in)
{
    in->contact_name = in->contact_email = in->contact_phone = (char *)"";
    if (in->requester_kind == KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON)
        in->requester_name = (char *)"";
}

/* Keeps the id of a found record; at the cap, stops the walk and notes that there is more. */
static int
s_find_keep(brk_find_t *f, uint64_t id)
{
    if (f->n == f->cap) {
        f->more = true;
        return 1;
    }
    f->ids[f->n++] = id;
    return 0;
}

int
brk_find_expert(void *arg, uint64_t id, void *rec)
{
    brk_find_t *f = arg;
    const brk_expert_t *e = rec;
    bool hit =
        !e->erased && e->profile && kp_privacy_matches(f->s, e->profile->email, e->profile->phone);
    return hit ? s_find_keep(f, id) : 0;
}

int
brk_find_request(void *arg, uint64_t id, void *rec)
{
    brk_find_t *f = arg;
    const brk_request_t *rq = rec;
    bool hit = brk_requester_held(rq);
    if (hit && f->s)
        hit = kp_privacy_matches(f->s, rq->input->contact_email, rq->input->contact_phone);
    if (hit && !f->s) {
        int64_t ended = brk_request_ended_ms(rq);
        hit = ended && ended < f->before_ms;
    }
    return hit ? s_find_keep(f, id) : 0;
}

int64_t
brk_request_ended_ms(const brk_request_t *rq)
{
    if (rq->state == RS(UNFILLED) || rq->state == RS(CANCELLED))
        return rq->closed_ms ? rq->closed_ms : rq->created_ms;
    if (rq->state == RS(FILLED) && rq->input) {
        int64_t end = (rq->input->start_unix + (int64_t)rq->input->duration_min * 60) * 1000;
        return end > rq->filled_ms ? end : rq->filled_ms;
    }
    return 0;
}
