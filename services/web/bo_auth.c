/*  web/bo_auth.c: the back office's accounts, sign-in, sessions, roles and audit.
 *
 *  Passwords: libsodium crypto_pwhash_str (Argon2id) with the interactive limits, checked with
 *  crypto_pwhash_str_verify (and rehashed at sign-in if the limits were raised). A sign-in
 *  name that does not exist is checked against a dummy hash made at start, so the answer takes
 *  as long as for a wrong password and says the same.
 *
 *  Lockout: BO_FAILS_MAX failed sign-ins of an account in a row lock it for BO_LOCK_MS on the
 *  service clock (the test clock included); a locked account is refused without its password
 *  being checked, and the refusal says that it is locked and for how long.
 *
 *  Sessions: a signed-in browser holds a random cookie (32 bytes, base64url) named kp_session,
 *  or __Host-kp_session with Secure when secure-cookies is on (behind the TLS proxy); always
 *  Path=/, HttpOnly, SameSite=Strict. On plain loopback HTTP (development, tests) the cookie
 *  cannot be Secure, since the browser would not send it back. The store keys a session by
 *  SHA-256 of its cookie. A sign-in always makes a new session (and a new CSRF cookie), so a
 *  cookie planted before the sign-in never becomes a signed-in one (session fixation); the
 *  cookie sent with the sign-in is deleted. Sign-out deletes the session; sign-out everywhere
 *  raises the account's session epoch, which revokes every session made before.
 *
 *  Lifecycle: a disabled account's sessions end (its epoch rises) and it cannot sign in; enabled
 *  again, it signs in afresh. A removed account is deleted with its name and sessions. The last
 *  enabled regional account can be neither disabled, removed nor given another role, so the
 *  region always keeps someone who manages accounts. A password change needs the current one
 *  and ends every other session of the account.
 *
 *  Audit: bo_audit writes an OfficeAudit in the request's turn: account id, the action (a bus
 *  method or office.*) and object ids, never a name or a value typed into a form. */
#include "bo.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_pbcopy.h"
#include "kp_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define B64CH "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static char s_dummy_hash[crypto_pwhash_STRBYTES];

/* ---- small rules ------------------------------------------------------------------------- */

bool
bo_user_ok(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    return n >= 3 && n <= 64 && strspn(u, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int
bo_munis_parse(const char *list, char codes[][4], int max)
{
    int n = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strspn(p, "0123456789");
        if (len != 3 || (p[3] && p[3] != ',' && p[3] != ' ') || n == max)
            return -1;
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= memcmp(codes[i], p, 3) == 0;
        if (!dup) {
            memcpy(codes[n], p, 3);
            codes[n++][3] = 0;
        }
        p += 3;
    }
    return n;
}

int
bo_password_hash(const char *pw, char *out)
{
    return crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : KP_ENOMEM;
}

const char *
bo_role_key(int role)
{
    /* The keys are named by the OfficeRole values (web.proto). */
    static const char *const k[] = {"bo_role_0", "bo_role_1", "bo_role_2", "bo_role_3"};
    return role > 0 && role <= BO_ROLE(EXPERT) ? k[role] : k[0];
}

bool
bo_role_ok(const bo_account_t *acct, unsigned roles)
{
    return acct && acct->role > 0 && acct->role < 32 && (roles & (1u << acct->role));
}

bool
bo_muni_ok(const bo_account_t *acct, const char *m)
{
    if (!acct || !m)
        return false;
    if (acct->role == BO_ROLE(REGIONAL))
        return true;
    if (acct->role != BO_ROLE(MUNICIPAL))
        return false;
    for (size_t i = 0; i < acct->n_municipalities; i++)
        if (strcmp(acct->municipalities[i], m) == 0)
            return true;
    return false;
}

/* ---- accounts ---------------------------------------------------------------------------- */

typedef struct {
    const char *field, *bus, *text; /* the field, the bus's rule, the page's text key */
} acc_err_t;

static const acc_err_t s_acc_errs[] = {
    {"user", "3..64 of a-z, 0-9, '.', '_' and '-'", "bo_err_user"},
    {"role", "regional, municipal or expert", "bo_err_role"},
    {"municipalities", "three-digit codes, at least one for a municipal account", "bo_err_munis"},
    {"password", "12..256 characters", "bo_err_password"},
    {"user", "taken", "bo_err_user_taken"},
};

/* The rule of an account's role and municipalities, the same at creation and at a change:
 * 0, -2 (the role) or -3 (the municipalities: three-digit codes, at least one for a
 * municipal account, at most 64). */
static int
s_scope_rule(int role, char **munis, size_t munis_n)
{
    if (role < BO_ROLE(REGIONAL) || role > BO_ROLE(EXPERT))
        return -2;
    if (munis_n > 64 || (role == BO_ROLE(MUNICIPAL) && munis_n == 0))
        return -3;
    for (size_t i = 0; i < munis_n; i++)
        if (!kp_is_muni_code(munis[i]))
            return -3;
    return 0;
}

/* Checks and stores a new account. Returns 0 (a->id set), -1 - the index of an s_acc_errs
 * rule that failed (nothing written), or a KP code. */
static int
s_account_new(kp_tx_t *tx, const char *user, int role, char **munis, size_t munis_n, const char *pw,
              uint64_t by, bo_account_t *a)
{
    if (!bo_user_ok(user))
        return -1;
    int rc = s_scope_rule(role, munis, munis_n);
    if (rc)
        return rc;
    size_t pn = pw ? kp_text_chars(pw) : 0;
    if (pn < BO_PASSWORD_MIN || pn > BO_PASSWORD_MAX || strlen(pw) > 1024)
        return -4;
    bo_account_t *old;
    bool found;
    rc = bo_account_by_user(tx, user, &old, &found);
    if (rc)
        return rc;
    if (found)
        return -5;
    char *hash = kp_arena_alloc(tx->arena, crypto_pwhash_STRBYTES);
    if (!hash)
        return KP_ENOMEM;
    if ((rc = bo_password_hash(pw, hash)))
        return rc;
    kumppani__v1__office_account__init(a);
    a->user = (char *)user;
    a->role = role;
    a->municipalities = munis;
    a->n_municipalities = munis_n;
    a->password_hash = hash;
    a->created_ms = tx->now_ms;
    a->created_by = by;
    a->session_epoch = 1;
    rc = bo_account_put(tx, a);
    if (rc == BO_TAKEN)
        rc = -5;
    sodium_memzero(hash, crypto_pwhash_STRBYTES);
    return rc;
}

static void
s_audit_tx(kp_tx_t *tx, uint64_t account_id, const char *action, const char *object,
           const char *outcome)
{
    Kumppani__V1__OfficeAudit e = KUMPPANI__V1__OFFICE_AUDIT__INIT;
    e.at_ms = tx->now_ms;
    e.account_id = account_id;
    e.action = (char *)action;
    e.object = (char *)(object ? object : "");
    e.outcome = (char *)outcome;
    if (bo_audit_add(tx, &e) == 0)
        kp_log_info("office.audit", "audit=%llu account=%llu action=%s object=\"%s\" outcome=%s",
                    (unsigned long long)e.id, (unsigned long long)account_id, action, e.object,
                    outcome);
}

/* Answers a method with the account as it is (OfficeAccountReply holds the fields of the
 * account that are not secret, under the same names). */
static void
s_reply_account(kp_call_t *call, const bo_account_t *a)
{
    Kumppani__V1__OfficeAccountReply rep = KUMPPANI__V1__OFFICE_ACCOUNT_REPLY__INIT;
    kp_pbcopy_shared(&rep.base, &a->base);
    kp_call_ok(call, &rep.base);
}

void
bo_h_account_add(kp_call_t *call, void *svc)
{
    const Kumppani__V1__AddOfficeAccountRequest *rq = kp_call_body(call);
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    bo_account_t a;
    int rc = s_account_new(&tx, rq->user, (int)rq->role, rq->municipalities, rq->n_municipalities,
                           rq->password, 0, &a);
    if (rc < 0 && rc >= -5) {
        const acc_err_t *e = &s_acc_errs[-rc - 1];
        kp_call_fail(call, rc == -5 ? C(CONFLICT) : C(INVALID), "field '%s': %s", e->field, e->bus);
        return;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a.id);
    s_audit_tx(&tx, 0, "web.account.add", obj, "ok");
    s_reply_account(call, &a);
}

/* ---- an account's lifecycle ------------------------------------------------------------- */

typedef struct {
    uint64_t except;
    unsigned n;
} regional_n_t;

static int
s_regional_one(void *arg, void *rec)
{
    regional_n_t *c = arg;
    const bo_account_t *a = rec;
    c->n += a->id != c->except && a->role == BO_ROLE(REGIONAL) && !a->disabled;
    return 0;
}

/* True in *last when a is an enabled regional account and no other one is left: disabling,
 * removing or demoting it would leave the region without anyone who can manage accounts. */
static int
s_last_regional(kp_tx_t *tx, const bo_account_t *a, bool *last)
{
    *last = false;
    if (a->role != BO_ROLE(REGIONAL) || a->disabled)
        return 0;
    regional_n_t c = {a->id, 0};
    int rc = bo_accounts_each(tx, s_regional_one, &c);
    if (rc < 0)
        return rc;
    *last = c.n == 0;
    return 0;
}

const char *
bo_change_method(bo_change_t op)
{
    return op == BO_DISABLE  ? "web.account.disable"
           : op == BO_ENABLE ? "web.account.enable"
                             : "web.account.remove";
}

int
bo_account_change(kp_tx_t *tx, bo_account_t *a, bo_change_t op)
{
    bool last = false;
    int rc;
    if (op != BO_ENABLE && (rc = s_last_regional(tx, a, &last)))
        return rc;
    if (last)
        return BO_LAST;
    switch (op) {
    case BO_DISABLE:
        /* The epoch rises, so every session of the account is refused from its next request
         * on, and stays so after the account is enabled again. */
        if (!a->disabled)
            a->session_epoch++;
        a->disabled = true;
        return bo_account_put(tx, a);
    case BO_ENABLE:
        a->disabled = false;
        a->failures = 0;
        a->locked_until_ms = 0;
        return bo_account_put(tx, a);
    case BO_REMOVE:
        return bo_account_del(tx, a);
    }
    return KP_EINVAL;
}

int
bo_account_scope(kp_tx_t *tx, bo_account_t *a, int role, char **munis, size_t munis_n)
{
    int rc = s_scope_rule(role, munis, munis_n);
    if (rc)
        return rc;
    bool last = false;
    if (role != BO_ROLE(REGIONAL) && (rc = s_last_regional(tx, a, &last)))
        return rc;
    if (last)
        return BO_LAST;
    a->role = role;
    a->municipalities = munis;
    a->n_municipalities = munis_n;
    return bo_account_put(tx, a);
}

void
bo_h_account_change(kp_call_t *call, void *svc)
{
    bo_change_t op = (bo_change_t)kp_call_op(call);
    const Kumppani__V1__OfficeAccountRefRequest *rq = kp_call_body(call);
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    bo_account_t *a = NULL;
    bool found = false;
    int rc;
    if (rq->user[0])
        rc = bo_user_ok(rq->user) ? bo_account_by_user(&tx, rq->user, &a, &found) : 0;
    else if (rq->id)
        rc = bo_account_get(&tx, rq->id, &a, &found);
    else {
        kp_call_fail(call, C(INVALID), "field 'user': give a sign-in name (or field 'id')");
        return;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "field '%s': no such account",
                     rq->user[0] ? "user" : "id");
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a->id);
    rc = bo_account_change(&tx, a, op);
    if (rc == BO_LAST) {
        /* Logged, not audited: a failed call writes nothing (kp_call_fail after a write would
         * abandon the turn), and the refusal changed nothing. */
        kp_log_info("office.refused", "method=%s %s what=\"the last regional account\"",
                    bo_change_method(op), obj);
        kp_call_fail(call, C(CONFLICT),
                     "field 'user': the last enabled regional account cannot be disabled or "
                     "removed; add or enable another regional account first");
        return;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_audit_tx(&tx, 0, bo_change_method(op), obj, "ok");
    s_reply_account(call, a);
}

const kp_method_t web_methods[] = {
    KP_METHOD("web.account.add", KP_ROLE_ADMIN, add_office_account_request, bo_h_account_add),
    KP_METHOD_OP("web.account.disable", KP_ROLE_ADMIN, office_account_ref_request,
                 bo_h_account_change, BO_DISABLE),
    KP_METHOD_OP("web.account.enable", KP_ROLE_ADMIN, office_account_ref_request,
                 bo_h_account_change, BO_ENABLE),
    KP_METHOD_OP("web.account.remove", KP_ROLE_ADMIN, office_account_ref_request,
                 bo_h_account_change, BO_REMOVE),
};
const unsigned web_methods_n = sizeof web_methods / sizeof web_methods[0];

const char *
bo_account_add_form(web_req_t *r, const bo_account_t *by, uint64_t *id, const char **field)
{
    const char *user = web_field(r, "user"), *role = web_field(r, "role"),
               *munis = web_field(r, "municipalities"), *pw = web_field(r, "password");
    char codes[64][4];
    int n = bo_munis_parse(munis, codes, 64);
    int rl = role && strlen(role) == 1 ? role[0] - '0' : 0;
    kp_tx_t tx;
    int rc = web_tx(r, &tx);
    if (rc)
        return "err_unavailable";
    char **mv = kp_arena_alloc(r->arena, 64 * sizeof(char *));
    for (int i = 0; mv && i < n; i++)
        mv[i] = kp_arena_memdup(r->arena, codes[i], 4);
    bo_account_t a;
    rc = n < 0 ? -3 : s_account_new(&tx, user ? user : "", rl, mv, (size_t)n, pw, by->id, &a);
    if (rc < 0 && rc >= -5) {
        *field = s_acc_errs[-rc - 1].field;
        return s_acc_errs[-rc - 1].text;
    }
    if (rc)
        return "err_unavailable";
    *id = a.id;
    return NULL;
}

/* ---- audit, refusals, pages -------------------------------------------------------------- */

void
bo_audit(web_req_t *r, uint64_t account_id, const char *action, const char *object,
         const char *outcome)
{
    kp_tx_t tx;
    if (web_tx(r, &tx) == 0)
        s_audit_tx(&tx, account_id, action, object, outcome);
}

web_tv_t *
bo_root(web_req_t *r, const bo_account_t *acct, const char *title_key)
{
    kp_arena_t *a = r->arena;
    web_tv_t *root = web_root(r, title_key);
    if (!acct)
        return root;
    web_tv_t *o = web_tv_obj(a, root, "office");
    web_tv_str(a, o, "user", acct->user);
    web_tv_str(a, o, "role", web_text(r, bo_role_key(acct->role)));
    web_join(r, o, "municipalities", acct->municipalities, acct->n_municipalities, NULL);
    web_tv_bool(a, o, "regional", acct->role == BO_ROLE(REGIONAL));
    web_tv_bool(a, o, "events", bo_role_ok(acct, BO_R(REGIONAL) | BO_R(MUNICIPAL)));
    web_tv_bool(a, o, "broker", bo_role_ok(acct, BO_R(REGIONAL) | BO_R(EXPERT)));
    return root;
}

void
bo_error(web_req_t *r, const bo_account_t *acct, unsigned status, const char *msg_key)
{
    web_tv_t *root = bo_root(r, acct, "err_title");
    web_tv_strf(r->arena, root, "status", "%u", status);
    web_tv_str(r->arena, root, "message", web_text(r, msg_key));
    web_page(r, status, "bo_error", root);
}

void
bo_field_error(web_req_t *r, web_tv_t *root, const char *err, const char *field)
{
    kp_arena_t *ar = r->arena;
    web_tv_str(ar, root, "error", web_text(r, err));
    web_tv_str(ar, root, "error_field", field);
    web_tv_str(ar, web_tv_obj(ar, root, "err"), field, web_text(r, err));
}

void
bo_forbidden(web_req_t *r, const bo_account_t *acct, const char *action, const char *object)
{
    bo_audit(r, acct ? acct->id : 0, action, object, "denied");
    bo_error(r, acct, 403, "bo_err_forbidden");
}

bool
bo_changed(web_req_t *r, const bo_account_t *acct, int code, const char *method, const char *obj,
           const char *fmt, ...)
{
    if (code != KUMPPANI__V1__CODE__CODE_OK)
        return false;
    bo_audit(r, acct->id, method, obj, "ok");
    va_list ap;
    va_start(ap, fmt);
    web_redirect_v(r, fmt, ap);
    va_end(ap);
    return true;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static const char *
s_cookie_name(const web_svc_t *svc)
{
    return svc->secure_cookies ? "__Host-kp_session" : "kp_session";
}

/* The session cookie sent with r (well-formed), or NULL. */
static const char *
s_cookie(web_req_t *r)
{
    const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, s_cookie_name(r->svc));
    return c && strlen(c) == WEB_COOKIE_LEN && strspn(c, B64CH) == WEB_COOKIE_LEN ? c : NULL;
}

static void
s_key(const char *cookie, unsigned char key[32])
{
    crypto_hash_sha256(key, (const unsigned char *)cookie, strlen(cookie));
}

static void
s_set_cookie(web_req_t *r, const char *value, bool clear)
{
    const web_svc_t *svc = r->svc;
    char *h = kp_arena_alloc(r->arena, 200);
    if (!h)
        return;
    snprintf(h, 200, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", s_cookie_name(svc),
             clear ? "" : value, clear ? "; Max-Age=0" : "", svc->secure_cookies ? "; Secure" : "");
    r->set_cookie = h;
}

/* A new session of a at its current epoch, never the one the browser came with (session
 * fixation): that one is deleted. Sets the session cookie and a new CSRF cookie on r. Returns 0
 * or a KP code. */
static int
s_session_new(web_req_t *r, kp_tx_t *tx, const bo_account_t *a)
{
    const char *old = s_cookie(r);
    unsigned char key[32];
    int rc;
    if (old) {
        s_key(old, key);
        if ((rc = bo_session_del(tx, key)))
            return rc;
    }
    char cookie[WEB_COOKIE_LEN + 1];
    web_token_random(cookie);
    s_key(cookie, key);
    Kumppani__V1__OfficeSession s = KUMPPANI__V1__OFFICE_SESSION__INIT;
    s.account_id = a->id;
    s.epoch = a->session_epoch;
    s.created_ms = tx->now_ms;
    s.expires_ms = tx->now_ms + (int64_t)r->svc->session_minutes * 60000;
    if ((rc = bo_session_put(tx, key, &s)) == 0) {
        web_token_random(r->csrf_cookie);
        r->new_csrf_cookie = true;
        s_set_cookie(r, cookie, false);
    }
    sodium_memzero(cookie, sizeof cookie);
    return rc;
}

/* The account of r's live session, or NULL. */
static bo_account_t *
s_signed_in(web_req_t *r, kp_tx_t *tx)
{
    const char *c = s_cookie(r);
    if (!c || web_tx(r, tx))
        return NULL;
    unsigned char key[32];
    s_key(c, key);
    Kumppani__V1__OfficeSession *s;
    bool found;
    if (bo_session_get(tx, key, &s, &found) || !found)
        return NULL;
    bo_account_t *a;
    if (s->expires_ms <= tx->now_ms || bo_account_get(tx, s->account_id, &a, &found) || !found ||
        a->disabled || a->session_epoch != s->epoch)
        return NULL;
    return a;
}

bo_account_t *
bo_require(web_req_t *r)
{
    kp_tx_t tx;
    bo_account_t *a = s_signed_in(r, &tx);
    if (!a) {
        if (r->post) {
            kp_log_info("office.refused", "route=%s what=\"not signed in\"", r->route);
            bo_error(r, NULL, 403, "bo_err_signed_out");
        } else
            web_redirect(r, "/office/sign-in");
        return NULL;
    }
    if (r->post && !web_csrf_check(r))
        return NULL;
    r->office = a;
    return a;
}

bo_account_t *
bo_require_role(web_req_t *r, unsigned roles, const char *action, const char *object)
{
    bo_account_t *a = bo_require(r);
    if (a && !bo_role_ok(a, roles)) {
        bo_forbidden(r, a, action, object);
        return NULL;
    }
    return a;
}

static void
s_sign_in_page(web_req_t *r, unsigned status, const char *err)
{
    web_tv_t *root = bo_root(r, NULL, "bo_sign_in_title");
    if (err)
        web_tv_str(r->arena, root, "error", web_text(r, err));
    if (r->post)
        web_tv_str(r->arena, root, "user", web_field(r, "user"));
    web_page(r, status, "bo_sign_in", root);
}

void
bo_pg_sign_in(web_req_t *r, const char *arg)
{
    (void)arg;
    kp_tx_t tx;
    if (s_signed_in(r, &tx)) {
        web_redirect(r, "/office");
        return;
    }
    s_sign_in_page(r, 200, NULL);
}

void
bo_pg_sign_in_post(web_req_t *r, const char *arg)
{
    (void)arg;
    if (!web_csrf_check(r))
        return;
    const char *user = web_field(r, "user"), *pw = web_field(r, "password");
    if (!user || !pw || strlen(user) > 64 || strlen(pw) > 1024) {
        s_sign_in_page(r, 400, "bo_err_sign_in");
        return;
    }
    kp_tx_t tx;
    bo_account_t *a = NULL;
    bool found = false;
    if (web_tx(r, &tx) || (bo_user_ok(user) && bo_account_by_user(&tx, user, &a, &found))) {
        web_error(r, 503, "err_unavailable");
        return;
    }
    if (found && a->locked_until_ms > tx.now_ms) {
        char obj[32];
        snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a->id);
        s_audit_tx(&tx, a->id, "office.sign_in", obj, "locked");
        s_sign_in_page(r, 429, "bo_err_locked");
        return;
    }
    bool ok =
        crypto_pwhash_str_verify(found ? a->password_hash : s_dummy_hash, pw, strlen(pw)) == 0 &&
        found && !a->disabled;
    if (!found) {
        s_audit_tx(&tx, 0, "office.sign_in", "", "failed");
        s_sign_in_page(r, 403, "bo_err_sign_in");
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a->id);
    if (!ok) {
        a->failures++;
        bool lock = a->failures >= BO_FAILS_MAX;
        if (lock) {
            a->failures = 0;
            a->locked_until_ms = tx.now_ms + BO_LOCK_MS;
        }
        if (bo_account_put(&tx, a)) {
            web_error(r, 503, "err_unavailable");
            return;
        }
        s_audit_tx(&tx, a->id, "office.sign_in", obj, lock ? "locked" : "failed");
        s_sign_in_page(r, lock ? 429 : 403, lock ? "bo_err_locked" : "bo_err_sign_in");
        return;
    }
    a->failures = 0;
    a->locked_until_ms = 0;
    char *rehash = NULL;
    if (crypto_pwhash_str_needs_rehash(a->password_hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0 &&
        (rehash = kp_arena_alloc(r->arena, crypto_pwhash_STRBYTES)) &&
        bo_password_hash(pw, rehash) == 0)
        a->password_hash = rehash;
    if (bo_account_put(&tx, a) || s_session_new(r, &tx, a) || bo_sessions_prune(&tx, 256)) {
        r->set_cookie = NULL;
        web_error(r, 503, "err_unavailable");
        return;
    }
    s_audit_tx(&tx, a->id, "office.sign_in", obj, "ok");
    web_redirect(r, "/office");
}

/* Ends this session, or with everywhere every session of the account (its epoch rises). */
static void
s_sign_out(web_req_t *r, bool everywhere)
{
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    kp_tx_t tx;
    unsigned char key[32];
    s_key(s_cookie(r), key);
    if (everywhere)
        a->session_epoch++;
    if (web_tx(r, &tx) || (everywhere && bo_account_put(&tx, a)) || bo_session_del(&tx, key)) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a->id);
    s_audit_tx(&tx, a->id, everywhere ? "office.sign_out_all" : "office.sign_out", obj, "ok");
    s_set_cookie(r, NULL, true);
    web_redirect(r, "/office/sign-in");
}

void
bo_pg_sign_out(web_req_t *r, const char *arg)
{
    (void)arg;
    s_sign_out(r, r->route_op == BO_EVERYWHERE);
}

/* ---- the own password ------------------------------------------------------------------- */

static void
s_password_page(web_req_t *r, const bo_account_t *a, unsigned status, const char *err,
                const char *field)
{
    web_tv_t *root = bo_root(r, a, "bo_pw_title");
    kp_arena_t *ar = r->arena;
    if (err)
        bo_field_error(r, root, err, field);
    else if (status == 200 && r->post)
        web_tv_bool(ar, root, "changed", true);
    web_page(r, status, "bo_password", root);
}

void
bo_pg_password(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (a)
        s_password_page(r, a, 200, NULL, NULL);
}

/* The current password is checked like a sign-in's: a wrong one counts towards the lockout,
 * and a locked account is refused without a check, so a borrowed session cannot be used to
 * guess the password. A change raises the session epoch (every other session of the account
 * ends) and gives this browser a new session and CSRF cookie. */
void
bo_pg_password_post(web_req_t *r, const char *arg)
{
    (void)arg;
    bo_account_t *a = bo_require(r);
    if (!a)
        return;
    const char *cur = web_field(r, "current"), *pw = web_field(r, "password"),
               *again = web_field(r, "password2");
    char obj[32];
    snprintf(obj, sizeof obj, "account=%llu", (unsigned long long)a->id);
    kp_tx_t tx;
    if (web_tx(r, &tx)) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    if (a->locked_until_ms > tx.now_ms) {
        s_audit_tx(&tx, a->id, "office.password", obj, "locked");
        s_password_page(r, a, 429, "bo_err_locked", "current");
        return;
    }
    if (!cur || strlen(cur) > 1024 ||
        crypto_pwhash_str_verify(a->password_hash, cur, strlen(cur)) != 0) {
        bool lock = ++a->failures >= BO_FAILS_MAX;
        if (lock) {
            a->failures = 0;
            a->locked_until_ms = tx.now_ms + BO_LOCK_MS;
        }
        if (bo_account_put(&tx, a)) {
            bo_error(r, a, 503, "err_unavailable");
            return;
        }
        s_audit_tx(&tx, a->id, "office.password", obj, lock ? "locked" : "failed");
        s_password_page(r, a, lock ? 429 : 403, lock ? "bo_err_locked" : "bo_err_pw_current",
                        "current");
        return;
    }
    size_t pn = pw ? kp_text_chars(pw) : 0;
    if (pn < BO_PASSWORD_MIN || pn > BO_PASSWORD_MAX || strlen(pw) > 1024) {
        s_password_page(r, a, 400, "bo_err_password", "password");
        return;
    }
    if (!again || strcmp(pw, again) != 0) {
        s_password_page(r, a, 400, "bo_err_pw_match", "password2");
        return;
    }
    char *hash = kp_arena_alloc(r->arena, crypto_pwhash_STRBYTES);
    if (!hash || bo_password_hash(pw, hash)) {
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    a->password_hash = hash;
    a->failures = 0;
    a->locked_until_ms = 0;
    a->session_epoch++;
    if (bo_account_put(&tx, a) || s_session_new(r, &tx, a)) {
        r->set_cookie = NULL;
        r->new_csrf_cookie = false;
        bo_error(r, a, 503, "err_unavailable");
        return;
    }
    sodium_memzero(hash, crypto_pwhash_STRBYTES);
    s_audit_tx(&tx, a->id, "office.password", obj, "ok");
    s_password_page(r, a, 200, NULL, NULL);
}

int
bo_init(void)
{
    char pw[WEB_COOKIE_LEN + 1];
    web_token_random(pw);
    return bo_password_hash(pw, s_dummy_hash);
}
