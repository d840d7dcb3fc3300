/*  events/api.c: the method table and the field rules of the events service.
 *
 *  Handlers live with their resource: event.c (events and series), signup.c (sign-ups),
 *  report.c (door list, statistics, iCalendar). Every handler validates everything before it
 *  writes anything, with the rules below and those shared by all services (kp_check.h). A rule
 *  answers the call CODE_INVALID naming the field and the rule, never the submitted value
 *  (names, e-mails and phone numbers are personal data; ids and codes are not), and returns
 *  false; or returns true and leaves the call alone.
 *
 *  Roles (DESIGN 7): a publisher may submit and cancel sign-ups, nothing else; readers and
 *  services read; the coordinator (admin) does everything; selfservice (the web's personal
 *  links) may act on one sign-up by id as its person would (get, cancel, leave the waitlist,
 *  answer an offer) and nothing else. */
#include "events.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <string.h>

#define C(x) EVT_C(x)
#define MAX_DURATION_S (14 * 24 * 3600)

/* ---- field rules ------------------------------------------------------------------------- */

/* An identifier of an external system: 1..64 of [a-z0-9._-]. */
bool
evt_source_ok(kp_call_t *call, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64)
        return kp_check_fail(call, "field 'source': 1..64 characters required");
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return kp_check_fail(call, "field 'source': only a-z, 0-9, '.', '_' and '-'");
    }
    return true;
}

/* Three digits; when the service follows the registry, also a municipality it knows. */
bool
evt_municipality_ok(kp_tx_t *t, const char *field, const char *v)
{
    kp_call_t *call = t->call;
    if (!kp_check_muni_code(call, field, v))
        return false;
    if (EVT_SVC(t) && EVT_SVC(t)->registry) {
        bool found = false;
        int rc = evt_reg_muni_get(t, v, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found)
            return kp_check_fail(call, "field '%s': not a municipality of the registry", field);
    }
    return true;
}

bool
evt_url_ok(kp_call_t *call, const char *field, const char *v, bool required)
{
    if (!kp_check_text(call, field, v, required ? 1 : 0, 500))
        return false;
    if (v[0] && strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return kp_check_fail(call, "field '%s': must start with https:// or http://", field);
    for (const char *p = v; *p; p++)
        if (*p == ' ')
            return kp_check_fail(call, "field '%s': no spaces in a link", field);
    return true;
}

/* Times: start in the future, end after it within 14 days, the deadline (if any) in the
 * future and not after the start. */
bool
evt_times_ok(kp_call_t *call, int64_t now_s, int64_t start, int64_t end, int64_t deadline)
{
    if (start <= now_s)
        return kp_check_fail(call, "field 'start_unix': must be in the future");
    if (end <= start || end - start > MAX_DURATION_S)
        return kp_check_fail(call, "field 'end_unix': after the start, within 14 days");
    if (deadline && (deadline <= now_s || deadline > start))
        return kp_check_fail(call,
                             "field 'signup_deadline_unix': in the future and not after the start");
    return true;
}

bool
evt_capacity_ok(kp_call_t *call, uint32_t capacity)
{
    if (capacity > 100000)
        return kp_check_fail(call, "field 'capacity': at most 100000 (0: no limit)");
    return true;
}

bool
evt_role_rules_ok(kp_call_t *call, uint32_t capacity, Kumppani__V1__RoleRule **rules, size_t n)
{
    if (n > 6)
        return kp_check_fail(call, "field 'role_rules': at most one rule per role");
    uint64_t reserved = 0;
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        const Kumppani__V1__RoleRule *r = rules[i];
        if (r->role <= KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_UNSPECIFIED ||
            r->role > KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_EXPERIENCE_EXPERT)
            return kp_check_fail(call, "field 'role_rules.role': one of the ParticipantRole "
                                       "values");
        if (seen & (1u << r->role))
            return kp_check_fail(call, "field 'role_rules': at most one rule per role");
        seen |= 1u << r->role;
        if (r->max_percent > 100)
            return kp_check_fail(call, "field 'role_rules.max_percent': 0..100");
        if ((r->max_percent || r->reserved_n) && capacity == 0)
            return kp_check_fail(call, "field 'role_rules': percentages and reservations "
                                       "need a capacity");
        if (r->max_n && r->reserved_n > r->max_n)
            return kp_check_fail(call, "field 'role_rules.reserved_n': not above max_n");
        if (r->max_n > 100000)
            return kp_check_fail(call, "field 'role_rules.max_n': at most 100000");
        reserved += r->reserved_n;
    }
    if (capacity && reserved > capacity)
        return kp_check_fail(call, "field 'role_rules.reserved_n': reservations exceed the "
                                   "capacity");
    return true;
}

bool
evt_organiser_ok(kp_tx_t *t, uint64_t org, const char *muni)
{
    kp_call_t *call = t->call;
    if (org && muni[0])
        return kp_check_fail(call, "field 'organiser': an organisation or a municipality, "
                                   "not both");
    if (muni[0])
        return evt_municipality_ok(t, "organiser_municipality_code", muni);
    if (org && EVT_SVC(t)->registry) {
        int status = 0;
        bool found = false;
        int rc = evt_reg_org_get(t, org, &status, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found)
            return kp_check_fail(
                call, "field 'organiser_organisation_id': not an organisation of the registry");
        if (status != 1 /* ORG_STATUS_ACTIVE */)
            return kp_check_fail(
                call, "field 'organiser_organisation_id': the organisation is dissolved");
    }
    return true;
}

bool
evt_offer_window_ok(kp_call_t *call, uint32_t m)
{
    if (m && (m < 5 || m > 10080))
        return kp_check_fail(call,
                             "field 'offer_window_minutes': 0 (automatic promotion) or 5..10080");
    return true;
}

/* The convener of a meeting: a registry person id, named for a contact-person
 * meeting only (the registry ties the meeting to that person). */
bool
evt_convener_ok(kp_call_t *call, int kind, uint64_t person_id)
{
    if (person_id && kind != KUMPPANI__V1__EVENT_KIND__KIND_CONTACT_PERSON_MEETING)
        return kp_check_fail(call, "field 'convener_person_id': only for a contact-person meeting");
    return true;
}

/* Every rule of a CreateEventRequest but the times. */
bool
evt_create_fields_ok(kp_tx_t *t, const Kumppani__V1__CreateEventRequest *rq)
{
    kp_call_t *call = t->call;
    if (rq->kind <= KUMPPANI__V1__EVENT_KIND__KIND_UNSPECIFIED ||
        rq->kind > KUMPPANI__V1__EVENT_KIND__KIND_OTHER)
        return kp_check_fail(call, "field 'kind': required, one of the EventKind values");
    return kp_check_text(call, "title", rq->title, 1, 200) &&
           evt_municipality_ok(t, "municipality_code", rq->municipality_code) &&
           kp_check_text(call, "place", rq->place, 0, 300) &&
           evt_url_ok(call, "online_url", rq->online_url, false) &&
           kp_check_language(call, "language", rq->language) &&
           kp_check_text(call, "theme", rq->theme, 0, 100) &&
           kp_check_text(call, "description_text", rq->description_text, 0, 4000) &&
           kp_check_text(call, "accessibility_text", rq->accessibility_text, 0, 1000) &&
           evt_capacity_ok(call, rq->capacity) &&
           evt_offer_window_ok(call, rq->offer_window_minutes) &&
           evt_role_rules_ok(call, rq->capacity, rq->role_rules, rq->n_role_rules) &&
           evt_convener_ok(call, rq->kind, rq->convener_person_id) &&
           evt_organiser_ok(t, rq->organiser_organisation_id, rq->organiser_municipality_code);
}

/* Every rule of a SubmitSignupRequest. */
/* A publisher's own id: 1..128 characters and at most EVT_EXT_ID_MAX_LEN bytes, so that the
 * idempotency key made of it always fits; a longer one (four-byte characters) is refused
 * naming 'external_id', never the 'idempotency_key' the publisher did not send. */
bool
evt_external_id_ok(kp_call_t *call, const char *v)
{
    if (!kp_check_text(call, "external_id", v, 1, 128))
        return false;
    if (strlen(v) > EVT_EXT_ID_MAX_LEN)
        return kp_check_fail(call, "field 'external_id': at most %d bytes (UTF-8)",
                             EVT_EXT_ID_MAX_LEN);
    return true;
}

/* Whether v holds nothing but white space (ASCII, and the no-break and other Unicode spaces
 * a form or a paste may bring). */
static bool
s_blank(const char *v)
{
    static const char *const wide[] = {
        "\xc2\xa0",     "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
        "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
        "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a",
        "\xe2\x80\x8b", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
    while (*v) {
        if (strchr(" \t\n\r\v\f", *v)) {
            v++;
            continue;
        }
        size_t i = 0, n = 0;
        for (; i < sizeof wide / sizeof wide[0]; i++)
            if (strncmp(v, wide[i], n = strlen(wide[i])) == 0)
                break;
        if (i == sizeof wide / sizeof wide[0])
            return false;
        v += n;
    }
    return true;
}

bool
evt_signup_fields_ok(kp_call_t *call, const Kumppani__V1__SubmitSignupRequest *rq)
{
    if (rq->event_id == 0)
        return kp_check_fail(call, "field 'event_id': required");
    if (!evt_source_ok(call, rq->source) || !evt_external_id_ok(call, rq->external_id) ||
        !kp_check_text(call, "name", rq->name, 1, 200))
        return false;
    if (s_blank(rq->name)) /* a name of spaces alone is no name: as an empty one */
        return kp_check_fail(call, "field 'name': required");
    if (!kp_check_text(call, "organisation", rq->organisation, 0, 200) ||
        !kp_check_language(call, "language", rq->language) ||
        !kp_check_text(call, "accessibility_text", rq->accessibility_text, 0, 500) ||
        !kp_check_text(call, "dietary_text", rq->dietary_text, 0, 500) ||
        !kp_check_contact(call, "email", rq->email, "phone", rq->phone))
        return false;
    /* Needs can reveal health (GDPR Art. 9): stored only with explicit consent. */
    if (!rq->consent_needs && (rq->accessibility_text[0] || rq->dietary_text[0]))
        return kp_check_fail(call, "field '%s': stored only with consent_needs",
                             rq->accessibility_text[0] ? "accessibility_text" : "dietary_text");
    if (rq->role <= KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_UNSPECIFIED ||
        rq->role > KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_EXPERIENCE_EXPERT)
        return kp_check_fail(call, "field 'role': required, one of the ParticipantRole values");
    if (rq->companions > EVT_MAX_COMPANIONS)
        return kp_check_fail(call, "field 'companions': at most %d", EVT_MAX_COMPANIONS);
    return true;
}

#define PUBLISHERS (KP_ROLE_ADMIN | KP_ROLE_PUBLISHER)
#define SELF KP_ROLE_SELFSERVICE
#define M KP_METHOD /* the rows below */

const kp_method_t evt_methods[] = {
    M("events.event.create", KP_ROLE_ADMIN, create_event_request, evt_h_event_create),
    M("events.event.update", KP_ROLE_ADMIN, update_event_request, evt_h_event_update),
    M("events.event.publish", KP_ROLE_ADMIN, event_ref, evt_h_event_publish),
    M("events.event.reschedule", KP_ROLE_ADMIN, reschedule_event_request, evt_h_event_reschedule),
    M("events.event.cancel", KP_ROLE_ADMIN, cancel_event_request, evt_h_event_cancel),
    M("events.event.held", KP_ROLE_ADMIN, held_event_request, evt_h_event_held),
    M("events.event.get", KP_ROLES_READ, event_ref, evt_h_event_get),
    M("events.event.list", KP_ROLES_READ, list_events_request, evt_h_event_list),
    M("events.series.create", KP_ROLE_ADMIN, create_series_request, evt_h_series_create),
    M("events.series.update", KP_ROLE_ADMIN, update_series_request, evt_h_series_update),
    M("events.series.extend", KP_ROLE_ADMIN, extend_series_request, evt_h_series_extend),
    M(EVT_METHOD_SUBMIT, PUBLISHERS, submit_signup_request, evt_h_signup_submit),
    KP_METHOD_OP("events.signup.cancel", PUBLISHERS | SELF, cancel_signup_request,
                 evt_h_signup_withdraw, EVT_CANCEL),
    /* A publisher may submit and cancel sign-ups, nothing else (DESIGN 7): a person leaves the
     * waitlist or declines an offer through it by cancelling. The person themself answers an
     * offer on their personal page: the web's selfservice key may call these, on any sign-up
     * (the link is the person's authority), and nothing else. */
    M("events.signup.accept_offer", KP_ROLE_ADMIN | SELF, cancel_signup_request,
      evt_h_signup_accept),
    M("events.signup.decline_offer", KP_ROLE_ADMIN | SELF, cancel_signup_request,
      evt_h_signup_decline),
    KP_METHOD_OP("events.signup.leave_waitlist", KP_ROLE_ADMIN | SELF, cancel_signup_request,
                 evt_h_signup_withdraw, EVT_LEAVE),
    M("events.signup.get", KP_ROLE_ADMIN | SELF, cancel_signup_request, evt_h_signup_get),
    M("events.signup.list", KP_ROLE_ADMIN | KP_ROLE_READER, list_signups_request,
      evt_h_signup_list),
    M("events.signup.attendance", KP_ROLE_ADMIN, signup_attendance_request,
      evt_h_signup_attendance),
    M("events.signup.attendance_bulk", KP_ROLE_ADMIN, bulk_attendance_request,
      evt_h_signup_attendance_bulk),
    M("events.signup.contact", KP_ROLE_ADMIN | KP_ROLE_SERVICE, signup_contact_request,
      evt_h_signup_contact),
    M("events.privacy.erase", KP_ROLE_ADMIN, data_subject, evt_h_privacy_erase),
    M("events.privacy.export", KP_ROLE_ADMIN, data_subject, evt_h_privacy_export),
    M("events.signup.door_csv", KP_ROLE_ADMIN | KP_ROLE_READER, event_ref, evt_h_door_csv),
    M("events.stats", KP_ROLES_READ, event_stats_request, evt_h_stats),
    M("events.ical.event", KP_ROLES_READ, event_ref, evt_h_ical_event),
    M("events.ical.feed", KP_ROLES_READ, ical_feed_request, evt_h_ical_feed),
    M("events.signup.promote", KP_ROLE_ADMIN, promote_signup_request, evt_h_signup_promote),
    M("events.signup.extend_offer", KP_ROLE_ADMIN, extend_offer_request, evt_h_signup_extend_offer),
};
const unsigned evt_methods_n = sizeof evt_methods / sizeof evt_methods[0];
