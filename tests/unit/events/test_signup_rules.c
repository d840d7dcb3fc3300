/*  test_events_signup_rules: the sign-up rules of the events service (services/events/signup.c)
 *  on plain values, without a store: capacity, groups (1 + companions, all or none, a group
 *  that does not fit waits whole), role balance (max_n, max_percent of capacity, places
 *  reserved for other roles), the order in which the waitlist moves up, and the counts.
 *
 *  A small simulation drives them as the handlers do: a new sign-up takes the state
 *  evt_arrival_state gives and is counted (evt_count); a cancel uncounts it; a freed place goes
 *  to evt_next_promoted's choice. */
#include "events.h"

#include <string.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x
#define RESIDENT KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_RESIDENT
#define NGO KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_NGO
#define OFFICIAL KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_ELECTED_OFFICIAL
#define EXPERT KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_EXPERIENCE_EXPERT

#define MAX_SIGNUPS 32

typedef struct {
    kp_arena_t *arena;
    evt_event_t ev;
    Kumppani__V1__RoleRule rules[4], *rule_ptrs[4];
    evt_signup_t s[MAX_SIGNUPS], *list[MAX_SIGNUPS]; /* in order of arrival */
    size_t n;
} sim_t;

static int
s_setup(void **state)
{
    sim_t *m = test_calloc(1, sizeof *m);
    m->arena = kp_arena_new(1u << 20);
    kumppani__v1__event_info__init(&m->ev);
    m->ev.id = 1;
    *state = m;
    return 0;
}

static int
s_teardown(void **state)
{
    sim_t *m = *state;
    kp_arena_destroy(&m->arena);
    assert_null(m->arena);
    test_free(m);
    return 0;
}

static void
s_rule(sim_t *m, int role, uint32_t max_n, uint32_t max_percent, uint32_t reserved_n)
{
    size_t i = m->ev.n_role_rules++;
    kumppani__v1__role_rule__init(&m->rules[i]);
    m->rules[i].role = role;
    m->rules[i].max_n = max_n;
    m->rules[i].max_percent = max_percent;
    m->rules[i].reserved_n = reserved_n;
    m->rule_ptrs[i] = &m->rules[i];
    m->ev.role_rules = m->rule_ptrs;
}

/* A new sign-up, placed and counted as evt_h_signup_submit does; returns its state. */
static int
s_submit(sim_t *m, int role, uint32_t companions)
{
    assert_true(m->n < MAX_SIGNUPS);
    evt_signup_t *s = &m->s[m->n];
    kumppani__v1__signup__init(s);
    s->id = m->n + 1;
    s->event_id = m->ev.id;
    s->role = role;
    s->companions = companions;
    s->state = evt_arrival_state(&m->ev, s);
    assert_int_equal(evt_count(m->arena, &m->ev, s, s->state, 1), 0);
    m->list[m->n++] = s;
    return s->state;
}

static void
s_cancel(sim_t *m, size_t i)
{
    evt_signup_t *s = m->list[i];
    assert_int_equal(evt_count(m->arena, &m->ev, s, s->state, -1), 0);
    s->state = SS(CANCELLED);
}

/* The place freed goes to the first waitlisted sign-up that fits whole; returns its index in
 * the list, or -1 when none moves up. */
static int
s_promote(sim_t *m)
{
    size_t i = evt_next_promoted(&m->ev, m->list, m->n);
    if (i == m->n)
        return -1;
    evt_signup_t *s = m->list[i];
    assert_int_equal(s->state, SS(WAITLISTED));
    assert_int_equal(evt_count(m->arena, &m->ev, s, SS(WAITLISTED), -1), 0);
    s->state = SS(CONFIRMED);
    assert_int_equal(evt_count(m->arena, &m->ev, s, SS(CONFIRMED), 1), 0);
    return (int)i;
}

static const Kumppani__V1__RoleCount *
s_role(const sim_t *m, int role)
{
    for (size_t i = 0; i < m->ev.n_role_counts; i++)
        if ((int)m->ev.role_counts[i]->role == role)
            return m->ev.role_counts[i];
    return NULL;
}

/* ---- capacity ---------------------------------------------------------------------------- */

static void
test_capacity(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 3;
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED));
    assert_int_equal(m->ev.confirmed_n, 3);
    assert_int_equal(m->ev.waitlisted_n, 1);
    assert_false(evt_fits(&m->ev, NGO, 1)); /* full for every role */
}

static void
test_capacity_counts_offers(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 3;
    m->ev.confirmed_n = 2;
    assert_true(evt_fits(&m->ev, RESIDENT, 1));
    m->ev.offered_n = 1; /* an open offer holds its place */
    assert_false(evt_fits(&m->ev, RESIDENT, 1));
}

static void
test_no_capacity_no_limit(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 0;
    m->ev.confirmed_n = 100000;
    assert_true(evt_fits(&m->ev, RESIDENT, 21));
    assert_int_equal(s_submit(m, RESIDENT, 20), SS(CONFIRMED));
}

/* ---- groups ------------------------------------------------------------------------------ */

static void
test_group_places(void **state)
{
    sim_t *m = *state;
    evt_signup_t s = KUMPPANI__V1__SIGNUP__INIT;
    assert_int_equal(evt_places(&s), 1);
    s.companions = 4;
    assert_int_equal(evt_places(&s), 5);
    m->ev.capacity = 5;
    assert_true(evt_fits(&m->ev, RESIDENT, 5));
    assert_false(evt_fits(&m->ev, RESIDENT, 6));
}

static void
test_group_all_or_none(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 5;
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED)); /* 1 */
    assert_int_equal(s_submit(m, NGO, 2), SS(CONFIRMED));      /* 1 + 3 = 4 */
    /* Two places asked, one free: the group waits whole, nothing of it is confirmed. */
    assert_int_equal(s_submit(m, RESIDENT, 1), SS(WAITLISTED));
    assert_int_equal(m->ev.confirmed_n, 4);
    assert_int_equal(m->ev.waitlisted_n, 2);
    assert_int_equal(s_role(m, RESIDENT)->confirmed_n, 1);
    assert_int_equal(s_role(m, RESIDENT)->waitlisted_n, 2);
    assert_int_equal(s_role(m, NGO)->confirmed_n, 3);
    /* A single person behind it takes the last place. */
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(m->ev.confirmed_n, 5);
}

/* ---- role balance ------------------------------------------------------------------------ */

static void
test_role_max_percent(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 10;
    s_rule(m, RESIDENT, 0, 50, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED)); /* 6 > 50 % of 10 */
    assert_int_equal(s_submit(m, NGO, 0), SS(CONFIRMED));       /* other roles still fit */
    assert_int_equal(s_role(m, RESIDENT)->confirmed_n, 5);
    assert_int_equal(s_role(m, RESIDENT)->waitlisted_n, 1);
}

static void
test_role_max_percent_group(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 10;
    s_rule(m, RESIDENT, 0, 30, 0);
    assert_int_equal(s_submit(m, RESIDENT, 1), SS(CONFIRMED));  /* 2 of 3 */
    assert_int_equal(s_submit(m, RESIDENT, 1), SS(WAITLISTED)); /* 4 > 3: the pair waits */
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));  /* 3 of 3 */
}

static void
test_role_max_n(void **state)
{
    sim_t *m = *state;
    s_rule(m, OFFICIAL, 2, 0, 0); /* a count cap works without a capacity */
    assert_int_equal(s_submit(m, OFFICIAL, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, OFFICIAL, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, OFFICIAL, 0), SS(WAITLISTED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
}

static void
test_role_reserved(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 10;
    s_rule(m, EXPERT, 0, 0, 3);
    for (int i = 0; i < 7; i++)
        assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    /* Three places stay reserved for experience experts. */
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED));
    assert_true(evt_fits(&m->ev, EXPERT, 3));
    assert_false(evt_fits(&m->ev, EXPERT, 4));
    assert_int_equal(s_submit(m, EXPERT, 0), SS(CONFIRMED));
    /* A taken reservation is no longer kept: still no room for another role. */
    assert_false(evt_fits(&m->ev, RESIDENT, 1));
    assert_int_equal(s_submit(m, EXPERT, 1), SS(CONFIRMED));
    assert_int_equal(m->ev.confirmed_n, 10);
    assert_int_equal(s_role(m, EXPERT)->confirmed_n, 3);
}

static void
test_role_reserved_released(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 6;
    s_rule(m, EXPERT, 0, 0, 2);
    assert_int_equal(s_submit(m, EXPERT, 2), SS(CONFIRMED)); /* holds 3: reservation met */
    assert_int_equal(s_submit(m, RESIDENT, 2), SS(CONFIRMED));
    assert_int_equal(m->ev.confirmed_n, 6);
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED));
}

/* ---- the waitlist ------------------------------------------------------------------------ */

static void
test_promotion_order(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 4;
    for (int i = 0; i < 4; i++) /* 0..3 */
        assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, RESIDENT, 2), SS(WAITLISTED)); /* 4: a group of 3 */
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED)); /* 5 */
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED)); /* 6 */
    assert_int_equal(s_promote(m), -1);                         /* nothing freed */

    s_cancel(m, 0); /* one place: the group does not fit, the first single behind it does */
    assert_int_equal(s_promote(m), 5);
    assert_int_equal(s_promote(m), -1);

    s_cancel(m, 1);
    s_cancel(m, 2); /* two places: still not the group */
    assert_int_equal(s_promote(m), 6);
    assert_int_equal(s_promote(m), -1);
    assert_int_equal(m->ev.confirmed_n, 3);
    assert_int_equal(m->ev.waitlisted_n, 3);

    s_cancel(m, 3);
    s_cancel(m, 5); /* three places: the group, first in line, moves up whole */
    assert_int_equal(s_promote(m), 4);
    assert_int_equal(m->ev.confirmed_n, 4);
    assert_int_equal(m->ev.waitlisted_n, 0);
    assert_int_equal(s_role(m, RESIDENT)->waitlisted_n, 0);
}

static void
test_promotion_first_come(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 1;
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, NGO, 0), SS(WAITLISTED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED));
    s_cancel(m, 1); /* the first in line left: skipped, not promoted */
    s_cancel(m, 0);
    assert_int_equal(s_promote(m), 2);
}

static void
test_promotion_respects_roles(void **state)
{
    sim_t *m = *state;
    m->ev.capacity = 4;
    s_rule(m, RESIDENT, 2, 0, 0);
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(CONFIRMED));
    assert_int_equal(s_submit(m, NGO, 1), SS(CONFIRMED));
    assert_int_equal(s_submit(m, RESIDENT, 0), SS(WAITLISTED)); /* 3: the role is full */
    assert_int_equal(s_submit(m, NGO, 0), SS(WAITLISTED));      /* 4: the event is full */
    s_cancel(m, 2); /* two places free, but residents are at their cap */
    assert_int_equal(s_promote(m), 4);
    assert_int_equal(s_promote(m), -1);
    s_cancel(m, 0);
    assert_int_equal(s_promote(m), 3);
}

/* ---- counts ------------------------------------------------------------------------------ */

static void
test_counts(void **state)
{
    sim_t *m = *state;
    evt_signup_t s = KUMPPANI__V1__SIGNUP__INIT;
    s.role = NGO;
    s.companions = 1;
    assert_int_equal(evt_count(m->arena, &m->ev, &s, SS(OFFERED), 1), 0);
    assert_int_equal(m->ev.offered_n, 2);
    assert_int_equal(m->ev.confirmed_n, 0);
    assert_int_equal(s_role(m, NGO)->confirmed_n, 2); /* an offer holds the role's places */
    /* Removing more than was counted stops at zero. */
    assert_int_equal(evt_count(m->arena, &m->ev, &s, SS(OFFERED), -1), 0);
    assert_int_equal(evt_count(m->arena, &m->ev, &s, SS(OFFERED), -1), 0);
    assert_int_equal(m->ev.offered_n, 0);
    assert_int_equal(s_role(m, NGO)->confirmed_n, 0);
    /* A cancelled sign-up counts nowhere. */
    assert_int_equal(evt_count(m->arena, &m->ev, &s, SS(CANCELLED), 1), 0);
    assert_int_equal(m->ev.confirmed_n + m->ev.offered_n + m->ev.waitlisted_n, 0);
    assert_int_equal(m->ev.n_role_counts, 1);
}

/* The most places a sign-up of a role can ever hold (a larger group would wait for ever):
 * the capacity, the role's count cap and its percentage of the capacity, whichever is least;
 * another role's rule and a reservation do not cap it. */
static void
test_cap_for(void **state)
{
    sim_t *m = *state;
    assert_int_equal(evt_cap_for(0, NULL, 0, NGO), UINT32_MAX); /* nothing caps it */
    assert_int_equal(evt_cap_for(12, NULL, 0, NGO), 12);
    s_rule(m, NGO, 5, 0, 0);
    s_rule(m, OFFICIAL, 0, 25, 0);
    s_rule(m, RESIDENT, 0, 0, 4);
    Kumppani__V1__RoleRule *const *r = m->ev.role_rules;
    size_t n = m->ev.n_role_rules;
    assert_int_equal(evt_cap_for(12, r, n, NGO), 5);              /* max_n below the capacity */
    assert_int_equal(evt_cap_for(3, r, n, NGO), 3);               /* the capacity below max_n */
    assert_int_equal(evt_cap_for(0, r, n, NGO), 5);               /* max_n without a capacity */
    assert_int_equal(evt_cap_for(12, r, n, OFFICIAL), 3);         /* 25 % of 12 */
    assert_int_equal(evt_cap_for(3, r, n, OFFICIAL), 0);          /* 25 % of 3: no place at all */
    assert_int_equal(evt_cap_for(0, r, n, OFFICIAL), UINT32_MAX); /* a percentage needs one */
    assert_int_equal(evt_cap_for(12, r, n, RESIDENT), 12);        /* a reservation is no cap */
    assert_int_equal(evt_cap_for(12, r, n, EXPERT), 12);          /* no rule of its own */
    /* What it says agrees with evt_fits on the empty event: the cap fits, one more does not. */
    m->ev.capacity = 12;
    assert_true(evt_fits(&m->ev, OFFICIAL, 3));
    assert_false(evt_fits(&m->ev, OFFICIAL, 4));
    assert_true(evt_fits(&m->ev, NGO, 5));
    assert_false(evt_fits(&m->ev, NGO, 6));
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_capacity, test_capacity_counts_offers,
                       test_no_capacity_no_limit, test_group_places, test_group_all_or_none,
                       test_role_max_percent, test_role_max_percent_group, test_role_max_n,
                       test_role_reserved, test_role_reserved_released, test_promotion_order,
                       test_promotion_first_come, test_promotion_respects_roles, test_counts,
                       test_cap_for);
}
