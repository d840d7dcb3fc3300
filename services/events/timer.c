/*  events/timer.c: the offer deadline timer, and the retention pass.
 *
 *  Open offers live in the offers table keyed by deadline (ms, big-endian) and sign-up id,
 *  so the earliest is the first key. One uv_timer is armed at the earliest deadline: at start
 *  (so that it survives restarts), after every committed turn that touched the table
 *  (offers_dirty), and when the test clock moves (clock_moved). When it fires, it ends every
 *  offer whose deadline has passed, in the server's turn (kp_tx_begin), so the expiry, the
 *  next offer and their events commit together before anything is published; then it
 *  re-arms.
 *
 *  Retention: at start, hourly, and when the test clock moves, the same timer's pass walks the
 *  events: every sign-up of an event that ended more than retention-days ago has its
 *  personal data erased as on a request (privacy.c), without cancelling (the event is over),
 *  so the statistics keep it; the event is then marked retention_done and not walked again.
 *  At most RETAIN_MAX sign-ups per pass (one turn stays short); the rest go in the next pass,
 *  which is then due at once.
 *
 *  The clock is kp_now_ms() (test offset included), the same clock the handlers use. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"

#include <stdlib.h>

#define BATCH 64
#define MAX_DELAY_MS (3600 * 1000) /* look again at least hourly */

#define RETAIN_MAX 2000
#define RETAIN_EVERY_MS (3600 * 1000)

static void s_on_timer(uv_timer_t *h);

typedef struct {
    kp_tx_t *t;
    unsigned erased;
    bool more; /* stopped at RETAIN_MAX */
    int rc;
} retain_t;

#define RETAIN_EVENTS 256 /* due events one pass takes at most */

/* evt_keep_fn: an event whose retention is due: it ended before *arg (an int64_t, unix
 * seconds) and is no draft. */
static bool
s_retention_due(const void *arg, const evt_event_t *ev)
{
    return !ev->retention_done && ev->end_unix < *(const int64_t *)arg &&
           ev->state != KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT;
}

/* evt_signup_fn: erases s's personal data, if not yet erased and the pass has room. */
static int
s_retain_signup(void *arg, evt_signup_t *s, int state)
{
    (void)state;
    retain_t *r = arg;
    if (s->erased)
        return 0;
    if (r->erased == RETAIN_MAX) {
        r->more = true;
        return 1;
    }
    if ((r->rc = evt_signup_erase(r->t, s, "retention", false)))
        return 1;
    r->erased++;
    return 0;
}

/* One retention pass in unit t. Returns 0 or a KP code. */
static int
s_retain(kp_tx_t *t, evt_svc_t *svc)
{
    retain_t r = {.t = t};
    int64_t before_unix = (t->now_ms - svc->retention_ms) / 1000;
    evt_where_t due = {.keep = s_retention_due, .arg = &before_unix, .cap = RETAIN_EVENTS};
    int rc = evt_events_where(t, 0, UINT32_MAX, &due);
    for (size_t i = 0; rc == 0 && i < due.n && !r.more; i++) {
        if ((rc = evt_signup_records(t, due.v[i]->id, 0, UINT32_MAX, 0, s_retain_signup, &r)) ||
            r.rc)
            break;
        if (r.more)
            break;
        evt_event_t *ev;
        bool found;
        if ((rc = evt_event_get(t, due.v[i]->id, &ev, &found)) || !found)
            continue;
        ev->retention_done = true;
        rc = evt_event_put(t, ev);
    }
    rc = rc ? rc : r.rc;
    if (rc == 0 && r.erased)
        kp_log_notice("retention.erased", "signups=%u more=%d", r.erased, r.more);
    svc->retention_next_ms =
        r.more || due.n == RETAIN_EVENTS ? t->now_ms : t->now_ms + RETAIN_EVERY_MS;
    return rc;
}

/* Re-arms from inside the timer's pass. At least 1 ms: the pass decided with the turn's time
 * (kp_tx_t.now_ms), which stays behind kp_now_ms() when the test clock moved earlier in the
 * same turn; a deadline due by the clock but not by the turn must wait for the next turn, and
 * a 0 ms timer would fire again in this loop iteration, before the turn can end. */
static void
s_arm_at(evt_svc_t *svc, int64_t next_ms, bool any)
{
    uint64_t delay = MAX_DELAY_MS;
    if (any) {
        int64_t d = next_ms - kp_now_ms();
        delay = d <= 1 ? 1 : d > MAX_DELAY_MS ? MAX_DELAY_MS : (uint64_t)d;
    }
    uv_timer_start(&svc->offer_timer, s_on_timer, delay, 0);
}

static void
s_on_timer(uv_timer_t *h)
{
    evt_svc_t *svc = h->data;
    kp_arena_reset(svc->arena);
    kp_tx_t T, *t = &T;
    int rc = kp_tx_begin(t, svc->srv, NULL, svc->arena, svc);
    if (rc) {
        s_arm_at(svc, 0, false);
        return;
    }
    int64_t dl[BATCH];
    uint64_t id[BATCH];
    unsigned n = 0, ended = 0;
    if (!svc->scrub_checked) { /* the first pass finishes a migration (store.c) */
        rc = evt_log_scrub(t);
        svc->scrub_checked = rc == 0;
    }
    if (rc == 0 && t->now_ms >= svc->retention_next_ms)
        rc = s_retain(t, svc);
    if (rc == 0)
        rc = evt_offers_first(t, BATCH, dl, id, &n);
    for (unsigned i = 0; !rc && i < n && dl[i] <= t->now_ms; i++) {
        evt_signup_t *s;
        bool found;
        if ((rc = evt_signup_get(t, id[i], &s, &found)))
            break;
        if (!found || s->state != KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_OFFERED ||
            s->offer_deadline_ms != dl[i]) {
            rc = evt_offer_del(t, dl[i], id[i]); /* a stale key: drop it */
            continue;
        }
        rc = evt_offer_end(t, s, "offer-expired");
        ended++;
    }
    if (rc) {
        kp_log_err("offers.expire", "err=%d", rc);
        kp_server_abort_turn(svc->srv, rc);
        s_arm_at(svc, t->now_ms + 1000, true); /* try again shortly */
        return;
    }
    if (ended)
        kp_log_info("offers.expired", "n=%u", ended);
    /* Re-arm at what is now the earliest (this turn's writes included). */
    if ((rc = evt_offers_first(t, 1, dl, id, &n)) != 0)
        n = 0;
    int64_t next = n && dl[0] < svc->retention_next_ms ? dl[0] : svc->retention_next_ms;
    s_arm_at(svc, next, true);
    svc->offers_dirty = false;
}

void
evt_timer_poke(evt_svc_t *svc)
{
    if (svc->timer_started)
        uv_timer_start(&svc->offer_timer, s_on_timer, 0, 0);
}

static void
s_turn_done(void *arg, int rc)
{
    evt_svc_t *svc = arg;
    if (svc->offers_dirty || rc) {
        svc->offers_dirty = false;
        evt_timer_poke(svc);
    }
}

/* The test clock moved (sys.clock.set): offers may now be due, or due later. */
static void
s_clock_moved(void *arg)
{
    ((evt_svc_t *)arg)->retention_next_ms = 0; /* look again at once */
    evt_timer_poke(arg);
}

static void
s_on_close(uv_handle_t *h)
{
    (void)h;
}

static void
s_stop(void *arg)
{
    evt_svc_t *svc = arg;
    if (svc->timer_started) {
        uv_timer_stop(&svc->offer_timer);
        uv_close((uv_handle_t *)&svc->offer_timer, s_on_close);
        svc->timer_started = false;
    }
}

int
evt_timer_start(evt_svc_t *svc, const kp_config_item_t *items)
{
    const char *rd = kp_config_get(items, "retention-days");
    char *end;
    unsigned long days = rd ? strtoul(rd, &end, 10) : 0;
    if (!rd || !*rd || *end || days < 1 || days > 3650) {
        kp_log_err("boot.config", "setting=retention-days what=\"1..3650\"");
        return KP_ECONFIG;
    }
    svc->retention_ms = (int64_t)days * 86400 * 1000;
    uv_timer_init(kp_server_loop(svc->srv), &svc->offer_timer);
    svc->offer_timer.data = svc;
    svc->timer_started = true;
    kp_server_part_t part = {
        .turn_done = s_turn_done, .stop = s_stop, .clock_moved = s_clock_moved, .arg = svc};
    int rc = kp_server_add_part(svc->srv, &part);
    if (rc)
        return rc;
    evt_timer_poke(svc); /* at start: expire what passed while down, arm at the earliest */
    return 0;
}
