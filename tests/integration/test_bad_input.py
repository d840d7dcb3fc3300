"""Bad input gets a clear error and changes nothing (DESIGN 1).

Malformed protobuf, an oversized frame, invalid UTF-8, a control character in a name, an
embedded NUL, an unknown event id, a time in the past, a bad e-mail: each answered with a
code and a message naming the field; the store (log head and sign-ups) is unchanged. A frame
above the hard limit (ZMQ_MAXMSGSIZE) gets the connection dropped, and the service lives on."""
import time

from kp_harness import E, L, OK, Suite, V, body, check, done, make_event, signup_req


def head(c):
    return body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq


def raw_signup(c, field_bytes):
    """A SubmitSignupRequest whose name field carries raw bytes protobuf would not check."""
    good = signup_req(eid, 77).SerializeToString()
    name = b"\x22" + bytes([len(field_bytes)]) + field_bytes  # field 4 (name), wire type 2
    return c.request("events.signup.submit", V.EventRef())[:0] or E.Request(
        request_id=4242, method="events.signup.submit", body=good + name).SerializeToString()


s = Suite()
try:
    s.events()
    c = s.client(s.ev_api)
    eid = make_event(c, capacity=10)
    r = c.call("events.signup.submit", signup_req(eid, 1, name="Liisa Virtanen",
                                                 email="liisa.virtanen@example.fi"))
    check(r.status.code == OK, "baseline sign-up stored")
    h0 = head(c)

    def expect(frame, code, words, what):
        c.send_raw(frame)
        rep = c.recv_reply(5000)
        ok = rep is not None and rep.status.code == code and all(w in rep.status.message for w in words)
        check(ok, "%s -> %s %s" % (what, E.Code.Name(code),
                                   repr(rep.status.message) if rep else "no reply"))
        if rep is not None:
            check("Liisa" not in rep.status.message and "\x01" not in rep.status.message,
                  "%s: error does not echo the input" % what)

    expect(b"\x0a\xff\xff\xff", E.CODE_BAD_REQUEST, ["malformed"], "malformed envelope")
    expect(E.Request(request_id=7, method="events.signup.submit", body=b"\x08\xff").SerializeToString(),
           E.CODE_BAD_REQUEST, ["malformed"], "malformed body")
    expect(b"\x00" * (70 * 1024), E.CODE_TOO_LARGE, ["65536"], "70 KiB frame")
    expect(raw_signup(c, b"Bad \xc3\x28 name"), E.CODE_INVALID, ["'name'", "UTF-8"], "invalid UTF-8")
    expect(raw_signup(c, b"Bad\x01name"), E.CODE_INVALID, ["'name'", "control"], "control char")
    expect(raw_signup(c, b"Bad\x00name"), E.CODE_INVALID, ["'name'", "NUL"], "embedded NUL")
    expect(raw_signup(c, b"Bad\r\nBcc: x@y.fi"), E.CODE_INVALID, ["'name'", "control"], "CR/LF in name")
    expect(c.request("events.signup.submit", signup_req(999999, 2)), E.CODE_NOT_FOUND,
           ["999999"], "unknown event id")
    expect(c.request("events.signup.submit", signup_req(eid, 3, email="not-an-email")),
           E.CODE_INVALID, ["'email'"], "invalid e-mail")
    expect(c.request("events.signup.submit", signup_req(eid, 31, email="", phone="12")),
           E.CODE_INVALID, ["'phone'", "6 to 20 digits"], "a phone number too short says the rule")
    expect(c.request("events.signup.submit", signup_req(eid, 4, role=0)),
           E.CODE_INVALID, ["'role'"], "missing role")
    expect(c.request("events.signup.submit", signup_req(eid, 5, source="Bad Source")),
           E.CODE_INVALID, ["'source'"], "bad source id")
    expect(c.request("events.signup.submit", signup_req(eid, 6, name="x" * 201)),
           E.CODE_INVALID, ["'name'", "200"], "oversize name")
    expect(c.request("no.such.method", L.HealthRequest()), E.CODE_UNKNOWN_METHOD, ["unknown"],
           "unknown method")
    now = int(time.time())
    expect(c.request("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Menneisyys", municipality_code="743", start_unix=now - 3600,
        end_unix=now), key="past"), E.CODE_INVALID, ["'start_unix'", "future"], "time in the past")
    expect(c.request("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Koodi", municipality_code="74", start_unix=now + 3600,
        end_unix=now + 7200), key="muni"), E.CODE_INVALID, ["'municipality_code'"],
        "bad municipality code")
    expect(c.request("events.event.create", V.CreateEventRequest(
        kind=V.KIND_SEMINAR, title="Ei avainta", municipality_code="743", start_unix=now + 3600,
        end_unix=now + 7200)), E.CODE_INVALID, ["idempotency_key"], "create without key")
    # Consent must be explicit: consent_reminders (field 9, a bool) sent as the string "yes"
    # (wire type 2) or as the varint 2 is refused, where protobuf alone would read "true".
    good = signup_req(eid, 9, consent_reminders=False).SerializeToString()
    for what, extra in (("consent as a string", b"\x4a\x03yes"), ("consent as 2", b"\x48\x02"),
                        ("consent as fixed32", b"\x4d\x01\x00\x00\x00")):
        expect(E.Request(request_id=4243, method="events.signup.submit",
                         body=good + extra).SerializeToString(),
               E.CODE_INVALID, ["'consent_reminders'", "bool"], what)
    # The same source + external id with different content is not a retry: CONFLICT, and
    # nothing changes; the identical resend still gets the first answer byte for byte.
    first = c.call("events.signup.submit", signup_req(eid, 1, name="Liisa Virtanen",
                                                      email="liisa.virtanen@example.fi"))
    check(first is not None and first.status.code == OK and first.body == r.body,
          "identical resend -> the first answer, byte for byte")
    expect(c.request("events.signup.submit", signup_req(eid, 1, name="Matti Meikäläinen",
                                                        email="matti.meikalainen@example.fi")),
           E.CODE_CONFLICT, ["field 'external_id'", "already names sign-up",
                             "a new sign-up needs a new external id"],
           "same external id, another person")
    # A long external id of four-byte characters is refused naming the field that was sent.
    expect(c.request("events.signup.submit", signup_req(eid, 12, external_id="😀" * 110)),
           E.CODE_INVALID, ["'external_id'", "256 bytes"], "external id of 440 bytes")
    draft = make_event(c, publish=False)
    expect(c.request("events.signup.submit", signup_req(draft, 8)), E.CODE_CONFLICT, ["draft"],
           "sign-up to a draft")

    # A frame above ZMQ_MAXMSGSIZE (1 MiB): the connection is dropped, no answer; the service
    # lives on and answers a new connection.
    c.send_raw(b"\x00" * (2 * 1024 * 1024))
    check(c.recv_reply(1500) is None, "2 MiB frame: no answer (connection dropped)")
    c.close()
    c = s.client(s.ev_api)
    h1 = head(c)
    check(h1 == h0 + 1, "log head unchanged by bad input (only the draft's create: %d -> %d)"
          % (h0, h1))
    lst = body(c.call("events.signup.list", V.ListSignupsRequest(event_id=eid)), V.ListSignupsReply)
    check(len(lst.signups) == 1 and lst.signups[0].name == "Liisa Virtanen",
          "stored sign-up intact after bad input")
    check(s.procs[0].p.poll() is None, "service still running")
finally:
    s.close()
done()
