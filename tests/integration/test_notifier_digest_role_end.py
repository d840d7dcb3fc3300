# timeout: 180
"""Notifier: the weekly digest and a contact person's role that ends on a coming day.

A coordinator records a contact person's last day ahead of time (`kumppani registry end-role
ROLE --on DATE`). Until that day the person is still the municipality's contact person (the
registry's gaps do not list it) and still gets the weekly digest; from that day on, not. Real
registry, events and notifier with CURVE keys, a real SMTP server, the notifier's clock:

- Maija's role in 743 ends 30 days after the digest moment: her digest arrives;
- Pekka's role in 743 ends on the digest's day: no digest (the registry counts a role current
  on day D when D < end_date);
- five weeks later Maija's role has ended: no digest for her."""
import datetime
import time
import zoneinfo

import kp_notifier as kn
from kp_events import create
from kp_harness import OK, Suite, body, check, done
from kp_notifier import Smtp, wait_for
from kp_registry import R

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")
DAY = 86400
PII = ["Maija Mäkinen", "maija.makinen@example.fi", "Pekka Peltola", "pekka.peltola@example.fi"]

T, T_S, DATE = kn.digest_moment()

s = Suite(keys=True)
smtp = Smtp()
try:
    rc, ec = kn.digest_suite(s)

    def contact(i, name, email, code):
        r = rc.call("registry.person.add", R.AddPersonRequest(name=name, email=email),
                    key="p%d" % i)
        check(r.status.code == OK, "person %d added" % i)
        pid = body(r, R.PersonReply).person.id
        r = rc.call("registry.role.assign", R.AssignRoleRequest(
            person_id=pid, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code=code),
            key="r%d" % i)
        check(r.status.code == OK, "contact person of %s" % code)
        return pid, body(r, R.RoleReply).role.id

    maija, maija_role = contact(1, PII[0], PII[1], "743")
    pekka, pekka_role = contact(2, PII[2], PII[3], "743")
    until = (T + datetime.timedelta(days=30)).strftime("%Y-%m-%d")
    r = rc.call("registry.role.end", R.EndRoleRequest(role_id=maija_role, end_date=until))
    check(r.status.code == OK, "Maija's last day recorded ahead: " + until + " " + str(r.status))
    r = rc.call("registry.role.end", R.EndRoleRequest(role_id=pekka_role, end_date=DATE))
    check(r.status.code == OK, "Pekka's role ends on the digest's day " + str(r.status))
    r = rc.call("registry.coverage.gaps", R.CoverageGapsRequest())
    check(r.status.code == OK and "743" not in
          [m.code for m in body(r, R.CoverageGapsReply).municipalities],
          "the registry still counts 743 covered today")

    create(ec, key="e1", start_in_s=T_S - int(time.time()) + 3 * DAY,
           title="Kumppanuuspöytä: nuoret", municipality_code="743")
    create(ec, key="e2", start_in_s=T_S - int(time.time()) + 38 * DAY,
           title="Järjestöilta", municipality_code="743")

    p, nc, set_clock, start = kn.digest_notifier(s, smtp)
    set_clock(T_S - 3600)
    time.sleep(2.0)  # the notifier reads both logs
    check(smtp.count() == 0, "nothing before the digest moment")

    set_clock(T_S + 60)
    check(wait_for(lambda: len(kn.mails_to(smtp, PII[1])) == 1, 15),
          "Maija, whose role ends in 30 days, got this week's digest")
    time.sleep(1.0)
    check(not kn.mails_to(smtp, PII[3]), "Pekka, whose role ends today, got none")

    # five weeks on: Maija's role has ended (e2 is then 3 days ahead)
    set_clock(T_S + 35 * DAY + 60)
    time.sleep(3.0)
    check(len(kn.mails_to(smtp, PII[1])) == 1, "no digest once Maija's role has ended")
    log = p.logtext()
    check("digest.planned date=%s contacts=1" % DATE in log,
          "one contact planned on the first day")
finally:
    smtp.stop()
    s.close()
done()
