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
. "$(dirname "$0")/lib.sh"
bench_setup peak '[admin]
listen = 127.0.0.1:7631'
bench_daemon "$BIN"
B=$BENCH
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
