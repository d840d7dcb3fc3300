# timeout: 120
"""kumppani registry ...: every registry command through the real CLI (plain TCP, no keys
dir), table and --json output, CSV import/export through files, and exit codes (2 usage,
4 error answer)."""
import json
import os
import re

from kp_harness import Suite, check, cli_runner, done
from kp_registry import start_registry

s = Suite()
try:
    start_registry(s)
    env = dict(os.environ, KUMPPANI_REGISTRY_API=s.reg_api,
               KUMPPANI_KEYS="none")  # plain TCP

    kp = cli_runner(env, "registry")

    rc, out, err = kp("municipalities")
    check(rc == 0 and "Ähtäri" in out and out.count("\n") == 19, "municipalities table (%s)" % err)
    # Issue 16: columns are counted in characters, so ä and ö do not pull the next one left.
    check(all(line[48:].startswith(("REGION", "Etelä-Pohjanmaa")) and line[47] == " "
              for line in out.splitlines()),
          "municipalities table: REGION starts in the same column on every line (Ähtäri, "
          "Storå, Östermark)")
    rc, out2, err = kp("municipalities", "--region", "14")
    check(rc == 0 and out2 == out, "municipalities --region 14: the seeded region (%s)" % err)
    rc, out2, err = kp("municipalities", "--region", "99")
    check(rc == 0 and out2.count("\n") == 1, "municipalities --region 99: none (%s)" % err)
    # registry.municipality.list has no date: --on was accepted and never read, so it is
    # refused like any unknown option.
    rc, out2, err = kp("municipalities", "--on", "2020-01-01")
    check(rc == 2 and "unknown option --on" in err and out2 == "",
          "municipalities --on is refused as an unknown option (%d: %s)" % (rc, err.strip()))
    rc, out, err = kp("register", "--name", "Lapuan Kyläyhdistys", "--home", "408", "--fields",
                      "village,youth", "--business-id", "0737546-2", "--acts-in", "743",
                      "--key", "cli-1", "--json")
    check(rc == 0, "register (%s)" % err.strip())
    org = json.loads(out)["organisation"]
    check(org["status"] == "ORG_STATUS_ACTIVE" and org["fields"]["fields"] ==
          ["FIELD_VILLAGE", "FIELD_YOUTH"], "--json has every field, enums by name")
    oid = str(org["id"])
    rc2, out2, _ = kp("register", "--name", "Lapuan Kyläyhdistys", "--home", "408", "--fields",
                      "village,youth", "--business-id", "0737546-2", "--acts-in", "743",
                      "--key", "cli-1", "--json")
    check(rc2 == 0 and json.loads(out2)["organisation"]["id"] == org["id"], "same --key: same org")
    rc, out, err = kp("register", "--name", "X", "--home", "408", "--fields", "village",
                      "--business-id", "1234567-8")
    check(rc == 4 and "business_id" in err, "bad Y-tunnus: exit 4, names the field")
    rc, out, err = kp("register", "--name", "X", "--home", "408", "--fields", "knitting")
    check(rc == 2, "unknown field: usage error")
    rc, out, err = kp("update", oid, "--email", "info@kyla.fi")
    check(rc == 0 and "info@kyla.fi" in out and "Lapuan Kyläyhdistys" in out, "update one field")
    rc, out, err = kp("search", "LAPUAN")
    check(rc == 0 and "Lapuan Kyläyhdistys" in out, "search table")
    rc, out, err = kp("search", "--municipality", "743", "--json")
    check(rc == 0 and [o["id"] for o in json.loads(out)] == [org["id"]], "search --json")
    # Issue 16: times in --json are Helsinki ISO 8601, as in every other service's JSON.
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[23]:00$")
    got = json.loads(out)[0]
    check(all(isinstance(got[k], str) and iso.match(got[k]) for k in ("created_ms", "updated_ms")),
          "--json shows times as Helsinki ISO 8601 (%s)" % got["created_ms"])
    # Issue 16: --json --limit pages with the cursor it writes to stderr, like the table does.
    for i in range(4):
        kp("register", "--name", "Sivuseura %d" % i, "--home", "301", "--fields", "youth",
           "--key", "page-%d" % i)
    seen, cursor, pages = [], None, 0
    while pages < 10:
        rc, out, err = kp("search", "--municipality", "301", "--json", "--limit", "3",
                          *(["--cursor", cursor] if cursor else []))
        pages += 1
        seen += [o["fields"]["name_fi"] for o in json.loads(out)]
        m = re.search(r"^more: --cursor (\S+)$", err, re.M)
        if not m:
            break
        cursor = m.group(1)
    check(seen == ["Sivuseura %d" % i for i in range(4)] and pages == 2,
          "--json --limit 3: a script pages through all four with the cursor (%s, %d pages)"
          % (seen, pages))
    rc, out, err = kp("person-add", "--name", "Anna Yhdyshenkilö", "--email", "anna@lapua.fi",
                      "--json")
    pid = str(json.loads(out)["person"]["id"])
    rc, out, err = kp("assign", "--person", pid, "--municipality", "408", "--from", "2026-01-01",
                      "--json")
    check(rc == 0, "assign (%s)" % err.strip())
    rid = str(json.loads(out)["role"]["id"])
    rc, out, err = kp("roles", "--municipality", "408")
    check(rc == 0 and "Anna Yhdyshenkilö" in out, "roles table")
    rc, out, err = kp("gaps")
    check(rc == 0 and "17 municipalities" in out and "Lapua" not in out, "gaps")
    rc, out, err = kp("idle", "--months", "3")
    check(rc == 0 and "1 contact person" in out, "idle")
    rc, out, err = kp("end-role", rid)
    check(rc == 0, "end-role")
    csv = os.path.join(s.dir, "orgs.csv")
    with open(csv, "w") as f:
        f.write("name_fi;home_municipality;fields\r\nKurikan Seura;301;sport-culture\r\n"
                "Huono;999;youth\r\n")
    rc, out, err = kp("import", csv)
    check(rc == 4 and "line 3:" in err and "nothing written" in out, "import with a bad row")
    rc, out, err = kp("import", csv, "--dry-run")
    check(rc == 4 and "line 3:" in err and "dry run" in out,
          "a dry run with a bad row exits non-zero (%d)" % rc)
    rc, out, err = kp("import", csv, "--skip-invalid")
    check(rc == 0 and "1 created" in out, "import --skip-invalid")
    rc, out, err = kp("import", csv, "--skip-invalid")
    check(rc == 0 and "1 unchanged" in out, "import again: unchanged")
    exp = os.path.join(s.dir, "out.csv")
    rc, out, err = kp("export", "--out", exp)
    with open(exp) as f:
        text = f.read()
    check(rc == 0 and "Kurikan Seura" in text and text.startswith("id,name_fi"), "export")
    rc, out, err = kp("dissolve", oid)
    check(rc == 0 and "dissolved" in out, "dissolve")
    rc, out, err = kp("erase", pid)
    check(rc == 0 and "erased" in out, "erase")
    rc, out, err = kp("show", "999")
    check(rc == 4, "show unknown: exit 4")
    rc, out, err = kp("remove", oid)
    check(rc == 0, "remove")
finally:
    s.close()
done()
