# timeout: 120
"""Expert broker, issue 5, with CURVE keys and the real registry: roles on the broker's methods
(admin may do everything, a reader only reads, a publisher key is refused, an unknown key gets
no answer), the registry read model (an expert's home organisation must be known to the
registry; a dissolved organisation drops out) and the registry's PersonErased erasing a linked
expert."""
import time

from kp_harness import OK, E, Suite, body, check, done
from kp_broker import (B, Broker, add_keys, expert_input, file_request, log_types,
                       open_offers)
from kp_registry import R, fields, start_registry

s = Suite(keys=True)
try:
    add_keys(s, [("registry", "service"), ("expert-broker", "service"), ("reader", "reader")])
    reg = start_registry(s, s.key_args("registry"), plant=False)
    rc = s.client(s.reg_api, "admin", server="registry")

    b = Broker(s, extra=["--registry-api", s.reg_api, "--registry-pub", s.reg_pub]).start()

    # ---- the registry read model ---------------------------------------------------------------
    r = rc.call("registry.org.register", R.RegisterOrganisationRequest(
        fields=fields(name="Kokemusasiantuntijat ry")), key="org-1")
    check(r.status.code == OK, "registry: organisation registered")
    org = body(r, R.OrganisationReply).organisation

    def register_expert(key, org_id, **kw):
        return b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
            "Liisa Virtanen", "liisa.virtanen@example.fi", home_org_id=org_id, **kw)), key=key)

    end = time.time() + 10
    while True:
        r = register_expert("e-1", org.id)
        if r.status.code == OK or time.time() > end:
            break
        time.sleep(0.1)
    check(r.status.code == OK, "broker accepts an expert of an organisation the registry knows")
    e1 = body(r, B.ExpertReply).expert
    check(e1.home_org_name == "Kokemusasiantuntijat ry", "the home organisation's name shown")
    r = register_expert("e-unknown", 99999)
    check(r.status.code == E.CODE_NOT_FOUND and "home_org_id" in r.status.message,
          "an organisation unknown to the registry is refused, naming the field")

    # PersonErased: an expert linked to a registry person is erased with them
    r = rc.call("registry.person.add", R.AddPersonRequest(
        name="Matti Meikäläinen", email="matti.meikalainen@example.fi"), key="p-1")
    check(r.status.code == OK, "registry: person added")
    pid = body(r, R.PersonReply).person.id
    r = b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        "Matti Meikäläinen", "matti.meikalainen@example.fi", home_org_id=org.id,
        registry_person_id=pid, sensitive_consent=True,
        sensitive_detail_text="Diagnoosi: masennus")), key="e-2")
    check(r.status.code == OK, "expert linked to the registry person")
    e2 = body(r, B.ExpertReply).expert
    r = rc.call("registry.person.erase", R.PersonRef(person_id=pid))
    check(r.status.code == OK, "registry: person erased")
    end = time.time() + 10
    got = None
    while time.time() < end:
        got = b.ok("broker.expert.get", B.ExpertRef(expert_id=e2.id), B.ExpertReply).expert
        if got.erased:
            break
        time.sleep(0.1)
    check(got.erased and got.profile.name == "" and not got.has_sensitive_detail,
          "the registry's PersonErased erased the linked expert in the broker")
    e1_now = b.ok("broker.expert.get", B.ExpertRef(expert_id=e1.id), B.ExpertReply).expert
    check(not e1_now.erased, "other experts are untouched")
    evs = [e for e in log_types(b) if e.type == "ExpertErased"]
    check(len(evs) == 1 and B.ExpertRef.FromString(evs[0].payload).expert_id == e2.id,
          "ExpertErased on the broker's log for the registry's erasure")

    # a dissolved organisation drops out of the read model
    r = rc.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=org.id))
    check(r.status.code == OK, "registry: organisation dissolved")
    end = time.time() + 10
    while time.time() < end:
        r = register_expert("e-3-%f" % time.time(), org.id)
        if r.status.code == E.CODE_NOT_FOUND:
            break
        time.sleep(0.1)
    check(r.status.code == E.CODE_NOT_FOUND and "home_org_id" in r.status.message,
          "after dissolution the organisation is refused for new experts")
    e1_now = b.ok("broker.expert.get", B.ExpertRef(expert_id=e1.id), B.ExpertReply).expert
    check(e1_now.home_org_name == "", "the dissolved organisation's name is no longer shown")

    # ---- roles on the broker's methods ----------------------------------------------------------
    # (the org is dissolved: a new one for the experts of the request)
    r = rc.call("registry.org.register", R.RegisterOrganisationRequest(
        fields=fields(name="Toinen yhdistys")), key="org-2")
    org2 = body(r, R.OrganisationReply).organisation
    end = time.time() + 10
    while time.time() < end:
        r = b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
            "Neljäs", "neljas@example.fi", home_org_id=org2.id)), key="e-4")
        if r.status.code == OK:
            break
        time.sleep(0.1)
    rq = file_request(b, "rq-1")
    offer = open_offers(b, rq.request.id)[0]
    reader = b.client("reader")
    pub = b.client("publisher")
    svc = b.client("sink")
    reads = [("broker.expert.list", B.ListExpertsRequest()),
             ("broker.expert.get", B.ExpertRef(expert_id=e1.id)),
             ("broker.request.get", B.BrokerRequestRef(request_id=rq.request.id)),
             ("broker.request.list", B.ListBrokerRequestsRequest()),
             ("broker.request.explain", B.BrokerRequestRef(request_id=rq.request.id)),
             ("broker.assignment.list", B.ListAssignmentsRequest()),
             ("broker.stats", B.BrokerStatsRequest())]
    writes = [("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        "X", "x@example.fi", home_org_id=org2.id))),
        ("broker.expert.update", B.UpdateExpertRequest(expert_id=e1.id)),
        ("broker.expert.pause", B.PauseExpertRequest(expert_id=e1.id, paused=True)),
        ("broker.expert.erase", B.ExpertRef(expert_id=e1.id)),
        ("broker.request.file", B.FileRequestRequest()),
        ("broker.request.cancel", B.CancelBrokerRequestRequest(request_id=rq.request.id,
                                                                reason="x")),
        ("broker.offer.accept", B.OfferRef(offer_id=offer.id)),
        ("broker.offer.decline", B.DeclineOfferRequest(offer_id=offer.id)),
        ("broker.assignment.cancel", B.CancelAssignmentRequest(assignment_id=1, by="expert",
                                                               reason="x")),
        ("broker.assignment.complete", B.CompleteAssignmentRequest(assignment_id=1, minutes=1)),
        ("broker.assignment.feedback", B.AssignmentFeedbackRequest(assignment_id=1)),
        ("broker.assignment.export", B.AssignmentExportRequest()),
        ("broker.assignment.paid", B.MarkPaidRequest(assignment_ids=[1], payment_ref="x")),
        ("broker.sensitive.read", B.SensitiveReadRequest(assignment_id=1)),
        ("broker.audit.list", B.ListBrokerAuditRequest())]
    for m, msg in reads:
        r = reader.call(m, msg)
        check(r is not None and r.status.code == OK, "reader may call " + m)
    for m, msg in writes:
        r = reader.call(m, msg, key="rk-" + m)
        check(r is not None and r.status.code == E.CODE_FORBIDDEN and "reader" in r.status.message,
              "reader is refused " + m)
    for m, msg in reads + writes:
        r = pub.call(m, msg, key="pk-" + m)
        check(r is not None and r.status.code == E.CODE_FORBIDDEN, "publisher is refused " + m)
    for m in ["broker.expert.register", "broker.expert.update", "broker.expert.erase",
              "broker.assignment.export", "broker.assignment.paid", "broker.audit.list"]:
        r = svc.call(m, dict(writes)[m], key="sk-" + m)
        check(r is not None and r.status.code == E.CODE_FORBIDDEN,
              "another service is refused the coordinator's " + m)
    st = b.ok("broker.request.get", B.BrokerRequestRef(request_id=rq.request.id),
              B.BrokerRequestReply)
    check(st.request.state == B.REQUEST_STATE_OPEN and
          [o.state for o in st.offers] == [B.OFFER_STATE_OPEN], "refused calls changed nothing")
    acc = b.ok("broker.offer.accept", B.OfferRef(offer_id=offer.id), B.OfferReply)
    check(acc.assignment.state == B.ASSIGNMENT_STATE_CONFIRMED, "admin may accept")
    for m in ["broker.assignment.export", "broker.audit.list", "broker.stats"]:
        r = b.call(m, dict(reads + writes)[m])
        check(r.status.code == OK, "admin may call " + m)
    stranger = b.client("stranger")
    stranger.timeout_ms = 1500
    check(stranger.call("broker.expert.list", B.ListExpertsRequest()) is None,
          "a key outside the allow-list gets no answer")
finally:
    s.close()
done()
