/*  bench_signup_proc: what kp-bench-signup does on this machine: small helpers (sleep, seed,
 *  a free loopback port, a listener that never accepts, CPU and RSS from /proc, the load
 *  average), the work directory with its keys (the format of kp_keypair_save) and bench-state,
 *  and the service processes: started with fork + execv, stopped with SIGTERM. */
#include "bench_signup.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* ---- small helpers ------------------------------------------------------------------------ */

void
bench_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A seed that differs per process and per run. */
uint64_t
bench_seed(unsigned salt)
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
bool
bench_port_free(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return true; /* cannot tell; the started_ms check in bench_wait_ready still guards */
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
int
bench_stall_listener(unsigned *port)
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
uint64_t
bench_proc_status_kb(pid_t pid, const char *key)
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
double
bench_proc_cpu_s(pid_t pid)
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
double
bench_own_cpu_s(void)
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
void
bench_print_loadavg(const char *when)
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
void
bench_remove_tree(const char *dir)
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
                bench_remove_tree(path);
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
int
bench_keys(bench_t *b)
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

void
bench_state_save(const bench_t *b)
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

/* data.mdb: its length and the bytes it occupies on disk. */
void
bench_store_size(const bench_t *b, uint64_t *len, uint64_t *disk)
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
int
bench_work_dir(bench_t *b)
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

/* ---- the service processes ---------------------------------------------------------------- */

/* Appends the arguments up to NULL to argv at *n (the caller sized argv for them). */
void
bench_args(char **argv, int *n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[(*n)++] = a;
    va_end(ap);
}

int
bench_spawn(bench_svc_t *svc, char **argv)
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
int
bench_events_start(bench_t *b)
{
    char api[64], pub[64], batch[24], map[24];
    snprintf(api, sizeof api, "tcp://127.0.0.1:%u", b->o.api_port);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%u", b->o.pub_port);
    snprintf(batch, sizeof batch, "%u", b->o.batch_max);
    snprintf(map, sizeof map, "%u", b->o.map_mb);
    char *argv[24];
    int n = 0;
    bench_args(argv, &n, (char *)b->o.service, "--data-dir", b->store, "--api", api, "--pub", pub,
               "--log-level", "warning", NULL);
    if (b->o.batch_max)
        bench_args(argv, &n, "--batch-max", batch, NULL);
    if (b->o.map_mb)
        bench_args(argv, &n, "--map-size-mb", map, NULL);
    if (b->o.curve)
        bench_args(argv, &n, "--keys-dir", b->keys, "--key-name", "events", NULL);
    argv[n] = NULL;
    b->events.name = "events";
    return bench_spawn(&b->events, argv);
}

/* Reaps a service if it has exited. Returns true (with its status) if it has. */
bool
bench_exited(bench_svc_t *svc, int *status)
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
int
bench_stop_within(bench_svc_t *svc, unsigned wait_s)
{
    if (svc->pid <= 0)
        return -1;
    int status = 0;
    kill(svc->pid, SIGTERM);
    int64_t until = kp_mono_us() + (int64_t)wait_s * 1000000;
    while (!bench_exited(svc, &status)) {
        if (kp_mono_us() > until) {
            fprintf(stderr, "kp-bench-signup: %s ignored SIGTERM for %u s; killing it\n", svc->name,
                    wait_s);
            kill(svc->pid, SIGKILL);
            waitpid(svc->pid, &status, 0);
            svc->pid = 0;
            return -1;
        }
        bench_sleep_ms(10);
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

int
bench_stop(bench_svc_t *svc)
{
    return bench_stop_within(svc, KP_BENCH_STOP_S);
}
