# timeout: 120
"""Registry: the 18 municipalities on first start (as events), organisations registered,
updated, dissolved and removed with their events, Y-tunnus check digits, idempotent register,
and bad input (unknown municipality, oversize, control characters) refused without change."""
from kp_harness import E, OK, Suite, body, check, done
from kp_registry import EP, R, fields, head, org_of, plant_person, register, replay, start_registry

s = Suite()
try:
    p = start_registry(s, plant=False)  # this test counts the log's events
    c = s.client(s.reg_api)
    r = c.call("registry.municipality.list", R.ListMunicipalitiesRequest())
    munis = body(r, R.ListMunicipalitiesReply).municipalities
    check([m.code for m in munis] == EP, "the 18 Etelä-Pohjanmaa municipalities, by code")
    check(any(m.name_fi == "Ähtäri" and m.name_sv == "Etseri" for m in munis), "Ähtäri / Etseri")
    evs = replay(c)
    check(len(evs) == 18 and all(e.type == "MunicipalityAdded" for e in evs),
          "first start: 18 MunicipalityAdded events")
    # A restart does not load them again.
    p.stop()
    s.procs.remove(p)
    p = start_registry(s, plant=False)  # this test counts the log's events
    c = s.client(s.reg_api)
    check(head(c) == 18, "restart: no second load")

    r = register(c, "k1", business_id="0737546-2", association_number="123.456",
                 municipalities=["145", "301"], networks=["ngo-council"], email="info@semi.fi",
                 phone="+358 6 123 4567", web="https://semi.fi", member_count=420)
    check(r.status.code == OK, "register: %s" % r.status.message)
    o = org_of(r)
    check(o.id == 1 and o.status == R.ORG_STATUS_ACTIVE and o.updated_ms > 0, "active, id 1")
    again = c.call("registry.org.register", R.RegisterOrganisationRequest(
        fields=fields(business_id="0737546-2", association_number="123.456",
                      municipalities=["145", "301"], networks=["ngo-council"],
                      email="info@semi.fi", phone="+358 6 123 4567", web="https://semi.fi",
                      member_count=420)), key="k1")
    check(again.body == r.body and head(c) == 19, "register again with the same key: same "
          "answer, no new event")
    ev = replay(c, 19)[0]
    check(ev.type == "OrganisationRegistered", "OrganisationRegistered event")
    payload = R.OrganisationReply.FromString(ev.payload).organisation
    check(payload.fields.business_id == "0737546-2" and list(payload.fields.municipalities)
          == ["145", "301"] and payload.fields.networks == ["ngo-council"],
          "the event carries the whole record")
    dup = register(c, "k2", name="Toinen", business_id="0737546-2")
    check(dup.status.code == E.CODE_CONFLICT and "business_id" in dup.status.message,
          "same Y-tunnus on another organisation: CONFLICT")

    h = head(c)
    bad = [
        (dict(business_id="0737546-3"), "business_id", "wrong check digit"),
        (dict(business_id="737546-2"), "business_id", "short Y-tunnus"),
        (dict(home="999"), "home_municipality", "unknown municipality"),
        (dict(municipalities=["999"]), "municipalities", "unknown acting municipality"),
        (dict(name="x" * 201), "name_fi", "oversize name"),
        (dict(name="Seura\x07"), "name", "control character"),
        (dict(email="not-an-email"), "email", "bad e-mail"),
        (dict(web="javascript:alert(1)"), "web", "bad web address"),
        (dict(flds=[]), "fields", "no field of activity"),
        (dict(networks=["NGO Council"]), "networks", "bad network id"),
    ]
    for i, (kw, word, what) in enumerate(bad):
        r = register(c, "bad%d" % i, **kw)
        ok = r.status.code in (E.CODE_INVALID, E.CODE_BAD_REQUEST) and word in r.status.message
        check(ok and "0737546" not in r.status.message,
              "%s -> %s %r" % (what, E.Code.Name(r.status.code), r.status.message))
    check(head(c) == h, "bad input wrote nothing")

    f = fields(name="Seinäjoen Mielenterveysseura ry", business_id="0737546-2",
               association_number="123.456", flds=[R.FIELD_MENTAL_HEALTH, R.FIELD_YOUTH])
    r = c.call("registry.org.update", R.UpdateOrganisationRequest(id=o.id, fields=f))
    check(r.status.code == OK and org_of(r).fields.name_fi.endswith(" ry"), "update")
    check(replay(c, head(c))[0].type == "OrganisationUpdated", "OrganisationUpdated event")
    h = head(c)
    r = c.call("registry.org.update", R.UpdateOrganisationRequest(id=o.id, fields=f))
    check(r.status.code == OK and head(c) == h, "same update again: no event")
    r = c.call("registry.org.update", R.UpdateOrganisationRequest(id=o.id, fields=f,
                                                                  expected_updated_ms=1))
    check(r.status.code == E.CODE_CONFLICT, "stale expected_updated_ms: CONFLICT")
    r = c.call("registry.org.update", R.UpdateOrganisationRequest(id=999, fields=f))
    check(r.status.code == E.CODE_NOT_FOUND, "unknown id: NOT_FOUND")

    r = c.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=o.id))
    check(r.status.code == OK and org_of(r).status == R.ORG_STATUS_DISSOLVED and
          org_of(r).dissolved_on, "dissolve")
    check(replay(c, head(c))[0].type == "OrganisationDissolved", "OrganisationDissolved event")
    r = c.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=o.id))
    check(r.status.code == E.CODE_CONFLICT, "dissolve twice: CONFLICT")

    r2 = org_of(register(c, "k3", name="Virhe", flds=[R.FIELD_OTHER]))
    r = c.call("registry.org.remove", R.OrganisationRef(id=r2.id))
    check(r.status.code == OK and replay(c, head(c))[0].type == "OrganisationRemoved",
          "remove, OrganisationRemoved event")
    r = c.call("registry.org.get", R.OrganisationRef(id=r2.id))
    check(r.status.code == E.CODE_NOT_FOUND, "removed: gone")
    r = c.call("registry.org.get", R.OrganisationRef(id=o.id))
    check(r.status.code == OK and org_of(r).status == R.ORG_STATUS_DISSOLVED, "get")
    plant_person(s)  # after the counting: personal data for the log check
finally:
    s.close()
done()
