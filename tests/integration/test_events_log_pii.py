# timeout: 120
"""Issue 12, step 1: a log without personal data.

Sign-ups carrying every kind of personal data (name, e-mail, phone, organisation, the
accessibility and diet texts) are confirmed, waitlisted, cancelled and promoted on a keyed suite
with the real notifier and a real SMTP server. Then:
- a replay of the whole events log with the admin key finds none of the planted strings, and
  the sign-up events still carry the ids, state, role, language and consents (the public copy,
  with has_email / has_phone);
- the notifier asked the events service for the contact when sending (events.signup.contact,
  its `service` key): the mail reached the address under the person's name, while nothing of
  the person is in the notifier's store (data.mdb) or in its records;
- events.signup.contact answers the contact to admin and service keys only."""
import os
import time

import kp_notifier as kn
from kp_broker import add_keys
from kp_harness import (OK, PII, E, L, Suite, V, body, check, done, free_port, planted_in,
                        signup_req)
from kp_notifier import N, Smtp, keyed_args, start_keyed, wait_for

EXTRA = ["Yhdistys Esimerkki ry", "pyörätuoli ja induktiosilmukka", "gluteeniton ruokavalio"]

s = Suite(keys=True)
smtp = Smtp()
try:
    add_keys(s, [("notifier", "service"), ("reader", "reader")])
    s.events()
    api = "tcp://127.0.0.1:%d" % free_port()
    p, nc = start_keyed(s, api, keyed_args(s, smtp, api))
    c = s.client(s.ev_api, "admin")
    start = int(time.time()) + 10 * 86400
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Seminaari", municipality_code="743", start_unix=start,
        end_unix=start + 3600, capacity=1, language="fi"), key="ev-1")
    check(r.status.code == OK, "event created")
    eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK, "published")
    a = signup_req(eid, 1, name=PII[0], email=PII[1], phone=PII[2], organisation=EXTRA[0],
                   accessibility_text=EXTRA[1], dietary_text=EXTRA[2], consent_needs=True,
                   consent_reminders=True)
    b = signup_req(eid, 2, name=PII[3], email=PII[4], consent_reminders=True, language="sv")
    ids = []
    for q in (a, b):
        r = c.call("events.signup.submit", q)
        check(r.status.code == OK, "sign-up accepted %s" % r.status.message)
        ids.append(body(r, V.SignupReply).signup.id)
    r = c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=ids[0]))
    check(r.status.code == OK, "A cancelled: B is promoted")

    check(wait_for(lambda: kn.mails_to(smtp, PII[1]) and len(kn.mails_to(smtp, PII[4])) >= 2, 20),
          "the confirmation reached A, and the waitlist notice and promotion reached B")
    m = kn.mails_to(smtp, PII[1])[0]
    check(m["To"].addresses[0].display_name == PII[0], "under the name asked at sending time")

    check(all(x.encode() not in raw for x in EXTRA[1:] for _, _, raw in smtp.parsed()),
          "no mail carries the accessibility or diet text")

    # ---- special categories only with consent (step 3) ----
    for f in ("accessibility_text", "dietary_text"):
        q = signup_req(eid, 50 + len(f), **{f: "jotain"})
        r = c.call("events.signup.submit", q)
        check(r.status.code == E.CODE_INVALID and r.status.message ==
              "field '%s': stored only with consent_needs" % f,
              "%s without consent_needs refused (%s)" % (f, r.status.message))
    r = c.call("events.signup.submit", signup_req(eid, 60, dietary_text="vegaani",
                                                  consent_needs=True))
    check(r.status.code == OK and body(r, V.SignupReply).signup.consent_needs
          and body(r, V.SignupReply).signup.dietary_text == "vegaani",
          "with consent_needs the text is stored")

    # ---- the whole log, replayed with the admin key ----
    evs, frm = [], 1
    while True:
        r = c.call("log.replay", L.ReplayRequest(from_seq=frm, limit=500))
        page = body(r, L.ReplayPage)
        evs += list(page.events)
        if not page.events or page.events[-1].seq >= page.head_seq:
            break
        frm = page.events[-1].seq + 1
    types = [e.type for e in evs]
    check({"SignupConfirmed", "SignupWaitlisted", "SignupCancelled", "SignupPromoted"}
          <= set(types), "the sign-up events are on the log: %s" % types)
    raw = b"".join(e.SerializeToString() for e in evs)
    leaked = [x for x in PII + EXTRA if x.encode() in raw]
    check(not leaked, "a replay of the whole events log finds no personal data %s" % leaked)
    first = V.SignupReply.FromString(evs[types.index("SignupConfirmed")].payload).signup
    check(first.id == ids[0] and first.event_id == eid and first.has_email and first.has_phone
          and first.role == V.ROLE_RESIDENT and first.consent_reminders and first.language == "fi"
          and first.state == V.SIGNUP_STATE_CONFIRMED and first.name == "" and first.email == "",
          "the public copy keeps ids, state, role, language and consents")

    # ---- the contact, at sending time only ----
    r = c.call("events.signup.contact", V.SignupContactRequest(signup_id=ids[1]))
    ct = body(r, V.SignupContactReply) if r.status.code == OK else None
    check(ct is not None and ct.name == PII[3] and ct.email == PII[4] and ct.language == "sv",
          "events.signup.contact answers the admin")
    rc = s.client(s.ev_api, "reader").call("events.signup.contact",
                                           V.SignupContactRequest(signup_id=ids[1]))
    check(rc.status.code != OK, "... and not a reader key")
    r = c.call("events.signup.contact", V.SignupContactRequest(signup_id=999))
    check(r.status.code == E.CODE_NOT_FOUND, "unknown sign-up: NOT_FOUND")
    sched = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=eid)),
                 N.ListNotificationsReply).notifications
    check(sched and all(x.address == "" and x.recipient_name == "" for x in sched),
          "the notifier's records hold no name or address (%d records)" % len(sched))
    time.sleep(0.5)
    found = planted_in(os.path.join(s.dir, "notifier"))
    check(not found, "nothing of the people in the notifier's store: %s" % sorted(found))
    leaks = [x for x in PII + EXTRA if x in p.logtext()]
    check(not leaks, "notifier log carries no personal data %s" % leaks)
finally:
    s.close()
    smtp.stop()
done()
