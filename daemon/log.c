/* log: one-line log messages to stderr and fatal exits (see log.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "log.h"

static int		 log_verbose;
static const char	*log_prog = "eenpland";
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;

void
log_init(int verbose, const char *progname)
{
	log_verbose = verbose;
	if (progname != NULL)
		log_prog = progname;
}

static void
log_vemit(const char *level, const char *fmt, va_list ap, int with_errno)
{
	char buf[1024];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&log_mtx);
	if (with_errno)
		fprintf(stderr, "%s: %s: %s: %s\n", log_prog, level, buf,
		    strerror(saved));
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, level, buf);
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
}

#define LOG_FN(name, level, cond, err)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	if (!(cond))						\
		return;						\
	va_start(ap, fmt);					\
	log_vemit(level, fmt, ap, err);				\
	va_end(ap);						\
}

LOG_FN(log_debug, "debug", log_verbose > 1, 0)
LOG_FN(log_info, "info", log_verbose > 0, 0)
LOG_FN(log_warnx, "warning", 1, 0)
LOG_FN(log_warn, "warning", 1, 1)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
