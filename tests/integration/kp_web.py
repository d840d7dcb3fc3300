"""Helpers for the web service's integration tests (issue 13).

WebSuite is the harness Suite with CURVE keys plus the web's three keys: "web" (role service:
follows the events log, fetches iCalendar text), "web-publisher" (role publisher: submits
sign-ups, source "web") and "web-self" (role selfservice: a person's actions through their
personal link, on the events service and the broker). web() starts kumppani-web on a free
loopback port with the real templates; Session is a tiny cookie-keeping HTTP client
(http.client), so tests see status codes and headers exactly as a browser would get them.
link() makes a personal link as the notifier does (common/kp_link.h) with the web's secret."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse

DAY = 86400

from kp_harness import BIN, OK, Proc, Suite, V, body, check, free_port, wait_healthy  # noqa: F401

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATES = os.path.join(SRC, "services", "web", "templates")


class WebSuite(Suite):
    def __init__(self):
        super().__init__(keys=True)
        for name in ("web", "web-publisher", "web-self", "web-office"):
            subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", name,
                                   "--dir", self.keys_dir], stdout=subprocess.DEVNULL)
        with open(os.path.join(self.keys_dir, "allow"), "a") as f:
            f.write("%s service  # the web: log and iCalendar\n" % self.pub("web"))
            f.write("%s publisher sources=web  # the web's sign-up form\n"
                    % self.pub("web-publisher"))
            f.write("%s admin  # the web's back office\n" % self.pub("web-office"))
            f.write("%s selfservice  # the web's personal links\n" % self.pub("web-self"))
        # The link secret, as an operator makes it (the web would make one on first start;
        # a test makes links before that).
        self.link_key = os.urandom(32)
        with open(os.path.join(self.keys_dir, "web-link.secret"), "w") as f:
            f.write(self.link_key.hex() + "\n")
        os.chmod(os.path.join(self.keys_dir, "web-link.secret"), 0o600)
        self.web_port = free_port()
        self.web_api = "tcp://127.0.0.1:%d" % free_port()
        self.base = "http://127.0.0.1:%d" % self.web_port

    def link(self, purpose, rid, ref=0, expires=None):
        """The path of a personal link ("/s/<token>", "/x/...", "/r/...") signed with the
        web's secret; expires: Unix seconds (default: a week from now)."""
        return link_path(self.link_key, purpose, rid, ref,
                         int(time.time()) + 7 * DAY if expires is None else expires)

    def web(self, extra=None, broker_api=None):
        if broker_api:
            extra = ["--broker-api", broker_api, "--broker-key",
                     os.path.join(self.keys_dir, "expert-broker.pub")] + (extra or [])
        args = ["--api", self.web_api, "--data-dir", os.path.join(self.dir, "web"),
                "--http", "127.0.0.1:%d" % self.web_port, "--events-api", self.ev_api,
                "--events-pub", self.ev_pub, "--templates", TEMPLATES, "--test-clock", "on",
                "--log-level", "debug"] + self.key_args("web") + (extra or [])
        p = Proc("kumppani-web", "web", args, self.dir)
        self.procs.append(p)
        p.start()
        wait_healthy(self.client(self.web_api, "admin", server="web"), server="web", proc=p)
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.web_port), 0.5).close()
                return p
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the web did not listen")


# Personal-link purposes (common/kp_link.h) and their paths.
LINK_SIGNUP, LINK_EXPERT_OFFER, LINK_REQUEST = 1, 2, 3
LINK_PATHS = {LINK_SIGNUP: "/s/", LINK_EXPERT_OFFER: "/x/", LINK_REQUEST: "/r/"}


def link_token(key, purpose, rid, ref, expires):
    """A personal-link token (common/kp_link.h): base64url without padding of the 26 bytes
    [1, purpose, id u64 BE, ref u64 BE, expiry u64 BE] followed by HMAC-SHA512-256 of them (the
    first 32 bytes of HMAC-SHA512, libsodium's crypto_auth) under the 32-byte secret."""
    data = struct.pack(">BBQQQ", 1, purpose, rid, ref, expires)
    mac = hmac.new(key, data, hashlib.sha512).digest()[:32]
    return base64.urlsafe_b64encode(data + mac).decode().rstrip("=")


def link_path(key, purpose, rid, ref, expires):
    return LINK_PATHS[purpose] + link_token(key, purpose, rid, ref, expires)


class Response:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data
        self.text = data.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name.lower())

    def header_all(self, name):
        return [v for k, v in self.raw if k.lower() == name.lower()]


class Session:
    """A browser-like client: keeps cookies, sends a language, follows nothing."""

    def __init__(self, base, lang="fi"):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.cookies = {}
        self.lang = lang

    def request(self, method, path, data=None, headers=None, timeout=10):
        h = {"Accept-Language": self.lang}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if data is not None and not isinstance(data, (bytes, str)):
            data = urllib.parse.urlencode(data)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.getheaders()
        out = Response(r.status, {k.lower(): v for k, v in raw}, r.read())
        out.raw = raw
        c.close()
        for k, v in raw:
            if k.lower() == "set-cookie":
                name, val = v.split(";", 1)[0].split("=", 1)
                self.cookies[name.strip()] = val.strip()
        return out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, fields, **kw):
        return self.request("POST", path, data=fields, **kw)


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, html)
    return m.group(1) if m else None


def wait_page(sess, path, status=200, deadline_s=10, text=None):
    """Polls path until it answers status, with text in its page when given (the read model
    follows the log); returns the last answer."""
    end = time.time() + deadline_s
    while True:
        r = sess.get(path)
        if (r.status == status and (text is None or text in r.text)) or time.time() > end:
            return r
        time.sleep(0.05)


def signup_fields(page_html, **kw):
    """The fields of a valid sign-up for the form in page_html (its csrf and nonce)."""
    f = dict(csrf=hidden(page_html, "csrf"), nonce=hidden(page_html, "nonce"),
             name="Matti Meikäläinen", email="matti.meikalainen@example.fi", phone="",
             organisation="Kylätoimikunta", role="1", companions="0", consent_reminders="yes")
    f.update(kw)
    return f


def signup_post(sess, event_id, fields, **kw):
    """The sign-up form's POST as a browser sends it: a 303 (signed up: the confirmation is the
    personal page, Post/Redirect/Get) is followed; the answer keeps the 303 as .redirect."""
    r = sess.post("/events/%d/signup" % event_id, fields, **kw)
    if r.status != 303:
        r.redirect = None
        return r
    page = sess.get(r.header("location"))
    page.redirect = r
    return page


def personal_link(html):
    m = re.search(r'href="https?://[^"/]+(/s/[A-Za-z0-9_-]+)"', html)
    return m.group(1) if m else None


def create_event(admin, title, capacity=0, online="", start_in=7 * DAY, **kw):
    now = int(time.time())
    r = admin.call("events.event.create", V.CreateEventRequest(
        kind=kw.pop("kind", V.KIND_PARTNERSHIP_TABLE), title=title,
        municipality_code=kw.pop("municipality_code", "743"), start_unix=now + start_in,
        end_unix=now + start_in + 7200, capacity=capacity, place="Seinäjoen kaupungintalo",
        language="fi", online_url=online, **kw), key="ev-%s-%f" % (title, time.time()))
    assert r is not None and r.status.code == OK, r
    eid = body(r, V.EventReply).event.id
    r = admin.call("events.event.publish", V.EventRef(event_id=eid))
    assert r.status.code == OK, r
    return eid


# ---- the back office (issue 14) ------------------------------------------------------------

def web_registry(s, events=None, broker=False, pub=False):
    """Starts the events service (extra arguments events), the registry with CURVE keys, the
    expert broker when asked, and kumppani-web with loose rate limits pointed at them (following
    the registry's log too with pub; the web's Proc is s.web_proc). Returns (a registry client,
    the Broker or None)."""
    from kp_broker import Broker, add_keys
    from kp_registry import start_registry
    add_keys(s, [("registry", None)] + ([("expert-broker", None)] if broker else []))
    s.events(events)
    start_registry(s, extra=s.key_args("registry"))
    brk = Broker(s).start() if broker else None
    args = ["--rate-per-s", "2000", "--rate-burst", "5000", "--registry-api", s.reg_api]
    args += ["--registry-pub", s.reg_pub] if pub else []
    args += ["--broker-api", brk.api] if brk else []
    s.web_proc = s.web(args)
    return s.client(s.reg_api, server="registry"), brk


# ---- a refused office form's field (WCAG 2.1 3.3.1, 4.1.2) -----------------------------------

def control(html, fid):
    """The start tag of the control whose id is fid ('' when missing)."""
    m = re.search(r'<(?:input|select|textarea)\b[^>]*\bid="%s"[^>]*>' % re.escape(fid), html)
    return m.group(0) if m else ""


def wired(r, field, status=400):
    """Checks that the answer r refused field: its control is aria-invalid, and its
    aria-describedby names an element holding the summary's error text."""
    tag = control(r.text, "f-" + field)
    summary = re.search(r'<a href="#f-%s">([^<]+)</a>' % re.escape(field), r.text)
    ids = re.search(r'aria-describedby="([^"]*)"', tag)
    held = [re.search(r'id="%s">([^<]*)<' % re.escape(i), r.text) for i in
            (ids.group(1).split() if ids else [])]
    check(r.status == status and summary is not None and 'aria-invalid="true"' in tag and
          any(h and summary.group(1) in h.group(1) for h in held),
          "%s refused (%d): marked invalid and described by its error (%s)"
          % (field, r.status, tag))


def office_account(s, user, role, munis="", password=None, expect=0):
    """Adds a back-office account with the CLI (kumppani web account-add, the admin key); the
    password goes on standard input. Returns (exit code, output)."""
    args = [os.path.join(BIN, "kumppani"), "--endpoint", s.web_api, "--keys", s.keys_dir,
            "--key-name", "admin", "web", "account-add", "--user", user, "--role", role]
    if munis:
        args += ["--municipality", munis]
    p = subprocess.run(args, input=(password or "") + "\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    if expect is not None:
        check(p.returncode == expect, "web account-add %s exits %d (%d: %s)"
              % (user, expect, p.returncode, p.stdout.strip()))
    return p.returncode, p.stdout


# The tests' usual back-office accounts: sign-in name -> (role, municipalities, password).
OFFICE = {"alue": ("regional", "", "Aluekoordinaattori-2026!"),
          "seinajoki": ("municipal", "743", "Yhteyshenkilo-Seinajoki-1"),
          "vaasa": ("municipal", "905", "Yhteyshenkilo-Vaasa-22"),
          "asiantuntija": ("expert", "", "Asiantuntija-salasana-3")}
OFFICE_PW = {user: a[2] for user, a in OFFICE.items()}
WEBDIR = os.path.join(SRC, "tests", "web")  # the browser scripts (tests/web/*.mjs)
BROWSER_OUT = os.path.abspath(os.path.join(BIN, "..", "web-browser"))  # their screenshots


def office_accounts(s, *users):
    """Adds the named accounts of OFFICE in that order (office_account, each must succeed)."""
    for user in users:
        role, munis, password = OFFICE[user]
        office_account(s, user, role, munis, password)


def browser_ready(webdir):
    """Checks that the browser tests can run: node, Debian's chromium, and playwright-core and
    axe-core in webdir's node_modules. Returns node's path (None when missing)."""
    node = shutil.which("node")
    check(node is not None, "node is installed (scripts/setup)")
    check(os.path.exists("/usr/bin/chromium"), "Debian's chromium is installed (scripts/setup)")
    check(os.path.isdir(os.path.join(webdir, "node_modules", "playwright-core")) and
          os.path.isdir(os.path.join(webdir, "node_modules", "axe-core")),
          "playwright-core and axe-core are installed (npm ci in tests/web; scripts/setup)")
    return node


def run_browser(node, webdir, script, base, out, *args, cfg=None, timeout=150):
    """Runs the browser script webdir/script on base with its screenshots under out, then args
    and cfg as JSON; prints its output. Returns (exit code, the output, its summary: the JSON of
    its last line, {} when it printed nothing)."""
    argv = [node, os.path.join(webdir, script), base, out, *args, json.dumps(cfg)]
    p = subprocess.run(argv, cwd=webdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    text = p.stdout.decode("utf-8", "replace")
    print(text)
    return p.returncode, text, json.loads(text.strip().splitlines()[-1]) if text.strip() else {}


def browser_checked(node, webdir, script, base, out, cfg, pages, timeout=150):
    """run_browser (out made first) and the checks every browser run ends with: it exited 0, axe
    ran on `pages` page states with 0 violations each, and every screenshot it names was saved.
    Returns its summary."""
    os.makedirs(out, exist_ok=True)
    rc, _, sm = run_browser(node, webdir, script, base, out, cfg=cfg, timeout=timeout)
    axes = sm.get("axe", [])
    check(rc == 0 and len(axes) == pages and all(a["violations"] == 0 for a in axes),
          "the browser run (%s): %d page states, axe 0 violations" % (script, len(axes)))
    check(all(os.path.exists(x["file"]) for x in sm.get("screenshots", [])),
          "their screenshots under %s" % out)
    return sm


def office_sign_in(base, user, password, lang="en"):
    """A Session signed in to the back office (the sign-in page first, for its CSRF token);
    returns (session, the sign-in POST's response)."""
    b = Session(base, lang)
    page = b.get("/office/sign-in")
    r = b.post("/office/sign-in", {"csrf": hidden(page.text, "csrf"), "user": user,
                                   "password": password})
    return b, r


def csrf_of(sess, path):
    """The CSRF token of the page at path."""
    return hidden(sess.get(path).text, "csrf")
