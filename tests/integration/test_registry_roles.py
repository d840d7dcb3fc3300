# timeout: 120
"""Registry people and roles with dates, coverage (municipalities without a current contact
person; contact persons without a contact-person meeting in N months, learned from the events
service's log; a meeting organised by an organisation counts for the contact persons who
represent it), and erasure of a person (PersonErased; no personal data in the log)."""
import time

from kp_harness import E, OK, PII, Suite, V, body, check, done, set_clock
from kp_registry import EP, R, head, idle_after, register, replay, start_registry

DAY_MS = 86400 * 1000
s = Suite()
try:
    s.events()
    # The registry's clock runs 30 days ahead: a meeting created for next week is then past.
    start_registry(s, ["--test-clock", "on"], events=True)
    c = s.client(s.reg_api)
    set_clock(c, 30 * DAY_MS)
    ev = s.client(s.ev_api)

    def add_person(key, name, email):
        r = c.call("registry.person.add", R.AddPersonRequest(name=name, email=email), key=key)
        assert r.status.code == OK, r
        return body(r, R.PersonReply).person.id

    maija = add_person("p1", PII[0], PII[1])
    again = c.call("registry.person.add", R.AddPersonRequest(name=PII[0], email=PII[1]), key="p1")
    check(body(again, R.PersonReply).person.id == maija, "person.add is idempotent")
    liisa = add_person("p2", PII[3], "liisa@example.fi")

    def assign(key, pid, muni="", org=0, kind=R.ROLE_KIND_CONTACT_PERSON, **kw):
        return c.call("registry.role.assign", R.AssignRoleRequest(
            person_id=pid, kind=kind, municipality_code=muni, organisation_id=org, **kw), key=key)

    r = assign("r1", maija, "743", start_date="2026-01-01")
    check(r.status.code == OK, "contact person of Seinäjoki: %s" % r.status.message)
    role = body(r, R.RoleReply).role
    e = replay(c, head(c))[0]
    er = R.RoleReply.FromString(e.payload).role
    check(e.type == "ContactPersonAssigned" and er.person_id == maija and
          er.municipality_code == "743" and er.start_date == "2026-01-01" and
          PII[0].encode() not in e.payload, "ContactPersonAssigned: ids, code, dates, no name")
    check(assign("r1b", maija, "743").status.code == E.CODE_CONFLICT, "overlapping same role")
    check(assign("r2", liisa, "010", title="järjestöyhdyshenkilö").status.code == OK,
          "contact person of Alavus")
    h = head(c)
    for key, kw, what in [("b1", dict(pid=999, muni="743"), "unknown person"),
                          ("b2", dict(pid=liisa, muni="999"), "unknown municipality"),
                          ("b3", dict(pid=liisa, muni="743", start_date="2026-02-30"), "bad date"),
                          ("b4", dict(pid=liisa, muni="743", start_date="2026-03-01",
                                      end_date="2026-02-01"), "end before start"),
                          ("b5", dict(pid=liisa, org=4242, kind=R.ROLE_KIND_REPRESENTATIVE),
                           "unknown organisation")]:
        r = assign(key, **kw)
        check(r.status.code in (E.CODE_INVALID, E.CODE_NOT_FOUND), "%s -> %s" % (
            what, r.status.message))
    check(head(c) == h, "refused roles wrote nothing")
    org = R.OrganisationReply.FromString(register(c, "o1").body).organisation
    r = assign("r3", liisa, org=org.id, kind=R.ROLE_KIND_REPRESENTATIVE)
    check(r.status.code == OK and replay(c, head(c))[0].type == "RoleAssigned",
          "organisation representative")

    gaps = body(c.call("registry.coverage.gaps", R.CoverageGapsRequest()),
                R.CoverageGapsReply).municipalities
    check([m.code for m in gaps] == [x for x in EP if x not in ("743", "010")],
          "gaps: 16 municipalities without a contact person")
    r = c.call("registry.role.list", R.ListRolesRequest(municipality_code="743"))
    lr = body(r, R.ListRolesReply)
    check(len(lr.roles) == 1 and lr.people[0].name == PII[0], "roles of Seinäjoki with people")

    # A contact-person meeting in Seinäjoki, learned from the events service's log.
    now = int(time.time())
    kw = {}
    if "organiser_municipality_code" in V.CreateEventRequest.DESCRIPTOR.fields_by_name:
        kw["organiser_municipality_code"] = "743"
    r = ev.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_CONTACT_PERSON_MEETING, title="Yhdyshenkilöiden tapaaminen",
        municipality_code="743", start_unix=now + 7 * 86400, end_unix=now + 7 * 86400 + 3600,
        language="fi", **kw), key="m1")
    check(r.status.code == OK, "meeting created in events: %s" % r.status.message)
    m1 = body(r, V.EventReply).event.id

    # Issue 16: a draft convenes nobody; only once published does the meeting count.
    idle = idle_after(c, 1)
    check(idle.events_applied_seq >= 1, "registry followed the events log")
    check(sorted(x.person.id for x in idle.contact_persons) == sorted([maija, liisa]),
          "idle: a draft meeting counts for nobody (%s)" % [x.person.id for x in
                                                            idle.contact_persons])
    applied = idle.events_applied_seq
    r = ev.call("events.event.publish", V.EventRef(event_id=m1))
    check(r.status.code == OK, "meeting published: %s" % r.status.message)
    idle = idle_after(c, applied + 1)
    check([x.person.id for x in idle.contact_persons] == [liisa] and
          idle.contact_persons[0].last_meeting_unix == 0,
          "idle: only Alavus's contact person (Seinäjoki met)")
    rid = [x.role.id for x in idle.contact_persons][0]

    # A contact-person meeting organised by the organisation Liisa represents, held in
    # Seinäjoki: she convened it, so she is no longer idle (the organiser is EventInfo's
    # organiser_organisation_id; the registry used to look for a field EventInfo lacks, and
    # counted such a meeting only for Seinäjoki's contact person).
    applied = idle.events_applied_seq
    r = ev.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_CONTACT_PERSON_MEETING, title="Järjestötapaaminen", municipality_code="743",
        start_unix=now + 8 * 86400, end_unix=now + 8 * 86400 + 3600, language="fi",
        organiser_organisation_id=org.id), key="m2")
    check(r.status.code == OK, "meeting organised by an organisation: %s" % r.status.message)
    r = ev.call("events.event.publish", V.EventRef(event_id=body(r, V.EventReply).event.id))
    check(r.status.code == OK, "second meeting published: %s" % r.status.message)
    idle = idle_after(c, applied + 2)
    check(idle.events_applied_seq > applied, "registry applied the second meeting")
    check(list(idle.contact_persons) == [],
          "idle: Liisa convened through her organisation (organiser_organisation_id)")

    # Ending Alavus's contact person makes Alavus a gap.
    r = c.call("registry.role.end", R.EndRoleRequest(role_id=rid))
    check(r.status.code == OK and replay(c, head(c))[0].type == "ContactPersonEnded",
          "end a role: ContactPersonEnded")
    check(c.call("registry.role.end", R.EndRoleRequest(role_id=rid)).status.code ==
          E.CODE_CONFLICT, "end twice: CONFLICT")
    gaps = body(c.call("registry.coverage.gaps", R.CoverageGapsRequest()),
                R.CoverageGapsReply).municipalities
    check("010" in [m.code for m in gaps], "Alavus is a gap again")

    # Erase Maija: her current role ends, PersonErased is published, her record is gone.
    r = c.call("registry.person.erase", R.PersonRef(person_id=maija))
    check(r.status.code == OK, "erase")
    evs = replay(c, head(c) - 1)
    check([x.type for x in evs] == ["ContactPersonEnded", "PersonErased"],
          "erase: role ended, then PersonErased")
    check(c.call("registry.person.get", R.PersonRef(person_id=maija)).status.code ==
          E.CODE_NOT_FOUND, "erased person is gone")
    again = c.call("registry.person.add", R.AddPersonRequest(name=PII[0], email=PII[1]), key="p1")
    check(again.status.code == E.CODE_NOT_FOUND, "an old idempotency key does not bring her back")
    log = b"".join(x.payload for x in replay(c))
    check(not any(p.encode() in log for p in PII), "the registry's log carries no personal data")
finally:
    s.close()
done()
