/*  test_cli_rows: the command rows of every service (cmd_*.c) as the runner sees them. A row
 *  with a positional ID names that ID in its usage error from its own data (the ID field's
 *  name, or the row's id_noun): "request ID" for a broker request, "organisation ID" for a
 *  registry organisation, never "event ID" for what is not an event. The message is checked
 *  word for word as the runner writes it on stderr, with its exit code (2). */
#include "cli_cmd.h"
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

#include "cli_capture.h"
#include "kp_test_run.h"

static const cli_cmd_t *const s_tables[] = {cli_cmds_events,   cli_cmds_registry, cli_cmds_broker,
                                            cli_cmds_notifier, cli_cmds_suite,    cli_cmds_web};

/* The row whose words are words (asserted to exist). */
static const cli_cmd_t *
s_find(const char *words)
{
    for (size_t t = 0; t < sizeof s_tables / sizeof *s_tables; t++)
        for (const cli_cmd_t *r = s_tables[t]; r->words; r++)
            if (strcmp(r->words, words) == 0)
                return r;
    fail_msg("no row '%s'", words);
    return NULL;
}

/* Runs row with the positional arguments pos (and no options) and returns its exit code, with
 * what it wrote on stderr in err. */
static int
s_run(const cli_cmd_t *row, int argc, const char **pos, char *err, size_t err_len)
{
    static const cli_optspec_t none[] = {{NULL, false}};
    const cli_optspec_t *const specs[] = {none};
    cli_args_t a;
    assert_int_equal(cli_args_parse(&a, argc, (char **)pos, specs, 1), 0);
    cli_ctx_t c = {.a = &a, .cmd = row, .timeout_ms = 50, .attempts = 1};
    return cli_capture_run(&c, stderr, err, err_len);
}

/* A bad ID (not a number, 0, none, two) is a usage error naming the row's own ID, in the same
 * words for every row: a coordinator typing `kumppani broker request show abc` is told about
 * a request ID. */
static void
test_bad_id_names_the_id(void **state)
{
    (void)state;
    static const struct {
        const char *words, *name;
    } rows[] = {
        {"broker request", "request ID"},         {"broker request-cancel", "request ID"},
        {"broker expert", "expert ID"},           {"broker offer-accept", "offer ID"},
        {"broker feedback", "assignment ID"},     {"registry show", "organisation ID"},
        {"registry dissolve", "organisation ID"}, {"registry person", "person ID"},
        {"registry end-role", "role ID"},         {"registry meetings", "person ID"},
        {"events series-extend", "series ID"},    {"events get", "event ID"},
        {"events signups", "event ID"},           {"notifier schedule", "event ID"},
    };
    const char *abc[] = {"abc"}, *zero[] = {"0"}, *two[] = {"show", "abc"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const cli_cmd_t *row = s_find(rows[i].words);
        char want[128], err[512];
        snprintf(want, sizeof want, "kumppani: expected one %s (a positive number)\n",
                 rows[i].name);
        assert_int_equal(s_run(row, 1, abc, err, sizeof err), EXIT_USAGE);
        assert_string_equal(err, want);
        assert_int_equal(s_run(row, 1, zero, err, sizeof err), EXIT_USAGE);
        assert_string_equal(err, want);
        assert_int_equal(s_run(row, 2, two, err, sizeof err), EXIT_USAGE);
        assert_string_equal(err, want);
        assert_int_equal(s_run(row, 0, NULL, err, sizeof err), EXIT_USAGE);
        assert_string_equal(err, want);
    }
}

/* Every row with a positional ID has a name for it (cli_id_name asserts that a field named
 * plainly "id" comes with the row's id_noun): "<words> ID", nothing empty, no "_", and "event
 * ID" only where the ID field is an event's. */
static void
test_every_id_row_named(void **state)
{
    (void)state;
    int rows_n = 0, events_n = 0;
    for (size_t t = 0; t < sizeof s_tables / sizeof *s_tables; t++)
        for (const cli_cmd_t *r = s_tables[t]; r->words; r++) {
            if (!r->id_field)
                continue;
            char name[64];
            const char *s = cli_id_name(r, name, sizeof name);
            size_t n = strlen(s);
            assert_true(n > 3 && strcmp(s + n - 3, " ID") == 0);
            assert_null(strchr(s, '_'));
            const ProtobufCFieldDescriptor *fd =
                protobuf_c_message_descriptor_get_field_by_name(r->in, r->id_field);
            assert_non_null(fd);
            assert_int_equal(fd->type, PROTOBUF_C_TYPE_UINT64);
            if (strcmp(s, "event ID") == 0) {
                assert_string_equal(fd->name, "event_id");
                events_n++;
            }
            rows_n++;
        }
    /* Rows of events, registry, broker and notifier; most are not about an event. */
    assert_true(rows_n >= 30);
    assert_true(events_n > 0 && events_n < rows_n / 2);
}

/* The text of row's line for m, into out (len bytes). */
static void
s_line_text(const char *words, const ProtobufCMessage *m, char *out, size_t len)
{
    const cli_cmd_t *row = s_find(words);
    assert_non_null(row->line);
    cli_capture_t k = cli_capture_begin(stdout);
    row->line(m);
    cli_capture_end(&k, out, len);
}

/* The text of an event and of a sign-up, word for word: a line for each text that is set, none
 * for one that is empty. */
static void
test_event_text(void **state)
{
    (void)state;
    char out[2048];
    static const char head[] = "id            7\n"
                               "title         Kevätkokous\n"
                               "kind          unspecified\n"
                               "state         unspecified\n"
                               "municipality  \n"
                               "time          2025-01-15 10:00 - 2025-01-15 12:00 (Helsinki)\n"
                               "places        0 confirmed (no limit)\n"
                               "deadline      until the start\n";
    Kumppani__V1__EventInfo e = KUMPPANI__V1__EVENT_INFO__INIT;
    e.id = 7;
    e.title = "Kevätkokous";
    e.start_unix = 1736928000; /* 2025-01-15 10:00 Helsinki */
    e.end_unix = 1736935200;
    s_line_text("events get", &e.base, out, sizeof out);
    assert_string_equal(out, head);
    /* Places counted with companions, offered ones too, against the capacity. */
    e.capacity = 10;
    e.confirmed_n = 3;
    e.offered_n = 2;
    e.waitlisted_n = 9;
    s_line_text("events get", &e.base, out, sizeof out);
    assert_non_null(strstr(out, "\nplaces        3 of 10 confirmed, 2 offered, 9 waitlisted\n"));
    e.capacity = e.confirmed_n = e.offered_n = e.waitlisted_n = 0;

    e.place = "Kirjasto";
    e.online_url = "";
    e.language = "fi";
    e.cancel_reason_text = "myrsky";
    e.memo_url = "https://example.org/muistio";
    s_line_text("events get", &e.base, out, sizeof out);
    assert_memory_equal(out, head, sizeof head - 1);
    assert_string_equal(out + sizeof head - 1, "place         Kirjasto\n"
                                               "language      fi\n"
                                               "cancelled     myrsky\n"
                                               "memo          https://example.org/muistio\n");

    Kumppani__V1__Signup s = KUMPPANI__V1__SIGNUP__INIT;
    s.id = 12;
    s.cancel_reason = "sairas";
    s_line_text("signup cancel", &s.base, out, sizeof out);
    assert_string_equal(out, "signup        12\n"
                             "event         0\n"
                             "state         unspecified\n"
                             "role          unspecified\n"
                             "source         / \n"
                             "reminders     no\n"
                             "cancelled     sairas\n");
    s.cancel_reason = "";
    s_line_text("signup cancel", &s.base, out, sizeof out);
    assert_null(strstr(out, "cancelled"));
}

int
main(void)
{
    setenv("KUMPPANI_KEYS", "none", 1);
    kp_time_tz_init();
    return KP_TEST_RUN(NULL, NULL, test_bad_id_names_the_id, test_every_id_row_named,
                       test_event_text);
}
