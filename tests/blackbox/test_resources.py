"""Resource limits that are named in the config: max_connections,
request_memory (what one request may decode into), page_max, and running out
of file descriptors (accepting pauses, never spins, and resumes)."""
import os
import resource
import ssl
import time

from harness import (test, Daemon, shared, Raw, cli, cli_ok, check, eq,
                     wait_until, new_household, req, req_whoami, f_bytes,
                     f_varint, SLOW)


def handshake_refused(d, as_name="lev"):
    """True when a new TLS connection is closed before or during the handshake."""
    try:
        c = Raw(d, as_name, timeout=5)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
        return True
    with c:
        frames, how = c.outcome(timeout=3)
        return how != "timeout" and not frames


@test
def max_connections_refuses_the_next_one():
    d = shared("conns3", limits={"max_connections": 3})
    conns = [Raw(d, "wmo") for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            eq(c.call(req_whoami(i + 1)).code, 0, "connection %d served" % i)
        check(handshake_refused(d), "a 4th connection over max_connections 3 "
              "was let in")
        # The open ones are not harmed by the refusal.
        eq(conns[0].call(req_whoami(9)).code, 0, "open connection still served")
        conns.pop().close()
        # Once one closed, there is room again.
        wait_until(lambda: cli(d, "lev", "whoami").rc == 0, 10,
                   "a new connection after one closed")
    finally:
        for c in conns:
            c.close()


@test
def request_memory_bounds_decoding():
    d = shared("reqmem", limits={"max_frame": 65536, "request_memory": 65536})
    with Raw(d, "wmo") as bystander, Raw(d, "wmo") as c:
        # 10 KB on the wire, ~300 KB of decoded members.
        members = f_bytes(2, b"") * 5000
        c.send_frame(req(7, 11, f_varint(1, 1) + members + f_bytes(3, b"F-1")))
        frames, how = c.outcome(timeout=10)
        check(how != "timeout", "over-budget request neither answered nor closed")
        check(frames and frames[0].code_name == "RESOURCE_EXHAUSTED",
              "expected RESOURCE_EXHAUSTED, got %r" % frames)
        eq(bystander.call(req_whoami(1)).code, 0, "bystander still served")
    # The same household, small enough, is taken in: the limit is the memory.
    cli_ok(d, "wmo", "household", "create", "--area", "noord", "--member",
           "henk.desmet:Henk", "--consent-ref", "F-2")


@test
def page_max_pages_the_caseload():
    d = shared("page2", limits={"page_max": 2})
    made = {new_household(d) for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        args = ["households", "--page-size", "50"]
        if token:
            args += ["--page-token", token]
        r = cli_ok(d, "wmo", *args, json=True)
        page = r.data.get("households", [])
        check(len(page) <= 2, "page of %d over page_max 2" % len(page))
        seen += [h["household_id"] for h in page]
        token = r.data.get("next_page_token")
        pages += 1
        check(pages <= 10, "paging does not end")
        if not token:
            break
    check(made <= set(seen), "paging lost households: %s" % (made - set(seen)))
    eq(len(seen), len(set(seen)), "no household listed twice")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime


@test
def out_of_descriptors_pauses_then_resumes():
    d = Daemon("emfile", limits={"max_connections": 4000})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        d.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    held, pending = [], []
    try:
        # Fill the daemon's descriptor table with real connections ...
        for _ in range(80):
            try:
                c = Raw(d, "wmo", timeout=3)
            except (ssl.SSLError, OSError):
                break
            held.append(c)
        check(20 <= len(held) < 64, "expected to run the daemon out of "
              "descriptors, got %d connections" % len(held))
        # ... and leave more waiting in the kernel's backlog.
        for _ in range(10):
            pending.append(Raw(d, "wmo", timeout=3, handshake=False))
        pid = d.proc.pid
        t0 = cpu_ticks(pid)
        time.sleep(2)
        used = cpu_ticks(pid) - t0
        check(used < 60 * SLOW, "daemon used %d CPU ticks in 2 s while out of "
              "descriptors: a busy loop" % used)
        check("pausing accepts" in d.log_since_start(),
              "no log line about pausing accepts")
        eq(held[0].call(req_whoami(1)).code, 0, "open connection served")
        for c in held:
            c.close()
        held = []
        wait_until(lambda: cli(d, "lev", "whoami").rc == 0, 15 * SLOW,
                   "accepting resumed after descriptors came back")
    finally:
        for c in held + pending:
            c.close()
        d.stop()


@test
def paging_never_skips_past_a_cut_scan():
    """A page reads a bounded number of index entries per scan. When the
    org-wide scan is cut short and its first entries are stale (revoked
    grants), a later page must not jump past its unread entries because the
    personal scan offered a larger id: every readable household is listed
    exactly once."""
    d = shared("page2")
    # 40 households of wmo2, each with an org-wide read grant for the gemeente.
    org = sorted(new_household(d, "wmo2") for _ in range(40))
    for hh in org:
        cli_ok(d, "wmo2", "consent", "grant", hh, "--to", "gemeente",
               "--access", "read", "--purpose", "team", "--form-ref", "F-9")
    # The 16 lowest (one whole scan at page size 1) become stale hints.
    for hh in org[:16]:
        cli_ok(d, "wmo2", "consent", "revoke", hh, "2", "--form-ref", "F-9")
    readable = set(org[16:])
    # wmo's own households, all above the first readable org-wide one.
    mine = []
    for _ in range(30):
        hh = new_household(d, "wmo")
        if hh > org[16]:
            mine.append(hh)
            readable.add(hh)
            if len(mine) == 2:
                break
        else:
            cli_ok(d, "henk", "consent", "revoke", hh, "1")
    check(mine, "no household of wmo above %s in 30 tries" % org[16])
    seen, token = [], None
    for _ in range(200):
        args = ["households", "--page-size", "1"]
        if token:
            args += ["--page-token", token]
        r = cli_ok(d, "wmo", *args, json=True)
        seen += [h["household_id"] for h in r.data.get("households", [])]
        token = r.data.get("next_page_token")
        if not token:
            break
    check(not token, "paging does not end")
    missing = readable - set(seen)
    check(not missing, "paging skipped %d of %d households"
          % (len(missing), len(readable)))
    eq(len(seen), len(set(seen)), "no household listed twice")
    eq(seen, sorted(seen), "pages in id order")


@test
def trickled_handshake_still_times_out():
    """A peer that sends its ClientHello one byte at a time keeps the socket
    busy but must not keep the handshake open past handshake_timeout."""
    import socket
    d = shared("timeouts", limits={"handshake_timeout": 2, "idle_timeout": 2})
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=2)
    start = time.monotonic()
    closed_after = None
    try:
        for b in hello:
            if time.monotonic() - start > 12 * SLOW:
                break
            try:
                s.sendall(bytes([b]))
                s.settimeout(0.5)
                if s.recv(1) == b"":
                    closed_after = time.monotonic() - start
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_after = time.monotonic() - start
                break
    finally:
        s.close()
    check(closed_after is not None, "a trickled handshake was still open "
          "after %.0f s with handshake_timeout 2" % (time.monotonic() - start))
    check(closed_after < 6 * SLOW, "closed only after %.1f s" % closed_after)
