/*  kp_zsock: CURVE keys, roles, the ZAP allow-list, and socket set-up.
 *
 *  Keys are Z85 text (40 characters), one per file:
 *      <dir>/<name>.pub   the public key
 *      <dir>/<name>.key   the secret key (mode 0600)
 *  The allow-list is a text file, one key per line:
 *      <z85 public key> <role> [sources=<name>[,<name>...]] [# comment]
 *  with roles admin, publisher, reader, service and selfservice (kp_role_parse). A '#' standing
 *  alone as a word starts a comment ('#' is also a Z85 digit, so keys may contain it).
 *  sources= binds a publisher's key to the source names it may submit under (and whose
 *  sign-ups it may cancel); a publisher key bound to no source may use none (DESIGN 7).
 *  Source names are 1..64 of [a-z0-9._-], at most 8 per key.
 *
 *  When a service has a secret key, every socket it binds is a CURVE server with ZAP domain
 *  "kumppani" (and ZMQ_ZAP_ENFORCE_DOMAIN on), and the ZAP handler (kp_zap) admits only keys
 *  on the allow-list, passing the key's role to the service as the ZMQ "User-Id" property:
 *  "<role>" or "<role> <source>,<source>" for a bound key (kp_server splits it). */
#ifndef KP_ZSOCK_H
#define KP_ZSOCK_H

#include "kumppani/v1/envelope.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

#define KP_ZAP_DOMAIN "kumppani"
#define KP_Z85_KEY_LEN 40

typedef struct {
    char pub[KP_Z85_KEY_LEN + 1];
    char sec[KP_Z85_KEY_LEN + 1];
} kp_keypair_t;

/* Roles are bits so that a method can list the roles it admits. */
enum {
    KP_ROLE_ADMIN = 1u << 0,     /* coordinators and operators: everything */
    KP_ROLE_PUBLISHER = 1u << 1, /* external sign-up systems: submit and cancel sign-ups */
    KP_ROLE_READER = 1u << 2,    /* read-only tools */
    KP_ROLE_SERVICE = 1u << 3,   /* other Kumppani services: replay, health, reads */
    /* The web's personal links: only the methods by which a person acts on their own record
     * (cancel, leave the waitlist, answer an offer, read one record by id), on any record
     * whatever system made it, and nothing else: no lists, no reads of the log. */
    KP_ROLE_SELFSERVICE = 1u << 4,
};
#define KP_ROLE_ALL                                                                                \
    (KP_ROLE_ADMIN | KP_ROLE_PUBLISHER | KP_ROLE_READER | KP_ROLE_SERVICE | KP_ROLE_SELFSERVICE)
/* Who may read a service's records: the operators, read-only tools and the other services. */
#define KP_ROLES_READ (KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE)

/* Parses a role name; returns its bit, or 0 for an unknown name. */
unsigned kp_role_parse(const char *name);

/* The name of one role bit ("admin", ...), or "none". */
const char *kp_role_name(unsigned role);

/* True if s is 40 characters of Z85 that decode to 32 bytes. */
bool kp_z85_key_valid(const char *s);

/* Makes a new CURVE key pair. Returns 0 or KP_EZMQ (libzmq built without CURVE). */
int kp_keypair_generate(kp_keypair_t *kp);

/* Writes <dir>/<name>.pub and <dir>/<name>.key (0600), creating dir (0700) if needed.
 * Refuses to overwrite an existing key: returns -EEXIST. Other failures: -errno. */
int kp_keypair_save(const kp_keypair_t *kp, const char *dir, const char *name);

/* Reads <dir>/<name>.key and derives the public key. Returns 0, -errno, or KP_EKEY. */
int kp_keypair_load(kp_keypair_t *kp, const char *dir, const char *name);

/* Reads a public key file into out (41 bytes). Returns 0, -errno, or KP_EKEY. */
int kp_pubkey_load(char *out, const char *path);

typedef struct kp_allow kp_allow_t;

/* Loads an allow-list file. Returns 0, -errno, or KP_ECONFIG (a line that is not
 * "<key> <role>"; the line number is logged). Caller owns *out; free with kp_allow_destroy. */
int kp_allow_load(kp_allow_t **out, const char *path);

/* Adds one key with a role (for tests and programs that build lists in memory). */
int kp_allow_add(kp_allow_t *self, const char *z85_pub, unsigned role);
kp_allow_t *kp_allow_new(void);
void kp_allow_destroy(kp_allow_t **self_p);

/* Binds a listed key to a comma-separated list of source names. Returns 0 or KP_EINVAL (key
 * not listed, or a bad list). */
int kp_allow_bind(kp_allow_t *self, const char *z85_pub, const char *sources);

/* The source names a key is bound to ("" if none; borrowed from the list). */
const char *kp_allow_sources(const kp_allow_t *self, const uint8_t key[32]);

/* True if source is one of the comma-separated names in list. */
bool kp_sources_contain(const char *list, const char *source);

/* The role of a 32-byte public key, or 0 if it is not on the list. */
unsigned kp_allow_role(const kp_allow_t *self, const uint8_t key[32]);
size_t kp_allow_size(const kp_allow_t *self);

/* Sets the options every Kumppani socket has: linger 0, ZMQ_MAXMSGSIZE, high-water marks,
 * TCP keepalive and ZMTP heartbeats (so a dead peer is noticed within seconds). */
int kp_zsock_defaults(void *sock);

/* Makes a socket a CURVE server in the ZAP domain (before bind). kp NULL: plain TCP. */
int kp_zsock_server(void *sock, const kp_keypair_t *kp);

/* Makes a socket a CURVE client of a server whose public key is server_pub (before
 * connect). kp NULL: plain TCP. */
int kp_zsock_client(void *sock, const kp_keypair_t *kp, const char *server_pub);

typedef struct kp_zap kp_zap_t;

/* Starts the ZAP handler of ctx inside loop: an inproc REP socket watched by kp_zwatch.
 * Borrows allow (must outlive the handler). Must be started before any CURVE server
 * socket binds. Caller owns *out; stop with kp_zap_close before terminating the context. */
int kp_zap_start(kp_zap_t **out, uv_loop_t *loop, void *ctx, const kp_allow_t *allow);

/* Closes the socket and its watcher; the memory is freed once libuv has closed the handles. */
void kp_zap_close(kp_zap_t **self_p);

/* Counters for health and tests. */
uint64_t kp_zap_admitted(const kp_zap_t *self);
uint64_t kp_zap_denied(const kp_zap_t *self);

/* Receives the next frame of sock without waiting (the drain of kp_zwatch, a poll's answer).
 * Returns true with *m holding the frame (the caller closes it), or false when none waits or
 * the receive failed (*m is already closed). Inline: it is on every request's path. */
static inline bool
kp_zsock_try_recv(void *sock, zmq_msg_t *m)
{
    zmq_msg_init(m);
    if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) >= 0)
        return true;
    zmq_msg_close(m);
    return false;
}

/* A client's side of the bus: reads up to budget replies waiting on sock (a DEALER) without
 * blocking, each decoded on the heap, and hands each that decodes to fn(arg, reply); the reply
 * is freed when fn returns, and a frame that does not decode is dropped. Stops early when fn
 * returns non-zero or nothing waits. */
void kp_zsock_each_reply(void *sock, unsigned budget,
                         int (*fn)(void *arg, const Kumppani__V1__Reply *reply), void *arg);

#endif
