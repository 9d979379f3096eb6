"""The change feed against the real daemon: a property check of what each
caller is given (random grants, revocations, expiries and scopes, checked
against a model of who could read what at each sequence), subscriptions
(a revoke ends the push with ACCESS_ENDED at once, a subscriber that never
reads is cut off with RESOURCE_EXHAUSTED while the daemon's memory stays
bounded, Unsubscribe, resuming from a cursor), and what a partner's mirror
needs from the feed to stay exact (expiry, a narrowed scope, a change
outside the scope, a signal a reader sees in the plan).

Sizes: EENPLAN_FEED_OPS (random operations, default 160) and
EENPLAN_FEED_HOUSEHOLDS (default 6)."""
import os
import random
import socket
import time

from harness import (Daemon, Raw, test, check, eq, fail, cli, cli_ok,
                     req_create,
                     created_household, req_get_plan, plan_json, shared,
                     new_household, VALGRIND, f_bytes, req, pb_decode, pb_get)
from consentlib import (DOMAINS, READ, CONTRIBUTE, grant as cli_grant,
                        req_grant)
from feedlib import (ALL, CREATED, PLAN, CONSENT, REGIE, ESCALATED, CLOSED,
                     SIGNAL, ACCESS_ENDED, GRANTED, REVOKED, EXPIRED,
                     KIND_NAMES, PEOPLE, Grant, Subscriber, apply_truth,
                     grant_raw, make_households, mut_note, now_us,
                     read_changes_page, wait_expiries,
                     req_mutate, req_send_signal, req_subscribe,
                     req_unsubscribe, revoke_raw,
                     rss_kib, sanitized, scope_at, whole_feed)

CALLERS = ("lev-systeem", "lev", "senzer", "huisarts", "lisa")
TARGETS = (("lev", ""), ("lev", "lev-crm"), ("lev", "s.bakker"),
           ("senzer", ""), ("huisarts-noord", ""), ("burgers", "lisa.desmet"))
DOMAIN_IDS = sorted(DOMAINS.values())


def req_escalate(rid, hh, reason):
    return req(rid, 21, f_bytes(1, hh) + f_bytes(2, reason))


def random_scope(rng):
    if rng.random() < 0.2:
        return ()
    return tuple(rng.sample(DOMAIN_IDS, rng.randint(1, 3)))


def random_history(d, rng, hhs, ops, grants):
    """Random grants (some expiring within seconds), revocations, plan
    changes in random domains, escalations and signals. grants: hh -> list
    of Grant, filled in. Returns the latest valid_until used."""
    last_until = 0
    rid = 1
    with Raw(d, "henk", timeout=30) as member, \
            Raw(d, "wmo", timeout=30) as regisseur, \
            Raw(d, "senzer", timeout=30) as pro:
        for _ in range(ops):
            rid += 1
            hh = rng.choice(hhs)
            x = rng.random()
            live = [g for g in grants[hh] if g.ended_seq is None and
                    not getattr(g, "revoked", False) and
                    (not g.until or g.until > now_us() + 200000)]
            if x < 0.35:
                muts = [mut_note(rng.choice(DOMAIN_IDS), "notitie %d" % rid)
                        for _ in range(rng.randint(1, 3))]
                r = regisseur.call(req_mutate(rid, hh, muts))
                check(r.code == 0, "MutatePlan: %r" % r)
            elif x < 0.60:
                org, subject = rng.choice(TARGETS)
                until = 0
                if rng.random() < 0.3:
                    until = now_us() + rng.randint(500, 3000) * 1000
                    last_until = max(last_until, until)
                access = rng.choice((READ, CONTRIBUTE))
                scope = random_scope(rng)
                gid = grant_raw(member, rid, hh, org, subject, access, scope,
                                until)
                grants[hh].append(Grant(hh, gid, org, subject, access, scope,
                                        until))
            elif x < 0.75 and live:
                g = rng.choice(live)
                revoke_raw(member, rid, hh, g.id)
                g.revoked = True
            elif x < 0.80:
                r = pro.call(req_send_signal(rid, hh, rng.choice(DOMAIN_IDS),
                                             "signaal %d" % rid))
                check(r.code == 0, "SendSignal: %r" % r)
            elif x < 0.85:
                r = regisseur.call(req_escalate(rid, hh, "reden %d" % rid))
                check(r.code == 0, "Escalate: %r" % r)
            else:
                time.sleep(0.1)
    return last_until


def truth_of(d, hhs):
    """The regisseur's feed: every event of these households, seqs 1..N."""
    truth, _ = whole_feed(d, "wmo")
    eq([e["seq"] for e in truth], list(range(1, len(truth) + 1)),
       "the regisseur's feed (every event of its households)")
    check(all(e["hh"] in hhs for e in truth), "a foreign household")
    return truth


def scope_before(grants, who, t):
    """The caller's scope just before event t took effect: the state of the
    previous event, at t's time — or, for an expiry, just before the grant's
    end."""
    at = t["at"]
    if t["kind"] == CONSENT and t["consent"] == EXPIRED:
        for g in grants:
            if g.id == t["grant_id"] and g.until:
                at = min(at, g.until - 1)
    return scope_at(grants, who, t["seq"] - 1, at)


def check_caller(who, got, truth, grants, problems):
    """Safety: nothing `who` could not read at that sequence. Completeness:
    every plan change in its scope while it could read, a CONSENT event when
    a grant lets it in, ACCESS_ENDED when a revoke takes its access away."""
    by_seq = {t["seq"]: t for t in truth}
    mine = {}
    for e in got:
        t = by_seq.get(e["seq"])
        if t is None or t["hh"] != e["hh"]:
            problems.append("%s: event %d for %s is no event of the feed"
                            % (who, e["seq"], e["hh"]))
            continue
        mine.setdefault(e["seq"], []).append(e)
        gs = grants[e["hh"]]
        after = scope_at(gs, who, e["seq"], t["at"])
        kind = KIND_NAMES.get(e["kind"], e["kind"])
        if e["kind"] == ACCESS_ENDED:
            if after:
                problems.append("%s: ACCESS_ENDED at %d while it still "
                                "reads %s" % (who, e["seq"], sorted(after)))
            continue
        if not after:
            problems.append("%s: %s event %d of %s, which it could not read "
                            "then" % (who, kind, e["seq"], e["hh"][:8]))
            continue
        if e["kind"] == SIGNAL and after != ALL:
            problems.append("%s: a signal's text at %d with scope %s"
                            % (who, e["seq"], sorted(after)))
        ch, tch = e["change"], t["change"]
        if ch is None:
            continue
        for dom in ch["domains"]:
            if dom != 0 and dom not in after:
                problems.append("%s: a mutation in domain %d at %d, scope "
                                "%s" % (who, dom, e["seq"], sorted(after)))
        if ch["detail"] and after != ALL:
            problems.append("%s: the reason of %s %d with scope %s"
                            % (who, kind, e["seq"], sorted(after)))
        if tch is not None:
            want = [x for x in tch["domains"] if x == 0 or x in after]
            if ch["domains"] != want:
                problems.append("%s: event %d carries domains %s, expected "
                                "%s" % (who, e["seq"], ch["domains"], want))
    for t in truth:
        gs = grants[t["hh"]]
        after = scope_at(gs, who, t["seq"], t["at"])
        before = scope_before(gs, who, t)
        kinds = [x["kind"] for x in mine.get(t["seq"], [])]
        name = KIND_NAMES.get(t["kind"], t["kind"])
        if t["kind"] in (PLAN, ESCALATED, CLOSED, REGIE) and after:
            tch = t["change"] or {"nmut": 0, "domains": []}
            shown = [x for x in tch["domains"] if x == 0 or x in after]
            if (tch["nmut"] == 0 or shown) and t["kind"] not in kinds:
                problems.append("%s: missed %s %d of %s (scope %s)"
                                % (who, name, t["seq"], t["hh"][:8],
                                   sorted(after)))
        if t["kind"] == CONSENT and t["consent"] == GRANTED and after and \
                not before and CONSENT not in kinds:
            problems.append("%s: not told of grant %d that let it in (%d)"
                            % (who, t["grant_id"], t["seq"]))
        if t["kind"] == CONSENT and t["consent"] == REVOKED and before and \
                not after and ACCESS_ENDED not in kinds:
            problems.append("%s: no ACCESS_ENDED at %d (grant %d revoked)"
                            % (who, t["seq"], t["grant_id"]))


@test
def property_each_caller_sees_only_what_it_may_read():
    ops = int(os.environ.get("EENPLAN_FEED_OPS", 60 if VALGRIND else 160))
    nhh = int(os.environ.get("EENPLAN_FEED_HOUSEHOLDS", 6))
    seed = int(os.environ.get("EENPLAN_FEED_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    d = Daemon("feedprop").start()
    hhs = make_households(d, nhh)
    grants = {hh: [] for hh in hhs}
    wait_expiries(random_history(d, rng, hhs, ops, grants))
    truth = truth_of(d, hhs)
    missing = apply_truth(grants, truth)
    check(not missing, "grants without a CONSENT/GRANTED event in the "
          "regisseur's feed: %r" % [(g.hh[:8], g.id) for g in missing])
    problems = []
    for who in CALLERS:
        got, _ = whole_feed(d, who, limit=rng.choice((0, 7, 50)))
        check_caller(who, got, truth, grants, problems)
    check(not problems, "seed %d, %d events: %d problem(s):\n  %s"
          % (seed, len(truth), len(problems), "\n  ".join(problems[:25])))


# ------------------------------------------------------------ subscriptions

def lev_household(d, domains=("financien",)):
    hh = new_household(d)
    gid = cli_grant(d, "henk", hh, "lev", access="contribute",
                    domains=domains)
    return hh, gid


def feed_head(d):
    """The end of the feed now (the regisseur's cursor after reading it)."""
    return whole_feed(d, "wmo")[1]


@test
def revoke_ends_the_push_with_access_ended():
    d = shared()
    hh, gid = lev_household(d)
    head = feed_head(d)
    sub = Subscriber(d, "lev-systeem", since=head)
    try:
        with Raw(d, "wmo") as w, Raw(d, "henk") as h:
            r = w.call(req_mutate(2, hh, [mut_note("financien", "voor")]))
            check(r.code == 0, "MutatePlan: %r" % r)
            r, ev = sub.next(10)
            check(ev is not None and ev["kind"] == PLAN and ev["hh"] == hh,
                  "the first push: %r %r" % (r, ev))
            t0 = time.monotonic()
            revoke_raw(h, 3, hh, gid)
            t1 = time.monotonic()
            # The next frame on the subscriber's connection is the end.
            r, ev = sub.next(10)
            t2 = time.monotonic()
            check(ev is not None and ev["kind"] == ACCESS_ENDED and
                  ev["hh"] == hh, "after the revoke came %r %r" % (r, ev))
            check(t2 - t1 < 2.0, "ACCESS_ENDED %.2f s after the revoke's "
                  "answer" % (t2 - t1))
            r = w.call(req_mutate(4, hh, [mut_note("financien", "na")]))
            check(r.code == 0, "MutatePlan: %r" % r)
            evs = sub.events_for(1.0)
            check(not [e for e in evs if e and e["hh"] == hh],
                  "pushed after its access ended: %r" % evs)
            print("# revoke -> ACCESS_ENDED: %.1f ms after the revoke was "
                  "answered (%.1f ms from sending it)"
                  % ((t2 - t1) * 1e3, (t2 - t0) * 1e3))
    finally:
        sub.close()


@test
def unsubscribe_ends_the_push():
    d = shared()
    hh, _ = lev_household(d)
    sub = Subscriber(d, "lev-systeem", since=feed_head(d))
    try:
        with Raw(d, "wmo") as w:
            check(w.call(req_mutate(2, hh, [mut_note("financien", "a")]))
                  .code == 0, "MutatePlan")
            r, ev = sub.next(10)
            check(ev is not None and ev["hh"] == hh, "push: %r" % r)
            sub.c.send_frame(req_unsubscribe(2, sub.rid))
            seen = {}
            for _ in range(2):
                r = sub.c.recv_frame(10)
                check(r is not None, "closed instead of answering")
                seen[r.id] = r
            check(2 in seen and seen[2].code == 0 and seen[2].body_field == 26,
                  "Unsubscribe's answer: %r" % seen)
            check(sub.rid in seen and seen[sub.rid].code != 0,
                  "the subscription's last answer: %r" % seen)
            check(w.call(req_mutate(3, hh, [mut_note("financien", "b")]))
                  .code == 0, "MutatePlan")
            try:
                r = sub.c.recv_frame(1.0)
                fail("a frame after Unsubscribe: %r" % r)
            except socket.timeout:
                pass
            # The same connection still answers.
            r = sub.c.call(req_get_plan(5, hh))
            check(r.code == 0, "GetPlan after Unsubscribe: %r" % r)
    finally:
        sub.close()


@test
def resume_from_any_cursor_misses_and_repeats_nothing():
    d = shared()
    hhs = [lev_household(d, ())[0] for _ in range(3)]
    start = feed_head(d)
    with Raw(d, "wmo") as w:
        for i in range(30):
            check(w.call(req_mutate(i + 2, hhs[i % 3], [mut_note(
                DOMAIN_IDS[i % 13], "r%d" % i)])).code == 0, "MutatePlan")
    whole, last = whole_feed(d, "lev-systeem", since=start)
    seqs = [e["seq"] for e in whole]
    check(len(seqs) >= 30, "lev-systeem saw %d of 30 changes" % len(seqs))
    # Small pages, resumed from each page's cursor: the same events.
    paged, _ = whole_feed(d, "lev-systeem", since=start, limit=2)
    eq([e["seq"] for e in paged], seqs, "pages of 2 from each cursor")
    # From any seq in between: exactly the rest.
    for cut in (seqs[0], seqs[len(seqs) // 2], seqs[-2]):
        rest, _ = whole_feed(d, "lev-systeem", since=cut)
        eq([e["seq"] for e in rest], [s for s in seqs if s > cut],
           "resumed after %d" % cut)
    # Subscribe from a cursor replays exactly what came after it.
    cut = seqs[len(seqs) // 3]
    sub = Subscriber(d, "lev-systeem", since=cut)
    try:
        got = []
        while len(got) < len([s for s in seqs if s > cut]):
            r, ev = sub.next(10)
            check(ev is not None, "subscription ended: %r" % r)
            got.append(ev["seq"])
        eq(got, [s for s in seqs if s > cut], "Subscribe replay after %d"
           % cut)
    finally:
        sub.close()


def drain_to_end(sub):
    """Reads a subscriber's connection: (frames before the end, the
    subscription's last answer or None)."""
    frames = 0
    while True:
        try:
            r = sub.recv_frame(5)
        except socket.timeout:
            return frames, None
        if r is None:
            return frames, None
        if r.code != 0:
            return frames, r
        frames += 1


@test
def never_reading_subscribers_are_cut_off_and_memory_stays_bounded():
    """Three subscribers that never read, a small subscriber_buffer, and
    writes that push tens of MB at them: each is ended with
    RESOURCE_EXHAUSTED naming the seq to resume from, the daemon's own
    (anonymous) memory stays within a few MB, and resuming works. VmRSS is
    reported too; it also counts the store's mapped file."""
    nsubs, bound_kib = 3, 10 * 1024
    d = Daemon("slowsub", limits={"subscriber_buffer": 262144,
                                  "write_rate": 1073741824,
                                  "write_burst": 4294967296}).start()
    hhs = make_households(d, 60)     # a plan holds at most ~1 MB
    head = feed_head(d)
    subs = []
    for _ in range(nsubs):
        s = Raw(d, "wmo", timeout=30)
        s.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.send_frame(req_subscribe(1, head))
        r = s.recv_frame(10)
        check(r is not None and r.code == 0, "Subscribe: %r" % r)
        subs.append(s)
    pid = d.proc.pid
    time.sleep(0.5)
    base_anon, base_rss = rss_kib(pid), rss_kib(pid, "VmRSS")
    peak = base_anon
    big = "x" * 3500
    pushed, stop_at = 0, None
    with Raw(d, "henk", timeout=60) as w:
        for i in range(1000):
            muts = [mut_note(DOMAIN_IDS[j % 13], big) for j in range(16)]
            r = w.call(req_mutate(i + 1, hhs[i % len(hhs)], muts))
            check(r.code == 0, "MutatePlan %d: %r" % (i, r))
            pushed += 16 * 3500
            if i % 10 == 0:
                peak = max(peak, rss_kib(pid))
                # All cut off: as much again, memory must not follow.
                if stop_at is None and d.log().count(
                        "over subscriber_buffer; ended") >= nsubs:
                    stop_at = max(2 * i, 240)
            if stop_at is not None and i >= stop_at:
                break
    time.sleep(1.0)
    peak = max(peak, rss_kib(pid))
    check(stop_at is not None, "%d subscribers not all cut off after %d MB "
          "of events; log:\n%s" % (nsubs, pushed >> 20, d.log_tail()))
    ends = []
    for s in subs:
        frames, last = drain_to_end(s)
        s.close()
        check(last is not None and last.code == 8,
              "a subscription's end: %r after %d frames" % (last, frames))
        check("subscribe again from seq" in last.message,
              "the end does not say where to resume: %r" % last.message)
        ends.append((frames, int(last.message.rsplit(" ", 1)[1])))
    growth = peak - base_anon
    unsent = nsubs * pushed - sum(f for f, _ in ends) * 16 * 3500
    print("# %d subscribers that never read: cut off after %s frames; %d MB "
          "of events meant for them unsent; daemon RssAnon %d -> peak %d kB "
          "(+%d kB), VmRSS %d -> %d kB" % (
              nsubs, [f for f, _ in ends], unsent >> 20, base_anon, peak,
              growth, base_rss, rss_kib(pid, "VmRSS")))
    check(unsent > 2 * bound_kib * 1024, "too little was pushed to tell "
          "(%d MB)" % (unsent >> 20))
    if sanitized(pid):
        print("# (ASan/valgrind: the memory bound is not checked)")
    else:
        check(growth < bound_kib, "daemon anonymous memory grew by %d kB "
              "with %d MB of events left unread" % (growth, unsent >> 20))
    # Resuming from the seq the end named gives the rest.
    resume = ends[0][1]
    with Raw(d, "wmo", timeout=30) as c:
        evs, _, _ = read_changes_page(c, 1, resume, 5)
    check(evs and evs[0]["seq"] == resume + 1,
          "ReadChanges after %d: %r" % (resume, evs[:1]))
    d.stop()


# ------------------------------------------- what an exact mirror needs

@test
def expiry_ends_access_with_access_ended():
    """A grant that runs out must end the reader's copy like a revoke does:
    ACCESS_ENDED in ReadChanges and pushed to a subscriber."""
    d = shared()
    hh = new_household(d)
    head = feed_head(d)
    sub = Subscriber(d, "lev-systeem", since=head)
    try:
        with Raw(d, "henk") as h:
            until = now_us() + 1500000
            gid = grant_raw(h, 2, hh, "lev", access=READ,
                            scope=(DOMAINS["financien"],), until=until)
        evs = sub.events_for(4.0)
    finally:
        sub.close()
    kinds = [(e["seq"], KIND_NAMES[e["kind"]], e["consent"]) for e in evs
             if e and e["hh"] == hh]
    got, _ = whole_feed(d, "lev-systeem", since=head)
    mine = [(e["seq"], KIND_NAMES[e["kind"]]) for e in got if e["hh"] == hh]
    regie = [(e["seq"], e["consent"]) for e in whole_feed(d, "wmo",
             since=head)[0] if e["hh"] == hh and e["kind"] == CONSENT]
    check(any(c == EXPIRED for _, c in regie), "no CONSENT/EXPIRED for "
          "grant %d in the regisseur's feed: %r" % (gid, regie))
    check(("ACCESS_ENDED" in [k for _, k in mine]) and
          ("ACCESS_ENDED" in [k for _, k, _ in kinds]),
          "grant %d expired (regisseur's feed: %r) but lev-systeem got no "
          "ACCESS_ENDED: ReadChanges %r, pushed %r — daemon/feed.c "
          "feed_view decides the state before the expiry at the sweep's "
          "time, when the grant has already run out" % (gid, regie, mine,
                                                          kinds))


@test
def narrowed_scope_is_told():
    """A reader with two grants loses one: its view shrinks (financien goes)
    and a mirror must hear of it to drop what it may no longer keep."""
    d = shared()
    hh = new_household(d)
    g1 = cli_grant(d, "henk", hh, "lev", domains=("financien",))
    cli_grant(d, "henk", hh, "lev", domains=("sociaal_netwerk",))
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "schulden")
    before = plan_json(d, "lev-systeem", hh)
    head = feed_head(d)
    cli_ok(d, "henk", "consent", "revoke", hh, g1)
    after = plan_json(d, "lev-systeem", hh)
    check(before != after, "the plan LEV reads did not change")
    got = [e for e in whole_feed(d, "lev-systeem", since=head)[0]
           if e["hh"] == hh]
    check(got, "lev-systeem's view of %s lost financien (grant %d revoked) "
          "but its feed says nothing, so a mirror keeps the financien notes "
          "— daemon/feed.c feed_visible shows CONSENT events only to who "
          "keeps the consent or whom they let in" % (hh[:8], g1))


@test
def plan_change_outside_the_scope_leaves_the_view_alone():
    """What a scoped reader gets from GetPlan moves only with events it is
    given; else a mirror can never equal GetPlan."""
    d = shared()
    hh = new_household(d)
    cli_grant(d, "henk", hh, "lev", domains=("financien",))
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text", "a")
    before = plan_json(d, "lev-systeem", hh)
    head = feed_head(d)
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "justitie", "--text", "b")
    after = plan_json(d, "lev-systeem", hh)
    got = [e for e in whole_feed(d, "lev-systeem", since=head)[0]
           if e["hh"] == hh]
    diff = sorted(k for k in set(before) | set(after)
                  if before.get(k) != after.get(k))
    check(not diff or got, "a change wholly outside lev's scope gave no "
          "event, yet its GetPlan changed in %s — daemon: a scoped view "
          "(plan.c plan_view) keeps the plan's version and updated_at"
          % diff)


@test
def signal_in_the_plan_is_in_the_feed():
    """A whole-plan reader sees a household's signals in GetPlan; then its
    feed must carry them too, or its mirror misses them."""
    d = shared()
    hh = new_household(d)
    cli_grant(d, "henk", hh, "lev")             # all domains
    head = feed_head(d)
    with Raw(d, "senzer") as s:
        check(s.call(req_send_signal(1, hh, "financien", "Wmo-aanvraag"))
              .code == 0, "SendSignal")
    plan = plan_json(d, "lev-systeem", hh)
    in_plan = [x.get("text") for x in plan.get("signals", [])]
    got = [e for e in whole_feed(d, "lev-systeem", since=head)[0]
           if e["hh"] == hh and e["kind"] == SIGNAL]
    check(not in_plan or got, "lev-systeem reads the whole plan and sees "
          "signal(s) %r in GetPlan, but its feed has no SIGNAL event — "
          "daemon/feed.c feed_visible gives SIGNAL to the regisseur only"
          % in_plan)


@test
def subscribers_get_every_event_under_load():
    """Pushes keep up with commits that land while a round of pushes is
    still waiting for its audit record: when a burst of writes stops, every
    event arrives at every subscriber (none waits for a later commit to
    wake it). Several subscribers and bursts: each burst's end is a chance
    to lose the last wake-up."""
    import threading
    d = Daemon("pushload", limits={"write_rate": 1073741824,
                                   "write_burst": 4294967296}).start()
    # Under valgrind 4 households and 2 bursts (the race needs speed the
    # normal and ASan runs have; valgrind looks for leaks on the path).
    hhs = make_households(d, 4 if VALGRIND else 8)
    head = feed_head(d)
    subs = [Subscriber(d, "wmo", since=head, timeout=30) for _ in range(4)]
    got = [[] for _ in subs]
    errors = []

    def write(hh, burst):
        try:
            with Raw(d, "wmo", timeout=30) as c:
                for i in range(20 if not VALGRIND else 6):
                    r = c.call(req_mutate(i + 2, hh, [mut_note(
                        DOMAIN_IDS[i % 13], "burst %d %d" % (burst, i))]))
                    if r.code != 0:
                        errors.append(r)
        except Exception as e:      # noqa: BLE001 — told below
            errors.append(e)

    def read(k, seconds):
        got[k] += [e["seq"] for e in subs[k].events_for(seconds) if e]
    try:
        for burst in range(2 if VALGRIND else 3):
            ts = [threading.Thread(target=write, args=(hh, burst))
                  for hh in hhs]
            for t in ts:
                t.start()
            while any(t.is_alive() for t in ts):
                for k in range(len(subs)):
                    read(k, 0.05)
            check(not errors, "writes failed: %r" % errors[:3])
            for k in range(len(subs)):
                read(k, 1.5 / len(subs))
            want = [e["seq"] for e in whole_feed(d, "wmo", since=head)[0]]
            for k in range(len(subs)):
                read(k, 0.3)
                missing = sorted(set(want) - set(got[k]))
                check(not missing, "burst %d: subscriber %d lacks %d of %d "
                      "events after the last commit, e.g. seqs %s — "
                      "daemon/sub.c subs_pump skips a subscription whose "
                      "round is with the writer, and nothing runs another "
                      "round for what committed meanwhile" % (
                          burst, k, len(missing), len(want), missing[:8]))
                eq(got[k], want, "subscriber %d: pushed seqs (in order, "
                   "once each)" % k)
    finally:
        for s in subs:
            s.close()
    d.stop()


@test
def grant_that_starts_later_is_told_when_it_starts():
    """A grant with valid_from ahead lets its grantee in when that moment
    passes; like an expiry, the feed must say so then, or a mirror never
    fetches the plan until the household happens to change."""
    d = shared()
    hh = new_household(d)
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "er was eens")
    head = feed_head(d)
    with Raw(d, "henk") as h:
        r = h.call(req_grant(2, hh, "lev", access=READ,
                             valid_from=now_us() + 1500000))
        check(r.code == 0, "GrantConsent: %r" % r)
    time.sleep(3.0)
    r = cli(d, "lev-systeem", "plan", "show", hh)
    check(r.rc == 0, "the grant has started, yet: %r" % r)
    got = [e for e in whole_feed(d, "lev-systeem", since=head)[0]
           if e["hh"] == hh]
    check(got, "lev-systeem may read %s since its grant started, but its "
          "feed has no event for it — daemon: grants are swept at their "
          "valid_until (household.c household_expire_due), not at their "
          "valid_from" % hh[:8])
