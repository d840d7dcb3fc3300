/*  events/store.c: the events service's tables (layout in events.h).
 *
 *  Records are protobuf messages (EventInfo, Signup): the same bytes the API speaks, so a
 *  reply is the stored record. Reads decode into the call arena. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_wire.h"

#include <string.h>

const char *const evt_db_names[EVT_DB_N] = {"events", "signups",  "ev_signups", "ev_email",
                                            "offers", "reg_orgs", "reg_munis"};

static MDB_dbi
s_dbi(evt_tx_t *t, unsigned i)
{
    return kp_store_dbi(t->store, i);
}

static int
s_mdb(int rc)
{
    if (rc && rc != MDB_NOTFOUND)
        kp_log_err("events.mdb", "mdb=%d", rc);
    return kp_err_from_mdb(rc);
}

static int
s_get_msg(evt_tx_t *t, unsigned db, uint64_t id, const ProtobufCMessageDescriptor *d, void **out,
          bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(t->txn, s_dbi(t, db), &k, &v);
    *found = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return s_mdb(rc);
    *out = protobuf_c_message_unpack(d, kp_arena_pbc(t->arena), v.mv_size, v.mv_data);
    if (!*out) {
        kp_log_err("events.corrupt", "db=%u id=%llu", db, (unsigned long long)id);
        return KP_ECORRUPT;
    }
    return 0;
}

static int
s_put_msg(evt_tx_t *t, unsigned db, uint64_t id, const ProtobufCMessage *m)
{
    uint8_t key[8], *bytes;
    size_t len;
    if (kp_wire_pack(t->arena, m, &bytes, &len))
        return KP_ENOMEM;
    kp_be64_put(key, id);
    MDB_val k = {8, key}, v = {len, bytes};
    return s_mdb(mdb_put(evt_wtxn(t), s_dbi(t, db), &k, &v, 0));
}

int
evt_event_get(evt_tx_t *t, uint64_t id, evt_event_t **out, bool *found)
{
    return s_get_msg(t, EVT_DB_EVENTS, id, &kumppani__v1__event_info__descriptor, (void **)out,
                     found);
}

int
evt_event_put(evt_tx_t *t, const evt_event_t *ev)
{
    return s_put_msg(t, EVT_DB_EVENTS, ev->id, &ev->base);
}

int
evt_signup_get(evt_tx_t *t, uint64_t id, evt_signup_t **out, bool *found)
{
    return s_get_msg(t, EVT_DB_SIGNUPS, id, &kumppani__v1__signup__descriptor, (void **)out, found);
}

int
evt_signup_put(evt_tx_t *t, const evt_signup_t *s)
{
    int rc = s_put_msg(t, EVT_DB_SIGNUPS, s->id, &s->base);
    if (rc)
        return rc;
    uint8_t key[16], state = (uint8_t)s->state;
    kp_be64_put(key, s->event_id);
    kp_be64_put(key + 8, s->id);
    MDB_val k = {16, key}, v = {1, &state};
    return s_mdb(mdb_put(evt_wtxn(t), s_dbi(t, EVT_DB_EV_SIGNUPS), &k, &v, 0));
}

/* key = event_id . lower(email); e-mail addresses are at most 254 bytes (kp_text). */
static size_t
s_email_key(uint8_t *key, uint64_t event_id, const char *email)
{
    kp_be64_put(key, event_id);
    kp_text_ascii_lower((char *)key + 8, 256, email);
    return 8 + strlen((char *)key + 8);
}

int
evt_email_get(evt_tx_t *t, uint64_t event_id, const char *email, uint64_t *signup_id, bool *found)
{
    uint8_t key[8 + 256];
    MDB_val k = {s_email_key(key, event_id, email), key}, v;
    int rc = mdb_get(t->txn, s_dbi(t, EVT_DB_EV_EMAIL), &k, &v);
    *found = rc == 0 && v.mv_size == 8;
    if (*found)
        *signup_id = kp_be64_get(v.mv_data);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_email_put(evt_tx_t *t, uint64_t event_id, const char *email, uint64_t signup_id)
{
    uint8_t key[8 + 256], val[8];
    kp_be64_put(val, signup_id);
    MDB_val k = {s_email_key(key, event_id, email), key}, v = {8, val};
    return s_mdb(mdb_put(evt_wtxn(t), s_dbi(t, EVT_DB_EV_EMAIL), &k, &v, 0));
}

int
evt_email_del(evt_tx_t *t, uint64_t event_id, const char *email)
{
    uint8_t key[8 + 256];
    MDB_val k = {s_email_key(key, event_id, email), key};
    int rc = mdb_del(evt_wtxn(t), s_dbi(t, EVT_DB_EV_EMAIL), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_signup_by_ext(evt_tx_t *t, const char *source, const char *external_id, uint64_t *signup_id,
                  bool *found)
{
    size_t m = sizeof EVT_METHOD_SUBMIT, s = strlen(source), e = strlen(external_id);
    char key[512];
    if (m + s + 1 + e > sizeof key) {
        *found = false;
        return 0;
    }
    memcpy(key, EVT_METHOD_SUBMIT, m); /* includes the NUL separator */
    memcpy(key + m, source, s);
    key[m + s] = 0;
    memcpy(key + m + s + 1, external_id, e);
    MDB_val v;
    int rc = kp_store_idem_get(t->store, t->txn, key, m + s + 1 + e, found, &v);
    if (rc || !*found)
        return rc;
    Kumppani__V1__SignupReply *r =
        kumppani__v1__signup_reply__unpack(kp_arena_pbc(t->arena), v.mv_size, v.mv_data);
    if (!r || !r->signup)
        return KP_ECORRUPT;
    *signup_id = r->signup->id;
    return 0;
}

int
evt_signups_each(evt_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                 int (*fn)(void *, uint64_t, int), void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, s_dbi(t, EVT_DB_EV_SIGNUPS), &c);
    if (rc)
        return s_mdb(rc);
    uint8_t key[16];
    kp_be64_put(key, event_id);
    kp_be64_put(key + 8, after_id + 1);
    MDB_val k = {16, key}, v;
    unsigned n = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < limit && k.mv_size == 16 && kp_be64_get(k.mv_data) == event_id) {
        n++;
        if (fn(arg, kp_be64_get((uint8_t *)k.mv_data + 8), v.mv_size ? *(uint8_t *)v.mv_data : 0) !=
            0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_events_each(evt_tx_t *t, uint64_t after_id, unsigned limit, int (*fn)(void *, evt_event_t *),
                void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, s_dbi(t, EVT_DB_EVENTS), &c);
    if (rc)
        return s_mdb(rc);
    uint8_t key[8];
    kp_be64_put(key, after_id + 1);
    MDB_val k = {8, key}, v;
    unsigned n = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < limit) {
        evt_event_t *ev =
            kumppani__v1__event_info__unpack(kp_arena_pbc(t->arena), v.mv_size, v.mv_data);
        if (!ev) {
            rc = KP_ECORRUPT;
            break;
        }
        n++;
        if (fn(arg, ev) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc == KP_ECORRUPT)
        return rc;
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

void
evt_tx_init(evt_tx_t *t, kp_call_t *call, evt_svc_t *svc)
{
    t->call = call;
    t->svc = svc;
    t->store = kp_call_store(call);
    t->txn = kp_call_txn(call);
    t->arena = kp_call_arena(call);
    t->now_ms = kp_call_now_ms(call) + (svc ? svc->clock_offset_ms : 0);
}

MDB_txn *
evt_wtxn(evt_tx_t *t)
{
    return t->call ? kp_call_wtxn(t->call) : t->txn;
}

int
evt_emit(evt_tx_t *t, const char *type, const ProtobufCMessage *payload)
{
    if (t->call)
        return kp_call_emit(t->call, type, payload);
    return kp_server_emit(t->svc->srv, t->txn, type, payload);
}

/* ---- offers: deadline_ms . signup_id -> "" ------------------------------------------------ */

static void
s_offer_key(uint8_t *key, int64_t deadline_ms, uint64_t signup_id)
{
    kp_be64_put(key, (uint64_t)deadline_ms);
    kp_be64_put(key + 8, signup_id);
}

int
evt_offer_put(evt_tx_t *t, int64_t deadline_ms, uint64_t signup_id)
{
    uint8_t key[16];
    s_offer_key(key, deadline_ms, signup_id);
    MDB_val k = {16, key}, v = {0, key};
    t->svc->offers_dirty = true;
    return s_mdb(mdb_put(evt_wtxn(t), s_dbi(t, EVT_DB_OFFERS), &k, &v, 0));
}

int
evt_offer_del(evt_tx_t *t, int64_t deadline_ms, uint64_t signup_id)
{
    uint8_t key[16];
    s_offer_key(key, deadline_ms, signup_id);
    MDB_val k = {16, key};
    t->svc->offers_dirty = true;
    int rc = mdb_del(evt_wtxn(t), s_dbi(t, EVT_DB_OFFERS), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_offers_first(evt_tx_t *t, unsigned n, int64_t *deadline_ms, uint64_t *signup_id, unsigned *got)
{
    MDB_cursor *c;
    *got = 0;
    int rc = mdb_cursor_open(t->txn, s_dbi(t, EVT_DB_OFFERS), &c);
    if (rc)
        return s_mdb(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0 && *got < n) {
        if (k.mv_size == 16) {
            deadline_ms[*got] = (int64_t)kp_be64_get(k.mv_data);
            signup_id[*got] = kp_be64_get((uint8_t *)k.mv_data + 8);
            (*got)++;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

/* ---- the registry read model -------------------------------------------------------------- */

int
evt_reg_org_get(evt_tx_t *t, uint64_t org_id, int *status, bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, org_id);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(t->txn, s_dbi(t, EVT_DB_REG_ORGS), &k, &v);
    *found = rc == 0 && v.mv_size == 1;
    if (*found)
        *status = *(uint8_t *)v.mv_data;
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_reg_org_put(MDB_txn *txn, kp_store_t *st, uint64_t org_id, int status)
{
    uint8_t key[8], b = (uint8_t)status;
    kp_be64_put(key, org_id);
    MDB_val k = {8, key}, v = {1, &b};
    return s_mdb(mdb_put(txn, kp_store_dbi(st, EVT_DB_REG_ORGS), &k, &v, 0));
}

int
evt_reg_org_del(MDB_txn *txn, kp_store_t *st, uint64_t org_id)
{
    uint8_t key[8];
    kp_be64_put(key, org_id);
    MDB_val k = {8, key};
    int rc = mdb_del(txn, kp_store_dbi(st, EVT_DB_REG_ORGS), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_reg_muni_get(evt_tx_t *t, const char *code, bool *found)
{
    MDB_val k = {strlen(code), (void *)code}, v;
    int rc = k.mv_size ? mdb_get(t->txn, s_dbi(t, EVT_DB_REG_MUNIS), &k, &v) : MDB_NOTFOUND;
    *found = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc);
}

int
evt_reg_muni_put(MDB_txn *txn, kp_store_t *st, const char *code)
{
    MDB_val k = {strlen(code), (void *)code}, v = {0, (void *)code};
    if (k.mv_size == 0 || k.mv_size > 16)
        return 0;
    return s_mdb(mdb_put(txn, kp_store_dbi(st, EVT_DB_REG_MUNIS), &k, &v, 0));
}
