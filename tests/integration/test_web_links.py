# timeout: 90
"""Issue 13, personal links: the real events service, broker and web (CURVE keys, the web's
selfservice key on both allow-lists), links made as the notifier makes them (kp_web.link_token,
the same secret file). A waitlisted person (signed up by another system) accepts an offer
from the link, the deadline shown in Helsinki time; the next offer lapses by deadline with the
test clock and the page says so; leaving the waitlist; a cancelled event and an erased
sign-up get clear pages. An expert accepts an offer from /x/ and the requester's /r/ page then
shows the expert confirmed (and nothing of them before); a decline passes the offer on. The
same answer sent again (Back, a second tab) says it is done; another answer after it is
refused. Every action's POST answers 303 to its page with ?done=<action> (Post/Redirect/Get),
which says what was done in fi/sv/en; reloading it does nothing more; a ?done= that the state
does not show says nothing.
Expired, forged and wrong-purpose links are refused (410/404) on every kind of page. The
selfservice key can call nothing but the person-acting methods (every other method of both
services is refused), and its replies carry no personal data. No token goes on a log."""
import os
import re
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from kp_harness import BIN, E, L, OK, PII, body, check, done, set_clock, signup_req
from kumppani.v1 import privacy_pb2 as P
from kp_broker import B, Broker, add_keys, file_request, get_request, open_offers, register
from kp_web import (LINK_EXPERT_OFFER, LINK_REQUEST, LINK_SIGNUP, SRC, V, WebSuite, Session,
                    create_event, hidden, wait_page)

WD_FI = ["ma", "ti", "ke", "to", "pe", "la", "su"]


def fi_time(unix_s):
    """The web's Finnish time text ("ti 24.11.2026 klo 17.00"), computed here from tzdata."""
    t = datetime.fromtimestamp(unix_s, ZoneInfo("Europe/Helsinki"))
    return "%s %d.%d.%d klo %d.%02d" % (WD_FI[t.weekday()], t.day, t.month, t.year, t.hour,
                                        t.minute)


def signups(admin, eid):
    r = admin.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    return {x.id: x for x in body(r, V.ListSignupsReply).signups}


def wait_state(admin, eid, sid, state, deadline_s=10):
    end = time.time() + deadline_s
    while True:
        x = signups(admin, eid)[sid]
        if x.state == state or time.time() > end:
            return x
        time.sleep(0.05)


def forms(html):
    return re.findall(r'<form method="post" action="([^"]+)"', html)


def post(sess, path, page_html=None):
    """A POST with the session's CSRF token (from page_html, or from a page with a form)."""
    token = hidden(page_html or "", "csrf") or hidden(sess.get("/accessibility").text, "csrf")
    return sess.post(path, {"csrf": token})


def web_log():
    return next(p for p in s.procs if p.name == "web").logtext()


def redirected(r, link, action, text, what):
    """r, an action's answer, is a 303 to link's page with ?done=action (Post/Redirect/Get);
    following it shows text (what was done) with no error. Returns that page."""
    loc = r.header("location")
    check(r.status == 303 and loc == "%s?done=%s" % (link, action),
          "%s: 303 to the page (%d %s)" % (what, r.status, loc and loc.split("?")[-1]))
    page = sess.get(loc or link)
    check(page.status == 200 and text in page.text and 'role="alert"' not in page.text,
          "%s: its page says so" % what)
    return page


def acted(link, action, page_html, text, what, logged):
    """An action's POST from link's page (page_html: its form's token): 303 to the page, which
    says text; reloading that page shows it again and does nothing more (logged: the action's
    line in the web's log, there once)."""
    page = redirected(post(sess, link + "/" + action, page_html), link, action, text, what)
    again = sess.get("%s?done=%s" % (link, action))
    check(again.status == 200 and text in again.text and web_log().count(logged) == 1,
          "%s: a reload of its page shows it again and does nothing more (%d)"
          % (what, web_log().count(logged)))
    return page


def again_done(link, action, text, what, page=True):
    """The same answer sent again from link (Back and the button once more, a second tab): a
    303 to the page, which says it is done, with no error (page: the form's token from the
    link's page, else from any page)."""
    r = post(sess, link + "/" + action, sess.get(link).text if page else None)
    redirected(r, link, action, text, "%s: done, not an error" % what)


s = WebSuite()
HELP = "apua@hyvinvointialue.example"  # the region's help and privacy address (--contact)

try:
    add_keys(s, [("expert-broker", "service")])
    s.events(["--test-clock", "on"])
    b = Broker(s).start()
    # More requests in a burst than a person makes (each answer is also sent twice).
    s.web(["--rate-per-s", "100", "--rate-burst", "400", "--contact", HELP], broker_api=b.api)
    admin = s.client(s.ev_api, "admin")
    portal = s.client(s.ev_api, "publisher")
    web_admin = s.client(s.web_api, "admin", server="web")
    sess = Session(s.base)

    def submit(eid, i, **kw):
        r = portal.call("events.signup.submit", signup_req(eid, i, **kw))
        check(r is not None and r.status.code == OK, "sign-up %d by the county portal" % i)
        return body(r, V.SignupReply).signup

    # ---- a waitlist offer answered from the personal link ------------------------------------
    eid = create_event(admin, "Kumppanuuspöytä: linkit", capacity=1, offer_window_minutes=60)
    a = submit(eid, 1)
    w1 = submit(eid, 2, name=PII[3])
    w2 = submit(eid, 3)
    w3 = submit(eid, 4)
    w4 = submit(eid, 5)
    check(w1.state == V.SIGNUP_STATE_WAITLISTED, "the second one waits")
    l1 = s.link(LINK_SIGNUP, w1.id, eid)
    r = wait_page(sess, l1)
    check(r.status == 200 and "jonossa" in r.text and "/leave" in " ".join(forms(r.text)),
          "a waitlisted person's page (sign-up made by another system) offers leaving the "
          "waitlist")
    check(PII[3] not in r.text and "p2@example.fi" not in r.text,
          "the personal page shows no name or contact")
    r = portal.call("events.signup.cancel", V.CancelSignupRequest(signup_id=a.id))
    check(r.status.code == OK, "the first place is freed")
    x1 = wait_state(admin, eid, w1.id, V.SIGNUP_STATE_OFFERED)
    check(x1.offer_deadline_ms > 0, "the freed place is offered to the first in line")
    end = time.time() + 10
    while True:
        r = sess.get(l1)
        if "/accept" in " ".join(forms(r.text)) or time.time() > end:
            break
        time.sleep(0.05)
    check(r.status == 200 and "/accept" in " ".join(forms(r.text))
          and "/decline" in " ".join(forms(r.text)), "the offer can be accepted or declined")
    check(fi_time(x1.offer_deadline_ms // 1000) in r.text and "Suomen aikaa" in r.text,
          "the deadline is shown in Helsinki time (%s)" % fi_time(x1.offer_deadline_ms // 1000))
    check(sess.post(l1 + "/accept", {}).status == 403, "an accept without CSRF answers 403")
    r = acted(l1, "accept", r.text, "Otit paikan vastaan", "the offer is accepted from the link",
              "event=link.acted route=personal-accept id=%d\n" % w1.id)
    for lang, text in [("sv", "Du tog emot platsen"), ("en", "You accepted the place")]:
        check(text in Session(s.base, lang=lang).get(l1 + "?done=accept").text,
              "the page after the accept says so in %s" % lang)
    check(signups(admin, eid)[w1.id].state == V.SIGNUP_STATE_CONFIRMED,
          "the events service has the sign-up confirmed")
    check("/accept" not in " ".join(forms(r.text)), "no accept button once accepted")
    again_done(l1, "accept", "Otit paikan vastaan",
               "the same accept again (Back and the button again)")

    # The web cancels a sign-up another system made (selfservice key); the offer passes on.
    r = acted(l1, "cancel", sess.get(l1).text, "Ilmoittautumisesi on nyt peruttu",
              "the personal link cancels a portal sign-up",
              "event=link.acted route=personal-cancel id=%d\n" % w1.id)
    check("Otit paikan vastaan" not in sess.get(l1 + "?done=accept").text,
          "the accept's ?done= says nothing once the sign-up is cancelled")
    again_done(l1, "cancel", "peruttu", "the same cancel again")
    x2 = wait_state(admin, eid, w2.id, V.SIGNUP_STATE_OFFERED)
    check(x2.state == V.SIGNUP_STATE_OFFERED, "the next one is offered the place")
    l2 = s.link(LINK_SIGNUP, w2.id, eid)
    r = wait_page(sess, l2)
    page2 = r.text
    # The deadline passes on the test clock (the events service and the web).
    set_clock(admin, 2 * 3600 * 1000)
    set_clock(web_admin, 2 * 3600 * 1000)
    x2 = wait_state(admin, eid, w2.id, V.SIGNUP_STATE_CANCELLED)
    check(x2.state == V.SIGNUP_STATE_CANCELLED and x2.cancel_reason == "offer-expired",
          "the second offer lapses by its deadline")
    r = sess.get(l2)
    check(r.status == 200 and "ei vastattu määräaikaan" in r.text and not forms(r.text),
          "the lapsed offer's page says so and offers nothing to press")
    r = sess.get(l2 + "?done=accept")
    check(r.status == 200 and "Otit paikan vastaan" not in r.text
          and "ei vastattu määräaikaan" in r.text,
          "an address saying accepted (?done=accept) says nothing the sign-up does not show")
    r = post(sess, l2 + "/accept", page2)
    check(r.status == 409 and "ei voi enää vastata" in r.text and 'role="alert"' in r.text,
          "accepting after the deadline answers a clear 409 page")
    check(wait_state(admin, eid, w3.id, V.SIGNUP_STATE_OFFERED).state == V.SIGNUP_STATE_OFFERED,
          "the place passed to the next")
    l3 = s.link(LINK_SIGNUP, w3.id, eid)
    r = acted(l3, "decline", wait_page(sess, l3).text, "Kieltäydyit paikasta",
              "an offer declined from the link",
              "event=link.acted route=personal-decline id=%d\n" % w3.id)
    check(signups(admin, eid)[w3.id].cancel_reason == "offer-declined", "declined as such")
    again_done(l3, "decline", "Kieltäydyit paikasta", "the same decline again")
    r = post(sess, l3 + "/accept", sess.get(l3).text)
    check(r.status == 409 and "ei voi enää vastata" in r.text and 'role="alert"' in r.text,
          "an accept after the decline: still a clear 409")
    x4 = wait_state(admin, eid, w4.id, V.SIGNUP_STATE_OFFERED)
    w5 = submit(eid, 6)
    l5 = s.link(LINK_SIGNUP, w5.id, eid)
    r = acted(l5, "leave", wait_page(sess, l5).text, "Olet poistunut jonosta",
              "leaving the waitlist from the link",
              "event=link.acted route=personal-leave id=%d\n" % w5.id)
    for lang, text in [("sv", "Du har lämnat kön"), ("en", "You have left the waitlist")]:
        check(text in Session(s.base, lang=lang).get(l5 + "?done=leave").text,
              "the page after leaving says so in %s" % lang)
    check(signups(admin, eid)[w5.id].cancel_reason == "left-waitlist", "left the waitlist")
    again_done(l5, "leave", "poistunut jonosta", "leaving the waitlist again")
    set_clock(admin, 0)
    set_clock(web_admin, 0)

    # A cancelled event, an erased sign-up, a sign-up that never was.
    eid2 = create_event(admin, "Peruttava tilaisuus", capacity=2, offer_window_minutes=60)
    c1 = submit(eid2, 21)
    cx = submit(eid2, 22)
    c2 = submit(eid2, 23)  # waits, then is offered cx's place
    r = portal.call("events.signup.cancel", V.CancelSignupRequest(signup_id=cx.id))
    check(r.status.code == OK and wait_state(admin, eid2, c2.id, V.SIGNUP_STATE_OFFERED).state
          == V.SIGNUP_STATE_OFFERED, "a place is offered on the event to be cancelled")
    lc = s.link(LINK_SIGNUP, c1.id, eid2)
    lo = s.link(LINK_SIGNUP, c2.id, eid2)
    wait_page(sess, lc)
    r = admin.call("events.event.cancel", V.CancelEventRequest(event_id=eid2,
                                                                reason_text="Sairastuminen"))
    check(r.status.code == OK, "the event is cancelled")
    r = wait_page(sess, lc, text="on peruttu")
    check(r.status == 200 and "Tapahtuma on peruttu" in r.text and not forms(r.text),
          "a cancelled event's link gets a clear page with nothing to press")
    r = wait_page(sess, lo, text="on peruttu")
    check(r.status == 200 and "Tapahtuma on peruttu" in r.text and not forms(r.text) and
          "kieltäydy alla" not in r.text,
          "an open offer of a cancelled event does not ask to accept or decline below")
    r = admin.call("events.privacy.erase", P.DataSubject(signup_id=c1.id))
    check(r.status.code == OK, "the sign-up is erased")
    r = sess.get(lc)
    check(r.status == 410 and "poistettu" in r.text and "<h1>" in r.text,
          "an erased sign-up's link gets a clear 410 page")
    r = sess.get(s.link(LINK_SIGNUP, 987654, eid2))
    check(r.status == 410 and "poistettu" in r.text, "a link to no sign-up gets the same page")

    # ---- an expert's offer and the requester's page ------------------------------------------
    e1 = register(b, PII[0], PII[1], phone=PII[2])
    rq = file_request(b, "req-links-1", title="Paneeli: kokemuksia palveluista",
                      requester_name="Seinäjoen kaupunki", contact_name="Tiina Tilaaja",
                      contact_email="tiina.tilaaja@example.fi").request
    offers = open_offers(b, rq.id)
    check(len(offers) == 1 and offers[0].expert_id == e1.id, "one offer to the one expert")
    o = offers[0]
    lx = s.link(LINK_EXPERT_OFFER, o.id, rq.id)
    lr = s.link(LINK_REQUEST, rq.id)
    r = sess.get(lr)
    check(r.status == 200 and "tarjottu asiantuntijoille" in r.text and PII[0] not in r.text,
          "the requester's page: offered, and no expert named before one is confirmed")
    check("tiina.tilaaja" not in r.text, "the requester's page shows no contact details")
    r = sess.get(lx)
    check(r.status == 200 and "Paneeli: kokemuksia palveluista" in r.text
          and fi_time(o.deadline_ms // 1000) in r.text and fi_time(rq.input.start_unix) in r.text,
          "the expert's page shows what, when and the deadline in Helsinki time")
    check("Seinäjoen kaupunki" not in r.text and "Tiina" not in r.text
          and "tiina.tilaaja" not in r.text, "the expert's page shows nothing of the requester")
    check(sorted(forms(r.text)) == sorted([lx + "/accept", lx + "/decline"]),
          "Accept and Decline are POST forms")
    check(sess.post(lx + "/accept", {"csrf": "x"}).status == 403, "a wrong CSRF token: 403")
    r = acted(lx, "accept", r.text, "otit tehtävän vastaan, ja se on vahvistettu",
              "the expert accepts from the link",
              "event=link.acted route=expert-offer-accept id=%d\n" % o.id)
    for lang, text in [("sv", "du tackade ja, och uppdraget är bekräftat"),
                       ("en", "you accepted, and the assignment is confirmed")]:
        check(text in Session(s.base, lang=lang).get(lx + "?done=accept").text,
              "the expert's page after the accept says so in %s" % lang)
    check("kieltäydyit" not in sess.get(lx + "?done=decline").text,
          "a ?done=decline the offer does not show says nothing")
    check('href="%s?lang=sv"' % lx in r.text and "/accept?lang=" not in r.text,
          "the answer's languages lead to the offer page, not to the POST's address (405)")
    got = get_request(b, rq.id)
    check(got.request.state == B.REQUEST_STATE_FILLED and len(got.assignments) == 1,
          "the broker has the request filled with one assignment")
    r = sess.get(lr)
    check(r.status == 200 and "Asiantuntijat on vahvistettu" in r.text and PII[0] in r.text
          and PII[1] in r.text, "the requester's page then shows the expert confirmed, named")
    check("tarvitaan: 1." in r.text and "Vahvistettu: 1." in r.text,
          "the requester's page counts the experts needed and confirmed")
    check(not forms(r.text), "the requester's page is read-only")
    again_done(lx, "accept", "vahvistettu",
               "the expert's same accept again (Back and the button again)", page=False)
    r = post(sess, lx + "/decline")
    check(r.status == 409 and 'role="alert"' in r.text and "ei voi enää vastata" in r.text,
          "a decline after the accept: a clear 409")

    e2 = register(b, "Kaisa Kokemus", "kaisa.kokemus@example.fi")
    rq2 = file_request(b, "req-links-2", title="Luento", fee_cents=0).request
    o2 = open_offers(b, rq2.id)[0]
    lx2 = s.link(LINK_EXPERT_OFFER, o2.id, rq2.id)
    r = sess.get(lx2)
    check("<dd>ei palkkiota; matkakulut 20,00 €</dd>" in r.text and
          not re.search(r"(?<![0-9])0,00 €", r.text),
          "a request without a fee says so to the expert, not \"0,00 €\" (%s)"
          % re.findall(r"Palkkio</dt><dd>[^<]*</dd>", r.text))
    r = acted(lx2, "decline", sess.get(lx2).text, "kieltäydyit tarjouksesta",
              "an expert declines from the link",
              "event=link.acted route=expert-offer-decline id=%d\n" % o2.id)
    again_done(lx2, "decline", "kieltäydyit", "the expert's same decline again", page=False)
    nxt = open_offers(b, rq2.id)
    check(len(nxt) == 1 and nxt[0].expert_id != o2.expert_id, "the offer passes to the next")
    r = sess.get(s.link(LINK_REQUEST, rq2.id))
    check(r.status == 200 and "harkitsevat" in r.text, "the requester sees offers out")
    r = sess.get(s.link(LINK_EXPERT_OFFER, 999999, 1))
    check(r.status == 410, "a link to no offer: 410")
    # An offer left unanswered lapses (the broker's test clock): the page says so, no buttons.
    o3 = nxt[0]
    lx3 = s.link(LINK_EXPERT_OFFER, o3.id, rq2.id)
    page3 = sess.get(lx3).text
    b.advance(49 * 3600 * 1000, settle_s=0)
    r = wait_page(sess, lx3, text="ei vastattu")
    check(r.status == 200 and "ei vastattu määräaikaan" in r.text and not forms(r.text),
          "a lapsed expert offer's page says so and offers nothing to press")
    r = post(sess, lx3 + "/accept", page3)
    check(r.status == 409 and "ei voi enää vastata" in r.text, "accepting it then: a clear 409")
    r = sess.get(s.link(LINK_REQUEST, rq2.id))
    check(r.status == 200 and "ei löytynyt asiantuntijaa" in r.text,
          "the requester sees the request unfilled")
    rq4 = file_request(b, "req-links-4", title="Työryhmä").request
    r = b.call("broker.request.cancel", B.CancelBrokerRequestRequest(request_id=rq4.id,
                                                                      reason="Ei tarvita"))
    check(r.status.code == OK, "a request cancelled")
    r = sess.get(s.link(LINK_REQUEST, rq4.id))
    check(r.status == 200 and "Tilaus on peruttu" in r.text and "Ei tarvita" not in r.text,
          "the requester sees the request cancelled")

    # ---- expired, forged and wrong-purpose links ---------------------------------------------
    past = int(time.time()) - 60
    for purpose, rid, ref in [(LINK_SIGNUP, w4.id, eid), (LINK_EXPERT_OFFER, o.id, rq.id),
                              (LINK_REQUEST, rq.id, 0)]:
        p = s.link(purpose, rid, ref, expires=past)
        r = sess.get(p)
        check(r.status == 410 and "vanhentunut" in r.text, "an expired %s link: 410" % p[:3])
        check('kirjoita osoitteeseen <a href="mailto:%s">' % HELP in r.text and
              "järjestäjään" not in r.text,
              "the expired %s link's page names the region's help address, not an organiser "
              "the person cannot find" % p[:3])
        good = s.link(purpose, rid, ref)
        tok = good[3:]
        forged = good[:3] + tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:]
        r = sess.get(forged)
        check(r.status == 404 and "ei tunnistettu" in r.text, "a forged %s link: 404" % p[:3])
        other = {LINK_SIGNUP: "/x/", LINK_EXPERT_OFFER: "/r/", LINK_REQUEST: "/s/"}[purpose]
        check(sess.get(other + tok).status == 404, "a %s token on %s: 404" % (p[:3], other))
    check(post(sess, s.link(LINK_EXPERT_OFFER, o2.id, rq2.id, expires=past) + "/accept",
               ).status == 410, "an expired link cannot accept")
    r = post(sess, s.link(LINK_SIGNUP, x4.id, eid, expires=past) + "/accept")
    check(r.status == 410 and signups(admin, eid)[w4.id].state != V.SIGNUP_STATE_CONFIRMED,
          "an expired link cannot accept a waitlist offer")

    r = sess.get("/privacy")
    check(r.status == 200 and r.text.count('href="mailto:%s"' % HELP) == 2,
          "the privacy notice and the footer give the help address")
    bad = subprocess.run([os.path.join(BIN, "kumppani-web"), "--contact", "not an address",
                          "--events-api", s.ev_api, "--events-pub", s.ev_pub],
                         capture_output=True, text=True, timeout=30)
    check(bad.returncode != 0 and "contact: an e-mail address" in bad.stderr,
          "a contact that is no e-mail address is refused at start (%d %s)"
          % (bad.returncode, bad.stderr.strip()))

    # ---- the selfservice key: the person-acting methods and nothing else ----------------------
    self_ev = s.client(s.ev_api, "web-self")
    self_br = s.client(b.api, "web-self", server="expert-broker")
    r = self_ev.call("events.signup.get", V.CancelSignupRequest(signup_id=w4.id))
    g = body(r, V.SignupReply).signup
    check(r.status.code == OK and g.id == w4.id and g.name == "" and g.email == "",
          "selfservice reads one sign-up: the public copy only")
    r = self_ev.call("events.signup.cancel", V.CancelSignupRequest(
        source="county-portal", external_id="%010d" % 5))
    check(r.status.code == E.CODE_INVALID and "signup_id" in r.status.message,
          "selfservice names a sign-up by id only")
    allowed = {"events": {"events.signup.get", "events.signup.cancel",
                          "events.signup.leave_waitlist", "events.signup.accept_offer",
                          "events.signup.decline_offer"},
               "expert-broker": {"broker.offer.view", "broker.request.view", "broker.offer.accept",
                                 "broker.offer.decline"}}
    for svc, path, cl in [("events", "services/events/api.c", self_ev),
                          ("expert-broker", "services/expert-broker/api.c", self_br)]:
        with open(os.path.join(SRC, path)) as f:
            src = f.read()
        names = set(re.findall(r'(?:M|KP_METHOD_OP)\(\s*"([a-z_.]+)"', src))
        names |= {"log.replay", "sys.clock.set"}
        if "EVT_METHOD_SUBMIT" in src:
            names.add("events.signup.submit")
        check(allowed[svc] <= names, "the %s table has the selfservice methods" % svc)
        for m in sorted(names - allowed[svc]):
            r = cl.call(m, L.HealthRequest())
            check(r is not None and r.status.code == E.CODE_FORBIDDEN,
                  "selfservice may not call %s" % m)
    v = body(self_br.call("broker.offer.view", B.OfferRef(offer_id=o.id)), B.OfferView)
    check(v.offer.id == o.id and v.request.title and v.request.requester_name == ""
          and v.request.contact_email == "" and v.request.contact_name == "",
          "the offer view carries nothing of the requester")

    logs = {p.name: p.logtext() for p in s.procs}
    for lk in [l1, l2, l3, l5, lc, lx, lr, lx2, lx3]:
        tok = lk.split("/")[2]
        check(all(tok not in t for t in logs.values()),
              "no personal link on any log (%s)" % lk[:3])
    check("route=expert-offer " in logs["web"] and "route=request " in logs["web"]
          and "route=personal-accept " in logs["web"], "the web logs route names")
finally:
    s.close()
done()
