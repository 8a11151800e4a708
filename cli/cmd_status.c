/*
 * cmd_status.c - `coldseq status` (is the service running; each inbox's
 * day against its caps, pacing and health; campaigns' contacts by state;
 * what waits or is held) and `coldseq stats` (what each campaign's
 * messages led to, optionally split by day, inbox, step or variant).
 *
 * Both only read.  The caps are the scheduler's own numbers
 * (seq_inbox_day_get), so status never disagrees with what the service
 * would do.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* "2026-11-30T10:15:00.000Z", or JSON null for 0. */
static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* "2026-11-30 10:15" in zone tz (UTC when tz is unknown). */
static void local_time(const char *tz, int64_t t, char out[32])
{
	cs_civil c;

	if (cs_tz_civil(tz, t, &c, NULL) != 0 &&
	    cs_tz_civil("UTC", t, &c, NULL) != 0) {
		snprintf(out, 32, "?");
		return;
	}
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d", c.year % 10000,
	         c.month % 100, c.day % 100, c.hour % 100, c.minute % 100);
}

/* ---- status ------------------------------------------------------------ */

/* One inbox's figures for status. */
typedef struct ibox_status {
	const db_inbox *in;
	seq_inbox_day day;
	/* the hard-bounce figure bounce protection acts on (seq_bounce_get) */
	seq_bounce_figure bounce;
	/* what the running service recorded (watcher, credentials) */
	db_inbox_runtime rt;
	const char *health;
	cs_buf detail; /* after the health word: its cause, with since when */
	/* warmup (cmd_warmup.c): in warmup, sent today and the day's quota */
	bool warmup, warmup_counts;
	long long warmup_sent;
	int warmup_quota;
	cli_token_health token; /* OAuth2 inboxes */
} ibox_status;

typedef struct ibox_set {
	ibox_status *v;
	size_t n;
} ibox_set;

static void set_free(ibox_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		db_runtime_free(&set->v[i].rt);
		cs_buf_free(&set->v[i].detail);
	}
	free(set->v);
}

/* The health word and its cause (s->detail), worst first: a pause or an
 * error the user set or the service decided; an authorization withdrawn;
 * what the running service cannot get past (credentials, the watcher
 * that holds the follow-ups); bounces.  A cap reached is no fault (it
 * passes by itself): SENT/CAP shows it, --json cap_until its end. */
static void health(ibox_status *s)
{
	const db_inbox *in = s->in;
	char t[32];

	if (strcmp(in->status, "active") != 0) {
		s->health = in->status; /* paused, error */
		if (in->paused_until > 0) {
			local_time(in->timezone, in->paused_until, t);
			cs_buf_printf(&s->detail, "until %s", t);
		}
		if (in->paused_reason && *in->paused_reason)
			cs_buf_printf(&s->detail, "%s%s",
			              s->detail.len ? ": " : "",
			              in->paused_reason);
	} else if (!seq_inbox_authorized(in)) {
		s->health = in->auth_state; /* pending, auth_failed */
		cs_buf_puts(&s->detail, in->auth_reason
		                            ? in->auth_reason
		                            : "run 'coldseq inbox connect "
		                              "--pending'");
	} else if (seq_runtime_send_text(in, &s->rt, &s->detail) ||
	           (s->rt.watch_state &&
	            strcmp(s->rt.watch_state, "down") == 0 &&
	            seq_runtime_watch_text(in, &s->rt, &s->detail)))
		s->health = "failing";
	else if (seq_runtime_watch_text(in, &s->rt, &s->detail))
		s->health = "starting";
	else if (s->bounce.warn) {
		s->health = "warning";
		cs_buf_printf(&s->detail, "over %.0f%% hard bounces",
		              SEQ_BOUNCE_WARN * 100.0);
	} else
		s->health = "ok";
}

/* Every inbox's day, caps, bounces and health into set->v (caller frees
 * with set_free); pid: the running service's (0: none). */
static int inbox_status(cli_ctx *ctx, const db_inbox *ins, size_t n,
                        int64_t now, long pid, ibox_set *set, cs_err *err)
{
	db_warmup *wl = NULL;
	size_t i, k, nwl = 0;
	int rc;

	set->v = cs_xcalloc(n ? n : 1, sizeof *set->v);
	set->n = n;
	for (i = 0; i < n; i++)
		set->v[i].in = &ins[i];
	for (i = 0; i < n; i++) {
		ibox_status *s = &set->v[i];

		if ((rc = seq_inbox_day_get(ctx->db, s->in, now, &s->day,
		                            err)) != 0 ||
		    (rc = seq_bounce_get(ctx->db, s->in->id, now, &s->bounce,
		                         err)) != 0 ||
		    (rc = seq_inbox_runtime(ctx->db, s->in->id, pid, &s->rt,
		                            err)) != 0)
			return rc;
		health(s);
	}
	/* warmup's own cap beside the campaign cap */
	if ((rc = db_warmup_list(ctx->db, &wl, &nwl, err)) != 0)
		return rc;
	for (k = 0; k < nwl && rc == 0; k++)
		for (i = 0; i < n && rc == 0; i++) {
			ibox_status *s = &set->v[i];

			if (s->in->id != wl[k].inbox_id || !wl[k].enabled)
				continue;
			s->warmup = true;
			s->warmup_counts = wl[k].counts_toward_cap;
			s->warmup_quota = seq_warmup_quota(
			    wl[k].start, wl[k].step, wl[k].max,
			    seq_warmup_ramp_day(&wl[k], s->day.day));
			rc = db_message_count_day(ctx->db, s->in->id,
			                          s->day.day, "warmup",
			                          &s->warmup_sent, err);
		}
	db_warmup_list_free(wl, nwl);
	return rc;
}

static cJSON *inbox_json(const ibox_status *s)
{
	const db_inbox *in = s->in;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", in->name);
	cJSON_AddStringToObject(o, "email", in->email);
	cJSON_AddStringToObject(o, "status", in->status);
	cJSON_AddStringToObject(o, "health", s->health);
	add_str(o, "paused_reason", in->paused_reason);
	cli_json_time(o, "paused_until", in->paused_until);
	cJSON_AddStringToObject(o, "timezone", in->timezone);
	cJSON_AddStringToObject(o, "day", s->day.day);
	cJSON_AddNumberToObject(o, "sent_today", (double)s->day.campaign);
	cJSON_AddNumberToObject(o, "daily_cap", s->day.cap);
	cJSON_AddNumberToObject(o, "total_today", (double)s->day.total);
	if (s->day.hard > 0)
		cJSON_AddNumberToObject(o, "hard_cap", s->day.hard);
	else
		cJSON_AddNullToObject(o, "hard_cap");
	if (s->warmup) {
		cJSON *w = cJSON_AddObjectToObject(o, "warmup");

		cJSON_AddNumberToObject(w, "sent_today",
		                        (double)s->warmup_sent);
		cJSON_AddNumberToObject(w, "cap", s->warmup_quota);
		cJSON_AddBoolToObject(w, "counts_toward_cap", s->warmup_counts);
	} else
		cJSON_AddNullToObject(o, "warmup");
	cli_json_time(o, "next_send_at", in->next_send_at);
	/* the daily or hard cap is reached: no campaign send until then */
	cli_json_time(o, "cap_until",
	              s->day.campaign >= s->day.cap ||
	                      (s->day.hard > 0 && s->day.total >= s->day.hard)
	                  ? s->day.end
	                  : 0);
	if (s->token.oauth)
		cJSON_AddItemToObject(o, "token",
		                      cli_token_health_json(&s->token));
	else
		cJSON_AddNullToObject(o, "token");
	cJSON_AddNumberToObject(o, "campaign_sent_28d",
	                        (double)s->bounce.sends);
	cJSON_AddNumberToObject(o, "hard_bounces_28d", (double)s->bounce.hard);
	if (s->bounce.rate >= 0)
		cJSON_AddNumberToObject(o, "hard_bounce_rate_28d",
		                        s->bounce.rate);
	else
		cJSON_AddNullToObject(o, "hard_bounce_rate_28d");
	cJSON_AddNumberToObject(o, "bounce_pause_percent",
	                        (double)s->bounce.pause_percent);
	add_str(o, "health_detail", s->detail.len ? s->detail.data : NULL);
	if (s->rt.watch_state) {
		cJSON *w = cJSON_AddObjectToObject(o, "watcher");

		cJSON_AddStringToObject(w, "state", s->rt.watch_state);
		add_str(w, "error", s->rt.watch_error);
		cli_json_time(w, "since", s->rt.watch_since);
	} else
		cJSON_AddNullToObject(o, "watcher");
	if (s->rt.send_error) {
		cJSON *e = cJSON_AddObjectToObject(o, "send_error");

		cJSON_AddStringToObject(e, "error", s->rt.send_error);
		cli_json_time(e, "since", s->rt.send_since);
	} else
		cJSON_AddNullToObject(o, "send_error");
	return o;
}

static void inbox_line(cli_ctx *ctx, const ibox_status *s, int64_t now)
{
	const db_inbox *in = s->in;
	char next[32], cap[32], total[48], bounces[48], wu[48];

	snprintf(cap, sizeof cap, "%lld/%d", s->day.campaign, s->day.cap);
	if (s->day.hard > 0)
		snprintf(total, sizeof total, "%lld/%d", s->day.total,
		         s->day.hard);
	else
		snprintf(total, sizeof total, "%lld/-", s->day.total);
	if (s->warmup)
		snprintf(wu, sizeof wu, "%lld/%d%s", s->warmup_sent,
		         s->warmup_quota, s->warmup_counts ? "+cap" : "");
	else
		snprintf(wu, sizeof wu, "-");
	if (in->next_send_at <= 0 || in->next_send_at <= now)
		snprintf(next, sizeof next, "%s",
		         in->next_send_at <= 0 ? "-" : "now");
	else
		local_time(in->timezone, in->next_send_at, next);
	if (s->bounce.rate >= 0)
		snprintf(bounces, sizeof bounces, "%lld/%lld (%.1f%%)",
		         s->bounce.hard, s->bounce.sends,
		         s->bounce.rate * 100.0);
	else
		snprintf(bounces, sizeof bounces, "0/0");
	fprintf(ctx->out, "%-16s %-10s %9s %11s %11s  %-17s %-15s %s", in->name,
	        s->day.day, cap, total, wu, next, bounces, s->health);
	if (s->detail.len)
		fprintf(ctx->out, "%s%s",
		        strncmp(s->detail.data, "until ", 6) == 0 ? " " : ": ",
		        s->detail.data);
	fputc('\n', ctx->out);
}

static cJSON *counts_json(const db_enroll_counts *k)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "active", (double)k->active);
	cJSON_AddNumberToObject(o, "queued", (double)k->queued);
	cJSON_AddNumberToObject(o, "held", (double)k->held);
	cJSON_AddNumberToObject(o, "completed", (double)k->completed);
	cJSON_AddNumberToObject(o, "stopped", (double)k->stopped);
	return o;
}

static void service_text(cli_ctx *ctx, const seq_service_state *svc)
{
	if (!svc->running)
		fprintf(ctx->out, "service:  not running (start it with "
		                  "'coldseq run' or 'systemctl start "
		                  "coldseq')\n");
	else if (svc->pid > 0)
		fprintf(ctx->out, "service:  running, pid %ld\n", svc->pid);
	else
		fprintf(ctx->out, "service:  running (pid not written yet)\n");
	fprintf(ctx->out, "data:     %s\n", ctx->data_dir);
}

static int run_status(cli_ctx *ctx, const cli_args *a)
{
	seq_service_state svc;
	db_inbox *ins = NULL;
	db_campaign *cps = NULL;
	size_t nin = 0, ncp = 0, i;
	db_queue_counts q;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);
	cJSON *doc = NULL, *arr = NULL;
	ibox_set set = {NULL, 0};
	int rc = CLI_EXIT_FAIL;

	(void)a;
	if (seq_service_probe(ctx->data_dir, &svc, &err) != 0 ||
	    db_inbox_list(ctx->db, NULL, &ins, &nin, &err) != 0 ||
	    db_campaign_list(ctx->db, &cps, &ncp, &err) != 0 ||
	    db_queue_counts_get(ctx->db, &q, &err) != 0)
		goto fail;
	if (ctx->args->json) {
		cJSON *s;

		doc = cJSON_CreateObject();
		s = cJSON_AddObjectToObject(doc, "service");
		cJSON_AddBoolToObject(s, "running", svc.running);
		if (svc.running && svc.pid > 0)
			cJSON_AddNumberToObject(s, "pid", (double)svc.pid);
		else
			cJSON_AddNullToObject(s, "pid");
		arr = cJSON_AddArrayToObject(doc, "inboxes");
	} else {
		service_text(ctx, &svc);
		if (nin == 0)
			fprintf(ctx->out, "\nno inboxes (add one with 'coldseq "
			                  "inbox add')\n");
		else
			fprintf(ctx->out,
			        "\n%-16s %-10s %9s %11s %11s  %-17s %-15s "
			        "%s\n",
			        "INBOX", "DAY", "SENT/CAP", "TOTAL/HARD",
			        "WARMUP/CAP", "NEXT SEND (LOCAL)",
			        "HARD BOUNCE 28D", "HEALTH");
	}
	if (inbox_status(ctx, ins, nin, now,
	                 svc.running && svc.pid > 0 ? svc.pid : 0, &set,
	                 &err) != 0)
		goto fail;
	for (i = 0; i < nin; i++) {
		cli_token_health_get(ctx, set.v[i].in, &set.v[i].token);
		if (arr)
			cJSON_AddItemToArray(arr, inbox_json(&set.v[i]));
		else
			inbox_line(ctx, &set.v[i], now);
		if (!arr && set.v[i].token.oauth)
			fprintf(
			    ctx->out,
			    "%-16s token: refreshed %ld day(s) ago, refresh "
			    "token %ld day(s) old%s%s\n",
			    "", set.v[i].token.idle_days,
			    set.v[i].token.refresh_age_days,
			    set.v[i].token.warning[0] ? "; " : "",
			    set.v[i].token.warning);
	}
	if (doc)
		arr = cJSON_AddArrayToObject(doc, "campaigns");
	else if (ncp)
		fprintf(ctx->out, "\n%-24s %-7s %8s %6s %5s %9s %7s\n",
		        "CAMPAIGN", "STATUS", "ACTIVE", "QUEUED", "HELD",
		        "COMPLETED", "STOPPED");
	for (i = 0; i < ncp; i++) {
		db_enroll_counts k;

		if (db_campaign_counts(ctx->db, cps[i].id, &k, &err) != 0)
			goto fail;
		if (doc) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", cps[i].name);
			cJSON_AddStringToObject(o, "status", cps[i].status);
			cJSON_AddItemToObject(o, "contacts", counts_json(&k));
			cJSON_AddItemToArray(arr, o);
		} else
			fprintf(ctx->out,
			        "%-24s %-7s %8lld %6lld %5lld %9lld %7lld\n",
			        cps[i].name, cps[i].status, k.active, k.queued,
			        k.held, k.completed, k.stopped);
	}
	if (doc) {
		cJSON *o = cJSON_AddObjectToObject(doc, "outbox");

		cJSON_AddNumberToObject(o, "held", (double)q.held);
		cJSON_AddNumberToObject(o, "queued", (double)q.queued);
		cJSON_AddNumberToObject(o, "sending", (double)q.sending);
		cJSON_AddNumberToObject(doc, "enrollments_held",
		                        (double)q.enr_held);
		cli_print_json(ctx, doc);
		doc = NULL;
	} else {
		fprintf(ctx->out,
		        "\noutbox:   %lld queued, %lld sending, %lld held\n",
		        q.queued, q.sending, q.held);
		if (q.held)
			fprintf(ctx->out,
			        "          held messages may have been sent "
			        "(the result was lost); they are never resent "
			        "on their own\n");
		fprintf(ctx->out, "held steps: %lld\n", q.enr_held);
		if (q.enr_held)
			fprintf(ctx->out,
			        "          a template could not render for "
			        "these contacts; fix their data, then 'coldseq "
			        "campaign resume NAME'\n");
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("status: %s", err.msg);
out:
	cJSON_Delete(doc);
	set_free(&set);
	db_inbox_list_free(ins, nin);
	db_campaign_list_free(cps, ncp);
	return rc;
}

/* ---- stats -------------------------------------------------------------- */

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
	cJSON_AddStringToObject(o, "status", c->c->status);
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
		fprintf(ctx->out, "\n%s (%s)", c->c->name, c->c->status);
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
		add_str(doc, "by", by_names[r.by]);
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

const cli_cmd cli_cmds_status[] = {
    {NULL, "status", NULL, "is the service running; inboxes, caps, health",
     "Whether the service runs on this data directory (it holds a lock on\n"
     "DATA_DIR/coldseq.pid) and its pid; per inbox its local day, campaign\n"
     "messages sent today against the daily cap (ramp applied), all\n"
     "messages against the hard cap (the provider's limit when unset),\n"
     "warmup messages against warmup's own daily cap (the ramp), the\n"
     "next send the pacing allows, and its health with its cause: paused\n"
     "or error with the reason; auth_failed or pending (OAuth2); failing\n"
     "when the running service cannot use its settings or password to\n"
     "send, or its IMAP watcher cannot connect (its follow-ups wait), with\n"
     "since when; starting while its watcher's first sync runs; 'warning'\n"
     "when more than 2% of its campaign messages of the last 28 days\n"
     "bounced hard (sent, sending or uncertain: the figure bounce\n"
     "protection acts on); else ok; campaigns' contacts by state; the\n"
     "outbox (held: the result of a send was lost, so it may have gone)\n"
     "and held steps (a template could not render).\n\n"
     "--json prints {\"service\": {\"running\", \"pid\"}, \"inboxes\": "
     "[{name,\nemail, status, health, paused_reason, paused_until, "
     "timezone, day,\nsent_today, daily_cap, total_today, hard_cap,\n"
     "warmup: null|{sent_today, cap, counts_toward_cap}, next_send_at,\n"
     "cap_until (the cap is reached: until the next local day),\n"
     "campaign_sent_28d, hard_bounces_28d, "
     "hard_bounce_rate_28d,\nbounce_pause_percent, health_detail, watcher: "
     "null|{state, error,\nsince}, send_error: null|{error, since}}],\n"
     "\"campaigns\": [{name, status, contacts: "
     "{active, queued, held,\ncompleted, stopped}}], \"outbox\": {held, "
     "queued, sending},\n\"enrollments_held\"}; times are ISO 8601 UTC or "
     "null.\n\n"
     "Example:\n  coldseq status",
     0, 0, CLI_NEEDS_DB, NULL, run_status},
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
