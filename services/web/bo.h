/*  web/bo.h: the coordinators' back office inside kumppani-web (pages under /office).
 *
 *  Anatomy:
 *    bo_store.c   accounts, sign-in names, sessions and the audit in the web's store
 *    bo_auth.c    passwords (Argon2id), sign-in and lockout, sessions and their cookie, sign-out
 *                 (everywhere), the roles' scope, the audit, the methods web.account.add,
 *                 .disable, .enable, .remove; an account's lifecycle; the own password page
 *    bo_pages.c   the home page, accounts (regional) and the audit page (regional); the bus
 *                 calls and the municipality filter every office page shares
 *    bo_events.c  events: list, create, publish, reschedule, cancel, participants, the door's
 *                 check-in and the exports, over the bus with the office key (role admin)
 *    bo_registry.c  organisation search and the coverage view (the registry)
 *    bo_broker.c  the broker's open requests and assignments
 *    bo_stats.c   statistics of events as SVG charts with their tables
 *    bo_sent.c    what the notifier sent (an address, an event), dead letters, opt-outs
 *    bo_orgs.c    an organisation's page: facts, its people, its events, the edit
 *    bo_people.c  people by name, a person's roles, adding and ending a role
 *    bo_series.c  an event's series: its occurrences, change from one on, extend, create
 *    bo_waitlist.c  an event's waitlist in order and open offers: promote, extend an offer
 *
 *  Invariants:
 *  - Every /office page but the sign-in needs a live session; every POST also a valid CSRF
 *    token (http.c's double-submit cookie, renewed at sign-in).
 *  - A role or municipality that does not allow an action answers 403 (bo_forbidden), changes
 *    nothing and is audited as "denied".
 *  - The audit holds account ids, method names and object ids only; logs the same.
 *  - An answer leaves only after what its request wrote (an audit entry, a failed sign-in's
 *    count, a session) has committed (http.c's s_queue, kp_server_commit).
 *  - The region keeps an enabled regional account: the last one cannot be disabled, removed or
 *    given another role (BO_LAST).
 *  - Passwords are never stored, logged or shown; the store holds crypto_pwhash_str strings
 *    and SHA-256 hashes of session cookies. */
#ifndef WEB_BO_H
#define WEB_BO_H

#include "web.h"

typedef Kumppani__V1__OfficeAccount bo_account_t;

#define BO_ROLE(x) KUMPPANI__V1__OFFICE_ROLE__OFFICE_ROLE_##x
#define BO_FAILS_MAX 5
#define BO_LOCK_MS (15 * 60 * 1000)
#define BO_PASSWORD_MIN 12
#define BO_PASSWORD_MAX 256

/* ---- the store (bo_store.c) -------------------------------------------------------------- */

int bo_account_get(kp_tx_t *tx, uint64_t id, bo_account_t **out, bool *found);
int bo_account_by_user(kp_tx_t *tx, const char *user, bo_account_t **out, bool *found);
#define BO_TAKEN 1
/* Stores a (a new one when a->id is 0: gets an id and its name entry). BO_TAKEN: the name is
 * taken. */
int bo_account_put(kp_tx_t *tx, bo_account_t *a);
/* Calls fn(arg, a bo_account_t) for each account in id order, as kp_rec_walk (a record that
 * does not decode: KP_ECORRUPT, logged). */
int bo_accounts_each(kp_tx_t *tx, int (*fn)(void *arg, void *account), void *arg);
int bo_session_get(kp_tx_t *tx, const unsigned char key[32], Kumppani__V1__OfficeSession **out,
                   bool *found);
int bo_session_put(kp_tx_t *tx, const unsigned char key[32], const Kumppani__V1__OfficeSession *s);
int bo_session_del(kp_tx_t *tx, const unsigned char key[32]);
/* Deletes up to max expired sessions. */
int bo_sessions_prune(kp_tx_t *tx, unsigned max);
int bo_audit_add(kp_tx_t *tx, Kumppani__V1__OfficeAudit *e);
/* Calls fn(arg, a Kumppani__V1__OfficeAudit) for each audit entry, the newest first, as
 * kp_rec_walk_rev (fn returns non-zero to stop). */
int bo_audit_each_rev(kp_tx_t *tx, int (*fn)(void *arg, void *entry), void *arg);
/* Deletes an account, its sign-in name and every session of it. */
int bo_account_del(kp_tx_t *tx, const bo_account_t *a);

/* ---- sign-in, sessions, scope (bo_auth.c) ------------------------------------------------ */

/* The signed-in account of r, or NULL after answering: a GET is sent to the sign-in page
 * (303), a POST refused (403). A POST's CSRF token is checked here too. */
bo_account_t *bo_require(web_req_t *r);
/* bo_require, then the account must have one of roles (BO_R bits): else NULL after answering
 * 403 (bo_forbidden, action on object: "" for none). */
bo_account_t *bo_require_role(web_req_t *r, unsigned roles, const char *action, const char *object);
/* True if acct may act on municipality code m (regional: any; municipal: its own). */
bool bo_muni_ok(const bo_account_t *acct, const char *m);
/* True if acct has one of the roles (a bit per OfficeRole value). */
bool bo_role_ok(const bo_account_t *acct, unsigned roles);
#define BO_R(x) (1u << BO_ROLE(x))
/* Records an action in the audit (in the request's turn). object: "event=12" etc. */
void bo_audit(web_req_t *r, uint64_t account_id, const char *action, const char *object,
              const char *outcome);
/* Answers 403 with the office's refusal page and audits it as "denied". */
void bo_forbidden(web_req_t *r, const bo_account_t *acct, const char *action, const char *object);
/* A root for an office page: web_root plus the account and the office navigation. */
web_tv_t *bo_root(web_req_t *r, const bo_account_t *acct, const char *title_key);
/* An office error page (status, text key). */
void bo_error(web_req_t *r, const bo_account_t *acct, unsigned status, const char *msg_key);
/* A refused field on the page root: the error (text key err) in the page's summary ("error",
 * linking to "error_field") and beside the field (err.<field>). */
void bo_field_error(web_req_t *r, web_tv_t *root, const char *err, const char *field);
/* A change's reply: when code is OK, audits method on obj as "ok" and answers 303 to the path
 * made by fmt, then true; else false with nothing answered (the page answers the refusal). */
bool bo_changed(web_req_t *r, const bo_account_t *acct, int code, const char *method,
                const char *obj, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Answers 200 with the CSV in b (web_reply takes it) as a download named by fmt. */
void bo_csv(web_req_t *r, web_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A role's text key ("bo_role_1"). */
const char *bo_role_key(int role);
/* Checks a sign-in name: 3..64 of [a-z0-9._-]. */
bool bo_user_ok(const char *u);
/* Checks a municipality code list; fills the codes. Returns their count, or -1. */
int bo_munis_parse(const char *list, char codes[][4], int max);
/* Hashes a password (Argon2id, interactive limits) into out (crypto_pwhash_STRBYTES). */
int bo_password_hash(const char *pw, char *out);

/* The page's account creation (regional coordinator). Returns NULL with *id, or the text key
 * of the first problem (its field in *field); nothing is written then. */
const char *bo_account_add_form(web_req_t *r, const bo_account_t *by, uint64_t *id,
                                const char **field);
/* The account lifecycle, shared by the pages and the bus methods. BO_LAST: refused, a is the
 * last enabled regional account (nothing written). */
#define BO_LAST 2
typedef enum { BO_DISABLE, BO_ENABLE, BO_REMOVE } bo_change_t;
/* Disables a (its sessions end: the epoch rises), enables it (its lockout cleared) or removes
 * it (bo_account_del). Returns 0, BO_LAST or a KP code. */
int bo_account_change(kp_tx_t *tx, bo_account_t *a, bo_change_t op);
/* Sets a's role and municipalities (the rules of an account's creation). Returns 0, BO_LAST (a
 * regional account that is the last one would lose the role), -2 (the role), -3 (the
 * municipalities) or a KP code. */
int bo_account_scope(kp_tx_t *tx, bo_account_t *a, int role, char **munis, size_t munis_n);
/* The method of a lifecycle change ("web.account.disable") and the audit's object. */
const char *bo_change_method(bo_change_t op);
/* The own password page (every signed-in account): GET and POST /office/password. */
void bo_pg_password(web_req_t *r, const char *arg);
void bo_pg_password_post(web_req_t *r, const char *arg);

/* Once at start (boot.c): the dummy hash unknown sign-in names are checked against. */
int bo_init(void);

void bo_pg_sign_in(web_req_t *r, const char *arg);
void bo_pg_sign_in_post(web_req_t *r, const char *arg);
/* Signing out (POST): this session, or with the route's op BO_EVERYWHERE every session of
 * the account. */
#define BO_EVERYWHERE 1
void bo_pg_sign_out(web_req_t *r, const char *arg);

/* ---- pages (bo_pages.c) ------------------------------------------------------------------ */

/* web_call, answering 503 when it fails (then false). */
bool bo_call(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const char *method,
             const ProtobufCMessage *body, const char *idem, web_bus_cb cb);
/* The code of a bus call's reply (web_code), logged (office.call: the method and the code). */
int bo_code(const Kumppani__V1__Reply *rep, const char *method);
/* bo_code, with what the call was about in the line too, made by fmt ("org=12"). */
int bo_code_of(const Kumppani__V1__Reply *rep, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A page's step with the body of a bus call's reply (bo_get); r->cont_arg is the page's state
 * as it was at the call. The body lives in the request's arena. */
typedef void (*bo_body_cb)(web_req_t *r, void *body);
/* bo_call for a reply of type d: then runs with its body; none came, or the service refused,
 * answers 503 (with invalid_key, not NULL, a refusal as INVALID, of what the page asked for, e.g.
 * its filter, answers 400 with that text). False after answering (the call could not be made). */
bool bo_get(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const char *method,
            const ProtobufCMessage *body, const ProtobufCMessageDescriptor *d,
            const char *invalid_key, bo_body_cb then);
/* The body of a bus call's reply (web_body), or NULL after answering 503 (none came, or the
 * service refused: a page that answers each refusal in its own way uses web_body). */
void *bo_body(web_req_t *r, const bo_account_t *acct, const Kumppani__V1__Reply *rep,
              const ProtobufCMessageDescriptor *d);
/* Answers a bus call's refusal by its code: NOT_FOUND 404 (not_found_key), CONFLICT 409,
 * INVALID 400, else (none came) 503. */
void bo_refused(web_req_t *r, const bo_account_t *acct, int code, const char *not_found_key);
/* bo_refused with the page's own text keys for each refusal. */
void bo_refused_as(web_req_t *r, const bo_account_t *acct, int code, const char *not_found_key,
                   const char *conflict_key, const char *invalid_key);
/* Answers a read that found nothing: 404 (not_found_key) when missing (the service said so),
 * else 503 (none came, or another refusal). */
void bo_missing(web_req_t *r, const bo_account_t *acct, bool missing, const char *not_found_key);
/* A zeroed block of the request's arena (a page's state); NULL after answering 503. */
void *bo_zalloc(web_req_t *r, const bo_account_t *acct, size_t size);
/* The zeroed state (size bytes) of an office page, whose first member is its account
 * (bo_account_t *acct), set to acct; r->cont_arg is set to it. NULL after answering 503. */
void *bo_state(web_req_t *r, bo_account_t *acct, size_t size);
/* bo_state for a page about one object, whose state's first members are its account and the
 * object's id (bo_account_t *acct; uint64_t id): the id is arg's, and an arg that is no id answers
 * 404 (not_found_key). NULL after answering. */
void *bo_state_id(web_req_t *r, bo_account_t *acct, const char *arg, const char *not_found_key,
                  size_t size);
/* bo_require_role (roles, action on object), then the page's state (bo_state). NULL after
 * answering. */
void *bo_begin(web_req_t *r, unsigned roles, const char *action, const char *object, size_t size);
/* A list read page by page: method, its reply's type and the repeated field items holding the
 * page (messages with an "id"), page_n items a page, at most max in all. */
typedef struct {
    const char *method;
    const ProtobufCMessageDescriptor *reply;
    const char *items;
    size_t page_n, max;
} bo_list_t;
/* A list's items (in the request's arena, in the service's order); r->cont_arg as at the call. */
typedef void (*bo_list_cb)(web_req_t *r, void **items, size_t n);
/* A failed call's answer (rep: none came, or the service's refusal); r->cont_arg as at the call. */
typedef void (*bo_fail_cb)(web_req_t *r, const Kumppani__V1__Reply *rep, const char *method);
/* Every page of the list def: rq (scalar fields only: it is copied) is asked page_n at a time,
 * its after_id the last id so far, until a page comes short or max items are in; then runs with
 * them. A page that does not come runs failed (NULL: answers 503). False after answering 503 (the
 * first call could not be made). */
bool bo_list_all(web_req_t *r, const bo_account_t *a, web_bus_t *bus, const bo_list_t *def,
                 const ProtobufCMessage *rq, bo_list_cb then, bo_fail_cb failed);
/* The municipality filter (templates/field_munis.html): a municipal account chooses among its
 * own ("munis_select", "munis"), any other types a code ("muni"). */
void bo_munis_choice(web_req_t *r, web_tv_t *root, const bo_account_t *acct, const char *muni);
/* A municipality filter's code for action (*muni: NULL or three digits): a municipal account
 * without one gets its first own municipality; one out of its own is refused. False after
 * answering 403 (bo_forbidden, "municipality=NNN"). */
bool bo_muni_filter(web_req_t *r, const bo_account_t *acct, const char **muni, const char *action);
/* True if acct may act on municipality m (bo_muni_ok); else false after answering 403
 * (bo_forbidden, "municipality=NNN"). */
bool bo_muni_allowed(web_req_t *r, const bo_account_t *acct, const char *m, const char *action);

void bo_pg_home(web_req_t *r, const char *arg);
/* The accounts (GET) and a new one (POST). */
void bo_pg_accounts(web_req_t *r, const char *arg);
void bo_pg_audit(web_req_t *r, const char *arg);
/* An account's page (regional): role and municipalities, disable or enable, remove. */
void bo_pg_account(web_req_t *r, const char *arg);
void bo_pg_account_scope(web_req_t *r, const char *arg);
/* An account's lifecycle change (POST): the route's op, a bo_change_t. */
void bo_pg_account_change(web_req_t *r, const char *arg);

/* ---- events (bo_events.c) ---------------------------------------------------------------- */

void bo_pg_events(web_req_t *r, const char *arg);
/* The new-event form (GET) and the event it makes (POST). */
void bo_pg_event_new(web_req_t *r, const char *arg);
/* An event's pages (GET), by their route's op: the page, the door's check-in, the participants'
 * CSV, the events service's door list. */
enum { BO_EV_PAGE, BO_EV_CHECKIN, BO_EV_CSV, BO_EV_DOOR };
void bo_pg_event(web_req_t *r, const char *arg);
void bo_pg_event_publish(web_req_t *r, const char *arg);
void bo_pg_event_reschedule(web_req_t *r, const char *arg);
void bo_pg_event_cancel(web_req_t *r, const char *arg);
void bo_pg_event_held(web_req_t *r, const char *arg);
void bo_pg_attendance(web_req_t *r, const char *arg);
/* "YYYY-MM-DD" + "HH:MM" in Helsinki time into *out; false if it is not one. */
bool bo_when(const char *date, const char *hm, int64_t *out);
/* A sign-up role's text key ("role_1"). */
const char *bo_signup_role_key(int role);

/* ---- registry and broker (bo_registry.c, bo_broker.c) ------------------------------------ */

/* An organisation's fields of activity (their texts) and networks, each joined with ", ", as
 * o's "fields" and "networks": the search's rows and the organisation's page (bo_orgs.c). */
void bo_org_fields(web_req_t *r, web_tv_t *o, const Kumppani__V1__OrganisationFields *f);

void bo_pg_orgs(web_req_t *r, const char *arg);
void bo_pg_coverage(web_req_t *r, const char *arg);
/* The CSV import: its form (GET), a dry run or the import (POST). */
void bo_pg_import(web_req_t *r, const char *arg);
void bo_pg_broker(web_req_t *r, const char *arg);
/* A request's offers and ranking (broker.request.explain); completing an assignment (POST);
 * the payment export (CSV); the broker's statistics. */
void bo_pg_broker_request(web_req_t *r, const char *arg);
void bo_pg_broker_complete(web_req_t *r, const char *arg);
void bo_pg_broker_export(web_req_t *r, const char *arg);
void bo_pg_broker_stats(web_req_t *r, const char *arg);
/* Marking completed assignments paid (POST: ticked "assignment" boxes and/or pasted "ids"). */
void bo_pg_broker_paid(web_req_t *r, const char *arg);
/* bo_stats.c */
void bo_pg_stats(web_req_t *r, const char *arg);
/* bo_sent.c: what was sent, the dead letters and their retry, the opt-outs (GET; the lookup by an
 * address, POST) */
void bo_pg_sent(web_req_t *r, const char *arg);
void bo_pg_sent_retry(web_req_t *r, const char *arg);

/* bo_orgs.c: an organisation's page (GET) and its edit (POST) (registry.org.get/update,
 * role.list) */
void bo_pg_org(web_req_t *r, const char *arg);
/* bo_people.c: people by name (a POST), a person's roles, adding and ending a role */
void bo_pg_people(web_req_t *r, const char *arg);
void bo_pg_people_post(web_req_t *r, const char *arg);
void bo_pg_person(web_req_t *r, const char *arg);
void bo_pg_role_add(web_req_t *r, const char *arg);
void bo_pg_role_end(web_req_t *r, const char *arg);
/* ---- series and the waitlist (bo_series.c, bo_waitlist.c) ------------------------------- */

/* An event-scoped action of bo_events.c, bo_series.c, bo_waitlist.c: the event is fetched and the
 * account's role and municipality checked before then runs (r->cont_arg is the op). */
typedef struct bo_evop bo_evop_t;
struct bo_evop {
    bo_account_t *acct;
    uint64_t event_id;
    web_event_t *ev; /* once fetched (the request's arena) */
    const char *method;
    char obj[64]; /* "event=N" or "event=N signup=M", for the audit */
    void (*then)(web_req_t *r);
    void *data;       /* the action's own */
    bool audit_fetch; /* a failed fetch of the event is audited too (the event page's changes) */
};
/* Starts op on event arg for method: 404 for a bad id, 403 (bo_forbidden) for a role or, once
 * the event is in, a municipality out of scope; then runs. Returns the op or NULL after
 * answering. */
bo_evop_t *bo_evop_start(web_req_t *r, bo_account_t *a, const char *arg, const char *method,
                         void (*then)(web_req_t *r));
/* Answers a failed bus call of an op (404, 409, 400 or 503) and audits it as failed. */
void bo_evop_failed(web_req_t *r, const Kumppani__V1__Reply *rep, const char *method);
/* The occurrences of a series (events.event.list by series_id: bo_list_all, its items
 * web_event_t pointers, a failed page answered 503). False after answering. */
bool bo_series_load(web_req_t *r, const bo_account_t *a, uint64_t series_id, bo_list_cb then);
/* The event page's series section (occurrences, in any order: shown by index; change from this
 * one on, extend) and its waitlist section (the waitlist in order, open offers, promote and
 * extend). */
/* A form of the event's page (arg: its id) refused its field: form "reschedule", "cancel",
 * "held", the series' "change" or "extend", or the waitlist's "offer" (field "minutes-<sign-up
 * id>", the offer's row), err a text key, field the control's id without "f-".
 * Once the event is in scope, its page again (400) with the error beside the field and the values
 * sent; the error page when the event no longer offers that form. */
void bo_event_refused(web_req_t *r, bo_account_t *a, const char *arg, const char *form,
                      const char *err, const char *field);
/* The event's series section (root's series) with occ, its n occurrences; its change form
 * shows the event's values, or with sent the values a refused change sent. */
void bo_series_section(web_req_t *r, web_tv_t *root, const web_event_t *ev, web_event_t **occ,
                       size_t n, bool sent);
/* Whether ev's series can still be changed from it (neither cancelled, held nor started). */
bool bo_series_changeable(const web_event_t *ev);
/* The event's waitlist section (root's wl) from its n sign-ups su; refused: the error (a text
 * key) of the extension the request sent, shown beside the row of the sign-up it names (false
 * when the section has no such row). */
bool bo_waitlist_section(web_req_t *r, web_tv_t *root, const web_event_t *ev,
                         Kumppani__V1__Signup *const *su, size_t n, const char *refused);
/* The new-event form's "repeat" fieldset (its values kept after a refusal). */
void bo_series_form(web_req_t *r, web_tv_t *root, web_tv_t *v);
/* The new-event form's repeat choice: 0 (none) or a SeriesFrequency with *count (2..60);
 * -1 for a bad choice (its field in *field). */
int bo_series_repeat(web_req_t *r, uint32_t *count, const char **field);
/* Creates the series of first (events.series.create, idem) and answers with its first
 * occurrence's page. */
void bo_series_create(web_req_t *r, bo_account_t *a, Kumppani__V1__CreateEventRequest *first,
                      int freq, uint32_t count, const char *idem);
void bo_pg_series_change(web_req_t *r, const char *arg);
void bo_pg_series_extend(web_req_t *r, const char *arg);
void bo_pg_promote(web_req_t *r, const char *arg);
void bo_pg_offer_extend(web_req_t *r, const char *arg);

/* ---- the method (bo_auth.c) -------------------------------------------------------------- */

void bo_h_account_add(kp_call_t *call, void *svc);
/* web.account.disable, enable and remove: the row's op is the bo_change_t. */
void bo_h_account_change(kp_call_t *call, void *svc);

#endif
