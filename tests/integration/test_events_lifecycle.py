"""Issue 4 point 1 and 8: lifecycle (publish, reschedule, cancel with a reason, held with the
memo), organiser, theme, recurring series changed one occurrence at a time, and the bus
events the notifier needs. Bad input included: every refusal changes nothing."""
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from kp_harness import Suite, V, E, OK, body, check, done
from kp_events import (DAY, events_with_hooks, set_clock, create, get, signup, log_events,
                       head, refused)

HEL = ZoneInfo("Europe/Helsinki")

s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    now = int(time.time())

    # Organiser, theme, description.
    ev = create(c, theme="nuorten hyvinvointi", organiser_municipality_code="743",
                description_text="Keskustelu;\nnuoret, koulut ja \\ järjestöt", capacity=10)
    check(ev.theme == "nuorten hyvinvointi" and ev.organiser_municipality_code == "743",
          "theme and organiser stored")
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="x", municipality_code="743", start_unix=now + DAY,
        end_unix=now + DAY + 3600, organiser_organisation_id=5,
        organiser_municipality_code="743"), key="both")
    refused(r, E.CODE_INVALID, ["organiser"], "organiser: organisation and municipality refused")
    r = c.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="x", municipality_code="743", start_unix=now + DAY,
        end_unix=now + DAY + 3600, organiser_municipality_code="74x"), key="badmuni")
    refused(r, E.CODE_INVALID, ["organiser_municipality_code"], "organiser code shape checked")

    a = signup(c, ev.id, 1, name="Matti Meikäläinen", email="matti.meikalainen@example.fi")
    b = signup(c, ev.id, 2)
    h0 = head(c)

    # Reschedule: bad input first.
    for (st, en, dl, words, what) in [
            (now - 10, now + 3600, 0, ["start_unix", "future"], "start in the past"),
            (now + 2 * DAY, now + 2 * DAY - 1, 0, ["end_unix"], "end before start"),
            (now + 2 * DAY, now + 2 * DAY + 3600, now + 3 * DAY, ["signup_deadline_unix"],
             "deadline after start")]:
        r = c.call("events.event.reschedule", V.RescheduleEventRequest(
            event_id=ev.id, start_unix=st, end_unix=en, signup_deadline_unix=dl))
        refused(r, E.CODE_INVALID, words, "reschedule refuses " + what)
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=999999, start_unix=now + DAY, end_unix=now + DAY + 60))
    refused(r, E.CODE_NOT_FOUND, ["event"], "reschedule of an unknown event refused")
    check(head(c) == h0, "refused reschedules write nothing")

    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=ev.id, start_unix=now + 9 * DAY, end_unix=now + 9 * DAY + 7200,
        reason_text="sali varattu"))
    check(r.status.code == OK, "reschedule accepted")
    ev2 = body(r, V.EventReply).event
    check(ev2.state == V.EVENT_STATE_RESCHEDULED and ev2.sequence == 1 and
          ev2.previous_start_unix == ev.start_unix, "rescheduled: state, sequence, previous time")
    evs = log_events(c)
    t, p = evs[-1]
    ch = V.EventChanged()
    ch.ParseFromString(p)
    check(t == "EventRescheduled" and sorted(ch.signup_ids) == sorted([a.id, b.id]) and
          ch.previous_start_unix == ev.start_unix and ch.reason_text == "sali varattu",
          "EventRescheduled names every signed-up person and the old time")
    check(signup(c, ev.id, 3).state == V.SIGNUP_STATE_CONFIRMED,
          "a rescheduled event stays open for sign-ups")

    # A sign-up deadline keeps its lead when a new time is given without one (the office's
    # form gives none): closing 2 days before stays 2 days before the new start.
    dl = create(c, start_in_s=10 * DAY, signup_deadline_unix=now + 8 * DAY)
    lead = dl.start_unix - dl.signup_deadline_unix
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=dl.id, start_unix=now + 20 * DAY, end_unix=now + 20 * DAY + 3600))
    check(r.status.code == OK and body(r, V.EventReply).event.signup_deadline_unix ==
          now + 20 * DAY - lead, "the deadline keeps its lead before the new start")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=dl.id, start_unix=now + DAY, end_unix=now + DAY + 3600))
    check(r.status.code == OK and body(r, V.EventReply).event.signup_deadline_unix == 0,
          "a lead that would already have passed: open until the start")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=dl.id, start_unix=now + 30 * DAY, end_unix=now + 30 * DAY + 3600,
        signup_deadline_unix=now + 25 * DAY))
    check(r.status.code == OK and body(r, V.EventReply).event.signup_deadline_unix ==
          now + 25 * DAY, "a deadline given is taken")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=dl.id, start_unix=now + 31 * DAY, end_unix=now + 31 * DAY + 3600,
        no_deadline=True))
    check(r.status.code == OK and body(r, V.EventReply).event.signup_deadline_unix == 0,
          "no_deadline: open until the start")

    # Cancel needs a reason; then sign-ups are refused.
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=ev.id))
    refused(r, E.CODE_INVALID, ["reason_text", "required"], "cancel without a reason refused")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=ev.id,
                                                           reason_text="Bad\x01ctrl"))
    check(r.status.code in (E.CODE_INVALID, E.CODE_BAD_REQUEST), "control character refused")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=ev.id,
                                                           reason_text="Puhuja sairastui"))
    ev3 = body(r, V.EventReply).event
    check(ev3.state == V.EVENT_STATE_CANCELLED and ev3.cancel_reason_text == "Puhuja sairastui",
          "cancelled with its reason")
    t, p = log_events(c)[-1]
    ch = V.EventChanged()
    ch.ParseFromString(p)
    check(t == "EventCancelled" and len(ch.signup_ids) == 3, "EventCancelled names the sign-ups")
    r = c.call("events.signup.submit", V.SubmitSignupRequest(
        event_id=ev.id, source="web", external_id="z", name="Z", email="z@example.fi",
        role=V.ROLE_NGO))
    refused(r, E.CODE_CONFLICT, ["cancelled"], "sign-up to a cancelled event refused")
    r = c.call("events.event.held", V.HeldEventRequest(event_id=ev.id,
                                                       memo_url="https://x.fi/m"))
    refused(r, E.CODE_CONFLICT, ["cancelled"], "a cancelled event cannot be held")

    # Held: only after the start, with the memo link; then sign-ups are refused.
    ev = create(c, start_in_s=2 * DAY)
    signup(c, ev.id, 10)
    r = c.call("events.event.held", V.HeldEventRequest(event_id=ev.id,
                                                       memo_url="https://x.fi/muistio"))
    refused(r, E.CODE_CONFLICT, ["not started"], "held before the start refused")
    set_clock(c, 2 * DAY + 3600)
    r = c.call("events.event.held", V.HeldEventRequest(event_id=ev.id, memo_url="javascript:x"))
    refused(r, E.CODE_INVALID, ["memo_url"], "memo link must be http(s)")
    r = c.call("events.event.held", V.HeldEventRequest(
        event_id=ev.id, memo_url="https://x.fi/muistio", materials_url="https://x.fi/aineisto"))
    hv = body(r, V.EventReply).event
    check(r.status.code == OK and hv.state == V.EVENT_STATE_HELD and
          hv.memo_url == "https://x.fi/muistio", "held with memo and materials")
    check(log_events(c)[-1][0] == "EventHeld", "EventHeld on the bus")
    r = c.call("events.signup.submit", V.SubmitSignupRequest(
        event_id=ev.id, source="web", external_id="h", name="H", email="h@example.fi",
        role=V.ROLE_NGO))
    refused(r, E.CODE_CONFLICT, ["held"], "sign-up to a held event refused")
    set_clock(c, 0)

    # Deadline.
    ev = create(c, start_in_s=3 * DAY, signup_deadline_unix=now + DAY)
    signup(c, ev.id, 20)
    set_clock(c, DAY + 60)
    r = c.call("events.signup.submit", V.SubmitSignupRequest(
        event_id=ev.id, source="web", external_id="late", name="L", email="l@example.fi",
        role=V.ROLE_NGO))
    refused(r, E.CODE_CONFLICT, ["deadline"], "sign-up after the deadline refused")
    set_clock(c, 0)

    # Series: monthly on the same weekday, created at once, changed one occurrence at a time.
    first = V.CreateEventRequest(kind=V.KIND_PARTNERSHIP_TABLE, title="Kuukauden pöytä",
                                 municipality_code="743", start_unix=now + 3 * DAY,
                                 end_unix=now + 3 * DAY + 5400, capacity=30,
                                 signup_deadline_unix=now + 2 * DAY)
    r = c.call("events.series.create", V.CreateSeriesRequest(
        first=first, frequency=V.SERIES_FREQUENCY_MONTHLY_WEEKDAY, count=6, publish=True),
        key="series-1")
    check(r.status.code == OK, "series created")
    sr = body(r, V.SeriesReply)
    check(len(sr.events) == 6 and all(e.series_id == sr.series_id for e in sr.events) and
          [e.series_index for e in sr.events] == [1, 2, 3, 4, 5, 6], "six occurrences")
    gaps = [sr.events[i + 1].start_unix - sr.events[i].start_unix for i in range(5)]
    check(all(27 * DAY <= g <= 36 * DAY for g in gaps), "about a month apart")
    # The weekday and the wall time in Helsinki, where the series lives: in UTC a summer-time
    # occurrence of a table at 00:00-03:00 Helsinki time falls on the day before.
    hel = [datetime.fromtimestamp(e.start_unix, HEL) for e in sr.events]
    check(all(h.weekday() == hel[0].weekday() and (h.hour, h.minute) == (hel[0].hour, hel[0].minute)
              for h in hel), "same weekday, same time in Helsinki (%s)"
          % [h.strftime("%a %d.%m. %H:%M") for h in hel])
    check(all(e.start_unix - e.signup_deadline_unix == DAY for e in sr.events),
          "each occurrence keeps the deadline lead")
    check(all(e.state == V.EVENT_STATE_PUBLISHED for e in sr.events), "series published")
    r2 = c.call("events.series.create", V.CreateSeriesRequest(
        first=first, frequency=V.SERIES_FREQUENCY_MONTHLY_WEEKDAY, count=6, publish=True),
        key="series-1")
    check(r2.body == r.body, "series create is idempotent")
    r = c.call("events.series.create", V.CreateSeriesRequest(
        first=first, frequency=V.SERIES_FREQUENCY_WEEKLY, count=61), key="series-big")
    refused(r, E.CODE_INVALID, ["count"], "series count bounded")
    r = c.call("events.series.create", V.CreateSeriesRequest(first=first, count=3), key="nf")
    refused(r, E.CODE_INVALID, ["frequency"], "series frequency required")

    third = sr.events[2]
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=third.id, values=V.CreateEventRequest(place="Kirjasto", capacity=12),
        fields=["place", "capacity"]))
    check(r.status.code == OK, "one occurrence updated")
    r = c.call("events.event.list", V.ListEventsRequest(series_id=sr.series_id))
    lst = body(r, V.ListEventsReply).events
    check(len(lst) == 6 and [e.place for e in lst].count("Kirjasto") == 1 and
          [e.capacity for e in lst].count(12) == 1, "only that occurrence changed")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=third.id, values=V.CreateEventRequest(start_unix=1), fields=["start_unix"]))
    refused(r, E.CODE_INVALID, ["fields"], "times change only through reschedule")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=third.id, values=V.CreateEventRequest(title=""), fields=["title"]))
    refused(r, E.CODE_INVALID, ["title"], "update validates its fields")

    # Every field an update may name, in one call; what it does not name stays.
    m = create(c, publish=False, kind=V.KIND_CONTACT_PERSON_MEETING, capacity=20,
               organiser_municipality_code="743")
    new = dict(title="Yhdyshenkilötapaaminen", place="Valtuustosali",
               online_url="https://meet.example.fi/yh", theme="järjestöyhteistyö",
               description_text="Kevään vuorot", language="sv", capacity=30,
               municipality_code="091", organiser_organisation_id=0,
               organiser_municipality_code="091", offer_window_minutes=90,
               role_rules=[V.RoleRule(role=V.ROLE_NGO, max_n=10)], convener_person_id=77,
               accessibility_text="Esteetön sisäänkäynti")
    names = ["title", "place", "online_url", "theme", "description", "language", "capacity",
             "municipality_code", "organiser", "offer_window_minutes", "role_rules", "convener",
             "accessibility"]
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=m.id, values=V.CreateEventRequest(**new), fields=names))
    check(r.status.code == OK, "an update naming every field accepted")
    u = get(c, m.id)
    for f, v in new.items():
        got = list(getattr(u, f)) if f == "role_rules" else getattr(u, f)
        check(got == v, "update took %s" % f)
    check((u.kind, u.start_unix, u.end_unix, u.state) == (m.kind, m.start_unix, m.end_unix,
                                                          m.state),
          "what an update cannot name stays (kind, times, state)")
    r = c.call("events.event.update", V.UpdateEventRequest(
        event_id=m.id, values=V.CreateEventRequest(language="", convener_person_id=0),
        fields=["language", "organiser", "convener"]))
    check(r.status.code == OK, "language, organiser and convener emptied")
    u2 = get(c, m.id)
    check(u2.language == "fi" and u2.organiser_municipality_code == "" and
          u2.organiser_organisation_id == 0 and u2.convener_person_id == 0,
          "an empty language is Finnish; organiser and convener cleared")
    check((u2.title, u2.capacity, u2.online_url) == (new["title"], 30, new["online_url"]),
          "fields not named keep the first update's values")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=sr.events[3].id,
                                                           reason_text="kesätauko"))
    lst = body(c.call("events.event.list", V.ListEventsRequest(series_id=sr.series_id)),
               V.ListEventsReply).events
    check([e.state for e in lst].count(V.EVENT_STATE_CANCELLED) == 1,
          "one occurrence cancelled, the others stay")

    # Monthly on a day some months lack (31st): those months are skipped. Weekly across the
    # end of summer time keeps 18:00 Helsinki time (16:00Z before, 17:00Z after).
    import calendar

    def series_starts(first_utc, frequency, count, key):
        """The UTC (year, month, day, hour) of each occurrence of a one-hour series."""
        start = calendar.timegm(first_utc)
        r = c.call("events.series.create", V.CreateSeriesRequest(
            first=V.CreateEventRequest(kind=V.KIND_SEMINAR, title="k", municipality_code="743",
                                       start_unix=start, end_unix=start + 3600),
            frequency=frequency, count=count), key=key)
        return [time.gmtime(e.start_unix)[:4] for e in body(r, V.SeriesReply).events]

    days = series_starts((2031, 1, 31, 16, 0, 0),  # 18:00 +02:00
                         V.SERIES_FREQUENCY_MONTHLY_DAY, 3, "series-31")
    check(days == [(2031, 1, 31, 16), (2031, 3, 31, 15), (2031, 5, 31, 15)],
          "monthly by day skips months without the day, keeps Helsinki time")
    hours = series_starts((2031, 10, 20, 15, 0, 0),  # 18:00 +03:00
                          V.SERIES_FREQUENCY_WEEKLY, 2, "series-dst")
    check(hours == [(2031, 10, 20, 15), (2031, 10, 27, 16)], "weekly across the end of summer time")

    types = {t for t, _ in log_events(c)}
    for t in ["EventCreated", "EventPublished", "EventRescheduled", "EventCancelled", "EventHeld",
              "EventUpdated", "SignupConfirmed"]:
        check(t in types, "bus carries " + t)
finally:
    s.close()
done()
