/*  web/bo_stats.c: the back office's statistics: participants by month, kind, municipality and
 *  role (events.stats over the bus), filtered by a period, a municipality and a kind, each as
 *  a server-rendered SVG bar chart with the same numbers in a table beside it (the chart is an
 *  image with a title; the table is what a screen reader reads). "Spring 2021: 11 partnership
 *  tables, 478 participants" is one choice of period (a year or its spring or autumn, or any
 *  two dates) and the kind, with the mode (online, in person, hybrid) for "virtual" tables.
 *
 *  A municipal contact person sees their own municipalities only (the first by default,
 *  another is 403, audited); the expert coordinator has no statistics of events. The SVG is
 *  built here from numbers and our own texts, each text escaped. */
#include "bo.h"
#include "kp_check.h"
#include "kp_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAR_W 300
#define LABEL_W 190
#define ROW_H 26

typedef struct {
    bo_account_t *acct;
    const char *from, *to, *muni;
    const char *period; /* "YYYY", "YYYY-spring" (January to June) or "YYYY-autumn"; NULL */
    int kind, mode;     /* mode: an EventMode (0: any) */
    /* A refused filter: its error (a text key) and field; the page shows the statistics
     * unfiltered (a municipal contact person's first municipality) with the values sent (400). */
    const char *err, *err_field;
} st_t;

/* The periods offered: for each year from five back to the next, the year and its halves. */
static const char *const s_halves[] = {"", "-spring", "-autumn"};
static const char *const s_half_keys[] = {"bo_stats_year", "bo_stats_spring", "bo_stats_autumn"};
static const char *const s_modes[] = {"", "online", "online-only", "in-person", "hybrid"};

/* A period "YYYY[-spring|-autumn]" as its first and last day ("YYYY-MM-DD"); false if it is
 * not one. */
static bool
s_period(kp_arena_t *a, const char *p, const char **from, const char **to, int *year, int *half)
{
    int y = 0, n = 0;
    if (sscanf(p, "%4d%n", &y, &n) != 1 || n != 4 || y < 1900 || y > 2999)
        return false;
    for (int h = 0; h < 3; h++)
        if (strcmp(p + 4, s_halves[h]) == 0) {
            char *f = kp_arena_alloc(a, 11), *t = kp_arena_alloc(a, 11);
            if (!f || !t)
                return false;
            snprintf(f, 11, "%04d-%s", y, h == 2 ? "07-01" : "01-01");
            snprintf(t, 11, "%04d-%s", y, h == 1 ? "06-30" : "12-31");
            *from = f;
            *to = t;
            *year = y;
            *half = h;
            return true;
        }
    return false;
}

/* The enum value whose name (prefix dropped, lower case, '_' as '-') is key; 0 if none. */
static int
s_enum_of(const ProtobufCEnumDescriptor *d, const char *prefix, const char *key)
{
    size_t pl = strlen(prefix);
    for (unsigned i = 0; i < d->n_values; i++) {
        const char *n = d->values[i].name;
        if (strncmp(n, prefix, pl) == 0)
            n += pl;
        size_t k = 0;
        for (; n[k] && key[k]; k++) {
            char c = n[k] == '_' ? '-' : (n[k] >= 'A' && n[k] <= 'Z' ? (char)(n[k] + 32) : n[k]);
            if (c != key[k])
                break;
        }
        if (!n[k] && !key[k])
            return d->values[i].value;
    }
    return 0;
}

/* One chart: an SVG of horizontal bars (participants) and its table, under list. */
static void
s_chart(web_req_t *r, web_tv_t *charts, const char *id, const char *title_key,
        Kumppani__V1__EventStatsRow **rows, size_t n, int label_kind)
{
    kp_arena_t *a = r->arena;
    web_tv_t *c = web_tv_item(a, charts);
    web_tv_str(a, c, "id", id);
    web_tv_str(a, c, "title", web_text(r, title_key));
    web_tv_bool(a, c, "empty", n == 0);
    uint32_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->participants_n > max)
            max = rows[i]->participants_n;
    web_buf_t svg = {.max = 1u << 20};
    unsigned h = (unsigned)(n * ROW_H + 8);
    web_buf_addf(&svg,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                 "aria-labelledby=\"%s-t\" width=\"%d\" height=\"%u\" viewBox=\"0 0 %d %u\" "
                 "class=\"chart\"><title id=\"%s-t\">",
                 id, LABEL_W + BAR_W + 60, h, LABEL_W + BAR_W + 60, h, id);
    web_buf_esc(&svg, web_text(r, title_key));
    web_buf_adds(&svg, "</title>");
    web_tv_t *tl = web_tv_list(a, c, "rows");
    for (size_t i = 0; i < n; i++) {
        const Kumppani__V1__EventStatsRow *row = rows[i];
        char key[32];
        const char *label = row->key;
        if (label_kind == 1) {
            snprintf(key, sizeof key, "kind_%d",
                     s_enum_of(&kumppani__v1__event_kind__descriptor, "KIND_", row->key));
            label = web_text(r, key);
        } else if (label_kind == 2) {
            snprintf(key, sizeof key, "role_%d",
                     s_enum_of(&kumppani__v1__participant_role__descriptor, "ROLE_", row->key));
            label = web_text(r, key);
        } else if (label_kind == 3) { /* a municipality by name, as the rest of the office */
            label = web_muni_name(r, row->key);
        }
        unsigned y = (unsigned)(i * ROW_H + 4);
        unsigned w = (unsigned)((uint64_t)row->participants_n * BAR_W / max);
        web_buf_addf(&svg, "<text x=\"%d\" y=\"%u\" text-anchor=\"end\" class=\"lbl\">",
                     LABEL_W - 8, y + 17);
        web_buf_esc(&svg, label);
        web_buf_addf(&svg,
                     "</text><rect x=\"%d\" y=\"%u\" width=\"%u\" height=\"%d\" class=\"bar\"/>"
                     "<text x=\"%u\" y=\"%u\" class=\"num\">%u</text>",
                     LABEL_W, y + 3, w ? w : 1, ROW_H - 8, LABEL_W + w + 6, y + 17,
                     row->participants_n);
        web_tv_t *it = web_tv_item(a, tl);
        web_tv_str(a, it, "label", label);
        web_tv_strf(a, it, "events", "%u", row->events_n);
        web_tv_strf(a, it, "participants", "%u", row->participants_n);
        web_tv_strf(a, it, "attended", "%u", row->attended_n);
        web_tv_strf(a, it, "cancelled", "%u", row->cancelled_n);
    }
    web_buf_adds(&svg, "</svg>");
    web_tv_str(a, c, "svg", svg.p ? svg.p : "");
    web_buf_free(&svg);
}

static void
s_stats_done(web_req_t *r, void *body)
{
    st_t *s = r->cont_arg;
    kp_arena_t *a = r->arena;
    Kumppani__V1__EventStatsReply *sr = body;
    web_tv_t *root = bo_root(r, s->acct, "bo_stats_title");
    if (s->err)
        bo_field_error(r, root, s->err, s->err_field);
    web_tv_str(a, root, "from", s->from);
    web_tv_str(a, root, "to", s->to);
    bo_munis_choice(r, root, s->acct, s->muni);
    struct tm now;
    int y0 = kp_time_local(kp_now_ms() / 1000, &now) == 0 ? now.tm_year + 1900 : 2026;
    web_tv_t *pl = web_tv_list(a, root, "periods");
    for (int y = y0 + 1; y >= y0 - 5; y--)
        for (int h = 0; h < 3; h++) {
            web_tv_t *it = web_tv_item(a, pl);
            char v[16];
            snprintf(v, sizeof v, "%04d%s", y, s_halves[h]);
            web_tv_str(a, it, "value", v);
            web_tv_strf(a, it, "name", "%s %04d", web_text(r, s_half_keys[h]), y);
            bool sel = s->period && strcmp(s->period, v) == 0;
            web_tv_bool(a, it, "selected", sel);
            if (sel && !s->err)
                web_tv_strf(a, root, "period_name", "%s %04d", web_text(r, s_half_keys[h]), y);
        }
    web_choices(r, web_select(r, root, "sel_mode", "mode", "bo_stats_mode", s->err_field, s->err),
                "bo_stats_mode_", 4, s_modes, s->mode);
    web_choices(r, web_select(r, root, "sel_kind", "kind", "cal_kind", s->err_field, s->err),
                "kind_", 9, NULL, s->kind);
    const Kumppani__V1__EventStatsRow *t = sr->total;
    web_tv_strf(a, root, "events_n", "%u", t ? t->events_n : 0);
    web_tv_strf(a, root, "participants_n", "%u", t ? t->participants_n : 0);
    web_tv_strf(a, root, "held_n", "%u", t ? t->held_n : 0);
    web_tv_strf(a, root, "attended_n", "%u", t ? t->attended_n : 0);
    web_tv_t *charts = web_tv_list(a, root, "charts");
    s_chart(r, charts, "c-month", "bo_stats_by_month", sr->by_month, sr->n_by_month, 0);
    s_chart(r, charts, "c-kind", "bo_stats_by_kind", sr->by_kind, sr->n_by_kind, 1);
    s_chart(r, charts, "c-muni", "bo_stats_by_muni", sr->by_municipality, sr->n_by_municipality, 3);
    s_chart(r, charts, "c-role", "bo_stats_by_role", sr->by_role, sr->n_by_role, 2);
    web_page(r, s->err ? 400 : 200, "bo_stats", root);
}

/* "YYYY-MM-DD" at the Helsinki midnight starting it. */
static bool
s_day(const char *d, int64_t *out)
{
    if (!d || !*d) {
        *out = 0;
        return true;
    }
    char buf[32], why[96];
    if (strlen(d) != 10)
        return false;
    snprintf(buf, sizeof buf, "%s 00:00", d);
    return kp_time_parse_local(buf, out, why, sizeof why) == 0;
}

/* The filter's field refused, with its error's text key. */
static void
s_refuse(st_t *s, const char *err, const char *field)
{
    s->err = err;
    s->err_field = field;
}

void
bo_pg_stats(web_req_t *r, const char *arg)
{
    (void)arg;
    st_t *s = bo_begin(r, BO_R(REGIONAL) | BO_R(MUNICIPAL), "events.stats", "", sizeof *s);
    if (!s)
        return;
    bo_account_t *a = s->acct;
    s->from = web_query(r, "from");
    s->to = web_query(r, "to");
    s->muni = web_query(r, "municipality");
    const char *kind = web_query(r, "kind");
    const char *mode = web_query(r, "mode");
    s->period = web_query(r, "period");
    if (s->muni && !*s->muni)
        s->muni = NULL;
    if (s->period && !*s->period)
        s->period = NULL;
    int year, half;
    for (int m = 1; mode && *mode && m <= 4; m++)
        if (strcmp(mode, s_modes[m]) == 0)
            s->mode = m;
    /* The first field refused, beside which its error is shown. */
    int64_t from = 0, to = 0;
    if (s->period && !s_period(r->arena, s->period, &s->from, &s->to, &year, &half))
        s_refuse(s, "bo_err_period", "period");
    else if (mode && *mode && !s->mode)
        s_refuse(s, "bo_err_mode", "mode");
    else if (!s_day(s->from, &from))
        s_refuse(s, "bo_err_day", "from");
    else if (!s_day(s->to, &to))
        s_refuse(s, "bo_err_day", "to");
    else if (kind && *kind && (strlen(kind) != 1 || kind[0] < '1' || kind[0] > '9'))
        s_refuse(s, "bo_err_kind", "kind");
    else if (s->muni && !kp_is_muni_code(s->muni))
        s_refuse(s, a->role == BO_ROLE(MUNICIPAL) ? "bo_err_muni_filter" : "bo_err_muni",
                 "municipality");
    const char *muni = s->muni;
    if (s->err) {
        from = to = 0;
        s->mode = 0;
        kind = NULL;
        muni = NULL; /* a typed one stays in the field */
    }
    s->kind = kind && *kind ? kind[0] - '0' : 0;
    if (!bo_muni_filter(r, a, &muni, "events.stats"))
        return;
    if (muni)
        s->muni = muni;
    Kumppani__V1__EventStatsRequest rq = KUMPPANI__V1__EVENT_STATS_REQUEST__INIT;
    rq.from_unix = from;
    rq.to_unix = to ? to + 86400 : 0; /* the whole last day */
    rq.municipality_code = (char *)(muni ? muni : "");
    rq.kind = s->kind;
    rq.mode = s->mode;
    bo_get(r, a, r->svc->bus_office, "events.stats", &rq.base,
           &kumppani__v1__event_stats_reply__descriptor, "err_filter", s_stats_done);
}
