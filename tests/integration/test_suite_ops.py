# timeout: 240
"""`scripts/suite` as an operator meets it from a directory of their own, in a new shell, on a
new machine.

- `--help` lists every command (web-url was missing) and exits 0; a backup's secrets are
  named there;
- every path the suite gives a service is absolute (the web got `--templates
  services/web/templates`, relative to the repository), and a relative DIR is taken from the
  operator's directory, not the repository's;
- `eval "$(scripts/suite env)"` in a new shell is enough for `scripts/suite status` there
  (KUMPPANI_PORT_BASE and KP_BIN_DIR were not exported: every service showed DOWN, or none);
- `status` shows under a service that is down only an error of the current run (an earlier
  run's "Address already in use" was shown as the cause);
- `backup DIR` into a DIR that is not empty (an earlier backup: "mdb_copy: copying failed,
  error 17 (File exists)" half-way) is refused up front, naming DIR, with nothing written;
- a backup holds the keys (CURVE key pairs, allow-list, the personal links' secret) and the
  configuration, private (0700/0600), and `restore` into a new home puts them back."""
import os
import shutil
import stat
import subprocess
import tempfile
import time

from kp_harness import BIN, check, done
from kp_suite import ROOT, SUITE, free_base, kill_leftovers

home = tempfile.mkdtemp(prefix="kp-suite-ops-")
elsewhere = tempfile.mkdtemp(prefix="kp-operator-")  # the operator's own directory
home2 = os.path.join(elsewhere, "new-machine-home")
base = free_base()
env = dict(os.environ, KUMPPANI_HOME=home, KUMPPANI_PORT_BASE=str(base), KP_BIN_DIR=BIN,
           UP_WAIT_S="5")
relname = "kp-ops-backup-%d" % os.getpid()  # a relative DIR, taken from `elsewhere`


def suite(*args, e=None, timeout=90):
    p = subprocess.run([SUITE] + list(args), env=e or env, cwd=elsewhere, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def line(out, name):
    return next((x for x in out.splitlines() if x.startswith(name + " ")), "")


# Help: every command, exit 0, and what a backup holds.
rc, out, err = suite("--help")
check(rc == 0 and all("scripts/suite %s" % c in out for c in
                      ("run", "status", "stop", "backup DIR", "restore DIR", "env", "web-url")),
      "--help lists every command, web-url too, and exits 0 (%d)" % rc)
check("secrets and personal data" in out and "new or empty" in out,
      "--help says a backup holds secrets and personal data and wants a new or empty DIR")
rc, out, err = suite("no-such-command")
check(rc == 2 and "unknown command 'no-such-command'" in err, "an unknown command: exit 2")

# A backup of a home that holds no store (KUMPPANI_HOME mistyped) is no backup.
nothing = os.path.join(elsewhere, "nothing")
typo = dict(env, KUMPPANI_HOME=os.path.join(elsewhere, "typo"))
rc, out, err = suite("backup", nothing, e=typo)
check(rc == 1 and "no store in" in err and not os.path.exists(nothing),
      "backup of a home without stores: exit 1, nothing written (%d %s)" % (rc, err.strip()))

# An earlier run's error in the notifier's log; this run the notifier fails for another reason
# (a setting it does not know), which it says on stderr without an error line.
os.makedirs(os.path.join(home, "logs"))
os.makedirs(os.path.join(home, "config"))
with open(os.path.join(home, "logs", "notifier.log"), "w") as f:
    f.write('ts=2020-01-02T03:04:05.000Z level=err svc=notifier event=server.bind '
            'what="Address already in use"\n')
with open(os.path.join(home, "config", "notifier.conf"), "w") as f:
    f.write("no-such-setting = 1\n")
with open(os.path.join(home, "config", "events.conf"), "w") as f:
    f.write("# the operator's\n")

p = None
try:
    log = open(os.path.join(elsewhere, "suite-run.log"), "ab")
    p = subprocess.Popen([SUITE, "run"], env=env, cwd=elsewhere, stdout=log, stderr=log)
    out = ""
    end = time.time() + 60
    while time.time() < end:
        rc, out, _ = suite("status")
        if " up " in line(out, "events") and " up " in line(out, "web") \
                and " DOWN " in line(out, "notifier"):
            break
        time.sleep(0.5)
    check(" up " in line(out, "events") and " up " in line(out, "web"),
          "the suite runs from the operator's directory (%s)" % out.replace("\n", " | "))

    # Every path given to a service is absolute.
    pid = int(open(os.path.join(home, "run", "web.pid")).read())
    argv = open("/proc/%d/cmdline" % pid).read().split("\0")
    paths = {a: argv[i + 1] for i, a in enumerate(argv[:-1])
             if a in ("--templates", "--config", "--data-dir", "--keys-dir", "--metrics-file")
             or a.endswith("-key")}
    check(paths.get("--templates", "").startswith(ROOT + "/") and
          all(v.startswith("/") for v in paths.values()),
          "the web is given absolute paths only (%s)" % paths)

    # Only this run's errors.
    rc, out, err = suite("status")
    lines = out.splitlines()
    i = next((k for k, x in enumerate(lines) if x.startswith("notifier") and " DOWN " in x), -1)
    hint = lines[i + 1] if 0 <= i < len(lines) - 1 else ""
    check(rc == 1 and i >= 0 and "notifier.log" in hint and "2020-01-02" not in hint
          and "Address already in use" not in hint and "since the suite started" in hint,
          "status: an earlier run's error is not shown as the cause (%s)" % hint)

    # A new shell: only what `env` printed.
    rc, exports, _ = suite("env")
    bare = {k: v for k, v in os.environ.items()
            if not k.startswith("KUMPPANI") and k != "KP_BIN_DIR"}
    q = subprocess.run(["bash", "-c", 'eval "$1" && exec "$2" status', "-", exports, SUITE],
                       env=bare, cwd="/", capture_output=True, text=True, timeout=60)
    check(" up " in line(q.stdout, "events") and " up " in line(q.stdout, "registry") and
          " up " in line(q.stdout, "web"),
          "eval \"$(scripts/suite env)\" in a new shell: status finds the suite (%s %s)"
          % (q.stdout.replace("\n", " | "), q.stderr.strip()[:200]))

    # Backup into a relative DIR: the operator's directory.
    rc, out, err = suite("backup", relname)
    bk = os.path.join(elsewhere, relname)
    check(rc == 0 and os.path.exists(os.path.join(bk, "events", "data.mdb")),
          "backup with a relative DIR writes it under the current directory (%d %s)"
          % (rc, err.strip()[-300:]))
    keys = os.path.join(home, "keys")
    wanted = ["cli.key", "cli.pub", "events.key", "allow", "web-link.secret", "web-self.key"]
    check(all(os.path.exists(os.path.join(bk, "keys", n)) and
              open(os.path.join(bk, "keys", n), "rb").read() ==
              open(os.path.join(keys, n), "rb").read() for n in wanted),
          "the backup holds the key pairs, the allow-list and the personal links' secret (%s)"
          % (sorted(os.listdir(os.path.join(bk, "keys"))) if os.path.isdir(
              os.path.join(bk, "keys")) else "no keys/"))
    check(os.path.exists(os.path.join(bk, "config", "events.conf")) and
          open(os.path.join(bk, "config", "notifier.conf")).read() == "no-such-setting = 1\n",
          "the backup holds the configuration files")
    private = [os.path.join(bk, "keys", n) for n in ("cli.key", "events.key", "web-link.secret")]
    check(os.path.isdir(os.path.join(bk, "keys")) and mode(bk) == 0o700 and
          mode(os.path.join(bk, "keys")) == 0o700 and
          all(os.path.exists(x) and mode(x) == 0o600 for x in private) and
          mode(os.path.join(bk, "events", "data.mdb")) & 0o077 == 0,
          "the backup is private: directories 0700, keys and stores 0600")
    loose = [os.path.join(d, n) for d, ds, fs in os.walk(bk) for n in ds + fs
             if mode(os.path.join(d, n)) & 0o077]
    check(not loose and mode(os.path.join(home, "config", "web.conf")) == 0o600,
          "nothing in the backup is readable by others, nor the configuration it copies (%s)"
          % loose[:3])
    check("secrets" in err, "backup says it holds secrets (%s)" % err.strip()[-200:])

    # Into a new absolute DIR, then again into it (an earlier backup) and into a DIR holding
    # something else: refused up front, nothing written.
    first = os.path.join(elsewhere, "first")
    rc, out, err = suite("backup", first)
    check(rc == 0 and os.path.exists(os.path.join(first, "events", "data.mdb")),
          "backup into a new directory (%d %s)" % (rc, err.strip()[-200:]))
    before = sorted(os.listdir(first)) if os.path.isdir(first) else []
    rc, out, err = suite("backup", first)
    check(rc == 1 and first in err and "not empty" in err and "new or empty directory" in err and
          "mdb_copy" not in err and sorted(os.listdir(first)) == before,
          "backup into an earlier backup: refused up front, naming DIR (%d %s)"
          % (rc, err.strip()))
    other = os.path.join(elsewhere, "holds-something")
    os.makedirs(other)
    open(os.path.join(other, "notes.txt"), "w").write("mine\n")
    rc, out, err = suite("backup", other)
    check(rc == 1 and other in err and os.listdir(other) == ["notes.txt"],
          "backup into a directory holding other files: refused, nothing written (%d)" % rc)
    empty = os.path.join(elsewhere, "empty")
    os.makedirs(empty)
    rc, out, err = suite("backup", empty)
    check(rc == 0 and os.path.exists(os.path.join(empty, "keys", "cli.key")),
          "backup into an empty directory (%d %s)" % (rc, err.strip()[-200:]))

    check(suite("stop")[0] == 0, "suite stop")
    p.wait(90)
    p = None

    # A new machine: restore into a new home brings back the stores, keys and configuration.
    e2 = dict(env, KUMPPANI_HOME=home2)
    rc, out, err = suite("restore", relname, e=e2)
    check(rc == 0 and "restored keys" in err and "restored config" in err,
          "restore into a new home (%d %s)" % (rc, err.strip()[-300:]))
    check(all(os.path.exists(os.path.join(home2, "keys", n)) and
              open(os.path.join(home2, "keys", n), "rb").read() ==
              open(os.path.join(keys, n), "rb").read() for n in wanted) and
          mode(os.path.join(home2, "keys")) == 0o700 and
          all(mode(os.path.join(home2, "keys", n)) == 0o600
              for n in ("cli.key", "web-link.secret")),
          "the restored keys are the same bytes, still private")
    nconf = os.path.join(home2, "config", "notifier.conf")
    check(os.path.exists(nconf) and open(nconf).read() == "no-such-setting = 1\n" and
          os.path.exists(os.path.join(home2, "events", "data.mdb")),
          "the configuration and the stores are restored")
    # Into the home that has keys: they are kept beside, not lost.
    rc, out, err = suite("restore", empty)
    check(rc == 0 and [x for x in os.listdir(home) if x.startswith("keys.before-restore-")],
          "restore over a home keeps its keys beside as keys.before-restore-<time> (%s)"
          % err.strip()[-200:])
finally:
    if p and p.poll() is None:
        suite("stop")
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
    for h in (home, home2):
        kill_leftovers(h)
    # An older suite wrote a relative DIR under the repository.
    shutil.rmtree(os.path.join(ROOT, relname), ignore_errors=True)
    if not os.environ.get("KP_KEEP"):
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(elsewhere, ignore_errors=True)
done()
