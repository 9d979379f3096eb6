"""make install: the tree it makes under DESTDIR for PREFIX=/usr and
/usr/local, man pages that render without warnings, and a systemd unit that
systemd-analyze verifies and scores."""
import os
import re
import shutil
import signal
import stat
import subprocess

import harness
from harness import test, check, eq, fail, skip, SLOW

ROOT = harness.ROOT


def make(*args, timeout=300):
    p = subprocess.run(["make", "-C", ROOT, "O=%s" % harness.BUILD] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout * SLOW)
    return p.returncode, p.stdout.decode(errors="replace")


def install(prefix):
    """make install into a fresh DESTDIR; returns it."""
    # The build under test must not be rebuilt here (with other flags).
    rc, out = make("-q", "all")
    if rc != 0:
        skip("%s is not up to date with the sources (make -q all: %d); "
             "build it first" % (harness.BUILD, rc))
    dest = os.path.join(harness.RUN_DIR, "destdir" + prefix.replace("/", "-"))
    rc, out = make("install", "DESTDIR=%s" % dest, "PREFIX=%s" % prefix)
    eq(rc, 0, "make install PREFIX=%s:\n%s" % (prefix, out))
    return dest


def tree(dest):
    """{relative path: mode} of every file and directory under dest."""
    out = {}
    for top, dirs, files in os.walk(dest):
        for n in dirs + files:
            p = os.path.join(top, n)
            out["/" + os.path.relpath(p, dest)] = stat.S_IMODE(
                os.lstat(p).st_mode)
    return out


MAN1 = [p for p in ("doc/eenplan.1", "client/eenplan.1")
        if os.path.exists(os.path.join(ROOT, p))]
BASHCOMP = [p for p in ("doc/eenplan.bash-completion",
                        "client/eenplan.bash-completion", "doc/eenplan.bash",
                        "client/eenplan.bash", "client/completion.bash")
            if os.path.exists(os.path.join(ROOT, p))]


@test
def make_install_prefix_usr():
    dest = install("/usr")
    t = tree(dest)
    want = {
        "/usr/sbin/eenpland": 0o755,
        "/usr/bin/eenplan": 0o755,
        "/usr/lib/systemd/system/eenpland.service": 0o644,
        "/usr/lib/sysusers.d/eenplan.conf": 0o644,
        "/etc/eenplan/eenpland.conf.example": 0o644,
        "/etc/eenplan/private": 0o700,
        "/usr/share/man/man8/eenpland.8": 0o644,
        "/usr/share/man/man5/eenpland.conf.5": 0o644,
    }
    if MAN1:
        want["/usr/share/man/man1/eenplan.1"] = 0o644
    if BASHCOMP:
        want["/usr/share/bash-completion/completions/eenplan"] = 0o644
    for path, mode in sorted(want.items()):
        check(path in t, "make install did not make %s; it made:\n%s"
              % (path, "\n".join(sorted(t))))
        eq(oct(t[path]), oct(mode), "mode of %s" % path)
    files = sorted(p for p in t if not stat.S_ISDIR(
        os.lstat(dest + p).st_mode))
    eq(files, sorted(p for p in want if p != "/etc/eenplan/private"),
       "files installed")
    # The installed binaries are the build's.
    for b, d in (("eenpland", "/usr/sbin"), ("eenplan", "/usr/bin")):
        with open(os.path.join(harness.BUILD, b), "rb") as f1, \
                open(dest + d + "/" + b, "rb") as f2:
            check(f1.read() == f2.read(), "%s/%s differs from the build"
                  % (d, b))
    unit = open(dest + "/usr/lib/systemd/system/eenpland.service").read()
    check("ExecStart=/usr/sbin/eenpland -f /etc/eenplan/eenpland.conf"
          in unit, "ExecStart in the installed unit:\n%s" % unit)
    # The installed example config is one the daemon accepts.
    p = subprocess.run([dest + "/usr/sbin/eenpland", "-n", "-f",
                        dest + "/etc/eenplan/eenpland.conf.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(harness._sanitizer_env(),
                                CREDENTIALS_DIRECTORY="/run/credentials/x"))
    err = p.stderr.decode()
    # -n checks the files it names too: on this machine only the
    # example's certificates, keys and user may be missing, nothing else.
    bad = [l for l in err.splitlines() if "problem" not in l and
           not l.startswith("note:") and "No such file" not in l and
           "no such user" not in l]
    check(p.returncode == 0 or not bad,
          "eenpland -n on the installed example: %s" % err)
    # uninstall takes it all away again (the directories stay)
    rc, out = make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    eq(rc, 0, "make uninstall:\n%s" % out)
    left = [p for p in tree(dest) if not stat.S_ISDIR(
        os.lstat(dest + p).st_mode)]
    eq(left, [], "files left after make uninstall")


@test
def make_install_prefix_usr_local():
    dest = install("/usr/local")
    t = tree(dest)
    for path in ("/usr/local/sbin/eenpland", "/usr/local/bin/eenplan",
                 "/usr/local/lib/systemd/system/eenpland.service",
                 "/usr/local/etc/eenplan/eenpland.conf.example",
                 "/usr/local/share/man/man8/eenpland.8"):
        check(path in t, "no %s" % path)
    check(not any(p.startswith("/etc") or p.startswith("/usr/sbin")
                  for p in t), "PREFIX=/usr/local wrote outside it: %s"
          % [p for p in t if not p.startswith("/usr/local")][:5])
    unit = open(dest + "/usr/local/lib/systemd/system/eenpland.service").read()
    check("ExecStart=/usr/local/sbin/eenpland -f "
          "/usr/local/etc/eenplan/eenpland.conf" in unit,
          "ExecStart not adapted to the prefix:\n%s" % unit)
    check("LoadCredential=server.key:/usr/local/etc/eenplan/private/"
          "server.key" in unit, "LoadCredential not adapted to the prefix")


@test
def man_pages_render_without_warnings():
    pages = ["doc/eenpland.8", "doc/eenpland.conf.5"] + MAN1
    if shutil.which("mandoc") is None and shutil.which("groff") is None:
        skip("neither mandoc nor groff is installed")
    for page in pages:
        path = os.path.join(ROOT, page)
        if shutil.which("mandoc"):
            p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                                path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            eq(p.returncode, 0, "mandoc -T lint %s:\n%s"
               % (page, p.stdout.decode()))
        if shutil.which("groff"):
            p = subprocess.run(["groff", "-ww", "-z", "-mandoc", "-Tutf8",
                                path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            eq((p.returncode, p.stdout.decode()), (0, ""),
               "groff -ww %s" % page)


@test
def every_config_key_is_documented():
    """Every key the daemon's configuration parser takes (its key table in
    daemon/config.c) is explained in eenpland.conf(5) under its section and
    shown in deploy/eenpland.conf.example: a limit that exists is named
    where an operator looks for it."""
    src = open(os.path.join(ROOT, "daemon", "config.c")).read()
    keys = re.findall(r'\{\s*SEC_([A-Z]+),\s*"([a-z_]+)"', src)
    check(len(keys) > 40, "key table found in config.c (%d keys)"
          % len(keys))
    man = open(os.path.join(ROOT, "doc", "eenpland.conf.5")).read()
    example = open(os.path.join(ROOT, "deploy",
                                "eenpland.conf.example")).read()
    # The man page's sections, by the config section they describe.
    heads = {"SERVER": "SERVER", "LIMITS": "LIMITS", "CONSENT": "CONSENT",
             "AUDIT": "AUDIT", "STORE": "STORE", "RETENTION": "RETENTION",
             "ADMIN": "ADMIN", "ORG": "ORGANISATIONS"}
    parts = re.split(r"^\.Sh ", man, flags=re.M)
    sect = {p.split("\n", 1)[0].strip(): p for p in parts}
    # The example's sections ([org ID] ones together, comments included).
    ex = {}
    cur = ""
    for line in example.splitlines():
        m = re.match(r"^\[(\w+)", line)
        if m:
            cur = m.group(1)
        ex.setdefault(cur, []).append(line)
    missing = []
    for sec, key in keys:
        body = sect.get(heads[sec], "")
        if not re.search(r"^\.It Ic %s\b|, Ic %s Ns" % (key, key), body,
                         re.M):
            missing.append("eenpland.conf.5 %s: %s" % (heads[sec], key))
        lines = ex.get(sec.lower(), [])
        if not any(re.match(r"^#?\s*%s\s*=" % key, ln) or
                   re.match(r"^#\s+%s\s" % key, ln) for ln in lines):
            missing.append("eenpland.conf.example [%s]: %s"
                           % (sec.lower(), key))
    eq(missing, [], "configuration keys not documented")


@test
def systemd_unit_verifies_and_scores():
    """systemd-analyze verify passes on the installed unit (its ExecStart
    pointed at the staged binary, its man pages found through MANPATH), and
    systemd-analyze security rates its exposure at most 2.0."""
    if shutil.which("systemd-analyze") is None:
        skip("systemd-analyze is not installed")
    dest = install("/usr")
    unit = open(dest + "/usr/lib/systemd/system/eenpland.service").read()
    vdir = os.path.join(harness.RUN_DIR, "unit-verify")
    os.makedirs(vdir, exist_ok=True)
    vunit = os.path.join(vdir, "eenpland.service")
    with open(vunit, "w") as f:
        f.write(unit.replace("/usr/sbin/eenpland",
                             dest + "/usr/sbin/eenpland"))
    env = dict(os.environ, MANPATH=dest + "/usr/share/man",
               SYSTEMD_LOG_LEVEL="notice")
    p = subprocess.run(["systemd-analyze", "verify", vunit],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=60)
    out = p.stdout.decode()
    eq((p.returncode, out.strip()), (0, ""), "systemd-analyze verify")
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", vunit], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    out = p.stdout.decode()
    m = re.search(r"Overall exposure level for eenpland\.service: "
                  r"([0-9.]+)", out)
    check(m is not None, "no exposure level in:\n%s" % out)
    score = float(m.group(1))
    print("# systemd-analyze security: exposure %.1f" % score)
    check(score <= 2.0, "exposure %.1f (at most 2.0 expected):\n%s"
          % (score, out))
    for must in ("NoNewPrivileges=", "CapabilityBoundingSet=~CAP_SYS_ADMIN",
                 "RestrictAddressFamilies=~AF_PACKET", "SystemCallFilter=",
                 "MemoryDenyWriteExecute=", "LockPersonality=",
                 "ProtectHome=", "PrivateTmp=", "PrivateDevices="):
        line = [l for l in out.splitlines() if must in l]
        # One known exception: setpriority, allowed back from @resources
        # (the audit indexer lowers its own thread's priority; without
        # CAP_SYS_NICE nothing can be raised) — and nothing else of it.
        line = [l for l in line if not (
            "SystemCallFilter=~@resources" in l and
            "setpriority is allowed" in l)]
        check(line and all(l.lstrip().startswith("✓") for l in line),
              "%s not satisfied: %s" % (must, line))


def filter_set(spec):
    """System call names of a SystemCallFilter= group or name list."""
    out = set()
    for item in spec.split():
        if not item.startswith("@"):
            out.add(item)
            continue
        p = subprocess.run(["systemd-analyze", "syscall-filter", item],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for line in p.stdout.decode().splitlines()[1:]:
            s = line.strip()
            if s and not s.startswith("#"):
                out |= filter_set(s) if s.startswith("@") else {s}
    return out


@test
def unit_syscall_filter_covers_the_daemon():
    """Every system call the daemon makes (start, TLS clients, writes, an
    audit read, SIGHUP, SIGTERM; traced with strace) is one the unit's
    SystemCallFilter= allows: the filter would not break it under systemd."""
    for tool in ("strace", "systemd-analyze"):
        if shutil.which(tool) is None:
            skip("%s is not installed" % tool)
    if harness.VALGRIND:
        skip("the daemon runs under valgrind here, not traceable as itself")
    with open(os.path.join(harness.BUILD, "eenpland"), "rb") as f:
        if b"__asan_init" in f.read():
            skip("an ASan build makes system calls of its own")
    # As systemd reads them after a first allow list: in order, a plain
    # line adds to what is allowed, a "~" line takes away.
    allowed, lines = set(), 0
    with open(os.path.join(ROOT, "deploy/eenpland.service")) as f:
        for line in f:
            if line.startswith("SystemCallFilter="):
                v = line.split("=", 1)[1].strip()
                check(lines > 0 or not v.startswith("~"),
                      "the unit's first SystemCallFilter= is a deny list")
                if v.startswith("~"):
                    allowed -= filter_set(v[1:])
                else:
                    allowed |= filter_set(v)
                lines += 1
    check(lines >= 2, "no SystemCallFilter= lines in the unit")
    # Of @resources, only setpriority (see systemd_unit_verifies_and_scores).
    eq(sorted(allowed & filter_set("@resources")), ["setpriority"],
       "what the unit allows of @resources")

    d = harness.Daemon("strace")
    d.port = harness.free_port()
    d.write_conf()
    trace = os.path.join(d.dir, "strace.out")
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", trace,
                          os.path.join(harness.BUILD, "eenpland"), "-f",
                          d.conf], stdout=subprocess.DEVNULL,
                         stderr=open(d.log_path, "ab"),
                         env=harness._sanitizer_env(), cwd=d.dir)
    dpid = None
    try:
        harness.wait_until(lambda: harness.cli(d, "wmo", "whoami").rc == 0,
                           30, "the traced daemon")
        # Signals go to the daemon itself, not to strace.
        with open(os.path.join(d.data_dir, "eenpland.pid")) as f:
            dpid = int(f.read())
        hh = harness.new_household(d)
        harness.cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien",
                       "--text", "Doel")
        harness.cli_ok(d, "henk", "plan", "show", hh)
        harness.cli_ok(d, "henk", "audit", hh)
        harness.try_whoami(d)          # a refused handshake
        os.kill(dpid, signal.SIGHUP)
        harness.wait_until(lambda: 'msg="reloaded"' in d.log(), 15, "reload")
        harness.cli_ok(d, "lev", "whoami")
    finally:
        if dpid is not None:
            os.kill(dpid, signal.SIGTERM)
        else:
            p.send_signal(signal.SIGKILL)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            if dpid is not None:
                os.kill(dpid, signal.SIGKILL)
            p.wait()
    eq(p.returncode, 0, "traced daemon's exit status")
    used = set()
    for line in open(trace):
        m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
        if m and m.group(1) not in ("exited", "killed", "resumed"):
            used.add(m.group(1))
    used.discard("execve")         # strace's own exec of the daemon
    check(len(used) > 20, "too few system calls traced: %s" % sorted(used))
    eq(sorted(used - allowed), [], "system calls the unit's filter refuses")
