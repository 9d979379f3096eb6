"""eenpland backup DIR: makes DIR (0700) when it is missing, refuses a
directory that is not empty, and what it writes is a store a daemon runs on."""
import os
import stat

import harness
from harness import test, shared, Daemon, cli_ok, check, eq, new_household


@test
def backup_makes_its_directory():
    d = shared()
    hh = new_household(d)
    dest = os.path.join(harness.RUN_DIR, "backup-new", "eenplan-1")
    os.makedirs(os.path.dirname(dest))
    r = d.admin("backup", dest)
    eq(r.rc, 0, "backup into a missing directory: %r" % (r,))
    st = os.stat(dest)
    check(stat.S_ISDIR(st.st_mode), "%s is not a directory" % dest)
    eq(oct(st.st_mode & 0o777), oct(0o700), "mode of the made directory")
    eq(sorted(os.listdir(dest)), ["data.mdb"], "backup contents")
    # The copy is a store a daemon runs on, with the household in it —
    # given the key file it was sealed under (it is useless without).
    d2 = Daemon("frombackup", data_dir=dest,
                extra_ini="[store]\nkey = %s\n" %
                os.path.join(d.dir, "store.key")).start()
    cli_ok(d2, "wmo", "plan", "show", hh)
    d2.stop()


@test
def backup_refuses_a_directory_that_is_not_empty():
    d = shared()
    dest = os.path.join(harness.RUN_DIR, "backup-full")
    os.makedirs(dest)
    with open(os.path.join(dest, "notes.txt"), "w") as f:
        f.write("older backup\n")
    r = d.admin("backup", dest)
    eq(r.rc, 1, "backup into a directory that is not empty: %r" % (r,))
    check("is not empty" in r.err and dest in r.err, "message: %r" % r.err)
    eq(sorted(os.listdir(dest)), ["notes.txt"], "directory untouched")
    # Twice into the same new directory: the second is refused.
    dest2 = os.path.join(harness.RUN_DIR, "backup-twice")
    eq(d.admin("backup", dest2).rc, 0, "first backup")
    before = os.stat(os.path.join(dest2, "data.mdb")).st_mtime_ns
    r = d.admin("backup", dest2)
    eq(r.rc, 1, "second backup into the same directory")
    eq(os.stat(os.path.join(dest2, "data.mdb")).st_mtime_ns, before,
       "first backup overwritten")


@test
def backup_into_an_empty_directory_or_nowhere():
    d = shared()
    dest = os.path.join(harness.RUN_DIR, "backup-empty")
    os.makedirs(dest, mode=0o700)
    r = d.admin("backup", dest)
    eq(r.rc, 0, "backup into an empty directory: %r" % (r,))
    eq(os.listdir(dest), ["data.mdb"], "contents")
    r = d.admin("backup", os.path.join(harness.RUN_DIR, "no", "such", "dir"))
    eq(r.rc, 1, "backup below a missing parent")
    check("cannot make" in r.err, "message: %r" % r.err)
    f = os.path.join(harness.RUN_DIR, "backup-file")
    open(f, "w").close()
    r = d.admin("backup", f)
    eq(r.rc, 1, "backup onto a file")
