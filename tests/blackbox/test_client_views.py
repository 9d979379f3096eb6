"""The CLI's views for people and partners, through the real daemon and CLI:
progress (terminal, SVG checked against the plan's assessments, JSON),
plan diff, contacts (wie doet wat), export --fhir (validated against the
FHIR R4 JSON schema), --json on every subcommand, help --json, the bash
completion and the man page. Every test makes its own household on the
shared daemon."""
import json
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

from harness import (test, shared, cli, cli_ok, new_household, plan_json,
                     check, eq, fail, ROOT, pki)

sys.path.insert(0, os.path.join(ROOT, "tests", "fhir"))
import jsonschema_lite  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def run_dir():
    # harness sets RUN_DIR after import; read it through the module.
    import harness
    return harness.RUN_DIR


def dom(v):
    """"DOMAIN_FINANCIEN" (plan JSON) -> "financien" (CLI and SVG)."""
    return str(v).lower().replace("domain_", "", 1)


def household_with_history(d):
    """A household with goals, actions, scores over several versions, a
    target, notes and grants for LEV (financiën) and the daughter."""
    hh = new_household(d, members=("henk.desmet:Henk de Smet:ouder",
                                    "anja.desmet:Anja de Smet:partner"))
    q = lambda who, *a: cli_ok(d, who, *a)  # noqa: E731
    q("wmo", "goal", "add", hh, "--domain", "financien", "--text",
      "Schulden stabiliseren", "--target-date", "2027-06-30")
    q("wmo", "goal", "add", hh, "--domain", "huisvesting", "--text",
      "Huurachterstand ingelopen")
    q("wmo", "action", "add", hh, "--goal", "1", "--text",
      "Aanmelden schuldhulp", "--owner", "lev/s.bakker", "--due",
      "2026-12-15")
    q("wmo", "action", "add", hh, "--goal", "2", "--text",
      "Gesprek met verhuurder", "--owner", "gemeente", "--due", "2020-01-31")
    q("wmo", "assess", hh, "--domain", "financien", "--score", "2",
      "--remark", "Post ligt ongeopend")
    q("wmo", "assess", hh, "--domain", "huisvesting", "--score", "3")
    q("wmo", "target", hh, "--domain", "financien", "--score", "4")
    q("wmo", "assess", hh, "--domain", "financien", "--score", "3")
    q("henk", "note", "add", hh, "--domain", "financien", "--text",
      "Samen de post geopend")
    q("henk", "consent", "grant", hh, "--to", "lev", "--access",
      "contribute", "--domain", "financien", "--purpose", "Schuldhulp")
    q("henk", "consent", "grant", hh, "--to", "burgers/lisa.desmet",
      "--access", "read", "--domain", "huisvesting", "--purpose",
      "Dochter helpt als mantelzorger")
    return hh


# ------------------------------------------------------------------ progress

def svg_checks(path, plan):
    """The SVG is XML, and its points are the plan's assessments, each on
    the grid line of its score, in time order, with the target marked."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("the SVG is not well-formed XML: %s" % e)
    eq(root.tag, SVG + "svg", "root element")
    eq((root.get("width"), root.get("height")), ("210mm", "297mm"),
       "page size (A4)")
    want = sorted((dom(a["domain"]), int(a["score"]), int(a["at"]))
                  for a in plan.get("assessments", []))
    got = []
    for g in root.iter(SVG + "g"):
        if g.get("class") != "domain":
            continue
        name = g.get("data-domain")
        grid = {int(l.get("data-score")): float(l.get("y1"))
                for l in g.iter(SVG + "line") if l.get("class") == "grid"}
        eq(sorted(grid), [1, 2, 3, 4, 5], "grid lines of %s" % name)
        check(all(grid[s] > grid[s + 1] for s in range(1, 5)),
              "%s: a higher score must be drawn higher" % name)
        pts = [c for c in g.iter(SVG + "circle") if c.get("class") == "score"]
        xs = []
        for c in pts:
            eq(c.get("data-domain"), name, "circle in the %s panel" % name)
            s = int(c.get("data-score"))
            eq(float(c.get("cy")), grid[s], "%s score %d: y" % (name, s))
            got.append((name, s, int(c.get("data-at"))))
            xs.append((int(c.get("data-at")), float(c.get("cx"))))
        xs.sort()
        check(all(a[1] <= b[1] for a, b in zip(xs, xs[1:])),
              "%s: points not in time order along x: %r" % (name, xs))
        targets = [l for l in g.iter(SVG + "line")
                   if l.get("class") == "target"]
        want_t = [int(t["score"]) for t in plan.get("targets", [])
                  if dom(t["domain"]) == name]
        eq([int(l.get("data-score")) for l in targets], want_t,
           "%s: target line" % name)
        for l in targets:
            eq(float(l.get("y1")), grid[int(l.get("data-score"))],
               "%s: target y" % name)
    eq(sorted(got), want, "the chart's points against the plan's assessments")
    check(any(len(t.text or "") == 10 for t in root.iter(SVG + "text")
              if t.get("class") == "date"), "no dates on the time axis")
    return root


@test
def progress_svg_matches_the_assessments():
    d = shared()
    hh = household_with_history(d)
    out = os.path.join(run_dir(), "progress-%s.svg" % hh)
    r = cli_ok(d, "henk", "progress", hh, "--svg", out)
    check("written to" in r.out, "no confirmation: %r" % r.out)
    eq(stat.S_IMODE(os.stat(out).st_mode), 0o600, "mode of the SVG")
    root = svg_checks(out, plan_json(d, "henk", hh))
    labels = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    for want in ("Financiën", "Huisvesting", "target 4"):
        check(want in labels, "%r not in the chart's text" % want)
    # A reader with scope sees only its domains, in the picture too.
    out2 = os.path.join(run_dir(), "progress-lev-%s.svg" % hh)
    cli_ok(d, "lev", "progress", hh, "--svg", out2)
    root = svg_checks(out2, plan_json(d, "lev", hh))
    doms = {g.get("data-domain") for g in root.iter(SVG + "g")
            if g.get("class") == "domain"}
    eq(doms, {"financien"}, "domains LEV sees in the chart")
    # "-" is standard output.
    r = cli_ok(d, "henk", "progress", hh, "--svg", "-")
    check(r.out.startswith("<?xml"), "--svg - printed %r" % r.out[:80])


@test
def progress_text_and_json():
    d = shared()
    hh = household_with_history(d)
    r = cli_ok(d, "henk", "progress", hh)
    for want in ("Financiën: now 3 beperkt zelfredzaam, target 4",
                 "┈", " target", "●", "scores: 2 on ", ", 3 on ",
                 "Huisvesting: now 3"):
        check(want in r.out, "progress lacks %r:\n%s" % (want, r.out))
    j = cli_ok(d, "henk", "progress", hh, json=True).data
    eq(j["household_id"], hh, "household_id")
    fin = [x for x in j["domains"] if x["domain"] == "financien"][0]
    eq((fin["target"], fin["latest"]), (4, 3), "financiën target, latest")
    eq([s["score"] for s in fin["scores"]], [2, 3], "financiën scores")
    r = cli(d, "savant", "progress", hh)
    eq(r.rc, 1, "progress without consent: exit")
    eq(r.out, "", "nothing on stdout when refused")


# ------------------------------------------------------------------ plan diff

@test
def plan_diff_between_versions():
    d = shared()
    hh = new_household(d)
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
           "Schulden stabiliseren")                                   # v2
    cli_ok(d, "wmo", "goal", "add", hh, "--domain", "huisvesting", "--text",
           "Woning behouden")                                         # v3
    cli_ok(d, "wmo", "action", "add", hh, "--goal", "1", "--text",
           "Aanmelden schuldhulp", "--owner", "lev")                  # v4
    cli_ok(d, "wmo", "assess", hh, "--domain", "financien", "--score", "2")
    cli_ok(d, "wmo", "assess", hh, "--domain", "financien", "--score", "3")
    cli_ok(d, "wmo", "goal", "status", hh, "1", "achieved")
    cli_ok(d, "wmo", "member", "add", hh, "--member", "anja.desmet:Anja")
    cli_ok(d, "henk", "note", "add", hh, "--domain", "huisvesting",
           "--text", "Huurbaas gebeld")
    cli_ok(d, "henk", "consent", "grant", hh, "--to", "lev", "--access",
           "read", "--domain", "financien", "--purpose", "Schuldhulp")
    cur = int(plan_json(d, "henk", hh)["version"])

    r = cli_ok(d, "henk", "plan", "diff", hh, "2")
    for want in ("from version 2 to version %d" % cur, "Woning behouden",
                 "new action", "Aanmelden schuldhulp",
                 "status open → achieved", "3 beperkt zelfredzaam (was 2)",
                 "anja.desmet", "Huurbaas gebeld"):
        check(want in r.out, "diff lacks %r:\n%s" % (want, r.out))
    check("Schulden stabiliseren" in r.out, "the changed goal is named")

    j = cli_ok(d, "henk", "plan", "diff", hh, "2", str(cur), json=True).data
    eq((j["from_version"], j["to_version"]), (2, cur), "versions")
    eq(len(j["goals"]["added"]), 1, "goals added")
    eq(j["goals"]["changed"][0]["status_was"], "open", "goal status was")
    eq([s["score"] for s in j["scores"]["added"]], [2, 3], "scores added")
    eq(len(j["members"]["added"]), 1, "members added")
    eq(len(j["notes"]["added"]), 1, "notes added")
    # Given the other way round it is the same diff.
    j2 = cli_ok(d, "henk", "plan", "diff", hh, str(cur), "2", json=True).data
    eq(j2["changes"], j["changes"], "versions swapped")
    # The same version: nothing changed.
    r = cli_ok(d, "henk", "plan", "diff", hh, "3", "3")
    check("No changes" in r.out, "diff of a version with itself: %r" % r.out)

    # LEV reads financiën only: the huisvesting goal and note stay out.
    r = cli_ok(d, "lev", "plan", "diff", hh, "1")
    check("Woning behouden" not in r.out and "Huurbaas" not in r.out,
          "out-of-scope items in LEV's diff:\n%s" % r.out)
    check("Schulden stabiliseren" in r.out and "only what you may see"
          in r.out, "LEV's diff:\n%s" % r.out)
    r = cli(d, "savant", "plan", "diff", hh, "1")
    eq(r.rc, 1, "diff without consent: exit")
    r = cli(d, "henk", "plan", "diff", hh, "0")
    eq(r.rc, 2, "version 0 is a usage error")


# ------------------------------------------------------------------ contacts

@test
def contacts_for_household_and_others():
    d = shared()
    hh = household_with_history(d)
    r = cli_ok(d, "henk", "contacts", hh)
    for want in ("Regisseur: gemeente/a.devries", "Henk de Smet (ouder)",
                 "lev (the whole organisation)",
                 "may read and add to: Financiën", "why: Schuldhulp",
                 "burgers/lisa.desmet (this one person)",
                 "may only read: Huisvesting", "Aanmelden schuldhulp",
                 "due 2026-12-15", "OVERDUE since 2020-01-31",
                 "until the household withdraws it"):
        check(want in r.out, "contacts lacks %r:\n%s" % (want, r.out))
    # The gemeente's action sits with the regisseur, LEV's with LEV.
    reg, rest = r.out.split("The household", 1)
    check("Gesprek met verhuurder" in reg, "regisseur's action:\n%s" % r.out)
    lev = rest.split("lev (the whole organisation)", 1)[1].split("burgers/", 1)[0]
    check("Aanmelden schuldhulp" in lev, "LEV's action:\n%s" % r.out)

    j = cli_ok(d, "henk", "contacts", hh, json=True).data
    eq(j["consent_shown"], True, "consent_shown for a member")
    eq(sorted(c["who"] for c in j["contacts"]),
       ["burgers/lisa.desmet", "lev"], "contacts")
    levc = [c for c in j["contacts"] if c["who"] == "lev"][0]
    eq((levc["access"], levc["scope"]), ("contribute", ["financien"]),
       "LEV's access")
    eq([a["text"] for a in levc["open_actions"]], ["Aanmelden schuldhulp"],
       "LEV's open actions")

    # LEV may not list consent: it gets what it may see and why not more.
    r = cli(d, "lev", "contacts", hh)
    eq(r.rc, 0, "contacts as LEV: exit (%r)" % r)
    check("shown only to the household and its regisseur" in r.out,
          "no reason given:\n%s" % r.out)
    check("PERMISSION_DENIED" in r.err, "stderr: %r" % r.err)
    check("Gesprek met verhuurder" not in r.out,
          "LEV sees an out-of-scope action:\n%s" % r.out)
    r = cli(d, "savant", "contacts", hh)
    eq(r.rc, 1, "contacts without consent: exit")
    eq(r.out, "", "nothing on stdout when refused")


# ------------------------------------------------------------------ FHIR

def fhir_schema():
    with open(os.path.join(ROOT, "tests", "fhir",
                           "fhir-r4-subset.schema.json")) as f:
        return json.load(f)


def resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == kind]


@test
def export_fhir_is_valid_r4():
    d = shared()
    hh = household_with_history(d)
    schema = fhir_schema()
    out = os.path.join(run_dir(), "export-%s.json" % hh)
    r = cli_ok(d, "henk", "export", "--fhir", hh, "-o", out)
    check("FHIR R4 Bundle" in r.out, "confirmation: %r" % r.out)
    eq(stat.S_IMODE(os.stat(out).st_mode), 0o600, "mode of the export")
    with open(out) as f:
        b = json.load(f)
    errs = jsonschema_lite.validate(b, schema)
    check(not errs, "not valid FHIR R4: %s" % "; ".join(errs[:5]))
    eq((b["resourceType"], b["type"]), ("Bundle", "collection"), "bundle")
    plan = plan_json(d, "henk", hh)
    eq(len(resources(b, "Goal")), len(plan["goals"]), "Goal resources")
    eq(len(resources(b, "Observation")), len(plan["assessments"]),
       "Observation resources")
    cp = resources(b, "CarePlan")
    eq(len(cp), 1, "one CarePlan")
    eq(len(cp[0]["activity"]), len(plan["actions"]), "activities")
    eq(cp[0]["identifier"][0]["value"], hh, "CarePlan identifier")
    all_grants = cli_ok(d, "henk", "consent", "list", hh, "--all",
                        json=True).data["grants"]
    eq(len(resources(b, "Consent")), len(all_grants), "Consent resources")
    check(len(resources(b, "AuditEvent")) >= 10, "AuditEvents")
    eq(len(resources(b, "Patient")), 2, "Patients")
    urls = [e["fullUrl"] for e in b["entry"]]
    eq(len(set(urls)), len(urls), "fullUrls unique")
    for ref in (g["reference"] for g in cp[0]["goal"]):
        check(ref in urls, "CarePlan.goal %s not in the bundle" % ref)
    # The check can fail: a wrong code is caught.
    resources(b, "Goal")[0]["lifecycleStatus"] = "klaar"
    check(jsonschema_lite.validate(b, schema), "a bad code passed")

    # LEV: no consent or access log to export; still a valid bundle.
    r = cli_ok(d, "lev", "export", "--fhir", hh)
    b = json.loads(r.out)
    errs = jsonschema_lite.validate(b, schema)
    check(not errs, "LEV's export not valid: %s" % "; ".join(errs[:5]))
    eq(resources(b, "Consent") + resources(b, "AuditEvent"), [],
       "LEV's export holds consent or access log")
    check("no Consent resources" in r.err and "no AuditEvent" in r.err,
          "stderr: %r" % r.err)
    doms = {c["code"] for g in resources(b, "Goal")
            for c in g["category"][0]["coding"]}
    eq(doms, {"financien"}, "goal domains in LEV's export")
    r = cli(d, "henk", "export", hh)
    eq(r.rc, 2, "export without --fhir")


# ------------------------------------------------------------------ JSON

@test
def json_on_every_subcommand():
    d = shared()
    hh = household_with_history(d)
    reads = [
        ("whoami",), ("households",), ("plan", "show", hh),
        ("plan", "diff", hh, "1"), ("history", hh), ("progress", hh),
        ("contacts", hh), ("consent", "list", hh), ("audit", hh),
        ("afschrift", hh), ("export", "--fhir", hh),
        ("changes", "--limit", "5"), ("signals",), ("signals", hh),
        ("signal", "send", hh, "--domain", "justitie", "--text", "s"),
    ]   # watch and sync print JSON lines: test_sync.py
    for args in reads:
        cli_ok(d, "wmo", *args, json=True)
    writes = [
        ("goal", "add", hh, "--domain", "justitie", "--text", "t"),
        ("note", "add", hh, "--domain", "justitie", "--text", "n"),
        ("assess", hh, "--domain", "justitie", "--score", "2"),
        ("target", hh, "--domain", "justitie", "--score", "3"),
    ]
    for args in writes:
        r = cli_ok(d, "wmo", *args, json=True)
        check("version" in json.dumps(r.data), "%s: %r" % (args, r.data))
    r = cli_ok(d, None, "help", json=True)
    names = [c["name"] for c in r.data["subcommands"]]
    for want in ("progress", "plan diff", "contacts", "export", "whoami",
                 "watch", "sync", "signal send", "signals"):
        check(want in names, "help --json lacks %r" % want)
    eq(len(r.data["domains"]), 13, "domains in help --json")
    r = cli_ok(d, None, "help")
    for want in names:
        check(want.split()[0] in r.out, "help lacks %r" % want)


# ------------------------------------------------------------------ shell

def complete(line, env):
    """Candidates bash completion gives for line (the word being typed is
    the last, '' for a new one)."""
    words = line.split(" ")
    script = ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _eenplan; "
              "printf '%%s\\n' \"${COMPREPLY[@]}\"" %
              (os.path.join(ROOT, "client", "eenplan.bash-completion"),
               " ".join("'%s'" % w for w in words), len(words) - 1))
    p = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=30)
    eq(p.returncode, 0, "bash completion: %s" % p.stderr.decode())
    return [w for w in p.stdout.decode().split("\n") if w]


@test
def bash_completion():
    if shutil.which("bash") is None:
        print("# skipped: no bash")
        return
    env = dict(os.environ)
    env["PATH"] = BUILD_DIR() + os.pathsep + env.get("PATH", "")
    env["EENPLAN_PKI"] = pki().dir
    eq(sorted(complete("eenplan co", env)), ["consent", "contacts"],
       "subcommands")
    eq(sorted(complete("eenplan plan ", env)), ["diff", "show"],
       "plan's words")
    doms = complete("eenplan note add x --domain ", env)
    eq(len(doms), 13, "domains after --domain")
    check("maatschappelijke_participatie" in doms, "domains: %r" % doms)
    names = complete("eenplan --as ", env)
    for want in ("wmo", "henk", "lisa", "privacy-lev"):
        check(want in names, "--as lacks %r: %r" % (want, names))
    opts = complete("eenplan progress x --", env)
    check("--svg" in opts and "--json" in opts and "--text" not in opts,
          "options of progress: %r" % opts)
    eq(complete("eenplan goal status x 1 ", env),
       ["open", "achieved", "dropped"], "goal statuses")
    eq(sorted(complete("eenplan consent grant x --to gemeente --team ",
                       env)), ["bms", "noord"], "the cast's teams")


def BUILD_DIR():
    import harness
    return harness.BUILD


# ------------------------------------------------------------------ manual

@test
def man_page_lints_clean():
    page = os.path.join(ROOT, "doc", "eenplan.1")
    if shutil.which("mandoc"):
        argv = ["mandoc", "-T", "lint", "-W", "warning", page]
    elif shutil.which("groff"):
        argv = ["groff", "-ww", "-mandoc", "-z", page]
    else:
        print("# skipped: neither mandoc nor groff is installed")
        return
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace").strip()
    check(p.returncode == 0 and not out, "%s: %s" % (" ".join(argv), out))
    # Every subcommand of the program is in the manual.
    text = open(page).read()
    r = subprocess.run([os.path.join(BUILD_DIR(), "eenplan"), "--json",
                        "help"], stdout=subprocess.PIPE, timeout=30)
    for c in json.loads(r.stdout)["subcommands"]:
        check(".It Cm " + c["name"].split()[0] in text or
              "Cm " + c["name"].replace(" ", " ") in text,
              "the manual lacks %r" % c["name"])
