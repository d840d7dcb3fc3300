"""The key index of the events service (issue 15): the publisher's own id and the e-mail per
event are looked up in <data-dir>/index (two hash tables of keyed 64-bit tags and an LMDB
environment for the events' lists, none of it synced), so that the synced store writes only
keys in arrival order. Nothing may be given up for it:
- while the service runs the index's state file says "open <boot id>", after a stop "clean";
- killed (-9), the service catches the index up from the log at the next start, from the
  position its hash tables' files were last saved at (they live in memory and are saved a part
  at a time); with the index's tables emptied and its mark set back, every resend still gets its first answer byte
  for byte, a resend with other content CONFLICT, a live address CONFLICT, the address of a
  cancelled sign-up signs up again, and a cancel by the publisher's id finds its sign-up;
- killed (-9) under load from two publishers, in the middle of a save pass, every acknowledged
  sign-up's resend gets its first answer and every acknowledged address stays taken;
- an index the boot id does not vouch for (as after an operating-system crash) is rebuilt from
  the sign-ups, with the same answers;
- the index holds no e-mail address and no publisher's id: only tags keyed with its own
  random key."""
import os
import struct
import subprocess
import tempfile
import threading
import time

import lmdb

from kp_harness import (BIN, OK, PII, E, Client, V, body, check, done, free_port, make_event,
                        note_sent, signup_req, wait_healthy)

d = tempfile.mkdtemp(prefix="kp-index-")
store = os.path.join(d, "events")
index = os.path.join(store, "index")
state = os.path.join(index, "state")
api = "tcp://127.0.0.1:%d" % free_port()
pub = "tcp://127.0.0.1:%d" % free_port()
logpath = os.path.join(d, "events.log")


def start(*more):
    log = open(logpath, "ab")
    p = subprocess.Popen([os.path.join(BIN, "kumppani-events"), "--data-dir", store, "--api", api,
                          "--pub", pub, *more], stdout=log, stderr=log)
    wait_healthy(Client(api), proc=None)
    return p


def log_text():
    with open(logpath) as f:
        return f.read()


def boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def req(i, **kw):
    kw.setdefault("email", "p%d.%s" % (i, PII[1]))
    return signup_req(eid, i, **kw)


HEAD = 4096  # a hash table's header: magic, slots, used, live, through; then (tag, id) slots


def hash_ids(name):
    """The ids a hash table holds (its tags are keyed with the index's own key, which a
    rebuild draws anew)."""
    with open(os.path.join(index, name), "rb") as f:
        raw = f.read()
    check(raw[:8] == b"KPKHASH2", "%s is a hash table" % name)
    cap, = struct.unpack_from("<Q", raw, 8)
    slots = struct.unpack_from("<%dQ" % (2 * cap), raw, HEAD)
    return sorted(slots[i + 1] for i in range(0, 2 * cap, 2) if slots[i] and slots[i + 1])


def empty_hash(name):
    path = os.path.join(index, name)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(16)
        f.write(struct.pack("<QQQ", 0, 0, 1))  # used, live, through: the first event
        f.seek(HEAD)
        f.write(bytes(size - HEAD))


def saved_through(name):
    with open(os.path.join(index, name), "rb") as f:
        return struct.unpack_from("<Q", f.read(40), 32)[0]


def saved_from():
    """The older of the positions the two tables' files were saved at."""
    return min(saved_through("ext.hash"), saved_through("email.hash"))


def start_caught_up():
    """A start after a kill: (the process, the position the files held, sign-ups indexed again
    and the position the catch-up began at, from its log line)."""
    frm = saved_from()
    p = start()
    m = [ln for ln in log_text().splitlines() if "caught_up=" in ln][-1]
    return p, frm, int(m.split("caught_up=")[1].split()[0]), int(m.split(" from=")[1].split()[0])


def tables():
    """The index's tables: the ids of the ext and e-mail tables, the lists as they are."""
    env = lmdb.open(index, max_dbs=4, readonly=True, lock=False)
    with env.begin() as t:
        lst = list(t.cursor(db=env.open_db(b"list", txn=t, create=False)))
    env.close()
    return hash_ids("ext.hash"), lst, hash_ids("email.hash")


def same_answers(c, what):
    bad = [i for i in range(N) if c.call("events.signup.submit", req(i)).body != first[i]]
    check(not bad, "%s: every resend gets its first answer byte for byte (%s)" % (what, bad))
    r = c.call("events.signup.submit", req(4, name=PII[3]))
    check(r.status.code == E.CODE_CONFLICT and "with other details" in r.status.message,
          "%s: a resend with other content is CONFLICT" % what)
    r = c.call("events.signup.submit", req(900, email=("P3.%s" % PII[1]).upper()))
    check(r.status.code == E.CODE_CONFLICT and "already signed up" in r.status.message,
          "%s: the address of a live sign-up is refused (in any case)" % what)


N = 12
p = start()
try:
    c = Client(api)
    eid = make_event(c)
    first = []
    for i in range(N):
        r = c.call("events.signup.submit", req(i))
        note_sent(req(i).SerializeToString())
        check(r is not None and r.status.code == OK, "sign-up %d acknowledged" % i)
        first.append(r.body)
    r = c.call("events.signup.cancel", V.CancelSignupRequest(source="county-portal",
                                                             external_id="%010d" % 0))
    check(r is not None and r.status.code == OK, "a cancel by the publisher's id finds sign-up 0")
    with open(state) as f:
        check(f.read() == "open %s\n" % boot_id(), "the state says open with this boot's id")
    same_answers(c, "running")
    c.close()
finally:
    p.kill()  # -9: no stop, the index is as the last turn left it
    p.wait(20)

# As the kill left it: caught up from the older position the two tables' files were saved at.
p, frm, n, began = start_caught_up()
try:
    c = Client(api)
    check(began == frm and n > 0,
          "after kill -9 the index is caught up from its tables' saved position (%d: %d from %d)"
          % (frm, n, began))
    same_answers(c, "killed")
    c.close()
finally:
    p.kill()
    p.wait(20)

# Set the index back: its tables emptied, its mark at the first event of the log.
env = lmdb.open(index, max_dbs=4)
with env.begin(write=True) as t:
    t.drop(env.open_db(b"list", txn=t), delete=False)
    t.put(b"through", struct.pack(">Q", 1), db=env.open_db(b"meta", txn=t))
env.close()
empty_hash("ext.hash")
empty_hash("email.hash")
check(hash_ids("ext.hash") == [] and hash_ids("email.hash") == [], "the hash tables emptied")

p = start()
try:
    c = Client(api)
    text = log_text()
    check("caught_up=" in text and "caught_up=0 " not in text,
          "after kill -9 the index is caught up from the log")
    same_answers(c, "caught up")
    r = c.call("events.signup.list", V.ListSignupsRequest(event_id=eid))
    got = [(x.external_id, x.state) for x in body(r, V.ListSignupsReply).signups]
    check([e for e, _ in got] == ["%010d" % i for i in range(N)]
          and got[0][1] == V.SIGNUP_STATE_CANCELLED,
          "caught up: the event's list is whole, in order, with the cancel (%d)" % len(got))
    r = c.call("events.signup.submit", req(901, email="p0.%s" % PII[1]))
    check(r.status.code == OK, "the address of the cancelled sign-up signs up again")
    first.append(r.body)
    r = c.call("events.signup.cancel", V.CancelSignupRequest(source="county-portal",
                                                             external_id="%010d" % 7))
    check(r is not None and r.status.code == OK, "caught up: a cancel by the publisher's id")
    c.close()
finally:
    p.terminate()
    p.wait(20)
with open(state) as f:
    check(f.read() == "clean\n", "after a stop the state says clean")

# An index the state does not vouch for (another boot after a crash) is rebuilt.
kept = tables()
with open(state, "w") as f:
    f.write("open 00000000-0000-0000-0000-000000000000\n")
p = start()
try:
    c = Client(api)
    check("rebuilt=%d " % (N + 1) in log_text(),
          "an index of another boot is rebuilt from the %d sign-ups" % (N + 1))
    same_answers(c, "rebuilt")
    c.close()
finally:
    p.terminate()
    p.wait(20)
got = tables()
check(got == kept and len(got[0]) == len(got[1]) == N + 1 and len(got[2]) == N - 1,
      "the rebuilt index holds what the running service wrote (ids %d, lists %d, e-mails %d)"
      % tuple(len(x) for x in got))

# The index in another directory (--index-dir, e.g. on tmpfs): built there from the sign-ups,
# trusted there after a stop, the same answers.
alt = os.path.join(d, "alt-index")
rebuilds = log_text().count("rebuilt=")
for run in ("built elsewhere", "elsewhere again"):
    p = start("--index-dir", alt)
    try:
        c = Client(api)
        with open(os.path.join(alt, "state")) as f:
            check(f.read() == "open %s\n" % boot_id(), "%s: its state says open" % run)
        same_answers(c, run)
        c.close()
    finally:
        p.terminate()
        p.wait(20)
check(log_text().count("rebuilt=") == rebuilds + 1 and os.path.exists(os.path.join(alt, "ext.hash")),
      "an index in another directory is rebuilt once, then caught up")

# Killed under load, in the middle of a save pass (the tables are written a part at a time over
# about 30 s): the files hold parts of the pass and the position saved at the last stop. The
# next start catches up from there, and every acknowledged sign-up is found again by its id and
# its address.
pre = saved_from()  # the last stop's head
p = start()
acked = {}
try:
    stop_at = time.monotonic() + 2.5

    def load(base):
        cl = Client(api, timeout_ms=2000)
        i = base
        while time.monotonic() < stop_at:
            r = cl.call("events.signup.submit", req(i))
            if r is not None and r.status.code == OK:
                acked[i] = r.body
            i += 1
        cl.close()

    threads = [threading.Thread(target=load, args=(b,)) for b in (100000, 200000)]
    for t in threads:
        t.start()
    time.sleep(2)
    p.kill()  # -9, while the publishers are still sending
    for t in threads:
        t.join()
finally:
    p.kill()
    p.wait(20)
p, frm, n, began = start_caught_up()
try:
    c = Client(api)
    # A pass that ended during the load saved a later position: what it covers is not caught up.
    check(began == frm >= pre > 0 and n + (began - pre) >= len(acked) > 200,
          "killed under load: caught up %d sign-ups from the saved position %d (%d before the "
          "load; %d acknowledged)" % (n, frm, pre, len(acked)))
    bad = [i for i, b in acked.items() if c.call("events.signup.submit", req(i)).body != b]
    check(not bad, "killed under load: every acknowledged sign-up's resend gets its first answer "
          "(%d differ)" % len(bad))
    taken = [i for i in acked
             if c.call("events.signup.submit", req(i + 500000, email="p%d.%s" % (i, PII[1])))
             .status.code != E.CODE_CONFLICT]
    check(not taken, "killed under load: every acknowledged address is still taken (%d free)"
          % len(taken))
    c.close()
finally:
    p.terminate()
    p.wait(20)

# An index directory that cannot be made: the service does not start, and says which and why.
bad = os.path.join(state, "x")  # below a file
with open(logpath, "ab") as log:
    rc = subprocess.run([os.path.join(BIN, "kumppani-events"), "--data-dir", store, "--api", api,
                         "--pub", pub, "--index-dir", bad], stdout=log, stderr=log,
                        timeout=30).returncode
check(rc != 0 and ('dir="%s"' % bad) in log_text() and "Not a directory" in log_text(),
      "an index-dir that cannot be made stops the start with its name and reason (exit %d)" % rc)

raw = b""
for name in ("data.mdb", "ext.hash", "email.hash"):
    with open(os.path.join(index, name), "rb") as f:
        raw += f.read()
check(PII[1].encode() not in raw and b"example.fi" not in raw and b"county-portal" not in raw
      and ("%010d" % 3).encode() not in raw,
      "the index holds no e-mail address and no publisher's id in clear")
subprocess.run(["rm", "-rf", d])
done()
