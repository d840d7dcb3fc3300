# timeout: 180
"""The back office's "What was sent" (issue 14, part 5): the events service, the notifier (with
a real SMTP server and a webhook receiver that answers 410, so webhooks become dead letters)
and kumppani-web with its office key (role admin on the notifier's allow-list) pointed at the
notifier. Checked: what went to an address (a POST field: in no URL or log; the page shows
neither the address nor the name; an address refused, none or one that is neither an e-mail
address nor a phone number, shows the page again, 400, the text typed kept and the error beside
the field in the person's language), what went out about an event, by channel and result and in
Finnish time; the dead letters with a Retry button (CSRF, audited, the letter scheduled again);
the opt-outs for the regional coordinator; the expert coordinator sees broker messages only and
no opt-outs; a municipal contact person is refused (403) and the refusal audited."""
import os
import re
import shutil
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from kp_broker import add_keys
from kp_harness import OK, PII, V, body, check, done, free_port, signup_req
from kp_notifier import N, Http, Smtp, keyed_args, mails_to, start_keyed, status, wait_for
from kp_web import (BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, browser_checked, csrf_of,
                    office_accounts, office_sign_in)

PW = OFFICE_PW
DAY = 86400
OUT = BROWSER_OUT

s = WebSuite()
smtp = Smtp()
http = Http()
try:
    add_keys(s, [("notifier", "service")])
    s.events()
    http.status_for["/hook"] = 410  # the endpoint is off: webhooks become dead letters
    ntf_api = "tcp://127.0.0.1:%d" % free_port()
    _, nc = start_keyed(s, ntf_api, keyed_args(s, smtp, ntf_api) + [
        "--quiet-from-h", "0", "--quiet-to-h", "0", "--webhook-url", http.url("/hook"),
        "--webhook-secret", "s3cret"])
    wp = s.web(["--rate-per-s", "2000", "--rate-burst", "5000", "--notifier-api", ntf_api,
                "--notifier-key", os.path.join(s.keys_dir, "notifier.pub")])
    office_accounts(s, "alue", "seinajoki", "asiantuntija")

    c = s.client(s.ev_api)
    now = int(time.time())
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="Kumppanuuspöytä", municipality_code="743",
        start_unix=now + 10 * DAY, end_unix=now + 10 * DAY + 7200, place="Seinäjoki",
        language="fi"), key="ev-1")
    eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK, "published")
    r = c.call("events.signup.submit", signup_req(eid, 1, name=PII[0], email=PII[1],
                                                  consent_reminders=True))
    check(r.status.code == OK, "a sign-up with an e-mail address")
    check(wait_for(lambda: mails_to(smtp, PII[1]), 15), "its confirmation went out")

    # ---- what went to an address (POST), about an event (GET) ----
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    tok = csrf_of(al, "/office/sent")
    check(al.post("/office/sent", {"address": PII[1]}).status == 403,
          "the address search without the CSRF token is refused")
    r = al.post("/office/sent", {"csrf": tok, "address": PII[1].upper()})
    found = re.search(r'aria-labelledby="found">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and found and "sign-up confirmed" in found.group(1) and
          "e-mail" in found.group(1) and "delivered" in found.group(1) and
          "smtp 250" in found.group(1) and "event %d" % eid in found.group(1),
          "what went to the address: the confirmation, by e-mail, delivered (smtp 250)")
    check(PII[1] not in r.text and PII[1].upper() not in r.text and PII[0] not in r.text,
          "the page shows neither the address nor the name")
    when = re.search(r"<td>\w+ (\d+/\d+/\d{4}) at (\d\d:\d\d)</td>",
                     found.group(1) if found else "")
    hel = [datetime.fromtimestamp(now + d, ZoneInfo("Europe/Helsinki")) for d in (0, 60, 120)]
    hel = ["%d/%d/%d %s" % (t.day, t.month, t.year, t.strftime("%H:%M")) for t in hel]
    check(when is not None and "%s %s" % when.groups() in hel,
          "at the time it went, in Helsinki time (%s, now %s)" % (when and when.groups(), hel))
    # No address, or one too long to be one: the page again (400), what was typed kept, the
    # error beside the field and in the summary.
    for typed in ("", "a" * 255):
        r = al.post("/office/sent", {"csrf": tok, "address": typed})
        field = re.search(r'<input[^>]*id="f-address"[^>]*>', r.text)
        check(r.status == 400 and "<h1>What was sent" in r.text and field is not None and
              'aria-invalid="true"' in field.group(0) and "e-address" in field.group(0) and
              'value="%s"' % typed in field.group(0) and
              re.search(r'<p class="error" id="e-address">[^<]*Give an e-mail address',
                        r.text) is not None and
              'class="error-summary"' in r.text and 'href="#f-address"' in r.text,
              "an address of %d characters: the page again (400), the error beside the field, "
              "the value kept (%d)" % (len(typed), r.status))
    # Neither an e-mail address nor a phone number (the notifier's rule, checked by the web
    # before asking): the same, in the person's language, the text typed kept and escaped.
    searches = al.get("/office/audit").text.count("<code>notifier.sent</code>")
    for typed, lang, says in (
            ("not an address", "en", "This is neither an e-mail address nor a phone number."),
            ('"><b>x</b>@example', "en", "This is neither an e-mail address nor a phone number."),
            ("matti@", "fi", "Tämä ei ole sähköpostiosoite eikä puhelinnumero."),
            ("040-12", "sv", "Det här är varken en e-postadress eller ett telefonnummer.")):
        al.lang = lang
        r = al.post("/office/sent", {"csrf": tok, "address": typed})
        al.lang = "en"
        field = re.search(r'<input[^>]*id="f-address"[^>]*>', r.text)
        field = field.group(0) if field else ""
        kept = typed.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;") \
            .replace(">", "&gt;")
        beside = re.search(r'<p class="error" id="e-address">([^<]*)</p>', r.text)
        summary = re.search(r'<a href="#f-address">([^<]*)</a>', r.text)
        check(r.status == 400 and 'id="found"' not in r.text and
              'aria-invalid="true"' in field and 'aria-describedby="' in field and
              "e-address" in field and 'value="%s"' % kept in field and
              "<b>x</b>" not in r.text and beside is not None and says in beside.group(1) and
              summary is not None and says in summary.group(1) and
              'class="error-summary"' in r.text,
              "no address (%r, %s): the page again (400), the text typed kept and escaped, the "
              "error beside the field and in the summary (%d)" % (typed, lang, r.status))
    check(al.get("/office/audit").text.count("<code>notifier.sent</code>") == searches,
          "the web refused them itself: no search was made (none in the audit)")
    r = al.post("/office/sent", {"csrf": tok, "address": "+358 40 123 4567"})
    check(r.status == 200 and "No messages." in r.text and 'aria-invalid' not in r.text,
          "a phone number is an address to search by")
    r = al.post("/office/sent", {"csrf": tok, "address": "nobody@example.fi"})
    check(r.status == 200 and "No messages." in r.text, "nothing went to a stranger")
    r = al.get("/office/sent?event=%d" % eid)
    found = re.search(r'aria-labelledby="found">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and found and "sign-up confirmed" in found.group(1) and
          "reminder" in found.group(1) and "scheduled" in found.group(1),
          "the event's messages: the confirmation and the scheduled reminders")
    check(PII[0] not in r.text and PII[1] not in r.text, "without the name or the address")
    check(al.get("/office/sent?event=x").status == 400, "a bad event number is 400")

    # ---- dead letters and their retry ----
    def dead_keys():
        page = al.get("/office/sent").text
        return re.findall(r'name="key" value="([^"]+)"', page)
    check(wait_for(lambda: dead_keys() or None, 20), "the webhooks became dead letters")
    keys = dead_keys()
    r = al.get("/office/sent")
    dead = re.search(r'aria-labelledby="dead">(.*?)</table>', r.text, re.S)
    check(dead and "webhook" in dead.group(1) and ">Retry" in dead.group(1),
          "the dead letters with a Retry button")
    r = al.post("/office/sent/retry", {"key": keys[0]})
    check(r.status == 403 and status(nc, keys[0]).state == N.NOTIFICATION_STATE_DEAD,
          "a retry without the CSRF token is refused and changes nothing")
    http.status_for["/hook"] = 200
    r = al.post("/office/sent/retry", {"csrf": tok, "key": keys[0]})
    check(r.status == 303 and r.header("location") == "/office/sent?retried=1",
          "the retry answers 303 back to the page (%d)" % r.status)
    st = status(nc, keys[0])
    check(st.state != N.NOTIFICATION_STATE_DEAD and st.attempts[-1].result in
          ("retry-requested", "http 200"), "the letter is no longer dead (%s)" % st.state)
    check(wait_for(lambda: http.ok("/hook"), 15), "and the webhook went out")
    r = al.post("/office/sent/retry", {"csrf": tok, "key": keys[0]})
    check(r.status == 409, "a second retry of the same letter is 409 (%d)" % r.status)

    # ---- opt-outs ----
    r = nc.call("notifier.optout", N.OptOutRequest(address="opt.out@example.fi",
                                                  channel=N.CHANNEL_EMAIL))
    check(r.status.code == OK, "an opt-out")
    r = al.get("/office/sent")
    oo = re.search(r'aria-labelledby="optouts">(.*?)</table>', r.text, re.S)
    check(oo and "opt.out@example.fi" in oo.group(1) and "e-mail" in oo.group(1),
          "the regional coordinator sees the opt-outs")

    # ---- roles ----
    ex, _ = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    r = ex.get("/office/sent")
    check(r.status == 200 and "opt.out@example.fi" not in r.text and
          'name="key" value="events/' not in r.text,
          "the expert coordinator: no opt-outs, no dead letters of events")
    r = ex.post("/office/sent", {"csrf": csrf_of(ex, "/office/sent"), "address": PII[1]})
    check(r.status == 200 and "sign-up confirmed" not in r.text,
          "the expert coordinator sees broker messages only")
    r = ex.post("/office/sent/retry", {"csrf": csrf_of(ex, "/office/sent"), "key": keys[-1]})
    check(r.status == 403, "nor retries an event's letter (403)")
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(sj.get("/office/sent").status == 403, "the contact person has no such page (403)")
    r = sj.post("/office/sent", {"csrf": csrf_of(sj, "/office"), "address": PII[1]})
    check(r.status == 403, "nor can search an address (403)")

    # ---- the browser: axe and screenshots (office-4N-*.png, the refused address office-131) ----
    if shutil.which("node") and os.path.exists("/usr/bin/chromium"):
        cfg = {"regional": ["alue", PW["alue"]], "expert": ["asiantuntija", PW["asiantuntija"]],
               "municipal": ["seinajoki", PW["seinajoki"]], "address": PII[1], "event": eid}
        browser_checked("node", WEBDIR, "office_sent.mjs", s.base, OUT, cfg, 7, timeout=120)

    # ---- the audit; the web's log ----
    r = al.get("/office/audit")
    check("notifier.dead.retry" in r.text and keys[0] in r.text,
          "the retry is in the audit, by the letter's key")
    check(r.text.count("denied") >= 3 and "notifier.sent" in r.text,
          "and the refusals and address searches")
    log = wp.logtext()
    check(PII[1] not in log and PII[1].upper() not in log and "opt.out@example.fi" not in log,
          "the web's log carries no address")
finally:
    s.close()
    smtp.stop()
    http.stop()
done()
