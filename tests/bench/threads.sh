#!/bin/sh
# tests/bench/threads.sh EENPLAND MIX SECONDS [eenplan-bench options...]
#
# The daemon's CPU and context switches per request, thread by thread
# (the threads are named: worker0.., writer, flusher0/1, indexer,
# checkpoint, anchor, ...), from /proc/PID/task/*/stat and status before
# and after a load of MIX (get or mutate) on a fresh copy of the cached
# 100,000-household bench population (build/bench/pop-100000, made by
# `make bench`). E.g. the open loop at 5,000 GetPlan/s:
#     sh tests/bench/threads.sh build/eenpland get 6 --rate 5000
# vcs: voluntary switches (waits), ivcs: involuntary (preempted).
# Port 7630 on 127.0.0.1.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 EENPLAND MIX SECONDS [bench options]" >&2; exit 2; }
BIN=$1; MIX=$2; DUR=$3; shift 3
. "$(dirname "$0")/lib.sh"
bench_setup threads
bench_daemon "$BIN"
B=$BENCH
$B --mix "$MIX=1" --duration 2 --warmup 1 > /dev/null 2>&1
snap() {
	for t in /proc/$pid/task/*; do
		printf '%s %s %s\n' "$(cat "$t/comm")" \
		    "$(awk '{print $14 + $15}' "$t/stat")" \
		    "$(awk '/^voluntary_ctxt/ {v = $2} /^nonvoluntary_ctxt/ {n = $2} END {print v, n}' "$t/status")"
	done | sort
}
snap > "$TMP/s0"
out=$($B --mix "$MIX=1" --duration "$DUR" --warmup 0 "$@" 2>&1)
snap > "$TMP/s1"
echo "$out" | grep -E "^ +$MIX "
rate=$(echo "$out" | awk -v m="$MIX" '$1 == m {print $2 + 0}')
join "$TMP/s0" "$TMP/s1" | awk -v n="$rate" -v d="$DUR" -v hz="$(getconf CLK_TCK)" '
	{ n2 = n * d; cpu = ($5 - $2) * 1000 / hz
	  printf "%-11s cpu %6.0f ms %6.1f us/req  vcs/req %5.2f  ivcs/req %5.2f\n",
	      $1, cpu, (n2 > 0 ? cpu * 1000 / n2 : 0),
	      (n2 > 0 ? ($6 - $3) / n2 : 0), (n2 > 0 ? ($7 - $4) / n2 : 0) }'
