"""Issue 16, attendance: many sign-ups marked attended or no-show in one call
(events.signup.attendance_bulk), each with its own result, a refused one not stopping the
others; `kumppani events attendance-bulk` with ids, or with the door list (events door-csv)
back as input, its attendance column filled in."""
import csv
import io
import json
import os

from kp_harness import PII, Suite, V, E, OK, body, check, cli_runner, done
from kp_events import DAY, events_with_hooks, set_clock, create, get, signup, log_events, refused

ATT, NO = V.ATTENDANCE_ATTENDED, V.ATTENDANCE_NO_SHOW


def bulk(c, marks):
    return c.call("events.signup.attendance_bulk", V.BulkAttendanceRequest(
        marks=[V.SignupAttendanceRequest(signup_id=i, attendance=a) for i, a in marks]))


s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    ev = create(c, capacity=4, start_in_s=DAY)
    later = create(c, start_in_s=5 * DAY)
    s1 = signup(c, ev.id, 1)
    s2 = signup(c, ev.id, 2, name=PII[3], email=PII[4])
    s3 = signup(c, ev.id, 3, email="", phone=PII[2], companions=1)
    s4 = signup(c, ev.id, 4, email="neljas@example.fi")
    check(s4.state == V.SIGNUP_STATE_WAITLISTED, "the fourth waits (capacity 4, one group of 2)")
    s5 = signup(c, later.id, 5, email="viides@example.fi")
    set_clock(c, DAY + 600)

    refused(c.call("events.signup.attendance_bulk", V.BulkAttendanceRequest()), E.CODE_INVALID,
            ["marks"], "no marks refused")
    refused(bulk(c, [(s1.id, ATT)] * 1001), E.CODE_INVALID, ["marks", "1000"],
            "more than 1000 marks refused")

    n0 = len(log_events(c))
    r = bulk(c, [(s1.id, ATT), (s2.id, NO), (s4.id, ATT), (999999, ATT), (s5.id, ATT),
                 (s1.id, ATT), (s3.id, 0)])
    check(r.status.code == OK, "one call for many marks")
    rep = body(r, V.BulkAttendanceReply)
    got = [(x.signup_id, x.code) for x in rep.results]
    check(got == [(s1.id, E.CODE_OK), (s2.id, E.CODE_OK), (s4.id, E.CODE_CONFLICT),
                  (999999, E.CODE_NOT_FOUND), (s5.id, E.CODE_CONFLICT), (s1.id, E.CODE_OK),
                  (s3.id, E.CODE_INVALID)], "a result per mark, in order (%s)" % got)
    msgs = [x.message for x in rep.results]
    check("confirmed" in msgs[2] and "999999 not found" in msgs[3] and
          "not started" in msgs[4] and "attendance" in msgs[6] and msgs[0] == "",
          "each refusal says why, as the single call would (%s)" % msgs)
    check(rep.marked_n == 3 and rep.results[0].attendance == ATT and
          rep.results[1].attendance == NO, "marked_n and the marks")
    e = get(c, ev.id)
    check(e.attended_n == 1 and e.no_show_n == 1, "the event's counts (%d, %d)"
          % (e.attended_n, e.no_show_n))
    types = [t for t, _ in log_events(c)[n0:]]
    check(types == ["SignupAttended", "SignupNoShow"],
          "one log event per change, none for a repeat or a refusal (%s)" % types)

    # The CLI: ids, then the door list back.
    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none"))

    rc, out, err = kp("events", "attendance-bulk", "--no-show", "%d,%d" % (s1.id, s4.id))
    check(rc == 4 and "only a confirmed sign-up can attend" in out and "1 of 2 marked" in out,
          "ids: per-id results, exit 4 when one was refused (%d %s)" % (rc, out + err))
    rc, out, err = kp("events", "attendance-bulk", "--attended", "1,x")
    check(rc == 2 and "--attended" in err, "a bad id list: usage error")
    rc, out, err = kp("events", "attendance-bulk")
    check(rc == 2 and "nothing to mark" in err, "nothing given: usage error")

    rc, door, err = kp("events", "door-csv", str(ev.id))
    rows = list(csv.reader(io.StringIO(door)))
    check(rc == 0 and rows[0][0] == "signup" and rows[0][-1] == "attendance" and len(rows) == 4,
          "the door list (%s)" % err)
    for row in rows[1:]:
        row[-1] = {s1.id: "attended", s2.id: "attended", s3.id: ""}[int(row[0])]
    path = os.path.join(s.dir, "door.csv")
    with open(path, "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    rc, out, err = kp("events", "attendance-bulk", "--csv", path, "--json")
    res = json.loads(out)["results"] if rc == 0 else []
    check(rc == 0 and sorted(int(x["signup_id"]) for x in res) == sorted([s1.id, s2.id]),
          "the door list back: the filled rows marked (%s)" % (out + err))
    e = get(c, ev.id)
    check(e.attended_n == 2 and e.no_show_n == 0, "both now attended (%d, %d)"
          % (e.attended_n, e.no_show_n))
    # As a spreadsheet saves it: semicolons, no quotes, a byte order mark.
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        for k, row in enumerate(rows):
            if k:
                row[-1] = "no-show" if row[0] == str(s3.id) else ""
            f.write(";".join(x.replace(";", " ") for x in row) + "\n")
    rc, out, err = kp("events", "attendance-bulk", "--csv", path)
    check(rc == 0 and "1 of 1 marked" in out, "a semicolon file (%s)" % (out + err))
    check(get(c, ev.id).no_show_n == 2, "the group of two marked no-show")
    with open(path, "w") as f:
        f.write("signup,attendance\n%d,maybe\n" % s1.id)
    rc, out, err = kp("events", "attendance-bulk", "--csv", path)
    check(rc == 2 and "line 2" in err and "attendance" in err, "a bad cell names its line")
    with open(path, "w") as f:
        f.write("id,came\n1,attended\n")
    rc, out, err = kp("events", "attendance-bulk", "--csv", path)
    check(rc == 2 and "header" in err, "a file without the columns: usage error")
    set_clock(c, 0)
finally:
    s.close()
done()
