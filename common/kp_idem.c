/*  kp_idem.c: the start of an idempotent create (see kp_idem.h). */
#include "kp_idem.h"

bool
kp_call_idem_key_ok(kp_call_t *call, const char *verb)
{
    size_t len;
    kp_call_idem_key(call, &len);
    if (len == 0)
        kp_call_fail(call, KUMPPANI__V1__CODE__CODE_INVALID,
                     "field 'idempotency_key': required for %s", verb);
    return len > 0;
}

bool
kp_call_idem_required(kp_call_t *call, const char *verb)
{
    if (!kp_call_idem_key_ok(call, verb))
        return true;
    size_t len;
    const char *key = kp_call_idem_key(call, &len);
    return kp_call_idem(call, key, len);
}
