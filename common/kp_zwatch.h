/*  kp_zwatch: a ZeroMQ socket inside a libuv loop.
 *
 *  A uv_poll_t watches the socket's ZMQ_FD for readability only (for sending too: the fd
 *  signals any change of ZMQ_EVENTS). That fd is edge-triggered, and send, recv and the
 *  ZMQ_EVENTS query itself can consume the edge, so the readiness that counts is ZMQ_EVENTS:
 *
 *  - on every wake-up the watcher asks ZMQ_EVENTS and calls `cb` while ZMQ_POLLIN is set;
 *  - `cb` drains up to its own budget and returns; if input remains, a uv_idle_t keeps the
 *    loop from blocking so the rest is read in the next turn (after the turn's commit);
 *  - whoever sends on the socket (or on any socket: ZeroMQ may share signalling) calls
 *    kp_zwatch_recheck afterwards, because the send may have eaten the edge.
 *
 *  The watcher never reads, writes or closes the fd. */
#ifndef KP_ZWATCH_H
#define KP_ZWATCH_H

#include <stdbool.h>
#include <uv.h>

typedef struct kp_zwatch kp_zwatch_t;

/* Called when the socket has input. Must not close the watcher. */
typedef void (*kp_zwatch_cb)(kp_zwatch_t *zw, void *sock, void *arg);

/* Starts watching sock (borrowed; the caller closes it after kp_zwatch_close). Returns 0,
 * KP_EZMQ, or a libuv error. Caller owns *out. */
int kp_zwatch_start(kp_zwatch_t **out, uv_loop_t *loop, void *sock, kp_zwatch_cb cb, void *arg);

/* Asks ZMQ_EVENTS now; if input is waiting, arranges for cb to run in this loop iteration or
 * the next without blocking. Call after every send. */
void kp_zwatch_recheck(kp_zwatch_t *self);

/* kp_zwatch_recheck on every open watcher of this process (one loop per process). */
void kp_zwatch_recheck_all(void);

/* True if ZMQ_EVENTS shows input right now. */
bool kp_zwatch_readable(kp_zwatch_t *self);

/* Stops watching and closes the handles; the memory is freed in the last close_cb. Must be
 * called before zmq_close(sock). Accepts NULL; sets *self_p to NULL. */
void kp_zwatch_close(kp_zwatch_t **self_p);

#endif
