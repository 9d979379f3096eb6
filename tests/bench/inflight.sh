#!/bin/sh
# tests/bench/inflight.sh EENPLAND MIX SECONDS CONNxK...
#
# One daemon on a fresh copy of the cached 100,000-household bench
# population (build/bench/pop-100000, made by `make bench`), then closed-loop
# MIX (get or mutate) for SECONDS at each shape in turn: CONN connections
# with K requests in flight each, e.g.
#     sh tests/bench/inflight.sh build/eenpland get 5 50x1 50x2 50x4 50x1
# Whether the rate at one in flight is bound by the chain's latency (more in
# flight, more rate) or by CPU (the machine full, the rate flat). One
# certificate may hold max_connections_per_principal (64) connections: a
# shape above that gets refusals, which the bench names. Port 7630.
set -eu
[ $# -ge 4 ] || { echo "usage: $0 EENPLAND MIX SECONDS CONNxK..." >&2; exit 2; }
BIN=$1; MIX=$2; DUR=$3; shift 3
ROOT=$(cd "$(dirname "$0")/../.." && pwd); P=$ROOT/certs/demo; POP=$ROOT/build/bench/pop-100000
[ -f "$POP/data/data.mdb" ] || { echo "no population in $POP: run make bench first" >&2; exit 2; }
TMP=$(mktemp -d /tmp/inflight.XXXXXX)
pid=	# the daemon's, once started (the trap stops it)
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; sleep 0.5; rm -rf "$TMP"' EXIT
printf '[limits]\nmap_max = 68719476736\nmax_connections = 4096\nwrite_rate = 1073741824\nwrite_burst = 17179869184\n' > "$TMP/run.ini"
cp -r "$POP/data" "$TMP/data"; cp "$POP/store.key" "$TMP/store.key"
"$ROOT/deploy/mkconf.sh" "$P" "$TMP/data" 7630 "$TMP/run.ini" > "$TMP/conf"
"$BIN" -f "$TMP/conf" 2> "$TMP/log" & pid=$!
sleep 2
B="$ROOT/build/eenplan-bench --server 127.0.0.1:7630 --cert $P/people/wmo.crt --key $P/people/wmo.key --ca $P/ca/root.crt --households $POP/households.txt -q --watch-pid $pid"
$B --mix "$MIX=1" --duration 2 --warmup 1 > /dev/null 2>&1
for shape in "$@"; do
	c=${shape%x*}; k=${shape#*x}
	$B --mix "$MIX=1" --connections "$c" --inflight "$k" --duration "$DUR" \
	    --warmup 1 2>&1 | awk -v s="$shape" '
	    $1 == "'"$MIX"'" { r = $2; p50 = $8; p99 = $12 }
	    /client CPU/ { sub(/^ *client CPU /, "client "); sub(/ \([0-9.]* s\),/, ","); sub(/; non-OK.*/, "");
		printf "%-7s %9s  p50 %6s  p99 %7s ms  CPU %s\n", s, r, p50, p99, $0 }
	    /error x/ { print "        " $0 }'
done
