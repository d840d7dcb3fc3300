/*  web/bo_people.c: people and their roles in the back office (regional coordinator only):
 *  the search by name (/office/people, a POST form: a person's name is in no URL or log),
 *  a person's page (/office/people/<id>: their contact details and every role, current and
 *  ended: contact person or official of which municipality, representative or chair of which
 *  organisation), a role added (registry.role.assign, with the form's nonce as its
 *  idempotency key, so a resent form adds nothing twice) and a current role ended
 *  (registry.role.end).
 *
 *  A municipal contact person and the expert coordinator are refused (403, audited "denied"):
 *  the register of people spans the region; a contact person sees the people of their own
 *  organisations on the organisation's page. The audit holds the account, the method and
 *  person and role ids only; names, e-mails and phones are shown as the registry answers
 *  them and never stored or logged here. */
#include "bo.h"
#include "kp_check.h"
#include "kp_text.h"
#include "kumppani/v1/registry.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define PAGE 50
#define ORGS_MAX 20

typedef struct {
    bo_account_t *acct;
    uint64_t person_id, role_id;
    unsigned status;
    const char *err, *field, *done;
    Kumppani__V1__PersonReply *pr;
    /* the names of the organisations of the person's roles, fetched one by one */
    uint64_t org_ids[ORGS_MAX];
    const char *org_names[ORGS_MAX];
    size_t orgs_n, org_i;
    char obj[64];
} ppl_t;

static ppl_t *
s_begin(web_req_t *r, const char *action, const char *arg)
{
    char obj[40] = "";
    uint64_t id = arg ? web_parse_id(arg) : 0;
    if (id)
        snprintf(obj, sizeof obj, "%s=%llu", strstr(r->path, "/office/roles/") ? "role" : "person",
                 (unsigned long long)id);
    ppl_t *p = bo_begin(r, BO_R(REGIONAL), action, obj, sizeof *p);
    if (p)
        p->status = 200;
    return p;
}

/* s_begin for a person's page (arg: their id): 404 for a bad id. */
static ppl_t *
s_person_begin(web_req_t *r, const char *action, const char *arg)
{
    ppl_t *p = s_begin(r, action, arg);
    if (p && !(p->person_id = web_parse_id(arg))) {
        bo_error(r, p->acct, 404, "bo_err_no_person");
        return NULL;
    }
    return p;
}

/* ---- the search -------------------------------------------------------------------------- */

static void
s_search_page(web_req_t *r, ppl_t *p, const Kumppani__V1__SearchPeopleReply *sr)
{
    kp_arena_t *a = r->arena;
    web_tv_t *root = bo_root(r, p->acct, "bo_people_title");
    if (r->post)
        web_tv_str(a, root, "name", web_field(r, "name"));
    if (p->err)
        web_tv_str(a, root, "error", web_text(r, p->err));
    if (sr) {
        web_tv_bool(a, root, "asked", true);
        web_tv_t *list = web_tv_list(a, root, "people");
        for (size_t i = 0; i < sr->n_people; i++) {
            const Kumppani__V1__Person *x = sr->people[i];
            web_tv_t *it = web_tv_item(a, list);
            web_tv_strf(a, it, "id", "%llu", (unsigned long long)x->id);
            web_tv_str(a, it, "name", x->name);
            web_tv_str(a, it, "email", x->email);
            web_tv_str(a, it, "phone", x->phone);
        }
        web_tv_strf(a, root, "count", "%zu", sr->n_people);
        web_tv_bool(a, root, "none", sr->n_people == 0);
        web_tv_str(a, root, "cursor", sr->next_cursor);
    }
    web_page(r, p->status, "bo_people", root);
}

static void
s_search_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    int code = web_code(rep);
    Kumppani__V1__SearchPeopleReply *sr =
        web_body(r, rep, &kumppani__v1__search_people_reply__descriptor);
    if (!sr && code == C(INVALID)) {
        p->status = 400;
        p->err = "bo_err_person_name";
    } else if (!sr) {
        bo_error(r, p->acct, 503, "err_unavailable");
        return;
    }
    s_search_page(r, p, sr);
}

void
bo_pg_people(web_req_t *r, const char *arg)
{
    (void)arg;
    ppl_t *p = s_begin(r, "registry.person.search", NULL);
    if (p)
        s_search_page(r, p, NULL);
}

void
bo_pg_people_post(web_req_t *r, const char *arg)
{
    (void)arg;
    ppl_t *p = s_begin(r, "registry.person.search", NULL);
    if (!p)
        return;
    const char *name = web_field(r, "name"), *cursor = web_field(r, "cursor");
    if (!name || !*name || kp_text_chars(name) > 200 || strchr(name, '\n') ||
        (cursor && strlen(cursor) > 512)) {
        p->status = 400;
        p->err = "bo_err_person_name";
        s_search_page(r, p, NULL);
        return;
    }
    Kumppani__V1__SearchPeopleRequest rq = KUMPPANI__V1__SEARCH_PEOPLE_REQUEST__INIT;
    rq.name = (char *)name;
    rq.limit = PAGE;
    rq.cursor = (char *)(cursor ? cursor : "");
    bo_audit(r, p->acct->id, "registry.person.search", "", "ok");
    bo_call(r, p->acct, r->svc->bus_registry, "registry.person.search", &rq.base, NULL,
            s_search_done);
}

/* ---- a person's page --------------------------------------------------------------------- */

static void
s_person_page(web_req_t *r, ppl_t *p)
{
    kp_arena_t *a = r->arena;
    const Kumppani__V1__Person *x = p->pr->person;
    web_tv_t *root = bo_root(r, p->acct, "bo_person_title");
    web_tv_t *o = web_tv_obj(a, root, "person");
    web_tv_strf(a, o, "id", "%llu", (unsigned long long)x->id);
    web_tv_str(a, o, "name", x->name);
    web_tv_str(a, o, "email", x->email);
    web_tv_str(a, o, "phone", x->phone);
    web_tv_t *list = web_tv_list(a, root, "roles");
    char key[32];
    for (size_t i = 0; i < p->pr->n_roles; i++) {
        const Kumppani__V1__Role *rl = p->pr->roles[i];
        web_tv_t *it = web_tv_item(a, list);
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)rl->id);
        web_tv_textf(r, it, "kind", "bo_rk_%d", (int)rl->kind);
        if (rl->municipality_code[0]) {
            const char *n = web_muni_name(r, rl->municipality_code);
            if (strcmp(n, rl->municipality_code) == 0)
                web_tv_str(a, it, "muni", n);
            else
                web_tv_strf(a, it, "muni", "%s (%s)", n, rl->municipality_code);
        }
        if (rl->organisation_id) {
            web_tv_strf(a, it, "org_id", "%llu", (unsigned long long)rl->organisation_id);
            const char *on = NULL;
            for (size_t k = 0; k < p->orgs_n && !on; k++)
                if (p->org_ids[k] == rl->organisation_id)
                    on = p->org_names[k];
            web_tv_str(a, it, "org_name", on ? on : "");
        }
        web_tv_str(a, it, "title", rl->title);
        web_tv_str(a, it, "start", rl->start_date);
        web_tv_str(a, it, "end", rl->end_date);
        web_tv_bool(a, it, "current", !rl->end_date[0]);
    }
    web_tv_count(a, root, "roles", p->pr->n_roles);
    if (p->done)
        web_tv_str(a, root, "done", web_text(r, p->done));
    /* The add-role form: as typed after a refused POST, else a fresh nonce. */
    web_tv_t *v = web_tv_obj(a, root, "v");
    static const char *const fields[] = {"kind",  "municipality", "organisation",
                                         "title", "start_date",   "nonce"};
    const char *kind = NULL;
    if (r->post && p->err) {
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            web_tv_str(a, v, fields[i], web_field(r, fields[i]));
        kind = web_field(r, "kind");
    } else {
        char nonce[WEB_COOKIE_LEN + 1];
        web_token_random(nonce);
        web_tv_str(a, v, "nonce", nonce);
    }
    web_tv_t *kinds = web_tv_list(a, root, "kinds");
    for (int k = 1; k <= 4; k++) {
        snprintf(key, sizeof key, "bo_rk_%d", k);
        web_tv_t *it = web_tv_item(a, kinds);
        web_tv_strf(a, it, "value", "%d", k);
        web_tv_str(a, it, "name", web_text(r, key));
        web_tv_bool(a, it, "selected", kind ? kind[0] == '0' + k && !kind[1] : k == 1);
    }
    if (p->err) {
        web_tv_str(a, root, "error", web_text(r, p->err));
        web_tv_str(a, root, "error_field", p->field);
        web_tv_str(a, web_tv_obj(a, root, "err"), p->field, web_text(r, p->err));
    }
    web_page(r, p->status, "bo_person", root);
}

static void s_next_org(web_req_t *r);

static void
s_org_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    Kumppani__V1__OrganisationReply * or
        = web_body(r, rep, &kumppani__v1__organisation_reply__descriptor);
    /* An organisation removed since is shown by its id alone. */
    if (or && or->organisation && or->organisation->fields)
        p->org_names[p->org_i] = or->organisation->fields->name_fi;
    p->org_i++;
    s_next_org(r);
}

static void
s_next_org(web_req_t *r)
{
    ppl_t *p = r->cont_arg;
    if (p->org_i >= p->orgs_n) {
        s_person_page(r, p);
        return;
    }
    Kumppani__V1__OrganisationRef rq = KUMPPANI__V1__ORGANISATION_REF__INIT;
    rq.id = p->org_ids[p->org_i];
    bo_call(r, p->acct, r->svc->bus_registry, "registry.org.get", &rq.base, NULL, s_org_done);
}

/* A registry.person.get reply's person into p->pr (left NULL when none came); its code. */
static int
s_person_in(web_req_t *r, ppl_t *p, const Kumppani__V1__Reply *rep)
{
    int code = web_code(rep);
    p->pr = web_body(r, rep, &kumppani__v1__person_reply__descriptor);
    return code;
}

static void
s_person_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    int code = s_person_in(r, p, rep);
    if (!p->pr || !p->pr->person) {
        bo_missing(r, p->acct, code == C(NOT_FOUND), "bo_err_no_person");
        return;
    }
    for (size_t i = 0; i < p->pr->n_roles && p->orgs_n < ORGS_MAX; i++) {
        uint64_t oid = p->pr->roles[i]->organisation_id;
        bool seen = !oid;
        for (size_t k = 0; k < p->orgs_n && !seen; k++)
            seen = p->org_ids[k] == oid;
        if (!seen)
            p->org_ids[p->orgs_n++] = oid;
    }
    s_next_org(r);
}

/* Reads the person (registry.person.get); then runs with the reply. */
static void
s_person_read(web_req_t *r, ppl_t *p, web_bus_cb then)
{
    Kumppani__V1__PersonRef rq = KUMPPANI__V1__PERSON_REF__INIT;
    rq.person_id = p->person_id;
    bo_call(r, p->acct, r->svc->bus_registry, "registry.person.get", &rq.base, NULL, then);
}

/* Reads the person (and then their organisations' names) and shows the page. */
static void
s_person(web_req_t *r, ppl_t *p)
{
    s_person_read(r, p, s_person_done);
}

void
bo_pg_person(web_req_t *r, const char *arg)
{
    ppl_t *p = s_person_begin(r, "registry.person.get", arg);
    if (!p)
        return;
    const char *done = web_query(r, "done");
    if (done && strcmp(done, "assigned") == 0)
        p->done = "bo_role_assigned";
    else if (done && strcmp(done, "ended") == 0)
        p->done = "bo_role_ended";
    s_person(r, p);
}

/* ---- adding a role ----------------------------------------------------------------------- */

static void
s_assign_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    int code =
        bo_code_of(rep, "registry.role.assign", "person=%llu", (unsigned long long)p->person_id);
    Kumppani__V1__RoleReply *rr = web_body(r, rep, &kumppani__v1__role_reply__descriptor);
    if (rr && rr->role) {
        snprintf(p->obj, sizeof p->obj, "person=%llu role=%llu", (unsigned long long)p->person_id,
                 (unsigned long long)rr->role->id);
        bo_audit(r, p->acct->id, "registry.role.assign", p->obj, "ok");
        web_redirect(r, "/office/people/%llu?done=assigned", (unsigned long long)p->person_id);
        return;
    }
    if (code != C(INVALID) && code != C(CONFLICT) && code != C(NOT_FOUND)) {
        bo_error(r, p->acct, 503, "err_unavailable");
        return;
    }
    snprintf(p->obj, sizeof p->obj, "person=%llu", (unsigned long long)p->person_id);
    bo_audit(r, p->acct->id, "registry.role.assign", p->obj, "failed");
    /* The registry names the field ("field 'x': ..."), never the value. */
    const char *msg = rep->status->message ? rep->status->message : "";
    p->status = code == C(CONFLICT) ? 409 : 400;
    p->err = code == C(CONFLICT)    ? "bo_err_role_conflict"
             : code == C(NOT_FOUND) ? "bo_err_role_target"
                                    : "bo_err_role_refused";
    p->field = "kind";
    if (strstr(msg, "'municipality_code'"))
        p->field = "municipality";
    else if (strstr(msg, "organisation"))
        p->field = "organisation";
    else if (strstr(msg, "date"))
        p->field = "start_date";
    else if (strstr(msg, "'title'"))
        p->field = "title";
    s_person(r, p);
}

void
bo_pg_role_add(web_req_t *r, const char *arg)
{
    ppl_t *p = s_person_begin(r, "registry.role.assign", arg);
    if (!p)
        return;
    const char *kind = web_field(r, "kind"), *m = web_field(r, "municipality"),
               *org = web_field(r, "organisation"), *title = web_field(r, "title"),
               *start = web_field(r, "start_date"), *nonce = web_field(r, "nonce");
    int k = kind && strlen(kind) == 1 && kind[0] >= '1' && kind[0] <= '4' ? kind[0] - '0' : 0;
    bool by_muni = k == KUMPPANI__V1__ROLE_KIND__ROLE_KIND_CONTACT_PERSON ||
                   k == KUMPPANI__V1__ROLE_KIND__ROLE_KIND_OFFICIAL;
    uint64_t oid = web_parse_id(org);
    if (!k)
        p->err = "bo_err_role_kind", p->field = "kind";
    else if (by_muni && !kp_is_muni_code(m))
        p->err = "bo_err_muni", p->field = "municipality";
    else if (!by_muni && !oid)
        p->err = "bo_err_role_org", p->field = "organisation";
    else if (title && (kp_text_chars(title) > 200 || strchr(title, '\n')))
        p->err = "bo_err_role_title", p->field = "title";
    else if (start && *start && !kp_is_date(start))
        p->err = "bo_err_role_date", p->field = "start_date";
    else if (!nonce || strlen(nonce) != WEB_COOKIE_LEN)
        p->err = "err_form", p->field = "kind";
    if (p->err) {
        p->status = 400;
        s_person(r, p);
        return;
    }
    Kumppani__V1__AssignRoleRequest rq = KUMPPANI__V1__ASSIGN_ROLE_REQUEST__INIT;
    rq.person_id = p->person_id;
    rq.kind = k;
    rq.municipality_code = (char *)(by_muni ? m : "");
    rq.organisation_id = by_muni ? 0 : oid;
    rq.title = (char *)(title ? title : "");
    rq.start_date = (char *)(start ? start : "");
    char idem[80];
    snprintf(idem, sizeof idem, "office-role-%s", nonce);
    bo_call(r, p->acct, r->svc->bus_registry, "registry.role.assign", &rq.base, idem,
            s_assign_done);
}

/* ---- ending a role ----------------------------------------------------------------------- */

static void
s_end_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    int code = bo_code_of(rep, "registry.role.end", "role=%llu", (unsigned long long)p->role_id);
    if (bo_changed(r, p->acct, code, "registry.role.end", p->obj, "/office/people/%llu?done=ended",
                   (unsigned long long)p->person_id))
        return;
    if (code == C(CONFLICT) || code == C(INVALID) || code == C(NOT_FOUND))
        bo_audit(r, p->acct->id, "registry.role.end", p->obj, "failed");
    bo_refused_as(r, p->acct, code, "bo_err_role_refused", "bo_err_role_ended",
                  "bo_err_role_refused");
}

/* The role must be the person's (the page's button names both). */
static void
s_end_person_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    ppl_t *p = r->cont_arg;
    int code = s_person_in(r, p, rep);
    bool theirs = false;
    for (size_t i = 0; p->pr && i < p->pr->n_roles && !theirs; i++)
        theirs = p->pr->roles[i]->id == p->role_id;
    if (!theirs) {
        bo_missing(r, p->acct, code == C(OK) || code == C(NOT_FOUND), "bo_err_no_role");
        return;
    }
    Kumppani__V1__EndRoleRequest rq = KUMPPANI__V1__END_ROLE_REQUEST__INIT;
    rq.role_id = p->role_id;
    rq.end_date = "";
    bo_call(r, p->acct, r->svc->bus_registry, "registry.role.end", &rq.base, NULL, s_end_done);
}

void
bo_pg_role_end(web_req_t *r, const char *arg)
{
    ppl_t *p = s_begin(r, "registry.role.end", arg);
    if (!p)
        return;
    p->role_id = web_parse_id(arg);
    p->person_id = web_parse_id(web_field(r, "person"));
    if (!p->role_id || !p->person_id) {
        bo_error(r, p->acct, 404, "bo_err_no_role");
        return;
    }
    snprintf(p->obj, sizeof p->obj, "person=%llu role=%llu", (unsigned long long)p->person_id,
             (unsigned long long)p->role_id);
    s_person_read(r, p, s_end_person_done);
}
