/*  kumppani.h: the C client of the Kumppani services (the one public header of libkumppani).
 *
 *  A kpc_t is a connection to one service's request/reply API (its ROUTER socket). Calls are
 *  blocking and follow the Lazy Pirate pattern (zguide, chapter 4):
 *
 *    - the request is sent on a DEALER socket and the client polls for the reply whose
 *      request_id matches; replies with any other id (answers to earlier, abandoned attempts)
 *      are discarded;
 *    - if no matching reply arrives within timeout_ms, the socket is closed (so nothing stale
 *      stays queued on it), a new one is connected and the same request is sent again: the
 *      same request_id and the same idempotency key, so a service that did receive the first
 *      copy answers the resend with its first answer and changes nothing (DESIGN 3);
 *    - after `attempts` attempts the call gives up with KP_ETIMEOUT. A call never waits longer
 *      than about timeout_ms * attempts.
 *
 *  Every call returns 0 when the service answered, whatever the answer was: the service's
 *  verdict is in the kpc_status_t (code 0 = CODE_OK, else a Kumppani__V1__Code and a message
 *  naming the field and the rule). A negative KP_E* code (kp_err.h) means no usable answer.
 *
 *  Threads: a kpc_t may be used by one thread at a time (it owns a ZeroMQ socket). Different
 *  kpc_t objects are independent (each owns its ZeroMQ context).
 *
 *  Example:
 *
 *      kpc_opts_t o = {.endpoint = "tcp://127.0.0.1:7201"};
 *      kpc_t *c;
 *      if (kpc_new(&c, &o) == 0) {
 *          Kumppani__V1__SignupReply *r = NULL;
 *          kpc_status_t st;
 *          int rc = kpc_signup_submit(c, &req, &r, &st);
 *          if (rc == 0 && st.code == 0)
 *              use(r->signup);
 *          kpc_msg_destroy(&r);
 *          kpc_destroy(&c);
 *      }
 */
#ifndef KUMPPANI_H
#define KUMPPANI_H

#include "kp_err.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define KPC_TIMEOUT_MS_DEFAULT 3000
#define KPC_ATTEMPTS_DEFAULT 3
#define KPC_MESSAGE_MAX 256 /* size of kpc_status_t.message, NUL included */

typedef struct kpc kpc_t;

/* Connection options. Strings are borrowed for the duration of kpc_new only (copied). */
typedef struct {
    const char *endpoint;   /* e.g. "tcp://127.0.0.1:7201"; required */
    const char *server_pub; /* the service's CURVE public key (40 chars Z85); NULL: plain TCP */
    const char *client_pub; /* this client's CURVE key pair (Z85); both required when */
    const char *client_sec; /* server_pub is set, both ignored otherwise */
    int timeout_ms;         /* how long one attempt waits for its reply; 0: 3000 */
    int attempts;           /* sends of one request before giving up; 0: 3 */
} kpc_opts_t;

/* The service's verdict on a request. */
typedef struct {
    int code;                      /* Kumppani__V1__Code: 0 (CODE_OK) or an error */
    char message[KPC_MESSAGE_MAX]; /* the service's message (truncated), "" if none */
} kpc_status_t;

/* A raw reply (kpc_call). Embedded by the caller; release with kpc_reply_fini. */
typedef struct {
    kpc_status_t status;
    uint8_t *body; /* the encoded reply message, owned; NULL when body_len is 0 */
    size_t body_len;
} kpc_reply_t;

/* Makes a client for opts->endpoint. Connecting is asynchronous: an unreachable service is
 * only noticed by the first call. Caller owns *out; free with kpc_destroy.
 * Returns 0, or
 *   KP_EINVAL   opts or endpoint NULL, timeout_ms or attempts negative;
 *   KP_EKEY     server_pub given but it or the client key pair is missing or not Z85;
 *   KP_ECONFIG  the endpoint is malformed or its transport unknown;
 *   KP_EZMQ     ZeroMQ could not make a context or socket (or lacks CURVE). */
int kpc_new(kpc_t **out, const kpc_opts_t *opts);

/* Closes the socket (pending messages are dropped: linger 0) and frees the client. Accepts
 * NULL and a NULL *self_p; sets *self_p to NULL. */
void kpc_destroy(kpc_t **self_p);

/* Sends one request and waits for its reply, retrying as described above.
 *   method           "<service>.<noun>.<verb>", e.g. "events.event.get"; required
 *   idempotency_key  required by methods that create something; NULL or "" for none
 *   body/body_len    the encoded request message; body may be NULL when body_len is 0
 *   reply            filled on success; the caller releases it with kpc_reply_fini (also
 *                    safe to call after a failure: reply is zeroed first)
 * Returns 0 when the service answered (see reply->status), or
 *   KP_EINVAL    a required argument is NULL;
 *   KP_ETOOBIG   the request would exceed the service's frame limit (64 KiB);
 *   KP_ETIMEOUT  no answer after all attempts;
 *   KP_EKEY      the service refused this client's CURVE key (not on its allow-list);
 *   KP_EZMQ      a ZeroMQ failure (the next call starts with a fresh socket). */
int kpc_call(kpc_t *self, const char *method, const char *idempotency_key, const void *body,
             size_t body_len, kpc_reply_t *reply);

/* Frees the body of a reply and zeroes it. Accepts NULL. */
void kpc_reply_fini(kpc_reply_t *reply);

/* The name of a status code, e.g. "INVALID" for CODE_INVALID; "UNKNOWN" for others. */
const char *kpc_code_name(int code);

/* A static description of a return code (KP_E* or -errno). Never NULL. */
const char *kpc_strerror(int rc);

/* ---- typed calls -------------------------------------------------------------------------
 *
 * Each packs its request, calls kpc_call and, when the service answered CODE_OK, unpacks the
 * reply into *out. Common contract:
 *   - *out must be NULL on entry; it is set only when the call returns 0 and st->code is 0.
 *     The caller owns *out and frees it with kpc_msg_destroy(&out).
 *   - st is always filled when the call returns 0; st->code != 0 means the service refused
 *     the request (and *out stays NULL).
 *   - Returns kpc_call's codes, plus KP_EDECODE when an OK reply's body does not decode as
 *     the expected message. */

/* "events.event.create": a new event, in state draft. idempotency_key is required (KP_EINVAL
 * if NULL or ""): resending the same key returns the first event instead of a second one. */
int kpc_event_create(kpc_t *self, const char *idempotency_key,
                     const Kumppani__V1__CreateEventRequest *req, Kumppani__V1__EventReply **out,
                     kpc_status_t *st);

/* "events.event.publish": makes a draft event visible and open for sign-ups. */
int kpc_event_publish(kpc_t *self, uint64_t event_id, Kumppani__V1__EventReply **out,
                      kpc_status_t *st);

/* "events.event.get". */
int kpc_event_get(kpc_t *self, uint64_t event_id, Kumppani__V1__EventReply **out, kpc_status_t *st);

/* "events.event.list": events with id > after_id, ascending, drafts too, at most limit
 * (0: 100; above 500 the service answers CODE_INVALID). Page on with after_id = the last id
 * received, until a page comes back empty. */
int kpc_event_list(kpc_t *self, uint64_t after_id, uint32_t limit,
                   Kumppani__V1__ListEventsReply **out, kpc_status_t *st);

/* "events.signup.submit". The service deduplicates on req->source + req->external_id, so
 * resending the same sign-up is always safe. */
int kpc_signup_submit(kpc_t *self, const Kumppani__V1__SubmitSignupRequest *req,
                      Kumppani__V1__SignupReply **out, kpc_status_t *st);

/* "events.signup.cancel": by source + external_id, or by signup_id (source and external_id
 * ""). Cancelling a cancelled sign-up answers with it unchanged; a freed place goes to the
 * waitlist. An unknown sign-up is CODE_NOT_FOUND. */
int kpc_signup_cancel(kpc_t *self, const Kumppani__V1__CancelSignupRequest *req,
                      Kumppani__V1__SignupReply **out, kpc_status_t *st);

/* "events.signup.list": the event's sign-ups (cancelled ones too) with id > after_id,
 * ascending, at most limit (0: 100; at most 1000), and the event with its counts. Page on
 * with after_id = the last id received. An unknown event is CODE_NOT_FOUND. */
int kpc_signup_list(kpc_t *self, uint64_t event_id, uint64_t after_id, uint32_t limit,
                    Kumppani__V1__ListSignupsReply **out, kpc_status_t *st);

/* "log.replay": the service's log from from_seq on (the first seq is 1), in order, at most
 * limit events (0 or above 4000: 4000) and at most about 960 KiB of them, so a page may hold
 * fewer. Ask again from the last seq + 1 while it is below the page's head_seq; from past the
 * head, the page is empty. */
int kpc_log_replay(kpc_t *self, uint64_t from_seq, uint32_t limit, Kumppani__V1__ReplayPage **out,
                   kpc_status_t *st);

/* "sys.health". */
int kpc_health(kpc_t *self, Kumppani__V1__HealthReply **out, kpc_status_t *st);

/* Frees a message returned by a typed call and sets the pointer to NULL. msg_p is the
 * address of the pointer (e.g. Kumppani__V1__SignupReply **); accepts NULL and a NULL
 * pointer. */
void kpc_msg_destroy(void *msg_p);

#endif
