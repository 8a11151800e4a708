/*
 * cmd_dns.c - `coldseq dns query`: ask coldseq's own resolver (c-ares on
 * a private loop, the TTL cache, config dns.servers and dns.timeout), the
 * one esp_match and the doctor use, and show what it answered.
 *
 * Text from the network is printed escaped: a TXT's bytes outside
 * printable ASCII, '"' and '\\' become \DDD (or \" and \\), so an answer
 * can neither break the output nor reach the terminal raw.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

static const struct {
	const char *name;
	int type;
} types[] = {
    {"A", NET_DNS_A},     {"AAAA", NET_DNS_AAAA}, {"MX", NET_DNS_MX},
    {"TXT", NET_DNS_TXT}, {"PTR", NET_DNS_PTR},   {"CNAME", NET_DNS_CNAME},
    {"NS", NET_DNS_NS},   {"SOA", NET_DNS_SOA},
};

static int type_of(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(s, types[i].name) == 0)
			return types[i].type;
	return 0;
}

static const char *type_name(int t)
{
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (types[i].type == t)
			return types[i].name;
	return "?";
}

static const char *status_name(net_dns_status s)
{
	switch (s) {
	case NET_DNS_OK: return "ok";
	case NET_DNS_NXDOMAIN: return "nxdomain";
	case NET_DNS_NODATA: return "nodata";
	case NET_DNS_ERROR: return "error";
	}
	return "?";
}

/* Bytes as safe text: printable ASCII kept, '"' and '\\' escaped, the
 * rest \DDD. */
static void escape(const char *s, size_t n, cs_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			cs_buf_putc(out, '\\');
			cs_buf_putc(out, (char)c);
		} else if (c < 0x20 || c >= 0x7f)
			cs_buf_printf(out, "\\%03u", c);
		else
			cs_buf_putc(out, (char)c);
	}
}

static void rr_text(const net_dns_rr *rr, cs_buf *out)
{
	if (rr->type == NET_DNS_MX)
		cs_buf_printf(out, "%d ", rr->pref);
	escape(rr->text, rr->len, out);
}

/* One question's answer, printed (text) or added to arr (JSON).
 * Returns whether it was usable (not NET_DNS_ERROR). */
static bool show(cli_ctx *ctx, const net_dns_answer *a, cJSON *arr)
{
	size_t i;
	cs_buf b = CS_BUF_INIT;

	if (arr) {
		cJSON *o = cJSON_CreateObject(), *rrs = cJSON_CreateArray();

		cli_json_str(o, "name", a->name);
		cJSON_AddStringToObject(o, "type", type_name(a->type));
		cJSON_AddStringToObject(o, "status", status_name(a->status));
		cli_json_str(o, "error", *a->error ? a->error : NULL);
		cJSON_AddBoolToObject(o, "cached", a->cached);
		cli_json_str(o, "cname", a->cname);
		for (i = 0; i < a->n; i++) {
			cJSON *r = cJSON_CreateObject();

			cs_buf_clear(&b);
			escape(a->rr[i].text, a->rr[i].len, &b);
			cJSON_AddNumberToObject(r, "ttl", a->rr[i].ttl);
			cJSON_AddStringToObject(r, "text", cs_buf_str(&b));
			if (a->type == NET_DNS_MX)
				cJSON_AddNumberToObject(r, "pref",
				                        a->rr[i].pref);
			cJSON_AddItemToArray(rrs, r);
		}
		cJSON_AddItemToObject(o, "records", rrs);
		cJSON_AddItemToArray(arr, o);
	} else {
		fprintf(ctx->out, "%s %s: %s%s%s%s%s%s%s\n",
		        cli_text(&b, a->name), type_name(a->type),
		        status_name(a->status), *a->error ? " (" : "", a->error,
		        *a->error ? ")" : "", a->cname ? " via CNAME " : "",
		        a->cname ? a->cname : "", a->cached ? " [cached]" : "");
		for (i = 0; i < a->n; i++) {
			cs_buf_clear(&b);
			rr_text(&a->rr[i], &b);
			if (a->type == NET_DNS_TXT)
				fprintf(ctx->out, "  %u \"%s\"\n", a->rr[i].ttl,
				        cs_buf_str(&b));
			else
				fprintf(ctx->out, "  %u %s\n", a->rr[i].ttl,
				        cs_buf_str(&b));
		}
	}
	cs_buf_free(&b);
	return a->status != NET_DNS_ERROR;
}

typedef struct question {
	char *name; /* owned: PTR of an address asks its reverse name */
	int type;
	net_dns_answer *a;
} question;

static void par_cb(void *arg, const net_dns_answer *a)
{
	question *q = arg;

	q->a = net_dns_answer_ref((net_dns_answer *)a);
}

/* NAME [TYPE...] from words into qs (appended); usage errors printed. */
static int add_questions(const char **w, int n, question **qs, size_t *nq)
{
	int i, t;

	if (n < 1)
		return CLI_EXIT_USAGE;
	for (i = 1; i < (n > 1 ? n : 2); i++) {
		question *q;
		cs_buf rev = CS_BUF_INIT;

		t = NET_DNS_A;
		if (n > 1 && (t = type_of(w[i])) == 0) {
			cli_error("dns query: unknown type '%s' (A, AAAA, MX, "
			          "TXT, PTR, CNAME, NS, SOA)",
			          w[i]);
			return CLI_EXIT_USAGE;
		}
		*qs = cs_xrealloc(*qs, (*nq + 1) * sizeof **qs);
		q = &(*qs)[(*nq)++];
		memset(q, 0, sizeof *q);
		q->type = t;
		if (t == NET_DNS_PTR &&
		    net_dns_reverse_name(w[0], &rev, NULL) == 0)
			q->name = cs_buf_detach(&rev, NULL);
		else
			q->name = cs_xstrdup(w[0]);
		cs_buf_free(&rev);
	}
	return 0;
}

static void free_questions(question *qs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(qs[i].name);
		net_dns_answer_unref(qs[i].a);
	}
	free(qs);
}

/* Ask qs[from..n): one after the other (a repeat is answered from the
 * cache), or all at once (--parallel: a repeat joins the first). */
static void ask(net_dns *r, question *qs, size_t from, size_t n, bool par)
{
	size_t i;

	for (i = from; i < n; i++) {
		if (par)
			net_dns_query(r, qs[i].name, qs[i].type, par_cb,
			              &qs[i]);
		else
			qs[i].a = net_dns_query_sync(r, qs[i].name, qs[i].type);
	}
	if (par)
		net_dns_run(r);
}

static void stats_out(cli_ctx *ctx, net_dns *r, cJSON *doc)
{
	net_dns_stats st;

	net_dns_get_stats(r, &st);
	if (doc) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "queries", (double)st.queries);
		cJSON_AddNumberToObject(o, "sent", (double)st.sent);
		cJSON_AddNumberToObject(o, "cache_hits", (double)st.cache_hits);
		cJSON_AddNumberToObject(o, "coalesced", (double)st.coalesced);
		cJSON_AddItemToObject(doc, "stats", o);
	} else
		fprintf(ctx->out,
		        "stats: queries %lu, sent %lu, cache hits %lu, "
		        "coalesced %lu\n",
		        st.queries, st.sent, st.cache_hits, st.coalesced);
}

static int run_query(cli_ctx *ctx, const cli_args *a)
{
	bool par = cli_opt_flag(a, "parallel");
	bool use_stdin = cli_opt_flag(a, "stdin");
	cs_err err = CS_ERR_INIT;
	question *qs = NULL;
	size_t nq = 0, shown = 0;
	net_dns *r = NULL;
	cJSON *doc = NULL, *arr = NULL;
	bool all_ok = true;
	int rc;

	if ((rc = add_questions(a->pos, a->npos, &qs, &nq)) != 0)
		goto out;
	if ((rc = seq_dns_open(ctx->db, NULL, &r, &err)) != 0) {
		cli_error("dns query: %s", err.msg);
		rc = rc == CS_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
		goto out;
	}
	if (a->json) {
		doc = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(doc, "answers");
	}
	ask(r, qs, 0, nq, par);
	for (; shown < nq; shown++)
		all_ok &= show(ctx, qs[shown].a, arr);
	if (use_stdin && cli_opt_flag(a, "stats") && !a->json)
		stats_out(ctx, r, NULL);
	fflush(ctx->out);
	if (use_stdin) {
		/* more questions, one line each, answered at once: tests
		 * and scripts see the cache work within one process */
		char line[1024];

		while (fgets(line, sizeof line, stdin)) {
			const char *w[16];
			int n = 0;
			char *tok, *save = NULL;

			for (tok = strtok_r(line, " \t\r\n", &save);
			     tok && n < 16;
			     tok = strtok_r(NULL, " \t\r\n", &save))
				w[n++] = tok;
			if (n == 0)
				continue;
			if (add_questions(w, n, &qs, &nq) != 0)
				continue;
			ask(r, qs, shown, nq, par);
			for (; shown < nq; shown++)
				all_ok &= show(ctx, qs[shown].a, arr);
			if (cli_opt_flag(a, "stats") && !a->json)
				stats_out(ctx, r, NULL);
			fflush(ctx->out);
		}
	}
	if (cli_opt_flag(a, "stats") && (doc || !use_stdin))
		stats_out(ctx, r, doc);
	if (doc) {
		cli_print_json(ctx, doc);
		doc = NULL;
	}
	rc = all_ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	free_questions(qs, nq);
	net_dns_free(r);
	cJSON_Delete(doc);
	return rc;
}

static const cli_opt query_opts[] = {
    {"stats", 0, NULL, false,
     "print the resolver's counters (questions, sent, cache hits, "
     "coalesced)"},
    {"parallel", 0, NULL, false,
     "ask every question at once (a repeated one joins the first)"},
    {"stdin", 0, NULL, false,
     "then read more \"NAME [TYPE...]\" lines from standard input, "
     "answering each at once with the same resolver and cache (with "
     "--stats, the counters after each line)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_dns[] = {
    {"dns", "query", "NAME [TYPE...]",
     "ask coldseq's resolver (the one esp_match and the doctor use)",
     "Asks NAME for each TYPE (A, AAAA, MX, TXT, PTR, CNAME, NS, SOA;\n"
     "default A) in turn through the servers of config dns.servers (empty:\n"
     "/etc/resolv.conf), waiting at most config dns.timeout per server.\n"
     "Prints per type the status (ok, nxdomain, nodata, or error with why:\n"
     "timeout, refused, server failure, malformed answer, ...), \"[cached]\"\n"
     "when the answer came from the cache, the CNAME followed, and each\n"
     "record with its TTL.  A TXT's strings are joined with nothing between\n"
     "(as SPF, DKIM and DMARC read them) and shown quoted, with '\"', '\\'\n"
     "and bytes outside printable ASCII escaped (\\\", \\\\, \\DDD).  PTR of "
     "an\n"
     "IP address asks its in-addr.arpa / ip6.arpa name.  Answers are kept\n"
     "for their TTL (NXDOMAIN/NODATA for the zone's SOA minimum, errors 5\n"
     "seconds), so asking the same NAME TYPE twice shows the second from\n"
     "the cache.  Exit status 1 when a question got an error.\n\n"
     "--json prints {answers: [{name, type, status, error, cached, cname,\n"
     "records: [{ttl, text, pref}]}], stats: {queries, sent, cache_hits,\n"
     "coalesced}} (stats with --stats).\n\n"
     "Examples:\n  coldseq dns query example.com MX TXT\n"
     "  coldseq dns query 192.0.2.1 PTR\n"
     "  coldseq config set dns.servers 127.0.0.1:5353",
     1, -1, CLI_NEEDS_DB, query_opts, run_query},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
