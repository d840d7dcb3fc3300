"""The C client library (libkumppani) as a publishing system uses it, against the real events
service on loopback: kp-client-publisher (tests/unit/client/kp_client_publisher.c) creates
and publishes events, pages through them (kpc_event_list), submits sign-ups, pages through
them (kpc_signup_list), cancels two (kpc_signup_cancel) and follows the log page by page
(kpc_log_replay), checking every answer; this test starts the service, runs it, and checks
what the service holds and logs afterwards."""
import os
import subprocess

from kp_harness import BIN, L, OK, PII, V, Suite, body, check, done

s = Suite()
try:
    s.events()
    p = subprocess.run([os.path.join(BIN, "kp-client-publisher"), s.ev_api],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "checks passed" in p.stdout,
          "kp-client-publisher: every check passed (exit %d)\n%s%s"
          % (p.returncode, p.stdout, p.stderr))
    # What the program did is what the service holds, seen from outside the library.
    c = s.client(s.ev_api)
    r = c.call("events.event.list", V.ListEventsRequest())
    evs = body(r, V.ListEventsReply).events if r is not None and r.status.code == OK else []
    check(len(evs) == 5 and sum(e.state == V.EVENT_STATE_PUBLISHED for e in evs) == 4,
          "the service holds the 5 events, 4 published (%d)" % len(evs))
    if evs:
        r = c.call("events.signup.list", V.ListSignupsRequest(event_id=evs[0].id))
        sus = body(r, V.ListSignupsReply).signups if r.status.code == OK else []
        states = [x.state for x in sus]
        check(states == [V.SIGNUP_STATE_CANCELLED] * 2 + [V.SIGNUP_STATE_CONFIRMED] * 3,
              "two sign-ups cancelled, the waitlist promoted (%s)" % states)
        check(any(x.name == PII[0] for x in sus), "the planted name was stored")
    r = c.call("sys.health", L.HealthRequest())
    check(r is not None and body(r, L.HealthReply).head_seq > 0
          and ("%d log events" % body(r, L.HealthReply).head_seq) in p.stdout,
          "the program followed the log to the service's head")
    c.close()
finally:
    s.close()
done()
