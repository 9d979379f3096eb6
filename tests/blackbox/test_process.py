"""The daemon's process: readiness messages to systemd (a fake
NOTIFY_SOCKET), one daemon per data_dir, and the user it runs as (dropping
root after the bind; these tests need root and say so when skipped)."""
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import harness
from harness import (test, Daemon, try_whoami, check, eq, fail, skip,
                     wait_until, cli, cli_ok, SLOW)


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket; it
    records each message with the pid the kernel vouches for."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def recv(self, timeout):
        """(pid, {key: value}) of the next message, or None on timeout."""
        self.s.settimeout(timeout * SLOW)
        try:
            data, anc, _, _ = self.s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        fields = dict(l.split("=", 1) for l in data.decode().split("\n")
                      if "=" in l)
        return pid, fields

    def close(self):
        self.s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


@test
def notify_ready_reloading_stopping():
    """READY=1 once it serves, RELOADING=1 then READY=1 around SIGHUP,
    STOPPING=1 on SIGTERM, all from the daemon's own pid."""
    path = os.path.join(harness.RUN_DIR, "notify-%d.sock" % os.getpid())
    ns = NotifySocket(path)
    d = Daemon("notify", env={"NOTIFY_SOCKET": path})
    try:
        d.start(wait=False)
        pid = d.proc.pid
        m = ns.recv(30)
        check(m is not None, "no message on NOTIFY_SOCKET within 30 s; "
              "log:\n%s" % d.log_tail())
        eq(m[1].get("READY"), "1", "first message %r" % (m[1],))
        eq(m[0], pid, "sender of READY=1")
        # READY means serving: no retry needed.
        res, how = try_whoami(d, "wmo")
        eq(res, "ok", "WhoAmI right after READY=1 (%s)" % (how,))
        check("listening" in d.log() and 'msg="ready"' in d.log(),
              "no listening/ready lines before READY=1")

        d.hup()
        m = ns.recv(20)
        check(m is not None and m[1].get("RELOADING") == "1",
              "after SIGHUP: expected RELOADING=1, got %r" % (m,))
        check(m[1].get("MONOTONIC_USEC", "").isdigit(),
              "RELOADING=1 without MONOTONIC_USEC: %r" % (m[1],))
        m = ns.recv(20)
        check(m is not None and m[1].get("READY") == "1",
              "after the reload: expected READY=1, got %r" % (m,))
        wait_until(lambda: 'msg="reloaded"' in d.log(), 10, "reloaded line")

        d.stop()
        m = ns.recv(10)
        check(m is not None and m[1].get("STOPPING") == "1",
              "after SIGTERM: expected STOPPING=1, got %r" % (m,))
        eq(m[0], pid, "sender of STOPPING=1")
        check(ns.recv(0.2) is None, "a message after STOPPING=1")
    finally:
        ns.close()
        d.stop()


@test
def no_notify_socket_no_trouble():
    """Without NOTIFY_SOCKET (started by hand) nothing is sent and nothing
    complains; a NOTIFY_SOCKET nobody listens on costs a warning, not the
    start."""
    path = os.path.join(harness.RUN_DIR, "nobody-%d.sock" % os.getpid())
    d = Daemon("nonotify", env={"NOTIFY_SOCKET": path}).start()
    d.stop()
    check("sd_notify failed" in d.log(), "no warning about the notify "
          "socket that is not there; log:\n%s" % d.log_tail())
    d2 = Daemon("plain").start()
    d2.stop()
    check("sd_notify" not in d2.log(), "sd_notify mentioned without "
          "NOTIFY_SOCKET")


def wait_exit(d, timeout=30):
    """Waits for a daemon that should refuse to start; returns (rc, log)."""
    try:
        rc = d.proc.wait(timeout * SLOW)
    except subprocess.TimeoutExpired:
        fail("daemon %s still running; it should have refused to start; "
             "log:\n%s" % (d.name, d.log_tail()))
    d.proc_done()
    return rc, d.log_since_start()


def last_line(text):
    lines = [l for l in text.splitlines()
             if l.strip() and not l.startswith("==")]
    return lines[-1] if lines else ""


@test
def second_daemon_on_the_same_data_dir_refused():
    """Two daemons on one store would each keep their own audit head: the
    second one refuses, naming the first one's pid, and the first goes on."""
    d = Daemon("first").start()
    try:
        d2 = Daemon("second", data_dir=d.data_dir)
        d2.start(wait=False)
        rc, log = wait_exit(d2)
        check(rc != 0, "second daemon exited 0")
        want = "is in use by another eenpland (pid %d)" % d.proc.pid
        check(want in last_line(log), "last log line lacks %r:\n%s"
              % (want, log))
        cli_ok(d, "wmo", "whoami")
        pidfile = os.path.join(d.data_dir, "eenpland.pid")
        eq(open(pidfile).read().strip(), str(d.proc.pid), "pid file")
    finally:
        d.stop()
    # Once the first has stopped, the store is free again.
    d3 = Daemon("third", data_dir=d.data_dir).start()
    d3.stop()


def need_root():
    if os.geteuid() != 0:
        skip("needs root (started as uid %d): the daemon only changes user "
             "when started as root" % os.geteuid())


def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        skip("no user 'nobody' on this machine")


@test
def root_without_user_refused():
    """Started as root, a config without [server] user is refused with one
    line that says what to set."""
    need_root()
    d = Daemon("rootnouser")
    d.port = harness.free_port()
    d.write_conf()
    with open(d.conf) as f:
        text = f.read()
    check("\nuser = " in text, "mkconf.sh wrote no user line")
    with open(d.conf, "w") as f:
        f.write("".join(l for l in text.splitlines(True)
                        if not l.startswith("user = ")))
    p = subprocess.run([os.path.join(harness.BUILD, "eenpland"), "-f",
                        d.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30 * SLOW,
                       env=harness._sanitizer_env())
    err = p.stderr.decode(errors="replace")
    eq(p.returncode, 1, "exit status; stderr:\n%s" % err)
    check("started as root without [server] user" in last_line(err) and
          "user = root" in last_line(err), "refusal line: %r" % err)
    check(not os.path.exists(os.path.join(d.data_dir, "data.mdb")),
          "the store was opened before the refusal")


def private_tree():
    """A directory that another user can reach (the run dir is 0700)."""
    top = tempfile.mkdtemp(prefix="eenplan-bb-user.")
    os.chmod(top, 0o711)
    return top


def proc_ids(pid):
    """{Uid: [...], Gid: [...], Groups: [...]} from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


@test
def becomes_the_configured_user():
    """Root with user = nobody: binds, reads its key as root, then runs as
    nobody (uid, gid, groups) with the store it made owned by nobody."""
    need_root()
    pw = nobody()
    top = private_tree()
    data = os.path.join(top, "data")
    try:
        d = Daemon("asnobody", data_dir=data,
                   extra_ini="[server]\nuser = nobody\n")
        os.rmdir(data)          # missing: the daemon makes it for nobody
        d.start()
        ids = proc_ids(d.proc.pid)
        eq(ids["Uid"], [pw.pw_uid] * 4, "real/effective/saved/fs uid")
        eq(ids["Gid"], [pw.pw_gid] * 4, "real/effective/saved/fs gid")
        eq(ids["Groups"], [pw.pw_gid], "supplementary groups")
        st = os.stat(data)
        eq((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o700),
           "data_dir owner and mode")
        for f in ("data.mdb", "lock.mdb", "eenpland.pid"):
            eq(os.stat(os.path.join(data, f)).st_uid, pw.pw_uid,
               "owner of %s" % f)
        check('msg="changed user" user=nobody' in d.log(),
              "no 'changed user' line; log:\n%s" % d.log_tail())
        hh = harness.new_household(d)
        cli_ok(d, "wmo", "plan", "show", hh)
        # As nobody it cannot read the root-only key again: a reload keeps
        # the current certificates and says so; the daemon serves on.
        d.hup()
        wait_until(lambda: "reload failed: keeping the current certificates"
                   in d.log(), 15, "the reload warning")
        cli_ok(d, "wmo", "whoami")
        d.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


@test
def data_dir_of_another_user_refused():
    """Root with user = nobody and a data_dir owned by root: refused with
    the chown to run, and nothing opened."""
    need_root()
    nobody()
    top = private_tree()
    data = os.path.join(top, "data")
    try:
        d = Daemon("wrongowner", data_dir=data,
                   extra_ini="[server]\nuser = nobody\n")
        d.start(wait=False)
        rc, log = wait_exit(d)
        check(rc != 0, "exited 0")
        line = last_line(log)
        check("belongs to uid 0, not to user nobody" in line and
              "chown -R nobody %s" % data in line, "refusal: %r" % line)
        eq(os.listdir(data), [], "files in data_dir")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@test
def other_user_cannot_switch():
    """Not root, with user = someone else: refused at once (only root
    changes users). As root the daemon is run as nobody (setpriv)."""
    prefix = []
    if os.geteuid() == 0:
        pw = nobody()
        if shutil.which("setpriv") is None:
            skip("setpriv (util-linux) is not installed")
        prefix = ["setpriv", "--reuid=%d" % pw.pw_uid,
                  "--regid=%d" % pw.pw_gid, "--clear-groups"]
    top = private_tree()
    try:
        d = Daemon("notroot", data_dir=os.path.join(top, "data"),
                   extra_ini="[server]\nuser = root\n")
        d.port = harness.free_port()
        d.write_conf()
        conf = os.path.join(top, "eenpland.conf")
        shutil.copy(d.conf, conf)
        os.chmod(conf, 0o644)
        p = subprocess.run(prefix + [os.path.join(harness.BUILD, "eenpland"),
                                     "-f", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30 * SLOW, env=harness._sanitizer_env())
        err = p.stderr.decode(errors="replace")
        if p.returncode == 126 or "setpriv: failed to execute" in err:
            skip("the build is not readable by nobody: %s" % err.strip())
        eq(p.returncode, 1, "exit status as a user with user = root; "
           "stderr:\n%s" % err)
        check("only root can change to another user" in last_line(err),
              "refusal: %r" % err)
        eq(os.listdir(os.path.join(top, "data")), [],
           "files in data_dir after the refusal")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@test
def threads_are_named():
    """Every thread says what it is (top -H, perf, /proc/PID/task/*/comm):
    the workers, the writer and its flushers, the indexer, the checkpoint,
    the anchor, the guard, the log."""
    d = harness.shared()
    names = set()
    task = "/proc/%d/task" % d.proc.pid
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "comm")) as f:
                names.add(f.read().strip())
        except FileNotFoundError:
            pass                # a thread that ended meanwhile
    want = {"worker0", "writer", "flusher0", "flusher1", "indexer",
            "checkpoint", "anchor", "guard", "log"}
    check(want <= names, "threads not named: %s (names: %s)"
          % (sorted(want - names), sorted(names)))
