#!/usr/bin/env python3
"""Memory per idle mutual-TLS connection (issue 8, item 5): what eenpland
holds, what OpenSSL alone holds for the same connection, and where it goes:

  python3 tests/bench/idle_figures.py BUILD_DIR [N]       (N: 1000)

- eenpland: VmRSS per connection with N idle connections, each after one
  WhoAmI, once 200 others came and went (as idle_connection_memory does);
- OpenSSL alone: tests/bench/idle_floor.c (built here with cc), the same
  TLS context, certificates and client, no libevent, no connection struct;
- with heaptrack installed (apt-get install heaptrack): eenpland again under
  heaptrack, killed while the N are open; the heap they hold, by owner.
  OpenSSL's own functions have names only in a libssl built with symbols
  (run with LD_LIBRARY_PATH pointing at one); with Debian's stripped
  libssl, the session and the unnamed parts of the handshake land in
  "OpenSSL: other handshake state".
Not part of make check: a measurement, printed as a small table.
"""
import collections
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import harness  # noqa: E402
from harness import Daemon, free_port, wait_until  # noqa: E402
import test_memory  # noqa: E402

WARM = 200

# Owners of the heap an idle connection holds, by a frame of the stack that
# allocated it; the first that matches wins.
OWNERS = [
    ("OpenSSL: the SSL object (struct ssl_st, its CERT copy)", ["SSL_new"]),
    ("OpenSSL: the peer's certificate, parsed (X509, EC key)",
     ["tls_process_client_certificate", "X509_new_ex", "ASN1_item_d2i_ex",
      "X509_verify_cert", "ssl_verify_cert_chain"]),
    ("OpenSSL: handshake digest, and its copy for post-handshake auth",
     ["tls13_save_handshake_digest_for_pha", "ssl3_digest_cached_records",
      "EVP_MD_CTX_copy_ex"]),
    ("OpenSSL: record AEAD contexts (read, write)",
     ["EVP_CipherInit_ex", "tls13_change_cipher_state",
      "tls1_change_cipher_state"]),
    ("OpenSSL: session (copy made for the last ticket)",
     ["tls_construct_new_session_ticket", "ssl_session_dup"]),
    ("OpenSSL: key shares (the client's and ours)", ["EVP_PKEY_generate"]),
    ("OpenSSL: ClientHello cipher list and signature algorithms",
     ["tls_post_process_client_hello", "tls_early_post_process_client_hello"]),
    ("libevent: bufferevent_openssl, evbuffers, socket BIO",
     ["bufferevent_openssl_socket_new", "bufferevent_init_common_",
      "evbuffer_add_cb", "bufferevent_setwatermark", "evbuffer_new"]),
]


def pid_named(root, name):
    """The pid of the process called name among root and its descendants."""
    todo = [root]
    while todo:
        p = todo.pop(0)
        try:
            with open("/proc/%d/comm" % p) as f:
                if f.read().strip() == name:
                    return p
            for t in glob.glob("/proc/%d/task/*/children" % p):
                with open(t) as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return None


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def limits(n):
    return {"max_connections": n + WARM + 100,
            "max_connections_per_principal": n + WARM + 100,
            "idle_timeout": 3600, "handshake_timeout": 300}


def daemon_figure(n):
    """eenpland's VmRSS per idle connection, and before/after in bytes."""
    d = Daemon("idlefig", limits=limits(n)).start()
    for c in test_memory.idle_connections(d, WARM):
        c.close()
    time.sleep(7)       # the trim after a burst runs within a few seconds
    base = rss(d.proc.pid)
    conns = test_memory.idle_connections(d, n)
    time.sleep(2)
    held = rss(d.proc.pid)
    for c in conns:
        c.close()
    time.sleep(7)
    after = rss(d.proc.pid)
    d.stop()
    return (held - base) / n, base, held, after


class FloorPeer:
    """What idle_connections needs of a daemon: its PKI and port."""
    def __init__(self, pki, port):
        self.pki = pki
        self.port = port


def floor_figure(n, tmp):
    """OpenSSL alone: idle_floor's VmRSS and heap per connection."""
    exe = os.path.join(tmp, "idle_floor")
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall",
                    "-Wextra", "-o", exe, os.path.join(HERE, "idle_floor.c"),
                    "-lssl", "-lcrypto"], check=True)
    pki = harness.pki()
    port = free_port()
    p = subprocess.Popen([exe, pki.dir, str(port), str(WARM), str(n),
                          os.path.join(pki.dir, "crl", "all.pem")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        if p.stdout.readline().strip() != "listening":
            raise SystemExit("idle_floor did not start")
        peer = FloorPeer(pki, port)
        for c in test_memory.idle_connections(peer, WARM):
            c.close()
        conns = test_memory.idle_connections(peer, n)
        figs = dict(kv.split("=") for kv in p.stdout.readline().split())
        for c in conns:
            c.close()
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    return float(figs["rss_per_conn"]), float(figs["heap_per_conn"])


def heap_owners(n, tmp):
    """eenpland under heaptrack, killed while n are open: bytes per
    connection by owner, or None without heaptrack."""
    if shutil.which("heaptrack") is None or \
            shutil.which("heaptrack_print") is None:
        return None
    wrap = os.path.join(tmp, "wrapbuild")
    os.makedirs(wrap)
    os.symlink(os.path.join(harness.BUILD, "eenplan"),
               os.path.join(wrap, "eenplan"))
    out = os.path.join(tmp, "heaptrack.eenpland")
    with open(os.path.join(wrap, "eenpland"), "w") as f:
        f.write("#!/bin/sh\nexec heaptrack -o %s %s/eenpland \"$@\"\n"
                % (out, harness.BUILD))
    os.chmod(os.path.join(wrap, "eenpland"), 0o755)
    build, harness.BUILD = harness.BUILD, wrap
    try:
        d = Daemon("idleheap", limits=limits(n))
        d.start(wait=False)
        d.wait_ready(timeout=300)
        pid = wait_until(lambda: pid_named(d.proc.pid, "eenpland"), 30,
                         "eenpland under heaptrack")
        for c in test_memory.idle_connections(d, WARM):
            c.close()
        conns = test_memory.idle_connections(d, n)
        time.sleep(2)
        # What is not freed at the end is what the connections held.
        os.kill(pid, signal.SIGKILL)
        d.proc.wait(timeout=300)
        d.expected_dead = True
        for c in conns:
            c.close()
    finally:
        harness.BUILD = build
    data = glob.glob(out + "*")
    if not data:
        return None
    stacks = os.path.join(tmp, "stacks.txt")
    subprocess.run(["heaptrack_print", "-f", data[0], "--flamegraph-cost-type",
                    "leaked", "-F", stacks], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return owners(stacks, n)


def owners(stacks, n):
    tot = collections.Counter()
    with open(stacks) as f:
        for line in f:
            stack, _, v = line.rstrip("\n").rpartition(" ")
            fr = [re.sub(r" \(.*\)$", "", x) for x in stack.split(";") if x]
            if "worker_main" not in fr or not v.isdigit():
                continue        # start-up, store, writer: not per connection
            tot[owner(fr)] += int(v)
    return [(k, v / n) for k, v in tot.most_common()]


def owner(fr):
    for name, keys in OWNERS:
        if any(k in fr for k in keys):
            return name
    i = fr.index("conn_accept") if "conn_accept" in fr else -1
    if i >= 0 and i == len(fr) - 1:
        return "eenpland: struct conn"
    if i >= 0 and fr[i + 1].startswith("0x"):
        # bufferevent_openssl_socket_new's own struct, inlined in libevent
        return "libevent: bufferevent_openssl, evbuffers, socket BIO"
    if "conn_accept" in fr or "conn_identified" in fr or "conn_readcb" in fr:
        return "eenpland: other"
    return "OpenSSL: other handshake state"


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    n = int(args[1]) if len(args) > 1 else 1000
    harness.BUILD = os.path.abspath(args[0])
    harness.RUN_DIR = tempfile.mkdtemp(prefix="eenplan-fig-")
    try:
        per, base, held, after = daemon_figure(n)
        frss, fheap = floor_figure(n, harness.RUN_DIR)
        heap = heap_owners(n, harness.RUN_DIR)
    finally:
        for d in list(harness._daemons):
            if d.alive():
                d.proc.kill()
                d.proc.wait()
        shutil.rmtree(harness.RUN_DIR, ignore_errors=True)
    print("build: %s, %d cores, %d idle mTLS connections (one WhoAmI each, "
          "after %d that came and went)" % (args[0], os.cpu_count(), n, WARM))
    print("eenpland: %.0f B VmRSS per connection (%.1f MB before, %.1f MB "
          "with them, %.1f MB after they closed)"
          % (per, base / 2**20, held / 2**20, after / 2**20))
    print("OpenSSL alone (idle_floor, same TLS context): %.0f B VmRSS, "
          "%.0f B malloc in use per connection" % (frss, fheap))
    if heap is None:
        print("heap by owner: install heaptrack to see it")
        return 0
    print("heap held per connection in eenpland, by owner (bytes asked of "
          "malloc; its headers add ~10%):")
    for name, b in heap:
        print("  %6.0f  %s" % (b, name))
    print("  %6.0f  total" % sum(b for _, b in heap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
