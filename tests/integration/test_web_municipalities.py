# timeout: 120
"""Municipalities by name on the web (issues 13 and 14): the real events service, the real
registry (its first-start seed names the 18 municipalities of Etelä-Pohjanmaa) and kumppani-web
following both logs with CURVE keys (registry-api, registry-pub, registry-key). Checked: the
calendar's municipality filter lists names, not codes, in alphabetical order of the page's
language (Swedish names on the Swedish page: not the codes' order); an event page names its
municipality ("Seinäjoki", not "kunta 743"); a code the registry has not named yet is shown as
the code until a municipality added to the registry names it on the calendar, the event page
and the back office's list; names are escaped. And the place's accessibility facts (issue 13
item 2) on the event page, escaped."""
import re
import time

from kp_harness import check, done
from kp_registry import R
from kp_web import (Session, WebSuite, create_event, office_account, office_sign_in, wait_page,
                    web_registry)

PW = "Aluekoordinaattori-2026!"


def options(html):
    m = re.search(r'<select id="f-municipality" name="municipality">(.*?)</select>', html, re.S)
    return re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', m.group(1)) if m else []


s = WebSuite()
try:
    reg, _ = web_registry(s, pub=True)
    admin = s.client(s.ev_api, "admin")
    ids = {}
    for code in ("989", "010", "743", "846", "145", "853"):
        ids[code] = create_event(admin, "Kumppanuuspöytä %s" % code, municipality_code=code)
    fi = Session(s.base, "fi")
    r = wait_page(fi, "/events/%d" % ids["743"])
    check(r.status == 200 and "Seinäjoen kaupungintalo, Seinäjoki" in r.text and
          "kunta 743" not in r.text, "the event page names its municipality (Seinäjoki)")
    acc = create_event(admin, "Esteettömyys", accessibility_text="Luiska <script>x</script>\nHissi")
    r = wait_page(fi, "/events/%d" % acc)
    check(r.status == 200 and "<dt>Esteettömyys</dt>" in r.text and
          "Luiska &lt;script&gt;x&lt;/script&gt;\nHissi" in r.text and "<script>x" not in r.text,
          "the event page shows the place's accessibility facts, escaped")
    r = Session(s.base, "en").get("/events/%d" % acc)
    check("<dt>Accessibility</dt>" in r.text, "... under its English heading")
    check("on esteetön, ellei kuvauksessa" in r.text or
          "accessible unless the description" in r.text,
          "an event with the facts refers to them")
    r = fi.get("/events/%d" % ids["743"])
    check("<dt>Esteettömyys</dt>" not in r.text, "an event without them has no such heading")
    check("ei ole kertonut tapahtumapaikan esteettömyydestä" in r.text and
          "on esteetön" not in r.text,
          "nor says its venue is accessible: the organiser has not described it")
    for lang, text in [("sv", "har inte berättat om platsens tillgänglighet"),
                       ("en", "has not described the venue")]:
        page = Session(s.base, lang).get("/events/%d" % ids["743"]).text
        check(text in page and "unless the description" not in page and
              "om inte beskrivningen" not in page, "... in %s" % lang)
    r = fi.get("/events/%d" % ids["853"])
    check(r.status == 200 and "Seinäjoen kaupungintalo, 853" in r.text,
          "a code the registry has not named is shown as the code")

    r = fi.get("/")
    opts = options(r.text)
    check([n for _, n in opts] == ["853", "Alavus", "Ilmajoki", "Seinäjoki", "Teuva", "Ähtäri"],
          "the Finnish filter lists names in Finnish order, an unnamed code first (%s)" % opts)
    check(("743", "Seinäjoki") in opts, "each option's value stays the code")
    sv = Session(s.base, "sv")
    opts = options(sv.get("/").text)
    check([n for _, n in opts] == ["853", "Alavo", "Etseri", "Ilmola", "Seinäjoki", "Östermark"],
          "the Swedish filter lists the Swedish names in their order (%s)" % opts)
    r = fi.get("/?municipality=989")
    check("Kumppanuuspöytä 989" in r.text and "Kumppanuuspöytä 743" not in r.text and
          ("989", "Ähtäri") in options(r.text) and
          re.search(r'<option value="989" selected>Ähtäri</option>', r.text),
          "filtering by a named municipality keeps its name selected")

    # A municipality added to the registry reaches the web through the registry's log.
    rr = reg.call("registry.municipality.add", R.Municipality(
        code="853", name_fi="Turku <i>", name_sv="Åbo", region_code="02",
        region_name="Varsinais-Suomi"), key="turku")
    check(rr is not None and rr.status.code == 0, "Turku added to the registry")
    end_ok = False
    for _ in range(200):
        r = fi.get("/events/%d" % ids["853"])
        if "Turku" in r.text:
            end_ok = True
            break
        time.sleep(0.05)
    check(end_ok and "Seinäjoen kaupungintalo, Turku &lt;i&gt;" in r.text and "<i>" not in r.text,
          "the event page names the added municipality, escaped")
    opts = options(fi.get("/").text)
    check([n for _, n in opts][-3:] == ["Teuva", "Turku &lt;i&gt;", "Ähtäri"],
          "the calendar's filter names it in its Finnish place (%s)" % opts)
    r = fi.get("/")
    check("Seinäjoen kaupungintalo, Turku &lt;i&gt;" in r.text, "the calendar's row names it")
    opts = options(sv.get("/").text)
    check([n for _, n in opts] == ["Alavo", "Etseri", "Ilmola", "Seinäjoki", "Åbo", "Östermark"],
          "the Swedish filter has Åbo after S and before Ö (%s)" % opts)

    office_account(s, "alue", "regional", "", PW)
    al, _ = office_sign_in(s.base, "alue", PW, lang="fi")
    r = al.get("/office/events")
    check(r.status == 200 and "<td>Seinäjoki</td>" in r.text and "<td>Ähtäri</td>" in r.text
          and "<td>743</td>" not in r.text, "the back office's list names municipalities")
    check([n for _, n in options(r.text)][:2] == ["Alavus", "Ilmajoki"],
          "the back office's filter lists names in Finnish order")

    # The list's month calendar: a table of the Helsinki month, each event on its day.
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from kp_harness import V, body
    ev = body(admin.call("events.event.get", V.EventRef(event_id=ids["743"])), V.EventReply).event
    st = datetime.fromtimestamp(ev.start_unix, ZoneInfo("Europe/Helsinki"))
    r = al.get("/office/events?month=%04d-%02d" % (st.year, st.month))
    month = re.search(r'<table class="month">(.*?)</table>', r.text, re.S)
    names = ["tammikuu", "helmikuu", "maaliskuu", "huhtikuu", "toukokuu", "kesäkuu", "heinäkuu",
             "elokuu", "syyskuu", "lokakuu", "marraskuu", "joulukuu"]
    cell = month and re.search(r'<td><span class="day">%d</span><ul>(.*?)</ul></td>' % st.day,
                               month.group(1), re.S)
    check(r.status == 200 and month and
          "<caption id=\"month-caption\">%s %d</caption>" % (names[st.month - 1], st.year)
          in month.group(1) and month.group(1).count('<th scope="col">') == 7,
          "the month calendar: a table with its caption and seven column headers")
    check(cell and 'href="/office/events/%d"' % ids["743"] in cell.group(1) and
          "%02d.%02d Kumppanuuspöytä 743" % (st.hour, st.minute) in cell.group(1),
          "the event is on its Helsinki day, at its time")
    nxt = "%04d-%02d" % (st.year + st.month // 12, st.month % 12 + 1)
    r = al.get("/office/events?month=" + nxt)
    check(r.status == 200 and "Kumppanuuspöytä 743" not in
          re.search(r'<table class="month">(.*?)</table>', r.text, re.S).group(1),
          "the next month's calendar does not have it")
    check(al.get("/office/events?month=2026-13").status == 400 and
          al.get("/office/events?month=x").status == 400, "a bad month is 400")
    r = al.get("/office/stats")
    muni = re.search(r'aria-labelledby="c-muni-h">(.*?)</table>', r.text, re.S)
    check(r.status == 200 and muni and '<th scope="row">Seinäjoki</th>' in muni.group(1) and
          '<th scope="row">743</th>' not in muni.group(1) and
          'class="lbl">Seinäjoki</text>' in r.text,
          "the statistics by municipality name them, in the table and in the chart")
finally:
    s.close()
done()
