"""eenpland restore BACKUP_DIR: a backup taken under write load restores
into a new data directory, a daemon starts on it, and it holds every plan
it had as that plan was at some acknowledged version (never less than what
was acknowledged before the backup began) and an intact audit chain that
is a prefix of the source's. A restore never overwrites a live store."""
import os
import random
import re
import threading
import time

import harness
from harness import (test, check, eq, fail, Daemon, Raw, free_port,
                     req_create, req_get_plan, req_mutate, mut_add_note,
                     created_household, pb_decode, pb_get)


def plan_bytes(c, rid, hh, version=0):
    """(version, the packed Plan) of a GetPlanResponse."""
    r = c.call(req_get_plan(rid, hh, version))
    check(r.code == 0 and r.body_field == 12, "GetPlan %s v%d: %r"
          % (hh, version, r))
    plan = pb_get(pb_decode(r.body), 1, b"")
    return pb_get(pb_decode(plan), 2, 0), plan


def unstarted(name, data_dir, key):
    """A daemon's config, written but not started (for admin commands)."""
    d = Daemon(name, data_dir=data_dir,
               extra_ini="[store]\nkey = %s\n" % key)
    d.port = free_port()
    d.write_conf()
    return d


@test
def restore_backup_taken_under_load():
    src = Daemon("restore-src").start()
    key = os.path.join(src.dir, "store.key")
    hhs = []
    with Raw(src, "wmo") as c:
        for i in range(24):
            hhs.append(created_household(c.call(req_create(i + 1))))
    lock = threading.Lock()
    acked = {hh: 1 for hh in hhs}     # household -> highest acknowledged
    stop = threading.Event()
    errors = []

    def writer(seed):
        rnd = random.Random(seed)
        rid = 0
        try:
            with Raw(src, "wmo", timeout=20) as c:
                while not stop.is_set():
                    rid += 1
                    if rnd.random() < 0.05:
                        hh = created_household(c.call(req_create(rid)))
                        with lock:
                            hhs.append(hh)
                            acked[hh] = 1
                        continue
                    with lock:
                        hh = rnd.choice(hhs)
                    r = c.call(req_mutate(rid, hh, mut_add_note(
                        1 + rnd.randrange(13), "notitie %d-%d" % (seed, rid))))
                    if r.code != 0:
                        errors.append(repr(r))
                        return
                    v = pb_get(pb_decode(r.body), 1, 0)
                    with lock:
                        acked[hh] = max(acked[hh], v)
        except Exception as e:          # the test fails below
            errors.append("%s: %s" % (type(e).__name__, e))

    ts = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    time.sleep(1.5)
    with lock:
        before = dict(acked)          # acknowledged before the backup began
    backup = os.path.join(harness.RUN_DIR, "restore-backup")
    r = src.admin("backup", backup)
    eq(r.rc, 0, "backup under load: %r" % (r,))
    time.sleep(1.0)
    stop.set()
    for t in ts:
        t.join()
    check(not errors, "writers failed: %s" % errors[:3])
    check(sum(before.values()) > len(before) + 50,
          "too little load before the backup: %d" % sum(before.values()))

    # Never over a live store: the source's own data_dir, a daemon on it.
    live = unstarted("restore-live", src.data_dir, key)
    r = live.admin("restore", backup)
    eq(r.rc, 1, "restore over a running daemon's store: %r" % (r,))
    check("a daemon runs on" in r.err, r.err)
    # Nor into a directory that holds anything.
    full = os.path.join(harness.RUN_DIR, "restore-full")
    os.makedirs(full)
    with open(os.path.join(full, "data.mdb"), "w") as f:
        f.write("an older store\n")
    r = unstarted("restore-nonempty", full, key).admin("restore", backup)
    eq(r.rc, 1, "restore into a non-empty data_dir: %r" % (r,))
    check("is not empty" in r.err, r.err)
    with open(os.path.join(full, "data.mdb")) as f:
        eq(f.read(), "an older store\n", "the non-empty data_dir untouched")
    # Nor with another key: nothing is kept.
    other = os.path.join(harness.RUN_DIR, "restore-otherkey")
    okey = os.path.join(harness.RUN_DIR, "other.key")
    harness.sh("sh", "-c", "umask 077 && openssl rand -hex 32 > %s" % okey)
    r = unstarted("restore-otherkey", other, okey).admin("restore", backup)
    eq(r.rc, 1, "restore under another key: %r" % (r,))
    check(not os.path.exists(os.path.join(other, "data.mdb")),
          "a store that does not open was kept")

    # Into a new data directory.
    new = os.path.join(harness.RUN_DIR, "restore-new", "data")
    os.makedirs(os.path.dirname(new))
    dst = unstarted("restore-dst", new, key)
    r = dst.admin("restore", backup)
    eq(r.rc, 0, "restore into a new data_dir: %r" % (r,))
    m = re.search(r"head (\d+:[0-9a-f]{64})", r.out)
    check("restored" in r.out and m, r.out)
    rhead = m.group(1)
    eq(dst.admin("audit", "head").out.strip(), rhead, "head printed")
    eq(oct(os.stat(os.path.join(new, "data.mdb")).st_mode & 0o777),
       oct(0o600), "mode of the restored data file")
    dst.start()
    # Every plan, as it was at some acknowledged version at or after what
    # was acknowledged before the backup began, the same bytes as the
    # source has for that version.
    with Raw(dst, "wmo") as cd, Raw(src, "wmo") as cs:
        rid = 0
        present = 0
        for hh in sorted(acked):
            rid += 1
            r = cd.call(req_get_plan(rid, hh))
            if r.code != 0:
                check(hh not in before, "household %s acknowledged before "
                      "the backup is missing: %r" % (hh, r))
                continue
            present += 1
            v, got = plan_bytes(cd, rid + 100000, hh)
            if hh in before:
                check(v >= before[hh], "%s restored at version %d, %d was "
                      "acknowledged before the backup" % (hh, v, before[hh]))
            check(v <= acked[hh], "%s at version %d, never acknowledged "
                  "(last %d)" % (hh, v, acked[hh]))
            _, want = plan_bytes(cs, rid + 200000, hh, v)
            check(got == want, "%s version %d differs from the source's"
                  % (hh, v))
        check(present >= len(before), "only %d of %d households"
              % (present, len(before)))
    dst.stop()
    src.stop()
    r = dst.admin("audit", "verify")
    eq(r.rc, 0, "audit chain of the restored store: %r" % (r,))
    # Its chain, as restored, is the source's up to where the backup was
    # taken (the daemon on it has gone on since with records of its own).
    r = src.admin("audit", "verify", "--expect", rhead)
    eq(r.rc, 0, "the restored head is on the source's chain: %r" % (r,))
