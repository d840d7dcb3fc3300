/*  fuzz_replay_page: kp_wire_unpack of a ReplayPage (what a consumer decodes from another
 *  service) in an arena with a small cap. The cap must hold whatever the input: a page of
 *  empty sub-messages costs ~40× its size to decode, and the arena must refuse rather than
 *  grow. Also decodes the same bytes as ReplayPageWire and each event alone. */
#include "fuzz_util.h"
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_wire.h"
#include "kumppani/v1/log.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (256 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_arena_t *a = fuzz_arena(CAP);
    int err;
    char why[KP_WIRE_WHY];
    size_t refused = kp_arena_refusals(a);
    Kumppani__V1__ReplayPage *page = (Kumppani__V1__ReplayPage *)kp_wire_unpack(
        &kumppani__v1__replay_page__descriptor, a, data, size, &err, why, sizeof why);
    FUZZ_ASSERT(kp_arena_used(a) <= CAP);
    if (!page) {
        FUZZ_ASSERT(err == KP_EDECODE || err == KP_EINVAL || err == KP_ENOMEM || err == KP_ETOOBIG);
        /* KP_ENOMEM exactly when the arena refused something. */
        FUZZ_ASSERT((err == KP_ENOMEM) == (kp_arena_refusals(a) != refused));
    } else {
        fuzz_check_strings(&page->base, 0);
        for (size_t i = 0; i < page->n_events; i++)
            FUZZ_ASSERT(page->events[i] != NULL);
        fuzz_round_trip(a, &page->base);
    }

    kp_arena_reset(a);
    Kumppani__V1__ReplayPageWire *w = (Kumppani__V1__ReplayPageWire *)kp_wire_unpack(
        &kumppani__v1__replay_page_wire__descriptor, a, data, size, &err, why, sizeof why);
    FUZZ_ASSERT(kp_arena_used(a) <= CAP);
    if (!w)
        return 0;
    /* Each raw event as the consumer decodes it. */
    for (size_t i = 0; i < w->n_events && i < 64; i++) {
        Kumppani__V1__Event *ev = (Kumppani__V1__Event *)kp_wire_unpack(
            &kumppani__v1__event__descriptor, a, w->events[i].data, w->events[i].len, &err, why,
            sizeof why);
        FUZZ_ASSERT(kp_arena_used(a) <= CAP);
        if (ev)
            fuzz_check_strings(&ev->base, 0);
    }
    return 0;
}
