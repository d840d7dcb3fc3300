/*  registry/consume.c: what the registry learns from the events service's log.
 *
 *  Events EventCreated, EventPublished, EventRescheduled, EventCancelled (and any other type
 *  whose payload is an EventReply) of kind KIND_CONTACT_PERSON_MEETING are kept as
 *  ContactPersonMeeting records, keyed by the events service's event id, in the same
 *  transaction as the consumer offset (kp_consumer), so each is applied exactly once in
 *  effect. The organiser: EventInfo gets an organiser person id field from the events service;
 *  this file looks it up by name in the descriptor at run time ("organiser_person_id" or
 *  "organizer_person_id"), so it works with either version of events.proto. Without one, a
 *  meeting counts for every contact person of its municipality. */
#include "kp_log.h"
#include "registry.h"

#include <string.h>

static uint64_t
s_organiser(const Kumppani__V1__EventInfo *e)
{
    static const char *const names[] = {"organiser_person_id", "organizer_person_id",
                                        "organiser_id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
            &kumppani__v1__event_info__descriptor, names[i]);
        if (fd && fd->label != PROTOBUF_C_LABEL_REPEATED &&
            (fd->type == PROTOBUF_C_TYPE_UINT64 || fd->type == PROTOBUF_C_TYPE_INT64))
            return *(const uint64_t *)((const char *)e + fd->offset);
    }
    return 0;
}

/* The organising municipality, when EventInfo has that field and it is set; else the
 * event's municipality. */
static char *
s_organiser_municipality(const Kumppani__V1__EventInfo *e)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
        &kumppani__v1__event_info__descriptor, "organiser_municipality_code");
    if (fd && fd->type == PROTOBUF_C_TYPE_STRING && fd->label != PROTOBUF_C_LABEL_REPEATED) {
        char *v = *(char *const *)((const char *)e + fd->offset);
        if (v && v[0])
            return v;
    }
    return e->municipality_code;
}

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
        m.municipality_code = s_organiser_municipality(e);
        m.organiser_person_id = s_organiser(e);
        m.start_unix = e->start_unix;
        m.cancelled = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED;
        rc = reg_meeting_put(&tx, &m);
        kp_log_info("meeting.applied", "event=%llu seq=%llu organiser=%llu",
                    (unsigned long long)e->id, (unsigned long long)ev->seq,
                    (unsigned long long)m.organiser_person_id);
    }
    kp_arena_reset(svc->arena);
    return rc;
}
