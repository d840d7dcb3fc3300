# timeout: 150
"""The requester's page (/r/) of an unfilled request says what is true: no expert found, or
only some of those needed (N of M confirmed, the confirmed ones named), and that the answer
deadline passed only when it had: the broker also closes a request before its deadline when
nobody eligible is left to ask. In fi, sv and en; the real broker and web on loopback; each
of the three pages also in Chromium (tests/web/pages.mjs: its text, axe-core 0 violations, no
sideways scrolling at 320 px, screenshots request-unfilled-*.png)."""
from kp_harness import PII, check, done
from kp_broker import B, Broker, add_keys, file_request, get_request, open_offers, register
from kp_web import (BROWSER_OUT, LINK_REQUEST, WEBDIR, Session, WebSuite, browser_checked,
                    browser_ready)

s = WebSuite()
try:
    add_keys(s, [("expert-broker", "service")])
    s.events([])
    b = Broker(s).start()
    s.web([], broker_api=b.api)
    sess = {lang: Session(s.base, lang=lang) for lang in ("fi", "sv", "en")}

    def page(rid):
        link = s.link(LINK_REQUEST, rid)
        out = {}
        for lang, se in sess.items():
            r = se.get(link)
            check(r.status == 200, "the requester's page opens in %s" % lang)
            out[lang] = r.text
        return out

    # Two experts needed, one eligible: they accept, nobody is left to ask, and the broker
    # closes the request unfilled long before its deadline.
    e1 = register(b, PII[5], PII[6])
    rq = file_request(b, "req-unfilled-1", experts_needed=2).request
    offers = open_offers(b, rq.id)
    check(len(offers) == 1, "one offer out: only one expert is eligible")
    b.accept(offers[0].id)
    got = get_request(b, rq.id).request
    check(got.state == B.REQUEST_STATE_UNFILLED and got.accepted_n == 1 and
          got.closed_ms // 1000 < got.input.answer_deadline_unix,
          "the broker has the request unfilled with one of two, before its deadline")
    p = page(rq.id)
    check("Tarvittavista 2 asiantuntijasta vahvistui vain 1" in p["fi"] and
          "ei ole enää jäljellä" in p["fi"],
          "fi: only 1 of the 2 needed confirmed, nobody left to ask")
    check("Bara 1 av de 2 experter" in p["sv"] and "inga fler" in p["sv"],
          "sv: only 1 of the 2 needed confirmed, nobody left to ask")
    check("Only 1 of the 2 experts needed could be confirmed" in p["en"] and
          "no other suitable expert is left" in p["en"],
          "en: only 1 of the 2 needed confirmed, nobody left to ask")
    check("ei löytynyt asiantuntijaa" not in p["fi"] and "Ingen expert" not in p["sv"] and
          "No expert could be found" not in p["en"],
          "the page does not say no expert was found when one was")
    check("määräaikaan" not in p["fi"] and "tidsfristen" not in p["sv"] and
          "deadline" not in p["en"], "the page does not say a deadline passed that has not")
    check(PII[5] in p["fi"] and PII[6] in p["fi"],
          "the confirmed expert is named with their contact")

    # Nobody eligible at all (no expert has the expertise): unfilled at once, none found.
    rq2 = file_request(b, "req-unfilled-2", expertise=["substance-use"]).request
    check(get_request(b, rq2.id).request.state == B.REQUEST_STATE_UNFILLED,
          "a request nobody is eligible for is unfilled at once")
    p = page(rq2.id)
    check("Tilaukseen ei löytynyt asiantuntijaa: kaikilta sopivilta" in p["fi"] and
          "Ingen expert hittades till beställningen: alla lämpliga" in p["sv"] and
          "No expert could be found for this request: every suitable" in p["en"],
          "none found, nobody left to ask, in fi, sv and en")
    check("määräaikaan" not in p["fi"] and "tidsfristen" not in p["sv"] and
          "deadline" not in p["en"], "and no deadline said to have passed")

    # The answer deadline passes with the offer unanswered: none found by the deadline.
    now = b.now_s()
    rq3 = file_request(b, "req-unfilled-3", answer_deadline_unix=now + 3600).request
    check(len(open_offers(b, rq3.id)) == 1, "the deadline request has its offer out")
    b.advance(2 * 3600 * 1000)
    for _ in range(50):
        got = get_request(b, rq3.id).request
        if got.state == B.REQUEST_STATE_UNFILLED:
            break
        b.advance(0, settle_s=0.1)
    check(got.state == B.REQUEST_STATE_UNFILLED and
          got.closed_ms // 1000 >= got.input.answer_deadline_unix,
          "the broker closes it unfilled when the deadline has passed")
    p = page(rq3.id)
    check("ei löytynyt asiantuntijaa määräaikaan mennessä" in p["fi"] and
          "före tidsfristen" in p["sv"] and "by its deadline" in p["en"],
          "none found by the deadline, in fi, sv and en")

    # ---- the three pages in the browser ----
    node = browser_ready(WEBDIR)
    if node:
        pages = [{"name": "request-unfilled-some", "path": s.link(LINK_REQUEST, rq.id),
                  "text": {"fi": "vahvistui vain 1", "sv": "Bara 1 av de 2",
                           "en": "Only 1 of the 2"}},
                 {"name": "request-unfilled-none", "path": s.link(LINK_REQUEST, rq2.id),
                  "text": {"en": "No expert could be found for this request"}},
                 {"name": "request-unfilled-deadline", "path": s.link(LINK_REQUEST, rq3.id),
                  "text": {"en": "by its deadline"}}]
        browser_checked(node, WEBDIR, "pages.mjs", s.base, BROWSER_OUT, {"pages": pages}, 9)
finally:
    s.close()
done()
