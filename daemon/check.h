/*
 * check: what `eenpland -n` runs — every check start-up makes, without
 * binding the port or opening the store for writing, each problem told
 * with the config file and line of the setting it came from, all of them
 * rather than the first: files that are missing or unreadable, keys that
 * group or others may read (the TLS key and the store key), a store key
 * inside data_dir, certificates that are not what their setting needs (a
 * leaf as an organisation's CA, two organisations sharing a CA, a CA not
 * under the root), a CRL bundle lacking one CA's CRL, the listen address,
 * the user, and an existing store (its key, its size, its audit head
 * against the head file).
 */
#ifndef EENPLAN_CHECK_H
#define EENPLAN_CHECK_H

#include "config.h"

/* Each problem ("file:line: [section] key: what is wrong") goes to report. */
typedef void	(*check_report_fn)(void *arg, const char *problem);

/*
 * Runs the checks of a loaded config (config_load_all). Returns the
 * number of problems found; notes that are no problem (an expired CRL, a
 * certificate near its end) go to note, which may be NULL.
 */
int	check_config(const struct config *, check_report_fn report,
	    check_report_fn note, void *arg);

#endif
