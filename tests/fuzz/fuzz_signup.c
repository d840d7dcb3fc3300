/*  fuzz_signup: kp_wire_unpack of a SubmitSignupRequest, the request that carries personal
 *  data from outside systems. A decoded sign-up must hold only valid single-line text in
 *  every string; the e-mail and phone checks must not crash on it and must agree with the
 *  text check; and it must survive a pack / unpack round trip. */
#include "fuzz_util.h"
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_text.h"
#include "kp_wire.h"
#include "kumppani/v1/events.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_arena_t *a = fuzz_arena(KP_WIRE_DECODE_CAP);
    if (size > KP_WIRE_MAX_FRAME)
        return 0;
    Kumppani__V1__SubmitSignupRequest *s = (Kumppani__V1__SubmitSignupRequest *)fuzz_unpack(
        &kumppani__v1__submit_signup_request__descriptor, a, data, size);
    if (!s)
        return 0;
    const char *const strs[] = {s->source, s->external_id,  s->name,    s->email,
                                s->phone,  s->organisation, s->language};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        FUZZ_ASSERT(kp_text_check(strs[i], strlen(strs[i]), false) == KP_TEXT_OK);
    if (kp_text_email_valid(s->email)) {
        const char *at = strchr(s->email, '@');
        FUZZ_ASSERT(at && !strchr(at + 1, '@'));
        FUZZ_ASSERT(!strpbrk(s->email, " \r\n\t"));
    }
    if (kp_text_phone_valid(s->phone))
        FUZZ_ASSERT(strspn(s->phone, "+0123456789 -") == strlen(s->phone));
    char lower[256];
    kp_text_ascii_lower(lower, sizeof lower, s->email);
    FUZZ_ASSERT(strlen(lower) <= strlen(s->email));
    fuzz_check_strings(&s->base, 0);
    fuzz_round_trip(a, &s->base);
    return 0;
}
