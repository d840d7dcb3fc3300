/*  web/web.h: the private header of kumppani-web, the public web pages of the suite.
 *
 *  Anatomy:
 *    main.c     the settings table and wiring (kp_boot_main)
 *    boot.c     the configure / start / fini hooks: settings, templates, keys, start and stop
 *    api.c      the HTTP route table and the sign-up form's field rules
 *    http.c     libmicrohttpd inside the service's libuv loop: limits, security headers,
 *               the per-address rate limit, forms, cookies, suspend/resume around bus calls
 *    pages.c    the public pages: calendar, event, iCalendar, accessibility, privacy, static
 *    signup.c   the sign-up form, the confirmation, the personal page and its actions
 *    links.c    the expert's offer page (/x/) and the requester's page (/r/)
 *    bus.c      asynchronous DEALER calls to the events service and the broker
 *    token.c    CSRF tokens and form nonces (libsodium); personal links are kp_link
 *    text.c     languages, the operator's text files, dates in Helsinki time
 *    consume.c  following the events log into the read model
 *    store.c    the read model (the only file that touches LMDB, through kp_tx)
 *    tmpl.c     the template renderer
 *    bo.h       the coordinators' back office under /office (bo_*.c): accounts, sessions,
 *               roles, audit, and pages over the events, registry and broker buses
 *
 *  Invariants:
 *  - The web owns no personal data: its store holds published events (public facts) and, per
 *    sign-up, only its id, event, state and number of companions (to keep free places right).
 *    The back office adds coordinators' accounts (a sign-in name, role, municipalities and an
 *    Argon2id hash), session hashes and an audit of ids; the participants it shows are read
 *    over the bus and never stored.
 *    Names, contacts and needs go to the events service over the bus and are never stored,
 *    logged or put in a URL here. The requester's page shows a confirmed expert's name and
 *    contact as the broker answers them, per request, never kept. The accessibility
 *    feedback form writes to an operator's spool directory (the privacy notice says so).
 *  - Logs carry route names, status codes and ids; never a path (a personal link carries a
 *    token), an address, a form value or a token.
 *  - Every page goes through a template, escaped by default; every response carries the
 *    security headers (http.c).
 *  - Every state-changing request is a POST with a valid CSRF token (double-submit cookie
 *    bound by HMAC to a per-process secret). */
#ifndef WEB_H
#define WEB_H

#include "kp_arena.h"
#include "kp_boot.h"
#include "kp_link.h"
#include "kp_server.h"
#include "kp_tx.h"
#include "kp_zsock.h"
#include "kumppani/v1/envelope.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/registry.pb-c.h"
#include "kumppani/v1/web.pb-c.h"
#include "tmpl.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* ---- the read model (store.c) ------------------------------------------------------------ */

enum {
    WEB_DB_EVENTS,   /* event id (u64 BE) -> EventInfo (published, rescheduled, cancelled, held) */
    WEB_DB_STARTS,   /* start_unix (u64 BE) + event id (u64 BE) -> "" : the calendar's order */
    WEB_DB_SIGNUPS,  /* sign-up id (u64 BE) -> Signup with id, event_id, state, companions only */
    WEB_DB_ACCOUNTS, /* back office (bo_store.c): account id (u64 BE) -> OfficeAccount */
    WEB_DB_USERS,    /* sign-in name -> account id (u64 BE) */
    WEB_DB_SESSIONS, /* SHA-256 of the session cookie -> OfficeSession */
    WEB_DB_AUDIT,    /* audit id (u64 BE) -> OfficeAudit */
    WEB_DB_MUNIS,    /* municipality code as a number (u64 BE) -> Municipality (registry's log) */
    WEB_DB_N
};
extern const char *const web_db_names[WEB_DB_N];
#define WEB_SCHEMA_VERSION 1

typedef Kumppani__V1__EventInfo web_event_t;

int web_store_event_get(kp_tx_t *tx, uint64_t id, web_event_t **out, bool *found);
/* Stores ev and keeps the calendar index right. */
int web_store_event_put(kp_tx_t *tx, const web_event_t *ev);
int web_store_event_del(kp_tx_t *tx, uint64_t id);
/* Calls fn for each stored event starting at or after from_unix, in time order, until fn
 * returns non-zero. Returns 0, fn's value, or a KP code. */
int web_store_events_from(kp_tx_t *tx, int64_t from_unix, int (*fn)(void *arg, web_event_t *ev),
                          void *arg);
int web_store_signup_get(kp_tx_t *tx, uint64_t id, Kumppani__V1__Signup **out, bool *found);
/* Stores only id, event_id, state, companions and offer_deadline_ms of s. */
int web_store_signup_put(kp_tx_t *tx, const Kumppani__V1__Signup *s);

/* Municipalities as the registry's log names them (MunicipalityAdded). */
int web_store_muni_put(kp_tx_t *tx, const Kumppani__V1__Municipality *m);
int web_store_muni_get(kp_tx_t *tx, const char *code, Kumppani__V1__Municipality **out,
                       bool *found);

/* ---- the bus (bus.c) --------------------------------------------------------------------- */

typedef struct web_bus web_bus_t;
typedef struct web_req web_req_t;

/* The answer to a call of request r: reply is NULL when none came in time (or the bus closed).
 * The reply and its body are valid during the callback only. */
typedef void (*web_bus_cb)(web_req_t *r, const Kumppani__V1__Reply *reply);

/* A DEALER socket to endpoint in zctx, watched in loop. kp NULL: plain TCP. Caller owns the
 * result; web_bus_destroy. Returns 0 or a KP code. */
int web_bus_new(web_bus_t **out, uv_loop_t *loop, void *zctx, const char *endpoint,
                const kp_keypair_t *kp, const char *server_pub, unsigned timeout_ms);

/* Sends a request; cb runs exactly once later (never inside this call). Returns 0, or
 * KP_EFULL when too many calls wait or the socket cannot take it (cb does not run). */
int web_bus_call(web_bus_t *self, const char *method, const ProtobufCMessage *body,
                 const char *idem_key, web_bus_cb cb, web_req_t *r);

/* Answers every waiting call with NULL, closes the socket and its watcher. Accepts NULL. */
void web_bus_destroy(web_bus_t **self_p);

/* ---- tokens (token.c) -------------------------------------------------------------------- */

#define WEB_COOKIE_LEN 43 /* 32 random bytes, base64url without padding */
#define WEB_TOKEN_MAX KP_LINK_TOKEN_MAX

/* A new random cookie value (WEB_COOKIE_LEN + 1 bytes). */
void web_token_random(char *out);
/* The CSRF form token bound to a cookie value (WEB_TOKEN_MAX bytes). */
void web_csrf_token(const unsigned char key[32], const char *cookie, char *out);
/* True if form_token is the token of cookie (constant time). */
bool web_csrf_ok(const unsigned char key[32], const char *cookie, const char *form_token);

/* ---- texts (text.c) ---------------------------------------------------------------------- */

enum { WEB_LANG_FI, WEB_LANG_SV, WEB_LANG_EN, WEB_LANG_N };
extern const char *const web_lang_codes[WEB_LANG_N];

/* The language of a code ("fi", "sv", "en"), or -1. */
int web_lang_parse(const char *code);
/* The best of our languages for an Accept-Language header (NULL: Finnish). */
int web_lang_accept(const char *header);

/* ---- the service ------------------------------------------------------------------------- */

typedef struct web_svc web_svc_t;

typedef struct {
    const char *name; /* template "page", for logs */
    const char *method;
    const char *prefix; /* the path, or its start when the route takes an argument */
    const char *suffix; /* after the argument ("" for none, NULL: no argument) */
    void (*fn)(web_req_t *r, const char *arg);
    int op; /* for a handler that serves several routes: which one (r->route_op); else 0 */
} web_route_t;

/* The ops of the personal links' actions (web_pg_personal_act, web_pg_xoffer_answer). */
enum { WEB_OP_CANCEL = 1, WEB_OP_LEAVE, WEB_OP_ACCEPT, WEB_OP_DECLINE };

extern const web_route_t web_routes[];
extern const unsigned web_routes_n;
/* The web's bus methods (bo_auth.c): web.account.add. */
extern const kp_method_t web_methods[];
extern const unsigned web_methods_n;

#define WEB_RATE_SLOTS 4096

typedef struct {
    char addr[48];
    double tokens;
    int64_t last_us;
} web_rate_t;

struct web_svc {
    /* settings */
    const char *listen;        /* "127.0.0.1:8080" */
    const char *base_url;      /* "http://127.0.0.1:8080": absolute links (iCalendar URLs) */
    const char *templates_dir; /* templates, text/<lang>.txt, static/ */
    const char *feedback_dir;
    unsigned max_conns, per_ip, timeout_s, bus_timeout_ms;
    size_t body_max;
    double rate_per_s; /* 0: no rate limit */
    double rate_burst;
    unsigned link_days; /* personal links last until the event's end plus this */
    bool secure_cookies;
    const char *trusted_proxy; /* X-Forwarded-For is believed only from this address */
    const char *contact;       /* the region's help and privacy e-mail, or NULL */
    const char *events_api;
    char events_pub[KP_Z85_KEY_LEN + 1];
    const char *broker_api; /* NULL: no expert pages */
    char broker_pub[KP_Z85_KEY_LEN + 1];
    kp_keypair_t pub_keys;  /* the publisher key pair ("web-publisher") */
    kp_keypair_t self_keys; /* the personal links' key pair ("web-self", role selfservice) */
    bool have_keys;
    kp_keypair_t office_keys; /* the back office's key pair ("web-office", role admin) */
    bool have_office_key;
    const char *registry_api; /* NULL: the back office has no registry pages */
    char registry_pub[KP_Z85_KEY_LEN + 1];
    const char *notifier_api; /* NULL: the back office has no "What was sent" page */
    char notifier_pub[KP_Z85_KEY_LEN + 1];
    unsigned session_minutes;
    unsigned char csrf_key[32], link_key[32];

    /* state */
    kp_server_t *srv;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    bool handles_open;
    web_bus_t *bus_read;          /* the web's own key (role service): iCalendar */
    web_bus_t *bus_pub;           /* the publisher key: sign-ups */
    web_bus_t *bus_self;          /* the selfservice key: a person's actions on their sign-up */
    web_bus_t *bus_broker;        /* the selfservice key to the broker (NULL without broker-api) */
    web_bus_t *bus_office;        /* the back office's admin key to the events service */
    web_bus_t *bus_registry;      /* the same key to the registry */
    web_bus_t *bus_office_broker; /* the same key to the broker (NULL without broker-api) */
    web_bus_t *bus_notifier;      /* the same key to the notifier (NULL without notifier-api) */
    web_tmpl_set_t *tmpl;
    kp_arena_t *text_arena;
    web_tv_t *texts[WEB_LANG_N];
    char *css;
    size_t css_len;
    kp_arena_t *consume_arena;
    web_rate_t *rate;
    web_req_t *suspended; /* requests waiting for the bus */
    uint64_t requests_n, limited_n;
};

/* A request in flight (http.c owns it). */
struct web_req {
    web_svc_t *svc;
    struct MHD_Connection *conn;
    const char *method;
    char *path; /* decoded path, copied */
    kp_arena_t *arena;
    web_buf_t body;
    bool body_too_large, dispatched, suspended, post;
    int lang;
    bool set_lang_cookie;
    char csrf_cookie[WEB_COOKIE_LEN + 1];
    bool new_csrf_cookie;
    const char *route;
    int route_op; /* the route's op (web_route_t) */
    /* the response being made */
    struct MHD_Response *resp;
    unsigned status;
    /* form fields (POST) */
    char **names, **values;
    size_t fields_n;
    bool form_bad;          /* undecodable: invalid UTF-8 or control characters */
    const char *set_cookie; /* another Set-Cookie header (the back office's session) */
    void *office;           /* the back office's signed-in account (bo_auth.c), or NULL */
    web_req_t *next;        /* in svc->suspended */
    void *cont_arg;         /* the continuation's state while suspended */
};

/* http.c */
int web_http_start(web_svc_t *svc);
void web_http_stop(web_svc_t *svc);
/* The value of a query argument, a form field (POST) or a header; NULL if absent. */
const char *web_query(web_req_t *r, const char *name);
const char *web_field(web_req_t *r, const char *name);
const char *web_header(web_req_t *r, const char *name);
/* Answers r with body (taken over: freed here) as content type ctype. */
void web_reply(web_req_t *r, unsigned status, const char *ctype, web_buf_t *body);
/* Answers 303 See Other to the path printf'd from fmt (Post/Redirect/Get: the page that
 * follows a form's POST is a GET, which a reload or Back asks again without resending). */
void web_redirect_v(web_req_t *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void web_redirect(web_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Renders template page with root (texts, language, CSRF and the layout filled in here) and
 * answers with it; a render failure answers 500. */
void web_page(web_req_t *r, unsigned status, const char *page, web_tv_t *root);
/* A root value for a page, with the common parts (texts, languages, CSRF token). */
web_tv_t *web_root(web_req_t *r, const char *title_key);
/* An error page (status and a text key for its message). */
void web_error(web_req_t *r, unsigned status, const char *msg_key);
/* True if the POST carries a valid CSRF token; otherwise answers 403 and returns false. */
bool web_csrf_check(web_req_t *r);
/* Calls method on bus for r with cb, suspending r (unless a call already did) until cb runs.
 * False when bus is NULL, full or cannot send: cb will not run and nothing is answered. An
 * answer set on a suspended request (web_reply, web_page, web_error) resumes it. */
bool web_call(web_req_t *r, web_bus_t *bus, const char *method, const ProtobufCMessage *body,
              const char *idem, web_bus_cb cb);
/* The code of a bus reply; -1 when none came. */
int web_code(const Kumppani__V1__Reply *rep);
/* A reply's body decoded as d into r's arena when its code is OK; else NULL. */
void *web_body(web_req_t *r, const Kumppani__V1__Reply *rep, const ProtobufCMessageDescriptor *d);
/* A unit of work on the read model for this request (joins the server's turn). */
int web_tx(web_req_t *r, kp_tx_t *tx);

/* pages.c */
void web_pg_calendar(web_req_t *r, const char *arg);
void web_pg_calendar_ics(web_req_t *r, const char *arg);
void web_pg_event(web_req_t *r, const char *arg);
void web_pg_event_ics(web_req_t *r, const char *arg);
void web_pg_accessibility(web_req_t *r, const char *arg);
void web_pg_feedback(web_req_t *r, const char *arg);
void web_pg_privacy(web_req_t *r, const char *arg);
void web_pg_static(web_req_t *r, const char *arg);
/* Fills obj with an event's public facts for templates (time in Helsinki, kind, places). */
void web_event_values(web_req_t *r, web_tv_t *obj, const web_event_t *ev);
/* The name of municipality code in r's language (Swedish where it has one), or the code
 * itself while the registry's log has not named it. Never NULL. */
const char *web_muni_name(web_req_t *r, const char *code);
/* Adds {code, value (the code), name, selected} items to list for codes[0..n), by name in
 * Finnish order. */
void web_muni_options(web_req_t *r, web_tv_t *list, const char *const *codes, unsigned n,
                      const char *selected);
/* A filter's <select> with an "all" choice (templates/field_any.html): root's object key with
 * id (the field's name), label (the text of label_key) and the list "options", returned; when
 * the filter refused this field (err_field is id), invalid: the text of err_key. */
web_tv_t *web_select(web_req_t *r, web_tv_t *root, const char *key, const char *id,
                     const char *label_key, const char *err_field, const char *err_key);
/* Adds choices 1..n to list: each with its value (N, or values[N] when given), its text
 * (key_prefix N: "kind_3") and whether it is the selected one. */
void web_choices(web_req_t *r, web_tv_t *list, const char *key_prefix, int n,
                 const char *const *values, int selected);
/* A one-button POST form (templates/post_button.html) under root's key: its action (a path
 * made by fmt) and its button's text (label_key). */
void web_button(web_req_t *r, web_tv_t *root, const char *key, const char *label_key,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sets obj's key to items[0..n) joined by ", ", or to none when n is 0 (NULL: nothing). */
void web_join(web_req_t *r, web_tv_t *obj, const char *key, char *const *items, size_t n,
              const char *none);
/* A list's count and its empty case, as the templates name them: sets obj's "<name>_n" to n
 * and "no_<name>" when n is 0. */
void web_tv_count(kp_arena_t *a, web_tv_t *obj, const char *name, size_t n);

/* number.c */
/* Parses a decimal id ("12"); 0 if it is not one. */
uint64_t web_parse_id(const char *s);
/* The number a form value s gives: 1 to digits (at most 9) decimal digits and nothing else, at
 * most max; -1 when it is not one (NULL and "" included). */
long web_digits(const char *s, size_t digits, long max);

/* signup.c */
void web_pg_signup_form(web_req_t *r, const char *arg);
void web_pg_signup_submit(web_req_t *r, const char *arg);
void web_pg_personal(web_req_t *r, const char *arg);
/* A personal link's action (POST): its route's op, WEB_OP_CANCEL, _LEAVE (the waitlist),
 * _ACCEPT or _DECLINE (an offered place). */
void web_pg_personal_act(web_req_t *r, const char *arg);
/* Checks a personal link of purpose; answers the clear 404 (forged, other purpose) or 410
 * (expired) page and returns false. Never logs the token. */
bool web_link(web_req_t *r, const char *token, unsigned purpose, kp_link_t *l);
/* The clear 410 page of a link whose record is gone. */
void web_link_gone(web_req_t *r);
/* The part of a personal-link page's state that every such page has: the link, its token, and
 * the action (WEB_OP_*) posted (a POST: the route's op) or just done (a GET whose address says
 * ?done=<action>, after the 303 of its POST), else 0. */
typedef struct {
    kp_link_t l;
    const char *token;
    int op;
    unsigned status; /* the page's HTTP status: 200 unless an action was refused */
    /* An action's answer when refused (not done, not gone): the page says why, by code. */
    void (*refused)(web_req_t *r, int code);
} web_link_t;
/* The zeroed state (size bytes) of a personal-link page, whose first member is the web_link_t
 * of token (checked for purpose, web_link); r->cont_arg is set to it. NULL after answering
 * (503, or the link's 404/410 page). */
void *web_link_state(web_req_t *r, const char *token, unsigned purpose, size_t size);
/* Answers the POST of the personal link k's action (k->op) that was done: 303 to its page
 * (/s/ or /x/ + token) with ?done=<action> (Post/Redirect/Get: a reload or Back sends nothing). */
void web_link_done_redirect(web_req_t *r, const web_link_t *k);
/* The bus callback of a personal link's action on the link's record (r->cont_arg, from
 * web_link_state): done, 303 to its page (web_link_done_redirect); the record gone, the 410
 * page; refused, the state's refused(). Logs the route and the id, never the token. */
void web_link_answer(web_req_t *r, const Kumppani__V1__Reply *reply);

/* links.c */
void web_pg_xoffer(web_req_t *r, const char *arg);
/* An expert's answer to an offer (POST): its route's op, WEB_OP_ACCEPT or WEB_OP_DECLINE. */
void web_pg_xoffer_answer(web_req_t *r, const char *arg);
void web_pg_request(web_req_t *r, const char *arg);

/* api.c: the sign-up form's rules */
typedef struct {
    const char *field; /* the form field */
    const char *msg;   /* a text key */
} web_ferr_t;
#define WEB_FERR_MAX 12
/* Checks the sign-up form's fields for an event of capacity places (0: no limit; a group
 * larger than it is refused); fills errs (at most WEB_FERR_MAX) and returns their count. */
unsigned web_signup_rules(web_req_t *r, unsigned capacity, web_ferr_t *errs);

/* text.c */
/* "ti 24.11.2026 klo 17.00" style, in the request's language, Helsinki time. */
void web_time_text(web_req_t *r, int64_t unix_s, char *out, size_t len);
/* Sets obj's key to the time text of unix_s (web_time_text). */
void web_tv_time(web_req_t *r, web_tv_t *obj, const char *key, int64_t unix_s);
/* Sets obj's key to an end time: the time of day alone when it falls on the start's Helsinki
 * day ("19.00"), else the whole time text. */
void web_tv_end_time(web_req_t *r, web_tv_t *obj, const char *key, int64_t start_s, int64_t end_s);
/* The text of key in r's language; the key itself when no text file has it. */
const char *web_text(web_req_t *r, const char *key);
/* Sets obj's key to the text whose key fmt makes (web_text): an enum's words ("bo_asg_%d"). */
void web_tv_textf(web_req_t *r, web_tv_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int web_texts_load(web_svc_t *svc, char *why, size_t why_len);

/* boot.c: the kp_service_def_t hooks */
/* The settings (boot.c), for main.c. */
extern kp_config_item_t web_items[];
int web_configure(void *svc, const kp_config_item_t *items);
int web_start(void *svc, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items);
void web_fini(void *svc);

/* consume.c */
int web_consume_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev);
/* The registry's log (with registry-pub): municipalities' names. */
int web_consume_registry(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev);

#endif
