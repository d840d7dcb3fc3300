/*  notifier/deliver.c: leases and every transfer, asynchronous inside the service's libuv loop
 *  through libcurl's multi-socket interface (no threads), and the recipient lookups.
 *
 *  libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket)
 *  and when to call it back (CURLMOPT_TIMERFUNCTION: one uv_timer_t); we tell it what became
 *  ready with curl_multi_socket_action. One multi handle holds the connection cache, so
 *  connections to the SMTP server, the webhook endpoint and the SMS gateway are reused; easy
 *  handles are pooled and reused too.
 *
 *  A delivery, step by step:
 *    1. The schedule pass (timer.c) finds a due notification and hands it to ntf_dlv_take.
 *    2. In the turn transaction it is checked (quiet hours for SMS, opt-out, a switched-off
 *       endpoint), rendered, and leased: state SENDING, due entry at now + lease-ms. The
 *       transfer is kept in memory as "pending". Messages to an expert or a contact person
 *       first ask the broker or the registry for the recipient (a lookup under the same
 *       lease); the answer is used for this message only and never stored.
 *    3. When that turn has committed (ntf_dlv_turn_done), the pending transfers start. If the
 *       commit failed, they are dropped: the store still has them due.
 *    4. When a transfer ends, its outcome is recorded in the next turn: DELIVERED, or another
 *       try after exponential backoff, or DEAD once retry-max or the horizon is passed (an
 *       SMTP 5xx is final at once; a webhook 410 switches the endpoint off). The outcome is
 *       published on the log as NotificationDelivered / NotificationFailed.
 *  A crash between 3 and 4 leaves the lease in the store: the notification is sent again when
 *  the lease expires (the one at-least-once boundary; the Message-ID is the same). */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kp_wire.h"
#include "kp_zwatch.h"
#include "notifier.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x
#define PASS_BUDGET 512

typedef struct s_job {
    struct s_job *next, *all_next;
    ntf_dlv_t *d;
    CURL *easy;
    char key[NTF_KEY_MAX + 1];
    int channel;
    char *body;
    size_t body_len, body_off;
    char *rcpt_addr;
    struct curl_slist *rcpt, *headers;
    char errbuf[CURL_ERROR_SIZE];
} s_job_t;

typedef struct {
    uv_poll_t poll;
    curl_socket_t fd;
    ntf_dlv_t *d;
} s_sock_t;

/* Messages whose recipient is asked at delivery time, and never stored: experts from the
 * broker (broker.expert.get), contact persons from the registry (registry.person.get). */
enum { LK_NONE = -1, LK_BROKER, LK_REGISTRY, LK_N };

typedef struct {
    const char *address, *name, *language;
} s_who_t;

static int
s_lookup_of(int kind)
{
    return ntf_kind_expert(kind) ? LK_BROKER : kind == MK(DIGEST) ? LK_REGISTRY : LK_NONE;
}

/* A lookup in flight for the record key, accepted only while the record still holds the
 * lease it was given when the lookup was sent. */
typedef struct s_look {
    struct s_look *next;
    uint64_t rid;
    int target;
    int64_t lease_until_ms;
    char key[NTF_KEY_MAX + 1];
} s_look_t;

struct ntf_dlv {
    ntf_t *n;
    void *lsock[LK_N]; /* DEALERs to the broker's and the registry's ROUTERs (lookups) */
    kp_zwatch_t *lwatch[LK_N];
    s_look_t *looks;
    unsigned looks_n;
    uint64_t rid_seq;
    CURLM *multi;
    uv_timer_t curl_timer; /* libcurl's timeouts */
    s_job_t *pending, *free_jobs, *all;
    unsigned inflight, jobs_n;
    uint64_t delivered_n, failed_n;
};

/* ---- jobs ------------------------------------------------------------------------------- */

static void
s_job_clear(s_job_t *j)
{
    free(j->body);
    free(j->rcpt_addr);
    j->body = j->rcpt_addr = NULL;
    curl_slist_free_all(j->rcpt);
    curl_slist_free_all(j->headers);
    j->rcpt = j->headers = NULL;
}

static s_job_t *
s_job_get(ntf_dlv_t *d)
{
    s_job_t *j = d->free_jobs;
    if (j) {
        d->free_jobs = j->next;
    } else {
        j = kp_xcalloc(1, sizeof *j);
        j->d = d;
        j->easy = curl_easy_init();
        if (!j->easy) {
            free(j);
            return NULL;
        }
        d->jobs_n++;
        j->all_next = d->all;
        d->all = j;
    }
    j->next = NULL;
    return j;
}

static void
s_job_put(ntf_dlv_t *d, s_job_t *j)
{
    s_job_clear(j);
    j->next = d->free_jobs;
    d->free_jobs = j;
}

static size_t
s_read(char *buf, size_t size, size_t nitems, void *arg)
{
    s_job_t *j = arg;
    size_t room = size * nitems, left = j->body_len - j->body_off;
    size_t n = room < left ? room : left;
    memcpy(buf, j->body + j->body_off, n);
    j->body_off += n;
    return n;
}

static size_t
s_discard(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

static int
s_job_start(ntf_dlv_t *d, s_job_t *j)
{
    const ntf_conf_t *cf = &d->n->conf;
    CURL *e = j->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cf->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cf->timeout_ms < 10000 ? cf->timeout_ms : 10000));
    j->errbuf[0] = 0;
    j->body_off = 0;
    if (j->channel == CH(EMAIL)) {
        char from[300];
        snprintf(from, sizeof from, "<%s>", cf->smtp_from);
        j->rcpt = curl_slist_append(NULL, j->rcpt_addr);
        if (!j->rcpt)
            return KP_ENOMEM;
        curl_easy_setopt(e, CURLOPT_URL, cf->smtp_url);
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, s_read);
        curl_easy_setopt(e, CURLOPT_READDATA, j);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->body_len);
        long tls = strcmp(cf->smtp_tls, "require") == 0 ? (long)CURLUSESSL_ALL
                   : strcmp(cf->smtp_tls, "off") == 0   ? (long)CURLUSESSL_NONE
                                                        : (long)CURLUSESSL_TRY;
        curl_easy_setopt(e, CURLOPT_USE_SSL, tls);
        if (cf->smtp_ca_file && cf->smtp_ca_file[0])
            curl_easy_setopt(e, CURLOPT_CAINFO, cf->smtp_ca_file);
        if (cf->smtp_user && cf->smtp_user[0]) {
            curl_easy_setopt(e, CURLOPT_USERNAME, cf->smtp_user);
            curl_easy_setopt(e, CURLOPT_PASSWORD, cf->smtp_password ? cf->smtp_password : "");
        }
    } else {
        bool hook = j->channel == CH(WEBHOOK);
        char h[300];
        j->headers = curl_slist_append(NULL, "Content-Type: application/json");
        snprintf(h, sizeof h, "X-Kumppani-Key: %s", j->key);
        j->headers = curl_slist_append(j->headers, h);
        if (hook && cf->webhook_secret && cf->webhook_secret[0]) {
            unsigned char mac[crypto_auth_hmacsha256_BYTES];
            char hex[2 * sizeof mac + 1];
            crypto_auth_hmacsha256_state st;
            crypto_auth_hmacsha256_init(&st, (const unsigned char *)cf->webhook_secret,
                                        strlen(cf->webhook_secret));
            crypto_auth_hmacsha256_update(&st, (const unsigned char *)j->body, j->body_len);
            crypto_auth_hmacsha256_final(&st, mac);
            sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
            snprintf(h, sizeof h, "X-Kumppani-Signature: sha256=%s", hex);
            j->headers = curl_slist_append(j->headers, h);
        }
        j->headers = curl_slist_append(j->headers, "Expect:");
        if (!j->headers)
            return KP_ENOMEM;
        curl_easy_setopt(e, CURLOPT_URL, hook ? cf->webhook_url : cf->sms_url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
    }
    CURLMcode mc = curl_multi_add_handle(d->multi, e);
    return mc == CURLM_OK ? 0 : KP_EINVAL;
}

/* ---- recording outcomes ----------------------------------------------------------------- */

static void
s_emit(kp_tx_t *tx, const ntf_rec_t *r, const char *type, const char *result)
{
    Kumppani__V1__NotificationOutcome o = KUMPPANI__V1__NOTIFICATION_OUTCOME__INIT;
    o.key = r->key;
    o.kind = r->kind;
    o.channel = r->channel;
    o.event_id = r->event_id;
    o.signup_id = r->signup_id;
    o.attempts_n = r->attempts_n;
    o.result = (char *)result;
    int rc = kp_tx_emit(tx, type, &o.base);
    if (rc)
        kp_server_abort_turn(tx->srv, rc);
}

/* The deliverer's unit of work in the turn's transaction, in its arena (reset by the caller).
 * Its time is the clock's now, not the turn's: a pass that sys.clock.set asked for runs in a
 * libuv timer before the turn of that request has ended, whose time is from before the clock
 * moved (see the report of issue 11: kp_server could move the turn's time with the clock). */
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

static void
s_record(ntf_dlv_t *d, const char *key, int channel, bool ok, bool final, bool gone,
         const char *result)
{
    ntf_t *n = d->n;
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
    kp_log_debug("deliver.done", "channel=%d ok=%d attempts=%u", channel, ok, r->attempts_n);
out:
    if (rc) {
        kp_log_err("deliver.record", "err=%d", rc);
        kp_server_abort_turn(n->srv, rc);
    }
}

static void
s_check_done(ntf_dlv_t *d)
{
    CURLMsg *m;
    int left;
    bool any = false;
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        s_job_t *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        CURLcode cc = m->data.result;
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(d->multi, m->easy_handle);
        char result[64];
        bool ok, final = false, gone = false;
        if (j->channel == CH(EMAIL)) {
            ok = cc == CURLE_OK;
            final = !ok && code >= 500 && code < 600;
            if (cc == CURLE_OK || code)
                snprintf(result, sizeof result, "smtp %ld", code);
            else
                snprintf(result, sizeof result, "curl %d", (int)cc);
        } else {
            ok = cc == CURLE_OK && code >= 200 && code < 300;
            gone = cc == CURLE_OK && code == 410;
            if (cc == CURLE_OK)
                snprintf(result, sizeof result, "http %ld%s", code, gone ? " endpoint-off" : "");
            else
                snprintf(result, sizeof result, "curl %d", (int)cc);
        }
        if (!d->n->stopping)
            s_record(d, j->key, j->channel, ok, final, gone, result);
        d->inflight--;
        s_job_put(d, j);
        any = true;
    }
    if (any && !d->n->stopping)
        ntf_kick(d->n);
}

/* ---- libcurl <-> libuv -------------------------------------------------------------------- */

static void
s_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
s_poll_cb(uv_poll_t *p, int status, int events)
{
    s_sock_t *c = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    ntf_dlv_t *d = c->d;
    curl_multi_socket_action(d->multi, c->fd, flags, &running);
    s_check_done(d);
}

static int
s_socket_fn(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    ntf_dlv_t *d = userp;
    s_sock_t *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            curl_multi_assign(d->multi, s, NULL);
            uv_close((uv_handle_t *)&c->poll, s_sock_closed);
        }
        return 0;
    }
    if (!c) {
        c = kp_xcalloc(1, sizeof *c);
        c->fd = s;
        c->d = d;
        if (uv_poll_init_socket(d->n->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        curl_multi_assign(d->multi, s, c);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, s_poll_cb);
    return 0;
}

static void
s_curl_timeout(uv_timer_t *t)
{
    ntf_dlv_t *d = t->data;
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done(d);
}

static int
s_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    ntf_dlv_t *d = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&d->curl_timer);
    else
        uv_timer_start(&d->curl_timer, s_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- taking a due notification ------------------------------------------------------------ */

/* Decides one due record r (old: as stored). Returns 0 with *job set when it is to be sent. */
static int s_look_send(ntf_dlv_t *d, int target, const ntf_rec_t *r);

static int
s_take(ntf_dlv_t *d, kp_tx_t *tx, ntf_rec_t *old, ntf_rec_t *r, const s_who_t *who, s_job_t **job)
{
    ntf_t *n = d->n;
    kp_arena_t *a = tx->arena;
    int64_t now = tx->now_ms;
    const ntf_conf_t *cf = &n->conf;
    *job = NULL;
    int rc;
    if (old->state == ST(SENDING) && !who) /* a lease ran out: died, hung, or lookup lost */
        ntf_rec_attempt(tx, r, false, "lease-expired");
    const char *skip = NULL;
    bool dead = false;
    int lk = s_lookup_of(r->kind);
    if (lk != LK_NONE && !who) {
        if (!d->lsock[lk]) {
            skip = lk == LK_BROKER ? "broker-not-configured" : "registry-not-configured";
            dead = true;
        } else {
            /* Ask for the recipient; the lease covers the lookup. */
            r->state = ST(SENDING);
            r->lease_until_ms = now + (int64_t)cf->lease_ms;
            if ((rc = ntf_rec_put(tx, old, r)))
                return rc;
            return s_look_send(d, lk, r);
        }
    }
    if (who) {
        r->address = (char *)who->address;
        r->recipient_name = (char *)who->name;
        r->language = (char *)who->language;
        if (!r->address[0])
            skip = "no-email";
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
        if (off)
            skip = "endpoint-off";
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
    if (lk != LK_NONE) { /* the recipient's data is used for this message only, never stored */
        r->address = r->recipient_name = (char *)"";
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
    s_job_t *j = s_job_get(d);
    if (!j)
        return KP_ENOMEM;
    snprintf(j->key, sizeof j->key, "%s", r->key);
    j->channel = r->channel;
    if (r->channel == CH(EMAIL)) {
        j->body = kp_xmalloc(m.message_len + 1);
        memcpy(j->body, m.message, m.message_len + 1);
        j->body_len = m.message_len;
        const char *to = who ? who->address : r->address;
        size_t al = strlen(to);
        j->rcpt_addr = kp_xmalloc(al + 3);
        snprintf(j->rcpt_addr, al + 3, "<%s>", to);
    } else {
        const char *body = r->channel == CH(SMS)
                               ? ntf_render_sms_body(a, cf->sms_body, r->address, m.text)
                               : m.text;
        if (!body) {
            s_job_put(d, j);
            return KP_ENOMEM;
        }
        j->body = kp_xstrdup(body);
        j->body_len = strlen(body);
    }
    r->state = ST(SENDING);
    r->lease_until_ms = now + (int64_t)cf->lease_ms;
    if ((rc = ntf_rec_put(tx, old, r))) {
        s_job_put(d, j);
        return rc;
    }
    *job = j;
    return 0;
}

/* A transfer waits for the end of the turn that leased it (ntf_dlv_turn_done). */
static void
s_pend(ntf_dlv_t *d, s_job_t *j)
{
    j->next = d->pending;
    d->pending = j;
    d->inflight++;
}

int
ntf_dlv_take(kp_tx_t *tx, ntf_rec_t *old, ntf_rec_t *r)
{
    ntf_dlv_t *d = ((ntf_t *)tx->svc)->dlv;
    s_job_t *j;
    int rc = s_take(d, tx, old, r, NULL, &j);
    if (rc == 0 && j)
        s_pend(d, j);
    return rc;
}

bool
ntf_dlv_busy(const ntf_t *n)
{
    return n->stopping || !n->dlv || n->dlv->inflight >= n->conf.inflight_max;
}

/* ---- recipient lookups --------------------------------------------------------------------- */

static int
s_look_send(ntf_dlv_t *d, int target, const ntf_rec_t *r)
{
    /* Lookups whose answer never came are dropped once their lease is over. */
    int64_t now = kp_now_ms();
    for (s_look_t **pp = &d->looks; *pp;) {
        s_look_t *l = *pp;
        if (l->lease_until_ms < now) {
            *pp = l->next;
            d->looks_n--;
            free(l);
        } else {
            pp = &l->next;
        }
    }
    if (d->looks_n >= 4096)
        return 0; /* the lease brings it back */
    uint8_t body[32], frame[128];
    Kumppani__V1__Request req = KUMPPANI__V1__REQUEST__INIT;
    req.request_id = ++d->rid_seq;
    req.body.data = body;
    if (target == LK_BROKER) {
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
    if (l->target == LK_BROKER) {
        Kumppani__V1__ExpertReply *er =
            kumppani__v1__expert_reply__unpack(kp_arena_pbc(a), rep->body.len, rep->body.data);
        if (!er || !er->expert)
            return -1;
        const Kumppani__V1__ExpertInput *p = er->expert->profile;
        *gone = er->expert->erased || !p;
        if (*gone)
            return 0;
        who->address = p->email;
        who->name = p->name;
        who->language = "fi";
        for (size_t i = 0; i < p->n_languages; i++)
            if (!strcmp(p->languages[i], "fi") || !strcmp(p->languages[i], "sv") ||
                !strcmp(p->languages[i], "en")) {
                who->language = p->languages[i];
                break;
            }
        return 0;
    }
    Kumppani__V1__PersonReply *pr =
        kumppani__v1__person_reply__unpack(kp_arena_pbc(a), rep->body.len, rep->body.data);
    if (!pr || !pr->person)
        return -1;
    who->address = pr->person->email;
    who->name = pr->person->name;
    who->language = d->n->conf.digest_language;
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
    if (gone) {
        r->state = ST(CANCELLED);
        ntf_rec_attempt(&tx, r, false, l->target == LK_BROKER ? "expert-erased" : "person-erased");
        kp_log_notice(l->target == LK_BROKER ? "deliver.expert_erased" : "deliver.person_erased",
                      "expert=%llu person=%llu request=%llu offer=%llu kind=%d",
                      (unsigned long long)r->expert_id, (unsigned long long)r->person_id,
                      (unsigned long long)r->request_id, (unsigned long long)r->offer_id, r->kind);
        rc = ntf_rec_put(&tx, old, r);
        goto out;
    }
    s_job_t *j;
    if ((rc = s_take(d, &tx, old, r, &who, &j)) == 0 && j)
        s_pend(d, j);
out:
    if (rc) {
        kp_log_err("deliver.lookup_record", "err=%d", rc);
        kp_server_abort_turn(n->srv, rc);
    }
}

static void
s_lsock_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    ntf_dlv_t *d = arg;
    for (int i = 0; i < 64 && !d->n->stopping; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        /* s_look_done resets the deliverer's arena: the reply is decoded on the heap */
        Kumppani__V1__Reply *rep =
            kumppani__v1__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        for (s_look_t **pp = &d->looks; rep && *pp; pp = &(*pp)->next) {
            s_look_t *l = *pp;
            if (l->rid != rep->request_id || d->lsock[l->target] != sock)
                continue;
            *pp = l->next;
            d->looks_n--;
            s_look_done(d, l, rep);
            free(l);
            break;
        }
        if (rep)
            kumppani__v1__reply__free_unpacked(rep, NULL);
        zmq_msg_close(&m);
    }
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
    ntf_dlv_t *d = n->dlv;
    s_job_t *j = d->pending;
    d->pending = NULL;
    while (j) {
        s_job_t *next = j->next;
        if (rc == 0 && !n->stopping && s_job_start(d, j) == 0) {
            j = next;
            continue;
        }
        d->inflight--;
        s_job_put(d, j);
        j = next;
    }
}

void
ntf_dlv_stop(ntf_t *n)
{
    ntf_dlv_t *d = n->dlv;
    /* Transfers in flight are abandoned; their leases bring them back after a restart. */
    ntf_dlv_turn_done(n, -1);
    for (s_job_t *j = d->all; j; j = j->all_next)
        curl_multi_remove_handle(d->multi, j->easy);
    curl_multi_cleanup(d->multi);
    d->multi = NULL;
    while (d->all) {
        s_job_t *j = d->all;
        d->all = j->all_next;
        curl_easy_cleanup(j->easy);
        s_job_clear(j);
        free(j);
    }
    d->free_jobs = NULL;
    for (int t = 0; t < LK_N; t++) {
        kp_zwatch_close(&d->lwatch[t]);
        if (d->lsock[t])
            zmq_close(d->lsock[t]);
        d->lsock[t] = NULL;
    }
    while (d->looks) {
        s_look_t *l = d->looks;
        d->looks = l->next;
        free(l);
    }
    uv_close((uv_handle_t *)&d->curl_timer, NULL);
    kp_log_info("deliver.stop", "delivered=%llu failed=%llu", (unsigned long long)d->delivered_n,
                (unsigned long long)d->failed_n);
}

int
ntf_dlv_start(ntf_t *n)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KP_EINVAL;
    ntf_dlv_t *d = kp_xcalloc(1, sizeof *d);
    d->n = n;
    n->dlv = d;
    d->multi = curl_multi_init();
    if (!d->multi)
        return KP_ENOMEM;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, s_socket_fn);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, s_timer_fn);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)n->conf.inflight_max * 2);
    uv_timer_init(n->loop, &d->curl_timer);
    d->curl_timer.data = d;
    int rc = s_lsock_open(d, LK_BROKER, n->conf.broker_api, n->conf.broker_pub);
    return rc ? rc : s_lsock_open(d, LK_REGISTRY, n->conf.registry_api, n->conf.registry_pub);
}

void
ntf_dlv_free(ntf_t *n)
{
    if (!n->dlv)
        return;
    curl_multi_cleanup(n->dlv->multi); /* NULL after a stop */
    free(n->dlv);
    n->dlv = NULL;
    curl_global_cleanup();
}
