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

size_t
kp_pbcopy_shared(ProtobufCMessage *dst, const ProtobufCMessage *src)
{
    const ProtobufCMessageDescriptor *sd = src->descriptor;
    size_t n = 0;
    for (unsigned i = 0; i < sd->n_fields; i++) {
        const ProtobufCFieldDescriptor *sf = &sd->fields[i];
        const ProtobufCFieldDescriptor *df =
            protobuf_c_message_descriptor_get_field_by_name(dst->descriptor, sf->name);
        if (!df || df->label != sf->label || df->type != sf->type ||
            df->descriptor != sf->descriptor)
            continue;
        s_copy((char *)dst, df, (const char *)src, sf);
        n++;
    }
    return n;
}
