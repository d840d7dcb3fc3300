"""Issue 4 points 6, 7 and 1 (organisers): statistics per event, municipality, kind, period and
role; iCalendar (RFC 5545) for one event and as a filtered feed; organisers and municipality
codes checked against the registry's read model (the events service follows the registry's
log with kp_consumer)."""
import re
import time

from kp_harness import Suite, V, E, L, OK, body, check, done
from kp_events import DAY, events_with_hooks, set_clock, create, get, signup, refused
from kp_registry import R, start_registry, register

s = Suite()
try:
    events_with_hooks(s)
    c = s.client(s.ev_api)
    now = int(time.time())

    # ---- statistics.
    t1 = create(c, capacity=10, start_in_s=2 * DAY, municipality_code="743")
    t2 = create(c, capacity=10, start_in_s=3 * DAY, municipality_code="005")
    sem = create(c, kind=V.KIND_SEMINAR, start_in_s=3 * DAY, municipality_code="743")
    gone = create(c, start_in_s=4 * DAY, municipality_code="743")
    signup(c, t1.id, 1, role=V.ROLE_RESIDENT, companions=2)
    signup(c, t1.id, 2, role=V.ROLE_NGO)
    signup(c, t2.id, 3, role=V.ROLE_CIVIL_SERVANT)
    signup(c, sem.id, 4, role=V.ROLE_RESIDENT)
    signup(c, gone.id, 5, role=V.ROLE_RESIDENT)
    c.call("events.event.cancel", V.CancelEventRequest(event_id=gone.id, reason_text="peruttu"))
    create(c, publish=False)  # drafts are not counted
    # Nor a draft cancelled: it was never public (a coordinator's way to discard it).
    discarded = create(c, publish=False, start_in_s=4 * DAY, municipality_code="743")
    r = c.call("events.event.cancel", V.CancelEventRequest(event_id=discarded.id,
                                                           reason_text="luonnos pois"))
    d = body(r, V.EventReply).event
    check(d.state == V.EVENT_STATE_CANCELLED and d.cancelled_as_draft,
          "a draft cancelled says it was cancelled as a draft")
    check(not get(c, gone.id).cancelled_as_draft, "a published event cancelled is not")
    set_clock(c, 2 * DAY + 3600)
    c.call("events.signup.attendance", V.SignupAttendanceRequest(
        signup_id=1, attendance=V.ATTENDANCE_ATTENDED))
    c.call("events.event.held", V.HeldEventRequest(event_id=t1.id, memo_url="https://x.fi/m"))
    set_clock(c, 0)

    st = body(c.call("events.stats", V.EventStatsRequest()), V.EventStatsReply)
    check(st.total.events_n == 4 and st.total.held_n == 1 and st.total.cancelled_n == 1,
          "totals: events, held, cancelled")
    check(st.total.participants_n + st.total.companions_n == 6 and st.total.attended_n == 3,
          "places with companions; cancelled events not counted")
    check(st.total.participants_n == 4 and st.total.companions_n == 2,
          "participants without companions, companions apart (issue 16)")
    kinds = {r.key: r for r in st.by_kind}
    check(kinds["partnership-table"].events_n == 3 and kinds["partnership-table"].participants_n == 3
          and kinds["partnership-table"].companions_n == 2
          and kinds["seminar"].participants_n == 1, "per kind")
    munis = {r.key: r for r in st.by_municipality}
    check(munis["743"].events_n == 3 and munis["005"].participants_n == 1, "per municipality")
    roles = {r.key: r for r in st.by_role}
    check(roles["resident"].participants_n == 2 and roles["resident"].companions_n == 2 and
          roles["ngo"].participants_n == 1 and
          roles["civil-servant"].participants_n == 1 and roles["resident"].events_n == 2,
          "per role")
    evs = {r.key: r for r in st.by_event}
    check(evs[str(t1.id)].participants_n == 2 and evs[str(t1.id)].companions_n == 2 and
          evs[str(t1.id)].title == t1.title, "per event")
    check(len(st.by_month) >= 1 and all(re.match(r"^\d{4}-\d{2}$", r.key) for r in st.by_month),
          "per month")
    st = body(c.call("events.stats", V.EventStatsRequest(
        from_unix=now + 2 * DAY + 7200, to_unix=now + 10 * DAY, kind=V.KIND_PARTNERSHIP_TABLE,
        municipality_code="743")), V.EventStatsReply)
    check(st.total.events_n == 1 and st.total.cancelled_n == 1, "period, kind and municipality filters")
    refused(c.call("events.stats", V.EventStatsRequest(from_unix=10, to_unix=5)), E.CODE_INVALID,
            ["to_unix"], "an empty period refused")
    refused(c.call("events.stats", V.EventStatsRequest(municipality_code="7")), E.CODE_INVALID,
            ["municipality_code"], "bad municipality code refused")

    # ---- iCalendar.
    ev = create(c, title="Pöytä, jossa; puhutaan \\ kaikesta " + "ä" * 60,
                description_text="Rivi 1\nRivi 2", theme="nuoret", start_in_s=5 * DAY,
                online_url="https://meet.example.fi/abc")
    r = c.call("events.ical.event", V.EventRef(event_id=ev.id))
    ics = body(r, V.EventTextReply)
    text = ics.text
    check(ics.content_type.startswith("text/calendar") and ics.filename.endswith(".ics"),
          "one event as an .ics")
    check(text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n"),
          "VCALENDAR with CRLF")
    check("\n" not in text.replace("\r\n", ""), "every line ends in CRLF")
    check(all(len(l.encode()) <= 75 for l in text.split("\r\n")), "lines folded at 75 octets")
    unfolded = text.replace("\r\n ", "")
    check("SUMMARY:Pöytä\\, jossa\\; puhutaan \\\\ kaikesta " + "ä" * 60 in unfolded,
          "TEXT escaping of , ; \\ and folding keeps UTF-8 whole")
    check("DESCRIPTION:nuoret\\nRivi 1\\nRivi 2" in unfolded, "newlines escaped")
    check("ORGANIZER" not in text, "no ORGANIZER property")
    check(re.search(r"DTSTART:\d{8}T\d{6}Z\r\n", text) is not None, "times in UTC")
    check("UID:event-%d@kumppani" % ev.id in text and "SEQUENCE:0" in text, "UID and SEQUENCE")
    c.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=ev.id, start_unix=now + 6 * DAY, end_unix=now + 6 * DAY + 3600))
    text = body(c.call("events.ical.event", V.EventRef(event_id=ev.id)), V.EventTextReply).text
    check("SEQUENCE:1" in text, "a reschedule raises SEQUENCE")
    draft = create(c, publish=False)
    refused(c.call("events.ical.event", V.EventRef(event_id=draft.id)), E.CODE_CONFLICT,
            ["draft"], "a draft has no .ics")
    refused(c.call("events.ical.event", V.EventRef(event_id=discarded.id)), E.CODE_CONFLICT,
            ["cancelled as a draft", "never public"], "nor a draft cancelled")
    feed = body(c.call("events.ical.feed", V.IcalFeedRequest()), V.EventTextReply).text
    uids = re.findall(r"UID:event-(\d+)@", feed)
    check(str(ev.id) in uids and str(gone.id) in uids and str(draft.id) not in uids and
          str(t1.id) not in uids, "feed: upcoming published and cancelled, no drafts, not held")
    check(str(discarded.id) not in uids, "feed: no draft cancelled")
    check("STATUS:CANCELLED" in feed, "a cancelled event shows as cancelled")
    feed = body(c.call("events.ical.feed", V.IcalFeedRequest(municipality_code="005")),
                V.EventTextReply).text
    check(re.findall(r"UID:event-(\d+)@", feed) == [str(t2.id)], "feed by municipality")
    feed = body(c.call("events.ical.feed", V.IcalFeedRequest(kind=V.KIND_SEMINAR)),
                V.EventTextReply).text
    check(re.findall(r"UID:event-(\d+)@", feed) == [str(sem.id)], "feed by kind")
    feed = body(c.call("events.ical.feed", V.IcalFeedRequest(theme="nuoret")),
                V.EventTextReply).text
    check(re.findall(r"UID:event-(\d+)@", feed) == [str(ev.id)], "feed by theme")
    refused(c.call("events.ical.feed", V.IcalFeedRequest(theme="x\x01")), E.CODE_INVALID,
            [], "control characters in a filter refused")

    # ---- the registry read model.
    start_registry(s)
    rc = s.client(s.reg_api)
    r = register(rc, "org-1", name="Seinäjoen Nuorisoseura")
    org = body(r, R.OrganisationReply).organisation
    s2_api, s2_pub = s.ev_api, s.ev_pub
    from kp_harness import free_port
    s.ev_api = "tcp://127.0.0.1:%d" % free_port()
    s.ev_pub = "tcp://127.0.0.1:%d" % free_port()
    import os
    ev2 = s.events(["--data-dir", os.path.join(s.dir, "events2"), "--registry-api", s.reg_api,
                    "--registry-pub", s.reg_pub])
    c2 = s.client(s.ev_api)
    deadline = time.time() + 10
    while time.time() < deadline:
        h = body(c2.call("sys.health", L.HealthRequest()), L.HealthReply)
        lag = [x for x in h.consumers if x.source == "registry"]
        if lag and lag[0].applied_seq and lag[0].applied_seq >= lag[0].source_head_seq:
            break
        time.sleep(0.1)
    check(lag and lag[0].applied_seq >= 19, "the events service follows the registry's log")

    def mk(key, **kw):
        f = dict(kind=V.KIND_PARTNERSHIP_TABLE, title="t", municipality_code="743",
                 start_unix=now + DAY, end_unix=now + DAY + 3600)
        f.update(kw)
        return c2.call("events.event.create", V.CreateEventRequest(**f), key=key)

    check(mk("k1", organiser_organisation_id=org.id).status.code == OK,
          "organiser: an organisation of the registry")
    check(mk("k2", organiser_municipality_code="005").status.code == OK,
          "organiser: a municipality of the registry")
    refused(mk("k3", organiser_organisation_id=org.id + 1000), E.CODE_INVALID,
            ["organiser_organisation_id", "registry"], "unknown organisation refused")
    refused(mk("k4", municipality_code="999"), E.CODE_INVALID, ["municipality_code", "registry"],
            "a code the registry does not know refused")
    rc.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=org.id))
    deadline = time.time() + 5
    r = None
    while time.time() < deadline:
        r = mk("k5-%f" % time.time(), organiser_organisation_id=org.id)
        if r.status.code != OK:
            break
        time.sleep(0.1)
    refused(r, E.CODE_INVALID, ["dissolved"], "a dissolved organisation cannot organise")
finally:
    s.close()
done()
