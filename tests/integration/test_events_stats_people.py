"""Issue 16, statistics: a filter for online events (events.stats mode, `events stats --mode`);
participants are the people of the confirmed sign-ups and their companions are counted apart;
distinct people (one per contact: e-mail ignoring case, else the phone's digits) and distinct
organisations (case and spaces ignored), in total and in every breakdown."""
import json
import os

from kp_harness import PII, Suite, V, E, body, check, cli_runner, done
from kp_events import DAY, events_with_hooks, create, signup, refused


def stats(c, **kw):
    return body(c.call("events.stats", V.EventStatsRequest(**kw)), V.EventStatsReply)


s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    inperson = create(c, title="Kaupungintalolla", place="Kaupungintalo", start_in_s=2 * DAY)
    online = create(c, title="Verkossa", place="", online_url="https://meet.example.fi/a",
                    start_in_s=3 * DAY)
    hybrid = create(c, title="Molemmat", place="Kirjasto", online_url="https://meet.example.fi/b",
                    start_in_s=4 * DAY)
    gone = create(c, title="Peruttu", place="", online_url="https://meet.example.fi/c",
                  start_in_s=5 * DAY)
    # One person by e-mail (case differs), one by phone (spacing differs), one more; two
    # organisations each written two ways.
    signup(c, inperson.id, 1, email="Matti.Meikalainen@Example.FI",
           organisation="Seinäjoen Nuoret ry")
    signup(c, online.id, 2, email=PII[1], organisation="SEINÄJOEN  NUORET RY")
    signup(c, inperson.id, 3, email="", phone="+358 40 123 4567",
           organisation="Lapuan Kyläyhdistys", companions=2)
    signup(c, hybrid.id, 4, email="", phone=PII[2])
    signup(c, hybrid.id, 5, name=PII[3], email=PII[4], organisation="lapuan kyläyhdistys ",
           companions=3)
    signup(c, gone.id, 6, email="toinen@example.fi", organisation="Muu ry")
    c.call("events.event.cancel", V.CancelEventRequest(event_id=gone.id, reason_text="peruttu"))

    def row(r):
        return (r.events_n, r.participants_n, r.companions_n, r.people_n, r.organisations_n)

    st = stats(c)
    check(row(st.total) == (4, 5, 5, 3, 2),
          "total: events, participants, companions, people, organisations %s" % (row(st.total),))
    evs = {r.key: r for r in st.by_event}
    check(row(evs[str(inperson.id)]) == (1, 2, 2, 2, 2) and
          row(evs[str(hybrid.id)]) == (1, 2, 3, 2, 1) and
          row(evs[str(gone.id)]) == (1, 0, 0, 0, 0), "per event")
    roles = {r.key: r for r in st.by_role}
    check(roles["resident"].people_n == 3 and roles["resident"].participants_n == 5,
          "per role")
    check(row(stats(c, mode=V.EVENT_MODE_ONLINE).total) == (3, 3, 3, 3, 2),
          "online: events with an online link (the cancelled one counted as an event)")
    check(row(stats(c, mode=V.EVENT_MODE_ONLINE_ONLY).total) == (2, 1, 0, 1, 1),
          "online only")
    check(row(stats(c, mode=V.EVENT_MODE_IN_PERSON).total) == (1, 2, 2, 2, 2), "in person")
    check(row(stats(c, mode=V.EVENT_MODE_HYBRID).total) == (1, 2, 3, 2, 1), "hybrid")
    refused(c.call("events.stats", V.EventStatsRequest(mode=9)), E.CODE_INVALID, ["mode"],
            "an unknown mode refused")

    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none"))

    rc, out, err = kp("events", "stats", "--mode", "online", "--json")
    t = json.loads(out)["total"] if rc == 0 else {}
    check(t.get("events") == 3 and t.get("participants") == 3 and t.get("companions") == 3 and
          t.get("people") == 3 and t.get("organisations") == 2,
          "events stats --mode online --json (%s)" % err.strip())
    rc, out, err = kp("events", "stats", "--mode", "in-person")
    check(rc == 0 and "2 participants (+2 companions)" in out and
          "2 distinct people, 2 distinct organisations" in out, "events stats (text)")
    rc, out, err = kp("events", "stats", "--mode", "moon")
    check(rc == 2 and "--mode" in err, "a bad --mode: usage error")
finally:
    s.close()
done()
