"""Issue 16, events: marking an event held with one link keeps the other (the materials given
after the memo used to erase it, and back); one iCalendar SEQUENCE per event, the same in the
feed, in the event's .ics and in every EventInfo on the log (from which the notifier builds the
calendar file it attaches), raised by reschedule and by cancel; URL is a URI, not TEXT-escaped."""
import re
import time

from kp_harness import Suite, V, OK, body, check, done
from kp_events import DAY, events_with_hooks, set_clock, create, get, signup, log_events

LINK = "https://meet.example.fi/j/42;pwd=ab,c?x=1"


def unfolded(text):
    return text.replace("\r\n ", "")


def feed_sequences(c):
    text = unfolded(body(c.call("events.ical.feed", V.IcalFeedRequest()), V.EventTextReply).text)
    out = {}
    for block in text.split("BEGIN:VEVENT")[1:]:
        uid = re.search(r"UID:event-(\d+)@kumppani", block)
        seq = re.search(r"SEQUENCE:(\d+)", block)
        out[int(uid.group(1))] = int(seq.group(1))
    return out


def log_sequences(c):
    """The sequence of each event as the last EventInfo on the log says."""
    out = {}
    for t, p in log_events(c):
        if t in ("EventRescheduled", "EventCancelled"):
            m = V.EventChanged()
        elif t.startswith("Event"):
            m = V.EventReply()
        else:
            continue
        m.ParseFromString(p)
        out[m.event.id] = m.event.sequence
    return out


s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    now = int(time.time())

    # ---- iCalendar: one SEQUENCE per event, URL as a URI.
    a = create(c, title="Verkkopöytä", online_url=LINK, place="", start_in_s=3 * DAY)
    b = create(c, title="Peruttava", start_in_s=4 * DAY)
    signup(c, a.id, 1)
    signup(c, b.id, 2)
    ics = unfolded(body(c.call("events.ical.event", V.EventRef(event_id=a.id)),
                        V.EventTextReply).text)
    check("\r\nURL:" + LINK + "\r\n" in ics, "URL written as a URI, not escaped as text")
    check("LOCATION:" + LINK.replace(";", "\\;").replace(",", "\\,") in ics,
          "LOCATION (TEXT) still escaped")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=a.id, start_unix=now + 5 * DAY, end_unix=now + 5 * DAY + 3600,
        reason_text="sali"))
    check(r.status.code == OK and body(r, V.EventReply).event.sequence == 1, "reschedule: 1")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=b.id, reason_text="sairaus"))
    check(r.status.code == OK and body(r, V.EventReply).event.sequence == 1,
          "cancel raises the sequence (STATUS changes)")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=b.id, reason_text="sairaus"))
    check(body(r, V.EventReply).event.sequence == 1, "cancelling again changes nothing")
    r = c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=a.id, start_unix=now + 6 * DAY, end_unix=now + 6 * DAY + 3600))
    check(body(r, V.EventReply).event.sequence == 2, "a second reschedule: 2")
    feed, logged = feed_sequences(c), log_sequences(c)
    check(feed.get(a.id) == 2 and feed.get(b.id) == 1,
          "feed: SEQUENCE of each event (%s)" % feed)
    check(all(logged.get(k) == v for k, v in feed.items()),
          "the log's EventInfo carries the feed's SEQUENCE for every event (%s vs %s)"
          % (logged, feed))
    ics = body(c.call("events.ical.event", V.EventRef(event_id=b.id)), V.EventTextReply).text
    check("SEQUENCE:1" in ics and "STATUS:CANCELLED" in ics, "the cancelled event's .ics")
    check(get(c, a.id).sequence == 2, "the sequence is stored with the event")

    # ---- held: a link left unset keeps the stored one.
    h = create(c, title="Pidetty", start_in_s=DAY)
    set_clock(c, DAY + 600)
    r = c.call("events.event.held", V.HeldEventRequest(event_id=h.id,
                                                        memo_url="https://x.fi/muistio"))
    check(r.status.code == OK, "held with the memo")
    r = c.call("events.event.held", V.HeldEventRequest(event_id=h.id,
                                                        materials_url="https://x.fi/aineisto"))
    e = body(r, V.EventReply).event
    check(e.memo_url == "https://x.fi/muistio" and e.materials_url == "https://x.fi/aineisto",
          "the materials added later keep the memo (%r, %r)" % (e.memo_url, e.materials_url))
    r = c.call("events.event.held", V.HeldEventRequest(event_id=h.id,
                                                        memo_url="https://x.fi/muistio2"))
    e = get(c, h.id)
    check(e.memo_url == "https://x.fi/muistio2" and e.materials_url == "https://x.fi/aineisto",
          "a new memo keeps the materials, and replaces the memo")
    set_clock(c, 0)
finally:
    s.close()
done()
