"""A partner's mirror (`eenplan sync --dir`) and `eenplan watch` against the
real daemon: the mirror as LEV's system follows random plan changes,
grants (random scopes), revocations and expiries over many households,
across a kill -9 and restart of the daemon and of the mirror itself; at the
end every file equals GetPlan for LEV's system and no file exists for a
household it may not read. Then the mirror's files, modes, cursor, lock and
restarts one by one, and watch live and across a daemon restart.

Sizes: EENPLAN_SYNC_HOUSEHOLDS (default 50) and EENPLAN_SYNC_MUTATIONS
(default 1000); EENPLAN_SYNC_SEED repeats a run."""
import json
import os
import random
import signal
import stat
import subprocess
import time

import harness
from harness import (Daemon, Raw, test, check, eq, fail, cli, cli_ok,
                     cli_env, cli_refused, new_household, plan_json,
                     wait_until, shared, VALGRIND, SLOW)
from consentlib import DOMAINS, READ, CONTRIBUTE, grant as cli_grant
from feedlib import (grant_raw, make_households, mut_note, now_us,
                     req_mutate, req_send_signal, revoke_raw, wait_expiries,
                     whole_feed)

WHO = "lev-systeem"
DOMAIN_IDS = sorted(DOMAINS.values())


# ------------------------------------------------------------ the mirror

class Mirror:
    """`eenplan --as lev-systeem sync --dir DIR` running in the background,
    its output in DIR.log."""

    def __init__(self, d, path, who=WHO):
        self.d, self.dir, self.who = d, path, who
        self.proc = None
        self.log = path + ".log"

    def start(self):
        argv = [os.path.join(harness.BUILD, "eenplan"), "--as", self.who,
                "sync", "--dir", self.dir]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL,
                                         env=cli_env(self.d))
        return self

    def stop(self):
        """SIGTERM: it must stop at once, with exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("the mirror did not stop within 10 s of SIGTERM")
        self.proc = None
        eq(rc, 0, "the mirror's exit status after SIGTERM (log:\n%s)"
           % self.tail())

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def kill_quietly(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def scoped(doc):
    return doc.get("access") != "ACCESS_MANAGE" and bool(doc.get("scope"))


def masked(doc):
    """A scoped reader's plan without the fields that move with changes
    outside its scope (for which it gets no event: see
    test_feed.plan_change_outside_the_scope_leaves_the_view_alone)."""
    if not scoped(doc):
        return doc
    d = json.loads(json.dumps(doc))
    for k in ("version", "updated_at", "updated_at_utc"):
        d.get("plan", {}).pop(k, None)
    return d


def expected(d, hhs, who=WHO):
    """What GetPlan gives `who` for each household; None: refused."""
    out = {}
    for hh in hhs:
        r = cli(d, who, "plan", "show", hh, json=True)
        if r.rc == 0:
            out[hh] = r.data
        elif r.rc == 1 and "PERMISSION_DENIED" in r.err:
            out[hh] = None
        else:
            fail("plan show %s as %s: %r" % (hh, who, r))
    return out


def mirror_problems(path, want):
    """How the mirror's files differ from GetPlan (empty: exact)."""
    problems = []
    names = set(os.listdir(path))
    for n in sorted(names):
        if n in (".cursor", ".lock"):
            continue
        if not n.endswith(".json") or n[:-5] not in want:
            problems.append("a stray file %s" % n)
    for hh, doc in sorted(want.items()):
        name = hh + ".json"
        if doc is None:
            if name in names:
                problems.append("%s: a file, but %s may not read it"
                                % (hh[:8], WHO))
            continue
        if name not in names:
            problems.append("%s: no file, but %s reads it" % (hh[:8], WHO))
            continue
        with open(os.path.join(path, name)) as f:
            got = json.load(f)
        if masked(got) != masked(doc):
            gp, wp = got.get("plan", {}), doc.get("plan", {})
            keys = sorted(k for k in set(gp) | set(wp)
                          if gp.get(k) != wp.get(k))
            top = sorted(k for k in set(got) | set(doc)
                         if k != "plan" and got.get(k) != doc.get(k))
            problems.append("%s: differs in plan %s %s (file v%s, GetPlan "
                            "v%s)" % (hh[:8], keys, top, gp.get("version"),
                                      wp.get("version")))
    return problems


def random_changes(d, rng, hhs, n_mut, lev_grants, stop_at=None):
    """n_mut plan changes (1-2 notes, random domains) mixed with grants to
    LEV (the organisation or its system; random scopes, some expiring within
    seconds), revocations, grants to others and signals. lev_grants: hh ->
    [(grant id, until)]. stop_at: {count: fn} called after that many plan
    changes (restarts). Returns the latest valid_until."""
    last_until, rid, done = 0, 10, 0
    stop_at = dict(stop_at or {})
    conns = {}

    def conn(who):
        if who not in conns:
            conns[who] = Raw(d, who, timeout=30)
        return conns[who]
    try:
        while done < n_mut:
            rid += 1
            hh = rng.choice(hhs)
            x = rng.random()
            if x < 0.70:
                muts = [mut_note(rng.choice(DOMAIN_IDS), "notitie %d" % rid)
                        for _ in range(rng.randint(1, 2))]
                r = conn("wmo").call(req_mutate(rid, hh, muts))
                check(r.code == 0, "MutatePlan: %r" % r)
                done += 1
                if done in stop_at:
                    for c in conns.values():
                        c.close()
                    conns.clear()
                    stop_at.pop(done)()
            elif x < 0.84:
                until = 0
                if rng.random() < 0.25:
                    until = now_us() + rng.randint(1000, 4000) * 1000
                    last_until = max(last_until, until)
                scope = () if rng.random() < 0.25 else tuple(
                    rng.sample(DOMAIN_IDS, rng.randint(1, 3)))
                subject = rng.choice(("", "", "lev-crm"))
                gid = grant_raw(conn("henk"), rid, hh, "lev", subject,
                                rng.choice((READ, CONTRIBUTE)), scope, until)
                lev_grants[hh].append((gid, until))
            elif x < 0.94 and lev_grants[hh]:
                gid, until = lev_grants[hh].pop(
                    rng.randrange(len(lev_grants[hh])))
                if until and until < now_us() + 300000:
                    continue        # about to run out: leave it to expire
                revoke_raw(conn("henk"), rid, hh, gid)
            elif x < 0.97:
                grant_raw(conn("henk"), rid, hh, "senzer", "", READ,
                          (rng.choice(DOMAIN_IDS),), 0)
            else:
                r = conn("senzer").call(req_send_signal(
                    rid, hh, rng.choice(DOMAIN_IDS), "signaal %d" % rid))
                check(r.code == 0, "SendSignal: %r" % r)
    finally:
        for c in conns.values():
            c.close()
    return last_until


@test
def mirror_follows_random_history_across_restarts():
    nhh = int(os.environ.get("EENPLAN_SYNC_HOUSEHOLDS",
                             15 if VALGRIND else 50))
    nmut = int(os.environ.get("EENPLAN_SYNC_MUTATIONS",
                              200 if VALGRIND else 1000))
    seed = int(os.environ.get("EENPLAN_SYNC_SEED",
                              random.randrange(1 << 30)))
    rng = random.Random(seed)
    d = Daemon("mirror").start()
    hhs = make_households(d, nhh)
    path = os.path.join(d.dir, "lev-mirror")
    m = Mirror(d, path).start()
    t0 = time.monotonic()

    def daemon_restart():
        d.kill9()
        d.start(same_port=True)

    def mirror_restart():
        check(m.alive(), "the mirror died: %s" % m.tail())
        m.kill9()
        m.start()
    try:
        last_until = random_changes(
            d, rng, hhs, nmut, {hh: [] for hh in hhs},
            {nmut * 2 // 5: daemon_restart, nmut * 7 // 10: mirror_restart})
        wait_expiries(last_until)
        want = expected(d, hhs)
        readable = sum(1 for v in want.values() if v is not None)
        problems = []

        def settled():
            problems[:] = mirror_problems(path, want)
            return not problems
        try:
            wait_until(settled, 30, "the mirror to equal GetPlan")
        except harness.Failure:
            fail("seed %d: the mirror is not exact after 30 s (%d of %d "
                 "households readable); %d problem(s):\n  %s\nmirror log:\n%s"
                 % (seed, readable, nhh, len(problems),
                    "\n  ".join(problems[:20]), m.tail()))
        check(m.alive(), "the mirror died: %s" % m.tail())
        m.stop()
        # Restarted once more, it finds nothing to do: nothing repeats.
        r = cli_ok(d, WHO, "sync", "--dir", path, "--once")
        check("(this run: 0 written, 0 removed)" in r.out,
              "a caught-up mirror did work again: %r" % r.out[-400:])
        eq(mirror_problems(path, expected(d, hhs)), [], "after --once")
        names = os.listdir(path)
        check(not [n for n in names if n.startswith(".tmp-")],
              "temp files left: %r" % names)
        print("# mirror: %d households (%d readable by %s at the end), %d "
              "plan changes, seed %d: exact after %.1f s"
              % (nhh, readable, WHO, nmut, seed, time.monotonic() - t0))
    finally:
        m.kill_quietly()


# ------------------------------------------------------------ one by one

def mirror_once(d, path, *extra):
    return cli_ok(d, WHO, "sync", "--dir", path, "--once", *extra)


@test
def mirror_files_modes_cursor_and_removal():
    d = shared()
    hh = new_household(d)
    gid = cli_grant(d, "henk", hh, "lev", access="contribute",
                    domains=("financien", "sociaal_netwerk"))
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "post ligt ongeopend")
    path = os.path.join(harness.RUN_DIR, "mirror-basics")
    os.makedirs(path)
    os.chmod(path, 0o700)
    with open(os.path.join(path, ".tmp-leftover.json.abc"), "w") as f:
        f.write("half a plan")
    r = mirror_once(d, path)
    name = os.path.join(path, hh + ".json")
    check(os.path.exists(name), "no file for %s: %r" % (hh, r.out))
    # Exactly what plan show --json prints, byte for byte.
    show = cli_ok(d, WHO, "--json", "plan", "show", hh)
    with open(name) as f:
        eq(f.read(), show.out, "the file vs plan show --json")
    eq(stat.S_IMODE(os.stat(name).st_mode), 0o600, "file mode")
    check(not os.path.exists(os.path.join(path, ".tmp-leftover.json.abc")),
          "a temp file of an earlier run was left")
    with open(os.path.join(path, ".cursor")) as f:
        cursor = int(f.read())
    check(cursor > 0, "cursor %d" % cursor)
    # Again: nothing to do.
    r = mirror_once(d, path)
    check("0 written, 0 removed" in r.out, "second run: %r" % r.out)
    # The data lives in the file; a plan change moves it.
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "sociaal_netwerk",
           "--text", "buurvrouw helpt")
    r = mirror_once(d, path, "--json")
    lines = [json.loads(l) for l in r.out.splitlines() if l.strip()]
    check(any(l.get("action") == "written" and l.get("household_id") == hh
              for l in lines), "--json lines: %r" % lines)
    with open(name) as f:
        check("buurvrouw helpt" in f.read(), "the new note is not in the "
              "file")
    # A refused GetPlan after an event removes the file: a change, then the
    # revoke, before the mirror looks.
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "laatste")
    cli_ok(d, "henk", "consent", "revoke", hh, gid)
    r = mirror_once(d, path)
    check(not os.path.exists(name), "the file outlived the revoke: %r"
          % r.out)
    check("no access" in r.out or "access ended" in r.out, r.out)
    # A mirror in use is not run twice; a damaged cursor is refused.
    m = Mirror(d, path).start()
    try:
        wait_until(lambda: "following" in m.tail() or m.alive(), 5,
                   "the mirror to start")
        time.sleep(0.5 * SLOW)
        r = cli(d, WHO, "sync", "--dir", path, "--once")
        check(r.rc == 1 and "in use" in r.err, "a second mirror: %r" % r)
        m.stop()
    finally:
        m.kill_quietly()
    with open(os.path.join(path, ".cursor"), "w") as f:
        f.write("twelve\n")
    r = cli(d, WHO, "sync", "--dir", path, "--once")
    check(r.rc == 1 and ".cursor" in r.err, "a damaged cursor: %r" % r)


@test
def mirror_gets_plan_after_grant_and_drops_it_on_revoke():
    """The demo's story: LEV's system mirrors, the household revokes LEV,
    the file is gone — with the mirror running all along."""
    d = shared()
    hh = new_household(d)
    path = os.path.join(harness.RUN_DIR, "mirror-live")
    m = Mirror(d, path).start()
    try:
        name = os.path.join(path, hh + ".json")
        gid = cli_grant(d, "henk", hh, "lev", access="contribute",
                        domains=("financien",))
        wait_until(lambda: os.path.exists(name), 10, "the file after the "
                   "grant")
        cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien",
               "--text", "budgetplan")
        cli_ok(d, "wmo", "goal", "add", hh, "--domain", "justitie",
               "--text", "niet voor LEV")

        def has_goal():
            with open(name) as f:
                return "budgetplan" in f.read()
        wait_until(has_goal, 10, "the new goal in the file")
        with open(name) as f:
            check("niet voor LEV" not in f.read(), "out-of-scope text in "
                  "the mirror")
        cli_ok(d, "henk", "consent", "revoke", hh, gid)
        wait_until(lambda: not os.path.exists(name), 10,
                   "the file to go after the revoke")
        m.stop()
    finally:
        m.kill_quietly()


# ------------------------------------------------------------ watch

class Watch:
    def __init__(self, d, who, *args):
        argv = [os.path.join(harness.BUILD, "eenplan"), "--as", who,
                "watch"] + list(args)
        self.out = os.path.join(harness.RUN_DIR, "watch-%d.out" % id(self))
        self.err = self.out + ".err"
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen(argv, stdout=o, stderr=e,
                                         stdin=subprocess.DEVNULL,
                                         env=cli_env(d))

    def text(self):
        with open(self.out, errors="replace") as f:
            return f.read()

    def lines(self):
        return [json.loads(l) for l in self.text().splitlines() if l.strip()]

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(10 * SLOW)
        with open(self.err, errors="replace") as f:
            err = f.read()
        eq(rc, 0, "watch's exit status (stderr %r)" % err)
        return err


@test
def watch_follows_live_and_across_a_daemon_restart():
    d = Daemon("watch").start()
    hh = new_household(d)
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
           "voor de watch")
    head = whole_feed(d, "wmo")[1]
    j = Watch(d, "wmo", "--json")             # from now on: live only
    t = Watch(d, "wmo")
    try:
        time.sleep(1.0 * SLOW)
        cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien",
               "--text", "eerste notitie")
        cli_ok(d, "senzer", "signal", "send", hh, "--domain", "werk_opleiding",
               "--text", "Wmo-aanvraag voor vervoer")
        wait_until(lambda: len(j.lines()) >= 2, 10, "two events in watch")
        d.kill9()
        d.start(same_port=True)
        cli_ok(d, "henk", "consent", "grant", hh, "--to", "lev", "--access",
               "read", "--purpose", "na de herstart")
        cli_ok(d, "wmo", "note", "add", hh, "--domain", "justitie", "--text",
               "na de herstart")
        want = [e["seq"] for e in whole_feed(d, "wmo", since=head)[0]]
        eq(len(want), 4, "the regisseur's feed after %d" % head)
        wait_until(lambda: len(j.lines()) >= 4, 20 * SLOW,
                   "the events after the restart in watch")
        time.sleep(0.5)
        got = j.lines()
        eq([e["seq"] for e in got], want, "watch --json: every event once, "
           "in order, none from before it started")
        eq([e["kind"] for e in got], ["CHANGE_PLAN", "CHANGE_SIGNAL",
           "CHANGE_CONSENT", "CHANGE_PLAN"], "kinds")
        err = j.stop()
        check("again in" in err, "no word of reconnecting: %r" % err)
        wait_until(lambda: "[Justitie]" in t.text(), 10, "text watch")
        t.stop()
        text = t.text()
        for want_text in ("plan changed to version", "by gemeente/a.devries "
                          "(professional)", "note added [Financiën]",
                          "signal [Werk & opleiding] from senzer/m.vandijk",
                          "    Wmo-aanvraag voor vervoer",
                          "consent granted (grant", hh):
            check(want_text in text, "watch lacks %r:\n%s" % (want_text,
                                                               text))
        check("voor de watch" not in text, "watch showed the past")
    finally:
        for w in (j, t):
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
