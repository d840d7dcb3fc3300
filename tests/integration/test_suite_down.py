# timeout: 180
"""`scripts/suite status` when a service cannot start: the operator is told why, not only that
it is down.

The notifier's API port is taken by another program before the suite starts (two suites with
overlapping KUMPPANI_PORT_BASE ranges, a stray process). The notifier exits at once and the
supervisor keeps restarting it; `status` exits 1 and, under the notifier's DOWN line, shows the
last error of its log (server.bind, "Address already in use") and where that log is. The
services that are up get no such line."""
import os
import socket
import subprocess
import tempfile
import time

from kp_harness import BIN, check, done
from kp_suite import SUITE, free_base, run_suite





home = tempfile.mkdtemp(prefix="kp-suite-down-")
base = free_base()
env = dict(os.environ, KUMPPANI_HOME=home, KUMPPANI_PORT_BASE=str(base), KP_BIN_DIR=BIN,
           UP_WAIT_S="8")


def suite(*args, timeout=90):
    return run_suite(env, *args, timeout=timeout)


squatter = socket.socket()
squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
squatter.bind(("127.0.0.1", base + 401))  # the notifier's API
squatter.listen(1)
p = None
try:
    log = open(os.path.join(home, "suite-run.log"), "ab")
    p = subprocess.Popen([SUITE, "run"], env=env, stdout=log, stderr=log)
    nlog = os.path.join(home, "logs", "notifier.log")
    out = ""
    end = time.time() + 60
    while time.time() < end:
        rc, out, _ = suite("status")
        if "events         up" in out and os.path.exists(nlog) and \
                "Address already in use" in open(nlog, errors="replace").read():
            break
        time.sleep(0.5)
    rc, out, err = suite("status")
    lines = out.splitlines()
    # `suite run` itself says so instead of "up", once its wait is over (UP_WAIT_S below).
    end = time.time() + 30
    runlog = ""
    while time.time() < end and "not up after" not in runlog:
        time.sleep(0.5)
        runlog = open(os.path.join(home, "suite-run.log"), errors="replace").read()
    check("suite: not up after" in runlog and "suite: up." not in runlog and
          any(x.startswith("notifier") and " DOWN " in x for x in runlog.splitlines()),
          "suite run says it is not up and shows the notifier DOWN, not \"up\" (%s)"
          % runlog[-600:])
    check(rc == 1, "status exits 1 with the notifier down (%d)" % rc)
    i = next((k for k, x in enumerate(lines) if x.startswith("notifier") and " DOWN " in x), -1)
    check(i >= 0, "the notifier is shown DOWN (%s)" % out)
    hint = lines[i + 1] if 0 <= i < len(lines) - 1 else ""
    check(("last error in %s:" % nlog) in hint and "event=server.bind" in hint
          and "Address already in use" in hint,
          "under it: the log's last error and the log's path (%s)" % hint)
    check(not any("last error" in x for x in lines if x.startswith("events")),
          "a service that is up gets no hint")
    check(sum("last error in" in x or " see " in x for x in lines) ==
          sum(" DOWN " in x for x in lines), "one hint per service down (%s)" % out)
finally:
    squatter.close()
    if p:
        suite("stop")
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
done()
