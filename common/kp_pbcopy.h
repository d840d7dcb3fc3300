/*  kp_pbcopy.h: fields of one protobuf-c message copied into another, by descriptor.
 *
 *  A shallow copy: a string, a bytes value, a nested message or a repeated field's array is
 *  shared with the source, not duplicated, and lives only as long as the source's does. It is
 *  for a message made from one of another type whose fields carry the same names (an event from
 *  its CreateEventRequest and back, a sign-up from its SubmitSignupRequest), and for a partial
 *  update that takes the fields a mask names (the broker's expert profile).
 *
 *  Fields are proto3's: singular or repeated (the schema has no oneof and no optional field; a
 *  field of another kind is a bug and asserted). */
#ifndef KP_PBCOPY_H
#define KP_PBCOPY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Copies field f of src into dst, both messages of f's message type: the value, or for a
 * repeated field its count and its array. */
void kp_pbcopy_field(ProtobufCMessage *dst, const ProtobufCMessage *src,
                     const ProtobufCFieldDescriptor *f);

/* Copies into dst every field of src that dst's type has under the same name with the same
 * label and type (for an enum or a message: the same enum or message type). dst's other fields
 * are left as they are. Returns the number of fields copied. */
size_t kp_pbcopy_shared(ProtobufCMessage *dst, const ProtobufCMessage *src);

#endif
