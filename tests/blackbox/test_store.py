"""The household store (issue 7): consent decided where it is committed,
plan content sealed at rest, the key checked, rekey while serving, a write
quota per principal, and damage answered as DATA_LOSS, never as a shorter
truth."""
import os
import re
import shutil
import struct
import subprocess
import threading
import time

from harness import (test, Daemon, Raw, cli, cli_ok, check, eq, fail,
                     new_household, req, f_bytes, f_varint, pb_decode, pb_get,
                     req_get_plan, req_mutate, mut_add_note, mut_add_goal,
                     wait_until, BUILD)
from consentlib import (grant, req_revoke, audit_records, households)


def sealed_marker_free(path, markers):
    with open(path, "rb") as f:
        raw = f.read()
    for m in markers:
        check(m.encode() not in raw, "%r found in clear in %s" % (m, path))


@test
def revoke_races_reads():
    """A revoke committed while another connection streams GetPlan: no OK
    answer has its audit record after the revoke's."""
    d = Daemon("race").start()
    hh = new_household(d)
    gid = grant(d, "wmo", hh, "lev", "read", form_ref="F-RACE")
    answers = []
    stop = threading.Event()

    def reader():
        with Raw(d, "lev") as c:
            rid, inflight = 1, 0
            while not stop.is_set() or inflight > 0:
                while inflight < 16 and not stop.is_set():
                    c.send_frame(req_get_plan(rid, hh))
                    rid += 1
                    inflight += 1
                r = c.recv_frame(10)
                check(r is not None, "reader connection closed")
                answers.append(r.code)
                inflight -= 1
    t = threading.Thread(target=reader)
    t.start()
    wait_until(lambda: len(answers) > 200, 30, "reads before the revoke")
    with Raw(d, "henk") as c:
        r = c.call(req_revoke(1, hh, gid))
        eq(r.code_name, "OK", "revoke")
    n_at_revoke = len(answers)
    wait_until(lambda: len(answers) > n_at_revoke + 200, 30,
               "reads after the revoke")
    stop.set()
    t.join(60)
    check(not t.is_alive(), "reader did not finish")
    ok = answers.count(0)
    denied = answers.count(7)
    eq(ok + denied, len(answers), "answers other than OK or denied: %r"
       % sorted(set(answers)))
    check(denied >= 200, "only %d refusals after the revoke" % denied)
    recs = audit_records(d, "henk", hh)
    rv = [int(r["seq"]) for r in recs if r["action"] == "RevokeConsent"
          and r.get("outcome", "OK") in ("OK", 0, "0")]
    eq(len(rv), 1, "revoke records")
    reads = [r for r in recs if r["action"] == "GetPlan" and
             r.get("actor", {}).get("org") == "lev"]
    ok_recs = [int(r["seq"]) for r in reads if r.get("outcome", "OK")
               in ("OK", 0, "0")]
    check(all(s < rv[0] for s in ok_recs),
          "an OK read was committed after the revoke (revoke %d, reads %r)"
          % (rv[0], [s for s in ok_recs if s > rv[0]]))
    eq(len(ok_recs), ok, "OK answers vs OK audit records")
    eq(len(reads), len(answers), "answers vs audit records")
    d.stop()


@test
def data_file_and_backup_reveal_no_plan():
    d = Daemon("sealed").start()
    hh = new_household(d, members=("kees.marker:Kees Markernaam:ouder",))
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "PLANMARKER-7731 schulden bij de woningcorporatie")
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "huisvesting", "--text",
           "GOALMARKER-9912 woning behouden")
    cli_ok(d, "wmo", "escalate", hh, "--reason", "REASONMARKER-4410 crisis")
    grant(d, "wmo", hh, "lev", "read", purpose="PURPOSEMARKER-1188",
          form_ref="F-SEAL")
    markers = ["PLANMARKER-7731", "GOALMARKER-9912", "REASONMARKER-4410",
               "PURPOSEMARKER-1188", "Kees Markernaam", "kees.marker"]
    bdir = os.path.join(d.dir, "backup")
    r = d.admin("backup", bdir)
    check(r.rc == 0, "backup: %r" % r)
    d.stop()
    sealed_marker_free(os.path.join(d.data_dir, "data.mdb"), markers)
    sealed_marker_free(os.path.join(bdir, "data.mdb"), markers)
    # The backup is a whole store: with the key it opens and serves.
    b = Daemon("sealed-restore", data_dir=bdir)
    shutil.copy(os.path.join(d.dir, "store.key"),
                os.path.join(b.dir, "store.key"))
    b.extra_ini = "[store]\nkey = %s\n" % os.path.join(d.dir, "store.key")
    b.start()
    r = cli_ok(b, "wmo", "plan", "show", hh)
    check("PLANMARKER-7731" in r.out, "the restored plan: %r" % r.out[:300])
    b.stop()


def start_fails(d, want):
    d.start(wait=False)
    try:
        d.proc.wait(30)
    except subprocess.TimeoutExpired:
        fail("daemon %s started although %s" % (d.name, want))
    d.proc_done()
    log = d.log_since_start()
    check(re.search(want, log), "start refused without saying %r:\n%s"
          % (want, d.log_tail()))


@test
def store_key_is_required_and_checked():
    d = Daemon("key").start()
    hh = new_household(d)
    d.stop()
    key = os.path.join(d.dir, "store.key")
    # world-readable
    os.chmod(key, 0o644)
    start_fails(d, r"mode 0644")
    os.chmod(key, 0o600)
    # missing
    d.extra_ini = "[store]\nkey = %s\n" % os.path.join(d.dir, "nokey")
    start_fails(d, r"nokey: No such file")
    # inside the data directory
    inside = os.path.join(d.data_dir, "store.key")
    shutil.copy(key, inside)
    os.chmod(inside, 0o600)
    d.extra_ini = "[store]\nkey = %s\n" % inside
    start_fails(d, r"inside the data directory")
    os.unlink(inside)
    # another key
    other = os.path.join(d.dir, "other.key")
    r = subprocess.run([os.path.join(BUILD, "eenpland"), "genkey", other],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0, "genkey: %r" % r.stderr)
    d.extra_ini = "[store]\nkey = %s\n" % other
    start_fails(d, r"does not open this store")
    # the right one again
    d.extra_ini = ""
    d.start()
    cli_ok(d, "henk", "plan", "show", hh)
    d.stop()


def plan_notes(d, hh):
    p = cli_ok(d, "henk", "plan", "show", hh, json=True).data
    return [n["text"] for n in
            p.get("get_plan", p).get("plan", {}).get("notes", [])]


def rekey_under_traffic(d, hhs, reads, before_stop):
    """Reads (if reads) and notes on hhs over one connection while
    `eenpland rekey` runs with a fresh key; before_stop() runs before the
    traffic stops. Returns the new key's path, the acknowledged notes
    [(hh, text)] and the failed answers."""
    acked, errors = [], []
    stop = threading.Event()

    def traffic():
        n = 0
        with Raw(d, "wmo") as c:
            while not stop.is_set():
                hh = hhs[n % len(hhs)]
                text = "tijdens rekey %d" % n
                try:
                    if reads:
                        r = c.call(req_get_plan(1, hh))
                        if r.code != 0:
                            errors.append(r)
                    r = c.call(req_mutate(2, hh, mut_add_note(1, text)))
                except Exception:
                    return
                if r.code == 0:
                    acked.append((hh, text))
                else:
                    errors.append(r)
                n += 1
    t = threading.Thread(target=traffic)
    t.start()
    time.sleep(0.3)
    new = os.path.join(d.dir, "new.key")
    r = subprocess.run([os.path.join(BUILD, "eenpland"), "genkey", new],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0, "genkey: %r" % r.stderr)
    r = d.admin("rekey", new)
    check(r.rc == 0 and "rekey done" in r.out, "rekey: %r" % r)
    before_stop()
    stop.set()
    t.join(60)
    return new, acked, errors


@test
def rekey_while_serving():
    d = Daemon("rekey").start()
    hhs = [new_household(d) for _ in range(3)]
    for hh in hhs:
        for i in range(5):
            cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien",
                   "--text", "notitie %d" % i)
    before = {hh: plan_notes(d, hh) for hh in hhs}
    new, acked, errors = rekey_under_traffic(d, hhs, True,
                                             lambda: time.sleep(0.3))
    check(not errors, "%d failed answers during the rekey, first %r"
          % (len(errors), errors[:3]))
    d.stop()
    # The old key opens the store no more; the new one does.
    start_fails(d, r"does not open this store")
    d.extra_ini = "[store]\nkey = %s\n" % new
    d.start()
    for hh in hhs:
        notes = plan_notes(d, hh)
        check(all(n in notes for n in before[hh]), "notes lost in the rekey")
        lost = [x for h, x in acked if h == hh and x not in notes]
        check(not lost, "%s: %d acknowledged notes lost" % (hh, len(lost)))
    d.stop()
    r = d.admin("audit", "verify")
    check(r.rc == 0 and "OK" in r.out, "verify after rekey: %r" % r)
    # Every value once, in order, under its own key (the old rekey lost
    # bodies of plans in overflow pages, and wrote a key twice).
    r = d.admin("store", "verify")
    check(r.rc == 0 and "\nstore OK: " in "\n" + r.out
          and " 3 households" in r.out, "store verify after rekey: %r" % r)


@test
def rekey_beside_the_log_survives_a_power_cut():
    """A rekey commits beside a daemon that writes through its log: its
    commits are in no log, so it flushes and checkpoints after them, and the
    daemon does the same before committing on top of one. A power cut right
    after (kill -9, then another boot): the replay starts from a checkpoint
    that holds the rekey, and the store opens under the new key with every
    acknowledged note."""
    d = Daemon("rekeycut", extra_ini="[store]\nwrite_ahead_log = on\ncheckpoint_ms = 60000\n")
    d.start()
    hhs = [new_household(d) for _ in range(3)]

    def cut():
        time.sleep(0.5)
        d.kill9()
    new, acked, _ = rekey_under_traffic(d, hhs, False, cut)
    check("committed by another process: checkpointed" in d.log(),
          "the daemon did not checkpoint the rekey's commits before its own:"
          "\n%s" % d.log_tail())
    d.env["EENPLAN_TEST_BOOT_ID"] = "another-boot"
    d.extra_ini += "[store]\nkey = %s\n" % new
    d.start()
    check("restored to its checkpoint" in d.log_since_start(),
          "no replay after the power cut:\n%s" % d.log_tail())
    for hh in hhs:
        notes = plan_notes(d, hh)
        lost = [x for h, x in acked if h == hh and x not in notes]
        check(not lost, "%s: %d acknowledged notes lost, e.g. %r"
              % (hh, len(lost), lost[:3]))
    d.stop()
    r = d.admin("audit", "verify")
    check(r.rc == 0 and "OK" in r.out, "verify after the replay: %r" % r)


def mut_goal_status(goal_id, status):
    return f_bytes(2, f_varint(1, goal_id) + f_varint(2, status))


@test
def write_quota_keeps_others_writable():
    """The 948 KB goal-toggle attack: one regisseur toggles a goal of a
    ~900 KB plan as fast as it can; its writes hit write_rate, the store
    grows by little, and another household stays writable."""
    d = Daemon("quota", limits={"write_rate": 262144,
                                "write_burst": 8388608}).start()
    big = new_household(d)
    other = new_household(d, as_name="wmo2")
    text = "x" * 3990
    with Raw(d, "wmo") as c:
        r = c.call(req_mutate(1, big, mut_add_goal(4, "Te wisselen doel")))
        eq(r.code_name, "OK", "goal")
        goal = pb_get(pb_decode(r.body), 2, b"\x00")[0]   # packed, < 128
        for i in range(4):
            r = c.call(req_mutate(2 + i, big, *[mut_add_note(1, text)
                                                for _ in range(56)]))
            eq(r.code_name, "OK", "notes batch %d" % i)
    size0 = os.path.getsize(os.path.join(d.data_dir, "data.mdb"))
    stop = threading.Event()
    res = {"ok": 0, "quota": 0, "other": []}

    def attack():
        st = [2, 1]      # achieved, open
        n = 0
        with Raw(d, "wmo") as c:
            while not stop.is_set():
                r = c.call(req_mutate(100 + n, big, mut_goal_status(
                    goal, st[n % 2])))
                if r.code == 0:
                    res["ok"] += 1
                    n += 1
                elif r.code == 8 and "write_rate" in r.message:
                    res["quota"] += 1
                else:
                    res["other"].append(r)
                    return
    t = threading.Thread(target=attack)
    t.start()
    other_ok = 0
    end = time.monotonic() + 6
    with Raw(d, "wmo2") as c:
        i = 0
        while time.monotonic() < end:
            r = c.call(req_mutate(1000 + i, other, mut_add_note(1, "ok %d"
                                                                % i)))
            eq(r.code_name, "OK", "the other household's write %d" % i)
            other_ok += 1
            i += 1
            time.sleep(0.05)
    stop.set()
    t.join(60)
    eq(res["other"], [], "attacker answers other than OK or write_rate")
    check(res["quota"] > 0, "the attacker never hit write_rate (%d OK)"
          % res["ok"])
    check(other_ok >= 50, "other household wrote only %d times" % other_ok)
    grown = os.path.getsize(os.path.join(d.data_dir, "data.mdb")) - size0
    # Without deltas each toggle stored the whole plan twice (~1.9 MB).
    check(grown < 64 * 1024 * 1024, "store grew %d bytes in %d toggles"
          % (grown, res["ok"]))
    d.stop()


def flip_in_file(path, needle, offset, follow=None):
    """Flips the byte at offset from every occurrence of needle (followed
    by `follow` when given) in path. Returns the number flipped."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    n = 0
    start = 0
    while True:
        i = raw.find(needle + (follow or b""), start)
        if i < 0:
            break
        raw[i + offset] ^= 0x20
        n += 1
        start = i + 1
    with open(path, "wb") as f:
        f.write(raw)
    return n


def store_verify(d, problems):
    """`eenpland store verify` on d's store: passes when problems is None,
    else fails naming each of problems (substrings of its DATA LOSS lines)."""
    r = d.admin("store", "verify")
    if problems is None:
        check(r.rc == 0 and "\nstore OK: " in "\n" + r.out
              and "DATA LOSS" not in r.err, "store verify: %r" % r)
        return
    check(r.rc == 1 and "\nstore DAMAGED: " in "\n" + r.out,
          "store verify of a damaged store: %r" % r)
    for p in problems:
        check(p in r.err, "store verify did not name %r: %r" % (p, r))


@test
def damaged_keys_are_data_loss():
    d = Daemon("damage").start()
    hh = new_household(d)
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
           "schulden")
    grant(d, "wmo", hh, "lev", "read", form_ref="F-DMG")
    for i in range(9):
        cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien",
               "--text", "versie %d" % (i + 3))
    store_verify(d, None)       # beside the running daemon (its snapshot)
    d.stop()
    store_verify(d, None)
    good = os.path.join(d.dir, "good")
    shutil.copytree(d.data_dir, good)
    hh16 = bytes.fromhex(hh)
    # A delta key (hh16 | version 5, its value sealed: 0x02 follows).
    n = flip_in_file(os.path.join(d.data_dir, "data.mdb"),
                     hh16 + struct.pack(">Q", 5), 20, b"\x02")
    check(n >= 1, "delta key of version 5 not found")
    store_verify(d, ["database delta, key %s0000000000000005: missing, "
                     "though counted" % hh,
                     "database delta, key %s0000000020000005: past what"
                     % hh])
    d.start()
    r = cli(d, "henk", "history", hh, "--limit", "50")
    check(r.rc != 0 and "DATA_LOSS" in r.err,
          "history over a damaged version key: %r" % r)
    r = cli(d, "henk", "plan", "show", hh, "--version", "7")
    check(r.rc != 0 and "DATA_LOSS" in r.err,
          "plan at version 7 over a damaged version 5: %r" % r)
    cli_ok(d, "henk", "plan", "show", hh)      # the current body is whole
    d.stop()
    # A principals index key (ihash16 | hh16, its CRC frame follows).
    shutil.rmtree(d.data_dir)
    shutil.copytree(good, d.data_dir)
    n = flip_in_file(os.path.join(d.data_dir, "data.mdb"), hh16, -4,
                     b"\x01\x00\x00\x00")
    check(n >= 3, "index entries of the household: %d" % n)
    store_verify(d, ["database pidx, key "])
    d.start()
    for who in ("wmo", "henk", "lev"):
        r = cli(d, who, "households", json=True)
        if r.rc == 0:
            fail("%s listed households over a damaged index: %r" % (who, r))
        check("DATA_LOSS" in r.err, "%s: %r" % (who, r))
    d.stop()
    # A standing record's key: the household must not read as missing.
    shutil.rmtree(d.data_dir)
    shutil.copytree(good, d.data_dir)
    n = flip_in_file(os.path.join(d.data_dir, "data.mdb"), hh16, 15,
                     b"\x02")
    check(n >= 1, "no sealed value after the household id")
    store_verify(d, ["database hh, key ", "key %s0000000000000001: kept "
                     "without its household's standing record" % hh])
    d.start()
    r = cli(d, "henk", "plan", "show", hh)
    check(r.rc != 0 and "DATA_LOSS" in r.err,
          "plan of a household with a damaged record key: %r" % r)
    d.stop()


def block_writes(pid):
    """Bytes the process has sent to the block layer so far: the kernel
    counts a whole cached folio each time one of its pages is dirtied."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    fail("no write_bytes for the daemon")


@test
def commits_write_back_only_the_pages_they_change():
    """A store whose data file sits in the page cache in large folios (here:
    copied with 1 MB writes just before the start, as a restore or cp does;
    the kernel also makes them on readahead and for LMDB's runs of new pages
    at the end of the file) must not have each commit write those folios
    back whole. Before the store kept its page cache in folios of one page
    (store_env.c, store_cache_reset), each MutatePlan here sent ~2.4 MB to
    the disk (Linux 6.18, ext4); now ~60 KB."""
    d = Daemon("folios", limits={"write_rate": 1073741824,
                                 "write_burst": 4294967296}).start()
    hhs = [new_household(d) for _ in range(8)]
    hh = new_household(d)       # the one measured: a small plan
    with Raw(d, "wmo") as c:
        # A few MB of store, so the copy's folios are large.
        rid = 1
        for h in hhs:
            for i in range(5):
                r = c.call(req_mutate(rid, h, *[mut_add_note(1, "n" * 3900)
                                                for _ in range(20)]))
                eq(r.code_name, "OK", "filling mutation %d" % rid)
                rid += 1
    d.stop()
    path = os.path.join(d.data_dir, "data.mdb")
    size = os.path.getsize(path)
    check(size >= 2 * 1024 * 1024, "store only %d bytes" % size)
    tmp = path + ".copy"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while True:
            b = src.read(1 << 20)
            if not b:
                break
            dst.write(b)
    os.rename(tmp, path)
    d.start()
    pid = d.proc.pid
    n = 100
    with Raw(d, "wmo") as c:
        r = c.call(req_mutate(1, hh, mut_add_note(1, "warm")))
        eq(r.code_name, "OK", "first mutation")
        before = block_writes(pid)
        for i in range(n):
            r = c.call(req_mutate(i + 2, hh, mut_add_note(1, "note %d" % i)))
            eq(r.code_name, "OK", "mutation %d" % i)
        after = block_writes(pid)
    per = (after - before) / n
    print("# %d MutatePlan on a %.1f MB store copied just before the start: "
          "%.0f bytes to the disk each" % (n, size / 1e6, per))
    # ~10 pages of data and audit records, the meta page, the log line.
    check(per <= 160 * 1024, "each MutatePlan wrote %.0f bytes to the disk: "
          "whole large folios written back" % per)
    d.stop()
