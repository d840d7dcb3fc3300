/*  fuzz_envelope: kp_wire_unpack of a Request, then of its body as the message its method
 *  names (the events service's methods and the built-ins), as the service does per frame.
 *
 *  Invariants: whatever decodes holds only valid text (fuzz_util.h), stays within the
 *  per-request arena cap, and re-encodes to bytes that decode again. */
#include "fuzz_util.h"
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_wire.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/log.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *method;
    const ProtobufCMessageDescriptor *d;
} s_methods[] = {
    {"events.event.create", &kumppani__v1__create_event_request__descriptor},
    {"events.event.publish", &kumppani__v1__event_ref__descriptor},
    {"events.event.get", &kumppani__v1__event_ref__descriptor},
    {"events.event.list", &kumppani__v1__list_events_request__descriptor},
    {"events.signup.submit", &kumppani__v1__submit_signup_request__descriptor},
    {"events.signup.cancel", &kumppani__v1__cancel_signup_request__descriptor},
    {"events.signup.list", &kumppani__v1__list_signups_request__descriptor},
    {"log.replay", &kumppani__v1__replay_request__descriptor},
    {"sys.health", &kumppani__v1__health_request__descriptor},
};
#define N_METHODS (sizeof s_methods / sizeof s_methods[0])

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_arena_t *a = fuzz_arena(KP_WIRE_DECODE_CAP);
    if (size > KP_WIRE_MAX_FRAME)
        return 0; /* the server answers TOO_LARGE without decoding */
    Kumppani__V1__Request *rq =
        (Kumppani__V1__Request *)fuzz_unpack(&kumppani__v1__request__descriptor, a, data, size);
    FUZZ_ASSERT(kp_arena_used(a) <= KP_WIRE_DECODE_CAP);
    if (!rq)
        return 0;
    fuzz_check_strings(&rq->base, 0);
    /* The body as the message its method names; an unknown method picks one by request id,
     * so that every body type sees fuzzed bytes. */
    const ProtobufCMessageDescriptor *d = s_methods[rq->request_id % N_METHODS].d;
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(rq->method, s_methods[i].method) == 0)
            d = s_methods[i].d;
    int err;
    char why[KP_WIRE_WHY];
    ProtobufCMessage *body =
        kp_wire_unpack(d, a, rq->body.data, rq->body.len, &err, why, sizeof why);
    FUZZ_ASSERT(kp_arena_used(a) <= KP_WIRE_DECODE_CAP);
    if (body) {
        fuzz_check_strings(body, 0);
        fuzz_round_trip(a, body);
    }
    fuzz_round_trip(a, &rq->base);
    return 0;
}
