# Shared functions of mkpki.sh, issue.sh and revoke.sh (sourced, not run).
# Every CA keeps an `openssl ca` database in ca/<ca>.db/; its openssl.cnf
# finds the PKI through $EENPLAN_CA_DIR, so a PKI directory can be moved.

# shellcheck disable=SC2034 # used by mkpki.sh
CA_DAYS=3650
LEAF_DAYS=730
CRL_DAYS=${EENPLAN_CRL_DAYS:-365}

PROG=${0##*/}
LOG=""
LOCK=""

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

cleanup() {
	[ -n "$LOCK" ] && rmdir "$LOCK" 2>/dev/null
	[ -n "$LOG" ] && rm -f "$LOG"
	[ -n "${STAGE:-}" ] && rm -rf "$STAGE"
	# A leaf half made by a failed issue.sh.
	[ -n "${PARTIAL:-}" ] && rm -f "$PARTIAL.key" "$PARTIAL.csr" "$PARTIAL.crt" "$PARTIAL.ext"
	:
}

# Sets up the log that keeps openssl quiet unless it fails.
lib_init() {
	command -v openssl >/dev/null 2>&1 || die "the openssl command is not installed"
	umask 022
	LOG=$(mktemp "${TMPDIR:-/tmp}/eenplan-pki.XXXXXX") || die "cannot create a temporary file"
	trap cleanup EXIT
	trap 'exit 1' HUP INT TERM
}

# run WHAT CMD...: runs CMD, shows its output only when it fails.
run() {
	what=$1
	shift
	if ! "$@" >"$LOG" 2>&1; then
		cat "$LOG" >&2
		die "$what failed"
	fi
}

# abspath DIR: prints DIR as an absolute path (DIR must exist).
abspath() {
	(cd "$1" && pwd) || die "cannot enter $1"
}

# check_id KIND VALUE: ids go into a DN and into file names; keep them plain.
check_id() {
	case $2 in
	"" | .* | -*) die "$1 '$2' is empty or starts with '.' or '-'" ;;
	*[!A-Za-z0-9._@-]*) die "$1 '$2' may hold only A-Z a-z 0-9 . _ @ -" ;;
	esac
	[ ${#2} -le 64 ] || die "$1 '$2' is longer than 64 characters"
}

# newkey_csr CADIR CA KEY CSR SUBJ: a new P-256 key (mode 0600) and its CSR.
newkey_csr() {
	use_ca "$1"
	(umask 077 && run "key and request for $5" \
		openssl req -new -config "$1/$2.db/openssl.cnf" \
		-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-pkeyopt ec_param_enc:named_curve -noenc \
		-keyout "$3" -out "$4" -subj "$5") || exit 1
	chmod 600 "$3"
}

# use_ca CADIR: the PKI whose CAs the next openssl commands use.
use_ca() {
	EENPLAN_CA_DIR=$1
	export EENPLAN_CA_DIR
}

# ca_lock CADIR CA / ca_unlock: one writer per CA database at a time (a
# script holds at most one lock).
ca_lock() {
	n=0
	while ! mkdir "$1/$2.db/lock" 2>/dev/null; do
		n=$((n + 1))
		[ $n -le 100 ] || die "CA $2 is locked ($1/$2.db/lock); remove it if no other script runs"
		sleep 0.1
	done
	LOCK="$1/$2.db/lock"
}

ca_unlock() {
	rmdir "$LOCK"
	LOCK=""
}

# ca_sign CADIR CA CSR OUT EXTENSIONS DAYS [EXTFILE]: signs CSR, recorded in
# CA's index; EXTENSIONS is a section of EXTFILE when one is given.
ca_sign() {
	use_ca "$1"
	if [ -n "${7:-}" ]; then
		run "signing $4 by CA $2" \
			openssl ca -batch -notext -config "$1/$2.db/openssl.cnf" \
			-in "$3" -out "$4" -extfile "$7" -extensions "$5" -days "$6"
	else
		run "signing $4 by CA $2" \
			openssl ca -batch -notext -config "$1/$2.db/openssl.cnf" \
			-in "$3" -out "$4" -extensions "$5" -days "$6"
	fi
}

# ca_gencrl CADIR CA CRLDIR: (re)writes CRLDIR/<CA>.crl.pem atomically.
ca_gencrl() {
	use_ca "$1"
	run "CRL of CA $2" \
		openssl ca -batch -gencrl -config "$1/$2.db/openssl.cnf" \
		-crldays "$CRL_DAYS" -out "$3/$2.crl.pem.tmp"
	mv -f "$3/$2.crl.pem.tmp" "$3/$2.crl.pem"
}

# crl_bundle CRLDIR: all.pem = the CRLs of every CA, root included.
crl_bundle() {
	cat "$1"/*.crl.pem >"$1/all.pem.tmp" || die "cannot write $1/all.pem"
	mv -f "$1/all.pem.tmp" "$1/all.pem"
}

# ca_init CADIR CA: an empty `openssl ca` database with its configuration.
ca_init() {
	db="$1/$2.db"
	mkdir -p "$db/certs"
	: >"$db/index.txt"
	echo 1000 >"$db/serial"
	echo 1000 >"$db/crlnumber"
	cat >"$db/openssl.cnf" <<EOF
# openssl ca configuration of the eenplan CA "$2" (written by certs/mkpki.sh).
# Paths go through \$EENPLAN_CA_DIR, the PKI's ca/ directory, e.g.
#   EENPLAN_CA_DIR=/path/pki/ca openssl ca -config /path/pki/ca/$2.db/openssl.cnf ...
# Prefer certs/issue.sh and certs/revoke.sh, which do that for you.

ca_dir = \$ENV::EENPLAN_CA_DIR

[ ca ]
default_ca = eenplan_ca
# Keep the DN in the order of the request (CN, O, OU for leaves). openssl ca
# reads this option from this section only.
preserve   = yes

[ eenplan_ca ]
certificate      = \$ca_dir/$2.crt
private_key      = \$ca_dir/$2.key
database         = \$ca_dir/$2.db/index.txt
serial           = \$ca_dir/$2.db/serial
crlnumber        = \$ca_dir/$2.db/crlnumber
new_certs_dir    = \$ca_dir/$2.db/certs
rand_serial      = yes
unique_subject   = no
default_md       = sha256
default_days     = $LEAF_DAYS
default_crl_days = $CRL_DAYS
email_in_dn      = no
copy_extensions  = none
policy           = policy_any
crl_extensions   = crl_ext

[ policy_any ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
default_md         = sha256

[ req_dn ]

[ root_ext ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ org_ca_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ leaf_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}

# team_extfile FILE TEAMS: an extensions file whose section leaf_team_ext is
# leaf_ext plus the teams (comma separated): the Group attribute of RFC 5755
# (id-aca-group, IetfAttrSyntax of UTF8Strings) in a subjectDirectoryAttributes
# extension (RFC 5280, 4.2.1.8). See certs/README.md, "Teams".
team_extfile() {
	{
		cat <<EOF
[ leaf_team_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectDirectoryAttributes = ASN1:SEQUENCE:eenplan_sda

[ eenplan_sda ]
group = SEQUENCE:eenplan_group

[ eenplan_group ]
type   = OID:1.3.6.1.5.5.7.10.4
values = SET:eenplan_group_values

[ eenplan_group_values ]
value = SEQUENCE:eenplan_ietf_attr

[ eenplan_ietf_attr ]
values = SEQUENCE:eenplan_teams

[ eenplan_teams ]
EOF
		n=0
		old_ifs=$IFS
		IFS=,
		for t in $2; do
			echo "team$n = UTF8:$t"
			n=$((n + 1))
		done
		IFS=$old_ifs
	} >"$1" || die "cannot write $1"
}

# issue_leaf CADIR CA O ROLE CN OUTBASE [TEAMS]: OUTBASE.crt and OUTBASE.key,
# a person/system certificate "/CN=CN/O=O/OU=ROLE" signed by CA, in the
# teams TEAMS (comma separated; none when empty).
issue_leaf() {
	ca_lock "$1" "$2"
	newkey_csr "$1" "$2" "$6.key" "$6.csr" "/CN=$5/O=$3/OU=$4"
	if [ -n "${7:-}" ]; then
		team_extfile "$6.ext" "$7"
		ca_sign "$1" "$2" "$6.csr" "$6.crt" leaf_team_ext "$LEAF_DAYS" "$6.ext"
		rm -f "$6.ext"
	else
		ca_sign "$1" "$2" "$6.csr" "$6.crt" leaf_ext "$LEAF_DAYS"
	fi
	ca_unlock
	rm -f "$6.csr"
}
