/*
 * principal: who is calling — (organisation, subject, role) as decided from
 * the peer certificate at the handshake, the teams its organisation's CA put
 * it in, and what the audit needs of it.
 */
#ifndef EENPLAN_PRINCIPAL_H
#define EENPLAN_PRINCIPAL_H

#define PRINCIPAL_ORG_MAX	32	/* organisation id: [a-z0-9-], 1..31 */
#define PRINCIPAL_SUBJECT_MAX	65	/* CN: [A-Za-z0-9._-], 1..64 */
#define PRINCIPAL_TEAM_MAX	33	/* team name: [a-z0-9-], 1..32 */
#define PRINCIPAL_TEAMS_MAX	8	/* teams per certificate, at most */

struct principal {
	char	pr_org[PRINCIPAL_ORG_MAX];
	char	pr_subject[PRINCIPAL_SUBJECT_MAX];
	int	pr_role;		/* EENPLAN__V1__ROLE__* */
	char	pr_org_identifier[48];	/* URA / OIN / KvK, from the config */
	char	pr_serial[80];		/* certificate serial, hex */
	char	pr_peer[64];		/* peer address "ip:port" */
	/* Teams inside pr_org, as its CA asserted them (tls.c), in order. */
	char	pr_teams[PRINCIPAL_TEAMS_MAX][PRINCIPAL_TEAM_MAX];
	int	pr_nteams;
};

#endif
