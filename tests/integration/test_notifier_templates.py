# timeout: 90
"""Message texts from template files (issue 16, Notifier), with a real SMTP server:

- with --templates the notifier sends the texts of <kind>.<lang>.txt (here an operator's edit
  of the shipped services/notifier/templates);
- an unknown placeholder refuses to start (exit code 2, the file and the placeholder named);
- SIGHUP reads the files again: an edit takes effect for the next message; a faulty edit is
  refused and the texts in use stay."""
import os
import signal
import subprocess
import time

import kp_notifier as kn
from kp_harness import BIN, OK, PII, V, Suite, body, check, done, signup_req
from kp_notifier import Smtp, notifier, text, wait_for


s = Suite()
smtp = Smtp()
try:
    s.events()
    tdir = kn.templates_copy(s)
    conf_fi = os.path.join(tdir, "signup-confirmed.fi.txt")

    def write(content):
        with open(conf_fi, "w") as f:
            f.write(content)

    # ---- an unknown placeholder refuses to start ---------------------------------------------
    write("Subject: Tervetuloa {title}\n\nHei {nimi},\ntervetuloa.\n")
    q = subprocess.run([os.path.join(BIN, "kumppani-notifier"), "--templates", tdir,
                        "--data-dir", os.path.join(s.dir, "bad"), "--api", "tcp://127.0.0.1:1",
                        "--pub", "tcp://127.0.0.1:2"], capture_output=True, text=True, timeout=30)
    check(q.returncode == 2 and "signup-confirmed.fi.txt: unknown placeholder {nimi}" in q.stderr,
          "an unknown placeholder refuses to start, named (%d: %s)" % (q.returncode,
                                                                       q.stderr.strip()[-200:]))

    # ---- the operator's text is sent ------------------------------------------------------------
    write("Subject: Tervetuloa: {title}\n\nHei {name},\nolet mukana: {title}, {when}.\n"
          "{place_line}{link_line}")
    p = notifier(s, smtp, extra=["--templates", tdir])
    c = s.client(s.ev_api)
    now = int(time.time())
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="Pöytä", municipality_code="743",
        start_unix=now + 9 * 86400, end_unix=now + 9 * 86400 + 3600, place="Seinäjoki",
        language="fi"), key="ev-t")
    eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK, "published")

    def signup_and_mail(i, addr):
        r = c.call("events.signup.submit", signup_req(eid, i, name=PII[0], email=addr))
        check(r.status.code == OK, "sign-up %d" % i)
        check(wait_for(lambda: kn.mails_to(smtp, addr), 15), "confirmation %d arrived" % i)
        m = kn.mails_to(smtp, addr)[0]
        return str(m["Subject"]), text(m).replace("\r\n", "\n")

    sub, t = signup_and_mail(1, "eka@example.fi")
    check(sub == "Tervetuloa: Pöytä" and t.startswith("Hei %s,\nolet mukana: Pöytä" % PII[0])
          and "Paikka: Seinäjoki" in t and len(kn.links(t)) == 1,
          "the template file's text was sent:\n" + sub + "\n" + t)

    # ---- SIGHUP: an edit takes effect -----------------------------------------------------------
    write("Subject: Vahvistus: {title}\n\nHei {name}!\n{link_line}")
    p.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "templates.reloaded" in p.logtext(), 10), "SIGHUP reloaded the files")
    sub, t = signup_and_mail(2, "toka@example.fi")
    check(sub == "Vahvistus: Pöytä" and t.startswith("Hei %s!" % PII[0]),
          "after SIGHUP the new text is sent: " + sub)

    # ---- SIGHUP with a faulty edit: refused, the texts in use stay ---------------------------
    write("Subject: Rikki {otsikko}\n\nHei\n")
    p.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "unknown placeholder {otsikko}" in p.logtext(), 10),
          "a faulty reload is refused and logged with the file and the placeholder")
    sub, t = signup_and_mail(3, "kolmas@example.fi")
    check(sub == "Vahvistus: Pöytä", "the texts in use stay: " + sub)
    check(p.p.poll() is None, "the notifier keeps running")
finally:
    s.close()
    smtp.stop()
done()
