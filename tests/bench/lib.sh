# tests/bench/lib.sh — sourced by the diagnostic scripts beside it
# (inflight.sh, peak_metrics.sh, threads.sh, getplan_ab.sh): one daemon on
# a fresh copy of the cached 100,000-household bench population
# (build/bench/pop-100000, made by `make bench`), port 7630 on 127.0.0.1.
#
#   bench_setup NAME [INI-LINES]   TMP (removed at exit, the daemon stopped
#                                  first); ROOT, P (demo PKI) and POP are set
#   bench_daemon EENPLAND [POPDIR] [INI-FILE]
#                                  a fresh copy of the population (POPDIR's,
#                                  else POP), the settings of the ini lines
#                                  and INI-FILE, the daemon started (pid),
#                                  two seconds to start; BENCH: eenplan-bench
#                                  on it, with that population's households.
#                                  Exits 2 when the port is taken already or
#                                  the daemon did not stay up (an earlier
#                                  run's daemon on the port once answered a
#                                  whole A/B in place of the builds named)
#   bench_stop                     the daemon stopped, waited for
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=$ROOT/certs/demo
POP=$ROOT/build/bench/pop-100000
BENCH_INI='[limits]
map_max = 68719476736
max_connections = 4096
write_rate = 1073741824
write_burst = 17179869184'
pid=

bench_stop() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	pid=
}

bench_setup() {
	TMP=$(mktemp -d -t "$1.XXXXXX")	# in $TMPDIR, else /tmp
	trap 'bench_stop; rm -rf "$TMP"' EXIT
	printf '%s\n%s\n' "$BENCH_INI" "${2:-}" > "$TMP/base.ini"
}

bench_daemon() {
	pop=${2:-$POP}
	[ -f "$pop/data/data.mdb" ] || { echo "no population in $pop: run make bench first" >&2; exit 2; }
	cp "$TMP/base.ini" "$TMP/run.ini"
	[ -z "${3:-}" ] || cat "$3" >> "$TMP/run.ini"
	rm -rf "$TMP/data"
	cp -r "$pop/data" "$TMP/data"
	cp "$pop/store.key" "$TMP/store.key"
	# Another server on the port (a daemon an interrupted run left) would
	# answer every request of the run in this one's place: refused.
	# (/proc/net/tcp: port 7630 is 1DCE; state 0A is LISTEN.)
	if awk '$2 ~ /:1DCE$/ && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp; then
		echo "bench: 127.0.0.1:7630 is taken (a daemon left by an earlier run? $(pgrep -a eenpland | head -3))" >&2
		exit 2
	fi
	"$ROOT/deploy/mkconf.sh" "$P" "$TMP/data" 7630 "$TMP/run.ini" > "$TMP/conf"
	"$1" -f "$TMP/conf" 2> "$TMP/log" &
	pid=$!
	BENCH="$ROOT/build/eenplan-bench --server 127.0.0.1:7630 --cert $P/people/wmo.crt --key $P/people/wmo.key --ca $P/ca/root.crt --households $pop/households.txt -q"
	sleep 2
	if ! kill -0 "$pid" 2> /dev/null; then
		echo "bench: $1 exited at start:" >&2
		tail -5 "$TMP/log" >&2
		pid=
		exit 2
	fi
}
