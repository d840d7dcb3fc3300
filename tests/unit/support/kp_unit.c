/*  kp_unit: the checks of kp_unit.h. */
#include "kp_unit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

void
kp_unit_accepts(bool (*valid)(const char *s), const char *what, const char *const *good,
                size_t good_n, const char *const *bad, size_t bad_n)
{
    for (size_t i = 0; i < good_n; i++)
        if (!valid(good[i]))
            fail_msg("rejected good %s #%zu \"%s\"", what, i, good[i]);
    for (size_t i = 0; i < bad_n; i++)
        if (valid(bad[i]))
            fail_msg("accepted bad %s #%zu \"%s\"", what, i, bad[i]);
}
