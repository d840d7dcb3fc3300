/*  bench_util: what the benchmarks share (header only; each benchmark is one program). */
#ifndef KP_BENCH_UTIL_H
#define KP_BENCH_UTIL_H

#include <stdint.h>

/* qsort order of int64_t values, ascending. */
static inline int
bench_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

#endif
