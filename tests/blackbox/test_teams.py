"""Grants to a team (issue 10, item 11: client and demo side), through the
real daemon and CLI: `consent grant --to ORG --team TEAM` admits the people
whom ORG's own CA puts in TEAM (certs/issue.sh --team), scoped to the
granted domains; the rest of ORG and another organisation's team of the
same name get the answer of a household that does not exist; a revoke ends
it at once; ListHouseholds, consent list, contacts and export --fhir show
the team. Every test makes its own household on the shared daemon."""
import json
import os
import sys

from harness import (test, shared, pki, Raw, cli, cli_ok, cli_refused,
                     check, eq, enum_name, new_household, req_get_plan, ROOT)
from consentlib import (DENY_MSG, body, denied_like_missing, grant, grants,
                        households, mut)

sys.path.insert(0, os.path.join(ROOT, "tests", "fhir"))
import jsonschema_lite  # noqa: E402


def leaves():
    """Extra people: the gemeente's area team Noord (not bms), a member of
    both bms and noord, and a LEV professional in a LEV team also called
    bms."""
    p = pki()
    return {
        "noord": p.leaf("team-noord", "gemeente", "professional",
                        "t.noord", "--team", "noord"),
        "both": p.leaf("team-both", "gemeente", "professional", "t.both",
                       "--team", "noord", "--team", "bms"),
        "levbms": p.leaf("team-lev-bms", "lev", "professional", "t.levbms",
                         "--team", "bms"),
    }


def household(d):
    """A household (wmo directs it) with a goal, a note and a score in
    financiën and a goal in werk & opleiding."""
    hh = new_household(d)
    mut(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
        "Schulden stabiliseren")
    mut(d, "wmo", "goal", "add", hh, "--domain", "werk_opleiding", "--text",
        "Passend werk vinden")
    mut(d, "wmo", "note", "add", hh, "--domain", "werk_opleiding", "--text",
        "Sollicitatie bij de bakker")
    return hh


def team_grant(d, hh, access="read", team="bms"):
    return grant(d, "henk", hh, "gemeente", access, domains=("financien",),
                 purpose="Schuldhulpverlening door BMS",
                 extra=("--team", team))


def get_plan(d, who, hh):
    return body(cli_ok(d, who, "plan", "show", hh, json=True).data,
                "get_plan")


def texts(plan):
    return ([g.get("text") for g in plan.get("goals", [])] +
            [n.get("text") for n in plan.get("notes", [])])


@test
def team_member_reads_within_the_grant():
    """j.jansen (team bms) reads financiën only, and so does a gemeente
    professional in bms and noord; the same organisation outside the team,
    its area team Noord, and LEV's own team "bms" get the answer of a
    missing household, and ListHouseholds does not list it for them."""
    d = shared()
    ls = leaves()
    hh = household(d)
    gid = team_grant(d, hh)
    for who in ("bms", ls["both"]):
        gp = get_plan(d, who, hh)
        eq(enum_name(gp.get("access")).lower().split("_")[-1], "read",
           "%s's access" % who)
        eq([enum_name(s).lower().replace("domain_", "")
            for s in gp.get("scope", [])], ["financien"], "%s's scope" % who)
        t = texts(gp["plan"])
        check("Schulden stabiliseren" in t, "%s: financiën goal: %r"
              % (who, t))
        for other in ("Passend werk vinden", "Sollicitatie bij de bakker"):
            check(other not in t, "%s sees %r outside the grant" % (who,
                                                                   other))
        check(hh in households(d, who), "%s's households lack %s"
              % (who, hh))
    for who in ("wmo2", ls["noord"], ls["levbms"]):
        r = denied_like_missing(d, who, hh, "plan", "show", hh)
        check(DENY_MSG in r.err, "%s: %r" % (who, r.err))
        denied_like_missing(d, who, hh, "history", hh)
        check(hh not in households(d, who), "%s lists %s" % (who, hh))
    # A read grant: the team adds nothing, not even in financiën.
    cli_refused(d, "bms", "PERMISSION_DENIED", "note", "add", hh, "--domain",
                "financien", "--text", "x")
    # Only the household and its regisseur list consent: not the team.
    cli_refused(d, "bms", "PERMISSION_DENIED", "consent", "list", hh)
    eq([int(g["id"]) for g in grants(d, "henk", hh)
        if g.get("grantee_team") == "bms"], [gid], "the team's grant")


@test
def team_contributes_inside_its_scope():
    d = shared()
    hh = household(d)
    team_grant(d, hh, access="contribute")
    mut(d, "bms", "note", "add", hh, "--domain", "financien", "--text",
        "Budgetgesprek gehad")
    r = cli(d, "bms", "note", "add", hh, "--domain", "werk_opleiding",
            "--text", "buiten de toestemming")
    eq(r.rc, 1, "a note outside the team's scope: %r" % r)
    check(r.err.startswith("eenplan: PERMISSION_DENIED: "), "stderr %r"
          % r.err)
    t = texts(get_plan(d, "henk", hh)["plan"])
    check("Budgetgesprek gehad" in t and "buiten de toestemming" not in t,
          "notes: %r" % t)
    denied_like_missing(d, "wmo2", hh, "note", "add", hh, "--domain",
                        "financien", "--text", "x")


@test
def revoking_the_team_grant_ends_access():
    """Henk revokes the team's grant: the team member's open connection is
    refused at once, the CLI too, with a missing household's answer, and
    ListHouseholds stops listing it."""
    d = shared()
    hh = household(d)
    gid = team_grant(d, hh)
    check(hh in households(d, "bms"), "bms lists the household")
    with Raw(d, "bms") as c:
        r = c.call(req_get_plan(3, hh))
        eq((r.code, r.body_field), (0, 12), "bms reads on an open connection")
        cli_ok(d, "henk", "consent", "revoke", hh, gid)
        r = c.call(req_get_plan(4, hh))
        eq(r.code_name, "PERMISSION_DENIED", "the same connection after the "
           "revoke")
    denied_like_missing(d, "bms", hh, "plan", "show", hh)
    check(hh not in households(d, "bms"), "bms still lists %s" % hh)
    gs = grants(d, "henk", hh, past=True)
    eq([(g.get("grantee_team"), bool(int(g.get("revoked_at", 0) or 0)))
        for g in gs if int(g["id"]) == gid], [("bms", True)],
       "the revoked team grant in the history of consent")
    # A new grant to the team admits it again.
    team_grant(d, hh)
    check(hh in households(d, "bms"), "bms lists the household again")


@test
def views_show_the_team():
    """consent list (text and JSON), contacts and export --fhir (valid R4;
    the Consent's actor a CareTeam) name the team."""
    d = shared()
    hh = household(d)
    gid = team_grant(d, hh)
    r = cli_ok(d, "henk", "consent", "list", hh)
    block = r.out.split("grant %d " % gid, 1)[1].split("\n\n", 1)[0]
    check("to:        gemeente team bms (only the organisation's people in "
          "that team)" in block and "Financiën" in block,
          "consent list:\n%s" % r.out)
    g = [g for g in grants(d, "henk", hh) if int(g["id"]) == gid][0]
    eq((g["grantee_org"], g["grantee_subject"], g["grantee_team"]),
       ("gemeente", "", "bms"), "the grant in JSON")
    r = cli_ok(d, "wmo", "consent", "grant", hh, "--to", "gemeente",
               "--team", "schuldhulp-2", "--access", "read", "--purpose",
               "Tweede team", "--form-ref", "F-TEAM")
    check("consent recorded: grant" in r.out and
          "to:        gemeente team schuldhulp-2" in r.out,
          "grant's answer: %r" % r.out)

    r = cli_ok(d, "henk", "contacts", hh)
    check("gemeente team bms (only the organisation's people in that team)"
          "\n    may only read: Financiën" in r.out, "contacts:\n%s" % r.out)
    c = cli_ok(d, "henk", "contacts", hh, json=True).data
    k = [k for k in c["contacts"] if k.get("team") == "bms"]
    eq([(x["who"], x["whole_organisation"], x["scope"]) for x in k],
       [("gemeente", False, ["financien"])], "the team in contacts --json")

    r = cli_ok(d, "henk", "export", "--fhir", hh)
    b = json.loads(r.out)
    with open(os.path.join(ROOT, "tests", "fhir",
                           "fhir-r4-subset.schema.json")) as f:
        errs = jsonschema_lite.validate(b, json.load(f))
    check(not errs, "not valid FHIR R4: %s" % "; ".join(errs[:5]))
    actors = [e["resource"]["provision"]["actor"][0]["reference"]
              for e in b["entry"]
              if e["resource"]["resourceType"] == "Consent"]
    teams = [a for a in actors if a.get("type") == "CareTeam"]
    eq(sorted(a["identifier"]["value"] for a in teams),
       ["gemeente/bms", "gemeente/schuldhulp-2"], "CareTeam actors")
    eq({(a["identifier"]["system"],
         a["identifier"]["assigner"]["identifier"]["value"]) for a in teams},
       {("urn:eenplan:team", "gemeente")}, "team identifiers")


@test
def a_team_is_never_with_one_person():
    """The CLI refuses a team with a person, or a name the daemon would
    not take, before it connects (exit 2, nothing recorded)."""
    d = shared()
    hh = household(d)
    before = len(grants(d, "henk", hh, past=True))
    for to, team, want in (
            ("gemeente/j.jansen", "bms", "--team names a team of an "
             "organisation, not of one person"),
            ("gemeente", "BMS", "--team 'BMS': expected a team name"),
            ("gemeente", "x" * 33, "expected a team name, 1 to 32"),
            ("gemeente", "b ms", "expected a team name")):
        r = cli(d, "henk", "consent", "grant", hh, "--to", to, "--team",
                team, "--access", "read", "--purpose", "p")
        eq(r.rc, 2, "--to %s --team %r: %r" % (to, team, r))
        check(want in r.err and r.out == "", "--to %s --team %r: %r"
              % (to, team, r))
    eq(len(grants(d, "henk", hh, past=True)), before, "grants recorded")
