/*  kp_pbjson.h: a protobuf-c message as JSON, read from its descriptor.
 *
 *  The one walker behind the CLI's --json (cli_json_view adds its views on top) and the expert
 *  broker's privacy export: every field under its .proto name; numbers as JSON numbers, bools,
 *  strings ("" for NULL), enum values by their value names (the number for one the schema
 *  lacks), bytes as a string, a repeated field as an array, an unset message as null. A oneof
 *  member that is not the one set is left out.
 *
 *  Ownership: every json_t returned is new (the caller owns it); the message is only read. */
#ifndef KP_PBJSON_H
#define KP_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* The size of one element of a repeated field of fd's type, as protobuf-c lays the array out. */
size_t kp_pbjson_elem_size(const ProtobufCFieldDescriptor *fd);

/* Shows a message found inside another (sub: the caller's arg). */
typedef json_t *(*kp_pbjson_sub_fn)(const ProtobufCMessage *m, const void *arg);

/* One value of field fd at p (one element, for a repeated field) as above; a set message
 * field goes through sub(message, arg), or kp_pbjson_message when sub is NULL. */
json_t *kp_pbjson_value(const ProtobufCFieldDescriptor *fd, const void *p, kp_pbjson_sub_fn sub,
                        const void *arg);

/* The whole message m as a JSON object, as described at the top. */
json_t *kp_pbjson_message(const ProtobufCMessage *m);

#endif
