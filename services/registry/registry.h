/*  The registry service, private header: the store layout, the service's state and the
 *  prototypes its files share.
 *
 *  Files: main.c (wiring), api.c (the method table and the field rules), organisation.c,
 *  municipality.c, person.c (people and their roles), coverage.c (gaps and idle contact
 *  persons), meeting.c (meetings entered by hand), search.c, csv.c (import and export), seed.c (the
 * first-start municipalities), consume.c (the events service's log), privacy.c (a person's data by
 * e-mail or phone), collate.c (Finnish collation, pure functions) and store.c, the only file that
 * calls LMDB: it owns the key layouts below and every walk over them.
 *
 *  Store layout (integers big-endian so that LMDB keeps them in order; "sk" is the Finnish
 *  collation key of name_fi, see collate.c, which never holds a 0 byte):
 *      munis       code (3 ASCII digits)              -> Municipality
 *      orgs        org_id                             -> Organisation
 *      byname      sk 0 org_id                        -> summary (status, fields, municipalities,
 *                                                        networks, folded name words)
 *      facets      tag value 0 sk 0 org_id            -> ""  (tag: 'm' municipality, 'f' field,
 *                                                        'n' network, 's' status)
 *      words       folded word 0 sk 0 org_id          -> ""  (name_fi and name_sv words)
 *      uniq        'b' business_id | 'a' assoc number -> org_id
 *      people      person_id                          -> Person
 *      pidem       idempotency key of person.add      -> person_id (no personal data, so that
 *                                                        erasing a person leaves none behind)
 *      roles       role_id                            -> Role
 *      role_idx    'p' person_id role_id | 'm' code role_id | 'o' org_id role_id -> ""
 *      meetings    event_id (of the events service)   -> ContactPersonMeeting
 *                  | 2^63 + recorded_id (entered with registry.meeting.record)
 *      meeting_org event_id                           -> org_id of the organisation that
 *                                                        organises it, if one does
 *                                                        (ContactPersonMeeting has no field
 *                                                        for it; its organiser_person_id
 *                                                        stays 0: events names no person)
 *  plus kp_store's meta, log, idem and offsets.
 *
 *  Search never decodes an Organisation until it returns it: the byname summary answers every
 *  filter, and facets/words give candidate streams already in collation order.
 *  No state lives outside the store.
 *
 *  Every handler and helper works on one unit of work, a kp_tx_t (kp_tx.h), whose svc is the
 *  reg_svc_t below; dates ("today") are Helsinki calendar dates of tx->now_ms (kp_time.h). */
#ifndef REG_REGISTRY_H
#define REG_REGISTRY_H

#include "kp_arena.h"
#include "kp_server.h"
#include "kp_tx.h"
#include "kumppani/v1/events.pb-c.h"
#include "kumppani/v1/privacy.pb-c.h"
#include "kumppani/v1/registry.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    REG_DB_MUNIS,
    REG_DB_ORGS,
    REG_DB_BYNAME,
    REG_DB_FACETS,
    REG_DB_WORDS,
    REG_DB_UNIQ,
    REG_DB_PEOPLE,
    REG_DB_PIDEM,
    REG_DB_ROLES,
    REG_DB_ROLE_IDX,
    REG_DB_MEETINGS,
    REG_DB_MEETING_ORG,
    REG_DB_N
};

#define REG_SCHEMA_VERSION 2 /* 2: search words fold å ä ö (reg_migrate) */
#define REG_SK_MAX 300       /* collation key bytes kept (LMDB keys are at most 511 bytes) */
#define REG_WORD_MAX 64      /* folded word bytes kept in the words index */
#define REG_QUERY_WORDS 8    /* words of a search query */
#define REG_NAME_MAX 200     /* characters */
#define REG_WHY 160          /* room for a refusal's reason */
#define REG_POS_MAX (REG_SK_MAX + 9) /* a position in name order: "sk 0 org_id" */
#define REG_PRE_MAX 96               /* an index run's key prefix ("tag value 0", "word 0") */
#define REG_RUNS_MAX 16              /* runs (indexed words) one query word may stream */

#define REG_C(x) KUMPPANI__V1__CODE__CODE_##x
#define REG_ACTIVE KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE
#define REG_DISSOLVED KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED
#define REG_REMOVED KUMPPANI__V1__ORG_STATUS__ORG_STATUS_REMOVED
#define REG_RK(x) KUMPPANI__V1__ROLE_KIND__ROLE_KIND_##x

typedef Kumppani__V1__Organisation reg_org_t;
typedef Kumppani__V1__OrganisationFields reg_fields_t;
typedef Kumppani__V1__Municipality reg_muni_t;
typedef Kumppani__V1__Person reg_person_t;
typedef Kumppani__V1__Role reg_role_t;
typedef Kumppani__V1__ContactPersonMeeting reg_meeting_t;

typedef struct {
    kp_arena_t *arena; /* for units outside calls (seed, consume); reset by each */
    kp_arena_t *scan;  /* one organisation of a walk over them all (reg_org_each); reset per one */
} reg_svc_t;

extern const char *const reg_db_names[REG_DB_N];
extern const kp_method_t reg_methods[];
extern const unsigned reg_methods_n;

/* ---- collate.c: Finnish collation, folding, identifiers (pure functions) ---------------- */

/* Writes the collation key of the UTF-8 text s into out (at most cap bytes, no 0 byte):
 * case-insensitive, a-z in order, then å ä ö (æ as ä, ø as ö, ü as y, accented Latin letters
 * as their base letter), digits before letters, runs of spaces and punctuation as one space.
 * Returns the length. */
size_t reg_sortkey(const char *s, uint8_t *out, size_t cap);

/* Splits the search form of s into words (at spaces): the collation form with å ä æ folded
 * to a, ö ø to o and ü to u, so that a query typed without them matches. Calls fn for each
 * (not 0-terminated). Returns the number of words. The words index and the byname summaries
 * hold these words (schema 2; an older store is re-indexed on open, reg_migrate). */
unsigned reg_words(const char *s, void (*fn)(void *, const uint8_t *, size_t), void *arg);

/* The words of a query (reg_words), the first REG_QUERY_WORDS of them: what a search matches,
 * each word as a prefix of a stored word. */
typedef struct {
    uint8_t w[REG_QUERY_WORDS][REG_WORD_MAX];
    size_t len[REG_QUERY_WORDS];
    unsigned n;
} reg_query_words_t;

/* Fills *q with the words of s (reg_words); words after the first REG_QUERY_WORDS are left
 * out. */
void reg_query_words(const char *s, reg_query_words_t *q);

/* Y-tunnus: "NNNNNNN-C" with the check digit C (weights 7 9 10 5 8 4 2, mod 11). */
bool reg_business_id_valid(const char *s);

/* "YYYY-MM-DD", a real calendar date between 1900 and 2199. */
bool reg_date_valid(const char *s);

/* The Helsinki calendar date of ms (Unix milliseconds), into out[11] (kp_time_local). */
void reg_date_of(int64_t ms, char out[11]);

/* The field's CSV/CLI name ("mental-health"), or NULL; and back (0 if unknown). */
const char *reg_field_name(int field);
int reg_field_parse(const char *s, size_t len);

/* ---- api.c: field rules ------------------------------------------------------------------ */

/* Checks fields, normalising them in place (dedupe lists, drop the home municipality from
 * municipalities). Returns NULL or the reason ("field 'business_id': ..."), naming field and
 * rule, in why. */
const char *reg_fields_check(kp_tx_t *tx, reg_fields_t *f, char *why, size_t why_len);

/* An e-mail and a phone number, each valid when given (both optional). Returns NULL or the
 * reason in why. */
const char *reg_contact_why(const char *email, const char *phone, char *why, size_t why_len);

/* A network id: 1..64 of a-z, 0-9, '-', ':'. */
bool reg_network_ok(const char *v);

/* Answers CODE_INVALID "field '<field>': required" for a zero id and returns false. */
bool reg_need_id(kp_call_t *call, const char *field, uint64_t id);

/* Today's Helsinki date of the unit, into out[11]. */
void reg_today(const kp_tx_t *tx, char out[11]);

/* The date given in a request's field, or today (the given one empty); today's date is also
 * written to today. NULL after answering INVALID "field '<field>': a date YYYY-MM-DD". */
const char *reg_date_or_today(kp_tx_t *tx, const char *field, const char *given, char today[11]);

/* ---- organisation.c ---------------------------------------------------------------------- */

/* Registers (old NULL) or updates an organisation from checked fields, with its event. */
int reg_org_write(kp_tx_t *tx, reg_org_t *old, reg_fields_t *f, int status, reg_org_t **out);

/* True if the two field sets encode to the same bytes. */
bool reg_fields_equal(kp_tx_t *tx, const reg_fields_t *a, const reg_fields_t *b);

/* The organisation with this id, or NULL after answering (kp_rec_load). */
reg_org_t *reg_org_load(kp_tx_t *tx, const char *field, uint64_t id);

void reg_org_register(kp_call_t *call, void *svc);
void reg_org_update(kp_call_t *call, void *svc);
void reg_org_dissolve(kp_call_t *call, void *svc);
void reg_org_remove(kp_call_t *call, void *svc);
void reg_org_get_h(kp_call_t *call, void *svc);

/* ---- municipality.c ---------------------------------------------------------------------- */

/* Stores a municipality (new or renamed) with its MunicipalityAdded event. */
int reg_muni_save(kp_tx_t *tx, const reg_muni_t *m);

/* True if a and b have the same names and region (the code is the key). */
bool reg_muni_same(const reg_muni_t *a, const reg_muni_t *b);

/* Adds or renames a municipality with its event; *changed false if identical (no write). */
int reg_muni_write(kp_tx_t *tx, const reg_muni_t *m, bool *changed);

void reg_muni_add(kp_call_t *call, void *svc);
void reg_muni_list_h(kp_call_t *call, void *svc);

/* ---- person.c: people and roles ---------------------------------------------------------- */

/* A role is current on day D when start_date <= D and (no end_date or D < end_date). */
bool reg_role_current(const reg_role_t *r, const char *date);

/* Ends the current roles of person ('p') or organisation ('o') id on date, emitting their
 * events; collects the ids into ids (may be NULL). */
int reg_end_roles(kp_tx_t *tx, uint8_t tag, uint64_t id, const char *date, uint64_t **ids,
                  size_t *ids_n);

/* The person with this id, or NULL after answering (kp_rec_load). */
reg_person_t *reg_person_load(kp_tx_t *tx, const char *field, uint64_t id);

/* Erases a person: current roles ended (their events), the record deleted, PersonErased (ids
 * only, into *e) on the log, compaction after the turn. Writes. */
int reg_person_erase_write(kp_tx_t *tx, reg_person_t *p, Kumppani__V1__PersonErased *e);

/* For the contact-person CSV import (csv.c): adds a person (checked values) with PersonAdded;
 * *out in the arena. */
int reg_person_create(kp_tx_t *tx, const char *name, const char *email, const char *phone,
                      reg_person_t **out);
/* Whether the person holds a role of r's kind and target overlapping r's dates. */
int reg_role_overlaps(kp_tx_t *tx, const reg_role_t *r, bool *overlap);
/* Stores a new role r (id given here) with its event. */
int reg_role_create(kp_tx_t *tx, reg_role_t *r);

void reg_person_add(kp_call_t *call, void *svc);
void reg_person_search(kp_call_t *call, void *svc);
void reg_person_update(kp_call_t *call, void *svc);
void reg_person_get_h(kp_call_t *call, void *svc);
void reg_person_erase(kp_call_t *call, void *svc);
void reg_role_assign(kp_call_t *call, void *svc);
void reg_role_end(kp_call_t *call, void *svc);
void reg_role_list(kp_call_t *call, void *svc);

/* ---- privacy.c: registry.privacy.erase and .export by e-mail or phone ------------------- */

/* E-mails and phones are compared as kp_privacy does (kp_privacy_email_eq, _phone_eq). */
void reg_privacy_erase(kp_call_t *call, void *svc);
void reg_privacy_export(kp_call_t *call, void *svc);

/* ---- coverage.c, search.c, csv.c --------------------------------------------------------- */

void reg_cov_gaps(kp_call_t *call, void *svc);
void reg_cov_idle(kp_call_t *call, void *svc);
void reg_org_search(kp_call_t *call, void *svc);
void reg_import(kp_call_t *call, void *svc);
void reg_export(kp_call_t *call, void *svc);

/* ---- meeting.c: meetings entered by hand ------------------------------------------------- */

void reg_meeting_record(kp_call_t *call, void *svc);
void reg_meeting_list(kp_call_t *call, void *svc);

/* ---- seed.c, consume.c ------------------------------------------------------------------- */

/* The first-start data: the 18 municipalities of Etelä-Pohjanmaa, as events. Returns 0 or a
 * KP code (the turn is then abandoned). */
int reg_seed(kp_server_t *srv, reg_svc_t *svc);

/* Applies events of the events service (contact-person meetings); arg is the reg_svc_t. */
int reg_consume_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev);

/* ---- store.c: records, indexes and their walks ------------------------------------------- */

/* Upgrades an older store on open (kp_store_opts_t.migrate): 1 -> 2 rebuilds the words index
 * and the byname summaries with the search words of this version, and drops the meetings
 * with the events offset so that they are learned again with their state (draft or not). */
int reg_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to);

/* Every function returns 0 or a KP code (store errors logged once by kp_tx); a missing record
 * is *found = false. Records decoded live in tx->arena. Writers take kp_tx_wtxn. */

int reg_muni_get(kp_tx_t *tx, const char *code, reg_muni_t **out, bool *found);
int reg_muni_put(kp_tx_t *tx, const reg_muni_t *m);
/* Every municipality (of region, if not NULL/""), by code, into an arena array. */
int reg_muni_list(kp_tx_t *tx, const char *region, reg_muni_t ***out, size_t *n);
int reg_muni_count(kp_tx_t *tx, uint64_t *n);

int reg_org_get(kp_tx_t *tx, uint64_t id, reg_org_t **out, bool *found);
/* Writes org and its indexes; old (may be NULL) is the previous record, whose index entries
 * are removed first. */
int reg_org_put(kp_tx_t *tx, const reg_org_t *org, const reg_org_t *old);
int reg_org_del(kp_tx_t *tx, const reg_org_t *old);
/* Calls fn(arg, org) for each organisation with id >= from_id in id order until fn returns
 * non-zero (returned when positive; negative is an error). org lives in a scratch arena
 * emptied for the next one (fn keeps no pointer into it), so a walk past many organisations
 * takes the memory of one. */
int reg_org_each(kp_tx_t *tx, uint64_t from_id, int (*fn)(void *arg, void *org), void *arg);
/* 'b' or 'a' unique key -> org id (0 if none). */
int reg_uniq_get(kp_tx_t *tx, char tag, const char *v, uint64_t *id);
/* An organisation with this name_fi (same collation key) and home municipality (0 if none). */
int reg_org_by_name(kp_tx_t *tx, const char *name_fi, const char *home, uint64_t *id);

int reg_person_get(kp_tx_t *tx, uint64_t id, reg_person_t **out, bool *found);
int reg_person_put(kp_tx_t *tx, const reg_person_t *p);
int reg_person_del(kp_tx_t *tx, uint64_t id);
/* The ids >= from_id of the people for whom hit(arg, person) is true (at most cap,
 * ascending). */
int reg_people_ids(kp_tx_t *tx, uint64_t from_id, bool (*hit)(void *arg, const reg_person_t *p),
                   void *arg, uint64_t *ids, size_t cap, size_t *n);
/* person.add's own idempotency record: key -> person id. */
int reg_pidem_get(kp_tx_t *tx, const void *key, size_t key_len, uint64_t *id, bool *found);
int reg_pidem_put(kp_tx_t *tx, const void *key, size_t key_len, uint64_t id);

int reg_role_get(kp_tx_t *tx, uint64_t id, reg_role_t **out, bool *found);
/* Writes the role; index: also its role_idx entries (a new role). */
int reg_role_put(kp_tx_t *tx, const reg_role_t *r, bool index);
/* Calls fn for every role under index prefix tag+v (ids collected first, so fn may write). */
int reg_roles_each(kp_tx_t *tx, uint8_t tag, const void *v, size_t vlen,
                   int (*fn)(void *arg, reg_role_t *r), void *arg);
/* The same under an id: tag 'p' (the person's roles) or 'o' (the organisation's). */
int reg_roles_of(kp_tx_t *tx, uint8_t tag, uint64_t id, int (*fn)(void *arg, reg_role_t *r),
                 void *arg);

#define REG_MEETING_RECORDED (1ull << 63) /* the key bit of a recorded meeting */

/* Stores a meeting (keyed by event_id, or by recorded_id for a recorded one) and the
 * organisation that organises it (0: none). */
int reg_meeting_put(kp_tx_t *tx, const reg_meeting_t *m, uint64_t organiser_org);
/* Calls fn(arg, meeting, organiser org or 0) for every meeting, in event id order. */
int reg_meeting_each(kp_tx_t *tx, int (*fn)(void *arg, const reg_meeting_t *m, uint64_t org),
                     void *arg);

/* ---- store.c: search's index walks (search.c plans and intersects) ----------------------- */

/* A candidate stream: the positions ("sk 0 org_id"), in name order, of the organisations that
 * satisfy one term. Either runs of an index under key prefixes (a facet "tag value 0", or the
 * indexed words "word 0" a query word is a prefix of, merged), walked by cursors, or an
 * array of a query word's few positions, sorted. Zero it before use; close it after. */
typedef struct {
    kp_tx_t *tx;
    unsigned db;
    unsigned n; /* runs; 0 for an array stream */
    MDB_cursor *cur[REG_RUNS_MAX];
    uint8_t pre[REG_RUNS_MAX][REG_PRE_MAX];
    size_t pre_len[REG_RUNS_MAX];
    MDB_val head[REG_RUNS_MAX]; /* current position, mv_data NULL when not positioned */
    bool ended[REG_RUNS_MAX];
    MDB_val *arr; /* array stream: sorted, distinct positions */
    unsigned arr_n, arr_i;
    /* rank: exact count below the estimate cap, else dense and reaching est (the entry at
     * the cap) */
    unsigned est_n;
    bool dense;
    uint8_t est[REG_POS_MAX];
    size_t est_len;
} reg_stream_t;

/* Order of two positions (MDB_val *), as LMDB orders keys; a qsort comparator. */
int reg_pos_cmp(const void *a, const void *b);

/* The stream of one facet: tag 'm' (code), 'f' (field byte), 'n' (network), 's' (status
 * byte) with its value. */
int reg_stream_facet(kp_tx_t *tx, reg_stream_t *s, uint8_t tag, const void *v, size_t vlen);

/* The stream of a query word (folded, wlen bytes); *usable false when it matches too much to
 * be one (the summary then checks the word). */
int reg_stream_word(kp_tx_t *tx, reg_stream_t *s, const uint8_t *w, size_t wlen, bool *usable);

/* Moves s to its first position >= x (xl bytes; 0 for the start); *out is it (borrowed until
 * the next seek), or mv_data NULL at the end. Counts cursor seeks in *steps. */
int reg_stream_seek(reg_stream_t *s, const uint8_t *x, size_t xl, MDB_val *out, unsigned *steps);

/* Counts s's entries from x up to a cap, for ranking; leaves its runs unpositioned. */
int reg_stream_estimate(reg_stream_t *s, const uint8_t *x, size_t xl);

void reg_stream_close(reg_stream_t *s);

/* The byname summary of the organisation at pos (borrowed until the next write). */
int reg_summary_get(kp_tx_t *tx, const uint8_t *pos, size_t pos_len, MDB_val *val, bool *found);

/* Walks the positions strictly after `after` (after_len 0: from the first) of one facet (tag
 * and value as for reg_stream_facet) or, tag 0, of every name, calling fn with each position
 * and, for every name, its summary (NULL for a facet), until fn returns non-zero (returned
 * when positive). */
int reg_order_walk(kp_tx_t *tx, uint8_t tag, const void *v, size_t vlen, const uint8_t *after,
                   size_t after_len,
                   int (*fn)(void *arg, const uint8_t *pos, size_t pos_len, const MDB_val *summary),
                   void *arg);

#endif
