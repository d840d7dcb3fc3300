"""Durable before acknowledged, seen from the system calls (DESIGN 2).

A kill -9 test cannot show a missing sync: the page cache survives the kill. So the events
service runs under strace here, and for every sign-up the test checks the order of the
system calls: the request is read from the socket, then the store is synced (LMDB's
fdatasync of the data pages; the meta page follows through its O_DSYNC descriptor), and only
then is the reply written to the socket."""
import os
import re
import shutil
import subprocess
import time

from kp_harness import BIN, OK, Client, Suite, V, check, done, make_event, signup_req, wait_healthy

if not shutil.which("strace"):
    raise SystemExit("strace is required (scripts/setup installs it)")

s = Suite()
trace = os.path.join(s.dir, "strace.txt")
p = None
try:
    p = subprocess.Popen(["strace", "-f", "-tt", "-s", "48", "-o", trace, "-e",
                          "trace=recvfrom,read,sendto,write,fdatasync,fsync,msync",
                          os.path.join(BIN, "kumppani-events"), "--api", s.ev_api, "--pub",
                          s.ev_pub, "--data-dir", os.path.join(s.dir, "events"),
                          "--heartbeat-ms", "600000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(Client(s.ev_api))
    c = Client(s.ev_api)
    eid = make_event(c)
    n = 5
    for i in range(n):
        r = c.call("events.signup.submit", signup_req(eid, 900 + i))
        check(r is not None and r.status.code == OK, "sign-up %d acknowledged" % i)
        time.sleep(0.05)  # one sign-up per turn, so each has its own commit
    c.close()
finally:
    if p:
        # SIGTERM to the service itself (strace's child); strace exits with it.
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True)
        for pid in kids.stdout.split():
            os.kill(int(pid), 15)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

calls = []
with open(trace) as f:
    for line in f:
        m = re.match(r"\d+\s+(\d+):(\d+):([\d.]+) (\w+)\((\d+)?(.*)", line)
        if not m:
            continue
        t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        calls.append((t, m.group(4), m.group(5), line))
calls.sort(key=lambda x: x[0])

# For each request read from a socket that carries events.signup.submit, find the reply
# written to the same fd afterwards and count the fdatasyncs in between.
ok_n = 0
for i, (t, name, fd, line) in enumerate(calls):
    if name not in ("recvfrom", "read") or "events.signup.submit" not in line:
        continue
    syncs = 0
    for t2, name2, fd2, line2 in calls[i + 1:]:
        if name2 in ("fdatasync", "fsync", "msync"):
            syncs += 1
        elif name2 in ("sendto", "write") and fd2 == fd:
            break
    if syncs >= 1:
        ok_n += 1
check(ok_n == n, "every sign-up reply left after an fdatasync (%d of %d)" % (ok_n, n))
syncs_total = sum(1 for c_ in calls if c_[1] == "fdatasync")
check(syncs_total >= n, "at least one fdatasync per committed turn (%d)" % syncs_total)
s.close()
done()
