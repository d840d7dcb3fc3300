# timeout: 120
"""Notifier: a template file emptied or saved without its "Subject:" line, then SIGHUP.

The reload is refused and the texts in use stay; the log line says why in one logfmt value
(what="..."), so that a log reader (Loki, journald's logfmt view, kp_harness's own parser)
shows the whole reason rather than a value cut at an inner quote. Real events and notifier, a
real SMTP server."""
import os
import re
import signal

import kp_notifier as kn
from kp_harness import OK, PII, Suite, check, done, signup_req
from kp_events import create
from kp_notifier import Smtp, wait_for

LOGFMT = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')

s = Suite()
smtp = Smtp()
try:
    s.events()
    tdir = kn.templates_copy(s)
    p = kn.notifier(s, smtp, extra=["--templates", tdir])
    c = s.client(s.ev_api)
    ev = create(c, key="e1", title="Pöytä")

    for i, content in enumerate(["", "Hei {name},\ntervetuloa.\n"]):
        with open(os.path.join(tdir, "signup-confirmed.fi.txt"), "w") as f:
            f.write(content)
        before = p.logtext().count("event=templates.reload ")
        p.p.send_signal(signal.SIGHUP)
        check(wait_for(lambda: p.logtext().count("event=templates.reload ") > before, 10),
              "reload %d refused and logged" % i)
        line = [x for x in p.logtext().splitlines() if "event=templates.reload " in x][-1]
        kv = dict(LOGFMT.findall(line))
        what = kv.get("what", "")
        check(what.startswith('"') and what.endswith('"') and "then the body" in what
              and "signup-confirmed.fi.txt" in what,
              "the reason is one logfmt value: %s" % line)
        addr = "ex.tmpl%d@example.fi" % i
        r = c.call("events.signup.submit", signup_req(ev.id, i + 1, name=PII[0], email=addr))
        check(r.status.code == OK, "sign-up %d" % i)
        check(wait_for(lambda: kn.mails_to(smtp, addr), 15), "confirmation %d arrived" % i)
        m = kn.mails_to(smtp, addr)
        check(m and "vahvistettu" in str(m[0]["Subject"]), "the texts in use stay")
finally:
    s.close()
    smtp.stop()
done()
