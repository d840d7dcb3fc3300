/*  kp_consumer: replay + live follow with offsets stored beside the effect.
 *
 *  Positions: `applied` is the committed offset; `pending` the offset inside the server's
 *  open turn. Every apply advances pending; turn_done() moves it to applied on success or
 *  back to applied on failure (and replays, since the events are gone from memory).
 *
 *  Replay: at most one request is in flight (`replaying`, `replay_rid`). A page's events
 *  above pending are applied in order; if the page ends below its head_seq the next page is
 *  asked for at once, otherwise the replay is over and the FIFO of early live events drains. */
#include "kp_consumer.h"

#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"
#include "kp_zwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define KP_CONSUMER_BUDGET 4096 /* live events read per wake-up */
#define KP_CONSUMER_FIFO 8192
#define KP_REPLAY_PAGE 4000 /* the most log.replay gives (kp_server.c) */

typedef struct {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
} early_t;

struct kp_consumer {
    kp_server_t *srv;
    kp_consumer_opts_t opts;
    char *source, *api, *pub, *server_pub;
    kp_keypair_t keys;
    bool have_keys;
    void *sub, *dealer, *mon;
    kp_zwatch_t *sub_watch, *dealer_watch, *mon_watch;
    bool connected;
    int64_t down_since_ms, last_heard_ms;
    uv_timer_t timer;
    kp_arena_t *arena;
    uint64_t applied, pending, source_head;
    bool replaying, stopped, failed;
    uint64_t replay_rid, rid_seq;
    int64_t replay_sent_us;
    uint64_t live_n, dropped_n, replays_n;
    early_t *fifo;
    size_t fifo_head, fifo_n;
};

static void s_replay_send(kp_consumer_t *self);

/* ---- applying ---------------------------------------------------------------------------- */

/* Applies one decoded event if it is the next one. Returns 0 (applied or skipped), 1 if it
 * is ahead of pending (a gap), or a KP code. */
static int
s_apply(kp_consumer_t *self, const Kumppani__V1__Event *ev)
{
    if (ev->seq <= self->pending)
        return 0;
    if (ev->seq != self->pending + 1)
        return 1;
    MDB_txn *txn;
    int rc = kp_server_txn(self->srv, &txn);
    if (rc)
        return rc;
    rc = self->opts.apply(self->opts.arg, self->srv, txn, ev);
    if (rc == 0)
        rc = kp_store_offset_put(kp_server_store(self->srv), txn, self->source, ev->seq);
    if (rc) {
        kp_log_err("consumer.apply", "source=%s seq=%llu err=%d what=\"%s\"", self->source,
                   (unsigned long long)ev->seq, rc, kp_strerror(rc));
        /* The apply may have written half its effect: the whole turn goes. */
        kp_server_abort_turn(self->srv, rc);
        return rc;
    }
    self->pending = ev->seq;
    if (ev->seq > self->source_head)
        self->source_head = ev->seq;
    return 0;
}

static Kumppani__V1__Event *
s_decode_event(kp_consumer_t *self, const void *bytes, size_t len)
{
    char why[KP_WIRE_WHY];
    int err;
    Kumppani__V1__Event *ev = (Kumppani__V1__Event *)kp_wire_unpack(
        &kumppani__v1__event__descriptor, self->arena, bytes, len, &err, why, sizeof why);
    if (!ev)
        kp_log_warn("consumer.decode", "source=%s err=%d", self->source, err);
    return ev;
}

static void
s_fifo_clear(kp_consumer_t *self)
{
    for (size_t i = 0; i < self->fifo_n; i++)
        free(self->fifo[(self->fifo_head + i) % KP_CONSUMER_FIFO].bytes);
    self->fifo_head = self->fifo_n = 0;
}

static void
s_fifo_push(kp_consumer_t *self, uint64_t seq, const void *bytes, size_t len)
{
    if (self->fifo_n == KP_CONSUMER_FIFO) {
        s_fifo_clear(self); /* the replay will fetch them instead */
        return;
    }
    early_t *e = &self->fifo[(self->fifo_head + self->fifo_n++) % KP_CONSUMER_FIFO];
    e->seq = seq;
    e->len = len;
    e->bytes = kp_xmalloc(len ? len : 1);
    memcpy(e->bytes, bytes, len);
}

/* Applies queued early events that are now next; stops at a hole (and replays it). */
static void
s_fifo_drain(kp_consumer_t *self)
{
    while (self->fifo_n && !self->failed) {
        early_t *e = &self->fifo[self->fifo_head];
        if (e->seq > self->pending + 1) {
            s_replay_send(self); /* a hole between the replay's end and the early events */
            return;
        }
        kp_arena_reset(self->arena);
        Kumppani__V1__Event *ev = s_decode_event(self, e->bytes, e->len);
        int rc = ev ? s_apply(self, ev) : 0;
        free(e->bytes);
        self->fifo_head = (self->fifo_head + 1) % KP_CONSUMER_FIFO;
        self->fifo_n--;
        if (rc < 0) {
            self->failed = true;
            return;
        }
    }
}

/* ---- replay ------------------------------------------------------------------------------ */

static int s_dealer_open(kp_consumer_t *self);

static void
s_replay_send(kp_consumer_t *self)
{
    if (self->stopped)
        return;
    Kumppani__V1__ReplayRequest rq = KUMPPANI__V1__REPLAY_REQUEST__INIT;
    rq.from_seq = self->pending + 1;
    rq.limit = KP_REPLAY_PAGE;
    uint8_t body[32], frame[128];
    Kumppani__V1__Request req = KUMPPANI__V1__REQUEST__INIT;
    req.request_id = self->replay_rid = ++self->rid_seq;
    req.method = "log.replay";
    req.body.data = body;
    req.body.len = kumppani__v1__replay_request__pack(&rq, body);
    size_t n = kumppani__v1__request__pack(&req, frame);
    self->replaying = true;
    self->replays_n++;
    self->replay_sent_us = kp_mono_us();
    if (zmq_send(self->dealer, frame, n, ZMQ_DONTWAIT) < 0)
        kp_log_warn("consumer.replay_send", "source=%s errno=%d", self->source, zmq_errno());
    kp_log_debug("consumer.replay", "source=%s from=%llu", self->source,
                 (unsigned long long)rq.from_seq);
    kp_zwatch_recheck(self->dealer_watch);
}

static void
s_on_page(kp_consumer_t *self, const Kumppani__V1__Reply *rep)
{
    if (rep->request_id != self->replay_rid || !self->replaying)
        return; /* an answer to a request we gave up on */
    if (!rep->status || rep->status->code != KUMPPANI__V1__CODE__CODE_OK) {
        kp_log_err("consumer.replay_refused", "source=%s code=%s", self->source,
                   rep->status ? kp_wire_code_name(rep->status->code) : "none");
        self->replaying = false; /* the timer retries */
        self->replay_sent_us = kp_mono_us();
        self->failed = true;
        return;
    }
    char why[KP_WIRE_WHY];
    int err;
    Kumppani__V1__ReplayPage *page = (Kumppani__V1__ReplayPage *)kp_wire_unpack(
        &kumppani__v1__replay_page__descriptor, self->arena, rep->body.data, rep->body.len, &err,
        why, sizeof why);
    if (!page) {
        kp_log_err("consumer.page_decode", "source=%s err=%d", self->source, err);
        self->replaying = false;
        self->failed = true;
        return;
    }
    if (page->head_seq > self->source_head)
        self->source_head = page->head_seq;
    for (size_t i = 0; i < page->n_events; i++) {
        int rc = s_apply(self, page->events[i]);
        if (rc == 1) {
            kp_log_err("consumer.hole", "source=%s seq=%llu pending=%llu", self->source,
                       (unsigned long long)page->events[i]->seq, (unsigned long long)self->pending);
            rc = KP_ECORRUPT;
        }
        if (rc) {
            self->replaying = false;
            self->failed = true;
            return;
        }
    }
    if (page->n_events > 0 && self->pending < page->head_seq) {
        s_replay_send(self);
        return;
    }
    self->replaying = false;
    kp_log_debug("consumer.caught_up", "source=%s seq=%llu", self->source,
                 (unsigned long long)self->pending);
    s_fifo_drain(self);
}

static void
s_dealer_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    kp_consumer_t *self = arg;
    for (int i = 0; i < 16; i++) {
        zmq_msg_t m;
        if (!kp_zsock_try_recv(sock, &m))
            return;
        kp_arena_reset(self->arena);
        char why[KP_WIRE_WHY];
        int err;
        Kumppani__V1__Reply *rep = (Kumppani__V1__Reply *)kp_wire_unpack(
            &kumppani__v1__reply__descriptor, self->arena, zmq_msg_data(&m), zmq_msg_size(&m), &err,
            why, sizeof why);
        if (rep)
            s_on_page(self, rep);
        zmq_msg_close(&m);
    }
}

/* ---- live -------------------------------------------------------------------------------- */

static void
s_on_live(kp_consumer_t *self, const void *bytes, size_t len)
{
    kp_arena_reset(self->arena);
    Kumppani__V1__Event *ev = s_decode_event(self, bytes, len);
    if (!ev)
        return;
    self->live_n++;
    if (self->opts.drop_every && self->live_n % self->opts.drop_every == 0) {
        self->dropped_n++;
        return; /* test hook: as if the wire lost it */
    }
    if (ev->seq > self->source_head)
        self->source_head = ev->seq;
    if (ev->seq <= self->pending)
        return;
    if (self->replaying || self->failed || ev->seq != self->pending + 1) {
        s_fifo_push(self, ev->seq, bytes, len);
        if (!self->replaying && !self->failed) {
            kp_log_info("consumer.gap", "source=%s expected=%llu got=%llu", self->source,
                        (unsigned long long)self->pending + 1, (unsigned long long)ev->seq);
            s_replay_send(self);
        }
        return;
    }
    if (s_apply(self, ev) < 0)
        self->failed = true;
}

static void
s_on_heartbeat(kp_consumer_t *self, const void *bytes, size_t len)
{
    Kumppani__V1__Heartbeat *hb =
        kumppani__v1__heartbeat__unpack(kp_arena_pbc(self->arena), len, bytes);
    if (!hb)
        return;
    if (hb->head_seq > self->source_head)
        self->source_head = hb->head_seq;
    if (hb->head_seq > self->pending && !self->replaying && !self->failed) {
        kp_log_info("consumer.behind", "source=%s applied=%llu head=%llu", self->source,
                    (unsigned long long)self->pending, (unsigned long long)hb->head_seq);
        s_replay_send(self);
    }
}

static void
s_sub_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    kp_consumer_t *self = arg;
    for (int i = 0; i < KP_CONSUMER_BUDGET; i++) {
        zmq_msg_t topic, body;
        if (!kp_zsock_try_recv(sock, &topic))
            return;
        zmq_msg_init(&body);
        bool ok = zmq_msg_more(&topic) && zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) >= 0;
        if (ok && zmq_msg_more(&body)) { /* not ours: drop the rest of the message */
            ok = false;
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            while (zmq_msg_recv(&extra, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&extra))
                ;
            zmq_msg_close(&extra);
        }
        if (ok)
            self->last_heard_ms = kp_now_ms();
        if (ok && zmq_msg_size(&topic) == 1) {
            char t = *(char *)zmq_msg_data(&topic);
            if (t == 'E')
                s_on_live(self, zmq_msg_data(&body), zmq_msg_size(&body));
            else if (t == 'H')
                s_on_heartbeat(self, zmq_msg_data(&body), zmq_msg_size(&body));
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

/* ---- the peer's connection -------------------------------------------------------------
 *
 * A socket monitor on the SUB tells when the connection to the source drops (ZMTP heartbeats
 * notice a silent peer within ZMQ_HEARTBEAT_TIMEOUT, see kp_zsock_defaults) and when it comes
 * back; both are logged with how long the peer was away, and shown in health. */

static void
s_mon_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    kp_consumer_t *self = arg;
    for (int i = 0; i < 64; i++) {
        zmq_msg_t ev, addr;
        if (!kp_zsock_try_recv(sock, &ev))
            return;
        zmq_msg_init(&addr);
        if (zmq_msg_more(&ev))
            zmq_msg_recv(&addr, sock, ZMQ_DONTWAIT);
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), 2);
        int64_t now = kp_now_ms();
        if (event == ZMQ_EVENT_DISCONNECTED && self->connected) {
            self->connected = false;
            self->down_since_ms = now;
            kp_log_warn("consumer.peer_down", "source=%s silent_ms=%lld", self->source,
                        (long long)(self->last_heard_ms ? now - self->last_heard_ms : 0));
        } else if (event == ZMQ_EVENT_CONNECTED && !self->connected) {
            self->connected = true;
            kp_log_notice("consumer.peer_up", "source=%s down_ms=%lld", self->source,
                          (long long)(self->down_since_ms ? now - self->down_since_ms : 0));
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
    }
}

static int
s_mon_open(kp_consumer_t *self)
{
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://kp-consumer-mon-%p", (void *)self);
    if (zmq_socket_monitor(self->sub, ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return KP_EZMQ;
    self->mon = zmq_socket(kp_server_zctx(self->srv), ZMQ_PAIR);
    int zero = 0;
    if (!self->mon || zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(self->mon, ep) != 0)
        return KP_EZMQ;
    return kp_zwatch_start(&self->mon_watch, kp_server_loop(self->srv), self->mon, s_mon_ready,
                           self);
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void
s_turn_done(void *arg, int rc)
{
    kp_consumer_t *self = arg;
    if (rc == 0) {
        self->applied = self->pending;
    } else if (self->pending != self->applied) {
        kp_log_warn("consumer.rollback", "source=%s to=%llu", self->source,
                    (unsigned long long)self->applied);
        self->pending = self->applied;
        self->failed = true; /* the timer replays shortly */
        /* A page asked for in that turn follows what was just undone: its answer is ignored
         * (s_on_page), not taken for a hole in the log. */
        self->replaying = false;
    }
}

static void
s_on_timer(uv_timer_t *h)
{
    kp_consumer_t *self = h->data;
    int64_t now = kp_mono_us();
    if (self->failed) {
        self->failed = false;
        s_fifo_clear(self);
        s_replay_send(self);
    } else if (self->replaying &&
               now - self->replay_sent_us > (int64_t)self->opts.replay_timeout_ms * 1000) {
        /* Lazy Pirate: a fresh socket, so nothing stale stays queued, then ask again. */
        kp_log_warn("consumer.replay_timeout", "source=%s", self->source);
        kp_zwatch_close(&self->dealer_watch);
        zmq_close(self->dealer);
        self->dealer = NULL;
        if (s_dealer_open(self) == 0)
            s_replay_send(self);
    }
}

static void
s_health(void *arg, kp_arena_t *a, Kumppani__V1__HealthReply *r)
{
    kp_consumer_t *self = arg;
    Kumppani__V1__ConsumerLag *lag = kp_arena_alloc(a, sizeof *lag);
    Kumppani__V1__ConsumerLag **v = kp_arena_alloc(a, (r->n_consumers + 1) * sizeof *r->consumers);
    if (!lag || !v)
        return;
    kumppani__v1__consumer_lag__init(lag);
    lag->source = self->source;
    lag->applied_seq = self->applied;
    lag->source_head_seq = self->source_head;
    lag->connected = self->connected;
    lag->last_heard_ms = self->last_heard_ms;
    if (r->n_consumers)
        memcpy(v, r->consumers, r->n_consumers * sizeof *v);
    v[r->n_consumers++] = lag;
    r->consumers = v;
}

static void
s_timer_closed(uv_handle_t *h)
{
    kp_consumer_t *self = h->data;
    s_fifo_clear(self);
    free(self->fifo);
    kp_arena_destroy(&self->arena);
    free(self->source);
    free(self->api);
    free(self->pub);
    free(self->server_pub);
    free(self);
}

static void
s_stop(void *arg)
{
    kp_consumer_t *self = arg;
    self->stopped = true;
    kp_log_info("consumer.stop", "source=%s applied=%llu live=%llu dropped=%llu replays=%llu",
                self->source, (unsigned long long)self->applied, (unsigned long long)self->live_n,
                (unsigned long long)self->dropped_n, (unsigned long long)self->replays_n);
    kp_zwatch_close(&self->sub_watch);
    kp_zwatch_close(&self->dealer_watch);
    kp_zwatch_close(&self->mon_watch);
    if (self->sub)
        zmq_socket_monitor(self->sub, NULL, 0);
    if (self->mon)
        zmq_close(self->mon);
    self->mon = NULL;
    if (self->sub)
        zmq_close(self->sub);
    if (self->dealer)
        zmq_close(self->dealer);
    self->sub = self->dealer = NULL;
    uv_close((uv_handle_t *)&self->timer, s_timer_closed);
}

static int
s_dealer_open(kp_consumer_t *self)
{
    self->dealer = zmq_socket(kp_server_zctx(self->srv), ZMQ_DEALER);
    if (!self->dealer ||
        kp_zsock_client(self->dealer, self->have_keys ? &self->keys : NULL, self->server_pub) ||
        zmq_connect(self->dealer, self->api) != 0)
        return KP_EZMQ;
    return kp_zwatch_start(&self->dealer_watch, kp_server_loop(self->srv), self->dealer,
                           s_dealer_ready, self);
}

int
kp_consumer_start(kp_server_t *srv, const kp_consumer_opts_t *opts)
{
    kp_consumer_t *self = kp_xcalloc(1, sizeof *self);
    self->srv = srv;
    self->opts = *opts;
    if (!self->opts.replay_timeout_ms)
        self->opts.replay_timeout_ms = 3000;
    self->source = kp_xstrdup(opts->source);
    self->api = kp_xstrdup(opts->api_endpoint);
    self->pub = kp_xstrdup(opts->pub_endpoint);
    self->server_pub = kp_xstrdup(opts->server_pub ? opts->server_pub : "");
    if (opts->keys) {
        self->keys = *opts->keys;
        self->have_keys = true;
    }
    self->arena = kp_arena_new(8u << 20);
    self->fifo = kp_xcalloc(KP_CONSUMER_FIFO, sizeof *self->fifo);
    uv_timer_init(kp_server_loop(srv), &self->timer);
    self->timer.data = self;

    /* The stored offset, read in the turn transaction (committed empty if nothing else
     * writes in this turn). */
    MDB_txn *txn;
    int rc = kp_server_txn(srv, &txn);
    if (rc == 0)
        rc = kp_store_offset_get(kp_server_store(srv), txn, self->source, &self->applied);
    self->pending = self->applied;
    if (rc)
        goto fail;

    rc = KP_EZMQ;
    self->sub = zmq_socket(kp_server_zctx(srv), ZMQ_SUB);
    if (!self->sub ||
        kp_zsock_client(self->sub, self->have_keys ? &self->keys : NULL, self->server_pub) ||
        zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        goto fail;
    /* The monitor first, so that it sees the first connection too. */
    if ((rc = s_mon_open(self)) != 0)
        goto fail;
    rc = KP_EZMQ;
    if (zmq_connect(self->sub, self->pub) != 0)
        goto fail;
    if ((rc = kp_zwatch_start(&self->sub_watch, kp_server_loop(srv), self->sub, s_sub_ready,
                              self)) != 0)
        goto fail;
    if ((rc = s_dealer_open(self)) != 0)
        goto fail;
    kp_server_part_t part = {
        .turn_done = s_turn_done, .stop = s_stop, .health = s_health, .arg = self};
    if ((rc = kp_server_add_part(srv, &part)) != 0)
        goto fail;
    uv_timer_start(&self->timer, s_on_timer, 500, 500);
    kp_log_notice("consumer.start", "source=%s applied=%llu", self->source,
                  (unsigned long long)self->applied);
    s_replay_send(self); /* from the stored offset; the SUB is already connecting */
    return 0;
fail:
    kp_log_err("consumer.start", "source=%s err=%d what=\"%s\" errno=%d", self->source, rc,
               kp_strerror(rc), zmq_errno());
    s_stop(self);
    return rc;
}
