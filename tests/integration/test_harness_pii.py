"""The log check of the harness can fail: a service log line that carries a planted name,
e-mail or phone number is reported, and a test that planted no personal data at all is
reported too (its log check would prove nothing).

A real events service runs; its log file is then given one line with a planted e-mail, as a
leaking service would write it, and Suite.close() must record exactly those failures. The
recorded failures are taken back afterwards so that this test passes only if they appeared."""
import kp_harness as H
from kp_harness import OK, Suite, check, done, make_event, signup_req


def close_failures(s):
    before = len(H._failures)
    s.close()
    new = H._failures[before:]
    del H._failures[before:]
    return new


# 1. Nothing planted: the close reports that the log check cannot fail.
H._planted.clear()
s = Suite()
s.events()
fails = close_failures(s)
check(any("planted personal data" in f for f in fails),
      "a test that plants nothing is reported (%r)" % fails)
check(not any("log carries no personal data" in f for f in fails), "no leak reported then")

# 2. Planted through a real request and leaked into the log: the leak is reported.
s = Suite()
s.events()
c = s.client(s.ev_api)
ev = make_event(c, capacity=10)
r = c.call("events.signup.submit", signup_req(ev, 1, name=H.PII[0], email=H.PII[1]))
check(r is not None and r.status.code == OK, "a sign-up with a planted name and e-mail stored")
check(H.PII[1] in H._planted, "the harness saw the planted e-mail go out")
check(H.PII[1] in H.planted_in(s.dir), "the planted e-mail is in the events store")
with open(s.procs[0].log_path, "a") as f:
    f.write("ts=x level=info svc=events event=leak email=%s\n" % H.PII[1])
fails = close_failures(s)
check(any("events log carries no personal data" in f for f in fails),
      "a log line with a planted e-mail is reported (%r)" % fails)
check(not any("planted personal data" in f for f in fails), "planting was seen")

done()
