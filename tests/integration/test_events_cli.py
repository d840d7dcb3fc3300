"""Issue 4 point 9: `kumppani events ...` for every operation, table output and --json, and
usage errors (exit 2) and service refusals (exit 4) with clear messages."""
import json
import os

from kp_harness import Suite, check, cli_runner, done
from kp_events import events_with_hooks, set_clock

s = Suite()
try:
    events_with_hooks(s)
    env = dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api,
               KUMPPANI_KEYS="none")  # plain TCP

    kp = cli_runner(env)

    def kj(*args):
        rc, out, err = kp(*args, "--json")
        check(rc == 0, "%s exits 0 (%s)" % (" ".join(args[:2]), err.strip()))
        return json.loads(out) if rc == 0 else {}

    ev = kj("events", "create", "--kind", "partnership-table", "--title", "Pöytä",
            "--municipality", "743", "--start", "2031-03-12 17:00", "--end", "2031-03-12 19:00",
            "--capacity", "10", "--theme", "nuoret", "--organiser-municipality", "743",
            "--offer-window", "60", "--role-rules", "civil-servant:pct=40,resident:reserve=3")
    eid = str(ev["id"])
    check(ev["theme"] == "nuoret" and ev["organiser_municipality"] == "743" and
          ev["offer_window_minutes"] == 60 and len(ev["role_rules"]) == 2,
          "create takes theme, organiser, offer window and role rules")
    rc, out, err = kp("events", "create", "--kind", "seminar", "--title", "x", "--municipality",
                      "743", "--start", "2031-03-12 17:00", "--end", "2031-03-12 19:00",
                      "--role-rules", "wizard:max=3")
    check(rc == 2 and "--role-rules" in err, "bad role rules: usage error")
    kj("events", "publish", eid)
    up = kj("events", "update", eid, "--place", "Kirjasto", "--capacity", "12")
    check(up["place"] == "Kirjasto" and up["capacity"] == 12, "events update")
    rc, out, err = kp("events", "update", eid)
    check(rc == 2 and "at least one field" in err, "update without fields: usage error")

    # A needs text is stored only with the person's consent to that use (--consent-needs):
    # without it the service refuses, naming the field; with it the sign-up is stored.
    rc, out, err = kp("events", "signup", "--event", eid, "--source", "cli", "--id", "a0",
                      "--name", "Matti Meikäläinen", "--email", "matti.meikalainen@example.fi",
                      "--role", "resident", "--dietary", "vegaani")
    check(rc != 0 and "field 'dietary_text': stored only with consent_needs" in err,
          "events signup with needs but no consent: refused (%s)" % err.strip())
    rc, out, err = kp("events", "signup", "--event", eid, "--source", "cli", "--id", "a0n",
                      "--name", "Liisa Virtanen", "--email", "liisa.virtanen@example.fi",
                      "--role", "resident", "--dietary", "vegaani", "--consent-needs", "--json")
    check(rc == 0, "events signup with needs and --consent-needs: stored (%s)" % err.strip())
    rc, out, err = kp("signup", "cancel", "--source", "cli", "--id", "a0n")  # not counted below
    check(rc == 0, "that sign-up cancelled (%s)" % err.strip())
    su = kj("events", "signup", "--event", eid, "--source", "cli", "--id", "a1", "--name",
            "Matti Meikäläinen", "--email", "matti.meikalainen@example.fi", "--role", "resident",
            "--companions", "1")
    check(su["state"] == "confirmed" and su["companions"] == 1,
          "events signup with companions")
    for i in range(4):
        kj("events", "signup", "--event", eid, "--source", "cli", "--id", "c%d" % i, "--name",
           "C%d" % i, "--email", "c%d@example.fi" % i, "--role", "civil-servant")
    rc, out, err = kp("events", "balance", eid)
    check(rc == 0 and "civil-servant" in out and "RESERVED" in out, "events balance (table)")
    check("event %s: 6 of 12 places confirmed, 0 offered, 0 waitlisted" % eid in out,
          "events balance says the places of the capacity (%s)" % out.splitlines()[0])
    bal = {r["role"]: r for r in kj("events", "balance", eid)}
    check(bal["civil-servant"]["confirmed"] == 4 and bal["civil-servant"]["max_percent"] == 40
          and bal["resident"]["reserved"] == 3, "events balance --json")
    w = kj("events", "signup", "--event", eid, "--source", "cli", "--id", "c9", "--name", "C9",
           "--email", "c9@example.fi", "--role", "civil-servant")
    check(w["state"] == "waitlisted", "a fifth civil servant waits (40 % of 12)")
    r = kj("events", "leave-waitlist", "--signup", str(w["id"]))
    check(r["state"] == "cancelled" and r["cancel_reason"] == "left-waitlist",
          "events leave-waitlist")
    w = kj("events", "signup", "--event", eid, "--source", "cli", "--id", "c10", "--name", "C10",
           "--email", "c10@example.fi", "--role", "civil-servant")
    kj("events", "cancel-signup", "--source", "cli", "--id", "c0")
    r = kj("events", "accept-offer", "--signup", str(w["id"]))
    check(r["state"] == "confirmed", "events cancel-signup, then accept-offer")
    rc, out, err = kp("events", "decline-offer", "--signup", str(w["id"]))
    check(rc == 4 and "no open offer" in err, "decline without an offer: exit 4 and why")
    rc, out, err = kp("events", "accept-offer", "--signup", "1", "--source", "x")
    check(rc == 2, "accept-offer with both forms: usage error")

    rs = kj("events", "reschedule", eid, "--start", "2031-03-19 17:00", "--end",
            "2031-03-19 19:00", "--reason", "sali")
    check(rs["state"] == "rescheduled" and rs["sequence"] == 1, "events reschedule")
    rc, out, err = kp("events", "get", eid)
    check(rc == 0 and "rescheduled   was " in out and "1970" not in out,
          "events get of a rescheduled event names the time it had (%s)" % out)
    rc, out, err = kp("events", "ical", eid)
    check(rc == 0 and out.startswith("BEGIN:VCALENDAR") and "SEQUENCE:1" in out and
          "ORGANIZER" not in out, "events ical")
    # A deadline set, then a new time without one: it keeps its lead; --no-deadline drops it.
    rs = kj("events", "reschedule", eid, "--start", "2031-03-19 17:00", "--end",
            "2031-03-19 19:00", "--deadline", "2031-03-17 17:00")
    rs = kj("events", "reschedule", eid, "--start", "2031-03-26 17:00", "--end",
            "2031-03-26 19:00")
    check(rs.get("signup_deadline", "").startswith("2031-03-24T17:00"),
          "events reschedule keeps the deadline's lead (%s)" % rs.get("signup_deadline"))
    rs = kj("events", "reschedule", eid, "--start", "2031-03-19 17:00", "--end",
            "2031-03-19 19:00", "--no-deadline", "--reason", "sali")
    check(rs["sequence"] == 4 and not rs.get("signup_deadline"),
          "events reschedule --no-deadline: open until the start (%s)" % rs.get("signup_deadline"))
    path = os.path.join(s.dir, "feed.ics")
    rc, out, err = kp("events", "ical-feed", "--municipality", "743", "--output", path)
    check(rc == 0 and "UID:event-%s@kumppani" % eid in open(path).read(), "events ical-feed")

    series = kj("events", "series", "--kind", "partnership-table", "--title", "Kuukausi",
                "--municipality", "005", "--start", "2031-01-14 18:00", "--end",
                "2031-01-14 20:00", "--frequency", "monthly-weekday", "--count", "4",
                "--publish")
    check(len(series["events"]) == 4 and
          [e["start"] for e in series["events"]][1] == "2031-02-11T18:00:00+02:00" and
          [e["start"] for e in series["events"]][3] == "2031-04-08T18:00:00+03:00",
          "events series: 2nd Tuesday at 18:00 Helsinki, across the change to summer time")
    lst = kj("events", "list", "--series", str(series["series_id"]))
    check(len(lst) == 4, "events list --series")
    rc, out, err = kp("events", "series", "--kind", "seminar", "--title", "x", "--municipality",
                      "005", "--start", "2031-01-14 18:00", "--end", "2031-01-14 20:00",
                      "--frequency", "daily", "--count", "3")
    check(rc == 2 and "--frequency" in err, "unknown frequency: usage error")
    second = str(series["events"][1]["id"])
    c = kj("events", "cancel", second, "--reason", "kesä")
    check(c["state"] == "cancelled" and c["cancel_reason"] == "kesä", "events cancel")
    rc, out, err = kp("events", "cancel", second)
    check(rc == 2 and "--reason" in err, "cancel without a reason: usage error")
    rc, out, err = kp("events", "get", second)
    check(rc == 0 and "cancelled     kesä" in out and "rescheduled" not in out and "1970" not in out,
          "events get of a cancelled event that was never rescheduled says no reschedule (%s)"
          % out)

    # Held, attendance, door CSV and statistics after the start (test clock).
    from kp_harness import Client
    import time
    cl = Client(s.ev_api)
    set_clock(cl, int(time.mktime((2031, 3, 19, 18, 0, 0, 0, 0, -1)) - time.time()))
    r = kj("events", "attendance", "--signup", str(su["id"]), "--attended")
    check(r["attendance"] == "attended", "events attendance")
    rc, out, err = kp("events", "attendance", "--signup", str(su["id"]))
    check(rc == 2, "attendance needs --attended or --no-show")
    h = kj("events", "held", eid, "--memo", "https://x.fi/muistio")
    check(h["state"] == "held" and h["memo_url"] == "https://x.fi/muistio", "events held")
    rc, out, err = kp("events", "door-csv", eid)
    check(rc == 0 and out.startswith('"signup","name"') and "Matti Meikäläinen" in out and
          "attended" in out, "events door-csv")
    st = kj("events", "stats", "--municipality", "743")
    check(st["total"]["events"] == 1 and st["total"]["held"] == 1 and
          st["total"]["participants"] + st["total"]["companions"] == 6 and
          st["total"]["participants"] == 5 and st["total"]["attended"] == 2,
          "events stats --json (companions apart from participants, issue 16)")
    rc, out, err = kp("events", "stats", "--by", "role")
    check(rc == 0 and "resident" in out and "PARTICIPANTS" in out, "events stats (table)")
    rc, out, err = kp("events", "get", eid)
    check(rc == 0 and "memo" in out and "theme" in out, "events get shows the new fields")
    rc, out, err = kp("events", "--help")
    check(rc == 0 and "events series" in out and "events stats" in out, "help lists the commands")
finally:
    s.close()
done()
