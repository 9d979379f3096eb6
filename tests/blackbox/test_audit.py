"""Audit (NEN 7513; DESIGN.md "Audit", daemon/op_audit.c): what each operation
records, who reads which records, the operator's verify and export, a full
store, and the household's afschrift."""
import json as jsonlib
import os
import subprocess
import re
import shutil
import struct
import threading
import zlib

from harness import (test, shared, Daemon, Raw, cli, cli_ok, cli_refused,
                     new_household, plan_json, check, eq, fail, free_port,
                     req_get_plan, req_mutate, mut_add_note, raw_loop)
from consentlib import (audit_records, denied_like_missing, grant,
                        mut)


def brief(recs):
    """(action, actor org, actor subject as shown, role, outcome) per record."""
    return [(r["action"], r["actor"]["org"], r["actor"].get("subject", ""),
             r["actor"]["role"], r["outcome"]) for r in recs]


WMO = ("gemeente", "a.devries", "ROLE_PROFESSIONAL")
HENK = ("burgers", "henk.desmet", "ROLE_CLIENT")
# op_audit.c: the household sees a partner professional's organisation and
# role, not the person.
SAVANT = ("savant", "", "ROLE_PROFESSIONAL")


@test
def every_operation_recorded_in_order():
    d = shared()
    hh = new_household(d)
    mut(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
        "Schulden stabiliseren")
    cli_ok(d, "henk", "plan", "show", hh)
    cli_refused(d, "savant", "PERMISSION_DENIED", "plan", "show", hh)
    gid = grant(d, "henk", hh, "lev/s.bakker", "read", purpose="bb-audit")
    cli_ok(d, "henk", "consent", "list", hh)
    cli_ok(d, "henk", "consent", "revoke", hh, gid)
    want = [("CreateHousehold",) + WMO + ("OK",),
            ("MutatePlan",) + WMO + ("OK",),
            ("GetPlan",) + HENK + ("OK",),
            ("GetPlan",) + SAVANT + ("PERMISSION_DENIED",),
            ("GrantConsent",) + HENK + ("OK",),
            ("ListConsent",) + HENK + ("OK",),
            ("RevokeConsent",) + HENK + ("OK",)]
    recs = audit_records(d, "henk", hh)
    eq(brief(recs), want, "henk's access log")
    # Reading the log is itself recorded: the next read shows the first.
    recs2 = audit_records(d, "henk", hh)
    eq(brief(recs2), want + [("QueryAudit",) + HENK + ("OK",)],
       "henk's access log, read again")
    eq([r["seq"] for r in recs2[:len(recs)]], [r["seq"] for r in recs],
       "sequence numbers of the same records")
    seqs = [int(r["seq"]) for r in recs2]
    eq(seqs, sorted(set(seqs)), "sequence numbers ascend")
    times = [int(r["time"]) for r in recs2]
    eq(times, sorted(times), "times ascend")
    for r in recs2:
        eq(r["household_id"], hh, "household of record %s" % r["seq"])
        check(len(r.get("hash", "")) == 64 and len(r.get("prev_hash", "")) == 64,
              "record %s lacks its hashes: %r" % (r["seq"], r))
        check(not r.get("peer") and not r.get("cert_serial"),
              "the household sees an auditor's field: %r" % r)
    check(str(gid) in recs[4]["detail"] and str(gid) in recs[6]["detail"],
          "grant id missing in the consent records: %r" % recs[4:7])
    check("version 2" in recs[2]["detail"], "GetPlan detail %r" % recs[2])
    # Who was refused is visible to the household in the plain output too.
    txt = cli_ok(d, "henk", "audit", hh).out
    check("savant" in txt and "refused" in txt.lower(),
          "henk's audit text lacks savant's refusal:\n%s" % txt)
    # The regisseur reads the same log; an outsider does not.
    eq(brief(audit_records(d, "wmo", hh))[:len(want)], want, "wmo's view")
    denied_like_missing(d, "savant", hh, "audit", hh)
    denied_like_missing(d, "lev", hh, "audit", hh)


@test
def auditor_reads_own_organisation_only():
    d = shared()
    hh = new_household(d)
    grant(d, "wmo", hh, "lev/s.bakker", "read", purpose="schuldhulp",
          form_ref="FORM-A1")
    grant(d, "wmo", hh, "senzer/m.vandijk", "read", purpose="werk",
          form_ref="FORM-A2")
    cli_ok(d, "lev", "plan", "show", hh)
    cli_ok(d, "lev", "history", hh)
    cli_ok(d, "senzer", "plan", "show", hh)
    cli_ok(d, "wmo", "plan", "show", hh)
    recs = audit_records(d, "privacy-lev", hh, org=True)
    eq(sorted(set(r["actor"]["org"] for r in recs)), ["lev"],
       "organisations in privacy-lev's view of the household")
    mine = [(r["action"], r["actor"]["subject"], r["outcome"]) for r in recs
            if r["household_id"] == hh]
    eq(mine, [("GetPlan", "s.bakker", "OK"), ("GetHistory", "s.bakker", "OK")],
       "s.bakker's records as privacy-lev sees them")
    check(all(r.get("cert_serial") for r in recs if r["household_id"] == hh),
          "the auditor does not get the certificate serial: %r" % recs)
    # The whole organisation's log: lev's people only, over all pages.
    allrecs = audit_records(d, "privacy-lev", org=True)
    eq(sorted(set(r["actor"]["org"] for r in allrecs)), ["lev"],
       "organisations in privacy-lev's whole log")
    check(any(r["household_id"] == hh and r["actor"]["subject"] == "s.bakker"
              for r in allrecs), "s.bakker's read is not in the org's log")
    # Its own reading is recorded.
    check(any(r["action"] == "QueryAudit" and
              r["actor"]["subject"] == "privacy.lev" for r in allrecs),
          "privacy-lev's earlier query is not in its log")
    gm = audit_records(d, "privacy-gemeente", hh, org=True)
    eq(sorted(set(r["actor"]["org"] for r in gm)), ["gemeente"],
       "organisations in privacy-gemeente's view")
    check(("CreateHousehold", "a.devries") in
          [(r["action"], r["actor"]["subject"]) for r in gm],
          "privacy-gemeente does not see the intake")
    # Not an auditor: no organisation log.
    for who in ("lev", "wmo", "henk", "lev-systeem", "huisarts"):
        cli_refused(d, who, "PERMISSION_DENIED", "audit", "--org")
    # An auditor never reads the plan.
    denied_like_missing(d, "privacy-lev", hh, "plan", "show", hh)


def verify(d):
    r = d.admin("audit", "verify")
    return r, re.search(r"\bOK\b\D*(\d+)", r.out)


def conf_for(data_dir, name):
    """A Daemon object (not started) with a config over data_dir."""
    c = Daemon(name, data_dir=data_dir)
    c.port = free_port()
    c.write_conf()
    return c


def stored_value(path, db, key):
    """The stored bytes of key in database db of the store at path
    (mdb_dump, from lmdb-utils), or None."""
    p = subprocess.run(["mdb_dump", "-s", db, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    check(p.returncode == 0, "mdb_dump -s %s: %r" % (db, p.stderr))
    lines = p.stdout.decode().splitlines()
    i = lines.index("HEADER=END") + 1
    while i + 1 < len(lines) and lines[i] != "DATA=END":
        if bytes.fromhex(lines[i].strip()) == key:
            return bytes.fromhex(lines[i + 1].strip())
        i += 2
    return None


def tamper(path, seq, how):
    """Damages audit record seq in path/data.mdb. Records are sealed
    (AES-256-GCM, the key outside the data): how = "flip" changes one byte
    of its ciphertext, "swap" puts another record's sealed bytes of the same
    length in its place (valid under the key, but bound to another key).
    Returns how many copies were changed (LMDB may keep stale ones)."""
    f = os.path.join(path, "data.mdb")
    key = struct.pack(">Q", seq)
    val = stored_value(path, "log", key)
    check(val is not None and len(val) > 33 and val[0] == 2,
          "record %d is not a sealed value in the copy" % seq)
    new = bytearray(val)
    if how == "flip":
        new[40] ^= 0x01
    else:
        other = None
        for s2 in range(1, seq + 40):
            v2 = stored_value(path, "log", struct.pack(">Q", s2))
            if s2 != seq and v2 is not None and len(v2) == len(val):
                other = v2
                break
        if other is None:
            return 0
        new = bytearray(other)
    with open(f, "rb") as fh:
        raw = fh.read()
    n = raw.count(val)
    raw = raw.replace(val, bytes(new))
    with open(f, "wb") as fh:
        fh.write(raw)
    return n


@test
def verify_live_and_tampered_copy():
    d = Daemon("audit-verify").start()
    hh = new_household(d)
    marker = "FORMMARK-QX7Z-%s" % hh[:8]
    grant(d, "wmo", hh, "lev/s.bakker", "read", purpose="verify",
          form_ref=marker)
    cli_ok(d, "lev", "plan", "show", hh)
    cli_refused(d, "savant", "PERMISSION_DENIED", "plan", "show", hh)
    recs = audit_records(d, "henk", hh)
    gseq = [int(r["seq"]) for r in recs if r["action"] == "GrantConsent"]
    eq(len(gseq), 1, "GrantConsent records")
    gseq = gseq[0]
    r, m = verify(d)
    check(r.rc == 0 and m, "audit verify on a live daemon: %r" % r)
    n_live = int(m.group(1))
    check(n_live >= len(recs) + 1, "verify counts %d records" % n_live)
    d.stop()
    r, m = verify(d)
    check(r.rc == 0 and m and int(m.group(1)) == n_live,
          "audit verify, stopped: %r" % r)
    for how in ("flip", "swap"):
        cp = os.path.join(d.dir, "copy-%s" % how)
        shutil.copytree(d.data_dir, cp)
        n = tamper(cp, gseq, how)
        if n == 0 and how == "swap":
            continue      # no other record of the same length to swap in
        check(n >= 1, "record %d not found in the copy" % gseq)
        c = conf_for(cp, "audit-copy")
        r = c.admin("audit", "verify")
        check(r.rc not in (0,) and r.rc > 0,
              "verify of a copy with record %d damaged (%s): expected a "
              "non-zero exit, got %r" % (gseq, how, r))
        text = r.out + r.err
        check(re.search(r"\b%d\b" % gseq, text),
              "verify does not name sequence %d: %r" % (gseq, r))
        check(re.search(r"broken|corrupt|edited|checksum|hash", text, re.I),
              "verify does not say what is wrong: %r" % r)
        check(not re.search(r"\bOK\b", r.out), "verify says OK: %r" % r)
    # The live store still verifies, also with the daemon running again.
    d.start()
    cli_ok(d, "henk", "plan", "show", hh)
    r, m = verify(d)
    check(r.rc == 0 and m and int(m.group(1)) == n_live + 1,
          "audit verify of the live store after the copies: %r" % r)
    d.stop()


def export(d, *args, dashdash=False):
    r = d.admin(*((["--"] if dashdash else []) + ["audit", "export"] +
                  list(args)))
    check(r.rc == 0, "audit export %s: %r" % (" ".join(args), r))
    out = []
    for i, line in enumerate(r.out.splitlines()):
        try:
            out.append(jsonlib.loads(line))
        except ValueError as e:
            fail("audit export %s: line %d is not JSON (%s): %r"
                 % (" ".join(args), i + 1, e, line[:200]))
        check(isinstance(out[-1], dict), "line %d is not an object" % (i + 1))
    return out


@test
def export_json_lines_and_filters():
    d = Daemon("audit-export").start()
    ha = new_household(d)
    hb = new_household(d)
    grant(d, "wmo", ha, "lev/s.bakker", "read", purpose="x", form_ref="F1")
    cli_ok(d, "lev", "plan", "show", ha)
    cli_ok(d, "wmo", "plan", "show", hb)
    cli_refused(d, "lev", "PERMISSION_DENIED", "plan", "show", hb)
    everything = export(d)
    r, m = verify(d)
    check(r.rc == 0 and m, "verify: %r" % r)
    eq(len(everything), int(m.group(1)), "exported records vs verify's count")
    eq([int(x["seq"]) for x in everything], list(range(1, len(everything) + 1)),
       "exported sequence numbers")
    for x in everything:
        for k in ("seq", "time", "actor", "action", "household", "outcome",
                  "hash", "prev_hash"):
            check(k in x, "export line lacks %r: %r" % (k, x))
    for i in range(1, len(everything)):
        eq(everything[i]["prev_hash"], everything[i - 1]["hash"],
           "prev_hash of record %d" % everything[i]["seq"])
    want_a = [x["seq"] for x in everything if x["household"] == ha]
    want_lev = [x["seq"] for x in everything if x["actor"]["org"] == "lev"]
    check(want_a and want_lev and len(want_a) < len(everything),
          "nothing to filter")
    # The filters' results (behind "--", so no option parsing is involved)...
    eq([x["seq"] for x in export(d, "--household", ha, dashdash=True)],
       want_a, "export -- --household")
    eq([x["seq"] for x in export(d, "--org", "lev", dashdash=True)],
       want_lev, "export -- --org lev")
    # ...and the usage's own form: eenpland -f CONF audit export --household ID.
    got = export(d, "--household", ha)
    eq([x["seq"] for x in got], want_a, "export --household")
    got = export(d, "--org", "lev")
    eq([x["seq"] for x in got], want_lev, "export --org lev")
    got = export(d, "--household", ha, "--org", "lev")
    eq([x["seq"] for x in got],
       [s for s in want_a if s in want_lev], "export --household --org")
    d.stop()


@test
def storage_full_refuses_reads_too():
    d = Daemon("audit-full", limits={"map_max": 1048576}).start()
    hh = new_household(d)
    mark = "VOLNOTE-"
    writes = 0
    with Raw(d, "wmo") as c:
        for i in range(400):
            r = c.call(req_mutate(i + 1, hh, mut_add_note(
                1, (mark + "%05d " % i).ljust(3900, "x"))))
            if r.code != 0:
                break
            writes += 1
        eq(r.code_name, "RESOURCE_EXHAUSTED", "the write that did not fit "
           "(after %d)" % writes)
        check(writes >= 1, "no write fitted at all")
        # Reads go on while their audit records fit, then stop.
        served = 0
        failed = None
        rid = 1000
        for _ in range(300):
            batch = []
            for _ in range(32):
                rid += 1
                batch.append(rid)
                c.send_frame(req_get_plan(rid, hh))
            for _ in batch:
                r = c.recv_frame()
                check(r is not None, "connection closed while the store "
                      "was full")
                if r.code == 0:
                    served += 1
                elif failed is None:
                    failed = r
            if failed is not None:
                break
        # A batch of records can fail where one still fits: go on one by
        # one until a single read is refused.
        last = None
        for _ in range(3000):
            if failed is None:
                break
            rid += 1
            r = c.call(req_get_plan(rid, hh))
            if r.code != 0:
                last = r
                break
            served += 1
        failed = last or failed
        check(failed is not None, "%d reads served and none refused on a "
              "full store" % served)
        check(failed.code_name in ("RESOURCE_EXHAUSTED", "UNAVAILABLE"),
              "the read on a full store: %r" % failed)
        check(failed.body_field is None and mark.encode() not in failed.raw,
              "the refused read carries plan data: %r" % failed)
    # Another reader: served while its record fits (pages the readers
    # held free up; the audit indexes wait), then refused without content.
    henk_served = 0
    for _ in range(200):
        r = cli(d, "henk", "plan", "show", hh)
        if r.rc == 0:
            check(mark in r.out, "plan show served without the plan: %r"
                  % r.out[:300])
            henk_served += 1
            continue
        break
    check(r.rc == 1 and re.match(r"eenplan: (RESOURCE_EXHAUSTED|UNAVAILABLE): ",
                                 r.err), "plan show on a full store: %r" % r)
    check(mark not in r.out and r.out.strip() == "",
          "plan show on a full store printed: %r" % r.out[:300])
    # A write: refused. Pages the log's checkpoint held come free when the
    # next one is taken, so small notes may still fit: each that does is
    # counted, and the writes must end in a refusal. First over one
    # connection until the store refuses (each note takes room for good, so
    # this ends), then through the command line, which must say so.
    with Raw(d, "wmo") as c:
        for i in range(5000):
            r = c.call(req_mutate(rid + 1 + i, hh, mut_add_note(
                1, "klein %d" % i)))
            if r.code != 0:
                break
            writes += 1
        eq(r.code_name, "RESOURCE_EXHAUSTED", "a small write on a full "
           "store (after %d)" % writes)
        check(r.body_field is None and mark.encode() not in r.raw,
              "the refused write carries plan data: %r" % r)
    for i in range(50):
        r = cli(d, "wmo", "note", "add", hh, "--domain", "financien",
                "--text", "nog een %d" % i)
        if r.rc != 0:
            break
        writes += 1
    check(r.rc == 1 and "RESOURCE_EXHAUSTED" in r.err,
          "a write on a full store: %r" % r)
    d.stop()
    big = Daemon("audit-full-big", limits={"map_max": 16 * 1048576},
                 data_dir=d.data_dir).start()
    p = plan_json(big, "henk", hh)
    eq(int(p["version"]), 1 + writes, "version after the restart")
    eq(len(p["notes"]), writes, "notes after the restart")
    mut(big, "wmo", "note", "add", hh, "--domain", "financien", "--text",
        "weer ruimte")
    eq(int(plan_json(big, "wmo", hh)["version"]), 2 + writes, "version")
    # Every read that was answered has its record; the refused one not.
    recs = audit_records(big, "henk", hh)
    got = [x for x in recs if x["action"] == "GetPlan" and
           x["actor"]["org"] == "gemeente"]
    eq(sum(1 for x in got if x["outcome"] == "OK"), served + 1,
       "wmo's GetPlan records with outcome OK (served on the full store, "
       "plus one after the restart)")
    mine = [x for x in recs if x["action"] == "GetPlan" and
            x["actor"]["org"] == "burgers" and x["outcome"] == "OK"]
    eq(len(mine), henk_served + 1, "henk's GetPlan records with outcome OK "
       "(served on the full store, plus one after the restart)")
    big.stop()
    r, m = verify(big)
    check(r.rc == 0 and m, "verify after the full store: %r" % r)


@test
def afschrift_one_document():
    d = shared()
    hh = new_household(d, members=("henk.desmet:Henk de Smet:ouder",
                                    "anja.desmet:Anja de Smet:partner"))
    mut(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
        "Schulden stabiliseren")
    gid = grant(d, "henk", hh, "lev/s.bakker", "read", purpose="afschrift")
    cli_ok(d, "lev", "plan", "show", hh)
    cli_ok(d, "henk", "consent", "revoke", hh, gid)
    cli_refused(d, "savant", "PERMISSION_DENIED", "plan", "show", hh)
    r = cli_ok(d, "henk", "afschrift", hh)
    try:
        doc = jsonlib.loads(r.out)
    except ValueError as e:
        fail("afschrift is not one JSON document (%s): %r" % (e, r.out[:300]))
    for k in ("plan", "consent", "history", "access_log"):
        check(k in doc, "afschrift lacks %r: keys %r" % (k, list(doc)))
    eq(doc.get("household_id"), hh, "household_id")
    p = doc["plan"].get("plan", doc["plan"])
    eq(p.get("household_id"), hh, "plan.household_id")
    eq([g["text"] for g in p.get("goals", [])], ["Schulden stabiliseren"],
       "plan goals")
    gs = {int(g["id"]): g for g in doc["consent"]}
    check(1 in gs and gid in gs, "consent lacks grants: %r" % list(gs))
    check(int(gs[gid].get("revoked_at") or 0) > 0,
          "the revoked grant shows no revocation: %r" % gs[gid])
    eq([int(e["version"]) for e in doc["history"]], [1, 2], "history versions")
    log = doc["access_log"]
    check(all(x["household_id"] == hh for x in log), "foreign records")
    acts = [(x["action"], x["actor"]["org"], x["outcome"]) for x in log]
    for want in (("CreateHousehold", "gemeente", "OK"),
                 ("GetPlan", "lev", "OK"),
                 ("RevokeConsent", "burgers", "OK"),
                 ("GetPlan", "savant", "PERMISSION_DENIED")):
        check(want in acts, "access_log lacks %r: %r" % (want, acts))
    # To a file, and for the other member too.
    out = os.path.join(d.dir, "afschrift-%s.json" % hh[:8])
    cli_ok(d, "anja", "afschrift", hh, "-o", out)
    with open(out) as f:
        doc2 = jsonlib.load(f)
    eq(doc2.get("household_id"), hh, "file's household_id")
    check(len(doc2["access_log"]) > len(log), "the first afschrift's reads "
          "are not in the second's access log")
    cli_refused(d, "savant", "PERMISSION_DENIED", "afschrift", hh)


def _seqs(recs):
    return [int(r["seq"]) for r in recs]


@test
def audit_index_is_derived_and_never_trusted_blindly():
    """The audit index (data_dir/audit-index, built by the indexer thread
    beside the writer) is derived from the log: a daemon started without
    it, or with one that belongs to another store's log (ahead of this one,
    or behind it with other records), builds it again, and every query
    answers exactly what the log holds, in order, once — never a record of
    another household, never a gap."""
    lag = "[store]\naudit_index_lag = 1\n"
    a = Daemon("auditidx-a", extra_ini=lag).start()
    b = Daemon("auditidx-b", extra_ini=lag).start()
    try:
        hhs = [new_household(a) for _ in range(3)]
        for i in range(12):
            cli_ok(a, "wmo", "plan", "show", hhs[i % 3])
        org_before = _seqs(audit_records(a, "privacy-gemeente", org=True))
        before = {hh: _seqs(audit_records(a, "henk", hh)) for hh in hhs}
        a.stop()
        idx = os.path.join(a.data_dir, "audit-index")
        check(os.path.exists(os.path.join(idx, "data.mdb")),
              "no audit index beside the store")

        def after_restart(what):
            a.start()
            for hh in hhs:
                recs = audit_records(a, "henk", hh)
                got = _seqs(recs)
                # The log as before, then only the queries of it since
                # (henk's, and the auditor's that revealed it).
                eq(got[:len(before[hh])], before[hh],
                   "%s: household %s's records" % (what, hh))
                eq(sorted(set(got)), got, "%s: ascending, once" % what)
                new = [(r["action"], r["household_id"])
                       for r in recs[len(before[hh]):]]
                check(1 <= len(new) <= 2 and all(
                    n in (("QueryAudit", hh), ("QueryAudit", "")) for n in new),
                    "%s: household %s's records since: %r" % (what, hh, new))
                before[hh] = got
            got = _seqs(audit_records(a, "privacy-gemeente", org=True))
            eq(got[:len(org_before)], org_before,
               "%s: the organisation's records" % what)
            org_before[:] = got
            log = a.log_since_start()
            a.stop()
            return log

        # No index at all: built from the log.
        shutil.rmtree(idx)
        after_restart("without an index")
        check(os.path.exists(os.path.join(idx, "data.mdb")),
              "the index was not built again")
        # Another store's index, behind this log, its records others.
        new_household(b)
        b.stop()
        shutil.rmtree(idx)
        shutil.copytree(os.path.join(b.data_dir, "audit-index"), idx)
        log = after_restart("with a foreign index behind the log")
        check("does not belong to this log" in log,
              "a foreign index was taken as this log's: %s" % log[-2000:])
        # Another store's index, ahead of this log.
        b.start()
        hb = new_household(b)
        with Raw(b, "wmo") as c:
            for i in range(400):
                check(c.call(req_get_plan(i + 1, hb)).code == 0,
                      "GetPlan on b")
        b.stop()
        shutil.rmtree(idx)
        shutil.copytree(os.path.join(b.data_dir, "audit-index"), idx)
        log = after_restart("with a foreign index ahead of the log")
        check("does not belong to this log" in log and "past the log" in log,
              "an index ahead of the log was kept: %s" % log[-2000:])
    finally:
        for d in (a, b):
            if d.alive():
                d.stop()


def _marks(idx):
    return sorted(n for n in os.listdir(idx) if n.startswith("unflushed."))


@test
def audit_index_written_without_flushes_is_rebuilt_after_the_machine_stops():
    """The audit index is written without flushes (MDB_NOSYNC): a daemon
    killed (kill -9) leaves it whole in the page cache, and the next start
    keeps it; a machine that stopped (another boot id in the marker the
    daemon writes before its first index commit) may have lost its pages,
    so the next start removes it and builds it again from the log — here
    over an index file whose pages are garbage, which LMDB cannot open —
    and a read-only command (audit export) does not use it. Every query
    answers exactly what the log holds, before and after."""
    lag = "[store]\naudit_index_lag = 1\n"
    d = Daemon("auditidx-nosync", extra_ini=lag).start()
    try:
        hhs = [new_household(d) for _ in range(3)]
        for i in range(9):
            cli_ok(d, "wmo", "plan", "show", hhs[i % 3])
        idx = os.path.join(d.data_dir, "audit-index")
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        mine = "unflushed.%d" % d.proc.pid
        eq(_marks(idx), [mine], "markers while the daemon runs")
        with open(os.path.join(idx, mine)) as f:
            eq(f.read().strip(), boot, "the marker's boot id")
        before = {hh: _seqs(audit_records(d, "henk", hh)) for hh in hhs}
        ino = os.stat(os.path.join(idx, "data.mdb")).st_ino

        def same_records(what, extra):
            for hh in hhs:
                got = _seqs(audit_records(d, "henk", hh))
                eq(got[:len(before[hh])], before[hh],
                   "%s: household %s's records" % (what, hh))
                eq(sorted(set(got)), got, "%s: ascending, once" % what)
                check(len(got) - len(before[hh]) <= extra,
                      "%s: %s: records appeared: %r" % (what, hh, got))
                before[hh] = got

        # kill -9 on this boot: kept, the dead process's marker flushed away.
        d.kill9()
        eq(_marks(idx), [mine], "the marker after kill -9")
        d.start()
        log = d.log_since_start()
        check("machine stopped" not in log,
              "an index of this boot was thrown away: %s" % log[-1500:])
        eq(os.stat(os.path.join(idx, "data.mdb")).st_ino, ino,
           "the index file after kill -9 and a start")
        eq(_marks(idx), ["unflushed.%d" % d.proc.pid],
           "markers after the start (the killed daemon's gone)")
        same_records("after kill -9", 2)
        # A clean stop: flushed, no marker left.
        d.stop()
        eq(_marks(idx), [], "markers after a clean stop")
        # The machine stopped: the marker names another boot, the index's
        # pages never reached the disk (garbage, the meta pages too).
        d.start()
        cli_ok(d, "wmo", "plan", "show", hhs[0])
        pid = d.proc.pid
        d.kill9()
        with open(os.path.join(idx, "unflushed.%d" % pid), "w") as f:
            f.write("00000000-0000-4000-8000-000000000000\n")
        size = os.path.getsize(os.path.join(idx, "data.mdb"))
        with open(os.path.join(idx, "data.mdb"), "r+b") as f:
            f.write(b"\xa5" * size)
        want = [x["seq"] for x in export(d) if x["household"] == hhs[1]]
        r = d.admin("audit", "export", "--household", hhs[1])
        check(r.rc == 0, "export beside an index of another boot: %r" % r)
        eq([int(jsonlib.loads(l)["seq"]) for l in r.out.splitlines()],
           want, "export --household without the index")
        check("not used" in r.err, "export did not say it left the index "
              "unused: %r" % r.err[-500:])
        d.start()
        log = d.log_since_start()
        check("machine stopped while the audit index" in log,
              "the start did not rebuild the index: %s" % log[-1500:])
        with open(os.path.join(idx, "data.mdb"), "rb") as f:
            head = f.read(8192)
        check(head.count(b"\xa5") < len(head) // 2,
              "the index file was not made again")
        eq(_marks(idx), ["unflushed.%d" % d.proc.pid],
           "markers after the rebuild")
        same_records("after the machine stopped", 3)
        d.stop()
        eq(_marks(idx), [], "markers after the last stop")
    finally:
        if d.alive():
            d.stop()


def _index_entries(d):
    """Entries of the audit index's per-household database (mdb_stat)."""
    p = subprocess.run(["mdb_stat", "-s", "log_hh",
                        os.path.join(d.data_dir, "audit-index")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "mdb_stat: %r" % p.stderr)
    m = re.search(r"Entries: (\d+)", p.stdout.decode())
    check(m is not None, "mdb_stat printed no entries: %r" % p.stdout)
    return int(m.group(1))


@test
def audit_index_writer_steps_in_past_lag_max():
    """The indexer runs at the lowest priority; should it fall more than
    [store] audit_index_lag_max durable records behind, the writer indexes
    a step itself. With the indexer thread kept from running (a test hook),
    a daemon at audit_index_lag_max = 32 still builds the index, counted in
    eenplan_audit_index_writer_steps_total; one at 100000 builds none. Both
    answer the household's audit query exactly."""
    import http.client

    def run(name, lag_max):
        port = free_port()
        d = Daemon(name, extra_ini="[store]\naudit_index_lag = 8\n"
                   "audit_index_lag_max = %d\n[admin]\nlisten = 127.0.0.1:%d\n"
                   % (lag_max, port),
                   env={"EENPLAN_TEST_NO_INDEXER": "1"}).start()
        try:
            hh = new_household(d)
            with Raw(d, "wmo") as c:
                for i in range(300):
                    check(c.call(req_get_plan(i + 1, hh)).code == 0,
                          "GetPlan %d" % i)
            recs = _seqs(audit_records(d, "henk", hh))
            h = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            h.request("GET", "/metrics")
            text = h.getresponse().read().decode()
            h.close()
            m = re.search(r"^eenplan_audit_index_writer_steps_total (\d+)$",
                          text, re.M)
            check(m is not None, "no writer steps counter in /metrics")
            check("EENPLAN_TEST_NO_INDEXER is set" in d.log_since_start(),
                  "the hook was not seen")
        finally:
            d.stop()
        return int(m.group(1)), recs, _index_entries(d)

    steps, recs, entries = run("ixvalve-on", 32)
    check(steps >= 1, "the writer ran no index step: %d" % steps)
    check(entries >= 250, "the index holds %d entries after 300 reads"
          % entries)
    eq(len(recs), len(set(recs)), "records once")
    check(len(recs) >= 301, "household records: %d" % len(recs))
    steps, recs2, entries = run("ixvalve-off", 100000)
    eq(steps, 0, "writer steps below audit_index_lag_max")
    eq(entries, 0, "index entries with no indexer and no writer steps")
    eq(len(recs2), len(recs), "the same records, read from the log")


@test
def audit_query_sees_reads_answered_under_load():
    """Under a steady read load the writer keeps one transaction open for
    the reads' audit records (audit_commit_ms, here 1000 ms), answering
    each batch once it is logged: a QueryAudit right after a GetPlan still
    sees it (the query has the open transaction committed first)."""
    d = Daemon("audit-barrier", extra_ini="[store]\naudit_commit_ms = 1000\n")
    d.start()
    busy, hh = new_household(d), new_household(d)
    stop = threading.Event()
    answered, failed = [], []
    threads = [threading.Thread(target=raw_loop, args=(
        d, "wmo", lambda i: (req_get_plan(i, busy), i), answered, stop,
        failed)) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            cli_ok(d, "wmo", "plan", "show", hh)
            recs = [r for r in audit_records(d, "wmo", hh)
                    if r["action"] == "GetPlan"]
            eq(len(recs), i + 1, "GetPlan records of %s after %d reads "
               "(%d reads of the load answered)" % (hh, i + 1,
                                                    len(answered)))
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    check(len(answered) > 20 and not failed, "the load: %d reads answered, "
          "refused: %r" % (len(answered), failed[:3]))
    d.stop()
