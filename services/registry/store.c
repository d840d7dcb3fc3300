/*  registry/store.c: the registry's tables and indexes (layout in registry.h), and search.
 *
 *  An organisation's index entries are derived from its record alone, so an update removes
 *  the entries of the old record and writes those of the new one in the same transaction.
 *
 *  Search picks one candidate stream that is already in collation order (a facet, or all
 *  names), or, when the query has a word whose prefix matches few index entries, collects
 *  those and sorts them. Every candidate is checked against the summary in byname, which
 *  answers all filters without decoding the organisation. A scan budget bounds the work of a
 *  page; the cursor is a position in the order ("sk 0 id"), so paging is stable. */
#include "kp_err.h"
#include "kp_log.h"
#include "kp_text.h"
#include "kp_wire.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const reg_db_names[REG_DB_N] = {"munis", "orgs",     "byname",  "facets",
                                            "words", "uniq",     "people",  "pidem",
                                            "roles", "role_idx", "meetings"};

#define WORDS_COLLECT_MAX 2000 /* a query word matching fewer entries is collected and sorted */
#define SCAN_BUDGET 20000      /* candidates examined per page at most */
#define POS_MAX (REG_SK_MAX + 9)

static MDB_dbi
s_dbi(kp_call_t *call, unsigned i)
{
    return kp_store_dbi(kp_call_store(call), i);
}

int
reg_mdb(int rc)
{
    if (rc && rc != MDB_NOTFOUND)
        kp_log_err("registry.mdb", "mdb=%d", rc);
    return kp_err_from_mdb(rc);
}

int
reg_get_msg(kp_call_t *call, unsigned db, const void *key, size_t klen,
            const ProtobufCMessageDescriptor *d, void **out, bool *found)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(kp_call_txn(call), s_dbi(call, db), &k, &v);
    *found = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return reg_mdb(rc);
    *out = protobuf_c_message_unpack(d, kp_arena_pbc(kp_call_arena(call)), v.mv_size, v.mv_data);
    if (!*out) {
        kp_log_err("registry.corrupt", "db=%u", db);
        return KP_ECORRUPT;
    }
    return 0;
}

int
reg_put_msg(MDB_txn *txn, kp_store_t *st, kp_arena_t *a, unsigned db, const void *key, size_t klen,
            const ProtobufCMessage *m)
{
    uint8_t *bytes;
    size_t len;
    if (kp_wire_pack(a, m, &bytes, &len))
        return KP_ENOMEM;
    MDB_val k = {klen, (void *)key}, v = {len, bytes};
    return reg_mdb(mdb_put(txn, kp_store_dbi(st, db), &k, &v, 0));
}

int
reg_muni_get(kp_call_t *call, const char *code, reg_muni_t **out, bool *found)
{
    if (strlen(code) != 3) {
        *found = false;
        return 0;
    }
    return reg_get_msg(call, REG_DB_MUNIS, code, 3, &kumppani__v1__municipality__descriptor,
                       (void **)out, found);
}

int
reg_org_get(kp_call_t *call, uint64_t id, reg_org_t **out, bool *found)
{
    uint8_t key[8];
    kp_be64_put(key, id);
    return reg_get_msg(call, REG_DB_ORGS, key, 8, &kumppani__v1__organisation__descriptor,
                       (void **)out, found);
}

/* ---- index entries ----------------------------------------------------------------------- */

/* "sk 0 id" of an organisation into pos; returns its length. */
static size_t
s_pos(const reg_org_t *o, uint8_t *pos)
{
    size_t n = reg_sortkey(o->fields->name_fi, pos, REG_SK_MAX);
    pos[n++] = 0;
    kp_be64_put(pos + n, o->id);
    return n + 8;
}

/* The summary: status u8, fields u32, n_munis u8 + 3 bytes each, n_networks u8 + (len u8,
 * bytes) each, then the folded words of both names separated by spaces. */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf_t;

static void
s_put(buf_t *b, const void *p, size_t n)
{
    if (b->n + n <= b->cap)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void
s_word_to_buf(void *arg, const uint8_t *w, size_t n)
{
    buf_t *b = arg;
    if (b->n + n + 1 > b->cap)
        return;
    s_put(b, w, n);
    s_put(b, " ", 1);
}

static size_t
s_summary(const reg_org_t *o, uint8_t *out, size_t cap)
{
    buf_t b = {out, 0, cap};
    const reg_fields_t *f = o->fields;
    uint8_t st = (uint8_t)o->status, u8;
    s_put(&b, &st, 1);
    uint32_t bits = 0;
    for (size_t i = 0; i < f->n_fields; i++)
        bits |= 1u << (f->fields[i] & 31);
    uint8_t bb[4] = {(uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                     (uint8_t)bits};
    s_put(&b, bb, 4);
    u8 = (uint8_t)(1 + f->n_municipalities);
    s_put(&b, &u8, 1);
    s_put(&b, f->home_municipality, 3);
    for (size_t i = 0; i < f->n_municipalities; i++)
        s_put(&b, f->municipalities[i], 3);
    u8 = (uint8_t)f->n_networks;
    s_put(&b, &u8, 1);
    for (size_t i = 0; i < f->n_networks; i++) {
        u8 = (uint8_t)strlen(f->networks[i]);
        s_put(&b, &u8, 1);
        s_put(&b, f->networks[i], u8);
    }
    reg_words(f->name_fi, s_word_to_buf, &b);
    reg_words(f->name_sv, s_word_to_buf, &b);
    return b.n > cap ? cap : b.n;
}

typedef int (*entry_fn)(void *, const uint8_t *, size_t);

typedef struct {
    entry_fn fn;
    void *arg;
    const uint8_t *pos;
    size_t pos_len;
    int rc;
} words_ctx_t;

static void
s_word_entry(void *arg, const uint8_t *w, size_t n)
{
    words_ctx_t *c = arg;
    uint8_t key[REG_WORD_MAX + 1 + POS_MAX];
    memcpy(key, w, n);
    key[n] = 0;
    memcpy(key + n + 1, c->pos, c->pos_len);
    if (!c->rc)
        c->rc = c->fn(c->arg, key, n + 1 + c->pos_len);
}

/* Calls fn(arg, key, len) with every words and facets key of o; the key's first byte tells
 * the db: 'W' words, 'F' facets. */
static int
s_each_index_key(const reg_org_t *o, entry_fn fn, void *arg)
{
    uint8_t pos[POS_MAX];
    size_t pl = s_pos(o, pos);
    uint8_t key[2 + 80 + POS_MAX];
    const reg_fields_t *f = o->fields;
    int rc;
#define FACET(tag, v, vlen)                                                                        \
    do {                                                                                           \
        key[0] = 'F';                                                                              \
        key[1] = (tag);                                                                            \
        memcpy(key + 2, (v), (vlen));                                                              \
        key[2 + (vlen)] = 0;                                                                       \
        memcpy(key + 3 + (vlen), pos, pl);                                                         \
        if ((rc = fn(arg, key, 3 + (vlen) + pl)))                                                  \
            return rc;                                                                             \
    } while (0)
    FACET('m', f->home_municipality, 3);
    for (size_t i = 0; i < f->n_municipalities; i++)
        if (strcmp(f->municipalities[i], f->home_municipality) != 0)
            FACET('m', f->municipalities[i], 3);
    for (size_t i = 0; i < f->n_fields; i++) {
        uint8_t fb = (uint8_t)f->fields[i];
        FACET('f', &fb, 1);
    }
    for (size_t i = 0; i < f->n_networks; i++)
        FACET('n', f->networks[i], strlen(f->networks[i]));
    uint8_t sb = (uint8_t)o->status;
    FACET('s', &sb, 1);
#undef FACET
    /* Words: their keys never start with 'F' (folded words are lower case). */
    words_ctx_t wc = {fn, arg, pos, pl, 0};
    reg_words(f->name_fi, s_word_entry, &wc);
    if (!wc.rc)
        reg_words(f->name_sv, s_word_entry, &wc);
    return wc.rc;
}

typedef struct {
    MDB_txn *txn;
    MDB_dbi facets, words;
    bool del;
} idx_ctx_t;

static int
s_index_op(void *arg, const uint8_t *key, size_t len)
{
    idx_ctx_t *c = arg;
    MDB_val k, v = {0, ""};
    MDB_dbi db;
    if (key[0] == 'F') {
        k = (MDB_val){len - 1, (void *)(key + 1)};
        db = c->facets;
    } else {
        k = (MDB_val){len, (void *)key};
        db = c->words;
    }
    int rc = c->del ? mdb_del(c->txn, db, &k, NULL) : mdb_put(c->txn, db, &k, &v, 0);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    return rc ? reg_mdb(rc) : 0;
}

static int
s_uniq(kp_call_t *call, char tag, const char *v, uint64_t id, bool del)
{
    if (!*v)
        return 0;
    uint8_t key[64];
    size_t n = strlen(v);
    key[0] = (uint8_t)tag;
    memcpy(key + 1, v, n);
    MDB_val k = {n + 1, key};
    uint8_t idb[8];
    kp_be64_put(idb, id);
    MDB_val d = {8, idb};
    int rc = del ? mdb_del(kp_call_wtxn(call), s_dbi(call, REG_DB_UNIQ), &k, NULL)
                 : mdb_put(kp_call_wtxn(call), s_dbi(call, REG_DB_UNIQ), &k, &d, 0);
    return rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

static int
s_index(kp_call_t *call, const reg_org_t *o, bool del)
{
    MDB_txn *txn = kp_call_wtxn(call);
    uint8_t pos[POS_MAX], sum[2048];
    size_t pl = s_pos(o, pos);
    MDB_val k = {pl, pos};
    int rc;
    if (del) {
        rc = mdb_del(txn, s_dbi(call, REG_DB_BYNAME), &k, NULL);
    } else {
        MDB_val v = {s_summary(o, sum, sizeof sum), sum};
        rc = mdb_put(txn, s_dbi(call, REG_DB_BYNAME), &k, &v, 0);
    }
    if (rc && rc != MDB_NOTFOUND)
        return reg_mdb(rc);
    idx_ctx_t c = {txn, s_dbi(call, REG_DB_FACETS), s_dbi(call, REG_DB_WORDS), del};
    if ((rc = s_each_index_key(o, s_index_op, &c)))
        return rc;
    if ((rc = s_uniq(call, 'b', o->fields->business_id, o->id, del)) ||
        (rc = s_uniq(call, 'a', o->fields->association_number, o->id, del)))
        return rc;
    return 0;
}

int
reg_org_put(kp_call_t *call, const reg_org_t *org, const reg_org_t *old)
{
    int rc;
    if (old && (rc = s_index(call, old, true)))
        return rc;
    uint8_t key[8];
    kp_be64_put(key, org->id);
    if ((rc = reg_put_msg(kp_call_wtxn(call), kp_call_store(call), kp_call_arena(call), REG_DB_ORGS,
                          key, 8, &org->base)))
        return rc;
    return s_index(call, org, false);
}

int
reg_org_del(kp_call_t *call, const reg_org_t *old)
{
    int rc;
    if ((rc = s_index(call, old, true)))
        return rc;
    uint8_t key[8];
    kp_be64_put(key, old->id);
    MDB_val k = {8, key};
    return reg_mdb(mdb_del(kp_call_wtxn(call), s_dbi(call, REG_DB_ORGS), &k, NULL));
}

int
reg_uniq_get(kp_call_t *call, char tag, const char *v, uint64_t *id)
{
    *id = 0;
    size_t n = strlen(v);
    if (!n || n > 60)
        return 0;
    uint8_t key[64];
    key[0] = (uint8_t)tag;
    memcpy(key + 1, v, n);
    MDB_val k = {n + 1, key}, d;
    int rc = mdb_get(kp_call_txn(call), s_dbi(call, REG_DB_UNIQ), &k, &d);
    if (rc == 0 && d.mv_size == 8)
        *id = kp_be64_get(d.mv_data);
    return rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

int
reg_org_by_name(kp_call_t *call, const char *name_fi, const char *home, uint64_t *id)
{
    *id = 0;
    uint8_t pos[POS_MAX];
    size_t n = reg_sortkey(name_fi, pos, REG_SK_MAX);
    pos[n] = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(kp_call_txn(call), s_dbi(call, REG_DB_BYNAME), &cur);
    if (rc)
        return reg_mdb(rc);
    MDB_val k = {n + 1, pos}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == n + 9 && memcmp(k.mv_data, pos, n + 1) == 0) {
        const uint8_t *s = v.mv_data;
        if (v.mv_size >= 9 && memcmp(s + 6, home, 3) == 0) {
            *id = kp_be64_get((const uint8_t *)k.mv_data + n + 1);
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

/* ---- search ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t w[REG_WORD_MAX];
    size_t n;
} qword_t;

typedef struct {
    qword_t q[REG_QUERY_WORDS];
    unsigned qn;
    const char *muni;
    int field;
    const char *net;
    size_t net_len;
    int status;
} filter_t;

static void
s_qword(void *arg, const uint8_t *w, size_t n)
{
    filter_t *f = arg;
    if (f->qn >= REG_QUERY_WORDS)
        return;
    memcpy(f->q[f->qn].w, w, n);
    f->q[f->qn++].n = n;
}

/* Does the summary s (len n) pass every filter? */
static bool
s_match(const filter_t *f, const uint8_t *s, size_t n)
{
    if (n < 7)
        return false;
    if (f->status && s[0] != f->status)
        return false;
    uint32_t bits = ((uint32_t)s[1] << 24) | ((uint32_t)s[2] << 16) | ((uint32_t)s[3] << 8) | s[4];
    if (f->field && !(bits & (1u << (f->field & 31))))
        return false;
    size_t i = 5;
    unsigned mn = s[i++];
    bool ok = !f->muni;
    for (unsigned k = 0; k < mn && i + 3 <= n; k++, i += 3)
        if (f->muni && memcmp(s + i, f->muni, 3) == 0)
            ok = true;
    if (!ok || i >= n)
        return false;
    unsigned nn = s[i++];
    ok = !f->net;
    for (unsigned k = 0; k < nn && i < n; k++) {
        size_t l = s[i++];
        if (f->net && l == f->net_len && i + l <= n && memcmp(s + i, f->net, l) == 0)
            ok = true;
        i += l;
    }
    if (!ok)
        return false;
    /* Words: every query word is a prefix of some name word. */
    for (unsigned q = 0; q < f->qn; q++) {
        const qword_t *w = &f->q[q];
        bool hit = false;
        size_t j = i;
        while (j < n && !hit) {
            size_t e = j;
            while (e < n && s[e] != ' ')
                e++;
            if (e - j >= w->n && memcmp(s + j, w->w, w->n) == 0)
                hit = true;
            j = e + 1;
        }
        if (!hit)
            return false;
    }
    return true;
}

typedef struct {
    kp_call_t *call;
    const filter_t *f;
    Kumppani__V1__SearchReply *out;
    unsigned limit;
    uint8_t last[POS_MAX]; /* the last position examined */
    size_t last_len;
    bool more;
    unsigned scanned;
} page_t;

/* Checks the candidate at pos against the filters (reading its summary unless given) and
 * adds it to the page. Returns 1 when the page is full, 0 to go on, or a KP error. */
static int
s_take(page_t *p, const uint8_t *pos, size_t pl, const MDB_val *summary)
{
    MDB_val v;
    if (p->out->n_organisations >= p->limit) {
        /* One more match exists beyond the page: there is a next page. */
        if (!summary) {
            MDB_val k = {pl, (void *)pos};
            int rc = mdb_get(kp_call_txn(p->call), s_dbi(p->call, REG_DB_BYNAME), &k, &v);
            if (rc)
                return rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
            summary = &v;
        }
        if (s_match(p->f, summary->mv_data, summary->mv_size)) {
            p->more = true;
            return 1;
        }
        return 0;
    }
    p->scanned++;
    memcpy(p->last, pos, pl);
    p->last_len = pl;
    if (!summary) {
        MDB_val k = {pl, (void *)pos};
        int rc = mdb_get(kp_call_txn(p->call), s_dbi(p->call, REG_DB_BYNAME), &k, &v);
        if (rc)
            return rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
        summary = &v;
    }
    if (!s_match(p->f, summary->mv_data, summary->mv_size))
        return 0;
    reg_org_t *o;
    bool found;
    int rc = reg_org_get(p->call, kp_be64_get(pos + pl - 8), &o, &found);
    if (rc)
        return rc;
    if (found)
        p->out->organisations[p->out->n_organisations++] = o;
    return 0;
}

static int
s_cmp_pos(const void *a, const void *b)
{
    const MDB_val *x = a, *y = b;
    size_t n = x->mv_size < y->mv_size ? x->mv_size : y->mv_size;
    int c = memcmp(x->mv_data, y->mv_data, n);
    return c ? c : (x->mv_size > y->mv_size) - (x->mv_size < y->mv_size);
}

static int
s_pos_cmp_raw(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    MDB_val x = {an, (void *)a}, y = {bn, (void *)b};
    return s_cmp_pos(&x, &y);
}

/* Collects the positions of index entries whose word starts with w, up to max; returns the
 * count, or max + 1 when there are more. */
static int
s_collect_word(kp_call_t *call, const qword_t *w, MDB_val *v, unsigned max, unsigned *n_out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(kp_call_txn(call), s_dbi(call, REG_DB_WORDS), &cur);
    if (rc)
        return reg_mdb(rc);
    MDB_val k = {w->n, (void *)w->w}, d;
    unsigned n = 0;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= w->n && memcmp(k.mv_data, w->w, w->n) == 0) {
        if (n >= max) {
            n++;
            break;
        }
        const uint8_t *kp = k.mv_data;
        const uint8_t *z = memchr(kp, 0, k.mv_size);
        if (z && v) {
            size_t off = (size_t)(z - kp) + 1;
            v[n] = (MDB_val){k.mv_size - off, (void *)(kp + off)};
        }
        n++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *n_out = n;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : reg_mdb(rc);
}

static int
s_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#define MERGE_WORDS_MAX 64

/* The words index in collation order for one query word: each distinct indexed word that
 * starts with w is a run already sorted by "sk 0 id"; merging the runs gives every
 * organisation with such a word in order, from just after the cursor. Returns 0, a KP error,
 * or 1 when w matches more than MERGE_WORDS_MAX distinct words (the caller does otherwise). */
static int
s_merge_word(page_t *p, const qword_t *w, const uint8_t *cur_pos, size_t cur_len)
{
    kp_call_t *call = p->call;
    MDB_dbi db = s_dbi(call, REG_DB_WORDS);
    MDB_txn *txn = kp_call_txn(call);
    MDB_cursor *cur[MERGE_WORDS_MAX];
    MDB_val head[MERGE_WORDS_MAX];
    size_t wlen[MERGE_WORDS_MAX];
    unsigned n = 0;
    int rc = 0, trc = 0;
    uint8_t key[REG_WORD_MAX + 2 + POS_MAX];
    /* Distinct words: from w, then past each word ("word" 0x01 is above every "word 0 ..."). */
    MDB_cursor *scan;
    if ((rc = mdb_cursor_open(txn, db, &scan)))
        return reg_mdb(rc);
    MDB_val k = {w->n, (void *)w->w}, d;
    rc = mdb_cursor_get(scan, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= w->n && memcmp(k.mv_data, w->w, w->n) == 0) {
        const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
        if (!z)
            break;
        if (n == MERGE_WORDS_MAX) {
            n++;
            break;
        }
        size_t l = (size_t)(z - (const uint8_t *)k.mv_data);
        /* Open this run at "word 0 cursor" (or its start). */
        memcpy(key, k.mv_data, l);
        key[l] = 0;
        memcpy(key + l + 1, cur_pos, cur_len);
        wlen[n] = l;
        if ((rc = mdb_cursor_open(txn, db, &cur[n])))
            break;
        MDB_val rk = {l + 1 + cur_len, key}, rd;
        int r2 = mdb_cursor_get(cur[n], &rk, &rd, MDB_SET_RANGE);
        if (r2 == 0 && cur_len && rk.mv_size == l + 1 + cur_len &&
            memcmp(rk.mv_data, key, rk.mv_size) == 0)
            r2 = mdb_cursor_get(cur[n], &rk, &rd, MDB_NEXT);
        if (r2 == 0 && rk.mv_size > l + 1 && memcmp(rk.mv_data, key, l + 1) == 0)
            head[n] = (MDB_val){rk.mv_size - l - 1, (uint8_t *)rk.mv_data + l + 1};
        else
            head[n] = (MDB_val){0, NULL};
        n++;
        key[l] = 1;
        k = (MDB_val){l + 1, key};
        rc = mdb_cursor_get(scan, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(scan);
    if (rc && rc != MDB_NOTFOUND) {
        for (unsigned i = 0; i < n && i < MERGE_WORDS_MAX; i++)
            mdb_cursor_close(cur[i]);
        return reg_mdb(rc);
    }
    if (n > MERGE_WORDS_MAX) {
        for (unsigned i = 0; i < MERGE_WORDS_MAX; i++)
            mdb_cursor_close(cur[i]);
        return 1;
    }
    uint8_t prev[POS_MAX];
    size_t prev_len = 0;
    rc = 0;
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < n; i++)
            if (head[i].mv_size && (best < 0 || s_cmp_pos(&head[i], &head[best]) < 0))
                best = (int)i;
        if (best < 0)
            break;
        if (p->scanned >= SCAN_BUDGET && p->out->n_organisations < p->limit) {
            p->more = true;
            break;
        }
        MDB_val h = head[best];
        if (!(prev_len == h.mv_size && memcmp(prev, h.mv_data, prev_len) == 0)) {
            prev_len = h.mv_size;
            memcpy(prev, h.mv_data, prev_len);
            trc = s_take(p, h.mv_data, h.mv_size, NULL);
            if (trc)
                break;
        }
        size_t l = wlen[best];
        MDB_val rk, rd;
        int r2 = mdb_cursor_get(cur[best], &rk, &rd, MDB_NEXT);
        if (r2 == 0 && rk.mv_size > l + 1 && ((const uint8_t *)rk.mv_data)[l] == 0 &&
            memcmp(rk.mv_data, w->w, w->n) == 0)
            head[best] = (MDB_val){rk.mv_size - l - 1, (uint8_t *)rk.mv_data + l + 1};
        else if (r2 == 0 || r2 == MDB_NOTFOUND)
            head[best] = (MDB_val){0, NULL};
        else {
            rc = reg_mdb(r2);
            break;
        }
    }
    for (unsigned i = 0; i < n; i++)
        mdb_cursor_close(cur[i]);
    if (trc < 0)
        return trc;
    return rc;
}

int
reg_search(kp_call_t *call, const Kumppani__V1__SearchRequest *rq, Kumppani__V1__SearchReply *out)
{
    kp_arena_t *a = kp_call_arena(call);
    filter_t f = {0};
    reg_words(rq->query, s_qword, &f);
    f.muni = rq->municipality[0] ? rq->municipality : NULL;
    f.field = rq->field;
    f.net = rq->network[0] ? rq->network : NULL;
    f.net_len = strlen(rq->network);
    f.status = rq->status;
    page_t p = {.call = call, .f = &f, .out = out, .limit = rq->limit ? rq->limit : 20};
    out->organisations = kp_arena_alloc(a, p.limit * sizeof *out->organisations);
    if (!out->organisations)
        return KP_ENOMEM;

    /* The cursor: hex of a position "sk 0 id". */
    uint8_t cur_pos[POS_MAX];
    size_t cur_len = strlen(rq->cursor) / 2;
    if (strlen(rq->cursor) % 2 || cur_len > POS_MAX || (cur_len && cur_len < 9))
        return KP_EINVAL;
    for (size_t i = 0; i < cur_len; i++) {
        int h = s_hex_val(rq->cursor[2 * i]), l = s_hex_val(rq->cursor[2 * i + 1]);
        if (h < 0 || l < 0)
            return KP_EINVAL;
        cur_pos[i] = (uint8_t)(h * 16 + l);
    }
    if (cur_len && (cur_pos[cur_len - 9] != 0 || memchr(cur_pos, 0, cur_len - 9)))
        return KP_EINVAL;

    int rc = 0;
    /* 1. A selective query word: collect its entries and sort them. */
    if (f.qn) {
        unsigned best = 0, best_n = WORDS_COLLECT_MAX + 2;
        for (unsigned i = 0; i < f.qn; i++) {
            unsigned n;
            if ((rc = s_collect_word(call, &f.q[i], NULL, WORDS_COLLECT_MAX, &n)))
                return rc;
            if (n < best_n) {
                best_n = n;
                best = i;
            }
        }
        if (best_n > WORDS_COLLECT_MAX) {
            /* Many entries: walk the runs of the longest query word in order instead. */
            for (unsigned i = 0; i < f.qn; i++)
                if (f.q[i].n > f.q[best].n)
                    best = i;
            rc = s_merge_word(&p, &f.q[best], cur_pos, cur_len);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                out->scanned = p.scanned;
                goto done;
            }
            rc = 0;
        }
        if (best_n <= WORDS_COLLECT_MAX) {
            MDB_val *v = kp_arena_alloc(a, (best_n + 1) * sizeof *v);
            unsigned n;
            if (!v)
                return KP_ENOMEM;
            if ((rc = s_collect_word(call, &f.q[best], v, WORDS_COLLECT_MAX, &n)))
                return rc;
            qsort(v, n, sizeof *v, s_cmp_pos);
            for (unsigned i = 0; i < n; i++) {
                if (i > 0 && s_cmp_pos(&v[i], &v[i - 1]) == 0)
                    continue;
                if (cur_len && s_pos_cmp_raw(v[i].mv_data, v[i].mv_size, cur_pos, cur_len) <= 0)
                    continue;
                rc = s_take(&p, v[i].mv_data, v[i].mv_size, NULL);
                if (rc < 0)
                    return rc;
                if (rc == 1)
                    break;
            }
            out->scanned = p.scanned;
            goto done;
        }
    }

    /* 2. An ordered stream: a facet if one is given, else every name. */
    {
        uint8_t prefix[80];
        size_t pn = 0;
        unsigned db = REG_DB_BYNAME;
        if (f.muni || f.net || f.field || f.status) {
            db = REG_DB_FACETS;
            if (f.muni) {
                prefix[pn++] = 'm';
                memcpy(prefix + pn, f.muni, 3);
                pn += 3;
            } else if (f.net) {
                prefix[pn++] = 'n';
                memcpy(prefix + pn, f.net, f.net_len);
                pn += f.net_len;
            } else if (f.field) {
                prefix[pn++] = 'f';
                prefix[pn++] = (uint8_t)f.field;
            } else {
                prefix[pn++] = 's';
                prefix[pn++] = (uint8_t)f.status;
            }
            prefix[pn++] = 0;
        }
        uint8_t start[80 + POS_MAX];
        memcpy(start, prefix, pn);
        memcpy(start + pn, cur_pos, cur_len);
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(kp_call_txn(call), s_dbi(call, db), &cur)))
            return reg_mdb(rc);
        MDB_val k = {pn + cur_len, start}, v;
        rc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
        if (rc == 0 && cur_len && k.mv_size == pn + cur_len &&
            memcmp(k.mv_data, start, k.mv_size) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after the cursor */
        int trc = 0;
        while (rc == 0 && k.mv_size > pn && memcmp(k.mv_data, prefix, pn) == 0) {
            if (p.scanned >= SCAN_BUDGET && p.out->n_organisations < p.limit) {
                p.more = true; /* budget spent: the cursor says where to go on */
                break;
            }
            const uint8_t *pos = (const uint8_t *)k.mv_data + pn;
            trc = s_take(&p, pos, k.mv_size - pn, db == REG_DB_BYNAME ? &v : NULL);
            if (trc)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (trc < 0)
            return trc;
        if (rc && rc != MDB_NOTFOUND)
            return reg_mdb(rc);
        out->scanned = p.scanned;
    }
done:
    if (p.more && p.last_len) {
        char *hex = kp_arena_alloc(a, p.last_len * 2 + 1);
        if (!hex)
            return KP_ENOMEM;
        for (size_t i = 0; i < p.last_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", p.last[i]);
        out->next_cursor = hex;
    }
    return 0;
}
