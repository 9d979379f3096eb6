#!/bin/sh
# tests/bench/population_io.sh EENPLAND POPDIR [INI]: a daemon on a copy of
# a cached population (make bench-population: build/bench/pop-N), 30 s of
# GetPlan warm-up, then 10 s of GetPlan with what each thread wrote
# (write_bytes: pages it dirtied or wrote) and what the disk wrote (DISK, default vda, in
# /proc/diskstats), per read. Port 7631 on 127.0.0.1.
set -eu
BIN=$1; POP=$2; INI=${3:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd); P=$ROOT/certs/demo
TMP=$(mktemp -d /tmp/population-io.XXXXXX)
pid=
# The daemon stopped before its copy of the store goes, on any exit.
trap '[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$TMP"' EXIT
printf '[limits]\nmap_max = 68719476736\nmax_connections = 4096\nwrite_rate = 1073741824\nwrite_burst = 17179869184\n' > $TMP/run.ini
[ -z "$INI" ] || cat "$INI" >> $TMP/run.ini
cp -r "$POP/data" $TMP/data; cp "$POP/store.key" $TMP/store.key; sync
"$ROOT/deploy/mkconf.sh" "$P" "$TMP/data" 7631 "$TMP/run.ini" > "$TMP/conf"
"$BIN" -f "$TMP/conf" 2> "$TMP/log" & pid=$!
sleep 2
B="$ROOT/build/eenplan-bench --server 127.0.0.1:7631 --cert $P/people/wmo.crt --key $P/people/wmo.key --ca $P/ca/root.crt --households $POP/households.txt -q"
$B --mix get=1 --duration 30 --warmup 0 2>&1 | awk '$1=="get" {print "warm", $2}'
snap() { for t in /proc/$pid/task/*; do echo "$(basename $t) $(awk '{print $19}' $t/stat) $(awk '/^write_bytes/ {print $2}' $t/io) $(awk '/^syscw/ {print $2}' $t/io)"; done; grep " ${DISK:-vda} " /proc/diskstats; }
snap > $TMP/a
$B --mix get=1 --duration 10 --warmup 0 2>&1 | awk '$1=="get" {print "run", $2, "p50", $8, "p99", $12}' | tee $TMP/run
snap > $TMP/b
kill $pid; wait $pid 2>/dev/null || true
pid=
python3 - $TMP/a $TMP/b $TMP/run <<'PY'
import sys
def rd(p):
    t={}; d=None
    for l in open(p):
        f=l.split()
        if len(f)==4: t[f[0]]=(int(f[1]),int(f[2]),int(f[3]))
        else: d=[int(x) for x in f[3:]]
    return t,d
a,da=rd(sys.argv[1]); b,db=rd(sys.argv[2])
reads=float(open(sys.argv[3]).read().split()[1].replace(',','').rstrip('/s'))*10
for k in sorted(b, key=lambda k: -(b[k][1]-a.get(k,(0,0,0))[1])):
    wb=b[k][1]-a.get(k,(0,0,0))[1]; sw=b[k][2]-a.get(k,(0,0,0))[2]
    if wb or sw: print("tid %s nice %d: %.0f B/read written, %d write calls" % (k,b[k][0],wb/reads,sw))
# diskstats: fields after name: reads, rmerged, rsect, rms, writes, wmerged, wsect, wms, inflight, ioms, wtms, discards..., flushes(idx 14), flushms(15)
w=db[4]-da[4]; ws=db[6]-da[6]; fl=(db[15]-da[15]) if len(db)>15 else -1
print("disk: %d writes (%.1f/read), %.0f KB written (%.1f KB/read), %d flushes, %d reads" % (w, w/reads, ws/2, ws/2/reads, fl, db[0]-da[0]))
PY
