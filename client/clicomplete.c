/* clicomplete: shell completion for eenplan (see clicomplete.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clicmd.h"
#include "cliconn.h"
#include "clicomplete.h"

#define MAX_POS		8

struct seen {
	const char	*s_pos[MAX_POS];	/* words that are not options */
	size_t		 s_npos;
	int		 s_pending;		/* option awaiting its value; -1 */
	const char	*s_pki;
};

static int
opt_by_name(const char *name, size_t len)
{
	const struct cliopt_def *od;
	int id;

	for (id = 0; id < OPT_COUNT; id++) {
		od = cliopt_def(id);
		if (strlen(od->od_name) == len &&
		    strncmp(od->od_name, name, len) == 0)
			return id;
	}
	return -1;
}

static void
scan(struct seen *s, int n, char **w)
{
	const char *eq;
	int i, id;

	memset(s, 0, sizeof(*s));
	s->s_pending = -1;
	for (i = 0; i < n - 1; i++) {
		if (s->s_pending != -1) {
			if (s->s_pending == OPT_PKI)
				s->s_pki = w[i];
			s->s_pending = -1;
			continue;
		}
		if (strcmp(w[i], "-o") == 0) {
			s->s_pending = OPT_OUTPUT;
			continue;
		}
		if (strncmp(w[i], "--", 2) == 0) {
			eq = strchr(w[i], '=');
			id = opt_by_name(w[i] + 2, eq ? (size_t)(eq - w[i] - 2) :
			    strlen(w[i] + 2));
			if (id == OPT_PKI && eq != NULL)
				s->s_pki = eq + 1;
			if (id != -1 && eq == NULL &&
			    cliopt_def(id)->od_kind != KIND_FLAG)
				s->s_pending = id;
			continue;
		}
		if (w[i][0] == '-')
			continue;
		if (s->s_npos < MAX_POS)
			s->s_pos[s->s_npos++] = w[i];
	}
}

static void
cast_names(FILE *f, const char *pki)
{
	char path[4096], line[512];
	FILE *in;
	size_t len;

	if ((size_t)snprintf(path, sizeof(path), "%s/cast.txt", pki) >=
	    sizeof(path) || (in = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), in) != NULL) {
		len = strcspn(line, " \t\r\n");
		if (len > 0 && clival_ident((line[len] = '\0', line), 64))
			fprintf(f, "%s\n", line);
	}
	fclose(in);
}

/* Prints the team of len bytes at p unless seen (",a,b,") holds it. */
static void
team_once(FILE *f, char *seen, size_t seenlen, const char *p, size_t len)
{
	char team[CLIVAL_TEAM_MAX + 1], key[CLIVAL_TEAM_MAX + 3];

	if (len < 1 || len > CLIVAL_TEAM_MAX)
		return;
	snprintf(team, sizeof(team), "%.*s", (int)len, p);
	snprintf(key, sizeof(key), ",%s,", team);
	if (!clival_team(team) || strstr(seen, key) != NULL ||
	    strlen(seen) + len + 2 > seenlen)
		return;
	strncat(seen, key + 1, seenlen - strlen(seen) - 1);
	fprintf(f, "%s\n", team);
}

/* The teams of the demo cast ("name org role CN [teams,...]"), once each. */
static void
cast_teams(FILE *f, const char *pki)
{
	char path[4096], line[512], seen[1024] = ",";
	const char *p;
	size_t len;
	FILE *in;
	int col;

	if ((size_t)snprintf(path, sizeof(path), "%s/cast.txt", pki) >=
	    sizeof(path) || (in = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), in) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		p = line + strspn(line, " \t");
		for (col = 0; col < 4 && *p != '\0'; col++) {
			p += strcspn(p, " \t");
			p += strspn(p, " \t");
		}
		for (; *p != '\0'; p += strspn(p, ", \t")) {
			len = strcspn(p, ", \t");
			team_once(f, seen, sizeof(seen), p, len);
			p += len;
		}
	}
	fclose(in);
}

static void
values(FILE *f, int id, const char *pki)
{
	int v;

	switch (cliopt_def(id)->od_kind) {
	case KIND_DOMAIN:
		for (v = 1; wire_domain_name(v) != NULL; v++)
			fprintf(f, "%s\n", wire_domain_name(v));
		break;
	case KIND_AREA:
		for (v = 1; wire_area_name(v) != NULL; v++)
			fprintf(f, "%s\n", wire_area_name(v));
		break;
	case KIND_ACCESS:
		fprintf(f, "read\ncontribute\n");
		break;
	case KIND_NAME:
		cast_names(f, pki);
		break;
	case KIND_TEAM:
		cast_teams(f, pki);
		break;
	case KIND_FILE:
		fprintf(f, "__files__\n");
		break;
	case KIND_DIR:
		fprintf(f, "__dirs__\n");
		break;
	default:
		break;
	}
}

/* The row the positional words name, and how many words its name takes. */
static const struct clicmd *
command(const struct seen *s, size_t *nwords)
{
	const struct clicmd *cd;
	size_t i;

	if (s->s_npos == 0)
		return NULL;
	for (i = 0; i < clicmd_count; i++) {
		cd = &clicmd_table[i];
		if (strcmp(cd->cc_w1, s->s_pos[0]) != 0)
			continue;
		if (cd->cc_w2 == NULL) {
			*nwords = 1;
			return cd;
		}
		if (s->s_npos > 1 && strcmp(cd->cc_w2, s->s_pos[1]) == 0) {
			*nwords = 2;
			return cd;
		}
	}
	return NULL;
}

static void
options(FILE *f, const struct clicmd *cd)
{
	int id;

	for (id = 0; id < OPT_COUNT; id++)
		if (id >= OPT_NCMD || (cd != NULL &&
		    (cd->cc_allowed & CLIOPT_BIT(id))))
			fprintf(f, "--%s\n", cliopt_def(id)->od_name);
}

static void
words(FILE *f, const struct seen *s)
{
	const struct clicmd *cd;
	size_t i, nw = 0, k;

	if (s->s_npos == 0) {
		for (i = 0; i < clicmd_count; i++)
			if (i == 0 || strcmp(clicmd_table[i - 1].cc_w1,
			    clicmd_table[i].cc_w1) != 0)
				fprintf(f, "%s\n", clicmd_table[i].cc_w1);
		return;
	}
	if ((cd = command(s, &nw)) == NULL) {
		if (s->s_npos != 1)
			return;
		for (i = 0; i < clicmd_count; i++)
			if (clicmd_table[i].cc_w2 != NULL &&
			    strcmp(clicmd_table[i].cc_w1, s->s_pos[0]) == 0)
				fprintf(f, "%s\n", clicmd_table[i].cc_w2);
		return;
	}
	k = s->s_npos - nw;
	if (k < strlen(cd->cc_pos) && cd->cc_pos[k] == 'S')
		fprintf(f, "open\nachieved\ndropped\n");
}

void
clicomplete(FILE *f, int n, char **w)
{
	struct seen s;
	const struct clicmd *cd;
	size_t nw;

	if (n < 1)
		return;
	scan(&s, n, w);
	if (s.s_pending != -1) {
		values(f, s.s_pending, cliconn_pki(s.s_pki));
		return;
	}
	if (w[n - 1][0] == '-') {
		cd = command(&s, &nw);
		options(f, cd);
		return;
	}
	words(f, &s);
}
