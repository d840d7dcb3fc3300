/*  web/store.c: the read model, the only file of the web that reaches LMDB (through kp_tx).
 *
 *  events   event id (u64 BE) -> EventInfo as the events log last described it, for events
 *           that are or were public (published, rescheduled, cancelled, held); drafts never.
 *  starts   start_unix (u64 BE, the sign bit flipped) + event id -> "": the calendar walks it
 *           in time order. Kept equal to events: a put removes the old start's entry.
 *  signups  sign-up id (u64 BE) -> a Signup holding only id, event_id, state, companions and
 *           offer_deadline_ms: what keeps free places right and lets a personal page show the
 *           state. No name, contact or need is ever written here.
 *  munis    municipality code as a number (u64 BE) -> Municipality, as the registry's log
 *           last named it: public facts, shown instead of codes. */
#include "kp_err.h"
#include "kp_store.h" /* kp_be64_put/get */
#include "web.h"

#include <stdlib.h>
#include <string.h>

const char *const web_db_names[WEB_DB_N] = {"events", "starts",   "signups", "accounts",
                                            "users",  "sessions", "audit",   "munis"};

static void
s_start_key(unsigned char *k, int64_t start, uint64_t id)
{
    kp_be64_put(k, (uint64_t)start ^ (1ull << 63));
    kp_be64_put(k + 8, id);
}

KP_REC_ID_GET(web_store_event_get, WEB_DB_EVENTS, web_event_t, kumppani__v1__event_info__descriptor)

int
web_store_event_put(kp_tx_t *tx, const web_event_t *ev)
{
    web_event_t *old;
    bool found;
    int rc = web_store_event_get(tx, ev->id, &old, &found);
    if (rc)
        return rc;
    unsigned char k[16];
    if (found && old->start_unix != ev->start_unix) {
        s_start_key(k, old->start_unix, ev->id);
        if ((rc = kp_raw_del(tx, WEB_DB_STARTS, k, sizeof k, NULL)))
            return rc;
    }
    s_start_key(k, ev->start_unix, ev->id);
    if ((rc = kp_raw_put(tx, WEB_DB_STARTS, k, sizeof k, "", 0)))
        return rc;
    return kp_rec_put_id(tx, WEB_DB_EVENTS, ev->id, &ev->base);
}

int
web_store_event_del(kp_tx_t *tx, uint64_t id)
{
    web_event_t *old;
    bool found;
    int rc = web_store_event_get(tx, id, &old, &found);
    if (rc || !found)
        return rc;
    unsigned char k[16];
    s_start_key(k, old->start_unix, id);
    if ((rc = kp_raw_del(tx, WEB_DB_STARTS, k, sizeof k, NULL)))
        return rc;
    return kp_rec_del_id(tx, WEB_DB_EVENTS, id);
}

typedef struct {
    int (*fn)(void *arg, web_event_t *ev);
    void *arg;
} walk_t;

static int
s_event(void *arg, void *rec)
{
    walk_t *w = arg;
    return w->fn(w->arg, rec);
}

int
web_store_events_from(kp_tx_t *tx, int64_t from_unix, int (*fn)(void *arg, web_event_t *ev),
                      void *arg)
{
    unsigned char k[16];
    s_start_key(k, from_unix, 0);
    walk_t w = {fn, arg};
    return kp_rec_each_idx(tx, WEB_DB_STARTS, k, sizeof k, NULL, 0, sizeof k, WEB_DB_EVENTS,
                           &kumppani__v1__event_info__descriptor, s_event, &w);
}

KP_REC_ID_GET(web_store_signup_get, WEB_DB_SIGNUPS, Kumppani__V1__Signup,
              kumppani__v1__signup__descriptor)

int
web_store_signup_put(kp_tx_t *tx, const Kumppani__V1__Signup *s)
{
    Kumppani__V1__Signup m = KUMPPANI__V1__SIGNUP__INIT;
    m.id = s->id;
    m.event_id = s->event_id;
    m.state = s->state;
    m.companions = s->companions;
    m.offer_deadline_ms = s->offer_deadline_ms;
    return kp_rec_put_id(tx, WEB_DB_SIGNUPS, m.id, &m.base);
}

/* A municipality's code ("743") as a number; 0 when it is not one. */
static uint64_t
s_muni_code(const char *code)
{
    if (!code || !code[0] || strlen(code) > 8 || strspn(code, "0123456789") != strlen(code))
        return 0;
    return strtoull(code, NULL, 10);
}

int
web_store_muni_put(kp_tx_t *tx, const Kumppani__V1__Municipality *m)
{
    uint64_t c = s_muni_code(m->code);
    return c ? kp_rec_put_id(tx, WEB_DB_MUNIS, c, &m->base) : 0;
}

int
web_store_muni_get(kp_tx_t *tx, const char *code, Kumppani__V1__Municipality **out, bool *found)
{
    uint64_t c = s_muni_code(code);
    *found = false;
    return c ? kp_rec_get_id(tx, WEB_DB_MUNIS, c, &kumppani__v1__municipality__descriptor,
                             (void **)out, found)
             : 0;
}
