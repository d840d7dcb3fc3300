/*  test_kp_pbcopy: fields copied between messages of the schema by descriptor — every field of
 *  the same name, label and type (an event from its CreateEventRequest, a sign-up from its
 *  SubmitSignupRequest), none of another type under the same name, the other fields kept; one
 *  field by descriptor, singular or repeated (the count and the shared array). */
#include "kp_pbcopy.h"
#include "kumppani/v1/broker.pb-c.h"
#include "kumppani/v1/events.pb-c.h"

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
test_shared_fields(void **state)
{
    (void)state;
    Kumppani__V1__RoleRule rule = KUMPPANI__V1__ROLE_RULE__INIT;
    Kumppani__V1__RoleRule *rules[] = {&rule};
    Kumppani__V1__CreateEventRequest rq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    rq.kind = KUMPPANI__V1__EVENT_KIND__KIND_PARTNERSHIP_TABLE;
    rq.title = "Kumppanuuspöytä";
    rq.start_unix = INT64_C(1800000000);
    rq.capacity = 40;
    rq.organiser_organisation_id = UINT64_C(9007199254740993);
    rq.n_role_rules = 1;
    rq.role_rules = rules;
    Kumppani__V1__EventInfo ev = KUMPPANI__V1__EVENT_INFO__INIT;
    ev.id = 7;
    ev.series_index = 3;
    assert_int_equal(kp_pbcopy_shared(&ev.base, &rq.base),
                     kumppani__v1__create_event_request__descriptor.n_fields);
    assert_int_equal(ev.kind, KUMPPANI__V1__EVENT_KIND__KIND_PARTNERSHIP_TABLE);
    assert_ptr_equal(ev.title, rq.title); /* shared, not duplicated */
    assert_int_equal(ev.start_unix, INT64_C(1800000000));
    assert_int_equal(ev.capacity, 40);
    assert_true(ev.organiser_organisation_id == UINT64_C(9007199254740993));
    assert_int_equal(ev.n_role_rules, 1);
    assert_ptr_equal(ev.role_rules, rules);
    assert_int_equal(ev.id, 7); /* fields the request lacks are kept */
    assert_int_equal(ev.series_index, 3);

    /* And back: only the fields a CreateEventRequest has. */
    Kumppani__V1__CreateEventRequest back = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    assert_int_equal(kp_pbcopy_shared(&back.base, &ev.base),
                     kumppani__v1__create_event_request__descriptor.n_fields);
    assert_string_equal(back.title, "Kumppanuuspöytä");
    assert_int_equal(back.n_role_rules, 1);

    /* Again, from another request: the pairs of fields found the first time serve, with this
     * request's values. */
    Kumppani__V1__CreateEventRequest rq2 = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    rq2.title = "Toinen";
    rq2.capacity = 12;
    Kumppani__V1__EventInfo ev2 = KUMPPANI__V1__EVENT_INFO__INIT;
    ev2.id = 8;
    assert_int_equal(kp_pbcopy_shared(&ev2.base, &rq2.base),
                     kumppani__v1__create_event_request__descriptor.n_fields);
    assert_ptr_equal(ev2.title, rq2.title);
    assert_int_equal(ev2.capacity, 12);
    assert_int_equal(ev2.n_role_rules, 0);
    assert_int_equal(ev2.id, 8);
}

static void
test_same_name_other_type(void **state)
{
    (void)state;
    /* A sign-up's state is a SignupState, an event's an EventState: not copied. */
    Kumppani__V1__Signup s = KUMPPANI__V1__SIGNUP__INIT;
    s.state = KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED;
    s.language = "sv";
    s.created_ms = 1234;
    s.id = 5;
    Kumppani__V1__EventInfo ev = KUMPPANI__V1__EVENT_INFO__INIT;
    ev.state = KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED;
    kp_pbcopy_shared(&ev.base, &s.base);
    assert_int_equal(ev.state, KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED);
    assert_string_equal(ev.language, "sv");
    assert_int_equal(ev.created_ms, 1234);
    assert_int_equal(ev.id, 5); /* a uint64 in both: copied */
}

static void
test_one_field(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &kumppani__v1__expert_input__descriptor;
    char *langs[] = {"fi", "sv"};
    Kumppani__V1__ExpertInput in = KUMPPANI__V1__EXPERT_INPUT__INIT;
    in.n_languages = 2;
    in.languages = langs;
    in.home_org_id = 42;
    in.remote_ok = 1;
    in.name = "Aino";
    Kumppani__V1__ExpertInput m = KUMPPANI__V1__EXPERT_INPUT__INIT;
    m.name = "Eino";
    kp_pbcopy_field(&m.base, &in.base,
                    protobuf_c_message_descriptor_get_field_by_name(d, "languages"));
    kp_pbcopy_field(&m.base, &in.base,
                    protobuf_c_message_descriptor_get_field_by_name(d, "home_org_id"));
    kp_pbcopy_field(&m.base, &in.base,
                    protobuf_c_message_descriptor_get_field_by_name(d, "remote_ok"));
    assert_int_equal(m.n_languages, 2);
    assert_ptr_equal(m.languages, langs);
    assert_int_equal(m.home_org_id, 42);
    assert_int_equal(m.remote_ok, 1);
    assert_string_equal(m.name, "Eino"); /* not named: kept */
}

int
main(void)
{
    return KP_TEST_RUN(NULL, NULL, test_shared_fields, test_same_name_other_type, test_one_field);
}
