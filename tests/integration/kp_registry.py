"""Helpers for the registry service's integration tests (start it, build requests)."""
import os
import time

from kp_harness import OK, PII, Proc, body, check, free_port, wait_healthy
from kumppani.v1 import log_pb2 as L  # noqa: F401
from kumppani.v1 import registry_pb2 as R  # noqa: F401

EP = ["005", "010", "052", "145", "151", "152", "218", "232", "233", "300", "301", "403",
      "408", "743", "759", "846", "934", "989"]


def start_registry(s, extra=None, name="registry", events=False, plant=True):
    """Starts kumppani-registry on free ports (following s's events service if events).

    On its first start in a suite the registry is given one private person with a planted
    name, e-mail and phone (kp_harness.PII), as every real registry holds contact persons, so
    that the log check of every registry test has personal data to look for."""
    s.reg_api = "tcp://127.0.0.1:%d" % free_port()
    s.reg_pub = "tcp://127.0.0.1:%d" % free_port()
    args = ["--api", s.reg_api, "--pub", s.reg_pub, "--data-dir",
            os.path.join(s.dir, "registry"), "--heartbeat-ms", "200"]
    if events:
        args += ["--events-api", s.ev_api, "--events-pub", s.ev_pub]
    else:
        args += ["--events-api", "off"]
    p = Proc("kumppani-registry", name, args + (extra or []), s.dir)
    s.procs.append(p)
    p.start()
    wait_healthy(s.client(s.reg_api, server="registry"), server="registry", proc=p)
    if plant:
        plant_person(s)
    return p


def plant_person(s):
    """Adds one private person with the planted name, e-mail and phone (once per suite)."""
    if getattr(s, "reg_planted", False):
        return
    c = s.client(s.reg_api, server="registry")
    r = c.call("registry.person.add", R.AddPersonRequest(name=PII[3], email=PII[4], phone=PII[2]),
               key="planted-person")
    check(r is not None and r.status.code == OK, "a private person planted in the registry (%s)"
          % (r.status.message if r else "no reply"))
    s.reg_planted = True
    c.close()


def fields(name="Seinäjoen Mielenterveysseura", home="743", **kw):
    f = R.OrganisationFields(name_fi=name, home_municipality=home,
                             fields=kw.pop("flds", [R.FIELD_MENTAL_HEALTH]), **kw)
    return f


def register(c, key, **kw):
    r = c.call("registry.org.register", R.RegisterOrganisationRequest(fields=fields(**kw)),
               key=key)
    return r


def org_of(r):
    return body(r, R.OrganisationReply).organisation


def contact_person(c, name, email, muni="743", key="cp"):
    """Adds a person (keys key and key-role) as the municipality's NGO contact person; returns
    the person's id."""
    pid = body(c.call("registry.person.add", R.AddPersonRequest(name=name, email=email),
                      key=key), R.PersonReply).person.id
    c.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code=muni,
        title="järjestöyhdyshenkilö"), key=key + "-role")
    return pid


def head(c):
    return body(c.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq


def replay(c, from_seq=1):
    return list(body(c.call("log.replay", L.ReplayRequest(from_seq=from_seq, limit=1000)),
                     L.ReplayPage).events)


def search(c, **kw):
    r = c.call("registry.org.search", R.SearchRequest(**kw))
    assert r.status.code == OK, r
    return body(r, R.SearchReply)


def idle_after(c, seq, months=6, deadline_s=10):
    """registry.coverage.idle as soon as the registry has applied the events log up to seq
    (the last answer if it has not within deadline_s)."""
    end, got = time.time() + deadline_s, None
    while time.time() < end:
        got = body(c.call("registry.coverage.idle", R.CoverageIdleRequest(months=months)),
                   R.CoverageIdleReply)
        if got.events_applied_seq >= seq:
            break
        time.sleep(0.2)
    return got


def open_stopped_store(s, p, c):
    """Closes client c, stops the registry p (it leaves s.procs) and opens its LMDB store for
    writing, as an older version would have left it; returns (store path, lmdb environment)."""
    import lmdb
    c.close()
    p.stop()
    s.procs.remove(p)
    store = os.path.join(s.dir, "registry")
    return store, lmdb.open(store, max_dbs=32, map_size=1 << 30)
