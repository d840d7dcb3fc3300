/*  kp_test_server: what the unit tests that run a real kp_server share.
 *
 *  A server under test lives in a fresh mkdtemp directory on free loopback ports, on its own
 *  uv loop; the test talks to it from a second ZeroMQ context with a DEALER, one request frame
 *  at a time, and reads replies without blocking (the test drives the loop, so nothing here
 *  may wait on the server). Failures are cmocka failures (the helpers assert), except where a
 *  setup function must return an error instead. */
#ifndef KP_TEST_SERVER_H
#define KP_TEST_SERVER_H

#include "kp_arena.h"
#include "kp_server.h"
#include "kumppani/v1/envelope.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* A free TCP port on 127.0.0.1 (bound and released; nothing else here races for it). */
int kp_test_free_port(void);

/* Writes "tcp://127.0.0.1:<a free port>" into buf. */
void kp_test_endpoint(char *buf, size_t n);

/* Makes a fresh directory /tmp/<name>_XXXXXX into buf; false if it could not. */
bool kp_test_tmpdir(char *buf, size_t n, const char *name);

/* Removes the LMDB files of the store in dir, then dir (which must hold nothing else). */
void kp_test_rm_store(const char *dir);

/* A DEALER of zctx with the project's socket defaults, connected to endpoint; NULL if not. */
void *kp_test_dealer(void *zctx, const char *endpoint);

/* Sends one Request frame (body may be NULL) with zmq flags; false only on EAGAIN. */
bool kp_test_send(void *sock, uint64_t request_id, const char *method, const ProtobufCMessage *body,
                  int flags);

/* The reply waiting on sock, decoded into a (with a status); NULL if none is waiting. */
Kumppani__V1__Reply *kp_test_try_reply(void *sock, kp_arena_t *a);

/* One server under test: its directory, endpoints, loop and server, and the test's ZeroMQ
 * context with a DEALER connected to the server's API. */
typedef struct {
    char root[64], data[96], api[64], pub[64];
    uv_loop_t loop;
    kp_server_t *srv;
    void *zctx, *dealer;
} kp_test_srv_t;

/* kp_server_opts_t's dbs and methods from their arrays. */
#define KP_TEST_DBS(a) .dbs = (a), .dbs_n = sizeof(a) / sizeof((a)[0])
#define KP_TEST_METHODS(a) .methods = (a), .methods_n = sizeof(a) / sizeof((a)[0])

/* Starts a server with o in a fresh directory /tmp/<name>_XXXXXX (the store in its "data")
 * on a free API port and, if pub, a free PUB port; these, and a schema version of 1 and a map
 * size of 16 MiB where o has 0, override o. Returns 0, or -1 if any step failed. */
int kp_test_srv_start(kp_test_srv_t *t, const char *name, kp_server_opts_t o, bool pub);

/* Stops what kp_test_srv_start started (see kp_test_server_stop), closes the DEALER and the
 * context (the caller closed any other socket of it first) and removes the directory.
 * Returns uv_loop_close's result. */
int kp_test_srv_stop(kp_test_srv_t *t);

/* Runs t's loop until the reply to request_id arrives on t->dealer, decoded into a (a test
 * failure after 30 s, naming what was called). */
Kumppani__V1__Reply *kp_test_srv_reply(kp_test_srv_t *t, kp_arena_t *a, uint64_t request_id,
                                       const char *what);

/* The body of r, an OK reply, decoded as d into a (asserted: the code and the decoding). */
void *kp_test_ok_body(const Kumppani__V1__Reply *r, const ProtobufCMessageDescriptor *d,
                      kp_arena_t *a);

/* Destroys *srv (which ends NULL) and closes its loop, which must close cleanly: the server
 * closed every handle it opened. Returns uv_loop_close's result. */
int kp_test_server_stop(kp_server_t **srv, uv_loop_t *loop);

#endif
