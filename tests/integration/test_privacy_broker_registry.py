# timeout: 120
"""Issue 12, the canary of the broker and the registry (CURVE keys, the broker following the
registry): one person with a unique name, e-mail and phone is a contact person in the registry,
an expert in the broker (linked to the registry person) and the contact of an expert request.
Erased through registry.privacy.erase and broker.privacy.erase, after which a byte search for
every canary string over every file of the suite's directory (data.mdb, lock.mdb, the service
logs) finds nothing (and found something before), a replay of both logs with the admin key
shows none of them (before or after), the broker's statistics still count the request, a second
erasure answers NOT_FOUND at both, and a backup made afterwards (mdb_copy -c) holds nothing.
Prints the canary byte counts per file before and after, the erasure times and the compaction
times the services logged."""
import os
import re
import subprocess
import time

from kp_harness import OK, E, L, Suite, body, check, done
from kp_broker import B, Broker, add_keys, expert_input, log_types, request_input
from kp_registry import R, fields, start_registry
from kumppani.v1 import privacy_pb2 as P

NAME, MAIL, PHONE = "Kanerva Kanarialintu-Testinen", "kanerva.kanari.7f3@example.fi", \
    "+358409997777"
CANARY = [NAME, MAIL, PHONE]
NOTHING = "no personal data held for that subject"


def byte_counts(root):
    """{relative path: {canary: count}} of every file under root with any canary string."""
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            out[os.path.relpath(path, root)] = {x: data.count(x.encode()) for x in CANARY}
    return out


def show(title, counts):
    print("CANARY BYTES %s:" % title)
    for path in sorted(counts):
        c = counts[path]
        print("  %-28s %s" % (path, "  ".join("%s=%d" % (k[:12], v) for k, v in c.items())))
    return sum(sum(c.values()) for c in counts.values())


def replay_all(client):
    out, seq = [], 1
    while True:
        page = body(client.call("log.replay", L.ReplayRequest(from_seq=seq, limit=1000)),
                    L.ReplayPage)
        out += list(page.events)
        if len(page.events) < 1000:
            return out
        seq = page.events[-1].seq + 1


def canary_in_log(events):
    return [x for x in CANARY if any(x.encode() in e.payload for e in events)]


s = Suite(keys=True)
try:
    add_keys(s, [("registry", "service"), ("expert-broker", "service")])
    reg = start_registry(s, s.key_args("registry"))
    rc = s.client(s.reg_api, "admin", server="registry")
    b = Broker(s, extra=["--registry-api", s.reg_api, "--registry-pub", s.reg_pub]).start()

    # ---- the canary in the registry: a contact person of Seinäjoki ---------------------------
    org = body(rc.call("registry.org.register", R.RegisterOrganisationRequest(
        fields=fields(name="Kanariayhdistys ry")), key="org-1"), R.OrganisationReply).organisation
    r = rc.call("registry.person.add", R.AddPersonRequest(name=NAME, email=MAIL, phone=PHONE),
                key="canary-person")
    check(r.status.code == OK, "registry: the canary person added")
    pid = body(r, R.PersonReply).person.id
    r = rc.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743"), key="role-1")
    check(r.status.code == OK, "registry: the canary is a contact person")

    # ---- ... an expert in the broker (linked to the registry person) --------------------------
    end = time.time() + 10
    while True:
        r = b.call("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
            NAME, MAIL, phone=PHONE, home_org_id=org.id, registry_person_id=pid,
            expertise=["youth"])), key="canary-expert")
        if r.status.code == OK or time.time() > end:
            break
        time.sleep(0.1)
    check(r.status.code == OK, "broker: the canary registered as an expert")
    eid = body(r, B.ExpertReply).expert.id
    # another expert, with planted personal data, who stays
    b.ok("broker.expert.register", B.RegisterExpertRequest(expert=expert_input(
        "Aino Aaltonen", "aino.aaltonen@example.fi", home_org_id=org.id)), B.ExpertReply,
        key="other-expert")

    # ---- ... and the contact of an expert request --------------------------------------------
    rq = b.ok("broker.request.file", B.FileRequestRequest(request=request_input(
        b, requester_kind=B.REQUESTER_PERSON, requester_name=NAME, requester_org_id=0,
        contact_name=NAME, contact_email=MAIL, contact_phone=PHONE)), B.BrokerRequestReply,
        key="canary-request").request
    stats0 = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(stats0.requests_filed == 1, "broker statistics count the request")

    before = byte_counts(s.dir)
    total0 = show("before", before)
    for store in ("registry/data.mdb", "broker/data.mdb"):
        check(sum(before.get(store, {}).values()) > 0, "before: the canary is in %s" % store)
    check(total0 > 0, "before: %d canary occurrences on disk" % total0)
    check(canary_in_log(replay_all(rc)) == [] and canary_in_log(replay_all(b.admin)) == [],
          "before: replaying both logs with the admin key shows no canary string")

    # ---- erase through both services -----------------------------------------------------------
    t = time.time()
    r = rc.call("registry.privacy.erase", P.DataSubject(email=MAIL))
    ms_reg = (time.time() - t) * 1000
    check(r.status.code == OK and list(body(r, P.PrivacyEraseReply).ids) == [pid],
          "registry.privacy.erase: the person (%.1f ms)" % ms_reg)
    # the broker follows PersonErased: the linked expert goes first
    end = time.time() + 10
    while time.time() < end:
        if b.ok("broker.expert.get", B.ExpertRef(expert_id=eid), B.ExpertReply).expert.erased:
            break
        time.sleep(0.1)
    check(b.ok("broker.expert.get", B.ExpertRef(expert_id=eid), B.ExpertReply).expert.erased,
          "the broker erased the linked expert on the registry's PersonErased")
    t = time.time()
    r = b.call("broker.privacy.erase", P.DataSubject(phone=PHONE))
    ms_brk = (time.time() - t) * 1000
    check(r.status.code == OK and list(body(r, P.PrivacyEraseReply).ids) == [rq.id],
          "broker.privacy.erase: the request's requester (%.1f ms)" % ms_brk)
    for client, m in ((rc, "registry.privacy.erase"), (b.admin, "broker.privacy.erase")):
        for subj in (P.DataSubject(email=MAIL), P.DataSubject(phone=PHONE)):
            r = client.call(m, subj)
            check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
                  "%s a second time: NOT_FOUND" % m)
        r = client.call(m.replace("erase", "export"), P.DataSubject(email=MAIL))
        check(r.status.code == E.CODE_NOT_FOUND, "%s: nothing left to export" % m)
    st = b.ok("broker.stats", B.BrokerStatsRequest(), B.BrokerStatsReply)
    check(st.requests_filed == 1, "the broker's statistics still count the request")
    check(canary_in_log(replay_all(rc)) == [] and canary_in_log(replay_all(b.admin)) == [],
          "after: replaying both logs with the admin key shows no canary string")
    check("RequesterErased" in [e.type for e in log_types(b)], "RequesterErased on the log")

    time.sleep(0.5)  # compaction at the end of the turn
    after = byte_counts(s.dir)
    total1 = show("after", after)
    check(total1 == 0, "after: no canary string in any file under the data directory "
          "(%d files searched)" % len(after))

    # ---- a backup made afterwards --------------------------------------------------------------
    bdir = os.path.join(s.dir, "backup")
    for store in ("registry", "broker"):
        os.makedirs(os.path.join(bdir, store))
        subprocess.check_call(["mdb_copy", "-c", os.path.join(s.dir, store),
                               os.path.join(bdir, store)])
    backup = byte_counts(bdir)
    check(len(backup) == 2 and show("backup", backup) == 0,
          "a backup made afterwards (mdb_copy -c) holds nothing of the canary")

    for p in (reg, b.proc):
        ms = [int(x) for x in re.findall(r"store\.compact.*?ms=(\d+)", p.logtext())]
        sizes = re.findall(r"store\.compact.*?before_bytes=(\d+) after_bytes=(\d+)", p.logtext())
        print("MEASURE %s: compactions=%d ms=%s bytes=%s" % (p.name, len(ms), ms, sizes))
        check(len(ms) >= 1, "%s compacted its store after the erasure" % p.name)
    print("MEASURE erase: registry %.1f ms, broker %.1f ms" % (ms_reg, ms_brk))
finally:
    s.close()
done()
