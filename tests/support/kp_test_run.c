/*  kp_test_run: see kp_test_run.h. The names come from the preprocessor's stringified list
 *  ("a, b, c": one comma and white space between names), split here into the test table. */
#include <ctype.h>
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

int
kp_test_run(const char *names, const CMUnitTestFunction *fns, size_t n, CMFixtureFunction setup,
            CMFixtureFunction teardown)
{
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    char *copy = strdup(names);
    if (!tests || !copy)
        abort();
    char *p = copy;
    for (size_t i = 0; i < n; i++) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        tests[i] = (struct CMUnitTest){
            .name = p, .test_func = fns[i], .setup_func = setup, .teardown_func = teardown};
        p += strcspn(p, ", \t\n");
        if (*p)
            *p++ = 0;
    }
    int rc = _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
    free(tests);
    free(copy);
    return rc;
}
