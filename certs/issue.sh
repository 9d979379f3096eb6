#!/bin/sh
# Issues one more person/system certificate from an organisation's CA.
# Usage: certs/issue.sh DIR ORG ROLE SUBJECT NAME [--team TEAM]... [--claim-org OTHER] [--issuer-dir DIR2]
#   Writes DIR/people/NAME.crt and NAME.key: "/CN=SUBJECT/O=ORG/OU=ROLE",
#   signed by DIR/ca/ORG (ORG may be "root" for a leaf without an organisation).
#   --team TEAM        the person is in team TEAM of ORG (repeatable): the
#                      Group attribute in subjectDirectoryAttributes, see
#                      certs/README.md; eenpland takes at most 8 teams of
#                      1..32 characters a-z 0-9 -
#   --claim-org OTHER  put O=OTHER in the subject, still signed by ORG's CA
#   --issuer-dir DIR2  sign with DIR2's CA of ORG (another PKI) instead
# ROLE and TEAM are deliberately not held to eenpland's rules (a team it
# would refuse gets a warning): tests need certificates that eenpland refuses.
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $PROG DIR ORG ROLE SUBJECT NAME [--team TEAM]... [--claim-org OTHER] [--issuer-dir DIR2]" >&2
	exit 2
}

[ $# -ge 5 ] || usage
dir=$1 org=$2 role=$3 subject=$4 name=$5
shift 5
claim=$org
issuer=""
teams=""
nteams=0
while [ $# -gt 0 ]; do
	case $1 in
	--team)
		[ $# -ge 2 ] || usage
		check_id team "$2"
		case $2 in
		*[!a-z0-9-]*) echo "$PROG: warning: eenpland refuses team '$2' (only a-z 0-9 -)" >&2 ;;
		esac
		[ ${#2} -le 32 ] || echo "$PROG: warning: eenpland refuses team '$2' (over 32 characters)" >&2
		teams="$teams${teams:+,}$2"
		nteams=$((nteams + 1))
		shift 2
		;;
	--claim-org) [ $# -ge 2 ] || usage; claim=$2; shift 2 ;;
	--issuer-dir) [ $# -ge 2 ] || usage; issuer=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ $nteams -le 8 ] || echo "$PROG: warning: eenpland refuses more than 8 teams ($nteams)" >&2
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
issue_leaf "$ca" "$org" "$claim" "$role" "$subject" "$out" "$teams"
PARTIAL=""
serial=$(openssl x509 -in "$out.crt" -noout -serial) || die "cannot read $out.crt"
echo "issue: $out.crt: CN=$subject O=$claim OU=$role${teams:+ teams $teams}, by CA $org, serial ${serial#serial=}"
