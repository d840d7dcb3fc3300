/*  The events service, private header.
 *
 *  Store layout (all keys big-endian so that LMDB keeps them in order):
 *      events      event_id                      -> EventInfo
 *      signups     signup_id                     -> Signup
 *      ev_signups  event_id . signup_id          -> state byte (list and waitlist order)
 *      ev_email    event_id . lower-case e-mail  -> signup_id (one live sign-up per person)
 *      offers      deadline_ms . signup_id       -> (empty) open offers, earliest first
 *      reg_orgs    organisation_id               -> status byte (registry read model)
 *      reg_munis   municipality code             -> (empty) (registry read model)
 *  plus kp_store's meta, log, idem and offsets. A sign-up's idempotency record (source and
 *  external id -> first reply) is also how a cancel by the publisher's own id finds it.
 *
 *  No state lives outside the store: a failed turn leaves nothing to undo in memory. The
 *  offer timer is armed from the offers table (its earliest key) after every turn that
 *  touched offers and at start, so it survives restarts.
 *
 *  Files: api.c (events: create, update, lifecycle, series), signup.c (sign-ups, capacity,
 *  role rules, waitlist, offers, attendance), report.c (statistics, door CSV, iCalendar),
 *  offers.c (the offer deadline timer), registry.c (the registry read model), store.c. */
#ifndef EVT_EVENTS_H
#define EVT_EVENTS_H

#include "kp_arena.h"
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
    EVT_DB_N
};

#define EVT_SCHEMA_VERSION 2
#define EVT_METHOD_SUBMIT "events.signup.submit"

#define EVT_OPEN(ev)                                                                               \
    ((ev)->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED ||                            \
     (ev)->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_RESCHEDULED)

typedef Kumppani__V1__EventInfo evt_event_t;
typedef Kumppani__V1__Signup evt_signup_t;

/* The service's own state: handles and settings only, nothing derived from the store. */
typedef struct {
    kp_server_t *srv;
    bool registry; /* following the registry: organisers are checked against its model */
    bool offers_dirty;
    bool timer_started;
    uv_timer_t offer_timer;
    kp_arena_t *arena; /* for work outside calls (the offer timer) */
} evt_svc_t;

/* The service's state of a unit of work (kp_tx_t.svc). */
#define EVT_SVC(tx) ((evt_svc_t *)(tx)->svc)

extern const char *const evt_db_names[EVT_DB_N];

/* store.c: upgrades a store of schema `from` to this program's (kp_store_opts_t.migrate). */
int evt_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to);
extern const kp_method_t evt_methods[];
extern const unsigned evt_methods_n;

/* store.c: records are decoded into the unit's arena and valid for it. Each returns 0
 * (with *found where a record may be absent) or a KP error code. */
int evt_event_get(kp_tx_t *t, uint64_t id, evt_event_t **out, bool *found);
int evt_event_put(kp_tx_t *t, const evt_event_t *ev);
int evt_signup_get(kp_tx_t *t, uint64_t id, evt_signup_t **out, bool *found);
int evt_signup_put(kp_tx_t *t, const evt_signup_t *s);
int evt_email_get(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t *signup_id,
                  bool *found);
int evt_email_put(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t signup_id);
int evt_email_del(kp_tx_t *t, uint64_t event_id, const char *email);
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

/* Finds the sign-up submitted with (source, external_id) through its idempotency record. */
int evt_signup_by_ext(kp_tx_t *t, const char *source, const char *external_id, uint64_t *signup_id,
                      bool *found);

/* Calls fn for the event's sign-ups with id > after_id, ascending, until it returns non-zero
 * or limit is reached; state is the indexed state byte. */
int evt_signups_each(kp_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                     int (*fn)(void *, uint64_t, int), void *arg);

/* Events with id > after_id, ascending. */
int evt_events_each(kp_tx_t *t, uint64_t after_id, unsigned limit, int (*fn)(void *, evt_event_t *),
                    void *arg);

/* signup.c */
/* Fills freed places from the waitlist (promotes, or offers when the event is so
 * configured), first fitting sign-up first. Returns 0 or a KP code. */
int evt_fill(kp_tx_t *t, evt_event_t *ev);
/* Ends an open offer (declined or expired): the sign-up is cancelled with reason and the
 * place passes on. Returns 0 or a KP code. */
int evt_offer_end(kp_tx_t *t, evt_signup_t *s, const char *reason);
/* The ids of the event's sign-ups that are not cancelled, into the arena. */
int evt_live_signups(kp_tx_t *t, uint64_t event_id, uint64_t **ids, size_t *n);

/* offers.c */
int evt_offers_start(evt_svc_t *svc);
void evt_offers_poke(evt_svc_t *svc);

/* registry.c: follows the registry when api and pub are given. */
int evt_registry_start(evt_svc_t *svc, const char *api, const char *pub, const char *server_pub,
                       const kp_keypair_t *keys);

/* Shared handlers (api.c, signup.c, report.c). */
void evt_h_signup_submit(kp_call_t *call, void *svc);
void evt_h_signup_cancel(kp_call_t *call, void *svc);
void evt_h_signup_accept(kp_call_t *call, void *svc);
void evt_h_signup_decline(kp_call_t *call, void *svc);
void evt_h_signup_leave(kp_call_t *call, void *svc);
void evt_h_signup_list(kp_call_t *call, void *svc);
void evt_h_signup_attendance(kp_call_t *call, void *svc);
void evt_h_door_csv(kp_call_t *call, void *svc);
void evt_h_stats(kp_call_t *call, void *svc);
void evt_h_ical_event(kp_call_t *call, void *svc);
void evt_h_ical_feed(kp_call_t *call, void *svc);

/* Helpers shared by the handler files (api.c). */
evt_event_t *evt_load_event(kp_tx_t *t, uint64_t id);
evt_signup_t *evt_load_signup(kp_tx_t *t, uint64_t id);
const char *evt_state_name(int state);
bool evt_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max);
bool evt_source_ok(kp_call_t *call, const char *v);
bool evt_language_ok(kp_call_t *call, const char *v);
bool evt_municipality_ok(kp_call_t *call, kp_tx_t *t, const char *field, const char *v);

#define EVT_C(x) KUMPPANI__V1__CODE__CODE_##x

#endif
