/*  kp_consumer: follows another service's event log, applying each event exactly once in
 *  effect (DESIGN 5).
 *
 *  The consumer subscribes to the source's PUB socket and talks to its ROUTER for
 *  "log.replay". Each event is applied in the consumer service's turn transaction,
 *  together with the new offset of that source (kp_store offsets table), so the effect and the
 *  offset commit or vanish together; an event at or below the offset is skipped. Hence
 *  at-least-once delivery gives an exactly-once effect.
 *
 *  It replays (paged) from its offset when it starts, when a live event skips a number, when
 *  a heartbeat shows a head above what it applied (a lost tail), and when its own turn fails
 *  to commit. Live events that arrive ahead of a running replay wait in a bounded FIFO and are
 *  applied when the replay reaches them; if the FIFO overflows it is dropped and the replay
 *  simply continues further. A replay request unanswered within the timeout is sent again on
 *  a fresh socket.
 *
 *  Test hook: drop_every = N discards every Nth live event before it is applied, simulating
 *  loss on the wire; the gap logic must recover it. */
#ifndef KP_CONSUMER_H
#define KP_CONSUMER_H

#include "kp_server.h"
#include "kumppani/v1/log.pb-c.h"

typedef struct kp_consumer kp_consumer_t;

/* Applies one event in txn (the consumer service's turn; do not commit it). May call
 * kp_server_emit. Returns 0, or a KP code: the whole turn is then abandoned (its effect may
 * be half-written) and the consumer replays the event later. */
typedef int (*kp_consumer_apply_fn)(void *arg, kp_server_t *srv, MDB_txn *txn,
                                    const Kumppani__V1__Event *ev);

typedef struct {
    const char *source;       /* the source's log name, e.g. "events" */
    const char *api_endpoint; /* the source's ROUTER */
    const char *pub_endpoint; /* the source's PUB */
    const kp_keypair_t *keys; /* this service's key pair; NULL: plain TCP */
    const char *server_pub;   /* the source's public key (Z85) when keys is set */
    kp_consumer_apply_fn apply;
    void *arg;
    unsigned replay_timeout_ms; /* 0: 3000 */
    unsigned drop_every;        /* test hook, see above; 0: off */
} kp_consumer_opts_t;

/* Creates a consumer inside srv's loop and starts it (connect, replay from the stored
 * offset). The server owns it: it is stopped and freed when the server shuts down. Returns 0
 * or a KP code. */
int kp_consumer_start(kp_server_t *srv, const kp_consumer_opts_t *opts);

#endif
