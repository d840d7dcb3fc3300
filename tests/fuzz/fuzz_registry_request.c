/*  fuzz_registry_request: kp_wire_unpack of every registry request (the first input byte picks
 *  the message), then the registry's pure checks on each decoded string: the Finnish collation
 *  key (bounded, never a 0 byte), the word splitter (non-empty words without spaces), the
 *  Y-tunnus and date validators (what they accept has their shape). A decoded message must
 *  hold only valid text and survive a pack / unpack round trip. */
#include "fuzz_util.h"
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_wire.h"
#include "registry.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const s_desc[] = {
    &kumppani__v1__register_organisation_request__descriptor,
    &kumppani__v1__update_organisation_request__descriptor,
    &kumppani__v1__dissolve_organisation_request__descriptor,
    &kumppani__v1__organisation_ref__descriptor,
    &kumppani__v1__search_request__descriptor,
    &kumppani__v1__municipality__descriptor,
    &kumppani__v1__list_municipalities_request__descriptor,
    &kumppani__v1__add_person_request__descriptor,
    &kumppani__v1__update_person_request__descriptor,
    &kumppani__v1__person_ref__descriptor,
    &kumppani__v1__assign_role_request__descriptor,
    &kumppani__v1__end_role_request__descriptor,
    &kumppani__v1__list_roles_request__descriptor,
    &kumppani__v1__coverage_gaps_request__descriptor,
    &kumppani__v1__coverage_idle_request__descriptor,
    &kumppani__v1__import_request__descriptor,
    &kumppani__v1__export_request__descriptor,
};
#define N_DESC (sizeof s_desc / sizeof s_desc[0])

static void
s_word(void *arg, const uint8_t *w, size_t n)
{
    (void)arg;
    FUZZ_ASSERT(n > 0 && !memchr(w, ' ', n) && !memchr(w, 0, n));
}

/* The registry's pure checks on one decoded string. */
static void
s_string(void *arg, const ProtobufCFieldDescriptor *f, const char *s)
{
    (void)arg;
    (void)f;
    if (!s)
        return;
    uint8_t key[REG_SK_MAX];
    size_t kl = reg_sortkey(s, key, sizeof key);
    FUZZ_ASSERT(kl <= sizeof key && !memchr(key, 0, kl));
    unsigned nw = reg_words(s, s_word, NULL);
    FUZZ_ASSERT(nw <= strlen(s));
    if (reg_business_id_valid(s))
        FUZZ_ASSERT(strlen(s) == 9 && s[7] == '-');
    if (reg_date_valid(s))
        FUZZ_ASSERT(strlen(s) == 10 && s[4] == '-' && s[7] == '-');
    (void)reg_field_parse(s, strlen(s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_arena_t *a = fuzz_arena(KP_WIRE_DECODE_CAP);
    if (size < 1 || size > KP_WIRE_MAX_FRAME)
        return 0;
    ProtobufCMessage *m = fuzz_unpack(s_desc[data[0] % N_DESC], a, data + 1, size - 1);
    if (!m)
        return 0;
    fuzz_check_strings(m, 0);
    fuzz_each_string(m, 0, s_string, NULL);
    fuzz_round_trip(a, m);
    return 0;
}
