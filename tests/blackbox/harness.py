#!/usr/bin/env python3
"""Black-box test harness for eenpland: the real daemon, real TLS, a fresh
PKI made by certs/mkpki.sh, the real eenplan CLI and a raw TLS client for
hand-made frames. Standard library only.

    python3 tests/blackbox/harness.py BUILD_DIR [NAME_FILTER...]

Tests live in tests/blackbox/test_*.py, one file per concern, and register
with @test. Each prints "ok NAME" or "FAIL NAME: reason"; the run ends with
"N passed, N failed". EENPLAN_VALGRIND=1 runs every daemon under valgrind;
EENPLAN_BB_KEEP=1 keeps the run's temp dir (it is kept anyway on failure).
"""
import glob
import importlib
import json as jsonlib
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VALGRIND = os.environ.get("EENPLAN_VALGRIND", "") not in ("", "0")
SLOW = 8.0 if VALGRIND else 1.0      # timeouts are multiplied by this
# The ASan+UBSan build (make check sets it): heavy tests may run smaller.
SANITIZED = os.environ.get("EENPLAN_SANITIZED", "") not in ("", "0")
# One test, wall clock; EENPLAN_BB_TEST_TIMEOUT=S for long runs (make crash).
TEST_TIMEOUT = int(int(os.environ.get("EENPLAN_BB_TEST_TIMEOUT", "120")) * SLOW)

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "LeakSanitizer", "ERROR: ThreadSanitizer",
                   "==ERROR:", "SUMMARY: AddressSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer",
                   "memory accounting:")     # eenpland's own check at exit

BUILD = None      # absolute build dir, set by main()
RUN_DIR = None    # this run's temp dir


class Failure(Exception):
    """A test's expectation did not hold."""


class Skip(Exception):
    """A test that cannot run here (not root, a tool missing): its reason
    is printed as "skip NAME: reason"."""


def fail(msg):
    raise Failure(msg)


def skip(reason):
    raise Skip(reason)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure("%s: expected %r, got %r" % (what, want, got))


def wait_until(pred, timeout, what, step=0.1):
    """Polls pred() until it returns a true value; fails after timeout s."""
    end = time.monotonic() + timeout * SLOW
    last = None
    while True:
        try:
            last = pred()
        except Failure:
            last = None
        if last:
            return last
        if time.monotonic() > end:
            fail("timed out after %.0f s waiting for %s" % (timeout * SLOW, what))
        time.sleep(step)


# ------------------------------------------------------------------ registry

TESTS = []


def test(fn):
    """Registers a test function; its name is module.function."""
    mod = fn.__module__.replace("test_", "", 1)
    TESTS.append(("%s.%s" % (mod, fn.__name__), fn))
    return fn


def budget(seconds):
    """Below @test: a test that may take longer than TEST_TIMEOUT (wall
    clock, times SLOW), say one that opens hundreds of store images."""
    def mark(fn):
        fn.budget = seconds
        return fn
    return mark


# ------------------------------------------------------------------ PKI

class Pki:
    """A PKI made by certs/mkpki.sh in DIR; extra leaves issued on demand."""

    def __init__(self, path):
        self.dir = path
        self.lock = threading.Lock()
        sh(os.path.join(ROOT, "certs/mkpki.sh"), path)

    def cert(self, name):
        return os.path.join(self.dir, "people", name + ".crt")

    def key(self, name):
        return os.path.join(self.dir, "people", name + ".key")

    @property
    def root(self):
        return os.path.join(self.dir, "ca", "root.crt")

    def leaf(self, name, org, role, subject, *extra):
        """Issues people/NAME.crt once (issue.sh DIR ORG ROLE SUBJECT NAME ...)."""
        with self.lock:
            if not os.path.exists(self.cert(name)):
                sh(os.path.join(ROOT, "certs/issue.sh"), self.dir, org, role,
                   subject, name, *extra)
        return name

    def revoke(self, name):
        return sh(os.path.join(ROOT, "certs/revoke.sh"), self.dir, name).strip()


def sh(*argv, env=None, timeout=120):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    if p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                   p.stderr.decode(errors="replace").strip()))
    return p.stdout.decode(errors="replace")


_pki = None
_other_pki = None


def pki():
    """The run's PKI (made once)."""
    global _pki
    if _pki is None:
        _pki = Pki(os.path.join(RUN_DIR, "pki"))
    return _pki


def other_pki():
    """A second, unrelated PKI: its CAs are not trusted by the daemon."""
    global _other_pki
    if _other_pki is None:
        _other_pki = Pki(os.path.join(RUN_DIR, "other-pki"))
    return _other_pki


# ------------------------------------------------------------------ daemon

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_daemons = []      # every Daemon started, so the runner can stop leftovers
_dseq = [0]


def _sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:"
                   "detect_stack_use_after_return=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.setdefault("LSAN_OPTIONS", "")
    return env


class Daemon:
    """One eenpland with its own temp dir, config and log.

    limits: dict of [limits] keys to override (written to an extra INI that
    deploy/mkconf.sh appends). data_dir: reuse another daemon's store."""

    def __init__(self, name="d", limits=None, extra_ini="", data_dir=None,
                 args=(), env=None):
        _dseq[0] += 1
        self.name = "%s-%d" % (name, _dseq[0])
        self.dir = os.path.join(RUN_DIR, self.name)
        os.makedirs(self.dir)
        self.pki = pki()
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.limits = dict(limits or {})
        self.extra_ini = extra_ini
        self.args = list(args)      # more eenpland options, e.g. ["-v"]
        self.env = dict(env or {})  # more environment, e.g. NOTIFY_SOCKET
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "eenpland.log")
        self.log_pos = 0
        self.starts = 0
        self.expected_dead = False

    # --- config and life cycle

    def write_conf(self):
        extra = ""
        if self.limits:
            extra += "[limits]\n" + "".join(
                "%s = %s\n" % kv for kv in self.limits.items())
        extra += self.extra_ini
        args = [os.path.join(ROOT, "deploy/mkconf.sh"), self.pki.dir,
                self.data_dir, str(self.port)]
        if extra:
            ini = os.path.join(self.dir, "extra.ini")
            with open(ini, "w") as f:
                f.write(extra)
            args.append(ini)
        self.conf = os.path.join(self.dir, "eenpland.conf")
        with open(self.conf, "w") as f:
            f.write(sh(*args))

    def start(self, wait=True, same_port=False):
        """same_port: listen where the last start did (for clients that
        reconnect, e.g. a sync mirror across a daemon restart)."""
        check(self.proc is None, "daemon %s already running" % self.name)
        if not (same_port and self.port):
            self.port = free_port()   # a new port per start: no TIME_WAIT trouble
        self.write_conf()
        argv = [os.path.join(BUILD, "eenpland"), "-f", self.conf] + self.args
        if VALGRIND:
            argv = ["valgrind", "-q", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", "--error-exitcode=99",
                    "--trace-children=no"] + argv
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(b"---- start %d, port %d\n" % (self.starts, self.port))
        log.flush()
        self.log_pos = log.tell()
        env = _sanitizer_env()
        env.update(self.env)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL,
                                     env=env, cwd=self.dir)
        log.close()
        self.expected_dead = False
        _daemons.append(self)
        if wait:
            try:
                self.wait_ready()
            except Failure:
                # free_port's port taken meanwhile (by a test of another
                # shard): once more on a new one.
                self.port_retries = getattr(self, "port_retries", 0) + 1
                if (same_port or self.proc is not None or
                        self.port_retries > 3 or
                        "Address already in use" not in
                        self.log_since_start()):
                    raise
                return self.start(wait, same_port)
        return self

    def wait_ready(self, timeout=20):
        end = time.monotonic() + timeout * SLOW
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc_done()    # clears self.proc
                fail("daemon %s exited with status %s while starting; log:\n%s"
                     % (self.name, rc, self.log_tail()))
            if self.ready():
                return
            if time.monotonic() > end:
                fail("daemon %s not accepting after %.0f s; log:\n%s"
                     % (self.name, timeout * SLOW, self.log_tail()))
            time.sleep(0.1)

    def ready(self):
        """eenplan whoami answers; else (a broken CLI) a raw WhoAmI does."""
        try:
            if cli(self, "wmo", "whoami", timeout=10).rc == 0:
                return True
        except (OSError, subprocess.TimeoutExpired, Failure):
            pass
        try:   # no usable CLI: ask with the raw client
            with Raw(self, "wmo") as c:
                return c.call(req_whoami(1)).code == 0
        except (OSError, ssl.SSLError, Failure):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def hup(self):
        check(self.alive(), "daemon %s is not running" % self.name)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=30):
        """SIGTERM, wait, and fail unless it exited 0 with a clean log."""
        if self.proc is None:
            return
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.proc_done()
            fail("daemon %s did not stop within %.0f s of SIGTERM; log:\n%s"
                 % (self.name, timeout * SLOW, self.log_tail()))
        self.proc_done()
        rc = p.returncode
        if rc != 0:
            fail("daemon %s exited with status %s (sanitizer/valgrind report or "
                 "crash); log:\n%s" % (self.name, rc, self.log_tail()))
        self.check_log()

    def kill9(self):
        check(self.alive(), "daemon %s is not running" % self.name)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc_done()
        self.check_log()

    def proc_done(self):
        self.proc = None
        if self in _daemons:
            _daemons.remove(self)

    def check_log(self):
        text = self.log_since_start()
        for mark in SANITIZER_MARKS:
            if mark in text:
                fail("daemon %s log holds %r:\n%s" % (self.name, mark,
                                                      self.log_tail(60)))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_pos)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        lines = self.log().splitlines()
        return "\n".join("    | " + l for l in lines[-n:])

    def admin(self, *args, timeout=60, env=None):
        """Runs an operator subcommand: eenpland -f CONF ARGS... env: more
        environment for it."""
        e = _sanitizer_env()
        e.update(env or {})
        p = subprocess.run([os.path.join(BUILD, "eenpland"), "-f", self.conf]
                           + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e,
                           timeout=timeout * SLOW)
        return Result(p.returncode, p.stdout.decode(errors="replace"),
                      p.stderr.decode(errors="replace"), None)


_shared = {}     # key -> Daemon kept across tests, stopped at the end


def shared(key="default", limits=None):
    """A daemon shared by the tests that do not interfere. key names a
    variant with its own limits (e.g. a small max_frame); each variant is
    started once and checked for a clean stop at the end of the run."""
    d = _shared.get(key)
    if d is None or not d.alive():
        d = Daemon("shared-" + key, limits=limits).start()
        _shared[key] = d
    return d


# ------------------------------------------------------------------ CLI

class Result:
    """What a command did: rc, out, err and data (parsed --json output);
    unpacks as (rc, out, err, data)."""

    def __init__(self, rc, out, err, data):
        self.rc, self.out, self.err, self.data = rc, out, err, data

    def __iter__(self):
        return iter((self.rc, self.out, self.err, self.data))

    def __repr__(self):
        return "exit %d, stdout %r, stderr %r" % (self.rc, self.out[-600:],
                                                   self.err[-600:])


def cli_env(daemon):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EENPLAN_") and k not in ("EENPLAN_VALGRIND",):
            del env[k]
    env["EENPLAN_PKI"] = daemon.pki.dir
    env["EENPLAN_SERVER"] = "127.0.0.1:%d" % daemon.port
    home = os.path.join(RUN_DIR, "home")   # no user config file
    os.makedirs(home, exist_ok=True)
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return env


def cli(daemon, as_name, *args, json=False, timeout=30):
    """Runs BUILD/eenplan [--json] [--as NAME] ARGS; returns a Result.
    With json=True and exit 0, Result.data is the parsed stdout."""
    argv = [os.path.join(BUILD, "eenplan")]
    if json:
        argv.append("--json")
    if as_name is not None:
        argv += ["--as", as_name]
    argv += [str(a) for a in args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=cli_env(daemon), timeout=timeout * SLOW,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    data = None
    if json and p.returncode == 0:
        try:
            data = jsonlib.loads(out)
        except ValueError as e:
            fail("eenplan --json %s printed no JSON (%s): %r"
                 % (" ".join(map(str, args)), e, out[:400]))
    return Result(p.returncode, out, err, data)


def cli_ok(daemon, as_name, *args, json=False):
    r = cli(daemon, as_name, *args, json=json)
    if r.rc != 0:
        fail("eenplan --as %s %s: expected exit 0, got %r"
             % (as_name, " ".join(map(str, args)), r))
    return r


def cli_refused(daemon, as_name, code, *args):
    """Expects exit 1 with stderr "eenplan: CODE: message"; returns the Result."""
    r = cli(daemon, as_name, *args)
    if r.rc != 1 or not r.err.startswith("eenplan: %s: " % code):
        fail("eenplan --as %s %s: expected exit 1 with 'eenplan: %s: ...', "
             "got %r" % (as_name, " ".join(map(str, args)), code, r))
    return r


def raw_loop(d, as_name, make, acked, stop, failed=None):
    """One connection sending make(i) -> (frame, token) for i = 1, 2, ...
    until stop is set, one request at a time: the token of each OK answer
    goes to acked, of any other to failed (if given). Returns quietly when
    the daemon goes away under it (kill -9)."""
    try:
        with Raw(d, as_name, timeout=30) as c:
            i = 0
            while not stop.is_set():
                i += 1
                frame, token = make(i)
                c.send_frame(frame)
                r = c.recv_frame(timeout=30)
                if r is None:
                    return
                if r.code == 0:
                    acked.append(token)
                elif failed is not None:
                    failed.append((token, r.code_name))
    except Exception:
        return


def new_household(daemon, as_name="wmo", members=("henk.desmet:Henk de Smet:ouder",),
                  area="noord", ref="TOESTEMMING-BB-1"):
    """CLI household create; returns the id (line 1 of stdout)."""
    args = ["household", "create", "--area", area]
    for m in members:
        args += ["--member", m]
    args += ["--consent-ref", ref]
    r = cli_ok(daemon, as_name, *args)
    hh = r.out.splitlines()[0].strip() if r.out else ""
    check(len(hh) == 32 and all(c in "0123456789abcdef" for c in hh),
          "household create: line 1 is not a 32-hex id: %r" % r.out)
    return hh


def plan_json(daemon, as_name, hh, *extra):
    """plan show --json; returns the Plan object."""
    r = cli_ok(daemon, as_name, "plan", "show", hh, *extra, json=True)
    d = r.data
    return d.get("plan", d) if isinstance(d, dict) else d


def enum_name(v):
    """"DOMAIN_FINANCIEN" / "financien" / 1 -> comparable lower-case text."""
    return str(v).lower()


def random_hhid():
    return "%032x" % random.getrandbits(128)


# ------------------------------------------------------------------ protobuf

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def pb_decode(buf):
    """{field: [value, ...]}; length-delimited values stay bytes."""
    out = {}
    i = 0
    n = len(buf)

    def rd_varint():
        nonlocal i
        shift = v = 0
        while True:
            if i >= n or shift > 63:
                raise Failure("bad varint in %r" % buf[:64])
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < n:
        key = rd_varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = rd_varint()
        elif wt == 2:
            ln = rd_varint()
            if i + ln > n:
                raise Failure("truncated field %d" % num)
            v = bytes(buf[i:i + ln])
            i += ln
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise Failure("wire type %d in %r" % (wt, buf[:64]))
        out.setdefault(num, []).append(v)
    return out


def pb_get(d, num, default=None):
    v = d.get(num)
    return v[-1] if v else default


CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
         "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
         "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
         "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
         "DATA_LOSS", "UNAUTHENTICATED"]


class Resp:
    """A decoded Response: id, code, message, body field number and bytes."""

    def __init__(self, raw):
        self.raw = raw
        d = pb_decode(raw)
        self.fields = d
        self.id = pb_get(d, 1, 0)
        st = pb_get(d, 2)
        self.has_status = st is not None
        sd = pb_decode(st) if st is not None else {}
        self.code = pb_get(sd, 1, 0)
        self.message = pb_get(sd, 2, b"").decode(errors="replace")
        self.body_field = None
        self.body = None
        for num in d:
            if num >= 10:
                self.body_field, self.body = num, pb_get(d, num)

    @property
    def code_name(self):
        return CODES[self.code] if 0 <= self.code < len(CODES) else str(self.code)

    def __repr__(self):
        return "Response(id=%d, %s %r, body field %s)" % (
            self.id, self.code_name, self.message, self.body_field)


# Request builders (field numbers from proto/eenplan.proto).

def req(rid, field, body=b""):
    return f_varint(1, rid) + f_bytes(field, body)


def req_whoami(rid):
    return req(rid, 10)        # 08 01 52 00 for rid 1


def member(pid, name, rel=""):
    m = f_bytes(1, pid) + f_bytes(2, name)
    return m + (f_bytes(3, rel) if rel else b"")


def req_create(rid, members=(("henk.desmet", "Henk de Smet", "ouder"),),
               area=1, ref="TOESTEMMING-BB-RAW"):
    b = f_varint(1, area) + b"".join(f_bytes(2, member(*m)) for m in members)
    return req(rid, 11, b + f_bytes(3, ref))


def req_get_plan(rid, hh, version=0):
    b = f_bytes(1, hh) + (f_varint(2, version) if version else b"")
    return req(rid, 12, b)


def mut_add_goal(domain, text, target_date=""):
    b = f_varint(1, domain) + f_bytes(2, text)
    if target_date:
        b += f_bytes(3, target_date)
    return f_bytes(1, b)


def mut_add_assessment(domain, score, remark=""):
    b = f_varint(1, domain) + f_varint(2, score)
    if remark:
        b += f_bytes(3, remark)
    return f_bytes(6, b)


def mut_add_note(domain, text):
    return f_bytes(5, f_varint(1, domain) + f_bytes(2, text))


def mut_target(domain, score):
    return f_bytes(7, f_varint(1, domain) + f_varint(2, score))


def req_mutate(rid, hh, *mutations, expected_version=0):
    b = f_bytes(1, hh)
    if expected_version:
        b += f_varint(2, expected_version)
    b += b"".join(f_bytes(3, m) for m in mutations)
    return req(rid, 13, b)


def req_history(rid, hh):
    return req(rid, 14, f_bytes(1, hh))


def created_household(resp):
    """household_id of a CreateHouseholdResponse."""
    check(resp.code == 0 and resp.body_field == 11,
          "CreateHousehold failed: %r" % resp)
    return pb_get(pb_decode(resp.body), 1).decode()


def plan_summary(resp):
    """(version, n_goals, goal texts) of a GetPlanResponse."""
    check(resp.code == 0 and resp.body_field == 12, "GetPlan failed: %r" % resp)
    plan = pb_decode(pb_get(pb_decode(resp.body), 1, b""))
    goals = [pb_decode(g) for g in plan.get(7, [])]
    texts = [pb_get(g, 3, b"").decode(errors="replace") for g in goals]
    return pb_get(plan, 2, 0), len(goals), texts


# ------------------------------------------------------------------ raw TLS

def frame(body):
    return struct.pack(">I", len(body)) + body


class Raw:
    """A raw TLS connection for hand-made frames.

    as_name: a leaf in the daemon's PKI (people/NAME); or cert/key paths;
    or none of them for a connection without a client certificate.
    tls: None (1.2+), "1.2" or "1.3" to pin the version."""

    def __init__(self, daemon, as_name=None, cert=None, key=None, tls=None,
                 timeout=10, alpn=True, handshake=True):
        self.daemon = daemon
        self.timeout = timeout * SLOW
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if tls == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif tls == "1.3":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(daemon.pki.root)
        if alpn:
            ctx.set_alpn_protocols(["eenplan/1"])
        if as_name is not None:
            cert, key = daemon.pki.cert(as_name), daemon.pki.key(as_name)
        if cert is not None:
            ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        self.sock = socket.create_connection(("127.0.0.1", daemon.port),
                                             timeout=self.timeout)
        self.s = None
        if handshake:
            self.handshake()

    def handshake(self):
        try:
            self.s = self.ctx.wrap_socket(self.sock, server_hostname="localhost")
        except BaseException:
            self.sock.close()
            raise
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            (self.s or self.sock).close()
        except OSError:
            pass

    def send(self, data):
        (self.s or self.sock).sendall(data)

    def send_frame(self, body):
        self.send(frame(body))

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                return None if not buf else bytes(buf)
            buf += chunk
        return bytes(buf)

    def recv_frame(self, timeout=None):
        """The next Response, or None at a clean EOF. Raises on TLS/socket
        errors and on timeout (socket.timeout)."""
        self.s.settimeout(self.timeout if timeout is None else timeout * SLOW)
        hdr = self._recv_exact(4)
        if hdr is None:
            return None
        if len(hdr) < 4:
            fail("EOF in the middle of a frame header")
        (n,) = struct.unpack(">I", hdr)
        check(0 < n <= 64 * 1024 * 1024, "server sent a frame of %d bytes" % n)
        body = self._recv_exact(n)
        if body is None or len(body) < n:
            fail("EOF in the middle of a %d-byte frame" % n)
        return Resp(body)

    def call(self, body, timeout=None):
        self.send_frame(body)
        r = self.recv_frame(timeout)
        check(r is not None, "connection closed instead of an answer")
        return r

    def outcome(self, timeout=5):
        """Reads until EOF/error: returns (frames, how) where how is 'eof',
        'reset', 'ssl: ...' or 'timeout'."""
        frames = []
        end = time.monotonic() + timeout * SLOW
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return frames, "timeout"
            try:
                r = self.recv_frame(left / SLOW)
            except socket.timeout:
                return frames, "timeout"
            except ssl.SSLError as e:
                return frames, "ssl: %s" % e
            except (ConnectionResetError, BrokenPipeError):
                return frames, "reset"
            except OSError as e:
                return frames, "oserror: %s" % e
            if r is None:
                return frames, "eof"
            frames.append(r)


def try_whoami(daemon, as_name=None, cert=None, key=None, tls=None):
    """Connects, sends WhoAmI, reads. Returns ("ok", Resp) when an OK answer
    came, else ("refused", how): handshake failure, error answer, EOF..."""
    try:
        c = Raw(daemon, as_name, cert, key, tls=tls, timeout=10)
    except ssl.SSLError as e:
        return "refused", "handshake: %s" % e
    except (ConnectionResetError, BrokenPipeError) as e:
        return "refused", "handshake: %s" % e
    with c:
        try:
            c.send_frame(req_whoami(1))
        except (ssl.SSLError, OSError) as e:
            return "refused", "send: %s" % e
        try:
            r = c.recv_frame(timeout=10)
        except socket.timeout:
            return "hang", "no answer and no close within 10 s"
        except (ssl.SSLError, OSError) as e:
            return "refused", "read: %s" % e
        if r is None:
            return "refused", "eof"
        if r.code == 0 and r.body_field == 10:
            return "ok", r
        return "refused", "answer %r" % r


# ------------------------------------------------------------------ runner

class _Timeout(BaseException):
    pass


def _alarm(signum, frame_):
    raise _Timeout()


def _cleanup_after(name):
    """Stops daemons a test left running (failing it if they were unclean),
    and fails it if it killed a shared daemon."""
    problems = []
    keep = set(id(d) for d in _shared.values())
    for d in list(_daemons):
        if id(d) in keep:
            continue
        try:
            d.stop()
        except Failure as e:
            problems.append(str(e))
    for key, d in list(_shared.items()):
        if d.proc is not None and not d.alive():
            rc = d.proc.returncode
            d.proc_done()
            problems.append("shared daemon %s died (status %s) during this "
                            "test; log:\n%s" % (key, rc, d.log_tail()))
            try:
                d.check_log()
            except Failure as e:
                problems.append(str(e))
            del _shared[key]
    return problems


def run_one(name, fn):
    limit = max(TEST_TIMEOUT, int(getattr(fn, "budget", 0) * SLOW))
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(limit)
    t0 = time.monotonic()
    err = None
    skipped = None
    try:
        fn()
    except Skip as e:
        skipped = str(e)
    except Failure as e:
        err = str(e)
    except _Timeout:
        err = "test took longer than %d s" % limit
    except Exception as e:
        err = "%s: %s\n%s" % (type(e).__name__, e,
                              "".join(traceback.format_exc(limit=6)))
    finally:
        signal.alarm(0)
    try:
        problems = _cleanup_after(name)
    except Exception as e:
        problems = ["cleanup: %s" % e]
    if problems:
        err = "; ".join(([err] if err else []) + problems)
    dt = time.monotonic() - t0
    if err is None and skipped is not None:
        print("skip %s: %s" % (name, skipped), flush=True)
        return None
    if err is None:
        print("ok %s (%.1fs)" % (name, dt), flush=True)
        return True
    print("FAIL %s: %s (%.1fs)" % (name, err.rstrip(), dt), flush=True)
    return False


def final_shared_stop():
    """Last check of the run: every shared daemon stops cleanly (exit 0, no
    sanitizer report: a leak in the daemon fails here), and the store the
    tests that shared it built passes `eenpland store verify` (every value
    opens under its key, every household's counts hold)."""
    problems = []
    for key in sorted(_shared):
        d = _shared.pop(key)
        try:
            d.stop()
            r = d.admin("store", "verify")
            if r.rc != 0 or "\nstore OK: " not in "\n" + r.out:
                problems.append("store verify of shared-%s: %r" % (key, r))
        except Failure as e:
            problems.append(str(e))
    if problems:
        fail("; ".join(problems))


def shard_of(selected, k, n):
    """The tests of shard k of n: the longest first, each to the shard
    with the least time so far (the times of a valgrind run, in
    durations.txt; a test not named there counts DEFAULT_DURATION), then
    in their usual order. Every Nth test instead left one valgrind shard
    a minute and a half longer than the other."""
    known = {}
    try:
        with open(os.path.join(HERE, "durations.txt")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    known[parts[1]] = float(parts[0])
    except OSError:
        pass
    order = sorted(range(len(selected)), key=lambda i: (
        -known.get(selected[i][0], DEFAULT_DURATION), i))
    load = [0.0] * n
    mine = set()
    for i in order:
        j = min(range(n), key=lambda x: (load[x], x))
        load[j] += known.get(selected[i][0], DEFAULT_DURATION)
        if j == k:
            mine.add(i)
    return [t for i, t in enumerate(selected) if i in mine]


DEFAULT_DURATION = 3.0      # seconds, under valgrind: the median test's


def main(argv):
    global BUILD, RUN_DIR
    if len(argv) < 2:
        print("usage: harness.py BUILD_DIR [NAME_FILTER...]", file=sys.stderr)
        return 2
    BUILD = os.path.abspath(argv[1])
    filters = argv[2:]
    for b in ("eenpland", "eenplan"):
        if not os.access(os.path.join(BUILD, b), os.X_OK):
            print("harness: %s/%s is missing (build first)" % (BUILD, b),
                  file=sys.stderr)
            return 2
    RUN_DIR = tempfile.mkdtemp(prefix="eenplan-bb.")
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    broken = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        mod = os.path.basename(path)[:-3]
        try:
            importlib.import_module(mod)
        except Exception:
            broken.append((mod, traceback.format_exc(limit=3)))
    selected = [(n, f) for n, f in TESTS
                if not filters or any(x in n for x in filters)]
    # EENPLAN_SHARD=K/N: the Kth of N shards (run-sharded.sh runs them
    # side by side; each has its own run directory and PKI).
    shard = os.environ.get("EENPLAN_SHARD", "")
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        selected = shard_of(selected, k, n)
    passed = failed = skipped = 0
    for mod, tb in broken:
        if filters and not any(x in mod.replace("test_", "", 1) for x in filters):
            continue
        print("FAIL %s.import: %s" % (mod, tb.rstrip()), flush=True)
        failed += 1
    try:
        for name, fn in selected:
            r = run_one(name, fn)
            if r is None:
                skipped += 1
            elif r:
                passed += 1
            else:
                failed += 1
        if _shared:
            if run_one("harness.shared_daemons_stop_clean", final_shared_stop):
                passed += 1
            else:
                failed += 1
    finally:
        for d in list(_daemons):
            try:
                d.proc.kill()
                d.proc.wait()
            except Exception:
                pass
    keep = failed or os.environ.get("EENPLAN_BB_KEEP")
    if keep:
        print("# run directory kept: %s" % RUN_DIR, flush=True)
    else:
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped),
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    # Tests import this file as "harness": run it under that name, so there is
    # one registry.
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    import harness
    sys.exit(harness.main(sys.argv))
