/*  registry/person.c: people and their roles (add, update, get, search, erase a person;
 *  assign, end and list roles).
 *
 *  One person per e-mail and per phone (compared as privacy.c compares them): add and update
 *  refuse a second with CONFLICT naming the field, so adding someone twice cannot make two
 *  identical people. Search walks the people in id order (they are few: contact persons,
 *  officials, representatives) and matches name words by prefix, folded as organisation
 *  search folds them (collate.c).
 *
 *  A person holds personal data (name, e-mail, phone), so person.add keeps its own
 *  idempotency record (key -> id, in pidem) instead of kp_server's (which would keep the reply
 *  with the name), and events about people carry ids only. Erasing a person ends their
 *  current roles (each with its event), deletes the record and emits PersonErased; the pidem
 *  entry stays, so the old key answers NOT_FOUND instead of bringing the person back; the store
 *  is compacted after the turn so that the deleted bytes leave data.mdb (privacy.c erases by
 *  e-mail or phone the same way).
 *
 *  Roles have dates: a role is current on day D when start_date <= D and (no end_date or
 *  D < end_date), so ending a role today makes its municipality a gap today. A person cannot
 *  hold the same role (kind and target) twice in overlapping dates. Contact persons and
 *  officials belong to a municipality, representatives and chairs to an active organisation.
 *  role.list shows the people behind the roles to admins and readers only. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_idem.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLES_LISTED 1024

/* ---- people ------------------------------------------------------------------------------ */

static bool
s_person_check(kp_call_t *call, const char *name, const char *email, const char *phone)
{
    if (!kp_check_text(call, "name", name, 1, 200) ||
        !kp_check_text(call, "email", email, 0, 254) || !kp_check_text(call, "phone", phone, 0, 30))
        return false;
    char why[REG_WHY];
    const char *r = reg_contact_why(email, phone, why, sizeof why);
    if (r)
        return kp_check_fail(call, "%s", r);
    return true;
}

typedef struct {
    const char *email, *phone;
    uint64_t self; /* the person being updated (0 for add): not a duplicate of itself */
} dup_t;

static bool
s_dup_hit(void *arg, const reg_person_t *p)
{
    const dup_t *d = arg;
    return p->id != d->self &&
           (kp_privacy_email_eq(d->email, p->email) || kp_privacy_phone_eq(d->phone, p->phone));
}

/* One person per e-mail and per phone: true if another person has either, after answering
 * CONFLICT naming the field and the rule (and the other person's id, for the coordinator). */
static bool
s_duplicate(kp_tx_t *tx, const char *email, const char *phone, uint64_t self)
{
    dup_t d = {email, phone, self};
    uint64_t id = 0;
    size_t n = 0;
    int rc = reg_people_ids(tx, 0, s_dup_hit, &d, &id, 1, &n);
    if (rc) {
        kp_call_fail_err(tx->call, rc);
        return true;
    }
    if (!n)
        return false;
    reg_person_t *o;
    bool found;
    rc = kp_rec_get_id(tx, REG_DB_PEOPLE, id, &kumppani__v1__person__descriptor, (void **)&o,
                       &found);
    bool by_email = !rc && found && kp_privacy_email_eq(email, o->email);
    kp_call_fail(tx->call, REG_C(CONFLICT),
                 "field '%s': person %llu already has this %s (one person per e-mail and per "
                 "phone; update that person instead)",
                 by_email ? "email" : "phone", (unsigned long long)id,
                 by_email ? "e-mail" : "phone");
    return true;
}

reg_person_t *
reg_person_load(kp_tx_t *tx, const char *field, uint64_t id)
{
    return kp_rec_load(tx, REG_DB_PEOPLE, id, &kumppani__v1__person__descriptor, field, "person");
}

/* Stores p with its event (PersonAdded or PersonUpdated: the id only). */
static int
s_person_save(kp_tx_t *tx, const reg_person_t *p, const char *event)
{
    int rc = reg_person_put(tx, p);
    if (rc)
        return rc;
    Kumppani__V1__PersonRef ref = KUMPPANI__V1__PERSON_REF__INIT;
    ref.person_id = p->id;
    return kp_tx_emit(tx, event, &ref.base);
}

/* Answers the call: the store error rc, or the person p. */
static void
s_answer_person(kp_tx_t *tx, int rc, reg_person_t *p)
{
    Kumppani__V1__PersonReply r = KUMPPANI__V1__PERSON_REPLY__INIT;
    r.person = p;
    kp_tx_answer(tx, rc, &r.base);
}

void
reg_person_add(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__AddPersonRequest *rq = kp_tx_open(&tx, call, svc);
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen == 0 || klen > 200) {
        kp_call_fail(call, REG_C(INVALID),
                     "field 'idempotency_key': required for add, 1..200 bytes");
        return;
    }
    if (!s_person_check(call, rq->name, rq->email, rq->phone))
        return;
    /* Our own idempotency record holds the id only (no personal data; see registry.h). */
    uint64_t id = 0;
    bool found;
    int rc = reg_pidem_get(&tx, key, klen, &id, &found);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (found) {
        reg_person_t *p = reg_person_load(&tx, "person_id", id);
        if (p)
            s_answer_person(&tx, 0, p);
        return;
    }
    if (s_duplicate(&tx, rq->email, rq->phone, 0))
        return;
    reg_person_t p = KUMPPANI__V1__PERSON__INIT;
    if ((rc = kp_tx_next_id(&tx, "person", &p.id))) {
        kp_call_fail_err(call, rc);
        return;
    }
    p.name = rq->name;
    p.email = rq->email;
    p.phone = rq->phone;
    p.created_ms = p.updated_ms = tx.now_ms;
    if ((rc = reg_pidem_put(&tx, key, klen, p.id)) ||
        (rc = s_person_save(&tx, &p, "PersonAdded"))) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_log_info("person.added", "person=%llu", (unsigned long long)p.id);
    s_answer_person(&tx, 0, &p);
}

void
reg_person_update(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__UpdatePersonRequest *rq = kp_tx_open(&tx, call, svc);
    reg_person_t *p = reg_person_load(&tx, "person_id", rq->id);
    if (!p || !s_person_check(call, rq->name, rq->email, rq->phone))
        return;
    if (strcmp(p->name, rq->name) == 0 && strcmp(p->email, rq->email) == 0 &&
        strcmp(p->phone, rq->phone) == 0) {
        s_answer_person(&tx, 0, p);
        return;
    }
    if (s_duplicate(&tx, rq->email, rq->phone, p->id))
        return;
    p->name = rq->name;
    p->email = rq->email;
    p->phone = rq->phone;
    p->updated_ms = tx.now_ms;
    s_answer_person(&tx, s_person_save(&tx, p, "PersonUpdated"), p);
}

/* ---- person search ----------------------------------------------------------------------- */

#define PEOPLE_PAGE_MAX 200

typedef struct {
    const Kumppani__V1__SearchPeopleRequest *rq;
    reg_query_words_t q; /* the query's name words */
} people_q_t;

typedef struct {
    const reg_query_words_t *q;
    unsigned matched; /* bit i: query word i is a prefix of some name word */
} prefix_t;

static void
s_prefix_word(void *arg, const uint8_t *w, size_t n)
{
    prefix_t *pf = arg;
    for (unsigned i = 0; i < pf->q->n; i++)
        if (n >= pf->q->len[i] && memcmp(w, pf->q->w[i], pf->q->len[i]) == 0)
            pf->matched |= 1u << i;
}

static bool
s_people_hit(void *arg, const reg_person_t *p)
{
    const people_q_t *c = arg;
    if (c->rq->email[0] && !kp_privacy_email_eq(c->rq->email, p->email))
        return false;
    if (c->rq->phone[0] && !kp_privacy_phone_eq(c->rq->phone, p->phone))
        return false;
    prefix_t pf = {&c->q, 0};
    reg_words(p->name, s_prefix_word, &pf);
    return pf.matched == (1u << c->q.n) - 1;
}

void
reg_person_search(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__SearchPeopleRequest *rq = kp_tx_open(&tx, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 20, PEOPLE_PAGE_MAX);
    if (!limit)
        return;
    if (!kp_check_text(call, "name", rq->name, 0, 200) ||
        !kp_check_text(call, "email", rq->email, 0, 254) ||
        !kp_check_text(call, "phone", rq->phone, 0, 30))
        return;
    uint64_t from = 0;
    if (rq->cursor[0]) {
        char *end;
        unsigned long long v = strtoull(rq->cursor, &end, 10);
        if (*end || rq->cursor[0] < '1' || rq->cursor[0] > '9' || v == UINT64_MAX) {
            kp_call_fail(call, REG_C(INVALID), "field 'cursor': not a cursor this service gave");
            return;
        }
        from = v + 1;
    }
    people_q_t c = {.rq = rq};
    reg_query_words(rq->name, &c.q);
    size_t n = 0;
    uint64_t *ids = kp_arena_alloc(tx.arena, (limit + 1) * sizeof *ids);
    int rc = ids ? reg_people_ids(&tx, from, s_people_hit, &c, ids, limit + 1, &n) : KP_ENOMEM;
    Kumppani__V1__SearchPeopleReply r = KUMPPANI__V1__SEARCH_PEOPLE_REPLY__INIT;
    r.people = rc ? NULL : kp_arena_alloc(tx.arena, (limit + 1) * sizeof *r.people);
    if (!rc && !r.people)
        rc = KP_ENOMEM;
    for (size_t i = 0; !rc && i < n && i < limit; i++) {
        bool found;
        rc = kp_rec_get_id(&tx, REG_DB_PEOPLE, ids[i], &kumppani__v1__person__descriptor,
                           (void **)&r.people[r.n_people], &found);
        if (!rc && found)
            r.n_people++;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (n > limit) {
        char *cur = kp_arena_alloc(tx.arena, 24);
        if (!cur) {
            kp_call_fail_err(call, KP_ENOMEM);
            return;
        }
        snprintf(cur, 24, "%llu", (unsigned long long)ids[limit - 1]);
        r.next_cursor = cur;
    }
    kp_call_ok(call, &r.base);
}

/* ---- roles ------------------------------------------------------------------------------- */

bool
reg_role_current(const reg_role_t *r, const char *date)
{
    return strcmp(r->start_date, date) <= 0 && (!r->end_date[0] || strcmp(date, r->end_date) < 0);
}

static int
s_emit_role(kp_tx_t *tx, reg_role_t *r, bool assigned)
{
    Kumppani__V1__RoleReply rep = KUMPPANI__V1__ROLE_REPLY__INIT;
    rep.role = r;
    bool cp = r->kind == REG_RK(CONTACT_PERSON);
    const char *type = assigned ? (cp ? "ContactPersonAssigned" : "RoleAssigned")
                                : (cp ? "ContactPersonEnded" : "RoleEnded");
    kp_log_info(assigned ? "role.assigned" : "role.ended", "role=%llu person=%llu kind=%d",
                (unsigned long long)r->id, (unsigned long long)r->person_id, r->kind);
    return kp_tx_emit(tx, type, &rep.base);
}

/* Stores r (a new role with its index entries, or an ended one) with its event. */
static int
s_role_save(kp_tx_t *tx, reg_role_t *r, bool assigned)
{
    int rc = reg_role_put(tx, r, assigned);
    return rc ? rc : s_emit_role(tx, r, assigned);
}

/* Answers the call: the store error rc, or the role r. */
static void
s_answer_role(kp_tx_t *tx, int rc, reg_role_t *r)
{
    Kumppani__V1__RoleReply rep = KUMPPANI__V1__ROLE_REPLY__INIT;
    rep.role = r;
    kp_tx_answer(tx, rc, &rep.base);
}

typedef struct {
    kp_tx_t *tx;
    const char *date;
    uint64_t *ids;
    size_t n, cap;
    const reg_role_t *probe; /* assign: the new role, for the overlap check */
    bool overlap;
} end_ctx_t;

static int
s_end_one(void *arg, reg_role_t *r)
{
    end_ctx_t *c = arg;
    if (r->end_date[0] && strcmp(r->end_date, c->date) <= 0)
        return 0; /* already ended by then */
    r->end_date = (char *)(strcmp(r->start_date, c->date) > 0 ? r->start_date : c->date);
    r->updated_ms = c->tx->now_ms;
    int rc = s_role_save(c->tx, r, false);
    if (!rc && c->ids && c->n < c->cap)
        c->ids[c->n++] = r->id;
    return rc;
}

int
reg_end_roles(kp_tx_t *tx, uint8_t tag, uint64_t id, const char *date, uint64_t **ids,
              size_t *ids_n)
{
    end_ctx_t c = {tx, date, NULL, 0, ROLES_LISTED, NULL, false};
    if (ids) {
        c.ids = kp_arena_alloc(tx->arena, c.cap * sizeof *c.ids);
        if (!c.ids)
            return KP_ENOMEM;
    }
    int rc = reg_roles_of(tx, tag, id, s_end_one, &c);
    if (ids) {
        *ids = c.ids;
        *ids_n = c.n;
    }
    return rc;
}

static int
s_overlap_one(void *arg, reg_role_t *r)
{
    end_ctx_t *c = arg;
    const reg_role_t *n = c->probe;
    if (r->kind != n->kind || strcmp(r->municipality_code, n->municipality_code) != 0 ||
        r->organisation_id != n->organisation_id)
        return 0;
    /* Overlap of [start, end) intervals; "" end = open. */
    bool a = !r->end_date[0] || strcmp(n->start_date, r->end_date) < 0;
    bool b = !n->end_date[0] || strcmp(r->start_date, n->end_date) < 0;
    if (a && b)
        c->overlap = true;
    return 0;
}

/* The target of a new role: a known municipality (contact person, official) or an active
 * organisation (representative, chair). False after answering. */
static bool
s_role_target_ok(kp_tx_t *tx, const Kumppani__V1__AssignRoleRequest *rq, bool muni_kind)
{
    kp_call_t *call = tx->call;
    if (muni_kind) {
        if (rq->organisation_id || !kp_is_muni_code(rq->municipality_code))
            return kp_check_fail(call, "field 'municipality_code': required for this kind (and no "
                                       "organisation_id)");
        reg_muni_t *m;
        bool found;
        int rc = reg_muni_get(tx, rq->municipality_code, &m, &found);
        if (rc)
            kp_call_fail_err(call, rc);
        else if (!found)
            kp_call_fail(call, REG_C(NOT_FOUND), "field 'municipality_code': unknown municipality");
        return !rc && found;
    }
    if (rq->municipality_code[0])
        return kp_check_fail(call,
                             "field 'municipality_code': not for this kind (use organisation_id)");
    reg_org_t *o = reg_org_load(tx, "organisation_id", rq->organisation_id);
    if (!o)
        return false;
    if (o->status != REG_ACTIVE) {
        kp_call_fail(call, REG_C(CONFLICT), "organisation %llu is dissolved",
                     (unsigned long long)o->id);
        return false;
    }
    return true;
}

void
reg_role_assign(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__AssignRoleRequest *rq = kp_tx_open(&tx, call, svc);
    if (kp_call_idem_required(call, "assign"))
        return;
    reg_person_t *p = reg_person_load(&tx, "person_id", rq->person_id);
    if (!p)
        return;
    if (rq->kind <= REG_RK(UNSPECIFIED) || rq->kind > REG_RK(CHAIR)) {
        kp_call_fail(call, REG_C(INVALID), "field 'kind': required, one of the RoleKind values");
        return;
    }
    bool muni_kind = rq->kind == REG_RK(CONTACT_PERSON) || rq->kind == REG_RK(OFFICIAL);
    if (!s_role_target_ok(&tx, rq, muni_kind) || !kp_check_text(call, "title", rq->title, 0, 100))
        return;
    char today[11];
    const char *start = reg_date_or_today(&tx, "start_date", rq->start_date, today);
    if (!start)
        return;
    if (rq->end_date[0] && (!reg_date_valid(rq->end_date) || strcmp(rq->end_date, start) <= 0)) {
        kp_call_fail(call, REG_C(INVALID), "field 'end_date': a date YYYY-MM-DD after start_date");
        return;
    }
    reg_role_t r = KUMPPANI__V1__ROLE__INIT;
    r.person_id = p->id;
    r.kind = rq->kind;
    r.municipality_code = (char *)(muni_kind ? rq->municipality_code : "");
    r.organisation_id = muni_kind ? 0 : rq->organisation_id;
    r.title = rq->title;
    r.start_date = (char *)start;
    r.end_date = rq->end_date;
    bool overlap = false;
    int rc = reg_role_overlaps(&tx, &r, &overlap);
    if (!rc && overlap) {
        kp_call_fail(call, REG_C(CONFLICT), "the person already holds this role in these dates");
        return;
    }
    if (!rc)
        rc = reg_role_create(&tx, &r);
    s_answer_role(&tx, rc, &r);
}

void
reg_role_end(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__EndRoleRequest *rq = kp_tx_open(&tx, call, svc);
    reg_role_t *r = kp_rec_load(&tx, REG_DB_ROLES, rq->role_id, &kumppani__v1__role__descriptor,
                                "role_id", "role");
    if (!r)
        return;
    char today[11];
    const char *end = reg_date_or_today(&tx, "end_date", rq->end_date, today);
    if (!end)
        return;
    if (r->end_date[0] && strcmp(r->end_date, today) <= 0) {
        kp_call_fail(call, REG_C(CONFLICT), "role %llu has already ended",
                     (unsigned long long)r->id);
        return;
    }
    if (strcmp(end, r->start_date) < 0 || (r->end_date[0] && strcmp(end, r->end_date) > 0)) {
        kp_call_fail(call, REG_C(INVALID),
                     "field 'end_date': not before start_date, not after the planned end");
        return;
    }
    r->end_date = (char *)end;
    r->updated_ms = tx.now_ms;
    s_answer_role(&tx, s_role_save(&tx, r, false), r);
}

typedef struct {
    int kind;
    bool include_ended;
    const char *date;
    reg_role_t **roles;
    size_t n, cap;
} list_ctx_t;

static int
s_list_one(void *arg, reg_role_t *r)
{
    list_ctx_t *c = arg;
    if (c->kind && (int)r->kind != c->kind)
        return 0;
    if (!c->include_ended && !reg_role_current(r, c->date))
        return 0;
    if (c->n < c->cap)
        c->roles[c->n++] = r;
    return 0;
}

/* Lists into c the roles of municipality code (tag 'm') or of person or organisation id (tag
 * 'p', 'o') that pass c's filter (at most ROLES_LISTED, in the arena). */
static int
s_list(kp_tx_t *tx, list_ctx_t *c, uint8_t tag, const char *code, uint64_t id)
{
    c->n = 0;
    c->cap = ROLES_LISTED;
    c->roles = kp_arena_alloc(tx->arena, c->cap * sizeof *c->roles);
    if (!c->roles)
        return KP_ENOMEM;
    return tag == 'm' ? reg_roles_each(tx, tag, code, 3, s_list_one, c)
                      : reg_roles_of(tx, tag, id, s_list_one, c);
}

static int
s_people_of(kp_tx_t *tx, reg_role_t **roles, size_t n, reg_person_t ***out, size_t *out_n)
{
    *out = kp_arena_alloc(tx->arena, (n + 1) * sizeof **out);
    *out_n = 0;
    if (!*out)
        return KP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < *out_n && !dup; j++)
            dup = (*out)[j]->id == roles[i]->person_id;
        if (dup)
            continue;
        reg_person_t *p;
        bool found;
        int rc = reg_person_get(tx, roles[i]->person_id, &p, &found);
        if (rc)
            return rc;
        if (found)
            (*out)[(*out_n)++] = p;
    }
    return 0;
}

void
reg_role_list(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ListRolesRequest *rq = kp_tx_open(&tx, call, svc);
    char today[11];
    reg_today(&tx, today);
    if (!!rq->municipality_code[0] == !!rq->organisation_id) {
        kp_call_fail(call, REG_C(INVALID),
                     "fields 'municipality_code', 'organisation_id': exactly one");
        return;
    }
    if (rq->municipality_code[0] &&
        !kp_check_muni_code(call, "municipality_code", rq->municipality_code))
        return;
    list_ctx_t c = {rq->kind, rq->include_ended, today, NULL, 0, 0};
    int rc = s_list(&tx, &c, rq->municipality_code[0] ? 'm' : 'o', rq->municipality_code,
                    rq->organisation_id);
    Kumppani__V1__ListRolesReply r = KUMPPANI__V1__LIST_ROLES_REPLY__INIT;
    r.roles = c.roles;
    r.n_roles = c.n;
    if (!rc && (kp_call_role(call) & (KP_ROLE_ADMIN | KP_ROLE_READER)))
        rc = s_people_of(&tx, c.roles, c.n, &r.people, &r.n_people);
    kp_tx_answer(&tx, rc, &r.base);
}

void
reg_person_get_h(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__PersonRef *rq = kp_tx_open(&tx, call, svc);
    reg_person_t *p = reg_person_load(&tx, "person_id", rq->person_id);
    if (!p)
        return;
    list_ctx_t c = {0, true, "", NULL, 0, 0};
    int rc = s_list(&tx, &c, 'p', NULL, p->id);
    Kumppani__V1__PersonReply r = KUMPPANI__V1__PERSON_REPLY__INIT;
    r.person = p;
    r.roles = c.roles;
    r.n_roles = c.n;
    kp_tx_answer(&tx, rc, &r.base);
}

int
reg_person_erase_write(kp_tx_t *tx, reg_person_t *p, Kumppani__V1__PersonErased *e)
{
    char today[11];
    reg_today(tx, today);
    e->person_id = p->id;
    int rc = reg_end_roles(tx, 'p', p->id, today, &e->ended_role_ids, &e->n_ended_role_ids);
    if (!rc)
        rc = reg_person_del(tx, p->id);
    if (!rc)
        rc = kp_tx_emit(tx, "PersonErased", &e->base);
    if (rc)
        return rc;
    /* The deleted record's bytes leave data.mdb after the turn (kp_store_compact). */
    kp_server_compact_soon(tx->srv);
    kp_log_info("person.erased", "person=%llu roles_ended=%zu", (unsigned long long)p->id,
                e->n_ended_role_ids);
    return 0;
}

void
reg_person_erase(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__PersonRef *rq = kp_tx_open(&tx, call, svc);
    reg_person_t *p = reg_person_load(&tx, "person_id", rq->person_id);
    if (!p)
        return;
    Kumppani__V1__PersonErased e = KUMPPANI__V1__PERSON_ERASED__INIT;
    int rc = reg_person_erase_write(&tx, p, &e);
    kp_tx_answer(&tx, rc, &e.base);
}

/* ---- for the contact-person CSV import (csv.c) ------------------------------------------- */

int
reg_person_create(kp_tx_t *tx, const char *name, const char *email, const char *phone,
                  reg_person_t **out)
{
    reg_person_t *p = kp_arena_alloc(tx->arena, sizeof *p);
    if (!p)
        return KP_ENOMEM;
    kumppani__v1__person__init(p);
    int rc = kp_tx_next_id(tx, "person", &p->id);
    if (rc)
        return rc;
    p->name = (char *)name;
    p->email = (char *)email;
    p->phone = (char *)phone;
    p->created_ms = p->updated_ms = tx->now_ms;
    if ((rc = s_person_save(tx, p, "PersonAdded")))
        return rc;
    kp_log_info("person.added", "person=%llu", (unsigned long long)p->id);
    *out = p;
    return 0;
}

int
reg_role_overlaps(kp_tx_t *tx, const reg_role_t *r, bool *overlap)
{
    end_ctx_t c = {tx, NULL, NULL, 0, 0, r, false};
    int rc = reg_roles_of(tx, 'p', r->person_id, s_overlap_one, &c);
    *overlap = c.overlap;
    return rc;
}

int
reg_role_create(kp_tx_t *tx, reg_role_t *r)
{
    int rc = kp_tx_next_id(tx, "role", &r->id);
    if (rc)
        return rc;
    r->created_ms = r->updated_ms = tx->now_ms;
    return s_role_save(tx, r, true);
}
