# timeout: 180
"""The back office's registry and broker pages over HTTP (issue 14, parts 3 and 4): the events
service, the registry and the expert broker with CURVE keys, and kumppani-web with its office
key (role admin on every allow-list) pointed at all three. Checked: the organisation search
with the CLI's filters (words, municipality, field, status) and its scope (a municipal
contact person searches their own municipalities only; another is 403 and audited); the
coverage view (municipalities without a contact person; contact persons idle for N months)
filtered to the account's municipalities; the broker's queue of open requests and the
assignments for the expert and regional coordinators, 403 for a contact person."""
import re

from kp_broker import B, file_request, register as register_expert
from kp_harness import PII, body, check, done
from kp_registry import R, register
from kp_web import OFFICE_PW, WebSuite, office_accounts, office_sign_in, web_registry

PW = OFFICE_PW

s = WebSuite()
try:
    reg, brk = web_registry(s, broker=True)
    office_accounts(s, "alue", "seinajoki", "asiantuntija")

    # ---- organisations ----
    r1 = register(reg, "o1", name="Seinäjoen Mielenterveysseura", home="743",
                  networks=["ngo-council", "vitality-workshop"])
    r2 = register(reg, "o2", name="Alajärven Nuorisoseura", home="005", flds=[R.FIELD_YOUTH])
    check(r1.status.code == 0 and r2.status.code == 0, "two organisations registered")
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    r = sj.get("/office/organisations")
    check(r.status == 200 and "Seinäjoen Mielenterveysseura" in r.text and
          "Alajärven" not in r.text, "the contact person's search is their municipality's")
    check("<td>Mental health</td><td>ngo-council, vitality-workshop</td>" in r.text,
          "a row gives the organisation's field (its name) and networks, joined (%s)"
          % re.findall(r"<tr><td>[^\n]*Mielenterveysseura[^\n]*", r.text))
    r = sj.get("/office/organisations/%d" % body(r1, R.OrganisationReply).organisation.id)
    check("Mental health" in r.text and "ngo-council, vitality-workshop" in r.text,
          "the organisation's page gives them the same way")
    r = sj.get("/office/organisations?municipality=005")
    check(r.status == 403, "searching another municipality is refused (403)")
    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    r = al.get("/office/organisations?q=alaj")
    check(r.status == 200 and "Alajärven Nuorisoseura" in r.text and
          "Mielenterveysseura" not in r.text, "the regional search by words (folded: alaj)")
    r = al.get("/office/organisations?field=6")
    check("Alajärven" in r.text and "Mielenterveysseura" not in r.text, "filter by field")
    r = al.get("/office/organisations?network=ngo-council")
    check("Mielenterveysseura" in r.text and "Alajärven" not in r.text, "filter by network")
    r = al.get("/office/organisations?status=2")
    check(r.status == 200 and "Alajärven" not in r.text and "Mielenterveysseura" not in r.text,
          "filter by status (none dissolved)")
    check(al.get("/office/organisations?field=99").status == 400, "a bad filter is 400")

    # ---- coverage ----
    rp = reg.call("registry.person.add", R.AddPersonRequest(name=PII[0], email=PII[1]),
                  key="cp")
    pid = body(rp, R.PersonReply).person.id
    rr = reg.call("registry.role.assign", R.AssignRoleRequest(
        person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743",
        title="järjestöyhdyshenkilö"), key="cp-role")
    check(rr is not None and rr.status.code == 0, "a contact person for Seinäjoki")
    r = al.get("/office/coverage?months=6")
    gaps = re.search(r'aria-labelledby="gaps">(.*?)</table>', r.text, re.S)
    idle = re.search(r'aria-labelledby="idle">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and gaps and "<td>005</td>" in gaps.group(1) and
          "<td>743</td>" not in gaps.group(1),
          "coverage: Alajärvi has no contact person, Seinäjoki has")
    check(idle and PII[0] in idle.group(1) and "never" in idle.group(1),
          "the Seinäjoki contact person has never convened NGOs")
    r = sj.get("/office/coverage")
    check(r.status == 200 and "<td>005</td>" not in r.text and PII[0] in r.text,
          "the contact person's coverage shows their municipality only")

    # ---- the broker ----
    register_expert(brk, PII[7], PII[8])
    rq = file_request(brk, "req-1", title="Mielenterveyspaneeli Seinäjoella")
    ex, _ = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    r = ex.get("/office/broker")
    check(r.status == 200 and "Mielenterveyspaneeli Seinäjoella" in r.text and
          "tilaaja@example.fi" not in r.text,
          "the expert coordinator sees the open request (not the requester's contact)")
    check(ex.get("/office/organisations").status == 403,
          "the expert coordinator has no registry pages")
    check(sj.get("/office/broker").status == 403, "the contact person has no broker page")
    check(al.get("/office/broker").status == 200, "the regional coordinator sees the broker")

    # ---- CSV import: the rows' errors before anything is written ----
    from kp_web import csrf_of
    check(al.get("/office/import").status == 200, "the regional coordinator's import page")
    check(sj.get("/office/import").status == 403, "the contact person has no import page")
    bad = ("name_fi,home_municipality,fields\n"
           "Kurikan Kyläyhdistys,301,village\n"
           "Tuntematon seura,999,village\n")
    tok = csrf_of(al, "/office/import")
    r = al.post("/office/import", {"csrf": tok, "kind": "1", "csv": bad, "action": "check"})
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td></tr>", r.text)
    check(r.status == 400 and [x[0] for x in rows] == ["3"] and "home_municipality" in rows[0][1],
          "a dry run lists the bad row (line 3, its column) in a table (%s)" % rows)
    r = al.post("/office/import", {"csrf": tok, "kind": "1", "csv": bad, "action": "import"})
    check(r.status == 400 and "Kurikan" not in al.get("/office/organisations?q=kurikan").text,
          "an import with a bad row writes nothing, not even the good row")
    good = "name_fi,home_municipality,fields\nKurikan Kyläyhdistys,301,village\n"
    r = al.post("/office/import", {"csrf": tok, "kind": "1", "csv": good, "action": "check"})
    check(r.status == 200 and "Kurikan" not in al.get("/office/organisations?q=kurikan").text,
          "a clean dry run writes nothing either")
    r = al.post("/office/import", {"csrf": tok, "kind": "1", "csv": good, "action": "import"})
    check(r.status == 200 and "Kurikan Kyläyhdistys" in
          al.get("/office/organisations?q=kurikan").text, "the clean import writes the row")

    # ---- the audit ----
    r = al.get("/office/audit")
    check("registry.org.search" in r.text and "municipality=005" in r.text,
          "the refused search is in the audit")
    check("registry.csv.import" in r.text and "rows=1 created=1" in r.text,
          "and the import, by its counts")
finally:
    s.close()
done()
