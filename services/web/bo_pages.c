/*  web/bo_pages.c: the back office's home page, the accounts page (regional coordinator: the
 *  list and the form that adds an account) and the audit page (regional coordinator: the
 *  newest changes first, by account id, method and object ids). */
#include "bo.h"
#include "kp_log.h"
#include "kp_time.h"

#include <stdio.h>
#include <string.h>

#define AUDIT_MAX 300

/* ---- bus calls of office pages ----------------------------------------------------------- */

bool
bo_call(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const char *method,
        const ProtobufCMessage *body, const char *idem, web_bus_cb cb)
{
    if (!bus || web_bus_call(bus, method, body, idem, cb, r) != 0) {
        bo_error(r, a, 503, "err_unavailable");
        return false;
    }
    if (!r->suspended)
        web_suspend(r);
    return true;
}

void
bo_finish(web_req_t *r)
{
    if (r->suspended)
        web_resume(r);
}

int
bo_code(const Kumppani__V1__Reply *rep)
{
    return rep && rep->status ? (int)rep->status->code : -1;
}

void
bo_pg_home(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    web_page(r, 200, "bo_home", bo_root(r, a, "bo_home_title"));
}

/* ---- accounts ---------------------------------------------------------------------------- */

typedef struct {
    web_req_t *r;
    web_tv_t *list;
    int64_t now_ms;
} acc_list_t;

static int
s_acc_one(void *arg, bo_account_t *a)
{
    acc_list_t *l = arg;
    kp_arena_t *ar = l->r->arena;
    web_tv_t *it = web_tv_item(ar, l->list);
    web_tv_strf(ar, it, "id", "%llu", (unsigned long long)a->id);
    web_tv_str(ar, it, "user", a->user);
    web_tv_str(ar, it, "role", web_text(l->r, bo_role_key(a->role)));
    web_buf_t m = {.max = 1024};
    for (size_t i = 0; i < a->n_municipalities; i++) {
        web_buf_adds(&m, i ? ", " : "");
        web_buf_adds(&m, a->municipalities[i]);
    }
    web_tv_str(ar, it, "municipalities", m.p ? m.p : "–");
    web_buf_free(&m);
    web_tv_bool(ar, it, "locked", a->locked_until_ms > l->now_ms);
    return 0;
}

static void
s_accounts(web_req_t *r, const bo_account_t *a, unsigned status, const char *err, const char *field,
           uint64_t added)
{
    web_tv_t *root = bo_root(r, a, "bo_accounts_title");
    kp_arena_t *ar = r->arena;
    acc_list_t l = {r, web_tv_list(ar, root, "accounts"), 0};
    kp_tx_t tx;
    if (web_tx(r, &tx) || (l.now_ms = tx.now_ms, bo_accounts_each(&tx, s_acc_one, &l)) < 0) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    if (err) {
        web_tv_str(ar, root, "error", web_text(r, err));
        web_tv_str(ar, root, "error_field", field);
        web_tv_str(ar, web_tv_obj(ar, root, "err"), field, web_text(r, err));
        web_tv_str(ar, root, "v_user", web_field(r, "user"));
        web_tv_str(ar, root, "v_munis", web_field(r, "municipalities"));
    }
    if (added)
        web_tv_strf(ar, root, "added", "%llu", (unsigned long long)added);
    const char *sel = err ? web_field(r, "role") : NULL;
    web_tv_t *roles = web_tv_list(ar, root, "roles");
    for (int i = 1; i <= 3; i++) {
        web_tv_t *it = web_tv_item(ar, roles);
        web_tv_strf(ar, it, "value", "%d", i);
        web_tv_str(ar, it, "name", web_text(r, bo_role_key(i)));
        web_tv_bool(ar, it, "selected", sel && sel[0] == '0' + i && !sel[1]);
    }
    web_page(r, status, "bo_accounts", root);
}

void
bo_pg_accounts(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    if (!bo_role_ok(a, BO_R(REGIONAL))) {
        bo_forbidden(r, a, "office.accounts", "");
        return;
    }
    s_accounts(r, a, 200, NULL, NULL, 0);
}

void
bo_pg_account_add(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    if (!bo_role_ok(a, BO_R(REGIONAL))) {
        bo_forbidden(r, a, "web.account.add", "");
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
        s_accounts(r, a, 400, err, field, 0);
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)id);
    bo_audit(r, a->id, "web.account.add", obj, "ok");
    s_accounts(r, a, 200, NULL, NULL, id);
}

/* ---- the audit --------------------------------------------------------------------------- */

typedef struct {
    web_req_t *r;
    kp_tx_t *tx;
    web_tv_t *list;
} audit_list_t;

static int
s_audit_one(void *arg, Kumppani__V1__OfficeAudit *e)
{
    audit_list_t *l = arg;
    kp_arena_t *ar = l->r->arena;
    web_tv_t *it = web_tv_item(ar, l->list);
    char buf[128];
    web_time_text(l->r, e->at_ms / 1000, buf, sizeof buf);
    web_tv_str(ar, it, "at", buf);
    kp_time_iso(e->at_ms / 1000, buf, sizeof buf);
    web_tv_str(ar, it, "at_iso", buf);
    web_tv_strf(ar, it, "account", "%llu", (unsigned long long)e->account_id);
    web_tv_str(ar, it, "action", e->action);
    web_tv_str(ar, it, "object", e->object[0] ? e->object : "–");
    web_tv_str(ar, it, "outcome", e->outcome);
    char key[48];
    snprintf(key, sizeof key, "bo_outcome_%s", e->outcome);
    web_tv_str(ar, it, "outcome_text", web_text(l->r, key));
    web_tv_bool(ar, it, "denied", strcmp(e->outcome, "denied") == 0);
    return 0;
}

void
bo_pg_audit(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    if (!bo_role_ok(a, BO_R(REGIONAL))) {
        bo_forbidden(r, a, "office.audit", "");
        return;
    }
    web_tv_t *root = bo_root(r, a, "bo_audit_title");
    kp_tx_t tx;
    audit_list_t l = {r, &tx, web_tv_list(r->arena, root, "entries")};
    if (web_tx(r, &tx) || bo_audit_each_rev(&tx, AUDIT_MAX, s_audit_one, &l) < 0) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    web_page(r, 200, "bo_audit", root);
}
