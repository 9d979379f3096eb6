"""Power-cut simulation for test_crash.py (issue 8): record what the daemon
writes to its data files, then build the images a disk could hold after a
power cut at any point of that record, and check each with the daemon.

The record comes from tests/crash/iorec.c (LD_PRELOAD): every write to
the files it is told of (data.mdb, and the write-ahead log's wal.0, wal.1,
wal.ckpt and wal.mark once they exist) and every flush, in order, across
the files, with CLOCK_MONOTONIC times (the clock of Python's
time.monotonic_ns, so the driver's acknowledgement times and the record
share one time line).

A crash image for a cut before op k of the record, file by file: every
write to the file before the file's last flush before k (an fdatasync or
fsync of an fd on it, or a syncfs/sync, which flush every file) is on
disk; of its writes after that flush (up to k), any subset may have
reached the disk, and a write may be torn at sector boundaries (512 or
4096 bytes), a sector holding either its old bytes or the new ones. A
flush of one file makes nothing of another durable. A file that did not
exist when the record began starts empty, and is in an image exactly when
its creating open came before the cut: this assumes that its directory
entry is durable from then on, which holds because the daemon fsyncs the
directory after creating such a file, before relying on it (its writes
before that fsync could be in the image with the file missing, which the
model never builds). A file removed (unlink) is gone from the removal on,
with its contents, for the same reason (the daemon fsyncs the directory
right after removing wal.mark; a marker that survived would make the next
open restore the last checkpoint and replay the flushed log after it, to
the same state); created again, it starts empty. A file renamed onto a recorded name is not modelled (the
shim does not see it). The crash happened at ops[k].t0:
every request whose answer the driver had received before that time must
be in the image.

What a request left is found through the audit log: every answered request
has exactly one record, committed in the same child transaction as its
change. Per connection (one request at a time, its own client port, which
the record names as its peer) the records in sequence order are the
answers in order, so the final image maps each request to its sequence
number s. An image whose chain ends at N then holds request r exactly when
s(r) <= N: its change and its record are both there, or both not. The
check asserts both halves: every acknowledged request has s <= N (durable),
and the data shows exactly the changes whose records are there (atomic).
"""
import bisect
import hashlib
import json as jsonlib
import os
import random
import re
import shutil
import signal
import struct
import threading
import time

from harness import (Daemon, Raw, Failure, check, fail, free_port, f_bytes,
                     f_varint, pb_decode, pb_get, req, req_create,
                     req_get_plan, req_mutate, req_whoami, mut_add_note,
                     created_household, SLOW)
import harness
from consentlib import req_grant, req_revoke, granted_id

# ------------------------------------------------------------ the record

HDR = struct.Struct("<HHIQQQQQ")    # struct iorec_hdr in tests/crash/iorec.c
OPEN, WRITE, FLUSH, TRUNC, CLOSE, UNSUPPORTED, UNLINK = 1, 2, 3, 4, 5, 6, 7
F_DSYNC, F_FAILED, F_TRUNC = 1, 2, 4
ALL = 0xffff                        # the file of a syncfs/sync: every one
NAMES = {OPEN: "open", WRITE: "write", FLUSH: "flush", TRUNC: "truncate",
         CLOSE: "close", UNSUPPORTED: "unsupported", UNLINK: "unlink"}
INF = float("inf")


class Op:
    """One record: file is the file's index in IOREC_FILE (ALL for a
    syncfs/sync), name its name when read_log was told the names."""
    __slots__ = ("kind", "flags", "t0", "t1", "off", "size", "data", "aux",
                 "file", "name")

    def __init__(self, kind, flags, t0, t1, off, size, aux, data=None,
                 file=0, name=None):
        self.kind, self.flags, self.t0, self.t1 = kind, flags, t0, t1
        self.off, self.size, self.aux, self.data = off, size, aux, data
        self.file, self.name = file, name

    def barrier(self):
        return self.kind == FLUSH and not self.flags & F_FAILED

    def __repr__(self):
        of = " of %s" % self.name if self.name else ""
        if self.kind == WRITE:
            return "write %d bytes at %d%s%s" % (
                self.size, self.off, of,
                " (O_DSYNC)" if self.flags & F_DSYNC else "")
        if self.kind == FLUSH:
            how = {1: "fdatasync", 2: "fsync"}.get(self.aux, "syncfs")
            return "%s%s%s" % (how, of, " (failed)"
                               if self.flags & F_FAILED else "")
        if self.kind == TRUNC:
            return "ftruncate%s to %d" % (of, self.off)
        return NAMES.get(self.kind, "op %d" % self.kind) + of


def read_log(path, names=None):
    """The ops of an iorec log, in order. names: the files of IOREC_FILE,
    in its order (default: one, unnamed)."""
    with open(path, "rb") as f:
        buf = f.read()
    nfiles = len(names) if names else 1
    ops, i = [], 0
    while i < len(buf):
        check(len(buf) - i >= HDR.size, "iorec log %s: torn header" % path)
        kind, file, flags, t0, t1, off, size, aux = HDR.unpack_from(buf, i)
        i += HDR.size
        data = None
        if kind == WRITE:
            check(len(buf) - i >= size, "iorec log %s: torn write" % path)
            data = bytes(buf[i:i + size])
            i += size
        check(kind in NAMES, "iorec log %s: unknown record %d" % (path, kind))
        check(file < nfiles or (kind == FLUSH and file == ALL),
              "iorec log %s: a %s record of file %d, of %d"
              % (path, NAMES[kind], file, nfiles))
        name = names[file] if names and file != ALL else None
        if kind == UNSUPPORTED:
            fail("iorec: the daemon mapped %s writable (shared): its "
                 "writes through the map cannot be recorded"
                 % (name or "the data file"))
        ops.append(Op(kind, flags, t0, t1, off, size, aux, data, file, name))
    return ops


def put(buf, off, data):
    end = off + len(data)
    if end > len(buf):
        buf.extend(bytes(end - len(buf)))
    buf[off:end] = data


def truncate(buf, size):
    if size < len(buf):
        del buf[size:]
    else:
        buf.extend(bytes(size - len(buf)))


class Disk:
    """One file on the disk as the record is replayed: what is durable,
    and its writes since its last flush (pending: any part of them may be
    on disk). file: its index in the record (ops of other files are
    passed over); base None: it did not exist when the record began, and
    exists from its first open on (see the module's docstring)."""

    def __init__(self, base, ops, file=0):
        self.ops = ops
        self.file = file
        self.exists = base is not None
        self.durable = bytearray(base or b"")
        self.pending = []       # indexes into ops
        self.pos = 0
        self.last_flush = -1

    def advance(self, k):
        """Replays ops[pos:k] (k only grows)."""
        assert k >= self.pos
        for i in range(self.pos, k):
            op = self.ops[i]
            if op.file != self.file and not (op.kind == FLUSH and
                                             op.file == ALL):
                continue
            if op.kind == OPEN:
                self.exists = True
            elif op.kind == UNLINK:
                # Gone, with what it held: a later creating open starts
                # it empty (see the module's docstring).
                self.exists = False
                self.durable = bytearray()
                self.pending = []
            elif op.kind == WRITE and op.flags & F_DSYNC:
                put(self.durable, op.off, op.data)
            elif op.kind in (WRITE, TRUNC):
                self.pending.append(i)
            elif op.barrier():
                for j in self.pending:
                    self.apply(self.durable, self.ops[j])
                self.pending = []
                self.last_flush = i
        self.pos = k

    @staticmethod
    def apply(buf, op):
        if op.kind == WRITE:
            put(buf, op.off, op.data)
        else:
            truncate(buf, op.off)

    def image(self, rng, mode="random", sector=512):
        """The durable bytes plus what of the pending writes a power cut
        left: mode "none" (nothing), "all" (everything, as the page cache
        had it) or "random" (each write whole, not at all, or torn into
        sector pieces of which each is there or not). Returns (bytes,
        info) where info counts what was applied; bytes is None while the
        file does not exist."""
        buf = bytearray(self.durable)
        info = {"pending": len(self.pending), "whole": 0, "torn": 0,
                "dropped": 0, "pieces": 0}
        if not self.exists:
            return None, info
        for j in self.pending:
            op = self.ops[j]
            if mode == "none":
                info["dropped"] += 1
                continue
            if mode == "all" or op.kind == TRUNC:
                how = "whole" if mode == "all" or rng.random() < 0.5 else "dropped"
            else:
                x = rng.random()
                how = "whole" if x < 0.4 else "dropped" if x < 0.7 else "torn"
            if how == "dropped":
                info["dropped"] += 1
            elif how == "whole":
                self.apply(buf, op)
                info["whole"] += 1
            else:
                n = 0
                for a, b in pieces(op.off, op.size, sector):
                    if rng.random() < 0.5:
                        put(buf, a, op.data[a - op.off:b - op.off])
                        n += 1
                info["torn"] += 1
                info["pieces"] += n
        return bytes(buf), info


class Disks:
    """The files of a record, one Disk each: bases is {name: bytes, or None
    for a file not there at the start}, in the record's file order (the
    order of IOREC_FILE). An image is {name: bytes} of the files that
    exist; the files draw from rng in that order, so a seed gives the same
    images."""

    def __init__(self, bases, ops):
        self.names = list(bases)
        self.disks = [Disk(bases[n], ops, i)
                      for i, n in enumerate(self.names)]

    def advance(self, k):
        for d in self.disks:
            d.advance(k)

    def image(self, rng, mode="random", sector=512):
        """Disk.image for every file: ({name: bytes}, info summed)."""
        out, info = {}, None
        for name, d in zip(self.names, self.disks):
            img, i = d.image(rng, mode, sector)
            if img is not None:
                out[name] = img
            info = i if info is None else {x: info[x] + i[x] for x in info}
        return out, info


def image_key(image):
    """A digest of an image ({name: bytes}) that tells images apart."""
    h = hashlib.sha1()
    for name in sorted(image):
        h.update(b"%s\0%d\0" % (name.encode(), len(image[name])))
        h.update(image[name])
    return h.digest()


def pieces(off, size, sector):
    """[a, b) ranges of [off, off+size) split at sector boundaries."""
    out, a, end = [], off, off + size
    while a < end:
        b = min(end, (a // sector + 1) * sector)
        out.append((a, b))
        a = b
    return out


def cut_time(ops, k):
    """When a crash that cuts the record before op k happened, at the
    latest: the moment op k began (nothing changes on disk between the end
    of op k-1 and that). After the last op: the end of the run."""
    return ops[k].t0 if k < len(ops) else INF


def describe_cut(ops, k):
    if k >= len(ops):
        return "after the last of %d ops (the end of the run)" % len(ops)
    last = max([i for i in range(k) if ops[i].barrier()], default=-1)
    return ("before op %d of %d (%r at t=%d ns; last flush before it: op %s)"
            % (k, len(ops), ops[k], ops[k].t0,
               last if last >= 0 else "none"))


# ------------------------------------------------------------ the workload

ACTIONS = {"note": "MutatePlan", "create": "CreateHousehold",
           "grant": "GrantConsent", "revoke": "RevokeConsent",
           "read": "GetPlan", "list": "ListConsent"}
CODE_NAMES = harness.CODES


class Request:
    """One request of the workload and what became of it."""
    __slots__ = ("conn", "n", "kind", "hh", "text", "gid", "t_send", "t_ack",
                 "code", "version", "seq")

    def __init__(self, conn, n, kind, hh, text=None, gid=None):
        self.conn, self.n, self.kind, self.hh = conn, n, kind, hh
        self.text, self.gid = text, gid
        self.t_send = self.t_ack = None
        self.code = None
        self.version = None
        self.seq = None         # its audit record, from the final image

    @property
    def ok(self):
        return self.code == 0

    def __repr__(self):
        what = {"note": "note %r" % self.text, "grant": "grant %s" % self.gid,
                "revoke": "revoke of grant %s" % self.gid}.get(self.kind,
                                                               self.kind)
        return ("%s request #%d (%s, %s) on household %s, answered %s at "
                "t=%s ns, audit record %s" % (
                    self.conn.name, self.n, ACTIONS[self.kind], what,
                    self.hh, CODE_NAMES[self.code] if self.code is not None
                    else "never", self.t_ack, self.seq))


class Conn:
    """One client connection: who, its client port (the audit record's
    peer), its requests in order."""

    def __init__(self, name, who, role, hhs, seed, count):
        self.name, self.who, self.role = name, who, role
        self.hhs = list(hhs)
        self.rng = random.Random(seed)
        self.count = count
        self.port = None
        self.reqs = []
        self.error = None

    def next_request(self, n):
        """The n-th request, chosen by this connection's own generator
        from its own acknowledged history only."""
        rng = self.rng
        mine = [r for r in self.reqs if r.kind == "grant" and r.ok and
                not any(x.kind == "revoke" and x.gid == r.gid and x.ok
                        for x in self.reqs)]
        x = rng.random()
        hh = rng.choice(self.hhs)
        if self.role == "reader":
            return Request(self, n, "read", hh)
        if self.role == "regisseur" and x < 0.06:
            return Request(self, n, "create", None)
        if x < 0.55:
            return Request(self, n, "note", hh,
                           text="%s.%d.%08x" % (self.name, n, rng.getrandbits(32)))
        if x < 0.75 or not mine:
            return Request(self, n, "grant", hh)
        if x < 0.92:
            g = rng.choice(mine)
            return Request(self, n, "revoke", g.hh, gid=g.gid)
        return Request(self, n, "list", hh)

    def encode(self, r, rid):
        ref = "FORM-CRASH-%s-%d" % (self.name, r.n) if self.role == "regisseur" else ""
        if r.kind == "note":
            return req_mutate(rid, r.hh, mut_add_note(1 + r.n % 13, r.text))
        if r.kind == "create":
            return req_create(rid, members=(("henk.desmet", "Henk de Smet",
                                             "ouder"),), area=1 + r.n % 4,
                              ref="TOESTEMMING-CRASH-%s-%d" % (self.name, r.n))
        if r.kind == "grant":
            org = ("lev", "senzer", "zorgboog")[r.n % 3]
            return req_grant(rid, r.hh, org, access=1,
                             purpose="crash test %s.%d" % (self.name, r.n),
                             form_ref=ref)
        if r.kind == "revoke":
            return req_revoke(rid, r.hh, r.gid, form_ref=ref)
        if r.kind == "read":
            return req_get_plan(rid, r.hh)
        return req(rid, 18, f_bytes(1, r.hh) + f_varint(2, 1))

    def run(self, d, stop):
        try:
            with Raw(d, self.who, timeout=60) as c:
                self.port = c.s.getsockname()[1]
                for n in range(self.count):
                    if stop.is_set():
                        return
                    r = self.next_request(n)
                    body = self.encode(r, n + 1)
                    r.t_send = time.monotonic_ns()
                    self.reqs.append(r)
                    c.send_frame(body)
                    resp = c.recv_frame(60)
                    r.t_ack = time.monotonic_ns()
                    check(resp is not None and resp.id == n + 1,
                          "%s: no answer to request %d" % (self.name, n))
                    r.code = resp.code
                    if r.ok and r.kind == "create":
                        r.hh = created_household(resp)
                        self.hhs.append(r.hh)
                    elif r.ok and r.kind == "grant":
                        r.gid = granted_id(resp)
                    elif r.ok and r.kind == "note":
                        r.version = pb_get(pb_decode(resp.body), 1, 0)
        except Exception as e:      # reported by the caller
            self.error = "%s: %s: %s" % (self.name, type(e).__name__, e)
            stop.set()


def make_conns(hhs, seed, per_conn, rnd):
    """Round rnd's connections: two of the regisseur (the gemeente's Wmo
    consultant: notes, intakes, grants and revokes on the household's
    behalf), a member (notes, own grants and revokes) and a reader
    (LEVgroep: reads its grants allow or not; a refusal is audited too)."""
    s = seed * 100 + rnd * 10
    return [Conn("wmo-a.%d" % rnd, "wmo", "regisseur", hhs, s + 1, per_conn),
            Conn("wmo-b.%d" % rnd, "wmo", "regisseur", hhs, s + 2, per_conn),
            Conn("henk.%d" % rnd, "henk", "member", hhs, s + 3, per_conn),
            Conn("lev.%d" % rnd, "lev", "reader", hhs, s + 4, per_conn)]


# Everyone in the demo cast (certs/mkpki.sh): WhoAmI works for each.
CAST = ("wmo", "lev", "senzer", "zorgboog", "savant", "huisarts", "henk",
        "anja", "lisa", "lev-systeem", "privacy-lev", "privacy-gemeente",
        "wmo2")


def churn(d, rng, stop, errors):
    """Connections of everyone in the cast, two each, while the workload
    runs: a person's first request on a worker makes the writer record
    them as known (call_know), a job without an audit record that, for
    someone the store already knows, writes nothing — a batch of only
    that commits no page and flushes nothing."""
    names = [n for n in CAST for _ in range(2)]
    rng.shuffle(names)
    try:
        for n in names:
            if stop.is_set():
                return
            time.sleep(rng.random() * 0.02)
            with Raw(d, n, timeout=60) as c:
                check(c.call(req_whoami(1)).code == 0, "WhoAmI as %s" % n)
    except Exception as e:
        errors.append("churn: %s: %s" % (type(e).__name__, e))
        stop.set()


def run_workload(d, conns, rng):
    stop = threading.Event()
    errors = []
    threads = [threading.Thread(target=c.run, args=(d, stop)) for c in conns]
    threads.append(threading.Thread(target=churn,
                                    args=(d, rng, stop, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(600 * SLOW)
    errors += [c.error for c in conns if c.error]
    check(not errors, "workload: %s" % "; ".join(errors))
    check(not any(t.is_alive() for t in threads), "workload threads hang")


# ------------------------------------------------------------ checking

# The boot id the checking daemon sees (EENPLAN_TEST_BOOT_ID): a power
# cut means a new boot, so no marker of the recording daemon's is its own.
CHECK_BOOT_ID = "00000000-0000-4000-8000-00000000c0de"


def real_boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


class Checker:
    """Opens images with the daemon: `audit verify`, `audit export`, and a
    real start answering GetPlan and ListConsent. Its own data dir, the
    recording daemon's store key, and a boot id of its own (CHECK_BOOT_ID),
    for the daemon and its operator commands alike."""

    def __init__(self, recorder):
        check(real_boot_id() != CHECK_BOOT_ID,
              "this machine's boot id is the checker's %s" % CHECK_BOOT_ID)
        self.d = Daemon("crashcheck",
                        env={"EENPLAN_TEST_BOOT_ID": CHECK_BOOT_ID})
        shutil.copy2(os.path.join(os.path.dirname(recorder.data_dir),
                                  "store.key"),
                     os.path.join(self.d.dir, "store.key"))
        self.d.port = free_port()
        self.d.write_conf()
        self.boot_seen = False
        self.replays = 0        # images whose recover replayed the log

    def load(self, image):
        """Makes the data dir hold image ({name: bytes}) and nothing the
        last image or start left."""
        # Each image is a disk of its own: the head file the daemon wrote
        # for the last one (data_dir/audit.head) is not this one's, nor
        # are the log files the last image had and this one has not.
        data = self.d.data_dir
        old = [n for n in os.listdir(data) if n.startswith("wal.")]
        for name in ["data.mdb", "lock.mdb", "eenpland.pid",
                     "audit.head"] + old:
            try:
                os.unlink(os.path.join(data, name))
            except FileNotFoundError:
                pass
        # Nor is the audit index the last start built (derived from the
        # log; the daemon builds it again from the image's).
        shutil.rmtree(os.path.join(data, "audit-index"), ignore_errors=True)
        for name, content in image.items():
            check(name == os.path.basename(name) and name not in (".", ".."),
                  "image file name %r" % name)
            with open(os.path.join(data, name), "wb") as f:
                f.write(content)

    def verify(self):
        """The chain's length, or raises Failure with what the daemon said.
        An image with the log's marker is restored first (`eenpland
        recover`, as an operator would after a power cut)."""
        if os.path.exists(os.path.join(self.d.data_dir, "wal.mark")):
            r = self.d.admin("recover", env=self.d.env)
            if r.rc != 0:
                fail("recover: %r" % r)
            m = re.search(r"(\d+) logged transaction", r.out)
            self.replays += 1 if m and int(m.group(1)) > 0 else 0
        r = self.d.admin("audit", "verify", env=self.d.env)
        if r.rc != 0 or not r.out.startswith("audit chain OK: "):
            fail("audit verify: %r" % r)
        return int(r.out.split()[3])

    def store_verify(self):
        """Every value of the image opens under its key and every count
        of every household holds (`eenpland store verify`)."""
        r = self.d.admin("store", "verify", env=self.d.env)
        if r.rc != 0 or "\nstore OK: " not in "\n" + r.out:
            fail("store verify: %r" % r)

    def export(self):
        r = self.d.admin("audit", "export", env=self.d.env)
        if r.rc != 0:
            fail("audit export: %r" % r)
        return [jsonlib.loads(l) for l in r.out.splitlines() if l.strip()]

    def start(self):
        d = self.d
        d.start(wait=False)
        end = time.monotonic() + 30 * SLOW
        while True:
            rc = d.proc.poll()
            if rc is not None:
                d.proc_done()
                fail("the daemon refused the image (exit %s):\n%s"
                     % (rc, d.log_tail(8)))
            try:
                with Raw(d, "wmo", timeout=5) as c:
                    if c.call(req_whoami(1)).code == 0:
                        self.check_boot()
                        return
            except (OSError, Failure):
                pass
            if time.monotonic() > end:
                fail("the daemon did not answer on the image:\n%s"
                     % d.log_tail(8))
            time.sleep(0.02)

    def check_boot(self):
        """Once: the daemon took the checker's boot id (its audit index
        marker holds it), so the hook is in effect."""
        if self.boot_seen:
            return
        mark = os.path.join(self.d.data_dir, "audit-index",
                            "unflushed.%d" % self.d.proc.pid)
        try:
            with open(mark) as f:
                got = f.read().strip()
        except OSError as e:
            fail("the checking daemon's audit index marker: %s" % e)
        check(got == CHECK_BOOT_ID, "the checking daemon's marker holds boot "
              "id %r, not EENPLAN_TEST_BOOT_ID=%s" % (got, CHECK_BOOT_ID))
        self.boot_seen = True

    def plans(self, hhs):
        """{hh: (code, version, note texts, {grant id: revoked})}."""
        out = {}
        with Raw(self.d, "wmo", timeout=30) as c:
            rid = 1
            for hh in hhs:
                r = c.call(req_get_plan(rid, hh))
                rid += 1
                if r.code != 0:
                    out[hh] = (r.code, None, None, None)
                    continue
                plan = pb_decode(pb_get(pb_decode(r.body), 1, b""))
                notes = [pb_get(pb_decode(n), 3, b"").decode()
                         for n in plan.get(11, [])]
                l = c.call(req(rid, 18, f_bytes(1, hh) + f_varint(2, 1)))
                rid += 1
                if l.code != 0:
                    out[hh] = (l.code, None, None, None)
                    continue
                grants = {}
                for g in pb_decode(l.body).get(1, []):
                    gd = pb_decode(g)
                    grants[pb_get(gd, 1, 0)] = pb_get(gd, 13, 0) != 0
                out[hh] = (0, pb_get(plan, 2, 0), notes, grants)
        return out


def map_requests(rounds, records):
    """Gives each answered request its audit record's sequence number.
    The daemon restarts between rounds, so each round's records follow
    the last round's; within a round, the records whose peer is a
    connection's port, in sequence order, are its answers in order (one
    request at a time). Records before the first round are the base's.
    Fails when they do not line up."""
    recs = sorted(records, key=lambda x: int(x["seq"]))
    counts = [sum(1 for c in conns for r in c.reqs if r.code is not None)
              for conns in rounds]
    i = len(recs) - sum(counts)
    check(i >= 0, "%d audit records for %d answered requests"
          % (len(recs), sum(counts)))
    for conns, n in zip(rounds, counts):
        by_port = {}
        for rec in recs[i:i + n]:
            port = int(rec.get("peer", ":0").rsplit(":", 1)[1] or 0)
            by_port.setdefault(port, []).append(rec)
        i += n
        check(set(by_port) <= set(c.port for c in conns),
              "audit records of a round name peers %r, not its connections' "
              "ports %r" % (sorted(by_port), [c.port for c in conns]))
        for c in conns:
            mine = by_port.get(c.port, [])
            answered = [r for r in c.reqs if r.code is not None]
            check(len(mine) == len(answered),
                  "%s (port %s): %d answered requests but %d audit records"
                  % (c.name, c.port, len(answered), len(mine)))
            for r, rec in zip(answered, mine):
                check(rec["action"] == ACTIONS[r.kind] and
                      rec["outcome"] == CODE_NAMES[r.code],
                      "%s: request #%d (%s, %s) lines up with audit record "
                      "%s (%s, %s)" % (c.name, r.n, ACTIONS[r.kind],
                                       CODE_NAMES[r.code], rec["seq"],
                                       rec["action"], rec["outcome"]))
                r.seq = int(rec["seq"])


class Run:
    """A recorded run: the base image (bases as Disks takes them), the
    ops, the requests, the final chain. check_* raise Failure naming the
    crash point and the request."""

    def __init__(self, seed, bases, ops, conns, final_records, households):
        self.seed = seed
        self.bases = bases
        self.ops = ops
        self.conns = conns
        self.reqs = [r for c in conns for r in c.reqs]
        self.final = {int(r["seq"]): r["hash"] for r in final_records}
        self.households = households
        self.by_ack = sorted((r for r in self.reqs if r.t_ack is not None),
                             key=lambda r: r.t_ack)
        # By record: the latest sent of those up to each one.
        mapped = sorted((r for r in self.reqs if r.seq is not None),
                        key=lambda r: r.seq)
        self.seqs = [r.seq for r in mapped]
        self.latest = []
        for r in mapped:
            last = self.latest[-1] if self.latest else None
            self.latest.append(r if last is None or r.t_send > last.t_send
                               else last)

    def acked_before(self, t):
        return [r for r in self.by_ack if r.t_ack < t]

    def lost(self, k, head):
        """The first request answered before the cut at k whose record is
        past the chain's end head, or None."""
        t = cut_time(self.ops, k)
        for r in self.acked_before(t):
            if r.seq > head:
                return r, t
        return None

    def future(self, k, head, where):
        """Fails when the chain up to head holds a request sent only after
        the cut: the record's clock and the driver's would disagree, and
        every "before the cut" here would mean nothing."""
        t = cut_time(self.ops, k)
        i = bisect.bisect_right(self.seqs, head)
        if i > 0 and self.latest[i - 1].t_send >= t:
            r = self.latest[i - 1]
            fail("%s: the image holds %r, sent %.3f ms after the cut: "
                 "the times of the record and of the driver disagree"
                 % (where, r, (r.t_send - t) / 1e6))

    def lost_msg(self, k, head, how, r, t):
        return ("seed %d, crash %s, image %s: acknowledged write lost: %r — "
                "answered %s before the cut, but the image's audit chain "
                "ends at %d" % (self.seed, describe_cut(self.ops, k), how, r,
                                "%.3f ms" % ((t - r.t_ack) / 1e6)
                                if t != INF else "(end of run)", head))

    def check_image(self, chk, k, image, how):
        """The deep check of one image ({name: bytes}); returns the
        chain's length."""
        where = "seed %d, crash %s, image %s" % (self.seed,
                                                 describe_cut(self.ops, k), how)
        chk.load(image)
        try:
            head = chk.verify()
            records = chk.export()
            chk.store_verify()
        except Failure as e:
            fail("%s: %s" % (where, e))
        seqs = [int(r["seq"]) for r in records]
        check(seqs == list(range(1, head + 1)),
              "%s: audit sequence numbers are not 1..%d" % (where, head))
        for rec in records:
            s = int(rec["seq"])
            check(self.final.get(s) == rec["hash"],
                  "%s: audit record %d is not the one the run committed: "
                  "the image is no state the daemon ever had" % (where, s))
        self.future(k, head, where)
        lost = self.lost(k, head)
        if lost:
            fail(self.lost_msg(k, head, how, *lost))
        try:
            chk.start()
            plans = chk.plans(self.households)
            chk.d.stop()
        except (Failure, OSError) as e:
            fail("%s: %s" % (where, e))
        finally:
            if chk.d.alive():       # a failed check: not the next one's
                chk.d.proc.kill()
                chk.d.proc.wait()
                chk.d.proc_done()
        self.check_data(where, k, head, plans)
        return head

    def check_data(self, where, k, head, plans):
        """The data shows exactly the requests whose records are in the
        chain (atomic), and so every acknowledged one (durable)."""
        t = cut_time(self.ops, k)
        for hh in self.households:
            code, version, notes, grants = plans[hh]
            create = [r for r in self.reqs if r.kind == "create" and r.hh == hh]
            exists = not create or create[0].seq <= head
            if not exists:
                check(code == 7, "%s: household %s whose intake is not in "
                      "the chain: GetPlan answers %s, not PERMISSION_DENIED"
                      % (where, hh, CODE_NAMES[code]))
                continue
            check(code == 0, "%s: household %s (intake in the chain): "
                  "GetPlan/ListConsent answers %s" % (where, hh,
                                                      CODE_NAMES[code]))
            mine = [r for r in self.reqs if r.hh == hh and r.ok]
            for r in mine:
                there = r.seq <= head
                if r.kind == "note":
                    shown = r.text in notes
                elif r.kind == "grant":
                    shown = r.gid in grants
                elif r.kind == "revoke":
                    shown = grants.get(r.gid, False)
                else:
                    continue
                if shown != there:
                    acked = r.t_ack < t
                    fail("%s: %r is %s in the data but its audit record "
                         "is %s (chain ends at %d)%s" % (
                             where, r, "shown" if shown else "missing",
                             "there" if there else "not there", head,
                             "; it was acknowledged before the cut" if acked
                             else ""))
            texts = set(r.text for r in mine if r.kind == "note")
            stray = [n for n in notes if n not in texts]
            check(not stray, "%s: household %s shows notes no answered "
                  "request wrote: %r" % (where, hh, stray[:3]))
            check(len(set(notes)) == len(notes),
                  "%s: household %s shows a note twice" % (where, hh))
            check(version == 1 + len(notes),
                  "%s: household %s at version %d with %d notes (each change "
                  "adds one)" % (where, hh, version, len(notes)))


def deep_points(rng, ops, n):
    """n crash points (op indexes, possibly len(ops)) with how the image is
    made: half anywhere, half just before a flush, where most is pending.
    The end of the run is always one."""
    flushes = [i for i, op in enumerate(ops) if op.barrier()]
    pts = [(len(ops), "random", 512)]
    for j in range(n - 1):
        if j % 2 == 0 or not flushes:
            k = rng.randrange(len(ops) + 1)
        else:
            k = rng.choice(flushes)
        x = rng.random()
        mode = "none" if x < 0.15 else "all" if x < 0.3 else "random"
        pts.append((k, mode, rng.choice((512, 4096))))
    return sorted(pts)


def check_flush_points(run, chk, deadline=None):
    """The exhaustive half: for a cut just before each flush of any file,
    each creating open and each removal of a file (and at the end of the
    run), the
    image with nothing pending applied — only what each file's last flush
    made durable — opened with `audit verify`, and every request answered
    before the cut in its chain. Every cut between two of those leaves the
    same image and needs no more answers than the cut before the second,
    so this covers every cut of the record with nothing pending. Returns
    (cuts, distinct images opened)."""
    ops = run.ops
    absent = set(i for i, n in enumerate(run.bases) if run.bases[n] is None)
    cuts = []
    for i, op in enumerate(ops):
        if op.kind == OPEN and op.file in absent:
            absent.discard(op.file)
            cuts.append(i)
        elif op.kind == UNLINK:
            absent.add(op.file)
            cuts.append(i)
        elif op.barrier():
            cuts.append(i)
    cuts.append(len(ops))
    disks = Disks(run.bases, ops)
    heads = {}
    for k in cuts:
        if deadline is not None and time.monotonic() > deadline:
            break
        disks.advance(k)
        image, _ = disks.image(None, "none")
        key = image_key(image)
        if key not in heads:
            chk.load(image)
            try:
                heads[key] = chk.verify()
            except Failure as e:
                fail("seed %d, crash %s, image with nothing pending: %s"
                     % (run.seed, describe_cut(ops, k), e))
        run.future(k, heads[key], "seed %d, crash %s, image with nothing "
                   "pending" % (run.seed, describe_cut(ops, k)))
        lost = run.lost(k, heads[key])
        if lost:
            fail(run.lost_msg(k, heads[key], "with nothing pending applied",
                              *lost))
    return len(cuts), len(heads)
