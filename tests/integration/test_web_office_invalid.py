# timeout: 180
"""The back office's refused fields are wired to their errors (WCAG 2.1 3.3.1 Error
Identification, 4.1.2 Name, Role, Value): the events service, the registry, the expert broker and
kumppani-web with CURVE keys; accounts made with the CLI.

Each form is sent with one field the server refuses: the new event's kind, language,
municipality (a municipal account's select), repeat and repeat count; a new account's role and
password; an account's role (field_scope) and the removal's unticked box; the own password's
current one; the people search's name; an event's reschedule (its end, its reason) and cancel
(its reason), which answer the event's page again (400, not the error page) with the values sent
and still need the CSRF token; the events list's municipality filter (the list again,
unfiltered, 400); the series' extension's count and its change's capacity and title, and a
started event's "held" form's memo and materials links (the event's page again, the values
sent kept); an account's scope refused shows the role and municipalities sent, not the saved
ones; the CSV import's kind and its missing rows (the import page again, the rows sent kept); an
open offer's extension by a time not offered (the event's page again, the error beside the
offer's row; the error page for a sign-up without an open offer); the
coverage's months, each field of the statistics' filter and of the organisation search (the
page again, 400, a typed value kept, a contact person's municipality their own); the broker's
completion of an assignment (its hours, fee, travel costs: the error beside that assignment's
row) and marking paid (ids not numbers, none chosen, no reference): the broker's page again,
400, the values sent kept, nothing changed; the payment export's and the broker's statistics'
period (a malformed date, the end before the start: the page again, 400, the dates and the
"unpaid only" choice sent kept, the statistics of all time); a bulk mark of attendance with no one ticked (the
check-in page again, 400, the error above the list, named by the bulk form's fieldset). Before an
event's start its check-in page has the list and the search but no marking controls, and a mark
sent all the same is refused (409, saying the event has not started; no one marked); once it
has started, the controls are there.
The new event's kind refused shows its empty "Choose…" option, not the first kind. Over HTTP
the answer's control carries aria-invalid="true" and an aria-describedby that names its error's element, which holds the
error's text. Then tests/web/office_invalid.mjs does the same in Chromium, where the summary's
link must also move the focus to the field: axe-core 0 violations, screenshots office-100..130
(and office-132, the check-in page before the start).
Personal data is planted (a sign-up under a planted name): no log carries it."""
import os
import re
import time
import urllib.parse

from kp_broker import B, file_request, open_offers, register
from kp_harness import PII, V, body, check, done, make_event, signup_req
from kp_web import (BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, browser_checked, browser_ready,
                    control, create_event, csrf_of, hidden, office_account, office_accounts,
                    office_sign_in, web_registry, wired)

PW = OFFICE_PW
TARGET_PW = "Kohdetunnuksen-salasana-5"

s = WebSuite()
try:
    _, brk = web_registry(s, broker=True)
    web = s.web_proc
    admin = s.client(s.ev_api, "admin")
    pubc = s.client(s.ev_api, "web-publisher")
    eid = make_event(admin)
    # An event about to start (its "held" form is offered once it has started).
    hid = make_event(admin, start_in_s=3)
    t0 = time.time()
    rr = pubc.call("events.signup.submit", signup_req(eid, 1, source="web"), key="su-1")
    check(rr is not None and rr.status.code == 0, "a person signs up (planted personal data)")
    esu = body(rr, V.SignupReply).signup.id
    rr = pubc.call("events.signup.submit", signup_req(hid, 2, source="web"), key="su-2")
    check(rr is not None and rr.status.code == 0, "and to the event about to start")
    # An event that works with offers, full, and a second person offered a place beyond it.
    oid = create_event(admin, "Jonopöytä", capacity=1, offer_window_minutes=60)
    osu = [body(pubc.call("events.signup.submit", signup_req(oid, 10 + i, source="web"),
                          key="o%d" % i), V.SignupReply).signup.id for i in range(2)]
    rr = admin.call("events.signup.promote", V.PromoteSignupRequest(signup_id=osu[1],
                                                                    beyond_capacity=True))
    check(rr is not None and rr.status.code == 0 and
          body(rr, V.SignupReply).signup.state == V.SIGNUP_STATE_OFFERED,
          "the waitlisted person is offered a place (%d)" % osu[1])
    # A request of the broker's with its offer accepted: a confirmed assignment to complete.
    register(brk, "Eeva Asiantuntija", "eeva.a@example.fi")
    brq = file_request(brk, "req-1", title="Mielenterveyspaneeli").request
    asg = brk.accept(open_offers(brk, brq.id)[0].id).assignment
    check(asg.id > 0, "the broker's assignment to complete (%d)" % asg.id)
    office_accounts(s, "alue", "seinajoki")
    _, out = office_account(s, "kohde", "municipal", "743", TARGET_PW)
    m = re.search(r"account (\d+):", out)
    target = int(m.group(1)) if m else 0
    check(target > 0, "the account to change is made (%d)" % target)

    # ---- over HTTP --------------------------------------------------------------------------
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    form = {"title": "Kumppanuuspöytä", "kind": "1", "municipality": "743",
            "date": "2099-06-01", "start": "17:00", "end": "19:00", "capacity": "0",
            "language": "fi", "nonce": "n" * 43}
    for field, bad in (("kind", "0"), ("language", "xx"), ("repeat", "daily")):
        r = al.post("/office/events", dict(form, csrf=csrf_of(al, "/office"), **{field: bad}))
        wired(r, field)
    for bad in ("0", ""):
        r = al.post("/office/events", dict(form, csrf=csrf_of(al, "/office"), kind=bad))
        wired(r, "kind")
        sel = re.search(r'<select id="f-kind".*?</select>', r.text, re.S)
        sel = sel.group(0) if sel else ""
        check(re.search(r'>\s*<option value="">[^<]+</option>', sel) is not None and
              " selected" not in sel, "the refused kind (%r) shows the empty first option, "
              "none chosen" % bad)
    path = "/office/events/%d" % eid
    resched = {"date": "2099-06-01", "start": "17:00", "end": "16:00", "reason": "Sali"}
    r = al.post(path + "/reschedule", dict(resched, csrf=csrf_of(al, path)))
    wired(r, "end")
    check("<h1>Kumppanuuspöytä: hyvinvointi</h1>" in r.text and 'value="2099-06-01"' in
          control(r.text, "f-date") and 'value="16:00"' in control(r.text, "f-end") and
          re.search(r'id="f-new_reason"[^>]*>Sali</textarea>', r.text) is not None,
          "a refused reschedule: the event's page again, with the values sent")
    r = al.post(path + "/reschedule", dict(resched, end="19:00", reason="x" * 1001,
                                           csrf=csrf_of(al, path)))
    wired(r, "new_reason")
    check(re.search(r"(enintään|at most|högst) 1000 (merkkiä|characters|tecken)", r.text)
          is not None,
          "the reason's error names its own limit, 1000 characters")
    r = al.post(path + "/cancel", {"csrf": csrf_of(al, path), "reason": ""})
    wired(r, "reason")
    r = al.post(path + "/cancel", {"csrf": csrf_of(al, path), "reason": "Peruttu " * 130})
    wired(r, "reason")
    check(re.search(r'id="f-reason"[^>]*>(Peruttu ){130}</textarea>', r.text) is not None,
          "a refused cancel keeps the reason sent")
    check(al.post(path + "/cancel", {"reason": ""}).status == 403 and
          al.post(path + "/reschedule", resched).status == 403,
          "without the CSRF token neither form is shown again (403)")
    r = al.post("/office/events", dict(form, csrf=csrf_of(al, "/office"), repeat="weekly",
                                       repeat_count="2"))
    m = re.match(r"/office/events/(\d+)", r.header("location") or "")
    sid = int(m.group(1)) if m else 0
    check(r.status == 303 and sid > 0, "a weekly series of two is made (%d)" % sid)
    spath = "/office/events/%d" % sid
    page = al.get(spath)
    r = al.post(spath + "/series/extend", {"csrf": hidden(page.text, "csrf"), "count": "61",
                                            "nonce": hidden(page.text, "nonce")})
    wired(r, "count")
    check('value="61"' in control(r.text, "f-count") and 'id="series-extend"' in r.text,
          "a refused extension: the event's page again, the count sent kept")
    time.sleep(max(0.0, 3.5 - (time.time() - t0)))
    hpath = "/office/events/%d" % hid
    for field, other in (("memo_url", "materials_url"), ("materials_url", "memo_url")):
        r = al.post(hpath + "/held", {"csrf": csrf_of(al, hpath), field: "muistio.example.fi",
                                      other: "https://aineisto.example.fi/a"})
        wired(r, field)
        check("<h1>Kumppanuuspöytä: hyvinvointi</h1>" in r.text and
              'value="muistio.example.fi"' in control(r.text, "f-" + field) and
              'value="https://aineisto.example.fi/a"' in control(r.text, "f-" + other),
              "a refused held form (%s): the event's page again, the links sent kept" % field)
    r = al.post(spath + "/series/change", {
        "csrf": csrf_of(al, spath), "title": "Kumppanuuspöytä: liikunta", "place": "Kirjasto",
        "capacity": "paljon", "date": "2099-06-01", "start": "17:00", "end": "19:00",
        "reason": "Tilat"})
    wired(r, "series_capacity")
    check('value="paljon"' in control(r.text, "f-series_capacity") and
          'value="Kumppanuuspöytä: liikunta"' in control(r.text, "f-series_title") and
          'value="Kirjasto"' in control(r.text, "f-series_place") and
          re.search(r'id="f-series_reason"[^>]*>Tilat</textarea>', r.text) is not None,
          "a refused series change: the event's page again, the values sent kept")
    r = al.post(spath + "/series/change", {"csrf": csrf_of(al, spath), "title": "x" * 201})
    wired(r, "series_title")
    r = al.get("/office/events?municipality=abc")
    wired(r, "municipality")
    check("<h1>Events</h1>" in r.text and "Kumppanuuspöytä: hyvinvointi" in r.text,
          "a refused municipality filter: the events page again, unfiltered")
    ev = admin.call("events.event.get", V.EventRef(event_id=eid))
    check(ev is not None and body(ev, V.EventReply).event.state == V.EVENT_STATE_PUBLISHED,
          "the refused forms changed nothing (the event is still published)")
    r = al.post("/office/events", dict(form, csrf=csrf_of(al, "/office"), repeat="weekly",
                                       repeat_count="1"))
    wired(r, "repeat_count")
    r = al.post("/office/accounts", {"csrf": csrf_of(al, "/office"), "user": "uusi.tunnus",
                                     "role": "9", "password": "Uuden-tunnuksen-salasana-1"})
    wired(r, "role")
    r = al.post("/office/accounts", {"csrf": csrf_of(al, "/office"), "user": "uusi.tunnus",
                                     "role": "3", "password": "lyhyt"})
    wired(r, "password")
    r = al.post("/office/accounts/%d/scope" % target, {"csrf": csrf_of(al, "/office"),
                                                       "role": "7", "municipalities": "743"})
    wired(r, "role")
    r = al.post("/office/accounts/%d/scope" % target, {"csrf": csrf_of(al, "/office"),
                                                       "role": "3", "municipalities": "74"})
    wired(r, "municipalities")
    sel = re.search(r'<select id="f-role".*?</select>', r.text, re.S)
    check(sel is not None and re.search(r'<option value="3" selected>', sel.group(0)) and
          'value="74"' in control(r.text, "f-municipalities"),
          "a refused scope: the account's page with the role and municipalities sent")
    r = al.post("/office/accounts/%d/remove" % target, {"csrf": csrf_of(al, "/office")})
    wired(r, "confirm")
    csv = "nimi;kunta\r\nKyläyhdistys;743"
    r = al.post("/office/import", {"csrf": csrf_of(al, "/office"), "kind": "3", "csv": csv,
                                   "action": "check"})
    wired(r, "kind")
    check(re.search(r'id="f-csv"[^>]*>nimi;kunta\r?\nKyläyhdistys;743</textarea>', r.text)
          is not None and 'id="f-kind"' in r.text,
          "a refused import's kind: the import page again, the rows sent kept")
    r = al.post("/office/import", {"csrf": csrf_of(al, "/office"), "kind": "1", "csv": "",
                                   "action": "check"})
    wired(r, "csv")
    r = al.post("/office/people", {"csrf": csrf_of(al, "/office"), "name": ""})
    wired(r, "name")
    opath = "/office/events/%d" % oid
    r = al.post(opath + "/extend-offer", {"csrf": csrf_of(al, opath), "signup": str(osu[1]),
                                          "minutes": "7"})
    wired(r, "minutes-%d" % osu[1])
    check("<h1>Jonopöytä</h1>" in r.text and r.text.count('class="error"') == 1 and
          'id="e-minutes-%d"' % osu[1] in r.text,
          "a refused extension of an offer: the event's page again, the error beside its row")
    r = al.post(opath + "/extend-offer", {"csrf": csrf_of(al, opath), "signup": str(osu[0]),
                                          "minutes": "7"})
    check(r.status == 400 and "<h1>Jonopöytä</h1>" not in r.text,
          "a refused extension of a sign-up without an open offer: the error page (400)")
    r = al.get("/office/coverage?months=61")
    wired(r, "months")
    check('value="61"' in control(r.text, "f-months") and 'action="/office/coverage"' in r.text,
          "a refused coverage's months: the coverage page again, the months sent kept")
    for field, query, kept in (("period", "period=2026-winter", None),
                               ("mode", "mode=hovering", None),
                               ("from", "from=2026-13-01", "2026-13-01"),
                               ("to", "from=2026-01-01&to=1.6.2026", "1.6.2026"),
                               ("kind", "kind=0", None),
                               ("municipality", "municipality=abc", "abc")):
        r = al.get("/office/stats?" + query)
        wired(r, field)
        check(r.text.count('class="chart-box"') == 4 and
              (kept is None or 'value="%s"' % kept in control(r.text, "f-" + field)),
              "a refused statistics filter (%s): the statistics again, the value sent kept"
              % field)
    long_q = "sana " * 41
    for field, value, kept in (("q", long_q, long_q), ("municipality", "abc", "abc"),
                               ("field", "99", None), ("network", "n" * 65, "n" * 65),
                               ("status", "7", None)):
        r = al.get("/office/organisations?" + urllib.parse.urlencode({field: value}))
        wired(r, field)
        check('action="/office/organisations"' in r.text and
              (kept is None or 'value="%s"' % kept in control(r.text, "f-" + field)),
              "a refused organisation search (%s): the search again, the value sent kept" % field)
    cpath = "/office/broker/assignments/%d/complete" % asg.id
    for field, sent in (("hours", {"hours": "0", "fee": "150", "travel": ""}),
                        ("fee", {"hours": "2,5", "fee": "sata", "travel": "20"}),
                        ("travel", {"hours": "2,5", "fee": "150", "travel": "-3"})):
        r = al.post(cpath, dict(sent, csrf=csrf_of(al, "/office/broker")))
        wired(r, "%s-%d" % (field, asg.id))
        check("<h1>Expert broker</h1>" in r.text and r.text.count('class="error"') == 1 and
              all('value="%s"' % v in control(r.text, "f-%s-%d" % (k, asg.id))
                  for k, v in sent.items()),
              "a refused completion (%s): the broker's page again, the values sent kept" % field)
    for field, sent, says in (
            ("ids", {"ids": "%d 12x" % asg.id, "ref": "erä 1"}, "must be numbers"),
            ("ids", {"ids": "", "ref": "erä 1"}, "Choose at least one assignment"),
            ("ref", {"ids": str(asg.id), "ref": "x" * 101}, "Give the payment reference")):
        r = al.post("/office/broker/paid", dict(sent, csrf=csrf_of(al, "/office/broker")))
        wired(r, field)
        check("<h1>Expert broker</h1>" in r.text and says in r.text and
              re.search(r'id="f-ids"[^>]*>%s</textarea>' % re.escape(sent["ids"]), r.text)
              is not None and 'value="%s"' % sent["ref"] in control(r.text, "f-ref"),
              "a refused marking paid (%s, %s): the broker's page again, the values sent kept"
              % (field, says))
    for field, query, says in (("from", "from=2026-13-01&to=2026-12-31", "YYYY-MM-DD"),
                               ("to", "from=2026-06-01&to=1.6.2026", "YYYY-MM-DD"),
                               ("to", "from=2026-06-02&to=2026-06-01", "before the start")):
        sent = dict(urllib.parse.parse_qsl(query))
        for path, h1, ok in (
                ("/office/broker/payments.csv?unpaid=1&", "<h1>Expert broker</h1>",
                 lambda t: "checked" in control(t, "x-unpaid")),
                ("/office/broker/payments.csv?", "<h1>Expert broker</h1>",
                 lambda t: "checked" not in control(t, "x-unpaid")),
                ("/office/broker/stats?", "<h1>Broker statistics</h1>",
                 lambda t: "Requests and assignments, all time" in t)):
            r = al.get(path + query)
            wired(r, field)
            check(h1 in r.text and says in r.text and r.text.count('class="error"') == 1 and
                  ok(r.text) and all('value="%s"' % v in control(r.text, "f-" + k)
                                     for k, v in sent.items()),
                  "a refused period (%s %s): %s again, the dates sent kept"
                  % (path, query, h1))
    done_asg = brk.ok("broker.assignment.list", B.ListAssignmentsRequest(limit=10),
                      B.ListAssignmentsReply).assignments
    check([a.state for a in done_asg] == [B.ASSIGNMENT_STATE_CONFIRMED],
          "the refused broker forms changed nothing (the assignment still confirmed)")
    # The check-in page before the event's start: the list and the search, no marking controls;
    # a mark sent all the same (one, ticked or none ticked) is refused saying why, and marks no one.
    kpath = "/office/events/%d/check-in" % eid
    r = al.get(kpath)
    check(r.status == 200 and "has not started yet" in r.text and PII[0] in r.text and
          'role="search"' in r.text and 'name="mark"' not in r.text and
          'type="checkbox"' not in r.text and 'id="bulk"' not in r.text,
          "the check-in page before the start: the note, the list and the search, but no "
          "marking buttons, no checkboxes, no bulk form")
    apath = "/office/events/%d/attendance" % eid
    for what, sent in (("one tap", {"signup": str(esu)}), ("a bulk mark", {"signup": [esu]}),
                       ("a bulk mark with no one ticked", {})):
        r = al.post(apath, urllib.parse.urlencode(
            dict(sent, csrf=csrf_of(al, kpath), mark="attended", q=""), doseq=True),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(r.status == 409 and "The event has not started yet" in r.text and
              "Nothing was marked." in r.text,
              "%s before the start is refused (409), saying the event has not started (%d)"
              % (what, r.status))
    su = body(admin.call("events.signup.list", V.ListSignupsRequest(event_id=eid)),
              V.ListSignupsReply).signups
    check([x.attendance for x in su] == [V.ATTENDANCE_UNSPECIFIED],
          "and no one is marked (%s)" % [x.attendance for x in su])
    kpath = "/office/events/%d/check-in" % hid
    r = al.get(kpath)
    check(r.status == 200 and "has not started yet" not in r.text and
          'name="mark" value="attended"' in r.text and 'type="checkbox"' in r.text and
          'id="bulk"' in r.text,
          "once the event has started: the marking buttons, the checkboxes and the bulk form")
    r = al.post("/office/events/%d/attendance" % hid, {"csrf": csrf_of(al, kpath),
                                                        "mark": "attended", "q": ""})
    summary = re.search(r'<a href="#f-signup">([^<]+)</a>', r.text)
    fs = re.search(r'<fieldset id="f-signup"[^>]*>', r.text)
    err = re.search(r'<p class="error" id="e-signup">([^<]*)</p>\s*<ul class="checkin"', r.text)
    check(r.status == 400 and "<h1>Check-in: " in r.text and summary is not None and
          fs is not None and 'aria-describedby="e-signup"' in fs.group(0) and
          'aria-invalid="true"' in fs.group(0) and err is not None and
          summary.group(1) in err.group(1) and "Choose at least one person" in err.group(1),
          "a bulk mark with no one ticked: the check-in page again (400), the error above the "
          "list, named by the bulk form's fieldset and linked from the summary")
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    r = sj.get("/office/stats?municipality=abc")
    wired(r, "municipality")
    check('<select id="f-municipality"' in r.text and 'selected>743<' in r.text,
          "a contact person's refused municipality: the statistics of their own (a select)")
    r = sj.post("/office/events", dict(form, csrf=csrf_of(sj, "/office"), municipality="abc"))
    wired(r, "municipality")
    check('<select id="f-municipality"' in r.text, "(the contact person's municipality: a select)")
    r = sj.post("/office/password", {"csrf": csrf_of(sj, "/office"), "current": "ei-oikea-1",
                                     "password": "Uusi-salasana-42-x",
                                     "password2": "Uusi-salasana-42-x"})
    wired(r, "current", 403)

    # ---- in Chromium: the same, the summary's links, axe and screenshots --------------------
    node = browser_ready(WEBDIR)
    if node:
        cfg = {"regional": ["alue", PW["alue"]], "municipal": ["seinajoki", PW["seinajoki"]],
               "target": target, "event": eid, "series": sid, "held": hid,
               "offer_event": oid, "offer": osu[1], "assignment": asg.id}
        browser_checked(node, WEBDIR, "office_invalid.mjs", s.base, BROWSER_OUT, cfg, 32)
    log = web.logtext()
    check(not any(x in log for x in (PW["alue"], PW["seinajoki"], TARGET_PW, "lyhyt",
                                     "Uuden-tunnuksen-salasana-1", "ei-oikea")),
          "the web's log carries no password")
finally:
    s.close()
done()
