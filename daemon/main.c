/*
 * eenpland: the daemon, and its operator subcommands that open the same
 * store from a second process: audit verify, audit head, audit export,
 * backup (all read-only), rekey (writes beside the running daemon),
 * purge, restore and recover (the daemon stopped), genkey; and -n, the
 * checks.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "maint.h"
#include "anchor.h"
#include "audit.h"
#include "check.h"
#include "config.h"
#include "guard.h"
#include "log.h"
#include "proc.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: eenpland [-v] -f CONFIG [--accept-rollback]\n"
	    "                                              run the daemon\n"
	    "       eenpland -n -f CONFIG                  check the config and exit\n"
	    "       eenpland -f CONFIG audit verify [--expect SEQ:HASH]\n"
	    "                                              walk the audit hash chain\n"
	    "       eenpland -f CONFIG audit head          print the chain's head\n"
	    "       eenpland -f CONFIG audit export [--from YYYY-MM-DD]\n"
	    "                [--until YYYY-MM-DD] [--household ID] [--org ORG]\n"
	    "                                              audit records as JSON lines\n"
	    "       eenpland -f CONFIG store verify        read and check every value and count\n"
	    "       eenpland -f CONFIG backup DIR          hot, compacted copy of the store\n"
	    "       eenpland -f CONFIG restore BACKUP_DIR  a backup into an empty data_dir\n"
	    "                                              (the daemon stopped)\n"
	    "       eenpland -f CONFIG recover             restore the store from its log after\n"
	    "                                              a power cut (the daemon stopped)\n"
	    "       eenpland -f CONFIG purge --closed-before YYYY-MM-DD\n"
	    "                (--dry-run | --apply)         the retention purge (--apply:\n"
	    "                                              the daemon stopped)\n"
	    "       eenpland -f CONFIG rekey NEWKEY        re-encrypt the store under a new\n"
	    "                                              key file (while the daemon runs)\n"
	    "       eenpland genkey FILE                   make a new key file (mode 0600)\n");
	exit(2);
}

static struct store *
open_admin(const struct config *conf, int readonly)
{
	struct store_opts so;
	struct seal_key kek;
	struct store *st;
	char err[512];
	int rc;

	if (seal_key_load(&kek, conf->c_store_key, conf->c_data_dir, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "eenpland: store key: %s\n", err);
		exit(1);
	}
	memset(&so, 0, sizeof(so));
	so.so_dir = conf->c_data_dir;
	so.so_map_max = conf->c_map_max;
	so.so_max_readers = 126;
	so.so_readonly = readonly;
	so.so_kek = &kek;
	rc = store_open(&st, &so, err, sizeof(err));
	seal_key_wipe(&kek);
	if (rc != STORE_OK) {
		fprintf(stderr, "eenpland: store %s: %s\n", conf->c_data_dir, err);
		exit(1);
	}
	return st;
}

static int
cmd_genkey(const char *path)
{
	struct seal_key k;
	char err[512];
	int rc;

	if (seal_key_random(&k) != 0) {
		fprintf(stderr, "eenpland: genkey: no randomness\n");
		return 1;
	}
	rc = seal_key_write(&k, path, err, sizeof(err));
	if (rc == 0)
		printf("key %08x written to %s (mode 0600): keep it outside "
		    "the data directory and its backups\n", k.sk_id, path);
	else
		fprintf(stderr, "eenpland: genkey: %s\n", err);
	seal_key_wipe(&k);
	return rc == 0 ? 0 : 1;
}

static void
rekey_progress(uint64_t done, void *arg)
{
	uint64_t *last = arg;

	if (done >= *last + 10000) {
		fprintf(stderr, "eenpland: rekey: %llu values re-encrypted\n",
		    (unsigned long long)done);
		*last = done;
	}
}

/*
 * Beside a running daemon: LMDB lets a second process write, one
 * transaction at a time; the daemon picks up the new data key at its next
 * commit (the keyring's generation moved).
 */
static int
cmd_rekey(const struct config *conf, const char *path)
{
	struct seal_key newkek;
	struct store *st;
	uint64_t last = 0;
	char err[512];
	int rc;

	if (seal_key_load(&newkek, path, conf->c_data_dir, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "eenpland: rekey: %s\n", err);
		return 1;
	}
	st = open_admin(conf, 0);
	rc = store_rekey(st, &newkek, 256, rekey_progress, &last, err,
	    sizeof(err));
	store_close(st);
	if (rc != 0) {
		fprintf(stderr, "eenpland: %s\n", err);
		seal_key_wipe(&newkek);
		return 1;
	}
	printf("rekey done: the store is sealed under key %08x (%s).\n"
	    "Set [store] key = %s in %s before the daemon restarts: the old "
	    "key no longer opens the store.\n", newkek.sk_id, path, path,
	    conf->c_path);
	seal_key_wipe(&newkek);
	return 0;
}

/*
 * The chain checked against a head kept elsewhere: --expect (from the log,
 * a ticket, a signed mail) and the head file. 0 when it passes through
 * them; prints what it found either way.
 */
static int
verify_heads(const struct config *conf, struct stxn *t,
    const struct audit_head *expect)
{
	struct audit_head file, head;
	char hf[PATH_MAX], err[PATH_MAX + 256], msg[512], text[ANCHOR_TEXT_MAX];
	int present, rc, bad = 0;

	if (expect != NULL) {
		anchor_format(expect, text, sizeof(text));
		rc = anchor_compare(t, expect, &head, msg, sizeof(msg));
		if (rc == 0)
			printf("expected head %s: the chain passes through it\n",
			    text);
		else {
			printf("expected head %s: %s\n", text, msg);
			bad = 1;
		}
	}
	if (anchor_path(conf, hf, sizeof(hf)) == -1 ||
	    anchor_read(hf, &file, &present, err, sizeof(err)) == -1) {
		printf("head file: %s\n", err);
		return 1;
	}
	if (!present)
		return bad;
	anchor_format(&file, text, sizeof(text));
	rc = anchor_compare(t, &file, &head, msg, sizeof(msg));
	if (rc == 0 || rc == 3)
		printf("head file %s (%s): %s\n", hf, text, rc == 0 ?
		    "the chain passes through it" : msg);
	else {
		printf("head file %s (%s): %s: rolled back?\n", hf, text, msg);
		bad = 1;
	}
	return bad;
}

static int
cmd_audit_verify(const struct config *conf, int argc, char **argv)
{
	struct audit_head expect;
	struct store *st;
	struct stxn *t;
	uint64_t count = 0, bad = 0;
	char msg[256] = "";
	int rc, have_expect = 0;

	if (argc == 2 && strcmp(argv[0], "--expect") == 0) {
		if (anchor_parse(argv[1], &expect) == -1) {
			fprintf(stderr, "eenpland: --expect %s: not a head "
			    "(SEQ:HASH, as `audit head` and the log print "
			    "it)\n", argv[1]);
			return 2;
		}
		have_expect = 1;
	} else if (argc != 0)
		usage();
	st = open_admin(conf, 1);
	if ((t = store_reader_new(st)) == NULL || store_reader_begin(t) != STORE_OK) {
		fprintf(stderr, "eenpland: cannot read the store\n");
		exit(1);
	}
	rc = audit_verify(t, &count, &bad, msg, sizeof(msg));
	if (rc != 0)
		printf("audit chain BROKEN at sequence %llu: %s\n",
		    (unsigned long long)bad, msg);
	else
		printf("audit chain OK: %llu records\n",
		    (unsigned long long)count);
	if (verify_heads(conf, t, have_expect ? &expect : NULL) != 0)
		rc = 1;
	store_reader_end(t);
	store_reader_free(t);
	store_close(st);
	return rc != 0 ? 1 : 0;
}

/*
 * Every value of the store and every household's counts (store_verify), on
 * one snapshot, beside the running daemon or not. Problems are logged
 * (stderr) as the daemon logs damage; stdout says what was read.
 */
static int
cmd_store_verify(const struct config *conf)
{
	struct store_verify sv;
	struct store *st;
	struct stxn *t;
	uint64_t total = 0;
	int db, rc;

	st = open_admin(conf, 1);
	if (store_schema(st) < STORE_SCHEMA_VERSION) {
		fprintf(stderr, "eenpland: store verify: the store is of schema "
		    "%llu: start the daemon once to migrate it\n",
		    (unsigned long long)store_schema(st));
		store_close(st);
		return 1;
	}
	if ((t = store_reader_new(st)) == NULL ||
	    store_reader_begin(t) != STORE_OK) {
		fprintf(stderr, "eenpland: cannot read the store\n");
		exit(1);
	}
	rc = store_verify(t, &sv);
	store_reader_end(t);
	store_reader_free(t);
	store_close(st);
	if (rc != STORE_OK) {
		fprintf(stderr, "eenpland: store verify: %s\n",
		    store_strerror(rc));
		return 1;
	}
	for (db = 0; store_db_name(db) != NULL; db++) {
		if (sv.sv_values[db] > 0)
			printf("%-10s %llu values\n", store_db_name(db),
			    (unsigned long long)sv.sv_values[db]);
		total += sv.sv_values[db];
	}
	if (sv.sv_problems == 0)
		printf("store OK: %llu values in %u databases, %llu "
		    "households\n", (unsigned long long)total, sv.sv_dbs,
		    (unsigned long long)sv.sv_households);
	else
		printf("store DAMAGED: %llu problem%s (each a DATA LOSS line "
		    "on stderr), %llu values in %u databases, %llu households\n",
		    (unsigned long long)sv.sv_problems,
		    sv.sv_problems == 1 ? "" : "s", (unsigned long long)total,
		    sv.sv_dbs, (unsigned long long)sv.sv_households);
	return sv.sv_problems == 0 ? 0 : 1;
}

/* The chain's head, as --expect and the head file take it. */
static int
cmd_audit_head(const struct config *conf)
{
	struct store *st = open_admin(conf, 1);
	struct audit_head h;
	char text[ANCHOR_TEXT_MAX];
	int rc;

	rc = audit_head_of(st, &h);
	store_close(st);
	if (rc != STORE_OK) {
		fprintf(stderr, "eenpland: audit head: %s (run audit verify)\n",
		    store_strerror(rc));
		return 1;
	}
	anchor_format(&h, text, sizeof(text));
	printf("%s\n", text);
	return 0;
}

static void
print_problem(void *arg, const char *problem)
{
	int *n = arg;

	(void)n;
	fprintf(stderr, "%s\n", problem);
}

static void
print_note(void *arg, const char *note)
{
	(void)arg;
	fprintf(stderr, "note: %s\n", note);
}

/* -n: every problem, each with where it came from; 0 when there is none. */
static int
cmd_check(struct config *conf, const char *cfile)
{
	int n;

	n = config_load_all(conf, cfile, print_problem, NULL);
	n += check_config(conf, print_problem, print_note, NULL);
	if (n > 0) {
		fprintf(stderr, "eenpland: %s: %d problem%s: the daemon would "
		    "not start\n", cfile, n, n == 1 ? "" : "s");
		return 1;
	}
	printf("configuration OK: %zu organisations\n", conf->c_norgs);
	return 0;
}

static int
cmd_audit_export(const struct config *conf, int argc, char **argv)
{
	struct audit_filter af;
	struct store *st;
	struct stxn *t;
	long n;
	int i;

	memset(&af, 0, sizeof(af));
	for (i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--from") == 0) {
			if (util_day_us(argv[++i], &af.af_from) != 0)
				usage();
		} else if (strcmp(argv[i], "--until") == 0) {
			if (util_day_us(argv[++i], &af.af_until) != 0)
				usage();
			af.af_until += (int64_t)86400 * 1000000;	/* whole day */
		} else if (strcmp(argv[i], "--household") == 0) {
			af.af_household = argv[++i];
			if (!util_valid_household_id(af.af_household))
				usage();
		} else if (strcmp(argv[i], "--org") == 0)
			af.af_org = argv[++i];
		else
			usage();
	}
	st = open_admin(conf, 1);
	if ((t = store_reader_new(st)) == NULL || store_reader_begin(t) != STORE_OK) {
		fprintf(stderr, "eenpland: cannot read the store\n");
		exit(1);
	}
	n = audit_export_json(t, stdout, &af);
	store_reader_end(t);
	store_reader_free(t);
	store_close(st);
	if (n < 0) {
		fprintf(stderr, "eenpland: export failed\n");
		return 1;
	}
	fprintf(stderr, "eenpland: exported %ld records\n", n);
	return 0;
}

/*
 * The backup directory: made (0700) when missing, else it must be an empty
 * directory, so that no older backup is overwritten or mixed in.
 */
static int
backup_dir_ready(const char *dir, int *made)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	*made = 0;
	if (mkdir(dir, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST) {
		fprintf(stderr, "eenpland: backup: cannot make %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "eenpland: backup: %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	(void)closedir(d);
	if (!empty) {
		fprintf(stderr, "eenpland: backup: %s is not empty; give a new "
		    "or an empty directory\n", dir);
		return -1;
	}
	return 0;
}

static int
cmd_backup(const struct config *conf, const char *dir)
{
	struct store *st;
	char err[512], path[PATH_MAX + 16];
	int rc, made;

	if (backup_dir_ready(dir, &made) == -1)
		return 1;
	st = open_admin(conf, 1);
	rc = store_backup(st, dir, err, sizeof(err));
	store_close(st);
	if (rc != STORE_OK) {
		fprintf(stderr, "eenpland: backup: %s\n", err);
		/* Leave no half backup behind in a directory we made. */
		if (made && snprintf(path, sizeof(path), "%s/data.mdb", dir) <
		    (int)sizeof(path)) {
			(void)unlink(path);
			(void)rmdir(dir);
		}
		return 1;
	}
	printf("backup written to %s\n", dir);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "accept-rollback", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	static struct config conf;
	const char *cfile = NULL;
	struct server *srv;
	char err[512];
	int ch, verbose = 0, check_only = 0, accept_rollback = 0;

	while ((ch = getopt_long(argc, argv, "+f:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'R':
			accept_rollback = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2 && strcmp(argv[0], "genkey") == 0)
		return cmd_genkey(argv[1]);
	if (cfile == NULL)
		usage();
	log_init(verbose, "eenpland");
	if (check_only)
		return cmd_check(&conf, cfile);
	config_defaults(&conf);
	if (config_load(&conf, cfile, err, sizeof(err)) != 0) {
		fprintf(stderr, "eenpland: %s\n", err);
		return 1;
	}
	conf.c_accept_rollback = accept_rollback;
	if (accept_rollback && argc != 0)
		usage();
	if (argc >= 2 && strcmp(argv[0], "audit") == 0 &&
	    strcmp(argv[1], "verify") == 0)
		return cmd_audit_verify(&conf, argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[0], "audit") == 0 &&
	    strcmp(argv[1], "head") == 0)
		return cmd_audit_head(&conf);
	if (argc >= 2 && strcmp(argv[0], "audit") == 0 &&
	    strcmp(argv[1], "export") == 0)
		return cmd_audit_export(&conf, argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[0], "store") == 0 &&
	    strcmp(argv[1], "verify") == 0)
		return cmd_store_verify(&conf);
	if (argc == 2 && strcmp(argv[0], "backup") == 0)
		return cmd_backup(&conf, argv[1]);
	if (argc == 2 && strcmp(argv[0], "rekey") == 0)
		return cmd_rekey(&conf, argv[1]);
	if (argc == 2 && strcmp(argv[0], "restore") == 0)
		return maint_restore(&conf, argv[1]);
	if (argc == 1 && strcmp(argv[0], "recover") == 0)
		return maint_recover(&conf);
	if (argc >= 1 && strcmp(argv[0], "purge") == 0)
		return maint_purge(&conf, argc - 1, argv + 1);
	if (argc != 0)
		usage();

	signal(SIGPIPE, SIG_IGN);
	proc_check_user(&conf);
	srv = server_new(&conf);
	/* From here on no line waits for stderr (worker threads start now). */
	log_start();
	server_run(srv);
	server_free(srv);
	seal_thread_done();
	log_kv(LOGL_INFO, "stopped", guard_tripped() ? "exit=%d" : NULL,
	    GUARD_EXIT);
	log_stop();
	return guard_tripped() ? GUARD_EXIT : 0;
}
