/*  test_kp_tx: the unit of work and the record layer, on a real kp_server.
 *
 *  Each test starts a server on its own uv loop in a fresh mkdtemp directory on a free
 *  loopback port, with two databases: "recs" (db 0) and "other" (db 1, left empty). The record
 *  layer is driven two ways: directly, in a unit outside a call (kp_tx_begin, as a timer or a
 *  consumer does), whose turn commits on the next uv_run(UV_RUN_NOWAIT) (the loop's prepare
 *  handle ends the turn); and through real calls from a DEALER, for what only a call can do
 *  (kp_rec_load answering NOT_FOUND, kp_tx_of_call).
 *
 *  The test methods: "test.load" (EventRef) answers the record stored under event_id, or
 *  whatever kp_rec_load answers; "test.put" (EventRef) stores the body under its event_id,
 *  emits a "Put" event and echoes the body, checking the unit it was given; "test.create" and
 *  "test.check" start as an idempotent create does (kp_idem, at the end). */
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "kp_server.h"
#include "kp_store.h"
#include "kp_test_server.h"
#include "kp_time.h"
#include "kp_tx.h"
#include "kp_wire.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"

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

#define DB_RECS 0
#define DB_OTHER 1

static int s_svc_marker; /* the "service state" handed to handlers and units */

/* ---- the service under test --------------------------------------------------------------- */

static const char *const s_dbs[] = {"recs", "other"};

/* Answers the EventRef the request names, loaded by kp_rec_load, or by kp_rec_need when the
 * row's op is 1 ("test.need"). */
static void
s_load(kp_call_t *call, void *svc)
{
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    Kumppani__V1__EventRef *m = (kp_call_op(call) == 1 ? kp_rec_need : kp_rec_load)(
        &tx, DB_RECS, rq->event_id, &kumppani__v1__event_ref__descriptor, "event_id", "event");
    if (!m)
        return; /* answered */
    kp_call_ok(call, &m->base);
}

static void
s_put(kp_call_t *call, void *svc)
{
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    /* The unit of a call is the call's. */
    assert_ptr_equal(tx.call, call);
    assert_ptr_equal(tx.srv, kp_call_server(call));
    assert_ptr_equal(tx.store, kp_call_store(call));
    assert_ptr_equal(tx.txn, kp_call_txn(call));
    assert_ptr_equal(tx.arena, kp_call_arena(call));
    assert_ptr_equal(tx.svc, &s_svc_marker);
    assert_int_equal(tx.now_ms, kp_call_now_ms(call));
    assert_ptr_equal(kp_tx_wtxn(&tx), kp_call_txn(call));
    int rc = kp_rec_put_id(&tx, DB_RECS, rq->event_id, &rq->base);
    if (rc == 0)
        rc = kp_tx_emit(&tx, "Put", &rq->base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &rq->base);
}

/* Answers through kp_tx_answer: the store error KP_ECORRUPT for event 9, else the request. */
static void
s_answer(kp_call_t *call, void *svc)
{
    const Kumppani__V1__EventRef *rq = kp_call_body(call);
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    kp_tx_answer(&tx, rq->event_id == 9 ? KP_ECORRUPT : 0, &rq->base);
}

static uint64_t s_runs;

static void
s_create(kp_call_t *call, void *svc)
{
    (void)svc;
    if (kp_call_idem_required(call, "create"))
        return;
    Kumppani__V1__EventRef r = KUMPPANI__V1__EVENT_REF__INIT;
    r.event_id = ++s_runs;
    kp_call_ok(call, &r.base);
}

static void
s_check(kp_call_t *call, void *svc)
{
    (void)svc;
    if (kp_call_idem_key_ok(call, "check"))
        kp_call_ok(call, NULL);
}

static const kp_method_t s_methods[] = {
    KP_METHOD("test.load", KP_ROLE_ALL, event_ref, s_load),
    KP_METHOD_OP("test.need", KP_ROLE_ALL, event_ref, s_load, 1),
    KP_METHOD("test.put", KP_ROLE_ALL, event_ref, s_put),
    KP_METHOD("test.create", KP_ROLE_ALL, event_ref, s_create),
    KP_METHOD("test.check", KP_ROLE_ALL, event_ref, s_check),
    KP_METHOD("test.answer", KP_ROLE_ALL, event_ref, s_answer),
};

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct {
    kp_test_srv_t t; /* the server under test */
    kp_arena_t *a;   /* the client's decoding */
    kp_arena_t *ua;  /* the units' arena */
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    kp_server_opts_t o = {
        .service = "txtest", KP_TEST_DBS(s_dbs), KP_TEST_METHODS(s_methods), .svc = &s_svc_marker};
    if (kp_test_srv_start(&fx->t, "kp_tx", o, false) != 0)
        return -1;
    fx->a = kp_arena_new(4u << 20);
    fx->ua = kp_arena_new(4u << 20);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int rc = kp_test_srv_stop(&fx->t);
    kp_arena_destroy(&fx->a);
    kp_arena_destroy(&fx->ua);
    free(fx);
    assert_int_equal(rc, 0);
    return rc;
}

/* A unit outside a call, in the current turn (begun here if none is open). */
static void
s_begin(fx_t *fx, kp_tx_t *tx)
{
    kp_arena_reset(fx->ua);
    assert_int_equal(kp_tx_begin(tx, fx->t.srv, NULL, fx->ua, &s_svc_marker), 0);
}

/* Ends the turn: the loop's prepare handle commits it. */
static void
s_commit(fx_t *fx)
{
    assert_true(kp_store_turn_open(kp_server_store(fx->t.srv)));
    uv_run(&fx->t.loop, UV_RUN_NOWAIT);
    assert_false(kp_store_turn_open(kp_server_store(fx->t.srv)));
}

/* Whether key is in db as committed (a fresh read transaction). */
static bool
s_committed(fx_t *fx, unsigned db, const void *key, size_t key_len)
{
    kp_store_t *st = kp_server_store(fx->t.srv);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(kp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, kp_store_dbi(st, db), &k, &v);
    mdb_txn_abort(txn);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

static void
s_put_ref(kp_tx_t *tx, uint64_t id, uint64_t event_id)
{
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    assert_int_equal(kp_rec_put_id(tx, DB_RECS, id, &ref.base), 0);
}

/* The event id of the EventRef stored under id in db, or -1 when there is none (then the read
 * left *out untouched and said found=false without an error). */
static int64_t
s_ref_at(kp_tx_t *tx, unsigned db, uint64_t id)
{
    int64_t seen[2];
    for (int i = 0; i < 2; i++) { /* found is set whatever it held before */
        void *sentinel = &sentinel, *out = sentinel;
        bool found = i == 1;
        assert_int_equal(
            kp_rec_get_id(tx, db, id, &kumppani__v1__event_ref__descriptor, &out, &found), 0);
        if (found)
            assert_non_null(out);
        else
            assert_ptr_equal(out, sentinel);
        seen[i] = found ? (int64_t)((Kumppani__V1__EventRef *)out)->event_id : -1;
    }
    assert_int_equal(seen[0], seen[1]);
    return seen[0];
}

/* Asserts the raw value under key in db: want's bytes, or absent when want is NULL. */
static void
s_expect_raw(kp_tx_t *tx, unsigned db, const void *key, size_t key_len, const char *want)
{
    MDB_val v;
    bool found = want == NULL;
    assert_int_equal(kp_raw_get(tx, db, key, key_len, &v, &found), 0);
    assert_int_equal(found, want != NULL);
    if (want) {
        assert_int_equal(v.mv_size, strlen(want));
        assert_memory_equal(v.mv_data, want, v.mv_size);
    }
}

/* Asserts that db holds want records (kp_rec_count sets its result whatever it held before). */
static void
s_expect_count(kp_tx_t *tx, unsigned db, uint64_t want)
{
    uint64_t n = want + 99;
    assert_int_equal(kp_rec_count(tx, db, &n), 0);
    assert_int_equal(n, want);
}

/* ---- the client ----------------------------------------------------------------------------- */

static Kumppani__V1__Reply *
s_call(fx_t *fx, uint64_t request_id, const char *method, uint64_t event_id)
{
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    assert_true(kp_test_send(fx->t.dealer, request_id, method, &ref.base, 0));
    return kp_test_srv_reply(&fx->t, fx->a, request_id, method);
}

static uint64_t
s_reply_event_id(const Kumppani__V1__Reply *r)
{
    Kumppani__V1__EventRef *ref = kumppani__v1__event_ref__unpack(NULL, r->body.len, r->body.data);
    assert_non_null(ref);
    uint64_t id = ref->event_id;
    kumppani__v1__event_ref__free_unpacked(ref, NULL);
    return id;
}

/* ---- tests: records by id ------------------------------------------------------------------- */

static void
test_unit_outside_call(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    int64_t before = kp_now_ms();
    s_begin(fx, &tx);
    assert_ptr_equal(tx.srv, fx->t.srv);
    assert_null(tx.call);
    assert_ptr_equal(tx.store, kp_server_store(fx->t.srv));
    assert_non_null(tx.txn);
    assert_ptr_equal(tx.arena, fx->ua);
    assert_ptr_equal(tx.svc, &s_svc_marker);
    assert_true(tx.now_ms >= before && tx.now_ms <= kp_now_ms());
    assert_ptr_equal(kp_tx_wtxn(&tx), tx.txn);
    assert_int_equal(kp_tx_dbi(&tx, DB_RECS), kp_store_dbi(tx.store, DB_RECS));

    /* A second unit of the same turn shares its transaction and its time. */
    kp_tx_t tx2;
    MDB_txn *turn;
    assert_int_equal(kp_server_txn(fx->t.srv, &turn), 0);
    assert_ptr_equal(turn, tx.txn);
    assert_int_equal(kp_tx_begin(&tx2, fx->t.srv, turn, fx->ua, NULL), 0);
    assert_ptr_equal(tx2.txn, turn);
    assert_int_equal(tx2.now_ms, tx.now_ms);

    /* Ids from a named counter: 1, 2, ...; counters are independent. */
    uint64_t id = 0;
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(kp_tx_next_id(&tx, "thing", &id), 0);
        assert_int_equal(id, want);
    }
    assert_int_equal(kp_tx_next_id(&tx, "other", &id), 0);
    assert_int_equal(id, 1);

    /* An event emitted outside a call is in the turn's log. */
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = 9;
    assert_int_equal(kp_tx_emit(&tx, "Put", &ref.base), 0);
    assert_int_equal(kp_store_turn_head(tx.store), 1);
    assert_int_equal(kp_store_head(tx.store), 0);
    s_commit(fx);
    assert_int_equal(kp_store_head(kp_server_store(fx->t.srv)), 1);

    /* The counters were committed with it. */
    s_begin(fx, &tx);
    assert_int_equal(kp_tx_next_id(&tx, "thing", &id), 0);
    assert_int_equal(id, 4);
    s_commit(fx);
}

static void
test_rec_round_trip(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    s_put_ref(&tx, 7, 4242);
    s_put_ref(&tx, 256, 2560);
    s_put_ref(&tx, 1, 10);

    /* Read back in the same turn. */
    assert_int_equal(s_ref_at(&tx, DB_RECS, 7), 4242);
    /* A missing id: found=false, *out untouched, no error. */
    assert_int_equal(s_ref_at(&tx, DB_RECS, 8), -1);
    /* The same id in another database is another record. */
    assert_int_equal(s_ref_at(&tx, DB_OTHER, 7), -1);

    /* The key is the id big-endian, so records walk in id order. */
    static const uint8_t key7[8] = {0, 0, 0, 0, 0, 0, 0, 7};
    MDB_val v;
    bool found = false;
    assert_int_equal(kp_raw_get(&tx, DB_RECS, key7, sizeof key7, &v, &found), 0);
    assert_true(found);
    Kumppani__V1__EventRef *raw = kumppani__v1__event_ref__unpack(NULL, v.mv_size, v.mv_data);
    assert_non_null(raw);
    assert_int_equal(raw->event_id, 4242);
    kumppani__v1__event_ref__free_unpacked(raw, NULL);

    /* A message with every field at its default packs to nothing; it is still a record. */
    s_put_ref(&tx, 3, 0);
    assert_int_equal(s_ref_at(&tx, DB_RECS, 3), 0);

    /* Overwriting replaces. */
    s_put_ref(&tx, 1, 11);
    s_commit(fx);
    assert_true(s_committed(fx, DB_RECS, key7, sizeof key7));

    /* Committed: a later turn reads the same. */
    s_begin(fx, &tx);
    assert_int_equal(s_ref_at(&tx, DB_RECS, 1), 11);
    s_expect_count(&tx, DB_RECS, 4); /* 1, 3, 7, 256 */
    s_commit(fx);
}

/* A service's typed rows (KP_REC_ID_*): records keyed by their id, in a test database, declared
 * as a service's header declares them. */
int info_get(kp_tx_t *tx, uint64_t id, Kumppani__V1__EventInfo **out, bool *found);
int info_put(kp_tx_t *tx, const Kumppani__V1__EventInfo *ev);
int info_del(kp_tx_t *tx, uint64_t id);

KP_REC_ID_GET(info_get, DB_RECS, Kumppani__V1__EventInfo, kumppani__v1__event_info__descriptor)
KP_REC_ID_PUT(info_put, DB_RECS, Kumppani__V1__EventInfo)
KP_REC_ID_DEL(info_del, DB_RECS)

/* The rows are kp_rec_*_id under the record's id: the same key (the id big-endian), the same
 * record; the delete removes it, and deleting it again is no error. */
static void
test_rec_typed_rows(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    Kumppani__V1__EventInfo in = KUMPPANI__V1__EVENT_INFO__INIT;
    in.id = 0x0102030405060708ull;
    in.capacity = 12;
    assert_int_equal(info_put(&tx, &in), 0);
    s_commit(fx);
    static const uint8_t key[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_true(s_committed(fx, DB_RECS, key, sizeof key));

    s_begin(fx, &tx);
    Kumppani__V1__EventInfo *out = NULL;
    bool found = false;
    assert_int_equal(info_get(&tx, in.id, &out, &found), 0);
    assert_true(found);
    assert_int_equal(out->id, in.id);
    assert_int_equal(out->capacity, 12);
    void *raw = NULL;
    assert_int_equal(
        kp_rec_get_id(&tx, DB_RECS, in.id, &kumppani__v1__event_info__descriptor, &raw, &found), 0);
    assert_true(found);
    assert_int_equal(((Kumppani__V1__EventInfo *)raw)->capacity, 12);
    found = true;
    assert_int_equal(info_get(&tx, in.id + 1, &out, &found), 0);
    assert_false(found);

    assert_int_equal(info_del(&tx, in.id), 0);
    found = true;
    assert_int_equal(info_get(&tx, in.id, &out, &found), 0);
    assert_false(found);
    assert_int_equal(kp_rec_del_id(&tx, DB_RECS, in.id), 0); /* absent already */
    s_commit(fx);
    assert_false(s_committed(fx, DB_RECS, key, sizeof key));
}

/* Bytes that do not decode: KP_ECORRUPT, found=false, *out untouched. */
static void
test_rec_corrupt(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    static const uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    static const uint8_t junk[] = {0x08, 0xff}; /* field 1, a varint cut short */
    assert_int_equal(kp_raw_put(&tx, DB_RECS, key, sizeof key, junk, sizeof junk), 0);
    void *sentinel = &tx, *out = sentinel;
    bool found = true;
    assert_int_equal(
        kp_rec_get_id(&tx, DB_RECS, 9, &kumppani__v1__event_ref__descriptor, &out, &found),
        KP_ECORRUPT);
    assert_false(found);
    assert_ptr_equal(out, sentinel);
    /* By byte key too. */
    found = true;
    assert_int_equal(kp_rec_get(&tx, DB_RECS, key, sizeof key, &kumppani__v1__event_ref__descriptor,
                                &out, &found),
                     KP_ECORRUPT);
    assert_false(found);
    /* A walk's bytes: the same bytes do not decode; a good record's do, into the unit's arena. */
    MDB_val bad = {sizeof junk, (void *)junk};
    int rc = 0;
    assert_null(kp_rec_decode(&tx, DB_RECS, &kumppani__v1__event_ref__descriptor, &bad, &rc));
    assert_int_equal(rc, KP_ECORRUPT);
    static const uint8_t good[] = {0x08, 0x2a}; /* event_id = 42 */
    MDB_val ok = {sizeof good, (void *)good};
    Kumppani__V1__EventRef *ref =
        kp_rec_decode(&tx, DB_RECS, &kumppani__v1__event_ref__descriptor, &ok, NULL);
    assert_non_null(ref);
    assert_int_equal(ref->event_id, 42);
    /* Good bytes that find the arena full are no damage: KP_ENOMEM, not KP_ECORRUPT. */
    kp_tx_t full = tx;
    full.arena = kp_arena_new(16);
    assert_non_null(kp_arena_alloc(full.arena, 16));
    rc = 0;
    assert_null(kp_rec_decode(&full, DB_RECS, &kumppani__v1__event_ref__descriptor, &ok, &rc));
    assert_int_equal(rc, KP_ENOMEM);
    kp_arena_destroy(&full.arena);
    s_commit(fx);
}

/* ---- tests: raw values ---------------------------------------------------------------------- */

/* Put flags: NOOVERWRITE refuses a known key untouched; APPEND takes a key below the last
 * the ordinary way. */
static void
test_put_flags(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    assert_int_equal(kp_raw_put_flags(&tx, DB_RECS, "k5", 2, "five", 4, MDB_APPEND), 0);
    assert_int_equal(kp_raw_put_flags(&tx, DB_RECS, "k9", 2, "nine", 4, MDB_APPEND), 0);
    assert_int_equal(kp_raw_put_flags(&tx, DB_RECS, "k1", 2, "one", 3, MDB_APPEND), 0);
    assert_int_equal(kp_raw_put_flags(&tx, DB_RECS, "k5", 2, "FIVE", 4, MDB_NOOVERWRITE), 1);
    assert_int_equal(kp_raw_put_flags(&tx, DB_RECS, "k7", 2, "seven", 5, MDB_NOOVERWRITE), 0);
    s_commit(fx);

    s_begin(fx, &tx);
    const char *keys[] = {"k1", "k5", "k7", "k9"}, *vals[] = {"one", "five", "seven", "nine"};
    for (int i = 0; i < 4; i++)
        s_expect_raw(&tx, DB_RECS, keys[i], 2, vals[i]);
    s_expect_count(&tx, DB_RECS, 4);
    s_commit(fx);
}

static void
test_raw_del(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    s_expect_count(&tx, DB_RECS, 0);
    assert_int_equal(kp_raw_put(&tx, DB_RECS, "k1", 2, "v1", 2), 0);
    assert_int_equal(kp_raw_put(&tx, DB_RECS, "k2", 2, "value-2", 7), 0);
    s_expect_count(&tx, DB_RECS, 2);
    s_commit(fx);

    s_begin(fx, &tx);
    s_expect_raw(&tx, DB_RECS, "k2", 2, "value-2");
    bool found = false;
    assert_int_equal(kp_raw_del(&tx, DB_RECS, "k1", 2, &found), 0);
    assert_true(found);
    s_expect_raw(&tx, DB_RECS, "k1", 2, NULL);
    /* Deleting what is not there is not an error; found says so. */
    found = true;
    assert_int_equal(kp_raw_del(&tx, DB_RECS, "k1", 2, &found), 0);
    assert_false(found);
    assert_int_equal(kp_raw_del(&tx, DB_RECS, "nope", 4, NULL), 0);
    s_expect_count(&tx, DB_RECS, 1);
    s_commit(fx);
    assert_false(s_committed(fx, DB_RECS, "k1", 2));
    assert_true(s_committed(fx, DB_RECS, "k2", 2));

    /* The delete with found=NULL really deletes. */
    s_begin(fx, &tx);
    assert_int_equal(kp_raw_del(&tx, DB_RECS, "k2", 2, NULL), 0);
    s_commit(fx);
    assert_false(s_committed(fx, DB_RECS, "k2", 2));
}

/* ---- tests: walks --------------------------------------------------------------------------- */

typedef struct {
    char seen[256]; /* "a1 a2 ..." */
    unsigned n, stop_after;
} walk_t;

static int
s_visit(void *arg, const MDB_val *key, const MDB_val *val)
{
    walk_t *w = arg;
    /* Each value is its key with a capital first letter. */
    const char *k = key->mv_data, *v = val->mv_data;
    assert_int_equal(val->mv_size, key->mv_size);
    assert_int_equal(v[0], k[0] - 'a' + 'A');
    assert_memory_equal(v + 1, k + 1, key->mv_size - 1);
    size_t len = strlen(w->seen);
    snprintf(w->seen + len, sizeof w->seen - len, "%s%.*s", len ? " " : "", (int)key->mv_size,
             (const char *)key->mv_data);
    w->n++;
    return w->stop_after && w->n == w->stop_after ? 7 : 0;
}

/* Walks forwards (rev false) or backwards and checks the keys seen and the result. */
static void
s_walk(kp_tx_t *tx, bool rev, const char *from, const char *prefix, unsigned stop_after,
       int want_rc, const char *want)
{
    walk_t w = {.stop_after = stop_after};
    size_t fl = from ? strlen(from) : 0, pl = prefix ? strlen(prefix) : 0;
    int rc = rev ? kp_rec_each_rev(tx, DB_RECS, from, fl, prefix, pl, s_visit, &w)
                 : kp_rec_each(tx, DB_RECS, from, fl, prefix, pl, s_visit, &w);
    if (rc != want_rc || strcmp(w.seen, want) != 0)
        fail_msg("%s from \"%s\" prefix \"%s\": rc %d \"%s\", want rc %d \"%s\"",
                 rev ? "each_rev" : "each", from ? from : "", prefix ? prefix : "", rc, w.seen,
                 want_rc, want);
}

/* ---- tests: decoded and index walks ------------------------------------------------------- */

typedef struct {
    uint64_t got[8];
    unsigned n, stop_after;
} ids_seen_t;

static int
s_ref_seen(void *arg, void *rec)
{
    ids_seen_t *w = arg;
    w->got[w->n++] = ((Kumppani__V1__EventRef *)rec)->event_id;
    return w->stop_after && w->n == w->stop_after ? 7 : 0;
}

/* kp_rec_walk_scratch's step: the record, and its key's last byte (the id's low byte). */
static int
s_ref_seen_key(void *arg, const MDB_val *key, void *rec)
{
    assert_int_equal(key->mv_size, 8);
    assert_int_equal(((const uint8_t *)key->mv_data)[7] * 10,
                     ((Kumppani__V1__EventRef *)rec)->event_id);
    return s_ref_seen(arg, rec);
}

static int
s_id_seen(void *arg, uint64_t id)
{
    ids_seen_t *w = arg;
    w->got[w->n++] = id;
    return w->stop_after && w->n == w->stop_after ? 7 : 0;
}

/* kp_rec_walk hands over decoded records in key order from a key (kp_rec_walk_rev backwards),
 * stops where fn says (its value back) and on a record that does not decode (KP_ECORRUPT);
 * kp_rec_each_id hands over the id at the end of each key of the given length, within the prefix.
 */
static void
test_walks(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    s_put_ref(&tx, 1, 10);
    s_put_ref(&tx, 2, 20);
    s_put_ref(&tx, 3, 30);
    ids_seen_t w = {0};
    const ProtobufCMessageDescriptor *d = &kumppani__v1__event_ref__descriptor;
    assert_int_equal(kp_rec_walk(&tx, DB_RECS, NULL, 0, d, s_ref_seen, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.got[0], 10);
    assert_int_equal(w.got[2], 30);
    static const uint8_t from2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    w = (ids_seen_t){.stop_after = 1};
    assert_int_equal(kp_rec_walk(&tx, DB_RECS, from2, 8, d, s_ref_seen, &w), 7);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.got[0], 20);
    /* In a scratch arena emptied per record: the unit's arena does not grow, however many. */
    kp_arena_t *scratch = kp_arena_new(512);
    size_t used = kp_arena_used(tx.arena);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_walk_scratch(&tx, DB_RECS, NULL, 0, d, scratch, s_ref_seen_key, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.got[1], 20);
    assert_int_equal(kp_arena_used(tx.arena), used);
    assert_true(kp_arena_used(scratch) < 512);
    w = (ids_seen_t){.stop_after = 1};
    assert_int_equal(kp_rec_walk_scratch(&tx, DB_RECS, from2, 8, d, scratch, s_ref_seen_key, &w),
                     7);
    assert_int_equal(w.got[0], 20);
    kp_arena_destroy(&scratch);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_walk_rev(&tx, DB_RECS, NULL, 0, d, s_ref_seen, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.got[0], 30);
    assert_int_equal(w.got[2], 10);
    w = (ids_seen_t){.stop_after = 2};
    assert_int_equal(kp_rec_walk_rev(&tx, DB_RECS, from2, 8, d, s_ref_seen, &w), 7);
    assert_int_equal(w.got[0], 20);
    assert_int_equal(w.got[1], 10);
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    static const uint8_t key4[8] = {0, 0, 0, 0, 0, 0, 0, 4};
    assert_int_equal(kp_raw_put(&tx, DB_RECS, key4, 8, junk, sizeof junk), 0);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_walk(&tx, DB_RECS, NULL, 0, d, s_ref_seen, &w), KP_ECORRUPT);
    assert_int_equal(w.n, 3);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_walk_rev(&tx, DB_RECS, NULL, 0, d, s_ref_seen, &w), KP_ECORRUPT);
    assert_int_equal(w.n, 0);

    /* An index: "a" . id and "b" . id, and a stray key of another length. */
    uint8_t k[9];
    for (uint64_t id = 5; id <= 7; id++) {
        k[0] = id == 6 ? 'b' : 'a';
        kp_be64_put(k + 1, id);
        assert_int_equal(kp_raw_put(&tx, DB_OTHER, k, 9, "", 0), 0);
    }
    assert_int_equal(kp_raw_put(&tx, DB_OTHER, "a-stray", 7, "", 0), 0);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_each_id(&tx, DB_OTHER, "a", 1, "a", 1, 9, s_id_seen, &w), 0);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.got[0], 5);
    assert_int_equal(w.got[1], 7);
    w = (ids_seen_t){.stop_after = 1};
    assert_int_equal(kp_rec_each_id(&tx, DB_OTHER, NULL, 0, NULL, 0, 9, s_id_seen, &w), 7);
    assert_int_equal(w.got[0], 5);

    /* kp_rec_each_idx loads what the index points at, passing over ids without a record
     * (5 and 7 have none yet) and stopping on one that does not decode (4). */
    s_put_ref(&tx, 7, 70);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_each_idx(&tx, DB_OTHER, "a", 1, "a", 1, 9, DB_RECS, d, s_ref_seen, &w),
                     0);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.got[0], 70);
    k[0] = 'c';
    kp_be64_put(k + 1, 4);
    assert_int_equal(kp_raw_put(&tx, DB_OTHER, k, 9, "", 0), 0);
    w = (ids_seen_t){0};
    assert_int_equal(kp_rec_each_idx(&tx, DB_OTHER, "c", 1, "c", 1, 9, DB_RECS, d, s_ref_seen, &w),
                     KP_ECORRUPT);
    assert_int_equal(w.n, 0);
    s_commit(fx);
}

/* A key LMDB refuses (longer than its 511-byte limit) is a store error for a write, returned
 * (and logged) by the record layer; it aborts nothing: the turn's other writes commit. */
static void
test_store_error(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    static uint8_t big[600];
    memset(big, 'k', sizeof big);
    assert_int_equal(kp_raw_put(&tx, DB_RECS, "ok", 2, "1", 1), 0);
    assert_int_equal(kp_raw_put(&tx, DB_RECS, big, sizeof big, "1", 1), KP_ESTORE);
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    assert_int_equal(kp_rec_put(&tx, DB_RECS, big, sizeof big, &ref.base), KP_ESTORE);
    /* Reads of such a key find nothing (LMDB may answer "not found" or refuse the size). */
    MDB_val v;
    bool found = true;
    int rc = kp_raw_get(&tx, DB_RECS, big, sizeof big, &v, &found);
    assert_true(rc == 0 || rc == KP_ESTORE);
    assert_false(found);
    void *out = NULL;
    found = true;
    rc = kp_rec_get(&tx, DB_RECS, big, sizeof big, &kumppani__v1__event_ref__descriptor, &out,
                    &found);
    assert_true(rc == 0 || rc == KP_ESTORE);
    assert_false(found);
    assert_null(out);
    found = true;
    rc = kp_raw_del(&tx, DB_RECS, big, sizeof big, &found);
    assert_true(rc == 0 || rc == KP_ESTORE);
    assert_false(found);
    s_commit(fx);
    assert_true(s_committed(fx, DB_RECS, "ok", 2));
}

static void
test_each(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    static const char *const keys[] = {"b2", "a3", "c", "a1", "b1", "a2"};
    for (size_t i = 0; i < 6; i++) {
        char up[4];
        size_t n = strlen(keys[i]);
        memcpy(up, keys[i], n);
        up[0] = (char)(up[0] - 'a' + 'A');
        assert_int_equal(kp_raw_put(&tx, DB_RECS, keys[i], n, up, n), 0);
    }
    s_commit(fx);
    s_begin(fx, &tx);

    /* Forwards, in key order. */
    s_walk(&tx, false, NULL, NULL, 0, 0, "a1 a2 a3 b1 b2 c");
    s_walk(&tx, false, "a2", "a", 0, 0, "a2 a3");
    s_walk(&tx, false, "a", "a", 0, 0, "a1 a2 a3");
    s_walk(&tx, false, "b", "b", 0, 0, "b1 b2");
    s_walk(&tx, false, "a25", NULL, 0, 0, "a3 b1 b2 c"); /* from between two keys */
    s_walk(&tx, false, "d", NULL, 0, 0, "");             /* from past the end */
    s_walk(&tx, false, "x", "x", 0, 0, "");              /* an empty prefix range */
    s_walk(&tx, false, NULL, "b", 0, 0, "");             /* the first key is out of range */
    /* Early stop: the positive value comes back and nothing more is visited. */
    s_walk(&tx, false, NULL, NULL, 2, 7, "a1 a2");
    s_walk(&tx, false, "b", "b", 1, 7, "b1");

    /* Backwards from the last key <= from. */
    s_walk(&tx, true, NULL, NULL, 0, 0, "c b2 b1 a3 a2 a1");
    s_walk(&tx, true, "a25", "a", 0, 0, "a2 a1");
    s_walk(&tx, true, "b1", "b", 0, 0, "b1"); /* exact from; a3 is out of the prefix */
    s_walk(&tx, true, "b9", "b", 0, 0, "b2 b1");
    s_walk(&tx, true, "zz", NULL, 0, 0, "c b2 b1 a3 a2 a1"); /* from past the end */
    s_walk(&tx, true, "0", NULL, 0, 0, "");                  /* from before the first key */
    s_walk(&tx, true, NULL, NULL, 1, 7, "c");
    s_walk(&tx, true, "a3", "a", 2, 7, "a3 a2");

    s_expect_count(&tx, DB_RECS, 6);
    s_expect_count(&tx, DB_OTHER, 0);
    /* From the first key above from: a page after the last key of the page before. */
    static const struct {
        const char *from, *prefix, *want;
    } after[] = {
        {"a2", "a", "a3"},
        {"a2", NULL, "a3 b1 b2 c"},
        {"a25", NULL, "a3 b1 b2 c"}, /* from between two keys: as kp_rec_each */
        {NULL, NULL, "a1 a2 a3 b1 b2 c"},
        {"c", NULL, ""},
        {"a3", "a", ""},
    };
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        walk_t w = {0};
        const char *f = after[i].from, *p = after[i].prefix;
        assert_int_equal(kp_rec_each_after(&tx, DB_RECS, f, f ? strlen(f) : 0, p, p ? strlen(p) : 0,
                                           s_visit, &w),
                         0);
        assert_string_equal(w.seen, after[i].want);
    }

    /* An empty database walks to nothing. */
    walk_t w = {0};
    assert_int_equal(kp_rec_each(&tx, DB_OTHER, NULL, 0, NULL, 0, s_visit, &w), 0);
    assert_int_equal(kp_rec_each_rev(&tx, DB_OTHER, NULL, 0, NULL, 0, s_visit, &w), 0);
    assert_int_equal(w.n, 0);
    s_commit(fx);
}

/* ---- tests: through real calls -------------------------------------------------------------- */

static void
test_load_in_call(void **state)
{
    fx_t *fx = *state;
    kp_tx_t tx;
    s_begin(fx, &tx);
    s_put_ref(&tx, 5, 5005);
    static const uint8_t key9[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    static const uint8_t junk[] = {0x08, 0xff};
    assert_int_equal(kp_raw_put(&tx, DB_RECS, key9, sizeof key9, junk, sizeof junk), 0);
    s_commit(fx);

    /* Both loads (kp_rec_need names the record and its id where kp_rec_load names the field):
     * found, the record itself; missing, NOT_FOUND in the load's wording and no body;
     * undecodable, an internal error; id 0, the field is required whatever is stored. */
    static const struct {
        const char *method, *missing;
    } loads[] = {{"test.load", "field 'event_id': no such event"},
                 {"test.need", "event 6 not found"}};
    Kumppani__V1__Reply *r;
    for (uint64_t i = 0; i < 2; i++) {
        r = s_call(fx, 10 * i + 1, loads[i].method, 5);
        assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
        assert_int_equal(s_reply_event_id(r), 5005);
        r = s_call(fx, 10 * i + 2, loads[i].method, 6);
        assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_NOT_FOUND);
        assert_string_equal(r->status->message, loads[i].missing);
        assert_int_equal(r->body.len, 0);
        r = s_call(fx, 10 * i + 3, loads[i].method, 9);
        assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INTERNAL);
        assert_string_equal(r->status->message, "internal error (stored data is corrupt)");
        r = s_call(fx, 10 * i + 4, loads[i].method, 0);
        assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
        assert_string_equal(r->status->message, "field 'event_id': required");
    }

    /* A write in a call: stored, emitted and committed before the reply. */
    r = s_call(fx, 30, "test.put", 77);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    assert_int_equal(s_reply_event_id(r), 77);
    static const uint8_t key77[8] = {0, 0, 0, 0, 0, 0, 0, 77};
    assert_true(s_committed(fx, DB_RECS, key77, sizeof key77));
    assert_int_equal(kp_store_head(kp_server_store(fx->t.srv)), 1);
    r = s_call(fx, 31, "test.load", 77);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    assert_int_equal(s_reply_event_id(r), 77);
}

/* kp_tx_answer: a KP code is answered as kp_call_fail_err answers it, without a body; 0 is
 * the reply. */
static void
test_answer(void **state)
{
    fx_t *fx = *state;
    Kumppani__V1__Reply *r = s_call(fx, 1, "test.answer", 9);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INTERNAL);
    assert_string_equal(r->status->message, "internal error (stored data is corrupt)");
    assert_int_equal(r->body.len, 0);
    r = s_call(fx, 2, "test.answer", 4);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    assert_int_equal(s_reply_event_id(r), 4);
}

/* ---- tests: the start of an idempotent create (kp_idem) --------------------------------------
 *
 * "test.create" counts its runs and answers the count in event_id, behind
 * kp_call_idem_required; "test.check" answers OK behind kp_call_idem_key_ok. Without a key
 * both refuse, naming the field and the method; with one the create runs once, the same
 * request again gets the first answer (the handler does not run), the same key with other
 * content is a conflict, another key runs again. */

/* One call of method with body EventRef{event_id} under key ("" for none). */
static Kumppani__V1__Reply *
s_call_key(fx_t *fx, uint64_t rid, const char *method, const char *key, uint64_t event_id)
{
    uint8_t body[64], frame[256];
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = event_id;
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = rid;
    rq.method = (char *)method;
    rq.idempotency_key = (char *)key;
    rq.body.len = kumppani__v1__event_ref__pack(&ref, body);
    rq.body.data = body;
    size_t n = kumppani__v1__request__pack(&rq, frame);
    assert_int_equal(zmq_send(fx->t.dealer, frame, n, 0), (int)n);
    return kp_test_srv_reply(&fx->t, fx->a, rid, method);
}

static uint64_t
s_count(fx_t *fx, const Kumppani__V1__Reply *r)
{
    const Kumppani__V1__EventRef *ref =
        kp_test_ok_body(r, &kumppani__v1__event_ref__descriptor, fx->a);
    return ref->event_id;
}

static void
test_idem_required(void **state)
{
    fx_t *fx = *state;
    s_runs = 0;
    Kumppani__V1__Reply *r = s_call_key(fx, 1, "test.create", "", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'idempotency_key': required for create");
    assert_int_equal(s_runs, 0);
    r = s_call_key(fx, 2, "test.check", "", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_INVALID);
    assert_string_equal(r->status->message, "field 'idempotency_key': required for check");
    r = s_call_key(fx, 3, "test.check", "k", 7);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
}

static void
test_idem_first_answer(void **state)
{
    fx_t *fx = *state;
    s_runs = 0;
    assert_int_equal(s_count(fx, s_call_key(fx, 1, "test.create", "key-1", 7)), 1);
    /* the same request again: the first answer, and the handler did not run */
    assert_int_equal(s_count(fx, s_call_key(fx, 2, "test.create", "key-1", 7)), 1);
    assert_int_equal(s_runs, 1);
    /* the same key with other content */
    Kumppani__V1__Reply *r = s_call_key(fx, 3, "test.create", "key-1", 8);
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_CONFLICT);
    assert_int_equal(s_runs, 1);
    /* another key runs again */
    assert_int_equal(s_count(fx, s_call_key(fx, 4, "test.create", "key-2", 7)), 2);
}

/* ---- tests: committing before the turn ends (kp_server_commit) ---------------------------- */

static int s_done_n, s_done_rc = -1;

static void
s_turn_done(void *arg, int rc)
{
    (void)arg;
    s_done_n++;
    s_done_rc = rc;
}

static void
test_commit_now(void **state)
{
    fx_t *fx = *state;
    kp_server_part_t part = {.turn_done = s_turn_done};
    assert_int_equal(kp_server_add_part(fx->t.srv, &part), 0);
    kp_store_t *st = kp_server_store(fx->t.srv);

    /* Nothing open: a no-op the parts do not hear. */
    s_done_n = 0;
    assert_int_equal(kp_server_commit(fx->t.srv), 0);
    assert_int_equal(s_done_n, 0);

    /* A write and an event, committed in the middle of the turn: on disk at once, the log's
     * head moved, the parts told. */
    kp_tx_t tx;
    s_begin(fx, &tx);
    s_put_ref(&tx, 41, 1);
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    assert_int_equal(kp_tx_emit(&tx, "Put", &ref.base), 0);
    unsigned char k41[8], k42[8];
    kp_be64_put(k41, 41);
    kp_be64_put(k42, 42);
    assert_false(s_committed(fx, DB_RECS, k41, 8));
    uint64_t head = kp_store_head(st);
    assert_int_equal(kp_server_commit(fx->t.srv), 0);
    assert_false(kp_store_turn_open(st));
    assert_true(s_committed(fx, DB_RECS, k41, 8));
    assert_int_equal(kp_store_head(st), head + 1);
    assert_int_equal(s_done_n, 1);
    assert_int_equal(s_done_rc, 0);

    /* The same turn goes on in a new transaction, committed when the turn ends. */
    s_begin(fx, &tx);
    s_put_ref(&tx, 42, 2);
    assert_false(s_committed(fx, DB_RECS, k42, 8));
    s_commit(fx);
    assert_true(s_committed(fx, DB_RECS, k42, 8));
    assert_int_equal(s_done_n, 2);
}

/* kp_server_idem_rewrite over more stored replies than the request arena holds decoded at
 * once (2 MiB): every one is handed to fix and rewritten (a person's erasure in a large store
 * must not pass over the replies late in the walk), and what was left alone stays as it was. */
static Kumppani__V1__EventReply s_erased_reply;
static unsigned s_fix_seen;

static const ProtobufCMessage *
s_fix_title(void *arg, const ProtobufCMessage *reply)
{
    (void)arg;
    const Kumppani__V1__EventReply *r = (const void *)reply;
    s_fix_seen++;
    if (!r->event || r->event->id % 2) /* the odd ones are not the subject's */
        return NULL;
    return &s_erased_reply.base;
}

static void
test_idem_rewrite_large(void **state)
{
    fx_t *fx = *state;
    enum { N = 1200, TITLE = 3000 };
    static char title[TITLE + 1];
    memset(title, 'x', TITLE);
    Kumppani__V1__EventInfo ev = KUMPPANI__V1__EVENT_INFO__INIT;
    Kumppani__V1__EventReply rep = KUMPPANI__V1__EVENT_REPLY__INIT;
    rep.event = &ev;
    ev.title = title;
    static uint8_t buf[TITLE + 64];
    kp_tx_t tx;
    s_begin(fx, &tx);
    kp_store_t *st = kp_server_store(fx->t.srv);
    for (unsigned i = 0; i < N; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "test.create%ckey-%u", 0, i);
        ev.id = i;
        size_t n = kumppani__v1__event_reply__pack(&rep, buf);
        assert_int_equal(kp_store_idem_put(st, kp_tx_wtxn(&tx), key, (size_t)kl, buf, n), 0);
    }
    s_commit(fx);

    static Kumppani__V1__EventInfo erased = KUMPPANI__V1__EVENT_INFO__INIT;
    s_erased_reply = (Kumppani__V1__EventReply)KUMPPANI__V1__EVENT_REPLY__INIT;
    erased.title = (char *)"(erased)";
    s_erased_reply.event = &erased;
    s_fix_seen = 0;
    unsigned rewritten = 0;
    s_begin(fx, &tx);
    assert_int_equal(kp_server_idem_rewrite(fx->t.srv, kp_tx_wtxn(&tx), "test.create",
                                            &kumppani__v1__event_reply__descriptor, s_fix_title,
                                            NULL, &rewritten),
                     0);
    s_commit(fx);
    assert_int_equal(s_fix_seen, N);
    assert_int_equal(rewritten, N / 2);
    for (unsigned i = 0; i < N; i += N / 4 - 1) {
        char key[32];
        int kl = snprintf(key, sizeof key, "key-%u", i);
        bool found = false;
        MDB_val v;
        MDB_txn *txn;
        assert_int_equal(mdb_txn_begin(kp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
        assert_int_equal(
            kp_server_idem_get(fx->t.srv, txn, "test.create", key, (size_t)kl, &found, &v), 0);
        assert_true(found);
        Kumppani__V1__EventReply *got =
            kumppani__v1__event_reply__unpack(NULL, v.mv_size, v.mv_data);
        mdb_txn_abort(txn);
        assert_non_null(got);
        assert_non_null(got->event);
        if (i % 2 == 0)
            assert_string_equal(got->event->title, "(erased)");
        else
            assert_int_equal(strlen(got->event->title), TITLE);
        kumppani__v1__event_reply__free_unpacked(got, NULL);
    }
}

int
main(void)
{
    kp_log_init("test", KP_LOG_WARNING);
    return KP_TEST_RUN(s_setup, s_teardown, test_unit_outside_call, test_rec_round_trip,
                       test_rec_typed_rows, test_rec_corrupt, test_put_flags, test_raw_del,
                       test_each, test_walks, test_store_error, test_load_in_call, test_answer,
                       test_idem_required, test_idem_first_answer, test_idem_rewrite_large,
                       test_commit_now);
}
