# timeout: 90
"""Registry people (issue 16): adding the same person twice is refused (one person per e-mail,
ASCII case-insensitive, and per phone, by its digits) with CONFLICT naming the field, on add
and on update, while a resend with the same idempotency key still returns the first person;
registry.person.search finds people by name-word prefix (å ä ö folded), e-mail or phone,
paged in id order, for admins and readers."""
from kp_harness import E, OK, Suite, body, check, done
from kp_registry import R, start_registry

s = Suite()
try:
    start_registry(s)  # plants one person (kp_registry.plant_person)
    c = s.client(s.reg_api)

    def add(key, name, email="", phone=""):
        return c.call("registry.person.add", R.AddPersonRequest(name=name, email=email,
                                                                phone=phone), key=key)

    r = add("a1", "Päivi Öhman", "paivi.ohman@example.fi", "+358 40 111 2222")
    check(r.status.code == OK, "first person added")
    paivi = body(r, R.PersonReply).person.id
    r = add("a1", "Päivi Öhman", "paivi.ohman@example.fi", "+358 40 111 2222")
    check(r.status.code == OK and body(r, R.PersonReply).person.id == paivi,
          "the same key again returns the first person")
    r = add("a2", "Päivi Öhman", "Paivi.Ohman@Example.FI")
    check(r.status.code == E.CODE_CONFLICT and "'email'" in r.status.message and
          "person %d" % paivi in r.status.message, "same e-mail, another key: CONFLICT naming "
          "the field and the person (%s)" % r.status.message)
    r = add("a3", "P. Öhman", "", "+358-40-111 2222")
    check(r.status.code == E.CODE_CONFLICT and "'phone'" in r.status.message,
          "same phone: CONFLICT naming the field (%s)" % r.status.message)
    r = add("a4", "Pekka Ahonen", "pekka.ahonen@example.fi", "+358 50 333 4444")
    check(r.status.code == OK, "another person")
    pekka = body(r, R.PersonReply).person.id
    r = c.call("registry.person.update", R.UpdatePersonRequest(
        id=pekka, name="Pekka Ahonen", email="PAIVI.OHMAN@example.fi"))
    check(r.status.code == E.CODE_CONFLICT and "'email'" in r.status.message,
          "update to another person's e-mail: CONFLICT (%s)" % r.status.message)
    r = c.call("registry.person.update", R.UpdatePersonRequest(
        id=paivi, name="Päivi Öhman-Aho", email="paivi.ohman@example.fi", phone="+358401112222"))
    check(r.status.code == OK, "a person keeps her own e-mail and phone on update")
    for i in range(5):
        r = add("m%d" % i, "Mäki %d Seppälä" % i, "maki%d@example.fi" % i)
        check(r.status.code == OK, "person %d" % i)

    def find(**kw):
        r = c.call("registry.person.search", R.SearchPeopleRequest(**kw))
        check(r.status.code == OK, "search %s: %s" % (kw, r.status.message))
        return body(r, R.SearchPeopleReply)

    check([p.id for p in find(name="ohman").people] == [paivi], "name without diacritics")
    check([p.id for p in find(name="päivi öhman-a").people] == [paivi], "name words, prefixes")
    check([p.id for p in find(email="PAIVI.OHMAN@EXAMPLE.FI").people] == [paivi], "by e-mail")
    check([p.id for p in find(phone="050 333 4444").people] == [pekka],
          "a national number is its +358 form")
    check([p.id for p in find(phone="+358503334444").people] == [pekka], "by phone")
    check([p.id for p in find(name="pekka", email="maki1@example.fi").people] == [],
          "filters combine (AND)")
    check(len(find().people) == 8, "no filter lists everyone (with the planted one)")
    seen, cur = [], ""
    while True:
        page = find(name="seppala", limit=2, cursor=cur)
        seen += [p.name for p in page.people]
        check(len(page.people) <= 2, "a page holds at most limit")
        cur = page.next_cursor
        if not cur:
            break
    check(seen == ["Mäki %d Seppälä" % i for i in range(5)], "paged in id order: %s" % seen)
    r = c.call("registry.person.search", R.SearchPeopleRequest(cursor="x"))
    check(r.status.code == E.CODE_INVALID and "cursor" in r.status.message, "bad cursor")
    r = c.call("registry.person.search", R.SearchPeopleRequest(limit=201))
    check(r.status.code == E.CODE_INVALID and "limit" in r.status.message, "limit too big")
finally:
    s.close()
done()
