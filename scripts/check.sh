#!/bin/sh
# `make check`: builds (normal and ASan+UBSan, each with make -j) and runs
# every suite, each under its own label; every suite runs even when an
# earlier one failed, and the end is a summary: one line per suite with its
# counts, and each skipped test with the reason it gave.
#   JOBS=N  parallel compile jobs (default: the number of CPUs)
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
MAKE=${MAKE:-make}
# Each suite's output, kept until the next make check (make clean removes it).
LOGDIR=build/check-logs
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
SUMMARY=$LOGDIR/summary
: > "$SUMMARY"
failed=0

# suite LABEL COMMAND...: runs it with its output shown and kept.
suite() {
	label=$1
	shift
	log=$LOGDIR/$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-').log
	echo "==== $label"
	{ "$@"; echo $? > "$log.rc"; } 2>&1 | tee "$log"
	rc=$(cat "$log.rc")
	counts=$(summarise "$log")
	if [ "$rc" -eq 0 ]; then
		echo "$label: ok${counts:+, $counts}" >> "$SUMMARY"
	else
		echo "$label: FAILED (exit $rc)${counts:+, $counts}" >> "$SUMMARY"
		failed=1
	fi
	# Skipped tests and why ("skip NAME: reason", from both harnesses).
	grep -E '^skip [^ ]+: ' "$log" | sed 's/^/    /' >> "$SUMMARY"
	# Failed tests, by name.
	grep -E '^FAIL [^ ]+' "$log" | cut -c1-160 | sed 's/^/    /' >> "$SUMMARY"
	grep -E '^\[  FAILED  \] [a-z_]' "$log" | sed 's/^/    /' >> "$SUMMARY"
	return "$rc"
}

not_run() {
	echo "$1: not run ($2)" >> "$SUMMARY"
	failed=1
}

# The counts a suite printed: the black-box harness's last line, or the
# sum of CMocka's per-binary lines.
summarise() {
	bb=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -n "$bb" ]; then
		echo "$bb"
		return
	fi
	awk '/^\[  PASSED  \] [0-9]+ test/ { p += $4 }
	     /^\[  FAILED  \] [0-9]+ test/ { f += $4 }
	     /^\[  SKIPPED \] [0-9]+ test/ { s += $4 }
	     END { if (p + f + s > 0)
	         printf "%d passed, %d failed, %d skipped (CMocka)\n", p, f, s }' "$1"
}

normal=1
asan=1
suite "build (normal)" $MAKE -j"$JOBS" O=build all unit-bins || normal=0
suite "build (ASan)" $MAKE -j"$JOBS" O=build-asan SAN=1 all unit-bins || asan=0
if [ $normal -eq 1 ]; then
	suite "unit (normal)" $MAKE O=build unit
	suite "black-box (normal)" $MAKE O=build blackbox
	suite "black-box (valgrind)" $MAKE O=build blackbox-valgrind
else
	for s in "unit (normal)" "black-box (normal)" "black-box (valgrind)"; do
		not_run "$s" "the normal build failed"
	done
fi
if [ $asan -eq 1 ]; then
	suite "unit (ASan)" $MAKE O=build-asan SAN=1 unit
	suite "black-box (ASan)" $MAKE O=build-asan SAN=1 blackbox
else
	for s in "unit (ASan)" "black-box (ASan)"; do
		not_run "$s" "the ASan build failed"
	done
fi

echo
echo "==== make check summary (logs in $LOGDIR)"
cat "$SUMMARY"
if [ $failed -ne 0 ]; then
	echo "make check: FAILED"
	exit 1
fi
echo "make check: all suites passed"
