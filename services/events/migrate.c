/*  events/migrate.c: upgrades of older stores (kp_store_opts_t.migrate).
 *
 *  1 -> 2: schema 2 keeps per-role counts in each event (EventInfo.role_counts), which the
 *  role balance rules read. A store written by schema 1 has sign-ups but no such counts, so
 *  they are computed once here from each event's live sign-ups, inside the opening
 *  transaction: the store opens either fully upgraded or not at all. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdlib.h>
#include <string.h>

#define ROLES_N 7 /* ParticipantRole values 0..6 */

static int
s_v2_role_counts(MDB_txn *txn)
{
    MDB_dbi events, signups, ev_signups;
    int rc;
    if ((rc = mdb_dbi_open(txn, "events", 0, &events)) ||
        (rc = mdb_dbi_open(txn, "signups", 0, &signups)) ||
        (rc = mdb_dbi_open(txn, "ev_signups", 0, &ev_signups)))
        return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc); /* nothing stored yet */
    MDB_cursor *ec = NULL, *sc = NULL;
    if ((rc = mdb_cursor_open(txn, events, &ec)) || (rc = mdb_cursor_open(txn, ev_signups, &sc)))
        goto done;
    MDB_val k, v;
    uint64_t n_events = 0;
    for (rc = mdb_cursor_get(ec, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(ec, &k, &v, MDB_NEXT)) {
        uint64_t event_id = kp_be64_get(k.mv_data);
        uint32_t held[ROLES_N] = {0}, waiting[ROLES_N] = {0};
        uint8_t key[16];
        kp_be64_put(key, event_id);
        kp_be64_put(key + 8, 0);
        MDB_val sk = {16, key}, sv;
        int src = mdb_cursor_get(sc, &sk, &sv, MDB_SET_RANGE);
        for (; src == 0 && sk.mv_size == 16 && kp_be64_get(sk.mv_data) == event_id;
             src = mdb_cursor_get(sc, &sk, &sv, MDB_NEXT)) {
            MDB_val idk = {8, (uint8_t *)sk.mv_data + 8}, rec;
            if (mdb_get(txn, signups, &idk, &rec) != 0)
                continue;
            evt_signup_t *s = kumppani__v1__signup__unpack(NULL, rec.mv_size, rec.mv_data);
            if (!s) {
                rc = KP_ECORRUPT;
                goto done;
            }
            uint32_t places = 1 + s->companions;
            unsigned role = (unsigned)s->role < ROLES_N ? (unsigned)s->role : 0;
            if (s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_WAITLISTED)
                waiting[role] += places;
            else if (s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED ||
                     s->state == KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_OFFERED)
                held[role] += places;
            kumppani__v1__signup__free_unpacked(s, NULL);
        }
        evt_event_t *ev = kumppani__v1__event_info__unpack(NULL, v.mv_size, v.mv_data);
        if (!ev) {
            rc = KP_ECORRUPT;
            goto done;
        }
        Kumppani__V1__RoleCount counts[ROLES_N], *ptrs[ROLES_N];
        size_t n = 0;
        for (unsigned r = 1; r < ROLES_N; r++) {
            if (!held[r] && !waiting[r])
                continue;
            kumppani__v1__role_count__init(&counts[n]);
            counts[n].role = r;
            counts[n].confirmed_n = held[r];
            counts[n].waitlisted_n = waiting[r];
            ptrs[n] = &counts[n];
            n++;
        }
        /* The decoded message owns its old list; swap ours in to pack, then swap back. */
        size_t old_n = ev->n_role_counts;
        Kumppani__V1__RoleCount **old = ev->role_counts;
        ev->n_role_counts = n;
        ev->role_counts = ptrs;
        size_t len = kumppani__v1__event_info__get_packed_size(ev);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf)
            kumppani__v1__event_info__pack(ev, buf);
        ev->n_role_counts = old_n;
        ev->role_counts = old;
        kumppani__v1__event_info__free_unpacked(ev, NULL);
        if (!buf) {
            rc = KP_ENOMEM;
            goto done;
        }
        MDB_val nv = {len, buf};
        rc = mdb_cursor_put(ec, &k, &nv, MDB_CURRENT);
        free(buf);
        if (rc)
            goto done;
        n_events++;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    kp_log_notice("events.migrate", "to=2 events=%llu", (unsigned long long)n_events);
done:
    if (sc)
        mdb_cursor_close(sc);
    if (ec)
        mdb_cursor_close(ec);
    /* LMDB codes (and errno values) become KP codes; our own pass through. */
    return rc > 0 || (rc <= MDB_KEYEXIST && rc >= MDB_LAST_ERRCODE) ? kp_err_from_mdb(rc) : rc;
}

int
evt_migrate(void *arg, MDB_txn *txn, unsigned from, unsigned to)
{
    (void)arg;
    (void)to;
    if (from < 2) {
        int rc = s_v2_role_counts(txn);
        if (rc)
            return rc;
    }
    return 0;
}
