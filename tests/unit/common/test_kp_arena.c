/*  test_kp_arena: alignment, the cap, reset, memdup and allocations larger than a block.
 *
 *  The cap is what bounds decoding memory on hostile input (kp_wire), so the refusal path is
 *  tested as carefully as the happy one: a refused allocation returns NULL, leaves `used`
 *  alone and grows kp_arena_refusals. */
#include "kp_arena.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static void
test_alignment(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    static const size_t sizes[] = {1, 3, 16, 17, 31, 100, 7, 4096, 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = kp_arena_alloc(a, sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, sizes[i]); /* ASan: the whole request is addressable */
    }
    /* used counts the padding: 1 byte costs 16. */
    kp_arena_reset(a);
    assert_int_equal(kp_arena_used(a), 0);
    assert_non_null(kp_arena_alloc(a, 1));
    assert_int_equal(kp_arena_used(a), 16);
    assert_non_null(kp_arena_alloc(a, 17));
    assert_int_equal(kp_arena_used(a), 48);
    kp_arena_destroy(&a);
    assert_null(a);
    kp_arena_destroy(&a); /* accepts NULL */
    kp_arena_destroy(NULL);
}

static void
test_cap(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1024);
    assert_int_equal(kp_arena_refusals(a), 0);
    assert_non_null(kp_arena_alloc(a, 1000));
    assert_int_equal(kp_arena_used(a), 1008);
    assert_null(kp_arena_alloc(a, 32)); /* 1008 + 32 > 1024 */
    assert_int_equal(kp_arena_refusals(a), 1);
    assert_int_equal(kp_arena_used(a), 1008); /* a refusal hands nothing out */
    assert_non_null(kp_arena_alloc(a, 16));   /* exactly up to the cap */
    assert_int_equal(kp_arena_used(a), 1024);
    assert_null(kp_arena_alloc(a, 1));
    assert_int_equal(kp_arena_refusals(a), 2);
    /* Overflowing sizes are refused, not wrapped. */
    assert_null(kp_arena_alloc(a, SIZE_MAX));
    assert_null(kp_arena_alloc(a, SIZE_MAX - 8));
    assert_int_equal(kp_arena_refusals(a), 4);
    /* The protobuf-c allocator goes through the same cap. */
    ProtobufCAllocator *pbc = kp_arena_pbc(a);
    assert_null(pbc->alloc(pbc->allocator_data, 8));
    assert_int_equal(kp_arena_refusals(a), 5);
    /* Refusals are never reset: callers compare before and after. */
    kp_arena_reset(a);
    assert_int_equal(kp_arena_refusals(a), 5);
    assert_non_null(pbc->alloc(pbc->allocator_data, 8));
    pbc->free(pbc->allocator_data, NULL); /* a no-op, must not crash */
    kp_arena_destroy(&a);
}

static void
test_reset_reuses(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    uint8_t *first = kp_arena_alloc(a, 64);
    assert_non_null(first);
    for (int i = 0; i < 100; i++)
        assert_non_null(kp_arena_alloc(a, 1000)); /* spills into further blocks */
    assert_true(kp_arena_used(a) > 100000);
    kp_arena_reset(a);
    assert_int_equal(kp_arena_used(a), 0);
    /* The first block is kept and handed out again from its start. */
    uint8_t *again = kp_arena_alloc(a, 64);
    assert_ptr_equal(again, first);
    /* The whole cap is available again. */
    assert_non_null(kp_arena_alloc(a, (1 << 20) - 64));
    assert_int_equal(kp_arena_used(a), 1 << 20);
    kp_arena_destroy(&a);
}

static void
test_memdup(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(4096);
    const char src[5] = {'a', 0, 'b', 'c', 'd'};
    char *p = kp_arena_memdup(a, src, sizeof src);
    assert_non_null(p);
    assert_memory_equal(p, src, sizeof src);
    assert_int_equal(p[5], 0); /* NUL-terminated */
    char *e = kp_arena_memdup(a, NULL, 0);
    assert_non_null(e);
    assert_int_equal(e[0], 0);
    char *s = kp_arena_memdup(a, "Seinäjoki!", 9);
    assert_string_equal(s, "Seinäjok");         /* exactly 9 bytes kept, then NUL */
    assert_null(kp_arena_memdup(a, src, 5000)); /* over the cap */
    assert_int_equal(kp_arena_refusals(a), 1);
    kp_arena_destroy(&a);
}

static void
test_large(void **state)
{
    (void)state;
    /* The first block is 16 KiB; a 1 MiB request needs a block of its own. */
    kp_arena_t *a = kp_arena_new(8 << 20);
    uint8_t *small = kp_arena_alloc(a, 100);
    memset(small, 1, 100);
    uint8_t *big = kp_arena_alloc(a, 1 << 20);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 2, 1 << 20); /* ASan catches a block smaller than the request */
    uint8_t *after = kp_arena_alloc(a, 3 << 20);
    assert_non_null(after);
    memset(after, 3, 3 << 20);
    assert_int_equal(small[99], 1); /* earlier allocations are untouched */
    assert_int_equal(big[0], 2);
    assert_int_equal(big[(1 << 20) - 1], 2);
    assert_int_equal(kp_arena_used(a), 112 + (1 << 20) + (3 << 20));
    kp_arena_reset(a);
    assert_non_null(kp_arena_alloc(a, 5 << 20));
    kp_arena_destroy(&a); /* LSan: every block freed */
}

static void
test_xalloc(void **state)
{
    (void)state;
    char *s = kp_xstrdup("Jyväskylä");
    assert_string_equal(s, "Jyväskylä");
    s = kp_xrealloc(s, 100);
    assert_string_equal(s, "Jyväskylä");
    free(s);
    int *z = kp_xcalloc(4, sizeof *z);
    assert_int_equal(z[0] | z[1] | z[2] | z[3], 0);
    free(z);
    free(kp_xmalloc(0)); /* 0 is a valid request */
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_alignment, test_cap, test_reset_reuses, test_memdup,
                       test_large, test_xalloc);
}
