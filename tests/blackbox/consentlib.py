"""Helpers for test_consent.py and test_audit.py: hand-made consent requests
for the raw TLS client, and small wrappers over the CLI's --json output.
Only harness.py's public tools are used; harness.py itself is not changed."""
import json as jsonlib
import time

from harness import (cli_ok, cli_refused, check, eq, fail, f_bytes,
                     f_varint, req, pb_decode, pb_get, random_hhid,
                     enum_name)

# ZRM domains (proto enum Domain).
DOMAINS = {
    "financien": 1, "werk_opleiding": 2, "tijdsbesteding": 3,
    "huisvesting": 4, "huiselijke_relaties": 5, "geestelijke_gezondheid": 6,
    "lichamelijke_gezondheid": 7, "middelengebruik": 8, "basale_adl": 9,
    "instrumentele_adl": 10, "sociaal_netwerk": 11,
    "maatschappelijke_participatie": 12, "justitie": 13,
}
READ, CONTRIBUTE, MANAGE = 1, 2, 3
DENY_MSG = "no access to this household"


def now_us():
    return int(time.time() * 1000000)


# ------------------------------------------------------------ raw requests

def grant_msg(org, subject="", access=READ, scope=(), valid_from=0,
              valid_until=0, purpose="bb", form_ref=""):
    b = f_bytes(2, org)
    if subject:
        b += f_bytes(3, subject)
    b += f_varint(4, access)
    for s in scope:
        b += f_varint(5, DOMAINS.get(s, s))
    if valid_from:
        b += f_varint(6, valid_from)
    if valid_until:
        b += f_varint(7, valid_until)
    b += f_bytes(8, purpose)
    if form_ref:
        b += f_bytes(12, form_ref)
    return b


def req_grant(rid, hh, org, subject="", **kw):
    """GrantConsentRequest (Request field 16)."""
    return req(rid, 16, f_bytes(1, hh) + f_bytes(2, grant_msg(org, subject, **kw)))


def req_revoke(rid, hh, grant_id, form_ref=""):
    b = f_bytes(1, hh) + f_varint(2, grant_id)
    if form_ref:
        b += f_bytes(3, form_ref)
    return req(rid, 17, b)


def req_transfer(rid, hh, org, subject, form_ref, reason=""):
    b = f_bytes(1, hh) + f_bytes(2, org) + f_bytes(3, subject) + f_bytes(4, form_ref)
    if reason:
        b += f_bytes(5, reason)
    return req(rid, 19, b)


def granted_id(resp):
    """The id of the Grant in a GrantConsentResponse."""
    check(resp.code == 0 and resp.body_field == 16,
          "GrantConsent failed: %r" % resp)
    g = pb_decode(pb_get(pb_decode(resp.body), 1, b""))
    return pb_get(g, 1, 0)


# ------------------------------------------------------------ CLI wrappers

def body(data, key):
    if isinstance(data, dict) and key in data and isinstance(data[key], dict):
        return data[key]
    return data


def created_id(r):
    d = body(r.data, "mutate_plan")
    ids = d.get("created_ids") if isinstance(d, dict) else None
    check(ids and int(ids[0]) > 0, "no created_ids in %r" % r.data)
    return int(ids[0])


def mut(d, who, *args):
    """A plan change through the CLI that must succeed; returns the new id."""
    return created_id(cli_ok(d, who, *args, json=True))


def grant(d, who, hh, to, access="read", domains=(), purpose="bb-grant",
          form_ref=None, extra=()):
    """consent grant through the CLI; returns the grant id."""
    args = ["consent", "grant", hh, "--to", to, "--access", access]
    for dom in domains:
        args += ["--domain", dom]
    args += ["--purpose", purpose]
    if form_ref:
        args += ["--form-ref", form_ref]
    args += list(extra)
    r = cli_ok(d, who, *args, json=True)
    g = body(r.data, "grant_consent")
    g = g.get("grant", g)
    check(int(g.get("id", 0)) > 0, "no grant id in %r" % r.data)
    return int(g["id"])


def grants(d, who, hh, past=False):
    args = ["consent", "list", hh] + (["--all"] if past else [])
    r = cli_ok(d, who, *args, json=True)
    return body(r.data, "list_consent").get("grants", [])


def active_manage(gs):
    return [g for g in gs if "manage" in enum_name(g.get("access"))
            and not int(g.get("revoked_at", 0) or 0)]


def households(d, who, page_size=50):
    """Every household id ListHouseholds gives `who`, over all pages."""
    ids, token = [], None
    for _ in range(1000):
        args = ["households", "--page-size", page_size]
        if token:
            args += ["--page-token", token]
        r = cli_ok(d, who, *args, json=True)
        lh = body(r.data, "list_households")
        ids += [h["household_id"] for h in lh.get("households", [])]
        token = lh.get("next_page_token")
        if not token:
            return ids
    fail("households of %s do not end" % who)


def denied_like_missing(d, who, hh, *args):
    """eenplan ARGS (naming household hh) is refused with PERMISSION_DENIED,
    with the same answer as for a household that does not exist."""
    a = cli_refused(d, who, "PERMISSION_DENIED", *args)
    miss = random_hhid()
    margs = [miss if x == hh else x for x in args]
    b = cli_refused(d, who, "PERMISSION_DENIED", *margs)
    eq(a.err, b.err, "%s %s: stderr for an existing vs a missing household"
       % (who, " ".join(map(str, args[:2]))))
    check(a.out == "" and b.out == "", "stdout on a denial: %r / %r"
          % (a.out, b.out))
    return a


def audit_records(d, who, hh=None, org=False):
    args = ["audit"] + (["--org"] if org else []) + ([hh] if hh else [])
    args += ["--all-pages"]
    r = cli_ok(d, who, *args, json=True)
    data = body(r.data, "query_audit")
    return data.get("records", []) if isinstance(data, dict) else data


def regisseur_of(plan):
    r = plan.get("regisseur") or {}
    return (r.get("org", ""), r.get("subject", ""))


def dumps(x):
    return jsonlib.dumps(x, ensure_ascii=False)
