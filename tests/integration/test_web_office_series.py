# timeout: 240
"""The back office's series and waitlist (issue 14, item 2) over HTTP, against the real events
service and kumppani-web with its office key; then tests/web/office_series.mjs in headless
Chromium (axe on every new section state, screenshots office-6N-*.png).

Checked: a municipal contact person creates a weekly series from the new-event page (the
events service has its occurrences a week apart), publishes them, changes the series from
its second occurrence on (title and time: occurrences 2 and 3 move, the first stays) and
extends it by two published occurrences; bad input is 400 (a repeat count of 1, nothing to
change, an extension of 0); the waitlist is shown in order with the open offers and their
deadlines; "promote" refuses (409) a person who does not fit, and offers the place beyond the
capacity when asked; "extend" moves an open offer's deadline by the chosen time, and an
extension of a person without an open offer is 409; another municipality's contact person is
refused (403) on every new action, nothing changes, and the audit shows the refusals; a
sign-up of another event through one's own event is 403; a form without its CSRF token is
refused; the audit holds ids only. Personal data is planted (kp_harness PII)."""
import os
import re
import shutil
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kp_harness import PII, V, body, check, done, set_clock, signup_req
from kp_web import (BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, create_event, csrf_of, hidden,
                    office_accounts, office_sign_in, run_browser)

HEL = ZoneInfo("Europe/Helsinki")
OUT = BROWSER_OUT
PW = OFFICE_PW


def occurrences(admin, series_id):
    r = admin.call("events.event.list", V.ListEventsRequest(series_id=series_id, limit=500))
    return sorted(body(r, V.ListEventsReply).events, key=lambda e: e.series_index)


def get_event(admin, eid):
    return body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event


def get_signup(admin, sid):
    return body(admin.call("events.signup.get", V.CancelSignupRequest(signup_id=sid)),
                V.SignupReply).signup


def local(ts):
    return datetime.fromtimestamp(ts, HEL)


s = WebSuite()
try:
    s.events(["--test-clock", "on"])
    s.web(["--rate-per-s", "2000", "--rate-burst", "5000"])
    admin = s.client(s.ev_api, "admin")
    pubc = s.client(s.ev_api, "web-publisher")
    office_accounts(s, "alue", "seinajoki", "vaasa")
    sj, r = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(r.status == 303, "the Seinäjoki contact person signs in")
    va, r = office_sign_in(s.base, "vaasa", PW["vaasa"])
    check(r.status == 303, "the Vaasa contact person signs in")

    # ---- a series from the new-event page ----
    page = sj.get("/office/events/new")
    check(page.status == 200 and 'name="repeat"' in page.text and 'value="weekly"' in page.text,
          "the new-event form has a repeat fieldset (weekly, ...)")
    first_day = (datetime.now(HEL) + timedelta(days=2)).date()
    fields = {"csrf": hidden(page.text, "csrf"), "nonce": hidden(page.text, "nonce"),
              "title": "Kylätalojen kumppanuuspöytä", "kind": "1", "municipality": "743",
              "date": first_day.isoformat(), "start": "10:00", "end": "12:00",
              "capacity": "20", "place": "Seinäjoen kaupungintalo", "language": "fi",
              "repeat": "weekly", "repeat_count": "1"}
    r = sj.post("/office/events", fields)
    check(r.status == 400 and 'id="f-repeat_count"' in r.text and 'aria-invalid="true"' in r.text,
          "a series of one occurrence is refused (400) beside its field")
    r = sj.post("/office/events", dict(fields, repeat="yearly", repeat_count="3"))
    check(r.status == 400, "an unknown repetition is refused (400)")
    r = sj.post("/office/events", dict(fields, repeat_count="3", municipality="905"))
    check(r.status == 403, "a series for another municipality is refused (403)")
    r = sj.post("/office/events", dict(fields, repeat_count="3"))
    m = re.match(r"/office/events/(\d+)\?done=series_created#series$", r.header("location") or "")
    check(r.status == 303 and m, "the contact person creates a weekly series of three (303 to "
          "its first occurrence)")
    e1 = int(m.group(1)) if m else 0
    r2 = sj.post("/office/events", dict(fields, repeat_count="3"))
    check(r2.header("location") == r.header("location"),
          "the same form sent twice makes one series (its nonce is the idempotency key)")
    ev1 = get_event(admin, e1)
    series = ev1.series_id
    occ = occurrences(admin, series)
    check(series and len(occ) == 3 and [o.series_index for o in occ] == [1, 2, 3] and
          all(o.municipality_code == "743" and o.state == V.EVENT_STATE_DRAFT for o in occ),
          "the events service has the series: three drafts in Seinäjoki (%d)" % len(occ))
    check([local(o.start_unix).date() for o in occ] ==
          [first_day + timedelta(days=7 * k) for k in range(3)] and
          all(local(o.start_unix).strftime("%H:%M") == "10:00" for o in occ),
          "a week apart, each at 10.00 Helsinki time")
    for o in occ:
        r = sj.post("/office/events/%d/publish" % o.id, {"csrf": csrf_of(sj, "/office")})
        check(r.status == 303, "occurrence %d published" % o.series_index)
    e2, e3 = occ[1].id, occ[2].id
    page = sj.get("/office/events/%d" % e2)
    check(page.status == 200 and 'id="series"' in page.text and
          page.text.count('href="/office/events/%d"' % e1) == 1 and 'aria-current="page"' in
          page.text and "/series/change" in page.text and "/series/extend" in page.text,
          "the second occurrence's page lists the series with its forms")

    # ---- change from the second occurrence on ----
    tok = hidden(page.text, "csrf")
    new_day = first_day + timedelta(days=8)
    change = {"csrf": tok, "title": "Kylätalojen kumppanuuspöytä (uusi sali)",
              "place": "Kylätalo Kiikeri", "capacity": "20", "date": new_day.isoformat(),
              "start": "15:00", "end": "16:30", "reason": "Sali vaihtui"}
    r = sj.post("/office/events/%d/series/change" % e2, dict(change, csrf=""))
    check(r.status == 403, "a series change without its CSRF token is refused (403)")
    r = va.post("/office/events/%d/series/change" % e2, dict(change, csrf=csrf_of(va, "/office")))
    check(r.status == 403 and "permission" in r.text,
          "the Vaasa contact person changing Seinäjoki's series: 403 saying so")
    check(get_event(admin, e2).title == occ[1].title, "and nothing changed")
    r = sj.post("/office/events/%d/series/change" % e2,
                {"csrf": tok, "title": occ[1].title, "place": occ[1].place, "capacity": "20",
                 "date": local(occ[1].start_unix).date().isoformat(), "start": "10:00",
                 "end": "12:00"})
    check(r.status == 400, "a change that changes nothing is 400")
    r = sj.post("/office/events/%d/series/change" % e2, dict(change, date="2026-13-01"))
    check(r.status == 400, "an impossible date is 400")
    r = sj.post("/office/events/%d/series/change" % e2, change)
    check(r.status == 303 and r.header("location").endswith("?done=series_changed#series"),
          "the contact person changes the series from the second occurrence on")
    after = occurrences(admin, series)
    check(after[0].title == occ[0].title and after[0].start_unix == occ[0].start_unix,
          "the first occurrence is unchanged")
    check(all(o.title.endswith("(uusi sali)") and o.place == "Kylätalo Kiikeri" and
              o.state == V.EVENT_STATE_RESCHEDULED for o in after[1:]),
          "the second and third have the new title and place, each rescheduled")
    check([local(o.start_unix).date() for o in after[1:]] == [new_day, new_day + timedelta(7)]
          and all(local(o.start_unix).strftime("%H:%M") == "15:00" and
                  o.end_unix - o.start_unix == 5400 for o in after[1:]),
          "and moved a day later to 15.00-16.30, a week apart")
    r = sj.get("/office/events/%d?done=series_changed" % e2)
    check(r.status == 200 and 'role="status"' in r.text, "the page says the series changed")

    # ---- extend ----
    page = sj.get("/office/events/%d" % e3)
    ext = {"csrf": hidden(page.text, "csrf"), "nonce": hidden(page.text, "nonce"), "count": "2",
           "publish": "yes"}
    r = sj.post("/office/events/%d/series/extend" % e3, dict(ext, count="0"))
    check(r.status == 400, "an extension by 0 occurrences is 400")
    r = va.post("/office/events/%d/series/extend" % e3, dict(ext, csrf=csrf_of(va, "/office")))
    check(r.status == 403, "the Vaasa contact person extending it: 403")
    check(len(occurrences(admin, series)) == 3, "and nothing was added")
    r = sj.post("/office/events/%d/series/extend" % e3, ext)
    check(r.status == 303 and r.header("location").endswith("?done=series_extended#series"),
          "the contact person extends the series by two")
    sj.post("/office/events/%d/series/extend" % e3, ext)
    after = occurrences(admin, series)
    check(len(after) == 5 and [o.series_index for o in after] == [1, 2, 3, 4, 5] and
          all(o.state == V.EVENT_STATE_PUBLISHED for o in after[3:]) and
          [local(o.start_unix).date() for o in after[3:]] ==
          [new_day + timedelta(14), new_day + timedelta(21)],
          "the events service has five occurrences, the two new ones published a week apart "
          "(the same form twice adds them once)")
    plain = sj.get("/office/events/%d" % create_event(admin, "Yksittäinen", municipality_code="743"))
    check(plain.status == 200 and 'id="series"' not in plain.text,
          "an event outside a series has no series section")

    # ---- the waitlist and offers ----
    wid = create_event(admin, "Jonopöytä", capacity=2, offer_window_minutes=60,
                       municipality_code="743")
    names = [PII[0], PII[3], "Kalle Kuusinen", "Maija Mäki"]
    sids = []
    for i, name in enumerate(names):
        rr = pubc.call("events.signup.submit", signup_req(wid, 300 + i, source="web", name=name,
                                                          email="w%d@example.fi" % i),
                       key="w%d" % i)
        sids.append(body(rr, V.SignupReply).signup.id)
    vid = create_event(admin, "Vaasan jonopöytä", capacity=1, municipality_code="905")
    vsids = [body(pubc.call("events.signup.submit", signup_req(vid, 400 + i, source="web"),
                            key="v%d" % i), V.SignupReply).signup.id for i in range(2)]
    page = sj.get("/office/events/%d" % wid)
    wl = page.text[page.text.find('id="wl-waiting"'):page.text.find('id="wl-offers"')]
    check(page.status == 200 and 'id="waitlist"' in page.text and
          wl.find("Kalle Kuusinen") < wl.find("Maija Mäki") and wl.find("Kalle Kuusinen") > 0
          and PII[0] not in wl, "the event page shows the waitlist in order (the confirmed are "
          "not on it)")
    check("/promote" in page.text and 'name="beyond"' in page.text,
          "with a promote form per person")
    tok = hidden(page.text, "csrf")

    def wl_post(action, form, who=sj):
        """Posts a waitlist form of the event page ("promote", "extend-offer") as who."""
        return who.post("/office/events/%d/%s" % (wid, action), form)

    r = wl_post("promote", {"csrf": tok, "signup": str(sids[2])})
    check(r.status == 409, "promoting a person who does not fit the capacity is 409")
    check(get_signup(admin, sids[2]).state == V.SIGNUP_STATE_WAITLISTED, "and they still wait")
    r = wl_post("promote", {"csrf": csrf_of(va, "/office"), "signup": str(sids[2]),
                            "beyond": "yes"}, who=va)
    check(r.status == 403, "the Vaasa contact person promoting on Seinäjoki's event: 403")
    r = wl_post("promote", {"csrf": tok, "signup": str(vsids[1]), "beyond": "yes"})
    check(r.status == 403, "promoting another event's sign-up through one's own event: 403")
    check(get_signup(admin, vsids[1]).state == V.SIGNUP_STATE_WAITLISTED, "and it still waits")
    r = wl_post("promote", {"signup": str(sids[2]), "beyond": "yes"})
    check(r.status == 403, "a promotion without its CSRF token is refused (403)")
    check(get_signup(admin, sids[2]).state == V.SIGNUP_STATE_WAITLISTED, "and changes nothing")
    r = wl_post("promote", {"csrf": tok, "signup": "x"})
    check(r.status == 400, "a promotion without a person is 400")
    t0 = int(time.time() * 1000)
    r = wl_post("promote", {"csrf": tok, "signup": str(sids[2]), "beyond": "yes"})
    check(r.status == 303 and r.header("location").endswith("?done=offered#waitlist"),
          "promoting beyond the capacity offers the place (the event works with offers)")
    su = get_signup(admin, sids[2])
    check(su.state == V.SIGNUP_STATE_OFFERED and
          abs(su.offer_deadline_ms - (t0 + 3600 * 1000)) < 60 * 1000,
          "the events service has the offer, answer within the event's 60 minutes")
    page = sj.get("/office/events/%d?done=offered" % wid)
    offers = page.text[page.text.find('id="wl-offers"'):]
    check("Kalle Kuusinen" in offers and "/extend-offer" in offers and 'role="status"' in page.text,
          "the open offer is listed with its deadline and an extend form")
    r = wl_post("extend-offer", {"csrf": tok, "signup": str(sids[2]), "minutes": "7"})
    check(r.status == 400, "an extension not among the choices is 400")
    r = wl_post("extend-offer", {"csrf": tok, "signup": str(sids[3]), "minutes": "1440"})
    check(r.status == 409, "extending a person without an open offer is 409")
    r = wl_post("extend-offer", {"csrf": csrf_of(va, "/office"), "signup": str(sids[2]),
                                 "minutes": "1440"}, who=va)
    check(r.status == 403, "the Vaasa contact person extending the offer: 403")
    check(get_signup(admin, sids[2]).offer_deadline_ms == su.offer_deadline_ms,
          "and the deadline is unchanged")
    r = wl_post("extend-offer", {"csrf": tok, "signup": str(sids[2]), "minutes": "1440"})
    check(r.status == 303 and r.header("location").endswith("?done=offer_extended#waitlist"),
          "the contact person extends the offer by a day")
    su2 = get_signup(admin, sids[2])
    check(su2.state == V.SIGNUP_STATE_OFFERED and
          su2.offer_deadline_ms == su.offer_deadline_ms + 86400 * 1000,
          "the events service has the deadline a day later")
    r = wl_post("promote", {"csrf": tok, "signup": str(sids[3]), "beyond": "yes"})
    check(r.status == 303, "the last waitlisted person is offered a place too")
    ev = get_event(admin, wid)
    check(ev.confirmed_n == 2 and ev.offered_n == 2 and ev.waitlisted_n == 0,
          "the event counts 2 confirmed, 2 offered, none waiting (%d, %d, %d)"
          % (ev.confirmed_n, ev.offered_n, ev.waitlisted_n))

    # ---- the audit ----
    reg, _ = office_sign_in(s.base, "alue", PW["alue"])
    r = reg.get("/office/audit")
    rows = re.findall(r"<tr[^>]*><td><time[^>]*>[^<]*</time></td><td>(\d+)</td><td><code>"
                      r"([^<]*)</code></td><td><code>([^<]*)</code></td><td>([^<]*)</td>", r.text)

    def has(action, obj, word):
        return any(a == action and o == obj and word in out for _, a, o, out in rows)
    check(has("events.series.create", "series=%d event=%d" % (series, e1), "done"),
          "the audit has the series created (ids only)")
    check(has("events.series.update", "event=%d series=%d" % (e2, series), "done") and
          has("events.series.update", "event=%d" % e2, "refused"),
          "the series changed, and the Vaasa contact person's refused change")
    check(has("events.series.extend", "event=%d series=%d" % (e3, series), "done") and
          has("events.series.extend", "event=%d" % e3, "refused"), "the extension and its refusal")
    check(has("events.signup.promote", "event=%d signup=%d" % (wid, sids[2]), "done") and
          has("events.signup.promote", "event=%d" % wid, "refused") and
          has("events.signup.promote", "event=%d signup=%d" % (wid, vsids[1]), "refused"),
          "the promotion, the Vaasa refusal and the other event's sign-up refused")
    check(has("events.signup.extend_offer", "event=%d signup=%d" % (wid, sids[2]), "done") and
          has("events.signup.extend_offer", "event=%d" % wid, "refused"),
          "the offer extended and the refusal")
    check(not any(x in r.text for x in PII), "the audit page carries no names")

    # ---- in a browser: the new sections, axe, screenshots ----
    node = shutil.which("node")
    if node and os.path.exists("/usr/bin/chromium") and \
            os.path.exists(os.path.join(WEBDIR, "office_series.mjs")):
        os.makedirs(OUT, exist_ok=True)
        for f in os.listdir(OUT):  # this test's own screenshots (office-60..69)
            if f.startswith("office-6") and f[8:9].isdigit():
                os.remove(os.path.join(OUT, f))
        bid = create_event(admin, "Selainpöytä", capacity=1, offer_window_minutes=120,
                           municipality_code="743")
        bsids = [body(pubc.call("events.signup.submit", signup_req(
            bid, 500 + i, source="web", name=n, email="s%d@example.fi" % i), key="s%d" % i),
            V.SignupReply).signup.id for i, n in enumerate([PII[0], PII[3], "Kalle Kuusinen"])]
        cfg = {"municipal": ["seinajoki", PW["seinajoki"]], "other": ["vaasa", PW["vaasa"]],
               "occurrence": e2, "waitlist_event": bid, "waiting": bsids[1:], "first_day":
               (first_day + timedelta(days=3)).isoformat()}
        rc, _, sm = run_browser(node, WEBDIR, "office_series.mjs", s.base, OUT, cfg=cfg,
                                  timeout=150)
        check(rc == 0, "the browser: a series created, changed and extended, the "
              "waitlist promoted and an offer extended, the refusal; axe and screenshots")
        axes, shots = sm.get("axe", []), sm.get("screenshots", [])
        check(len(axes) == 10 and all(a["violations"] == 0 for a in axes),
              "axe: %d page states, 0 violations" % len(axes))
        check(len(shots) == 9 and all(os.path.exists(x["file"]) for x in shots),
              "screenshots (%d) under %s" % (len(shots), OUT))
        check(get_signup(admin, bsids[1]).state == V.SIGNUP_STATE_OFFERED,
              "the browser's promotion reached the events service")
    else:
        check(False, "node, Debian's chromium and tests/web/office_series.mjs are there")
finally:
    s.close()
done()
