#!/usr/bin/env python3
"""Figures of the change feed (issue 9), measured against a build:

  python3 tests/bench/feed_figures.py BUILD_DIR [--writers 50]
      [--subscribers 10] [--seconds 10] [--idle 1000]

- push: `writers` connections (each its own household, one MutatePlan at a
  time: one note) write for `seconds` while `subscribers` subscriptions (the
  regisseur of every household, so each gets every event) read. Reported:
  writes per second, events per second delivered (all subscribers
  together), and the delay from commit to delivery — the moment a write's
  MutatePlanResponse arrived to the moment its event arrived at a
  subscriber — as p50/p99 (also from the moment the write was sent).
- idle: the daemon's memory (VmRSS and RssAnon from /proc) with `idle`
  connections, then with each of them subscribed (nothing to push): the
  cost per connection and per subscription.

The clients are Python processes (stdlib; the harness's raw TLS client) on
the same machine as the daemon, so on a small machine they take CPU from
it: the figures are a floor. Not part of make check.
"""
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import harness  # noqa: E402
from harness import Daemon, Raw, check, pb_decode, pb_get  # noqa: E402
from feedlib import (make_households, mut_note, req_mutate,  # noqa: E402
                     req_subscribe, rss_kib, whole_feed)


def arg(args, name, default):
    if name in args:
        return int(args[args.index(name) + 1])
    return default


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


# ------------------------------------------------------------ push

def event_key(body):
    """(household, version) of a pushed frame's event, without decoding the
    rest of it."""
    sr = pb_decode(body)
    ev = pb_get(sr, 1)
    if ev is None:
        return None
    e = pb_decode(ev)
    return (pb_get(e, 2, b"").decode(), pb_get(e, 4, 0))


def subscriber(d, since, ready, stop_at, out):
    c = Raw(d, "wmo", timeout=30)
    c.send_frame(req_subscribe(1, since))
    r = c.recv_frame()
    check(r is not None and r.code == 0, "Subscribe: %r" % r)
    ready.set()
    got = []
    while True:
        left = stop_at.value - time.monotonic() if stop_at.value else 60
        if left <= 0:
            break
        try:
            r = c.recv_frame(min(left, 1.0))
        except OSError:         # socket.timeout: look at the clock again
            continue
        t = time.monotonic()
        if r is None or r.code != 0:
            got.append(("END", r.code if r else -1, t))
            break
        k = event_key(r.body)
        if k is not None:
            got.append((k[0], k[1], t))
    c.close()
    out.put(got)


def writer_thread(d, hh, start, end, rec):
    with Raw(d, "wmo", timeout=30) as c:
        rid = 1
        while time.monotonic() < start:
            time.sleep(0.001)
        while time.monotonic() < end:
            rid += 1
            t0 = time.monotonic()
            r = c.call(req_mutate(rid, hh, [mut_note(1 + rid % 13,
                                                    "meting %d" % rid)]))
            t1 = time.monotonic()
            check(r.code == 0, "MutatePlan: %r" % r)
            version = pb_get(pb_decode(r.body), 1, 0)
            rec.append((hh, version, t0, t1))


def writer_proc(d, hhs, start, end, out):
    recs = []
    ts = [threading.Thread(target=writer_thread,
                           args=(d, hh, start, end, recs)) for hh in hhs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(recs)


def push_figures(d, nwriters, nsubs, seconds):
    hhs = make_households(d, nwriters)
    head = whole_feed(d, "wmo")[1]
    ctx = mp.get_context("fork")
    stop_at = ctx.Value("d", 0.0)
    subq, wq = ctx.Queue(), ctx.Queue()
    subs = []
    for _ in range(nsubs):
        ready = ctx.Event()
        p = ctx.Process(target=subscriber, args=(d, head, ready, stop_at,
                                                 subq))
        p.start()
        check(ready.wait(30), "a subscriber did not start")
        subs.append(p)
    start = time.monotonic() + 1.0
    end = start + seconds
    nproc = max(1, min(5, nwriters))
    groups = [hhs[i::nproc] for i in range(nproc)]
    ws = [ctx.Process(target=writer_proc, args=(d, g, start, end, wq))
          for g in groups]
    for p in ws:
        p.start()
    writes = []
    for _ in ws:
        writes += wq.get()
    for p in ws:
        p.join()
    stop_at.value = time.monotonic() + 10.0      # time to drain
    got = []
    for _ in subs:
        got.append(subq.get())
    for p in subs:
        p.join()
    done = {(hh, v): (t0, t1) for hh, v, t0, t1 in writes}
    delays, from_send, ends = [], [], 0
    in_window = 0
    last_arrival = end
    for g in got:
        for hh, v, t in g:
            if hh == "END":
                ends += 1
                continue
            w = done.get((hh, v))
            if w is None:
                continue
            delays.append(t - w[1])
            from_send.append(t - w[0])
            if t <= end:
                in_window += 1
            last_arrival = max(last_arrival, t)
    missing = nsubs * len(writes) - len(delays)
    if os.environ.get("FEEDFIG_DEBUG"):
        for g in got:
            seen = set((hh, v) for hh, v, t in g)
            miss = sorted(k for k in done if k not in seen)
            print("# subscriber: %d events, missing %r" % (len(g), miss[:10]))
    return {
        "writes": len(writes), "seconds": seconds,
        "writes_s": len(writes) / seconds,
        "events_s": in_window / seconds,
        "events_total_s": len(delays) / (last_arrival - start),
        "p50": pct(delays, 0.50), "p99": pct(delays, 0.99),
        "max": max(delays) if delays else float("nan"),
        "send_p50": pct(from_send, 0.50), "send_p99": pct(from_send, 0.99),
        "write_p50": pct([w[1] - w[0] for w in done.values()], 0.5),
        "write_p99": pct([w[1] - w[0] for w in done.values()], 0.99),
        "missing": missing, "ended": ends,
    }


# ------------------------------------------------------------ idle

def idle_figures(d, n):
    pid = d.proc.pid
    head = whole_feed(d, "wmo")[1]
    time.sleep(1.0)
    base = (rss_kib(pid, "VmRSS"), rss_kib(pid))
    conns = []
    who = ("wmo", "lev", "senzer", "zorgboog", "lev-systeem")
    for i in range(n):
        conns.append(Raw(d, who[i % len(who)], timeout=30))
    for c in conns:              # one request each: past the handshake
        c.send_frame(b"\x08\x01\x52\x00")
        check(c.recv_frame().code == 0, "WhoAmI")
    time.sleep(1.0)
    conn = (rss_kib(pid, "VmRSS"), rss_kib(pid))
    for c in conns:
        c.send_frame(req_subscribe(2, head))
    for c in conns:
        r = c.recv_frame()
        check(r is not None and r.code == 0, "Subscribe: %r" % r)
    time.sleep(1.0)
    sub = (rss_kib(pid, "VmRSS"), rss_kib(pid))
    for c in conns:
        c.close()
    return base, conn, sub


def main():
    args = sys.argv[1:]
    build = [a for a in args if not a.startswith("--") and not a.isdigit()][0]
    nwriters = arg(args, "--writers", 50)
    nsubs = arg(args, "--subscribers", 10)
    seconds = arg(args, "--seconds", 10)
    nidle = arg(args, "--idle", 1000)
    harness.BUILD = os.path.abspath(build)
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-fig-")
    d = Daemon("feedfig", limits={"write_rate": 1073741824,
                                  "write_burst": 17179869184,
                                  "max_connections": 8192})
    d.start()
    res = push_figures(d, nwriters, nsubs, seconds)
    base, conn, sub = idle_figures(d, nidle)
    d.stop()
    print("build: %s, %d cores" % (build, os.cpu_count()))
    print("push: %d writers for %d s: %d writes (%.0f/s; MutatePlan p50 "
          "%.1f ms, p99 %.1f ms); %d subscribers"
          % (nwriters, seconds, res["writes"], res["writes_s"],
             res["write_p50"] * 1e3, res["write_p99"] * 1e3, nsubs))
    print("  events delivered: %.0f/s (all subscribers, while writing); "
          "%.0f/s until the last arrived; %d not delivered, %d "
          "subscriptions ended" % (res["events_s"], res["events_total_s"],
                                   res["missing"], res["ended"]))
    print("  commit (MutatePlanResponse) -> delivery: p50 %.1f ms, p99 %.1f "
          "ms, max %.1f ms; from sending the write: p50 %.1f ms, p99 %.1f "
          "ms" % (res["p50"] * 1e3, res["p99"] * 1e3, res["max"] * 1e3,
                  res["send_p50"] * 1e3, res["send_p99"] * 1e3))
    print("idle: daemon VmRSS %d kB, RssAnon %d kB; with %d connections "
          "%d / %d kB (+%.1f kB each); all subscribed %d / %d kB (+%.1f kB "
          "each for the subscription, +%.1f kB each in all)"
          % (base[0], base[1], nidle, conn[0], conn[1],
             (conn[0] - base[0]) / nidle, sub[0], sub[1],
             (sub[0] - conn[0]) / nidle, (sub[0] - base[0]) / nidle))


if __name__ == "__main__":
    main()
