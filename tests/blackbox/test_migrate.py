"""A store of the first release (schema 1, tests/fixtures/schema1, made by
fa0a3bf's eenpland) migrates in place at start: every plan at every version,
the history, every grant and every audit record read back identically, the
chain verifies, and nothing of the old plaintext is left in the file."""
import json
import os
import shutil

from harness import test, Daemon, check, eq, ROOT
import migratelib

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "schema1")


def fixture_daemon(name):
    d = Daemon(name)
    shutil.copy(os.path.join(FIXTURE, "data.mdb"),
                os.path.join(d.data_dir, "data.mdb"))
    os.chmod(os.path.join(d.data_dir, "data.mdb"), 0o600)
    return d


@test
def schema1_store_reads_back_identically():
    with open(os.path.join(FIXTURE, "expected.json")) as f:
        exp = json.load(f)
    with open(os.path.join(FIXTURE, "audit.jsonl")) as f:
        audit_before = f.read().splitlines()
    d = fixture_daemon("migrate")
    d.start()
    got = migratelib.dump(d, exp["reader"], exp["households"])
    for hh in exp["households"]:
        want = exp["data"][hh]
        have = got[hh]
        eq(sorted(have["plans"]), sorted(want["plans"]), "%s versions" % hh)
        for v in want["plans"]:
            eq(have["plans"][v], want["plans"][v], "%s plan at version %s"
               % (hh, v))
        eq(have["history"], want["history"], "%s history" % hh)
        eq(have["grants"], want["grants"], "%s grants" % hh)
    d.stop()
    r = d.admin("audit", "verify")
    check(r.rc == 0 and "OK" in r.out, "audit verify after migration: %r" % r)
    r = d.admin("audit", "export")
    check(r.rc == 0, "audit export: %r" % r)
    after = r.out.splitlines()
    check(len(after) >= len(audit_before), "export has %d records, the old "
          "store %d" % (len(after), len(audit_before)))
    for i, line in enumerate(audit_before):
        eq(json.loads(after[i]), json.loads(line), "audit record %d" % (i + 1))
    # The migrated file holds no plaintext of the old store any more.
    with open(os.path.join(d.data_dir, "data.mdb"), "rb") as f:
        raw = f.read()
    check(b"MARKER-SCHEMA1-NOTE" not in raw, "old plaintext left in data.mdb")
    check(b"Henk de Smet" not in raw, "a member's name in clear in data.mdb")
    check(b"households" not in raw and b"versions" not in raw,
          "schema-1 databases left in data.mdb")
    # A second start finds schema 2 and reads the same.
    d.start()
    got2 = migratelib.dump(d, exp["reader"], exp["households"][:1])
    eq(got2[exp["households"][0]]["plans"],
       exp["data"][exp["households"][0]]["plans"], "after a restart")
    d.stop()


@test
def schema1_migration_cut_off_goes_on():
    """A migration killed half-way goes on at the next start."""
    with open(os.path.join(FIXTURE, "expected.json")) as f:
        exp = json.load(f)
    d = fixture_daemon("migrate-cut")
    d.extra_ini = "[store]\nmigrate_batch = 2\n"
    os.environ["EENPLAN_TEST_MIGRATE_CRASH_AFTER"] = "3"
    try:
        d.start(wait=False)
        d.proc.wait(60)
    finally:
        del os.environ["EENPLAN_TEST_MIGRATE_CRASH_AFTER"]
    eq(d.proc.returncode, 9, "the test crash's exit status")
    check("test crash after 3" in d.log_since_start(), "no test crash: %s"
          % d.log_tail())
    d.proc_done()
    d.start()
    got = migratelib.dump(d, exp["reader"], exp["households"])
    for hh in exp["households"]:
        eq(got[hh]["plans"], exp["data"][hh]["plans"], "%s plans" % hh)
        eq(got[hh]["history"], exp["data"][hh]["history"], "%s history" % hh)
        eq(got[hh]["grants"], exp["data"][hh]["grants"], "%s grants" % hh)
    d.stop()
    r = d.admin("audit", "verify")
    check(r.rc == 0 and "OK" in r.out, "audit verify: %r" % r)
