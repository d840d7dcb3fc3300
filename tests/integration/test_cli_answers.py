# timeout: 180
"""What the CLI tells a coordinator or a script, read as they read it.

- a client without keys talking to a service that uses them times out, and then says where it
  looked for keys and how to give them (it used to say only "did not answer");
- a table command that fails prints nothing on stdout (no header a script reads as an answer);
- `registry roles` and `registry person` name a role's kind ("contact-person"), not a number,
  and show an organisation's id; `registry roles` without --municipality or --organisation is
  a usage error (exit 2) that says what to give;
- the broker's tables show states as words ("open", "accepted", "confirmed"), as the events
  commands do, not the schema's REQUEST_STATE_OPEN;
- an unknown field of activity in a CSV row, or an unknown expertise area, is refused with a
  pointer to the list of names; `broker expert-register --help` lists the areas;
- a CSV file saved as Windows-1252 is refused saying how to save it as UTF-8;
- `notifier optouts` tells the next page's --after only when the page is full, on stderr, with
  the channel by name, and takes that form back; an --after it cannot read is an error, not a
  list silently started again from the top."""
import datetime
import json
import os
import tempfile
import time
import zoneinfo

from kp_harness import OK, E, Suite, check, cli_runner, done, make_event, signup_req
from kp_broker import Broker
from kp_notifier import N, Smtp, notifier
from kp_registry import start_registry

# 1. Keys: a keyed events service, a client that found none.
s = Suite(keys=True)
try:
    s.events()
    adm = s.client(s.ev_api, "admin")
    check(adm.call("events.signup.submit", signup_req(make_event(adm), 1)).status.code == OK,
          "a sign-up, with a planted name")
    nokeys = tempfile.mkdtemp(prefix="kp-nokeys-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUMPPANI")}
    env.update(KUMPPANI_EVENTS_API=s.ev_api, KUMPPANI_HOME=nokeys)
    kp = cli_runner(env)
    rc, out, err = kp("events", "list", "--timeout", "300", "--attempts", "1")
    check(rc == 3, "no answer: exit 3 (%d)" % rc)
    check(out == "", "nothing on stdout, not even the table's header (%r)" % out)
    check("did not answer" in err and "without CURVE keys" in err
          and os.path.join(nokeys, "keys") in err and "--keys DIR" in err
          and "KUMPPANI_KEYS" in err,
          "the error says the keys were not found, where, and how to give them (%s)"
          % err.strip())
    rc, out, err = kp("--keys", "none", "events", "list", "--timeout", "300", "--attempts", "1")
    check(rc == 3 and "without CURVE keys" not in err,
          "plain TCP asked for with --keys none: no hint about keys (%s)" % err.strip())
    # The usage a newcomer reads first: every line fits a terminal, every command is named
    # once, status and metrics with what they do, the web among the services.
    rc, out, err = kp("--help")
    long_lines = [l for l in out.splitlines() if len(l) > 96]
    check(rc == 0 and not long_lines, "--help: no line wider than 96 columns (%s)"
          % (long_lines[:1] or err.strip()))
    check("  status    " in out and "every service up or down" in out and
          "  metrics    " in out and "  status ..." not in out and "  metrics ..." not in out,
          "--help: status and metrics say what they do")
    check("notifier,\nweb." in out and "web account-add ..." in out and
          out.count("broker request-file ...") == 1, "--help: the web is a service; each "
          "command once")
finally:
    s.close()

# 2. Registry and broker, plain TCP.
s = Suite()
try:
    start_registry(s)
    b = Broker(s).start()
    env = dict(os.environ, KUMPPANI_REGISTRY_API=s.reg_api, KUMPPANI_EXPERT_BROKER_API=b.api,
               KUMPPANI_KEYS="none")
    reg = cli_runner(env, "registry")
    brk = cli_runner(env, "broker")

    rc, out, err = reg("roles")
    check(rc == 2 and "--municipality" in err and "--organisation" in err and out == "",
          "roles without a target: usage error naming both options (%d: %s)" % (rc, err.strip()))
    rc, out, err = reg("person-add", "--name", "Marjatta Öhman", "--email",
                       "marjatta.ohman@example.fi", "--json")
    check(rc == 0, "person added (%s)" % err.strip())
    pid = str(json.loads(out)["person"]["id"])
    rc, out, err = reg("assign", "--person", pid, "--municipality", "743", "--from",
                       "2026-01-01")
    check(rc == 0 and "contact-person" in out and "kind 1" not in out,
          "assign: the kind by name (%s)" % out.strip())
    rc, out, err = reg("register", "--name", "Seinäjoen Kyläyhdistys", "--home", "743",
                       "--fields", "village", "--json")
    oid = str(json.loads(out)["organisation"]["id"])
    rc, out, err = reg("assign", "--person", pid, "--kind", "chair", "--organisation", oid,
                       "--from", "2026-01-01")
    check(rc == 0 and "chair" in out and ("org %s" % oid) in out,
          "assign to an organisation: kind and organisation id shown (%s)" % out.strip())
    rc, out, err = reg("roles", "--municipality", "743")
    rows = out.splitlines()
    check(rc == 0 and len(rows) == 2 and rows[1].split()[2] == "contact-person"
          and "Marjatta Öhman" in rows[1],
          "roles table: KIND is the kind's name (%s)" % out.replace("\n", " | "))
    rc, out, err = reg("person", pid)
    check(rc == 0 and "contact-person 743" in out and ("chair org %s" % oid) in out
          and "kind 1" not in out,
          "person: each role by kind and place (%s)" % out.replace("\n", " | "))

    d = tempfile.mkdtemp(prefix="kp-csv-")
    csv = os.path.join(d, "orgs.csv")
    with open(csv, "wb") as f:
        f.write("\ufeffname_fi;home_municipality;fields\r\nÄhtärin Eläkeläiset ry;989;elderly\r\n"
                .encode())
    rc, out, err = reg("import", csv, "--dry-run")
    check(rc == 4 and "line 2: column 'fields': item 1 is not a field of activity" in err
          and "kumppani registry register --help" in err,
          "CSV: an unknown field of activity points to the list (%s)" % err.strip())
    # A file with bad rows: the summary says what is true (the service counts nothing of it).
    with open(csv, "wb") as f:
        f.write("name_fi;home_municipality;fields\nHyvä Seura;989;village\n"
                "Huono Seura;989;knitting\n".encode())
    rc, out, err = reg("import", csv)
    check(rc == 4 and "2 rows: 1 invalid (nothing written; fix them or use --skip-invalid)"
          in out and "created" not in out,
          "CSV with a bad row: the summary adds up, nothing counted as created (%s)" % out.strip())
    # An empty file, a BOM alone, a header alone: no rows to import, said so (not "0 rows").
    for what, data in (("empty", b""), ("a BOM alone", "\ufeff".encode()),
                       ("a header alone", b"name_fi;home_municipality;fields\r\n")):
        with open(csv, "wb") as f:
            f.write(data)
        rc, out, err = reg("import", csv)
        check(rc == 2 and "%s: no rows to import" % csv in err and out == "",
              "CSV %s: refused, naming the file (%d %s)" % (what, rc, err.strip()))
    rc, out, err = reg("import", os.path.join(d, "missing.csv"))
    check(rc == 1 and "cannot open %s: No such file or directory" % os.path.join(d, "missing.csv")
          in err, "a missing file: named, with the reason (%s)" % err.strip())

    # Excel's plain "CSV" in Finland is Windows-1252: the row is refused saying how to save it.
    with open(csv, "wb") as f:
        f.write("name_fi;home_municipality;fields\r\nÄhtärin Äijät ry;989;village\r\n"
                .encode("cp1252"))
    rc, out, err = reg("import", csv, "--dry-run")
    check(rc == 4 and "line 2: column 1: not valid UTF-8 (save the file as \"CSV UTF-8\")" in err,
          "CSV in Windows-1252: says to save it as CSV UTF-8 (%s)" % err.strip())

    rc, out, err = brk("expert-register", "--help")
    check(rc == 0 and "rare-diseases" in out and "health-services" in out
          and "broker.proto (" not in out, "expert-register --help lists every area")
    rc, out, err = brk("expert-register", "--name", "Kaarina Ylinen", "--email",
                       "kaarina.ylinen@example.fi", "--org", "1", "--expertise", "mielenterveys",
                       "--consent")
    check(rc == 4 and "not an expertise area" in err and "expert-register --help" in err,
          "an unknown area points to the list (%s)" % err.strip())
    rc, out, err = brk("expert-register", "--name", "Kaarina Ylinen", "--email",
                       "kaarina.ylinen@example.fi", "--org", "1", "--expertise",
                       "mental-health", "--municipalities", "743", "--consent")
    check(rc == 0, "expert registered (%s)" % err.strip())
    # One expert in full, as a coordinator checks before an offer goes out.
    rc, out, err = brk("expert", "1")
    want = ["name           Kaarina Ylinen", "contact        kaarina.ylinen@example.fi",
            "expertise      mental-health", "municipalities 743", "remote         no",
            "available      any time", "monthly cap    none", "last assigned  never",
            "state          active"]
    check(rc == 0 and all(w in out.splitlines() for w in want),
          "broker expert: every field a coordinator checks (%s)" % out)
    year = time.localtime().tm_year + 1
    start, deadline = "%d-06-01 10:00" % year, "%d-05-20 12:00" % year
    rc, out, err = brk("request-file", "--purpose", "lecture", "--requester",
                       "Matti Meikäläinen", "--email", "matti.m@example.fi", "--title",
                       "Kokemuspuheenvuoro", "--expertise", "mental-health", "--start",
                       start, "--deadline", deadline, "--municipality",
                       "743")
    check(rc == 0 and "request 1  open  " in out and " open " in out.splitlines()[1]
          and "_STATE_" not in out, "request-file: states as words (%d %s %s)" % (rc, out, err))
    rc, out, err = brk("requests")
    check(rc == 0 and out.splitlines()[1].split()[1] == "open" and "_STATE_" not in out,
          "requests table: state as a word (%s)" % out)
    rc, out, err = brk("offer-accept", "1")
    check(rc == 0 and "accepted" in out and "_STATE_" not in out,
          "offer-accept: accepted (%s)" % out)
    rc, out, err = brk("assignments")
    check(rc == 0 and " confirmed " in out and "_STATE_" not in out,
          "assignments: confirmed (%s)" % out)
    # A confirmed assignment has no minutes or fee yet (completing records them): its row
    # gives the start, not "min 0 fee 0.00" that reads as unpaid work.
    check("start %s" % start in out and "fee" not in out and "min 0" not in out,
          "assignments: a confirmed one shows its start and no fee (%s)" % out.strip())
    start_s = datetime.datetime.strptime(start, "%Y-%m-%d %H:%M").replace(
        tzinfo=zoneinfo.ZoneInfo("Europe/Helsinki")).timestamp()
    b.set_offset(int((start_s + 3 * 3600 - time.time()) * 1000))
    rc, out, err = brk("assignment-complete", "1", "--minutes", "90", "--fee-cents", "15000",
                       "--travel-cents", "1250")
    check(rc == 0, "assignment completed after its start (%s)" % err.strip())
    rc, out, err = brk("assignments")
    check(rc == 0 and " completed " in out and "min 90 fee 150.00 travel 12.50" in out,
          "assignments: a completed one shows minutes, fee and travel (%s)" % out.strip())
finally:
    s.close()

# 3. The notifier's opt-out list.
s = Suite()
smtp = Smtp()
try:
    s.events()
    notifier(s, smtp)
    ntf = cli_runner(dict(os.environ, KUMPPANI_NOTIFIER_API=s.ntf_api, KUMPPANI_KEYS="none"),
                     "notifier")
    for addr, ch in (("orjan@example.se", "email"), ("+358 40 7654321", "sms"),
                     ("+358 50 1112223", "sms")):
        rc, out, err = ntf("optout", addr, "--channel", ch)
        check(rc == 0 and "opted out" in out, "opt-out %s (%s)" % (ch, err.strip()))
    rc, out, err = ntf("optouts")
    check(rc == 0 and len(out.splitlines()) == 4 and "next page" not in out + err,
          "the whole list on one page: no next page offered (%r %r)" % (out, err))
    rc, out, err = ntf("optouts", "--limit", "2")
    check(rc == 0 and len(out.splitlines()) == 3 and "next page" not in out
          and "--after 'sms:+358407654321'" in err,
          "a full page: the next page's --after on stderr, channel by name (%r %r)" % (out, err))
    rc, out, err = ntf("optouts", "--after", "sms:+358 40 7654321")
    check(rc == 0 and out.splitlines()[1:] == ["SMS      +358501112223"],
          "--after sms:ADDRESS continues after it (%r %s)" % (out, err.strip()))
    rc, out2, err = ntf("optouts", "--after", "2:+358 40 7654321")
    check(rc == 0 and out2 == out, "the channel's number works as well (%r)" % out2)
    rc, out, err = ntf("optouts", "--after", "+358 40 7654321")
    check(rc == 2 and "CHANNEL:ADDRESS" in err and out == "",
          "an --after without a channel is a usage error (%d %s)" % (rc, err.strip()))
    r = s.client(s.ntf_api, server="notifier").call(
        "notifier.optouts", N.OptOutListRequest(after_address="sms:+358 40 7654321"))
    check(r.status.code == E.CODE_INVALID and "after_address" in r.status.message,
          "the service refuses an after_address it cannot read (%s)" % r.status.message)
finally:
    s.close()
    smtp.stop()
done()
