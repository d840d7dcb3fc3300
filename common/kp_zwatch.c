/*  kp_zwatch: ZMQ_FD + ZMQ_EVENTS inside libuv.
 *
 *  Invariant: whenever the socket may have unread input, either the fd will signal (an edge
 *  not yet consumed) or the idle handle is active. s_run establishes it after every callback
 *  by asking ZMQ_EVENTS once more: if input remains the idle handle is (re)started, otherwise
 *  stopped. The owner keeps it after its own sends by calling kp_zwatch_recheck. */
#include "kp_zwatch.h"

#include "kp_arena.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdlib.h>
#include <zmq.h>

struct kp_zwatch {
    uv_poll_t poll;
    uv_idle_t idle;
    void *sock;
    kp_zwatch_cb cb;
    void *arg;
    int open_handles;
    bool closing;
    struct kp_zwatch *next, *prev; /* every open watcher of the process */
};

/* The process's open watchers: services run one loop on one thread (DESIGN 6). */
static kp_zwatch_t *s_all;

bool
kp_zwatch_readable(kp_zwatch_t *self)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) != 0)
        return false;
    return (events & ZMQ_POLLIN) != 0;
}

static void s_on_idle(uv_idle_t *h);

static void
s_run(kp_zwatch_t *self)
{
    if (self->closing)
        return;
    if (kp_zwatch_readable(self)) {
        self->cb(self, self->sock, self->arg);
        if (self->closing)
            return;
    }
    if (kp_zwatch_readable(self))
        uv_idle_start(&self->idle, s_on_idle);
    else
        uv_idle_stop(&self->idle);
}

static void
s_on_idle(uv_idle_t *h)
{
    s_run(h->data);
}

static void
s_on_poll(uv_poll_t *h, int status, int events)
{
    kp_zwatch_t *self = h->data;
    (void)events;
    if (status < 0)
        kp_log_warn("zwatch.poll", "err=%d", status);
    s_run(self);
}

int
kp_zwatch_start(kp_zwatch_t **out, uv_loop_t *loop, void *sock, kp_zwatch_cb cb, void *arg)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
        return KP_EZMQ;
    kp_zwatch_t *self = kp_xcalloc(1, sizeof *self);
    self->sock = sock;
    self->cb = cb;
    self->arg = arg;
    int rc = uv_poll_init(loop, &self->poll, fd);
    if (rc) {
        free(self);
        return rc;
    }
    self->poll.data = self;
    uv_idle_init(loop, &self->idle);
    self->idle.data = self;
    self->open_handles = 2;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    self->next = s_all;
    if (s_all)
        s_all->prev = self;
    s_all = self;
    /* Input may already be queued (the edge came before we watched): look once. */
    uv_idle_start(&self->idle, s_on_idle);
    *out = self;
    return 0;
}

void
kp_zwatch_recheck(kp_zwatch_t *self)
{
    if (self && !self->closing && kp_zwatch_readable(self))
        uv_idle_start(&self->idle, s_on_idle);
}

void
kp_zwatch_recheck_all(void)
{
    for (kp_zwatch_t *zw = s_all; zw; zw = zw->next)
        kp_zwatch_recheck(zw);
}

static void
s_on_close(uv_handle_t *h)
{
    kp_zwatch_t *self = h->data;
    if (--self->open_handles == 0)
        free(self);
}

void
kp_zwatch_close(kp_zwatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kp_zwatch_t *self = *self_p;
    self->closing = true;
    if (self->prev)
        self->prev->next = self->next;
    else
        s_all = self->next;
    if (self->next)
        self->next->prev = self->prev;
    uv_poll_stop(&self->poll);
    uv_idle_stop(&self->idle);
    uv_close((uv_handle_t *)&self->poll, s_on_close);
    uv_close((uv_handle_t *)&self->idle, s_on_close);
    *self_p = NULL;
}
