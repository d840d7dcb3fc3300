# timeout: 240
"""The local suite as an operator runs it (scripts/suite): supervised services, status,
metrics, hot backup and restore, clean stop.

- `scripts/suite run` starts every built service with CURVE keys made on first start;
- `scripts/suite status` answers from each service's own health reply;
- the suite's own processes killed with SIGKILL leave the services running, and `suite stop`
  still stops every one of them;
- a service killed with SIGKILL is restarted by the supervisor, which says so, and its
  acknowledged data is still there;
- each service writes Prometheus metrics for node_exporter's textfile collector;
- `scripts/suite backup DIR` copies every store while the suite runs (compacting,
  consistent); after more writes, stop + restore + run brings the stores back to the backup;
- a store written by a newer program is refused with a clear message (schema version)."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

from kp_harness import BIN, PII, check, done
from kp_suite import SUITE, free_base, kill_leftovers, run_suite





home = tempfile.mkdtemp(prefix="kp-suite-")
base = free_base()
env = dict(os.environ, KUMPPANI_HOME=home, KUMPPANI_PORT_BASE=str(base), KP_BIN_DIR=BIN,
           KUMPPANI_KEYS=os.path.join(home, "keys"),
           KUMPPANI_EVENTS_API="tcp://127.0.0.1:%d" % (base + 201),
           KUMPPANI_REGISTRY_API="tcp://127.0.0.1:%d" % (base + 101),
           KUMPPANI_EXPERT_BROKER_API="tcp://127.0.0.1:%d" % (base + 301),
           KUMPPANI_NOTIFIER_API="tcp://127.0.0.1:%d" % (base + 401))


def suite(*args, timeout=90):
    return run_suite(env, *args, timeout=timeout)


def kp(*args):
    p = subprocess.run([os.path.join(BIN, "kumppani")] + list(args), env=env,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def start():
    log = open(os.path.join(home, "suite-run.log"), "ab")
    p = subprocess.Popen([SUITE, "run"], env=env, stdout=log, stderr=log)
    end = time.time() + 30
    while time.time() < end:
        rc, out, _ = suite("status")
        if rc == 0 and "events" in out:
            return p
        time.sleep(0.3)
    raise RuntimeError("suite did not come up: " + open(os.path.join(home, "suite-run.log")).read())


def wait_up(deadline_s=30):
    end = time.time() + deadline_s
    while time.time() < end:
        if suite("status")[0] == 0:
            return True
        time.sleep(0.3)
    return False


def signups(eid):
    rc, out, err = kp("events", "signups", str(eid), "--json")
    data = json.loads(out) if rc == 0 else {}
    rows = data["signups"] if isinstance(data, dict) and "signups" in data else data
    return [r["external_id"] for r in rows] if rc == 0 else None


def add(eid, first, n):
    for i in range(first, first + n):
        rc, out, err = kp("signup", "--event", str(eid), "--source", "web-form", "--id",
                          "s-%04d" % i, "--name", "Liisa Virtanen %d" % i, "--email",
                          "p%d@example.fi" % i, "--role", "resident")
        if rc != 0:
            return False
    return True


p = None
try:
    # An operator's setting in the events service's configuration file, made before the first
    # start (the suite keeps a file that exists and makes the others).
    os.makedirs(os.path.join(home, "config"))
    with open(os.path.join(home, "config", "events.conf"), "w") as f:
        f.write("# the operator's\nlog-level = debug\n")
    p = start()
    rc, out, _ = suite("status")
    check(rc == 0 and "up" in out, "suite status shows the services up")
    # `suite env` prints absolute paths: the CLI works from any directory with just those.
    rc, out, _ = suite("env")
    exports = dict(x.split("=", 1) for line in out.splitlines() if line.startswith("export ")
                   for x in line[len("export "):].split())
    check(exports.get("KUMPPANI_KEYS", "").startswith("/") and
          exports.get("KUMPPANI_HOME", "").startswith("/"),
          "suite env: absolute KUMPPANI_HOME and KUMPPANI_KEYS (%s)" % out.strip()[:120])
    bare = {k: v for k, v in os.environ.items() if not k.startswith("KUMPPANI")}
    bare.update(exports)
    q = subprocess.run([os.path.join(BIN, "kumppani"), "events", "list", "--timeout", "2000",
                        "--attempts", "1"], env=bare, cwd="/", capture_output=True, text=True,
                       timeout=30)
    check(q.returncode == 0, "the CLI reaches the suite from / with the env exports (%s)"
          % q.stderr.strip()[:200])
    nconf = os.path.join(home, "config", "notifier.conf")
    ntext = open(nconf).read() if os.path.exists(nconf) else ""
    check("# smtp-url = smtp://127.0.0.1:25" in ntext and "# coordinator-email =" in ntext,
          "the notifier's configuration file lists its settings for the operator")
    if os.path.exists(os.path.join(BIN, "kumppani-notifier")):
        check(re.search(r"^web-url = http://127\.0\.0\.1:\d+/$", ntext, re.M) is not None,
              "the notifier's configuration file points its personal links at the web")
        nlog = open(os.path.join(home, "logs", "notifier.log")).read()
        check("link.on" in nlog and os.path.exists(os.path.join(home, "keys", "web-link.secret")),
              "the notifier writes personal links under the secret shared with the web")
        check("templates.loaded" in nlog, "the notifier reads the message texts' files")
    time.sleep(0.5)
    check("level=debug" in open(os.path.join(home, "logs", "events.log")).read(),
          "a setting in a service's configuration file takes effect")
    rc, out, err = kp("status", "--timeout", "2000", "--attempts", "2")
    built = [x for x in ("registry", "events", "expert-broker", "notifier")
             if os.path.exists(os.path.join(BIN, "kumppani-" + x))]
    check(all(re.search(r"^%s +up " % x, out, re.M) for x in built),
          "kumppani status: every built service up (%s)" % out.replace("\n", " | "))
    rc, out, err = kp("metrics", "--timeout", "2000", "--attempts", "1")
    check('kumppani_up{service="events"} 1' in out and "kumppani_log_head_seq" in out,
          "kumppani metrics: Prometheus text for the suite")
    check(os.stat(os.path.join(home, "keys", "events.key")).st_mode & 0o077 == 0,
          "keys made on first start, private")
    rc, out, err = kp("events", "create", "--kind", "ngo-fair", "--title", "Järjestömessut",
                      "--municipality", "010", "--start", "2031-05-20 10:00", "--end",
                      "2031-05-20 15:00", "--json")
    check(rc == 0, "CLI reaches the suite with its own key (%s)" % err.strip())
    eid = json.loads(out).get("event", json.loads(out))["id"]
    check(kp("events", "publish", str(eid))[0] == 0, "event published")
    check(add(eid, 0, 5), "5 sign-ups acknowledged")

    # Supervision: SIGKILL the events service; the suite restarts it and says so.
    pid = int(open(os.path.join(home, "run", "events.pid")).read())
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    end = time.time() + 20
    while time.time() < end:
        try:
            newpid = int(open(os.path.join(home, "run", "events.pid")).read())
        except (OSError, ValueError):
            newpid = pid
        if newpid != pid and wait_up(5):
            break
        time.sleep(0.2)
    check(newpid != pid, "a killed service is started again")
    log = open(os.path.join(home, "logs", "suite.log")).read()
    check("events exited with 137; restarting in" in log, "the supervisor says so in its log")
    check(signups(eid) == ["s-%04d" % i for i in range(5)],
          "acknowledged sign-ups survive the crash and restart")

    # Metrics for the textfile collector.
    time.sleep(0.2)
    prom = os.path.join(home, "run", "events.prom")
    end = time.time() + 10
    while time.time() < end and not os.path.exists(prom):
        time.sleep(0.2)
    text = open(prom).read() if os.path.exists(prom) else ""
    check('kumppani_log_head_seq{service="events"}' in text and "# TYPE kumppani_commits_total counter" in text,
          "each service writes Prometheus metrics")

    # Hot backup while running, more writes, then restore.
    bdir = os.path.join(home, "backup-1")
    rc, out, err = suite("backup", bdir)
    check(rc == 0 and os.path.exists(os.path.join(bdir, "events", "data.mdb")),
          "hot backup of the running suite (%s)" % err.strip())
    check(add(eid, 5, 3), "3 more sign-ups after the backup")
    check(len(signups(eid)) == 8, "8 sign-ups before restore")
    rc, out, err = suite("restore", bdir)
    check(rc != 0 and "stop the suite" in err, "restore refuses while the suite runs")
    check(suite("stop")[0] == 0, "suite stop")
    p.wait(90)
    check(p.returncode == 0, "suite exits 0 after stop")
    evlog = open(os.path.join(home, "logs", "events.log")).read()
    check("server.stop" in evlog, "services stopped cleanly (committed, closed)")
    rc, out, err = suite("restore", bdir)
    check(rc == 0, "restore with the suite stopped")
    p = start()
    check(signups(eid) == ["s-%04d" % i for i in range(5)],
          "after restore the store is exactly the backup")

    # A person's data across the whole suite, through the CLI (every service asked).
    rc, out, err = kp("privacy", "export", "--email", "p1@example.fi")
    doc = json.loads(out) if rc == 0 else {}
    held = json.dumps(doc.get("services", {}).get("events"))
    check(rc == 0 and "s-0001" in held and "p1@example.fi" in held,
          "privacy export: the person's sign-up, from the events service (%s)" % err.strip())
    su = (doc.get("services", {}).get("events") or {}).get("signups", [{}])[0]
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[23]:00", su.get("created", "")) and
          isinstance(su.get("created_ms"), int) and su.get("event_start", "").startswith("20"),
          "privacy export: each time also in Helsinki time, readable (%s)"
          % {k: v for k, v in su.items() if "created" in k or "start" in k})
    msgs = (doc.get("services", {}).get("notifier") or {}).get("messages", [])
    check(msgs and all(m["kind"].startswith("MESSAGE_KIND_") and
                       m["channel"].startswith("CHANNEL_") and
                       m["state"].startswith("NOTIFICATION_STATE_") for m in msgs),
          "privacy export: the notifier names each message's kind, channel and state (%s)"
          % msgs[:1])
    rc, out, err = kp("privacy", "erase", "--email", "p1@example.fi", "--json")
    res = {x["service"]: x for x in json.loads(out)} if rc == 0 else {}
    check(rc == 0 and res.get("events", {}).get("erased") == 1 and
          all(x["answered"] for x in res.values()) and len(res) == 4,
          "privacy erase: every service answered, events erased the sign-up (%s)" % out.strip())
    rc, out, err = kp("privacy", "erase", "--email", "p1@example.fi")
    check(rc == 0 and out.count("held nothing") == 4, "a second erasure: nothing held anywhere")
    rc, out, err = kp("privacy", "export", "--email", "p1@example.fi")
    check(rc == 0 and "p1@example.fi" not in json.dumps(json.loads(out).get("services")),
          "after the erasure the export holds nothing of the person")
    # A person named by a sign-up's id: only the events service holds sign-ups; the other three
    # answer that they hold nothing, which is an answer (exit 0), not a failure.
    rc, out, err = kp("events", "signups", str(eid), "--json")
    rows = json.loads(out) if rc == 0 else {}
    rows = rows["signups"] if isinstance(rows, dict) else rows
    sid = [r["id"] for r in rows if r["external_id"] == "s-0002"]
    rc, out, err = kp("privacy", "export", "--signup", str(sid[0]) if sid else "0")
    doc = json.loads(out) if rc == 0 else {}
    check(rc == 0 and "p2@example.fi" in json.dumps(doc.get("services", {}).get("events")),
          "privacy export --signup: the sign-up, every service answered (%s)" % err.strip())
    rc, out, err = kp("privacy", "erase", "--signup", str(sid[0]) if sid else "0", "--json")
    res = {x["service"]: x for x in json.loads(out)} if rc == 0 else {}
    check(rc == 0 and res.get("events", {}).get("erased") == 1 and
          all(x["answered"] for x in res.values()) and len(res) == 4,
          "privacy erase --signup: events erased it, the three others held nothing (%s %s)"
          % (out.strip(), err.strip()))
    # The suite's own processes killed with SIGKILL (the supervisors too): the services, in
    # sessions of their own, keep running; `suite stop` still stops them all.
    pids = {f[:-4]: int(open(os.path.join(home, "run", f)).read())
            for f in os.listdir(os.path.join(home, "run")) if f.endswith(".pid") and f != "suite.pid"}
    sups = [int(d) for d in os.listdir("/proc") if d.isdigit() and os.path.exists("/proc/%s/stat" % d)
            and open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1] == str(p.pid)]
    for x in [p.pid] + sups:
        os.kill(x, signal.SIGKILL)
    p.wait(30)
    check(suite("status")[0] == 0, "with the suite's own processes killed its services still answer")
    rc, out, err = suite("stop")
    deadline = time.time() + 30
    while time.time() < deadline and any(os.path.exists("/proc/%d" % x) and
                                         open("/proc/%d/stat" % x).read().rsplit(")", 1)[1].split()[0] != "Z"
                                         for x in pids.values()):
        time.sleep(0.2)
    alive = [n for n, x in pids.items() if os.path.exists("/proc/%d" % x)
             and open("/proc/%d/stat" % x).read().rsplit(")", 1)[1].split()[0] != "Z"]
    check(rc == 0 and "left running" in err and not alive and
          not [f for f in os.listdir(os.path.join(home, "run")) if f.endswith(".pid")],
          "suite stop stops the services a killed suite left running (%s; alive %s)"
          % (err.strip(), alive))
    check(suite("stop")[1:] == ("", "suite: not running\n"), "and then says the suite is not running")
    p = None

    # Upgrades: a store of a newer schema is refused with a clear message, untouched.
    evdir = os.path.join(home, "events")
    subprocess.check_call(["/usr/bin/python3", "-c", """
import lmdb, struct, sys
env = lmdb.open(sys.argv[1], max_dbs=32)
meta = env.open_db(b"meta")
with env.begin(write=True) as t:
    t.put(b"schema", struct.pack(">Q", 99), db=meta)
""", evdir])
    before = open(os.path.join(evdir, "data.mdb"), "rb").read()
    r = subprocess.run([os.path.join(BIN, "kumppani-events"), "--data-dir", evdir, "--api",
                        "tcp://127.0.0.1:%d" % (base + 201), "--pub",
                        "tcp://127.0.0.1:%d" % (base + 202)],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0 and "newer" in r.stderr and "stored=99" in r.stderr,
          "a store from a newer program is refused with a clear message")
    check(open(os.path.join(evdir, "data.mdb"), "rb").read() == before,
          "the refused store is left untouched")

    for name in os.listdir(os.path.join(home, "logs")):
        text = open(os.path.join(home, "logs", name), errors="replace").read()
        check(not [x for x in PII if x in text], "%s carries no personal data" % name)
finally:
    if p and p.poll() is None:
        suite("stop")
        p.wait(90)
    kill_leftovers(home)
    if not os.environ.get("KP_KEEP"):
        subprocess.run(["rm", "-rf", home])
done()
