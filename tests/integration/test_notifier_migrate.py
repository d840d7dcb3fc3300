"""Issue 12: a notifier store written by schema 1 (whole Signups with name, e-mail, phone and
texts in `signups`; the name and address in sign-up messages' records) is upgraded when this
version opens it: both are emptied in the opening transaction, the store records schema 2, and
after the first compaction no file of the store holds the planted personal data."""
import os
import struct
import time

import lmdb

from kp_harness import OK, PII, Suite, body, check, done, note_sent, planted_in
from kp_notifier import N, Smtp, notifier, status
from kumppani.v1 import events_pb2 as V
from kumppani.v1 import privacy_pb2 as P

s = Suite()
smtp = Smtp()
try:
    s.events()
    store = os.path.join(s.dir, "notifier")
    os.makedirs(store)
    env = lmdb.open(store, max_dbs=32, map_size=1 << 26)
    dbs = {n: env.open_db(n.encode()) for n in ("meta", "log", "idem", "offsets", "ntf", "due",
                                                "by_event", "dead", "events", "signups",
                                                "ev_signups")}
    key = "events/s7/confirm/email"
    with env.begin(write=True) as t:
        t.put(b"schema", struct.pack(">Q", 1), db=dbs["meta"])
        su = V.Signup(id=7, event_id=3, source="old", external_id="7", name=PII[0], email=PII[1],
                      phone=PII[2], accessibility_text="pyörätuoli", role=V.ROLE_RESIDENT,
                      state=V.SIGNUP_STATE_CONFIRMED)
        t.put(struct.pack(">Q", 7), su.SerializeToString(), db=dbs["signups"])
        t.put(struct.pack(">QQ", 3, 7), b"", db=dbs["ev_signups"])
        r = N.Notification(key=key, kind=N.MESSAGE_KIND_SIGNUP_CONFIRMED,
                           channel=N.CHANNEL_EMAIL, state=N.NOTIFICATION_STATE_DELIVERED,
                           source="events", event_id=3, signup_id=7, recipient_name=PII[0],
                           address=PII[1], language="fi", event_title="Vanha",
                           created_ms=int(time.time() * 1000))  # recent: not for retention
        t.put(key.encode(), r.SerializeToString(), db=dbs["ntf"])
        t.put(struct.pack(">Q", 3) + key.encode(), b"", db=dbs["by_event"])
        # SMS opt-outs as typed (before schema 4): two ways of writing numbers
        oo = env.open_db(b"optout", txn=t)
        for typed in (b"+358 40 765 4321", b"050-111 2222"):
            t.put(bytes([N.CHANNEL_SMS]) + typed, b"", db=oo)
    env.close()
    note_sent(PII[0] + PII[1] + PII[2])
    check(planted_in(store) >= {PII[0], PII[1], PII[2]}, "the old store holds the person")
    p = notifier(s, smtp)
    nc = s.client(s.ntf_api, server="notifier")
    rec = status(nc, key)
    check(rec is not None and rec.address == "" and rec.recipient_name == "" and
          rec.signup_id == 7 and rec.state == N.NOTIFICATION_STATE_DELIVERED,
          "the old record keeps ids and state, not the name or address")
    # the opt-outs are found whichever way the number is written now
    for typed, other in (("+358 40 765 4321", "040 7654321"), ("050-111 2222", "+358501112222")):
        r = nc.call("notifier.privacy.export", P.DataSubject(phone=other))
        check(r.status.code == OK and '"opted_out_sms":true' in body(r, P.PrivacyExportReply).json,
              "the opt-out of %s is found as %s" % (typed, other))
    p.stop()
    check(not planted_in(store), "after the upgrade no file of the store holds the person: %s"
          % sorted(planted_in(store)))
    env = lmdb.open(store, max_dbs=32, readonly=True, lock=False)
    with env.begin() as t:
        v = t.get(b"schema", db=env.open_db(b"meta", txn=t, create=False))
        sv = t.get(struct.pack(">Q", 7), db=env.open_db(b"signups", txn=t, create=False))
        keys = sorted(k for k, _ in t.cursor(db=env.open_db(b"optout", txn=t, create=False)))
    env.close()
    check(struct.unpack(">Q", v)[0] == 4, "the store records schema 4 (2, 3 and 4 at once)")
    check(keys == [bytes([N.CHANNEL_SMS]) + b"+358407654321",
                   bytes([N.CHANNEL_SMS]) + b"+358501112222"],
          "the SMS opt-outs' keys hold the numbers in one form (%s)" % keys)
    su = V.Signup.FromString(sv)
    check(su.has_email and su.has_phone and su.name == "" and su.accessibility_text == "",
          "the kept sign-up is its public copy")
finally:
    s.close()
    smtp.stop()
done()
