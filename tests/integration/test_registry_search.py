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
    # Many entries for one word (above the collect limit): the merged runs of the words index.
    for chunk in range(3):
        rows = "".join("Testi Seura %d,743,youth\n" % i for i in range(chunk * 800, chunk * 800 + 800))
        r = c.call("registry.csv.import", R.ImportRequest(
            kind=R.CSV_KIND_ORGANISATIONS, csv=("name_fi,home_municipality,fields\n" + rows).encode()))
        assert r.status.code == OK and R.ImportReply.FromString(r.body).created == 800, r
    want = sorted("Testi Seura %d" % i for i in range(2400))
    got, cur = [], ""
    while True:
        page = search(c, query="tes seu", limit=200, cursor=cur)
        got += [o.fields.name_fi for o in page.organisations]
        cur = page.next_cursor
        if not cur:
            break
    check(got == want, "2400 matches of a frequent word: all, once, in order (%d)" % len(got))
    got = [o.fields.name_fi for o in search(c, query="testi 123", limit=50).organisations]
    check(got == ["Testi Seura 123", "Testi Seura 1230", "Testi Seura 1231", "Testi Seura 1232",
                  "Testi Seura 1233", "Testi Seura 1234", "Testi Seura 1235", "Testi Seura 1236",
                  "Testi Seura 1237", "Testi Seura 1238", "Testi Seura 1239"],
          "a frequent word and a rare one: %s" % got[:3])
    r = c.call("registry.org.search", R.SearchRequest(cursor="zz"))
    check(r.status.code == E.CODE_INVALID and "cursor" in r.status.message, "bad cursor")
    r = c.call("registry.org.search", R.SearchRequest(limit=1000))
    check(r.status.code == E.CODE_INVALID and "limit" in r.status.message, "limit too big")
    r = c.call("registry.org.search", R.SearchRequest(municipality="74x"))
    check(r.status.code == E.CODE_INVALID, "bad municipality filter")
finally:
    s.close()
done()
