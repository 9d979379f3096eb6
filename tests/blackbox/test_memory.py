"""Memory a client can make the daemon hold (issue 11, item 1; issue 8,
item 5): answers a connection does not read (conn_output_max), everything
all connections hold together (memory_max: reading pauses, the heaviest
connection is cut), and memory given back after a burst.

The slow ones run only with EENPLAN_HOSTILE=1 (`make hostile`): a hundred
clients that ask for a ~950 KB plan and never read, and a few thousand idle
mTLS connections; they print their figures."""
import os
import socket
import ssl
import struct
import sys
import time

from harness import (test, Daemon, Raw, check, eq, fail, wait_until,
                     new_household, req_whoami, req_get_plan, req_mutate,
                     mut_add_note, frame, VALGRIND, SLOW)

HOSTILE = os.environ.get("EENPLAN_HOSTILE", "") not in ("", "0")
MIB = 1024 * 1024


def hostile(fn):
    """A test for `make hostile` only (slow, measures memory)."""
    return test(fn) if HOSTILE else fn


def rss(d):
    """The daemon's resident set, in bytes."""
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    fail("no VmRSS for the daemon")


def measurable(d):
    """RSS means something: no valgrind, no sanitizer runtime (ASan keeps
    freed memory in quarantine, so RSS only grows)."""
    if VALGRIND:
        return False
    with open("/proc/%d/maps" % d.proc.pid) as f:
        return "libasan" not in f.read()


def big_household(d, notes=238, text_len=3990):
    """A household whose plan is ~950 KB (the issue's ~970 KB GetPlan)."""
    hh = new_household(d)
    text = "x" * text_len
    with Raw(d, "wmo") as c:
        left, rid = notes, 1
        while left > 0:
            n = min(60, left)
            r = c.call(req_mutate(rid, hh, *[mut_add_note(1, text)
                                             for _ in range(n)]))
            eq(r.code_name, "OK", "notes batch %d" % rid)
            left -= n
            rid += 1
        r = c.call(req_get_plan(rid, hh))
        eq(r.code, 0, "GetPlan of the big plan")
        check(len(r.raw) > 900000, "plan of only %d bytes" % len(r.raw))
    return hh


def slow_reader(d, name, hh, n, first_id=1):
    """A connection that sends n GetPlans and reads nothing; a small receive
    buffer, so the kernel takes little of what the daemon sends."""
    c = Raw(d, name, handshake=False, timeout=30)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.handshake()
    c.send(b"".join(frame(req_get_plan(first_id + i, hh)) for i in range(n)))
    return c


def read_answers(c, n, timeout=120):
    """Reads n answers; returns how many were OK GetPlans."""
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MIB)
    ok = 0
    for _ in range(n):
        r = c.recv_frame(timeout=timeout)
        check(r is not None, "connection closed after %d answers" % ok)
        if r.code == 0 and r.body_field == 12:
            ok += 1
    return ok


def settle(d, secs=3.0, step=0.25):
    """The highest RSS seen over secs seconds."""
    peak = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        peak = max(peak, rss(d))
        time.sleep(step)
    return peak


@test
def slow_readers_hold_at_most_conn_output_max():
    """Five clients each ask 30 times for a ~950 KB plan and read nothing:
    each holds at most conn_output_max (4 MiB here), not 28 MB; when they
    read at last, every answer comes (backpressure, nothing lost)."""
    d = Daemon("slowreaders", limits={"conn_output_max": 4 * MIB}).start()
    hh = big_household(d)
    base = rss(d)
    clients = [slow_reader(d, "wmo", hh, 30) for _ in range(5)]
    try:
        peak = settle(d, 4.0)
        if measurable(d):
            grown = peak - base
            # Unbounded: 5 x 30 x 0.95 MB = 142 MB.
            check(grown < 60 * MIB, "five slow readers grew the daemon by "
                  "%.1f MB (conn_output_max 4 MiB each)" % (grown / MIB))
        with Raw(d, "wmo2") as c:
            eq(c.call(req_whoami(1), timeout=10).code, 0,
               "another client is served meanwhile")
        for i, c in enumerate(clients):
            eq(read_answers(c, 30), 30, "answers client %d got at last" % i)
    finally:
        for c in clients:
            c.close()
    d.stop()


@test
def memory_max_pauses_reading_and_cuts_the_heaviest():
    """All connections together hold more than memory_max allows (here:
    eight connections each holding 900 KB of a frame they do not finish):
    reading pauses, the heaviest connections are cut with a log line until
    the rest fits, and then everyone else is served again."""
    d = Daemon("memmax", limits={"memory_max": 6 * MIB,
                                 "conn_output_max": 2 * MIB}).start()
    hogs = []
    try:
        for i in range(8):
            c = Raw(d, "lev", timeout=30)
            c.send(struct.pack(">I", 1000000) + b"\x08" * 900000)
            hogs.append(c)
        wait_until(lambda: "cut, the heaviest" in d.log_since_start(),
                   15, "a connection cut for memory_max")
        # Enough of them are cut that the rest fits, and reading resumes.
        t0 = time.monotonic()
        wait_until(lambda: "reading resumes" in d.log_since_start(), 15,
                   "reading to resume")
        with Raw(d, "wmo") as c:
            eq(c.call(req_whoami(1), timeout=15).code, 0,
               "a new client is served once memory is back under the cap")
        cut = 0
        for c in hogs:
            frames, how = c.outcome(timeout=0.5)
            if how != "timeout":
                cut += 1
        check(1 <= cut < 8, "%d of 8 connections cut" % cut)
        check(time.monotonic() - t0 < 15 * SLOW, "slow to resume")
    finally:
        for c in hogs:
            c.close()
    d.stop()


@hostile
def hundred_slow_readers_stay_under_300_mb():
    """Issue 11, item 1, as the issue measured it: 100 clients send GetPlan
    for a ~950 KB plan (16 each) and never read. With the default limits the
    daemon stays under 300 MB, and after they leave its RSS is back within
    20 % of its idle figure."""
    d = Daemon("hostile-slow", limits={
        "max_connections_per_principal": 128}).start()
    hh = big_household(d)
    time.sleep(2)
    idle = rss(d)
    clients = []
    peak = idle
    try:
        for i in range(100):
            clients.append(slow_reader(d, "wmo", hh, 16))
            if i % 10 == 9:
                peak = max(peak, rss(d))
        peak = max(peak, settle(d, 15.0, 0.2))
        with Raw(d, "wmo2") as c:
            eq(c.call(req_whoami(1), timeout=30).code, 0,
               "another client is served while 100 do not read")
    finally:
        for c in clients:
            c.close()
    # Memory comes back (the trim runs within a few seconds).
    after = wait_until(lambda: (lambda r: r if r <= idle * 1.2 else None)(
        rss(d)), 30, "RSS back within 20 %% of idle (%d)" % idle, step=1.0) \
        if measurable(d) else rss(d)
    cuts = d.log_since_start().count("cut, the heaviest")
    print("# 100 slow readers: idle %.1f MB, peak %.1f MB, after %.1f MB; "
          "%d connections cut" % (idle / MIB, peak / MIB, after / MIB, cuts),
          flush=True)
    if measurable(d):
        check(peak < 300 * 1000 * 1000, "peak RSS %.1f MB" % (peak / MIB))
    d.stop()


def idle_connections(d, n, name="wmo"):
    """n mTLS connections that each asked one WhoAmI, then stay idle."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(d.pki.root)
    ctx.set_alpn_protocols(["eenplan/1"])
    ctx.load_cert_chain(d.pki.cert(name), d.pki.key(name))
    conns = []
    for i in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port),
                                                     timeout=30 * SLOW),
                            server_hostname="localhost")
        s.sendall(frame(req_whoami(1)))
        hdr = s.recv(4)
        check(len(hdr) == 4, "connection %d: no answer" % i)
        (ln,) = struct.unpack(">I", hdr)
        got = 0
        while got < ln:
            got += len(s.recv(ln - got))
        conns.append(s)
    return conns


@hostile
def idle_connection_memory():
    """Issue 8, item 5: RSS per idle mTLS connection at a few thousand
    connections, and RSS back near its start after they close."""
    n = int(os.environ.get("EENPLAN_IDLE_CONNS", "3000"))
    d = Daemon("hostile-idle", limits={
        "max_connections": n + 100, "max_connections_per_principal": n + 100,
        "idle_timeout": 3600}).start()
    # Back within 20 % of the daemon's start, as make bench-idle measures
    # (a cold start: the workers' heaps do not exist yet). Before the
    # workers gave back their tcache and their heap's top (worker_trim_cb)
    # 10,000 connections left +26-35 %.
    time.sleep(2)
    cold = rss(d)
    # A first round warms the allocator, as a daemon in service is: the
    # figure per connection is taken from there.
    for c in idle_connections(d, 200):
        c.close()
    time.sleep(7)
    base = rss(d)
    conns = idle_connections(d, n)
    time.sleep(2)
    held = rss(d)
    for c in conns:
        c.close()
    after = cold
    if measurable(d):
        after = wait_until(lambda: (lambda r: r if r <= cold * 1.2 else None)(
            rss(d)), 30, "RSS back within 20 %% of %d at the start" % cold,
            step=1.0)
    per = (held - base) / n
    print("# %d idle mTLS connections: %.0f bytes RSS each (%.1f MB at the "
          "start, %.1f MB before, %.1f MB with them, %.1f MB after they "
          "closed)" % (n, per, cold / MIB, base / MIB, held / MIB,
                       after / MIB), flush=True)
    if measurable(d):
        # Measured: 21.0 KB at 1,000, 21.6 KB at 3,000, 21.8 KB at 10,000.
        # Where it goes (tests/bench/idle_figures.py: heaptrack, killed
        # with 1,000 open; bytes asked of malloc, its headers add ~2 KB):
        #   8,432  OpenSSL's SSL object (struct ssl_st 7,608, of which
        #          4,288 the record layer's 32 pipeline slots; CERT copy)
        #   4,340  the peer's certificate, parsed with its P-256 key (the
        #          session and the verified chain both hold it)
        #   2,293  the read and write AES-256-GCM contexts
        #   1,033  the session (the copy made for the last ticket)
        #   1,801  key shares, handshake digests, ClientHello lists
        #   1,320  libevent: bufferevent_openssl, two evbuffers, socket BIO
        #     776  struct conn
        # OpenSSL 3.0 alone, with the same context, client and
        # certificates, holds 19.9 KB per connection (idle_floor.c; 14.1
        # KB with no client certificate at all) and has no call that
        # frees any of it before SSL_free. What is ours (libevent and
        # struct conn) is ~2 KB; this guards against growth there.
        check(per <= 23 * 1024, "%.0f bytes per idle connection" % per)
    d.stop()
