/*
 * cmd_domain.c - `coldseq domain resume`: end a sending domain's pause
 * or slow-down toward a receiving provider before its time
 * (sequencer/seq_domain_pause.c says when one starts; `status` and
 * `inbox show` show them).
 *
 * A domain, not an inbox: the pause holds every inbox of the domain
 * toward that provider, and `inbox resume` keeps its one meaning (an
 * inbox's own pause).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

static const cli_opt resume_opts[] = {
    {"provider", 0, "google|microsoft", false,
     "only the pause toward this provider (default: every provider)"},
    {NULL, 0, NULL, false, NULL},
};

static int run_resume(cli_ctx *ctx, const cli_args *a)
{
	const char *prov = cli_opt_value(a, "provider");
	char *dom = cs_xstrdup(a->pos[0]), *p;
	cs_err err = CS_ERR_INIT;
	long long n = 0;
	int rc = CLI_EXIT_FAIL;

	for (p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (*dom == '@')
		memmove(dom, dom + 1, strlen(dom));
	if (prov && (cs_provider_find(prov) == NULL ||
	             cs_provider_id_of(prov) == CS_PROVIDER_GENERIC)) {
		cli_error("domain resume: --provider must be google or "
		          "microsoft, not '%s'",
		          prov);
		goto out;
	}
	if (db_domain_pause_lift(ctx->db, dom, prov, cs_clock_now(NULL), &n,
	                         &err) != 0) {
		cli_error("domain resume: %s", err.msg);
		goto out;
	}
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "domain", dom);
		cli_json_str(o, "provider", prov);
		cJSON_AddNumberToObject(o, "lifted", (double)n);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		if (n)
			fprintf(ctx->out,
			        "domain %s: %lld pause(s) ended; its inboxes "
			        "send to %s again\n",
			        dom, n, prov ? prov : "every provider");
		else
			fprintf(ctx->out, "domain %s: no pause in force%s%s\n",
			        dom, prov ? " toward " : "", prov ? prov : "");
	}
	rc = CLI_EXIT_OK;
out:
	free(dom);
	return rc;
}

const cli_cmd cli_cmds_domain[] = {
    {"domain", "resume", "DOMAIN",
     "end a sending domain's pause or slow-down toward a provider",
     "When Gmail or Microsoft refuses a domain's mail for its\n"
     "authentication (5.7.26, 4.7.32, 5.7.515) the domain is paused toward\n"
     "that provider for 24 hours; for its rate (4.7.28, 4.7.500-4.7.699)\n"
     "it is slowed down for 2 hours (one message per 15 minutes).  'status'\n"
     "and 'inbox show' show them.  After fixing the domain's SPF, DKIM and\n"
     "DMARC, this ends the pause now: the messages waiting for it go.\n\n"
     "--json prints {domain, provider, lifted}.\n\n"
     "Example:\n  coldseq domain resume example.com --provider google",
     1, 1, CLI_NEEDS_DB, resume_opts, run_resume},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

/* ---- shown by status and inbox show ----------------------------------- */

static void *pause_json(const db_domain_pause *p)
{
	cJSON *o = cJSON_CreateObject();
	cs_buf r = CS_BUF_INIT;

	seq_domain_pause_text(p, &r);
	cJSON_AddStringToObject(o, "domain", p->domain);
	cJSON_AddStringToObject(o, "provider", p->provider);
	cJSON_AddStringToObject(o, "mode", db_dpause_mode_name(p->mode));
	cli_json_time(o, "until", p->until);
	cJSON_AddStringToObject(o, "code", p->code);
	cJSON_AddStringToObject(o, "reason", p->reason);
	cli_json_str(o, "inbox", p->inbox);
	cJSON_AddStringToObject(o, "remedy", cs_buf_str(&r));
	cs_buf_free(&r);
	return o;
}

static void pause_text(FILE *out, const db_domain_pause *p, const char *indent)
{
	char iso[32];
	cs_buf r = CS_BUF_INIT;

	seq_domain_pause_text(p, &r);
	cs_time_iso8601(p->until, iso, sizeof iso);
	fprintf(out, "%s%s %s toward %s until %s (inbox %s): %s %s\n%s  %s\n",
	        indent, p->domain,
	        p->mode == DB_DPAUSE_PAUSE ? "paused" : "slowed",
	        cs_provider_get(cs_provider_id_of(p->provider))->label, iso,
	        p->inbox ? p->inbox : "-", p->code, p->reason, indent,
	        cs_buf_str(&r));
	cs_buf_free(&r);
}

int cli_domain_pauses_show(cli_ctx *ctx, const char *domain, void *json_arr,
                           const char *title, const char *indent, cs_err *err)
{
	db_domain_pause *v = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = db_domain_pause_list(ctx->db, domain, cs_clock_now(NULL), &v,
	                               &n, err)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (json_arr)
			cJSON_AddItemToArray(json_arr, pause_json(&v[i]));
		else {
			if (i == 0 && title)
				fputs(title, ctx->out);
			pause_text(ctx->out, &v[i], indent);
		}
	}
	db_domain_pause_list_free(v, n);
	return 0;
}
