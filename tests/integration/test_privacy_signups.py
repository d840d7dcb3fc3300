# timeout: 180
"""Issue 12: a participant erased everywhere (the canary test).

A canary person (a unique name, e-mail, phone and accessibility text, with consent_needs) signs
up to two events on a keyed suite (CURVE) with the real notifier and a real SMTP server
(aiosmtpd). The confirmation mails arrive and a reminder is pending (planned days ahead). Then
the person is erased by e-mail through events.privacy.erase and notifier.privacy.erase (what
`kumppani privacy erase --email` asks of these two services), and:
- a byte search for every canary string over every file under the suite's directory
  (data.mdb, lock.mdb, service logs) finds some before the erasure and none after;
- moving the test clock past the reminder's moment sends no mail to the canary;
- the events statistics still count both sign-ups; a waitlisted person took the freed place;
- a second erasure answers NOT_FOUND "no personal data held for that subject";
- an mdb_copy -c backup made afterwards holds nothing of the canary;
- the events log never carried the canary (replay with the admin key), and SignupErased names
  ids only.
The byte counts per file before and after, and the time the erasure took, are printed."""
import os
import shutil
import subprocess
import time
import uuid

import kp_harness
import kp_notifier as kn
from kp_broker import add_keys
from kp_harness import (OK, E, L, Suite, V, body, check, done, free_port, note_sent,
                        signup_req)
from kp_notifier import N, Smtp, keyed_args, start_keyed, wait_for
from kumppani.v1 import privacy_pb2 as P

tag = uuid.uuid4().hex[:10]
CANARY = {"name": "Kanarialintu Testihenkilö %s" % tag,
          "email": "kanaria.%s@example.fi" % tag,
          "phone": "+35850%s" % str(int(tag, 16))[-7:],
          "access": "kanarian pyörätuoli %s" % tag}


def canary_bytes(root):
    """{path: {canary key: count}} for every file under root holding a canary string."""
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            hits = {k: data.count(v.encode()) for k, v in CANARY.items() if v.encode() in data}
            if hits:
                out[os.path.relpath(path, root)] = hits
    return out


def replay_all(c):
    out, frm = [], 1
    while True:
        page = body(c.call("log.replay", L.ReplayRequest(from_seq=frm, limit=500)), L.ReplayPage)
        out += list(page.events)
        if not page.events or page.events[-1].seq >= page.head_seq:
            return out
        frm = page.events[-1].seq + 1


s = Suite(keys=True)
smtp = Smtp()
try:
    add_keys(s, [("notifier", "service")])
    s.events(["--test-clock", "on"])
    api = "tcp://127.0.0.1:%d" % free_port()
    p, nc = start_keyed(s, api, keyed_args(s, smtp, api) + ["--test-clock", "on"])
    c = s.client(s.ev_api, "admin")
    now = int(time.time())
    eids = []
    for i, days in enumerate((5, 12)):
        start = now + days * 86400
        r = c.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_PARTNERSHIP_TABLE, title="Pöytä %d" % i, municipality_code="743",
            start_unix=start, end_unix=start + 3600, capacity=1 + i, language="fi"),
            key="ev-%d" % i)
        check(r.status.code == OK, "event %d created" % i)
        eid = body(r, V.EventReply).event.id
        check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK,
              "published")
        eids.append(eid)
    note_sent("Matti Meikäläinen")  # the other participants below carry the planted name
    ids = []
    for i, eid in enumerate(eids):
        q = signup_req(eid, 100 + i, name=CANARY["name"], email=CANARY["email"],
                       phone=CANARY["phone"], accessibility_text=CANARY["access"],
                       consent_needs=True, consent_reminders=True)
        r = c.call("events.signup.submit", q)
        check(r.status.code == OK, "the canary signs up to event %d (%s)" % (i, r.status.message))
        ids.append(body(r, V.SignupReply).signup.id)
    # someone waits for the canary's place at the first event
    r = c.call("events.signup.submit", signup_req(eids[0], 200, consent_reminders=True))
    check(r.status.code == OK and body(r, V.SignupReply).signup.state ==
          V.SIGNUP_STATE_WAITLISTED, "another person is waitlisted at event 0")
    other = body(r, V.SignupReply).signup.id
    other_conf_sid = ids[1]  # the canary's confirmation at event 1: delivered, then erased

    check(wait_for(lambda: len(kn.mails_to(smtp, CANARY["email"])) >= 2, 20),
          "both confirmations reached the canary")
    sched = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=eids[0])),
                 N.ListNotificationsReply).notifications
    pending = [x for x in sched if x.signup_id == ids[0] and x.kind == N.MESSAGE_KIND_REMINDER
               and x.state == N.NOTIFICATION_STATE_SCHEDULED]
    check(pending, "a reminder to the canary is pending")
    last_due = max(x.due_ms for x in pending) if pending else 0
    stats0 = body(c.call("events.stats", V.EventStatsRequest()), V.EventStatsReply).total

    # the canary opts out of SMS, writing the number in its national form: the notifier now
    # holds the phone (its opt-out table), found and erased by its international form below
    nctl = s.client(api, "admin", server="notifier")
    national = "0" + CANARY["phone"][4:6] + " " + CANARY["phone"][6:]
    r = nctl.call("notifier.optout", N.OptOutRequest(address=national, channel=N.CHANNEL_SMS))
    check(r.status.code == OK, "the canary opts out of SMS")
    r = nctl.call("notifier.privacy.export", P.DataSubject(phone=CANARY["phone"]))
    check(r.status.code == OK and '"opted_out_sms":true' in body(r, P.PrivacyExportReply).json,
          "notifier.privacy.export shows the opt-out")
    r = c.call("events.privacy.export", P.DataSubject(email=CANARY["email"]))
    js = body(r, P.PrivacyExportReply).json if r.status.code == OK else ""
    check(CANARY["access"] in js and js.count('"signup_id"') == 2,
          "events.privacy.export: both sign-ups, with the texts, as JSON")
    r = c.call("events.privacy.export", P.DataSubject(phone=national))
    js = body(r, P.PrivacyExportReply).json if r.status.code == OK else ""
    check(js.count('"signup_id"') == 2,
          "events.privacy.export by the national form of the phone: the same two sign-ups")
    time.sleep(0.5)
    before = canary_bytes(s.dir)
    check(any(f.endswith("data.mdb") for f in before),
          "before the erasure the canary is on disk (the search can fail): %s" % before)

    # ---- the erasure ----
    t0 = time.monotonic()
    subj = P.DataSubject(email=CANARY["email"].upper())
    r = c.call("events.privacy.erase", subj)
    check(r.status.code == OK, "events.privacy.erase: %s" % r.status.message)
    er = body(r, P.PrivacyEraseReply)
    check(er.erased == 2 and sorted(er.ids) == sorted(ids), "both sign-ups erased (%s)" % er)
    r = nctl.call("notifier.privacy.erase", P.DataSubject(phone=CANARY["phone"]))
    check(r.status.code == OK and body(r, P.PrivacyEraseReply).erased == 1,
          "notifier.privacy.erase: the opt-out (%s)" % r.status.message)
    t_erase = time.monotonic() - t0

    def forgotten():
        sc = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=eids[0])),
                  N.ListNotificationsReply).notifications
        mine = [x for x in sc if x.signup_id == ids[0]]
        return mine and all(x.state != N.NOTIFICATION_STATE_SCHEDULED for x in mine)
    check(wait_for(forgotten, 10), "the notifier cancelled the canary's pending messages")
    time.sleep(1.5)  # the compactions after the turns
    after = canary_bytes(s.dir)
    check(not after, "after the erasure no file holds the canary: %s" % after)
    print("canary bytes before (file: {string: count}):")
    for f, h in sorted(before.items()):
        print("  %s %s" % (f, h))
    print("canary bytes after: %s" % (after or "none"))
    print("erasure took %.3f s (both services)" % t_erase)

    # ---- the reminder never goes ----
    n_mails = len(kn.mails_to(smtp, CANARY["email"]))
    kn.set_clock(s, last_due - int(time.time() * 1000) + 60000, api)
    time.sleep(2.0)
    check(len(kn.mails_to(smtp, CANARY["email"])) == n_mails,
          "after the reminder's moment no mail went to the canary")
    kn.set_clock(s, 0, api)

    # ---- statistics, the waitlist, a second erasure ----
    st = body(c.call("events.stats", V.EventStatsRequest()), V.EventStatsReply).total
    check(st.signups_n == stats0.signups_n == 3,
          "the statistics still count the sign-ups (%d, was %d)" % (st.signups_n, stats0.signups_n))
    check(st.participants_n == 1 and stats0.participants_n == 2,
          "participants: the canary's place at event 0 passed on, event 1 lost one (%d, was %d)"
          % (st.participants_n, stats0.participants_n))
    r = c.call("events.signup.list", V.ListSignupsRequest(event_id=eids[0]))
    sl = {x.id: x for x in body(r, V.ListSignupsReply).signups}
    check(sl[ids[0]].erased and sl[ids[0]].name == "" and sl[ids[0]].email == ""
          and sl[ids[0]].state == V.SIGNUP_STATE_CANCELLED,
          "the erased sign-up keeps ids and state only")
    check(sl[other].state == V.SIGNUP_STATE_CONFIRMED, "the waitlisted person took the place")
    r = c.call("events.privacy.erase", P.DataSubject(email=CANARY["email"]))
    check(r.status.code == E.CODE_NOT_FOUND and
          r.status.message == "no personal data held for that subject",
          "a second erasure: NOT_FOUND (%s)" % r.status.message)
    r = c.call("events.privacy.export", P.DataSubject(phone=CANARY["phone"]))
    check(r.status.code == E.CODE_NOT_FOUND, "nothing to export any more")
    r = nctl.call("notifier.privacy.erase", P.DataSubject(phone=CANARY["phone"]))
    check(r.status.code == E.CODE_NOT_FOUND, "the notifier holds nothing more")
    r = c.call("events.signup.contact", V.SignupContactRequest(signup_id=ids[1]))
    check(r.status.code == E.CODE_NOT_FOUND, "events.signup.contact: NOT_FOUND once erased")
    r = c.call("events.signup.submit", signup_req(eids[1], 101, name=CANARY["name"],
                                                  email=CANARY["email"], phone=CANARY["phone"],
                                                  accessibility_text=CANARY["access"],
                                                  consent_needs=True, consent_reminders=True))
    check(r.status.code == OK and body(r, V.SignupReply).signup.id == ids[1]
          and body(r, V.SignupReply).signup.name == "",
          "a repeated submit is still recognised, answered with the public copy")

    # ---- the log ----
    evs = replay_all(c)
    raw = b"".join(e.SerializeToString() for e in evs)
    check(not any(v.encode() in raw for v in CANARY.values()), "the log never held the canary")
    erased = [V.SignupErased.FromString(e.payload) for e in evs if e.type == "SignupErased"]
    check(sorted(x.signup_id for x in erased) == sorted(ids), "SignupErased names the ids")

    # ---- a backup made afterwards ----
    bk = os.path.join(s.dir, "backup")
    for svc in ("events", "notifier"):
        os.makedirs(os.path.join(bk, svc))
        subprocess.check_call(["mdb_copy", "-c", os.path.join(s.dir, svc),
                               os.path.join(bk, svc)])
    check(not canary_bytes(bk), "an mdb_copy -c backup holds nothing of the canary")
    shutil.rmtree(bk)

    # ---- export, for another person ----
    r = c.call("events.privacy.export", P.DataSubject(signup_id=other))
    check(r.status.code == OK and '"signup_id":%d' % other in body(r, P.PrivacyExportReply).json,
          "events.privacy.export: the person's sign-ups as JSON")
    after = canary_bytes(s.dir)
    check(not after, "at the end still no file holds the canary: %s" % after)

    # ---- retention (retention-days, default 180) with the test clock ----
    old_one = {"name": "Vanha Osallistuja %s" % tag, "email": "vanha.%s@example.fi" % tag,
               "access": "vanha kuulosilmukka %s" % tag}
    start = int(time.time()) + 2 * 86400
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Vanha seminaari", municipality_code="743",
        start_unix=start, end_unix=start + 3600, language="fi"), key="ev-old")
    old_eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=old_eid)).status.code == OK,
          "an event for the retention check")
    r = c.call("events.signup.submit", signup_req(old_eid, 300, name=old_one["name"],
                                                  email=old_one["email"],
                                                  accessibility_text=old_one["access"],
                                                  consent_needs=True))
    check(r.status.code == OK, "a person signs up to it")
    old_sid = body(r, V.SignupReply).signup.id
    CANARY.clear()
    CANARY.update(old_one)
    time.sleep(0.5)
    check(canary_bytes(os.path.join(s.dir, "events")), "the person is on disk")
    st0 = body(c.call("events.stats", V.EventStatsRequest()), V.EventStatsReply).total
    # 179 days after the end: kept
    kp_harness.set_clock(c, (start + 3600 - int(time.time()) + 179 * 86400) * 1000)
    time.sleep(1.0)
    r = c.call("events.signup.contact", V.SignupContactRequest(signup_id=old_sid))
    check(r.status.code == OK, "179 days after the event the sign-up is kept")
    t0 = time.monotonic()
    kp_harness.set_clock(c, (start + 3600 - int(time.time()) + 181 * 86400) * 1000)

    def gone():
        return c.call("events.signup.contact",
                      V.SignupContactRequest(signup_id=old_sid)).status.code == E.CODE_NOT_FOUND
    check(wait_for(gone, 10), "181 days after the event its sign-ups are erased")
    print("retention pass took under %.3f s" % (time.monotonic() - t0))
    time.sleep(1.5)
    left = canary_bytes(s.dir)
    check(not left, "no file holds the person any more: %s" % left)
    st = body(c.call("events.stats", V.EventStatsRequest()), V.EventStatsReply).total
    check(st.signups_n == st0.signups_n and st.participants_n == st0.participants_n,
          "the statistics still count them (%d/%d, was %d/%d)"
          % (st.signups_n, st.participants_n, st0.signups_n, st0.participants_n))
    evs = replay_all(c)
    check(any(e.type == "SignupErased" and V.SignupErased.FromString(e.payload).reason ==
              "retention" for e in evs), "SignupErased (retention) on the log")

    # ---- the notifier's history (history-retention-days, default 90) ----
    conf_key = "events/s%d/confirm/email" % other_conf_sid
    check(kn.status(nc, conf_key) is not None, "a delivered confirmation is in the history")
    kn.set_clock(s, 89 * 86400 * 1000, api)
    time.sleep(1.0)
    check(kn.status(nc, conf_key) is not None, "kept 89 days")
    kn.set_clock(s, 91 * 86400 * 1000, api)
    check(wait_for(lambda: kn.status(nc, conf_key) is None, 10),
          "gone 91 days after it was sent (history retention)")
finally:
    s.close()
    smtp.stop()
done()
