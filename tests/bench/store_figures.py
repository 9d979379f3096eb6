#!/usr/bin/env python3
"""Figures of the household store (issue 7), measured against a build:

  python3 tests/bench/store_figures.py BUILD_DIR [--old] [--toggles N]

- bytes per version: a ~900 KB plan, N goal-status toggles; growth of
  data.mdb and of its live pages (mdb_stat) per toggle;
- GetPlan cost: median and p99 of GetPlan, full scope, one connection, one
  request at a time, for a 2 KB and the ~900 KB plan;
- refusal cost: medians of a refused GetPlan of the ~900 KB household and of
  random ids, interleaved, 2000 each.

--old: BUILD_DIR is a schema-1 build (fa0a3bf), whose config has no [store].
Not part of make check: a measurement, printed as a small table.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import harness  # noqa: E402
from harness import (Daemon, Raw, new_household, req_get_plan, req_mutate,
                     mut_add_goal, mut_add_note, f_bytes, f_varint, pb_decode,
                     pb_get, random_hhid, check)  # noqa: E402


class OldDaemon(Daemon):
    def write_conf(self):
        super().write_conf()
        with open(self.conf) as f:
            lines = f.read().split("\n")
        out, skip = [], False
        for l in lines:
            if l.startswith("["):
                skip = l.strip() == "[store]"
            # Keys the schema-1 build does not know.
            if not skip and not l.startswith("user "):
                out.append(l)
        with open(self.conf, "w") as f:
            f.write("\n".join(out))


def live_bytes(d):
    """Live pages of the store and of its audit index (an environment of
    its own under data_dir/audit-index, when there is one)."""
    total = 0
    for env in (d.data_dir, os.path.join(d.data_dir, "audit-index")):
        if not os.path.exists(os.path.join(env, "data.mdb")):
            continue
        p = subprocess.run(["mdb_stat", "-ef", env], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        txt = p.stdout.decode()
        used = free = 0
        for l in txt.splitlines():
            l = l.strip()
            if l.startswith("Number of pages used:"):
                used = int(l.split(":")[1])
            elif l.startswith("Free pages:"):
                free = int(l.split(":")[1])
        total += (used - free) * 4096
    return total


def lat(c, body, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = c.call(body(i))
        out.append(time.perf_counter() - t0)
        yield r
    lat.last = out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    args = sys.argv[1:]
    old = "--old" in args
    toggles = 300
    if "--toggles" in args:
        toggles = int(args[args.index("--toggles") + 1])
    build = [a for a in args if not a.startswith("--") and not a.isdigit()][0]
    harness.BUILD = os.path.abspath(build)
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-fig-")
    cls = OldDaemon if old else Daemon
    d = cls("fig", limits={"write_rate": 1073741824,
                           "write_burst": 17179869184} if not old else None)
    d.start()
    small = new_household(d)
    big = new_household(d)
    text = "x" * 3990
    with Raw(d, "wmo") as c:
        r = c.call(req_mutate(1, small, *[mut_add_note(1, "y" * 200)
                                          for _ in range(8)]))
        check(r.code == 0, "small plan: %r" % r)
        r = c.call(req_mutate(2, big, mut_add_goal(4, "Te wisselen doel")))
        goal = pb_get(pb_decode(r.body), 2, b"\x00")[0]
        for i in range(4):
            r = c.call(req_mutate(3 + i, big, *[mut_add_note(1, text)
                                                for _ in range(56)]))
            check(r.code == 0, "big plan: %r" % r)
        r = c.call(req_get_plan(9, big))
        plan_bytes = len(pb_get(pb_decode(r.body), 1, b""))
        r = c.call(req_get_plan(9, small))
        small_bytes = len(pb_get(pb_decode(r.body), 1, b""))
        # GetPlan cost
        res = {}
        for name, hh in (("2 KB", small), ("900 KB", big)):
            for _ in range(50):
                c.call(req_get_plan(10, hh))
            xs = []
            for i in range(1000 if name == "2 KB" else 300):
                t0 = time.perf_counter()
                r = c.call(req_get_plan(11 + i, hh))
                xs.append(time.perf_counter() - t0)
                check(r.code == 0, "GetPlan %r" % r)
            res[name] = (statistics.median(xs), pct(xs, 0.99))
        # bytes per toggle
        size0 = os.path.getsize(os.path.join(d.data_dir, "data.mdb"))
        live0 = live_bytes(d)
        st = [2, 1]
        for i in range(toggles):
            m = f_bytes(2, f_varint(1, goal) + f_varint(2, st[i % 2]))
            r = c.call(req_mutate(5000 + i, big, m))
            check(r.code == 0, "toggle %d: %r" % (i, r))
        size1 = os.path.getsize(os.path.join(d.data_dir, "data.mdb"))
        live1 = live_bytes(d)
    # refusal cost
    ref = {"existing": [], "random": []}
    with Raw(d, "savant") as c:
        for i in range(200):
            c.call(req_get_plan(i + 1, big))
        for i in range(2000):
            for kind, hh in (("existing", big), ("random", random_hhid())):
                t0 = time.perf_counter()
                r = c.call(req_get_plan(10000 + i, hh))
                ref[kind].append(time.perf_counter() - t0)
                check(r.code == 7, "refusal: %r" % r)
    d.stop()
    print("build: %s%s" % (build, " (schema 1)" if old else ""))
    print("plans: %d B and %d B" % (small_bytes, plan_bytes))
    for k, (m, p99) in res.items():
        print("GetPlan %-6s full scope: median %.3f ms, p99 %.3f ms"
              % (k, m * 1e3, p99 * 1e3))
    print("goal toggles on the %d B plan: %d; data.mdb +%d B (%.0f B per "
          "version), live pages +%d B (%.0f B per version)"
          % (plan_bytes, toggles, size1 - size0, (size1 - size0) / toggles,
             live1 - live0, (live1 - live0) / toggles))
    for k in ("existing", "random"):
        print("refused GetPlan, %-8s household: median %.3f ms (n=%d)"
              % (k, statistics.median(ref[k]) * 1e3, len(ref[k])))


if __name__ == "__main__":
    main()
