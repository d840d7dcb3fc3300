/*  events/index.c: the key index, the randomly keyed lookups kept off the synced write path.
 *  Besides store.c, the only file of the service that calls mdb_*.
 *
 *  Why. A sign-up is found again by two random keys: the publisher's own id (source NUL
 *  external_id, for idempotency and for a cancel by that id) and the e-mail address per event
 *  (one live sign-up per person). In the synced store each random key lands on its own B-tree
 *  page (measured: a commit of a few hundred sign-ups writes ~1,000 random 4 KiB pages, and
 *  its fdatasync and pwrite take ~40 ms per turn; README "Benchmark"). Everything the synced
 *  store writes per sign-up is keyed in arrival order: the record (signups, by id), its first
 *  answer (kp_server's idem table under NUL . be64(id), see evt_first_key), the event's list
 *  and the log.
 *
 *  What. <data-dir>/index (or the index-dir setting) holds two hash tables and a second LMDB
 *  environment:
 *      ext.hash    tag(source NUL external_id)            -> signup_id (keyhash.c)
 *      email.hash  tag(event_id . lower-case e-mail)      -> signup_id (live sign-ups)
 *                  tag(event_id . "tel:" . phone in one form) -> signup_id (live sign-ups;
 *                        kp_privacy_phone_norm: "040 765 4321" = "+358 40 7654321")
 *      data.mdb    list  event_id . signup_id -> state byte (each event's list, in order)
 *                  meta  "hkey" -> 32 random bytes, the keys of the tags; "through" -> the
 *                        log head it reflects; "format" -> IX_FORMAT
 *  A tag is a keyed SipHash of 64 bits (libsodium crypto_shorthash, the first 16 bytes of
 *  hkey for ext, the last 16 for e-mail): the index holds no e-mail address, not even hashed
 *  without its key. The hash tables live in memory and are saved to their files a few parts
 *  after each turn (s_flush; keyhash.c), each file saying the log position it holds; a put
 *  writes 16 bytes in memory and never faults into the file system. The LMDB environment is
 *  opened MDB_WRITEMAP | MDB_NOSYNC and its commit writes no page with a system call
 *  (measured: without MDB_WRITEMAP ~780 pwrite64 calls per turn took a quarter of the loop).
 *  With MDB_WRITEMAP the file is as large as the map, so the map starts small and grows
 *  between transactions (s_room). Measured (README "Benchmark"): the ext and e-mail tables
 *  as LMDB B-trees took about half of the service's time per sign-up with 1,000,000 stored,
 *  each random put copying and dirtying a page of its own.
 *  Its transaction follows the turn: begun on first use, committed (not synced) right after
 *  the synced commit (turn_done), aborted with the turn. The hash tables are written at once
 *  (an aborted turn leaves pairs whose record says otherwise: stale, see below); a removal is
 *  held until the turn has committed, so an aborted turn cannot lose a live pair.
 *
 *  The index is a hint; the synced store is the truth, so nothing is given up:
 *   - a hit is checked against the sign-up record (same source and external id; same event,
 *     same address, not cancelled, not erased); a stale entry or another key's with the same
 *     tag counts as a miss, and the walk goes on to the next pair of that tag;
 *   - a miss must be real: every sign-up whose log event is above the oldest of "through" and
 *     the two tables' saved positions is indexed again at start (catch-up from the log, which
 *     names every sign-up a turn touched), and an index
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
#include "kp_privacy.h"
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
#include <uv.h>

#define IX_HKEY 32
/* The layout above (1: ext and email were LMDB tables; 2: email.hash held no phone pairs). */
#define IX_FORMAT 3
#define IX_REBUILD_CHUNK 50000
#define IX_MAP_MIN ((size_t)64 << 20)
#define IX_HEADROOM ((size_t)64 << 20) /* free map before a transaction: a turn needs < 20 MiB */
#define IX_PASS_US ((uint64_t)30 * 1000000) /* a save pass over the hash tables (s_flush) */
#define IX_FLUSH_BURST_US 1000000           /* at most a second's share at once, after idling */
#define IX_PASS_RETRY_US 10000000

struct evt_index {
    MDB_env *env;
    MDB_dbi list, meta;
    MDB_txn *txn; /* the turn's, begun on first use */
    evt_khash_t *ext, *email;
    struct ix_del {
        uint64_t tag, id;
    } * dels; /* e-mail pairs to remove once the turn has committed */
    size_t dels_n, dels_cap;
    kp_server_t *srv;
    kp_arena_t *arena; /* decoding during a rebuild or catch-up */
    uint8_t hkey[IX_HKEY];
    char dir[4096];
    uint64_t through;
    bool have_through;
    /* The last e-mail tag made: a sign-up looks its address up, then puts it (one hash). */
    bool memo_ok;
    uint64_t memo_event, memo_tag;
    char memo_email[256];
    int64_t flush_at_us, flush_credit_us; /* s_flush */
};

static int
s_mdb(const char *op, int rc)
{
    if (rc && rc != MDB_NOTFOUND)
        kp_log_err("events.index", "op=%s mdb=%d", op, rc);
    return rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

/* ---- keys --------------------------------------------------------------------------------- */

#define IX_PHONE_MAX 64

static uint64_t
s_tag(const uint8_t key[crypto_shorthash_KEYBYTES], const void *in, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, in, len, key);
    return kp_be64_get(out);
}

static uint64_t
s_ext_tag(const evt_index_t *ix, const char *source, const char *external_id)
{
    char key[EVT_EXT_KEY_MAX];
    return s_tag(ix->hkey, key, evt_ext_key(key, source, external_id));
}

/* The e-mail tag of an address already in lower case (low: 8 bytes before it free). */
static uint64_t
s_email_tag_low(const evt_index_t *ix, uint64_t event_id, uint8_t *in, size_t len)
{
    kp_be64_put(in, event_id);
    return s_tag(ix->hkey + crypto_shorthash_KEYBYTES, in, 8 + len);
}

static uint64_t
s_email_tag(evt_index_t *ix, uint64_t event_id, const char *email)
{
    uint8_t in[8 + 256];
    char *low = (char *)in + 8;
    kp_text_ascii_lower(low, 256, email);
    if (ix->memo_ok && ix->memo_event == event_id && strcmp(ix->memo_email, low) == 0)
        return ix->memo_tag;
    size_t len = strlen(low);
    ix->memo_ok = true;
    ix->memo_event = event_id;
    memcpy(ix->memo_email, low, len + 1);
    return ix->memo_tag = s_email_tag_low(ix, event_id, in, len);
}

/* The phone tag (in the e-mail table, its input never an address: "tel:" has no '@'); 0 for a
 * phone without a digit, which is not indexed. */
static uint64_t
s_phone_tag(const evt_index_t *ix, uint64_t event_id, const char *phone)
{
    uint8_t in[8 + 4 + IX_PHONE_MAX];
    char *norm = (char *)in + 12;
    kp_privacy_phone_norm(phone ? phone : "", norm, IX_PHONE_MAX);
    size_t len = strlen(norm);
    if (len <= (norm[0] == '+' ? 1u : 0u))
        return 0;
    memcpy(in + 8, "tel:", 4);
    return s_email_tag_low(ix, event_id, in, 4 + len);
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
        (rc = mdb_dbi_open(txn, "list", MDB_CREATE, &ix->list)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta)))
        goto done;
    MDB_val k = {4, "hkey"}, v;
    ix->memo_ok = false; /* the key of H may change below */
    rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc == 0 && v.mv_size == IX_HKEY) {
        memcpy(ix->hkey, v.mv_data, IX_HKEY);
    } else {
        randombytes_buf(ix->hkey, IX_HKEY);
        v = (MDB_val){IX_HKEY, ix->hkey};
        if ((rc = mdb_put(txn, ix->meta, &k, &v, 0)))
            goto done;
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
    rc = rc == MDB_NOTFOUND ? mdb_put(txn, ix->meta, &k, &v, 0) : 0;
done:
    rc = kp_store_env_opened(&ix->env, txn, rc);
    return rc ? s_mdb("env_open", rc) : 0;
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
    uint8_t lk[16], state = (uint8_t)s->state;
    kp_be64_put(lk, s->event_id);
    kp_be64_put(lk + 8, s->id);
    MDB_val k = {sizeof lk, lk}, v = {1, &state};
    int rc = mdb_put(txn, ix->list, &k, &v, 0);
    if (rc)
        return s_mdb("apply", rc);
    if ((rc = evt_kh_put(ix->ext, s_ext_tag(ix, s->source, s->external_id), s->id)))
        return rc;
    bool live = s->state != SS(CANCELLED) && !s->erased;
    if (live && s->email && s->email[0])
        rc = evt_kh_put(ix->email, s_email_tag(ix, s->event_id, s->email), s->id);
    uint64_t ptag = live ? s_phone_tag(ix, s->event_id, s->phone) : 0;
    if (rc == 0 && ptag)
        rc = evt_kh_put(ix->email, ptag, s->id);
    return rc;
}

/* Decodes the sign-up record val and indexes it. */
static int
s_apply_raw(evt_index_t *ix, MDB_txn *txn, const MDB_val *val)
{
    kp_arena_reset(ix->arena);
    evt_signup_t *s =
        kumppani__v1__signup__unpack(kp_arena_pbc(ix->arena), val->mv_size, val->mv_data);
    if (!s) {
        kp_log_err("store.corrupt", "db=signups");
        return KP_ECORRUPT;
    }
    return s_apply(ix, txn, s);
}

/* Opens the two hash tables, or (fresh) makes them anew in memory for about `entries` pairs
 * each, for s_rebuild to fill and save. */
static int
s_tables_open(evt_index_t *ix, uint64_t entries, bool fresh)
{
    char path[4300];
    evt_khash_t **t[2] = {&ix->ext, &ix->email};
    const char *name[2] = {"ext", "email"};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        evt_kh_close(*t[i]);
        *t[i] = NULL;
        snprintf(path, sizeof path, "%s/%s.hash", ix->dir, name[i]);
        if (rc == 0)
            rc = evt_kh_open(t[i], path, entries, fresh);
    }
    return rc;
}

/* Where a catch-up starts: the older of the tables' through (the last save pass each
 * finished), or UINT64_MAX when one is past the lists' (not saved by this index). */
static uint64_t
s_tables_from(const evt_index_t *ix)
{
    uint64_t a = evt_kh_through(ix->ext), b = evt_kh_through(ix->email);
    if (a > ix->through || b > ix->through)
        return UINT64_MAX;
    return a < b ? a : b;
}

/* The rebuild (s_rebuild): the sign-ups' tags go into new hash tables sized for the count,
 * and the lists' (key, state) pairs are collected in memory, sorted (LMDB's order) and appended
 * (MDB_APPEND: no page is split or visited twice) in transactions of IX_REBUILD_CHUNK pairs.
 * Measured (README "Benchmark"): 10.3 M sign-ups 188 s with a random put per key into B-trees,
 * 42-44 s sorted and appended. */
typedef struct {
    uint8_t *p;
    size_t n; /* records of IX_LIST_REC bytes */
} ix_vec_t;

#define IX_LIST_REC 17 /* event_id . signup_id, state */

/* Sorts n records of size bytes by their first plen bytes (memcmp order; equal keys keep
 * their order): a stable radix sort on the first 6 bytes among the leading plen that are not
 * the same in every record (event ids, the ids' high bytes), then qsort on each run the radix
 * left equal, if any. qsort alone took ~70 % of the rebuild. */
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

static int
s_cmp_list(const void *a, const void *b)
{
    return memcmp(a, b, 16);
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

/* A rebuild's three arrays, room for each share's records: the (tag, id) pairs of the ext and
 * e-mail tables (two a record there: its e-mail and its phone) and the lists' records. Each
 * reading thread fills its own part. */
typedef struct {
    evt_kh_pair_t *ext, *email;
    uint8_t *list; /* IX_LIST_REC each */
} ix_out_t;

/* A share of a rebuild's read: the records with ids in [from, to) (to 0: to the end), written
 * from index `at` of the arrays on (of the e-mail table's, from email_at); n, email_n how many
 * it wrote. */
typedef struct {
    const evt_index_t *ix;
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t from, to;
    ix_out_t out;
    size_t at, email_at, room, n, email_n;
    int mdb, rc; /* an LMDB error, or KP_ECORRUPT (a record that does not decode, too many) */
} ix_share_t;

/* Reads and decodes a share (on its own thread: its own read transaction and arena; the index
 * is only read, for the tags' key). */
static void
s_read_share(void *arg)
{
    ix_share_t *sh = arg;
    MDB_txn *rt = NULL;
    MDB_cursor *c = NULL;
    kp_arena_t *a = kp_arena_new(4u << 20);
    uint8_t from[8];
    kp_be64_put(from, sh->from);
    MDB_val k = {sizeof from, from}, v;
    int mrc;
    if ((mrc = mdb_txn_begin(sh->env, NULL, MDB_RDONLY, &rt)) ||
        (mrc = mdb_cursor_open(rt, sh->dbi, &c))) {
        sh->mdb = mrc;
        goto out;
    }
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (sh->to && k.mv_size == 8 && kp_be64_get(k.mv_data) >= sh->to)
            break;
        kp_arena_reset(a);
        evt_signup_t *s = kumppani__v1__signup__unpack(kp_arena_pbc(a), v.mv_size, v.mv_data);
        if (!s || sh->n == sh->room) {
            sh->rc = KP_ECORRUPT;
            goto out;
        }
        size_t i = sh->at + sh->n++;
        sh->out.ext[i] = (evt_kh_pair_t){s_ext_tag(sh->ix, s->source, s->external_id), s->id};
        bool live = s->state != SS(CANCELLED) && !s->erased;
        if (live && s->email && s->email[0]) {
            uint8_t in[8 + 256];
            kp_text_ascii_lower((char *)in + 8, 256, s->email);
            sh->out.email[sh->email_at + sh->email_n++] = (evt_kh_pair_t){
                s_email_tag_low(sh->ix, s->event_id, in, strlen((char *)in + 8)), s->id};
        }
        uint64_t ptag = live ? s_phone_tag(sh->ix, s->event_id, s->phone) : 0;
        if (ptag)
            sh->out.email[sh->email_at + sh->email_n++] = (evt_kh_pair_t){ptag, s->id};
        uint8_t *l = sh->out.list + i * IX_LIST_REC;
        kp_be64_put(l, s->event_id);
        kp_be64_put(l + 8, s->id);
        l[16] = (uint8_t)s->state;
    }
    if (mrc != MDB_NOTFOUND)
        sh->mdb = mrc;
out:
    if (c)
        mdb_cursor_close(c);
    if (rt)
        mdb_txn_abort(rt);
    kp_arena_destroy(&a);
}

/* Puts the pairs of one table (both shares' parts), then saves the table. */
typedef struct {
    evt_khash_t *h;
    evt_kh_pair_t *part[2];
    size_t n[2];
    uint64_t head;
    int rc;
    int64_t save_us; /* of which the save */
} ix_fill_t;

static void
s_fill(void *arg)
{
    ix_fill_t *f = arg;
    for (int i = 0; i < 2 && f->rc == 0; i++)
        f->rc = evt_kh_put_many(f->h, f->part[i], f->n[i]);
    int64_t t0 = kp_mono_us();
    if (f->rc == 0)
        f->rc = evt_kh_save(f->h, f->head, true);
    f->save_us = kp_mono_us() - t0;
}

/* The first and last ids of the signups table (0, 0 when it is empty). */
static int
s_id_range(MDB_env *env, MDB_dbi dbi, uint64_t *first, uint64_t *last, size_t *entries)
{
    MDB_txn *rt = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    MDB_stat st;
    int mrc;
    *first = *last = 0;
    if (!(mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &rt)) && !(mrc = mdb_stat(rt, dbi, &st)) &&
        !(mrc = mdb_cursor_open(rt, dbi, &c))) {
        *entries = st.ms_entries;
        if (!(mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) && k.mv_size == 8) {
            *first = kp_be64_get(k.mv_data);
            if (!(mrc = mdb_cursor_get(c, &k, &v, MDB_LAST)) && k.mv_size == 8)
                *last = kp_be64_get(k.mv_data);
        }
    }
    if (c)
        mdb_cursor_close(c);
    if (rt)
        mdb_txn_abort(rt);
    return mrc == MDB_NOTFOUND ? 0 : mrc;
}

/* Sorts the lists' pairs (LMDB's order) and appends them, in transactions of IX_REBUILD_CHUNK
 * pairs; the last stays open in w. */
static int
s_write_lists(evt_index_t *ix, ix_vec_t *list, ix_writer_t *w)
{
    /* Room for all of it at once: a page of appended pairs is nearly full. */
    size_t need = list->n * (16 + 1 + 10);
    int rc = s_room(ix, need + need / 4 + IX_HEADROOM);
    if (rc)
        return rc;
    s_sort(list->p, list->n, IX_LIST_REC, 16, s_cmp_list);
    for (size_t i = 0; i < list->n && rc == 0; i++) {
        MDB_val k = {16, list->p + i * IX_LIST_REC}, v = {1, list->p + i * IX_LIST_REC + 16};
        rc = s_append(w, ix->list, &k, &v);
    }
    return rc;
}

/* Builds the index anew from the signups table, on the two cores (nothing else runs yet):
 * two threads read and decode half of the ids each, then two fill and save a hash table each
 * while this one sorts and writes the lists. Measured (README "Benchmark"), 10.3 M sign-ups
 * on one thread: 27.8-31.5 s, of which reading and decoding ~20 s. Memory: 65 bytes a record,
 * allocated once (touching new memory is much of the cost on a virtual machine). */
static int
s_rebuild(evt_index_t *ix, kp_store_t *store, uint64_t *n)
{
    MDB_env *env = kp_store_env(store);
    MDB_dbi signups = kp_store_dbi(store, EVT_DB_SIGNUPS);
    ix_writer_t w = {.ix = ix};
    ix_share_t sh[2] = {{.ix = ix, .env = env, .dbi = signups},
                        {.ix = ix, .env = env, .dbi = signups}};
    ix_out_t out = {0};
    ix_vec_t list;
    uint64_t first, last;
    size_t entries = 0;
    int rc = 0, mrc;
    int64_t t0 = kp_mono_us(), t1, t2, t3;
    *n = 0;
    if ((mrc = s_id_range(env, signups, &first, &last, &entries))) {
        rc = s_mdb("rebuild", mrc);
        goto out;
    }
    /* A share holds at most its ids, and at most every record: ids deleted (by retention)
     * leave gaps that take no room beyond the table's count. */
    uint64_t mid = first + (last - first) / 2 + 1;
    size_t half0 = entries ? (size_t)(mid - first) : 0,
           half1 = entries ? (size_t)(last - mid + 1) : 0;
    size_t room0 = half0 < entries ? half0 : entries, room1 = half1 < entries ? half1 : entries;
    out.ext = kp_xmalloc((room0 + room1 + 1) * sizeof *out.ext);
    out.email = kp_xmalloc((2 * (room0 + room1) + 1) * sizeof *out.email);
    out.list = kp_xmalloc((room0 + room1 + 1) * IX_LIST_REC);
    sh[0].out = sh[1].out = out;
    sh[0].from = first;
    sh[0].to = sh[1].from = mid;
    sh[0].room = sh[1].at = room0;
    sh[1].email_at = 2 * room0;
    sh[1].room = room1;
    uv_thread_t th;
    bool threaded = uv_thread_create(&th, s_read_share, &sh[1]) == 0;
    s_read_share(&sh[0]);
    if (threaded)
        uv_thread_join(&th);
    else
        s_read_share(&sh[1]);
    t1 = kp_mono_us();
    for (int i = 0; i < 2; i++) {
        if (sh[i].rc == KP_ECORRUPT)
            kp_log_err("store.corrupt", "db=signups");
        if (rc == 0)
            rc = sh[i].mdb ? s_mdb("rebuild", sh[i].mdb) : sh[i].rc;
    }
    if (rc || (rc = s_tables_open(ix, entries, true)))
        goto out;
    /* Each table filled and saved on a thread of its own (they share nothing, and the saves
     * wait for the disk), while this thread writes the lists. */
    uint64_t head = kp_store_head(store);
    ix_fill_t fill[2] = {{ix->ext, {out.ext, out.ext + sh[1].at}, {sh[0].n, sh[1].n}, head, 0, 0},
                         {ix->email,
                          {out.email, out.email + sh[1].email_at},
                          {sh[0].email_n, sh[1].email_n},
                          head,
                          0,
                          0}};
    uv_thread_t fth[2];
    bool fthreaded[2];
    for (int i = 0; i < 2; i++)
        fthreaded[i] = uv_thread_create(&fth[i], s_fill, &fill[i]) == 0;
    /* The second share's records follow the first's (ids that were never used leave a gap). */
    memmove(out.list + sh[0].n * IX_LIST_REC, out.list + sh[1].at * IX_LIST_REC,
            sh[1].n * IX_LIST_REC);
    list.p = out.list;
    list.n = *n = sh[0].n + sh[1].n;
    rc = s_write_lists(ix, &list, &w);
    t2 = kp_mono_us();
    for (int i = 0; i < 2; i++) {
        if (fthreaded[i])
            uv_thread_join(&fth[i]);
        else
            s_fill(&fill[i]);
    }
    t3 = kp_mono_us();
    if (rc || (rc = fill[0].rc) || (rc = fill[1].rc))
        goto out;
    if (!w.wt && (mrc = mdb_txn_begin(ix->env, NULL, 0, &w.wt))) {
        w.wt = NULL;
        rc = s_mdb("rebuild", mrc);
        goto out;
    }
    if ((rc = s_put_through(ix, w.wt, head)))
        goto out;
    mrc = mdb_txn_commit(w.wt);
    w.wt = NULL;
    rc = s_mdb("rebuild", mrc);
    kp_log_info(
        "events.index", "rebuild_read_ms=%lld lists_ms=%lld tables_ms=%lld save_ms=%lld",
        (long long)((t1 - t0) / 1000), (long long)((t2 - t1) / 1000), (long long)((t3 - t1) / 1000),
        (long long)((fill[0].save_us > fill[1].save_us ? fill[0].save_us : fill[1].save_us) /
                    1000));
out:
    free(out.ext);
    free(out.email);
    free(out.list);
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

/* Indexes again every sign-up named by the log above `from`. */
static int
s_catch_up(evt_index_t *ix, kp_store_t *store, uint64_t from, uint64_t *n)
{
    catchup_t c = {.ix = ix, .signups = kp_store_dbi(store, EVT_DB_SIGNUPS)};
    uint64_t head = kp_store_head(store);
    *n = 0;
    if (from >= head)
        return 0;
    int rc = s_room(ix, IX_HEADROOM + (size_t)(head - from) * 256);
    if (rc)
        return rc;
    if ((rc = mdb_txn_begin(kp_store_env(store), NULL, MDB_RDONLY, &c.rt)))
        return s_mdb("catchup_begin", rc);
    if ((rc = mdb_txn_begin(ix->env, NULL, 0, &c.wt))) {
        mdb_txn_abort(c.rt);
        return s_mdb("catchup_begin", rc);
    }
    rc = kp_store_log_read(store, c.rt, from + 1, UINT32_MAX, SIZE_MAX, s_catchup_one, &c);
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

/* Continues the hash tables' save pass (keyhash.c) after a turn: parts written at a rate that
 * writes both tables whole in IX_PASS_US, so that a kill leaves at most about two passes of
 * sign-ups to catch up from the log. Measured (README "Benchmark"): at 10,000,000 stored,
 * 1 GiB a pass, ~35 MiB/s of writes, ~5 parts (0.3 MiB) a turn. A failed write is logged by
 * keyhash.c and tried again IX_PASS_RETRY_US later; the pass then resumes where it stopped. */
static void
s_flush(evt_index_t *ix, uint64_t head)
{
    int64_t now = kp_mono_us();
    ix->flush_credit_us += now - ix->flush_at_us;
    ix->flush_at_us = now;
    if (ix->flush_credit_us > IX_FLUSH_BURST_US)
        ix->flush_credit_us = IX_FLUSH_BURST_US;
    size_t total = evt_kh_parts(ix->ext) + evt_kh_parts(ix->email);
    if (ix->flush_credit_us <= 0)
        return;
    size_t parts = (size_t)((uint64_t)ix->flush_credit_us * total / IX_PASS_US);
    if (parts == 0)
        return;
    ix->flush_credit_us -= (int64_t)(parts * IX_PASS_US / total);
    if (evt_kh_flush(ix->ext, head, parts) != 0 || evt_kh_flush(ix->email, head, parts) != 0)
        ix->flush_credit_us = -IX_PASS_RETRY_US;
}

static void
s_turn_done(void *arg, int rc)
{
    evt_index_t *ix = arg;
    if (rc == 0)
        for (size_t i = 0; i < ix->dels_n; i++)
            evt_kh_del(ix->email, ix->dels[i].tag, ix->dels[i].id);
    ix->dels_n = 0;
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
    s_flush(ix, head);
}

static void
s_stop(void *arg)
{
    evt_index_t *ix = arg;
    if (ix->txn) {
        mdb_txn_abort(ix->txn);
        ix->txn = NULL;
    }
    ix->dels_n = 0;
    if (ix->env) {
        int rc = mdb_env_sync(ix->env, 1);
        mdb_env_close(ix->env);
        ix->env = NULL;
        /* "clean" only when everything reached the disk (a start that failed before its
         * tables were saved leaves them absent or in memory: rebuilt next time). */
        if (rc)
            s_mdb("sync", rc);
        else if (evt_kh_save(ix->ext, ix->through, true) == 0 &&
                 evt_kh_save(ix->email, ix->through, true) == 0)
            s_state_write(ix, "clean\n");
    }
    evt_kh_close(ix->ext);
    evt_kh_close(ix->email);
    ix->ext = ix->email = NULL;
}

void
evt_index_close(evt_svc_t *svc)
{
    evt_index_t *ix = svc->index;
    if (!ix)
        return;
    s_stop(ix);
    kp_arena_destroy(&ix->arena);
    free(ix->dels);
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
    if (svc->index_dir && svc->index_dir[0])
        snprintf(ix->dir, sizeof ix->dir, "%s", svc->index_dir);
    else
        snprintf(ix->dir, sizeof ix->dir, "%s/index", kp_store_dir(store));
    svc->index = ix;
    if (mkdir(ix->dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        kp_log_err("events.index",
                   "op=mkdir dir=\"%s\" what=\"%s\" (the index-dir setting, or "
                   "<data-dir>/index)",
                   ix->dir, kp_strerror(rc));
        return rc;
    }
    char boot[64], line[128];
    s_boot_id(boot, sizeof boot);
    int64_t t0 = kp_mono_us();
    bool trusted = s_state_trusted(ix, boot);
    int rc = s_env_open(ix, IX_MAP_MIN, !trusted);
    uint64_t from = 0;
    if (rc == 0 && trusted &&
        (!ix->have_through || ix->through > kp_store_head(store) || s_tables_open(ix, 0, false) ||
         (from = s_tables_from(ix)) > kp_store_head(store))) {
        /* an unfinished rebuild, a store older than the index, hash tables missing or not
         * such tables */
        trusted = false;
        mdb_env_close(ix->env);
        ix->env = NULL;
        rc = s_env_open(ix, IX_MAP_MIN, true);
    }
    snprintf(line, sizeof line, "open %s\n", boot);
    if (rc || (rc = s_state_write(ix, line)))
        return rc;
    uint64_t n = 0;
    rc = trusted ? s_catch_up(ix, store, from, &n) : s_rebuild(ix, store, &n);
    if (rc)
        return rc;
    kp_log_notice("events.index", "%s=%llu from=%llu through=%llu ms=%lld",
                  trusted ? "caught_up" : "rebuilt", (unsigned long long)n,
                  (unsigned long long)(trusted ? from : 0), (unsigned long long)ix->through,
                  (long long)((kp_mono_us() - t0) / 1000));
    ix->flush_at_us = kp_mono_us();
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

/* ---- the lookups the service makes --------------------------------------------------------- */

/* A walk over the ids of one tag, each checked against its sign-up record by match. */
typedef struct {
    kp_tx_t *t;
    bool (*match)(const void *key, const evt_signup_t *s);
    const void *key;
    uint64_t id;
    int rc;
} ix_find_t;

static int
s_find_one(void *arg, uint64_t id)
{
    ix_find_t *f = arg;
    evt_signup_t *s;
    bool there = false;
    if ((f->rc = evt_signup_get(f->t, id, &s, &there)))
        return 1;
    if (!there || !f->match(f->key, s))
        return 0; /* stale, or another key's tag */
    f->id = id;
    return 1;
}

/* The first id under tag whose record matches key: *found and *id. */
static int
s_find(kp_tx_t *t, const evt_khash_t *h, uint64_t tag, const void *key,
       bool (*match)(const void *, const evt_signup_t *), uint64_t *id, bool *found)
{
    ix_find_t f = {.t = t, .match = match, .key = key};
    *found = evt_kh_each(h, tag, s_find_one, &f) != 0 && f.rc == 0;
    if (*found)
        *id = f.id;
    return f.rc;
}

static int
s_ready(kp_tx_t *t, evt_index_t **ixp)
{
    evt_index_t *ix = EVT_SVC(t)->index;
    if (!ix || !ix->env || !ix->ext || !ix->email)
        return KP_ESTORE;
    *ixp = ix;
    return 0;
}

typedef struct {
    uint64_t event_id;
    const char *email;
    bool live; /* only a sign-up that is neither cancelled nor erased */
} ix_email_key_t;

static bool
s_email_match(const void *key, const evt_signup_t *s)
{
    const ix_email_key_t *k = key;
    if (s->event_id != k->event_id || (k->live && (s->state == SS(CANCELLED) || s->erased)))
        return false;
    char a[256], b[256];
    kp_text_ascii_lower(a, sizeof a, k->email);
    kp_text_ascii_lower(b, sizeof b, s->email);
    return strcmp(a, b) == 0;
}

int
evt_email_get(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t *signup_id, bool *found)
{
    evt_index_t *ix;
    *found = false;
    int rc = s_ready(t, &ix);
    ix_email_key_t key = {event_id, email, true};
    return rc ? rc
              : s_find(t, ix->email, s_email_tag(ix, event_id, email), &key, s_email_match,
                       signup_id, found);
}

int
evt_email_put(kp_tx_t *t, uint64_t event_id, const char *email, uint64_t signup_id)
{
    evt_index_t *ix;
    int rc = s_ready(t, &ix);
    return rc ? rc : evt_kh_put(ix->email, s_email_tag(ix, event_id, email), signup_id);
}

/* Removes the pair (tag, id) of the e-mail table once the turn has committed (s_turn_done). */
static void
s_del_later(evt_index_t *ix, uint64_t tag, uint64_t id)
{
    if (ix->dels_n == ix->dels_cap) {
        ix->dels_cap = ix->dels_cap ? ix->dels_cap * 2 : 64;
        ix->dels = kp_xrealloc(ix->dels, ix->dels_cap * sizeof *ix->dels);
    }
    ix->dels[ix->dels_n++] = (struct ix_del){tag, id};
}

/* Removes the address's pairs once the turn has committed (s_turn_done). */
int
evt_email_del(kp_tx_t *t, uint64_t event_id, const char *email)
{
    evt_index_t *ix;
    int rc = s_ready(t, &ix);
    if (rc)
        return rc;
    uint64_t tag = s_email_tag(ix, event_id, email), id = 0;
    ix_email_key_t key = {event_id, email, false};
    bool found = false;
    if ((rc = s_find(t, ix->email, tag, &key, s_email_match, &id, &found)) || !found)
        return rc;
    s_del_later(ix, tag, id);
    return 0;
}

typedef struct {
    uint64_t event_id;
    const char *phone, *email; /* email: the new sign-up's ("" without one) */
} ix_phone_key_t;

/* The same number on a live sign-up of the event, unless both sign-ups give an e-mail
 * address: two people of a household may share a phone, each with an address of their own
 * (the same address is the e-mail index's). */
static bool
s_phone_match(const void *key, const evt_signup_t *s)
{
    const ix_phone_key_t *k = key;
    return s->event_id == k->event_id && s->state != SS(CANCELLED) && !s->erased &&
           (!k->email[0] || !s->email[0]) && kp_privacy_phone_eq(k->phone, s->phone);
}

/* The index and the number's tag in the event (0: a number without a digit, never indexed). */
static int
s_phone_at(kp_tx_t *t, uint64_t event_id, const char *phone, evt_index_t **ix, uint64_t *tag)
{
    int rc = s_ready(t, ix);
    *tag = rc ? 0 : s_phone_tag(*ix, event_id, phone);
    return rc;
}

int
evt_phone_get(kp_tx_t *t, uint64_t event_id, const char *phone, const char *email,
              uint64_t *signup_id, bool *found)
{
    evt_index_t *ix;
    uint64_t tag;
    ix_phone_key_t key = {event_id, phone, email ? email : ""};
    *found = false;
    int rc = s_phone_at(t, event_id, phone, &ix, &tag);
    return rc || !tag ? rc : s_find(t, ix->email, tag, &key, s_phone_match, signup_id, found);
}

int
evt_phone_put(kp_tx_t *t, uint64_t event_id, const char *phone, uint64_t signup_id)
{
    evt_index_t *ix;
    uint64_t tag;
    int rc = s_phone_at(t, event_id, phone, &ix, &tag);
    return rc || !tag ? rc : evt_kh_put(ix->email, tag, signup_id);
}

/* Removes the sign-up's phone pair once the turn has committed (s_turn_done). */
int
evt_phone_del(kp_tx_t *t, uint64_t event_id, const char *phone, uint64_t signup_id)
{
    evt_index_t *ix;
    uint64_t tag;
    int rc = s_phone_at(t, event_id, phone, &ix, &tag);
    if (rc == 0 && tag)
        s_del_later(ix, tag, signup_id);
    return rc;
}

typedef struct {
    const char *source, *external_id;
} ix_ext_key_t;

static bool
s_ext_match(const void *key, const evt_signup_t *s)
{
    const ix_ext_key_t *k = key;
    return strcmp(s->source, k->source) == 0 && strcmp(s->external_id, k->external_id) == 0;
}

int
evt_signup_by_ext(kp_tx_t *t, const char *source, const char *external_id, uint64_t *signup_id,
                  bool *found)
{
    evt_index_t *ix;
    *found = false;
    int rc = s_ready(t, &ix);
    ix_ext_key_t key = {source, external_id};
    return rc ? rc
              : s_find(t, ix->ext, s_ext_tag(ix, source, external_id), &key, s_ext_match, signup_id,
                       found);
}

int
evt_ext_put(kp_tx_t *t, const char *source, const char *external_id, uint64_t signup_id)
{
    evt_index_t *ix;
    int rc = s_ready(t, &ix);
    return rc ? rc : evt_kh_put(ix->ext, s_ext_tag(ix, source, external_id), signup_id);
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
