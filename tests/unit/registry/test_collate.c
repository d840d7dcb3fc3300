/*  test_collate: the registry's Finnish collation keys, name words, Y-tunnus check digits,
 *  dates and the field vocabulary (services/registry/collate.c). */
#include "registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static int
s_cmp(const char *a, const char *b)
{
    uint8_t ka[256], kb[256];
    size_t na = reg_sortkey(a, ka, sizeof ka), nb = reg_sortkey(b, kb, sizeof kb);
    size_t n = na < nb ? na : nb;
    int c = memcmp(ka, kb, n);
    return c ? c : (na > nb) - (na < nb);
}

static void
test_finnish_order(void **state)
{
    (void)state;
    const char *order[] = {"1. Seura", "Aalto",  "alajärvi",  "Zeta",
                           "Åbo",      "Ähtäri", "Äänekoski", "Öljy"};
    for (size_t i = 0; i + 1 < sizeof order / sizeof order[0]; i++)
        if (s_cmp(order[i], order[i + 1]) >= 0)
            fail_msg("'%s' should sort before '%s'", order[i], order[i + 1]);
    assert_int_equal(s_cmp("ÄHTÄRI", "ähtäri"), 0); /* case-insensitive for ä */
    assert_int_equal(s_cmp("Åbo", "åbo"), 0);
    assert_int_equal(s_cmp("Café", "cafe"), 0);             /* accents fold to the base letter */
    assert_int_equal(s_cmp("Müller", "Myller"), 0);         /* ü sorts as y */
    assert_int_equal(s_cmp("Seura  -  ry", "seura ry"), 0); /* punctuation is one space */
    uint8_t k[8];
    assert_int_equal(reg_sortkey("!!!", k, sizeof k), 0);
    assert_int_equal(reg_sortkey("abcdefghij", k, sizeof k), 8); /* bounded */
    assert_null(memchr(k, 0, 8));
}

static void
s_count(void *arg, const uint8_t *w, size_t n)
{
    (void)w;
    (void)n;
    (*(int *)arg)++;
}

static void
test_words(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(reg_words("Seinäjoen Mielenterveysseura ry", s_count, &n), 3);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(reg_words("  ", s_count, &n), 0);
}

typedef struct {
    char buf[256];
    size_t n;
} words_t;

static void
s_join(void *arg, const uint8_t *w, size_t n)
{
    words_t *ws = arg;
    if (ws->n + n + 1 < sizeof ws->buf) {
        memcpy(ws->buf + ws->n, w, n);
        ws->n += n;
        ws->buf[ws->n++] = ' ';
        ws->buf[ws->n] = 0;
    }
}

static const char *
s_words_of(words_t *ws, const char *s)
{
    ws->n = 0;
    ws->buf[0] = 0;
    reg_words(s, s_join, ws);
    return ws->buf;
}

/* Search words fold å ä æ to a, ö ø to o, ü to u and the other accents to their base letter,
 * so a query typed without them matches; the collation keys keep å ä ö after z. */
static void
test_words_folded(void **state)
{
    (void)state;
    words_t ws;
    assert_string_equal(s_words_of(&ws, "Ähtärin Eläkkeensaajat"), "ahtarin elakkeensaajat ");
    assert_string_equal(s_words_of(&ws, "SEINÄJOEN Åbo"), "seinajoen abo ");
    assert_string_equal(s_words_of(&ws, "Östermarks Ørsted"), "ostermarks orsted ");
    assert_string_equal(s_words_of(&ws, "Müller Café Æble"), "muller cafe able ");
    assert_string_equal(s_words_of(&ws, "ahtari"), "ahtari ");
    assert_true(s_cmp("Ähtäri", "Zonta") > 0); /* the order is unchanged */
    assert_true(s_cmp("Åbo", "Ähtäri") < 0);
    assert_true(s_cmp("Ähtäri", "Östermark") < 0);
}

static void
test_business_id(void **state)
{
    (void)state;
    assert_true(reg_business_id_valid("0737546-2"));
    assert_true(reg_business_id_valid("1572860-0")); /* remainder 0: check digit 0 */
    assert_false(reg_business_id_valid("0737546-3"));
    assert_false(reg_business_id_valid("737546-2"));
    assert_false(reg_business_id_valid("0737546 2"));
    assert_false(reg_business_id_valid("07375a6-2"));
    assert_false(reg_business_id_valid(""));
}

static void
test_dates(void **state)
{
    (void)state;
    assert_true(reg_date_valid("2024-02-29"));
    assert_false(reg_date_valid("2023-02-29"));
    assert_false(reg_date_valid("2026-13-01"));
    assert_false(reg_date_valid("2026-1-01"));
    assert_false(reg_date_valid("1899-12-31"));
    assert_int_equal(reg_field_parse("youth", 5), KUMPPANI__V1__FIELD__FIELD_YOUTH);
    assert_string_equal(reg_field_name(KUMPPANI__V1__FIELD__FIELD_VILLAGE), "village");
    assert_int_equal(reg_field_parse("knitting", 8), 0);
    assert_null(reg_field_name(99));
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_finnish_order, test_words, test_words_folded,
                       test_business_id, test_dates);
}
