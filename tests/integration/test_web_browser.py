# timeout: 300
"""The web in a real browser (issue 13): the events service and kumppani-web with CURVE keys,
then tests/web/flow.mjs in Debian's headless Chromium (playwright-core): the whole flow from
the calendar to the cancel with the keyboard alone, axe-core on every page (0 violations under
WCAG 2.1 A and AA), and a screenshot of every page, saved under the build's web-browser/
directory (paths printed). Then tests/web/links.mjs: the personal-link pages (a waitlist offer
on /s/, an expert's offer on /x/, the requester's /r/, a gone link) with axe in three
languages, the offer and the expert's offer accepted with the keyboard alone, and the
requester's page then showing the expert confirmed. The links the browser follows are the ones
in the messages a real notifier sent to a real SMTP server (aiosmtpd): the offer mail, the
expert's offer mail and the requester's filing mail; the resident of the first flow also
received a confirmation whose link leads to the sign-up just cancelled. Chromium, Node or the npm packages
missing is a failure, not a skip: scripts/setup installs them."""
import os
import re
import subprocess

import kp_notifier as kn
from kp_harness import BIN, OK, PII, check, done, free_port, set_clock, signup_req
from kp_broker import file_request, open_offers, register
from kp_web import (LINK_SIGNUP, SRC, V, Session, WebSuite, browser_ready, create_event,
                    personal_link, signup_fields, signup_post, wait_page)

WEBDIR = os.path.join(SRC, "tests", "web")
OUT = os.path.join(os.path.dirname(BIN), "web-browser")

node = browser_ready(WEBDIR)
if node and os.path.exists("/usr/bin/chromium"):
    s = WebSuite()
    smtp = kn.Smtp()
    try:
        b = kn.with_broker(s)
        n_api = "tcp://127.0.0.1:%d" % free_port()
        kn.start_keyed(s, n_api, kn.keyed_args(s, smtp, n_api) + kn.broker_args(s, b))

        def mailed_link(addr, letter, subject_word):
            """The path of the personal link (/s/, /x/ or /r/) in the newest mail to addr whose
            subject has subject_word, as the person would click it (the web's own address)."""
            def find():
                for m in reversed(kn.mails_to(smtp, addr)):
                    if subject_word in str(m["Subject"]):
                        for url in re.findall(r"(https?://\S+/%s/[A-Za-z0-9_-]+)" % letter,
                                              kn.text(m)):
                            if url.startswith(s.base):
                                return url[len(s.base):]
                return None
            path = kn.wait_for(find, 20)
            check(path is not None, "a mail to the person (%s) carries their /%s/ link"
                  % (subject_word, letter))
            return path or "/%s/none" % letter
        s.web(["--rate-per-s", "2000", "--rate-burst", "5000", "--contact",
               "apua@hyvinvointialue.example"], broker_api=b.api)
        admin = s.client(s.ev_api, "admin")
        eid = create_event(admin, "Kumppanuuspöytä: lähiluonto ja liikkuminen", capacity=20,
                           online="https://meet.example.fi/lahiluonto",
                           description_text="Keskustellaan lähiluonnon saavutettavuudesta.")
        wait_page(Session(s.base), "/events/%d" % eid)
        # This test's own screenshots from an earlier run go (the back office's office-*.png,
        # written by other tests into the same directory, stay).
        for old in os.listdir(OUT) if os.path.isdir(OUT) else []:
            if old.endswith(".png") and not old.startswith("office-"):
                os.remove(os.path.join(OUT, old))
        p = subprocess.run([node, os.path.join(WEBDIR, "flow.mjs"), s.base, OUT, str(eid)],
                           cwd=WEBDIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=240)
        text = p.stdout.decode("utf-8", "replace")
        print(text)
        check(p.returncode == 0, "the browser flow, axe on every page and the screenshots passed")
        # The resident's confirmation mail: its link leads to the sign-up the flow cancelled.
        conf = mailed_link("maija.meikalainen@example.fi", "s", "")
        page = Session(s.base).get(conf)
        check(page.status == 200 and "Ilmoittautuminen on peruttu." in page.text,
              "the confirmation mail's link opens the resident's own sign-up, now cancelled")
        # The personal-link pages: a waitlist offer (sign-ups by another system), an expert's
        # offer and the requester's page, links made as the notifier makes them.
        portal = s.client(s.ev_api, "publisher")
        eid2 = create_event(admin, "Asiakasraati: palveluiden kehittäminen", capacity=1,
                            offer_window_minutes=120)
        su = [V.SignupReply.FromString(portal.call("events.signup.submit", signup_req(
            eid2, 100 + i)).body).signup for i in range(2)]
        r = portal.call("events.signup.cancel", V.CancelSignupRequest(signup_id=su[0].id))
        check(r.status.code == OK, "a place is freed: the waitlisted one is offered it")
        register(b, PII[3], "liisa.virtanen@example.fi")
        rq = file_request(b, "browser-req", title="Paneeli: asiakkaan ääni").request
        o = open_offers(b, rq.id)[0]
        wait_page(Session(s.base), "/events/%d" % eid2)
        offer_path = mailed_link("p101@example.fi", "s", "Paikka tarjolla")
        x_path = mailed_link("liisa.virtanen@example.fi", "x", "Tehtävätarjous")
        r_path = mailed_link("tilaaja@example.fi", "r", "Pyyntö vastaanotettu")
        check(kn.link_check(s, "s", offer_path[3:])[:2] == (su[1].id, eid2) and
              kn.link_check(s, "x", x_path[3:])[:2] == (o.id, rq.id) and
              kn.link_check(s, "r", r_path[3:])[0] == rq.id,
              "the mailed links name the offered sign-up, the expert's offer and the request")
        p = subprocess.run([node, os.path.join(WEBDIR, "links.mjs"), s.base, OUT,
                            offer_path, x_path, r_path,
                            s.link(LINK_SIGNUP, 987654, eid2)], cwd=WEBDIR,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        text = p.stdout.decode("utf-8", "replace")
        print(text)
        check(p.returncode == 0, "the personal-link pages: axe on every page, keyboard-only "
              "accepts and the screenshots passed")
        # The expired-link page: a sign-up, then the web's clock past the link's expiry.
        b = Session(s.base)
        r = signup_post(b, eid, signup_fields(b.get("/events/%d/signup" % eid).text,
                                                            email="expired@example.fi"))
        link = personal_link(r.text)
        set_clock(s.client(s.web_api, "admin", server="web"), 60 * 86400 * 1000)
        p = subprocess.run([node, os.path.join(WEBDIR, "flow.mjs"), s.base, OUT, "--page",
                            "link-expired", link], cwd=WEBDIR, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        text = p.stdout.decode("utf-8", "replace")
        print(text)
        check(p.returncode == 0 and "status: 410" in text,
              "the expired-link page (410): screenshot and axe passed")
        shots = [x for x in os.listdir(OUT) if x.endswith(".png") and not x.startswith("office-")]
        check(len(shots) >= 28, "a screenshot of every page (%d) under %s" % (len(shots), OUT))
    finally:
        s.close()
        smtp.stop()
done()
