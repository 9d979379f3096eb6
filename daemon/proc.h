/*
 * proc: what the daemon's process does about its surroundings — the user
 * it runs as (dropping root after the listener is bound and the TLS key is
 * loaded), the lock that keeps a second daemon off its data_dir, and the
 * readiness messages to systemd (sd_notify: READY, RELOADING, STOPPING).
 * The only file that knows libsystemd.
 */
#ifndef EENPLAN_PROC_H
#define EENPLAN_PROC_H

#include "config.h"

/*
 * Before anything is opened: fatal when the daemon cannot run as [server]
 * user — root without user = ... ("user = root" runs as root knowingly),
 * an unknown user, or another user than root that is not that user.
 */
void	proc_check_user(const struct config *);
/*
 * After the bind and the TLS key: becomes [server] user when started as
 * root. A data_dir that is missing is made for that user; one owned by
 * another user is refused. Started as the user itself: nothing to do.
 */
void	proc_become_user(const struct config *);

/*
 * Locks data_dir/eenpland.pid for the life of the process (made, 0700, when
 * missing); fatal when another eenpland holds it.
 */
void	proc_lock_data_dir(const char *dir);
/*
 * The same lock, taken without exiting (maintenance commands): the open,
 * locked pid file's descriptor; -1 when a daemon holds it (its pid in
 * holder) or on an error (holder empty, err says it).
 */
int	proc_try_lock_data_dir(const char *dir, char *holder, size_t holderlen,
	    char *err, size_t errlen);

/* Readiness for systemd (Type=notify); nothing without $NOTIFY_SOCKET. */
void	proc_notify_ready(int nworkers);
void	proc_notify_reloading(void);
void	proc_notify_stopping(void);

#endif
