/*  web/bo_store.c: the back office's records in the web's store (through kp_tx).
 *
 *  accounts  account id (u64 BE) -> OfficeAccount (the password as crypto_pwhash_str only)
 *  users     sign-in name -> account id (u64 BE): one account per name
 *  sessions  SHA-256 of the session cookie (32 bytes) -> OfficeSession: the store never holds
 *            a cookie that would sign anyone in; expired ones are removed at each sign-in
 *  audit     audit id (u64 BE, rising) -> OfficeAudit (ids only)
 *
 *  A removed account leaves nothing behind but its id in the audit: its record, its name entry
 *  and its sessions are deleted together (bo_account_del). */
#include "bo.h"
#include "kp_err.h"
#include "kp_store.h" /* kp_be64_put/get */

#include <string.h>

KP_REC_ID_GET(bo_account_get, WEB_DB_ACCOUNTS, bo_account_t,
              kumppani__v1__office_account__descriptor)

int
bo_account_by_user(kp_tx_t *tx, const char *user, bo_account_t **out, bool *found)
{
    MDB_val v;
    *found = false;
    int rc = kp_raw_get(tx, WEB_DB_USERS, user, strlen(user), &v, found);
    if (rc || !*found)
        return rc;
    if (v.mv_size != 8)
        return KP_ECORRUPT;
    return bo_account_get(tx, kp_be64_get(v.mv_data), out, found);
}

int
bo_account_put(kp_tx_t *tx, bo_account_t *a)
{
    int rc;
    if (a->id == 0) {
        MDB_val v;
        bool taken = false;
        if ((rc = kp_raw_get(tx, WEB_DB_USERS, a->user, strlen(a->user), &v, &taken)))
            return rc;
        if (taken)
            return BO_TAKEN;
        if ((rc = kp_tx_next_id(tx, "office-account", &a->id)))
            return rc;
        unsigned char k[8];
        kp_be64_put(k, a->id);
        if ((rc = kp_raw_put(tx, WEB_DB_USERS, a->user, strlen(a->user), k, 8)))
            return rc;
    }
    return kp_rec_put_id(tx, WEB_DB_ACCOUNTS, a->id, &a->base);
}

int
bo_accounts_each(kp_tx_t *tx, int (*fn)(void *arg, void *account), void *arg)
{
    return kp_rec_walk(tx, WEB_DB_ACCOUNTS, NULL, 0, &kumppani__v1__office_account__descriptor, fn,
                       arg);
}

int
bo_session_get(kp_tx_t *tx, const unsigned char key[32], Kumppani__V1__OfficeSession **out,
               bool *found)
{
    return kp_rec_get(tx, WEB_DB_SESSIONS, key, 32, &kumppani__v1__office_session__descriptor,
                      (void **)out, found);
}

int
bo_session_put(kp_tx_t *tx, const unsigned char key[32], const Kumppani__V1__OfficeSession *s)
{
    return kp_rec_put(tx, WEB_DB_SESSIONS, key, 32, &s->base);
}

int
bo_session_del(kp_tx_t *tx, const unsigned char key[32])
{
    return kp_raw_del(tx, WEB_DB_SESSIONS, key, 32, NULL);
}

int
bo_audit_add(kp_tx_t *tx, Kumppani__V1__OfficeAudit *e)
{
    int rc = kp_tx_next_id(tx, "office-audit", &e->id);
    return rc ? rc : kp_rec_put_id(tx, WEB_DB_AUDIT, e->id, &e->base);
}

int
bo_audit_each_rev(kp_tx_t *tx, int (*fn)(void *arg, void *entry), void *arg)
{
    return kp_rec_walk_rev(tx, WEB_DB_AUDIT, NULL, 0, &kumppani__v1__office_audit__descriptor, fn,
                           arg);
}

/* A walk over the sessions that picks those to delete: the expired ones (account_id 0) or
 * every one of an account. The keys are collected first and deleted after the walk, since
 * nothing may be written while the cursor walks. */
typedef struct {
    kp_tx_t *tx;
    uint64_t account_id;
    unsigned char (*keys)[32];
    unsigned n, max;
} sweep_t;

static int
s_sweep_one(void *arg, const MDB_val *key, const MDB_val *val)
{
    sweep_t *p = arg;
    Kumppani__V1__OfficeSession *s = kumppani__v1__office_session__unpack(
        kp_arena_pbc(p->tx->arena), val->mv_size, val->mv_data);
    bool pick =
        p->account_id ? s && s->account_id == p->account_id : !s || s->expires_ms <= p->tx->now_ms;
    if (key->mv_size == 32 && pick)
        memcpy(p->keys[p->n++], key->mv_data, 32);
    return p->n == p->max;
}

/* Deletes up to max sessions of the sweep's kind; *n: how many were. */
static int
s_sweep(kp_tx_t *tx, uint64_t account_id, unsigned max, unsigned *n)
{
    sweep_t p = {tx, account_id, kp_arena_alloc(tx->arena, (size_t)max * 32), 0, max};
    if (!p.keys)
        return KP_ENOMEM;
    int rc = kp_rec_each(tx, WEB_DB_SESSIONS, NULL, 0, NULL, 0, s_sweep_one, &p);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < p.n; i++)
        if ((rc = bo_session_del(tx, p.keys[i])))
            return rc;
    *n = p.n;
    return 0;
}

int
bo_sessions_prune(kp_tx_t *tx, unsigned max)
{
    unsigned n;
    return s_sweep(tx, 0, max, &n);
}

int
bo_account_del(kp_tx_t *tx, const bo_account_t *a)
{
    /* The sessions first, in rounds of 256 until none is left. */
    unsigned n;
    int rc;
    do {
        if ((rc = s_sweep(tx, a->id, 256, &n)))
            return rc;
    } while (n == 256);
    if ((rc = kp_raw_del(tx, WEB_DB_USERS, a->user, strlen(a->user), NULL)))
        return rc;
    return kp_rec_del_id(tx, WEB_DB_ACCOUNTS, a->id);
}
