"""Upgrades. A store written by events schema 1 (sign-ups, no per-role counts) or schema 2
(sign-up events on the log carrying the whole Signup, personal data included) is migrated when
this version opens it:
- schema 1: every event gets its role counts computed from its live sign-ups, in the opening
  transaction;
- schema < 3 (issue 12): every old sign-up event on the log is rewritten to its public copy
  (kp_store_log_rewrite): a replay of the whole log with the admin key finds none of the
  planted personal data; the sign-ups themselves keep it (the door list needs it);
- schema < 4 (issue 15): the per-event e-mail index and the events' lists leave the synced
  store (their tables are emptied) for the key index (<data-dir>/index), which the first start
  builds from the sign-ups (the list reads in order):
  an address of a live old sign-up is still refused in its event, that of a cancelled one is
  not; a first answer stored under the publisher's id by the old program is still answered,
  byte for byte, to a resend;
and the store records schema 4. The compaction that follows takes the old bytes off data.mdb."""
import os
import struct
import subprocess
import tempfile
import time

import lmdb

from kp_harness import (BIN, OK, PII, E, L, Client, V, body, check, done, free_port,
                        note_sent, signup_req, wait_healthy)

now = int(time.time())


def old_store(d, schema):
    """A store as the schema-`schema` program left it, with sign-up events on its log that
    carry the planted personal data, as that program wrote them."""
    store = os.path.join(d, "events")
    os.makedirs(store)
    env = lmdb.open(store, max_dbs=32, map_size=1 << 26)
    dbs = {n: env.open_db(n.encode()) for n in ("meta", "log", "idem", "offsets", "events",
                                                "signups", "ev_signups", "ev_email")}
    ev = V.EventInfo(id=1, kind=V.KIND_PARTNERSHIP_TABLE, title="Vanha pöytä",
                     municipality_code="743", start_unix=now + 86400 * 30,
                     end_unix=now + 86400 * 30 + 3600, capacity=3,
                     state=V.EVENT_STATE_PUBLISHED, confirmed_n=3, waitlisted_n=1, language="fi")
    roles = [V.ROLE_RESIDENT, V.ROLE_RESIDENT, V.ROLE_CIVIL_SERVANT, V.ROLE_NGO, V.ROLE_NGO]
    states = [V.SIGNUP_STATE_CONFIRMED, V.SIGNUP_STATE_CONFIRMED, V.SIGNUP_STATE_CONFIRMED,
              V.SIGNUP_STATE_WAITLISTED, V.SIGNUP_STATE_CANCELLED]
    if schema >= 2:
        ev.role_counts.add(role=V.ROLE_RESIDENT, confirmed_n=2)
        ev.role_counts.add(role=V.ROLE_CIVIL_SERVANT, confirmed_n=1)
        ev.role_counts.add(role=V.ROLE_NGO, waitlisted_n=1)
    with env.begin(write=True) as t:
        t.put(b"schema", struct.pack(">Q", schema), db=dbs["meta"])
        t.put(b"id:event", struct.pack(">Q", 1), db=dbs["meta"])
        t.put(b"id:signup", struct.pack(">Q", len(roles)), db=dbs["meta"])
        t.put(struct.pack(">Q", 1), ev.SerializeToString(), db=dbs["events"])
        seq = 0
        for i, (role, state) in enumerate(zip(roles, states), 1):
            s = V.Signup(id=i, event_id=1, source="old", external_id=str(i), name=PII[0],
                         email="n%d@example.fi" % i, phone=PII[2], organisation="Yhdistys ry",
                         accessibility_text="pyörätuoli %d" % i, role=role, state=state,
                         consent_reminders=True, language="fi")
            if i == 1:
                s.email = PII[1]
            t.put(struct.pack(">Q", i), s.SerializeToString(), db=dbs["signups"])
            t.put(struct.pack(">QQ", 1, i), bytes([state]), db=dbs["ev_signups"])
            if state != V.SIGNUP_STATE_CANCELLED:
                t.put(struct.pack(">Q", 1) + s.email.lower().encode(), struct.pack(">Q", i),
                      db=dbs["ev_email"])
            # The first answer as the old program stored it: under source NUL external_id,
            # the reply without a tag or hash (answered as it is).
            t.put(b"events.signup.submit\0old\0" + str(i).encode(),
                  V.SignupReply(signup=s).SerializeToString(), db=dbs["idem"])
            seq += 1
            typ = {V.SIGNUP_STATE_CONFIRMED: "SignupConfirmed",
                   V.SIGNUP_STATE_WAITLISTED: "SignupWaitlisted",
                   V.SIGNUP_STATE_CANCELLED: "SignupCancelled"}[state]
            e = L.Event(seq=seq, source="events", time_ms=now * 1000, type=typ,
                        payload=V.SignupReply(signup=s).SerializeToString())
            t.put(struct.pack(">Q", seq), e.SerializeToString(), db=dbs["log"])
        seq += 1
        e = L.Event(seq=seq, source="events", time_ms=now * 1000, type="EventPublished",
                    payload=V.EventReply(event=ev).SerializeToString())
        t.put(struct.pack(">Q", seq), e.SerializeToString(), db=dbs["log"])
    env.close()
    note_sent(PII[0].encode() + PII[1].encode() + PII[2].encode())  # planted (test_harness_pii)
    return store


def replay_all(c):
    out, frm = [], 1
    while True:
        r = c.call("log.replay", L.ReplayRequest(from_seq=frm, limit=500))
        check(r is not None and r.status.code == OK, "log.replay answers")
        page = body(r, L.ReplayPage)
        out += list(page.events)
        if not page.events or page.events[-1].seq >= page.head_seq:
            return out
        frm = page.events[-1].seq + 1


for schema in (1, 2):
    d = tempfile.mkdtemp(prefix="kp-migrate-")
    store = old_store(d, schema)
    with open(os.path.join(store, "data.mdb"), "rb") as f:
        before = f.read()
    check(PII[1].encode() in before, "schema %d: the old log holds the e-mail" % schema)
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
        check(counts == {V.ROLE_RESIDENT: (2, 0), V.ROLE_CIVIL_SERVANT: (1, 0),
                         V.ROLE_NGO: (0, 1)},
              "schema %d: role counts computed from the live sign-ups (%s)" % (schema, counts))
        evs = replay_all(c)
        check(len(evs) == 6, "schema %d: every old event is still on the log (%d)"
              % (schema, len(evs)))
        raw = b"".join(x.SerializeToString() for x in evs)
        leaked = [x for x in PII + ["pyörätuoli", "Yhdistys ry", "n2@example.fi"]
                  if x.encode() in raw]
        check(not leaked, "schema %d: a replay of the whole log finds no personal data %s"
              % (schema, leaked))
        s1 = V.SignupReply.FromString(evs[0].payload).signup
        check(evs[0].type == "SignupConfirmed" and s1.id == 1 and s1.has_email and s1.has_phone
              and s1.role == V.ROLE_RESIDENT and s1.consent_reminders and s1.language == "fi"
              and s1.external_id == "1" and s1.source == "old",
              "schema %d: the public copy keeps ids, role, consents, language" % schema)
        old2 = V.SignupReply(signup=V.Signup(
            id=2, event_id=1, source="old", external_id="2", name=PII[0], email="n2@example.fi",
            phone=PII[2], organisation="Yhdistys ry", accessibility_text="pyörätuoli 2",
            role=V.ROLE_RESIDENT, state=V.SIGNUP_STATE_CONFIRMED, consent_reminders=True,
            language="fi")).SerializeToString()
        r = c.call("events.signup.submit", signup_req(1, 2, source="old", external_id="2",
                                                      email="n2@example.fi"))
        check(r is not None and r.status.code == OK and r.body == old2,
              "schema %d: a resend of an old sign-up gets the old program's first answer, byte "
              "for byte" % schema)
        r = c.call("events.signup.submit", signup_req(1, 7, source="old", external_id="new-7",
                                                      email="N2@Example.fi"))
        check(r is not None and r.status.code == E.CODE_CONFLICT and "e-mail" in r.status.message
              and "sign-up 2" in r.status.message,
              "schema %d: the address of a live old sign-up is refused in its event (%s)"
              % (schema, r.status.message if r else None))
        r = c.call("events.signup.submit", signup_req(1, 8, source="old", external_id="new-8",
                                                      email="n5@example.fi"))
        check(r is not None and r.status.code == OK
              and body(r, V.SignupReply).signup.id == 6,
              "schema %d: the address of a cancelled old sign-up signs up again" % schema)
        r = c.call("events.signup.list", V.ListSignupsRequest(event_id=1))
        ids = [(x.id, x.state) for x in body(r, V.ListSignupsReply).signups] if r else None
        check(ids is not None and [i for i, _ in ids] == [1, 2, 3, 4, 5, 6]
              and ids[4][1] == V.SIGNUP_STATE_CANCELLED,
              "schema %d: the event's list is built from the sign-ups, in order (%s)"
              % (schema, ids))
        r = c.call("events.signup.contact", V.SignupContactRequest(signup_id=1))
        ct = body(r, V.SignupContactReply) if r.status.code == OK else None
        check(ct is not None and ct.email == PII[1] and ct.name == PII[0] and ct.phone == PII[2],
              "schema %d: the sign-up itself keeps its contact data (events.signup.contact)"
              % schema)
        c.close()
    finally:
        p.terminate()
        p.wait(20)
    text = open(os.path.join(d, "events.log")).read()
    check("store.migrate" in text and "log_rewritten=5" in text,
          "schema %d: the upgrade and the log rewrite are logged" % schema)
    check(schema > 1 or "events.migrate\" to=2" in text or "to=2" in text,
          "schema 1: the role count upgrade is logged")
    env = lmdb.open(store, max_dbs=32, readonly=True, lock=False)
    with env.begin() as t:
        v = t.get(b"schema", db=env.open_db(b"meta", txn=t, create=False))
        logdb = env.open_db(b"log", txn=t, create=False)
        rawlog = b"".join(val for _, val in t.cursor(db=logdb))
        emails = sum(1 for _ in t.cursor(db=env.open_db(b"ev_email", txn=t, create=False)))
        emails += sum(1 for _ in t.cursor(db=env.open_db(b"ev_signups", txn=t, create=False)))
    env.close()
    check(v is not None and struct.unpack(">Q", v)[0] == 4, "the store records schema 4")
    check(emails == 0, "schema %d: the e-mail and list tables of the synced store are emptied "
          "(%d left)" % (schema, emails))
    check("events.index\" rebuilt=5" in text or "rebuilt=5" in text,
          "schema %d: the key index is built from the 5 sign-ups at the first start" % schema)
    check(PII[1].encode() not in rawlog and "pyörätuoli".encode() not in rawlog,
          "schema %d: the stored log holds no personal data" % schema)
    subprocess.run(["rm", "-rf", d])
done()
