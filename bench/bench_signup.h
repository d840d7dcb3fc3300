/*  bench_signup.h: the private header of kp-bench-signup (its usage and design are at the top
 *  of bench_signup.c): the limits, the state of a run, and what its files share.
 *
 *  The files, one concern each:
 *      bench_signup.c          the run in order (main) and its report: the human lines, RESULT
 *      bench_signup_args.c     the options: --help, parsing, --best-case
 *      bench_signup_proc.c     this machine: the services started and stopped, /proc figures,
 *                              loopback ports, the work directory, its keys and bench-state
 *      bench_signup_rpc.c      control requests to a service: DEALERs, sys.health, the events
 *      bench_signup_load.c     the load: sign-ups packed, the publisher processes, a phase
 *      bench_signup_restart.c  the figures after the load: restart to the first ack and the
 *                              notifier's catch-up
 *
 *  The publisher's hot path (packing, sending, replies) stays within bench_signup_load.c, so
 *  that the compiler sees it whole as before. */
#ifndef KP_BENCH_SIGNUP_H
#define KP_BENCH_SIGNUP_H

#include "bench_util.h"
#include "kp_arena.h"
#include "kp_time.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Set by SIGINT and SIGTERM: every loop ends as a finished one. */
extern volatile sig_atomic_t bench_interrupted;

static inline int
bench_code(const Kumppani__V1__Reply *r)
{
    return r->status ? (int)r->status->code : 0; /* proto3: an absent Status is CODE_OK */
}

static inline const char *
bench_message(const Kumppani__V1__Reply *r)
{
    return r->status && r->status->message ? r->status->message : "";
}

/* bench_signup_args.c */
int bench_parse_args(bench_opts_t *o, int argc, char **argv);

/* bench_signup_proc.c */
void bench_sleep_ms(unsigned ms);
uint64_t bench_seed(unsigned salt);
bool bench_port_free(unsigned port);
int bench_stall_listener(unsigned *port);
uint64_t bench_proc_status_kb(pid_t pid, const char *key);
double bench_proc_cpu_s(pid_t pid);
double bench_own_cpu_s(void);
void bench_print_loadavg(const char *when);
void bench_remove_tree(const char *dir);
int bench_keys(bench_t *b);
void bench_state_save(const bench_t *b);
void bench_store_size(const bench_t *b, uint64_t *len, uint64_t *disk);
int bench_work_dir(bench_t *b);
void bench_args(char **argv, int *n, ...);
int bench_spawn(bench_svc_t *svc, char **argv);
int bench_events_start(bench_t *b);
bool bench_exited(bench_svc_t *svc, int *status);
int bench_stop_within(bench_svc_t *svc, unsigned wait_s);
int bench_stop(bench_svc_t *svc);

/* bench_signup_rpc.c */
void *bench_socket(void *zctx, unsigned port, const kp_keypair_t *kp, const char *server_pub,
                   unsigned window);
Kumppani__V1__HealthReply *bench_health_of(bench_t *b, void *sock, bench_svc_t *svc, int timeout_ms,
                                           bool quiet);
int bench_wait_ready(bench_t *b, void *sock, bench_svc_t *svc, unsigned port);
int bench_health(bench_t *b, uint64_t *commits, uint64_t *requests, uint64_t *head);
int bench_make_events(bench_t *b);

/* bench_signup_load.c */
size_t bench_pack_request(uint8_t *buf, size_t cap, uint64_t request_id, const char *method,
                          const char *idem, const ProtobufCMessage *body);
size_t bench_pack_signup(const bench_t *b, uint64_t *rng, const char *source, unsigned client,
                         uint64_t counter, uint64_t request_id, uint8_t *buf, size_t cap);
int bench_phase(bench_t *b, bench_phase_t *ph, const char *label, uint64_t total, unsigned procs,
                unsigned clients, unsigned window, unsigned seconds, bool record,
                unsigned progress_s);
void bench_phase_free(bench_phase_t *ph);

/* bench_signup_restart.c */
double bench_restart_to_first_ack(bench_t *b);
double bench_catch_up(bench_t *b, uint64_t head, double *secs_out);

#endif
