# timeout: 120
"""A service that answers but writes nothing is not "up": with its store full (an LMDB map of
1 MiB), every turn that writes is aborted and its requests answered UNAVAILABLE. sys.health
then counts the aborted turns with the last one's reason and time; `kumppani status` shows the
service FAILING with that reason and exits 1 (0 only when all are up, 3 when one is down);
`kumppani metrics` has kumppani_turns_aborted_total. Nothing stored is lost: what was
acknowledged before is still there."""
import json
import os
import time

from kp_harness import E, L, OK, V, Suite, body, check, cli_runner, done, make_event, signup_req

s = Suite()
try:
    s.events(["--map-size-mb", "1"])
    c = s.client(s.ev_api)
    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none",
                         KUMPPANI_REGISTRY_API="tcp://127.0.0.1:1",
                         KUMPPANI_EXPERT_BROKER_API="tcp://127.0.0.1:1",
                         KUMPPANI_NOTIFIER_API="tcp://127.0.0.1:1"))

    def health():
        return body(c.call("sys.health", L.HealthRequest()), L.HealthReply)

    check(health().turns_aborted == 0, "a fresh service has aborted no turn")
    eid = make_event(c)
    text = "esteetön sisäänkäynti, induktiosilmukka " * 12  # about 500 characters
    acked, refused, end = [], None, time.time() + 60
    for i in range(5000):  # bounded: 1 MiB holds a few hundred of these
        r = c.call("events.signup.submit", signup_req(eid, i, accessibility_text=text, dietary_text=text,
                                                      consent_needs=True))
        if r is None or r.status.code != OK:
            refused = r
            break
        acked.append(body(r, V.SignupReply).signup.id)
        if time.time() > end:
            break
    check(refused is not None and refused.status.code == E.CODE_UNAVAILABLE,
          "with the store full a sign-up is answered UNAVAILABLE after %d (%s)"
          % (len(acked), refused.status.message if refused else "none refused"))
    # A small write of the service's own (a timer's) may still fit and commit: failing holds
    # while the last turn that wrote was lost, so a refused sign-up comes just before each look.
    def refused_then(look, failing):
        for _ in range(5):
            c.call("events.signup.submit", signup_req(eid, 9999, accessibility_text=text,
                                                      dietary_text=text, consent_needs=True))
            got = look()
            if failing(got):
                break
        return got

    h = refused_then(health, lambda x: x.last_abort_ms >= x.last_commit_ms)
    check(h.turns_aborted >= 1 and h.last_abort and h.last_abort_ms >= h.last_commit_ms,
          "sys.health: %d turn(s) aborted, the last '%s', after the last commit"
          % (h.turns_aborted, h.last_abort))

    def cli_failing(*args):
        return refused_then(lambda: kp(*args)[:2],
                            lambda x: "FAILING" in x[1] or '"failing": true' in x[1])

    rc, out = cli_failing("status", "--timeout", "500", "--attempts", "1")
    line = [x for x in out.splitlines() if x.startswith("events")]
    check(rc == 3 and line and "FAILING" in line[0] and "turn(s) aborted" in out
          and h.last_abort in out and "nothing written since" in out,
          "status: events FAILING with the reason (others down: exit 3) (%d %s)" % (rc, out))
    rc, out = cli_failing("--json", "status", "--timeout", "500", "--attempts", "1")
    ev = [x for x in json.loads(out) if x["service"] == "events"][0] if out else {}
    check(ev.get("failing") is True and ev.get("turns_aborted", 0) >= 2 and
          ev.get("last_abort") == h.last_abort and ev.get("last_abort_at"),
          "status --json: failing, turns_aborted, last_abort and its time (%s)" % ev)
    rc, out, err = kp("metrics", "--timeout", "500", "--attempts", "1")
    check('kumppani_turns_aborted_total{service="events"} ' in out and
          '# TYPE kumppani_turns_aborted_total counter' in out,
          "metrics: kumppani_turns_aborted_total for the events service")
    # What was acknowledged is still there.
    r = c.call("events.signup.list", V.ListSignupsRequest(event_id=eid, limit=1000))
    got = [x.id for x in body(r, V.ListSignupsReply).signups] if r and r.status.code == OK else []
    check(got == acked, "every acknowledged sign-up is stored (%d of %d)" % (len(got), len(acked)))
finally:
    s.close()
done()
