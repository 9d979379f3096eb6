/*
 * config: reads eenpland.conf with inih (see config.h).
 *
 * inih is driven through ini_parse_stream() with our own line reader: the
 * reader counts lines (so every error names file:line), handles section
 * headers itself (so an empty or repeated [org] section is seen) and refuses what
 * inih would take silently: over-long lines (inih splits them) and indented
 * continuation lines (inih appends them to the previous key).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "wal.h"
#include "writer.h"
#include "util.h"
#include "wire.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

enum cfg_section {
	SEC_NONE = 0,
	SEC_SERVER,
	SEC_LIMITS,
	SEC_CONSENT,
	SEC_AUDIT,
	SEC_STORE,
	SEC_RETENTION,
	SEC_ADMIN,
	SEC_ORG
};

static const char *const section_names[] = {
	"", "server", "limits", "consent", "audit", "store", "retention",
	"admin", "org"
};

enum cfg_type {
	KT_PATH,	/* a path, relative to the config file's directory */
	KT_PATH_OPT,	/* the same, "" allowed (= none) */
	KT_LISTEN,	/* host:port */
	KT_ORGREF,	/* an organisation id (checked after parsing) */
	KT_INT,		/* int, bounded */
	KT_U32,		/* uint32_t, bounded */
	KT_SIZE,	/* size_t, bounded */
	KT_ONOFF,	/* on | off into an int */
	KT_NAME,	/* org display name: UTF-8 */
	KT_IDENT,	/* org identifier: OIN:..., URA:..., KvK:... */
	KT_ROLES,	/* comma-separated role names into a bit set */
	KT_USER		/* a user name */
};

struct cfg_key {
	enum cfg_section ck_sec;
	const char	*ck_name;
	enum cfg_type	 ck_type;
	size_t		 ck_off;	/* in struct config, or config_org for SEC_ORG */
	size_t		 ck_len;	/* size of a string field */
	uint64_t	 ck_min;
	uint64_t	 ck_max;
	int		 ck_required;
};

#define CF(f)		offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define OF(f)		offsetof(struct config_org, f), sizeof(((struct config_org *)0)->f)
#define KIB		1024ull
#define MIB		(1024ull * 1024ull)
#define GIB		(1024ull * 1024ull * 1024ull)
#define TIB		(1024ull * GIB)

static const struct cfg_key cfg_keys[] = {
	{ SEC_SERVER, "listen", KT_LISTEN, 0, 0, 0, 0, 1 },
	{ SEC_SERVER, "data_dir", KT_PATH, CF(c_data_dir), 0, 0, 1 },
	{ SEC_SERVER, "cert", KT_PATH, CF(c_cert_file), 0, 0, 1 },
	{ SEC_SERVER, "key", KT_PATH, CF(c_key_file), 0, 0, 1 },
	{ SEC_SERVER, "ca", KT_PATH, CF(c_ca_file), 0, 0, 1 },
	{ SEC_SERVER, "crl", KT_PATH_OPT, CF(c_crl_file), 0, 0, 0 },
	{ SEC_SERVER, "workers", KT_INT, CF(c_workers), 0, 256, 0 },
	{ SEC_SERVER, "citizens_org", KT_ORGREF, CF(c_citizens_org), 0, 0, 0 },
	{ SEC_SERVER, "user", KT_USER, CF(c_user), 0, 0, 0 },
	{ SEC_SERVER, "ticket_lifetime", KT_U32, CF(c_ticket_lifetime), 0,
	    86400, 0 },

	{ SEC_LIMITS, "max_frame", KT_U32, CF(c_max_frame), KIB, 64 * MIB, 0 },
	{ SEC_LIMITS, "max_inflight", KT_U32, CF(c_max_inflight), 1, 4096, 0 },
	{ SEC_LIMITS, "max_connections", KT_U32, CF(c_max_connections), 1,
	    1048576, 0 },
	{ SEC_LIMITS, "handshake_timeout", KT_U32, CF(c_handshake_timeout), 1,
	    300, 0 },
	{ SEC_LIMITS, "idle_timeout", KT_U32, CF(c_idle_timeout), 1, 86400, 0 },
	{ SEC_LIMITS, "request_memory", KT_SIZE, CF(c_request_memory), 64 * KIB,
	    1 * GIB, 0 },
	{ SEC_LIMITS, "map_max", KT_SIZE, CF(c_map_max), 1 * MIB,
	    SIZE_MAX < 16 * TIB ? SIZE_MAX : 16 * TIB, 0 },
	{ SEC_LIMITS, "page_max", KT_U32, CF(c_page_max), 1, 10000, 0 },
	{ SEC_LIMITS, "write_rate", KT_SIZE, CF(c_write_rate), 1 * KIB,
	    1 * GIB, 0 },
	{ SEC_LIMITS, "write_burst", KT_SIZE, CF(c_write_burst), 64 * KIB,
	    16 * GIB, 0 },
	{ SEC_LIMITS, "subscriber_buffer", KT_SIZE, CF(c_subscriber_buffer),
	    64 * KIB, 1 * GIB, 0 },
	{ SEC_LIMITS, "max_connections_per_principal", KT_U32,
	    CF(c_max_conns_principal), 1, 1048576, 0 },
	{ SEC_LIMITS, "frame_timeout", KT_U32, CF(c_frame_timeout), 1, 3600, 0 },
	{ SEC_LIMITS, "conn_output_max", KT_SIZE, CF(c_conn_output_max),
	    64 * KIB, 16 * GIB, 0 },
	{ SEC_LIMITS, "memory_max", KT_SIZE, CF(c_memory_max), 1 * MIB,
	    1 * TIB, 0 },

	{ SEC_CONSENT, "break_glass", KT_ONOFF, CF(c_break_glass), 0, 1, 0 },
	{ SEC_CONSENT, "break_glass_window", KT_U32, CF(c_break_glass_window),
	    60, 7 * 86400, 0 },
	{ SEC_CONSENT, "break_glass_pause", KT_U32, CF(c_break_glass_pause), 0,
	    30 * 86400, 0 },
	{ SEC_CONSENT, "break_glass_reason_min", KT_U32,
	    CF(c_break_glass_reason_min), 1, 2000, 0 },

	{ SEC_AUDIT, "retention_years", KT_U32, CF(c_audit_retention_years), 5,
	    100, 0 },
	{ SEC_AUDIT, "head_file", KT_PATH_OPT, CF(c_audit_head_file), 0, 0, 0 },

	{ SEC_RETENTION, "wmo", KT_U32, CF(c_retention_wmo), 1, 100, 0 },
	{ SEC_RETENTION, "jeugdwet", KT_U32, CF(c_retention_jeugdwet), 1, 100,
	    0 },

	{ SEC_STORE, "key", KT_PATH, CF(c_store_key), 0, 0, 1 },
	{ SEC_STORE, "snapshot_versions", KT_U32, CF(c_snapshot_versions), 1,
	    100000, 0 },
	{ SEC_STORE, "snapshot_bytes", KT_SIZE, CF(c_snapshot_bytes), 1 * KIB,
	    64 * MIB, 0 },
	{ SEC_STORE, "grants_max", KT_U32, CF(c_grants_max), 16, 1000000, 0 },
	{ SEC_STORE, "active_grants_max", KT_U32, CF(c_active_grants_max), 4,
	    1024, 0 },
	{ SEC_STORE, "migrate_batch", KT_U32, CF(c_migrate_batch), 1, 100000,
	    0 },
	{ SEC_STORE, "audit_index_lag", KT_U32, CF(c_audit_index_lag), 1,
	    100000, 0 },
	{ SEC_STORE, "audit_index_lag_max", KT_U32, CF(c_audit_index_lag_max),
	    1, 100000000, 0 },
	{ SEC_STORE, "audit_index_stop_ms", KT_U32, CF(c_audit_index_stop_ms),
	    0, 600000, 0 },
	{ SEC_STORE, "audit_commit_ms", KT_U32, CF(c_audit_commit_ms), 0, 1000,
	    0 },
	{ SEC_STORE, "write_ahead_log", KT_ONOFF, CF(c_wal), 0, 1, 0 },
	{ SEC_STORE, "checkpoint_ms", KT_U32, CF(c_checkpoint_ms), 10, 60000,
	    0 },
	{ SEC_STORE, "log_file_mb", KT_U32, CF(c_log_file_mb), 1, 4096, 0 },

	{ SEC_ADMIN, "listen", KT_LISTEN, 0, 0, 0, 0, 0 },
	{ SEC_ADMIN, "cert_min_days", KT_U32, CF(c_cert_min_days), 0, 36500,
	    0 },

	{ SEC_ORG, "name", KT_NAME, OF(co_name), 0, 0, 1 },
	{ SEC_ORG, "identifier", KT_IDENT, OF(co_identifier), 0, 0, 1 },
	{ SEC_ORG, "ca", KT_PATH, OF(co_ca_file), 0, 0, 1 },
	{ SEC_ORG, "roles", KT_ROLES, OF(co_roles), 0, 0, 1 },
	{ SEC_ORG, "regie", KT_ONOFF, OF(co_regie), 0, 1, 0 },
	{ SEC_ORG, "break_glass", KT_ONOFF, OF(co_break_glass), 0, 1, 0 },
};

_Static_assert(NELEM(cfg_keys) <= CONFIG_KEYS_MAX,
    "the seen masks and line tables hold CONFIG_KEYS_MAX keys");

struct cfg_parse {
	struct config	*cp_cfg;
	FILE		*cp_fp;
	char		 cp_dir[PATH_MAX];	/* the config file's directory */
	int		 cp_lineno;
	enum cfg_section cp_sec;
	char		 cp_secname[64];
	struct config_org *cp_org;		/* current [org ID] */
	uint64_t	 cp_seen;		/* keys seen in this fixed section */
	uint64_t	 cp_seen_all;		/* keys seen in any fixed section */
	uint64_t	 cp_org_seen[CONFIG_MAX_ORGS];
	int		 cp_errline;		/* 0: no error yet */
	char		 cp_err[PATH_MAX + 512];
	/* config_load_all: every problem to cp_report, and go on. */
	config_report_fn cp_report;
	void		*cp_report_arg;
	int		 cp_nerr;
	int		 cp_skip;		/* keys of a refused section header */
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->c_workers = 0;
	(void)snprintf(cfg->c_citizens_org, sizeof(cfg->c_citizens_org),
	    "burgers");
	cfg->c_max_frame = 1048576;
	cfg->c_max_inflight = 64;
	cfg->c_max_connections = 4096;
	cfg->c_handshake_timeout = 10;
	cfg->c_idle_timeout = 300;
	cfg->c_request_memory = 8388608;
	cfg->c_map_max = 1073741824;
	cfg->c_page_max = 200;
	cfg->c_write_rate = 1048576;
	cfg->c_write_burst = 33554432;
	cfg->c_subscriber_buffer = 4194304;
	cfg->c_ticket_lifetime = 600;
	cfg->c_max_conns_principal = 64;
	cfg->c_frame_timeout = 30;
	cfg->c_conn_output_max = 8388608;
	cfg->c_memory_max = 268435456;
	cfg->c_snapshot_versions = 1000;
	cfg->c_audit_index_lag = WRITER_INDEX_LAG;
	cfg->c_audit_index_lag_max = WRITER_INDEX_LAG_MAX;
	cfg->c_audit_index_stop_ms = WRITER_INDEX_STOP_MS;
	cfg->c_audit_commit_ms = WRITER_AUDIT_COMMIT_MS;
	cfg->c_wal = 1;
	cfg->c_checkpoint_ms = WAL_CKPT_MS;
	cfg->c_log_file_mb = WAL_FILE_MB;
	cfg->c_snapshot_bytes = 65536;
	cfg->c_grants_max = 4096;
	cfg->c_active_grants_max = 64;
	cfg->c_migrate_batch = 64;
	cfg->c_break_glass = 1;
	cfg->c_break_glass_window = 14400;
	cfg->c_break_glass_reason_min = 20;
	cfg->c_break_glass_pause = 14400;
	cfg->c_audit_retention_years = 5;
	cfg->c_retention_wmo = 15;
	cfg->c_retention_jeugdwet = 20;
	cfg->c_cert_min_days = 14;
}

const struct config_org *
config_org_find(const struct config *cfg, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < cfg->c_norgs; i++)
		if (strcmp(cfg->c_orgs[i].co_id, id) == 0)
			return &cfg->c_orgs[i];
	return NULL;
}

/*
 * Records the first error only, at the current line (0: no line); with a
 * reporter (config_load_all) hands each one over and lets the parse go on.
 */
static void __attribute__((format(printf, 3, 4)))
parse_err(struct cfg_parse *cp, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (cp->cp_errline != 0 && cp->cp_report == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cp->cp_report != NULL) {
		char full[PATH_MAX + 512];

		if (line > 0)
			(void)snprintf(full, sizeof(full), "%s:%d: %s",
			    cp->cp_cfg->c_path, line, msg);
		else
			(void)snprintf(full, sizeof(full), "%s: %s",
			    cp->cp_cfg->c_path, msg);
		cp->cp_report(cp->cp_report_arg, full);
		cp->cp_nerr++;
		return;
	}
	if (line > 0)
		(void)snprintf(cp->cp_err, sizeof(cp->cp_err), "%s:%d: %s",
		    cp->cp_cfg->c_path, line, msg);
	else
		(void)snprintf(cp->cp_err, sizeof(cp->cp_err), "%s: %s",
		    cp->cp_cfg->c_path, msg);
	cp->cp_errline = line > 0 ? line : -1;
}

static int
org_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= PRINCIPAL_ORG_MAX - 1)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	}
	return i > 0;
}

/* "[name]" seen on the current line. */
static int
section_begin(struct cfg_parse *cp, const char *name)
{
	struct config *cfg = cp->cp_cfg;
	struct config_org *co;
	const char *id;
	size_t i;

	cp->cp_org = NULL;
	cp->cp_sec = SEC_NONE;
	/* Until this header is taken, its keys are not this section's. */
	cp->cp_skip = 1;
	if (strlen(name) >= sizeof(cp->cp_secname)) {
		parse_err(cp, cp->cp_lineno, "unknown section [%.40s...]", name);
		return -1;
	}
	(void)snprintf(cp->cp_secname, sizeof(cp->cp_secname), "%s", name);

	if (strncmp(name, "org ", 4) == 0) {
		id = name + 4;
		if (!org_id_ok(id)) {
			parse_err(cp, cp->cp_lineno, "[%s]: bad organisation "
			    "id \"%s\" (1..%d characters of a-z, 0-9 and -)",
			    name, id, PRINCIPAL_ORG_MAX - 1);
			return -1;
		}
		if (config_org_find(cfg, id) != NULL) {
			parse_err(cp, cp->cp_lineno, "[%s]: duplicate "
			    "organisation \"%s\"", name, id);
			return -1;
		}
		if (cfg->c_norgs >= CONFIG_MAX_ORGS) {
			parse_err(cp, cp->cp_lineno, "[%s]: too many "
			    "organisations (at most %d)", name, CONFIG_MAX_ORGS);
			return -1;
		}
		co = &cfg->c_orgs[cfg->c_norgs++];
		memset(co, 0, sizeof(*co));
		/* Unset: decided by the roles once the section is read. */
		co->co_regie = -1;
		co->co_break_glass = -1;
		memcpy(co->co_id, id, strlen(id) + 1);	/* checked: < 32 */
		co->co_line = cp->cp_lineno;
		cp->cp_org = co;
		cp->cp_sec = SEC_ORG;
		cp->cp_skip = 0;
		return 0;
	}
	for (i = SEC_SERVER; i < SEC_ORG; i++) {
		if (strcmp(name, section_names[i]) != 0)
			continue;
		/*
		 * A fixed section may come again (an appended override file,
		 * as deploy/mkconf.sh makes): its keys then win. Within one
		 * section a key may be set once.
		 */
		cp->cp_seen = 0;
		cp->cp_sec = (enum cfg_section)i;
		cp->cp_skip = 0;
		return 0;
	}
	parse_err(cp, cp->cp_lineno, "unknown section [%s]", name);
	return -1;
}

/* A section header line (starting with '['), as inih will read it. */
static int
header_line(struct cfg_parse *cp, char *line)
{
	char name[128];
	char *end, *p;
	size_t len;

	cp->cp_skip = 1;
	if ((end = strchr(line, ']')) == NULL) {
		parse_err(cp, cp->cp_lineno, "section header without ']'");
		return -1;
	}
	for (p = end + 1; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';
	    p++)
		;
	if (*p != '\0' && *p != ';') {
		parse_err(cp, cp->cp_lineno, "text after the section header");
		return -1;
	}
	len = (size_t)(end - (line + 1));
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, line + 1, len);
	name[len] = '\0';
	return section_begin(cp, name);
}

/*
 * inih's line reader: fgets, counting lines, with section headers handled
 * here. Returning NULL ends the parse (an error is then recorded).
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct cfg_parse *cp = stream;
	char *s;
	size_t len;
	int c;

	if ((cp->cp_errline != 0 && cp->cp_report == NULL) || num < 2)
		return NULL;
	if (fgets(str, num, cp->cp_fp) == NULL)
		return NULL;
	cp->cp_lineno++;
	len = strlen(str);
	if (len < (size_t)num - 1 && (len == 0 || str[len - 1] != '\n') &&
	    !feof(cp->cp_fp)) {
		/* fgets went on to the newline: a NUL byte cut the string. */
		parse_err(cp, cp->cp_lineno, "NUL byte in the line");
		return NULL;
	}
	if (len == (size_t)num - 1 && str[len - 1] != '\n') {
		/* Full buffer: fine only if the newline comes next. */
		if ((c = getc(cp->cp_fp)) != EOF && c != '\n') {
			parse_err(cp, cp->cp_lineno, "line too long (at most "
			    "%d characters)", num - 3);
			if (cp->cp_report == NULL)
				return NULL;
			/* Going on: skip the rest of this line. */
			while ((c = getc(cp->cp_fp)) != EOF && c != '\n')
				;
			str[0] = '\n';
			str[1] = '\0';
			return str;
		}
	}
	s = str;
	if (cp->cp_lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;	/* inih skips a UTF-8 BOM too */
	if (*s == '[') {
		if (header_line(cp, s) == -1 && cp->cp_report == NULL)
			return NULL;
		/* inih sees the header too: it names the section it reports. */
		return str;
	}
	if (*s == ' ' || *s == '\t') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '\0' && *s != '\r' && *s != '\n' && *s != ';' &&
		    *s != '#') {
			parse_err(cp, cp->cp_lineno, "indented line (values "
			    "cannot continue over several lines)");
			if (cp->cp_report == NULL)
				return NULL;
			str[0] = '\n';
			str[1] = '\0';
			return str;
		}
		return str;
	}
	/*
	 * Going on after problems, inih would name only the first line
	 * without '=' (or ':'): report each one here and hand inih a blank.
	 */
	if (cp->cp_report != NULL && *s != '\0' && *s != '\r' && *s != '\n' &&
	    *s != ';' && *s != '#' && strpbrk(s, "=:") == NULL) {
		parse_err(cp, cp->cp_lineno, "syntax error (expected [section] "
		    "or key = value)");
		str[0] = '\n';
		str[1] = '\0';
	}
	return str;
}

static const struct cfg_key *
key_find(enum cfg_section sec, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < NELEM(cfg_keys); i++) {
		if (cfg_keys[i].ck_sec == sec &&
		    strcmp(cfg_keys[i].ck_name, name) == 0) {
			*idx = i;
			return &cfg_keys[i];
		}
	}
	return NULL;
}

static int
set_path(struct cfg_parse *cp, const struct cfg_key *k, char *dst,
    const char *val)
{
	int n;

	if (val[0] == '\0') {
		if (k->ck_type == KT_PATH_OPT) {
			dst[0] = '\0';
			return 0;
		}
		parse_err(cp, cp->cp_lineno, "%s: a path is required", k->ck_name);
		return -1;
	}
	if (strncmp(val, "%d/", 3) == 0) {
		/*
		 * systemd's LoadCredential= directory, as %d in a unit. An
		 * operator's command (-n, backup, audit) run by hand has no
		 * $CREDENTIALS_DIRECTORY: it gets that of eenpland.service.
		 */
		const char *cred = getenv("CREDENTIALS_DIRECTORY");

		if (cred == NULL)
			cred = CONFIG_CREDENTIALS_DEFAULT;
		if (cred[0] != '/') {
			parse_err(cp, cp->cp_lineno, "%s: $CREDENTIALS_DIRECTORY "
			    "\"%s\" is not an absolute path", k->ck_name, cred);
			return -1;
		}
		n = snprintf(dst, k->ck_len, "%s/%s", cred, val + 3);
	} else if (val[0] == '/')
		n = snprintf(dst, k->ck_len, "%s", val);
	else
		n = snprintf(dst, k->ck_len, "%s/%s", cp->cp_dir, val);
	if (n < 0 || (size_t)n >= k->ck_len) {
		parse_err(cp, cp->cp_lineno, "%s: path too long", k->ck_name);
		return -1;
	}
	return 0;
}

/*
 * The admin listener answers without TLS or authentication: only a
 * loopback address (127.0.0.0/8, ::1) is accepted, given as a number so
 * that no resolver decides where it listens.
 */
static int
host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

static int
set_listen(struct cfg_parse *cp, const struct cfg_key *k, const char *val)
{
	struct config *cfg = cp->cp_cfg;
	const char *host, *port, *colon, *p;
	char *hdst, *pdst;
	size_t hlen;
	uint64_t v;

	/* Both host fields have the same size, and both port fields. */
	hdst = k->ck_sec == SEC_ADMIN ? cfg->c_admin_host : cfg->c_listen_host;
	pdst = k->ck_sec == SEC_ADMIN ? cfg->c_admin_port : cfg->c_listen_port;
	if (val[0] == '[') {
		/* [v6addr]:port */
		if ((p = strchr(val, ']')) == NULL || p[1] != ':')
			goto bad;
		host = val + 1;
		hlen = (size_t)(p - host);
		port = p + 2;
	} else {
		if ((colon = strrchr(val, ':')) == NULL ||
		    strchr(val, ':') != colon)
			goto bad;	/* none, or a bare IPv6 address */
		host = val;
		hlen = (size_t)(colon - val);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(cfg->c_listen_host))
		goto bad;
	for (p = host; p < host + hlen; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '[' || *p == ']')
			goto bad;
	if (util_parse_u64(port, 65535, &v) == -1 || v == 0)
		goto bad;
	memcpy(hdst, host, hlen);
	hdst[hlen] = '\0';
	(void)snprintf(pdst, sizeof(cfg->c_listen_port), "%u", (unsigned)v);
	if (k->ck_sec == SEC_ADMIN && !host_is_loopback(hdst)) {
		parse_err(cp, cp->cp_lineno, "[admin] %s: %s is not a loopback "
		    "address: the admin listener has no TLS and no "
		    "authentication, so it listens only on 127.0.0.1 (or "
		    "another 127.x.y.z) or [::1], written as a number",
		    k->ck_name, hdst);
		hdst[0] = '\0';
		return -1;
	}
	return 0;
 bad:
	parse_err(cp, cp->cp_lineno, "%s: \"%s\" is not host:port (an IPv6 "
	    "address in brackets, port 1..65535)", k->ck_name, val);
	return -1;
}

static int
set_number(struct cfg_parse *cp, const struct cfg_key *k, void *dst,
    const char *val)
{
	uint64_t v;

	if (util_parse_u64(val, UINT64_MAX, &v) == -1) {
		parse_err(cp, cp->cp_lineno, "%s: \"%s\" is not a number",
		    k->ck_name, val);
		return -1;
	}
	if (v < k->ck_min || v > k->ck_max) {
		parse_err(cp, cp->cp_lineno, "%s: %s is out of range "
		    "(%llu..%llu)", k->ck_name, val,
		    (unsigned long long)k->ck_min,
		    (unsigned long long)k->ck_max);
		return -1;
	}
	switch (k->ck_type) {
	case KT_INT:
		*(int *)dst = (int)v;
		break;
	case KT_U32:
		*(uint32_t *)dst = (uint32_t)v;
		break;
	case KT_SIZE:
		*(size_t *)dst = (size_t)v;
		break;
	default:
		return -1;
	}
	return 0;
}

static int
set_roles(struct cfg_parse *cp, const struct cfg_key *k, uint32_t *dst,
    const char *val)
{
	char buf[256], *p, *tok, *e;
	uint32_t roles = 0;
	int r;

	if (strlen(val) >= sizeof(buf)) {
		parse_err(cp, cp->cp_lineno, "%s: too long", k->ck_name);
		return -1;
	}
	(void)snprintf(buf, sizeof(buf), "%s", val);
	for (p = buf; p != NULL; p = e) {
		if ((e = strchr(p, ',')) != NULL)
			*e++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		tok = p;
		p += strlen(p);
		while (p > tok && (p[-1] == ' ' || p[-1] == '\t'))
			*--p = '\0';
		r = wire_role_parse(tok);
		if (r <= 0 || r >= 32 || strcmp(wire_role_name(r), tok) != 0) {
			parse_err(cp, cp->cp_lineno, "%s: unknown role \"%s\" "
			    "(client, carer, gp, professional, system, auditor)",
			    k->ck_name, tok);
			return -1;
		}
		if (roles & (1u << r)) {
			parse_err(cp, cp->cp_lineno, "%s: role \"%s\" listed "
			    "twice", k->ck_name, tok);
			return -1;
		}
		roles |= 1u << r;
	}
	*dst = roles;
	return 0;
}

static int
set_string(struct cfg_parse *cp, const struct cfg_key *k, char *dst,
    const char *val)
{
	size_t i, len = strlen(val);

	if (len == 0 || len >= k->ck_len) {
		parse_err(cp, cp->cp_lineno, "%s: 1..%zu characters required",
		    k->ck_name, k->ck_len - 1);
		return -1;
	}
	switch (k->ck_type) {
	case KT_NAME:
		if (!util_utf8_ok(val, len) || strchr(val, '\n') ||
		    strchr(val, '\t')) {
			parse_err(cp, cp->cp_lineno, "%s: not a valid name",
			    k->ck_name);
			return -1;
		}
		break;
	case KT_IDENT:
		for (i = 0; i < len; i++) {
			if (val[i] <= ' ' || val[i] >= 0x7f) {
				parse_err(cp, cp->cp_lineno, "%s: \"%s\" is "
				    "not an identifier (printable ASCII "
				    "without spaces, e.g. OIN:..., URA:..., "
				    "KvK:...)", k->ck_name, val);
				return -1;
			}
		}
		break;
	case KT_USER:
		if (!util_ident_ok(val, k->ck_len - 1) || val[0] == '-') {
			parse_err(cp, cp->cp_lineno, "%s: \"%s\" is not a user "
			    "name", k->ck_name, val);
			return -1;
		}
		break;
	case KT_ORGREF:
		if (!org_id_ok(val)) {
			parse_err(cp, cp->cp_lineno, "%s: bad organisation id "
			    "\"%s\"", k->ck_name, val);
			return -1;
		}
		break;
	default:
		return -1;
	}
	memcpy(dst, val, len + 1);
	return 0;
}

static int
set_value(struct cfg_parse *cp, const struct cfg_key *k, const char *val)
{
	char *base;

	if (k->ck_sec == SEC_ORG)
		base = (char *)cp->cp_org;
	else
		base = (char *)cp->cp_cfg;

	switch (k->ck_type) {
	case KT_PATH:
	case KT_PATH_OPT:
		return set_path(cp, k, base + k->ck_off, val);
	case KT_LISTEN:
		return set_listen(cp, k, val);
	case KT_INT:
	case KT_U32:
	case KT_SIZE:
		return set_number(cp, k, base + k->ck_off, val);
	case KT_ONOFF:
		if (strcmp(val, "on") == 0)
			*(int *)(void *)(base + k->ck_off) = 1;
		else if (strcmp(val, "off") == 0)
			*(int *)(void *)(base + k->ck_off) = 0;
		else {
			parse_err(cp, cp->cp_lineno, "%s: \"%s\" is not on or "
			    "off", k->ck_name, val);
			return -1;
		}
		return 0;
	case KT_ROLES:
		return set_roles(cp, k, (uint32_t *)(void *)(base + k->ck_off),
		    val);
	case KT_NAME:
	case KT_IDENT:
	case KT_ORGREF:
	case KT_USER:
		return set_string(cp, k, base + k->ck_off, val);
	default:
		parse_err(cp, cp->cp_lineno, "%s: internal error", k->ck_name);
		return -1;
	}
}

/* inih's handler: one "key = value" of the current section. */
static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse *cp = user;
	const struct cfg_key *k;
	uint64_t *seen;
	size_t idx;

	if (cp->cp_errline != 0 && cp->cp_report == NULL)
		return 0;
	if (cp->cp_skip)
		return 1;	/* the header was refused (and reported) */
	if (cp->cp_sec == SEC_NONE) {
		parse_err(cp, cp->cp_lineno, "key \"%s\" outside a section",
		    name);
		return 0;
	}
	if (strcmp(section, cp->cp_secname) != 0) {
		parse_err(cp, cp->cp_lineno, "cannot follow section [%s]",
		    section);
		return 0;
	}
	if ((k = key_find(cp->cp_sec, name, &idx)) == NULL) {
		parse_err(cp, cp->cp_lineno, "unknown key \"%s\" in [%s]",
		    name, section);
		return 0;
	}
	seen = cp->cp_sec == SEC_ORG ?
	    &cp->cp_org_seen[cp->cp_org - cp->cp_cfg->c_orgs] : &cp->cp_seen;
	if (*seen & (1ull << idx)) {
		parse_err(cp, cp->cp_lineno, "%s: set twice in [%s]", name,
		    section);
		return 0;
	}
	*seen |= 1ull << idx;
	cp->cp_seen_all |= 1ull << idx;
	if (set_value(cp, k, value) == -1)
		return 0;
	if (cp->cp_sec == SEC_ORG)
		cp->cp_org->co_keyline[idx] = cp->cp_lineno;
	else
		cp->cp_cfg->c_keyline[idx] = cp->cp_lineno;
	return 1;
}

/* The line of the fixed-section key named name in sec, or 0. */
static int
key_line(const struct cfg_parse *cp, enum cfg_section sec, const char *name)
{
	size_t idx;

	if (key_find(sec, name, &idx) == NULL)
		return 0;
	return cp->cp_cfg->c_keyline[idx];
}

static int
config_was_set(const struct cfg_parse *cp, enum cfg_section sec,
    const char *name)
{
	size_t idx;

	return key_find(sec, name, &idx) != NULL &&
	    (cp->cp_seen_all & (1ull << idx)) != 0;
}

/*
 * Required keys, cross-checks and the citizens' organisation. Stops at the
 * first problem, or with a reporter goes through them all.
 */
static int
config_check(struct cfg_parse *cp)
{
	struct config *cfg = cp->cp_cfg;
	int all = cp->cp_report != NULL, bad = 0;
	size_t i, j;

	for (i = 0; i < NELEM(cfg_keys); i++) {
		if (!cfg_keys[i].ck_required || cfg_keys[i].ck_sec == SEC_ORG)
			continue;
		if (!(cp->cp_seen_all & (1ull << i))) {
			parse_err(cp, 0, "[%s] %s is required",
			    section_names[cfg_keys[i].ck_sec],
			    cfg_keys[i].ck_name);
			if (!all)
				return -1;
			bad = 1;
		}
	}
	if (cfg->c_norgs == 0) {
		parse_err(cp, 0, "no organisations: at least one [org ID] "
		    "section is required");
		if (!all)
			return -1;
		bad = 1;
	}
	for (j = 0; j < cfg->c_norgs; j++) {
		struct config_org *o = &cfg->c_orgs[j];
		int pro = (o->co_roles &
		    (1u << EENPLAN__V1__ROLE__ROLE_PROFESSIONAL)) != 0;

		/* Professionals direct cases and may break the glass, unless off. */
		if (o->co_regie < 0)
			o->co_regie = pro;
		if (o->co_break_glass < 0)
			o->co_break_glass = pro;
		if ((o->co_regie || o->co_break_glass) && !pro) {
			parse_err(cp, o->co_line, "[org %s] regie and "
			    "break_glass need professionals (roles = "
			    "professional, ...)", o->co_id);
			if (!all)
				return -1;
			bad = 1;
		}
		for (i = 0; i < NELEM(cfg_keys); i++) {
			if (cfg_keys[i].ck_sec != SEC_ORG ||
			    !cfg_keys[i].ck_required)
				continue;
			if (!(cp->cp_org_seen[j] & (1ull << i))) {
				parse_err(cp, o->co_line, "[org %s] %s is "
				    "required", o->co_id, cfg_keys[i].ck_name);
				if (!all)
					return -1;
				bad = 1;
			}
		}
	}
	if (config_org_find(cfg, cfg->c_citizens_org) == NULL) {
		parse_err(cp, key_line(cp, SEC_SERVER, "citizens_org"),
		    "citizens_org: \"%s\" is not an organisation of this "
		    "config", cfg->c_citizens_org);
		if (!all)
			return -1;
		bad = 1;
	}
	/* Unset, they grow with a large max_frame; set, they are checked. */
	if (!config_was_set(cp, SEC_LIMITS, "conn_output_max") &&
	    cfg->c_conn_output_max < 2 * ((size_t)cfg->c_max_frame + 4))
		cfg->c_conn_output_max = 2 * ((size_t)cfg->c_max_frame + 4);
	if (!config_was_set(cp, SEC_LIMITS, "memory_max") &&
	    cfg->c_memory_max < cfg->c_conn_output_max)
		cfg->c_memory_max = cfg->c_conn_output_max;
	if (cfg->c_conn_output_max < (size_t)cfg->c_max_frame + 4) {
		parse_err(cp, key_line(cp, SEC_LIMITS, "conn_output_max"),
		    "conn_output_max (%zu) must be at least max_frame + 4 "
		    "(%u): one answer must fit", cfg->c_conn_output_max,
		    cfg->c_max_frame + 4);
		if (!all)
			return -1;
		bad = 1;
	}
	if (cfg->c_memory_max < cfg->c_conn_output_max) {
		parse_err(cp, key_line(cp, SEC_LIMITS, "memory_max"),
		    "memory_max (%zu) must be at least conn_output_max (%zu)",
		    cfg->c_memory_max, cfg->c_conn_output_max);
		if (!all)
			return -1;
		bad = 1;
	}
	/* Unset, it follows a lag set above its default. */
	if (!config_was_set(cp, SEC_STORE, "audit_index_lag_max") &&
	    cfg->c_audit_index_lag_max < cfg->c_audit_index_lag)
		cfg->c_audit_index_lag_max = cfg->c_audit_index_lag;
	if (cfg->c_audit_index_lag_max < cfg->c_audit_index_lag) {
		parse_err(cp, key_line(cp, SEC_STORE, "audit_index_lag_max"),
		    "audit_index_lag_max (%u) must be at least audit_index_lag "
		    "(%u)", cfg->c_audit_index_lag_max, cfg->c_audit_index_lag);
		if (!all)
			return -1;
		bad = 1;
	}
	if (cfg->c_request_memory < cfg->c_max_frame) {
		parse_err(cp, key_line(cp, SEC_LIMITS, "request_memory"),
		    "request_memory (%zu) must be at least max_frame (%u): a "
		    "frame decodes to at least its size",
		    cfg->c_request_memory, cfg->c_max_frame);
		if (!all)
			return -1;
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* The absolute directory of the config file into cp_dir. */
static int
config_dir(struct cfg_parse *cp, const char *path)
{
	char real[PATH_MAX], *slash;

	if (realpath(path, real) == NULL) {
		parse_err(cp, 0, "%s", strerror(errno));
		return -1;
	}
	if ((slash = strrchr(real, '/')) == NULL) {
		parse_err(cp, 0, "cannot find the directory");
		return -1;
	}
	if (slash == real)
		slash[1] = '\0';	/* "/eenpland.conf" */
	else
		*slash = '\0';
	(void)snprintf(cp->cp_dir, sizeof(cp->cp_dir), "%s",
	    strcmp(real, "/") == 0 ? "" : real);
	return 0;
}

/* config_load and config_load_all: -1 with the first problem, or 0. */
static int
config_parse(struct config *cfg, const char *path, char *err, size_t errlen,
    config_report_fn report, void *arg, int *nerr)
{
	struct cfg_parse *cp;
	int rc, ret = -1;

	config_defaults(cfg);
	*nerr = 1;
	if (strlen(path) >= sizeof(cfg->c_path)) {
		(void)snprintf(err, errlen, "config path too long");
		if (report != NULL)
			report(arg, err);
		return -1;
	}
	(void)snprintf(cfg->c_path, sizeof(cfg->c_path), "%s", path);
	if ((cp = calloc(1, sizeof(*cp))) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", path);
		if (report != NULL)
			report(arg, err);
		return -1;
	}
	cp->cp_cfg = cfg;
	cp->cp_report = report;
	cp->cp_report_arg = arg;
	if (config_dir(cp, path) == -1)
		goto out;
	if ((cp->cp_fp = fopen(path, "re")) == NULL) {
		parse_err(cp, 0, "%s", strerror(errno));
		goto out;
	}

	rc = ini_parse_stream(config_reader, cp, config_handler, cp);
	if (ferror(cp->cp_fp) && (cp->cp_errline == 0 || report != NULL))
		parse_err(cp, 0, "read error");
	if (report != NULL) {
		/* Each problem went to report when it was met. */
		if (rc < 0)
			parse_err(cp, 0, "cannot parse (inih error %d)", rc);
	} else if (rc > 0 && (cp->cp_errline <= 0 || rc < cp->cp_errline)) {
		cp->cp_errline = 0;
		parse_err(cp, rc, "syntax error (expected [section] or "
		    "key = value)");
	} else if (rc < 0 && cp->cp_errline == 0)
		parse_err(cp, 0, "cannot parse (inih error %d)", rc);
	if (report == NULL && cp->cp_errline != 0)
		goto out;
	if (config_check(cp) == -1 || cp->cp_nerr > 0)
		goto out;
	ret = 0;
 out:
	*nerr = report != NULL ? cp->cp_nerr : (ret == 0 ? 0 : 1);
	if (ret == -1 && report == NULL)
		(void)snprintf(err, errlen, "%s", cp->cp_err);
	if (cp->cp_fp != NULL)
		(void)fclose(cp->cp_fp);
	free(cp);
	return ret;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	int nerr;

	return config_parse(cfg, path, err, errlen, NULL, NULL, &nerr);
}

int
config_load_all(struct config *cfg, const char *path, config_report_fn report,
    void *arg)
{
	char err[64];
	int nerr;

	if (report == NULL)
		return -1;
	(void)config_parse(cfg, path, err, sizeof(err), report, arg, &nerr);
	return nerr;
}

int
config_line(const struct config *cfg, const char *section, const char *key)
{
	const struct config_org *o;
	size_t i, idx;

	if (section == NULL || key == NULL)
		return 0;
	if (strncmp(section, "org ", 4) == 0) {
		if ((o = config_org_find(cfg, section + 4)) == NULL ||
		    key_find(SEC_ORG, key, &idx) == NULL)
			return 0;
		return o->co_keyline[idx];
	}
	for (i = SEC_SERVER; i < SEC_ORG; i++)
		if (strcmp(section, section_names[i]) == 0)
			break;
	if (i == SEC_ORG || key_find((enum cfg_section)i, key, &idx) == NULL)
		return 0;
	return cfg->c_keyline[idx];
}

uint32_t
config_regime_years(const struct config *cfg, const char *regime)
{
	if (regime == NULL || regime[0] == '\0' || strcmp(regime, "wmo") == 0)
		return cfg->c_retention_wmo;
	if (strcmp(regime, "jeugdwet") == 0)
		return cfg->c_retention_jeugdwet;
	return 0;
}
