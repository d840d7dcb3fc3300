/*  registry/csv.c: CSV import and export (ImportRequest, ExportRequest in registry.proto).
 *
 *  Import runs in two passes over the rows of one request. The first checks every row (cells
 *  free of control characters, known columns, the same field rules as the API, no clash with
 *  another organisation or another row) and matches it to an existing record (by id,
 *  business_id, association_number, or name_fi + home municipality), counting what would be
 *  created, updated or left unchanged. Only if no row failed (or skip_invalid) and not
 *  dry_run does the second pass write, through the same functions as the API, so each change
 *  has its event. A row equal to its record changes nothing: importing a file twice changes
 *  nothing the second time. Errors carry the row's line number and name the column and the
 *  rule, never the value.
 *
 *  Contact persons (columns in registry.proto, CSV_KIND_CONTACT_PERSONS) go the same two
 *  passes: a row matches the person with its e-mail or phone, or adds one (PersonAdded),
 *  and makes them contact person of the municipality (ContactPersonAssigned) unless they
 *  already are in those dates. Two rows naming the same person are one person; for the same
 *  municipality the second is an error. Personal data never enters a reason or a log line.
 *
 *  Export writes RFC 4180 CSV with ',' and quotes where needed. A cell that starts with
 *  = + - @ TAB or CR gets a leading ' so that a spreadsheet shows it as text instead of running
 *  it as a formula (OWASP "CSV injection"); import takes that ' off again, so an exported
 *  file imports unchanged. Lists (municipalities, fields, networks) are joined with '|'. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "registry.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 24
#define MAX_ROWS 5000
#define CP_MAX_ROWS 400 /* contact persons: each row may add a person and a role, with events */
#define MAX_ERRORS 200
#define WHY REG_WHY

enum {
    COL_ID,
    COL_NAME_FI,
    COL_NAME_SV,
    COL_ASSOC,
    COL_BIZ,
    COL_HOME,
    COL_MUNIS,
    COL_FIELDS,
    COL_NETS,
    COL_EMAIL,
    COL_PHONE,
    COL_WEB,
    COL_MEMBERS,
    COL_STATUS,
    COL_ORG_N
};
static const char *const s_org_cols[COL_ORG_N] = {"id",
                                                  "name_fi",
                                                  "name_sv",
                                                  "association_number",
                                                  "business_id",
                                                  "home_municipality",
                                                  "municipalities",
                                                  "fields",
                                                  "networks",
                                                  "email",
                                                  "phone",
                                                  "web",
                                                  "member_count",
                                                  "status"};

enum { CPCOL_NAME, CPCOL_EMAIL, CPCOL_PHONE, CPCOL_MUNI, CPCOL_TITLE, CPCOL_START, CPCOL_N };
static const char *const s_cp_cols[CPCOL_N] = {"name",         "email", "phone",
                                               "municipality", "title", "start_date"};

enum { MCOL_CODE, MCOL_NAME_FI, MCOL_NAME_SV, MCOL_REGION, MCOL_REGION_NAME, MCOL_N };
static const char *const s_muni_cols[MCOL_N] = {"code", "name_fi", "name_sv", "region_code",
                                                "region_name"};

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct {
    const char *p, *end;
    char delim;
    unsigned line;
    char *w, *wend; /* where cells are written: one buffer of 2 x input + 2 bytes */
} rd_t;

/* Gives r its cell buffer. Returns false when the arena is out of room. */
static bool
s_rd_init(rd_t *r, kp_arena_t *a)
{
    size_t n = 2 * (size_t)(r->end - r->p) + 2;
    r->w = kp_arena_alloc(a, n);
    r->wend = r->w ? r->w + n : NULL;
    return r->w != NULL;
}

typedef struct {
    char *cell[MAX_COLS];
    unsigned n;
    unsigned line;
    bool bad_quote, too_many;
} row_t;

/* Reads one record into row (cells in the arena). Returns false at the end of input. */
static bool
s_read_row(rd_t *r, row_t *row)
{
    if (r->p >= r->end)
        return false;
    memset(row, 0, sizeof *row);
    row->line = r->line;
    for (;;) {
        /* Each cell takes at most its input bytes plus a NUL: the buffer is big enough. */
        char *cell = r->w;
        size_t n = 0;
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    row->bad_quote = true;
                    break;
                }
                if (*r->p == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        cell[n++] = '"';
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (*r->p == '\n')
                    r->line++;
                cell[n++] = *r->p++;
            }
            while (r->p < r->end && *r->p != r->delim && *r->p != '\n')
                if (*r->p++ != '\r')
                    row->bad_quote = true;
        } else {
            while (r->p < r->end && *r->p != r->delim && *r->p != '\n')
                cell[n++] = *r->p++;
            if (n && cell[n - 1] == '\r')
                n--;
        }
        cell[n] = 0;
        r->w += n + 1;
        assert(r->w <= r->wend);
        if (row->n < MAX_COLS)
            row->cell[row->n++] = cell;
        else
            row->too_many = true;
        if (r->p < r->end && *r->p == r->delim) {
            r->p++;
            continue;
        }
        if (r->p < r->end)
            r->p++; /* '\n' */
        r->line++;
        return true;
    }
}

static bool
s_blank(const row_t *row)
{
    return row->n == 1 && row->cell[0][0] == 0;
}

/* A cell a spreadsheet would run as a formula starts (after any apostrophes) with one of
 * these. Export puts one more apostrophe in front of such a cell, import takes one away, so
 * that "=x" -> "'=x" -> "=x" and "'=x" -> "''=x" -> "'=x": every cell survives the round
 * trip. */
static bool
s_formula_at(const char *v)
{
    while (*v == '\'')
        v++;
    return *v == '=' || *v == '+' || *v == '-' || *v == '@' || *v == '\t' || *v == '\r';
}

/* Undoes export's formula escaping. */
static char *
s_unescape(char *v)
{
    if (v[0] == '\'' && s_formula_at(v))
        return v + 1;
    return v;
}

/* Splits v at '|' into trimmed, non-empty items in the arena. */
static char **
s_split(kp_arena_t *a, char *v, size_t *n)
{
    size_t cap = 1;
    for (const char *q = v; *q; q++)
        cap += *q == '|';
    char **out = kp_arena_alloc(a, cap * sizeof *out);
    *n = 0;
    if (!out)
        return NULL;
    char *s = v;
    for (;;) {
        char *bar = strchr(s, '|');
        if (bar)
            *bar = 0;
        while (*s == ' ')
            s++;
        size_t l = strlen(s);
        while (l && s[l - 1] == ' ')
            s[--l] = 0;
        if (l)
            out[(*n)++] = s;
        if (!bar)
            break;
        s = bar + 1;
    }
    return out;
}

/* ---- import ------------------------------------------------------------------------------ */

/* A contact-person row: the person's data and the role it asks for. */
typedef struct {
    char *name, *email, *phone;
    uint64_t email_key, phone_key; /* hashes (ppl_t), for rows naming the same person */
    reg_role_t role;
} cp_row_t;

enum { CP_UNCHANGED, CP_UPDATED, CP_CREATED }; /* prow_t.status of a contact-person row */

typedef struct {
    unsigned line;
    uint64_t match; /* existing organisation id, 0 = new */
    reg_fields_t *f;
    int status;
    bool ok;
    char *key_b, *key_a, *key_n; /* for clashes between rows */
    cp_row_t *cp;                /* contact persons */
} prow_t;

typedef struct {
    kp_tx_t *tx;
    Kumppani__V1__ImportReply *rep;
} imp_t;

static void s_row_err(imp_t *im, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_row_err(imp_t *im, unsigned line, const char *fmt, ...)
{
    if (im->rep->n_errors >= MAX_ERRORS)
        return;
    Kumppani__V1__RowError *e = kp_arena_alloc(im->tx->arena, sizeof *e);
    char *msg = kp_arena_alloc(im->tx->arena, WHY);
    if (!e || !msg)
        return;
    kumppani__v1__row_error__init(e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, WHY, fmt, ap);
    va_end(ap);
    e->line = line;
    e->reason = msg;
    im->rep->errors[im->rep->n_errors++] = e;
}

/* The column index of each known name in the header; -1 if absent. Returns NULL or the
 * reason the header is refused. */
static const char *
s_header(const row_t *h, const char *const *names, int n, int *col, char *why)
{
    for (int i = 0; i < n; i++)
        col[i] = -1;
    for (unsigned c = 0; c < h->n; c++) {
        char *name = h->cell[c];
        if (c == 0 && (uint8_t)name[0] == 0xef && (uint8_t)name[1] == 0xbb &&
            (uint8_t)name[2] == 0xbf)
            name += 3; /* byte order mark */
        int k = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(name, names[i]) == 0)
                k = i;
        if (k < 0) {
            snprintf(why, WHY, "header: column %u is not a known column", c + 1);
            return why;
        }
        if (col[k] >= 0) {
            snprintf(why, WHY, "header: column '%s' appears twice", names[k]);
            return why;
        }
        col[k] = (int)c;
    }
    return NULL;
}

static char *
s_cell(row_t *row, const int *col, int k)
{
    return col[k] >= 0 && (unsigned)col[k] < row->n ? s_unescape(row->cell[col[k]]) : "";
}

/* Fills f from an organisation row; returns NULL or a reason. */
static const char *
s_org_row(kp_tx_t *tx, row_t *row, const int *col, prow_t *pr, char *why)
{
    kp_arena_t *a = tx->arena;
    reg_fields_t *f = kp_arena_alloc(a, sizeof *f);
    if (!f)
        return "out of memory";
    kumppani__v1__organisation_fields__init(f);
    pr->f = f;
    f->name_fi = s_cell(row, col, COL_NAME_FI);
    f->name_sv = s_cell(row, col, COL_NAME_SV);
    f->association_number = s_cell(row, col, COL_ASSOC);
    f->business_id = s_cell(row, col, COL_BIZ);
    f->home_municipality = s_cell(row, col, COL_HOME);
    f->email = s_cell(row, col, COL_EMAIL);
    f->phone = s_cell(row, col, COL_PHONE);
    f->web = s_cell(row, col, COL_WEB);
    f->municipalities = s_split(a, s_cell(row, col, COL_MUNIS), &f->n_municipalities);
    f->networks = s_split(a, s_cell(row, col, COL_NETS), &f->n_networks);
    size_t nf;
    char **fl = s_split(a, s_cell(row, col, COL_FIELDS), &nf);
    f->fields = kp_arena_alloc(a, (nf + 1) * sizeof *f->fields);
    if (!fl || !f->fields || !f->municipalities || !f->networks)
        return "out of memory";
    for (size_t i = 0; i < nf; i++) {
        int v = reg_field_parse(fl[i], strlen(fl[i]));
        if (!v) {
            snprintf(why, WHY,
                     "column 'fields': item %zu is not a field of activity (the names: "
                     "kumppani registry register --help)",
                     i + 1);
            return why;
        }
        f->fields[f->n_fields++] = v;
    }
    const char *m = s_cell(row, col, COL_MEMBERS);
    if (m[0]) {
        char *end;
        unsigned long long v = strtoull(m, &end, 10);
        if (*end || m[0] < '0' || m[0] > '9' || v > 10000000) {
            snprintf(why, WHY, "column 'member_count': a number 0..10000000");
            return why;
        }
        f->member_count = (uint32_t)v;
    }
    const char *st = s_cell(row, col, COL_STATUS);
    if (!st[0] || strcmp(st, "active") == 0)
        pr->status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE;
    else if (strcmp(st, "dissolved") == 0)
        pr->status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED;
    else {
        snprintf(why, WHY, "column 'status': active or dissolved");
        return why;
    }
    const char *r = reg_fields_check(tx, f, why, WHY);
    if (r) {
        /* The API's "field 'x'" is the column 'x' here. */
        if (strncmp(r, "field ", 6) == 0) {
            char tmp[WHY];
            snprintf(tmp, sizeof tmp, "column %s", r + 6);
            snprintf(why, WHY, "%s", tmp);
        }
        return why;
    }
    const char *ids = s_cell(row, col, COL_ID);
    uint64_t id = 0, other;
    int rc;
    if (ids[0]) {
        char *end;
        id = strtoull(ids, &end, 10);
        reg_org_t *o;
        bool found = false;
        if (*end || ids[0] < '1' || ids[0] > '9' || (rc = reg_org_get(tx, id, &o, &found)) ||
            !found) {
            snprintf(why, WHY, "column 'id': not the id of an organisation");
            return why;
        }
    }
    if (!id && (rc = reg_uniq_get(tx, 'b', f->business_id, &other)) == 0)
        id = other;
    if (!id && (rc = reg_uniq_get(tx, 'a', f->association_number, &other)) == 0)
        id = other;
    if (!id && (rc = reg_org_by_name(tx, f->name_fi, f->home_municipality, &other)) == 0)
        id = other;
    if ((rc = reg_uniq_get(tx, 'b', f->business_id, &other)) == 0 && other && other != id) {
        snprintf(why, WHY, "column 'business_id': belongs to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    if ((rc = reg_uniq_get(tx, 'a', f->association_number, &other)) == 0 && other && other != id) {
        snprintf(why, WHY, "column 'association_number': belongs to organisation %llu",
                 (unsigned long long)other);
        return why;
    }
    pr->match = id;
    pr->key_b = f->business_id;
    pr->key_a = f->association_number;
    uint8_t sk[REG_SK_MAX];
    size_t skn = reg_sortkey(f->name_fi, sk, sizeof sk);
    pr->key_n = kp_arena_alloc(tx->arena, skn + 4);
    if (!pr->key_n)
        return "out of memory";
    memcpy(pr->key_n, f->home_municipality, 3);
    memcpy(pr->key_n + 3, sk, skn);
    pr->key_n[skn + 3] = 0;
    return NULL;
}

static bool
s_same(const char *a, const char *b)
{
    return a && b && a[0] && strcmp(a, b) == 0;
}

/* "field 'x'" of an API rule is the "column 'x'" here (why is rewritten in place). */
static const char *
s_as_column(char *why)
{
    if (strncmp(why, "field ", 6) == 0) {
        char tmp[WHY + 1]; /* "column " is one byte longer than "field " */
        int n = snprintf(tmp, sizeof tmp, "column %s", why + 6);
        size_t len = n < 0 ? 0 : (size_t)n < WHY ? (size_t)n : WHY - 1;
        memcpy(why, tmp, len);
        why[len] = 0;
    }
    return why;
}

/* The people's e-mails and phones, read once per import (a scan that decodes every person
 * per row made an import of n rows cost n scans). Each is kept as a 64-bit hash (FNV-1a) of
 * its key as kp_privacy compares them (e-mail ASCII lower-case, phone digits and a leading
 * '+'; 0 for none), so that the index stays small in the request's bounded arena; pass 2 adds
 * the people it creates. */
typedef struct {
    kp_arena_t *a;
    uint64_t *email, *phone, *id;
    size_t n, cap;
    bool oom;
} ppl_t;

static uint64_t
s_key_hash(const char *k)
{
    if (!k[0])
        return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h ? h : 1;
}

static uint64_t
s_email_hash(const char *v)
{
    char k[256];
    kp_text_ascii_lower(k, sizeof k, v);
    return s_key_hash(k);
}

static uint64_t
s_phone_hash(const char *v)
{
    char k[40];
    kp_privacy_phone_norm(v, k, sizeof k);
    return s_key_hash(k);
}

static void
s_ppl_add(ppl_t *x, uint64_t id, uint64_t email, uint64_t phone)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        uint64_t *e = kp_arena_alloc(x->a, cap * 8), *p = kp_arena_alloc(x->a, cap * 8),
                 *i = kp_arena_alloc(x->a, cap * 8);
        if (!e || !p || !i) {
            x->oom = true;
            return;
        }
        if (x->n) {
            memcpy(e, x->email, x->n * 8);
            memcpy(p, x->phone, x->n * 8);
            memcpy(i, x->id, x->n * 8);
        }
        x->email = e, x->phone = p, x->id = i, x->cap = cap;
    }
    x->email[x->n] = email;
    x->phone[x->n] = phone;
    x->id[x->n++] = id;
}

static bool
s_ppl_one(void *arg, const reg_person_t *p)
{
    s_ppl_add(arg, p->id, s_email_hash(p->email), s_phone_hash(p->phone));
    return false;
}

static int
s_ppl_load(kp_tx_t *tx, ppl_t *x)
{
    memset(x, 0, sizeof *x);
    x->a = tx->arena;
    uint64_t id;
    size_t n;
    int rc = reg_people_ids(tx, 0, s_ppl_one, x, &id, 1, &n);
    return rc ? rc : x->oom ? KP_ENOMEM : 0;
}

/* The people with this e-mail and with this phone (hashes; 0: none). */
static void
s_ppl_find(const ppl_t *x, uint64_t email, uint64_t phone, uint64_t *by_e, uint64_t *by_p)
{
    *by_e = *by_p = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!*by_e && email && email == x->email[i])
            *by_e = x->id[i];
        if (!*by_p && phone && phone == x->phone[i])
            *by_p = x->id[i];
    }
}

/* A date as a spreadsheet in Finland writes it, D.M.YYYY (also DD.MM.YYYY), as YYYY-MM-DD in
 * the arena; any other text is returned as it is (and checked as YYYY-MM-DD). */
static char *
s_date_fi(kp_arena_t *a, char *s)
{
    unsigned d = 0, m = 0, y = 0;
    int end = 0;
    if (strspn(s, "0123456789.") != strlen(s) ||
        sscanf(s, "%2u.%2u.%4u%n", &d, &m, &y, &end) != 3 || s[end] || y < 1000 ||
        strlen(s) - (size_t)(strrchr(s, '.') - s) != 5)
        return s;
    char *out = kp_arena_alloc(a, 11);
    if (!out)
        return s;
    snprintf(out, 11, "%04u-%02u-%02u", y % 10000, m % 100, d % 100);
    return out;
}

/* Checks a contact-person row and matches its person (by e-mail, else phone); pr->status
 * says what the row would do. Returns NULL or a reason. */
static const char *
s_cp_row(kp_tx_t *tx, const ppl_t *ppl, row_t *row, const int *col, prow_t *pr, const char *today,
         char *why)
{
    cp_row_t *cp = kp_arena_alloc(tx->arena, sizeof *cp);
    if (!cp)
        return "out of memory";
    memset(cp, 0, sizeof *cp);
    pr->cp = cp;
    cp->name = s_cell(row, col, CPCOL_NAME);
    cp->email = s_cell(row, col, CPCOL_EMAIL);
    cp->phone = s_cell(row, col, CPCOL_PHONE);
    char *muni = s_cell(row, col, CPCOL_MUNI), *title = s_cell(row, col, CPCOL_TITLE);
    char *start = s_cell(row, col, CPCOL_START);
    size_t nl = kp_text_chars(cp->name);
    if (nl < 1 || nl > 200)
        return "column 'name': 1..200 characters";
    if (kp_text_chars(cp->email) > 254 || kp_text_chars(cp->phone) > 30)
        return "columns 'email', 'phone': at most 254 and 30 characters";
    if (!cp->email[0] && !cp->phone[0])
        return "columns 'email' and 'phone': at least one (the person is matched by them)";
    if (reg_contact_why(cp->email, cp->phone, why, WHY))
        return s_as_column(why);
    reg_muni_t *m;
    bool found = false;
    int rc;
    if (strlen(muni) != 3 || strspn(muni, "0123456789") != 3 ||
        (rc = reg_muni_get(tx, muni, &m, &found)) || !found)
        return "column 'municipality': the code of a known municipality";
    if (kp_text_chars(title) > 100)
        return "column 'title': at most 100 characters";
    start = s_date_fi(tx->arena, start);
    if (start[0] && !reg_date_valid(start))
        return "column 'start_date': a date YYYY-MM-DD or D.M.YYYY";
    cp->email_key = s_email_hash(cp->email);
    cp->phone_key = s_phone_hash(cp->phone);
    uint64_t by_e = 0, by_p = 0;
    s_ppl_find(ppl, cp->email_key, cp->phone_key, &by_e, &by_p);
    if (by_e && by_p && by_e != by_p) {
        snprintf(why, WHY, "columns 'email' and 'phone': belong to two people (%llu and %llu)",
                 (unsigned long long)by_e, (unsigned long long)by_p);
        return why;
    }
    reg_role_t *r = &cp->role;
    kumppani__v1__role__init(r);
    r->person_id = by_e ? by_e : by_p;
    r->kind = REG_RK(CONTACT_PERSON);
    r->municipality_code = muni;
    r->title = title;
    r->start_date = (char *)(start[0] ? start : kp_arena_memdup(tx->arena, today, 10));
    r->end_date = "";
    bool overlap = false;
    if (r->person_id && (rc = reg_role_overlaps(tx, r, &overlap)))
        return "the registry could not be read";
    pr->status = !r->person_id ? CP_CREATED : overlap ? CP_UNCHANGED : CP_UPDATED;
    return r->start_date ? NULL : "out of memory";
}

/* Writes a checked contact-person row: the person (found again, as an earlier row may have
 * added them), then the role unless they already hold it. */
static int
s_cp_write(kp_tx_t *tx, ppl_t *ppl, cp_row_t *cp)
{
    uint64_t by_e, by_p;
    int rc;
    s_ppl_find(ppl, cp->email_key, cp->phone_key, &by_e, &by_p);
    reg_role_t *r = &cp->role;
    r->person_id = by_e ? by_e : by_p;
    if (!r->person_id) {
        reg_person_t *p;
        if ((rc = reg_person_create(tx, cp->name, cp->email, cp->phone, &p)))
            return rc;
        r->person_id = p->id;
        s_ppl_add(ppl, p->id, cp->email_key, cp->phone_key);
        if (ppl->oom)
            return KP_ENOMEM;
    }
    bool overlap;
    if ((rc = reg_role_overlaps(tx, r, &overlap)) || overlap)
        return rc;
    return reg_role_create(tx, r);
}

void
reg_import(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ImportRequest *rq = kp_tx_open(&tx, call, svc);
    kp_arena_t *a = tx.arena;
    char why[WHY];
    if (rq->kind != KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS &&
        rq->kind != KUMPPANI__V1__CSV_KIND__CSV_KIND_MUNICIPALITIES &&
        rq->kind != KUMPPANI__V1__CSV_KIND__CSV_KIND_CONTACT_PERSONS) {
        kp_call_fail(call, REG_C(INVALID),
                     "field 'kind': ORGANISATIONS, MUNICIPALITIES or CONTACT_PERSONS");
        return;
    }
    if (kp_text_check(rq->header, strlen(rq->header), false)) {
        kp_call_fail(call, REG_C(INVALID), "field 'header': one line of text");
        return;
    }
    Kumppani__V1__ImportReply rep = KUMPPANI__V1__IMPORT_REPLY__INIT;
    imp_t im = {&tx, &rep};
    rep.errors = kp_arena_alloc(a, MAX_ERRORS * sizeof *rep.errors);
    prow_t *rows = kp_arena_alloc(a, MAX_ROWS * sizeof *rows);
    if (!rep.errors || !rows) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    bool orgs = rq->kind == KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS;
    bool cps = rq->kind == KUMPPANI__V1__CSV_KIND__CSV_KIND_CONTACT_PERSONS;
    char today[11];
    reg_today(&tx, today);
    /* The header: the request's, or the first line of csv. */
    rd_t hr = {0}, r = {0};
    r.p = (const char *)rq->csv.data;
    r.end = r.p + rq->csv.len;
    const char *hsrc = rq->header[0] ? rq->header : (const char *)rq->csv.data;
    size_t hlen = rq->header[0] ? strlen(rq->header) : rq->csv.len;
    const char *nl = memchr(hsrc, '\n', hlen);
    size_t hl = nl ? (size_t)(nl - hsrc) : hlen;
    const char *semi = memchr(hsrc, ';', hl), *comma = memchr(hsrc, ',', hl);
    char delim = semi && !comma ? ';' : ',';
    hr.p = hsrc;
    hr.end = hsrc + hl;
    hr.delim = delim;
    hr.line = 1;
    r.delim = delim;
    row_t row = {0};
    int col[COL_ORG_N];
    if (!s_rd_init(&hr, a) || !s_rd_init(&r, a)) {
        kp_call_fail(call, REG_C(TOO_LARGE), "csv: too large to import in one request");
        return;
    }
    if (!s_read_row(&hr, &row) || s_header(&row,
                                           orgs  ? s_org_cols
                                           : cps ? s_cp_cols
                                                 : s_muni_cols,
                                           orgs  ? COL_ORG_N
                                           : cps ? CPCOL_N
                                                 : MCOL_N,
                                           col, why)) {
        kp_call_fail(call, REG_C(INVALID), "%s", row.n ? why : "header: missing");
        return;
    }
    if (orgs && (col[COL_NAME_FI] < 0 || col[COL_HOME] < 0 || col[COL_FIELDS] < 0)) {
        kp_call_fail(call, REG_C(INVALID),
                     "header: columns name_fi, home_municipality and fields are required");
        return;
    }
    if (cps && (col[CPCOL_NAME] < 0 || col[CPCOL_MUNI] < 0 ||
                (col[CPCOL_EMAIL] < 0 && col[CPCOL_PHONE] < 0))) {
        kp_call_fail(call, REG_C(INVALID),
                     "header: columns name, municipality and email or phone are required");
        return;
    }
    if (!orgs && !cps && (col[MCOL_CODE] < 0 || col[MCOL_NAME_FI] < 0)) {
        kp_call_fail(call, REG_C(INVALID), "header: columns code and name_fi are required");
        return;
    }
    ppl_t ppl = {0};
    int prc = cps ? s_ppl_load(&tx, &ppl) : 0;
    if (prc) {
        kp_call_fail_err(call, prc);
        return;
    }
    if (!rq->header[0])
        r.p = nl ? nl + 1 : r.end;
    r.line = rq->first_line ? rq->first_line : 2;
    if (rq->header[0] == 0 && rq->first_line > 1)
        r.line = rq->first_line; /* the caller's count includes its header */

    /* Pass 1: check every row. */
    size_t n = 0;
    while (s_read_row(&r, &row)) {
        if (s_blank(&row))
            continue;
        if (n >= MAX_ROWS || (cps && n >= CP_MAX_ROWS)) {
            kp_call_fail(call, REG_C(TOO_LARGE), "csv: at most %d rows per request",
                         cps ? CP_MAX_ROWS : MAX_ROWS);
            return;
        }
        prow_t *pr = &rows[n++];
        memset(pr, 0, sizeof *pr);
        pr->line = row.line;
        rep.rows++;
        const char *bad = NULL;
        if (row.bad_quote)
            bad = "quotes do not close properly";
        else if (row.too_many)
            bad = "more cells than columns";
        for (unsigned c = 0; !bad && c < row.n; c++) {
            int t = kp_text_check(row.cell[c], strlen(row.cell[c]), false);
            if (t) {
                /* A spreadsheet's plain "CSV" is Windows-1252 here: say how to save it. */
                snprintf(why, WHY, "column %u: %s%s", c + 1, kp_text_why(t),
                         t == KP_TEXT_EUTF8 ? " (save the file as \"CSV UTF-8\")" : "");
                bad = why;
            }
        }
        if (!bad && orgs)
            bad = s_org_row(&tx, &row, col, pr, why);
        if (!bad && cps)
            bad = s_cp_row(&tx, &ppl, &row, col, pr, today, why);
        for (size_t j = 0; !bad && cps && j + 1 < n; j++) {
            const cp_row_t *o = rows[j].cp, *q = pr->cp;
            if (!rows[j].ok || !((q->email_key && o->email_key == q->email_key) ||
                                 (q->phone_key && o->phone_key == q->phone_key)))
                continue;
            if (strcmp(o->role.municipality_code, q->role.municipality_code) == 0) {
                snprintf(why, WHY, "the same contact person as line %u", rows[j].line);
                bad = why;
            } else if (pr->status == CP_CREATED) {
                pr->status = CP_UPDATED; /* the person an earlier row adds */
            }
        }
        if (!bad && !orgs && !cps) {
            reg_muni_t *m = kp_arena_alloc(a, sizeof *m);
            if (!m) {
                kp_call_fail_err(call, KP_ENOMEM);
                return;
            }
            kumppani__v1__municipality__init(m);
            m->code = s_cell(&row, col, MCOL_CODE);
            m->name_fi = s_cell(&row, col, MCOL_NAME_FI);
            m->name_sv = s_cell(&row, col, MCOL_NAME_SV);
            m->region_code = s_cell(&row, col, MCOL_REGION);
            m->region_name = s_cell(&row, col, MCOL_REGION_NAME);
            size_t cl = strlen(m->code);
            if (cl != 3 || strspn(m->code, "0123456789") != 3)
                bad = "column 'code': three digits";
            else if (kp_text_chars(m->name_fi) < 1 || kp_text_chars(m->name_fi) > 100)
                bad = "column 'name_fi': 1..100 characters";
            else if (kp_text_chars(m->name_sv) > 100 || kp_text_chars(m->region_name) > 100 ||
                     strlen(m->region_code) > 8)
                bad = "columns name_sv, region_name: at most 100 characters; region_code 8";
            pr->key_b = m->code;
            pr->f = (reg_fields_t *)m; /* municipalities reuse the slot */
        }
        for (size_t j = 0; !bad && j + 1 < n; j++) {
            prow_t *o = &rows[j];
            if (!o->ok)
                continue;
            if ((orgs && o->match && o->match == pr->match) || s_same(o->key_b, pr->key_b) ||
                s_same(o->key_a, pr->key_a) || (orgs && s_same(o->key_n, pr->key_n))) {
                snprintf(why, WHY, "the same organisation as line %u", o->line);
                if (!orgs)
                    snprintf(why, WHY, "the same municipality as line %u", o->line);
                bad = why;
            }
        }
        if (bad) {
            s_row_err(&im, pr->line, "%s", bad);
            continue;
        }
        pr->ok = true;
        if (cps) {
            rep.created += pr->status == CP_CREATED;
            rep.updated += pr->status == CP_UPDATED;
            rep.unchanged += pr->status == CP_UNCHANGED;
        } else if (orgs) {
            reg_org_t *old = NULL;
            bool found = false;
            int rc = pr->match ? reg_org_get(&tx, pr->match, &old, &found) : 0;
            if (rc) {
                kp_call_fail_err(call, rc);
                return;
            }
            if (!found)
                rep.created++;
            else if (reg_fields_equal(&tx, old->fields, pr->f) && (int)old->status == pr->status)
                rep.unchanged++;
            else
                rep.updated++;
        } else {
            reg_muni_t *old;
            bool found;
            const reg_muni_t *m = (const reg_muni_t *)pr->f;
            int rc = reg_muni_get(&tx, m->code, &old, &found);
            if (rc) {
                kp_call_fail_err(call, rc);
                return;
            }
            if (!found)
                rep.created++;
            else if (reg_muni_same(old, m))
                rep.unchanged++;
            else
                rep.updated++;
        }
    }
    rep.skipped = rep.n_errors;
    if (rq->dry_run || (rep.n_errors && !rq->skip_invalid) || !n) {
        if (rep.n_errors && !rq->skip_invalid)
            rep.created = rep.updated = rep.unchanged = 0, rep.skipped = rep.rows;
        kp_call_ok(call, &rep.base);
        return;
    }
    /* Pass 2: write. */
    for (size_t i = 0; i < n; i++) {
        prow_t *pr = &rows[i];
        if (!pr->ok)
            continue;
        int rc = 0;
        if (cps) {
            rc = s_cp_write(&tx, &ppl, pr->cp);
        } else if (orgs) {
            reg_org_t *old = NULL, *o;
            bool found = false;
            if (pr->match && (rc = reg_org_get(&tx, pr->match, &old, &found)))
                goto fail;
            if (found && reg_fields_equal(&tx, old->fields, pr->f) &&
                (int)old->status == pr->status)
                continue;
            rc = reg_org_write(&tx, found ? old : NULL, pr->f, pr->status, &o);
        } else {
            bool changed;
            rc = reg_muni_write(&tx, (const reg_muni_t *)pr->f, &changed);
        }
    fail:
        if (rc) {
            kp_call_fail_err(call, rc);
            return;
        }
    }
    rep.written = true;
    kp_log_info("csv.imported", "rows=%u created=%u updated=%u unchanged=%u skipped=%u", rep.rows,
                rep.created, rep.updated, rep.unchanged, rep.skipped);
    kp_call_ok(call, &rep.base);
}

/* ---- export ------------------------------------------------------------------------------ */

typedef struct {
    char *b;
    size_t n, cap;
} out_t;

static void
s_raw(out_t *o, const char *s, size_t n)
{
    if (o->n + n <= o->cap) {
        memcpy(o->b + o->n, s, n);
    }
    o->n += n;
}

/* One cell: formula-escaped, quoted if it holds ',', '"' or a line break. */
static void
s_out_cell(out_t *o, const char *v, bool first)
{
    if (!first)
        s_raw(o, ",", 1);
    bool esc = s_formula_at(v);
    bool quote = strpbrk(v, ",\"\n\r") != NULL;
    if (quote)
        s_raw(o, "\"", 1);
    if (esc)
        s_raw(o, "'", 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            s_raw(o, "\"", 1);
        s_raw(o, p, 1);
    }
    if (quote)
        s_raw(o, "\"", 1);
}

static void
s_out_list(out_t *o, kp_arena_t *a, char **v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = kp_arena_alloc(a, len);
    if (!s) {
        s_out_cell(o, "", false);
        return;
    }
    s[0] = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        if (i)
            s[w++] = '|';
        memcpy(s + w, v[i], l);
        w += l;
    }
    s[w] = 0;
    s_out_cell(o, s, false);
}

static bool
s_export_match(const Kumppani__V1__ExportRequest *rq, const reg_org_t *o)
{
    const reg_fields_t *f = o->fields;
    if (rq->status && (int)o->status != (int)rq->status)
        return false;
    if (rq->field) {
        bool hit = false;
        for (size_t i = 0; i < f->n_fields; i++)
            hit |= f->fields[i] == rq->field;
        if (!hit)
            return false;
    }
    if (rq->municipality[0]) {
        bool hit = strcmp(f->home_municipality, rq->municipality) == 0;
        for (size_t i = 0; i < f->n_municipalities; i++)
            hit |= strcmp(f->municipalities[i], rq->municipality) == 0;
        if (!hit)
            return false;
    }
    if (rq->network[0]) {
        bool hit = false;
        for (size_t i = 0; i < f->n_networks; i++)
            hit |= strcmp(f->networks[i], rq->network) == 0;
        if (!hit)
            return false;
    }
    return true;
}

typedef struct {
    const Kumppani__V1__ExportRequest *rq;
    kp_arena_t *a;
    out_t *o;
    unsigned rows, limit;
    uint64_t stopped_at; /* the id of the first organisation not written (0: none) */
} exp_t;

static void
s_out_org(out_t *o, kp_arena_t *a, const reg_org_t *g)
{
    const reg_fields_t *f = g->fields;
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)g->id);
    s_out_cell(o, num, true);
    s_out_cell(o, f->name_fi, false);
    s_out_cell(o, f->name_sv, false);
    s_out_cell(o, f->association_number, false);
    s_out_cell(o, f->business_id, false);
    s_out_cell(o, f->home_municipality, false);
    s_out_list(o, a, f->municipalities, f->n_municipalities);
    char *fn[16];
    size_t nf = 0;
    for (size_t i = 0; i < f->n_fields && nf < 16; i++)
        if (reg_field_name(f->fields[i]))
            fn[nf++] = (char *)reg_field_name(f->fields[i]);
    s_out_list(o, a, fn, nf);
    s_out_list(o, a, f->networks, f->n_networks);
    s_out_cell(o, f->email, false);
    s_out_cell(o, f->phone, false);
    s_out_cell(o, f->web, false);
    snprintf(num, sizeof num, "%u", f->member_count);
    s_out_cell(o, f->member_count ? num : "", false);
    s_out_cell(o,
               g->status == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED ? "dissolved" : "active",
               false);
    s_raw(o, "\r\n", 2);
}

static int
s_export_one(void *arg, void *org)
{
    exp_t *x = arg;
    reg_org_t *g = org;
    if (x->rows >= x->limit || x->o->n > x->o->cap - 8192) {
        x->stopped_at = g->id;
        return 1;
    }
    if (s_export_match(x->rq, g)) {
        s_out_org(x->o, x->a, g);
        x->rows++;
    }
    return 0;
}

void
reg_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__ExportRequest *rq = kp_tx_open(&tx, call, svc);
    kp_arena_t *a = tx.arena;
    uint32_t limit = kp_check_limit(call, rq->limit, 500, 2000);
    if (!limit)
        return;
    bool orgs = rq->kind == KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS;
    if (!orgs && rq->kind != KUMPPANI__V1__CSV_KIND__CSV_KIND_MUNICIPALITIES) {
        kp_call_fail(call, REG_C(INVALID), "field 'kind': ORGANISATIONS or MUNICIPALITIES");
        return;
    }
    out_t o = {kp_arena_alloc(a, 768 * 1024), 0, 768 * 1024};
    if (!o.b) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    const char *const *cols = orgs ? s_org_cols : s_muni_cols;
    int ncols = orgs ? COL_ORG_N : MCOL_N;
    if (rq->after_id == 0) {
        for (int i = 0; i < ncols; i++)
            s_out_cell(&o, cols[i], i == 0);
        s_raw(&o, "\r\n", 2);
    }
    Kumppani__V1__ExportReply rep = KUMPPANI__V1__EXPORT_REPLY__INIT;
    int rc = 0;
    if (orgs) {
        exp_t x = {rq, a, &o, 0, limit, 0};
        rc = reg_org_each(&tx, rq->after_id + 1, s_export_one, &x);
        if (rc > 0) {
            rep.next_after_id = x.stopped_at - 1;
            rc = 0;
        }
    } else {
        reg_muni_t **m;
        size_t n;
        rc = reg_muni_list(&tx, NULL, &m, &n);
        for (size_t i = 0; !rc && i < n; i++) {
            s_out_cell(&o, m[i]->code, true);
            s_out_cell(&o, m[i]->name_fi, false);
            s_out_cell(&o, m[i]->name_sv, false);
            s_out_cell(&o, m[i]->region_code, false);
            s_out_cell(&o, m[i]->region_name, false);
            s_raw(&o, "\r\n", 2);
        }
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    if (o.n > o.cap) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    rep.csv.data = (uint8_t *)o.b;
    rep.csv.len = o.n;
    kp_call_ok(call, &rep.base);
}
