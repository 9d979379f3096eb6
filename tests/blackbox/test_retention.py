"""eenpland purge: the retention purge. A household records its regime at
intake (wmo by default, jeugdwet); purge --closed-before DATE --dry-run
lists and counts, --apply (the daemon stopped) removes the plans of
households closed before DATE and longer ago than their regime's retention
and the audit records older than theirs, puts that on record in the audit
chain, and the change feed tells every partner that could read a purged
household ACCESS_ENDED. Years pass through the fault shim's clock offset
(tests/faults): only the purge process lives in the future."""
import datetime
import json
import os
import re

import harness
from harness import (test, check, eq, fail, skip, Daemon, Raw, cli, cli_ok,
                     cli_refused, new_household, req, f_bytes, f_varint,
                     member, pb_decode, pb_get)

YEAR = 365.2425 * 86400


def shim():
    so = os.path.join(harness.BUILD, "tests", "libfaults.so")
    if not os.path.exists(so):
        skip("%s missing (make faults)" % so)
    return so


def in_years(years):
    """The date years from now, as YYYY-MM-DD."""
    d = datetime.datetime.utcnow() + datetime.timedelta(days=365.2425 * years)
    return d.strftime("%Y-%m-%d")


def purge(d, years_ahead, *args):
    """eenpland purge ARGS, its clock years_ahead years in the future."""
    env = harness._sanitizer_env()
    env["LD_PRELOAD"] = shim()
    env["EENPLAN_FAULT_TIME_OFFSET"] = str(int(years_ahead * YEAR))
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
        ":verify_asan_link_order=0"
    p = harness.subprocess.run(
        [os.path.join(harness.BUILD, "eenpland"), "-f", d.conf, "purge"] +
        list(args), stdout=harness.subprocess.PIPE,
        stderr=harness.subprocess.PIPE, env=env, timeout=120 * harness.SLOW)
    return harness.Result(p.returncode, p.stdout.decode(errors="replace"),
                          p.stderr.decode(errors="replace"), None)


def create_raw(d, regime, as_name="wmo"):
    body = (f_varint(1, 1) + f_bytes(2, member("henk.desmet", "Henk")) +
            f_bytes(3, "TOESTEMMING-RT") + f_bytes(4, regime))
    with Raw(d, as_name) as c:
        return c.call(req(1, 11, body))


def grant_and_close(d, hh):
    cli_ok(d, "wmo", "consent", "grant", hh, "--to", "lev", "--access",
           "read", "--purpose", "Schuldhulp traject", "--form-ref", "F-RT")
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "Schulden bij de energieleverancier")
    cli_ok(d, "wmo", "close", hh, "--reason", "doelen bereikt")


def changes(d, as_name, since=0):
    r = cli_ok(d, as_name, "changes", "--since", str(since), "--limit",
               "200", json=True)
    return r.data


def audit_lines(d):
    r = d.admin("audit", "export")
    eq(r.rc, 0, "audit export: %r" % (r,))
    return [json.loads(l) for l in r.out.splitlines() if l.strip()]


@test
def retention_regime_recorded_and_checked():
    d = harness.shared()
    r = create_raw(d, "jeugdwet")
    eq(r.code, 0, "intake under the Jeugdwet: %r" % r)
    r = create_raw(d, "wlz")
    eq(r.code_name, "INVALID_ARGUMENT", "an unknown regime")
    check("regime" in r.message, "message: %r" % r.message)


@test
def retention_purge_removes_what_the_law_says():
    shim()
    d = Daemon("purge").start()
    hw = new_household(d)                       # wmo (the default)
    r = create_raw(d, "jeugdwet")
    eq(r.code, 0, "jeugdwet intake")
    hj = pb_get(pb_decode(r.body), 1).decode()
    ha = new_household(d)                       # stays open
    # Another organisation passes signals; it keeps its own copy of each.
    mark_w = "SIGNAAL-WEG-%s" % hw[:8]
    mark_a = "SIGNAAL-BLIJFT-%s" % ha[:8]
    cli_ok(d, "senzer", "signal", "send", hw, "--domain", "financien",
           "--text", mark_w)
    cli_ok(d, "senzer", "signal", "send", hw, "--domain", "werk_opleiding",
           "--text", mark_w + " (werk)")
    cli_ok(d, "senzer", "signal", "send", ha, "--domain", "financien",
           "--text", mark_a)
    sent = cli_ok(d, "senzer", "signals", json=True).data["sent"]
    eq(sorted(x["text"] for x in sent),
       sorted([mark_w, mark_w + " (werk)", mark_a]), "senzer's sent")
    grant_and_close(d, hw)
    grant_and_close(d, hj)
    cli_ok(d, "wmo", "consent", "grant", ha, "--to", "lev", "--access",
           "read", "--purpose", "Schuldhulp traject", "--form-ref", "F-RT")
    before = changes(d, "lev")
    seen = set(e["household_id"] for e in before["events"])
    check(hw in seen and hj in seen, "lev did not see its households")
    last = before["last_seq"]
    # --apply refuses while the daemon runs; --dry-run reads beside it.
    r = purge(d, 16, "--closed-before", in_years(16), "--apply")
    eq(r.rc, 1, "purge --apply beside a running daemon: %r" % (r,))
    check("a daemon runs on" in r.err, r.err)
    r = purge(d, 16, "--closed-before", in_years(16), "--dry-run")
    eq(r.rc, 0, "dry run: %r" % (r,))
    check(re.search(r"due +%s closed .* wmo 15 years: .*, 2 sender copies$"
                    % hw, r.out, re.M), r.out)
    check(re.search(r"keep +%s closed .* jeugdwet 20 years: kept until" % hj,
                    r.out), r.out)
    check(ha not in r.out, "an open household listed:\n%s" % r.out)
    check("would remove: 1 households" in r.out, r.out)
    d.stop()
    head0 = d.admin("audit", "head").out.strip()
    # A date before the closing: nothing is due, whatever the years.
    r = purge(d, 16, "--closed-before", in_years(-1), "--dry-run")
    check("would remove: 0 households" in r.out, r.out)

    r = purge(d, 16, "--closed-before", in_years(16), "--apply")
    eq(r.rc, 0, "purge --apply: %r" % (r,))
    check(re.search(r"purge +%s closed" % hw, r.out), r.out)
    check("removed: 1 households" in r.out, r.out)
    check(re.search(r"removed: 1 households \(.*, 2 sender copies\)", r.out),
          r.out)
    check(re.search(r"audit records older than .* \(5 years\): \d+ \(1\.\.\d+\)"
                    r" removed", r.out), r.out)
    head1 = re.search(r"audit head (\d+:[0-9a-f]{64})", r.out).group(1)
    eq(d.admin("audit", "head").out.strip(), head1, "head printed")
    check(int(head1.split(":")[0]) > int(head0.split(":")[0]),
          "the chain did not grow")
    r = d.admin("audit", "verify", "--expect", head1)
    eq(r.rc, 0, "the chain after the purge: %r" % (r,))
    # What the purge did is on record, with ids and counts, no content.
    recs = audit_lines(d)
    purges = [x for x in recs if x["action"] == "Purge"]
    eq([x["household"] for x in purges], [hw], "Purge records")
    check("regime wmo" in purges[0]["detail"], purges[0]["detail"])
    check("2 sender copies" in purges[0]["detail"], purges[0]["detail"])
    check("energieleverancier" not in json.dumps(recs), "content in a record")
    check("SIGNAAL" not in json.dumps(recs), "a signal's text in a record")
    check(any(x["action"] == "AuditPurge" for x in recs), "no AuditPurge")
    check(all(x["action"] in ("Purge", "AuditPurge") for x in recs),
          "records older than 5 years (at the purge's clock) left: %s"
          % sorted(set(x["action"] for x in recs)))

    # A second run finds nothing more.
    r = purge(d, 16, "--closed-before", in_years(16), "--apply")
    eq(r.rc, 0, "second purge: %r" % (r,))
    check("removed: 0 households" in r.out, r.out)

    d.start()
    # The purged household is as unknown as one that never was.
    missing = cli(d, "wmo", "plan", "show", harness.random_hhid())
    gone = cli(d, "wmo", "plan", "show", hw)
    eq((gone.rc, gone.err.split(":")[1:2]),
       (missing.rc, missing.err.split(":")[1:2]), "purged vs never existed")
    cli_ok(d, "wmo", "plan", "show", hj)
    cli_ok(d, "wmo", "plan", "show", ha)
    # The partner is told to drop its copy, and only of that household.
    after = changes(d, "lev", last)
    kinds = [(e["household_id"], e["kind"]) for e in after["events"]]
    eq(kinds, [(hw, "CHANGE_ACCESS_ENDED")], "lev's feed after the purge")
    # From the start the feed still reads (no hole, no DATA_LOSS), and
    # shows nothing of the purged household but that.
    full = changes(d, "lev", 0)
    eq([e["kind"] for e in full["events"] if e["household_id"] == hw],
       ["CHANGE_ACCESS_ENDED"], "lev's whole feed for the purged household")
    # Who never could read it is told nothing.
    other = changes(d, "senzer", 0)
    check(all(e["household_id"] != hw for e in other["events"]),
          "senzer learns of a household it never saw")
    # The household itself (a member) was a reader too.
    mine = changes(d, "henk", last)
    check((hw, "CHANGE_ACCESS_ENDED") in
          [(e["household_id"], e["kind"]) for e in mine["events"]],
          "the member is not told")
    # Its caseload listing no longer has it.
    r = cli_ok(d, "lev", "households", json=True)
    check(hw not in json.dumps(r.data), "still listed for lev")
    # The sender of its signals holds no copy of them any more; what it
    # sent about a household that stays, it keeps.
    r = cli_ok(d, "senzer", "signals", json=True)
    check(mark_w not in json.dumps(r.data),
          "senzer still has its signal about the purged household: %r"
          % r.data["sent"])
    eq([x["text"] for x in r.data["sent"]], [mark_a], "senzer's sent")
    r = cli_ok(d, "senzer", "signals", hw, json=True)
    eq(r.data["signals"], [], "senzer: signals of the purged household")
    d.stop()
    eq(d.admin("audit", "verify").rc, 0, "chain at the end")
