#!/bin/sh
# Makes the demo deployment PKI: a root CA, one CA per organisation, the
# server certificate, the demo cast's certificates and every CA's CRL.
# Usage: certs/mkpki.sh [--force] DIR
set -eu
. "$(dirname "$0")/lib.sh"

# id|display name of each organisation CA.
ORGS="gemeente|Gemeente Helmond
lev|LEVgroep
senzer|Senzer
zorgboog|Zorgboog
savant|Savant Zorg
huisarts-noord|Huisartsenpraktijk Helmond-Noord
burgers|Burgers van Helmond"

# name org role CN [teams]: the demo cast, written to DIR/cast.txt. Teams
# (comma separated) are asserted by the organisation's CA in the leaf: the
# Wmo-consulent is in area team Noord; j.jansen is a debt counsellor of the
# gemeente's BMS team (schuldhulp), not at the Wmo desk; b.willems (wmo2),
# another Wmo-consulent, is in no team (the demo's gemeente professional
# outside team bms).
CAST="wmo gemeente professional a.devries noord
lev lev professional s.bakker
senzer senzer professional m.vandijk
zorgboog zorgboog professional j.smits
savant savant professional r.hendriks
huisarts huisarts-noord gp dr.peters
henk burgers client henk.desmet
anja burgers client anja.desmet
lisa burgers carer lisa.desmet
lev-systeem lev system lev-crm
privacy-lev lev auditor privacy.lev
privacy-gemeente gemeente auditor privacy.gemeente
wmo2 gemeente professional b.willems
bms gemeente professional j.jansen bms"

usage() {
	echo "usage: $PROG [--force] DIR" >&2
	exit 2
}

force=0
dir=""
for a in "$@"; do
	case $a in
	--force) force=1 ;;
	-*) usage ;;
	*) [ -z "$dir" ] || usage; dir=$a ;;
	esac
done
[ -n "$dir" ] || usage

lib_init
if [ -e "$dir/ca/root.crt" ] && [ $force -eq 0 ]; then
	die "$dir already holds a PKI ($dir/ca/root.crt); use --force to replace it"
fi
mkdir -p "$dir" || die "cannot create $dir"
dir=$(abspath "$dir")

# Built aside and moved in at the end: a failed run leaves no half PKI.
STAGE=$(mktemp -d "$dir/.mkpki.XXXXXX") || die "cannot create a directory in $dir"
ca="$STAGE/ca"
mkdir "$ca" "$STAGE/server" "$STAGE/people" "$STAGE/crl"

ca_init "$ca" root
use_ca "$ca"
(umask 077 && run "root CA key" openssl genpkey -algorithm EC \
	-pkeyopt ec_paramgen_curve:prime256v1 -pkeyopt ec_param_enc:named_curve \
	-out "$ca/root.key") || exit 1
chmod 600 "$ca/root.key"
run "root CA certificate" openssl req -new -x509 -config "$ca/root.db/openssl.cnf" \
	-key "$ca/root.key" -subj "/CN=eenplan demo root" -days "$CA_DAYS" \
	-sha256 -extensions root_ext -out "$ca/root.crt"

printf '%s\n' "$ORGS" | while IFS='|' read -r org name; do
	ca_init "$ca" "$org"
	newkey_csr "$ca" root "$ca/$org.key" "$ca/$org.csr" "/O=$org/CN=$name CA"
	ca_sign "$ca" root "$ca/$org.csr" "$ca/$org.crt" org_ca_ext "$CA_DAYS"
	rm -f "$ca/$org.csr"
done

newkey_csr "$ca" root "$STAGE/server/server.key" "$STAGE/server/server.csr" "/CN=localhost"
ca_sign "$ca" root "$STAGE/server/server.csr" "$STAGE/server/server.crt" server_ext "$LEAF_DAYS"
rm -f "$STAGE/server/server.csr"

printf '%s\n' "$CAST" | while read -r name org role cn teams; do
	issue_leaf "$ca" "$org" "$org" "$role" "$cn" "$STAGE/people/$name" "$teams"
done
printf '%s\n' "$CAST" >"$STAGE/cast.txt"

for db in "$ca"/*.db; do
	c=${db##*/}
	ca_gencrl "$ca" "${c%.db}" "$STAGE/crl"
done
crl_bundle "$STAGE/crl"

for f in ca server people crl cast.txt; do
	rm -rf "${dir:?}/$f"
	mv "$STAGE/$f" "$dir/$f"
done
rmdir "$STAGE"
STAGE=""

norgs=$(printf '%s\n' "$ORGS" | wc -l)
npeople=$(printf '%s\n' "$CAST" | wc -l)
echo "mkpki: demo PKI in $dir: root + $norgs organisation CAs, server, $npeople people, CRLs in crl/all.pem"
