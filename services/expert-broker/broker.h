/*  The expert-broker service, private header (prefix brk_): the store layout, the service's
 *  state and the prototypes its files share.
 *
 *  Files: main.c (wiring), api.c (method table, field rules, settings), one file per resource
 *  (expert.c, request.c, offer.c, assignment.c, export.c, erase.c, stats.c), privacy.c (a
 *  person's data by e-mail or phone, and retention), match.c (eligibility and ranking, and the
 *  personal-data rules on plain values), timer.c (the deadline timer and the retention pass),
 *  consume.c (the registry's log), store.c (key layouts and walks, the idempotency records:
 *  the only file that calls LMDB).
 *
 *  Every handler and helper works in a kp_tx_t (kp_tx.h): a call's unit of work, or the
 *  timer's or the consumer's turn; tx->svc is the brk_svc_t.
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
 *  plus kp_store's meta, log, idem and offsets. Personal data: the experts' profiles and
 *  sensitive details, the requests' contact fields (and a private requester's name), and the
 *  copies of them in the idem replies of broker.expert.register and broker.request.file;
 *  never in the log (privacy.c erases all of them).
 *
 *  No state lives outside the store. The deadline timer is re-armed from the `due` table after
 *  every committed turn, at start and when the test clock moves, so deadlines survive a
 *  restart (or a kill -9). */
#ifndef BRK_BROKER_H
#define BRK_BROKER_H

#include "kp_boot.h"
#include "kp_server.h"
#include "kp_tx.h"
#include "kumppani/v1/broker.pb-c.h"
#include "kumppani/v1/privacy.pb-c.h"

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

/* A refused sensitive-detail read waiting for the next turn to be audited (expert.c). */
typedef struct {
    int64_t time_ms;
    uint64_t assignment_id, expert_id, request_id;
    char role[16];
    char token_fp[17];
    const char *refusal; /* static */
} brk_refusal_t;

#define BRK_REFUSALS_MAX 256

typedef struct {
    kp_server_t *srv;
    unsigned no_repeat_weeks;  /* setting no-repeat-weeks */
    unsigned retention_days;   /* setting retention-days (0: keep requesters' contacts) */
    int64_t retention_next_ms; /* when the timer runs the retention pass next (0: at once) */
    bool registry_model;       /* following the registry: organisations must be known to it */
    uv_timer_t timer;          /* the deadline timer (timer.c) */
    kp_arena_t *arena;         /* work outside calls (timer, consumer); reset by each user */
    /* Refused sensitive-detail reads not yet audited: a failed call cannot write (kp_server
     * rolls its writes back), so the timer writes them in the next turn (brk_refusals_write).
     * The only state outside the store, for milliseconds; a crash in between loses them
     * (the log line sensitive.refused remains). */
    brk_refusal_t refused[BRK_REFUSALS_MAX];
    unsigned refused_n;
    unsigned refused_dropped; /* beyond BRK_REFUSALS_MAX in one turn: counted and logged */
} brk_svc_t;

extern const char *const brk_db_names[BRK_DB_N];
extern const kp_method_t brk_methods[];
extern const unsigned brk_methods_n;

static inline brk_svc_t *
brk_svc(const kp_tx_t *tx)
{
    return tx->svc;
}

/* ---- store.c ------------------------------------------------------------------------------ */

/* Appends a domain event without free text (see store.c). Returns 0 or a KP code. */
int brk_emit(kp_tx_t *tx, const char *type, const ProtobufCMessage *m);

/* The record with this id in db (experts, requests, offers, asgs, audit: its type follows the
 * database), decoded into tx->arena; NULL when absent (*rc 0) or on a store error (*rc). */
void *brk_get(kp_tx_t *tx, unsigned db, uint64_t id, int *rc);

/* The same decoded on the heap (free with protobuf_c_message_free_unpacked), for walks that
 * read more records than an arena holds. */
void *brk_get_heap(kp_tx_t *tx, unsigned db, uint64_t id, int *rc);

/* In a call: the record, or answers "field '<field>': required" (id 0) or CODE_NOT_FOUND
 * "<what> <id> not found" (or a store error) and returns NULL. */
void *brk_load(kp_tx_t *tx, unsigned db, const char *field, const char *what, uint64_t id);

/* In a call: the request a stored record refers to, or answers the store error or KP_ECORRUPT
 * (the request is missing) and returns NULL. */
brk_request_t *brk_load_ref(kp_tx_t *tx, uint64_t request_id);

/* Two-part index keys a . b. */
int brk_idx_put(kp_tx_t *tx, unsigned db, uint64_t a, uint64_t b);
/* Calls fn(arg, b) for every b under a, ascending, until fn returns non-zero. */
int brk_idx_each(kp_tx_t *tx, unsigned db, uint64_t a, int (*fn)(void *, uint64_t), void *arg);
/* The same, each record of rec_db decoded into tx->arena: fn(arg, rec) with rec a brk_*_t of
 * rec_db (an id whose record is missing is skipped). Returns 0 or a store error; fn reports
 * its own failures through arg. */
int brk_idx_each_rec(kp_tx_t *tx, unsigned idx_db, uint64_t a, unsigned rec_db,
                     int (*fn)(void *arg, void *rec), void *arg);
/* Calls fn(arg, id, value) for records with id > after, ascending, until fn returns non-zero. */
int brk_each(kp_tx_t *tx, unsigned db, uint64_t after, int (*fn)(void *, uint64_t, MDB_val *),
             void *arg);
/* The same, each record decoded: fn(arg, id, rec) with rec a brk_*_t of db. keep: rec is
 * decoded into tx->arena and lives with it (fn may keep it); otherwise it is freed when fn
 * returns, so that a walk over a whole database stays bounded (fn copies what it keeps). A
 * record that does not decode ends the walk: KP_ECORRUPT. */
int brk_each_rec(kp_tx_t *tx, unsigned db, uint64_t after, bool keep,
                 int (*fn)(void *arg, uint64_t id, void *rec), void *arg);

/* Up to limit records of db with id > after, ascending, in tx->arena; state (requests only):
 * only those in that state (0: any). */
int brk_list(kp_tx_t *tx, unsigned db, uint64_t after, size_t limit, int state, void ***v,
             size_t *n);
/* The records of rec_db whose ids are under a in index idx_db (at most cap), in tx->arena. */
int brk_idx_load(kp_tx_t *tx, unsigned idx_db, uint64_t a, unsigned rec_db, size_t cap, void ***v,
                 size_t *n);
/* The first cap ids under a in index db. */
int brk_idx_ids(kp_tx_t *tx, unsigned db, uint64_t a, uint64_t *ids, size_t cap, size_t *n);

/* The deadline schedule. */
int brk_due_put(kp_tx_t *tx, int64_t due_ms, int kind, uint64_t id);
int brk_due_del(kp_tx_t *tx, int64_t due_ms, int kind, uint64_t id);
/* The earliest entry, in a fresh read transaction (outside any turn). */
int brk_due_next(kp_server_t *srv, int64_t *due_ms, bool *found);
/* The earliest entry. */
int brk_due_first(kp_tx_t *tx, int64_t *due_ms, int *kind, uint64_t *id, bool *found);

/* A text under a u64 id in db (get copies it into tx->arena): BRK_DB_ORGS, the registry read
 * model, holds the name of an active organisation by org id; BRK_DB_SENSITIVE an expert's
 * sensitive detail by expert id. */
int brk_text_get(kp_tx_t *tx, unsigned db, uint64_t id, const char **text, bool *found);
int brk_text_put(kp_tx_t *tx, unsigned db, uint64_t id, const char *text);
int brk_text_del(kp_tx_t *tx, unsigned db, uint64_t id);

/* The hash of a request's requester token; *match tells whether hash is the one stored. */
int brk_token_put(kp_tx_t *tx, uint64_t request_id, const uint8_t hash[32]);
int brk_token_check(kp_tx_t *tx, uint64_t request_id, const uint8_t hash[32], bool *match);

/* kp_server's idempotency records of method (kp_server.h): fix gives the replacement of a
 * decoded reply (built in tx->arena) or NULL to leave it; replacements are written back in
 * place. *rewritten counts them. For erasure: a kept reply must not keep what was erased. */
int brk_idem_rewrite(kp_tx_t *tx, const char *method, const ProtobufCMessageDescriptor *d,
                     const ProtobufCMessage *(*fix)(void *arg, kp_tx_t *tx,
                                                    const ProtobufCMessage *m),
                     void *arg, unsigned *rewritten);

/* ---- api.c: method table, field rules, settings ------------------------------------------ */

/* The field rules of an expert's profile and of a request (answer the call and return false
 * on the first broken rule). */
bool brk_check_expert_input(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__ExpertInput *p);
bool brk_check_request_input(kp_call_t *call, kp_tx_t *tx,
                             const Kumppani__V1__BrokerRequestInput *in);

/* The time window of a report (broker.stats, broker.assignment.export): from_unix (>= 0) up
 * to to_unix (0: no end), as [*from_ms, *to_ms) in milliseconds; or answers the call INVALID
 * and returns false. */
bool brk_window(kp_call_t *call, int64_t from_unix, int64_t to_unix, int64_t *from_ms,
                int64_t *to_ms);

/* A page of db after `after` (limit 0: 100, at most max; state as brk_list), or answers the
 * call and returns false. */
bool brk_page(kp_call_t *call, kp_tx_t *tx, unsigned db, uint64_t after, uint32_t limit,
              uint32_t max, int state, void ***v, size_t *n);

/* kp_boot_main's hooks (main.c). */
int brk_configure(void *svc, const kp_config_item_t *items);
int brk_start(void *svc, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items);
void brk_fini(void *svc);

/* ---- handlers (one file per resource) ---------------------------------------------------- */

void brk_expert_register(kp_call_t *call, void *svc);
void brk_expert_update(kp_call_t *call, void *svc);
void brk_expert_pause(kp_call_t *call, void *svc);
void brk_expert_get(kp_call_t *call, void *svc);
void brk_expert_list(kp_call_t *call, void *svc);
void brk_sensitive_read(kp_call_t *call, void *svc);
void brk_audit_list(kp_call_t *call, void *svc);
void brk_request_file(kp_call_t *call, void *svc);
void brk_request_get(kp_call_t *call, void *svc);
void brk_request_list(kp_call_t *call, void *svc);
void brk_request_cancel(kp_call_t *call, void *svc);
void brk_request_extend(kp_call_t *call, void *svc);
void brk_request_explain(kp_call_t *call, void *svc);
void brk_offer_accept(kp_call_t *call, void *svc);
void brk_offer_decline(kp_call_t *call, void *svc);
void brk_offer_view(kp_call_t *call, void *svc);
void brk_request_view(kp_call_t *call, void *svc);
/* The public facts of a request (OfferView), in tx->arena; NULL when out of memory. */
Kumppani__V1__BrokerRequestInput *brk_request_public(kp_tx_t *tx,
                                                     const Kumppani__V1__BrokerRequestInput *in);
void brk_asg_cancel(kp_call_t *call, void *svc);
void brk_asg_complete(kp_call_t *call, void *svc);
void brk_asg_feedback(kp_call_t *call, void *svc);
void brk_asg_list(kp_call_t *call, void *svc);
void brk_asg_export(kp_call_t *call, void *svc);
void brk_asg_paid(kp_call_t *call, void *svc);
void brk_expert_erase(kp_call_t *call, void *svc);
void brk_stats(kp_call_t *call, void *svc);
void brk_privacy_erase(kp_call_t *call, void *svc);
void brk_privacy_export(kp_call_t *call, void *svc);

/* ---- expert.c ------------------------------------------------------------------------------ */

/* Ends the call: the error rc, or the expert (and its home organisation's name from the read
 * model). */
void brk_answer_expert(kp_call_t *call, kp_tx_t *tx, int rc, brk_expert_t *e);

/* Writes the audit entries of the refused reads in svc->refused (and their
 * SensitiveDetailRefused events), then empties it. Writes. */
int brk_refusals_write(kp_tx_t *tx);

/* ---- erase.c ------------------------------------------------------------------------------- */

/* Erases an expert: profile emptied, sensitive detail deleted, open offers withdrawn (their
 * requests move on), confirmed assignments cancelled, free texts about them cleared; the
 * assignments stay under the id. Emits ExpertErased. Writes. */
int brk_expert_erase_write(kp_tx_t *tx, brk_expert_t *e);

/* The expert's completed assignments not marked paid (broker.expert.erase's rule). */
int brk_expert_unpaid(kp_tx_t *tx, uint64_t expert_id, uint32_t *unpaid);

/* ---- privacy.c ----------------------------------------------------------------------------- */

/* Erases the requesters of these requests (ids ascending): contact person and a private
 * requester's name emptied, RequesterErased (the id) on the log, the idempotency records
 * rewritten, compaction asked for. Writes. */
int brk_requesters_erase(kp_tx_t *tx, const uint64_t *ids, size_t n);

/* The retention pass: erases the requesters of at most limit requests that ended more than
 * days ago (*more: others are left for the next pass). Writes. */
int brk_retention_run(kp_tx_t *tx, unsigned days, size_t limit, size_t *erased, bool *more);

/* ---- request.c ----------------------------------------------------------------------------- */

/* Emits a request event (payload: BrokerRequestReply with the request only, without the
 * requester's contact person or a private requester's name). */
int brk_emit_request(kp_tx_t *tx, const char *type, brk_request_t *rq);

/* Closes a request in state (FILLED, UNFILLED or CANCELLED): withdraws its open offers,
 * removes its answer deadline, emits type. Writes. */
int brk_request_close(kp_tx_t *tx, brk_request_t *rq, Kumppani__V1__RequestState state,
                      const char *type);

/* ---- offer.c ------------------------------------------------------------------------------- */

/* Brings a request forward: closes it filled when enough accepted, makes offers to the next
 * candidates while places are open, closes it unfilled when nobody is left. Writes. */
int brk_fill(kp_tx_t *tx, brk_request_t *rq);

/* Ends an open offer (declined, lapsed or withdrawn) and removes its deadlines. Writes. */
int brk_offer_close(kp_tx_t *tx, brk_offer_t *o, Kumppani__V1__OfferState state, const char *type);

/* Withdraws every open offer of a request. Writes. */
int brk_offers_withdraw(kp_tx_t *tx, brk_request_t *rq);

/* When the lapsing-soon reminder of an offer is due. */
int64_t brk_soon_ms(const brk_offer_t *o);

/* ---- assignment.c -------------------------------------------------------------------------- */

/* Cancels a confirmed assignment; with reopen its request looks for someone else while there
 * is time (without: the request itself is being cancelled). Writes. */
int brk_asg_cancel_write(kp_tx_t *tx, brk_asg_t *a, const char *by, const char *reason,
                         bool reopen);

/* ---- match.c ------------------------------------------------------------------------------- */

/* The most reasons one expert can be ineligible for (brk_ineligible). */
#define BRK_REASONS_MAX 14

/* What the store says of one expert for one request (match.c gathers it). */
typedef struct {
    uint32_t month_n;    /* confirmed or completed assignments starting in the request's month */
    uint32_t n90;        /* ... confirmed within the last 90 days */
    bool same_requester; /* one with the same requester within no-repeat-weeks */
    int offer_state;     /* the expert's offer on this request (0: none) */
} brk_history_t;

/* The rules on plain values (pure: no store, no clock but the arguments; unit-tested). */

/* Counts one of the expert's assignments into h (only confirmed and completed ones count).
 * Returns true when it was confirmed within no_repeat_weeks of now_ms for another request:
 * the caller then compares the requesters and sets h->same_requester. */
bool brk_history_add(brk_history_t *h, const brk_asg_t *a, int request_month, uint64_t request_id,
                     int64_t now_ms, unsigned no_repeat_weeks);

/* The reasons the expert is not eligible for the request, in the order of the rules (see
 * match.c), into why; returns how many (0: eligible). The strings are static. */
size_t brk_ineligible(const brk_expert_t *e, const Kumppani__V1__BrokerRequestInput *in,
                      const brk_history_t *h, const char *why[BRK_REASONS_MAX]);

/* Sorts candidates into the fair order (eligible first, then the ranking keys of match.c;
 * ineligible ones by id) and numbers the eligible 1.. in rank (others 0). */
void brk_rank(Kumppani__V1__ExpertCandidate **v, size_t n);

/* The requester's identity for the no-repeat rule: the requesting organisation, never the
 * contact person: "org:<requester_org_id>"; an organisation or municipality without an id,
 * "name:" and the requester's name in lower case; a private person, "req:<request_id>" (each
 * request its own: nothing ties two private requests to one person but the contact). */
void brk_requester_key_fmt(const Kumppani__V1__BrokerRequestInput *in, uint64_t request_id,
                           char *buf, size_t len);

/* A subject's e-mail (ASCII case-insensitive) and phone (digits and a leading '+') match;
 * an empty value matches nothing. */

/* When a request ended: unfilled or cancelled, when it closed; filled, when its event was
 * over; 0 while open. */
int64_t brk_request_ended_ms(const brk_request_t *rq);

/* Whether a request still holds its requester's personal data (a contact field, or a private
 * requester's name). */
bool brk_requester_held(const brk_request_t *rq);
/* Empties that data in `in` (the log's copy, an erased requester, its idempotency record). */
void brk_requester_clear(Kumppani__V1__BrokerRequestInput *in);

/* The records a privacy call or the retention pass touches, found by walking a database
 * (brk_each_rec with these callbacks): the ids in ids[0..n), at most cap of them; more when the
 * walk stopped at the cap with more records to handle. */
typedef struct {
    const Kumppani__V1__DataSubject *s; /* NULL: retention (by age) */
    int64_t before_ms;                  /* retention: ended before this */
    uint64_t *ids;
    size_t n, cap;
    bool more; /* stopped at cap */
} brk_find_t;

/* Walk callbacks (arg a brk_find_t): the experts whose profile names the subject s; the
 * requests that still hold a requester who is s or, with s NULL, that ended before
 * before_ms. */
int brk_find_expert(void *arg, uint64_t id, void *rec);
int brk_find_request(void *arg, uint64_t id, void *rec);

/* The candidates for a request: every expert, eligible ones first in rank order. Allocated in
 * tx->arena. */
int brk_explain(kp_tx_t *tx, const brk_request_t *rq, Kumppani__V1__ExpertCandidate ***out,
                size_t *n);

/* Requester identity for the no-repeat rule. Allocated in tx->arena. */
const char *brk_requester_key(kp_tx_t *tx, const brk_request_t *rq);

/* Helsinki local time pieces of a Unix time (any may be NULL). */
void brk_local(int64_t unix_s, int *weekday1, int *minute, char date[11], int *year_month);

/* ---- timer.c ------------------------------------------------------------------------------- */

/* Registers the timer's server part (turn_done, stop, clock_moved) and arms it. */
int brk_timer_start(brk_svc_t *svc, kp_server_t *srv);

/* Fires the timer at once (e.g. to write refused reads' audit entries). */
void brk_timer_kick(brk_svc_t *svc);

/* Runs the deadlines due at tx->now_ms (at most limit). Writes. */
int brk_run_due(kp_tx_t *tx, unsigned limit, unsigned *ran);

/* ---- consume.c ----------------------------------------------------------------------------- */

/* Follows the registry's log when registry-api and registry-pub are set (sets
 * svc->registry_model). */
int brk_consume_start(brk_svc_t *svc, kp_server_t *srv, const kp_boot_t *boot,
                      const kp_config_item_t *items);

#endif
