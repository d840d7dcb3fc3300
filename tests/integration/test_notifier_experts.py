# timeout: 180
"""Notifier, issue 6 point 1: expert messages from the expert-broker's log, with CURVE keys,
the real broker and a real SMTP server (aiosmtpd).

The broker's events carry ids only; the notifier asks the broker (broker.expert.get, with its
own `service` key) for the expert's address, name and language when a message is due:
- an offer arrives in the expert's language with how to answer and the deadline;
- OfferLapsingSoon sends a deadline reminder;
- accepting sends a confirmation (with an iCalendar part), the other open offer a withdrawal;
- a request nobody can fill sends a notice to the configured coordinator-email;
- an expert erased before the message was due gets nothing: the notification is cancelled
  with "expert-erased" (logged with ids only), not retried;
- a restart sends nothing twice; no name or address is in the notifier's record or log."""
import datetime
import time
import zoneinfo

import kp_notifier as kn
from kp_harness import OK, Suite, check, done, free_port
from kp_broker import B, HOUR_MS, file_request, get_request, open_offers, \
    register
from kp_notifier import N, Smtp, broker_args, keyed_args, start_keyed, text, wait_for, \
    with_broker

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")
COORD = "koordinaattori@example.org"

s = Suite(keys=True)
smtp = Smtp()
try:
    b = with_broker(s)

    a = register(b, "Aino Aaltonen", "aino.aaltonen@example.fi", languages=["fi"])
    bb = register(b, "Björn Berg", "bjorn.berg@example.fi", languages=["sv", "fi"])
    cc = register(b, "Carol Clark", "carol.clark@example.fi", languages=["en", "fi"])
    rq = file_request(b, "req-1", experts_needed=1, wave_size=3, title="Asiakasraati <Bcc:>")
    rid = rq.request.id
    offers = {o.expert_id: o for o in open_offers(b, rid)}
    check(set(offers) == {a.id, bb.id, cc.id}, "broker: a wave of three offers")
    # C is erased while the offer is out (the erasure also withdraws C's offer)
    r = b.call("broker.expert.erase", B.ExpertRef(expert_id=cc.id))
    check(r.status.code == OK, "broker: expert C erased")

    api = "tcp://127.0.0.1:%d" % free_port()
    pub = "tcp://127.0.0.1:%d" % free_port()
    args = keyed_args(s, smtp, api, pub) + broker_args(s, b) + [
        "--coordinator-email", COORD, "--coordinator-language", "en"]
    p, nc = start_keyed(s, api, args)

    def mails_to(addr):
        return kn.mails_to(smtp, addr)

    def status(key):
        return kn.status(nc, key)

    def when(ms, lang):
        t = datetime.datetime.fromtimestamp(ms / 1000, HEL)
        if lang == "en":
            return t.strftime("%Y-%m-%d %H:%M")
        return "%d.%d.%d %s %02d.%02d" % (t.day, t.month, t.year, "kl." if lang == "sv" else "klo",
                                          t.hour, t.minute)

    # ---- offers, in the expert's language, with how to answer and the deadline ----------------
    check(wait_for(lambda: mails_to("aino.aaltonen@example.fi")
                   and mails_to("bjorn.berg@example.fi"), 15), "offers arrived to A and B")
    ma = mails_to("aino.aaltonen@example.fi")
    check(len(ma) == 1 and ma[0]["Subject"].startswith("Tehtävätarjous: Asiakasraati"),
          "A's offer is in Finnish: " + str([m["Subject"] for m in ma]))
    ta = text(ma[0])
    oa = offers[a.id]
    check("Aino Aaltonen" in ta and when(oa.deadline_ms, "fi") in ta,
          "A's offer names A and the deadline " + when(oa.deadline_ms, "fi"))
    lk = kn.links(ta)
    check(len(lk) == 1 and lk[0][0] == "x" and "kumppani broker" not in ta and COORD in ta,
          "A's offer says how to answer: a personal link /x/ (not an admin command) and the "
          "coordinator's contact")
    got = kn.link_check(s, *lk[0]) if lk else None
    check(got == (oa.id, rid, oa.deadline_ms // 1000),
          "the link is the offer's (id = offer, ref = request), expires at the offer's deadline, "
          "and its MAC checks under the shared secret: %s" % (got,))
    check(ta.startswith("Hei Aino Aaltonen") and "Paikka: -" not in ta and "Kesto: 1 h 30 min"
          not in ta and "Kesto: 90 min" in ta and "Palkkio: 150,00 €" in ta
          and "Matkakulut: 20,00 €" in ta,
          "an offer without a place says nothing of a place, and shows duration, fee and "
          "travel costs:\n" + ta)
    check(ma[0]["Bcc"] is None and len(ma[0].get_all("To")) == 1,
          "a title with <Bcc:> adds no header")
    mb = mails_to("bjorn.berg@example.fi")
    check(len(mb) == 1 and mb[0]["Subject"].startswith("Uppdragserbjudande")
          and when(offers[bb.id].deadline_ms, "sv") in text(mb[0]),
          "B's offer is in Swedish with the deadline")

    # ---- the erased expert gets nothing, and it is not retried --------------------------------
    kc = "broker/o%d/offer/email" % offers[cc.id].id
    n = wait_for(lambda: (lambda x: x if x and x.state == N.NOTIFICATION_STATE_CANCELLED
                          else None)(status(kc)), 10)
    check(n is not None and any(at.result == "expert-erased" for at in n.attempts),
          "the erased expert's offer is cancelled with reason expert-erased")
    kw = "broker/o%d/withdrawn/email" % offers[cc.id].id
    n = wait_for(lambda: (lambda x: x if x and x.state == N.NOTIFICATION_STATE_CANCELLED
                          else None)(status(kw)), 10)
    check(n is not None, "the erased expert's withdrawal notice is cancelled too")
    check(not mails_to("carol.clark@example.fi"), "no mail at all to the erased expert")
    n = status("broker/o%d/offer/email" % oa.id)
    check(n is not None and n.state == N.NOTIFICATION_STATE_DELIVERED and n.address == ""
          and n.recipient_name == "" and n.expert_id == a.id and n.offer_id == oa.id,
          "a delivered expert message stores ids only, no address or name")

    # ---- accept: confirmation to A, withdrawal to B -------------------------------------------
    acc = b.ok("broker.offer.accept", B.OfferRef(offer_id=oa.id), B.OfferReply)
    check(wait_for(lambda: len(mails_to("aino.aaltonen@example.fi")) >= 2
                   and len(mails_to("bjorn.berg@example.fi")) >= 2, 15),
          "confirmation and withdrawal arrived")
    conf = [m for m in mails_to("aino.aaltonen@example.fi")
            if m["Subject"].startswith("Tehtävä vahvistettu")]
    check(len(conf) == 1, "A got one confirmation")
    check(any(part.get_content_type() == "text/calendar" for part in conf[0].walk()),
          "the confirmation carries an iCalendar part")
    wd = [m for m in mails_to("bjorn.berg@example.fi")
          if m["Subject"].startswith("Erbjudandet återkallat")]
    check(len(wd) == 1, "B got one withdrawal, in Swedish")
    n = status("broker/a%d/confirmed/email" % acc.assignment.id)
    check(n is not None and n.state == N.NOTIFICATION_STATE_DELIVERED,
          "the confirmation's key is the assignment's")

    # ---- lapsing soon: a reminder with the deadline -------------------------------------------
    rq2 = file_request(b, "req-2", experts_needed=1, wave_size=1, title="Työryhmä")
    o2 = open_offers(b, rq2.request.id)[0]
    who = {a.id: "aino.aaltonen@example.fi", bb.id: "bjorn.berg@example.fi"}[o2.expert_id]
    lang = "fi" if o2.expert_id == a.id else "sv"
    check(wait_for(lambda: status("broker/o%d/offer/email" % o2.id) is not None and
                   status("broker/o%d/offer/email" % o2.id).state
                   == N.NOTIFICATION_STATE_DELIVERED, 15), "the second offer was delivered")
    before = len(mails_to(who))
    b.advance(47 * HOUR_MS)
    o2b = [x for x in get_request(b, rq2.request.id).offers if x.id == o2.id][0]
    check(o2b.lapsing_soon_sent, "broker: offer lapsing soon")
    check(wait_for(lambda: len(mails_to(who)) > before, 15), "the deadline reminder arrived")
    rem = mails_to(who)[before:]
    subj = "Vastausaika" if lang == "fi" else "Svarstiden"
    check(len(rem) == 1 and rem[0]["Subject"].startswith(subj)
          and when(o2.deadline_ms, lang) in text(rem[0]),
          "one reminder, in the expert's language, with the deadline")

    # ---- unfilled: a notice to the coordinator ------------------------------------------------
    rq3 = file_request(b, "req-3", expertise=["rare-diseases"], title="Harvinaiset")
    st3 = get_request(b, rq3.request.id).request.state
    check(st3 == B.REQUEST_STATE_UNFILLED, "broker: nobody to ask, request unfilled")
    check(wait_for(lambda: mails_to(COORD), 15), "the coordinator got the unfilled notice")
    mc = mails_to(COORD)
    check(len(mc) == 1 and mc[0]["Subject"].startswith("Request unfilled: Harvinaiset")
          and ("kumppani broker explain %d" % rq3.request.id) in text(mc[0]),
          "the notice is in the coordinator's language and names a command that exists")

    # ---- restart: nothing twice ---------------------------------------------------------------
    total, settle_end = smtp.count(), time.time() + 10
    while time.time() < settle_end:  # every message due by now has gone out (the requester's
        time.sleep(1.0)              # notices may follow the coordinator's by a moment)
        if smtp.count() == total:
            break
        total = smtp.count()
    p.stop()
    p, nc = start_keyed(s, api, args)
    time.sleep(2.0)
    check(smtp.count() == total, "after a restart nothing is sent again (%d)" % total)

    # ---- no personal data in the notifier's log -----------------------------------------------
    log = p.logtext()
    leaked = [x for x in ["Aino Aaltonen", "aino.aaltonen", "Björn Berg", "bjorn.berg",
                          "Carol Clark", "carol.clark", COORD, "/x/", "/r/"] if x in log]
    leaked += [t for _, t in kn.links(ta) if t in log]
    check(not leaked, "no names or addresses in the notifier's log " + str(leaked))
    check("deliver.expert_erased" in log and ("expert=%d" % cc.id) in log,
          "the dropped message is logged with ids")
finally:
    smtp.stop()
    s.close()
done()
