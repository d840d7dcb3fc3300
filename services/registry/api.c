/*  registry/api.c: the request handlers of the registry service, and its first-start data.
 *
 *  Each handler validates everything before it writes anything (kp_call_wtxn comes last),
 *  names the field and the rule in its error, and never puts a submitted value into an error
 *  or a log line. Every change appends its event (see registry.proto for the list) in the same
 *  transaction. Role dates: a role is current on day D when start_date <= D and (no end_date
 *  or D < end_date): ending a role today makes its municipality a gap today. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define ACTIVE KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE
#define DISSOLVED KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED
#define REMOVED KUMPPANI__V1__ORG_STATUS__ORG_STATUS_REMOVED
#define RK(x) KUMPPANI__V1__ROLE_KIND__ROLE_KIND_##x
#define WHY 160

int64_t
reg_now_ms(kp_call_t *call, reg_svc_t *svc)
{
    return kp_call_now_ms(call) + svc->clock_offset_ms;
}

static void
s_today(kp_call_t *call, reg_svc_t *svc, char out[11])
{
    reg_date_of(reg_now_ms(call, svc), out);
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

static bool
s_code3(const char *v)
{
    return strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' &&
           v[2] >= '0' && v[2] <= '9';
}

static bool
s_network_ok(const char *v)
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
reg_fields_check(kp_call_t *call, reg_fields_t *f, char *why, size_t wl)
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
    if (f->email[0] && !kp_text_email_valid(f->email)) {
        snprintf(why, wl, "field 'email': not an e-mail address");
        return why;
    }
    if (f->phone[0] && !kp_text_phone_valid(f->phone)) {
        snprintf(why, wl, "field 'phone': '+' and 6..20 digits, spaces or dashes");
        return why;
    }
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
    if (!s_code3(f->home_municipality)) {
        snprintf(why, wl, "field 'home_municipality': required, a three-digit municipality code");
        return why;
    }
    if ((rc = reg_muni_get(call, f->home_municipality, &m, &found)) || !found) {
        snprintf(why, wl, rc ? "store error" : "field 'home_municipality': unknown municipality");
        return why;
    }
    if (f->n_municipalities > 100) {
        snprintf(why, wl, "field 'municipalities': at most 100");
        return why;
    }
    for (size_t i = 0; i < f->n_municipalities; i++) {
        if (!s_code3(f->municipalities[i]) ||
            (rc = reg_muni_get(call, f->municipalities[i], &m, &found)) || !found) {
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
        if (!s_network_ok(f->networks[i])) {
            snprintf(why, wl, "field 'networks': item %zu: 1..64 of a-z, 0-9, '-', ':'", i + 1);
            return why;
        }
    s_dedupe(f->networks, &f->n_networks);
    return NULL;
}

/* ---- organisations ----------------------------------------------------------------------- */

static void
s_reply_org(kp_call_t *call, reg_org_t *o)
{
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = o;
    kp_call_ok(call, &r.base);
}

static reg_org_t *
s_load_org(kp_call_t *call, uint64_t id)
{
    reg_org_t *o = NULL;
    bool found = false;
    if (id == 0) {
        kp_call_fail(call, C(INVALID), "field 'id': required");
        return NULL;
    }
    int rc = reg_org_get(call, id, &o, &found);
    if (rc) {
        kp_call_fail_err(call, rc);
        return NULL;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "organisation %llu not found", (unsigned long long)id);
        return NULL;
    }
    return o;
}

/* CONFLICT if business_id or association_number belongs to another organisation. Returns
 * NULL or the reason. */
static const char *
s_uniq_check(kp_call_t *call, const reg_fields_t *f, uint64_t self_id, char *why, size_t wl)
{
    uint64_t other;
    if (reg_uniq_get(call, 'b', f->business_id, &other) == 0 && other && other != self_id) {
        snprintf(why, wl, "field 'business_id': already registered to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    if (reg_uniq_get(call, 'a', f->association_number, &other) == 0 && other && other != self_id) {
        snprintf(why, wl, "field 'association_number': already registered to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    return NULL;
}

int
reg_org_write(kp_call_t *call, reg_svc_t *svc, reg_org_t *old, reg_fields_t *f, int status,
              reg_org_t **out)
{
    reg_org_t *o = kp_arena_alloc(kp_call_arena(call), sizeof *o);
    if (!o)
        return KP_ENOMEM;
    kumppani__v1__organisation__init(o);
    int rc;
    if (old) {
        *o = *old;
    } else {
        if ((rc = kp_store_next_id(kp_call_store(call), kp_call_wtxn(call), "org", &o->id)))
            return rc;
        o->created_ms = reg_now_ms(call, svc);
        o->dissolved_on = "";
    }
    o->fields = f;
    o->status = status;
    if (status == DISSOLVED && !o->dissolved_on[0]) {
        char *d = kp_arena_alloc(kp_call_arena(call), 11);
        if (!d)
            return KP_ENOMEM;
        s_today(call, svc, d);
        o->dissolved_on = d;
    }
    o->updated_ms = reg_now_ms(call, svc);
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = o;
    const char *type = !old ? "OrganisationRegistered"
                       : (status == DISSOLVED && old->status != DISSOLVED) ? "OrganisationDissolved"
                                                                           : "OrganisationUpdated";
    if ((rc = reg_org_put(call, o, old)) || (rc = kp_call_emit(call, type, &r.base)))
        return rc;
    kp_log_info(old ? "org.updated" : "org.registered", "org=%llu", (unsigned long long)o->id);
    *out = o;
    return 0;
}

static bool
s_fields_equal(kp_call_t *call, const reg_fields_t *a, const reg_fields_t *b)
{
    size_t la = protobuf_c_message_get_packed_size(&a->base);
    size_t lb = protobuf_c_message_get_packed_size(&b->base);
    if (la != lb)
        return false;
    uint8_t *x = kp_arena_alloc(kp_call_arena(call), la + 1);
    uint8_t *y = kp_arena_alloc(kp_call_arena(call), lb + 1);
    if (!x || !y)
        return false;
    protobuf_c_message_pack(&a->base, x);
    protobuf_c_message_pack(&b->base, y);
    return memcmp(x, y, la) == 0;
}

static void
s_org_register(kp_call_t *call, void *svc)
{
    const Kumppani__V1__RegisterOrganisationRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    char why[WHY];
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for register");
        return;
    }
    if (!rq->fields) {
        kp_call_fail(call, C(INVALID), "field 'fields': required");
        return;
    }
    if (kp_call_idem(call, key, klen))
        return;
    reg_fields_t *f = rq->fields;
    const char *r = reg_fields_check(call, f, why, sizeof why);
    if (r) {
        kp_call_fail(call, C(INVALID), "%s", r);
        return;
    }
    if ((r = s_uniq_check(call, f, 0, why, sizeof why))) {
        kp_call_fail(call, C(CONFLICT), "%s", r);
        return;
    }
    reg_org_t *o;
    int rc = reg_org_write(call, svc, NULL, f, ACTIVE, &o);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_org(call, o);
}

static void
s_org_update(kp_call_t *call, void *svc)
{
    const Kumppani__V1__UpdateOrganisationRequest *rq = kp_call_body(call);
    char why[WHY];
    reg_org_t *old = s_load_org(call, rq->id);
    if (!old)
        return;
    if (!rq->fields) {
        kp_call_fail(call, C(INVALID), "field 'fields': required");
        return;
    }
    if (rq->expected_updated_ms && rq->expected_updated_ms != old->updated_ms) {
        kp_call_fail(call, C(CONFLICT), "organisation changed since expected_updated_ms");
        return;
    }
    const char *r = reg_fields_check(call, rq->fields, why, sizeof why);
    if (r) {
        kp_call_fail(call, C(INVALID), "%s", r);
        return;
    }
    if ((r = s_uniq_check(call, rq->fields, old->id, why, sizeof why))) {
        kp_call_fail(call, C(CONFLICT), "%s", r);
        return;
    }
    if (s_fields_equal(call, rq->fields, old->fields)) {
        s_reply_org(call, old); /* nothing changed: no event */
        return;
    }
    reg_org_t *o;
    int rc = reg_org_write(call, svc, old, rq->fields, old->status, &o);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_org(call, o);
}

/* Ends the current roles found under an index prefix ('p' person or 'o' organisation) on
 * date, emitting their events; collects the ids into ids (may be NULL). */
static int s_end_roles(kp_call_t *call, reg_svc_t *svc, uint8_t tag, const void *v, size_t vlen,
                       const char *date, uint64_t **ids, size_t *ids_n);

static void
s_org_dissolve(kp_call_t *call, void *svc)
{
    const Kumppani__V1__DissolveOrganisationRequest *rq = kp_call_body(call);
    reg_org_t *old = s_load_org(call, rq->id);
    if (!old)
        return;
    char today[11];
    s_today(call, svc, today);
    if (rq->dissolved_on[0] && !reg_date_valid(rq->dissolved_on)) {
        kp_call_fail(call, C(INVALID), "field 'dissolved_on': a date YYYY-MM-DD");
        return;
    }
    if (rq->dissolved_on[0] && strcmp(rq->dissolved_on, today) > 0) {
        kp_call_fail(call, C(INVALID), "field 'dissolved_on': not in the future");
        return;
    }
    if (old->status == DISSOLVED) {
        kp_call_fail(call, C(CONFLICT), "organisation %llu is already dissolved",
                     (unsigned long long)old->id);
        return;
    }
    old->dissolved_on = (char *)(rq->dissolved_on[0] ? rq->dissolved_on : "");
    reg_org_t *o;
    uint8_t idb[8];
    kp_be64_put(idb, old->id);
    int rc = reg_org_write(call, svc, old, old->fields, DISSOLVED, &o);
    if (!rc)
        rc = s_end_roles(call, svc, 'o', idb, 8, o->dissolved_on, NULL, NULL);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_org(call, o);
}

static void
s_org_remove(kp_call_t *call, void *svc)
{
    const Kumppani__V1__OrganisationRef *rq = kp_call_body(call);
    reg_org_t *old = s_load_org(call, rq->id);
    if (!old)
        return;
    char today[11];
    s_today(call, svc, today);
    uint8_t idb[8];
    kp_be64_put(idb, old->id);
    int rc = reg_org_del(call, old);
    if (!rc)
        rc = s_end_roles(call, svc, 'o', idb, 8, today, NULL, NULL);
    old->status = REMOVED;
    old->updated_ms = reg_now_ms(call, svc);
    Kumppani__V1__OrganisationReply r = KUMPPANI__V1__ORGANISATION_REPLY__INIT;
    r.organisation = old;
    if (!rc)
        rc = kp_call_emit(call, "OrganisationRemoved", &r.base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("org.removed", "org=%llu", (unsigned long long)old->id);
    kp_call_ok(call, &r.base);
}

static void
s_org_get(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__OrganisationRef *rq = kp_call_body(call);
    reg_org_t *o = s_load_org(call, rq->id);
    if (o)
        s_reply_org(call, o);
}

static void
s_org_search(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__SearchRequest *rq = kp_call_body(call);
    if (rq->limit > 200) {
        kp_call_fail(call, C(INVALID), "field 'limit': at most 200");
        return;
    }
    if (kp_text_chars(rq->query) > 200) {
        kp_call_fail(call, C(INVALID), "field 'query': at most 200 characters");
        return;
    }
    if (rq->municipality[0] && !s_code3(rq->municipality)) {
        kp_call_fail(call, C(INVALID), "field 'municipality': a three-digit municipality code");
        return;
    }
    if (rq->network[0] && !s_network_ok(rq->network)) {
        kp_call_fail(call, C(INVALID), "field 'network': 1..64 of a-z, 0-9, '-', ':'");
        return;
    }
    if (rq->field && !reg_field_name(rq->field)) {
        kp_call_fail(call, C(INVALID), "field 'field': not a Field value");
        return;
    }
    if (rq->status < 0 || rq->status > DISSOLVED) {
        kp_call_fail(call, C(INVALID), "field 'status': UNSPECIFIED, ACTIVE or DISSOLVED");
        return;
    }
    Kumppani__V1__SearchReply r = KUMPPANI__V1__SEARCH_REPLY__INIT;
    int64_t t0 = kp_mono_us();
    int rc = reg_search(call, rq, &r);
    r.server_us = (uint32_t)(kp_mono_us() - t0);
    if (rc == KP_EINVAL) {
        kp_call_fail(call, C(INVALID), "field 'cursor': not a cursor this service gave");
        return;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &r.base);
}

/* ---- municipalities ---------------------------------------------------------------------- */

static const char *
s_muni_check(const reg_muni_t *m, char *why, size_t wl)
{
    const char *r;
    if (!s_code3(m->code)) {
        snprintf(why, wl, "field 'code': three digits");
        return why;
    }
    if ((r = s_len(why, wl, "name_fi", m->name_fi, 1, 100)) ||
        (r = s_len(why, wl, "name_sv", m->name_sv, 0, 100)) ||
        (r = s_len(why, wl, "region_code", m->region_code, 0, 8)) ||
        (r = s_len(why, wl, "region_name", m->region_name, 0, 100)))
        return r;
    return NULL;
}

static int
s_muni_write_txn(MDB_txn *txn, kp_store_t *st, kp_arena_t *a, kp_server_t *srv, kp_call_t *call,
                 const reg_muni_t *m)
{
    int rc = reg_put_msg(txn, st, a, REG_DB_MUNIS, m->code, 3, &m->base);
    if (rc)
        return rc;
    Kumppani__V1__MunicipalityReply r = KUMPPANI__V1__MUNICIPALITY_REPLY__INIT;
    r.municipality = (reg_muni_t *)m;
    return call ? kp_call_emit(call, "MunicipalityAdded", &r.base)
                : kp_server_emit(srv, txn, "MunicipalityAdded", &r.base);
}

int
reg_muni_write(kp_call_t *call, reg_svc_t *svc, const reg_muni_t *m, bool *changed)
{
    reg_muni_t *old;
    bool found;
    int rc = reg_muni_get(call, m->code, &old, &found);
    if (rc)
        return rc;
    *changed =
        !(found && strcmp(old->name_fi, m->name_fi) == 0 && strcmp(old->name_sv, m->name_sv) == 0 &&
          strcmp(old->region_code, m->region_code) == 0 &&
          strcmp(old->region_name, m->region_name) == 0);
    if (!*changed)
        return 0;
    reg_muni_t copy = *m;
    copy.updated_ms = reg_now_ms(call, svc);
    return s_muni_write_txn(kp_call_wtxn(call), kp_call_store(call), kp_call_arena(call), NULL,
                            call, &copy);
}

static void
s_muni_add(kp_call_t *call, void *svc)
{
    const reg_muni_t *m = kp_call_body(call);
    char why[WHY];
    const char *r = s_muni_check(m, why, sizeof why);
    if (r) {
        kp_call_fail(call, C(INVALID), "%s", r);
        return;
    }
    bool changed;
    int rc = reg_muni_write(call, svc, m, &changed);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    reg_muni_t *now;
    bool found;
    Kumppani__V1__MunicipalityReply rep = KUMPPANI__V1__MUNICIPALITY_REPLY__INIT;
    if ((rc = reg_muni_get(call, m->code, &now, &found)) || !found) {
        kp_call_fail_err(call, rc ? rc : KP_ESTORE);
        return;
    }
    rep.municipality = now;
    kp_call_ok(call, &rep.base);
}

/* Every municipality (of region, if not NULL/""), by code, into a growing arena array. */
static int
s_munis(kp_call_t *call, const char *region, reg_muni_t ***out, size_t *n)
{
    MDB_cursor *cur;
    int rc =
        mdb_cursor_open(kp_call_txn(call), kp_store_dbi(kp_call_store(call), REG_DB_MUNIS), &cur);
    if (rc)
        return reg_mdb(rc);
    size_t cap = 400;
    *out = kp_arena_alloc(kp_call_arena(call), cap * sizeof **out);
    *n = 0;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && *out && *n < cap) {
        reg_muni_t *m = kumppani__v1__municipality__unpack(kp_arena_pbc(kp_call_arena(call)),
                                                           v.mv_size, v.mv_data);
        if (!m) {
            mdb_cursor_close(cur);
            return KP_ECORRUPT;
        }
        if (!region || !region[0] || strcmp(region, m->region_code) == 0)
            (*out)[(*n)++] = m;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (!*out)
        return KP_ENOMEM;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

static void
s_muni_list(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__ListMunicipalitiesRequest *rq = kp_call_body(call);
    Kumppani__V1__ListMunicipalitiesReply r = KUMPPANI__V1__LIST_MUNICIPALITIES_REPLY__INIT;
    int rc = s_munis(call, rq->region_code, &r.municipalities, &r.n_municipalities);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &r.base);
}

/* ---- people ------------------------------------------------------------------------------ */

static const char *
s_person_check(const char *name, const char *email, const char *phone, char *why, size_t wl)
{
    const char *r;
    if ((r = s_len(why, wl, "name", name, 1, 200)) ||
        (r = s_len(why, wl, "email", email, 0, 254)) || (r = s_len(why, wl, "phone", phone, 0, 30)))
        return r;
    if (email[0] && !kp_text_email_valid(email)) {
        snprintf(why, wl, "field 'email': not an e-mail address");
        return why;
    }
    if (phone[0] && !kp_text_phone_valid(phone)) {
        snprintf(why, wl, "field 'phone': '+' and 6..20 digits, spaces or dashes");
        return why;
    }
    return NULL;
}

static int
s_person_get(kp_call_t *call, uint64_t id, reg_person_t **out, bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return reg_get_msg(call, REG_DB_PEOPLE, key, 8, &kumppani__v1__person__descriptor, (void **)out,
                       found);
}

static reg_person_t *
s_load_person(kp_call_t *call, uint64_t id)
{
    reg_person_t *p = NULL;
    bool found = false;
    if (id == 0) {
        kp_call_fail(call, C(INVALID), "field 'person_id': required");
        return NULL;
    }
    int rc = s_person_get(call, id, &p, &found);
    if (rc) {
        kp_call_fail_err(call, rc);
        return NULL;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "person %llu not found", (unsigned long long)id);
        return NULL;
    }
    return p;
}

static int
s_person_put(kp_call_t *call, const reg_person_t *p, const char *event)
{
    uint8_t key[8];
    kp_be64_put(key, p->id);
    int rc = reg_put_msg(kp_call_wtxn(call), kp_call_store(call), kp_call_arena(call),
                         REG_DB_PEOPLE, key, 8, &p->base);
    if (rc)
        return rc;
    Kumppani__V1__PersonRef ref = KUMPPANI__V1__PERSON_REF__INIT;
    ref.person_id = p->id;
    return kp_call_emit(call, event, &ref.base);
}

static void
s_reply_person(kp_call_t *call, reg_person_t *p)
{
    Kumppani__V1__PersonReply r = KUMPPANI__V1__PERSON_REPLY__INIT;
    r.person = p;
    kp_call_ok(call, &r.base);
}

static void
s_person_add(kp_call_t *call, void *svc)
{
    const Kumppani__V1__AddPersonRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    char why[WHY];
    if (klen == 0 || klen > 200) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for add, 1..200 bytes");
        return;
    }
    const char *r = s_person_check(rq->name, rq->email, rq->phone, why, sizeof why);
    if (r) {
        kp_call_fail(call, C(INVALID), "%s", r);
        return;
    }
    /* Our own idempotency record holds the id only (no personal data; see registry.h). */
    MDB_val k = {klen, (void *)key}, v;
    MDB_dbi pidem = kp_store_dbi(kp_call_store(call), REG_DB_PIDEM);
    int rc = mdb_get(kp_call_txn(call), pidem, &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        reg_person_t *p = s_load_person(call, kp_be64_get(v.mv_data));
        if (p)
            s_reply_person(call, p);
        return;
    }
    if (rc != MDB_NOTFOUND) {
        kp_call_fail_err(call, reg_mdb(rc));
        return;
    }
    reg_person_t p = KUMPPANI__V1__PERSON__INIT;
    if ((rc = kp_store_next_id(kp_call_store(call), kp_call_wtxn(call), "person", &p.id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    p.name = rq->name;
    p.email = rq->email;
    p.phone = rq->phone;
    p.created_ms = p.updated_ms = reg_now_ms(call, svc);
    uint8_t idb[8];
    kp_be64_put(idb, p.id);
    MDB_val d = {8, idb};
    if ((rc = reg_mdb(mdb_put(kp_call_wtxn(call), pidem, &k, &d, 0))) ||
        (rc = s_person_put(call, &p, "PersonAdded"))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("person.added", "person=%llu", (unsigned long long)p.id);
    s_reply_person(call, &p);
}

static void
s_person_update(kp_call_t *call, void *svc)
{
    const Kumppani__V1__UpdatePersonRequest *rq = kp_call_body(call);
    char why[WHY];
    reg_person_t *p = s_load_person(call, rq->id);
    if (!p)
        return;
    const char *r = s_person_check(rq->name, rq->email, rq->phone, why, sizeof why);
    if (r) {
        kp_call_fail(call, C(INVALID), "%s", r);
        return;
    }
    if (strcmp(p->name, rq->name) == 0 && strcmp(p->email, rq->email) == 0 &&
        strcmp(p->phone, rq->phone) == 0) {
        s_reply_person(call, p);
        return;
    }
    p->name = rq->name;
    p->email = rq->email;
    p->phone = rq->phone;
    p->updated_ms = reg_now_ms(call, svc);
    int rc = s_person_put(call, p, "PersonUpdated");
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_person(call, p);
}

/* ---- roles ------------------------------------------------------------------------------- */

static int
s_role_get(kp_call_t *call, uint64_t id, reg_role_t **out, bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return reg_get_msg(call, REG_DB_ROLES, key, 8, &kumppani__v1__role__descriptor, (void **)out,
                       found);
}

static bool
s_role_current(const reg_role_t *r, const char *date)
{
    return strcmp(r->start_date, date) <= 0 && (!r->end_date[0] || strcmp(date, r->end_date) < 0);
}

/* Calls fn for every role under index prefix tag+v. */
static int
s_roles_each(kp_call_t *call, uint8_t tag, const void *v, size_t vlen,
             int (*fn)(void *, reg_role_t *), void *arg)
{
    uint8_t prefix[16];
    prefix[0] = tag;
    memcpy(prefix + 1, v, vlen);
    size_t pn = 1 + vlen;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(kp_call_txn(call), kp_store_dbi(kp_call_store(call), REG_DB_ROLE_IDX),
                             &cur);
    if (rc)
        return reg_mdb(rc);
    uint64_t ids[1024];
    size_t n = 0;
    MDB_val k = {pn, prefix}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && n < 1024 && k.mv_size == pn + 8 && memcmp(k.mv_data, prefix, pn) == 0) {
        ids[n++] = kp_be64_get((const uint8_t *)k.mv_data + pn);
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return reg_mdb(rc);
    /* Collected first: fn may write (and LMDB cursors do not survive writes well). */
    for (size_t i = 0; i < n; i++) {
        reg_role_t *r;
        bool found;
        if ((rc = s_role_get(call, ids[i], &r, &found)))
            return rc;
        if (found && (rc = fn(arg, r)))
            return rc;
    }
    return 0;
}

static int
s_role_put(kp_call_t *call, const reg_role_t *r, bool index)
{
    uint8_t key[8];
    kp_be64_put(key, r->id);
    int rc = reg_put_msg(kp_call_wtxn(call), kp_call_store(call), kp_call_arena(call), REG_DB_ROLES,
                         key, 8, &r->base);
    if (rc || !index)
        return rc;
    uint8_t ik[20];
    MDB_val v = {0, ""};
    MDB_dbi db = kp_store_dbi(kp_call_store(call), REG_DB_ROLE_IDX);
    ik[0] = 'p';
    kp_be64_put(ik + 1, r->person_id);
    kp_be64_put(ik + 9, r->id);
    MDB_val k = {17, ik};
    if ((rc = mdb_put(kp_call_wtxn(call), db, &k, &v, 0)))
        return reg_mdb(rc);
    if (r->municipality_code[0]) {
        ik[0] = 'm';
        memcpy(ik + 1, r->municipality_code, 3);
        kp_be64_put(ik + 4, r->id);
        k.mv_size = 12;
    } else {
        ik[0] = 'o';
        kp_be64_put(ik + 1, r->organisation_id);
        kp_be64_put(ik + 9, r->id);
        k.mv_size = 17;
    }
    return reg_mdb(mdb_put(kp_call_wtxn(call), db, &k, &v, 0));
}

static int
s_emit_role(kp_call_t *call, reg_role_t *r, bool assigned)
{
    Kumppani__V1__RoleReply rep = KUMPPANI__V1__ROLE_REPLY__INIT;
    rep.role = r;
    bool cp = r->kind == RK(CONTACT_PERSON);
    const char *type = assigned ? (cp ? "ContactPersonAssigned" : "RoleAssigned")
                                : (cp ? "ContactPersonEnded" : "RoleEnded");
    kp_log_info(assigned ? "role.assigned" : "role.ended", "role=%llu person=%llu kind=%d",
                (unsigned long long)r->id, (unsigned long long)r->person_id, r->kind);
    return kp_call_emit(call, type, &rep.base);
}

typedef struct {
    kp_call_t *call;
    reg_svc_t *svc;
    const char *date;
    uint64_t *ids;
    size_t n, cap;
    const reg_role_t *probe; /* assign: the new role, for the overlap check */
    bool overlap;
} end_ctx_t;

static int
s_end_one(void *arg, reg_role_t *r)
{
    end_ctx_t *c = arg;
    if (r->end_date[0] && strcmp(r->end_date, c->date) <= 0)
        return 0; /* already ended by then */
    r->end_date = (char *)(strcmp(r->start_date, c->date) > 0 ? r->start_date : c->date);
    r->updated_ms = reg_now_ms(c->call, c->svc);
    int rc = s_role_put(c->call, r, false);
    if (!rc)
        rc = s_emit_role(c->call, r, false);
    if (!rc && c->ids && c->n < c->cap)
        c->ids[c->n++] = r->id;
    return rc;
}

static int
s_end_roles(kp_call_t *call, reg_svc_t *svc, uint8_t tag, const void *v, size_t vlen,
            const char *date, uint64_t **ids, size_t *ids_n)
{
    end_ctx_t c = {call, svc, date, NULL, 0, 1024, NULL, false};
    if (ids) {
        c.ids = kp_arena_alloc(kp_call_arena(call), c.cap * sizeof *c.ids);
        if (!c.ids)
            return KP_ENOMEM;
    }
    int rc = s_roles_each(call, tag, v, vlen, s_end_one, &c);
    if (ids) {
        *ids = c.ids;
        *ids_n = c.n;
    }
    return rc;
}

static int
s_overlap_one(void *arg, reg_role_t *r)
{
    end_ctx_t *c = arg;
    const reg_role_t *n = c->probe;
    if (r->kind != n->kind || strcmp(r->municipality_code, n->municipality_code) != 0 ||
        r->organisation_id != n->organisation_id)
        return 0;
    /* Overlap of [start, end) intervals; "" end = open. */
    bool a = !r->end_date[0] || strcmp(n->start_date, r->end_date) < 0;
    bool b = !n->end_date[0] || strcmp(r->start_date, n->end_date) < 0;
    if (a && b)
        c->overlap = true;
    return 0;
}

static void
s_role_assign(kp_call_t *call, void *svc)
{
    const Kumppani__V1__AssignRoleRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for assign");
        return;
    }
    if (kp_call_idem(call, key, klen))
        return;
    reg_person_t *p = s_load_person(call, rq->person_id);
    if (!p)
        return;
    if (rq->kind <= RK(UNSPECIFIED) || rq->kind > RK(CHAIR)) {
        kp_call_fail(call, C(INVALID), "field 'kind': required, one of the RoleKind values");
        return;
    }
    bool muni_kind = rq->kind == RK(CONTACT_PERSON) || rq->kind == RK(OFFICIAL);
    if (muni_kind) {
        reg_muni_t *m;
        bool found;
        if (rq->organisation_id || !s_code3(rq->municipality_code)) {
            kp_call_fail(call, C(INVALID),
                         "field 'municipality_code': required for this kind (and no "
                         "organisation_id)");
            return;
        }
        int rc = reg_muni_get(call, rq->municipality_code, &m, &found);
        if (rc || !found) {
            if (rc)
                kp_call_fail_err(call, rc);
            else
                kp_call_fail(call, C(NOT_FOUND), "field 'municipality_code': unknown municipality");
            return;
        }
    } else {
        if (rq->municipality_code[0]) {
            kp_call_fail(call, C(INVALID),
                         "field 'municipality_code': not for this kind (use organisation_id)");
            return;
        }
        reg_org_t *o = s_load_org(call, rq->organisation_id);
        if (!o)
            return;
        if (o->status != ACTIVE) {
            kp_call_fail(call, C(CONFLICT), "organisation %llu is dissolved",
                         (unsigned long long)o->id);
            return;
        }
    }
    if (kp_text_chars(rq->title) > 100) {
        kp_call_fail(call, C(INVALID), "field 'title': at most 100 characters");
        return;
    }
    char today[11];
    s_today(call, svc, today);
    const char *start = rq->start_date[0] ? rq->start_date : today;
    if (!reg_date_valid(start)) {
        kp_call_fail(call, C(INVALID), "field 'start_date': a date YYYY-MM-DD");
        return;
    }
    if (rq->end_date[0] && (!reg_date_valid(rq->end_date) || strcmp(rq->end_date, start) <= 0)) {
        kp_call_fail(call, C(INVALID), "field 'end_date': a date YYYY-MM-DD after start_date");
        return;
    }
    reg_role_t r = KUMPPANI__V1__ROLE__INIT;
    r.person_id = p->id;
    r.kind = rq->kind;
    r.municipality_code = (char *)(muni_kind ? rq->municipality_code : "");
    r.organisation_id = muni_kind ? 0 : rq->organisation_id;
    r.title = rq->title;
    r.start_date = (char *)start;
    r.end_date = rq->end_date;
    uint8_t pid[8];
    kp_be64_put(pid, p->id);
    end_ctx_t c = {call, svc, NULL, NULL, 0, 0, &r, false};
    int rc = s_roles_each(call, 'p', pid, 8, s_overlap_one, &c);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (c.overlap) {
        kp_call_fail(call, C(CONFLICT), "the person already holds this role in these dates");
        return;
    }
    if ((rc = kp_store_next_id(kp_call_store(call), kp_call_wtxn(call), "role", &r.id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.created_ms = r.updated_ms = reg_now_ms(call, svc);
    Kumppani__V1__RoleReply rep = KUMPPANI__V1__ROLE_REPLY__INIT;
    rep.role = &r;
    if ((rc = s_role_put(call, &r, true)) || (rc = s_emit_role(call, &r, true))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &rep.base);
}

static void
s_role_end(kp_call_t *call, void *svc)
{
    const Kumppani__V1__EndRoleRequest *rq = kp_call_body(call);
    reg_role_t *r;
    bool found;
    if (!rq->role_id) {
        kp_call_fail(call, C(INVALID), "field 'role_id': required");
        return;
    }
    int rc = s_role_get(call, rq->role_id, &r, &found);
    if (rc || !found) {
        if (rc)
            kp_call_fail_err(call, rc);
        else
            kp_call_fail(call, C(NOT_FOUND), "role %llu not found",
                         (unsigned long long)rq->role_id);
        return;
    }
    char today[11];
    s_today(call, svc, today);
    const char *end = rq->end_date[0] ? rq->end_date : today;
    if (!reg_date_valid(end)) {
        kp_call_fail(call, C(INVALID), "field 'end_date': a date YYYY-MM-DD");
        return;
    }
    if (r->end_date[0] && strcmp(r->end_date, today) <= 0) {
        kp_call_fail(call, C(CONFLICT), "role %llu has already ended", (unsigned long long)r->id);
        return;
    }
    if (strcmp(end, r->start_date) < 0 || (r->end_date[0] && strcmp(end, r->end_date) > 0)) {
        kp_call_fail(call, C(INVALID),
                     "field 'end_date': not before start_date, not after the planned end");
        return;
    }
    r->end_date = (char *)end;
    r->updated_ms = reg_now_ms(call, svc);
    Kumppani__V1__RoleReply rep = KUMPPANI__V1__ROLE_REPLY__INIT;
    rep.role = r;
    if ((rc = s_role_put(call, r, false)) || (rc = s_emit_role(call, r, false))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &rep.base);
}

typedef struct {
    kp_call_t *call;
    int kind;
    bool include_ended;
    const char *date;
    reg_role_t **roles;
    size_t n, cap;
} list_ctx_t;

static int
s_list_one(void *arg, reg_role_t *r)
{
    list_ctx_t *c = arg;
    if (c->kind && (int)r->kind != c->kind)
        return 0;
    if (!c->include_ended && !s_role_current(r, c->date))
        return 0;
    if (c->n < c->cap)
        c->roles[c->n++] = r;
    return 0;
}

static int
s_people_of(kp_call_t *call, reg_role_t **roles, size_t n, reg_person_t ***out, size_t *out_n)
{
    *out = kp_arena_alloc(kp_call_arena(call), (n + 1) * sizeof **out);
    *out_n = 0;
    if (!*out)
        return KP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < *out_n && !dup; j++)
            dup = (*out)[j]->id == roles[i]->person_id;
        if (dup)
            continue;
        reg_person_t *p;
        bool found;
        int rc = s_person_get(call, roles[i]->person_id, &p, &found);
        if (rc)
            return rc;
        if (found)
            (*out)[(*out_n)++] = p;
    }
    return 0;
}

static void
s_role_list(kp_call_t *call, void *svc)
{
    const Kumppani__V1__ListRolesRequest *rq = kp_call_body(call);
    char today[11];
    s_today(call, svc, today);
    if (!!rq->municipality_code[0] == !!rq->organisation_id) {
        kp_call_fail(call, C(INVALID),
                     "fields 'municipality_code', 'organisation_id': exactly one");
        return;
    }
    if (rq->municipality_code[0] && !s_code3(rq->municipality_code)) {
        kp_call_fail(call, C(INVALID), "field 'municipality_code': three digits");
        return;
    }
    list_ctx_t c = {call, rq->kind, rq->include_ended, today, NULL, 0, 1024};
    c.roles = kp_arena_alloc(kp_call_arena(call), c.cap * sizeof *c.roles);
    if (!c.roles) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    uint8_t idb[8];
    kp_be64_put(idb, rq->organisation_id);
    int rc = rq->municipality_code[0]
                 ? s_roles_each(call, 'm', rq->municipality_code, 3, s_list_one, &c)
                 : s_roles_each(call, 'o', idb, 8, s_list_one, &c);
    Kumppani__V1__ListRolesReply r = KUMPPANI__V1__LIST_ROLES_REPLY__INIT;
    r.roles = c.roles;
    r.n_roles = c.n;
    if (!rc && (kp_call_role(call) & (KP_ROLE_ADMIN | KP_ROLE_READER)))
        rc = s_people_of(call, c.roles, c.n, &r.people, &r.n_people);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &r.base);
}

static void
s_person_get_h(kp_call_t *call, void *svc)
{
    (void)svc;
    const Kumppani__V1__PersonRef *rq = kp_call_body(call);
    reg_person_t *p = s_load_person(call, rq->person_id);
    if (!p)
        return;
    list_ctx_t c = {call, 0, true, "", NULL, 0, 1024};
    c.roles = kp_arena_alloc(kp_call_arena(call), c.cap * sizeof *c.roles);
    uint8_t idb[8];
    kp_be64_put(idb, p->id);
    int rc = c.roles ? s_roles_each(call, 'p', idb, 8, s_list_one, &c) : KP_ENOMEM;
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__PersonReply r = KUMPPANI__V1__PERSON_REPLY__INIT;
    r.person = p;
    r.roles = c.roles;
    r.n_roles = c.n;
    kp_call_ok(call, &r.base);
}

static void
s_person_erase(kp_call_t *call, void *svc)
{
    const Kumppani__V1__PersonRef *rq = kp_call_body(call);
    reg_person_t *p = s_load_person(call, rq->person_id);
    if (!p)
        return;
    char today[11];
    s_today(call, svc, today);
    uint8_t idb[8];
    kp_be64_put(idb, p->id);
    Kumppani__V1__PersonErased e = KUMPPANI__V1__PERSON_ERASED__INIT;
    e.person_id = p->id;
    int rc = s_end_roles(call, svc, 'p', idb, 8, today, &e.ended_role_ids, &e.n_ended_role_ids);
    MDB_val k = {8, idb};
    if (!rc)
        rc = reg_mdb(mdb_del(kp_call_wtxn(call), kp_store_dbi(kp_call_store(call), REG_DB_PEOPLE),
                             &k, NULL));
    if (!rc)
        rc = kp_call_emit(call, "PersonErased", &e.base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("person.erased", "person=%llu roles_ended=%zu", (unsigned long long)p->id,
                e.n_ended_role_ids);
    kp_call_ok(call, &e.base);
}

/* ---- coverage ---------------------------------------------------------------------------- */

typedef struct {
    const char *date;
    bool any;
} cur_ctx_t;

static int
s_has_current(void *arg, reg_role_t *r)
{
    cur_ctx_t *c = arg;
    if (r->kind == RK(CONTACT_PERSON) && s_role_current(r, c->date))
        c->any = true;
    return 0;
}

static void
s_cov_gaps(kp_call_t *call, void *svc)
{
    const Kumppani__V1__CoverageGapsRequest *rq = kp_call_body(call);
    char today[11];
    s_today(call, svc, today);
    const char *date = rq->on_date[0] ? rq->on_date : today;
    if (!reg_date_valid(date)) {
        kp_call_fail(call, C(INVALID), "field 'on_date': a date YYYY-MM-DD");
        return;
    }
    reg_muni_t **m;
    size_t n;
    int rc = s_munis(call, rq->region_code, &m, &n);
    Kumppani__V1__CoverageGapsReply r = KUMPPANI__V1__COVERAGE_GAPS_REPLY__INIT;
    r.municipalities = m;
    for (size_t i = 0; !rc && i < n; i++) {
        cur_ctx_t c = {date, false};
        rc = s_roles_each(call, 'm', m[i]->code, 3, s_has_current, &c);
        if (!c.any)
            r.municipalities[r.n_municipalities++] = m[i];
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &r.base);
}

/* The latest meeting start (Unix s, not after now) organised by person, or held in muni when
 * the meeting names no organiser. */
static int
s_last_meeting(kp_call_t *call, uint64_t person, const char *muni, int64_t now_s, int64_t *last)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(kp_call_txn(call), kp_store_dbi(kp_call_store(call), REG_DB_MEETINGS),
                             &cur);
    if (rc)
        return reg_mdb(rc);
    *last = 0;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        Kumppani__V1__ContactPersonMeeting *m = kumppani__v1__contact_person_meeting__unpack(
            kp_arena_pbc(kp_call_arena(call)), v.mv_size, v.mv_data);
        if (m && !m->cancelled && m->start_unix <= now_s && m->start_unix > *last &&
            (m->organiser_person_id ? m->organiser_person_id == person
                                    : strcmp(m->municipality_code, muni) == 0))
            *last = m->start_unix;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

typedef struct {
    kp_call_t *call;
    const char *date;
    int64_t now_s, since_s;
    Kumppani__V1__IdleContactPerson **out;
    size_t n, cap;
} idle_ctx_t;

static int
s_idle_one(void *arg, reg_role_t *r)
{
    idle_ctx_t *c = arg;
    if (r->kind != RK(CONTACT_PERSON) || !s_role_current(r, c->date) || c->n >= c->cap)
        return 0;
    int64_t last = 0;
    int rc = s_last_meeting(c->call, r->person_id, r->municipality_code, c->now_s, &last);
    if (rc || last >= c->since_s)
        return rc;
    Kumppani__V1__IdleContactPerson *ip = kp_arena_alloc(kp_call_arena(c->call), sizeof *ip);
    if (!ip)
        return KP_ENOMEM;
    kumppani__v1__idle_contact_person__init(ip);
    ip->role = r;
    ip->last_meeting_unix = last;
    bool found;
    if ((rc = s_person_get(c->call, r->person_id, &ip->person, &found)))
        return rc;
    if (!found)
        ip->person = NULL;
    c->out[c->n++] = ip;
    return 0;
}

static void
s_cov_idle(kp_call_t *call, void *svc)
{
    const Kumppani__V1__CoverageIdleRequest *rq = kp_call_body(call);
    unsigned months = rq->months ? rq->months : 6;
    if (months > 60) {
        kp_call_fail(call, C(INVALID), "field 'months': 1..60");
        return;
    }
    char today[11];
    s_today(call, svc, today);
    idle_ctx_t c = {call, today, reg_now_ms(call, svc) / 1000, 0, NULL, 0, 4096};
    c.since_s = c.now_s - (int64_t)months * 30 * 86400 - (int64_t)months / 2 * 86400;
    c.out = kp_arena_alloc(kp_call_arena(call), c.cap * sizeof *c.out);
    reg_muni_t **m;
    size_t n;
    int rc = c.out ? s_munis(call, rq->region_code, &m, &n) : KP_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        rc = s_roles_each(call, 'm', m[i]->code, 3, s_idle_one, &c);
    Kumppani__V1__CoverageIdleReply r = KUMPPANI__V1__COVERAGE_IDLE_REPLY__INIT;
    if (!rc)
        rc = kp_store_offset_get(kp_call_store(call), kp_call_txn(call), "events",
                                 &r.events_applied_seq);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.contact_persons = c.out;
    r.n_contact_persons = c.n;
    kp_call_ok(call, &r.base);
}

/* ---- first start ------------------------------------------------------------------------- */

static const struct {
    const char *code, *fi, *sv;
} s_ep[] = {
    {"005", "Alajärvi", ""},       {"010", "Alavus", "Alavo"},    {"052", "Evijärvi", ""},
    {"145", "Ilmajoki", "Ilmola"}, {"151", "Isojoki", "Storå"},   {"152", "Isokyrö", "Storkyro"},
    {"218", "Karijoki", "Bötom"},  {"232", "Kauhajoki", ""},      {"233", "Kauhava", ""},
    {"300", "Kuortane", ""},       {"301", "Kurikka", ""},        {"403", "Lappajärvi", ""},
    {"408", "Lapua", "Lappo"},     {"743", "Seinäjoki", ""},      {"759", "Soini", ""},
    {"846", "Teuva", "Östermark"}, {"934", "Vimpeli", "Vindala"}, {"989", "Ähtäri", "Etseri"},
};

int
reg_seed(kp_server_t *srv)
{
    kp_store_t *st = kp_server_store(srv);
    MDB_txn *txn;
    int rc = kp_server_txn(srv, &txn);
    if (rc)
        return rc;
    MDB_stat ms;
    if ((rc = mdb_stat(txn, kp_store_dbi(st, REG_DB_MUNIS), &ms)))
        return reg_mdb(rc);
    if (ms.ms_entries > 0 || kp_store_turn_head(st) > 0)
        return 0; /* not the first start */
    kp_arena_t *a = kp_arena_new(64 * 1024);
    for (size_t i = 0; !rc && i < sizeof s_ep / sizeof s_ep[0]; i++) {
        reg_muni_t m = KUMPPANI__V1__MUNICIPALITY__INIT;
        m.code = (char *)s_ep[i].code;
        m.name_fi = (char *)s_ep[i].fi;
        m.name_sv = (char *)s_ep[i].sv;
        m.region_code = "14";
        m.region_name = "Etelä-Pohjanmaa";
        m.updated_ms = kp_now_ms();
        rc = s_muni_write_txn(txn, st, a, srv, NULL, &m);
    }
    kp_arena_destroy(&a);
    if (rc)
        kp_server_abort_turn(srv, rc);
    else
        kp_log_notice("registry.seeded", "municipalities=%zu", sizeof s_ep / sizeof s_ep[0]);
    return rc;
}

/* ---- the method table -------------------------------------------------------------------- */

#define READERS (KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE)
#define M(name, roles, msg, fn)                                                                    \
    {                                                                                              \
        name, roles, &kumppani__v1__##msg##__descriptor, fn                                        \
    }

const kp_method_t reg_methods[] = {
    M("registry.municipality.add", KP_ROLE_ADMIN, municipality, s_muni_add),
    M("registry.municipality.list", READERS, list_municipalities_request, s_muni_list),
    M("registry.org.register", KP_ROLE_ADMIN, register_organisation_request, s_org_register),
    M("registry.org.update", KP_ROLE_ADMIN, update_organisation_request, s_org_update),
    M("registry.org.dissolve", KP_ROLE_ADMIN, dissolve_organisation_request, s_org_dissolve),
    M("registry.org.remove", KP_ROLE_ADMIN, organisation_ref, s_org_remove),
    M("registry.org.get", READERS, organisation_ref, s_org_get),
    M("registry.org.search", READERS, search_request, s_org_search),
    M("registry.person.add", KP_ROLE_ADMIN, add_person_request, s_person_add),
    M("registry.person.update", KP_ROLE_ADMIN, update_person_request, s_person_update),
    M("registry.person.get", KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE, person_ref,
      s_person_get_h),
    M("registry.person.erase", KP_ROLE_ADMIN, person_ref, s_person_erase),
    M("registry.role.assign", KP_ROLE_ADMIN, assign_role_request, s_role_assign),
    M("registry.role.end", KP_ROLE_ADMIN, end_role_request, s_role_end),
    M("registry.role.list", READERS, list_roles_request, s_role_list),
    M("registry.coverage.gaps", READERS, coverage_gaps_request, s_cov_gaps),
    M("registry.coverage.idle", KP_ROLE_ADMIN | KP_ROLE_READER, coverage_idle_request, s_cov_idle),
    M("registry.csv.import", KP_ROLE_ADMIN, import_request, reg_import),
    M("registry.csv.export", KP_ROLE_ADMIN | KP_ROLE_READER, export_request, reg_export),
};
const unsigned reg_methods_n = sizeof reg_methods / sizeof reg_methods[0];
