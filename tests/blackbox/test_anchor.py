"""The audit head outside the store: logged, kept in a head file beside the
data file, checked at start (a store rolled back to an older consistent
state is refused, --accept-rollback takes it knowingly), and by `audit
verify --expect SEQ:HASH`. kill -9 under load never leaves the file ahead
of the store."""
import os
import re
import shutil
import struct
import threading
import time

import harness
from harness import (test, check, eq, fail, Daemon, Raw, new_household,
                     req_create, req_mutate, mut_add_note, created_household,
                     wait_until, VALGRIND)

HEAD_RE = re.compile(r"^(\d+):([0-9a-f]{64})$")
PAGE = 4096
TXNID_AT = 16 + 4 + 4 + 8 + 8 + 2 * 48 + 8     # page header + MDB_meta


def head_of(d):
    r = d.admin("audit", "head")
    eq(r.rc, 0, "audit head: %r" % (r,))
    m = HEAD_RE.match(r.out.strip())
    check(m, "audit head printed %r" % r.out)
    return r.out.strip()


def head_file(d, path=None):
    with open(path or os.path.join(d.data_dir, "audit.head")) as f:
        return f.read().strip()


def logged_heads(d):
    return re.findall(r'msg="audit head" seq=\d+ head=(\d+:[0-9a-f]{64})',
                      d.log())


def start_refused(d, *args):
    """A start that must fail by itself; returns its log."""
    d.args = list(args)
    d.start(wait=False)
    try:
        d.proc.wait(30 * harness.SLOW)
    except Exception:
        d.proc.kill()
        d.proc.wait()
        d.proc_done()
        fail("daemon started on a rolled-back store")
    rc = d.proc.returncode
    d.proc_done()
    d.check_log()
    eq(rc, 1, "exit status of the refused start")
    return d.log_since_start()


def metas(path):
    with open(path, "rb") as f:
        b = f.read(2 * PAGE)
    return [struct.unpack_from("<Q", b, p * PAGE + TXNID_AT)[0]
            for p in (0, 1)]


@test
def anchor_head_file_and_log_follow_commits():
    d = Daemon("anchor").start()
    for _ in range(3):
        new_household(d)
    # At most a second later the file and the log name a durable head.
    wait_until(lambda: logged_heads(d), 5, "an 'audit head' log line")
    d.stop()
    h = head_of(d)
    eq(head_file(d), h, "head file after a clean stop")
    eq(logged_heads(d)[-1], h, "last head logged at stop")
    st = os.stat(os.path.join(d.data_dir, "audit.head"))
    eq(oct(st.st_mode & 0o777), oct(0o600), "head file mode")
    r = d.admin("audit", "verify", "--expect", h)
    eq(r.rc, 0, "verify --expect the logged head: %r" % (r,))
    check("passes through it" in r.out, "verify output: %r" % r.out)


@test
def anchor_flipped_meta_txnid_is_refused():
    """The issue's case: one byte of the older meta page's txnid flipped
    makes LMDB open the previous commit — the last write gone, the chain
    itself intact. Refused at start, by -n and by verify."""
    d = Daemon("flip").start()
    for _ in range(3):
        new_household(d)
    new_household(d)
    d.stop()
    good = head_of(d)
    data = os.path.join(d.data_dir, "data.mdb")
    t0, t1 = metas(data)
    older = 0 if t0 < t1 else 1
    with open(data, "r+b") as f:
        f.seek(older * PAGE + TXNID_AT + 7)
        b = f.read(1)
        f.seek(older * PAGE + TXNID_AT + 7)
        f.write(bytes([b[0] ^ 0x01]))
    rolled = head_of(d)
    check(int(rolled.split(":")[0]) < int(good.split(":")[0]),
          "the flip did not roll the store back (%s, was %s)" % (rolled, good))
    r = d.admin("audit", "verify")
    eq(r.rc, 1, "audit verify of the rolled-back store: %r" % (r,))
    check("behind" in r.out and "audit chain OK" in r.out,
          "verify output: %r" % r.out)
    log = start_refused(d)
    check("behind the head file" in log and rolled in log and good in log,
          "the refusal names both heads:\n%s" % log)
    # Taken knowingly: it starts, says so, and the file follows the store.
    d.args = ["--accept-rollback"]
    d.start()
    check("store rolled back: accepted" in d.log_since_start(),
          "no warning for the accepted rollback")
    d.stop()
    eq(head_file(d), rolled, "head file after --accept-rollback")
    d.args = []
    d.start()
    d.stop()


@test
def anchor_old_copy_put_back_is_refused():
    d = Daemon("oldcopy").start()
    new_household(d)
    d.stop()
    old = os.path.join(d.dir, "old.mdb")
    shutil.copy(os.path.join(d.data_dir, "data.mdb"), old)
    d.start()
    new_household(d)
    d.stop()
    shutil.copy(old, os.path.join(d.data_dir, "data.mdb"))
    log = start_refused(d)
    check("rolled back or replaced by an older copy" in log, log)
    p = harness.subprocess.run(
        [os.path.join(harness.BUILD, "eenpland"), "-n", "-f", d.conf],
        stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE,
        env=harness._sanitizer_env())
    eq(p.returncode, 1, "eenpland -n on a rolled-back store")
    check(b"[audit] head_file" in p.stderr and b"behind" in p.stderr,
          "-n: %r" % p.stderr)


@test
def anchor_head_file_that_is_not_a_file_is_refused():
    """A FIFO (or a directory) where the head file belongs: the start is
    refused at once with its name, not held up reading it."""
    d = Daemon("fifo").start()
    new_household(d)
    d.stop()
    hf = os.path.join(d.data_dir, "audit.head")
    os.unlink(hf)
    os.mkfifo(hf, 0o600)
    t0 = time.monotonic()
    log = start_refused(d)
    check(time.monotonic() - t0 < 20 * harness.SLOW, "the start waited")
    check("not a regular file" in log and "audit.head" in log, log)
    os.unlink(hf)
    os.mkdir(hf)
    log = start_refused(d)
    check("audit.head" in log, log)
    os.rmdir(hf)


@test
def anchor_verify_expect():
    d = Daemon("expect").start()
    new_household(d)
    new_household(d)
    d.stop()
    h = head_of(d)
    seq, hx = h.split(":")
    eq(d.admin("audit", "verify", "--expect", h).rc, 0, "the head itself")
    # An earlier head taken from the log passes too: the chain goes through.
    first = logged_heads(d)[0]
    r = d.admin("audit", "verify", "--expect", first)
    eq(r.rc, 0, "an earlier logged head: %r" % (r,))
    other = "%s:%s" % (seq, ("0" if hx[0] != "0" else "1") + hx[1:])
    r = d.admin("audit", "verify", "--expect", other)
    eq(r.rc, 1, "another hash at that seq: %r" % (r,))
    check("does not pass through" in r.out, r.out)
    r = d.admin("audit", "verify", "--expect", "%d:%s" % (int(seq) + 5, hx))
    eq(r.rc, 1, "a head beyond the store's: %r" % (r,))
    check("behind" in r.out, r.out)
    r = d.admin("audit", "verify", "--expect", "12:nothex")
    eq(r.rc, 2, "a malformed head: %r" % (r,))


@test
def anchor_head_file_elsewhere():
    """[audit] head_file outside data_dir: a whole data directory put back
    from an older copy is caught too."""
    base = os.path.join(harness.RUN_DIR, "anchor-elsewhere")
    os.makedirs(base)
    hf = os.path.join(base, "eenplan.head")
    d = Daemon("elsewhere", extra_ini="[audit]\nhead_file = %s\n" % hf)
    d.start()
    new_household(d)
    d.stop()
    check(os.path.exists(hf), "no head file at %s" % hf)
    check(not os.path.exists(os.path.join(d.data_dir, "audit.head")),
          "a head file in data_dir as well")
    saved = os.path.join(base, "data-copy")
    shutil.copytree(d.data_dir, saved)
    d.start()
    new_household(d)
    d.stop()
    shutil.rmtree(d.data_dir)
    shutil.copytree(saved, d.data_dir)
    log = start_refused(d)
    check("behind the head file" in log, log)


@test
def anchor_kill9_never_leaves_the_file_ahead():
    """The file only names durable heads: after kill -9 under write load
    the daemon always starts again on its own store."""
    d = Daemon("anchor-kill").start()
    stop = threading.Event()
    done = [0]

    def load():
        n = 0
        while not stop.is_set():
            try:
                with Raw(d, "wmo", timeout=5) as c:
                    hh = created_household(c.call(req_create(1)))
                    for i in range(50):
                        if stop.is_set():
                            break
                        r = c.call(req_mutate(2 + i, hh, mut_add_note(
                            1, "note %d" % n)))
                        n += 1
                        done[0] += r.code == 0
            except Exception:
                time.sleep(0.05)

    # Under valgrind 3 rounds (a start there takes ~4 s): the normal and
    # ASan runs kill at six instants.
    for rnd in range(3 if VALGRIND else 6):
        stop.clear()
        ts = [threading.Thread(target=load) for _ in range(3)]
        for t in ts:
            t.start()
        time.sleep(1.3 + 0.37 * rnd)
        d.kill9()
        stop.set()
        for t in ts:
            t.join()
        fh = head_file(d)
        d.start()       # fails the test if refused
        check("behind the head file" not in d.log_since_start(),
              "refused after kill -9")
        check(int(head_of(d).split(":")[0]) >= int(fh.split(":")[0]),
              "store behind its head file after kill -9 round %d" % rnd)
    d.stop()
    check(done[0] > 100, "only %d writes acknowledged" % done[0])
    eq(d.admin("audit", "verify").rc, 0, "chain after the kill -9 rounds")
