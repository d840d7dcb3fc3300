/*  notifier/privacy.c: what the notifier does about a person's data.
 *
 *  The notifier keeps no name, e-mail or phone of a sign-up: it asks the events service when
 *  it sends (deliver.c), and a store of an older schema is emptied of them on upgrade
 *  (store.c). What may name a person: the address in records of messages sent to an address
 *  given in the configuration (the coordinator), and opt-out entries (an address). So:
 *    - "SignupErased" on the events log: every pending (scheduled or leased) message of that
 *      sign-up is cancelled — none is sent afterwards, as a lookup for a lease already out is
 *      answered NOT_FOUND too — the name and address of all its records (the history) are
 *      emptied, the sign-up is forgotten, and the store is compacted after the turn;
 *    - "notifier.privacy.erase" by e-mail or phone: the same for every record sent to that
 *      address, and its opt-out entries; "notifier.privacy.export": those records (key, kind,
 *      channel, state, times) and opt-outs as one JSON document. Nothing held: NOT_FOUND.
 *  Retention (ntf_retain, from the schedule's pass in timer.c, hourly and when the test clock
 *  moves): a finished notification (delivered, cancelled, dead: the history and the dead
 *  letters) is deleted history-retention-days after its last activity.
 *  Log lines carry ids and counts only. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "kumppani/v1/privacy.pb-c.h"
#include "notifier.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ST(x) KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x
#define C(x) KUMPPANI__V1__CODE__CODE_##x

/* Cancels the record of key if pending and empties its name and address. */
static int
s_forget(kp_tx_t *tx, const char *key, const char *why)
{
    ntf_rec_t *old, *r;
    bool found;
    int rc = ntf_rec_get(tx, key, &old, &found);
    if (rc || !found || (rc = ntf_rec_get(tx, key, &r, &found)))
        return rc;
    if (r->state == ST(SCHEDULED) || r->state == ST(SENDING)) {
        r->state = ST(CANCELLED);
        ntf_rec_attempt(tx, r, false, why);
    }
    if (r->channel != CH(WEBHOOK))
        r->address = r->address_hash = (char *)"";
    r->recipient_name = (char *)"";
    return ntf_rec_put(tx, old, r);
}

int
ntf_signup_erased(kp_tx_t *tx, uint64_t event_id, uint64_t signup_id)
{
    char **keys;
    size_t keys_n, n = 0;
    int rc = ntf_event_keys(tx, event_id, &keys, &keys_n);
    for (size_t i = 0; rc == 0 && i < keys_n; i++) {
        ntf_rec_t *r;
        bool found;
        if ((rc = ntf_rec_get(tx, keys[i], &r, &found)) || !found || r->signup_id != signup_id ||
            r->channel == CH(WEBHOOK))
            continue;
        rc = s_forget(tx, keys[i], "signup-erased");
        n++;
    }
    if (rc == 0)
        rc = ntf_signup_del(tx, event_id, signup_id);
    if (rc == 0) {
        kp_server_compact_soon(tx->srv);
        kp_log_info("privacy.signup_erased", "event_id=%llu signup=%llu records=%zu",
                    (unsigned long long)event_id, (unsigned long long)signup_id, n);
    }
    return rc;
}

/* ---- by address ------------------------------------------------------------------------- */

/* The keyed hash of an address already in its one form. */
static void
s_hash_norm(const ntf_conf_t *conf, const char *norm, char out[33])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)norm, strlen(norm), conf->addr_key,
                       sizeof conf->addr_key);
    sodium_bin2hex(out, 33, h, sizeof h);
}

void
ntf_addr_hash(const ntf_conf_t *conf, int channel, const char *address, char out[33])
{
    char norm[256];
    if (channel == CH(SMS))
        kp_privacy_phone_norm(address, norm, sizeof norm);
    else
        kp_text_ascii_lower(norm, sizeof norm, address);
    s_hash_norm(conf, norm, out);
    sodium_memzero(norm, sizeof norm);
}

/* phone_hash_typed: the hash of the number's digits as typed (kp_privacy_phone_digits), the
 * form of records hashed before phone numbers had one form. */
typedef struct {
    char email[256], phone[64];
    char email_hash[33], phone_hash[33], phone_hash_typed[33]; /* "" : none */
} subject_t;

/* The subject's phone: its one form and the hashes a record of it may hold. */
static void
s_subject_phone(const ntf_conf_t *conf, subject_t *sj, const char *phone)
{
    char typed[64];
    kp_privacy_phone_norm(phone, sj->phone, sizeof sj->phone);
    kp_privacy_phone_digits(phone, typed, sizeof typed);
    ntf_addr_hash(conf, CH(SMS), phone, sj->phone_hash);
    s_hash_norm(conf, typed, sj->phone_hash_typed);
    sodium_memzero(typed, sizeof typed);
}

static bool
s_want(void *arg, const ntf_rec_t *r)
{
    const subject_t *sj = arg;
    if (r->channel == CH(WEBHOOK))
        return false;
    if (r->address_hash && r->address_hash[0] &&
        ((r->channel == CH(EMAIL) && sj->email_hash[0] &&
          !strcmp(r->address_hash, sj->email_hash)) ||
         (r->channel == CH(SMS) && sj->phone_hash[0] &&
          (!strcmp(r->address_hash, sj->phone_hash) ||
           !strcmp(r->address_hash, sj->phone_hash_typed)))))
        return true;
    if (!r->address || !r->address[0])
        return false;
    if (r->channel == CH(EMAIL) && sj->email[0]) {
        char e[256];
        kp_text_ascii_lower(e, sizeof e, r->address);
        return strcmp(e, sj->email) == 0;
    }
    if (r->channel == CH(SMS) && sj->phone[0]) {
        char p[64];
        kp_privacy_phone_norm(r->address, p, sizeof p);
        return strcmp(p, sj->phone) == 0;
    }
    return false;
}

int
ntf_sent_find(kp_tx_t *tx, const char *address, char ***keys, size_t *keys_n)
{
    const ntf_t *n = tx->svc;
    subject_t sj;
    memset(&sj, 0, sizeof sj);
    if (kp_text_email_valid(address)) {
        kp_text_ascii_lower(sj.email, sizeof sj.email, address);
        ntf_addr_hash(&n->conf, CH(EMAIL), sj.email, sj.email_hash);
    } else {
        s_subject_phone(&n->conf, &sj, address);
    }
    int rc = ntf_rec_scan(tx, s_want, &sj, keys, keys_n);
    sodium_memzero(&sj, sizeof sj);
    return rc;
}

/* What the notifier holds of a data subject: its records (keys) and its opt-outs. */
typedef struct {
    subject_t sj;
    char **keys;
    size_t keys_n;
    bool oe, os; /* opted out by e-mail, by SMS */
} found_t;

/* Fills f from the call's DataSubject; answers INVALID (no subject), NOT_FOUND (nothing held)
 * or the store error and returns false. */
static bool
s_find(kp_tx_t *tx, found_t *f)
{
    subject_t *sj = &f->sj;
    const Kumppani__V1__DataSubject *d = kp_call_body(tx->call);
    memset(sj, 0, sizeof *sj);
    if (!kp_privacy_subject_ok(tx->call, d, false)) /* the notifier holds no sign-ups */
        return false;
    kp_text_ascii_lower(sj->email, sizeof sj->email, d->email);
    const ntf_t *n = tx->svc;
    if (sj->email[0])
        ntf_addr_hash(&n->conf, CH(EMAIL), sj->email, sj->email_hash);
    if (d->phone[0])
        s_subject_phone(&n->conf, sj, d->phone);
    f->oe = f->os = false;
    int rc = ntf_rec_scan(tx, s_want, sj, &f->keys, &f->keys_n);
    if (rc == 0 && d->email[0])
        rc = ntf_optout_get(tx, CH(EMAIL), d->email, &f->oe);
    if (rc == 0 && d->phone[0])
        rc = ntf_optout_get(tx, CH(SMS), d->phone, &f->os);
    if (rc) {
        kp_call_fail_err(tx->call, rc);
        return false;
    }
    if (f->keys_n == 0 && !f->oe && !f->os) {
        kp_call_fail(tx->call, C(NOT_FOUND), KP_PRIVACY_NOTHING);
        return false;
    }
    return true;
}

void
ntf_h_privacy_erase(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__DataSubject *d = kp_tx_open(&tx, call, svc);
    found_t f;
    if (!s_find(&tx, &f))
        return;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f.keys_n; i++)
        rc = s_forget(&tx, f.keys[i], "erased");
    if (rc == 0 && f.oe)
        rc = ntf_optout_set(&tx, CH(EMAIL), d->email, false);
    if (rc == 0 && f.os)
        rc = ntf_optout_set(&tx, CH(SMS), d->phone, false);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_server_compact_soon(tx.srv);
    kp_log_notice("privacy.erased", "records=%zu optouts=%d", f.keys_n, (int)f.oe + (int)f.os);
    Kumppani__V1__PrivacyEraseReply r = KUMPPANI__V1__PRIVACY_ERASE_REPLY__INIT;
    r.erased = (uint32_t)(f.keys_n + f.oe + f.os);
    kp_call_ok(call, &r.base);
}

/* An enum value's name ("MESSAGE_KIND_REMINDER"), or "UNKNOWN". */
static const char *
s_enum_name(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
    return e ? e->name : "UNKNOWN";
}

void
ntf_h_privacy_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    found_t f;
    if (!s_find(&tx, &f))
        return;
    kp_arena_str_t b = {.a = tx.arena};
    char line[NTF_KEY_MAX + 200];
    snprintf(line, sizeof line,
             "{\"service\":\"notifier\",\"opted_out_email\":%s,\"opted_out_sms\":%s,"
             "\"messages\":[",
             f.oe ? "true" : "false", f.os ? "true" : "false");
    kp_arena_str_puts(&b, line);
    for (size_t i = 0; i < f.keys_n; i++) {
        ntf_rec_t *r;
        bool found;
        int rc = ntf_rec_get(&tx, f.keys[i], &r, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
        if (!found)
            continue;
        /* keys are ours: ASCII without quotes or backslashes (notifier.proto); the enums by
         * name, as the other services' exports give them: the document is the person's */
        snprintf(line, sizeof line,
                 "%s{\"key\":\"%s\",\"kind\":\"%s\",\"channel\":\"%s\",\"state\":\"%s\","
                 "\"created_ms\":%lld,\"attempts\":%u}",
                 i ? "," : "", r->key,
                 s_enum_name(&kumppani__v1__message_kind__descriptor, (int)r->kind),
                 s_enum_name(&kumppani__v1__notification_channel__descriptor, (int)r->channel),
                 s_enum_name(&kumppani__v1__notification_state__descriptor, (int)r->state),
                 (long long)r->created_ms, r->attempts_n);
        kp_arena_str_puts(&b, line);
    }
    kp_arena_str_puts(&b, "]}");
    kp_privacy_export_text(call, "notifier", kp_arena_str_done(&b), false);
}

/* ---- retention ------------------------------------------------------------------------------ */

#define RETAIN_MAX 2000

typedef struct {
    int64_t before_ms;
    size_t n;
} retain_t;

static bool
s_old(void *arg, const ntf_rec_t *r)
{
    retain_t *rt = arg;
    if (rt->n >= RETAIN_MAX ||
        (r->state != ST(DELIVERED) && r->state != ST(DEAD) && r->state != ST(CANCELLED)))
        return false;
    int64_t last = r->created_ms;
    for (size_t i = 0; i < r->n_attempts; i++)
        if (r->attempts[i]->time_ms > last)
            last = r->attempts[i]->time_ms;
    if (last >= rt->before_ms)
        return false;
    rt->n++;
    return true;
}

int
ntf_retain(kp_tx_t *tx, bool *more)
{
    const ntf_t *n = tx->svc;
    retain_t rt = {tx->now_ms - n->conf.history_retention_ms, 0};
    char **keys;
    size_t keys_n;
    int rc = ntf_rec_scan(tx, s_old, &rt, &keys, &keys_n);
    for (size_t i = 0; rc == 0 && i < keys_n; i++) {
        ntf_rec_t *r;
        bool found;
        if ((rc = ntf_rec_get(tx, keys[i], &r, &found)) == 0 && found)
            rc = ntf_rec_del(tx, r);
    }
    *more = rc == 0 && keys_n == RETAIN_MAX;
    if (rc == 0 && keys_n) {
        kp_server_compact_soon(tx->srv);
        kp_log_notice("retention.deleted", "notifications=%zu", keys_n);
    }
    return rc;
}
