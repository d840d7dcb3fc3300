/*  kp_privacy: subject matching and answers shared by the services' privacy methods. */
#include "kp_privacy.h"

#include "kp_check.h"
#include "kp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char
s_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool
kp_privacy_email_eq(const char *a, const char *b)
{
    if (!a || !b || !a[0] || !b[0])
        return false;
    for (; *a && *b; a++, b++)
        if (s_lower(*a) != s_lower(*b))
            return false;
    return *a == *b;
}

void
kp_privacy_phone_digits(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    while (p && *p == ' ')
        p++;
    if (p && *p == '+' && n + 1 < cap)
        out[n++] = *p++;
    for (; p && *p && n + 1 < cap; p++)
        if (*p >= '0' && *p <= '9')
            out[n++] = *p;
    out[n] = 0;
}

void
kp_privacy_phone_norm(const char *p, char *out, size_t cap)
{
    char d[64];
    kp_privacy_phone_digits(p, d, sizeof d);
    const char *rest = d;
    const char *cc = "";
    if (d[0] == '0' && d[1] == '0') { /* 00 358 ...: the international prefix */
        cc = "+";
        rest = d + 2;
    } else if (d[0] == '0' && d[1]) { /* 040 ...: a Finnish national number */
        cc = "+358";
        rest = d + 1;
    }
    snprintf(out, cap, "%s%s", cc, rest);
}

bool
kp_privacy_phone_eq(const char *a, const char *b)
{
    char x[64], y[64];
    kp_privacy_phone_norm(a, x, sizeof x);
    kp_privacy_phone_norm(b, y, sizeof y);
    return strlen(x) > (x[0] == '+' ? 1u : 0u) && strcmp(x, y) == 0;
}

bool
kp_privacy_matches(const Kumppani__V1__DataSubject *s, const char *email, const char *phone)
{
    return (s->email[0] && kp_privacy_email_eq(s->email, email)) ||
           (s->phone[0] && kp_privacy_phone_eq(s->phone, phone));
}

bool
kp_privacy_subject_ok(kp_call_t *call, const Kumppani__V1__DataSubject *s, bool signup_ok)
{
    if (!kp_check_text(call, "email", s->email, 0, 254) ||
        !kp_check_text(call, "phone", s->phone, 0, 30))
        return false;
    if (s->email[0] || s->phone[0] || (signup_ok && s->signup_id))
        return true;
    if (s->signup_id)
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_NOT_FOUND, KP_PRIVACY_NOTHING);
    else
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INVALID,
                     "field 'email': an e-mail or a phone is required");
    return false;
}

void
kp_privacy_export_ok(kp_call_t *call, const char *service, json_t *root, bool more)
{
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    kp_privacy_export_text(call, service, text, more);
    free(text);
}

void
kp_privacy_export_text(kp_call_t *call, const char *service, const char *json, bool more)
{
    if (!json) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    Kumppani__V1__PrivacyExportReply r = KUMPPANI__V1__PRIVACY_EXPORT_REPLY__INIT;
    r.service = (char *)service;
    r.json = (char *)json;
    r.more = more;
    kp_call_ok(call, &r.base);
}
