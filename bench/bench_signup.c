/*  kp-bench-signup: end-to-end throughput and ack latency of events.signup.submit, with real
 *  publishers by default.
 *
 *  Usage:
 *      kp-bench-signup [--best-case] [--prefill N] [--events N] [--procs N] [--clients N]
 *                      [--window W] [--count N] [--seconds S] [--random on|off]
 *                      [--curve on|off] [--restart on|off] [--catch-up on|off]
 *                      [--data-dir DIR] [--service PATH] [--notifier PATH] [--api-port P]
 *                      [--pub-port P] [--tmp-dir DIR] [--batch-max N] [--map-size-mb N]
 *                      [--keep] [--progress]
 *
 *      build/release/bench/kp-bench-signup                     # realistic, 1,000,000 stored
 *      build/release/bench/kp-bench-signup --best-case         # the ordered run of before
 *
 *  Measure with the release build (RelWithDebInfo); the ASan build measures ASan.
 *
 *  The realistic defaults model the publishers of a deployment (issue 15):
 *   - every sign-up has a UUIDv4 external id and a random e-mail address ("firstname.lastname.
 *     <8 random characters>@<one of 16 domains>"), so that the idempotency key and the e-mail
 *     index receive random keys, as from real sign-up systems (--random on);
 *   - the sign-ups go to --events published events (100), each to one chosen at random;
 *   - CURVE is on exactly as deployed (--curve on): the benchmark makes key pairs in the
 *     format of kp_keypair_save (the one `kumppani keygen NAME --dir DIR` writes) for the
 *     service, an admin, a publisher and the notifier, writes an allow-list beside them and
 *     starts the service with --keys-dir; the publishers connect with the publisher key;
 *   - the store already holds --prefill sign-ups (1,000,000) before the timed phase;
 *   - --procs publisher processes (4) are forked, each with its own context, --clients
 *     DEALERs (1) and --window requests in flight per DEALER (64), and one source name
 *     ("publisher-NN") as one external system each.
 *  --best-case keeps the run of before, for comparison: one process with 4 DEALERs, external
 *  ids and e-mails from zero-padded per-client counters (ascending keys), one event, plain
 *  TCP, an empty store, no restart figure. A flag given after it still counts.
 *
 *  What it does, in order:
 *   1. makes a work directory (mkdtemp under --tmp-dir, or --data-dir kept for reuse) holding
 *      store/ (the service's --data-dir), keys/ and bench-state (the sign-ups stored and the
 *      event ids, so that a kept directory is reused without filling it again);
 *   2. starts the service (--service, default the kumppani-events of this build tree) on
 *      127.0.0.1 with --api-port / --pub-port (17201 / 17202), log level "warning"; waits for
 *      sys.health; creates and publishes the events still missing (no capacity limit);
 *   3. prefill: pumps sign-ups until the store holds --prefill, from 2 processes with 4
 *      DEALERs each and a window of 256 (the service's batch-max in flight), and prints its
 *      time apart ("prefill" line); a kept directory that holds enough is not topped up;
 *   4. the timed phase: --count sign-ups (200,000) or --seconds (30), then a grace of
 *      KP_BENCH_GRACE_S for the stragglers; the commit counters (sys.health) and the
 *      service's CPU (/proc/<pid>/stat utime + stime) are read around it;
 *   5. stops the service with SIGTERM; with --restart on (default unless --best-case) starts
 *      it again on the same store and times fork to the first acknowledged sign-up;
 *   6. with --catch-up on: starts the notifier (--notifier) with an empty store following
 *      the events log and times it from its start until its applied_seq (its sys.health)
 *      reaches the log's head: events/s. Its SMTP server is a socket of this benchmark that
 *      never accepts and --inflight-max is 1, so that the figure is consuming and planning,
 *      not delivery (kp-bench-notifier measures delivery);
 *   7. removes the work directory unless --keep or --data-dir.
 *
 *  Output: human-readable lines, then one line for scripts:
 *      RESULT mode=... procs=.. clients=.. window=.. events=.. curve=.. stored=.. acked=..
 *             failed=.. elapsed_s=.. signups_per_s=.. p50_ms=.. p99_ms=.. max_ms=..
 *             per_commit=.. svc_cpu_pct=.. svc_us_per_signup=.. bench_us_per_signup=..
 *             rss_kb=.. anon_kb=.. store_bytes=.. prefill_s=.. first_ack_ms=.. catchup_eps=..
 *  (a figure not measured in this run is -1). The exit status is 0 only if every sign-up
 *  sent was answered CODE_OK, every figure asked for was measured and the service stopped
 *  cleanly.
 *
 *  Design: the service keeps syncing every commit; nothing here turns it off. Latency is
 *  send → reply on CLOCK_MONOTONIC (kp_mono_us, one clock for all processes), so it includes
 *  the client-side queueing of a full window: it is what a pipelining publisher sees. The
 *  publisher processes write their tallies and latencies into one shared anonymous mapping
 *  made before the fork (each process its own slice); the parent aggregates them. The rate
 *  is the acknowledged sign-ups over the span from the first send of any process to the last
 *  reply of any process.
 *
 *  "per_commit" is the mean number of sign-ups acknowledged per LMDB commit (group commit),
 *  from the HealthReply counters taken before and after the load. The first health probe is
 *  committed as a turn of its own, inside the delta, and is subtracted; the second one is not
 *  in its own reply's counters.
 *
 *  Request ids: sign-up i (0-based, per process) carries request_id i + 1, which indexes that
 *  process's send-time table; control requests carry ids with the top bit set. */
#include "bench_util.h"
#include "kp_arena.h"
#include "kp_time.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef KP_BENCH_DEFAULT_SERVICE
#define KP_BENCH_DEFAULT_SERVICE "kumppani-events"
#endif
#ifndef KP_BENCH_DEFAULT_NOTIFIER
#define KP_BENCH_DEFAULT_NOTIFIER "kumppani-notifier"
#endif

#define KP_BENCH_MAX_PROCS 32
#define KP_BENCH_MAX_CLIENTS 64 /* per process */
#define KP_BENCH_MAX_WINDOW 100000
#define KP_BENCH_MAX_COUNT 50000000ull
#define KP_BENCH_MAX_PREFILL 100000000ull
#define KP_BENCH_MAX_EVENTS 10000
#define KP_BENCH_GRACE_S 5    /* wait for replies this long after --seconds */
#define KP_BENCH_START_S 60   /* the service must answer sys.health within this */
#define KP_BENCH_STOP_S 30    /* and exit within this after SIGTERM */
#define KP_BENCH_CALL_MS 5000 /* one control request */
#define KP_BENCH_NOTIFIER_STOP_S 3
#define KP_BENCH_CONTROL (1ull << 63)
#define KP_BENCH_SHOW_FAILURES 5
/* The prefill pumps with the service's whole batch in flight. */
#define KP_BENCH_PREFILL_PROCS 2
#define KP_BENCH_PREFILL_CLIENTS 4
#define KP_BENCH_PREFILL_WINDOW 256
/* Above this many sign-ups in the store, the map is set larger than the service's 8 GiB. */
#define KP_BENCH_BIG_STORE 4000000ull
#define KP_BENCH_BIG_MAP_MB 65536u

typedef struct {
    const char *service, *notifier, *tmp_dir, *data_dir;
    unsigned api_port, pub_port;
    unsigned procs, clients, window, seconds, events, batch_max, map_mb, catchup_s;
    uint64_t count, prefill;
    bool random, curve, restart, catch_up, best_case, keep, progress;
} bench_opts_t;

/* One child service process. */
typedef struct {
    const char *name;
    pid_t pid;
    int64_t fork_ms, fork_us; /* wall clock and kp_mono_us just before the fork */
} bench_svc_t;

/* What one publisher process reports (in the shared mapping). */
typedef struct {
    uint64_t sent, ok, failed, unanswered, stray;
    int64_t first_send_us, last_reply_us;
} bench_tally_t;

typedef struct {
    bench_tally_t tally[KP_BENCH_MAX_PROCS];
    atomic_uint_fast64_t acked[KP_BENCH_MAX_PROCS]; /* for the progress lines */
} bench_shared_t;

typedef struct {
    bench_opts_t o;
    char work[PATH_MAX], store[PATH_MAX], keys[PATH_MAX];
    bool made_work; /* mkdtemp'ed: removed at the end unless --keep */
    bench_svc_t events, notifier;
    void *zctx;
    void *control; /* admin DEALER to the events service */
    uint64_t control_n;
    kp_arena_t *arena;
    kp_keypair_t k_admin, k_publisher, k_notifier;
    char events_pub[KP_Z85_KEY_LEN + 1], notifier_pub[KP_Z85_KEY_LEN + 1];
    uint64_t event_ids[KP_BENCH_MAX_EVENTS];
    unsigned n_events; /* event ids known (bench-state and created) */
    uint64_t stored;   /* sign-ups in the store, as bench-state counts them */
} bench_t;

/* A timed or prefill phase, aggregated over its processes. */
typedef struct {
    bench_tally_t sum;
    int64_t *lat; /* CODE_OK latencies (in the mapping), lat_n of them; NULL if not kept */
    uint64_t lat_n;
    double elapsed_s, svc_cpu_s, bench_cpu_s;
    void *map;
    size_t map_len;
} bench_phase_t;

/* One publisher process's state. */
typedef struct {
    void *sock;
    unsigned idx; /* 1-based over all processes */
    uint64_t next_ext;
    unsigned in_flight;
    char source[32]; /* ordered: one per client (its counter is the id); random: per process */
} bench_client_t;

typedef struct {
    const bench_t *b;
    unsigned proc, nc, window, seconds;
    uint64_t quota;
    bench_client_t clients[KP_BENCH_MAX_CLIENTS];
    int64_t *sent_us; /* by request index; -1 once answered */
    int64_t *lat_us;  /* NULL: latencies not kept */
    bench_tally_t t;
    atomic_uint_fast64_t *acked;
    uint64_t rng;
    kp_arena_t *arena;
} bench_pub_t;

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

/* ---- arguments ---------------------------------------------------------------------------- */

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
static int
s_parse_args(bench_opts_t *o, int argc, char **argv)
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

/* ---- small helpers ------------------------------------------------------------------------ */

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* splitmix64: a fast generator good enough for keys nobody predicts. */
static uint64_t
s_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A seed that differs per process and per run. */
static uint64_t
s_seed(unsigned salt)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
            seed = 0;
        close(fd);
    }
    seed ^= (uint64_t)kp_mono_us() * 1000003u ^ ((uint64_t)getpid() << 32) ^ salt;
    return seed;
}

/* Returns true if nothing listens on 127.0.0.1:port, by binding it for a moment. A service
 * already there (a running suite, another benchmark) would otherwise make ours fail to bind
 * while theirs answers our requests. */
static bool
s_port_free(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return true; /* cannot tell; the started_ms check in s_wait_ready still guards */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as ZeroMQ binds */
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free_ = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return free_;
}

/* A listening socket on a free loopback port that never accepts: an SMTP server that never
 * greets, so the notifier's one transfer waits (its timeout) instead of delivering. Returns
 * the descriptor (port in *port) or -1. */
static int
s_stall_listener(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Reads "<key>: <n> kB" from /proc/<pid>/status; 0 if unavailable. */
static uint64_t
s_proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t klen = strlen(key);
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            kb = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* The process's user + system CPU time in seconds from /proc/<pid>/stat; -1 if unavailable. */
static double
s_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces: fields are counted after its closing ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && *p; field++) {
        while (*p == ' ')
            p++;
        if (field == 14)
            utime = strtoull(p, NULL, 10);
        if (field == 15)
            stime = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(utime + stime) / (double)hz : -1;
}

/* CPU seconds of this process and of its reaped children (the publisher processes). */
static double
s_bench_cpu_s(void)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) +
           (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec +
                    c.ru_stime.tv_usec) /
               1e6;
}

/* Prints the load average: other work on these two cores changes every figure. */
static void
s_print_loadavg(const char *when)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("loadavg  %s %s\n", when, buf[0] ? buf : "unknown");
}

/* Removes a directory, its files and its subdirectories' files (the work directory is two
 * levels deep). */
static void
s_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[PATH_MAX + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                s_remove_tree(path);
            else if (unlink(path) != 0)
                fprintf(stderr, "kp-bench-signup: cannot remove %s: %s\n", path, strerror(errno));
        }
        closedir(d);
    }
    if (rmdir(dir) != 0 && errno != ENOENT)
        fprintf(stderr, "kp-bench-signup: cannot remove %s: %s\n", dir, strerror(errno));
}

/* ---- the work directory: keys and bench-state ----------------------------------------------- */

/* Loads <keys>/<name>.key, or makes and saves a new pair. Returns 0 or -1 (reason printed). */
static int
s_key(bench_t *b, const char *name, kp_keypair_t *kp)
{
    int rc = kp_keypair_load(kp, b->keys, name);
    if (rc == 0)
        return 0;
    if ((rc = kp_keypair_generate(kp)) || (rc = kp_keypair_save(kp, b->keys, name))) {
        fprintf(stderr, "kp-bench-signup: cannot make the key pair %s/%s: error %d\n", b->keys,
                name, rc);
        return -1;
    }
    return 0;
}

/* The keys of the service, an admin (control), the publishers and the notifier, and the
 * allow-list the service and the notifier load (<keys>/allow, their default). */
static int
s_keys(bench_t *b)
{
    kp_keypair_t k_events;
    if (s_key(b, "events", &k_events) || s_key(b, "admin", &b->k_admin) ||
        s_key(b, "publisher", &b->k_publisher) || s_key(b, "notifier", &b->k_notifier))
        return -1;
    memcpy(b->events_pub, k_events.pub, sizeof b->events_pub);
    memcpy(b->notifier_pub, b->k_notifier.pub, sizeof b->notifier_pub);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/allow", b->keys);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "kp-bench-signup: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# allow-list of kp-bench-signup\n%s admin\n"
            "%s publisher sources=publisher-01,publisher-02,publisher-03,publisher-04,"
            "publisher-05,publisher-06,publisher-restart,bench-restart  # the publishers\n"
            "%s service  # the notifier\n",
            b->k_admin.pub, b->k_publisher.pub, b->k_notifier.pub);
    return fclose(f) == 0 ? 0 : -1;
}

/* Reads bench-state ("signups N" and "events ID ..."); a missing file is an empty store. */
static void
s_state_load(bench_t *b)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/bench-state", b->work);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char word[32];
    unsigned long long v;
    while (fscanf(f, "%31s", word) == 1) {
        if (strcmp(word, "signups") == 0 && fscanf(f, "%llu", &v) == 1)
            b->stored = v;
        else if (strcmp(word, "events") == 0)
            while (b->n_events < KP_BENCH_MAX_EVENTS && fscanf(f, "%llu", &v) == 1)
                b->event_ids[b->n_events++] = v;
    }
    fclose(f);
}

static void
s_state_save(const bench_t *b)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/bench-state", b->work);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "kp-bench-signup: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "signups %" PRIu64 "\nevents", b->stored);
    for (unsigned i = 0; i < b->n_events; i++)
        fprintf(f, " %" PRIu64, b->event_ids[i]);
    fprintf(f, "\n");
    fclose(f);
}

/* ---- the service processes ---------------------------------------------------------------- */

/* Appends the arguments up to NULL to argv at *n (the caller sized argv for them). */
static void
s_args(char **argv, int *n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[(*n)++] = a;
    va_end(ap);
}

static int
s_spawn(bench_svc_t *svc, char **argv)
{
    fflush(NULL);
    svc->fork_ms = kp_now_ms();
    svc->fork_us = kp_mono_us();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kp-bench-signup: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
#ifdef __linux__
        /* Do not leave a service behind if the benchmark is killed. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        /* Only the flags below configure it: keys and an allow-list from the environment
         * would change what we measure. */
        unsetenv("KP_KEYS_DIR");
        unsetenv("KP_ALLOW");
        unsetenv("KP_KEY_NAME");
        execv(argv[0], argv);
        fprintf(stderr, "kp-bench-signup: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    svc->pid = pid;
    return 0;
}

/* Starts the events service on the store. Returns 0 or -1 (reason printed). */
static int
s_events_start(bench_t *b)
{
    char api[64], pub[64], batch[24], map[24];
    snprintf(api, sizeof api, "tcp://127.0.0.1:%u", b->o.api_port);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%u", b->o.pub_port);
    snprintf(batch, sizeof batch, "%u", b->o.batch_max);
    snprintf(map, sizeof map, "%u", b->o.map_mb);
    char *argv[24];
    int n = 0;
    s_args(argv, &n, (char *)b->o.service, "--data-dir", b->store, "--api", api, "--pub", pub,
           "--log-level", "warning", NULL);
    if (b->o.batch_max)
        s_args(argv, &n, "--batch-max", batch, NULL);
    if (b->o.map_mb)
        s_args(argv, &n, "--map-size-mb", map, NULL);
    if (b->o.curve)
        s_args(argv, &n, "--keys-dir", b->keys, "--key-name", "events", NULL);
    argv[n] = NULL;
    b->events.name = "events";
    return s_spawn(&b->events, argv);
}

/* Reaps a service if it has exited. Returns true (with its status) if it has. */
static bool
s_exited(bench_svc_t *svc, int *status)
{
    if (svc->pid <= 0)
        return true;
    pid_t r = waitpid(svc->pid, status, WNOHANG);
    if (r == svc->pid) {
        svc->pid = 0;
        return true;
    }
    return false;
}

/* SIGTERM, then wait; SIGKILL after wait_s. Returns 0 for a clean exit, else -1. */
static int
s_stop_within(bench_svc_t *svc, unsigned wait_s)
{
    if (svc->pid <= 0)
        return -1;
    int status = 0;
    kill(svc->pid, SIGTERM);
    int64_t until = kp_mono_us() + (int64_t)wait_s * 1000000;
    while (!s_exited(svc, &status)) {
        if (kp_mono_us() > until) {
            fprintf(stderr, "kp-bench-signup: %s ignored SIGTERM for %u s; killing it\n", svc->name,
                    wait_s);
            kill(svc->pid, SIGKILL);
            waitpid(svc->pid, &status, 0);
            svc->pid = 0;
            return -1;
        }
        s_sleep_ms(10);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "kp-bench-signup: %s exited with status %d\n", svc->name,
                WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "kp-bench-signup: %s died of signal %d\n", svc->name, WTERMSIG(status));
    return -1;
}

static int
s_stop(bench_svc_t *svc)
{
    return s_stop_within(svc, KP_BENCH_STOP_S);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* A DEALER to 127.0.0.1:port, a CURVE client with kp (NULL: plain TCP) of server_pub, with
 * room for a whole window each way so that a send never meets the high-water mark. */
static void *
s_socket(void *zctx, unsigned port, const kp_keypair_t *kp, const char *server_pub, unsigned window)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    if (kp_zsock_client(s, kp, server_pub) != 0) {
        zmq_close(s);
        return NULL;
    }
    int hwm = (int)window * 2 + 64, linger = 0, ivl = 10;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl); /* see a restarted service soon */
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    if (zmq_connect(s, ep) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Packs a Request around body into buf. Returns its length, or 0 if it does not fit. */
static size_t
s_pack_request(uint8_t *buf, size_t cap, uint64_t request_id, const char *method, const char *idem,
               const ProtobufCMessage *body)
{
    uint8_t inner[1024];
    size_t inner_len = 0;
    if (body) {
        if (protobuf_c_message_get_packed_size(body) > sizeof inner)
            return 0;
        inner_len = protobuf_c_message_pack(body, inner);
    }
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = request_id;
    rq.method = (char *)method;
    rq.idempotency_key = (char *)(idem ? idem : "");
    rq.body.data = inner;
    rq.body.len = inner_len;
    if (kumppani__v1__request__get_packed_size(&rq) > cap)
        return 0;
    return kumppani__v1__request__pack(&rq, buf);
}

static const char *const s_first[16] = {"aino",  "eino",  "helmi", "juhani", "kaisa", "lauri",
                                        "maria", "mikko", "noora", "oskari", "pirjo", "sami",
                                        "tiina", "ville", "anna",  "erik"};
static const char *const s_last[16] = {"korhonen", "virtanen",   "makinen",  "nieminen",
                                       "makela",   "hamalainen", "laine",    "heikkinen",
                                       "koskinen", "jarvinen",   "lehtonen", "lehtinen",
                                       "saarinen", "salminen",   "heinonen", "niemi"};
static const char *const s_domain[16] = {
    "gmail.com",   "outlook.com", "hotmail.com",   "yahoo.com",     "icloud.com", "luukku.com",
    "kolumbus.fi", "elisanet.fi", "saunalahti.fi", "hel.fi",        "tampere.fi", "turku.fi",
    "oulu.fi",     "espoo.fi",    "vantaa.fi",     "student.jyu.fi"};

/* Fills the external id and e-mail of one sign-up and picks its event. Ordered: from the
 * client's counter (zero-padded, ascending), as the best case always did. Random: a UUIDv4
 * and "first.last.<8 random [a-z0-9]>@domain" (the random tail keeps the addresses of one
 * event apart: 36^8 values). */
static uint64_t
s_signup_fields(const bench_t *b, uint64_t *rng, unsigned client, uint64_t counter, char *ext,
                size_t ext_cap, char *email, size_t email_cap)
{
    if (!b->o.random) {
        snprintf(ext, ext_cap, "%012" PRIu64, counter);
        snprintf(email, email_cap, "c%02u-%012" PRIu64 "@bench.example", client, counter);
        return b->event_ids[counter % b->o.events];
    }
    uint64_t r0 = s_rand(rng), r1 = s_rand(rng), r2 = s_rand(rng);
    uint8_t u[16];
    memcpy(u, &r0, 8);
    memcpy(u + 8, &r1, 8);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    size_t p = 0;
    for (int i = 0; i < 16 && p + 3 < ext_cap; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            ext[p++] = '-';
        ext[p++] = hex[u[i] >> 4];
        ext[p++] = hex[u[i] & 15];
    }
    ext[p] = 0;
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char tail[9];
    uint64_t t = r2;
    for (int i = 0; i < 8; i++) {
        tail[i] = alnum[t % 36];
        t /= 36;
    }
    tail[8] = 0;
    uint64_t r3 = s_rand(rng);
    snprintf(email, email_cap, "%s.%s.%s@%s", s_first[r3 & 15], s_last[(r3 >> 4) & 15], tail,
             s_domain[(r3 >> 8) & 15]);
    return b->event_ids[(r3 >> 16) % b->o.events];
}

/* Packs one sign-up request. Returns its length (never 0: the fields are bounded). */
static size_t
s_pack_signup(const bench_t *b, uint64_t *rng, const char *source, unsigned client,
              uint64_t counter, uint64_t request_id, uint8_t *buf, size_t cap)
{
    char ext[48], email[128];
    Kumppani__V1__SubmitSignupRequest sq = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    sq.event_id = s_signup_fields(b, rng, client, counter, ext, sizeof ext, email, sizeof email);
    sq.source = (char *)source;
    sq.external_id = ext;
    sq.name = "Bench Participant";
    sq.email = email;
    sq.role = KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_RESIDENT;
    sq.language = "fi";
    size_t len = s_pack_request(buf, cap, request_id, "events.signup.submit", NULL, &sq.base);
    if (len == 0)
        abort(); /* a bug: the fields above are bounded */
    return len;
}

static int
s_code(const Kumppani__V1__Reply *r)
{
    return r->status ? (int)r->status->code : 0; /* proto3: an absent Status is CODE_OK */
}

static const char *
s_message(const Kumppani__V1__Reply *r)
{
    return r->status && r->status->message ? r->status->message : "";
}

/* Sends one control request on sock and waits for its reply, ignoring replies to earlier
 * requests. Returns the reply (valid until the arena is reset), or NULL after timeout_ms, an
 * interrupt, or svc's exit. */
static Kumppani__V1__Reply *
s_call(bench_t *b, void *sock, bench_svc_t *svc, const char *method, const char *idem,
       const ProtobufCMessage *body, int timeout_ms)
{
    uint8_t buf[2048];
    uint64_t rid = KP_BENCH_CONTROL | ++b->control_n;
    size_t len = s_pack_request(buf, sizeof buf, rid, method, idem, body);
    if (len == 0 || zmq_send(sock, buf, len, 0) < 0)
        return NULL;
    int64_t until = kp_mono_us() + (int64_t)timeout_ms * 1000;
    while (!s_interrupted) {
        int64_t left_ms = (until - kp_mono_us()) / 1000;
        if (left_ms <= 0)
            return NULL;
        int status;
        if (s_exited(svc, &status)) {
            fprintf(stderr, "kp-bench-signup: %s exited (status %d)\n", svc->name, status);
            return NULL;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left_ms > 100 ? 100 : (long)left_ms) <= 0)
            continue;
        zmq_msg_t m;
        if (!kp_zsock_try_recv(sock, &m))
            continue;
        kp_arena_reset(b->arena);
        Kumppani__V1__Reply *r =
            kumppani__v1__reply__unpack(kp_arena_pbc(b->arena), zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (r && r->request_id == rid)
            return r;
    }
    return NULL;
}

/* sys.health of svc through sock; NULL on failure (reason printed unless quiet). */
static Kumppani__V1__HealthReply *
s_health_of(bench_t *b, void *sock, bench_svc_t *svc, int timeout_ms, bool quiet)
{
    Kumppani__V1__HealthRequest hq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    Kumppani__V1__Reply *r = s_call(b, sock, svc, "sys.health", NULL, &hq.base, timeout_ms);
    if (!r || s_code(r) != 0) {
        if (!quiet)
            fprintf(stderr, "kp-bench-signup: %s sys.health failed: %s\n", svc->name,
                    r ? s_message(r) : "no reply");
        return NULL;
    }
    return kumppani__v1__health_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
}

/* Sends sys.health until svc answers it, for at most KP_BENCH_START_S. */
static int
s_wait_ready(bench_t *b, void *sock, bench_svc_t *svc, unsigned port)
{
    int64_t until = kp_mono_us() + (int64_t)KP_BENCH_START_S * 1000000;
    while (kp_mono_us() < until && !s_interrupted) {
        Kumppani__V1__HealthReply *h = s_health_of(b, sock, svc, 250, true);
        if (h) {
            /* Make sure it is our service that answers, not one started earlier. */
            if (h->started_ms + 1000 >= svc->fork_ms)
                return 0;
            fprintf(stderr,
                    "kp-bench-signup: port %u is answered by a service started before "
                    "this benchmark; use --api-port\n",
                    port);
            return -1;
        }
        if (svc->pid <= 0)
            return -1;
    }
    fprintf(stderr, "kp-bench-signup: %s did not answer sys.health within %d s\n", svc->name,
            KP_BENCH_START_S);
    return -1;
}

/* Reads the commit counters of the events service. Returns 0 or -1. */
static int
s_health(bench_t *b, uint64_t *commits, uint64_t *requests, uint64_t *head)
{
    Kumppani__V1__HealthReply *h = s_health_of(b, b->control, &b->events, KP_BENCH_CALL_MS, false);
    if (!h)
        return -1;
    *commits = h->commits;
    *requests = h->committed_requests;
    if (head)
        *head = h->head_seq;
    return 0;
}

/* Creates and publishes one event: a seminar a month ahead, no limit. Returns its id or 0. */
static uint64_t
s_make_event(bench_t *b, unsigned k)
{
    int64_t start = kp_now_ms() / 1000 + 30 * 24 * 3600;
    char title[64];
    snprintf(title, sizeof title, "Benchmark seminar %u", k + 1);
    Kumppani__V1__CreateEventRequest cq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    cq.kind = KUMPPANI__V1__EVENT_KIND__KIND_SEMINAR;
    cq.title = title;
    cq.municipality_code = "743";
    cq.start_unix = start;
    cq.end_unix = start + 2 * 3600;
    cq.capacity = 0;
    cq.place = "Loopback";
    cq.language = "fi";
    char idem[80];
    snprintf(idem, sizeof idem, "kp-bench-signup-%d-%" PRId64 "-%u", (int)getpid(), kp_now_ms(), k);
    Kumppani__V1__Reply *r =
        s_call(b, b->control, &b->events, "events.event.create", idem, &cq.base, KP_BENCH_CALL_MS);
    if (!r || s_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.create failed: %s\n",
                r ? s_message(r) : "no reply");
        return 0;
    }
    Kumppani__V1__EventReply *er =
        kumppani__v1__event_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
    if (!er || !er->event || !er->event->id) {
        fprintf(stderr, "kp-bench-signup: events.event.create: reply has no event\n");
        return 0;
    }
    uint64_t id = er->event->id;
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = id;
    r = s_call(b, b->control, &b->events, "events.event.publish", NULL, &ref.base,
               KP_BENCH_CALL_MS);
    if (!r || s_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.publish failed: %s\n",
                r ? s_message(r) : "no reply");
        return 0;
    }
    return id;
}

/* Makes the events bench-state does not know yet, up to --events. */
static int
s_make_events(bench_t *b)
{
    while (b->n_events < b->o.events) {
        uint64_t id = s_make_event(b, b->n_events);
        if (!id)
            return -1;
        b->event_ids[b->n_events++] = id;
    }
    s_state_save(b);
    return 0;
}

/* ---- a publisher process ------------------------------------------------------------------ */

/* Sends the next sign-up of client c. Returns 0, or -1 if the socket would block. */
static int
s_send_signup(bench_pub_t *p, bench_client_t *c)
{
    uint8_t buf[1024];
    uint64_t i = p->t.sent;
    size_t len =
        s_pack_signup(p->b, &p->rng, c->source, c->idx, c->next_ext, i + 1, buf, sizeof buf);
    int64_t now = kp_mono_us();
    if (zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) < 0)
        return -1;
    if (p->t.sent == 0)
        p->t.first_send_us = now;
    p->sent_us[i] = now;
    p->t.sent++;
    c->next_ext++;
    c->in_flight++;
    return 0;
}

/* Handles one reply frame on client c. */
static void
s_on_reply(bench_pub_t *p, bench_client_t *c, zmq_msg_t *m, int64_t now)
{
    kp_arena_reset(p->arena);
    Kumppani__V1__Reply *r =
        kumppani__v1__reply__unpack(kp_arena_pbc(p->arena), zmq_msg_size(m), zmq_msg_data(m));
    if (!r || r->request_id == 0 || r->request_id > p->t.sent ||
        p->sent_us[r->request_id - 1] < 0) {
        p->t.stray++; /* undecodable, unknown or answered twice: counted, then a failure */
        return;
    }
    uint64_t i = r->request_id - 1;
    int64_t lat = now - p->sent_us[i];
    p->sent_us[i] = -1;
    c->in_flight--;
    p->t.last_reply_us = now;
    if (s_code(r) == 0 && r->body.len > 0) {
        if (p->lat_us)
            p->lat_us[p->t.ok] = lat;
        p->t.ok++;
        atomic_store_explicit(p->acked, p->t.ok, memory_order_relaxed);
        return;
    }
    if (p->t.failed++ < KP_BENCH_SHOW_FAILURES)
        fprintf(stderr, "kp-bench-signup: publisher %u sign-up %" PRIu64 ": code %d: %s\n",
                p->proc + 1, i + 1, s_code(r), s_message(r));
}

/* Drives this process's sign-ups; bounded by its quota, by --seconds, and by a grace period
 * for the last replies. */
static void
s_run_load(bench_pub_t *p)
{
    zmq_pollitem_t items[KP_BENCH_MAX_CLIENTS];
    for (unsigned k = 0; k < p->nc; k++)
        items[k] = (zmq_pollitem_t){p->clients[k].sock, 0, ZMQ_POLLIN, 0};
    int64_t start = kp_mono_us();
    int64_t stop_sending = start + (int64_t)p->seconds * 1000000;
    int64_t give_up = stop_sending + (int64_t)KP_BENCH_GRACE_S * 1000000;
    for (;;) {
        int64_t now = kp_mono_us();
        bool may_send = now < stop_sending && p->t.sent < p->quota && !s_interrupted;
        if (!may_send && p->t.ok + p->t.failed == p->t.sent)
            break;
        if (now >= give_up || s_interrupted)
            break;
        if (may_send) {
            /* Top every window up, clients in turn, one request each round, so that they
             * interleave on the wire as independent publishers would. */
            bool progress = true;
            while (progress && p->t.sent < p->quota) {
                progress = false;
                for (unsigned k = 0; k < p->nc && p->t.sent < p->quota; k++) {
                    bench_client_t *c = &p->clients[k];
                    if (c->in_flight < p->window && s_send_signup(p, c) == 0)
                        progress = true;
                }
            }
        }
        long wait_ms = (long)((give_up - now) / 1000);
        if (wait_ms > 100)
            wait_ms = 100;
        int n = zmq_poll(items, (int)p->nc, wait_ms);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        now = kp_mono_us();
        for (unsigned k = 0; k < p->nc; k++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            /* Drain the socket: every reply frees a window slot. */
            while (zmq_msg_recv(&m, p->clients[k].sock, ZMQ_DONTWAIT) >= 0)
                s_on_reply(p, &p->clients[k], &m, now);
            zmq_msg_close(&m);
        }
    }
    p->t.unanswered = p->t.sent - (p->t.ok + p->t.failed);
}

/* The body of one forked publisher process: its own context and DEALERs; says "ready" once
 * connected, starts at "go", writes its tally into *out. Returns the exit status. */
static int
s_publisher(bench_pub_t *p, bench_tally_t *out, int ready_fd, int go_fd)
{
    const bench_t *b = p->b;
    int rc = 1;
    void *zctx = zmq_ctx_new();
    p->sent_us = malloc((p->quota ? p->quota : 1) * sizeof *p->sent_us);
    p->arena = kp_arena_new(1u << 16);
    if (!zctx || !p->sent_us)
        goto done;
    p->rng = s_seed(p->proc);
    for (unsigned k = 0; k < p->nc; k++) {
        bench_client_t *c = &p->clients[k];
        if (b->o.random) /* one of the six sources the publisher key is bound to */
            snprintf(c->source, sizeof c->source, "publisher-%02u", p->proc % 6 + 1);
        else
            snprintf(c->source, sizeof c->source, "bench-c%02u", c->idx);
        p->clients[k].sock = s_socket(zctx, b->o.api_port, b->o.curve ? &b->k_publisher : NULL,
                                      b->events_pub, p->window);
        if (!p->clients[k].sock) {
            fprintf(stderr, "kp-bench-signup: cannot connect: %s\n", zmq_strerror(zmq_errno()));
            goto done;
        }
    }
    char go = 0;
    if (write(ready_fd, "r", 1) != 1 || read(go_fd, &go, 1) != 1 || go != 'g')
        goto done;
    s_run_load(p);
    rc = p->t.failed || p->t.unanswered || p->t.stray ? 1 : 0;
done:
    *out = p->t;
    for (unsigned k = 0; k < p->nc; k++)
        if (p->clients[k].sock)
            zmq_close(p->clients[k].sock);
    if (zctx)
        zmq_ctx_term(zctx);
    free(p->sent_us);
    kp_arena_destroy(&p->arena);
    return rc;
}

/* ---- a phase: fork the publishers, wait, aggregate ------------------------------------------ */

/* Runs total sign-ups from procs processes of clients DEALERs with window in flight each.
 * record: keep the latencies (in ph->lat, until s_phase_free). Returns 0 or -1. */
static int
s_phase(bench_t *b, bench_phase_t *ph, const char *label, uint64_t total, unsigned procs,
        unsigned clients, unsigned window, unsigned seconds, bool record, unsigned progress_s)
{
    memset(ph, 0, sizeof *ph);
    ph->map_len = sizeof(bench_shared_t) + (record ? total * sizeof(int64_t) : 0);
    ph->map = mmap(NULL, ph->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ph->map == MAP_FAILED) {
        ph->map = NULL;
        fprintf(stderr, "kp-bench-signup: mmap: %s\n", strerror(errno));
        return -1;
    }
    bench_shared_t *sh = ph->map;
    int64_t *lat = record ? (int64_t *)(sh + 1) : NULL;
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) {
        fprintf(stderr, "kp-bench-signup: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t kids[KP_BENCH_MAX_PROCS] = {0};
    uint64_t offsets[KP_BENCH_MAX_PROCS] = {0}, off = 0;
    unsigned started = 0;
    for (unsigned k = 0; k < procs; k++) {
        uint64_t quota = total / procs + (k < total % procs ? 1 : 0);
        offsets[k] = off;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "kp-bench-signup: fork: %s\n", strerror(errno));
            break;
        }
        if (pid == 0) {
#ifdef __linux__
            prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
            close(ready[0]);
            close(go[1]);
            bench_pub_t *p = calloc(1, sizeof *p);
            if (!p)
                _exit(1);
            p->b = b;
            p->proc = k;
            p->nc = clients;
            p->window = window;
            p->seconds = seconds;
            p->quota = quota;
            p->lat_us = lat ? lat + off : NULL;
            p->acked = &sh->acked[k];
            for (unsigned c = 0; c < clients; c++) {
                p->clients[c].idx = k * clients + c + 1;
                /* Ordered: the counters continue above what the store holds, so a kept store
                 * never sees an id twice. */
                p->clients[c].next_ext = b->stored;
            }
            int rc = s_publisher(p, &sh->tally[k], ready[1], go[0]);
            _exit(rc);
        }
        kids[k] = pid;
        started++;
        off += quota;
    }
    close(ready[1]);
    close(go[0]);
    /* Every process connected, then all start together. */
    unsigned ready_n = 0;
    char c;
    while (ready_n < started && read(ready[0], &c, 1) == 1)
        ready_n++;
    close(ready[0]);
    double svc0 = s_proc_cpu_s(b->events.pid), self0 = s_bench_cpu_s();
    if (ready_n == started && started == procs)
        for (unsigned k = 0; k < procs; k++)
            if (write(go[1], "g", 1) != 1)
                break;
    close(go[1]);

    int64_t t0 = kp_mono_us(), tick = t0 + (int64_t)progress_s * 1000000;
    uint64_t last_acked = 0;
    int bad = started == procs ? 0 : -1;
    unsigned running = started;
    bool forwarded = false;
    while (running > 0) {
        for (unsigned k = 0; k < procs; k++) {
            int status;
            if (kids[k] > 0 && waitpid(kids[k], &status, WNOHANG) == kids[k]) {
                kids[k] = 0;
                running--;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    bad = -1;
            }
        }
        if (running == 0)
            break;
        if (s_interrupted && !forwarded) {
            /* An interrupted phase ends as a finished one: the publishers stop sending, wait
             * for their replies and report (a kept store keeps what was acknowledged). */
            for (unsigned k = 0; k < procs; k++)
                if (kids[k] > 0)
                    kill(kids[k], SIGINT);
            forwarded = true;
        }
        int status;
        if (s_exited(&b->events, &status)) {
            fprintf(stderr, "kp-bench-signup: the service exited during %s (status %d)\n", label,
                    status);
            for (unsigned k = 0; k < procs; k++)
                if (kids[k] > 0)
                    kill(kids[k], SIGTERM);
            bad = -1;
        }
        int64_t now = kp_mono_us();
        if (progress_s && now >= tick) {
            uint64_t acked = 0;
            for (unsigned k = 0; k < procs; k++)
                acked += atomic_load_explicit(&sh->acked[k], memory_order_relaxed);
            printf("%-8s t=%.0fs acked=%" PRIu64 " rate=%.0f/s\n", label, (double)(now - t0) / 1e6,
                   acked, (double)(acked - last_acked) / (double)progress_s);
            fflush(stdout);
            last_acked = acked;
            tick += (int64_t)progress_s * 1000000;
        }
        s_sleep_ms(20);
    }
    ph->svc_cpu_s = s_proc_cpu_s(b->events.pid) - svc0;
    ph->bench_cpu_s = s_bench_cpu_s() - self0;

    /* Aggregate: every process wrote its tally and its latencies into its own slice. */
    bench_tally_t *sum = &ph->sum;
    sum->first_send_us = INT64_MAX;
    for (unsigned k = 0; k < procs; k++) {
        const bench_tally_t *t = &sh->tally[k];
        sum->sent += t->sent;
        sum->ok += t->ok;
        sum->failed += t->failed;
        sum->unanswered += t->unanswered;
        sum->stray += t->stray;
        if (t->sent && t->first_send_us < sum->first_send_us)
            sum->first_send_us = t->first_send_us;
        if (t->last_reply_us > sum->last_reply_us)
            sum->last_reply_us = t->last_reply_us;
        if (lat) {
            /* Compact the slices into one array. */
            memmove(lat + ph->lat_n, lat + offsets[k], t->ok * sizeof *lat);
            ph->lat_n += t->ok;
        }
    }
    ph->lat = lat;
    ph->elapsed_s = sum->last_reply_us > sum->first_send_us
                        ? (double)(sum->last_reply_us - sum->first_send_us) / 1e6
                        : 0;
    b->stored += sum->ok;
    s_state_save(b);
    return bad;
}

static void
s_phase_free(bench_phase_t *ph)
{
    if (ph->map)
        munmap(ph->map, ph->map_len);
    ph->map = NULL;
    ph->lat = NULL;
}

/* ---- restart and catch-up ------------------------------------------------------------------ */

/* Stops the service, starts it again on the same store and times fork → first acknowledged
 * sign-up. Returns the milliseconds, or -1. The service is left running. */
static double
s_restart_to_first_ack(bench_t *b)
{
    if (s_stop(&b->events) != 0)
        return -1;
    void *sock =
        s_socket(b->zctx, b->o.api_port, b->o.curve ? &b->k_publisher : NULL, b->events_pub, 1);
    if (!sock)
        return -1;
    uint64_t rng = s_seed(999);
    uint8_t buf[1024];
    size_t len = s_pack_signup(b, &rng, b->o.random ? "publisher-restart" : "bench-restart", 99,
                               b->stored, 1, buf, sizeof buf);
    double ms = -1;
    if (s_events_start(b) != 0)
        goto done;
    /* Queued in the DEALER until the service binds and the handshake completes. */
    if (zmq_send(sock, buf, len, 0) < 0)
        goto done;
    int64_t until = b->events.fork_us + (int64_t)KP_BENCH_START_S * 1000000;
    while (kp_mono_us() < until && !s_interrupted) {
        int status;
        if (s_exited(&b->events, &status)) {
            fprintf(stderr, "kp-bench-signup: the restarted service exited (status %d)\n", status);
            goto done;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 5) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            int64_t now = kp_mono_us();
            kp_arena_reset(b->arena);
            Kumppani__V1__Reply *r = kumppani__v1__reply__unpack(
                kp_arena_pbc(b->arena), zmq_msg_size(&m), zmq_msg_data(&m));
            if (r && r->request_id == 1) {
                if (s_code(r) == 0) {
                    ms = (double)(now - b->events.fork_us) / 1000.0;
                    b->stored++;
                    s_state_save(b);
                } else
                    fprintf(stderr, "kp-bench-signup: the first sign-up after restart: %s\n",
                            s_message(r));
                zmq_msg_close(&m);
                break;
            }
        }
        zmq_msg_close(&m);
    }
done:
    zmq_close(sock);
    return ms;
}

/* Starts the notifier with an empty store on the events log and times it until its
 * applied_seq reaches head; returns events/s (and the seconds in *secs_out) or -1. */
static double
s_catch_up(bench_t *b, uint64_t head, double *secs_out)
{
    char dir[PATH_MAX + 16], api[64], pub[64], ev_api[64], ev_pub[64], ev_key[PATH_MAX + 16],
        smtp[64];
    snprintf(dir, sizeof dir, "%s/notifier", b->work);
    s_remove_tree(dir); /* from zero */
    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, "kp-bench-signup: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    unsigned stall_port = 0, nport = b->o.api_port + 2;
    int stall = s_stall_listener(&stall_port);
    if (stall < 0 || !s_port_free(nport) || !s_port_free(nport + 1)) {
        fprintf(stderr, "kp-bench-signup: no ports for the notifier (%u, %u)\n", nport, nport + 1);
        if (stall >= 0)
            close(stall);
        return -1;
    }
    snprintf(api, sizeof api, "tcp://127.0.0.1:%u", nport);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%u", nport + 1);
    snprintf(ev_api, sizeof ev_api, "tcp://127.0.0.1:%u", b->o.api_port);
    snprintf(ev_pub, sizeof ev_pub, "tcp://127.0.0.1:%u", b->o.pub_port);
    snprintf(ev_key, sizeof ev_key, "%s/events.pub", b->keys);
    snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%u", stall_port);
    char *argv[40];
    int n = 0;
    s_args(argv, &n, (char *)b->o.notifier, "--data-dir", dir, "--api", api, "--pub", pub,
           "--log-level", "warning", "--events-api", ev_api, "--events-pub", ev_pub, "--smtp-url",
           smtp, "--smtp-tls", "off", "--inflight-max", "1", "--timeout-ms", "3600000",
           "--lease-ms", "7200000", NULL);
    if (b->o.curve)
        s_args(argv, &n, "--keys-dir", b->keys, "--key-name", "notifier", "--events-key", ev_key,
               NULL);
    argv[n] = NULL;
    double eps = -1;
    void *sock = s_socket(b->zctx, nport, b->o.curve ? &b->k_admin : NULL, b->notifier_pub, 1);
    b->notifier.name = "notifier";
    if (!sock || s_spawn(&b->notifier, argv) != 0)
        goto done;
    double cpu_events0 = s_proc_cpu_s(b->events.pid);
    int64_t until = b->notifier.fork_us + (int64_t)b->o.catchup_s * 1000000, tick = 0;
    uint64_t applied = 0;
    while (kp_mono_us() < until && !s_interrupted) {
        Kumppani__V1__HealthReply *h = s_health_of(b, sock, &b->notifier, 1000, true);
        int64_t now = kp_mono_us();
        if (b->notifier.pid <= 0)
            break;
        if (!h) {
            s_sleep_ms(20);
            continue;
        }
        for (size_t i = 0; i < h->n_consumers; i++)
            if (h->consumers[i]->source && strcmp(h->consumers[i]->source, "events") == 0)
                applied = h->consumers[i]->applied_seq;
        if (applied >= head) {
            double s = (double)(now - b->notifier.fork_us) / 1e6;
            double cpu_n = s_proc_cpu_s(b->notifier.pid), cpu_e = s_proc_cpu_s(b->events.pid);
            eps = (double)head / s;
            *secs_out = s;
            printf("catch-up notifier applied %" PRIu64 " events from zero in %.2f s: %.0f "
                   "events/s; CPU notifier %.2f s, events %.2f s; notifier RSS peak %" PRIu64
                   " kB\n",
                   head, s, eps, cpu_n, cpu_e - cpu_events0,
                   s_proc_status_kb(b->notifier.pid, "VmHWM"));
            break;
        }
        if (now >= tick) {
            printf("catch-up t=%.0fs applied=%" PRIu64 " of %" PRIu64 "\n",
                   (double)(now - b->notifier.fork_us) / 1e6, applied, head);
            fflush(stdout);
            tick = now + 10 * 1000000;
        }
        s_sleep_ms(20);
    }
    if (eps < 0)
        fprintf(stderr,
                "kp-bench-signup: the notifier applied %" PRIu64 " of %" PRIu64
                " events within %u s\n",
                applied, head, b->o.catchup_s);
done:
    if (sock)
        zmq_close(sock);
    /* Its one transfer waits on the silent SMTP listener and holds its shutdown up (half a
     * minute): it gets KP_BENCH_NOTIFIER_STOP_S, then SIGKILL; the figure stands, and its
     * store is thrown away. */
    close(stall);
    if (b->notifier.pid > 0 && s_stop_within(&b->notifier, KP_BENCH_NOTIFIER_STOP_S) != 0)
        fprintf(stderr, "kp-bench-signup: (the notifier only read the log here)\n");
    s_remove_tree(dir);
    return eps;
}

/* ---- results ------------------------------------------------------------------------------ */

/* Nearest-rank percentile of sorted v[0..n-1], in milliseconds. */
static double
s_pct_ms(const int64_t *v, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

/* data.mdb: its length and the bytes it occupies on disk. */
static void
s_store_size(const bench_t *b, uint64_t *len, uint64_t *disk)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", b->store);
    struct stat st;
    *len = *disk = 0;
    if (stat(path, &st) == 0) {
        *len = (uint64_t)st.st_size;
        *disk = (uint64_t)st.st_blocks * 512;
    }
}

/* Makes (or adopts) the work directory and its store/ and keys/. Returns 0 or -1. */
static int
s_work_dir(bench_t *b)
{
    int n;
    if (b->o.data_dir) {
        n = snprintf(b->work, sizeof b->work, "%s", b->o.data_dir);
        if (n < 0 || (size_t)n >= sizeof b->work ||
            (mkdir(b->work, 0700) != 0 && errno != EEXIST)) {
            fprintf(stderr, "kp-bench-signup: cannot use %s: %s\n", b->o.data_dir, strerror(errno));
            return -1;
        }
    } else {
        n = snprintf(b->work, sizeof b->work, "%s/kp-bench-signup-XXXXXX", b->o.tmp_dir);
        if (n < 0 || (size_t)n >= sizeof b->work || !mkdtemp(b->work)) {
            fprintf(stderr, "kp-bench-signup: cannot make a directory under %s: %s\n", b->o.tmp_dir,
                    strerror(errno));
            return -1;
        }
        b->made_work = true;
    }
    snprintf(b->store, sizeof b->store, "%.*s/store", PATH_MAX - 16, b->work);
    snprintf(b->keys, sizeof b->keys, "%.*s/keys", PATH_MAX - 16, b->work);
    if (mkdir(b->store, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kp-bench-signup: cannot make %s: %s\n", b->store, strerror(errno));
        return -1;
    }
    s_state_load(b);
    return 0;
}

int
main(int argc, char **argv)
{
    static bench_t b; /* large: the event ids */
    int rc = s_parse_args(&b.o, argc, argv);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (access(b.o.service, X_OK) != 0 || (b.o.catch_up && access(b.o.notifier, X_OK) != 0)) {
        fprintf(stderr, "kp-bench-signup: cannot run %s: %s (see --service, --notifier)\n",
                access(b.o.service, X_OK) != 0 ? b.o.service : b.o.notifier, strerror(errno));
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    bool load_ok = false, figures_ok = true;
    uint64_t c0 = 0, r0 = 0, c1 = 0, r1 = 0, head = 0, rss_kb = 0, anon_kb = 0, file_kb = 0;
    uint64_t store_len = 0, store_disk = 0, stored_before = 0, store_used = 0;
    double prefill_s = -1, first_ack_ms = -1, catchup_eps = -1, catchup_s = 0;
    bench_phase_t ph = {0};
    b.arena = kp_arena_new(1u << 20);
    b.zctx = zmq_ctx_new();
    if (!b.zctx) {
        fprintf(stderr, "kp-bench-signup: zmq_ctx_new failed\n");
        goto done;
    }
    if (s_work_dir(&b) != 0 || (b.o.curve && s_keys(&b) != 0))
        goto done;
    if (!s_port_free(b.o.api_port) || !s_port_free(b.o.pub_port)) {
        fprintf(stderr,
                "kp-bench-signup: 127.0.0.1:%u or :%u is in use; choose --api-port and "
                "--pub-port\n",
                b.o.api_port, b.o.pub_port);
        goto done;
    }
    s_print_loadavg("before");
    if (s_events_start(&b) != 0)
        goto done;
    printf("service  %s (pid %d)\n", b.o.service, (int)b.events.pid);
    printf("work dir %s (store/ of %" PRIu64 " sign-ups per bench-state, %u events known)\n",
           b.work, b.stored, b.n_events);
    char batch[24] = "default";
    if (b.o.batch_max)
        snprintf(batch, sizeof batch, "%u", b.o.batch_max);
    printf("config   mode=%s procs=%u clients=%u window=%u count=%" PRIu64 " seconds=%u "
           "events=%u random=%s curve=%s prefill=%" PRIu64 " batch-max=%s\n",
           b.o.best_case ? "best-case" : "realistic", b.o.procs, b.o.clients, b.o.window, b.o.count,
           b.o.seconds, b.o.events, b.o.random ? "on" : "off", b.o.curve ? "on" : "off",
           b.o.prefill, batch);
    fflush(stdout);

    if (!(b.control =
              s_socket(b.zctx, b.o.api_port, b.o.curve ? &b.k_admin : NULL, b.events_pub, 64)))
        goto done;
    if (s_wait_ready(&b, b.control, &b.events, b.o.api_port) != 0 || s_make_events(&b) != 0)
        goto done;

    if (b.stored < b.o.prefill) {
        uint64_t need = b.o.prefill - b.stored;
        printf("prefill  %" PRIu64 " sign-ups (store has %" PRIu64 ")\n", need, b.stored);
        fflush(stdout);
        bench_phase_t pf;
        int prc = s_phase(&b, &pf, "prefill", need, KP_BENCH_PREFILL_PROCS,
                          KP_BENCH_PREFILL_CLIENTS, KP_BENCH_PREFILL_WINDOW, 86400, false, 10);
        prefill_s = pf.elapsed_s;
        printf("prefill  %" PRIu64 " acked in %.1f s (%.0f/s), %" PRIu64
               " failed; store holds %" PRIu64 "\n",
               pf.sum.ok, pf.elapsed_s, pf.elapsed_s > 0 ? (double)pf.sum.ok / pf.elapsed_s : 0,
               pf.sum.failed + pf.sum.unanswered + pf.sum.stray, b.stored);
        s_phase_free(&pf);
        if (prc != 0 || s_interrupted)
            goto done;
    }
    stored_before = b.stored;
    if (s_health(&b, &c0, &r0, NULL) != 0)
        goto done;
    int lrc = s_phase(&b, &ph, "progress", b.o.count, b.o.procs, b.o.clients, b.o.window,
                      b.o.seconds, true, b.o.progress ? 1 : 0);
    (void)lrc; /* the tally says what failed */
    if (s_interrupted) {
        fprintf(stderr, "kp-bench-signup: interrupted\n");
        goto done;
    }
    Kumppani__V1__HealthReply *h = s_health_of(&b, b.control, &b.events, KP_BENCH_CALL_MS, false);
    if (!h)
        goto done;
    c1 = h->commits;
    r1 = h->committed_requests;
    store_used = h->store_used_bytes;
    rss_kb = s_proc_status_kb(b.events.pid, "VmHWM");
    /* Most of the peak is data.mdb mapped by LMDB (page cache, shared, reclaimable); the
     * anonymous part is what the service itself allocates. */
    anon_kb = s_proc_status_kb(b.events.pid, "RssAnon");
    file_kb = s_proc_status_kb(b.events.pid, "RssFile");
    s_store_size(&b, &store_len, &store_disk);
    s_print_loadavg("after");
    load_ok = true;

    if (b.o.restart) {
        first_ack_ms = s_restart_to_first_ack(&b);
        if (first_ack_ms < 0)
            figures_ok = false;
        else
            printf("restart  %.1f ms from the fork to the first acknowledged sign-up, %" PRIu64
                   " sign-ups stored (page cache warm)\n",
                   first_ack_ms, b.stored);
        if (b.events.pid > 0 && s_wait_ready(&b, b.control, &b.events, b.o.api_port) != 0)
            figures_ok = false;
    }
    if (b.o.catch_up && b.events.pid > 0) {
        uint64_t cc, cr;
        if (s_health(&b, &cc, &cr, &head) == 0)
            catchup_eps = s_catch_up(&b, head, &catchup_s);
        if (catchup_eps < 0)
            figures_ok = false;
    }

done:
    if (b.control)
        zmq_close(b.control);
    if (b.zctx)
        zmq_ctx_term(b.zctx);
    int stop_rc = b.events.pid > 0 ? s_stop(&b.events) : -1;
    if (b.work[0]) {
        if (b.made_work && !b.o.keep)
            s_remove_tree(b.work);
        else
            printf("kept     %s\n", b.work);
    }

    if (load_ok) {
        bench_tally_t *t = &ph.sum;
        double elapsed_s = ph.elapsed_s;
        double rate = elapsed_s > 0 ? (double)t->ok / elapsed_s : 0;
        qsort(ph.lat, ph.lat_n, sizeof *ph.lat, bench_cmp_i64);
        double p50 = s_pct_ms(ph.lat, ph.lat_n, 50), p99 = s_pct_ms(ph.lat, ph.lat_n, 99);
        double max = ph.lat_n ? (double)ph.lat[ph.lat_n - 1] / 1000.0 : 0;
        /* The first health probe's own turn is inside the delta (see the header comment). */
        uint64_t commits = c1 - c0 > 0 ? c1 - c0 - 1 : 0;
        uint64_t reqs = r1 - r0 > 0 ? r1 - r0 - 1 : 0;
        double per_commit = commits ? (double)reqs / (double)commits : 0;
        double svc_pct = elapsed_s > 0 ? 100 * ph.svc_cpu_s / elapsed_s : -1;
        double svc_us = t->ok ? 1e6 * ph.svc_cpu_s / (double)t->ok : -1;
        double bench_us = t->ok ? 1e6 * ph.bench_cpu_s / (double)t->ok : -1;

        printf("stored   %" PRIu64 " sign-ups before the timed phase\n", stored_before);
        printf("sent     %" PRIu64 " sign-ups\n", t->sent);
        printf("acked    %" PRIu64 " CODE_OK, %" PRIu64 " failed, %" PRIu64 " unanswered, %" PRIu64
               " stray replies\n",
               t->ok, t->failed, t->unanswered, t->stray);
        printf("elapsed  %.3f s (first send to last reply)\n", elapsed_s);
        printf("rate     %.0f sign-ups/s acknowledged\n", rate);
        printf("latency  p50 %.3f ms, p99 %.3f ms, max %.3f ms (send to reply)\n", p50, p99, max);
        printf("commits  %" PRIu64 " (%.0f/s), %.1f sign-ups per commit\n", commits,
               elapsed_s > 0 ? (double)commits / elapsed_s : 0, per_commit);
        printf("cpu      service %.2f s (%.0f%% of one core, %.1f us per sign-up), publishers "
               "%.2f s (%.1f us per sign-up)\n",
               ph.svc_cpu_s, svc_pct, svc_us, ph.bench_cpu_s, bench_us);
        printf("rss      service peak %" PRIu64 " kB (VmHWM); at the end anonymous %" PRIu64
               " kB, file-backed (the LMDB map) %" PRIu64 " kB\n",
               rss_kb, anon_kb, file_kb);
        printf("store    data.mdb %" PRIu64 " bytes (%.2f GB; %.2f GB on disk; %.2f GB in use), "
               "%.0f bytes per stored sign-up\n",
               store_len, store_len / 1e9, store_disk / 1e9, store_used / 1e9,
               b.stored ? (double)store_used / (double)b.stored : 0);
        printf("RESULT mode=%s procs=%u clients=%u window=%u events=%u curve=%s stored=%" PRIu64
               " acked=%" PRIu64 " failed=%" PRIu64 " elapsed_s=%.3f signups_per_s=%.0f "
               "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f per_commit=%.1f svc_cpu_pct=%.0f "
               "svc_us_per_signup=%.1f bench_us_per_signup=%.1f rss_kb=%" PRIu64 " anon_kb=%" PRIu64
               " store_bytes=%" PRIu64 " prefill_s=%.1f first_ack_ms=%.1f catchup_eps=%.0f\n",
               b.o.best_case ? "best-case" : "realistic", b.o.procs, b.o.clients, b.o.window,
               b.o.events, b.o.curve ? "on" : "off", stored_before, t->ok,
               t->failed + t->unanswered + t->stray, elapsed_s, rate, p50, p99, max, per_commit,
               svc_pct, svc_us, bench_us, rss_kb, anon_kb, store_len, prefill_s, first_ack_ms,
               catchup_eps);
        if (t->failed == 0 && t->unanswered == 0 && t->stray == 0 && stop_rc == 0 && figures_ok)
            exit_code = 0;
    }
    s_phase_free(&ph);
    kp_arena_destroy(&b.arena);
    return exit_code;
}
