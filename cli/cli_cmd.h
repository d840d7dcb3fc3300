/*  cli_cmd.h: what a command of the `kumppani` client is: a row of data, and the one runner
 *  that executes a row.
 *
 *  Design. Almost every command is one method call: a row names the service, the method, the
 *  request and reply descriptors, the request field that takes a positional ID, the options
 *  copied into request fields (.set, by each field's type: string, number in a range, Helsinki
 *  time, flag), a fill function for the rest (options -> request), a print function
 *  (reply -> table or text) and flags for the shared steps: an idempotency key, paging.
 *  cli_run_row does everything else the same way for every row: check the positional
 *  arguments, fill, make the key, connect, call, decode, print and free. --json goes through the
 * one descriptor walker (cli_json_view): every field under its .proto name, or, where the row names
 * a view (cli_jview_t), the fields, keys and conversions of that view (the events and notifier JSON
 * that scripts read since the first release uses readable names and Helsinki times, not the .proto
 * names). A command that is not one call (keygen, CSV import, status of the whole suite) has a run
 *  function instead of a method.
 *
 *  Tables: cmd_events.c, cmd_registry.c, cmd_broker.c, cmd_notifier.c, cmd_web.c hold each
 *  service's rows; cmd_suite.c the commands about the suite or any service (keygen, health,
 *  log replay, status, metrics, privacy erase and export). kumppani.c holds main and the
 *  table of tables.
 *
 *  Ownership. Everything a command allocates (option lists, decoded replies) comes from c->arena,
 *  which the runner frees when the command ends; fill and print functions never free.
 *
 *  Private to cli/; prefix cli_. */
#ifndef KP_CLI_CMD_H
#define KP_CLI_CMD_H

#include "cli.h"
#include "kp_arena.h"
#include "kumppani.h"

#include <assert.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    EXIT_OK_ = 0,
    EXIT_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_SERVICE = 4,
};

typedef struct cli_cmd cli_cmd_t;

/* What every command gets: the parsed arguments, the global settings and its working state. */
typedef struct {
    const cli_args_t *a;
    bool json;
    int timeout_ms;
    int attempts;
    const char *endpoint; /* of the service connected to, for messages */
    const char *service;
    bool plain; /* connected without CURVE keys though none was asked ("--keys none") */
    const cli_cmd_t *cmd;
    kp_arena_t *arena; /* the command's allocations; freed by the runner */
    kpc_t *kc;         /* the connection of a row (runner-owned) */
    /* Paged rows (CLI_PAGED). */
    uint64_t left; /* rows still wanted: --limit, or UINT64_MAX for all (set by fill) */
    bool first;    /* the reply being handled is the first page */
    json_t *out;   /* --json: what the pages collected; printed once at the end */
    FILE *file;    /* an output file a fill opened (closed by the runner) */
} cli_ctx_t;

/* A JSON view of a message: an array of entries ended by key NULL, each naming a field of
 * the message (field NULL: the same as key) and how to show it. The walker (cli_json_view)
 * asserts that each field exists: a view that names a missing field is a bug. */
enum {
    CLI_J_PLAIN = 0, /* as the walker shows it (numbers, strings, enum value names, ...) */
    CLI_J_TIME_S,    /* Unix seconds: Helsinki ISO 8601, or null for 0 */
    CLI_J_TIME_MS,   /* Unix milliseconds: the same, to the second */
    CLI_J_ISO_MS,    /* Unix milliseconds: Helsinki ISO 8601 (also for 0) */
    CLI_J_NAME,      /* enum: the readable name (cli_enum_name with prefix) */
    CLI_J_SHORT,     /* enum: the value name without prefix ("REMINDER"), "unknown" if none */
    CLI_J_LEN,       /* bytes: their length */
    CLI_J_HOW = 0xff,
    CLI_J_OMIT_ZERO = 1 << 8,  /* leave the key out for 0, "", an unset message */
    CLI_J_ZERO_EMPTY = 1 << 9, /* CLI_J_NAME: "" for 0 */
};

typedef struct cli_jview cli_jview_t;
struct cli_jview {
    const char *key;
    const char *field;
    unsigned how;
    const char *prefix;     /* CLI_J_NAME, CLI_J_SHORT */
    const cli_jview_t *sub; /* a message field (or each element of a repeated one) */
};

/* The view "every field under its .proto name, times in Helsinki": as a NULL view, but an
 * int64 field whose name ends in _ms is shown as CLI_J_TIME_MS and one ending in _unix as
 * CLI_J_TIME_S, at any depth (the registry's rows, whose .proto has no views of its own). */
extern const cli_jview_t cli_jview_times[];

/* Row flags. */
enum {
    CLI_POSITIONAL_ANY = 1 << 1, /* fill or run reads the positional arguments itself (else
                                    a row without an id_field refuses them) */
    CLI_IDEM_KEY = 1 << 2,       /* send --idempotency-key (or --key) K, or a random key */
    CLI_PAGED = 1 << 3,          /* call again while page() asks for more */
    CLI_SERVICE_OPT = 1 << 4,    /* the service is --service NAME (default events); the row's
                                    service is NULL */
    CLI_IN_SUMMARY = 1 << 5,     /* named in the usage summary; not listed again */
};

/* An option copied into a field of the request, by the field's type: a string (def when absent,
 * "" for def NULL), a number in [min, max] (uint32 or uint64; def as decimal text when absent,
 * else the field is left as it is), a Helsinki time "YYYY-MM-DD HH:MM"
 * (int64 Unix seconds) or a flag (bool). A row lists these in the order they are checked; the
 * runner asserts that each field exists and has one of those types. Each is also the option's
 * entry for the parser (cli_set_specs), so the row does not name it again in .opts. */
typedef struct {
    const char *opt;   /* --opt */
    const char *field; /* the request's field (NULL: the same as opt) */
    bool required;
    uint64_t min, max; /* numbers */
    const char *def;   /* the value when absent (see above) */
} cli_optfield_t;

/* Fills the request from the options. Returns 0, -1 for a usage error (reported), or an exit
 * code (reported). */
typedef int (*cli_fill_fn)(cli_ctx_t *c, ProtobufCMessage *req);

/* Prints the reply (or the field the row unwraps) as text. Returns an exit code. */
typedef int (*cli_print_fn)(cli_ctx_t *c, const ProtobufCMessage *reply);

/* The reply (or the field the row unwraps) as JSON for --json (caller owns), or NULL when it
 * cannot (reported). */
typedef json_t *(*cli_json_fn)(cli_ctx_t *c, const ProtobufCMessage *reply);

/* A column of a table's header: its title, left-aligned in width characters (0: as it is). An
 * array of them ends with title NULL. */
typedef struct {
    const char *title;
    int width;
} cli_col_t;

/* Prints one message as text: one line of a table, or a message that has a fixed text. */
typedef void (*cli_line_fn)(const ProtobufCMessage *m);

/* Handles one page (text rows, or collects into c->out; a row with .rows: cli_page_rows) and
 * moves req to the next page. Returns 1 for another call, 0 when done. */
typedef int (*cli_page_fn)(cli_ctx_t *c, ProtobufCMessage *req, const ProtobufCMessage *reply);

struct cli_cmd {
    const char *words;         /* "events create" */
    const cli_optspec_t *opts; /* the options besides those of .set (NULL: none) */
    const char *help;
    unsigned flags;
    /* A method call. */
    const char *service;
    const char *method;
    const ProtobufCMessageDescriptor *in, *out;
    const char *id_field;      /* the uint64 field of the request that takes the one positional
                                  argument, a positive ID (NULL: no such argument) */
    const char *id_noun;       /* what the ID names, for messages ("organisation"); NULL: the
                                  id_field without "_id" (request_id: "request") */
    const cli_optfield_t *set; /* options copied into the request (ended by opt NULL), before
                                  fill */
    cli_fill_fn fill;          /* NULL: the request is the ID alone, the set options, or empty */
    const char *unwrap;        /* a message field of the reply that must be set: print and --json
                                  show it rather than the reply */
    const char *noun; /* what unwrap holds, for the message when it is missing: "an event" */
    cli_print_fn print;
    /* Text as lines: the caption (if any), the header's columns (if any), then line() for
     * each element of the message field rows of the reply (a repeated one, or a single one
     * when set), or for the reply itself when rows is NULL; print only where the text needs
     * the command or decides the exit code. A paged row shows each page's elements so, and
     * with --json collects them through view. */
    const char *rows;
    const cli_col_t *header;
    cli_line_fn line;
    cli_line_fn caption;
    const cli_jview_t *view; /* --json: the view of the reply (NULL: every field) */
    const char *items;       /* --json: this repeated message field of the reply as an array,
                                each element through view, rather than the reply */
    cli_json_fn json;        /* --json computed rather than viewed (instead of view) */
    cli_page_fn page;        /* CLI_PAGED: instead of print and json */
    /* Not one method call: the whole command. */
    int (*run)(cli_ctx_t *c);
};

#define CLI_IN(t) .in = &kumppani__v1__##t##__descriptor
#define CLI_OUT(t) .out = &kumppani__v1__##t##__descriptor
/* The method a row calls: its service and name, its request and reply types. */
#define CLI_CALL(svc, m, in_t, out_t) .service = (svc), .method = (m), CLI_IN(in_t), CLI_OUT(out_t)

/* The text of a row as lines (rows, header, line): fn for each element of the reply's field,
 * under the columns cols (NULL: no header). */
#define CLI_LINES(field, cols, fn) .rows = (field), .header = (cols), .line = (fn)

#define GLOBAL_HELP                                                                                \
    "Global options:\n"                                                                            \
    "  --json            machine-readable output\n"                                                \
    "  --endpoint EP     the service's API endpoint (default: $KUMPPANI_<SERVICE>_API, e.g.\n"     \
    "                    KUMPPANI_EVENTS_API, else tcp://127.0.0.1:7201 for events)\n"             \
    "  --keys DIR        CURVE keys: DIR/cli.key and DIR/<service>.pub (default: "                 \
    "$KUMPPANI_KEYS,\n"                                                                            \
    "                    else $KUMPPANI_HOME/keys, else ./data/keys); \"none\": plain TCP;\n"      \
    "                    keys asked for but missing are an error (exit 2)\n"                       \
    "  --key-name NAME   use DIR/NAME.key instead of DIR/cli.key\n"                                \
    "  --service-key F   the service's public key file instead of DIR/<service>.pub\n"             \
    "  --timeout MS      wait per attempt (default 3000)\n"                                        \
    "  --attempts N      attempts before giving up (default 3)\n"                                  \
    "\n"                                                                                           \
    "Exit codes: 0 ok, 1 other failure, 2 usage error, 3 service unreachable (no reply after\n"    \
    "all attempts), 4 the service answered with an error.\n"

/* One table of commands, ended by an entry whose words are NULL. */
extern const cli_cmd_t cli_cmds_events[];
extern const cli_cmd_t cli_cmds_registry[];
extern const cli_cmd_t cli_cmds_broker[];
extern const cli_cmd_t cli_cmds_notifier[];
extern const cli_cmd_t cli_cmds_suite[];
extern const cli_cmd_t cli_cmds_web[];

/* ---- the runner (cli_run.c) -------------------------------------------------------------- */

/* Runs c->cmd: its run function, or the row as described above. Returns an exit code. */
int cli_run_row(cli_ctx_t *c);

/* The name of the ID of a row with an id_field, for messages, into buf (len bytes): the row's
 * id_noun, else id_field without its "_id" ('_' read as a space), followed by " ID":
 * "request ID", "organisation ID". Asserts that the field exists and that a field named
 * plainly "id" comes with an id_noun (a row's bug). Returns buf. */
const char *cli_id_name(const cli_cmd_t *cmd, char *buf, size_t len);

/* The parser entries of the row's .set options into out (CLI_OPTS_MAX + 1 entries, ended by
 * name NULL): a flag for a bool field, an option with a value for the others. A row lists in
 * .opts only the options its fill, run or idempotency key read; the parser takes both lists. */
void cli_set_specs(const cli_cmd_t *cmd, cli_optspec_t *out);

/* Copies the options of set (ended by opt NULL) into the fields of req, in that order: the
 * runner does so for a row's .set, a fill for a message inside its request. Returns 0 or -1
 * (reported). */
int cli_set_fields(cli_ctx_t *c, ProtobufCMessage *req, const cli_optfield_t *set);

/* Connects to the named service (see --endpoint, --keys). Returns EXIT_OK_ with *out, or an
 * exit code (reported). Caller frees *out with kpc_destroy. */
int cli_connect(cli_ctx_t *c, const char *service, kpc_t **out);

/* Maps a call's result to an exit code, reporting failures (3 unreachable, 4 error answer). */
int cli_outcome(cli_ctx_t *c, int rc, const kpc_status_t *st);

/* One call for a command that makes several: connects to service, calls method with req (NULL:
 * an empty body) and decodes a CODE_OK reply as out_desc into *out (in c->arena). idem may be
 * NULL. Returns an exit code (failures reported). */
int cli_call(cli_ctx_t *c, const char *service, const char *method, const char *idem,
             const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
             ProtobufCMessage **out);

/* cli_call without an idempotency key for a question that "nothing here" answers: a NOT_FOUND
 * answer is EXIT_OK_ with *out NULL (not reported); any other error is reported as by cli_call.
 * (The privacy commands: a service that holds nothing of a person answers NOT_FOUND.) */
int cli_call_or_none(cli_ctx_t *c, const char *service, const char *method,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
                     ProtobufCMessage **out);

/* ---- options ----------------------------------------------------------------------------- */

/* Refuses positional arguments (a command that takes none). Returns 0 or -1 (reported). */
int cli_no_pos(cli_ctx_t *c);

/* One line on stderr: "kumppani: <message>". */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a numeric option in [min, max]; absent and not required leaves *out. Returns 0 or -1
 * (reported). */
int cli_num(cli_ctx_t *c, const char *name, bool required, uint64_t min, uint64_t max,
            uint64_t *out);

/* cli_num for a uint32_t field (max at most UINT32_MAX). */
int cli_num32(cli_ctx_t *c, const char *name, bool required, uint32_t min, uint32_t max,
              uint32_t *out);

/* Parses a Helsinki time option ("YYYY-MM-DD HH:MM"); absent and not required leaves *out.
 * Returns 0 or -1 (reported). */
int cli_time_opt(cli_ctx_t *c, const char *name, bool required, int64_t *out);

/* The value of --name, or def when absent (a request's string fields must not be NULL). */
char *cli_str(cli_ctx_t *c, const char *name, const char *def);

/* Splits v at sep into its non-empty items (in c->arena); NULL with *n = 0 for NULL or "". */
char **cli_split(cli_ctx_t *c, const char *v, char sep, size_t *n);

/* c->arena allocations that never fail (the arena is unbounded for the CLI). */
void *cli_alloc(cli_ctx_t *c, size_t n);

/* An option of an update command and the name of the field it changes in the update's field
 * mask. An array of them ends with opt NULL. */
typedef struct {
    const char *opt;
    const char *field;
} cli_mask_t;

/* The field mask of an update: the field of each option of map that was given, in map's order
 * and each field once (two options may change one field), into *fields (in c->arena) and *n.
 * With none of them given and none not NULL, reports none and returns -1; else returns 0. */
int cli_field_mask(cli_ctx_t *c, const cli_mask_t *map, char ***fields, size_t *n,
                   const char *none);

/* ---- paged rows (CLI_PAGED) --------------------------------------------------------------- */

/* For a fill: reads --limit N (1..max; absent: every page) into c->left and sets *first to the
 * size of the first page (at most page_max). Returns 0 or -1 (reported). */
int cli_page_limit(cli_ctx_t *c, uint64_t max, uint32_t page_max, uint32_t *first);

/* For a page function: the size of the next page, what --limit leaves, at most page_max. */
uint32_t cli_page_size(const cli_ctx_t *c, uint32_t page_max);

/* For the page function of a row with .rows: hands over the elements of that field of the
 * reply while --limit leaves rows (counting c->left down): with --json each is added to c->out
 * through the row's view, otherwise printed by its line. Returns the last one handed over (for
 * the next page's cursor), or NULL for none. */
const ProtobufCMessage *cli_page_rows(cli_ctx_t *c, const ProtobufCMessage *reply);

/* ---- output ------------------------------------------------------------------------------ */

/* Prints a table's header on stdout: the titles of cols, each in its width, one space apart. */
void cli_header(const cli_col_t *cols);

/* Prints root as indented JSON on stdout and frees it. Returns EXIT_OK_. */
int cli_json_print(json_t *root);

/* The one descriptor walker: message m as JSON through view, or with view NULL every field
 * under its .proto name (enum values by name). Caller owns. */
json_t *cli_json_view(const ProtobufCMessage *m, const cli_jview_t *view);

/* A Unix time as ISO 8601 with the Helsinki offset, or JSON null for 0. */
json_t *cli_json_time(int64_t t);

/* A JSON string (never NULL: "" for NULL). */
json_t *cli_json_str(const char *s);

#endif
