/*  fuzz_registry_csv: the registry's CSV reader (services/registry/csv.c, included here so
 *  that its static parser is reachable). The first input byte picks the delimiter (',' or
 *  ';'), the rest is the file. Invariants: every record consumes input and line numbers only
 *  grow; a row holds 1..MAX_COLS cells, none longer than the input; the header is classified
 *  without crashing; '|' lists split into trimmed, non-empty items; and every cell survives
 *  export's escaping (s_out_cell) and a second read with the import's unescaping unchanged
 *  (also a cell that itself starts with apostrophes and a formula character). */
#include "../../services/registry/csv.c"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
s_formula(char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_arena_t *a = fuzz_arena(16u << 20);
    if (size < 1 || size > 70000)
        return 0;
    rd_t r = {(const char *)data + 1,
              (const char *)data + size,
              (data[0] & 1) ? ';' : ',',
              1,
              NULL,
              NULL};
    if (!s_rd_init(&r, a))
        return 0;
    row_t row;
    unsigned rows = 0, last_line = 0;
    const char *last_p = r.p;
    while (s_read_row(&r, &row)) {
        rows++;
        FUZZ_ASSERT(r.p > last_p || (r.p == last_p && r.p == r.end));
        last_p = r.p;
        FUZZ_ASSERT(rows == 1 || row.line > last_line);
        last_line = row.line;
        FUZZ_ASSERT(row.n >= 1 && row.n <= MAX_COLS);
        FUZZ_ASSERT(rows <= size);
        if (rows == 1) {
            int col[COL_ORG_N], mcol[MCOL_N];
            char why[WHY];
            (void)s_header(&row, s_org_cols, COL_ORG_N, col, why);
            (void)s_header(&row, s_muni_cols, MCOL_N, mcol, why);
        }
        (void)s_blank(&row);
        for (unsigned i = 0; i < row.n; i++) {
            char *v = row.cell[i];
            size_t len = strlen(v);
            FUZZ_ASSERT(len < size);
            /* Export, then read it back as import does. */
            out_t o = {kp_arena_alloc(a, 2 * len + 8), 0, 2 * len + 8};
            if (!o.b)
                return 0;
            s_out_cell(&o, v, true);
            FUZZ_ASSERT(o.n <= o.cap);
            rd_t back = {o.b, o.b + o.n, ',', 1, NULL, NULL};
            row_t br;
            if (!s_rd_init(&back, a))
                return 0;
            if (len == 0) {
                FUZZ_ASSERT(o.n == 0);
            } else {
                FUZZ_ASSERT(s_read_row(&back, &br));
                FUZZ_ASSERT(br.n == 1 && !br.bad_quote);
                FUZZ_ASSERT(strcmp(s_unescape(br.cell[0]), v) == 0);
                FUZZ_ASSERT(!s_formula(br.cell[0][0]));
            }
            /* Lists. */
            char *copy = kp_arena_alloc(a, len + 1);
            if (!copy)
                return 0;
            memcpy(copy, v, len + 1);
            size_t n;
            char **items = s_split(a, copy, &n);
            if (!items)
                return 0;
            for (size_t k = 0; k < n; k++) {
                size_t l = strlen(items[k]);
                FUZZ_ASSERT(l > 0 && !strchr(items[k], '|'));
                FUZZ_ASSERT(items[k][0] != ' ' && items[k][l - 1] != ' ');
            }
        }
    }
    return 0;
}
