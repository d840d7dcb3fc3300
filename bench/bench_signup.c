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
 *  process's send-time table; control requests carry ids with the top bit set.
 *
 *  This file holds the run in order (main) and its report; bench_signup.h lists the other
 *  files of the benchmark, one concern each (options, processes and the work directory,
 *  control requests, the load, restart and catch-up). */
#include "bench_signup.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

volatile sig_atomic_t bench_interrupted;

static void
s_on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

/* ---- results ------------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    static bench_t b; /* large: the event ids */
    int rc = bench_parse_args(&b.o, argc, argv);
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
    if (bench_work_dir(&b) != 0 || (b.o.curve && bench_keys(&b) != 0))
        goto done;
    if (!bench_port_free(b.o.api_port) || !bench_port_free(b.o.pub_port)) {
        fprintf(stderr,
                "kp-bench-signup: 127.0.0.1:%u or :%u is in use; choose --api-port and "
                "--pub-port\n",
                b.o.api_port, b.o.pub_port);
        goto done;
    }
    bench_print_loadavg("before");
    if (bench_events_start(&b) != 0)
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
              bench_socket(b.zctx, b.o.api_port, b.o.curve ? &b.k_admin : NULL, b.events_pub, 64)))
        goto done;
    if (bench_wait_ready(&b, b.control, &b.events, b.o.api_port) != 0 || bench_make_events(&b) != 0)
        goto done;

    if (b.stored < b.o.prefill) {
        uint64_t need = b.o.prefill - b.stored;
        printf("prefill  %" PRIu64 " sign-ups (store has %" PRIu64 ")\n", need, b.stored);
        fflush(stdout);
        bench_phase_t pf;
        int prc = bench_phase(&b, &pf, "prefill", need, KP_BENCH_PREFILL_PROCS,
                              KP_BENCH_PREFILL_CLIENTS, KP_BENCH_PREFILL_WINDOW, 86400, false, 10);
        prefill_s = pf.elapsed_s;
        printf("prefill  %" PRIu64 " acked in %.1f s (%.0f/s), %" PRIu64
               " failed; store holds %" PRIu64 "\n",
               pf.sum.ok, pf.elapsed_s, pf.elapsed_s > 0 ? (double)pf.sum.ok / pf.elapsed_s : 0,
               pf.sum.failed + pf.sum.unanswered + pf.sum.stray, b.stored);
        bench_phase_free(&pf);
        if (prc != 0 || bench_interrupted)
            goto done;
    }
    stored_before = b.stored;
    if (bench_health(&b, &c0, &r0, NULL) != 0)
        goto done;
    int lrc = bench_phase(&b, &ph, "progress", b.o.count, b.o.procs, b.o.clients, b.o.window,
                          b.o.seconds, true, b.o.progress ? 1 : 0);
    (void)lrc; /* the tally says what failed */
    if (bench_interrupted) {
        fprintf(stderr, "kp-bench-signup: interrupted\n");
        goto done;
    }
    Kumppani__V1__HealthReply *h =
        bench_health_of(&b, b.control, &b.events, KP_BENCH_CALL_MS, false);
    if (!h)
        goto done;
    c1 = h->commits;
    r1 = h->committed_requests;
    store_used = h->store_used_bytes;
    rss_kb = bench_proc_status_kb(b.events.pid, "VmHWM");
    /* Most of the peak is data.mdb mapped by LMDB (page cache, shared, reclaimable); the
     * anonymous part is what the service itself allocates. */
    anon_kb = bench_proc_status_kb(b.events.pid, "RssAnon");
    file_kb = bench_proc_status_kb(b.events.pid, "RssFile");
    bench_store_size(&b, &store_len, &store_disk);
    bench_print_loadavg("after");
    load_ok = true;

    if (b.o.restart) {
        first_ack_ms = bench_restart_to_first_ack(&b);
        if (first_ack_ms < 0)
            figures_ok = false;
        else
            printf("restart  %.1f ms from the fork to the first acknowledged sign-up, %" PRIu64
                   " sign-ups stored (page cache warm)\n",
                   first_ack_ms, b.stored);
        if (b.events.pid > 0 && bench_wait_ready(&b, b.control, &b.events, b.o.api_port) != 0)
            figures_ok = false;
    }
    if (b.o.catch_up && b.events.pid > 0) {
        uint64_t cc, cr;
        if (bench_health(&b, &cc, &cr, &head) == 0)
            catchup_eps = bench_catch_up(&b, head, &catchup_s);
        if (catchup_eps < 0)
            figures_ok = false;
    }

done:
    if (b.control)
        zmq_close(b.control);
    if (b.zctx)
        zmq_ctx_term(b.zctx);
    int stop_rc = b.events.pid > 0 ? bench_stop(&b.events) : -1;
    if (b.work[0]) {
        if (b.made_work && !b.o.keep)
            bench_remove_tree(b.work);
        else
            printf("kept     %s\n", b.work);
    }

    if (load_ok) {
        bench_tally_t *t = &ph.sum;
        double elapsed_s = ph.elapsed_s;
        double rate = elapsed_s > 0 ? (double)t->ok / elapsed_s : 0;
        qsort(ph.lat, ph.lat_n, sizeof *ph.lat, bench_cmp_i64);
        double p50 = bench_pct(ph.lat, ph.lat_n, 50) / 1000,
               p99 = bench_pct(ph.lat, ph.lat_n, 99) / 1000;
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
    bench_phase_free(&ph);
    kp_arena_destroy(&b.arena);
    return exit_code;
}
