# timeout: 120
"""Registry upgrade, meetings (issue 16): schema 1 kept a contact-person meeting without its
state, so a draft counted as convening NGOs. A schema-1 store holding such a record (a draft
meeting stored as a plain meeting, the events offset past it) is upgraded on open: its meetings
are dropped with the events offset and learned again from the events log, with the state, so
the draft counts for nobody and the contact person is idle."""
import struct
import time

from kp_harness import OK, Suite, V, body, check, done, set_clock
from kp_registry import R, idle_after, open_stopped_store, start_registry

DAY_MS = 86400 * 1000
s = Suite()
try:
    s.events()
    p = start_registry(s, ["--test-clock", "on"], events=True)
    c = s.client(s.reg_api)
    set_clock(c, 30 * DAY_MS)
    ev = s.client(s.ev_api)
    r = c.call("registry.person.add", R.AddPersonRequest(name="Y. Henkilö",
                                                         email="y.henkilo@example.fi"), key="p")
    pid = body(r, R.PersonReply).person.id
    r = c.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743"), key="r")
    check(r.status.code == OK, "contact person of Seinäjoki")
    now = int(time.time())
    r = ev.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_CONTACT_PERSON_MEETING, title="Luonnos", municipality_code="743",
        organiser_municipality_code="743", start_unix=now + 7 * 86400,
        end_unix=now + 7 * 86400 + 3600, language="fi"), key="m1")
    check(r.status.code == OK, "a draft meeting in events")
    event_id = body(r, V.EventReply).event.id

    got = idle_after(c, 1)
    check([x.person.id for x in got.contact_persons] == [pid], "schema 2: the draft counts "
          "for nobody")

    # What schema 1 kept: the meeting without its state (as if convened), meta schema 1.
    _, env = open_stopped_store(s, p, c)
    meta, meetings, offsets = (env.open_db(n) for n in (b"meta", b"meetings", b"offsets"))
    with env.begin(write=True) as t:
        key = struct.pack(">Q", event_id)
        m = R.ContactPersonMeeting.FromString(t.get(key, db=meetings))
        check(m.draft, "schema 2 stored the meeting as a draft")
        m.draft = False
        t.put(key, m.SerializeToString(), db=meetings)
        t.put(b"schema", struct.pack(">Q", 1), db=meta)
        check(t.get(b"events", db=offsets) is not None, "the events offset is stored")
    env.close()

    p = start_registry(s, ["--test-clock", "on"], events=True)
    c = s.client(s.reg_api)
    set_clock(c, 30 * DAY_MS)
    got = idle_after(c, 1)
    check(got.events_applied_seq >= 1 and [x.person.id for x in got.contact_persons] == [pid],
          "after the upgrade the meeting is learned again as a draft: still idle (%s)" %
          [x.person.id for x in got.contact_persons])
    check("registry.migrate" in p.logtext(), "the upgrade is logged")
    r = ev.call("events.event.publish", V.EventRef(event_id=event_id))
    check(r.status.code == OK, "published")
    got = idle_after(c, 2)
    check(list(got.contact_persons) == [], "once published, the meeting counts")
    c.close()
finally:
    s.close()
done()
