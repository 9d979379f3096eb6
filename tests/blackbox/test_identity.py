"""Identity at the handshake: who may connect, and as whom (DESIGN.md,
"Identity: organisation certificates"). Refusals are checked over TLS 1.3 and
TLS 1.2 (a 1.3 client sees the handshake succeed and the refusal after it;
a 1.2 client sees the handshake fail), and through the CLI."""
from harness import (test, shared, Daemon, Raw, try_whoami, cli, cli_ok, pki,
                     other_pki, check, eq, wait_until, req_whoami, pb_decode,
                     pb_get)


def expect_refused(d, as_name=None, cert=None, key=None, what=""):
    for tls in ("1.3", "1.2"):
        res, how = try_whoami(d, as_name, cert, key, tls=tls)
        check(res == "refused", "%s over TLS %s: expected a refusal, got %s: %s"
              % (what, tls, res, how))
    if as_name is not None:
        r = cli(d, as_name, "whoami")
        check(r.rc in (1, 3) and r.out.strip() == "",
              "eenplan --as %s whoami (%s): expected exit 1 or 3 and no output, "
              "got %r" % (as_name, what, r))
    # The refusal harmed no one else.
    cli_ok(d, "wmo", "whoami")


@test
def accepted_over_tls13_and_tls12_with_alpn():
    d = shared()
    for tls in ("1.3", "1.2"):
        with Raw(d, "lev", tls=tls) as c:
            eq(c.s.selected_alpn_protocol(), "eenplan/1", "ALPN over TLS " + tls)
            r = c.call(req_whoami(1))
            eq((r.id, r.code, r.has_status), (1, 0, False), "WhoAmI over " + tls)
            w = pb_decode(r.body)
            p = pb_decode(pb_get(w, 1, b""))
            eq((pb_get(p, 1), pb_get(p, 2), pb_get(p, 3)),
               (b"lev", b"s.bakker", 4), "principal (org, subject, role)")


@test
def no_client_certificate():
    expect_refused(shared(), what="no client certificate")


@test
def untrusted_issuer():
    """A leaf from another PKI's CA of the same name (lev)."""
    o = other_pki()
    name = pki().leaf("untrusted", "lev", "professional", "u.other",
                      "--issuer-dir", o.dir)
    expect_refused(shared(), name, what="leaf of an untrusted CA")


@test
def claims_other_organisation():
    """lev's CA signed a leaf with O=gemeente: the issuer decides, so refuse."""
    name = pki().leaf("claimer", "lev", "professional", "x.claim",
                      "--claim-org", "gemeente")
    expect_refused(shared(), name, what="leaf claiming O=gemeente from lev's CA")


@test
def role_its_org_may_not_issue():
    """burgers may issue client and carer only."""
    name = pki().leaf("badrole", "burgers", "professional", "y.role")
    expect_refused(shared(), name, what="burgers leaf with OU=professional")


@test
def leaf_issued_by_root():
    name = pki().leaf("rootleaf", "root", "professional", "z.root",
                      "--claim-org", "lev")
    expect_refused(shared(), name, what="leaf issued by the root directly")


@test
def server_certificate_as_client():
    p = pki()
    import os
    cert = os.path.join(p.dir, "server", "server.crt")
    key = os.path.join(p.dir, "server", "server.key")
    expect_refused(shared(), cert=cert, key=key,
                   what="the server's own certificate as a client certificate")


@test
def revoked_after_sighup_and_restart():
    p = pki()
    rev = p.leaf("revoke-me", "lev", "professional", "r.revoked")
    keep = p.leaf("keep-me", "lev", "professional", "k.kept")
    d = Daemon("revoke").start()
    for n in (rev, keep):
        res, how = try_whoami(d, n)
        eq(res, "ok", "%s before revocation (%s)" % (n, how))
    # A connection open across the reload must survive it.
    held = Raw(d, "wmo")
    eq(held.call(req_whoami(7)).code, 0, "held connection before SIGHUP")
    p.revoke(rev)
    d.hup()
    wait_until(lambda: try_whoami(d, rev)[0] == "refused", 10,
               "the revoked leaf to be refused after SIGHUP")
    for tls in ("1.3", "1.2"):
        res, how = try_whoami(d, rev, tls=tls)
        eq(res, "refused", "revoked leaf over TLS %s (%s)" % (tls, how))
    res, how = try_whoami(d, keep)
    eq(res, "ok", "unrevoked leaf after SIGHUP (%s)" % how)
    r = held.call(req_whoami(8))
    eq((r.id, r.code), (8, 0), "connection held across SIGHUP")
    held.close()
    r = cli(d, rev, "whoami")
    check(r.rc in (1, 3), "CLI as revoked leaf: expected exit 1 or 3, got %r" % r)
    cli_ok(d, keep, "whoami")
    d.stop()
    d.start()
    eq(try_whoami(d, rev)[0], "refused", "revoked leaf after a restart")
    eq(try_whoami(d, keep)[0], "ok", "unrevoked leaf after a restart")
    d.stop()
