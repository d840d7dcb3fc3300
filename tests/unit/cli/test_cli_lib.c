/*  test_cli_lib: Helsinki time as the CLI reads and shows it (kp_time, including both DST
 *  transitions of 2025), enum names, numbers, argument parsing and the service table of the
 *  kumppani CLI. */
#include "cli.h"
#include "kp_time.h"

#include <stdint.h>
#include <stdio.h>
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

static int64_t
s_parse_ok(const char *s)
{
    int64_t t = 0;
    char why[128] = "";
    int rc = kp_time_parse_local(s, &t, why, sizeof why);
    if (rc != 0)
        fail_msg("'%s' did not parse: %s", s, why);
    return t;
}

/* kp_time_iso / kp_time_format of t is want. */
static void
s_iso_is(int64_t t, const char *want)
{
    char buf[CLI_TIME_MAX];
    kp_time_iso(t, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void
s_format_is(int64_t t, const char *want)
{
    char buf[CLI_TIME_MAX];
    kp_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void
test_time_parse(void **state)
{
    (void)state;
    /* Winter (+02:00) and summer (+03:00), with either separator. */
    assert_int_equal(s_parse_ok("2025-01-15 10:00"), 1736928000);
    assert_int_equal(s_parse_ok("2025-01-15T10:00"), 1736928000);
    assert_int_equal(s_parse_ok("2025-06-01 10:00"), 1748761200);
    assert_int_equal(s_parse_ok("2024-02-29 00:00"), 1709157600);
}

static void
test_time_dst_spring(void **state)
{
    (void)state;
    /* 2025-03-30: clocks jump from 03:00 to 04:00. */
    assert_int_equal(s_parse_ok("2025-03-30 02:30"), 1743294600); /* 00:30Z, +02:00 */
    assert_int_equal(s_parse_ok("2025-03-30 04:30"), 1743298200); /* 01:30Z, +03:00 */
    int64_t t = 0;
    char why[128] = "";
    assert_int_equal(kp_time_parse_local("2025-03-30 03:30", &t, why, sizeof why), -1);
    assert_non_null(strstr(why, "summer time"));
}

static void
test_time_dst_autumn(void **state)
{
    (void)state;
    /* 2025-10-26: 03:00-03:59 happens twice; the first (summer time) is taken. */
    assert_int_equal(s_parse_ok("2025-10-26 03:30"), 1761438600);
    assert_int_equal(s_parse_ok("2025-10-26 04:30"), 1761445800);
    s_iso_is(1761438600, "2025-10-26T03:30:00+03:00");
    s_iso_is(1761442200, "2025-10-26T03:30:00+02:00"); /* the second 03:30 */
    s_format_is(1761442200, "2025-10-26 03:30");
}

static void
test_time_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2025-1-15 10:00",
        "2025-01-15 10:00:00",
        "2025-01-15  10:0",
        "2025-02-29 10:00",
        "2025-13-01 10:00",
        "2025-01-15 24:00",
        "2025-01-15 10:60",
        "2025-01-15x10:00",
        " 2025-01-1 10:00",
        "1969-12-31 23:00",
        "abcd-01-15 10:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 0;
        char why[128] = "";
        if (kp_time_parse_local(bad[i], &t, why, sizeof why) != -1)
            fail_msg("'%s' parsed", bad[i]);
        assert_true(why[0] != '\0');
    }
}

static void
test_time_format(void **state)
{
    (void)state;
    s_format_is(1736928000, "2025-01-15 10:00");
    s_iso_is(1736928000, "2025-01-15T10:00:00+02:00");
    s_iso_is(1748761200, "2025-06-01T10:00:00+03:00");
}

static void
test_names(void **state)
{
    (void)state;
    static const char *const kinds[] = {
        "partnership-table", "ngo-council-meeting", "vitality-workshop",      "ngo-fair", "seminar",
        "training",          "client-panel",        "contact-person-meeting", "other",
    };
    char buf[CLI_NAME_MAX];
    for (int i = 0; i < 9; i++) {
        int v = -1;
        assert_int_equal(cli_kind_parse(kinds[i], &v), 0);
        assert_int_equal(v, i + 1);
        assert_string_equal(cli_kind_name(v, buf), kinds[i]);
    }
    static const char *const roles[] = {"resident",         "ngo",      "civil-servant",
                                        "elected-official", "business", "experience-expert"};
    for (int i = 0; i < 6; i++) {
        int v = -1;
        assert_int_equal(cli_role_parse(roles[i], &v), 0);
        assert_int_equal(v, i + 1);
        assert_string_equal(cli_role_name(v, buf), roles[i]);
    }
    int v;
    assert_int_equal(cli_kind_parse("unspecified", &v), -1);
    assert_int_equal(cli_kind_parse("PARTNERSHIP_TABLE", &v), -1);
    assert_int_equal(cli_kind_parse(NULL, &v), -1);
    assert_int_equal(cli_role_parse("admin", &v), -1);
    assert_string_equal(cli_kind_name(0, buf), "unspecified");
    assert_string_equal(cli_kind_name(99, buf), "unknown-99");
    assert_string_equal(cli_event_state_name(2, buf), "published");
    assert_string_equal(cli_signup_state_name(2, buf), "waitlisted");
    assert_non_null(strstr(cli_kind_list(), "contact-person-meeting"));
    assert_non_null(strstr(cli_role_list(), "experience-expert"));
}

static void
test_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_u64("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(cli_parse_u64("0", 1, 100, &v), -1);
    assert_int_equal(cli_parse_u64("101", 1, 100, &v), -1);
    assert_int_equal(cli_parse_u64("-1", 0, 100, &v), -1);
    assert_int_equal(cli_parse_u64(" 1", 0, 100, &v), -1);
    assert_int_equal(cli_parse_u64("1x", 0, 100, &v), -1);
    assert_int_equal(cli_parse_u64("", 0, 100, &v), -1);
}

/* A column of text is as wide on the terminal with ä and ö as without (issue 16). */
static void
test_columns(void **state)
{
    (void)state;
    char a[64], b[64];
    snprintf(a, sizeof a, "%-*s|", cli_col("Ähtäri", 10), "Ähtäri");
    snprintf(b, sizeof b, "%-*s|", cli_col("Ahtari", 10), "Ahtari");
    assert_string_equal(a, "Ähtäri    |");
    assert_string_equal(b, "Ahtari    |");
    assert_int_equal(cli_col("Östermark", 12), 13);
    assert_int_equal(cli_col("plain", 12), 12);
    /* longer than the column: printed whole, as %-12s would */
    snprintf(a, sizeof a, "%-*s|", cli_col("Seinäjoen Mielenterveysseura", 8),
             "Seinäjoen Mielenterveysseura");
    assert_string_equal(a, "Seinäjoen Mielenterveysseura|");
}

static const cli_optspec_t s_cmd[] = {{"kind", true}, {"consent", false}, {NULL, false}};
static const cli_optspec_t s_glob[] = {{"json", false}, {"timeout", true}, {NULL, false}};

static int
s_parse(cli_args_t *a, int argc, const char **argv)
{
    const cli_optspec_t *const specs[] = {s_cmd, s_glob};
    return cli_args_parse(a, argc, (char **)argv, specs, 2);
}

static void
test_args(void **state)
{
    (void)state;
    cli_args_t a;
    const char *ok[] = {"--json",       "7",         "--kind", "seminar",
                        "--timeout=50", "--consent", "--",     "--not-an-option"};
    assert_int_equal(s_parse(&a, 8, ok), 0);
    assert_true(cli_flag(&a, "json"));
    assert_true(cli_flag(&a, "consent"));
    assert_string_equal(cli_arg(&a, "kind"), "seminar");
    assert_string_equal(cli_arg(&a, "timeout"), "50");
    assert_null(cli_arg(&a, "missing"));
    assert_int_equal(a.pos_n, 2);
    assert_string_equal(a.pos[0], "7");
    assert_string_equal(a.pos[1], "--not-an-option");

    const char *last[] = {"--kind", "a", "--kind=b"};
    assert_int_equal(s_parse(&a, 3, last), 0);
    assert_string_equal(cli_arg(&a, "kind"), "b");

    const char *unknown[] = {"--bogus"};
    assert_int_equal(s_parse(&a, 1, unknown), -1);
    assert_non_null(strstr(a.err, "--bogus"));
    const char *missing[] = {"--kind"};
    assert_int_equal(s_parse(&a, 1, missing), -1);
    assert_non_null(strstr(a.err, "needs a value"));
    const char *flagval[] = {"--consent=yes"};
    assert_int_equal(s_parse(&a, 1, flagval), -1);
    assert_non_null(strstr(a.err, "takes no value"));
}

static void
test_services(void **state)
{
    (void)state;
    const cli_service_t *ev = cli_service_find("events");
    assert_non_null(ev);
    assert_non_null(cli_service_find("registry"));
    assert_non_null(cli_service_find("expert-broker"));
    assert_non_null(cli_service_find("notifier"));
    assert_null(cli_service_find("nope"));
    assert_null(cli_service_find(NULL));

    unsetenv("KUMPPANI_EVENTS_API");
    assert_string_equal(cli_service_endpoint(ev, NULL), "tcp://127.0.0.1:7201");
    setenv("KUMPPANI_EVENTS_API", "tcp://10.0.0.1:9", 1);
    assert_string_equal(cli_service_endpoint(ev, NULL), "tcp://10.0.0.1:9");
    assert_string_equal(cli_service_endpoint(ev, "ipc:///x"), "ipc:///x");
    unsetenv("KUMPPANI_EVENTS_API");
    assert_string_equal(cli_service_endpoint(cli_service_find("registry"), NULL),
                        "tcp://127.0.0.1:7101");

    char dir[256];
    unsetenv("KUMPPANI_KEYS");
    unsetenv("KUMPPANI_HOME");
    assert_int_equal(cli_keys_dir(NULL, dir, sizeof dir), 0);
    assert_string_equal(dir, "./data/keys");
    setenv("KUMPPANI_HOME", "/srv/kp", 1);
    assert_int_equal(cli_keys_dir(NULL, dir, sizeof dir), 0);
    assert_string_equal(dir, "/srv/kp/keys");
    setenv("KUMPPANI_KEYS", "/etc/kp", 1);
    assert_int_equal(cli_keys_dir(NULL, dir, sizeof dir), 0);
    assert_string_equal(dir, "/etc/kp");
    assert_int_equal(cli_keys_dir("k", dir, sizeof dir), 0);
    assert_string_equal(dir, "k");
    char small[4];
    assert_int_equal(cli_keys_dir("toolong", small, sizeof small), -1);
    unsetenv("KUMPPANI_KEYS");
    unsetenv("KUMPPANI_HOME");
}

int
main(void)
{
    kp_time_tz_init();
    return KP_TEST_RUN(NULL, NULL, test_time_parse, test_time_dst_spring, test_time_dst_autumn,
                       test_time_bad, test_time_format, test_names, test_numbers, test_columns,
                       test_args, test_services);
}
