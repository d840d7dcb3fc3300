# timeout: 180
"""The back office's expert broker (issue 14, part 4): the events service, the expert broker
with CURVE keys and kumppani-web with its office key (role admin on the broker's allow-list).
Checked: a request's page with its open offers and their deadlines and the ranking explained
(broker.request.explain: rank, why not, the rule); completing an assignment with hours and fee
(CSRF, bad fields 400, audited, a second completion 409); the payment export as a CSV download
(audited, by its row count); the broker's statistics; a municipal contact person is refused
(403, audited) on each."""
import os
import re
import shutil

from kp_broker import B, Broker, add_keys, file_request, open_offers, register
from kp_harness import PII, check, done
from kp_web import (BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, browser_checked, csrf_of,
                    office_accounts, office_sign_in)

PW = OFFICE_PW
DAY = 86400
OUT = BROWSER_OUT

s = WebSuite()
try:
    add_keys(s, [("expert-broker", None)])
    s.events()
    brk = Broker(s).start()
    s.web(["--rate-per-s", "2000", "--rate-burst", "5000", "--broker-api", brk.api])
    office_accounts(s, "alue", "seinajoki", "asiantuntija")

    e1 = register(brk, PII[7], PII[8])
    e2 = register(brk, "Outi Asiantuntija", "outi.a@example.fi", languages=["sv"])
    rq = file_request(brk, "req-1", title="Mielenterveyspaneeli Seinäjoella").request
    offers = open_offers(brk, rq.id)
    check(len(offers) == 1 and offers[0].expert_id == e1.id, "one offer, to the Finnish speaker")
    e3 = register(brk, "Kaisa Kolmas", "kaisa.k@example.fi")  # eligible, not yet asked

    ex, _ = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    r = ex.get("/office/broker")
    check(r.status == 200 and 'href="/office/broker/requests/%d"' % rq.id in r.text,
          "the queue links to the request")
    r = ex.get("/office/broker/requests/%d" % rq.id)
    off = re.search(r'aria-labelledby="offers">(.*?)</table>', r.text, re.S)
    rank = re.search(r'aria-labelledby="ranking">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and off and "<td>%d</td><td>%d</td><td>open</td>"
          % (offers[0].id, e1.id) in off.group(1) and " at " in off.group(1),
          "the request's open offer, to whom, with its deadline")
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td><td>(yes|no)</td><td>([^<]*)</td>",
                      rank.group(1) if rank else "")
    check(("1", str(e3.id), "yes", "–") in rows and
          ("–", str(e1.id), "no", "already offered") in rows and
          any(x[1] == str(e2.id) and x[2] == "no" and "does not speak the language" in x[3]
              for x in rows),
          "the ranking explained in words: the new expert ranks 1, the offered one is already "
          "offered, the third does not speak the language (%s)" % rows)
    check("<p>State: open. Experts confirmed: 0 / 1.</p>" in r.text,
          "the request's page says its state and how many of those needed are confirmed")
    check("within 8 weeks first" in r.text, "the rule with the broker's weeks")
    for lang, texts in [("fi", ["Tila: avoin. Vahvistettuja asiantuntijoita: 0 / 1.",
                                "jo tarjottu", "ei puhu kieltä", "tilaajalle 8 viikon sisällä"]),
                        ("sv", ["Status: öppen. Bekräftade experter: 0 / 1.", "redan erbjuden",
                                "talar inte språket", "inom 8 veckor"])]:
        page = ex.get("/office/broker/requests/%d?lang=%s" % (rq.id, lang)).text
        check(all(t in page for t in texts) and "already-offered" not in page and
              "eligible: consent" not in page,
              "the request's page in %s: its state, why not and the rule in %s (%s)"
              % (lang, lang, [t for t in texts if t not in page]))
    ex.get("/office/broker?lang=en")

    # A request nobody is eligible for is unfilled at once: the queue lists it apart.
    rq_u = file_request(brk, "req-u", title="Päihdetyön paneeli", experts_needed=2,
                        expertise=["substance-use"]).request
    r = ex.get("/office/broker")
    unf = re.search(r'<h2 id="unfilled">Unfilled requests \((\d+)\)</h2>(.*?)</table>', r.text,
                    re.S)
    check(unf and unf.group(1) == "1" and
          'href="/office/broker/requests/%d"' % rq_u.id in unf.group(2) and
          "Päihdetyön paneeli" in unf.group(2) and "<td>0 / 2</td>" in unf.group(2),
          "the queue lists the unfilled request apart, with 0 of the 2 experts found")
    opn = re.search(r'<h2 id="reqs">(.*?)</h2>', r.text)
    check(opn and "(1)" in opn.group(1), "the open requests are counted without it (%s)"
          % (opn and opn.group(1)))
    r = ex.get("/office/broker/requests/%d" % rq_u.id)
    check("<p>State: unfilled. Experts confirmed: 0 / 2.</p>" in r.text,
          "its page says it is unfilled")
    check(PII[7] not in r.text and PII[8] not in r.text, "the experts by id only")
    check(ex.get("/office/broker/requests/99999").status == 404, "an unknown request is 404")

    # ---- completion with hours and fee ----
    asg = brk.accept(offers[0].id).assignment
    check(asg.id > 0, "the expert accepted: an assignment")
    brk.advance(15 * DAY * 1000)
    tok = csrf_of(ex, "/office/broker")
    path = "/office/broker/assignments/%d/complete" % asg.id
    check(ex.post(path, {"hours": "2", "fee": "150"}).status == 403,
          "completion without the CSRF token is refused")
    check(ex.post(path, {"csrf": tok, "hours": "0", "fee": "150"}).status == 400,
          "zero hours is 400")
    check(ex.post(path, {"csrf": tok, "hours": "2,5", "fee": "abc"}).status == 400,
          "a fee that is not a sum is 400")
    r = ex.post(path, {"csrf": tok, "hours": "2,5", "fee": "150,00", "travel": "20"})
    check(r.status == 303, "completed (%d)" % r.status)
    a = [x for x in brk.ok("broker.assignment.list", B.ListAssignmentsRequest(),
                           B.ListAssignmentsReply).assignments if x.id == asg.id][0]
    check(a.state == B.ASSIGNMENT_STATE_COMPLETED and a.minutes == 150 and
          a.fee_cents == 15000 and a.travel_cents == 2000,
          "the broker has it completed: 150 min, 150,00 € and 20,00 € (%d, %d, %d)"
          % (a.minutes, a.fee_cents, a.travel_cents))
    r = ex.get("/office/broker?done=completed")
    check("The assignment is completed." in r.text and "2.50" in r.text and "150,00 €" in r.text,
          "the page says so and lists the hours and the fee")
    check(ex.post(path, {"csrf": tok, "hours": "1", "fee": "1"}).status == 409,
          "a second completion is 409")

    # ---- the payment export, the statistics ----
    r = ex.get("/office/broker/payments.csv")
    lines = r.text.strip().splitlines()
    check(r.status == 200 and r.header("content-type").startswith("text/csv") and
          "attachment" in (r.header("content-disposition") or "") and len(lines) == 2 and
          str(asg.id) in lines[1], "the payment export: a CSV download, one row (%s)" % lines)
    r = ex.get("/office/broker/stats")
    filed = re.search(r"Requests filed</th><td>(\d+)</td>", r.text)
    filled = re.search(r"Requests filled</th><td>(\d+)</td>", r.text)
    check(r.status == 200 and filed and filed.group(1) == "2" and filled and
          filled.group(1) == "1", "the statistics: 2 filed (one unfilled), 1 filled")

    # ---- the browser: axe and screenshots (office-47.. -50-*.png) ----
    if shutil.which("node") and os.path.exists("/usr/bin/chromium"):
        rq2 = file_request(brk, "req-2", title="Työryhmä").request
        asg2 = brk.accept(open_offers(brk, rq2.id)[0].id).assignment
        brk.advance(15 * DAY * 1000)
        cfg = {"mode": "broker", "first": 46, "expert": ["asiantuntija", PW["asiantuntija"]],
               "municipal": ["seinajoki", PW["seinajoki"]], "request": rq2.id,
               "assignment": asg2.id}
        browser_checked("node", WEBDIR, "office_sent.mjs", s.base, OUT, cfg, 4, timeout=120)
        a2 = [x for x in brk.ok("broker.assignment.list", B.ListAssignmentsRequest(),
                                B.ListAssignmentsReply).assignments if x.id == asg2.id][0]
        check(a2.state == B.ASSIGNMENT_STATE_COMPLETED and a2.minutes == 180 and
              a2.fee_cents == 9950, "the browser's completion reached the broker (3 h, 99,50 €)")

    # ---- roles, the audit ----
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(sj.get("/office/broker/requests/%d" % rq.id).status == 403, "contact person: 403")
    check(sj.get("/office/broker/payments.csv").status == 403, "no export either")
    check(sj.get("/office/broker/stats").status == 403, "nor the statistics")
    check(sj.post(path, {"csrf": csrf_of(sj, "/office"), "hours": "1", "fee": "1"}).status == 403,
          "nor a completion")
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    r = al.get("/office/audit")
    check("broker.assignment.complete" in r.text and "assignment=%d" % asg.id in r.text and
          "broker.assignment.export" in r.text and "rows=1" in r.text,
          "the completion and the export are in the audit")
    check(r.text.count("denied") >= 4, "and the contact person's four refusals")
finally:
    s.close()
done()
