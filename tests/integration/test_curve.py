"""Only known peers get in (DESIGN 7).

With CURVE keys configured: a client whose key is not on the allow-list gets no answer at
all; a publisher key may submit and cancel sign-ups but may not create events or read the
sign-up list; an admin key may do everything; a consumer with a service key follows the log
over CURVE."""
import time

from kp_harness import E, L, OK, Suite, V, body, check, done, make_event, signup_req, sink_stats

s = Suite(keys=True)
try:
    s.events()
    admin = s.client(s.ev_api, "admin")
    eid = make_event(admin)

    stranger = s.client(s.ev_api, "stranger", timeout_ms=1500)
    r = stranger.call("sys.health", L.HealthRequest())
    check(r is None, "a key not on the allow-list gets no answer")
    stranger.close()

    plain = __import__("kp_harness").Client(s.ev_api, timeout_ms=1500)
    check(plain.call("sys.health", L.HealthRequest()) is None, "a client without CURVE gets no answer")
    plain.close()

    pub = s.client(s.ev_api, "publisher")
    r = pub.call("events.signup.submit", signup_req(eid, 1))
    check(r is not None and r.status.code == OK, "publisher may submit a sign-up")
    r = pub.call("events.signup.cancel", V.CancelSignupRequest(source="county-portal",
                                                               external_id="%010d" % 1))
    check(r.status.code == OK, "publisher may cancel a sign-up")
    # The publisher key is bound to "county-portal" (allow-list sources=): no other source name,
    # and no cancelling, by id, of a sign-up another system or a coordinator made.
    r = pub.call("events.signup.submit", signup_req(eid, 2, source="web-form"))
    check(r.status.code == E.CODE_FORBIDDEN and "source" in r.status.message,
          "publisher may not submit under a source it is not bound to (%s)" % r.status.message)
    # The answer says what to do; it once ended "(allow-list sources=)", which read as if the
    # key were bound to no source at all.
    check("sources=)" not in r.status.message and "ask the operator" in r.status.message,
          "the refusal says how to put it right (%s)" % r.status.message)
    adm = s.client(s.ev_api, "admin")
    r = adm.call("events.signup.submit", signup_req(eid, 3, source="coordinator",
                                                    email="c3@example.fi"))
    check(r.status.code == OK, "a coordinator's sign-up")
    other = body(r, V.SignupReply).signup.id
    r = pub.call("events.signup.cancel", V.CancelSignupRequest(signup_id=other))
    check(r.status.code == E.CODE_FORBIDDEN, "publisher may not cancel another source's sign-up")
    lst = body(adm.call("events.signup.list", V.ListSignupsRequest(event_id=eid)),
               V.ListSignupsReply)
    check(any(x.id == other and x.state == V.SIGNUP_STATE_CONFIRMED for x in lst.signups),
          "that sign-up is untouched")
    adm.close()
    now = int(time.time())
    r = pub.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Ei saa", municipality_code="743", start_unix=now + 3600,
        end_unix=now + 7200), key="pub-create")
    check(r.status.code == E.CODE_FORBIDDEN and "publisher" in r.status.message,
          "publisher may not create events")
    r = pub.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    check(r.status.code == E.CODE_FORBIDDEN, "publisher may not read the sign-up list")
    for m in ("events.signup.accept_offer", "events.signup.decline_offer",
              "events.signup.leave_waitlist"):
        r = pub.call(m, V.CancelSignupRequest(source="county-portal", external_id="%010d" % 1))
        check(r.status.code == E.CODE_FORBIDDEN, "publisher may not call %s" % m)
    r = pub.call("log.replay", L.ReplayRequest(from_seq=1))
    check(r.status.code == E.CODE_FORBIDDEN, "publisher may not replay the log")
    r = admin.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    check(r.status.code == OK and len(body(r, V.ListSignupsReply).signups) == 2,  # the publisher's and the coordinator's
          "admin may read the sign-up list")

    s.sink()
    sc = s.client(s.sink_api, "sink", server="sink")
    h = body(admin.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq
    end = time.time() + 15
    while time.time() < end and sink_stats(sc).last_seq < h:
        time.sleep(0.1)
    check(sink_stats(sc).last_seq == h, "consumer follows the log over CURVE")
    log = s.procs[0].logtext()
    check("zap.deny" in log, "the service logged the denied key")
finally:
    s.close()
done()
