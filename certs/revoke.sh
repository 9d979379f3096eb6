#!/bin/sh
# Revokes DIR/people/NAME.crt with the CA that issued it, rewrites that CA's
# CRL and crl/all.pem, and prints the revoked serial (hex).
# Usage: certs/revoke.sh DIR NAME [--issuer-dir DIR2]
#   --issuer-dir DIR2  the leaf was issued from DIR2's PKI (issue.sh --issuer-dir)
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $PROG DIR NAME [--issuer-dir DIR2]" >&2
	exit 2
}

[ $# -eq 2 ] || [ $# -eq 4 ] || usage
dir=$1 name=$2
issuer=$dir
if [ $# -eq 4 ]; then
	[ "$3" = --issuer-dir ] || usage
	issuer=$4
fi
check_id name "$name"

lib_init
leaf="$dir/people/$name.crt"
[ -f "$leaf" ] || die "no certificate $leaf"
[ -d "$issuer/ca" ] || die "$issuer has no PKI (no $issuer/ca)"
ca=$(abspath "$issuer/ca")
[ -d "$issuer/crl" ] || die "$issuer has no crl/ directory"
crl=$(abspath "$issuer/crl")
serial=$(openssl x509 -in "$leaf" -noout -serial) || die "cannot read $leaf"
serial=${serial#serial=}

# The issuer is the CA whose key signed the leaf, not merely one with the
# same name: another PKI may have a CA of the same name.
found=""
for db in "$ca"/*.db; do
	c=${db##*/}
	c=${c%.db}
	if openssl verify -no-CApath -no-CAfile -partial_chain -no_check_time \
		-CAfile "$ca/$c.crt" "$leaf" >/dev/null 2>&1; then
		found=$c
		break
	fi
done
[ -n "$found" ] || die "$leaf was not issued by any CA in $ca (issued elsewhere? see --issuer-dir)"

ca_lock "$ca" "$found"
state=$(awk -F'\t' -v s="$serial" '$4 == s { print $1 }' "$ca/$found.db/index.txt")
case $state in
V) ;;
R) die "$leaf (serial $serial) is already revoked by CA $found" ;;
*) die "serial $serial of $leaf is not in CA $found's database" ;;
esac
use_ca "$ca"
run "revoking $leaf" openssl ca -batch -config "$ca/$found.db/openssl.cnf" -revoke "$leaf"
ca_gencrl "$ca" "$found" "$crl"
crl_bundle "$crl"
ca_unlock
echo "$serial"
