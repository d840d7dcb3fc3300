/*  kp_mhttp: the metrics over HTTP, for a Prometheus server that scrapes (GET /metrics).
 *
 *  A minimal HTTP/1.0 responder inside the service's libuv loop: it reads one request head
 *  (at most 4 KiB, within 5 s), answers GET /metrics with the text the render function gives,
 *  anything else with 404 (or 400 for a head that is not HTTP), and closes the connection. At
 *  most 16 connections at once; a further one closes the oldest. It never parses a body and
 *  keeps no state between requests, so a hostile peer can cost at most a buffer and a timer. */
#ifndef KP_MHTTP_H
#define KP_MHTTP_H

#include <stddef.h>
#include <uv.h>

typedef struct kp_mhttp kp_mhttp_t;

/* Renders the metrics into buf (NUL-terminated); returns the length or -1. */
typedef int (*kp_mhttp_render_fn)(void *arg, char *buf, size_t len);

/* Listens on addr ("127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464"). Returns 0 or a KP code
 * (KP_ECONFIG for an address that does not parse or cannot be bound). */
int kp_mhttp_start(kp_mhttp_t **out, uv_loop_t *loop, const char *addr, kp_mhttp_render_fn fn,
                   void *arg);

/* Stops listening and closes every connection; the memory goes with the loop's close
 * callbacks. NULL-safe; sets *h to NULL. */
void kp_mhttp_stop(kp_mhttp_t **h);

#endif
