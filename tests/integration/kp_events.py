"""Helpers for the events service's integration tests (issue 4)."""
import time

import kp_harness
from kp_harness import PII, OK, V, L, E, body, check  # noqa: F401

DAY = 86400


def events_with_hooks(s, extra=None):
    """The events service with the common test clock on (--test-clock on)."""
    return s.events(["--test-clock", "on"] + (extra or []))


def set_clock(c, offset_s):
    """Moves the service's clock to the wall clock plus offset_s seconds (sys.clock.set);
    returns its new time in ms."""
    return kp_harness.set_clock(c, int(offset_s * 1000))


def create(c, key=None, publish=True, start_in_s=7 * DAY, dur_s=7200, **kw):
    now = int(time.time())
    fields = dict(kind=V.KIND_PARTNERSHIP_TABLE, title="Kumppanuuspöytä", municipality_code="743",
                  start_unix=now + start_in_s, end_unix=now + start_in_s + dur_s,
                  place="Kaupungintalo", language="fi")
    fields.update(kw)
    r = c.call("events.event.create", V.CreateEventRequest(**fields),
               key=key or ("ev-%f" % time.time()))
    assert r is not None and r.status.code == OK, r
    ev = body(r, V.EventReply).event
    if publish:
        r = c.call("events.event.publish", V.EventRef(event_id=ev.id))
        assert r.status.code == OK, r
        ev = body(r, V.EventReply).event
    return ev


def get(c, eid):
    r = c.call("events.event.get", V.EventRef(event_id=eid))
    assert r is not None and r.status.code == OK, r
    return body(r, V.EventReply).event


def submit(c, eid, i, **kw):
    kw.setdefault("source", "county-portal")
    req = V.SubmitSignupRequest(event_id=eid, external_id="%010d" % i,
                                name=kw.pop("name", PII[0]),  # planted (kp_harness.PII)
                                email=kw.pop("email", "p%d@example.fi" % i),
                                role=kw.pop("role", V.ROLE_RESIDENT), **kw)
    return c.call("events.signup.submit", req)


def signup(c, eid, i, **kw):
    r = submit(c, eid, i, **kw)
    assert r is not None and r.status.code == OK, r
    return body(r, V.SignupReply).signup


def log_events(c, from_seq=1):
    """Every event on the service's log as (type, payload bytes)."""
    out = []
    while True:
        r = c.call("log.replay", L.ReplayRequest(from_seq=from_seq, limit=1000))
        page = body(r, L.ReplayPage)
        for e in page.events:
            out.append((e.type, e.payload))
            from_seq = e.seq + 1
        if not page.events or from_seq > page.head_seq:
            return out


def head(c):
    return body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq


def refused(r, code, words, what):
    ok = r is not None and r.status.code == code and all(w in r.status.message for w in words)
    check(ok, what + (" (got %s: %s)" % (r.status.code, r.status.message) if r else " (no reply)"))
