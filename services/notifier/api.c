/*  notifier/api.c: the request handlers (status, preview, dead letters, retry, the schedule of
 *  an event, opt-out). Validate, then write; errors name the field and the rule. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kumppani/v1/privacy.pb-c.h"
#include "notifier.h"

#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

static bool
s_key_ok(kp_call_t *call, const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > NTF_KEY_MAX)
        return kp_check_fail(call, "field 'key': 1..%d characters required", NTF_KEY_MAX);
    return true;
}

/* The start of a handler whose request is a NotificationRef: opens the unit of work and loads
 * the notification the request names, or returns NULL after answering the call (bad key, not
 * found, store). */
static ntf_rec_t *
s_open(kp_tx_t *tx, kp_call_t *call, void *svc)
{
    const Kumppani__V1__NotificationRef *rq = kp_tx_open(tx, call, svc);
    if (!s_key_ok(call, rq->key))
        return NULL;
    ntf_rec_t *r = NULL;
    bool found = false;
    int rc = ntf_rec_get(tx, rq->key, &r, &found);
    if (rc) {
        kp_call_fail_err(call, rc);
        return NULL;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "notification not found");
        return NULL;
    }
    return r;
}

/* Ends the call: the error rc, or the notification r. */
static void
s_answer(kp_tx_t *tx, int rc, ntf_rec_t *r)
{
    Kumppani__V1__NotificationReply rep = KUMPPANI__V1__NOTIFICATION_REPLY__INIT;
    rep.notification = r;
    kp_tx_answer(tx, rc, &rep.base);
}

/* Ends the call: the error rc, or the notifications v[0..vn). */
static void
s_answer_list(kp_tx_t *tx, int rc, ntf_rec_t **v, size_t vn)
{
    Kumppani__V1__ListNotificationsReply rep = KUMPPANI__V1__LIST_NOTIFICATIONS_REPLY__INIT;
    rep.notifications = v;
    rep.n_notifications = vn;
    kp_tx_answer(tx, rc, &rep.base);
}

static void
s_status(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    ntf_rec_t *r = s_open(&tx, call, svc);
    if (r)
        s_answer(&tx, 0, r);
}

static void
s_preview(kp_call_t *call, void *svc)
{
    ntf_t *n = svc;
    kp_tx_t tx;
    ntf_rec_t *r = s_open(&tx, call, svc);
    if (!r)
        return;
    /* A recipient asked at delivery time is not stored: the preview shows a stand-in ("N.N.",
     * the name a form gives for "a name goes here"). */
    if (!r->recipient_name[0])
        r->recipient_name = (char *)"N.N.";
    if (!r->address[0] && r->channel == CH(EMAIL))
        r->address = (char *)"recipient@example.invalid";
    else if (!r->address[0] && r->channel == CH(SMS))
        r->address = (char *)"+358000000000";
    ntf_msg_t m;
    int rc = ntf_render(n, tx.arena, r, tx.now_ms, &m);
    if (rc) {
        kp_call_fail(call, C(CONFLICT), "notification cannot be rendered (address)");
        return;
    }
    Kumppani__V1__PreviewReply rep = KUMPPANI__V1__PREVIEW_REPLY__INIT;
    rep.notification = r;
    rep.subject = m.subject;
    rep.body_text = r->channel == CH(SMS)
                        ? ntf_render_sms_body(tx.arena, n->conf.sms_body, r->address, m.text)
                        : m.text;
    rep.ical_text = m.ical;
    rep.message_text = m.message;
    if (!rep.body_text) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    kp_call_ok(call, &rep.base);
}

/* The notifications of keys[0..keys_n) still held (a key whose record is gone is skipped),
 * into *out (in the arena). Returns 0 or a KP code. */
static int
s_recs(kp_tx_t *tx, char **keys, size_t keys_n, ntf_rec_t ***out, size_t *out_n)
{
    *out_n = 0;
    *out = kp_arena_alloc(tx->arena, (keys_n + 1) * sizeof **out);
    if (!*out)
        return KP_ENOMEM;
    for (size_t i = 0; i < keys_n; i++) {
        bool found;
        int rc = ntf_rec_get(tx, keys[i], &(*out)[*out_n], &found);
        if (rc)
            return rc;
        if (found)
            (*out_n)++;
    }
    return 0;
}

/* The field rules of each request (kp_check.h): each answers CODE_INVALID naming the field and
 * the rule and returns false, or returns true. The page size is kp_check_limit's. */
static bool
s_dead_list_ok(kp_call_t *call, const Kumppani__V1__ListNotificationsRequest *rq)
{
    if (strlen(rq->after_key) > NTF_KEY_MAX)
        return kp_check_fail(call, "field 'after_key': at most %d characters", NTF_KEY_MAX);
    return true;
}

static bool
s_schedule_ok(kp_call_t *call, const Kumppani__V1__ListNotificationsRequest *rq)
{
    if (rq->event_id == 0)
        return kp_check_fail(call, "field 'event_id': required");
    return true;
}

static bool
s_optout_ok(kp_call_t *call, const Kumppani__V1__OptOutRequest *rq)
{
    if (rq->channel != CH(EMAIL) && rq->channel != CH(SMS))
        return kp_check_fail(call, "field 'channel': CHANNEL_EMAIL or CHANNEL_SMS");
    if (rq->channel == CH(EMAIL) ? !kp_text_email_valid(rq->address)
                                 : !kp_text_phone_valid(rq->address))
        return kp_check_fail(call, "field 'address': an e-mail or phone number of the channel");
    return true;
}

static bool
s_sent_ok(kp_call_t *call, const Kumppani__V1__SentRequest *rq)
{
    if (rq->request_id && rq->address[0])
        return kp_check_fail(call, "field 'request_id': give either it or 'address', not both");
    if (!rq->request_id && !kp_text_email_valid(rq->address) && !kp_text_phone_valid(rq->address))
        return kp_check_fail(
            call, "field 'address': an e-mail address or a phone number (or a request_id)");
    return true;
}

static bool
s_optouts_ok(kp_call_t *call, const Kumppani__V1__OptOutListRequest *rq)
{
    const char *a = rq->after_address;
    if (strlen(a) > 260)
        return kp_check_fail(call, "field 'after_address': at most 260 bytes");
    /* The last entry of a page as "<channel number>:<address>"; anything else used to start
     * the list again from the top without a word. */
    if (a[0] && !(a[0] >= '1' && a[0] <= '3' && a[1] == ':'))
        return kp_check_fail(call, "field 'after_address': \"<channel number>:<address>\" of the "
                                   "last entry of the page before, or empty");
    return true;
}

static void
s_dead_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListNotificationsRequest *rq = kp_tx_open(&tx, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 100, 500);
    if (!limit || !s_dead_list_ok(call, rq))
        return;
    ntf_rec_t **v = NULL;
    size_t vn = 0;
    int rc = ntf_dead_page(&tx, rq->after_key, limit, &v, &vn);
    s_answer_list(&tx, rc, v, vn);
}

static void
s_schedule(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListNotificationsRequest *rq = kp_tx_open(&tx, call, svc);
    if (!s_schedule_ok(call, rq))
        return;
    char **keys;
    size_t keys_n;
    ntf_rec_t **v = NULL;
    size_t vn = 0;
    int rc = ntf_event_keys(&tx, rq->event_id, &keys, &keys_n);
    if (!rc)
        rc = s_recs(&tx, keys, keys_n < 2000 ? keys_n : 2000, &v, &vn);
    s_answer_list(&tx, rc, v, vn);
}

static void
s_retry(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    ntf_rec_t *old = s_open(&tx, call, svc);
    if (!old)
        return;
    if (old->state != ST(DEAD)) {
        kp_call_fail(call, C(CONFLICT), "notification is not a dead letter");
        return;
    }
    ntf_rec_t *r;
    bool found;
    int rc = ntf_rec_get(&tx, old->key, &r, &found); /* the copy to change */
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r->state = ST(SCHEDULED);
    r->due_ms = tx.now_ms;
    r->first_attempt_ms = 0; /* a new horizon for the retries */
    r->attempts_n = 0;
    ntf_rec_attempt(&tx, r, false, "retry-requested");
    if ((r->channel == CH(WEBHOOK) && (rc = ntf_state_set(&tx, "webhook-off", false))) ||
        (rc = ntf_rec_put(&tx, old, r))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("dead.retry", "channel=%s", ntf_channel_name(r->channel));
    ntf_kick(svc);
    s_answer(&tx, 0, r);
}

static void
s_optout(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OptOutRequest *rq = kp_tx_open(&tx, call, svc);
    if (!s_optout_ok(call, rq))
        return;
    int rc = ntf_optout_set(&tx, rq->channel, rq->address, !rq->opt_in);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("optout.set", "channel=%s out=%d", ntf_channel_name(rq->channel), !rq->opt_in);
    Kumppani__V1__OptOutReply rep = KUMPPANI__V1__OPT_OUT_REPLY__INIT;
    rep.opted_out = !rq->opt_in;
    kp_call_ok(call, &rep.base);
}

/* notifier.sent: what went to an address, or about a broker request, newest first. */
static int
s_newest_first(const void *a, const void *b)
{
    const ntf_rec_t *x = *(const ntf_rec_t *const *)a, *y = *(const ntf_rec_t *const *)b;
    return x->created_ms < y->created_ms ? 1 : x->created_ms > y->created_ms ? -1 : 0;
}

static void
s_sent(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__SentRequest *rq = kp_tx_open(&tx, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 100, 500);
    if (!limit || !s_sent_ok(call, rq))
        return;
    char **keys;
    size_t keys_n;
    int rc = rq->request_id ? ntf_request_keys(&tx, rq->request_id, &keys, &keys_n)
                            : ntf_sent_find(&tx, rq->address, &keys, &keys_n);
    ntf_rec_t **v = NULL;
    size_t vn = 0;
    if (!rc)
        rc = s_recs(&tx, keys, keys_n, &v, &vn);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    qsort(v, vn, sizeof *v, s_newest_first);
    for (size_t i = 0; i < vn; i++) /* the reply shows no address of a person */
        v[i]->address = v[i]->recipient_name = (char *)"";
    kp_log_info("sent.list", "records=%zu request=%llu", vn, (unsigned long long)rq->request_id);
    s_answer_list(&tx, 0, v, vn < limit ? vn : limit);
}

/* notifier.optouts: the opt-out list, by channel and address. */
static void
s_optouts(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__OptOutListRequest *rq = kp_tx_open(&tx, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 100, 1000);
    if (!limit || !s_optouts_ok(call, rq))
        return;
    int *ch;
    char **addr;
    size_t vn;
    int rc = ntf_optout_page(&tx, rq->after_address, limit, &ch, &addr, &vn);
    Kumppani__V1__OptOutEntry *ents = rc ? NULL : kp_arena_alloc(tx.arena, (vn + 1) * sizeof *ents);
    Kumppani__V1__OptOutEntry **ptrs =
        rc ? NULL : kp_arena_alloc(tx.arena, (vn + 1) * sizeof *ptrs);
    if (!rc && (!ents || !ptrs))
        rc = KP_ENOMEM;
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    for (size_t i = 0; i < vn; i++) {
        kumppani__v1__opt_out_entry__init(&ents[i]);
        ents[i].channel = ch[i];
        ents[i].address = addr[i];
        ptrs[i] = &ents[i];
    }
    Kumppani__V1__OptOutListReply rep = KUMPPANI__V1__OPT_OUT_LIST_REPLY__INIT;
    rep.optouts = ptrs;
    rep.n_optouts = vn;
    kp_call_ok(call, &rep.base);
}

/* ---- the method table -------------------------------------------------------------------- */

#define M KP_METHOD /* the rows below */

const kp_method_t ntf_methods[] = {
    M("notifier.status", KP_ROLES_READ, notification_ref, s_status),
    M("notifier.preview", KP_ROLES_READ, notification_ref, s_preview),
    M("notifier.dead.list", KP_ROLES_READ, list_notifications_request, s_dead_list),
    M("notifier.schedule", KP_ROLES_READ, list_notifications_request, s_schedule),
    M("notifier.privacy.erase", KP_ROLE_ADMIN, data_subject, ntf_h_privacy_erase),
    M("notifier.privacy.export", KP_ROLE_ADMIN, data_subject, ntf_h_privacy_export),
    M("notifier.dead.retry", KP_ROLE_ADMIN, notification_ref, s_retry),
    M("notifier.sent", KP_ROLE_ADMIN, sent_request, s_sent),
    M("notifier.optouts", KP_ROLE_ADMIN, opt_out_list_request, s_optouts),
    M("notifier.optout", KP_ROLE_ADMIN | KP_ROLE_SERVICE, opt_out_request, s_optout),
};
const unsigned ntf_methods_n = sizeof ntf_methods / sizeof ntf_methods[0];
