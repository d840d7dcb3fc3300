# timeout: 90
"""The notifier keeps a long text whole (issue: a reason cut in the middle of a character), with
a real SMTP server (aiosmtpd):

- a reschedule and a cancellation whose reasons are as long as events allows (1000 characters),
  written with ä, ö and € (two and three bytes in UTF-8), reach the participant in full; the
  renderer once cut each piece of a message at 1023 bytes, which split a character and sent
  invalid UTF-8 (the reason of short lines), or made a line the SMTP server refused (the
  reason of one line);
- every byte of each delivered message is valid UTF-8, and no line of it is longer than
  RFC 5322 allows (998 bytes: SMTP servers refuse longer ones), so a text with such a line goes
  in base64."""
import time

from kp_events import create
from kp_harness import OK, PII, V, Suite, check, done, signup_req
from kp_notifier import Smtp, mails_to, notifier, text, wait_for

DAY = 86400
MAX_REASON = 1000  # events: reason_text, at most 1000 characters


def reason(words):
    """words repeated up to exactly MAX_REASON characters."""
    return (words * (MAX_REASON // len(words) + 1))[:MAX_REASON]


s = Suite()
smtp = Smtp()
try:
    s.events()
    notifier(s, smtp)
    c = s.client(s.ev_api)
    now = int(time.time())
    eid = create(c, key="ev-long", title="Pitkän syyn pöytä", start_unix=now + 10 * DAY,
                 end_unix=now + 10 * DAY + 7200, place="Seinäjoki").id
    r = c.call("events.signup.submit", signup_req(eid, 1, name=PII[0], email=PII[1]))
    check(r.status.code == OK, "Matti signs up")
    check(wait_for(lambda: mails_to(smtp, PII[1]), 15), "his confirmation arrived")

    # Short lines (sent 8bit as they are), and one line too long to send as it is (base64).
    moved = reason("Salin lattia on märkä, ja lämmitys maksaa 40 € päivässä.\nSiirrämme pöydän. ")
    gone = reason("Myrsky kaatoi sähkölinjat, ja äänentoisto on pöydällä märkänä. ")
    for t in (moved, gone):
        check(len(t) == MAX_REASON and len(t.encode()) > 1100,
              "the reason is %d characters, %d bytes" % (len(t), len(t.encode())))
    # The old cut kept 1017 bytes of a reason (1023 less "\nSyy: "): inside a character here.
    check(moved.encode()[1017] & 0xC0 == 0x80, "the old cut falls inside a character")
    check("\n" not in gone and max(len(x.encode()) for x in moved.split("\n")) < 100,
          "one reason is a single line, the other has short lines")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=eid, start_unix=now + 12 * DAY, end_unix=now + 12 * DAY + 7200,
        reason_text=moved))
    check(r.status.code == OK, "rescheduled with the longest reason (%s)" % r.status.message)
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=eid, reason_text=gone))
    check(r.status.code == OK, "cancelled with the longest reason (%s)" % r.status.message)

    def mail(word):
        return [(m, raw) for rc, m, raw in smtp.parsed()
                if PII[1] in rc and word in str(m["Subject"])]

    check(wait_for(lambda: mail("Uusi aika") and mail("Peruttu:"), 15), "both notices arrived")
    for word, t in (("Uusi aika", moved), ("Peruttu:", gone)):
        if not mail(word):
            continue  # reported above
        m, raw = mail(word)[0]
        part = m.get_body(preferencelist=("plain",))
        try:
            raw.decode("utf-8")
            part.get_payload(decode=True).decode("utf-8")
            valid = True
        except UnicodeDecodeError as e:
            valid = "no: %s" % e
        check(valid is True, "%s: the delivered message and its text are valid UTF-8 (%s)"
              % (word, valid))
        check(max(len(x) for x in raw.split(b"\r\n")) <= 998,
              "%s: no line of the message is longer than 998 bytes (RFC 5322)" % word)
        body = text(m).replace("\r\n", "\n")
        check("\nSyy: %s\n" % t in body,
              "%s: the whole reason, all %d characters, is in the message (the body has %d)"
              % (word, len(t), len(body)))
finally:
    s.close()
    smtp.stop()
done()
