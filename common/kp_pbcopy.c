/*  kp_pbcopy.c: fields copied between protobuf-c messages by descriptor (see kp_pbcopy.h).
 *
 *  A field's value sits at its offset in the message struct; a repeated field keeps its count
 *  (a size_t) at quantifier_offset and a pointer to its array at offset. The value's size is the
 *  element size protobuf-c lays arrays out with (kp_pbjson_elem_size). */
#include "kp_pbcopy.h"

#include "kp_pbjson.h"

#include <assert.h>
#include <string.h>

/* Field sf of src into field df of dst (the same label and type). */
static void
s_copy(char *dst, const ProtobufCFieldDescriptor *df, const char *src,
       const ProtobufCFieldDescriptor *sf)
{
    assert(sf->label == PROTOBUF_C_LABEL_NONE || sf->label == PROTOBUF_C_LABEL_REPEATED);
    assert(!(sf->flags & PROTOBUF_C_FIELD_FLAG_ONEOF));
    if (sf->label == PROTOBUF_C_LABEL_REPEATED) {
        memcpy(dst + df->quantifier_offset, src + sf->quantifier_offset, sizeof(size_t));
        memcpy(dst + df->offset, src + sf->offset, sizeof(void *));
    } else {
        memcpy(dst + df->offset, src + sf->offset, kp_pbjson_elem_size(sf));
    }
}

void
kp_pbcopy_field(ProtobufCMessage *dst, const ProtobufCMessage *src,
                const ProtobufCFieldDescriptor *f)
{
    s_copy((char *)dst, f, (const char *)src, f);
}

/* The pairs of fields two message types share, worked out once per pair of types: a message
 * is made from another per request (a sign-up from each submit), and finding each field by
 * name took ~2 % of a sign-up's CPU (perf of the service under the sign-up bench). Types
 * with more fields than a map holds are matched by name each time. */
#define KP_PBCOPY_MAPS 16
#define KP_PBCOPY_FIELDS 96

typedef struct {
    const ProtobufCMessageDescriptor *sd, *dd;
    unsigned n;
    const ProtobufCFieldDescriptor *sf[KP_PBCOPY_FIELDS], *df[KP_PBCOPY_FIELDS];
} pair_map_t;

static _Thread_local pair_map_t s_maps[KP_PBCOPY_MAPS];
static _Thread_local unsigned s_maps_n;

/* The field of dd that sf's value may be copied into, or NULL. */
static const ProtobufCFieldDescriptor *
s_match(const ProtobufCMessageDescriptor *dd, const ProtobufCFieldDescriptor *sf)
{
    const ProtobufCFieldDescriptor *df =
        protobuf_c_message_descriptor_get_field_by_name(dd, sf->name);
    if (!df || df->label != sf->label || df->type != sf->type || df->descriptor != sf->descriptor)
        return NULL;
    return df;
}

static const pair_map_t *
s_map(const ProtobufCMessageDescriptor *sd, const ProtobufCMessageDescriptor *dd)
{
    for (unsigned i = 0; i < s_maps_n; i++)
        if (s_maps[i].sd == sd && s_maps[i].dd == dd)
            return &s_maps[i];
    if (s_maps_n == KP_PBCOPY_MAPS || sd->n_fields > KP_PBCOPY_FIELDS)
        return NULL;
    pair_map_t *m = &s_maps[s_maps_n++];
    *m = (pair_map_t){.sd = sd, .dd = dd};
    for (unsigned i = 0; i < sd->n_fields; i++) {
        const ProtobufCFieldDescriptor *df = s_match(dd, &sd->fields[i]);
        if (df) {
            m->sf[m->n] = &sd->fields[i];
            m->df[m->n++] = df;
        }
    }
    return m;
}

size_t
kp_pbcopy_shared(ProtobufCMessage *dst, const ProtobufCMessage *src)
{
    const ProtobufCMessageDescriptor *sd = src->descriptor;
    const pair_map_t *m = s_map(sd, dst->descriptor);
    if (m) {
        for (unsigned i = 0; i < m->n; i++)
            s_copy((char *)dst, m->df[i], (const char *)src, m->sf[i]);
        return m->n;
    }
    size_t n = 0;
    for (unsigned i = 0; i < sd->n_fields; i++) {
        const ProtobufCFieldDescriptor *df = s_match(dst->descriptor, &sd->fields[i]);
        if (df) {
            s_copy((char *)dst, df, (const char *)src, &sd->fields[i]);
            n++;
        }
    }
    return n;
}
