#!/bin/sh
# tests/bench/getplan_ab.sh ROUNDS RATE EENPLAND[=POPDIR][+INI]...
#
# A/B of eenpland builds on the cached 100,000-household bench population
# (build/bench/pop-100000, made by `make bench`; EENPLAND=POPDIR gives a
# build a population of its own, e.g. one made by an older build, whose
# store layout it reads; +INI adds that file's settings to its
# configuration, e.g. [store] write_ahead_log = off): for each round and each
# binary, a fresh copy of the store, a 3 s warm-up, then closed-loop GetPlan
# (50 connections, 5 s: the peak), open-loop GetPlan at RATE/s (8 s: the p99
# at a fixed load) and closed-loop MutatePlan (5 s). Interleaved, so drift
# of the machine falls on every binary alike. Port 7630 on 127.0.0.1.
# Used for the audit index step (daemon/writer.c, WRITER_INDEX_*).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 ROUNDS RATE EENPLAND[=POPDIR][+INI]..." >&2; exit 2; }
R=$1; RATE=$2; shift 2
. "$(dirname "$0")/lib.sh"
bench_setup getplan-ab
# The op's line (rate and latencies), then the daemon's CPU per request in
# the window (eenplan-bench --watch-pid): less at the mercy of the disk's
# drift than the rate, though the batch sizes it depends on are not; and
# the cores the host took from the machine (steal) in that window.
CPU='$1==op { split(p, f, " "); line=$2; for (i = 1; i in f; i += 2) { n = substr(f[i+1], 2) + 0; line = line " " f[i] " " $n }; rate=$2+0 }
/server CPU/ { for (i = 1; i <= NF; i++) { if ($i == "server") cpu = $(i+2) + 0; if ($i == "stolen") { st = $(i-1); sub(/\(/, "", st) } } }
END { printf "%s cpu %.0f us/req stolen %.2f\n", line, (rate > 0 ? cpu * 1e6 / rate : 0), st + 0 }'
for r in $(seq 1 "$R"); do
	for arg in "$@"; do
		ini=
		case $arg in *+*) ini=${arg#*+}; arg=${arg%%+*} ;; esac
		bin=${arg%%=*}
		pop=
		[ "$bin" = "$arg" ] || pop=${arg#*=}
		bench_daemon "$bin" "$pop" "$ini"
		B=$BENCH
		$B --mix get=1 --duration 3 --warmup 1 > /dev/null 2>&1
		peak=$($B --mix get=1 --duration 5 --watch-pid $pid 2>&1 | awk -v op=get -v p='p50 $8 p99 $12' "$CPU")
		open=$($B --mix get=1 --duration 8 --rate "$RATE" --watch-pid $pid 2>&1 | awk -v op=get -v p='p50 $8 p99 $12 p999 $14' "$CPU")
		mut=$($B --mix mutate=1 --duration 5 --watch-pid $pid 2>&1 | awk -v op=mutate -v p='p50 $8 p99 $12' "$CPU")
		echo "$bin${ini:+ +$ini} | peak $peak | open@$RATE $open | mutate $mut"
		bench_stop
		sleep 1
	done
done
