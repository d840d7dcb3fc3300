# timeout: 300
"""Expert broker, issue 16: the audit of sensitive-detail reads records who read (the caller's
role and the short fingerprint of the token presented, never the token or the detail) and
refused attempts too (wrong token, malformed token, assignment not confirmed), written in the
next turn; `broker.expert.update` with update_mask changes one field and keeps the rest
(the sensitive detail included), with the registration rules on the merged profile."""
import time

from kp_harness import E, Suite, check, done
from kp_broker import (B, Broker, add_keys, expert_input, file_request, log_types,
                       open_offers, register)

T0 = time.time()
s = Suite(keys=True)
try:
    add_keys(s, [("expert-broker", "service"), ("portal", "service")])
    b = Broker(s).start()
    portal = b.client("portal")

    def audit():
        return list(b.ok("broker.audit.list", B.ListBrokerAuditRequest(),
                         B.ListBrokerAuditReply).entries)

    # ---- reads and refused attempts are audited with the reader ------------------------------
    e = register(b, "Matti Meikäläinen", "matti.meikalainen@example.fi", sensitive_consent=True,
                 sensitive_detail_text="Diagnoosi: harvinainen sairaus")
    r = file_request(b, "aud-1", requester_org_id=41)
    tok = r.requester_token
    a = b.ok("broker.offer.accept", B.OfferRef(offer_id=open_offers(b, r.request.id)[0].id),
             B.OfferReply).assignment
    rr = portal.call("broker.sensitive.read", B.SensitiveReadRequest(
        assignment_id=a.id, requester_token=tok))
    check(rr.status.code == 0, "read: the portal (a service key) reads the detail")
    wrong = "0" * 32
    rr = portal.call("broker.sensitive.read", B.SensitiveReadRequest(
        assignment_id=a.id, requester_token=wrong))
    check(rr.status.code == E.CODE_FORBIDDEN, "read: a wrong token is refused")
    rr = b.call("broker.sensitive.read", B.SensitiveReadRequest(
        assignment_id=a.id, requester_token="lyhyt"))
    check(rr.status.code == E.CODE_INVALID, "read: a malformed token is refused")
    time.sleep(0.5)
    ent = audit()
    ok_e = [x for x in ent if x.what == "sensitive-detail-read"]
    ref = [x for x in ent if x.what == "sensitive-detail-refused"]
    check(len(ok_e) == 1 and ok_e[0].reader_role == "service" and len(ok_e[0].token_fp) == 16
          and ok_e[0].token_fp not in tok and ok_e[0].assignment_id == a.id,
          "audit: the read names the reader's role and the token's fingerprint, not the token")
    check(len(ref) == 2 and {x.refusal for x in ref} == {"wrong token", "token malformed"}
          and {x.reader_role for x in ref} == {"service", "admin"}
          and all(x.assignment_id == a.id and x.expert_id == e.id for x in ref),
          "audit: both refused attempts recorded with who tried and why")
    check(all(x.token_fp != ok_e[0].token_fp for x in ref),
          "audit: a wrong token has another fingerprint than the right one")
    check(not any("Diagnoosi" in str(x) or tok in str(x) for x in ent),
          "audit: never the detail, never the token")
    check([x.type for x in log_types(b)].count("SensitiveDetailRefused") == 2,
          "audit: SensitiveDetailRefused on the log twice")

    # ---- expert-update changes one field ------------------------------------------------------
    u = b.ok("broker.expert.update", B.UpdateExpertRequest(
        expert_id=e.id, expert=B.ExpertInput(phone="+358401234567"), update_mask=["phone"]),
        B.ExpertReply).expert
    check(u.profile.phone == "+358401234567" and u.profile.name == "Matti Meikäläinen"
          and u.profile.email == "matti.meikalainen@example.fi"
          and list(u.profile.expertise) == ["mental-health"] and u.profile.consent
          and u.has_sensitive_detail,
          "update: one field changed, the rest (and the sensitive detail) kept")
    u = b.ok("broker.expert.update", B.UpdateExpertRequest(
        expert_id=e.id, expert=B.ExpertInput(monthly_cap=2, blocked_dates=["2030-01-02"]),
        update_mask=["monthly_cap", "blocked_dates"]), B.ExpertReply).expert
    check(u.profile.monthly_cap == 2 and list(u.profile.blocked_dates) == ["2030-01-02"]
          and u.profile.phone == "+358401234567", "update: two fields, the first change kept")
    for mask, field in [(["puhelin"], "update_mask[0]"), (["phone", "phone"], "update_mask[1]"),
                        (["languages"], "languages")]:
        rr = b.call("broker.expert.update", B.UpdateExpertRequest(
            expert_id=e.id, expert=B.ExpertInput(), update_mask=mask))
        check(rr.status.code == E.CODE_INVALID and field in rr.status.message,
              "update: %s refused (%s)" % (mask, rr.status.message))
    rr = b.call("broker.expert.update", B.UpdateExpertRequest(
        expert_id=e.id, update_mask=["phone"]))
    check(rr.status.code == E.CODE_INVALID and "expert" in rr.status.message,
          "update: a mask without the values refused")
    full = b.ok("broker.expert.update", B.UpdateExpertRequest(
        expert_id=e.id, expert=expert_input("Matti Meikäläinen", "matti.meikalainen@example.fi",
                                            sensitive_consent=True)), B.ExpertReply).expert
    check(full.profile.phone == "" and full.profile.monthly_cap == 0 and full.has_sensitive_detail,
          "update: without a mask the whole profile is replaced, as before")
    print("test time %.1f s" % (time.time() - T0))
finally:
    s.close()
done()
