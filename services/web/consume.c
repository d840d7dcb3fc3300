/*  web/consume.c: follows the events log (kp_boot_follow) into the read model.
 *
 *  Event* types carry the whole EventInfo at that point of the log (EventReply, or the event
 *  of an EventChanged): it replaces the stored copy, counts included; a draft is never kept,
 *  nor a draft cancelled (EventInfo.cancelled_as_draft).
 *  Signup* types carry a sign-up: the stored event's counts move from the sign-up's previous
 *  state to its new one (the same rules as the events service: confirmed_n, offered_n and
 *  waitlisted_n count places, 1 + companions), so free places stay right between Event*
 *  events. Applied in the server's turn with the log offset, so each event has its effect
 *  exactly once (kp_consumer). Only ids, states and counts are kept (web.h).
 *
 *  With registry-pub set the registry's log is followed too (source "registry"): each
 *  MunicipalityAdded stores the municipality's names, so pages show names instead of codes. */
#include "kp_err.h"
#include "kp_log.h"
#include "web.h"

#include <string.h>

#define ES(x) KUMPPANI__V1__EVENT_STATE__EVENT_STATE_##x
#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x

static uint32_t *
s_counter(web_event_t *ev, int state)
{
    return state == SS(CONFIRMED)    ? &ev->confirmed_n
           : state == SS(OFFERED)    ? &ev->offered_n
           : state == SS(WAITLISTED) ? &ev->waitlisted_n
                                     : NULL;
}

static int
s_event(kp_tx_t *tx, web_event_t *ev)
{
    if (!ev)
        return 0;
    if (ev->state == ES(DRAFT) || ev->state == ES(UNSPECIFIED) || ev->cancelled_as_draft)
        return web_store_event_del(tx, ev->id); /* never public */
    return web_store_event_put(tx, ev);
}

static int
s_signup(kp_tx_t *tx, const Kumppani__V1__Signup *s)
{
    if (!s)
        return 0;
    Kumppani__V1__Signup *old;
    bool had;
    int rc = web_store_signup_get(tx, s->id, &old, &had);
    if (rc)
        return rc;
    web_event_t *ev;
    bool found;
    if ((rc = web_store_event_get(tx, s->event_id, &ev, &found)))
        return rc;
    if (found && (!had || old->state != s->state)) {
        uint32_t *n;
        if (had && (n = s_counter(ev, old->state))) {
            uint32_t p = 1 + old->companions;
            *n = *n >= p ? *n - p : 0;
        }
        if ((n = s_counter(ev, s->state)))
            *n += 1 + s->companions;
        if ((rc = web_store_event_put(tx, ev)))
            return rc;
    }
    return web_store_signup_put(tx, s);
}

/* The unit of work of one followed event (arg: the web_svc_t), on a fresh consume arena. */
static int
s_tx(void *arg, kp_server_t *srv, MDB_txn *txn, kp_tx_t *tx)
{
    web_svc_t *svc = arg;
    kp_arena_reset(svc->consume_arena);
    return kp_tx_begin(tx, srv, txn, svc->consume_arena, svc);
}

int
web_consume_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *e)
{
    kp_tx_t tx;
    int rc = s_tx(arg, srv, txn, &tx);
    if (rc)
        return rc;
    ProtobufCAllocator *al = kp_arena_pbc(tx.arena);
    const ProtobufCBinaryData *p = &e->payload;
    if (strcmp(e->type, "EventRescheduled") == 0 || strcmp(e->type, "EventCancelled") == 0) {
        Kumppani__V1__EventChanged *m = kumppani__v1__event_changed__unpack(al, p->len, p->data);
        rc = m ? s_event(&tx, m->event) : KP_ECORRUPT;
    } else if (strncmp(e->type, "Event", 5) == 0) {
        Kumppani__V1__EventReply *m = kumppani__v1__event_reply__unpack(al, p->len, p->data);
        rc = m ? s_event(&tx, m->event) : KP_ECORRUPT;
    } else if (strncmp(e->type, "Signup", 6) == 0) {
        Kumppani__V1__SignupReply *m = kumppani__v1__signup_reply__unpack(al, p->len, p->data);
        rc = m ? s_signup(&tx, m->signup) : KP_ECORRUPT;
    }
    if (rc == KP_ECORRUPT) {
        /* An undecodable event is skipped, not retried forever; it is logged by type only. */
        kp_log_err("consume.decode", "seq=%llu type=%s", (unsigned long long)e->seq, e->type);
        rc = 0;
    }
    return rc;
}

int
web_consume_registry(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *e)
{
    if (strcmp(e->type, "MunicipalityAdded") != 0)
        return 0;
    kp_tx_t tx;
    int rc = s_tx(arg, srv, txn, &tx);
    if (rc)
        return rc;
    ProtobufCAllocator *al = kp_arena_pbc(tx.arena);
    Kumppani__V1__MunicipalityReply *m =
        kumppani__v1__municipality_reply__unpack(al, e->payload.len, e->payload.data);
    if (!m) {
        kp_log_err("consume.decode", "seq=%llu type=%s", (unsigned long long)e->seq, e->type);
        return 0;
    }
    return m->municipality ? web_store_muni_put(&tx, m->municipality) : 0;
}
