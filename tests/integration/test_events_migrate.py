"""Upgrades: a store written by events schema 1 (sign-ups, no per-role counts) is migrated when
a newer service opens it: every event gets its role counts computed from its live sign-ups,
in the opening transaction, and the store records schema 2."""
import os
import struct
import subprocess
import tempfile
import time

import lmdb

from kp_harness import BIN, OK, Client, V, body, check, done, free_port, wait_healthy

d = tempfile.mkdtemp(prefix="kp-migrate-")
store = os.path.join(d, "events")
os.makedirs(store)
env = lmdb.open(store, max_dbs=32, map_size=1 << 26)
dbs = {n: env.open_db(n.encode()) for n in ("meta", "log", "idem", "offsets", "events", "signups",
                                            "ev_signups", "ev_email")}
now = int(time.time())
ev = V.EventInfo(id=1, kind=V.KIND_PARTNERSHIP_TABLE, title="Vanha pöytä", municipality_code="743",
                 start_unix=now + 86400 * 30, end_unix=now + 86400 * 30 + 3600, capacity=3,
                 state=V.EVENT_STATE_PUBLISHED, confirmed_n=3, waitlisted_n=1, language="fi")
roles = [V.ROLE_RESIDENT, V.ROLE_RESIDENT, V.ROLE_CIVIL_SERVANT, V.ROLE_NGO, V.ROLE_NGO]
states = [V.SIGNUP_STATE_CONFIRMED, V.SIGNUP_STATE_CONFIRMED, V.SIGNUP_STATE_CONFIRMED,
          V.SIGNUP_STATE_WAITLISTED, V.SIGNUP_STATE_CANCELLED]
with env.begin(write=True) as t:
    t.put(b"schema", struct.pack(">Q", 1), db=dbs["meta"])
    t.put(struct.pack(">Q", 1), ev.SerializeToString(), db=dbs["events"])
    for i, (role, state) in enumerate(zip(roles, states), 1):
        s = V.Signup(id=i, event_id=1, source="old", external_id=str(i), name="N %d" % i,
                     email="n%d@example.fi" % i, role=role, state=state)
        t.put(struct.pack(">Q", i), s.SerializeToString(), db=dbs["signups"])
        t.put(struct.pack(">QQ", 1, i), bytes([state]), db=dbs["ev_signups"])
env.close()

api = "tcp://127.0.0.1:%d" % free_port()
log = open(os.path.join(d, "events.log"), "ab")
p = subprocess.Popen([os.path.join(BIN, "kumppani-events"), "--data-dir", store, "--api", api,
                      "--pub", "tcp://127.0.0.1:%d" % free_port()], stdout=log, stderr=log)
try:
    wait_healthy(Client(api), proc=None)
    c = Client(api)
    r = c.call("events.event.get", V.EventRef(event_id=1))
    check(r is not None and r.status.code == OK, "the old event reads after the upgrade")
    e = body(r, V.EventReply).event
    counts = {x.role: (x.confirmed_n, x.waitlisted_n) for x in e.role_counts}
    check(counts == {V.ROLE_RESIDENT: (2, 0), V.ROLE_CIVIL_SERVANT: (1, 0), V.ROLE_NGO: (0, 1)},
          "role counts computed from the live sign-ups (%s)" % counts)
    c.close()
finally:
    p.terminate()
    p.wait(20)
text = open(os.path.join(d, "events.log")).read()
check("store.migrate" in text and "events.migrate" in text, "the upgrade is logged")
env = lmdb.open(store, max_dbs=32, readonly=True, lock=False)
with env.begin() as t:
    v = t.get(b"schema", db=env.open_db(b"meta", txn=t, create=False))
check(v is not None and struct.unpack(">Q", v)[0] == 2, "the store records schema 2")
subprocess.run(["rm", "-rf", d])
done()
