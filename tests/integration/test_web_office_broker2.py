# timeout: 240
"""The back office's broker, part 2 (issue 14, parts 4 and 5), with the real suite: the events
service, the expert broker and the notifier (following the broker's log, mailing through a real
SMTP server) over CURVE, and kumppani-web with its office key. Checked:

- what was sent for a request: the request's page links to it; /office/sent?request=N lists
  exactly the messages the notifier has for that request (its expert's offer and confirmation,
  its requester's notices), delivered, with no name or address; a bad number is 400; audited;
- the payment export and the broker's statistics for a period of Helsinki dates (both days
  included): only the assignments completed in it, only the requests filed in it; a malformed
  date or an end before the start is 400; the export's period is in the audit;
- marking paid: CSRF, no choice, a malformed id, no reference (400), an unknown assignment
  (404), one not completed (409) change nothing; ticked boxes and pasted ids together mark
  both (303, the page says how many), a repeat marks none; the unpaid export shrinks by them;
  the audit has the ids, not the reference;
- a municipal contact person is refused (403, audited) on each;
- in Chromium (tests/web/office_broker2.mjs): the same with the keyboard, axe 0 violations,
  screenshots office-90..96."""
import os
import re
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import kp_notifier as kn
from kp_broker import B, file_request, open_offers, register
from kp_harness import OK, PII, check, done, free_port
from kp_web import (BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, browser_checked, csrf_of,
                    office_accounts, office_sign_in)

PW = OFFICE_PW
DAY_MS = 86400 * 1000
REQ = "tilaaja@example.fi"  # kp_broker.request_input's contact person
OUT = BROWSER_OUT
HEL = ZoneInfo("Europe/Helsinki")


def day(ms):
    return datetime.fromtimestamp(ms / 1000, HEL).strftime("%Y-%m-%d")


s = WebSuite()
smtp = kn.Smtp()
try:
    brk = kn.with_broker(s)
    ntf_api = "tcp://127.0.0.1:%d" % free_port()
    _, nc = kn.start_keyed(s, ntf_api, kn.keyed_args(s, smtp, ntf_api) + [
        "--broker-api", brk.api, "--broker-pub", brk.pub,
        "--broker-key", os.path.join(s.keys_dir, "expert-broker.pub"),
        "--quiet-from-h", "0", "--quiet-to-h", "0"])
    wp = s.web(["--rate-per-s", "2000", "--rate-burst", "5000", "--broker-api", brk.api,
                "--notifier-api", ntf_api,
                "--notifier-key", os.path.join(s.keys_dir, "notifier.pub")])
    office_accounts(s, "alue", "seinajoki", "asiantuntija")

    e1 = register(brk, PII[7], PII[8])
    e2 = register(brk, "Outi Asiantuntija", "outi.a@example.fi")
    e3 = register(brk, "Kaisa Kolmas", "kaisa.k@example.fi")
    reqs, asg = [], []
    for n in range(4):
        r = file_request(brk, "rq-%d" % n, title="Paneeli %d" % n, requester_org_id=40 + n)
        reqs.append(r.request.id)
        asg.append(brk.accept(open_offers(brk, r.request.id)[0].id).assignment.id)
    rid = reqs[0]

    def by_request(x):
        r = nc.call("notifier.sent", kn.N.SentRequest(request_id=x))
        return kn.body(r, kn.N.ListNotificationsReply).notifications if r.status.code == OK else []

    def all_delivered():
        return all(len(by_request(x)) == 4 and all(
            n.state == kn.N.NOTIFICATION_STATE_DELIVERED for n in by_request(x))
            for x in reqs) or None
    check(kn.wait_for(all_delivered, 40), "each request's four messages were delivered")

    # ---- what was sent for a request -------------------------------------------------------
    ex, _ = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    r = ex.get("/office/broker/requests/%d" % rid)
    check(r.status == 200 and 'href="/office/sent?request=%d#found"' % rid in r.text,
          "the request's page links to the messages sent for it")
    r = ex.get("/office/sent?request=%d" % rid)
    found = re.search(r'aria-labelledby="found">(.*?)</table>', r.text, re.S)
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", found.group(1) if found else "", re.S)
    check(r.status == 200 and len(rows) == 4 and
          all("request %d" % rid in x and "delivered" in x and "smtp 250" in x for x in rows),
          "exactly the request's four messages, delivered (smtp 250): %d rows" % len(rows))
    check(all("request %d<" % x not in found.group(1) for x in reqs[1:]),
          "none of another request")
    check(all(k in found.group(1) for k in ("offer to an expert", "assignment confirmed",
                                            "request received",
                                            "expert confirmed to the requester")),
          "the offer, the confirmations and the notice of receipt")
    check(not any(p in r.text for p in (PII[7], PII[8], REQ)),
          "the page names neither the expert nor the requester")
    check(ex.get("/office/sent?request=x").status == 400, "a bad request number is 400")
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    check(al.get("/office/sent?request=%d" % rid).status == 200, "the regional coordinator too")

    # ---- completions ten days apart; a period ------------------------------------------------
    brk.advance(15 * DAY_MS, settle_s=0.2)
    done_ms = []
    for a in asg[:3]:  # the fourth stays confirmed
        c = brk.ok("broker.assignment.complete", B.CompleteAssignmentRequest(
            assignment_id=a, minutes=120, fee_cents=15000), B.AssignmentReply).assignment
        done_ms.append(c.completed_ms)
        brk.advance(10 * DAY_MS, settle_s=0.2)
    late = file_request(brk, "rq-late", title="Myöhäinen", requester_org_id=60).request

    def csv_ids(path, sess=None):
        r = (sess or ex).get(path)
        ids = [int(x.split(",")[0].strip('"')) for x in r.text.strip().splitlines()[1:]]
        return r.status, ids
    d = [day(t) for t in done_ms]
    check(len(set(d)) == 3, "three completion days %s" % d)
    check(csv_ids("/office/broker/payments.csv") == (200, asg[:3]), "the whole export: three")
    check(csv_ids("/office/broker/payments.csv?from=%s&to=%s" % (d[1], d[1])) == (200, [asg[1]]),
          "the period of the second's day (both ends included): the second only")
    check(csv_ids("/office/broker/payments.csv?from=%s" % d[1]) == (200, asg[1:3]),
          "from the second's day on: two")
    check(csv_ids("/office/broker/payments.csv?to=%s&unpaid=1" % d[0]) == (200, [asg[0]]),
          "up to the first's day, unpaid: the first")
    for q in ("from=2026-13-01", "from=yesterday", "from=%s&to=%s" % (d[2], d[0]),
              "to=2026-02-30"):
        check(ex.get("/office/broker/payments.csv?" + q).status == 400,
              "a bad period is 400 (%s)" % q)
    r = ex.get("/office/broker/stats?from=%s&to=%s" % (d[2], day(brk.now_s() * 1000)))
    filed = re.search(r"Requests filed</th><td>(\d+)</td>", r.text)
    check(r.status == 200 and filed and filed.group(1) == "1" and
          "filed %s" % d[2] in r.text, "the statistics of the last days: the one filed then")
    r = ex.get("/office/broker/stats")
    filed = re.search(r"Requests filed</th><td>(\d+)</td>", r.text)
    check(filed and filed.group(1) == "5", "all time: five filed")
    check(ex.get("/office/broker/stats?to=31.12.2026").status == 400, "a bad date is 400")

    # ---- marking paid ------------------------------------------------------------------------
    def paid_ms():
        return {a.id: a.paid_ms for a in brk.ok("broker.assignment.list",
                                                B.ListAssignmentsRequest(),
                                                B.ListAssignmentsReply).assignments}
    r = ex.get("/office/broker")
    boxes = [int(x) for x in re.findall(r'name="assignment" value="(\d+)" form="paid-form"',
                                        r.text)]
    check(sorted(boxes) == asg[:3], "a box for each completed unpaid assignment: %s" % boxes)
    tok = csrf_of(ex, "/office/broker")
    check(ex.post("/office/broker/paid", [("assignment", asg[0]), ("ref", "erä 1")]).status
          == 403, "without the CSRF token: 403")
    for fields, status, what in (
            ([("ref", "erä 1")], 400, "nothing chosen"),
            ([("ids", "%d 12x" % asg[0]), ("ref", "erä 1")], 400, "a malformed id"),
            ([("assignment", asg[0])], 400, "no reference"),
            ([("assignment", asg[0]), ("ref", "x" * 101)], 400, "a long reference"),
            ([("assignment", asg[0]), ("ids", "99999"), ("ref", "erä 1")], 404, "an unknown one"),
            ([("assignment", asg[0]), ("ids", str(asg[3])), ("ref", "erä 1")], 409,
             "one not completed")):
        r = ex.post("/office/broker/paid", [("csrf", tok)] + fields)
        check(r.status == status, "%s: %d (%d)" % (what, status, r.status))
    check(not any(paid_ms().values()), "the refusals marked nothing")
    check(csv_ids("/office/broker/payments.csv?unpaid=1")[1] == asg[:3], "three unpaid")
    r = ex.post("/office/broker/paid", [("csrf", tok), ("assignment", asg[0]),
                                        ("ids", "%d\n" % asg[1]), ("ref", "erä 2026-12")])
    check(r.status == 303 and r.header("location") ==
          "/office/broker?done=paid&marked=2&already=0#asgs",
          "a ticked box and a pasted id: both marked (%d %s)" % (r.status, r.header("location")))
    pm = paid_ms()
    check(pm[asg[0]] and pm[asg[1]] and not pm[asg[2]], "the broker has the two paid")
    r = ex.get("/office/broker?done=paid&marked=2&already=0")
    check("Marked paid: 2. Already paid before: 0." in r.text, "the page says so")
    check(csv_ids("/office/broker/payments.csv?unpaid=1")[1] == [asg[2]],
          "the unpaid export lists only the third")
    r = ex.post("/office/broker/paid", [("csrf", tok), ("ids", "%d,%d" % (asg[0], asg[1])),
                                        ("ref", "erä 2026-12")])
    check(r.status == 303 and "marked=0&already=2" in r.header("location"),
          "marking them again marks none")

    # ---- the browser: axe and screenshots (office-90..96) ----
    if shutil.which("node") and os.path.exists("/usr/bin/chromium"):
        cfg = {"expert": ["asiantuntija", PW["asiantuntija"]],
               "municipal": ["seinajoki", PW["seinajoki"]], "request": rid,
               "assignment": asg[2], "from": d[0], "to": d[2], "first": 89}
        browser_checked("node", WEBDIR, "office_broker2.mjs", s.base, OUT, cfg, 7)
        check(paid_ms()[asg[2]] > 0 and csv_ids("/office/broker/payments.csv?unpaid=1")[1] == [],
              "the browser marked the third paid: nothing unpaid left")

    # ---- the contact person; the audit; the web's log ----------------------------------------
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(sj.get("/office/sent?request=%d" % rid).status == 403, "contact person: sent 403")
    check(sj.get("/office/broker/payments.csv?from=%s" % d[0]).status == 403, "export 403")
    check(sj.get("/office/broker/stats?from=%s" % d[0]).status == 403, "statistics 403")
    check(sj.post("/office/broker/paid", [("csrf", csrf_of(sj, "/office")),
                                          ("assignment", asg[2]), ("ref", "x")]).status == 403,
          "marking paid 403")
    r = al.get("/office/audit")
    check("notifier.sent" in r.text and "request=%d" % rid in r.text,
          "the search by request is in the audit")
    check("broker.assignment.paid" in r.text and "ids=%d,%d" % (asg[0], asg[1]) in r.text and
          "erä" not in r.text, "marking paid is, by the ids (not the reference)")
    check("from=%s to=%s" % (d[1], d[1]) in r.text, "the export by its period")
    check(r.text.count("denied") >= 4, "and the contact person's refusals")
    log = wp.logtext()
    check(not any(p in log for p in (PII[7], PII[8], REQ)), "the web's log names nobody")
    check(late.id and e1.id and e2.id and e3.id, "the people and the late request exist")
finally:
    s.close()
    smtp.stop()
done()
