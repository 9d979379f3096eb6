#!/bin/sh
# `make run`: the daemon in the foreground on 127.0.0.1:7411 with the demo
# PKI (certs/demo) and its data under the build tree, a demo household seeded
# on first start, and client commands to try. Ctrl-C stops it.
set -eu
O=${1:-build}
cd "$(dirname "$0")/.."
PORT=${EENPLAN_DEMO_PORT:-7411}
DEMO=$O/demo
mkdir -p "$DEMO/data"
deploy/mkconf.sh certs/demo "$(pwd)/$DEMO/data" "$PORT" > "$DEMO/eenpland.conf"
"$O/eenpland" -n -f "$DEMO/eenpland.conf" >/dev/null

"$O/eenpland" -f "$DEMO/eenpland.conf" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM
export EENPLAN_SERVER=127.0.0.1:$PORT EENPLAN_PKI=certs/demo
cli() { "$O/eenplan" "$@"; }

i=0
until cli --as wmo whoami >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 $pid 2>/dev/null; then
		echo "demo: the daemon did not come up" >&2
		kill $pid 2>/dev/null || true
		exit 1
	fi
	sleep 0.2
done

if [ ! -s "$DEMO/household" ]; then
	deploy/demo-seed.sh "$O" > "$DEMO/household"
fi
HH=$(cat "$DEMO/household")
GP_GRANT=$(cat "$DEMO/gp-grant")
# Demo data seeded before LEV's grant id was kept: look it up.
if [ ! -s "$DEMO/lev-grant" ]; then
	cli --as henk consent list "$HH" |
	    awk '/^grant /{g=$2} /^  to: +lev /{print g; exit}' > "$DEMO/lev-grant"
fi
LEV_GRANT=$(cat "$DEMO/lev-grant")
MIRROR=$DEMO/lev-mirror
C="$O/eenplan"
cat <<MSG

eenpland runs on 127.0.0.1:$PORT (data in $DEMO/data). Demo household: $HH
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

Other demo people: wmo2 zorgboog lisa (daughter, mantelzorger) anja lev-systeem privacy-lev
(see certs/demo/cast.txt). Ctrl-C stops the daemon; data stays in $DEMO/data.
MSG
wait $pid
