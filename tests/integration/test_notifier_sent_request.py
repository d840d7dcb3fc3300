# timeout: 150
"""What was sent for a broker request (issue 14, part 5): notifier.sent with request_id lists
every message about that request (its expert's offer and confirmation, its requester's notices)
and nothing of another request, newest first, with no address; through the real broker over
CURVE and a real SMTP server (aiosmtpd). The by_request index it walks is new in schema 3: a
schema-2 store with a broker message planted before the start is upgraded at open, the old
record is found by its request, and the store records schema 3. Bad input: an address and a
request id together, neither, a malformed address. The notifier's log carries no name or
address of the expert (planted PII)."""
import json
import os
import struct
import subprocess
import time

import lmdb

import kp_notifier as kn
from kp_broker import B, file_request, open_offers, register
from kp_harness import BIN, OK, E, PII, Suite, check, done, free_port
from kp_notifier import N, Smtp, start_keyed, wait_for, with_broker

REQ = "tilaaja@example.fi"  # kp_broker.request_input's contact person

s = Suite(keys=True)
smtp = Smtp()
try:
    b = with_broker(s)
    ex = register(b, PII[0], PII[1], languages=["fi"])

    # ---- a schema-2 store with one old broker message, not indexed by request ---------------
    store = os.path.join(s.dir, "notifier")
    os.makedirs(store)
    env = lmdb.open(store, max_dbs=32, map_size=1 << 26)
    dbs = {n: env.open_db(n.encode()) for n in ("meta", "ntf", "by_event")}
    old_key = "broker/r777/filed/email"
    with env.begin(write=True) as t:
        t.put(b"schema", struct.pack(">Q", 2), db=dbs["meta"])
        r = N.Notification(key=old_key, kind=N.MESSAGE_KIND_REQUEST_FILED,
                           channel=N.CHANNEL_EMAIL, state=N.NOTIFICATION_STATE_DELIVERED,
                           source="expert-broker", request_id=777, language="fi",
                           event_title="Vanha pyyntö", created_ms=int(time.time() * 1000))
        t.put(old_key.encode(), r.SerializeToString(), db=dbs["ntf"])
    env.close()

    api = "tcp://127.0.0.1:%d" % free_port()
    kd = s.keys_dir
    args = kn.keyed_args(s, smtp, api) + kn.broker_args(s, b) + [
        "--quiet-from-h", "0", "--quiet-to-h", "0"]
    p, nc = start_keyed(s, api, args)

    def sent(**kw):
        return nc.call("notifier.sent", N.SentRequest(**kw))

    def keys_of(rid):
        r = sent(request_id=rid)
        check(r.status.code == OK, "notifier.sent request_id=%d answers" % rid)
        return [x for x in kn.body(r, N.ListNotificationsReply).notifications]

    got = keys_of(777)
    check([x.key for x in got] == [old_key] and got[0].state == N.NOTIFICATION_STATE_DELIVERED,
          "the upgraded store finds the old message by its request: %s" % [x.key for x in got])

    # ---- two requests, each with its messages ------------------------------------------------
    r1 = file_request(b, "rq-1", title="Asiakasraati", experts_needed=1, wave_size=1).request
    o1 = open_offers(b, r1.id)[0]
    check(o1.expert_id == ex.id, "request 1 offered to the expert")
    a1 = b.ok("broker.offer.accept", B.OfferRef(offer_id=o1.id), B.OfferReply).assignment.id
    r2 = file_request(b, "rq-2", title="Työryhmä", experts_needed=1, wave_size=1).request
    o2 = open_offers(b, r2.id)[0]
    want1 = {"broker/r%d/filed/email" % r1.id, "broker/o%d/offer/email" % o1.id,
             "broker/a%d/confirmed/email" % a1, "broker/a%d/requester/email" % a1}
    want2 = {"broker/r%d/filed/email" % r2.id, "broker/o%d/offer/email" % o2.id}

    def delivered(rid, want):
        v = keys_of(rid)
        return ({x.key for x in v} == want and
                all(x.state == N.NOTIFICATION_STATE_DELIVERED for x in v)) or None
    check(wait_for(lambda: delivered(r1.id, want1) and delivered(r2.id, want2), 30),
          "every message of both requests delivered")
    check(len(kn.mails_to(smtp, PII[1])) == 3 and len(kn.mails_to(smtp, REQ)) == 3,
          "by SMTP: three to the expert, three to the requester")

    v1 = keys_of(r1.id)
    check({x.key for x in v1} == want1 and len(v1) == 4,
          "request %d: exactly its four messages %s" % (r1.id, sorted(x.key for x in v1)))
    check(all(x.request_id == r1.id for x in v1), "each about that request")
    check(all(x.address == "" and x.recipient_name == "" for x in v1), "none shows an address")
    check([x.created_ms for x in v1] == sorted((x.created_ms for x in v1), reverse=True),
          "newest first")
    check(all(x.attempts and x.attempts[-1].result.startswith("smtp 250") for x in v1),
          "each with its result (smtp 250)")
    v2 = keys_of(r2.id)
    check({x.key for x in v2} == want2, "request %d: exactly its two messages" % r2.id)
    check(keys_of(99999) == [], "an unknown request: nothing")
    r = sent(request_id=r1.id, limit=2)
    check(len(kn.body(r, N.ListNotificationsReply).notifications) == 2, "limit 2: two")

    # ---- the address listing still works; bad input ------------------------------------------
    r = sent(address=PII[1])
    check(r.status.code == OK and {x.key for x in kn.body(r, N.ListNotificationsReply)
                                   .notifications} >= {"broker/o%d/offer/email" % o1.id},
          "by address: the expert's messages")
    r = sent(address=PII[1], request_id=r1.id)
    check(r.status.code == E.CODE_INVALID and "request_id" in r.status.message and
          PII[1] not in r.status.message, "an address and a request id together: refused")
    r = sent()
    check(r.status.code == E.CODE_INVALID and "address" in r.status.message,
          "neither: refused (%s)" % r.status.message)
    check(sent(address="not an address").status.code == E.CODE_INVALID,
          "a malformed address: refused")
    check(sent(request_id=r1.id, limit=501).status.code == E.CODE_INVALID, "limit over 500")

    # ---- the CLI: kumppani notifier sent --request ID ----------------------------------------
    def cli(*args):
        return subprocess.run([os.path.join(BIN, "kumppani"), "--endpoint", api, "--keys", kd,
                               "--key-name", "admin", "notifier", "sent"] + list(args),
                              capture_output=True, text=True, timeout=20)
    out = cli("--request", str(r1.id), "--json")
    got = json.loads(out.stdout) if out.returncode == 0 else []
    check({x["key"] for x in got} == want1,
          "notifier sent --request lists the request's four (%s)" % out.stderr.strip())
    check(cli("--request", "1", "--to", PII[1]).returncode == 2 and cli().returncode == 2 and
          cli("--request", "0").returncode != 0, "both, neither or request 0: refused")

    # ---- the store: schema 3 ------------------------------------------------------------------
    p.stop()
    env = lmdb.open(store, max_dbs=32, readonly=True, lock=False)
    with env.begin() as t:
        v = t.get(b"schema", db=env.open_db(b"meta", txn=t, create=False))
        n_idx = t.stat(env.open_db(b"by_request", txn=t, create=False))["entries"]
    env.close()
    check(struct.unpack(">Q", v)[0] == 4, "the store records schema 4 (3 and then 4 at once)")
    check(n_idx == 7, "by_request holds the old message and the six new ones (%d)" % n_idx)
    log = p.logtext()
    check(PII[0] not in log and PII[1] not in log, "the notifier's log names nobody")
finally:
    s.close()
    smtp.stop()
done()
