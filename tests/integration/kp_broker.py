"""Helpers for the expert-broker integration tests: start the service with a test clock,
make experts and requests, move time (the common test clock, kp_harness.set_clock)."""
import os
import time

from kp_harness import (OK, Client, Proc, body, free_port, set_clock, wait_healthy)
from kumppani.v1 import broker_pb2 as B  # noqa: F401

HOUR_MS = 3600 * 1000


class Broker:
    """The broker on free ports with its own data dir and the test clock on (sys.clock.set)."""

    def __init__(self, suite, extra=None, who="admin"):
        self.s = suite
        self.who = who
        self.api = "tcp://127.0.0.1:%d" % free_port()
        self.pub = "tcp://127.0.0.1:%d" % free_port()
        self.offset_ms = 0
        self.extra = extra or []
        self.proc = None
        self.c = None
        self.admin = None

    def start(self):
        self.proc = Proc("kumppani-expert-broker", "expert-broker",
                         ["--api", self.api, "--pub", self.pub, "--data-dir",
                          os.path.join(self.s.dir, "broker"), "--heartbeat-ms", "200",
                          "--test-clock", "on"] + self.s.key_args("expert-broker")
                         + self.extra, self.s.dir)
        self.s.procs.append(self.proc)
        self.proc.start()
        wait_healthy(self.client(), server="expert-broker", proc=self.proc)
        self.admin = self.client()  # moves the test clock (an admin method)
        if self.offset_ms:
            set_clock(self.admin, self.offset_ms)  # the offset lives in the process
        self.c = self.client(self.who)
        return self

    def client(self, who="admin"):
        """A client of the broker; with the suite's keys, as the key named who."""
        if not self.s.keys_dir:
            return Client(self.api)
        return self.s.client(self.api, who, server="expert-broker")

    def set_offset(self, ms):
        """Moves the broker's clock to the wall clock plus ms (kept for a restart: start()
        sets it again; while the broker is down only the number is kept)."""
        self.offset_ms = ms
        if self.proc is not None and self.proc.p.poll() is None:
            set_clock(self.admin, ms)

    def advance(self, ms, settle_s=0.5):
        self.set_offset(self.offset_ms + ms)
        time.sleep(settle_s)

    def now_s(self):
        return int(time.time() + self.offset_ms / 1000)

    def call(self, method, msg, key=""):
        return self.c.call(method, msg, key=key)

    def ok(self, method, msg, cls, key=""):
        r = self.call(method, msg, key)
        assert r is not None and r.status.code == OK, (method, r and r.status)
        return body(r, cls)

    def candidates(self, request_id):
        """broker.request.explain: the request's candidates by expert id."""
        ex = self.ok("broker.request.explain", B.BrokerRequestRef(request_id=request_id),
                     B.ExplainRequestReply)
        return {c.expert_id: c for c in ex.candidates}

    def accept(self, offer_id):
        """Accepts an offer (it must be answered OK); the OfferReply."""
        return self.ok("broker.offer.accept", B.OfferRef(offer_id=offer_id), B.OfferReply)


def expert_input(name, email, **kw):
    d = dict(kind=B.EXPERT_KIND_EXPERT, name=name, email=email, home_org_id=1,
             expertise=["mental-health"], languages=["fi"], municipalities=["743"],
             remote_ok=True, consent=True)
    d.update(kw)
    return B.ExpertInput(**d)


def register(b, name, email, key=None, **kw):
    return b.ok("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        name, email, **kw)), B.ExpertReply, key=key or ("exp-" + email)).expert


def request_input(b, **kw):
    start = b.now_s() + 14 * 86400
    d = dict(requester_kind=B.REQUESTER_ORGANISATION, requester_name="Seinäjoen kaupunki",
             requester_org_id=5, contact_email="tilaaja@example.fi",
             purpose=B.PURPOSE_PANEL, title="Paneeli", expertise=["mental-health"],
             start_unix=start, duration_min=90, municipality="743", remote=False,
             language="fi", experts_needed=1, fee_cents=15000, travel_cents=2000,
             answer_deadline_unix=start - 86400, offer_hours=48)
    d.update(kw)
    return B.BrokerRequestInput(**d)


def file_request(b, key, **kw):
    return b.ok("broker.request.file", B.FileRequestRequest(request=request_input(b, **kw)),
                B.BrokerRequestReply, key=key)


def get_request(b, rid):
    return b.ok("broker.request.get", B.BrokerRequestRef(request_id=rid), B.BrokerRequestReply)


def open_offers(b, rid):
    return [o for o in get_request(b, rid).offers if o.state == B.OFFER_STATE_OPEN]


def head_seq(b):
    """The broker's log head (to show that refused input wrote nothing)."""
    from kp_harness import L
    return body(b.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq


def log_types(b, from_seq=1):
    from kp_harness import L
    out = []
    while True:
        page = b.ok("log.replay", L.ReplayRequest(from_seq=from_seq, limit=1000), L.ReplayPage)
        out += list(page.events)
        if len(page.events) < 1000:
            return out
        from_seq = page.events[-1].seq + 1


def add_keys(s, names_roles):
    """Adds key pairs (kumppani keygen) to a keyed suite and allow-lines for them:
    names_roles is [(name, role or None)]."""
    import subprocess
    from kp_harness import BIN
    with open(os.path.join(s.keys_dir, "allow"), "a") as f:
        for name, role in names_roles:
            subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", name, "--dir",
                                   s.keys_dir], stdout=subprocess.DEVNULL)
            if role:
                f.write("%s %s\n" % (s.pub(name), role))
