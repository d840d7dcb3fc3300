/*  kp_link.h: personal links — unguessable, single-purpose, expiring tokens for people.
 *
 *  A personal link lets a person act on their own record without an account: see and cancel a
 *  sign-up, answer a waitlist offer, answer an expert offer, follow a request. The web service
 *  checks links; the notifier makes them for the messages it sends. Both hold the same 32-byte
 *  link secret, <keys-dir>/<link-key>.secret (64 hex digits, 0600), which never leaves the
 *  host and never goes on a log; nor does a token.
 *
 *  Token: base64url(version 1 | purpose | id | ref | expiry, 26 bytes) followed by
 *  crypto_auth (HMAC-SHA512-256) of those bytes under the secret. A forger must find a MAC;
 *  the purpose byte makes a link good for one kind of page only; the expiry (Unix seconds) is
 *  checked against the service clock. Rotating the secret revokes every link; the pages also
 *  refuse a link whose record is gone (erased, cancelled where that matters).
 *
 *  Paths (the web serves them, the notifier writes them into messages):
 *    KP_LINK_SIGNUP        /s/<token>  id = sign-up id, ref = event id
 *    KP_LINK_EXPERT_OFFER  /x/<token>  id = offer id,   ref = request id
 *    KP_LINK_REQUEST       /r/<token>  id = request id, ref = 0
 */
#ifndef KP_LINK_H
#define KP_LINK_H

#include <stdbool.h>
#include <stdint.h>

#define KP_LINK_TOKEN_MAX 128 /* a token and its NUL fit in this */

typedef enum {
    KP_LINK_SIGNUP = 1, /* a participant's sign-up: see, cancel, leave waitlist, answer offer */
    KP_LINK_EXPERT_OFFER = 2, /* an expert's offer: accept or decline */
    KP_LINK_REQUEST = 3,      /* a requester's request: follow it */
} kp_link_purpose_t;

typedef struct {
    unsigned purpose;
    uint64_t id, ref;
    int64_t expires_unix;
} kp_link_t;

/* The path prefix of a purpose ("/s/", "/x/", "/r/"); NULL for an unknown one. */
const char *kp_link_path(unsigned purpose);

/* Writes the token of l into out (KP_LINK_TOKEN_MAX bytes). */
void kp_link_make(const unsigned char key[32], const kp_link_t *l, char *out);

/* Writes base_url + path + token into out (cap bytes). Returns 0, or -1 if it does not fit or
 * the purpose is unknown. */
int kp_link_url(const unsigned char key[32], const kp_link_t *l, const char *base_url, char *out,
                unsigned cap);

/* Checks a token. Returns 0 (valid, *l filled), -1 (forged or malformed), -2 (expired at
 * now_unix; *l filled). The purpose is the caller's to check. */
int kp_link_check(const unsigned char key[32], const char *token, int64_t now_unix, kp_link_t *l);

/* Reads the link secret at path (64 hex digits); create: make it (0600) when missing.
 * Returns 0, -errno, or KP_EKEY for a malformed file. */
int kp_link_key_file(const char *path, bool create, unsigned char key[32]);

#endif
