/*  fuzz_text: kp_text_check, kp_text_email_valid, kp_text_phone_valid, kp_text_chars and
 *  kp_text_ascii_lower never crash, and agree with each other and with the rules written in
 *  kp_text.h. The first byte picks single-line or multiline; the rest is the text. */
#include "fuzz_util.h"
#include "kp_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool multiline = data[0] & 1;
    const uint8_t *s = data + 1;
    size_t len = size - 1;
    int rc = kp_text_check(s, len, multiline);
    FUZZ_ASSERT(rc >= KP_TEXT_OK && rc <= KP_TEXT_ECTRL);
    FUZZ_ASSERT(kp_text_why(rc) != NULL);
    /* Text that is OK in one line is OK in many. */
    if (rc == KP_TEXT_OK && !multiline)
        FUZZ_ASSERT(kp_text_check(s, len, true) == KP_TEXT_OK);
    if (rc == KP_TEXT_OK) {
        FUZZ_ASSERT(memchr(s, 0, len) == NULL);
        FUZZ_ASSERT(memchr(s, '\r', len) == NULL);
        FUZZ_ASSERT(memchr(s, 0x7f, len) == NULL);
        if (!multiline)
            FUZZ_ASSERT(!memchr(s, '\n', len) && !memchr(s, '\t', len));
        /* A prefix ending on a character boundary is OK too. */
        size_t cut = len / 2;
        while (cut > 0 && (s[cut] & 0xc0) == 0x80)
            cut--;
        FUZZ_ASSERT(kp_text_check(s, cut, multiline) == KP_TEXT_OK);
    }

    char *z = malloc(len + 1);
    memcpy(z, s, len);
    z[len] = 0;
    size_t zlen = strlen(z); /* up to the first NUL, as C callers see it */
    if (rc == KP_TEXT_OK) {
        size_t starts = 0;
        for (size_t i = 0; i < zlen; i++)
            starts += ((uint8_t)z[i] & 0xc0) != 0x80;
        FUZZ_ASSERT(kp_text_chars(z) == starts);
        FUZZ_ASSERT(kp_text_chars(z) <= zlen);
    }
    if (kp_text_email_valid(z)) {
        /* A valid address is printable ASCII, one line, one '@', at most 254 bytes. */
        FUZZ_ASSERT(zlen >= 3 && zlen <= 254);
        FUZZ_ASSERT(kp_text_check(z, zlen, false) == KP_TEXT_OK);
        for (size_t i = 0; i < zlen; i++)
            FUZZ_ASSERT(z[i] > 0x20 && z[i] < 0x7f);
        const char *at = strchr(z, '@');
        FUZZ_ASSERT(at && at != z && !strchr(at + 1, '@'));
    }
    if (kp_text_phone_valid(z)) {
        FUZZ_ASSERT(kp_text_check(z, zlen, false) == KP_TEXT_OK);
        FUZZ_ASSERT(strspn(z + (z[0] == '+'), "0123456789 -") == zlen - (z[0] == '+'));
    }
    char out[64];
    kp_text_ascii_lower(out, sizeof out, z);
    FUZZ_ASSERT(strlen(out) == (zlen < sizeof out ? zlen : sizeof out - 1));
    for (size_t i = 0; out[i]; i++)
        FUZZ_ASSERT(!(out[i] >= 'A' && out[i] <= 'Z'));
    free(z);
    return 0;
}
