/*  kp-bench-signup: end-to-end throughput and ack latency of events.signup.submit.
 *
 *  Usage:
 *      kp-bench-signup [--clients N] [--window W] [--count N] [--seconds S]
 *                      [--service PATH] [--api-port P] [--pub-port P] [--tmp-dir DIR]
 *                      [--batch-max N] [--keep]
 *
 *      build/release/bench/kp-bench-signup --clients 4 --window 64 --count 200000
 *
 *  Measure with the release build (RelWithDebInfo); the ASan build measures ASan.
 *
 *  What it does, in order:
 *   1. makes a fresh data directory (mkdtemp under --tmp-dir, default $TMPDIR or /tmp) and
 *      starts the real service binary (--service, default the kumppani-events of this build
 *      tree) on 127.0.0.1 with --api-port / --pub-port (defaults 17201 / 17202, away from a
 *      running suite's 7201 / 7202), plain TCP, log level "warning";
 *   2. waits until it answers sys.health, then creates and publishes one event with no
 *      capacity limit, and reads the commit counters (sys.health);
 *   3. drives sign-ups from --clients DEALER sockets, each keeping --window requests in
 *      flight, all in this one thread around zmq_poll, until --count sign-ups are answered or
 *      --seconds have passed (then it waits at most KP_BENCH_GRACE_S for the stragglers);
 *   4. reads the commit counters again, the service's peak RSS (VmHWM) and CPU time, stops it
 *      with SIGTERM, and removes the data directory unless --keep.
 *
 *  Output: human-readable lines, then one line for scripts:
 *      RESULT clients=4 window=64 acked=... failed=... elapsed_s=... signups_per_s=...
 *             p50_ms=... p99_ms=... max_ms=... per_commit=... rss_kb=...
 *  The exit status is 0 only if every sign-up sent was answered CODE_OK and the service
 *  stopped cleanly.
 *
 *  Design: every sign-up is unique and keyed in order — source "bench-cNN" per client,
 *  external_id and e-mail built from a zero-padded per-client counter — because the store
 *  keys its idempotency and e-mail records by them (MACHINE-FACTS: random keys cost LMDB an
 *  order of magnitude). The service keeps syncing every commit; nothing here turns it off.
 *  Latency is send → reply on CLOCK_MONOTONIC (kp_mono_us), so it includes the client-side
 *  queueing of a full window: it is what a pipelining publisher sees.
 *
 *  "per_commit" is the mean number of sign-ups acknowledged per LMDB commit (group commit),
 *  from the HealthReply counters taken before and after the load. The first health probe is
 *  committed as a turn of its own, inside the delta, and is subtracted; the second one is not
 *  in its own reply's counters.
 *
 *  Request ids: sign-up i (0-based, over all clients) carries request_id i + 1, which indexes
 *  the send-time table; control requests carry ids with the top bit set. */
#include "kp_arena.h"
#include "kp_time.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

#define KP_BENCH_MAX_CLIENTS 64
#define KP_BENCH_MAX_WINDOW 100000
#define KP_BENCH_MAX_COUNT 50000000ull
#define KP_BENCH_GRACE_S 5    /* wait for replies this long after --seconds */
#define KP_BENCH_START_S 10   /* the service must answer sys.health within this */
#define KP_BENCH_STOP_S 10    /* and exit within this after SIGTERM */
#define KP_BENCH_CALL_MS 5000 /* one control request */
#define KP_BENCH_CONTROL (1ull << 63)
#define KP_BENCH_SHOW_FAILURES 5

typedef struct {
    const char *service;
    const char *tmp_dir;
    unsigned api_port, pub_port;
    unsigned clients, window;
    uint64_t count;
    unsigned seconds;
    unsigned batch_max; /* 0: the service's default */
    bool keep, progress;
} bench_opts_t;

typedef struct {
    void *sock;
    unsigned idx;
    uint64_t next_ext; /* the next external id of this client */
    unsigned in_flight;
} bench_client_t;

typedef struct {
    bench_opts_t o;
    char dir[PATH_MAX];
    bool have_dir;
    pid_t pid;
    int64_t fork_ms; /* wall clock just before the fork */
    void *zctx;
    void *control;
    uint64_t control_n;
    kp_arena_t *arena;
    bench_client_t clients[KP_BENCH_MAX_CLIENTS];
    uint64_t event_id;
    int64_t *sent_us; /* by request index; -1 once answered */
    int64_t *lat_us;  /* latencies of the CODE_OK replies */
    uint64_t sent, ok, failed, unanswered, stray;
    int64_t first_send_us, last_reply_us;
} bench_t;

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
    fprintf(f,
            "usage: kp-bench-signup [options]\n"
            "\n"
            "Starts the events service on loopback with a fresh data directory, creates and\n"
            "publishes one event, and measures events.signup.submit: acknowledged sign-ups per\n"
            "second, ack latency (p50, p99, max), sign-ups per LMDB commit and the service's\n"
            "peak RSS. Use the release build. Exit status 0 only if every reply was CODE_OK.\n"
            "\n"
            "  --clients N     DEALER sockets (default 4, at most %d)\n"
            "  --window W      requests in flight per client (default 64)\n"
            "  --count N       sign-ups in total (default 200000)\n"
            "  --seconds S     stop sending after S seconds (default 30)\n"
            "  --service PATH  service binary (default %s)\n"
            "  --api-port P    ROUTER port on 127.0.0.1 (default 17201)\n"
            "  --pub-port P    PUB port on 127.0.0.1 (default 17202)\n"
            "  --tmp-dir DIR   parent of the temporary data directory (default $TMPDIR or /tmp;\n"
            "                  must be a real disk, not tmpfs, for the figures to mean anything)\n"
            "  --batch-max N   pass --batch-max N to the service (default: its own default)\n"
            "  --keep          keep the data directory\n"
            "  --progress      print the acknowledged rate every second\n"
            "  --help          this text\n"
            "\n"
            "The last line of output is machine-readable:\n"
            "  RESULT clients=.. window=.. acked=.. failed=.. elapsed_s=.. signups_per_s=..\n"
            "         p50_ms=.. p99_ms=.. max_ms=.. per_commit=.. rss_kb=..\n",
            KP_BENCH_MAX_CLIENTS, KP_BENCH_DEFAULT_SERVICE);
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

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int
s_parse_args(bench_opts_t *o, int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    *o = (bench_opts_t){.service = KP_BENCH_DEFAULT_SERVICE,
                        .tmp_dir = tmp && *tmp ? tmp : "/tmp",
                        .api_port = 17201,
                        .pub_port = 17202,
                        .clients = 4,
                        .window = 64,
                        .count = 200000,
                        .seconds = 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 1;
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
        uint64_t n = 0;
        bool good = true;
        if (strcmp(name, "--service") == 0)
            o->service = v;
        else if (strcmp(name, "--tmp-dir") == 0)
            o->tmp_dir = v;
        else if (strcmp(name, "--clients") == 0) {
            good = s_parse_u64(name, v, 1, KP_BENCH_MAX_CLIENTS, &n);
            o->clients = (unsigned)n;
        } else if (strcmp(name, "--window") == 0) {
            good = s_parse_u64(name, v, 1, KP_BENCH_MAX_WINDOW, &n);
            o->window = (unsigned)n;
        } else if (strcmp(name, "--count") == 0) {
            good = s_parse_u64(name, v, 1, KP_BENCH_MAX_COUNT, &n);
            o->count = n;
        } else if (strcmp(name, "--seconds") == 0) {
            good = s_parse_u64(name, v, 1, 86400, &n);
            o->seconds = (unsigned)n;
        } else if (strcmp(name, "--api-port") == 0) {
            good = s_parse_u64(name, v, 1, 65535, &n);
            o->api_port = (unsigned)n;
        } else if (strcmp(name, "--pub-port") == 0) {
            good = s_parse_u64(name, v, 1, 65535, &n);
            o->pub_port = (unsigned)n;
        } else if (strcmp(name, "--batch-max") == 0) {
            good = s_parse_u64(name, v, 1, 1000000, &n);
            o->batch_max = (unsigned)n;
        } else {
            fprintf(stderr, "kp-bench-signup: unknown flag '%s' (see --help)\n", name);
            return 2;
        }
        if (!good)
            return 2;
    }
    if (o->api_port == o->pub_port) {
        fprintf(stderr, "kp-bench-signup: --api-port and --pub-port must differ\n");
        return 2;
    }
    return 0;
}

/* ---- the service process ------------------------------------------------------------------ */

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

/* Starts the service on the temporary directory. Returns 0 or -1 (reason printed). */
static int
s_service_start(bench_t *b)
{
    char api[64], pub[64], batch[24];
    snprintf(api, sizeof api, "tcp://127.0.0.1:%u", b->o.api_port);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%u", b->o.pub_port);
    snprintf(batch, sizeof batch, "%u", b->o.batch_max);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)b->o.service;
    argv[n++] = "--data-dir";
    argv[n++] = b->dir;
    argv[n++] = "--api";
    argv[n++] = api;
    argv[n++] = "--pub";
    argv[n++] = pub;
    argv[n++] = "--log-level";
    argv[n++] = "warning";
    if (b->o.batch_max) {
        argv[n++] = "--batch-max";
        argv[n++] = batch;
    }
    argv[n] = NULL;

    fflush(NULL);
    b->fork_ms = kp_now_ms();
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
        /* Plain TCP on loopback: a CURVE key directory from the environment would make the
         * service refuse our unauthenticated sockets. */
        unsetenv("KP_KEYS_DIR");
        unsetenv("KP_ALLOW");
        execv(b->o.service, argv);
        fprintf(stderr, "kp-bench-signup: cannot run %s: %s\n", b->o.service, strerror(errno));
        _exit(127);
    }
    b->pid = pid;
    return 0;
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

static double
s_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
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

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reaps the service if it has exited. Returns true (with its status) if it has. */
static bool
s_service_exited(bench_t *b, int *status)
{
    if (b->pid <= 0)
        return true;
    pid_t r = waitpid(b->pid, status, WNOHANG);
    if (r == b->pid) {
        b->pid = 0;
        return true;
    }
    return false;
}

/* SIGTERM, then wait; SIGKILL after KP_BENCH_STOP_S. Returns 0 for a clean exit, else -1. */
static int
s_service_stop(bench_t *b)
{
    if (b->pid <= 0)
        return -1;
    int status = 0;
    kill(b->pid, SIGTERM);
    int64_t until = kp_mono_us() + (int64_t)KP_BENCH_STOP_S * 1000000;
    while (!s_service_exited(b, &status)) {
        if (kp_mono_us() > until) {
            fprintf(stderr, "kp-bench-signup: service ignored SIGTERM for %d s; killing it\n",
                    KP_BENCH_STOP_S);
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
            b->pid = 0;
            return -1;
        }
        s_sleep_ms(10);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "kp-bench-signup: service exited with status %d\n", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "kp-bench-signup: service died of signal %d\n", WTERMSIG(status));
    return -1;
}

/* Removes the data directory and the files in it (LMDB keeps a flat directory). */
static void
s_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[PATH_MAX + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) != 0)
                fprintf(stderr, "kp-bench-signup: cannot remove %s: %s\n", path, strerror(errno));
        }
        closedir(d);
    }
    if (rmdir(dir) != 0)
        fprintf(stderr, "kp-bench-signup: cannot remove %s: %s\n", dir, strerror(errno));
}

/* ---- requests ----------------------------------------------------------------------------- */

static void *
s_socket(bench_t *b)
{
    void *s = zmq_socket(b->zctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    /* Room for a whole window each way, so that a send never meets the high-water mark. */
    int hwm = (int)b->o.window * 2 + 64, linger = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", b->o.api_port);
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

/* Sends one control request on the control socket and waits for its reply, ignoring replies
 * to earlier requests. Returns the reply (valid until the arena is reset), or NULL after
 * timeout_ms, an interrupt, or the service's exit. */
static Kumppani__V1__Reply *
s_call(bench_t *b, const char *method, const char *idem, const ProtobufCMessage *body,
       int timeout_ms)
{
    uint8_t buf[2048];
    uint64_t rid = KP_BENCH_CONTROL | ++b->control_n;
    size_t len = s_pack_request(buf, sizeof buf, rid, method, idem, body);
    if (len == 0 || zmq_send(b->control, buf, len, 0) < 0)
        return NULL;
    int64_t until = kp_mono_us() + (int64_t)timeout_ms * 1000;
    while (!s_interrupted) {
        int64_t left_ms = (until - kp_mono_us()) / 1000;
        if (left_ms <= 0)
            return NULL;
        int status;
        if (s_service_exited(b, &status)) {
            fprintf(stderr, "kp-bench-signup: the service exited (status %d)\n", status);
            return NULL;
        }
        zmq_pollitem_t it = {b->control, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left_ms > 100 ? 100 : (long)left_ms) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, b->control, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        kp_arena_reset(b->arena);
        Kumppani__V1__Reply *r =
            kumppani__v1__reply__unpack(kp_arena_pbc(b->arena), zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (r && r->request_id == rid)
            return r;
    }
    return NULL;
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

/* Sends sys.health until the service answers it, for at most KP_BENCH_START_S. */
static int
s_wait_ready(bench_t *b)
{
    int64_t until = kp_mono_us() + (int64_t)KP_BENCH_START_S * 1000000;
    while (kp_mono_us() < until && !s_interrupted) {
        Kumppani__V1__HealthRequest hq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
        Kumppani__V1__Reply *r = s_call(b, "sys.health", NULL, &hq.base, 250);
        if (r && s_code(r) == 0) {
            /* Make sure it is our service that answers, not one started earlier. */
            Kumppani__V1__HealthReply *h = kumppani__v1__health_reply__unpack(
                kp_arena_pbc(b->arena), r->body.len, r->body.data);
            if (h && h->started_ms + 1000 >= b->fork_ms)
                return 0;
            fprintf(stderr,
                    "kp-bench-signup: port %u is answered by a service started before "
                    "this benchmark; use --api-port\n",
                    b->o.api_port);
            return -1;
        }
        if (b->pid <= 0)
            return -1;
    }
    fprintf(stderr, "kp-bench-signup: the service did not answer sys.health within %d s\n",
            KP_BENCH_START_S);
    return -1;
}

/* Reads the commit counters. Returns 0 or -1. */
static int
s_health(bench_t *b, uint64_t *commits, uint64_t *requests)
{
    Kumppani__V1__HealthRequest hq = KUMPPANI__V1__HEALTH_REQUEST__INIT;
    Kumppani__V1__Reply *r = s_call(b, "sys.health", NULL, &hq.base, KP_BENCH_CALL_MS);
    if (!r || s_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: sys.health failed: %s\n", r ? s_message(r) : "no reply");
        return -1;
    }
    Kumppani__V1__HealthReply *h =
        kumppani__v1__health_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
    if (!h)
        return -1;
    *commits = h->commits;
    *requests = h->committed_requests;
    return 0;
}

/* Creates and publishes the event every sign-up goes to: a seminar a month ahead, no limit. */
static int
s_make_event(bench_t *b)
{
    int64_t start = kp_now_ms() / 1000 + 30 * 24 * 3600;
    Kumppani__V1__CreateEventRequest cq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    cq.kind = KUMPPANI__V1__EVENT_KIND__KIND_SEMINAR;
    cq.title = "Benchmark seminar";
    cq.municipality_code = "743";
    cq.start_unix = start;
    cq.end_unix = start + 2 * 3600;
    cq.capacity = 0;
    cq.place = "Loopback";
    cq.language = "fi";
    char idem[64];
    snprintf(idem, sizeof idem, "kp-bench-signup-%d-%" PRId64, (int)getpid(), kp_now_ms());
    Kumppani__V1__Reply *r = s_call(b, "events.event.create", idem, &cq.base, KP_BENCH_CALL_MS);
    if (!r || s_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.create failed: %s\n",
                r ? s_message(r) : "no reply");
        return -1;
    }
    Kumppani__V1__EventReply *er =
        kumppani__v1__event_reply__unpack(kp_arena_pbc(b->arena), r->body.len, r->body.data);
    if (!er || !er->event || !er->event->id) {
        fprintf(stderr, "kp-bench-signup: events.event.create: reply has no event\n");
        return -1;
    }
    b->event_id = er->event->id;
    Kumppani__V1__EventRef ref = KUMPPANI__V1__EVENT_REF__INIT;
    ref.event_id = b->event_id;
    r = s_call(b, "events.event.publish", NULL, &ref.base, KP_BENCH_CALL_MS);
    if (!r || s_code(r) != 0) {
        fprintf(stderr, "kp-bench-signup: events.event.publish failed: %s\n",
                r ? s_message(r) : "no reply");
        return -1;
    }
    return 0;
}

/* ---- the load ----------------------------------------------------------------------------- */

/* Sends the next sign-up of client c. Returns 0, or -1 if the socket would block. */
static int
s_send_signup(bench_t *b, bench_client_t *c)
{
    char source[16], ext[24], email[64];
    snprintf(source, sizeof source, "bench-c%02u", c->idx);
    snprintf(ext, sizeof ext, "%012" PRIu64, c->next_ext);
    snprintf(email, sizeof email, "c%02u-%012" PRIu64 "@bench.example", c->idx, c->next_ext);
    Kumppani__V1__SubmitSignupRequest sq = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    sq.event_id = b->event_id;
    sq.source = source;
    sq.external_id = ext;
    sq.name = "Bench Participant";
    sq.email = email;
    sq.role = KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_RESIDENT;
    sq.language = "fi";
    uint8_t buf[1024];
    uint64_t i = b->sent;
    size_t len = s_pack_request(buf, sizeof buf, i + 1, "events.signup.submit", NULL, &sq.base);
    if (len == 0)
        abort(); /* a bug: the fields above are fixed-size */
    int64_t now = kp_mono_us();
    if (zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) < 0)
        return -1;
    if (b->sent == 0)
        b->first_send_us = now;
    b->sent_us[i] = now;
    b->sent++;
    c->next_ext++;
    c->in_flight++;
    return 0;
}

/* Handles one reply frame on client c. */
static void
s_on_reply(bench_t *b, bench_client_t *c, zmq_msg_t *m, int64_t now)
{
    kp_arena_reset(b->arena);
    Kumppani__V1__Reply *r =
        kumppani__v1__reply__unpack(kp_arena_pbc(b->arena), zmq_msg_size(m), zmq_msg_data(m));
    if (!r || r->request_id == 0 || r->request_id > b->sent || b->sent_us[r->request_id - 1] < 0) {
        b->stray++; /* undecodable, unknown or answered twice: counted, then a failure */
        return;
    }
    uint64_t i = r->request_id - 1;
    int64_t lat = now - b->sent_us[i];
    b->sent_us[i] = -1;
    c->in_flight--;
    b->last_reply_us = now;
    if (s_code(r) == 0 && r->body.len > 0) {
        b->lat_us[b->ok++] = lat;
        return;
    }
    if (b->failed++ < KP_BENCH_SHOW_FAILURES)
        fprintf(stderr, "kp-bench-signup: sign-up %" PRIu64 ": code %d: %s\n", i + 1, s_code(r),
                s_message(r));
}

/* Drives the sign-ups; bounded by --count, by --seconds, and by a grace period for the last
 * replies. */
static void
s_run_load(bench_t *b)
{
    unsigned nc = b->o.clients;
    zmq_pollitem_t items[KP_BENCH_MAX_CLIENTS];
    for (unsigned k = 0; k < nc; k++)
        items[k] = (zmq_pollitem_t){b->clients[k].sock, 0, ZMQ_POLLIN, 0};
    int64_t start = kp_mono_us();
    int64_t stop_sending = start + (int64_t)b->o.seconds * 1000000;
    int64_t give_up = stop_sending + (int64_t)KP_BENCH_GRACE_S * 1000000;
    uint64_t answered = 0, tick_ok = 0;
    int64_t tick = start + 1000000;
    for (;;) {
        int64_t now = kp_mono_us();
        if (b->o.progress && now >= tick) {
            printf("progress t=%.0fs acked=%" PRIu64 " rate=%" PRIu64 "/s in_flight=%" PRIu64 "\n",
                   (double)(tick - start) / 1e6, b->ok, b->ok - tick_ok,
                   b->sent - b->ok - b->failed);
            fflush(stdout);
            tick_ok = b->ok;
            tick += 1000000;
        }
        bool may_send = now < stop_sending && b->sent < b->o.count && !s_interrupted;
        answered = b->ok + b->failed;
        if (!may_send && answered == b->sent)
            break;
        if (now >= give_up || s_interrupted)
            break;
        if (may_send) {
            /* Top every window up, clients in turn, one request each round, so that they
             * interleave on the wire as independent publishers would. */
            bool progress = true;
            while (progress && b->sent < b->o.count) {
                progress = false;
                for (unsigned k = 0; k < nc && b->sent < b->o.count; k++) {
                    bench_client_t *c = &b->clients[k];
                    if (c->in_flight < b->o.window && s_send_signup(b, c) == 0)
                        progress = true;
                }
            }
        }
        long wait_ms = (long)((give_up - now) / 1000);
        if (wait_ms > 100)
            wait_ms = 100;
        int n = zmq_poll(items, (int)nc, wait_ms);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        now = kp_mono_us();
        for (unsigned k = 0; k < nc; k++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            /* Drain the socket: every reply frees a window slot. */
            while (zmq_msg_recv(&m, b->clients[k].sock, ZMQ_DONTWAIT) >= 0)
                s_on_reply(b, &b->clients[k], &m, now);
            zmq_msg_close(&m);
        }
    }
    b->unanswered = b->sent - (b->ok + b->failed);
}

/* ---- results ------------------------------------------------------------------------------ */

static int
s_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, c = *(const int64_t *)y;
    return (a > c) - (a < c);
}

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

int
main(int argc, char **argv)
{
    bench_t b = {0};
    int rc = s_parse_args(&b.o, argc, argv);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (access(b.o.service, X_OK) != 0) {
        fprintf(stderr, "kp-bench-signup: cannot run %s: %s (see --service)\n", b.o.service,
                strerror(errno));
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    bool load_ok = false;
    uint64_t c0 = 0, r0 = 0, c1 = 0, r1 = 0, rss_kb = 0, anon_kb = 0, file_kb = 0;
    double svc_cpu0 = -1, svc_cpu1 = -1, self_cpu0 = 0, self_cpu1 = 0;
    b.sent_us = malloc(b.o.count * sizeof *b.sent_us);
    b.lat_us = malloc(b.o.count * sizeof *b.lat_us);
    b.arena = kp_arena_new(1u << 20);
    b.zctx = zmq_ctx_new();
    if (!b.sent_us || !b.lat_us || !b.zctx) {
        fprintf(stderr, "kp-bench-signup: out of memory\n");
        goto done;
    }
    int n = snprintf(b.dir, sizeof b.dir, "%s/kp-bench-signup-XXXXXX", b.o.tmp_dir);
    if (n < 0 || (size_t)n >= sizeof b.dir || !mkdtemp(b.dir)) {
        fprintf(stderr, "kp-bench-signup: cannot make a directory under %s: %s\n", b.o.tmp_dir,
                strerror(errno));
        goto done;
    }
    b.have_dir = true;
    if (!s_port_free(b.o.api_port) || !s_port_free(b.o.pub_port)) {
        fprintf(stderr,
                "kp-bench-signup: 127.0.0.1:%u or :%u is in use; choose --api-port and "
                "--pub-port\n",
                b.o.api_port, b.o.pub_port);
        goto done;
    }
    s_print_loadavg("before");
    if (s_service_start(&b) != 0)
        goto done;
    printf("service  %s (pid %d)\n", b.o.service, (int)b.pid);
    printf("data dir %s\n", b.dir);
    char batch[24] = "default";
    if (b.o.batch_max)
        snprintf(batch, sizeof batch, "%u", b.o.batch_max);
    printf("config   clients=%u window=%u count=%" PRIu64 " seconds=%u batch-max=%s\n", b.o.clients,
           b.o.window, b.o.count, b.o.seconds, batch);
    fflush(stdout);

    if (!(b.control = s_socket(&b)))
        goto done;
    for (unsigned k = 0; k < b.o.clients; k++) {
        b.clients[k].idx = k + 1;
        if (!(b.clients[k].sock = s_socket(&b))) {
            fprintf(stderr, "kp-bench-signup: cannot connect: %s\n", zmq_strerror(zmq_errno()));
            goto done;
        }
    }
    if (s_wait_ready(&b) != 0 || s_make_event(&b) != 0 || s_health(&b, &c0, &r0) != 0)
        goto done;

    svc_cpu0 = s_proc_cpu_s(b.pid);
    self_cpu0 = s_self_cpu_s();
    s_run_load(&b);
    self_cpu1 = s_self_cpu_s();
    svc_cpu1 = s_proc_cpu_s(b.pid);
    if (s_interrupted) {
        fprintf(stderr, "kp-bench-signup: interrupted\n");
        goto done;
    }
    if (s_health(&b, &c1, &r1) != 0)
        goto done;
    rss_kb = s_proc_status_kb(b.pid, "VmHWM");
    /* Most of the peak is data.mdb mapped by LMDB (page cache, shared, reclaimable); the
     * anonymous part is what the service itself allocates. */
    anon_kb = s_proc_status_kb(b.pid, "RssAnon");
    file_kb = s_proc_status_kb(b.pid, "RssFile");
    s_print_loadavg("after");
    load_ok = true;

done:
    if (b.control)
        zmq_close(b.control);
    for (unsigned k = 0; k < b.o.clients; k++)
        if (b.clients[k].sock)
            zmq_close(b.clients[k].sock);
    if (b.zctx)
        zmq_ctx_term(b.zctx);
    int stop_rc = b.pid > 0 ? s_service_stop(&b) : -1;
    if (b.have_dir) {
        if (b.o.keep)
            printf("kept     %s\n", b.dir);
        else
            s_remove_dir(b.dir);
    }

    if (load_ok) {
        double elapsed_s =
            b.last_reply_us > b.first_send_us ? (b.last_reply_us - b.first_send_us) / 1e6 : 0;
        double rate = elapsed_s > 0 ? (double)b.ok / elapsed_s : 0;
        qsort(b.lat_us, b.ok, sizeof *b.lat_us, s_cmp_i64);
        double p50 = s_pct_ms(b.lat_us, b.ok, 50), p99 = s_pct_ms(b.lat_us, b.ok, 99);
        double max = b.ok ? (double)b.lat_us[b.ok - 1] / 1000.0 : 0;
        /* The first health probe's own turn is inside the delta (see the header comment). */
        uint64_t commits = c1 - c0 > 0 ? c1 - c0 - 1 : 0;
        uint64_t reqs = r1 - r0 > 0 ? r1 - r0 - 1 : 0;
        double per_commit = commits ? (double)reqs / (double)commits : 0;
        double svc_cpu = svc_cpu0 >= 0 && svc_cpu1 >= 0 ? svc_cpu1 - svc_cpu0 : -1;
        double self_cpu = self_cpu1 - self_cpu0;

        printf("sent     %" PRIu64 " sign-ups\n", b.sent);
        printf("acked    %" PRIu64 " CODE_OK, %" PRIu64 " failed, %" PRIu64 " unanswered, %" PRIu64
               " stray replies\n",
               b.ok, b.failed, b.unanswered, b.stray);
        printf("elapsed  %.3f s (first send to last reply)\n", elapsed_s);
        printf("rate     %.0f sign-ups/s acknowledged\n", rate);
        printf("latency  p50 %.3f ms, p99 %.3f ms, max %.3f ms (send to reply)\n", p50, p99, max);
        printf("commits  %" PRIu64 " (%.0f/s), %.1f sign-ups per commit\n", commits,
               elapsed_s > 0 ? (double)commits / elapsed_s : 0, per_commit);
        if (svc_cpu >= 0 && elapsed_s > 0)
            printf("cpu      service %.2f s (%.0f%% of one core), benchmark %.2f s (%.0f%%)\n",
                   svc_cpu, 100 * svc_cpu / elapsed_s, self_cpu, 100 * self_cpu / elapsed_s);
        printf("rss      service peak %" PRIu64 " kB (VmHWM); at the end anonymous %" PRIu64
               " kB, file-backed (the LMDB map) %" PRIu64 " kB\n",
               rss_kb, anon_kb, file_kb);
        printf("RESULT clients=%u window=%u acked=%" PRIu64 " failed=%" PRIu64
               " elapsed_s=%.3f signups_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
               "per_commit=%.1f rss_kb=%" PRIu64 "\n",
               b.o.clients, b.o.window, b.ok, b.failed + b.unanswered + b.stray, elapsed_s, rate,
               p50, p99, max, per_commit, rss_kb);
        if (b.failed == 0 && b.unanswered == 0 && b.stray == 0 && stop_rc == 0)
            exit_code = 0;
    }
    free(b.sent_us);
    free(b.lat_us);
    kp_arena_destroy(&b.arena);
    return exit_code;
}
