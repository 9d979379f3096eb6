#!/bin/sh
# The black-box suite in N shards side by side (EENPLAN_SHARD=K/N each, its
# own run directory and PKI), for the slow valgrind run on a machine with N
# cores. Usage: tests/blackbox/run-sharded.sh N BUILD_DIR [NAME_FILTER...]
# Prints each shard's output in turn, then one "N passed, N failed, N
# skipped" line for all; exits 1 when a shard failed.
set -u
[ $# -ge 2 ] || { echo "usage: $0 N BUILD_DIR [NAME_FILTER...]" >&2; exit 2; }
N=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/eenplan-shards.XXXXXX")
k=0
while [ "$k" -lt "$N" ]; do
	( EENPLAN_SHARD="$k/$N" "$(dirname "$0")/run.sh" "$@" \
	    > "$dir/$k.log" 2>&1; echo $? > "$dir/$k.rc" ) &
	k=$((k + 1))
done
wait
rc=0
p=0 f=0 s=0
k=0
while [ "$k" -lt "$N" ]; do
	echo "---- shard $k of $N"
	grep -v -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$dir/$k.log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' \
	    "$dir/$k.log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL shard.$k: ended without its summary line"
		f=$((f + 1))
	else
		set -- $line
		p=$((p + $1)) f=$((f + $3)) s=$((s + $5))
	fi
	[ "$(cat "$dir/$k.rc")" = 0 ] || rc=1
	k=$((k + 1))
done
rm -rf "$dir"
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ] || rc=1
exit $rc
