# timeout: 240
"""The back office at 320 CSS pixels (WCAG 2.1 SC 1.4.10 Reflow: a coordinator at 400 % zoom):
the events service, the registry, the expert broker and kumppani-web, holding what a working
office holds: a published partnership table in Seinäjoki with long Finnish words in its title,
confirmed sign-ups and a waitlist, organisations, a contact person with a role, an expert and a
broker request. tests/web/office_reflow.mjs opens every back-office page in Debian's headless
Chromium at 320 x 640 as the regional coordinator and the expert coordinator: no page scrolls
sideways, every table wider than the page scrolls in a named region reachable by keyboard,
axe-core 0 violations; screenshots reflow-NN-<page>.png under the build's web-browser/."""
import os
import time

from kp_broker import file_request, register as register_expert
from kp_harness import PII, V, body, check, done, signup_req
from kp_registry import contact_person, org_of, register
from kp_web import BROWSER_OUT, WEBDIR, WebSuite, browser_checked, browser_ready, office_account
from kp_web import web_registry

node = browser_ready(WEBDIR)
if node and os.path.exists("/usr/bin/chromium"):
    s = WebSuite()
    try:
        reg, brk = web_registry(s, broker=True)
        org = org_of(register(reg, "o1", name="Seinäjoen Seudun Mielenterveysseura ry",
                              home="743"))
        pid = contact_person(reg, PII[0], PII[1])
        register_expert(brk, PII[7], PII[8])
        rid = file_request(brk, "req-1", title="Mielenterveyspaneeli Seinäjoella").request.id
        admin = s.client(s.ev_api, "admin")
        now = int(time.time())
        r = admin.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_PARTNERSHIP_TABLE, capacity=2, municipality_code="743", language="fi",
            title="Kumppanuuspöytä: mielenterveysjärjestöjen yhteistyöverkosto",
            start_unix=now + 3 * 86400, end_unix=now + 3 * 86400 + 7200), key="ev")
        eid = body(r, V.EventReply).event.id
        admin.call("events.event.publish", V.EventRef(event_id=eid), key="pub")
        pubc = s.client(s.ev_api, "web-publisher")
        for i, name in enumerate([PII[0], PII[3], "Kalle Kuusinen", "Anna-Kaisa Heikkilä-Mäki"]):
            r = pubc.call("events.signup.submit", signup_req(
                eid, 300 + i, source="web", name=name, email="r%d@example.fi" % i,
                role=[V.ROLE_RESIDENT, V.ROLE_NGO][i % 2]), key="r%d" % i)
            check(r is not None and r.status.code == 0, "sign-up %d" % i)
        cfg = {"regional": ["alue", "Aluekoordinaattori-2026!"],
               "expert": ["asiantuntija", "Asiantuntija-salasana-3"]}
        office_account(s, "alue", "regional", password=cfg["regional"][1])
        office_account(s, "asiantuntija", "expert", password=cfg["expert"][1])
        cfg["pages"] = [
            "/office", "/office/events", "/office/events/%d" % eid,
            "/office/events/%d/check-in" % eid, "/office/events/new", "/office/organisations",
            "/office/organisations/%d" % org.id, "/office/people", "/office/people/%d" % pid,
            "/office/coverage", "/office/stats", "/office/accounts",
            "/office/accounts/1", "/office/audit", "/office/import", "/office/password"]
        cfg["expert_pages"] = ["/office/broker", "/office/broker/requests/%d" % rid,
                               "/office/broker/stats"]
        os.makedirs(BROWSER_OUT, exist_ok=True)
        for f in os.listdir(BROWSER_OUT):
            if f.startswith("reflow-"):
                os.remove(os.path.join(BROWSER_OUT, f))
        browser_checked(node, WEBDIR, "office_reflow.mjs", s.base, BROWSER_OUT, cfg,
                        len(cfg["pages"]) + len(cfg["expert_pages"]), timeout=200)
    finally:
        s.close()
else:
    print("skip: no node or /usr/bin/chromium: the browser part did not run")
done()
