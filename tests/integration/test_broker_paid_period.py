# timeout: 120
"""Expert broker (issue 14, part 4): the payment export and the statistics for a period, and
marking completed assignments paid. Three assignments completed ten days apart: the export of
[from, to) by completion time lists exactly those in it (from only, to only, both); the
statistics count the requests filed in their period. broker.assignment.paid: bad input is
refused with the field named and nothing on the log (no ids, too many, no reference, a long
one, an unknown assignment, one not completed); marking two answers marked 2 and puts one
AssignmentsPaid on the log; a retry under the same idempotency key gets the first answer and
writes nothing, the key with other content is a conflict; without a key a repeat is counted
already_paid and writes nothing; the unpaid-only export shrinks by exactly the paid ones, the
full export shows their paid date and reference."""
from kp_broker import B, Broker, file_request, head_seq, log_types, open_offers, register
from kp_harness import E, OK, PII, Suite, check, done

DAY_MS = 86400 * 1000

s = Suite()
try:
    b = Broker(s).start()
    experts = [register(b, PII[0], PII[1])] + [
        register(b, "Asiantuntija %d" % i, "a%d@example.fi" % i) for i in range(3)]
    asg = []
    for n in range(4):
        r = file_request(b, "pp-%d" % n, title="Paneeli %d" % n, requester_org_id=500 + n)
        asg.append(b.accept(open_offers(b, r.request.id)[0].id).assignment)
    check(len({a.id for a in asg}) == 4, "four assignments confirmed")
    b.advance(15 * DAY_MS, settle_s=0.2)
    done_at = []
    for a in asg[:3]:  # the fourth stays confirmed, not completed
        c = b.ok("broker.assignment.complete", B.CompleteAssignmentRequest(
            assignment_id=a.id, minutes=90, fee_cents=12000), B.AssignmentReply).assignment
        done_at.append(c.completed_ms)
        b.advance(10 * DAY_MS, settle_s=0.2)
    late = file_request(b, "pp-late", title="Myöhäinen", requester_org_id=600).request

    def rows(**kw):
        x = b.ok("broker.assignment.export", B.AssignmentExportRequest(**kw),
                 B.AssignmentExportReply)
        return [int(line.split(",")[0].strip('"')) for line in x.csv_text.strip().split("\n")[1:]]

    ids = [a.id for a in asg[:3]]
    c = [t // 1000 for t in done_at]
    check(rows() == ids, "the whole export: the three completed (%s)" % rows())
    check(rows(from_unix=c[1], to_unix=c[2]) == [ids[1]],
          "the period [second, third) by completion time: the second only")
    check(rows(from_unix=c[1]) == ids[1:], "from the second on: the second and the third")
    check(rows(to_unix=c[1]) == [ids[0]], "up to the second: the first")
    check(rows(from_unix=c[2] + 1, to_unix=c[2] + 86400) == [], "after the third: none")
    r = b.call("broker.assignment.export", B.AssignmentExportRequest(from_unix=c[2], to_unix=c[1]))
    check(r.status.code == E.CODE_INVALID and "to_unix" in r.status.message,
          "an end before the start is refused (%s)" % r.status.message)
    r = b.call("broker.assignment.export", B.AssignmentExportRequest(from_unix=-5))
    check(r.status.code == E.CODE_INVALID, "a negative start is refused")

    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(st.requests_filed == 5, "statistics, all time: five filed (%d)" % st.requests_filed)
    st = b.ok("broker.stats", B.BrokerStatsRequest(from_unix=c[0], to_unix=b.now_s() + 60),
              B.BrokerStatsReply)
    check(st.requests_filed == 1 and st.requests_open + st.requests_filled == 1,
          "statistics for the last weeks: the one filed then (%d)" % st.requests_filed)

    # ---- marking paid: bad input, nothing written ------------------------------------------
    seq0 = head_seq(b)
    for msg, code, field in (
            (B.MarkPaidRequest(payment_ref="erä 1"), E.CODE_INVALID, "assignment_ids"),
            (B.MarkPaidRequest(assignment_ids=[ids[0]] * 1001, payment_ref="erä 1"),
             E.CODE_INVALID, "assignment_ids"),
            (B.MarkPaidRequest(assignment_ids=[ids[0]]), E.CODE_INVALID, "payment_ref"),
            (B.MarkPaidRequest(assignment_ids=[ids[0]], payment_ref="x" * 101), E.CODE_INVALID,
             "payment_ref"),
            (B.MarkPaidRequest(assignment_ids=[ids[0], 99999], payment_ref="erä 1"),
             E.CODE_NOT_FOUND, "assignment"),
            (B.MarkPaidRequest(assignment_ids=[ids[0], asg[3].id], payment_ref="erä 1"),
             E.CODE_CONFLICT, "not completed")):
        r = b.call("broker.assignment.paid", msg)
        check(r.status.code == code and field in r.status.message,
              "paid refused: %s (%s)" % (field, r.status.message))
    check(head_seq(b) == seq0 and rows(unpaid_only=True) == ids,
          "the refusals wrote nothing: all three still unpaid")

    # ---- marking paid: once, a retry under the key, a repeat without one --------------------
    req = B.MarkPaidRequest(assignment_ids=ids[:2], payment_ref="erä 2026-12")
    mp = b.ok("broker.assignment.paid", req, B.MarkPaidReply, key="web-paid-1")
    check(mp.marked == 2 and mp.already_paid == 0, "two marked paid")
    evs = log_types(b, seq0 + 1)
    check([e.type for e in evs] == ["AssignmentsPaid"], "one AssignmentsPaid on the log")
    ev = B.MarkPaidRequest.FromString(evs[0].payload)
    check(list(ev.assignment_ids) == ids[:2], "naming the two")
    seq1 = head_seq(b)
    mp = b.ok("broker.assignment.paid", req, B.MarkPaidReply, key="web-paid-1")
    check(mp.marked == 2 and mp.already_paid == 0 and head_seq(b) == seq1,
          "the retry under the same key: the first answer, nothing written")
    r = b.call("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=ids,
                                                           payment_ref="erä 2026-12"),
               key="web-paid-1")
    check(r.status.code == E.CODE_CONFLICT and "idempotency key" in r.status.message,
          "the key with other content: a conflict")
    mp = b.ok("broker.assignment.paid", req, B.MarkPaidReply)
    check(mp.marked == 0 and mp.already_paid == 2 and head_seq(b) == seq1,
          "without a key a repeat is counted already paid and writes nothing")
    check(rows(unpaid_only=True) == [ids[2]], "the unpaid export lists only the third")
    check(rows(unpaid_only=True, to_unix=c[1]) == [], "and for the first's period nothing")
    full = b.ok("broker.assignment.export", B.AssignmentExportRequest(),
                B.AssignmentExportReply).csv_text
    paid_lines = [x for x in full.split("\n") if x.endswith('"erä 2026-12"')]
    check(len(paid_lines) == 2 and rows() == ids, "the full export: all three, two with the reference")
    mp = b.ok("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=[ids[2], ids[0]],
                                                          payment_ref="erä 2027-01"),
              B.MarkPaidReply)
    check(mp.marked == 1 and mp.already_paid == 1 and rows(unpaid_only=True) == [],
          "the third too (the first already paid): nothing unpaid left")
    check(late.id > 0, "the late request was filed")
finally:
    s.close()
done()
