/*
 * clifhir: `eenplan export --fhir` — a plan as an HL7 FHIR R4 Bundle, for
 * partners on the Dutch Nuts / Shared Care Planning stack: the household as
 * a Group of Patients, the plan as a CarePlan (actions as its activities,
 * notes as its notes), goals as Goal, ZRM scores as Observation, grants as
 * Consent and the access log as AuditEvent. eenplan's own identifiers use
 * the URN systems urn:eenplan:household, :principal, :organization,
 * :person, :zrm-domain and :operation.
 */
#ifndef EENPLAN_CLIFHIR_H
#define EENPLAN_CLIFHIR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cliopt.h"
#include "eenplan_client.h"
#include "wire.h"

/* The runner the subcommand table names. */
int	clifhir_run(struct ep_client *, struct cliopt *);

/*
 * The Bundle (type "collection") for the plan gp, its grants (NULL: not
 * readable, no Consent) and its access log (NULL: not readable, no
 * AuditEvent). Identifiers and urn:uuid full URLs are derived from the
 * household and item ids, so an export of the same data is the same.
 * NULL when out of memory.
 */
json_t	*clifhir_bundle(const Eenplan__V1__GetPlanResponse *gp,
	    EpGrant *const *grants, size_t ngrants,
	    EpAuditRecord *const *recs, size_t nrecs, int64_t now_us);

#endif
