/*  Unit tests of web/token.c and the language choice of web/text.c: CSRF tokens bound to their
 *  cookie, and Accept-Language (personal links: tests/unit/common/test_kp_link.c). */
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

#include "kp_test_run.h"

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
    return KP_TEST_RUN(NULL, NULL, test_csrf, test_lang);
}
