/*  cli_cmd.h: what a command of the `kumppani` client is, and the helpers every command uses.
 *
 *  Commands live in tables, one per service: the events commands in kumppani.c, and
 *  cmd_registry.c, cmd_broker.c and cmd_notifier.c for the other services. main() searches
 *  every table (two-word commands first). A command's run function returns an exit code.
 *
 *  Private to cli/; prefix cli_. */
#ifndef KP_CLI_CMD_H
#define KP_CLI_CMD_H

#include "cli.h"
#include "kumppani.h"

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    EXIT_OK_ = 0,
    EXIT_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_SERVICE = 4,
};

#define PAGE_EVENTS 500u
#define PAGE_SIGNUPS 1000u
#define PAGE_REPLAY 1000u

/* What every command gets: the parsed arguments and the global settings. */
typedef struct {
    const cli_args_t *a;
    bool json;
    int timeout_ms;
    int attempts;
    const char *endpoint; /* of the service connected to, for messages */
    const char *service;
} cli_ctx_t;

typedef struct {
    const char *words; /* "events create" */
    const cli_optspec_t *opts;
    const char *help;
    int (*run)(cli_ctx_t *c);
} cli_cmd_t;

#define GLOBAL_HELP                                                                                \
    "Global options:\n"                                                                            \
    "  --json            machine-readable output\n"                                                \
    "  --endpoint EP     the service's API endpoint (default: $KUMPPANI_<SERVICE>_API, e.g.\n"     \
    "                    KUMPPANI_EVENTS_API, else tcp://127.0.0.1:7201 for events)\n"             \
    "  --keys DIR        CURVE keys: DIR/cli.key and DIR/<service>.pub (default: "                 \
    "$KUMPPANI_KEYS,\n"                                                                            \
    "                    else $KUMPPANI_HOME/keys, else ./data/keys); plain TCP if missing\n"      \
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

/* One line on stderr: "kumppani: <message>". */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints root as indented JSON on stdout and frees it. Returns EXIT_OK_. */
int cli_json_print(json_t *root);

/* A Unix time as ISO 8601 with the Helsinki offset, or JSON null for 0. */
json_t *cli_json_time(int64_t t);

/* A JSON string (never NULL: "" for NULL). */
json_t *cli_json_str(const char *s);

/* Connects to the named service (see --endpoint, --keys). Returns EXIT_OK_ with *out, or an
 * exit code (reported). Caller frees *out with kpc_destroy. */
int cli_connect(cli_ctx_t *c, const char *service, kpc_t **out);

/* Maps a call's result to an exit code, reporting failures (3 unreachable, 4 error answer). */
int cli_outcome(cli_ctx_t *c, int rc, const kpc_status_t *st);

/* Calls method on service with req (may be NULL for an empty body) and unpacks a CODE_OK reply
 * body as out_desc into *out (caller frees with protobuf_c_message_free_unpacked(*out, NULL)).
 * idem may be NULL. Returns an exit code (failures reported). */
int cli_call(cli_ctx_t *c, const char *service, const char *method, const char *idem,
             const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
             ProtobufCMessage **out);

/* Parses a numeric option in [min, max]; absent and not required leaves *out. Returns 0 or -1
 * (reported). */
int cli_num(cli_ctx_t *c, const char *name, bool required, uint64_t min, uint64_t max,
            uint64_t *out);

/* The one positional ID of a command. Returns 0 or -1 (reported). */
int cli_pos_id(cli_ctx_t *c, uint64_t *id);

/* Refuses positional arguments. Returns 0 or -1 (reported). */
int cli_no_pos(cli_ctx_t *c);

/* kumppani.c: events and sign-ups as JSON objects (caller owns) and as readable text. */
json_t *cli_event_json(const Kumppani__V1__EventInfo *e);
json_t *cli_signup_json(const Kumppani__V1__Signup *s);
void cli_event_print(const Kumppani__V1__EventInfo *e);
void cli_signup_print(const Kumppani__V1__Signup *s);
void cli_event_row_header(void);
void cli_event_row(const Kumppani__V1__EventInfo *e);

/* cmd_events.c: parses --role-rules "ROLE:max=N,ROLE:pct=P,ROLE:reserve=R" into malloc'd rules
 * (free with cli_role_rules_free). Returns 0 or -1 (reported). */
int cli_role_rules_parse(const char *spec, Kumppani__V1__RoleRule ***out, size_t *n);
void cli_role_rules_free(Kumppani__V1__RoleRule **v, size_t n);

#endif
