/*
 * cmd_dns_spf.c - `coldseq dns spf DOMAIN IP`: check_host() of RFC 7208
 * (doctor/dr_spf.c) through coldseq's resolver (config dns.servers),
 * with the reason, the counters against the limits and the domains
 * visited.  The SPF result is data: the exit status is 0 whatever it is.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "doctor/doctor.h"
#include "sequencer/seq.h"

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* s (a record, a name in it, a reason quoting them) as a JSON string of
 * valid UTF-8, or null: a zone's bytes need not be UTF-8, and cJSON
 * copies them raw. */
static cJSON *json_text(const char *s)
{
	cs_buf b = CS_BUF_INIT;
	cJSON *j;

	if (s == NULL)
		return cJSON_CreateNull();
	cs_utf8_repair(s, strlen(s), &b);
	j = cJSON_CreateString(cs_buf_str(&b));
	cs_buf_free(&b);
	return j;
}

static int run_spf(cli_ctx *ctx, const cli_args *a)
{
	const char *domain = a->pos[0], *ip = a->pos[1];
	const char *sender = cli_opt_value(a, "sender");
	const char *helo = cli_opt_value(a, "helo");
	cs_err err = CS_ERR_INIT;
	net_dns *r = NULL;
	dr_spf_out o;
	char all[3] = {0};
	size_t i;
	int rc;

	if (!is_ip(ip)) {
		cli_error("dns spf: '%s' is not an IP address (IPv4 or IPv6)",
		          ip);
		return CLI_EXIT_USAGE;
	}
	if (*domain == '\0' || strchr(domain, ' ') != NULL) {
		cli_error("dns spf: '%s' is not a domain", domain);
		return CLI_EXIT_USAGE;
	}
	if (sender && (strchr(sender, '@') == NULL || strchr(sender, ' '))) {
		cli_error("dns spf: --sender '%s' is not an address "
		          "(local@domain)",
		          sender);
		return CLI_EXIT_USAGE;
	}
	if ((rc = seq_dns_open(ctx->db, NULL, &r, &err)) != 0) {
		cli_error("dns spf: %s", err.msg);
		return rc == CS_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
	}
	if (dr_spf_check(r, ip, domain, sender, helo, &o, &err) != 0) {
		cli_error("dns spf: %s", err.msg);
		net_dns_free(r);
		return CLI_EXIT_USAGE;
	}
	if (o.all_qualifier) {
		all[0] = o.all_qualifier;
		all[1] = '\0';
	}
	if (a->json) {
		cJSON *doc = cJSON_CreateObject(), *arr;

		cJSON_AddItemToObject(doc, "domain", json_text(domain));
		cJSON_AddStringToObject(doc, "ip", ip);
		cJSON_AddItemToObject(doc, "sender", json_text(sender));
		cJSON_AddItemToObject(doc, "helo", json_text(helo));
		cJSON_AddStringToObject(doc, "result",
		                        dr_spf_result_name(o.result));
		cJSON_AddItemToObject(doc, "reason", json_text(o.reason));
		cJSON_AddItemToObject(doc, "record", json_text(o.record));
		cJSON_AddNumberToObject(doc, "lookups", o.lookups);
		cJSON_AddNumberToObject(doc, "voids", o.voids);
		arr = cJSON_AddArrayToObject(doc, "domains");
		for (i = 0; i < o.ndomains; i++)
			cJSON_AddItemToArray(arr, json_text(o.domains[i]));
		cli_json_str(doc, "all", o.all_qualifier ? all : NULL);
		cli_print_json(ctx, doc);
	} else if (!a->quiet) {
		cs_buf t = CS_BUF_INIT;

		fprintf(ctx->out, "spf %s for %s: %s\n", cli_text(&t, domain),
		        ip, dr_spf_result_name(o.result));
		fprintf(ctx->out, "  reason:  %s\n", cli_text(&t, o.reason));
		fprintf(ctx->out, "  record:  %s\n",
		        o.record ? cli_text(&t, o.record) : "(none)");
		fprintf(ctx->out,
		        "  lookups: %d of 10 DNS-querying terms, %d of 2 void "
		        "lookups\n",
		        o.lookups, o.voids);
		fprintf(ctx->out, "  domains:");
		for (i = 0; i < o.ndomains; i++)
			fprintf(ctx->out, "%s %s", i ? "," : "",
			        cli_text(&t, o.domains[i]));
		fprintf(ctx->out, "%s\n", o.ndomains ? "" : " (none)");
		if (o.all_qualifier)
			fprintf(ctx->out, "  all:     %call\n",
			        o.all_qualifier);
		cs_buf_free(&t);
	}
	dr_spf_out_free(&o);
	net_dns_free(r);
	return CLI_EXIT_OK;
}

static const cli_opt spf_opts[] = {
    {"sender", 0, "ADDR", false,
     "the MAIL FROM address, for the %{s} %{l} %{o} macros (default "
     "postmaster@DOMAIN)"},
    {"helo", 0, "NAME", false,
     "the HELO/EHLO name, for the %{h} macro (default DOMAIN)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_dns_spf[] = {
    {"dns", "spf", "DOMAIN IP",
     "evaluate DOMAIN's SPF record for a sending IP (RFC 7208)",
     "Runs check_host(IP, DOMAIN, sender) as RFC 7208 defines it, asking\n"
     "coldseq's resolver (config dns.servers): the one v=spf1 TXT record\n"
     "(none, or two, are results), the whole record checked for syntax\n"
     "first, then each term left to right: all, include, a, mx, ptr, ip4,\n"
     "ip6, exists, redirect=, with macros (%{i} %{d} %{l} ...), CIDR\n"
     "lengths, at most 10 DNS-querying terms over the whole evaluation\n"
     "(includes and redirects too), at most 2 void lookups (NXDOMAIN or no\n"
     "data), at most 10 names from one mx or ptr.  An IPv4-mapped IPv6\n"
     "address is evaluated as IPv4.\n\n"
     "Prints the result (none, neutral, pass, fail, softfail, temperror,\n"
     "permerror), the reason (the term that matched, or the rule broken),\n"
     "the first domain's record, the counters, the domains whose records\n"
     "were read, and the qualifier of the 'all' ending the record (after\n"
     "redirect=).  The exit status is 0 whatever the result: it is data.\n"
     "2 when an argument is not an address or a domain.\n\n"
     "--json prints {domain, ip, sender, helo, result, reason, record,\n"
     "lookups, voids, domains: [...], all}.\n\n"
     "Example:\n  coldseq dns spf example.com 192.0.2.1 --sender "
     "ann@example.com",
     2, 2, CLI_NEEDS_DB, spf_opts, run_spf},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
