/*  cli.h: the parts of the `kumppani` command-line client that have no I/O, shared between
 *  the program and its unit tests (static library kp_cli_lib): enum names, argument parsing,
 *  numbers, and the table of services. Times go through common/kp_time.h.
 *
 *  Private to cli/; prefix cli_. */
#ifndef KP_CLI_H
#define KP_CLI_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A buffer for any time kp_time_format or kp_time_iso writes (kp_time.h: the one Helsinki
 * calendar of the suite, which the CLI uses to show and read times). */
#define CLI_TIME_MAX 40

/* ---- enum names -------------------------------------------------------------------------
 *
 * Readable names are the proto enum value names without their prefix, lower-cased, with '_'
 * as '-': KIND_PARTNERSHIP_TABLE is "partnership-table", ROLE_CIVIL_SERVANT "civil-servant".
 * Deriving them from the descriptors keeps the CLI in step with the schema. */

#define CLI_NAME_MAX 48

/* The readable name of value v of any enum whose value names start with prefix, into buf
 * (CLI_NAME_MAX bytes); "unspecified" for 0 and "unknown-N" for a value the schema lacks.
 * Returns buf. */
const char *cli_enum_name(const ProtobufCEnumDescriptor *d, const char *prefix, int v, char *buf);

/* The value name of v without prefix ("REMINDER" for MESSAGE_KIND_REMINDER), the whole value
 * name if it lacks the prefix, or "unknown" for a value the schema lacks. Static (the
 * descriptor's own string). */
const char *cli_enum_short(const ProtobufCEnumDescriptor *d, const char *prefix, int v);

/* Parses the readable name (not "unspecified") of a value of any enum whose value names start
 * with prefix into *out; NULL or an unknown name leaves *out. Returns 0 or -1. */
int cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *prefix, const char *name,
                   int *out);

/* The readable name of an EventKind, ParticipantRole, EventState, SignupState value into buf
 * (CLI_NAME_MAX bytes); "unspecified" for 0 and "unknown-N" for a value the schema lacks.
 * Returns buf. */
const char *cli_kind_name(int v, char *buf);
const char *cli_role_name(int v, char *buf);
const char *cli_event_state_name(int v, char *buf);
const char *cli_signup_state_name(int v, char *buf);

/* Parses a readable name (not "unspecified") into *out. Returns 0 or -1. */
int cli_kind_parse(const char *name, int *out);
int cli_role_parse(const char *name, int *out);

/* The readable names, comma-separated, for help texts and error messages (static). */
const char *cli_kind_list(void);
const char *cli_role_list(void);

/* ---- numbers ---------------------------------------------------------------------------- */

/* Parses a decimal number in [min, max] with nothing else around it. Returns 0 or -1. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- table columns ----------------------------------------------------------------------
 *
 * printf pads "%-20s" by bytes, so a name with ä or ö (two bytes, one column) would end its
 * column early. A column of text is printed as "%-*s" with cli_col(s, 20): the byte width
 * that makes s take 20 columns on the terminal (it counts characters, kp_text_chars). */

/* The printf width for s in a left-aligned column of width columns (at least width). */
int cli_col(const char *s, int width);

/* ---- arguments --------------------------------------------------------------------------
 *
 * Options are "--name value", "--name=value" or, for flags, "--name". "--" ends options.
 * Everything else is positional, in order. */

#define CLI_OPTS_MAX 32
#define CLI_POS_MAX 8

typedef struct {
    const char *name; /* without "--" */
    bool has_arg;
} cli_optspec_t;

typedef struct {
    struct {
        const char *name;  /* points into the spec */
        const char *value; /* points into argv, or "" for a flag */
    } opts[CLI_OPTS_MAX];
    int opts_n;
    const char *pos[CLI_POS_MAX];
    int pos_n;
    char err[128]; /* why parsing failed */
} cli_args_t;

/* Parses argv[0..argc) against specs, an array of specs_n NULL-terminated spec lists (e.g.
 * the command's and the global options). Returns 0, or -1 with a reason in a->err: an
 * unknown option, a missing value, a value given to a flag, or too many arguments. The
 * results borrow argv and the specs. */
int cli_args_parse(cli_args_t *a, int argc, char **argv, const cli_optspec_t *const *specs,
                   int specs_n);

/* The value of the last --name given, or NULL. */
const char *cli_arg(const cli_args_t *a, const char *name);

/* True if --name was given. */
bool cli_flag(const cli_args_t *a, const char *name);

/* ---- services --------------------------------------------------------------------------- */

typedef struct {
    const char *name;     /* "events"; also the stem of its public key file */
    const char *env;      /* the environment variable that overrides the endpoint */
    const char *endpoint; /* the default API endpoint */
} cli_service_t;

/* The service of that name, or NULL. */
const cli_service_t *cli_service_find(const char *name);

/* The service names, comma-separated (static). */
const char *cli_service_list(void);

/* The API endpoint of svc: override if not NULL, else $<svc->env> if set and not empty, else
 * the default. Borrowed: valid while override and the environment are unchanged. */
const char *cli_service_endpoint(const cli_service_t *svc, const char *override);

/* The keys directory into out: override if not NULL, else $KUMPPANI_KEYS, else
 * $KUMPPANI_HOME/keys, else "./data/keys". Returns 0, or -1 if it does not fit. */
int cli_keys_dir(const char *override, char *out, size_t len);

#endif
