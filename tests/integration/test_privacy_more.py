# timeout: 240
"""A person's data beyond a service's per-call cap (privacy.proto: PrivacyEraseReply.more and
PrivacyExportReply.more), over the wire and through `kumppani privacy erase|export`.

The expert broker handles at most 256 requests of one subject per call: a requester whose
e-mail is the contact of 2 x 256 + 1 requests gets an export that says more (256 requests in
it; the CLI names the broker on stderr and in the document's "incomplete" list, and exits 5), a
first and a second erasure that each erase 256 and say more (the CLI prints "expert-broker:
more records remain; run the same erasure again" and exits 5), a third that erases the last one
and says no more (--json: "more": false, exit 0), and then NOT_FOUND as before.

The registry handles at most 128 people of one subject; one person per e-mail and per phone is
its rule now, so only a store from before that rule holds more: the test makes one by copying
the planted person's record 128 times into the stopped registry's store (mdb_dump/mdb_load), 129
people with one e-mail. Its export and first erasure say more (128 people each), the second
erases the last one and says no more, the third is NOT_FOUND.

A subject below both caps (2 requests, 1 person) gets more = false, and the CLI prints no such
line and exits 0. All four services run, so the CLI's exit code is the caps' alone. Prints the
time of each capped call."""
import json
import os
import subprocess
import time

from kp_harness import OK, E, PII, Suite, body, check, cli_runner, done
from kp_broker import B, Broker, request_input
from kp_notifier import Smtp, notifier
from kp_registry import R, start_registry
from kumppani.v1 import privacy_pb2 as P

BRK_CAP, REG_CAP = 256, 128
NOTHING = "no personal data held for that subject"
MORE_LINE = "expert-broker: more records remain; run the same erasure again"
CUT_LINE = "expert-broker: the export from this service is cut at its cap"
# The broker's subject: the contact of 2 x cap + 1 requests (planted, so the log check can fail).
M_NAME, M_MAIL = PII[0], PII[1]
# The registry's subject: the person start_registry plants (PII[3], PII[4], PII[2]), copied.
L_MAIL = PII[4]
# Below both caps: 2 requests and 1 person.
S_NAME, S_MAIL = PII[7], PII[8]


def file_many(b, n, name, mail, tag):
    """Files n requests with contact name and mail, 128 in flight; returns their ids."""
    c, ids, pending, sent = b.c, [], {}, 0
    while sent < n or pending:
        while sent < n and len(pending) < 128:
            frame = c.request("broker.request.file", B.FileRequestRequest(
                request=request_input(b, contact_name=name, contact_email=mail)),
                key="%s-%d" % (tag, sent))
            c.send_raw(frame)
            pending[c.rid] = sent
            sent += 1
        r = c.recv_reply(30000)
        assert r is not None, "broker.request.file: no reply"
        assert r.status.code == OK, r.status
        del pending[r.request_id]
        ids.append(body(r, B.BrokerRequestReply).request.id)
    return ids


def timed(client, method, **subject):
    t = time.time()
    r = client.call(method, P.DataSubject(**subject), timeout_ms=60000)
    return r, (time.time() - t) * 1000


def people_db(path):
    """The name of the registry's people table in the LMDB environment at path."""
    names = subprocess.check_output(["mdb_dump", "-l", path], text=True).split()
    return [x for x in names if x == "people" or x.endswith("people")][0]


def copy_person(path, email, copies, first_id):
    """Adds copies of the person with email in the (stopped) registry's store at path, with ids
    from first_id: what a store from before the one-person-per-e-mail rule may hold."""
    db = people_db(path)
    dump = subprocess.check_output(["mdb_dump", "-s", db, path], text=True).splitlines()
    head = dump[:dump.index("HEADER=END") + 1]
    rows = [x.strip() for x in dump[len(head):] if x.startswith(" ")]
    people = []
    for i in range(0, len(rows), 2):
        p = R.Person()
        p.ParseFromString(bytes.fromhex(rows[i + 1]))
        people.append(p)
    p = [x for x in people if x.email == email][0]
    out = list(head)
    for i in range(copies):
        p.id = first_id + i
        out += [" " + p.id.to_bytes(8, "big").hex(), " " + p.SerializeToString().hex()]
    out.append("DATA=END")
    load = os.path.join(os.path.dirname(path), "people.load")
    with open(load, "w") as f:
        f.write("\n".join(out) + "\n")
    subprocess.check_call(["mdb_load", "-s", db, "-f", load, path])
    os.unlink(load)


smtp = Smtp()
s = Suite()
try:
    s.events()
    # ---- the registry: 129 people with one e-mail, in a store from before the rule ----------
    reg = start_registry(s)  # plants PII[3] with PII[4] and PII[2]
    rc = s.client(s.reg_api, server="registry")
    r = rc.call("registry.person.add", R.AddPersonRequest(name=S_NAME, email=S_MAIL),
                key="small-person")
    check(r.status.code == OK, "registry: a person below the cap")
    rc.close()
    reg.stop()
    copy_person(os.path.join(s.dir, "registry"), L_MAIL, REG_CAP, 1000000)
    reg = start_registry(s, name="registry2")
    rc = s.client(s.reg_api, server="registry")

    # ---- the broker: 2 x 256 + 1 requests of one contact, 2 of another --------------------------
    b = Broker(s).start()
    t = time.time()
    m_ids = file_many(b, 2 * BRK_CAP + 1, M_NAME, M_MAIL, "m")
    print("MEASURE filed %d requests in %.1f s" % (len(m_ids), time.time() - t))
    file_many(b, 2, S_NAME, S_MAIL, "s")
    notifier(s, smtp, link=False)

    env = dict(os.environ, KUMPPANI_KEYS="none", KUMPPANI_EVENTS_API=s.ev_api,
               KUMPPANI_REGISTRY_API=s.reg_api, KUMPPANI_EXPERT_BROKER_API=b.api,
               KUMPPANI_NOTIFIER_API=s.ntf_api)
    kp = cli_runner(env, "privacy")

    # ---- below both caps: more = false, no line, exit 0 ----------------------------------------
    r = b.call("broker.privacy.export", P.DataSubject(email=S_MAIL))
    check(r.status.code == OK and not body(r, P.PrivacyExportReply).more,
          "broker export below the cap: more = false")
    r = rc.call("registry.privacy.export", P.DataSubject(email=S_MAIL))
    check(r.status.code == OK and not body(r, P.PrivacyExportReply).more,
          "registry export below the cap: more = false")
    code, out, err = kp("export", "--email", S_MAIL)
    doc = json.loads(out) if out else {}
    check(code == 0 and doc.get("incomplete") == [] and "cut at its cap" not in err and
          len(doc["services"]["expert-broker"]["requests"]) == 2 and
          len(doc["services"]["registry"]["people"]) == 1,
          "CLI export below the cap: complete, no line, exit 0 (%d, %s)" % (code, err.strip()))
    code, out, err = kp("erase", "--email", S_MAIL, "--json")
    res = {x["service"]: x for x in json.loads(out)} if out else {}
    check(code == 0 and res["expert-broker"]["erased"] == 2 and
          res["registry"]["erased"] == 1 and not any(x["more"] for x in res.values()),
          "CLI erase --json below the cap: \"more\": false everywhere, exit 0 (%s)" % out)

    # ---- the broker's subject --------------------------------------------------------------------
    r, ms = timed(b.c, "broker.privacy.export", email=M_MAIL)
    x = body(r, P.PrivacyExportReply) if r.status.code == OK else P.PrivacyExportReply()
    check(r.status.code == OK and x.more and len(json.loads(x.json)["requests"]) == BRK_CAP,
          "broker export over the cap: more, the first %d requests (%.0f ms)" % (BRK_CAP, ms))
    code, out, err = kp("export", "--email", M_MAIL)
    doc = json.loads(out) if out else {}
    check(code == 5 and CUT_LINE in err and doc.get("incomplete") == ["expert-broker"] and
          len(doc["services"]["expert-broker"]["requests"]) == BRK_CAP,
          "CLI export: the broker named on stderr and in \"incomplete\", exit 5 (%d, %s)"
          % (code, err.strip()))
    r, ms = timed(b.c, "broker.privacy.erase", email=M_MAIL)
    x = body(r, P.PrivacyEraseReply) if r.status.code == OK else P.PrivacyEraseReply()
    check(r.status.code == OK and x.more and x.erased == BRK_CAP and
          list(x.ids) == sorted(m_ids)[:BRK_CAP],
          "first broker erasure: %d erased, more (%.0f ms)" % (x.erased, ms))
    code, out, err = kp("erase", "--email", M_MAIL)
    check(code == 5 and MORE_LINE in out and "%d record(s)" % BRK_CAP in out,
          "CLI erase (second): the broker's line, exit 5 (%d, %s)" % (code, out.strip()))
    code, out, err = kp("erase", "--email", M_MAIL, "--json")
    res = {x["service"]: x for x in json.loads(out)} if out else {}
    check(code == 0 and res["expert-broker"]["erased"] == 1 and
          res["expert-broker"]["more"] is False,
          "CLI erase --json (third): the last one erased, \"more\": false, exit 0 (%d, %s)"
          % (code, out.strip()))
    r = b.call("broker.privacy.erase", P.DataSubject(email=M_MAIL))
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "broker: a fourth erasure is NOT_FOUND")
    code, out, err = kp("erase", "--email", M_MAIL)
    check(code == 0 and out.count("held nothing") == 4 and "more records" not in out,
          "CLI erase afterwards: nothing held anywhere, no line, exit 0 (%s)" % out.strip())
    # Both contacts' bytes are gone from the broker's file, the first replies of their
    # filings (kept for retries) included: each later erasure rewrote its own.
    held = open(os.path.join(s.dir, "broker", "data.mdb"), "rb").read()
    check(held.count(M_MAIL.encode()) == 0 and held.count(S_MAIL.encode()) == 0,
          "the broker's data.mdb holds neither contact's e-mail after the erasures (%d, %d)"
          % (held.count(M_MAIL.encode()), held.count(S_MAIL.encode())))

    # ---- the registry's subject ------------------------------------------------------------------
    r, ms = timed(rc, "registry.privacy.export", email=L_MAIL)
    x = body(r, P.PrivacyExportReply) if r.status.code == OK else P.PrivacyExportReply()
    check(r.status.code == OK and x.more and len(json.loads(x.json)["people"]) == REG_CAP,
          "registry export over the cap: more, the first %d people (%.0f ms)" % (REG_CAP, ms))
    r, ms = timed(rc, "registry.privacy.erase", email=L_MAIL)
    x = body(r, P.PrivacyEraseReply) if r.status.code == OK else P.PrivacyEraseReply()
    check(r.status.code == OK and x.more and x.erased == REG_CAP and len(x.ids) == REG_CAP,
          "first registry erasure: %d erased, more (%.0f ms)" % (x.erased, ms))
    r = rc.call("registry.privacy.erase", P.DataSubject(email=L_MAIL))
    x = body(r, P.PrivacyEraseReply) if r.status.code == OK else P.PrivacyEraseReply(more=True)
    check(r.status.code == OK and not x.more and list(x.ids) == [1000000 + REG_CAP - 1],
          "second registry erasure: the last person, no more")
    r = rc.call("registry.privacy.erase", P.DataSubject(email=L_MAIL))
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "registry: a third erasure is NOT_FOUND")
finally:
    s.close()
    smtp.stop()
done()
