# timeout: 300
"""The suite across hosts: each service in its own Linux network namespace (veth + bridge,
made here and removed after), CURVE on, a stream of sign-ups flowing from a publisher through
the events service to the services that follow its log, and on to confirmation e-mails the
notifier hands to a real SMTP server (aiosmtpd) on the bridge.

One host at a time is cut off (nftables: drop everything but loopback) and healed: the events
host for 10 s, then a downstream host for 30 s. The test reports and checks:
  - acknowledged sign-ups lost: must be 0 (the publisher retries with the same external id);
  - events applied downstream after healing: all (each follower's offset reaches the head);
  - how long a dead peer took to be noticed (ZMTP heartbeats, consumer.peer_down in logs);
  - every acknowledged sign-up's confirmation reached the SMTP server (and how many twice)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from kp_harness import BIN, E, L, OK, V, Client, body, check, done, signup_req, stop_popen

if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
    print("SKIP: needs root, ip and nft (scripts/setup installs them)")
    sys.exit(77)

tag = os.getpid() % 100000
net = 10 + os.getpid() % 240
BR = "kpbr%d" % tag
HOSTS = [("events", 2), ("registry", 3), ("expert-broker", 4), ("notifier", 5)]
HOSTS = [(s, n) for s, n in HOSTS if os.path.exists(os.path.join(BIN, "kumppani-" + s))]
ns = {s: "kp%d-%s" % (tag, s[:3]) for s, _ in HOSTS}
ip = {s: "10.77.%d.%d" % (net, n) for s, n in HOSTS}
work = tempfile.mkdtemp(prefix="kp-mh-")
keys = os.path.join(work, "keys")
procs = {}


def sh(*cmd, input=None):
    subprocess.run(cmd, check=True, input=input, text=True, capture_output=True)


def ep(s, k):
    return "tcp://%s:%d" % (ip[s], {"registry": 7100, "events": 7200, "expert-broker": 7300,
                                    "notifier": 7400}[s] + k)


def setup_net():
    sh("ip", "link", "add", BR, "type", "bridge")
    sh("ip", "addr", "add", "10.77.%d.1/24" % net, "dev", BR)
    sh("ip", "link", "set", BR, "up")
    for s, n in HOSTS:
        v = "kpv%d%s" % (tag, s[:2])
        sh("ip", "netns", "add", ns[s])
        sh("ip", "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", ns[s])
        sh("ip", "link", "set", v, "master", BR, "up")
        sh("ip", "netns", "exec", ns[s], "ip", "addr", "add", ip[s] + "/24", "dev", "eth0")
        sh("ip", "netns", "exec", ns[s], "ip", "link", "set", "eth0", "up")
        sh("ip", "netns", "exec", ns[s], "ip", "link", "set", "lo", "up")


def teardown_net():
    for s, _ in HOSTS:
        subprocess.run(["ip", "netns", "del", ns[s]], capture_output=True)
    subprocess.run(["ip", "link", "del", BR], capture_output=True)


def cut(s):
    sh("ip", "netns", "exec", ns[s], "nft", "-f", "-", input="""
table inet kpcut {
  chain in { type filter hook input priority 0; policy drop; iif "lo" accept; }
  chain out { type filter hook output priority 0; policy drop; oif "lo" accept; }
}
""")
    return time.time()


def heal(s):
    sh("ip", "netns", "exec", ns[s], "nft", "delete", "table", "inet", "kpcut")


def follow(s):
    """The flags that make service s follow the logs it reads, over the bridge."""
    src = {"registry": "events", "notifier": "events", "expert-broker": "registry",
           "events": "registry"}[s]
    if src not in ip:
        return []
    return ["--%s-api" % src, ep(src, 1), "--%s-pub" % src, ep(src, 2), "--%s-key" % src,
            os.path.join(keys, src + ".pub")]


smtp = None


def start(s):
    log = open(os.path.join(work, s + ".log"), "ab")
    extra = []
    if s == "notifier" and smtp is not None:
        extra = ["--smtp-url", "smtp://10.77.%d.1:%d" % (net, smtp.port), "--smtp-tls", "off"]
    args = ["ip", "netns", "exec", ns[s], os.path.join(BIN, "kumppani-" + s), "--api",
            "tcp://%s:%d" % (ip[s], int(ep(s, 1).rsplit(":", 1)[1])), "--pub", ep(s, 2),
            "--data-dir", os.path.join(work, s), "--keys-dir", keys, "--key-name", s,
            "--heartbeat-ms", "500"] + follow(s) + extra
    procs[s] = subprocess.Popen(args, stdout=log, stderr=log)


def client(s, who="admin", timeout_ms=1000):
    pub = open(os.path.join(keys, s + ".pub")).read().strip()
    sec = open(os.path.join(keys, who + ".key")).read().strip()
    import zmq
    return Client(ep(s, 1), pub, (zmq.curve_public(sec.encode()).decode(), sec), timeout_ms)


def health(s):
    c = client(s)
    r = c.call("sys.health", L.HealthRequest())
    c.close()
    return body(r, L.HealthReply) if r is not None and r.status.code == OK else None


def first_peer_down(s):
    """silent_ms of the first consumer.peer_down the service logged: how long its source had
    been silent when the ZMTP heartbeat timeout declared it dead."""
    for line in open(os.path.join(work, s + ".log"), errors="replace"):
        m = re.search(r"event=consumer\.peer_down source=events silent_ms=(\d+)", line)
        if m:
            return int(m.group(1)) / 1000.0
    return None


stop_stream = threading.Event()
acked = set()
attempts = [0]


def stream(eid):
    """Sign-ups at ~50/s; each is retried (fresh socket, same external id) until acknowledged."""
    i = 0
    c = client("events", "publisher", timeout_ms=1000)
    while not stop_stream.is_set() and i < 20000:
        req = signup_req(eid, i, source="county-portal")
        while not stop_stream.is_set():
            attempts[0] += 1
            r = c.call("events.signup.submit", req)
            if r is not None and r.status.code == OK:
                acked.add(req.external_id)
                break
            c.close()
            c = client("events", "publisher", timeout_ms=1000)
        i += 1
        time.sleep(0.02)
    c.close()


try:
    os.makedirs(keys)
    for name in [s for s, _ in HOSTS] + ["admin", "publisher"]:
        subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", name, "--dir", keys],
                              stdout=subprocess.DEVNULL)
    with open(os.path.join(keys, "allow"), "w") as f:
        f.write("%s admin\n" % open(os.path.join(keys, "admin.pub")).read().strip())
        f.write("%s publisher sources=county-portal\n"
                % open(os.path.join(keys, "publisher.pub")).read().strip())
        for s, _ in HOSTS:
            f.write("%s service\n" % open(os.path.join(keys, s + ".pub")).read().strip())
    setup_net()
    if "notifier" in ip:
        from kp_notifier import Smtp
        # The SMTP relay lives on the bridge host, reachable from the notifier's namespace.
        smtp = Smtp(host="10.77.%d.1" % net)
    for s, _ in HOSTS:
        start(s)
    end = time.time() + 30
    while time.time() < end and not all(health(s) for s, _ in HOSTS):
        time.sleep(0.3)
    check(all(health(s) for s, _ in HOSTS),
          "%d services up in %d namespaces, CURVE on" % (len(HOSTS), len(HOSTS)))
    c = client("events")
    now = int(time.time())
    # The events service validates municipality codes against its read model of the registry:
    # give it the moment it needs to replay the registry's log.
    end = time.time() + 30
    r = None
    while time.time() < end:
        r = c.call("events.event.create", V.CreateEventRequest(
            kind=V.KIND_PARTNERSHIP_TABLE, title="Kumppanuuspöytä verkossa",
            municipality_code="743", start_unix=now + 7 * 86400,
            end_unix=now + 7 * 86400 + 7200), key="mh-event")
        if r is not None and r.status.code == OK:
            break
        time.sleep(0.5)
    check(r is not None and r.status.code == OK, "event created across the bridge (%s)"
          % (r.status.message if r is not None else "no answer"))
    eid = body(r, V.EventReply).event.id
    check(c.call("events.event.publish", V.EventRef(event_id=eid)).status.code == OK,
          "event published across the bridge")
    c.close()

    t = threading.Thread(target=stream, args=(eid,))
    t.start()
    time.sleep(4)
    downstream = [s for s, _ in HOSTS if s != "events" and follow(s)[:2] == ["--events-api", ep("events", 1)]]
    # The 30 s cut goes to the notifier when there is one: sign-ups go on being acknowledged
    # while their confirmations cannot leave, and must all arrive after healing.
    victim2 = "notifier" if "notifier" in downstream else (downstream[0] if downstream else None)

    cut("events")
    time.sleep(10)
    heal("events")
    time.sleep(5)
    if victim2:
        cut(victim2)
        time.sleep(30)
        heal(victim2)
    time.sleep(4)
    stop_stream.set()
    t.join(60)

    # Nothing acknowledged is lost.
    c = client("events")
    stored = set()
    after = 0
    while True:
        rep = c.call("events.signup.list", V.ListSignupsRequest(event_id=eid, after_id=after, limit=1000))
        page = body(rep, V.ListSignupsReply)
        if not page.signups:
            break
        stored.update(x.external_id for x in page.signups)
        after = page.signups[-1].id
    c.close()
    lost = acked - stored
    print("REPORT acknowledged=%d attempts=%d lost=%d" % (len(acked), attempts[0], len(lost)))
    check(len(acked) > 100 and not lost, "acknowledged sign-ups lost: %d of %d" % (len(lost), len(acked)))

    # Every follower of the events log applies everything after healing.
    head = health("events").head_seq
    for s in downstream:
        end = time.time() + 30
        applied = 0
        while time.time() < end:
            h = health(s)
            lags = [x for x in (h.consumers if h else []) if x.source == "events"]
            applied = lags[0].applied_seq if lags else 0
            if applied == head:
                break
            time.sleep(0.3)
        print("REPORT %s applied %d of %d events after healing" % (s, applied, head))
        check(applied == head, "%s applied all %d events after healing" % (s, head))

    # Dead peers noticed by ZMTP heartbeats.
    for s in downstream:
        took = first_peer_down(s)
        if took is not None:
            print("REPORT %s noticed the events host gone after %.1f s of silence" % (s, took))
        check(took is not None and took < 15, "%s noticed the cut-off events host within 15 s" % s)
        check("event=consumer.peer_up source=events down_ms=" in
              open(os.path.join(work, s + ".log"), errors="replace").read().split(
                  "consumer.peer_down", 1)[-1], "%s reconnected after healing" % s)
    if victim2:
        h = health(victim2)
        check(h is not None, "%s answers after its 30 s cut" % victim2)

    # End to end: a confirmation for every acknowledged sign-up reached the SMTP server.
    if smtp is not None:
        want = {"p%d@example.fi" % int(x) for x in acked}
        end = time.time() + 90
        got = {}
        while time.time() < end:
            got = {}
            for rcpts, raw in list(smtp.messages):
                for r in rcpts:
                    got[r] = got.get(r, 0) + 1
            if want <= set(got):
                break
            time.sleep(0.5)
        missing = want - set(got)
        twice = sum(1 for r in want if got.get(r, 0) > 1)
        print("REPORT confirmations: %d of %d acknowledged sign-ups mailed, %d twice"
              % (len(want) - len(missing), len(want), twice))
        check(not missing, "every acknowledged sign-up got its confirmation e-mail (%d missing)"
              % len(missing))
finally:
    stop_stream.set()
    stop_popen(procs.values())
    if smtp is not None:
        smtp.stop()
    teardown_net()
    if not os.environ.get("KP_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
done()
