/*
 * cliprogress: `eenplan progress` — the ZRM self-reliance scores of a plan
 * over time, per life domain, with the target score marked: as a terminal
 * chart, as an SVG chart for A4 paper, or as JSON.
 */
#ifndef EENPLAN_CLIPROGRESS_H
#define EENPLAN_CLIPROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cliopt.h"
#include "eenplan_client.h"
#include "wire.h"

/* The runner the subcommand table names. */
int	cliprogress_run(struct ep_client *, struct cliopt *);

/* The chart for a terminal, plot width columns wide (at least 20). */
void	cliprogress_text(FILE *f, const EpPlan *p, int width);
/*
 * The chart as an SVG document sized A4 portrait. Every score is a circle
 * with class "score" and data-domain, data-score and data-at (microseconds),
 * inside a group of class "domain" with data-domain whose grid lines
 * (class "grid", data-score) and target line (class "target", data-score)
 * say where each score lies, so a test can check the picture against the
 * plan. 0, or -1 on a write error.
 */
int	cliprogress_svg(FILE *f, const EpPlan *p, int64_t now_us);
/* The series as JSON: { household_id, version, domains: [...] }. */
json_t	*cliprogress_json(const EpPlan *p);

#endif
