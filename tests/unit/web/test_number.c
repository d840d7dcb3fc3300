/*  Unit tests of web/number.c: a form's bounded number (web_digits) and a path's id
 *  (web_parse_id) take decimal digits only, bounded in length and value. */
#include "web.h"

#include <stdint.h>

/* cmocka needs these first. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static void
test_digits(void **state)
{
    (void)state;
    assert_int_equal(web_digits("0", 2, 20), 0);
    assert_int_equal(web_digits("7", 2, 20), 7);
    assert_int_equal(web_digits("20", 2, 20), 20);
    assert_int_equal(web_digits("07", 2, 20), 7);
    assert_int_equal(web_digits("99999", 5, 99999), 99999);
    assert_int_equal(web_digits("21", 2, 20), -1);   /* over max */
    assert_int_equal(web_digits("100", 2, 999), -1); /* too many digits */
    assert_int_equal(web_digits("123456", 5, 999999), -1);
    assert_int_equal(web_digits(NULL, 2, 20), -1);
    assert_int_equal(web_digits("", 2, 20), -1);
    static const char *const bad[] = {"-1", "+1", " 1", "1 ", "1a", "0x1", "1.5", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(web_digits(bad[i], 5, 99999), -1);
    /* more than 9 digits is never a number here (a long's range on every platform) */
    assert_int_equal(web_digits("1234567890", 12, 2000000000), -1);
    assert_int_equal(web_digits("123456789", 12, 999999999), 123456789);
}

static void
test_parse_id(void **state)
{
    (void)state;
    assert_true(web_parse_id("12") == 12);
    assert_true(web_parse_id("18446744073709551") == 18446744073709551ULL);
    assert_true(web_parse_id("0") == 0);
    assert_true(web_parse_id("012") == 0);
    assert_true(web_parse_id("12345678901234567890") == 0);
    assert_true(web_parse_id("1a") == 0);
    assert_true(web_parse_id("") == 0);
    assert_true(web_parse_id(NULL) == 0);
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_digits, test_parse_id);
}
