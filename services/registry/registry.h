/*  The registry service, private header.
 *
 *  Store layout (integers big-endian so that LMDB keeps them in order; "sk" is the Finnish
 *  collation key of name_fi, see collate.c, which never holds a 0 byte):
 *      munis     code (3 ASCII digits)              -> Municipality
 *      orgs      org_id                             -> Organisation
 *      byname    sk 0 org_id                        -> summary (status, fields, municipalities,
 *                                                      networks, folded name words)
 *      facets    tag value 0 sk 0 org_id            -> ""  (tag: 'm' municipality, 'f' field,
 *                                                      'n' network, 's' status)
 *      words     folded word 0 sk 0 org_id          -> ""  (name_fi and name_sv words)
 *      uniq      'b' business_id | 'a' assoc number -> org_id
 *      people    person_id                          -> Person
 *      pidem     idempotency key of person.add      -> person_id (no personal data, so that
 *                                                      erasing a person leaves none behind)
 *      roles     role_id                            -> Role
 *      role_idx  'p' person_id role_id | 'm' code role_id | 'o' org_id role_id -> ""
 *      meetings  event_id (of the events service)   -> ContactPersonMeeting
 *  plus kp_store's meta, log, idem and offsets.
 *
 *  Search never decodes an Organisation until it returns it: the byname summary answers every
 *  filter, and facets/words give candidate streams already in collation order.
 *  No state lives outside the store. */
#ifndef REG_REGISTRY_H
#define REG_REGISTRY_H

#include "kp_server.h"
#include "kumppani/v1/events.pb-c.h"
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
    REG_DB_N
};

#define REG_SCHEMA_VERSION 1
#define REG_SK_MAX 300    /* collation key bytes kept (LMDB keys are at most 511 bytes) */
#define REG_WORD_MAX 64   /* folded word bytes kept in the words index */
#define REG_QUERY_WORDS 8 /* words of a search query */
#define REG_NAME_MAX 200  /* characters */

typedef Kumppani__V1__Organisation reg_org_t;
typedef Kumppani__V1__OrganisationFields reg_fields_t;
typedef Kumppani__V1__Municipality reg_muni_t;
typedef Kumppani__V1__Person reg_person_t;
typedef Kumppani__V1__Role reg_role_t;

typedef struct {
    int64_t clock_offset_ms; /* test hook: added to the clock for dates and coverage */
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

/* Splits the collation form of s into words (at spaces); calls fn for each (not
 * 0-terminated). Returns the number of words. */
unsigned reg_words(const char *s, void (*fn)(void *, const uint8_t *, size_t), void *arg);

/* Y-tunnus: "NNNNNNN-C" with the check digit C (weights 7 9 10 5 8 4 2, mod 11). */
bool reg_business_id_valid(const char *s);

/* "YYYY-MM-DD", a real calendar date between 1900 and 2199. */
bool reg_date_valid(const char *s);

/* The date of ms (Unix milliseconds) in Europe/Helsinki, into out[11]. */
void reg_date_of(int64_t ms, char out[11]);

/* The field's CSV/CLI name ("mental-health"), or NULL; and back (0 if unknown). */
const char *reg_field_name(int field);
int reg_field_parse(const char *s, size_t len);

/* ---- store.c ---------------------------------------------------------------------------- */

int reg_mdb(int rc);
int reg_get_msg(kp_call_t *call, unsigned db, const void *key, size_t klen,
                const ProtobufCMessageDescriptor *d, void **out, bool *found);
int reg_put_msg(MDB_txn *txn, kp_store_t *st, kp_arena_t *a, unsigned db, const void *key,
                size_t klen, const ProtobufCMessage *m);

int reg_muni_get(kp_call_t *call, const char *code, reg_muni_t **out, bool *found);
int reg_org_get(kp_call_t *call, uint64_t id, reg_org_t **out, bool *found);
/* Writes org and its indexes; old (may be NULL) is the previous record, whose index entries
 * are removed first. */
int reg_org_put(kp_call_t *call, const reg_org_t *org, const reg_org_t *old);
int reg_org_del(kp_call_t *call, const reg_org_t *old);
/* 'b' or 'a' unique key -> org id (0 if none). */
int reg_uniq_get(kp_call_t *call, char tag, const char *v, uint64_t *id);
/* An organisation with this name_fi (same collation key) and home municipality. */
int reg_org_by_name(kp_call_t *call, const char *name_fi, const char *home, uint64_t *id);

/* Search (see SearchRequest). On a bad cursor returns KP_EINVAL. */
int reg_search(kp_call_t *call, const Kumppani__V1__SearchRequest *rq,
               Kumppani__V1__SearchReply *out);

/* Checks fields, normalising them in place (dedupe lists). Returns NULL or the reason
 * ("field 'business_id': check digit does not match"), naming field and rule. */
const char *reg_fields_check(kp_call_t *call, reg_fields_t *f, char *why, size_t why_len);

/* ---- api.c / csv.c ---------------------------------------------------------------------- */

int64_t reg_now_ms(kp_call_t *call, reg_svc_t *svc);
void reg_import(kp_call_t *call, void *svc);
void reg_export(kp_call_t *call, void *svc);

/* Registers (id 0) or updates an organisation from checked fields, with its event. */
int reg_org_write(kp_call_t *call, reg_svc_t *svc, reg_org_t *old, reg_fields_t *f, int status,
                  reg_org_t **out);
/* Adds or renames a municipality with its event; *changed false if identical. */
int reg_muni_write(kp_call_t *call, reg_svc_t *svc, const reg_muni_t *m, bool *changed);

/* The first-start data: the 18 municipalities of Etelä-Pohjanmaa, as events. */
int reg_seed(kp_server_t *srv);

/* consume.c: applies events of the events service (contact-person meetings). */
int reg_consume_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev);

#endif
