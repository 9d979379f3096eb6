#!/usr/bin/env python3
"""Migration time of a schema-1 store (issue 7):

  python3 tests/bench/migrate_figures.py OLD_BUILD NEW_BUILD [HOUSEHOLDS]

Makes a store of HOUSEHOLDS (default 100000) households with the old
(schema-1, fa0a3bf) eenpland — each taken in, then given ~2 KB of notes in
one change: two versions — then starts the new eenpland on a copy and times
its migration (its own log line, eenpland -v). Not part of make check.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import (Raw, req_create, req_mutate, mut_add_note, pb_decode,
                     pb_get, check)  # noqa: E402
from store_figures import OldDaemon  # noqa: E402


def populate(d, n, conns=4, inflight=64):
    import threading
    per = (n + conns - 1) // conns
    done = [0]
    lock = threading.Lock()

    def worker(k):
        with Raw(d, "wmo", timeout=60) as c:
            todo = min(per, n - k * per)
            rid, sent, got, pending = 1, 0, 0, {}
            while got < todo * 2:
                while sent < todo and len(pending) < inflight:
                    c.send_frame(req_create(rid))
                    pending[rid] = "create"
                    rid += 1
                    sent += 1
                r = c.recv_frame(60)
                check(r is not None and r.code == 0, "populate: %r" % r)
                kind = pending.pop(r.id)
                got += 1
                if kind == "create":
                    hh = pb_get(pb_decode(r.body), 1).decode()
                    c.send_frame(req_mutate(rid, hh, *[mut_add_note(
                        1 + i, "notitie %d " % i + "x" * 200)
                        for i in range(8)]))
                    pending[rid] = "note"
                    rid += 1
            with lock:
                done[0] += todo
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0]


def main():
    old, new = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-mig-")
    harness.BUILD = os.path.abspath(old)
    big = {"max_inflight": 256, "map_max": 8 << 30}
    d = OldDaemon("old", limits=big)
    d.start()
    t0 = time.time()
    made = populate(d, n)
    t1 = time.time()
    d.stop()
    size = os.path.getsize(os.path.join(d.data_dir, "data.mdb"))
    print("schema-1 store: %d households (2 versions each) made in %.0f s; "
          "data.mdb %.1f MB" % (made, t1 - t0, size / 1e6))
    # The new daemon on a copy, its migration timed by its own log line.
    harness.BUILD = os.path.abspath(new)
    nd = harness.Daemon("new", limits={"map_max": 8 << 30})
    shutil.rmtree(nd.data_dir)
    shutil.copytree(d.data_dir, nd.data_dir)
    nd.port = harness.free_port()
    nd.write_conf()
    t0 = time.time()
    proc = subprocess.Popen([os.path.join(harness.BUILD, "eenpland"), "-v",
                             "-f", nd.conf], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = b""
    while True:
        line = proc.stdout.readline()
        if not line:
            break
        out += line
        if b"ready" in line:
            break
    wall = time.time() - t0
    proc.terminate()
    proc.wait(60)
    text = out.decode(errors="replace")
    m = re.search(r"migrate: done in ([0-9.]+) s[^\n]*", text)
    check(m, "no migration line:\n" + text[-2000:])
    size2 = os.path.getsize(os.path.join(nd.data_dir, "data.mdb"))
    print("migration: %s" % m.group(0))
    print("start to ready: %.1f s; data.mdb after %.1f MB" % (wall,
                                                             size2 / 1e6))


if __name__ == "__main__":
    main()
