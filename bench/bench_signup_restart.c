/*  bench_signup_restart: the figures of kp-bench-signup after the timed phase: the events
 *  service restarted on its store and timed from the fork to the first acknowledged sign-up
 *  (--restart), and the notifier started with an empty store and timed until it has applied
 *  the events log to its head (--catch-up; its SMTP server never answers, see the top of
 *  bench_signup.c). */
#include "bench_signup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* Stops the service, starts it again on the same store and times fork → first acknowledged
 * sign-up. Returns the milliseconds, or -1. The service is left running. */
double
bench_restart_to_first_ack(bench_t *b)
{
    if (bench_stop(&b->events) != 0)
        return -1;
    void *sock =
        bench_socket(b->zctx, b->o.api_port, b->o.curve ? &b->k_publisher : NULL, b->events_pub, 1);
    if (!sock)
        return -1;
    uint64_t rng = bench_seed(999);
    uint8_t buf[1024];
    size_t len = bench_pack_signup(b, &rng, b->o.random ? "publisher-restart" : "bench-restart", 99,
                                   b->stored, 1, buf, sizeof buf);
    double ms = -1;
    if (bench_events_start(b) != 0)
        goto done;
    /* Queued in the DEALER until the service binds and the handshake completes. */
    if (zmq_send(sock, buf, len, 0) < 0)
        goto done;
    int64_t until = b->events.fork_us + (int64_t)KP_BENCH_START_S * 1000000;
    while (kp_mono_us() < until && !bench_interrupted) {
        int status;
        if (bench_exited(&b->events, &status)) {
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
                if (bench_code(r) == 0) {
                    ms = (double)(now - b->events.fork_us) / 1000.0;
                    b->stored++;
                    bench_state_save(b);
                } else
                    fprintf(stderr, "kp-bench-signup: the first sign-up after restart: %s\n",
                            bench_message(r));
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
double
bench_catch_up(bench_t *b, uint64_t head, double *secs_out)
{
    char dir[PATH_MAX + 16], api[64], pub[64], ev_api[64], ev_pub[64], ev_key[PATH_MAX + 16],
        smtp[64];
    snprintf(dir, sizeof dir, "%s/notifier", b->work);
    bench_remove_tree(dir); /* from zero */
    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, "kp-bench-signup: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    unsigned stall_port = 0, nport = b->o.api_port + 2;
    int stall = bench_stall_listener(&stall_port);
    if (stall < 0 || !bench_port_free(nport) || !bench_port_free(nport + 1)) {
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
    bench_args(argv, &n, (char *)b->o.notifier, "--data-dir", dir, "--api", api, "--pub", pub,
               "--log-level", "warning", "--events-api", ev_api, "--events-pub", ev_pub,
               "--smtp-url", smtp, "--smtp-tls", "off", "--inflight-max", "1", "--timeout-ms",
               "3600000", "--lease-ms", "7200000", NULL);
    if (b->o.curve)
        bench_args(argv, &n, "--keys-dir", b->keys, "--key-name", "notifier", "--events-key",
                   ev_key, NULL);
    argv[n] = NULL;
    double eps = -1;
    void *sock = bench_socket(b->zctx, nport, b->o.curve ? &b->k_admin : NULL, b->notifier_pub, 1);
    b->notifier.name = "notifier";
    if (!sock || bench_spawn(&b->notifier, argv) != 0)
        goto done;
    double cpu_events0 = bench_proc_cpu_s(b->events.pid);
    int64_t until = b->notifier.fork_us + (int64_t)b->o.catchup_s * 1000000, tick = 0;
    uint64_t applied = 0;
    while (kp_mono_us() < until && !bench_interrupted) {
        Kumppani__V1__HealthReply *h = bench_health_of(b, sock, &b->notifier, 1000, true);
        int64_t now = kp_mono_us();
        if (b->notifier.pid <= 0)
            break;
        if (!h) {
            bench_sleep_ms(20);
            continue;
        }
        for (size_t i = 0; i < h->n_consumers; i++)
            if (h->consumers[i]->source && strcmp(h->consumers[i]->source, "events") == 0)
                applied = h->consumers[i]->applied_seq;
        if (applied >= head) {
            double s = (double)(now - b->notifier.fork_us) / 1e6;
            double cpu_n = bench_proc_cpu_s(b->notifier.pid),
                   cpu_e = bench_proc_cpu_s(b->events.pid);
            eps = (double)head / s;
            *secs_out = s;
            printf("catch-up notifier applied %" PRIu64 " events from zero in %.2f s: %.0f "
                   "events/s; CPU notifier %.2f s, events %.2f s; notifier RSS peak %" PRIu64
                   " kB\n",
                   head, s, eps, cpu_n, cpu_e - cpu_events0,
                   bench_proc_status_kb(b->notifier.pid, "VmHWM"));
            break;
        }
        if (now >= tick) {
            printf("catch-up t=%.0fs applied=%" PRIu64 " of %" PRIu64 "\n",
                   (double)(now - b->notifier.fork_us) / 1e6, applied, head);
            fflush(stdout);
            tick = now + 10 * 1000000;
        }
        bench_sleep_ms(20);
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
    if (b->notifier.pid > 0 && bench_stop_within(&b->notifier, KP_BENCH_NOTIFIER_STOP_S) != 0)
        fprintf(stderr, "kp-bench-signup: (the notifier only read the log here)\n");
    bench_remove_tree(dir);
    return eps;
}
