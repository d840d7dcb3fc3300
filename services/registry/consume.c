/*  registry/consume.c: what the registry learns from the events service's log.
 *
 *  Events EventCreated, EventPublished, EventRescheduled, EventCancelled (and any other type
 *  whose payload is an EventReply) of kind KIND_CONTACT_PERSON_MEETING are kept as
 *  ContactPersonMeeting records, keyed by the events service's event id, in the same
 *  transaction as the consumer offset (kp_consumer), so each is applied exactly once in
 *  effect. Each event carries the whole EventInfo, so the latest one applied wins: a draft
 *  (EventCreated) is kept as draft and convenes nobody until EventPublished says otherwise.
 *
 *  The organiser (EventInfo, events.proto) is an organisation of this registry
 *  (organiser_organisation_id) or a municipality (organiser_municipality_code), one of the
 *  two, or neither. An organising organisation is kept beside the record (meeting_org); the
 *  record's municipality is the organising municipality when there is one, else the one the
 *  meeting is held in. Coverage (coverage.c) counts a meeting organised by an organisation
 *  for the contact persons who represent or chair it, and any other for the contact persons
 *  of its municipality. A meeting may name the contact person who convenes it
 *  (EventInfo.convener_person_id), kept as the record's organiser_person_id: it then counts
 *  for that person alone. */
#include "kp_log.h"
#include "registry.h"

#include <string.h>

int
reg_consume_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    reg_svc_t *svc = arg;
    if (strncmp(ev->type, "Event", 5) != 0)
        return 0;
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, srv, txn, svc->arena, svc);
    if (rc)
        return rc;
    Kumppani__V1__EventReply *r = kumppani__v1__event_reply__unpack(
        kp_arena_pbc(tx.arena), ev->payload.len, ev->payload.data);
    const Kumppani__V1__EventInfo *e = r ? r->event : NULL; /* not an EventReply: not ours */
    if (e && e->kind == KUMPPANI__V1__EVENT_KIND__KIND_CONTACT_PERSON_MEETING) {
        reg_meeting_t m = KUMPPANI__V1__CONTACT_PERSON_MEETING__INIT;
        m.event_id = e->id;
        m.municipality_code = e->organiser_municipality_code[0] ? e->organiser_municipality_code
                                                                : e->municipality_code;
        m.start_unix = e->start_unix;
        m.organiser_person_id = e->convener_person_id; /* the convener, if named */
        m.cancelled = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED;
        m.draft = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT ||
                  e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_UNSPECIFIED;
        rc = reg_meeting_put(&tx, &m, e->organiser_organisation_id);
        kp_log_info("meeting.applied", "event_id=%llu seq=%llu organiser_org=%llu",
                    (unsigned long long)e->id, (unsigned long long)ev->seq,
                    (unsigned long long)e->organiser_organisation_id);
    }
    kp_arena_reset(svc->arena);
    return rc;
}
