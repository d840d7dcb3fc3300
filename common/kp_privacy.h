/*  kp_privacy: what every service's privacy.erase and privacy.export share
 *  (proto/kumppani/v1/privacy.proto).
 *
 *  A subject is matched the same way everywhere: an e-mail compared ASCII case-insensitively,
 *  a phone number in one form (kp_privacy_phone_norm: "040 123" = "+358 40 123"). The
 *  answer for a subject nothing is held about is one text, KP_PRIVACY_NOTHING, with
 *  CODE_NOT_FOUND. Neither the subject nor an export is ever logged. */
#ifndef KP_PRIVACY_H
#define KP_PRIVACY_H

#include "kp_server.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KP_PRIVACY_NOTHING "no personal data held for that subject"

/* True if both are non-empty and equal ignoring ASCII case. */
bool kp_privacy_email_eq(const char *a, const char *b);

/* A phone number as one form for every way of writing it, into out (at most cap - 1
 * characters): its digits with a leading '+' kept, "00" read as '+' and a national number's
 * leading 0 as Finland's +358 ("040 123 4567" = "+358 40 1234567" = "00358401234567"). */
void kp_privacy_phone_norm(const char *p, char *out, size_t cap);

/* The digits of a phone number with a leading '+' kept, as typed ("040 1" -> "0401"): the form
 * of values stored before kp_privacy_phone_norm read national numbers. */
void kp_privacy_phone_digits(const char *p, char *out, size_t cap);

/* True if both hold at least one digit and are the same number (see above). */
bool kp_privacy_phone_eq(const char *a, const char *b);

/* True if the record's e-mail or phone is the subject's. */
bool kp_privacy_matches(const Kumppani__V1__DataSubject *s, const char *email, const char *phone);

/* Checks the subject's fields (lengths; an e-mail or a phone, or with signup_ok a sign-up id).
 * Answers the call and returns false when they break a rule: CODE_INVALID naming the field, or
 * CODE_NOT_FOUND KP_PRIVACY_NOTHING for a sign-up id where the service holds no sign-ups. */
bool kp_privacy_subject_ok(kp_call_t *call, const Kumppani__V1__DataSubject *s, bool signup_ok);

/* Answers an export: root (taken, freed here) as one compact JSON document from service; more:
 * the service stopped at its per-call cap (privacy.proto). */
void kp_privacy_export_ok(kp_call_t *call, const char *service, json_t *root, bool more);

/* Answers an export whose JSON document from service is already text (borrowed; NULL: it
 * could not be built for want of memory, answered KP_ENOMEM). */
void kp_privacy_export_text(kp_call_t *call, const char *service, const char *json, bool more);

#endif
