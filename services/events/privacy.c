/*  events/privacy.c: personal data requests about participants (GDPR Art. 15 and 17) and the
 *  erasure of one sign-up that they and the retention pass (timer.c) share.
 *
 *  A data subject is named by e-mail (compared case-insensitively), phone (its digits and a
 *  leading + compared; kp_privacy_matches, as in every service) or one sign-up id. Sign-ups are
 * found by a walk over the signups table: there is no index by e-mail or phone across events,
 * because such an index would itself be personal data kept for every sign-up, for a request that
 * comes rarely.
 *
 *  Erasing a sign-up (evt_signup_erase):
 *    1. a live sign-up is cancelled first (reason "erasure"), so its place passes on as on any
 *       cancel — except after the event, where retention erases without cancelling;
 *    2. the record keeps only its public copy (evt_signup_public) with erased = true: the
 *       state, role and companions that the statistics count stay;
 *    3. the per-event e-mail index entry goes (if it still names this sign-up);
 *    4. the idempotency record of its submit, whose stored reply held the whole Signup, gets
 *       the public copy instead (kp_server_idem_replace): a repeated submit is still
 *       recognised, and answered without personal data;
 *    5. "SignupErased" (ids only) goes on the log, so that every consumer erases its copy;
 *    6. the store is compacted after the turn (kp_server_compact_soon), so the freed pages
 *       leave data.mdb.
 *  Neither the request nor the reply is logged; log lines carry ids and counts only. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kumppani/v1/privacy.pb-c.h"

#include <stdio.h>
#include <string.h>

#define C(x) EVT_C(x)

/* A privacy request: its unit of work, the subject, and the ids of the sign-ups found (in the
 * arena). */
typedef struct {
    kp_tx_t tx;
    const Kumppani__V1__DataSubject *subject;
    uint64_t *ids;
    size_t n, cap;
    int rc;
} match_t;

static int
s_match(void *arg, evt_signup_t *s)
{
    match_t *m = arg;
    if (s->erased || !kp_privacy_matches(m->subject, s->email, s->phone))
        return 0;
    uint64_t *v = kp_arena_grow(m->tx.arena, m->ids, m->n, &m->cap, sizeof *v, 16);
    if (!v) {
        m->rc = KP_ENOMEM;
        return 1;
    }
    m->ids = v;
    m->ids[m->n++] = s->id;
    return 0;
}

/* The start of both handlers: opens the call and finds the ids of the subject's sign-ups that
 * still hold personal data; answers the call INVALID (no subject), NOT_FOUND (no such sign-up)
 * or the store error and returns false. */
static bool
s_open(match_t *m, kp_call_t *call, void *svc)
{
    memset(m, 0, sizeof *m);
    kp_tx_t *t = &m->tx;
    const Kumppani__V1__DataSubject *d = kp_tx_open(t, call, svc);
    m->subject = d;
    if (!d->email[0] && !d->phone[0] && !d->signup_id) {
        kp_call_fail(t->call, C(INVALID), "field 'email': an e-mail, a phone or a signup_id");
        return false;
    }
    if (d->signup_id) {
        evt_signup_t *s;
        bool found;
        int rc = evt_signup_get(t, d->signup_id, &s, &found);
        if (rc) {
            kp_call_fail_err(t->call, rc);
            return false;
        }
        if (found && !s->erased) {
            m->ids = kp_arena_alloc(t->arena, sizeof *m->ids);
            if (!m->ids) {
                kp_call_fail_err(t->call, KP_ENOMEM);
                return false;
            }
            m->ids[m->n++] = s->id;
        }
    } else {
        char phone[64];
        kp_privacy_phone_norm(d->phone, phone, sizeof phone);
        if (d->phone[0] && !phone[0]) {
            kp_call_fail(t->call, C(INVALID), "field 'phone': digits, with a leading + if any");
            return false;
        }
        int rc = evt_signups_scan(t, s_match, m);
        if (rc || m->rc) {
            kp_call_fail_err(t->call, rc ? rc : m->rc);
            return false;
        }
    }
    if (m->n == 0) {
        kp_call_fail(t->call, C(NOT_FOUND), KP_PRIVACY_NOTHING);
        return false;
    }
    return true;
}

int
evt_signup_erase(kp_tx_t *t, evt_signup_t *s, const char *reason, bool cancel)
{
    int rc;
    if (cancel && s->state != SS(CANCELLED)) {
        evt_event_t *ev;
        bool found;
        if ((rc = evt_event_get(t, s->event_id, &ev, &found)))
            return rc;
        if (found && (rc = evt_signup_cancel(t, ev, s, "erasure")))
            return rc;
    }
    if (s->email[0]) {
        uint64_t other;
        bool found = false;
        if ((rc = evt_email_get(t, s->event_id, s->email, &other, &found)) ||
            (found && other == s->id && (rc = evt_email_del(t, s->event_id, s->email))))
            return rc;
    }
    if (s->phone[0] && (rc = evt_phone_del(t, s->event_id, s->phone, s->id)))
        return rc;
    evt_signup_t pub;
    evt_signup_public(s, &pub);
    pub.erased = true;
    pub.has_email = pub.has_phone = false;
    pub.updated_ms = t->now_ms;
    Kumppani__V1__SignupReply r = KUMPPANI__V1__SIGNUP_REPLY__INIT;
    r.signup = &pub;
    size_t len = kumppani__v1__signup_reply__get_packed_size(&r);
    uint8_t *buf = kp_arena_alloc(t->arena, len ? len : 1);
    if (!buf)
        return KP_ENOMEM;
    kumppani__v1__signup_reply__pack(&r, buf);
    char key[EVT_EXT_KEY_MAX];
    uint8_t fk[EVT_FIRST_KEY_LEN];
    bool found = false;
    MDB_txn *w = kp_tx_wtxn(t);
    if (!w)
        return KP_ESTORE;
    /* Stored by id; in a store of schema 3 or before, by the publisher's id. */
    if ((rc = kp_server_idem_replace(t->srv, w, EVT_METHOD_SUBMIT, fk, evt_first_key(fk, s->id),
                                     buf, len, &found)) ||
        (!found && (rc = kp_server_idem_replace(t->srv, w, EVT_METHOD_SUBMIT, key,
                                                evt_ext_key(key, s->source, s->external_id), buf,
                                                len, &found))) ||
        (rc = evt_signup_put(t, &pub)))
        return rc;
    Kumppani__V1__SignupErased e = KUMPPANI__V1__SIGNUP_ERASED__INIT;
    e.signup_id = s->id;
    e.event_id = s->event_id;
    e.reason = (char *)reason;
    if ((rc = kp_tx_emit(t, "SignupErased", &e.base)))
        return rc;
    kp_server_compact_soon(t->srv);
    kp_log_info("signup.erased", "event_id=%llu signup=%llu reason=%s",
                (unsigned long long)s->event_id, (unsigned long long)s->id, reason);
    return 0;
}

void
evt_h_privacy_erase(kp_call_t *call, void *svc)
{
    match_t m;
    if (!s_open(&m, call, svc))
        return;
    for (size_t i = 0; i < m.n; i++) {
        evt_signup_t *s;
        bool found;
        int rc = evt_signup_get(&m.tx, m.ids[i], &s, &found);
        if (!rc && found)
            rc = evt_signup_erase(&m.tx, s, "request", true);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
    }
    Kumppani__V1__PrivacyEraseReply r = KUMPPANI__V1__PRIVACY_ERASE_REPLY__INIT;
    r.erased = (uint32_t)m.n;
    r.ids = m.ids;
    r.n_ids = m.n;
    kp_log_notice("privacy.erased", "signups=%zu", m.n);
    kp_call_ok(call, &r.base);
}

/* ---- export: one JSON document ------------------------------------------------------------- */

static void
s_putu(kp_arena_str_t *b, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    kp_arena_str_put(b, tmp, (size_t)n);
}

/* "name":"escaped value" (with a leading comma unless first). */
static void
s_str(kp_arena_str_t *b, const char *name, const char *v, bool first)
{
    if (!first)
        kp_arena_str_puts(b, ",");
    kp_arena_str_puts(b, "\"");
    kp_arena_str_puts(b, name);
    kp_arena_str_puts(b, "\":\"");
    for (const unsigned char *q = (const unsigned char *)v; *q; q++) {
        if (*q == '"' || *q == '\\') {
            char e[2] = {'\\', (char)*q};
            kp_arena_str_put(b, e, 2);
        } else if (*q < 0x20) {
            char e[7];
            snprintf(e, sizeof e, "\\u%04x", (unsigned)*q);
            kp_arena_str_put(b, e, 6);
        } else {
            kp_arena_str_put(b, (const char *)q, 1);
        }
    }
    kp_arena_str_puts(b, "\"");
}

static void
s_num(kp_arena_str_t *b, const char *name, unsigned long long v)
{
    kp_arena_str_puts(b, ",\"");
    kp_arena_str_puts(b, name);
    kp_arena_str_puts(b, "\":");
    s_putu(b, v);
}

static const char *
s_state(int st)
{
    return st == SS(CONFIRMED)    ? "confirmed"
           : st == SS(WAITLISTED) ? "waitlisted"
           : st == SS(OFFERED)    ? "offered"
           : st == SS(CANCELLED)  ? "cancelled"
                                  : "unspecified";
}

void
evt_h_privacy_export(kp_call_t *call, void *svc)
{
    match_t m;
    if (!s_open(&m, call, svc))
        return;
    kp_arena_str_t b = {.a = m.tx.arena};
    kp_arena_str_puts(&b, "{\"service\":\"events\",\"signups\":[");
    for (size_t i = 0; i < m.n; i++) {
        evt_signup_t *s;
        evt_event_t *ev = NULL;
        bool found, ev_found = false;
        int rc = evt_signup_get(&m.tx, m.ids[i], &s, &found);
        if (!rc && found)
            rc = evt_event_get(&m.tx, s->event_id, &ev, &ev_found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
        if (!found)
            continue;
        kp_arena_str_puts(&b, i ? ",{" : "{");
        s_str(&b, "name", s->name, true);
        s_str(&b, "email", s->email, false);
        s_str(&b, "phone", s->phone, false);
        s_str(&b, "organisation", s->organisation, false);
        s_str(&b, "accessibility_text", s->accessibility_text, false);
        s_str(&b, "dietary_text", s->dietary_text, false);
        s_str(&b, "language", s->language, false);
        s_str(&b, "state", s_state(s->state), false);
        s_str(&b, "source", s->source, false);
        s_str(&b, "external_id", s->external_id, false);
        s_str(&b, "event_title", ev_found ? ev->title : "", false);
        s_num(&b, "signup_id", s->id);
        s_num(&b, "event_id", s->event_id);
        s_num(&b, "event_start_unix", ev_found ? (unsigned long long)ev->start_unix : 0);
        s_num(&b, "role", (unsigned long long)s->role);
        s_num(&b, "companions", s->companions);
        s_num(&b, "created_ms", (unsigned long long)s->created_ms);
        kp_arena_str_puts(&b, ",\"consent_reminders\":");
        kp_arena_str_puts(&b, s->consent_reminders ? "true" : "false");
        kp_arena_str_puts(&b, ",\"consent_needs\":");
        kp_arena_str_puts(&b, s->consent_needs ? "true}" : "false}");
    }
    kp_arena_str_puts(&b, "]}");
    kp_privacy_export_text(call, "events", kp_arena_str_done(&b), false);
}
