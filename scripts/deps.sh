#!/bin/sh
# Installs the Debian 12 packages eenplan needs to build, run and test, if any
# is missing. Runs apt-get directly as root, else through sudo.
set -eu
PKGS="build-essential pkg-config openssl libssl-dev libevent-dev liblmdb-dev lmdb-utils
 libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libinih-dev libjansson-dev
 zlib1g-dev libsystemd-dev valgrind python3 mandoc strace systemd
 python3-prometheus-client"
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
