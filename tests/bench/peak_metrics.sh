#!/bin/sh
# tests/bench/peak_metrics.sh EENPLAND SECONDS [eenplan-bench options...]
#
# Closed-loop GetPlan (50 connections unless told) on a fresh copy of the
# cached 100,000-household bench population (build/bench/pop-100000, made
# by `make bench`), with the daemon's own metrics (its admin listener) read
# before and after: batches and jobs per batch, commit and log-flush time,
# checkpoints, and the daemon's frame-to-answer time against the client's.
# E.g. `sh tests/bench/peak_metrics.sh build/eenpland 8`: 1,436 batches/s
# of 12.2 jobs, commit 68 us, flush 423 us (README, Performance).
# Ports 7630 (clients) and 7631 (metrics) on 127.0.0.1.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 EENPLAND SECONDS [bench options]" >&2; exit 2; }
BIN=$1; DUR=$2; shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd); P=$ROOT/certs/demo; POP=$ROOT/build/bench/pop-100000
TMP=$(mktemp -d /tmp/peak.XXXXXX)
pid=	# the daemon's, once started (the trap stops it)
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; sleep 0.5; rm -rf "$TMP"' EXIT
printf '[limits]\nmap_max = 68719476736\nmax_connections = 4096\nwrite_rate = 1073741824\nwrite_burst = 17179869184\n[admin]\nlisten = 127.0.0.1:7631\n' > "$TMP/run.ini"
[ -f "$POP/data/data.mdb" ] || { echo "no population in $POP: run make bench first" >&2; exit 2; }
cp -r "$POP/data" "$TMP/data"; cp "$POP/store.key" "$TMP/store.key"
"$ROOT/deploy/mkconf.sh" "$P" "$TMP/data" 7630 "$TMP/run.ini" > "$TMP/conf"
"$BIN" -f "$TMP/conf" 2> "$TMP/log" & pid=$!
sleep 2
B="$ROOT/build/eenplan-bench --server 127.0.0.1:7630 --cert $P/people/wmo.crt --key $P/people/wmo.key --ca $P/ca/root.crt --households $POP/households.txt -q"
$B --mix get=1 --duration 2 --warmup 1 > /dev/null 2>&1
curl -s http://127.0.0.1:7631/metrics > "$TMP/m0"
$B --mix get=1 --duration "$DUR" --warmup 0 "$@" 2>&1 | grep -E 'GetPlan|CPU' | head -3
curl -s http://127.0.0.1:7631/metrics > "$TMP/m1"
python3 - "$TMP/m0" "$TMP/m1" "$DUR" <<'PY'
import sys,re
def load(f):
    d={}
    for l in open(f):
        if l.startswith('#') or not l.strip(): continue
        k,v=l.rsplit(' ',1); d[k]=float(v)
    return d
a,b=load(sys.argv[1]),load(sys.argv[2]); dur=float(sys.argv[3])
for k in sorted(b):
    if not re.match(r"eenplan_(writer|wal|checkpoint|store_wal|log|request_duration)",k): continue
    dv=b[k]-a.get(k,0)
    if dv==0: continue
    if '_bucket' in k: continue
    print("%-70s %12.4f  /s %10.2f"%(k,dv,dv/dur))
PY
