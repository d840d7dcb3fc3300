# timeout: 120
"""The notifier with an SMTP relay that cannot be reached (not configured, down, a firewall):
the operator sees it in the notifier's log, and the notification's history says why.

- every failed attempt is logged at warning level as deliver.failed, with the notification's
  key (ids only), the channel, the attempt count, the outcome in words and what comes next;
- the history's result names curl's reason ("curl 7: Couldn't connect to server"), not only
  its number;
- the log carries no personal data of the person written to."""
import re

from kp_harness import OK, V, Suite, check, done, logs_leak, make_event, signup_req, wait_for
from kp_notifier import N, Smtp, notifier, status

s = Suite()
relay = Smtp()
relay.stop()  # its port is closed: nothing answers there
try:
    s.events()
    p = notifier(s, relay)
    nc = s.client(s.ntf_api, server="notifier")
    c = s.client(s.ev_api)
    eid = make_event(c)
    r = c.call("events.signup.submit", signup_req(eid, 1, email="relay.down@example.fi"))
    check(r.status.code == OK, "sign-up accepted")
    key = "events/s1/confirm/email"

    def tried():
        n = status(nc, key)
        return n is not None and len(n.attempts) >= 2

    check(wait_for(tried, 20), "the confirmation was tried at least twice")
    n = status(nc, key)
    res = [a.result for a in n.attempts] if n else []
    check(res and all(re.match(r"^curl 7: \S", x) for x in res),
          "each attempt's result names curl's reason, not only its number (%s)" % res)
    check(n is not None and n.state in (N.NOTIFICATION_STATE_SCHEDULED,
                                         N.NOTIFICATION_STATE_SENDING), "still to be retried")
    log = p.logtext()
    lines = [x for x in log.splitlines() if "event=deliver.failed" in x]
    check(len(lines) >= 2, "each failed attempt is in the log (%d lines)" % len(lines))
    check(lines and all("level=warn" in x and "key=%s" % key in x and "channel=email" in x
                        and 'result="curl 7: ' in x and "next=retry" in x for x in lines),
          "a failed attempt's line names the key, channel, outcome and next step (%s)"
          % (lines[:1],))
    check(not logs_leak([log]) and "relay.down@example.fi" not in log,
          "no personal data in the notifier's log")
    check(c.call("events.event.get", V.EventRef(event_id=eid)).status.code == OK,
          "events still answers")
finally:
    s.close()
done()
