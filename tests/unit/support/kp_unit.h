/*  kp_unit: small checks the cmocka unit tests share, beside kp_test_run.h (the main of every
 *  file) and kp_test_server.h (a real server under test).
 *
 *  Each helper asserts every case it is given and names the failing one (the list and its
 *  index, and the test's own input, never data from a run), so a table of cases is checked as
 *  closely as the same cases written out one assert at a time. Include it after cmocka.h. */
#ifndef KP_UNIT_H
#define KP_UNIT_H

#include <stdbool.h>
#include <stddef.h>

/* The number of elements of array a (an array, not a pointer). */
#define KP_UNIT_N(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts that valid(s) is true for each of the good_n strings of good and false for each of
 * the bad_n strings of bad; what names the check in a failure ("e-mail"). */
void kp_unit_accepts(bool (*valid)(const char *s), const char *what, const char *const *good,
                     size_t good_n, const char *const *bad, size_t bad_n);

#endif
