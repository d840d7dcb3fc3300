"""Issue 13 item 2: the accessibility facts of an event's place (accessibility_text): given at
creation by the API and by `kumppani events create --accessibility`, stored and returned by
events.event.get, changed by events.event.update (field "accessibility") and by the CLI's
update, at most 1,000 characters (a clear error naming the field above), carried on the log's
EventInfo (public: about the place, not a person) and in the iCalendar DESCRIPTION."""
import json
import os

from kp_events import create, events_with_hooks, get, log_events, refused, signup
from kp_harness import E, V, body, check, cli_runner, done, Suite

FACTS = "Esteetön sisäänkäynti pihan puolelta.\nInduktiosilmukka salissa."

s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api, "admin")
    ev = create(c, accessibility_text=FACTS)
    check(ev.accessibility_text == FACTS, "create returns the accessibility facts")
    check(get(c, ev.id).accessibility_text == FACTS, "events.event.get returns them (stored)")
    signup(c, ev.id, 1)  # a planted name (kp_harness.PII) for the log check
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=ev.id, values=V.CreateEventRequest(accessibility_text="Hissi toiseen kerrokseen."),
        fields=["accessibility"]))
    check(r is not None and r.status.code == 0 and
          body(r, V.EventReply).event.accessibility_text == "Hissi toiseen kerrokseen." and
          get(c, ev.id).place == "Kaupungintalo", "update changes them, the rest stays")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=ev.id, values=V.CreateEventRequest(accessibility_text="x" * 1001),
        fields=["accessibility"]))
    refused(r, E.CODE_INVALID, ["accessibility_text"], "1,001 characters are refused")
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Liian pitkä", municipality_code="743",
        start_unix=ev.start_unix, end_unix=ev.end_unix, accessibility_text="y" * 1001),
        key="too-long")
    refused(r, E.CODE_INVALID, ["accessibility_text", "1000"],
            "create refuses 1,001 characters, naming the field")
    infos = [body_ev for t, p in log_events(c) if t.startswith("Event")
             for body_ev in [V.EventReply.FromString(p).event] if body_ev.id == ev.id]
    check(infos and infos[-1].accessibility_text == "Hissi toiseen kerrokseen.",
          "the log's EventInfo carries them (the web's read model follows it)")
    ics = body(c.call("events.ical.event", V.EventRef(event_id=ev.id)), V.EventTextReply).text
    check("Hissi toiseen kerrokseen." in ics.replace("\r\n ", ""),
          "the iCalendar DESCRIPTION carries them")

    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none"))
    rc, out, err = kp("events", "create", "--kind", "seminar", "--title", "Seminaari",
                      "--municipality", "743", "--start", "2031-03-12 17:00", "--end",
                      "2031-03-12 19:00", "--accessibility", "Pyörätuoliluiska.", "--json")
    j = json.loads(out) if rc == 0 else {}
    check(rc == 0 and j.get("accessibility") == "Pyörätuoliluiska.",
          "events create --accessibility (%s)" % err.strip())
    if rc == 0:
        check(get(c, j["id"]).accessibility_text == "Pyörätuoliluiska.", "stored from the CLI")
        rc, out, err = kp("events", "update", str(j["id"]), "--accessibility", "Ei portaita.",
                          "--json")
        check(rc == 0 and json.loads(out).get("accessibility") == "Ei portaita.",
              "events update --accessibility (%s)" % err.strip())
    rc, out, err = kp("events", "create", "--help")
    check("--accessibility" in out + err, "the create usage names --accessibility")
finally:
    s.close()
done()
