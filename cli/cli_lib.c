/*  cli_lib.c: names, numbers, arguments and services for the kumppani CLI (cli.h).
 *
 *  Nothing here does I/O, so all of it is unit-tested (tests/unit/cli). Helsinki time is not
 *  here: the CLI uses the suite's one calendar, common/kp_time.h. */
#include "cli.h"
#include "kp_text.h"
#include "kumppani/v1/events.pb-c.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- enum names ------------------------------------------------------------------------- */

const char *
cli_enum_name(const ProtobufCEnumDescriptor *d, const char *prefix, int v, char *buf)
{
    if (v == 0) {
        snprintf(buf, CLI_NAME_MAX, "unspecified");
        return buf;
    }
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    size_t pl = strlen(prefix);
    if (!ev || strncmp(ev->name, prefix, pl) != 0) {
        snprintf(buf, CLI_NAME_MAX, "unknown-%d", v);
        return buf;
    }
    size_t i = 0;
    for (const char *p = ev->name + pl; *p && i + 1 < CLI_NAME_MAX; p++)
        buf[i++] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    buf[i] = '\0';
    return buf;
}

const char *
cli_enum_short(const ProtobufCEnumDescriptor *d, const char *prefix, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return "unknown";
    size_t pl = strlen(prefix);
    return strncmp(ev->name, prefix, pl) == 0 ? ev->name + pl : ev->name;
}

int
cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *prefix, const char *name, int *out)
{
    char buf[CLI_NAME_MAX];
    if (!name)
        return -1;
    for (unsigned i = 0; i < d->n_values; i++) {
        int v = d->values[i].value;
        if (v != 0 && strcmp(cli_enum_name(d, prefix, v, buf), name) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Builds "a, b, c" of the enum's names (without unspecified) into buf once. */
static const char *
s_enum_list(const ProtobufCEnumDescriptor *d, const char *prefix, char *buf, size_t len)
{
    if (buf[0])
        return buf;
    size_t n = 0;
    char name[CLI_NAME_MAX];
    for (unsigned i = 0; i < d->n_values && n < len; i++) {
        if (d->values[i].value == 0)
            continue;
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
                              cli_enum_name(d, prefix, d->values[i].value, name));
    }
    return buf;
}

/* cli_kind_name and its kin: the readable name of one enum's value (cli_enum_name). */
#define CLI_ENUM_NAMER(fn, type, prefix)                                                           \
    const char *fn(int v, char *buf)                                                               \
    {                                                                                              \
        return cli_enum_name(&kumppani__v1__##type##__descriptor, prefix, v, buf);                 \
    }

CLI_ENUM_NAMER(cli_kind_name, event_kind, "KIND_")
CLI_ENUM_NAMER(cli_role_name, participant_role, "ROLE_")
CLI_ENUM_NAMER(cli_event_state_name, event_state, "EVENT_STATE_")
CLI_ENUM_NAMER(cli_signup_state_name, signup_state, "SIGNUP_STATE_")

int
cli_kind_parse(const char *name, int *out)
{
    return cli_enum_parse(&kumppani__v1__event_kind__descriptor, "KIND_", name, out);
}

int
cli_role_parse(const char *name, int *out)
{
    return cli_enum_parse(&kumppani__v1__participant_role__descriptor, "ROLE_", name, out);
}

const char *
cli_kind_list(void)
{
    static char buf[512];
    return s_enum_list(&kumppani__v1__event_kind__descriptor, "KIND_", buf, sizeof buf);
}

const char *
cli_role_list(void)
{
    static char buf[512];
    return s_enum_list(&kumppani__v1__participant_role__descriptor, "ROLE_", buf, sizeof buf);
}

/* ---- numbers ---------------------------------------------------------------------------- */

int
cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1; /* strtoull would accept spaces, signs and "-1" */
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* ---- arguments -------------------------------------------------------------------------- */

static const cli_optspec_t *
s_spec_find(const cli_optspec_t *const *specs, int specs_n, const char *name, size_t len)
{
    for (int i = 0; i < specs_n; i++)
        for (const cli_optspec_t *o = specs[i]; o && o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

int
cli_args_parse(cli_args_t *a, int argc, char **argv, const cli_optspec_t *const *specs, int specs_n)
{
    memset(a, 0, sizeof *a);
    bool opts_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (opts_done || strncmp(arg, "--", 2) != 0 || (arg[0] == '-' && arg[1] == '\0')) {
            if (a->pos_n == CLI_POS_MAX) {
                snprintf(a->err, sizeof a->err, "too many arguments");
                return -1;
            }
            a->pos[a->pos_n++] = arg;
            continue;
        }
        if (arg[2] == '\0') {
            opts_done = true;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_optspec_t *o = s_spec_find(specs, specs_n, name, len);
        if (!o) {
            snprintf(a->err, sizeof a->err, "unknown option --%.*s", (int)len, name);
            return -1;
        }
        const char *value = "";
        if (o->has_arg) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                snprintf(a->err, sizeof a->err, "option --%s needs a value", o->name);
                return -1;
            }
        } else if (eq) {
            snprintf(a->err, sizeof a->err, "option --%s takes no value", o->name);
            return -1;
        }
        if (a->opts_n == CLI_OPTS_MAX) {
            snprintf(a->err, sizeof a->err, "too many options");
            return -1;
        }
        a->opts[a->opts_n].name = o->name;
        a->opts[a->opts_n].value = value;
        a->opts_n++;
    }
    return 0;
}

const char *
cli_arg(const cli_args_t *a, const char *name)
{
    for (int i = a->opts_n - 1; i >= 0; i--)
        if (strcmp(a->opts[i].name, name) == 0)
            return a->opts[i].value;
    return NULL;
}

bool
cli_flag(const cli_args_t *a, const char *name)
{
    return cli_arg(a, name) != NULL;
}

/* ---- services --------------------------------------------------------------------------- */

/* New services slot in here by name (DESIGN "The services"). */
static const cli_service_t s_services[] = {
    {"registry", "KUMPPANI_REGISTRY_API", "tcp://127.0.0.1:7101"},
    {"events", "KUMPPANI_EVENTS_API", "tcp://127.0.0.1:7201"},
    {"expert-broker", "KUMPPANI_EXPERT_BROKER_API", "tcp://127.0.0.1:7301"},
    {"notifier", "KUMPPANI_NOTIFIER_API", "tcp://127.0.0.1:7401"},
    {"web", "KUMPPANI_WEB_API", "tcp://127.0.0.1:7501"},
};

const cli_service_t *
cli_service_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof s_services / sizeof s_services[0]; i++)
        if (strcmp(s_services[i].name, name) == 0)
            return &s_services[i];
    return NULL;
}

const char *
cli_service_list(void)
{
    return "registry, events, expert-broker, notifier, web";
}

const char *
cli_service_endpoint(const cli_service_t *svc, const char *override)
{
    if (override)
        return override;
    const char *env = getenv(svc->env);
    return env && *env ? env : svc->endpoint;
}

int
cli_keys_dir(const char *override, char *out, size_t len)
{
    const char *env = getenv("KUMPPANI_KEYS");
    const char *home = getenv("KUMPPANI_HOME");
    int n;
    if (override)
        n = snprintf(out, len, "%s", override);
    else if (env && *env)
        n = snprintf(out, len, "%s", env);
    else
        n = snprintf(out, len, "%s/keys", home && *home ? home : "./data");
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
cli_col(const char *s, int width)
{
    return width + (int)(strlen(s) - kp_text_chars(s));
}
