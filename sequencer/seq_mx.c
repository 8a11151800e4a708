/*
 * seq_mx.c - which provider hosts a recipient's mail (for esp_match).
 *
 * Order: the user's static map (config dns.mx_map), well-known consumer
 * domains, then the domain's MX hosts (Google: *.google.com /
 * *.googlemail.com; Microsoft: *.outlook.com / *.protection.outlook.com).
 * Answers are cached for the life of the resolver; a lookup that fails or
 * times out counts as "other" and is cached too, so one slow domain costs
 * one timeout.  Tests and offline users set the map and never reach DNS.
 */
#define _DEFAULT_SOURCE
#include "seq.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct mx_entry {
	char *domain;
	seq_esp esp;
} mx_entry;

struct seq_mx {
	mx_entry *v; /* the map, then the cache */
	size_t n;
	int timeout_ms;
};

const char *seq_esp_name(seq_esp e)
{
	return e == SEQ_ESP_GOOGLE      ? "google"
	       : e == SEQ_ESP_MICROSOFT ? "microsoft"
	                                : "other";
}

static void remember(seq_mx *m, const char *domain, seq_esp e)
{
	m->v = cs_xrealloc(m->v, (m->n + 1) * sizeof *m->v);
	m->v[m->n].domain = cs_xstrdup(domain);
	m->v[m->n].esp = e;
	m->n++;
}

static int load_map(seq_mx *m, const char *path, cs_err *err)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int lineno = 0;

	if (f == NULL)
		return cs_err_set(err, CS_EIO, "dns.mx_map: cannot open %s",
		                  path);
	while (fgets(line, sizeof line, f)) {
		char dom[256], prov[32];
		seq_esp e;
		char *p = cs_trim(line);

		lineno++;
		if (*p == '\0' || *p == '#')
			continue;
		if (sscanf(p, "%255s %31s", dom, prov) != 2)
			goto bad;
		if (strcasecmp(prov, "google") == 0)
			e = SEQ_ESP_GOOGLE;
		else if (strcasecmp(prov, "microsoft") == 0)
			e = SEQ_ESP_MICROSOFT;
		else if (strcasecmp(prov, "other") == 0)
			e = SEQ_ESP_OTHER;
		else
			goto bad;
		remember(m, dom, e);
		continue;
	bad:
		fclose(f);
		return cs_err_set(err, CS_EINVAL,
		                  "%s:%d: expected \"domain "
		                  "google|microsoft|other\"",
		                  path, lineno);
	}
	fclose(f);
	return 0;
}

int seq_mx_new(const char *map_file, int timeout_ms, seq_mx **out, cs_err *err)
{
	seq_mx *m = cs_xcalloc(1, sizeof *m);
	int rc;

	m->timeout_ms = timeout_ms;
	if (map_file && *map_file && (rc = load_map(m, map_file, err)) != 0) {
		seq_mx_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void seq_mx_free(seq_mx *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i].domain);
	free(m->v);
	free(m);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0 &&
	       (a == b || s[a - b - 1] == '.');
}

static seq_esp by_host(const char *host)
{
	if (ends_with(host, "google.com") || ends_with(host, "googlemail.com"))
		return SEQ_ESP_GOOGLE;
	if (ends_with(host, "outlook.com") ||
	    ends_with(host, "protection.outlook.com"))
		return SEQ_ESP_MICROSOFT;
	return SEQ_ESP_OTHER;
}

static seq_esp well_known(const char *d)
{
	static const char *const google[] = {"gmail.com", "googlemail.com",
	                                     NULL};
	static const char *const ms[] = {"outlook.com",   "hotmail.com",
	                                 "live.com",      "msn.com",
	                                 "hotmail.co.uk", NULL};
	int i;

	for (i = 0; google[i]; i++)
		if (strcasecmp(d, google[i]) == 0)
			return SEQ_ESP_GOOGLE;
	for (i = 0; ms[i]; i++)
		if (strcasecmp(d, ms[i]) == 0)
			return SEQ_ESP_MICROSOFT;
	return (seq_esp)-1;
}

/* The provider of the lowest-preference MX of domain; OTHER on failure. */
static seq_esp lookup(seq_mx *m, const char *domain)
{
	unsigned char ans[4096];
	struct __res_state rs;
	ns_msg msg;
	int len, i, best_pref = 1 << 20;
	seq_esp best = SEQ_ESP_OTHER;

	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) != 0)
		return SEQ_ESP_OTHER;
	rs.retrans = m->timeout_ms / 1000 > 0 ? m->timeout_ms / 1000 : 1;
	rs.retry = 1;
	len = res_nquery(&rs, domain, ns_c_in, ns_t_mx, ans, sizeof ans);
	if (len > 0 && ns_initparse(ans, len, &msg) == 0) {
		for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
			ns_rr rr;
			char host[NS_MAXDNAME];
			int pref;

			if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 ||
			    ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
				continue;
			pref = ns_get16(ns_rr_rdata(rr));
			if (ns_name_uncompress(
			        ns_msg_base(msg), ns_msg_end(msg),
			        ns_rr_rdata(rr) + 2, host, sizeof host) < 0)
				continue;
			if (pref < best_pref) {
				best_pref = pref;
				best = by_host(host);
			}
		}
	}
	res_nclose(&rs);
	return best;
}

seq_esp seq_mx_provider(seq_mx *m, const char *domain)
{
	seq_esp e;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->v[i].domain, domain) == 0)
			return m->v[i].esp;
	e = well_known(domain);
	if ((int)e < 0)
		e = lookup(m, domain);
	remember(m, domain, e);
	return e;
}
