"""Optimistic concurrency: a stale expected_version fails with ABORTED and
applies nothing (DESIGN.md, "The plan")."""
from harness import (test, shared, Raw, cli_ok, cli_refused, new_household,
                     plan_json, eq, req_mutate, req_get_plan, mut_add_goal,
                     plan_summary, req_create, created_household)


@test
def stale_expect_version_cli():
    d = shared()
    hh = new_household(d)
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text", "G1")
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text", "G2",
           "--expect-version", "2")
    before = plan_json(d, "wmo", hh)
    eq(int(before["version"]), 3, "version")
    cli_refused(d, "wmo", "ABORTED", "goal", "add", hh, "--domain",
                    "financien", "--text", "stale", "--expect-version", "2")
    after = plan_json(d, "wmo", hh)
    eq(after, before, "plan after a refused stale write")
    eq([g["text"] for g in after.get("goals", [])], ["G1", "G2"], "goals")
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text", "G3",
           "--expect-version", "3")
    eq(int(plan_json(d, "wmo", hh)["version"]), 4, "version after a current write")


@test
def stale_expect_version_raw():
    d = shared()
    with Raw(d, "wmo") as c:
        hh = created_household(c.call(req_create(1)))
        eq(c.call(req_mutate(2, hh, mut_add_goal(1, "A"))).code, 0, "first write")
        for i, ev in enumerate((1, 3, 1 << 40)):   # stale, future, absurd
            r = c.call(req_mutate(10 + i, hh, mut_add_goal(1, "B"),
                                  mut_add_goal(2, "C"), expected_version=ev))
            eq((r.id, r.code_name), (10 + i, "ABORTED"),
               "expected_version %d against version 2: %r" % (ev, r))
        v, n, texts = plan_summary(c.call(req_get_plan(20, hh)))
        eq((v, texts), (2, ["A"]), "plan after refused writes")
        r = c.call(req_mutate(21, hh, mut_add_goal(1, "B"), mut_add_goal(2, "C"),
                              expected_version=2))
        eq(r.code, 0, "write with the current version: %r" % r)
        v, n, texts = plan_summary(c.call(req_get_plan(22, hh)))
        eq((v, texts), (3, ["A", "B", "C"]), "two mutations, one version")
