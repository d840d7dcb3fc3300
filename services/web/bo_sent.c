/*  web/bo_sent.c: the back office's "What was sent" (regional coordinator; the expert
 *  coordinator sees the broker's messages only): for an address (a POST form field, so it is
 *  in no URL or log), an event or a broker request, which messages went out, when (Helsinki
 *  time), by which channel, with what result; the dead letters with a Retry button (POST,
 *  audited); the opt-outs (regional only). Over the bus to the notifier with the office key
 *  (role admin on the notifier's allow-list). The notifier's records show no address of a
 *  person; the page shows none either, but the opt-outs' own addresses. */
#include "bo.h"
#include "kp_text.h"
#include "kumppani/v1/notifier.pb-c.h"

#include <stdio.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define DEAD_MAX 100
#define KEY_MAX 200

typedef struct {
    bo_account_t *acct;
    bool regional;
    /* what was asked: "bo_sent_for_address", "bo_sent_for_event" or "_for_request"; NULL for
     * the page without a lookup */
    const char *what;
    uint64_t event_id, request_id;
    Kumppani__V1__ListNotificationsReply *found, *dead;
    const char *err; /* the address typed refused: its error (a text key), the page 400 */
} snt_t;

/* The broker's messages: the expert coordinator's. */
static bool
s_broker_kind(int k)
{
    return (k >= KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_EXPERT_OFFER &&
            k <= KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_REQUEST_UNFILLED) ||
           k >= KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_EXPERT_CANCELLED;
}

static void
s_rows(web_req_t *r, snt_t *t, web_tv_t *root, const char *name,
       const Kumppani__V1__ListNotificationsReply *l)
{
    kp_arena_t *a = r->arena;
    web_tv_t *list = web_tv_list(a, root, name);
    size_t n = 0;
    for (size_t i = 0; l && i < l->n_notifications; i++) {
        const Kumppani__V1__Notification *x = l->notifications[i];
        if (!t->regional && !s_broker_kind((int)x->kind))
            continue;
        web_tv_t *it = web_tv_item(a, list);
        const Kumppani__V1__DeliveryAttempt *last =
            x->n_attempts ? x->attempts[x->n_attempts - 1] : NULL;
        int64_t when_ms = last ? last->time_ms : x->created_ms;
        web_tv_time(r, it, "when", when_ms / 1000);
        web_tv_str(a, it, "key", x->key);
        web_tv_textf(r, it, "kind", "bo_msg_%d", (int)x->kind);
        web_tv_textf(r, it, "channel", "bo_ch_%d", (int)x->channel);
        web_tv_textf(r, it, "state", "bo_nst_%d", (int)x->state);
        web_tv_str(a, it, "result", last ? last->result : "–");
        web_tv_strf(a, it, "attempts", "%u", x->attempts_n);
        if (x->event_id)
            web_tv_strf(a, it, "event", "%llu", (unsigned long long)x->event_id);
        else if (x->request_id)
            web_tv_strf(a, it, "request", "%llu", (unsigned long long)x->request_id);
        n++;
    }
    char key[48];
    snprintf(key, sizeof key, "%s_n", name);
    web_tv_strf(a, root, key, "%zu", n);
    snprintf(key, sizeof key, "no_%s", name);
    web_tv_bool(a, root, key, n == 0);
}

/* The page, with the opt-outs (a regional coordinator's: an OptOutListReply) or NULL. */
static void
s_render(web_req_t *r, void *optouts)
{
    snt_t *t = r->cont_arg;
    const Kumppani__V1__OptOutListReply *oo = optouts;
    kp_arena_t *a = r->arena;
    web_tv_t *root = bo_root(r, t->acct, "bo_sent_title");
    if (t->err) { /* the address typed, kept in its field */
        bo_field_error(r, root, t->err, "address");
        web_tv_str(a, web_tv_obj(a, root, "v"), "address", web_field(r, "address"));
    }
    web_tv_bool(a, root, "asked", t->what != NULL);
    if (t->what) {
        web_tv_str(a, root, "what", web_text(r, t->what));
        s_rows(r, t, root, "found", t->found);
    }
    /* The lookups by an event's and by a broker request's id, each a GET form of its own. */
    const struct {
        const char *name;
        uint64_t id;
    } look[] = {{"event", t->event_id}, {"request", t->request_id}};
    web_tv_t *ll = web_tv_list(a, root, "lookups");
    for (size_t i = 0; i < 2; i++) {
        web_tv_t *it = web_tv_item(a, ll);
        char key[32];
        snprintf(key, sizeof key, "bo_sent_%s", look[i].name);
        web_tv_str(a, it, "name", look[i].name);
        web_tv_str(a, it, "label", web_text(r, key));
        if (look[i].id)
            web_tv_strf(a, it, "value", "%llu", (unsigned long long)look[i].id);
    }
    s_rows(r, t, root, "dead", t->dead);
    web_tv_bool(a, root, "regional", t->regional);
    if (oo) {
        web_tv_t *ol = web_tv_list(a, root, "optouts");
        for (size_t i = 0; i < oo->n_optouts; i++) {
            web_tv_t *it = web_tv_item(a, ol);
            web_tv_textf(r, it, "channel", "bo_ch_%d", (int)oo->optouts[i]->channel);
            web_tv_str(a, it, "address", oo->optouts[i]->address);
        }
        web_tv_count(a, root, "optouts", oo->n_optouts);
    }
    web_page(r, t->err ? 400 : 200, "bo_sent", root);
}

static void
s_dead_done(web_req_t *r, void *dead)
{
    snt_t *t = r->cont_arg;
    t->dead = dead;
    if (!t->regional) {
        s_render(r, NULL);
        return;
    }
    Kumppani__V1__OptOutListRequest rq = KUMPPANI__V1__OPT_OUT_LIST_REQUEST__INIT;
    rq.limit = 1000;
    bo_get(r, t->acct, r->svc->bus_notifier, "notifier.optouts", &rq.base,
           &kumppani__v1__opt_out_list_reply__descriptor, NULL, s_render);
}

static void
s_dead(web_req_t *r, snt_t *t)
{
    Kumppani__V1__ListNotificationsRequest rq = KUMPPANI__V1__LIST_NOTIFICATIONS_REQUEST__INIT;
    rq.limit = DEAD_MAX;
    bo_get(r, t->acct, r->svc->bus_notifier, "notifier.dead.list", &rq.base,
           &kumppani__v1__list_notifications_reply__descriptor, NULL, s_dead_done);
}

static void
s_found_done(web_req_t *r, void *found)
{
    snt_t *t = r->cont_arg;
    t->found = found;
    s_dead(r, t);
}

/* Asks the notifier for what was sent about an event or a request (what: the lookup's text key;
 * method: notifier.sent or .schedule, rq its request); then the dead letters. */
static void
s_find(web_req_t *r, snt_t *t, const char *what, const char *method, const ProtobufCMessage *rq)
{
    t->what = what;
    bo_get(r, t->acct, r->svc->bus_notifier, method, rq,
           &kumppani__v1__list_notifications_reply__descriptor, "bo_err_id", s_found_done);
}

/* What went to the address typed: the notifier's list, or its refusal of the address (INVALID:
 * the page again, 400, the error beside the field and the text typed kept). */
static void
s_address_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    snt_t *t = r->cont_arg;
    void *found = web_body(r, rep, &kumppani__v1__list_notifications_reply__descriptor);
    if (found) {
        s_found_done(r, found);
        return;
    }
    if (web_code(rep) != C(INVALID)) {
        bo_error(r, t->acct, 503, "err_unavailable");
        return;
    }
    t->what = NULL;
    t->err = "bo_err_address_form";
    s_dead(r, t);
}

/* What was sent about a broker request (?request=N): its experts', its requester's and the
 * coordinator's messages (notifier.sent by request_id; audited by the request's id). */
static void
s_for_request(web_req_t *r, snt_t *t, const char *id)
{
    t->request_id = web_parse_id(id);
    if (!t->request_id) {
        bo_error(r, t->acct, 400, "bo_err_id");
        return;
    }
    char obj[48];
    snprintf(obj, sizeof obj, "request=%llu", (unsigned long long)t->request_id);
    bo_audit(r, t->acct->id, "notifier.sent", obj, "ok");
    Kumppani__V1__SentRequest rq = KUMPPANI__V1__SENT_REQUEST__INIT;
    rq.request_id = t->request_id;
    rq.limit = 500;
    s_find(r, t, "bo_sent_for_request", "notifier.sent", &rq.base);
}

/* The page (GET): the dead letters, with what was sent about ?request=N or ?event=N; the lookup
 * by an address is its POST. */
void
bo_pg_sent(web_req_t *r, const char *arg)
{
    (void)arg;
    snt_t *t = bo_begin(r, BO_R(REGIONAL) | BO_R(EXPERT),
                        r->post ? "notifier.sent" : "notifier.dead.list", "", sizeof *t);
    if (!t)
        return;
    t->regional = t->acct->role == BO_ROLE(REGIONAL);
    if (r->post) {
        /* An e-mail address or a phone number (the notifier's rule, kp_text.h); else the page
         * again, the error beside the field. */
        const char *addr = web_field(r, "address");
        if (!addr || !*addr || strlen(addr) > 254)
            t->err = "bo_err_address";
        else if (!kp_text_email_valid(addr) && !kp_text_phone_valid(addr))
            t->err = "bo_err_address_form";
        if (t->err) {
            s_dead(r, t);
            return;
        }
        Kumppani__V1__SentRequest rq = KUMPPANI__V1__SENT_REQUEST__INIT;
        rq.address = (char *)addr;
        rq.limit = 500;
        bo_audit(r, t->acct->id, "notifier.sent", "", "ok");
        t->what = "bo_sent_for_address";
        bo_call(r, t->acct, r->svc->bus_notifier, "notifier.sent", &rq.base, NULL, s_address_done);
        return;
    }
    const char *ev = web_query(r, "event"), *rqs = web_query(r, "request");
    if (rqs && *rqs) {
        s_for_request(r, t, rqs);
        return;
    }
    if (!ev || !*ev) {
        s_dead(r, t);
        return;
    }
    t->event_id = web_parse_id(ev);
    if (!t->event_id) {
        bo_error(r, t->acct, 400, "bo_err_id");
        return;
    }
    Kumppani__V1__ListNotificationsRequest rq = KUMPPANI__V1__LIST_NOTIFICATIONS_REQUEST__INIT;
    rq.event_id = t->event_id;
    s_find(r, t, "bo_sent_for_event", "notifier.schedule", &rq.base);
}

typedef struct {
    bo_account_t *acct;
    char obj[KEY_MAX + 8];
} rty_t;

static void
s_retry_done(web_req_t *r, const Kumppani__V1__Reply *rep)
{
    rty_t *t = r->cont_arg;
    int code = web_code(rep);
    bo_audit(r, t->acct->id, "notifier.dead.retry", t->obj, code == C(OK) ? "ok" : "failed");
    if (code == C(OK))
        web_redirect(r, "/office/sent?retried=1");
    else {
        bool gone = code == C(NOT_FOUND) || code == C(CONFLICT) || code == C(INVALID);
        bo_error(r, t->acct, gone ? 409 : 503, gone ? "bo_err_retry" : "err_unavailable");
    }
}

void
bo_pg_sent_retry(web_req_t *r, const char *arg)
{
    (void)arg;
    /* An expert coordinator may retry the broker's own dead letters, a regional any. */
    const char *key = web_field(r, "key");
    bool broker = key && strncmp(key, "broker/", 7) == 0;
    bo_account_t *a =
        bo_require_role(r, BO_R(REGIONAL) | (broker ? BO_R(EXPERT) : 0), "notifier.dead.retry", "");
    if (!a)
        return;
    if (!key || !*key || strlen(key) > KEY_MAX) {
        bo_error(r, a, 400, "bo_err_retry");
        return;
    }
    rty_t *t = bo_state(r, a, sizeof *t);
    if (!t)
        return;
    /* Keys are made of sources, ids and rules ("events/s42/remind24/..."): no personal data. */
    snprintf(t->obj, sizeof t->obj, "key=%s", key);
    Kumppani__V1__NotificationRef rq = KUMPPANI__V1__NOTIFICATION_REF__INIT;
    rq.key = (char *)key;
    bo_call(r, a, r->svc->bus_notifier, "notifier.dead.retry", &rq.base, NULL, s_retry_done);
}
