/*  web/bo_registry.c: the back office's registry pages: the organisation search with the CLI's
 *  filters (words, municipality, field, network, status; paged by the registry's cursor) and
 *  the coverage view (municipalities without a contact person; contact persons who have not
 *  convened their NGOs for N months).
 *
 *  Both read the registry over the bus with the office key. A municipal contact person sees
 *  their own municipalities only: the search is always limited to one of them (the first by
 *  default; another is 403, audited), and the coverage rows of other municipalities are left
 *  out. The expert coordinator has neither page. */
#include "bo.h"
#include "kp_check.h"
#include "kp_text.h"
#include "kp_time.h"
#include "kumppani/v1/registry.pb-c.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define PAGE 50

typedef struct {
    bo_account_t *acct;
    const char *q, *muni, *network;
    int field, status;
    unsigned months;
    const char *months_err; /* the coverage's months refused: its text key (the page 400) */
    /* The search's filter refused: its error (a text key) and field; the page shows the search
     * unfiltered (a municipal contact person's first municipality) with the values sent (400). */
    const char *err, *err_field;
    Kumppani__V1__CoverageGapsReply *gaps;
} reg_t;

static void
s_urlenc(web_buf_t *b, const char *name, const char *v)
{
    if (!v || !*v)
        return;
    web_buf_addf(b, "%s%s=", b->n ? "&" : "?", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.')
            web_buf_add(b, (const char *)p, 1);
        else
            web_buf_addf(b, "%%%02X", *p);
}

#define SCOPE (BO_R(REGIONAL) | BO_R(MUNICIPAL))

/* ---- the organisation search ------------------------------------------------------------- */

static void
s_orgs_done(web_req_t *r, void *body)
{
    reg_t *g = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__SearchReply *sr = body;
    web_tv_t *root = bo_root(r, g->acct, "bo_orgs_title");
    if (g->err)
        bo_field_error(r, root, g->err, g->err_field);
    web_tv_str(a, root, "q", g->q);
    web_tv_str(a, root, "network", g->network);
    bo_munis_choice(r, root, g->acct, g->muni);
    web_choices(r, web_select(r, root, "sel_field", "field", "bo_orgs_field", g->err_field, g->err),
                "bo_field_", 15, NULL, g->field);
    web_choices(r,
                web_select(r, root, "sel_status", "status", "bo_col_status", g->err_field, g->err),
                "bo_org_status_", 2, NULL, g->status);
    web_tv_t *list = web_tv_list(a, root, "orgs");
    for (size_t i = 0; i < sr->n_organisations; i++) {
        const Kumppani__V1__Organisation *o = sr->organisations[i];
        const Kumppani__V1__OrganisationFields *f = o->fields;
        if (!f)
            continue;
        web_tv_t *it = web_tv_item(a, list);
        web_tv_strf(a, it, "id", "%llu", (unsigned long long)o->id);
        web_tv_str(a, it, "name", f->name_fi);
        web_tv_str(a, it, "name_sv", f->name_sv);
        web_tv_str(a, it, "home", f->home_municipality);
        bo_org_fields(r, it, f);
        web_tv_textf(r, it, "status", "bo_org_status_%d", (int)o->status);
    }
    web_tv_strf(a, root, "count", "%zu", sr->n_organisations);
    web_tv_bool(a, root, "none", sr->n_organisations == 0);
    if (sr->next_cursor && *sr->next_cursor && !g->err) {
        web_buf_t b = {.max = 4096};
        s_urlenc(&b, "q", g->q);
        s_urlenc(&b, "municipality", g->muni);
        char num[8];
        snprintf(num, sizeof num, "%d", g->field);
        s_urlenc(&b, "field", g->field ? num : NULL);
        s_urlenc(&b, "network", g->network);
        snprintf(num, sizeof num, "%d", g->status);
        s_urlenc(&b, "status", g->status ? num : NULL);
        s_urlenc(&b, "cursor", sr->next_cursor);
        web_tv_strf(a, root, "next", "/office/organisations%s", b.p ? b.p : "");
        web_buf_free(&b);
    }
    web_page(r, g->err ? 400 : 200, "bo_orgs", root);
}

static int
s_small(const char *v, int max)
{
    return v && *v ? (int)web_digits(v, 2, max) : 0;
}

/* The search's first field refused, with its error (a text key) in *err; NULL if none. */
static const char *
s_orgs_refused(const reg_t *g, const bo_account_t *a, int field, int status, const char **err)
{
    if (g->q && kp_text_chars(g->q) > 200) {
        *err = "bo_err_orgs_q";
        return "q";
    }
    if (g->muni && !kp_is_muni_code(g->muni)) {
        *err = a->role == BO_ROLE(MUNICIPAL) ? "bo_err_muni_filter" : "bo_err_muni";
        return "municipality";
    }
    if (field < 0 || status < 0) {
        *err = field < 0 ? "bo_err_orgs_field" : "bo_err_orgs_status";
        return field < 0 ? "field" : "status";
    }
    if (g->network && strlen(g->network) > 64) {
        *err = "bo_err_orgs_network";
        return "network";
    }
    return NULL;
}

void
bo_pg_orgs(web_req_t *r, const char *arg)
{
    (void)arg;
    reg_t *g = bo_begin(r, SCOPE, "registry.org.search", "", sizeof *g);
    if (!g)
        return;
    bo_account_t *a = g->acct;
    g->q = web_query(r, "q");
    g->muni = web_query(r, "municipality");
    g->network = web_query(r, "network");
    int field = s_small(web_query(r, "field"), 15);
    int status = s_small(web_query(r, "status"), 2);
    const char *cursor = web_query(r, "cursor");
    if (g->muni && !*g->muni)
        g->muni = NULL;
    if (cursor && strlen(cursor) > 512) { /* (the page's own "more" link) */
        bo_error(r, a, 400, "err_filter");
        return;
    }
    /* Refused, the search is made unfiltered; the words, code and network typed stay in their
     * fields, a choice off its menu shows "all". */
    g->err_field = s_orgs_refused(g, a, field, status, &g->err);
    g->field = g->err ? 0 : field;
    g->status = g->err ? 0 : status;
    const char *muni = g->err ? NULL : g->muni;
    if (!bo_muni_filter(r, a, &muni, "registry.org.search"))
        return;
    if (muni)
        g->muni = muni;
    Kumppani__V1__SearchRequest rq = KUMPPANI__V1__SEARCH_REQUEST__INIT;
    rq.query = (char *)(g->q && !g->err ? g->q : "");
    rq.municipality = (char *)(muni ? muni : "");
    rq.field = g->field;
    rq.network = (char *)(g->network && !g->err ? g->network : "");
    rq.status = g->status;
    rq.limit = PAGE;
    rq.cursor = (char *)(cursor && !g->err ? cursor : "");
    bo_get(r, a, r->svc->bus_registry, "registry.org.search", &rq.base,
           &kumppani__v1__search_reply__descriptor, "err_filter", s_orgs_done);
}

/* ---- coverage ---------------------------------------------------------------------------- */

static void
s_idle_done(web_req_t *r, void *body)
{
    reg_t *g = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__CoverageIdleReply *ir = body;
    web_tv_t *root = bo_root(r, g->acct, "bo_coverage_title");
    if (g->months_err) {
        web_tv_str(a, root, "months", web_query(r, "months"));
        bo_field_error(r, root, g->months_err, "months");
    } else
        web_tv_strf(a, root, "months", "%u", g->months);
    web_tv_t *gl = web_tv_list(a, root, "gaps");
    unsigned ng = 0, ni = 0;
    for (size_t i = 0; i < g->gaps->n_municipalities; i++) {
        const Kumppani__V1__Municipality *m = g->gaps->municipalities[i];
        if (!bo_muni_ok(g->acct, m->code))
            continue;
        web_tv_t *it = web_tv_item(a, gl);
        web_tv_str(a, it, "code", m->code);
        web_tv_str(a, it, "name",
                   r->lang == WEB_LANG_SV && m->name_sv[0] ? m->name_sv : m->name_fi);
        web_tv_str(a, it, "region", m->region_name);
        ng++;
    }
    web_tv_t *il = web_tv_list(a, root, "idle");
    for (size_t i = 0; i < ir->n_contact_persons; i++) {
        const Kumppani__V1__IdleContactPerson *c = ir->contact_persons[i];
        if (!c->role || !bo_muni_ok(g->acct, c->role->municipality_code))
            continue;
        web_tv_t *it = web_tv_item(a, il);
        web_tv_str(a, it, "muni", c->role->municipality_code);
        web_tv_str(a, it, "name", c->person ? c->person->name : "");
        web_tv_str(a, it, "title", c->role->title);
        if (c->last_meeting_unix)
            web_tv_time(r, it, "last", c->last_meeting_unix);
        ni++;
    }
    web_tv_count(a, root, "gaps", ng);
    web_tv_count(a, root, "idle", ni);
    web_page(r, g->months_err ? 400 : 200, "bo_coverage", root);
}

static void
s_gaps_done(web_req_t *r, void *body)
{
    reg_t *g = r->cont_arg;
    g->gaps = body;
    Kumppani__V1__CoverageIdleRequest rq = KUMPPANI__V1__COVERAGE_IDLE_REQUEST__INIT;
    rq.months = g->months;
    bo_get(r, g->acct, r->svc->bus_registry, "registry.coverage.idle", &rq.base,
           &kumppani__v1__coverage_idle_reply__descriptor, NULL, s_idle_done);
}

void
bo_pg_coverage(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require_role(r, SCOPE, "registry.coverage.gaps", "");
    if (!a)
        return;
    /* The months refused: the page for the default six, the months sent and the error beside
     * them (400). */
    int months = s_small(web_query(r, "months"), 60);
    reg_t *g = bo_state(r, a, sizeof *g);
    if (!g)
        return;
    g->months = months > 0 ? (unsigned)months : 6;
    g->months_err = months < 0 ? "bo_err_months" : NULL;
    Kumppani__V1__CoverageGapsRequest rq = KUMPPANI__V1__COVERAGE_GAPS_REQUEST__INIT;
    bo_get(r, a, r->svc->bus_registry, "registry.coverage.gaps", &rq.base,
           &kumppani__v1__coverage_gaps_reply__descriptor, NULL, s_gaps_done);
}

/* ---- CSV import (regional coordinator): the rows' errors as a table before anything is
 * written (a dry run), then the import; one bad row writes nothing ------------------------- */

typedef struct {
    bo_account_t *acct;
    bool dry;
    int kind;
} imp_t;

static void
s_import_page(web_req_t *r, const bo_account_t *a, unsigned status,
              const Kumppani__V1__ImportReply *ir, bool dry, const char *err, const char *field)
{
    kp_arena_t *ar = r->arena;
    web_tv_t *root = bo_root(r, a, "bo_import_title");
    const char *kind = r->post ? web_field(r, "kind") : NULL;
    web_choices(r, web_tv_list(ar, root, "kinds"), "bo_import_kind_", 2, NULL,
                kind && strcmp(kind, "2") == 0 ? 2 : 1);
    if (r->post)
        web_tv_str(ar, root, "csv", web_field(r, "csv"));
    if (err)
        bo_field_error(r, root, err, field);
    if (ir) {
        web_tv_t *res = web_tv_obj(ar, root, "result");
        web_tv_strf(ar, res, "rows", "%u", ir->rows);
        web_tv_strf(ar, res, "created", "%u", ir->created);
        web_tv_strf(ar, res, "updated", "%u", ir->updated);
        web_tv_strf(ar, res, "unchanged", "%u", ir->unchanged);
        web_tv_bool(ar, res, "written", ir->written);
        web_tv_bool(ar, res, "checked_ok", dry && ir->n_errors == 0);
        web_tv_bool(ar, res, "has_errors", ir->n_errors > 0);
        web_tv_strf(ar, res, "errors_n", "%zu", ir->n_errors);
        web_tv_t *el = web_tv_list(ar, res, "errors");
        for (size_t i = 0; i < ir->n_errors; i++) {
            web_tv_t *it = web_tv_item(ar, el);
            web_tv_strf(ar, it, "line", "%u", ir->errors[i]->line);
            web_tv_str(ar, it, "reason", ir->errors[i]->reason);
        }
    }
    web_page(r, status, "bo_import", root);
}

static void
s_import_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    imp_t *im = r->cont_arg;
    Kumppani__V1__ImportReply *ir = NULL;
    int code = web_code(rep);
    if (code == C(OK) || code == C(INVALID))
        ir = kumppani__v1__import_reply__unpack(kp_arena_pbc(r->arena), rep->body.len,
                                                rep->body.data);
    if (!ir && code == C(INVALID)) {
        /* Refused as a whole (a header or a size): shown as one error of line 1. */
        Kumppani__V1__RowError *e = kp_arena_alloc(r->arena, sizeof *e);
        Kumppani__V1__RowError **ev = kp_arena_alloc(r->arena, sizeof *ev);
        ir = kp_arena_alloc(r->arena, sizeof *ir);
        if (e && ev && ir) {
            kumppani__v1__row_error__init(e);
            kumppani__v1__import_reply__init(ir);
            e->line = 1;
            e->reason =
                kp_arena_memdup(r->arena, rep->status->message, strlen(rep->status->message) + 1);
            ev[0] = e;
            ir->errors = ev;
            ir->n_errors = 1;
        } else
            ir = NULL;
    }
    if (!ir) {
        bo_error(r, im->acct, 503, "err_unavailable");
        return;
    }
    if (!im->dry) {
        char obj[48];
        snprintf(obj, sizeof obj, "rows=%u created=%u updated=%u", ir->rows, ir->created,
                 ir->updated);
        bo_audit(r, im->acct->id, "registry.csv.import", obj, ir->written ? "ok" : "failed");
    }
    s_import_page(r, im->acct, ir->n_errors ? 400 : 200, ir, im->dry, NULL, NULL);
}

void
bo_pg_import(web_req_t *r, const char *arg)
{
    (void)arg;
    imp_t *im = bo_begin(r, BO_R(REGIONAL), "registry.csv.import", "", sizeof *im);
    if (!im)
        return;
    bo_account_t *a = im->acct;
    if (!r->post) {
        s_import_page(r, a, 200, NULL, true, NULL, NULL);
        return;
    }
    const char *csv = web_field(r, "csv"), *kind = web_field(r, "kind"),
               *act = web_field(r, "action");
    if (!kind || strlen(kind) != 1 || kind[0] < '1' || kind[0] > '2') {
        s_import_page(r, a, 400, NULL, true, "bo_err_import_kind", "kind");
        return;
    }
    if (!csv || !*csv || !act) {
        s_import_page(r, a, 400, NULL, true, "bo_err_csv", "csv");
        return;
    }
    im->dry = strcmp(act, "import") != 0;
    im->kind = kind[0] - '0';
    Kumppani__V1__ImportRequest rq = KUMPPANI__V1__IMPORT_REQUEST__INIT;
    rq.kind = im->kind;
    rq.csv.data = (uint8_t *)csv;
    rq.csv.len = strlen(csv);
    rq.dry_run = im->dry;
    bo_call(r, a, r->svc->bus_registry, "registry.csv.import", &rq.base, NULL, s_import_done);
}
