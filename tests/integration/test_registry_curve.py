# timeout: 120
"""Registry with CURVE keys (DESIGN 7): admin may write; reader and service may read and
search; a publisher key is refused every registry method; an unknown key or a plain client
gets no answer. Then durability: a write acknowledged to the client survives kill -9 and a
restart (organisation, person, role and the log all there), and the registry's log never
carries personal data (person events are ids only)."""
import os
import subprocess

from kp_harness import (BIN, PII, E, L, OK, Client, Proc, Suite, body, check, done, free_port,
                        wait_healthy)
from kp_registry import R, fields

WHO = ("registry", "admin", "reader", "svc", "publisher", "stranger")

s = Suite()
try:
    kd = os.path.join(s.dir, "keys")
    for name in WHO:
        subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", name, "--dir", kd],
                              stdout=subprocess.DEVNULL)

    def pub(name):
        with open(os.path.join(kd, name + ".pub")) as f:
            return f.read().strip()

    def client(name, timeout_ms=5000):
        import zmq
        with open(os.path.join(kd, name + ".key")) as f:
            sec = f.read().strip()
        return Client(s.reg_api, pub("registry"), (zmq.curve_public(sec.encode()).decode(), sec),
                      timeout_ms)

    with open(os.path.join(kd, "allow"), "w") as f:
        f.write("%s admin\n%s reader\n%s service\n%s publisher\n"
                % (pub("admin"), pub("reader"), pub("svc"), pub("publisher")))

    # Started by hand: start_registry's health probe has no keys.
    s.reg_api = "tcp://127.0.0.1:%d" % free_port()
    p = Proc("kumppani-registry", "registry",
             ["--api", s.reg_api, "--pub", "tcp://127.0.0.1:%d" % free_port(), "--data-dir",
              os.path.join(s.dir, "registry"), "--heartbeat-ms", "200", "--events-api", "off",
              "--keys-dir", kd, "--key-name", "registry"], s.dir)
    s.procs.append(p)
    p.start()
    wait_healthy(client("admin"), server="registry", proc=p)
    admin = client("admin")

    person = R.AddPersonRequest(name="Liisa Virtanen", email="liisa.virtanen@example.fi",
                                phone="+358401234567")
    r = admin.call("registry.org.register", R.RegisterOrganisationRequest(
        fields=fields(name="Lapuan Martat", home="408")), key="curve-org")
    check(r.status.code == OK, "admin may register an organisation")
    org_id = body(r, R.OrganisationReply).organisation.id

    reader, svc, publisher = client("reader"), client("svc"), client("publisher")
    for who, c in (("reader", reader), ("service", svc)):
        r = c.call("registry.org.search", R.SearchRequest(query="lapuan"))
        check(r.status.code == OK and [o.id for o in body(r, R.SearchReply).organisations]
              == [org_id], "%s may search" % who)
        r = c.call("registry.org.get", R.OrganisationRef(id=org_id))
        check(r.status.code == OK, "%s may read an organisation" % who)
        r = c.call("registry.municipality.list", R.ListMunicipalitiesRequest())
        check(r.status.code == OK, "%s may list municipalities" % who)
        r = c.call("registry.org.register", R.RegisterOrganisationRequest(
            fields=fields(name="Ei Saa %s" % who, home="408")), key="no-" + who)
        check(r.status.code == E.CODE_FORBIDDEN, "%s may not register" % who)
        r = c.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=org_id))
        check(r.status.code == E.CODE_FORBIDDEN, "%s may not dissolve" % who)
        r = c.call("registry.person.add", person, key="p-" + who)
        check(r.status.code == E.CODE_FORBIDDEN, "%s may not add a person" % who)
    r = svc.call("log.replay", L.ReplayRequest(from_seq=1))
    check(r.status.code == OK, "service may replay the log (read models)")
    for method, msg in (("registry.org.search", R.SearchRequest(query="lapuan")),
                        ("registry.org.get", R.OrganisationRef(id=org_id)),
                        ("registry.org.register", R.RegisterOrganisationRequest(
                            fields=fields(name="Portaali ry", home="408"))),
                        ("registry.csv.export", R.ExportRequest()),
                        ("log.replay", L.ReplayRequest(from_seq=1))):
        r = publisher.call(method, msg, key="pub-" + method)
        check(r is not None and r.status.code == E.CODE_FORBIDDEN,
              "publisher refused %s" % method)
    stranger = client("stranger", timeout_ms=1500)
    check(stranger.call("sys.health", L.HealthRequest()) is None, "unknown key: no answer")
    stranger.close()
    plain = Client(s.reg_api, timeout_ms=1500)
    check(plain.call("sys.health", L.HealthRequest()) is None, "plain client: no answer")
    plain.close()
    r = reader.call("registry.org.search", R.SearchRequest(query="portaali ei"))
    check(r.status.code == OK and not body(r, R.SearchReply).organisations,
          "refused writes changed nothing")

    # An acknowledged write survives kill -9.
    r = admin.call("registry.person.add", person, key="curve-person")
    check(r.status.code == OK, "admin adds a person")
    pid = body(r, R.PersonReply).person.id
    r = admin.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="408",
        start_date="2026-01-01"), key="curve-role")
    check(r.status.code == OK, "admin assigns a contact person: %s" % r.status.message)
    r = admin.call("registry.org.update", R.UpdateOrganisationRequest(
        id=org_id, fields=fields(name="Lapuan Martat ry", home="408")), key="curve-upd")
    check(r.status.code == OK, "admin updates (acknowledged)")
    h = body(admin.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq
    p.kill9()
    for c in (admin, reader, svc, publisher):
        c.close()
    p.start()
    wait_healthy(client("admin"), server="registry", proc=p)
    admin = client("admin")
    r = admin.call("registry.org.get", R.OrganisationRef(id=org_id))
    check(r.status.code == OK and body(r, R.OrganisationReply).organisation.fields.name_fi
          == "Lapuan Martat ry", "acknowledged update survived kill -9")
    r = admin.call("registry.org.search", R.SearchRequest(query="martat ry"))
    check([o.id for o in body(r, R.SearchReply).organisations] == [org_id],
          "its indexes survived too")
    r = admin.call("registry.role.list", R.ListRolesRequest(municipality_code="408"))
    check(r.status.code == OK and [x.person_id for x in body(r, R.ListRolesReply).roles] == [pid],
          "acknowledged role survived kill -9")
    h2 = body(admin.call("sys.health", L.HealthRequest()), L.HealthReply).head_seq
    check(h2 == h, "log head the same after restart (%d, %d)" % (h, h2))
    r = admin.call("registry.org.update", R.UpdateOrganisationRequest(
        id=org_id, fields=fields(name="Lapuan Martat ry", home="408")), key="curve-upd")
    check(r.status.code == OK and body(admin.call("sys.health", L.HealthRequest()),
                                       L.HealthReply).head_seq == h,
          "the idempotency key survived too: a retry writes nothing")

    # The log: person events carry ids only.
    r = admin.call("log.replay", L.ReplayRequest(from_seq=1, limit=1000))
    raw = r.body
    types = [e.type for e in body(r, L.ReplayPage).events]
    check("PersonAdded" in types and "ContactPersonAssigned" in types,
          "person events are in the log: %s" % types[-3:])
    leaked = [x for x in PII + ["Virtanen", "liisa", "401234567"] if x.encode() in raw]
    check(r.status.code == OK and not leaked, "the registry's log carries no personal data %s"
          % leaked)
    admin.close()
finally:
    s.close()
done()
