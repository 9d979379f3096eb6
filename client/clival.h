/*
 * clival: checked values from the command line's text — numbers with a
 * range, dates, household ids and identifiers. Pure; no I/O.
 */
#ifndef EENPLAN_CLIVAL_H
#define EENPLAN_CLIVAL_H

#include <stddef.h>
#include <stdint.h>

#define CLIVAL_HH_LEN		32
#define CLIVAL_US_PER_DAY	(86400LL * 1000000LL)

/* Decimal in [min, max], nothing else (no sign, space or suffix). 0 or -1. */
int	clival_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
	    __attribute__((warn_unused_result));
/* "YYYY-MM-DD", a real date from 1970 to 9999, as microseconds at 00:00 UTC. */
int	clival_date(const char *s, int64_t *us)
	    __attribute__((warn_unused_result));
/* The UTC day of us as "YYYY-MM-DD" in buf (11 bytes at least). -1 if out of range. */
int	clival_date_text(int64_t us, char *buf, size_t len);
/* A household id: 32 hex characters, stored lower-case in out. */
int	clival_household_id(const char *s, char out[CLIVAL_HH_LEN + 1])
	    __attribute__((warn_unused_result));
/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t	clival_days(int64_t y, unsigned m, unsigned d);
void	clival_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* 1..max characters of [A-Za-z0-9._-]: organisation, subject, person ids. */
int	clival_ident(const char *s, size_t max);
/* A team name as an organisation's CA writes it: 1..32 of [a-z0-9-]. */
#define CLIVAL_TEAM_MAX		32
int	clival_team(const char *s);

#endif
