# timeout: 120
"""Issue 16, registry: a contact-person meeting tied to the contact person who convened it
(EventInfo.convener_person_id: it counts for that person alone); past meetings entered by hand
(registry.meeting.record, `registry meeting-record`) so that `registry idle` is right at
go-live; contact persons imported from CSV (per-row errors, dry run, skip-invalid, the same
file twice changes nothing)."""
import datetime
import os
import time
from zoneinfo import ZoneInfo

from kp_harness import E, OK, PII, Suite, V, body, check, cli_runner, done, set_clock
from kp_registry import R, L, head, idle_after, replay, start_registry

DAY = 86400
HKI = ZoneInfo("Europe/Helsinki")
s = Suite()
try:
    s.events()
    start_registry(s, ["--test-clock", "on"], events=True)
    c = s.client(s.reg_api)
    ev = s.client(s.ev_api)
    reg_now = set_clock(c, 30 * DAY * 1000) / 1000  # meetings created for next week are past

    def person(name, email, muni, key):
        r = c.call("registry.person.add", R.AddPersonRequest(name=name, email=email), key=key)
        pid = body(r, R.PersonReply).person.id
        r = c.call("registry.role.assign", R.AssignRoleRequest(
            person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code=muni,
            start_date="2020-01-01"), key=key + "-role")
        check(r.status.code == OK, "contact person of %s" % muni)
        return pid

    a = person(PII[5], PII[6], "743", "a")
    b = person("Bea Koskinen", "bea.koskinen@example.fi", "743", "b")
    cc = person("Cai Niemi", "cai.niemi@example.fi", "005", "c")

    # ---- a meeting names its convener.
    now = int(time.time())
    r = ev.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="x", municipality_code="743", start_unix=now + 7 * DAY,
        end_unix=now + 7 * DAY + 3600, convener_person_id=a), key="sem")
    check(r.status.code == E.CODE_INVALID and "convener_person_id" in r.status.message,
          "a convener only for a contact-person meeting")
    r = ev.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_CONTACT_PERSON_MEETING, title="Yhdyshenkilöt", municipality_code="743",
        organiser_municipality_code="743", start_unix=now + 7 * DAY,
        end_unix=now + 7 * DAY + 3600, convener_person_id=a), key="m1")
    m1 = body(r, V.EventReply).event
    check(m1.convener_person_id == a, "the events service keeps the convener")
    r = ev.call("events.event.publish", V.EventRef(event_id=m1.id))
    ev_head = body(ev.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq

    def idle(months=6):
        got = idle_after(c, ev_head, months)
        return {x.person.id: x.last_meeting_unix for x in got.contact_persons}

    got = idle()
    check(a not in got and b in got and cc in got,
          "the meeting counts for its convener alone, not for the other contact person of "
          "743 (%s)" % got)
    r = c.call("registry.meeting.list", R.ListMeetingsRequest(person_id=a))
    ms = body(r, R.ListMeetingsReply).meetings
    check([(m.event_id, m.organiser_person_id) for m in ms] == [(m1.id, a)],
          "registry meetings of the convener")

    # ---- a past meeting entered by hand.
    today = datetime.datetime.fromtimestamp(reg_now, HKI).date()
    held = (today - datetime.timedelta(days=60)).isoformat()
    h0 = head(c)
    for rq, code, words, what in [
            (R.RecordMeetingRequest(person_id=cc, held_on=(today + datetime.timedelta(days=1))
                                    .isoformat()), E.CODE_INVALID, ["held_on"], "a future date"),
            (R.RecordMeetingRequest(person_id=cc, held_on="2026-02-30"), E.CODE_INVALID,
             ["held_on"], "not a date"),
            (R.RecordMeetingRequest(person_id=999, held_on=held), E.CODE_NOT_FOUND,
             ["person_id"], "an unknown person"),
            (R.RecordMeetingRequest(person_id=1, held_on=held), E.CODE_CONFLICT,
             ["not a contact person"], "a person who is no contact person"),
            (R.RecordMeetingRequest(person_id=cc, held_on=held, municipality_code="743"),
             E.CODE_CONFLICT, ["municipality"], "a municipality not theirs")]:
        r = c.call("registry.meeting.record", rq, key="bad-%s" % what)
        check(r.status.code == code and all(w in r.status.message for w in words),
              "record refuses %s (%s)" % (what, r.status.message))
    r = c.call("registry.meeting.record", R.RecordMeetingRequest(person_id=cc, held_on=held))
    check(r.status.code == E.CODE_INVALID and "idempotency_key" in r.status.message,
          "record needs an idempotency key")
    check(head(c) == h0, "refusals write nothing")
    r = c.call("registry.meeting.record", R.RecordMeetingRequest(person_id=cc, held_on=held),
               key="rec-1")
    check(r.status.code == OK, "a meeting of 60 days ago recorded")
    rec = body(r, R.MeetingReply).meeting
    noon = datetime.datetime.fromisoformat(held + "T12:00:00").replace(tzinfo=HKI).timestamp()
    check(rec.recorded_id > 0 and rec.municipality_code == "005" and rec.held_on == held and
          rec.organiser_person_id == cc and rec.start_unix == int(noon),
          "its municipality from the person's role, its time the Helsinki noon")
    r = c.call("registry.meeting.record", R.RecordMeetingRequest(person_id=cc, held_on=held),
               key="rec-1")
    check(body(r, R.MeetingReply).meeting.recorded_id == rec.recorded_id and head(c) == h0 + 1,
          "the same key again: the first answer, nothing new")
    evs = [e for e in replay(c, h0 + 1) if e.type == "MeetingRecorded"]
    check(len(evs) == 1, "MeetingRecorded on the log")
    got = idle()
    check(cc not in got and b in got, "the recorded meeting counts for its convener")
    got = idle(months=1)
    check(got.get(cc) == int(noon), "over one month it is too old, and shown as the last")

    # ---- contact persons from CSV.
    csv = ("name,email,phone,municipality,title,start_date\n"
           "%s,%s,,010,yhdyshenkilö,\n"                        # 2 new
           "%s,%s,,743,,\n"                                    # 3 already of 743
           "%s,%s,,010,,\n"                                    # 4 a new role for a
           "Uusi Henkilö,,+358 40 765 4321,052,,2026-01-01\n"  # 5 new, by phone
           "Ei Yhteystietoa,,,743,,\n"                         # 6 bad: no e-mail or phone
           "X Y,x.y@example.fi,,999,,\n"                       # 7 bad: municipality
           "Kaksi,bea.koskinen@example.fi,+358401112233,743,,\n"  # 8 bad: b's e-mail, a's phone
           "%s,%s,,010,,\n"                                    # 9 bad: line 2 again
           ) % (PII[7], PII[8], PII[5], PII[6].upper(), PII[5], PII[6], PII[7], PII[8])
    r = c.call("registry.person.update", R.UpdatePersonRequest(
        id=a, name=PII[5], email=PII[6], phone="+358401112233"))
    check(r.status.code == OK, "a has a phone")

    def imp(**kw):
        r = c.call("registry.csv.import", R.ImportRequest(kind=R.CSV_KIND_CONTACT_PERSONS,
                                                          csv=csv.encode(), **kw))
        check(r.status.code == OK, "import answered (%s)" % r.status.message)
        return body(r, R.ImportReply)

    h0 = head(c)
    rep = imp(dry_run=True)
    errs = {e.line: e.reason for e in rep.errors}
    check(rep.rows == 8 and sorted(errs) == [6, 7, 8, 9] and not rep.written,
          "dry run: the bad rows by line (%s)" % errs)
    check("'email' and 'phone'" in errs[6] and "municipality" in errs[7] and
          "two people" in errs[8] and "line 2" in errs[9], "each reason names the rule")
    check(not any(p in " ".join(errs.values()) for p in PII), "no reason echoes a value")
    check(imp().written is False and head(c) == h0, "bad rows without skip: nothing written")
    rep = imp(skip_invalid=True)
    check(rep.written and (rep.created, rep.updated, rep.unchanged, rep.skipped) == (2, 1, 1, 4),
          "skip-invalid: 2 created, 1 updated, 1 unchanged, 4 skipped (%d %d %d %d)"
          % (rep.created, rep.updated, rep.unchanged, rep.skipped))
    roles = body(c.call("registry.role.list", R.ListRolesRequest(
        municipality_code="010", kind=R.ROLE_KIND_CONTACT_PERSON)), R.ListRolesReply)
    names = sorted(p.name for p in roles.people)
    check(names == sorted([PII[5], PII[7]]), "010's contact persons (%s)" % names)
    r52 = body(c.call("registry.role.list", R.ListRolesRequest(municipality_code="052")),
               R.ListRolesReply).roles
    check([x.start_date for x in r52] == ["2026-01-01"], "start_date taken")
    h1 = head(c)
    rep = imp(skip_invalid=True)
    check((rep.created, rep.updated, rep.unchanged) == (0, 0, 4) and head(c) == h1,
          "the same file again changes nothing")

    # ---- the CLI.
    kp = cli_runner(dict(os.environ, KUMPPANI_REGISTRY_API=s.reg_api, KUMPPANI_KEYS="none"))

    path = os.path.join(s.dir, "cp.csv")
    with open(path, "w") as f:
        f.write(csv)
    rc, out, err = kp("registry", "import", path, "--kind", "contact-persons", "--dry-run")
    check(rc == 4 and "line 6:" in err and "dry run" in out, "registry import --kind "
          "contact-persons --dry-run with bad rows: exit 4 (%d %s)" % (rc, out + err))
    rc, out, err = kp("registry", "meeting-record", "--person", str(b), "--date", held,
                      "--key", "cli-1")
    check(rc == 0 and held in out and "743" in out, "registry meeting-record (%s)" % err)
    rc, out, err = kp("registry", "meetings", str(b))
    check(rc == 0 and "1 meeting(s)" in out and "recorded" in out, "registry meetings")
    rc, out, err = kp("registry", "meeting-record", "--person", str(b))
    check(rc == 2 and "--date" in err, "meeting-record without --date: usage error")

    # A large file goes in chunks of at most 400 rows (a request's limit; 5000 short rows in
    # 60 KiB chunks used to run out of the request's memory).
    with open(path, "w") as f:
        f.write("name,email,municipality\n")
        for i in range(900):
            f.write("Henkilö %d,h%d@example.fi,%s\n" % (i, i, ["301", "408", "743"][i % 3]))
    rc, out, err = kp("registry", "import", path, "--kind", "contact-persons")
    check(rc == 0 and "900 rows: 900 created" in out, "900 contact persons in one import (%s)"
          % (out + err).strip()[:200])
    lines = open(path).read().splitlines()[:402]  # the header and 401 rows
    r = c.call("registry.csv.import", R.ImportRequest(kind=R.CSV_KIND_CONTACT_PERSONS,
                                                      csv=("\n".join(lines) + "\n").encode()))
    check(r.status.code == E.CODE_TOO_LARGE and "400 rows" in r.status.message,
          "more than 400 rows in one request refused")
finally:
    s.close()
done()
