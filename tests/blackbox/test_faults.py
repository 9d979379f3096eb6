"""Storage faults under a running daemon, made without root: a full disk
(the LD_PRELOAD shim in tests/faults makes writes to data.mdb fail with
ENOSPC while a flag file exists), a data file truncated under it, and a
flush that fails (EIO: the shim again) of the write-ahead log or of a
checkpoint. A full disk is answered RESOURCE_EXHAUSTED naming the disk,
writes resume by themselves when space returns, and the chain verifies; a
truncated file is never a crash without a word: DATA_LOSS, a clear log line
and exit status 1, never SIGBUS; a failed flush stops the daemon (exit 1)
after no unflushed write was acknowledged, and the next start recovers
from the log."""
import os
import signal
import ssl
import time

import harness
from harness import (test, check, eq, fail, skip, Daemon, Raw, plan_json,
                     new_household, req_create, req_get_plan, req_mutate,
                     req_whoami, mut_add_note, created_household, wait_until)


def shim():
    so = os.path.join(harness.BUILD, "tests", "libfaults.so")
    if not os.path.exists(so):
        skip("%s missing (make faults)" % so)
    return so


def preload_env(extra):
    env = {"LD_PRELOAD": shim(),
           # The ASan runtime wants to come first; the shim is plain C.
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                           "detect_stack_use_after_return=0:"
                           "verify_asan_link_order=0"}
    env.update(extra)
    return env


@test
def disk_full_answers_resource_exhausted_and_recovers():
    """... and /readyz names the full disk until a write succeeds again."""
    from test_metrics import http_get, free_port
    flag = os.path.join(harness.RUN_DIR, "disk-full.flag")
    port = free_port()
    d = Daemon("diskfull", env=preload_env({"EENPLAN_FAULT_ENOSPC": flag}),
               extra_ini="[admin]\nlisten = 127.0.0.1:%d\n" % port)
    d.admin_port = port
    d.start()
    eq(http_get(d, "/readyz")[::2], (200, "ok\n"), "/readyz before")
    hh = new_household(d)
    with open(flag, "w"):
        pass
    try:
        with Raw(d, "wmo") as c:
            r = c.call(req_create(1))
            eq(r.code_name, "RESOURCE_EXHAUSTED", "intake on a full disk")
            check("disk full" in r.message, "message: %r" % r.message)
            r = c.call(req_mutate(2, hh, mut_add_note(1, "vol")))
            eq(r.code_name, "RESOURCE_EXHAUSTED", "a change on a full disk")
            check("disk full" in r.message, "message: %r" % r.message)
            # A read needs its audit record on disk first (NEN 7513): it
            # is refused the same way, with the same words; what needs no
            # record is served, and the daemon stays up.
            r = c.call(req_get_plan(3, hh))
            eq(r.code_name, "RESOURCE_EXHAUSTED", "a plan read")
            check("disk full" in r.message, "message: %r" % r.message)
            eq(c.call(req_whoami(4)).code, 0, "WhoAmI on a full disk")
        # The log thread writes the line; the answer may be here first.
        harness.wait_until(lambda: "disk full" in d.log_since_start(), 10,
                           "'disk full' in the log")
        check(d.alive(), "the daemon died on a full disk")
        st, _, body = http_get(d, "/readyz")
        eq(st, 503, "/readyz on a full disk: %r" % body)
        check("store: the last write transaction failed: disk full" in body,
              "/readyz names the full disk: %r" % body)
    finally:
        os.unlink(flag)
    # Space is back: writes go on by themselves, no restart.
    with Raw(d, "wmo") as c:
        r = c.call(req_mutate(1, hh, mut_add_note(1, "weer ruimte")))
        eq(r.code, 0, "a change once space is back: %r" % r)
        created_household(c.call(req_create(2)))
    notes = [n.get("text") for n in plan_json(d, "wmo", hh).get("notes", [])]
    eq(notes, ["weer ruimte"], "notes after recovery (the refused one is "
       "not there)")
    eq(http_get(d, "/readyz")[::2], (200, "ok\n"), "/readyz once space is "
       "back")
    d.stop()
    r = d.admin("audit", "verify")
    eq(r.rc, 0, "audit chain after a full disk: %r" % (r,))


def wait_exit(d, timeout=20):
    try:
        d.proc.wait(timeout * harness.SLOW)
    except Exception:
        fail("daemon still running %d s after its data file was truncated;"
             " log:\n%s" % (timeout, d.log_tail()))
    rc = d.proc.returncode
    d.proc_done()
    return rc


def truncated(name, request_at_once):
    d = Daemon(name).start()
    hhs = [new_household(d) for _ in range(30)]
    with Raw(d, "wmo") as c:
        for i, hh in enumerate(hhs):
            c.call(req_mutate(i + 1, hh, mut_add_note(1, "x" * 2000)))
    time.sleep(0.3)
    data = os.path.join(d.data_dir, "data.mdb")
    size = os.path.getsize(data)
    check(size > 64 * 1024, "store too small for the test (%d)" % size)
    answers = []
    if request_at_once:
        c = Raw(d, "wmo")
        os.truncate(data, 16384)
        # Straight after: reads race the guard's check.
        try:
            try:
                for i, hh in enumerate(hhs):
                    c.send_frame(req_get_plan(i + 1, hh))
            except (ssl.SSLError, OSError):
                pass    # the guard was quicker: the daemon has stopped
            try:
                frames, how = c.outcome(timeout=10)
                answers = [f.code_name for f in frames]
            except (ssl.SSLError, OSError):
                pass
        finally:
            c.close()
    else:
        os.truncate(data, 16384)
    rc = wait_exit(d)
    log = d.log_since_start()
    check(rc != -signal.SIGBUS and rc >= 0,
          "daemon killed by signal %d; log:\n%s" % (-rc, d.log_tail()))
    eq(rc, 1, "exit status after the truncation")
    check("data file truncated under the running daemon" in log,
          "no clear line in the log:\n%s" % d.log_tail())
    for a in answers:
        check(a in ("OK", "DATA_LOSS", "UNAVAILABLE"),
              "answer %s to a read of a truncated store" % a)
    d.check_log()
    # And it stays refused, with the same words, until restored.
    d.start(wait=False)
    rc2 = wait_exit(d)
    eq(rc2, 1, "restart on the truncated file")
    check("data file truncated" in d.log_since_start(), d.log_tail())
    return answers


@test
def truncated_under_reads_never_sigbus():
    for _ in range(3):
        truncated("trunc-reads", True)


@test
def truncated_while_idle_stops_with_a_word():
    truncated("trunc-idle", False)


def flush_fails(name, files, ini, must_refuse, with_log=True):
    """A flush of the store's disk fails (EIO) under a running daemon: no
    answer after it says OK to a write that is not durable, the daemon
    stops with a word and exit status 1. With the write-ahead log, wal.mark
    says the next start must not trust the page cache, and that start
    restores the last checkpoint and replays the log; without it, the
    failure is reported once (the next flush succeeds, as Linux's does) and
    must stay final all the same. Every acknowledged write is there after
    the restart, and the audit chain verifies."""
    flag = os.path.join(harness.RUN_DIR, name + ".flag")
    d = Daemon(name, extra_ini=ini)
    data = os.path.realpath(d.data_dir)
    env = {"EENPLAN_FAULT_EIO": flag,
           "EENPLAN_FAULT_EIO_FILES": files % {"data": data}}
    if not with_log:
        env["EENPLAN_FAULT_EIO_ONCE"] = "1"
    d.env = preload_env(env)
    d.start()
    hh = new_household(d)
    acked = []
    with Raw(d, "wmo") as c:
        for i in range(5):
            text = "voor %d" % i
            r = c.call(req_mutate(i + 1, hh, mut_add_note(1, text)))
            eq(r.code, 0, "a change before the fault: %r" % r)
            acked.append(text)
    # No checkpoint in flight when the fault begins: the next write begins
    # one (checkpoint_ms is short), its log record flushed first.
    time.sleep(0.5)
    with open(flag, "w"):
        pass
    refused = []
    try:
        # Until the daemon stops: what is answered OK must survive.
        try:
            with Raw(d, "wmo") as c:
                for i in range(200):
                    text = "tijdens %d" % i
                    c.send_frame(req_mutate(100 + i, hh,
                                            mut_add_note(1, text)))
                    r = c.recv_frame(10)
                    if r is None:
                        break
                    if r.code == 0:
                        check(not refused, "OK after a refusal: %r" % r)
                        acked.append(text)
                    else:
                        refused.append(r.code_name)
                    time.sleep(0.02)
        except (ssl.SSLError, OSError):
            pass    # the daemon stopped under the connection
        rc = wait_exit(d)
    finally:
        if os.path.exists(flag):
            os.unlink(flag)
    log = d.log_since_start()
    eq(rc, 1, "exit status after the failed flush; log:\n%s" % d.log_tail())
    check("a write or flush of the store failed: stopping" in log,
          "no clear line in the log:\n%s" % d.log_tail())
    # A failed log flush refuses the write it was for; after a failed
    # checkpoint the daemon may stop before the next write comes.
    check(refused or not must_refuse,
          "no write was refused before the daemon stopped")
    for a in refused:
        check(a in ("INTERNAL", "UNAVAILABLE"), "refusal %s" % a)
    d.check_log()
    if with_log:
        with open(os.path.join(d.data_dir, "wal.mark")) as f:
            mark = f.read()
        check(mark.startswith("failed "),
              "wal.mark after the failure: %r" % mark)
    else:
        check("a flush of the data file failed" in log and
              "reads the store as the disk holds it" in log,
              "the failure or its action not said:\n%s" % d.log_tail())
    # Started again on this boot, the flush working: recovered from the
    # log, not from the page cache.
    d.env = {}
    d.start()
    if with_log:
        check("restored to its checkpoint" in d.log_since_start(),
              "the restart did not recover from the log:\n%s"
              % d.log_tail())
    notes = [n.get("text") for n in plan_json(d, "wmo", hh).get("notes", [])]
    eq(notes[:len(acked)], acked, "acknowledged notes after the restart")
    d.stop()
    r = d.admin("audit", "verify")
    eq(r.rc, 0, "audit chain after the failed flush: %r" % (r,))
    return acked


@test
def failed_log_flush_stops_and_recovers():
    acked = flush_fails("eio-log", "wal.0,wal.1",
                        "[store]\nwrite_ahead_log = on\n", True)
    eq(len(acked), 5, "a write answered OK though its log flush failed")


@test
def failed_checkpoint_stops_and_recovers():
    """The checkpoint's flush of the data file fails: the writes logged
    and flushed meanwhile were answered, and come back by replay."""
    acked = flush_fails("eio-ckpt", "%(data)s/data.mdb",
                        "[store]\nwrite_ahead_log = on\ncheckpoint_ms = 50\n",
                        False)
    check(len(acked) > 5, "no write answered between the failed checkpoint "
          "and the stop: the test shows nothing (%d)" % len(acked))


@test
def failed_flush_without_the_log_is_final():
    """Without the write-ahead log a commit flushes the data file itself,
    and its meta page is durable only with the next flush. That flush
    fails once (EIO) and the one after it succeeds: the daemon must not
    take the success for the lost pages — no write is answered OK after
    the failure, nothing more is committed, and it stops."""
    acked = flush_fails("eio-nolog", "%(data)s/data.mdb",
                        "[store]\nwrite_ahead_log = off\n", True,
                        with_log=False)
    eq(len(acked), 5, "a write answered OK after the failed flush")
