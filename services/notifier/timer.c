/*  notifier/timer.c: the schedule's timers: when to look for due notifications and for the
 *  weekly digest moment, and the pass that does it.
 *
 *  Two libuv timers live in ntf_t: `sched` fires at the earliest entry of the schedule (the
 *  due index: due times and lease ends), `digest` at the next digest moment. Both run the same
 *  pass. The pass is armed at start (so a restart picks up where the store says), after every
 *  pass (at the next due entry, at most an hour ahead), after planning or an API change
 *  (ntf_kick), after a turn that failed to commit (in a second), and when the test clock moves
 *  (kp_server_part_t.clock_moved: a reminder, a retry, the end of quiet hours or a digest that
 *  the new time makes due goes at once).
 *
 *  One pass, in the turn's transaction: plan the digests if their moment has come, then take
 *  due notifications one by one (ntf_dlv_take leases them) until the schedule shows nothing due,
 *  the transfers in flight reach inflight-max, or PASS_BUDGET records are taken (the rest in
 *  the next turn). Before that, hourly (and when the test clock moves), the history retention
 *  pass (privacy.c). Invariant: no timer is armed once the service is stopping. */
#include "kp_err.h"
#include "kp_log.h"
#include "notifier.h"

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define PASS_BUDGET 512
#define ARM_MAX_MS (3600 * 1000)

static void s_pass(ntf_t *n);

static void
s_on_timer(uv_timer_t *t)
{
    s_pass(t->data);
}

static void
s_arm(ntf_t *n, int64_t delay_ms)
{
    if (n->stopping)
        return;
    if (delay_ms < 0)
        delay_ms = 0;
    if (delay_ms > ARM_MAX_MS)
        delay_ms = ARM_MAX_MS;
    uv_timer_start(&n->sched, s_on_timer, (uint64_t)delay_ms, 0);
}

void
ntf_kick(ntf_t *n)
{
    s_arm(n, 0);
}

static void
s_pass(ntf_t *n)
{
    if (ntf_dlv_busy(n))
        return;
    kp_tx_t tx;
    kp_arena_reset(n->dlv_arena);
    int rc = ntf_dlv_tx(&tx, n);
    if (rc) {
        s_arm(n, 1000);
        return;
    }
    int64_t now = tx.now_ms, dnext;
    unsigned budget = PASS_BUDGET;
    if (n->migrated) { /* the upgrade's freed pages leave data.mdb (store.c) */
        n->migrated = false;
        kp_server_compact_soon(n->srv);
    }
    if (now >= n->retain_next_ms) { /* history retention (privacy.c), hourly */
        bool more = false;
        if ((rc = ntf_retain(&tx, &more)) == 0) {
            n->retain_next_ms = more ? now : now + ARM_MAX_MS;
            if (more)
                s_arm(n, 0);
        }
        kp_arena_reset(tx.arena);
    }
    if (rc == 0 && (rc = ntf_plan_digests(&tx, &dnext)) == 0 && dnext != INT64_MAX && !n->stopping)
        uv_timer_start(&n->digest, s_on_timer,
                       (uint64_t)(dnext - now < ARM_MAX_MS ? dnext - now : ARM_MAX_MS), 0);
    while (rc == 0 && !ntf_dlv_busy(n) && budget--) {
        kp_arena_reset(tx.arena);
        char key[NTF_KEY_MAX + 1] = "";
        int64_t due = 0;
        bool found;
        if ((rc = ntf_due_first(&tx, &due, key, &found)) || !found)
            break;
        if (due > now) {
            s_arm(n, due - now);
            break;
        }
        ntf_rec_t *old, *r;
        if ((rc = ntf_rec_get(&tx, key, &old, &found)))
            break;
        if (!found || (old->state != ST(SCHEDULED) && old->state != ST(SENDING))) {
            rc = ntf_due_drop(&tx, due, key); /* an entry left without a live record */
            continue;
        }
        if ((rc = ntf_rec_get(&tx, key, &r, &found)) == 0) /* the copy to change */
            rc = ntf_dlv_take(&tx, old, r);
    }
    if (rc) {
        kp_log_err("deliver.pump", "err=%d", rc);
        kp_server_abort_turn(n->srv, rc);
        s_arm(n, 1000);
        return;
    }
    if (budget == (unsigned)-1 && !ntf_dlv_busy(n))
        s_arm(n, 0); /* more is due: go on after this turn */
    if (!uv_is_active((uv_handle_t *)&n->sched))
        s_arm(n, n->retain_next_ms - now); /* nothing due: at least the next retention pass */
}

/* ---- the part: turns, the clock, stop ------------------------------------------------------ */

static void
s_turn_done(void *arg, int rc)
{
    ntf_t *n = arg;
    ntf_dlv_turn_done(n, rc);
    if (rc)
        s_arm(n, 1000);
}

static void
s_clock_moved(void *arg)
{
    ((ntf_t *)arg)->retain_next_ms = 0; /* the history retention looks again at once */
    ntf_kick(arg);
}

static void
s_stop(void *arg)
{
    ntf_t *n = arg;
    n->stopping = true;
    uv_timer_stop(&n->sched);
    uv_timer_stop(&n->digest);
    ntf_dlv_stop(n);
    uv_close((uv_handle_t *)&n->sched, NULL);
    uv_close((uv_handle_t *)&n->digest, NULL);
    if (n->hup_on) { /* the template files' SIGHUP watch (config.c) */
        uv_signal_stop(&n->hup);
        uv_close((uv_handle_t *)&n->hup, NULL);
        n->hup_on = false;
    }
}

int
ntf_timer_start(ntf_t *n)
{
    uv_timer_init(n->loop, &n->sched);
    uv_timer_init(n->loop, &n->digest);
    n->sched.data = n->digest.data = n;
    kp_server_part_t part = {
        .turn_done = s_turn_done, .stop = s_stop, .clock_moved = s_clock_moved, .arg = n};
    int rc = kp_server_add_part(n->srv, &part);
    if (rc == 0)
        s_arm(n, 0);
    return rc;
}
