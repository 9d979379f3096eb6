#!/bin/sh
# Black-box tests: the real eenpland and eenplan of BUILD_DIR, a fresh PKI,
# real TLS. Usage: tests/blackbox/run.sh BUILD_DIR [NAME_FILTER...]
# (see tests/blackbox/README.md).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [NAME_FILTER...]" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || {
	echo "blackbox: python3 is needed (apt-get install python3)" >&2
	exit 2
}
command -v openssl >/dev/null 2>&1 || {
	echo "blackbox: openssl is needed to make the test PKI" >&2
	exit 2
}
if [ -n "${EENPLAN_VALGRIND:-}" ] && [ "$EENPLAN_VALGRIND" != 0 ] &&
    ! command -v valgrind >/dev/null 2>&1; then
	echo "blackbox: EENPLAN_VALGRIND is set but valgrind is not installed" >&2
	exit 2
fi
export PYTHONDONTWRITEBYTECODE=1
exec python3 "$(dirname "$0")/harness.py" "$@"
