/*  kp_pbjson.c: a protobuf-c message as JSON by its descriptor (see kp_pbjson.h). */
#include "kp_pbjson.h"

#include <stdint.h>

size_t
kp_pbjson_elem_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static json_t *
s_sub_plain(const ProtobufCMessage *m, const void *arg)
{
    (void)arg;
    return kp_pbjson_message(m);
}

json_t *
kp_pbjson_value(const ProtobufCFieldDescriptor *fd, const void *p, kp_pbjson_sub_fn sub,
                const void *arg)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer((json_int_t) * (const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p; /* protobuf-c gives "", NULL is built by hand */
        return json_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return json_stringn((const char *)b->data, b->len);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
        return ev ? json_string(ev->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? (sub ? sub : s_sub_plain)(m, arg) : json_null();
    }
    default:
        return json_null();
    }
}

json_t *
kp_pbjson_message(const ProtobufCMessage *m)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; o && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            json_object_set_new(o, f->name, kp_pbjson_value(f, base + f->offset, NULL, NULL));
            continue;
        }
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const char *v = *(char *const *)(base + f->offset);
        json_t *a = json_array();
        for (size_t k = 0; a && k < n; k++)
            json_array_append_new(a,
                                  kp_pbjson_value(f, v + k * kp_pbjson_elem_size(f), NULL, NULL));
        json_object_set_new(o, f->name, a);
    }
    return o;
}
