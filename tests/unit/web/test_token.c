/*  Unit tests of web/token.c and the language choice of web/text.c: CSRF tokens bound to their
 *  cookie, personal links that check their MAC, purpose and expiry and refuse every changed
 *  byte, and Accept-Language. */
#include "web.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs these first. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

static unsigned char K1[32], K2[32];

static void
test_csrf(void **state)
{
    (void)state;
    char c1[WEB_COOKIE_LEN + 1], c2[WEB_COOKIE_LEN + 1], t[WEB_TOKEN_MAX];
    web_token_random(c1);
    web_token_random(c2);
    assert_int_equal(strlen(c1), WEB_COOKIE_LEN);
    assert_string_not_equal(c1, c2);
    web_csrf_token(K1, c1, t);
    assert_true(web_csrf_ok(K1, c1, t));
    assert_false(web_csrf_ok(K1, c2, t)); /* another cookie */
    assert_false(web_csrf_ok(K2, c1, t)); /* another process */
    assert_false(web_csrf_ok(K1, c1, NULL));
    assert_false(web_csrf_ok(K1, c1, ""));
    assert_false(web_csrf_ok(K1, "short", t));
    t[3] = t[3] == 'A' ? 'B' : 'A';
    assert_false(web_csrf_ok(K1, c1, t));
}

static void
test_link(void **state)
{
    (void)state;
    web_link_t l = {WEB_LINK_SIGNUP, 42, 7, 2000000000}, got;
    char t[WEB_TOKEN_MAX];
    web_link_make(K1, &l, t);
    assert_int_equal(web_link_check(K1, t, 1900000000, &got), 0);
    assert_int_equal(got.signup_id, 42);
    assert_int_equal(got.event_id, 7);
    assert_int_equal(got.purpose, WEB_LINK_SIGNUP);
    assert_int_equal(web_link_check(K1, t, 2000000000, &got), -2); /* expired */
    assert_int_equal(web_link_check(K2, t, 1900000000, &got), -1); /* another key */
    for (size_t i = 0; i < strlen(t); i++) {
        char f[WEB_TOKEN_MAX];
        memcpy(f, t, sizeof f);
        f[i] = f[i] == 'A' ? 'B' : 'A';
        assert_int_equal(web_link_check(K1, f, 1900000000, &got), -1);
    }
    assert_int_equal(web_link_check(K1, "", 0, &got), -1);
    assert_int_equal(web_link_check(K1, "../../etc/passwd", 0, &got), -1);
}

static void
test_lang(void **state)
{
    (void)state;
    assert_int_equal(web_lang_accept(NULL), WEB_LANG_FI);
    assert_int_equal(web_lang_accept("sv-FI,sv;q=0.9,en;q=0.5"), WEB_LANG_SV);
    assert_int_equal(web_lang_accept("de, en-GB;q=0.8, fi;q=0.3"), WEB_LANG_EN);
    assert_int_equal(web_lang_accept("xx\r\nSet-Cookie: a=b"), WEB_LANG_FI);
    assert_int_equal(web_lang_parse("sv"), WEB_LANG_SV);
    assert_int_equal(web_lang_parse("sv\r\n"), -1);
}

int
main(void)
{
    randombytes_buf(K1, sizeof K1);
    randombytes_buf(K2, sizeof K2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csrf),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_lang),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
