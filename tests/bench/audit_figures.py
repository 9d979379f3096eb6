#!/usr/bin/env python3
"""Figures of the audit path (issue 8 item 2), measured against a build:

  python3 tests/bench/audit_figures.py BUILD_DIR [--old] [HOUSEHOLDS] [READS]

--old: BUILD_DIR is a schema-1 build (fa0a3bf), for the same figures there.

A population of HOUSEHOLDS (default 5000) households with ~2 KB plans, then
READS (default 20000) audited GetPlans of uniformly random households from
8 connections, 16 requests in flight each. Printed:
- store growth per audited read: live pages (mdb_stat) before and after;
- sent to the disk per read: write_bytes of /proc/PID/io over the reads;
- pages written per read: every write the daemon makes to data.mdb during
  the reads, seen by strace (pwrite64/pwritev/writev on the data file's
  descriptors), in 4 KiB pages, and the flushes (fdatasync/fsync) it made:
  reads per flush. strace slows the daemon: read the pages, not the rate.
Not part of make check: a measurement.
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import (Daemon, Raw, req_create, req_get_plan, req_mutate,
                     mut_add_note, pb_decode, pb_get, check)  # noqa: E402
from store_figures import live_bytes, OldDaemon  # noqa: E402


def db_pages(d):
    """{database: pages (branch + leaf + overflow)} from mdb_stat -a."""
    p = subprocess.run(["mdb_stat", "-a", d.data_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    out, name = {}, "(main)"
    for l in p.stdout.decode().splitlines():
        l = l.strip()
        if l.startswith("Status of "):
            name = l[len("Status of "):]
        elif l.split(":")[0] in ("Branch pages", "Leaf pages",
                                 "Overflow pages"):
            out[name] = out.get(name, 0) + int(l.split(":")[1])
    return out


def data_fds(pid):
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith("/data.mdb"):
                out.add(fd)
        except OSError:
            pass
    return out


def traced(pid, fn):
    """Runs fn with strace on pid: (bytes written to data.mdb, write calls
    to it, flushes). LMDB writes a commit's dirty pages sorted, each run of
    adjacent pages in one call: a call is one contiguous extent, a seek."""
    tdir = tempfile.mkdtemp(prefix="eenplan-strace-")
    st = subprocess.Popen(["strace", "-ff", "-qq", "-e",
                           "trace=pwrite64,pwritev,pwritev2,writev,write,"
                           "fdatasync,fsync", "-o", tdir + "/t", "-p",
                           str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    fn()
    time.sleep(1.5)       # the writer's idle work, if any, lands
    st.terminate()
    st.wait()
    fds = data_fds(pid)
    written = flushes = calls = 0
    pat = re.compile(r"(\w+)\((\d+)(?:,.*)?\)\s+= (\d+)$")
    for name in os.listdir(tdir):
        with open(os.path.join(tdir, name)) as f:
            for l in f:
                m = pat.match(l.strip())
                if not m or m.group(2) not in fds:
                    continue
                if m.group(1) in ("fdatasync", "fsync"):
                    flushes += 1
                else:
                    written += int(m.group(3))
                    calls += 1
    shutil.rmtree(tdir)
    return written, calls, flushes


def disk_bytes(pid):
    """What the kernel counts as sent to the disk for the daemon
    (write_bytes of /proc/PID/io: a page counted when it is dirtied, so a
    page dirtied again before it was written back counts once — the audit
    index's unflushed pages)."""
    with open("/proc/%d/io" % pid) as f:
        for l in f:
            if l.startswith("write_bytes:"):
                return int(l.split()[1])
    return 0


def pipelined(d, bodies, conns=8, depth=16):
    """Sends bodies over conns connections, depth in flight; all must be OK."""
    parts = [bodies[i::conns] for i in range(conns)]
    errors = []

    def run(part):
        try:
            with Raw(d, "wmo", timeout=60) as c:
                sent = got = 0
                while got < len(part):
                    while sent < len(part) and sent - got < depth:
                        c.send_frame(part[sent])
                        sent += 1
                    r = c.recv_frame()
                    if r is None or r.code != 0:
                        errors.append(repr(r))
                        return
                    got += 1
                    run.answers.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    run.answers = []
    ts = [threading.Thread(target=run, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "requests failed: %s" % errors[:3])
    return run.answers


def main():
    old = "--old" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--old"]
    build = args[0]
    nhh = int(args[1]) if len(args) > 1 else 5000
    nreads = int(args[2]) if len(args) > 2 else 20000
    harness.BUILD = os.path.abspath(build)
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-audfig-")
    if old:
        d = OldDaemon("audfig", limits={"map_max": 8 << 30})
    else:
        d = Daemon("audfig", limits={"write_rate": 1073741824,
                                     "write_burst": 17179869184,
                                     "map_max": 8 << 30})
    d.start()
    t0 = time.time()
    answers = pipelined(d, [req_create(i + 1) for i in range(nhh)])
    hhs = [pb_get(pb_decode(r.body), 1, b"").decode() for r in answers]
    check(len(hhs) == nhh and all(len(h) == 32 for h in hhs), "ids")
    note = "n" * 400
    pipelined(d, [req_mutate(i + 1, h, *[mut_add_note(1 + k, note)
                                         for k in range(4)])
                  for i, h in enumerate(hhs)])
    r = pipelined(d, [req_get_plan(1, hhs[0])], conns=1)[0]
    plan_bytes = len(pb_get(pb_decode(r.body), 1, b""))
    t1 = time.time()
    time.sleep(1.5)      # indexed, when idle
    pop_live = live_bytes(d)
    pop_pages = db_pages(d)
    # Warm up, then measure.
    pipelined(d, [req_get_plan(i + 1, random.choice(hhs))
                  for i in range(2000)])
    time.sleep(1.5)
    live0 = live_bytes(d)
    pages0 = db_pages(d)
    t2 = time.time()
    disk0 = disk_bytes(d.proc.pid)
    pipelined(d, [req_get_plan(i + 1, random.choice(hhs))
                  for i in range(nreads)])
    t3 = time.time()
    disk1 = disk_bytes(d.proc.pid)
    time.sleep(1.5)      # the writer's idle work, if any, lands
    live1 = live_bytes(d)
    pages1 = db_pages(d)
    n2 = min(nreads, 5000)
    written, calls, flushes = traced(d.proc.pid, lambda: pipelined(
        d, [req_get_plan(i + 1, random.choice(hhs)) for i in range(n2)]))
    d.stop()
    print("build: %s" % build)
    print("population: %d households, plan %d B (%.1f s)"
          % (nhh, plan_bytes, t1 - t0))
    print("store per household: %.0f B live (each: created, one mutation "
          "of 4 notes; 2 audit records, 2 change events), by database:"
          % (pop_live / nhh))
    print("  " + ", ".join("%s %.0f B" % (n, p * 4096 / nhh) for n, p in
                           sorted(pop_pages.items(), key=lambda x: -x[1])
                           if p * 4096 / nhh >= 20))
    print("audited reads: %d in %.2f s (%.0f/s, Python client)"
          % (nreads, t3 - t2, nreads / (t3 - t2)))
    print("store growth per audited read: %.0f B (live pages %d -> %d)"
          % ((live1 - live0) / nreads, live0 // 4096, live1 // 4096))
    for name in sorted(pages1):
        grew = pages1[name] - pages0.get(name, 0)
        if grew:
            print("  %-10s +%d pages: %.0f B per read"
                  % (name, grew, grew * 4096 / nreads))
    print("sent to the disk per audited read: %.0f B, %.2f pages (write_bytes "
          "of /proc/PID/io over the %d reads; pages the index dirtied again "
          "before their writeback count once)"
          % ((disk1 - disk0) / nreads, (disk1 - disk0) / 4096 / nreads, nreads))
    print("pages written to data.mdb per audited read: %.2f, in %.2f "
          "contiguous extents (%d reads under strace, %d B in %d write "
          "calls, %d flushes: %.1f reads per flush)"
          % (written / 4096 / n2, calls / n2, n2, written, calls, flushes,
             n2 / max(flushes, 1)))


if __name__ == "__main__":
    main()
