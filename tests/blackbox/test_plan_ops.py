"""Each operation's happy path through the real CLI, against one shared daemon.
Every test makes its own household, so they do not interfere."""
from harness import (test, shared, cli, cli_ok, new_household, plan_json, check,
                     eq, enum_name, fail)


def body(data, key):
    """The JSON of a response body, whether or not the CLI wraps it."""
    if isinstance(data, dict) and key in data and isinstance(data[key], dict):
        return data[key]
    return data


def created_id(r):
    """The id a mutating command created (MutatePlanResponse.created_ids[0])."""
    d = body(r.data, "mutate_plan")
    ids = d.get("created_ids") if isinstance(d, dict) else None
    check(ids and int(ids[0]) > 0, "no created_ids in %r" % r.data)
    return int(ids[0])


def version_of(r):
    d = body(r.data, "mutate_plan")
    check(isinstance(d, dict) and "version" in d, "no version in %r" % r.data)
    return int(d["version"])


def find(items, ident):
    for it in items or []:
        if int(it.get("id", 0)) == ident:
            return it
    fail("no item %d in %r" % (ident, items))


def mutate(d, as_name, *args):
    return cli_ok(d, as_name, *args, json=True)


@test
def whoami():
    d = shared()
    r = cli_ok(d, "wmo", "whoami")
    for want in ("gemeente", "a.devries", "professional"):
        check(want in r.out, "whoami output lacks %r: %r" % (want, r.out))
    r = cli_ok(d, "henk", "whoami", json=True)
    w = body(r.data, "who_am_i")
    p = w.get("principal", {})
    eq(p.get("org"), "burgers", "principal.org")
    eq(p.get("subject"), "henk.desmet", "principal.subject")
    check("client" in enum_name(p.get("role")), "role %r" % p.get("role"))
    eq(w.get("org_name"), "Burgers van Helmond", "org_name")
    check(w.get("cert_serial"), "no cert_serial in %r" % w)


@test
def household_create():
    d = shared()
    hh = new_household(d, members=("henk.desmet:Henk de Smet:ouder",
                                    "anja.desmet:Anja de Smet:partner"))
    p = plan_json(d, "wmo", hh)
    eq(p.get("household_id"), hh, "household_id")
    eq(int(p.get("version", 0)), 1, "version after intake")
    reg = p.get("regisseur", {})
    eq((reg.get("org"), reg.get("subject")), ("gemeente", "a.devries"),
       "regisseur = creator")
    check("noord" in enum_name(p.get("area")), "area %r" % p.get("area"))
    check("active" in enum_name(p.get("status")), "status %r" % p.get("status"))
    ids = sorted(m.get("person_id") for m in p.get("members", []))
    eq(ids, ["anja.desmet", "henk.desmet"], "members")
    eq(p.get("intake_reference"), "TOESTEMMING-BB-1", "intake_reference")


@test
def plan_show():
    d = shared()
    hh = new_household(d)
    mutate(d, "wmo", "goal", "add", hh, "--domain", "huisvesting", "--text",
           "Huurachterstand ingelopen", "--target-date", "2027-06-30")
    r = cli_ok(d, "wmo", "plan", "show", hh)
    for want in ("Huurachterstand ingelopen", "2027-06-30", "a.devries"):
        check(want in r.out, "plan show lacks %r:\n%s" % (want, r.out))
    r = cli_ok(d, "henk", "plan", "show", hh, json=True)
    g = body(r.data, "get_plan")
    acc = enum_name(g.get("access"))
    check(acc not in ("", "none") and "manage" not in acc and "none" not in acc,
          "henk's (member) effective access %r" % g.get("access"))
    p = g.get("plan", g)
    eq(int(p["version"]), 2, "version")
    eq([x.get("text") for x in p.get("goals", [])],
       ["Huurachterstand ingelopen"], "goals as henk (member) sees them")
    old = plan_json(d, "wmo", hh, "--version", "1")
    eq(int(old["version"]), 1, "plan show --version 1")
    eq(old.get("goals", []), [], "goals of version 1")


@test
def goal_add_and_status():
    d = shared()
    hh = new_household(d)
    r = mutate(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
               "Schulden stabiliseren", "--target-date", "2027-06-30")
    gid = created_id(r)
    eq(version_of(r), 2, "version after goal add")
    g = find(plan_json(d, "wmo", hh).get("goals"), gid)
    eq(g.get("text"), "Schulden stabiliseren", "goal text")
    eq(g.get("target_date"), "2027-06-30", "target_date")
    check("financien" in enum_name(g.get("domain")), "domain %r" % g.get("domain"))
    check("open" in enum_name(g.get("status")), "status %r" % g.get("status"))
    eq(g.get("created_by", {}).get("subject"), "a.devries", "created_by")
    r = mutate(d, "wmo", "goal", "status", hh, gid, "achieved")
    eq(version_of(r), 3, "version after goal status")
    g = find(plan_json(d, "wmo", hh).get("goals"), gid)
    check("achieved" in enum_name(g.get("status")), "status %r" % g.get("status"))
    gid2 = created_id(mutate(d, "wmo", "goal", "add", hh, "--domain",
                             "sociaal_netwerk", "--text", "Netwerk versterken"))
    mutate(d, "wmo", "goal", "status", hh, gid2, "dropped")
    g = find(plan_json(d, "wmo", hh).get("goals"), gid2)
    check("dropped" in enum_name(g.get("status")), "status %r" % g.get("status"))


@test
def action_lifecycle():
    d = shared()
    hh = new_household(d)
    gid = created_id(mutate(d, "wmo", "goal", "add", hh, "--domain", "financien",
                            "--text", "Budgetplan"))
    aid = created_id(mutate(d, "wmo", "action", "add", hh, "--goal", gid,
                            "--text", "Aanmelden schuldhulp", "--owner",
                            "gemeente/a.devries", "--due", "2026-12-15"))
    a = find(plan_json(d, "wmo", hh).get("actions"), aid)
    eq((a.get("goal_id"), a.get("owner_org"), a.get("owner_subject"),
        a.get("due_date")), (gid, "gemeente", "a.devries", "2026-12-15"),
       "action fields")
    check("financien" in enum_name(a.get("domain")), "action domain %r" % a)
    check("proposed" in enum_name(a.get("status")), "status %r" % a.get("status"))
    for verb, want in (("accept", "accepted"), ("start", "in_progress"),
                       ("done", "done")):
        mutate(d, "wmo", "action", verb, hh, aid)
        a = find(plan_json(d, "wmo", hh).get("actions"), aid)
        check(want in enum_name(a.get("status")),
              "after action %s: status %r" % (verb, a.get("status")))
    aid2 = created_id(mutate(d, "wmo", "action", "add", hh, "--goal", gid,
                             "--text", "Post openen", "--owner", "gemeente"))
    mutate(d, "wmo", "action", "cancel", hh, aid2)
    a = find(plan_json(d, "wmo", hh).get("actions"), aid2)
    check("cancelled" in enum_name(a.get("status")), "status %r" % a)
    eq(int(plan_json(d, "wmo", hh)["version"]), 8, "version after 7 changes")


@test
def note_add():
    d = shared()
    hh = new_household(d)
    nid = created_id(mutate(d, "wmo", "note", "add", hh, "--domain", "financien",
                            "--text", "Eerste huisbezoek: post ligt ongeopend."))
    n = find(plan_json(d, "wmo", hh).get("notes"), nid)
    eq(n.get("text"), "Eerste huisbezoek: post ligt ongeopend.", "note text")
    eq(n.get("by", {}).get("subject"), "a.devries", "note by")
    # A member (client) may add notes to the own plan.
    nid2 = created_id(mutate(d, "henk", "note", "add", hh, "--domain",
                             "financien", "--text", "Ik heb de post geopend."))
    n = find(plan_json(d, "henk", hh).get("notes"), nid2)
    eq(n.get("by", {}).get("subject"), "henk.desmet", "note by henk")


@test
def assess_and_target():
    d = shared()
    hh = new_household(d)
    aid = created_id(mutate(d, "wmo", "assess", hh, "--domain", "financien",
                            "--score", "2", "--remark", "Geen overzicht"))
    mutate(d, "wmo", "assess", hh, "--domain", "financien", "--score", "3")
    mutate(d, "wmo", "target", hh, "--domain", "financien", "--score", "4")
    p = plan_json(d, "wmo", hh)
    a = find(p.get("assessments"), aid)
    eq((int(a.get("score")), a.get("remark")), (2, "Geen overzicht"), "assessment")
    eq(sorted(int(x["score"]) for x in p.get("assessments", [])), [2, 3],
       "assessment history")
    t = p.get("targets", [])
    eq(len(t), 1, "targets")
    check("financien" in enum_name(t[0].get("domain")) and int(t[0]["score"]) == 4,
          "target %r" % t)
    mutate(d, "wmo", "target", hh, "--domain", "financien", "--score", "5")
    t = plan_json(d, "wmo", hh).get("targets", [])
    eq([int(x["score"]) for x in t], [5], "target replaced, not added")


@test
def member_add():
    d = shared()
    hh = new_household(d)
    mutate(d, "wmo", "member", "add", hh, "--member", "anja.desmet:Anja de Smet:partner")
    p = plan_json(d, "wmo", hh)
    m = {x["person_id"]: x for x in p.get("members", [])}
    check("anja.desmet" in m, "members %r" % p.get("members"))
    eq((m["anja.desmet"].get("name"), m["anja.desmet"].get("relation")),
       ("Anja de Smet", "partner"), "new member")
    # The new member reads the plan now.
    eq(plan_json(d, "anja", hh).get("household_id"), hh, "anja reads")


@test
def history():
    d = shared()
    hh = new_household(d)
    mutate(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text", "G1")
    mutate(d, "wmo", "note", "add", hh, "--domain", "financien", "--text", "N1")
    mutate(d, "wmo", "assess", hh, "--domain", "financien", "--score", "2")
    r = cli_ok(d, "wmo", "history", hh, json=True)
    h = body(r.data, "get_history")
    vers = [int(e["version"]) for e in h.get("entries", [])]
    eq(vers, [1, 2, 3, 4], "history versions")
    e1 = h["entries"][0]
    check("created" in enum_name(e1.get("kind")), "entry 1 kind %r" % e1)
    eq(e1.get("actor", {}).get("subject"), "a.devries", "entry 1 actor")
    check("plan" in enum_name(h["entries"][1].get("kind")), "entry 2 %r" % h)
    r = cli_ok(d, "wmo", "history", hh)
    for v in (1, 2, 3, 4):
        check(("version %d " % v) in r.out,
              "history text lacks 'version %d':\n%s" % (v, r.out))
    r = cli_ok(d, "henk", "history", hh, json=True)
    eq(len(body(r.data, "get_history").get("entries", [])), 4,
       "history as a member")


@test
def households_list():
    d = shared()
    hh = new_household(d)
    for who in ("wmo", "henk"):
        r = cli_ok(d, who, "households")
        check(hh in r.out, "households as %s lacks %s:\n%s" % (who, hh, r.out))
    r = cli_ok(d, "henk", "households", json=True)
    hs = body(r.data, "list_households").get("households", [])
    s = [x for x in hs if x.get("household_id") == hh]
    eq(len(s), 1, "henk's caseload entry")
    eq(s[0].get("regisseur", {}).get("subject"), "a.devries", "summary regisseur")
    # Someone without a grant does not see it.
    r = cli(d, "savant", "households")
    check(r.rc == 0 and hh not in r.out,
          "savant's households: expected exit 0 without %s, got %r" % (hh, r))
