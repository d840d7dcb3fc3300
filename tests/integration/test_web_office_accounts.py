# timeout: 240
"""The back office's account lifecycle and the own password (issue 14, part 1), and durable
answers: the events service and kumppani-web with CURVE keys; accounts made with the CLI.

Checked over HTTP: a municipal contact person cannot disable anyone (403, nothing changed,
audited "denied"); a POST without its CSRF token is refused; the regional coordinator disables
an account, whose live cookie is refused at once (GET to the sign-in page, POST 403) and whose
sign-in is refused; enabled again it signs in, the old cookie still refused; role and
municipalities change and take effect on the next request; the last enabled regional account
cannot be disabled, removed or demoted (409, saying so, audited "refused"); a removal needs the
ticked box, then the account, its name and its sessions are gone. The CLI does the same over the
bus (web account-disable, -enable, -remove; the last regional refused). The own password: the
current one is required (a wrong one 403, counted), the new one twice; after a change every
other session ends, this browser gets a new session and CSRF cookie, the old password is
refused and the new one signs in; the store holds an Argon2id string. The audit holds it all
by ids; no log carries a password, a cookie or the planted personal data.

Durability: the web answers a request only after what it wrote has committed. Five times a
wrong password for one account goes in together with slower sign-ins on other connections (each
an Argon2id check that keeps the loop busy after the first answer is out), and kumppani-web is
killed with SIGKILL the moment the first answer arrives, then restarted: every answered failure
must have survived, so the fifth answer is the lockout (429) and the audit holds four "failed"
and one "locked" for the account. Then the browser script (tests/web/office_accounts.mjs):
screenshots office-80..87, axe-core 0 violations."""
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse

import lmdb

from kp_harness import BIN, PII, check, done, make_event, signup_req
from kp_web import (BROWSER_OUT, Session, WEBDIR, WebSuite, browser_checked, csrf_of, hidden,
                    office_account, office_sign_in)

PW = {"alue": "Aluekoordinaattori-2026!", "alue2": "Toinen-aluekoordinaattori-7",
      "seinajoki": "Yhteyshenkilo-Seinajoki-1", "poistuva": "Poistuva-tunnus-salasana-5",
      "kesto": "Kestava-tunnus-salasana-9", "cli": "Komentorivin-tunnus-8"}
NEW_PW = "Uusi-salasana-vaihdettu-42"
BROWSER_PW = "Webbläsarens-nya-lösenord-3"
OUT = BROWSER_OUT
WEB_ARGS = ["--rate-per-s", "2000", "--rate-burst", "5000"]


def account_id(out):
    m = re.search(r"account (\d+):", out)
    return int(m.group(1)) if m else 0


def cli(s, *words):
    p = subprocess.run([os.path.join(BIN, "kumppani"), "--endpoint", s.web_api, "--keys",
                        s.keys_dir, "--key-name", "admin", "web"] + list(words),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    return p.returncode, p.stdout


def audit_rows(sess):
    r = sess.get("/office/audit")
    return re.findall(r"<tr[^>]*><td><time[^>]*>[^<]*</time></td><td>(\d+)</td><td><code>"
                      r"([^<]*)</code></td><td><code>([^<]*)</code></td><td>([^<]*)</td>", r.text)


def raw_sign_in(port, csrf_cookie, token, user, password):
    """A connected socket and the bytes of a sign-in POST (sent later, all at once)."""
    form = urllib.parse.urlencode({"csrf": token, "user": user, "password": password})
    req = ("POST /office/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kp_csrf=%s\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
           "Connection: close\r\n\r\n%s" % (csrf_cookie, len(form), form)).encode()
    c = socket.create_connection(("127.0.0.1", port), 5)
    return c, req


s = WebSuite()
try:
    s.events(["--test-clock", "on"])
    web = s.web(WEB_ARGS)
    admin = s.client(s.ev_api, "admin")
    pubc = s.client(s.ev_api, "web-publisher")
    # Personal data in the suite (a sign-up under a planted name): no log may carry it.
    eid = make_event(admin)
    rr = pubc.call("events.signup.submit", signup_req(eid, 1, source="web"), key="su-1")
    check(rr is not None and rr.status.code == 0, "a person signs up (planted personal data)")

    ids = {}
    for user, role, munis in (("alue", "regional", ""), ("alue2", "regional", ""),
                              ("seinajoki", "municipal", "743"),
                              ("poistuva", "municipal", "743"), ("kesto", "expert", ""),
                              ("cli", "expert", "")):
        _, out = office_account(s, user, role, munis, PW[user])
        ids[user] = account_id(out)
    check(all(ids.values()), "six accounts made with the CLI (%s)" % ids)

    al, r = office_sign_in(s.base, "alue", PW["alue"])
    check(r.status == 303, "the regional coordinator signs in")
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    sj2, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(sj.get("/office").status == 200 and sj2.get("/office").status == 200,
          "the contact person has two live sessions")

    # ---- a municipal contact person cannot manage accounts ----
    tok = csrf_of(sj, "/office")
    for act in ("disable", "remove", "scope"):
        r = sj.post("/office/accounts/%d/%s" % (ids["alue"], act),
                    {"csrf": tok, "confirm": "yes", "role": "2", "municipalities": "743"})
        check(r.status == 403 and "permission" in r.text,
              "the contact person's %s of the regional account: 403, saying so" % act)
    check(sj.get("/office/accounts/%d" % ids["alue"]).status == 403,
          "nor may they open an account's page (403)")
    check(al.get("/office").status == 200, "and the regional coordinator is still signed in")

    # ---- CSRF ----
    r = al.post("/office/accounts/%d/disable" % ids["seinajoki"], {})
    check(r.status == 403 and "kp_session" in al.cookies, "a disable without its CSRF token: 403")
    r = al.post("/office/accounts/%d/disable" % ids["seinajoki"], {"csrf": "x" * 43})
    check(r.status == 403, "a disable with a wrong CSRF token: 403")
    check(sj.get("/office").status == 200, "and the account is untouched")

    # ---- disable: its live sessions end at once, its sign-in is refused ----
    page = al.get("/office/accounts/%d" % ids["seinajoki"])
    check(page.status == 200 and "seinajoki" in page.text and "/disable" in page.text,
          "the account's page offers the disable button")
    r = al.post("/office/accounts/%d/disable" % ids["seinajoki"], {"csrf": hidden(page.text, "csrf")})
    check(r.status == 200 and "disabled and its sessions have ended" in r.text,
          "the regional coordinator disables the contact person's account")
    r = sj.get("/office")
    check(r.status == 303 and r.header("location") == "/office/sign-in",
          "the disabled account's live cookie is refused at the next GET (to the sign-in page)")
    r = sj2.post("/office/sign-out-all", {"csrf": csrf_of(sj2, "/office/sign-in")})
    check(r.status == 403, "and at the next POST (403)")
    b, r = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(r.status == 403 and "kp_session" not in b.cookies,
          "the disabled account cannot sign in, with the right password")
    check("Disabled" in al.get("/office/accounts").text, "the accounts page says Disabled")

    # ---- enable again ----
    r = al.post("/office/accounts/%d/enable" % ids["seinajoki"], {"csrf": csrf_of(al, "/office")})
    check(r.status == 200 and "The account is enabled" in r.text, "enabled again")
    check(sj.get("/office").status == 303, "the old cookie stays refused after the enable")
    sj, r = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(r.status == 303 and sj.get("/office").status == 200, "and the account signs in afresh")

    # ---- role and municipalities ----
    check(sj.get("/office/events?municipality=905").status == 403,
          "Vaasa's events are not the contact person's (403)")
    r = al.post("/office/accounts/%d/scope" % ids["seinajoki"],
                {"csrf": csrf_of(al, "/office"), "role": "2", "municipalities": ""})
    check(r.status == 400 and 'aria-invalid="true"' in r.text,
          "a municipal role without a municipality is refused beside the field (400)")
    r = al.post("/office/accounts/%d/scope" % ids["seinajoki"],
                {"csrf": csrf_of(al, "/office"), "role": "2", "municipalities": "743, 905"})
    check(r.status == 200 and "743, 905" in r.text, "the regional coordinator adds Vaasa")
    check(sj.get("/office/events?municipality=905").status == 200,
          "and the live session may list Vaasa's events at once")
    r = al.post("/office/accounts/%d/scope" % ids["seinajoki"],
                {"csrf": csrf_of(al, "/office"), "role": "3", "municipalities": ""})
    check(r.status == 200 and sj.get("/office/events").status == 403,
          "made an expert coordinator, the account has no events (403)")
    al.post("/office/accounts/%d/scope" % ids["seinajoki"],
            {"csrf": csrf_of(al, "/office"), "role": "2", "municipalities": "743"})

    # ---- the last enabled regional account ----
    r = al.post("/office/accounts/%d/disable" % ids["alue2"], {"csrf": csrf_of(al, "/office")})
    check(r.status == 200, "the second regional account is disabled")
    for act, fields in (("disable", {}), ("remove", {"confirm": "yes"}),
                        ("scope", {"role": "2", "municipalities": "743"})):
        fields = dict(fields, csrf=csrf_of(al, "/office"))
        r = al.post("/office/accounts/%d/%s" % (ids["alue"], act), fields)
        check(r.status == 409 and "last enabled regional" in r.text,
              "the last enabled regional account: %s refused (409), saying why" % act)
    check(al.get("/office/accounts").status == 200, "and it is still signed in and regional")
    rc, out = cli(s, "account-disable", "--user", "alue")
    check(rc != 0 and "last enabled regional" in out,
          "the CLI cannot disable it either (%d: %s)" % (rc, out.strip()))
    rc, out = cli(s, "account-enable", "--user", "alue2")
    check(rc == 0 and "enabled" in out, "the CLI enables the second regional account (%s)"
          % out.strip())

    # ---- remove ----
    po, r = office_sign_in(s.base, "poistuva", PW["poistuva"])
    check(r.status == 303, "the account to remove signs in")
    r = al.post("/office/accounts/%d/remove" % ids["poistuva"], {"csrf": csrf_of(al, "/office")})
    check(r.status == 400 and po.get("/office").status == 200,
          "a removal without the ticked box is refused (400), nothing changed")
    r = al.post("/office/accounts/%d/remove" % ids["poistuva"],
                {"csrf": csrf_of(al, "/office"), "confirm": "yes"})
    check(r.status == 200 and "The account has been removed" in r.text and
          ">poistuva<" not in r.text, "the account is removed and gone from the list")
    check(po.get("/office").status == 303, "its live cookie is refused")
    b, r = office_sign_in(s.base, "poistuva", PW["poistuva"])
    check(r.status == 403, "its sign-in is refused")
    check(al.get("/office/accounts/%d" % ids["poistuva"]).status == 404,
          "its page is 404")
    _, out = office_account(s, "poistuva", "expert", "", PW["poistuva"])
    check(account_id(out) > ids["poistuva"], "the name can be given again, under a new id")

    # ---- the CLI over the bus ----
    cl, _ = office_sign_in(s.base, "cli", PW["cli"])
    rc, out = cli(s, "account-disable", "--user", "cli")
    check(rc == 0 and "account %d: disabled" % ids["cli"] in out,
          "kumppani web account-disable (%s)" % out.strip())
    check(cl.get("/office").status == 303, "and the account's live cookie is refused")
    rc, out = cli(s, "account-enable", "--id", str(ids["cli"]))
    check(rc == 0 and "enabled" in out, "account-enable --id")
    cl, r = office_sign_in(s.base, "cli", PW["cli"])
    check(r.status == 303, "the account signs in again")
    rc, out = cli(s, "account-remove", "--user", "cli")
    check(rc == 0 and "removed" in out and cl.get("/office").status == 303,
          "account-remove ends its session too")
    rc, out = cli(s, "account-remove", "--user", "cli")
    check(rc != 0 and "no such account" in out, "a second removal: no such account")
    rc, out = cli(s, "account-disable")
    check(rc != 0 and "--user" in out, "without --user or --id the CLI says what it needs")

    # ---- the own password ----
    p1, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"], lang="sv")
    p2, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    page = p1.get("/office/password")
    check(page.status == 200 and "Byt lösenord" in page.text and 'lang="sv"' in page.text,
          "the password page in Swedish")
    tok = hidden(page.text, "csrf")
    r = p1.post("/office/password", {"current": PW["seinajoki"], "password": NEW_PW,
                                     "password2": NEW_PW})
    check(r.status == 403, "a password change without its CSRF token: 403")
    r = p1.post("/office/password", {"csrf": tok, "current": "vaara-salasana-123",
                                     "password": NEW_PW, "password2": NEW_PW})
    check(r.status == 403 and "nuvarande lösenordet är inte rätt" in r.text,
          "a wrong current password: 403, saying so in Swedish")
    r = p1.post("/office/password", {"csrf": tok, "current": PW["seinajoki"],
                                     "password": NEW_PW, "password2": NEW_PW + "x"})
    check(r.status == 400 and "inte likadana" in r.text, "two different new passwords: 400")
    r = p1.post("/office/password", {"csrf": tok, "current": PW["seinajoki"],
                                     "password": "kort", "password2": "kort"})
    check(r.status == 400 and "12–256" in r.text, "a short new password: 400")
    old_cookie, old_csrf = p1.cookies["kp_session"], p1.cookies["kp_csrf"]
    r = p1.post("/office/password", {"csrf": tok, "current": PW["seinajoki"],
                                     "password": NEW_PW, "password2": NEW_PW})
    check(r.status == 200 and "Lösenordet har bytts" in r.text, "the password is changed")
    check(p1.cookies["kp_session"] != old_cookie and p1.cookies["kp_csrf"] != old_csrf,
          "with a new session cookie and a new CSRF cookie")
    check(p1.get("/office").status == 200, "this browser stays signed in")
    check(p2.get("/office").status == 303, "the account's other session has ended")
    stale = Session(s.base, "en")
    stale.cookies["kp_session"] = old_cookie
    check(stale.get("/office").status == 303, "and so has this browser's previous cookie")
    b, r = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    check(r.status == 403, "the old password no longer signs in")
    b, r = office_sign_in(s.base, "seinajoki", NEW_PW)
    check(r.status == 303, "the new one does")
    dump = subprocess.run(["mdb_dump", "-s", "accounts", os.path.join(s.dir, "web")],
                          stdout=subprocess.PIPE, text=True).stdout
    check("argon2id" in dump.replace("\\", "") or "6172676f6e326964" in dump,
          "the store holds Argon2id strings")
    check(NEW_PW.encode().hex() not in dump and NEW_PW not in dump,
          "and not the new password")

    # ---- the audit ----
    rows = audit_rows(al)

    def has(acct, action, obj, outcome_word):
        return any(a == str(acct) and ac == action and o == obj and outcome_word in out
                   for a, ac, o, out in rows)
    sid = "account=%d" % ids["seinajoki"]
    check(has(ids["seinajoki"], "web.account.disable", "account=%d" % ids["alue"],
              "no permission"), "the audit: the contact person's refused disable (denied)")
    check(has(ids["alue"], "web.account.disable", sid, "done") and
          has(ids["alue"], "web.account.enable", sid, "done") and
          has(ids["alue"], "office.account.scope", sid, "done"),
          "the disable, enable and role change by the regional coordinator")
    check(has(ids["alue"], "web.account.disable", "account=%d" % ids["alue"], "a rule"),
          "the refused disable of the last regional account")
    check(has(ids["alue"], "web.account.remove", "account=%d" % ids["poistuva"], "done"),
          "the removal")
    check(has(0, "web.account.disable", "account=%d" % ids["cli"], "done") and
          has(0, "web.account.remove", "account=%d" % ids["cli"], "done"),
          "the CLI's disable and removal (account 0: the admin key)")
    check(has(ids["seinajoki"], "office.password", sid, "done") and
          has(ids["seinajoki"], "office.password", sid, "failed"),
          "the password change and the wrong current password")

    # ---- durable answers: SIGKILL right after the answer, five times ----
    statuses = []
    for rnd in range(5):
        page = Session(s.base, "en")
        tok = csrf_of(page, "/office/sign-in")
        cookie = page.cookies["kp_csrf"]
        first = raw_sign_in(s.web_port, cookie, tok, "kesto", "vaara-salasana-%d" % rnd)
        slow = [raw_sign_in(s.web_port, cookie, tok, "tuntematon-%d" % i, "vaara-%d" % rnd)
                for i in range(3)]
        time.sleep(0.2)  # every connection accepted: their requests arrive in one wake-up
        first[0].sendall(first[1])
        for c, req in slow:
            c.sendall(req)
        got = first[0].recv(64)
        web.kill9()
        statuses.append(int(got.split()[1]) if got.startswith(b"HTTP/1.1 ") else 0)
        for c in [first[0]] + [c for c, _ in slow]:
            c.close()
        web = s.web(WEB_ARGS)
    check(statuses == [403, 403, 403, 403, 429],
          "every answered failure survived a SIGKILL right after its answer: the fifth "
          "answer is the lockout (%s)" % statuses)
    b, r = office_sign_in(s.base, "kesto", PW["kesto"])
    check(r.status == 429, "and after another restart the account is still locked")
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    rows = audit_rows(al)
    kid = "account=%d" % ids["kesto"]
    n_failed = sum(1 for a, ac, o, out in rows if ac == "office.sign_in" and o == kid and
                   out == "failed")
    n_locked = sum(1 for a, ac, o, out in rows if ac == "office.sign_in" and o == kid and
                   "locked" in out)
    check(n_failed == 4 and n_locked == 2,
          "the audit holds the four failures and the lockout (and the locked sign-in) "
          "(%d failed, %d locked)" % (n_failed, n_locked))
    al.post("/office/accounts/%d/enable" % ids["alue2"], {"csrf": csrf_of(al, "/office")})

    # ---- the browser: the pages, axe and screenshots (office-80..87) ----
    if shutil.which("node") and os.path.exists("/usr/bin/chromium"):
        _, out = office_account(s, "selain", "municipal", "743", PW["poistuva"])
        cfg = {"regional": ["alue", PW["alue"]],
               "target": ["selain", PW["poistuva"], account_id(out)], "newPassword": BROWSER_PW}
        browser_checked("node", WEBDIR, "office_accounts.mjs", s.base, OUT, cfg, 8)
        b, r = office_sign_in(s.base, "selain", BROWSER_PW)
        check(r.status == 303, "the password changed in the browser signs in")
    else:
        print("skip: no node or /usr/bin/chromium: the browser part did not run")

    # ---- nothing secret in the web's log ----
    log = web.logtext()
    secrets = list(PW.values()) + [NEW_PW, BROWSER_PW, old_cookie, al.cookies["kp_session"]]
    check(not any(x in log for x in secrets), "the web's log carries no password or cookie")
    check("change=web.account.disable" in log, "the log has the changes (ids only)")

    # ---- a damaged account record is reported, not passed over ----
    # The accounts page lists every account; one whose record no longer decodes must not just
    # vanish from it (nor from the count that keeps the last regional account): the page says
    # the service is unavailable and the log names the store and the damage (no content).
    web.stop()
    env = lmdb.open(os.path.join(s.dir, "web"), max_dbs=32, map_size=1 << 30)
    with env.begin(write=True) as t:
        t.put(struct.pack(">Q", 999), b"\xff\xff\xff", db=env.open_db(b"accounts", txn=t))
    env.close()
    web = s.web(WEB_ARGS)
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    check(al.get("/office/accounts").status == 503,
          "the accounts page answers 503 while an account record is damaged")
    check(al.get("/office/audit").status == 200, "the audit, another record kind, still shows")
    check("store.corrupt" in web.logtext(), "the log says the store holds a damaged record")
finally:
    s.close()
done()
