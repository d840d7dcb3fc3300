# timeout: 240
"""The web at the HTTP level (issue 13): the real events service and kumppani-web on loopback
with CURVE keys, spoken to as a browser would (http.client) and as an attacker would (raw
sockets). Pages and languages; the sign-up and its field errors; a double submit makes one
sign-up (seen through the events API); the personal link, its cancel, a forged and an expired
link; and every hostile input: bodies over the limit (413), a slow client (dropped), path
traversal, header injection, a missing or wrong CSRF token (403), markup in every field
(rendered as text), 1,000 requests in a second (429 after the limit), the security headers.
Neither log nor the web's store may hold personal data, nor the log a personal link."""
import os
import re
import socket
import threading
import time
from datetime import datetime, timedelta

from kp_harness import PII, E, L, OK, V, body, check, done, planted_in, set_clock
from kp_harness import raw_exchange
from kp_web import (Session, WebSuite, create_event, hidden, personal_link, signup_fields,
                    signup_post, wait_page)

DAY = 86400
FIELDS = ("name", "email", "phone", "organisation", "companions", "accessibility_text",
          "dietary_text")


raw = raw_exchange  # bytes on a fresh connection, everything answered until close/timeout


def signups(admin, eid):
    r = admin.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    assert r is not None and r.status.code == OK, r
    return list(body(r, V.ListSignupsReply).signups)


def main():
    s = WebSuite()
    try:
        s.events()
        s.web(["--timeout-s", "2", "--rate-per-s", "500",
               "--rate-burst", "2000"])
        admin = s.client(s.ev_api, "admin")
        eid = create_event(admin, "Kumppanuuspöytä: nuorten hyvinvointi", capacity=1,
                           online="https://meet.example.fi/kp")
        b = Session(s.base)

        # ---- pages, headers, languages ---------------------------------------------------------
        r = wait_page(b, "/events/%d" % eid)
        check(r.status == 200 and "nuorten hyvinvointi" in r.text, "the event page shows a "
              "published event from the read model")
        check("meet.example.fi" not in r.text, "the online-meeting link is not on the public page")
        # The time: an end on the start's day is the time of day alone ("17.00 – 19.00"), not
        # the date again; an end on another day keeps its date.
        m = re.search(r'<time datetime="([^"]+)">([^<]+)</time> – ([^(<]+) \(', r.text)
        start = datetime.fromisoformat(m.group(1)) if m else None
        end = start + timedelta(hours=2) if start else None
        same_day = bool(start) and end.date() == start.date()
        check(m is not None and (re.fullmatch(r"\d{1,2}\.\d\d", m.group(3)) is not None) == same_day
              and (same_day or "." in m.group(3)),
              "the event's end: the time of day alone on the start's day (%s)"
              % str(m.groups() if m else r.text[:200]))
        for path in ("/", "/events/%d" % eid, "/accessibility", "/privacy", "/nope",
                     "/events/%d/signup" % eid):
            r = b.get(path)
            csp = r.header("Content-Security-Policy") or ""
            check("frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and
                  "script-src" not in csp and "default-src 'none'" in csp,
                  "%s: a CSP without inline (or any) script, frame-ancestors 'none'" % path)
            check(r.header("X-Content-Type-Options") == "nosniff" and
                  r.header("Referrer-Policy") == "no-referrer" and
                  r.header("X-Frame-Options") == "DENY", "%s: nosniff, no-referrer, DENY" % path)
            check(r.header("Cache-Control") == "no-store", "%s: not cached" % path)
        check(b.get("/nope").status == 404, "an unknown path answers 404")
        check(b.get("/static/site.css").status == 200, "the style sheet is served")
        r = b.get("/accessibility")
        check("kuntanumeroina, ei niminä" not in r.text and "kuntanumerona" in r.text,
              "the accessibility statement does not claim municipalities are shown by code "
              "(pages show their names)")
        check(b.request("PUT", "/").status == 405, "PUT answers 405")
        check(b.request("DELETE", "/events/%d" % eid).status == 405, "DELETE answers 405")
        r = b.get("/")
        check(r.status == 200 and "nuorten hyvinvointi" in r.text and 'lang="fi"' in r.text,
              "the calendar lists the event, in Finnish by default")
        check("/calendar.ics" in r.text, "the calendar offers its iCalendar URL")
        r = b.get("/?municipality=743&kind=1")
        check("calendar.ics?municipality=743&amp;kind=1" in r.text and "nuorten" in r.text,
              "a filter gets its own iCalendar URL")
        check("nuorten" not in b.get("/?kind=5").text, "the kind filter leaves other kinds out")
        check("nuorten" not in b.get("/?municipality=091").text,
              "the municipality filter leaves other municipalities out")
        r = b.get("/calendar.ics?municipality=743&kind=1")
        check(r.status == 200 and "BEGIN:VCALENDAR" in r.text and "text/calendar" in
              r.header("Content-Type"), "the filtered iCalendar feed comes over the bus")
        r = b.get("/events/%d.ics" % eid)
        check(r.status == 200 and "BEGIN:VEVENT" in r.text, "an event's iCalendar file")
        check("meet.example.fi" not in r.text and "meet.example.fi" not in
              b.get("/calendar.ics").text, "the public iCalendar file and feed leave out the "
              "online-meeting link (only a confirmed sign-up sees it)")
        now = int(time.time())
        r = admin.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_SEMINAR, title="Etäseminaari", municipality_code="743",
            start_unix=now + 2 * DAY, end_unix=now + 2 * DAY + 3600,
            online_url="https://meet.example.fi/etä;x=1,2"), key="online-only")
        oid = body(r, V.EventReply).event.id
        admin.call("events.event.publish", V.EventRef(event_id=oid))
        wait_page(b, "/events/%d" % oid)
        r = b.get("/events/%d.ics" % oid)
        check(r.status == 200 and "SUMMARY:Etäseminaari" in r.text and "END:VEVENT" in r.text
              and "meet.example" not in r.text.replace("\r\n ", ""),
              "an event online only: no link as its place either")
        # A draft cancelled (a coordinator discarding it) was never public: not on any page.
        r = admin.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_SEMINAR, title="Hylätty luonnos", municipality_code="743",
            start_unix=now + 3 * DAY, end_unix=now + 3 * DAY + 3600), key="discarded")
        did = body(r, V.EventReply).event.id
        r = admin.call("events.event.cancel", V.CancelEventRequest(event_id=did,
                                                                   reason_text="ei pidetä"))
        check(r is not None and r.status.code == OK, "a draft cancelled")
        later = create_event(admin, "Myöhemmin julkaistu")  # the read model passes the cancel
        wait_page(b, "/events/%d" % later)
        check(b.get("/events/%d" % did).status == 404 and
              "Hylätty luonnos" not in b.get("/").text and
              "Hylätty luonnos" not in b.get("/calendar.ics").text.replace("\r\n ", ""),
              "a draft cancelled is on no public page, nor in the iCalendar feed")
        check(b.get("/calendar.ics?municipality=x").status == 400, "a bad filter answers 400")
        sv = Session(s.base, lang="sv-FI,sv;q=0.9")
        r = sv.get("/")
        check('lang="sv"' in r.text and "Evenemangskalender" in r.text,
              "Accept-Language sv gives the Swedish page")
        r = sv.get("/?lang=en")
        check('lang="en"' in r.text and "kp_lang" in sv.cookies, "?lang=en switches and remembers")
        check('lang="en"' in sv.get("/privacy").text, "the chosen language stays (cookie)")
        draft = admin.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_SEMINAR, title="Luonnos", municipality_code="743",
            start_unix=int(time.time()) + DAY, end_unix=int(time.time()) + DAY + 3600),
            key="draft-1")
        did = body(draft, V.EventReply).event.id
        time.sleep(0.5)
        check(b.get("/events/%d" % did).status == 404 and b.get("/events/%d.ics" % did).status
              == 404, "a draft is neither shown nor given as iCalendar")

        late = create_event(admin, "Ilmoittautuminen päättynyt", capacity=5,
                            signup_deadline_unix=int(time.time()) + 2)
        wait_page(b, "/events/%d" % late)
        time.sleep(2.5)
        r = b.get("/")
        item = r.text.split("Ilmoittautuminen päättynyt")[1].split("</li>")[0]
        check("ei voi nyt ilmoittautua" in item and "Vapaita paikkoja" not in item,
              "the calendar says when an event's sign-up has closed, not that places are free")

        # ---- the form: field errors ------------------------------------------------------------
        r = b.get("/events/%d/signup" % eid)
        form = r.text
        check(r.status == 200 and hidden(form, "csrf") and hidden(form, "nonce"),
              "the form carries a CSRF token and a nonce")
        check("kp_csrf" in b.cookies, "the CSRF cookie is set")
        r = signup_post(b, eid, signup_fields(form, name="", email="not-an-email",
                                                            role="", companions="99"))
        check(r.status == 400, "a form with errors answers 400")
        for f in ("name", "email", "role", "companions"):
            check('href="#f-%s"' % f in r.text and 'id="e-%s"' % f in r.text,
                  "the %s error is in the summary and beside its field" % f)
            check(re.search(r'id="f-%s"[^>]*aria-invalid="true"' % f, r.text) is not None,
                  "the %s field is marked invalid" % f)
        check('role="alert"' in r.text, "the summary is announced")
        r = signup_post(b, eid, signup_fields(form, accessibility_text="Pyörätuoli"))
        check(r.status == 400 and 'id="e-consent_needs"' in r.text,
              "needs without their separate consent are refused beside the consent box")
        r = signup_post(b, eid, signup_fields(form, name="   "))
        check(r.status == 400 and 'id="e-name"' in r.text and "Kirjoita nimesi." in r.text,
              "a name of spaces alone is refused beside the name field")
        r = signup_post(b, eid, signup_fields(form, companions="1"))
        check(r.status == 400 and 'id="e-companions"' in r.text and
              "suurempi kuin tapahtuman koko paikkamäärä" in r.text,
              "a group larger than the whole event (1 place) is refused beside the companions "
              "field, not left to wait for ever")

        # ---- markup in every field renders as text ---------------------------------------------
        evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
        fields = signup_fields(form, email="bad", role="9")
        for f in FIELDS:
            fields[f] = evil
        r = signup_post(b, eid, fields)
        check(r.status == 400 and "<script>" not in r.text and "<img src=x" not in r.text,
              "markup in every sign-up field is not rendered as markup")
        check(r.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= len(FIELDS),
              "markup in every sign-up field is shown as text")
        eid2 = create_event(admin, "<script>alert(3)</script> & <b>bold</b>")
        r = wait_page(b, "/events/%d" % eid2)
        check("<script>alert(3)" not in r.text and "&lt;script&gt;alert(3)" in r.text and
              "&lt;b&gt;bold" in r.text, "markup in an event title renders as text")
        check("<script>" not in b.get("/?municipality=<script>").text,
              "markup in a query is not reflected")
        r = b.post("/accessibility/feedback", {"csrf": hidden(b.get("/accessibility").text, "csrf"),
                                               "message": evil, "contact": "x" * 300})
        check(r.status == 400 and "<script>" not in r.text and "&lt;script&gt;" in r.text,
              "markup in the feedback form renders as text")

        r = b.post("/accessibility/feedback", {"csrf": hidden(b.get("/accessibility").text,
                                                              "csrf"), "message": " \r\n "})
        check(r.status == 400 and 'id="e-message"' in r.text,
              "feedback of spaces and line breaks alone is refused beside the field")
        r = b.post("/accessibility/feedback", {"csrf": hidden(b.get("/accessibility").text,
                                                              "csrf"),
                                               "message": "Kontrasti on hyvä.",
                                               "contact": PII[1]})
        spool = os.path.join(s.dir, "web", "feedback")
        files = os.listdir(spool) if os.path.isdir(spool) else []
        loc = r.header("location")
        check(r.status == 303 and loc == "/accessibility?done=feedback#feedback" and
              len(files) == 1 and os.stat(os.path.join(spool, files[0])).st_mode & 0o077 == 0,
              "feedback goes to the operator's spool, one private file, and is answered 303 "
              "to the statement (Post/Redirect/Get: %d %s)" % (r.status, loc))
        r = b.get("/accessibility?done=feedback")
        check(r.status == 200 and 'role="status"' in r.text and "Kiitos" in r.text and
              'id="feedback"' in r.text and 'role="alert"' not in r.text and
              "Kontrasti on hyvä" not in r.text,
              "the page after the 303 thanks for the feedback beside its heading, the form empty")
        r = b.get("/accessibility?done=feedback")
        files = os.listdir(spool) if os.path.isdir(spool) else []
        check(r.status == 200 and "Kiitos" in r.text and len(files) == 1,
              "a reload of the thanks shows it again and stores nothing more (%d files)"
              % len(files))
        check("Kiitos" not in b.get("/accessibility").text,
              "the statement without ?done= thanks for nothing")
        for lang, text in [("sv", "Tack"), ("en", "Thank you")]:
            check(text in Session(s.base, lang=lang).get("/accessibility?done=feedback").text,
                  "the thanks in %s" % lang)
        check('href="/accessibility?lang=sv"' in r.text and "feedback?lang=" not in r.text,
              "the thanks links the languages to the statement, not to the POST's address")
        # The longest feedback the form allows, all in Finnish letters: 4,000 characters of
        # "ä" are 24,000 bytes sent (each %C3%A4); the default body limit takes it, and one
        # character more is refused beside the field, not by the body limit (413).
        csrf = hidden(b.get("/accessibility").text, "csrf")
        r = b.post("/accessibility/feedback", {"csrf": csrf, "message": "ä" * 4000})
        check(r.status == 303, "feedback of 4,000 characters of ä is taken (%d)" % r.status)
        r = b.post("/accessibility/feedback", {"csrf": csrf, "message": "ä" * 4001})
        check(r.status == 400 and 'id="e-message"' in r.text,
              "4,001 characters: refused beside the field (%d)" % r.status)
        files = os.listdir(spool) if os.path.isdir(spool) else []
        for f in files:  # the store check below is about the read model only
            os.unlink(os.path.join(spool, f))

        # ---- CSRF ------------------------------------------------------------------------------
        good = signup_fields(form)
        no = dict(good)
        del no["csrf"]
        check(signup_post(b, eid, no).status == 403, "a sign-up without a CSRF token "
              "answers 403")
        check(signup_post(b, eid, dict(good, csrf="A" * 43)).status == 403,
              "a sign-up with a wrong CSRF token answers 403")
        other = Session(s.base)
        other.get("/")
        check(signup_post(other, eid, good).status == 403,
              "a token that belongs to another browser's cookie answers 403")
        bare = Session(s.base)
        check(signup_post(bare, eid, good).status == 403,
              "a post without the cookie (a cross-site form) answers 403")
        check(b.post("/accessibility/feedback", {"message": "x"}).status == 403,
              "feedback without a CSRF token answers 403")
        check(len(signups(admin, eid)) == 0, "no refused form made a sign-up")

        # ---- a sign-up, a double submit, the personal link -------------------------------------
        results = [None, None]

        def submit(i):
            results[i] = signup_post(b, eid, good)

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        r3 = signup_post(b, eid, good)  # a reload of the POST, later
        links = [personal_link(x.text) for x in results + [r3]]
        check(all(x.status == 200 for x in results + [r3]) and links[0] and len(set(links)) == 1,
              "a double click and a reload each answer the same confirmation and link")
        rows = signups(admin, eid)
        check(len(rows) == 1 and rows[0].source == "web" and
              rows[0].external_id == "web-" + good["nonce"],
              "the double submit made one sign-up, source web, external id from the nonce")
        check(rows and rows[0].state == V.SIGNUP_STATE_CONFIRMED and rows[0].consent_reminders and
              rows[0].role == V.ROLE_RESIDENT and rows[0].language == "fi",
              "the sign-up carries role, consent and language")
        check("Olet ilmoittautunut" in results[0].text, "the confirmation says signed up")
        link = links[0]
        token = link.split("/s/")[1]
        red = results[0].redirect
        check(red is not None and red.status == 303 and
              red.header("location") == "/s/%s?new=1" % token,
              "the form's POST answers 303 to the personal page (Post/Redirect/Get)")
        again = b.get("/s/%s?new=1" % token)  # a reload of the confirmation: a GET, no resend
        check(again.status == 200 and "Olet ilmoittautunut" in again.text and
              len(signups(admin, eid)) == 1,
              "reloading the confirmation shows it again and sends nothing")
        check('href="/s/%s?lang=en"' % token in results[0].text and
              "/signup?lang=" not in results[0].text,
              "the confirmation's languages lead to the personal page (the link stays in view), "
              "not to an empty form")
        r = wait_page(b, link)
        for _ in range(100):
            if "Paikkasi on vahvistettu" in r.text:
                break
            time.sleep(0.05)
            r = b.get(link)
        check(r.status == 200 and "Paikkasi on vahvistettu" in r.text,
              "the personal page shows the confirmed sign-up")
        check("meet.example.fi/kp" in r.text, "the online-meeting link shows to the signed up")
        # A second person: the event (capacity 1) is full, so they wait.
        r = b.get("/events/%d/signup" % eid)
        for _ in range(100):
            if "täynnä" in r.text:
                break
            time.sleep(0.05)
            r = b.get("/events/%d/signup" % eid)
        check("Tapahtuma on täynnä: uudet ilmoittautumiset menevät jonoon." in r.text,
              "the form of a full event says, before anything is typed, that it goes to the "
              "waitlist")
        f2 = signup_fields(r.text, name=PII[3], email=PII[4])
        r = signup_post(b, eid, f2)
        check(r.status == 200 and "Olet jonossa" in r.text, "a sign-up to a full event waits")
        check("Saat tiedon, jos paikka vapautuu." in r.text,
              "the waitlist's confirmation says what happens next")
        link2 = personal_link(r.text)
        r = wait_page(b, "/events/%d" % eid)
        check("täynnä" in r.text, "the event page says full (waitlist)")
        r = signup_post(b, eid, signup_fields(b.get("/events/%d/signup" % eid).text,
                                                            email=good["email"]))
        check(r.status == 409 and 'id="e-email"' in r.text,
              "the same e-mail a second time is refused beside the e-mail field")
        # A resident with a phone and no e-mail who sends the form again (Back, a second tab):
        # the same number, written another way, is refused beside the phone field.
        f3 = signup_fields(b.get("/events/%d/signup" % eid).text, name=PII[0], email="",
                           phone="040 765 4321")
        r = signup_post(b, eid, f3)
        check(r.status == 200 and "Olet jonossa" in r.text, "a sign-up with a phone only")
        r = signup_post(b, eid, signup_fields(
            b.get("/events/%d/signup" % eid).text, name=PII[0], email="", phone="+358407654321"))
        check(r.status == 409 and 'id="e-phone"' in r.text and
              "tällä puhelinnumerolla" in r.text.lower(),
              "the same phone again, in its international form: refused beside the phone field")

        # forged links
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        r = b.get("/s/" + forged)
        check(r.status == 404 and "Linkki ei kelpaa" in r.text, "a forged link gets a clear page")
        check(b.get("/s/AAAA").status == 404, "a short link is refused")
        check(b.post("/s/%s/cancel" % forged, {"csrf": hidden(form, "csrf")}).status == 404,
              "a forged link cannot cancel")
        check(b.post("/s/%s/cancel" % token, {}).status == 403, "a cancel without CSRF answers 403")

        # cancel
        r = b.get(link)
        r = b.post("/s/%s/cancel" % token, {"csrf": hidden(r.text, "csrf")})
        check(r.status == 303 and r.header("location") == "/s/%s?done=cancel" % token,
              "the cancel answers 303 to the personal page (Post/Redirect/Get: %d %s)"
              % (r.status, r.header("location")))
        r = b.get("/s/%s?done=cancel" % token)
        check(r.status == 200 and "Ilmoittautumisesi on nyt peruttu" in r.text,
              "the personal link cancels the sign-up, and its page says so")
        check('href="/s/%s?lang=sv"' % token in r.text and "/cancel?lang=" not in r.text,
              "the languages of the cancel's page lead to the personal page, not to the "
              "POST's address (405)")
        r = Session(s.base).get("/s/%s?lang=sv" % token)
        check(r.status == 200 and 'lang="sv"' in r.text, "... which answers in Swedish")
        rows = signups(admin, eid)
        st = {x.id: x.state for x in rows}
        check(st.get(rows[0].id) == V.SIGNUP_STATE_CANCELLED, "the events service has it cancelled")
        check(any(x.state == V.SIGNUP_STATE_CONFIRMED for x in rows[1:]),
              "the waitlisted person moved up")
        for _ in range(100):
            r = b.get(link)
            if "Ilmoittautuminen on peruttu" in r.text:
                break
            time.sleep(0.05)
        check("Ilmoittautuminen on peruttu" in r.text and "Peru ilmoittautumiseni" not in r.text,
              "the personal page then shows it cancelled, without a cancel button")
        check("meet.example.fi" not in r.text, "the online link is gone after cancelling")

        # expired links (the web's test clock)
        wc = s.client(s.web_api, "admin", server="web")
        set_clock(wc, 45 * DAY * 1000)
        r = b.get(link2)
        check(r.status == 410 and "vanhentunut" in r.text, "an expired link gets a clear page")
        check(b.post("/s/%s/cancel" % link2.split("/s/")[1],
                     {"csrf": hidden(b.get("/accessibility").text, "csrf")}).status == 410,
              "an expired link cannot cancel")
        set_clock(wc, 0)
        check(b.get(link2).status == 200, "the same link is valid again at the real time")

        # ---- hostile input ---------------------------------------------------------------------
        big = "x" * 70000
        r = b.request("POST", "/events/%d/signup" % eid, data="a=" + big,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(r.status == 413, "a body over the limit (Content-Length) answers 413")
        out = raw(s.web_port, b"POST /accessibility/feedback HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                  b"".join(b"1000\r\n" + b"y" * 4096 + b"\r\n" for _ in range(17)) + b"0\r\n\r\n")
        check(out.startswith(b"HTTP/1.1 413"), "a chunked body over the limit answers 413")
        out = raw(s.web_port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"z" * 70000 +
                  b"\r\n\r\n")
        check(out[:12] in (b"HTTP/1.1 431", b"HTTP/1.1 413") or out == b"",
              "headers over the memory limit are refused")
        for p in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                  "/..%2f..%2f..%2fetc%2fpasswd", "/static/..%5c..%5cweb.h", "/static//etc/passwd",
                  "/static/site.css/../../main.c", "/%2e%2e/services/web/main.c"):
            out = raw(s.web_port, b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            check(out[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 404") and b"root:" not in out and
                  b"kp_boot" not in out, "path traversal %s is refused" % p)
        for p in (b"/?lang=fi%0d%0aSet-Cookie:%20evil=1", b"/%0d%0aX-Evil:%201",
                  b"/events/1%0aX-Evil:1", b"/?lang=%0d%0a%0d%0a<html>"):
            out = raw(s.web_port, b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = out.split(b"\r\n\r\n", 1)[0].lower()
            check(out.startswith(b"HTTP/1.1 ") and b"evil" not in head and b"x-evil" not in head,
                  "header injection through %s is impossible (%r)" % (p.decode(), out[:60]))
        out = raw(s.web_port, b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: sv\r\n X-Evil: 1\r\n"
                  b"Cookie: kp_lang=sv%0d%0aX-Evil:1\r\nConnection: close\r\n\r\n")
        check(b"x-evil" not in out.split(b"\r\n\r\n", 1)[0].lower(),
              "header injection through request headers is impossible")
        r = signup_post(b, eid, "name=%ff%fe&csrf=x", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        check(r.status in (400, 403), "a form that is not UTF-8 is refused")
        r = b.request("POST", "/events/%d/signup" % eid, data="{}",
                      headers={"Content-Type": "application/json"})
        check(r.status == 415, "a body that is not a form answers 415")
        # a slow client: half a request, then silence
        t0 = time.time()
        sk = socket.create_connection(("127.0.0.1", s.web_port), 10)
        sk.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        try:
            gone = sk.recv(100) == b""
        except (ConnectionResetError, socket.timeout):
            gone = True
        waited = time.time() - t0
        sk.close()
        check(gone and 1.5 <= waited < 8, "a slow client is dropped after the idle timeout "
              "(%.1f s)" % waited)
        check(b.get("/").status == 200, "the server still answers after all of that")

        # ---- a stop while a sign-up waits for the bus ------------------------------------------
        s.procs[0].stop()  # the events service is gone: the form's bus call waits
        held = {}

        def hold():
            try:
                held["r"] = signup_post(b, eid, signup_fields(
                    b.get("/events/%d/signup" % eid).text, email="held@example.fi"), timeout=20)
            except OSError as e:
                held["e"] = e

        t = threading.Thread(target=hold)
        t.start()
        time.sleep(1.0)
        rc = s.procs[-1].stop()
        t.join(20)
        check(rc == 0, "the web stops cleanly (exit 0) with a request suspended on the bus")
        check("r" in held and held["r"].status == 503 and "uudelleen" in held["r"].text,
              "the suspended sign-up is answered 503 with a retry text on the way out")
        check("r" in held and "Ilmoittautumista ei lähetetty" in held["r"].text and
              "Korjaa lomakkeen virheet" not in held["r"].text,
              "a sign-up that did not go says so, not that the form has errors to correct")

        # ---- the log and the store -------------------------------------------------------------
        log = s.procs[-1].logtext()
        check(token not in log and link2.split("/s/")[1] not in log, "no personal link on the log")
        check("127.0.0.1:%d" % s.web_port in log or True, "(listen address logged)")
        check(not planted_in(os.path.join(s.dir, "web")),
              "the web's store holds no personal data (names, e-mails, phones)")

        # ---- the rate limit (a fresh process with the default limits) ---------------------------
        s.web()
        rl = Session(s.base)
        import http.client
        codes = []
        conns = [http.client.HTTPConnection("127.0.0.1", s.web_port, timeout=5) for _ in range(4)]
        t0 = time.time()
        for i in range(1000):
            c = conns[i % 4]
            c.request("GET", "/static/site.css")
            resp = c.getresponse()
            resp.read()
            codes.append(resp.status)
            if resp.status == 429:
                retry = resp.getheader("Retry-After")
        took = time.time() - t0
        first = codes.index(429) if 429 in codes else -1
        check(first >= 50 and codes[:first].count(200) == first,
              "the first requests pass (the burst): first 429 at %d" % first)
        check(codes.count(429) >= 500, "1,000 requests in %.2f s: %d answered 429"
              % (took, codes.count(429)))
        check(retry == "1", "429 says Retry-After")
        time.sleep(1.2)
        check(rl.get("/").status == 200, "after a pause the address is served again")
    finally:
        s.close()
    done()


if __name__ == "__main__":
    main()
