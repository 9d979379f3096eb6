"""make run (deploy/demo-run.sh): on another port its printed commands reach
that port; a second demo while one runs fails with one line and touches
nothing; a new demo starts from a fresh store, so the commands do what
their comments say."""
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import time

import harness
from harness import test, check, eq, fail, pki, SLOW


def demo_env(port, ddir):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EENPLAN_"):
            del env[k]
    env.update(EENPLAN_DEMO_PORT=str(port), EENPLAN_DEMO_DIR=ddir,
               EENPLAN_DEMO_PKI=pki().dir)
    return env


class Demo:
    def __init__(self, port, ddir):
        self.port, self.ddir = port, ddir
        self.out = os.path.join(ddir + ".out")
        os.makedirs(ddir, exist_ok=True)
        self.f = open(self.out, "wb")
        self.p = subprocess.Popen(
            [os.path.join(harness.ROOT, "deploy/demo-run.sh"), harness.BUILD],
            stdout=self.f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=demo_env(port, ddir), start_new_session=True)

    def text(self):
        with open(self.out, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_banner(self, timeout=90):
        end = time.monotonic() + timeout * SLOW
        while "Ctrl-C stops the daemon" not in self.text():
            if self.p.poll() is not None:
                fail("demo exited %s before its banner:\n%s"
                     % (self.p.returncode, self.text()))
            if time.monotonic() > end:
                fail("no demo banner after %d s:\n%s" % (timeout, self.text()))
            time.sleep(0.2)
        return self.text()

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGINT)
            try:
                self.p.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.f.close()


def commands(banner):
    """[(comment, argv)] of the printed commands, each under its comment."""
    out, comment = [], ""
    for line in banner.splitlines():
        s = line.strip()
        if s.startswith("# "):
            comment = s[2:]
        elif re.match(r"^\S*eenplan\s", s) and "--as" in s:
            out.append((comment, shlex.split(s)))
    return out


def printed_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EENPLAN_"):
            del env[k]
    env["HOME"] = os.path.join(harness.RUN_DIR, "home")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return env


def start_printed(argv):
    """A printed command that keeps following, started in the background."""
    return subprocess.Popen(argv, cwd=harness.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=printed_env())


def run_printed(argv):
    """A printed command as another terminal would run it: in the tree,
    without the demo's environment."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EENPLAN_"):
            del env[k]
    env["HOME"] = os.path.join(harness.RUN_DIR, "home")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run(argv, cwd=harness.ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def demo_port():
    """A port p for the demo with p + 1 (its admin listener) free too, both
    below the kernel's ephemeral range: free_port() hands out ports from
    that range, and so does every outgoing connection of the other tests
    running meanwhile, which once took p + 1 between demo-run.sh's check
    and the daemon's bind ("admin listen ...: Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1025, low - 12000), low - 2)
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    fail("no free pair of ports below %d" % low)


@test
def demo_on_another_port():
    port = demo_port()
    ddir = os.path.join(harness.RUN_DIR, "demo")
    d = Demo(port, ddir)
    try:
        banner = d.wait_banner()
        check("127.0.0.1:%d" % port in banner, "banner lacks the port")
        cmds = commands(banner)
        check(len(cmds) >= 10, "printed commands: %r" % cmds)
        for _c, argv in cmds:
            check("--server" in argv and
                  argv[argv.index("--server") + 1] == "127.0.0.1:%d" % port,
                  "printed command does not name the port: %s"
                  % " ".join(argv))
        # Run them in order, as the comments tell; one that keeps following
        # ("a terminal of its own") runs beside the others until the end.
        results, following = [], []
        for c, argv in cmds:
            if "terminal of its own" in c and "--once" not in argv:
                following.append((argv, start_printed(argv)))
                time.sleep(1.0 * SLOW)
                continue
            results.append((c, argv, run_printed(argv)))
        by = {}
        for c, argv, r in results:
            key = (argv[argv.index("--as") + 1], argv[argv.index("--as") + 2])
            by.setdefault(key, []).append(r)
        time.sleep(1.0 * SLOW)
        for argv, p in following:
            p.terminate()
            out = p.communicate(timeout=30 * SLOW)[0].decode(errors="replace")
            if "watch" in argv:
                check("huurachterstand" in out and "revoked" in out,
                      "watch did not show the signal and the revoke: %r"
                      % out[-2000:])
        eq(by[("henk", "plan")][0][0], 0, "henk reads the plan")
        eq(by[("lev", "action")][0][0], 0, "LEV accepts its own action")
        eq(by[("senzer", "action")][0][0], 1, "Senzer may not")
        check("PERMISSION_DENIED" in by[("senzer", "action")][0][2],
              "Senzer's refusal: %r" % (by[("senzer", "action")][0],))
        eq(by[("savant", "plan")][0][0], 1, "Savant refused")
        # Issue 10 item 11: the household let in the gemeente's team bms
        # (financiën, read), not the whole gemeente.
        bms = by[("bms", "plan")][0]
        eq(bms[0], 0, "the BMS counsellor reads (%r)" % (bms,))
        check("your access: read, Financiën\n" in bms[1] and
              "Schulden stabiliseren" in bms[1],
              "the BMS counsellor's view: %r" % bms[1])
        for other in ("Henk vindt passend werk", "Wond aan het been",
                      "Huurachterstand", "Intakegesprek", "Werk & opleiding"):
            check(other not in bms[1], "the BMS counsellor sees %r outside "
                  "financiën:\n%s" % (other, bms[1]))
        w2 = by[("wmo2", "plan")][0]
        eq(w2[0], 1, "a Wmo-consulent outside team bms is refused")
        check(w2[2].startswith("eenplan: PERMISSION_DENIED: ") and
              w2[2] == by[("savant", "plan")][0][2] and w2[1] == "",
              "wmo2's refusal, as Savant's: %r vs %r"
              % (w2, by[("savant", "plan")][0]))
        check("to:        gemeente team bms" in by[("henk", "consent")][0][1],
              "Henk's consent list lacks the team: %r"
              % by[("henk", "consent")][0][1])
        hu = by[("huisarts", "plan")]
        eq((hu[0][0], hu[1][0]), (0, 1),
           "the GP reads, then not after the revoke")
        eq(by[("henk", "consent")][1][0], 0, "Henk revokes the GP's consent")

        # A second demo on the same port: one line, and the first is intact.
        d2 = Demo(port, os.path.join(harness.RUN_DIR, "demo2"))
        d2.p.wait(60 * SLOW)
        d2.stop()
        out = d2.text().strip().splitlines()
        check(d2.p.returncode != 0, "second demo exited 0")
        eq(len(out), 1, "second demo's output: %r" % out)
        check("port %d is in use" % port in out[0], "message: %r" % out)
        # A second demo on the same data (another port): one line too.
        d3 = Demo(demo_port(), ddir)
        d3.p.wait(60 * SLOW)
        d3.stop()
        out = d3.text().strip().splitlines()
        check(d3.p.returncode != 0, "third demo exited 0")
        eq(len(out), 1, "third demo's output: %r" % out)
        check("is in use by another eenpland" in out[0], "message: %r" % out)
        henk = [a for c, a in cmds if a[a.index("--as") + 1] == "henk"][0]
        eq(run_printed(henk)[0], 0, "the first demo after the others")
    finally:
        d.stop()
    # A new demo on the same directory starts afresh: the commands work again.
    d = Demo(port, ddir)
    try:
        banner = d.wait_banner()
        cmds = commands(banner)
        for c, argv in cmds:
            if argv[argv.index("--as") + 1] == "huisarts":
                eq(run_printed(argv)[0], 0, "the GP reads the new demo's "
                   "plan (consent not yet revoked)")
                break
        for c, argv in cmds:
            if argv[argv.index("--as") + 1] == "lev" and "action" in argv:
                eq(run_printed(argv)[0], 0, "LEV accepts its action again")
    finally:
        d.stop()
