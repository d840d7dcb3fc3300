/*  expert-broker/export.c: the payment export (CSV of completed assignments, by completion
 *  time in a period) and marking assignments paid (idempotent: a repeat is counted
 *  already_paid and changes nothing; the newly marked ids go on the log as AssignmentsPaid).
 *
 *  The export is paged by assignment id (at most EXPORT_PAGE rows or one buffer per call,
 *  next_after_id continues); its records are decoded on the heap, not in the call's arena,
 *  since a page reads thousands. Fields are quoted, and a leading = + - @ is neutralised so a
 *  spreadsheet never runs a formula from a name or title. */
#include "broker.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x
#define AS(x) KUMPPANI__V1__ASSIGNMENT_STATE__ASSIGNMENT_STATE_##x

#define EXPORT_PAGE 1000

typedef struct {
    kp_tx_t *tx;
    int64_t from_ms, to_ms;
    bool unpaid_only;
    char *buf;
    size_t len, cap;
    uint32_t rows;
    uint64_t last_id; /* the last assignment written */
    bool full;        /* the page stopped early: the buffer is full */
    int rc;
} csv_t;

/* A record decoded on the heap (free with protobuf_c_message_free_unpacked): a page of the
 * export reads thousands of records, more than the call's arena holds. */
static void *
s_heap_get(csv_t *x, int db, uint64_t id, const ProtobufCMessageDescriptor *d)
{
    (void)d;
    void *m = brk_get_heap(x->tx, (unsigned)db, id, &x->rc);
    if (!m && !x->rc)
        x->rc = KP_ECORRUPT;
    return m;
}

/* A CSV field: quoted when needed; a leading = + - @ is neutralised (spreadsheet formulas). */
static void
s_csv_field(csv_t *x, const char *s, bool last)
{
    size_t need = 2 * strlen(s) + 8;
    if (x->len + need > x->cap) {
        x->rc = KP_ENOMEM;
        return;
    }
    char *p = x->buf + x->len;
    *p++ = '"';
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
        *p++ = '\'';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    *p++ = last ? '\n' : ',';
    x->len = (size_t)(p - x->buf);
}

static void s_csv_line(csv_t *x, const brk_asg_t *a, const char *name, const char *title);

static int
s_csv_row(void *arg, uint64_t id, void *rec)
{
    csv_t *x = arg;
    const brk_asg_t *a = rec;
    (void)id;
    if (a->state != AS(COMPLETED) || a->completed_ms < x->from_ms || a->completed_ms >= x->to_ms ||
        (x->unpaid_only && a->paid_ms))
        return 0;
    brk_expert_t *e =
        s_heap_get(x, BRK_DB_EXPERTS, a->expert_id, &kumppani__v1__expert__descriptor);
    brk_request_t *rq = x->rc ? NULL
                              : s_heap_get(x, BRK_DB_REQUESTS, a->request_id,
                                           &kumppani__v1__broker_request__descriptor);
    const char *name = e ? (e->erased ? "(erased)" : e->profile->name) : "";
    size_t need =
        x->rc ? 0 : 2 * (strlen(name) + strlen(rq->input->title) + strlen(a->payment_ref)) + 400;
    if (!x->rc && x->len + need > x->cap)
        x->full = true;
    else if (!x->rc)
        s_csv_line(x, a, name, rq->input->title);
    if (e)
        protobuf_c_message_free_unpacked(&e->base, NULL);
    if (rq)
        protobuf_c_message_free_unpacked(&rq->base, NULL);
    return x->rc != 0 || x->full || x->rows >= EXPORT_PAGE;
}

static void
s_csv_line(csv_t *x, const brk_asg_t *a, const char *name, const char *title)
{
    char n[7][48], date[11], paid[11] = "";
    brk_local(a->start_unix, NULL, NULL, date, NULL);
    if (a->paid_ms)
        brk_local(a->paid_ms / 1000, NULL, NULL, paid, NULL);
    snprintf(n[0], 48, "%llu", (unsigned long long)a->id);
    snprintf(n[1], 48, "%llu", (unsigned long long)a->request_id);
    snprintf(n[2], 48, "%llu", (unsigned long long)a->expert_id);
    snprintf(n[3], 48, "%u.%02u", a->minutes / 60, (a->minutes % 60) * 100 / 60);
    snprintf(n[4], 48, "%u.%02u", a->fee_cents / 100, a->fee_cents % 100);
    snprintf(n[5], 48, "%u.%02u", a->travel_cents / 100, a->travel_cents % 100);
    snprintf(n[6], 48, "%u.%02u", (a->fee_cents + a->travel_cents) / 100,
             (a->fee_cents + a->travel_cents) % 100);
    s_csv_field(x, n[0], false);
    s_csv_field(x, n[1], false);
    s_csv_field(x, n[2], false);
    s_csv_field(x, name, false);
    s_csv_field(x, title, false);
    s_csv_field(x, date, false);
    s_csv_field(x, n[3], false);
    s_csv_field(x, n[4], false);
    s_csv_field(x, n[5], false);
    s_csv_field(x, n[6], false);
    s_csv_field(x, paid, false);
    s_csv_field(x, a->payment_ref, true);
    x->rows++;
    x->last_id = a->id;
}

void
brk_asg_export(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__AssignmentExportRequest *body = kp_tx_open(&tx, call, svc);
    csv_t x = {.tx = &tx, .unpaid_only = body->unpaid_only};
    if (!brk_window(call, body->from_unix, body->to_unix, &x.from_ms, &x.to_ms))
        return;
    x.cap = 768 * 1024;
    x.buf = kp_arena_alloc(tx.arena, x.cap);
    if (!x.buf) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    const char *head = "assignment_id,request_id,expert_id,expert_name,request_title,date,hours,"
                       "fee_eur,travel_eur,total_eur,paid_date,payment_ref\n";
    memcpy(x.buf, head, strlen(head));
    x.len = strlen(head);
    int rc = brk_each_rec(&tx, BRK_DB_ASGS, body->after_id, false, s_csv_row, &x);
    if (rc || x.rc) {
        kp_call_fail_err(call, rc ? rc : x.rc);
        return;
    }
    x.buf[x.len] = 0;
    Kumppani__V1__AssignmentExportReply r = KUMPPANI__V1__ASSIGNMENT_EXPORT_REPLY__INIT;
    r.csv_text = x.buf;
    r.rows = x.rows;
    r.next_after_id = x.rows >= EXPORT_PAGE || x.full ? x.last_id : 0;
    kp_log_info("export.csv", "rows=%u after=%llu", x.rows, (unsigned long long)body->after_id);
    kp_call_ok(call, &r.base);
}

void
brk_asg_paid(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    const Kumppani__V1__MarkPaidRequest *body = kp_tx_open(&tx, call, svc);
    if (body->n_assignment_ids < 1 || body->n_assignment_ids > EXPORT_PAGE) {
        kp_call_fail(call, C(INVALID), "field 'assignment_ids': 1..%d required", EXPORT_PAGE);
        return;
    }
    if (!kp_check_text(call, "payment_ref", body->payment_ref, 1, 100))
        return;
    /* Marking again changes nothing (already_paid counts them); with the envelope's
     * idempotency key a retry also gets its first answer (e.g. the web's "mark these paid"
     * sent twice). */
    size_t klen;
    const char *key = kp_call_idem_key(call, &klen);
    if (klen && kp_call_idem(call, key, klen))
        return;
    brk_asg_t **v = kp_arena_alloc(tx.arena, body->n_assignment_ids * sizeof *v);
    uint64_t *ids = kp_arena_alloc(tx.arena, body->n_assignment_ids * sizeof *ids);
    if (!v || !ids) {
        kp_call_fail_err(call, KP_ENOMEM);
        return;
    }
    Kumppani__V1__MarkPaidReply r = KUMPPANI__V1__MARK_PAID_REPLY__INIT;
    size_t n = 0;
    for (size_t i = 0; i < body->n_assignment_ids; i++) {
        brk_asg_t *a =
            brk_load(&tx, BRK_DB_ASGS, "assignment_id", "assignment", body->assignment_ids[i]);
        if (!a)
            return;
        if (a->state != AS(COMPLETED)) {
            kp_call_fail(call, C(CONFLICT),
                         "field 'assignment_ids[%zu]': assignment %llu is not completed", i,
                         (unsigned long long)a->id);
            return;
        }
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = v[j]->id == a->id;
        if (a->paid_ms || dup)
            r.already_paid++;
        else
            v[n++] = a;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        v[i]->paid_ms = tx.now_ms;
        v[i]->payment_ref = body->payment_ref;
        ids[i] = v[i]->id;
        rc = kp_rec_put_id(&tx, BRK_DB_ASGS, v[i]->id, &v[i]->base);
    }
    Kumppani__V1__MarkPaidRequest ev = KUMPPANI__V1__MARK_PAID_REQUEST__INIT;
    ev.assignment_ids = ids;
    ev.n_assignment_ids = n;
    ev.payment_ref = body->payment_ref;
    if (!rc && n)
        rc = brk_emit(&tx, "AssignmentsPaid", &ev.base);
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.marked = (uint32_t)n;
    kp_log_info("assignments.paid", "marked=%zu already=%u", n, r.already_paid);
    kp_call_ok(call, &r.base);
}
