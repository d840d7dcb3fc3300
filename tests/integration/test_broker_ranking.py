# timeout: 300
"""Expert broker, issue 16: when a wave offers to several experts, the ranking decides, not
the fastest answer. An acceptance during a wave is held; it is confirmed in rank order once
every expert ranked above it in the wave has answered, or when the wave's deadline passes; the
held ones not needed are withdrawn ("not needed"). Over 12 requests (wave of three for one
place) where every offered expert accepts, lowest-ranked first, the top-ranked is confirmed each
time and the four experts share the work evenly; a silent top-ranked expert lapses at the
deadline (test clock) and the next held one is confirmed; a decline from above confirms at
once."""
import time

from kp_harness import E, Suite, check, done
from kp_broker import B, HOUR_MS, Broker, file_request, get_request, open_offers, register

T0 = time.time()
s = Suite()
try:
    b = Broker(s).start()

    def ranked(rid):
        return sorted(open_offers(b, rid), key=lambda x: x.rank)

    ex = [register(b, "Aino Aaltonen", "aino.aaltonen@example.fi", expertise=["youth"])]
    ex += [register(b, "Nuori %d" % i, "nuori%d@example.fi" % i, expertise=["youth"])
           for i in range(1, 4)]
    wins = {e.id: 0 for e in ex}
    top_won = 0
    early = 0
    for n in range(12):
        r = file_request(b, "rank-%d" % n, expertise=["youth"], experts_needed=1, wave_size=3,
                         requester_org_id=100 + n)
        rid = r.request.id
        o = ranked(rid)
        check(len(o) == 3 and [x.rank for x in o] == [1, 2, 3], "request %d: wave of three" % n)
        # everyone accepts at once, the lowest-ranked first
        early_r = [b.accept(x.id) for x in reversed(o)]
        early += sum(1 for x in early_r[:2] if x.HasField("assignment"))
        req = get_request(b, rid)
        won = [a.expert_id for a in req.assignments if a.state == B.ASSIGNMENT_STATE_CONFIRMED]
        check(req.request.state == B.REQUEST_STATE_FILLED and won == [o[0].expert_id],
              "request %d: the top-ranked expert is confirmed, not the first to answer" % n)
        check(early_r[2].HasField("assignment")
              and early_r[2].assignment.expert_id == o[0].expert_id,
              "request %d: the top-ranked one's accept answers with the assignment" % n)
        st = {x.id: x for x in req.offers}
        check(all(st[x.id].state == B.OFFER_STATE_WITHDRAWN and st[x.id].reason == "not needed"
                  for x in o[1:]), "request %d: the others are withdrawn, not needed" % n)
        top_won += won == [o[0].expert_id]
        for w in won:
            wins[w] += 1
    check(early == 0, "no lower-ranked acceptance was confirmed before the top one answered")
    check(top_won == 12, "12 of 12 requests went to the top-ranked expert (got %d)" % top_won)
    check(sorted(wins.values()) == [3, 3, 3, 3],
          "the work is spread by the ranking: 3 each of 4 experts (%s)" % sorted(wins.values()))

    # ---- held acceptances wait; a second accept of a held offer is refused ------------------
    r = file_request(b, "rank-deadline", expertise=["youth"], experts_needed=1, wave_size=3,
                     requester_org_id=200, offer_hours=48)
    rid = r.request.id
    o = ranked(rid)
    h3 = b.accept(o[2].id)
    h2 = b.accept(o[1].id)
    check(not h3.HasField("assignment") and not h2.HasField("assignment")
          and h2.offer.held_ms > 0 and h2.offer.state == B.OFFER_STATE_OPEN,
          "held: lower-ranked acceptances are held while the top one has not answered")
    rr = b.call("broker.offer.accept", B.OfferRef(offer_id=o[1].id))
    check(rr.status.code == E.CODE_CONFLICT and "held" in rr.status.message,
          "held: accepting a held offer again is refused")
    check(get_request(b, rid).request.state == B.REQUEST_STATE_OPEN, "held: still open")
    # ---- the wave's deadline passes: the top one lapses, the best held one is confirmed -----
    b.advance(49 * HOUR_MS, settle_s=1.0)
    req = get_request(b, rid)
    st = {x.id: x for x in req.offers}
    won = [a.expert_id for a in req.assignments if a.state == B.ASSIGNMENT_STATE_CONFIRMED]
    check(req.request.state == B.REQUEST_STATE_FILLED and won == [o[1].expert_id]
          and st[o[0].id].state == B.OFFER_STATE_LAPSED
          and st[o[2].id].state == B.OFFER_STATE_WITHDRAWN
          and st[o[2].id].reason == "not needed",
          "deadline: rank 2 confirmed over rank 3, the silent rank 1 lapsed")

    # ---- a decline from above decides at once ----------------------------------------------
    r = file_request(b, "rank-decline", expertise=["youth"], experts_needed=1, wave_size=3,
                     requester_org_id=201)
    rid = r.request.id
    o = ranked(rid)
    b.accept(o[2].id)
    b.accept(o[1].id)
    b.ok("broker.offer.decline", B.DeclineOfferRequest(offer_id=o[0].id, reason="ei käy"),
         B.OfferReply)
    req = get_request(b, rid)
    won = [a.expert_id for a in req.assignments if a.state == B.ASSIGNMENT_STATE_CONFIRMED]
    check(req.request.state == B.REQUEST_STATE_FILLED and won == [o[1].expert_id],
          "decline: once rank 1 declined, the held rank 2 is confirmed at once")
    print("test time %.1f s" % (time.time() - T0))
finally:
    s.close()
done()
