# timeout: 300
"""Expert broker, issue 5, the rules around the main flow: assignments cancelled by either side
with a reason (the request reopens to the next candidate, and the expert's wait since the last
assignment is restored), cancelling a request (open offers withdrawn), the monthly-cap,
availability and blocked-date reasons in explain, no repeat with the same requester while others
are eligible, waves (two needed, wave of two: a decline sends the next offer; filling withdraws
the rest), erasing an expert, the CSV export paged beyond 1000 rows with a paid marker, and bad
input (malformed, control characters, times in the past, unknown ids) refused with clear errors
and no change. Planted personal data must not reach the log (checked by Suite.close)."""
import datetime
import time
import zoneinfo

from kp_harness import E, Suite, check, done
from kp_broker import (B, Broker, file_request, get_request, head_seq, log_types, open_offers,
                       register, request_input)

T0 = time.time()
s = Suite()
try:
    b = Broker(s).start()

    def expert(eid):
        return b.ok("broker.expert.get", B.ExpertRef(expert_id=eid), B.ExpertReply).expert

    def accept(oid):
        return b.ok("broker.offer.accept", B.OfferRef(offer_id=oid), B.OfferReply).assignment

    # ---- cancellation by either side; the request reopens; the wait is restored ------------
    ea = register(b, "Matti Meikäläinen", "matti.meikalainen@example.fi", phone="+358401234567",
                  expertise=["mental-health", "rare-diseases"], sensitive_consent=True,
                  sensitive_detail_text="Diagnoosi: harvinainen sairaus")
    eb = register(b, "Liisa Virtanen", "liisa.virtanen@example.fi")
    ec = register(b, "Kolmas Henkilö", "kolmas@example.fi")
    r1 = file_request(b, "c-1")
    o = open_offers(b, r1.request.id)
    check(len(o) == 1 and o[0].expert_id == ea.id, "cancel: first offer to the first expert")
    a1 = accept(o[0].id)
    check(expert(ea.id).last_assigned_ms > 0, "accepting sets the expert's last assignment")
    seq0 = head_seq(b)
    c1 = b.ok("broker.assignment.cancel", B.CancelAssignmentRequest(
        assignment_id=a1.id, by="expert", reason="sairastuin"), B.AssignmentReply).assignment
    check(c1.state == B.ASSIGNMENT_STATE_CANCELLED and c1.cancelled_by == "expert"
          and c1.cancel_reason == "sairastuin", "the expert cancels with a reason")
    req = get_request(b, r1.request.id)
    o = [x for x in req.offers if x.state == B.OFFER_STATE_OPEN]
    check(req.request.state == B.REQUEST_STATE_OPEN and req.request.accepted_n == 0
          and len(o) == 1 and o[0].expert_id == eb.id,
          "after the expert's cancellation the request reopens to the next candidate")
    check(expert(ea.id).last_assigned_ms == 0,
          "fairness: a cancelled assignment does not count as the expert's last assignment")
    evs = [e.type for e in log_types(b, seq0 + 1)]
    check("AssignmentCancelled" in evs and "OfferMade" in evs,
          "AssignmentCancelled and the next OfferMade on the log")
    a2 = accept(o[0].id)
    c2 = b.ok("broker.assignment.cancel", B.CancelAssignmentRequest(
        assignment_id=a2.id, by="requester", reason="aikataulu muuttui"),
        B.AssignmentReply).assignment
    req = get_request(b, r1.request.id)
    o = [x for x in req.offers if x.state == B.OFFER_STATE_OPEN]
    check(c2.cancelled_by == "requester" and req.request.state == B.REQUEST_STATE_OPEN
          and len(o) == 1 and o[0].expert_id == ec.id,
          "the requester's cancellation also reopens the request to the next one")
    r = b.call("broker.assignment.cancel", B.CancelAssignmentRequest(
        assignment_id=a2.id, by="expert", reason="x"))
    check(r.status.code == E.CODE_CONFLICT, "a cancelled assignment cannot be cancelled again")
    for kw, field in [(dict(by="naapuri", reason="x"), "by"), (dict(by="expert", reason=""),
                                                               "reason"),
                      (dict(by="expert", reason="a\x1bb"), "reason")]:
        r = b.call("broker.assignment.cancel", B.CancelAssignmentRequest(
            assignment_id=a1.id, **kw))
        check(r.status.code == E.CODE_INVALID and field in r.status.message,
              "assignment cancel: bad %s refused" % field)

    # ---- cancelling a request withdraws its open offers --------------------------------------
    r2 = file_request(b, "c-2", wave_size=2, requester_org_id=6)
    o = open_offers(b, r2.request.id)
    check(len(o) == 2, "request cancel: two offers out")
    seq0 = head_seq(b)
    for reason in ["", "x\x00y"]:
        r = b.call("broker.request.cancel", B.CancelBrokerRequestRequest(
            request_id=r2.request.id, reason=reason))
        check(r.status.code == E.CODE_INVALID and "reason" in r.status.message
              and head_seq(b) == seq0, "request cancel: bad reason refused, nothing written")
    b.ok("broker.request.cancel", B.CancelBrokerRequestRequest(
        request_id=r2.request.id, reason="tilaisuus peruttu"), B.BrokerRequestReply)
    req = get_request(b, r2.request.id)
    check(req.request.state == B.REQUEST_STATE_CANCELLED
          and req.request.cancel_reason == "tilaisuus peruttu"
          and all(x.state == B.OFFER_STATE_WITHDRAWN for x in req.offers),
          "cancelled request: every open offer withdrawn")
    evs = [e.type for e in log_types(b, seq0 + 1)]
    check(evs.count("OfferWithdrawn") == 2 and "RequestCancelled" in evs,
          "OfferWithdrawn twice and RequestCancelled on the log")
    r = b.call("broker.offer.accept", B.OfferRef(offer_id=o[0].id))
    check(r.status.code == E.CODE_CONFLICT and "withdrawn" in r.status.message,
          "a withdrawn offer cannot be accepted")

    # ---- monthly cap, weekly availability, blocked date in explain ---------------------------
    start = b.now_s() + 14 * 86400
    local = datetime.datetime.fromtimestamp(start, zoneinfo.ZoneInfo("Europe/Helsinki"))
    other_day = local.isoweekday() % 7 + 1
    e_cap = register(b, "Kattorajainen", "cap@example.fi", monthly_cap=1,
                     expertise=["cancer", "substance-use"])
    e_av = register(b, "Aikarajainen", "av@example.fi", expertise=["substance-use"],
                    availability=[B.WeeklySlot(weekday=other_day, from_minute=0,
                                               to_minute=1440)])
    e_bl = register(b, "Estopäiväinen", "bl@example.fi", expertise=["substance-use"],
                    blocked_dates=[local.strftime("%Y-%m-%d")])
    e_ok = register(b, "Vapaa Asiantuntija", "vapaa@example.fi", expertise=["substance-use"])
    rc_ = file_request(b, "cap-1", expertise=["cancer"], start_unix=start,
                       answer_deadline_unix=start - 86400, requester_org_id=11)
    o = open_offers(b, rc_.request.id)
    check(len(o) == 1 and o[0].expert_id == e_cap.id, "cap: the only cancer expert is offered")
    accept(o[0].id)
    rx = file_request(b, "cap-2", expertise=["substance-use"], start_unix=start,
                      answer_deadline_unix=start - 86400, requester_org_id=12, wave_size=5)
    by = b.candidates(rx.request.id)
    check("monthly-cap" in by[e_cap.id].reasons and not by[e_cap.id].eligible,
          "explain: monthly-cap when the cap is reached in that month")
    check("availability" in by[e_av.id].reasons and by[e_av.id].reasons == ["availability"],
          "explain: availability when the start is outside the weekly windows")
    check(by[e_bl.id].reasons == ["blocked-date"], "explain: blocked-date on a blocked day")
    check(by[e_ok.id].offer_state == B.OFFER_STATE_OPEN and "expertise" in by[ea.id].reasons,
          "explain: the free expert got the offer; others without the area say expertise")
    check({x.expert_id for x in open_offers(b, rx.request.id)} == {e_ok.id},
          "only the eligible expert is offered (cap, availability, blocked excluded)")

    # ---- no repeat with the same requester while others are eligible -------------------------
    y1 = register(b, "Nuori Yksi", "y1@example.fi", expertise=["youth"])
    y2 = register(b, "Nuori Kaksi", "y2@example.fi", expertise=["youth"])
    n1 = file_request(b, "rep-1", expertise=["youth"], requester_org_id=77)
    o = open_offers(b, n1.request.id)
    check(o[0].expert_id == y1.id, "repeat: y1 (lower id) first for requester 77")
    accept(o[0].id)
    n0 = file_request(b, "rep-0", expertise=["youth"], requester_org_id=88)
    o = open_offers(b, n0.request.id)
    check(o[0].expert_id == y2.id, "repeat: y2 (never assigned) first for requester 88")
    time.sleep(0.01)
    accept(o[0].id)
    n2 = file_request(b, "rep-2", expertise=["youth"], requester_org_id=77)
    by = b.candidates(n2.request.id)
    o = open_offers(b, n2.request.id)
    check(o[0].expert_id == y2.id and by[y1.id].recent_same_requester and by[y1.id].eligible,
          "no repeat: y1 waited longer but had requester 77 recently, so y2 is asked first")
    b.ok("broker.offer.decline", B.DeclineOfferRequest(offer_id=o[0].id, reason="ei käy"),
         B.OfferReply)
    o = open_offers(b, n2.request.id)
    check(len(o) == 1 and o[0].expert_id == y1.id,
          "when nobody else is left, the same requester's recent expert is asked")

    # ---- waves: two needed, wave of two; a decline sends the next; filling withdraws the rest
    ws = [register(b, "Aalto %d" % i, "w%d@example.fi" % i, expertise=["disability"])
          for i in range(5)]
    w1 = file_request(b, "wave-1", expertise=["disability"], experts_needed=2, wave_size=2,
                      requester_org_id=21)
    o = open_offers(b, w1.request.id)
    check(sorted(x.expert_id for x in o) == [ws[0].id, ws[1].id] and all(x.wave == 1 for x in o),
          "waves: the first wave has two offers")
    b.ok("broker.offer.decline", B.DeclineOfferRequest(offer_id=o[0].id), B.OfferReply)
    o2 = open_offers(b, w1.request.id)
    check(len(o2) == 2 and ws[2].id in {x.expert_id for x in o2}
          and [x.wave for x in o2 if x.expert_id == ws[2].id] == [2],
          "waves: a decline sends the next offer (wave 2)")
    for x in o2:
        accept(x.id)
    check(get_request(b, w1.request.id).request.state == B.REQUEST_STATE_FILLED,
          "waves: filled with two")
    w2 = file_request(b, "wave-2", expertise=["disability"], experts_needed=2, wave_size=3,
                      requester_org_id=22)
    o = sorted(open_offers(b, w2.request.id), key=lambda x: x.rank)
    check(len(o) == 3, "wave of three for two places")
    accept(o[0].id)
    accept(o[1].id)
    req = get_request(b, w2.request.id)
    check(req.request.state == B.REQUEST_STATE_FILLED and
          [x.state for x in req.offers if x.id == o[2].id] == [B.OFFER_STATE_WITHDRAWN],
          "filling withdraws the rest of the wave")

    # ---- erasing an expert ---------------------------------------------------------------------
    rs = file_request(b, "sens-1", expertise=["rare-diseases"], requester_org_id=31)
    o = open_offers(b, rs.request.id)
    check(o[0].expert_id == ea.id, "erase: Matti offered the rare-diseases request")
    a_s = accept(o[0].id)
    sr = b.ok("broker.sensitive.read", B.SensitiveReadRequest(
        assignment_id=a_s.id, requester_token=rs.requester_token), B.SensitiveReadReply)
    check(sr.sensitive_detail_text.startswith("Diagnoosi"), "erase: detail readable before")
    rs2 = file_request(b, "sens-2", expertise=["rare-diseases"], requester_org_id=32)
    check(open_offers(b, rs2.request.id)[0].expert_id == ea.id, "erase: Matti has an open offer")
    seq0 = head_seq(b)
    er = b.ok("broker.expert.erase", B.ExpertRef(expert_id=ea.id), B.ExpertReply).expert
    check(er.erased and er.profile.name == "" and er.profile.email == "" and
          er.profile.phone == "" and not er.has_sensitive_detail, "erase: personal data gone")
    got = expert(ea.id)
    check(got.erased and got.profile.name == "" and len(got.profile.expertise) == 0,
          "erase: the stored record is empty")
    req = get_request(b, rs2.request.id)
    check(req.request.state == B.REQUEST_STATE_UNFILLED
          and req.offers[0].state == B.OFFER_STATE_WITHDRAWN,
          "erase: the open offer withdrawn, nobody else left: unfilled")
    asgs = b.ok("broker.assignment.list", B.ListAssignmentsRequest(expert_id=ea.id),
                B.ListAssignmentsReply).assignments
    check(len(asgs) == 2 and all(x.expert_id == ea.id for x in asgs)
          and [x.state for x in asgs if x.id == a_s.id] == [B.ASSIGNMENT_STATE_CANCELLED],
          "erase: assignments kept under the id; the confirmed one cancelled")
    r = b.call("broker.sensitive.read", B.SensitiveReadRequest(
        assignment_id=a_s.id, requester_token=rs.requester_token))
    check(r.status.code != E.CODE_OK, "erase: the sensitive detail cannot be read any more")
    evs = log_types(b, seq0 + 1)
    check("ExpertErased" in [e.type for e in evs]
          and not any(b"Meik" in e.payload or b"Diagnoosi" in e.payload for e in evs),
          "ExpertErased on the log, no personal data in the events of the erasure")
    r = b.call("broker.expert.update", B.UpdateExpertRequest(
        expert_id=ea.id, expert=B.ExpertInput(kind=1, name="X", email="x@example.fi",
                                              home_org_id=1, expertise=["youth"],
                                              languages=["fi"], remote_ok=True, consent=True)))
    check(r.status.code == E.CODE_CONFLICT, "an erased expert cannot be updated")
    check(b.call("broker.expert.erase", B.ExpertRef(expert_id=ea.id)).status.code == E.CODE_OK,
          "erasing again is harmless")
    rr = file_request(b, "sens-3", expertise=["rare-diseases"], requester_org_id=33)
    by = b.candidates(rr.request.id)
    check("erased" in by[ea.id].reasons and not by[ea.id].eligible,
          "an erased expert is never a candidate")

    # ---- extending an unfilled request: a newly registered expert gets the offer ------------
    r = b.call("broker.request.extend", B.ExtendBrokerRequestRequest(
        request_id=rs2.request.id, answer_deadline_unix=b.now_s() - 5))
    check(r.status.code == E.CODE_INVALID and "answer_deadline_unix" in r.status.message,
          "extend: a deadline in the past refused")
    r = b.call("broker.request.extend", B.ExtendBrokerRequestRequest(
        request_id=rs2.request.id, answer_deadline_unix=b.now_s() + 30 * 86400))
    check(r.status.code == E.CODE_INVALID and "start" in r.status.message,
          "extend: a deadline after the start refused")
    r = b.call("broker.request.extend", B.ExtendBrokerRequestRequest(
        request_id=w1.request.id, answer_deadline_unix=b.now_s() + 86400))
    check(r.status.code == E.CODE_CONFLICT, "extend: a filled request cannot be extended")
    enew = register(b, "Uusi Harvinainen", "uusi@example.fi", expertise=["rare-diseases"])
    ext = b.ok("broker.request.extend", B.ExtendBrokerRequestRequest(
        request_id=rs2.request.id, answer_deadline_unix=b.now_s() + 5 * 86400),
        B.BrokerRequestReply)
    o = [x for x in ext.offers if x.state == B.OFFER_STATE_OPEN]
    check(ext.request.state == B.REQUEST_STATE_OPEN and len(o) == 1
          and o[0].expert_id == enew.id,
          "extend: the unfilled request reopens and the newly eligible expert is offered")

    # ---- a cancellation after the answer deadline is reported unfilled ------------------------
    late = file_request(b, "late-1", expertise=["disability"], requester_org_id=41,
                        offer_hours=2)
    o = open_offers(b, late.request.id)
    la = accept(o[0].id)
    b.advance(13 * 86400 * 1000 + 3600 * 1000, settle_s=0.3)  # past the deadline, before start
    seq0 = head_seq(b)
    b.ok("broker.assignment.cancel", B.CancelAssignmentRequest(
        assignment_id=la.id, by="expert", reason="este"), B.AssignmentReply)
    req = get_request(b, late.request.id)
    evs = [e.type for e in log_types(b, seq0 + 1)]
    check(req.request.state == B.REQUEST_STATE_UNFILLED and "RequestUnfilled" in evs
          and "OfferMade" not in evs,
          "a cancellation past the answer deadline reports the request unfilled")
    b.advance(-(13 * 86400 * 1000 + 3600 * 1000), settle_s=0.1)

    # ---- bad input: clear errors, nothing changes ----------------------------------------------
    seq0 = head_seq(b)
    c = b.client()
    for frame, what in [(b"\x0a\xff\xff\xff", "malformed envelope"),
                        (E.Request(request_id=7, method="broker.request.file",
                                   body=b"\x0a\xff").SerializeToString(), "malformed body"),
                        (E.Request(request_id=8, method="broker.expert.get",
                                   body=b"\x08" + b"\xff" * 11).SerializeToString(),
                         "over-long varint")]:
        c.send_raw(frame)
        rep = c.recv_reply(5000)
        check(rep is not None and rep.status.code == E.CODE_BAD_REQUEST
              and "malformed" in rep.status.message, what + " -> BAD_REQUEST malformed")
    c.close()
    for kw, field in [(dict(start_unix=b.now_s() - 3600), "start_unix"),
                      (dict(answer_deadline_unix=b.now_s() - 60), "answer_deadline_unix"),
                      (dict(title="a\x07b"), "title"), (dict(requester_name="x\r\ny"),
                                                        "requester_name"),
                      (dict(title="x" * 201), "title"),
                      (dict(municipality="7a3"), "municipality")]:
        r = b.call("broker.request.file", B.FileRequestRequest(request=request_input(b, **kw)),
                   key="bad-" + field + str(len(kw)))
        check(r.status.code == E.CODE_INVALID and field in r.status.message
              and "\x07" not in r.status.message, "request: bad %s refused by name" % field)
    for method, msg in [("broker.assignment.cancel",
                         B.CancelAssignmentRequest(assignment_id=99999, by="expert", reason="x")),
                        ("broker.assignment.complete",
                         B.CompleteAssignmentRequest(assignment_id=99999, minutes=60)),
                        ("broker.request.explain", B.BrokerRequestRef(request_id=99999)),
                        ("broker.request.cancel",
                         B.CancelBrokerRequestRequest(request_id=99999, reason="x")),
                        ("broker.expert.erase", B.ExpertRef(expert_id=99999)),
                        ("broker.expert.pause", B.PauseExpertRequest(expert_id=99999,
                                                                     paused=True)),
                        ("broker.offer.decline", B.DeclineOfferRequest(offer_id=99999)),
                        ("broker.assignment.paid",
                         B.MarkPaidRequest(assignment_ids=[99999], payment_ref="x"))]:
        r = b.call(method, msg)
        check(r.status.code == E.CODE_NOT_FOUND and "99999" in r.status.message,
              "%s: an unknown id is NOT_FOUND" % method)
    for msg, field in [(B.MarkPaidRequest(payment_ref="x"), "assignment_ids"),
                       (B.MarkPaidRequest(assignment_ids=[1], payment_ref=""), "payment_ref"),
                       (B.MarkPaidRequest(assignment_ids=[1], payment_ref="a\x1bb"),
                        "payment_ref")]:
        r = b.call("broker.assignment.paid", msg)
        check(r.status.code == E.CODE_INVALID and field in r.status.message,
              "paid: bad %s refused" % field)
    r = b.call("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=[a2.id],
                                                           payment_ref="erä 1"))
    check(r.status.code == E.CODE_CONFLICT, "paid: only completed assignments")
    r = b.call("broker.assignment.export", B.AssignmentExportRequest(from_unix=10, to_unix=5))
    check(r.status.code == E.CODE_INVALID and "to_unix" in r.status.message, "export: bad range")
    check(head_seq(b) == seq0, "refused input wrote nothing to the log")

    # ---- export beyond 1000 rows (cursor), paid marker -----------------------------------------
    hs = [register(b, "Maksu %02d" % i, "m%d@example.fi" % i, expertise=["homelessness"])
          for i in range(20)]
    t = time.time()
    asg_ids = []
    for k in range(51):
        fr = file_request(b, "pay-%d" % k, expertise=["homelessness"], experts_needed=20,
                          requester_org_id=1000 + k)
        for x in fr.offers:
            asg_ids.append(accept(x.id).id)
    check(len(asg_ids) == 1020, "1020 assignments confirmed (%.1f s)" % (time.time() - t))
    b.advance(15 * 86400 * 1000, settle_s=0.2)
    for aid in asg_ids:
        b.ok("broker.assignment.complete", B.CompleteAssignmentRequest(
            assignment_id=aid, minutes=60), B.AssignmentReply)
    p1 = b.ok("broker.assignment.export", B.AssignmentExportRequest(), B.AssignmentExportReply)
    p2 = b.ok("broker.assignment.export", B.AssignmentExportRequest(after_id=p1.next_after_id),
              B.AssignmentExportReply)
    rows1 = p1.csv_text.strip().split("\n")[1:]
    rows2 = p2.csv_text.strip().split("\n")[1:]
    ids = [int(x.split(",")[0].strip('"')) for x in rows1 + rows2]
    check(p1.rows == 1000 and p1.next_after_id == ids[999] and p2.rows == 20
          and p2.next_after_id == 0 and sorted(ids) == sorted(asg_ids) and len(set(ids)) == 1020,
          "export pages: 1000 rows, then the other 20 with the cursor, each row once")
    check("Maksu" in p1.csv_text and "paid_date,payment_ref" in p1.csv_text,
          "export names the expert and has the paid columns")
    seq0 = head_seq(b)
    mp = b.ok("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=ids[:3] + [ids[0]],
                                                          payment_ref="erä 2026-11"),
              B.MarkPaidReply)
    check(mp.marked == 3 and mp.already_paid == 1, "paid: three marked (a repeat counted once)")
    evs = log_types(b, seq0 + 1)
    check([e.type for e in evs] == ["AssignmentsPaid"], "AssignmentsPaid on the log")
    mp = b.ok("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=ids[:2],
                                                          payment_ref="erä 2026-12"),
              B.MarkPaidReply)
    check(mp.marked == 0 and mp.already_paid == 2, "paid: marking again changes nothing")
    u1 = b.ok("broker.assignment.export", B.AssignmentExportRequest(unpaid_only=True),
              B.AssignmentExportReply)
    u2 = b.ok("broker.assignment.export", B.AssignmentExportRequest(
        unpaid_only=True, after_id=u1.next_after_id), B.AssignmentExportReply)
    check(u1.rows + u2.rows == 1017, "export --unpaid leaves out the three paid")
    line = [x for x in b.ok("broker.assignment.export", B.AssignmentExportRequest(),
                            B.AssignmentExportReply).csv_text.split("\n")
            if x.startswith('"%d",' % ids[0])][0]
    check(line.endswith('"erä 2026-11"') and '"20' in line.split(",")[-2],
          "the paid row carries the date and the payment reference")

    # ---- the CLI: export pages, paid, expert-erase ------------------------------------------
    import json
    import os
    import subprocess
    cli = [os.path.join(os.environ["KP_BIN_DIR"], "kumppani"), "--endpoint", b.api, "--keys",
           "none"]  # plain TCP

    def kp(*args):
        return subprocess.run(cli + list(args), capture_output=True, text=True)
    out = kp("broker", "export", "--unpaid")
    check(out.returncode == 0 and out.stdout.count("\n") == 1001
          and "--after %d" % u1.next_after_id in out.stderr,
          "CLI: export prints a page and the next page's --after")
    out = kp("broker", "export", "--unpaid", "--after", str(u1.next_after_id))
    check(out.returncode == 0 and out.stdout.count("\n") == 18 and out.stderr == "",
          "CLI: export --after gives the last page")
    out = kp("--json", "broker", "paid", str(ids[3]), str(ids[4]), "--ref", "erä 3")
    check(out.returncode == 0 and json.loads(out.stdout).get("marked") == 2, "CLI: broker paid")
    out = kp("broker", "paid", str(ids[5]))
    check(out.returncode == 4 and "payment_ref" in out.stderr, "CLI: paid without --ref refused")
    out = kp("broker", "expert-erase", str(hs[0].id))
    check(out.returncode == 4 and "not marked paid" in out.stderr and not expert(hs[0].id).erased,
          "erase is refused while completed assignments are unpaid (payment needs the name)")
    mine = [a.id for a in b.ok("broker.assignment.list", B.ListAssignmentsRequest(
        expert_id=hs[0].id), B.ListAssignmentsReply).assignments]
    b.ok("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=mine, payment_ref="erä 4"),
         B.MarkPaidReply)
    st0 = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    out = kp("broker", "expert-erase", str(hs[0].id))
    check(out.returncode == 0 and expert(hs[0].id).erased, "CLI: broker expert-erase once paid")
    st1 = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(len(st1.per_expert) == len(st0.per_expert) - 1
          and hs[0].id not in [p.expert_id for p in st1.per_expert],
          "stats: erased experts are left out of the spread")
    out = kp("--json", "broker", "expert-register", "--name", "Cli Asiantuntija", "--email",
             "cli@example.fi", "--org", "1", "--expertise", "youth,cancer", "--remote",
             "--consent", "--availability", "1:09:00-12:00,3:13:30-16:00", "--trainings",
             "Kokemuskoulutus|Mieli ry|2023-05-01;Jatkokurssi|Sosped|2024-01-15", "--person", "7",
             "--idempotency-key", "cli-e1")
    ok = out.returncode == 0
    ce = json.loads(out.stdout)["expert"] if ok else {}
    eid = int(ce.get("id", 0))
    got = expert(eid) if eid else None
    check(ok and got and [(x.weekday, x.from_minute, x.to_minute) for x in got.profile.availability]
          == [(1, 540, 720), (3, 810, 960)] and len(got.profile.trainings) == 2
          and got.profile.trainings[1].organiser == "Sosped"
          and got.profile.registry_person_id == 7,
          "CLI: expert-register with availability, trainings and the registry person")
    out = kp("broker", "expert-update", str(eid), "--name", "Cli Uusinimi", "--email",
             "cli@example.fi", "--org", "1", "--expertise", "youth", "--remote", "--consent")
    got = expert(eid)
    check(out.returncode == 0 and got.profile.name == "Cli Uusinimi"
          and list(got.profile.expertise) == ["youth"] and not got.profile.availability,
          "CLI: expert-update replaces the profile")
    # Issue 16: one field changes without repeating the profile (update_mask).
    out = kp("broker", "expert-update", str(eid), "--only", "--phone", "+358401112223")
    got = expert(eid)
    check(out.returncode == 0 and got.profile.phone == "+358401112223"
          and got.profile.name == "Cli Uusinimi" and got.profile.email == "cli@example.fi"
          and list(got.profile.expertise) == ["youth"] and got.profile.remote_ok
          and got.profile.home_org_id == 1,
          "CLI: expert-update --only --phone changes the phone and keeps the rest (%s)"
          % out.stderr.strip())
    out = kp("broker", "expert-update", str(eid), "--only")
    check(out.returncode == 2 and "--only" in out.stderr, "CLI: --only without a field: usage")
    out = kp("broker", "expert-register", "--only", "--name", "X", "--org", "1")
    check(out.returncode == 2 and "expert-update" in out.stderr,
          "CLI: --only is refused by expert-register")
    out = kp("broker", "expert-update", str(eid), "--name", "X", "--email", "x@example.fi",
             "--org", "1", "--expertise", "youth", "--consent", "--availability", "8:09:00-10:00")
    check(out.returncode == 2 and "availability" in out.stderr,
          "CLI: a bad availability window is a usage error")
    out = kp("broker", "expert-erase", "--help")
    check(out.returncode == 0 and "Erases" in out.stdout, "CLI: expert-erase --help")
    allev = log_types(b)
    check(len(allev) > 3000 and not any(
        w in e.payload for e in allev for w in [b"Meik", b"liisa.virtanen", b"+35840", b"Liisa",
                                              b"Kokemusasiantuntija", b"Diagnoosi"]),
          "the broker's log carries no expert's name, e-mail, phone or sensitive detail")
    check(not any(w in e.payload for e in allev for w in ["sairastuin".encode(),
                                                           "tilaisuus peruttu".encode(),
                                                           "ei käy".encode()]),
          "the log carries no free-text reasons (they may tell of an illness)")
    print("test time %.1f s" % (time.time() - T0))
finally:
    s.close()
done()
