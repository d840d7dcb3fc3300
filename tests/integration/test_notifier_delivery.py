# timeout: 240
"""The notifier against a real SMTP server (aiosmtpd) and a real HTTP receiver on loopback.

- a confirmation per sign-up arrives once, in the sign-up's language, with a stable
  Message-ID and an iCalendar attachment without ORGANIZER;
- a name carrying "Bcc:" cannot add a header or a recipient; a title line starting with '.'
  arrives intact (dot-stuffing);
- SMS is held in quiet hours (21-08 Helsinki) and sent at 08 (controllable clock);
- the 7-day reminder goes when the clock reaches it, not before, and the 1-day one not yet;
- a webhook endpoint failing then recovering gets every event exactly once in the end, signed
  with HMAC-SHA256; the notification's history shows the failed attempts;
- bad requests get clear errors;
- a cancellation less than 24 h ahead goes by SMS at once, even at 22:00."""
import datetime
import time
import zoneinfo

from kp_harness import OK, V, Suite, body, check, done, signup_req
from kp_notifier import N, Http, Smtp, notifier, set_clock, signature_ok, wait_for

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")


def offset_to_helsinki(hour, minute=0):
    """ms to add to now so that the clock reads the next hour:minute in Helsinki."""
    now = datetime.datetime.now(HEL)
    t = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if t <= now:
        t += datetime.timedelta(days=1)
    return int((t - now).total_seconds() * 1000)


s = Suite()
smtp = Smtp()
http = Http()
try:
    s.events()
    off22 = offset_to_helsinki(22)
    notifier(s, smtp, http)
    nc = s.client(s.ntf_api, server="notifier")
    set_clock(s, off22)  # 22:00 in Helsinki: quiet hours for SMS
    c = s.client(s.ev_api)
    now = int(time.time())
    # At noon in Helsinki, 9.5 to 10.5 days ahead: its 7- and 1-day reminders fall in the day,
    # outside the SMS quiet hours, whatever the time this test runs.
    noon = datetime.datetime.now(HEL).replace(hour=12, minute=0, second=0, microsecond=0)
    start = int((noon + datetime.timedelta(days=10)).timestamp())
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title=".Kumppanuuspöytä: hyvinvointi",
        municipality_code="743", start_unix=start, end_unix=start + 7200,
        place="Seinäjoen kaupungintalo", language="fi"), key="ev-1")
    check(r.status.code == OK, "event created")
    eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK, "published")
    http.fail_first["/hook"] = 3
    subs = [
        signup_req(eid, 1, name="Matti Meikäläinen", email="matti.meikalainen@example.fi",
                   consent_reminders=True),
        signup_req(eid, 2, name="Liisa Bcc: evil@example.com", email="liisa.virtanen@example.fi",
                   consent_reminders=True, language="sv"),
        signup_req(eid, 3, name="Anna", email="anna@example.fi", consent_reminders=False,
                   language="en"),
    ]
    for q in subs:
        check(c.call("events.signup.submit", q).status.code == OK, "sign-up accepted")
    sms = V.SubmitSignupRequest(event_id=eid, source="county-portal", external_id="sms-1",
                                name="Puhelin", phone="+358401234567", consent_reminders=True,
                                role=V.ROLE_RESIDENT)
    r = c.call("events.signup.submit", sms)
    check(r.status.code == OK, "phone-only sign-up accepted %s" % r.status.message)

    check(wait_for(lambda: smtp.count() >= 3, 20), "3 confirmations arrived")
    time.sleep(1.0)
    msgs = smtp.parsed()
    check(len(msgs) == 3, "exactly 3 e-mails (no duplicates), got %d" % len(msgs))
    by_to = {str(m["To"].addresses[0].addr_spec): (rc, m, raw) for rc, m, raw in msgs}
    _, m1, raw1 = by_to["matti.meikalainen@example.fi"]
    check(m1["To"].addresses[0].display_name == "Matti Meikäläinen", "UTF-8 name decodes")
    check("vahvistettu" in str(m1["Subject"]), "Finnish subject")
    check(m1["Message-ID"].startswith("<") and "kumppani@example.org" in m1["Message-ID"],
          "Message-ID present")
    text = m1.get_body(("plain",)).get_content()
    check("\n.Kumppanuuspöytä: hyvinvointi\n" in text.replace("\r\n", "\n"),
          "a line starting with '.' arrives intact")
    ics = [p for p in m1.iter_attachments() if p.get_content_type() == "text/calendar"]
    check(len(ics) == 1, "iCalendar attached")
    ical = ics[0].get_content() if ics else ""
    check("BEGIN:VEVENT" in ical and "ORGANIZER" not in ical and "DTSTART:" in ical,
          "iCalendar has the event and no ORGANIZER")
    rc2, m2, raw2 = by_to["liisa.virtanen@example.fi"]
    check(rc2 == ["liisa.virtanen@example.fi"], "one recipient only")
    check(m2["Bcc"] is None and b"\nBcc:" not in raw2, "no Bcc header from a name")
    check("bekräftad" in str(m2["Subject"]), "Swedish for language sv")
    check("confirmed" in str(by_to["anna@example.fi"][1]["Subject"]), "English for en")

    # SMS in quiet hours: held until 08.
    time.sleep(0.5)
    check(not http.all("/sms"), "no SMS at 22:00 Helsinki")
    key = "events/s4/confirm/sms"
    st = body(nc.call("notifier.status", N.NotificationRef(key=key)), N.NotificationReply)
    due = datetime.datetime.fromtimestamp(st.notification.due_ms / 1000, HEL)
    check(due.hour == 8 and due.minute == 0, "SMS due at 08:00 Helsinki (got %s)" % due)
    set_clock(s, offset_to_helsinki(8, 1) if offset_to_helsinki(8, 1) > off22
              else offset_to_helsinki(8, 1) + 86400000)
    check(wait_for(lambda: len(http.ok("/sms")) == 1, 10), "SMS sent at 08")
    if http.ok("/sms"):
        check(b"+358401234567" in http.ok("/sms")[0][2], "SMS body names the number")

    # Webhooks: failing then recovering; every log event once, signed.
    head = 6  # created, published, 4 sign-ups
    check(wait_for(lambda: len(http.ok("/hook")) >= head, 20), "webhooks delivered after failures")
    oks = http.ok("/hook")
    keys = [g[1].get("X-Kumppani-Key") for g in oks]
    check(len(keys) == len(set(keys)) == head, "each event posted once (%d)" % len(keys))
    check(all(signature_ok("s3cret", g[2], g[1].get("X-Kumppani-Signature")) for g in oks),
          "every webhook signed with HMAC-SHA256")
    hist = []
    failed_key = None
    for k in keys:
        st = body(nc.call("notifier.status", N.NotificationRef(key=k)), N.NotificationReply)
        hist += [a.result for a in st.notification.attempts]
        if any(a.result == "http 503" for a in st.notification.attempts):
            failed_key = k
    check(sum(1 for h in hist if h == "http 503") == 3, "history shows the 3 failed attempts")

    # Reminders: the 7-day one when the clock reaches it, not the 1-day one.
    n0 = smtp.count()
    set_clock(s, (start - 7 * 86400 - now - 30) * 1000)
    time.sleep(1.0)
    check(smtp.count() == n0, "no reminder before its time")
    set_clock(s, (start - 7 * 86400 - now + 30) * 1000)
    check(wait_for(lambda: smtp.count() >= n0 + 2, 10), "7-day reminders arrived")
    time.sleep(1.0)
    rem = [m for _, m, _ in smtp.parsed()[n0:]]
    check(len(rem) == 2, "two reminders (consent only; Anna did not consent): %d" % len(rem))
    check(all("Muistutus" in str(m["Subject"]) or "Påminnelse" in str(m["Subject"]) for m in rem),
          "reminder subjects")

    # The schedule of the event and a preview.
    sch = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=eid)),
               N.ListNotificationsReply)
    pending = [x for x in sch.notifications if x.state == N.NOTIFICATION_STATE_SCHEDULED]
    check(len(pending) == 3, "1-day reminders still scheduled (2 e-mail + 1 SMS): %d" % len(pending))
    pv = body(nc.call("notifier.preview", N.NotificationRef(key=pending[0].key)), N.PreviewReply)
    check(pv.subject != "" and pv.body_text != "", "preview renders")

    # The CLI: schedule (table and JSON), status with history, preview.
    import json
    import os
    import subprocess
    from kp_harness import BIN

    def cli(*args):
        return subprocess.run([os.path.join(BIN, "kumppani"), "notifier"] + list(args)
                              + ["--endpoint", s.ntf_api], capture_output=True, text=True,
                              timeout=20)

    out = cli("schedule", str(eid), "--json")
    check(out.returncode == 0 and len(json.loads(out.stdout)) == len(sch.notifications),
          "kumppani notifier schedule --json lists the event's notifications")
    out = cli("schedule", str(eid))
    check(out.returncode == 0 and "REMINDER" in out.stdout and "DELIVERED" in out.stdout,
          "kumppani notifier schedule prints a table")
    out = cli("status", failed_key)
    check(out.returncode == 0 and "http 503" in out.stdout and "http 200" in out.stdout,
          "kumppani notifier status shows the history")
    out = cli("preview", pending[0].key, "--raw")
    check(out.returncode == 0 and "Message-ID:" in out.stdout, "kumppani notifier preview --raw")
    out = cli("status")
    check(out.returncode == 2, "status without a key is a usage error")
    out = cli("dead", "--json")
    check(out.returncode == 0 and json.loads(out.stdout) == [], "no dead letters here")

    # Bad input.
    r = nc.call("notifier.status", N.NotificationRef(key=""))
    check(r.status.code != OK and "key" in r.status.message, "empty key refused, named")
    r = nc.call("notifier.status", N.NotificationRef(key="nope"))
    check(r.status.code != OK, "unknown key: not found")
    r = nc.call("notifier.dead.retry", N.NotificationRef(key=pending[0].key))
    check(r.status.code != OK, "retry of a live notification refused")
    r = nc.call("notifier.optout", N.OptOutRequest(address="x", channel=N.CHANNEL_EMAIL))
    check(r.status.code != OK and "address" in r.status.message, "bad opt-out address refused")
    # Urgent: cancelling at 22:00 Helsinki, less than 24 h before the start, the SMS goes at once.
    st_local = datetime.datetime.fromtimestamp(start, HEL)
    t22 = st_local.replace(hour=22, minute=0, second=0, microsecond=0)
    if t22 >= st_local:
        t22 -= datetime.timedelta(days=1)
    set_clock(s, int(t22.timestamp() * 1000) - int(time.time() * 1000))
    n_sms = len(http.ok("/sms"))
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=eid, reason_text="sairaus"))
    check(r.status.code == OK, "event cancelled")
    check(wait_for(lambda: len(http.ok("/sms")) == n_sms + 1, 10),
          "urgent cancellation SMS sent at once in quiet hours")
    sch = body(nc.call("notifier.schedule", N.ListNotificationsRequest(event_id=eid)),
               N.ListNotificationsReply)
    check(not [x for x in sch.notifications if x.kind == N.MESSAGE_KIND_REMINDER
               and x.state == N.NOTIFICATION_STATE_SCHEDULED], "no reminders after cancellation")
finally:
    s.close()
    smtp.stop()
    http.stop()
done()
