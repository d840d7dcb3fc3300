# timeout: 240
"""docker-compose.yml, checked against the build (no Docker engine needed).

- Debian's `docker-compose config` accepts it;
- every service's command is a program `cmake --install` puts into the image's bin directory;
- every KP_<SETTING> of a service's environment is a --<setting> its program knows;
- every volume a service mounts is declared, and every service has its own store volume;
- every service's health check, run exactly as written (paths and ports mapped onto this
  machine), gets a healthy answer from the real service started with the compose
  environment and keys laid out as the containers see them (secrets, read-only public keys)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import yaml

from kp_harness import BIN, check, done, free_port, stop_popen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.dirname(os.path.dirname(BIN))  # <build>/tests/integration/bin -> <build>/tests
BUILD = os.path.dirname(BUILD)
work = tempfile.mkdtemp(prefix="kp-compose-")
procs = []
scrape = {}
try:
    # The key layout an operator makes before the first start.
    priv = os.path.join(work, "keys", "private")
    pub = os.path.join(work, "keys", "public")
    os.makedirs(priv)
    os.makedirs(pub)
    services = ["registry", "events", "expert-broker", "notifier"]
    for s in services + ["cli"]:
        subprocess.check_call([os.path.join(BIN, "kumppani"), "keygen", s, "--dir", work],
                              stdout=subprocess.DEVNULL)
        shutil.move(os.path.join(work, s + ".pub"), os.path.join(pub, s + ".pub"))
        shutil.move(os.path.join(work, s + ".key"), os.path.join(priv, s + ".key"))
    # The personal-link secret the web and the notifier share (README "Keys").
    with open(os.path.join(priv, "web-link.secret"), "w") as f:
        f.write(os.urandom(32).hex())
    os.chmod(os.path.join(priv, "web-link.secret"), 0o600)
    with open(os.path.join(pub, "allow"), "w") as f:
        f.write("%s admin\n" % open(os.path.join(pub, "cli.pub")).read().strip())
        for s in services:
            f.write("%s service\n" % open(os.path.join(pub, s + ".pub")).read().strip())

    r = subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "docker-compose.yml"),
                        "--project-directory", work, "config"], capture_output=True, text=True)
    check(r.returncode == 0, "docker-compose config accepts the file (%s)" % r.stderr.strip()[:200])
    cfg = yaml.safe_load(r.stdout)
    # The four bus services, the web and the TLS proxy in front of it.
    check(sorted(cfg["services"]) == sorted(services + ["web", "web-tls"]),
          "one container per service, plus the web and its TLS proxy")

    # What the image would hold: cmake --install of this build.
    prefix = os.path.join(work, "prefix")
    subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                   capture_output=True)
    installed = set(os.listdir(os.path.join(prefix, "bin")))
    check("kumppani" in installed, "the CLI the health checks use is installed")

    # The web: its program is installed and every KP_ setting is one of its flags.
    wsc = cfg["services"]["web"]
    wprog = wsc["command"][0]
    check(wprog in installed, "web: its program %s is installed into the image" % wprog)
    whelp = subprocess.run([os.path.join(BIN, wprog), "--help"], capture_output=True,
                           text=True).stdout
    wunknown = [k for k in wsc.get("environment", {}) if k.startswith("KP_") and
                "--%s " % k[3:].lower().replace("_", "-") not in whelp]
    check(not wunknown, "web: every KP_ setting is a flag of %s %s" % (wprog, wunknown or ""))

    ports = {}

    def port_of(p):
        if p not in ports:
            ports[p] = free_port()
        return ports[p]

    def local_ep(v):
        # tcp://*:7201 and tcp://events:7201 -> a free loopback port per compose port.
        m = re.match(r"tcp://([^:]+):(\d+)$", v)
        return "tcp://127.0.0.1:%d" % port_of(int(m.group(2))) if m else v

    def local_path(v, svc):
        v = v.replace("/run/kumppani/public", pub).replace("/run/secrets", os.path.join(work, "secrets-" + svc))
        # A bind mount of the checkout (the operator's template files): the checkout's path.
        # (config writes it under the project directory, here work/).
        for vol in cfg["services"][svc].get("volumes", []):
            host, target = (vol.split(":") + [""])[:2] if isinstance(vol, str) else ("", "")
            if host.startswith(work + "/services/"):
                v = v.replace(target, os.path.join(ROOT, os.path.relpath(host, work)))
        return v.replace("/var/lib/kumppani", os.path.join(work, "var-" + svc))

    for svc in services:
        sc = cfg["services"][svc]
        prog = sc["command"][0]
        check(prog in installed, "%s: its program %s is installed into the image" % (svc, prog))
        helptext = subprocess.run([os.path.join(BIN, prog), "--help"], capture_output=True,
                                  text=True).stdout
        env = sc.get("environment", {})
        unknown = [k for k in env if k.startswith("KP_") and
                   "--%s " % k[3:].lower().replace("_", "-") not in helptext]
        check(not unknown, "%s: every KP_ setting is a flag of %s %s" % (svc, prog, unknown or ""))
        vols = []
        for v in sc.get("volumes", []):
            src = v.get("source") if isinstance(v, dict) else v.split(":")[0]
            if src and not src.startswith(("/", ".")):
                vols.append(src)
        check(any(v.endswith("-store") for v in vols) and all(v in cfg["volumes"] for v in vols),
              "%s: its own named store volume, declared" % svc)
        check(sc.get("restart") in ("unless-stopped", "always", "on-failure"),
              "%s: a restart policy" % svc)
        # Secrets as the container sees them: /run/secrets/<target>.
        sdir = os.path.join(work, "secrets-" + svc)
        os.makedirs(sdir, exist_ok=True)
        for sec in sc.get("secrets", []):
            src = cfg["secrets"][sec["source"]]["file"]
            shutil.copy(src, os.path.join(sdir, sec.get("target", sec["source"])))
        os.makedirs(os.path.join(work, "var-" + svc, "metrics"), exist_ok=True)
        args = [os.path.join(BIN, prog)]
        for k, v in env.items():
            if not k.startswith("KP_") or v in ("", None):
                continue
            v = str(v)
            v = local_ep(v) if v.startswith("tcp://") else local_path(v, svc)
            if k in ("KP_SMTP_URL",):
                v = "smtp://127.0.0.1:%d" % free_port()
            if k in ("KP_SMTP_TLS",):
                v = "off"
            if k == "KP_METRICS_HTTP":  # each container has its own address; here, loopback
                v = "127.0.0.1:%d" % free_port()
                scrape[svc] = "http://%s/metrics" % v
            args += ["--" + k[3:].lower().replace("_", "-"), v]
        log = open(os.path.join(work, svc + ".log"), "ab")
        procs.append((svc, subprocess.Popen(args, stdout=log, stderr=log)))

    time.sleep(1)
    for svc, p in procs:
        hc = cfg["services"][svc]["healthcheck"]["test"]
        check(hc[0] == "CMD" and hc[1] in installed, "%s: health check runs an installed program" % svc)
        cmd = [os.path.join(BIN, hc[1])]
        for a in hc[2:]:
            cmd.append(local_ep(a) if a.startswith("tcp://") else local_path(a, svc))
        ok = False
        end = time.time() + 20
        while time.time() < end and not ok:
            ok = subprocess.run(cmd, capture_output=True, text=True, timeout=30).returncode == 0
            if not ok:
                time.sleep(0.5)
        check(ok and p.poll() is None, "%s: its health check, as written, asks the service itself and passes" % svc)
        try:
            with urllib.request.urlopen(scrape[svc], timeout=5) as r:
                text = r.read().decode()
        except (KeyError, OSError) as e:
            text = str(e)
        check('kumppani_log_head_seq{service="%s"}' % svc in text,
              "%s: Prometheus scrapes it over HTTP (KP_METRICS_HTTP)" % svc)
finally:
    stop_popen(p for _, p in procs)
    if not os.environ.get("KP_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
done()
