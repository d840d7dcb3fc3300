# timeout: 120
"""Personal links in the notifier's messages (issue 13, item 4), with a real SMTP server.

- a confirmation, a waitlist notice, a waitlist offer and a reminder each carry the person's
  own link <web-url>/s/<token>; the token checks under the secret shared with the web
  (<keys>/web-link.secret, made by whichever starts first), names the sign-up (id) and the
  event (ref), and lasts link-days (30) after the event's end;
- the waitlist offer says how to accept or decline on that page and gives the deadline in
  Helsinki time;
- no token or link is on any log; the record keeps no link either;
- without a web-url the messages carry no link, and the notifier says so once at start."""
import datetime
import os
import time
import zoneinfo

import kp_notifier as kn
from kp_harness import OK, PII, V, Suite, body, check, done, signup_req
from kp_notifier import N, Smtp, notifier, set_clock, text, wait_for

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")
DAY = 86400

s = Suite()
smtp = Smtp()
try:
    s.events()
    p = notifier(s, smtp)
    check(os.path.exists(kn.link_secret(s)), "the link secret was made at the first start")
    check(oct(os.stat(kn.link_secret(s)).st_mode & 0o777) == "0o600", "the secret is 0600")
    nc = s.client(s.ntf_api, server="notifier")
    c = s.client(s.ev_api)
    now = int(time.time())
    start = now + 10 * DAY

    def event(title, capacity=0, window=0):
        r = c.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_PARTNERSHIP_TABLE, title=title, municipality_code="743",
            start_unix=start, end_unix=start + 7200, capacity=capacity, place="Seinäjoki",
            language="fi", offer_window_minutes=window), key="ev-" + title)
        check(r.status.code == OK, "event created: %s" % r.status.message)
        eid = body(r, V.EventReply).event.id
        check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK,
              "published")
        return eid

    def submit(eid, i, **kw):
        r = c.call("events.signup.submit", signup_req(eid, i, **kw))
        check(r.status.code == OK, "sign-up %d accepted" % i)
        return body(r, V.SignupReply).signup

    def mails(addr, subject_word):
        return [m for m in kn.mails_to(smtp, addr) if subject_word in str(m["Subject"])]

    def one_link(m, what):
        t = text(m)
        lk = kn.links(t)
        check(len(lk) == 1 and lk[0][0] == "s" and t.count(kn.web_url(s) + "/s/") == 1,
              what + ": one personal link /s/ under the web's address")
        return t, (lk[0] if lk else ("s", ""))

    # ---- a confirmation and a reminder: Matti in an event without a limit ----------------------
    e1 = event("Avoin pöytä")
    matti = submit(e1, 1, name=PII[0], email=PII[1], consent_reminders=True)
    check(wait_for(lambda: mails(PII[1], "vahvistettu"), 15), "Matti's confirmation arrived")
    t, lk = one_link(mails(PII[1], "vahvistettu")[0], "the confirmation")
    got = kn.link_check(s, *lk)
    check(got == (matti.id, e1, start + 7200 + 30 * DAY),
          "the link names the sign-up and the event and lasts 30 days after the end: %s"
          % (got,))
    check("perua" in t, "the confirmation says what the page is for")
    tokens = [lk[1]]

    # ---- a waitlist and an offer: a full event with an offer window ----------------------------
    e2 = event("Täysi pöytä", capacity=1, window=120)
    anna = submit(e2, 2, name="Anna", email="anna@example.fi")
    liisa = submit(e2, 3, name=PII[3], email=PII[4])
    check(liisa.state == V.SIGNUP_STATE_WAITLISTED, "Liisa is on the waiting list")
    check(wait_for(lambda: mails(PII[4], "Jonotuslistalla"), 15), "Liisa's waitlist notice")
    t, lk = one_link(mails(PII[4], "Jonotuslistalla")[0], "the waitlist notice")
    check(kn.link_check(s, *lk)[:2] == (liisa.id, e2), "the waitlist link is Liisa's")
    check("jonosta" in t, "the waitlist notice says the page lets her leave the list")
    tokens.append(lk[1])
    r = c.call("events.signup.cancel", V.CancelSignupRequest(signup_id=anna.id))
    check(r.status.code == OK, "Anna cancels: the place is offered to Liisa")
    check(wait_for(lambda: mails(PII[4], "Paikka tarjolla"), 15), "Liisa's offer arrived")
    t, lk = one_link(mails(PII[4], "Paikka tarjolla")[0], "the offer")
    check(kn.link_check(s, *lk)[:2] == (liisa.id, e2), "the offer's link is Liisa's sign-up page")
    tokens.append(lk[1])
    sl = [x for x in body(c.call("events.signup.list", V.ListSignupsRequest(event_id=e2)),
                          V.ListSignupsReply).signups if x.id == liisa.id][0]
    check(sl.state == V.SIGNUP_STATE_OFFERED and sl.offer_deadline_ms > 0, "events: offered")
    dl = datetime.datetime.fromtimestamp(sl.offer_deadline_ms / 1000, HEL)
    hel = "%d.%d.%d klo %02d.%02d" % (dl.day, dl.month, dl.year, dl.hour, dl.minute)
    check(("viimeistään " + hel + " (Suomen aikaa)") in t,
          "the offer gives the deadline in Helsinki time (%s):\n%s" % (hel, t))
    check("Ota paikka vastaan tai kieltäydy" in t and "ilmoittautumisjärjestelmässä" not in t,
          "the offer says to accept or decline on the page")

    # ---- the 7-day reminder --------------------------------------------------------------------
    set_clock(s, (start - 7 * DAY - now + 30) * 1000)
    check(wait_for(lambda: mails(PII[1], "Muistutus"), 15), "Matti's reminder arrived")
    rm = mails(PII[1], "Muistutus")[0]
    t, lk = one_link(rm, "the reminder")
    check(kn.link_check(s, *lk)[:2] == (matti.id, e1), "the reminder's link is Matti's")
    check("mailto:" in str(rm["List-Unsubscribe"]), "the reminder has List-Unsubscribe")
    tokens.append(lk[1])
    st = kn.status(nc, "events/s%d/confirm/email" % matti.id)
    check(st is not None and "/s/" not in str(st), "the record keeps no link")
    pv = body(nc.call("notifier.preview", N.NotificationRef(key="events/s%d/confirm/email"
                                                             % matti.id)), N.PreviewReply)
    check(len(kn.links(pv.body_text)) == 1, "a preview shows the link as the message would")

    # ---- without a web-url: no link, said once at start ----------------------------------------
    p.stop()
    p = notifier(s, smtp, link=False)
    nc = s.client(s.ntf_api, server="notifier")
    pv = body(nc.call("notifier.preview", N.NotificationRef(key="events/s%d/confirm/email"
                                                             % matti.id)), N.PreviewReply)
    check(pv.body_text and not kn.links(pv.body_text) and "/s/" not in pv.body_text,
          "without a web-url the text has no link")
    check(p.logtext().count("no web-url") == 1, "the notifier says once that links are off")
    set_clock(s, 0)
    submit(e1, 4, name="Pekka", email="pekka@example.fi")
    check(wait_for(lambda: mails("pekka@example.fi", "vahvistettu"), 15),
          "a confirmation without web-url arrived")
    t = text(mails("pekka@example.fi", "vahvistettu")[0])
    check(not kn.links(t) and "Omalla sivullasi" not in t, "and it carries no link")

    # ---- no token on any log -------------------------------------------------------------------
    logs = "".join(x.logtext() for x in s.procs)
    check(tokens and not [x for x in tokens if x in logs] and "/s/" not in logs,
          "no token or link on any log (%d tokens)" % len(tokens))
finally:
    s.close()
    smtp.stop()
done()
