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

/* Checks a byte string literal of known size (embedded NULs included, trailing one not). */
#define CHECK(lit, ml) kp_text_check((lit), sizeof(lit) - 1, (ml))

static void
test_valid_utf8(void **state)
{
    (void)state;
    assert_int_equal(CHECK("", false), KP_TEXT_OK);
    assert_int_equal(CHECK("Seinäjoki", false), KP_TEXT_OK);
    assert_int_equal(CHECK("Åke Öhman, Jyväskylä", false), KP_TEXT_OK);
    assert_int_equal(CHECK("\xc3\xa4\xc3\xb6\xc3\xa5\xc3\x84\xc3\x96\xc3\x85", false), KP_TEXT_OK);
    assert_int_equal(CHECK("\xe2\x82\xac 10", false), KP_TEXT_OK);     /* U+20AC euro */
    assert_int_equal(CHECK("\xf0\x9f\x98\x80", false), KP_TEXT_OK);    /* U+1F600, 4 bytes */
    assert_int_equal(CHECK("\xf4\x8f\xbf\xbf", false), KP_TEXT_OK);    /* U+10FFFF, the last */
    assert_int_equal(CHECK("\xed\x9f\xbf", false), KP_TEXT_OK);        /* U+D7FF */
    assert_int_equal(CHECK("\xee\x80\x80", false), KP_TEXT_OK);        /* U+E000 */
    assert_int_equal(CHECK("\xc2\xa0", false), KP_TEXT_OK);            /* U+00A0, not C1 */
    assert_int_equal(CHECK("~ printable ASCII !", false), KP_TEXT_OK); /* 0x7e is fine */
}

static void
test_invalid_utf8(void **state)
{
    (void)state;
    assert_int_equal(CHECK("\xc0\x80", false), KP_TEXT_EUTF8);         /* overlong NUL */
    assert_int_equal(CHECK("\xc1\xbf", false), KP_TEXT_EUTF8);         /* overlong 0x7f */
    assert_int_equal(CHECK("\xe0\x80\x80", false), KP_TEXT_EUTF8);     /* overlong, 3 bytes */
    assert_int_equal(CHECK("\xe0\x9f\xbf", false), KP_TEXT_EUTF8);     /* overlong U+07FF */
    assert_int_equal(CHECK("\xf0\x8f\xbf\xbf", false), KP_TEXT_EUTF8); /* overlong, 4 bytes */
    assert_int_equal(CHECK("\xed\xa0\x80", false), KP_TEXT_EUTF8);     /* U+D800 surrogate */
    assert_int_equal(CHECK("\xed\xbf\xbf", false), KP_TEXT_EUTF8);     /* U+DFFF surrogate */
    assert_int_equal(CHECK("\xf4\x90\x80\x80", false), KP_TEXT_EUTF8); /* U+110000 */
    assert_int_equal(CHECK("\xf5\x80\x80\x80", false), KP_TEXT_EUTF8); /* lead F5 */
    assert_int_equal(CHECK("\xff", false), KP_TEXT_EUTF8);
    assert_int_equal(CHECK("\x80", false), KP_TEXT_EUTF8); /* lone continuation */
    assert_int_equal(CHECK("ok\xbf", false), KP_TEXT_EUTF8);
    /* Truncated sequences, at the end and before another character. */
    assert_int_equal(CHECK("\xc3", false), KP_TEXT_EUTF8);
    assert_int_equal(CHECK("abc\xe2\x82", false), KP_TEXT_EUTF8);
    assert_int_equal(CHECK("\xf0\x9f\x98", false), KP_TEXT_EUTF8);
    assert_int_equal(CHECK("\xe2\x82x", false), KP_TEXT_EUTF8);
    assert_int_equal(CHECK("\xc3\xc3\xa4", false), KP_TEXT_EUTF8);
    /* The length is what counts, not a NUL: a valid character cut by len is truncated. */
    assert_int_equal(kp_text_check("\xc3\xa4", 1, false), KP_TEXT_EUTF8);
    assert_int_equal(kp_text_check("\xf0\x9f\x98\x80", 3, true), KP_TEXT_EUTF8);
}

static void
test_nul_and_controls(void **state)
{
    (void)state;
    assert_int_equal(CHECK("a\0b", false), KP_TEXT_ENUL);
    assert_int_equal(CHECK("a\0b", true), KP_TEXT_ENUL);
    assert_int_equal(CHECK("\0", true), KP_TEXT_ENUL);
    assert_int_equal(CHECK("a\x01", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("\x1b[31m", true), KP_TEXT_ECTRL); /* ESC */
    assert_int_equal(CHECK("\x1f", true), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("del\x7f", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("del\x7f", true), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("\xc2\x85", false), KP_TEXT_ECTRL); /* C1 NEL */
    assert_int_equal(CHECK("\xc2\x80", true), KP_TEXT_ECTRL);  /* C1, first */
    assert_int_equal(CHECK("\xc2\x9f", true), KP_TEXT_ECTRL);  /* C1, last */
}

static void
test_line_breaks(void **state)
{
    (void)state;
    /* LF and TAB only in multiline text. */
    assert_int_equal(CHECK("a\nb", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("a\nb", true), KP_TEXT_OK);
    assert_int_equal(CHECK("a\tb", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("a\tb", true), KP_TEXT_OK);
    /* CR never: it is what splits e-mail headers. */
    assert_int_equal(CHECK("a\rb", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("a\rb", true), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("a\r\nb", true), KP_TEXT_ECTRL);
    /* U+2028 / U+2029 separate lines in some tools: multiline only. */
    assert_int_equal(CHECK("a\xe2\x80\xa8"
                           "b",
                           false),
                     KP_TEXT_ECTRL);
    assert_int_equal(CHECK("a\xe2\x80\xa8"
                           "b",
                           true),
                     KP_TEXT_OK);
    assert_int_equal(CHECK("\xe2\x80\xa9", false), KP_TEXT_ECTRL);
    assert_int_equal(CHECK("\xe2\x80\xa9", true), KP_TEXT_OK);
    assert_int_equal(CHECK("\xe2\x80\xa7", false), KP_TEXT_OK); /* U+2027, a neighbour */
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
    assert_int_equal(kp_text_chars(""), 0);
    assert_int_equal(kp_text_chars("abc"), 3);
    assert_int_equal(kp_text_chars("Seinäjoki"), 9);
    assert_int_equal(kp_text_chars("äöå"), 3);
    assert_int_equal(kp_text_chars("\xe2\x82\xac"), 1);
    assert_int_equal(kp_text_chars("a\xf0\x9f\x98\x80z"), 3);
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
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!kp_text_email_valid(good[i]))
            fail_msg("rejected good e-mail #%zu", i);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kp_text_email_valid(bad[i]))
            fail_msg("accepted bad e-mail #%zu", i);

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
    assert_true(kp_text_phone_valid("+358 40 123 4567"));
    assert_true(kp_text_phone_valid("040-1234567"));
    assert_true(kp_text_phone_valid("123456"));                 /* 6 digits */
    assert_true(kp_text_phone_valid("12345678901234567890"));   /* 20 digits */
    assert_false(kp_text_phone_valid("12345"));                 /* 5 digits */
    assert_false(kp_text_phone_valid("123456789012345678901")); /* 21 digits */
    assert_false(kp_text_phone_valid(""));
    assert_false(kp_text_phone_valid("+"));
    assert_false(kp_text_phone_valid("++358401234567"));
    assert_false(kp_text_phone_valid("358+401234567"));
    assert_false(kp_text_phone_valid("(040) 1234567"));
    assert_false(kp_text_phone_valid("040 1234567 ext 5"));
    assert_false(kp_text_phone_valid("0401234567\r\nBcc: x"));
    assert_false(kp_text_phone_valid("0401234567\n"));
    assert_false(kp_text_phone_valid("\xd9\xa0\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5"));
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
    return KP_TEST_RUN(NULL, NULL, test_valid_utf8, test_invalid_utf8, test_nul_and_controls,
                       test_line_breaks, test_why, test_chars, test_email, test_phone,
                       test_ascii_lower);
}
