/*  The events service, private header: the store layout, the service's state and the
 *  prototypes its files share.
 *
 *  Store layout (all keys big-endian so that LMDB keeps them in order):
 *      events      event_id                      -> EventInfo
 *      signups     signup_id                     -> Signup
 *      ev_signups  (kept empty: the events' lists are in the key index, index.c)
 *      ev_email    (kept empty: the e-mail index is in the key index, index.c)
 *      offers      deadline_ms . signup_id       -> (empty) open offers, earliest first
 *      reg_orgs    organisation_id               -> status byte (registry read model)
 *      reg_munis   municipality code             -> (empty) (registry read model)
 *      evt_meta    name                          -> value ("log-scrub": a migration to do)
 *  plus kp_store's meta, log, idem and offsets. A sign-up's first answer is kp_server's
 *  idempotency record under NUL . be64(signup_id) (evt_first_key; schema 3 and before keyed
 *  it source NUL external_id, still read). Every key a sign-up adds above arrives in order.
 *
 *  The key index (index.c, <data-dir>/index, not synced, rebuilt or caught up at start): the
 *  publisher's own id -> signup_id; per event, the e-mail address -> signup_id of the live
 *  sign-up (one per person) and the phone number -> signup_id of the live sign-ups; and each
 *  event's list, event_id . signup_id -> state byte (list and waitlist order). It finds a
 *  resend or a duplicate address or phone number (the record in the store confirms every hit)
 *  and walks an event's sign-ups.
 *
 *  No state lives outside the store: a failed turn leaves nothing to undo in memory. The
 *  offer timer is armed from the offers table (its earliest key) after every turn that
 *  touched offers, when the test clock moves, and at start, so it survives restarts.
 *
 *  Files (the anatomy every service shares): main.c (wiring, kp_boot_main), api.c (the method
 *  table and field rules), event.c (events and series), signup.c (sign-ups, capacity, role
 *  balance, waitlist, offers; its rules take plain values), attendance.c (marking who came,
 *  one sign-up or many), privacy.c (erasure and export of a person's sign-ups), report.c
 *  (statistics, door CSV, iCalendar), timer.c (the offer deadline timer), offer.c (a
 *  coordinator promotes from the waitlist or extends an offer), consume.c (the registry's
 *  log), store.c (the tables, calling mdb_*), index.c (the key index, the other file calling
 *  mdb_*). Every handler and helper works on a kp_tx_t whose svc is the evt_svc_t below. */
#ifndef EVT_EVENTS_H
#define EVT_EVENTS_H

#include "kp_arena.h"
#include "kp_boot.h"
#include "kp_server.h"
#include "kp_tx.h"
#include "kumppani/v1/events.pb-c.h"

#include <stdbool.h>
#include <uv.h>

enum {
    EVT_DB_EVENTS,
    EVT_DB_SIGNUPS,
    EVT_DB_EV_SIGNUPS,
    EVT_DB_EV_EMAIL,
    EVT_DB_OFFERS,
    EVT_DB_REG_ORGS,
    EVT_DB_REG_MUNIS,
    EVT_DB_META,
    EVT_DB_N
};

#define EVT_SCHEMA_VERSION 4
#define EVT_METHOD_SUBMIT "events.signup.submit"
#define EVT_MAX_COMPANIONS 20

#define EVT_C(x) KUMPPANI__V1__CODE__CODE_##x
/* A sign-up state by its short name: SS(WAITLISTED). */
#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x

/* Public: published at some time (not a draft, nor a draft cancelled). */
#define EVT_PUBLIC(ev)                                                                             \
    ((ev)->state != KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT && !(ev)->cancelled_as_draft)

#define EVT_OPEN(ev)                                                                               \
    ((ev)->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED ||                            \
     (ev)->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_RESCHEDULED)

typedef Kumppani__V1__EventInfo evt_event_t;
typedef Kumppani__V1__Signup evt_signup_t;

typedef struct evt_index evt_index_t;

/* The service's own state: handles only, nothing derived from the store but the key index,
 * which the store confirms (index.c). */
typedef struct {
    kp_server_t *srv;
    evt_index_t *index;    /* the key index (index.c) */
    const char *index_dir; /* index-dir: where it lives; "" for <data-dir>/index */
    bool registry;         /* following the registry: organisers are checked against its model */
    bool offers_dirty;     /* this turn wrote the offers table: re-arm the timer after it */
    bool timer_started;
    bool scrub_checked;        /* the timer's first pass looked for a log scrub to finish */
    int64_t retention_ms;      /* retention-days: personal data kept this long after the end */
    int64_t retention_next_ms; /* the next retention pass (0: at the next timer pass) */
    uv_timer_t offer_timer;
    kp_arena_t *arena; /* for work outside calls (the offer timer, the registry's events) */
} evt_svc_t;

/* The service's state of a unit of work (kp_tx_t.svc). */
#define EVT_SVC(tx) ((evt_svc_t *)(tx)->svc)

/* ---- api.c: the method table and the field rules --------------------------------------------
 * Each rule answers the call CODE_INVALID (naming the field, never the value) and returns
 * false, or returns true. Those taking a kp_tx_t answer its call and may read the store. */
extern const kp_method_t evt_methods[];
extern const unsigned evt_methods_n;

bool evt_source_ok(kp_call_t *call, const char *v);
bool evt_url_ok(kp_call_t *call, const char *field, const char *v, bool required);
bool evt_municipality_ok(kp_tx_t *t, const char *field, const char *v);
bool evt_times_ok(kp_call_t *call, int64_t now_s, int64_t start, int64_t end, int64_t deadline);
bool evt_capacity_ok(kp_call_t *call, uint32_t capacity);
bool evt_role_rules_ok(kp_call_t *call, uint32_t capacity, Kumppani__V1__RoleRule **rules,
                       size_t n);
bool evt_organiser_ok(kp_tx_t *t, uint64_t org, const char *muni);
bool evt_offer_window_ok(kp_call_t *call, uint32_t m);
bool evt_convener_ok(kp_call_t *call, int kind, uint64_t person_id);
bool evt_create_fields_ok(kp_tx_t *t, const Kumppani__V1__CreateEventRequest *rq);
bool evt_signup_fields_ok(kp_call_t *call, const Kumppani__V1__SubmitSignupRequest *rq);

/* ---- handlers (event.c, signup.c, report.c) ------------------------------------------------ */
void evt_h_event_create(kp_call_t *call, void *svc);
void evt_h_event_update(kp_call_t *call, void *svc);
void evt_h_event_publish(kp_call_t *call, void *svc);
void evt_h_event_reschedule(kp_call_t *call, void *svc);
void evt_h_event_cancel(kp_call_t *call, void *svc);
void evt_h_event_held(kp_call_t *call, void *svc);
void evt_h_event_get(kp_call_t *call, void *svc);
void evt_h_event_list(kp_call_t *call, void *svc);
void evt_h_series_create(kp_call_t *call, void *svc);
void evt_h_series_update(kp_call_t *call, void *svc);
void evt_h_series_extend(kp_call_t *call, void *svc);
void evt_h_signup_submit(kp_call_t *call, void *svc);
/* events.signup.cancel and (op EVT_LEAVE) events.signup.leave_waitlist. */
enum { EVT_CANCEL, EVT_LEAVE };
void evt_h_signup_withdraw(kp_call_t *call, void *svc);
void evt_h_signup_accept(kp_call_t *call, void *svc);
void evt_h_signup_decline(kp_call_t *call, void *svc);
void evt_h_signup_get(kp_call_t *call, void *svc);
void evt_h_signup_list(kp_call_t *call, void *svc);
void evt_h_signup_attendance(kp_call_t *call, void *svc);
void evt_h_signup_attendance_bulk(kp_call_t *call, void *svc);
void evt_h_signup_contact(kp_call_t *call, void *svc);
void evt_h_privacy_erase(kp_call_t *call, void *svc);
void evt_h_privacy_export(kp_call_t *call, void *svc);
void evt_h_door_csv(kp_call_t *call, void *svc);
void evt_h_stats(kp_call_t *call, void *svc);
void evt_h_ical_event(kp_call_t *call, void *svc);
void evt_h_ical_feed(kp_call_t *call, void *svc);
/* offer.c: a coordinator promotes a waitlisted sign-up, or extends an open offer. */
void evt_h_signup_promote(kp_call_t *call, void *svc);
void evt_h_signup_extend_offer(kp_call_t *call, void *svc);

/* event.c: "draft", "published", ... for messages. */
const char *evt_state_name(int state);

/* event.c: opens the call (kp_tx_open) of a handler whose request is an EventRef and loads
 * its event: the event, or NULL after answering (as evt_load_event). */
evt_event_t *evt_open_event(kp_tx_t *t, kp_call_t *call, void *svc);

/* event.c: whether a walk keeps ev; arg is the walk's. */
typedef bool evt_keep_fn(const void *arg, const evt_event_t *ev);
/* A walk over the events (evt_events_where): keep (NULL: every event) decides with arg; the
 * first cap events kept land in v (in the unit's arena), n of them. */
typedef struct {
    evt_keep_fn *keep;
    const void *arg;
    size_t cap;
    evt_event_t **v;
    size_t n;
} evt_where_t;
/* event.c: walks the events with id > after_id, ascending, looking at no more than scan of
 * them, and stops when w->cap are kept. Returns 0 or a KP code. */
int evt_events_where(kp_tx_t *t, uint64_t after_id, unsigned scan, evt_where_t *w);

/* ---- signup.c ------------------------------------------------------------------------------ */

/* The public copy of s (shallow, into *out): every personal field (name, e-mail, phone,
 * organisation, accessibility and diet texts) empty, has_email/has_phone set. What the log
 * carries and what an erased sign-up keeps. */
void evt_signup_public(const evt_signup_t *s, evt_signup_t *out);

/* Appends the sign-up event type carrying s's public copy (a SignupReply): the log is
 * replayed to every consumer and reader key, forever. Returns 0 or a KP code. */
int evt_signup_emit(kp_tx_t *t, const char *type, const evt_signup_t *s);

/* The rules, on plain values (no store): places of a sign-up (1 + companions); whether p
 * places of role fit the event now; the state of a new sign-up (CONFIRMED if it fits whole,
 * else WAITLISTED); the index in waiting (in order of arrival) of the first waitlisted sign-up
 * that fits whole, or n. */
uint32_t evt_places(const evt_signup_t *s);
bool evt_fits(const evt_event_t *ev, int role, uint32_t places);
/* The most places a sign-up of role can ever hold in an event of this capacity (0: none) with
 * these role rules, however empty the event: the capacity, the role's max_n and its
 * max_percent of the capacity (reservations are left out: a coordinator may release them).
 * UINT32_MAX when nothing caps it. A group larger than this would wait for ever. */
/* report.c: a role as the CLI and the door list write it ("civil-servant") into buf (48
 * bytes), which it returns. */
const char *evt_role_name(int role, char *buf);

uint32_t evt_cap_for(uint32_t capacity, Kumppani__V1__RoleRule *const *rules, size_t n_rules,
                     int role);
int evt_arrival_state(const evt_event_t *ev, const evt_signup_t *s);
size_t evt_next_promoted(const evt_event_t *ev, evt_signup_t *const *waiting, size_t n);
/* Adds (sign = 1) or removes (sign = -1) the sign-up's places under state in the event's
 * counts (a new role count entry goes into arena a). Returns 0 or KP_ENOMEM. */
int evt_count(kp_arena_t *a, evt_event_t *ev, const evt_signup_t *s, int state, int sign);

/* Fills freed places from the waitlist (promotes, or offers when the event is so
 * configured), first fitting sign-up first. Returns 0 or a KP code. */
int evt_fill(kp_tx_t *t, evt_event_t *ev);
/* Cancels the live sign-up s of ev with reason and fills the place it frees. Returns 0 or a
 * KP code. */
int evt_signup_cancel(kp_tx_t *t, evt_event_t *ev, evt_signup_t *s, const char *reason);

/* A walk's step over a sign-up record (evt_signup_records): state is its indexed state;
 * non-zero stops the walk. */
typedef int evt_signup_fn(void *arg, evt_signup_t *s, int state);
/* Calls fn with the record of each of the event's sign-ups with id > after_id, ascending (as
 * evt_signups_each: at most limit index entries), whose indexed state is in states (a mask of
 * 1u << state; 0: every state); an entry whose record is gone is skipped, and the record of a
 * state not asked for is not read. Returns 0 or a KP code (the walk's or the record read's). */
int evt_signup_records(kp_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                       unsigned states, evt_signup_fn *fn, void *arg);

/* ---- privacy.c ------------------------------------------------------------------------------ */

/* Erases the personal data of sign-up s (privacy.c explains the steps): cancels it first if
 * cancel and it is live, keeps its public copy, drops its e-mail index entry, rewrites its
 * idempotency record, logs "SignupErased" (reason "request" or "retention") and asks for a
 * compaction. Returns 0 or a KP code. */
int evt_signup_erase(kp_tx_t *t, evt_signup_t *s, const char *reason, bool cancel);

/* Ends an open offer (declined or expired): the sign-up is cancelled with reason and the
 * place passes on. Returns 0 or a KP code. */
int evt_offer_end(kp_tx_t *t, evt_signup_t *s, const char *reason);
/* The ids of the event's sign-ups that are not cancelled, into the arena. */
int evt_live_signups(kp_tx_t *t, uint64_t event_id, uint64_t **ids, size_t *n);

/* ---- timer.c, consume.c --------------------------------------------------------------------- */

/* Reads retention-days (KP_ECONFIG, logged, outside 1..3650) and starts the offer and
 * retention timer and its kp_server_part_t (turn_done, clock_moved, stop). Returns 0 or
 * a KP code. */
int evt_timer_start(evt_svc_t *svc, const kp_config_item_t *items);
/* Runs the timer's pass soon (at start and when the offers or the clock changed). */
void evt_timer_poke(evt_svc_t *svc);
/* Follows the registry's log when registry-api and registry-pub are set (kp_boot_follow);
 * sets svc->registry. Returns 0 or a KP code (logged). */
int evt_consume_start(evt_svc_t *svc, const kp_boot_t *boot, const kp_config_item_t *items);

/* ---- store.c -------------------------------------------------------------------------------
 * Records are decoded into the unit's arena and valid for it. Each returns 0 (with *found
 * where a record may be absent) or a KP error code, logged once by kp_tx. */
extern const char *const evt_db_names[EVT_DB_N];

/* Upgrades a store of schema `from` to this program's (kp_store_opts_t.migrate). */
int evt_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to);
/* Finishes a migration to schema 3 when its marker is set: every sign-up event on the log is
 * rewritten to its public copy (kp_store_log_rewrite), the marker deleted, the store compacted
 * after the turn. Returns 0 or a KP code. */
int evt_log_scrub(kp_tx_t *t);

int evt_event_get(kp_tx_t *t, uint64_t id, evt_event_t **out, bool *found);
int evt_event_put(kp_tx_t *t, const evt_event_t *ev);
int evt_signup_get(kp_tx_t *t, uint64_t id, evt_signup_t **out, bool *found);
/* Stores the sign-up (the store) and its state byte in the event's list (the key index). */
int evt_signup_put(kp_tx_t *t, const evt_signup_t *s);
/* Open offers; both mark svc->offers_dirty. */
int evt_offer_put(kp_tx_t *t, int64_t deadline_ms, uint64_t signup_id);
int evt_offer_del(kp_tx_t *t, int64_t deadline_ms, uint64_t signup_id);
/* The earliest open offers: up to n (deadline, signup) pairs into the arrays. */
int evt_offers_first(kp_tx_t *t, unsigned n, int64_t *deadline_ms, uint64_t *signup_id,
                     unsigned *got);
int evt_reg_org_get(kp_tx_t *t, uint64_t org_id, int *status, bool *found);
int evt_reg_org_put(kp_tx_t *t, uint64_t org_id, int status);
int evt_reg_org_del(kp_tx_t *t, uint64_t org_id);
int evt_reg_muni_get(kp_tx_t *t, const char *code, bool *found);
int evt_reg_muni_put(kp_tx_t *t, const char *code);

/* A sign-up's idempotency key, the publisher's own id: source NUL external_id, into key
 * (EVT_EXT_KEY_MAX bytes; the field rules bound source to 64 bytes and external_id to
 * EVT_EXT_ID_MAX_LEN bytes). Returns its length. */
#define EVT_EXT_ID_MAX_LEN 256
#define EVT_EXT_KEY_MAX (64 + 1 + EVT_EXT_ID_MAX_LEN)
size_t evt_ext_key(char *key, const char *source, const char *external_id);

/* external_id's rule (api.c): 1..128 characters, at most EVT_EXT_ID_MAX_LEN bytes. */
bool evt_external_id_ok(kp_call_t *call, const char *v);

/* ---- index.c: the key index ----------------------------------------------------------------
 * Opens <data-dir>/index, rebuilds it or catches it up from the log before the first request,
 * and joins it to the turn (a kp_server_part_t). Returns 0 or a KP code (logged). */
int evt_index_open(evt_svc_t *svc);
/* Closes it (after kp_server's stop); accepts a service without one. */
void evt_index_close(evt_svc_t *svc);

/* The live sign-up of this e-mail address (compared in lower case) in the event: *found and
 * *signup_id. Returns 0 or a KP code. */
int evt_email_get(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t *signup_id,
                  bool *found);
int evt_email_put(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t signup_id);
int evt_email_del(kp_tx_t *t, uint64_t event_id, const char *email);
/* The live sign-up of this phone number (compared in one form, kp_privacy_phone_norm) in the
 * event, unless both it and the new sign-up (email: its address, "" without one) give an
 * e-mail address: *found and *signup_id. A number without a digit is never found nor put. */
int evt_phone_get(kp_tx_t *t, uint64_t event_id, const char *phone, const char *email,
                  uint64_t *signup_id, bool *found);
int evt_phone_put(kp_tx_t *t, uint64_t event_id, const char *phone, uint64_t signup_id);
int evt_phone_del(kp_tx_t *t, uint64_t event_id, const char *phone, uint64_t signup_id);
/* The sign-up submitted with (source, external_id), and recording a new one. */
int evt_signup_by_ext(kp_tx_t *t, const char *source, const char *external_id, uint64_t *signup_id,
                      bool *found);
int evt_ext_put(kp_tx_t *t, const char *source, const char *external_id, uint64_t signup_id);
/* The sign-up's entry in its event's list (evt_signup_put; walked by evt_signups_each). */
int evt_list_put(kp_tx_t *t, uint64_t event_id, uint64_t signup_id, int state);

/* ---- keyhash.c: the index's (tag, signup_id) tables, in memory, a file each -------------
 * evt_kh_open reads the table of path into memory, or (fresh) makes a new empty one for about
 * `entries` pairs, written at its first save; 0 or a KP code (-ENOENT: no such file,
 * KP_ECORRUPT: not such a table, -errno). put adds the pair unless it is there (growing the
 * table first when needed); del clears it; each calls fn with every id under tag until fn
 * returns non-zero, which it returns. Tags of 0 and 1 are the same tag. put_many puts n pairs
 * (growing the table once for all of them first).
 * evt_kh_save writes every changed part and then the header saying the file reflects the log
 * through `through` (fdatasync when sync; a new or grown table goes to a new file, synced,
 * renamed over the old). evt_kh_flush continues a save pass, writing at most `parts` changed
 * parts; when the pass ends, the header says `head` as it was when the pass began. Both
 * return 0 or -errno (logged); what failed stays to be written. evt_kh_through is what the
 * file (as read, or last saved) vouches for; evt_kh_parts the table's number of parts. */
typedef struct evt_khash evt_khash_t;
int evt_kh_open(evt_khash_t **out, const char *path, uint64_t entries, bool fresh);
int evt_kh_save(evt_khash_t *h, uint64_t through, bool sync);
int evt_kh_flush(evt_khash_t *h, uint64_t head, size_t parts);
uint64_t evt_kh_through(const evt_khash_t *h);
size_t evt_kh_parts(const evt_khash_t *h);
void evt_kh_close(evt_khash_t *h);
uint64_t evt_kh_live(const evt_khash_t *h);
int evt_kh_put(evt_khash_t *h, uint64_t tag, uint64_t id);
typedef struct {
    uint64_t tag, id;
} evt_kh_pair_t;
int evt_kh_put_many(evt_khash_t *h, const evt_kh_pair_t *pairs, size_t n);
void evt_kh_del(evt_khash_t *h, uint64_t tag, uint64_t id);
int evt_kh_each(const evt_khash_t *h, uint64_t tag, int (*fn)(void *, uint64_t), void *arg);

/* The key of a sign-up's first answer in kp_server's idempotency records (kp_call_idem_at):
 * NUL . be64(signup_id), in the order sign-ups arrive. Returns its length. */
#define EVT_FIRST_KEY_LEN 9
size_t evt_first_key(uint8_t key[EVT_FIRST_KEY_LEN], uint64_t signup_id);

/* In a call: the event (or sign-up) with this id, or NULL after answering INVALID (id 0:
 * "field 'event_id' (or 'signup_id'): required"), NOT_FOUND "<what> <id> not found" or the
 * store error. */
evt_event_t *evt_load_event(kp_tx_t *t, uint64_t id);
evt_signup_t *evt_load_signup(kp_tx_t *t, uint64_t id);

/* Calls fn for the event's sign-ups with id > after_id, ascending, until it returns non-zero
 * or limit is reached; state is the indexed state byte. */
int evt_signups_each(kp_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                     int (*fn)(void *, uint64_t, int), void *arg);

/* Calls fn for every sign-up (the signups table, by id) until it returns non-zero. */
int evt_signups_scan(kp_tx_t *t, int (*fn)(void *, evt_signup_t *), void *arg);

/* Events with id > after_id, ascending. */
int evt_events_each(kp_tx_t *t, uint64_t after_id, unsigned limit, int (*fn)(void *, evt_event_t *),
                    void *arg);

#endif
