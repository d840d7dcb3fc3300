# timeout: 300
"""Notifier: the hourly history retention over a store of many finished notifications.

A region's notifier holds every message and webhook of the last 90 days; a registry import of
a few thousand organisations alone adds one webhook each. The retention pass reads every
record to find the old ones; it must do so in bounded memory, or it runs out, is taken for a
corrupt store, aborts every turn and nothing is delivered any more. Real events, registry and
notifier, a real SMTP server and webhook receiver:

- 12,000 organisations imported by CSV: 12,000 webhooks, dead letters once the receiver
  answered 410 (the endpoint is off);
- the notifier's clock moved past the retention period: the pass deletes them all (in parts)
  and logs no corrupt store;
- a sign-up made afterwards is still confirmed by e-mail."""
import time

import kp_notifier as kn
from kp_events import V, create
from kp_harness import OK, Suite, body, check, done, signup_req
from kp_notifier import Http, N, Smtp, wait_for
from kp_registry import R, start_registry
from kumppani.v1 import log_pb2 as L

ORGS = 12000
MUNIS = ["005", "010", "052", "145", "233", "743", "989"]

s = Suite()
smtp, http = Smtp(), Http()
try:
    s.events()
    start_registry(s)
    http.status_for["/hook"] = 410
    p = kn.notifier(s, smtp, http, extra=["--registry-api", s.reg_api,
                                          "--registry-pub", s.reg_pub])
    nc = s.client(s.ntf_api, "admin", server="notifier")
    rc = s.client(s.reg_api, "admin", server="registry")
    ec = s.client(s.ev_api, "admin", server="events")

    head = "name_fi;home_municipality;fields"
    for start in range(0, ORGS, 2000):
        rows = ["Yhdistys %d ry;%s;youth" % (i, MUNIS[i % len(MUNIS)])
                for i in range(start, start + 2000)]
        r = rc.call("registry.csv.import", R.ImportRequest(
            kind=R.CSV_KIND_ORGANISATIONS, csv=("\n".join(rows) + "\n").encode(), header=head,
            first_line=start + 2), timeout_ms=30000)
        check(r is not None and r.status.code == OK and body(r, R.ImportReply).created == 2000,
              "organisations %d.. imported" % start)

    def applied():
        r = nc.call("sys.health", L.HealthRequest())
        h = body(r, L.HealthReply)
        reg = [c for c in h.consumers if c.source == "registry"]
        ok = reg and reg[0].applied_seq >= reg[0].source_head_seq >= ORGS
        return reg[0].applied_seq if ok else 0

    head_seq = wait_for(applied, 60)
    check(head_seq, "the notifier applied the registry's log")
    last = "registry/%d/webhook" % head_seq

    def last_dead():
        n = kn.status(nc, last)
        return n is not None and n.state == N.NOTIFICATION_STATE_DEAD

    check(wait_for(last_dead, 120), "every webhook is a dead letter (the endpoint is off)")

    # 100 days on: the history retention (90 days) finds them all old
    kn.set_clock(s, 100 * 86400 * 1000)
    check(wait_for(lambda: kn.status(nc, last) is None, 120),
          "the retention pass deleted the old dead letters")
    log = p.logtext()
    check("store.corrupt" not in log and "deliver.pump" not in log,
          "no corrupt store and no failed delivery pass in the log:\n" +
          "\n".join(x for x in log.splitlines() if "store.corrupt" in x or "pump" in x)[:600])

    # the notifier still delivers: a sign-up made now is confirmed
    ev = create(ec, key="e1", start_in_s=120 * 86400, title="Kumppanuuspöytä")
    r = ec.call("events.signup.submit", signup_req(ev.id, 1, email="ex.many@example.fi"))
    check(r.status.code == OK, "a sign-up after the retention pass")
    check(wait_for(lambda: len(kn.mails_to(smtp, "ex.many@example.fi")) == 1, 30),
          "its confirmation arrives")
finally:
    s.close()
    smtp.stop()
    http.stop()
done()
