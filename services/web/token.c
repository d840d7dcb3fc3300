/*  web/token.c: CSRF tokens, random values and personal links (libsodium).
 *
 *  CSRF (double-submit, bound): the browser holds a random cookie kp_csrf; every form carries
 *  HMAC-SHA512-256(csrf_key, cookie) (crypto_auth). A POST passes only if its field equals the
 *  MAC of its own cookie. Another site can make the browser send the cookie but can neither
 *  read it nor compute its MAC, since csrf_key is random per process (a restart only means
 *  an open form must be reloaded).
 *
 *  Personal links: base64url(version 1 | purpose | signup id | event id | expiry) followed by
 *  crypto_auth of those 26 bytes under the link key, a 32-byte secret in the keys directory
 *  (kept across restarts so that links in mails stay valid). Unguessable (a forger must find
 *  a MAC), single-purpose (the purpose byte is checked), expiring (expiry is checked against
 *  the service clock). A token is never logged. */
#include "kp_err.h"
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define LINK_LEN 26

void
web_token_random(char *out)
{
    unsigned char r[32];
    randombytes_buf(r, sizeof r);
    sodium_bin2base64(out, WEB_COOKIE_LEN + 1, r, sizeof r, B64);
}

void
web_csrf_token(const unsigned char key[32], const char *cookie, char *out)
{
    unsigned char mac[crypto_auth_BYTES];
    crypto_auth(mac, (const unsigned char *)cookie, strlen(cookie), key);
    sodium_bin2base64(out, WEB_TOKEN_MAX, mac, sizeof mac, B64);
}

bool
web_csrf_ok(const unsigned char key[32], const char *cookie, const char *form_token)
{
    if (!cookie || !form_token || strlen(cookie) != WEB_COOKIE_LEN)
        return false;
    unsigned char mac[crypto_auth_BYTES];
    size_t n = 0;
    if (sodium_base642bin(mac, sizeof mac, form_token, strlen(form_token), NULL, &n, NULL, B64) !=
            0 ||
        n != sizeof mac)
        return false;
    return crypto_auth_verify(mac, (const unsigned char *)cookie, strlen(cookie), key) == 0;
}

static void
s_put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t
s_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
web_link_make(const unsigned char key[32], const web_link_t *l, char *out)
{
    unsigned char b[LINK_LEN + crypto_auth_BYTES];
    b[0] = 1;
    b[1] = (unsigned char)l->purpose;
    s_put64(b + 2, l->signup_id);
    s_put64(b + 10, l->event_id);
    s_put64(b + 18, (uint64_t)l->expires_unix);
    crypto_auth(b + LINK_LEN, b, LINK_LEN, key);
    sodium_bin2base64(out, WEB_TOKEN_MAX, b, sizeof b, B64);
}

int
web_link_check(const unsigned char key[32], const char *token, int64_t now_unix, web_link_t *l)
{
    unsigned char b[LINK_LEN + crypto_auth_BYTES];
    size_t n = 0, tl = strlen(token);
    if (tl >= WEB_TOKEN_MAX ||
        sodium_base642bin(b, sizeof b, token, tl, NULL, &n, NULL, B64) != 0 || n != sizeof b ||
        b[0] != 1 || crypto_auth_verify(b + LINK_LEN, b, LINK_LEN, key) != 0)
        return -1;
    l->purpose = b[1];
    l->signup_id = s_get64(b + 2);
    l->event_id = s_get64(b + 10);
    l->expires_unix = (int64_t)s_get64(b + 18);
    return now_unix >= l->expires_unix ? -2 : 0;
}

int
web_key_file(const char *path, bool create, unsigned char key[32])
{
    char hex[65] = {0};
    FILE *f = fopen(path, "r");
    if (f) {
        size_t got = fread(hex, 1, 64, f);
        fclose(f);
        size_t n = 0;
        if (got != 64 || sodium_hex2bin(key, 32, hex, 64, NULL, &n, NULL) != 0 || n != 32)
            return KP_EKEY;
        return 0;
    }
    if (errno != ENOENT || !create)
        return -errno;
    randombytes_buf(key, 32);
    sodium_bin2hex(hex, sizeof hex, key, 32);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, hex, 64);
    int rc = (w == 64 && fsync(fd) == 0) ? 0 : -EIO;
    close(fd);
    return rc;
}
