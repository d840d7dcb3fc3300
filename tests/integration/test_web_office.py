# timeout: 180
"""The coordinators' back office over HTTP (issue 14): the events service with CURVE keys and
kumppani-web with its office key (role admin at events). Accounts are made with the CLI
(kumppani web account-add, the password on stdin) and on the regional coordinator's page.
Checked: passwords only as Argon2id in the web's store; CSRF missing or wrong refused; the
session cookie's attributes; a cookie planted before the sign-in is not the one after it
(session fixation); the lockout after five failures and its end on the service clock; a
stolen cookie refused after sign-out, and every session after sign-out everywhere; a municipal
contact person creates and publishes an event of their municipality, checks people in and
exports the lists, but opening, publishing or marking another municipality's event is 403,
changes nothing and shows in the audit; the expert coordinator has no events; the audit
holds ids only."""
import os
import re
import subprocess
import time

from kp_harness import PII, V, body, check, done, set_clock, signup_req
from kp_web import (OFFICE_PW, OK, Session, WebSuite, csrf_of, hidden, office_account,
                    office_accounts, office_sign_in)

PW = dict(OFFICE_PW, lapua="Lapuan-yhteyshenkilo-44")

s = WebSuite()
try:
    s.events(["--test-clock", "on"])
    web = s.web(["--rate-per-s", "2000", "--rate-burst", "5000"])
    admin = s.client(s.ev_api, "admin")
    pubc = s.client(s.ev_api, "web-publisher")

    # ---- accounts with the CLI ----
    office_accounts(s, "alue", "seinajoki", "vaasa", "asiantuntija")
    rc, out = office_account(s, "alue", "regional", password=PW["alue"], expect=None)
    check(rc == 4 and "taken" in out, "a second account of the same name is refused (%s)"
          % out.strip())
    rc, out = office_account(s, "lyhyt", "regional", password="short", expect=None)
    check(rc == 4 and "password" in out, "a short password is refused naming the field")
    rc, out = office_account(s, "kunta", "municipal", password="Pitka-salasana-123",
                             expect=None)
    check(rc == 4 and "municipalities" in out, "a municipal account needs a municipality")

    # ---- sign-in, CSRF, fixation, cookie attributes ----
    b = Session(s.base, "en")
    r = b.get("/office")
    check(r.status == 303 and r.header("location") == "/office/sign-in",
          "an office page without a session sends to the sign-in page")
    page = b.get("/office/sign-in")
    check(page.status == 200 and 'name="password"' in page.text, "the sign-in page answers")
    r = b.post("/office/sign-in", {"user": "alue", "password": PW["alue"]})
    check(r.status == 403 and "kp_session" not in b.cookies,
          "a sign-in without a CSRF token is refused (403) and signs nobody in")
    r = b.post("/office/sign-in", {"csrf": "x" * 43, "user": "alue", "password": PW["alue"]})
    check(r.status == 403 and "kp_session" not in b.cookies,
          "a sign-in with a wrong CSRF token is refused (403)")
    planted = "A" * 43
    b.cookies["kp_session"] = planted
    pre_csrf = b.cookies.get("kp_csrf")
    r = b.post("/office/sign-in", {"csrf": hidden(page.text, "csrf"), "user": "alue",
                                   "password": PW["alue"]})
    check(r.status == 303 and r.header("location") == "/office", "the regional coordinator "
          "signs in (303 to /office)")
    sc = [v for v in r.header_all("Set-Cookie") if v.startswith("kp_session=")]
    check(len(sc) == 1 and "HttpOnly" in sc[0] and "SameSite=Strict" in sc[0] and
          "Path=/" in sc[0] and "Secure" not in sc[0],
          "the session cookie is HttpOnly, SameSite=Strict, Path=/ (not Secure on plain "
          "loopback HTTP: secure-cookies is off) (%s)" % (sc[0].split(";", 1)[1] if sc else "-"))
    check(b.cookies["kp_session"] != planted and len(b.cookies["kp_session"]) == 43,
          "session fixation: the cookie after the sign-in is a new one, not the planted one")
    check(b.cookies.get("kp_csrf") != pre_csrf, "the CSRF cookie is renewed at the sign-in")
    fix = Session(s.base, "en")
    fix.cookies["kp_session"] = planted
    check(fix.get("/office").status == 303, "the planted cookie does not sign anyone in")
    r = b.get("/office")
    check(r.status == 200 and "alue" in r.text, "the signed-in front page names the account")
    regional = b

    # ---- an account on the regional coordinator's page ----
    tok = csrf_of(regional, "/office/accounts")
    r = regional.post("/office/accounts", {"csrf": tok, "user": "lapua", "role": "2",
                                           "municipalities": "408", "password": PW["lapua"]})
    check(r.status == 200 and "lapua" in r.text, "the regional coordinator adds an account on "
          "the accounts page")
    r = regional.post("/office/accounts", {"user": "lapua2", "role": "2",
                                           "municipalities": "408", "password": PW["lapua"]})
    check(r.status == 403, "an office form without its CSRF token is refused (403)")
    check(office_sign_in(s.base, "lapua2", PW["lapua"])[1].status == 403,
          "and nothing was added")

    # ---- passwords are not in the store in clear ----
    raw = b""
    for d, _, files in os.walk(os.path.join(s.dir, "web")):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                raw += fh.read()
    check(not any(p.encode() in raw for p in PW.values()),
          "no password is in the web's store in clear")
    check(raw.count(b"$argon2id$") >= 5, "the store holds Argon2id hashes (%d)"
          % raw.count(b"$argon2id$"))

    # ---- a municipal contact person's day ----
    sj, r = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(r.status == 303, "the Seinäjoki contact person signs in")
    page = sj.get("/office/events/new")
    check(page.status == 200 and 'value="743"' in page.text and 'value="905"' not in page.text,
          "the new-event form offers only the contact person's own municipality")
    tomorrow = time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400))
    fields = {"csrf": hidden(page.text, "csrf"), "nonce": hidden(page.text, "nonce"),
              "title": "Kumppanuuspöytä: kylätalot", "kind": "1", "municipality": "743",
              "date": tomorrow, "start": "10:00", "end": "12:00", "capacity": "30",
              "place": "Seinäjoen kaupungintalo", "language": "fi",
              "description": "Kylätalojen tulevaisuus.\r\nOta mukaan ideasi."}
    r = sj.post("/office/events", dict(fields, municipality="905"))
    check(r.status == 403, "creating an event for another municipality is refused (403)")
    r = sj.post("/office/events", fields)
    m = re.match(r"/office/events/(\d+)$", r.header("location") or "")
    check(r.status == 303 and m, "the contact person creates a table for Seinäjoki")
    eid = int(m.group(1)) if m else 0
    r2 = sj.post("/office/events", fields)
    check(r2.header("location") == r.header("location"),
          "the same form sent twice makes one event (its nonce is the idempotency key)")
    r = sj.post("/office/events/%d/publish" % eid, {"csrf": csrf_of(sj, "/office/events/%d"
                                                                     % eid)})
    check(r.status == 303, "and publishes it")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_PUBLISHED and ev.municipality_code == "743",
          "the event is published in Seinäjoki")
    check(ev.description_text == "Kylätalojen tulevaisuus.\nOta mukaan ideasi.",
          "a description of two lines sent with CR LF (as browsers do) is taken, without CR")
    # People sign up (through the publisher, as the public form would).
    sids = []
    for i, name in enumerate([PII[0], PII[3], "Kalle Kuusinen"]):
        rq = signup_req(eid, 100 + i, source="web", name=name, email="p%d@example.fi" % i)
        rr = pubc.call("events.signup.submit", rq, key="su-%d" % i)
        check(rr is not None and rr.status.code == OK, "sign-up %d accepted" % i)
        sids.append(body(rr, V.SignupReply).signup.id)
    r = sj.get("/office/events/%d" % eid)
    check(r.status == 200 and PII[0] in r.text and PII[3] in r.text,
          "the event page lists the participants by state")
    # A Vaasa event, made by the region's admin.
    now = int(time.time())
    rr = admin.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="Vaasan pöytä", municipality_code="905",
        start_unix=now + 3 * 86400, end_unix=now + 3 * 86400 + 3600, language="fi"), key="va")
    vid = body(rr, V.EventReply).event.id
    r = sj.get("/office/events/%d" % vid)
    check(r.status == 403 and "permission" in r.text,
          "the contact person opening a Vaasa event gets 403 saying so")
    r = sj.post("/office/events/%d/publish" % vid, {"csrf": csrf_of(sj, "/office")})
    check(r.status == 403, "publishing the Vaasa event is refused (403)")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=vid)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_DRAFT, "and the Vaasa event is unchanged (a draft)")
    for path in ("/office/events/%d/check-in", "/office/events/%d/participants.csv",
                 "/office/events/%d/door.csv"):
        check(sj.get(path % vid).status == 403, "%s of the Vaasa event: 403" % path.replace("%d", "N"))
    r = sj.get("/office/events?municipality=905")
    check(r.status == 403, "listing Vaasa's events is refused (403)")
    r = sj.get("/office/events")
    check(r.status == 200 and "kylätalot" in r.text and "Vaasan" not in r.text,
          "the events list shows Seinäjoki's events only")
    # The door: the event has started (the events service's clock moves to an hour after its
    # start; the event is tomorrow at 10:00 in Helsinki, 8 to 32 hours from now).
    start = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event.start_unix
    set_clock(admin, (start + 3600 - time.time()) * 1000)
    r = sj.get("/office/events/%d/check-in?q=liisa" % eid)
    check(r.status == 200 and PII[3] in r.text and PII[0] not in r.text,
          "the check-in page finds a person by part of the name")
    tok = hidden(r.text, "csrf")
    r = sj.post("/office/events/%d/attendance" % eid,
                {"csrf": tok, "signup": str(sids[1]), "mark": "attended", "q": "liisa"})
    check(r.status == 303 and "marked=attended" in (r.header("location") or ""),
          "one tap marks the person attended (303 back to the search)")
    r = sj.post("/office/events/%d/attendance" % eid,
                {"csrf": tok, "signup": str(sids[2]), "mark": "no_show", "q": ""})
    check(r.status == 303, "and another as a no-show")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
    check(ev.attended_n == 1 and ev.no_show_n == 1, "the events service counts 1 attended, "
          "1 no-show (%d, %d)" % (ev.attended_n, ev.no_show_n))
    import urllib.parse
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = sj.post("/office/events/%d/attendance" % eid, urllib.parse.urlencode(
        {"csrf": tok, "signup": [sids[0], 999999], "mark": "attended", "q": ""}, doseq=True),
        headers=form)
    check(r.status == 403, "bulk marking with a sign-up not of this event is refused (403)")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
    check(ev.attended_n == 1, "and marks nobody")
    r = sj.post("/office/events/%d/attendance" % eid, urllib.parse.urlencode(
        {"csrf": tok, "signup": [sids[0], sids[2]], "mark": "attended", "q": ""}, doseq=True),
        headers=form)
    check(r.status == 303 and "n=2" in (r.header("location") or ""),
          "bulk marking: two chosen people attended at once")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
    check(ev.attended_n == 3 and ev.no_show_n == 0, "the events service counts 3 attended "
          "(%d, %d)" % (ev.attended_n, ev.no_show_n))
    r = sj.post("/office/events/%d/attendance" % vid,
                {"csrf": tok, "signup": str(sids[0]), "mark": "attended", "q": ""})
    check(r.status == 403, "marking through the Vaasa event is refused (403)")
    csv = sj.get("/office/events/%d/participants.csv" % eid)
    check(csv.status == 200 and csv.header("content-type").startswith("text/csv") and
          "attachment" in (csv.header("content-disposition") or "") and PII[3] in csv.text and
          "attended" in csv.text and csv.header("cache-control") == "no-store",
          "the participants CSV downloads (attachment, no-store) with the marks")
    door = sj.get("/office/events/%d/door.csv" % eid)
    check(door.status == 200 and door.header("content-type").startswith("text/csv"),
          "the door list downloads")
    r = sj.post("/office/events/%d/held" % eid, {"csrf": tok, "memo_url": "javascript:x()"})
    check(r.status == 400, "a memo link that is not a web address is refused (400)")
    r = sj.post("/office/events/%d/held" % vid, {"csrf": tok, "memo_url": ""})
    check(r.status == 403, "marking the Vaasa event held is refused (403)")
    r = sj.post("/office/events/%d/held" % eid, {
        "csrf": tok, "memo_url": "https://muistiot.example.fi/kylatalot",
        "materials_url": "https://aineistot.example.fi/kylatalot"})
    check(r.status == 303 and r.header("location").endswith("?done=held"),
          "the contact person marks the table held with its memo and materials")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_HELD and ev.memo_url.endswith("/kylatalot"),
          "the events service has it held with the memo link")
    r = sj.get("/office/audit")
    check(r.status == 403, "the audit page is the regional coordinator's only")

    # ---- reschedule and cancel (another table, in four days) ----
    page = sj.get("/office/events/new")
    later = time.strftime("%Y-%m-%d", time.localtime(time.time() + 4 * 86400))
    r = sj.post("/office/events", dict(fields, csrf=hidden(page.text, "csrf"),
                                       nonce=hidden(page.text, "nonce"), date=later,
                                       title="Kumppanuuspöytä: liikunta"))
    e2 = int(re.match(r"/office/events/(\d+)$", r.header("location")).group(1))
    tok = csrf_of(sj, "/office/events/%d" % e2)
    sj.post("/office/events/%d/publish" % e2, {"csrf": tok})
    even_later = time.strftime("%Y-%m-%d", time.localtime(time.time() + 5 * 86400))
    r = sj.post("/office/events/%d/reschedule" % e2, {"csrf": tok, "date": even_later,
                                                     "start": "14:00", "end": "15:30",
                                                     "reason": "Sali varattu"})
    check(r.status == 303 and r.header("location").endswith("?done=rescheduled"),
          "the contact person reschedules the table")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=e2)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_RESCHEDULED and ev.end_unix - ev.start_unix == 5400,
          "the events service has the new time (rescheduled, 1 h 30 min)")
    r = sj.post("/office/events/%d/cancel" % e2, {"csrf": tok, "reason": ""})
    check(r.status == 400, "a cancel without a reason is refused (400)")
    r = sj.post("/office/events/%d/cancel" % vid, {"csrf": tok, "reason": "Ei tarvita"})
    check(r.status == 403, "cancelling the Vaasa event is refused (403)")
    r = sj.post("/office/events/%d/cancel" % e2, {"csrf": tok, "reason": "Liian vähän "
                                                  "ilmoittautuneita"})
    check(r.status == 303, "the contact person cancels the table with a reason")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=e2)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_CANCELLED and "ilmoittautuneita" in ev.cancel_reason_text,
          "the events service has it cancelled with the reason")
    ev = body(admin.call("events.event.get", V.EventRef(event_id=vid)), V.EventReply).event
    check(ev.state == V.EVENT_STATE_DRAFT, "the Vaasa event is still unchanged")
    r = sj.post("/office/events/%d/publish" % e2, {"csrf": tok})
    check(r.status == 409 and "does not allow" in r.text,
          "publishing a cancelled event says the state does not allow it (409)")

    # ---- statistics ----
    r = regional.get("/office/stats?kind=1&from=%s" % time.strftime("%Y-%m-%d"))
    m = re.search(r'aria-labelledby="c-muni-h">.*?<th scope="row">743</th><td>(\d+)</td>'
                  r'<td>(\d+)</td>', r.text, re.S)
    check(r.status == 200 and m and m.group(2) == "3" and "<svg" in r.text and
          'role="img"' in r.text, "the statistics: Seinäjoki's partnership tables, 3 "
          "participants, as an SVG chart with its table")
    check(sj.get("/office/stats?municipality=905").status == 403,
          "the contact person's statistics of Vaasa: 403")
    r = sj.get("/office/stats")
    check(r.status == 200 and '<th scope="row">905</th>' not in r.text,
          "the contact person's statistics are Seinäjoki's")
    check(regional.get("/office/stats?from=2026-13-01").status == 400, "a bad date is 400")
    # "Spring 2021: 11 virtual tables, 478 participants" is one choice of period and mode.
    year, month = int(tomorrow[:4]), int(tomorrow[5:7])
    half, other = ("spring", "autumn") if month <= 6 else ("autumn", "spring")

    def muni_743(q):
        r = regional.get("/office/stats?kind=1&" + q)
        m = re.search(r'aria-labelledby="c-muni-h">.*?<th scope="row">743</th><td>(\d+)</td>'
                      r'<td>(\d+)</td>', r.text, re.S)
        return r, (m.group(2) if m else None)

    r, n = muni_743("period=%d-%s" % (year, half))
    check(r.status == 200 and n == "3" and ("%d</strong>: " % year) in r.text and 'value="%d-%s" selected' % (year, half) in r.text,
          "the period %s %d: the table's 3 participants, the period named in the summary"
          % (half, year))
    r, n = muni_743("period=%d-%s" % (year, other))
    check(r.status == 200 and n is None, "the other half of the year has none of them")
    r, n = muni_743("period=%d&mode=in-person" % year)
    check(r.status == 200 and n == "3", "the year, in person: 3")
    r, n = muni_743("period=%d&mode=online-only" % year)
    check(r.status == 200 and n is None, "the year, online only: none (the table has a place)")
    check(regional.get("/office/stats?period=2021-winter").status == 400,
          "a period that is not a year or its half is 400")
    check(regional.get("/office/stats?mode=virtual").status == 400, "an unknown mode is 400")

    # ---- the expert coordinator has no events ----
    ex, r = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    check(r.status == 303, "the expert coordinator signs in")
    check(ex.get("/office/events").status == 403, "the expert coordinator's events list: 403")

    # ---- the audit ----
    r = regional.get("/office/audit")
    check(r.status == 200, "the regional coordinator opens the audit")
    rows = re.findall(r"<tr[^>]*><td><time[^>]*>[^<]*</time></td><td>(\d+)</td><td><code>"
                      r"([^<]*)</code></td><td><code>([^<]*)</code></td><td>([^<]*)</td>", r.text)
    def has(action, obj, outcome_word):
        return any(a == action and o == obj and outcome_word in out for _, a, o, out in rows)
    check(has("events.event.get", "event=%d" % vid, "refused"),
          "the audit shows the refused opening of the Vaasa event")
    check(has("events.event.publish", "event=%d" % vid, "refused"),
          "and the refused publish")
    check(has("events.event.create", "event=%d" % eid, "done") and
          has("events.event.publish", "event=%d" % eid, "done"),
          "and the contact person's create and publish")
    check(has("events.signup.attendance", "event=%d signup=%d" % (eid, sids[1]), "done") and
          has("events.signup.attendance", "event=%d signup=%d" % (eid, sids[2]), "done") and
          has("events.signup.attendance", "event=%d signup=999999" % eid, "refused"),
          "and the markings at the door, one audit entry per person, and the refused one")
    check(has("web.account.add", "account=5", "done"), "and the account added on the page")
    check(not any(x in r.text for x in PII + list(PW.values())),
          "the audit page carries no names or passwords")

    # ---- lockout ----
    va = Session(s.base, "en")
    tok = csrf_of(va, "/office/sign-in")
    codes = [va.post("/office/sign-in", {"csrf": tok, "user": "vaasa",
                                         "password": "wrong-password-%d" % i}).status
             for i in range(5)]
    check(codes == [403, 403, 403, 403, 429], "five wrong passwords lock the account (%s)"
          % codes)
    r = va.post("/office/sign-in", {"csrf": tok, "user": "vaasa", "password": PW["vaasa"]})
    check(r.status == 429 and "locked" in r.text and "kp_session" not in va.cookies,
          "while locked even the right password is refused, saying so")
    set_clock(s.client(s.web_api, "admin", server="web"), 16 * 60 * 1000)
    r = va.post("/office/sign-in", {"csrf": tok, "user": "vaasa", "password": PW["vaasa"]})
    check(r.status == 303, "after 15 minutes (the web's clock) the right password signs in")

    # ---- a stolen cookie after sign-out; sign-out everywhere ----
    thief = Session(s.base, "en")
    thief.cookies["kp_session"] = sj.cookies["kp_session"]
    check(thief.get("/office/events").status == 200, "a copied cookie works while signed in")
    r = sj.post("/office/sign-out", {})
    check(r.status == 403, "sign-out without its CSRF token is refused")
    r = sj.post("/office/sign-out", {"csrf": csrf_of(sj, "/office")})
    check(r.status == 303, "the contact person signs out")
    check(thief.get("/office/events").status == 303, "the stolen cookie no longer signs in")
    check(thief.post("/office/events/%d/publish" % eid, {"csrf": tok}).status == 403,
          "nor posts")
    a1, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    a2, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(a1.get("/office").status == 200 and a2.get("/office").status == 200,
          "two sessions of one account")
    r = a1.post("/office/sign-out-all", {"csrf": csrf_of(a1, "/office")})
    check(r.status == 303 and a2.get("/office").status == 303,
          "sign-out everywhere ends the other session too")

    # ---- sessions end after session-minutes (480); expired ones leave the store ----
    def sessions_n():
        out = subprocess.run(["mdb_stat", "-s", "sessions", os.path.join(s.dir, "web")],
                             stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"Entries: (\d+)", out)
        return int(m.group(1)) if m else -1
    before = sessions_n()
    set_clock(s.client(s.web_api, "admin", server="web"), (9 * 60 + 16) * 60 * 1000)
    check(regional.get("/office").status == 303, "after 8 hours the session has ended")
    a3, r = office_sign_in(s.base, "alue", PW["alue"])
    # The turn commits right after the response is queued: wait for it a moment.
    end = time.time() + 3
    while sessions_n() != 1 and time.time() < end:
        time.sleep(0.05)
    after = sessions_n()
    check(r.status == 303 and before > 1 and after == 1,
          "a sign-in removes the expired sessions from the store (%d -> %d)" % (before, after))

    # ---- nothing secret in the web's log ----
    log = web.logtext()
    secrets = list(PW.values()) + [regional.cookies["kp_session"], planted]
    check(not any(x in log for x in secrets), "the web's log carries no password or cookie")
    check("office.audit" in log and "action=events.event.get" in log,
          "the web's log has the audit lines (ids only)")

    # ---- behind TLS: secure-cookies on ----
    web.stop()
    s.web(["--rate-per-s", "2000", "--rate-burst", "5000", "--secure-cookies", "on"])
    b, r = office_sign_in(s.base, "alue", PW["alue"])
    sc = [v for v in r.header_all("Set-Cookie") if "kp_session=" in v]
    check(r.status == 303 and len(sc) == 1 and sc[0].startswith("__Host-kp_session=") and
          "; Secure" in sc[0] and "HttpOnly" in sc[0] and "SameSite=Strict" in sc[0],
          "with secure-cookies on the session cookie is __Host-kp_session, Secure")
    check(r.header("strict-transport-security") is not None, "and HSTS is sent")
    check(b.get("/office").status == 200, "it signs in")
    plain = Session(s.base, "en")
    plain.cookies["kp_session"] = b.cookies["__Host-kp_session"]
    check(plain.get("/office").status == 303, "the cookie under the plain name is not taken")
finally:
    s.close()
done()
