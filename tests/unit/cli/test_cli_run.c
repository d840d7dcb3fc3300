/*  test_cli_run: the one runner of the kumppani CLI's rows (cli_run.c): the comma-list
 *  splitter, the descriptor-to-JSON walker with and without a view, and a row's steps up to the
 * call: the positional ID stored in the request, fill errors as exit codes, the idempotency key,
 * and a service that does not answer (exit 3, with the key to retry with). */
#include "cli_cmd.h"
#include "kp_time.h"
#include "kumppani/v1/log.pb-c.h"
#include "kumppani/v1/notifier.pb-c.h"

#include <sodium.h>
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

#include "cli_capture.h"
#include "kp_test_run.h"

static const cli_optspec_t s_opts[] = {
    {"idempotency-key", true}, {"endpoint", true}, {"fail", true},  {"limit", true},
    {"address", true},         {"language", true}, {"start", true}, {"attempts", true},
    {"event", true},           {"urgent", false},  {NULL, false}};

/* Parses argv into a and sets up a context for cmd. */
static void
s_ctx(cli_ctx_t *c, cli_args_t *a, const cli_cmd_t *cmd, int argc, const char **argv)
{
    const cli_optspec_t *const specs[] = {s_opts};
    assert_int_equal(cli_args_parse(a, argc, (char **)argv, specs, 1), 0);
    memset(c, 0, sizeof *c);
    c->a = a;
    c->cmd = cmd;
    c->timeout_ms = 50;
    c->attempts = 1;
}

static void
test_split(void **state)
{
    (void)state;
    cli_ctx_t c = {.arena = kp_arena_new(1 << 20)};
    size_t n = 99;
    char **v = cli_split(&c, "a,,b,", ',', &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    assert_null(cli_split(&c, "", ',', &n));
    assert_int_equal(n, 0);
    assert_null(cli_split(&c, NULL, ',', &n));
    v = cli_split(&c, "x|y|z;q", ';', &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "x|y|z");
    kp_arena_destroy(&c.arena);
}

static void
test_json_msg(void **state)
{
    (void)state;
    /* Scalars, a string, bytes, an enum by name, a bool and a repeated nested message. */
    Kumppani__V1__Event ev = KUMPPANI__V1__EVENT__INIT;
    ev.seq = 18446744073709551ULL;
    ev.source = "events";
    ev.payload.data = (uint8_t *)"abc";
    ev.payload.len = 3;
    json_t *j = cli_json_view(&ev.base, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 18446744073709551LL);
    assert_string_equal(json_string_value(json_object_get(j, "source")), "events");
    assert_string_equal(json_string_value(json_object_get(j, "payload")), "abc");
    json_decref(j);

    Kumppani__V1__DeliveryAttempt at = KUMPPANI__V1__DELIVERY_ATTEMPT__INIT, *atp[] = {&at, &at};
    at.ok = true;
    Kumppani__V1__Notification n = KUMPPANI__V1__NOTIFICATION__INIT;
    n.state = KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_DELIVERED;
    n.urgent = true;
    n.attempts = atp;
    n.n_attempts = 2;
    j = cli_json_view(&n.base, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "state")),
                        "NOTIFICATION_STATE_DELIVERED");
    assert_true(json_is_true(json_object_get(j, "urgent")));
    json_t *arr = json_object_get(j, "attempts");
    assert_int_equal(json_array_size(arr), 2);
    assert_true(json_is_true(json_object_get(json_array_get(arr, 1), "ok")));
    json_decref(j);
}

static void
test_json_view(void **state)
{
    (void)state;
    static const cli_jview_t attempt[] = {{"t", "time_ms", CLI_J_TIME_MS, NULL, NULL}, {0}};
    static const cli_jview_t view[] = {
        {"state", NULL, CLI_J_SHORT, "NOTIFICATION_STATE_", NULL},
        {"state_name", "state", CLI_J_NAME, "NOTIFICATION_STATE_", NULL},
        {"kind", NULL, CLI_J_NAME | CLI_J_ZERO_EMPTY, "MESSAGE_KIND_", NULL},
        {"due", "due_ms", CLI_J_TIME_MS, NULL, NULL},
        {"start", "event_start_unix", CLI_J_TIME_S, NULL, NULL},
        {"event", "event_id", CLI_J_OMIT_ZERO, NULL, NULL},
        {"title", "event_title", CLI_J_OMIT_ZERO, NULL, NULL},
        {"history", "attempts", 0, NULL, attempt},
        {0},
    };
    Kumppani__V1__DeliveryAttempt at = KUMPPANI__V1__DELIVERY_ATTEMPT__INIT, *atp[] = {&at};
    Kumppani__V1__Notification n = KUMPPANI__V1__NOTIFICATION__INIT;
    n.state = KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_DELIVERED;
    n.due_ms = 1748761200123;        /* 2025-06-01 10:00 Helsinki, summer time */
    n.event_start_unix = 1736928000; /* 2025-01-15 10:00, winter time */
    n.attempts = atp;
    n.n_attempts = 1;
    json_t *j = cli_json_view(&n.base, view);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "DELIVERED");
    assert_string_equal(json_string_value(json_object_get(j, "state_name")), "delivered");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "");
    assert_string_equal(json_string_value(json_object_get(j, "due")), "2025-06-01T10:00:00+03:00");
    assert_string_equal(json_string_value(json_object_get(j, "start")),
                        "2025-01-15T10:00:00+02:00");
    assert_null(json_object_get(j, "event"));
    assert_null(json_object_get(j, "title"));
    assert_int_equal(json_object_size(j), 6);
    assert_true(
        json_is_null(json_object_get(json_array_get(json_object_get(j, "history"), 0), "t")));

    static const cli_jview_t len_view[] = {{"n", "payload", CLI_J_LEN, NULL, NULL}, {0}};
    Kumppani__V1__Event ev = KUMPPANI__V1__EVENT__INIT;
    ev.payload.data = (uint8_t *)"abcd";
    ev.payload.len = 4;
    json_decref(j);
    j = cli_json_view(&ev.base, len_view);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 4);
    json_decref(j);
}

static uint64_t s_seen_id;

/* Records the ID the runner stored; --fail N makes it fail with N (-1: a usage error). */
static int
s_fill(cli_ctx_t *c, ProtobufCMessage *m)
{
    s_seen_id = ((Kumppani__V1__ReplayRequest *)m)->from_seq;
    const char *f = cli_arg(c->a, "fail");
    return f ? (int)strtol(f, NULL, 10) : 0;
}

static int
s_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    (void)c;
    (void)m;
    return EXIT_OK_;
}

static const cli_cmd_t s_row = {
    .words = "test row",
    .opts = s_opts,
    .flags = CLI_IDEM_KEY,
    CLI_CALL("events", "log.replay", replay_request, replay_page),
    .id_field = "from_seq",
    .fill = s_fill,
    .print = s_print,
};

/* Runs row with argv; returns its exit code. */
static int
s_run(const cli_cmd_t *row, int argc, const char **argv)
{
    cli_ctx_t c;
    cli_args_t a;
    s_ctx(&c, &a, row, argc, argv);
    return cli_run_row(&c);
}

static void
test_row_steps(void **state)
{
    (void)state;
    const char *none[] = {"--fail", "0"};
    assert_int_equal(s_run(&s_row, 2, none), EXIT_USAGE); /* no ID */
    const char *two[] = {"1", "2"};
    assert_int_equal(s_run(&s_row, 2, two), EXIT_USAGE);
    const char *zero[] = {"0"};
    assert_int_equal(s_run(&s_row, 1, zero), EXIT_USAGE);

    s_seen_id = 0;
    const char *usage[] = {"42", "--fail", "-1"};
    assert_int_equal(s_run(&s_row, 3, usage), EXIT_USAGE);
    assert_int_equal(s_seen_id, 42); /* stored in id_field before fill */
    const char *other[] = {"42", "--fail", "1"};
    assert_int_equal(s_run(&s_row, 3, other), EXIT_OTHER);

    const char *empty_key[] = {"42", "--idempotency-key", ""};
    assert_int_equal(s_run(&s_row, 3, empty_key), EXIT_USAGE);

    /* Nothing listens on port 1: one attempt of 50 ms, then exit 3. */
    const char *down[] = {"42", "--endpoint", "tcp://127.0.0.1:1"};
    assert_int_equal(s_run(&s_row, 3, down), EXIT_UNREACHABLE);
}

/* A row whose options are copied into the request (.set), by the fields' types (a message with
 * one of each); the fill that follows keeps a copy of the request and stops the row before it
 * connects. */
static Kumppani__V1__Notification s_seen;
static int s_filled;

static int
s_keep(cli_ctx_t *c, ProtobufCMessage *m)
{
    (void)c;
    s_seen = *(Kumppani__V1__Notification *)m;
    s_filled++;
    return EXIT_OTHER;
}

static const cli_cmd_t s_set_row = {
    .words = "test set",
    CLI_CALL("notifier", "test.set", notification, notification),
    .set = (const cli_optfield_t[]){{"address", .required = true},
                                    {"language", .def = "fi"},
                                    {"start", .field = "event_start_unix"},
                                    {"attempts", .field = "attempts_n", .min = 1, .max = 20},
                                    {"event", .field = "event_id", .max = UINT64_MAX},
                                    {.opt = "urgent"},
                                    {0}},
    .fill = s_keep,
    .print = s_print,
};

static void
test_row_set(void **state)
{
    (void)state;
    s_filled = 0;
    const char *all[] = {"--address", "k1", "--language", "sv", "--start", "2025-01-15 10:00",
                         "--event",   "7",  "--attempts", "20", "--urgent"};
    assert_int_equal(s_run(&s_set_row, 11, all), EXIT_OTHER);
    assert_int_equal(s_filled, 1); /* the fill runs after the options are set */
    assert_string_equal(s_seen.address, "k1");
    assert_string_equal(s_seen.language, "sv");
    assert_int_equal(s_seen.event_start_unix, 1736928000);
    assert_int_equal(s_seen.event_id, 7);
    assert_int_equal(s_seen.attempts_n, 20);
    assert_true(s_seen.urgent);
    /* Absent: the string's default, and the zero of the others. */
    const char *address[] = {"--address", ""};
    assert_int_equal(s_run(&s_set_row, 2, address), EXIT_OTHER);
    assert_string_equal(s_seen.address, "");
    assert_string_equal(s_seen.language, "fi");
    assert_int_equal(s_seen.event_start_unix, 0);
    assert_int_equal(s_seen.attempts_n, 0);
    assert_false(s_seen.urgent);
    assert_int_equal(s_filled, 2);
    /* A required one missing, a number out of its range, a time that is not one: a usage
     * error before the fill. */
    const char *none[] = {"--language", "en"};
    assert_int_equal(s_run(&s_set_row, 2, none), EXIT_USAGE);
    const char *big[] = {"--address", "k", "--attempts", "21"};
    assert_int_equal(s_run(&s_set_row, 4, big), EXIT_USAGE);
    const char *bad[] = {"--address", "k", "--start", "2025-13-01 10:00"};
    assert_int_equal(s_run(&s_set_row, 4, bad), EXIT_USAGE);
    assert_int_equal(s_filled, 2);
}

/* The .set options are also the parser's entries: the bool field a flag, the others options
 * with a value; a row without .set has none. */
static void
test_row_set_specs(void **state)
{
    (void)state;
    cli_optspec_t specs[CLI_OPTS_MAX + 1];
    cli_set_specs(&s_row, specs);
    assert_null(specs[0].name);
    cli_set_specs(&s_set_row, specs);
    const char *names[] = {"address", "language", "start", "attempts", "event", "urgent"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(specs[i].name, names[i]);
        assert_int_equal(specs[i].has_arg, i < 5);
    }
    assert_null(specs[6].name);
    /* Parsed with them alone: a value for an option, none for the flag, nothing else. */
    const cli_optspec_t *const only[] = {specs};
    cli_args_t a;
    char *ok[] = {"--urgent", "--event", "7"};
    assert_int_equal(cli_args_parse(&a, 3, ok, only, 1), 0);
    assert_string_equal(cli_arg(&a, "event"), "7");
    assert_true(cli_flag(&a, "urgent"));
    char *flag_value[] = {"--urgent=yes"};
    assert_int_equal(cli_args_parse(&a, 1, flag_value, only, 1), -1);
    char *missing[] = {"--event"};
    assert_int_equal(cli_args_parse(&a, 1, missing, only, 1), -1);
    char *unknown[] = {"--limit", "3"};
    assert_int_equal(cli_args_parse(&a, 2, unknown, only, 1), -1);
}

static uint64_t s_lines[8];
static size_t s_lines_n;

/* Records the seq of each log entry shown as a line. */
static void
s_line(const ProtobufCMessage *m)
{
    assert_true(s_lines_n < 8);
    s_lines[s_lines_n++] = ((const Kumppani__V1__Event *)m)->seq;
}

static int
s_no_page(cli_ctx_t *c, ProtobufCMessage *req, const ProtobufCMessage *reply)
{
    (void)c;
    (void)req;
    (void)reply;
    fail_msg("no reply to page through");
    return 0;
}

static const cli_cmd_t s_paged_row = {
    .words = "test paged",
    .flags = CLI_PAGED,
    CLI_CALL("events", "log.replay", replay_request, replay_page),
    .rows = "events",
    .header = (const cli_col_t[]){{"SEQ", 5}, {"TYPE", 0}, {0}},
    .line = s_line,
    .page = s_no_page,
};

/* Paged rows: --limit sets what is left and the first page's size; each next page is what is
 * left, at most a page; before the first call the table gets its header, --json an array; a
 * page's rows go to the line function (or, with --json, to that array) while --limit leaves
 * rows. */
static void
test_paging(void **state)
{
    (void)state;
    cli_ctx_t c;
    cli_args_t a;
    uint32_t first = 0;
    s_ctx(&c, &a, &s_row, 0, NULL);
    assert_int_equal(cli_page_limit(&c, 100000, 200, &first), 0);
    assert_true(c.left == UINT64_MAX); /* no --limit: every page */
    assert_int_equal(first, 200);
    const char *lim[] = {"--limit", "450"};
    s_ctx(&c, &a, &s_row, 2, lim);
    assert_int_equal(cli_page_limit(&c, 100000, 200, &first), 0);
    assert_int_equal(c.left, 450);
    assert_int_equal(first, 200);
    c.left -= 400;
    assert_int_equal(cli_page_size(&c, 200), 50);
    const char *big[] = {"--limit", "100001"};
    s_ctx(&c, &a, &s_row, 2, big);
    assert_int_equal(cli_page_limit(&c, 100000, 200, &first), -1);
    const char *small[] = {"--limit", "3"};
    s_ctx(&c, &a, &s_row, 2, small);
    assert_int_equal(cli_page_limit(&c, 100000, 200, &first), 0);
    assert_int_equal(first, 3);

    /* The header comes only with the first page: a call that fails (nothing listens on port
     * 1: exit 3) leaves stdout empty, so that a script never reads a header as an answer;
     * --json prints no header either. */
    const char *down[] = {"--endpoint", "tcp://127.0.0.1:1"};
    char out[64];
    s_ctx(&c, &a, &s_paged_row, 2, down);
    assert_int_equal(cli_capture_run(&c, stdout, out, sizeof out), EXIT_UNREACHABLE);
    assert_string_equal(out, "");
    s_ctx(&c, &a, &s_paged_row, 2, down);
    c.json = true;
    assert_int_equal(cli_capture_run(&c, stdout, out, sizeof out), EXIT_UNREACHABLE);
    assert_string_equal(out, "");
    assert_null(c.out);

    /* A page of three entries with two rows left: the first two, the last of them returned. */
    Kumppani__V1__Event ev[3], *evp[3];
    for (size_t i = 0; i < 3; i++) {
        kumppani__v1__event__init(&ev[i]);
        ev[i].seq = 10 + i;
        evp[i] = &ev[i];
    }
    Kumppani__V1__ReplayPage page = KUMPPANI__V1__REPLAY_PAGE__INIT;
    page.events = evp;
    page.n_events = 3;
    s_ctx(&c, &a, &s_paged_row, 0, NULL);
    c.left = 2;
    s_lines_n = 0;
    assert_ptr_equal(cli_page_rows(&c, &page.base), &ev[1].base);
    assert_int_equal(s_lines_n, 2);
    assert_int_equal(s_lines[0], 10);
    assert_int_equal(s_lines[1], 11);
    assert_int_equal(c.left, 0);
    assert_null(cli_page_rows(&c, &page.base)); /* nothing left: nothing shown */
    assert_int_equal(s_lines_n, 2);
    c.left = UINT64_MAX;
    c.out = json_array();
    assert_ptr_equal(cli_page_rows(&c, &page.base), &ev[2].base);
    assert_int_equal(s_lines_n, 2);
    assert_int_equal(json_array_size(c.out), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(c.out, 2), "seq")), 12);
    json_decref(c.out);
}

/* A row that is a whole command (run): like every row without an ID, it refuses positional
 * arguments before it runs, unless it reads them itself (CLI_POSITIONAL_ANY). */
static int s_runs_n;

static int
s_count_run(cli_ctx_t *c)
{
    (void)c;
    s_runs_n++;
    return EXIT_OK_;
}

static void
test_run_row_positional(void **state)
{
    (void)state;
    static const cli_cmd_t plain = {.words = "test run", .run = s_count_run};
    static const cli_cmd_t any = {
        .words = "test run-any", .flags = CLI_POSITIONAL_ANY, .run = s_count_run};
    const char *extra[] = {"extra"};
    cli_ctx_t c;
    cli_args_t a;
    char err[256];
    s_runs_n = 0;
    s_ctx(&c, &a, &plain, 1, extra);
    assert_int_equal(cli_capture_run(&c, stderr, err, sizeof err), EXIT_USAGE);
    assert_string_equal(err, "kumppani: unexpected argument 'extra'\n");
    assert_int_equal(s_runs_n, 0);
    assert_int_equal(s_run(&plain, 0, NULL), EXIT_OK_);
    assert_int_equal(s_runs_n, 1);
    assert_int_equal(s_run(&any, 1, extra), EXIT_OK_);
    assert_int_equal(s_runs_n, 2);
}

/* An update's field mask: the field of each option given, in the map's order and each field
 * once; none given is refused with the message passed, or passes without one. */
static void
test_field_mask(void **state)
{
    (void)state;
    static const cli_mask_t map[] = {
        {"start", "start"}, {"address", "where"}, {"event", "where"}, {"language", "lang"}, {0}};
    cli_ctx_t c;
    cli_args_t a;
    kp_arena_t *arena = kp_arena_new(1 << 20);
    const char *given[] = {"--language", "fi", "--event", "1", "--address", "x"};
    s_ctx(&c, &a, NULL, 6, given);
    c.arena = arena;
    char **f = NULL;
    size_t n = 99;
    assert_int_equal(cli_field_mask(&c, map, &f, &n, "never"), 0);
    assert_int_equal(n, 2);
    assert_string_equal(f[0], "where");
    assert_string_equal(f[1], "lang");

    const char *none[] = {"--urgent"};
    s_ctx(&c, &a, NULL, 1, none);
    c.arena = arena;
    n = 99;
    assert_int_equal(cli_field_mask(&c, map, &f, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cli_field_mask(&c, map, &f, &n, "give a field"), -1);
    assert_int_equal(n, 0);
    kp_arena_destroy(&arena);
}

int
main(void)
{
    assert_int_equal(sodium_init() >= 0, 1);
    kp_time_tz_init();
    setenv("KUMPPANI_KEYS", "none", 1); /* plain TCP */
    return KP_TEST_RUN(NULL, NULL, test_split, test_json_msg, test_json_view, test_row_steps,
                       test_row_set, test_row_set_specs, test_paging, test_field_mask,
                       test_run_row_positional);
}
