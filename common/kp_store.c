/*  kp_store: LMDB environment, turn transaction and sequence log.
 *
 *  Sync: the environment is opened without MDB_NOSYNC or MDB_NOMETASYNC, so
 *  mdb_txn_commit returns only after the data and meta pages reached the disk; the one
 *  commit per turn is where a service pays for durability, shared by the whole batch.
 *  MDB_WRITEMAP is off: with it, a stray pointer write would reach the map, and a failed
 *  commit could leave torn pages behind.
 *
 *  Head tracking: head is the committed head; turn_head the head inside the open turn,
 *  given back (reset to head) when the turn aborts or fails to commit.
 *
 *  The log is keyed by seq in big-endian order and written with MDB_APPEND: keys that
 *  arrive in order keep LMDB at its fast path (MACHINE-FACTS: ~650k ordered puts/s). */
#include "kp_store.h"

#include "kp_arena.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kumppani/v1/log.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { DB_META, DB_LOG, DB_IDEM, DB_OFFSETS, DB_BUILTIN_N };
#define KP_STORE_MAX_DBS 24

struct kp_store {
    MDB_env *env;
    MDB_dbi builtin[DB_BUILTIN_N];
    MDB_dbi dbs[KP_STORE_MAX_DBS];
    unsigned dbs_n;
    char *source;
    char *dir;                        /* for kp_store_compact's reopen */
    char *db_names[KP_STORE_MAX_DBS]; /* copies of opts.dbs */
    size_t map_size;
    MDB_txn *turn;
    uint64_t head, turn_head;
};

static int
s_mdb(const char *what, int rc)
{
    if (rc && rc != MDB_NOTFOUND && rc != MDB_KEYEXIST)
        kp_log_err("store.mdb", "op=%s mdb=%d", what, rc);
    return kp_err_from_mdb(rc);
}

static int
s_load_head(kp_store_t *self, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, self->builtin[DB_LOG], &c);
    if (rc)
        return s_mdb("cursor_open", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        self->head = kp_be64_get(k.mv_data);
    else
        self->head = 0;
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : s_mdb("cursor_get", rc);
}

static int
s_schema_put(kp_store_t *self, MDB_txn *txn, unsigned version)
{
    uint8_t buf[8];
    kp_be64_put(buf, version);
    MDB_val k = {6, "schema"}, v = {8, buf};
    return s_mdb("put", mdb_put(txn, self->builtin[DB_META], &k, &v, 0));
}

/* Records the schema of a new store; refuses a newer one; migrates an older one. */
static int
s_schema(kp_store_t *self, MDB_txn *txn, const kp_store_opts_t *opts)
{
    unsigned version = opts->schema_version;
    MDB_val k = {6, "schema"}, v;
    int rc = mdb_get(txn, self->builtin[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND)
        return s_schema_put(self, txn, version);
    if (rc)
        return s_mdb("get", rc);
    if (v.mv_size != 8)
        return KP_ECORRUPT;
    uint64_t stored = kp_be64_get(v.mv_data);
    if (stored > version) {
        kp_log_err("store.version", "stored=%llu supported=%u", (unsigned long long)stored,
                   version);
        return KP_EVERSION;
    }
    if (stored < version) {
        kp_log_notice("store.migrate", "from=%llu to=%u", (unsigned long long)stored, version);
        if (opts->migrate &&
            (rc = opts->migrate(opts->migrate_arg, txn, (unsigned)stored, version)) != 0) {
            kp_log_err("store.migrate", "from=%llu to=%u err=%d", (unsigned long long)stored,
                       version, rc);
            return rc;
        }
        return s_schema_put(self, txn, version);
    }
    return 0;
}

/* The directory a compacting copy is written into before it replaces data.mdb. */
static void
s_compact_dir(const char *dir, char *out, size_t len)
{
    snprintf(out, len, "%s/compact.tmp", dir);
}

/* A compacting copy left by a crash before its rename is incomplete or unneeded: remove it. */
static void
s_compact_leftover(const char *dir)
{
    char tmp[4096], file[4200];
    s_compact_dir(dir, tmp, sizeof tmp);
    snprintf(file, sizeof file, "%s/data.mdb", tmp);
    unlink(file);
    rmdir(tmp);
}

int
kp_store_open(kp_store_t **out, const kp_store_opts_t *opts)
{
    static const char *const builtin[DB_BUILTIN_N] = {"meta", "log", "idem", "offsets"};
    if (opts->dbs_n > KP_STORE_MAX_DBS)
        return KP_EINVAL;
    if (mkdir(opts->dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    kp_store_t *self = kp_xcalloc(1, sizeof *self);
    self->source = kp_xstrdup(opts->source);
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&self->env);
    if (rc)
        goto fail;
    mdb_env_set_maxdbs(self->env, KP_STORE_MAX_DBS + DB_BUILTIN_N);
    mdb_env_set_mapsize(self->env, opts->map_size ? opts->map_size : ((size_t)8 << 30));
    rc = mdb_env_open(self->env, opts->dir, MDB_NOTLS, 0600);
    if (rc)
        goto fail;
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        goto fail;
    for (unsigned i = 0; i < DB_BUILTIN_N; i++)
        if ((rc = mdb_dbi_open(txn, builtin[i], MDB_CREATE, &self->builtin[i])) != 0)
            goto fail;
    for (unsigned i = 0; i < opts->dbs_n; i++)
        if ((rc = mdb_dbi_open(txn, opts->dbs[i], MDB_CREATE, &self->dbs[i])) != 0)
            goto fail;
    self->dbs_n = opts->dbs_n;
    int krc = s_schema(self, txn, opts);
    if (krc == 0)
        krc = s_load_head(self, txn);
    if (krc) {
        mdb_txn_abort(txn);
        mdb_env_close(self->env);
        free(self->source);
        free(self);
        return krc;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto fail;
    self->turn_head = self->head;
    self->dir = kp_xstrdup(opts->dir);
    self->map_size = opts->map_size ? opts->map_size : ((size_t)8 << 30);
    for (unsigned i = 0; i < opts->dbs_n; i++)
        self->db_names[i] = kp_xstrdup(opts->dbs[i]);
    s_compact_leftover(self->dir);
    *out = self;
    return 0;
fail:
    s_mdb("open", rc);
    if (txn)
        mdb_txn_abort(txn);
    if (self->env)
        mdb_env_close(self->env);
    free(self->source);
    free(self);
    return kp_err_from_mdb(rc);
}

void
kp_store_close(kp_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kp_store_t *self = *self_p;
    kp_store_turn_abort(self);
    if (self->env)
        mdb_env_close(self->env);
    free(self->source);
    free(self->dir);
    for (unsigned i = 0; i < self->dbs_n; i++)
        free(self->db_names[i]);
    free(self);
    *self_p = NULL;
}

MDB_dbi
kp_store_dbi(const kp_store_t *self, unsigned i)
{
    return self->dbs[i];
}

MDB_env *
kp_store_env(kp_store_t *self)
{
    return self->env;
}

void
kp_store_usage(kp_store_t *self, uint64_t *used, uint64_t *map)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(self->env, &info);
    mdb_env_stat(self->env, &st);
    *used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    *map = info.me_mapsize;
}

const char *
kp_store_dir(const kp_store_t *self)
{
    return self->dir;
}

const char *
kp_store_source(const kp_store_t *self)
{
    return self->source;
}

uint64_t
kp_store_head(const kp_store_t *self)
{
    return self->head;
}

uint64_t
kp_store_turn_head(const kp_store_t *self)
{
    return self->turn ? self->turn_head : self->head;
}

bool
kp_store_turn_open(const kp_store_t *self)
{
    return self->turn != NULL;
}

int
kp_store_turn_txn(kp_store_t *self, MDB_txn **txn)
{
    if (!self->turn) {
        int rc = mdb_txn_begin(self->env, NULL, 0, &self->turn);
        if (rc) {
            self->turn = NULL;
            return s_mdb("turn_begin", rc);
        }
        self->turn_head = self->head;
    }
    *txn = self->turn;
    return 0;
}

int
kp_store_turn_commit(kp_store_t *self, int64_t *commit_ms)
{
    if (!self->turn)
        return 0;
    int rc = mdb_txn_commit(self->turn); /* frees the txn even when it fails */
    self->turn = NULL;
    if (rc) {
        self->turn_head = self->head;
        return s_mdb("turn_commit", rc);
    }
    self->head = self->turn_head;
    if (commit_ms)
        *commit_ms = kp_now_ms();
    return 0;
}

void
kp_store_turn_abort(kp_store_t *self)
{
    if (!self->turn)
        return;
    mdb_txn_abort(self->turn);
    self->turn = NULL;
    self->turn_head = self->head;
}

int
kp_store_log_append(kp_store_t *self, MDB_txn *txn, const char *type, const void *payload,
                    size_t payload_len, int64_t now_ms, void *(*alloc)(void *, size_t), void *arg,
                    uint8_t **event, size_t *event_len, uint64_t *seq)
{
    Kumppani__V1__Event ev = KUMPPANI__V1__EVENT__INIT;
    ev.seq = self->turn_head + 1;
    ev.source = self->source;
    ev.time_ms = now_ms;
    ev.type = (char *)type;
    ev.payload.data = (uint8_t *)payload;
    ev.payload.len = payload_len;
    size_t n = kumppani__v1__event__get_packed_size(&ev);
    uint8_t *buf = alloc(arg, n);
    if (!buf)
        return KP_ENOMEM;
    kumppani__v1__event__pack(&ev, buf);
    uint8_t key[8];
    kp_be64_put(key, ev.seq);
    MDB_val k = {8, key}, v = {n, buf};
    int rc = mdb_put(txn, self->builtin[DB_LOG], &k, &v, MDB_APPEND);
    if (rc)
        return s_mdb("log_put", rc);
    self->turn_head = ev.seq;
    *event = buf;
    *event_len = n;
    *seq = ev.seq;
    return 0;
}

int
kp_store_log_read(kp_store_t *self, MDB_txn *txn, uint64_t from, unsigned limit, size_t max_bytes,
                  int (*fn)(void *, uint64_t, const void *, size_t), void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, self->builtin[DB_LOG], &c);
    if (rc)
        return s_mdb("cursor_open", rc);
    uint8_t key[8];
    kp_be64_put(key, from ? from : 1);
    MDB_val k = {8, key}, v;
    size_t bytes = 0;
    unsigned n = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < limit) {
        if (n > 0 && bytes + v.mv_size > max_bytes)
            break;
        bytes += v.mv_size;
        n++;
        if (fn(arg, kp_be64_get(k.mv_data), v.mv_data, v.mv_size) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : s_mdb("log_read", rc);
}

int
kp_store_log_rewrite(kp_store_t *self, MDB_txn *txn, kp_store_rewrite_fn fn, void *arg,
                     uint64_t *rewritten)
{
    MDB_cursor *c;
    uint64_t n = 0;
    int rc = mdb_cursor_open(txn, self->builtin[DB_LOG], &c);
    if (rc)
        return s_mdb("cursor_open", rc);
    MDB_val k, v;
    int frc = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        Kumppani__V1__Event *ev = kumppani__v1__event__unpack(NULL, v.mv_size, v.mv_data);
        if (!ev) {
            kp_log_err("store.log_corrupt", "seq=%llu",
                       (unsigned long long)(k.mv_size == 8 ? kp_be64_get(k.mv_data) : 0));
            frc = KP_ECORRUPT;
            break;
        }
        uint8_t *payload = NULL;
        size_t payload_len = 0;
        bool changed = false;
        frc = fn(arg, ev, &payload, &payload_len, &changed);
        if (frc == 0 && changed) {
            /* The same event with the new payload: seq, source, time and type stay. */
            ProtobufCBinaryData old = ev->payload;
            ev->payload.data = payload;
            ev->payload.len = payload_len;
            if ((frc = kp_store_repack(c, &k, &ev->base)) == 0)
                n++;
            ev->payload = old; /* the caller's bytes are not freed with the event */
        }
        kumppani__v1__event__free_unpacked(ev, NULL);
        if (frc)
            break;
    }
    mdb_cursor_close(c);
    if (rewritten)
        *rewritten = n;
    if (frc)
        return frc;
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : s_mdb("log_rewrite", rc);
}

int
kp_store_repack(MDB_cursor *c, const MDB_val *key, const ProtobufCMessage *m)
{
    /* The key a cursor hands back points into its page, which a put of another size moves
     * (LMDB deletes the node and inserts it again): the put is given a copy, kept in front of
     * the value in the one allocation. */
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(key->mv_size + len + 1);
    if (!buf)
        return KP_ENOMEM;
    memcpy(buf, key->mv_data, key->mv_size);
    protobuf_c_message_pack(m, buf + key->mv_size);
    MDB_val k = {key->mv_size, buf}, v = {len, buf + key->mv_size};
    int rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT);
    free(buf);
    return s_mdb("repack", rc);
}

int
kp_store_idem_get(kp_store_t *self, MDB_txn *txn, const void *key, size_t key_len, bool *found,
                  MDB_val *val)
{
    if (key_len == 0 || key_len > 511)
        return KP_EINVAL;
    MDB_val k = {key_len, (void *)key};
    int rc = mdb_get(txn, self->builtin[DB_IDEM], &k, val);
    *found = rc == 0;
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : s_mdb("idem_get", rc);
}

int
kp_store_idem_put(kp_store_t *self, MDB_txn *txn, const void *key, size_t key_len, const void *val,
                  size_t val_len)
{
    if (key_len == 0 || key_len > 511)
        return KP_EINVAL;
    MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
    return s_mdb("idem_put", mdb_put(txn, self->builtin[DB_IDEM], &k, &v, 0));
}

int
kp_store_offset_get(kp_store_t *self, MDB_txn *txn, const char *source, uint64_t *seq)
{
    MDB_val k = {strlen(source), (void *)source}, v;
    int rc = mdb_get(txn, self->builtin[DB_OFFSETS], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc)
        return s_mdb("offset_get", rc);
    if (v.mv_size != 8)
        return KP_ECORRUPT;
    *seq = kp_be64_get(v.mv_data);
    return 0;
}

int
kp_store_offset_put(kp_store_t *self, MDB_txn *txn, const char *source, uint64_t seq)
{
    uint8_t buf[8];
    kp_be64_put(buf, seq);
    MDB_val k = {strlen(source), (void *)source}, v = {8, buf};
    return s_mdb("offset_put", mdb_put(txn, self->builtin[DB_OFFSETS], &k, &v, 0));
}

int
kp_store_next_id(kp_store_t *self, MDB_txn *txn, const char *name, uint64_t *id)
{
    char key[64];
    size_t n = strlen(name);
    if (n + 3 > sizeof key)
        return KP_EINVAL;
    memcpy(key, "id:", 3);
    memcpy(key + 3, name, n);
    MDB_val k = {n + 3, key}, v;
    uint64_t next = 1;
    int rc = mdb_get(txn, self->builtin[DB_META], &k, &v);
    if (rc == 0 && v.mv_size == 8)
        next = kp_be64_get(v.mv_data) + 1;
    else if (rc && rc != MDB_NOTFOUND)
        return s_mdb("id_get", rc);
    uint8_t buf[8];
    kp_be64_put(buf, next);
    v.mv_size = 8;
    v.mv_data = buf;
    rc = mdb_put(txn, self->builtin[DB_META], &k, &v, 0);
    if (rc)
        return s_mdb("id_put", rc);
    *id = next;
    return 0;
}

/* Opens the environment again after compaction: same directory, map size and databases. */
static int
s_reopen(kp_store_t *self)
{
    static const char *const builtin[DB_BUILTIN_N] = {"meta", "log", "idem", "offsets"};
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&self->env);
    if (rc) {
        self->env = NULL;
        return s_mdb("reopen", rc);
    }
    mdb_env_set_maxdbs(self->env, KP_STORE_MAX_DBS + DB_BUILTIN_N);
    mdb_env_set_mapsize(self->env, self->map_size);
    if ((rc = mdb_env_open(self->env, self->dir, MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn)) != 0)
        goto done;
    for (unsigned i = 0; i < DB_BUILTIN_N; i++)
        if ((rc = mdb_dbi_open(txn, builtin[i], 0, &self->builtin[i])) != 0)
            goto done;
    for (unsigned i = 0; i < self->dbs_n; i++)
        if ((rc = mdb_dbi_open(txn, self->db_names[i], 0, &self->dbs[i])) != 0)
            goto done;
done:
    rc = kp_store_env_opened(&self->env, txn, rc);
    return rc ? s_mdb("reopen", rc) : 0;
}

int
kp_store_env_opened(MDB_env **env, MDB_txn *txn, int rc)
{
    if (rc == 0 && txn) {
        rc = mdb_txn_commit(txn); /* frees the txn even when it fails */
        txn = NULL;
    }
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

static int
s_fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int
kp_store_compact(kp_store_t *self, uint64_t *before, uint64_t *after)
{
    if (self->turn)
        return KP_EINVAL;
    char tmp[4096], file[4200], data[4200];
    s_compact_dir(self->dir, tmp, sizeof tmp);
    snprintf(file, sizeof file, "%s/data.mdb", tmp);
    snprintf(data, sizeof data, "%s/data.mdb", self->dir);
    struct stat st;
    if (before)
        *before = stat(data, &st) == 0 ? (uint64_t)st.st_size : 0;
    s_compact_leftover(self->dir);
    if (mkdir(tmp, 0700) != 0)
        return -errno;
    /* The copy holds only the live pages: freed pages, and the deleted bytes on them, stay
     * behind in the old file, which the rename below unlinks. */
    int rc = mdb_env_copy2(self->env, tmp, MDB_CP_COMPACT);
    if (rc) {
        s_compact_leftover(self->dir);
        return s_mdb("compact_copy", rc);
    }
    if ((rc = s_fsync_path(file, O_RDONLY)) != 0) {
        s_compact_leftover(self->dir);
        return rc;
    }
    /* Between here and the rename the old file is still the store: a crash keeps it whole
     * and the next open removes the copy. After the rename the copy is the store. */
    mdb_env_close(self->env);
    self->env = NULL;
    if (rename(file, data) != 0) {
        rc = -errno;
        kp_log_err("store.compact", "step=rename errno=%d", -rc);
    }
    rmdir(tmp);
    s_fsync_path(self->dir, O_RDONLY | O_DIRECTORY);
    int orc = s_reopen(self);
    /* Without its environment the service cannot go on; a bug or a disk failure. */
    assert(orc == 0 && "the store reopens after compaction");
    if (after)
        *after = stat(data, &st) == 0 ? (uint64_t)st.st_size : 0;
    return rc;
}

/* A value to write after the walk: the key and the new value, copied. */
typedef struct {
    MDB_val k, v;
} s_rewrite_t;

int
kp_store_idem_rewrite(kp_store_t *self, MDB_txn *txn, const void *prefix, size_t prefix_len,
                      int (*fn)(void *arg, const MDB_val *key, const MDB_val *val, void **out,
                                size_t *out_len),
                      void *arg, unsigned *rewritten)
{
    /* The walk collects and the writes come after it: a put through the walking cursor with a
     * value of another size moves the page's nodes under the key LMDB handed back, and can
     * move the cursor (a split), so that keys came out scrambled and records were passed over
     * or met twice. */
    MDB_cursor *cur;
    s_rewrite_t *w = NULL;
    size_t n = 0, cap = 0;
    int rc = mdb_cursor_open(txn, self->builtin[DB_IDEM], &cur);
    if (rc)
        return s_mdb("idem_cursor", rc);
    MDB_val k = {prefix_len, (void *)prefix}, v;
    int frc = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0)
            break;
        void *out = NULL;
        size_t out_len = 0;
        if ((frc = fn(arg, &k, &v, &out, &out_len)) != 0)
            break;
        if (!out)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            w = kp_xrealloc(w, cap * sizeof *w);
        }
        uint8_t *b = kp_xmalloc(k.mv_size + out_len);
        memcpy(b, k.mv_data, k.mv_size);
        memcpy(b + k.mv_size, out, out_len);
        w[n++] = (s_rewrite_t){{k.mv_size, b}, {out_len, b + k.mv_size}};
    }
    mdb_cursor_close(cur);
    if (!frc && (rc == 0 || rc == MDB_NOTFOUND)) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = mdb_put(txn, self->builtin[DB_IDEM], &w[i].k, &w[i].v, 0);
    }
    for (size_t i = 0; i < n; i++)
        free(w[i].k.mv_data);
    free(w);
    if (rewritten)
        *rewritten = frc || rc ? 0 : (unsigned)n;
    if (frc)
        return frc;
    return rc == 0 ? 0 : s_mdb("idem_rewrite", rc);
}
