# timeout: 120
"""Registry: a contact-person list as a spreadsheet in Finland saves it ("CSV UTF-8", semicolons,
a byte-order mark, CRLF, dates as D.M.YYYY), imported with the CLI as a coordinator would.

- the start dates 1.1.2026 and 15.03.2026 are read as 2026-01-01 and 2026-03-15;
- the same file again changes nothing;
- a date that is no date (31.2.2026, 2026/01/01) is refused with its line and the forms taken,
  and nothing of that file is written;
- names with å, ä, ö are found by the person search with or without the dots."""
import os
import tempfile

from kp_harness import OK, PII, Suite, body, check, cli_runner, done
from kp_registry import R, start_registry

ROWS = [("Åsa Östman", "asa.ostman@example.fi", "", "743", "Järjestöyhdyshenkilö", "1.1.2026"),
        (PII[0], PII[1], "", "989", "Hyvinvointikoordinaattori; kulttuuri", "15.03.2026")]


def sheet(rows):
    out = "\ufeffname;email;phone;municipality;title;start_date\r\n"
    for r in rows:
        out += ";".join('"%s"' % x if ";" in x else x for x in r) + "\r\n"
    return out.encode("utf-8")


s = Suite()
d = tempfile.mkdtemp(prefix="kp-ex-csv-")
try:
    start_registry(s)
    env = dict(os.environ, KUMPPANI_REGISTRY_API=s.reg_api, KUMPPANI_KEYS="none")
    kp = cli_runner(env, "registry")
    c = s.client(s.reg_api, server="registry")
    path = os.path.join(d, "yhdyshenkilot.csv")
    with open(path, "wb") as f:
        f.write(sheet(ROWS))

    rc, out, err = kp("import", path, "--kind", "contact-persons")
    check(rc == 0 and "2 created" in out, "the spreadsheet's file imports: %d %r %r"
          % (rc, out, err))
    rc, out, err = kp("import", path, "--kind", "contact-persons")
    check(rc == 0 and "2 unchanged" in out, "the same file again changes nothing: %r" % out)

    def role_of(code):
        r = c.call("registry.role.list", R.ListRolesRequest(municipality_code=code))
        roles = body(r, R.ListRolesReply).roles if r.status.code == OK else []
        return roles[0] if roles else None

    r743, r989 = role_of("743"), role_of("989")
    check(r743 is not None and r743.start_date == "2026-01-01",
          "1.1.2026 is the 1st of January: %s" % (r743.start_date if r743 else None))
    check(r989 is not None and r989.start_date == "2026-03-15"
          and r989.title == "Hyvinvointikoordinaattori; kulttuuri",
          "15.03.2026 is the 15th of March; a quoted title keeps its ';'")

    bad = os.path.join(d, "bad.csv")
    with open(bad, "wb") as f:
        f.write(sheet([("Ville Väärä", "ville@example.fi", "", "005", "", "31.2.2026"),
                       ("Vilma Väärä", "vilma@example.fi", "", "010", "", "2026/01/01")]))
    rc, out, err = kp("import", bad, "--kind", "contact-persons")
    check(rc == 4 and "line 2: column 'start_date'" in err and "line 3: column 'start_date'" in err
          and "D.M.YYYY" in err, "dates that are none are refused by line: %r" % err)
    check(role_of("005") is None and role_of("010") is None, "and nothing of that file written")

    for q in ("östman", "ostman", "ÅSA", "asa"):
        r = c.call("registry.person.search", R.SearchPeopleRequest(name=q))
        got = [p.name for p in body(r, R.SearchPeopleReply).people] if r.status.code == OK else []
        check(got == ["Åsa Östman"], "person search %r finds Åsa Östman: %s" % (q, got))
finally:
    s.close()
done()
