/*  expert-broker/timer.c: the deadline timer and the deadlines it runs.
 *
 *  Offer reminders (lapsing soon; not for a held acceptance), offer lapses (a held acceptance
 *  is decided by rank instead, offer.c) and request answer deadlines are rows of the
 *  `due` table keyed by time (store.c). After every committed turn, at start, and when the
 *  test clock moves (clock_moved), the timer is armed for the first row, so nothing is lost
 *  across a restart or a kill -9: the rows are in the store, and a deadline that passed while
 *  the service was down runs at once on start. When it fires it runs the due rows (at most 200
 *  a pass) in the server's turn (kp_tx_begin), emits the events and lets the turn commit like
 *  any other. Even with nothing due it looks again every minute: wall clocks jump.
 *
 *  It also writes, first thing in its turn, the audit entries of refused sensitive-detail reads
 *  (expert.c: a refused call cannot write in its own turn).
 *
 *  The same timer runs the retention pass (privacy.c) once an hour, and at once after a start
 *  or a move of the test clock: requesters of requests that ended more than retention-days
 *  ago are erased, at most RETENTION_BATCH a pass (a longer backlog goes on a second later),
 *  and the store is compacted after the turn. */
#include "broker.h"
#include "kp_log.h"
#include "kp_time.h"

#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x

#define RETENTION_EVERY_MS (3600 * 1000)
#define RETENTION_BATCH 500

static int
s_run_one(kp_tx_t *tx, int kind, uint64_t id)
{
    int rc = 0;
    if (kind == BRK_DUE_ANSWER) {
        brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, id, &rc);
        if (rc || !rq || rq->state != RS(OPEN))
            return rc;
        return brk_request_close(tx, rq, RS(UNFILLED), "RequestUnfilled");
    }
    brk_offer_t *o = brk_get(tx, BRK_DB_OFFERS, id, &rc);
    if (rc || !o || o->state != OS(OPEN))
        return rc;
    if (kind == BRK_DUE_SOON) {
        if (o->lapsing_soon_sent || o->held_ms)
            return 0;
        o->lapsing_soon_sent = true;
        if ((rc = kp_rec_put_id(tx, BRK_DB_OFFERS, o->id, &o->base)) ||
            (rc = brk_emit(tx, "OfferLapsingSoon", &o->base)))
            return rc;
        kp_log_info("offer.lapsing_soon", "offer=%llu", (unsigned long long)o->id);
        return 0;
    }
    /* A held acceptance does not lapse: its wave's deadline has come, and brk_fill decides it
     * by rank (offer.c). */
    if (!o->held_ms && (rc = brk_offer_close(tx, o, OS(LAPSED), "OfferLapsed")))
        return rc;
    brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, o->request_id, &rc);
    if (rc || !rq)
        return rc;
    return brk_fill(tx, rq);
}

int
brk_run_due(kp_tx_t *tx, unsigned limit, unsigned *ran)
{
    *ran = 0;
    while (*ran < limit) {
        int64_t due;
        int kind;
        uint64_t id;
        bool found;
        int rc = brk_due_first(tx, &due, &kind, &id, &found);
        if (rc)
            return rc;
        if (!found || due > tx->now_ms)
            return 0;
        if ((rc = brk_due_del(tx, due, kind, id)) || (rc = s_run_one(tx, kind, id)))
            return rc;
        (*ran)++;
    }
    return 0;
}

static void s_arm(brk_svc_t *svc, kp_tx_t *tx);

static void
s_on_timer(uv_timer_t *h)
{
    brk_svc_t *svc = h->data;
    kp_arena_reset(svc->arena);
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, svc->srv, NULL, svc->arena, svc);
    if (rc) {
        uv_timer_start(&svc->timer, s_on_timer, 1000, 0);
        return;
    }
    /* The clock as the timer fires, not the turn's time: timers run before the turn of the
     * previous loop pass has committed, and that turn's time may be older than the moment
     * the timer was armed for (after sys.clock.set, always): nothing would run, and the timer
     * re-armed for "now" would fire again at once, for ever. */
    tx.now_ms = kp_now_ms();
    unsigned ran = 0;
    rc = brk_refusals_write(&tx);
    if (!rc)
        rc = brk_run_due(&tx, 200, &ran);
    if (rc) {
        kp_server_abort_turn(svc->srv, rc);
        uv_timer_start(&svc->timer, s_on_timer, 1000, 0);
        return;
    }
    if (ran)
        kp_log_debug("due.ran", "n=%u", ran);
    if (svc->retention_days && tx.now_ms >= svc->retention_next_ms) {
        size_t erased = 0;
        bool more = false;
        rc = brk_retention_run(&tx, svc->retention_days, RETENTION_BATCH, &erased, &more);
        if (rc) {
            kp_server_abort_turn(svc->srv, rc);
            uv_timer_start(&svc->timer, s_on_timer, 1000, 0);
            return;
        }
        svc->retention_next_ms = tx.now_ms + (more ? 1000 : RETENTION_EVERY_MS);
        if (erased)
            kp_log_notice("retention.ran", "requesters_erased=%zu more=%d", erased, more);
    }
    s_arm(svc, &tx);
}

/* Arms the timer for the first row of the schedule as tx sees it (NULL: a fresh read). */
static void
s_arm(brk_svc_t *svc, kp_tx_t *tx)
{
    int64_t due = 0;
    int kind;
    uint64_t id;
    bool found = false;
    int rc =
        tx ? brk_due_first(tx, &due, &kind, &id, &found) : brk_due_next(svc->srv, &due, &found);
    int64_t delay = 60000;
    if (rc == 0 && found) {
        delay = due - kp_now_ms();
        if (delay < 0)
            delay = 0;
    }
    if (svc->retention_days && svc->retention_next_ms - kp_now_ms() < delay)
        delay = svc->retention_next_ms - kp_now_ms();
    if (delay < 0 || svc->refused_n)
        delay = 0;
    if (delay > 60000)
        delay = 60000; /* look again now and then: wall clocks jump */
    uv_timer_start(&svc->timer, s_on_timer, (uint64_t)delay, 0);
}

void
brk_timer_kick(brk_svc_t *svc)
{
    uv_timer_start(&svc->timer, s_on_timer, 0, 0);
}

static void
s_turn_done(void *arg, int rc)
{
    (void)rc;
    s_arm(arg, NULL);
}

/* The test clock moved: the first deadline may be due now (or later than armed), and requests
 * may have passed their retention. */
static void
s_clock_moved(void *arg)
{
    brk_svc_t *svc = arg;
    svc->retention_next_ms = 0; /* the retention pass too */
    s_arm(svc, NULL);
}

static void
s_on_close(uv_handle_t *h)
{
    (void)h;
}

static void
s_stop(void *arg)
{
    brk_svc_t *svc = arg;
    uv_timer_stop(&svc->timer);
    uv_close((uv_handle_t *)&svc->timer, s_on_close);
}

int
brk_timer_start(brk_svc_t *svc, kp_server_t *srv)
{
    svc->srv = srv;
    kp_server_part_t part = {
        .turn_done = s_turn_done, .stop = s_stop, .clock_moved = s_clock_moved, .arg = svc};
    int rc = kp_server_add_part(srv, &part);
    if (rc)
        return rc;
    /* After the part: the part's stop closes the handle, so it exists only with the part. */
    uv_timer_init(kp_server_loop(srv), &svc->timer);
    svc->timer.data = svc;
    s_arm(svc, NULL);
    return 0;
}
