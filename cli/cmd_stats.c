/*
 * cmd_stats.c - `coldseq stats`: what each campaign's messages led to
 * (sent, replied, bounced, complaints, unsubscribes, auto-replies, each
 * message counted once per kind) and the stopped contacts by reason,
 * optionally split by day, inbox, step or variant.  It only reads.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* The figures, in output order. */
static const struct fig {
	const char *json, *head;
	size_t off;
} figs[] = {
    {"sent", "SENT", offsetof(db_stats_row, sent)},
    {"replied", "REPLIED", offsetof(db_stats_row, replied)},
    {"bounced_hard", "HARD-BOUNCE", offsetof(db_stats_row, bounced_hard)},
    {"bounced_soft", "SOFT-BOUNCE", offsetof(db_stats_row, bounced_soft)},
    {"complaints", "COMPLAINT", offsetof(db_stats_row, complaints)},
    {"unsubscribed", "UNSUBSCRIBED", offsetof(db_stats_row, unsubscribed)},
    {"auto_replies", "AUTO-REPLY", offsetof(db_stats_row, auto_replies)},
};
#define NFIGS (sizeof figs / sizeof figs[0])

static long long fig(const db_stats_row *r, size_t i)
{
	long long v;

	memcpy(&v, (const char *)r + figs[i].off, sizeof v);
	return v;
}

static void add_figs(db_stats_row *to, const db_stats_row *r)
{
	size_t i;

	for (i = 0; i < NFIGS; i++) {
		long long v = fig(to, i) + fig(r, i);

		memcpy((char *)to + figs[i].off, &v, sizeof v);
	}
}

/* One row of a split: its name for output and its figures. */
typedef struct srow {
	char *name; /* day, inbox or template name; NULL for a step */
	int step;   /* step and variant splits */
	db_stats_row f;
} srow;

typedef struct camp_stats {
	const db_campaign *c;
	db_stats_row total;
	srow *rows;
	size_t nrows;
} camp_stats;

typedef struct stats_run {
	camp_stats *cs;
	size_t ncs;
	db_stats_by by;
	cs_err *err;
} stats_run;

static camp_stats *find_camp(stats_run *r, long long id)
{
	size_t i;

	for (i = 0; i < r->ncs; i++)
		if (r->cs[i].c->id == id)
			return &r->cs[i];
	return NULL;
}

static int total_row(const db_stats_row *row, void *arg)
{
	camp_stats *c = find_camp(arg, row->campaign_id);

	if (c)
		add_figs(&c->total, row);
	return 0;
}

static int split_row(const db_stats_row *row, void *arg)
{
	stats_run *r = arg;
	camp_stats *c = find_camp(r, row->campaign_id);
	char day[11];
	srow *last;

	if (c == NULL)
		return 0;
	if (r->by == DB_BY_QUARTER) {
		/* spans come in time order: fold them into the campaign's
		 * local days */
		int rc = cs_tz_day(c->c->timezone, row->key, day, r->err);

		if (rc)
			return rc;
		last = c->nrows ? &c->rows[c->nrows - 1] : NULL;
		if (last && strcmp(last->name, day) == 0) {
			add_figs(&last->f, row);
			return 0;
		}
	}
	c->rows = cs_xrealloc(c->rows, (c->nrows + 1) * sizeof *c->rows);
	last = &c->rows[c->nrows++];
	memset(last, 0, sizeof *last);
	last->f = *row;
	last->f.label = NULL; /* borrowed: valid only during this call */
	last->step = (int)row->key;
	if (r->by == DB_BY_QUARTER)
		last->name = cs_xstrdup(day);
	else if (r->by == DB_BY_INBOX || r->by == DB_BY_VARIANT)
		last->name = row->label ? cs_xstrdup(row->label)
		                        : cs_xasprintf("#%d", row->variant + 1);
	return 0;
}

static int stop_reason(const char *reason, long long n, void *arg)
{
	cJSON_AddNumberToObject(arg, reason, (double)n);
	return 0;
}

/* --by values, indexed by db_stats_by. */
static const char *const by_names[] = {NULL, "day", "inbox", "step", "variant"};

static cJSON *figs_json(cJSON *o, const db_stats_row *r)
{
	size_t i;

	for (i = 0; i < NFIGS; i++)
		cJSON_AddNumberToObject(o, figs[i].json, (double)fig(r, i));
	return o;
}

static cJSON *camp_json(const camp_stats *c, db_stats_by by, cJSON *stops)
{
	cJSON *o = cJSON_CreateObject(), *rows;
	size_t i;

	cJSON_AddStringToObject(o, "name", c->c->name);
	cJSON_AddStringToObject(o, "status",
	                        db_campaign_status_name(c->c->status));
	figs_json(o, &c->total);
	cJSON_AddItemToObject(o, "stopped", stops);
	if (by == DB_BY_NONE)
		return o;
	if (by == DB_BY_QUARTER)
		cJSON_AddStringToObject(o, "timezone", c->c->timezone);
	rows = cJSON_AddArrayToObject(o, "rows");
	for (i = 0; i < c->nrows; i++) {
		const srow *s = &c->rows[i];
		cJSON *r = cJSON_CreateObject();

		if (by == DB_BY_STEP || by == DB_BY_VARIANT)
			cJSON_AddNumberToObject(r, "step", s->step);
		if (by != DB_BY_STEP)
			cJSON_AddStringToObject(r, by_names[by], s->name);
		cJSON_AddItemToArray(rows, figs_json(r, &s->f));
	}
	return o;
}

static void figs_text(cli_ctx *ctx, const db_stats_row *r)
{
	size_t i;

	for (i = 0; i < NFIGS; i++)
		fprintf(ctx->out, " %*lld", (int)strlen(figs[i].head),
		        fig(r, i));
	fputc('\n', ctx->out);
}

static void figs_head(cli_ctx *ctx, const char *first, int width)
{
	size_t i;

	fprintf(ctx->out, "%-*s", width, first);
	for (i = 0; i < NFIGS; i++)
		fprintf(ctx->out, " %s", figs[i].head);
	fputc('\n', ctx->out);
}

/* "NAME stopped: 2 contact replied, 1 suppressed" (nothing when none). */
static void stops_text(cli_ctx *ctx, const char *name, int width,
                       const cJSON *stops)
{
	const cJSON *s;

	if (stops->child == NULL)
		return;
	fprintf(ctx->out, "%-*s stopped:", width, name);
	for (s = stops->child; s; s = s->next)
		fprintf(ctx->out, "%s %.0f %s", s == stops->child ? "" : ",",
		        s->valuedouble, s->string);
	fputc('\n', ctx->out);
}

static void camp_text(cli_ctx *ctx, const camp_stats *c, db_stats_by by,
                      const cJSON *stops)
{
	size_t i;

	if (by == DB_BY_NONE)
		fprintf(ctx->out, "%-24s", c->c->name);
	else {
		fprintf(ctx->out, "\n%s (%s)", c->c->name,
		        db_campaign_status_name(c->c->status));
		if (by == DB_BY_QUARTER)
			fprintf(ctx->out, ", days in %s", c->c->timezone);
		fputc('\n', ctx->out);
		figs_head(ctx,
		          by == DB_BY_QUARTER ? "  DAY"
		          : by == DB_BY_INBOX ? "  INBOX"
		          : by == DB_BY_STEP  ? "  STEP"
		                              : "  STEP VARIANT",
		          24);
		for (i = 0; i < c->nrows; i++) {
			const srow *r = &c->rows[i];
			char name[64];

			if (by == DB_BY_STEP)
				snprintf(name, sizeof name, "  %d", r->step);
			else if (by == DB_BY_VARIANT)
				snprintf(name, sizeof name, "  %-4d %s",
				         r->step, r->name);
			else
				snprintf(name, sizeof name, "  %s", r->name);
			fprintf(ctx->out, "%-24s", name);
			figs_text(ctx, &r->f);
		}
		fprintf(ctx->out, "%-24s", "  total");
	}
	figs_text(ctx, &c->total);
	if (by != DB_BY_NONE)
		stops_text(ctx, " ", 1, stops);
}

static int parse_by(const char *s, db_stats_by *out)
{
	size_t i;

	*out = DB_BY_NONE;
	if (s == NULL)
		return 0;
	for (i = 1; i < sizeof by_names / sizeof by_names[0]; i++)
		if (strcmp(s, by_names[i]) == 0) {
			*out = (db_stats_by)i;
			return 0;
		}
	return -1;
}

static int run_stats(cli_ctx *ctx, const cli_args *a)
{
	const char *by_s = cli_opt_value(a, "by");
	db_campaign *cps = NULL, one;
	size_t ncp = 0, i;
	stats_run r;
	cs_err err = CS_ERR_INIT;
	cJSON **stops = NULL, *doc = NULL, *arr = NULL;
	int rc = CLI_EXIT_FAIL;

	memset(&r, 0, sizeof r);
	r.err = &err;
	if (parse_by(by_s, &r.by) != 0) {
		cli_error("stats: --by: \"%s\" is not one of day, inbox, step, "
		          "variant",
		          by_s);
		return CLI_EXIT_USAGE;
	}
	if (a->npos == 1) {
		if (db_campaign_get(ctx->db, a->pos[0], &one, &err) != 0) {
			cli_error("stats: %s", err.msg);
			return CLI_EXIT_FAIL;
		}
		cps = cs_xmalloc(sizeof *cps);
		cps[0] = one;
		ncp = 1;
	} else if (db_campaign_list(ctx->db, &cps, &ncp, &err) != 0)
		goto fail;
	r.cs = cs_xcalloc(ncp ? ncp : 1, sizeof *r.cs);
	r.ncs = ncp;
	stops = cs_xcalloc(ncp ? ncp : 1, sizeof(cJSON *));
	for (i = 0; i < ncp; i++) {
		r.cs[i].c = &cps[i];
		stops[i] = cJSON_CreateObject();
		if (db_campaign_stops(ctx->db, cps[i].id, stop_reason, stops[i],
		                      &err) != 0)
			goto fail;
	}
	if (db_campaign_stats(ctx->db, a->npos ? cps[0].id : 0, DB_BY_NONE,
	                      total_row, &r, &err) != 0 ||
	    (r.by != DB_BY_NONE &&
	     db_campaign_stats(ctx->db, a->npos ? cps[0].id : 0, r.by,
	                       split_row, &r, &err) != 0))
		goto fail;
	if (ctx->args->json) {
		doc = cJSON_CreateObject();
		cli_json_str(doc, "by", by_names[r.by]);
		arr = cJSON_AddArrayToObject(doc, "campaigns");
		for (i = 0; i < ncp; i++) {
			cJSON_AddItemToArray(
			    arr, camp_json(&r.cs[i], r.by, stops[i]));
			stops[i] = NULL;
		}
		cli_print_json(ctx, doc);
	} else if (ncp == 0)
		fprintf(ctx->out, "no campaigns (create one with 'coldseq "
		                  "campaign create FILE.yaml')\n");
	else {
		if (r.by == DB_BY_NONE)
			figs_head(ctx, "CAMPAIGN", 24);
		for (i = 0; i < ncp; i++)
			camp_text(ctx, &r.cs[i], r.by, stops[i]);
		if (r.by == DB_BY_NONE)
			for (i = 0; i < ncp; i++)
				stops_text(ctx, cps[i].name, 24, stops[i]);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("stats: %s", err.msg);
out:
	for (i = 0; i < r.ncs; i++) {
		size_t j;

		for (j = 0; j < r.cs[i].nrows; j++)
			free(r.cs[i].rows[j].name);
		free(r.cs[i].rows);
	}
	for (i = 0; stops && i < ncp; i++)
		cJSON_Delete(stops[i]);
	free(stops);
	free(r.cs);
	db_campaign_list_free(cps, ncp);
	return rc;
}

static const cli_opt stats_opts[] = {
    {"by", 0, "SPLIT", false,
     "day (in the campaign's time zone), inbox, step or variant"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_stats[] = {
    {NULL, "stats", "[CAMPAIGN]", "what campaigns' messages led to",
     "Per campaign (or the one named): messages sent, and messages that\n"
     "got a reply, a hard bounce, a soft bounce, a complaint, an\n"
     "unsubscribe, an auto-reply (each message counted once per kind),\n"
     "and the stopped contacts by reason.  Warmup never counts.  --by\n"
     "splits the figures by day (when the message was sent, in the\n"
     "campaign's time zone), by inbox, by step or by variant (template).\n"
     "\n"
     "--json prints {\"by\": null|\"day\"|..., \"campaigns\": [{name, "
     "status,\nsent, replied, bounced_hard, bounced_soft, complaints, "
     "unsubscribed,\nauto_replies, stopped: {REASON: N}, rows: [{day|"
     "inbox|step[, variant],\nsent, ...}] (with --by)}]}.\n\n"
     "Example:\n  coldseq stats q1-founders --by variant",
     0, 1, CLI_NEEDS_DB, stats_opts, run_stats},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
