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
