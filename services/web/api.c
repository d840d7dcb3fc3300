/*  web/api.c: the HTTP route table and the sign-up form's field rules.
 *
 *  Routes match the decoded path exactly, or as prefix + one argument (no '/') + suffix.
 *  HEAD is answered as GET (MHD sends no body). Every POST route checks its CSRF token first.
 *  A row's last column, its op, tells a handler that serves several routes which one it is
 *  answering (a personal link's action, an account's change, an event's page); 0 for the others.
 *
 *  The form rules mirror the events service's own (events/signup.c) so that a person gets
 *  each problem beside its field, in their language, before anything goes on the bus; the
 *  events service still checks everything again. */
#include "bo.h"
#include "kp_text.h"
#include "web.h"

#include <stdlib.h>
#include <string.h>

const web_route_t web_routes[] = {
    {"calendar", "GET", "/", NULL, web_pg_calendar, 0},
    {"calendar-ics", "GET", "/calendar.ics", NULL, web_pg_calendar_ics, 0},
    {"event-ics", "GET", "/events/", ".ics", web_pg_event_ics, 0},
    {"signup-form", "GET", "/events/", "/signup", web_pg_signup_form, 0},
    {"signup-submit", "POST", "/events/", "/signup", web_pg_signup_submit, 0},
    {"event", "GET", "/events/", "", web_pg_event, 0},
    {"personal-cancel", "POST", "/s/", "/cancel", web_pg_personal_act, WEB_OP_CANCEL},
    {"personal-leave", "POST", "/s/", "/leave", web_pg_personal_act, WEB_OP_LEAVE},
    {"personal-accept", "POST", "/s/", "/accept", web_pg_personal_act, WEB_OP_ACCEPT},
    {"personal-decline", "POST", "/s/", "/decline", web_pg_personal_act, WEB_OP_DECLINE},
    {"personal", "GET", "/s/", "", web_pg_personal, 0},
    {"expert-offer-accept", "POST", "/x/", "/accept", web_pg_xoffer_answer, WEB_OP_ACCEPT},
    {"expert-offer-decline", "POST", "/x/", "/decline", web_pg_xoffer_answer, WEB_OP_DECLINE},
    {"expert-offer", "GET", "/x/", "", web_pg_xoffer, 0},
    {"request", "GET", "/r/", "", web_pg_request, 0},
    {"accessibility", "GET", "/accessibility", NULL, web_pg_accessibility, 0},
    {"feedback", "POST", "/accessibility/feedback", NULL, web_pg_feedback, 0},
    {"privacy", "GET", "/privacy", NULL, web_pg_privacy, 0},
    {"static", "GET", "/static/", "", web_pg_static, 0},
    /* the back office (bo.h) */
    {"office-sign-in", "GET", "/office/sign-in", NULL, bo_pg_sign_in, 0},
    {"office-sign-in", "POST", "/office/sign-in", NULL, bo_pg_sign_in_post, 0},
    {"office-sign-out", "POST", "/office/sign-out", NULL, bo_pg_sign_out, 0},
    {"office-sign-out-all", "POST", "/office/sign-out-all", NULL, bo_pg_sign_out, BO_EVERYWHERE},
    {"office-home", "GET", "/office", NULL, bo_pg_home, 0},
    {"office-accounts", "GET", "/office/accounts", NULL, bo_pg_accounts, 0},
    {"office-account-add", "POST", "/office/accounts", NULL, bo_pg_accounts, 0},
    {"office-audit", "GET", "/office/audit", NULL, bo_pg_audit, 0},
    {"office-events", "GET", "/office/events", NULL, bo_pg_events, 0},
    {"office-event-new", "GET", "/office/events/new", NULL, bo_pg_event_new, 0},
    {"office-event-create", "POST", "/office/events", NULL, bo_pg_event_new, 0},
    {"office-event-publish", "POST", "/office/events/", "/publish", bo_pg_event_publish, 0},
    {"office-event-reschedule", "POST", "/office/events/", "/reschedule", bo_pg_event_reschedule,
     0},
    {"office-event-cancel", "POST", "/office/events/", "/cancel", bo_pg_event_cancel, 0},
    {"office-event-held", "POST", "/office/events/", "/held", bo_pg_event_held, 0},
    {"office-checkin", "GET", "/office/events/", "/check-in", bo_pg_event, BO_EV_CHECKIN},
    {"office-attendance", "POST", "/office/events/", "/attendance", bo_pg_attendance, 0},
    {"office-participants-csv", "GET", "/office/events/", "/participants.csv", bo_pg_event,
     BO_EV_CSV},
    {"office-door-csv", "GET", "/office/events/", "/door.csv", bo_pg_event, BO_EV_DOOR},
    {"office-event", "GET", "/office/events/", "", bo_pg_event, BO_EV_PAGE},
    {"office-orgs", "GET", "/office/organisations", NULL, bo_pg_orgs, 0},
    {"office-coverage", "GET", "/office/coverage", NULL, bo_pg_coverage, 0},
    {"office-import", "GET", "/office/import", NULL, bo_pg_import, 0},
    {"office-import", "POST", "/office/import", NULL, bo_pg_import, 0},
    {"office-broker", "GET", "/office/broker", NULL, bo_pg_broker, 0},
    {"office-broker-request", "GET", "/office/broker/requests/", "", bo_pg_broker_request, 0},
    {"office-broker-complete", "POST", "/office/broker/assignments/", "/complete",
     bo_pg_broker_complete, 0},
    {"office-broker-export", "GET", "/office/broker/payments.csv", NULL, bo_pg_broker_export, 0},
    {"office-broker-stats", "GET", "/office/broker/stats", NULL, bo_pg_broker_stats, 0},
    {"office-stats", "GET", "/office/stats", NULL, bo_pg_stats, 0},
    {"office-sent", "GET", "/office/sent", NULL, bo_pg_sent, 0},
    {"office-sent", "POST", "/office/sent", NULL, bo_pg_sent, 0},
    {"office-sent-retry", "POST", "/office/sent/retry", NULL, bo_pg_sent_retry, 0},
    {"office-org", "GET", "/office/organisations/", "", bo_pg_org, 0},
    {"office-org-edit", "POST", "/office/organisations/", "", bo_pg_org, 0},
    {"office-people", "GET", "/office/people", NULL, bo_pg_people, 0},
    {"office-people", "POST", "/office/people", NULL, bo_pg_people_post, 0},
    {"office-person", "GET", "/office/people/", "", bo_pg_person, 0},
    {"office-role-add", "POST", "/office/people/", "/roles", bo_pg_role_add, 0},
    {"office-role-end", "POST", "/office/roles/", "/end", bo_pg_role_end, 0},
    /* an account's lifecycle and the own password (bo_pages.c, bo_auth.c) */
    {"office-account", "GET", "/office/accounts/", "", bo_pg_account, 0},
    {"office-account-scope", "POST", "/office/accounts/", "/scope", bo_pg_account_scope, 0},
    {"office-account-disable", "POST", "/office/accounts/", "/disable", bo_pg_account_change,
     BO_DISABLE},
    {"office-account-enable", "POST", "/office/accounts/", "/enable", bo_pg_account_change,
     BO_ENABLE},
    {"office-account-remove", "POST", "/office/accounts/", "/remove", bo_pg_account_change,
     BO_REMOVE},
    {"office-password", "GET", "/office/password", NULL, bo_pg_password, 0},
    {"office-password", "POST", "/office/password", NULL, bo_pg_password_post, 0},
    {"office-series-change", "POST", "/office/events/", "/series/change", bo_pg_series_change, 0},
    {"office-series-extend", "POST", "/office/events/", "/series/extend", bo_pg_series_extend, 0},
    {"office-promote", "POST", "/office/events/", "/promote", bo_pg_promote, 0},
    {"office-offer-extend", "POST", "/office/events/", "/extend-offer", bo_pg_offer_extend, 0},
    {"office-broker-paid", "POST", "/office/broker/paid", NULL, bo_pg_broker_paid, 0},
};
const unsigned web_routes_n = sizeof web_routes / sizeof web_routes[0];

static void
s_err(web_ferr_t *errs, unsigned *n, const char *field, const char *msg)
{
    if (*n < WEB_FERR_MAX)
        errs[(*n)++] = (web_ferr_t){field, msg};
}

static const char *
s_val(web_req_t *r, const char *name)
{
    const char *v = web_field(r, name);
    return v ? v : "";
}

unsigned
web_signup_rules(web_req_t *r, unsigned capacity, web_ferr_t *errs)
{
    unsigned n = 0;
    const char *name = s_val(r, "name"), *email = s_val(r, "email"), *phone = s_val(r, "phone");
    if (!name[strspn(name, " \t\r\n")]) /* spaces alone are no name either */
        s_err(errs, &n, "name", "err_name_required");
    else if (kp_text_chars(name) > 200 || strchr(name, '\n'))
        s_err(errs, &n, "name", "err_name_long");
    if (!*email && !*phone)
        s_err(errs, &n, "email", "err_contact_required");
    if (*email && !kp_text_email_valid(email))
        s_err(errs, &n, "email", "err_email");
    if (*phone && !kp_text_phone_valid(phone))
        s_err(errs, &n, "phone", "err_phone");
    const char *org = s_val(r, "organisation");
    if (kp_text_chars(org) > 200 || strchr(org, '\n'))
        s_err(errs, &n, "organisation", "err_organisation_long");
    const char *role = s_val(r, "role");
    if (strlen(role) != 1 || role[0] < '1' || role[0] > '6')
        s_err(errs, &n, "role", "err_role");
    const char *comp = s_val(r, "companions");
    long with = *comp ? web_digits(comp, 2, 20) : 0;
    if (with < 0)
        s_err(errs, &n, "companions", "err_companions");
    else if (capacity && (unsigned long)with + 1 > capacity) /* it would wait for ever */
        s_err(errs, &n, "companions", "err_group_too_big");
    const char *acc = s_val(r, "accessibility_text"), *diet = s_val(r, "dietary_text");
    if (kp_text_chars(acc) > 500)
        s_err(errs, &n, "accessibility_text", "err_text_long");
    if (kp_text_chars(diet) > 500)
        s_err(errs, &n, "dietary_text", "err_text_long");
    if ((*acc || *diet) && strcmp(s_val(r, "consent_needs"), "yes") != 0)
        s_err(errs, &n, "consent_needs", "err_consent_needs");
    return n;
}
