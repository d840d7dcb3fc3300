# timeout: 180
"""Notifier, issue 6 point 1: the weekly digest to each municipality's NGO contact persons of
the coming events in their municipality. Real registry, events and notifier with CURVE keys,
a real SMTP server (aiosmtpd), and the notifier's controllable clock.

- the notifier follows the registry's log for the current contact persons (ids only) and asks
  registry.person.get (its `service` key) for the name and address when the digest is due;
- at the digest moment (Monday 07:00 Europe/Helsinki) each contact person gets one digest per
  municipality listing the published events starting there in the next 14 days, by start,
  rescheduled ones marked; drafts, cancelled events, events further ahead and other
  municipalities' events are left out; an ended or erased contact gets nothing; a contact with
  no e-mail is recorded as not sent ("no-email");
- a restart sends nothing twice; a digest more than a day late is left for the next week, and
  the next week's digest comes with its own key;
- the notifier's record and log hold no name or address."""
import datetime
import time
import zoneinfo

import kp_notifier as kn
from kp_harness import OK, Suite, body, check, done
from kp_events import V, create
from kp_notifier import N, Smtp, text, wait_for
from kp_registry import R

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")
DAY = 86400
PII = ["Maija Mäkinen", "maija.makinen@example.fi", "Pekka Peltola", "pekka.peltola@example.fi",
       "Liisa Loppi", "liisa.loppi@example.fi", "Erkki Erased", "erkki@example.fi",
       "Ville Vailla"]

# The next Monday 07:00 in Helsinki at least two hours from now: the digest moment under test.
T, T_S, DATE = kn.digest_moment()

s = Suite(keys=True)
smtp = Smtp()
try:
    rc, ec = kn.digest_suite(s)

    def person(i, name, email=""):
        r = rc.call("registry.person.add", R.AddPersonRequest(name=name, email=email),
                    key="p%d" % i)
        check(r.status.code == OK, "person %d added" % i)
        return body(r, R.PersonReply).person.id

    def contact(pid, code):
        r = rc.call("registry.role.assign", R.AssignRoleRequest(
            person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code=code),
            key="r%d-%s" % (pid, code))
        check(r.status.code == OK, "contact person of %s" % code)
        return body(r, R.RoleReply).role.id

    maija, pekka = person(1, PII[0], PII[1]), person(2, PII[2], PII[3])
    liisa, erkki = person(3, PII[4], PII[5]), person(4, PII[6], PII[7])
    ville = person(5, PII[8])
    contact(maija, "743")
    contact(pekka, "743")
    contact(pekka, "005")
    ended = contact(liisa, "010")
    contact(erkki, "145")
    contact(ville, "233")
    check(rc.call("registry.role.end", R.EndRoleRequest(role_id=ended)).status.code == OK,
          "Liisa's role ended")
    check(rc.call("registry.person.erase", R.PersonRef(person_id=erkki)).status.code == OK,
          "Erkki erased")

    def ev(title, code, days, **kw):
        return create(ec, key="e-" + title, start_in_s=T_S - int(time.time()) + int(days * DAY),
                      title=title, municipality_code=code, **kw)

    e1 = ev("Kumppanuuspöytä: nuoret", "743", 3)
    e2 = ev("Järjestöilta", "743", 1.5, place="Kirjasto")
    e3 = ev("Luonnos", "743", 2, publish=False)
    e4 = ev("Peruttu ilta", "743", 4)
    r = ec.call("events.event.cancel", V.CancelEventRequest(event_id=e4.id, reason_text="tila"))
    check(r.status.code == OK, "e4 cancelled " + str(r.status))
    e5 = ev("Kaukana", "743", 20)
    ev("Alajärven pöytä", "005", 5)
    ev("Alavuden pöytä", "010", 5)
    ev("Ilmajoen pöytä", "145", 5)
    ev("Kurikan pöytä", "233", 5)
    # e2 moved to day 10: still inside the window, now after e1, marked as rescheduled
    r = ec.call("events.event.reschedule", V.RescheduleEventRequest(
        event_id=e2.id, start_unix=T_S + 10 * DAY, end_unix=T_S + 10 * DAY + 7200))
    check(r.status.code == OK, "e2 rescheduled")

    # the notifier starts an hour before the digest moment (last week's is over a day late)
    p, nc, set_clock, start = kn.digest_notifier(s, smtp)
    set_clock(T_S - 3600)

    def status(key):
        return kn.status(nc, key)

    time.sleep(2.0)  # the notifier reads both logs
    check(smtp.count() == 0, "nothing before the digest moment")

    # ---- the digest moment ---------------------------------------------------------------------
    set_clock(T_S + 60)

    def mails_to(addr):
        return kn.mails_to(smtp, addr)

    check(wait_for(lambda: len(mails_to(PII[1])) == 1 and len(mails_to(PII[3])) == 2, 15),
          "Maija got one digest, Pekka two (743 and 005): %d %d"
          % (len(mails_to(PII[1])), len(mails_to(PII[3]))))
    m = mails_to(PII[1])[0]
    t = text(m)
    check(m["Subject"] == "Tulevat tapahtumat: Seinäjoki",
          "the subject names the municipality (from the registry's log): " + str(m["Subject"]))
    check("Seinäjoki" in t and "kunta 743" not in t and "kunnassa 743" not in t,
          "the digest names the municipality, not its code")
    check("mailto:" in str(m["List-Unsubscribe"]),
          "the digest carries a List-Unsubscribe header: " + str(m["List-Unsubscribe"]))
    check(PII[0] in t, "the digest greets Maija by name (asked from the registry)")
    i1, i2 = t.find("Kumppanuuspöytä: nuoret"), t.find("Järjestöilta, Kirjasto (siirretty)")
    check(0 <= i1 < i2, "743's events by start, the rescheduled one marked:\n" + t)
    check("Luonnos" not in t and "Peruttu" not in t and "Kaukana" not in t
          and "Alajärven" not in t, "no draft, cancelled, far-off or other municipality's event")
    d1 = datetime.datetime.fromtimestamp(T_S + 3 * DAY, HEL)
    check("%d.%d.%d klo %02d.%02d" % (d1.day, d1.month, d1.year, d1.hour, d1.minute) in t,
          "the event's time in Helsinki")
    pk = sorted(text(x) for x in mails_to(PII[3]))
    check(any("Alajärven pöytä" in x and "Kumppanuuspöytä" not in x for x in pk)
          and any("Kumppanuuspöytä: nuoret" in x for x in pk), "Pekka's two digests")
    check(not mails_to(PII[5]) and not mails_to(PII[7]), "no digest to an ended or erased contact")
    nv = wait_for(lambda: (lambda x: x if x and x.state == N.NOTIFICATION_STATE_CANCELLED
                           else None)(status("digest/%s/m233/p%d/email" % (DATE, ville))), 10)
    check(nv is not None and nv.attempts[-1].result == "no-email",
          "a contact without an e-mail: recorded as not sent (no-email)")
    n1 = status("digest/%s/m743/p%d/email" % (DATE, maija))
    check(n1 is not None and n1.state == N.NOTIFICATION_STATE_DELIVERED and n1.address == ""
          and n1.recipient_name == "" and n1.person_id == maija
          and [x.event_id for x in n1.digest_items] == [e1.id, e2.id],
          "the record keeps the person id and the events, not the name or address")

    # ---- restart and a later pass: nothing twice ---------------------------------------------
    total = smtp.count()
    check(total == 3, "three digests in all (%d)" % total)
    p.stop()
    p, nc = start()
    set_clock(T_S + 3600)
    time.sleep(2.0)
    check(smtp.count() == total, "after a restart within the day nothing is sent again")

    # ---- next week on time, with its own key and window; the week after over a day late ------
    set_clock(T_S + 7 * DAY + 60)
    nxt = (T + datetime.timedelta(days=7)).strftime("%Y-%m-%d")
    check(wait_for(lambda: len(mails_to(PII[1])) == 2, 10), "next week's digest to Maija")
    n2 = status("digest/%s/m743/p%d/email" % (nxt, maija))
    check(n2 is not None and [x.event_id for x in n2.digest_items] == [e2.id, e5.id],
          "its window starts at its own moment (e2 at day 10, e5 at day 20)")
    total = smtp.count()
    set_clock(T_S + 14 * DAY + 25 * 3600)
    time.sleep(2.0)
    check(smtp.count() == total, "a digest more than a day late is not sent")

    log = p.logtext()
    leaked = [x for x in PII if x in log]
    check(not leaked, "no names or addresses in the notifier's log " + str(leaked))
    check("digest.planned" in log, "planning is logged")
finally:
    smtp.stop()
    s.close()
done()
