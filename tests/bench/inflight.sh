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
. "$(dirname "$0")/lib.sh"
bench_setup inflight
bench_daemon "$BIN"
B="$BENCH --watch-pid $pid"
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
