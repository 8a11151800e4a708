/*
 * cmd_campaign_explain.c - `coldseq campaign preview|explain`: what the
 * scheduler would do, and why a contact's next step waits.
 *
 * Both run the scheduler's own code and change nothing: preview on a copy
 * of the database, explain on the database as it is.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

typedef struct pv {
	cli_ctx *ctx;
	cJSON *arr;
	char day[11];
	long long n, held;
} pv;

static void iso_local(int64_t t, const char *zone, char out[32])
{
	cs_civil c;

	if (cs_tz_civil(zone, t, &c, NULL) != 0) {
		cs_time_iso8601(t, out, 32);
		return;
	}
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
	         c.year % 10000, c.month % 100, c.day % 100, c.hour % 100,
	         c.minute % 100, c.second % 100, c.offset_min < 0 ? '-' : '+',
	         (abs(c.offset_min) / 60) % 100, abs(c.offset_min) % 60);
}

static int preview_row(const seq_preview_row *r, void *arg)
{
	pv *p = arg;
	char at[32];

	iso_local(r->at, r->zone, at);
	if (r->held) {
		p->held++;
		if (p->arr) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "at", at);
			cJSON_AddStringToObject(o, "contact", r->contact);
			cJSON_AddNumberToObject(o, "step", r->step);
			cJSON_AddStringToObject(o, "held", r->held);
			cJSON_AddItemToArray(p->arr, o);
			return 0;
		}
		if (p->held == 1)
			fprintf(p->ctx->out, "\nheld (fix the data, then "
			                     "'coldseq campaign resume')\n");
		fprintf(p->ctx->out, "  step %d  %s: %s\n", r->step, r->contact,
		        r->held);
		return 0;
	}
	p->n++;
	if (p->arr) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "at", at);
		cJSON_AddStringToObject(o, "inbox", r->inbox);
		cJSON_AddStringToObject(o, "contact", r->contact);
		cJSON_AddNumberToObject(o, "step", r->step);
		cJSON_AddStringToObject(o, "variant", r->variant);
		cJSON_AddItemToArray(p->arr, o);
		return 0;
	}
	if (strncmp(p->day, at, 10) != 0) {
		memcpy(p->day, at, 10);
		p->day[10] = '\0';
		fprintf(p->ctx->out, "\n%s\n", p->day);
	}
	fprintf(p->ctx->out, "  %s  %-16s step %d  %-16s %s\n", at + 11,
	        r->inbox, r->step, r->variant, r->contact);
	return 0;
}

static int run_preview(cli_ctx *ctx, const cli_args *a)
{
	const char *days_s = cli_opt_value(a, "days");
	const char *start_s = cli_opt_value(a, "start");
	cs_err err = CS_ERR_INIT;
	int64_t start = cs_clock_now(NULL);
	long days = 14;
	pv p;

	if (days_s) {
		char *end;

		errno = 0;
		days = strtol(days_s, &end, 10);
		if (*days_s == '\0' || *end || errno || days < 1 ||
		    days > 366) {
			cli_error("campaign preview: --days: \"%s\" is not a "
			          "number from 1 to 366",
			          days_s);
			return CLI_EXIT_USAGE;
		}
	}
	if (start_s && cs_time_parse_iso8601(start_s, &start, &err) != 0) {
		cli_error("campaign preview: --start: %s", err.msg);
		return CLI_EXIT_USAGE;
	}
	memset(&p, 0, sizeof p);
	p.ctx = ctx;
	if (ctx->args->json)
		p.arr = cJSON_CreateArray();
	if (seq_preview(ctx->db, ctx->vault, a->pos[0], start,
	                start + (int64_t)days * 86400000, preview_row, &p,
	                &err) != 0) {
		cJSON_Delete(p.arr);
		cli_error("campaign preview: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (p.arr)
		cli_print_json(ctx, p.arr);
	else
		fprintf(ctx->out, "\n%lld messages in %ld days%s\n", p.n, days,
		        p.held ? ", some contacts held (above)" : "");
	return CLI_EXIT_OK;
}

/* --json of `campaign explain`: its lines ("label:    text") as
 * {campaign, contact, lines: {label: text}, holds: [...], notes: [...],
 * summary, text}.  An indented line continues the one before. */
static void print_explain_json(cli_ctx *ctx, const char *campaign,
                               const char *email, const char *text)
{
	static const char *const labels[] = {"contact", "campaign", "zone",
	                                     "state",   "due",      "inbox",
	                                     "last",    NULL};
	cJSON *o = cJSON_CreateObject(), *lines = cJSON_CreateObject(),
	      *holds = cJSON_CreateArray(), *notes = cJSON_CreateArray();
	cJSON *prev = NULL;
	cs_buf summary = CS_BUF_INIT;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n'), *colon, *v;
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = cs_xstrndup(p, n), *key;
		int i;

		p += n + (nl ? 1 : 0);
		if (line[0] == ' ' && prev) { /* continuation */
			cs_buf b = CS_BUF_INIT;

			for (v = line; *v == ' '; v++)
				;
			cs_buf_printf(&b, "%s %s", cJSON_GetStringValue(prev),
			              v);
			cJSON_SetValuestring(prev, cs_buf_str(&b));
			cs_buf_free(&b);
			free(line);
			continue;
		}
		colon = strchr(line, ':');
		key = colon ? cs_xstrndup(line, (size_t)(colon - line)) : NULL;
		for (v = colon ? colon + 1 : line; *v == ' '; v++)
			;
		for (i = 0; key && labels[i] && strcmp(labels[i], key) != 0;
		     i++)
			;
		prev = NULL;
		if (key && strcmp(key, "holds") == 0) {
			prev = cJSON_CreateString(v);
			cJSON_AddItemToArray(holds, prev);
		} else if (key && strcmp(key, "note") == 0) {
			prev = cJSON_CreateString(v);
			cJSON_AddItemToArray(notes, prev);
		} else if (key && labels[i]) {
			prev = cJSON_AddStringToObject(lines, key, v);
		} else if (*line) {
			if (summary.len)
				cs_buf_putc(&summary, ' ');
			cs_buf_puts(&summary, line);
		}
		free(key);
		free(line);
	}
	cJSON_AddStringToObject(o, "campaign", campaign);
	cJSON_AddStringToObject(o, "contact", email);
	cJSON_AddItemToObject(o, "lines", lines);
	cJSON_AddItemToObject(o, "holds", holds);
	cJSON_AddItemToObject(o, "notes", notes);
	if (summary.len)
		cJSON_AddStringToObject(o, "summary", cs_buf_str(&summary));
	else
		cJSON_AddNullToObject(o, "summary");
	cJSON_AddStringToObject(o, "text", text);
	cs_buf_free(&summary);
	cli_print_json(ctx, o);
}

static int run_explain(cli_ctx *ctx, const cli_args *a)
{
	const char *contact = cli_opt_value(a, "contact");
	cs_err err = CS_ERR_INIT;
	cs_buf email = CS_BUF_INIT, out = CS_BUF_INIT;
	cs_clock *clock = cs_clock_new_real();
	seq_sched *s = NULL;
	seq_service_state svc;
	int rc = CLI_EXIT_FAIL;

	if (contact == NULL) {
		cli_error("campaign explain needs --contact EMAIL");
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	if (cs_email_normalize(contact, &email, &err) != 0) {
		cli_error("campaign explain: --contact: %s", err.msg);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (seq_service_probe(ctx->data_dir, &svc, &err) != 0 ||
	    seq_sched_open(ctx->db, ctx->vault, clock, &s, &err) != 0 ||
	    seq_sched_explain(s, a->pos[0], email.data,
	                      !svc.running  ? 0
	                      : svc.pid > 0 ? svc.pid
	                                    : -1,
	                      &out, &err) != 0) {
		cli_error("campaign explain: %s", err.msg);
		goto out;
	}
	if (a->json)
		print_explain_json(ctx, a->pos[0], email.data,
		                   cs_buf_str(&out));
	else
		fputs(cs_buf_str(&out), ctx->out);
	rc = CLI_EXIT_OK;
out:
	seq_sched_close(s);
	cs_clock_free(clock);
	cs_buf_free(&email);
	cs_buf_free(&out);
	return rc;
}

/* ---- delete / edit (issue 18) --------------------------------------- */

static const cli_opt preview_opts[] = {
    {"days", 0, "N", false, "how far ahead (default 14)"},
    {"start", 0, "ISO8601", false, "project from this instant (default now)"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt explain_opts[] = {
    {"contact", 0, "EMAIL", false, "the contact (required)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_campaign_explain[] = {
    {"campaign", "preview", "NAME", "the projected schedule, without sending",
     "Runs the scheduler on a copy of the database with a simulated\n"
     "clock (as if nobody answered) and prints what the campaign would\n"
     "send, by day.  --json prints one array of {\"at\": ISO 8601 with\n"
     "the contact's offset, \"inbox\", \"contact\", \"step\" (1-based),\n"
     "\"variant\"}.\n\n"
     "Example:\n  coldseq campaign preview q1-founders --days 7",
     1, 1, CLI_NEEDS_VAULT, preview_opts, run_preview},
    {"campaign", "explain", "NAME", "why a contact's next step waits",
     "Shows the contact's state and next step, when it is due, and what\n"
     "holds it now: the window, the inbox's cap or pacing gap, the\n"
     "domain cap, a pause, or the reason it is held; and what the running\n"
     "service sees: an inbox whose settings or password it cannot use, a\n"
     "follow-up waiting for its inbox's IMAP watcher (with since when),\n"
     "or that no service runs.\n\n"
     "--json prints {campaign, contact, lines: {contact, campaign, zone,\n"
     "state, due, inbox, last: text}, holds: [text], notes: [text],\n"
     "summary (\"nothing holds it...\" or null), text (as without "
     "--json)}.\n\n"
     "Example:\n  coldseq campaign explain q1-founders --contact "
     "ann@example.com",
     1, 1, CLI_NEEDS_VAULT, explain_opts, run_explain},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
