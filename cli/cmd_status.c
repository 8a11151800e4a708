/*
 * cmd_status.c - `coldseq status`: is the service running; each inbox's
 * day against its caps, pacing and health; campaigns' contacts by state;
 * what waits or is held.  (`coldseq stats` is in cmd_stats.c.)
 *
 * It only reads.  The caps are the scheduler's own numbers
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
	seq_limits lim;         /* the provider limits, counted now */
	/* the doctor's stored verdict (found: ever checked) */
	db_doctor_verdict doc;
	bool doc_found, doc_stale;
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
		db_doctor_verdict_free(&set->v[i].doc);
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

	if (in->status != DB_INBOX_ACTIVE) {
		s->health =
		    db_inbox_status_name(in->status); /* paused, error */
		if (in->paused_until > 0) {
			local_time(in->timezone, in->paused_until, t);
			cs_buf_printf(&s->detail, "until %s", t);
		}
		if (in->paused_reason && *in->paused_reason)
			cs_buf_printf(&s->detail, "%s%s",
			              s->detail.len ? ": " : "",
			              in->paused_reason);
	} else if (!seq_inbox_authorized(in)) {
		s->health = db_auth_state_name(
		    in->auth_state); /* pending, auth_failed */
		cs_buf_puts(&s->detail, in->auth_reason
		                            ? in->auth_reason
		                            : "run 'coldseq inbox connect "
		                              "--pending'");
	} else if (seq_runtime_send_text(in, &s->rt, &s->detail) ||
	           (s->rt.watch_state == DB_WATCH_DOWN &&
	            seq_runtime_watch_text(in, &s->rt, &s->detail)))
		s->health = "failing";
	else if (seq_runtime_watch_text(in, &s->rt, &s->detail))
		s->health = "starting";
	else if (s->bounce.warn) {
		s->health = "warning";
		cs_buf_printf(&s->detail, "over %.0f%% hard bounces",
		              SEQ_BOUNCE_WARN * 100.0);
	} else if (cli_basic_auth_warning(in)) {
		s->health = "warning";
		cs_buf_puts(&s->detail, cli_basic_auth_warning(in));
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
		                            err)) != 0 ||
		    (rc = seq_limits_get(ctx->db, s->in, now, &s->lim, err)) !=
		        0 ||
		    (rc = db_doctor_verdict_get(ctx->db, s->in->id, &s->doc,
		                                &s->doc_found, err)) != 0)
			return rc;
		s->doc_stale = s->doc_found && seq_doctor_stale(&s->doc, now);
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
			                          s->day.day, DB_PURPOSE_WARMUP,
			                          &s->warmup_sent, err);
		}
	db_warmup_list_free(wl, nwl);
	return rc;
}

void *cli_limits_json(const void *limits)
{
	const seq_limits *l = limits;
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < l->n; i++) {
		const cs_limit_kind *k = cs_limit_kind_get(l->v[i].id);
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", k->name);
		cJSON_AddNumberToObject(o, "window_s",
		                        (double)k->window_ms / 1000.0);
		cJSON_AddStringToObject(
		    o, "scope",
		    k->scope == CS_SCOPE_TENANT ? "tenant" : "mailbox");
		cJSON_AddNumberToObject(o, "used", (double)l->v[i].used);
		cJSON_AddNumberToObject(o, "max", (double)l->v[i].max);
		/* when the window frees capacity: only a full limit waits */
		cli_json_time(o, "frees_at",
		              l->v[i].used >= l->v[i].max ? l->v[i].frees_at
		                                          : 0);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void cli_limits_text(const void *limits, const char *tz, int64_t now, cs_buf *b)
{
	const seq_limits *l = limits;
	size_t i;

	for (i = 0; i < l->n; i++) {
		const cs_limit_kind *k = cs_limit_kind_get(l->v[i].id);

		cs_buf_printf(b, "%s%s %lld/%lld (%s)", i ? ", " : "", k->name,
		              l->v[i].used, l->v[i].max, k->label);
		if (l->v[i].used >= l->v[i].max && l->v[i].frees_at > now) {
			char t[32];

			local_time(tz, l->v[i].frees_at, t);
			cs_buf_printf(b, " full until %s", t);
		}
	}
}

/* The latest time a full limit frees (0: none is full). */
static int64_t limits_until(const seq_limits *l)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].used >= l->v[i].max && l->v[i].frees_at > t)
			t = l->v[i].frees_at;
	return t;
}

/* The doctor's verdict: null (never checked) or {verdict, checked_at,
 * stale, failing: ["check.defect", ...]}. */
static cJSON *doctor_json(const ibox_status *s)
{
	cJSON *o, *arr;
	const char *p;

	if (!s->doc_found)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verdict", s->doc.verdict);
	cli_json_time(o, "checked_at", s->doc.checked_at);
	cJSON_AddBoolToObject(o, "stale", s->doc_stale);
	arr = cJSON_AddArrayToObject(o, "failing");
	for (p = s->doc.failing; *p;) {
		size_t n = strcspn(p, ",");
		char *w = cs_xstrndup(p, n);

		if (n)
			cJSON_AddItemToArray(arr, cJSON_CreateString(w));
		free(w);
		p += n;
		if (*p == ',')
			p++;
	}
	return o;
}

/* The DOCTOR column: pass, warn, fail; "?" after a stale one; "-" never
 * checked. */
static void doctor_word(const ibox_status *s, char out[16])
{
	if (!s->doc_found)
		snprintf(out, 16, "-");
	else
		snprintf(out, 16, "%s%s", s->doc.verdict,
		         s->doc_stale ? "?" : "");
}

static cJSON *inbox_json(const ibox_status *s)
{
	const db_inbox *in = s->in;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", in->name);
	cJSON_AddStringToObject(o, "email", in->email);
	cJSON_AddStringToObject(o, "status", db_inbox_status_name(in->status));
	cJSON_AddStringToObject(o, "health", s->health);
	cli_json_str(o, "paused_reason", in->paused_reason);
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
	              s->day.campaign >= s->day.cap ? s->day.end
	                                            : limits_until(&s->lim));
	cJSON_AddItemToObject(o, "limits", cli_limits_json(&s->lim));
	cli_json_str(o, "tenant", in->tenant);
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
	cli_json_str(o, "health_detail", s->detail.len ? s->detail.data : NULL);
	if (s->rt.watch_state != DB_WATCH_NONE) {
		cJSON *w = cJSON_AddObjectToObject(o, "watcher");

		cJSON_AddStringToObject(w, "state",
		                        db_watch_state_name(s->rt.watch_state));
		cli_json_str(w, "error", s->rt.watch_error);
		cli_json_time(w, "since", s->rt.watch_since);
	} else
		cJSON_AddNullToObject(o, "watcher");
	if (s->rt.send_error) {
		cJSON *e = cJSON_AddObjectToObject(o, "send_error");

		cJSON_AddStringToObject(e, "error", s->rt.send_error);
		cli_json_time(e, "since", s->rt.send_since);
	} else
		cJSON_AddNullToObject(o, "send_error");
	cJSON_AddItemToObject(o, "doctor", doctor_json(s));
	return o;
}

static void inbox_line(cli_ctx *ctx, const ibox_status *s, int64_t now)
{
	const db_inbox *in = s->in;
	char next[32], cap[32], total[48], bounces[48], wu[48], doc[16];

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
	doctor_word(s, doc);
	fprintf(ctx->out, "%-16s %-10s %9s %11s %11s  %-17s %-15s %-6s %s",
	        in->name, s->day.day, cap, total, wu, next, bounces, doc,
	        s->health);
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

/* Each tenant's shared external counter: a "tenants" array in doc, or
 * lines of text (none when there is no tenant). */
static int tenants_status(cli_ctx *ctx, cJSON *doc, int64_t now, cs_err *err)
{
	db_tenant *t = NULL;
	cJSON *arr = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = db_tenant_list(ctx->db, &t, &n, err)) != 0)
		return rc;
	if (doc)
		arr = cJSON_AddArrayToObject(doc, "tenants");
	else if (n)
		fprintf(ctx->out, "\n%-24s %7s %21s  %s\n", "TENANT", "INBOXES",
		        "EXTERNAL 24H", "FREES (UTC)");
	for (i = 0; i < n && rc == 0; i++) {
		long long used = 0, max = 0;
		int64_t frees = 0;
		char when[32] = "-";

		if ((rc = cli_tenant_counter(ctx, &t[i], now, &used, &max,
		                             &frees, err)) != 0)
			break;
		if (used < max)
			frees = 0;
		if (arr) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", t[i].name);
			cJSON_AddNumberToObject(o, "inboxes",
			                        (double)t[i].inboxes);
			cJSON_AddNumberToObject(o, "external_used",
			                        (double)used);
			cJSON_AddNumberToObject(o, "external_max", (double)max);
			cli_json_time(o, "frees_at", frees);
			cJSON_AddItemToArray(arr, o);
		} else {
			char fig[48];

			if (frees)
				local_time("UTC", frees, when);
			snprintf(fig, sizeof fig, "%lld/%lld", used, max);
			fprintf(ctx->out, "%-24s %7lld %21s  %s\n", t[i].name,
			        t[i].inboxes, fig, when);
		}
	}
	db_tenant_list_free(t, n);
	return rc;
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
			        "%-6s %s\n",
			        "INBOX", "DAY", "SENT/CAP", "TOTAL/HARD",
			        "WARMUP/CAP", "NEXT SEND (LOCAL)",
			        "HARD BOUNCE 28D", "DOCTOR", "HEALTH");
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
		if (!arr && set.v[i].lim.n) {
			cs_buf b = CS_BUF_INIT;

			cli_limits_text(&set.v[i].lim, set.v[i].in->timezone,
			                now, &b);
			fprintf(ctx->out, "%-16s limits: %s\n", "", b.data);
			cs_buf_free(&b);
		}
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
	/* sending domains paused or slowed toward a receiving provider */
	if (cli_domain_pauses_show(
	        ctx, NULL,
	        doc ? cJSON_AddArrayToObject(doc, "domain_pauses") : NULL,
	        "\ndomain pauses:\n", "  ", &err) != 0 ||
	    tenants_status(ctx, doc, now, &err) != 0)
		goto fail;
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
			cJSON_AddStringToObject(
			    o, "status",
			    db_campaign_status_name(cps[i].status));
			cJSON_AddItemToObject(o, "contacts", counts_json(&k));
			cJSON_AddItemToArray(arr, o);
		} else
			fprintf(
			    ctx->out,
			    "%-24s %-7s %8lld %6lld %5lld %9lld %7lld\n",
			    cps[i].name, db_campaign_status_name(cps[i].status),
			    k.active, k.queued, k.held, k.completed, k.stopped);
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

const cli_cmd cli_cmds_status[] = {
    {NULL, "status", NULL, "is the service running; inboxes, caps, health",
     "Whether the service runs on this data directory (it holds a lock on\n"
     "DATA_DIR/coldseq.pid) and its pid; per inbox its local day, campaign\n"
     "messages sent today against the daily cap (ramp applied), all\n"
     "messages against the hard cap (the messages_24h limit in force),\n"
     "each provider limit in force (a rolling window: used/max, and when\n"
     "a full one frees capacity), each tenant's shared external counter,\n"
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
     "and held steps (a template could not render); sending domains\n"
     "paused or slowed toward a provider after its refusals came back as\n"
     "bounces (Gmail 5.7.26, Microsoft 5.7.515, ...), with the code, the\n"
     "provider's words, until when and the remedy ('coldseq domain\n"
     "resume' ends one early).  DOCTOR: the inbox's last 'coldseq\n"
     "doctor' verdict (pass, warn or fail; with '?' when older than 48\n"
     "hours; '-' never checked), which the running service refreshes\n"
     "every doctor.refresh (config; a day by default).\n\n"
     "--json prints {\"service\": {\"running\", \"pid\"}, \"inboxes\": "
     "[{name,\nemail, status, health, paused_reason, paused_until, "
     "timezone, day,\nsent_today, daily_cap, total_today, hard_cap,\n"
     "warmup: null|{sent_today, cap, counts_toward_cap}, next_send_at,\n"
     "cap_until (the cap is reached: until the next local day; a\n"
     "provider limit is full: until it frees), limits: [{name, window_s,\n"
     "scope, used, max, frees_at}], tenant,\n"
     "campaign_sent_28d, hard_bounces_28d, "
     "hard_bounce_rate_28d,\nbounce_pause_percent, health_detail, watcher: "
     "null|{state, error,\nsince}, send_error: null|{error, since},\n"
     "doctor: null|{verdict, checked_at, stale, failing: "
     "[\"check.defect\"]}}],\n"
     "\"tenants\": [{name, inboxes, external_used, external_max,\n"
     "frees_at}], \"campaigns\": [{name, status, contacts: "
     "{active, queued, held,\ncompleted, stopped}}], \"domain_pauses\": "
     "[{domain, provider, mode\n(pause|slow), until, code, reason, inbox, "
     "remedy}], \"outbox\": {held, "
     "queued, sending},\n\"enrollments_held\"}; times are ISO 8601 UTC or "
     "null.\n\n"
     "Example:\n  coldseq status",
     0, 0, CLI_NEEDS_DB, NULL, run_status},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
