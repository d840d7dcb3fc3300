"""Issue 14, item 2, in the events service: a coordinator's hand on the waitlist.
events.signup.promote moves one waitlisted sign-up up out of turn (confirmed at once, or offered
when the event works with offers), refusing one that does not fit unless beyond_capacity;
events.signup.extend_offer moves an open offer's deadline, never past the start, and the offer
timer follows the new deadline (the offer outlives the old one, then expires at the new one).
The log carries the usual sign-up events (public copies). (Only the admin role may call
them: the method table; test_web_office_series calls them with the web's office key.)"""
import os
import time

from kp_harness import Suite, V, E, OK, body, check, cli_runner, done
from kp_events import DAY, events_with_hooks, set_clock, create, get, signup, log_events, refused

S = V.SignupReply

s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)

    def state(sid):
        return body(c.call("events.signup.get", V.CancelSignupRequest(signup_id=sid)), S).signup

    def promote(sid, beyond=False):
        return c.call("events.signup.promote", V.PromoteSignupRequest(signup_id=sid,
                                                                      beyond_capacity=beyond))

    def extend(sid, minutes):
        return c.call("events.signup.extend_offer", V.ExtendOfferRequest(signup_id=sid,
                                                                         minutes=minutes))

    # ---- automatic mode: a promotion confirms at once ----
    ev = create(c, capacity=1)
    a = signup(c, ev.id, 1)
    w = signup(c, ev.id, 2)
    check(w.state == V.SIGNUP_STATE_WAITLISTED, "full: the second waits")
    refused(promote(w.id), E.CODE_CONFLICT, ["does not fit", "beyond_capacity"],
            "a promotion that does not fit is refused, naming the way past it")
    refused(promote(0), E.CODE_INVALID, ["signup_id"], "a promotion without a sign-up is INVALID")
    refused(promote(999999), E.CODE_NOT_FOUND, [], "an unknown sign-up is NOT_FOUND")
    r = promote(w.id, beyond=True)
    check(r.status.code == OK and body(r, S).signup.state == V.SIGNUP_STATE_CONFIRMED,
          "beyond the capacity: confirmed at once")
    e = get(c, ev.id)
    check(e.confirmed_n == 2 and e.waitlisted_n == 0, "the event counts 2 confirmed of 1 place")
    check(log_events(c)[-1][0] == "SignupPromoted", "SignupPromoted on the log")
    r = promote(w.id, beyond=True)
    check(r.status.code == OK and get(c, ev.id).confirmed_n == 2,
          "promoting again answers unchanged (a resend is harmless)")
    x = signup(c, ev.id, 3)
    check(x.state == V.SIGNUP_STATE_WAITLISTED, "past the capacity a new sign-up still waits")
    c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=a.id))
    check(state(x.id).state == V.SIGNUP_STATE_WAITLISTED,
          "a freed place while over the capacity moves nobody up")
    c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=x.id))
    refused(promote(x.id, beyond=True), E.CODE_CONFLICT, ["not on the waitlist"],
            "a cancelled sign-up cannot be promoted")

    # ---- the CLI: kumppani events promote / extend-offer ----
    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none"))
    ev = create(c, capacity=1, offer_window_minutes=60)
    signup(c, ev.id, 21)
    cw = signup(c, ev.id, 22)
    rc, out, err = kp("events", "promote", "--signup", str(cw.id))
    check(rc != 0 and "beyond_capacity" in err, "the CLI's promotion that does not fit is "
          "refused, saying so (%d)" % rc)
    rc, out, err = kp("events", "promote", "--signup", str(cw.id), "--beyond-capacity")
    before = state(cw.id)
    check(rc == 0 and before.state == V.SIGNUP_STATE_OFFERED,
          "kumppani events promote --beyond-capacity offers the place (%s)" % err.strip())
    rc, out, err = kp("events", "extend-offer", "--signup", str(cw.id), "--minutes", "30")
    check(rc == 0 and state(cw.id).offer_deadline_ms == before.offer_deadline_ms + 30 * 60000,
          "kumppani events extend-offer --minutes 30 moves the deadline (%s)" % err.strip())
    rc, out, err = kp("events", "extend-offer", "--signup", str(cw.id), "--minutes", "0")
    check(rc != 0 and "minutes" in err, "the CLI refuses 0 minutes naming the option")

    # ---- offers: a promotion offers; extending moves the deadline and the timer ----
    ev = create(c, capacity=1, offer_window_minutes=60, start_in_s=2 * DAY)
    a = signup(c, ev.id, 11)
    w1 = signup(c, ev.id, 12)
    w2 = signup(c, ev.id, 13)
    refused(extend(w1.id, 60), E.CODE_CONFLICT, ["no open offer"],
            "extending a sign-up without an offer is refused")
    t0 = int(time.time() * 1000)
    r = promote(w1.id, beyond=True)
    o = body(r, S).signup
    check(r.status.code == OK and o.state == V.SIGNUP_STATE_OFFERED and
          abs(o.offer_deadline_ms - (t0 + 3600 * 1000)) < 30 * 1000,
          "with offers a promotion is an offer with the event's 60 minutes")
    check(log_events(c)[-1][0] == "SignupOffered", "SignupOffered on the log")
    refused(extend(w1.id, 0), E.CODE_INVALID, ["minutes"], "0 minutes is INVALID")
    refused(extend(w1.id, 10081), E.CODE_INVALID, ["minutes"], "more than a week is INVALID")
    r = extend(w1.id, 120)
    check(r.status.code == OK and body(r, S).signup.offer_deadline_ms ==
          o.offer_deadline_ms + 120 * 60000, "extended by two hours")
    check(log_events(c)[-1][0] == "SignupOffered", "the person is told: SignupOffered again")
    set_clock(c, 90 * 60)  # past the old deadline, before the new one
    time.sleep(0.3)
    check(state(w1.id).state == V.SIGNUP_STATE_OFFERED, "the offer outlives its old deadline")
    set_clock(c, 4 * 3600)  # past the new one
    end = time.time() + 5
    while time.time() < end and state(w1.id).state == V.SIGNUP_STATE_OFFERED:
        time.sleep(0.05)
    got = state(w1.id)
    check(got.state == V.SIGNUP_STATE_CANCELLED and got.cancel_reason == "offer-expired",
          "and expires at the new one")
    # An offer never outlives the start.
    r = promote(w2.id, beyond=True)
    check(r.status.code == OK, "the next is promoted (offered)")
    r = extend(w2.id, 10080)
    check(r.status.code == OK and body(r, S).signup.offer_deadline_ms == ev.start_unix * 1000,
          "an extension past the start stops at the start")
    refused(extend(w2.id, 60), E.CODE_CONFLICT, ["until the start"],
            "an offer lasting until the start cannot be extended further")
    # A started event's waitlist does not move.
    w3 = signup(c, ev.id, 14)
    set_clock(c, 2 * DAY + 60)
    refused(promote(w3.id, beyond=True), E.CODE_CONFLICT, ["started"],
            "a started event's waitlist does not move")

finally:
    s.close()
done()
