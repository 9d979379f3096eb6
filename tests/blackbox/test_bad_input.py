"""Bad values get INVALID_ARGUMENT naming the field, and change nothing
(DESIGN.md, "The plan"; limits from proto/eenplan.proto)."""
from harness import (test, shared, Raw, cli, plan_json, new_household, check, eq,
                     f_bytes, f_varint, req, req_mutate, req_get_plan, req_create,
                     created_household, plan_summary, mut_add_goal,
                     mut_add_assessment, mut_add_note, mut_target, member)

A2000 = "a" * 2000

BAD = [
    # (what, mutation bytes, a word the message must name)
    ("goal text of 2001 characters", mut_add_goal(1, "a" * 2001), "text"),
    ("empty goal text", mut_add_goal(1, ""), "text"),
    ("goal text not UTF-8", mut_add_goal(1, b"ok \xff\xfe bad"), "text"),
    ("target date 2026-02-30", mut_add_goal(1, "x", "2026-02-30"), "target_date"),
    ("target date 2026-13-01", mut_add_goal(1, "x", "2026-13-01"), "target_date"),
    ("target date 30-06-2027", mut_add_goal(1, "x", "30-06-2027"), "target_date"),
    ("goal domain 14", mut_add_goal(14, "x"), "domain"),
    ("goal without domain", mut_add_goal(0, "x"), "domain"),
    ("assessment score 6", mut_add_assessment(1, 6), "score"),
    ("assessment score 0", mut_add_assessment(1, 0), "score"),
    ("assessment remark of 2001", mut_add_assessment(1, 3, "r" * 2001), "remark"),
    ("note text of 4001", mut_add_note(1, "n" * 4001), "text"),
    ("target score 6", mut_target(1, 6), "score"),
    ("empty mutation", b"", "op"),
]


@test
def invalid_values_raw():
    d = shared()
    with Raw(d, "wmo") as c:
        hh = created_household(c.call(req_create(1)))
        base = c.call(req_get_plan(2, hh)).raw
        for i, (what, mut, field) in enumerate(BAD):
            r = c.call(req_mutate(100 + i, hh, mut))
            check(r.id == 100 + i and r.code_name == "INVALID_ARGUMENT",
                  "%s: expected INVALID_ARGUMENT, got %r" % (what, r))
            check(field in r.message,
                  "%s: message does not name %r: %r" % (what, field, r.message))
        # A valid mutation followed by an invalid one: all or nothing.
        r = c.call(req_mutate(200, hh, mut_add_goal(1, "valid"),
                              mut_add_assessment(1, 6)))
        check(r.code_name == "INVALID_ARGUMENT" and "score" in r.message,
              "mixed batch: %r" % r)
        r = c.call(req_mutate(201, hh))
        check(r.code_name == "INVALID_ARGUMENT" and "mutation" in r.message,
              "no mutations: %r" % r)
        r = c.call(req_mutate(202, hh, *[mut_add_note(1, "n")] * 65))
        check(r.code_name == "INVALID_ARGUMENT" and "mutation" in r.message,
              "65 mutations: %r" % r)
        eq(c.call(req_get_plan(2, hh)).raw, base, "plan after refused writes")
        # The limits themselves are fine.
        r = c.call(req_mutate(300, hh, mut_add_goal(13, A2000, "2028-02-29"),
                              mut_add_note(1, "n" * 4000),
                              mut_add_assessment(1, 5), mut_add_assessment(2, 1)))
        eq(r.code_name, "OK", "values at the limits: %r" % r)
        v, n, texts = plan_summary(c.call(req_get_plan(301, hh)))
        eq((v, texts), (2, [A2000]), "plan after the write at the limits")


@test
def invalid_intake_raw():
    d = shared()
    with Raw(d, "wmo") as c:
        cases = [
            ("no members", req(1, 11, f_varint(1, 1) + f_bytes(3, "REF")), "members"),
            ("area 9", req_create(1, area=9), "area"),
            ("no consent reference", req_create(1, ref=""), "consent_reference"),
            ("person id with a space", req_create(
                1, members=(("henk desmet", "Henk", ""),)), "person_id"),
            ("member name of 201", req_create(
                1, members=(("p1", "n" * 201, ""),)), "name"),
            ("17 members", req(1, 11, f_varint(1, 1) + b"".join(
                f_bytes(2, member("p%d" % i, "N")) for i in range(17))
                + f_bytes(3, "REF")), "members"),
            ("the same member twice", req_create(
                1, members=(("p1", "A", ""), ("p1", "B", ""))), "person_id"),
        ]
        for what, body, field in cases:
            r = c.call(body)
            check(r.code_name == "INVALID_ARGUMENT" and field in r.message,
                  "intake with %s: expected INVALID_ARGUMENT naming %r, got %r"
                  % (what, field, r))
        r = c.call(req_create(2))
        eq(r.code_name, "OK", "a valid intake after the refused ones: %r" % r)


@test
def invalid_values_cli():
    """Values the CLI passes on; a CLI that refuses them itself (exit 2) is
    fine too, but then the daemon check is the raw test's."""
    d = shared()
    hh = new_household(d)
    before = plan_json(d, "wmo", hh)
    cases = [
        (("goal", "add", hh, "--domain", "financien", "--text", "a" * 2001), "text"),
        (("goal", "add", hh, "--domain", "financien", "--text", "x",
          "--target-date", "2026-02-30"), "target_date"),
        (("assess", hh, "--domain", "financien", "--score", "6"), "score"),
        (("note", "add", hh, "--domain", "financien", "--text", "n" * 4001), "text"),
    ]
    for args, field in cases:
        r = cli(d, "wmo", *args)
        if r.rc == 2:
            continue
        check(r.rc == 1 and r.err.startswith("eenplan: INVALID_ARGUMENT: ")
              and field in r.err,
              "eenplan %s: expected exit 1, INVALID_ARGUMENT naming %r, got %r"
              % (" ".join(a[:30] for a in args[:4]), field, r))
    eq(plan_json(d, "wmo", hh), before, "plan after refused CLI writes")
