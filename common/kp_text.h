/*  kp_text: checks for text that arrives from outside.
 *
 *  protobuf-c accepts invalid UTF-8, embedded NUL bytes and control characters in string
 *  fields; these checks are what stands between such input and the store, the logs and the
 *  e-mail headers built from it later. */
#ifndef KP_TEXT_H
#define KP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

enum {
    KP_TEXT_OK = 0,
    KP_TEXT_EUTF8 = 1, /* not valid UTF-8 (overlong, surrogate, truncated, > U+10FFFF) */
    KP_TEXT_ENUL = 2,  /* an embedded NUL byte */
    KP_TEXT_ECTRL = 3, /* a C0 or C1 control character or DEL */
};

/* Checks len bytes at s. With multiline, TAB and LF are allowed (CR never is: it is the
 * character that splits headers). Returns KP_TEXT_OK or the first rule broken. */
int kp_text_check(const void *s, size_t len, bool multiline);

/* A short description of a kp_text_check result, e.g. "control character not allowed". */
const char *kp_text_why(int rc);

/* Number of code points in valid UTF-8. */
size_t kp_text_chars(const char *s);

/* A plausible e-mail address: one '@', a non-empty local part of printable ASCII without
 * spaces or quotes, a domain of letters, digits, '-' and '.', with a dot, at most 254 bytes. */
bool kp_text_email_valid(const char *s);

/* A plausible phone number: optional leading '+', then 6..20 digits, spaces or dashes. */
bool kp_text_phone_valid(const char *s);

/* Copies s into out (at most out_len - 1 bytes) with ASCII letters lowered. */
void kp_text_ascii_lower(char *out, size_t out_len, const char *s);

#endif
