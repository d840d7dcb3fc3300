# timeout: 120
"""Registry search: name-word prefixes, case-insensitive for ä ö å, Finnish order (å ä ö after
z), filters by municipality, field, network and status, combined, and a stable cursor."""
from kp_harness import E, OK, Suite, check, done
from kp_registry import R, register, search, start_registry

s = Suite()
try:
    start_registry(s)
    c = s.client(s.reg_api)
    orgs = [
        ("Ähtärin Eläkkeensaajat", "989", [R.FIELD_OLDER_PEOPLE], ["ngo-council"]),
        ("Åbo Svenska Förening", "743", [R.FIELD_SPORT_AND_CULTURE], []),
        ("Zonta Seinäjoki", "743", [R.FIELD_CHILDREN_AND_FAMILIES], ["ngo-council"]),
        ("Örkkiseura", "743", [R.FIELD_YOUTH], []),
        ("Alavuden Nuoret", "010", [R.FIELD_YOUTH], ["partnership-table:010"]),
        ("alajärven kyläyhdistys", "005", [R.FIELD_VILLAGE], []),
        ("Seinäjoen Mielenterveysseura", "743", [R.FIELD_MENTAL_HEALTH], ["ngo-council"]),
        ("Äänekosken Vapaa-ajan Seura", "743", [R.FIELD_SPORT_AND_CULTURE], []),
    ]
    ids = {}
    for i, (name, home, flds, nets) in enumerate(orgs):
        r = register(c, "s%d" % i, name=name, home=home, flds=flds, networks=nets)
        assert r.status.code == OK, r
        ids[name] = R.OrganisationReply.FromString(r.body).organisation.id
    names = [o.fields.name_fi for o in search(c, limit=50).organisations]
    check(names == ["alajärven kyläyhdistys", "Alavuden Nuoret", "Seinäjoen Mielenterveysseura",
                    "Zonta Seinäjoki", "Åbo Svenska Förening", "Ähtärin Eläkkeensaajat",
                    "Äänekosken Vapaa-ajan Seura", "Örkkiseura"],
          "Finnish order, å ä ö after z: %s" % names)
    got = [o.fields.name_fi for o in search(c, query="ÄHT").organisations]
    check(got == ["Ähtärin Eläkkeensaajat"], "case-insensitive Ä, prefix: %s" % got)
    got = [o.fields.name_fi for o in search(c, query="seinäj").organisations]
    check(got == ["Seinäjoen Mielenterveysseura", "Zonta Seinäjoki"],
          "prefix of any word, in order: %s" % got)
    got = [o.fields.name_fi for o in search(c, query="sein mielen").organisations]
    check(got == ["Seinäjoen Mielenterveysseura"], "every query word must match")
    got = [o.fields.name_fi for o in search(c, query="åbo").organisations]
    check(got == ["Åbo Svenska Förening"], "å folded")
    got = [o.fields.name_fi for o in search(c, municipality="743",
                                            field=R.FIELD_SPORT_AND_CULTURE).organisations]
    check(got == ["Åbo Svenska Förening", "Äänekosken Vapaa-ajan Seura"],
          "municipality + field: %s" % got)
    got = [o.fields.name_fi for o in search(c, network="ngo-council").organisations]
    check(got == ["Seinäjoen Mielenterveysseura", "Zonta Seinäjoki", "Ähtärin Eläkkeensaajat"],
          "network: %s" % got)
    got = [o.fields.name_fi for o in search(c, query="seura", municipality="743",
                                            network="ngo-council").organisations]
    check(got == [], "combined filters that exclude all")
    c.call("registry.org.dissolve", R.DissolveOrganisationRequest(id=ids["Zonta Seinäjoki"]))
    got = [o.fields.name_fi for o in search(c, query="seinäj",
                                            status=R.ORG_STATUS_ACTIVE).organisations]
    check(got == ["Seinäjoen Mielenterveysseura"], "status filter")

    # Paging: stable cursor, with an insert before the cursor between pages.
    pages, cur = [], ""
    first = search(c, limit=3)
    pages += [o.fields.name_fi for o in first.organisations]
    register(c, "late", name="Aaltosen Seura", home="743")
    cur = first.next_cursor
    while cur:
        page = search(c, limit=3, cursor=cur)
        pages += [o.fields.name_fi for o in page.organisations]
        cur = page.next_cursor
    check(len(pages) == 8 and len(set(pages)) == 8, "pages: each once, no repeats: %s" % pages)
    for q in ("", "seura"):
        seen, cur = [], ""
        while True:
            page = search(c, query=q, limit=1, cursor=cur)
            seen += [o.id for o in page.organisations]
            cur = page.next_cursor
            if not cur:
                break
        full = [o.id for o in search(c, query=q, limit=50).organisations]
        check(seen == full, "paging one by one equals one page (query %r)" % q)
    r = c.call("registry.org.search", R.SearchRequest(cursor="zz"))
    check(r.status.code == E.CODE_INVALID and "cursor" in r.status.message, "bad cursor")
    r = c.call("registry.org.search", R.SearchRequest(limit=1000))
    check(r.status.code == E.CODE_INVALID and "limit" in r.status.message, "limit too big")
    r = c.call("registry.org.search", R.SearchRequest(municipality="74x"))
    check(r.status.code == E.CODE_INVALID, "bad municipality filter")
finally:
    s.close()
done()
