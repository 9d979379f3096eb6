#!/bin/sh
# Issues one more person/system certificate from an organisation's CA.
# Usage: certs/issue.sh DIR ORG ROLE SUBJECT NAME [--claim-org OTHER] [--issuer-dir DIR2]
#   Writes DIR/people/NAME.crt and NAME.key: "/CN=SUBJECT/O=ORG/OU=ROLE",
#   signed by DIR/ca/ORG (ORG may be "root" for a leaf without an organisation).
#   --claim-org OTHER  put O=OTHER in the subject, still signed by ORG's CA
#   --issuer-dir DIR2  sign with DIR2's CA of ORG (another PKI) instead
# ROLE is deliberately not checked: tests need roles an organisation may not issue.
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $PROG DIR ORG ROLE SUBJECT NAME [--claim-org OTHER] [--issuer-dir DIR2]" >&2
	exit 2
}

[ $# -ge 5 ] || usage
dir=$1 org=$2 role=$3 subject=$4 name=$5
shift 5
claim=$org
issuer=""
while [ $# -gt 0 ]; do
	case $1 in
	--claim-org) [ $# -ge 2 ] || usage; claim=$2; shift 2 ;;
	--issuer-dir) [ $# -ge 2 ] || usage; issuer=$2; shift 2 ;;
	*) usage ;;
	esac
done
check_id organisation "$org"
check_id "claimed organisation" "$claim"
check_id role "$role"
check_id subject "$subject"
check_id name "$name"

lib_init
[ -d "$dir" ] || die "$dir is not a directory"
dir=$(abspath "$dir")
[ -n "$issuer" ] || issuer=$dir
[ -d "$issuer/ca" ] || die "$issuer has no PKI (no $issuer/ca; run certs/mkpki.sh first)"
ca=$(abspath "$issuer/ca")
if [ ! -f "$ca/$org.crt" ] || [ ! -d "$ca/$org.db" ]; then
	known=""
	for db in "$ca"/*.db; do
		c=${db##*/}
		known="$known${known:+ }${c%.db}"
	done
	die "no CA '$org' in $ca (known: $known)"
fi
mkdir -p "$dir/people"
out="$dir/people/$name"
if [ -e "$out.crt" ] || [ -e "$out.key" ]; then
	die "$out.crt or .key already exists; pick another NAME or revoke and remove it"
fi

PARTIAL=$out
issue_leaf "$ca" "$org" "$claim" "$role" "$subject" "$out"
PARTIAL=""
serial=$(openssl x509 -in "$out.crt" -noout -serial) || die "cannot read $out.crt"
echo "issue: $out.crt: CN=$subject O=$claim OU=$role, by CA $org, serial ${serial#serial=}"
