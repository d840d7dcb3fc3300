"""The sign-up path end to end: durable before acknowledged, idempotent, pipelined.

DESIGN contracts 1-3: an acknowledged sign-up survives kill -9 of the service; the same
sign-up sent twice is stored once and the second reply equals the first; 10,000 requests
pipelined on one connection are all answered (no stall of the edge-triggered ZMQ_FD)."""
import time

from kp_harness import (OK, Suite, V, body, check, done, make_event, signup_req, L, E)

s = Suite()
try:
    ev = s.events()
    c = s.client(s.ev_api)
    eid = make_event(c, capacity=2)

    # Durable before acknowledged: ack, kill -9, restart, still there.
    r = c.call("events.signup.submit", signup_req(eid, 1, name="Matti Meikäläinen",
                                                 email="matti.meikalainen@example.fi",
                                                 phone="+358401234567", consent_reminders=True))
    check(r is not None and r.status.code == OK, "sign-up acknowledged")
    first_reply = r
    first = body(r, V.SignupReply).signup
    check(first.state == V.SIGNUP_STATE_CONFIRMED, "first sign-up confirmed")
    ev.kill9()
    ev = s.events()
    c = s.client(s.ev_api)
    r = c.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    lst = body(r, V.ListSignupsReply)
    check([x.id for x in lst.signups] == [first.id], "acknowledged sign-up survives kill -9")
    check(lst.signups[0].name == "Matti Meikäläinen" and lst.signups[0].consent_reminders,
          "stored sign-up keeps its fields")

    # Idempotent: the same sign-up again returns the first answer and changes nothing.
    head_before = body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq
    r2 = c.call("events.signup.submit", signup_req(eid, 1, name="Matti Meikäläinen",
                                                  email="matti.meikalainen@example.fi",
                                                  phone="+358401234567", consent_reminders=True))
    check(r2.status.code == OK and r2.body == first_reply.body, "second reply equals the first")
    head_after = body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq
    check(head_after == head_before, "resend appends no event")
    lst = body(c.call("events.signup.list", V.ListSignupsRequest(event_id=eid)), V.ListSignupsReply)
    check(len(lst.signups) == 1 and lst.event.confirmed_n == 1, "resend stores nothing new")

    # Same e-mail from another source: a duplicate person, refused.
    r = c.call("events.signup.submit", signup_req(eid, 2, source="web-form",
                                                 email="MATTI.meikalainen@example.fi"))
    check(r.status.code == E.CODE_CONFLICT and "e-mail" in r.status.message,
          "same e-mail on the same event refused (case-insensitive)")

    # Capacity 2: the third is waitlisted; cancelling a confirmed one promotes it.
    r = c.call("events.signup.submit", signup_req(eid, 3))
    check(body(r, V.SignupReply).signup.state == V.SIGNUP_STATE_CONFIRMED, "second confirmed")
    r = c.call("events.signup.submit", signup_req(eid, 4))
    w = body(r, V.SignupReply).signup
    check(w.state == V.SIGNUP_STATE_WAITLISTED, "sign-up to a full event is waitlisted")
    r = c.call("events.signup.cancel", V.CancelSignupRequest(source="county-portal",
                                                             external_id="%010d" % 3))
    check(r.status.code == OK and body(r, V.SignupReply).signup.state == V.SIGNUP_STATE_CANCELLED,
          "cancel by the publisher's own id")
    r = c.call("events.signup.cancel", V.CancelSignupRequest(source="county-portal",
                                                             external_id="%010d" % 3))
    check(r.status.code == OK, "cancelling twice is harmless")
    lst = body(c.call("events.signup.list", V.ListSignupsRequest(event_id=eid)), V.ListSignupsReply)
    states = {x.id: x.state for x in lst.signups}
    check(states[w.id] == V.SIGNUP_STATE_CONFIRMED, "first on the waitlist promoted")
    check(lst.event.confirmed_n == 2 and lst.event.waitlisted_n == 0, "counts follow")
    page = body(c.call("log.replay", L.ReplayRequest(from_seq=1)), L.ReplayPage)
    types = [e.type for e in page.events]
    check(types[-2:] == ["SignupCancelled", "SignupPromoted"],
          "cancel and promotion are events in the log")
    check([e.seq for e in page.events] == list(range(1, len(page.events) + 1)),
          "log sequence has no holes")

    # 10,000 pipelined requests on one connection: all answered, ids match.
    eid2 = make_event(c)
    n = 10000
    t0 = time.time()
    for i in range(n):
        c.send_raw(c.request("events.signup.submit", signup_req(eid2, 100000 + i), rid=1000000 + i))
    seen = set()
    while len(seen) < n and time.time() - t0 < 120:
        rep = c.recv_reply(10000)
        if rep is None:
            break
        if rep.status.code == OK:
            seen.add(rep.request_id)
    check(len(seen) == n, "10,000 pipelined sign-ups all acknowledged (%d)" % len(seen))
    h = body(c.call("sys.health", L.HealthRequest()), L.HealthReply)
    check(h.commits < h.committed_requests, "requests share commits (%d requests in %d commits)"
          % (h.committed_requests, h.commits))
    lst = body(c.call("events.event.get", V.EventRef(event_id=eid2)), V.EventReply)
    check(lst.event.confirmed_n == n, "event counts all pipelined sign-ups")
    check(s.procs[-1].stop() == 0, "service stops cleanly on SIGTERM")
finally:
    s.close()
done()
