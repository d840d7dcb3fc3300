/*  notifier/plan.c: the rules that turn the logs of the events service and the expert-broker
 *  into notifications, the webhook of every followed event, the weekly digest, and SMS quiet
 *  hours.
 *
 *  Runs in a unit of work of consume.c's apply functions, in the turn transaction that also
 *  stores the consumer's offset, so a plan and the offset commit together. Every notification gets
 * a deterministic key (see notifier.proto) and is planned with ntf_rec_plan (a no-op for a known
 * key).
 *
 *  Rules for a sign-up (channels: e-mail if it has an address; SMS if it has a phone and a
 *  gateway is configured, for the time-critical kinds, or for every kind without e-mail):
 *    - SignupConfirmed: a confirmation, and reminders at the configured hours before the
 *      start (per event kind; default 168 h and 24 h for partnership tables, 24 h otherwise).
 *      Reminders already in the past are dropped; if every reminder is past (sign-up inside
 *      the last window) the confirmation becomes a single "see you soon".
 *    - SignupWaitlisted, SignupOffered: a notice. SignupPromoted: a notice and reminders.
 *    - SignupCancelled: every scheduled message of the sign-up is cancelled; a notice.
 *  Rules for an event: EventRescheduled cancels the scheduled reminders, sends a notice to
 *  every live sign-up and plans reminders for the new time; EventCancelled cancels everything
 *  scheduled and sends a notice (urgent if the start is less than 24 h ahead).
 *  Consent: without consent_reminders no reminder or "see you soon" is planned.
 *  Every event of the log is also posted to the webhook endpoint, if one is configured. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

int
ntf_plan_parse_reminders(ntf_conf_t *conf, const char *spec)
{
    /* "1=168,24;*=24": kind=hours,...; '*' sets every kind not named. */
    unsigned def[8] = {0};
    bool named[NTF_KINDS_N] = {false};
    memset(conf->reminders, 0, sizeof conf->reminders);
    const char *p = spec;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        char part[128];
        if (len >= sizeof part)
            return -1;
        memcpy(part, p, len);
        part[len] = 0;
        char *eq = strchr(part, '=');
        if (!eq)
            return -1;
        *eq = 0;
        unsigned hours[8] = {0}, hn = 0;
        char *q = eq + 1;
        while (*q) {
            char *end;
            unsigned long h = strtoul(q, &end, 10);
            if (end == q || h == 0 || h > 24 * 60 || hn == 7)
                return -1;
            hours[hn++] = (unsigned)h;
            q = *end == ',' ? end + 1 : end;
            if (*end && *end != ',')
                return -1;
        }
        if (strcmp(part, "*") == 0) {
            memcpy(def, hours, sizeof def);
        } else {
            char *end;
            unsigned long k = strtoul(part, &end, 10);
            if (*end || k == 0 || k >= NTF_KINDS_N)
                return -1;
            memcpy(conf->reminders[k], hours, sizeof hours);
            named[k] = true;
        }
        p += len + (semi ? 1 : 0);
    }
    for (int k = 0; k < NTF_KINDS_N; k++)
        if (!named[k])
            memcpy(conf->reminders[k], def, sizeof def);
    return 0;
}

/* The instant of hour:00 Helsinki time on the day `days` after (or before) the Helsinki day
 * of t_ms; *out (may be NULL) gets that day's wall-clock fields. An hour skipped by the change
 * to summer time means the moment of the change. */
static int64_t
s_local_at(int64_t t_ms, int days, unsigned hour, struct tm *out)
{
    /* Noon of the day wanted: a day is 23 to 25 hours, so noon never leaves its date. */
    int64_t noon = kp_time_day_start(t_ms / 1000) + 12 * 3600 + (int64_t)days * 86400, at;
    struct tm tm;
    if (kp_time_local(noon, &tm) != 0)
        return t_ms;
    tm.tm_hour = (int)hour;
    tm.tm_min = tm.tm_sec = 0;
    if (out)
        *out = tm;
    if (kp_time_from_local(&tm, &at) == 0)
        return at * 1000;
    tm.tm_hour++;
    return kp_time_from_local(&tm, &at) == 0 ? (at - 3600) * 1000 : t_ms;
}

int64_t
ntf_quiet_next(const ntf_conf_t *conf, int64_t t_ms)
{
    unsigned from = conf->quiet_from_h, to = conf->quiet_to_h;
    struct tm tm;
    if (from == to || kp_time_local(t_ms / 1000, &tm) != 0)
        return t_ms;
    unsigned h = (unsigned)tm.tm_hour;
    bool quiet = from > to ? (h >= from || h < to) : (h >= from && h < to);
    if (!quiet)
        return t_ms;
    /* The end of the quiet hours: the morning after an evening in hours that span midnight,
     * else the same day (hours that do not span midnight end that morning, not a day later). */
    return s_local_at(t_ms, from > to && h >= from ? 1 : 0, to, NULL);
}

/* One event being applied: the unit of work (its svc is the ntf_t) and the event. */
typedef struct {
    ntf_t *n;
    kp_tx_t *tx;
    const Kumppani__V1__Event *ev;
    const char *reason; /* EventRescheduled, EventCancelled: the coordinator's reason */
} s_ctx_t;

/* The payload of the event being applied, decoded as d into the unit's arena; NULL when it
 * does not decode. */
static void *
s_payload(const s_ctx_t *c, const ProtobufCMessageDescriptor *d)
{
    return protobuf_c_message_unpack(d, kp_arena_pbc(c->tx->arena), c->ev->payload.len,
                                     c->ev->payload.data);
}

/* Skips an event whose payload lacks what its type promises (logged; the log goes on). */
static int
s_undecodable(const s_ctx_t *c)
{
    kp_log_warn("plan.undecodable", "seq=%llu", (unsigned long long)c->ev->seq);
    return 0;
}

const char *
ntf_channel_name(int ch)
{
    return ch == CH(EMAIL) ? "email" : ch == CH(SMS) ? "sms" : "webhook";
}

static bool
s_sms_kind(int kind)
{
    return kind == MK(REMINDER) || kind == MK(SEE_YOU_SOON) || kind == MK(EVENT_RESCHEDULED) ||
           kind == MK(EVENT_CANCELLED) || kind == MK(OFFERED) || kind == MK(PROMOTED);
}

/* A new notification, scheduled now (due and created at the turn's time): the rest is zero. */
static ntf_rec_t
s_rec_new(const kp_tx_t *tx, const char *key, int kind, int channel, const char *source)
{
    ntf_rec_t r = KUMPPANI__V1__NOTIFICATION__INIT;
    r.key = (char *)key;
    r.kind = kind;
    r.channel = channel;
    r.state = ST(SCHEDULED);
    r.due_ms = r.created_ms = tx->now_ms;
    r.source = (char *)source;
    return r;
}

/* Plans kind for sign-up s on each of its channels. key_fmt has one %s for the channel. */
static int
s_plan_signup(s_ctx_t *c, const Kumppani__V1__Signup *s, const Kumppani__V1__EventInfo *e, int kind,
              int64_t due_ms, unsigned hours, bool urgent, const char *key_base)
{
    int chans[2], chans_n = 0;
    if (s->has_email)
        chans[chans_n++] = CH(EMAIL);
    if (s->has_phone && c->n->conf.sms_url && c->n->conf.sms_url[0] &&
        (s_sms_kind(kind) || chans_n == 0))
        chans[chans_n++] = CH(SMS);
    for (int i = 0; i < chans_n; i++) {
        char key[NTF_KEY_MAX + 1];
        snprintf(key, sizeof key, "%s/%s", key_base, ntf_channel_name(chans[i]));
        ntf_rec_t r = s_rec_new(c->tx, key, kind, chans[i], "events");
        r.due_ms = due_ms;
        if (chans[i] == CH(SMS) && !urgent)
            r.due_ms = ntf_quiet_next(&c->n->conf, due_ms);
        r.source_seq = c->ev->seq;
        r.event_id = s->event_id;
        r.signup_id = s->id;
        /* No name or address: asked from the events service when sending (deliver.c). */
        r.language = (char *)(s->language && s->language[0]
                                  ? s->language
                                  : (e && e->language && e->language[0] ? e->language : "fi"));
        if (e) {
            r.event_title = e->title;
            r.event_start_unix = e->start_unix;
            r.event_end_unix = e->end_unix;
            r.event_place = e->place;
            r.event_url = e->online_url;
            r.event_sequence = e->sequence; /* as the events service's iCalendar feed */
            r.event_cancelled = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED;
        }
        r.urgent = urgent;
        r.reminder_hours = hours;
        if (kind == MK(OFFERED))
            r.deadline_ms = s->offer_deadline_ms;
        if (c->reason && (kind == MK(EVENT_RESCHEDULED) || kind == MK(EVENT_CANCELLED)))
            r.reason_text = (char *)c->reason;
        bool planned;
        int rc = ntf_rec_plan(c->tx, &r, &planned);
        if (rc)
            return rc;
    }
    return 0;
}

/* Plans the reminders of a confirmed sign-up; *any set if at least one is in the future. */
static int
s_plan_reminders(s_ctx_t *c, const Kumppani__V1__Signup *s, const Kumppani__V1__EventInfo *e,
                 bool *any)
{
    *any = false;
    if (!e || !s->consent_reminders)
        return 0;
    unsigned k = (unsigned)e->kind < NTF_KINDS_N ? (unsigned)e->kind : 0;
    for (int i = 0; i < 8 && c->n->conf.reminders[k][i]; i++) {
        unsigned h = c->n->conf.reminders[k][i];
        int64_t due = e->start_unix * 1000 - (int64_t)h * 3600 * 1000;
        if (due <= c->tx->now_ms)
            continue;
        char base[NTF_KEY_MAX];
        snprintf(base, sizeof base, "events/s%llu/remind%u/%lld", (unsigned long long)s->id, h,
                 (long long)e->start_unix);
        int rc = s_plan_signup(c, s, e, MK(REMINDER), due, h, false, base);
        if (rc)
            return rc;
        *any = true;
    }
    return 0;
}

static bool
s_has_reminders(const ntf_t *n, const Kumppani__V1__EventInfo *e)
{
    unsigned k = e && (unsigned)e->kind < NTF_KINDS_N ? (unsigned)e->kind : 0;
    return e && n->conf.reminders[k][0] != 0;
}

/* Cancels the scheduled notifications of an event (of one sign-up if signup_id, only the
 * reminder kinds if reminders_only). */
static int
s_cancel(s_ctx_t *c, uint64_t event_id, uint64_t signup_id, bool reminders_only)
{
    char **keys;
    size_t keys_n;
    int rc = ntf_event_keys(c->tx, event_id, &keys, &keys_n);
    for (size_t i = 0; rc == 0 && i < keys_n; i++) {
        ntf_rec_t *r, *old;
        bool found;
        if ((rc = ntf_rec_get(c->tx, keys[i], &old, &found)) || !found)
            continue;
        if (old->state != ST(SCHEDULED) || (signup_id && old->signup_id != signup_id) ||
            old->channel == CH(WEBHOOK))
            continue;
        if (reminders_only && old->kind != MK(REMINDER) && old->kind != MK(SEE_YOU_SOON))
            continue;
        if ((rc = ntf_rec_get(c->tx, keys[i], &r, &found)))
            break;
        r->state = ST(CANCELLED);
        ntf_rec_attempt(c->tx, r, false, "cancelled-by-source");
        rc = ntf_rec_put(c->tx, old, r);
    }
    return rc;
}

void
ntf_signup_public(Kumppani__V1__Signup *s)
{
    static char empty[] = "";
    /* An event logged by an older events service carries the contacts: keep only whether they
     * exist. */
    s->has_email = s->has_email || (s->email && s->email[0]);
    s->has_phone = s->has_phone || (s->phone && s->phone[0]);
    s->name = s->email = s->phone = s->organisation = empty;
    s->accessibility_text = s->dietary_text = empty;
}

/* A sign-up's event; *event_id and *signup_id get the sign-up's ids (for the webhook) when
 * the payload decodes. */
static int
s_signup_event(s_ctx_t *c, const char *type, uint64_t *event_id, uint64_t *signup_id)
{
    const Kumppani__V1__Event *ev = c->ev;
    Kumppani__V1__SignupReply *sr = s_payload(c, &kumppani__v1__signup_reply__descriptor);
    if (!sr || !sr->signup)
        return s_undecodable(c);
    Kumppani__V1__Signup *s = sr->signup;
    *event_id = s->event_id;
    *signup_id = s->id;
    ntf_signup_public(s);
    Kumppani__V1__EventInfo *e = NULL;
    bool found = false;
    int rc;
    if ((rc = ntf_signup_put(c->tx, s)) || (rc = ntf_event_get(c->tx, s->event_id, &e, &found)))
        return rc;
    if (!found)
        e = NULL;
    char base[NTF_KEY_MAX];
    unsigned long long sid = (unsigned long long)s->id;
    if (strcmp(type, "SignupConfirmed") == 0 || strcmp(type, "SignupPromoted") == 0) {
        bool any = false;
        if ((rc = s_plan_reminders(c, s, e, &any)))
            return rc;
        bool promoted = type[6] == 'P';
        int kind = promoted ? MK(PROMOTED) : MK(SIGNUP_CONFIRMED);
        if (!promoted && !any && s->consent_reminders && s_has_reminders(c->n, e) &&
            e->start_unix * 1000 > c->tx->now_ms)
            kind = MK(SEE_YOU_SOON);
        snprintf(base, sizeof base, "events/s%llu/%s", sid, promoted ? "promoted" : "confirm");
        return s_plan_signup(c, s, e, kind, c->tx->now_ms, 0, false, base);
    }
    if (strcmp(type, "SignupWaitlisted") == 0) {
        snprintf(base, sizeof base, "events/s%llu/waitlisted", sid);
        return s_plan_signup(c, s, e, MK(WAITLISTED), c->tx->now_ms, 0, false, base);
    }
    if (strcmp(type, "SignupOffered") == 0) {
        snprintf(base, sizeof base, "events/%llu/s%llu/offered", (unsigned long long)ev->seq, sid);
        return s_plan_signup(c, s, e, MK(OFFERED), c->tx->now_ms, 0, true, base);
    }
    if (strcmp(type, "SignupCancelled") == 0) {
        if ((rc = s_cancel(c, s->event_id, s->id, false)))
            return rc;
        snprintf(base, sizeof base, "events/s%llu/cancelled", sid);
        return s_plan_signup(c, s, e, MK(SIGNUP_CANCELLED), c->tx->now_ms, 0, false, base);
    }
    return 0;
}

/* "SignupErased" (ids only): privacy.c forgets everything about the sign-up. */
static int
s_signup_erased(s_ctx_t *c)
{
    Kumppani__V1__SignupErased *e = s_payload(c, &kumppani__v1__signup_erased__descriptor);
    if (!e)
        return s_undecodable(c);
    return ntf_signup_erased(c->tx, e->event_id, e->signup_id);
}

static int
s_event_event(s_ctx_t *c, const char *type)
{
    const Kumppani__V1__Event *ev = c->ev;
    /* EventReply and EventChanged (events' later payload of EventRescheduled and
     * EventCancelled) both carry the event as field 1; EventChanged also the reason. */
    Kumppani__V1__EventChanged *er = s_payload(c, &kumppani__v1__event_changed__descriptor);
    if (!er || !er->event)
        return s_undecodable(c);
    Kumppani__V1__EventInfo *e = er->event;
    c->reason =
        er->reason_text && er->reason_text[0] ? er->reason_text
        : e->cancel_reason_text && e->cancel_reason_text[0] && strcmp(type, "EventCancelled") == 0
            ? e->cancel_reason_text
            : NULL;
    int rc = ntf_event_put(c->tx, e);
    if (rc)
        return rc;
    bool resched = strcmp(type, "EventRescheduled") == 0;
    bool cancelled = strcmp(type, "EventCancelled") == 0;
    if (!resched && !cancelled)
        return 0;
    if ((rc = s_cancel(c, e->id, 0, resched)))
        return rc;
    uint64_t *ids;
    size_t ids_n;
    if ((rc = ntf_event_signups(c->tx, e->id, &ids, &ids_n)))
        return rc;
    bool urgent = cancelled && e->start_unix * 1000 - c->tx->now_ms < 24LL * 3600 * 1000;
    for (size_t i = 0; i < ids_n; i++) {
        Kumppani__V1__Signup *s;
        bool found;
        if ((rc = ntf_signup_get(c->tx, ids[i], &s, &found)))
            return rc;
        if (!found || s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED)
            continue;
        char base[NTF_KEY_MAX];
        snprintf(base, sizeof base, "events/%llu/s%llu/%s", (unsigned long long)ev->seq,
                 (unsigned long long)s->id, resched ? "rescheduled" : "event-cancelled");
        if ((rc = s_plan_signup(c, s, e, resched ? MK(EVENT_RESCHEDULED) : MK(EVENT_CANCELLED),
                                c->tx->now_ms, 0, urgent, base)))
            return rc;
        bool any;
        if (resched && s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED &&
            (rc = s_plan_reminders(c, s, e, &any)))
            return rc;
    }
    return 0;
}

int
ntf_plan_webhook(kp_tx_t *tx, const Kumppani__V1__Event *ev, const char *source, uint64_t event_id,
                 uint64_t signup_id)
{
    const ntf_t *n = tx->svc;
    if (!n->conf.webhook_url || !n->conf.webhook_url[0])
        return 0;
    char key[NTF_KEY_MAX], body[512];
    snprintf(key, sizeof key, "%s/%llu/webhook", source, (unsigned long long)ev->seq);
    char type[64];
    size_t tl = 0;
    for (const char *p = ev->type; *p && tl < sizeof type - 1; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            type[tl++] = *p;
    type[tl] = 0;
    snprintf(body, sizeof body,
             "{\"key\":\"%s\",\"source\":\"%s\",\"seq\":%llu,\"type\":\"%s\",\"time_ms\":%lld,"
             "\"event_id\":%llu,\"signup_id\":%llu}",
             key, source, (unsigned long long)ev->seq, type, (long long)ev->time_ms,
             (unsigned long long)event_id, (unsigned long long)signup_id);
    ntf_rec_t r = s_rec_new(tx, key, MK(WEBHOOK), CH(WEBHOOK), source);
    r.source_seq = ev->seq;
    r.event_id = event_id;
    r.signup_id = signup_id;
    r.address = type;
    r.payload_json = body;
    bool planned;
    return ntf_rec_plan(tx, &r, &planned);
}

int
ntf_plan_events(kp_tx_t *tx, const Kumppani__V1__Event *ev)
{
    s_ctx_t c = {tx->svc, tx, ev, NULL};
    int rc = 0;
    const char *t = ev->type ? ev->type : "";
    uint64_t event_id = 0, signup_id = 0;
    if (strcmp(t, "SignupErased") == 0) {
        rc = s_signup_erased(&c);
    } else if (strncmp(t, "Signup", 6) == 0) {
        /* The payload is decoded once (it was twice: about 3 % of the catch-up's CPU). */
        rc = s_signup_event(&c, t, &event_id, &signup_id);
    } else if (strncmp(t, "Event", 5) == 0) {
        rc = s_event_event(&c, t);
        Kumppani__V1__EventReply *er = s_payload(&c, &kumppani__v1__event_reply__descriptor);
        if (er && er->event)
            event_id = er->event->id;
    }
    return rc ? rc : ntf_plan_webhook(tx, ev, "events", event_id, signup_id);
}

/* ---- the expert-broker's log ---------------------------------------------------------------
 *
 * The broker's events carry ids only. The notifier keeps the few request fields a message
 * needs (title, time, place; no contact data) and plans expert messages under keys of the
 * offer or assignment id, with no address: the deliverer asks the broker for the expert's
 * address, name and language when the message is due, so an erased expert gets nothing. */

bool
ntf_kind_expert(int kind)
{
    return kind == MK(EXPERT_OFFER) || kind == MK(EXPERT_DEADLINE) ||
           kind == MK(EXPERT_CONFIRMED) || kind == MK(EXPERT_WITHDRAWN) ||
           kind == MK(EXPERT_CANCELLED);
}

bool
ntf_kind_requester(int kind)
{
    return kind == MK(REQUEST_FILED) || kind == MK(REQUEST_CONFIRMED) ||
           kind == MK(REQUESTER_UNFILLED) || kind == MK(REQUEST_CANCELLED) ||
           kind == MK(REQUEST_EXPERT_CANCELLED);
}

static int
s_plan_broker_msg(s_ctx_t *c, int kind, const char *key, uint64_t request_id, uint64_t expert_id,
                  uint64_t offer_id, int64_t deadline_ms, uint64_t assignment_id)
{
    Kumppani__V1__BrokerRequest *rq = NULL;
    bool found = false;
    int rc = ntf_brkreq_get(c->tx, request_id, &rq, &found);
    if (rc)
        return rc;
    ntf_rec_t r = s_rec_new(c->tx, key, kind, CH(EMAIL), "expert-broker");
    r.source_seq = c->ev->seq;
    r.request_id = request_id;
    r.expert_id = expert_id;
    r.offer_id = offer_id;
    r.deadline_ms = deadline_ms;
    r.urgent = true;
    if (found && rq->input) {
        r.event_title = rq->input->title;
        r.event_start_unix = rq->input->start_unix;
        r.event_end_unix = rq->input->start_unix + (int64_t)rq->input->duration_min * 60;
        r.event_place = rq->input->place;
        r.language = rq->input->language;
        r.duration_min = rq->input->duration_min;
        r.fee_cents = rq->input->fee_cents;
        r.travel_cents = rq->input->travel_cents;
    }
    r.assignment_id = assignment_id;
    if (kind == MK(REQUEST_UNFILLED)) {
        r.address = (char *)c->n->conf.coordinator_email;
        r.language = (char *)c->n->conf.coordinator_language;
    }
    bool planned;
    return ntf_rec_plan(c->tx, &r, &planned);
}

static int
s_broker_event(s_ctx_t *c, const char *t)
{
    const Kumppani__V1__Event *ev = c->ev;
    char key[NTF_KEY_MAX];
    if (strncmp(t, "Request", 7) == 0) {
        Kumppani__V1__BrokerRequestReply *rr =
            s_payload(c, &kumppani__v1__broker_request_reply__descriptor);
        if (!rr || !rr->request)
            return 0;
        Kumppani__V1__BrokerRequest *rq = rr->request;
        /* Keep what a message needs, and nothing about the requester. */
        Kumppani__V1__BrokerRequestInput in = KUMPPANI__V1__BROKER_REQUEST_INPUT__INIT;
        Kumppani__V1__BrokerRequest keep = KUMPPANI__V1__BROKER_REQUEST__INIT;
        keep.id = rq->id;
        keep.state = rq->state;
        if (rq->input) {
            in.title = rq->input->title;
            in.start_unix = rq->input->start_unix;
            in.duration_min = rq->input->duration_min;
            in.place = rq->input->place;
            in.municipality = rq->input->municipality;
            in.language = rq->input->language;
            in.remote = rq->input->remote;
            in.fee_cents = rq->input->fee_cents;
            in.travel_cents = rq->input->travel_cents;
            keep.input = &in;
        }
        int rc = ntf_brkreq_put(c->tx, &keep);
        unsigned long long rid = (unsigned long long)rq->id, seq = (unsigned long long)ev->seq;
        /* To the requester (the contact person asked from the broker when sending). */
        if (rc == 0 && strcmp(t, "RequestFiled") == 0) {
            snprintf(key, sizeof key, "broker/r%llu/filed/email", rid);
            rc = s_plan_broker_msg(c, MK(REQUEST_FILED), key, rq->id, 0, 0, 0, 0);
        } else if (rc == 0 && strcmp(t, "RequestCancelled") == 0) {
            snprintf(key, sizeof key, "broker/r%llu/cancelled/email", rid);
            rc = s_plan_broker_msg(c, MK(REQUEST_CANCELLED), key, rq->id, 0, 0, 0, 0);
        } else if (rc == 0 && strcmp(t, "RequestUnfilled") == 0) {
            snprintf(key, sizeof key, "broker/r%llu/unfilled/%llu/requester", rid, seq);
            rc = s_plan_broker_msg(c, MK(REQUESTER_UNFILLED), key, rq->id, 0, 0, 0, 0);
        }
        if (rc || strcmp(t, "RequestUnfilled") != 0 || !c->n->conf.coordinator_email ||
            !c->n->conf.coordinator_email[0])
            return rc;
        snprintf(key, sizeof key, "broker/r%llu/unfilled/%llu/email", rid, seq);
        return s_plan_broker_msg(c, MK(REQUEST_UNFILLED), key, rq->id, 0, 0, 0, 0);
    }
    if (strcmp(t, "OfferMade") == 0 || strcmp(t, "OfferLapsingSoon") == 0 ||
        strcmp(t, "OfferWithdrawn") == 0) {
        Kumppani__V1__Offer *o = s_payload(c, &kumppani__v1__offer__descriptor);
        if (!o || !o->expert_id)
            return 0;
        int kind = t[5] == 'M'   ? MK(EXPERT_OFFER)
                   : t[5] == 'L' ? MK(EXPERT_DEADLINE)
                                 : MK(EXPERT_WITHDRAWN);
        snprintf(key, sizeof key, "broker/o%llu/%s/email", (unsigned long long)o->id,
                 kind == MK(EXPERT_OFFER)      ? "offer"
                 : kind == MK(EXPERT_DEADLINE) ? "lapsing"
                                               : "withdrawn");
        return s_plan_broker_msg(c, kind, key, o->request_id, o->expert_id, o->id, o->deadline_ms,
                                 0);
    }
    if (strcmp(t, "AssignmentConfirmed") == 0 || strcmp(t, "AssignmentCancelled") == 0) {
        Kumppani__V1__Assignment *as = s_payload(c, &kumppani__v1__assignment__descriptor);
        if (!as || !as->expert_id)
            return 0;
        unsigned long long aid = (unsigned long long)as->id;
        if (strcmp(t, "AssignmentCancelled") == 0) { /* the expert is told, and the requester */
            snprintf(key, sizeof key, "broker/a%llu/cancelled/email", aid);
            int rc = s_plan_broker_msg(c, MK(EXPERT_CANCELLED), key, as->request_id, as->expert_id,
                                       as->offer_id, 0, as->id);
            snprintf(key, sizeof key, "broker/a%llu/requester-cancelled/email", aid);
            return rc ? rc
                      : s_plan_broker_msg(c, MK(REQUEST_EXPERT_CANCELLED), key, as->request_id,
                                          as->expert_id, as->offer_id, 0, as->id);
        }
        snprintf(key, sizeof key, "broker/a%llu/confirmed/email", aid);
        int rc = s_plan_broker_msg(c, MK(EXPERT_CONFIRMED), key, as->request_id, as->expert_id,
                                   as->offer_id, 0, as->id);
        /* ... and the requester, with the expert as the broker discloses them */
        snprintf(key, sizeof key, "broker/a%llu/requester/email", aid);
        return rc ? rc
                  : s_plan_broker_msg(c, MK(REQUEST_CONFIRMED), key, as->request_id, as->expert_id,
                                      as->offer_id, 0, as->id);
    }
    return 0;
}

int
ntf_plan_broker(kp_tx_t *tx, const Kumppani__V1__Event *ev)
{
    s_ctx_t c = {tx->svc, tx, ev, NULL};
    int rc = s_broker_event(&c, ev->type ? ev->type : "");
    return rc ? rc : ntf_plan_webhook(tx, ev, "expert-broker", 0, 0);
}

/* ---- the weekly digest ----------------------------------------------------------------------
 *
 * Once a week, at the configured weekday and hour in Europe/Helsinki, each current contact
 * person (consume.c keeps them from the registry's log) gets one digest per municipality of
 * the published events starting there in the next digest-days days (none when there is none).
 * The digest's key holds the date, so a restart, a second pass or a replay plans nothing
 * twice; a digest more than a day late (the service was down) is left for the next week's.
 * Digests wait until the events and registry logs are applied up to their heads, so none is
 * planned from a stale picture. */

static int
s_digest_one(kp_tx_t *tx, const Kumppani__V1__Role *role, const char *date, int64_t at_ms)
{
    ntf_t *n = tx->svc;
    kp_arena_t *a = tx->arena;
    Kumppani__V1__EventInfo **ev;
    size_t ev_n;
    int64_t from = at_ms / 1000;
    int rc = ntf_events_coming(tx, role->municipality_code, from,
                               from + (int64_t)n->conf.digest_days * 86400, &ev, &ev_n);
    if (rc || ev_n == 0)
        return rc;
    Kumppani__V1__DigestItem *items = kp_arena_alloc(a, ev_n * sizeof *items);
    Kumppani__V1__DigestItem **ptrs = kp_arena_alloc(a, ev_n * sizeof *ptrs);
    if (!items || !ptrs)
        return KP_ENOMEM;
    for (size_t i = 0; i < ev_n; i++) {
        kumppani__v1__digest_item__init(&items[i]);
        items[i].event_id = ev[i]->id;
        items[i].title = ev[i]->title;
        items[i].start_unix = ev[i]->start_unix;
        items[i].place = ev[i]->place;
        items[i].rescheduled = ev[i]->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_RESCHEDULED;
        ptrs[i] = &items[i];
    }
    char key[NTF_KEY_MAX];
    snprintf(key, sizeof key, "digest/%s/m%s/p%llu/email", date, role->municipality_code,
             (unsigned long long)role->person_id);
    ntf_rec_t r = s_rec_new(tx, key, MK(DIGEST), CH(EMAIL), "registry");
    r.person_id = role->person_id;
    r.municipality_code = role->municipality_code;
    r.language = (char *)n->conf.digest_language;
    Kumppani__V1__Municipality *mu;
    bool mfound;
    if ((rc = ntf_muni_get(tx, role->municipality_code, &mu, &mfound)))
        return rc;
    if (mfound)
        r.municipality_name =
            !strcmp(r.language, "sv") && mu->name_sv[0] ? mu->name_sv : mu->name_fi;
    r.digest_items = ptrs;
    r.n_digest_items = ev_n;
    r.urgent = true; /* e-mail only; not held by SMS quiet hours */
    bool planned;
    return ntf_rec_plan(tx, &r, &planned);
}

int
ntf_plan_digests(kp_tx_t *tx, int64_t *next_ms)
{
    ntf_t *n = tx->svc;
    const ntf_conf_t *cf = &n->conf;
    int64_t now_ms = tx->now_ms;
    *next_ms = INT64_MAX;
    if (!cf->digest_weekday)
        return 0;
    struct tm tm;
    if (kp_time_local(now_ms / 1000, &tm) != 0)
        return 0;
    int wday = tm.tm_wday ? tm.tm_wday : 7; /* 1 = Monday .. 7 = Sunday */
    int back = (wday - (int)cf->digest_weekday + 7) % 7;
    struct tm at_tm;
    int64_t at = s_local_at(now_ms, -back, cf->digest_hour, &at_tm);
    if (at > now_ms) {
        back += 7;
        at = s_local_at(now_ms, -back, cf->digest_hour, &at_tm);
    }
    *next_ms = s_local_at(now_ms, 7 - back, cf->digest_hour, NULL);
    if (now_ms - at >= 86400 * 1000)
        return 0;
    /* Plan from a complete picture: the events and registry logs applied up to their heads. */
    Kumppani__V1__HealthReply h = KUMPPANI__V1__HEALTH_REPLY__INIT;
    kp_server_health(tx->srv, tx->arena, &h);
    for (size_t i = 0; i < h.n_consumers; i++) {
        const Kumppani__V1__ConsumerLag *cl = h.consumers[i];
        if ((strcmp(cl->source, "events") == 0 || strcmp(cl->source, "registry") == 0) &&
            (!cl->last_heard_ms || cl->applied_seq < cl->source_head_seq)) {
            *next_ms = now_ms + 1000;
            return 0;
        }
    }
    char flag[48], date[36];
    snprintf(date, sizeof date, "%04d-%02d-%02d", at_tm.tm_year + 1900, at_tm.tm_mon + 1,
             at_tm.tm_mday);
    snprintf(flag, sizeof flag, "digest/%s", date);
    bool done;
    int rc = ntf_state_get(tx, flag, &done);
    if (rc || done)
        return rc;
    Kumppani__V1__Role **roles;
    size_t roles_n;
    if ((rc = ntf_contacts(tx, &roles, &roles_n)))
        return rc;
    size_t planned = 0;
    for (size_t i = 0; i < roles_n && rc == 0; i++) {
        const Kumppani__V1__Role *ro = roles[i];
        /* current on the digest's day as the registry counts it: start <= day < end */
        if (ro->end_date[0] && strcmp(ro->end_date, date) <= 0) {
            rc = ntf_contact_del(tx, ro->id); /* ended: no digest from now on */
            continue;
        }
        if (ro->start_date[0] && strcmp(ro->start_date, date) > 0)
            continue;
        rc = s_digest_one(tx, ro, date, at);
        planned++;
    }
    if (rc == 0)
        rc = ntf_state_set(tx, flag, true);
    if (rc == 0)
        kp_log_notice("digest.planned", "date=%s contacts=%zu", date, planned);
    return rc;
}
