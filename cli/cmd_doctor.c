/*
 * cmd_doctor.c - `coldseq doctor [INBOX...|--all|--domain D]`: is each
 * sending domain and inbox set up so that receivers accept its mail?
 * The checks are doctor/'s (dr_run); here the choice of inboxes, the
 * text and JSON output, the verdicts stored for `status`, and the exit
 * status (0 nothing fails, 1 something fails, 2 usage).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "doctor/doctor.h"
#include "sequencer/seq.h"

static const cli_opt doctor_opts[] = {
    {"all", 0, NULL, false, "every inbox (the default)"},
    {"domain", 0, "DOMAIN", false, "the inboxes whose address is at DOMAIN"},
    {"parent-watch", 0, "PID", false,
     "end when process PID, its parent, ends (the service's daily check)"},
    {NULL, 0, NULL, false, NULL},
};

static cJSON *checks_json(const dr_list *l)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < l->n; i++) {
		const dr_check *c = &l->v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "check", c->check);
		cJSON_AddStringToObject(o, "status", dr_status_name(c->status));
		cJSON_AddStringToObject(o, "defect", c->defect);
		cJSON_AddStringToObject(o, "subject", c->subject);
		cli_json_str(o, "found", c->found);
		cJSON_AddStringToObject(o, "why", c->why);
		cli_json_str(o, "fix", c->fix);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void print_json(cli_ctx *ctx, const dr_report *rep)
{
	cJSON *doc = cJSON_CreateObject(), *doms = cJSON_CreateArray(),
	      *ins = cJSON_CreateArray();
	size_t i, j;

	cJSON_AddStringToObject(doc, "verdict", dr_status_name(rep->verdict));
	for (i = 0; i < rep->ndomains; i++) {
		const dr_domain_report *d = &rep->domains[i];
		cJSON *o = cJSON_CreateObject(), *emails = cJSON_CreateArray();

		cJSON_AddStringToObject(o, "domain", d->domain);
		cJSON_AddStringToObject(o, "verdict",
		                        dr_status_name(d->verdict));
		for (j = 0; j < d->ninboxes; j++)
			cJSON_AddItemToArray(emails,
			                     cJSON_CreateString(d->inboxes[j]));
		cJSON_AddItemToObject(o, "inboxes", emails);
		cJSON_AddNumberToObject(o, "daily_capacity",
		                        (double)d->daily_capacity);
		cJSON_AddItemToObject(o, "checks", checks_json(&d->checks));
		cJSON_AddItemToArray(doms, o);
	}
	for (i = 0; i < rep->ninboxes; i++) {
		const dr_inbox_report *in = &rep->inboxes[i];
		cJSON *o = cJSON_CreateObject();
		char *failing = dr_report_failing(rep, in);

		cJSON_AddStringToObject(o, "inbox", in->name);
		cJSON_AddStringToObject(o, "email", in->email);
		cJSON_AddStringToObject(o, "domain", in->domain);
		cJSON_AddStringToObject(o, "provider",
		                        cs_provider_get(in->provider)->name);
		cJSON_AddStringToObject(o, "verdict",
		                        dr_status_name(in->verdict));
		cJSON_AddStringToObject(o, "failing", failing);
		cJSON_AddItemToObject(o, "checks", checks_json(&in->checks));
		cJSON_AddItemToArray(ins, o);
		free(failing);
	}
	cJSON_AddItemToObject(doc, "domains", doms);
	cJSON_AddItemToObject(doc, "inboxes", ins);
	cli_print_json(ctx, doc);
}

static const char *word(dr_status s)
{
	return s == DR_PASS ? "PASS" : s == DR_WARN ? "WARN" : "FAIL";
}

static void print_checks(FILE *out, const dr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const dr_check *c = &l->v[i];

		fprintf(out, "  %s %-9s %s%s%s%s\n", word(c->status), c->check,
		        c->subject, c->defect[0] ? " [" : "", c->defect,
		        c->defect[0] ? "]" : "");
		if (c->found)
			fprintf(out, "       found: %s\n", c->found);
		if (c->status != DR_PASS || c->found == NULL)
			fprintf(out, "       why:   %s\n", c->why);
		if (c->fix)
			fprintf(out, "       fix:   %s\n", c->fix);
	}
}

static void print_text(cli_ctx *ctx, const dr_report *rep)
{
	FILE *out = ctx->out;
	size_t i;

	for (i = 0; i < rep->ndomains; i++) {
		const dr_domain_report *d = &rep->domains[i];

		fprintf(out,
		        "domain %s: %s (%zu inbox%s checked; the domain's "
		        "inboxes may send %lld a day)\n",
		        d->domain, word(d->verdict), d->ninboxes,
		        d->ninboxes == 1 ? "" : "es", d->daily_capacity);
		print_checks(out, &d->checks);
		fputc('\n', out);
	}
	for (i = 0; i < rep->ninboxes; i++) {
		const dr_inbox_report *in = &rep->inboxes[i];

		fprintf(out, "inbox %s (%s, %s): %s%s\n", in->name, in->email,
		        cs_provider_get(in->provider)->name, word(in->verdict),
		        in->verdict != dr_list_worst(&in->checks)
		            ? " (its domain's checks)"
		            : "");
		print_checks(out, &in->checks);
		fputc('\n', out);
	}
	fprintf(out, "verdict: %s\n", word(rep->verdict));
}

/* --parent-watch PID: the kernel kills this process when its parent
 * ends (the service that started it, even by kill -9); a parent already
 * gone (getppid is not PID any more) is an error. */
static int watch_parent(const char *pid)
{
	char *end;
	long p = strtol(pid, &end, 10);

	if (*pid == '\0' || *end != '\0' || p <= 1) {
		cli_error("doctor: --parent-watch takes a process id, not "
		          "'%s'",
		          pid);
		return CLI_EXIT_USAGE;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || (long)getppid() != p) {
		cli_error("doctor: the process that started it (pid %ld) is "
		          "gone",
		          p);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int run_doctor(cli_ctx *ctx, const cli_args *a)
{
	const char *domain = cli_opt_value(a, "domain");
	bool all = cli_opt_flag(a, "all");
	cs_err err = CS_ERR_INIT;
	net_dns *r = NULL;
	dr_opts o;
	dr_report rep;
	int rc;

	if (cli_opt_value(a, "parent-watch") &&
	    (rc = watch_parent(cli_opt_value(a, "parent-watch"))) != 0)
		return rc;
	if ((all ? 1 : 0) + (domain ? 1 : 0) + (a->npos > 0 ? 1 : 0) > 1) {
		cli_error("doctor: give inbox names, --all or --domain, "
		          "not more than one of them");
		return CLI_EXIT_USAGE;
	}
	memset(&o, 0, sizeof o);
	o.inboxes = a->pos;
	o.ninboxes = (size_t)a->npos;
	o.domain = domain;
	o.now = cs_clock_now(NULL);
	if (seq_dns_open(ctx->db, NULL, &r, &err) != 0) {
		cli_error("doctor: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	rc = dr_run(ctx->db, r, &o, &rep, &err);
	net_dns_free(r);
	if (rc != 0) {
		cli_error("doctor: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (dr_report_store(ctx->db, &rep, o.now, &err) != 0)
		cli_error("doctor: the verdicts were not stored: %s", err.msg);
	if (a->json)
		print_json(ctx, &rep);
	else if (rep.ndomains == 0)
		fprintf(ctx->out, "no inbox to check (add one with 'coldseq "
		                  "inbox add')\n");
	else
		print_text(ctx, &rep);
	fflush(ctx->out);
	rc = rep.verdict == DR_FAIL ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	dr_report_free(&rep);
	return rc;
}

static const char doctor_help[] =
    "Checks that each sending domain (from the inboxes' addresses) and\n"
    "each inbox is set up so that receivers accept its mail, through\n"
    "coldseq's resolver (config dns.servers), and says for every check\n"
    "PASS, WARN or FAIL, the record found, why it matters and, when it\n"
    "does not pass, exactly what to publish or change.  No argument (or\n"
    "--all): every inbox; INBOX...: those inboxes (names or addresses);\n"
    "--domain D: the inboxes at D.  Each domain is checked once.\n"
    "\n"
    "Domain checks: mx (exists; matches the inboxes' provider), spf (one\n"
    "v=spf1 record, evaluated by RFC 7208 with its limits; authorises\n"
    "Google's or Microsoft's servers; -all or ~all), dkim (the provider's\n"
    "selectors, those receivers saw, or config doctor.dkim_selectors for\n"
    "other hosts: key present, not revoked, not h=sha1 only, RSA >= 1024\n"
    "bits, 2048 advised), dmarc (a record at _dmarc or the\n"
    "organizational domain; missing warns, and fails when the domain's\n"
    "inboxes may send over 5000 a day; rua; the DKIM d= receivers saw\n"
    "aligned), blocklist (the domain on the domain lists), mta_sts,\n"
    "tls_rpt (warn only).\n"
    "Inbox checks (an inbox on its own SMTP host): spf (the host's\n"
    "addresses pass the domain's SPF), ptr (reverse DNS, forward-\n"
    "confirmed), blocklist (the host's addresses); every inbox: receivers\n"
    "(what other connected inboxes saw of its mail) and headers (one-click\n"
    "unsubscribe: config unsubscribe.url_template).  An inbox's verdict is\n"
    "the worst of its checks and its domain's; it is stored for 'status'.\n"
    "\n"
    "Block lists: zen.spamhaus.org, dbl.spamhaus.org, bl.spamcop.net,\n"
    "b.barracudacentral.org, psbl.surriel.com, or the file of config\n"
    "doctor.blocklists (lines \"ZONE ip|domain TEST-ENTRY [CODE=MEANING\n"
    "...]\").  A list that does not list its own test entry, or answers\n"
    "127.255.255.x, is list_unusable (warn), never listed.\n"
    "\n"
    "Exit status: 0 when nothing fails (warnings allowed), 1 when a check\n"
    "fails, 2 on a usage error.\n"
    "\n"
    "--json prints {\"verdict\", \"domains\": [{\"domain\", \"verdict\",\n"
    "\"inboxes\": [addresses], \"daily_capacity\", \"checks\": [{\"check\",\n"
    "\"status\", \"defect\", \"subject\", \"found\", \"why\", \"fix\"}]}],\n"
    "\"inboxes\": [{\"inbox\", \"email\", \"domain\", \"provider\",\n"
    "\"verdict\", \"failing\", \"checks\": [...]}]}; \"defect\" is \"\" on a\n"
    "pass, else a stable word (README lists them), \"failing\" the\n"
    "inbox's failing \"check.defect\" words, its domain's first.\n"
    "\n"
    "Examples:\n"
    "  coldseq doctor\n"
    "  coldseq doctor --domain example.com --json\n"
    "  coldseq doctor sales1 sales2";

const cli_cmd cli_cmds_doctor[] = {
    {NULL, "doctor", "[INBOX...]",
     "check SPF, DKIM, DMARC, MX, PTR, block lists of your sending domains",
     doctor_help, 0, -1, CLI_NEEDS_DB, doctor_opts, run_doctor},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
