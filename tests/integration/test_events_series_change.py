"""Issue 16, series: a series changed from one occurrence on (fields, and a new time that the
later occurrences follow at the same Helsinki time of day, each a reschedule that tells its
people), every occurrence checked before any changes; a series extended by more occurrences
at its own frequency, with the last occurrence's fields. CLI: events series-update and
events series-extend."""
import datetime
import json
import os
import time
from zoneinfo import ZoneInfo

from kp_harness import Suite, V, E, OK, body, check, cli_runner, done
from kp_events import DAY, events_with_hooks, get, signup, log_events, head, refused

HKI = ZoneInfo("Europe/Helsinki")


def local(t):
    return datetime.datetime.fromtimestamp(t, HKI)


def occurrences(c, sid):
    r = c.call("events.event.list", V.ListEventsRequest(series_id=sid, limit=100))
    return sorted(body(r, V.ListEventsReply).events, key=lambda e: e.series_index)


s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    first = local(time.time() + 8 * DAY).replace(hour=18, minute=0, second=0, microsecond=0)
    start = int(first.timestamp())
    r = c.call("events.series.create", V.CreateSeriesRequest(
        first=V.CreateEventRequest(kind=V.KIND_PARTNERSHIP_TABLE, title="Pöytä",
                                   municipality_code="743", start_unix=start,
                                   end_unix=start + 7200, place="Kaupungintalo", capacity=10,
                                   signup_deadline_unix=start - DAY),
        frequency=V.SERIES_FREQUENCY_WEEKLY, count=4, publish=True), key="series-1")
    check(r.status.code == OK, "a weekly series of four")
    sid = body(r, V.SeriesReply).series_id
    occ = occurrences(c, sid)
    check([e.series_frequency for e in occ] == [V.SERIES_FREQUENCY_WEEKLY] * 4,
          "each occurrence keeps the series' frequency")
    su = signup(c, occ[2].id, 1, companions=1)

    # ---- fields from occurrence 2 on.
    n0 = len(log_events(c))
    r = c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, from_index=2, values=V.CreateEventRequest(place="Kirjasto", theme="uusi"),
        fields=["place", "theme"]))
    check(r.status.code == OK and [e.series_index for e in body(r, V.SeriesReply).events] ==
          [2, 3, 4], "update from occurrence 2: the occurrences changed")
    now = occurrences(c, sid)
    check([e.place for e in now] == ["Kaupungintalo", "Kirjasto", "Kirjasto", "Kirjasto"] and
          now[3].theme == "uusi", "occurrence 1 kept, 2..4 changed")
    check([t for t, _ in log_events(c)[n0:]] == ["EventUpdated"] * 3, "one EventUpdated each")

    # ---- one refusal changes nothing.
    h0 = head(c)
    refused(c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, from_index=1, values=V.CreateEventRequest(capacity=1),
        fields=["capacity"])), E.CODE_CONFLICT, ["capacity"],
        "capacity below occurrence 3's places refused")
    check(head(c) == h0 and [e.capacity for e in occurrences(c, sid)] == [10] * 4,
          "... and nothing changed, not even the occurrences before it")
    refused(c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=999, values=V.CreateEventRequest(title="x"), fields=["title"])),
        E.CODE_NOT_FOUND, ["series 999"], "an unknown series")
    refused(c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, from_index=9, values=V.CreateEventRequest(title="x"), fields=["title"])),
        E.CODE_NOT_FOUND, ["from_index"], "an occurrence the series lacks")
    refused(c.call("events.series.update", V.UpdateSeriesRequest(series_id=sid)),
            E.CODE_INVALID, ["fields", "start_unix"], "no change given")
    refused(c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, values=V.CreateEventRequest(), fields=["start"])), E.CODE_INVALID,
        ["fields"], "an unknown field name")

    # ---- a new time from occurrence 3 on: a day later, at 17:30, for 90 minutes.
    old3, old4 = local(now[2].start_unix), local(now[3].start_unix)
    new3 = (old3 + datetime.timedelta(days=1)).replace(hour=17, minute=30)
    n0 = len(log_events(c))
    r = c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, from_index=3, start_unix=int(new3.timestamp()),
        end_unix=int(new3.timestamp()) + 5400, reason_text="sali vaihtuu"))
    check(r.status.code == OK, "a new time from occurrence 3 on")
    now = occurrences(c, sid)
    n3, n4 = local(now[2].start_unix), local(now[3].start_unix)
    check(n3 == new3 and n4.date() == old4.date() + datetime.timedelta(days=1) and
          (n4.hour, n4.minute) == (17, 30) and now[3].end_unix - now[3].start_unix == 5400,
          "occurrence 4 follows: one day later, 17:30, 90 minutes (%s, %s)" % (n3, n4))
    check(now[2].start_unix - now[2].signup_deadline_unix == DAY, "the deadline keeps its lead")
    check(now[0].start_unix == occ[0].start_unix and now[1].start_unix == occ[1].start_unix,
          "occurrences 1 and 2 keep their time")
    check(now[2].sequence == 1 and now[2].state == V.EVENT_STATE_RESCHEDULED,
          "each moved occurrence is rescheduled (sequence raised)")
    changed = []
    for t, p in log_events(c)[n0:]:
        if t == "EventRescheduled":
            ch = V.EventChanged()
            ch.ParseFromString(p)
            changed.append((ch.event.series_index, list(ch.signup_ids), ch.reason_text))
    check(changed == [(3, [su.id], "sali vaihtuu"), (4, [], "sali vaihtuu")],
          "EventRescheduled names occurrence 3's sign-up, with the reason (%s)" % changed)

    # ---- cancelled occurrences are left alone.
    c.call("events.event.cancel", V.CancelEventRequest(event_id=now[3].id, reason_text="loma"))
    r = c.call("events.series.update", V.UpdateSeriesRequest(
        series_id=sid, values=V.CreateEventRequest(title="Pöytä 2"), fields=["title"]))
    check([e.series_index for e in body(r, V.SeriesReply).events] == [1, 2, 3],
          "a cancelled occurrence is not changed")

    # ---- extend.
    refused(c.call("events.series.extend", V.ExtendSeriesRequest(series_id=sid, count=2)),
            E.CODE_INVALID, ["idempotency_key"], "extend needs an idempotency key")
    refused(c.call("events.series.extend", V.ExtendSeriesRequest(series_id=sid, count=0),
                   key="x0"), E.CODE_INVALID, ["count"], "count 0 refused")
    r = c.call("events.series.extend", V.ExtendSeriesRequest(series_id=sid, count=2,
                                                             publish=True), key="ext-1")
    check(r.status.code == OK, "extend by two")
    new = body(r, V.SeriesReply).events
    last = occurrences(c, sid)[3]
    check([e.series_index for e in new] == [5, 6] and
          [local(e.start_unix) for e in new] ==
          [local(last.start_unix) + datetime.timedelta(days=7 * k) for k in (1, 2)],
          "weekly after the last occurrence, at its time")
    check(all(e.title == last.title and e.place == "Kirjasto" and e.capacity == 10 and
              e.state == V.EVENT_STATE_PUBLISHED and e.end_unix - e.start_unix == 5400 and
              e.series_id == sid for e in new), "the last occurrence's fields, published")
    h0 = head(c)
    r = c.call("events.series.extend", V.ExtendSeriesRequest(series_id=sid, count=2,
                                                             publish=True), key="ext-1")
    check([e.id for e in body(r, V.SeriesReply).events] == [e.id for e in new] and
          head(c) == h0, "the same key again: the first answer, nothing new")
    r = c.call("events.series.extend", V.ExtendSeriesRequest(
        series_id=sid, count=1, frequency=V.SERIES_FREQUENCY_BIWEEKLY), key="ext-2")
    e7 = body(r, V.SeriesReply).events[0]
    check(e7.series_index == 7 and e7.state == V.EVENT_STATE_DRAFT and
          local(e7.start_unix) == local(new[1].start_unix) + datetime.timedelta(days=14),
          "a frequency given: two weeks after, as a draft")

    # ---- the CLI.
    kp = cli_runner(dict(os.environ, KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_KEYS="none"))

    rc, out, err = kp("events", "series-update", str(sid), "--from", "5", "--place", "Sali",
                      "--json")
    got = json.loads(out) if rc == 0 else {}
    check(rc == 0 and [e["place"] for e in got.get("events", [])] == ["Sali"] * 3,
          "events series-update --from 5 (%s)" % err.strip())
    rc, out, err = kp("events", "series-update", str(sid))
    check(rc == 2 and "at least one field" in err, "series-update without a change: usage")
    rc, out, err = kp("events", "series-extend", str(sid), "--count", "1")
    check(rc == 0 and "series %d: 1 events" % sid in out, "events series-extend (%s)" % err)
    rc, out, err = kp("events", "series-extend", str(sid), "--count", "1", "--frequency", "daily")
    check(rc == 2 and "--frequency" in err, "a bad frequency: usage error")
finally:
    s.close()
done()
