"""The README's C example for publishing systems (kp-readme-publish, built from the README's
block by tests/unit/client/CMakeLists.txt) against the real events service on loopback with
CURVE, as a publishing system runs it: its key bound to the source "county-portal". It signs
Maija up and prints the sign-up; run again it gets the same sign-up (the external id makes the
resend safe); the same id sent for another event is refused with a readable line and exit 4."""
import os
import subprocess

from kp_harness import BIN, OK, V, Suite, body, check, done, make_event, signup_req

s = Suite(keys=True)
try:
    s.events()
    admin = s.client(s.ev_api, "admin")
    eid = make_event(admin, capacity=5)
    # A sign-up of the harness's own, so that the log check below has planted data to find.
    r = s.client(s.ev_api, "publisher").call("events.signup.submit", signup_req(eid, 1))
    check(r is not None and r.status.code == OK, "a planted sign-up")
    pub, sec = s.keypair("publisher")  # the allow-list binds it to sources=county-portal
    env = dict(os.environ, EVENTS_PUB=s.pub("events"), MY_PUB=pub, MY_SEC=sec)

    def publish(endpoint, event_id):
        p = subprocess.run([os.path.join(BIN, "kp-readme-publish"), endpoint, str(event_id)],
                           env=env, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = publish(s.ev_api, eid)
    check(rc == 0 and out.startswith("signup ") and out.strip().endswith(": confirmed"),
          "the README's example signs Maija up (%d %r %r)" % (rc, out, err))
    rc2, out2, err2 = publish(s.ev_api, eid)
    check(rc2 == 0 and out2 == out, "sent again: the same sign-up, not a second one (%r)" % out2)
    lst = body(admin.call("events.signup.list", V.ListSignupsRequest(event_id=eid)),
               V.ListSignupsReply).signups
    mine = [x for x in lst if x.external_id == "2027-000017"]
    check(len(mine) == 1 and mine[0].source == "county-portal" and
          mine[0].name == "Maija Meikäläinen", "the service holds her once, under the portal's "
          "source and id")
    rc, out, err = publish(s.ev_api, 999)
    check(rc == 4 and out == "" and err.startswith("refused: ") and len(err) > 20,
          "the same id for another event: refused, the service's words on stderr, exit 4 "
          "(%d %r)" % (rc, err))
finally:
    s.close()
done()
