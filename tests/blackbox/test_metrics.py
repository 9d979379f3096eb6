"""The admin listener ([admin] listen): /metrics in the Prometheus text
exposition format 0.0.4, parsed strictly here (and by prometheus_client's
parser when python3-prometheus-client is installed), counters that move by
exactly what was done, /healthz, /readyz naming its failing checks, 404 and
405, a non-loopback address refused, and no listener unless configured."""
import http.client
import math
import os
import re
import socket
import subprocess
import sys
import time

import harness
from harness import (test, Daemon, Raw, pki, other_pki, try_whoami, cli,
                     cli_ok, check, eq, fail, wait_until, new_household,
                     free_port, req, f_varint, req_mutate, mut_add_note, SLOW)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:      # Debian's package, under another python3 (pyenv)
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None


# ------------------------------------------------------------- the format

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? ([^ ]+)(?: (-?[0-9]+))?$" % NAME)
LABEL_PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.match(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$",
                    s):
        fail("not a sample value: %r" % s)
    return float(s)


def parse_labels(s, line):
    """{name: value} of a label set; fails on anything the format refuses."""
    out = {}
    pos = 0
    while pos < len(s):
        m = LABEL_PAIR.match(s, pos)
        if m is None:
            fail("bad label set in %r" % line)
        name = m.group(1)
        val = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n"
                     else e.group(1), m.group(2))
        if name in out:
            fail("label %s twice in %r" % (name, line))
        out[name] = val
        pos = m.end()
        if pos < len(s):
            if s[pos] != ",":
                fail("labels not separated by ',' in %r" % line)
            pos += 1
    return out


def family_of(name, types):
    """The family a sample name belongs to (histogram suffixes stripped)."""
    for suf in ("_bucket", "_sum", "_count"):
        base = name[:-len(suf)]
        if name.endswith(suf) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_exposition(text):
    """Parses the text format strictly (HELP and TYPE at most once per
    family and before its samples, a family's lines together, no series
    twice, histograms complete, cumulative, _count equal to +Inf). Returns
    ({(name, ((label, value), ...)): value}, {family: type})."""
    check(text.endswith("\n"), "exposition does not end with a newline")
    samples, types, helps = {}, {}, {}
    seen_families, current = set(), None
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                check(re.match("^%s$" % NAME, fam), "bad name in %r" % line)
                check(fam not in seen_families or fam == current,
                      "%s %s after its family ended: %r" % (parts[1], fam, line))
                if parts[1] == "TYPE":
                    check(len(parts) == 4 and parts[3] in TYPES,
                          "bad TYPE line %r" % line)
                    check(fam not in types, "TYPE of %s twice" % fam)
                    check(not any(family_of(n, types) == fam
                                  for n, _ in samples),
                          "TYPE of %s after its samples" % fam)
                    types[fam] = parts[3]
                else:
                    check(fam not in helps, "HELP of %s twice" % fam)
                    helps[fam] = parts[3] if len(parts) == 4 else ""
                if current != fam:
                    if current is not None:
                        seen_families.add(current)
                    current = fam
            continue
        check(line != "", "empty line in the exposition")
        m = SAMPLE.match(line)
        if m is None:
            fail("not a sample line: %r" % line)
        name, lab, val = m.group(1), m.group(2), m.group(3)
        labels = parse_labels(lab or "", line)
        fam = family_of(name, types)
        if fam != current:
            check(fam not in seen_families,
                  "samples of %s are not together (%r)" % (fam, line))
            if current is not None:
                seen_families.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        check(key not in samples, "series twice: %r" % line)
        v = parse_value(val)
        if types.get(fam) == "counter":
            check(v >= 0, "negative counter: %r" % line)
        samples[key] = v
    check_histograms(samples, types)
    return samples, types


def check_histograms(samples, types):
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                check("le" in d, "bucket without le: %s %r" % (name, labels))
                rest = tuple(kv for kv in labels if kv[0] != "le")
                series.setdefault(rest, []).append((parse_value(d["le"]), v))
        for rest, buckets in series.items():
            buckets.sort()
            check(buckets[-1][0] == math.inf,
                  "%s%r has no +Inf bucket" % (fam, rest))
            for (_, a), (_, b) in zip(buckets, buckets[1:]):
                check(b >= a, "%s%r buckets not cumulative: %r"
                      % (fam, rest, buckets))
            cnt = samples.get((fam + "_count", rest))
            check(cnt is not None and (fam + "_sum", rest) in samples,
                  "%s%r without _sum or _count" % (fam, rest))
            eq(cnt, buckets[-1][1], "%s%r _count against +Inf" % (fam, rest))


def cross_check(text, samples, types):
    """The same samples through prometheus_client's own parser."""
    if text_string_to_metric_families is None:
        return
    got = {}
    for f in text_string_to_metric_families(text):
        want = types.get(f.name) or types.get(f.name + "_total")
        eq(f.type, want, "prometheus_client's type of %s" % f.name)
        for s in f.samples:
            got[(s.name, tuple(sorted(s.labels.items())))] = s.value
    eq(got, samples, "prometheus_client's reading of the exposition")


# ------------------------------------------------------------- HTTP

def admin_daemon(name, extra="", limits=None):
    port = free_port()
    d = Daemon(name, limits=limits, extra_ini="[admin]\nlisten = "
               "127.0.0.1:%d\n%s" % (port, extra))
    d.admin_port = port
    return d.start()


def http_get(d, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", d.admin_port,
                                   timeout=30 * SLOW)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read().decode()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body
    finally:
        c.close()


def scrape(d):
    st, hdrs, text = http_get(d, "/metrics")
    eq(st, 200, "GET /metrics status")
    eq(hdrs.get("content-type"), "text/plain; version=0.0.4; charset=utf-8",
       "/metrics Content-Type")
    samples, types = parse_exposition(text)
    cross_check(text, samples, types)
    return samples, text


def val(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def listening_ports(pid):
    """TCP ports the process listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for l in lines:
            p = l.split()
            if p[3] == "0A" and p[9] in inodes:       # LISTEN
                ports.add(int(p[1].rsplit(":", 1)[1], 16))
    return ports


# ------------------------------------------------------------- tests

@test
def off_by_default():
    """Without [admin] listen the daemon listens on its TLS port only."""
    d = Daemon("noadmin").start()
    eq(listening_ports(d.proc.pid), {d.port}, "ports the daemon listens on")
    check("admin listening" not in d.log(), "admin listener without config")
    d.stop()


@test
def requests_counted_by_op_and_code():
    """GetPlan OK moves by exactly the reads made, a refusal counts under
    PERMISSION_DENIED, the latency histogram and the audit counter follow;
    no household id or name appears."""
    d = admin_daemon("metrics-req")
    hh = new_household(d)
    before, _ = scrape(d)
    n = 3
    for _ in range(n):
        cli_ok(d, "henk", "plan", "show", hh)
    r = cli(d, "savant", "plan", "show", hh)
    eq(r.rc, 1, "savant plan show exit status (%r)" % r)
    after, text = scrape(d)

    def delta(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)
    eq(delta("eenplan_requests_total", op="GetPlan", code="OK"), n,
       "GetPlan OK counted")
    eq(delta("eenplan_requests_total", op="GetPlan", code="PERMISSION_DENIED"),
       1, "GetPlan PERMISSION_DENIED counted")
    eq(delta("eenplan_request_duration_seconds_count", op="GetPlan"), n + 1,
       "GetPlan latency observations")
    check(val(after, "eenplan_request_duration_seconds_sum", op="GetPlan") > 0,
          "GetPlan latency sum")
    eq(val(after, "eenplan_requests_total", op="CreateHousehold", code="OK"),
       1, "CreateHousehold OK")
    # Every GetPlan, the refused one too, has its audit record committed.
    check(delta("eenplan_audit_records_total") >= n + 1,
          "audit records: %r" % delta("eenplan_audit_records_total"))
    eq(val(after, "eenplan_audit_last_seq"), val(after, "eenplan_audit_records_total"),
       "audit_last_seq of a new store against the records written")
    check(delta("eenplan_writer_batch_jobs_count") >= 1, "writer batches")
    eq(val(after, "eenplan_writer_batch_jobs_count"),
       val(after, "eenplan_writer_commit_duration_seconds_count"),
       "one commit timed per batch")
    check(val(after, "eenplan_handshakes_total", outcome="ok") >= n + 2,
          "handshakes ok")
    check(val(after, "eenplan_store_map_size_bytes") == 1073741824,
          "map size is map_max")
    check(0 < val(after, "eenplan_store_map_used_bytes") <= 1073741824,
          "map used")
    check(val(after, "eenplan_store_disk_free_bytes") > 0, "disk free")
    check(val(after, "eenplan_feed_last_seq") >= 1, "feed seq")
    eq(val(after, "eenplan_ready"), 1, "eenplan_ready")
    for s in (hh, "Henk", "henk.desmet", "Smet", "a.devries"):
        check(s not in text, "%r appears in /metrics" % s)
    d.stop()


@test
def handshakes_by_outcome():
    """A client without a certificate, one from an untrusted CA and a
    revoked one are each counted under their outcome."""
    p = pki()
    rev = p.leaf("metrics-revoked", "lev", "professional", "m.revoked")
    d = admin_daemon("metrics-hs")
    eq(try_whoami(d, rev)[0], "ok", "leaf before its revocation")
    s0, _ = scrape(d)

    eq(try_whoami(d)[0], "refused", "no client certificate")
    o = other_pki()
    eq(try_whoami(d, cert=o.cert("wmo"), key=o.key("wmo"))[0], "refused",
       "a certificate of an unknown CA")
    p.revoke(rev)
    d.hup()
    wait_until(lambda: 'msg="reloaded"' in d.log_since_start(), 10,
               "the reload after SIGHUP")
    eq(try_whoami(d, rev)[0], "refused", "revoked leaf")

    def delta(outcome):
        return (val(s1, "eenplan_handshakes_total", outcome=outcome) -
                val(s0, "eenplan_handshakes_total", outcome=outcome))
    s1 = wait_until(lambda: (lambda s: s if sum(
        val(s, "eenplan_handshakes_total", outcome=o) for o in
        ("no_certificate", "certificate_rejected", "revoked")) -
        sum(val(s0, "eenplan_handshakes_total", outcome=o) for o in
            ("no_certificate", "certificate_rejected", "revoked")) >= 3
        else None)(scrape(d)[0]), 10, "three refused handshakes counted")
    eq(delta("no_certificate"), 1, "handshakes without a certificate")
    eq(delta("certificate_rejected"), 1, "handshakes with an unknown CA")
    eq(delta("revoked"), 1, "handshakes with a revoked certificate")
    eq(delta("ok"), 0, "handshakes ok meanwhile")
    d.stop()


@test
def subscribers_gauge():
    """An open Subscribe shows as a subscriber; it goes when its connection
    closes."""
    d = admin_daemon("metrics-sub")
    c = Raw(d, "wmo")
    r = c.call(req(5, 25, f_varint(1, 0)))
    eq((r.id, r.code), (5, 0), "Subscribe confirmation")
    s = wait_until(lambda: (lambda x: x if val(x, "eenplan_feed_subscribers")
                            == 1 else None)(scrape(d)[0]), 10,
                   "one subscriber")
    eq(val(s, "eenplan_requests_total", op="Subscribe", code="OK"), 1,
       "Subscribe counted once, when it began")
    # A change it may see is pushed; then it has nothing left to look at.
    new_household(d)
    ev = c.recv_frame(timeout=10)
    check(ev is not None and ev.id == 5 and ev.code == 0,
          "no event pushed: %r" % (ev,))
    wait_until(lambda: val(scrape(d)[0], "eenplan_feed_subscriber_lag_events")
               == 0, 10, "no subscriber lag")
    c.close()
    # A subscription finds its connection gone at its next round, when the
    # feed moves: a change makes one.
    new_household(d)
    wait_until(lambda: val(scrape(d)[0], "eenplan_feed_subscribers") == 0,
               10, "no subscriber after the close")
    s, _ = scrape(d)
    eq(val(s, "eenplan_requests_total", op="Subscribe", code="OK"), 1,
       "Subscribe still counted once")
    eq(val(s, "eenplan_requests_total", op="Subscribe", code="CANCELLED"), 0,
       "the end of a subscription is not another request")
    d.stop()


@test
def health_ready_and_http_answers():
    """/healthz and /readyz 200 "ok"; HEAD answers without a body; other
    paths 404; other methods 405 with Allow."""
    d = admin_daemon("metrics-http")
    eq(http_get(d, "/healthz")[::2], (200, "ok\n"), "/healthz")
    eq(http_get(d, "/readyz")[::2], (200, "ok\n"), "/readyz")
    # The dates readiness reads: every certificate and CRL of the config.
    s, _ = scrape(d)
    now = time.time()
    for what in ("server", "root", "org:gemeente", "org:burgers"):
        t = val(s, "eenplan_certificate_expiry_timestamp_seconds",
                certificate=what)
        check(t > now + 86400, "expiry of the %s certificate: %r" % (what, t))
    for what in ("root", "org:lev"):
        t = val(s, "eenplan_crl_next_update_timestamp_seconds", issuer=what)
        check(t > now, "next update of the %s CRL: %r" % (what, t))
    check(abs(val(s, "eenplan_start_time_seconds") - now) < 600 * SLOW,
          "start time")
    st, hdrs, body = http_get(d, "/metrics", "HEAD")
    eq((st, body), (200, ""), "HEAD /metrics")
    eq(http_get(d, "/metrics?name[]=x")[0], 200, "/metrics with a query")
    for path in ("/", "/metrics/", "/nope", "/healthz/x", "/../metrics"):
        eq(http_get(d, path)[0], 404, "GET %s" % path)
    for m in ("POST", "PUT", "DELETE", "OPTIONS"):
        st, hdrs, _ = http_get(d, "/metrics", m)
        eq(st, 405, "%s /metrics" % m)
        eq(hdrs.get("allow"), "GET, HEAD", "Allow of the 405 to %s" % m)
    # A header block past the limit is refused, and the listener goes on.
    s = socket.create_connection(("127.0.0.1", d.admin_port), timeout=10 * SLOW)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
              b"\r\n\r\n")
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    check(not got.startswith(b"HTTP/1.1 200"), "20 kB of headers answered "
          "200: %r" % got[:80])
    eq(http_get(d, "/healthz")[0], 200, "/healthz after a refused request")
    d.stop()


@test
def readyz_names_certificate_check():
    """cert_min_days beyond the certificates' validity: /readyz 503 naming
    the certificates, one check per line; /healthz still 200."""
    d = admin_daemon("metrics-certs", "cert_min_days = 36500\n")
    st, _, body = http_get(d, "/readyz")
    eq(st, 503, "/readyz status (%r)" % body)
    lines = body.splitlines()
    check(lines and all(re.match(r"^[a-z]+: \S", l) for l in lines),
          "/readyz lines do not each name a check: %r" % body)
    check(any(l.startswith("certificates: server certificate expires")
              and "cert_min_days = 36500" in l for l in lines),
          "/readyz does not name the server certificate: %r" % body)
    check(not any(l.startswith(("store:", "audit:")) for l in lines),
          "/readyz names store or audit: %r" % body)
    eq(http_get(d, "/healthz")[:3:2], (200, "ok\n"), "/healthz")
    eq(val(scrape(d)[0], "eenplan_ready"), 0, "eenplan_ready")
    d.stop()


@test
def readyz_names_store_when_full():
    """A write that no longer fits the map (map_max): /readyz 503 naming
    the store, counted under RESOURCE_EXHAUSTED; a restart with room is
    ready again."""
    d = admin_daemon("metrics-full", limits={"map_max": 1048576})
    hh = new_household(d)
    mark = "VOLMETRIC-"
    with Raw(d, "wmo") as c:
        for i in range(400):
            r = c.call(req_mutate(i + 1, hh, mut_add_note(
                1, (mark + "%05d " % i).ljust(3900, "x"))))
            if r.code != 0:
                break
        eq(r.code_name, "RESOURCE_EXHAUSTED", "the write that did not fit")
    st, _, body = http_get(d, "/readyz")
    eq(st, 503, "/readyz on a full store (%r)" % body)
    check(any(l.startswith("store: ") and "storage full" in l
              for l in body.splitlines()),
          "/readyz does not name the store: %r" % body)
    s, text = scrape(d)
    eq(val(s, "eenplan_requests_total", op="MutatePlan",
           code="RESOURCE_EXHAUSTED"), 1, "the refused write counted")
    eq(val(s, "eenplan_ready"), 0, "eenplan_ready on a full store")
    check(val(s, "eenplan_store_map_used_bytes") >
          val(s, "eenplan_store_map_size_bytes") / 2, "map use: %r" %
          val(s, "eenplan_store_map_used_bytes"))
    check(mark not in text and hh not in text, "plan text or id in /metrics")
    eq(http_get(d, "/healthz")[0], 200, "/healthz on a full store")
    d.stop()
    d.limits["map_max"] = 16 * 1048576
    d.start()
    eq(http_get(d, "/readyz")[::2], (200, "ok\n"), "/readyz with room again")
    d.stop()


@test
def non_loopback_refused():
    """[admin] listen on an address that is not loopback: the config check
    and the start both refuse it, naming the key."""
    for addr in ("0.0.0.0", "192.0.2.1", "[::]", "localhost"):
        d = Daemon("metrics-lo", extra_ini="[admin]\nlisten = %s:%d\n"
                   % (addr, free_port()))
        d.start(wait=False)
        try:
            rc = d.proc.wait(30 * SLOW)
        except subprocess.TimeoutExpired:
            fail("daemon with [admin] listen = %s kept running" % addr)
        d.proc_done()
        check(rc != 0, "daemon with [admin] listen = %s exited 0" % addr)
        log = d.log_since_start()
        check("[admin] listen: %s is not a loopback address" % addr.strip("[]")
              in log,
              "no clear refusal for %s in:\n%s" % (addr, d.log_tail()))
        r = subprocess.run([os.path.join(harness.BUILD, "eenpland"), "-n",
                            "-f", d.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        check(r.returncode != 0 and b"not a loopback address" in r.stderr,
              "eenpland -n with [admin] listen = %s: %r" % (addr, r))


@test
def parser_refuses_bad_text():
    """The strict parser above refuses what the format does not allow (so
    the tests that use it mean something)."""
    good = ("# HELP a_total x\n# TYPE a_total counter\na_total{op=\"x\"} 1\n"
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 3.5\nh_count 2\n")
    parse_exposition(good)
    bad = {
        "no final newline": good[:-1],
        "buckets not cumulative": good.replace('h_bucket{le="1"} 1',
                                               'h_bucket{le="1"} 3'),
        "count against +Inf": good.replace("h_count 2", "h_count 5"),
        "no +Inf bucket": good.replace('h_bucket{le="+Inf"} 2\n', ""),
        "series twice": good + 'a_total{op="x"} 2\n',
        "family interleaved": good + 'a_total{op="y"} 2\n',
        "TYPE twice": good + "# TYPE a_total counter\n",
        "bad label": good.replace('op="x"', "op=x"),
        "bad value": good.replace("h_sum 3.5", "h_sum 3,5"),
        "negative counter": good.replace('a_total{op="x"} 1',
                                         'a_total{op="x"} -1'),
    }
    for what, text in bad.items():
        try:
            parse_exposition(text)
        except harness.Failure:
            continue
        fail("the parser took text with %s" % what)
