"""Signals (vroegsignalering) against the real daemon: the sender learns
nothing (the same answer, at a similar cost, for an existing and a missing
household), the regisseur receives a signal in its feed, live in watch and
in `eenplan signals`; the household sees it in its access log and in its
plan; the sender sees only its own; a scoped reader and an auditor never
see a signal's text."""
import json
import os
import statistics
import time

from harness import (Raw, test, check, eq, fail, cli, cli_ok, new_household,
                     plan_json, random_hhid, shared, wait_until, pb_decode,
                     pb_get, VALGRIND)
from consentlib import grant as cli_grant
from feedlib import SIGNAL, req_send_signal, whole_feed
from test_sync import Watch

TEXT = "Wmo-aanvraag scootmobiel; vermoedelijk ook schulden (huurachterstand)"


def receipt(r):
    check(r.body_field == 27, "not a SendSignalResponse: %r" % r)
    return pb_get(pb_decode(r.body), 1, 0)


def timed_pairs(c, hh, n):
    """n SendSignals to hh and n to missing households, interleaved (order
    alternating per pair); (times_existing, times_missing, answers)."""
    a, b, answers = [], [], set()
    rid = 100
    for i in range(n):
        order = (hh, random_hhid()) if i % 2 == 0 else (random_hhid(), hh)
        for target in order:
            rid += 1
            t0 = time.perf_counter()
            r = c.call(req_send_signal(rid, target, "financien",
                                       "timing %d" % i))
            dt = time.perf_counter() - t0
            check(receipt(r) > 0, "no receipt: %r" % r)
            answers.add((r.code, r.message, r.body_field, r.has_status))
            (a if target == hh else b).append(dt)
    return a, b, answers


def same_cost(d, hh, what):
    """SendSignal to hh and to missing households, interleaved: one answer
    for both, and the same cost (medians within 12 %, in one of 3 runs)."""
    n = 60 if VALGRIND else 200
    with Raw(d, "senzer", timeout=30) as c:
        for attempt in range(3):
            a, b, answers = timed_pairs(c, hh, n)
            eq(len(answers), 1, "answers (code, message, body) for %s and "
               "a missing household: %r" % (what, answers))
            ma, mb = statistics.median(a), statistics.median(b)
            ratio = max(ma, mb) / min(ma, mb)
            print("# SendSignal median: %s %.2f ms, missing %.2f ms "
                  "(%d each, interleaved; ratio %.2f)"
                  % (what, ma * 1e3, mb * 1e3, n, ratio))
            # Each send is a commit (one fsync): a noisy disk can swing a
            # run; a real difference shows in every run. Under valgrind the
            # CPU work (the existing household's record, signal and event)
            # weighs ~8x more against the fsync.
            if ratio < (3.0 if VALGRIND else 1.12):
                break
        else:
            fail("SendSignal costs differ: %s %.2f ms vs missing %.2f ms "
                 "(medians, 3 runs)" % (what, ma * 1e3, mb * 1e3))


@test
def same_answer_and_cost_for_existing_and_missing_household():
    d = shared()
    hh = new_household(d)
    same_cost(d, hh, "an existing household")
    # The receipts are the sender's own numbers, nothing about the household.
    r1 = cli_ok(d, "senzer", "signal", "send", hh, "--domain", "financien",
                "--text", "x")
    r2 = cli_ok(d, "senzer", "signal", "send", random_hhid(), "--domain",
                "financien", "--text", "x")
    eq(r1.out.split("(receipt")[0], r2.out.split("(receipt")[0],
       "the CLI's words for an existing and a missing household")


@test
def closed_household_answers_as_a_missing_one():
    """A signal to a closed household: nobody is told, and the sender gets
    the answer a missing household gives, at the same cost (it failed with
    INTERNAL once: its decoy wrote into the household's own keys), and
    keeps its own copy."""
    d = shared()
    hh = new_household(d)
    cli_ok(d, "wmo", "close", hh, "--reason", "doelen bereikt")
    answers = set()
    with Raw(d, "senzer", timeout=30) as c:
        for i, target in enumerate((hh, random_hhid(), hh, random_hhid())):
            r = c.call(req_send_signal(200 + i, target, "financien",
                                       "gesloten %d" % i))
            check(receipt(r) > 0, "no receipt: %r" % r)
            answers.add((r.code, r.message, r.body_field, r.has_status))
    eq(len(answers), 1, "answers for a closed and a missing household: %r"
       % answers)
    eq(list(answers)[0][0], 0, "the code")
    r = cli_ok(d, "senzer", "signals", hh, json=True)
    eq(sorted(s["text"] for s in r.data["signals"]),
       ["gesloten 0", "gesloten 2"], "senzer: its own copies")
    r = cli_ok(d, "wmo", "signals", json=True)
    check("gesloten" not in json.dumps(r.data), "the regisseur was told")
    # Nor does the time it takes tell a closed household from none.
    same_cost(d, hh, "a closed household")
    check("DATA LOSS" not in d.log(), "the daemon logged damage")


@test
def regisseur_receives_household_sees_sender_sees_own():
    d = shared()
    hh = new_household(d)
    # LEV reads financien only; a second household keeps others' signals.
    cli_grant(d, "henk", hh, "lev", domains=("financien",))
    cli_ok(d, "henk", "consent", "grant", hh, "--to", "burgers/lisa.desmet",
           "--access", "read", "--domain", "huisvesting", "--purpose",
           "mantelzorg")
    head = whole_feed(d, "wmo")[1]
    w = Watch(d, "wmo", "--json")
    try:
        time.sleep(1.0)
        cli_ok(d, "senzer", "signal", "send", hh, "--domain", "financien",
               "--text", TEXT)
        cli_ok(d, "lev", "signal", "send", hh, "--domain",
               "sociaal_netwerk", "--text", "LEV: geen netwerk")
        # The regisseur: live in watch, in its feed, in `signals`.
        wait_until(lambda: len([e for e in w.lines()
                                if e["kind"] == "CHANGE_SIGNAL"]) >= 2, 10,
                   "the signals in the regisseur's watch")
        sigs = [e for e in w.lines() if e["kind"] == "CHANGE_SIGNAL"]
        eq(sigs[0]["signal"]["text"], TEXT, "watch: the signal's text")
        eq(sigs[0]["signal"]["from"]["org"], "senzer", "watch: its sender")
        w.stop()
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
    feed = [e for e in whole_feed(d, "wmo", since=head)[0]
            if e["kind"] == SIGNAL and e["hh"] == hh]
    eq([e["signal"]["text"] for e in feed], [TEXT, "LEV: geen netwerk"],
       "the regisseur's ReadChanges")
    r = cli_ok(d, "wmo", "signals", json=True)
    got = [s["text"] for s in r.data["received"] if s["household_id"] == hh]
    eq(got, [TEXT, "LEV: geen netwerk"], "wmo: signals (received)")
    r = cli_ok(d, "wmo", "signals")
    check(TEXT in r.out and "from senzer/m.vandijk" in r.out, r.out)
    # The household: its plan, `signals HH`, and its access log.
    plan = plan_json(d, "henk", hh)
    eq([s["text"] for s in plan.get("signals", [])],
       [TEXT, "LEV: geen netwerk"], "henk: plan show's signals")
    r = cli_ok(d, "henk", "plan", "show", hh)
    check("Signals (to the regisseur)" in r.out and TEXT in r.out and
          "[Financiën] from senzer/m.vandijk" in r.out,
          "henk: plan show (text) lacks the signal:\n%s" % r.out)
    r = cli_ok(d, "henk", "signals", hh, json=True)
    eq(len(r.data["signals"]), 2, "henk: signals HH")
    r = cli_ok(d, "henk", "audit", hh, "--all-pages", json=True)
    recs = r.data.get("records", [])
    sent = [x for x in recs if x.get("action") == "SendSignal"]
    eq(sorted(x["actor"]["org"] for x in sent), ["lev", "senzer"],
       "henk's access log: who passed a signal")
    check(all(TEXT not in json.dumps(x) for x in recs),
          "the signal's text in the access log")
    r = cli_ok(d, "henk", "audit", hh)
    check("passed a signal" in r.out, "henk: audit (text):\n%s" % r.out)
    # The sender sees its own and no other.
    r = cli_ok(d, "senzer", "signals", hh, json=True)
    eq([s["text"] for s in r.data["signals"]], [TEXT], "senzer: signals HH")
    r = cli_ok(d, "senzer", "signals", json=True)
    check(TEXT in [s["text"] for s in r.data["sent"]], "senzer: sent")
    check("LEV: geen netwerk" not in json.dumps(r.data), "senzer sees LEV's")
    eq(r.data["received"], [], "senzer directs no household")
    r = cli_ok(d, "lev", "signals", hh, json=True)
    eq([s["text"] for s in r.data["signals"]], ["LEV: geen netwerk"],
       "lev: signals HH (its own only)")


@test
def scoped_reader_and_auditor_never_see_the_text():
    d = shared()
    hh = new_household(d)
    cli_grant(d, "henk", hh, "lev", domains=("financien",))
    cli_ok(d, "henk", "consent", "grant", hh, "--to", "burgers/lisa.desmet",
           "--access", "read", "--domain", "huisvesting", "--purpose",
           "mantelzorg")
    secret = "GEHEIM-%s" % hh[:8]
    cli_ok(d, "senzer", "signal", "send", hh, "--domain", "financien",
           "--text", secret)
    outputs = []
    for who in ("lev", "lev-systeem", "lisa"):
        outputs.append(cli_ok(d, who, "plan", "show", hh, json=True).out)
        outputs.append(cli_ok(d, who, "plan", "show", hh).out)
        outputs.append(cli_ok(d, who, "changes", "--limit", "1000",
                              json=True).out)
        outputs.append(cli_ok(d, who, "signals", hh, json=True).out)
        outputs.append(cli_ok(d, who, "history", hh, json=True).out)
    for who in ("privacy-lev", "privacy-gemeente"):
        r = cli(d, who, "audit", "--org", "--all-pages", json=True)
        outputs.append(r.out + r.err)
        r = cli(d, who, "signals", hh, json=True)
        outputs.append(r.out + r.err)
        r = cli(d, who, "plan", "show", hh)
        outputs.append(r.out + r.err)
    for i, out in enumerate(outputs):
        check(secret not in out, "the signal's text leaked (output %d): %s"
              % (i, out[:300]))
    # And the regisseur does see it (the text is there to be found).
    check(secret in cli_ok(d, "wmo", "signals", hh).out, "wmo: signals HH")
