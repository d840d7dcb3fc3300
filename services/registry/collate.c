/*  registry/collate.c: Finnish collation keys, name words, Y-tunnus and dates.
 *
 *  The collation key is a byte string whose memcmp order is the Finnish alphabetical order
 *  (SFS 4600 as most people know it): letters case-insensitively a..z, then å, ä, ö; accented
 *  Latin letters sort as their base letter (é as e, ü as y, æ as ä, ø as ö); digits before
 *  letters; spaces and punctuation separate words and count as one space. Characters outside
 *  this set follow ö, by code point. No key holds a 0 byte, so "key 0 id" sorts by key, then
 *  id. The words that search matches by prefix use the same key with the Nordic letters also
 *  folded (å ä æ as a, ö ø as o, ü as u): search is case-insensitive and finds "Ähtäri" for
 *  "ahtari" as well as for "ähtäri", while results keep the collation order. Dates are Helsinki
 * calendar dates (kp_time). */
#include "kp_time.h"
#include "registry.h"

#include <stdio.h>
#include <string.h>

enum { K_SPACE = 0x20, K_AA = 0x7b, K_AE = 0x7c, K_OE = 0x7d, K_OTHER = 0x7e };

/* Decodes one code point of valid UTF-8 (the wire has checked it); returns its length. */
static size_t
s_cp(const uint8_t *p, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0 && p[1]) {
        *cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
        return 2;
    }
    if ((p[0] & 0xf0) == 0xe0 && p[1] && p[2]) {
        *cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }
    if ((p[0] & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) {
        *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
              ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        return 4;
    }
    *cp = 0xfffd;
    return 1;
}

/* The key byte(s) of one code point: 0 = ignore, K_SPACE = separator, else a letter or
 * digit. Two-byte results (ß) come back with *second set. */
static uint8_t
s_map(uint32_t c, uint8_t *second)
{
    *second = 0;
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c + 32);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return (uint8_t)c;
    if (c < 0x80)
        return c == '\'' ? 0 : K_SPACE; /* O'Neill sorts as ONeill */
    switch (c) {
    case 0xc5:
    case 0xe5:
        return K_AA; /* Å å */
    case 0xc4:
    case 0xe4:
    case 0xc6:
    case 0xe6:
        return K_AE; /* Ä ä Æ æ */
    case 0xd6:
    case 0xf6:
    case 0xd8:
    case 0xf8:
        return K_OE; /* Ö ö Ø ø */
    case 0xdc:
    case 0xfc:
        return 'y'; /* Ü ü */
    case 0xdf:
        *second = 's';
        return 's'; /* ß */
    case 0xc7:
    case 0xe7:
        return 'c';
    case 0xd1:
    case 0xf1:
        return 'n';
    case 0x160:
    case 0x161:
        return 's'; /* Š š */
    case 0x17d:
    case 0x17e:
        return 'z'; /* Ž ž */
    case 0xa0:
    case 0x2010:
    case 0x2011:
    case 0x2013:
    case 0x2014:
        return K_SPACE;
    case 0x2019:
        return 0;
    default:
        break;
    }
    if ((c >= 0xc0 && c <= 0xc3) || (c >= 0xe0 && c <= 0xe3))
        return 'a';
    if ((c >= 0xc8 && c <= 0xcb) || (c >= 0xe8 && c <= 0xeb))
        return 'e';
    if ((c >= 0xcc && c <= 0xcf) || (c >= 0xec && c <= 0xef))
        return 'i';
    if ((c >= 0xd2 && c <= 0xd5) || (c >= 0xf2 && c <= 0xf5))
        return 'o';
    if ((c >= 0xd9 && c <= 0xdb) || (c >= 0xf9 && c <= 0xfb))
        return 'u';
    if (c == 0xdd || c == 0xfd || c == 0xff)
        return 'y';
    if (c < 0xc0)
        return K_SPACE; /* Latin-1 punctuation and symbols */
    return K_OTHER;
}

/* The search form of a code point: its collation byte with the Nordic letters folded to
 * their base letter (å ä æ as a, ö ø as o, ü as u), as people type them on phones and
 * foreign keyboards. */
static uint8_t
s_map_folded(uint32_t c, uint8_t *second)
{
    uint8_t k = s_map(c, second);
    if (k == K_AA || k == K_AE)
        return 'a';
    if (k == K_OE)
        return 'o';
    if (c == 0xdc || c == 0xfc)
        return 'u';
    return k;
}

/* The key of s in collation form (fold false) or search form (fold true). */
static size_t
s_key(const char *s, uint8_t *out, size_t cap, bool fold)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = 0;
    while (*p && n < cap) {
        uint32_t c;
        size_t l = s_cp(p, &c);
        uint8_t second, k = fold ? s_map_folded(c, &second) : s_map(c, &second);
        if (k == K_SPACE) {
            if (n > 0 && out[n - 1] != K_SPACE)
                out[n++] = K_SPACE;
        } else if (k == K_OTHER) {
            /* After ö, by code point: the marker, then the UTF-8 bytes (never 0). */
            if (n + 1 + l > cap)
                break;
            out[n++] = K_OTHER;
            memcpy(out + n, p, l);
            n += l;
        } else if (k) {
            out[n++] = k;
            if (second && n < cap)
                out[n++] = second;
        }
        p += l;
    }
    while (n > 0 && out[n - 1] == K_SPACE)
        n--;
    return n;
}

size_t
reg_sortkey(const char *s, uint8_t *out, size_t cap)
{
    return s_key(s, out, cap, false);
}

unsigned
reg_words(const char *s, void (*fn)(void *, const uint8_t *, size_t), void *arg)
{
    uint8_t key[4 * REG_NAME_MAX + 8];
    size_t n = s_key(s, key, sizeof key, true);
    unsigned words = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && key[j] != K_SPACE)
            j++;
        if (j > i) {
            fn(arg, key + i, j - i > REG_WORD_MAX ? REG_WORD_MAX : j - i);
            words++;
        }
        i = j + 1;
    }
    return words;
}

static void
s_query_word(void *arg, const uint8_t *w, size_t n)
{
    reg_query_words_t *q = arg;
    if (q->n >= REG_QUERY_WORDS)
        return;
    memcpy(q->w[q->n], w, n);
    q->len[q->n++] = n;
}

void
reg_query_words(const char *s, reg_query_words_t *q)
{
    q->n = 0;
    reg_words(s, s_query_word, q);
}

bool
reg_business_id_valid(const char *s)
{
    static const int w[7] = {7, 9, 10, 5, 8, 4, 2};
    if (strlen(s) != 9 || s[7] != '-')
        return false;
    int sum = 0;
    for (int i = 0; i < 7; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        sum += (s[i] - '0') * w[i];
    }
    if (s[8] < '0' || s[8] > '9')
        return false;
    int r = sum % 11;
    if (r == 1)
        return false; /* no valid check digit: such numbers are never issued */
    int check = r == 0 ? 0 : 11 - r;
    return s[8] - '0' == check;
}

bool
reg_date_valid(const char *s)
{
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

void
reg_date_of(int64_t ms, char out[11])
{
    struct tm tm;
    unsigned y = 1970, mon = 1, d = 1;
    if (kp_time_local(ms / 1000, &tm) == 0 && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
        y = (unsigned)tm.tm_year + 1900;
        mon = (unsigned)tm.tm_mon + 1;
        d = (unsigned)tm.tm_mday;
    }
    snprintf(out, 11, "%04u-%02u-%02u", y % 10000, mon % 100, d % 100);
}

static const char *const s_fields[] = {
    NULL,
    "mental-health",
    "substance-use",
    "disability",
    "older-people",
    "children-families",
    "youth",
    "patients",
    "multicultural",
    "sport-culture",
    "village",
    "social-welfare",
    "employment",
    "housing",
    "veterans",
    "other",
};

const char *
reg_field_name(int field)
{
    if (field <= 0 || field >= (int)(sizeof s_fields / sizeof s_fields[0]))
        return NULL;
    return s_fields[field];
}

int
reg_field_parse(const char *s, size_t len)
{
    for (int i = 1; i < (int)(sizeof s_fields / sizeof s_fields[0]); i++)
        if (strlen(s_fields[i]) == len && memcmp(s_fields[i], s, len) == 0)
            return i;
    return 0;
}
