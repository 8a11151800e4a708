/*
 * cmd_warmup.c - `coldseq warmup enable|disable|status`.
 *
 * enable and disable store settings (a running service picks them up
 * through the nudge every data-changing command sends); status reads
 * today's figures per inbox and the 7-day health the service acts on.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

#define DAY_MS 86400000LL

static int int_opt(const cli_args *a, const char *name, int def, int min,
                   int max, int *out)
{
	const char *v = cli_opt_value(a, name);
	char *end = NULL;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < min || n > max) {
		cli_error("warmup enable: --%s wants a number from %d to %d, "
		          "not '%s'",
		          name, min, max, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int run_enable(cli_ctx *ctx, const cli_args *a)
{
	db_inbox in;
	db_warmup w;
	cs_err err = CS_ERR_INIT;

	memset(&w, 0, sizeof w);
	if (int_opt(a, "start", 2, 1, 10000, &w.start) ||
	    int_opt(a, "step", 2, 0, 10000, &w.step) ||
	    int_opt(a, "max", 40, 1, 10000, &w.max) ||
	    int_opt(a, "reply-rate", 30, 0, 100, &w.reply_rate))
		return CLI_EXIT_USAGE;
	if (w.start > w.max) {
		cli_error("warmup enable: --start %d is above --max %d",
		          w.start, w.max);
		return CLI_EXIT_USAGE;
	}
	w.weekdays_only = cli_opt_flag(a, "weekdays-only");
	w.counts_toward_cap = cli_opt_flag(a, "counts-toward-cap");
	if (db_inbox_get(ctx->db, a->pos[0], &in, &err) != 0) {
		cli_error("warmup enable: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	w.inbox_id = in.id;
	db_inbox_free(&in);
	if (db_warmup_enable(ctx->db, &w, cs_clock_now(NULL), &err) != 0) {
		cli_error("warmup enable: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (!a->quiet)
		fprintf(ctx->out,
		        "warmup enabled for %s: %d/day +%d/day up to %d, "
		        "replies %d%%%s%s\n",
		        a->pos[0], w.start, w.step, w.max, w.reply_rate,
		        w.weekdays_only ? ", weekdays only" : "",
		        w.counts_toward_cap ? ", counts toward the campaign cap"
		                            : "");
	return CLI_EXIT_OK;
}

static int run_disable(cli_ctx *ctx, const cli_args *a)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	bool found = false;

	if (db_inbox_get(ctx->db, a->pos[0], &in, &err) != 0) {
		cli_error("warmup disable: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (db_warmup_disable(ctx->db, in.id, cs_clock_now(NULL), &found,
	                      &err) != 0) {
		db_inbox_free(&in);
		cli_error("warmup disable: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	db_inbox_free(&in);
	if (!a->quiet)
		fprintf(ctx->out, "warmup %s for %s\n",
		        found ? "disabled" : "was not enabled", a->pos[0]);
	return CLI_EXIT_OK;
}

static int run_status(cli_ctx *ctx, const cli_args *a)
{
	db_warmup *l = NULL;
	size_t n = 0, i;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);
	long long threshold = 80;
	cJSON *doc = NULL, *arr = NULL;
	int rc = CLI_EXIT_OK;

	if (db_warmup_list(ctx->db, &l, &n, &err) != 0 ||
	    db_config_get_int(ctx->db, "warmup.health_threshold", &threshold,
	                      &err) != 0) {
		cli_error("warmup status: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		doc = cJSON_CreateObject();
		cJSON_AddNumberToObject(doc, "health_threshold",
		                        (double)threshold);
		arr = cJSON_AddArrayToObject(doc, "inboxes");
	} else if (n == 0)
		fprintf(ctx->out, "no inbox is in warmup ('coldseq warmup "
		                  "enable NAME')\n");
	else
		fprintf(ctx->out,
		        "%-16s %-8s %-10s %5s %7s %4s %8s %7s %7s "
		        "%7s\n",
		        "INBOX", "WARMUP", "DAY", "QUOTA", "PLANNED", "SENT",
		        "RECEIVED", "RESCUED", "REPLIES", "HEALTH");
	for (i = 0; i < n && rc == CLI_EXIT_OK; i++) {
		const db_warmup *w = &l[i];
		db_warmup_figures f;
		long long seen = 0, good = 0, rday;
		char day[11];
		cs_civil c;
		int64_t start = 0, end = 0;
		int quota;
		char health[16];

		if (cs_tz_day(w->timezone, now, day, &err) != 0 ||
		    cs_tz_civil(w->timezone, now, &c, &err) != 0 ||
		    cs_tz_make(w->timezone, c.year, c.month, c.day, 0, 0,
		               &start, &err) != 0 ||
		    cs_tz_make(w->timezone, c.year, c.month, c.day + 1, 0, 0,
		               &end, &err) != 0 ||
		    db_warmup_day_stats(ctx->db, w->inbox_id, day, start, end,
		                        &f, &err) != 0 ||
		    db_warmup_health(ctx->db, w->inbox_id, now - 7 * DAY_MS,
		                     &seen, &good, &err) != 0) {
			cli_error("warmup status: %s", err.msg);
			rc = CLI_EXIT_FAIL;
			break;
		}
		rday = seq_warmup_ramp_day(w, day);
		quota = seq_warmup_quota(w->start, w->step, w->max, rday);
		if (seen)
			snprintf(health, sizeof health, "%lld%%",
			         good * 100 / seen);
		else
			snprintf(health, sizeof health, "-");
		if (a->json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", w->inbox);
			cJSON_AddBoolToObject(o, "enabled", w->enabled);
			cJSON_AddNumberToObject(o, "start", w->start);
			cJSON_AddNumberToObject(o, "step", w->step);
			cJSON_AddNumberToObject(o, "max", w->max);
			cJSON_AddNumberToObject(o, "reply_rate", w->reply_rate);
			cJSON_AddBoolToObject(o, "weekdays_only",
			                      w->weekdays_only);
			cJSON_AddBoolToObject(o, "counts_toward_cap",
			                      w->counts_toward_cap);
			if (w->first_day[0])
				cJSON_AddStringToObject(o, "first_day",
				                        w->first_day);
			else
				cJSON_AddNullToObject(o, "first_day");
			cJSON_AddStringToObject(o, "day", day);
			cJSON_AddNumberToObject(o, "ramp_day", (double)rday);
			cJSON_AddNumberToObject(o, "quota", quota);
			cJSON_AddNumberToObject(o, "planned",
			                        (double)f.planned);
			cJSON_AddNumberToObject(o, "sent", (double)f.sent);
			cJSON_AddNumberToObject(o, "received",
			                        (double)f.received);
			cJSON_AddNumberToObject(o, "rescued",
			                        (double)f.rescued);
			cJSON_AddNumberToObject(o, "replies",
			                        (double)f.replies);
			cJSON_AddNumberToObject(o, "health_seen_7d",
			                        (double)seen);
			cJSON_AddNumberToObject(o, "health_inbox_7d",
			                        (double)good);
			if (seen)
				cJSON_AddNumberToObject(o, "health_7d",
				                        (double)good * 100.0 /
				                            (double)seen);
			else
				cJSON_AddNullToObject(o, "health_7d");
			cJSON_AddStringToObject(
			    o, "inbox_status", db_inbox_status_name(w->status));
			if (w->paused_reason)
				cJSON_AddStringToObject(o, "paused_reason",
				                        w->paused_reason);
			else
				cJSON_AddNullToObject(o, "paused_reason");
			cJSON_AddItemToArray(arr, o);
		} else
			fprintf(ctx->out,
			        "%-16s %-8s %-10s %5d %7lld %4lld %8lld %7lld "
			        "%7lld %7s\n",
			        w->inbox, w->enabled ? "on" : "off", day, quota,
			        f.planned, f.sent, f.received, f.rescued,
			        f.replies, health);
	}
	if (doc && rc == CLI_EXIT_OK)
		cli_print_json(ctx, doc);
	else
		cJSON_Delete(doc);
	db_warmup_list_free(l, n);
	return rc;
}

static const cli_opt enable_opts[] = {
    {"start", 0, "N", false, "warmup messages on day 1 (2)"},
    {"step", 0, "N", false, "more each day (2)"},
    {"max", 0, "N", false, "at most this many a day (40)"},
    {"reply-rate", 0, "P", false, "percent of received warmup answered (30)"},
    {"weekdays-only", 0, NULL, false, "no warmup on Saturday and Sunday"},
    {"counts-toward-cap", 0, NULL, false,
     "warmup counts toward the campaign daily cap"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_warmup[] = {
    {"warmup", "enable", "NAME", "put an inbox in warmup (or change it)",
     "The service sends the inbox's daily quota (start + step per day, up\n"
     "to max; day 1 is the first day it sent warmup) to the other inboxes\n"
     "in warmup at jittered times between 08:00 and 18:00 in its zone,\n"
     "and on the receiving side reads warmup mail, moves it out of Junk,\n"
     "answers reply-rate percent of it 10-120 minutes later and archives\n"
     "it.  Replies count toward the same quota.  Warmup has its own quota\n"
     "and counts toward the inbox's provider limits; toward the campaign\n"
     "cap only with --counts-toward-cap.  When less than config\n"
     "warmup.health_threshold percent of an inbox's warmup mail reaches\n"
     "the INBOX (7 days), its campaigns pause until it is back above.\n\n"
     "Example:\n  coldseq warmup enable sales1 --max 30 --reply-rate 40",
     1, 1, CLI_NEEDS_DB, enable_opts, run_enable},
    {"warmup", "disable", "NAME", "take an inbox out of warmup",
     "Planned warmup sends not yet handed over are dropped; the ramp\n"
     "position is kept for a later enable.\n\n"
     "Example:\n  coldseq warmup disable sales1",
     1, 1, CLI_NEEDS_DB, NULL, run_disable},
    {"warmup", "status", NULL, "warmup figures per inbox, health",
     "Per inbox: today's quota, planned and sent warmup messages (new and\n"
     "replies), warmup received, rescued from Junk and replies sent, and\n"
     "the health: the share of its warmup messages of 7 days the\n"
     "receivers found in INBOX rather than Junk.\n\n"
     "--json prints {health_threshold, inboxes: [{name, enabled, start,\n"
     "step, max, reply_rate, weekdays_only, counts_toward_cap, first_day,\n"
     "day, ramp_day, quota, planned, sent, received, rescued, replies,\n"
     "health_seen_7d, health_inbox_7d, health_7d, inbox_status,\n"
     "paused_reason}]}.\n\n"
     "Example:\n  coldseq warmup status",
     0, 0, CLI_NEEDS_DB, NULL, run_status},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
