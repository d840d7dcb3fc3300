/*  kp_check: shared field rules (kp_check.h). */
#include "kp_check.h"

#include "kp_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INVALID KUMPPANI__V1__CODE__CODE_INVALID

bool
kp_check_fail(kp_call_t *call, const char *fmt, ...)
{
    char msg[256]; /* the size of a call's message (kp_server.c) */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kp_call_fail(call, INVALID, "%s", msg);
    return false;
}

bool
kp_check_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max)
{
    size_t n = kp_text_chars(v ? v : "");
    if (n < min)
        return kp_check_fail(call, "field '%s': required", field);
    if (n > max)
        return kp_check_fail(call, "field '%s': at most %zu characters", field, max);
    return true;
}

bool
kp_is_muni_code(const char *v)
{
    return v && strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' &&
           v[2] >= '0' && v[2] <= '9';
}

bool
kp_check_muni_code(kp_call_t *call, const char *field, const char *v)
{
    if (kp_is_muni_code(v))
        return true;
    return kp_check_fail(call, "field '%s': three digits (e.g. 743)", field);
}

bool
kp_check_language(kp_call_t *call, const char *field, const char *v)
{
    if (!v || !*v || strcmp(v, "fi") == 0 || strcmp(v, "sv") == 0 || strcmp(v, "en") == 0)
        return true;
    return kp_check_fail(call, "field '%s': one of fi, sv, en", field);
}

bool
kp_check_name(kp_call_t *call, const char *field, const char *v, size_t max)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > max)
        return kp_check_fail(call, "field '%s': 1..%zu characters required", field, max);
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':'))
            return kp_check_fail(call, "field '%s': only a-z, 0-9, '.', '_', ':' and '-'", field);
    }
    return true;
}

bool
kp_is_date(const char *v)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!v || strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return false;
    int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
    int m = (v[5] - '0') * 10 + v[6] - '0', d = (v[8] - '0') * 10 + v[9] - '0';
    if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

bool
kp_check_date(kp_call_t *call, const char *field, const char *v, bool optional)
{
    if ((optional && (!v || !*v)) || kp_is_date(v))
        return true;
    return kp_check_fail(call, "field '%s': a date YYYY-MM-DD", field);
}

bool
kp_check_contact(kp_call_t *call, const char *email_field, const char *email,
                 const char *phone_field, const char *phone)
{
    email = email ? email : "";
    phone = phone ? phone : "";
    if (!email[0] && !phone[0])
        return kp_check_fail(call, "field '%s': an e-mail or a phone number is required",
                             email_field);
    if (email[0] && !kp_text_email_valid(email))
        return kp_check_fail(call, "field '%s': not a valid e-mail address", email_field);
    if (phone[0] && !kp_text_phone_valid(phone))
        return kp_check_fail(call,
                             "field '%s': a phone number of 6 to 20 digits (spaces and dashes "
                             "allowed, a leading + optional)",
                             phone_field);
    return true;
}

uint32_t
kp_check_limit(kp_call_t *call, uint32_t limit, uint32_t dflt, uint32_t max)
{
    if (limit > max) {
        kp_call_fail(call, INVALID, "field 'limit': at most %u (0: %u)", (unsigned)max,
                     (unsigned)dflt);
        return 0;
    }
    return limit ? limit : dflt;
}
