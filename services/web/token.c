/*  web/token.c: CSRF tokens and random values (libsodium).
 *
 *  CSRF (double-submit, bound): the browser holds a random cookie kp_csrf; every form carries
 *  HMAC-SHA512-256(csrf_key, cookie) (crypto_auth). A POST passes only if its field equals the
 *  MAC of its own cookie. Another site can make the browser send the cookie but can neither
 *  read it nor compute its MAC, since csrf_key is random per process (a restart only means
 *  an open form must be reloaded).
 *
 *  Personal links are common/kp_link (the notifier makes them too). */
#include "kp_err.h"
#include "web.h"

#include <string.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

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
