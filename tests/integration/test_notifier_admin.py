# timeout: 120
"""The notifier's notices and a coordinator's tools (issue 16, Notifier), with a real SMTP
server (aiosmtpd) and a real webhook receiver:

- the reason given at a reschedule or a cancellation reaches the participants;
- a reminder whose moment passed hours ago (the clock moved past it) is not sent;
- webhooks that fall due while the endpoint is off (after a 410) are kept as dead letters,
  and go out once retried after the endpoint is back;
- `kumppani notifier sent --to ADDR` lists what went to an address (the records keep no
  address: a keyed hash of it), `kumppani notifier optouts` lists the opt-outs."""
import json
import os
import subprocess
import time

from kp_harness import BIN, OK, PII, E, V, Suite, body, check, done, signup_req
from kp_events import create
from kp_notifier import N, Http, Smtp, mails_to, notifier, set_clock, status, text, wait_for

DAY = 86400

s = Suite()
smtp = Smtp()
http = Http()
try:
    s.events()
    http.status_for["/hook"] = 410  # the endpoint is switched off from the start
    notifier(s, smtp, http, ["--quiet-from-h", "0", "--quiet-to-h", "0", "--sms-token", "tok-123"])
    nc = s.client(s.ntf_api, server="notifier")
    c = s.client(s.ev_api)
    now = int(time.time())

    def cli(*args):
        return subprocess.run([os.path.join(BIN, "kumppani"), "notifier"] + list(args)
                              + ["--endpoint", s.ntf_api], capture_output=True, text=True,
                              timeout=20)

    def event(title, start):
        return create(c, key="ev-" + title, title=title, start_unix=start,
                      end_unix=start + 7200, place="Seinäjoki").id

    # ---- reasons reach the participants --------------------------------------------------------
    e1 = event("Siirtyvä pöytä", now + 10 * DAY)
    e2 = event("Peruttava pöytä", now + 11 * DAY)
    for i, eid in ((1, e1), (2, e2)):
        r = c.call("events.signup.submit", signup_req(eid, i, name=PII[0], email=PII[1],
                                                      consent_reminders=True))
        check(r.status.code == OK, "Matti signs up")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=e1, start_unix=now + 12 * DAY, end_unix=now + 12 * DAY + 7200,
        reason_text="Sali on remontissa"))
    check(r.status.code == OK, "rescheduled with a reason")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=e2,
                                                           reason_text="Puhuja sairastui"))
    check(r.status.code == OK, "cancelled with a reason")

    def subj(word):
        return [m for m in mails_to(smtp, PII[1]) if word in str(m["Subject"])]

    check(wait_for(lambda: subj("Uusi aika") and subj("Peruttu:"), 15), "both notices arrived")
    check("Syy: Sali on remontissa" in text(subj("Uusi aika")[0]),
          "the reschedule notice gives the reason:\n" + text(subj("Uusi aika")[0]))
    check("Syy: Puhuja sairastui" in text(subj("Peruttu:")[0]),
          "the cancellation notice gives the reason")
    ics = [p.get_content() for p in subj("Uusi aika")[0].walk()
           if p.get_content_type() == "text/calendar"]
    conf = [m for m in subj("vahvistettu") if "Siirtyvä" in str(m["Subject"])]
    ics0 = [p.get_content() for p in conf[0].walk() if p.get_content_type() == "text/calendar"]
    check(ics and "SEQUENCE:1" in ics[0] and ics0 and "SEQUENCE:0" in ics0[0],
          "the mails' iCalendar SEQUENCE is the event's, as in the feed (0, then 1)")

    # ---- a reschedule: no reminder whose moment passed for the new time; the notice covers it ---
    e4 = event("Aikaistuva pöytä", now + 10 * DAY)
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=e4, start_unix=now + 6 * DAY, end_unix=now + 6 * DAY + 7200))
    check(r.status.code == OK, "moved 4 days earlier")
    r = c.call("events.signup.submit", signup_req(e4, 5, name="Outi", email="outi@example.fi",
                                                  consent_reminders=True))
    sid4 = body(r, V.SignupReply).signup.id
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=e4, start_unix=now + 5 * DAY, end_unix=now + 5 * DAY + 7200))
    check(r.status.code == OK, "and once more, with a sign-up")
    check(wait_for(lambda: [m for m in mails_to(smtp, "outi@example.fi")
                            if "Uusi aika" in str(m["Subject"])], 15), "the new-time notice")
    sch = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=e4)),
               N.ListNotificationsReply).notifications
    live = sorted(x.key for x in sch if x.kind == N.MESSAGE_KIND_REMINDER
                  and x.state in (N.NOTIFICATION_STATE_SCHEDULED, N.NOTIFICATION_STATE_SENDING))
    check(live == ["events/s%d/remind24/%d/email" % (sid4, now + 5 * DAY)],
          "only the 1-day reminder of the new time is scheduled: %s" % live)
    time.sleep(1.0)
    check(not [m for m in mails_to(smtp, "outi@example.fi") if "Muistutus" in str(m["Subject"])],
          "no 7-day reminder after the new-time notice")

    # ---- a reminder whose moment passed hours ago is not sent ----------------------------------
    e3 = event("Myöhästyvä pöytä", now + 9 * DAY)
    r = c.call("events.signup.submit", signup_req(e3, 3, name="Pekka", email="pekka@example.fi",
                                                  consent_reminders=True))
    sid3 = body(r, V.SignupReply).signup.id
    check(wait_for(lambda: mails_to(smtp, "pekka@example.fi"), 15), "Pekka's confirmation")
    key = "events/s%d/remind168/%d/email" % (sid3, now + 9 * DAY)
    check(status(nc, key) is not None, "the 7-day reminder is scheduled")
    set_clock(s, (2 * DAY + 5 * 3600) * 1000)  # 5 h past the 7-day moment
    st = wait_for(lambda: (lambda x: x if x and x.state != N.NOTIFICATION_STATE_SCHEDULED
                           else None)(status(nc, key)), 10)
    check(st is not None and st.state == N.NOTIFICATION_STATE_CANCELLED
          and st.attempts[-1].result == "moment-passed",
          "the late reminder is not sent (%s)" % (st and st.attempts[-1].result))
    check(not [m for m in mails_to(smtp, "pekka@example.fi") if "Muistutus" in str(m["Subject"])],
          "no reminder mail 5 hours late")
    set_clock(s, 0)

    # ---- webhooks while the endpoint is off: dead letters, retried once it is back -------------
    check(wait_for(lambda: len(json.loads(cli("dead", "--json").stdout or "[]")) >= 5, 15),
          "the webhooks became dead letters")
    dead = json.loads(cli("dead", "--json").stdout)
    # The table pages: a full page says on stderr where the next begins; the last says nothing.
    p1 = cli("dead", "--limit", "2")
    keys1 = [ln.split()[-1] for ln in p1.stdout.splitlines()[1:]]
    check(p1.returncode == 0 and len(keys1) == 2 and
          p1.stderr.strip() == "next page: --after '%s'" % keys1[-1],
          "dead --limit 2: two rows and the next page's --after (%s)" % p1.stderr.strip())
    p2 = cli("dead", "--after", keys1[-1] if keys1 else "", "--limit", "500")
    keys2 = [ln.split()[-1] for ln in p2.stdout.splitlines()[1:]]
    check(p2.returncode == 0 and keys1 + keys2 == [d["key"] for d in dead] and
          "next page" not in p2.stderr,
          "the next page goes on from there to the end, with no hint (%s)" % p2.stderr.strip())
    hooks = [d for d in dead if d["channel"] == "WEBHOOK"]
    results = [status(nc, d["key"]).attempts[-1].result for d in hooks]
    n410 = sum(1 for x in results if x.startswith("http 410"))
    check(n410 >= 1 and results.count("endpoint-off") == len(hooks) - n410
          and results.count("endpoint-off") >= 3,
          "a 410 (those in flight), the rest kept as endpoint-off dead letters: %s" % results)
    http.status_for["/hook"] = 200
    for d in hooks:
        check(cli("retry", d["key"]).returncode == 0, "retried " + d["key"])
    check(wait_for(lambda: len(http.ok("/hook")) >= len(hooks), 15),
          "every kept webhook went out once the endpoint was back (%d of %d)"
          % (len(http.ok("/hook")), len(hooks)))

    # ---- the SMS gateway's bearer token (sms-token); a user and a token at once is refused ------
    r = c.call("events.signup.submit", V.SubmitSignupRequest(
        event_id=e3, source="county-portal", external_id="sms-only", name="Puhelin",
        phone="+358401234567", role=V.ROLE_RESIDENT))
    check(r.status.code == OK, "a phone-only sign-up")
    check(wait_for(lambda: http.ok("/sms"), 15), "its confirmation went by SMS")
    check(http.ok("/sms")[0][1].get("Authorization") == "Bearer tok-123",
          "with the gateway's bearer token")
    q = subprocess.run([os.path.join(BIN, "kumppani-notifier"), "--sms-user", "u", "--sms-token",
                        "t", "--data-dir", os.path.join(s.dir, "bad")], capture_output=True,
                       text=True, timeout=30)
    check(q.returncode == 2 and "sms-user or sms-token" in q.stderr,
          "a gateway user and a token at once are refused at start")

    # ---- what was sent to an address; the opt-outs ----------------------------------------------
    out = cli("sent", "--to", PII[1].upper(), "--json")
    sent = json.loads(out.stdout) if out.returncode == 0 else []
    kinds = {x["kind"] for x in sent}
    check({"SIGNUP_CONFIRMED", "EVENT_RESCHEDULED", "EVENT_CANCELLED"} <= kinds
          and all(x["state"] in ("DELIVERED", "SENDING") for x in sent
                  if x["kind"] != "REMINDER"),
          "notifier sent --to lists what went to Matti: %s" % sorted(kinds))
    check(PII[1] not in out.stdout and "Matti" not in out.stdout, "and shows no address")
    out = cli("sent", "--to", "nobody@example.fi", "--json")
    check(out.returncode == 0 and json.loads(out.stdout) == [], "nothing sent to a stranger")
    check(cli("sent").returncode == 2, "sent without --to is a usage error")
    check(cli("optout", "opt.out@example.fi", "--channel", "email").returncode == 0
          and cli("optout", "+358401112223", "--channel", "sms").returncode == 0, "two opt-outs")
    out = cli("optouts")
    check(out.returncode == 0 and "opt.out@example.fi" in out.stdout
          and "+358401112223" in out.stdout, "notifier optouts lists them:\n" + out.stdout)
    out = cli("optouts", "--json")
    check(out.returncode == 0 and {"channel": "EMAIL", "address": "opt.out@example.fi"}
          in json.loads(out.stdout), "notifier optouts --json")
    # A bad page names the field that is wrong (a long after_address was reported as 'limit').
    r = nc.call("notifier.optouts", N.OptOutListRequest(after_address="a" * 261))
    check(r.status.code == E.CODE_INVALID and "field 'after_address'" in r.status.message
          and "limit" not in r.status.message,
          "optouts: a 261-byte after_address is refused naming it (%s)" % r.status.message)
    r = nc.call("notifier.optouts", N.OptOutListRequest(limit=1001))
    check(r.status.code == E.CODE_INVALID and "field 'limit'" in r.status.message,
          "optouts: limit 1001 is refused naming limit (%s)" % r.status.message)
    r = nc.call("notifier.optouts", N.OptOutListRequest(after_address="1:" + "a" * 258, limit=1))
    oo = body(r, N.OptOutListReply).optouts if r.status.code == OK else None
    check(oo is not None and [x.address for x in oo] == ["opt.out@example.fi"],
          "optouts: a 260-byte after_address is a page (%s)" % r.status.message)
    r = nc.call("notifier.optouts", N.OptOutListRequest(limit=1000))
    check(r.status.code == OK and len(body(r, N.OptOutListReply).optouts) == 2,
          "optouts: limit 1000 is a page (%s)" % r.status.message)
finally:
    s.close()
    smtp.stop()
    http.stop()
done()
