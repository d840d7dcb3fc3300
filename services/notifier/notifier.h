/*  The notifier service, private header (prefix ntf_): the store layout, the service's state
 *  and what its files share.
 *
 *  Files: main.c wiring (kp_boot_main); config.c the settings; api.c the request handlers;
 *  store.c the records and indexes (the only caller of mdb_*); consume.c the followed logs;
 *  plan.c the rules that plan notifications; timer.c the schedule's timers; deliver.c leases,
 *  outcomes and recipient lookups; privacy.c erasure, export and history retention;
 *  transfer.c the transfers (libcurl); render.c what is sent.
 *
 *  Store layout (keys big-endian where numeric, so that LMDB keeps them in order):
 *      ntf        notification key (text)               -> Notification
 *      due        due_ms (8) . key                      -> "" (the schedule and the leases)
 *      by_event   event_id (8) . key                    -> "" (schedule of an event)
 *      dead       key                                   -> "" (dead letters)
 *      events     event_id (8)                          -> EventInfo (as last heard)
 *      signups    signup_id (8)                         -> Signup (public copy: ids, state,
 *                                                          role, language, consents; no name,
 *                                                          e-mail, phone or texts)
 *      ev_signups event_id (8) . signup_id (8)          -> "" (live sign-ups of an event)
 *      optout     channel (1) . address in one form     -> "" (e-mail lowered; phone as
 *                                                          kp_privacy_phone_norm; schema 4)
 *      state      name                                  -> value ("webhook-off")
 *      brk_req    request_id (8)                        -> BrokerRequest (as last heard)
 *      contacts   role_id (8)                           -> Role (current contact persons)
 *      munis      code as a number (8)                  -> Municipality (names, from the
 *                                                          registry's log)
 *      by_request request_id (8) . key                  -> "" (the messages of a broker
 *                                                          request; schema 3)
 *  plus kp_store's meta, log, idem and offsets.
 *
 *  Exactly-once in effect: notifications are planned while the consumer applies an event, in
 *  the same transaction as the consumer offset, under a deterministic key (put with
 *  MDB_NOOVERWRITE: planning the same key again changes nothing). Delivery takes a lease
 *  (the due entry moves to now + lease-ms and the state becomes SENDING) in one turn, starts
 *  the transfer after that turn commits, and records the outcome in a later turn. A crash
 *  after the hand-over and before the record sends the message again when the lease expires
 *  (at-least-once at that one boundary; the same Message-ID identifies the duplicate).
 *
 *  No state derived from the store lives in memory: the in-flight transfers are the only
 *  memory, and a lost transfer is recovered by its lease. */
#ifndef NTF_NOTIFIER_H
#define NTF_NOTIFIER_H

#include "kp_arena.h"
#include "kp_boot.h"
#include "kp_server.h"
#include "kp_tx.h"
#include "kp_zsock.h"
#include "kumppani/v1/broker.pb-c.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/notifier.pb-c.h"
#include "kumppani/v1/registry.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    NTF_DB_NTF,
    NTF_DB_DUE,
    NTF_DB_BY_EVENT,
    NTF_DB_DEAD,
    NTF_DB_EVENTS,
    NTF_DB_SIGNUPS,
    NTF_DB_EV_SIGNUPS,
    NTF_DB_OPTOUT,
    NTF_DB_STATE,
    NTF_DB_BRK_REQ,
    NTF_DB_CONTACTS,
    NTF_DB_MUNIS,
    NTF_DB_BY_REQUEST,
    NTF_DB_N
};

#define NTF_SCHEMA_VERSION 4
#define NTF_KEY_MAX 200
#define NTF_ATTEMPTS_KEPT 20
#define NTF_KINDS_N 10 /* EventKind values 1..9 */

typedef Kumppani__V1__Notification ntf_rec_t;
typedef struct ntf_texts ntf_texts_t; /* the operator's template files (render.c) */

typedef struct {
    /* SMTP */
    const char *smtp_url; /* smtp://host:port */
    const char *smtp_user, *smtp_password;
    const char *smtp_from; /* envelope and From: address */
    const char *smtp_from_name;
    const char *smtp_tls;     /* off, try, require */
    const char *smtp_ca_file; /* NULL: the system's CA bundle */
    /* webhooks and SMS */
    const char *webhook_url, *webhook_secret;
    const char *sms_url, *sms_body;
    const char *sms_user, *sms_password; /* the gateway's credentials (HTTP basic); NULL: none */
    const char *sms_auth_header;         /* or a whole header, "Authorization: Bearer ..." */
    /* personal links: <web-url>/s|x|r/<token> under the link secret; web_url[0] == 0: the
     * messages carry no link */
    char web_url[512];
    bool have_link;
    unsigned char link_key[32];
    unsigned char addr_key[32]; /* keys the address hash of a record (notifier.sent) */
    int64_t link_days_s;        /* a sign-up's link lasts this long after the event's end */
    /* message texts from templates-dir (NULL: the built-in ones); reloaded on SIGHUP */
    const char *templates_dir;
    ntf_texts_t *texts;
    /* delivery */
    uint64_t retry_base_ms, retry_max, horizon_ms, lease_ms, inflight_max, timeout_ms;
    /* planning: reminder hours before the start per EventKind (0-terminated lists) */
    unsigned reminders[NTF_KINDS_N][8];
    unsigned quiet_from_h, quiet_to_h;
    /* finished notifications (history, dead letters) are deleted this long after their last
     * activity (history-retention-days) */
    int64_t history_retention_ms;
    /* expert-broker messages: coordinator address and language (unset: no unfilled notice) */
    const char *coordinator_email, *coordinator_language;
    /* the broker's ROUTER for broker.expert.get at delivery time (unset: expert messages
     * become dead letters "broker-not-configured") */
    const char *broker_api;
    bool have_keys;
    kp_keypair_t keys;
    char broker_pub[KP_Z85_KEY_LEN + 1];
    /* the weekly digest to contact persons: weekday (1 = Monday .. 7; 0 = off) and hour in
     * Europe/Helsinki, how many days ahead it looks, its language; the registry's ROUTER for
     * registry.person.get at delivery time */
    unsigned digest_weekday, digest_hour, digest_days;
    const char *digest_language;
    const char *registry_api;
    char registry_pub[KP_Z85_KEY_LEN + 1];
    /* the events service's ROUTER for events.signup.contact at delivery time (events-api):
     * a sign-up's name, address and phone are asked when a message is sent, never stored */
    const char *events_api;
    char events_pub[KP_Z85_KEY_LEN + 1];
} ntf_conf_t;

typedef struct ntf_dlv ntf_dlv_t;

/* The service's state (kp_service_def_t.svc; tx->svc in every unit of work). */
typedef struct {
    kp_server_t *srv;
    uv_loop_t *loop;
    kp_arena_t *plan_arena; /* scratch of the consumer's apply; reset per event */
    kp_arena_t *dlv_arena;  /* scratch of the deliverer; reset per use */
    kp_arena_t *scan_arena; /* one record of a walk over every notification; reset per record */
    ntf_conf_t conf;
    ntf_dlv_t *dlv;         /* transfers and lookups in flight (deliver.c) */
    uv_timer_t sched;       /* the schedule's next due entry (timer.c) */
    uv_timer_t digest;      /* the next digest moment (timer.c) */
    bool stopping;          /* set once by the server's stop: nothing new starts */
    int64_t retain_next_ms; /* the next history retention pass (timer.c; 0: at once) */
    bool migrated;          /* the store was upgraded at open: compact at the first pass */
    uv_signal_t hup;        /* SIGHUP: the template files are read again (config.c) */
    bool hup_on;
} ntf_t;

extern const char *const ntf_db_names[NTF_DB_N];
extern const kp_method_t ntf_methods[];
extern const unsigned ntf_methods_n;

/* ---- config.c: the settings table (KP_BOOT_ITEMS first, {0} last). */
extern kp_config_item_t ntf_config_items[];
/* The configure hook: reads and checks the service's own settings into n->conf. Returns 0 or
 * KP_ECONFIG (the setting named on stderr). */
int ntf_configure(void *svc, const kp_config_item_t *items);
/* With the server open: the server, the loop, and the lookups' endpoints and peer keys.
 * Returns 0 or KP_EKEY (logged). */
int ntf_config_start(ntf_t *n, kp_server_t *srv, const kp_boot_t *boot,
                     const kp_config_item_t *items);
/* The fini hook: frees what configure and start made. */
void ntf_fini(void *svc);

/* ---- consume.c: follows the events, expert-broker and registry logs as configured. Returns 0
 * or a KP code (logged). */
int ntf_consume_start(ntf_t *n, const kp_boot_t *boot, const kp_config_item_t *items);

/* ---- store.c: upgrades an older store (kp_store_opts_t.migrate; arg is the ntf_t). */
int ntf_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to);

/* ---- store.c: each returns 0 (with *found where a record may be absent) or a KP code
 * (store errors logged once by the record layer). Records decode into tx->arena and are valid
 * until it resets; writes go through kp_tx_wtxn. */
int ntf_rec_get(kp_tx_t *tx, const char *key, ntf_rec_t **out, bool *found);
/* Writes the record and keeps the due/by_event/dead indexes in step with its state and due
 * time; old is the stored version (NULL for a new record). */
int ntf_rec_put(kp_tx_t *tx, const ntf_rec_t *old, const ntf_rec_t *r);
/* Plans a new record: a no-op if the key exists. *planned says whether it was new. */
int ntf_rec_plan(kp_tx_t *tx, const ntf_rec_t *r, bool *planned);
/* Appends an attempt at tx->now_ms (keeping the last NTF_ATTEMPTS_KEPT) to r, in tx->arena. */
void ntf_rec_attempt(kp_tx_t *tx, ntf_rec_t *r, bool ok, const char *result);
/* The earliest entry of the schedule (due or lease end, and the key); *found false if none. */
int ntf_due_first(kp_tx_t *tx, int64_t *due_ms, char key[NTF_KEY_MAX + 1], bool *found);
/* Removes a schedule entry left without a live record. */
int ntf_due_drop(kp_tx_t *tx, int64_t due_ms, const char *key);
/* Up to limit dead letters with keys after after_key ("" : from the first), into an arena
 * array. */
int ntf_dead_page(kp_tx_t *tx, const char *after_key, uint32_t limit, ntf_rec_t ***out,
                  size_t *out_n);

int ntf_event_get(kp_tx_t *tx, uint64_t id, Kumppani__V1__EventInfo **out, bool *found);
int ntf_event_put(kp_tx_t *tx, const Kumppani__V1__EventInfo *e);
int ntf_signup_get(kp_tx_t *tx, uint64_t id, Kumppani__V1__Signup **out, bool *found);
int ntf_signup_put(kp_tx_t *tx, const Kumppani__V1__Signup *s);
/* Deletes the finished record old (DELIVERED, DEAD or CANCELLED) and its index entries. */
int ntf_rec_del(kp_tx_t *tx, const ntf_rec_t *old);
/* Forgets a sign-up (its record and its entry in the event's list). */
int ntf_signup_del(kp_tx_t *tx, uint64_t event_id, uint64_t signup_id);
/* The keys of every notification for which want(arg, record) is true, into an arena array
 * (a walk over the whole table: the personal data requests and the history retention). Each
 * record is decoded into n->scan_arena, reset for the next one, so the walk takes the same
 * memory however many records the store holds; want keeps no pointer into the record. */
int ntf_rec_scan(kp_tx_t *tx, bool (*want)(void *, const ntf_rec_t *), void *arg, char ***keys,
                 size_t *keys_n);
/* Live sign-up ids of an event into an arena array. */
int ntf_event_signups(kp_tx_t *tx, uint64_t event_id, uint64_t **ids, size_t *ids_n);
/* Keys of the notifications of an event (any state), into an arena array. */
int ntf_event_keys(kp_tx_t *tx, uint64_t event_id, char ***keys, size_t *keys_n);
/* Keys of the notifications of a broker request (any state), into an arena array. */
int ntf_request_keys(kp_tx_t *tx, uint64_t request_id, char ***keys, size_t *keys_n);
int ntf_optout_get(kp_tx_t *tx, int channel, const char *address, bool *out);
int ntf_optout_set(kp_tx_t *tx, int channel, const char *address, bool on);
int ntf_state_get(kp_tx_t *tx, const char *name, bool *on);
int ntf_state_set(kp_tx_t *tx, const char *name, bool on);

int ntf_brkreq_get(kp_tx_t *tx, uint64_t id, Kumppani__V1__BrokerRequest **out, bool *found);
int ntf_brkreq_put(kp_tx_t *tx, const Kumppani__V1__BrokerRequest *rq);

/* Municipalities as heard from the registry (MunicipalityAdded): the digest names them. */
int ntf_muni_put(kp_tx_t *tx, const Kumppani__V1__Municipality *m);
int ntf_muni_get(kp_tx_t *tx, const char *code, Kumppani__V1__Municipality **out, bool *found);
/* Up to limit opt-outs after (channel, address) ("" : from the first), into arena arrays. */
int ntf_optout_page(kp_tx_t *tx, const char *after, uint32_t limit, int **channels,
                    char ***addresses, size_t *n);
/* The keyed hash of an address (lower-cased e-mail or normalised phone) as 32 hex digits,
 * kept on a record so that notifier.sent finds what went to an address without keeping it. */
void ntf_addr_hash(const ntf_conf_t *conf, int channel, const char *address, char out[33]);

/* Current contact persons (roles of kind CONTACT_PERSON) as heard from the registry. */
int ntf_contact_put(kp_tx_t *tx, const Kumppani__V1__Role *role);
int ntf_contact_del(kp_tx_t *tx, uint64_t role_id);
/* Every stored contact role, into an arena array, by role id. */
int ntf_contacts(kp_tx_t *tx, Kumppani__V1__Role ***out, size_t *out_n);
/* Published (or rescheduled) events of municipality code starting in [from, to), by start,
 * into an arena array. */
int ntf_events_coming(kp_tx_t *tx, const char *code, int64_t from_unix, int64_t to_unix,
                      Kumppani__V1__EventInfo ***out, size_t *out_n);

/* ---- plan.c: the rules, each in the unit of work of one followed event. Return 0 or a KP
 * code (the consumer then replays the event).
 * The events service's log: sign-ups and events (and their read models), plus webhooks. */
int ntf_plan_events(kp_tx_t *tx, const Kumppani__V1__Event *ev);
/* The expert-broker's log: offers, reminders, confirmations, withdrawals (to the expert,
 * resolved at delivery time) and unfilled requests (to the coordinator); plus webhooks. */
int ntf_plan_broker(kp_tx_t *tx, const Kumppani__V1__Event *ev);
/* One webhook notification for an event of a log (ids and type only), if webhooks are set. */
int ntf_plan_webhook(kp_tx_t *tx, const Kumppani__V1__Event *ev, const char *source,
                     uint64_t event_id, uint64_t signup_id);
/* Empties s's personal fields in place (name, e-mail, phone, organisation, texts), keeping
 * has_email/has_phone: what the notifier keeps of a sign-up. */
void ntf_signup_public(Kumppani__V1__Signup *s);
/* True for the kinds whose recipient is an expert resolved at delivery time. */
/* A channel as keys and log lines name it: "email", "sms" or "webhook". */
const char *ntf_channel_name(int channel);
bool ntf_kind_expert(int kind);
/* True for the kinds to the requester of the expert broker (broker.request.get at delivery). */
bool ntf_kind_requester(int kind);
/* Plans this week's digests once the digest moment has come (no later than a day after it),
 * and sets *next_ms to the next moment to look again. */
int ntf_plan_digests(kp_tx_t *tx, int64_t *next_ms);
/* Parses "1=168,24;*=24" into conf->reminders. Returns 0 or -1. */
int ntf_plan_parse_reminders(ntf_conf_t *conf, const char *spec);
/* The next time at or after t_ms that an SMS may go out (quiet hours, Helsinki). */
int64_t ntf_quiet_next(const ntf_conf_t *conf, int64_t t_ms);

/* ---- privacy.c: personal data requests. */
/* On "SignupErased": cancels every pending notification of the sign-up, empties the name and
 * address of all of them (the history), forgets the sign-up, and compacts after the turn. */
int ntf_signup_erased(kp_tx_t *tx, uint64_t event_id, uint64_t signup_id);
/* "notifier.privacy.erase" and "notifier.privacy.export" (DataSubject by e-mail or phone). */
void ntf_h_privacy_erase(kp_call_t *call, void *svc);
void ntf_h_privacy_export(kp_call_t *call, void *svc);
/* The keys of the records sent (or tried) to address, an e-mail address or a phone number:
 * by the address hash kept on each record, or the address where one is kept (the
 * coordinator's). Into arena arrays. */
int ntf_sent_find(kp_tx_t *tx, const char *address, char ***keys, size_t *keys_n);
/* The history retention pass: deletes up to a batch of finished notifications whose last
 * activity is older than history-retention-days; *more when the batch was full. Compacts after
 * the turn when it deleted any. Returns 0 or a KP code. */
int ntf_retain(kp_tx_t *tx, bool *more);

/* ---- render.c: builds what is sent, in arena a. Each returns 0 or KP_ENOMEM/KP_EINVAL. */
typedef struct {
    char *subject;
    char *text;    /* the text part / SMS text / webhook body */
    char *ical;    /* "" if none */
    char *message; /* e-mail: the whole RFC 5322 message, CRLF line ends */
    size_t message_len;
} ntf_msg_t;
int ntf_render(const ntf_t *n, kp_arena_t *a, const ntf_rec_t *r, int64_t now_ms, ntf_msg_t *out);
/* RFC 2047 encoded-word(s) of UTF-8 text s (always encoded; never holds CR or LF). */
char *ntf_render_encoded_word(kp_arena_t *a, const char *s);
/* The SMS gateway body: the configured template with {to} (the number in international form:
 * digits with a leading '+', a Finnish national number's 0 as +358) and {text} JSON-escaped. */
char *ntf_render_sms_body(kp_arena_t *a, const char *tmpl, const char *to, const char *text);
/* The template files of dir (<kind>.<fi|sv|en>.txt; a missing one keeps the built-in text):
 * *out, or KP_ECONFIG with the file and the fault (an unknown placeholder) in err. */
int ntf_texts_load(const char *dir, ntf_texts_t **out, char *err, size_t errlen);
void ntf_texts_free(ntf_texts_t **t);
unsigned ntf_texts_files(const ntf_texts_t *t);
/* The file name stem of a kind ("signup-confirmed"), NULL for one without texts; and the
 * built-in texts of a kind and language (0 fi, 1 sv, 2 en): 0 or -1. */
const char *ntf_texts_kind_name(int kind);
int ntf_texts_builtin(int kind, int lang, const char **subject, const char **body);
/* Starts the SIGHUP watch that reloads the template files (with templates-dir set). */
int ntf_texts_watch(ntf_t *n);
/* The stable Message-ID of a key, "<hex@domain>". */
char *ntf_render_message_id(kp_arena_t *a, const char *key, const char *from);

/* ---- timer.c: starts the schedule's timers and registers the part that re-arms them (turns,
 * the test clock, stop). Returns 0 or a KP code. */
int ntf_timer_start(ntf_t *n);
/* Asks for a look at the schedule after this turn (after planning or an API change). */
void ntf_kick(ntf_t *n);

/* ---- transfer.c: e-mails, webhooks and SMS through libcurl in the service's loop. */
typedef struct ntf_xfer ntf_xfer_t;
/* A transfer ended: ok, or failed finally (an SMTP 5xx), or the endpoint is gone (HTTP 410);
 * result is "smtp 250", "http 503", "curl 7" and the like. */
typedef void (*ntf_xfer_done_fn)(void *arg, const char *key, int channel, bool ok, bool final,
                                 bool gone, const char *result);
/* Caller owns *out (ntf_xfer_close in the loop's stop, ntf_xfer_free after the loop closed),
 * also on failure. Returns 0 or a KP code. */
int ntf_xfer_new(ntf_xfer_t **out, uv_loop_t *loop, const ntf_conf_t *conf, ntf_xfer_done_fn done,
                 void *arg);
/* Queues the transfer of body (copied) for key on channel (e-mail: to rcpt) to start when the
 * turn has committed. Returns 0 or KP_ENOMEM. */
int ntf_xfer_queue(ntf_xfer_t *x, const char *key, int channel, const char *body, size_t body_len,
                   const char *rcpt);
/* Transfers queued or running. */
unsigned ntf_xfer_inflight(const ntf_xfer_t *x);
/* After a turn: starts the queued transfers (rc == 0) or drops them. */
void ntf_xfer_turn_done(ntf_xfer_t *x, int rc);
/* Abandons every transfer and closes the handles (in the server's stop). */
void ntf_xfer_close(ntf_xfer_t *x);
void ntf_xfer_free(ntf_xfer_t **x_p);

/* ---- deliver.c: leases, outcomes and recipient lookups. */
/* Opens libcurl and the lookup sockets. Returns 0 or a KP code. */
int ntf_dlv_start(ntf_t *n);
/* The deliverer's unit of work in the turn's transaction (n->dlv_arena, reset by the caller),
 * at the clock's now. Returns 0 or a KP code (logged). */
int ntf_dlv_tx(kp_tx_t *tx, ntf_t *n);
/* True while no more transfers may start (inflight-max reached, or stopping). */
bool ntf_dlv_busy(const ntf_t *n);
/* Takes the due record r (old: as stored): leases it and queues its transfer for the end of
 * the turn, or records why it is not sent, or reschedules it (quiet hours). Returns 0 or a KP
 * code. */
int ntf_dlv_take(kp_tx_t *tx, ntf_rec_t *old, ntf_rec_t *r);
/* After a turn: starts the transfers it leased (rc == 0) or drops them (they stay due). */
void ntf_dlv_turn_done(ntf_t *n, int rc);
/* Shutdown: abandons the transfers in flight (their leases bring them back) and closes. */
void ntf_dlv_stop(ntf_t *n);
/* Frees what ntf_dlv_start allocated; after the loop has closed. Accepts a never-started n. */
void ntf_dlv_free(ntf_t *n);

#endif
