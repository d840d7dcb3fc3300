/*  registry/privacy.c: a person's data by e-mail or phone (registry.privacy.erase and
 *  registry.privacy.export, admin only; proto/kumppani/v1/privacy.proto).
 *
 *  The registry's personal data are its people (name, e-mail, phone) and their roles. Erasure
 *  finds every person whose e-mail (ASCII case-insensitive) or phone (its digits and a leading
 *  '+') matches and erases each exactly as registry.person.erase does (person.c: roles ended,
 *  record deleted, PersonErased with ids only, which the broker follows; compaction after the
 *  turn). A deleted person is not found again, so a second erasure, like an unknown subject,
 *  is CODE_NOT_FOUND "no personal data held for that subject". The export is one JSON document
 *  (jansson): the people with their roles. Neither the subject nor the reply is logged.
 *
 *  One call handles at most SUBJECT_MAX people. The walk asks for one more than that, only to
 *  know whether there are more: then the reply says more (privacy.proto), an erasure erases the
 *  first SUBJECT_MAX (a second one finds the rest, since an erased person is deleted) and an
 *  export holds them only. Since one person per e-mail and per phone is the rule (person.c), a
 *  subject matches more than one or two people only in a store that predates the rule. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "registry.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* People of one subject handled in one call. Every record the call reads or writes goes
 * through the request's arena, which holds at most KP_WIRE_DECODE_CAP (2 MiB): measured, a
 * person erased takes about 8.3 KiB of it (reg_end_roles lists up to ROLES_LISTED ids), so 1024
 * did not fit and the call failed instead of saying more. */
#define SUBJECT_MAX 128

static bool
s_hit(void *arg, const reg_person_t *p)
{
    return kp_privacy_matches(arg, p->email, p->phone);
}

/* A privacy request: its unit of work and the ids of the subject's people (in the arena), at
 * most SUBJECT_MAX; more when the subject has more people than that. */
typedef struct {
    kp_tx_t tx;
    uint64_t *ids;
    size_t n;
    bool more;
} subject_t;

/* The start of both handlers: opens the call and finds the subject's people. Returns false
 * after answering (INVALID, NOT_FOUND, an error). */
static bool
s_open(subject_t *s, kp_call_t *call, void *svc)
{
    const Kumppani__V1__DataSubject *d = kp_tx_open(&s->tx, call, svc);
    s->n = 0;
    s->more = false;
    if (!kp_privacy_subject_ok(call, d, false)) /* the registry holds no sign-ups */
        return false;
    s->ids = kp_arena_alloc(s->tx.arena, (SUBJECT_MAX + 1) * sizeof *s->ids);
    int rc = s->ids ? reg_people_ids(&s->tx, 0, s_hit, (void *)d, s->ids, SUBJECT_MAX + 1, &s->n)
                    : KP_ENOMEM;
    if (!rc && s->n > SUBJECT_MAX) { /* the one past the cap only says that there is more */
        s->n = SUBJECT_MAX;
        s->more = true;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return false;
    }
    if (s->n == 0) {
        kp_call_fail(call, REG_C(NOT_FOUND), KP_PRIVACY_NOTHING);
        return false;
    }
    return true;
}

/* Calls fn(tx, p, arg) for each of the n people ids still held, until fn returns non-zero
 * (returned). */
static int
s_each_person(kp_tx_t *tx, const uint64_t *ids, size_t n,
              int (*fn)(kp_tx_t *tx, reg_person_t *p, void *arg), void *arg)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        reg_person_t *p = NULL;
        bool found = false;
        rc = reg_person_get(tx, ids[i], &p, &found);
        if (!rc && found)
            rc = fn(tx, p, arg);
    }
    return rc;
}

static int
s_erase_one(kp_tx_t *tx, reg_person_t *p, void *arg)
{
    (void)arg;
    Kumppani__V1__PersonErased e = KUMPPANI__V1__PERSON_ERASED__INIT;
    return reg_person_erase_write(tx, p, &e);
}

void
reg_privacy_erase(kp_call_t *call, void *svc)
{
    subject_t s;
    if (!s_open(&s, call, svc))
        return;
    int rc = s_each_person(&s.tx, s.ids, s.n, s_erase_one, NULL);
    Kumppani__V1__PrivacyEraseReply r = KUMPPANI__V1__PRIVACY_ERASE_REPLY__INIT;
    r.erased = (uint32_t)s.n;
    r.ids = s.ids;
    r.n_ids = s.n;
    r.more = s.more;
    if (!rc)
        kp_log_notice("privacy.erased", "people=%zu more=%d", s.n, s.more);
    kp_tx_answer(&s.tx, rc, &r.base);
}

static json_t *
s_role_json(const reg_role_t *r)
{
    const ProtobufCEnumValue *k =
        protobuf_c_enum_descriptor_get_value(&kumppani__v1__role_kind__descriptor, (int)r->kind);
    return json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)r->id,
                     "kind", k ? k->name : "", "municipality_code", r->municipality_code,
                     "organisation_id", (json_int_t)r->organisation_id, "title", r->title,
                     "start_date", r->start_date, "end_date", r->end_date, "created_ms",
                     (json_int_t)r->created_ms, "updated_ms", (json_int_t)r->updated_ms);
}

static int
s_role_one(void *arg, reg_role_t *r)
{
    json_array_append_new(arg, s_role_json(r));
    return 0;
}

static int
s_export_one(kp_tx_t *tx, reg_person_t *p, void *people)
{
    json_t *roles = json_array();
    int rc = reg_roles_of(tx, 'p', p->id, s_role_one, roles);
    json_array_append_new(people,
                          json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:o}", "id", (json_int_t)p->id,
                                    "name", p->name, "email", p->email, "phone", p->phone,
                                    "created_ms", (json_int_t)p->created_ms, "updated_ms",
                                    (json_int_t)p->updated_ms, "roles", roles));
    return rc;
}

void
reg_privacy_export(kp_call_t *call, void *svc)
{
    subject_t s;
    if (!s_open(&s, call, svc))
        return;
    json_t *root = json_object(), *people = json_array();
    json_object_set_new(root, "service", json_string("registry"));
    json_object_set_new(root, "people", people);
    int rc = s_each_person(&s.tx, s.ids, s.n, s_export_one, people);
    if (rc) {
        json_decref(root);
        kp_call_fail_err(call, rc);
        return;
    }
    kp_privacy_export_ok(call, "registry", root, s.more);
    kp_log_info("privacy.exported", "people=%zu more=%d", s.n, s.more);
}
