/*  expert-broker/api.c: the request handlers of the expert broker.
 *
 *  Validate, then write: each handler checks every field and the store through the turn's
 *  transaction first, names the field and the rule in its error and never echoes a value;
 *  only then does it write (brk_wtxn) together with the events that describe the change.
 *  Sensitive details are kept in their own table, stored only with the expert's consent,
 *  never part of an Expert record or an event, and given only to the holder of the
 *  requester token of a request the expert accepted; each such read writes an audit entry
 *  and a SensitiveDetailRead event (which names ids only). */
#include "broker.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define OS(x) KUMPPANI__V1__OFFER_STATE__OFFER_STATE_##x
#define RS(x) KUMPPANI__V1__REQUEST_STATE__REQUEST_STATE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        kp_call_fail(call, __VA_ARGS__);                                                           \
        return false;                                                                              \
    } while (0)

/* The documented vocabulary of expertise areas (broker.proto, README). */
static const char *const s_vocab[] = {
    "mental-health", "substance-use",   "disability",      "chronic-illness",   "neurodiversity",
    "child-welfare", "family-services", "youth",           "elderly-care",      "caregiving",
    "homelessness",  "unemployment",    "immigration",     "domestic-violence", "cancer",
    "rare-diseases", "social-services", "health-services",
};

/* ---- field rules ---------------------------------------------------------------------------- */

static bool
s_text(kp_call_t *call, const char *field, const char *v, size_t min, size_t max)
{
    size_t n = kp_text_chars(v);
    if (n < min)
        FAIL(C(INVALID), "field '%s': required", field);
    if (n > max)
        FAIL(C(INVALID), "field '%s': at most %zu characters", field, max);
    return true;
}

static bool
s_date_ok(const char *v)
{
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return false;
    int m = (v[5] - '0') * 10 + v[6] - '0', d = (v[8] - '0') * 10 + v[9] - '0';
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool
s_muni_ok(const char *v)
{
    return strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' &&
           v[2] >= '0' && v[2] <= '9';
}

static bool
s_lang_ok(const char *v)
{
    return strlen(v) == 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z';
}

static bool
s_expertise(kp_call_t *call, char **v, size_t n)
{
    if (n == 0)
        FAIL(C(INVALID), "field 'expertise': at least one area required");
    if (n > 20)
        FAIL(C(INVALID), "field 'expertise': at most 20 areas");
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t j = 0; j < sizeof s_vocab / sizeof s_vocab[0] && !ok; j++)
            ok = strcmp(v[i], s_vocab[j]) == 0;
        if (!ok)
            FAIL(C(INVALID), "field 'expertise[%zu]': not in the vocabulary (see broker.proto)", i);
    }
    return true;
}

static bool
s_contact(kp_call_t *call, const char *ef, const char *email, const char *pf, const char *phone)
{
    if (!email[0] && !phone[0])
        FAIL(C(INVALID), "field '%s': an e-mail or a phone number is required", ef);
    if (email[0] && !kp_text_email_valid(email))
        FAIL(C(INVALID), "field '%s': not a valid e-mail address", ef);
    if (phone[0] && !kp_text_phone_valid(phone))
        FAIL(C(INVALID), "field '%s': digits, spaces and dashes with an optional leading +", pf);
    return true;
}

static bool
s_expert_input(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__ExpertInput *p)
{
    if (!p)
        FAIL(C(INVALID), "field 'expert': required");
    if (p->kind != KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_EXPERT &&
        p->kind != KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR)
        FAIL(C(INVALID), "field 'kind': required, EXPERT_KIND_EXPERT or EXPERT_KIND_ACTOR");
    if (!s_text(call, "name", p->name, 1, 200) ||
        !s_contact(call, "email", p->email, "phone", p->phone))
        return false;
    if (!p->consent)
        FAIL(C(INVALID), "field 'consent': the expert's consent to be brokered is required");
    if (p->home_org_id == 0)
        FAIL(C(INVALID), "field 'home_org_id': required");
    if (brk_svc(tx)->registry_model) {
        const char *name;
        bool found;
        int rc = brk_org_get(tx, p->home_org_id, &name, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found)
            FAIL(C(NOT_FOUND), "field 'home_org_id': no such organisation in the registry");
    }
    if (p->n_trainings > 50)
        FAIL(C(INVALID), "field 'trainings': at most 50");
    for (size_t i = 0; i < p->n_trainings; i++) {
        const Kumppani__V1__ExpertTraining *t = p->trainings[i];
        if (!s_text(call, "trainings.course", t->course, 1, 200) ||
            !s_text(call, "trainings.organiser", t->organiser, 0, 200))
            return false;
        if (!s_date_ok(t->completed_date))
            FAIL(C(INVALID), "field 'trainings[%zu].completed_date': YYYY-MM-DD required", i);
    }
    if (!s_expertise(call, p->expertise, p->n_expertise))
        return false;
    if (p->n_languages == 0 || p->n_languages > 10)
        FAIL(C(INVALID), "field 'languages': 1..10 required");
    for (size_t i = 0; i < p->n_languages; i++)
        if (!s_lang_ok(p->languages[i]))
            FAIL(C(INVALID), "field 'languages[%zu]': two lower-case letters (ISO 639-1)", i);
    if (p->n_municipalities > 400)
        FAIL(C(INVALID), "field 'municipalities': at most 400");
    for (size_t i = 0; i < p->n_municipalities; i++)
        if (!s_muni_ok(p->municipalities[i]))
            FAIL(C(INVALID), "field 'municipalities[%zu]': three digits (e.g. 743)", i);
    if (p->n_municipalities == 0 && !p->remote_ok)
        FAIL(C(INVALID), "field 'municipalities': at least one, unless remote_ok");
    if (p->n_availability > 50)
        FAIL(C(INVALID), "field 'availability': at most 50 windows");
    for (size_t i = 0; i < p->n_availability; i++) {
        const Kumppani__V1__WeeklySlot *s = p->availability[i];
        if (s->weekday < 1 || s->weekday > 7 || s->from_minute > 1439 || s->to_minute > 1440 ||
            s->to_minute <= s->from_minute)
            FAIL(C(INVALID),
                 "field 'availability[%zu]': weekday 1..7, from_minute < to_minute <= 1440", i);
    }
    if (p->n_blocked_dates > 400)
        FAIL(C(INVALID), "field 'blocked_dates': at most 400");
    for (size_t i = 0; i < p->n_blocked_dates; i++)
        if (!s_date_ok(p->blocked_dates[i]))
            FAIL(C(INVALID), "field 'blocked_dates[%zu]': YYYY-MM-DD required", i);
    if (p->monthly_cap > 100)
        FAIL(C(INVALID), "field 'monthly_cap': at most 100 (0: no cap)");
    if (!s_text(call, "sensitive_detail_text", p->sensitive_detail_text, 0, 4000))
        return false;
    if (p->sensitive_detail_text[0] && !p->sensitive_consent)
        FAIL(C(INVALID), "field 'sensitive_detail_text': stored only with sensitive_consent");
    return true;
}

static void
s_org_name(kp_tx_t *tx, brk_expert_t *e)
{
    const char *name = "";
    bool found = false;
    e->home_org_name = "";
    if (brk_org_get(tx, e->profile->home_org_id, &name, &found) == 0 && found)
        e->home_org_name = (char *)name;
}

static void
s_reply_expert(kp_call_t *call, kp_tx_t *tx, brk_expert_t *e)
{
    s_org_name(tx, e);
    Kumppani__V1__ExpertReply r = KUMPPANI__V1__EXPERT_REPLY__INIT;
    r.expert = e;
    kp_call_ok(call, &r.base);
}

/* Emits an expert event without direct identifiers: the log is kept for ever and replayed to
 * other services, so name, e-mail, phone and trainings stay in the expert's record only (which
 * erasure empties). */
static int
s_expert_emit(kp_tx_t *tx, const char *type, const brk_expert_t *e)
{
    brk_expert_t x = *e;
    Kumppani__V1__ExpertInput p = *e->profile;
    p.name = p.email = p.phone = p.sensitive_detail_text = "";
    p.trainings = NULL;
    p.n_trainings = 0;
    x.profile = &p;
    x.home_org_name = "";
    Kumppani__V1__ExpertReply r = KUMPPANI__V1__EXPERT_REPLY__INIT;
    r.expert = &x;
    return brk_emit(tx, type, &r.base);
}

/* Writes the expert and its sensitive detail; the profile kept has no sensitive text. */
static int
s_expert_store(kp_tx_t *tx, brk_expert_t *e, const char *type)
{
    Kumppani__V1__ExpertInput *p = e->profile;
    const char *detail = p->sensitive_detail_text;
    int rc = 0;
    if (!p->sensitive_consent) {
        rc = brk_sensitive_del(tx, e->id);
        e->has_sensitive_detail = false;
    } else if (detail[0]) {
        rc = brk_sensitive_put(tx, e->id, detail);
        e->has_sensitive_detail = true;
    }
    p->sensitive_detail_text = "";
    e->home_org_name = "";
    if (rc || (rc = kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
        (rc = s_expert_emit(tx, type, e)))
        return rc;
    kp_log_info("expert.stored", "expert=%llu type=%s", (unsigned long long)e->id, type);
    return 0;
}

static bool
s_not_erased(kp_call_t *call, const brk_expert_t *e)
{
    if (e->erased)
        FAIL(C(CONFLICT), "expert %llu is erased", (unsigned long long)e->id);
    return true;
}

static void
s_expert_register(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__RegisterExpertRequest *rq = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for register");
        return;
    }
    if (!s_expert_input(call, &tx, rq->expert) || kp_call_idem(call, key, klen))
        return;
    brk_expert_t e = KUMPPANI__V1__EXPERT__INIT;
    int rc = kp_tx_next_id(&tx, "expert", &e.id);
    e.profile = rq->expert;
    e.created_ms = e.updated_ms = tx.now_ms;
    if (rc || (rc = s_expert_store(&tx, &e, "ExpertRegistered"))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_expert(call, &tx, &e);
}

static void
s_expert_update(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__UpdateExpertRequest *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (!e || !s_not_erased(call, e) || !s_expert_input(call, &tx, rq->expert))
        return;
    e->profile = rq->expert;
    e->updated_ms = tx.now_ms;
    int rc = s_expert_store(&tx, e, "ExpertUpdated");
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_expert(call, &tx, e);
}

static void
s_expert_pause(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__PauseExpertRequest *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (!e || !s_not_erased(call, e))
        return;
    if (e->paused != rq->paused) {
        e->paused = rq->paused;
        e->updated_ms = tx.now_ms;
        int rc;
        if ((rc = kp_rec_put_id(&tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
            (rc = s_expert_emit(&tx, "ExpertUpdated", e))) {
            kp_call_fail_err(call, rc);
            return;
        }
    }
    s_reply_expert(call, &tx, e);
}

static void
s_expert_get(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ExpertRef *rq = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", rq->expert_id);
    if (e)
        s_reply_expert(call, &tx, e);
}

typedef struct {
    kp_tx_t *tx;
    void **v;
    size_t n, limit;
    const ProtobufCMessageDescriptor *d;
    int state; /* requests: 0 any */
    int rc;
} list_t;

static int
s_list_one(void *arg, uint64_t id, MDB_val *val)
{
    list_t *l = arg;
    (void)id;
    void *m = (void *)protobuf_c_message_unpack(l->d, kp_arena_pbc(l->tx->arena), val->mv_size,
                                                val->mv_data);
    if (!m) {
        l->rc = KP_ECORRUPT;
        return 1;
    }
    if (l->state && ((brk_request_t *)m)->state != (Kumppani__V1__RequestState)l->state)
        return 0;
    l->v[l->n++] = m;
    return l->n >= l->limit;
}

static bool
s_list(kp_call_t *call, kp_tx_t *tx, list_t *l, int db, uint64_t after, uint32_t limit,
       uint32_t max)
{
    l->tx = tx;
    l->limit = limit ? limit : 100;
    if (l->limit > max)
        FAIL(C(INVALID), "field 'limit': at most %u", max);
    l->v = kp_arena_alloc(tx->arena, l->limit * sizeof(void *));
    int rc = l->v ? brk_each(tx, db, after, s_list_one, l) : KP_ENOMEM;
    if (rc || l->rc) {
        kp_call_fail_err(call, rc ? rc : l->rc);
        return false;
    }
    return true;
}

static void
s_expert_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListExpertsRequest *rq = kp_call_body(call);
    list_t l = {.d = &kumppani__v1__expert__descriptor};
    if (!s_list(call, &tx, &l, BRK_DB_EXPERTS, rq->after_id, rq->limit, 500))
        return;
    for (size_t i = 0; i < l.n; i++)
        s_org_name(&tx, l.v[i]);
    Kumppani__V1__ListExpertsReply r = KUMPPANI__V1__LIST_EXPERTS_REPLY__INIT;
    r.experts = (brk_expert_t **)l.v;
    r.n_experts = l.n;
    kp_call_ok(call, &r.base);
}

/* ---- requests ------------------------------------------------------------------------------- */

static bool
s_request_input(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__BrokerRequestInput *in)
{
    if (!in)
        FAIL(C(INVALID), "field 'request': required");
    int64_t now_s = tx->now_ms / 1000;
    if (in->requester_kind < KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON ||
        in->requester_kind > KUMPPANI__V1__REQUESTER_KIND__REQUESTER_MUNICIPALITY)
        FAIL(C(INVALID), "field 'requester_kind': required, person, organisation or municipality");
    if (!s_text(call, "requester_name", in->requester_name, 1, 200) ||
        !s_text(call, "contact_name", in->contact_name, 0, 200) ||
        !s_contact(call, "contact_email", in->contact_email, "contact_phone", in->contact_phone))
        return false;
    if (in->purpose < KUMPPANI__V1__PURPOSE__PURPOSE_WORKING_GROUP ||
        in->purpose > KUMPPANI__V1__PURPOSE__PURPOSE_TRAINING)
        FAIL(C(INVALID), "field 'purpose': required, one of the Purpose values");
    if (!s_text(call, "title", in->title, 1, 200) ||
        !s_text(call, "description_text", in->description_text, 0, 4000) ||
        !s_expertise(call, in->expertise, in->n_expertise))
        return false;
    if (in->start_unix <= now_s)
        FAIL(C(INVALID), "field 'start_unix': must be in the future");
    if (in->start_unix > now_s + 3LL * 366 * 86400)
        FAIL(C(INVALID), "field 'start_unix': within three years");
    if (in->duration_min < 15 || in->duration_min > 24 * 60)
        FAIL(C(INVALID), "field 'duration_min': 15..1440 minutes");
    if (in->municipality[0] && !s_muni_ok(in->municipality))
        FAIL(C(INVALID), "field 'municipality': three digits (e.g. 743)");
    if (!in->municipality[0] && !in->remote)
        FAIL(C(INVALID), "field 'municipality': required unless remote");
    if (!s_text(call, "place", in->place, 0, 300))
        return false;
    if (!s_lang_ok(in->language))
        FAIL(C(INVALID), "field 'language': two lower-case letters (ISO 639-1)");
    if (in->experts_needed < 1 || in->experts_needed > 20)
        FAIL(C(INVALID), "field 'experts_needed': 1..20");
    if (in->fee_cents > 10000000 || in->travel_cents > 10000000)
        FAIL(C(INVALID), "field 'fee_cents': at most 100000 euro (also travel_cents)");
    if (in->answer_deadline_unix <= now_s)
        FAIL(C(INVALID), "field 'answer_deadline_unix': must be in the future");
    if (in->answer_deadline_unix > in->start_unix)
        FAIL(C(INVALID), "field 'answer_deadline_unix': not after start_unix");
    if (in->offer_hours > 720)
        FAIL(C(INVALID), "field 'offer_hours': at most 720 (0: 48)");
    if (in->wave_size && (in->wave_size < in->experts_needed || in->wave_size > 50))
        FAIL(C(INVALID), "field 'wave_size': experts_needed..50 (0: experts_needed)");
    return true;
}

typedef struct {
    kp_tx_t *tx;
    int db;
    void **v;
    size_t n, cap;
    int rc;
} idx_acc_t;

static int
s_idx_one(void *arg, uint64_t id)
{
    idx_acc_t *x = arg;
    void *m = NULL;
    bool found;
    x->rc = kp_rec_get_id(x->tx, x->db, id,
                          x->db == BRK_DB_OFFERS ? &kumppani__v1__offer__descriptor
                                                 : &kumppani__v1__assignment__descriptor,
                          &m, &found);
    if (x->rc)
        return 1;
    if (found && x->n < x->cap)
        x->v[x->n++] = m;
    return x->n >= x->cap;
}

static void
s_reply_request(kp_call_t *call, kp_tx_t *tx, brk_request_t *rq, const char *token)
{
    Kumppani__V1__BrokerRequestReply r = KUMPPANI__V1__BROKER_REQUEST_REPLY__INIT;
    r.request = rq;
    r.requester_token = (char *)(token ? token : "");
    idx_acc_t o = {tx, BRK_DB_OFFERS, kp_arena_alloc(tx->arena, 500 * sizeof(void *)), 0, 500, 0};
    idx_acc_t a = {tx, BRK_DB_ASGS, kp_arena_alloc(tx->arena, 100 * sizeof(void *)), 0, 100, 0};
    int rc = o.v && a.v ? 0 : KP_ENOMEM;
    if (!rc)
        rc = brk_idx_each(tx, BRK_DB_REQ_OFFERS, rq->id, s_idx_one, &o);
    if (!rc && !o.rc)
        rc = brk_idx_each(tx, BRK_DB_REQ_ASGS, rq->id, s_idx_one, &a);
    if (rc || o.rc || a.rc) {
        kp_call_fail_err(call, rc ? rc : o.rc ? o.rc : a.rc);
        return;
    }
    r.offers = (brk_offer_t **)o.v;
    r.n_offers = o.n;
    r.assignments = (brk_asg_t **)a.v;
    r.n_assignments = a.n;
    kp_call_ok(call, &r.base);
}

static void
s_request_file(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__FileRequestRequest *body = kp_call_body(call);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0) {
        kp_call_fail(call, C(INVALID), "field 'idempotency_key': required for file");
        return;
    }
    if (!s_request_input(call, &tx, body->request) || kp_call_idem(call, key, klen))
        return;
    brk_request_t rq = KUMPPANI__V1__BROKER_REQUEST__INIT;
    int rc = kp_tx_next_id(&tx, "request", &rq.id);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    rq.input = body->request;
    rq.state = RS(OPEN);
    rq.created_ms = tx.now_ms;
    rq.cancel_reason = "";
    /* The requester's token: shown once, stored only as a hash. */
    unsigned char raw[16], hash[32];
    char token[33];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    crypto_generichash(hash, sizeof hash, (unsigned char *)token, 32, NULL, 0);
    if ((rc = kp_rec_put_id(&tx, BRK_DB_REQUESTS, rq.id, &rq.base)) ||
        (rc = brk_token_put(&tx, rq.id, hash)) ||
        (rc = brk_due_put(&tx, rq.input->answer_deadline_unix * 1000, BRK_DUE_ANSWER, rq.id)) ||
        (rc = brk_emit_request(&tx, "RequestFiled", &rq)) || (rc = brk_fill(&tx, &rq))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("request.filed", "request=%llu purpose=%d needed=%u wave=%u",
                (unsigned long long)rq.id, rq.input->purpose, rq.input->experts_needed, rq.wave);
    s_reply_request(call, &tx, &rq, token);
}

static void
s_request_get(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__BrokerRequestRef *rq = kp_call_body(call);
    brk_request_t *r = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", rq->request_id);
    if (r)
        s_reply_request(call, &tx, r, NULL);
}

static void
s_request_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListBrokerRequestsRequest *rq = kp_call_body(call);
    if (rq->state < 0 || rq->state > RS(CANCELLED)) {
        kp_call_fail(call, C(INVALID), "field 'state': one of the RequestState values");
        return;
    }
    list_t l = {.d = &kumppani__v1__broker_request__descriptor, .state = rq->state};
    if (!s_list(call, &tx, &l, BRK_DB_REQUESTS, rq->after_id, rq->limit, 500))
        return;
    Kumppani__V1__ListBrokerRequestsReply r = KUMPPANI__V1__LIST_BROKER_REQUESTS_REPLY__INIT;
    r.requests = (brk_request_t **)l.v;
    r.n_requests = l.n;
    kp_call_ok(call, &r.base);
}

static int s_asg_cancel_write(kp_tx_t *tx, brk_asg_t *a, const char *by, const char *reason,
                              bool reopen);

typedef struct {
    kp_tx_t *tx;
    uint64_t ids[64];
    size_t n;
} ids_t;

static int
s_collect_id(void *arg, uint64_t id)
{
    ids_t *x = arg;
    if (x->n < 64)
        x->ids[x->n++] = id;
    return 0;
}

static void
s_request_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__CancelBrokerRequestRequest *body = kp_call_body(call);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq || !s_text(call, "reason", body->reason, 1, 500))
        return;
    if (rq->state == RS(CANCELLED)) {
        s_reply_request(call, &tx, rq, NULL);
        return;
    }
    if (rq->state != RS(OPEN) && rq->state != RS(FILLED)) {
        kp_call_fail(call, C(CONFLICT),
                     "request is unfilled; only an open or filled one can be "
                     "cancelled");
        return;
    }
    ids_t ids = {&tx, {0}, 0};
    int rc = brk_idx_each(&tx, BRK_DB_REQ_ASGS, rq->id, s_collect_id, &ids);
    for (size_t i = 0; !rc && i < ids.n; i++) {
        brk_asg_t *a = brk_get(&tx, BRK_DB_ASGS, ids.ids[i], &rc);
        if (!rc && a && a->state == AS(CONFIRMED))
            rc = s_asg_cancel_write(&tx, a, "requester", body->reason, false);
    }
    rq->state = RS(OPEN); /* so that brk_cancel_request withdraws what is open */
    rq->cancel_reason = body->reason;
    if (rc || (rc = brk_cancel_request(&tx, rq))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_request(call, &tx, rq, NULL);
}

static void
s_request_extend(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ExtendBrokerRequestRequest *body = kp_call_body(call);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq)
        return;
    int64_t ans = body->answer_deadline_unix;
    if (ans <= tx.now_ms / 1000) {
        kp_call_fail(call, C(INVALID), "field 'answer_deadline_unix': must be in the future");
        return;
    }
    if (ans > rq->input->start_unix) {
        kp_call_fail(call, C(INVALID), "field 'answer_deadline_unix': not after the start");
        return;
    }
    if (rq->state != RS(OPEN) && rq->state != RS(UNFILLED)) {
        kp_call_fail(call, C(CONFLICT),
                     "request %llu is filled or cancelled; only an open or "
                     "unfilled one can be extended",
                     (unsigned long long)rq->id);
        return;
    }
    bool reopen = rq->state == RS(UNFILLED);
    int rc = 0;
    if (!reopen)
        rc = brk_due_del(&tx, rq->input->answer_deadline_unix * 1000, BRK_DUE_ANSWER, rq->id);
    rq->input->answer_deadline_unix = ans;
    rq->state = RS(OPEN);
    rq->closed_ms = 0;
    if (rc || (rc = brk_due_put(&tx, ans * 1000, BRK_DUE_ANSWER, rq->id)) ||
        (rc = kp_rec_put_id(&tx, BRK_DB_REQUESTS, rq->id, &rq->base)) ||
        (rc = brk_emit_request(&tx, reopen ? "RequestReopened" : "RequestUpdated", rq)) ||
        (rc = brk_fill(&tx, rq))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("request.extended", "request=%llu reopened=%d state=%d", (unsigned long long)rq->id,
                reopen, (int)rq->state);
    s_reply_request(call, &tx, rq, NULL);
}

static void
s_request_explain(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__BrokerRequestRef *body = kp_call_body(call);
    brk_request_t *rq = brk_load(&tx, BRK_DB_REQUESTS, "request_id", "request", body->request_id);
    if (!rq)
        return;
    Kumppani__V1__ExplainRequestReply r = KUMPPANI__V1__EXPLAIN_REQUEST_REPLY__INIT;
    int rc = brk_explain(&tx, rq, &r.candidates, &r.n_candidates);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.request_id = rq->id;
    char *rule = kp_arena_alloc(tx.arena, 400);
    if (rule)
        snprintf(rule, 400,
                 "eligible: consent, not paused, expertise, language, area or remote, "
                 "availability, no blocked date, under the monthly cap, no earlier offer; "
                 "ranked: no assignment with the same requester within %u weeks first, then "
                 "the longest wait since the last assignment, then fewer assignments in 90 "
                 "days, then the lower expert id",
                 brk_svc(&tx)->no_repeat_weeks);
    r.rule = rule ? rule : "";
    kp_call_ok(call, &r.base);
}

/* ---- offers --------------------------------------------------------------------------------- */

static brk_offer_t *
s_load_open_offer(kp_call_t *call, kp_tx_t *tx, uint64_t id, brk_request_t **rq)
{
    int rc;
    brk_offer_t *o = brk_load(tx, BRK_DB_OFFERS, "offer_id", "offer", id);
    if (!o)
        return NULL;
    static const char *const names[] = {"unknown",  "open",   "accepted",
                                        "declined", "lapsed", "withdrawn"};
    if (o->state != OS(OPEN) || o->deadline_ms <= tx->now_ms) {
        kp_call_fail(call, C(CONFLICT), "offer %llu is %s; only an open offer can be answered",
                     (unsigned long long)id,
                     o->state == OS(OPEN) ? "past its deadline" : names[o->state % 6]);
        return NULL;
    }
    *rq = brk_get(tx, BRK_DB_REQUESTS, o->request_id, &rc);
    if (rc || !*rq) {
        kp_call_fail_err(call, rc ? rc : KP_ECORRUPT);
        return NULL;
    }
    return o;
}

static void
s_offer_accept(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__OfferRef *body = kp_call_body(call);
    brk_request_t *rq;
    brk_offer_t *o = s_load_open_offer(call, &tx, body->offer_id, &rq);
    if (!o)
        return;
    int rc;
    brk_expert_t *e = brk_get(&tx, BRK_DB_EXPERTS, o->expert_id, &rc);
    if (rc || !e) {
        kp_call_fail_err(call, rc ? rc : KP_ECORRUPT);
        return;
    }
    brk_asg_t a = KUMPPANI__V1__ASSIGNMENT__INIT;
    if ((rc = kp_tx_next_id(&tx, "assignment", &a.id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    a.request_id = rq->id;
    a.expert_id = e->id;
    a.offer_id = o->id;
    a.state = AS(CONFIRMED);
    a.confirmed_ms = tx.now_ms;
    a.cancelled_by = a.cancel_reason = "";
    a.start_unix = rq->input->start_unix;
    e->last_assigned_ms = tx.now_ms;
    rq->accepted_n++;
    Kumppani__V1__OfferReply r = KUMPPANI__V1__OFFER_REPLY__INIT;
    r.offer = o;
    r.assignment = &a;
    if ((rc = brk_offer_close(&tx, o, OS(ACCEPTED), "OfferAccepted")) ||
        (rc = kp_rec_put_id(&tx, BRK_DB_ASGS, a.id, &a.base)) ||
        (rc = brk_idx_put(&tx, BRK_DB_EXP_ASGS, e->id, a.id)) ||
        (rc = brk_idx_put(&tx, BRK_DB_REQ_ASGS, rq->id, a.id)) ||
        (rc = kp_rec_put_id(&tx, BRK_DB_EXPERTS, e->id, &e->base)) ||
        (rc = kp_rec_put_id(&tx, BRK_DB_REQUESTS, rq->id, &rq->base)) ||
        (rc = brk_emit(&tx, "AssignmentConfirmed", &a.base)) || (rc = brk_fill(&tx, rq))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("assignment.confirmed", "assignment=%llu request=%llu expert=%llu",
                (unsigned long long)a.id, (unsigned long long)rq->id, (unsigned long long)e->id);
    kp_call_ok(call, &r.base);
}

static void
s_offer_decline(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__DeclineOfferRequest *body = kp_call_body(call);
    brk_request_t *rq;
    brk_offer_t *o = s_load_open_offer(call, &tx, body->offer_id, &rq);
    if (!o || !s_text(call, "reason", body->reason, 0, 500))
        return;
    o->reason = body->reason;
    int rc;
    if ((rc = brk_offer_close(&tx, o, OS(DECLINED), "OfferDeclined")) || (rc = brk_fill(&tx, rq))) {
        kp_call_fail_err(call, rc);
        return;
    }
    Kumppani__V1__OfferReply r = KUMPPANI__V1__OFFER_REPLY__INIT;
    r.offer = o;
    kp_call_ok(call, &r.base);
}

/* ---- assignments ---------------------------------------------------------------------------- */

static void
s_reply_asg(kp_call_t *call, brk_asg_t *a)
{
    Kumppani__V1__AssignmentReply r = KUMPPANI__V1__ASSIGNMENT_REPLY__INIT;
    r.assignment = a;
    kp_call_ok(call, &r.base);
}

typedef struct {
    kp_tx_t *tx;
    int64_t last;
    int rc;
} last_t;

static int
s_last_one(void *arg, uint64_t id)
{
    last_t *x = arg;
    brk_asg_t *a = brk_get(x->tx, BRK_DB_ASGS, id, &x->rc);
    if (x->rc)
        return 1;
    if (a && (a->state == AS(CONFIRMED) || a->state == AS(COMPLETED)) && a->confirmed_ms > x->last)
        x->last = a->confirmed_ms;
    return 0;
}

/* Fairness: an expert's last-assignment time is that of their latest confirmed or completed
 * assignment, so a cancelled one does not count as having been assigned. */
static int
s_expert_relast(kp_tx_t *tx, uint64_t expert_id)
{
    int rc;
    brk_expert_t *e = brk_get(tx, BRK_DB_EXPERTS, expert_id, &rc);
    if (rc || !e)
        return rc ? rc : KP_ECORRUPT;
    last_t x = {tx, 0, 0};
    if ((rc = brk_idx_each(tx, BRK_DB_EXP_ASGS, expert_id, s_last_one, &x)) || x.rc)
        return rc ? rc : x.rc;
    if (x.last == e->last_assigned_ms)
        return 0;
    e->last_assigned_ms = x.last;
    return kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base);
}

/* Cancels a confirmed assignment (by either side or the coordinator); with reopen the request
 * looks for someone else while there is time (without: the request itself is being
 * cancelled). */
static int
s_asg_cancel_write(kp_tx_t *tx, brk_asg_t *a, const char *by, const char *reason, bool reopen)
{
    int rc;
    a->state = AS(CANCELLED);
    a->cancelled_ms = tx->now_ms;
    a->cancelled_by = (char *)by;
    a->cancel_reason = (char *)reason;
    if ((rc = kp_rec_put_id(tx, BRK_DB_ASGS, a->id, &a->base)) ||
        (rc = s_expert_relast(tx, a->expert_id)) ||
        (rc = brk_emit(tx, "AssignmentCancelled", &a->base)))
        return rc;
    brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, a->request_id, &rc);
    if (rc || !rq)
        return rc ? rc : KP_ECORRUPT;
    if (rq->accepted_n)
        rq->accepted_n--;
    int64_t ans_ms = rq->input->answer_deadline_unix * 1000;
    if (rq->state == RS(FILLED) && ans_ms > tx->now_ms && reopen) {
        rq->state = RS(OPEN);
        rq->filled_ms = 0;
        if ((rc = brk_due_put(tx, ans_ms, BRK_DUE_ANSWER, rq->id)))
            return rc;
    } else if (rq->state == RS(FILLED) && reopen) {
        /* Past the answer deadline nobody new is asked: the coordinator hears of it. */
        rq->state = RS(UNFILLED);
        rq->closed_ms = tx->now_ms;
        if ((rc = brk_emit_request(tx, "RequestUnfilled", rq)))
            return rc;
    }
    if ((rc = kp_rec_put_id(tx, BRK_DB_REQUESTS, rq->id, &rq->base)))
        return rc;
    kp_log_info("assignment.cancelled", "assignment=%llu request=%llu", (unsigned long long)a->id,
                (unsigned long long)rq->id);
    return reopen ? brk_fill(tx, rq) : 0;
}

static void
s_asg_cancel(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__CancelAssignmentRequest *body = kp_call_body(call);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (strcmp(body->by, "expert") && strcmp(body->by, "requester") &&
        strcmp(body->by, "coordinator")) {
        kp_call_fail(call, C(INVALID), "field 'by': expert, requester or coordinator");
        return;
    }
    if (!s_text(call, "reason", body->reason, 1, 500))
        return;
    if (a->state != AS(CONFIRMED)) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu is not confirmed",
                     (unsigned long long)a->id);
        return;
    }
    int rc = s_asg_cancel_write(&tx, a, body->by, body->reason, true);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_asg(call, a);
}

static void
s_asg_complete(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__CompleteAssignmentRequest *body = kp_call_body(call);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (body->minutes < 1 || body->minutes > 7 * 24 * 60) {
        kp_call_fail(call, C(INVALID), "field 'minutes': 1..10080");
        return;
    }
    if (body->fee_cents > 10000000 || body->travel_cents > 10000000) {
        kp_call_fail(call, C(INVALID), "field 'fee_cents': at most 100000 euro (also travel)");
        return;
    }
    if (a->state != AS(CONFIRMED)) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu is not confirmed",
                     (unsigned long long)a->id);
        return;
    }
    if (a->start_unix * 1000 > tx.now_ms) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu has not started yet",
                     (unsigned long long)a->id);
        return;
    }
    int rc;
    brk_request_t *rq = brk_get(&tx, BRK_DB_REQUESTS, a->request_id, &rc);
    if (rc || !rq) {
        kp_call_fail_err(call, rc ? rc : KP_ECORRUPT);
        return;
    }
    a->state = AS(COMPLETED);
    a->completed_ms = tx.now_ms;
    a->minutes = body->minutes;
    a->fee_cents = body->fee_cents ? body->fee_cents : rq->input->fee_cents;
    a->travel_cents = body->travel_cents ? body->travel_cents : rq->input->travel_cents;
    if ((rc = kp_rec_put_id(&tx, BRK_DB_ASGS, a->id, &a->base)) ||
        (rc = brk_emit(&tx, "AssignmentCompleted", &a->base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("assignment.completed", "assignment=%llu", (unsigned long long)a->id);
    s_reply_asg(call, a);
}

static void
s_asg_feedback(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__AssignmentFeedbackRequest *body = kp_call_body(call);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    bool expert = strcmp(body->side, "expert") == 0;
    if (!expert && strcmp(body->side, "requester")) {
        kp_call_fail(call, C(INVALID), "field 'side': expert or requester");
        return;
    }
    if (body->rating < 1 || body->rating > 5) {
        kp_call_fail(call, C(INVALID), "field 'rating': 1..5");
        return;
    }
    if (!s_text(call, "comment_text", body->comment_text, 0, 2000))
        return;
    if (a->state != AS(COMPLETED)) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu is not completed",
                     (unsigned long long)a->id);
        return;
    }
    Kumppani__V1__AssignmentFeedback **slot = expert ? &a->expert_feedback : &a->requester_feedback;
    if (*slot) {
        kp_call_fail(call, C(CONFLICT), "the %s has already given feedback", body->side);
        return;
    }
    Kumppani__V1__AssignmentFeedback f = KUMPPANI__V1__ASSIGNMENT_FEEDBACK__INIT;
    f.rating = body->rating;
    f.comment_text = body->comment_text;
    f.given_ms = tx.now_ms;
    *slot = &f;
    int rc;
    if ((rc = kp_rec_put_id(&tx, BRK_DB_ASGS, a->id, &a->base)) ||
        (rc = brk_emit(&tx, "FeedbackGiven", &a->base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_asg(call, a);
}

static void
s_asg_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListAssignmentsRequest *body = kp_call_body(call);
    Kumppani__V1__ListAssignmentsReply r = KUMPPANI__V1__LIST_ASSIGNMENTS_REPLY__INIT;
    uint32_t limit = body->limit ? body->limit : 100;
    if (limit > 500) {
        kp_call_fail(call, C(INVALID), "field 'limit': at most 500");
        return;
    }
    if (body->expert_id) {
        if (!brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", body->expert_id))
            return;
        idx_acc_t a = {&tx, BRK_DB_ASGS, kp_arena_alloc(tx.arena, 500 * sizeof(void *)), 0, 500, 0};
        int rc =
            a.v ? brk_idx_each(&tx, BRK_DB_EXP_ASGS, body->expert_id, s_idx_one, &a) : KP_ENOMEM;
        if (rc || a.rc) {
            kp_call_fail_err(call, rc ? rc : a.rc);
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < a.n; i++)
            if (((brk_asg_t *)a.v[i])->id > body->after_id && k < limit)
                a.v[k++] = a.v[i];
        r.assignments = (brk_asg_t **)a.v;
        r.n_assignments = k;
    } else {
        list_t l = {.d = &kumppani__v1__assignment__descriptor};
        if (!s_list(call, &tx, &l, BRK_DB_ASGS, body->after_id, limit, 500))
            return;
        r.assignments = (brk_asg_t **)l.v;
        r.n_assignments = l.n;
    }
    kp_call_ok(call, &r.base);
}

/* ---- export --------------------------------------------------------------------------------- */

#define EXPORT_PAGE 1000

typedef struct {
    kp_tx_t *tx;
    int64_t from_ms, to_ms;
    bool unpaid_only;
    char *buf;
    size_t len, cap;
    uint32_t rows;
    uint64_t last_id; /* the last assignment written */
    bool full;        /* the page stopped early: the buffer is full */
    int rc;
} csv_t;

/* A record decoded on the heap (free with protobuf_c_message_free_unpacked): a page of the
 * export reads thousands of records, more than the call's arena holds. */
static void *
s_heap_get(csv_t *x, int db, uint64_t id, const ProtobufCMessageDescriptor *d)
{
    (void)d;
    void *m = brk_get_heap(x->tx, (unsigned)db, id, &x->rc);
    if (!m && !x->rc)
        x->rc = KP_ECORRUPT;
    return m;
}

/* A CSV field: quoted when needed; a leading = + - @ is neutralised (spreadsheet formulas). */
static void
s_csv_field(csv_t *x, const char *s, bool last)
{
    size_t need = 2 * strlen(s) + 8;
    if (x->len + need > x->cap) {
        x->rc = KP_ENOMEM;
        return;
    }
    char *p = x->buf + x->len;
    *p++ = '"';
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
        *p++ = '\'';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    *p++ = last ? '\n' : ',';
    x->len = (size_t)(p - x->buf);
}

static void s_csv_line(csv_t *x, const brk_asg_t *a, const char *name, const char *title);

static int
s_csv_row(void *arg, uint64_t id, MDB_val *val)
{
    csv_t *x = arg;
    (void)id;
    brk_asg_t *a = (void *)protobuf_c_message_unpack(&kumppani__v1__assignment__descriptor, NULL,
                                                     val->mv_size, val->mv_data);
    if (!a) {
        x->rc = KP_ECORRUPT;
        return 1;
    }
    if (a->state != AS(COMPLETED) || a->completed_ms < x->from_ms || a->completed_ms >= x->to_ms ||
        (x->unpaid_only && a->paid_ms)) {
        protobuf_c_message_free_unpacked(&a->base, NULL);
        return 0;
    }
    brk_expert_t *e =
        s_heap_get(x, BRK_DB_EXPERTS, a->expert_id, &kumppani__v1__expert__descriptor);
    brk_request_t *rq = x->rc ? NULL
                              : s_heap_get(x, BRK_DB_REQUESTS, a->request_id,
                                           &kumppani__v1__broker_request__descriptor);
    const char *name = e ? (e->erased ? "(erased)" : e->profile->name) : "";
    size_t need =
        x->rc ? 0 : 2 * (strlen(name) + strlen(rq->input->title) + strlen(a->payment_ref)) + 400;
    if (!x->rc && x->len + need > x->cap)
        x->full = true;
    else if (!x->rc)
        s_csv_line(x, a, name, rq->input->title);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    if (e)
        protobuf_c_message_free_unpacked(&e->base, NULL);
    if (rq)
        protobuf_c_message_free_unpacked(&rq->base, NULL);
    return x->rc != 0 || x->full || x->rows >= EXPORT_PAGE;
}

static void
s_csv_line(csv_t *x, const brk_asg_t *a, const char *name, const char *title)
{
    char n[7][48], date[11], paid[11] = "";
    brk_local(a->start_unix, NULL, NULL, date, NULL);
    if (a->paid_ms)
        brk_local(a->paid_ms / 1000, NULL, NULL, paid, NULL);
    snprintf(n[0], 48, "%llu", (unsigned long long)a->id);
    snprintf(n[1], 48, "%llu", (unsigned long long)a->request_id);
    snprintf(n[2], 48, "%llu", (unsigned long long)a->expert_id);
    snprintf(n[3], 48, "%u.%02u", a->minutes / 60, (a->minutes % 60) * 100 / 60);
    snprintf(n[4], 48, "%u.%02u", a->fee_cents / 100, a->fee_cents % 100);
    snprintf(n[5], 48, "%u.%02u", a->travel_cents / 100, a->travel_cents % 100);
    snprintf(n[6], 48, "%u.%02u", (a->fee_cents + a->travel_cents) / 100,
             (a->fee_cents + a->travel_cents) % 100);
    s_csv_field(x, n[0], false);
    s_csv_field(x, n[1], false);
    s_csv_field(x, n[2], false);
    s_csv_field(x, name, false);
    s_csv_field(x, title, false);
    s_csv_field(x, date, false);
    s_csv_field(x, n[3], false);
    s_csv_field(x, n[4], false);
    s_csv_field(x, n[5], false);
    s_csv_field(x, n[6], false);
    s_csv_field(x, paid, false);
    s_csv_field(x, a->payment_ref, true);
    x->rows++;
    x->last_id = a->id;
}

static void
s_asg_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__AssignmentExportRequest *body = kp_call_body(call);
    if (body->from_unix < 0 || (body->to_unix && body->to_unix <= body->from_unix)) {
        kp_call_fail(call, C(INVALID), "field 'to_unix': after from_unix (0: no end)");
        return;
    }
    csv_t x = {.tx = &tx,
               .from_ms = body->from_unix * 1000,
               .to_ms = body->to_unix ? body->to_unix * 1000 : INT64_MAX,
               .unpaid_only = body->unpaid_only};
    x.cap = 768 * 1024;
    x.buf = kp_arena_alloc(tx.arena, x.cap);
    if (!x.buf) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    const char *head = "assignment_id,request_id,expert_id,expert_name,request_title,date,hours,"
                       "fee_eur,travel_eur,total_eur,paid_date,payment_ref\n";
    memcpy(x.buf, head, strlen(head));
    x.len = strlen(head);
    int rc = brk_each(&tx, BRK_DB_ASGS, body->after_id, s_csv_row, &x);
    if (rc || x.rc) {
        kp_call_fail_err(call, rc ? rc : x.rc);
        return;
    }
    x.buf[x.len] = 0;
    Kumppani__V1__AssignmentExportReply r = KUMPPANI__V1__ASSIGNMENT_EXPORT_REPLY__INIT;
    r.csv_text = x.buf;
    r.rows = x.rows;
    r.next_after_id = x.rows >= EXPORT_PAGE || x.full ? x.last_id : 0;
    kp_log_info("export.csv", "rows=%u after=%llu", x.rows, (unsigned long long)body->after_id);
    kp_call_ok(call, &r.base);
}

static void
s_asg_paid(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__MarkPaidRequest *body = kp_call_body(call);
    if (body->n_assignment_ids < 1 || body->n_assignment_ids > EXPORT_PAGE) {
        kp_call_fail(call, C(INVALID), "field 'assignment_ids': 1..%d required", EXPORT_PAGE);
        return;
    }
    if (!s_text(call, "payment_ref", body->payment_ref, 1, 100))
        return;
    brk_asg_t **v = kp_arena_alloc(tx.arena, body->n_assignment_ids * sizeof *v);
    uint64_t *ids = kp_arena_alloc(tx.arena, body->n_assignment_ids * sizeof *ids);
    if (!v || !ids) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    Kumppani__V1__MarkPaidReply r = KUMPPANI__V1__MARK_PAID_REPLY__INIT;
    size_t n = 0;
    for (size_t i = 0; i < body->n_assignment_ids; i++) {
        brk_asg_t *a =
            brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_ids[i]);
        if (!a)
            return;
        if (a->state != AS(COMPLETED)) {
            kp_call_fail(call, C(CONFLICT),
                         "field 'assignment_ids[%zu]': assignment %llu is not completed", i,
                         (unsigned long long)a->id);
            return;
        }
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = v[j]->id == a->id;
        if (a->paid_ms || dup)
            r.already_paid++;
        else
            v[n++] = a;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        v[i]->paid_ms = tx.now_ms;
        v[i]->payment_ref = body->payment_ref;
        ids[i] = v[i]->id;
        rc = kp_rec_put_id(&tx, BRK_DB_ASGS, v[i]->id, &v[i]->base);
    }
    Kumppani__V1__MarkPaidRequest ev = KUMPPANI__V1__MARK_PAID_REQUEST__INIT;
    ev.assignment_ids = ids;
    ev.n_assignment_ids = n;
    ev.payment_ref = body->payment_ref;
    if (!rc && n)
        rc = brk_emit(&tx, "AssignmentsPaid", &ev.base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.marked = (uint32_t)n;
    kp_log_info("assignments.paid", "marked=%zu already=%u", n, r.already_paid);
    kp_call_ok(call, &r.base);
}

/* ---- erasure ----------------------------------------------------------------------------------
 */

#define ERASE_MAX 4096

typedef struct {
    kp_tx_t *tx;
    uint64_t expert_id;
    brk_offer_t **offers; /* the expert's open offers, and closed ones with a reason */
    size_t offers_n;
    uint64_t *asgs;
    size_t asgs_n;
    int rc;
} erase_t;

static int
s_erase_offer(void *arg, uint64_t id, MDB_val *val)
{
    erase_t *x = arg;
    (void)id;
    brk_offer_t *o = (void *)protobuf_c_message_unpack(
        &kumppani__v1__offer__descriptor, kp_arena_pbc(x->tx->arena), val->mv_size, val->mv_data);
    if (!o) {
        x->rc = KP_ECORRUPT;
        return 1;
    }
    if (o->expert_id == x->expert_id && (o->state == OS(OPEN) || o->reason[0]) &&
        x->offers_n < ERASE_MAX)
        x->offers[x->offers_n++] = o;
    return 0;
}

static int
s_erase_asg_id(void *arg, uint64_t id)
{
    erase_t *x = arg;
    if (x->asgs_n < ERASE_MAX)
        x->asgs[x->asgs_n++] = id;
    return 0;
}

/* The expert's assignments stay (pseudonymous: ids, times, hours, fees); confirmed ones are
 * cancelled, free-text feedback and cancel reasons (which may name the person) cleared. */
static int
s_erase_asg(kp_tx_t *tx, uint64_t id)
{
    int rc;
    brk_asg_t *a = brk_get(tx, BRK_DB_ASGS, id, &rc);
    if (rc || !a)
        return rc;
    const char *why = "expert erased";
    if (a->state == AS(CONFIRMED) && (rc = s_asg_cancel_write(tx, a, "coordinator", why, true)))
        return rc;
    if (a->expert_feedback)
        a->expert_feedback->comment_text = "";
    if (a->requester_feedback)
        a->requester_feedback->comment_text = "";
    if (a->cancel_reason[0] && strcmp(a->cancel_reason, why) != 0)
        a->cancel_reason = "(erased)";
    return kp_rec_put_id(tx, BRK_DB_ASGS, a->id, &a->base);
}

int
brk_expert_erase(kp_tx_t *tx, brk_expert_t *e)
{
    if (e->erased)
        return 0;
    Kumppani__V1__ExpertInput *p = kp_arena_alloc(tx->arena, sizeof *p);
    if (!p)
        return KP_ENOMEM;
    kumppani__v1__expert_input__init(p);
    p->kind = e->profile ? e->profile->kind : 0;
    e->profile = p;
    e->erased = true;
    e->erased_ms = e->updated_ms = tx->now_ms;
    e->paused = true;
    e->has_sensitive_detail = false;
    e->home_org_name = "";
    int rc;
    if ((rc = brk_sensitive_del(tx, e->id)) ||
        (rc = kp_rec_put_id(tx, BRK_DB_EXPERTS, e->id, &e->base)))
        return rc;
    erase_t x = {tx,
                 e->id,
                 kp_arena_alloc(tx->arena, ERASE_MAX * sizeof(brk_offer_t *)),
                 0,
                 kp_arena_alloc(tx->arena, ERASE_MAX * sizeof(uint64_t)),
                 0,
                 0};
    if (!x.offers || !x.asgs)
        return KP_ENOMEM;
    if ((rc = brk_each(tx, BRK_DB_OFFERS, 0, s_erase_offer, &x)) || x.rc ||
        (rc = brk_idx_each(tx, BRK_DB_EXP_ASGS, e->id, s_erase_asg_id, &x)))
        return rc ? rc : x.rc;
    size_t withdrawn = 0;
    for (size_t i = 0; i < x.offers_n; i++) {
        brk_offer_t *o = x.offers[i];
        o->reason = "";
        if (o->state != OS(OPEN)) {
            if ((rc = kp_rec_put_id(tx, BRK_DB_OFFERS, o->id, &o->base)))
                return rc;
            continue;
        }
        withdrawn++;
        if ((rc = brk_offer_close(tx, o, OS(WITHDRAWN), "OfferWithdrawn")))
            return rc;
        brk_request_t *rq = brk_get(tx, BRK_DB_REQUESTS, o->request_id, &rc);
        if (rc || (rq && (rc = brk_fill(tx, rq))))
            return rc;
    }
    for (size_t i = 0; i < x.asgs_n; i++)
        if ((rc = s_erase_asg(tx, x.asgs[i])))
            return rc;
    Kumppani__V1__ExpertRef ref = KUMPPANI__V1__EXPERT_REF__INIT;
    ref.expert_id = e->id;
    if ((rc = brk_emit(tx, "ExpertErased", &ref.base)))
        return rc;
    kp_log_notice("expert.erased", "expert=%llu offers_withdrawn=%zu assignments=%zu",
                  (unsigned long long)e->id, withdrawn, x.asgs_n);
    return 0;
}

typedef struct {
    kp_tx_t *tx;
    uint32_t unpaid;
    int rc;
} unpaid_t;

static int
s_unpaid_one(void *arg, uint64_t id)
{
    unpaid_t *x = arg;
    brk_asg_t *a = brk_get(x->tx, BRK_DB_ASGS, id, &x->rc);
    if (a && a->state == AS(COMPLETED) && !a->paid_ms)
        x->unpaid++;
    return x->rc != 0;
}

static void
s_expert_erase(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ExpertRef *body = kp_call_body(call);
    brk_expert_t *e = brk_load(&tx, BRK_DB_EXPERTS, "expert_id", "expert", body->expert_id);
    if (!e)
        return;
    unpaid_t u = {&tx, 0, 0};
    int rc = e->erased ? 0 : brk_idx_each(&tx, BRK_DB_EXP_ASGS, e->id, s_unpaid_one, &u);
    if (rc || u.rc) {
        kp_call_fail_err(call, rc ? rc : u.rc);
        return;
    }
    if (u.unpaid) {
        kp_call_fail(call, C(CONFLICT),
                     "expert %llu has %u completed assignments not marked paid: export and pay "
                     "them first (broker.assignment.paid)",
                     (unsigned long long)e->id, u.unpaid);
        return;
    }
    rc = brk_expert_erase(&tx, e);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    s_reply_expert(call, &tx, e);
}

/* ---- sensitive details and the audit -------------------------------------------------------- */

static void
s_sensitive_read(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__SensitiveReadRequest *body = kp_call_body(call);
    brk_asg_t *a = brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_id);
    if (!a)
        return;
    if (strlen(body->requester_token) != 32) {
        kp_call_fail(call, C(INVALID), "field 'requester_token': 32 hex characters required");
        return;
    }
    if (a->state != AS(CONFIRMED) && a->state != AS(COMPLETED)) {
        kp_call_fail(call, C(CONFLICT), "assignment %llu is not confirmed or completed",
                     (unsigned long long)a->id);
        return;
    }
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)body->requester_token, 32, NULL,
                       0);
    bool match = false, found = false;
    int rc = brk_token_check(&tx, a->request_id, hash, &match);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!match) {
        kp_log_notice("sensitive.refused", "assignment=%llu", (unsigned long long)a->id);
        kp_call_fail(call, C(FORBIDDEN),
                     "field 'requester_token': not the token of this "
                     "assignment's request");
        return;
    }
    const char *detail = NULL;
    if ((rc = brk_sensitive_get(&tx, a->expert_id, &detail, &found))) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (!found) {
        kp_call_fail(call, C(NOT_FOUND), "expert %llu has no sensitive detail stored",
                     (unsigned long long)a->expert_id);
        return;
    }
    Kumppani__V1__BrokerAuditEntry au = KUMPPANI__V1__BROKER_AUDIT_ENTRY__INIT;
    if (!detail || (rc = kp_tx_next_id(&tx, "audit", &au.id))) {
        kp_call_fail_err(call, detail ? rc : KP_ENOMEM);
        return;
    }
    au.time_ms = tx.now_ms;
    au.expert_id = a->expert_id;
    au.request_id = a->request_id;
    au.assignment_id = a->id;
    au.what = "sensitive-detail-read";
    if ((rc = kp_rec_put_id(&tx, BRK_DB_AUDIT, au.id, &au.base)) ||
        (rc = brk_emit(&tx, "SensitiveDetailRead", &au.base))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_notice("sensitive.read", "audit=%llu assignment=%llu expert=%llu",
                  (unsigned long long)au.id, (unsigned long long)a->id,
                  (unsigned long long)a->expert_id);
    Kumppani__V1__SensitiveReadReply r = KUMPPANI__V1__SENSITIVE_READ_REPLY__INIT;
    r.expert_id = a->expert_id;
    r.sensitive_detail_text = (char *)detail;
    r.audit_id = au.id;
    kp_call_ok(call, &r.base);
}

static void
s_audit_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__ListBrokerAuditRequest *body = kp_call_body(call);
    list_t l = {.d = &kumppani__v1__broker_audit_entry__descriptor};
    if (!s_list(call, &tx, &l, BRK_DB_AUDIT, body->after_id, body->limit, 1000))
        return;
    Kumppani__V1__ListBrokerAuditReply r = KUMPPANI__V1__LIST_BROKER_AUDIT_REPLY__INIT;
    r.entries = (Kumppani__V1__BrokerAuditEntry **)l.v;
    r.n_entries = l.n;
    kp_call_ok(call, &r.base);
}

/* ---- statistics ----------------------------------------------------------------------------- */

typedef struct {
    kp_tx_t *tx;
    int64_t from_ms, to_ms;
    Kumppani__V1__BrokerStatsReply *r;
    int64_t *fill;
    size_t fill_n;
    Kumppani__V1__ExpertCount **pe;
    size_t pe_n;
    int rc;
} stats_t;

static int
s_stats_req(void *arg, uint64_t id, MDB_val *val)
{
    stats_t *x = arg;
    (void)id;
    brk_request_t *rq =
        (void *)protobuf_c_message_unpack(&kumppani__v1__broker_request__descriptor,
                                          kp_arena_pbc(x->tx->arena), val->mv_size, val->mv_data);
    if (!rq) {
        x->rc = KP_ECORRUPT;
        return 1;
    }
    if (rq->created_ms < x->from_ms || rq->created_ms >= x->to_ms)
        return 0;
    Kumppani__V1__BrokerStatsReply *r = x->r;
    r->requests_filed++;
    switch (rq->state) {
    case RS(FILLED):
        r->requests_filled++;
        break;
    case RS(UNFILLED):
        r->requests_unfilled++;
        break;
    case RS(CANCELLED):
        r->requests_cancelled++;
        break;
    default:
        r->requests_open++;
    }
    if (rq->filled_ms && x->fill_n < 100000)
        x->fill[x->fill_n++] = rq->filled_ms - rq->created_ms;
    if (rq->input->purpose == KUMPPANI__V1__PURPOSE__PURPOSE_WORKING_GROUP) {
        r->working_groups++;
        ids_t ids = {x->tx, {0}, 0};
        x->rc = brk_idx_each(x->tx, BRK_DB_REQ_ASGS, rq->id, s_collect_id, &ids);
        bool with = false;
        for (size_t i = 0; !x->rc && i < ids.n && !with; i++) {
            brk_asg_t *a = brk_get(x->tx, BRK_DB_ASGS, ids.ids[i], &x->rc);
            with = a && (a->state == AS(CONFIRMED) || a->state == AS(COMPLETED));
        }
        if (with)
            r->working_groups_with_expert++;
    }
    return x->rc != 0;
}

static int
s_stats_expert(void *arg, uint64_t id, MDB_val *val)
{
    stats_t *x = arg;
    if (x->pe_n >= 20000)
        return 1;
    brk_expert_t *e = (void *)protobuf_c_message_unpack(&kumppani__v1__expert__descriptor, NULL,
                                                        val->mv_size, val->mv_data);
    if (!e) {
        x->rc = KP_ECORRUPT;
        return 1;
    }
    bool erased = e->erased;
    protobuf_c_message_free_unpacked(&e->base, NULL);
    if (erased)
        return 0;
    Kumppani__V1__ExpertCount *ec = kp_arena_alloc(x->tx->arena, sizeof *ec);
    if (!ec) {
        x->rc = KP_ENOMEM;
        return 1;
    }
    kumppani__v1__expert_count__init(ec);
    ec->expert_id = id;
    x->pe[x->pe_n++] = ec;
    return 0;
}

static int
s_stats_asg(void *arg, uint64_t id, MDB_val *val)
{
    stats_t *x = arg;
    (void)id;
    brk_asg_t *a =
        (void *)protobuf_c_message_unpack(&kumppani__v1__assignment__descriptor,
                                          kp_arena_pbc(x->tx->arena), val->mv_size, val->mv_data);
    if (!a) {
        x->rc = KP_ECORRUPT;
        return 1;
    }
    if ((a->state != AS(CONFIRMED) && a->state != AS(COMPLETED)) || a->confirmed_ms < x->from_ms ||
        a->confirmed_ms >= x->to_ms)
        return 0;
    /* Experts are in id order: binary search. */
    size_t lo = 0, hi = x->pe_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->pe[mid]->expert_id < a->expert_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < x->pe_n && x->pe[lo]->expert_id == a->expert_id)
        x->pe[lo]->assignments++;
    return 0;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
s_stats(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__BrokerStatsRequest *body = kp_call_body(call);
    if (body->from_unix < 0 || (body->to_unix && body->to_unix <= body->from_unix)) {
        kp_call_fail(call, C(INVALID), "field 'to_unix': after from_unix (0: no end)");
        return;
    }
    Kumppani__V1__BrokerStatsReply r = KUMPPANI__V1__BROKER_STATS_REPLY__INIT;
    stats_t x = {.tx = &tx,
                 .from_ms = body->from_unix * 1000,
                 .to_ms = body->to_unix ? body->to_unix * 1000 : INT64_MAX,
                 .r = &r};
    x.fill = kp_arena_alloc(tx.arena, 100000 * sizeof *x.fill);
    x.pe = kp_arena_alloc(tx.arena, 20000 * sizeof *x.pe);
    int rc = x.fill && x.pe ? 0 : KP_ENOMEM;
    if (!rc)
        rc = brk_each(&tx, BRK_DB_REQUESTS, 0, s_stats_req, &x);
    if (!rc && !x.rc)
        rc = brk_each(&tx, BRK_DB_EXPERTS, 0, s_stats_expert, &x);
    if (!rc && !x.rc)
        rc = brk_each(&tx, BRK_DB_ASGS, 0, s_stats_asg, &x);
    if (rc || x.rc) {
        kp_call_fail_err(call, rc ? rc : x.rc);
        return;
    }
    if (x.fill_n) {
        int64_t sum = 0;
        for (size_t i = 0; i < x.fill_n; i++)
            sum += x.fill[i];
        r.fill_ms_mean = sum / (int64_t)x.fill_n;
        qsort(x.fill, x.fill_n, sizeof *x.fill, s_cmp_i64);
        r.fill_ms_median = x.fill[x.fill_n / 2];
    }
    if (x.pe_n) {
        uint32_t *v = kp_arena_alloc(tx.arena, x.pe_n * sizeof *v);
        if (!v) {
            kp_call_fail_err(call, KP_ENOMEM);
            return;
        }
        for (size_t i = 0; i < x.pe_n; i++)
            v[i] = x.pe[i]->assignments;
        qsort(v, x.pe_n, sizeof *v, s_cmp_u32);
        r.assignments_min = v[0];
        r.assignments_max = v[x.pe_n - 1];
        /* Gini over sorted values: sum((2i - n - 1) x_i) / (n sum x). */
        double num = 0, total = 0, n = (double)x.pe_n;
        for (size_t i = 0; i < x.pe_n; i++) {
            num += (2.0 * (double)(i + 1) - n - 1.0) * v[i];
            total += v[i];
        }
        r.gini = total > 0 ? num / (n * total) : 0;
    }
    r.per_expert = x.pe;
    r.n_per_expert = x.pe_n;
    kp_call_ok(call, &r.base);
}

#define W (KP_ROLE_ADMIN | KP_ROLE_SERVICE)
#define R (KP_ROLE_ADMIN | KP_ROLE_READER | KP_ROLE_SERVICE)
#define M(name, roles, type, fn)                                                                   \
    {                                                                                              \
        name, roles, &kumppani__v1__##type##__descriptor, fn                                       \
    }

const kp_method_t brk_methods[] = {
    M("broker.expert.register", KP_ROLE_ADMIN, register_expert_request, s_expert_register),
    M("broker.expert.update", KP_ROLE_ADMIN, update_expert_request, s_expert_update),
    M("broker.expert.pause", W, pause_expert_request, s_expert_pause),
    M("broker.expert.get", R, expert_ref, s_expert_get),
    M("broker.expert.erase", KP_ROLE_ADMIN, expert_ref, s_expert_erase),
    M("broker.expert.list", R, list_experts_request, s_expert_list),
    M("broker.request.file", W, file_request_request, s_request_file),
    M("broker.request.get", R, broker_request_ref, s_request_get),
    M("broker.request.list", R, list_broker_requests_request, s_request_list),
    M("broker.request.cancel", W, cancel_broker_request_request, s_request_cancel),
    M("broker.request.explain", R, broker_request_ref, s_request_explain),
    M("broker.request.extend", KP_ROLE_ADMIN, extend_broker_request_request, s_request_extend),
    M("broker.offer.accept", W, offer_ref, s_offer_accept),
    M("broker.offer.decline", W, decline_offer_request, s_offer_decline),
    M("broker.assignment.cancel", W, cancel_assignment_request, s_asg_cancel),
    M("broker.assignment.complete", W, complete_assignment_request, s_asg_complete),
    M("broker.assignment.feedback", W, assignment_feedback_request, s_asg_feedback),
    M("broker.assignment.list", R, list_assignments_request, s_asg_list),
    M("broker.assignment.export", KP_ROLE_ADMIN, assignment_export_request, s_asg_export),
    M("broker.assignment.paid", KP_ROLE_ADMIN, mark_paid_request, s_asg_paid),
    M("broker.sensitive.read", W, sensitive_read_request, s_sensitive_read),
    M("broker.audit.list", KP_ROLE_ADMIN, list_broker_audit_request, s_audit_list),
    M("broker.stats", R, broker_stats_request, s_stats),
};
const unsigned brk_methods_n = sizeof brk_methods / sizeof brk_methods[0];
