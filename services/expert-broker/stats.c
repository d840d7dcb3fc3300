/*  expert-broker/stats.c: broker.stats, the figures of a period.
 *
 *  Requests filed in the period by state, the mean and median time to fill, working groups
 *  with an expert, and per expert the assignments confirmed in the period with their spread
 *  (min, max, Gini coefficient), the fairness the ranking aims at. Computed from the store on
 *  each call.
 *
 *  The spread is over the experts eligible for at least one request filed in the period: those
 *  offered one, and those eligible for one by brk_explain's rules as they stand now (an expert
 *  who could never have been asked, e.g. another expertise, says nothing about fairness).
 *  per_expert still lists every active expert, each marked eligible or not. */
#include "broker.h"
#include "kp_err.h"

#include <stdlib.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

typedef struct {
    kp_tx_t *tx;
    int64_t from_ms, to_ms;
    Kumppani__V1__BrokerStatsReply *r;
    int64_t *fill;
    size_t fill_n;
    Kumppani__V1__ExpertCount **pe;
    size_t pe_n;
    kp_arena_t *scratch; /* brk_explain's work for one request, reset after each */
    int rc;
} stats_t;

/* The expert's entry (pe is in id order), or NULL. */
static Kumppani__V1__ExpertCount *
s_pe_find(stats_t *x, uint64_t expert_id)
{
    size_t lo = 0, hi = x->pe_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->pe[mid]->expert_id < expert_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->pe_n && x->pe[lo]->expert_id == expert_id ? x->pe[lo] : NULL;
}

/* Marks the experts offered the request or eligible for it. */
static int
s_mark_eligible(stats_t *x, const brk_request_t *rq)
{
    kp_tx_t t = *x->tx;
    t.arena = x->scratch;
    Kumppani__V1__ExpertCandidate **v;
    size_t n;
    int rc = brk_explain(&t, rq, &v, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        Kumppani__V1__ExpertCount *ec = s_pe_find(x, v[i]->expert_id);
        if (ec && (v[i]->eligible || v[i]->offer_state))
            ec->eligible = true;
    }
    kp_arena_reset(x->scratch);
    return rc;
}

static int
s_stats_req(void *arg, uint64_t id, void *rec)
{
    stats_t *x = arg;
    const brk_request_t *rq = rec;
    (void)id;
    if (rq->created_ms < x->from_ms || rq->created_ms >= x->to_ms)
        return 0;
    Kumppani__V1__BrokerStatsReply *r = x->r;
    r->requests_filed++;
    switch (rq->state) {
    case RS(FILLED):
        r->requests_filled++;
        break;
    case RS(UNFILLED):
        r->requests_unfilled++;
        break;
    case RS(CANCELLED):
        r->requests_cancelled++;
        break;
    default:
        r->requests_open++;
    }
    if ((x->rc = s_mark_eligible(x, rq)))
        return 1;
    if (rq->filled_ms && x->fill_n < 100000)
        x->fill[x->fill_n++] = rq->filled_ms - rq->created_ms;
    if (rq->input->purpose == KUMPPANI__V1__PURPOSE__PURPOSE_WORKING_GROUP) {
        r->working_groups++;
        uint64_t ids[64];
        size_t ids_n;
        x->rc = brk_idx_ids(x->tx, BRK_DB_REQ_ASGS, rq->id, ids, 64, &ids_n);
        bool with = false;
        for (size_t i = 0; !x->rc && i < ids_n && !with; i++) {
            brk_asg_t *a = brk_get(x->tx, BRK_DB_ASGS, ids[i], &x->rc);
            with = a && (a->state == AS(CONFIRMED) || a->state == AS(COMPLETED));
        }
        if (with)
            r->working_groups_with_expert++;
    }
    return x->rc != 0;
}

static int
s_stats_expert(void *arg, uint64_t id, void *rec)
{
    stats_t *x = arg;
    if (x->pe_n >= 20000)
        return 1;
    if (((const brk_expert_t *)rec)->erased)
        return 0;
    Kumppani__V1__ExpertCount *ec = kp_arena_alloc(x->tx->arena, sizeof *ec);
    if (!ec) {
        x->rc = KP_ENOMEM;
        return 1;
    }
    kumppani__v1__expert_count__init(ec);
    ec->expert_id = id;
    x->pe[x->pe_n++] = ec;
    return 0;
}

static int
s_stats_asg(void *arg, uint64_t id, void *rec)
{
    stats_t *x = arg;
    const brk_asg_t *a = rec;
    (void)id;
    if ((a->state != AS(CONFIRMED) && a->state != AS(COMPLETED)) || a->confirmed_ms < x->from_ms ||
        a->confirmed_ms >= x->to_ms)
        return 0;
    Kumppani__V1__ExpertCount *ec = s_pe_find(x, a->expert_id);
    if (ec)
        ec->assignments++;
    return 0;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void
brk_stats(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__BrokerStatsRequest *body = kp_tx_open(&tx, call, svc);
    Kumppani__V1__BrokerStatsReply r = KUMPPANI__V1__BROKER_STATS_REPLY__INIT;
    stats_t x = {.tx = &tx, .r = &r};
    if (!brk_window(call, body->from_unix, body->to_unix, &x.from_ms, &x.to_ms))
        return;
    x.fill = kp_arena_alloc(tx.arena, 100000 * sizeof *x.fill);
    x.pe = kp_arena_alloc(tx.arena, 20000 * sizeof *x.pe);
    x.scratch = kp_arena_new(8u << 20);
    int rc = x.fill && x.pe && x.scratch ? 0 : KP_ENOMEM;
    if (!rc)
        rc = brk_each_rec(&tx, BRK_DB_EXPERTS, 0, false, s_stats_expert, &x);
    if (!rc && !x.rc)
        rc = brk_each_rec(&tx, BRK_DB_REQUESTS, 0, true, s_stats_req, &x);
    if (!rc && !x.rc)
        rc = brk_each_rec(&tx, BRK_DB_ASGS, 0, true, s_stats_asg, &x);
    kp_arena_destroy(&x.scratch);
    if (rc || x.rc) {
        kp_call_fail_err(call, rc ? rc : x.rc);
        return;
    }
    if (x.fill_n) {
        int64_t sum = 0;
        for (size_t i = 0; i < x.fill_n; i++)
            sum += x.fill[i];
        r.fill_ms_mean = sum / (int64_t)x.fill_n;
        qsort(x.fill, x.fill_n, sizeof *x.fill, s_cmp_i64);
        r.fill_ms_median = x.fill[x.fill_n / 2];
    }
    uint32_t *v = kp_arena_alloc(tx.arena, (x.pe_n ? x.pe_n : 1) * sizeof *v);
    if (!v) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    size_t vn = 0;
    for (size_t i = 0; i < x.pe_n; i++)
        if (x.pe[i]->eligible)
            v[vn++] = x.pe[i]->assignments;
    r.experts_eligible = (uint32_t)vn;
    if (vn) {
        qsort(v, vn, sizeof *v, s_cmp_u32);
        r.assignments_min = v[0];
        r.assignments_max = v[vn - 1];
        /* Gini over sorted values: sum((2i - n - 1) x_i) / (n sum x). */
        double num = 0, total = 0, n = (double)vn;
        for (size_t i = 0; i < vn; i++) {
            num += (2.0 * (double)(i + 1) - n - 1.0) * v[i];
            total += v[i];
        }
        r.gini = total > 0 ? num / (n * total) : 0;
    }
    r.per_expert = x.pe;
    r.n_per_expert = x.pe_n;
    kp_call_ok(call, &r.base);
}
