"""Default deny: a caller without access gets PERMISSION_DENIED, and exactly
the same answer whether or not the household exists (DESIGN.md, "Consent")."""
from harness import (test, shared, Raw, cli, cli_ok, cli_refused, new_household,
                     random_hhid, check, eq, req_get_plan, req_mutate,
                     req_history, mut_add_goal, plan_json)

OUTSIDERS = ("savant", "lev", "wmo2", "lisa", "huisarts")


@test
def unauthorised_read_same_as_missing_cli():
    d = shared()
    hh = new_household(d)
    missing = random_hhid()
    for who in OUTSIDERS:
        for args in (("plan", "show"), ("history",)):
            a = cli_refused(d, who, "PERMISSION_DENIED", *args, hh)
            b = cli_refused(d, who, "PERMISSION_DENIED", *args, missing)
            eq(a.err, b.err, "%s %s: stderr for an existing household vs a "
               "missing one" % (who, " ".join(args)))
            check(a.out == b.out == "", "stdout on a denial: %r / %r" % (a.out, b.out))
        a = cli_refused(d, who, "PERMISSION_DENIED", "goal", "add", hh,
                        "--domain", "financien", "--text", "x")
        b = cli_refused(d, who, "PERMISSION_DENIED", "goal", "add", missing,
                        "--domain", "financien", "--text", "x")
        eq(a.err, b.err, "%s goal add: stderr existing vs missing" % who)
    # Nothing changed, and the household still reads fine for its members.
    eq(int(plan_json(d, "henk", hh)["version"]), 1, "version after denials")


@test
def unauthorised_read_same_as_missing_raw():
    """Byte for byte: the whole Response frame is the same."""
    d = shared()
    hh = new_household(d)
    missing = random_hhid()
    with Raw(d, "savant") as c:
        for mk in (lambda h: req_get_plan(5, h),
                   lambda h: req_get_plan(5, h, version=1),
                   lambda h: req_history(5, h),
                   lambda h: req_mutate(5, h, mut_add_goal(1, "x"))):
            a = c.call(mk(hh))
            b = c.call(mk(missing))
            eq((a.id, a.code_name), (5, "PERMISSION_DENIED"), "answer %r" % a)
            eq(a.raw, b.raw, "response bytes for an existing vs a missing household")
            check(a.body_field is None, "a denial carries a body: %r" % a)
    r = cli_ok(d, "wmo", "plan", "show", hh)
    check(hh in r.out or "a.devries" in r.out, "plan still readable: %r" % r)


@test
def member_reads_outsider_does_not_list():
    d = shared()
    hh = new_household(d)
    cli_ok(d, "henk", "plan", "show", hh)
    r = cli(d, "anja", "plan", "show", hh)     # not a member of this one
    check(r.rc == 1 and "PERMISSION_DENIED" in r.err,
          "anja (not a member) reading: expected PERMISSION_DENIED, got %r" % r)


def _timed_refusals(c, mk, hh, n):
    """n refused requests for hh and n for missing households, interleaved
    (order alternating per pair): (times existing, times missing, answers)."""
    import time
    a, b, answers = [], [], set()
    for i in range(n):
        order = (hh, random_hhid()) if i % 2 == 0 else (random_hhid(), hh)
        for target in order:
            t0 = time.perf_counter()
            r = c.call(mk(target))
            dt = time.perf_counter() - t0
            answers.add((r.code_name, r.message, r.body_field))
            (a if target == hh else b).append(dt)
    return a, b, answers


@test
def refusal_costs_the_same_for_a_big_household():
    """A refusal of a household with a ~240 KB plan costs what the refusal
    of a random id costs (interleaved medians within 12 %, in one of three
    runs): a stranger cannot tell from the time that it exists. GetPlan,
    an old version, the history and a change."""
    import statistics
    from harness import mut_add_note, VALGRIND
    d = shared()
    hh = new_household(d)
    with Raw(d, "wmo") as c:
        for rid in range(1, 5):
            r = c.call(req_mutate(rid, hh, *[mut_add_note(1, "x" * 3900)
                                             for _ in range(15)]))
            eq(r.code_name, "OK", "notes for the big plan")
    n = 40 if VALGRIND else 150
    with Raw(d, "savant") as c:
        for what, mk in (("GetPlan", lambda h: req_get_plan(7, h)),
                         ("GetPlan v2", lambda h: req_get_plan(7, h, 2)),
                         ("GetHistory", lambda h: req_history(7, h)),
                         ("MutatePlan", lambda h: req_mutate(
                             7, h, mut_add_goal(1, "x")))):
            for attempt in range(3):
                a, b, answers = _timed_refusals(c, mk, hh, n)
                eq(len(answers), 1, "%s: answers for an existing and a "
                   "missing household: %r" % (what, answers))
                ma, mb = statistics.median(a), statistics.median(b)
                ratio = max(ma, mb) / min(ma, mb)
                print("# refused %s: existing %.3f ms, missing %.3f ms "
                      "(%d each, interleaved; ratio %.2f)"
                      % (what, ma * 1e3, mb * 1e3, n, ratio))
                if ratio < (1.5 if VALGRIND else 1.12):
                    break
            else:
                check(False, "refused %s costs differ: existing %.3f ms vs "
                      "missing %.3f ms (medians, 3 runs)"
                      % (what, ma * 1e3, mb * 1e3))
