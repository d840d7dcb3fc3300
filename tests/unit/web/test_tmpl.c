/*  Unit tests of web/tmpl.c: escaping by default, raw values, sections over lists, objects
 *  and values, inverted sections, dotted names and the context stack, partials (with
 *  arguments), comments, compile errors with their line, and the bounds (nesting, output
 *  size, full arena). */
#include "tmpl.h"

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
#include "kp_text.h"

static kp_arena_t *A;

static char *
s_render(web_tmpl_set_t *set, const char *src, const web_tv_t *root)
{
    char why[200];
    static int n;
    char name[32];
    snprintf(name, sizeof name, "t%d", n++);
    assert_int_equal(web_tmpl_add(set, name, src, strlen(src), why, sizeof why), 0);
    web_buf_t b = {0};
    assert_int_equal(web_tmpl_render(set, name, root, &b), 0);
    char *out = kp_arena_memdup(A, b.p ? b.p : "", b.n);
    web_buf_free(&b);
    return out;
}

/* The fixture: each test gets a new, empty template set in *state; it is destroyed after the
 * test, which fails if the destructor does not clear the pointer. */
static int
s_setup(void **state)
{
    *state = web_tmpl_set_new();
    return 0;
}

static int
s_teardown(void **state)
{
    web_tmpl_set_destroy((web_tmpl_set_t **)state);
    return *state ? -1 : 0;
}

static void
test_escape(void **state)
{
    web_tmpl_set_t *set = *state;
    web_tv_t *root = web_tv_new(A);
    web_tv_str(A, root, "x", "<script>alert('x')</script> & \"q\"");
    assert_string_equal(s_render(set, "[{{x}}]", root),
                        "[&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;]");
    assert_string_equal(s_render(set, "[{{{x}}}]", root), "[<script>alert('x')</script> & \"q\"]");
    assert_string_equal(s_render(set, "[{{ missing }}]", root), "[]");
}

static void
test_sections(void **state)
{
    web_tmpl_set_t *set = *state;
    web_tv_t *root = web_tv_new(A);
    web_tv_str(A, root, "title", "root");
    web_tv_t *l = web_tv_list(A, root, "items");
    for (int i = 0; i < 3; i++)
        web_tv_strf(A, web_tv_item(A, l), "n", "%d", i);
    web_tv_list(A, root, "empty");
    web_tv_bool(A, root, "yes", true);
    web_tv_bool(A, root, "no", false);
    web_tv_t *o = web_tv_obj(A, root, "ev");
    web_tv_str(A, o, "title", "inner");
    assert_string_equal(s_render(set, "{{#items}}<{{n}}{{title}}>{{/items}}", root),
                        "<0root><1root><2root>");
    assert_string_equal(s_render(set, "{{#empty}}x{{/empty}}{{^empty}}none{{/empty}}", root),
                        "none");
    assert_string_equal(s_render(set, "{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}n{{/no}}", root),
                        "Yn");
    assert_string_equal(s_render(set, "{{#ev}}{{title}}{{/ev}} {{title}} {{ev.title}}", root),
                        "inner root inner");
    assert_string_equal(s_render(set, "{{#ev.title}}has{{/ev.title}}{{! a comment }}", root),
                        "has");
}

static void
test_partials_and_attach(void **state)
{
    web_tmpl_set_t *set = *state;
    char why[200];
    assert_int_equal(web_tmpl_add(set, "head", "<h>{{t.hi}}</h>", 15, why, sizeof why), 0);
    assert_true(web_tmpl_has(set, "head"));
    web_tv_t *texts = web_tv_new(A);
    web_tv_str(A, texts, "hi", "Hei & tervetuloa");
    web_tv_t *root = web_tv_new(A);
    web_tv_attach(A, root, "t", texts);
    assert_string_equal(s_render(set, "{{>head}}!", root), "<h>Hei &amp; tervetuloa</h>!");
    assert_string_equal(web_tv_get(root, "t.hi"), "Hei & tervetuloa");
    /* An indexed object answers the same, the newest value of a key winning. */
    web_tv_t *big = web_tv_new(A);
    for (int i = 0; i < 300; i++)
        web_tv_strf(A, big, "k", "%d", i);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "key_%d", i);
        web_tv_strf(A, big, k, "v%d", i);
    }
    assert_int_equal(web_tv_index(A, big), 0);
    web_tv_attach(A, root, "big", big);
    assert_string_equal(web_tv_get(big, "k"), "299");
    assert_string_equal(web_tv_get(root, "big.key_123"), "v123");
    assert_null(web_tv_get(big, "key_300"));
    assert_string_equal(s_render(set, "{{big.key_7}}{{big.k}}", root), "v7299");
    /* A template including itself stops at the bound instead of recursing forever. */
    assert_int_equal(web_tmpl_add(set, "loop", "{{>loop}}", 9, why, sizeof why), 0);
    web_buf_t b = {0};
    assert_int_equal(web_tmpl_render(set, "loop", root, &b), -1);
    assert_int_equal(web_tmpl_render(set, "nope", root, &b), -1);
    web_buf_free(&b);
}

/* A partial called with arguments sees them over the caller's context: a name's value (an
 * object or a list too), a text, a flag; a missing name hides the caller's value of its key. */
static void
test_partial_arguments(void **state)
{
    web_tmpl_set_t *set = *state;
    char why[200];
    const char *f = "<{{id}}|{{label}}|{{#hint}}h:{{hint}}{{/hint}}|{{#flag}}F{{/flag}}|"
                    "{{#opts}}{{.}}{{name}};{{/opts}}|{{x.y}}|{{outer}}>";
    assert_int_equal(web_tmpl_add(set, "f", f, strlen(f), why, sizeof why), 0);
    web_tv_t *root = web_tv_new(A);
    web_tv_str(A, root, "hint", "root's hint");
    web_tv_str(A, root, "outer", "o");
    web_tv_str(A, root, "id", "root id");
    web_tv_str(A, web_tv_obj(A, root, "t"), "lab", "A & B");
    web_tv_str(A, web_tv_obj(A, web_tv_obj(A, root, "deep"), "x"), "y", "xy");
    web_tv_t *l = web_tv_list(A, root, "list");
    web_tv_str(A, web_tv_item(A, l), "name", "one");
    web_tv_str(A, web_tv_item(A, l), "name", "two");
    assert_string_equal(
        s_render(set, "{{>f id=\"name_fi\" label=t.lab hint=t.none flag opts=list x=deep.x}}",
                 root),
        "<name_fi|A &amp; B||F|one;two;|xy|o>");
    assert_string_equal(s_render(set, "{{>f\n  label=\"\" hint=outer}}", root),
                        "<root id||h:o||||o>");
    /* The arguments are the partial's alone: after it, the caller's values are back. */
    assert_string_equal(s_render(set, "{{>f id=\"a\"}}{{id}}{{hint}}", root),
                        "<a||h:root&#39;s hint||||o>root idroot&#39;s hint");
    /* Arguments that are none of the three forms stop the compile with the line. */
    const char *bad[] = {"\n{{>f id=}}", "\n{{>f id=\"x}}", "\n{{>f =x}}", "\n{{>f id=\"a\"b}}",
                         "\n{{>f a b c d e f g h i j k l m n o p q}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        assert_int_equal(web_tmpl_add(set, "bad", bad[i], strlen(bad[i]), why, sizeof why), -1);
        assert_non_null(strstr(why, "line 2: a partial's arguments"));
    }
}

static void
test_errors(void **state)
{
    web_tmpl_set_t *set = *state;
    char why[200];
    const char *bad[] = {"a\n{{x", "{{#a}}b", "{{#a}}{{/b}}", "{{/a}}", "{{}}", "{{{x}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        assert_int_equal(web_tmpl_add(set, "bad", bad[i], strlen(bad[i]), why, sizeof why), -1);
        assert_true(why[0] != 0);
    }
    assert_int_equal(web_tmpl_add(set, "bad", "a\n{{x", 5, why, sizeof why), -1);
    assert_non_null(strstr(why, "line 2"));
    char deep[400] = "";
    for (int i = 0; i < 20; i++)
        memcpy(deep + i * 6, "{{#a}}", 7);
    assert_int_equal(web_tmpl_add(set, "deep", deep, strlen(deep), why, sizeof why), -1);
    assert_false(web_tmpl_has(set, "bad"));
}

static void
test_bounds(void **state)
{
    (void)state;
    web_buf_t b = {.max = 16};
    web_buf_adds(&b, "0123456789");
    assert_false(b.full);
    web_buf_adds(&b, "0123456789");
    assert_true(b.full);
    web_buf_free(&b);
    kp_arena_t *small = kp_arena_new(256);
    web_tv_t *root = web_tv_new(small);
    for (int i = 0; i < 100; i++)
        web_tv_str(small, root, "k", "a long enough value to fill the arena quickly");
    assert_true(kp_arena_refusals(small) > 0);
    assert_null(web_tv_obj(small, NULL, "x"));
    kp_arena_destroy(&small);
}

/* A formatted value longer than the old 1,024-byte buffer: a link carrying a long Finnish
 * search query came out cut at byte 1,023, in the middle of an "ä", and the page carried
 * invalid UTF-8. It is now kept whole, and past the 16 KiB bound cut between characters. */
static void
test_strf_long_utf8(void **state)
{
    web_tmpl_set_t *set = *state;
    enum { LONG_N = 3000, HUGE_N = 20000 };
    static char q[2 * HUGE_N + 1];
    for (int i = 0; i < HUGE_N; i++)
        memcpy(q + 2 * i, "\xc3\xa4", 2); /* ä */
    web_tv_t *root = web_tv_new(A);
    q[2 * LONG_N] = 0;
    web_tv_strf(A, root, "long", "/office/organisations?q=%s", q);
    q[2 * LONG_N] = (char)0xc3;
    web_tv_strf(A, root, "huge", "?%s", q); /* '?' puts the bound in the middle of an ä */
    const char *l = web_tv_get(root, "long");
    assert_int_equal(strlen(l), strlen("/office/organisations?q=") + 2 * LONG_N);
    assert_memory_equal(l + strlen("/office/organisations?q="), q, 2 * LONG_N);
    const char *h = web_tv_get(root, "huge");
    assert_int_equal(strlen(h), 16383);
    assert_int_equal(kp_text_check(h, strlen(h), false), KP_TEXT_OK);
    char *out = s_render(set, "<a href=\"{{long}}\">{{huge}}</a>", root);
    assert_int_equal(kp_text_check(out, strlen(out), false), KP_TEXT_OK);
    assert_non_null(strstr(out, "\xc3\xa4</a>"));
}

int
main(void)
{
    A = kp_arena_new(1u << 20);
    int rc = KP_TEST_RUN(s_setup, s_teardown, test_escape, test_sections, test_partials_and_attach,
                         test_partial_arguments, test_errors, test_bounds, test_strf_long_utf8);
    kp_arena_destroy(&A);
    return rc;
}
