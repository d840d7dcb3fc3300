# timeout: 240
"""Expert broker, issue 5: experts, requests, fair matching with explanations, offers in
waves with deadlines (moved with the test clock), accept/decline/lapse, withdrawal when
filled, unfilled reporting, restart with open offers after SIGKILL, assignments, feedback,
CSV export, statistics, sensitive details with audit, events on the bus, bad input."""
import time

import zmq
from kp_harness import (OK, E, L, PII, Suite, body, check, done)
from kp_broker import (B, HOUR_MS, Broker, expert_input, file_request, get_request,
                       open_offers, register, request_input)

s = Suite()
try:
    b = Broker(s).start()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"E")
    sub.connect(b.pub)
    time.sleep(0.3)

    # ---- experts -----------------------------------------------------------------------------
    e1 = register(b, "Matti Meikäläinen", "matti.meikalainen@example.fi", phone="+358401234567",
                  trainings=[B.ExpertTraining(course="Kokemusasiantuntijakoulutus",
                                              organiser="Mielenterveysyhdistys",
                                              completed_date="2022-05-31")],
                  sensitive_consent=True, sensitive_detail_text="Diagnoosi: kaksisuuntainen")
    e2 = register(b, "Liisa Virtanen", "liisa.virtanen@example.fi", kind=B.EXPERT_KIND_ACTOR)
    e3 = register(b, "Kolmas Asiantuntija", "kolmas@example.fi", languages=["sv"])
    e4 = register(b, "Neljäs Asiantuntija", "neljas@example.fi")
    check(e1.id and e2.id and e3.id and e4.id, "four experts registered")
    check(e1.has_sensitive_detail and e1.profile.sensitive_detail_text == "",
          "sensitive detail stored with consent and never shown in the expert record")
    again = register(b, "Matti Meikäläinen", "matti.meikalainen@example.fi",
                     phone="+358401234567", sensitive_consent=True,
                     sensitive_detail_text="Diagnoosi: kaksisuuntainen",
                     trainings=[B.ExpertTraining(course="Kokemusasiantuntijakoulutus",
                                                 organiser="Mielenterveysyhdistys",
                                                 completed_date="2022-05-31")])
    check(again.id == e1.id, "registering again with the same key returns the first expert")
    r = b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        "X", "x@example.fi", sensitive_detail_text="salainen")), key="k-nocons")
    check(r.status.code == E.CODE_INVALID and "sensitive_consent" in r.status.message
          and "salainen" not in r.status.message,
          "sensitive detail without consent refused, value not echoed")
    for bad, field in [(dict(expertise=["astrology"]), "expertise"),
                       (dict(languages=["FIN"]), "languages"),
                       (dict(municipalities=["74"]), "municipalities"),
                       (dict(consent=False), "consent"),
                       (dict(blocked_dates=["2025-13-01"]), "blocked_dates"),
                       (dict(availability=[B.WeeklySlot(weekday=8, from_minute=0,
                                                         to_minute=60)]), "availability"),
                       (dict(name="a\u0007b"), "name")]:
        kw = dict(dict(name="Y", email="y@example.fi"), **bad)
        r = b.call("broker.expert.register", B.RegisterExpertRequest(
            expert=expert_input(kw.pop("name"), kw.pop("email"), **kw)), key="k-bad-" + field)
        check(r.status.code in (E.CODE_INVALID, E.CODE_BAD_REQUEST) and field in r.status.message,
              "bad expert field %s refused naming the field" % field)
    lst = b.ok("broker.expert.list", B.ListExpertsRequest(), B.ListExpertsReply)
    check(len(lst.experts) == 4, "bad input stored nothing")

    # ---- a request: wave 1 goes to the best candidate ------------------------------------------
    rq = file_request(b, "req-1")
    rid = rq.request.id
    check(len(rq.requester_token) == 32, "requester token returned once at filing")
    ex = b.ok("broker.request.explain", B.BrokerRequestRef(request_id=rid), B.ExplainRequestReply)
    by = {c.expert_id: c for c in ex.candidates}
    check(not by[e3.id].eligible and "language" in by[e3.id].reasons,
          "explain: the Swedish-only expert is not eligible for language")
    check(by[e1.id].offer_state == B.OFFER_STATE_OPEN and "already-offered" in by[e1.id].reasons
          and by[e2.id].rank == 1 and by[e4.id].rank == 2,
          "explain: the offered expert is marked; the never-assigned others ranked by id")
    offers = open_offers(b, rid)
    check(len(offers) == 1 and offers[0].expert_id == e1.id and offers[0].wave == 1,
          "first wave: one offer to the first-ranked expert")

    # decline -> next candidate
    b.ok("broker.offer.decline", B.DeclineOfferRequest(offer_id=offers[0].id, reason="ei ehdi"),
         B.OfferReply)
    offers = open_offers(b, rid)
    check(len(offers) == 1 and offers[0].expert_id == e2.id and offers[0].wave == 2,
          "after a decline the next candidate gets the offer")
    r = b.call("broker.offer.accept", B.OfferRef(offer_id=get_request(b, rid).offers[0].id))
    check(r.status.code == E.CODE_CONFLICT and "declined" in r.status.message,
          "accepting a declined offer is a conflict")

    # lapse (test clock: +47 h gives lapsing soon, +49 h the lapse) -> third candidate
    b.advance(47 * HOUR_MS)
    o = [x for x in get_request(b, rid).offers if x.id == offers[0].id][0]
    check(o.lapsing_soon_sent and o.state == B.OFFER_STATE_OPEN, "offer lapsing soon noted")
    b.advance(2 * HOUR_MS)
    o = [x for x in get_request(b, rid).offers if x.id == offers[0].id][0]
    check(o.state == B.OFFER_STATE_LAPSED, "offer lapsed at its deadline")
    offers = open_offers(b, rid)
    check(len(offers) == 1 and offers[0].expert_id == e4.id, "after a lapse the next one gets it")

    # restart while the offer is open: SIGKILL, move time past the deadline, start again
    b.proc.kill9()
    b.set_offset(b.offset_ms + 49 * HOUR_MS)
    b.start()
    time.sleep(0.8)
    req = get_request(b, rid)
    check(req.request.state == B.REQUEST_STATE_UNFILLED,
          "after kill -9 and restart the deadline ran: offer lapsed, nobody left, unfilled")
    check(any(x.state == B.OFFER_STATE_LAPSED and x.expert_id == e4.id for x in req.offers),
          "the open offer survived the restart and lapsed")

    # ---- waves of two, accept, filled, others withdrawn ---------------------------------------
    rq2 = file_request(b, "req-2", experts_needed=1, wave_size=2, purpose=B.PURPOSE_WORKING_GROUP,
                       ongoing=True)
    rid2 = rq2.request.id
    offers = open_offers(b, rid2)
    check(len(offers) == 2, "wave of two offers")
    acc = b.ok("broker.offer.accept", B.OfferRef(offer_id=offers[0].id), B.OfferReply)
    asg = acc.assignment
    check(asg.state == B.ASSIGNMENT_STATE_CONFIRMED, "accept confirms an assignment")
    req = get_request(b, rid2)
    check(req.request.state == B.REQUEST_STATE_FILLED, "request filled")
    check([x.state for x in req.offers if x.id == offers[1].id] == [B.OFFER_STATE_WITHDRAWN],
          "the other open offer was withdrawn")

    # fairness: the assigned expert now ranks last for the same requester
    rq3 = file_request(b, "req-3", wave_size=3)
    ex = b.ok("broker.request.explain", B.BrokerRequestRef(request_id=rq3.request.id),
              B.ExplainRequestReply)
    elig = [c for c in ex.candidates if c.eligible or c.offer_state == B.OFFER_STATE_OPEN]
    last = [c for c in ex.candidates if c.expert_id == asg.expert_id][0]
    check(last.recent_same_requester and last.assignments_90d == 1,
          "explain shows the repeat-requester and 90-day keys")
    offers3 = sorted(open_offers(b, rq3.request.id), key=lambda o: o.rank)
    check(offers3[-1].expert_id == asg.expert_id,
          "an expert recently with the same requester is asked last")

    # ---- sensitive detail: only the requester, only for an accepted request, audited ---------
    e1_asg = None
    if asg.expert_id != e1.id:
        o1 = [o for o in offers3 if o.expert_id == e1.id][0]
        e1_asg = b.ok("broker.offer.accept", B.OfferRef(offer_id=o1.id), B.OfferReply).assignment
        token = rq3.requester_token
    else:
        e1_asg, token = asg, rq2.requester_token
    r = b.call("broker.sensitive.read", B.SensitiveReadRequest(assignment_id=e1_asg.id,
                                                             requester_token="0" * 32))
    check(r.status.code == E.CODE_FORBIDDEN, "a wrong token cannot read the sensitive detail")
    sr = b.ok("broker.sensitive.read", B.SensitiveReadRequest(assignment_id=e1_asg.id,
                                                            requester_token=token),
              B.SensitiveReadReply)
    check(sr.sensitive_detail_text == "Diagnoosi: kaksisuuntainen", "requester reads the detail")
    au = b.ok("broker.audit.list", B.ListBrokerAuditRequest(), B.ListBrokerAuditReply)
    reads = [x for x in au.entries if x.what == "sensitive-detail-read"]
    check(len(reads) == 1 and reads[0].assignment_id == e1_asg.id
          and "Diagnoosi" not in str(au), "the read is audited, without the detail")
    check([x.refusal for x in au.entries if x.what == "sensitive-detail-refused"]
          == ["wrong token"], "the refused attempt is audited too (issue 16)")

    # ---- complete, feedback, export, stats -----------------------------------------------------
    r = b.call("broker.assignment.complete", B.CompleteAssignmentRequest(
        assignment_id=asg.id, minutes=90))
    check(r.status.code == E.CODE_CONFLICT, "cannot complete before the start")
    b.advance(15 * 86400 * 1000, settle_s=0.3)
    done_a = b.ok("broker.assignment.complete", B.CompleteAssignmentRequest(
        assignment_id=asg.id, minutes=90), B.AssignmentReply).assignment
    check(done_a.state == B.ASSIGNMENT_STATE_COMPLETED and done_a.fee_cents == 15000,
          "completed with hours and the request's fee")
    b.ok("broker.assignment.feedback", B.AssignmentFeedbackRequest(
        assignment_id=asg.id, side="expert", rating=5, comment_text="Hyvä"), B.AssignmentReply)
    r = b.call("broker.assignment.feedback", B.AssignmentFeedbackRequest(
        assignment_id=asg.id, side="expert", rating=4))
    check(r.status.code == E.CODE_CONFLICT, "feedback once per side")
    r = b.call("broker.assignment.feedback", B.AssignmentFeedbackRequest(
        assignment_id=asg.id, side="requester", rating=9))
    check(r.status.code == E.CODE_INVALID and "rating" in r.status.message, "rating 1..5")
    csv = b.ok("broker.assignment.export", B.AssignmentExportRequest(), B.AssignmentExportReply)
    check(csv.rows == 1 and csv.csv_text.startswith("assignment_id,") and "150.00" in csv.csv_text
          and "1.50" in csv.csv_text, "CSV export of the completed assignment")
    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(st.requests_filed == 3 and st.requests_unfilled >= 1 and st.requests_filled >= 1
          and st.requests_filled + st.requests_unfilled == 3,
          "stats: filed, filled, unfilled " + str(st).replace("\n", " ")[:300])
    check(st.working_groups == 1 and st.working_groups_with_expert == 1,
          "stats: working groups with an expert")
    check(len(st.per_expert) == 4 and st.assignments_max >= 1 and st.gini > 0,
          "stats: per expert and evenness")

    # ---- bad requests ----------------------------------------------------------------------------
    for kw, field in [(dict(start_unix=b.now_s() - 10), "start_unix"),
                      (dict(experts_needed=0), "experts_needed"),
                      (dict(expertise=[]), "expertise"),
                      (dict(language="finnish"), "language"),
                      (dict(contact_email="not-an-email"), "contact_email")]:
        r = b.call("broker.request.file", B.FileRequestRequest(request=request_input(b, **kw)),
                   key="bad-" + field)
        check(r.status.code == E.CODE_INVALID and field in r.status.message,
              "bad request field %s refused" % field)
    r = b.call("broker.request.file", B.FileRequestRequest(request=request_input(b)))
    check(r.status.code == E.CODE_INVALID and "idempotency_key" in r.status.message,
          "filing needs an idempotency key")
    r = b.call("broker.offer.accept", B.OfferRef(offer_id=999999))
    check(r.status.code == E.CODE_NOT_FOUND, "unknown offer")
    lst = b.ok("broker.request.list", B.ListBrokerRequestsRequest(), B.ListBrokerRequestsReply)
    check(len(lst.requests) == 3, "bad requests stored nothing")

    # ---- events on the bus ------------------------------------------------------------------------
    types = set()
    end = time.time() + 2
    while time.time() < end:
        if sub.poll(200):
            f = sub.recv_multipart()
            ev = L.Event.FromString(f[1])
            types.add(ev.type)
            check("Diagnoosi" not in str(ev.payload), "no sensitive detail on the bus: " + ev.type) \
                if ev.type == "SensitiveDetailRead" else None
    page = b.ok("log.replay", L.ReplayRequest(from_seq=1), L.ReplayPage)
    types |= {e.type for e in page.events}
    for t in ["RequestFiled", "OfferMade", "OfferWithdrawn", "OfferLapsingSoon", "OfferLapsed",
              "AssignmentConfirmed", "AssignmentCompleted", "RequestUnfilled", "RequestFilled",
              "SensitiveDetailRead"]:
        check(t in types, "event %s on the log" % t)
    check(not any(b"Diagnoosi" in e.payload for e in page.events),
          "the sensitive detail is in no event")
    check(not any(b"tilaaja@example.fi" in e.payload for e in page.events)
          and any(e.type == "RequestFiled" for e in page.events),
          "the requester's contact is in no event (RequestFiled carries the request without it)")
    # ---- the CLI --------------------------------------------------------------------------------
    import json, os, subprocess
    cli = [os.path.join(os.environ["KP_BIN_DIR"], "kumppani"), "--endpoint", b.api, "--keys",
           "none"]  # plain TCP
    out = subprocess.run(cli + ["--json", "broker", "experts"], capture_output=True, text=True)
    check(out.returncode == 0 and len(json.loads(out.stdout)["experts"]) == 4,
          "CLI: broker experts --json")
    ids = [int(e["id"]) for e in json.loads(out.stdout)["experts"]] if out.returncode == 0 else []
    out = subprocess.run(cli + ["--json", "broker", "experts", "--after", str(ids[0]), "--limit",
                                "2"], capture_output=True, text=True)
    check(out.returncode == 0
          and [int(e["id"]) for e in json.loads(out.stdout)["experts"]] == ids[1:3],
          "CLI: broker experts --after ID --limit 2: the next two")
    out = subprocess.run(cli + ["--json", "broker", "requests", "--limit", "1"],
                         capture_output=True, text=True)
    check(out.returncode == 0 and len(json.loads(out.stdout)["requests"]) == 1,
          "CLI: broker requests --limit 1")
    out = subprocess.run(cli + ["broker", "requests", "--limit", "501"], capture_output=True,
                         text=True)
    check(out.returncode == 2 and "--limit must be a whole number from 1 to 500" in out.stderr,
          "CLI: a --limit out of range is a usage error")
    # broker audit --limit N: at most N entries (it was accepted and ignored: every entry).
    out = subprocess.run(cli + ["--json", "broker", "audit"], capture_output=True, text=True)
    aud = [int(x["id"]) for x in json.loads(out.stdout)["entries"]] if out.returncode == 0 else []
    check(len(aud) == 2, "CLI: broker audit lists the read and the refused attempt (%s)" % aud)
    out = subprocess.run(cli + ["--json", "broker", "audit", "--limit", "1"], capture_output=True,
                         text=True)
    check(out.returncode == 0
          and [int(x["id"]) for x in json.loads(out.stdout)["entries"]] == aud[:1],
          "CLI: broker audit --limit 1: the first entry only")
    out = subprocess.run(cli + ["broker", "audit", "--after", str(aud[0]), "--limit", "1"],
                         capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout.count("\n") == 1
          and out.stdout.startswith("%-6d " % aud[1]),
          "CLI: broker audit --after ID --limit 1: the next one (%s)" % out.stdout)
    out = subprocess.run(cli + ["broker", "audit", "--limit", "1001"], capture_output=True,
                         text=True)
    check(out.returncode == 2 and "--limit must be a whole number from 1 to 1000" in out.stderr,
          "CLI: broker audit --limit beyond the broker's page is a usage error (%s)" % out.stderr)
    out = subprocess.run(cli + ["broker", "audit", "--help"], capture_output=True, text=True)
    check(out.returncode == 0 and "[--limit N]" in out.stdout and "1..1000" in out.stdout,
          "CLI: broker audit --help names --limit")
    out = subprocess.run(cli + ["broker", "explain", str(rid)], capture_output=True,
                         text=True)
    check(out.returncode == 0 and "language" in out.stdout and "rule:" in out.stdout,
          "CLI: broker request explain (table)")
    out = subprocess.run(cli + ["broker", "offer-accept", "999999"], capture_output=True,
                         text=True)
    check(out.returncode == 4, "CLI: an error answer exits 4")
finally:
    s.close()
done()
