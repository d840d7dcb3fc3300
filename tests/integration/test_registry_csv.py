# timeout: 120
"""Registry CSV import and export: idempotent import (same file twice changes nothing), every
bad row reported with its line number and nothing written unless skip_invalid, dry run,
municipalities of another region by CSV, and formula escaping on export that round-trips."""
from kp_harness import E, OK, Suite, body, check, done
from kp_registry import R, head, replay, search, start_registry

ORGS = (
    "name_fi;name_sv;business_id;home_municipality;municipalities;fields;networks;email;phone;"
    "member_count\r\n"
    "Kauhavan Omaishoitajat;;;233;;older-people|disability;ngo-council;info@omaiset.fi;;120\r\n"
    "\"Lapuan Nuoret; ry\";;0737546-2;408;743|010;youth;;;+358 6 111 2222;\r\n"
    "=HYPERLINK(\"http://evil\");;;743;;other;;;;\r\n"
    "\r\n"
    "Kurikan Kyläyhdistys;Kurikka byaförening;;301;;village;;;;\r\n"
)

s = Suite()
try:
    start_registry(s)
    c = s.client(s.reg_api)

    def imp(csv, kind=R.CSV_KIND_ORGANISATIONS, **kw):
        r = c.call("registry.csv.import", R.ImportRequest(kind=kind, csv=csv.encode(), **kw))
        assert r.status.code == OK, r
        return body(r, R.ImportReply)

    h = head(c)
    d = imp(ORGS, dry_run=True)
    check(d.rows == 4 and d.created == 4 and not d.written and head(c) == h,
          "dry run counts and writes nothing")
    a = imp(ORGS)
    check(a.written and a.created == 4 and not a.errors, "import: 4 created")
    check(head(c) == h + 4 and all(e.type == "OrganisationRegistered" for e in replay(c, h + 1)),
          "one OrganisationRegistered per row")
    b = imp(ORGS)
    check(b.unchanged == 4 and b.created == 0 and b.updated == 0 and head(c) == h + 4,
          "same file twice changes nothing")
    got = [o.fields.name_fi for o in search(c, query="lapuan").organisations]
    check(got == ["Lapuan Nuoret; ry"], "quoted cell with the delimiter")

    bad = ("name_fi,business_id,home_municipality,fields\n"
           "Hyvä Seura,,743,youth\n"
           "Huono Tunnus,1234567-8,743,youth\n"
           "Tuntematon Kunta,,999,youth\n"
           "Väärä Ala,,743,knitting\n"
           "Ohjausmerkki\x01,,743,youth\n"
           "Hyvä Seura,,743,youth\n")
    h = head(c)
    r = imp(bad)
    lines = [(e.line, e.reason) for e in r.errors]
    check([x[0] for x in lines] == [3, 4, 5, 6, 7], "bad rows by line number: %s" % lines)
    check("business_id" in lines[0][1] and "home_municipality" in lines[1][1] and
          "fields" in lines[2][1] and "control" in lines[3][1] and "line 2" in lines[4][1],
          "each reason names the column and rule")
    check(not any("1234567-8" in x[1] or "knitting" in x[1] for x in lines),
          "reasons do not echo values")
    check(not r.written and head(c) == h, "a file with bad rows writes nothing")
    # Issue 16: a dry run of bad rows says so in the reply (a client exits non-zero on errors).
    r = imp(bad, dry_run=True)
    check([(e.line, e.reason) for e in r.errors] == lines and not r.written and
          r.created == 0 and r.skipped == 6 and head(c) == h,
          "dry run: the same row errors, nothing counted as created, nothing written")
    r = imp(bad, skip_invalid=True)
    check(r.written and r.created == 1 and r.skipped == 5 and head(c) == h + 1,
          "skip_invalid writes the good row only")
    r = c.call("registry.csv.import", R.ImportRequest(kind=R.CSV_KIND_ORGANISATIONS,
                                                      csv=b"nimi,koti\nA,743\n"))
    check(r.status.code == E.CODE_INVALID and "header" in r.status.message, "unknown header")

    # Municipalities of another region come by CSV; then they can be used.
    m = imp("code,name_fi,name_sv,region_code,region_name\n"
            "499,Mustasaari,Korsholm,15,Pohjanmaa\n905,Vaasa,Vasa,15,Pohjanmaa\n",
            kind=R.CSV_KIND_MUNICIPALITIES)
    check(m.created == 2 and m.written, "2 municipalities imported")
    check(replay(c, head(c))[0].type == "MunicipalityAdded", "MunicipalityAdded event")
    m = imp("code,name_fi,name_sv,region_code,region_name\n499,Mustasaari,Korsholm,15,Pohjanmaa\n",
            kind=R.CSV_KIND_MUNICIPALITIES)
    check(m.unchanged == 1, "municipality import is idempotent")

    # Export: formula cells escaped; the export imports back unchanged.
    r = c.call("registry.csv.export", R.ExportRequest(kind=R.CSV_KIND_ORGANISATIONS))
    ex = body(r, R.ExportReply)
    text = ex.csv.decode()
    check("\"'=HYPERLINK(\"\"http://evil\"\")\"" in text, "formula cell escaped with '")
    check("'+358 6 111 2222" in text, "a phone starting with + is escaped too")
    check(not any(line.startswith(("=", "+", "-", "@")) or ",=" in line
                  for line in text.splitlines()), "no cell starts a formula")
    h = head(c)
    back = imp(text)
    check(back.unchanged == back.rows == 5 and head(c) == h, "export imports back unchanged")
    page = body(c.call("registry.csv.export", R.ExportRequest(kind=R.CSV_KIND_ORGANISATIONS,
                                                              limit=2)), R.ExportReply)
    check(page.next_after_id > 0 and page.csv.count(b"\r\n") == 3, "paged export")
finally:
    s.close()
done()
