# timeout: 240
"""An organisation's page and its edit, people and their roles in the back office (issue 14,
part 3): the events service, the registry with CURVE keys and kumppani-web with its office key
and the registry's log. Checked over HTTP: the search links to the organisation's page, which
shows its facts, its people and its events; an edit through the page is what the registry (and
its CLI) then answers; bad input is 400 with the form again and nothing changed; a change made
meanwhile is 409; a missing CSRF token is refused; a municipal contact person is refused
another municipality's organisation (403, audited) and the people pages; a person is found by
name through a POST (no name in any URL) and their page shows their roles; a role is added and
ended through the page. Then tests/web/office_org.mjs in headless Chromium: the same pages with
axe (0 violations) and screenshots office-70.., one edit done with the keyboard alone."""
import os
import re
import shutil
import subprocess
import time

from kp_harness import PII, V, body, check, done
from kp_registry import R, register
from kp_web import (BIN, BROWSER_OUT, OFFICE_PW, WEBDIR, WebSuite, csrf_of, hidden, office_accounts,
                    office_sign_in, run_browser, web_registry)

PW = OFFICE_PW
OUT = BROWSER_OUT


def form_of(html):
    """The edit form's fields as the page filled them (text inputs and checked boxes)."""
    m = re.search(r'<form method="post" action="/office/organisations/\d+".*?</form>', html, re.S)
    f = {}
    for name, value in re.findall(r'<input type="(?:text|email|tel|url|hidden)" [^>]*?'
                                  r'name="([a-z_]+)" value="([^"]*)"', m.group(0)):
        f[name] = value
    for name, value in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"',
                                  m.group(0)):
        f[name] = value
    f["field"] = re.findall(r'name="field" value="(\d+)" checked', m.group(0))
    return f


def post(sess, path, fields):
    data = []
    for k, v in fields.items():
        data += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    return sess.post(path, data)


s = WebSuite()
try:
    reg, _ = web_registry(s, pub=True)
    office_accounts(s, "alue", "seinajoki", "asiantuntija")

    o1 = body(register(reg, "o1", name="Seinäjoen Mielenterveysseura", home="743",
                       networks=["ngo-council"], business_id="0737546-2"),
              R.OrganisationReply).organisation
    o2 = body(register(reg, "o2", name="Alajärven Nuorisoseura", home="005",
                       flds=[R.FIELD_YOUTH]), R.OrganisationReply).organisation
    pid = body(reg.call("registry.person.add", R.AddPersonRequest(
        name=PII[0], email=PII[1]), key="p1"),
        R.PersonReply).person.id
    for k, kw in (("r1", dict(kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743",
                               title="järjestöyhdyshenkilö")),
                  ("r2", dict(kind=R.ROLE_KIND_REPRESENTATIVE, organisation_id=o1.id))):
        r = reg.call("registry.role.assign", R.AssignRoleRequest(person_id=pid, **kw), key=k)
        check(r is not None and r.status.code == 0, "role %s assigned" % k)
    admin = s.client(s.ev_api, "admin")
    now = int(time.time())
    r = admin.call("events.event.create", V.CreateEventRequest(
        kind=V.KIND_PARTNERSHIP_TABLE, title="Mielenterveysseuran kumppanuuspöytä",
        municipality_code="743", start_unix=now + 5 * 86400, end_unix=now + 5 * 86400 + 3600,
        language="fi", organiser_organisation_id=o1.id), key="ev1")
    eid = body(r, V.EventReply).event.id
    check(admin.call("events.event.publish", V.EventRef(event_id=eid)).status.code == 0,
          "an event organised by the organisation is published")

    al, _ = office_sign_in(s.base, "alue", PW["alue"])
    sj, _ = office_sign_in(s.base, "seinajoki", PW["seinajoki"])
    ex, _ = office_sign_in(s.base, "asiantuntija", PW["asiantuntija"])
    page = "/office/organisations/%d" % o1.id

    # ---- the page ----
    r = al.get("/office/organisations?q=sein")
    check('href="%s"' % page in r.text, "the search links to the organisation's page")
    end = time.time() + 10
    while True:
        r = al.get(page)
        if "Mielenterveysseuran kumppanuuspöytä" in r.text or time.time() > end:
            break
        time.sleep(0.1)
    check(r.status == 200 and "<h1>Seinäjoen Mielenterveysseura</h1>" in r.text and
          "0737546-2" in r.text and "ngo-council" in r.text, "the page shows the facts")
    people = re.search(r'aria-labelledby="people">(.*?)</table>', r.text, re.S)
    check(people and PII[0] in people.group(1) and PII[1] in people.group(1) and
          "representative of the organisation" in people.group(1) and
          'href="/office/people/%d"' % pid in people.group(1),
          "its people: the representative with their contact and a link to their page")
    check('href="/office/events/%d"' % eid in r.text and
          "Mielenterveysseuran kumppanuuspöytä" in r.text, "its events (the read model)")

    # ---- the edit ----
    f = form_of(r.text)
    check(f.get("name_fi") == "Seinäjoen Mielenterveysseura" and f.get("field") == ["1"] and
          f.get("expected") == str(o1.updated_ms), "the form holds the record (%s)" % f)
    f.update(name_sv="Seinäjoki mentalvårdsförening", networks="ngo-council, vitality-workshop",
             member_count="120", municipalities="005", web="https://mts.example.fi")
    f["field"] = ["1", "11"]
    r = post(al, page, f)
    check(r.status == 303 and r.header("location") == page + "?saved=1",
          "the edit is saved (%d)" % r.status)
    got = body(reg.call("registry.org.get", R.OrganisationRef(id=o1.id)),
               R.OrganisationReply).organisation
    check(got.fields.name_sv == "Seinäjoki mentalvårdsförening" and got.fields.member_count == 120
          and list(got.fields.networks) == ["ngo-council", "vitality-workshop"] and
          list(got.fields.fields) == [R.FIELD_MENTAL_HEALTH, R.FIELD_SOCIAL_WELFARE] and
          list(got.fields.municipalities) == ["005"] and got.updated_ms > o1.updated_ms,
          "the registry answers the edited record")
    p = subprocess.run([os.path.join(BIN, "kumppani"), "--endpoint", s.reg_api, "--keys",
                        s.keys_dir, "--key-name", "admin", "--json", "registry", "show",
                        str(o1.id)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    check(p.returncode == 0 and "mentalvårdsförening" in p.stdout and
          "vitality-workshop" in p.stdout, "and so does the CLI (%s)" % p.stdout.strip()[:200])
    r = al.get(page + "?saved=1")
    check("The changes are saved." in r.text and "Seinäjoki mentalvårdsförening" in r.text,
          "the page says it is saved")

    f = form_of(r.text)
    before = got.updated_ms
    for bad, field in ((dict(member_count="paljon"), "member_count"),
                       (dict(name_fi=""), "name_fi"),
                       (dict(business_id="0737546-3"), "business_id"),
                       (dict(home_municipality="999"), "home_municipality"),
                       (dict(field=[]), "fields")):
        g = dict(f, **bad)
        r = post(al, page, g)
        check(r.status == 400 and 'href="#f-%s"' % field in r.text and
              'id="e-%s"' % field in r.text, "bad %s: 400 with the form and its error" % field)
    check('value="Seinäjoen Mielenterveysseura"' in r.text, "the form keeps what was typed")
    got = body(reg.call("registry.org.get", R.OrganisationRef(id=o1.id)),
               R.OrganisationReply).organisation
    check(got.updated_ms == before and got.fields.business_id == "0737546-2",
          "nothing was changed by the bad edits")

    r = al.post(page, {k: v for k, v in f.items() if k != "csrf" and k != "field"})
    check(r.status == 403, "an edit without its CSRF token is refused (%d)" % r.status)

    # A change made meanwhile (the CLI's) makes the page's edit a conflict.
    stale = dict(f, member_count="999")
    upd = R.UpdateOrganisationRequest(id=o1.id, fields=got.fields)
    upd.fields.member_count = 130
    check(reg.call("registry.org.update", upd).status.code == 0, "changed meanwhile")
    r = post(al, page, stale)
    check(r.status == 409 and "Someone else changed the organisation meanwhile" in r.text and
          'value="999"' in r.text, "the stale edit is 409, the form as typed")
    got = body(reg.call("registry.org.get", R.OrganisationRef(id=o1.id)),
               R.OrganisationReply).organisation
    check(got.fields.member_count == 130 and hidden(r.text, "expected") == str(got.updated_ms),
          "nothing overwritten; the form now expects the current record")
    register(reg, "o3", name="Lapuan Martat", home="408", business_id="0201256-6")
    r = post(al, page, dict(form_of(al.get(page).text), business_id="0201256-6"))
    check(r.status == 409 and "already registered to another organisation" in r.text and
          'id="e-business_id"' in r.text, "another organisation's business ID is 409")

    # ---- scope ----
    other = "/office/organisations/%d" % o2.id
    check(sj.get(page).status == 200, "the contact person sees their municipality's organisation")
    check(sj.get(other).status == 403, "another municipality's organisation is refused (403)")
    tok = csrf_of(sj, page)
    r = post(sj, other, dict(form_of(al.get(other).text), csrf=tok, member_count="5"))
    check(r.status == 403, "and its edit too")
    g = dict(form_of(sj.get(page).text), home_municipality="005", municipalities="")
    r = post(sj, page, g)
    check(r.status == 403, "moving their organisation out of their municipalities is refused")
    got2 = body(reg.call("registry.org.get", R.OrganisationRef(id=o2.id)),
                R.OrganisationReply).organisation
    check(got2.fields.member_count == 0 and
          body(reg.call("registry.org.get", R.OrganisationRef(id=o1.id)),
               R.OrganisationReply).organisation.fields.home_municipality == "743",
          "nothing changed by the refused edits")
    check(ex.get(page).status == 403, "the expert coordinator has no registry pages")
    check(sj.get("/office/people").status == 403, "nor the contact person the people pages")
    check(sj.get("/office/people/%d" % pid).status == 403, "nor a person's page")
    audit = al.get("/office/audit").text
    check(re.search(r"registry\.org\.get</code></td><td><code>organisation=%d</code></td>"
                    r"<td>[^<]*refused" % o2.id, audit) and
          re.search(r"registry\.org\.update</code></td><td><code>organisation=%d</code></td>"
                    % o1.id, audit),
          "the refusals and the edits are in the audit, by id")

    # ---- people ----
    r = al.get("/office/people")
    check(r.status == 200 and 'method="post" action="/office/people"' in r.text,
          "the people search is a POST form")
    first = PII[0].split()[0]
    r = al.post("/office/people", {"csrf": csrf_of(al, "/office/people"), "name": first})
    check(r.status == 200 and PII[0] in r.text and 'href="/office/people/%d"' % pid in r.text,
          "a person found by the first word of their name")
    r = al.post("/office/people", {"csrf": csrf_of(al, "/office/people"), "name": ""})
    check(r.status == 400 and 'id="f-name"' in r.text, "an empty search is 400 with the form")
    pp = "/office/people/%d" % pid
    r = al.get(pp)
    roles = re.search(r'aria-labelledby="roles">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and "<h1>%s</h1>" % PII[0] in r.text and roles and
          "NGO contact person" in roles.group(1) and "Seinäjoki (743)" in roles.group(1) and
          "representative of the organisation" in roles.group(1) and
          'href="%s"' % page in roles.group(1), "the person's page shows their roles")

    nonce = hidden(r.text, "nonce")
    tok = hidden(r.text, "csrf")
    add = {"csrf": tok, "nonce": nonce, "kind": "4", "organisation": str(o1.id),
           "municipality": "", "title": "", "start_date": ""}
    r = al.post(pp + "/roles", dict(add, organisation=""))
    check(r.status == 400 and 'id="e-organisation"' in r.text, "a chair needs an organisation")
    r = al.post(pp + "/roles", add)
    check(r.status == 303 and r.header("location") == pp + "?done=assigned", "a chair added")
    r = al.post(pp + "/roles", dict(add, nonce=hidden(al.get(pp).text, "nonce")))
    check(r.status == 409 and "already holds this role" in r.text,
          "the same role again is 409 (%d)" % r.status)
    pr = body(reg.call("registry.person.get", R.PersonRef(person_id=pid)), R.PersonReply)
    chair = [x for x in pr.roles if x.kind == R.ROLE_KIND_CHAIR]
    check(len(chair) == 1 and chair[0].organisation_id == o1.id and not chair[0].end_date,
          "the registry has the one chair role")
    r = al.post("/office/roles/%d/end" % chair[0].id, {"csrf": tok, "person": str(pid)})
    check(r.status == 303 and r.header("location") == pp + "?done=ended", "the role ended")
    pr = body(reg.call("registry.person.get", R.PersonRef(person_id=pid)), R.PersonReply)
    check([x.end_date != "" for x in pr.roles if x.id == chair[0].id] == [True],
          "the registry has its end date")
    r = al.post("/office/roles/%d/end" % chair[0].id, {"csrf": tok, "person": str(pid)})
    check(r.status == 409, "ending it again is 409")
    check(al.post("/office/roles/%d/end" % chair[0].id, {"person": str(pid)}).status == 403,
          "ending a role without the CSRF token is refused")
    audit = al.get("/office/audit").text
    obj = "</code></td><td><code>person=%d role=%d</code>" % (pid, chair[0].id)
    check("registry.role.assign" + obj in audit and "registry.role.end" + obj in audit and
          PII[0] not in audit and PII[1] not in audit, "roles in the audit by ids, no names")

    for lang, words in (("sv", "Redigera uppgifterna"), ("fi", "Muokkaa tietoja")):
        r = al.get(page + "?lang=" + lang)
        rp = al.get(pp)
        check(words in r.text and not re.search(r"\bbo_[a-z_]+", r.text + rp.text),
              "the pages in %s, every text found" % lang)

    # ---- the browser ----
    node = shutil.which("node")
    if node and os.path.exists("/usr/bin/chromium") and \
            os.path.isdir(os.path.join(WEBDIR, "node_modules", "playwright-core")):
        os.makedirs(OUT, exist_ok=True)
        for fn in os.listdir(OUT):
            if fn.startswith("office-7") and fn[7:9].isdigit():
                os.remove(os.path.join(OUT, fn))
        cfg = {"regional": ["alue", PW["alue"]], "municipal": ["seinajoki", PW["seinajoki"]],
               "org": o1.id, "other_org": o2.id, "person": pid, "name": first}
        rc, _, sm = run_browser(node, WEBDIR, "office_org.mjs", s.base, OUT, cfg=cfg,
                                  timeout=150)
        check(rc == 0, "the browser: the pages, the keyboard edit, the refusal")
        axes, shots = sm.get("axe", []), sm.get("screenshots", [])
        check(len(axes) >= 6 and all(a["violations"] == 0 for a in axes),
              "axe: %d pages, 0 violations" % len(axes))
        check(shots and all(os.path.exists(x["file"]) and "/office-7" in x["file"]
                            for x in shots), "screenshots office-70.. under %s" % OUT)
        check(all(PII[0] not in x["url"] and first not in x["url"] for x in shots),
              "no name in any page's address")
        got = body(reg.call("registry.org.get", R.OrganisationRef(id=o1.id)),
                   R.OrganisationReply).organisation
        check(got.fields.member_count == 77, "the keyboard's edit reached the registry (%d)"
              % got.fields.member_count)
    else:
        check(False, "node, chromium and playwright-core are installed (scripts/setup)")
finally:
    s.close()
done()
