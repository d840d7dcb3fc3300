/*  web/number.c: the numbers of forms and paths. A value is a number only when it is nothing
 *  but decimal digits, bounded in length before it is converted (so no overflow, no sign, no
 *  space, no "0x"). */
#include "web.h"

#include <stdlib.h>
#include <string.h>

uint64_t
web_parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s) || s[0] == '0')
        return 0;
    return strtoull(s, NULL, 10);
}

long
web_digits(const char *s, size_t digits, long max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > digits || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    long v = strtol(s, NULL, 10);
    return v <= max ? v : -1;
}
