/*
 * tls: the server's TLS context (mutual TLS, TLS 1.3 or 1.2 with ECDHE+AEAD
 * only, client certificate required, CRLs, ALPN eenplan/1) and the peer's
 * identity: the organisation whose CA issued the leaf, never what the leaf
 * claims. One of two modules that touch OpenSSL (with conn.c).
 */
#ifndef EENPLAN_TLS_H
#define EENPLAN_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "principal.h"

struct tls_server;	/* SSL_CTX plus each org's CA certificate */
struct tls_tickets;	/* session ticket keys, shared by every context */

/*
 * A date the server depends on: the validity of a certificate it uses or
 * trusts (its own, its chain, the root, each organisation's CA), or when a
 * CRL it holds is due to be replaced (after that, handshakes with
 * certificates of its CA fail).
 */
struct tls_date {
	char		td_what[48];	/* "server", "server-chain-1", "root",
					   "org:lev" */
	int		td_crl;		/* 1: td_not_after is a CRL's nextUpdate */
	int64_t		td_not_before;	/* s since the epoch (0 for a CRL) */
	int64_t		td_not_after;
};
#define TLS_DATES_MAX	(2 * CONFIG_MAX_ORGS + 16)

/*
 * Builds the context from the config: server cert/key (a key file readable
 * by group or others is refused; key material is wiped after loading), trust
 * store = root CA + every org CA, CRLs with CRL_CHECK|CRL_CHECK_ALL when a
 * CRL file is set. NULL with a message in err.
 */
struct tls_server *tls_server_new(const struct config *, char *err, size_t errlen);
void	tls_server_free(struct tls_server *);
SSL_CTX	*tls_server_ctx(struct tls_server *);
/* The context's dates (as loaded), at most max of them; returns how many. */
size_t	tls_server_dates(const struct tls_server *, struct tls_date *out,
	    size_t max);

/*
 * Ticket keys for session resumption: a key encrypts tickets for lifetime
 * seconds, then is kept lifetime seconds more to decrypt the tickets it made
 * (a ticket itself lives lifetime seconds), then dropped. Random, in memory
 * only: a restart ends every ticket. NULL on failure.
 */
struct tls_tickets *tls_tickets_new(uint32_t lifetime);
void	tls_tickets_free(struct tls_tickets *);

/*
 * Turns session resumption on for ts (TLS 1.3 and 1.2 tickets) with the
 * keys of tk, which outlive a reload, so a SIGHUP does not end resumption.
 * A ticket is used only after its leaf passed again the CRLs and trust of
 * the context that takes it (see tls_identify). 0, or -1 with err.
 */
int	tls_server_use_tickets(struct tls_server *, struct tls_tickets *,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * After a completed handshake: SSL_get_verify_result must be X509_V_OK; the
 * leaf's issuer (verified chain[1]) must be one of the configured org CAs;
 * the leaf's O must equal that org's id; OU must be a role that org may
 * issue; CN an identifier (1..64 of [A-Za-z0-9._-]); the teams its CA put
 * it in (subjectDirectoryAttributes, RFC 5755 Group attribute, see
 * certs/README.md) 0..PRINCIPAL_TEAMS_MAX names of 1..32 [a-z0-9-], no
 * repeats. Fills the principal (org identifier from the config, serial in
 * hex). A resumed session, or one verified under an older context than ts
 * (a reload in between), has its leaf verified again under ts first. 0, or
 * -1 with why in err.
 */
int	tls_identify(struct tls_server *, SSL *, const struct config *,
	    struct principal *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * The peer of an established connection checked again, now, against ts's
 * trust store and CRLs (revoked, expired, or no longer chaining to a
 * configured CA: refused), then identified as tls_identify does. For open
 * connections after a reload. 0, or -1 with why in err.
 */
int	tls_reverify(struct tls_server *, SSL *, const struct config *,
	    struct principal *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * The same decision on a verified chain (leaf first), for tests: org_cas are
 * the configured orgs' CA certificates, in config order.
 */
/*
 * Every certificate of a PEM file, on a new stack (sk_X509_pop_free it), or
 * NULL with err saying why (the file, and errno or OpenSSL's reason).
 */
STACK_OF(X509) *tls_read_certs(const char *path, char *err, size_t errlen);
int	tls_identify_chain(STACK_OF(X509) *chain, X509 *const *org_cas,
	    const struct config *, struct principal *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

#endif
