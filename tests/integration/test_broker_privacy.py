# timeout: 180
"""Expert broker, issue 12: broker.privacy.export and broker.privacy.erase by e-mail or phone
(requesters' contacts emptied with RequesterErased on the log, experts erased as
broker.expert.erase with its unpaid rule, the idempotency record of the filing rewritten,
NOT_FOUND for an unknown subject and on a second erasure, statistics unchanged, the bytes gone
from data.mdb after the compaction), and retention-days (default 365) applied by the timer with
the test clock."""
import json
import os
import time

from kp_harness import OK, E, L, PII, Suite, body, check, done
from kp_broker import (B, Broker, expert_input, file_request, get_request, log_types, open_offers, register,
                       request_input)
from kumppani.v1 import privacy_pb2 as P

DAY_MS = 86400 * 1000
NOTHING = "no personal data held for that subject"

# Unique strings of this test's people (each must vanish from data.mdb when erased).
X_NAME, X_MAIL, X_PHONE = "Xaver Canarinen", "xaver.canarinen@example.fi", "+358409991111"
X_DETAIL = "Kanariatausta: harvinainen sairaus"
P_NAME, P_MAIL, P_PHONE = "Pirkko Pyytäjä-Kanari", "pirkko.kanari@example.fi", "+358409992222"
Q_NAME, Q_MAIL = "Quentin Peruttu", "quentin.peruttu@example.fi"
S_NAME, S_MAIL = "Saara Tuore", "saara.tuore@example.fi"


def mdb_has(path, text):
    with open(path, "rb") as f:
        return f.read().count(text.encode())


def erase(b, **subject):
    return b.call("broker.privacy.erase", P.DataSubject(**subject))


def export(b, **subject):
    return b.call("broker.privacy.export", P.DataSubject(**subject))


s = Suite()
try:
    b = Broker(s).start()
    mdb = os.path.join(s.dir, "broker", "data.mdb")
    stats0 = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)

    # ---- people: an expert (X), a private requester (P), an organisation's request -----------
    # (idempotency keys are the client's: they never carry personal data, see the README)
    x_req = B.RegisterExpertRequest(expert=expert_input(
        X_NAME, X_MAIL, phone=X_PHONE, expertise=["rare-diseases"], sensitive_consent=True,
        sensitive_detail_text=X_DETAIL))
    x = b.ok("broker.expert.register", x_req, B.ExpertReply, key="exp-x").expert
    other = register(b, PII[5], PII[6])  # planted personal data that stays
    r1_req = B.FileRequestRequest(request=request_input(
        b, requester_kind=B.REQUESTER_PERSON, requester_name=P_NAME, requester_org_id=0,
        contact_name=P_NAME, contact_email=P_MAIL, contact_phone=P_PHONE,
        expertise=["rare-diseases"]))
    r1 = b.ok("broker.request.file", r1_req, B.BrokerRequestReply, key="req-p")
    o = open_offers(b, r1.request.id)
    check(len(o) == 1 and o[0].expert_id == x.id, "the private person's request offered to X")
    asg = b.ok("broker.offer.accept", B.OfferRef(offer_id=o[0].id), B.OfferReply).assignment
    r2 = file_request(b, "req-org", contact_name="Olli Organisaatio")
    check(mdb_has(mdb, P_MAIL) > 0 and mdb_has(mdb, X_MAIL) > 0,
          "before: the requester's and the expert's e-mails are in data.mdb")

    # ---- export ------------------------------------------------------------------------------
    r = export(b, email=P_MAIL.upper())
    check(r.status.code == OK, "export by e-mail (other case) answered")
    doc = json.loads(body(r, P.PrivacyExportReply).json)
    check(body(r, P.PrivacyExportReply).service == "expert-broker" and doc["experts"] == []
          and [q["id"] for q in doc["requests"]] == [r1.request.id]
          and doc["requests"][0]["input"]["contact_email"] == P_MAIL
          and doc["requests"][0]["input"]["requester_kind"] == "REQUESTER_PERSON",
          "export: the request the person filed, with its contact, as JSON")
    r = export(b, phone="+358 40 999 1111")
    doc = json.loads(body(r, P.PrivacyExportReply).json) if r.status.code == OK else {}
    ex = doc.get("experts", [{}])[0]
    check(r.status.code == OK and ex.get("id") == x.id and ex["profile"]["name"] == X_NAME
          and ex["sensitive_detail_text"] == X_DETAIL
          and [a["id"] for a in ex["assignments"]] == [asg.id]
          and [f["id"] for f in ex["offers"]] == [o[0].id],
          "export by phone (spaces ignored): the expert with the sensitive detail, offers and "
          "assignments")
    r = export(b, email="nobody@example.fi")
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "export: an unknown subject is NOT_FOUND")

    # ---- subject rules -----------------------------------------------------------------------
    r = erase(b)
    check(r.status.code == E.CODE_INVALID and "email" in r.status.message,
          "erase: an empty subject is INVALID")
    r = erase(b, signup_id=7)
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "erase: a sign-up id alone: the broker holds no sign-ups")
    r = erase(b, email="nobody@example.fi")
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "erase: an unknown subject is NOT_FOUND")

    # ---- the expert: refused while a completed assignment is unpaid ---------------------------
    b.advance(15 * DAY_MS)
    b.ok("broker.assignment.complete", B.CompleteAssignmentRequest(
        assignment_id=asg.id, minutes=90, fee_cents=15000), B.AssignmentReply)
    seq0 = log_types(b)[-1].seq
    r = erase(b, email=X_MAIL)
    check(r.status.code == E.CODE_CONFLICT and "not marked paid" in r.status.message
          and "broker.assignment.paid" in r.status.message
          and "nothing was erased" in r.status.message,
          "erase: an expert with an unpaid completed assignment is refused, naming the rule")
    check(log_types(b)[-1].seq == seq0 and
          b.ok("broker.expert.get", B.ExpertRef(expert_id=x.id), B.ExpertReply).expert.profile
          .name == X_NAME, "the refusal erased nothing")
    b.ok("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=[asg.id], payment_ref="erä 7"),
         B.MarkPaidReply)
    t = time.time()
    r = erase(b, phone="0035840 9991111".replace("00", "+", 1))
    ms_x = (time.time() - t) * 1000
    check(r.status.code == OK and list(body(r, P.PrivacyEraseReply).ids) == [x.id],
          "erase by phone: the expert (%.1f ms)" % ms_x)
    got = b.ok("broker.expert.get", B.ExpertRef(expert_id=x.id), B.ExpertReply).expert
    check(got.erased and got.profile.name == "" and got.profile.email == ""
          and not got.has_sensitive_detail, "the expert is erased as broker.expert.erase does")
    # A retry (the same request again) is answered from the first reply, which erasure
    # rewrote; another request under the same key is a conflict, erased or not.
    r = b.call("broker.expert.register", x_req, key="exp-x")
    check(r.status.code == OK and body(r, B.ExpertReply).expert.id == x.id
          and body(r, B.ExpertReply).expert.profile.name == "",
          "a retry of the registration answers the erased record, not the profile")
    r = b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        "Toinen Yritys", "toinen@example.fi")), key="exp-x")
    check(r.status.code == E.CODE_CONFLICT, "another registration under the key: CONFLICT")
    check(erase(b, email=X_MAIL).status.message == NOTHING, "erasing the expert twice: NOT_FOUND")

    # ---- the requester -----------------------------------------------------------------------
    t = time.time()
    r = erase(b, email=P_MAIL.upper())
    ms_p = (time.time() - t) * 1000
    rep = body(r, P.PrivacyEraseReply)
    check(r.status.code == OK and rep.erased == 1 and list(rep.ids) == [r1.request.id],
          "erase by e-mail: the request the person filed (%.1f ms)" % ms_p)
    g = get_request(b, r1.request.id).request
    check(g.input.contact_name == "" and g.input.contact_email == "" and g.input.contact_phone == ""
          and g.input.requester_name == "" and g.state == B.REQUEST_STATE_FILLED
          and g.input.fee_cents == 15000 and g.accepted_n == 1,
          "the requester's contact and name emptied; state, fee and places kept")
    g2 = get_request(b, r2.request.id).request
    check(g2.input.contact_name == "Olli Organisaatio", "another request keeps its contact")
    evs = [e for e in log_types(b) if e.type == "RequesterErased"]
    ref = B.BrokerRequestRef()
    if evs:
        ref.ParseFromString(evs[0].payload)
    check(len(evs) == 1 and ref.request_id == r1.request.id
          and len(evs[0].payload) == len(B.BrokerRequestRef(
              request_id=r1.request.id).SerializeToString()),
          "RequesterErased on the log names the request id only")
    r = b.call("broker.request.file", r1_req, key="req-p")
    check(r.status.code == OK and body(r, B.BrokerRequestReply).request.id == r1.request.id
          and body(r, B.BrokerRequestReply).request.input.contact_email == "",
          "a retry of the filing answers without the erased contact (%s)" % r.status.message)
    r = erase(b, phone=P_PHONE)
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "erasing the requester twice: NOT_FOUND")
    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(st.requests_filed == stats0.requests_filed + 2 and st.requests_filled >= 1,
          "statistics still count the erased person's request")
    time.sleep(0.5)  # the compaction runs after the turn
    for text in (X_NAME, X_MAIL, X_PHONE, X_DETAIL, P_NAME, P_MAIL, P_PHONE):
        check(mdb_has(mdb, text) == 0, "after: %r is not in data.mdb" % text)
    check(mdb_has(mdb, PII[6]) > 0, "after: the other expert's e-mail still is")

    # ---- retention (default 365 days) --------------------------------------------------------
    r3 = file_request(b, "req-q", contact_name=Q_NAME, contact_email=Q_MAIL)
    b.ok("broker.request.cancel", B.CancelBrokerRequestRequest(
        request_id=r3.request.id, reason="peruttu"), B.BrokerRequestReply)
    b.advance(364 * DAY_MS, settle_s=1.0)
    r4 = file_request(b, "req-s", contact_name=S_NAME, contact_email=S_MAIL)
    check(get_request(b, r3.request.id).request.input.contact_email == Q_MAIL,
          "retention: a request cancelled 364 days ago keeps its contact")
    b.advance(2 * DAY_MS, settle_s=0)
    end = time.time() + 10
    while time.time() < end and get_request(b, r3.request.id).request.input.contact_email:
        time.sleep(0.1)
    g3 = get_request(b, r3.request.id).request
    check(g3.input.contact_email == "" and g3.input.contact_name == ""
          and g3.state == B.REQUEST_STATE_CANCELLED,
          "retention: a request cancelled 366 days ago lost its contact")
    g2 = get_request(b, r2.request.id).request
    check(g2.input.contact_email == "" and g2.input.requester_name == "Seinäjoen kaupunki",
          "retention: the organisation's ended request lost its contact person, not the "
          "organisation's name")
    check(get_request(b, r4.request.id).request.input.contact_email == S_MAIL,
          "retention: a request still open keeps its contact")
    ids = set()
    for e in log_types(b):
        if e.type == "RequesterErased":
            ref = B.BrokerRequestRef()
            ref.ParseFromString(e.payload)
            ids.add(ref.request_id)
    check({r2.request.id, r3.request.id} <= ids, "retention: RequesterErased for each")
    time.sleep(0.5)
    check(mdb_has(mdb, Q_MAIL) == 0 and mdb_has(mdb, Q_NAME) == 0,
          "retention: the contact's bytes left data.mdb (compaction)")
    check(mdb_has(mdb, S_MAIL) > 0, "retention: the open request's contact is still stored")
    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(st.requests_filed == stats0.requests_filed + 4 and st.requests_cancelled >= 1,
          "statistics count every request after retention")
    logs = open(os.path.join(s.dir, "expert-broker.log"), encoding="utf-8",
                errors="replace").read()
    check(not any(t in logs for t in (X_NAME, X_MAIL, X_PHONE, P_NAME, P_MAIL, P_PHONE, Q_MAIL)),
          "the service log names none of them")
    print("MEASURE broker erase: expert %.1f ms, requester %.1f ms" % (ms_x, ms_p))
finally:
    s.close()
done()
