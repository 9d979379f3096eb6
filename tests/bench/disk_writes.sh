#!/bin/sh
# tests/bench/disk_writes.sh EENPLAND SECONDS RATE...
#
# What GetPlan costs the disk: one daemon on a fresh copy of the cached
# 100,000-household bench population (lib.sh), then GetPlan for SECONDS at
# each RATE in turn (0: closed loop, the peak), and the bytes and write
# requests the machine's disk took meanwhile (/proc/diskstats of the
# device that holds the store), per GetPlan. E.g.
#     sh tests/bench/disk_writes.sh build/eenpland 8 6800 0
set -eu
[ $# -ge 3 ] || { echo "usage: $0 EENPLAND SECONDS RATE..." >&2; exit 2; }
BIN=$1; DUR=$2; shift 2
. "$(dirname "$0")/lib.sh"
bench_setup disk-writes
bench_daemon "$BIN"
# The kernel's name for it, as /proc/diskstats has it (dm-0, not mapper/x).
dev=$(lsblk -no KNAME "$(df --output=source "$TMP" | tail -1)" | head -1)
grep -q " $dev " /proc/diskstats || { echo "no /proc/diskstats line for $dev" >&2; exit 2; }
$BENCH --mix get=1 --duration 3 --warmup 1 > /dev/null 2>&1
for rate in "$@"; do
	opt=; [ "$rate" = 0 ] || opt="--rate $rate"
	s0=$(awk -v d="$dev" '$3 == d { print $10, $8 }' /proc/diskstats)
	out=$($BENCH --mix get=1 --duration "$DUR" --warmup 0 $opt 2>&1)
	s1=$(awk -v d="$dev" '$3 == d { print $10, $8 }' /proc/diskstats)
	n=$(echo "$out" | awk '$1 == "get" { print $2 + 0 }')
	echo "$s0 $s1 $n" | awk -v r="$rate" -v d="$DUR" -v dev="$dev" '{
	    b = ($3 - $1) * 512; w = $4 - $2; n = $5 * d
	    printf "rate %s: %d GetPlan/s; %s: %.1f MB/s written, %.0f B and %.2f write requests per GetPlan\n",
		(r == 0 ? "closed loop" : r "/s"), $5, dev, b / d / 1e6, (n > 0 ? b / n : 0), (n > 0 ? w / n : 0) }'
done
