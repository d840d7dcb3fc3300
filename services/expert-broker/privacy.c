/*  expert-broker/privacy.c: a person's data on request and by age (broker.privacy.erase,
 *  broker.privacy.export, and the retention pass the deadline timer runs).
 *
 *  The broker holds two kinds of people. Experts (their profile) are erased exactly as
 *  broker.expert.erase does (erase.c), with its rule: not while completed assignments are
 *  unpaid. Requesters are the contact person of a request (name, e-mail, phone) and, for a
 *  private requester, the requester's own name: erasing one empties those fields and keeps the
 *  rest of the request (state, times, places, fees), so counts, payments and broker.stats stay
 *  right; the log gets RequesterErased naming the request id only (the log never carried the
 *  contact: brk_emit_request). The idempotency record of broker.request.file keeps the first
 *  reply for a retry, so it is rewritten too (brk_idem_rewrite). After any erasure the store is
 *  compacted at the end of the turn (kp_server_compact_soon): the bytes leave data.mdb.
 *
 *  A subject is matched by e-mail (ASCII case-insensitive) or phone (its digits and a leading
 *  '+'; the rules on plain values are in match.c); nothing held, or held no longer (a second
 * erasure), is CODE_NOT_FOUND. Retention: a request that ended (filled and held, unfilled or
 * cancelled) more than retention-days ago has its requester erased the same way. The export is one
 * JSON document (jansson) of every record that names the subject: expert profiles with the
 * sensitive detail, their offers and assignments, and the requests whose contact they are.
 *
 * One call handles at most EXPERTS_MAX experts and REQUESTS_MAX requests of the subject (and,
 * in the export, ASSIGNMENTS_MAX assignments of each expert): where a walk stopped there, the
 * reply says more (privacy.proto): an erasure erased the first ones and a second erasure finds
 * the rest (what was erased no longer matches), an export holds the first ones only. */
#include "broker.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_pbjson.h"
#include "kp_privacy.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x

/* Records of one subject handled in one call. Every record the call reads is decoded into the
 * request's arena, which holds at most KP_WIRE_DECODE_CAP (2 MiB): measured, a request erased
 * or exported takes about 1.6 KiB of it, an expert erased over 64 KiB (erase.c's lists of
 * ERASE_MAX ids). A cap that does not fit makes the call fail instead of saying more (4096
 * requests did). The erasure's rewrite of the idempotency records (brk_idem_rewrite) decodes
 * each stored filing on the heap, one at a time: only the subject's rewritten replies take room
 * in the arena. */
#define REQUESTS_MAX 256
#define EXPERTS_MAX 8
#define ASSIGNMENTS_MAX 512 /* of one expert, in the export */

/* ---- finding the subject's records ------------------------------------------------------- */

/* Walks db with the callback of match.c that finds f's records; the ids go to the arena. */
static int
s_find(kp_tx_t *tx, brk_find_t *f, unsigned db)
{
    f->ids = kp_arena_alloc(tx->arena, f->cap * sizeof *f->ids);
    if (!f->ids)
        return KP_ENOMEM;
    return brk_each_rec(tx, db, 0, false, db == BRK_DB_EXPERTS ? brk_find_expert : brk_find_request,
                        f);
}

/* ---- erasing requesters ------------------------------------------------------------------ */

typedef struct {
    const uint64_t *ids; /* ascending */
    size_t n;
} idset_t;

static int
s_cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The idempotency record of broker.request.file: the same fields emptied in its copy. */
static const ProtobufCMessage *
s_fix_filed(void *arg, kp_tx_t *tx, const ProtobufCMessage *m)
{
    const idset_t *set = arg;
    const Kumppani__V1__BrokerRequestReply *r = (const void *)m;
    if (!r->request || !r->request->input || !brk_requester_held(r->request) ||
        !bsearch(&r->request->id, set->ids, set->n, sizeof *set->ids, s_cmp_id))
        return NULL;
    Kumppani__V1__BrokerRequestReply *c = kp_arena_alloc(tx->arena, sizeof *c);
    brk_request_t *rq = kp_arena_alloc(tx->arena, sizeof *rq);
    Kumppani__V1__BrokerRequestInput *in = kp_arena_alloc(tx->arena, sizeof *in);
    if (!c || !rq || !in)
        return NULL;
    *c = *r;
    *rq = *r->request;
    *in = *r->request->input;
    brk_requester_clear(in);
    rq->input = in;
    c->request = rq;
    return &c->base;
}

int
brk_requesters_erase(kp_tx_t *tx, const uint64_t *ids, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, ids[i], &rc);
        if (rc || !rq || !rq->input)
            continue;
        brk_requester_clear(rq->input);
        Kumppani__V1__BrokerRequestRef ref = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
        ref.request_id = rq->id;
        if ((rc = kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base)) == 0)
            rc = brk_emit(tx, "RequesterErased", &ref.base);
    }
    idset_t set = {ids, n};
    unsigned fixed = 0;
    if (!rc && n)
        rc = brk_idem_rewrite(tx, "broker.request.file",
                              &kumppani__v1__broker_request_reply__descriptor, s_fix_filed, &set,
                              &fixed);
    if (!rc && n) {
        kp_server_compact_soon(tx->srv);
        kp_log_notice("requester.erased", "requests=%zu idem_rewritten=%u", n, fixed);
    }
    return rc;
}

/* Opens the call's unit of work (as kp_tx_open) and finds the experts (fe, at most
 * EXPERTS_MAX) and requests (fr, at most REQUESTS_MAX) of its DataSubject ('more' when a walk
 * stopped there, which the reply and the log say: a second erasure finds the rest, an export
 * holds the first ones); false after answering (a bad subject, nothing held, a store error). */
static bool
s_open_subject(kp_tx_t *tx, kp_call_t *call, void *svc, brk_find_t *fe, brk_find_t *fr)
{
    const Kumppani__V1__DataSubject *s = kp_tx_open(tx, call, svc);
    *fe = (brk_find_t){.s = s, .cap = EXPERTS_MAX};
    *fr = (brk_find_t){.s = s, .cap = REQUESTS_MAX};
    if (!kp_privacy_subject_ok(call, s, false)) /* the broker holds no sign-ups */
        return false;
    int rc = s_find(tx, fe, BRK_DB_EXPERTS);
    if (!rc)
        rc = s_find(tx, fr, BRK_DB_REQUESTS);
    if (rc) {
        kp_call_fail_err(call, rc);
        return false;
    }
    if (fe->n + fr->n == 0) {
        kp_call_fail(call, C(NOT_FOUND), KP_PRIVACY_NOTHING);
        return false;
    }
    return true;
}

/* ---- broker.privacy.erase ---------------------------------------------------------------- */

/* broker.expert.erase's rule, checked for every expert before anything is erased, so that a
 * refusal erases nothing: true when each has every completed assignment paid, else false
 * after answering. */
static bool
s_all_paid(kp_tx_t *tx, const brk_find_t *fe)
{
    for (size_t i = 0; i < fe->n; i++) {
        uint32_t unpaid = 0;
        int rc = brk_expert_unpaid(tx, fe->ids[i], &unpaid);
        if (rc) {
            kp_call_fail_err(tx->call, rc);
            return false;
        }
        if (unpaid) {
            kp_call_fail(tx->call, C(CONFLICT),
                         "expert %llu has %u completed assignments not marked paid: an expert "
                         "is erased only when every completed assignment is paid "
                         "(broker.assignment.paid); nothing was erased",
                         (unsigned long long)fe->ids[i], unpaid);
            return false;
        }
    }
    return true;
}

void
brk_privacy_erase(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    brk_find_t fe, fr;
    if (!s_open_subject(&tx, call, svc, &fe, &fr) || !s_all_paid(&tx, &fe))
        return;
    int rc = brk_requesters_erase(&tx, fr.ids, fr.n);
    for (size_t i = 0; i < fe.n && !rc; i++) {
        brk_expert_t *e = brk_get(&tx, BRK_DB_EXPERTS, fe.ids[i], &rc);
        if (!rc && e)
            rc = brk_expert_erase_write(&tx, e);
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__PrivacyEraseReply r = KUMPPANI__V1__PRIVACY_ERASE_REPLY__INIT;
    r.n_ids = fr.n + fe.n;
    r.erased = (uint32_t)r.n_ids;
    r.ids = kp_arena_alloc(tx.arena, r.n_ids * sizeof *r.ids);
    if (!r.ids) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    memcpy(r.ids, fr.ids, fr.n * sizeof *r.ids);
    memcpy(r.ids + fr.n, fe.ids, fe.n * sizeof *r.ids);
    r.more = fr.more || fe.more;
    kp_server_compact_soon(tx.srv);
    kp_log_notice("privacy.erased", "requests=%zu experts=%zu more=%d", fr.n, fe.n, r.more);
    kp_call_ok(call, &r.base);
}

/* ---- retention --------------------------------------------------------------------------- */

int
brk_retention_run(kp_tx_t *tx, unsigned days, size_t limit, size_t *erased, bool *more)
{
    *erased = 0;
    *more = false;
    if (!days)
        return 0;
    brk_find_t f = {.s = NULL, .before_ms = tx->now_ms - (int64_t)days * 86400000, .cap = limit};
    int rc = s_find(tx, &f, BRK_DB_REQUESTS);
    if (!rc)
        rc = brk_requesters_erase(tx, f.ids, f.n);
    if (!rc) {
        *erased = f.n;
        *more = f.more;
    }
    return rc;
}

/* ---- broker.privacy.export --------------------------------------------------------------- */

typedef struct {
    uint64_t expert_id;
    json_t *offers;
} offers_t;

static int
s_export_offer(void *arg, uint64_t id, void *rec)
{
    offers_t *x = arg;
    const brk_offer_t *o = rec;
    (void)id;
    if (o->expert_id == x->expert_id)
        json_array_append_new(x->offers, kp_pbjson_message(&o->base));
    return 0;
}

/* One expert with the sensitive detail, offers and assignments, as a JSON object appended to
 * out; at most ASSIGNMENTS_MAX assignments (*more set when the expert has more). */
static int
s_export_expert(kp_tx_t *tx, uint64_t id, json_t *out, bool *more)
{
    int rc;
    brk_expert_t *e = brk_get(tx, BRK_DB_EXPERTS, id, &rc);
    if (rc || !e)
        return rc;
    json_t *j = kp_pbjson_message(&e->base);
    const char *detail = "";
    bool found = false;
    if ((rc = brk_text_get(tx, BRK_DB_SENSITIVE, id, &detail, &found)))
        return json_decref(j), rc;
    json_object_set_new(j, "sensitive_detail_text", json_string(found ? detail : ""));
    offers_t x = {id, json_array()};
    rc = brk_each_rec(tx, BRK_DB_OFFERS, 0, false, s_export_offer, &x);
    json_object_set_new(j, "offers", x.offers);
    void **v = NULL;
    size_t n = 0;
    if (!rc)
        rc = brk_idx_load(tx, BRK_DB_EXP_ASGS, id, BRK_DB_ASGS, ASSIGNMENTS_MAX + 1, &v, &n);
    if (n > ASSIGNMENTS_MAX) { /* one more than the cap asked for: only to know there is more */
        n = ASSIGNMENTS_MAX;
        *more = true;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, kp_pbjson_message(v[i]));
    json_object_set_new(j, "assignments", a);
    json_array_append_new(out, j);
    return rc;
}

void
brk_privacy_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    brk_find_t fe, fr;
    if (!s_open_subject(&tx, call, svc, &fe, &fr))
        return;
    int rc = 0;
    bool more = fr.more || fe.more;
    json_t *root = json_object(), *experts = json_array(), *requests = json_array();
    json_object_set_new(root, "service", json_string("expert-broker"));
    json_object_set_new(root, "experts", experts);
    json_object_set_new(root, "requests", requests);
    for (size_t i = 0; i < fe.n && !rc; i++)
        rc = s_export_expert(&tx, fe.ids[i], experts, &more);
    for (size_t i = 0; i < fr.n && !rc; i++) {
        brk_request_t *rq = brk_get(&tx, BRK_DB_REQUESTS, fr.ids[i], &rc);
        if (!rc && rq)
            json_array_append_new(requests, kp_pbjson_message(&rq->base));
    }
    if (rc) {
        json_decref(root);
        kp_call_fail_err(call, rc);
        return;
    }
    kp_privacy_export_ok(call, "expert-broker", root, more);
    kp_log_info("privacy.exported", "requests=%zu experts=%zu more=%d", fr.n, fe.n, more);
}
