/*  kumppani: the command-line client of the Kumppani services: main and the table of tables.
 *
 *  Design. Each command is a row of one service's table (cmd_<service>.c; cli_cmd.h says what a
 *  row holds). main() finds the command (two-word commands first), parses its options together
 *  with the global ones (which may come before or after the command), and hands the row to the
 *  one runner, cli_run_row (cli_run.c), which connects through libkumppani (client/kumppani.h),
 *  calls, prints and maps the outcome to an exit code:
 *
 *      0 ok   1 other failure   2 usage error   3 service unreachable   4 service error
 *
 *  Output is a readable table on stdout, or JSON (jansson) with --json. Errors are one line on
 *  stderr naming the problem. Times are shown and taken in Europe/Helsinki (kp_time). */
#include "cli.h"
#include "cli_cmd.h"
#include "kp_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_optspec_t s_global_opts[] = {
    {"json", false},    {"endpoint", true},    {"keys", true},
    {"key-name", true}, {"service-key", true}, {"timeout", true},
    {"attempts", true}, {"help", false},       {NULL, false},
};

/* The table of tables, in the order of the usage list. */
static const cli_cmd_t *const s_tables[] = {cli_cmds_events,   cli_cmds_registry, cli_cmds_broker,
                                            cli_cmds_notifier, cli_cmds_suite,    cli_cmds_web};
#define TABLES_N (sizeof s_tables / sizeof s_tables[0])

static void
s_usage(FILE *f)
{
    fputs("Usage: kumppani [global options] COMMAND [options]\n"
          "\n"
          "Commands:\n"
          "  keygen NAME [--dir DIR]            make a CURVE key pair\n"
          "  events create --kind ... --title ...  create an event (draft)\n"
          "  events publish ID                  publish an event\n"
          "  events get ID                      show an event\n"
          "  events list [--after ID] [--limit N]\n"
          "  events signups ID [--after ID] [--limit N]\n"
          "  signup --event ID --source S --id EXTID --name N --role ROLE ...\n"
          "  signup cancel (--source S --id EXTID | --signup ID)\n"
          "  events signup ... (the same as signup)\n"
          "  log replay [--service NAME] [--from SEQ] [--limit N]\n"
          "  health [--service NAME]\n"
          "  privacy erase (--email E | --phone P | --signup ID)   erase a person everywhere\n"
          "  privacy export (--email E | --phone P | --signup ID)  all held about a person\n"
          "  status                             every service up or down, and its lag\n"
          "  metrics                            every service's health for Prometheus\n"
          "\n"
          "Every command takes --help. Services: registry, events, expert-broker, notifier,\n"
          "web. Their other commands:\n",
          f);
    for (size_t t = 0; t < TABLES_N; t++) {
        int col = 0; /* one service's commands, wrapped at 92 columns */
        for (const cli_cmd_t *cmd = s_tables[t]; cmd->words; cmd++) {
            if (cmd->flags & CLI_IN_SUMMARY)
                continue;
            int w = (int)strlen(cmd->words) + 4;
            if (col && col + 2 + w > 92) {
                fputc('\n', f);
                col = 0;
            }
            col += fprintf(f, "  %s ...", cmd->words);
        }
        if (col)
            fputc('\n', f);
    }
    fputs("\n" GLOBAL_HELP, f);
}

/* Matches argv words to a command; *used is how many words it took. */
static const cli_cmd_t *
s_cmd_find(int argc, char **argv, int *used)
{
    /* Two-word commands first, so that "signup cancel" wins over "signup". */
    for (int words = 2; words >= 1; words--) {
        if (argc < words)
            continue;
        char buf[64];
        if (words == 2)
            snprintf(buf, sizeof buf, "%s %s", argv[0], argv[1]);
        else
            snprintf(buf, sizeof buf, "%s", argv[0]);
        for (size_t t = 0; t < TABLES_N; t++)
            for (const cli_cmd_t *cmd = s_tables[t]; cmd->words; cmd++)
                if (strcmp(cmd->words, buf) == 0) {
                    *used = words;
                    return cmd;
                }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    kp_time_tz_init();
    if (sodium_init() < 0) {
        cli_err("libsodium failed to initialise");
        return EXIT_OTHER;
    }

    /* Skip leading global options to find the command words. */
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_optspec_t *o = NULL;
        for (const cli_optspec_t *g = s_global_opts; g->name; g++)
            if (strlen(g->name) == len && strncmp(g->name, name, len) == 0)
                o = g;
        if (!o)
            break; /* reported by the full parse below */
        i += o->has_arg && !eq ? 2 : 1;
    }
    if (i > argc)
        i = argc;
    int used = 0;
    const cli_cmd_t *cmd = s_cmd_find(argc - i, argv + i, &used);
    if (!cmd) {
        bool help = false;
        for (int j = 1; j < argc; j++)
            help = help || strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0 ||
                   (j == i && strcmp(argv[j], "help") == 0);
        if (help) {
            s_usage(stdout);
            return EXIT_OK_;
        }
        if (i < argc)
            cli_err("unknown command '%s%s%s'", argv[i], i + 1 < argc ? " " : "",
                    i + 1 < argc ? argv[i + 1] : "");
        s_usage(stderr);
        return EXIT_USAGE;
    }

    /* The global options before the command, then everything after it. */
    char **rest = kp_xmalloc(sizeof *rest * (size_t)argc);
    int rest_n = 0;
    for (int j = 1; j < i; j++)
        rest[rest_n++] = argv[j];
    for (int j = i + used; j < argc; j++)
        rest[rest_n++] = argv[j];
    cli_args_t a;
    cli_optspec_t set_specs[CLI_OPTS_MAX + 1];
    cli_set_specs(cmd, set_specs);
    const cli_optspec_t *const specs[] = {cmd->opts, set_specs, s_global_opts};
    int prc = cli_args_parse(&a, rest_n, rest, specs, 3);
    free(rest);
    if (prc != 0) {
        cli_err("%s: %s (see kumppani %s --help)", cmd->words, a.err, cmd->words);
        return EXIT_USAGE;
    }
    if (cli_flag(&a, "help")) {
        fputs(cmd->help, stdout);
        fputs("\n" GLOBAL_HELP, stdout);
        return EXIT_OK_;
    }
    cli_ctx_t c = {.a = &a, .cmd = cmd, .json = cli_flag(&a, "json"), .service = "events"};
    uint64_t timeout_ms = KPC_TIMEOUT_MS_DEFAULT, attempts = KPC_ATTEMPTS_DEFAULT;
    if (cli_num(&c, "timeout", false, 1, 600000, &timeout_ms) ||
        cli_num(&c, "attempts", false, 1, 100, &attempts))
        return EXIT_USAGE;
    c.timeout_ms = (int)timeout_ms;
    c.attempts = (int)attempts;
    return cli_run_row(&c);
}
