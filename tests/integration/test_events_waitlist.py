"""Issue 4 points 2-5 and 8: sign-up rules, the waitlist with automatic promotion and with
offers that expire (durable deadlines that survive a restart), leaving the waitlist, group
sign-ups (all or nothing), role balance for partnership tables, attendance and the door CSV."""
import time

from kp_harness import Suite, V, E, OK, body, check, done
from kp_events import (DAY, events_with_hooks, set_clock, create, get, signup, submit,
                       log_events, refused)

S = V.SignupReply

s = Suite()
try:
    ev_proc = events_with_hooks(s)
    c = s.client(s.ev_api)

    def cancel(sid, method="events.signup.cancel"):
        return c.call(method, V.CancelSignupRequest(signup_id=sid))

    # ---- bad input on submit: every refusal changes nothing.
    ev = create(c, capacity=3)
    for kw, words, what in [
            (dict(companions=21), ["companions"], "more than 20 companions"),
            (dict(accessibility_text="x" * 501), ["accessibility_text"], "long needs text"),
            (dict(role=0), ["role"], "missing role"),
            (dict(email="not-an-email"), ["email"], "bad e-mail"),
            (dict(name="A\x07B"), [], "control character in name")]:
        r = submit(c, ev.id, 900, **kw)
        check(r.status.code in (E.CODE_INVALID, E.CODE_BAD_REQUEST) and
              all(w in r.status.message for w in words), "submit refuses " + what)
    refused(submit(c, 424242, 901), E.CODE_NOT_FOUND, ["event"], "unknown event refused")
    check(get(c, ev.id).confirmed_n == 0, "refused sign-ups store nothing")

    # ---- automatic promotion, needs and leaving the waitlist.
    a = signup(c, ev.id, 1, accessibility_text="pyörätuoli", dietary_text="gluteeniton",
               consent_needs=True)
    check(a.accessibility_text == "pyörätuoli" and a.dietary_text == "gluteeniton",
          "accessibility and dietary needs stored")
    b = signup(c, ev.id, 2)
    w_group = signup(c, ev.id, 3, companions=2)   # 3 places: does not fit the 1 left
    check(w_group.state == V.SIGNUP_STATE_WAITLISTED, "a group that does not fit whole waits")
    d = signup(c, ev.id, 4)
    check(d.state == V.SIGNUP_STATE_CONFIRMED, "a single person behind it takes the last place")
    e = signup(c, ev.id, 5)
    f = signup(c, ev.id, 6)
    check(e.state == f.state == V.SIGNUP_STATE_WAITLISTED, "full: waitlisted")
    r = cancel(e.id, "events.signup.leave_waitlist")
    check(r.status.code == OK and body(r, S).signup.cancel_reason == "left-waitlist",
          "leaving the waitlist")
    refused(cancel(a.id, "events.signup.leave_waitlist"), E.CODE_CONFLICT, ["not on the waitlist"],
            "a confirmed sign-up cannot 'leave the waitlist'")
    cancel(a.id)
    ev1 = get(c, ev.id)
    lst = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(lst[f.id].state == V.SIGNUP_STATE_CONFIRMED and
          lst[w_group.id].state == V.SIGNUP_STATE_WAITLISTED,
          "freed place goes to the first that fits whole (the single one behind the group)")
    cancel(b.id)
    cancel(d.id)
    lst = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(lst[w_group.id].state == V.SIGNUP_STATE_WAITLISTED, "two free places: a group of 3 waits")
    cancel(f.id)
    lst = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(lst[w_group.id].state == V.SIGNUP_STATE_CONFIRMED, "the group moves up when it fits")
    ev1 = get(c, ev.id)
    check(ev1.confirmed_n == 3 and ev1.waitlisted_n == 0, "places counted with companions")
    types = [t for t, _ in log_events(c)]
    check("SignupPromoted" in types and "SignupWaitlisted" in types and
          "SignupCancelled" in types, "promotion, waitlisting and cancel on the bus")

    # ---- offers with a deadline, surviving a restart.
    ev = create(c, capacity=1, offer_window_minutes=60)
    a = signup(c, ev.id, 11)
    w1 = signup(c, ev.id, 12)
    w2 = signup(c, ev.id, 13)
    cancel(a.id)
    sl = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(sl[w1.id].state == V.SIGNUP_STATE_OFFERED and sl[w1.id].offer_deadline_ms > 0,
          "freed place offered with a deadline")
    check(sl[w2.id].state == V.SIGNUP_STATE_WAITLISTED, "the next keeps waiting")
    check(log_events(c)[-1][0] == "SignupOffered", "SignupOffered on the bus")
    refused(c.call("events.signup.accept_offer", V.CancelSignupRequest(signup_id=w2.id)),
            E.CODE_CONFLICT, ["no open offer"], "accepting without an offer refused")
    # Restart: the deadline is durable; then the clock passes it.
    ev_proc.stop()
    ev_proc = events_with_hooks(s)
    c = s.client(s.ev_api)
    set_clock(c, 2 * 3600)
    deadline = time.time() + 5
    while time.time() < deadline:
        sl = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
            event_id=ev.id)), V.ListSignupsReply).signups}
        if sl[w2.id].state == V.SIGNUP_STATE_OFFERED:
            break
        time.sleep(0.05)
    check(sl[w1.id].state == V.SIGNUP_STATE_CANCELLED and
          sl[w1.id].cancel_reason == "offer-expired", "an unanswered offer expires (after restart)")
    check(sl[w2.id].state == V.SIGNUP_STATE_OFFERED, "the offer passes to the next")
    refused(c.call("events.signup.accept_offer", V.CancelSignupRequest(signup_id=w1.id)),
            E.CODE_CONFLICT, ["no open offer"], "an expired offer cannot be accepted")
    r = c.call("events.signup.accept_offer", V.CancelSignupRequest(
        source="county-portal", external_id="%010d" % 13))
    check(r.status.code == OK and body(r, S).signup.state == V.SIGNUP_STATE_CONFIRMED,
          "offer accepted by the publisher's own id")
    check(get(c, ev.id).confirmed_n == 1 and get(c, ev.id).offered_n == 0, "counts after accept")
    r = c.call("events.signup.accept_offer", V.CancelSignupRequest(signup_id=w2.id))
    check(r.status.code == OK and body(r, S).signup.state == V.SIGNUP_STATE_CONFIRMED and
          get(c, ev.id).confirmed_n == 1, "accepting again answers the confirmed sign-up as it is")
    w3 = signup(c, ev.id, 14)
    w4 = signup(c, ev.id, 15)
    cancel(w2.id)
    r = c.call("events.signup.decline_offer", V.CancelSignupRequest(signup_id=w3.id))
    check(r.status.code == OK and body(r, S).signup.cancel_reason == "offer-declined",
          "offer declined")
    refused(c.call("events.signup.decline_offer", V.CancelSignupRequest(signup_id=w3.id)),
            E.CODE_CONFLICT, ["no open offer"], "declining again is refused: no open offer")
    sl = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(sl[w4.id].state == V.SIGNUP_STATE_OFFERED, "a declined offer passes on at once")
    set_clock(c, 0)

    # ---- role balance: at most 40 % civil servants, at least 4 places kept for residents.
    rules = [V.RoleRule(role=V.ROLE_CIVIL_SERVANT, max_percent=40),
             V.RoleRule(role=V.ROLE_RESIDENT, reserved_n=4)]
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="t", municipality_code="743",
        start_unix=int(time.time()) + DAY, end_unix=int(time.time()) + DAY + 60,
        role_rules=[V.RoleRule(role=V.ROLE_RESIDENT, reserved_n=5)]), key="rr-nocap")
    refused(r, E.CODE_INVALID, ["capacity"], "reservations need a capacity")
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="t", municipality_code="743", capacity=10,
        start_unix=int(time.time()) + DAY, end_unix=int(time.time()) + DAY + 60,
        role_rules=[V.RoleRule(role=V.ROLE_NGO, max_percent=140)]), key="rr-pct")
    refused(r, E.CODE_INVALID, ["max_percent"], "percentage above 100 refused")
    ev = create(c, capacity=10, role_rules=rules)
    civ = [signup(c, ev.id, 100 + i, role=V.ROLE_CIVIL_SERVANT) for i in range(6)]
    check([x.state for x in civ].count(V.SIGNUP_STATE_CONFIRMED) == 4,
          "civil servants capped at 40 % of 10")
    ngo = [signup(c, ev.id, 200 + i, role=V.ROLE_NGO) for i in range(4)]
    check([x.state for x in ngo].count(V.SIGNUP_STATE_CONFIRMED) == 2,
          "4 places stay reserved for residents")
    res = [signup(c, ev.id, 300 + i, role=V.ROLE_RESIDENT) for i in range(5)]
    check([x.state for x in res].count(V.SIGNUP_STATE_CONFIRMED) == 4,
          "residents get their reserved places")
    bal = {rc.role: rc for rc in get(c, ev.id).role_counts}
    check(bal[V.ROLE_CIVIL_SERVANT].confirmed_n == 4 and bal[V.ROLE_CIVIL_SERVANT].waitlisted_n == 2
          and bal[V.ROLE_NGO].confirmed_n == 2 and bal[V.ROLE_RESIDENT].confirmed_n == 4,
          "the live balance per role is visible")
    cancel(civ[0].id)
    sl = {x.id: x for x in body(c.call("events.signup.list", V.ListSignupsRequest(
        event_id=ev.id)), V.ListSignupsReply).signups}
    check(sl[civ[4].id].state == V.SIGNUP_STATE_CONFIRMED,
          "a freed civil-servant place goes to the next civil servant that fits")

    # ---- attendance and the door CSV.
    ev = create(c, capacity=5, start_in_s=DAY)
    p1 = signup(c, ev.id, 400, name="Matti Meikäläinen", email="matti.meikalainen@example.fi",
                organisation="=cmd|' /C calc'!A0", dietary_text='vegaani, "ei pähkinöitä"', consent_needs=True)
    p2 = signup(c, ev.id, 401, companions=1)
    p3 = signup(c, ev.id, 402)
    cancel(p3.id)
    A = V.SignupAttendanceRequest
    refused(c.call("events.signup.attendance", A(signup_id=p1.id, attendance=V.ATTENDANCE_ATTENDED)),
            E.CODE_CONFLICT, ["not started"], "attendance before the start refused")
    set_clock(c, DAY + 600)
    refused(c.call("events.signup.attendance", A(signup_id=p1.id)), E.CODE_INVALID,
            ["attendance"], "attendance value required")
    refused(c.call("events.signup.attendance", A(signup_id=p3.id, attendance=V.ATTENDANCE_ATTENDED)),
            E.CODE_CONFLICT, ["confirmed"], "a cancelled sign-up cannot attend")
    r = c.call("events.signup.attendance", A(signup_id=p1.id, attendance=V.ATTENDANCE_ATTENDED))
    check(r.status.code == OK and body(r, S).signup.attendance == V.ATTENDANCE_ATTENDED,
          "marked attended")
    c.call("events.signup.attendance", A(signup_id=p2.id, attendance=V.ATTENDANCE_NO_SHOW))
    e2 = get(c, ev.id)
    check(e2.attended_n == 1 and e2.no_show_n == 2, "attended and no-show counted in places")
    types = [t for t, _ in log_events(c)]
    check("SignupAttended" in types and "SignupNoShow" in types, "attendance on the bus")
    r = c.call("events.signup.door_csv", V.EventRef(event_id=ev.id))
    csv = body(r, V.EventTextReply)
    lines = csv.text.split("\r\n")
    check(csv.content_type.startswith("text/csv") and lines[0].startswith('"signup","name"'),
          "door CSV header")
    check(len([x for x in lines if x]) == 3, "door CSV lists the confirmed sign-ups only")
    check('"\'=cmd' in csv.text, "a formula in a field is defused")
    check('"vegaani, ""ei pähkinöitä"""' in csv.text, "CSV quoting")
    check("Matti Meikäläinen" in csv.text and "attended" in csv.text, "name and attendance")
    set_clock(c, 0)
finally:
    s.close()
done()
