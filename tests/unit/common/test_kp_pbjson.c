/*  test_kp_pbjson: the descriptor walker shared by the CLI's --json and the broker's privacy
 *  export — every field under its .proto name, numbers, bools, strings, enum names (the number
 *  for a value the schema lacks), bytes, repeated fields, nested and unset messages; a caller's
 *  function for nested messages; element sizes as protobuf-c lays arrays out. */
#include "kp_pbjson.h"
#include "kumppani/v1/broker.pb-c.h"
#include "kumppani/v1/envelope.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

static void
test_message(void **state)
{
    (void)state;
    Kumppani__V1__ExpertTraining tr = KUMPPANI__V1__EXPERT_TRAINING__INIT;
    tr.course = "Kokemusasiantuntija";
    Kumppani__V1__ExpertTraining *trs[] = {&tr};
    char *langs[] = {"fi", "sv"};
    Kumppani__V1__ExpertInput in = KUMPPANI__V1__EXPERT_INPUT__INIT;
    in.kind = KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_EXPERT;
    in.name = "Aino Aaltonen";
    in.email = NULL; /* built by hand: shown as "" */
    in.home_org_id = UINT64_C(9007199254740993);
    in.n_trainings = 1;
    in.trainings = trs;
    in.n_languages = 2;
    in.languages = langs;
    in.remote_ok = 1;
    in.monthly_cap = 4000000000u;
    Kumppani__V1__Expert e = KUMPPANI__V1__EXPERT__INIT;
    e.id = 7;
    e.profile = &in;
    e.last_assigned_ms = -5;

    json_t *j = kp_pbjson_message(&e.base);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "last_assigned_ms")), -5);
    assert_true(json_is_false(json_object_get(j, "paused")));
    assert_string_equal(json_string_value(json_object_get(j, "home_org_name")), "");
    json_t *p = json_object_get(j, "profile");
    assert_true(json_is_object(p));
    assert_string_equal(json_string_value(json_object_get(p, "kind")), "EXPERT_KIND_EXPERT");
    assert_string_equal(json_string_value(json_object_get(p, "name")), "Aino Aaltonen");
    assert_string_equal(json_string_value(json_object_get(p, "email")), "");
    assert_int_equal(json_integer_value(json_object_get(p, "home_org_id")),
                     (json_int_t)UINT64_C(9007199254740993));
    assert_int_equal(json_integer_value(json_object_get(p, "monthly_cap")), 4000000000);
    assert_true(json_is_true(json_object_get(p, "remote_ok")));
    json_t *l = json_object_get(p, "languages");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(json_string_value(json_array_get(l, 1)), "sv");
    json_t *t = json_object_get(p, "trainings");
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "course")),
                        "Kokemusasiantuntija");
    assert_int_equal(json_array_size(json_object_get(p, "availability")), 0);
    /* every field of the descriptor is there, no more */
    assert_int_equal(json_object_size(p), kumppani__v1__expert_input__descriptor.n_fields);
    json_decref(j);

    /* an unset message is null; an enum value the schema lacks is its number */
    e.profile = NULL;
    j = kp_pbjson_message(&e.base);
    assert_true(json_is_null(json_object_get(j, "profile")));
    json_decref(j);
    in.kind = 99;
    j = kp_pbjson_message(&in.base);
    assert_int_equal(json_integer_value(json_object_get(j, "kind")), 99);
    json_decref(j);
}

static void
test_bytes(void **state)
{
    (void)state;
    Kumppani__V1__Request rq = KUMPPANI__V1__REQUEST__INIT;
    rq.request_id = 3;
    rq.method = "events.signup.submit";
    rq.body.data = (uint8_t *)"ab\0c";
    rq.body.len = 4;
    json_t *j = kp_pbjson_message(&rq.base);
    json_t *b = json_object_get(j, "body");
    assert_int_equal(json_string_length(b), 4);
    assert_memory_equal(json_string_value(b), "ab\0c", 4);
    json_decref(j);
}

static json_t *
s_mark(const ProtobufCMessage *m, const void *arg)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(m->descriptor->short_name));
    json_object_set_new(o, "arg", json_string(arg));
    return o;
}

static void
test_value_and_sizes(void **state)
{
    (void)state;
    Kumppani__V1__ExpertInput in = KUMPPANI__V1__EXPERT_INPUT__INIT;
    Kumppani__V1__Expert e = KUMPPANI__V1__EXPERT__INIT;
    e.profile = &in;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &kumppani__v1__expert__descriptor, "profile");
    json_t *j = kp_pbjson_value(f, (const char *)&e + f->offset, s_mark, "view");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ExpertInput");
    assert_string_equal(json_string_value(json_object_get(j, "arg")), "view");
    json_decref(j);

    const ProtobufCMessageDescriptor *d = &kumppani__v1__expert_input__descriptor;
    assert_int_equal(
        kp_pbjson_elem_size(protobuf_c_message_descriptor_get_field_by_name(d, "trainings")),
        sizeof(void *));
    assert_int_equal(
        kp_pbjson_elem_size(protobuf_c_message_descriptor_get_field_by_name(d, "home_org_id")), 8);
    assert_int_equal(
        kp_pbjson_elem_size(protobuf_c_message_descriptor_get_field_by_name(d, "remote_ok")),
        sizeof(protobuf_c_boolean));
    assert_int_equal(
        kp_pbjson_elem_size(protobuf_c_message_descriptor_get_field_by_name(d, "kind")), 4);
    assert_int_equal(kp_pbjson_elem_size(protobuf_c_message_descriptor_get_field_by_name(
                         &kumppani__v1__request__descriptor, "body")),
                     sizeof(ProtobufCBinaryData));
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_message, test_bytes, test_value_and_sizes);
}
