/*  notifier/store.c: records and indexes of the notifier's LMDB store (layout in notifier.h).
 *
 *  ntf_rec_put is the one place that keeps the due, by_event and dead indexes in step with a
 *  record: a record has a due entry exactly while it is SCHEDULED (at due_ms) or SENDING (at
 *  lease_until_ms), and a dead entry exactly while it is DEAD. */
#include "kp_err.h"
#include "kp_text.h"
#include "notifier.h"

#include <stdlib.h>
#include <string.h>

const char *const ntf_db_names[NTF_DB_N] = {"ntf",    "due",     "by_event",   "dead",
                                            "events", "signups", "ev_signups", "optout",
                                            "state",  "brk_req", "contacts"};

static MDB_dbi
s_dbi(ntf_t *n, int i)
{
    return kp_store_dbi(n->st, (unsigned)i);
}

static int
s_put_msg(ntf_t *n, MDB_txn *txn, kp_arena_t *a, int db, const void *key, size_t key_len,
          const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = kp_arena_alloc(a, len ? len : 1);
    if (!buf)
        return KP_ENOMEM;
    protobuf_c_message_pack(m, buf);
    MDB_val k = {key_len, (void *)key}, v = {len, buf};
    return kp_err_from_mdb(mdb_put(txn, s_dbi(n, db), &k, &v, 0));
}

static int
s_get_msg(ntf_t *n, MDB_txn *txn, kp_arena_t *a, int db, const void *key, size_t key_len,
          const ProtobufCMessageDescriptor *d, ProtobufCMessage **out, bool *found)
{
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, s_dbi(n, db), &k, &v);
    *found = false;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return kp_err_from_mdb(rc);
    *out = protobuf_c_message_unpack(d, kp_arena_pbc(a), v.mv_size, v.mv_data);
    if (!*out)
        return KP_ECORRUPT;
    *found = true;
    return 0;
}

/* The same for a record keyed by a big-endian id. */
static int
s_put_id(ntf_t *n, MDB_txn *txn, kp_arena_t *a, int db, uint64_t id, const ProtobufCMessage *m)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    return s_put_msg(n, txn, a, db, k, 8, m);
}

static int
s_get_id(ntf_t *n, MDB_txn *txn, kp_arena_t *a, int db, uint64_t id,
         const ProtobufCMessageDescriptor *d, ProtobufCMessage **out, bool *found)
{
    uint8_t k[8];
    kp_be64_put(k, id);
    return s_get_msg(n, txn, a, db, k, 8, d, out, found);
}

static int
s_flag(ntf_t *n, MDB_txn *txn, int db, const void *key, size_t key_len, bool on)
{
    MDB_val k = {key_len, (void *)key}, v = {0, ""};
    int rc = on ? mdb_put(txn, s_dbi(n, db), &k, &v, 0) : mdb_del(txn, s_dbi(n, db), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

static int
s_flag_get(ntf_t *n, MDB_txn *txn, int db, const void *key, size_t key_len, bool *on)
{
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, s_dbi(n, db), &k, &v);
    *on = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

/* id (8) . key */
static size_t
s_idkey(uint8_t *buf, uint64_t id, const char *key)
{
    size_t kl = strlen(key);
    kp_be64_put(buf, id);
    memcpy(buf + 8, key, kl);
    return 8 + kl;
}

static int64_t
s_due_at(const ntf_rec_t *r)
{
    if (r->state == KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_SCHEDULED)
        return r->due_ms;
    if (r->state == KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_SENDING)
        return r->lease_until_ms;
    return -1;
}

int
ntf_rec_get(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const char *key, ntf_rec_t **out, bool *found)
{
    return s_get_msg(n, txn, a, NTF_DB_NTF, key, strlen(key),
                     &kumppani__v1__notification__descriptor, (ProtobufCMessage **)out, found);
}

int
ntf_rec_put(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const ntf_rec_t *old, const ntf_rec_t *r)
{
    uint8_t buf[8 + NTF_KEY_MAX];
    int rc;
    if (strlen(r->key) > NTF_KEY_MAX)
        return KP_EINVAL;
    int64_t was = old ? s_due_at(old) : -1, now = s_due_at(r);
    if (was != now) {
        if (was >= 0 &&
            (rc = s_flag(n, txn, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)was, r->key), false)))
            return rc;
        if (now >= 0 &&
            (rc = s_flag(n, txn, NTF_DB_DUE, buf, s_idkey(buf, (uint64_t)now, r->key), true)))
            return rc;
    }
    bool dead_was = old && old->state == KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_DEAD;
    bool dead_now = r->state == KUMPPANI__V1__NOTIFICATION_STATE__NOTIFICATION_STATE_DEAD;
    if (dead_was != dead_now &&
        (rc = s_flag(n, txn, NTF_DB_DEAD, r->key, strlen(r->key), dead_now)))
        return rc;
    if (!old && r->event_id &&
        (rc = s_flag(n, txn, NTF_DB_BY_EVENT, buf, s_idkey(buf, r->event_id, r->key), true)))
        return rc;
    return s_put_msg(n, txn, a, NTF_DB_NTF, r->key, strlen(r->key), &r->base);
}

int
ntf_rec_plan(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const ntf_rec_t *r, bool *planned)
{
    ntf_rec_t *old = NULL;
    bool found = false;
    int rc = ntf_rec_get(n, txn, a, r->key, &old, &found);
    *planned = false;
    if (rc || found)
        return rc;
    *planned = true;
    return ntf_rec_put(n, txn, a, NULL, r);
}

void
ntf_rec_attempt(kp_arena_t *a, ntf_rec_t *r, int64_t now_ms, bool ok, const char *result)
{
    size_t keep = r->n_attempts < NTF_ATTEMPTS_KEPT ? r->n_attempts : NTF_ATTEMPTS_KEPT - 1;
    Kumppani__V1__DeliveryAttempt **v = kp_arena_alloc(a, (keep + 1) * sizeof *v);
    Kumppani__V1__DeliveryAttempt *at = kp_arena_alloc(a, sizeof *at);
    if (!v || !at)
        return;
    kumppani__v1__delivery_attempt__init(at);
    at->time_ms = now_ms;
    at->ok = ok;
    at->result = kp_arena_memdup(a, result, strlen(result));
    if (!at->result)
        at->result = (char *)"";
    if (keep)
        memcpy(v, r->attempts + (r->n_attempts - keep), keep * sizeof *v);
    v[keep] = at;
    r->attempts = v;
    r->n_attempts = keep + 1;
}

int
ntf_event_get(ntf_t *n, MDB_txn *txn, kp_arena_t *a, uint64_t id, Kumppani__V1__EventInfo **out,
              bool *found)
{
    return s_get_id(n, txn, a, NTF_DB_EVENTS, id, &kumppani__v1__event_info__descriptor,
                    (ProtobufCMessage **)out, found);
}

int
ntf_event_put(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const Kumppani__V1__EventInfo *e)
{
    return s_put_id(n, txn, a, NTF_DB_EVENTS, e->id, &e->base);
}

int
ntf_signup_get(ntf_t *n, MDB_txn *txn, kp_arena_t *a, uint64_t id, Kumppani__V1__Signup **out,
               bool *found)
{
    return s_get_id(n, txn, a, NTF_DB_SIGNUPS, id, &kumppani__v1__signup__descriptor,
                    (ProtobufCMessage **)out, found);
}

int
ntf_signup_put(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const Kumppani__V1__Signup *s)
{
    uint8_t k[8], ek[16];
    kp_be64_put(k, s->id);
    kp_be64_put(ek, s->event_id);
    kp_be64_put(ek + 8, s->id);
    bool live = s->state != KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED;
    int rc = s_flag(n, txn, NTF_DB_EV_SIGNUPS, ek, 16, live);
    return rc ? rc : s_put_msg(n, txn, a, NTF_DB_SIGNUPS, k, 8, &s->base);
}

/* Walks keys with an 8-byte prefix, calling fn with the rest. */
static int
s_prefix_each(ntf_t *n, MDB_txn *txn, int db, uint64_t id, int (*fn)(void *, const MDB_val *),
              void *arg)
{
    uint8_t p[8];
    kp_be64_put(p, id);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s_dbi(n, db), &c);
    if (rc)
        return kp_err_from_mdb(rc);
    MDB_val k = {8, p}, v;
    int frc = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 8 && memcmp(k.mv_data, p, 8) == 0) {
        if ((frc = fn(arg, &k)))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (frc)
        return frc;
    return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

typedef struct {
    kp_arena_t *a;
    void *v;
    size_t n, cap, size;
    bool text;
} s_acc_t;

static int
s_acc(void *arg, const MDB_val *k)
{
    s_acc_t *acc = arg;
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? acc->cap * 2 : 64;
        void *nv = kp_arena_alloc(acc->a, cap * acc->size);
        if (!nv)
            return KP_ENOMEM;
        if (acc->n)
            memcpy(nv, acc->v, acc->n * acc->size);
        acc->v = nv;
        acc->cap = cap;
    }
    if (acc->text) {
        char *s = kp_arena_memdup(acc->a, (const char *)k->mv_data + 8, k->mv_size - 8);
        if (!s)
            return KP_ENOMEM;
        ((char **)acc->v)[acc->n++] = s;
    } else {
        ((uint64_t *)acc->v)[acc->n++] = kp_be64_get((const uint8_t *)k->mv_data + 8);
    }
    return 0;
}

int
ntf_event_signups(ntf_t *n, MDB_txn *txn, kp_arena_t *a, uint64_t event_id, uint64_t **ids,
                  size_t *ids_n)
{
    s_acc_t acc = {.a = a, .size = sizeof(uint64_t)};
    int rc = s_prefix_each(n, txn, NTF_DB_EV_SIGNUPS, event_id, s_acc, &acc);
    *ids = acc.v;
    *ids_n = acc.n;
    return rc;
}

int
ntf_event_keys(ntf_t *n, MDB_txn *txn, kp_arena_t *a, uint64_t event_id, char ***keys,
               size_t *keys_n)
{
    s_acc_t acc = {.a = a, .size = sizeof(char *), .text = true};
    int rc = s_prefix_each(n, txn, NTF_DB_BY_EVENT, event_id, s_acc, &acc);
    *keys = acc.v;
    *keys_n = acc.n;
    return rc;
}

static size_t
s_optkey(uint8_t *buf, size_t cap, int channel, const char *address)
{
    buf[0] = (uint8_t)channel;
    kp_text_ascii_lower((char *)buf + 1, cap - 1, address);
    return 1 + strlen((char *)buf + 1);
}

int
ntf_optout_get(ntf_t *n, MDB_txn *txn, int channel, const char *address, bool *out)
{
    uint8_t buf[300];
    return s_flag_get(n, txn, NTF_DB_OPTOUT, buf, s_optkey(buf, sizeof buf, channel, address), out);
}

int
ntf_optout_set(ntf_t *n, MDB_txn *txn, int channel, const char *address, bool on)
{
    uint8_t buf[300];
    return s_flag(n, txn, NTF_DB_OPTOUT, buf, s_optkey(buf, sizeof buf, channel, address), on);
}

int
ntf_state_get(ntf_t *n, MDB_txn *txn, const char *name, bool *on)
{
    return s_flag_get(n, txn, NTF_DB_STATE, name, strlen(name), on);
}

int
ntf_state_set(ntf_t *n, MDB_txn *txn, const char *name, bool on)
{
    return s_flag(n, txn, NTF_DB_STATE, name, strlen(name), on);
}

int
ntf_brkreq_get(ntf_t *n, MDB_txn *txn, kp_arena_t *a, uint64_t id,
               Kumppani__V1__BrokerRequest **out, bool *found)
{
    return s_get_id(n, txn, a, NTF_DB_BRK_REQ, id, &kumppani__v1__broker_request__descriptor,
                    (ProtobufCMessage **)out, found);
}

int
ntf_brkreq_put(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const Kumppani__V1__BrokerRequest *rq)
{
    return s_put_id(n, txn, a, NTF_DB_BRK_REQ, rq->id, &rq->base);
}

int
ntf_contact_put(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const Kumppani__V1__Role *role)
{
    return s_put_id(n, txn, a, NTF_DB_CONTACTS, role->id, &role->base);
}

int
ntf_contact_del(ntf_t *n, MDB_txn *txn, uint64_t role_id)
{
    uint8_t k[8];
    kp_be64_put(k, role_id);
    return s_flag(n, txn, NTF_DB_CONTACTS, k, 8, false);
}

/* Calls fn for every value of db decoded as d, in key order. */
static int
s_each_msg(ntf_t *n, MDB_txn *txn, kp_arena_t *a, int db, const ProtobufCMessageDescriptor *d,
           int (*fn)(void *arg, ProtobufCMessage *m), void *arg)
{
    MDB_cursor *c;
    int rc = kp_err_from_mdb(mdb_cursor_open(txn, s_dbi(n, db), &c));
    if (rc)
        return rc;
    MDB_val k, v;
    for (int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (mrc) {
            rc = mrc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(mrc);
            break;
        }
        ProtobufCMessage *m = protobuf_c_message_unpack(d, kp_arena_pbc(a), v.mv_size, v.mv_data);
        rc = m ? fn(arg, m) : KP_ECORRUPT;
    }
    mdb_cursor_close(c);
    return rc;
}

typedef struct {
    s_acc_t acc;
    const char *code;
    int64_t from, to;
} s_coming_t;

static int
s_push(s_acc_t *acc, void *p)
{
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? acc->cap * 2 : 16;
        void **nv = kp_arena_alloc(acc->a, cap * sizeof *nv);
        if (!nv)
            return KP_ENOMEM;
        if (acc->n)
            memcpy(nv, acc->v, acc->n * sizeof *nv);
        acc->v = nv;
        acc->cap = cap;
    }
    ((void **)acc->v)[acc->n++] = p;
    return 0;
}

static int
s_contact_one(void *arg, ProtobufCMessage *m)
{
    return s_push(arg, m);
}

int
ntf_contacts(ntf_t *n, MDB_txn *txn, kp_arena_t *a, Kumppani__V1__Role ***out, size_t *out_n)
{
    s_acc_t acc = {.a = a};
    int rc = s_each_msg(n, txn, a, NTF_DB_CONTACTS, &kumppani__v1__role__descriptor, s_contact_one,
                        &acc);
    *out = acc.v;
    *out_n = acc.n;
    return rc;
}

static int
s_coming_one(void *arg, ProtobufCMessage *m)
{
    s_coming_t *c = arg;
    Kumppani__V1__EventInfo *e = (Kumppani__V1__EventInfo *)m;
    bool live = e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED ||
                e->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_RESCHEDULED;
    if (!live || strcmp(e->municipality_code, c->code) != 0 || e->start_unix < c->from ||
        e->start_unix >= c->to)
        return 0;
    return s_push(&c->acc, e);
}

static int
s_by_start(const void *x, const void *y)
{
    const Kumppani__V1__EventInfo *a = *(Kumppani__V1__EventInfo *const *)x;
    const Kumppani__V1__EventInfo *b = *(Kumppani__V1__EventInfo *const *)y;
    if (a->start_unix != b->start_unix)
        return a->start_unix < b->start_unix ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int
ntf_events_coming(ntf_t *n, MDB_txn *txn, kp_arena_t *a, const char *code, int64_t from_unix,
                  int64_t to_unix, Kumppani__V1__EventInfo ***out, size_t *out_n)
{
    s_coming_t c = {.acc = {.a = a}, .code = code, .from = from_unix, .to = to_unix};
    int rc = s_each_msg(n, txn, a, NTF_DB_EVENTS, &kumppani__v1__event_info__descriptor,
                        s_coming_one, &c);
    if (rc == 0 && c.acc.n > 1)
        qsort(c.acc.v, c.acc.n, sizeof(void *), s_by_start);
    *out = c.acc.v;
    *out_n = c.acc.n;
    return rc;
}
