#!/bin/sh
# Installs what `make bench` needs beyond scripts/deps.sh, if missing: the
# references (redis 7 with TLS, PostgreSQL 15) and libpq for eenplan-bench.
# Debian 12 packages only; apt-get as root, else through sudo.
#
# The packages' own services are not started: the bench runs its own
# instances on free loopback ports in a temporary directory. While apt-get
# runs, a policy-rc.d that refuses service starts is put in place (only when
# the machine has none) and removed afterwards.
set -eu
PKGS="redis-server redis-tools postgresql-15 postgresql-client-15 libpq-dev
 openssl python3 procps"
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "bench deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
POLICY=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
	if [ $made_policy -eq 1 ]; then $SUDO rm -f "$POLICY"; fi
}
trap cleanup EXIT INT TERM
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# made by eenplan bench/deps.sh for the duration of apt-get\nexit 101\n' |
	    $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
