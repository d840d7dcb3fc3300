# timeout: 120
"""SMTP with STARTTLS and authentication from configuration: an aiosmtpd server that offers
STARTTLS (a throwaway certificate for 127.0.0.1) and requires AUTH over TLS gets the message,
in a TLS session, from the configured user; a wrong password never delivers (retried, then a
dead letter)."""
import os
import ssl
import subprocess
import time

from aiosmtpd.smtp import AuthResult

from kp_harness import OK, V, Suite, body, check, done, free_port, signup_req, make_event
from kp_notifier import N, Smtp, notifier, wait_for


def tls_smtp(cert, key):
    """An SMTP sink that offers STARTTLS with the certificate and requires AUTH as kumppani /
    salasana."""
    def auth(server, session, envelope, mechanism, data):
        ok = data.login == b"kumppani" and data.password == b"salasana"
        return AuthResult(success=ok, auth_data=data.login)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return Smtp(tls_context=ctx, require_starttls=True, auth_required=True, authenticator=auth)


s = Suite()
cert = os.path.join(s.dir, "cert.pem")
key = os.path.join(s.dir, "key.pem")
subprocess.check_call(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                       "-keyout", key, "-out", cert], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
smtp = tls_smtp(cert, key)
try:
    s.events()
    notifier(s, smtp, extra=["--smtp-ca-file", cert, "--smtp-user", "kumppani",
                             "--smtp-password", "salasana", "--retry-max", "2"])
    c = s.client(s.ev_api)
    eid = make_event(c)
    check(c.call("events.signup.submit", signup_req(eid, 1)).status.code == OK, "sign-up")
    check(wait_for(lambda: smtp.count() == 1, 20), "the confirmation arrived over STARTTLS")
    if smtp.messages:
        (tls, login), (_, raw) = smtp.sessions[0], smtp.messages[0]
        check(tls, "the session was TLS")
        check(login == b"kumppani", "authenticated as the configured user")
        check(b"Message-ID:" in raw, "a whole message")
    s.procs[-1].stop()

    # A wrong password: never delivered, ends as a dead letter.
    s2 = Suite()
    s2.ev_api, s2.ev_pub = s.ev_api, s.ev_pub
    notifier(s2, smtp, extra=["--smtp-ca-file", cert, "--smtp-user", "kumppani",
                              "--smtp-password", "väärä", "--retry-max", "2"])
    nc = s2.client(s2.ntf_api, server="notifier")

    def dead():
        r = nc.call("notifier.dead.list", N.ListNotificationsRequest())
        return body(r, N.ListNotificationsReply).notifications if r.status.code == OK else []

    check(wait_for(lambda: len(dead()) >= 1, 20), "wrong password: a dead letter")
    check(smtp.count() == 1, "and nothing delivered")
    s2.close()
finally:
    s.close()
    smtp.ctl.stop()
done()
