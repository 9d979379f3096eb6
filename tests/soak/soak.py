#!/usr/bin/env python3
"""make soak: a long run of mixed load against one eenpland (not part of
make check).

    SOAK_MINUTES=30 SOAK_CONNECTIONS=200 [SOAK_MAP_MAX=BYTES] python3 tests/soak/soak.py BUILD_DIR

SOAK_CONNECTIONS connections (default 200) for SOAK_MINUTES (default 30):
writers (notes on their own households), readers (plans, history,
caseloads, as professionals and as household members), consent changers
(grant and revoke, one household each), subscribers (the change feed,
resumed from their last sequence number), clients that send and never
read, and clients that trickle a frame a byte a second. SIGHUP every 10 s
(SOAK_HUP_S), kill -9 every 2 minutes (SOAK_KILL_S), then a restart on the
same store. At the end: every acknowledged write is there (each note, each
household's version, each household's last acknowledged consent change),
the audit chain verifies and passes through the head the daemon logged
last, and RSS and open descriptors of the last daemon are back near where
they were when it started. It prints its figures and exits 1 when one of
those does not hold.
"""
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "blackbox"))
sys.dont_write_bytecode = True
import harness                                            # noqa: E402
from harness import (Daemon, Raw, req, f_bytes, f_varint, pb_decode,  # noqa
                     pb_get, req_create, req_get_plan, req_mutate,
                     req_history, mut_add_note, created_household, frame)

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
CONNS = int(os.environ.get("SOAK_CONNECTIONS", "200"))
HUP_S = float(os.environ.get("SOAK_HUP_S", "10"))
KILL_S = float(os.environ.get("SOAK_KILL_S", "120"))

# Out of each 20 connections: 6 writers, 6 readers, 2 consent changers,
# 2 subscribers, 2 that never read, 2 that trickle.
MIX = (("writer", 6), ("reader", 6), ("consent", 2), ("subscriber", 2),
       ("deaf", 2), ("trickle", 2))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = {}          # (op, code) -> n
        self.lat = {}            # op -> [seconds] (a bounded sample)
        self.errors = []         # transport errors outside restarts
        self.events = 0          # feed events received by subscribers
        self.reconnects = 0

    def add(self, op, code, dt):
        with self.lock:
            self.count[(op, code)] = self.count.get((op, code), 0) + 1
            l = self.lat.setdefault(op, [])
            if len(l) < 200000:
                l.append(dt)
            else:
                l[random.randrange(len(l))] = dt


ST = Stats()
STOP = threading.Event()
UP = threading.Event()            # the daemon is up (cleared for restarts)
D = None                          # the daemon


def call(c, op, body):
    t0 = time.monotonic()
    r = c.call(body)
    ST.add(op, r.code_name, time.monotonic() - t0)
    return r


def connect(as_name, timeout=30):
    while not STOP.is_set():
        UP.wait(1)
        if not UP.is_set():
            continue
        try:
            c = Raw(D, as_name, timeout=timeout)
            c.port0 = D.port      # a restart listens on another port
            return c
        except (OSError, ssl.SSLError):
            time.sleep(0.2)
    return None


def gone(c):
    """The daemon this connection went to was killed since."""
    return c.port0 != D.port or not UP.is_set()


def loop(as_name, body_fn):
    """Runs body_fn(conn) over and over, reconnecting after a kill."""
    while not STOP.is_set():
        c = connect(as_name)
        if c is None:
            return
        try:
            with c:
                while not STOP.is_set():
                    body_fn(c)
        except (OSError, ssl.SSLError, harness.Failure):
            with ST.lock:
                ST.reconnects += 1
            time.sleep(0.1)


# ------------------------------------------------------------ the clients

class Ledger:
    """What was acknowledged: notes per household, the highest version,
    each consent household's last acknowledged grant state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.notes = {}           # hh -> set of note texts
        self.version = {}         # hh -> highest acknowledged version
        self.consent = {}         # hh -> (grant id, revoked?) last acked
        self.households = []


LEDGER = Ledger()


def new_household(c, rid):
    r = call(c, "CreateHousehold", req_create(rid))
    if r.code != 0:
        return None
    hh = created_household(r)
    with LEDGER.lock:
        LEDGER.households.append(hh)
        LEDGER.version[hh] = 1
        LEDGER.notes[hh] = set()
    return hh


def writer(n):
    rnd = random.Random(n)
    mine = []
    rid = [0]

    def body(c):
        rid[0] += 1
        if len(mine) < 3:
            hh = new_household(c, rid[0])
            if hh:
                mine.append(hh)
            return
        hh = rnd.choice(mine)
        text = "w%d-%d-%d" % (n, rid[0], rnd.randrange(1 << 30))
        r = call(c, "MutatePlan", req_mutate(rid[0], hh, mut_add_note(
            1 + rnd.randrange(13), text)))
        if r.code == 0:
            v = pb_get(pb_decode(r.body), 1, 0)
            with LEDGER.lock:
                LEDGER.notes[hh].add(text)
                LEDGER.version[hh] = max(LEDGER.version[hh], v)
        time.sleep(rnd.random() * 0.05)
    loop("wmo", body)


def reader(n):
    rnd = random.Random(1000 + n)
    rid = [0]
    who = "wmo" if n % 3 else "henk"

    def body(c):
        rid[0] += 1
        with LEDGER.lock:
            hhs = LEDGER.households[:]
        if not hhs:
            time.sleep(0.2)
            return
        hh = rnd.choice(hhs)
        k = rnd.random()
        if k < 0.6:
            call(c, "GetPlan", req_get_plan(rid[0], hh))
        elif k < 0.85:
            call(c, "GetHistory", req_history(rid[0], hh))
        else:
            call(c, "ListHouseholds", req(rid[0], 15, f_varint(1, 50)))
        time.sleep(rnd.random() * 0.05)
    loop(who, body)


def grant_req(rid, hh):
    g = (f_bytes(2, "lev") + f_varint(4, 1) + f_bytes(8, "Soak: lezen") +
         f_bytes(12, "SOAK-FORM"))
    return req(rid, 16, f_bytes(1, hh) + f_bytes(2, g))


def revoke_req(rid, hh, gid):
    return req(rid, 17, f_bytes(1, hh) + f_varint(2, gid) +
               f_bytes(3, "SOAK-FORM"))


def list_lev_grant(c, rid, hh):
    """The id of the household's current lev grant, or 0."""
    r = call(c, "ListConsent", req(rid, 18, f_bytes(1, hh)))
    if r.code != 0:
        raise OSError("ListConsent: %s" % r.code_name)
    for g in pb_decode(r.body or b"").get(1, []):
        g = pb_decode(g)
        if pb_get(g, 2, b"") == b"lev" and pb_get(g, 13, 0) == 0:
            return pb_get(g, 1, 0)
    return 0


def consent(n):
    """Grants and revokes lev's access to one household. A change whose
    answer a kill cut off may or may not have been committed: the ledger
    then knows nothing of the household until the next acknowledged one,
    and the client reads the state back before it goes on."""
    rnd = random.Random(2000 + n)
    st = {"hh": None, "gid": 0, "rid": 0, "sync": False}

    def body(c):
        st["rid"] += 1
        if st["hh"] is None:
            st["hh"] = new_household(c, st["rid"])
            return
        hh = st["hh"]
        if st["sync"]:
            st["gid"] = list_lev_grant(c, st["rid"], hh)
            st["sync"] = False
            return
        # Unknown until this one is answered.
        st["sync"] = True
        with LEDGER.lock:
            LEDGER.consent[hh] = None
        if st["gid"] == 0:
            r = call(c, "GrantConsent", grant_req(st["rid"], hh))
            if r.code == 0:
                g = pb_decode(pb_get(pb_decode(r.body), 1, b""))
                st["gid"] = pb_get(g, 1, 0)
                with LEDGER.lock:
                    LEDGER.consent[hh] = (st["gid"], False)
                st["sync"] = False
        else:
            r = call(c, "RevokeConsent", revoke_req(st["rid"], hh, st["gid"]))
            if r.code == 0:
                with LEDGER.lock:
                    LEDGER.consent[hh] = (st["gid"], True)
                st["gid"] = 0
                st["sync"] = False
        time.sleep(0.05 + rnd.random() * 0.2)
    loop("wmo", body)


def subscriber(n):
    last = [0]

    def body(c):
        c.send_frame(req(1, 25, f_varint(1, last[0]) if last[0] else b""))
        while not STOP.is_set():
            try:
                r = c.recv_frame(timeout=2)
            except socket.timeout:
                continue
            if r is None:
                raise OSError("closed")
            if r.code != 0:
                ST.add("Subscribe", r.code_name, 0)
                raise OSError("subscription ended: %s" % r.code_name)
            b = pb_decode(r.body or b"")
            last[0] = max(last[0], pb_get(b, 2, 0))
            if pb_get(b, 1) is not None:
                with ST.lock:
                    ST.events += 1
    loop("lev-systeem", body)


def deaf(n):
    """Asks for plans and never reads the answers."""
    def body(c):
        with LEDGER.lock:
            hhs = LEDGER.households[:]
        if not hhs:
            time.sleep(0.2)
            return
        c.s.settimeout(1)
        for i in range(64):
            try:
                c.send_frame(req_get_plan(i + 1, random.choice(hhs)))
            except socket.timeout:
                break
        while not STOP.is_set() and not gone(c):
            time.sleep(0.5)
        if gone(c):
            raise OSError("restarted")
    loop("wmo", body)


def trickle(n):
    """A frame that never ends, a byte a second."""
    def body(c):
        c.send(b"\x00\x00\x01\x00")
        while not STOP.is_set() and not gone(c):
            c.send(b"\x08")
            time.sleep(1)
        if gone(c):
            raise OSError("restarted")
    loop("wmo", body)


KINDS = {"writer": writer, "reader": reader, "consent": consent,
         "subscriber": subscriber, "deaf": deaf, "trickle": trickle}


# ------------------------------------------------------------- the daemon

def proc_figures(pid):
    """(anonymous RSS, descriptors): the data file's pages LMDB maps count
    in VmRSS too, and grow with the store; the heap is what must come back."""
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("RssAnon:"):
                rss = int(l.split()[1]) * 1024
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def restart(kills):
    UP.clear()
    D.kill9()
    kills[0] += 1
    D.start()
    figures = proc_figures(D.proc.pid)
    UP.set()
    return figures


def pct(l, p):
    if not l:
        return 0.0
    s = sorted(l)
    return s[min(len(s) - 1, int(p * len(s)))]


def main(argv):
    global D
    if len(argv) < 2:
        print("usage: soak.py BUILD_DIR", file=sys.stderr)
        return 2
    harness.BUILD = os.path.abspath(argv[1])
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-soak.")
    print("soak: %.1f min, %d connections, SIGHUP every %.0f s, kill -9 every "
          "%.0f s; run dir %s" % (MINUTES, CONNS, HUP_S, KILL_S,
                                  harness.RUN_DIR), flush=True)
    # All load runs under a handful of certificates: the per-principal
    # limits (connections, write rate) that keep one user from taking the
    # service are lifted, the rest of the limits are the defaults.
    # The store must hold the whole run: at ~2,000 audited requests and
    # ~450 versions a second it grows ~80 MB a minute (the default map_max,
    # 1 GiB, is full after ~13 minutes, and then every write and audited
    # read is refused, as it should be). SOAK_MAP_MAX (bytes) sets it.
    D = Daemon("soak", limits={"max_connections": 2048,
                               "max_connections_per_principal": 1024,
                               "write_rate": 268435456,
                               "write_burst": 1073741824,
                               "map_max": int(os.environ.get(
                                   "SOAK_MAP_MAX", str(16 << 30)))})
    D.start()
    start_fig = proc_figures(D.proc.pid)
    # A warm idle figure: a few requests of each kind on a few
    # connections, all closed again; this is what the end comes back to.
    for who in ("wmo", "henk", "lev-systeem", "wmo"):
        with Raw(D, who) as c:
            hh = created_household(c.call(req_create(1))) \
                if who == "wmo" else None
            if hh:
                c.call(req_get_plan(2, hh))
                c.call(req_mutate(3, hh, mut_add_note(1, "warm")))
                c.call(req_history(4, hh))
    time.sleep(1)
    warm_fig = proc_figures(D.proc.pid)
    UP.set()
    threads = []
    n = 0
    while n < CONNS:
        for kind, k in MIX:
            for _ in range(k):
                if n >= CONNS:
                    break
                t = threading.Thread(target=KINDS[kind], args=(n,),
                                     daemon=True)
                t.start()
                threads.append(t)
                n += 1
    t0 = time.monotonic()
    end = t0 + MINUTES * 60
    next_hup = t0 + HUP_S
    next_kill = t0 + KILL_S
    kills = [0]
    hups = 0
    peak = start_fig[0]
    inst_fig = start_fig          # figures of the running instance at start
    crashed = []
    while time.monotonic() < end:
        time.sleep(0.5)
        if not D.alive():
            crashed.append("daemon exited by itself (status %s):\n%s" %
                           (D.proc.returncode, D.log_tail()))
            break
        peak = max(peak, proc_figures(D.proc.pid)[0])
        now = time.monotonic()
        if now >= next_hup:
            D.hup()
            hups += 1
            next_hup += HUP_S
        if now >= next_kill and now + 20 < end:
            inst_fig = restart(kills)
            next_kill += KILL_S
        if int(now - t0) % 60 == 0 and int(now - t0) > 0:
            with ST.lock:
                total = sum(ST.count.values())
            print("soak: %3d s, %d requests, %d kills, %d hups, anon rss %.1f MB"
                  % (now - t0, total, kills[0], hups,
                     proc_figures(D.proc.pid)[0] / 1e6), flush=True)
            time.sleep(1)
    STOP.set()
    for t in threads:
        t.join(15)
    # Connections closed, answers drained, and time for the daemon's own
    # memory housekeeping (it gives memory back at most every 5 s).
    time.sleep(12)
    ok = not crashed
    fails = list(crashed)
    end_fig = proc_figures(D.proc.pid) if D.alive() else (0, 0)

    # Every acknowledged write is there.
    missing_notes = missing_versions = wrong_consent = 0
    unreadable = []
    if D.alive():
        with Raw(D, "wmo", timeout=60) as c:
            rid = 0
            for hh in LEDGER.households:
                rid += 1
                r = c.call(req_get_plan(rid, hh))
                if r.code != 0:
                    unreadable.append("%s: %s %s" % (hh, r.code_name,
                                                     r.message))
                    continue
                plan = pb_decode(pb_get(pb_decode(r.body), 1, b""))
                if pb_get(plan, 2, 0) < LEDGER.version.get(hh, 1):
                    missing_versions += 1
                texts = set(pb_get(pb_decode(x), 3, b"").decode()
                            for x in plan.get(11, []))
                missing_notes += len(LEDGER.notes.get(hh, set()) - texts)
            for hh, known in LEDGER.consent.items():
                if known is None:
                    continue      # its last change was never answered
                gid, revoked = known
                rid += 1
                r = c.call(req(rid, 18, f_bytes(1, hh) + f_varint(2, 1)))
                grants = [pb_decode(g) for g in
                          pb_decode(r.body or b"").get(1, [])]
                g = [x for x in grants if pb_get(x, 1, 0) == gid]
                if not g or (pb_get(g[0], 13, 0) != 0) != revoked:
                    wrong_consent += 1
    acked_notes = sum(len(s) for s in LEDGER.notes.values())
    if missing_notes or missing_versions or wrong_consent:
        fails.append("acknowledged writes missing: %d notes, %d versions, "
                     "%d consent states" % (missing_notes, missing_versions,
                                            wrong_consent))
    # Freed but kept by malloc, or held? malloc_trim(0) through gdb tells.
    trimmed = None
    if D.alive() and os.environ.get("SOAK_TRIM_PROBE", "1") != "0" and \
            shutil.which("gdb"):
        p = subprocess.run(["gdb", "-p", str(D.proc.pid), "-batch", "-ex",
                            "call (int)malloc_trim(0)"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
        if p.returncode == 0 and D.alive():
            trimmed = proc_figures(D.proc.pid)[0]
    logged = re.findall(r'msg="audit head" seq=\d+ head=(\d+:[0-9a-f]{64})',
                        D.log())
    if unreadable:
        fails.append("%d households could not be read back (so their "
                     "writes were not checked), e.g. %s"
                     % (len(unreadable), unreadable[0]))
    if "MDB_MAP_FULL" in D.log():
        fails.append("the store filled up (map_max) during the run: "
                     "writes and audited reads were refused from then on; "
                     "give it more room (SOAK_MAP_MAX)")
    D.stop()
    v = D.admin("audit", "verify", *(["--expect", logged[-1]] if logged
                                     else []), timeout=600)
    if v.rc != 0:
        fails.append("audit verify: %s" % v.out.strip())
    # Back near the start: descriptors as many as when the last instance
    # started, the heap within half again and 48 MB of the warm idle figure
    # (its caches, per-thread arenas and keys once used: not a leak).
    rss0, fd0 = max(warm_fig[0], inst_fig[0]), inst_fig[1]
    rss1, fd1 = end_fig
    if fd1 > fd0 + 4:
        fails.append("descriptors: %d at the end, %d at the start" % (fd1, fd0))
    if rss1 > rss0 * 1.5 + 48e6:
        fails.append("RSS: %.1f MB at the end, %.1f MB at the start%s"
                     % (rss1 / 1e6, rss0 / 1e6, "" if trimmed is None else
                        " (%.1f MB after malloc_trim(0): %s)" % (
                            trimmed / 1e6, "freed, but kept by malloc"
                            if trimmed <= rss0 * 1.5 + 48e6 else
                            "still held")))

    dur = time.monotonic() - t0
    print("\nsoak figures (%.1f min, %d connections)" % (dur / 60, CONNS))
    ops = sorted(set(op for op, _ in ST.count))
    for op in ops:
        codes = {c: n for (o, c), n in ST.count.items() if o == op}
        tot = sum(codes.values())
        lat = ST.lat.get(op, [])
        print("  %-15s %8d  %6.1f/s  p50 %6.1f ms  p99 %7.1f ms  %s" % (
            op, tot, tot / dur, pct(lat, 0.5) * 1e3, pct(lat, 0.99) * 1e3,
            " ".join("%s=%d" % kv for kv in sorted(codes.items()))))
    print("  feed events received   %d" % ST.events)
    print("  kill -9                %d (restarts on the same store: %d)"
          % (kills[0], kills[0]))
    print("  SIGHUP                 %d" % hups)
    print("  reconnects             %d" % ST.reconnects)
    print("  households             %d; acknowledged notes %d (missing %d), "
          "versions missing %d" % (len(LEDGER.households), acked_notes,
                                   missing_notes, missing_versions))
    print("  consent households     %d, %d with an acknowledged last change "
          "(its state wrong: %d)" % (len(LEDGER.consent),
                                      sum(1 for v in LEDGER.consent.values()
                                          if v is not None), wrong_consent))
    print("  audit verify           %s" % v.out.strip().replace("\n", "; "))
    print("  RSS (anonymous)        start %.1f MB, warm idle %.1f MB, peak "
          "%.1f MB, end %.1f MB (idle, the last instance)" % (
              start_fig[0] / 1e6, warm_fig[0] / 1e6, peak / 1e6, rss1 / 1e6))
    if trimmed is not None:
        print("  RSS after malloc_trim  %.1f MB (gdb, at the end)"
              % (trimmed / 1e6))
    print("  data file              %.1f MB" % (os.path.getsize(
        os.path.join(D.data_dir, "data.mdb")) / 1e6))
    print("  descriptors            start %d, end %d (last instance)"
          % (fd0, fd1))
    if fails:
        print("\nsoak FAILED:\n  " + "\n  ".join(fails))
        print("run directory kept: %s" % harness.RUN_DIR)
        return 1
    print("\nsoak passed")
    shutil.rmtree(harness.RUN_DIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
