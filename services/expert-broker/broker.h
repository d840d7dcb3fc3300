/*  The expert-broker service, private header (prefix brk_).
 *
 *  Store layout (keys big-endian, so LMDB keeps them in order):
 *      experts     expert_id                   -> Expert (never the sensitive detail)
 *      sensitive   expert_id                   -> the sensitive detail text (only with consent)
 *      requests    request_id                  -> BrokerRequest
 *      tokens      request_id                  -> BLAKE2b hash of the requester's token
 *      offers      offer_id                    -> Offer
 *      req_offers  request_id . offer_id       -> ""
 *      asgs        assignment_id               -> Assignment
 *      exp_asgs    expert_id . assignment_id   -> ""
 *      req_asgs    request_id . assignment_id  -> ""
 *      due         due_ms . kind . id          -> ""   (the durable schedule of deadlines)
 *      audit       audit_id                    -> BrokerAuditEntry
 *      orgs        org_id                      -> organisation name (registry read model)
 *  plus kp_store's meta, log, idem and offsets.
 *
 *  No state lives outside the store. The deadline timer is re-armed from the `due` table after
 *  every committed turn and at start, so deadlines survive a restart (or a kill -9). */
#ifndef BRK_BROKER_H
#define BRK_BROKER_H

#include "kp_server.h"
#include "kumppani/v1/broker.pb-c.h"

#include <stdbool.h>
#include <uv.h>

enum {
    BRK_DB_EXPERTS,
    BRK_DB_SENSITIVE,
    BRK_DB_REQUESTS,
    BRK_DB_TOKENS,
    BRK_DB_OFFERS,
    BRK_DB_REQ_OFFERS,
    BRK_DB_ASGS,
    BRK_DB_EXP_ASGS,
    BRK_DB_REQ_ASGS,
    BRK_DB_DUE,
    BRK_DB_AUDIT,
    BRK_DB_ORGS,
    BRK_DB_N
};

#define BRK_SCHEMA_VERSION 1

/* Kinds of scheduled deadlines (the byte after due_ms in the `due` key). */
enum { BRK_DUE_SOON = 1, BRK_DUE_LAPSE = 2, BRK_DUE_ANSWER = 3 };

typedef Kumppani__V1__Expert brk_expert_t;
typedef Kumppani__V1__BrokerRequest brk_request_t;
typedef Kumppani__V1__Offer brk_offer_t;
typedef Kumppani__V1__Assignment brk_asg_t;

typedef struct {
    kp_server_t *srv;
    const char *clock_file; /* test hook: an offset in ms added to the clock; NULL: off */
    unsigned no_repeat_weeks;
    bool registry_model; /* organisations must be known to the registry read model */
    uv_timer_t timer;
    kp_arena_t *timer_arena;
} brk_svc_t;

/* What store and matching functions work in: a call's transaction, or the deadline timer's
 * turn. */
typedef struct {
    brk_svc_t *svc;
    kp_call_t *call; /* NULL outside a call */
    MDB_txn *txn;
    kp_store_t *st;
    kp_arena_t *a;
    int64_t now_ms; /* the broker's clock (with the test offset) */
} brk_ctx_t;

extern const char *const brk_db_names[BRK_DB_N];
extern const kp_method_t brk_methods[];
extern const unsigned brk_methods_n;

/* The broker's clock: real time plus the test offset read from clock_file (if set). */
int64_t brk_clock(const brk_svc_t *svc, int64_t real_ms);

/* ---- store.c ------------------------------------------------------------------------------ */

/* The transaction to write in (kp_call_wtxn in a call). */
MDB_txn *brk_wtxn(brk_ctx_t *c);
int brk_emit(brk_ctx_t *c, const char *type, const ProtobufCMessage *m);

/* Records by id, decoded into c->a (valid for the call). */
int brk_get(brk_ctx_t *c, int db, uint64_t id, const ProtobufCMessageDescriptor *d, void **out,
            bool *found);
int brk_put(brk_ctx_t *c, int db, uint64_t id, const ProtobufCMessage *m);
int brk_raw_get(brk_ctx_t *c, int db, uint64_t id, MDB_val *v, bool *found);
int brk_raw_put(brk_ctx_t *c, int db, uint64_t id, const void *p, size_t n);
int brk_raw_del(brk_ctx_t *c, int db, uint64_t id);

/* Two-part index keys a . b. */
int brk_idx_put(brk_ctx_t *c, int db, uint64_t a, uint64_t b);
/* Calls fn(arg, b) for every b under a, ascending, until fn returns non-zero. */
int brk_idx_each(brk_ctx_t *c, int db, uint64_t a, int (*fn)(void *, uint64_t), void *arg);
/* Calls fn(arg, id, value) for records with id > after, ascending, until fn returns non-zero. */
int brk_each(brk_ctx_t *c, int db, uint64_t after, int (*fn)(void *, uint64_t, MDB_val *),
             void *arg);

/* The deadline schedule. */
int brk_due_put(brk_ctx_t *c, int64_t due_ms, int kind, uint64_t id);
int brk_due_del(brk_ctx_t *c, int64_t due_ms, int kind, uint64_t id);
/* The earliest entry, in txn. */
int brk_due_first(kp_store_t *st, MDB_txn *txn, int64_t *due_ms, int *kind, uint64_t *id,
                  bool *found);

brk_expert_t *brk_expert_load(brk_ctx_t *c, uint64_t id, int *rc);
brk_request_t *brk_request_load(brk_ctx_t *c, uint64_t id, int *rc);
brk_offer_t *brk_offer_load(brk_ctx_t *c, uint64_t id, int *rc);
brk_asg_t *brk_asg_load(brk_ctx_t *c, uint64_t id, int *rc);

/* ---- api.c -------------------------------------------------------------------------------- */

/* Erases an expert: profile emptied, sensitive detail deleted, open offers withdrawn (their
 * requests move on), confirmed assignments cancelled, free texts about them cleared; the
 * assignments stay under the id. Emits ExpertErased. Writes. */
int brk_expert_erase(brk_ctx_t *c, brk_expert_t *e);

/* ---- match.c ------------------------------------------------------------------------------ */

/* The candidates for a request: every expert, eligible ones first in rank order. Allocated in
 * c->a. */
int brk_explain(brk_ctx_t *c, const brk_request_t *rq, Kumppani__V1__ExpertCandidate ***out,
                size_t *n);

/* Brings a request forward: withdraws offers when filled, makes offers to the next
 * candidates while places are open, reports it unfilled when nobody is left. Writes. */
int brk_fill(brk_ctx_t *c, brk_request_t *rq);

/* Cancels an open request: withdraws its open offers. Writes. */
int brk_cancel_request(brk_ctx_t *c, brk_request_t *rq);

/* Ends an open offer (declined, lapsed or withdrawn) and removes its deadlines. Writes. */
int brk_offer_close(brk_ctx_t *c, brk_offer_t *o, Kumppani__V1__OfferState state, const char *type);

/* When the lapsing-soon reminder of an offer is due. */
int64_t brk_soon_ms(const brk_offer_t *o);

/* Runs the deadlines due at c->now_ms (at most limit). Writes. */
int brk_run_due(brk_ctx_t *c, unsigned limit, unsigned *ran);

/* Emits a request event (payload: BrokerRequestReply with the request only). */
int brk_emit_request(brk_ctx_t *c, const char *type, brk_request_t *rq);

/* Requester identity for the no-repeat rule. Allocated in c->a. */
const char *brk_requester_key(brk_ctx_t *c, const brk_request_t *rq);

/* Helsinki local time pieces of a Unix time. */
void brk_local(int64_t unix_s, int *weekday1, int *minute, char date[11], int *year_month);

#endif
