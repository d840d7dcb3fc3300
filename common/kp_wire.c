/*  kp_wire: checked decoding of the envelope and the messages inside it.
 *
 *  kp_wire_check walks the protobuf wire format with the generated descriptor in hand, which
 *  is the only place the true length of a string is known: protobuf-c copies strings with a
 *  trailing NUL, so an embedded NUL is invisible after unpacking. The walk is iterative per
 *  message and recursive per sub-message, bounded by KP_WIRE_MAX_DEPTH.
 *
 *  Every known field must also arrive with the wire type its declared type has: protobuf-c
 *  decodes a length-delimited "yes" sent for a bool as true, so without this check a consent
 *  could be given by a malformed message. A bool must be the varint 0 or 1, for the same
 *  reason. Repeated numbers may come packed (length-delimited) or not. Unknown fields are
 *  skipped (a newer sender), whatever their wire type. */
#include "kp_wire.h"

#include "kp_err.h"
#include "kp_text.h"

#include <stdio.h>
#include <string.h>

static int
s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* The wire type a field of this type has when it is not packed. */
static unsigned
s_wire_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default: /* int32, sint32, uint32, int64, sint64, uint64, bool, enum */
        return 0;
    }
}

static const char *
s_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_BOOL:
        return "a bool (varint 0 or 1)";
    case PROTOBUF_C_TYPE_ENUM:
        return "an enum value (varint)";
    case PROTOBUF_C_TYPE_STRING:
        return "a string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "a message";
    default:
        return "a number of its declared type";
    }
}

/* True if wire type wt is how field f may arrive. */
static bool
s_wire_ok(const ProtobufCFieldDescriptor *f, unsigned wt)
{
    unsigned want = s_wire_type(f->type);
    if (wt == want)
        return true;
    /* A repeated number may be packed into one length-delimited run. */
    return wt == 2 && want != 2 && f->label == PROTOBUF_C_LABEL_REPEATED;
}

/* The fields a nested message lies in, innermost first; written out only for an error. */
typedef struct walk_path {
    const struct walk_path *up;
    const char *name;
} walk_path_t;

/* "outer.inner." for path (empty for the top message). */
static const char *
s_prefix(char *out, size_t len, const walk_path_t *path)
{
    out[0] = 0;
    if (path) {
        s_prefix(out, len, path->up);
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s.", path->name);
    }
    return out;
}

static int
s_walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth,
       const walk_path_t *path, char *why, size_t why_len)
{
    char prefix[96];
    if (len == 0)
        return 0;
    const uint8_t *end = p + len;
    if (depth > KP_WIRE_MAX_DEPTH) {
        snprintf(why, why_len, "message nested too deeply");
        return KP_EDECODE;
    }
    while (p < end) {
        uint64_t tag, n;
        if (s_varint(&p, end, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
            snprintf(why, why_len, "malformed protobuf");
            return KP_EDECODE;
        }
        unsigned wt = tag & 7;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
        /* The structure first (a cut message is malformed whatever its types), then the type. */
        bool wrong_type = f && wt <= 5 && wt != 3 && wt != 4 && !s_wire_ok(f, wt);
        switch (wt) {
        case 0:
            if (s_varint(&p, end, &n) != 0) {
                snprintf(why, why_len, "malformed protobuf");
                return KP_EDECODE;
            }
            if (f && f->type == PROTOBUF_C_TYPE_BOOL && n > 1)
                wrong_type = true;
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if ((size_t)(end - p) < w) {
                snprintf(why, why_len, "malformed protobuf");
                return KP_EDECODE;
            }
            p += w;
            break;
        }
        case 2:
            if (s_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p)) {
                snprintf(why, why_len, "malformed protobuf");
                return KP_EDECODE;
            }
            if (wrong_type)
                break;
            if (f && f->type == PROTOBUF_C_TYPE_STRING) {
                int rc = kp_text_check(p, (size_t)n, s_ends_with(f->name, "_text"));
                if (rc != KP_TEXT_OK) {
                    snprintf(why, why_len, "field '%s%s': %s",
                             s_prefix(prefix, sizeof prefix, path), f->name, kp_text_why(rc));
                    return KP_EINVAL;
                }
            } else if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                walk_path_t sub = {path, f->name};
                int rc = s_walk(f->descriptor, p, (size_t)n, depth + 1, &sub, why, why_len);
                if (rc)
                    return rc;
            }
            p += n;
            break;
        default: /* groups (3, 4) are not proto3; 6 and 7 do not exist */
            snprintf(why, why_len, "malformed protobuf");
            return KP_EDECODE;
        }
        if (wrong_type) {
            snprintf(why, why_len, "field '%s%s': must be %s",
                     s_prefix(prefix, sizeof prefix, path), f->name, s_type_name(f->type));
            return KP_EINVAL;
        }
    }
    return 0;
}

int
kp_wire_check(const ProtobufCMessageDescriptor *d, const void *buf, size_t len, char *why,
              size_t why_len)
{
    if (len > KP_WIRE_HARD_MAX) {
        snprintf(why, why_len, "message larger than %d bytes", KP_WIRE_HARD_MAX);
        return KP_ETOOBIG;
    }
    if (len == 0)
        return 0; /* an empty message; protobuf-c leaves empty bytes as {0, NULL} */
    return s_walk(d, buf, len, 0, NULL, why, why_len);
}

ProtobufCMessage *
kp_wire_unpack(const ProtobufCMessageDescriptor *d, kp_arena_t *a, const void *buf, size_t len,
               int *err, char *why, size_t why_len)
{
    int rc = kp_wire_check(d, buf, len, why, why_len);
    if (rc) {
        *err = rc;
        return NULL;
    }
    size_t refused = kp_arena_refusals(a);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, kp_arena_pbc(a), len, buf);
    if (!m) {
        /* protobuf-c does not say why; an exhausted arena is the one cause we can tell. */
        bool oom = kp_arena_refusals(a) != refused;
        *err = oom ? KP_ENOMEM : KP_EDECODE;
        snprintf(why, why_len, oom ? "message too complex to decode" : "malformed protobuf");
        return NULL;
    }
    *err = 0;
    return m;
}

int
kp_wire_pack(kp_arena_t *a, const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = kp_arena_alloc(a, n ? n : 1);
    if (!p)
        return KP_ENOMEM;
    size_t w = protobuf_c_message_pack(msg, p);
    *out = p;
    *out_len = w;
    return 0;
}

int
kp_wire_reply(kp_arena_t *a, uint64_t request_id, Kumppani__V1__Code code, const char *msg,
              const void *body, size_t body_len, uint8_t **out, size_t *out_len)
{
    Kumppani__V1__Reply r = KUMPPANI__V1__REPLY__INIT;
    Kumppani__V1__Status st = KUMPPANI__V1__STATUS__INIT;
    st.code = code;
    st.message = (char *)(msg ? msg : "");
    r.request_id = request_id;
    r.status = &st;
    r.body.data = (uint8_t *)body;
    r.body.len = body_len;
    return kp_wire_pack(a, &r.base, out, out_len);
}

const char *
kp_wire_code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&kumppani__v1__code__descriptor, code);
    return v ? v->name + 5 /* skip "CODE_" */ : "UNKNOWN";
}
