/*  test_kp_store: the LMDB environment, the turn, the sequence
 *  log, and the small tables every service has.
 *
 *  Real LMDB files in a fresh mkdtemp directory per test, where the fixture opens the store
 *  (schema 2, one service database "kv"); "reopen" means kp_store_close and kp_store_open
 *  again, so what survives is what reached the files. */
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_store.h"
#include "kp_test_server.h"
#include "kumppani/v1/log.pb-c.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static const char *const s_dbs[] = {"kv"};

typedef struct {
    char root[64];
    char dir[96];
    kp_store_opts_t opts;
    kp_store_t *st;
    kp_arena_t *a;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!kp_test_tmpdir(fx->root, sizeof fx->root, "kp_store"))
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/data", fx->root); /* made by kp_store_open */
    fx->opts = (kp_store_opts_t){.dir = fx->dir,
                                 .source = "events",
                                 .map_size = 16u << 20,
                                 .dbs = s_dbs,
                                 .dbs_n = 1,
                                 .schema_version = 2};
    fx->a = kp_arena_new(1 << 20);
    *state = fx;
    return kp_store_open(&fx->st, &fx->opts) == 0 ? 0 : -1;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    kp_store_close(&fx->st);
    kp_arena_destroy(&fx->a);
    kp_test_rm_store(fx->dir);
    int rc = rmdir(fx->root);
    free(fx);
    return rc;
}

static void
s_open(fx_t *fx)
{
    int rc = kp_store_open(&fx->st, &fx->opts);
    assert_int_equal(rc, 0);
    assert_non_null(fx->st);
}

static void
s_reopen(fx_t *fx)
{
    kp_store_close(&fx->st);
    assert_null(fx->st);
    s_open(fx);
}

static void *
s_alloc(void *arg, size_t n)
{
    return kp_arena_alloc(arg, n);
}

/* The turn's write transaction (opened if none is). */
static MDB_txn *
s_turn(fx_t *fx)
{
    MDB_txn *txn;
    assert_int_equal(kp_store_turn_txn(fx->st, &txn), 0);
    return txn;
}

/* A fresh read-only transaction: committed data only. The caller aborts it. */
static MDB_txn *
s_snapshot(fx_t *fx)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(kp_store_env(fx->st), NULL, MDB_RDONLY, &txn), 0);
    return txn;
}

/* Commits the turn. */
static void
s_commit(fx_t *fx)
{
    assert_int_equal(kp_store_turn_commit(fx->st, NULL), 0);
}

/* Appends one event of type in txn; returns its seq. */
static uint64_t
s_append(fx_t *fx, MDB_txn *txn, const char *type)
{
    uint8_t *ev;
    size_t ev_len;
    uint64_t seq = 0;
    int rc = kp_store_log_append(fx->st, txn, type, type, strlen(type), 1700000000123, s_alloc,
                                 fx->a, &ev, &ev_len, &seq);
    assert_int_equal(rc, 0);
    /* The encoded event handed back is what a service publishes: it must decode. */
    Kumppani__V1__Event *e = kumppani__v1__event__unpack(NULL, ev_len, ev);
    assert_non_null(e);
    assert_int_equal(e->seq, seq);
    assert_string_equal(e->type, type);
    assert_string_equal(e->source, "events");
    kumppani__v1__event__free_unpacked(e, NULL);
    return seq;
}

static void
s_put(fx_t *fx, MDB_txn *txn, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v = {1, "1"};
    assert_int_equal(mdb_put(txn, kp_store_dbi(fx->st, 0), &k, &v, 0), 0);
}

/* Whether key is in "kv", as a fresh read transaction (committed data only) sees it. */
static bool
s_has(fx_t *fx, const char *key)
{
    MDB_txn *txn = s_snapshot(fx);
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, kp_store_dbi(fx->st, 0), &k, &v);
    mdb_txn_abort(txn);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

/* ---- the log reader's callback ------------------------------------------------------------ */

typedef struct {
    uint64_t seq[64];
    char type[64][16];
    size_t bytes;
    unsigned n, stop_after;
} reads_t;

static int
s_collect(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    reads_t *r = arg;
    Kumppani__V1__Event *e = kumppani__v1__event__unpack(NULL, len, bytes);
    assert_non_null(e);
    assert_int_equal(e->seq, seq); /* the key and the stored event agree */
    assert_int_equal(e->time_ms, 1700000000123);
    snprintf(r->type[r->n], sizeof r->type[0], "%s", e->type);
    kumppani__v1__event__free_unpacked(e, NULL);
    r->seq[r->n++] = seq;
    r->bytes += len;
    return r->stop_after && r->n >= r->stop_after;
}

static reads_t
s_read(fx_t *fx, uint64_t from, unsigned limit, size_t max_bytes, unsigned stop_after)
{
    reads_t r = {.stop_after = stop_after};
    MDB_txn *txn = s_snapshot(fx);
    assert_int_equal(kp_store_log_read(fx->st, txn, from, limit, max_bytes, s_collect, &r), 0);
    mdb_txn_abort(txn);
    return r;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_open_creates(void **state)
{
    fx_t *fx = *state;
    struct stat st;
    assert_int_equal(stat(fx->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(kp_store_head(fx->st), 0);
    assert_int_equal(kp_store_turn_head(fx->st), 0);
    assert_false(kp_store_turn_open(fx->st));
    assert_string_equal(kp_store_source(fx->st), "events");
    /* The four built-in databases and the service's own exist (opening without CREATE). */
    MDB_txn *txn = s_snapshot(fx);
    static const char *const names[] = {"meta", "log", "idem", "offsets", "kv"};
    for (size_t i = 0; i < 5; i++) {
        MDB_dbi dbi;
        int rc = mdb_dbi_open(txn, names[i], 0, &dbi);
        if (rc != 0)
            fail_msg("database %s: %s", names[i], mdb_strerror(rc));
    }
    mdb_txn_abort(txn);
    /* Too many service databases are refused before anything is touched. */
    kp_store_opts_t o = fx->opts;
    o.dbs_n = 25;
    kp_store_t *other = NULL;
    assert_int_equal(kp_store_open(&other, &o), KP_EINVAL);
    assert_null(other);
    /* Nothing to commit is fine. */
    int64_t ms = -1;
    assert_int_equal(kp_store_turn_commit(fx->st, &ms), 0);
    kp_store_turn_abort(fx->st); /* no turn: a no-op */
    kp_store_close(NULL);
}

static void
test_next_id(void **state)
{
    fx_t *fx = *state;
    uint64_t id = 0;
    MDB_txn *txn = s_turn(fx);
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(kp_store_next_id(fx->st, txn, "event", &id), 0);
        assert_int_equal(id, want);
    }
    /* Counters are independent. */
    assert_int_equal(kp_store_next_id(fx->st, txn, "signup", &id), 0);
    assert_int_equal(id, 1);
    int64_t ms = 0;
    assert_int_equal(kp_store_turn_commit(fx->st, &ms), 0);
    assert_true(ms > 1600000000000); /* a wall-clock time in ms */

    /* An aborted turn gives its ids back. */
    txn = s_turn(fx);
    assert_int_equal(kp_store_next_id(fx->st, txn, "event", &id), 0);
    assert_int_equal(id, 4);
    kp_store_turn_abort(fx->st);

    s_reopen(fx);
    txn = s_turn(fx);
    assert_int_equal(kp_store_next_id(fx->st, txn, "event", &id), 0);
    assert_int_equal(id, 4);
    assert_int_equal(kp_store_next_id(fx->st, txn, "signup", &id), 0);
    assert_int_equal(id, 2);
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(kp_store_next_id(fx->st, txn, longname, &id), KP_EINVAL);
    s_commit(fx);
}

static void
test_log_order_and_paging(void **state)
{
    fx_t *fx = *state;
    static const char *const types[] = {"A", "Bb", "Ccc", "Dddd", "Eeeee"};
    MDB_txn *txn;
    /* Two batches in one turn: three events, then two. */
    txn = s_turn(fx);
    assert_true(kp_store_turn_open(fx->st));
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_append(fx, txn, types[i]), i + 1);
    txn = s_turn(fx);
    for (int i = 3; i < 5; i++)
        assert_int_equal(s_append(fx, txn, types[i]), i + 1);
    /* Before the turn commits the head has not moved; the turn head has. */
    assert_int_equal(kp_store_head(fx->st), 0);
    assert_int_equal(kp_store_turn_head(fx->st), 5);
    reads_t r = s_read(fx, 1, 100, 1 << 20, 0);
    assert_int_equal(r.n, 0); /* nothing committed yet */
    s_commit(fx);
    assert_false(kp_store_turn_open(fx->st));
    assert_int_equal(kp_store_head(fx->st), 5);

    r = s_read(fx, 0, 100, 1 << 20, 0); /* from 0 means from the start */
    assert_int_equal(r.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(r.seq[i], i + 1);
        assert_string_equal(r.type[i], types[i]);
    }
    size_t all_bytes = r.bytes;

    r = s_read(fx, 2, 2, 1 << 20, 0); /* limit */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.seq[0], 2);
    assert_int_equal(r.seq[1], 3);
    r = s_read(fx, 4, 100, 1 << 20, 0); /* from the middle to the end */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.seq[1], 5);
    r = s_read(fx, 6, 100, 1 << 20, 0); /* past the head */
    assert_int_equal(r.n, 0);
    r = s_read(fx, 1, 100, 1, 0); /* max_bytes below one event: still one */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 1);
    reads_t two = s_read(fx, 1, 2, 1 << 20, 0);
    r = s_read(fx, 1, 100, two.bytes, 0); /* exactly two events' bytes */
    assert_int_equal(r.n, 2);
    r = s_read(fx, 1, 100, two.bytes + 1, 0); /* the third does not fit in one more byte */
    assert_int_equal(r.n, 2);
    r = s_read(fx, 1, 100, all_bytes, 0);
    assert_int_equal(r.n, 5);
    r = s_read(fx, 1, 100, 1 << 20, 3); /* fn stops the read */
    assert_int_equal(r.n, 3);
    r = s_read(fx, 1, 0, 1 << 20, 0); /* limit 0 */
    assert_int_equal(r.n, 0);

    /* The head is found again after reopening, and appends continue from it. */
    s_reopen(fx);
    assert_int_equal(kp_store_head(fx->st), 5);
    txn = s_turn(fx);
    assert_int_equal(s_append(fx, txn, "F"), 6);
    s_commit(fx);
    assert_int_equal(kp_store_head(fx->st), 6);
}

static void
test_turn_abort(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn = s_turn(fx);
    assert_int_equal(s_append(fx, txn, "A"), 1);
    s_commit(fx);

    txn = s_turn(fx);
    assert_int_equal(s_append(fx, txn, "X"), 2);
    s_put(fx, txn, "x");
    assert_int_equal(kp_store_turn_head(fx->st), 2);
    kp_store_turn_abort(fx->st);
    assert_false(kp_store_turn_open(fx->st));
    assert_int_equal(kp_store_head(fx->st), 1);
    assert_int_equal(kp_store_turn_head(fx->st), 1);
    assert_false(s_has(fx, "x"));
    assert_int_equal(s_read(fx, 1, 100, 1 << 20, 0).n, 1);

    /* The next turn starts from the committed head again. */
    txn = s_turn(fx);
    assert_int_equal(s_append(fx, txn, "Y"), 2);
    /* Closing with an open turn discards it. */
    s_reopen(fx);
    assert_int_equal(kp_store_head(fx->st), 1);
}

static void
test_idem(void **state)
{
    fx_t *fx = *state;
    bool found = true;
    MDB_val v;
    MDB_txn *txn = s_turn(fx);
    assert_int_equal(kp_store_idem_get(fx->st, txn, "m\0k1", 4, &found, &v), 0);
    assert_false(found);
    assert_int_equal(kp_store_idem_put(fx->st, txn, "m\0k1", 4, "reply-1", 7), 0);
    assert_int_equal(kp_store_idem_get(fx->st, txn, "m\0k1", 4, &found, &v), 0);
    assert_true(found);
    assert_int_equal(v.mv_size, 7);
    assert_memory_equal(v.mv_data, "reply-1", 7);
    /* Keys are bytes: a different tail after the NUL is a different key. */
    assert_int_equal(kp_store_idem_get(fx->st, txn, "m\0k2", 4, &found, &v), 0);
    assert_false(found);
    /* LMDB's key limit is 511 bytes. */
    char key[512];
    memset(key, 'k', sizeof key);
    assert_int_equal(kp_store_idem_put(fx->st, txn, key, 511, "x", 1), 0);
    assert_int_equal(kp_store_idem_put(fx->st, txn, key, 512, "x", 1), KP_EINVAL);
    assert_int_equal(kp_store_idem_get(fx->st, txn, key, 512, &found, &v), KP_EINVAL);
    assert_int_equal(kp_store_idem_put(fx->st, txn, key, 0, "x", 1), KP_EINVAL);
    assert_int_equal(kp_store_idem_get(fx->st, txn, key, 0, &found, &v), KP_EINVAL);
    s_commit(fx);

    s_reopen(fx);
    txn = s_snapshot(fx);
    assert_int_equal(kp_store_idem_get(fx->st, txn, "m\0k1", 4, &found, &v), 0);
    assert_true(found);
    assert_memory_equal(v.mv_data, "reply-1", 7);
    mdb_txn_abort(txn);
}

/* The idempotency records of test_idem_rewrite: key "m" NUL <group letter>-<number>, the
 * value len bytes: the key's text, then fill. */
typedef struct {
    char group; /* the records a rewrite replaces */
    size_t len;
    char fill;
    char buf[4096];
} rewrite_t;

static size_t
s_idem_val(char *buf, const char *key, size_t key_len, size_t len, char fill)
{
    memset(buf, fill, len);
    memcpy(buf, key + 2, key_len - 2);
    return len;
}

static int
s_rewrite_one(void *arg, const MDB_val *key, const MDB_val *val, void **out, size_t *out_len)
{
    (void)val;
    rewrite_t *r = arg;
    if (((const char *)key->mv_data)[2] != r->group)
        return 0;
    *out_len = s_idem_val(r->buf, key->mv_data, key->mv_size, r->len, r->fill);
    *out = r->buf;
    return 0;
}

/* kp_store_idem_rewrite's callback that only counts the records (arg: the count). */
static int
s_count(void *arg, const MDB_val *key, const MDB_val *val, void **out, size_t *out_len)
{
    (void)key, (void)val, (void)out, (void)out_len;
    (*(unsigned *)arg)++;
    return 0;
}

/* Checks that exactly the records a-0.. and b-0.. (n of each) are there, each holding what the
 * rewrite of its group last wrote (held[0] for a, held[1] for b). */
static void
s_check_idem(fx_t *fx, unsigned n, const rewrite_t *const held[2])
{
    MDB_txn *txn = s_snapshot(fx);
    for (unsigned g = 0; g < 2; g++)
        for (unsigned i = 0; i < n; i++) {
            char key[24], want[4096];
            int kl = snprintf(key, sizeof key, "m%c%c-%u", 0, 'a' + g, i);
            bool found = false;
            MDB_val v;
            assert_int_equal(kp_store_idem_get(fx->st, txn, key, (size_t)kl, &found, &v), 0);
            if (!found)
                fail_msg("%s is gone", key + 2);
            size_t wl = s_idem_val(want, key, (size_t)kl, held[g]->len, held[g]->fill);
            if (v.mv_size != wl || memcmp(v.mv_data, want, wl) != 0)
                fail_msg("%s holds %zu bytes, want %zu of '%c'", key + 2, v.mv_size, wl,
                         held[g]->fill);
        }
    mdb_txn_abort(txn);
    unsigned seen = 0, changed = 1;
    assert_int_equal(kp_store_idem_rewrite(fx->st, s_turn(fx), "m", 2, s_count, &seen, &changed),
                     0);
    kp_store_turn_abort(fx->st);
    assert_int_equal(changed, 0);
    if (seen != 2 * n)
        fail_msg("%u idempotency records, want %u", seen, 2 * n);
}

/* Rewriting one group of idempotency records to values of another size, then the other group,
 * keeps every key as it was and rewrites exactly each group's records (as a person's erasure
 * after another's does): the key handed to LMDB must not point into the page it rewrites. */
static void
test_idem_rewrite(void **state)
{
    fx_t *fx = *state;
    enum { N = 50 };
    static const rewrite_t stored = {.len = 700, .fill = 'S'};
    static const rewrite_t passes[] = {{.group = 'a', .len = 500, .fill = 'A'},
                                       {.group = 'b', .len = 500, .fill = 'B'},
                                       {.group = 'a', .len = 900, .fill = 'C'},
                                       {.group = 'b', .len = 2100, .fill = 'D'},
                                       {.group = 'b', .len = 90, .fill = 'E'}};
    const rewrite_t *held[2] = {&stored, &stored};
    MDB_txn *txn = s_turn(fx);
    for (unsigned g = 0; g < 2; g++)
        for (unsigned i = 0; i < N; i++) {
            char key[24], val[4096];
            int kl = snprintf(key, sizeof key, "m%c%c-%u", 0, 'a' + g, i);
            size_t vl = s_idem_val(val, key, (size_t)kl, stored.len, stored.fill);
            assert_int_equal(kp_store_idem_put(fx->st, txn, key, (size_t)kl, val, vl), 0);
        }
    s_commit(fx);
    s_check_idem(fx, N, held);
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        rewrite_t w = passes[p];
        unsigned n = 0;
        assert_int_equal(kp_store_idem_rewrite(fx->st, s_turn(fx), "m", 2, s_rewrite_one, &w, &n),
                         0);
        s_commit(fx);
        if (n != N)
            fail_msg("rewrite %zu (group %c) rewrote %u records, want %u", p, w.group, n, N);
        held[w.group - 'a'] = &passes[p];
        s_check_idem(fx, N, held);
    }
}

static void
test_offsets(void **state)
{
    fx_t *fx = *state;
    uint64_t seq = 99;
    MDB_txn *txn = s_turn(fx);
    assert_int_equal(kp_store_offset_get(fx->st, txn, "registry", &seq), 0);
    assert_int_equal(seq, 0); /* never applied */
    assert_int_equal(kp_store_offset_put(fx->st, txn, "registry", 41), 0);
    assert_int_equal(kp_store_offset_put(fx->st, txn, "registry", 0x0102030405060708ull), 0);
    assert_int_equal(kp_store_offset_put(fx->st, txn, "events", 7), 0);
    assert_int_equal(kp_store_offset_get(fx->st, txn, "registry", &seq), 0);
    assert_true(seq == 0x0102030405060708ull);
    s_commit(fx);
    s_reopen(fx);
    txn = s_snapshot(fx);
    assert_int_equal(kp_store_offset_get(fx->st, txn, "events", &seq), 0);
    assert_int_equal(seq, 7);
    assert_int_equal(kp_store_offset_get(fx->st, txn, "registry", &seq), 0);
    assert_true(seq == 0x0102030405060708ull);
    mdb_txn_abort(txn);
}

static void
test_schema_version(void **state)
{
    fx_t *fx = *state; /* the store open, with schema 2 */
    kp_store_close(&fx->st);
    fx->opts.schema_version = 1; /* an older program */
    kp_store_t *st = NULL;
    assert_int_equal(kp_store_open(&st, &fx->opts), KP_EVERSION);
    assert_null(st);
    fx->opts.schema_version = 2;
    s_open(fx);
    kp_store_close(&fx->st);
    fx->opts.schema_version = 3; /* a newer program opens an older store */
    s_open(fx);
}

/* Counts the occurrences of needle in the file at path. */
static unsigned
s_count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t m = strlen(needle);
    unsigned c = 0;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(buf + i, needle, m) == 0)
            c++;
    return c;
}

/* Erasure: a deleted record's bytes stay in data.mdb (LMDB keeps them on the freed page); a
 * compaction takes them off the disk, keeps every live record and the log head, and leaves a
 * store that takes writes again. */
static void
test_compact_erases_bytes(void **state)
{
    fx_t *fx = *state;
    static const char canary[] = "canary-Kaarina-Kuolema@example.fi";
    MDB_txn *txn = s_turn(fx);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%03d", i);
        MDB_val k = {strlen(key), key}, v = {sizeof canary, (void *)canary};
        assert_int_equal(mdb_put(txn, kp_store_dbi(fx->st, 0), &k, &v, 0), 0);
    }
    s_put(fx, txn, "keep");
    assert_int_equal(s_append(fx, txn, "A"), 1);
    s_commit(fx);
    txn = s_turn(fx);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%03d", i);
        MDB_val k = {strlen(key), key};
        assert_int_equal(mdb_del(txn, kp_store_dbi(fx->st, 0), &k, NULL), 0);
    }
    s_commit(fx);
    char data[160];
    snprintf(data, sizeof data, "%s/data.mdb", fx->dir);
    /* The fact this function exists for: deleted, yet still on the disk. */
    assert_true(s_count_in_file(data, canary) > 0);

    /* Not inside a turn. */
    txn = s_turn(fx);
    assert_int_equal(kp_store_compact(fx->st, NULL, NULL), KP_EINVAL);
    kp_store_turn_abort(fx->st);

    uint64_t before = 0, after = 0;
    assert_int_equal(kp_store_compact(fx->st, &before, &after), 0);
    assert_true(before > 0 && after > 0 && after <= before);
    assert_int_equal(s_count_in_file(data, canary), 0);
    assert_true(s_has(fx, "keep"));
    assert_false(s_has(fx, "p000"));
    assert_int_equal(kp_store_head(fx->st), 1);
    /* The reopened store takes writes and keeps them across a reopen. */
    txn = s_turn(fx);
    s_put(fx, txn, "after");
    assert_int_equal(s_append(fx, txn, "B"), 2);
    s_commit(fx);
    s_reopen(fx);
    assert_true(s_has(fx, "after") && s_has(fx, "keep"));
    assert_int_equal(kp_store_head(fx->st), 2);
    reads_t r = s_read(fx, 1, 100, 1 << 20, 0);
    assert_int_equal(r.n, 2);

    /* A copy left by a crash before its rename is removed at open; the store is the old one. */
    kp_store_close(&fx->st);
    char tmp[160], tmpfile[200];
    snprintf(tmp, sizeof tmp, "%s/compact.tmp", fx->dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    snprintf(tmpfile, sizeof tmpfile, "%s/data.mdb", tmp);
    FILE *f = fopen(tmpfile, "wb");
    assert_non_null(f);
    fputs("half a copy", f);
    fclose(f);
    s_open(fx);
    struct stat st;
    assert_int_not_equal(stat(tmp, &st), 0);
    assert_true(s_has(fx, "after"));
}

static int
s_scrub(void *arg, const Kumppani__V1__Event *ev, uint8_t **payload, size_t *payload_len,
        bool *changed)
{
    (void)arg;
    static uint8_t scrubbed[] = "scrubbed";
    if (strcmp(ev->type, "Secret") == 0) {
        *payload = scrubbed;
        *payload_len = sizeof scrubbed - 1;
        *changed = true;
    }
    return 0;
}

/* An upgrade takes personal data off an old log: the payload changes, the event stays. */
static void
test_log_rewrite(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn;
    uint8_t *ev;
    size_t ev_len;
    uint64_t seq;
    txn = s_turn(fx);
    static const char secret[] = "Pirkko Salainen pirkko@example.fi";
    assert_int_equal(kp_store_log_append(fx->st, txn, "Secret", secret, sizeof secret - 1,
                                         1700000000123, s_alloc, fx->a, &ev, &ev_len, &seq),
                     0);
    assert_int_equal(s_append(fx, txn, "Plain"), 2);
    s_commit(fx);
    uint64_t n = 0;
    txn = s_turn(fx);
    assert_int_equal(kp_store_log_rewrite(fx->st, txn, s_scrub, NULL, &n), 0);
    s_commit(fx);
    assert_int_equal(n, 1);
    reads_t r = s_read(fx, 1, 100, 1 << 20, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.type[0], "Secret");
    assert_string_equal(r.type[1], "Plain");
    assert_int_equal(r.seq[0], 1);
    assert_int_equal(kp_store_head(fx->st), 2);
    /* After compaction the old payload is nowhere in the file. */
    assert_int_equal(kp_store_compact(fx->st, NULL, NULL), 0);
    char data[160];
    snprintf(data, sizeof data, "%s/data.mdb", fx->dir);
    assert_int_equal(s_count_in_file(data, "pirkko@example.fi"), 0);
    assert_true(s_count_in_file(data, "scrubbed") > 0);
}

/* A record rewritten in place where the cursor stands: the entry keeps its key, takes the new
 * message's bytes, and its neighbours stay as they were. */
static void
test_repack(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn = s_turn(fx);
    s_put(fx, txn, "a");
    s_put(fx, txn, "b");
    s_put(fx, txn, "c");
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(txn, kp_store_dbi(fx->st, 0), &c), 0);
    MDB_val k = {1, "b"}, v;
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_SET_KEY), 0);
    Kumppani__V1__Event m = KUMPPANI__V1__EVENT__INIT;
    m.seq = 42;
    m.type = "Repacked";
    assert_int_equal(kp_store_repack(c, &k, &m.base), 0);
    mdb_cursor_close(c);
    s_commit(fx);

    txn = s_snapshot(fx);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, kp_store_dbi(fx->st, 0), &st), 0);
    assert_int_equal(st.ms_entries, 3);
    k = (MDB_val){1, "b"};
    assert_int_equal(mdb_get(txn, kp_store_dbi(fx->st, 0), &k, &v), 0);
    Kumppani__V1__Event *back = kumppani__v1__event__unpack(NULL, v.mv_size, v.mv_data);
    assert_non_null(back);
    assert_int_equal(back->seq, 42);
    assert_string_equal(back->type, "Repacked");
    kumppani__v1__event__free_unpacked(back, NULL);
    k = (MDB_val){1, "c"};
    assert_int_equal(mdb_get(txn, kp_store_dbi(fx->st, 0), &k, &v), 0);
    assert_int_equal(v.mv_size, 1);
    assert_memory_equal(v.mv_data, "1", 1);
    mdb_txn_abort(txn);
}

static void
test_be64(void **state)
{
    (void)state;
    uint8_t b[8];
    kp_be64_put(b, 0x0102030405060708ull);
    static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b, want, 8);
    assert_true(kp_be64_get(b) == 0x0102030405060708ull);
    kp_be64_put(b, UINT64_MAX);
    assert_true(kp_be64_get(b) == UINT64_MAX);
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_open_creates, test_next_id,
                       test_log_order_and_paging, test_turn_abort, test_idem, test_idem_rewrite,
                       test_offsets, test_schema_version, test_compact_erases_bytes,
                       test_log_rewrite, test_repack, test_be64);
}
