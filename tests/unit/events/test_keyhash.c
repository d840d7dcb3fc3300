/*  test_events_keyhash: the key index's hash tables (services/events/keyhash.c), in memory and
 *  saved to a real file: every pair put is found under its tag and only there; one tag holds
 *  several ids (another key with the same hash, a stale pair) and a walk meets each once; a put
 *  of a pair already there adds nothing; a removal frees the slot for the next put; the table
 *  grows past 70 %, keeping every pair, and its next save writes a file of the new size; a
 *  saved table opens again as it was, with the log position it was saved with; nothing is on
 *  disk before a save, and what was put after the last save is not in the file; a save pass
 *  writes a few parts at a time and moves the file's position only when the pass ends, and a
 *  file read in the middle of a pass (as after a kill) counts its slots as they are;
 *  a file that is not such a table (or of the earlier format), or none, is refused. */
#include "events.h"
#include "kp_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

typedef struct {
    uint64_t ids[8];
    size_t n;
} seen_t;

static int
s_collect(void *arg, uint64_t id)
{
    seen_t *s = arg;
    if (s->n < 8)
        s->ids[s->n] = id;
    s->n++;
    return 0;
}

static seen_t
s_ids(const evt_khash_t *h, uint64_t tag)
{
    seen_t s = {0};
    assert_int_equal(evt_kh_each(h, tag, s_collect, &s), 0);
    return s;
}

static uint64_t
s_tag(uint64_t i)
{
    return (i * 0x9E3779B97F4A7C15ull) ^ (i << 7); /* spread, as a keyed hash would */
}

/* Puts (s_tag(i), i) for i in 1..n. */
static void
s_put_range(evt_khash_t *h, uint64_t n)
{
    for (uint64_t i = 1; i <= n; i++)
        assert_int_equal(evt_kh_put(h, s_tag(i), i), 0);
}

/* Each i in 1..n is the one id under s_tag(i), but `gone`, which is under none. */
static void
s_expect_range(const evt_khash_t *h, uint64_t n, uint64_t gone)
{
    for (uint64_t i = 1; i <= n; i++) {
        seen_t s = s_ids(h, s_tag(i));
        assert_int_equal(s.n, i == gone ? 0 : 1);
        if (i != gone)
            assert_int_equal(s.ids[0], i);
    }
}

/* The fixture: each test gets in *state the path of a table file in a fresh directory of its
 * own, and the file and the directory are removed after it (the test fails if the directory
 * does not go: something else was left in it). */
static int
s_setup(void **state)
{
    char dir[] = "/tmp/kp-keyhash-XXXXXX";
    char *path = malloc(512);
    if (!path || !mkdtemp(dir)) {
        free(path);
        return -1;
    }
    snprintf(path, 512, "%s/t.hash", dir);
    *state = path;
    return 0;
}

static int
s_teardown(void **state)
{
    char *path = *state;
    unlink(path);
    *strrchr(path, '/') = 0;
    int rc = rmdir(path);
    free(path);
    return rc;
}

static void
test_put_each_del(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL;
    assert_int_equal(evt_kh_open(&h, path, 10, true), 0);
    s_put_range(h, 1000);
    assert_int_equal(evt_kh_live(h), 1000);
    s_expect_range(h, 1000, 0);
    assert_int_equal(s_ids(h, s_tag(5000)).n, 0); /* never put */

    /* One tag, three ids: each met once, in the order put; a second put of a pair adds none. */
    assert_int_equal(evt_kh_put(h, s_tag(7), 70), 0);
    assert_int_equal(evt_kh_put(h, s_tag(7), 700), 0);
    assert_int_equal(evt_kh_put(h, s_tag(7), 70), 0);
    seen_t s = s_ids(h, s_tag(7));
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[0], 7);
    assert_int_equal(s.ids[1], 70);
    assert_int_equal(s.ids[2], 700);
    assert_int_equal(evt_kh_live(h), 1002);

    /* Removing one pair leaves the tag's others, and its slot takes the next put. */
    evt_kh_del(h, s_tag(7), 70);
    s = s_ids(h, s_tag(7));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[1], 700);
    evt_kh_del(h, s_tag(7), 12345); /* not there: nothing */
    assert_int_equal(evt_kh_live(h), 1001);
    assert_int_equal(evt_kh_put(h, s_tag(7), 71), 0);
    s = s_ids(h, s_tag(7));
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[1], 71); /* the freed slot, between the two others */
    evt_kh_close(h);
}

static int
s_stop_at_second(void *arg, uint64_t id)
{
    (void)id;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void
test_grow_and_reopen(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL;
    assert_int_equal(evt_kh_open(&h, path, 0, true), 0);
    assert_int_equal(evt_kh_save(h, 1, true), 0);
    struct stat st0, st1;
    assert_int_equal(stat(path, &st0), 0);
    /* Past 70 % of the smallest table (2^20 slots): it grows, twice. */
    const uint64_t n = 1500000;
    s_put_range(h, n);
    evt_kh_del(h, s_tag(3), 3);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_size, st0.st_size); /* in memory until saved */
    assert_int_equal(evt_kh_save(h, 77, true), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_true(st1.st_size >= 4 * (st0.st_size - 4096)); /* 2^20 -> 2^22 slots */
    evt_kh_close(h);

    assert_int_equal(evt_kh_open(&h, path, 0, false), 0);
    assert_int_equal(evt_kh_live(h), n - 1);
    assert_int_equal(evt_kh_through(h), 77);
    s_expect_range(h, n, 3);
    int calls = 0;
    assert_int_equal(evt_kh_put(h, s_tag(9), 90), 0);
    assert_int_equal(evt_kh_each(h, s_tag(9), s_stop_at_second, &calls), 42);
    assert_int_equal(calls, 2);
    evt_kh_close(h);
    /* No .new file is left beside it. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_new_then_saved(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL;
    assert_int_equal(evt_kh_open(&h, path, 10, true), 0);
    const uint64_t n = 800000; /* past 70 % of 2^20 slots: grows in memory */
    s_put_range(h, n);
    assert_int_equal(access(path, F_OK), -1); /* nothing written yet */
    assert_int_equal(evt_kh_save(h, 5, false), 0);
    assert_int_equal(evt_kh_put(h, s_tag(n + 1), n + 1), 0); /* after the save: memory only */
    evt_kh_close(h);
    assert_int_equal(evt_kh_open(&h, path, 0, false), 0);
    assert_int_equal(evt_kh_live(h), n);
    assert_int_equal(evt_kh_through(h), 5);
    s_expect_range(h, n, 0);
    assert_int_equal(s_ids(h, s_tag(n + 1)).n, 0);
    evt_kh_close(h);
}

/* A save pass: parts written a few at a time, the file's position moved at its end only. */
static void
test_flush_pass(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL, *f = NULL;
    assert_int_equal(evt_kh_open(&h, path, 0, true), 0);
    s_put_range(h, 1000);
    assert_int_equal(evt_kh_save(h, 10, true), 0);
    for (uint64_t i = 1001; i <= 3000; i++) /* pairs spread over most parts */
        assert_int_equal(evt_kh_put(h, s_tag(i), i), 0);
    evt_kh_del(h, s_tag(7), 7);
    size_t parts = evt_kh_parts(h), calls = 0;
    assert_true(parts > 200);
    /* Two parts written: the file (as a kill would leave it) still says 10, holds some of the
     * new pairs, and its counts are the slots it holds. */
    assert_int_equal(evt_kh_flush(h, 20, 2), 0);
    assert_int_equal(evt_kh_open(&f, path, 0, false), 0);
    assert_int_equal(evt_kh_through(f), 10);
    uint64_t present = 0;
    for (uint64_t i = 1; i <= 3000; i++)
        present += s_ids(f, s_tag(i)).n;
    assert_true(present > 1000 && present < 3000);
    assert_int_equal(evt_kh_live(f), present);
    evt_kh_close(f);
    /* A put after the pass began (head 20) is written when the pass reaches its part, or in
     * the next pass; the position the file gives is the pass's start. */
    assert_int_equal(evt_kh_put(h, s_tag(5000), 5000), 0);
    do {
        assert_int_equal(evt_kh_flush(h, 30, 1), 0);
        assert_int_equal(evt_kh_open(&f, path, 0, false), 0);
        uint64_t through = evt_kh_through(f);
        evt_kh_close(f);
        if (through != 10) {
            assert_int_equal(through, 20);
            break;
        }
    } while (++calls <= parts);
    assert_true(calls < parts); /* ended by the pass, not by the bound */
    assert_int_equal(evt_kh_open(&f, path, 0, false), 0);
    assert_int_equal(evt_kh_live(f), 3000 - 1 + (s_ids(f, s_tag(5000)).n));
    s_expect_range(f, 3000, 7);
    evt_kh_close(f);
    /* A table grown since its last save is written whole by the next flush. */
    struct stat st0, st1;
    assert_int_equal(stat(path, &st0), 0);
    for (uint64_t i = 3001; i <= 740000; i++)
        assert_int_equal(evt_kh_put(h, s_tag(i), i), 0);
    assert_int_equal(evt_kh_flush(h, 40, 1), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_size - 4096, 2 * (st0.st_size - 4096));
    evt_kh_close(h);
    assert_int_equal(evt_kh_open(&f, path, 0, false), 0);
    assert_int_equal(evt_kh_through(f), 40);
    assert_int_equal(evt_kh_live(f), 740000 - 1); /* 7 removed; 5000 put twice */
    evt_kh_close(f);
}

static void
test_refused(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL;
    assert_int_equal(evt_kh_open(&h, path, 0, false), -ENOENT); /* none: not made */
    assert_int_equal(access(path, F_OK), -1);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char junk[8192];
    memset(junk, 'x', sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    assert_int_equal(evt_kh_open(&h, path, 0, false), KP_ECORRUPT);
    assert_int_equal(evt_kh_open(&h, path, 0, true), 0); /* fresh: made anew over it */
    assert_int_equal(evt_kh_live(h), 0);
    assert_int_equal(evt_kh_save(h, 0, true), 0);
    evt_kh_close(h);
    /* The earlier format (a file mapped shared, with no log position) is not read. */
    f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fwrite("KPKHASH1", 8, 1, f), 1);
    fclose(f);
    assert_int_equal(evt_kh_open(&h, path, 0, false), KP_ECORRUPT);
    f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fwrite("KPKHASH2", 8, 1, f), 1);
    fclose(f);
    assert_int_equal(evt_kh_open(&h, path, 0, false), 0);
    evt_kh_close(h);
    /* A header that says every slot is used (a probe would never end) is refused too. */
    f = fopen(path, "r+");
    assert_non_null(f);
    uint64_t cap = 0;
    assert_int_equal(fseek(f, 8, SEEK_SET), 0);
    assert_int_equal(fread(&cap, sizeof cap, 1, f), 1);
    assert_int_equal(fseek(f, 16, SEEK_SET), 0);
    assert_int_equal(fwrite(&cap, sizeof cap, 1, f), 1); /* used = cap */
    fclose(f);
    assert_int_equal(evt_kh_open(&h, path, 0, false), KP_ECORRUPT);
}

/* A rebuild's puts: many at once into a table too small for them (it grows once, first),
 * with a pair already there and two ids under one tag; the same as putting them one by one. */
static void
test_put_many(void **state)
{
    const char *path = *state;
    evt_khash_t *h = NULL;
    assert_int_equal(evt_kh_open(&h, path, 0, true), 0);
    const uint64_t n = 1000000;
    assert_int_equal(evt_kh_put(h, s_tag(5), 5), 0);
    evt_kh_pair_t *pairs = malloc((n + 1) * sizeof *pairs);
    assert_non_null(pairs);
    for (uint64_t i = 1; i <= n; i++)
        pairs[i - 1] = (evt_kh_pair_t){s_tag(i), i};
    pairs[n] = (evt_kh_pair_t){s_tag(7), 70}; /* a second id under 7's tag */
    assert_int_equal(evt_kh_put_many(h, pairs, n + 1), 0);
    free(pairs);
    assert_int_equal(evt_kh_live(h), n + 1); /* 5 was there already: not put twice */
    for (uint64_t i = 1; i <= n; i++)
        if (i != 7)
            assert_int_equal(s_ids(h, s_tag(i)).n, 1);
    seen_t s = s_ids(h, s_tag(7));
    assert_int_equal(s.n, 2);
    assert_true((s.ids[0] == 7 && s.ids[1] == 70) || (s.ids[0] == 70 && s.ids[1] == 7));
    assert_int_equal(evt_kh_put_many(h, NULL, 0), 0);
    assert_int_equal(evt_kh_live(h), n + 1);
    evt_kh_close(h);
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_put_each_del, test_grow_and_reopen,
                       test_new_then_saved, test_flush_pass, test_refused, test_put_many);
}
