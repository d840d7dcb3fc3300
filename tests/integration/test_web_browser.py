# timeout: 300
"""The web in a real browser (issue 13): the events service and kumppani-web with CURVE keys,
then tests/web/flow.mjs in Debian's headless Chromium (playwright-core): the whole flow from
the calendar to the cancel with the keyboard alone, axe-core on every page (0 violations under
WCAG 2.1 A and AA), and a screenshot of every page, saved under the build's web-browser/
directory (paths printed). Then tests/web/links.mjs: the personal-link pages (a waitlist offer
on /s/, an expert's offer on /x/, the requester's /r/, a gone link) with axe in three
languages, the offer and the expert's offer accepted with the keyboard alone, and the
requester's page then showing the expert confirmed. Chromium, Node or the npm packages
missing is a failure, not a skip: scripts/setup installs them."""
import os
import shutil
import subprocess

from kp_harness import BIN, OK, PII, check, done, set_clock, signup_req
from kp_broker import Broker, add_keys, file_request, open_offers, register
from kp_web import (LINK_EXPERT_OFFER, LINK_REQUEST, LINK_SIGNUP, SRC, V, Session, WebSuite,
                    create_event, personal_link, signup_fields, wait_page)

WEBDIR = os.path.join(SRC, "tests", "web")
OUT = os.path.join(os.path.dirname(BIN), "web-browser")

node = shutil.which("node")
check(node is not None, "node is installed (scripts/setup)")
check(os.path.exists("/usr/bin/chromium"), "Debian's chromium is installed (scripts/setup)")
check(os.path.isdir(os.path.join(WEBDIR, "node_modules", "playwright-core")) and
      os.path.isdir(os.path.join(WEBDIR, "node_modules", "axe-core")),
      "playwright-core and axe-core are installed (npm ci in tests/web; scripts/setup)")
if node and os.path.exists("/usr/bin/chromium"):
    s = WebSuite()
    try:
        add_keys(s, [("expert-broker", "service")])
        s.events()
        b = Broker(s).start()
        s.web(["--rate-per-s", "2000", "--rate-burst", "5000"], broker_api=b.api)
        admin = s.client(s.ev_api, "admin")
        eid = create_event(admin, "Kumppanuuspöytä: lähiluonto ja liikkuminen", capacity=20,
                           online="https://meet.example.fi/lahiluonto",
                           description_text="Keskustellaan lähiluonnon saavutettavuudesta.")
        wait_page(Session(s.base), "/events/%d" % eid)
        shutil.rmtree(OUT, ignore_errors=True)
        p = subprocess.run([node, os.path.join(WEBDIR, "flow.mjs"), s.base, OUT, str(eid)],
                           cwd=WEBDIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=240)
        text = p.stdout.decode("utf-8", "replace")
        print(text)
        check(p.returncode == 0, "the browser flow, axe on every page and the screenshots passed")
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
        p = subprocess.run([node, os.path.join(WEBDIR, "links.mjs"), s.base, OUT,
                            s.link(LINK_SIGNUP, su[1].id, eid2),
                            s.link(LINK_EXPERT_OFFER, o.id, rq.id), s.link(LINK_REQUEST, rq.id),
                            s.link(LINK_SIGNUP, 987654, eid2)], cwd=WEBDIR,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        text = p.stdout.decode("utf-8", "replace")
        print(text)
        check(p.returncode == 0, "the personal-link pages: axe on every page, keyboard-only "
              "accepts and the screenshots passed")
        # The expired-link page: a sign-up, then the web's clock past the link's expiry.
        b = Session(s.base)
        r = b.post("/events/%d/signup" % eid, signup_fields(b.get("/events/%d/signup" % eid).text,
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
        shots = [x for x in os.listdir(OUT) if x.endswith(".png")] if os.path.isdir(OUT) else []
        check(len(shots) >= 28, "a screenshot of every page (%d) under %s" % (len(shots), OUT))
    finally:
        s.close()
done()
