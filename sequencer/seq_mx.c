/*
 * seq_mx.c - which provider hosts a recipient's mail (for esp_match).
 *
 * Order: the user's static map (config dns.mx_map), well-known consumer
 * domains, then the domain's MX through coldseq's resolver (net_dns: the
 * lowest preference wins; Google: *.google.com / *.googlemail.com;
 * Microsoft: *.outlook.com / *.protection.outlook.com); the domains and
 * host patterns are the provider table's (core/provider.c).  The
 * resolver caches answers by their TTL, so nothing is cached here; a
 * lookup that fails (timeout, refused, ...) counts as "other", and the
 * resolver keeps the failure a few seconds.
 *
 * Two modes (seq_mx_set_dns): blocking, on a private-loop resolver (CLI
 * paths, the simulated runs); or, on the service's loop, never blocking:
 * an answer not in the resolver's cache yet starts the lookup, the
 * caller is told "pending", and the wake callback runs on the loop when
 * the answer is in.
 */
#define _DEFAULT_SOURCE
#include "seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct mx_entry {
	char *domain;
	seq_esp esp;
} mx_entry;

struct seq_mx {
	mx_entry *v; /* the map */
	size_t n;
	net_dns *dns; /* not owned; NULL: no DNS ("other") */
	bool async;
	void (*wake)(void *arg);
	void *wake_arg;
	unsigned long pending; /* async lookups in flight */
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

static void map_clear(seq_mx *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].domain);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

int seq_mx_new(const char *map_file, seq_mx **out, cs_err *err)
{
	seq_mx *m = cs_xcalloc(1, sizeof *m);
	int rc;

	*out = NULL;
	if ((rc = seq_mx_load_map(m, map_file, err)) != 0) {
		seq_mx_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int seq_mx_load_map(seq_mx *m, const char *map_file, cs_err *err)
{
	seq_mx tmp;
	int rc;

	memset(&tmp, 0, sizeof tmp);
	if (map_file && *map_file &&
	    (rc = load_map(&tmp, map_file, err)) != 0) {
		map_clear(&tmp);
		return rc;
	}
	map_clear(m);
	m->v = tmp.v;
	m->n = tmp.n;
	return 0;
}

void seq_mx_set_dns(seq_mx *m, net_dns *dns, bool async,
                    void (*wake)(void *arg), void *wake_arg)
{
	m->dns = dns;
	m->async = async;
	m->wake = wake;
	m->wake_arg = wake_arg;
}

void seq_mx_free(seq_mx *m)
{
	if (m == NULL)
		return;
	map_clear(m);
	free(m);
}

/* The provider of the lowest-preference MX; OTHER for anything else. */
static seq_esp esp_of(const net_dns_answer *a)
{
	int best_pref = 1 << 20;
	seq_esp best = SEQ_ESP_OTHER;
	size_t i;

	if (a->status != NET_DNS_OK)
		return SEQ_ESP_OTHER;
	for (i = 0; i < a->n; i++)
		if (a->rr[i].pref < best_pref) {
			best_pref = a->rr[i].pref;
			best = (seq_esp)cs_provider_by_mx_host(a->rr[i].text);
		}
	return best;
}

/* One lookup of the async mode.  While net_dns_query runs, got points at
 * the caller's answer (a cached answer comes at once); after, the lookup
 * is in flight and its end wakes the caller's loop. */
typedef struct mx_lookup {
	seq_mx *m;
	seq_esp *got;
	bool *done;
} mx_lookup;

static void on_mx(void *arg, const net_dns_answer *a)
{
	mx_lookup *l = arg;
	seq_mx *m = l->m;

	if (l->got) {
		*l->got = esp_of(a);
		*l->done = true;
	} else {
		m->pending--;
		/* "cancelled": the resolver is going away with the loop */
		if (strcmp(a->error, "cancelled") != 0 && m->wake)
			m->wake(m->wake_arg);
	}
	free(l);
}

int seq_mx_esp(seq_mx *m, const char *domain, seq_esp *out)
{
	cs_provider_id id;
	size_t i;

	*out = SEQ_ESP_OTHER;
	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->v[i].domain, domain) == 0) {
			*out = m->v[i].esp;
			return 0;
		}
	if (cs_provider_by_domain(domain, &id)) {
		*out = (seq_esp)id;
		return 0;
	}
	if (m->dns == NULL)
		return 0;
	if (!m->async) {
		net_dns_answer *a =
		    net_dns_query_sync(m->dns, domain, NET_DNS_MX);

		*out = esp_of(a);
		net_dns_answer_unref(a);
		return 0;
	} else {
		mx_lookup *l = cs_xcalloc(1, sizeof *l);
		bool done = false;

		l->m = m;
		l->got = out;
		l->done = &done;
		net_dns_query(m->dns, domain, NET_DNS_MX, on_mx, l);
		if (done)
			return 0; /* l is freed */
		l->got = NULL;
		l->done = NULL;
		m->pending++;
		return SEQ_MX_PENDING;
	}
}

seq_esp seq_mx_provider(seq_mx *m, const char *domain)
{
	seq_esp e;

	seq_mx_esp(m, domain, &e);
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
	/* unset: $COLDSEQ_DNS_SERVERS (same syntax), then the system's */
	if (*o.servers == '\0' && getenv("COLDSEQ_DNS_SERVERS"))
		o.servers = getenv("COLDSEQ_DNS_SERVERS");
	/* c-ares waits timeout_ms for the first try and twice that for the
	 * second: a third of dns.timeout each keeps one server's question
	 * within dns.timeout */
	o.tries = 2;
	o.timeout_ms = (int)(timeout_s * 1000 / 3);
	if ((rc = net_dns_new(loop, &o, out, err)) != 0)
		cs_err_prefix(err, "%s",
		              *cs_buf_str(&servers) ? "config dns.servers"
		                                    : "$COLDSEQ_DNS_SERVERS");
out:
	cs_buf_free(&servers);
	return rc;
}
