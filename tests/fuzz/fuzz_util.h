/*  fuzz_util: what every fuzz target checks about a message kp_wire accepted.
 *
 *  kp_wire's promise is that a decoded message holds only text that passes kp_text_check, at
 *  every depth, and decodes into the bounded arena. These helpers walk a decoded message by
 *  its descriptor and abort (so that libFuzzer reports a crash) when the promise is broken;
 *  then they pack it again and check that the bytes decode to the same message. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include "kp_arena.h"
#include "kp_err.h"
#include "kp_text.h"
#include "kp_wire.h"

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Calls fn(arg, field, s) for every string s of m (NULL too), recursing into sub-messages;
 * a message nested deeper than kp_wire accepts breaks the invariant. */
typedef void fuzz_string_fn(void *arg, const ProtobufCFieldDescriptor *f, const char *s);

static inline void
fuzz_each_string(const ProtobufCMessage *m, int depth, fuzz_string_fn *fn, void *arg)
{
    FUZZ_ASSERT(depth <= KP_WIRE_MAX_DEPTH);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t n = 1;
        const void *const *v = (const void *const *)base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            v = *(const void *const *const *)base;
        }
        for (size_t j = 0; j < n && v; j++) {
            if (f->type == PROTOBUF_C_TYPE_STRING)
                fn(arg, f, v[j]);
            else if (f->type == PROTOBUF_C_TYPE_MESSAGE && v[j])
                fuzz_each_string(v[j], depth + 1, fn, arg);
        }
    }
}

static inline void
fuzz_check_string(void *arg, const ProtobufCFieldDescriptor *f, const char *s)
{
    (void)arg;
    FUZZ_ASSERT(s != NULL);
    size_t len = strlen(s);
    bool multiline = strlen(f->name) > 5 && strcmp(f->name + strlen(f->name) - 5, "_text") == 0;
    FUZZ_ASSERT(kp_text_check(s, len, multiline) == KP_TEXT_OK);
}

/* Checks every string field of m, recursing into sub-messages. */
static inline void
fuzz_check_strings(const ProtobufCMessage *m, int depth)
{
    fuzz_each_string(m, depth, fuzz_check_string, NULL);
}

/* The arena of one input: made on the first with the given cap, reset for every one. */
static inline kp_arena_t *
fuzz_arena(size_t cap)
{
    static kp_arena_t *a;
    if (!a)
        a = kp_arena_new(cap);
    kp_arena_reset(a);
    return a;
}

/* kp_wire_unpack of size bytes as d; when they do not decode, checks that the refusal is
 * one a bad input may get (a decode error, a bad value, a full arena) with a reason. */
static inline ProtobufCMessage *
fuzz_unpack(const ProtobufCMessageDescriptor *d, kp_arena_t *a, const uint8_t *data, size_t size)
{
    int err;
    char why[KP_WIRE_WHY];
    ProtobufCMessage *m = kp_wire_unpack(d, a, data, size, &err, why, sizeof why);
    if (!m) {
        FUZZ_ASSERT(err == KP_EDECODE || err == KP_EINVAL || err == KP_ENOMEM);
        FUZZ_ASSERT(why[0] != 0 && strlen(why) < sizeof why);
    }
    return m;
}

/* Packs m into a, unpacks the bytes again with kp_wire_unpack, and checks that the second
 * decoding packs to the same bytes (encoding is deterministic for one message). */
static inline void
fuzz_round_trip(kp_arena_t *a, const ProtobufCMessage *m)
{
    uint8_t *p1, *p2;
    size_t n1, n2;
    if (kp_wire_pack(a, m, &p1, &n1) != 0)
        return; /* the arena is full: not a bug */
    int err;
    char why[KP_WIRE_WHY];
    ProtobufCMessage *again = kp_wire_unpack(m->descriptor, a, p1, n1, &err, why, sizeof why);
    if (!again) {
        FUZZ_ASSERT(err == KP_ENOMEM); /* a valid message re-encoded must decode */
        return;
    }
    fuzz_check_strings(again, 0);
    if (kp_wire_pack(a, again, &p2, &n2) != 0)
        return;
    FUZZ_ASSERT(n1 == n2 && memcmp(p1, p2, n1) == 0);
}

#endif
