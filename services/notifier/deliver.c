/*  notifier/deliver.c: what happens to a due notification: checks, the lease, the recipient
 *  lookup for messages to experts and contact persons, and the recorded outcome. The transfers
 *  themselves are in transfer.c.
 *
 *  A delivery, step by step:
 *    1. The schedule pass (timer.c) finds a due notification and hands it to ntf_dlv_take.
 *    2. In the turn transaction it is checked (quiet hours for SMS, opt-out, a switched-off
 *       endpoint), rendered, and leased: state SENDING, due entry at now + lease-ms. The
 *       transfer is kept in memory as "pending". Messages to an expert or a contact person
 *       first ask the broker or the registry for the recipient (a lookup under the same
 *       lease); the answer is used for this message only and never stored.
 *    3. When that turn has committed (ntf_dlv_turn_done), the pending transfers start
 *       (transfer.c). If the commit failed, they are dropped: the store still has them due.
 *    4. When a transfer ends, its outcome is recorded in the next turn: DELIVERED, or another
 *       try after exponential backoff, or DEAD once retry-max or the horizon is passed (an
 *       SMTP 5xx is final at once; a webhook 410 switches the endpoint off). The outcome is
 *       published on the log as NotificationDelivered / NotificationFailed.
 *  A crash between 3 and 4 leaves the lease in the store: the notification is sent again when
 *  the lease expires (the one at-least-once boundary; the Message-ID is the same). */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_pbcopy.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zsock.h"
#include "kp_zwatch.h"
#include "notifier.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

/* Messages whose recipient is asked at delivery time, and never stored: experts from the
 * broker (broker.expert.get), contact persons from the registry (registry.person.get), and
 * sign-ups from the events service (events.signup.contact). */
enum { LK_NONE = -1, LK_BROKER, LK_REGISTRY, LK_EVENTS, LK_REQUEST, LK_N };

typedef struct {
    const char *address, *phone, *name, *language; /* language NULL: the record's */
} s_who_t;

static int
s_lookup_of(const ntf_rec_t *r)
{
    if (ntf_kind_expert(r->kind))
        return LK_BROKER;
    if (ntf_kind_requester(r->kind))
        return LK_REQUEST;
    if (r->kind == MK(DIGEST))
        return LK_REGISTRY;
    if (r->signup_id && r->channel != CH(WEBHOOK))
        return LK_EVENTS;
    return LK_NONE;
}

static const char *const s_lk_off[LK_N] = {"broker-not-configured", "registry-not-configured",
                                           "events-not-configured", "broker-not-configured"};
static const char *const s_lk_gone[LK_N] = {"expert-erased", "person-erased", "signup-erased",
                                            "requester-erased"};
static const char *const s_lk_log[LK_N] = {"deliver.expert_erased", "deliver.person_erased",
                                           "deliver.signup_erased", "deliver.requester_erased"};

/* A lookup in flight for the record key, accepted only while the record still holds the
 * lease it was given when the lookup was sent. */
typedef struct s_look {
    struct s_look *next;
    uint64_t rid;
    int target;
    int64_t lease_until_ms;
    char key[NTF_KEY_MAX + 1];
    /* A requester's confirmation asks the broker twice: the requester, then the expert; the
     * requester's contact waits here meanwhile (memory only, freed with the lookup). */
    char *carry[4]; /* address, phone, name, language */
} s_look_t;

static void
s_look_free(s_look_t *l)
{
    for (int i = 0; i < 4; i++)
        free(l->carry[i]);
    free(l);
}

struct ntf_dlv {
    ntf_t *n;
    void *lsock[LK_N]; /* DEALERs to the broker's and the registry's ROUTERs (lookups) */
    kp_zwatch_t *lwatch[LK_N];
    s_look_t *looks;
    unsigned looks_n;
    uint64_t rid_seq;
    ntf_xfer_t *xfer; /* the transfers (transfer.c) */
    uint64_t delivered_n, failed_n;
};

/* ---- recording outcomes ----------------------------------------------------------------- */

static void
s_emit(kp_tx_t *tx, const ntf_rec_t *r, const char *type, const char *result)
{
    Kumppani__V1__NotificationOutcome o = KUMPPANI__V1__NOTIFICATION_OUTCOME__INIT;
    kp_pbcopy_shared(&o.base, &r->base); /* key, kind, channel, event and sign-up, attempts */
    o.result = (char *)result;
    int rc = kp_tx_emit(tx, type, &o.base);
    if (rc)
        kp_server_abort_turn(tx->srv, rc);
}

/* The deliverer's unit of work in the turn's transaction, in its arena (reset by the caller).
 * Its time is the clock's now, not the turn's: the pass that sys.clock.set asks for runs in a
 * libuv timer before that request's turn has ended, and kp_server keeps a turn's time from
 * its first request, before the clock moved. */
int
ntf_dlv_tx(kp_tx_t *tx, ntf_t *n)
{
    int rc = kp_tx_begin(tx, n->srv, NULL, n->dlv_arena, n);
    tx->now_ms = kp_now_ms();
    return rc;
}

/* In a new unit of work: the record of key as stored (*old) and a copy to change (*r), if it is
 * still SENDING (under the lease given, if lease >= 0); else *r = NULL. */
static int
s_sending(kp_tx_t *tx, ntf_t *n, const char *key, int64_t lease, ntf_rec_t **old, ntf_rec_t **r)
{
    bool found;
    *r = NULL;
    int rc = ntf_dlv_tx(tx, n);
    if (rc)
        return rc;
    if ((rc = ntf_rec_get(tx, key, old, &found)) || !found || (*old)->state != ST(SENDING) ||
        (lease >= 0 && (*old)->lease_until_ms != lease))
        return rc;
    return ntf_rec_get(tx, key, r, &found);
}

/* A transfer ended (ntf_xfer_done_fn): its outcome is recorded in this turn, and the schedule
 * looked at again. */
static void
s_record(void *arg, const char *key, int channel, bool ok, bool final, bool gone,
         const char *result)
{
    ntf_dlv_t *d = arg;
    ntf_t *n = d->n;
    ntf_kick(n);
    kp_tx_t tx;
    ntf_rec_t *old, *r;
    kp_arena_reset(n->dlv_arena);
    int rc = s_sending(&tx, n, key, -1, &old, &r);
    if (rc || !r)
        goto out;
    int64_t now = tx.now_ms;
    r->attempts_n++;
    if (!r->first_attempt_ms)
        r->first_attempt_ms = now;
    ntf_rec_attempt(&tx, r, ok, result);
    if (ok) {
        r->state = ST(DELIVERED);
        d->delivered_n++;
    } else {
        uint64_t shift = r->attempts_n > 20 ? 20 : r->attempts_n - 1;
        int64_t backoff = (int64_t)(n->conf.retry_base_ms << shift);
        if (backoff > 3600 * 1000)
            backoff = 3600 * 1000;
        if (gone && channel == CH(WEBHOOK) && (rc = ntf_state_set(&tx, "webhook-off", true)))
            goto out;
        if (final || gone || r->attempts_n >= n->conf.retry_max ||
            now + backoff - r->first_attempt_ms > (int64_t)n->conf.horizon_ms) {
            r->state = ST(DEAD);
            d->failed_n++;
        } else {
            r->state = ST(SCHEDULED);
            r->due_ms = now + backoff;
        }
    }
    if ((rc = ntf_rec_put(&tx, old, r)))
        goto out;
    if (r->state == ST(DELIVERED))
        s_emit(&tx, r, "NotificationDelivered", result);
    else if (r->state == ST(DEAD))
        s_emit(&tx, r, "NotificationFailed", result);
    kp_log_debug("deliver.done", "channel=%s ok=%d attempts=%u", ntf_channel_name(channel), ok,
                 r->attempts_n);
    /* An operator sees a relay, webhook or gateway that refuses or cannot be reached in the
     * log, not only in each notification's history (the key holds ids only). */
    if (!ok)
        kp_log_warn("deliver.failed", "key=%s channel=%s attempts=%u result=\"%s\" next=%s", key,
                    ntf_channel_name(channel), r->attempts_n, result,
                    r->state == ST(DEAD) ? "dead" : "retry");
out:
    if (rc) {
        kp_log_err("deliver.record", "err=%d", rc);
        kp_server_abort_turn(n->srv, rc);
    }
}

/* ---- taking a due notification ------------------------------------------------------------ */

/* Decides one due record r (old: as stored; who: the recipient looked up, or NULL) and
 * queues its transfer when it is to be sent. Returns 0 or a KP code. */
static int s_look_send(ntf_dlv_t *d, int target, const ntf_rec_t *r, const s_who_t *carry);

/* A reminder is not sent once its moment has passed for the event as it now stands: the time
 * changed since it was planned (the new-time notice covers it), the event was cancelled, or it
 * has started. Returns 0 with *why set (or NULL: send). */
static int
s_reminder_stale(kp_tx_t *tx, const ntf_rec_t *r, const char **why)
{
    *why = NULL;
    if (r->kind != MK(REMINDER) && r->kind != MK(SEE_YOU_SOON))
        return 0;
    Kumppani__V1__EventInfo *e;
    bool found;
    int rc = ntf_event_get(tx, r->event_id, &e, &found);
    if (rc || !found)
        return rc;
    if (e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_CANCELLED)
        *why = "event-cancelled";
    else if (e->start_unix != r->event_start_unix)
        *why = "event-rescheduled";
    else if (tx->now_ms >= e->start_unix * 1000)
        *why = "event-started";
    else if (r->reminder_hours &&
             tx->now_ms > (e->start_unix - (int64_t)r->reminder_hours * 3600) * 1000 +
                              (r->channel == CH(SMS) ? 12LL : 2LL) * 3600 * 1000 &&
             !r->attempts_n)
        *why = "moment-passed"; /* never tried and hours late (service down, clock moved) */
    return 0;
}

static int
s_take(ntf_dlv_t *d, kp_tx_t *tx, ntf_rec_t *old, ntf_rec_t *r, const s_who_t *who)
{
    ntf_t *n = d->n;
    kp_arena_t *a = tx->arena;
    int64_t now = tx->now_ms;
    const ntf_conf_t *cf = &n->conf;
    int rc;
    if (old->state == ST(SENDING) && !who) /* a lease ran out: died, hung, or lookup lost */
        ntf_rec_attempt(tx, r, false, "lease-expired");
    const char *skip = NULL;
    bool dead = false;
    int lk = s_lookup_of(r);
    if ((rc = s_reminder_stale(tx, r, &skip)))
        return rc;
    if (skip) {
        r->state = ST(CANCELLED);
        ntf_rec_attempt(tx, r, false, skip);
        return ntf_rec_put(tx, old, r);
    }
    if (lk != LK_NONE && !who) {
        if (!d->lsock[lk]) {
            skip = s_lk_off[lk];
            dead = true;
        } else {
            /* Ask for the recipient; the lease covers the lookup. */
            r->state = ST(SENDING);
            r->lease_until_ms = now + (int64_t)cf->lease_ms;
            if ((rc = ntf_rec_put(tx, old, r)))
                return rc;
            return s_look_send(d, lk, r, NULL);
        }
    }
    if (who && (lk == LK_BROKER || lk == LK_REQUEST) && r->channel == CH(EMAIL) &&
        !who->address[0] && who->phone[0] && cf->sms_url && cf->sms_url[0]) {
        /* an expert or a requester with only a phone: by SMS (at once, as the e-mail would) */
        r->channel = CH(SMS);
        r->urgent = true;
    }
    if (who) {
        bool sms = r->channel == CH(SMS);
        r->address = (char *)(sms ? who->phone : who->address);
        r->recipient_name = (char *)who->name;
        if (who->language)
            r->language = (char *)who->language;
        if (!r->address[0])
            skip = sms ? "no-phone" : "no-email";
    }
    if (r->channel == CH(SMS) && !r->urgent) {
        int64_t at = ntf_quiet_next(cf, now);
        if (at > now) {
            r->state = ST(SCHEDULED);
            r->due_ms = at;
            return ntf_rec_put(tx, old, r);
        }
    }
    if (skip) {
    } else if (r->channel == CH(EMAIL) || r->channel == CH(SMS)) {
        bool out = false;
        if ((rc = ntf_optout_get(tx, r->channel, r->address, &out)))
            return rc;
        if (out && r->kind != MK(EVENT_CANCELLED))
            skip = "opted-out";
    } else {
        bool off = false;
        if ((rc = ntf_state_get(tx, "webhook-off", &off)))
            return rc;
        if (off) { /* a dead letter, retried with notifier.dead.retry once it is back */
            skip = "endpoint-off";
            dead = true;
        }
    }
    if (!skip && ((r->channel == CH(SMS) && !(cf->sms_url && cf->sms_url[0])) ||
                  (r->channel == CH(WEBHOOK) && !(cf->webhook_url && cf->webhook_url[0])))) {
        skip = "channel-not-configured";
        dead = true;
    }
    ntf_msg_t m;
    if (!skip && ntf_render(n, a, r, now, &m) != 0) {
        skip = "render-failed";
        dead = true;
    }
    const char *to = r->address; /* the recipient's data is used for this message only */
    char ah[33] = "";
    if (r->channel != CH(WEBHOOK) && to && to[0]) {
        ntf_addr_hash(cf, r->channel, to, ah);
        r->address_hash = ah;
    }
    r->expert_name = r->expert_contact = (char *)"";
    if (lk != LK_NONE) {
        r->address = r->recipient_name = (char *)"";
        if (lk != LK_EVENTS) /* a sign-up's language is not personal data: kept for retries */
            r->language = (char *)"";
    }
    if (skip) {
        r->state = dead ? ST(DEAD) : ST(CANCELLED);
        ntf_rec_attempt(tx, r, false, skip);
        if ((rc = ntf_rec_put(tx, old, r)))
            return rc;
        if (dead)
            s_emit(tx, r, "NotificationFailed", skip);
        return 0;
    }
    const char *body = m.message, *rcpt = NULL;
    size_t body_len = m.message_len;
    if (r->channel == CH(EMAIL)) {
        rcpt = to;
    } else {
        body = r->channel == CH(SMS) ? ntf_render_sms_body(a, cf->sms_body, to, m.text) : m.text;
        if (!body)
            return KP_ENOMEM;
        body_len = strlen(body);
    }
    r->state = ST(SENDING);
    r->lease_until_ms = now + (int64_t)cf->lease_ms;
    if ((rc = ntf_rec_put(tx, old, r)))
        return rc;
    /* On failure the turn is abandoned, the lease with it. */
    return ntf_xfer_queue(d->xfer, r->key, r->channel, body, body_len, rcpt);
}

int
ntf_dlv_take(kp_tx_t *tx, ntf_rec_t *old, ntf_rec_t *r)
{
    return s_take(((ntf_t *)tx->svc)->dlv, tx, old, r, NULL);
}

static void s_look_prune(ntf_dlv_t *d);

bool
ntf_dlv_busy(const ntf_t *n)
{
    /* A lookup in flight holds a lease like a transfer: both count, so that a crash resends at
     * most inflight-max messages. */
    if (n->stopping || !n->dlv)
        return true;
    s_look_prune(n->dlv);
    return ntf_xfer_inflight(n->dlv->xfer) + n->dlv->looks_n >= n->conf.inflight_max;
}

/* ---- recipient lookups --------------------------------------------------------------------- */

/* Lookups whose answer never came are dropped once their lease is over (their lease brings
 * the message back). */
static void
s_look_prune(ntf_dlv_t *d)
{
    int64_t now = kp_now_ms();
    for (s_look_t **pp = &d->looks; *pp;) {
        s_look_t *l = *pp;
        if (l->lease_until_ms < now) {
            *pp = l->next;
            d->looks_n--;
            s_look_free(l);
        } else {
            pp = &l->next;
        }
    }
}

static int
s_look_send(ntf_dlv_t *d, int target, const ntf_rec_t *r, const s_who_t *carry)
{
    s_look_prune(d);
    if (d->looks_n >= 4096)
        return 0; /* the lease brings it back */
    uint8_t body[32], frame[128];
    Kumppani__V1__Request req = KUMPPANI__V1__REQUEST__INIT;
    req.request_id = ++d->rid_seq;
    req.body.data = body;
    if (target == LK_EVENTS) {
        Kumppani__V1__SignupContactRequest ref = KUMPPANI__V1__SIGNUP_CONTACT_REQUEST__INIT;
        ref.signup_id = r->signup_id;
        req.method = (char *)"events.signup.contact";
        req.body.len = kumppani__v1__signup_contact_request__pack(&ref, body);
    } else if (target == LK_REQUEST) {
        Kumppani__V1__BrokerRequestRef ref = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
        ref.request_id = r->request_id;
        req.method = (char *)"broker.request.get";
        req.body.len = kumppani__v1__broker_request_ref__pack(&ref, body);
    } else if (target == LK_BROKER) {
        Kumppani__V1__ExpertRef ref = KUMPPANI__V1__EXPERT_REF__INIT;
        ref.expert_id = r->expert_id;
        req.method = (char *)"broker.expert.get";
        req.body.len = kumppani__v1__expert_ref__pack(&ref, body);
    } else {
        Kumppani__V1__PersonRef ref = KUMPPANI__V1__PERSON_REF__INIT;
        ref.person_id = r->person_id;
        req.method = (char *)"registry.person.get";
        req.body.len = kumppani__v1__person_ref__pack(&ref, body);
    }
    size_t len = kumppani__v1__request__pack(&req, frame);
    if (zmq_send(d->lsock[target], frame, len, ZMQ_DONTWAIT) < 0) {
        kp_log_warn("deliver.lookup_send", "target=%d errno=%d", target, zmq_errno());
        return 0;
    }
    kp_zwatch_recheck(d->lwatch[target]);
    s_look_t *l = kp_xcalloc(1, sizeof *l);
    l->rid = req.request_id;
    l->target = target;
    l->lease_until_ms = r->lease_until_ms;
    snprintf(l->key, sizeof l->key, "%s", r->key);
    if (carry) {
        const char *v[4] = {carry->address, carry->phone, carry->name,
                            carry->language ? carry->language : ""};
        for (int i = 0; i < 4; i++)
            l->carry[i] = kp_xstrdup(v[i] ? v[i] : "");
    }
    l->next = d->looks;
    d->looks = l;
    d->looks_n++;
    return 0;
}

/* The recipient of a looked-up reply, in arena a: *gone when the person or expert is erased;
 * neither (-1) when the answer says nothing (the lease brings the message back). */
static int
s_look_who(ntf_dlv_t *d, const s_look_t *l, const Kumppani__V1__Reply *rep, kp_arena_t *a,
           s_who_t *who, bool *gone)
{
    int code = rep->status ? (int)rep->status->code : -1;
    *gone = code == KUMPPANI__V1__CODE__CODE_NOT_FOUND;
    if (*gone)
        return 0;
    if (code != KUMPPANI__V1__CODE__CODE_OK)
        return -1;
    if (l->target == LK_EVENTS) {
        Kumppani__V1__SignupContactReply *cr = kumppani__v1__signup_contact_reply__unpack(
            kp_arena_pbc(a), rep->body.len, rep->body.data);
        if (!cr)
            return -1;
        *who = (s_who_t){.address = cr->email, .phone = cr->phone, .name = cr->name};
        return 0;
    }
    if (l->target == LK_BROKER) {
        Kumppani__V1__ExpertReply *er =
            kumppani__v1__expert_reply__unpack(kp_arena_pbc(a), rep->body.len, rep->body.data);
        if (!er || !er->expert)
            return -1;
        const Kumppani__V1__ExpertInput *p = er->expert->profile;
        *gone = er->expert->erased || !p;
        if (*gone)
            return 0;
        *who = (s_who_t){.address = p->email, .phone = p->phone, .name = p->name, .language = "fi"};
        for (size_t i = 0; i < p->n_languages; i++)
            if (!strcmp(p->languages[i], "fi") || !strcmp(p->languages[i], "sv") ||
                !strcmp(p->languages[i], "en")) {
                who->language = p->languages[i];
                break;
            }
        return 0;
    }
    if (l->target == LK_REQUEST) {
        Kumppani__V1__BrokerRequestReply *rr = kumppani__v1__broker_request_reply__unpack(
            kp_arena_pbc(a), rep->body.len, rep->body.data);
        if (!rr || !rr->request)
            return -1;
        const Kumppani__V1__BrokerRequestInput *in = rr->request->input;
        *gone = !in || (!in->contact_email[0] && !in->contact_phone[0] && !in->contact_name[0]);
        if (*gone)
            return 0;
        /* a request without a contact person's name greets the requester (its name) */
        *who = (s_who_t){.address = in->contact_email,
                         .phone = in->contact_phone,
                         .name = in->contact_name[0] ? in->contact_name : in->requester_name};
        return 0;
    }
    Kumppani__V1__PersonReply *pr =
        kumppani__v1__person_reply__unpack(kp_arena_pbc(a), rep->body.len, rep->body.data);
    if (!pr || !pr->person)
        return -1;
    *who = (s_who_t){.address = pr->person->email,
                     .phone = "",
                     .name = pr->person->name,
                     .language = d->n->conf.digest_language};
    return 0;
}

/* A lookup was answered: send the message now, or drop it for an erased recipient. */
static void
s_look_done(ntf_dlv_t *d, s_look_t *l, const Kumppani__V1__Reply *rep)
{
    ntf_t *n = d->n;
    kp_arena_t *a = n->dlv_arena;
    kp_arena_reset(a);
    s_who_t who;
    bool gone;
    if (s_look_who(d, l, rep, a, &who, &gone) != 0) {
        kp_log_warn("deliver.lookup_failed", "target=%d code=%d", l->target,
                    rep->status ? (int)rep->status->code : -1);
        return; /* the lease brings it back */
    }
    kp_tx_t tx;
    ntf_rec_t *old, *r;
    int rc = s_sending(&tx, n, l->key, l->lease_until_ms, &old, &r);
    if (rc || !r)
        goto out;
    if (l->carry[0]) {
        /* the second answer of a requester's confirmation: the expert, as disclosed to the
         * requester (name, and e-mail or else phone); an erased expert is not named */
        if (!gone) {
            r->expert_name = (char *)who.name;
            r->expert_contact = (char *)(who.address[0] ? who.address : who.phone);
        }
        s_who_t req = {l->carry[0], l->carry[1], l->carry[2], l->carry[3][0] ? l->carry[3] : NULL};
        rc = s_take(d, &tx, old, r, &req);
        goto out;
    }
    if (!gone && l->target == LK_REQUEST && r->kind == MK(REQUEST_CONFIRMED) && r->expert_id &&
        d->lsock[LK_BROKER]) {
        rc = s_look_send(d, LK_BROKER, r, &who);
        goto out;
    }
    if (gone) {
        r->state = ST(CANCELLED);
        ntf_rec_attempt(&tx, r, false, s_lk_gone[l->target]);
        kp_log_notice(s_lk_log[l->target],
                      "target=%d expert=%llu person=%llu signup=%llu request=%llu offer=%llu "
                      "kind=%d",
                      l->target, (unsigned long long)r->expert_id, (unsigned long long)r->person_id,
                      (unsigned long long)r->signup_id, (unsigned long long)r->request_id,
                      (unsigned long long)r->offer_id, r->kind);
        rc = ntf_rec_put(&tx, old, r);
        goto out;
    }
    rc = s_take(d, &tx, old, r, &who);
out:
    if (rc) {
        kp_log_err("deliver.lookup_record", "err=%d", rc);
        kp_server_abort_turn(n->srv, rc);
    }
}

typedef struct {
    ntf_dlv_t *d;
    void *sock;
} lreply_t;

/* A look-up's reply (decoded on the heap: s_look_done resets the deliverer's arena) ends the
 * look-up that asked this socket with its id. */
static int
s_lreply(void *arg, const Kumppani__V1__Reply *rep)
{
    lreply_t *a = arg;
    ntf_dlv_t *d = a->d;
    for (s_look_t **pp = &d->looks; *pp; pp = &(*pp)->next) {
        s_look_t *l = *pp;
        if (l->rid != rep->request_id || d->lsock[l->target] != a->sock)
            continue;
        *pp = l->next;
        d->looks_n--;
        s_look_done(d, l, rep);
        s_look_free(l);
        break;
    }
    return d->n->stopping;
}

static void
s_lsock_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    lreply_t a = {arg, sock};
    if (!a.d->n->stopping)
        kp_zsock_each_reply(sock, 64, s_lreply, &a);
}

static int
s_lsock_open(ntf_dlv_t *d, int target, const char *api, const char *server_pub)
{
    const ntf_conf_t *cf = &d->n->conf;
    if (!api || !api[0] || !strcmp(api, "off"))
        return 0;
    void *s = zmq_socket(kp_server_zctx(d->n->srv), ZMQ_DEALER);
    d->lsock[target] = s;
    if (!s || kp_zsock_client(s, cf->have_keys ? &cf->keys : NULL, server_pub) ||
        zmq_connect(s, api) != 0)
        return KP_EZMQ;
    return kp_zwatch_start(&d->lwatch[target], d->n->loop, s, s_lsock_ready, d);
}

/* ---- start, turns and stop ------------------------------------------------------------------ */

void
ntf_dlv_turn_done(ntf_t *n, int rc)
{
    ntf_xfer_turn_done(n->dlv->xfer, rc);
}

void
ntf_dlv_stop(ntf_t *n)
{
    ntf_dlv_t *d = n->dlv;
    ntf_xfer_close(d->xfer);
    for (int t = 0; t < LK_N; t++) {
        kp_zwatch_close(&d->lwatch[t]);
        if (d->lsock[t])
            zmq_close(d->lsock[t]);
        d->lsock[t] = NULL;
    }
    while (d->looks) {
        s_look_t *l = d->looks;
        d->looks = l->next;
        s_look_free(l);
    }
    kp_log_info("deliver.stop", "delivered=%llu failed=%llu", (unsigned long long)d->delivered_n,
                (unsigned long long)d->failed_n);
}

int
ntf_dlv_start(ntf_t *n)
{
    if (sodium_init() < 0)
        return KP_EINVAL;
    ntf_dlv_t *d = kp_xcalloc(1, sizeof *d);
    d->n = n;
    n->dlv = d;
    int rc = ntf_xfer_new(&d->xfer, n->loop, &n->conf, s_record, d);
    if (rc == 0)
        rc = s_lsock_open(d, LK_BROKER, n->conf.broker_api, n->conf.broker_pub);
    if (rc == 0)
        rc = s_lsock_open(d, LK_REQUEST, n->conf.broker_api, n->conf.broker_pub);
    if (rc == 0)
        rc = s_lsock_open(d, LK_REGISTRY, n->conf.registry_api, n->conf.registry_pub);
    return rc ? rc : s_lsock_open(d, LK_EVENTS, n->conf.events_api, n->conf.events_pub);
}

void
ntf_dlv_free(ntf_t *n)
{
    if (!n->dlv)
        return;
    ntf_xfer_free(&n->dlv->xfer);
    free(n->dlv);
    n->dlv = NULL;
}
