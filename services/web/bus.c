/*  web/bus.c: asynchronous calls to the events service over one DEALER socket.
 *
 *  A call sends a Request with a fresh request_id and remembers (id, callback, request, deadline)
 * in a bounded table; replies are matched by id when the socket becomes readable (kp_zwatch), and
 *  a timer answers the calls whose deadline passed with NULL. Each callback runs exactly once,
 *  never inside web_bus_call, always from the loop, so the HTTP side can suspend a connection
 *  before its answer can arrive. A reply for a forgotten id (timed out) is dropped. The socket
 *  uses the web's own CURVE key, so the events service sees the web as any other system. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kp_zwatch.h"
#include "web.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define PENDING_MAX 256

typedef struct {
    uint64_t id;
    web_bus_cb cb;
    web_req_t *r;
    int64_t deadline_us;
} pending_t;

struct web_bus {
    void *sock;
    kp_zwatch_t *watch;
    uv_timer_t *timer; /* freed in its close callback */
    uint64_t next_id;
    unsigned timeout_ms;
    pending_t pending[PENDING_MAX];
    unsigned pending_n;
};

static void
s_take(web_bus_t *self, unsigned i, const Kumppani__V1__Reply *reply)
{
    pending_t p = self->pending[i];
    self->pending[i] = self->pending[--self->pending_n];
    p.cb(p.r, reply);
}

/* A reply goes to the pending request with its id (none: it came after its time-out). */
static int
s_match(void *arg, const Kumppani__V1__Reply *r)
{
    web_bus_t *self = arg;
    for (unsigned i = 0; i < self->pending_n; i++)
        if (self->pending[i].id == r->request_id) {
            s_take(self, i, r);
            break;
        }
    return 0;
}

static void
s_readable(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    kp_zsock_each_reply(sock, 256, s_match, arg);
}

static void
s_tick(uv_timer_t *t)
{
    web_bus_t *self = t->data;
    int64_t now = kp_mono_us();
    for (unsigned i = 0; i < self->pending_n;)
        if (self->pending[i].deadline_us <= now) {
            kp_log_warn("bus.timeout", "request=%llu", (unsigned long long)self->pending[i].id);
            s_take(self, i, NULL);
        } else
            i++;
}

int
web_bus_new(web_bus_t **out, uv_loop_t *loop, void *zctx, const char *endpoint,
            const kp_keypair_t *kp, const char *server_pub, unsigned timeout_ms)
{
    web_bus_t *self = kp_xcalloc(1, sizeof *self);
    self->timeout_ms = timeout_ms ? timeout_ms : 5000;
    self->next_id = 1;
    self->sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!self->sock || kp_zsock_defaults(self->sock) ||
        kp_zsock_client(self->sock, kp, server_pub) || zmq_connect(self->sock, endpoint) != 0) {
        kp_log_err("bus.open", "errno=%d", zmq_errno());
        if (self->sock)
            zmq_close(self->sock);
        free(self);
        return KP_EZMQ;
    }
    int rc = kp_zwatch_start(&self->watch, loop, self->sock, s_readable, self);
    if (rc) {
        zmq_close(self->sock);
        free(self);
        return rc;
    }
    self->timer = kp_xmalloc(sizeof *self->timer);
    uv_timer_init(loop, self->timer);
    self->timer->data = self;
    uv_timer_start(self->timer, s_tick, 200, 200);
    *out = self;
    return 0;
}

int
web_bus_call(web_bus_t *self, const char *method, const ProtobufCMessage *body,
             const char *idem_key, web_bus_cb cb, web_req_t *r)
{
    if (self->pending_n == PENDING_MAX)
        return KP_EFULL;
    size_t blen = protobuf_c_message_get_packed_size(body);
    uint8_t *b = kp_xmalloc(blen + 1);
    protobuf_c_message_pack(body, b);
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = self->next_id++;
    rq.method = (char *)method;
    rq.idempotency_key = (char *)(idem_key ? idem_key : "");
    rq.body.data = b;
    rq.body.len = blen;
    size_t len = kumppani__v1__request__get_packed_size(&rq);
    uint8_t *frame = kp_xmalloc(len + 1);
    kumppani__v1__request__pack(&rq, frame);
    int rc = zmq_send(self->sock, frame, len, ZMQ_DONTWAIT);
    free(frame);
    free(b);
    kp_zwatch_recheck_all();
    if (rc < 0) {
        kp_log_warn("bus.send", "errno=%d", zmq_errno());
        return KP_EFULL;
    }
    self->pending[self->pending_n++] =
        (pending_t){rq.request_id, cb, r, kp_mono_us() + (int64_t)self->timeout_ms * 1000};
    return 0;
}

static void
s_timer_closed(uv_handle_t *h)
{
    free(h);
}

void
web_bus_destroy(web_bus_t **self_p)
{
    web_bus_t *self = *self_p;
    if (!self)
        return;
    while (self->pending_n)
        s_take(self, self->pending_n - 1, NULL);
    kp_zwatch_close(&self->watch);
    zmq_close(self->sock);
    uv_timer_stop(self->timer);
    uv_close((uv_handle_t *)self->timer, s_timer_closed);
    free(self);
    *self_p = NULL;
}
