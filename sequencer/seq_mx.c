/*
 * seq_mx.c - which provider hosts a recipient's mail (for esp_match).
 *
 * Order: the user's static map (config dns.mx_map), well-known consumer
 * domains, then the domain's MX hosts (Google: *.google.com /
 * *.googlemail.com; Microsoft: *.outlook.com / *.protection.outlook.com);
 * the domains and host patterns are the provider table's
 * (core/provider.c).
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
	return e == SEQ_ESP_OTHER ? "other"
	                          : cs_provider_get((cs_provider_id)e)->name;
}

/* "other", or a provider's name other than generic (any case). */
static bool esp_parse(const char *word, seq_esp *e)
{
	int i;

	if (strcasecmp(word, "other") == 0) {
		*e = SEQ_ESP_OTHER;
		return true;
	}
	for (i = CS_PROVIDER_GENERIC + 1; i < CS_PROVIDER_COUNT; i++)
		if (strcasecmp(word,
		               cs_provider_get((cs_provider_id)i)->name) == 0) {
			*e = (seq_esp)i;
			return true;
		}
	return false;
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
		if (!esp_parse(prov, &e))
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
				best = (seq_esp)cs_provider_by_mx_host(host);
			}
		}
	}
	res_nclose(&rs);
	return best;
}

seq_esp seq_mx_provider(seq_mx *m, const char *domain)
{
	cs_provider_id id;
	seq_esp e;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->v[i].domain, domain) == 0)
			return m->v[i].esp;
	if (cs_provider_by_domain(domain, &id))
		e = (seq_esp)id;
	else
		e = lookup(m, domain);
	remember(m, domain, e);
	return e;
}

int seq_dns_open(db *d, struct uv_loop_s *loop, net_dns **out, cs_err *err)
{
	cs_buf servers = CS_BUF_INIT;
	long long timeout_s = 3;
	net_dns_opts o;
	int rc;

	*out = NULL;
	if ((rc = db_config_get(d, "dns.servers", &servers, NULL, err)) != 0 ||
	    (rc = db_config_get_int(d, "dns.timeout", &timeout_s, err)) != 0)
		goto out;
	memset(&o, 0, sizeof o);
	o.servers = cs_buf_str(&servers);
	/* c-ares waits timeout_ms for the first try and twice that for the
	 * second: a third of dns.timeout each keeps one server's question
	 * within dns.timeout */
	o.tries = 2;
	o.timeout_ms = (int)(timeout_s * 1000 / 3);
	if ((rc = net_dns_new(loop, &o, out, err)) != 0)
		cs_err_prefix(err, "config dns.servers");
out:
	cs_buf_free(&servers);
	return rc;
}
