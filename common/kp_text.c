/*  kp_text: UTF-8 and control-character checks, e-mail and phone shape.
 *
 *  The UTF-8 decoder follows RFC 3629 table 3-7 exactly (no overlongs, no surrogates, nothing
 *  above U+10FFFF), so the check agrees with every strict decoder downstream. */
#include "kp_text.h"

#include <stdint.h>
#include <string.h>

/* Table 3-7, the well-formed sequences beyond ASCII: a range of lead bytes, the number of
 * continuation bytes after it, and the range the first of them must lie in (the others lie in
 * 80..BF). The narrow first ranges rule out overlongs (E0, F0), surrogates (ED) and code
 * points above U+10FFFF (F4); C0, C1 and F5..FF lead nothing. */
static const struct {
    uint8_t lead_lo, lead_hi, n, next_lo, next_hi;
} s_utf8[] = {{0xc2, 0xdf, 1, 0x80, 0xbf}, {0xe0, 0xe0, 2, 0xa0, 0xbf}, {0xe1, 0xec, 2, 0x80, 0xbf},
              {0xed, 0xed, 2, 0x80, 0x9f}, {0xee, 0xef, 2, 0x80, 0xbf}, {0xf0, 0xf0, 3, 0x90, 0xbf},
              {0xf1, 0xf3, 3, 0x80, 0xbf}, {0xf4, 0xf4, 3, 0x80, 0x8f}};
#define KP_UTF8_LEADS (sizeof s_utf8 / sizeof s_utf8[0])

int
kp_text_check(const void *p, size_t len, bool multiline)
{
    const uint8_t *s = p, *end = s + len;
    while (s < end) {
        uint8_t c = *s;
        if (c < 0x80) {
            if (c == 0)
                return KP_TEXT_ENUL;
            if (c < 0x20 || c == 0x7f) {
                if (!(multiline && (c == '\n' || c == '\t')))
                    return KP_TEXT_ECTRL;
            }
            s++;
            continue;
        }
        size_t r = 0;
        while (r < KP_UTF8_LEADS && (c < s_utf8[r].lead_lo || c > s_utf8[r].lead_hi))
            r++;
        if (r == KP_UTF8_LEADS)
            return KP_TEXT_EUTF8;
        size_t n = s_utf8[r].n;
        uint8_t lo = s_utf8[r].next_lo, hi = s_utf8[r].next_hi;
        uint32_t cp = c & (0x7fu >> (n + 1)); /* the lead byte's payload bits */
        if ((size_t)(end - s) <= n)
            return KP_TEXT_EUTF8;
        for (size_t i = 1; i <= n; i++) {
            uint8_t b = s[i];
            if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
                return KP_TEXT_EUTF8;
            cp = (cp << 6) | (b & 0x3f);
        }
        if (cp >= 0x80 && cp <= 0x9f)
            return KP_TEXT_ECTRL;
        /* Line and paragraph separators split lines in some mail and calendar tools. */
        if ((cp == 0x2028 || cp == 0x2029) && !multiline)
            return KP_TEXT_ECTRL;
        s += n + 1;
    }
    return KP_TEXT_OK;
}

const char *
kp_text_why(int rc)
{
    switch (rc) {
    case KP_TEXT_OK:
        return "ok";
    case KP_TEXT_EUTF8:
        return "not valid UTF-8";
    case KP_TEXT_ENUL:
        return "NUL byte not allowed";
    case KP_TEXT_ECTRL:
        return "control character not allowed";
    default:
        return "invalid text";
    }
}

size_t
kp_text_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((uint8_t)*s & 0xc0) != 0x80)
            n++;
    return n;
}

bool
kp_text_email_valid(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 254)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || at - s > 64)
        return false;
    for (const char *p = s; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c))
            return false;
    }
    if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
        return false;
    const char *d = at + 1;
    size_t dlen = strlen(d);
    if (dlen < 3 || d[0] == '.' || d[0] == '-' || d[dlen - 1] == '.' || d[dlen - 1] == '-' ||
        !strchr(d, '.'))
        return false;
    for (const char *p = d; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

bool
kp_text_phone_valid(const char *s)
{
    size_t digits = 0;
    if (*s == '+')
        s++;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digits++;
        else if (*s != ' ' && *s != '-')
            return false;
    }
    return digits >= 6 && digits <= 20;
}

void
kp_text_ascii_lower(char *out, size_t out_len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < out_len; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = 0;
}
