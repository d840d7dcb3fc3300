# timeout: 180
"""The notifier and the people of the expert broker (issue 16, Notifier), with the real broker
over CURVE, a real SMTP server (aiosmtpd) and a real SMS gateway receiver:

- the requester (the request's contact person, asked from the broker when sending) is told
  when the request is filed, when an expert is confirmed (with the expert's name and e-mail as
  the broker discloses them), when it goes unfilled and when it is cancelled; each message
  carries the requester's own link <web-url>/r/<token>;
- an expert with only a phone number gets the offer by SMS (through the gateway's credentials,
  sms-user and sms-password), with the personal link /x/<token>;
- an expert whose confirmed assignment is cancelled is told, with an iCalendar CANCEL of the
  same UID and a higher SEQUENCE, and so is the requester (with the request's link); two
  assignments have two UIDs; an expert's confirmation carries her own page /x/<token>;
- no name, address or token on the notifier's log."""
import base64
import email
import email.policy
import re

import kp_notifier as kn
from kp_harness import OK, Suite, check, done, free_port
from kp_broker import B, file_request, open_offers, register
from kp_notifier import Http, Smtp, start_keyed, text, wait_for, with_broker

COORD = "koordinaattori@example.org"
REQ = "tilaaja@example.fi"  # kp_broker.request_input's contact person

s = Suite(keys=True)
smtp = Smtp()
http = Http()
try:
    b = with_broker(s)
    a = register(b, "Aino Aaltonen", "aino.aaltonen@example.fi", languages=["fi"])
    ph = register(b, "Puhelin Pirkko", "", phone="+358401234567", expertise=["youth"])

    api = "tcp://127.0.0.1:%d" % free_port()
    pub = "tcp://127.0.0.1:%d" % free_port()
    args = kn.keyed_args(s, smtp, api, pub) + kn.broker_args(s, b) + [
        "--coordinator-email", COORD, "--coordinator-language", "en",
        "--sms-url", http.url("/sms"), "--sms-user", "kumppani", "--sms-password", "gw-pass",
        "--quiet-from-h", "0", "--quiet-to-h", "0"]
    p, nc = start_keyed(s, api, args)

    def mails(addr, word=""):
        return [m for m in kn.mails_to(smtp, addr) if word in str(m["Subject"])]

    def ical(m):
        parts = [x for x in m.walk() if x.get_content_type() == "text/calendar"]
        return parts[0].get_content() if parts else ""

    tokens = []

    def link_of(t, letter, what):
        lk = kn.links(t)
        check(len(lk) == 1 and lk[0][0] == letter, what + ": one personal link /%s/" % letter)
        if lk:
            tokens.append(lk[0][1])
            return kn.link_check(s, *lk[0])
        return None

    # ---- filed: the requester is told, with the request's own page ------------------------------
    r1 = file_request(b, "rq-1", title="Asiakasraati", experts_needed=1, wave_size=1).request
    check(wait_for(lambda: mails(REQ, "vastaanotettu"), 15), "the requester: request received")
    t = text(mails(REQ, "vastaanotettu")[0])
    check(t.startswith("Hei Seinäjoen kaupunki,"),
          "a request without a contact person's name greets the requester:\n" + t[:60])
    pv = kn.body(nc.call("notifier.preview", kn.N.NotificationRef(
        key="broker/r%d/filed/email" % r1.id)), kn.N.PreviewReply)
    check(pv.body_text.startswith("Hei N.N.,"),
          "the preview, without the name asked at delivery, greets N.N.:\n" + pv.body_text[:40])
    got = link_of(t, "r", "the filed notice")
    check(got is not None and got[:2] == (r1.id, 0), "the link is the request's: %s" % (got,))

    # ---- confirmed: the expert, and the requester with the expert's details ---------------------
    o1 = open_offers(b, r1.id)[0]
    check(o1.expert_id == a.id, "the offer went to Aino")
    acc = b.ok("broker.offer.accept", B.OfferRef(offer_id=o1.id), B.OfferReply)
    as1 = acc.assignment.id
    check(wait_for(lambda: mails(REQ, "Asiantuntija vahvistettu")
                   and mails("aino.aaltonen@example.fi", "Tehtävä vahvistettu"), 15),
          "the requester and the expert are told of the confirmation")
    t = text(mails(REQ, "Asiantuntija vahvistettu")[0])
    check("Asiantuntija: Aino Aaltonen" in t and "aino.aaltonen@example.fi" in t,
          "the requester's confirmation names the expert and her e-mail:\n" + t)
    link_of(t, "r", "the requester's confirmation")
    # The expert's confirmation carries her own page (the offer's, which shows the assignment),
    # valid past the assignment's start.
    t = text(mails("aino.aaltonen@example.fi", "Tehtävä vahvistettu")[0])
    check("Omalla sivullasi näet tehtäväsi:" in t, "the expert's confirmation points to her page")
    got = link_of(t, "x", "the expert's confirmation")
    check(got is not None and got[:2] == (o1.id, r1.id) and got[2] > r1.input.start_unix,
          "the expert's link is her offer's and lasts past the start: %s" % (got,))
    ic1 = ical(mails("aino.aaltonen@example.fi", "Tehtävä vahvistettu")[0])
    check("UID:assignment-%d@kumppani" % as1 in ic1 and "SEQUENCE:0" in ic1,
          "the assignment's calendar entry has its own UID, SEQUENCE 0")

    # ---- a second assignment: another UID -------------------------------------------------------
    r2 = file_request(b, "rq-2", title="Työryhmä", experts_needed=1, wave_size=1).request
    o2 = open_offers(b, r2.id)[0]
    as2 = b.ok("broker.offer.accept", B.OfferRef(offer_id=o2.id), B.OfferReply).assignment.id
    check(wait_for(lambda: len(mails("aino.aaltonen@example.fi", "Tehtävä vahvistettu")) == 2,
                   15), "the second confirmation arrived")
    uids = {re.search(r"UID:(\S+)", ical(m)).group(1)
            for m in mails("aino.aaltonen@example.fi", "Tehtävä vahvistettu")}
    check(uids == {"assignment-%d@kumppani" % as1, "assignment-%d@kumppani" % as2},
          "two assignments, two calendar UIDs: %s" % uids)

    # ---- the expert's confirmed assignment is cancelled: she is told ---------------------------
    r = b.call("broker.assignment.cancel", B.CancelAssignmentRequest(
        assignment_id=as1, by="coordinator", reason="tila peruttu"))
    check(r.status.code == OK, "assignment cancelled by the coordinator")
    check(wait_for(lambda: mails("aino.aaltonen@example.fi", "Tehtävä peruttu"), 15),
          "the expert is told her assignment is cancelled")
    ic = ical(mails("aino.aaltonen@example.fi", "Tehtävä peruttu")[0])
    check("UID:assignment-%d@kumppani" % as1 in ic and "SEQUENCE:1" in ic
          and "METHOD:CANCEL" in ic and "STATUS:CANCELLED" in ic,
          "the cancellation's calendar entry: same UID, SEQUENCE 1, CANCEL")
    # ... and the requester, who was told of the expert, is told she is not coming.
    check(wait_for(lambda: mails(REQ, "Asiantuntijan tehtävä peruttu"), 15),
          "the requester is told the confirmed expert's assignment is cancelled")
    t = text(mails(REQ, "Asiantuntijan tehtävä peruttu")[0])
    check("pyyntöösi %d" % r1.id in t and "tila peruttu" not in t,
          "the requester's notice names the request, not the reason (free text):\n" + t)
    got = link_of(t, "r", "the requester's cancellation notice")
    check(got is not None and got[0] == r1.id, "the link is the request's: %s" % (got,))

    # ---- a request cancelled: the requester is told --------------------------------------------
    r3 = file_request(b, "rq-3", title="Paneeli kolme", experts_needed=1, wave_size=1).request
    r = b.call("broker.request.cancel", B.CancelBrokerRequestRequest(request_id=r3.id,
                                                                      reason="ei tarvita"))
    check(r.status.code == OK, "request cancelled")
    check(wait_for(lambda: mails(REQ, "Pyyntö peruttu"), 15), "the requester: cancelled")
    link_of(text(mails(REQ, "Pyyntö peruttu")[0]), "r", "the cancellation")

    # ---- unfilled: the requester is told, and the coordinator --------------------------------
    r4 = file_request(b, "rq-4", title="Harvinaiset", expertise=["rare-diseases"]).request
    # (the request of the cancelled assignment went unfilled before: nobody else to ask)
    check(wait_for(lambda: [m for m in mails(COORD) if "Harvinaiset" in str(m["Subject"])]
                   and [m for m in mails(REQ, "Pyyntöä ei voitu täyttää")
                        if "Harvinaiset" in str(m["Subject"])], 15),
          "the requester and the coordinator: unfilled")
    check(any("kumppani broker explain %d" % r4.id in text(m) for m in mails(COORD)),
          "the coordinator's notice names a command that exists")

    # ---- an expert with only a phone: the offer by SMS with her link --------------------------
    r5 = file_request(b, "rq-5", title="Nuorten raati", expertise=["youth"]).request
    o5 = open_offers(b, r5.id)[0]
    check(o5.expert_id == ph.id, "the offer went to the expert who has only a phone")
    check(wait_for(lambda: http.ok("/sms"), 15), "the offer went by SMS")
    got = http.ok("/sms")[0]
    sms = got[2].decode()
    check("+358401234567" in sms and "Tehtävätarjous: Nuorten raati" in sms,
          "the SMS names the number and the offer")
    lk = link_of(sms, "x", "the SMS offer")
    check(lk is not None and lk[:2] == (o5.id, r5.id), "the SMS link is the offer's")
    auth = got[1].get("Authorization", "")
    check(auth == "Basic " + base64.b64encode(b"kumppani:gw-pass").decode(),
          "the gateway got its credentials (sms-user, sms-password)")
    n = kn.status(nc, "broker/o%d/offer/email" % o5.id)
    check(n is not None and n.channel == kn.N.CHANNEL_SMS and n.address == "",
          "the record says SMS and keeps no number")

    # ---- no personal data or token on the notifier's log -------------------------------------
    log = p.logtext()
    leaked = [x for x in ["Aino Aaltonen", "aino.aaltonen", "Pirkko", "+358401234567", REQ,
                          COORD, "gw-pass"] + tokens if x in log]
    check(tokens and not leaked, "no names, addresses, secrets or tokens on the log %s" % leaked)
finally:
    smtp.stop()
    http.stop()
    s.close()
done()
