/*  notifier/transfer.c: the transfers themselves: an e-mail to the SMTP server, a POST to the
 *  webhook endpoint or the SMS gateway, asynchronous inside the service's libuv loop through
 *  libcurl's multi-socket interface (no threads).
 *
 *  libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket)
 *  and when to call it back (CURLMOPT_TIMERFUNCTION: one uv_timer_t); we tell it what became
 *  ready with curl_multi_socket_action. One multi handle holds the connection cache, so
 *  connections to the SMTP server, the webhook endpoint and the SMS gateway are reused; easy
 *  handles are pooled and reused too.
 *
 *  A transfer is queued in the turn that leased its notification and starts only after that
 *  turn has committed (ntf_xfer_turn_done); if the commit failed it is dropped, and the store
 *  still has the notification due. Its outcome goes to the owner's callback, which records it
 *  in a later turn. Webhooks carry X-Kumppani-Key and an HMAC-SHA256 X-Kumppani-Signature of
 *  the body. Invariant: inflight counts the queued and the running transfers. */
#include "kp_err.h"
#include "kp_log.h"
#include "notifier.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

typedef struct s_job {
    struct s_job *next, *all_next;
    ntf_xfer_t *d;
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
    ntf_xfer_t *d;
} s_sock_t;

struct ntf_xfer {
    const ntf_conf_t *conf;
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* libcurl's timeouts */
    s_job_t *pending, *free_jobs, *all;
    unsigned inflight, jobs_n;
    bool closing;
    ntf_xfer_done_fn done;
    void *arg;
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
s_job_get(ntf_xfer_t *d)
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
s_job_put(ntf_xfer_t *d, s_job_t *j)
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
s_job_start(ntf_xfer_t *d, s_job_t *j)
{
    const ntf_conf_t *cf = d->conf;
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
        if (!hook && cf->sms_auth_header) /* the gateway's bearer token (sms-token) */
            j->headers = curl_slist_append(j->headers, cf->sms_auth_header);
        j->headers = curl_slist_append(j->headers, "Expect:");
        if (!j->headers)
            return KP_ENOMEM;
        if (!hook && cf->sms_user && cf->sms_user[0]) { /* sms-user, sms-password: basic */
            curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(e, CURLOPT_USERNAME, cf->sms_user);
            curl_easy_setopt(e, CURLOPT_PASSWORD, cf->sms_password ? cf->sms_password : "");
        }
        curl_easy_setopt(e, CURLOPT_URL, hook ? cf->webhook_url : cf->sms_url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
    }
    CURLMcode mc = curl_multi_add_handle(d->multi, e);
    return mc == CURLM_OK ? 0 : KP_EINVAL;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static void
s_check_done(ntf_xfer_t *d)
{
    CURLMsg *m;
    int left;
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
                snprintf(result, sizeof result, "curl %d: %s", (int)cc, curl_easy_strerror(cc));
        } else {
            ok = cc == CURLE_OK && code >= 200 && code < 300;
            gone = cc == CURLE_OK && code == 410;
            if (cc == CURLE_OK)
                snprintf(result, sizeof result, "http %ld%s", code, gone ? " endpoint-off" : "");
            else
                snprintf(result, sizeof result, "curl %d: %s", (int)cc, curl_easy_strerror(cc));
        }
        if (!d->closing)
            d->done(d->arg, j->key, j->channel, ok, final, gone, result);
        d->inflight--;
        s_job_put(d, j);
    }
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
    ntf_xfer_t *d = c->d;
    curl_multi_socket_action(d->multi, c->fd, flags, &running);
    s_check_done(d);
}

static int
s_socket_fn(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    ntf_xfer_t *d = userp;
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
        if (uv_poll_init_socket(d->loop, &c->poll, s) != 0) {
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
    ntf_xfer_t *d = t->data;
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done(d);
}

static int
s_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    ntf_xfer_t *d = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&d->timer);
    else
        uv_timer_start(&d->timer, s_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- the interface ---------------------------------------------------------------------- */

int
ntf_xfer_queue(ntf_xfer_t *d, const char *key, int channel, const char *body, size_t body_len,
               const char *rcpt)
{
    s_job_t *j = s_job_get(d);
    if (!j)
        return KP_ENOMEM;
    snprintf(j->key, sizeof j->key, "%s", key);
    j->channel = channel;
    j->body = kp_xmalloc(body_len + 1);
    memcpy(j->body, body, body_len);
    j->body[body_len] = 0;
    j->body_len = body_len;
    if (rcpt) {
        size_t al = strlen(rcpt);
        j->rcpt_addr = kp_xmalloc(al + 3);
        snprintf(j->rcpt_addr, al + 3, "<%s>", rcpt);
    }
    j->next = d->pending;
    d->pending = j;
    d->inflight++;
    return 0;
}

unsigned
ntf_xfer_inflight(const ntf_xfer_t *d)
{
    return d->inflight;
}

void
ntf_xfer_turn_done(ntf_xfer_t *d, int rc)
{
    s_job_t *j = d->pending;
    d->pending = NULL;
    while (j) {
        s_job_t *next = j->next;
        if (rc == 0 && !d->closing && s_job_start(d, j) == 0) {
            j = next;
            continue;
        }
        d->inflight--;
        s_job_put(d, j);
        j = next;
    }
}

int
ntf_xfer_new(ntf_xfer_t **out, uv_loop_t *loop, const ntf_conf_t *conf, ntf_xfer_done_fn done,
             void *arg)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KP_EINVAL;
    ntf_xfer_t *d = kp_xcalloc(1, sizeof *d);
    d->conf = conf;
    d->loop = loop;
    d->done = done;
    d->arg = arg;
    d->multi = curl_multi_init();
    *out = d;
    if (!d->multi)
        return KP_ENOMEM;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, s_socket_fn);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, s_timer_fn);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)conf->inflight_max * 2);
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    return 0;
}

void
ntf_xfer_close(ntf_xfer_t *d)
{
    /* Transfers in flight are abandoned; their leases bring them back after a restart. */
    ntf_xfer_turn_done(d, -1);
    d->closing = true;
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
    uv_close((uv_handle_t *)&d->timer, NULL);
}

void
ntf_xfer_free(ntf_xfer_t **d_p)
{
    ntf_xfer_t *d = *d_p;
    if (!d)
        return;
    curl_multi_cleanup(d->multi); /* NULL after a close */
    free(d);
    *d_p = NULL;
    curl_global_cleanup();
}
