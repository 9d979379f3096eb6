"""The daemon's log: one logfmt line per event with stable fields, normal
events at info, refusals a peer can cause rate-limited and summed up, and
no plan content at any level."""
import re
import socket
import time

from harness import (test, Daemon, Raw, try_whoami, cli, cli_ok, check, eq,
                     fail, wait_until, frame, new_household, SLOW)

VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s"=]+)'
LINE = re.compile(r'^(?:ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )'
                  r'level=(error|warn|info|debug) msg=("(?:[^"\\]|\\.)*")'
                  r'((?: [a-z_]+=' + VALUE + r')*)$')
FIELD = re.compile(r' ([a-z_]+)=(' + VALUE + r')')


def unquote(v):
    if not v.startswith('"'):
        return v
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1),
                  m.group(1)), v[1:-1])


def parse(text):
    """[(level, msg, {field: value})] of a daemon log; fails on a line that
    is not logfmt (the harness's own '---- start' lines aside)."""
    out = []
    for l in text.splitlines():
        if l.startswith("---- start") or not l.strip():
            continue
        m = LINE.match(l)
        if m is None:
            fail("log line is not logfmt: %r" % l)
        fields = dict((k, unquote(v)) for k, v in FIELD.findall(m.group(3)))
        out.append((m.group(1), unquote(m.group(2)), fields))
    return out


@test
def lines_are_logfmt_and_normal_events_info():
    """Start, reload and stop are level=info with their fields; every line
    parses as logfmt."""
    d = Daemon("logfmt").start()
    d.hup()
    wait_until(lambda: 'msg="reloaded"' in d.log(), 10, "reloaded line")
    d.stop()
    ev = parse(d.log())
    by_msg = dict((m, (lv, f)) for lv, m, f in ev)
    for msg in ("listening", "ready", "reloaded", "stopping", "stopped"):
        check(msg in by_msg, "no %r line in:\n%s" % (msg, d.log_tail()))
        eq(by_msg[msg][0], "info", "level of %r" % msg)
    eq(by_msg["listening"][1].get("addr"), "127.0.0.1:%d" % d.port,
       "listening addr")
    check(by_msg["ready"][1].get("workers", "").isdigit(), "ready workers")
    eq(by_msg["stopping"][1].get("signal"), "SIGTERM", "stopping signal")
    # No warnings in a run where nothing went wrong (root aside).
    warns = [(m, f) for lv, m, f in ev if lv in ("warn", "error")
             and m != "running as root"]
    eq(warns, [], "warnings in a clean run")


def summaries(d, what):
    """Suppressed counts of the summary lines for one kind."""
    out = []
    for lv, m, f in parse(d.log()):
        if m.endswith(" more %s in the last 10 s" % what):
            eq(lv, "warn", "level of the summary")
            out.append(int(f["suppressed"]))
    return out


@test
def refusal_floods_are_summed_up():
    """Bad certificates, bad frames and connections over max_connections:
    at most 5 lines of each kind per 10 s, then one summary line each
    ("N more refused (...) in the last 10 s") that counts the rest."""
    d = Daemon("flood", limits={"max_connections": 4}).start()
    try:
        n_tls = 30
        for _ in range(n_tls):            # no client certificate
            res, _how = try_whoami(d)
            eq(res, "refused", "WhoAmI without a certificate")
        n_frames = 12
        for _ in range(n_frames):         # an empty frame closes the conn
            with Raw(d, "wmo") as c:
                c.send_frame(b"")
                c.outcome(timeout=5)
        wait_until(lambda: try_whoami(d, "wmo")[0] == "ok", 10,
                   "connections closed")
        held = [Raw(d, "wmo") for _ in range(4)]
        n_conns = 25
        try:
            for _ in range(n_conns):          # over max_connections
                s = socket.create_connection(("127.0.0.1", d.port),
                                             timeout=5 * SLOW)
                s.settimeout(5 * SLOW)
                try:
                    s.recv(1)                 # closed by the daemon
                except OSError:
                    pass
                s.close()
        finally:
            for c in held:
                c.close()

        kinds = (("refused (TLS handshake)", n_tls, "reason", "tls"),
                 ("bad frames", n_frames, None, None),
                 ("refused (max_connections)", n_conns, "reason",
                  "max_connections"))
        for what, n, key, val in kinds:
            wait_until(lambda: summaries(d, what), 25,
                       "a summary of %s; log:\n%s" % (what, d.log_tail()))
        ev = parse(d.log())
        for what, n, key, val in kinds:
            sums = summaries(d, what)
            if key is not None:
                lines = [f for lv, m, f in ev if m == "connection refused"
                         and f.get(key) == val]
            else:
                lines = [f for lv, m, f in ev if m == "bad frame; closing"]
            # 5 per window; a slow run (valgrind) may span a second window.
            check(len(lines) <= 5 * (len(sums) + 1), "%d lines of %s for "
                  "%d summaries" % (len(lines), what, len(sums)))
            check(len(lines) + sum(sums) >= n * 0.8, "%s: %d lines + %d "
                  "summed up, of %d" % (what, len(lines), sum(sums), n))
        check(len([1 for lv, m, f in ev if lv == "warn"]) < 40,
              "a flood of %d+%d+%d refusals gave %d warnings"
              % (n_tls, n_frames, n_conns,
                 len([1 for lv, m, f in ev if lv == "warn"])))
        # The refusals did not cost anyone else the service.
        cli_ok(d, "lev", "whoami")
    finally:
        d.stop()


SECRET = "Geheimpje"


@test
def no_plan_content_in_the_log():
    """Texts and names from plans never reach the log, also with -v and
    when requests are refused or invalid."""
    d = Daemon("noplan", args=["-v"]).start()
    try:
        hh = new_household(d, members=("henk.desmet:Henk %sNaam:ouder"
                                       % SECRET,))
        cli_ok(d, "wmo", "goal", "add", hh, "--domain", "financien",
               "--text", "Doel %s schulden" % SECRET)
        cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien",
               "--text", "Notitie %s" % SECRET)
        cli_ok(d, "wmo", "assess", hh, "--domain", "financien", "--score",
               "2", "--remark", "Opmerking %s" % SECRET)
        cli_ok(d, "henk", "consent", "grant", hh, "--to", "lev", "--access",
               "read", "--purpose", "Doel %s toestemming" % SECRET)
        cli_ok(d, "lev", "plan", "show", hh)
        # refused and invalid requests carrying the text
        cli(d, "savant", "note", "add", hh, "--domain", "financien",
            "--text", "Geweigerd %s" % SECRET)
        cli(d, "wmo", "goal", "add", hh, "--domain", "financien", "--text",
            SECRET * 400)
        cli(d, "wmo", "escalate", hh, "--reason", "Escalatie %s" % SECRET)
        cli(d, "zorgboog", "breakglass", hh, "--reason",
            "Noodtoegang %s want iemand is ziek" % SECRET)
    finally:
        d.stop()
    text = d.log()
    check(SECRET.lower() not in text.lower(), "plan text in the log:\n%s"
          % "\n".join(l for l in text.splitlines()
                      if SECRET.lower() in l.lower()))
    check('msg="connected"' in text, "-v did not log connections (is "
          "debug on?)")
    parse(text)
