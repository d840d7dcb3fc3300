"""The kumppani command-line client against the real events service, over CURVE.

Every command a coordinator or a script uses: keygen, events create/publish/get/list/signups,
signup and signup cancel, log replay, health; --json output that parses; readable output;
and the exit codes: 2 for a usage error, 4 for an error answer, 3 (within the bounded
retries, never a hang) when the service is unreachable."""
import json
import os
import subprocess
import time

from kp_harness import BIN, Suite, check, done, free_port

s = Suite(keys=True)
try:
    s.events()
    # The CLI looks for DIR/cli.key and DIR/events.pub: give it the admin pair as "cli".
    cli_dir = os.path.join(s.dir, "cli-keys")
    os.makedirs(cli_dir)
    for ext in ("key", "pub"):
        with open(os.path.join(s.keys_dir, "admin." + ext)) as src, \
                open(os.path.join(cli_dir, "cli." + ext), "w") as dst:
            dst.write(src.read())
    with open(os.path.join(s.keys_dir, "events.pub")) as src, \
            open(os.path.join(cli_dir, "events.pub"), "w") as dst:
        dst.write(src.read())
    env = dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS=cli_dir)

    def kp(*args, timeout=30):
        p = subprocess.run([os.path.join(BIN, "kumppani")] + list(args), env=env,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = kp("events", "create", "--kind", "partnership-table", "--title",
                      "Kumppanuuspöytä Lapua", "--municipality", "408", "--start",
                      "2031-03-12 17:00", "--end", "2031-03-12 19:00", "--capacity", "1",
                      "--idempotency-key", "lapua-2031-03", "--json")
    check(rc == 0, "events create exits 0 (%s)" % err.strip())
    ev = json.loads(out)
    ev = ev.get("event", ev)
    eid = str(ev["id"])
    check(ev["title"] == "Kumppanuuspöytä Lapua" and ev["municipality"] == "408",
          "create --json carries the event")
    check("2031-03-12T17:00:00+02:00" in out, "start shown in Europe/Helsinki with offset")
    rc2, out2, _ = kp("events", "create", "--kind", "partnership-table", "--title",
                      "Kumppanuuspöytä Lapua", "--municipality", "408", "--start",
                      "2031-03-12 17:00", "--end", "2031-03-12 19:00", "--capacity", "1",
                      "--idempotency-key", "lapua-2031-03", "--json")
    check(rc2 == 0 and json.loads(out2).get("event", json.loads(out2))["id"] == ev["id"],
          "create with the same idempotency key returns the same event")
    rc, out, err = kp("events", "publish", eid)
    check(rc == 0 and "published" in out.lower(), "events publish")
    rc, out, err = kp("signup", "--event", eid, "--source", "web-form", "--id", "a-1", "--name",
                      "Matti Meikäläinen", "--email", "matti.meikalainen@example.fi", "--role",
                      "ngo", "--consent", "--json")
    check(rc == 0 and "confirmed" in out.lower(), "signup confirmed")
    rc, out, err = kp("signup", "--event", eid, "--source", "web-form", "--id", "a-2", "--name",
                      "Liisa Virtanen", "--phone", "+358401234567", "--role", "resident")
    check(rc == 0 and "waitlist" in out.lower(), "second signup waitlisted (capacity 1)")
    rc, out, err = kp("events", "signups", eid, "--json")
    data = json.loads(out)
    rows = data["signups"] if isinstance(data, dict) else data
    check(rc == 0 and len(rows) == 2, "events signups lists both")
    rc, out, err = kp("events", "signups", eid)
    check(rc == 0 and "Matti Meikäläinen" in out and "Liisa Virtanen" in out,
          "readable sign-up table")
    rc, out, err = kp("signup", "cancel", "--source", "web-form", "--id", "a-1")
    check(rc == 0 and "cancel" in out.lower(), "signup cancel")
    rc, out, err = kp("events", "get", eid, "--json")
    g = json.loads(out)
    g = g.get("event", g)
    check(g["confirmed"] == 1 and g["waitlisted"] == 0,
          "cancel promoted the waitlisted person")
    rc, out, err = kp("events", "list")
    check(rc == 0 and "Kumppanuuspöytä Lapua" in out, "events list")
    rc, out, err = kp("log", "replay", "--json")
    check(rc == 0 and "SignupPromoted" in out, "log replay shows the promotion")
    rc, out, err = kp("health")
    check(rc == 0 and "events" in out, "health")

    # Exit codes.
    rc, out, err = kp("signup", "--event", eid)
    check(rc == 2 and err.strip(), "missing options: usage error, exit 2 (%s)" % err.strip())
    rc, out, err = kp("signup", "--event", "987654", "--source", "web-form", "--id", "zz",
                      "--name", "X Y", "--email", "x@example.fi", "--role", "resident")
    check(rc == 4 and "NOT_FOUND" in err, "unknown event: error answer, exit 4 (%s)" % err.strip())
    rc, out, err = kp("events", "create", "--kind", "seminar", "--title", "Past",
                      "--municipality", "743", "--start", "2001-01-01 10:00", "--end",
                      "2001-01-01 11:00")
    check(rc == 4 and "start_unix" in err, "time in the past: exit 4 naming the field")
    for args in (("status", "extra"), ("metrics", "extra"), ("events", "list", "extra"),
                 ("privacy", "erase", "--email", "nobody@example.fi", "extra")):
        rc, out, err = kp(*args)
        check(rc == 2 and "unexpected argument 'extra'" in err,
              "%s: a stray argument is a usage error, exit 2 (%s)" % (args[0], err.strip()))
    # A bad positional ID: a usage error (exit 2) naming what the command's ID is, for the
    # broker's and the registry's commands as for the events service's.
    for args, noun in ((("broker", "request", "show", "abc"), "request ID"),
                       (("broker", "offer-accept", "x1"), "offer ID"),
                       (("registry", "show", "abc"), "organisation ID"),
                       (("registry", "person", "0"), "person ID"),
                       (("events", "get", "abc"), "event ID")):
        rc, out, err = kp(*args)
        check(rc == 2 and err == "kumppani: expected one %s (a positive number)\n" % noun,
              "kumppani %s: exit 2 naming the %s (%d, %s)"
              % (" ".join(args), noun, rc, err.strip()))
    rc, out, err = kp("health", "--timeout", "0")
    check(rc == 2 and "--timeout must be a whole number from 1 to 600000" in err,
          "a global option out of range is a usage error, exit 2 (%s)" % err.strip())
    # Privacy: a service that holds nothing answers NOT_FOUND, which is an answer; one that
    # cannot be reached fails the command (exit 3), since it may still hold the person.
    others = {"KUMPPANI_%s_API" % n: "tcp://127.0.0.1:%d" % free_port()
              for n in ("REGISTRY", "EXPERT_BROKER", "NOTIFIER")}
    env.update(others)
    rc, out, err = kp("privacy", "erase", "--email", "nobody@example.fi", "--timeout", "300",
                      "--attempts", "1")
    check(rc == 3 and out.count("NOT REACHED") == 3 and "held nothing" in out,
          "privacy erase: events held nothing, the three others not reached: exit 3 (%s)"
          % out.strip())
    for k in others:
        del env[k]
    env["KUMPPANI_EVENTS_API"] = "tcp://127.0.0.1:%d" % free_port()
    t0 = time.time()
    rc, out, err = kp("health", "--timeout", "300", "--attempts", "2")
    took = time.time() - t0
    check(rc == 3 and took < 5, "unreachable service: exit 3 after bounded retries (%.1f s)" % took)
    # Keys asked for but missing: said at once, not a plain-TCP wait for a refusing service.
    env["KUMPPANI_EVENTS_API"] = s.ev_api
    env["KUMPPANI_KEYS"] = os.path.join(s.dir, "no-such-keys")
    t0 = time.time()
    rc, out, err = kp("events", "list")
    took = time.time() - t0
    check(rc == 2 and "no client key" in err and "KUMPPANI_KEYS" in err and took < 2,
          "a missing keys directory is named at once (%.1f s, %s)" % (took, err.strip()))
    env["KUMPPANI_KEYS"] = cli_dir
    rc, out, err = kp("keygen", "tool", "--dir", os.path.join(s.dir, "k2"))
    check(rc == 0 and os.stat(os.path.join(s.dir, "k2", "tool.key")).st_mode & 0o077 == 0,
          "keygen writes a private key only its owner can read")
    rc, out, err = kp("keygen", "tool", "--dir", os.path.join(s.dir, "k2"))
    check(rc != 0, "keygen refuses to overwrite a key")
finally:
    s.close()
done()
