/*  kp_test_run: the main() of a cmocka unit test file, in one line.
 *
 *  KP_TEST_RUN(setup, teardown, test_a, test_b, ...) runs the listed tests as one cmocka group
 *  named "tests", in order, each between the file's setup and teardown (NULL for none), and
 *  returns what cmocka_run_group_tests returns. Each test is reported under its function name
 *  (taken from the stringified list). Include it after cmocka.h. */
#ifndef KP_TEST_RUN_H
#define KP_TEST_RUN_H

#include <stddef.h>

int kp_test_run(const char *names, const CMUnitTestFunction *fns, size_t n, CMFixtureFunction setup,
                CMFixtureFunction teardown);

#define KP_TEST_RUN(setup, teardown, ...)                                                          \
    kp_test_run(#__VA_ARGS__, (const CMUnitTestFunction[]){__VA_ARGS__},                           \
                sizeof((const CMUnitTestFunction[]){__VA_ARGS__}) / sizeof(CMUnitTestFunction),    \
                setup, teardown)

#endif
