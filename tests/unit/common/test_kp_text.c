/*  test_kp_text: the UTF-8 / control-character check, code point count, e-mail and phone
 *  shape, and ASCII lowering.
 *
 *  Each byte sequence below is one of the cases RFC 3629 (table 3-7) or the module's own rules
 *  single out; the expected result names the rule, so a check that is merely "not OK" for the
 *  wrong reason still fails. */
#include "kp_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"
#include "kp_unit.h"

/* An input of kp_text_check (len bytes at s) and its result as one-line text and as
 * multiline text (multiline = true). */
typedef struct {
    const char *s;
    size_t len;
    int one_line, multiline;
} check_case_t;

/* A byte string literal and its size (embedded NULs included, the trailing one not). */
#define LIT(lit) (lit), sizeof(lit) - 1

static const check_case_t s_checks[] = {
    /* Valid UTF-8. */
    {LIT(""), KP_TEXT_OK, KP_TEXT_OK},
    {LIT("Seinäjoki"), KP_TEXT_OK, KP_TEXT_OK},
    {LIT("Åke Öhman, Jyväskylä"), KP_TEXT_OK, KP_TEXT_OK},
    {LIT("\xc3\xa4\xc3\xb6\xc3\xa5\xc3\x84\xc3\x96\xc3\x85"), KP_TEXT_OK, KP_TEXT_OK},
    {LIT("\xe2\x82\xac 10"), KP_TEXT_OK, KP_TEXT_OK},     /* U+20AC euro */
    {LIT("\xf0\x9f\x98\x80"), KP_TEXT_OK, KP_TEXT_OK},    /* U+1F600, 4 bytes */
    {LIT("\xf4\x8f\xbf\xbf"), KP_TEXT_OK, KP_TEXT_OK},    /* U+10FFFF, the last */
    {LIT("\xed\x9f\xbf"), KP_TEXT_OK, KP_TEXT_OK},        /* U+D7FF */
    {LIT("\xee\x80\x80"), KP_TEXT_OK, KP_TEXT_OK},        /* U+E000 */
    {LIT("\xc2\xa0"), KP_TEXT_OK, KP_TEXT_OK},            /* U+00A0, not C1 */
    {LIT("~ printable ASCII !"), KP_TEXT_OK, KP_TEXT_OK}, /* 0x7e is fine */

    /* Invalid UTF-8. */
    {LIT("\xc0\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},         /* overlong NUL */
    {LIT("\xc1\xbf"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},         /* overlong 0x7f */
    {LIT("\xe0\x80\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},     /* overlong, 3 bytes */
    {LIT("\xe0\x9f\xbf"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},     /* overlong U+07FF */
    {LIT("\xf0\x8f\xbf\xbf"), KP_TEXT_EUTF8, KP_TEXT_EUTF8}, /* overlong, 4 bytes */
    {LIT("\xed\xa0\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},     /* U+D800 surrogate */
    {LIT("\xed\xbf\xbf"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},     /* U+DFFF surrogate */
    {LIT("\xf4\x90\x80\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8}, /* U+110000 */
    {LIT("\xf5\x80\x80\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8}, /* lead F5 */
    {LIT("\xff"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {LIT("\x80"), KP_TEXT_EUTF8, KP_TEXT_EUTF8}, /* lone continuation */
    {LIT("ok\xbf"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    /* Truncated sequences, at the end and before another character. */
    {LIT("\xc3"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {LIT("abc\xe2\x82"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {LIT("\xf0\x9f\x98"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {LIT("\xe2\x82x"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {LIT("\xc3\xc3\xa4"), KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    /* The length is what counts, not a NUL: a valid character cut by len is truncated. */
    {"\xc3\xa4", 1, KP_TEXT_EUTF8, KP_TEXT_EUTF8},
    {"\xf0\x9f\x98\x80", 3, KP_TEXT_EUTF8, KP_TEXT_EUTF8},

    /* NUL and control characters. */
    {LIT("a\0b"), KP_TEXT_ENUL, KP_TEXT_ENUL},
    {LIT("\0"), KP_TEXT_ENUL, KP_TEXT_ENUL},
    {LIT("a\x01"), KP_TEXT_ECTRL, KP_TEXT_ECTRL},
    {LIT("\x1b[31m"), KP_TEXT_ECTRL, KP_TEXT_ECTRL}, /* ESC */
    {LIT("\x1f"), KP_TEXT_ECTRL, KP_TEXT_ECTRL},
    {LIT("del\x7f"), KP_TEXT_ECTRL, KP_TEXT_ECTRL},
    {LIT("\xc2\x85"), KP_TEXT_ECTRL, KP_TEXT_ECTRL}, /* C1 NEL */
    {LIT("\xc2\x80"), KP_TEXT_ECTRL, KP_TEXT_ECTRL}, /* C1, first */
    {LIT("\xc2\x9f"), KP_TEXT_ECTRL, KP_TEXT_ECTRL}, /* C1, last */

    /* Line breaks: LF and TAB only in multiline text. */
    {LIT("a\nb"), KP_TEXT_ECTRL, KP_TEXT_OK},
    {LIT("a\tb"), KP_TEXT_ECTRL, KP_TEXT_OK},
    /* CR never: it is what splits e-mail headers. */
    {LIT("a\rb"), KP_TEXT_ECTRL, KP_TEXT_ECTRL},
    {LIT("a\r\nb"), KP_TEXT_ECTRL, KP_TEXT_ECTRL},
    /* U+2028 / U+2029 separate lines in some tools: multiline only. */
    {LIT("a\xe2\x80\xa8"
         "b"),
     KP_TEXT_ECTRL, KP_TEXT_OK},
    {LIT("\xe2\x80\xa9"), KP_TEXT_ECTRL, KP_TEXT_OK},
    {LIT("\xe2\x80\xa7"), KP_TEXT_OK, KP_TEXT_OK}, /* U+2027, a neighbour */
};

/* Each input of s_checks, as one-line text and as multiline text. */
static void
test_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < KP_UNIT_N(s_checks); i++) {
        const check_case_t *c = &s_checks[i];
        for (int ml = 0; ml <= 1; ml++) {
            int want = ml ? c->multiline : c->one_line;
            int rc = kp_text_check(c->s, c->len, ml);
            if (rc != want)
                fail_msg("case #%zu (%zu bytes, multiline %d): %d (%s), want %d (%s)", i, c->len,
                         ml, rc, kp_text_why(rc), want, kp_text_why(want));
        }
    }
}

static void
test_why(void **state)
{
    (void)state;
    assert_string_equal(kp_text_why(KP_TEXT_OK), "ok");
    assert_string_equal(kp_text_why(KP_TEXT_EUTF8), "not valid UTF-8");
    assert_string_equal(kp_text_why(KP_TEXT_ENUL), "NUL byte not allowed");
    assert_string_equal(kp_text_why(KP_TEXT_ECTRL), "control character not allowed");
    assert_non_null(kp_text_why(99));
}

static void
test_chars(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } chars[] = {
        {"", 0},    {"abc", 3},          {"Seinäjoki", 9},
        {"äöå", 3}, {"\xe2\x82\xac", 1}, {"a\xf0\x9f\x98\x80z", 3},
    };
    for (size_t i = 0; i < KP_UNIT_N(chars); i++)
        assert_int_equal(kp_text_chars(chars[i].s), chars[i].n);
}

static void
test_email(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a@b.fi",
        "matti.meikalainen@seinajoki.fi",
        "first+tag@sub-domain.example.com",
        "UPPER@EXAMPLE.FI",
        "x_y-z@a1.b2",
    };
    static const char *const bad[] = {
        "",
        "a@b",              /* no dot in the domain */
        "ab",               /* no '@' */
        "@b.fi",            /* empty local part */
        "a@",               /* empty domain */
        "x@@y.fi",          /* two '@' */
        "x@y@z.fi",         /* two '@', apart */
        "a b@c.fi",         /* space */
        "\"a\"@c.fi",       /* quotes */
        "a<b>@c.fi",        /* angle brackets */
        ".a@b.fi",          /* leading dot */
        "a.@b.fi",          /* trailing dot in the local part */
        "a..b@c.fi",        /* double dot */
        "a@.b.fi",          /* domain starts with a dot */
        "a@b.fi.",          /* domain ends with a dot */
        "a@-b.fi",          /* domain starts with '-' */
        "a@b_c.fi",         /* '_' in the domain */
        "a@b.fi\r\nBcc: x", /* header injection */
        "a@b.fi\r\nBcc: x@evil.fi",
        "a@b.fi\nBcc: x",
        "a\r\n@b.fi",
        "m\xc3\xa4tti@b.fi", /* non-ASCII local part */
        "a@j\xc3\xa4rvi.fi", /* non-ASCII domain (IDN must come as xn--) */
    };
    kp_unit_accepts(kp_text_email_valid, "e-mail", good, KP_UNIT_N(good), bad, KP_UNIT_N(bad));

    /* Length limits: local part at most 64, whole at most 254. */
    char buf[300];
    memset(buf, 'a', 64);
    memcpy(buf + 64, "@b.fi", 6);
    assert_true(kp_text_email_valid(buf));
    memset(buf, 'a', 65);
    memcpy(buf + 65, "@b.fi", 6);
    assert_false(kp_text_email_valid(buf));
    memcpy(buf, "a@", 2);
    memset(buf + 2, 'b', 249);
    memcpy(buf + 251, ".fi", 4); /* 254 bytes */
    assert_int_equal(strlen(buf), 254);
    assert_true(kp_text_email_valid(buf));
    memset(buf + 2, 'b', 250);
    memcpy(buf + 252, ".fi", 4); /* 255 bytes */
    assert_false(kp_text_email_valid(buf));
}

static void
test_phone(void **state)
{
    (void)state;
    static const char *const good[] = {
        "+358 40 123 4567", "040-1234567", "123456", /* 6 digits */
        "12345678901234567890",                      /* 20 digits */
    };
    static const char *const bad[] = {
        "12345",                 /* 5 digits */
        "123456789012345678901", /* 21 digits */
        "",
        "+",
        "++358401234567",
        "358+401234567",
        "(040) 1234567",
        "040 1234567 ext 5",
        "0401234567\r\nBcc: x",
        "0401234567\n",
        "\xd9\xa0\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5", /* Arabic-Indic digits */
    };
    kp_unit_accepts(kp_text_phone_valid, "phone", good, KP_UNIT_N(good), bad, KP_UNIT_N(bad));
}

static void
test_ascii_lower(void **state)
{
    (void)state;
    char out[32];
    kp_text_ascii_lower(out, sizeof out, "Matti.MEIKALAINEN@Example.FI");
    assert_string_equal(out, "matti.meikalainen@example.fi");
    /* Only ASCII letters change: UTF-8 bytes pass through untouched. */
    kp_text_ascii_lower(out, sizeof out, "ÄÖÅ-Az@[`{");
    assert_string_equal(out, "ÄÖÅ-az@[`{");
    /* Truncates to out_len - 1 and always terminates. */
    kp_text_ascii_lower(out, 4, "ABCDEF");
    assert_string_equal(out, "abc");
    kp_text_ascii_lower(out, 1, "ABC");
    assert_string_equal(out, "");
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_check, test_why, test_chars, test_email, test_phone,
                       test_ascii_lower);
}
