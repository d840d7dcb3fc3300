# timeout: 60
"""`scripts/suite restore DIR` and `backup DIR` given a wrong directory or none.

A restore from a directory that holds no backup (a typo, the parent of the backup, an empty
mount) restored nothing and exited 0 without a word, so the operator believed the stores were
back. It now exits 1 saying that no backup is there and nothing was restored, and the stores
are untouched. Without DIR, backup and restore exit 2 with their usage (bash's own
"line 352: 1: usage: ..." before)."""
import os
import tempfile

from kp_harness import BIN, check, done
from kp_suite import run_suite


home = tempfile.mkdtemp(prefix="kp-suite-restore-")
env = dict(os.environ, KUMPPANI_HOME=home, KP_BIN_DIR=BIN)


def suite(*args, timeout=90):
    return run_suite(env, *args, timeout=timeout)


os.makedirs(os.path.join(home, "events"))
with open(os.path.join(home, "events", "data.mdb"), "wb") as f:
    f.write(b"the current store")
empty = tempfile.mkdtemp(prefix="kp-not-a-backup-")
rc, out, err = suite("restore", empty)
check(rc == 1 and "no backup in %s" % empty in err and "nothing restored" in err,
      "restore from a directory without a backup: exit 1 and says so (%d %s)" % (rc, err.strip()))
check(open(os.path.join(home, "events", "data.mdb"), "rb").read() == b"the current store"
      and not [x for x in os.listdir(home) if "before-restore" in x],
      "the current stores are left as they were")
rc, out, err = suite("restore", os.path.join(empty, "missing"))
check(rc == 1 and "no backup in" in err, "a directory that does not exist: the same (%d)" % rc)
for cmd in ("backup", "restore"):
    rc, out, err = suite(cmd)
    check(rc == 2 and err.strip() == "suite: usage: scripts/suite %s DIR" % cmd,
          "%s without DIR: exit 2 with its usage (%d %s)" % (cmd, rc, err.strip()))
# A real backup directory still restores.
bk = tempfile.mkdtemp(prefix="kp-backup-")
os.makedirs(os.path.join(bk, "events"))
with open(os.path.join(bk, "events", "data.mdb"), "wb") as f:
    f.write(b"the backup")
rc, out, err = suite("restore", bk)
check(rc == 0 and "restored events" in err
      and open(os.path.join(home, "events", "data.mdb"), "rb").read() == b"the backup",
      "a backup directory is restored (%d %s)" % (rc, err.strip()))
# A wait for "up" that is no number is refused at once, not looped on.
rc, out, err = run_suite(dict(env, UP_WAIT_S="half a minute"), "run", timeout=30)
check(rc == 2 and "UP_WAIT_S must be a number of seconds" in err,
      "UP_WAIT_S that is no number: exit 2, saying so (%d %s)" % (rc, err.strip()))
done()
