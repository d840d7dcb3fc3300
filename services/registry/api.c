/*  registry/api.c: the registry's method table and the field rules its handlers share.
 *
 *  Handlers live with their resource (organisation.c, person.c, coverage.c, search.c, csv.c).
 *  Each validates everything before it writes anything (kp_tx_wtxn comes last), names the
 *  field and the rule in its error, and never puts a submitted value into an error or a log
 *  line. Every change appends its event (see registry.proto for the list) in the same
 *  transaction.
 *
 *  reg_fields_check returns its reason as text instead of answering the call, because CSV
 *  import reports the same rules per row ("column 'x'" instead of "field 'x'"). */
#include "kp_check.h"
#include "kp_text.h"
#include "registry.h"

#include <stdio.h>
#include <string.h>

void
reg_today(const kp_tx_t *tx, char out[11])
{
    reg_date_of(tx->now_ms, out);
}

const char *
reg_date_or_today(kp_tx_t *tx, const char *field, const char *given, char today[11])
{
    reg_today(tx, today);
    const char *d = given[0] ? given : today;
    if (reg_date_valid(d))
        return d;
    kp_call_fail(tx->call, REG_C(INVALID), "field '%s': a date YYYY-MM-DD", field);
    return NULL;
}

bool
reg_need_id(kp_call_t *call, const char *field, uint64_t id)
{
    if (id)
        return true;
    return kp_check_fail(call, "field '%s': required", field);
}

/* ---- field rules ------------------------------------------------------------------------- */

static const char *
s_len(char *why, size_t wl, const char *field, const char *v, size_t min, size_t max)
{
    size_t n = kp_text_chars(v);
    if (n < min)
        snprintf(why, wl, "field '%s': required", field);
    else if (n > max)
        snprintf(why, wl, "field '%s': at most %zu characters", field, max);
    else
        return NULL;
    return why;
}

bool
reg_network_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == ':'))
            return false;
    }
    return true;
}

const char *
reg_contact_why(const char *email, const char *phone, char *why, size_t wl)
{
    if (email[0] && !kp_text_email_valid(email))
        snprintf(why, wl, "field 'email': not an e-mail address");
    else if (phone[0] && !kp_text_phone_valid(phone))
        snprintf(why, wl, "field 'phone': '+' and 6..20 digits, spaces or dashes");
    else
        return NULL;
    return why;
}

/* Removes repeated strings from v (keeping the first), in place. */
static void
s_dedupe(char **v, size_t *n)
{
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        bool seen = false;
        for (size_t j = 0; j < w && !seen; j++)
            seen = strcmp(v[j], v[i]) == 0;
        if (!seen)
            v[w++] = v[i];
    }
    *n = w;
}

const char *
reg_fields_check(kp_tx_t *tx, reg_fields_t *f, char *why, size_t wl)
{
    const char *r;
    if ((r = s_len(why, wl, "name_fi", f->name_fi, 1, REG_NAME_MAX)) ||
        (r = s_len(why, wl, "name_sv", f->name_sv, 0, REG_NAME_MAX)) ||
        (r = s_len(why, wl, "email", f->email, 0, 254)) ||
        (r = s_len(why, wl, "phone", f->phone, 0, 30)) ||
        (r = s_len(why, wl, "web", f->web, 0, 300)))
        return r;
    uint8_t sk[8];
    if (reg_sortkey(f->name_fi, sk, sizeof sk) == 0) {
        snprintf(why, wl, "field 'name_fi': must contain a letter or a digit");
        return why;
    }
    size_t an = strlen(f->association_number);
    if (an > 20) {
        snprintf(why, wl, "field 'association_number': at most 20 characters");
        return why;
    }
    for (size_t i = 0; i < an; i++)
        if (!((f->association_number[i] >= '0' && f->association_number[i] <= '9') ||
              f->association_number[i] == '.')) {
            snprintf(why, wl, "field 'association_number': digits and '.' only");
            return why;
        }
    if (f->business_id[0] && !reg_business_id_valid(f->business_id)) {
        snprintf(why, wl, "field 'business_id': a Y-tunnus NNNNNNN-C whose check digit C matches");
        return why;
    }
    if ((r = reg_contact_why(f->email, f->phone, why, wl)))
        return r;
    if (f->web[0] && strncmp(f->web, "https://", 8) != 0 && strncmp(f->web, "http://", 7) != 0) {
        snprintf(why, wl, "field 'web': must start with https:// or http://");
        return why;
    }
    if (f->member_count > 10000000) {
        snprintf(why, wl, "field 'member_count': at most 10000000");
        return why;
    }
    bool found;
    reg_muni_t *m;
    int rc;
    if (!kp_is_muni_code(f->home_municipality)) {
        snprintf(why, wl, "field 'home_municipality': required, a three-digit municipality code");
        return why;
    }
    if ((rc = reg_muni_get(tx, f->home_municipality, &m, &found)) || !found) {
        snprintf(why, wl, rc ? "store error" : "field 'home_municipality': unknown municipality");
        return why;
    }
    if (f->n_municipalities > 100) {
        snprintf(why, wl, "field 'municipalities': at most 100");
        return why;
    }
    for (size_t i = 0; i < f->n_municipalities; i++) {
        if (!kp_is_muni_code(f->municipalities[i]) ||
            (rc = reg_muni_get(tx, f->municipalities[i], &m, &found)) || !found) {
            snprintf(why, wl, "field 'municipalities': unknown municipality code (item %zu)",
                     i + 1);
            return why;
        }
    }
    /* The home municipality is implied: keep it out of the list. */
    size_t w = 0;
    for (size_t i = 0; i < f->n_municipalities; i++)
        if (strcmp(f->municipalities[i], f->home_municipality) != 0)
            f->municipalities[w++] = f->municipalities[i];
    f->n_municipalities = w;
    s_dedupe(f->municipalities, &f->n_municipalities);
    if (f->n_fields == 0 || f->n_fields > 15) {
        snprintf(why, wl, "field 'fields': at least one field of activity, at most 15");
        return why;
    }
    uint32_t seen = 0;
    w = 0;
    for (size_t i = 0; i < f->n_fields; i++) {
        if (!reg_field_name(f->fields[i])) {
            snprintf(why, wl, "field 'fields': item %zu is not a Field value", i + 1);
            return why;
        }
        if (!(seen & (1u << f->fields[i])))
            f->fields[w++] = f->fields[i];
        seen |= 1u << f->fields[i];
    }
    f->n_fields = w;
    if (f->n_networks > 16) {
        snprintf(why, wl, "field 'networks': at most 16");
        return why;
    }
    for (size_t i = 0; i < f->n_networks; i++)
        if (!reg_network_ok(f->networks[i])) {
            snprintf(why, wl, "field 'networks': item %zu: 1..64 of a-z, 0-9, '-', ':'", i + 1);
            return why;
        }
    s_dedupe(f->networks, &f->n_networks);
    return NULL;
}

/* ---- the method table -------------------------------------------------------------------- */

#define M KP_METHOD /* the rows below */

const kp_method_t reg_methods[] = {
    M("registry.municipality.add", KP_ROLE_ADMIN, municipality, reg_muni_add),
    M("registry.municipality.list", KP_ROLES_READ, list_municipalities_request, reg_muni_list_h),
    M("registry.org.register", KP_ROLE_ADMIN, register_organisation_request, reg_org_register),
    M("registry.org.update", KP_ROLE_ADMIN, update_organisation_request, reg_org_update),
    M("registry.org.dissolve", KP_ROLE_ADMIN, dissolve_organisation_request, reg_org_dissolve),
    M("registry.org.remove", KP_ROLE_ADMIN, organisation_ref, reg_org_remove),
    M("registry.org.get", KP_ROLES_READ, organisation_ref, reg_org_get_h),
    M("registry.org.search", KP_ROLES_READ, search_request, reg_org_search),
    M("registry.person.add", KP_ROLE_ADMIN, add_person_request, reg_person_add),
    M("registry.person.update", KP_ROLE_ADMIN, update_person_request, reg_person_update),
    M("registry.person.get", KP_ROLES_READ, person_ref, reg_person_get_h),
    M("registry.person.search", KP_ROLE_ADMIN | KP_ROLE_READER, search_people_request,
      reg_person_search),
    M("registry.person.erase", KP_ROLE_ADMIN, person_ref, reg_person_erase),
    M("registry.privacy.erase", KP_ROLE_ADMIN, data_subject, reg_privacy_erase),
    M("registry.privacy.export", KP_ROLE_ADMIN, data_subject, reg_privacy_export),
    M("registry.role.assign", KP_ROLE_ADMIN, assign_role_request, reg_role_assign),
    M("registry.role.end", KP_ROLE_ADMIN, end_role_request, reg_role_end),
    M("registry.role.list", KP_ROLES_READ, list_roles_request, reg_role_list),
    M("registry.coverage.gaps", KP_ROLES_READ, coverage_gaps_request, reg_cov_gaps),
    M("registry.coverage.idle", KP_ROLE_ADMIN | KP_ROLE_READER, coverage_idle_request,
      reg_cov_idle),
    M("registry.csv.import", KP_ROLE_ADMIN, import_request, reg_import),
    M("registry.csv.export", KP_ROLE_ADMIN | KP_ROLE_READER, export_request, reg_export),
    M("registry.meeting.record", KP_ROLE_ADMIN, record_meeting_request, reg_meeting_record),
    M("registry.meeting.list", KP_ROLE_ADMIN | KP_ROLE_READER, list_meetings_request,
      reg_meeting_list),
};
const unsigned reg_methods_n = sizeof reg_methods / sizeof reg_methods[0];
