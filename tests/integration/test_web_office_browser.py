# timeout: 300
"""The back office in a real browser (issue 14): the events service and kumppani-web with its
office key, then tests/web/office.mjs in Debian's headless Chromium (playwright-core +
axe-core) in two phases. Between them the suite signs people up to the event the contact
person made (through the web's publisher key) and moves the events service's clock past its
start, so the door can be worked. Each role signs in and does its day's work; every page is
checked by axe (0 violations, WCAG 2.1 A and AA) and saved as a screenshot under the build's
web-browser/ directory (office-NN-<page>.png, paths printed)."""
import os
import time

from kp_broker import file_request, register as register_expert
from kp_harness import PII, V, body, check, done, set_clock, signup_req
from kp_registry import R, contact_person, register
from kp_web import SRC, WebSuite, browser_ready, office_account, run_browser, web_registry

WEBDIR = os.path.join(SRC, "tests", "web")
OUT = os.path.join(os.environ["KP_BIN_DIR"], "..", "web-browser")
OUT = os.path.abspath(OUT)

node = browser_ready(WEBDIR)


def run(phase, cfg):
    return run_browser(node, WEBDIR, "office.mjs", s.base, OUT, phase, cfg=cfg, timeout=240)


if node and os.path.exists("/usr/bin/chromium"):
    s = WebSuite()
    try:
        reg, brk = web_registry(s, events=["--test-clock", "on"], broker=True)
        register(reg, "o1", name="Seinäjoen Mielenterveysseura", home="743",
                 networks=["ngo-council"])
        register(reg, "o2", name="Alajärven Nuorisoseura", home="005", flds=[R.FIELD_YOUTH])
        contact_person(reg, PII[0], PII[1])
        register_expert(brk, PII[7], PII[8])
        file_request(brk, "req-1", title="Mielenterveyspaneeli Seinäjoella")
        admin = s.client(s.ev_api, "admin")
        cfg = {"regional": ["alue", "Aluekoordinaattori-2026!"],
               "municipal": ["seinajoki", "Yhteyshenkilo-Seinajoki-1"],
               "expert": ["asiantuntija", "Asiantuntija-salasana-3"]}
        office_account(s, "alue", "regional", password=cfg["regional"][1])
        office_account(s, "seinajoki", "municipal", "743", cfg["municipal"][1])
        office_account(s, "asiantuntija", "expert", password=cfg["expert"][1])
        now = int(time.time())
        r = admin.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_PARTNERSHIP_TABLE, title="Vaasan kumppanuuspöytä",
            municipality_code="905", start_unix=now + 3 * 86400, end_unix=now + 3 * 86400 + 3600,
            language="fi"), key="vaasa")
        cfg["other_event"] = body(r, V.EventReply).event.id
        os.makedirs(OUT, exist_ok=True)
        for f in os.listdir(OUT):  # this test's own (office-01..39); 40 on are other tests'
            n = f[7:].split("-")[0]
            if f.startswith("office-") and n.isdigit() and int(n) < 40:
                os.remove(os.path.join(OUT, f))
        rc, text, sm = run("create", cfg)
        check(rc == 0, "phase 1: sign-in, accounts, organisations, coverage, the broker, the "
              "expert's refusal, a table created and published; axe and screenshots")
        eid = next((int(l.split()[1]) for l in text.splitlines() if l.startswith("event: ")), 0)
        check(eid > 0, "the browser made event %d" % eid)
        ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
        check(ev.state == V.EVENT_STATE_PUBLISHED and ev.municipality_code == "743" and
              ev.capacity == 25, "the events service has it published in Seinäjoki, 25 places")
        pubc = s.client(s.ev_api, "web-publisher")
        for i, name in enumerate([PII[0], PII[3], "Kalle Kuusinen"]):
            r = pubc.call("events.signup.submit", signup_req(
                eid, 200 + i, source="web", name=name, email="b%d@example.fi" % i,
                role=[V.ROLE_RESIDENT, V.ROLE_NGO, V.ROLE_CIVIL_SERVANT][i]), key="b%d" % i)
            check(r is not None and r.status.code == 0, "sign-up %d" % i)
        set_clock(admin, 2 * 86400 * 1000)
        set_clock(s.client(s.web_api, "admin", server="web"), 2 * 86400 * 1000)
        cfg["event"] = eid
        cfg["first"] = len(sm.get("screenshots", []))
        rc2, text2, sm2 = run("door", cfg)
        check(rc2 == 0, "phase 2: the door (check-in on a phone, exports), the refused event, "
              "the audit; axe and screenshots")
        ev = body(admin.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event
        check(ev.attended_n == 1 and ev.no_show_n == 2,
              "the events service counts the door's marks (%d attended, %d no-show)"
              % (ev.attended_n, ev.no_show_n))
        axes = sm.get("axe", []) + sm2.get("axe", [])
        shots = sm.get("screenshots", []) + sm2.get("screenshots", [])
        check(len(axes) >= 20 and all(a["violations"] == 0 for a in axes),
              "axe: %d back-office pages, 0 violations" % len(axes))
        check(len(shots) == len(axes) and all(os.path.exists(x["file"]) for x in shots),
              "a screenshot of every page (%d) under %s" % (len(shots), OUT))
        check(not [f for f in os.listdir(OUT) if f.endswith(".csv")],
              "the downloaded lists (personal data) are not left behind")
    finally:
        s.close()
done()
