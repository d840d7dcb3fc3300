/*  kp_link.c: personal link tokens (see kp_link.h for the format and its guarantees). */
#include "kp_link.h"

#include "kp_err.h"
#include "kp_store.h" /* kp_be64_put/get */

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define LINK_LEN 26

const char *
kp_link_path(unsigned purpose)
{
    switch (purpose) {
    case KP_LINK_SIGNUP:
        return "/s/";
    case KP_LINK_EXPERT_OFFER:
        return "/x/";
    case KP_LINK_REQUEST:
        return "/r/";
    default:
        return NULL;
    }
}

void
kp_link_make(const unsigned char key[32], const kp_link_t *l, char *out)
{
    unsigned char b[LINK_LEN + crypto_auth_BYTES];
    b[0] = 1;
    b[1] = (unsigned char)l->purpose;
    kp_be64_put(b + 2, l->id);
    kp_be64_put(b + 10, l->ref);
    kp_be64_put(b + 18, (uint64_t)l->expires_unix);
    crypto_auth(b + LINK_LEN, b, LINK_LEN, key);
    sodium_bin2base64(out, KP_LINK_TOKEN_MAX, b, sizeof b, B64);
}

int
kp_link_url(const unsigned char key[32], const kp_link_t *l, const char *base_url, char *out,
            unsigned cap)
{
    const char *path = kp_link_path(l->purpose);
    if (!path)
        return -1;
    char token[KP_LINK_TOKEN_MAX];
    kp_link_make(key, l, token);
    size_t bl = strlen(base_url);
    while (bl && base_url[bl - 1] == '/')
        bl--;
    int n = snprintf(out, cap, "%.*s%s%s", (int)bl, base_url, path, token);
    sodium_memzero(token, sizeof token);
    return n < 0 || (unsigned)n >= cap ? -1 : 0;
}

int
kp_link_check(const unsigned char key[32], const char *token, int64_t now_unix, kp_link_t *l)
{
    unsigned char b[LINK_LEN + crypto_auth_BYTES];
    size_t n = 0, tl = strlen(token);
    if (tl >= KP_LINK_TOKEN_MAX ||
        sodium_base642bin(b, sizeof b, token, tl, NULL, &n, NULL, B64) != 0 || n != sizeof b ||
        b[0] != 1 || crypto_auth_verify(b + LINK_LEN, b, LINK_LEN, key) != 0)
        return -1;
    l->purpose = b[1];
    l->id = kp_be64_get(b + 2);
    l->ref = kp_be64_get(b + 10);
    l->expires_unix = (int64_t)kp_be64_get(b + 18);
    return now_unix >= l->expires_unix ? -2 : 0;
}

int
kp_link_key_file(const char *path, bool create, unsigned char key[32])
{
    char hex[65] = {0};
    FILE *f = fopen(path, "r");
    if (f) {
        size_t got = fread(hex, 1, 64, f);
        fclose(f);
        size_t n = 0;
        int rc = got != 64 || sodium_hex2bin(key, 32, hex, 64, NULL, &n, NULL) != 0 || n != 32
                     ? KP_EKEY
                     : 0;
        sodium_memzero(hex, sizeof hex);
        return rc;
    }
    if (errno != ENOENT || !create)
        return -errno;
    randombytes_buf(key, 32);
    sodium_bin2hex(hex, sizeof hex, key, 32);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, hex, 64);
    sodium_memzero(hex, sizeof hex);
    int rc = (w == 64 && fsync(fd) == 0) ? 0 : -EIO;
    close(fd);
    return rc;
}
