/*  web/bo_orgs.c: an organisation's page in the back office (/office/organisations/<id>):
 *  its facts, the people holding its roles (representatives, chairs), its events in the web's
 *  read model (published ones it organises, from half a year back), and the form that edits
 *  the fields the registry lets one replace (registry.org.update).
 *
 *  Every visit first reads the organisation (registry.org.get) and checks its scope: the
 *  regional coordinator may see and edit any; a municipal contact person only one whose home
 *  or listed municipalities include one of theirs, and an edit must leave it so (else 403,
 *  audited "denied", nothing changed); the expert coordinator none. The edit sends the record's
 *  updated_ms as it was shown (expected_updated_ms), so a change made meanwhile by someone
 *  else is the registry's CONFLICT and answers 409 with the form as typed and the new facts.
 *  Bad input answers 400 with the form as typed and the problem beside its field, nothing
 *  written. A saved edit is audited with the organisation's id only.
 *
 *  Contact people's names, e-mails and phones are shown as the registry answers them, never
 *  stored, logged or put in a URL here. */
#include "bo.h"
#include "kp_check.h"
#include "kp_text.h"
#include "kumppani/v1/registry.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define EV_BACK_S (183 * 86400)
#define EV_MAX 20
#define MUNIS_MAX 100
#define NETS_MAX 16

typedef Kumppani__V1__Organisation org_rec_t;

typedef struct {
    bo_account_t *acct;
    uint64_t id;
    bool edit;         /* a POST of the form */
    unsigned status;   /* of the page */
    const char *err;   /* the form's problem (a text key) */
    const char *field; /* ... beside this field */
    org_rec_t *org;
    Kumppani__V1__OrganisationFields *nf; /* the edit's new fields */
    int64_t expected;
    char obj[40];
} org_t;

static void s_roles(web_req_t *r);

/* ---- scope ------------------------------------------------------------------------------- */

/* True if acct may see (and edit) an organisation with fields f. */
static bool
s_in_scope(const bo_account_t *acct, const Kumppani__V1__OrganisationFields *f)
{
    if (!f)
        return false;
    if (bo_muni_ok(acct, f->home_municipality))
        return true;
    for (size_t i = 0; i < f->n_municipalities; i++)
        if (bo_muni_ok(acct, f->municipalities[i]))
            return true;
    return false;
}

/* ---- the page ---------------------------------------------------------------------------- */

/* A field of activity's number (1..15) from a form value, or 0. */
static int
s_field_no(const char *v)
{
    long k = web_digits(v, 2, 15);
    return k >= 1 ? (int)k : 0;
}

/* "Seinäjoki (743)", or the code alone while the registry's log has not named it. */
static void
s_muni(web_req_t *r, web_buf_t *b, const char *code)
{
    const char *name = web_muni_name(r, code);
    if (strcmp(name, code) == 0)
        web_buf_adds(b, code);
    else
        web_buf_addf(b, "%s (%s)", name, code);
}

static void
s_join(web_buf_t *b, const char *s)
{
    web_buf_adds(b, b->n ? ", " : "");
    web_buf_adds(b, s);
}

/* o's key: the items joined with ", " (at most max bytes). */
static void
s_joined(kp_arena_t *a, web_tv_t *o, const char *key, char *const *items, size_t n, size_t max)
{
    web_buf_t b = {.max = max};
    for (size_t i = 0; i < n; i++)
        s_join(&b, items[i]);
    web_tv_str(a, o, key, b.p ? b.p : "");
    web_buf_free(&b);
}

void
bo_org_fields(web_req_t *r, web_tv_t *o, const Kumppani__V1__OrganisationFields *f)
{
    web_buf_t b = {.max = 4096};
    for (size_t i = 0; i < f->n_fields; i++) {
        char key[16];
        snprintf(key, sizeof key, "bo_field_%d", (int)f->fields[i]);
        s_join(&b, web_text(r, key));
    }
    web_tv_str(r->arena, o, "fields", b.p ? b.p : "");
    web_buf_free(&b);
    s_joined(r->arena, o, "networks", f->networks, f->n_networks, 4096);
}

/* The contact facts of f (e-mail, phone, web address, members) into o. */
static void
s_contact(kp_arena_t *a, web_tv_t *o, const Kumppani__V1__OrganisationFields *f)
{
    web_tv_str(a, o, "email", f->email);
    web_tv_str(a, o, "phone", f->phone);
    web_tv_str(a, o, "web", f->web);
    if (f->member_count)
        web_tv_strf(a, o, "member_count", "%u", f->member_count);
}

/* The form's values: as typed after a POST, else the record's. */
static void
s_form_values(web_req_t *r, org_t *o, web_tv_t *root)
{
    kp_arena_t *a = r->arena;
    const Kumppani__V1__OrganisationFields *f = o->org->fields;
    web_tv_t *v = web_tv_obj(a, root, "v");
    static const char *const text[] = {"name_fi",
                                       "name_sv",
                                       "association_number",
                                       "business_id",
                                       "home_municipality",
                                       "municipalities",
                                       "networks",
                                       "email",
                                       "phone",
                                       "web",
                                       "member_count"};
    uint32_t checked = 0;
    if (o->edit) {
        for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
            web_tv_str(a, v, text[i], web_field(r, text[i]));
        for (size_t i = 0; i < r->fields_n; i++) {
            int n = s_field_no(strcmp(r->names[i], "field") == 0 ? r->values[i] : "");
            if (n >= 1)
                checked |= 1u << n;
        }
    } else {
        web_tv_str(a, v, "name_fi", f->name_fi);
        web_tv_str(a, v, "name_sv", f->name_sv);
        web_tv_str(a, v, "association_number", f->association_number);
        web_tv_str(a, v, "business_id", f->business_id);
        web_tv_str(a, v, "home_municipality", f->home_municipality);
        s_joined(a, v, "municipalities", f->municipalities, f->n_municipalities, 1024);
        s_joined(a, v, "networks", f->networks, f->n_networks, 2048);
        s_contact(a, v, f);
        for (size_t i = 0; i < f->n_fields; i++)
            if (f->fields[i] >= 1 && f->fields[i] <= 15)
                checked |= 1u << f->fields[i];
    }
    web_tv_t *fl = web_tv_list(a, root, "field_boxes");
    for (int k = 1; k <= 15; k++) {
        char key[16];
        snprintf(key, sizeof key, "bo_field_%d", k);
        web_tv_t *it = web_tv_item(a, fl);
        web_tv_strf(a, it, "value", "%d", k);
        web_tv_str(a, it, "name", web_text(r, key));
        web_tv_bool(a, it, "checked", checked & (1u << k));
    }
    /* A conflict shows the record as it is now: the next save is checked against that. */
    web_tv_strf(a, root, "expected", "%lld", (long long)o->org->updated_ms);
}

typedef struct {
    web_req_t *r;
    uint64_t id;
    web_tv_t *list;
    unsigned n;
} ev_walk_t;

static int
s_event_one(void *arg, web_event_t *ev)
{
    ev_walk_t *w = arg;
    if (ev->organiser_organisation_id != w->id)
        return 0;
    web_tv_t *it = web_tv_item(w->r->arena, w->list);
    web_event_values(w->r, it, ev);
    web_tv_strf(w->r->arena, it, "office_href", "/office/events/%llu", (unsigned long long)ev->id);
    return ++w->n >= EV_MAX;
}

/* The page, with the organisation's roles (a ListRolesReply). */
static void
s_render(web_req_t *r, void *roles)
{
    org_t *o = r->cont_arg;
    const Kumppani__V1__ListRolesReply *lr = roles;
    kp_arena_t *a = r->arena;
    const org_rec_t *g = o->org;
    const Kumppani__V1__OrganisationFields *f = g->fields;
    web_tv_t *root = bo_root(r, o->acct, "bo_org_title");
    web_tv_t *x = web_tv_obj(a, root, "org");
    web_tv_strf(a, x, "id", "%llu", (unsigned long long)g->id);
    web_tv_str(a, x, "name", f->name_fi);
    web_tv_str(a, x, "name_sv", f->name_sv);
    web_tv_str(a, x, "association_number", f->association_number);
    web_tv_str(a, x, "business_id", f->business_id);
    web_buf_t b = {.max = 4096};
    s_muni(r, &b, f->home_municipality);
    web_tv_str(a, x, "home", b.p ? b.p : "");
    web_buf_free(&b);
    b = (web_buf_t){.max = 4096};
    for (size_t i = 0; i < f->n_municipalities; i++) {
        web_buf_adds(&b, b.n ? ", " : "");
        s_muni(r, &b, f->municipalities[i]);
    }
    web_tv_str(a, x, "municipalities", b.p ? b.p : "");
    web_buf_free(&b);
    bo_org_fields(r, x, f);
    s_contact(a, x, f);
    web_tv_textf(r, x, "status", "bo_org_status_%d", (int)g->status);
    web_tv_str(a, x, "dissolved_on", g->dissolved_on);
    web_tv_time(r, x, "updated", g->updated_ms / 1000);
    if (web_query(r, "saved"))
        web_tv_str(a, root, "done", web_text(r, "bo_org_saved"));

    /* The people of its roles (the registry answers them with the roles). */
    web_tv_t *pl = web_tv_list(a, root, "people");
    size_t pn = 0;
    bool regional = o->acct->role == BO_ROLE(REGIONAL);
    for (size_t i = 0; lr && i < lr->n_roles; i++) {
        const Kumppani__V1__Role *rl = lr->roles[i];
        const Kumppani__V1__Person *p = NULL;
        for (size_t k = 0; k < lr->n_people && !p; k++)
            if (lr->people[k]->id == rl->person_id)
                p = lr->people[k];
        web_tv_t *it = web_tv_item(a, pl);
        web_tv_strf(a, it, "person_id", "%llu", (unsigned long long)rl->person_id);
        web_tv_str(a, it, "name", p ? p->name : "–");
        web_tv_str(a, it, "email", p ? p->email : "");
        web_tv_str(a, it, "phone", p ? p->phone : "");
        web_tv_bool(a, it, "link", regional);
        web_tv_textf(r, it, "kind", "bo_rk_%d", (int)rl->kind);
        web_tv_str(a, it, "title", rl->title);
        web_tv_str(a, it, "start", rl->start_date);
        pn++;
    }
    web_tv_count(a, root, "people", pn);

    /* Its published events from half a year back (the web's read model). */
    ev_walk_t w = {r, g->id, web_tv_list(a, root, "events"), 0};
    kp_tx_t tx;
    if (web_tx(r, &tx) == 0)
        web_store_events_from(&tx, tx.now_ms / 1000 - EV_BACK_S, s_event_one, &w);
    web_tv_bool(a, root, "no_events", w.n == 0);

    s_form_values(r, o, root);
    if (o->err) {
        web_tv_str(a, root, "error", web_text(r, o->err));
        web_tv_str(a, root, "error_field", o->field);
        web_tv_str(a, web_tv_obj(a, root, "err"), o->field, web_text(r, o->err));
    }
    web_page(r, o->status, "bo_org", root);
}

static void
s_roles(web_req_t *r)
{
    org_t *o = r->cont_arg;
    Kumppani__V1__ListRolesRequest rq = KUMPPANI__V1__LIST_ROLES_REQUEST__INIT;
    rq.organisation_id = o->id;
    bo_get(r, o->acct, r->svc->bus_registry, "registry.role.list", &rq.base,
           &kumppani__v1__list_roles_reply__descriptor, NULL, s_render);
}

/* ---- the edit ---------------------------------------------------------------------------- */

/* The registry's field names (in its messages) and the form's problem for each. */
static const struct {
    const char *field, *text;
} s_reg_fields[] = {
    {"name_fi", "bo_err_org_name"},
    {"name_sv", "bo_err_org_name"},
    {"association_number", "bo_err_org_assoc"},
    {"business_id", "bo_err_org_business_id"},
    {"home_municipality", "bo_err_muni"},
    {"municipalities", "bo_err_org_munis"},
    {"fields", "bo_err_org_fields"},
    {"networks", "bo_err_org_networks"},
    {"email", "err_email"},
    {"phone", "err_phone"},
    {"web", "bo_err_org_web"},
    {"member_count", "bo_err_org_members"},
};

/* Splits a list ("a, b c") into at most max arena strings (*out, *n), each of which ok accepts;
 * false if there are more, or one is not accepted. */
static bool
s_split(kp_arena_t *a, const char *list, char ***out, size_t *n, size_t max,
        bool (*ok)(const char *))
{
    char **v = kp_arena_alloc(a, max * sizeof *v);
    size_t k = 0;
    const char *p = list ? list : "";
    if (!v)
        return false;
    while (*p) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (!len)
            break;
        if (k == max || !(v[k] = kp_arena_alloc(a, len + 1)))
            return false;
        memcpy(v[k], p, len);
        v[k][len] = 0;
        if (!ok(v[k++]))
            return false;
        p += len;
    }
    *out = v;
    *n = k;
    return true;
}

static bool
s_network_ok(const char *v)
{
    size_t n = strlen(v);
    return n >= 1 && n <= 64 && strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-:") == n;
}

/* Reads the form into o->nf. Returns NULL, or the problem's text key (its field in *field). */
static const char *
s_parse(web_req_t *r, org_t *o, const char **field)
{
    kp_arena_t *a = r->arena;
    Kumppani__V1__OrganisationFields *f = kp_arena_alloc(a, sizeof *f);
    if (!f)
        return "err_unavailable";
    kumppani__v1__organisation_fields__init(f);
#define V(name) (web_field(r, name) ? web_field(r, name) : "")
    f->name_fi = (char *)V("name_fi");
    f->name_sv = (char *)V("name_sv");
    f->association_number = (char *)V("association_number");
    f->business_id = (char *)V("business_id");
    f->home_municipality = (char *)V("home_municipality");
    f->email = (char *)V("email");
    f->phone = (char *)V("phone");
    f->web = (char *)V("web");
    const char *mc = V("member_count"), *exp = V("expected");
#undef V
    *field = "name_fi";
    if (!*f->name_fi || kp_text_chars(f->name_fi) > 200 || strchr(f->name_fi, '\n'))
        return "bo_err_org_name";
    *field = "name_sv";
    if (kp_text_chars(f->name_sv) > 200 || strchr(f->name_sv, '\n'))
        return "bo_err_org_name";
    *field = "association_number";
    if (strlen(f->association_number) > 20 ||
        strspn(f->association_number, "0123456789.") != strlen(f->association_number))
        return "bo_err_org_assoc";
    *field = "business_id";
    if (strlen(f->business_id) > 9)
        return "bo_err_org_business_id";
    *field = "home_municipality";
    if (!kp_is_muni_code(f->home_municipality))
        return "bo_err_muni";
    *field = "municipalities";
    if (!s_split(a, web_field(r, "municipalities"), &f->municipalities, &f->n_municipalities,
                 MUNIS_MAX, kp_is_muni_code))
        return "bo_err_org_munis";
    *field = "fields";
    f->fields = kp_arena_alloc(a, 15 * sizeof *f->fields);
    if (!f->fields)
        return "err_unavailable";
    uint32_t seen = 0;
    for (size_t i = 0; i < r->fields_n; i++) {
        if (strcmp(r->names[i], "field") != 0)
            continue;
        int k = s_field_no(r->values[i]);
        if (k < 1)
            return "bo_err_org_fields";
        if (!(seen & (1u << k)))
            f->fields[f->n_fields++] = k;
        seen |= 1u << k;
    }
    if (!f->n_fields)
        return "bo_err_org_fields";
    *field = "networks";
    if (!s_split(a, web_field(r, "networks"), &f->networks, &f->n_networks, NETS_MAX, s_network_ok))
        return "bo_err_org_networks";
    *field = "email";
    if (strlen(f->email) > 254 || (*f->email && !kp_text_email_valid(f->email)))
        return "err_email";
    *field = "phone";
    if (strlen(f->phone) > 30 || (*f->phone && !kp_text_phone_valid(f->phone)))
        return "err_phone";
    *field = "web";
    if (kp_text_chars(f->web) > 300 ||
        (*f->web && strncmp(f->web, "https://", 8) != 0 && strncmp(f->web, "http://", 7) != 0))
        return "bo_err_org_web";
    *field = "member_count";
    if (*mc && web_digits(mc, 8, 99999999) < 0)
        return "bo_err_org_members";
    f->member_count = (uint32_t)strtoul(mc, NULL, 10);
    *field = "name_fi";
    if (!*exp || strlen(exp) > 19 || strspn(exp, "0123456789") != strlen(exp))
        return "err_form";
    o->expected = strtoll(exp, NULL, 10);
    o->nf = f;
    return NULL;
}

static void
s_update_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    org_t *o = r->cont_arg;
    int code = bo_code_of(rep, "registry.org.update", "org=%llu", (unsigned long long)o->id);
    if (bo_changed(r, o->acct, code, "registry.org.update", o->obj,
                   "/office/organisations/%llu?saved=1", (unsigned long long)o->id))
        return;
    if (code < 0 || (code != C(INVALID) && code != C(CONFLICT) && code != C(NOT_FOUND))) {
        bo_error(r, o->acct, 503, "err_unavailable");
        return;
    }
    bo_audit(r, o->acct->id, "registry.org.update", o->obj, "failed");
    if (code == C(NOT_FOUND)) {
        bo_error(r, o->acct, 404, "bo_err_no_org");
        return;
    }
    /* The registry names the field and the rule ("field 'x': ..."), never the value. */
    const char *msg = rep->status->message ? rep->status->message : "";
    o->field = "name_fi";
    o->err = code == C(CONFLICT) ? "bo_err_org_changed" : "bo_err_org_refused";
    for (size_t i = 0; i < sizeof s_reg_fields / sizeof s_reg_fields[0]; i++) {
        char pat[48];
        snprintf(pat, sizeof pat, "field '%s'", s_reg_fields[i].field);
        if (strstr(msg, pat)) {
            o->field = s_reg_fields[i].field;
            o->err = code == C(CONFLICT) ? "bo_err_org_taken" : s_reg_fields[i].text;
            break;
        }
    }
    o->status = code == C(CONFLICT) ? 409 : 400;
    s_roles(r);
}

static void
s_org_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    org_t *o = r->cont_arg;
    int code = web_code(rep);
    Kumppani__V1__OrganisationReply * or
        = web_body(r, rep, &kumppani__v1__organisation_reply__descriptor);
    if (! or || ! or->organisation || ! or->organisation->fields) {
        bo_missing(r, o->acct, code == C(NOT_FOUND), "bo_err_no_org");
        return;
    }
    o->org = or->organisation;
    const char *action = o->edit ? "registry.org.update" : "registry.org.get";
    if (!s_in_scope(o->acct, o->org->fields)) {
        bo_forbidden(r, o->acct, action, o->obj);
        return;
    }
    if (!o->edit) {
        s_roles(r);
        return;
    }
    const char *field = NULL;
    const char *err = s_parse(r, o, &field);
    if (err && strcmp(err, "err_unavailable") == 0) {
        bo_error(r, o->acct, 503, err);
        return;
    }
    if (err) {
        o->err = err;
        o->field = field;
        o->status = 400;
        s_roles(r);
        return;
    }
    /* A municipal contact person may not move an organisation out of their municipalities. */
    if (!s_in_scope(o->acct, o->nf)) {
        bo_forbidden(r, o->acct, action, o->obj);
        return;
    }
    Kumppani__V1__UpdateOrganisationRequest rq = KUMPPANI__V1__UPDATE_ORGANISATION_REQUEST__INIT;
    rq.id = o->id;
    rq.fields = o->nf;
    rq.expected_updated_ms = o->expected;
    bo_call(r, o->acct, r->svc->bus_registry, "registry.org.update", &rq.base, NULL, s_update_done);
}

static void
s_begin(web_req_t *r, const char *arg, bool edit)
{
    uint64_t id = web_parse_id(arg);
    char obj[40];
    snprintf(obj, sizeof obj, "organisation=%llu", (unsigned long long)id);
    bo_account_t *a = bo_require_role(r, BO_R(REGIONAL) | BO_R(MUNICIPAL),
                                      edit ? "registry.org.update" : "registry.org.get", obj);
    if (!a)
        return;
    org_t *o = bo_state_id(r, a, arg, "bo_err_no_org", sizeof *o);
    if (!o)
        return;
    o->edit = edit;
    o->status = 200;
    snprintf(o->obj, sizeof o->obj, "%s", obj);
    Kumppani__V1__OrganisationRef rq = KUMPPANI__V1__ORGANISATION_REF__INIT;
    rq.id = id;
    bo_call(r, a, r->svc->bus_registry, "registry.org.get", &rq.base, NULL, s_org_done);
}

void
bo_pg_org(web_req_t *r, const char *arg)
{
    s_begin(r, arg, r->post);
}
