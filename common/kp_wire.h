/*  kp_wire: the envelope, its size limits and checked decoding.
 *
 *  Every request frame is a kumppani.v1.Request; every reply a kumppani.v1.Reply (see
 *  proto/kumppani/v1/envelope.proto). Decoding here does what protobuf-c does not:
 *
 *  - frames above KP_WIRE_MAX_FRAME are refused before decoding (and ZeroMQ drops the
 *    connection of a peer sending more than KP_WIRE_HARD_MAX, via ZMQ_MAXMSGSIZE);
 *  - every string field, at every depth, is checked for valid UTF-8, NUL bytes and control
 *    characters before protobuf-c sees the bytes (fields named "*_text" may hold LF and TAB);
 *  - decoding allocates from a bounded arena, so a frame full of empty sub-messages fails with
 *    an error instead of costing megabytes.
 *
 *  Error texts name the field and the rule ("field 'name': control character not allowed");
 *  they never contain the submitted value. */
#ifndef KP_WIRE_H
#define KP_WIRE_H

#include "kp_arena.h"
#include "kumppani/v1/envelope.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define KP_WIRE_MAX_FRAME (64 * 1024)        /* larger requests get CODE_TOO_LARGE */
#define KP_WIRE_HARD_MAX (1024 * 1024)       /* ZMQ_MAXMSGSIZE: the peer is disconnected */
#define KP_WIRE_DECODE_CAP (2 * 1024 * 1024) /* arena bytes one request may decode into */
#define KP_WIRE_MAX_DEPTH 16
#define KP_WIRE_WHY 160 /* size of an error-text buffer */

/* Checks the encoded message at buf against descriptor d without decoding it: well-formed
 * tags and lengths, no groups, nesting at most KP_WIRE_MAX_DEPTH, and every string field
 * valid per kp_text_check. Returns 0, or KP_EDECODE / KP_EINVAL with a reason in why. */
int kp_wire_check(const ProtobufCMessageDescriptor *d, const void *buf, size_t len, char *why,
                  size_t why_len);

/* kp_wire_check, then unpack into arena a. Returns the message (valid until the arena is
 * reset) or NULL with *err set to KP_EDECODE, KP_EINVAL or KP_ENOMEM and a reason in why. */
ProtobufCMessage *kp_wire_unpack(const ProtobufCMessageDescriptor *d, kp_arena_t *a,
                                 const void *buf, size_t len, int *err, char *why, size_t why_len);

/* Packs msg into the arena. Returns 0 or KP_ENOMEM. *out is valid until the arena resets. */
int kp_wire_pack(kp_arena_t *a, const ProtobufCMessage *msg, uint8_t **out, size_t *out_len);

/* Packs a Reply. msg may be NULL; body may be NULL when body_len is 0. */
int kp_wire_reply(kp_arena_t *a, uint64_t request_id, Kumppani__V1__Code code, const char *msg,
                  const void *body, size_t body_len, uint8_t **out, size_t *out_len);

/* The name of a status code, e.g. "INVALID". */
const char *kp_wire_code_name(int code);

#endif
