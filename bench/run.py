#!/usr/bin/env python3
"""The eenplan benchmark: eenpland beside redis, PostgreSQL and openssl
s_server, measured by eenplan-bench with the same shape and the same
certificates. Standard library only.

    bench/run.py [--build DIR] main         # make bench: the table
    bench/run.py [--build DIR] population   # make bench-population
    bench/run.py [--build DIR] idle         # make bench-idle
    bench/run.py [--build DIR] markdown     # the README table from result.json

Sizes come from the environment: BENCH_HOUSEHOLDS (100000), BENCH_ROUNDS (5),
BENCH_SECONDS (5), BENCH_WARMUP (1), BENCH_CONNECTIONS (50), BENCH_BIG
(1000000), BENCH_POP_WARMUP (30: seconds of reads on each population's
daemon before the rounds of make bench-population), BENCH_IDLE (10000), BENCH_QUIET_MAX (10: seconds to wait for
an idle machine before each run). BENCH_KEEP=1 keeps the temporary directory;
BENCH_REPOPULATE=1 makes the cached populations again.
Every server runs as the current user in a temporary directory on a free
127.0.0.1 port, and is stopped when this script ends; PostgreSQL, which
refuses root, runs as "nobody" when this script runs as root.
"""
import argparse
import datetime
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PKI = os.path.join(ROOT, "certs", "demo")
PGBIN = "/usr/lib/postgresql/15/bin"
PG_ROLE = "a.devries"            # the CN of certs/demo/people/wmo.crt
CLIENT = "wmo"                   # the demo regisseur: a.devries of the gemeente


def env_int(name, default, lo=1, hi=10**9):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        sys.exit("run.py: %s must be a whole number, not %r" % (name, v))
    if not lo <= n <= hi:
        sys.exit("run.py: %s must be in %d..%d" % (name, lo, hi))
    return n


def env_float(name, default, lo, hi):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = float(v)
    except ValueError:
        sys.exit("run.py: %s must be a number, not %r" % (name, v))
    if not lo <= n <= hi:
        sys.exit("run.py: %s must be in %g..%g" % (name, lo, hi))
    return n


def say(msg):
    print("bench: " + msg, flush=True)


class Stop(Exception):
    """SIGINT/SIGTERM: end, stopping every server."""


def on_signal(sig, frame):
    raise Stop("signal %d" % sig)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with status %s while starting"
                               % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s does not accept on port %d" % (what, port))


def sh(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       **kw)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (
            " ".join(argv), p.returncode,
            (p.stderr or p.stdout).decode(errors="replace").strip()[-800:]))
    return p.stdout.decode(errors="replace")


def machine_busy(interval):
    """Fraction of all cores busy over interval seconds (/proc/stat)."""
    def ticks():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    b0, t0 = ticks()
    time.sleep(interval)
    b1, t1 = ticks()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------------ bench

class Bench:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.tool = os.path.join(self.build, "eenplan-bench")
        self.outdir = os.path.join(self.build, "bench")
        os.makedirs(self.outdir, exist_ok=True)
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="eenplan-bench.")
        self.runas = None
        if os.geteuid() == 0:
            # PostgreSQL refuses root; it gets "nobody", which must reach
            # its directory inside ours.
            self.runas = pwd.getpwnam("nobody")
            os.chmod(self.tmp, 0o711)
        self.logdir = os.path.join(self.outdir, "logs")
        self.cert = os.path.join(PKI, "people", CLIENT + ".crt")
        self.key = os.path.join(PKI, "people", CLIENT + ".key")
        self.ca = os.path.join(PKI, "ca", "root.crt")
        self.bundle = os.path.join(self.tmp, "ca-bundle.pem")
        self.seconds = env_float("BENCH_SECONDS", 5, 0.5, 3600)
        self.rounds = env_int("BENCH_ROUNDS", 5, 1, 100)
        self.warmup = env_float("BENCH_WARMUP", 1, 0, 600)
        self.conns = env_int("BENCH_CONNECTIONS", 50, 1, 100000)
        self.run_no = 0
        for f in (self.tool, self.cert, self.key, self.ca):
            if not os.path.exists(f):
                sys.exit("run.py: %s is missing (make bench-build)" % f)
        # The trust of every server: the root and the organisation CAs
        # (clients send only their leaf; eenpland has the organisation
        # CAs in its config).
        with open(self.bundle, "w") as out:
            for name in ["root"] + sorted(n[:-4] for n in os.listdir(
                    os.path.join(PKI, "ca")) if n.endswith(".crt")
                    and n != "root.crt"):
                with open(os.path.join(PKI, "ca", name + ".crt")) as f:
                    out.write(f.read())

    # --- processes

    def spawn(self, argv, log, name, **kw):
        logf = open(log, "ab")
        p = subprocess.Popen(argv, stdout=logf, stderr=logf,
                             start_new_session=True, **kw)
        logf.close()
        p.bench_name = name
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=60):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def close(self):
        for p in list(reversed(self.procs)):
            try:
                self.stop(p, timeout=20)
            except Exception as e:       # keep stopping the others
                print("bench: stopping %s: %s" % (p.bench_name, e))
        if os.environ.get("BENCH_KEEP", "") not in ("", "0"):
            say("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the load generator

    def quiesce(self):
        """Waits (up to BENCH_QUIET_MAX s) until the machine is nearly idle:
        the previous run's after-effects (redis AOF rewrite, PostgreSQL
        checkpoints and autovacuum) and other users' work end before the
        next run starts. Returns (seconds waited, busy fraction at start)."""
        limit = env_float("BENCH_QUIET_MAX", 10, 0, 3600)
        t0 = time.monotonic()
        busy = machine_busy(0.3)
        while busy > 0.10 and time.monotonic() - t0 < limit:
            busy = machine_busy(0.5)
        if busy > 0.10:
            say("the machine is still %.0f%% busy after %.0f s; measuring anyway"
                % (busy * 100, limit))
        return round(time.monotonic() - t0, 1), round(busy, 3)

    def client(self, label, args, quiet=False, progress=False):
        """Runs eenplan-bench; returns its JSON result (plus 'exit').
        progress: its progress lines go to the terminal."""
        waited, busy = self.quiesce() if not quiet else (0, None)
        self.run_no += 1
        base = "%03d-%s" % (self.run_no, label.replace(" ", "_").replace("/", "_"))
        jpath = os.path.join(self.logdir, base + ".json")
        lpath = os.path.join(self.logdir, base + ".log")
        argv = [self.tool, "--cert", self.cert, "--key", self.key,
                "--ca", self.ca, "--json", jpath, "--label", label] + \
            ([] if progress else ["-q"]) + args
        with open(lpath, "wb") as log:
            p = subprocess.run(argv, stdout=log,
                               stderr=None if progress else subprocess.STDOUT)
        try:
            with open(jpath) as f:
                res = json.load(f)
        except (OSError, ValueError):
            with open(lpath, errors="replace") as f:
                tail = f.read()[-1500:]
            raise RuntimeError("eenplan-bench (%s) gave no result, exit %d:\n%s"
                               % (label, p.returncode, tail))
        res["exit"] = p.returncode
        res["log"] = lpath
        res["quiet_wait_s"] = waited
        res["busy_before"] = busy
        if not quiet:
            say(summary(label, res))
        return res

    def load(self, label, server, target, mix, extra=(), households=None,
             pid=None, seconds=None):
        args = ["--server", server, "--target", target, "--mix", mix,
                "--connections", str(self.conns), "--inflight", "1",
                "--warmup", str(self.warmup),
                "--duration", str(seconds or self.seconds)]
        if households:
            args += ["--households", households]
        if pid:
            args += ["--watch-pid", str(pid)]
        before = faults(pid)
        res = self.client(label, args + list(extra))
        after = faults(pid)
        if before and after and isinstance(res, dict):
            # The daemon's page faults over the run (warm-up included).
            res["daemon_minflt"] = after[0] - before[0]
            res["daemon_majflt"] = after[1] - before[1]
        return res

    def handshakes(self, label, server, target, mode, pid=None):
        args = ["--server", server, "--target", target, "--mode", mode,
                "--connections", str(self.conns), "--warmup", str(self.warmup),
                "--duration", str(self.seconds)]
        if pid:
            args += ["--watch-pid", str(pid)]
        return self.client(label, args)

    # --- eenpland

    def daemon(self, name, data_dir, limits=None):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        # All load comes from one certificate (wmo): the per-person write
        # quota (write_rate/write_burst) would refuse the population and
        # the write rounds, so it is opened to its maximum here.
        lim = {"map_max": 64 << 30, "max_connections": 4096,
               "write_rate": 1 << 30, "write_burst": 16 << 30}
        lim.update(limits or {})
        extra = os.path.join(d, "extra.ini")
        with open(extra, "w") as f:
            f.write("[limits]\n" + "".join("%s = %s\n" % kv for kv in lim.items()))
        conf = os.path.join(d, "eenpland.conf")
        with open(conf, "w") as f:
            f.write(sh([os.path.join(ROOT, "deploy", "mkconf.sh"), PKI,
                        data_dir, str(port), extra]))
        eenpland = os.path.join(self.build, "eenpland")
        sh([eenpland, "-n", "-f", conf])
        p = self.spawn([eenpland, "-f", conf], os.path.join(d, "eenpland.log"),
                       "eenpland " + name, preexec_fn=raise_nofile)
        p.port = port
        p.conf = conf
        p.data_dir = data_dir
        p.log = os.path.join(d, "eenpland.log")
        self.wait_daemon(p)
        return p

    def wait_daemon(self, p, timeout=60):
        env = dict(os.environ, EENPLAN_PKI=PKI,
                   EENPLAN_SERVER="127.0.0.1:%d" % p.port,
                   HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if p.poll() is not None:
                raise RuntimeError("eenpland exited with status %s; see %s"
                                   % (p.returncode, p.log))
            r = subprocess.run([os.path.join(self.build, "eenplan"), "--as",
                                CLIENT, "whoami"], env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("eenpland does not answer; see %s" % p.log)

    def stop_daemon(self, p):
        rc = self.stop(p, timeout=120)
        if rc != 0:
            # The temporary directory goes at exit: keep the daemon's log
            # beside the run's other logs.
            kept = os.path.join(self.logdir, os.path.basename(
                os.path.dirname(p.log)) + "-eenpland.log")
            try:
                shutil.copy(p.log, kept)
            except OSError:
                kept = p.log
            raise RuntimeError("eenpland exited with status %s; see %s"
                               % (rc, kept))

    # --- populations, cached in BUILD/bench/pop-N

    def population(self, n, renew=False):
        """The cached store of n households: (dir, households file, meta).
        Remade when the code that decides the store's format changed (see
        store_fingerprint), when BENCH_REPOPULATE=1, or when renew is set
        (the daemon would not serve the cached one)."""
        d = os.path.join(self.outdir, "pop-%d" % n)
        hh = os.path.join(d, "households.txt")
        meta = os.path.join(d, "meta.json")
        fp = store_fingerprint()
        if os.environ.get("BENCH_REPOPULATE", "") not in ("", "0"):
            renew = True
        if not renew and os.path.exists(meta) and \
                os.path.exists(os.path.join(d, "data", "data.mdb")):
            with open(meta) as f:
                m = json.load(f)
            if m.get("households") == n and m.get("store_fingerprint") == fp:
                return d, hh, m
            say("the cached population of %d was made by other store code; "
                "making it again" % n)
        tmp = d + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(tmp, "data"))
        say("creating a population of %d households (cached in %s)" % (n, d))
        p = self.daemon("populate-%d" % n, os.path.join(tmp, "data"))
        t0 = time.monotonic()
        res = self.client("populate %d" % n, [
            "--server", "127.0.0.1:%d" % p.port, "--mode", "populate",
            "--populate", str(n), "--out", os.path.join(tmp, "households.txt"),
            "--connections", "16", "--inflight", "64"], quiet=True,
            progress=True)
        secs = time.monotonic() - t0
        self.stop_daemon(p)
        if res["exit"] != 0 or res.get("created") != n:
            raise RuntimeError("populating failed (%s): %s" % (
                res.get("created"), res.get("errors")))
        os.sync()
        size = store_bytes(os.path.join(tmp, "data"))
        du = store_bytes(os.path.join(tmp, "data"), du=True)
        m = {"households": n, "notes_per_household": res["notes_per_household"],
             "note_bytes": 200, "seconds": round(secs, 1),
             "data_mdb_bytes": size,
             "data_mdb_du_bytes": du,
             "store_files": list(STORE_FILES),
             "created": now_utc(), "how": POP_HOW,
             "store_fingerprint": fp}
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(m, f, indent=2)
        os.rename(tmp, d)
        say("population of %d made in %.0f s; data.mdb and its audit index "
            "%.1f MB (%.0f B per household)" % (n, secs, du / 1e6, du / n))
        return d, hh, m

    def daemon_on_population(self, name, n, popdir, hh):
        """eenpland on a copy of a population, checked by reading one plan:
        (process, data dir), or (None, None) when it will not serve it."""
        shutil.rmtree(os.path.join(self.tmp, name), ignore_errors=True)
        data = self.store_copy(name, popdir)
        try:
            d = self.daemon(name, data)
        except RuntimeError as e:
            say("eenpland refuses the cached population: %s" % e)
            return None, None
        with open(hh) as f:
            first = f.readline().strip()
        env = dict(os.environ, EENPLAN_PKI=PKI,
                   EENPLAN_SERVER="127.0.0.1:%d" % d.port,
                   HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"))
        r = subprocess.run([os.path.join(self.build, "eenplan"), "--as", CLIENT,
                            "plan", "show", first], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            say("eenpland does not serve the cached population (%s)"
                % r.stderr.decode(errors="replace").strip()[:200])
            self.stop(d)
            return None, None
        return d, data

    def store_copy(self, name, popdir):
        """A fresh store for one run: a copy of the cached population."""
        data = os.path.join(self.tmp, name, "data")
        os.makedirs(data)
        need = store_bytes(os.path.join(popdir, "data"))
        free = shutil.disk_usage(self.tmp).free
        if free < need * 1.3 + (1 << 30):
            raise RuntimeError("%s needs %.1f GB free for a copy of the store, "
                               "has %.1f GB" % (self.tmp, need * 1.3 / 1e9 + 1,
                                                free / 1e9))
        pairs = []
        for f in STORE_FILES:
            src = os.path.join(popdir, "data", f)
            if os.path.exists(src):
                dst = os.path.join(data, f)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                pairs.append((src, dst))
        # The store is sealed under the key it was made with (deploy/mkconf.sh
        # keeps it beside the data directory): the copy opens with that one.
        key = os.path.join(popdir, "store.key")
        if os.path.exists(key):
            mine = os.path.join(os.path.dirname(data), "store.key")
            shutil.copyfile(key, mine)
            os.chmod(mine, 0o600)
        # On disk before anything is measured (else the kernel writes the
        # copy back while the first runs fsync), the cached original out of
        # the page cache and the copy in it: every run starts warm, however
        # big the store, as long as it fits in memory.
        for src, dst in pairs:
            for path, advice in ((dst, None), (src, os.POSIX_FADV_DONTNEED)):
                fd = os.open(path, os.O_RDONLY)
                try:
                    if advice is None:
                        os.fsync(fd)
                    else:
                        os.posix_fadvise(fd, 0, 0, advice)
                finally:
                    os.close(fd)
            with open(dst, "rb", buffering=0) as f:
                while f.read(1 << 20):
                    pass
        return data

    # --- redis

    def redis(self, households):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d)
        port = free_port()
        conf = os.path.join(d, "redis.conf")
        srv = os.path.join(PKI, "server")
        with open(conf, "w") as f:
            f.write("\n".join([
                "bind 127.0.0.1", "port 0", "tls-port %d" % port,
                "tls-cert-file %s/server.crt" % srv,
                "tls-key-file %s/server.key" % srv,
                "tls-ca-cert-file %s" % self.bundle,
                "tls-auth-clients yes",
                "dir %s" % d, "daemonize no", "save \"\"",
                "appendonly yes", "appendfsync always",
                "logfile %s/redis.log" % d, ""]))
        p = self.spawn(["redis-server", conf], os.path.join(d, "stdout.log"),
                       "redis")
        p.port = port
        wait_port(port, p, "redis-server")
        self.redis_cli(p, "PING")
        res = self.client("redis populate", [
            "--server", "127.0.0.1:%d" % port, "--target", "redis",
            "--mode", "populate", "--households", households,
            "--connections", "8", "--inflight", "256"], quiet=True)
        if res["exit"] != 0:
            raise RuntimeError("redis populate failed: %s" % res.get("errors"))
        # Start the rounds from a compact AOF, as after any restart.
        self.redis_cli(p, "BGREWRITEAOF")
        end = time.monotonic() + 300
        while "aof_rewrite_in_progress:0" not in self.redis_cli(p, "INFO", "persistence") \
                or "aof_rewrite_scheduled:0" not in self.redis_cli(p, "INFO", "persistence"):
            if time.monotonic() > end:
                raise RuntimeError("redis AOF rewrite does not finish")
            time.sleep(0.2)
        return p

    def redis_cli(self, p, *cmd):
        return sh(["redis-cli", "--tls", "--cert", self.cert, "--key", self.key,
                   "--cacert", self.ca, "-h", "127.0.0.1", "-p", str(p.port)]
                  + list(cmd))

    # --- PostgreSQL

    def pg(self, households):
        d = os.path.join(self.tmp, "pg")
        os.makedirs(d)
        data = os.path.join(d, "data")
        srv = os.path.join(PKI, "server")
        for src, dst in ((os.path.join(srv, "server.crt"), "server.crt"),
                         (os.path.join(srv, "server.key"), "server.key"),
                         (self.bundle, "ca.pem")):
            shutil.copyfile(src, os.path.join(d, dst))
        os.chmod(os.path.join(d, "server.key"), 0o600)
        kw = {}
        if self.runas:
            for root, dirs, files in os.walk(d):
                for n in dirs + files + ["."]:
                    os.chown(os.path.join(root, n), self.runas.pw_uid,
                             self.runas.pw_gid)
            kw = {"user": self.runas.pw_uid, "group": self.runas.pw_gid,
                  "extra_groups": []}
        env = dict(os.environ, LC_ALL="C", HOME=d)
        sh([PGBIN + "/initdb", "-D", data, "-U", "benchadmin", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync"], env=env, cwd=d, **kw)
        port = free_port()
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n".join([
                "", "# eenplan bench",
                "listen_addresses = '127.0.0.1'", "port = %d" % port,
                "unix_socket_directories = '%s'" % d,
                "ssl = on", "ssl_cert_file = '%s/server.crt'" % d,
                "ssl_key_file = '%s/server.key'" % d,
                "ssl_ca_file = '%s/ca.pem'" % d,
                "ssl_min_protocol_version = 'TLSv1.2'",
                "max_connections = %d" % (self.conns + 20),
                "shared_buffers = '%s'" % os.environ.get("BENCH_PG_SHARED_BUFFERS", "1GB"),
                "synchronous_commit = on", "fsync = on",
                "full_page_writes = on",
                "max_wal_size = '8GB'", "checkpoint_timeout = '30min'",
                "log_min_messages = warning", ""]))
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "hostssl bench \"%s\" 127.0.0.1/32 cert\n" % PG_ROLE)
        p = self.spawn([PGBIN + "/postgres", "-D", data],
                       os.path.join(d, "postgres.log"), "postgres", env=env,
                       cwd=d, **kw)
        p.port = port
        p.sock = d
        wait_port(port, p, "postgres")
        end = time.monotonic() + 60
        while subprocess.run([PGBIN + "/pg_isready", "-q", "-h", d, "-p",
                              str(port)]).returncode != 0:
            if time.monotonic() > end or p.poll() is not None:
                raise RuntimeError("postgres does not start; see %s/postgres.log" % d)
            time.sleep(0.2)
        self.psql(p, "postgres", "CREATE DATABASE bench")
        self.psql(p, "bench", PG_SCHEMA.replace("@ROLE@", PG_ROLE).replace(
            "@HH@", households.replace("'", "''")))
        return p

    def psql(self, p, db, sql):
        return sh([PGBIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                   "-h", p.sock, "-p", str(p.port), "-U", "benchadmin",
                   "-d", db], input=sql.encode())

    # --- openssl s_server

    def s_server(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        port = free_port()
        srv = os.path.join(PKI, "server")
        logf = open(os.path.join(d, "s_server.log"), "ab")
        # stdin stays an open pipe: at EOF s_server would stop serving.
        p = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
             "-cert", srv + "/server.crt", "-key", srv + "/server.key",
             "-CAfile", self.bundle, "-Verify", "1", "-quiet"],
            stdin=subprocess.PIPE, stdout=logf, stderr=logf,
            start_new_session=True)
        logf.close()
        p.bench_name = name
        self.procs.append(p)
        p.port = port
        wait_port(port, p, "openssl s_server")
        return p


POP_HOW = ("each household: CreateHousehold (area Noord, 2 members) by the "
           "regisseur wmo (gemeente/a.devries), then one MutatePlan with 8 "
           "AddNote mutations of 200 bytes; 16 connections x 64 requests in "
           "flight")

# The PostgreSQL reference: the plan rows under row-level security (the
# role is the client certificate's CN: pg_hba "cert"), an audit table with
# the two lookups eenpland keeps (by household, by actor). toast_tuple_target
# keeps the 2 KB plan in the row, as a careful DBA would for this size.
PG_SCHEMA = r"""
CREATE ROLE "@ROLE@" LOGIN;
CREATE TABLE plans (
    id text PRIMARY KEY,
    org text NOT NULL,
    subject text NOT NULL,
    version bigint NOT NULL,
    body bytea NOT NULL,
    last_note text,
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (toast_tuple_target = 8160, fillfactor = 80);
CREATE TABLE audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text NOT NULL DEFAULT current_user,
    action text NOT NULL,
    household text NOT NULL,
    outcome text NOT NULL,
    peer inet DEFAULT inet_client_addr()
);
CREATE INDEX audit_by_household ON audit (household, seq);
CREATE INDEX audit_by_actor ON audit (actor, seq);
ALTER TABLE plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY regisseur ON plans USING (subject = current_user);
GRANT SELECT, UPDATE ON plans TO "@ROLE@";
GRANT INSERT ON audit TO "@ROLE@";
CREATE TEMP TABLE ids (id text);
\copy ids FROM '@HH@'
INSERT INTO plans (id, org, subject, version, body)
    SELECT id, 'gemeente', '@ROLE@', 1,
           (SELECT decode(string_agg(md5(ids.id || g::text), ''), 'hex')
              FROM generate_series(1, 128) g)
      FROM ids;
VACUUM ANALYZE plans;
CHECKPOINT;
"""


# The store's files under a data directory: the store and its audit index
# (an LMDB environment of its own since the indexer thread).
STORE_FILES = ("data.mdb", os.path.join("audit-index", "data.mdb"))


def store_files(data):
    return [os.path.join(data, f) for f in STORE_FILES
            if os.path.exists(os.path.join(data, f))]


def store_bytes(data, du=False):
    """Bytes of the store's files: sizes, or blocks on disk (du)."""
    t = 0
    for f in store_files(data):
        st = os.stat(f)
        t += st.st_blocks * 512 if du else st.st_size
    return t


def faults(pid):
    """(minor, major) page faults of process pid so far, or None."""
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[7]), int(fields[9])


def med_s(xs):
    """The median of numbers given as text (\"-\" left out), as text."""
    v = [float(x) for x in xs if x != "-"]
    return "%.2f" % med(v) if v else "-"


def store_fingerprint():
    """A hash of the sources that decide what a stored household looks like;
    a cached population made by other code is made again."""
    import hashlib
    h = hashlib.sha256()
    names = ["proto/eenplan.proto"]
    for n in sorted(os.listdir(os.path.join(ROOT, "daemon"))):
        if n.startswith(("store", "plan", "audit", "writer", "hh")) and \
                n.endswith((".c", ".h")):
            names.append("daemon/" + n)
    for n in names:
        h.update(n.encode() + b"\0")
        with open(os.path.join(ROOT, n), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


def summary(label, r):
    if r.get("mode") in ("handshake", "resume"):
        ops = r.get("ops", {})
        full = ops.get("full", {}).get("per_second", 0)
        res = ops.get("resumed", {}).get("per_second", 0)
        s = "%-34s full %8.0f/s  resumed %8.0f/s" % (label, full, res)
    else:
        lat = r.get("latency_us", {})
        s = "%-34s %9.0f/s  p50 %6.2f  p99 %6.2f ms" % (
            label, r.get("per_second", 0), lat.get("p50", 0) / 1e3,
            lat.get("p99", 0) / 1e3)
    s += "  CPU client %.2f" % r.get("client_cpu_cores", 0)
    if "server_cpu_cores" in r:
        s += " server %.2f" % r["server_cpu_cores"]
    if "machine_cpu_cores" in r:
        s += " machine %.2f" % r["machine_cpu_cores"]
    if "steal_cpu_cores" in r:
        s += " (stolen %.2f)" % r["steal_cpu_cores"]
    bad = r.get("non_ok_total", 0) + r.get("unanswered", 0)
    s += "  non-OK %d" % bad
    if r.get("connect_failures") or r.get("connections_lost"):
        s += "  CONNECTIONS failed %d lost %d" % (
            r.get("connect_failures", 0), r.get("connections_lost", 0))
    return s


def behind(r):
    """' (FELL BEHIND)' when an open-loop run did not keep its schedule."""
    if r.get("rate") and r.get("per_second", 0) < 0.95 * r["rate"]:
        return " (FELL BEHIND its schedule: latency includes the queue)"
    return ""


def other_load(runs):
    """CPU used on the machine by neither the client nor the server."""
    xs = []
    for key, lst in runs.items():
        for i, r in enumerate(lst):
            if r and "machine_cpu_cores" in r and "server_cpu_cores" in r:
                xs.append((max(0.0, r["machine_cpu_cores"] - r["server_cpu_cores"]
                               - r.get("client_cpu_cores", 0)), "%s %d" % (key, i + 1)))
    if not xs:
        return None
    worst = max(xs)
    res = {"median": statistics.median(x for x, _ in xs), "max": worst[0],
           "max_run": worst[1]}
    # Of it, what the host took from our virtual CPUs (steal): shared
    # hosts vary by the hour, and a round with much of it is slower for
    # every program alike.
    st = [(r["steal_cpu_cores"], "%s %d" % (key, i + 1))
          for key, lst in runs.items() for i, r in enumerate(lst)
          if r and "steal_cpu_cores" in r]
    if st:
        res["steal_median"] = statistics.median(x for x, _ in st)
        res["steal_max"], res["steal_max_run"] = max(st)
    return res


def run_errors(r):
    """What went wrong in one run, or '' when nothing did."""
    bad = []
    n = r.get("non_ok_total", 0) + r.get("unanswered", 0)
    if n:
        bad.append("%d non-OK/unanswered" % n)
    if r.get("connect_failures"):
        bad.append("%d connections failed" % r["connect_failures"])
    if r.get("connections_lost"):
        bad.append("%d connections lost" % r["connections_lost"])
    if bad:
        bad.append("; ".join("%s x%d" % (e["text"], e["count"])
                             for e in r.get("errors", [])))
    return ", ".join(bad)


# ------------------------------------------------------------------ machine

def machine(path):
    m = {"cpu": "?", "cores": os.cpu_count(), "kernel": platform.release(),
         "memory_gb": None, "disk": "?"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    m["memory_gb"] = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    try:
        src, fstype = subprocess.run(
            ["findmnt", "-no", "SOURCE,FSTYPE", "-T", path],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ).stdout.decode().split()[:2]
        dev = os.path.basename(os.path.realpath(src))
        base = dev.rstrip("0123456789") if not dev.startswith("nvme") else dev.split("p")[0]
        kind = "?"
        rot = "/sys/block/%s/queue/rotational" % base
        if os.path.exists(rot):
            kind = "rotational" if open(rot).read().strip() == "1" else "non-rotational"
        vendor = "/sys/block/%s/device/vendor" % base
        model = "/sys/block/%s/device/model" % base
        desc = ""
        for p in (model, vendor):
            if os.path.exists(p):
                desc = open(p).read().strip()
                break
        if base.startswith("vd"):
            desc = "virtio block device" + (" (%s)" % desc if desc else "")
        m["disk"] = "%s %s, %s, reports %s" % (src, fstype, desc or "?", kind)
    except (OSError, ValueError):
        pass
    return m


def versions():
    v = {}
    for name, argv in (("redis", ["redis-server", "--version"]),
                       ("postgresql", [PGBIN + "/postgres", "--version"]),
                       ("openssl", ["openssl", "version"])):
        try:
            v[name] = subprocess.run(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL
                                     ).stdout.decode().strip()
        except OSError:
            v[name] = "?"
    try:
        v["eenplan"] = subprocess.run(
            ["git", "-C", ROOT, "describe", "--always", "--dirty"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ).stdout.decode().strip()
    except OSError:
        v["eenplan"] = "?"
    return v


# ------------------------------------------------------------------ table

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def metric(r, what):
    """A number out of one run's result: per_second, p50, p99 (ms),
    full/resumed handshakes per second."""
    if r is None:
        return None
    if what == "rate":
        return r.get("per_second")
    if what in ("p50", "p99"):
        return r.get("latency_us", {}).get(what, 0) / 1e3
    if what in ("full", "resumed"):
        return r.get("ops", {}).get(what, {}).get("per_second", 0.0)
    raise KeyError(what)


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "/s":
        return "{:,.0f}/s".format(v)
    if unit == "ms":
        return "%.2f ms" % v
    if unit == "B":
        return "{:,.0f} B".format(v)
    return "%g" % v


def fmt_ratio(o, t):
    if o is None or t is None or t == 0:
        return "-"
    return "%.2fx" % (o / t)


# (figure, our run, its metric, reference label, their run, its metric, unit)
FIGURES = [
    ("audited GetPlan (2 KB)", "ours-get", "rate",
     "redis Lua GET + XADD", "redis-get-audit", "rate", "/s"),
    ("audited GetPlan (2 KB)", "ours-get", "rate",
     "redis plain GET (writes nothing)", "redis-get", "rate", "/s"),
    ("audited GetPlan (2 KB)", "ours-get", "rate",
     "PostgreSQL SELECT + audit INSERT", "pg-get-audit", "rate", "/s"),
    ("GetPlan latency p50", "ours-get", "p50",
     "redis Lua GET + XADD", "redis-get-audit", "p50", "ms"),
    ("GetPlan latency p99", "ours-get", "p99",
     "redis Lua GET + XADD", "redis-get-audit", "p99", "ms"),
    ("durable MutatePlan (200 B note)", "ours-mutate", "rate",
     "redis SET + XADD", "redis-set-audit", "rate", "/s"),
    ("durable MutatePlan (200 B note)", "ours-mutate", "rate",
     "PostgreSQL UPDATE + audit INSERT", "pg-update-audit", "rate", "/s"),
    ("MutatePlan latency p50", "ours-mutate", "p50",
     "redis SET + XADD", "redis-set-audit", "p50", "ms"),
    ("MutatePlan latency p99", "ours-mutate", "p99",
     "redis SET + XADD", "redis-set-audit", "p99", "ms"),
    ("full mTLS handshakes", "ours-handshake", "full",
     "openssl s_server -Verify 1", "sserver-handshake", "full", "/s"),
    ("full mTLS handshakes", "ours-handshake", "full",
     "s_server, one process per core", "sservers-handshake", "full", "/s"),
    ("resumed handshakes (TLS 1.3 tickets)", "ours-resume", "resumed",
     "s_server resumed", "sserver-resume", "resumed", "/s"),
    ("resumed handshakes (TLS 1.3 tickets)", "ours-resume", "resumed",
     "our full handshakes", "ours-handshake", "full", "/s"),
]


def build_figures(runs, rounds):
    out = []
    for fig, okey, om, tlabel, tkey, tm, unit in FIGURES:
        per = []
        for i in range(rounds):
            o = metric(runs.get(okey, [None] * rounds)[i], om)
            t = metric(runs.get(tkey, [None] * rounds)[i], tm)
            per.append({"ours": o, "theirs": t,
                        "ratio": (o / t) if o is not None and t else None})
        mo = med([p["ours"] for p in per])
        mt = med([p["theirs"] for p in per])
        note = ""
        if om == "resumed":
            full = sum(r.get("handshakes_full", 0) for r in runs.get(okey, []) if r)
            resumed = sum(r.get("handshakes_resumed", 0) for r in runs.get(okey, []) if r)
            note = "eenpland resumed %d of %d handshakes (SSL_session_reused)" % (
                resumed, full + resumed)
        out.append({"figure": fig, "reference": tlabel, "unit": unit, "note": note,
                    "better": "lower" if unit == "ms" else "higher",
                    "ours_run": okey, "theirs_run": tkey,
                    "rounds": per,
                    "median": {"ours": mo, "theirs": mt,
                               "ratio": (mo / mt) if mo is not None and mt else None}})
    return out


def print_table(result):
    figs = result["figures"]
    rows = [("figure", "reference", "ours", "theirs", "ratio", "rounds: ours / theirs = ratio")]
    for f in figs:
        m = f["median"]
        rnd = "  ".join("%s / %s = %s" % (fmt(p["ours"], f["unit"]).replace("/s", ""),
                                          fmt(p["theirs"], f["unit"]).replace("/s", ""),
                                          fmt_ratio(p["ours"], p["theirs"]))
                        for p in f["rounds"])
        rows.append((f["figure"], f["reference"], fmt(m["ours"], f["unit"]),
                     fmt(m["theirs"], f["unit"]), fmt_ratio(m["ours"], m["theirs"]),
                     rnd + ("  (%s)" % f["note"] if f.get("note") else "")))
    for x in result.get("extra", []):
        rows.append((x["figure"], x["reference"], fmt(x["ours"], x["unit"]),
                     fmt(x.get("theirs"), x["unit"]),
                     fmt_ratio(x["ours"], x.get("theirs")) if x.get("theirs") else "-",
                     x.get("note", "")))
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    m = result["machine"]
    c = result["config"]
    print()
    print("eenplan benchmark, %s — %s, %d cores, %s GB, Linux %s; disk %s"
          % (result["date"], m["cpu"], m["cores"], m["memory_gb"], m["kernel"],
             m["disk"]))
    print("%d households (GetPlan answers of %s B); %d connections, "
          "1 request in flight each, uniform random households; %d round(s) of "
          "%g s after %g s warm-up; medians over rounds (ratio = ours / theirs; "
          "for latency lower is better)" % (
              c["households"], c["plan_bytes"] or "?", c["connections"],
              c["rounds"], c["seconds"], c["warmup"]))
    print("population: %s" % c["population"])
    print()
    for i, r in enumerate(rows):
        print("  ".join(r[k].ljust(w[k]) if k < 5 else r[k] for k in range(6)).rstrip())
        if i == 0:
            print("  ".join("-" * w[k] for k in range(5)) + "  " + "-" * 30)
    print()
    o = result.get("other_load")
    if o:
        print("other load on the machine while measuring (whole machine minus "
              "client minus server): median %.2f, max %.2f cores (%s)"
              % (o["median"], o["max"], o["max_run"]))
    bad = result.get("problems", [])
    if bad:
        print("PROBLEMS (these figures are not clean):")
        for b in bad:
            print("  " + b)
    else:
        print("non-OK answers: 0 in every run; no connection failed.")
    print("versions: " + ", ".join("%s %s" % kv for kv in result["versions"].items()))
    print()


def markdown(result):
    m = result["machine"]
    c = result["config"]
    out = ["Measured by `make bench` on %s: %s, %d cores, %s GB RAM, Linux %s, "
           "disk %s. %d households (GetPlan answers of ~%s B), %d mTLS "
           "connections with one "
           "request in flight each, %d interleaved rounds of %g s; medians."
           % (result["date"], m["cpu"], m["cores"], m["memory_gb"], m["kernel"],
              m["disk"], c["households"], c["plan_bytes"] or "?",
              c["connections"], c["rounds"], c["seconds"]), "",
           "| figure | eenpland | reference | theirs | ratio |",
           "|---|---|---|---|---|"]
    for f in result["figures"]:
        md = f["median"]
        out.append("| %s | %s | %s | %s | %s |" % (
            f["figure"], fmt(md["ours"], f["unit"]), f["reference"],
            fmt(md["theirs"], f["unit"]), fmt_ratio(md["ours"], md["theirs"])))
    for x in result.get("extra", []):
        out.append("| %s | %s | %s | %s | %s |" % (
            x["figure"], fmt(x["ours"], x["unit"]), x["reference"],
            fmt(x.get("theirs"), x["unit"]),
            fmt_ratio(x["ours"], x.get("theirs")) if x.get("theirs") else "-"))
    out.append("")
    notes = sorted({f["note"] for f in result["figures"] if f.get("note")})
    o = result.get("other_load")
    if o:
        notes.append("Other processes used a median %.2f (max %.2f) of the "
                     "%d cores while we measured." % (o["median"], o["max"],
                                                      m["cores"]))
        if "steal_median" in o:
            notes.append("Of that, the host took (steal) a median %.2f "
                         "(max %.2f, %s) of our cores." % (
                             o["steal_median"], o["steal_max"],
                             o["steal_max_run"]))
    if result.get("problems"):
        notes.append("Not clean: " + "; ".join(result["problems"]))
    else:
        notes.append("Non-OK answers: 0 in every run; no connection failed.")
    notes.append("Population: " + c["population"] + ".")
    out.append(" ".join(n + ("" if n.endswith(".") else ".") for n in notes))
    return "\n".join(out)


# ------------------------------------------------------------------ modes

def main_bench(b):
    n = env_int("BENCH_HOUSEHOLDS", 100000, 10, 10**8)
    popdir, hh, meta = b.population(n)
    result = {"date": now_utc(), "machine": machine(b.tmp),
              "versions": versions(),
              "config": {"households": n, "rounds": b.rounds,
                         "seconds": b.seconds, "warmup": b.warmup,
                         "connections": b.conns, "population": meta["how"],
                         "plan_bytes": None}}
    say("starting eenpland on a copy of the population, redis, PostgreSQL, "
        "s_server")
    d, data = b.daemon_on_population("ours", n, popdir, hh)
    if d is None:
        popdir, hh, meta = b.population(n, renew=True)
        d, data = b.daemon_on_population("ours", n, popdir, hh)
        if d is None:
            raise RuntimeError("eenpland does not serve a fresh population")
    ours = "127.0.0.1:%d" % d.port
    r = b.redis(hh)
    p = b.pg(hh)
    ss = b.s_server("sserver")
    many = [b.s_server("sservers-%d" % i) for i in range(os.cpu_count() or 1)]
    many_addr = ",".join("127.0.0.1:%d" % s.port for s in many)
    rd = "127.0.0.1:%d" % r.port
    pg = "127.0.0.1:%d" % p.port
    runs = {}
    growth = {"get": [0, 0], "mutate": [0, 0]}

    def add(key, res):
        runs.setdefault(key, []).append(res)

    def ours_load(key, mix, op):
        size0 = store_bytes(data)
        res = b.load("%s r%d" % (key, rnd), ours, "eenplan", mix,
                     households=hh, pid=d.pid)
        growth[op][0] += store_bytes(data) - size0
        growth[op][1] += res.get("ok_total", 0)
        add(key, res)

    for rnd in range(1, b.rounds + 1):
        say("round %d of %d" % (rnd, b.rounds))
        ours_load("ours-get", "get=1", "get")
        add("redis-get-audit", b.load("redis-get-audit r%d" % rnd, rd, "redis",
                                      "get-audit=1", households=hh, pid=r.pid))
        add("redis-get", b.load("redis-get r%d" % rnd, rd, "redis", "get=1",
                                households=hh, pid=r.pid))
        add("pg-get-audit", b.load("pg-get-audit r%d" % rnd, pg, "pg",
                                   "get-audit=1", households=hh, pid=p.pid))
        ours_load("ours-mutate", "mutate=1", "mutate")
        add("redis-set-audit", b.load("redis-set-audit r%d" % rnd, rd, "redis",
                                      "set-audit=1", households=hh, pid=r.pid))
        add("pg-update-audit", b.load("pg-update-audit r%d" % rnd, pg, "pg",
                                      "update-audit=1", households=hh, pid=p.pid))
        add("ours-handshake", b.handshakes("ours-handshake r%d" % rnd, ours,
                                           "eenplan", "handshake", pid=d.pid))
        add("sserver-handshake", b.handshakes("sserver-handshake r%d" % rnd,
                                              "127.0.0.1:%d" % ss.port, "tls",
                                              "handshake", pid=ss.pid))
        add("sservers-handshake", b.handshakes("sservers-handshake r%d" % rnd,
                                               many_addr, "tls", "handshake"))
        add("ours-resume", b.handshakes("ours-resume r%d" % rnd, ours,
                                        "eenplan", "resume", pid=d.pid))
        add("sserver-resume", b.handshakes("sserver-resume r%d" % rnd,
                                           "127.0.0.1:%d" % ss.port, "tls",
                                           "resume", pid=ss.pid))

    # Latency at half of each one's peak read rate (open loop).
    peak_ours = med([x.get("per_second") for x in runs["ours-get"]])
    peak_redis = med([x.get("per_second") for x in runs["redis-get-audit"]])
    say("open loop at half of the peak read rate")
    half_o = b.load("ours-get half-peak", ours, "eenplan", "get=1",
                    households=hh, pid=d.pid,
                    extra=["--rate", "%.0f" % max(1, peak_ours / 2)])
    half_r = b.load("redis-get-audit half-peak", rd, "redis", "get-audit=1",
                    households=hh, pid=r.pid,
                    extra=["--rate", "%.0f" % max(1, peak_redis / 2)])
    runs["ours-get-half"] = [half_o]
    runs["redis-get-audit-half"] = [half_r]

    result["config"]["plan_bytes"] = round(med([
        x.get("ops", {}).get("get", {}).get("response_bytes_mean")
        for x in runs["ours-get"]]) or 0)
    result["figures"] = build_figures(runs, b.rounds)
    extra = [
        {"figure": "GetPlan p99 at half of peak (open loop)",
         "reference": "redis Lua GET + XADD at half of its peak",
         "unit": "ms", "ours": metric(half_o, "p99"),
         "theirs": metric(half_r, "p99"),
         "note": "scheduled %.0f/s: ours did %.0f/s%s, redis %.0f/s: did "
                 "%.0f/s%s; p50 %.2f / %.2f ms" % (
                     half_o.get("rate", 0), half_o.get("per_second", 0),
                     behind(half_o), half_r.get("rate", 0),
                     half_r.get("per_second", 0), behind(half_r),
                     metric(half_o, "p50"), metric(half_r, "p50"))},
    ]
    for op, label in (("get", "audited GetPlan"), ("mutate", "MutatePlan")):
        grown, count = growth[op]
        if count:
            extra.append({"figure": "store growth per %s" % label,
                          "reference": "data.mdb + audit index size / answers (warm-up included)",
                          "unit": "B", "ours": grown / count,
                          "note": "%+.1f MB over %d answers" % (grown / 1e6, count)})
    pop_bytes = meta["data_mdb_du_bytes"] / n
    extra.append({"figure": "store size per household (population)",
                  "reference": "du data.mdb + audit index / households", "unit": "B",
                  "ours": pop_bytes,
                  "note": "%d households, ~%d B plans" % (
                      n, result["config"]["plan_bytes"])})
    result["extra"] = extra
    result["problems"] = []
    for key, lst in sorted(runs.items()):
        for i, x in enumerate(lst):
            e = run_errors(x)
            if e:
                result["problems"].append("%s run %d: %s" % (key, i + 1, e))
    if d.poll() is not None:
        result["problems"].append("eenpland exited during the run")
    result["other_load"] = other_load(runs)
    result["runs"] = runs
    path = os.path.join(b.outdir, "result.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print_table(result)
    say("result: %s (make bench-markdown prints the README table)" % path)
    return 1 if result["problems"] else 0


def population_bench(b):
    small = 1000
    big = env_int("BENCH_BIG", 1000000, 1001, 10**8)
    pops = {}
    for n in (small, big):
        pops[n] = b.population(n)
    daemons = {}
    for n in (small, big):
        d, _ = b.daemon_on_population("pop-%d" % n, n, pops[n][0], pops[n][1])
        if d is None:
            pops[n] = b.population(n, renew=True)
            d, _ = b.daemon_on_population("pop-%d" % n, n, pops[n][0], pops[n][1])
            if d is None:
                raise RuntimeError("eenpland does not serve a fresh population")
        daemons[n] = d
    # Steady state for both: a daemon's map is touched page by page as it
    # is read, which a 10 GB store takes tens of seconds of reads to do (the
    # first rounds of a run without this rose from 0.56x to 0.89x). The
    # warm-up's own figures are kept in the JSON and printed.
    pop_warm = env_float("BENCH_POP_WARMUP", 30, 0, 3600)
    warm = {}
    if pop_warm > 0:
        for n in (small, big):
            warm[n] = b.load("warm-up %d" % n,
                             "127.0.0.1:%d" % daemons[n].port, "eenplan",
                             "get=1", households=pops[n][1],
                             pid=daemons[n].pid, seconds=pop_warm)
    runs = {small: [], big: []}
    for rnd in range(1, b.rounds + 1):
        say("round %d of %d" % (rnd, b.rounds))
        for n in (small, big):
            runs[n].append(b.load("get %d r%d" % (n, rnd),
                                  "127.0.0.1:%d" % daemons[n].port, "eenplan",
                                  "get=1", households=pops[n][1],
                                  pid=daemons[n].pid))
    rs = [x.get("per_second") for x in runs[small]]
    rb = [x.get("per_second") for x in runs[big]]
    res = {"date": now_utc(), "machine": machine(b.tmp), "versions": versions(),
           "small": small, "big": big, "rounds": b.rounds, "seconds": b.seconds,
           "connections": b.conns,
           "reads_per_s": {str(small): rs, str(big): rb},
           "median": {str(small): med(rs), str(big): med(rb),
                      "ratio": med(rb) / med(rs) if med(rs) else None},
           "bytes_per_household": {str(n): pops[n][2]["data_mdb_du_bytes"] / n
                                   for n in (small, big)},
           "populations": {str(n): pops[n][2] for n in (small, big)},
           "problems": [("%d run %d: %s" % (n, i + 1, run_errors(x)))
                        for n in (small, big) for i, x in enumerate(runs[n])
                        if run_errors(x)],
           "warmup_seconds": pop_warm,
           "warmup": {str(n): warm[n] for n in warm},
           "runs": {str(n): runs[n] for n in runs}}
    with open(os.path.join(b.outdir, "population.json"), "w") as f:
        json.dump(res, f, indent=1)
    m = res["machine"]
    print()
    print("eenplan population benchmark, %s — %s, %d cores, Linux %s; disk %s"
          % (res["date"], m["cpu"], m["cores"], m["kernel"], m["disk"]))
    print("audited GetPlan, %d connections x 1 in flight, %d round(s) of %g s"
          % (b.conns, b.rounds, b.seconds))
    print()
    print("%-28s %12s %12s %8s" % ("figure", "%d" % small, "%d" % big, "ratio"))
    if warm:
        ws, wb = (warm[n].get("per_second") for n in (small, big))
        print("%-28s %12s %12s %8s" % ("reads/s warm-up (%g s)" % pop_warm,
                                       fmt(ws, "/s"), fmt(wb, "/s"),
                                       fmt_ratio(wb, ws)))
    for i in range(b.rounds):
        print("%-28s %12s %12s %8s" % ("reads/s round %d" % (i + 1),
                                       fmt(rs[i], "/s"), fmt(rb[i], "/s"),
                                       fmt_ratio(rb[i], rs[i])))

    def per_read(x):
        ok = x.get("ok_total") or x.get("ok") or 0     # warm-up included
        return "%.2f" % (x["daemon_minflt"] / ok) \
            if ok and "daemon_minflt" in x else "-"
    if warm:
        print("%-28s %12s %12s" % ("daemon faults/read warm-up",
                                   per_read(warm[small]), per_read(warm[big])))
    print("%-28s %12s %12s" % ("daemon faults/read rounds",
                               med_s([per_read(x) for x in runs[small]]),
                               med_s([per_read(x) for x in runs[big]])))
    print("%-28s %12s %12s %8s" % ("reads/s median", fmt(med(rs), "/s"),
                                   fmt(med(rb), "/s"), fmt_ratio(med(rb), med(rs))))
    bs = res["bytes_per_household"]
    print("%-28s %12s %12s" % ("on disk per household", fmt(bs[str(small)], "B"),
                               fmt(bs[str(big)], "B")))
    print("%-28s %12s %12s" % ("population made in", "%.0f s" % pops[small][2]["seconds"],
                               "%.0f s" % pops[big][2]["seconds"]))
    o = other_load({str(n): runs[n] for n in runs})
    if o:
        print("other load on the machine while measuring: median %.2f, max "
              "%.2f cores (%s)" % (o["median"], o["max"], o["max_run"]))
        if "steal_median" in o:
            print("of it stolen by the host: median %.2f, max %.2f cores "
                  "(%s)" % (o["steal_median"], o["steal_max"],
                            o["steal_max_run"]))
        res["other_load"] = o
        with open(os.path.join(b.outdir, "population.json"), "w") as f:
            json.dump(res, f, indent=1)
    print()
    if res["problems"]:
        print("PROBLEMS: " + "; ".join(res["problems"]))
    else:
        print("non-OK answers: 0 in every run; no connection failed.")
    return 1 if res["problems"] else 0


def idle_bench(b):
    n = env_int("BENCH_IDLE", 10000, 1, 10**6)
    need = n + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit("run.py: %d connections need %d file descriptors per process; "
                 "the hard limit is %d (raise it, or set BENCH_IDLE lower)"
                 % (n, need, hard))
    data = os.path.join(b.tmp, "idle", "data")
    os.makedirs(data)
    # Every connection is the one certificate's (wmo): its own limit
    # (max_connections_per_principal, default 64) opened too.
    d = b.daemon("idle", data, limits={"max_connections": n + 100,
                                       "max_connections_per_principal":
                                       n + 100,
                                       "idle_timeout": 3600})
    # The daemon gives freed memory back on a 1 s tick, at most every 5 s
    # (server_trim_cb): 3 s after the close was too soon to see it.
    settle = env_float("BENCH_SETTLE", 10, 0, 600)
    res = b.client("idle %d" % n, [
        "--server", "127.0.0.1:%d" % d.port, "--mode", "idle",
        "--connections", str(n), "--watch-pid", str(d.pid),
        "--settle", str(settle), "--connect-concurrency", "64"], quiet=True)
    res["date"] = now_utc()
    res["machine"] = machine(b.tmp)
    with open(os.path.join(b.outdir, "idle.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(res["log"]) as f:
        sys.stdout.write(f.read())
    kb = res.get("server_kb_per_connection")
    before, opened, closed = (res.get("server_rss_kb_before"),
                              res.get("server_rss_kb_open"),
                              res.get("server_rss_kb_closed"))
    print()
    print("eenplan idle connections, %s — %s, %d cores, Linux %s"
          % (res["date"], res["machine"]["cpu"], res["machine"]["cores"],
             res["machine"]["kernel"]))
    print("%-40s %s" % ("idle mTLS connections held", res.get("held")))
    print("%-40s %s kB" % ("eenpland RSS before", before))
    print("%-40s %s kB" % ("eenpland RSS with them open", opened))
    if kb is not None:
        print("%-40s %.1f kB" % ("RSS per idle connection", kb))
    if before and closed:
        print("%-40s %s kB (%+.0f %% of before)" % (
            "eenpland RSS after they closed", closed,
            100.0 * (closed - before) / before))
    e = run_errors(res)
    if e or res.get("held") != n:
        print("PROBLEMS: %s" % (e or "only %s of %d held" % (res.get("held"), n)))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("what", choices=["main", "population", "idle", "markdown"])
    a = ap.parse_args()
    if a.what == "markdown":
        path = os.path.join(os.path.abspath(a.build), "bench", "result.json")
        try:
            with open(path) as f:
                print(markdown(json.load(f)))
        except OSError:
            sys.exit("run.py: no %s: run make bench first" % path)
        return 0
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    raise_nofile()
    b = Bench(a.build)
    # This run's eenplan-bench output, one .log and one .json per run.
    b.logdir = os.path.join(b.outdir, "logs", a.what)
    shutil.rmtree(b.logdir, ignore_errors=True)
    os.makedirs(b.logdir)
    try:
        if a.what == "main":
            return main_bench(b)
        if a.what == "population":
            return population_bench(b)
        return idle_bench(b)
    except Stop as e:
        say("stopped (%s)" % e)
        return 130
    except RuntimeError as e:
        say("failed: %s" % e)
        return 1
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
