/*  kp_test_server: the shared fixture of the unit tests that run a real kp_server (see the
 *  header). Helpers assert with cmocka, so they are for test bodies, setups and teardowns. */
#include "kp_test_server.h"

#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

int
kp_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

void
kp_test_endpoint(char *buf, size_t n)
{
    snprintf(buf, n, "tcp://127.0.0.1:%d", kp_test_free_port());
}

bool
kp_test_tmpdir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/%s_XXXXXX", name);
    return mkdtemp(buf) != NULL;
}

void
kp_test_rm_store(const char *dir)
{
    char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    (void)remove(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    (void)remove(path);
    (void)rmdir(dir);
}

void *
kp_test_dealer(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (!s || kp_zsock_defaults(s) != 0 || zmq_connect(s, endpoint) != 0)
        return NULL;
    return s;
}

bool
kp_test_send(void *sock, uint64_t request_id, const char *method, const ProtobufCMessage *body,
             int flags)
{
    uint8_t bodybuf[4096], buf[4200];
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = request_id;
    rq.method = (char *)method;
    if (body) {
        assert_true(protobuf_c_message_get_packed_size(body) <= sizeof bodybuf);
        rq.body.len = protobuf_c_message_pack(body, bodybuf);
        rq.body.data = bodybuf;
    }
    size_t n = kumppani__v1__request__pack(&rq, buf);
    int rc = zmq_send(sock, buf, n, flags);
    if (rc < 0)
        assert_int_equal(zmq_errno(), EAGAIN);
    else
        assert_int_equal(rc, (int)n);
    return rc >= 0;
}

Kumppani__V1__Reply *
kp_test_try_reply(void *sock, kp_arena_t *a)
{
    static uint8_t buf[KP_WIRE_HARD_MAX];
    int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
    if (n < 0)
        return NULL;
    assert_true((size_t)n <= sizeof buf);
    int err;
    char why[KP_WIRE_WHY];
    Kumppani__V1__Reply *r = (Kumppani__V1__Reply *)kp_wire_unpack(
        &kumppani__v1__reply__descriptor, a, buf, (size_t)n, &err, why, sizeof why);
    assert_non_null(r);
    assert_non_null(r->status);
    return r;
}

Kumppani__V1__Reply *
kp_test_srv_reply(kp_test_srv_t *t, kp_arena_t *a, uint64_t request_id, const char *what)
{
    int64_t end = kp_mono_us() + 30 * 1000000LL;
    for (;;) {
        Kumppani__V1__Reply *r = kp_test_try_reply(t->dealer, a);
        if (r) {
            assert_int_equal(r->request_id, request_id);
            return r;
        }
        if (kp_mono_us() > end)
            fail_msg("no reply to %s within the deadline", what);
        uv_run(&t->loop, UV_RUN_NOWAIT);
        zmq_poll(&(zmq_pollitem_t){t->dealer, 0, ZMQ_POLLIN, 0}, 1, 1);
    }
}

void *
kp_test_ok_body(const Kumppani__V1__Reply *r, const ProtobufCMessageDescriptor *d, kp_arena_t *a)
{
    assert_int_equal(r->status->code, KUMPPANI__V1__CODE__CODE_OK);
    int err;
    char why[KP_WIRE_WHY];
    void *m = kp_wire_unpack(d, a, r->body.data, r->body.len, &err, why, sizeof why);
    assert_non_null(m);
    return m;
}

int
kp_test_server_stop(kp_server_t **srv, uv_loop_t *loop)
{
    kp_server_destroy(srv);
    assert_null(*srv);
    return uv_loop_close(loop);
}

int
kp_test_srv_start(kp_test_srv_t *t, const char *name, kp_server_opts_t o, bool pub)
{
    if (!kp_test_tmpdir(t->root, sizeof t->root, name))
        return -1;
    snprintf(t->data, sizeof t->data, "%s/data", t->root);
    kp_test_endpoint(t->api, sizeof t->api);
    if (pub)
        kp_test_endpoint(t->pub, sizeof t->pub);
    if (uv_loop_init(&t->loop) != 0)
        return -1;
    o.data_dir = t->data;
    o.api_endpoint = t->api;
    o.pub_endpoint = pub ? t->pub : NULL;
    if (!o.schema_version)
        o.schema_version = 1;
    if (!o.map_size)
        o.map_size = 16u << 20;
    if (kp_server_new(&t->srv, &t->loop, &o) != 0)
        return -1;
    t->zctx = zmq_ctx_new();
    t->dealer = kp_test_dealer(t->zctx, t->api);
    return t->dealer ? 0 : -1;
}

int
kp_test_srv_stop(kp_test_srv_t *t)
{
    int rc = kp_test_server_stop(&t->srv, &t->loop);
    zmq_close(t->dealer);
    zmq_ctx_term(t->zctx);
    kp_test_rm_store(t->data);
    (void)rmdir(t->root);
    return rc;
}
