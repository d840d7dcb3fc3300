/*  bench_signup_args: the options of kp-bench-signup: the --help text, the parsing of the flags
 *  ("--name value" or "--name=value", numeric ones from one table of ranges) and --best-case,
 *  the run of before. The defaults are the realistic run (see the top of bench_signup.c). */
#include "bench_signup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: kp-bench-signup [options]\n"
        "\n"
        "Measures events.signup.submit of the real events service on loopback as real\n"
        "publishers load it: acknowledged sign-ups per second, ack latency (p50, p99, max),\n"
        "sign-ups per LMDB commit, the service's CPU and RSS, the store size, the time from a\n"
        "restart to the first acknowledgement, and (--catch-up on) the notifier's catch-up.\n"
        "Use the release build. Exit status 0 only if every reply was CODE_OK.\n"
        "\n"
        "  --best-case       the ordered run: counter ids and e-mails, 1 event, plain TCP, empty\n"
        "                    store, 1 process with 4 DEALERs, no restart (flags after it count)\n"
        "  --prefill N       sign-ups in the store before the timed phase (default 1000000)\n"
        "  --events N        events the sign-ups are spread over (default 100, at most %d)\n"
        "  --procs N         publisher processes (default 4, at most %d)\n"
        "  --clients N       DEALER sockets per process (default 1, at most %d)\n"
        "  --window W        requests in flight per DEALER (default 64)\n"
        "  --count N         sign-ups in the timed phase (default 200000)\n"
        "  --seconds S       stop sending after S seconds (default 30)\n"
        "  --random on|off   UUIDv4 external ids and random e-mails (default on)\n"
        "  --curve on|off    CURVE with an allow-list, as deployed (default on)\n"
        "  --restart on|off  time a restart on the store to the first ack (default on)\n"
        "  --catch-up on|off time the notifier replaying the log from zero (default off)\n"
        "  --catch-up-seconds S  give the notifier at most S seconds (default 600)\n"
        "  --data-dir DIR    work directory to keep and reuse (store/, keys/, bench-state):\n"
        "                    a store prefilled once serves later runs\n"
        "  --service PATH    events binary (default %s)\n"
        "  --notifier PATH   notifier binary (default %s)\n"
        "  --api-port P      ROUTER port on 127.0.0.1 (default 17201; the notifier's are P+2, "
        "P+3)\n"
        "  --pub-port P      PUB port on 127.0.0.1 (default 17202)\n"
        "  --tmp-dir DIR     parent of the temporary work directory (default $TMPDIR or /tmp;\n"
        "                    must be a real disk, not tmpfs, for the figures to mean anything)\n"
        "  --batch-max N     pass --batch-max N to the service (default: its own default)\n"
        "  --map-size-mb N   pass --map-size-mb N (default: the service's, or %u above %llu\n"
        "                    sign-ups)\n"
        "  --keep            keep the work directory\n"
        "  --progress        print the acknowledged rate every second\n"
        "  --help            this text\n"
        "\n"
        "The last line of output is machine-readable (a figure not measured is -1):\n"
        "  RESULT mode=.. procs=.. clients=.. window=.. events=.. curve=.. stored=.. acked=..\n"
        "         failed=.. elapsed_s=.. signups_per_s=.. p50_ms=.. p99_ms=.. max_ms=..\n"
        "         per_commit=.. svc_cpu_pct=.. svc_us_per_signup=.. bench_us_per_signup=..\n"
        "         rss_kb=.. anon_kb=.. store_bytes=.. prefill_s=.. first_ack_ms=.. "
        "catchup_eps=..\n",
        KP_BENCH_MAX_EVENTS, KP_BENCH_MAX_PROCS, KP_BENCH_MAX_CLIENTS, KP_BENCH_DEFAULT_SERVICE,
        KP_BENCH_DEFAULT_NOTIFIER, KP_BENCH_BIG_MAP_MB, (unsigned long long)KP_BENCH_BIG_STORE);
}

/* Parses a decimal in [min, max]; returns false (and says why) otherwise. */
static bool
s_parse_u64(const char *flag, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
        fprintf(stderr, "kp-bench-signup: %s must be a number in %" PRIu64 "..%" PRIu64 "\n", flag,
                min, max);
        return false;
    }
    *out = n;
    return true;
}

static bool
s_parse_onoff(const char *flag, const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        *out = strcmp(v, "on") == 0;
        return true;
    }
    fprintf(stderr, "kp-bench-signup: %s must be on or off\n", flag);
    return false;
}

/* The run of before (issue 15 keeps it for comparison). */
static void
s_best_case(bench_opts_t *o)
{
    o->best_case = true;
    o->random = o->curve = o->restart = false;
    o->prefill = 0;
    o->events = 1;
    o->procs = 1;
    o->clients = 4;
}

/* The numeric flags: name, range, and the field the value goes to (a uint64_t if wide, else an
 * unsigned). */
static const struct {
    const char *name;
    uint64_t min, max;
    size_t at;
    bool wide;
} s_num_flags[] = {
    {"--catch-up-seconds", 1, 86400, offsetof(bench_opts_t, catchup_s), false},
    {"--prefill", 0, KP_BENCH_MAX_PREFILL, offsetof(bench_opts_t, prefill), true},
    {"--events", 1, KP_BENCH_MAX_EVENTS, offsetof(bench_opts_t, events), false},
    {"--procs", 1, KP_BENCH_MAX_PROCS, offsetof(bench_opts_t, procs), false},
    {"--clients", 1, KP_BENCH_MAX_CLIENTS, offsetof(bench_opts_t, clients), false},
    {"--window", 1, KP_BENCH_MAX_WINDOW, offsetof(bench_opts_t, window), false},
    {"--count", 1, KP_BENCH_MAX_COUNT, offsetof(bench_opts_t, count), true},
    {"--seconds", 1, 86400, offsetof(bench_opts_t, seconds), false},
    {"--api-port", 1, 65532, offsetof(bench_opts_t, api_port), false},
    {"--pub-port", 1, 65535, offsetof(bench_opts_t, pub_port), false},
    {"--batch-max", 1, 1000000, offsetof(bench_opts_t, batch_max), false},
    {"--map-size-mb", 1, 1u << 24, offsetof(bench_opts_t, map_mb), false},
};

/* Parses the value of the numeric flag name into o. Returns 1, 0 for a bad value (reported),
 * or -1 when name is not a numeric flag. */
static int
s_num_flag(bench_opts_t *o, const char *name, const char *v)
{
    for (size_t i = 0; i < sizeof s_num_flags / sizeof s_num_flags[0]; i++) {
        if (strcmp(name, s_num_flags[i].name) != 0)
            continue;
        uint64_t n = 0;
        bool good = s_parse_u64(name, v, s_num_flags[i].min, s_num_flags[i].max, &n);
        char *field = (char *)o + s_num_flags[i].at;
        if (s_num_flags[i].wide)
            *(uint64_t *)(void *)field = n;
        else
            *(unsigned *)(void *)field = (unsigned)n;
        return good;
    }
    return -1;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
int
bench_parse_args(bench_opts_t *o, int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    *o = (bench_opts_t){.service = KP_BENCH_DEFAULT_SERVICE,
                        .notifier = KP_BENCH_DEFAULT_NOTIFIER,
                        .tmp_dir = tmp && *tmp ? tmp : "/tmp",
                        .api_port = 17201,
                        .pub_port = 17202,
                        .procs = 4,
                        .clients = 1,
                        .window = 64,
                        .count = 200000,
                        .seconds = 30,
                        .events = 100,
                        .catchup_s = 600,
                        .prefill = 1000000,
                        .random = true,
                        .curve = true,
                        .restart = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--best-case") == 0) {
            s_best_case(o);
            continue;
        }
        if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (strcmp(a, "--progress") == 0) {
            o->progress = true;
            continue;
        }
        /* Every other flag takes a value: "--name value" or "--name=value". */
        const char *v = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || nlen >= sizeof name) {
            fprintf(stderr, "kp-bench-signup: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
        memcpy(name, a, nlen);
        name[nlen] = 0;
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "kp-bench-signup: %s needs a value\n", name);
            return 2;
        }
        int num;
        bool good = true;
        if (strcmp(name, "--service") == 0)
            o->service = v;
        else if (strcmp(name, "--notifier") == 0)
            o->notifier = v;
        else if (strcmp(name, "--tmp-dir") == 0)
            o->tmp_dir = v;
        else if (strcmp(name, "--data-dir") == 0)
            o->data_dir = v;
        else if (strcmp(name, "--random") == 0)
            good = s_parse_onoff(name, v, &o->random);
        else if (strcmp(name, "--curve") == 0)
            good = s_parse_onoff(name, v, &o->curve);
        else if (strcmp(name, "--restart") == 0)
            good = s_parse_onoff(name, v, &o->restart);
        else if (strcmp(name, "--catch-up") == 0)
            good = s_parse_onoff(name, v, &o->catch_up);
        else if ((num = s_num_flag(o, name, v)) >= 0)
            good = num == 1;
        else {
            fprintf(stderr, "kp-bench-signup: unknown flag '%s' (see --help)\n", name);
            return 2;
        }
        if (!good)
            return 2;
    }
    unsigned a = o->api_port, p = o->pub_port;
    if (a == p || p == a + 2 || p == a + 3) {
        fprintf(stderr, "kp-bench-signup: --pub-port must differ from --api-port, +2 and +3\n");
        return 2;
    }
    if (!o->map_mb && o->prefill + o->count > KP_BENCH_BIG_STORE)
        o->map_mb = KP_BENCH_BIG_MAP_MB;
    return 0;
}
