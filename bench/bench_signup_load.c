/*  bench_signup_load: the load of kp-bench-signup: a sign-up packed (ordered or random ids and
 *  e-mails), a publisher process (its DEALERs, windows and replies, its tally and latencies in
 *  the shared mapping), and a phase: the publishers forked, started together, waited for and
 *  aggregated. The prefill and the timed phase are both phases. */
#include "bench_signup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* The mapping shared with the publisher processes (each writes its own slot). */
typedef struct {
    bench_tally_t tally[KP_BENCH_MAX_PROCS];
    atomic_uint_fast64_t acked[KP_BENCH_MAX_PROCS]; /* for the progress lines */
} bench_shared_t;

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

/* ---- a sign-up ---------------------------------------------------------------------------- */

/* splitmix64: a fast generator good enough for keys nobody predicts. */
static uint64_t
s_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Packs a Request around body into buf. Returns its length, or 0 if it does not fit. */
size_t
bench_pack_request(uint8_t *buf, size_t cap, uint64_t request_id, const char *method,
                   const char *idem, const ProtobufCMessage *body)
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
size_t
bench_pack_signup(const bench_t *b, uint64_t *rng, const char *source, unsigned client,
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
    size_t len = bench_pack_request(buf, cap, request_id, "events.signup.submit", NULL, &sq.base);
    if (len == 0)
        abort(); /* a bug: the fields above are bounded */
    return len;
}

/* ---- a publisher process ------------------------------------------------------------------ */

/* Sends the next sign-up of client c. Returns 0, or -1 if the socket would block. */
static int
s_send_signup(bench_pub_t *p, bench_client_t *c)
{
    uint8_t buf[1024];
    uint64_t i = p->t.sent;
    size_t len =
        bench_pack_signup(p->b, &p->rng, c->source, c->idx, c->next_ext, i + 1, buf, sizeof buf);
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
    if (bench_code(r) == 0 && r->body.len > 0) {
        if (p->lat_us)
            p->lat_us[p->t.ok] = lat;
        p->t.ok++;
        atomic_store_explicit(p->acked, p->t.ok, memory_order_relaxed);
        return;
    }
    if (p->t.failed++ < KP_BENCH_SHOW_FAILURES)
        fprintf(stderr, "kp-bench-signup: publisher %u sign-up %" PRIu64 ": code %d: %s\n",
                p->proc + 1, i + 1, bench_code(r), bench_message(r));
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
        bool may_send = now < stop_sending && p->t.sent < p->quota && !bench_interrupted;
        if (!may_send && p->t.ok + p->t.failed == p->t.sent)
            break;
        if (now >= give_up || bench_interrupted)
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
    p->rng = bench_seed(p->proc);
    for (unsigned k = 0; k < p->nc; k++) {
        bench_client_t *c = &p->clients[k];
        if (b->o.random) /* one of the six sources the publisher key is bound to */
            snprintf(c->source, sizeof c->source, "publisher-%02u", p->proc % 6 + 1);
        else
            snprintf(c->source, sizeof c->source, "bench-c%02u", c->idx);
        p->clients[k].sock = bench_socket(zctx, b->o.api_port, b->o.curve ? &b->k_publisher : NULL,
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
 * record: keep the latencies (in ph->lat, until bench_phase_free). Returns 0 or -1. */
int
bench_phase(bench_t *b, bench_phase_t *ph, const char *label, uint64_t total, unsigned procs,
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
    double svc0 = bench_proc_cpu_s(b->events.pid), self0 = bench_own_cpu_s();
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
        if (bench_interrupted && !forwarded) {
            /* An interrupted phase ends as a finished one: the publishers stop sending, wait
             * for their replies and report (a kept store keeps what was acknowledged). */
            for (unsigned k = 0; k < procs; k++)
                if (kids[k] > 0)
                    kill(kids[k], SIGINT);
            forwarded = true;
        }
        int status;
        if (bench_exited(&b->events, &status)) {
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
        bench_sleep_ms(20);
    }
    ph->svc_cpu_s = bench_proc_cpu_s(b->events.pid) - svc0;
    ph->bench_cpu_s = bench_own_cpu_s() - self0;

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
    bench_state_save(b);
    return bad;
}

void
bench_phase_free(bench_phase_t *ph)
{
    if (ph->map)
        munmap(ph->map, ph->map_len);
    ph->map = NULL;
    ph->lat = NULL;
}
