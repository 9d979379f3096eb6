"""Hostile framing: over-limit, empty, garbage and half frames close only
their own connection, never block or harm another (DESIGN.md, "Wire
protocol"; memcached's malicious-commands.t)."""
import os
import socket
import struct
import time

from harness import (test, shared, Raw, cli_ok, check, eq, fail, req_whoami,
                     f_bytes, frame, SLOW)

MAX_FRAME = 4096


def limits_daemon():
    return shared("frame4k", limits={"max_frame": MAX_FRAME})


def padded_whoami(rid, size):
    """A valid WhoAmI request of exactly size bytes (an unknown field pads)."""
    base = req_whoami(rid)
    for pad in range(size, -1, -1):
        b = base + f_bytes(99, b"p" * pad)
        if len(b) == size:
            return b
    fail("cannot pad a request to %d bytes" % size)


def expect_closed(c, what, codes=("RESOURCE_EXHAUSTED", "INVALID_ARGUMENT")):
    """The connection is closed soon, after at most error answers (id 0)."""
    frames, how = c.outcome(timeout=10)
    check(how != "timeout", "%s: connection neither answered nor closed "
          "within 10 s (frames %r)" % (what, frames))
    for r in frames:
        check(r.code != 0, "%s: got an OK answer %r" % (what, r))
        check(r.code_name in codes, "%s: answer %r, expected one of %s"
              % (what, r, codes))
    return frames


def still_served(d, bystander, rid):
    r = bystander.call(req_whoami(rid))
    eq((r.id, r.code), (rid, 0), "a connection opened earlier is still served")
    cli_ok(d, "wmo", "whoami")


@test
def frame_over_limit():
    d = limits_daemon()
    with Raw(d, "wmo") as bystander, Raw(d, "lev") as c:
        eq(bystander.call(req_whoami(1)).code, 0, "bystander before")
        c.send(struct.pack(">I", 1 << 20) + os.urandom(2000))
        expect_closed(c, "header announcing 1 MiB", ("RESOURCE_EXHAUSTED",))
        still_served(d, bystander, 2)
    with Raw(d, "lev") as c:
        c.send(b"\xff\xff\xff\xff")
        expect_closed(c, "header 0xFFFFFFFF", ("RESOURCE_EXHAUSTED",))
    with Raw(d, "lev") as c:
        c.send(struct.pack(">I", MAX_FRAME + 1))
        expect_closed(c, "header of max_frame + 1 (no body)", ("RESOURCE_EXHAUSTED",))
    cli_ok(d, "wmo", "whoami")


@test
def frame_at_limit_is_served():
    d = limits_daemon()
    with Raw(d, "lev") as c:
        body = padded_whoami(3, MAX_FRAME)
        eq(len(body), MAX_FRAME, "padded size")
        r = c.call(body)
        eq((r.id, r.code), (3, 0), "a frame of exactly max_frame bytes")
        r = c.call(req_whoami(4))
        eq((r.id, r.code), (4, 0), "the next frame")
    with Raw(d, "lev") as c:
        c.send_frame(padded_whoami(5, MAX_FRAME + 1))
        expect_closed(c, "a frame of max_frame + 1 bytes", ("RESOURCE_EXHAUSTED",))


@test
def garbage_and_empty_frames():
    d = limits_daemon()
    bad = [
        ("invalid wire type", b"\x0f" + bytes(63)),
        ("truncated field", b"\x08\x01\x52\x32ab"),
        ("overlong varint", bytes([0xff]) * 128),
    ]
    with Raw(d, "wmo") as bystander:
        eq(bystander.call(req_whoami(1)).code, 0, "bystander")
        for i, (what, body) in enumerate(bad):
            with Raw(d, "lev") as c:
                # A good frame, the bad one, and a good one after it: only the
                # first is answered; the stream is suspect after the bad one.
                c.send(frame(req_whoami(1)) + frame(body) + frame(req_whoami(2)))
                frames, how = c.outcome(timeout=10)
                check(how != "timeout", "%s: not closed within 10 s" % what)
                ok = [r.id for r in frames if r.code == 0]
                eq(ok, [1], "%s: OK answers (ids)" % what)
                for r in frames[1:]:
                    check(r.code_name == "INVALID_ARGUMENT" and r.id == 0,
                          "%s: error answer %r" % (what, r))
            still_served(d, bystander, 10 + i)
        with Raw(d, "lev") as c:
            # A well-formed Request without a body (field 2 is unknown to
            # Request): an error answer for that request, and the
            # connection goes on.
            r = c.call(b"\x08\x07\x12\x02\x08\x07")
            check(r.id == 7 and r.code != 0, "a request without a body: %r" % r)
            eq(c.call(req_whoami(8)).code, 0, "the request after it")
            r = c.call(req_whoami(0))
            check(r.code_name == "INVALID_ARGUMENT", "request id 0: %r" % r)
            eq(c.call(req_whoami(9)).code, 0, "the request after id 0")
        with Raw(d, "lev") as c:
            c.send(b"\x00\x00\x00\x00")
            expect_closed(c, "zero-length frame", ("INVALID_ARGUMENT",))
        still_served(d, bystander, 30)


@test
def silent_half_frames_block_no_one():
    d = limits_daemon()
    stuck = []
    try:
        for i in range(10):
            c = Raw(d, "lev")
            c.send(b"\x00\x00" if i % 2 else struct.pack(">I", 100) + b"\x08")
            stuck.append(c)
        for i in range(10):     # TCP only, no TLS handshake
            stuck.append(Raw(d, "lev", handshake=False))
        t0 = time.monotonic()
        with Raw(d, "wmo") as c:
            eq(c.call(req_whoami(1), timeout=5).code, 0, "a new connection")
        cli_ok(d, "wmo", "whoami")
        dt = time.monotonic() - t0
        check(dt < 5 * SLOW, "served only after %.1f s with silent peers" % dt)
    finally:
        for c in stuck:
            c.close()


@test
def timeouts_close_silent_connections():
    d = shared("timeouts", limits={"handshake_timeout": 2, "idle_timeout": 2})
    tcp = Raw(d, handshake=False)          # never says hello
    half = Raw(d, "lev")
    half.send(b"\x00\x00")                  # half a header, then silence
    idle = Raw(d, "lev")
    eq(idle.call(req_whoami(1)).code, 0, "idle connection, first request")
    busy = Raw(d, "wmo")
    t0 = time.monotonic()
    rid = 1
    while time.monotonic() - t0 < 4:        # activity keeps it open
        eq(busy.call(req_whoami(rid)).code, 0, "busy connection request %d" % rid)
        rid += 1
        time.sleep(0.5)
    for c, what in ((half, "half a header"), (idle, "idle")):
        frames, how = c.outcome(timeout=8)
        check(how != "timeout", "%s connection still open after idle_timeout 2 s"
              % what)
    tcp.sock.settimeout(8 * SLOW)
    try:
        data = tcp.sock.recv(1)
        check(data == b"", "no-handshake connection: got %r" % data)
    except socket.timeout:
        fail("a TCP connection without a TLS handshake is still open after "
             "handshake_timeout 2 s")
    except ConnectionResetError:
        pass
    eq(busy.call(req_whoami(rid)).code, 0, "busy connection after the others closed")
    for c in (tcp, half, idle, busy):
        c.close()
