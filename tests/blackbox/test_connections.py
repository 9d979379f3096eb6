"""A connection's life as the network side keeps it (DESIGN.md, "Identity"
and "Wire protocol"): a certificate revoked by a reload loses its open
connections at once; request ids are unique among a connection's requests
in flight; a begun frame has a deadline; one certificate cannot hold all
connections; a resumed TLS session is checked against the current CRLs;
teams come from the organisation's CA."""
import socket
import ssl
import struct
import time

from harness import (test, shared, Daemon, Raw, cli_ok, pki, check, eq, fail,
                     wait_until, try_whoami, req, req_whoami, req_create,
                     frame, pb_decode, SLOW)


def closed_without_answer(c, what, timeout=10):
    """The connection closes (no OK answer) within timeout seconds."""
    frames, how = c.outcome(timeout=timeout)
    check(how != "timeout", "%s: connection still open after %d s (frames %r)"
          % (what, timeout, frames))
    for r in frames:
        check(r.code != 0, "%s: an OK answer after all: %r" % (what, r))
    return frames


def wait_log(d, needle, timeout=10):
    return wait_until(lambda: needle in d.log_since_start(), timeout,
                      "%r in the daemon's log" % needle)


# ------------------------------------------------------------ revocation

@test
def revoked_certificate_loses_its_open_connections_on_reload():
    """Issue 10, item 8: after revoke + SIGHUP the revoked certificate's open
    connections (TLS 1.3 and 1.2) are closed at once and answer nothing
    more; others stay open and are served."""
    p = pki()
    rev = p.leaf("reload-revoked", "lev", "professional", "r.reload")
    keep = p.leaf("reload-kept", "lev", "professional", "k.reload")
    d = Daemon("reverify").start()
    held = [Raw(d, rev, tls="1.3"), Raw(d, rev, tls="1.2")]
    kept = [Raw(d, keep), Raw(d, "wmo")]
    try:
        for i, c in enumerate(held + kept):
            eq(c.call(req_whoami(i + 1)).code, 0, "before the reload (%d)" % i)
        p.revoke(rev)
        d.hup()
        wait_log(d, "refused after the reload")
        for i, c in enumerate(held):
            try:
                c.send_frame(req_whoami(50 + i))
            except (ssl.SSLError, OSError):
                continue            # already closed: fine
            closed_without_answer(c, "revoked connection %d" % i)
        for i, c in enumerate(kept):
            r = c.call(req_whoami(60 + i))
            eq((r.id, r.code), (60 + i, 0), "unrevoked connection %d after "
               "the reload" % i)
        res, how = try_whoami(d, rev)
        eq(res, "refused", "a new connection of the revoked leaf (%s)" % how)
        check("r.reload" in d.log_since_start(), "the log names the subject")
    finally:
        for c in held + kept:
            c.close()
    d.stop()


# ------------------------------------------------------------ request ids

@test
def duplicate_request_id_in_flight_is_refused():
    """Issue 10, item 9: a request whose id is in flight on the connection
    is refused with INVALID_ARGUMENT naming the id; the one in flight is
    answered as usual; the id is free again once answered."""
    d = shared()
    with Raw(d, "wmo") as c:
        # CreateHousehold waits for the writer, so it is still in flight
        # when the WhoAmI frames with its id are read right behind it.
        c.send(frame(req_create(5)) + frame(req_whoami(5)) +
               frame(req_whoami(5)) + frame(req_whoami(6)))
        got = [c.recv_frame() for _ in range(4)]
        by_id = {}
        for r in got:
            check(r is not None, "connection closed: %r" % got)
            by_id.setdefault(r.id, []).append(r)
        eq(sorted(by_id), [5, 6], "answered ids")
        eq(len(by_id[5]), 3, "answers with id 5")
        refused = [r for r in by_id[5] if r.code != 0]
        ok = [r for r in by_id[5] if r.code == 0]
        eq(len(refused), 2, "refused duplicates (%r)" % by_id[5])
        eq(len(ok), 1, "the one in flight answered")
        eq(ok[0].body_field, 11, "the OK answer is the CreateHousehold")
        for r in refused:
            eq(r.code_name, "INVALID_ARGUMENT", "duplicate's code")
            check("5" in r.message and "in flight" in r.message,
                  "the message names the id: %r" % r.message)
        eq(by_id[6][0].code, 0, "another id is not affected")
        # Answered: id 5 may be used again.
        r = c.call(req_whoami(5))
        eq((r.id, r.code), (5, 0), "id 5 after its answer")


# ------------------------------------------------------------ frame deadline

@test
def trickled_frame_is_cut_by_frame_timeout():
    """Issue 11, item 3: a frame trickled a byte at a time is cut when it is
    not whole within frame_timeout, though every byte restarts the idle
    timer; a bystander is served meanwhile; a slow frame that makes it in
    time is served."""
    d = shared("frametimeout", limits={"frame_timeout": 2,
                                       "idle_timeout": 60})
    body = req_whoami(9) + b"\x9a\x06\x50" + b"p" * 80     # unknown field pads
    data = frame(body)
    with Raw(d, "wmo") as bystander, Raw(d, "lev") as c:
        # A byte every 0.25 s for 1.75 s: each restarts the idle timer; the
        # frame's deadline runs from its first byte all the same.
        t0 = time.monotonic()
        for i, b in enumerate(data[:8]):
            c.send(bytes([b]))
            if i % 2 == 0:
                eq(bystander.call(req_whoami(100 + i)).code, 0,
                   "bystander while the frame trickles")
            time.sleep(max(0.0, t0 + 0.25 * (i + 1) - time.monotonic()))
        frames = closed_without_answer(c, "trickled frame", timeout=10)
        dt = time.monotonic() - t0
        check(dt < 3.5 * SLOW, "cut %.1f s after the first byte: the "
              "deadline (2 s) ran from the last byte, not the first" % dt)
        check(any(r.code_name == "DEADLINE_EXCEEDED" for r in frames),
              "no DEADLINE_EXCEEDED answer: %r" % frames)
    wait_log(d, "frame_timeout")
    # Slow, but whole in time: served.
    with Raw(d, "lev") as c:
        for i in range(0, len(data), 20):
            c.send(data[i:i + 20])
            time.sleep(0.2)
        r = c.recv_frame()
        eq((r.id, r.code), (9, 0), "a slow frame whole within the deadline")


# ------------------------------------------------------------ per principal

@test
def one_certificate_cannot_hold_all_connections():
    """Issue 11, item 2: max_connections_per_principal, counted across
    workers; the next connection of that certificate is refused with a
    reason; others still connect; a closed one frees its place."""
    d = shared("perprincipal", limits={"max_connections_per_principal": 3})
    conns = [Raw(d, "lev") for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            eq(c.call(req_whoami(i + 1)).code, 0, "lev connection %d" % i)
        for tls in ("1.3", "1.2"):
            try:
                c4 = Raw(d, "lev", tls=tls)
            except (ssl.SSLError, OSError):
                fail("the 4th connection failed its handshake; expected an "
                     "answer that says why")
            with c4:
                frames, how = c4.outcome(timeout=10)
                check(how != "timeout", "4th lev connection over TLS %s not "
                      "closed" % tls)
                check(frames and frames[0].code_name == "RESOURCE_EXHAUSTED"
                      and "max_connections_per_principal" in
                      frames[0].message, "4th lev connection over TLS %s: %r"
                      % (tls, frames))
        # Another certificate is not held back, nor the open ones.
        with Raw(d, "wmo") as w:
            eq(w.call(req_whoami(1)).code, 0, "wmo while lev is at its limit")
        eq(conns[0].call(req_whoami(9)).code, 0, "open lev connection")
        conns.pop().close()
        wait_until(lambda: try_whoami(d, "lev")[0] == "ok", 10,
                   "a lev connection after one closed")
    finally:
        for c in conns:
            c.close()


# ------------------------------------------------------------ resumption

def tls_ctx(d, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(d.pki.root)
    ctx.set_alpn_protocols(["eenplan/1"])
    ctx.load_cert_chain(d.pki.cert(name), d.pki.key(name))
    return ctx


def whoami_session(d, ctx, session=None):
    """Connects (offering session), WhoAmI, closes cleanly. Returns
    (outcome, reused, new session): outcome "ok" or why not."""
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10 * SLOW)
    try:
        s = ctx.wrap_socket(sock, server_hostname="localhost", session=session)
    except (ssl.SSLError, OSError) as e:
        sock.close()
        return "handshake: %s" % e, False, None
    try:
        s.sendall(frame(req_whoami(1)))
        hdr = s.recv(4)
        if len(hdr) < 4:
            return "closed", s.session_reused, None
        n = struct.unpack(">I", hdr)[0]
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return "closed", s.session_reused, None
            body += chunk
        from harness import Resp
        r = Resp(body)
        if r.code != 0:
            return "answer %r" % r, s.session_reused, None
        reused, sess = s.session_reused, s.session
        try:
            s.unwrap()      # a clean close keeps the session usable
        except (ssl.SSLError, OSError):
            pass
        return "ok", reused, sess
    except (ssl.SSLError, OSError) as e:
        return "error: %s" % e, s.session_reused, None
    finally:
        s.close()


@test
def resumed_session_is_checked_against_current_crls():
    """Issue 8, item 4: TLS 1.3 resumption works, also across a reload (the
    ticket keys outlive it), and a revoked certificate cannot resume:
    connect, get a ticket, revoke + SIGHUP, resume -> refused."""
    p = pki()
    rev = p.leaf("resume-revoked", "lev", "professional", "r.resume")
    d = Daemon("resume").start()
    ctx_rev, ctx_ok = tls_ctx(d, rev), tls_ctx(d, "wmo")
    how, reused, sess = whoami_session(d, ctx_rev)
    eq((how, reused), ("ok", False), "first connection")
    check(sess is not None, "no session ticket")
    how, reused, sess = whoami_session(d, ctx_rev, sess)
    eq((how, reused), ("ok", True), "resumed connection")
    how, reused, sess_ok = whoami_session(d, ctx_ok)
    eq(how, "ok", "wmo's first connection")

    p.revoke(rev)
    d.hup()
    wait_log(d, 'msg="reloaded"')
    how, reused, _ = whoami_session(d, ctx_rev, sess)
    check(how != "ok", "the revoked certificate resumed its session and was "
          "served (reused %s)" % reused)
    # The reload ended no one else's tickets.
    how, reused, _ = whoami_session(d, ctx_ok, sess_ok)
    eq((how, reused), ("ok", True), "another certificate resumes across the "
       "reload")
    d.stop()


@test
def resumption_can_be_switched_off():
    d = Daemon("noresume", extra_ini="[server]\nticket_lifetime = 0\n").start()
    ctx = tls_ctx(d, "wmo")
    how, reused, sess = whoami_session(d, ctx)
    eq(how, "ok", "first connection")
    if sess is not None:
        how, reused, _ = whoami_session(d, ctx, sess)
        eq((how, reused), ("ok", False), "no resumption with ticket_lifetime 0")
    d.stop()


# ------------------------------------------------------------ teams

@test
def teams_come_from_the_organisation_ca():
    """Issue 10, item 11 (identity): the demo's BMS counsellor and the
    Wmo-consulent of area team Noord connect with their teams; a leaf with
    a team name, a number of teams or an encoding eenpland does not take is
    refused at the handshake with a log line that says why."""
    p = pki()
    d = shared()
    for name, team in (("bms", "bms"), ("wmo", "noord")):
        with Raw(d, name) as c:
            r = c.call(req_whoami(1))
            eq(r.code, 0, "%s (team %s) connects" % (name, team))
            # WhoAmIResponse.teams (field 5).
            teams = [t.decode() for t in pb_decode(r.body).get(5, [])]
            eq(teams, [team], "%s: WhoAmI's teams" % name)
    eight = p.leaf("teams-eight", "gemeente", "professional", "t.eight",
                   *sum((["--team", "t%d" % i] for i in range(8)), []))
    eq(try_whoami(d, eight)[0], "ok", "a leaf with 8 teams")
    with Raw(d, eight) as c:
        r = c.call(req_whoami(1))
        eq([t.decode() for t in pb_decode(r.body).get(5, [])],
           ["t%d" % i for i in range(8)], "eight teams, in order")
    bad = [
        (p.leaf("teams-upper", "gemeente", "professional", "t.upper",
                "--team", "BMS"), 'team "BMS" is not 1..32'),
        (p.leaf("teams-nine", "gemeente", "professional", "t.nine",
                *sum((["--team", "t%d" % i] for i in range(9)), [])),
         "more than 8 teams"),
        (p.leaf("teams-twice", "gemeente", "professional", "t.twice",
                "--team", "bms", "--team", "bms"), "team bms more than once"),
        (p.leaf("teams-long", "gemeente", "professional", "t.long",
                "--team", "x" * 33), "is not 1..32"),
    ]
    for i, (name, why) in enumerate(bad):
        for tls in ("1.3", "1.2"):
            res, how = try_whoami(d, name, tls=tls)
            eq(res, "refused", "%s over TLS %s (%s)" % (name, tls, how))
        # Identity refusals are logged one per 10 s, the rest summed up
        # (logs.refusal_floods_are_summed_up): the first says why.
        if i == 0:
            wait_log(d, why.replace('"', '\\"'))
    cli_ok(d, "wmo", "whoami")


@test
def reloads_during_handshakes_and_resumptions():
    """SIGHUP after SIGHUP while clients keep connecting, fully and from
    tickets: every connection is served, none is refused, the daemon stays
    clean (a context replaced during a handshake outlives it)."""
    import threading
    d = Daemon("reloadstorm").start()
    stop = threading.Event()
    res = {"ok": 0, "resumed": 0, "bad": []}
    lock = threading.Lock()

    def client(name):
        ctx = tls_ctx(d, name)
        sess = None
        while not stop.is_set():
            how, reused, s2 = whoami_session(d, ctx, sess)
            with lock:
                if how == "ok":
                    res["ok"] += 1
                    res["resumed"] += bool(reused)
                else:
                    res["bad"].append(how)
            sess = s2
    threads = [threading.Thread(target=client, args=(n,))
               for n in ("wmo", "lev", "bms")]
    for t in threads:
        t.start()
    # Slower daemons (valgrind) get the time to serve as many.
    end = time.monotonic() + 4 * SLOW
    hups = 0
    while time.monotonic() < end:
        d.hup()
        hups += 1
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(60)
    eq(res["bad"], [], "connections not served during %d reloads" % hups)
    check(res["ok"] > 20 and res["resumed"] > 0, "served %d, resumed %d"
          % (res["ok"], res["resumed"]))
    d.stop()
