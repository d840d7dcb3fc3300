"""What the tests of scripts/suite share: the script's path, a free range of ports for it, and
running it with an environment."""
import os
import random
import signal
import socket
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE = os.path.join(ROOT, "scripts", "suite")


def free_base():
    """A KUMPPANI_PORT_BASE whose every port the suite binds is free now."""
    for _ in range(50):
        # Below the kernel's ephemeral range (32768-60999), where other tests' connections and
        # free_port() land: a port taken there for a moment made the web fail to bind.
        base = random.randrange(20, 31) * 1000
        ok = True
        # Every port the suite binds at BASE: the bus services, the web's API and its HTTP.
        for off in (101, 102, 201, 202, 301, 302, 401, 402, 501, 502, 1080):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + off))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no free port range")


def run_suite(env, *args, timeout=90):
    """scripts/suite with args under env: (exit code, stdout, stderr)."""
    p = subprocess.run([SUITE] + list(args), env=env, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def kill_leftovers(home):
    """SIGKILLs every service a failed run left behind under home (its run/*.pid files): the
    services run in their own sessions, so they outlive a test that died."""
    rundir = os.path.join(home, "run")
    for f in (os.listdir(rundir) if os.path.isdir(rundir) else []):
        if f.endswith(".pid"):
            try:
                os.kill(int(open(os.path.join(rundir, f)).read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
