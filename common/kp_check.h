/*  kp_check: the field rules every service's api.c shares.
 *
 *  Each check answers the call CODE_INVALID with a message that names the field and the rule
 *  (never the submitted value, STYLE "Errors") and returns false, or returns true and leaves
 *  the call alone. Handlers chain them: `if (!kp_check_text(call, "title", v, 1, 200)) return;`.
 *  Strings have already passed kp_wire's UTF-8 and control-character check. */
#ifndef KP_CHECK_H
#define KP_CHECK_H

#include "kp_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Answers CODE_INVALID with the message (the field and the rule it broke, never the submitted
 * value) and returns false, so that a rule of a service reads
 * `if (n > 6) return kp_check_fail(call, "field 'role_rules': at most one rule per role");`. */
bool kp_check_fail(kp_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* min..max characters (code points); min 1 means required. */
bool kp_check_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max);

/* An official municipality code: three digits ("743"). */
bool kp_check_muni_code(kp_call_t *call, const char *field, const char *v);

/* Same rule without answering (for lists and CSV rows). */
bool kp_is_muni_code(const char *v);

/* A language of the suite: "" (unset), fi, sv or en. */
bool kp_check_language(kp_call_t *call, const char *field, const char *v);

/* A machine name: 1..max of [a-z0-9._:-] (sources, networks). */
bool kp_check_name(kp_call_t *call, const char *field, const char *v, size_t max);

/* A calendar date "YYYY-MM-DD" (month 1..12, day valid for the month); empty allowed when
 * optional. */
bool kp_check_date(kp_call_t *call, const char *field, const char *v, bool optional);
bool kp_is_date(const char *v);

/* At least one of e-mail and phone, each valid when given. */
bool kp_check_contact(kp_call_t *call, const char *email_field, const char *email,
                      const char *phone_field, const char *phone);

/* A page size, the `limit` of a list request: 0 means dflt (1..max). Returns the page size, or
 * 0 after answering "field 'limit': at most max (0: dflt)" when limit is above max. */
uint32_t kp_check_limit(kp_call_t *call, uint32_t limit, uint32_t dflt, uint32_t max);

#endif
