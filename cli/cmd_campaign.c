/*
 * cmd_campaign.c - `coldseq campaign create|list|show|start|pause|resume|
 * enroll|delete|edit`: a campaign's life cycle.
 *
 * create and edit check the whole YAML file against the database and
 * store nothing unless every line is good.  preview and explain, which
 * only read, are in cmd_campaign_explain.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

static const char *const day_names[] = {"sun", "mon", "tue", "wed",
                                        "thu", "fri", "sat"};

static void window_text(const db_campaign *c, cs_buf *out)
{
	int w;

	for (w = 1; w <= 7; w++)
		if (c->window_days & (1 << (w % 7))) {
			if (out->len)
				cs_buf_putc(out, ',');
			cs_buf_puts(out, day_names[w % 7]);
		}
	cs_buf_printf(out, " %02d:%02d-%02d:%02d", c->window_from / 60,
	              c->window_from % 60, c->window_to / 60,
	              c->window_to % 60);
}

static void step_text(const db_step *s, cs_buf *out)
{
	size_t j;

	for (j = 0; j < s->nvariants; j++)
		cs_buf_printf(out, "%s%s", j ? "|" : "",
		              s->variants[j].template_name);
	if (s->step > 1)
		cs_buf_printf(out, " after %d %s", s->delay_amount,
		              strcmp(s->delay_unit, "business_days") == 0
		                  ? "business days"
		                  : s->delay_unit);
	if (s->new_thread)
		cs_buf_puts(out, " (new thread)");
}

static cJSON *campaign_json(const db_campaign *c, const db_enroll_counts *n)
{
	cJSON *o = cJSON_CreateObject(), *steps, *cnt;
	cs_buf w = CS_BUF_INIT;
	size_t i, j;

	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "status",
	                        db_campaign_status_name(c->status));
	if (c->list)
		cJSON_AddStringToObject(o, "list", c->list);
	else
		cJSON_AddNullToObject(o, "list");
	cJSON_AddStringToObject(o, "inboxes", c->inboxes);
	cJSON_AddStringToObject(o, "timezone", c->timezone);
	window_text(c, &w);
	cJSON_AddStringToObject(o, "window", w.data);
	cs_buf_free(&w);
	cJSON_AddBoolToObject(o, "send_in_contact_timezone", c->contact_tz);
	cJSON_AddNumberToObject(o, "new_contacts_per_day", c->new_per_day);
	cJSON_AddBoolToObject(o, "esp_match", c->esp_match);
	cJSON_AddBoolToObject(o, "stop_on_auto_reply", c->stop_on_auto_reply);
	cJSON_AddBoolToObject(o, "stop_company_on_reply", c->stop_company);
	cJSON_AddBoolToObject(o, "allow_parallel", c->allow_parallel);
	steps = cJSON_AddArrayToObject(o, "steps");
	for (i = 0; i < c->nsteps; i++) {
		const db_step *s = &c->steps[i];
		cJSON *so = cJSON_CreateObject(), *vs;

		cJSON_AddNumberToObject(so, "step", s->step);
		vs = cJSON_AddArrayToObject(so, "templates");
		for (j = 0; j < s->nvariants; j++) {
			cJSON *vo = cJSON_CreateObject();

			cJSON_AddStringToObject(vo, "template",
			                        s->variants[j].template_name);
			cJSON_AddNumberToObject(
			    vo, "assigned", (double)s->variants[j].assigned);
			cJSON_AddItemToArray(vs, vo);
		}
		cJSON_AddNumberToObject(so, "delay", s->delay_amount);
		cJSON_AddStringToObject(so, "delay_unit", s->delay_unit);
		cJSON_AddBoolToObject(so, "new_thread", s->new_thread);
		cJSON_AddItemToArray(steps, so);
	}
	if (n) {
		cnt = cJSON_AddObjectToObject(o, "contacts");
		cJSON_AddNumberToObject(cnt, "active", (double)n->active);
		cJSON_AddNumberToObject(cnt, "queued", (double)n->queued);
		cJSON_AddNumberToObject(cnt, "held", (double)n->held);
		cJSON_AddNumberToObject(cnt, "completed", (double)n->completed);
		cJSON_AddNumberToObject(cnt, "stopped", (double)n->stopped);
	}
	return o;
}

/* ---- create --------------------------------------------------------- */

/* Read and check a campaign file for `campaign VERB`: 0 with *c filled;
 * else every problem, each naming file:line, is printed ("nothing was
 * <undone>") and -1.  src, errors and *c are the caller's to free. */
static int read_campaign_file(cli_ctx *ctx, const char *verb,
                              const char *undone, const char *file, cs_buf *src,
                              cs_buf *errors, db_campaign *c)
{
	cs_err err = CS_ERR_INIT;

	if (cs_read_file(file, 1 << 20, src, &err) != 0) {
		cli_error("campaign %s: %s", verb, err.msg);
		return -1;
	}
	if (seq_campaign_parse(ctx->db, file, cs_buf_str(src), src->len, c,
	                       errors, &err) != 0) {
		cli_error(
		    "campaign %s: %s has problems; nothing was %s:\n%.*s", verb,
		    file, undone,
		    (int)(errors->len && errors->data[errors->len - 1] == '\n'
		              ? errors->len - 1
		              : errors->len),
		    cs_buf_str(errors));
		return -1;
	}
	return 0;
}

static int run_create(cli_ctx *ctx, const cli_args *a)
{
	const char *file = a->pos[0];
	cs_buf src = CS_BUF_INIT, errors = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_campaign c;
	int rc = CLI_EXIT_FAIL;

	memset(&c, 0, sizeof c);
	if (read_campaign_file(ctx, "create", "stored", file, &src, &errors,
	                       &c) != 0)
		goto out;
	if (db_campaign_add(ctx->db, &c, cs_clock_now(NULL), &err) != 0) {
		cli_error("campaign create: %s", err.msg);
		goto out;
	}
	if (ctx->args->json) {
		db_campaign stored;

		if (db_campaign_get(ctx->db, c.name, &stored, &err) == 0) {
			cli_print_json(ctx, campaign_json(&stored, NULL));
			db_campaign_free(&stored);
		}
	} else
		fprintf(ctx->out,
		        "campaign %s created (%zu steps, draft): start it with "
		        "'coldseq campaign start %s'\n",
		        c.name, c.nsteps, c.name);
	rc = CLI_EXIT_OK;
out:
	db_campaign_free(&c);
	cs_buf_free(&src);
	cs_buf_free(&errors);
	return rc;
}

/* ---- list / show ---------------------------------------------------- */

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	db_campaign *v = NULL;
	size_t n = 0, i;
	cs_err err = CS_ERR_INIT;
	cJSON *arr = NULL;

	(void)a;
	if (db_campaign_list(ctx->db, &v, &n, &err) != 0) {
		cli_error("campaign list: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (ctx->args->json)
		arr = cJSON_CreateArray();
	else if (n == 0)
		fprintf(ctx->out, "no campaigns (create one with 'coldseq "
		                  "campaign create FILE.yaml')\n");
	else
		fprintf(ctx->out, "%-24s %-7s %5s %8s %6s %5s %9s %7s\n",
		        "NAME", "STATUS", "STEPS", "ACTIVE", "QUEUED", "HELD",
		        "COMPLETED", "STOPPED");
	for (i = 0; i < n; i++) {
		db_enroll_counts k;

		if (db_campaign_counts(ctx->db, v[i].id, &k, &err) != 0)
			memset(&k, 0, sizeof k);
		if (arr)
			cJSON_AddItemToArray(arr, campaign_json(&v[i], &k));
		else
			fprintf(ctx->out,
			        "%-24s %-7s %5zu %8lld %6lld %5lld %9lld "
			        "%7lld\n",
			        v[i].name, db_campaign_status_name(v[i].status),
			        v[i].nsteps, k.active, k.queued, k.held,
			        k.completed, k.stopped);
	}
	if (arr)
		cli_print_json(ctx, arr);
	db_campaign_list_free(v, n);
	return CLI_EXIT_OK;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	db_campaign c;
	db_enroll_counts k;
	cs_err err = CS_ERR_INIT;
	cs_buf w = CS_BUF_INIT;
	size_t i;

	if (db_campaign_get(ctx->db, a->pos[0], &c, &err) != 0 ||
	    db_campaign_counts(ctx->db, c.id, &k, &err) != 0) {
		cli_error("campaign show: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (ctx->args->json) {
		cli_print_json(ctx, campaign_json(&c, &k));
		db_campaign_free(&c);
		return CLI_EXIT_OK;
	}
	window_text(&c, &w);
	fprintf(ctx->out,
	        "name:      %s\nstatus:    %s\nlist:      %s\ninboxes:   "
	        "%s\ntimezone:  %s%s\nwindow:    %s\nnew/day:   %d\n",
	        c.name, db_campaign_status_name(c.status),
	        c.list ? c.list : "(none)", c.inboxes, c.timezone,
	        c.contact_tz ? " (contacts' own zones when they have one)" : "",
	        w.data, c.new_per_day);
	fprintf(ctx->out,
	        "options:   esp_match=%s stop_on_auto_reply=%s "
	        "stop_company_on_reply=%s allow_parallel=%s\n",
	        c.esp_match ? "true" : "false",
	        c.stop_on_auto_reply ? "true" : "false",
	        c.stop_company ? "true" : "false",
	        c.allow_parallel ? "true" : "false");
	for (i = 0; i < c.nsteps; i++) {
		cs_buf s = CS_BUF_INIT;

		step_text(&c.steps[i], &s);
		fprintf(ctx->out, "step %zu:    %s\n", i + 1, s.data);
		cs_buf_free(&s);
	}
	fprintf(ctx->out,
	        "contacts:  %lld active, %lld queued, %lld held, %lld "
	        "completed, %lld stopped\n",
	        k.active, k.queued, k.held, k.completed, k.stopped);
	cs_buf_free(&w);
	db_campaign_free(&c);
	return CLI_EXIT_OK;
}

/* ---- start / pause / resume / enroll ---------------------------------- */

/* warns: campaign start's "warnings" array (a cJSON array, owned from
 * here), NULL for none. */
static void enroll_report(cli_ctx *ctx, const char *name,
                          const db_enroll_result *r, cJSON *warns)
{
	if (ctx->args->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "campaign", name);
		cJSON_AddNumberToObject(o, "enrolled", (double)r->enrolled);
		cJSON_AddNumberToObject(o, "already", (double)r->already);
		cJSON_AddNumberToObject(o, "skipped_active_elsewhere",
		                        (double)r->parallel);
		cJSON_AddNumberToObject(o, "skipped_stopped",
		                        (double)r->inactive);
		cJSON_AddNumberToObject(o, "not_contacts",
		                        (double)r->not_contacts);
		if (warns)
			cJSON_AddItemToObject(o, "warnings", warns);
		cli_print_json(ctx, o);
		return;
	}
	cJSON_Delete(warns);
	fprintf(ctx->out,
	        "%s: %lld enrolled, %lld already in it, %lld skipped (active "
	        "in another campaign), %lld skipped (replied, bounced or "
	        "unsubscribed)",
	        name, r->enrolled, r->already, r->parallel, r->inactive);
	if (r->not_contacts)
		fprintf(ctx->out, ", %lld not contacts", r->not_contacts);
	fputc('\n', ctx->out);
}

static int run_start(cli_ctx *ctx, const cli_args *a)
{
	db_campaign c;
	db_enroll_result r;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);
	cJSON *warns;

	memset(&r, 0, sizeof r);
	if (db_campaign_get(ctx->db, a->pos[0], &c, &err) != 0) {
		cli_error("campaign start: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (c.status != DB_CAMPAIGN_DRAFT) {
		cli_error("campaign start: %s is already started (%s); use "
		          "'campaign pause' or 'campaign resume'",
		          c.name, db_campaign_status_name(c.status));
		db_campaign_free(&c);
		return CLI_EXIT_FAIL;
	}
	if (db_begin(ctx->db, &err) != 0 ||
	    (c.list && db_campaign_enroll(ctx->db, &c, c.list, NULL, now, &r,
	                                  &err) != 0) ||
	    db_campaign_set_status(ctx->db, c.name, DB_CAMPAIGN_ACTIVE, now,
	                           &err) != 0 ||
	    db_commit(ctx->db, &err) != 0) {
		db_rollback(ctx->db);
		cli_error("campaign start: %s", err.msg);
		db_campaign_free(&c);
		return CLI_EXIT_FAIL;
	}
	warns = ctx->args->json ? cJSON_CreateArray() : NULL;
	cli_campaign_doctor_warnings(ctx, &c, warns);
	enroll_report(ctx, c.name, &r, warns);
	db_campaign_free(&c);
	return CLI_EXIT_OK;
}

static int set_status(cli_ctx *ctx, const cli_args *a, const char *verb,
                      db_campaign_status from, db_campaign_status to)
{
	db_campaign c;
	cs_err err = CS_ERR_INIT;
	long long released = 0;
	int64_t now = cs_clock_now(NULL);

	if (db_campaign_get(ctx->db, a->pos[0], &c, &err) != 0) {
		cli_error("campaign %s: %s", verb, err.msg);
		return CLI_EXIT_FAIL;
	}
	if (c.status != from &&
	    !(strcmp(verb, "resume") == 0 && c.status == DB_CAMPAIGN_ACTIVE)) {
		cli_error("campaign %s: %s is %s, not %s", verb, c.name,
		          db_campaign_status_name(c.status),
		          db_campaign_status_name(from));
		db_campaign_free(&c);
		return CLI_EXIT_FAIL;
	}
	if (db_begin(ctx->db, &err) != 0 ||
	    db_campaign_set_status(ctx->db, c.name, to, now, &err) != 0 ||
	    (strcmp(verb, "resume") == 0 &&
	     db_campaign_release_held(ctx->db, c.id, now, &released, &err) !=
	         0) ||
	    db_commit(ctx->db, &err) != 0) {
		db_rollback(ctx->db);
		cli_error("campaign %s: %s", verb, err.msg);
		db_campaign_free(&c);
		return CLI_EXIT_FAIL;
	}
	fprintf(ctx->out, "campaign %s: %s", c.name,
	        db_campaign_status_name(to));
	if (released)
		fprintf(ctx->out, " (%lld held contacts released)", released);
	fputc('\n', ctx->out);
	db_campaign_free(&c);
	return CLI_EXIT_OK;
}

static int run_pause(cli_ctx *ctx, const cli_args *a)
{
	return set_status(ctx, a, "pause", DB_CAMPAIGN_ACTIVE,
	                  DB_CAMPAIGN_PAUSED);
}

static int run_resume(cli_ctx *ctx, const cli_args *a)
{
	return set_status(ctx, a, "resume", DB_CAMPAIGN_PAUSED,
	                  DB_CAMPAIGN_ACTIVE);
}

static int run_enroll(cli_ctx *ctx, const cli_args *a)
{
	const char *list = cli_opt_value(a, "list");
	db_campaign c;
	db_enroll_result r;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);
	int i, n, rc = CLI_EXIT_OK;
	size_t k;

	for (k = 0; a->cmd->opts[k].name; k++)
		if (strcmp(a->cmd->opts[k].name, "contact") == 0)
			break;
	n = a->count[k];
	if ((list == NULL) == (n == 0)) {
		cli_error("campaign enroll: give --list NAME or --contact "
		          "EMAIL (one or more), not both");
		return CLI_EXIT_USAGE;
	}
	memset(&r, 0, sizeof r);
	if (db_campaign_get(ctx->db, a->pos[0], &c, &err) != 0) {
		cli_error("campaign enroll: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (list) {
		bool ok = false;

		if (db_list_exists(ctx->db, list, &ok, &err) != 0 || !ok) {
			cli_error("campaign enroll: no contact list named '%s'",
			          list);
			db_campaign_free(&c);
			return CLI_EXIT_FAIL;
		}
	}
	if (db_begin(ctx->db, &err) != 0)
		goto fail;
	if (list &&
	    db_campaign_enroll(ctx->db, &c, list, NULL, now, &r, &err) != 0)
		goto fail_tx;
	for (i = 0; i < n; i++) {
		cs_buf e = CS_BUF_INIT;

		if (cs_email_normalize(a->vals[k][i], &e, &err) != 0) {
			cs_buf_free(&e);
			cli_error("campaign enroll: --contact %s: %s",
			          a->vals[k][i], err.msg);
			db_rollback(ctx->db);
			db_campaign_free(&c);
			return CLI_EXIT_USAGE;
		}
		rc = db_campaign_enroll(ctx->db, &c, NULL, e.data, now, &r,
		                        &err);
		cs_buf_free(&e);
		if (rc)
			goto fail_tx;
	}
	if (db_commit(ctx->db, &err) != 0)
		goto fail_tx;
	enroll_report(ctx, c.name, &r, NULL);
	db_campaign_free(&c);
	return r.not_contacts ? CLI_EXIT_FAIL : CLI_EXIT_OK;
fail_tx:
	db_rollback(ctx->db);
fail:
	cli_error("campaign enroll: %s", err.msg);
	db_campaign_free(&c);
	return CLI_EXIT_FAIL;
}

static int run_delete(cli_ctx *ctx, const cli_args *a)
{
	bool force = cli_opt_flag(a, "force");
	db_retire_result r;
	db_enroll_counts k;
	db_campaign c;
	cs_err err = CS_ERR_INIT;
	bool draft;
	int rc = CLI_EXIT_FAIL;

	memset(&r, 0, sizeof r);
	if (db_campaign_get(ctx->db, a->pos[0], &c, &err) != 0) {
		cli_error("campaign delete: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	draft = c.status == DB_CAMPAIGN_DRAFT;
	if (c.status == DB_CAMPAIGN_DELETED) {
		cli_error("campaign delete: %s is already deleted (it stays "
		          "for its history: stats, replies)",
		          c.name);
		goto out;
	}
	if (!draft && !force) {
		if (db_campaign_counts(ctx->db, c.id, &k, &err) != 0) {
			cli_error("campaign delete: %s", err.msg);
			goto out;
		}
		cli_error("campaign delete: %s has started (%s; %lld contacts "
		          "in the sequence, %lld completed, %lld stopped): "
		          "'coldseq campaign delete %s --force' stops it for "
		          "good and keeps its messages, events and stats; "
		          "nothing was changed",
		          c.name, db_campaign_status_name(c.status),
		          k.active + k.queued + k.held, k.completed, k.stopped,
		          c.name);
		goto out;
	}
	if (draft ? db_campaign_delete_draft(ctx->db, c.id, &err) != 0
	          : db_campaign_retire(ctx->db, c.id, cs_clock_now(NULL), &r,
	                               &err) != 0) {
		cli_error("campaign delete: %s", err.msg);
		goto out;
	}
	if (ctx->args->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "campaign", c.name);
		cJSON_AddBoolToObject(o, "deleted", true);
		if (r.kept_as)
			cJSON_AddStringToObject(o, "kept_as", r.kept_as);
		else
			cJSON_AddNullToObject(o, "kept_as");
		cJSON_AddNumberToObject(o, "stopped", (double)r.stopped);
		cJSON_AddNumberToObject(o, "dropped", (double)r.dropped);
		cli_print_json(ctx, o);
	} else if (draft)
		fprintf(ctx->out,
		        "campaign %s deleted (a draft: nothing kept)\n",
		        c.name);
	else
		fprintf(ctx->out,
		        "campaign %s deleted: %lld contacts stopped, %lld "
		        "waiting messages dropped; its history stays as '%s' "
		        "(stats, replies)\n",
		        c.name, r.stopped, r.dropped, r.kept_as);
	rc = CLI_EXIT_OK;
out:
	free(r.kept_as);
	db_campaign_free(&c);
	return rc;
}

static int run_edit(cli_ctx *ctx, const cli_args *a)
{
	const char *name = a->pos[0], *file = a->pos[1];
	cs_buf src = CS_BUF_INIT, errors = CS_BUF_INIT, why = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_campaign_progress_t pr;
	db_campaign old, c;
	int rc = CLI_EXIT_FAIL, keep = 0;
	bool draft = false, tx = false;

	memset(&old, 0, sizeof old);
	memset(&c, 0, sizeof c);
	memset(&pr, 0, sizeof pr);
	if (read_campaign_file(ctx, "edit", "changed", file, &src, &errors,
	                       &c) != 0)
		goto out;
	/* check and change under one write lock: the service sends no step
	 * in between */
	if (db_begin(ctx->db, &err) != 0)
		goto fail;
	tx = true;
	if (db_campaign_get(ctx->db, name, &old, &err) != 0)
		goto fail;
	if (old.status == DB_CAMPAIGN_DELETED) {
		cli_error("campaign edit: %s was deleted and cannot change",
		          old.name);
		goto out;
	}
	draft = old.status == DB_CAMPAIGN_DRAFT;
	if (!draft && db_campaign_progress(ctx->db, old.id, &pr, &err) != 0)
		goto fail;
	if (seq_campaign_edit_check(&old, &c, &pr, &keep, &why) > 0) {
		cli_error("campaign edit: %s cannot take %s%s; nothing was "
		          "changed:\n%.*s",
		          old.name, file,
		          draft ? "" : " (the campaign has started)",
		          (int)(why.len ? why.len - 1 : 0), cs_buf_str(&why));
		goto out;
	}
	if (db_campaign_replace(ctx->db, old.id, &c, keep, cs_clock_now(NULL),
	                        &err) != 0 ||
	    db_commit(ctx->db, &err) != 0)
		goto fail;
	tx = false;
	if (ctx->args->json) {
		db_campaign stored;

		if (db_campaign_get(ctx->db, old.name, &stored, &err) == 0) {
			cli_print_json(ctx, campaign_json(&stored, NULL));
			db_campaign_free(&stored);
		}
	} else if (keep > 0)
		fprintf(ctx->out,
		        "campaign %s changed (%zu steps; steps 1-%d stay as "
		        "contacts got them)\n",
		        old.name, c.nsteps, keep);
	else
		fprintf(ctx->out, "campaign %s changed (%zu steps, %s)\n",
		        old.name, c.nsteps,
		        db_campaign_status_name(old.status));
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("campaign edit: %s", err.msg);
out:
	if (tx)
		db_rollback(ctx->db);
	db_campaign_free(&old);
	db_campaign_free(&c);
	cs_buf_free(&src);
	cs_buf_free(&errors);
	cs_buf_free(&why);
	return rc;
}

static const cli_opt delete_opts[] = {
    {"force", 0, NULL, false,
     "delete a started campaign (stops it; keeps its history)"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt enroll_opts[] = {
    {"list", 0, "NAME", false, "enroll every contact of this list"},
    {"contact", 0, "EMAIL", true, "enroll this contact (repeatable)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_campaign[] = {
    {"campaign", "create", "FILE.yaml", "define a campaign from a YAML file",
     "Checks the whole file against the database (inboxes, tags, list,\n"
     "templates, time zone, window, delays) and reports every problem as\n"
     "FILE:LINE (a key given twice names both lines; indent with\n"
     "spaces, never tabs); nothing is stored unless the file is good.  The\n"
     "campaign starts as a draft and keeps the template versions\n"
     "current now.  Keys: name, list, inboxes, timezone, window {days,\n"
     "from, to}, send_in_contact_timezone (true), new_contacts_per_day\n"
     "(50), esp_match, stop_on_auto_reply, stop_company_on_reply,\n"
     "allow_parallel (false), steps [{template: NAME or [A, B], delay:\n"
     "'3 business days', new_thread}].\n\n"
     "--json prints the stored campaign (as 'campaign show --json').\n\n"
     "Example:\n  coldseq campaign create q1-founders.yaml",
     1, 1, CLI_NEEDS_DB, NULL, run_create},
    {"campaign", "list", NULL, "list campaigns and their contacts by state",
     "--json prints an array of campaign objects (as 'campaign show\n"
     "--json').\n\nExample:\n  coldseq campaign list",
     0, 0, CLI_NEEDS_DB, NULL, run_list},
    {"campaign", "show", "NAME", "show a campaign's settings and steps",
     "--json prints {name, status, list, inboxes, timezone, window,\n"
     "steps: [{step, templates: [{template, assigned}], delay,\n"
     "delay_unit, new_thread}], contacts: {active, queued, held,\n"
     "completed, stopped}, ...}.\n\n"
     "Example:\n  coldseq campaign show q1-founders",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {"campaign", "start", "NAME", "start a draft campaign (enrolls its list)",
     "Enrolls the campaign's list (contacts active in another campaign\n"
     "are skipped unless allow_parallel is set; the count is printed)\n"
     "and makes the campaign active: the service sends from then on.\n"
     "Then, for each of its inboxes, the last 'coldseq doctor' verdict\n"
     "(kept fresh by the running service): a failing inbox gets a\n"
     "warning on stderr with its failing checks and 'run coldseq doctor\n"
     "INBOX'; inboxes never checked get one line suggesting 'coldseq\n"
     "doctor'.  The start succeeds either way.\n\n"
     "--json prints what was enrolled, as 'campaign enroll --json', and\n"
     "\"warnings\": [{\"inbox\", \"doctor\": \"fail\"|\"unchecked\",\n"
     "\"failing\": [\"check.defect\"], \"checked_at\", \"message\"}].\n\n"
     "Example:\n  coldseq campaign start q1-founders",
     1, 1, CLI_NEEDS_DB, NULL, run_start},
    {"campaign", "pause", "NAME", "stop sending a campaign's steps",
     "Nothing of the campaign is sent until 'campaign resume'.\n\n"
     "Example:\n  coldseq campaign pause q1-founders",
     1, 1, CLI_NEEDS_DB, NULL, run_pause},
    {"campaign", "resume", "NAME", "resume a campaign; release held contacts",
     "Makes the campaign active again, and gives held contacts (a step\n"
     "that could not render) another try after you fixed their data.\n\n"
     "Example:\n  coldseq campaign resume q1-founders",
     1, 1, CLI_NEEDS_DB, NULL, run_resume},
    {"campaign", "enroll", "NAME", "add contacts to a campaign",
     "--list NAME enrolls a list; --contact EMAIL (repeatable) one\n"
     "contact each.  Contacts already in the campaign, stopped ones and\n"
     "(unless allow_parallel) those active in another campaign are\n"
     "skipped and counted.  --json prints {campaign, enrolled, already,\n"
     "skipped_active_elsewhere, skipped_stopped, not_contacts}.\n\n"
     "Example:\n  coldseq campaign enroll q1-founders --contact "
     "ann@example.com",
     1, 1, CLI_NEEDS_DB, enroll_opts, run_enroll},
    {"campaign", "edit", "NAME FILE.yaml", "change a campaign from a YAML file",
     "FILE.yaml is checked as by 'campaign create' (every problem as\n"
     "FILE:LINE) and must keep the campaign's name.  A draft takes the\n"
     "whole file.  A started campaign takes only what is safe mid-flight:\n"
     "window, timezone, send_in_contact_timezone, new_contacts_per_day,\n"
     "and steps no contact reached yet (templates re-read now; the step\n"
     "contacts wait for keeps its delay; steps may be added while nobody\n"
     "finished the sequence).  list, inboxes, esp_match, stop_* and\n"
     "allow_parallel, and steps already sent or queued cannot change: the\n"
     "command names each and why, and changes nothing.  A running\n"
     "service uses the change at once.  --json prints the campaign as\n"
     "'campaign show --json'.\n\n"
     "Example:\n  coldseq campaign edit q1-founders q1-founders.yaml",
     2, 2, CLI_NEEDS_DB, NULL, run_edit},
    {"campaign", "delete", "NAME",
     "delete a draft, or stop a campaign for good",
     "A draft is removed whole.  A started campaign needs --force: its\n"
     "contacts stop (reason \"campaign deleted\"), its queued, deferred and\n"
     "held messages are dropped and never sent (a running service stops\n"
     "at once; a message being sent at that moment finishes), and it\n"
     "stays, renamed \"NAME (deleted)\", for its history: messages,\n"
     "events, stats and replies still show it.  The name is free again.\n"
     "--json prints {campaign, deleted, kept_as (null for a draft),\n"
     "stopped, dropped}.\n\n"
     "Example:\n  coldseq campaign delete q1-founders --force",
     1, 1, CLI_NEEDS_DB, delete_opts, run_delete},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
