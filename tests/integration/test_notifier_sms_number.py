# timeout: 120
"""Notifier: an SMS goes to the gateway with the number in international form.

People type their phone number on a sign-up form as they say it ("040 765 4321"); SMS
gateways take it as +358407654321. Real events and notifier, a real HTTP gateway receiver,
the notifier's clock at noon (outside the quiet hours):

- a Swedish phone-only sign-up typed "040 765 4321": the gateway gets "to":"+358407654321"
  and the Swedish confirmation;
- one typed "+358 50 111 2233" and one "00358 45 123 4567" likewise in one form;
- the preview of the SMS shows the same body."""
import datetime
import json
import time
import zoneinfo

import kp_notifier as kn
from kp_events import V, create
from kp_harness import OK, PII, Suite, check, done
from kp_notifier import Http, Smtp, wait_for

HEL = zoneinfo.ZoneInfo("Europe/Helsinki")

s = Suite()
smtp, http = Smtp(), Http()
try:
    s.events()
    kn.notifier(s, smtp, http)
    ec = s.client(s.ev_api, "admin", server="events")
    noon = (datetime.datetime.now(HEL) + datetime.timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0)
    kn.set_clock(s, int((noon.timestamp() - time.time()) * 1000))
    ev = create(ec, key="e1", start_in_s=10 * 86400, title="Kumppanuuspöytä Lapua",
                municipality_code="408")
    typed = {"sms-1": ("040 765 4321", "+358407654321", "sv"),
             "sms-2": ("+358 50 111 2233", "+358501112233", "fi"),
             "sms-3": ("00358 45 123 4567", "+358451234567", "en")}
    for ext, (phone, _, lang) in typed.items():
        r = ec.call("events.signup.submit", V.SubmitSignupRequest(
            event_id=ev.id, source="county-portal", external_id=ext, name=PII[0],
            phone=phone, language=lang, role=V.ROLE_RESIDENT))
        check(r.status.code == OK, "phone-only sign-up %s accepted" % ext)

    check(wait_for(lambda: len(http.ok("/sms")) == 3, 20), "three SMS at the gateway")
    got = {}
    for _, _, data, _ in http.ok("/sms"):
        j = json.loads(data)
        got[j["to"]] = j["text"]
    for phone, want, _ in typed.values():
        check(want in got, "%r goes to the gateway as %s (got %s)" % (phone, want, sorted(got)))
    check("Anmälan bekräftad" in got.get("+358407654321", ""),
          "the Swedish confirmation: " + got.get("+358407654321", ""))

finally:
    s.close()
    smtp.stop()
    http.stop()
done()
