"""Helpers for the notifier's integration tests: a real SMTP server (aiosmtpd) and a real HTTP
receiver on loopback, both counting and keeping what arrives, and the notifier process."""
import base64
import datetime
import email
import email.policy
import hashlib
import hmac
import os
import re
import shutil
import struct
import threading
import time
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

import kp_harness
from kp_broker import Broker, add_keys
from kp_harness import OK, Proc, body, free_port, wait_for, wait_healthy  # noqa: F401
from kumppani.v1 import notifier_pb2 as N  # noqa: F401


class Smtp:
    """aiosmtpd on a free port of host (loopback by default); .messages holds (rcpt_tos, raw
    bytes) and .sessions, for the same message, (whether the session was TLS, the login it
    authenticated with or None). controller takes aiosmtpd Controller settings such as
    tls_context, require_starttls, auth_required and authenticator."""

    def __init__(self, host="127.0.0.1", **controller):
        self.messages = []
        self.sessions = []
        self.lock = threading.Lock()
        outer = self

        class H:
            async def handle_DATA(self, server, session, envelope):
                with outer.lock:
                    outer.messages.append((list(envelope.rcpt_tos), envelope.content))
                    outer.sessions.append((session.ssl is not None, session.auth_data))
                return "250 OK"

        self.port = free_port()
        self.ctl = Controller(H(), hostname=host, port=self.port, **controller)
        self.ctl.start()

    def parsed(self):
        with self.lock:
            return [(r, email.message_from_bytes(m, policy=email.policy.default), m)
                    for r, m in self.messages]

    def count(self):
        with self.lock:
            return len(self.messages)

    def stop(self):
        self.ctl.stop()


class Http:
    """An HTTP receiver; fail_first[path] requests to path answer 503 (or status_for)."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        self.fail_first = {}
        self.status_for = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                with outer.lock:
                    left = outer.fail_first.get(self.path, 0)
                    if left:
                        outer.fail_first[self.path] = left - 1
                        code = 503
                    else:
                        code = outer.status_for.get(self.path, 200)
                    outer.got.append((self.path, dict(self.headers), data, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def ok(self, path):
        with self.lock:
            return [g for g in self.got if g[0] == path and g[3] == 200]

    def all(self, path):
        with self.lock:
            return [g for g in self.got if g[0] == path]

    def stop(self):
        self.srv.shutdown()


SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "services", "notifier", "templates")


def templates_copy(s):
    """A copy of the shipped message texts in the suite's directory, for a test to edit."""
    tdir = os.path.join(s.dir, "templates")
    shutil.copytree(SHIPPED, tdir)
    return tdir


def digest_moment():
    """The next Monday 07:00 in Helsinki at least two hours from now (the weekly digest's
    moment under test): (the datetime, its Unix seconds, its date YYYY-MM-DD)."""
    now = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Helsinki"))
    t = (now + datetime.timedelta(days=(7 - now.weekday()) % 7)).replace(
        hour=7, minute=0, second=0, microsecond=0)
    if t.timestamp() < time.time() + 7200:
        t += datetime.timedelta(days=7)
    return t, int(t.timestamp()), t.strftime("%Y-%m-%d")


def digest_suite(s):
    """The events and registry services keyed for a digest test (the notifier follows both):
    returns admin clients of the registry and the events service."""
    from kp_registry import start_registry
    add_keys(s, [("registry", "service"), ("notifier", "service")])
    s.events()
    start_registry(s, extra=s.key_args("registry"))
    return (s.client(s.reg_api, "admin", server="registry"),
            s.client(s.ev_api, "admin", server="events"))


def digest_notifier(s, smtp):
    """The notifier of a digest_suite, following the registry, with the test clock on:
    (its process, an admin client, set_clock(at_unix_s) moving its clock to that moment,
    start() starting it again on the same ports and store after a stop: (process, client))."""
    api = "tcp://127.0.0.1:%d" % free_port()
    pub = "tcp://127.0.0.1:%d" % free_port()
    args = keyed_args(s, smtp, api, pub) + [
        "--registry-api", s.reg_api, "--registry-pub", s.reg_pub,
        "--registry-key", os.path.join(s.keys_dir, "registry.pub"), "--test-clock", "on"]
    p, nc = start_keyed(s, api, args)

    def set_clock_at(at_s):
        set_clock(s, int((at_s - time.time()) * 1000), api)
    return p, nc, set_clock_at, lambda: start_keyed(s, api, args)


def signature_ok(secret, body, header):
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header == "sha256=" + mac


# The web's address in the tests' messages (a WebSuite's own, else this): the personal links.
WEB_URL = "https://kumppani.test"


def web_url(s):
    return getattr(s, "base", None) or WEB_URL


def link_secret(s):
    """The personal-link secret the notifier of suite s uses (made at its first start)."""
    return os.path.join(s.keys_dir or s.dir, "web-link.secret")


def link_args(s):
    """The settings that make the notifier write personal links, as the suite's would."""
    return ["--web-url", web_url(s), "--link-key", link_secret(s)]


LINK_RE = r"https?://[^\s/]+/([sxr])/([A-Za-z0-9_-]+)"
PURPOSE = {"s": 1, "x": 2, "r": 3}


def links(text_):
    """The personal links (path letter, token) in a message text."""
    return re.findall(LINK_RE, text_)


def link_check(s, letter, token):
    """Checks a token as the web does (kp_link.h: version, purpose, id, ref, expiry and
    HMAC-SHA-512-256 under the shared secret); returns (id, ref, expires_unix) or None."""
    with open(link_secret(s)) as f:
        key = bytes.fromhex(f.read().strip())
    b = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    if len(b) != 58 or b[0] != 1 or b[1] != PURPOSE[letter]:
        return None
    mac = hmac.new(key, b[:26], hashlib.sha512).digest()[:32]
    if not hmac.compare_digest(mac, b[26:]):
        return None
    return struct.unpack(">QQQ", b[2:26])


def notifier(s, smtp, http=None, extra=None, secret="s3cret", link=True):
    """Starts kumppani-notifier following s's events service; returns (proc, api). With link,
    its messages carry personal links to web_url(s)."""
    if not hasattr(s, "ntf_api"):
        s.ntf_api = "tcp://127.0.0.1:%d" % free_port()
        s.ntf_pub = "tcp://127.0.0.1:%d" % free_port()
    args = ["--api", s.ntf_api, "--pub", s.ntf_pub, "--data-dir",
            os.path.join(s.dir, "notifier"), "--events-api", s.ev_api, "--events-pub", s.ev_pub,
            "--smtp-url", "smtp://127.0.0.1:%d" % smtp.port, "--smtp-from", "kumppani@example.org",
            "--test-clock", "on", "--retry-base-ms", "200", "--lease-ms", "3000",
            "--timeout-ms", "2000", "--heartbeat-ms", "200"] + (link_args(s) if link else [])
    if http:
        args += ["--webhook-url", http.url("/hook"), "--webhook-secret", secret,
                 "--sms-url", http.url("/sms")]
    p = Proc("kumppani-notifier", "notifier", args + (extra or []), s.dir)
    s.procs.append(p)
    p.start()
    wait_healthy(s.client(s.ntf_api, server="notifier"), server="notifier", proc=p)
    return p


def set_clock(s, offset_ms, api=None):
    """Moves the clock of the notifier of suite s (at api, default s.ntf_api) to the wall clock
    plus offset_ms, through the common test clock (sys.clock.set, as admin)."""
    kp_harness.set_clock(s.client(api or s.ntf_api, "admin", server="notifier"), offset_ms)


def keyed_args(s, smtp, api, pub=None):
    """The settings every notifier on a keyed suite s has: its API at api (and pub, default a
    free port), following s's events service with its key checked, mailing through smtp
    without TLS, with short retries, leases and heartbeats. Add the test's own after them."""
    return ["--api", api, "--pub", pub or "tcp://127.0.0.1:%d" % free_port(),
            "--data-dir", os.path.join(s.dir, "notifier"),
            "--events-api", s.ev_api, "--events-pub", s.ev_pub,
            "--events-key", os.path.join(s.keys_dir, "events.pub"),
            "--smtp-url", "smtp://127.0.0.1:%d" % smtp.port, "--smtp-from", "kumppani@example.org",
            "--smtp-tls", "off", "--retry-base-ms", "200", "--lease-ms", "3000",
            "--timeout-ms", "2000", "--heartbeat-ms", "200"]


def with_broker(s):
    """On a keyed suite s: key pairs for the expert broker and the notifier, the events service
    and a started broker; returns the broker (kp_broker.Broker)."""
    add_keys(s, [("expert-broker", "service"), ("notifier", "service")])
    s.events()
    return Broker(s).start()


def broker_args(s, b):
    """The settings that make a notifier on keyed suite s follow broker b, its key checked."""
    return ["--broker-api", b.api, "--broker-pub", b.pub,
            "--broker-key", os.path.join(s.keys_dir, "expert-broker.pub")]


def start_keyed(s, api, args):
    """Starts kumppani-notifier with args (which name api) on a keyed suite; returns
    (proc, admin client). Its messages carry personal links unless args say otherwise."""
    if "--web-url" not in args:
        args = args + link_args(s)
    p = Proc("kumppani-notifier", "notifier", args + s.key_args("notifier"), s.dir)
    s.procs.append(p)
    p.start()
    wait_healthy(s.client(api, "admin", server="notifier"), server="notifier", proc=p)
    return p, s.client(api, "admin", server="notifier")


def status(nc, key):
    """The notification of key, or None."""
    r = nc.call("notifier.status", N.NotificationRef(key=key))
    return body(r, N.NotificationReply).notification if r.status.code == OK else None


def mails_to(smtp, addr):
    return [m for rc, m, raw in smtp.parsed() if addr in rc]


def text(m):
    return m.get_body(preferencelist=("plain",)).get_content()
