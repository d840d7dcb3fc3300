# timeout: 300
"""Consumers never miss an event (DESIGN 5), with the real sink service as the consumer.

- a consumer stopped while 20,000 events are written catches up to exactly 20,000 with no
  duplicate effect;
- a consumer started late gets the whole history;
- log.replay pages hold up to 4,000 events and stay under the 1 MiB a peer accepts;
- live messages dropped on the wire (the consumer's fault hook) are noticed from the next
  event or, for the tail, from a heartbeat, and replayed;
- a consumer killed with SIGKILL mid-stream resumes from its stored offset without a
  duplicate effect."""
import time

from kp_harness import (L, OK, Suite, V, body, check, done, make_event, signup_req, sink_stats,
                        wait_for)


def pump(c, eid, start, n, window=500):
    """Sends n sign-ups pipelined with a bounded window; returns how many were acknowledged."""
    sent = acked = 0
    t0 = time.time()
    while acked < n and time.time() - t0 < 120:
        while sent < n and sent - acked < window:
            c.send_raw(c.request("events.signup.submit", signup_req(eid, start + sent),
                                 rid=start + sent))
            sent += 1
        rep = c.recv_reply(10000)
        if rep is None:
            break
        if rep.status.code == OK:
            acked += 1
    return acked


def head(c):
    return body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq


s = Suite()
try:
    s.events()
    c = s.client(s.ev_api)
    eid = make_event(c)  # 2 events in the log: created, published

    # Started late: history first.
    check(pump(c, eid, 0, 1000) == 1000, "1,000 sign-ups acknowledged before the sink starts")
    sink = s.sink()
    sc = s.client(s.sink_api, server="sink")
    h = head(c)
    st = wait_for(lambda: (lambda x: x if x.last_seq == h else None)(sink_stats(sc)), 30)
    st = sink_stats(sc)
    check(st.last_seq == h and st.applied_n == h and st.distinct_n == h,
          "late consumer gets the whole history (%d of %d)" % (st.applied_n, h))

    # Stopped while 20,000 events are written: catches up to exactly 20,000 more.
    sc.close()
    sink.stop()
    check(pump(c, eid, 100000, 20000) == 20000, "20,000 sign-ups acknowledged while sink is down")
    h2 = head(c)
    check(h2 == h + 20000, "20,000 events in the log")
    # log.replay pages: at most 4,000 events and 960 KiB of events (a page stays under the
    # 1 MiB a peer accepts); walked from 1, they give every event once, in order.
    seqs, sizes = [], []
    frm = 1
    while frm <= h2:
        page = body(c.call("log.replay", L.ReplayRequest(from_seq=frm, limit=5000)), L.ReplayPage)
        ev = list(page.events)
        if not ev:
            break
        nbytes = sum(len(e.SerializeToString()) for e in ev)
        nxt = c.call("log.replay", L.ReplayRequest(from_seq=ev[-1].seq + 1, limit=1))
        more = list(body(nxt, L.ReplayPage).events)
        full = len(ev) == 4000 or (more and nbytes + len(more[0].SerializeToString()) > 960 << 10)
        sizes.append((len(ev), nbytes, len(page.SerializeToString()), bool(full or not more)))
        seqs += [e.seq for e in ev]
        frm = ev[-1].seq + 1
    check(seqs == list(range(1, h2 + 1)), "log.replay pages give every event once, in order")
    check(sizes[0][0] > 1000 and all(n <= 4000 and b <= 960 << 10 and wire < 1 << 20 and full
                                     for n, b, wire, full in sizes),
          "each replay page is full (4,000 events or 960 KiB) and under 1 MiB on the wire %s"
          % sizes[:3])
    sink = s.sink()
    sc = s.client(s.sink_api, server="sink")
    wait_for(lambda: sink_stats(sc).last_seq == h2, 60)
    st = sink_stats(sc)
    check(st.applied_n - h == 20000 and st.last_seq == h2,
          "stopped consumer caught up exactly 20,000 (%d)" % (st.applied_n - h))
    check(st.dup_n == 0 and st.gap_n == 0 and st.distinct_n == st.applied_n,
          "no duplicate or out-of-order effect")

    # SIGKILL mid-stream, restart: resumes from its stored offset.
    sink.kill9()
    check(pump(c, eid, 200000, 3000) == 3000, "3,000 more acknowledged after sink kill -9")
    sink = s.sink()
    sc = s.client(s.sink_api, server="sink")
    h3 = head(c)
    wait_for(lambda: sink_stats(sc).last_seq == h3, 60)
    st = sink_stats(sc)
    check(st.last_seq == h3 and st.applied_n == h3 and st.dup_n == 0,
          "after kill -9 the consumer resumes without duplicate effect")
    sc.close()
    sink.stop()

    def pump_while_dropping(every, behind, start, n):
        """Starts the sink dropping every `every`th live event, lets it catch up to behind,
        sends n sign-ups and waits until it reaches the new head. Returns (the sink, how many
        were acknowledged, the new head, the sink's figures)."""
        sink = s.sink(["--fault-drop-live-every", str(every)])
        sc = s.client(s.sink_api, server="sink")
        wait_for(lambda: sink_stats(sc).last_seq == behind, 30)
        acked = pump(c, eid, start, n)
        h = head(c)
        wait_for(lambda: sink_stats(sc).last_seq == h, 30)
        st = sink_stats(sc)
        sc.close()
        return sink, acked, h, st

    # Dropped live messages: every 7th dropped by the hook, including the tail.
    sink, acked, h4, st = pump_while_dropping(7, h3, 300000, 700)
    check(acked == 700, "700 sign-ups acknowledged while the sink drops")
    check(st.last_seq == h4 and st.applied_n == h4 and st.dup_n == 0 and st.gap_n == 0,
          "dropped live events are noticed and replayed (%d/%d)" % (st.last_seq, h4))
    check("consumer.gap" in sink.logtext(), "the consumer logged the gaps it noticed")
    sink.stop()

    # Every live event lost: only the heartbeats' head tells the consumer it is behind.
    sink, acked, h5, st = pump_while_dropping(1, h4, 500000, 50)
    check(acked == 50, "50 sign-ups acknowledged while every live copy is lost")
    check(st.last_seq == h5 and st.dup_n == 0 and st.gap_n == 0,
          "a lost tail is noticed from the heartbeat and replayed (%d/%d)" % (st.last_seq, h5))
    sink.stop()
    check("consumer.behind" in sink.logtext(), "the consumer logged that the heartbeat showed it behind")
finally:
    s.close()
done()
