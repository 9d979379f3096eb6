"""Regressions from the review of the handlers (daemon/op_*.c, dispatch.c):
what a caller may learn about items, grants and other households it may
not see, the plan's size limit, and QueryAudit's bounded paging."""
import time

from harness import (test, shared, Daemon, Raw, cli, cli_ok, cli_refused,
                     new_household, plan_json, check, eq, random_hhid,
                     req, f_bytes, f_varint, pb_decode, pb_get,
                     req_get_plan)
from consentlib import (audit_records, body, grant, households, mut,
                        req_revoke, DENY_MSG)


@test
def household_log_hides_other_households_of_a_listing():
    # Its own daemon: lev's caseload is A and B, listed on one page.
    d = Daemon("listing").start()
    a = new_household(d, members=("henk.desmet:Henk de Smet:ouder",))
    b = new_household(d, members=("anja.desmet:Anja de Smet:ouder",))
    for hh in (a, b):
        grant(d, "wmo", hh, "lev/s.bakker", "read", purpose="bb-review",
              form_ref="FORM-REVIEW-1")
    ids = households(d, "lev")
    check(a in ids and b in ids, "lev's caseload lacks A or B: %r" % ids)
    r = cli_ok(d, "henk", "audit", a, "--all-pages", json=True)
    text = r.out
    recs = body(r.data, "query_audit").get("records", [])
    lists = [x for x in recs if x.get("action") == "ListHouseholds"]
    check(lists, "henk does not see lev's listing in A's log: %r" % recs)
    for x in lists:
        eq(x.get("listed_households", []), [a], "listed households shown "
           "to henk")
        eq(x.get("detail", ""), "", "detail of a listing shown to henk")
        eq(x["actor"]["org"], "lev", "the lister's organisation")
    check(b not in text, "henk's view of A's log names household B")
    check("household(s)" not in text,
          "henk's view of A's log tells the size of lev's caseload")
    # Lev's privacy officer reads the listing whole.
    recs = audit_records(d, "privacy-lev", a, org=True)
    full = [x for x in recs if x.get("action") == "ListHouseholds"
            and a in x.get("listed_households", [])
            and b in x.get("listed_households", [])]
    check(full, "the auditor lacks a listing naming A and B: %r" % recs)
    check("household(s)" in full[-1].get("detail", ""),
          "the auditor's listing lost its detail: %r" % full[-1])
    d.stop()


@test
def mutate_probe_missing_and_out_of_scope_items_alike():
    d = shared()
    hh = new_household(d)
    g_fin = mut(d, "wmo", "goal", "add", hh, "--domain", "financien",
                "--text", "Budget op orde")
    g_hv = mut(d, "wmo", "goal", "add", hh, "--domain", "huisvesting",
               "--text", "Woning behouden")
    mut(d, "wmo", "action", "add", hh, "--goal", g_fin, "--text",
        "Budgetcoaching", "--owner", "lev")
    a_hv = mut(d, "wmo", "action", "add", hh, "--goal", g_hv, "--text",
               "Woonbegeleiding", "--owner", "lev")
    grant(d, "wmo", hh, "lev/s.bakker", "contribute", domains=("financien",),
          purpose="schuldhulp", form_ref="FORM-REVIEW-2")
    v = plan_json(d, "wmo", hh)["version"]
    for verb in ("accept", "cancel"):
        there = cli_refused(d, "lev", "PERMISSION_DENIED", "action", verb,
                            hh, a_hv)
        missing = cli_refused(d, "lev", "PERMISSION_DENIED", "action", verb,
                              hh, 999999)
        eq(missing.err, there.err, "lev %s: stderr for a missing vs an "
           "out-of-scope action" % verb)
        missing_goal = cli_refused(d, "lev", "PERMISSION_DENIED", "action",
                                   "add", hh, "--goal", 999999, "--text",
                                   "x", "--owner", "lev")
        eq(missing_goal.err, there.err, "lev: stderr for a missing goal")
    eq(plan_json(d, "wmo", hh)["version"], v, "version after lev's probes")
    # The regisseur sees everything: a missing item is simply not found.
    cli_refused(d, "wmo", "NOT_FOUND", "action", "accept", hh, 999999)


@test
def mutate_probe_reader_refused_before_lookup():
    d = shared()
    hh = new_household(d)
    g = mut(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
            "Budget op orde")
    a = mut(d, "wmo", "action", "add", hh, "--goal", g, "--text",
            "Budgetcoaching", "--owner", "lev")
    grant(d, "wmo", hh, "lev/s.bakker", "read", purpose="bb-review",
          form_ref="FORM-REVIEW-3")
    there = cli_refused(d, "lev", "PERMISSION_DENIED", "action", "accept",
                        hh, a)
    missing = cli_refused(d, "lev", "PERMISSION_DENIED", "action", "accept",
                          hh, 999999)
    eq(missing.err, there.err, "reader: stderr for a missing vs an existing "
       "action")
    check("mutations[0]" in there.err, "reader's refusal: %r" % there.err)


def revoke_answer(d, who, hh, gid):
    with Raw(d, who) as c:
        r = c.call(req_revoke(1, hh, gid))
    return r.code_name, r.message, r.body_field


@test
def revoke_probe_existing_and_unknown_grants_alike():
    d = shared()
    hh = new_household(d)
    g2 = grant(d, "wmo", hh, "huisarts-noord", "read", purpose="bb-review",
               form_ref="FORM-REVIEW-4")
    eq(g2, 2, "first grant after the regisseur's")
    grant(d, "wmo", hh, "lev/s.bakker", "read", purpose="bb-review",
          form_ref="FORM-REVIEW-5")
    deny = ("PERMISSION_DENIED", DENY_MSG, None)
    # savant has no access; lev reads but may not list consent.
    for who in ("savant", "lev"):
        eq(revoke_answer(d, who, hh, 2), deny, "%s revoking grant 2" % who)
        eq(revoke_answer(d, who, hh, 99), deny, "%s revoking grant 99" % who)
        eq(revoke_answer(d, who, random_hhid(), 2), deny,
           "%s revoking in a missing household" % who)
        a = cli_refused(d, who, "PERMISSION_DENIED", "consent", "revoke",
                        hh, 2)
        b = cli_refused(d, who, "PERMISSION_DENIED", "consent", "revoke",
                        hh, 99)
        eq(a.err, b.err, "%s: CLI stderr for grant 2 vs 99" % who)
    # Grant 2 still stands.
    gs = [g for g in body(cli_ok(d, "wmo", "consent", "list", hh,
                                 json=True).data, "list_consent")
          .get("grants", []) if int(g["id"]) == 2]
    check(gs and not int(gs[0].get("revoked_at", 0) or 0),
          "grant 2 after the probes: %r" % gs)


@test
def plan_size_limit_refuses_growth_past_a_frame():
    d = Daemon("plansize", limits={"max_frame": 131072,
                                   "request_memory": 131072}).start()
    hh = new_household(d)
    text = ("Lange notitie " + "x" * 4000)[:4000]
    refused = None
    for i in range(80):
        r = cli(d, "wmo", "note", "add", hh, "--domain", "financien",
                "--text", text)
        if r.rc != 0:
            refused = r
            break
    check(refused is not None, "80 notes of 4000 chars never refused under "
          "max_frame 131072")
    check(refused.err.startswith("eenplan: RESOURCE_EXHAUSTED: plan: "),
          "refusal: %r" % refused)
    check("nothing was changed" in refused.err, "refusal: %r" % refused)
    p = plan_json(d, "wmo", hh)
    before = p["version"]
    eq(len(p.get("notes", [])), i, "notes kept")
    # Refused again: the version does not move, and the plan still reads.
    cli_refused(d, "wmo", "RESOURCE_EXHAUSTED", "note", "add", hh,
                "--domain", "financien", "--text", text)
    eq(plan_json(d, "wmo", hh)["version"], before, "version after refusals")
    with Raw(d, "wmo") as c:
        r = c.call(req_get_plan(1, hh))
    eq(r.code_name, "OK", "GetPlan of a full plan")
    # A small change still fits.
    cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien", "--text",
           "kort")
    d.stop()


def req_query_audit(rid, hh, frm=0, until=0, after=0, limit=0):
    b = f_bytes(1, hh)
    if frm:
        b += f_varint(2, frm)
    if until:
        b += f_varint(3, until)
    if after:
        b += f_varint(4, after)
    if limit:
        b += f_varint(5, limit)
    return req(rid, 23, b)


@test
def query_audit_narrow_window_reads_a_bounded_page():
    d = shared()
    hh = new_household(d)
    with Raw(d, "henk") as c:
        for i in range(40):
            eq(c.call(req_get_plan(i + 1, hh)).code, 0, "GetPlan %d" % i)
        time.sleep(0.01)
        frm = int(time.time() * 1000000)
        time.sleep(0.01)
        eq(c.call(req_get_plan(100, hh)).code, 0, "the last GetPlan")
        time.sleep(0.01)
        until = int(time.time() * 1000000)
        pages, got, after = 0, [], 0
        while True:
            pages += 1
            check(pages < 50, "paging does not end")
            r = c.call(req_query_audit(200 + pages, hh, frm, until, after,
                                       limit=2))
            eq(r.code_name, "OK", "QueryAudit page %d" % pages)
            qa = pb_decode(r.body or b"")
            recs = [pb_decode(x) for x in qa.get(1, [])]
            got += [pb_get(x, 6, b"").decode() for x in recs]
            nxt = pb_get(qa, 2, 0)
            if pages == 1:
                eq(len(recs), 0, "records on the first page (at most 20 "
                   "read)")
                check(nxt > 0, "an empty first page must say where to go on")
            if nxt == 0:
                break
            check(nxt > after, "next_after_seq moves forward")
            after = nxt
    eq(got, ["GetPlan"], "records in the window")
    check(pages >= 3, "a narrow window over 42 records took %d page(s)"
          % pages)
