/* cliprogress: ZRM scores over time as a chart (see cliprogress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cliout.h"
#include "cliprogress.h"
#include "clireq.h"
#include "clirun.h"
#include "clival.h"
#include "pbjson.h"

#define NDOMAINS	13
#define DAY		CLIVAL_US_PER_DAY
#define MIN_DAYS	7	/* a chart spans at least a week */

/* One domain's scores by time, and its target (0: none). */
struct series {
	int			  s_domain;
	uint32_t		  s_target;
	const EpAssessment	**s_pts;
	int64_t			 *s_at;		/* local times of s_pts */
	size_t			  s_n;
};

/* What a chart shows: the domains with a score or a target. */
struct chart {
	struct series	 c_series[NDOMAINS];
	size_t		 c_n;
	size_t		 c_npoints;
	int64_t		 c_d0, c_d1;	/* local days shown: [d0, d1) */
};

/* us shifted by the local UTC offset then, so day arithmetic is local. */
static int64_t
local_us(int64_t us)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	if (localtime_r(&t, &tm) == NULL)
		return us;
	return us + (int64_t)tm.tm_gmtoff * 1000000;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void
day_text(int64_t day, char *buf, size_t len)
{
	if (clival_date_text(day * DAY, buf, len) == -1)
		snprintf(buf, len, "?");
}

static int
by_time(const void *a, const void *b)
{
	const EpAssessment *x = *(const EpAssessment *const *)a;
	const EpAssessment *y = *(const EpAssessment *const *)b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void
chart_free(struct chart *c)
{
	size_t i;

	for (i = 0; i < c->c_n; i++) {
		free(c->c_series[i].s_pts);
		free(c->c_series[i].s_at);
	}
	c->c_n = 0;
}

static void
chart_range(struct chart *c, int64_t tmin, int64_t tmax)
{
	int64_t extra;

	if (c->c_npoints == 0) {
		c->c_d0 = 0;
		c->c_d1 = MIN_DAYS;
		return;
	}
	c->c_d0 = floor_div(tmin, DAY);
	c->c_d1 = floor_div(tmax, DAY) + 1;
	if (c->c_d1 - c->c_d0 < MIN_DAYS) {
		extra = MIN_DAYS - (c->c_d1 - c->c_d0);
		c->c_d0 -= extra / 2;
		c->c_d1 += extra - extra / 2;
	}
}

static int
chart_make(const EpPlan *p, struct chart *c)
{
	struct series *s;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;
	size_t i, n;
	int d;

	memset(c, 0, sizeof(*c));
	for (d = 1; d <= NDOMAINS; d++) {
		s = &c->c_series[c->c_n];
		s->s_domain = d;
		for (i = 0; i < p->n_targets; i++)
			if ((int)p->targets[i]->domain == d &&
			    p->targets[i]->score >= 1 && p->targets[i]->score <= 5)
				s->s_target = p->targets[i]->score;
		for (i = 0, n = 0; i < p->n_assessments; i++)
			n += (int)p->assessments[i]->domain == d &&
			    p->assessments[i]->score >= 1 &&
			    p->assessments[i]->score <= 5;
		if (n == 0 && s->s_target == 0)
			continue;
		c->c_n++;
		if (n == 0)
			continue;
		if ((s->s_pts = calloc(n, sizeof(*s->s_pts))) == NULL ||
		    (s->s_at = calloc(n, sizeof(*s->s_at))) == NULL) {
			chart_free(c);
			return -1;
		}
		for (i = 0; i < p->n_assessments; i++)
			if ((int)p->assessments[i]->domain == d &&
			    p->assessments[i]->score >= 1 &&
			    p->assessments[i]->score <= 5)
				s->s_pts[s->s_n++] = p->assessments[i];
		qsort(s->s_pts, s->s_n, sizeof(*s->s_pts), by_time);
		for (i = 0; i < s->s_n; i++) {
			s->s_at[i] = local_us(s->s_pts[i]->at);
			if (s->s_at[i] < tmin)
				tmin = s->s_at[i];
			if (s->s_at[i] > tmax)
				tmax = s->s_at[i];
		}
		c->c_npoints += s->s_n;
	}
	chart_range(c, tmin, tmax);
	return 0;
}

/* Where t falls in [0, 1] of the chart's time range. */
static double
time_frac(const struct chart *c, int64_t t)
{
	double span = (double)(c->c_d1 - c->c_d0) * (double)DAY;
	double f = (double)(t - c->c_d0 * DAY) / span;

	return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* ------------------------------------------------------------ terminal */

static void
text_series(FILE *f, const struct chart *c, const struct series *s,
    int width)
{
	const char *cells[5][200];
	char d0[16], d1[16];
	int row, col, last;
	size_t i;

	for (row = 0; row < 5; row++)
		for (col = 0; col < width; col++)
			cells[row][col] = s->s_target == (uint32_t)(5 - row) ?
			    "┈" : " ";
	for (i = 0; i < s->s_n; i++) {
		col = (int)(time_frac(c, s->s_at[i]) * (width - 1) + 0.5);
		cells[5 - s->s_pts[i]->score][col] = "●";
	}
	for (row = 0; row < 5; row++) {
		fprintf(f, "  %d ┤", 5 - row);
		for (last = width; last > 0 && strcmp(cells[row][last - 1],
		    " ") == 0; last--)
			;
		for (col = 0; col < last; col++)
			fputs(cells[row][col], f);
		if (s->s_target == (uint32_t)(5 - row))
			fprintf(f, " target");
		fputc('\n', f);
	}
	fputs("    └", f);
	for (col = 0; col < width; col++)
		fputs("─", f);
	day_text(c->c_d0, d0, sizeof(d0));
	day_text(c->c_d1 - 1, d1, sizeof(d1));
	fprintf(f, "\n     %s%*s\n", d0, width - (int)strlen(d0), d1);
}

static void
text_scores(FILE *f, const struct series *s)
{
	char when[16];
	size_t i;

	fprintf(f, "  scores:");
	for (i = 0; i < s->s_n; i++) {
		day_text(floor_div(s->s_at[i], DAY), when, sizeof(when));
		fprintf(f, "%s %u on %s", i ? "," : "", s->s_pts[i]->score,
		    when);
	}
	fputc('\n', f);
}

void
cliprogress_text(FILE *f, const EpPlan *p, int width)
{
	const struct series *s;
	struct chart c;
	size_t i;
	uint32_t last;

	if (width < 20)
		width = 20;
	if (width > 200)
		width = 200;
	if (chart_make(p, &c) == -1) {
		fprintf(f, "(out of memory)\n");
		return;
	}
	fprintf(f, "Self-reliance (ZRM) of household %s over time\n",
	    cliout_or_dash(p->household_id));
	fprintf(f, "1 acute problematiek, 2 niet zelfredzaam, 3 beperkt "
	    "zelfredzaam,\n4 voldoende zelfredzaam, 5 volledig zelfredzaam; "
	    "● a score, ┈ the target\n");
	if (c.c_n == 0)
		fprintf(f, "\nNo scores or targets in this plan yet.\n");
	for (i = 0; i < c.c_n; i++) {
		s = &c.c_series[i];
		fprintf(f, "\n%s: ", cliout_domain_label(s->s_domain));
		if (s->s_n > 0) {
			last = s->s_pts[s->s_n - 1]->score;
			fprintf(f, "now %u %s", last, cliout_score_label(last));
		} else
			fprintf(f, "not scored yet");
		if (s->s_target != 0)
			fprintf(f, ", target %u %s", s->s_target,
			    cliout_score_label(s->s_target));
		else
			fprintf(f, ", no target");
		fputc('\n', f);
		if (s->s_n == 0)
			continue;
		text_series(f, &c, s, width);
		text_scores(f, s);
	}
	chart_free(&c);
}

/* ------------------------------------------------------------ SVG */

#define SVG_W		794.0	/* A4 at 96 dpi */
#define SVG_H		1123.0
#define SVG_MARGIN	40.0
#define SVG_TOP		146.0
#define SVG_GAP		24.0
#define FONT		"DejaVu Sans, Arial, Helvetica, sans-serif"
#define C_SCORE		"#1f5fa8"
#define C_TARGET	"#2e7d32"
#define C_ZONE		"#e6f4e7"
#define C_GRID		"#d9d9d9"
#define C_TEXT		"#222222"
#define C_MUTED		"#666666"

/* Text for XML: escaped, control characters dropped. */
static void
xml_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; p != NULL && *p != '\0'; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fputc(' ', f);
			else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
				p++;	/* a C1 control: not allowed in XML 1.0 */
			else
				fputc(*p, f);
			break;
		}
	}
}

/* The plot area of one panel, in the page's coordinates. */
struct plot {
	double	 pl_x, pl_y, pl_w, pl_h;
};

static double
score_y(const struct plot *pl, uint32_t score)
{
	return pl->pl_y + 10 + (5.0 - score) * (pl->pl_h - 20) / 4.0;
}

static double
time_x(const struct plot *pl, const struct chart *c, int64_t t)
{
	return pl->pl_x + 12 + time_frac(c, t) * (pl->pl_w - 24);
}

/* Tick days for [d0, d1): every step days, or month starts every step months. */
static size_t
ticks(int64_t d0, int64_t d1, size_t maxn, int64_t *out, size_t cap)
{
	static const int day_steps[] = { 1, 2, 7, 14 };
	static const int month_steps[] = { 1, 2, 3, 6, 12, 24, 60, 120 };
	int64_t y, day;
	unsigned m, d;
	size_t i, n;
	int k;

	for (i = 0; i < sizeof(day_steps) / sizeof(day_steps[0]); i++)
		if ((d1 - d0 + day_steps[i] - 1) / day_steps[i] <= (int64_t)maxn) {
			for (n = 0, day = d0; day < d1 && n < cap;
			    day += day_steps[i])
				out[n++] = day;
			return n;
		}
	for (i = 0; i < sizeof(month_steps) / sizeof(month_steps[0]); i++) {
		clival_civil(d0, &y, &m, &d);
		n = 0;
		for (k = 0; n < cap; k++) {
			int64_t mm = (int64_t)m - 1 + (d > 1) + (int64_t)k *
			    month_steps[i];

			day = clival_days(y + mm / 12, (unsigned)(mm % 12) + 1, 1);
			if (day >= d1)
				break;
			out[n++] = day;
		}
		if (n <= maxn)
			return n;
	}
	return 0;
}

static void
svg_axes(FILE *f, const struct plot *pl, const struct chart *c)
{
	int64_t tk[64];
	char label[16];
	size_t i, n;
	double x, y;
	uint32_t s;

	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
	    "fill=\"#ffffff\" stroke=\"#bbbbbb\"/>\n", pl->pl_x, pl->pl_y,
	    pl->pl_w, pl->pl_h);
	for (s = 1; s <= 5; s++) {
		y = score_y(pl, s);
		fprintf(f, "<line class=\"grid\" data-score=\"%u\" x1=\"%.1f\" "
		    "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID
		    "\"/>\n", s, pl->pl_x, y, pl->pl_x + pl->pl_w, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "text-anchor=\"end\" fill=\"" C_MUTED "\">%u</text>\n",
		    pl->pl_x - 6, y + 4, s);
	}
	n = ticks(c->c_d0, c->c_d1, (size_t)(pl->pl_w / 80), tk, 64);
	y = pl->pl_y + pl->pl_h;
	for (i = 0; i < n; i++) {
		x = time_x(pl, c, tk[i] * DAY);
		day_text(tk[i], label, sizeof(label));
		fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" "
		    "x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999999\"/>\n", x, y, x,
		    y + 4);
		fprintf(f, "<text class=\"date\" x=\"%.1f\" y=\"%.1f\" "
		    "font-size=\"10\" text-anchor=\"middle\" fill=\"" C_MUTED
		    "\">%s</text>\n", x, y + 16, label);
	}
}

static void
svg_target(FILE *f, const struct plot *pl, uint32_t target)
{
	double y = score_y(pl, target), top = score_y(pl, 5) - 10;

	fprintf(f, "<rect class=\"goal-zone\" x=\"%.1f\" y=\"%.1f\" "
	    "width=\"%.1f\" height=\"%.1f\" fill=\"" C_ZONE "\"/>\n",
	    pl->pl_x + 1, top + 1, pl->pl_w - 2, y - top - 1);
	fprintf(f, "<line class=\"target\" data-score=\"%u\" x1=\"%.1f\" "
	    "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_TARGET "\" "
	    "stroke-width=\"2\" stroke-dasharray=\"7 4\"/>\n", target,
	    pl->pl_x, y, pl->pl_x + pl->pl_w, y);
}

static void
svg_points(FILE *f, const struct plot *pl, const struct chart *c,
    const struct series *s)
{
	const EpAssessment *a;
	char when[16];
	size_t i;
	double x, y;

	if (s->s_n >= 2) {
		fprintf(f, "<polyline class=\"line\" fill=\"none\" stroke=\""
		    C_SCORE "\" stroke-width=\"2.5\" points=\"");
		for (i = 0; i < s->s_n; i++)
			fprintf(f, "%s%.1f,%.1f", i ? " " : "",
			    time_x(pl, c, s->s_at[i]),
			    score_y(pl, s->s_pts[i]->score));
		fprintf(f, "\"/>\n");
	}
	for (i = 0; i < s->s_n; i++) {
		a = s->s_pts[i];
		x = time_x(pl, c, s->s_at[i]);
		y = score_y(pl, a->score);
		day_text(floor_div(s->s_at[i], DAY), when, sizeof(when));
		fprintf(f, "<circle class=\"score\" data-domain=\"%s\" "
		    "data-score=\"%u\" data-at=\"%lld\" cx=\"%.1f\" cy=\"%.1f\" "
		    "r=\"5.5\" fill=\"" C_SCORE "\" stroke=\"#ffffff\" "
		    "stroke-width=\"1.5\"><title>%s: %u ",
		    wire_domain_name(s->s_domain), a->score, (long long)a->at,
		    x, y, when, a->score);
		xml_text(f, cliout_score_label(a->score));
		fprintf(f, "</title></circle>\n");
		if (s->s_n <= 16 && pl->pl_h >= 100)
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
			    "text-anchor=\"middle\" fill=\"" C_SCORE "\">%u"
			    "</text>\n", x, y - 9, a->score);
	}
}

static void
svg_panel(FILE *f, const struct chart *c, const struct series *s, double x,
    double y, double w, double h)
{
	struct plot pl = { x + 22, y + 24, w - 22, h - 24 - 22 };
	uint32_t last;

	fprintf(f, "<g class=\"domain\" data-domain=\"%s\">\n",
	    wire_domain_name(s->s_domain));
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
	    "font-weight=\"bold\" fill=\"" C_TEXT "\">", x, y + 15);
	xml_text(f, cliout_domain_label(s->s_domain));
	fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
	    "text-anchor=\"end\" fill=\"" C_MUTED "\">", x + w, y + 15);
	if (s->s_n > 0) {
		last = s->s_pts[s->s_n - 1]->score;
		fprintf(f, "now %u", last);
	} else
		fprintf(f, "not scored yet");
	if (s->s_target != 0)
		fprintf(f, " · target %u", s->s_target);
	fprintf(f, "</text>\n");
	svg_axes(f, &pl, c);
	if (s->s_target != 0)
		svg_target(f, &pl, s->s_target);
	svg_points(f, &pl, c, s);
	if (s->s_n == 0)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
		    "text-anchor=\"middle\" fill=\"" C_MUTED "\">not scored "
		    "yet</text>\n", pl.pl_x + pl.pl_w / 2, score_y(&pl, 2));
	/* Below the line: the scores' own labels sit above their points. */
	if (s->s_target != 0)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
		    "text-anchor=\"end\" fill=\"" C_TARGET "\">target %u</text>"
		    "\n", pl.pl_x + pl.pl_w - 4, score_y(&pl, s->s_target) + 15,
		    s->s_target);
	fprintf(f, "</g>\n");
}

static void
svg_head(FILE *f, const EpPlan *p, const struct chart *c, int64_t now)
{
	char today[16];
	double y;

	day_text(floor_div(local_us(now), DAY), today, sizeof(today));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "width=\"210mm\" height=\"297mm\" viewBox=\"0 0 %.0f %.0f\" "
	    "font-family=\"" FONT "\">\n", SVG_W, SVG_H);
	fprintf(f, "<title>Self-reliance (ZRM) over time, household ");
	xml_text(f, p->household_id);
	fprintf(f, "</title>\n<rect width=\"100%%\" height=\"100%%\" "
	    "fill=\"#ffffff\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"52\" font-size=\"22\" "
	    "font-weight=\"bold\" fill=\"" C_TEXT "\">Self-reliance over time "
	    "(ZRM)</text>\n", SVG_MARGIN);
	fprintf(f, "<text x=\"%.0f\" y=\"76\" font-size=\"12\" fill=\""
	    C_MUTED "\">Household ", SVG_MARGIN);
	xml_text(f, p->household_id);
	fprintf(f, " · plan version %llu · %zu score%s in %zu domain%s · "
	    "made %s</text>\n", (unsigned long long)p->version, c->c_npoints,
	    c->c_npoints == 1 ? "" : "s", c->c_n, c->c_n == 1 ? "" : "s",
	    today);
	fprintf(f, "<text x=\"%.0f\" y=\"100\" font-size=\"11\" fill=\""
	    C_TEXT "\">Score: 1 acute problematiek · 2 niet zelfredzaam · "
	    "3 beperkt zelfredzaam · 4 voldoende zelfredzaam · 5 volledig "
	    "zelfredzaam</text>\n", SVG_MARGIN);
	y = 122;
	fprintf(f, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"5.5\" fill=\"" C_SCORE
	    "\"/><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"" C_TEXT
	    "\">a score given in an assessment</text>\n", SVG_MARGIN + 6, y,
	    SVG_MARGIN + 16, y + 4);
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"" C_TARGET "\" stroke-width=\"2\" "
	    "stroke-dasharray=\"7 4\"/><text x=\"%.0f\" y=\"%.0f\" "
	    "font-size=\"11\" fill=\"" C_TEXT "\">the target score</text>\n",
	    SVG_MARGIN + 230, y, SVG_MARGIN + 262, y, SVG_MARGIN + 270, y + 4);
	fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"24\" height=\"12\" "
	    "fill=\"" C_ZONE "\" stroke=\"#bbbbbb\"/><text x=\"%.0f\" "
	    "y=\"%.0f\" font-size=\"11\" fill=\"" C_TEXT "\">at or above the "
	    "target</text>\n", SVG_MARGIN + 400, y - 6, SVG_MARGIN + 432,
	    y + 4);
}

int
cliprogress_svg(FILE *f, const EpPlan *p, int64_t now_us)
{
	struct chart c;
	size_t i, cols, rows;
	double w, h;

	if (chart_make(p, &c) == -1)
		return -1;
	svg_head(f, p, &c, now_us);
	if (c.c_n == 0)
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" fill=\""
		    C_TEXT "\">No scores or targets in this plan yet.</text>\n",
		    SVG_MARGIN, SVG_TOP + 20);
	cols = c.c_n <= 4 ? 1 : 2;
	rows = (c.c_n + cols - 1) / cols;
	w = (SVG_W - 2 * SVG_MARGIN - (double)(cols - 1) * SVG_GAP) /
	    (double)cols;
	h = rows > 0 ? (SVG_H - SVG_TOP - SVG_MARGIN) / (double)rows : 0;
	if (h > 300)
		h = 300;
	for (i = 0; i < c.c_n; i++)
		svg_panel(f, &c, &c.c_series[i], SVG_MARGIN + (double)(i % cols) *
		    (w + SVG_GAP), SVG_TOP + (double)(i / cols) * h, w, h - 14);
	fprintf(f, "</svg>\n");
	chart_free(&c);
	return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------ JSON */

static json_t *
score_json(const EpAssessment *a)
{
	char who[160], utc[40];
	json_t *j;

	if ((j = json_object()) == NULL)
		return NULL;
	json_object_set_new(j, "at", json_integer((json_int_t)a->at));
	if (pbjson_time_utc(a->at, utc, sizeof(utc)) == 0)
		json_object_set_new(j, "at_utc", json_string(utc));
	json_object_set_new(j, "score", json_integer(a->score));
	json_object_set_new(j, "label", json_string(cliout_score_label(
	    a->score)));
	cliout_principal(who, sizeof(who), a->by, 0);
	json_object_set_new(j, "by", json_string(who));
	if (a->remark != NULL && a->remark[0] != '\0')
		json_object_set_new(j, "remark", pbjson_string(a->remark));
	return j;
}

json_t *
cliprogress_json(const EpPlan *p)
{
	const struct series *s;
	struct chart c;
	json_t *doc, *doms, *d, *scores;
	size_t i, k;

	if (chart_make(p, &c) == -1)
		return NULL;
	doc = json_object();
	doms = json_array();
	json_object_set_new(doc, "household_id",
	    pbjson_string(p->household_id));
	json_object_set_new(doc, "version", json_integer((json_int_t)
	    p->version));
	json_object_set_new(doc, "domains", doms);
	for (i = 0; i < c.c_n; i++) {
		s = &c.c_series[i];
		d = json_object();
		scores = json_array();
		json_object_set_new(d, "domain",
		    json_string(wire_domain_name(s->s_domain)));
		json_object_set_new(d, "label",
		    json_string(cliout_domain_label(s->s_domain)));
		json_object_set_new(d, "target", s->s_target ?
		    json_integer(s->s_target) : json_null());
		json_object_set_new(d, "latest", s->s_n ?
		    json_integer(s->s_pts[s->s_n - 1]->score) : json_null());
		for (k = 0; k < s->s_n; k++)
			json_array_append_new(scores, score_json(s->s_pts[k]));
		json_object_set_new(d, "scores", scores);
		json_array_append_new(doms, d);
	}
	chart_free(&c);
	return doc;
}

/* ------------------------------------------------------------ run */

struct svg_job {
	const EpPlan	*sj_plan;
	int64_t		 sj_now;
};

static int
write_svg(FILE *f, void *arg)
{
	struct svg_job *j = arg;

	return cliprogress_svg(f, j->sj_plan, j->sj_now);
}

int
cliprogress_run(struct ep_client *cl, struct cliopt *o)
{
	struct svg_job job;
	struct clireq r;
	EpResponse *resp = NULL;
	const EpPlan *p;
	json_t *j;
	int rc;

	clireq_plan_version(&r, o->o_hh, 0);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_GET_PLAN, &resp)) != EXIT_DONE)
		goto out;
	if ((p = resp->get_plan->plan) == NULL) {
		rc = clirun_protocol_error("the answer holds no plan");
		goto out;
	}
	if (o->o_svg != NULL) {
		job.sj_plan = p;
		job.sj_now = clirun_now();
		if ((rc = clirun_write(o->o_svg, write_svg, &job)) != EXIT_DONE ||
		    strcmp(o->o_svg, "-") == 0)
			goto out;
	}
	if (o->o_json) {
		if ((j = cliprogress_json(p)) == NULL) {
			rc = clirun_oom();
			goto out;
		}
		clirun_json_dump(stdout, j);
		json_decref(j);
	} else if (o->o_svg != NULL)
		printf("progress chart of household %s written to %s\n",
		    o->o_hh, o->o_svg);
	else
		cliprogress_text(stdout, p, 60);
out:
	ep_client_response_free(cl, resp);
	return rc;
}
