# timeout: 300
"""Expert broker, issue 16: `broker.stats` computes the Gini coefficient (and min, max) over
the experts eligible for at least one request filed in the period, not over every active
expert (three experts of another expertise, never eligible, do not count); per_expert still
lists everyone, marked eligible or not. "The same requester" of the no-repeat rule is the
requesting organisation (requester_org_id, else the organisation's name), never the contact's
e-mail; a private person's request is its own requester."""
import time

from kp_harness import Suite, check, done
from kp_broker import B, Broker, file_request, open_offers, register

T0 = time.time()
s = Suite()
try:
    b = Broker(s).start()

    six = [register(b, "Aino Aaltonen", "aino.aaltonen@example.fi", expertise=["cancer"])]
    six += [register(b, "Syöpä %d" % i, "s%d@example.fi" % i, expertise=["cancer"])
            for i in range(1, 6)]
    other = [register(b, "Koditon %d" % i, "k%d@example.fi" % i, expertise=["homelessness"])
             for i in range(3)]
    won = []
    for n in range(3):
        r = file_request(b, "st-%d" % n, expertise=["cancer"], requester_org_id=300 + n)
        o = open_offers(b, r.request.id)
        check(len(o) == 1, "stats: one offer for request %d" % n)
        won.append(b.accept(o[0].id).assignment.expert_id)
    check(len(set(won)) == 3, "stats: three different experts got one each")
    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    el = {p.expert_id: p.eligible for p in st.per_expert}
    check(len(st.per_expert) == 9 and all(el[e.id] for e in six)
          and not any(el[e.id] for e in other),
          "stats: every active expert listed; the six eligible marked, the three others not")
    # [0, 0, 0, 1, 1, 1] over the six: 0.5 (over all nine it would be 0.667)
    check(st.experts_eligible == 6 and abs(st.gini - 0.5) < 1e-9 and st.assignments_min == 0
          and st.assignments_max == 1,
          "stats: Gini over the eligible six is 0.5 (got %.3f over %d)"
          % (st.gini, st.experts_eligible))
    later = b.ok("broker.stats", B.BrokerStatsRequest(from_unix=b.now_s() + 3600),
                 B.BrokerStatsReply)
    check(later.experts_eligible == 0 and later.gini == 0,
          "stats: a period without requests has nobody eligible and Gini 0")

    # ---- the same requester is the organisation, not the contact --------------------------
    ya = register(b, "Nuori A", "ya@example.fi", expertise=["youth"])
    yb = register(b, "Nuori B", "yb@example.fi", expertise=["youth"])
    r1 = file_request(b, "org-1", expertise=["youth"], requester_org_id=0,
                      requester_name="Kurikan kaupunki", contact_email="eka@kurikka.fi")
    first = b.accept(open_offers(b, r1.request.id)[0].id).assignment.expert_id
    r2 = file_request(b, "org-2", expertise=["youth"], requester_org_id=0,
                      requester_name="Kurikan Kaupunki", contact_email="toka@kurikka.fi")
    ex = b.candidates(r2.request.id)
    check(ex[first].recent_same_requester and open_offers(b, r2.request.id)[0].expert_id != first,
          "no repeat: another contact of the same organisation is the same requester")
    b.ok("broker.request.cancel", B.CancelBrokerRequestRequest(
        request_id=r2.request.id, reason="testi"), B.BrokerRequestReply)
    r3 = file_request(b, "org-3", expertise=["youth"], requester_org_id=0,
                      requester_name="Ilmajoen kunta", contact_email="eka@kurikka.fi")
    check(not b.candidates(r3.request.id)[first].recent_same_requester,
          "no repeat: the same contact e-mail for another organisation is another requester")
    b.ok("broker.request.cancel", B.CancelBrokerRequestRequest(
        request_id=r3.request.id, reason="testi"), B.BrokerRequestReply)
    p1 = file_request(b, "person-1", expertise=["youth"], requester_org_id=0,
                      requester_kind=B.REQUESTER_PERSON, requester_name="Yksityinen",
                      contact_email="yks@example.fi")
    pfirst = b.accept(open_offers(b, p1.request.id)[0].id).assignment.expert_id
    p2 = file_request(b, "person-2", expertise=["youth"], requester_org_id=0,
                      requester_kind=B.REQUESTER_PERSON, requester_name="Yksityinen",
                      contact_email="yks@example.fi")
    check(not b.candidates(p2.request.id)[pfirst].recent_same_requester,
          "no repeat: a private person's request is its own requester (its id)")
    print("test time %.1f s" % (time.time() - T0))
finally:
    s.close()
done()
