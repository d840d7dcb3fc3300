/*  expert-broker/offer.c: offers in waves, and answering them (accept, decline).
 *
 *  brk_fill brings a request forward: when enough experts accepted it is filled (open offers
 *  withdrawn); otherwise, while places are open and the answer deadline has not passed, the
 *  next eligible candidates in rank order (match.c) get an offer, one wave at a time; when
 *  nobody is left and no offer is open, it is unfilled. Every open offer has two rows in the
 *  schedule (lapsing soon, lapse; timer.c) which leave with it (brk_offer_close).
 *
 *  The ranking decides, not the fastest answer: an acceptance is held (Offer.held_ms; the
 *  offer stays open). brk_fill confirms held acceptances in (wave, rank) order while places
 *  are open, each one as soon as no expert ranked above it in its wave is still to answer (an
 *  unanswered offer past its deadline does not count: it lapses). So a wave resolves when all
 *  its experts have answered or when its deadline passes, with the result of choosing by rank
 *  among all held acceptances; the top-ranked one is confirmed at once. Confirming makes the
 *  assignment (assignment.c); when the request fills, the held ones not needed are withdrawn
 *  with the reason "not needed". */
#include "broker.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_pbcopy.h"

#include <stdlib.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

int64_t
brk_soon_ms(const brk_offer_t *o)
{
    int64_t ttl = o->deadline_ms - o->made_ms, lead = ttl / 4;
    if (lead > 6 * 3600 * 1000LL)
        lead = 6 * 3600 * 1000LL;
    return o->deadline_ms - lead;
}

int
brk_offer_close(kp_tx_t *tx, brk_offer_t *o, Kumppani__V1__OfferState state, const char *type)
{
    o->state = state;
    o->answered_ms = tx->now_ms;
    int rc;
    if ((rc = brk_due_del(tx, brk_soon_ms(o), BRK_DUE_SOON, o->id)) ||
        (rc = brk_due_del(tx, o->deadline_ms, BRK_DUE_LAPSE, o->id)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_OFFERS, o->id, &o->base)) ||
        (rc = brk_emit(tx, type, &o->base)))
        return rc;
    kp_log_info("offer.closed", "offer=%llu request=%llu state=%d", (unsigned long long)o->id,
                (unsigned long long)o->request_id, (int)state);
    return 0;
}

typedef struct {
    brk_offer_t **open;
    size_t open_n;
} open_acc_t;

static int
s_open_offer(void *arg, void *rec)
{
    open_acc_t *acc = arg;
    brk_offer_t *o = rec;
    if (o->state == OS(OPEN) && acc->open_n < 256)
        acc->open[acc->open_n++] = o;
    return 0;
}

/* The request's open offers (at most 256) into acc, in the arena. Returns 0 or a KP code. */
static int
s_open_offers(kp_tx_t *tx, const brk_request_t *rq, open_acc_t *acc)
{
    *acc = (open_acc_t){kp_arena_alloc(tx->arena, 256 * sizeof(brk_offer_t *)), 0};
    if (!acc->open)
        return KP_ENOMEM;
    return brk_idx_each_rec(tx, BRK_DB_REQ_OFFERS, rq->id, BRK_DB_OFFERS, s_open_offer, acc);
}

static int
s_make_offer(kp_tx_t *tx, brk_request_t *rq, uint64_t expert_id, uint32_t rank)
{
    brk_offer_t o = KUMPPANI__V1__OFFER__INIT;
    int rc = kp_tx_next_id(tx, "offer", &o.id);
    if (rc)
        return rc;
    const Kumppani__V1__BrokerRequestInput *in = rq->input;
    o.request_id = rq->id;
    o.expert_id = expert_id;
    o.state = OS(OPEN);
    o.wave = rq->wave;
    o.rank = rank;
    o.made_ms = tx->now_ms;
    int64_t ttl = (int64_t)(in->offer_hours ? in->offer_hours : 48) * 3600 * 1000;
    o.deadline_ms = tx->now_ms + ttl;
    if (o.deadline_ms > in->answer_deadline_unix * 1000)
        o.deadline_ms = in->answer_deadline_unix * 1000;
    o.reason = "";
    if ((rc = kp_rec_put_id(tx, BRK_DB_OFFERS, o.id, &o.base)) ||
        (rc = brk_idx_put(tx, BRK_DB_REQ_OFFERS, rq->id, o.id)) ||
        (rc = brk_due_put(tx, brk_soon_ms(&o), BRK_DUE_SOON, o.id)) ||
        (rc = brk_due_put(tx, o.deadline_ms, BRK_DUE_LAPSE, o.id)) ||
        (rc = brk_emit(tx, "OfferMade", &o.base)))
        return rc;
    kp_log_info("offer.made", "offer=%llu request=%llu expert=%llu wave=%u rank=%u",
                (unsigned long long)o.id, (unsigned long long)rq->id, (unsigned long long)expert_id,
                o.wave, rank);
    return 0;
}

int
brk_offers_withdraw(kp_tx_t *tx, brk_request_t *rq)
{
    open_acc_t acc;
    int rc = s_open_offers(tx, rq, &acc);
    if (rc)
        return rc;
    for (size_t i = 0; i < acc.open_n; i++) {
        if (acc.open[i]->held_ms)
            acc.open[i]->reason = "not needed";
        if ((rc = brk_offer_close(tx, acc.open[i], OS(WITHDRAWN), "OfferWithdrawn")))
            return rc;
    }
    return 0;
}

/* Confirms a held acceptance: the offer accepted, a confirmed assignment (into *out when out
 * is not NULL), the expert's last-assignment time. Writes. */
static int
s_confirm(kp_tx_t *tx, brk_request_t *rq, brk_offer_t *o, brk_asg_t **out)
{
    int rc;
    brk_expert_t *e = brk_get(tx, BRK_DB_EXPERTS, o->expert_id, &rc);
    if (rc || !e)
        return rc ? rc : KP_ECORRUPT;
    brk_asg_t *a = kp_arena_alloc(tx->arena, sizeof *a);
    if (!a)
        return KP_ENOMEM;
    kumppani__v1__assignment__init(a);
    if ((rc = kp_tx_next_id(tx, "assignment", &a->id)))
        return rc;
    a->request_id = rq->id;
    a->expert_id = e->id;
    a->offer_id = o->id;
    a->state = AS(CONFIRMED);
    a->confirmed_ms = tx->now_ms;
    a->cancelled_by = a->cancel_reason = "";
    a->start_unix = rq->input->start_unix;
    e->last_assigned_ms = tx->now_ms;
    rq->accepted_n++;
    if ((rc = brk_offer_close(tx, o, OS(ACCEPTED), "OfferAccepted")) ||
        (rc = kp_rec_put_id(tx, BRK_DB_ASGS, a->id, &a->base)) ||
        (rc = brk_idx_put(tx, BRK_DB_EXP_ASGS, e->id, a->id)) ||
        (rc = brk_idx_put(tx, BRK_DB_REQ_ASGS, rq->id, a->id)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base)) ||
        (rc = brk_emit(tx, "AssignmentConfirmed", &a->base)))
        return rc;
    kp_log_info("assignment.confirmed", "assignment=%llu request=%llu expert=%llu rank=%u",
                (unsigned long long)a->id, (unsigned long long)rq->id, (unsigned long long)e->id,
                o->rank);
    if (out)
        *out = a;
    return 0;
}

static int
s_wave_rank_cmp(const void *pa, const void *pb)
{
    const brk_offer_t *a = *(brk_offer_t *const *)pa, *b = *(brk_offer_t *const *)pb;
    if (a->wave != b->wave)
        return a->wave < b->wave ? -1 : 1;
    return (a->rank > b->rank) - (a->rank < b->rank);
}

/* Confirms the held acceptances the ranking allows (see the top of the file) among the open
 * offers v (sorted here); for offer `want` the assignment goes into *got. Writes. */
static int
s_resolve(kp_tx_t *tx, brk_request_t *rq, brk_offer_t **v, size_t n, uint64_t want, brk_asg_t **got)
{
    qsort(v, n, sizeof *v, s_wave_rank_cmp);
    for (size_t i = 0; i < n && rq->accepted_n < rq->input->experts_needed; i++) {
        if (!v[i]->held_ms)
            continue;
        bool blocked = false;
        for (size_t j = 0; j < i && !blocked; j++)
            blocked = v[j]->wave == v[i]->wave && v[j]->state == OS(OPEN) && !v[j]->held_ms &&
                      v[j]->deadline_ms > tx->now_ms;
        if (blocked)
            continue;
        int rc = s_confirm(tx, rq, v[i], v[i]->id == want ? got : NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* brk_fill; for offer `want` the assignment it confirms goes into *got. */
static int
s_fill(kp_tx_t *tx, brk_request_t *rq, uint64_t want, brk_asg_t **got)
{
    if (rq->state != RS(OPEN))
        return 0;
    const Kumppani__V1__BrokerRequestInput *in = rq->input;
    open_acc_t acc;
    int rc = s_open_offers(tx, rq, &acc);
    if (rc)
        return rc;
    if ((rc = s_resolve(tx, rq, acc.open, acc.open_n, want, got)))
        return rc;
    if (rq->accepted_n >= in->experts_needed)
        return brk_request_close(tx, rq, RS(FILLED), "RequestFilled");
    size_t still = 0;
    for (size_t i = 0; i < acc.open_n; i++)
        still += acc.open[i]->state == OS(OPEN);
    acc.open_n = still;
    uint32_t wave = in->wave_size ? in->wave_size : in->experts_needed;
    int64_t slots = (int64_t)wave - rq->accepted_n - (int64_t)acc.open_n;
    size_t made = 0;
    if (slots > 0 && tx->now_ms < in->answer_deadline_unix * 1000) {
        Kumppani__V1__ExpertCandidate **v;
        size_t n;
        if ((rc = brk_explain(tx, rq, &v, &n)))
            return rc;
        for (size_t i = 0; i < n && (int64_t)made < slots && v[i]->eligible; i++) {
            if (made == 0)
                rq->wave++;
            if ((rc = s_make_offer(tx, rq, v[i]->expert_id, v[i]->rank)))
                return rc;
            made++;
        }
    }
    if (made == 0 && acc.open_n == 0)
        return brk_request_close(tx, rq, RS(UNFILLED), "RequestUnfilled");
    return made ? kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base) : 0;
}

int
brk_fill(kp_tx_t *tx, brk_request_t *rq)
{
    return s_fill(tx, rq, 0, NULL);
}

static brk_offer_t *
s_load_open_offer(kp_call_t *call, kp_tx_t *tx, uint64_t id, brk_request_t **rq)
{
    brk_offer_t *o = brk_load(tx, BRK_DB_OFFERS, "offer_id", "offer", id);
    if (!o)
        return NULL;
    static const char *const names[] = {"unknown",  "open",   "accepted",
                                        "declined", "lapsed", "withdrawn"};
    if (o->state == OS(OPEN) && o->held_ms) {
        kp_call_fail(call, C(CONFLICT),
                     "offer %llu is accepted and held until its wave is decided by rank",
                     (unsigned long long)id);
        return NULL;
    }
    if (o->state != OS(OPEN) || o->deadline_ms <= tx->now_ms) {
        kp_call_fail(call, C(CONFLICT), "offer %llu is %s; only an open offer can be answered",
                     (unsigned long long)id,
                     o->state == OS(OPEN) ? "past its deadline" : names[o->state % 6]);
        return NULL;
    }
    *rq = brk_load_ref(tx, o->request_id);
    return *rq ? o : NULL;
}

/* Ends the call: the error rc, or the offer o with the assignment a it confirmed (if any). */
static void
s_answer_offer(kp_tx_t *tx, int rc, brk_offer_t *o, brk_asg_t *a)
{
    Kumppani__V1__OfferReply r = KUMPPANI__V1__OFFER_REPLY__INIT;
    r.offer = o;
    r.assignment = a;
    kp_tx_answer(tx, rc, &r.base);
}

void
brk_offer_accept(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OfferRef *body = kp_tx_open(&tx, call, svc);
    brk_request_t *rq;
    brk_offer_t *o = s_load_open_offer(call, &tx, body->offer_id, &rq);
    if (!o)
        return;
    o->held_ms = tx.now_ms;
    brk_asg_t *a = NULL;
    int rc;
    if ((rc = kp_rec_put_id(&tx, BRK_DB_OFFERS, o->id, &o->base)) ||
        (rc = brk_emit(&tx, "OfferHeld", &o->base)) || (rc = s_fill(&tx, rq, o->id, &a)) ||
        !(o = brk_get(&tx, BRK_DB_OFFERS, body->offer_id, &rc))) {
        kp_call_fail_err(call, rc ? rc : KP_ECORRUPT);
        return;
    }
    kp_log_info("offer.held", "offer=%llu request=%llu confirmed=%d", (unsigned long long)o->id,
                (unsigned long long)rq->id, a != NULL);
    s_answer_offer(&tx, 0, o, a);
}

void
brk_offer_decline(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__DeclineOfferRequest *body = kp_tx_open(&tx, call, svc);
    brk_request_t *rq;
    brk_offer_t *o = s_load_open_offer(call, &tx, body->offer_id, &rq);
    if (!o || !kp_check_text(call, "reason", body->reason, 0, 500))
        return;
    o->reason = body->reason;
    int rc = brk_offer_close(&tx, o, OS(DECLINED), "OfferDeclined");
    if (!rc)
        rc = brk_fill(&tx, rq);
    s_answer_offer(&tx, rc, o, NULL);
}

/* ---- personal links ---------------------------------------------------------------------- */

/* The public facts are the fields named in pub; the requester, the contact person and the
 * description are among those left out. */
Kumppani__V1__BrokerRequestInput *
brk_request_public(kp_tx_t *tx, const Kumppani__V1__BrokerRequestInput *in)
{
    Kumppani__V1__BrokerRequestInput *p = kp_arena_alloc(tx->arena, sizeof *p);
    if (!p)
        return NULL;
    kumppani__v1__broker_request_input__init(p);
    static const char *const pub[] = {"title",         "purpose",      "start_unix",
                                      "duration_min",  "ongoing",      "municipality",
                                      "place",         "remote",       "language",
                                      "fee_cents",     "travel_cents", "answer_deadline_unix",
                                      "experts_needed"};
    const ProtobufCMessageDescriptor *d = &kumppani__v1__broker_request_input__descriptor;
    for (size_t i = 0; in && i < sizeof pub / sizeof pub[0]; i++)
        kp_pbcopy_field(&p->base, &in->base,
                        protobuf_c_message_descriptor_get_field_by_name(d, pub[i]));
    return p;
}

/* broker.offer.view: the expert's page of one offer (OfferView: no requester data). */
void
brk_offer_view(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OfferRef *body = kp_tx_open(&tx, call, svc);
    brk_offer_t *o = brk_load(&tx, BRK_DB_OFFERS, "offer_id", "offer", body->offer_id);
    if (!o)
        return;
    brk_request_t *rq = brk_load_ref(&tx, o->request_id);
    if (!rq)
        return;
    Kumppani__V1__OfferView v = KUMPPANI__V1__OFFER_VIEW__INIT;
    v.offer = o;
    v.request_state = rq->state;
    if (!(v.request = brk_request_public(&tx, rq->input))) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    kp_call_ok(call, &v.base);
}
