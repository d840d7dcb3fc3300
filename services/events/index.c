/*  events/index.c: the key index, the randomly keyed lookups kept off the synced write path
 *  (issue 15). Besides store.c, the only file of the service that calls mdb_*.
 *
 *  Why. A sign-up is found again by two random keys: the publisher's own id (source NUL
 *  external_id, for idempotency and for a cancel by that id) and the e-mail address per event
 *  (one live sign-up per person). In the synced store each random key lands on its own B-tree
 *  page, so a commit of a few hundred sign-ups wrote ~1,000 random 4 KiB pages and its
 *  fdatasync and pwrite took ~40 ms per turn (README "Benchmark"). Everything the synced store
 *  now writes per sign-up is keyed in arrival order: the record (signups, by id), its first
 *  answer (kp_server's idem table under NUL . be64(id), see evt_first_key), the event's list
 *  and the log.
 *
 *  What. A second LMDB environment in <data-dir>/index, opened MDB_WRITEMAP | MDB_NOSYNC: its
 *  commit writes no page with a system call (measured: without MDB_WRITEMAP ~780 pwrite64
 *  calls per turn took a quarter of the loop). With MDB_WRITEMAP the file is as large as the
 *  map, so the map starts small and grows between transactions (s_room):
 *      ext     source NUL external_id                   -> signup_id
 *      email   event_id . H(lower-case e-mail)          -> signup_id (live sign-ups)
 *      list    event_id . signup_id                      -> state byte (each event's list)
 *      meta    "hkey" -> the 32-byte key of H; "through" -> the log head it reflects;
 *              "format" -> IX_FORMAT
 *  H is a keyed BLAKE2b of 16 bytes (libsodium): the index holds no e-mail address in clear
 *  (an erased address would stay on a freed page). The publisher's id is no personal data and
 *  stays in clear, so that ids a publisher hands out in order are inserted in order.
 *  Its transaction follows the turn: begun on first use, committed (not synced) right after
 *  the synced commit (turn_done), aborted with the turn.
 *
 *  The index is a hint; the synced store is the truth, so nothing is given up:
 *   - a hit is checked against the sign-up record (same source and external id; same event,
 *     same address, not cancelled, not erased); a stale entry counts as a miss;
 *   - a miss must be real: every sign-up whose log event is above "through" is indexed again
 *     at start (catch-up from the log, which names every sign-up a turn touched), and an index
 *     that may have lost pages is rebuilt from the signups table (by id) before the first
 *     request. It may have lost pages only after an operating-system crash: a killed process
 *     leaves its writes in the page cache, which the next start of the same boot reads. So the
 *     file "state" (written with fsync before the index is touched) says "open <boot id>"
 *     while the service runs and "clean" after a stop that synced the index; an index is
 *     trusted when its state is "clean" or "open" with the current boot id, and holds a
 *     "through" no higher than the store's head. Anything else (no index, an older store, a
 *     restored backup, another boot after a crash) rebuilds it.
 *  A commit of the index that fails after the synced one ends the process before the turn is
 *  answered; the next start catches up. */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_time.h"
#include "kumppani/v1/log.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IX_HASH 16
#define IX_HKEY 32
#define IX_FORMAT 1 /* the layout below */
#define IX_REBUILD_CHUNK 50000
#define IX_MAP_MIN ((size_t)64 << 20)
#define IX_HEADROOM ((size_t)64 << 20) /* free map before a transaction: a turn needs < 20 MiB */
#define SS(x) KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_##x

struct evt_index {
    MDB_env *env;
    MDB_dbi ext, email, list, meta;
    MDB_txn *txn; /* the turn's, begun on first use */
    kp_server_t *srv;
    kp_arena_t *arena; /* decoding during a rebuild or catch-up */
    uint8_t hkey[IX_HKEY];
    char dir[4096];
    uint64_t through;
    bool have_through;
    /* The last e-mail key made: a sign-up looks its address up, then puts it (one hash). */
    bool memo_ok;
    uint64_t memo_event;
    char memo_email[256];
    uint8_t memo_key[8 + IX_HASH];
};

static int
s_mdb(const char *op, int rc)
{
    if (rc && rc != MDB_NOTFOUND)
        kp_log_err("events.index", "op=%s mdb=%d", op, rc);
    return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

/* ---- keys --------------------------------------------------------------------------------- */

static void
s_hash(const evt_index_t *ix, uint8_t out[IX_HASH], const void *in, size_t len)
{
    crypto_generichash(out, IX_HASH, in, len, ix->hkey, IX_HKEY);
}

static void
s_email_key(evt_index_t *ix, uint8_t out[8 + IX_HASH], uint64_t event_id, const char *email)
{
    char low[sizeof ix->memo_email];
    kp_text_ascii_lower(low, sizeof low, email);
    if (ix->memo_ok && ix->memo_event == event_id && strcmp(ix->memo_email, low) == 0) {
        memcpy(out, ix->memo_key, sizeof ix->memo_key);
        return;
    }
    kp_be64_put(out, event_id);
    s_hash(ix, out + 8, low, strlen(low));
    ix->memo_ok = true;
    ix->memo_event = event_id;
    memcpy(ix->memo_email, low, strlen(low) + 1);
    memcpy(ix->memo_key, out, sizeof ix->memo_key);
}

size_t
evt_first_key(uint8_t key[EVT_FIRST_KEY_LEN], uint64_t signup_id)
{
    key[0] = 0; /* no source name starts with NUL: never an old key (source NUL external_id) */
    kp_be64_put(key + 1, signup_id);
    return EVT_FIRST_KEY_LEN;
}

/* ---- the state file ------------------------------------------------------------------------- */

static void
s_boot_id(char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f)
        return;
    if (!fgets(out, (int)len, f))
        out[0] = 0;
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

static int
s_state_write(const evt_index_t *ix, const char *text)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/state.tmp", ix->dir);
    snprintf(path, sizeof path, "%s/state", ix->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0) {
        int dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc)
        kp_log_err("events.index", "op=state errno=%d", -rc);
    return rc;
}

/* Whether the state file lets the index be read as it is (see the top of the file). */
static bool
s_state_trusted(const evt_index_t *ix, const char *boot)
{
    char path[4200], buf[128] = "";
    snprintf(path, sizeof path, "%s/state", ix->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (strcmp(buf, "clean\n") == 0)
        return true;
    char open_line[128];
    snprintf(open_line, sizeof open_line, "open %s\n", boot);
    return boot[0] && strcmp(buf, open_line) == 0;
}

/* ---- the environment -------------------------------------------------------------------- */

static int
s_env_open(evt_index_t *ix, size_t map_size, bool fresh)
{
    char file[4200];
    if (fresh) {
        snprintf(file, sizeof file, "%s/data.mdb", ix->dir);
        unlink(file);
        snprintf(file, sizeof file, "%s/lock.mdb", ix->dir);
        unlink(file);
    }
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&ix->env);
    if (rc)
        return s_mdb("env_create", rc);
    mdb_env_set_maxdbs(ix->env, 4);
    mdb_env_set_mapsize(ix->env, map_size); /* an existing file larger than this keeps its size */
    if ((rc = mdb_env_open(ix->env, ix->dir, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS, 0600)) ||
        (rc = mdb_txn_begin(ix->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "ext", MDB_CREATE, &ix->ext)) ||
        (rc = mdb_dbi_open(txn, "email", MDB_CREATE, &ix->email)) ||
        (rc = mdb_dbi_open(txn, "list", MDB_CREATE, &ix->list)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta)))
        goto fail;
    MDB_val k = {4, "hkey"}, v;
    ix->memo_ok = false; /* the key of H may change below */
    rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc == 0 && v.mv_size == IX_HKEY) {
        memcpy(ix->hkey, v.mv_data, IX_HKEY);
    } else {
        randombytes_buf(ix->hkey, IX_HKEY);
        v = (MDB_val){IX_HKEY, ix->hkey};
        if ((rc = mdb_put(txn, ix->meta, &k, &v, 0)))
            goto fail;
    }
    k = (MDB_val){7, "through"};
    rc = mdb_get(txn, ix->meta, &k, &v);
    ix->have_through = rc == 0 && v.mv_size == 8;
    ix->through = ix->have_through ? kp_be64_get(v.mv_data) : 0;
    /* An index of another layout is not read: without a mark it is rebuilt. */
    uint8_t fmt = IX_FORMAT;
    k = (MDB_val){6, "format"};
    rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc != 0 || v.mv_size != 1 || *(const uint8_t *)v.mv_data != IX_FORMAT)
        ix->have_through = false;
    v = (MDB_val){1, &fmt};
    if (rc == MDB_NOTFOUND && (rc = mdb_put(txn, ix->meta, &k, &v, 0)))
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto fail;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(ix->env);
    ix->env = NULL;
    return s_mdb("env_open", rc);
}

/* Grows the map (and so the file) before a write transaction when less than need bytes of
 * it are free: to half again what that would use. Only between transactions. */
static int
s_room(evt_index_t *ix, size_t need)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(ix->env, &info);
    mdb_env_stat(ix->env, &st);
    size_t used = (size_t)(info.me_last_pgno + 1) * st.ms_psize;
    if (used + need <= info.me_mapsize)
        return 0;
    return s_mdb("set_mapsize", mdb_env_set_mapsize(ix->env, (used + need) / 2 * 3));
}

static int
s_put_through(evt_index_t *ix, MDB_txn *txn, uint64_t head)
{
    uint8_t buf[8];
    kp_be64_put(buf, head);
    MDB_val k = {7, "through"}, v = {8, buf};
    int rc = mdb_put(txn, ix->meta, &k, &v, 0);
    if (rc == 0) {
        ix->through = head;
        ix->have_through = true;
    }
    return s_mdb("put_through", rc);
}

/* Indexes one sign-up record as the store holds it. */
static int
s_apply(evt_index_t *ix, MDB_txn *txn, const evt_signup_t *s)
{
    uint8_t mk[8 + IX_HASH], id[8], lk[16], state = (uint8_t)s->state;
    char ek[EVT_EXT_KEY_MAX];
    kp_be64_put(id, s->id);
    kp_be64_put(lk, s->event_id);
    kp_be64_put(lk + 8, s->id);
    MDB_val k = {sizeof lk, lk}, v = {1, &state};
    int rc = mdb_put(txn, ix->list, &k, &v, 0);
    k = (MDB_val){evt_ext_key(ek, s->source, s->external_id), ek};
    v = (MDB_val){8, id};
    if (rc == 0)
        rc = mdb_put(txn, ix->ext, &k, &v, 0);
    if (rc == 0 && s->state != SS(CANCELLED) && !s->erased && s->email && s->email[0]) {
        s_email_key(ix, mk, s->event_id, s->email);
        k = (MDB_val){sizeof mk, mk};
        rc = mdb_put(txn, ix->email, &k, &v, 0);
    }
    return s_mdb("apply", rc);
}

/* Decodes the sign-up record val and indexes it. */
static int
s_apply_raw(evt_index_t *ix, MDB_txn *txn, const MDB_val *val)
{
    kp_arena_reset(ix->arena);
    evt_signup_t *s =
        kumppani__v1__signup__unpack(kp_arena_pbc(ix->arena), val->mv_size, val->mv_data);
    if (!s) {
        kp_log_err("store.corrupt", "svc=events db=signups");
        return KP_ECORRUPT;
    }
    return s_apply(ix, txn, s);
}

/* Builds the index anew from the signups table. One read of the table (in id order) collects
 * each table's (key, value) pairs in memory; each is sorted by key (memcmp, LMDB's order; a
 * later sign-up's pair sorts after an earlier one of the same key, and the last of equal keys
 * is kept, as mdb_put in id order would) and appended (MDB_APPEND: no page is split or
 * visited twice) in transactions of IX_REBUILD_CHUNK pairs. Measured (README "Benchmark"):
 * 10.3 M sign-ups 188 s with a random put per key, 42-44 s this way (about half of it the
 * read and decoding of the records). Memory: 17 bytes per sign-up for the lists, 32 per live
 * e-mail, 40 plus the key and 8 per publisher's id (and one array's copy while it is sorted):
 * 1.6 GiB at 10.3 M. */
typedef struct {
    uint8_t *p;
    size_t n, cap, size; /* elements of size bytes */
} ix_vec_t;

static void *
s_vec_add(ix_vec_t *v, size_t bytes)
{
    if (v->n * v->size + bytes > v->cap) {
        v->cap = v->cap ? v->cap * 2 : (size_t)1 << 20;
        v->p = kp_xrealloc(v->p, v->cap);
    }
    void *at = v->p + v->n * v->size;
    v->n += bytes / v->size;
    return at;
}

#define IX_LIST_REC 17  /* event_id . signup_id, state */
#define IX_EMAIL_REC 32 /* event_id . H, signup_id: memcmp of the whole is (key, id) order */

#define IX_EXT_PFX 24 /* the key's first bytes, zero-padded, for the radix passes */
typedef struct {
    uint8_t pfx[IX_EXT_PFX];
    size_t off; /* in the blob: the key, then the 8-byte signup_id */
    size_t len;
} ix_ext_ref_t;

/* Sorts n records of size bytes: a stable radix sort on the first 6 bytes among the leading
 * plen that are not the same in every record (event ids, the hash, the ids' high bytes), then
 * cmp (a total order) on each run the radix left equal, if any. qsort alone took ~70 % of the
 * rebuild (memcmp through a callback, 20+ calls per record). */
static void
s_sort(uint8_t *a, size_t n, size_t size, size_t plen, int (*cmp)(const void *, const void *))
{
    if (n < 2)
        return;
    size_t(*cnt)[256] = kp_xcalloc(plen, sizeof *cnt);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < plen; j++)
            cnt[j][a[i * size + j]]++;
    size_t pos[6], np = 0;
    for (size_t j = 0; j < plen && np < 6; j++)
        if (cnt[j][a[j]] != n)
            pos[np++] = j;
    size_t end = np == 6 ? pos[5] + 1 : plen; /* records equal in [0, end) form a run */
    uint8_t *b = kp_xmalloc(n * size), *orig = a;
    for (size_t p = np; p-- > 0;) {
        size_t off[256], sum = 0, j = pos[p];
        for (int d = 0; d < 256; d++) {
            off[d] = sum;
            sum += cnt[j][d];
        }
        for (size_t i = 0; i < n; i++)
            memcpy(b + off[a[i * size + j]]++ * size, a + i * size, size);
        uint8_t *t = a;
        a = b;
        b = t;
    }
    if (a != orig) {
        memcpy(orig, a, n * size);
        b = a;
        a = orig;
    }
    free(b);
    free(cnt);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && memcmp(a + i * size, a + j * size, end) == 0; j++)
            ;
        if (j - i > 1)
            qsort(a + i * size, j - i, size, cmp);
    }
}

static const uint8_t *s_ext_blob; /* for the comparison below (qsort passes no argument) */

static int
s_cmp_list(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static int
s_cmp_email(const void *a, const void *b)
{
    return memcmp(a, b, IX_EMAIL_REC);
}

static int
s_cmp_ext(const void *a, const void *b)
{
    const ix_ext_ref_t *x = a, *y = b;
    int c = memcmp(s_ext_blob + x->off, s_ext_blob + y->off, x->len < y->len ? x->len : y->len);
    if (c == 0)
        c = x->len < y->len ? -1 : x->len > y->len;
    if (c == 0)
        c = x->off < y->off ? -1 : x->off > y->off; /* the later sign-up last */
    return c;
}

typedef struct {
    evt_index_t *ix;
    MDB_txn *wt;
    size_t in_txn;
} ix_writer_t;

/* Appends one pair, committing every IX_REBUILD_CHUNK pairs. */
static int
s_append(ix_writer_t *w, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    int rc;
    if (!w->wt && (rc = mdb_txn_begin(w->ix->env, NULL, 0, &w->wt))) {
        w->wt = NULL;
        return s_mdb("rebuild", rc);
    }
    if ((rc = mdb_put(w->wt, dbi, k, v, MDB_APPEND)))
        return s_mdb("rebuild_append", rc);
    if (++w->in_txn == IX_REBUILD_CHUNK) {
        w->in_txn = 0;
        rc = mdb_txn_commit(w->wt);
        w->wt = NULL;
        return s_mdb("rebuild", rc);
    }
    return 0;
}

/* Builds the index anew from the signups table (in id order). */
static int
s_rebuild(evt_index_t *ix, kp_store_t *store, uint64_t *n)
{
    MDB_txn *rt = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    ix_vec_t list = {.size = IX_LIST_REC}, email = {.size = IX_EMAIL_REC}, blob = {.size = 1},
             refs = {.size = sizeof(ix_ext_ref_t)};
    ix_writer_t w = {.ix = ix};
    int rc = 0, mrc;
    int64_t t0 = kp_mono_us(), t1, t2;
    *n = 0;
    if ((mrc = mdb_txn_begin(kp_store_env(store), NULL, MDB_RDONLY, &rt)) ||
        (mrc = mdb_cursor_open(rt, kp_store_dbi(store, EVT_DB_SIGNUPS), &c))) {
        rc = s_mdb("rebuild", mrc);
        goto out;
    }
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kp_arena_reset(ix->arena);
        evt_signup_t *s =
            kumppani__v1__signup__unpack(kp_arena_pbc(ix->arena), v.mv_size, v.mv_data);
        if (!s) {
            kp_log_err("store.corrupt", "svc=events db=signups");
            rc = KP_ECORRUPT;
            goto out;
        }
        uint8_t *r = s_vec_add(&list, IX_LIST_REC);
        kp_be64_put(r, s->event_id);
        kp_be64_put(r + 8, s->id);
        r[16] = (uint8_t)s->state;
        char ek[EVT_EXT_KEY_MAX];
        size_t len = evt_ext_key(ek, s->source, s->external_id);
        ix_ext_ref_t *ref = s_vec_add(&refs, sizeof *ref);
        *ref = (ix_ext_ref_t){.off = blob.n, .len = len};
        memcpy(ref->pfx, ek, len < IX_EXT_PFX ? len : IX_EXT_PFX);
        r = s_vec_add(&blob, len + 8);
        memcpy(r, ek, len);
        kp_be64_put(r + len, s->id);
        if (s->state != SS(CANCELLED) && !s->erased && s->email && s->email[0]) {
            r = s_vec_add(&email, IX_EMAIL_REC);
            s_email_key(ix, r, s->event_id, s->email);
            kp_be64_put(r + 8 + IX_HASH, s->id);
        }
        ++*n;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = s_mdb("rebuild", mrc);
        goto out;
    }
    mdb_cursor_close(c);
    c = NULL;
    mdb_txn_abort(rt);
    rt = NULL;
    t1 = kp_mono_us();
    /* Room for all of it at once: a page of appended pairs is nearly full. */
    size_t need = list.n * (16 + 1 + 10) + email.n * (24 + 8 + 10) + blob.n + refs.n * 10;
    if ((rc = s_room(ix, need + need / 4 + IX_HEADROOM)))
        goto out;
    s_sort(list.p, list.n, IX_LIST_REC, 16, s_cmp_list);
    for (size_t i = 0; i < list.n && rc == 0; i++) {
        k = (MDB_val){16, list.p + i * IX_LIST_REC};
        v = (MDB_val){1, list.p + i * IX_LIST_REC + 16};
        rc = s_append(&w, ix->list, &k, &v);
    }
    free(list.p);
    list.p = NULL;
    s_sort(email.p, email.n, IX_EMAIL_REC, 8 + IX_HASH, s_cmp_email);
    for (size_t i = 0; i < email.n && rc == 0; i++) {
        uint8_t *r = email.p + i * IX_EMAIL_REC;
        if (i + 1 < email.n && memcmp(r, r + IX_EMAIL_REC, 8 + IX_HASH) == 0)
            continue; /* a later sign-up holds this key */
        k = (MDB_val){8 + IX_HASH, r};
        v = (MDB_val){8, r + 8 + IX_HASH};
        rc = s_append(&w, ix->email, &k, &v);
    }
    free(email.p);
    email.p = NULL;
    s_ext_blob = blob.p;
    ix_ext_ref_t *ref = (ix_ext_ref_t *)refs.p;
    s_sort(refs.p, refs.n, sizeof *ref, IX_EXT_PFX, s_cmp_ext);
    for (size_t i = 0; i < refs.n && rc == 0; i++) {
        if (i + 1 < refs.n && ref[i].len == ref[i + 1].len &&
            memcmp(blob.p + ref[i].off, blob.p + ref[i + 1].off, ref[i].len) == 0)
            continue;
        k = (MDB_val){ref[i].len, blob.p + ref[i].off};
        v = (MDB_val){8, blob.p + ref[i].off + ref[i].len};
        rc = s_append(&w, ix->ext, &k, &v);
    }
    s_ext_blob = NULL;
    t2 = kp_mono_us();
    if (rc)
        goto out;
    if (!w.wt && (mrc = mdb_txn_begin(ix->env, NULL, 0, &w.wt))) {
        w.wt = NULL;
        rc = s_mdb("rebuild", mrc);
        goto out;
    }
    if ((rc = s_put_through(ix, w.wt, kp_store_head(store))))
        goto out;
    mrc = mdb_txn_commit(w.wt);
    w.wt = NULL;
    rc = s_mdb("rebuild", mrc);
    kp_log_info("events.index", "rebuild_read_ms=%lld rebuild_write_ms=%lld",
                (long long)((t1 - t0) / 1000), (long long)((t2 - t1) / 1000));
out:
    free(list.p);
    free(email.p);
    free(blob.p);
    free(refs.p);
    if (c)
        mdb_cursor_close(c);
    if (rt)
        mdb_txn_abort(rt);
    if (w.wt)
        mdb_txn_abort(w.wt);
    return rc;
}

/* ---- catch-up from the log ------------------------------------------------------------- */

typedef struct {
    evt_index_t *ix;
    MDB_txn *rt, *wt;
    MDB_dbi signups;
    uint64_t n, last;
    int rc;
} catchup_t;

static int
s_catchup_one(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    catchup_t *c = arg;
    c->last = seq;
    kp_arena_reset(c->ix->arena);
    ProtobufCAllocator *pa = kp_arena_pbc(c->ix->arena);
    Kumppani__V1__Event *ev = kumppani__v1__event__unpack(pa, len, bytes);
    if (!ev || !ev->type || strncmp(ev->type, "Signup", 6) != 0)
        return 0;
    uint64_t id = 0;
    if (strcmp(ev->type, "SignupErased") == 0) {
        Kumppani__V1__SignupErased *e =
            kumppani__v1__signup_erased__unpack(pa, ev->payload.len, ev->payload.data);
        id = e ? e->signup_id : 0;
    } else {
        Kumppani__V1__SignupReply *r =
            kumppani__v1__signup_reply__unpack(pa, ev->payload.len, ev->payload.data);
        id = r && r->signup ? r->signup->id : 0;
    }
    if (!id)
        return 0;
    uint8_t key[8];
    kp_be64_put(key, id);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(c->rt, c->signups, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc) {
        c->rc = s_mdb("catchup_get", rc);
        return 1;
    }
    if ((rc = s_apply_raw(c->ix, c->wt, &v))) {
        c->rc = rc;
        return 1;
    }
    c->n++;
    return 0;
}

/* Indexes again every sign-up named by the log above "through". */
static int
s_catch_up(evt_index_t *ix, kp_store_t *store, uint64_t *n)
{
    catchup_t c = {.ix = ix, .signups = kp_store_dbi(store, EVT_DB_SIGNUPS)};
    uint64_t head = kp_store_head(store);
    *n = 0;
    if (ix->through >= head)
        return 0;
    int rc = s_room(ix, IX_HEADROOM + (size_t)(head - ix->through) * 256);
    if (rc)
        return rc;
    if ((rc = mdb_txn_begin(kp_store_env(store), NULL, MDB_RDONLY, &c.rt)))
        return s_mdb("catchup_begin", rc);
    if ((rc = mdb_txn_begin(ix->env, NULL, 0, &c.wt))) {
        mdb_txn_abort(c.rt);
        return s_mdb("catchup_begin", rc);
    }
    rc = kp_store_log_read(store, c.rt, ix->through + 1, UINT32_MAX, SIZE_MAX, s_catchup_one, &c);
    if (rc == 0 && c.rc)
        rc = c.rc;
    if (rc == 0)
        rc = s_put_through(ix, c.wt, head);
    mdb_txn_abort(c.rt);
    if (rc) {
        mdb_txn_abort(c.wt);
        return rc;
    }
    *n = c.n;
    return s_mdb("catchup_commit", mdb_txn_commit(c.wt));
}

/* ---- the turn ------------------------------------------------------------------------------- */

static void
s_turn_done(void *arg, int rc)
{
    evt_index_t *ix = arg;
    if (!ix->txn)
        return;
    MDB_txn *txn = ix->txn;
    ix->txn = NULL;
    if (rc) {
        mdb_txn_abort(txn);
        return;
    }
    uint64_t head = kp_store_head(kp_server_store(ix->srv));
    int crc = s_put_through(ix, txn, head);
    if (crc) {
        mdb_txn_abort(txn);
    } else if ((crc = mdb_txn_commit(txn)) != 0) {
        crc = s_mdb("turn_commit", crc);
    }
    if (crc) {
        /* The synced store holds the turn; the index does not, and a resend could pass
         * unrecognised. Nothing of the turn has been answered yet: end the process here
         * (kp_server_stop would re-enter the turn's end), and the next start catches the
         * index up from the log. */
        kp_log_err("events.index", "op=commit err=%d what=\"%s\" action=exit", crc,
                   kp_strerror(crc));
        abort();
    }
}

static void
s_stop(void *arg)
{
    evt_index_t *ix = arg;
    if (ix->txn) {
        mdb_txn_abort(ix->txn);
        ix->txn = NULL;
    }
    if (ix->env) {
        int rc = mdb_env_sync(ix->env, 1);
        mdb_env_close(ix->env);
        ix->env = NULL;
        if (rc == 0)
            s_state_write(ix, "clean\n");
        else
            s_mdb("sync", rc);
    }
}

void
evt_index_close(evt_svc_t *svc)
{
    evt_index_t *ix = svc->index;
    if (!ix)
        return;
    s_stop(ix);
    kp_arena_destroy(&ix->arena);
    free(ix);
    svc->index = NULL;
}

int
evt_index_open(evt_svc_t *svc)
{
    kp_store_t *store = kp_server_store(svc->srv);
    if (sodium_init() < 0)
        return KP_ECONFIG;
    evt_index_t *ix = kp_xcalloc(1, sizeof *ix);
    ix->srv = svc->srv;
    ix->arena = kp_arena_new(4u << 20);
    snprintf(ix->dir, sizeof ix->dir, "%s/index", kp_store_dir(store));
    svc->index = ix;
    if (mkdir(ix->dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        kp_log_err("events.index", "op=mkdir errno=%d", errno);
        return rc;
    }
    char boot[64], line[128];
    s_boot_id(boot, sizeof boot);
    int64_t t0 = kp_mono_us();
    bool trusted = s_state_trusted(ix, boot);
    int rc = s_env_open(ix, IX_MAP_MIN, !trusted);
    if (rc == 0 && trusted && (!ix->have_through || ix->through > kp_store_head(store))) {
        trusted = false; /* unfinished rebuild, or a store older than the index */
        mdb_env_close(ix->env);
        ix->env = NULL;
        rc = s_env_open(ix, IX_MAP_MIN, true);
    }
    snprintf(line, sizeof line, "open %s\n", boot);
    if (rc || (rc = s_state_write(ix, line)))
        return rc;
    uint64_t n = 0;
    rc = trusted ? s_catch_up(ix, store, &n) : s_rebuild(ix, store, &n);
    if (rc)
        return rc;
    kp_log_notice("events.index", "%s=%llu through=%llu ms=%lld", trusted ? "caught_up" : "rebuilt",
                  (unsigned long long)n, (unsigned long long)ix->through,
                  (long long)((kp_mono_us() - t0) / 1000));
    kp_server_part_t part = {.turn_done = s_turn_done, .stop = s_stop, .arg = ix};
    return kp_server_add_part(svc->srv, &part);
}

/* The index transaction of this turn. */
static int
s_txn(kp_tx_t *t, evt_index_t **ixp, MDB_txn **txn)
{
    evt_index_t *ix = EVT_SVC(t)->index;
    if (!ix || !ix->env)
        return KP_ESTORE;
    if (!ix->txn) {
        int rc = s_room(ix, IX_HEADROOM);
        if (rc == 0 && (rc = mdb_txn_begin(ix->env, NULL, 0, &ix->txn)) != 0)
            rc = s_mdb("turn_begin", rc);
        if (rc) {
            ix->txn = NULL;
            return rc;
        }
    }
    *ixp = ix;
    *txn = ix->txn;
    return 0;
}

static int
s_get_id(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len, uint64_t *id, bool *found)
{
    MDB_val k = {len, key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    *found = rc == 0 && v.mv_size == 8;
    if (*found)
        *id = kp_be64_get(v.mv_data);
    return s_mdb("get", rc);
}

/* ---- the lookups the service makes --------------------------------------------------------- */

int
evt_email_get(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t *signup_id, bool *found)
{
    evt_index_t *ix;
    MDB_txn *txn;
    uint8_t key[8 + IX_HASH];
    *found = false;
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    s_email_key(ix, key, event_id, email);
    uint64_t id = 0;
    bool hit = false;
    if ((rc = s_get_id(txn, ix->email, key, sizeof key, &id, &hit)) || !hit)
        return rc;
    /* Checked against the record: a stale entry (a cancel or erasure the index missed) is
     * no sign-up of this address. */
    evt_signup_t *s;
    bool there = false;
    if ((rc = evt_signup_get(t, id, &s, &there)) || !there)
        return rc;
    char a[256], b[256];
    kp_text_ascii_lower(a, sizeof a, email);
    kp_text_ascii_lower(b, sizeof b, s->email);
    *found =
        s->event_id == event_id && s->state != SS(CANCELLED) && !s->erased && strcmp(a, b) == 0;
    *signup_id = id;
    return 0;
}

int
evt_email_put(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t signup_id)
{
    evt_index_t *ix;
    MDB_txn *txn;
    uint8_t key[8 + IX_HASH], id[8];
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    s_email_key(ix, key, event_id, email);
    kp_be64_put(id, signup_id);
    MDB_val k = {sizeof key, key}, v = {8, id};
    return s_mdb("email_put", mdb_put(txn, ix->email, &k, &v, 0));
}

int
evt_email_del(kp_tx_t *t, uint64_t event_id, const char *email)
{
    evt_index_t *ix;
    MDB_txn *txn;
    uint8_t key[8 + IX_HASH];
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    s_email_key(ix, key, event_id, email);
    MDB_val k = {sizeof key, key};
    return s_mdb("email_del", mdb_del(txn, ix->email, &k, NULL));
}

int
evt_signup_by_ext(kp_tx_t *t, const char *source, const char *external_id, uint64_t *signup_id,
                  bool *found)
{
    evt_index_t *ix;
    MDB_txn *txn;
    char key[EVT_EXT_KEY_MAX];
    *found = false;
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    uint64_t id = 0;
    bool hit = false;
    if ((rc = s_get_id(txn, ix->ext, key, evt_ext_key(key, source, external_id), &id, &hit)) ||
        !hit)
        return rc;
    evt_signup_t *s;
    bool there = false;
    if ((rc = evt_signup_get(t, id, &s, &there)) || !there)
        return rc;
    *found = strcmp(s->source, source) == 0 && strcmp(s->external_id, external_id) == 0;
    *signup_id = id;
    return 0;
}

int
evt_ext_put(kp_tx_t *t, const char *source, const char *external_id, uint64_t signup_id)
{
    evt_index_t *ix;
    MDB_txn *txn;
    char key[EVT_EXT_KEY_MAX];
    uint8_t id[8];
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    kp_be64_put(id, signup_id);
    MDB_val k = {evt_ext_key(key, source, external_id), key}, v = {8, id};
    return s_mdb("ext_put", mdb_put(txn, ix->ext, &k, &v, 0));
}

int
evt_list_put(kp_tx_t *t, uint64_t event_id, uint64_t signup_id, int state)
{
    evt_index_t *ix;
    MDB_txn *txn;
    uint8_t key[16], b = (uint8_t)state;
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    kp_be64_put(key, event_id);
    kp_be64_put(key + 8, signup_id);
    MDB_val k = {sizeof key, key}, v = {1, &b};
    return s_mdb("list_put", mdb_put(txn, ix->list, &k, &v, 0));
}

int
evt_signups_each(kp_tx_t *t, uint64_t event_id, uint64_t after_id, unsigned limit,
                 int (*fn)(void *, uint64_t, int), void *arg)
{
    evt_index_t *ix;
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t key[16];
    int rc = s_txn(t, &ix, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, ix->list, &c)))
        return s_mdb("list_cursor", rc);
    kp_be64_put(key, event_id);
    kp_be64_put(key + 8, after_id + 1);
    MDB_val k = {sizeof key, key}, v;
    unsigned n = 0;
    /* fn may write (a retention pass erases as it walks): the cursor is the transaction's,
     * which LMDB keeps valid across writes to its pages. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16 || kp_be64_get(k.mv_data) != event_id || n++ == limit)
            break;
        int state = v.mv_size ? *(const uint8_t *)v.mv_data : 0;
        if (fn(arg, kp_be64_get((const uint8_t *)k.mv_data + 8), state) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb("list_walk", rc);
}
