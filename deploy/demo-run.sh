#!/bin/sh
# `make run`: the daemon in the foreground on 127.0.0.1:7411 with the demo
# PKI (certs/demo), a fresh demo household, and client commands to try.
# Ctrl-C stops it.
#
# Each run starts from a fresh store (the demo's data is wiped), so the
# printed commands do what their comments say. Environment:
#   EENPLAN_DEMO_PORT  port to listen on (default 7411); the printed
#                      commands carry --server when it is not the default
#   EENPLAN_DEMO_DIR   config, data and log (default BUILD/demo)
#   EENPLAN_DEMO_PKI   the PKI (default certs/demo, made by `make pki`)
set -eu
O=${1:-build}
cd "$(dirname "$0")/.."
PORT=${EENPLAN_DEMO_PORT:-7411}
DEMO=${EENPLAN_DEMO_DIR:-$O/demo}
PKI=${EENPLAN_DEMO_PKI:-certs/demo}
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)
LOG=$DEMO/eenpland.log

in_use() {
	python3 -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# Another demo (or anything) on the port, or another daemon on this data:
# say so in one line, before anything is touched.
if in_use "$PORT"; then
	echo "demo: port $PORT is in use (another \`make run\`?); stop it, or pick another port: EENPLAN_DEMO_PORT=$((PORT + 1)) make run" >&2
	exit 1
fi
if [ -f "$DEMO/data/eenpland.pid" ] &&
    ! flock -n "$DEMO/data/eenpland.pid" true 2>/dev/null; then
	echo "demo: $DEMO is in use by another eenpland (pid $(head -n 1 "$DEMO/data/eenpland.pid")); stop that one first" >&2
	exit 1
fi

rm -rf "$DEMO/data" "$DEMO/household" "$DEMO/gp-grant"
mkdir -p "$DEMO/data"
# The admin listener (metrics, health) on the next port, when that is free.
ADMIN_PORT=$((PORT + 1))
if in_use "$ADMIN_PORT"; then
	ADMIN_PORT=""
	: > "$DEMO/admin.ini"
else
	printf '[admin]\nlisten = 127.0.0.1:%s\n' "$ADMIN_PORT" > "$DEMO/admin.ini"
fi
deploy/mkconf.sh "$PKI" "$DEMO/data" "$PORT" "$DEMO/admin.ini" > "$DEMO/eenpland.conf"
"$O/eenpland" -n -f "$DEMO/eenpland.conf" >/dev/null

: > "$LOG"
"$O/eenpland" -f "$DEMO/eenpland.conf" 2>> "$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM
export EENPLAN_SERVER=127.0.0.1:$PORT EENPLAN_PKI=$PKI
cli() { "$O/eenplan" "$@"; }

i=0
until grep -q 'msg="ready"' "$LOG" && cli --as wmo whoami >/dev/null 2>&1; do
	i=$((i + 1))
	if ! kill -0 $pid 2>/dev/null; then
		echo "demo: eenpland did not start: $(tail -n 1 "$LOG")" >&2
		exit 1
	fi
	if [ $i -gt 100 ]; then
		echo "demo: eenpland did not answer within 20 s (log: $LOG)" >&2
		kill $pid 2>/dev/null || true
		exit 1
	fi
	sleep 0.2
done

EENPLAN_DEMO_DIR=$DEMO deploy/demo-seed.sh "$O" > "$DEMO/household"
HH=$(cat "$DEMO/household")
GP_GRANT=$(cat "$DEMO/gp-grant")
LEV_GRANT=$(cat "$DEMO/lev-grant")
# A fresh demo: LEV's mirror of an earlier run goes too.
MIRROR=$DEMO/lev-mirror
rm -rf "$MIRROR"
# The commands below must work in another terminal, without this
# environment: name the server and the PKI when they are not the defaults.
C="$O/eenplan"
[ "$PORT" = 7411 ] || C="$C --server 127.0.0.1:$PORT"
[ "$PKI" = certs/demo ] || C="$C --pki $PKI"
cat <<MSG

eenpland runs on 127.0.0.1:$PORT (data in $DEMO/data, log in $LOG).
Demo household: $HH
(Noord; regisseur: Wmo-consulent a.devries of the gemeente; members Henk and Anja de Smet).

Try, in another terminal in $(pwd):

  # the household reads its own plan; LEV sees financiën and sociaal netwerk only
  $C --as henk plan show $HH
  $C --as lev plan show $HH
  # LEV accepts its own action; Senzer may not touch LEV's action
  $C --as lev action accept $HH 5
  $C --as senzer action accept $HH 5
  # Savant has no consent: refused, the same answer as for a household that does not exist
  $C --as savant plan show $HH
  # Henk let in the gemeente's debt counsellors (team bms), not the whole gemeente:
  # j.jansen of team bms reads financiën only
  $C --as bms plan show $HH
  # b.willems, a Wmo-consulent of the gemeente outside team bms: refused, like Savant
  $C --as wmo2 plan show $HH
  # the GP reads the health domains ... until Henk withdraws that consent
  $C --as huisarts plan show $HH
  $C --as henk consent list $HH
  $C --as henk consent revoke $HH $GP_GRANT
  $C --as huisarts plan show $HH
  # the history of the plan, who looked at it, and the regisseur's caseload
  $C --as wmo history $HH
  $C --as henk audit $HH
  $C --as wmo households
  # LEV's system keeps a mirror of the plans LEV may read: one JSON file per household
  # (without --once it keeps following; give it a terminal of its own)
  $C --as lev-systeem sync --dir $MIRROR --once
  ls $MIRROR
  # the regisseur follows what happens, in a terminal of its own (Ctrl-C stops it)
  $C --as wmo watch
  # Senzer passes a signal: a Wmo application hints at wider trouble; watch shows it
  $C --as senzer signal send $HH --domain financien --text "Wmo-aanvraag scootmobiel; ook huurachterstand genoemd"
  $C --as wmo signals
  # Henk withdraws LEV's consent: watch shows it, and LEV's mirror drops its copy
  $C --as henk consent revoke $HH $LEV_GRANT
  $C --as lev-systeem sync --dir $MIRROR --once
  ls $MIRROR

Other demo people: zorgboog lisa (daughter, mantelzorger) anja lev-systeem privacy-lev
(see $PKI/cast.txt). Ctrl-C stops the daemon; the next \`make run\` starts afresh.
MSG
if [ -n "$ADMIN_PORT" ]; then
	cat <<MSG
Metrics and health: curl -s 127.0.0.1:$ADMIN_PORT/metrics  (and /healthz, /readyz)
MSG
fi
wait $pid
