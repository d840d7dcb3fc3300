/*  bench_util: what the benchmarks share (header only; each benchmark is one program). */
#ifndef KP_BENCH_UTIL_H
#define KP_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* qsort order of int64_t values, ascending. */
static inline int
bench_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* The pct-th percentile (1..100) of the n values v, sorted ascending, by nearest rank: the
 * smallest value with at least pct per cent of them at or below it (100: the largest); 0 when
 * n is 0. Every benchmark reports its percentiles this way, in v's own unit. */
static inline double
bench_pct(const int64_t *v, size_t n, unsigned pct)
{
    if (n == 0)
        return 0;
    size_t rank = ((size_t)pct * n + 99) / 100;
    return (double)v[rank ? rank - 1 : 0];
}

/* The end of a run: removes its data directory dir (files and all), or with keep names it
 * on stdout. Returns 0, or -1 when the directory could not be removed (named on stderr). */
static inline int
bench_cleanup(const char *dir, bool keep)
{
    if (keep) {
        printf("kept %s\n", dir);
        return 0;
    }
    char cmd[4200];
    if ((size_t)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= sizeof cmd || system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
        return -1;
    }
    return 0;
}

#endif
