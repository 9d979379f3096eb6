"""Power cuts (issue 8): an acknowledged write survives a power cut at any
instant, not only kill -9. The daemon runs with tests/crash/iorec.c
preloaded, which records every write to data.mdb (and to the write-ahead
log's files, once there are any) and every flush; a workload of intakes,
notes, grants, revokes and reads runs from four connections, each answer
timed; then crashlib.py builds the images a disk could hold after a cut at
many points of the record (per file, what its last flush made durable,
plus any subset of its writes after it, torn at 512 or 4096 bytes) and
opens each with the daemon. See crashlib.py for the method.

    EENPLAN_CRASH_SEED=N      the seed (default: a fresh one, printed)
    EENPLAN_CRASH_POINTS=N    images opened by a real daemon (default 30)
    EENPLAN_CRASH_REQUESTS=N  requests per connection and round (default 40)

`make crash` runs a longer variant. A failure names the seed, the crash
point and the acknowledged request that is missing; the run's directory
(record, daemon logs) is kept.
"""
import os
import random
import subprocess
import sys
import time

from harness import (test, budget, Daemon, Raw, Failure, check, eq, fail,
                     skip, req_create, created_household, SLOW, VALGRIND,
                     SANITIZED)
import harness
import crashlib
from crashlib import (Disk, Disks, Op, OPEN, WRITE, FLUSH, TRUNC, CLOSE,
                      ALL, F_TRUNC, read_log, Checker, make_conns,
                      run_workload, map_requests, Run, check_flush_points,
                      deep_points, cut_time)

# The files recorded, in IOREC_FILE's order: the store, and the
# write-ahead log's segments, checkpoint and marker (absent until the
# daemon has one; then recorded and modelled from their creation).
FILES = ("data.mdb", "wal.0", "wal.1", "wal.ckpt", "wal.mark")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def shim():
    path = os.path.join(harness.BUILD, "tests", "libiorec.so")
    if not os.path.exists(path):
        skip("%s is missing (make unit-bins builds it)" % path)
    return path


# The write-ahead log on, small (1 MB files: a checkpoint every 512 KB of
# log) and checkpointing often, so the record holds checkpoints, log
# files filled past half, and commits between them.
WAL_ON = ("[store]\nwrite_ahead_log = on\nlog_file_mb = 1\n"
          "checkpoint_ms = 100\n")
WAL_OFF = "[store]\nwrite_ahead_log = off\n"


def record(seed, per_conn, ini, rounds=3, env=None):
    """Runs the workload on a daemon under the shim, from a store that
    already holds two households: `rounds` rounds, the daemon restarted
    (SIGTERM) between them, so start-up and a fresh daemon's first
    requests are in the record too. Returns (Run, Checker)."""
    lib = shim()
    d = Daemon("crash", env=env, extra_ini=ini)
    d.start()
    hhs = []
    with Raw(d, "wmo") as c:
        for i in range(2):
            hhs.append(created_household(c.call(req_create(
                i + 1, ref="TOESTEMMING-CRASH-BASE-%d" % i))))
    d.stop()
    paths = [os.path.join(d.data_dir, n) for n in FILES]
    bases = {n: read_file(p) for n, p in zip(FILES, paths)}
    check(bases["data.mdb"] is not None, "no data.mdb after the set-up")
    log = os.path.join(d.dir, "iorec.log")
    asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:"
                          "detect_stack_use_after_return=0")
    d.env.update({"LD_PRELOAD": lib, "IOREC_FILE": ":".join(paths),
                  "IOREC_LOG": log,
                  # The shim comes before the ASan runtime in a sanitizer build.
                  "ASAN_OPTIONS": asan + ":verify_asan_link_order=0"})
    rng = random.Random(seed)
    all_conns = []
    for rnd in range(rounds):
        d.start()
        conns = make_conns(hhs, seed, per_conn, rnd)
        run_workload(d, conns, rng)
        d.stop()
        all_conns.append(conns)
        hhs = hhs + [r.hh for c in conns for r in c.reqs
                     if r.kind == "create" and r.ok]
    ops = read_log(log, FILES)
    check(any(op.file == 0 for op in ops), "iorec: nothing of data.mdb "
          "recorded")
    final = replayed(bases, ops, d.data_dir)
    chk = Checker(d)
    chk.load(final)
    records = chk.export()
    map_requests(all_conns, records)
    conns = [c for cs in all_conns for c in cs]
    return Run(seed, bases, ops, conns, records, hhs), chk


def replayed(bases, ops, data_dir):
    """Checks that the record is complete: each file's begins with its
    open at its base size, and replayed onto the bases it gives the files
    in data_dir now. Returns that image ({name: bytes})."""
    for i, name in enumerate(FILES):
        first = next((op for op in ops if op.file == i), None)
        size = len(bases[name] or b"")
        check(first is None or (first.kind == OPEN and
                                (first.off == size or first.flags & F_TRUNC)),
              "iorec: the record of %s does not begin with its open at its "
              "base size (%d bytes): %r" % (name, size, first))
    disks = Disks(bases, ops)
    disks.advance(len(ops))
    final, _ = disks.image(None, "all")
    real = {n: read_file(os.path.join(data_dir, n)) for n in FILES}
    real = {n: b for n, b in real.items() if b is not None}
    eq(sorted(final), sorted(real), "iorec: the files the record ends "
       "with and the files there (a file renamed or removed?)")
    for name in real:
        check(final[name] == real[name], "iorec: replaying the "
              "record onto the base gives %d bytes of %s, but the file has "
              "%d (differing): a write was not recorded"
              % (len(final[name]), name, len(real[name])))
    return final


def read_file(path):
    """Its bytes, or None when there is no such file."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def seed_from_env():
    seed = env_int("EENPLAN_CRASH_SEED", None) if os.environ.get(
        "EENPLAN_CRASH_SEED") else random.randrange(1, 1 << 31)
    print("# crash: seed %d (EENPLAN_CRASH_SEED=%d repeats the workload "
          "and the choice of crash points)" % (seed, seed), flush=True)
    return seed


@test
def image_builder():
    """The simulator itself: nothing pending, everything, and torn pieces
    at sector boundaries — unflushed writes do reach the images."""
    base = b"A" * 1024
    ops = [Op(WRITE, 0, 1, 2, 0, 4, 0, b"bbbb"),
           Op(FLUSH, 0, 3, 4, 0, 0, 1),
           Op(WRITE, 0, 5, 6, 510, 4, 0, b"cccc"),     # across a sector
           Op(WRITE, 0, 7, 8, 1024, 4, 0, b"dddd"),    # grows the file
           Op(FLUSH, 0, 9, 10, 0, 0, 1)]
    d = Disk(base, ops)
    d.advance(4)        # cut before the second flush
    eq(d.pending, [2, 3], "pending writes")
    none, info = d.image(random.Random(1), "none")
    eq(none, b"bbbb" + b"A" * 1020, "image with nothing pending")
    eq(info["dropped"], 2, "dropped")
    every, _ = d.image(random.Random(1), "all")
    eq(every, b"bbbb" + b"A" * 506 + b"cccc" + b"A" * 510 + b"dddd",
       "image with everything pending")
    eq(crashlib.pieces(510, 4, 512), [(510, 512), (512, 514)], "pieces")
    seen = set()
    rng = random.Random(7)
    for _ in range(400):
        img, info = d.image(rng, "random", 512)
        seen.add(img)
        check(len(img) in (1024, 1028), "image size %d" % len(img))
    # The write across a sector boundary: old, new, or either sector new
    # (4); the appended one (a single piece): there or not (2) — all 8
    # turn up.
    eq(len(seen), 8, "distinct images from random subsets and tears")
    check(any(img[510:512] == b"cc" and img[512:514] == b"AA" for img in seen),
          "a torn write (first sector only) never came up")
    d.advance(5)
    eq(d.pending, [], "pending after the flush")
    eq(bytes(d.durable), every, "durable after the flush")
    eq(cut_time(ops, 2), 5, "cut time")
    two_files()


def two_files():
    """Each file has its own flushes: an fdatasync of "a" makes nothing of
    "b" durable, nor the reverse; a syncfs flushes both. "b" did not exist
    at the start: it is in the images cut after its creating open only,
    and starts empty."""
    base = b"A" * 1024
    ops = [Op(WRITE, 0, 1, 2, 0, 4, 0, b"aaaa", file=0),
           Op(OPEN, 0, 3, 4, 0, 0, 5, file=1),          # creates b
           Op(WRITE, 0, 5, 6, 0, 4, 0, b"xxxx", file=1),
           Op(FLUSH, 0, 7, 8, 0, 0, 1, file=0),         # fdatasync of a
           Op(WRITE, 0, 9, 10, 4, 4, 0, b"cccc", file=0),
           Op(FLUSH, 0, 11, 12, 0, 0, 1, file=1),       # fdatasync of b
           Op(WRITE, 0, 13, 14, 4, 4, 0, b"yyyy", file=1),
           Op(FLUSH, 0, 15, 16, 0, 0, 3, file=ALL)]     # syncfs
    bases = {"a": base, "b": None}
    d = Disks(bases, ops)
    d.advance(1)        # before b's creation
    every, _ = d.image(None, "all")
    eq(sorted(every), ["a"], "files in an image cut before b's creation")
    eq(every["a"], b"aaaa" + base[4:], "a with everything pending")
    d.advance(2)        # just after it
    none, _ = d.image(None, "none")
    eq(none, {"a": base, "b": b""}, "nothing pending, b just created")
    d.advance(4)        # after a's flush: b's write still pending
    eq([x.pending for x in d.disks], [[], [2]], "pending after a's flush")
    none, _ = d.image(None, "none")
    eq(none, {"a": b"aaaa" + base[4:], "b": b""},
       "nothing pending after a's flush")
    every, _ = d.image(None, "all")
    eq(every["b"], b"xxxx", "b with everything pending")
    seen = set(d.image(rng, "random", 512)[0]["b"]
               for rng in [random.Random(i) for i in range(40)])
    eq(seen, {b"", b"xxxx"}, "b's pending write there or not")
    d.advance(6)        # after b's flush: a's second write still pending
    eq([x.pending for x in d.disks], [[4], []], "pending after b's flush")
    none, _ = d.image(None, "none")
    eq(none, {"a": b"aaaa" + base[4:], "b": b"xxxx"},
       "nothing pending after b's flush")
    d.advance(8)        # after the syncfs: everything
    eq([x.pending for x in d.disks], [[], []], "pending after syncfs")
    none, _ = d.image(None, "none")
    eq(none, {"a": b"aaaacccc" + base[8:], "b": b"xxxxyyyy"},
       "nothing pending after syncfs")
    # The same seed, the same images, file after file.
    d = Disks(bases, ops)
    d.advance(7)
    eq(d.image(random.Random(3))[0], d.image(random.Random(3))[0],
       "images from one seed")
    # A single file's Disk passes the other files' ops over.
    one = Disk(base, ops)
    one.advance(len(ops))
    eq(bytes(one.durable), b"aaaacccc" + base[8:], "Disk of file 0 alone")


# What recorder_follows_several_files runs under the shim: data.mdb and
# wal.mark are there at the start, wal.0 is created on the way, "other" is
# not listed. dup2, not os.dup: that one is fcntl(F_DUPFD_CLOEXEC), which
# the shim does not follow (the daemon duplicates no fd).
SHIM_SCRIPT = """
import os, sys
d = sys.argv[1]
data = os.open(d + "/data.mdb", os.O_RDWR)
os.pwrite(data, b"D" * 10, 0)
w0 = os.open(d + "/wal.0", os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(w0, b"w" * 600, 0)
os.fdatasync(w0)
os.pwrite(w0, b"v" * 10, 600)
mark = os.open(d + "/wal.mark", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(mark, b"new boot\\n")
os.fsync(mark)
os.close(mark)
dup = os.dup2(w0, 100)
os.pwrite(dup, b"u", 700)
os.close(dup)
other = os.open(d + "/other", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(other, b"not recorded")
os.fsync(other)
os.close(other)
os.fsync(data)
os.pwrite(w0, b"t", 701)
os.sync()
os.close(w0)
os.close(data)
"""


@test
def recorder_follows_several_files():
    """The shim (no daemon: a small Python program under it) records each
    listed file with its index, a file created after the start from its
    creating open, an open with O_TRUNC as a truncate, a flush for its
    own file and sync for all; the record replays to the files."""
    lib = shim()
    d = os.path.join(harness.RUN_DIR, "iorec-files")
    os.makedirs(d)
    with open(os.path.join(d, "data.mdb"), "wb") as f:
        f.write(b"d" * 4096)
    with open(os.path.join(d, "wal.mark"), "wb") as f:
        f.write(b"old boot\n")
    bases = {n: read_file(os.path.join(d, n)) for n in FILES}
    log = os.path.join(d, "iorec.log")
    env = dict(os.environ, LD_PRELOAD=lib, IOREC_LOG=log,
               IOREC_FILE=":".join(os.path.join(d, n) for n in FILES))
    p = subprocess.run([sys.executable, "-c", SHIM_SCRIPT, d], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    check(p.returncode == 0, "the program under the shim: %r" % p.stdout)
    ops = read_log(log, FILES)
    got = [(op.kind, op.name, op.aux if op.kind == FLUSH else op.off)
           for op in ops if op.kind != CLOSE]
    eq(got, [(OPEN, "data.mdb", 4096), (WRITE, "data.mdb", 0),
             (OPEN, "wal.0", 0), (WRITE, "wal.0", 0), (FLUSH, "wal.0", 1),
             (WRITE, "wal.0", 600), (OPEN, "wal.mark", 0),
             (TRUNC, "wal.mark", 0), (WRITE, "wal.mark", 0),
             (FLUSH, "wal.mark", 2), (WRITE, "wal.0", 700),
             (FLUSH, "data.mdb", 2), (WRITE, "wal.0", 701),
             (FLUSH, None, 3)], "the record")
    eq([op.file for op in ops if op.kind == FLUSH], [1, 4, 0, ALL],
       "the files of the flushes")
    check([op for op in ops if op.kind == OPEN and op.name == "wal.mark"][0]
          .flags & F_TRUNC, "the open with O_TRUNC is not marked")
    final = replayed(bases, ops, d)
    eq(sorted(final), ["data.mdb", "wal.0", "wal.mark"], "files at the end")
    # Cut before wal.0's creating open: no wal.0; before its fdatasync:
    # there, empty; just after: its first write durable, data.mdb's not.
    k = next(i for i, op in enumerate(ops) if op.name == "wal.0")
    disks = Disks(bases, ops)
    disks.advance(k)
    check("wal.0" not in disks.image(None, "all")[0],
          "wal.0 in an image before its creation")
    k = next(i for i, op in enumerate(ops) if op.kind == FLUSH)
    disks.advance(k)
    eq(disks.image(None, "none")[0]["wal.0"], b"", "wal.0 before its flush")
    disks.advance(k + 1)
    none = disks.image(None, "none")[0]
    eq(none["wal.0"], b"w" * 600, "wal.0 after its flush")
    eq(none["data.mdb"], b"d" * 4096, "data.mdb after wal.0's flush")
    # The marker's truncate and rewrite are pending until its fsync.
    disks.advance(next(i for i, op in enumerate(ops) if op.kind == FLUSH and
                       op.name == "wal.mark"))
    eq(disks.image(None, "none")[0]["wal.mark"], b"old boot\n",
       "wal.mark before its fsync")


def power_cut_run(ini):
    seed = seed_from_env()
    # Under valgrind and ASan a smaller record, every flush cut of it still
    # checked: the normal build covers the full size.
    points = env_int("EENPLAN_CRASH_POINTS",
                     3 if VALGRIND else 15 if SANITIZED else 30)
    per_conn = env_int("EENPLAN_CRASH_REQUESTS",
                       12 if VALGRIND else 20 if SANITIZED else 40)
    t0 = time.monotonic()
    run, chk = record(seed, per_conn, ini)
    t_rec = time.monotonic() - t0
    acked = sum(1 for r in run.reqs if r.t_ack is not None)
    flushes = sum(1 for op in run.ops if op.barrier())
    writes = sum(1 for op in run.ops if op.kind == WRITE)
    t1 = time.monotonic()
    cuts, opened = check_flush_points(run, chk)
    t_flush = time.monotonic() - t1
    rng = random.Random(seed)
    disks = Disks(run.bases, run.ops)
    later = torn = applied = 0
    t2 = time.monotonic()
    pts = deep_points(rng, run.ops, points)
    for k, mode, sector in pts:
        disks.advance(k)
        image, info = disks.image(rng, mode, sector)
        how = "%s, %d B sectors: %d pending writes, %d whole, %d torn " \
              "(%d pieces), %d dropped" % (mode, sector, info["pending"],
                                           info["whole"], info["torn"],
                                           info["pieces"], info["dropped"])
        head = run.check_image(chk, k, image, how)
        if info["whole"] or info["pieces"]:
            applied += 1
            chk.load(disks.image(None, "none")[0])
            if head > chk.verify():
                later += 1
        torn += 1 if info["pieces"] else 0
    t_deep = time.monotonic() - t2
    print("# crash: seed %d: %d requests answered, %d ops recorded (%d "
          "writes, %d flushes) in %.1f s; %d flush cuts covered with %d "
          "images in %.1f s; %d deep crash points in %.1f s: %d with "
          "pending writes applied, %d of them showing a later state than "
          "the flushed one, %d with torn writes"
          % (seed, acked, len(run.ops), writes, flushes, t_rec, cuts, opened,
             t_flush, len(pts), t_deep, applied, later, torn), flush=True)
    if ini == WAL_ON:
        logged = sum(1 for op in run.ops if op.kind == WRITE and
                     op.name in ("wal.0", "wal.1") and op.size < 65536)
        ckpts = sum(1 for op in run.ops if op.kind == WRITE and
                    op.name == "wal.ckpt")
        print("# crash: with the log: %d log appends, %d checkpoint writes; "
              "%d images restored by replaying the log"
              % (logged, ckpts, chk.replays), flush=True)
        check(logged > 0 and ckpts > 3 and chk.replays > 0,
              "seed %d: the log was not exercised (appends %d, checkpoints "
              "%d, replays %d)" % (seed, logged, ckpts, chk.replays))
    if points >= 20:
        check(applied > 0 and later > 0 and torn > 0,
              "seed %d: the simulator never applied unflushed writes that "
              "mattered (applied %d, later state %d, torn %d)"
              % (seed, applied, later, torn))


# ~400 images opened and verified: 35 s in the normal build, 81 s to over
# 120 s in the ASan build beside another shard.
@test
@budget(300)
def power_cut_keeps_acknowledged_writes():
    """With the write-ahead log (the default)."""
    power_cut_run(WAL_ON)


@test
@budget(300)
def power_cut_keeps_acknowledged_writes_without_the_log():
    """With LMDB's own flushes (write_ahead_log = off)."""
    power_cut_run(WAL_OFF)


def ack_before_flush_run(ini):
    seed = seed_from_env()
    run, chk = record(seed, 10, ini, rounds=1,
                      env={"EENPLAN_TEST_ACK_BEFORE_FLUSH": "1"})
    try:
        check_flush_points(run, chk)
    except Failure as e:
        msg = str(e)
        check("acknowledged write lost" in msg and "seed %d" % seed in msg
              and "answered" in msg,
              "the failure does not say what was lost where: %s" % msg)
        print("# crash: caught as expected: %s" % msg[:400], flush=True)
        return
    fail("seed %d: answers before the flush, yet no crash point lost an "
         "acknowledged write" % seed)


@test
def ack_before_flush_is_caught():
    """The test can fail: with EENPLAN_TEST_ACK_BEFORE_FLUSH and the log on,
    a batch is answered before its log record is flushed, and the
    flush-point check finds an acknowledged write a power cut loses."""
    ack_before_flush_run(WAL_ON)


@test
def ack_before_flush_is_caught_without_the_log():
    """The same with the log off: answered as soon as the commit returned,
    before its meta page is flushed."""
    ack_before_flush_run(WAL_OFF)
