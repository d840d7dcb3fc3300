# timeout: 60
"""Deployment, issue 7 point 5: the health figures over HTTP for a Prometheus scraper
(--metrics-http host:port answering GET /metrics), on the real events service.

- GET /metrics answers 200 with the Prometheus text format, and the figures move with the
  service (the log head after a sign-up);
- other paths 404, a head that is not HTTP 400, an oversized head 431;
- hostile peers cost nothing lasting: silent connections are closed after their deadline;
  beyond the limit of 16 the oldest are closed at once, so they never block a scrape; the
  service goes on answering on the bus;
- an address that cannot be bound stops the service at start with a clear message."""
import socket
import time
import urllib.error
import urllib.request

from kp_harness import (OK, V, Proc, Suite, body, check, done, free_port, make_event,
                        raw_exchange, signup_req)

s = Suite()
try:
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    s.events(["--metrics-http", "127.0.0.1:%d" % port])
    c = s.client(s.ev_api)

    def scrape(path="/metrics"):
        with urllib.request.urlopen(url + path, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def head_seq(text):
        for line in text.splitlines():
            if line.startswith('kumppani_log_head_seq{service="events"}'):
                return int(line.split()[-1])
        return None

    st, ct, text = scrape()
    check(st == 200 and ct.startswith("text/plain; version=0.0.4"),
          "GET /metrics: 200, Prometheus text format (%s)" % ct)
    check("# TYPE kumppani_log_head_seq gauge" in text and "kumppani_store_used_bytes" in text,
          "the health figures with their HELP/TYPE lines")
    h0 = head_seq(text)
    eid = make_event(c)
    r = c.call("events.signup.submit", signup_req(eid, 1), key="m-1")
    check(r.status.code == OK, "a sign-up")
    h1 = head_seq(scrape()[2])
    check(h0 is not None and h1 is not None and h1 >= h0 + 2,
          "the scraped head follows the log (%s -> %s)" % (h0, h1))

    try:
        scrape("/admin")
        check(False, "another path is refused")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "another path: 404")

    def raw(data, wait=5):
        return raw_exchange(port, data, wait, on_timeout=b"<timeout>")

    check(raw(b"\x00\x01\x02 hello\r\n\r\n").startswith(b"HTTP/1.0 400"), "binary junk: 400")
    check(raw(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 6000).startswith(b"HTTP/1.0 431"),
          "a head over 4 KiB: 431")

    # silent peers: up to the limit they wait for their deadline, beyond it they are closed
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    t0 = time.time()
    st, _, _ = scrape()
    check(st == 200, "a scrape with 20 silent peers connected answers (the oldest make room)")
    closed_now = 0
    for k in idle:
        k.settimeout(0.5)
        try:
            if k.recv(1) == b"":
                closed_now += 1
        except socket.timeout:
            pass
    check(closed_now >= 4, "connections beyond 16 are closed at once (%d of 20)" % closed_now)
    k = idle[0]
    k.settimeout(8)
    try:
        gone = k.recv(1) == b""
    except socket.timeout:
        gone = False
    check(gone and time.time() - t0 < 8, "a silent connection is closed after its deadline")
    for k in idle:
        k.close()
    st, _, text = scrape()
    check(st == 200 and head_seq(text) == h1, "scrapes go on after the hostile peers")
    check(body(c.call("events.event.get", V.EventRef(event_id=eid)), V.EventReply).event.id
          == eid, "the service answers on the bus")

    # a port already taken: the service refuses to start and says why
    p = Proc("kumppani-events", "events2",
             ["--api", "tcp://127.0.0.1:%d" % free_port(), "--pub",
              "tcp://127.0.0.1:%d" % free_port(), "--data-dir", s.dir + "/events2",
              "--metrics-http", "127.0.0.1:%d" % port], s.dir)
    s.procs.append(p)
    p.start()
    rc = p.p.wait(timeout=10)
    p.ended = True  # expected to stop by itself
    check(rc != 0 and "metrics.http_bind" in p.logtext(), "a taken port: the service stops (%d)"
          % rc)
finally:
    s.close()
done()
