/*  web/bo_pages.c: the back office's home page, the accounts page (regional coordinator: the
 *  list and the form that adds an account), an account's page (its role and municipalities,
 *  disable or enable, remove after a ticked confirmation) and the audit page (regional coordinator:
 * the newest changes first, by account id, method and object ids); and the bus calls that every
 * office page makes (bo_call over web_call; their answers bo_refused, bo_missing; a list's every
 * page, bo_list_all), its state (bo_zalloc, bo_state, bo_begin) and the municipality filter
 * (bo_munis_choice). */
#include "bo.h"
#include "kp_log.h"
#include "kp_time.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AUDIT_MAX 300

/* ---- bus calls of office pages ----------------------------------------------------------- */

bool
bo_call(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const char *method,
        const ProtobufCMessage *body, const char *idem, web_bus_cb cb)
{
    if (web_call(r, bus, method, body, idem, cb))
        return true;
    bo_error(r, a, 503, "err_unavailable");
    return false;
}

int
bo_code(const Kumppani__V1__Reply *rep, const char *method)
{
    int code = web_code(rep);
    kp_log_info("office.call", "method=%s code=%d", method, code);
    return code;
}

int
bo_code_of(const Kumppani__V1__Reply *rep, const char *method, const char *fmt, ...)
{
    char obj[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(obj, sizeof obj, fmt, ap);
    va_end(ap);
    int code = web_code(rep);
    kp_log_info("office.call", "method=%s %s code=%d", method, obj, code);
    return code;
}

/* bo_body, but with invalid_key a refusal as INVALID answers 400 with that text. */
static void *
s_body(web_req_t *r, const bo_account_t *acct, const Kumppani__V1__Reply *rep,
       const ProtobufCMessageDescriptor *d, const char *invalid_key)
{
    void *body = web_body(r, rep, d);
    if (body)
        return body;
    if (invalid_key && web_code(rep) == KUMPPANI__V1__CODE__CODE_INVALID)
        bo_error(r, acct, 400, invalid_key);
    else
        bo_error(r, acct, 503, "err_unavailable");
    return NULL;
}

/* A call of bo_get: the page's state and what its reply needs. */
typedef struct {
    void *state; /* r->cont_arg at the call */
    const bo_account_t *acct;
    const ProtobufCMessageDescriptor *d;
    const char *invalid_key;
    bo_body_cb then;
} get_t;

static void
s_got(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    get_t *g = r->cont_arg;
    r->cont_arg = g->state;
    void *body = s_body(r, g->acct, rep, g->d, g->invalid_key);
    if (body)
        g->then(r, body);
}

bool
bo_get(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const char *method,
       const ProtobufCMessage *body, const ProtobufCMessageDescriptor *d, const char *invalid_key,
       bo_body_cb then)
{
    get_t *g = bo_zalloc(r, a, sizeof *g);
    if (!g)
        return false;
    *g = (get_t){r->cont_arg, a, d, invalid_key, then};
    r->cont_arg = g;
    if (bo_call(r, a, bus, method, body, NULL, s_got))
        return true;
    r->cont_arg = g->state;
    return false;
}

void *
bo_zalloc(web_req_t *r, const bo_account_t *acct, size_t size)
{
    void *p = kp_arena_alloc(r->arena, size);
    if (!p) {
        bo_error(r, acct, 503, "err_unavailable");
        return NULL;
    }
    memset(p, 0, size);
    return p;
}

void *
bo_state(web_req_t *r, bo_account_t *acct, size_t size)
{
    assert(size >= sizeof acct);
    /* A pointer to a struct points to its first member too (C11 6.7.2.1). */
    bo_account_t **p = bo_zalloc(r, acct, size);
    if (!p)
        return NULL;
    *p = acct;
    r->cont_arg = p;
    return p;
}

void *
bo_state_id(web_req_t *r, bo_account_t *acct, const char *arg, const char *not_found_key,
            size_t size)
{
    struct {
        bo_account_t *acct;
        uint64_t id;
    } * h;
    assert(size >= sizeof *h);
    uint64_t id = web_parse_id(arg);
    if (!id) {
        bo_error(r, acct, 404, not_found_key);
        return NULL;
    }
    if ((h = bo_state(r, acct, size)))
        h->id = id;
    return h;
}

void *
bo_begin(web_req_t *r, unsigned roles, const char *action, const char *object, size_t size)
{
    bo_account_t *a = bo_require_role(r, roles, action, object);
    return a ? bo_state(r, a, size) : NULL;
}

void
bo_csv(web_req_t *r, web_buf_t *b, const char *fmt, ...)
{
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char cd[96];
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", name);
    web_reply(r, 200, "text/csv; charset=utf-8", b);
    if (r->resp)
        MHD_add_response_header(r->resp, "Content-Disposition", cd);
}

void *
bo_body(web_req_t *r, const bo_account_t *acct, const Kumppani__V1__Reply *rep,
        const ProtobufCMessageDescriptor *d)
{
    return s_body(r, acct, rep, d, NULL);
}

/* ---- a list, page by page --------------------------------------------------------------- */

typedef struct {
    void *prev; /* r->cont_arg before */
    const bo_account_t *acct;
    web_bus_t *bus;
    const bo_list_t *def;
    ProtobufCMessage *rq; /* the caller's, copied: its after_id moves on page by page */
    void **items;         /* so far, with room for one more */
    size_t n;
    bo_list_cb then;
    bo_fail_cb failed;
} list_t;

/* The scalar field name of m (a uint64 or a uint32). */
static void *
s_field(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    assert(f && f->label != PROTOBUF_C_LABEL_REPEATED);
    return (char *)m + f->offset;
}

static bool s_list_page(web_req_t *r, list_t *l);

static void
s_list_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    list_t *l = r->cont_arg;
    const ProtobufCMessage *body = web_body(r, rep, l->def->reply);
    r->cont_arg = l->prev;
    if (!body) {
        if (l->failed) {
            l->failed(r, rep, l->def->method);
            return;
        }
        bo_code(rep, l->def->method);
        bo_error(r, l->acct, 503, "err_unavailable");
        return;
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(l->def->reply, l->def->items);
    assert(f && f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE);
    size_t k = *(const size_t *)((const char *)body + f->quantifier_offset);
    ProtobufCMessage *const *page =
        *(ProtobufCMessage *const *const *)((const char *)body + f->offset);
    void **v = bo_zalloc(r, l->acct, (l->n + k + 1) * sizeof *v);
    if (!v)
        return;
    if (l->n)
        memcpy(v, l->items, l->n * sizeof *v);
    if (k)
        memcpy(v + l->n, page, k * sizeof *v);
    l->items = v;
    l->n += k;
    if (k)
        *(uint64_t *)s_field(l->rq, "after_id") = *(const uint64_t *)s_field(page[k - 1], "id");
    if (k == l->def->page_n && l->n < l->def->max) {
        r->cont_arg = l;
        s_list_page(r, l);
        return;
    }
    l->then(r, l->items, l->n);
}

/* Asks for the next page; false after answering 503 (r->cont_arg as before the list). */
static bool
s_list_page(web_req_t *r, list_t *l)
{
    if (bo_call(r, l->acct, l->bus, l->def->method, l->rq, NULL, s_list_done))
        return true;
    r->cont_arg = l->prev;
    return false;
}

bool
bo_list_all(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const bo_list_t *def,
            const ProtobufCMessage *rq, bo_list_cb then, bo_fail_cb failed)
{
    list_t *l = bo_zalloc(r, a, sizeof *l);
    ProtobufCMessage *copy = l ? bo_zalloc(r, a, rq->descriptor->sizeof_message) : NULL;
    if (!copy)
        return false;
    memcpy(copy, rq, rq->descriptor->sizeof_message);
    *(uint32_t *)s_field(copy, "limit") = (uint32_t)def->page_n;
    *l = (list_t){.prev = r->cont_arg,
                  .acct = a,
                  .bus = bus,
                  .def = def,
                  .rq = copy,
                  .then = then,
                  .failed = failed};
    r->cont_arg = l;
    return s_list_page(r, l);
}

void
bo_refused(web_req_t *r, const bo_account_t *acct, int code, const char *not_found_key)
{
    bo_refused_as(r, acct, code, not_found_key, "bo_err_conflict", "bo_err_refused");
}

void
bo_refused_as(web_req_t *r, const bo_account_t *acct, int code, const char *not_found_key,
              const char *conflict_key, const char *invalid_key)
{
    if (code == KUMPPANI__V1__CODE__CODE_NOT_FOUND)
        bo_error(r, acct, 404, not_found_key);
    else if (code == KUMPPANI__V1__CODE__CODE_CONFLICT)
        bo_error(r, acct, 409, conflict_key);
    else if (code == KUMPPANI__V1__CODE__CODE_INVALID)
        bo_error(r, acct, 400, invalid_key);
    else
        bo_error(r, acct, 503, "err_unavailable");
}

void
bo_missing(web_req_t *r, const bo_account_t *acct, bool missing, const char *not_found_key)
{
    if (missing)
        bo_error(r, acct, 404, not_found_key);
    else
        bo_error(r, acct, 503, "err_unavailable");
}

/* ---- the municipality filter ------------------------------------------------------------ */

void
bo_munis_choice(web_req_t *r, web_tv_t *root, const bo_account_t *acct, const char *muni)
{
    kp_arena_t *a = r->arena;
    web_tv_t *ml = web_tv_list(a, root, "munis");
    if (acct->role != BO_ROLE(MUNICIPAL)) {
        web_tv_str(a, root, "muni", muni);
        return;
    }
    web_tv_bool(a, root, "munis_select", true);
    for (size_t i = 0; i < acct->n_municipalities; i++) {
        web_tv_t *it = web_tv_item(a, ml);
        web_tv_str(a, it, "code", acct->municipalities[i]);
        web_tv_bool(a, it, "selected", strcmp(acct->municipalities[i], muni) == 0);
    }
}

bool
bo_muni_filter(web_req_t *r, const bo_account_t *acct, const char **muni, const char *action)
{
    if (acct->role != BO_ROLE(MUNICIPAL))
        return true;
    if (!*muni && acct->n_municipalities)
        *muni = acct->municipalities[0];
    return bo_muni_allowed(r, acct, *muni, action);
}

bool
bo_muni_allowed(web_req_t *r, const bo_account_t *acct, const char *m, const char *action)
{
    if (bo_muni_ok(acct, m))
        return true;
    char obj[32];
    snprintf(obj, sizeof obj, "municipality=%.3s", m ? m : "");
    bo_forbidden(r, acct, action, obj);
    return false;
}

void
bo_pg_home(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (a)
        web_page(r, 200, "bo_home", bo_root(r, a, "bo_home_title"));
}

/* ---- accounts ---------------------------------------------------------------------------- */

/* A page's list filled by a walk over the store (the accounts, the audit): an item a record;
 * now_ms is the turn's time (an account's lock). */
typedef struct {
    web_req_t *r;
    web_tv_t *list;
    int64_t now_ms;
    unsigned left; /* the audit: entries still to show */
} walk_t;

static int
s_acc_one(void *arg, void *rec)
{
    walk_t *l = arg;
    const bo_account_t *a = rec;
    kp_arena_t *ar = l->r->arena;
    web_tv_t *it = web_tv_item(ar, l->list);
    web_tv_strf(ar, it, "id", "%llu", (unsigned long long)a->id);
    web_tv_str(ar, it, "user", a->user);
    web_tv_str(ar, it, "role", web_text(l->r, bo_role_key(a->role)));
    web_join(l->r, it, "municipalities", a->municipalities, a->n_municipalities, "–");
    web_tv_bool(ar, it, "locked", a->locked_until_ms > l->now_ms);
    web_tv_bool(ar, it, "disabled", a->disabled);
    return 0;
}

/* The role a refused form sent (its field role: "1".."3"), or 0 (none chosen). */
static int
s_role_sent(web_req_t *r)
{
    const char *sel = web_field(r, "role");
    return sel && sel[0] >= '1' && sel[0] <= '3' && !sel[1] ? sel[0] - '0' : 0;
}

static void
s_accounts(web_req_t *r, const bo_account_t *a, unsigned status, const char *err, const char *field,
           uint64_t added, const char *done)
{
    web_tv_t *root = bo_root(r, a, "bo_accounts_title");
    kp_arena_t *ar = r->arena;
    walk_t l = {r, web_tv_list(ar, root, "accounts"), 0, 0};
    kp_tx_t tx;
    if (web_tx(r, &tx) || (l.now_ms = tx.now_ms, bo_accounts_each(&tx, s_acc_one, &l)) < 0) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    if (err) {
        bo_field_error(r, root, err, field);
        web_tv_str(ar, root, "v_user", web_field(r, "user"));
        web_tv_str(ar, root, "v_munis", web_field(r, "municipalities"));
    }
    if (added)
        web_tv_strf(ar, root, "added", "%llu", (unsigned long long)added);
    if (done)
        web_tv_str(ar, root, "done", web_text(r, done));
    web_choices(r, web_tv_list(ar, root, "roles"), "bo_role_", 3, NULL, err ? s_role_sent(r) : 0);
    web_page(r, status, "bo_accounts", root);
}

void
bo_pg_accounts(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a =
        bo_require_role(r, BO_R(REGIONAL), r->post ? "web.account.add" : "office.accounts", "");
    if (!a)
        return;
    if (!r->post) {
        s_accounts(r, a, 200, NULL, NULL, 0, NULL);
        return;
    }
    uint64_t id = 0;
    const char *field = NULL;
    const char *err = bo_account_add_form(r, a, &id, &field);
    if (err && strcmp(err, "err_unavailable") == 0) {
        bo_error(r, a, 503, err);
        return;
    }
    if (err) {
        s_accounts(r, a, 400, err, field, 0, NULL);
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)id);
    bo_audit(r, a->id, "web.account.add", obj, "ok");
    s_accounts(r, a, 200, NULL, NULL, id, NULL);
}

/* ---- an account's page: role and municipalities, disable or enable, remove ---------------- */

/* The page of account t (the regional coordinator a manages it). done/err: text keys. */
static void
s_account(web_req_t *r, const bo_account_t *a, const bo_account_t *t, unsigned status,
          const char *done, const char *err, const char *field)
{
    web_tv_t *root = bo_root(r, a, "bo_acc_title");
    kp_arena_t *ar = r->arena;
    web_tv_t *o = web_tv_obj(ar, root, "account");
    web_tv_strf(ar, o, "id", "%llu", (unsigned long long)t->id);
    web_tv_str(ar, o, "user", t->user);
    web_tv_str(ar, o, "role", web_text(r, bo_role_key(t->role)));
    web_tv_bool(ar, o, "disabled", t->disabled);
    web_tv_bool(ar, o, "self", t->id == a->id);
    web_join(r, o, "municipalities", t->municipalities, t->n_municipalities, "");
    /* the scope form's (field_scope.html): the account's, or after its refusal the values sent */
    bool sent = field && (strcmp(field, "role") == 0 || strcmp(field, "municipalities") == 0);
    web_tv_str(ar, o, "v_munis",
               sent ? web_field(r, "municipalities") : web_tv_get(o, "municipalities"));
    if (done)
        web_tv_str(ar, root, "done", web_text(r, done));
    if (err)
        bo_field_error(r, root, err, field);
    web_choices(r, web_tv_list(ar, root, "roles"), "bo_role_", 3, NULL,
                sent ? s_role_sent(r) : (int)t->role);
    web_page(r, status, "bo_account", root);
}

/* The signed-in regional coordinator and the account of the path, or NULL after answering
 * (403 audited as method, 404, 503). */
static bo_account_t *
s_target(web_req_t *r, const char *arg, const char *method, bo_account_t **by, kp_tx_t *tx)
{
    uint64_t id = web_parse_id(arg);
    char obj[32] = "";
    if (id)
        snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)id);
    bo_account_t *a = bo_require_role(r, BO_R(REGIONAL), method, obj);
    if (!a)
        return NULL;
    bo_account_t *t = NULL;
    bool found = false;
    if (web_tx(r, tx) || (id && bo_account_get(tx, id, &t, &found))) {
        bo_error(r, a, 503, "err_unavailable");
        return NULL;
    }
    if (!found) {
        bo_error(r, a, 404, "bo_err_no_account");
        return NULL;
    }
    *by = a;
    return t;
}

void
bo_pg_account(web_req_t *r, const char *arg)
{
    bo_account_t *a, *t;
    kp_tx_t tx;
    if ((t = s_target(r, arg, "office.accounts", &a, &tx)))
        s_account(r, a, t, 200, NULL, NULL, NULL);
}

static void
s_change(web_req_t *r, const char *arg, bo_change_t op)
{
    bo_account_t *a, *t;
    kp_tx_t tx;
    const char *method = bo_change_method(op);
    if (!(t = s_target(r, arg, method, &a, &tx)))
        return;
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)t->id);
    if (op == BO_REMOVE && !web_field(r, "confirm")) {
        s_account(r, a, t, 400, NULL, "bo_err_remove_confirm", "confirm");
        return;
    }
    int rc = bo_account_change(&tx, t, op);
    if (rc == BO_LAST) {
        bo_audit(r, a->id, method, obj, "refused");
        s_account(r, a, t, 409, NULL, "bo_err_last_regional",
                  op == BO_REMOVE ? "confirm" : "state");
        return;
    }
    if (rc) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    bo_audit(r, a->id, method, obj, "ok");
    kp_log_info("office.account", "by=%llu %s change=%s", (unsigned long long)a->id, obj, method);
    if (t->id == a->id && op != BO_ENABLE) {
        /* One's own account: the session has just ended with it. */
        web_redirect(r, "/office/sign-in");
        return;
    }
    if (op == BO_REMOVE) {
        s_accounts(r, a, 200, NULL, NULL, 0, "bo_acc_done_removed");
        return;
    }
    s_account(r, a, t, 200, op == BO_DISABLE ? "bo_acc_done_disabled" : "bo_acc_done_enabled", NULL,
              NULL);
}

void
bo_pg_account_change(web_req_t *r, const char *arg)
{
    s_change(r, arg, (bo_change_t)r->route_op);
}

void
bo_pg_account_scope(web_req_t *r, const char *arg)
{
    bo_account_t *a, *t;
    kp_tx_t tx;
    if (!(t = s_target(r, arg, "office.account.scope", &a, &tx)))
        return;
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)t->id);
    const char *role = web_field(r, "role");
    int rl = role && strlen(role) == 1 ? role[0] - '0' : 0;
    char codes[64][4];
    int n = bo_munis_parse(web_field(r, "municipalities"), codes, 64);
    char **mv = kp_arena_alloc(r->arena, 64 * sizeof(char *));
    for (int i = 0; mv && i < n; i++)
        mv[i] = kp_arena_memdup(r->arena, codes[i], 4);
    if (!mv) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    int rc = n < 0 ? -3 : bo_account_scope(&tx, t, rl, mv, (size_t)n);
    if (rc == BO_LAST) {
        bo_audit(r, a->id, "office.account.scope", obj, "refused");
        s_account(r, a, t, 409, NULL, "bo_err_last_regional", "role");
        return;
    }
    if (rc == -2 || rc == -3) {
        s_account(r, a, t, 400, NULL, rc == -2 ? "bo_err_role" : "bo_err_munis",
                  rc == -2 ? "role" : "municipalities");
        return;
    }
    if (rc) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    bo_audit(r, a->id, "office.account.scope", obj, "ok");
    s_account(r, a, t, 200, "bo_acc_done_scope", NULL, NULL);
}

/* ---- the audit --------------------------------------------------------------------------- */

static int
s_audit_one(void *arg, void *rec)
{
    walk_t *l = arg;
    const Kumppani__V1__OfficeAudit *e = rec;
    if (l->left-- == 0)
        return 1;
    kp_arena_t *ar = l->r->arena;
    web_tv_t *it = web_tv_item(ar, l->list);
    char buf[128];
    web_tv_time(l->r, it, "at", e->at_ms / 1000);
    kp_time_iso(e->at_ms / 1000, buf, sizeof buf);
    web_tv_str(ar, it, "at_iso", buf);
    web_tv_strf(ar, it, "account", "%llu", (unsigned long long)e->account_id);
    web_tv_str(ar, it, "action", e->action);
    web_tv_str(ar, it, "object", e->object[0] ? e->object : "–");
    web_tv_str(ar, it, "outcome", e->outcome);
    web_tv_textf(l->r, it, "outcome_text", "bo_outcome_%s", e->outcome);
    web_tv_bool(ar, it, "denied", strcmp(e->outcome, "denied") == 0);
    return 0;
}

void
bo_pg_audit(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require_role(r, BO_R(REGIONAL), "office.audit", "");
    if (!a)
        return;
    web_tv_t *root = bo_root(r, a, "bo_audit_title");
    kp_tx_t tx;
    walk_t l = {r, web_tv_list(r->arena, root, "entries"), 0, AUDIT_MAX};
    if (web_tx(r, &tx) || bo_audit_each_rev(&tx, s_audit_one, &l) < 0) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    web_page(r, 200, "bo_audit", root);
}
