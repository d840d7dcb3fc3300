/*  test_kp_zwatch: a ZeroMQ socket inside a libuv loop.
 *
 *  Each test has its own loop and context and a PAIR of sockets over inproc: `rx` is watched,
 *  `tx` is the peer that sends to it. The callback reads at most `budget` messages per call,
 *  as a service does, and counts them.
 *
 *  The loop is run with UV_RUN_ONCE where the point is that it does not block (the idle
 *  handle must keep it going while input remains). A guard timer bounds every such run: if
 *  the watcher stranded input, the run returns when the guard fires, and the test fails on
 *  `guard_fired` instead of hanging. Every loop is also bounded in iterations. */
#include "kp_zwatch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define GUARD_MS 2000
#define BURST_N 1000
#define BUDGET 10

typedef struct {
    uv_loop_t loop;
    uv_timer_t guard;
    bool guard_fired;
    void *zctx, *rx, *tx;
    kp_zwatch_t *zw;
    unsigned budget;
    unsigned calls, received;
    unsigned last_value; /* messages carry 1, 2, 3, ... in order */
    bool out_of_order;
} fx_t;

static void
s_on_guard(uv_timer_t *h)
{
    fx_t *fx = h->data;
    fx->guard_fired = true;
}

static void
s_cb(kp_zwatch_t *zw, void *sock, void *arg)
{
    fx_t *fx = arg;
    assert_ptr_equal(zw, fx->zw);
    assert_ptr_equal(sock, fx->rx);
    fx->calls++;
    for (unsigned i = 0; i < fx->budget; i++) {
        unsigned v;
        int n = zmq_recv(sock, &v, sizeof v, ZMQ_DONTWAIT);
        if (n < 0) {
            assert_int_equal(zmq_errno(), EAGAIN);
            return;
        }
        assert_int_equal(n, sizeof v);
        if (v != fx->last_value + 1)
            fx->out_of_order = true;
        fx->last_value = v;
        fx->received++;
    }
}

static int
s_setup(void **state)
{
    static unsigned n;
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx || uv_loop_init(&fx->loop) != 0)
        return -1;
    uv_timer_init(&fx->loop, &fx->guard);
    fx->guard.data = fx;
    fx->budget = BUDGET;
    fx->zctx = zmq_ctx_new();
    fx->rx = zmq_socket(fx->zctx, ZMQ_PAIR);
    fx->tx = zmq_socket(fx->zctx, ZMQ_PAIR);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://zw-%u", n++);
    int hwm = 0; /* no high-water mark: the burst must queue whole */
    if (!fx->rx || !fx->tx || zmq_setsockopt(fx->rx, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(fx->tx, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 || zmq_bind(fx->rx, ep) != 0 ||
        zmq_connect(fx->tx, ep) != 0)
        return -1;
    *state = fx;
    return 0;
}

/* Closes what is left in the right order: watcher, then socket; the loop closes cleanly. */
static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    kp_zwatch_close(&fx->zw);
    assert_null(fx->zw);
    uv_close((uv_handle_t *)&fx->guard, NULL);
    for (int i = 0; i < 10 && uv_loop_alive(&fx->loop); i++)
        uv_run(&fx->loop, UV_RUN_NOWAIT);
    zmq_close(fx->rx);
    zmq_close(fx->tx);
    zmq_ctx_term(fx->zctx);
    int rc = uv_loop_close(&fx->loop);
    free(fx);
    assert_int_equal(rc, 0);
    return rc;
}

static void
s_send(fx_t *fx, void *sock, unsigned v)
{
    (void)fx;
    assert_int_equal(zmq_send(sock, &v, sizeof v, 0), (int)sizeof v);
}

/* One UV_RUN_ONCE that cannot block longer than the guard. */
static void
s_run_once(fx_t *fx)
{
    uv_timer_start(&fx->guard, s_on_guard, GUARD_MS, 0);
    uv_run(&fx->loop, UV_RUN_ONCE);
    uv_timer_stop(&fx->guard);
}

/* Runs the loop (UV_RUN_ONCE) until `want` messages are in, at most `max_runs` times. */
static unsigned
s_run_until(fx_t *fx, unsigned want, unsigned max_runs)
{
    unsigned runs = 0;
    while (fx->received < want && runs < max_runs && !fx->guard_fired) {
        s_run_once(fx);
        runs++;
    }
    if (fx->guard_fired)
        fail_msg("the loop blocked with %u of %u messages in (run %u)", fx->received, want, runs);
    assert_int_equal(fx->received, want);
    return runs;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Messages queued before the watcher exists came with an edge nobody saw: still received. */
static void
test_queued_before_start(void **state)
{
    fx_t *fx = *state;
    for (unsigned v = 1; v <= 5; v++)
        s_send(fx, fx->tx, v);
    /* Let the fd's edge pass before anyone watches it. */
    assert_true(zmq_poll(&(zmq_pollitem_t){fx->rx, 0, ZMQ_POLLIN, 0}, 1, 1000) == 1);
    assert_int_equal(kp_zwatch_start(&fx->zw, &fx->loop, fx->rx, s_cb, fx), 0);
    assert_non_null(fx->zw);
    assert_true(kp_zwatch_readable(fx->zw));
    s_run_until(fx, 5, 10);
    assert_false(fx->out_of_order);
    assert_false(kp_zwatch_readable(fx->zw));
}

/* A burst of 100 budgets: each wake-up reads one budget, the idle handle keeps the loop
 * from blocking until the socket is empty, and then the loop may block again. */
static void
test_burst_over_budget(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(kp_zwatch_start(&fx->zw, &fx->loop, fx->rx, s_cb, fx), 0);
    s_run_once(fx); /* nothing queued: the start's look finds nothing */
    assert_int_equal(fx->received, 0);
    assert_false(fx->guard_fired); /* ...and UV_RUN_ONCE did not wait for the guard */

    for (unsigned v = 1; v <= BURST_N; v++)
        s_send(fx, fx->tx, v);
    unsigned runs = s_run_until(fx, BURST_N, 10 * BURST_N / BUDGET);
    assert_false(fx->out_of_order);
    /* The budget was honoured: at least BURST_N / BUDGET callbacks, one per loop turn. */
    assert_true(fx->calls >= BURST_N / BUDGET);
    assert_true(runs >= BURST_N / BUDGET / 2);
    assert_true(runs <= fx->calls + 2);

    /* Drained: the loop now blocks again (until the guard), and nothing is read. */
    unsigned calls = fx->calls;
    uv_timer_start(&fx->guard, s_on_guard, 50, 0);
    uv_run(&fx->loop, UV_RUN_ONCE);
    assert_true(fx->guard_fired);
    assert_int_equal(fx->calls, calls);
    fx->guard_fired = false;

    /* A new message after the drain comes with a fresh edge: the poll handle wakes up. */
    s_send(fx, fx->tx, BURST_N + 1);
    s_run_until(fx, BURST_N + 1, 10);
    assert_false(fx->out_of_order);
}

/* The watched socket sends too (a DEALER asking, then reading the answer). Its own send (or a
 * ZMQ_EVENTS query) processes the socket's commands and may consume the edge of input that
 * has just arrived: kp_zwatch_recheck afterwards must still get that input read without
 * waiting for another edge. */
static void
test_recheck_after_send(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(kp_zwatch_start(&fx->zw, &fx->loop, fx->rx, s_cb, fx), 0);
    for (unsigned i = 0; i < 3; i++)
        uv_run(&fx->loop, UV_RUN_NOWAIT); /* idle stopped: nothing queued */
    assert_int_equal(fx->received, 0);

    for (unsigned round = 1; round <= 20; round++) {
        s_send(fx, fx->tx, round); /* input arrives... */
        assert_true(zmq_poll(&(zmq_pollitem_t){fx->rx, 0, ZMQ_POLLIN, 0}, 1, 1000) == 1);
        s_send(fx, fx->rx, round); /* ...and the owner sends: the edge may be gone */
        kp_zwatch_recheck(fx->zw);
        /* The recheck armed the idle handle: one non-blocking run reads it. */
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        if (fx->received != round)
            fail_msg("round %u: the message was stranded after the send", round);
        unsigned echo;
        assert_int_equal(zmq_recv(fx->tx, &echo, sizeof echo, 0), (int)sizeof echo);
        assert_int_equal(echo, round);
    }
    assert_false(fx->out_of_order);

    /* kp_zwatch_recheck_all reaches the same watcher. */
    s_send(fx, fx->tx, 21);
    assert_true(zmq_poll(&(zmq_pollitem_t){fx->rx, 0, ZMQ_POLLIN, 0}, 1, 1000) == 1);
    kp_zwatch_recheck_all();
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(fx->received, 21);
    /* Nothing waiting: a recheck arms nothing, and the loop may block. */
    kp_zwatch_recheck(fx->zw);
    kp_zwatch_recheck(NULL);
    uv_timer_start(&fx->guard, s_on_guard, 50, 0);
    uv_run(&fx->loop, UV_RUN_ONCE);
    assert_true(fx->guard_fired);
}

static void
s_cb_never(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    (void)sock;
    unsigned *calls = arg;
    (*calls)++;
}

/* Closing: the watcher goes before zmq_close; its handles close and the memory is freed by
 * the loop; a closed watcher is no longer rechecked (ASan would see a use after free); the
 * loop closes cleanly. */
static void
test_close(void **state)
{
    fx_t *fx = *state;
    /* Two watchers, then one closed with input still queued for it. */
    void *other = zmq_socket(fx->zctx, ZMQ_PAIR);
    assert_non_null(other);
    assert_int_equal(zmq_bind(other, "inproc://zw-other"), 0);
    kp_zwatch_t *ow = NULL;
    unsigned other_calls = 0;
    assert_int_equal(kp_zwatch_start(&ow, &fx->loop, other, s_cb_never, &other_calls), 0);
    assert_int_equal(kp_zwatch_start(&fx->zw, &fx->loop, fx->rx, s_cb, fx), 0);
    s_send(fx, fx->tx, 1);
    assert_true(zmq_poll(&(zmq_pollitem_t){fx->rx, 0, ZMQ_POLLIN, 0}, 1, 1000) == 1);
    kp_zwatch_close(&fx->zw);
    assert_null(fx->zw);
    kp_zwatch_close(&fx->zw); /* NULL is accepted */
    kp_zwatch_close(NULL);
    for (int i = 0; i < 5; i++)
        uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(fx->calls, 0); /* closed before the loop ran: never called */
    kp_zwatch_recheck_all();        /* walks only the open watcher */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(other_calls, 0);

    kp_zwatch_close(&ow);
    assert_null(ow);
    zmq_close(other);
    /* Only the guard timer (never started) is left: the loop is not alive. */
    for (int i = 0; i < 5; i++)
        uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_false(uv_loop_alive(&fx->loop));
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_queued_before_start, test_burst_over_budget,
                       test_recheck_after_send, test_close);
}
