"""What events.signup.submit refuses besides the field rules, with texts a publisher can act on:
- the same phone number (in any of its forms, "040 765 4321" = "+358 40 7654321") on a live
  sign-up of the event, sent again under a new external id (the web makes one per form post:
  Back and Send, two tabs), is refused as the same e-mail address is: CONFLICT "already signed
  up", nothing stored, no second place; unless both sign-ups give an e-mail address of their
  own (a household's shared phone); after a cancel or an erasure the number signs up again;
  an index of the older layout (no phone pairs) is rebuilt at start and still finds it;
- a group larger than the event (1 + companions > capacity) is refused, naming 'companions',
  where it would wait on the waitlist for ever; so is an update lowering the capacity below a
  waiting group (CONFLICT naming 'capacity' and the sign-up);
- a name of white space alone is refused as an empty name is ("field 'name': required");
- a publisher that reuses its source + external_id for other details gets CONFLICT naming
  'external_id' and saying what to do, with no personal data in the text; the identical resend
  still gets its first answer byte for byte."""
import os
import struct

import lmdb

from kp_harness import PII, Suite, V, E, L, OK, body, check, done
from kp_events import create, submit, signup, refused
from kumppani.v1 import privacy_pb2 as P

S = V.SignupReply

s = Suite()
try:
    ev_proc = s.events()
    c = s.client(s.ev_api)

    def lst(eid):
        return body(c.call("events.signup.list", V.ListSignupsRequest(event_id=eid)),
                    V.ListSignupsReply)

    def head():
        return body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq

    # ---- 1. the same phone number, no e-mail, under a new external id.
    ev = create(c, capacity=10)
    first = signup(c, ev.id, 1, email="", phone="040 765 4321")
    check(first.state == V.SIGNUP_STATE_CONFIRMED, "a sign-up with a phone and no e-mail")
    before = head()
    for i, phone in ((2, "040 765 4321"), (3, "+358 40 7654321"), (4, "00358-40-765-4321"),
                     (5, "+358407654321")):
        r = submit(c, ev.id, i, email="", phone=phone)
        refused(r, E.CODE_CONFLICT,
                ["phone number is already signed up", "event %d" % ev.id,
                 "sign-up %d" % first.id],
                "the same phone number (form %d) under a new external id is refused" % i)
        check(r is None or ("765" not in r.status.message and "4321" not in r.status.message),
              "the refusal does not carry the number (%d)" % i)
    # The same phone with an e-mail on the second: still the same person (the first gave none).
    r = submit(c, ev.id, 6, email="toinen@example.fi", phone="0407654321")
    refused(r, E.CODE_CONFLICT, ["already signed up"],
            "the same phone, the second with an e-mail, is refused")
    e = lst(ev.id)
    check(len(e.signups) == 1 and e.event.confirmed_n == 1 and head() == before,
          "the refused resends store nothing and take no place (%d sign-ups, %d confirmed)"
          % (len(e.signups), e.event.confirmed_n))
    # As the e-mail case answers: same code, same form of text.
    signup(c, ev.id, 7, email="sama@example.fi")
    r7 = submit(c, ev.id, 8, email="SAMA@example.fi")
    refused(r7, E.CODE_CONFLICT, ["e-mail address is already signed up"], "the e-mail case")
    check(r7 is not None and r is not None and
          r7.status.message.replace("e-mail address", "X").split("(")[0] ==
          submit(c, ev.id, 9, email="", phone="040 765 4321").status.message
          .replace("phone number", "X").split("(")[0],
          "the phone case answers in the e-mail case's words")
    # A household: two people with their own e-mail addresses may share a phone.
    a = signup(c, ev.id, 10, email="aiti@example.fi", phone="06 123 4567")
    b = submit(c, ev.id, 11, email="isa@example.fi", phone="+358 6 1234567")
    check(b is not None and b.status.code == OK,
          "two sign-ups with their own e-mail addresses may share a phone")
    r = submit(c, ev.id, 12, email="", phone="061234567")
    refused(r, E.CODE_CONFLICT, ["phone number is already signed up"],
            "the household's phone alone is a sign-up of theirs")
    # Another event: the same phone signs up there.
    ev2 = create(c, capacity=10)
    ev2_su = signup(c, ev2.id, 13, email="", phone="040 765 4321")  # asserts OK
    check(ev2_su.state == V.SIGNUP_STATE_CONFIRMED, "the same phone signs up to another event")
    # Cancelled: the number signs up again.
    r = c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=first.id))
    check(r.status.code == OK, "cancel the phone's sign-up")
    again = submit(c, ev.id, 14, email="", phone="+358 40 765 4321")
    check(again is not None and again.status.code == OK,
          "after a cancel the same phone signs up again")
    again = body(again, S).signup

    # Restarted: the key index still knows the phone (caught up, or as it was saved).
    ev_proc.stop()
    ev_proc = s.events()
    c = s.client(s.ev_api)
    refused(submit(c, ev.id, 15, email="", phone="040-7654321"), E.CODE_CONFLICT,
            ["phone number is already signed up", "sign-up %d" % again.id],
            "after a restart the phone is still recognised")

    # An index of the older layout (format 2) held no phone pairs: its e-mail table as that
    # layout left it (the pairs of the phone-only sign-ups cleared), its mark said format 2.
    ev_proc.stop()
    index = os.path.join(s.dir, "events", "index")
    env = lmdb.open(index, max_dbs=4)
    with env.begin(write=True) as t:
        t.put(b"format", bytes([2]), db=env.open_db(b"meta", txn=t))
    env.close()
    phone_only = {again.id, ev2_su.id}
    with open(os.path.join(index, "email.hash"), "r+b") as f:
        raw = bytearray(f.read())
        cap, = struct.unpack_from("<Q", raw, 8)
        cleared = 0
        for i in range(cap):
            off = 4096 + 16 * i + 8
            if struct.unpack_from("<Q", raw, off)[0] in phone_only:
                struct.pack_into("<Q", raw, off, 0)
                cleared += 1
        live, = struct.unpack_from("<Q", raw, 24)
        struct.pack_into("<Q", raw, 24, live - cleared)
        f.seek(0)
        f.write(raw)
    check(cleared == 2, "the phone-only sign-ups' pairs cleared (%d)" % cleared)
    rebuilds = ev_proc.logtext().count("rebuilt=")
    ev_proc = s.events()
    c = s.client(s.ev_api)
    check(ev_proc.logtext().count("rebuilt=") == rebuilds + 1,
          "an index of the older layout is rebuilt at start")
    refused(submit(c, ev.id, 16, email="", phone="0407654321"), E.CODE_CONFLICT,
            ["phone number is already signed up", "sign-up %d" % again.id],
            "the rebuilt index finds the phone")
    refused(submit(c, ev2.id, 19, email="", phone="040 765 4321"), E.CODE_CONFLICT,
            ["phone number is already signed up", "sign-up %d" % ev2_su.id],
            "and the phone on the other event")
    refused(submit(c, ev.id, 17, email="SAMA@example.fi"), E.CODE_CONFLICT,
            ["e-mail address is already signed up"], "and the e-mail address")

    # Erased: the number is free again.
    r = c.call("events.privacy.erase", P.DataSubject(signup_id=again.id))
    check(r is not None and r.status.code == OK, "erase the phone's sign-up")
    check(submit(c, ev.id, 18, email="", phone="040 765 4321").status.code == OK,
          "after an erasure the same phone signs up again")

    # ---- 2. a group larger than the event.
    small = create(c, capacity=3)
    r = submit(c, small.id, 20, companions=3)
    refused(r, E.CODE_INVALID, ["field 'companions'", "group of 4", "capacity 3"],
            "a group of 4 to an event of 3 places is refused")
    check(len(lst(small.id).signups) == 0,
          "the refused group is not stored")
    check(signup(c, small.id, 21, companions=2).state == V.SIGNUP_STATE_CONFIRMED,
          "a group of 3 to an event of 3 places fits")
    check(signup(c, small.id, 22, companions=2).state == V.SIGNUP_STATE_WAITLISTED,
          "another group of 3 waits for the places")
    # Lowering the capacity below a waiting group would leave it there for ever: refused,
    # naming the sign-up; nothing changes. Once it is cancelled the capacity goes down.
    big = create(c, capacity=5)
    check(signup(c, big.id, 24, companions=1).state == V.SIGNUP_STATE_CONFIRMED,
          "a pair takes 2 of 5 places")
    w2 = signup(c, big.id, 25, companions=3)
    check(w2.state == V.SIGNUP_STATE_WAITLISTED, "a group of 4 waits for the places")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=big.id, values=V.CreateEventRequest(capacity=3), fields=["capacity"]))
    refused(r, E.CODE_CONFLICT, ["field 'capacity'", "sign-up %d" % w2.id, "group of 4",
                                 "at 4 or more"],
            "a capacity below a waiting group of 4 is refused")
    check(lst(big.id).event.capacity == 5, "the refused update changes nothing")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=big.id, values=V.CreateEventRequest(capacity=4), fields=["capacity"]))
    check(r.status.code == OK and lst(big.id).event.capacity == 4,
          "a capacity the waiting group fits is taken")
    r = c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=w2.id))
    check(r.status.code == OK, "the waiting group cancelled")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=big.id, values=V.CreateEventRequest(capacity=3), fields=["capacity"]))
    check(r.status.code == OK and lst(big.id).event.capacity == 3,
          "with no waiting group too large the capacity goes down")
    # A role's cap holds a group at the door too: an NGO group of 4 where NGOs may have 3.
    capped = create(c, capacity=20, role_rules=[V.RoleRule(role=V.ROLE_NGO, max_n=3)])
    r = submit(c, capped.id, 26, role=V.ROLE_NGO, companions=3)
    refused(r, E.CODE_INVALID, ["field 'companions'", "group of 4", "role ngo",
                                "at most 3 places", "at most 2 companions"],
            "a group larger than its role's cap is refused")
    check(len(lst(capped.id).signups) == 0, "the refused group is not stored")
    pct = create(c, capacity=3, role_rules=[V.RoleRule(role=V.ROLE_CIVIL_SERVANT,
                                                       max_percent=25)])
    refused(submit(c, pct.id, 27, role=V.ROLE_CIVIL_SERVANT), E.CODE_INVALID,
            ["field 'role'", "no places for role civil-servant"],
            "a role whose share of the places is none is refused, naming the role")
    # Lowering a role's cap below a waiting group of that role is refused as the capacity is.
    roles = create(c, capacity=20, role_rules=[V.RoleRule(role=V.ROLE_NGO, max_n=5)])
    check(signup(c, roles.id, 28, role=V.ROLE_NGO, companions=1).state ==
          V.SIGNUP_STATE_CONFIRMED, "an NGO pair in")
    w3 = signup(c, roles.id, 29, role=V.ROLE_NGO, companions=3)
    check(w3.state == V.SIGNUP_STATE_WAITLISTED, "an NGO group of 4 waits (2 + 4 > 5)")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=roles.id, values=V.CreateEventRequest(
            role_rules=[V.RoleRule(role=V.ROLE_NGO, max_n=3)]), fields=["role_rules"]))
    refused(r, E.CODE_CONFLICT, ["field 'role_rules'", "sign-up %d" % w3.id, "group of 4",
                                 "role ngo", "4 places or more"],
            "a role cap below a waiting group of the role is refused")
    check(list(lst(roles.id).event.role_rules)[0].max_n == 5, "the rules stay as they were")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=roles.id, values=V.CreateEventRequest(
            role_rules=[V.RoleRule(role=V.ROLE_NGO, max_n=4)]), fields=["role_rules"]))
    check(r.status.code == OK, "a cap the waiting group fits is taken")
    open_ev = create(c)  # no capacity: no limit
    check(signup(c, open_ev.id, 23, companions=20).state == V.SIGNUP_STATE_CONFIRMED,
          "an event without a capacity takes a group of 21")

    # ---- 3. a name of white space alone.
    empty = submit(c, small.id, 30, name="")
    refused(empty, E.CODE_INVALID, ["field 'name'"], "an empty name is refused")
    for what, name in (("spaces", "   "), ("em spaces", "\u2003 \u2003"),
                       ("no-break spaces", "\u00a0\u00a0"), ("ideographic space", "\u3000")):
        r = submit(c, small.id, 31, name=name)
        refused(r, E.CODE_INVALID, ["field 'name'"], "a name of %s is refused" % what)
        check(r is not None and empty is not None and r.status.message == empty.status.message,
              "a name of %s is refused as an empty one" % what)
    check(signup(c, small.id, 32, name=" Aino ").name == " Aino ",
          "a name with spaces around it is taken")

    # ---- 4. a publisher's id reused for other details.
    ev4 = create(c, capacity=5)
    r1 = submit(c, ev4.id, 40, name=PII[0], email=PII[1])
    check(r1 is not None and r1.status.code == OK, "the first sign-up under external id 40")
    r = submit(c, ev4.id, 40, name=PII[3], email=PII[4])
    refused(r, E.CODE_CONFLICT,
            ["field 'external_id'", "county-portal/%010d" % 40,
             "sign-up %d" % body(r1, S).signup.id, "new external id"],
            "the same external id for another person: what happened and what to do")
    check(r is not None and "idempotency" not in r.status.message and
          all(p not in r.status.message for p in PII[:5]),
          "the text speaks the sign-up API's words and holds no personal data")
    r = submit(c, ev4.id, 40, name=PII[0], email=PII[1], companions=1)
    refused(r, E.CODE_CONFLICT, ["field 'external_id'"], "the same id with more companions")
    r = submit(c, ev4.id, 40, name=PII[0], email=PII[1])
    check(r is not None and r.status.code == OK and r.body == r1.body,
          "the identical resend gets its first answer byte for byte")
    check(len(lst(ev4.id).signups) == 1, "nothing more stored")
    # A language left out is the event's: a resend that names it is the same request.
    r2 = submit(c, ev4.id, 41, name=PII[0], email="kieli@example.fi")
    r = submit(c, ev4.id, 41, name=PII[0], email="kieli@example.fi", language="sv")
    refused(r, E.CODE_CONFLICT, ["field 'external_id'"], "the same id in another language")
    check(submit(c, ev4.id, 41, name=PII[0], email="kieli@example.fi").body == r2.body,
          "its identical resend still answers the first")
finally:
    s.close()
done()
