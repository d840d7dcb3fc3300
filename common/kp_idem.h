/*  kp_idem.h: the start of a method that creates something under the envelope's idempotency
 *  key (events create and series create, registry register and assign, broker register and
 *  file).
 *
 *  Such a method refuses a request without a key, naming the field and the method, and looks
 *  the key up (kp_call_idem) before it writes: a retry gets its first answer byte for byte, a
 *  key reused with other content is a conflict. Where the lookup goes first (STYLE, the
 *  service loop: a retry gets its first answer even when today's rules would refuse it):
 *
 *      if (kp_call_idem_required(call, "register") || !check(...))
 *          return;
 *
 *  and where the request is checked first (its own errors before a lookup):
 *
 *      if (!kp_call_idem_key_ok(call, "create") || !check(...))
 *          return;
 *      if (kp_call_idem_required(call, "create"))
 *          return; */
#ifndef KP_IDEM_H
#define KP_IDEM_H

#include "kp_server.h"

#include <stdbool.h>

/* True when the envelope carries an idempotency key; otherwise answers CODE_INVALID
 * "field 'idempotency_key': required for <verb>" and returns false. */
bool kp_call_idem_key_ok(kp_call_t *call, const char *verb);

/* kp_call_idem_key_ok, then kp_call_idem with the envelope's key. True when the call has been
 * answered (no key, the first answer of a retry, a conflict, a store error): the handler
 * returns at once, without writing. */
bool kp_call_idem_required(kp_call_t *call, const char *verb);

#endif
