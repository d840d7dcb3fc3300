/*  registry/search.c: "registry.org.search", organisations by name words and facets, paged in
 *  Finnish alphabetical order.
 *
 *  Search turns every filter given and every query word into a candidate stream already in
 *  collation order (store.c: a facet run; the runs of the words index of the distinct words a
 *  query word is a prefix of; or a query word's few entries sorted), ranks the streams by how
 *  selective they are from the cursor on, and leapfrogs them (each seeks to the highest
 *  position seen so far until all agree), so that the work follows the sparsest term. Each
 *  position all streams agree on is checked against the summary in byname, which answers
 *  every filter (also a query word too broad to be a stream) without decoding the
 *  organisation. Only when there is no stream at all (no filter, only very broad words) is
 *  name order walked under a budget. The cursor is a position in the order ("sk 0 id", in
 *  hex), so paging is stable. Every query word matches as a prefix of a word of name_fi or name_sv,
 * folded (collate.c), so "mielen" finds "Mielenterveysseura" and "seinajoen" does not find
 *  "Seinäjoen". The cursor is opaque to callers; one this service did not give is INVALID. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_time.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_BUDGET 20000  /* candidates examined per page at most */
#define STEP_BUDGET 200000 /* seeks per page at most */

typedef struct {
    reg_query_words_t q;
    const char *muni;
    int field;
    const char *net;
    size_t net_len;
    int status;
} filter_t;

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
    for (unsigned q = 0; q < f->q.n; q++) {
        const uint8_t *w = f->q.w[q];
        size_t wl = f->q.len[q];
        bool hit = false;
        size_t j = i;
        while (j < n && !hit) {
            size_t e = j;
            while (e < n && s[e] != ' ')
                e++;
            if (e - j >= wl && memcmp(s + j, w, wl) == 0)
                hit = true;
            j = e + 1;
        }
        if (!hit)
            return false;
    }
    return true;
}

typedef struct {
    kp_tx_t *tx;
    const filter_t *f;
    Kumppani__V1__SearchReply *out;
    unsigned limit;
    uint8_t last[REG_POS_MAX]; /* the last position examined */
    size_t last_len;
    bool more;
    unsigned scanned;
} page_t;

/* The summary of the candidate at pos: *summary if the caller gave it, else read into *v
 * (and *summary pointed at it). Returns 0 with *found, or a KP error. */
static int
s_summary(page_t *p, const uint8_t *pos, size_t pl, const MDB_val **summary, MDB_val *v,
          bool *found)
{
    *found = true;
    if (*summary)
        return 0;
    int rc = reg_summary_get(p->tx, pos, pl, v, found);
    *summary = v;
    return rc;
}

/* Checks the candidate at pos against the filters (reading its summary unless given) and
 * adds it to the page. Returns 1 when the page is full, 0 to go on, or a KP error. */
static int
s_take(page_t *p, const uint8_t *pos, size_t pl, const MDB_val *summary)
{
    MDB_val v;
    bool found;
    int rc;
    if (p->out->n_organisations >= p->limit) {
        /* One more match exists beyond the page: there is a next page. */
        if ((rc = s_summary(p, pos, pl, &summary, &v, &found)) || !found)
            return rc;
        if (s_match(p->f, summary->mv_data, summary->mv_size)) {
            p->more = true;
            return 1;
        }
        return 0;
    }
    p->scanned++;
    memcpy(p->last, pos, pl);
    p->last_len = pl;
    if ((rc = s_summary(p, pos, pl, &summary, &v, &found)) || !found)
        return rc;
    if (!s_match(p->f, summary->mv_data, summary->mv_size))
        return 0;
    reg_org_t *o;
    rc = reg_org_get(p->tx, kp_be64_get(pos + pl - 8), &o, &found);
    if (rc)
        return rc;
    if (found)
        p->out->organisations[p->out->n_organisations++] = o;
    return 0;
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

static int
s_pos_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    MDB_val x = {an, (void *)a}, y = {bn, (void *)b};
    return reg_pos_cmp(&x, &y);
}

/* Sparsest first: exact small counts ascending, then dense streams whose EST_CAP-th entry
 * lies furthest along the order. */
static int
s_stream_rank(const void *a, const void *b)
{
    const reg_stream_t *x = *(reg_stream_t *const *)a, *y = *(reg_stream_t *const *)b;
    if (x->dense != y->dense)
        return x->dense ? 1 : -1;
    if (!x->dense)
        return (x->est_n > y->est_n) - (x->est_n < y->est_n);
    return -s_pos_cmp(x->est, x->est_len, y->est, y->est_len);
}

/* Leapfrogs the streams (ranked) from just after the cursor, taking every position all of
 * them hold until the page is full or the budget is spent. */
static int
s_leapfrog(page_t *p, reg_stream_t **st, unsigned k, const uint8_t *cur_pos, size_t cur_len)
{
    uint8_t x[REG_POS_MAX + 1];
    size_t xl = cur_len;
    memcpy(x, cur_pos, cur_len);
    if (cur_len)
        x[xl++] = 0; /* strictly after the cursor */
    unsigned agree = 0, i = 0, steps = 0;
    for (;;) {
        MDB_val y;
        int rc = reg_stream_seek(st[i], x, xl, &y, &steps);
        if (rc)
            return rc;
        if (!y.mv_data || y.mv_size > REG_POS_MAX)
            break;
        if (agree && s_pos_cmp(y.mv_data, y.mv_size, x, xl) == 0) {
            agree++;
        } else {
            memcpy(x, y.mv_data, y.mv_size);
            xl = y.mv_size;
            agree = 1;
        }
        if (agree == k || steps >= STEP_BUDGET) {
            /* All agree (or the budget is spent: settle this one by its summary). */
            rc = s_take(p, x, xl, NULL);
            if (rc) {
                p->scanned += steps;
                return rc < 0 ? rc : 0;
            }
            if (agree != k) {
                p->more = true;
                break;
            }
            x[xl++] = 0;
            agree = 0;
        }
        i = (i + 1) % k;
    }
    p->scanned += steps;
    return 0;
}

/* One position of an ordered walk: taken unless the scan budget is spent (the cursor then
 * says where to go on). */
static int
s_walk_take(void *arg, const uint8_t *pos, size_t pos_len, const MDB_val *summary)
{
    page_t *p = arg;
    if (p->scanned >= SCAN_BUDGET && p->out->n_organisations < p->limit) {
        p->more = true;
        return 1;
    }
    return s_take(p, pos, pos_len, summary);
}

/* The search (see SearchRequest), at most limit organisations, into out. On a bad cursor
 * returns KP_EINVAL. */
static int
s_search(kp_tx_t *tx, const Kumppani__V1__SearchRequest *rq, uint32_t limit,
         Kumppani__V1__SearchReply *out)
{
    kp_arena_t *a = tx->arena;
    filter_t f = {0};
    reg_query_words(rq->query, &f.q);
    f.muni = rq->municipality[0] ? rq->municipality : NULL;
    f.field = rq->field;
    f.net = rq->network[0] ? rq->network : NULL;
    f.net_len = strlen(rq->network);
    f.status = rq->status;
    page_t p = {.tx = tx, .f = &f, .out = out, .limit = limit};
    out->organisations = kp_arena_alloc(a, p.limit * sizeof *out->organisations);
    if (!out->organisations)
        return KP_ENOMEM;

    /* The cursor: hex of a position "sk 0 id". */
    uint8_t cur_pos[REG_POS_MAX];
    size_t cur_len = strlen(rq->cursor) / 2;
    if (strlen(rq->cursor) % 2 || cur_len > REG_POS_MAX || (cur_len && cur_len < 9))
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
    /* 1. Streams: every facet given and every query word that can run as one, ranked by
     *    selectivity and leapfrogged; the summary then checks whatever is not a stream. */
    {
        reg_stream_t *st[REG_QUERY_WORDS + 4];
        unsigned k = 0;
        for (unsigned i = 0; i < f.q.n + 4; i++) {
            reg_stream_t *s = kp_arena_alloc(a, sizeof *s);
            if (!s)
                rc = KP_ENOMEM;
            else
                memset(s, 0, sizeof *s);
            if (!rc && i < f.q.n) {
                bool usable;
                rc = reg_stream_word(tx, s, f.q.w[i], f.q.len[i], &usable);
                if (!rc && usable)
                    st[k++] = s;
                continue;
            }
            if (rc)
                break;
            uint8_t fb = (uint8_t)f.field, sb = (uint8_t)f.status;
            if (i == f.q.n && f.muni)
                rc = reg_stream_facet(tx, s, 'm', f.muni, 3);
            else if (i == f.q.n + 1 && f.field)
                rc = reg_stream_facet(tx, s, 'f', &fb, 1);
            else if (i == f.q.n + 2 && f.net && f.net_len < REG_PRE_MAX - 2)
                rc = reg_stream_facet(tx, s, 'n', f.net, f.net_len);
            else if (i == f.q.n + 3 && f.status)
                rc = reg_stream_facet(tx, s, 's', &sb, 1);
            else
                continue;
            if (rc)
                break;
            st[k++] = s;
        }
        for (unsigned i = 0; !rc && i < k; i++)
            rc = reg_stream_estimate(st[i], cur_pos, cur_len);
        if (!rc && k) {
            qsort(st, k, sizeof *st, s_stream_rank);
            rc = s_leapfrog(&p, st, k, cur_pos, cur_len);
        }
        for (unsigned i = 0; i < k; i++)
            reg_stream_close(st[i]);
        if (rc)
            return rc;
        if (k) {
            out->scanned = p.scanned;
            goto done;
        }
    }

    /* 2. An ordered walk: a facet if one is given, else every name (whose summaries come
     *    with it). */
    uint8_t fb = (uint8_t)f.field, sb = (uint8_t)f.status;
    const uint8_t *after = cur_pos;
    if (f.muni)
        rc = reg_order_walk(tx, 'm', f.muni, 3, after, cur_len, s_walk_take, &p);
    else if (f.net)
        rc = reg_order_walk(tx, 'n', f.net, f.net_len, after, cur_len, s_walk_take, &p);
    else if (f.field)
        rc = reg_order_walk(tx, 'f', &fb, 1, after, cur_len, s_walk_take, &p);
    else if (f.status)
        rc = reg_order_walk(tx, 's', &sb, 1, after, cur_len, s_walk_take, &p);
    else
        rc = reg_order_walk(tx, 0, NULL, 0, after, cur_len, s_walk_take, &p);
    if (rc < 0)
        return rc;
    out->scanned = p.scanned;
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
void
reg_org_search(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__SearchRequest *rq = kp_tx_open(&tx, call, svc);
    uint32_t limit = kp_check_limit(call, rq->limit, 20, 200);
    if (!limit)
        return;
    if (!kp_check_text(call, "query", rq->query, 0, 200))
        return;
    if (rq->municipality[0] && !kp_is_muni_code(rq->municipality)) {
        kp_call_fail(call, REG_C(INVALID), "field 'municipality': a three-digit municipality code");
        return;
    }
    if (rq->network[0] && !reg_network_ok(rq->network)) {
        kp_call_fail(call, REG_C(INVALID), "field 'network': 1..64 of a-z, 0-9, '-', ':'");
        return;
    }
    if (rq->field && !reg_field_name(rq->field)) {
        kp_call_fail(call, REG_C(INVALID), "field 'field': not a Field value");
        return;
    }
    if (rq->status < 0 || rq->status > REG_DISSOLVED) {
        kp_call_fail(call, REG_C(INVALID), "field 'status': UNSPECIFIED, ACTIVE or DISSOLVED");
        return;
    }
    Kumppani__V1__SearchReply r = KUMPPANI__V1__SEARCH_REPLY__INIT;
    int64_t t0 = kp_mono_us();
    int rc = s_search(&tx, rq, limit, &r);
    r.server_us = (uint32_t)(kp_mono_us() - t0);
    if (rc == KP_EINVAL) {
        kp_call_fail(call, REG_C(INVALID), "field 'cursor': not a cursor this service gave");
        return;
    }
    kp_tx_answer(&tx, rc, &r.base);
}
