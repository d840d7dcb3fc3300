"""Integration-test harness: real Kumppani binaries on loopback, spoken to over ZeroMQ.

Each test starts the service binaries it needs as child processes with temporary data
directories and free loopback ports, talks to them with pyzmq and the classes generated
from proto/ by protoc (the same way any other system would: only a ZeroMQ binding, the
.proto files and a key), and stops or kills them. Environment (set by CTest):

    KP_BIN_DIR   directory holding kumppani-events, kp-sink, kumppani
    KP_PY_DIR    directory holding the generated kumppani/v1/*_pb2.py
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.environ["KP_PY_DIR"])
import zmq  # noqa: E402
from kumppani.v1 import envelope_pb2 as E  # noqa: E402,F401
from kumppani.v1 import events_pb2 as V  # noqa: E402,F401
from kumppani.v1 import log_pb2 as L  # noqa: E402,F401

BIN = os.environ["KP_BIN_DIR"]
OK = E.CODE_OK

# Personal data planted in fixtures; no service log may contain any of these.
PII = ["Matti Meikäläinen", "matti.meikalainen@example.fi", "+358401234567", "Liisa Virtanen",
       "liisa.virtanen@example.fi",
       # experience experts of the broker tests (kp_broker, test_notifier_experts)
       "Aino Aaltonen", "aino.aaltonen@example.fi", "Björn Berg", "bjorn.berg@example.fi"]

_failures = []

# The PII strings this process has sent to a service in a request (Client.send_raw): the log
# check below can only fail if a test gave the services personal data to leak.
_PII_BYTES = [x.encode() for x in PII]
_planted = set()


def note_sent(data):
    """Records which planted strings a request (bytes or str) carried."""
    if isinstance(data, str):
        data = data.encode()
    for x, b in zip(PII, _PII_BYTES):
        if b in data:
            _planted.add(x)


def logs_leak(texts):
    """The planted strings found in any of the given log texts."""
    return sorted({x for t in texts for x in PII if x in t})


_LOGFMT = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def log_keys_repeated(text):
    """The lines of a service log (logfmt, "ts=... level=... event=...") that name a key twice."""
    out = []
    for line in text.splitlines():
        if not line.startswith("ts="):
            continue
        keys = [m.group(1) for m in _LOGFMT.finditer(line)]
        if len(keys) != len(set(keys)):
            out.append(line[:160])
    return out


def planted_in(root):
    """The planted strings found in the bytes of any file under root (stores, CSV, keys)."""
    found = set()
    for d, _, files in os.walk(root):
        for name in files:
            try:
                with open(os.path.join(d, name), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            found.update(x for x, b in zip(PII, _PII_BYTES) if b in data)
    return found


def check(cond, what):
    """Records a failed assertion with its description; the test exits non-zero at the end."""
    if not cond:
        _failures.append(what)
        print("FAIL:", what, flush=True)
    else:
        print("ok:", what, flush=True)


def done():
    if _failures:
        print("%d check(s) failed" % len(_failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


_PORTS_GIVEN = set()


def free_port():
    """A loopback port free now, for a service to bind. Below the kernel's ephemeral range
    (32768-60999), where every outgoing connection takes its local port: a port the kernel
    found free there could be taken by another test's connection before the service bound it
    ("Address already in use"); and below the suites' bases (20000-31080, kp_suite.free_base).
    Never the same port twice in one test."""
    for _ in range(1000):
        port = random.randrange(10000, 20000)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free loopback port in 10000-19999")


def wait_for(cond, deadline_s, step_s=0.05):
    """Calls cond until it returns something true or deadline_s passes; returns its last
    value."""
    end = time.time() + deadline_s
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step_s)
    return cond()


def raw_exchange(port, data, timeout=10, on_timeout=b""):
    """Sends bytes on a fresh loopback connection; returns everything answered until the peer
    closes, with on_timeout appended if it went silent for timeout seconds instead."""
    k = socket.create_connection(("127.0.0.1", port), timeout)
    k.sendall(data)
    out = b""
    try:
        while True:
            chunk = k.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += on_timeout
    k.close()
    return out


def cli_runner(env, *words):
    """A function that runs `kumppani WORDS ARGS...` with env and returns (exit code, stdout,
    stderr)."""
    def kp(*args):
        p = subprocess.run([os.path.join(BIN, "kumppani")] + list(words) + list(args), env=env,
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr
    return kp


def stop_popen(procs):
    """Terminates each subprocess.Popen still running, killing it after 20 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


class Proc:
    """A service child process with its own data dir and a log file."""

    def __init__(self, binary, name, args, workdir, env=None):
        self.binary, self.name, self.args = binary, name, args
        self.log_path = os.path.join(workdir, name + ".log")
        self.env = dict(os.environ, **(env or {}))
        self.p = None
        self.ended = False  # stopped or killed by the test (not on its own)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen([os.path.join(BIN, self.binary)] + self.args,
                                  stdout=self.log, stderr=self.log, env=self.env)
        return self

    def kill9(self):
        self.ended = True
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)
        self.log.close()

    def stop(self):
        self.ended = True
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                rc = self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                rc = self.p.wait(5)
                check(False, "%s stopped within 15 s of SIGTERM" % self.name)
            self.log.close()
            return rc
        return self.p.returncode if self.p else None

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Client:
    """A DEALER client with optional CURVE keys; call() returns the Reply or None on timeout."""

    def __init__(self, endpoint, server_pub=None, keypair=None, timeout_ms=5000):
        self.ctx = zmq.Context.instance()
        self.endpoint, self.server_pub, self.keypair = endpoint, server_pub, keypair
        self.timeout_ms = timeout_ms
        self.rid = 0
        self._open()

    def _open(self):
        self.s = self.ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        if self.server_pub:
            pub, sec = self.keypair
            self.s.curve_serverkey = self.server_pub.encode()
            self.s.curve_publickey = pub.encode()
            self.s.curve_secretkey = sec.encode()
        self.s.connect(self.endpoint)

    def send_raw(self, frame):
        note_sent(frame)
        self.s.send(frame)

    def recv_reply(self, timeout_ms=None):
        if self.s.poll(timeout_ms or self.timeout_ms) == 0:
            return None
        r = E.Reply()
        r.ParseFromString(self.s.recv())
        return r

    def request(self, method, body, key="", rid=None):
        if rid is None:
            self.rid += 1
            rid = self.rid
        return E.Request(request_id=rid, method=method, idempotency_key=key,
                         body=body.SerializeToString()).SerializeToString()

    def call(self, method, body, key="", timeout_ms=None):
        self.send_raw(self.request(method, body, key))
        while True:
            r = self.recv_reply(timeout_ms)
            if r is None or r.request_id == self.rid:
                return r

    def close(self):
        self.s.close(0)


def set_clock(client, offset_ms):
    """Moves a service's clock (the common test clock: the service runs with --test-clock on)
    to the wall clock plus offset_ms; returns the service's new time in ms."""
    r = client.call("sys.clock.set", L.ClockRequest(offset_ms=int(offset_ms)))
    check(r is not None and r.status.code == OK,
          "sys.clock.set answered OK (%s)" % (r.status.message if r else "no reply"))
    return body(r, L.ClockReply).now_ms if r is not None else 0


def body(reply, cls):
    m = cls()
    m.ParseFromString(reply.body)
    return m


class Suite:
    """Work dir + the events service (+ optional sink) with free ports."""

    def __init__(self, keys=False):
        self.dir = tempfile.mkdtemp(prefix="kp-it-")
        self.ev_api = "tcp://127.0.0.1:%d" % free_port()
        self.ev_pub = "tcp://127.0.0.1:%d" % free_port()
        self.sink_api = "tcp://127.0.0.1:%d" % free_port()
        self.keys_dir = None
        self.procs = []
        if keys:
            self.keys_dir = os.path.join(self.dir, "keys")
            for name in ("events", "sink", "admin", "publisher", "stranger"):
                subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", name,
                                       "--dir", self.keys_dir], stdout=subprocess.DEVNULL)
            with open(os.path.join(self.keys_dir, "allow"), "w") as f:
                f.write("# allow-list for the test\n")
                f.write("%s admin\n" % self.pub("admin"))
                f.write("%s publisher sources=county-portal  # the county portal\n"
                        % self.pub("publisher"))
                f.write("%s service\n" % self.pub("sink"))

    def pub(self, name):
        with open(os.path.join(self.keys_dir, name + ".pub")) as f:
            return f.read().strip()

    def keypair(self, name):
        with open(os.path.join(self.keys_dir, name + ".key")) as f:
            sec = f.read().strip()
        return (zmq.curve_public(sec.encode()).decode(), sec)

    def key_args(self, name):
        if not self.keys_dir:
            return []
        return ["--keys-dir", self.keys_dir, "--key-name", name]

    def events(self, extra=None):
        p = Proc("kumppani-events", "events",
                 ["--api", self.ev_api, "--pub", self.ev_pub, "--data-dir",
                  os.path.join(self.dir, "events"), "--heartbeat-ms", "200"]
                 + self.key_args("events") + (extra or []), self.dir)
        self.procs.append(p)
        p.start()
        wait_healthy(self.client(self.ev_api, "admin"), proc=p)
        return p

    def sink(self, extra=None):
        args = ["--api", self.sink_api, "--data-dir", os.path.join(self.dir, "sink"),
                "--source-api", self.ev_api, "--source-pub", self.ev_pub] + self.key_args("sink")
        if self.keys_dir:
            args += ["--source-key", os.path.join(self.keys_dir, "events.pub")]
        p = Proc("kp-sink", "sink", args + (extra or []), self.dir)
        self.procs.append(p)
        p.start()
        wait_healthy(self.client(self.sink_api, "admin" if not self.keys_dir else "sink",
                                 server="sink"), server="sink", proc=p)
        return p

    def client(self, endpoint, who="admin", server="events", timeout_ms=5000):
        if not self.keys_dir:
            return Client(endpoint, timeout_ms=timeout_ms)
        return Client(endpoint, self.pub(server), self.keypair(who), timeout_ms)

    def close(self):
        for p in self.procs:
            if p.p and p.p.poll() is None:
                p.stop()
            elif p.p and not p.ended and p.p.returncode != 0:
                # A service that ended by itself during the test (a crash, a sanitizer report):
                # a failure, with the end of its log to see why.
                tail = "\n".join(p.logtext().splitlines()[-40:])
                check(False, "%s ended by itself with %d during the test:\n%s"
                      % (p.name, p.p.returncode, tail))
        for p in self.procs:
            leaked = logs_leak([p.logtext()])
            check(not leaked, "%s log carries no personal data" % p.name)
            twice = log_keys_repeated(p.logtext())
            check(not twice, "%s log: no line names a key twice (a logfmt reader keeps one): %s"
                  % (p.name, twice[:3]))
        # The check above proves something only if personal data went in: by a request of
        # this process, or into a store by any other way (the CLI, a CSV import).
        planted = _planted | planted_in(self.dir)
        check(bool(planted), "the test planted personal data (names, e-mails, phones), "
              "so the log check can fail")
        if os.environ.get("KP_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_healthy(client, server="events", deadline_s=10, proc=None):
    end = time.time() + deadline_s
    while time.time() < end:
        if proc is not None and proc.p.poll() is not None:
            raise RuntimeError("%s exited with %d:\n%s" % (server, proc.p.returncode,
                                                           proc.logtext()))
        r = client.call("sys.health", L.HealthRequest(), timeout_ms=300)
        if r is not None and r.status.code == OK:
            client.close()
            return True
        client.close()
        client._open()
    client.close()
    raise RuntimeError("%s did not answer sys.health within %d s" % (server, deadline_s))


def make_event(c, capacity=0, key=None, start_in_s=7 * 86400, publish=True):
    now = int(time.time())
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="Kumppanuuspöytä: hyvinvointi", municipality_code="743",
        start_unix=now + start_in_s, end_unix=now + start_in_s + 7200, capacity=capacity,
        place="Seinäjoen kaupungintalo", language="fi"), key=key or ("ev-%f" % time.time()))
    assert r is not None and r.status.code == OK, r
    ev = body(r, V.EventReply).event
    if publish:
        r = c.call("events.event.publish", V.EventRef(event_id=ev.id))
        assert r.status.code == OK, r
    return ev.id


def signup_req(event_id, i, source="county-portal", name=None, email=None, **kw):
    """A sign-up; by default under a planted name (PII), so every test that signs people up
    gives the services personal data that the log check looks for."""
    return V.SubmitSignupRequest(event_id=event_id, source=source,
                                 external_id=kw.pop("external_id", "%010d" % i),
                                 name=name or PII[0],
                                 email=email or "p%d@example.fi" % i,
                                 role=kw.pop("role", V.ROLE_RESIDENT), **kw)


def sink_stats(client):
    import sink_pb2
    r = client.call("sink.stats", L.HealthRequest())
    assert r is not None and r.status.code == OK, r
    return body(r, sink_pb2.SinkStats)
