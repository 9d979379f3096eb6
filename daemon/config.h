/*
 * config: eenpland's configuration file (INI, parsed with inih): the server,
 * its limits, the consent and audit settings, and the organisations with
 * their CA, official identifier and the roles their CA may issue. Relative
 * paths are taken relative to the config file's directory; a path that
 * starts with "%d/" is taken in $CREDENTIALS_DIRECTORY (systemd's
 * LoadCredential=), like the %d specifier of a unit file, or when that is
 * not set in CONFIG_CREDENTIALS_DEFAULT.
 */
#ifndef EENPLAN_CONFIG_H
#define EENPLAN_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "principal.h"

#define CONFIG_MAX_ORGS	64
#define CONFIG_KEYS_MAX	64	/* keys of the fixed sections and of [org] */
#define CONFIG_CREDENTIALS_DEFAULT	"/run/credentials/eenpland.service"

struct config_org {
	char		co_id[PRINCIPAL_ORG_MAX];	/* [org ID] section name */
	char		co_name[128];			/* name = */
	char		co_identifier[48];		/* identifier = e.g. OIN:..., URA:..., KvK:... */
	char		co_ca_file[PATH_MAX];		/* ca = */
	uint32_t	co_roles;			/* roles = client, carer, ...: bit (1 << ROLE) */
	int		co_regie;			/* regie = on|off: its professionals
							   direct cases (default: on when
							   it has professionals) */
	int		co_break_glass;			/* break_glass = on|off: its
							   professionals may break the
							   glass (default as regie) */
	int		co_line;			/* line of its [org ID] header */
	int		co_keyline[CONFIG_KEYS_MAX];	/* where each key was set (0: not) */
};

struct config {
	char		c_path[PATH_MAX];
	/* [server] */
	char		c_listen_host[256];	/* listen = host:port */
	char		c_listen_port[8];
	char		c_data_dir[PATH_MAX];	/* data_dir = */
	char		c_cert_file[PATH_MAX];	/* cert = server certificate (chain) */
	char		c_key_file[PATH_MAX];	/* key = its key: refused when group/world readable */
	char		c_ca_file[PATH_MAX];	/* ca = deployment root CA */
	char		c_crl_file[PATH_MAX];	/* crl = PEM file of CRLs (root and every org CA); "" = none */
	int		c_workers;		/* workers = 0: one per core */
	char		c_citizens_org[PRINCIPAL_ORG_MAX]; /* citizens_org = burgers */
	char		c_user[33];		/* user = the account to run as ("" = none) */
	uint32_t	c_ticket_lifetime;	/* ticket_lifetime = 600 (s; 0: no resumption) */
	/* [limits] */
	uint32_t	c_max_frame;		/* max_frame = 1048576 (bytes) */
	uint32_t	c_max_inflight;		/* max_inflight = 64 (requests per connection) */
	uint32_t	c_max_connections;	/* max_connections = 4096 */
	uint32_t	c_handshake_timeout;	/* handshake_timeout = 10 (s) */
	uint32_t	c_idle_timeout;		/* idle_timeout = 300 (s) */
	size_t		c_request_memory;	/* request_memory = 8388608 (decode budget, bytes) */
	size_t		c_map_max;		/* map_max = 1073741824 (bytes) */
	uint32_t	c_page_max;		/* page_max = 200 (items per page) */
	size_t		c_write_rate;		/* write_rate = 1048576 (bytes/s a principal may
						   write, sustained: a token bucket) */
	size_t		c_write_burst;		/* write_burst = 33554432 (bytes at once) */
	size_t		c_subscriber_buffer;	/* subscriber_buffer = 4194304 (unsent bytes
						   a subscriber may have; then it is ended) */
	/* Against a client that takes more than its share (connections, memory, time). */
	uint32_t	c_max_conns_principal;	/* max_connections_per_principal = 64 */
	uint32_t	c_frame_timeout;	/* frame_timeout = 30 (s a begun frame may take) */
	size_t		c_conn_output_max;	/* conn_output_max = 8388608 (bytes one connection
						   may hold: unsent answers and those on their way) */
	size_t		c_memory_max;		/* memory_max = 268435456 (bytes held for requests
						   and answers by all connections together) */
	/* [consent] */
	int		c_break_glass;		/* break_glass = on|off */
	uint32_t	c_break_glass_window;	/* break_glass_window = 14400 (s) */
	uint32_t	c_break_glass_reason_min; /* break_glass_reason_min = 20 (chars) */
	uint32_t	c_break_glass_pause;	/* break_glass_pause = 14400 (s before the same
						   person opens it again for the same household) */
	/* [audit] */
	uint32_t	c_audit_retention_years; /* retention_years = 5 (at least 5) */
	char		c_audit_head_file[PATH_MAX]; /* head_file = the audit head kept
						   outside the store ("": data_dir/audit.head) */
	/* [retention] years after closing before a plan may be purged, per regime */
	uint32_t	c_retention_wmo;	/* wmo = 15 */
	uint32_t	c_retention_jeugdwet;	/* jeugdwet = 20 */
	/* [store] */
	char		c_store_key[PATH_MAX];	/* key = the store's key file (required;
						   outside data_dir, mode 0600) */
	uint32_t	c_snapshot_versions;	/* snapshot_versions = 1000 */
	/*
	 * audit_index_lag = 128: durable audit records the indexer (a thread
	 * beside the writer) lets gather before it indexes them (after a
	 * second, whatever waits). More: fewer index pages written per
	 * record, in bigger bursts; a query reads that many more of the log.
	 */
	uint32_t	c_audit_index_lag;
	/*
	 * audit_index_lag_max = 16384: durable records the indexer (which
	 * runs at the lowest priority) may fall behind before the writer
	 * indexes a step itself; at least audit_index_lag.
	 */
	uint32_t	c_audit_index_lag_max;
	/*
	 * audit_index_stop_ms = 3000: how long a clean stop lets the indexer
	 * index what still waits (the next start does any rest); 0: none.
	 */
	uint32_t	c_audit_index_stop_ms;
	/*
	 * audit_commit_ms = 100: how long the writer keeps one LMDB txn open
	 * for batches of audit records alone, each logged and answered (see
	 * writer.h); 0: every batch is committed.
	 */
	uint32_t	c_audit_commit_ms;
	int		c_wal;		/* [store] write_ahead_log (wal.h) */
	uint32_t	c_checkpoint_ms; /* [store] checkpoint_ms */
	uint32_t	c_log_file_mb;	/* [store] log_file_mb */
	size_t		c_snapshot_bytes;	/* snapshot_bytes = 65536 */
	uint32_t	c_grants_max;		/* grants_max = 4096 (per household, ever) */
	uint32_t	c_active_grants_max;	/* active_grants_max = 64 (current) */
	uint32_t	c_migrate_batch;	/* migrate_batch = 64 (households per txn) */
	/* [admin] */
	char		c_admin_host[256];	/* listen = 127.0.0.1:7412 (loopback
						   only; "" = no admin listener) */
	char		c_admin_port[8];
	uint32_t	c_cert_min_days;	/* cert_min_days = 14 (readiness) */
	/* [org ID] sections */
	struct config_org c_orgs[CONFIG_MAX_ORGS];
	size_t		c_norgs;
	/* Where each key of the fixed sections was set last (0: a default). */
	int		c_keyline[CONFIG_KEYS_MAX];
	/* Not from the file: eenpland --accept-rollback (see anchor.h). */
	int		c_accept_rollback;
};

/* Sets every default. */
void	config_defaults(struct config *);
/*
 * Reads path over the defaults. Unknown sections and keys, bad numbers
 * (bounded), missing required keys (listen, data_dir, cert, key, ca, at
 * least one org, citizens_org naming an org), an [admin] listen address
 * that is not a loopback address fail with the file, line and key in err.
 */
int	config_load(struct config *, const char *path, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
const struct config_org *config_org_find(const struct config *, const char *id);

/*
 * For `eenpland -n`: loads like config_load but goes on after a problem,
 * handing each one ("file:line: ...") to report. Returns how many there
 * were (0: loaded, as config_load would have).
 */
typedef void	(*config_report_fn)(void *arg, const char *problem);
int	config_load_all(struct config *, const char *path, config_report_fn,
	    void *arg);
/*
 * The line where key was set in section ("server", "store", "org ID", ...),
 * or 0 when it was not (a default).
 */
int	config_line(const struct config *, const char *section, const char *key);

/* Retention years of a regime ("wmo", "jeugdwet"; "" is wmo), or 0: unknown. */
uint32_t config_regime_years(const struct config *, const char *regime);

#endif
