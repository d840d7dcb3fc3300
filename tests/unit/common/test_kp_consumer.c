/*  test_kp_consumer: following another service's log, exactly once in effect (DESIGN 5).
 *
 *  Two real servers in one process, each on its own uv loop, in one mkdtemp directory, on free
 *  loopback ports: the source "src" (method "test.put": emits one "Put" event whose EventRef
 *  payload is 1000 + its seq; heartbeat every 50 ms) and the consumer service "dst" (a
 *  kp_consumer following src, whose apply fn counts each event in its db "applied": key the
 *  seq, value how many times it was applied there). Nothing blocks: the test drives both loops
 *  with uv_run(UV_RUN_NOWAIT) and waits on its client sockets for 1 ms, bounded by a deadline.
 *
 *  "Applied exactly once" is read from dst's committed store (a fresh read transaction):
 *  the offset of src, and the records 1..offset each counted once, nothing else. Apply calls
 *  are counted too (per seq), since the consumer must never even call apply for an event at
 *  or below its offset.
 *
 *  The drop tests also read dst's log (stderr captured into a file at level info): the test
 *  hook's drop count (consumer.stop ... dropped=N) and the way the loss was noticed, so they
 *  cannot pass without the loss having happened. */
#include "kp_arena.h"
#include "kp_consumer.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_server.h"
#include "kp_store.h"
#include "kp_test_server.h"
#include "kp_time.h"
#include "kp_tx.h"
#include "kp_wire.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define WAIT_US (10 * 1000000LL) /* each wait; the whole file stays under ctest's 60 s */
#define MAX_SEQ 4096
#define TRIES_MAX 8
#define PAYLOAD_BASE 1000
#define KP_TEST_PAGE 4000 /* the events a replay page holds (KP_REPLAY_PAGE in kp_consumer.c) */

/* ---- the fixture ---------------------------------------------------------------------------- */

typedef struct {
    char root[64], src_data[96], dst_data[96];
    char src_api[64], src_pub[64], dst_api[64];
    uv_loop_t src_loop, dst_loop;
    kp_server_t *src, *dst;
    void *zctx, *to_src, *to_dst; /* the test's DEALERs */
    kp_arena_t *a;                /* the client's decoding */
    kp_arena_t *apply_arena;
    uint64_t request_id, sent;
    /* the apply fn's view */
    unsigned drop_every;
    uint64_t fail_seq;
    unsigned fail_left, fail_calls;
    unsigned apply_calls, calls_of[MAX_SEQ + 1];
    int64_t try_turn_ms[TRIES_MAX], try_real_ms[TRIES_MAX]; /* the applies of fail_seq */
    bool bad_event;
    bool aborted; /* test_rollback_with_page_in_flight's turn abort has happened */
    /* stderr captured into a file */
    int saved_stderr;
    char log_path[96];
    char *log; /* the captured text, after s_capture_end */
} fx_t;

static const char *const s_src_dbs[] = {"unused"};
static const char *const s_dst_dbs[] = {"applied"};

/* src: "test.put" emits one event carrying the EventRef body. */
static void
s_src_put(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    int rc = kp_call_emit(call, "Put", &rq->base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, NULL);
}

static const kp_method_t s_src_methods[] = {
    KP_METHOD("test.put", KP_ROLE_ALL, event_ref, s_src_put),
};

/* dst's apply: counts the event under its seq, then fails if told to (after writing, so the
 * half-written effect must vanish with the turn). */
static int
s_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    fx_t *fx = arg;
    fx->apply_calls++;
    if (ev->seq == 0 || ev->seq > MAX_SEQ || strcmp(ev->source, "src") != 0 ||
        strcmp(ev->type, "Put") != 0) {
        fx->bad_event = true;
        return KP_EINVAL;
    }
    fx->calls_of[ev->seq]++;
    Kumppani__V1__EventRef *ref = kumppani__v1__event_ref__unpack(
        kp_arena_pbc(fx->apply_arena), ev->payload.len, ev->payload.data);
    if (!ref || ref->event_id != PAYLOAD_BASE + ev->seq)
        fx->bad_event = true;
    kp_arena_reset(fx->apply_arena);

    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, srv, txn, fx->apply_arena, fx);
    if (rc)
        return rc;
    uint8_t key[8];
    kp_be64_put(key, ev->seq);
    MDB_val v;
    bool found;
    uint32_t n = 0;
    if ((rc = kp_raw_get(&tx, 0, key, sizeof key, &v, &found)) != 0)
        return rc;
    if (found && v.mv_size == sizeof n)
        memcpy(&n, v.mv_data, sizeof n);
    n++;
    if ((rc = kp_raw_put(&tx, 0, key, sizeof key, &n, sizeof n)) != 0)
        return rc;
    unsigned try = fx->calls_of[ev->seq] - 1;
    if (ev->seq == fx->fail_seq && try < TRIES_MAX) {
        fx->try_turn_ms[try] = tx.now_ms;
        fx->try_real_ms[try] = kp_now_ms();
    }
    if (ev->seq == fx->fail_seq && fx->fail_left > 0) {
        fx->fail_left--;
        fx->fail_calls++;
        return KP_EINVAL;
    }
    return 0;
}

static void
s_src_start(fx_t *fx)
{
    kp_server_opts_t o = {.service = "src",
                          .data_dir = fx->src_data,
                          .api_endpoint = fx->src_api,
                          .pub_endpoint = fx->src_pub,
                          .map_size = 16u << 20,
                          .dbs = s_src_dbs,
                          .dbs_n = 1,
                          .schema_version = 1,
                          .heartbeat_ms = 50,
                          .methods = s_src_methods,
                          .methods_n = 1};
    assert_int_equal(kp_server_new(&fx->src, &fx->src_loop, &o), 0);
}

/* Starts dst (on a fresh API port) and its consumer of src. */
static void
s_dst_start(fx_t *fx)
{
    kp_test_endpoint(fx->dst_api, sizeof fx->dst_api);
    kp_server_opts_t o = {.service = "dst",
                          .data_dir = fx->dst_data,
                          .api_endpoint = fx->dst_api,
                          .map_size = 16u << 20,
                          .dbs = s_dst_dbs,
                          .dbs_n = 1,
                          .schema_version = 1};
    assert_int_equal(kp_server_new(&fx->dst, &fx->dst_loop, &o), 0);
    kp_consumer_opts_t co = {.source = "src",
                             .api_endpoint = fx->src_api,
                             .pub_endpoint = fx->src_pub,
                             .apply = s_apply,
                             .arg = fx,
                             .drop_every = fx->drop_every};
    assert_int_equal(kp_consumer_start(fx->dst, &co), 0);
    fx->to_dst = kp_test_dealer(fx->zctx, fx->dst_api);
    assert_non_null(fx->to_dst);
}

/* Stops dst: its consumer stops with it; its loop is left with nothing open. */
static void
s_dst_stop(fx_t *fx)
{
    if (!fx->dst)
        return;
    kp_server_destroy(&fx->dst);
    assert_null(fx->dst);
    zmq_close(fx->to_dst);
    fx->to_dst = NULL;
    assert_false(uv_loop_alive(&fx->dst_loop));
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx || !kp_test_tmpdir(fx->root, sizeof fx->root, "kp_consumer"))
        return -1;
    snprintf(fx->src_data, sizeof fx->src_data, "%s/src", fx->root);
    snprintf(fx->dst_data, sizeof fx->dst_data, "%s/dst", fx->root);
    snprintf(fx->log_path, sizeof fx->log_path, "%s/log", fx->root);
    kp_test_endpoint(fx->src_api, sizeof fx->src_api);
    kp_test_endpoint(fx->src_pub, sizeof fx->src_pub);
    if (uv_loop_init(&fx->src_loop) != 0 || uv_loop_init(&fx->dst_loop) != 0)
        return -1;
    fx->saved_stderr = -1;
    fx->zctx = zmq_ctx_new();
    if (!(fx->to_src = kp_test_dealer(fx->zctx, fx->src_api)))
        return -1;
    fx->a = kp_arena_new(4u << 20);
    fx->apply_arena = kp_arena_new(1u << 20);
    *state = fx;
    return 0;
}

static void s_capture_end(fx_t *fx);

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    s_dst_stop(fx);
    /* The servers and the consumer closed every handle they opened. */
    int rc_src = kp_test_server_stop(&fx->src, &fx->src_loop);
    int rc_dst = uv_loop_close(&fx->dst_loop);
    zmq_close(fx->to_src);
    zmq_ctx_term(fx->zctx);
    if (fx->saved_stderr >= 0) {
        /* A failure while stderr was captured: show what is not a log line (cmocka's). */
        s_capture_end(fx);
        for (char *line = fx->log; line && *line;) {
            char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
            if (strncmp(line, "ts=", 3) != 0)
                fprintf(stderr, "%.*s", (int)n, line);
            line += n;
        }
    }
    free(fx->log);
    kp_arena_destroy(&fx->a);
    kp_arena_destroy(&fx->apply_arena);
    kp_test_rm_store(fx->src_data);
    kp_test_rm_store(fx->dst_data);
    (void)remove(fx->log_path);
    (void)rmdir(fx->root);
    free(fx);
    assert_int_equal(rc_src, 0);
    assert_int_equal(rc_dst, 0);
    return rc_src || rc_dst;
}

/* ---- capturing dst's log -------------------------------------------------------------------- */

static void
s_capture_begin(fx_t *fx)
{
    fflush(stderr);
    fx->saved_stderr = dup(STDERR_FILENO);
    assert_true(fx->saved_stderr >= 0);
    int fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    kp_log_init("test", KP_LOG_INFO);
}

/* Restores stderr and reads what was captured into fx->log. */
static void
s_capture_end(fx_t *fx)
{
    if (fx->saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(fx->saved_stderr, STDERR_FILENO);
    close(fx->saved_stderr);
    fx->saved_stderr = -1;
    kp_log_init("test", KP_LOG_WARNING);
    FILE *f = fopen(fx->log_path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    free(fx->log);
    fx->log = calloc(1, (size_t)n + 1);
    assert_non_null(fx->log);
    assert_int_equal(fread(fx->log, 1, (size_t)n, f), (size_t)n);
    fclose(f);
}

/* The line of the captured log with event=<event> and (if given) the pair " <pair>" in it;
 * the first if several, NULL if none. Its end is at *end. */
static const char *
s_log_line(const fx_t *fx, const char *event, const char *pair, const char **end)
{
    char ev[64], pr[64];
    snprintf(ev, sizeof ev, "event=%s ", event);
    snprintf(pr, sizeof pr, " %s", pair ? pair : "");
    for (const char *line = strstr(fx->log, ev); line; line = strstr(line + 1, ev)) {
        const char *nl = strchr(line, '\n');
        *end = nl ? nl : line + strlen(line);
        const char *p = strstr(line, pr);
        if (!pair || (p && p < *end))
            return line;
    }
    return NULL;
}

/* The number after "<key>=" in the first log line of event. */
static long
s_log_value(const fx_t *fx, const char *event, const char *key)
{
    const char *end, *line = s_log_line(fx, event, NULL, &end);
    if (!line)
        fail_msg("no %s line in the log", event);
    char k[32];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(line, k);
    if (!p || p > end)
        fail_msg("no %s in the %s line", key, event);
    return strtol(p + strlen(k), NULL, 10);
}

/* ---- driving the loops ---------------------------------------------------------------------- */

/* Runs both loops once and waits up to 1 ms for client input. */
static void
s_pump(fx_t *fx)
{
    uv_run(&fx->src_loop, UV_RUN_NOWAIT);
    if (fx->dst)
        uv_run(&fx->dst_loop, UV_RUN_NOWAIT);
    zmq_pollitem_t items[] = {{fx->to_src, 0, ZMQ_POLLIN, 0}, {fx->to_dst, 0, ZMQ_POLLIN, 0}};
    zmq_poll(items, fx->to_dst ? 2 : 1, 1);
}

/* Receives one reply on sock (decoded into fx->a), pumping both loops meanwhile. */
static Kumppani__V1__Reply *
s_reply(fx_t *fx, void *sock)
{
    int64_t end = kp_mono_us() + WAIT_US;
    for (;;) {
        Kumppani__V1__Reply *r = kp_test_try_reply(sock, fx->a);
        if (r)
            return r;
        if (kp_mono_us() > end)
            fail_msg("no reply within the deadline");
        s_pump(fx);
    }
}

/* Has src commit n more events (one request each, all sent before any is answered, so that
 * they arrive at dst close together), each answered OK. */
static void
s_put_events(fx_t *fx, unsigned n)
{
    uint64_t first = fx->request_id + 1;
    for (unsigned i = 0; i < n; i++) {
        Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
        ref.event_id = PAYLOAD_BASE + ++fx->sent;
        assert_true(
            kp_test_send(fx->to_src, ++fx->request_id, "test.put", &ref.base, ZMQ_DONTWAIT));
    }
    for (unsigned i = 0; i < n; i++) {
        Kumppani__V1__Reply *r = s_reply(fx, fx->to_src);
        assert_true(r->request_id >= first && r->request_id <= fx->request_id);
        assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    }
    kp_arena_reset(fx->a);
    assert_int_equal(kp_store_head(kp_server_store(fx->src)), fx->sent);
}

/* dst's consumer lag, from its own "sys.health". */
static Kumppani__V1__ConsumerLag *
s_lag(fx_t *fx)
{
    Kumppani__V1__HealthRequest hr = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    assert_true(kp_test_send(fx->to_dst, ++fx->request_id, "sys.health", &hr.base, ZMQ_DONTWAIT));
    Kumppani__V1__Reply *r = s_reply(fx, fx->to_dst);
    assert_int_equal(r->request_id, fx->request_id);
    Kumppani__V1__HealthReply *h =
        kp_test_ok_body(r, &kumppani__v1__health_reply__descriptor, fx->a);
    assert_int_equal(h->n_consumers, 1);
    assert_string_equal(h->consumers[0]->source, "src");
    return h->consumers[0];
}

/* Waits until dst's consumer has heard src on the PUB socket (a heartbeat), so that it is
 * subscribed and the next events reach it live. */
static void
s_wait_heard(fx_t *fx)
{
    int64_t end = kp_mono_us() + WAIT_US;
    for (;;) {
        Kumppani__V1__ConsumerLag *lag = s_lag(fx);
        bool heard = lag->last_heard_ms != 0;
        kp_arena_reset(fx->a);
        if (heard)
            return;
        if (kp_mono_us() > end)
            fail_msg("dst's consumer never heard src");
        for (int i = 0; i < 10; i++)
            s_pump(fx);
    }
}

/* What dst has committed: the offset of src and whether the records are exactly 1..offset,
 * each applied once. */
typedef struct {
    uint64_t offset, records;
    bool exact;
    char why[128];
} seen_t;

static seen_t
s_seen(fx_t *fx)
{
    seen_t s = {.exact = true};
    kp_store_t *st = kp_server_store(fx->dst);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(kp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(kp_store_offset_get(st, txn, "src", &s.offset), 0);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, kp_store_dbi(st, 0), &cur), 0);
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        s.records++;
        uint32_t n = 0;
        uint64_t seq = k.mv_size == 8 ? kp_be64_get(k.mv_data) : 0;
        if (v.mv_size == sizeof n)
            memcpy(&n, v.mv_data, sizeof n);
        if (s.exact && (seq != s.records || n != 1)) {
            s.exact = false;
            snprintf(s.why, sizeof s.why, "record %llu: seq %llu applied %u times",
                     (unsigned long long)s.records, (unsigned long long)seq, n);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (s.exact && s.records != s.offset) {
        s.exact = false;
        snprintf(s.why, sizeof s.why, "%llu records but offset %llu", (unsigned long long)s.records,
                 (unsigned long long)s.offset);
    }
    return s;
}

/* The effect and the offset always agree; fails the test otherwise. */
static seen_t
s_seen_exact(fx_t *fx)
{
    seen_t s = s_seen(fx);
    if (!s.exact)
        fail_msg("effect and offset disagree: %s", s.why);
    assert_false(fx->bad_event);
    return s;
}

/* Pumps until dst has committed offset `want`, checking on the way that its effect always
 * matches its offset; then a little longer, to see that nothing is applied again. */
static void
s_wait_applied(fx_t *fx, uint64_t want)
{
    int64_t end = kp_mono_us() + WAIT_US;
    seen_t s;
    for (;;) {
        s = s_seen_exact(fx);
        if (s.offset >= want)
            break;
        if (kp_mono_us() > end)
            fail_msg("dst applied %llu of %llu events within the deadline",
                     (unsigned long long)s.offset, (unsigned long long)want);
        s_pump(fx);
    }
    assert_int_equal(s.offset, want);
    int64_t settle = kp_mono_us() + 200000; /* four heartbeats */
    while (kp_mono_us() < settle)
        s_pump(fx);
    s = s_seen_exact(fx);
    assert_int_equal(s.offset, want);
    assert_int_equal(s.records, want);
}

/* Starts src, and dst following it live (heard), dst's log captured, with every drop_every-th
 * live event lost on the way. */
static void
s_start_dropping(fx_t *fx, unsigned drop_every)
{
    s_src_start(fx);
    fx->drop_every = drop_every;
    s_capture_begin(fx);
    s_dst_start(fx);
    s_wait_heard(fx);
}

/* Starts src, and dst following it live (heard), dst's apply failing fail_left times at the
 * event of seq fail_seq. */
static void
s_start_failing(fx_t *fx, uint64_t fail_seq, unsigned fail_left)
{
    s_src_start(fx);
    fx->fail_seq = fail_seq;
    fx->fail_left = fail_left;
    s_dst_start(fx);
    s_wait_heard(fx);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Events written while dst is not running are applied once when it starts; after a restart
 * it goes on from its stored offset, applying nothing twice, also when the backlog takes
 * more than one replay page (kp_consumer asks for 1000 events a page). */
static void
test_catch_up(void **state)
{
    fx_t *fx = *state;
    s_src_start(fx);
    s_put_events(fx, 20);
    s_dst_start(fx);
    s_wait_applied(fx, 20);
    assert_int_equal(fx->apply_calls, 20);

    s_dst_stop(fx);
    s_put_events(fx, 1030);
    s_dst_start(fx);
    s_wait_applied(fx, 1050);
    /* Only the new events were handed to apply: the stored offset skipped the rest. */
    assert_int_equal(fx->apply_calls, 1050);
    for (unsigned seq = 1; seq <= 1050; seq++)
        assert_int_equal(fx->calls_of[seq], 1);

    /* And then it follows live. */
    s_wait_heard(fx);
    s_put_events(fx, 10);
    s_wait_applied(fx, 1060);
    assert_int_equal(fx->apply_calls, 1060);
    Kumppani__V1__ConsumerLag *lag = s_lag(fx);
    assert_int_equal(lag->applied_seq, 1060);
    assert_int_equal(lag->source_head_seq, 1060);
}

/* Every third live event is lost: each gap is noticed and replayed; everything is applied
 * once. */
static void
test_gap(void **state)
{
    fx_t *fx = *state;
    s_start_dropping(fx, 3);
    for (int batch = 0; batch < 6; batch++) {
        s_put_events(fx, 10);
        for (int i = 0; i < 5; i++)
            s_pump(fx);
    }
    s_wait_applied(fx, 60);
    for (unsigned seq = 1; seq <= 60; seq++)
        assert_int_equal(fx->calls_of[seq], 1);
    assert_int_equal(fx->apply_calls, 60);
    s_dst_stop(fx);
    s_capture_end(fx);
    /* The hook did drop events, and the consumer saw gaps. */
    long dropped = s_log_value(fx, "consumer.stop", "dropped");
    long live = s_log_value(fx, "consumer.stop", "live");
    print_message("live %ld, dropped %ld\n", live, dropped);
    assert_int_equal(live, 60);    /* every event reached dst live... */
    assert_int_equal(dropped, 20); /* ...and every third was lost */
    const char *end;
    assert_non_null(s_log_line(fx, "consumer.gap", NULL, &end));
    assert_int_equal(s_log_value(fx, "consumer.stop", "applied"), 60);
}

/* An apply that fails abandons its turn: neither its effect nor the offset moves past the
 * event, while it keeps failing; once it stops failing the event is applied once. */
static void
test_apply_fails(void **state)
{
    fx_t *fx = *state;
    s_start_failing(fx, 5, 3);
    s_put_events(fx, 10);

    int64_t end = kp_mono_us() + WAIT_US;
    unsigned checks = 0;
    while (fx->fail_left > 0) {
        seen_t s = s_seen_exact(fx); /* the effect always matches the offset */
        if (fx->fail_calls > 0) {
            /* The failed event's turn went whole: its effect and offset are not there. */
            if (s.offset >= 5)
                fail_msg("offset %llu passed the failing event", (unsigned long long)s.offset);
            checks++;
        }
        if (kp_mono_us() > end)
            fail_msg("the apply failed %u times, not 3, within the deadline", fx->fail_calls);
        s_pump(fx);
    }
    assert_true(checks > 0);
    assert_int_equal(fx->fail_calls, 3);
    s_wait_applied(fx, 10);
    /* The failing event was tried four times, applied (committed) once. */
    assert_int_equal(fx->calls_of[5], 4);
    for (unsigned seq = 6; seq <= 10; seq++)
        assert_true(fx->calls_of[seq] >= 1);
    Kumppani__V1__ConsumerLag *lag = s_lag(fx);
    assert_int_equal(lag->applied_seq, 10);
}

/* Regression (found by this test): after a turn aborted outside a call (a consumer's failed
 * apply: no replies, no events), s_end_turn returned early and kept the turn's time, so the
 * next turn (the consumer's retry, or the next request however much later) ran with the
 * aborted turn's time. Fixed in kp_server (the early return resets it); kept at 0. */
#define KNOWN_BUG_ABORT_KEEPS_TURN_TIME 0

/* A retry after a failed apply is a new turn, with its own time. */
static void
test_retry_turn_time(void **state)
{
    fx_t *fx = *state;
    s_start_failing(fx, 3, 1);
    s_put_events(fx, 5);
    s_wait_applied(fx, 5);
    assert_int_equal(fx->calls_of[3], 2);
    /* The retry came from the consumer's timer, a good while after the failure. */
    assert_true(fx->try_real_ms[1] - fx->try_real_ms[0] >= 100);
    /* The first try's turn had a fresh time (this does not depend on the bug). */
    assert_true(fx->try_real_ms[0] - fx->try_turn_ms[0] < 100);
    int64_t age = fx->try_real_ms[1] - fx->try_turn_ms[1];
    if (KNOWN_BUG_ABORT_KEEPS_TURN_TIME && age >= 100) {
        print_message("known bug: the retry's turn time is %lld ms old (the aborted turn's)\n",
                      (long long)age);
        skip();
    }
    /* The retry's turn time is its own (the apply runs as the turn's first write). */
    if (age >= 100)
        fail_msg("the retry ran with a turn time %lld ms old", (long long)age);
}

/* The last live event is lost and nothing follows it: only src's heartbeat shows the head,
 * and dst replays it. */
static void
test_lost_tail(void **state)
{
    fx_t *fx = *state;
    s_start_dropping(fx, 10);
    s_put_events(fx, 10); /* live events 1..9 arrive, the 10th is lost */
    s_wait_applied(fx, 10);
    assert_int_equal(fx->apply_calls, 10);
    s_dst_stop(fx);
    s_capture_end(fx);
    assert_int_equal(s_log_value(fx, "consumer.stop", "live"), 10);
    assert_int_equal(s_log_value(fx, "consumer.stop", "dropped"), 1);
    /* Noticed through the heartbeat (no live event came after the lost one). */
    const char *end;
    assert_non_null(s_log_line(fx, "consumer.behind", "head=10", &end));
    assert_null(s_log_line(fx, "consumer.gap", NULL, &end));
}

/* dst's loop, before kp_server's end of turn (libuv runs the prepare handle started last
 * first): once page 1's last event has been applied, the turn goes, as when a request of the
 * same turn fails after writing. By then the consumer has asked for page 2. */
static void
s_abort_after_page(uv_prepare_t *h)
{
    fx_t *fx = h->data;
    if (fx->aborted || fx->calls_of[KP_TEST_PAGE] == 0)
        return;
    fx->aborted = true;
    kp_server_abort_turn(fx->dst, KP_ESTORE);
}

/* A turn that goes for another reason while the consumer's next page is already asked for:
 * the page applied in that turn is gone, so the answer to that request no longer follows what
 * was committed. The consumer gives that request up and replays from its offset, without
 * taking the answer for a hole in the log (consumer.hole is an error an operator would chase)
 * and without applying anything twice. */
static void
test_rollback_with_page_in_flight(void **state)
{
    fx_t *fx = *state;
    s_src_start(fx);
    s_put_events(fx, KP_TEST_PAGE + 10);
    s_capture_begin(fx);
    s_dst_start(fx); /* its consumer asks for page 1 at once */
    uv_prepare_t abort_prep;
    uv_prepare_init(&fx->dst_loop, &abort_prep);
    abort_prep.data = fx;
    uv_prepare_start(&abort_prep, s_abort_after_page);
    s_wait_applied(fx, KP_TEST_PAGE + 10);
    uv_close((uv_handle_t *)&abort_prep, NULL);
    uv_run(&fx->dst_loop, UV_RUN_NOWAIT);
    assert_true(fx->aborted);
    /* Page 1's events were applied twice (the aborted turn, then the replay), committed once. */
    assert_int_equal(fx->calls_of[1], 2);
    assert_int_equal(fx->calls_of[KP_TEST_PAGE + 10], 1);
    s_dst_stop(fx);
    s_capture_end(fx);
    const char *end;
    assert_non_null(s_log_line(fx, "consumer.rollback", "to=0", &end));
    /* The answer to the request given up was not taken for a hole. */
    assert_null(s_log_line(fx, "consumer.hole", NULL, &end));
    assert_int_equal(s_log_value(fx, "consumer.stop", "applied"), KP_TEST_PAGE + 10);
}

int
main(void)
{
    kp_log_init("test", KP_LOG_WARNING);
    return KP_TEST_RUN(s_setup, s_teardown, test_catch_up, test_gap, test_apply_fails,
                       test_lost_tail, test_retry_turn_time, test_rollback_with_page_in_flight);
}
