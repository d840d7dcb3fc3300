/*  The events service, private header.
 *
 *  Store layout (all keys big-endian so that LMDB keeps them in order):
 *      events      event_id                      -> EventInfo
 *      signups     signup_id                     -> Signup
 *      ev_signups  event_id . signup_id          -> state byte (list and waitlist order)
 *      ev_email    event_id . lower-case e-mail  -> signup_id (one live sign-up per person)
 *  plus kp_store's meta, log, idem and offsets. A sign-up's idempotency record (source and
 *  external id -> first reply) is also how a cancel by the publisher's own id finds it.
 *
 *  No state lives outside the store: a failed turn leaves nothing to undo in memory. */
#ifndef EVT_EVENTS_H
#define EVT_EVENTS_H

#include "kp_server.h"
#include "kumppani/v1/events.pb-c.h"

#include <stdbool.h>

enum { EVT_DB_EVENTS, EVT_DB_SIGNUPS, EVT_DB_EV_SIGNUPS, EVT_DB_EV_EMAIL, EVT_DB_N };

#define EVT_SCHEMA_VERSION 1
#define EVT_METHOD_SUBMIT "events.signup.submit"

typedef Kumppani__V1__EventInfo evt_event_t;
typedef Kumppani__V1__Signup evt_signup_t;

extern const char *const evt_db_names[EVT_DB_N];
extern const kp_method_t evt_methods[];
extern const unsigned evt_methods_n;

/* store.c: records are decoded into the call's arena and valid for the call. Each returns 0
 * (with *found where a record may be absent) or a KP error code. */
int evt_event_get(kp_call_t *call, uint64_t id, evt_event_t **out, bool *found);
int evt_event_put(kp_call_t *call, const evt_event_t *ev);
int evt_signup_get(kp_call_t *call, uint64_t id, evt_signup_t **out, bool *found);
int evt_signup_put(kp_call_t *call, const evt_signup_t *s);
int evt_email_get(kp_call_t *call, uint64_t event_id, const char *email, uint64_t *signup_id,
                  bool *found);
int evt_email_put(kp_call_t *call, uint64_t event_id, const char *email, uint64_t signup_id);
int evt_email_del(kp_call_t *call, uint64_t event_id, const char *email);

/* Finds the sign-up submitted with (source, external_id) through its idempotency record. */
int evt_signup_by_ext(kp_call_t *call, const char *source, const char *external_id,
                      uint64_t *signup_id, bool *found);

/* The earliest waitlisted sign-up of an event. */
int evt_first_waitlisted(kp_call_t *call, uint64_t event_id, uint64_t *signup_id, bool *found);

/* Calls fn for the event's sign-ups with id > after_id, ascending, until it returns non-zero
 * or limit is reached. */
int evt_signups_each(kp_call_t *call, uint64_t event_id, uint64_t after_id, unsigned limit,
                     int (*fn)(void *, uint64_t), void *arg);

/* Events with id > after_id, ascending. */
int evt_events_each(kp_call_t *call, uint64_t after_id, unsigned limit,
                    int (*fn)(void *, evt_event_t *), void *arg);

#endif
