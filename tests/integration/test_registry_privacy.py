# timeout: 90
"""Registry, issue 12: registry.privacy.export (the people with an e-mail or phone, with their
roles, as JSON) and registry.privacy.erase (each erased as registry.person.erase does: roles
ended, record deleted, PersonErased with ids only; NOT_FOUND for an unknown subject and on a
second erasure; the bytes gone from data.mdb after the compaction)."""
import json
import os
import time

from kp_harness import OK, E, Suite, body, check, done
from kp_registry import R, replay, start_registry
from kumppani.v1 import privacy_pb2 as P

NOTHING = "no personal data held for that subject"
NAME, MAIL, PHONE = "Kaarina Kanarialintu", "kaarina.kanarialintu@example.fi", "+358409993333"

s = Suite()
try:
    start_registry(s)
    c = s.client(s.reg_api, server="registry")
    mdb = os.path.join(s.dir, "registry", "data.mdb")

    def count(text):
        with open(mdb, "rb") as f:
            return f.read().count(text.encode())

    r = c.call("registry.person.add", R.AddPersonRequest(name=NAME, email=MAIL, phone=PHONE),
               key="canary")
    pid = body(r, R.PersonReply).person.id
    r2 = c.call("registry.person.add", R.AddPersonRequest(name="Kaarina Toinen",
                                                          phone="040 999 4444"), key="other-phone")
    pid2 = body(r2, R.PersonReply).person.id
    r = c.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743",
        title="hyvinvointikoordinaattori"), key="role-1")
    check(r.status.code == OK, "the person is a contact person of Seinäjoki")
    role_id = body(r, R.RoleReply).role.id
    check(count(MAIL) > 0 and count(NAME) > 0, "before: the person is in data.mdb")

    r = c.call("registry.privacy.export", P.DataSubject(email=MAIL.upper()))
    doc = json.loads(body(r, P.PrivacyExportReply).json) if r.status.code == OK else {}
    people = doc.get("people", [])
    check(r.status.code == OK and doc.get("service") == "registry" and len(people) == 1
          and people[0]["name"] == NAME and people[0]["phone"] == PHONE
          and [x["id"] for x in people[0]["roles"]] == [role_id]
          and people[0]["roles"][0]["kind"] == "ROLE_KIND_CONTACT_PERSON",
          "export by e-mail: the person with the role, as JSON")
    r = c.call("registry.privacy.export", P.DataSubject(phone=PHONE))
    ids = sorted(p["id"] for p in json.loads(body(r, P.PrivacyExportReply).json)["people"])
    check(ids == [pid], "export by phone: the person")
    r = c.call("registry.privacy.export", P.DataSubject(phone="040-999 3333"))
    ids = sorted(p["id"] for p in json.loads(body(r, P.PrivacyExportReply).json)["people"])
    check(ids == [pid], "export by phone: the national form of the same number, spaces and "
          "dashes ignored")
    r = c.call("registry.privacy.export", P.DataSubject(phone="+358 40 9994444"))
    ids = sorted(p["id"] for p in json.loads(body(r, P.PrivacyExportReply).json)["people"])
    check(ids == [pid2], "export by phone: the international form of a national number")
    for subj, code, what in [(P.DataSubject(), E.CODE_INVALID, "an empty subject"),
                             (P.DataSubject(signup_id=3), E.CODE_NOT_FOUND, "a sign-up id"),
                             (P.DataSubject(email="nobody@example.fi"), E.CODE_NOT_FOUND,
                              "an unknown subject")]:
        for m in ("registry.privacy.erase", "registry.privacy.export"):
            r = c.call(m, subj)
            check(r.status.code == code and (code != E.CODE_NOT_FOUND
                                             or r.status.message == NOTHING),
                  "%s: %s answered %s" % (m, what, E.Code.Name(code)))

    seq0 = replay(c)[-1].seq
    t = time.time()
    r = c.call("registry.privacy.erase", P.DataSubject(email=MAIL))
    ms = (time.time() - t) * 1000
    rep = body(r, P.PrivacyEraseReply)
    check(r.status.code == OK and rep.erased == 1 and list(rep.ids) == [pid],
          "erase by e-mail: the person (%.1f ms)" % ms)
    r = c.call("registry.person.get", R.PersonRef(person_id=pid))
    check(r.status.code == E.CODE_NOT_FOUND, "the person record is gone")
    evs = replay(c, seq0 + 1)
    types = [e.type for e in evs]
    erased = [R.PersonErased.FromString(e.payload) for e in evs if e.type == "PersonErased"]
    check("ContactPersonEnded" in types and len(erased) == 1 and erased[0].person_id == pid
          and list(erased[0].ended_role_ids) == [role_id],
          "the log: the role ended, PersonErased with ids only")
    check(not any(x.encode() in e.payload for e in evs for x in (NAME, MAIL, PHONE)),
          "no event carries the person's data")
    r = c.call("registry.privacy.erase", P.DataSubject(email=MAIL))
    check(r.status.code == E.CODE_NOT_FOUND and r.status.message == NOTHING,
          "a second erasure: NOT_FOUND")
    r = c.call("registry.person.get", R.PersonRef(person_id=pid2))
    check(r.status.code == OK, "another person is untouched")
    time.sleep(0.5)  # the compaction runs after the turn
    check(count(MAIL) == 0 and count(NAME) == 0 and count(PHONE) == 0,
          "after: none of the person's strings is in data.mdb")
    log = open(os.path.join(s.dir, "registry.log"), encoding="utf-8", errors="replace").read()
    check("store.compact" in log and NAME not in log and MAIL not in log,
          "the store was compacted; the service log names nobody")
finally:
    s.close()
done()
