/*
 * dr_check.c - one doctor run: which inboxes and domains, every DNS
 * question asked at once, then the check list per domain (MX, SPF, DKIM,
 * DMARC, block lists, MTA-STS, TLS-RPT) and per inbox (its sending host
 * in SPF, PTR, block lists, what receivers saw, headers), each failing
 * line with the exact record to publish.
 *
 * Speed: `doctor --all` over hundreds of inboxes asks each (name, type)
 * once.  Phase 1 starts every first-level question (net_dns_query) and
 * runs the resolver once; phase 2 the questions that need phase 1's
 * answers (PTR and block lists of the SMTP hosts' addresses, the PTR
 * names' addresses); the checks then ask synchronously and are answered
 * from the cache (SPF recursion asks the little that is left).
 *
 * The SPF of a domain is evaluated for 192.0.2.0 (a documentation
 * address no record authorises), so that the whole record is walked:
 * every include, the lookup and void limits.  coldseq gives the inbox's
 * own address as MAIL FROM (smtp/smtp_session.c), so SPF's identifier is
 * the From domain and always aligned; DKIM alignment is judged from the
 * d= receivers saw on our received copies.
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MS       86400000LL
#define SPF_PROBE_IP "192.0.2.0"
#define BULK_PER_DAY 5000

static const char default_selectors[] = "default,mail,dkim,s1,s2,k1";

/* What one generic SMTP host resolves to. */
typedef struct host_addrs {
	char *host;
	char **ip;
	size_t n;
	bool local;      /* loopback: the real sending address is unknown */
	bool unresolved; /* no A/AAAA */
	char error[64];  /* a DNS error, "" none */
} host_addrs;

typedef struct selector {
	char *name, *domain; /* s=, d= */
	bool probe;          /* a common name tried, not known to be used */
	bool seen;           /* on a received copy */
} selector;

typedef struct dom {
	dr_domain_report *rep; /* into the report */
	char org[256];
	bool google, microsoft, generic;
	size_t *inb; /* indexes into the run's inboxes */
	size_t ninb;
	selector *sel;
	size_t nsel;
} dom;

typedef struct run {
	db *d;
	net_dns *r;
	const dr_opts *o;
	const dr_blocklists *bl;
	db_inbox *all; /* every live inbox */
	size_t nall;
	db_inbox **in; /* the ones checked, parallel to rep->inboxes */
	size_t nin;
	host_addrs *hosts;
	size_t nhosts;
	dom *doms;
	size_t ndoms;
	dr_report *rep;
	bool unsub_url; /* config unsubscribe.url_template set */
} run;

/* ---- small helpers ----------------------------------------------------- */

static void noop(void *arg, const net_dns_answer *a)
{
	(void)arg;
	(void)a;
}

static void ask(run *R, const char *name, int type)
{
	net_dns_query(R->r, name, type, noop, NULL);
}

static void askf(run *R, int type, const char *fmt, const char *a,
                 const char *b)
{
	char *q = cs_xasprintf(fmt, a, b);

	ask(R, q, type);
	free(q);
}

static net_dns_answer *get(run *R, const char *name, int type)
{
	return net_dns_query_sync(R->r, name, type);
}

static const char *domain_of(const char *email)
{
	const char *at = strrchr(email, '@');

	return at ? at + 1 : email;
}

static char *lower_dup(const char *s)
{
	char *p = cs_xstrdup(s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static bool starts_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && strncasecmp(s, prefix, k) == 0;
}

/* A v=spf1 record: "v=spf1" then a space or the end (RFC 7208 4.5). */
static bool is_spf(const char *t, size_t n)
{
	return starts_ci(t, n, "v=spf1") && (n == 6 || t[6] == ' ');
}

static void clean_text(const char *s, size_t n, cs_buf *out)
{
	size_t i;

	for (i = 0; i < n && i < 2000; i++) {
		unsigned char c = (unsigned char)s[i];

		cs_buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

/* The messages a day inbox in may send: its daily cap, at most its
 * messages_24h limit (override, else the provider's). */
static long long capacity_of(const db_inbox *in)
{
	long long cap = in->daily_cap > 0 ? in->daily_cap : 0, hard = 0;

	if (!cs_limits_get(in->limits, CS_LIM_MESSAGES_24H, &hard))
		hard = cs_provider_hard_cap(in->provider, in->email);
	if (hard > 0 && (cap == 0 || hard < cap))
		cap = hard;
	return cap;
}

/* ---- which inboxes, which domains -------------------------------------- */

static int inbox_index(run *R, const char *key)
{
	size_t i;

	for (i = 0; i < R->nall; i++)
		if (strcasecmp(R->all[i].name, key) == 0 ||
		    strcasecmp(R->all[i].email, key) == 0)
			return (int)i;
	return -1;
}

static bool chosen(run *R, const db_inbox *in)
{
	size_t i;

	for (i = 0; i < R->nin; i++)
		if (R->in[i] == in)
			return true;
	return false;
}

static int choose(run *R, cs_err *err)
{
	const dr_opts *o = R->o;
	size_t i;

	R->in = cs_xcalloc(R->nall + 1, sizeof *R->in);
	if (o->ninboxes > 0) {
		for (i = 0; i < o->ninboxes; i++) {
			int k = inbox_index(R, o->inboxes[i]);

			if (k < 0)
				return cs_err_set(err, CS_ENOTFOUND,
				                  "no inbox named '%s' (see "
				                  "'coldseq inbox list')",
				                  o->inboxes[i]);
			if (!chosen(R, &R->all[k]))
				R->in[R->nin++] = &R->all[k];
		}
	} else {
		for (i = 0; i < R->nall; i++)
			if (o->domain == NULL ||
			    strcasecmp(domain_of(R->all[i].email),
			               o->domain[0] == '@' ? o->domain + 1
			                                   : o->domain) == 0)
				R->in[R->nin++] = &R->all[i];
		if (o->domain && R->nin == 0)
			return cs_err_set(err, CS_ENOTFOUND,
			                  "no inbox sends from %s (see "
			                  "'coldseq inbox list')",
			                  o->domain);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_selector(dom *D, const char *name, const char *domain,
                         bool probe, bool seen)
{
	size_t i;

	for (i = 0; i < D->nsel; i++)
		if (strcasecmp(D->sel[i].name, name) == 0 &&
		    strcasecmp(D->sel[i].domain, domain) == 0) {
			D->sel[i].seen |= seen;
			D->sel[i].probe &= probe;
			return;
		}
	D->sel = cs_xrealloc(D->sel, (D->nsel + 1) * sizeof *D->sel);
	D->sel[D->nsel].name = lower_dup(name);
	D->sel[D->nsel].domain = lower_dup(domain);
	D->sel[D->nsel].probe = probe;
	D->sel[D->nsel].seen = seen;
	D->nsel++;
}

static int group(run *R, cs_err *err)
{
	char **names = cs_xcalloc(R->nin + 1, sizeof *names);
	size_t i, j, n = 0;
	dr_report *rep = R->rep;
	cs_buf probes = CS_BUF_INIT;
	int rc = 0;

	for (i = 0; i < R->nin; i++) {
		char *dn = lower_dup(domain_of(R->in[i]->email));

		for (j = 0; j < n; j++)
			if (strcmp(names[j], dn) == 0)
				break;
		if (j < n)
			free(dn);
		else
			names[n++] = dn;
	}
	qsort(names, n, sizeof *names, cmp_str);
	rep->domains = cs_xcalloc(n + 1, sizeof *rep->domains);
	R->doms = cs_xcalloc(n + 1, sizeof *R->doms);
	rep->ndomains = R->ndoms = n;
	if ((rc = db_config_get(R->d, "doctor.dkim_selectors", &probes, NULL,
	                        err)) != 0) {
		cs_buf_free(&probes);
		cs_buf_puts(&probes, default_selectors);
		cs_err_clear(err);
		rc = 0;
	}
	for (i = 0; i < n; i++) {
		dom *D = &R->doms[i];
		dr_domain_report *dr = &rep->domains[i];

		D->rep = dr;
		dr->domain = names[i];
		dr_org_domain(dr->domain, D->org, sizeof D->org);
		D->inb = cs_xcalloc(R->nin + 1, sizeof *D->inb);
		for (j = 0; j < R->nall; j++)
			if (strcasecmp(domain_of(R->all[j].email),
			               dr->domain) == 0)
				dr->daily_capacity += capacity_of(&R->all[j]);
		for (j = 0; j < R->nin; j++) {
			const db_inbox *in = R->in[j];

			if (strcasecmp(domain_of(in->email), dr->domain) != 0)
				continue;
			D->inb[D->ninb++] = j;
			dr->inboxes =
			    cs_xrealloc(dr->inboxes, (dr->ninboxes + 1) *
			                                 sizeof *dr->inboxes);
			dr->inboxes[dr->ninboxes++] = cs_xstrdup(in->email);
			if (in->provider == CS_PROVIDER_GOOGLE)
				D->google = true;
			else if (in->provider == CS_PROVIDER_MICROSOFT)
				D->microsoft = true;
			else
				D->generic = true;
		}
		if (D->google)
			add_selector(D, "google", dr->domain, false, false);
		if (D->microsoft) {
			add_selector(D, "selector1", dr->domain, false, false);
			add_selector(D, "selector2", dr->domain, false, false);
		}
		for (j = 0; j < D->ninb; j++) {
			db_dkim_seen *seen = NULL;
			size_t ns = 0, k;
			cs_err e2 = CS_ERR_INIT;

			if (db_received_selectors(R->d, R->in[D->inb[j]]->id,
			                          R->o->now - 30 * DAY_MS,
			                          &seen, &ns, &e2) != 0) {
				cs_log(CS_LOG_WARN, "doctor: %s", e2.msg);
				continue;
			}
			for (k = 0; k < ns; k++)
				if (seen[k].selector && seen[k].selector[0] &&
				    seen[k].domain && seen[k].domain[0])
					add_selector(D, seen[k].selector,
					             seen[k].domain, false,
					             true);
			db_dkim_seen_free(seen, ns);
		}
		if (D->generic && D->nsel == 0) {
			char *copy = cs_xstrdup(cs_buf_str(&probes)),
			     *save = NULL, *tok;

			for (tok = strtok_r(copy, ", \t", &save); tok;
			     tok = strtok_r(NULL, ", \t", &save))
				add_selector(D, tok, dr->domain, true, false);
			free(copy);
		}
	}
	cs_buf_free(&probes);
	free(names);
	return rc;
}

/* ---- phase 1 and 2: every question at once ----------------------------- */

static host_addrs *host_of(run *R, const char *host)
{
	size_t i;

	for (i = 0; i < R->nhosts; i++)
		if (strcasecmp(R->hosts[i].host, host) == 0)
			return &R->hosts[i];
	return NULL;
}

static bool is_literal(const char *h, int *family)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, h, buf) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, h, buf) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

static bool is_loopback_ip(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

static void phase1(run *R)
{
	size_t i, j;

	for (i = 0; i < R->ndoms; i++) {
		dom *D = &R->doms[i];
		const char *dn = D->rep->domain;

		ask(R, dn, NET_DNS_MX);
		ask(R, dn, NET_DNS_TXT);
		askf(R, NET_DNS_TXT, "_dmarc.%s%s", dn, "");
		if (strcmp(D->org, dn) != 0)
			askf(R, NET_DNS_TXT, "_dmarc.%s%s", D->org, "");
		for (j = 0; j < D->nsel; j++)
			askf(R, NET_DNS_TXT, "%s._domainkey.%s", D->sel[j].name,
			     D->sel[j].domain);
		askf(R, NET_DNS_TXT, "_mta-sts.%s%s", dn, "");
		askf(R, NET_DNS_TXT, "_smtp._tls.%s%s", dn, "");
		dr_dnsbl_prefetch(R->r, R->bl, DR_BL_DOMAIN, dn);
	}
	for (i = 0; i < R->nin; i++) {
		const db_inbox *in = R->in[i];
		host_addrs *h;
		int fam;

		if (in->provider != CS_PROVIDER_GENERIC ||
		    in->smtp_host == NULL || in->smtp_host[0] == '\0' ||
		    host_of(R, in->smtp_host))
			continue;
		R->hosts =
		    cs_xrealloc(R->hosts, (R->nhosts + 1) * sizeof *R->hosts);
		h = &R->hosts[R->nhosts++];
		memset(h, 0, sizeof *h);
		h->host = lower_dup(in->smtp_host);
		if (is_literal(h->host, &fam) || cs_is_loopback_host(h->host))
			continue;
		ask(R, h->host, NET_DNS_A);
		ask(R, h->host, NET_DNS_AAAA);
	}
	net_dns_run(R->r);
}

static void host_add_ip(host_addrs *h, const char *ip)
{
	h->ip = cs_xrealloc(h->ip, (h->n + 1) * sizeof *h->ip);
	h->ip[h->n++] = cs_xstrdup(ip);
}

static void phase2(run *R)
{
	size_t i, j;
	static const int types[] = {NET_DNS_A, NET_DNS_AAAA};

	for (i = 0; i < R->nhosts; i++) {
		host_addrs *h = &R->hosts[i];
		int fam;

		if (is_literal(h->host, &fam)) {
			host_add_ip(h, h->host);
		} else if (!cs_is_loopback_host(h->host)) {
			for (j = 0; j < 2; j++) {
				net_dns_answer *a = get(R, h->host, types[j]);
				size_t k;

				if (a->status == NET_DNS_ERROR && !h->error[0])
					snprintf(h->error, sizeof h->error,
					         "%s", a->error);
				for (k = 0; a->status == NET_DNS_OK && k < a->n;
				     k++)
					host_add_ip(h, a->rr[k].text);
				net_dns_answer_unref(a);
			}
			h->unresolved = h->n == 0;
		}
		h->local = h->n == 0 && !h->unresolved;
		for (j = 0; j < h->n; j++) {
			cs_buf rev = CS_BUF_INIT;

			if (is_loopback_ip(h->ip[j]))
				continue;
			if (net_dns_reverse_name(h->ip[j], &rev, NULL) == 0)
				ask(R, cs_buf_str(&rev), NET_DNS_PTR);
			cs_buf_free(&rev);
			dr_dnsbl_prefetch(R->r, R->bl, DR_BL_IP, h->ip[j]);
		}
	}
	net_dns_run(R->r);
}

/* ---- MX ---------------------------------------------------------------- */

static const char *provider_mx(cs_provider_id id)
{
	return id == CS_PROVIDER_GOOGLE      ? "1 smtp.google.com."
	       : id == CS_PROVIDER_MICROSOFT ? "0 DOMAIN-TLD.mail.protection."
	                                       "outlook.com. (the host the "
	                                       "Microsoft 365 admin center "
	                                       "shows)"
	                                     : "10 your mail server's host "
	                                       "name.";
}

static void check_mx(run *R, dom *D)
{
	const char *dn = D->rep->domain;
	dr_list *L = &D->rep->checks;
	net_dns_answer *a = get(R, dn, NET_DNS_MX);
	cs_buf found = CS_BUF_INIT;
	const char *why = "replies and bounces reach the domain through its "
	                  "MX; receivers also distrust a sending domain that "
	                  "cannot receive";
	size_t i, best = 0;
	bool ok = true;

	if (a->status == NET_DNS_ERROR) {
		char *w = cs_xasprintf("the MX question for %s failed (%s)", dn,
		                       a->error);

		dr_list_add(L, "mx", "dns_error", DR_FAIL, dn, NULL, w,
		            "check the domain's name servers and coldseq's "
		            "resolver (config dns.servers)");
		free(w);
		net_dns_answer_unref(a);
		return;
	}
	if (a->status != NET_DNS_OK || a->n == 0) {
		cs_provider_id p = D->google      ? CS_PROVIDER_GOOGLE
		                   : D->microsoft ? CS_PROVIDER_MICROSOFT
		                                  : CS_PROVIDER_GENERIC;
		const char *imap = NULL;
		char *fix;

		/* a generic inbox: its IMAP server is where replies are read */
		for (i = 0; p == CS_PROVIDER_GENERIC && i < D->ninb && !imap;
		     i++)
			imap = R->in[D->inb[i]]->imap_host;
		if (imap && imap[0] && !cs_is_loopback_host(imap))
			fix = cs_xasprintf("%s. MX 10 %s.", dn, imap);
		else
			fix = cs_xasprintf("%s. MX %s", dn, provider_mx(p));

		dr_list_add(L, "mx", "missing", DR_FAIL, dn, NULL, why, fix);
		free(fix);
		net_dns_answer_unref(a);
		return;
	}
	for (i = 0; i < a->n; i++) {
		cs_buf_printf(&found, "%s%d %s", i ? ", " : "", a->rr[i].pref,
		              a->rr[i].text[0] ? a->rr[i].text : ".");
		if (a->rr[i].pref < a->rr[best].pref)
			best = i;
	}
	if (a->n == 1 && a->rr[0].text[0] == '\0') {
		dr_list_add(L, "mx", "null_mx", DR_FAIL, dn, cs_buf_str(&found),
		            "a null MX (RFC 7505) says the domain receives no "
		            "mail: replies and bounces to these inboxes are "
		            "lost",
		            "replace the null MX with the mail servers of your "
		            "inboxes' provider");
		ok = false;
	} else {
		cs_provider_id mxp = cs_provider_by_mx_host(a->rr[best].text);
		cs_provider_id want[2] = {CS_PROVIDER_GOOGLE,
		                          CS_PROVIDER_MICROSOFT};
		bool has[2] = {D->google, D->microsoft};

		for (i = 0; i < 2; i++) {
			char *w, *fix;

			if (!has[i] || mxp == want[i])
				continue;
			w = cs_xasprintf(
			    "the domain has %s inboxes but its mail goes to %s "
			    "(%s): replies do not reach those mailboxes, and "
			    "the provider's own checks expect its MX",
			    cs_provider_get(want[i])->label, a->rr[best].text,
			    cs_provider_get(mxp)->label);
			fix =
			    cs_xasprintf("%s. MX %s", dn, provider_mx(want[i]));
			dr_list_add(L, "mx", "provider_mismatch", DR_WARN, dn,
			            cs_buf_str(&found), w, fix);
			free(w);
			free(fix);
			ok = false;
		}
	}
	if (ok)
		dr_list_add(L, "mx", "", DR_PASS, dn, cs_buf_str(&found), why,
		            NULL);
	cs_buf_free(&found);
	net_dns_answer_unref(a);
}

/* ---- SPF --------------------------------------------------------------- */

/* The mechanisms the domain's inboxes need in its SPF record. */
static void spf_needed(run *R, dom *D, char ***out, size_t *n)
{
	size_t i, j, k;

	*out = NULL;
	*n = 0;
#define NEED(s)                                                                \
	do {                                                                   \
		for (k = 0; k < *n; k++)                                       \
			if (strcasecmp((*out)[k], (s)) == 0)                   \
				break;                                         \
		if (k == *n) {                                                 \
			*out = cs_xrealloc(*out, (*n + 1) * sizeof **out);     \
			(*out)[(*n)++] = cs_xstrdup(s);                        \
		}                                                              \
	} while (0)
	if (D->google)
		NEED("include:_spf.google.com");
	if (D->microsoft)
		NEED("include:spf.protection.outlook.com");
	for (i = 0; i < D->ninb; i++) {
		const db_inbox *in = R->in[D->inb[i]];
		host_addrs *h;

		if (in->provider != CS_PROVIDER_GENERIC || !in->smtp_host ||
		    (h = host_of(R, in->smtp_host)) == NULL || h->local)
			continue;
		if (h->unresolved) {
			char *m = cs_xasprintf("a:%s", h->host);

			NEED(m);
			free(m);
			continue;
		}
		for (j = 0; j < h->n; j++) {
			char *m;

			if (is_loopback_ip(h->ip[j]))
				continue;
			m = cs_xasprintf("%s:%s",
			                 strchr(h->ip[j], ':') ? "ip6" : "ip4",
			                 h->ip[j]);
			NEED(m);
			free(m);
		}
	}
#undef NEED
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The record to publish: the terms of the existing records (none when
 * fresh) without their "all" and redirect=, then the needed mechanisms
 * they lack, then -all when the existing record ended so, else ~all. */
static char *spf_fix(const char *dn, char *const *records, size_t nrec,
                     char *const *need, size_t nneed, bool fresh)
{
	cs_buf b = CS_BUF_INIT;
	char qual = '~';
	size_t i, j;

	cs_buf_printf(&b, "%s. TXT \"v=spf1", dn);
	for (i = 0; !fresh && i < nrec; i++) {
		char *copy = cs_xstrdup(records[i]), *save = NULL, *t;

		for (t = strtok_r(copy, " ", &save); t;
		     t = strtok_r(NULL, " ", &save)) {
			const char *m = t;

			if (strcasecmp(t, "v=spf1") == 0)
				continue;
			if (*m == '+' || *m == '-' || *m == '~' || *m == '?')
				m++;
			if (strcasecmp(m, "all") == 0) {
				if (t[0] == '-')
					qual = '-';
				continue;
			}
			if (strncasecmp(m, "redirect=", 9) == 0)
				continue;
			/* once, as the needed ones are added after */
			for (j = 0; j < nneed; j++)
				if (strcasecmp(m, need[j]) == 0)
					break;
			if (j < nneed)
				continue;
			if (strstr(cs_buf_str(&b), t) == NULL)
				cs_buf_printf(&b, " %s", t);
		}
		free(copy);
	}
	for (j = 0; j < nneed; j++)
		cs_buf_printf(&b, " %s", need[j]);
	cs_buf_printf(&b, " %call\"", qual);
	return cs_buf_detach(&b, NULL);
}

static bool spf_has_domain(const dr_spf_out *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->ndomains; i++)
		if (strcasecmp(o->domains[i], name) == 0)
			return true;
	return false;
}

/* The domain's SPF; *record_ok false when the record itself is broken
 * (then the inboxes' own SPF lines are not added: the domain's line
 * already fails). */
static void check_spf(run *R, dom *D, bool *record_ok)
{
	const char *dn = D->rep->domain;
	dr_list *L = &D->rep->checks;
	net_dns_answer *a = get(R, dn, NET_DNS_TXT);
	char **recs = NULL, **need = NULL;
	size_t nrec = 0, nneed = 0, i;
	cs_buf found = CS_BUF_INIT;
	dr_spf_out o;
	cs_err e = CS_ERR_INIT;
	char *fix = NULL, *w = NULL;
	bool bad = false;
	const char *why = "receivers check that the sending host is "
	                  "authorised by the From domain's SPF record; Gmail, "
	                  "Yahoo and Outlook.com require SPF (and DKIM) from "
	                  "bulk senders";

	*record_ok = false;
	memset(&o, 0, sizeof o);
	spf_needed(R, D, &need, &nneed);
	if (a->status == NET_DNS_ERROR) {
		w = cs_xasprintf("the TXT question for %s failed (%s): "
		                 "receivers get a temperror",
		                 dn, a->error);
		dr_list_add(L, "spf", "dns_error", DR_FAIL, dn, NULL, w,
		            "check the domain's name servers and coldseq's "
		            "resolver (config dns.servers)");
		goto out;
	}
	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++)
		if (is_spf(a->rr[i].text, a->rr[i].len)) {
			cs_buf t = CS_BUF_INIT;

			clean_text(a->rr[i].text, a->rr[i].len, &t);
			recs = cs_xrealloc(recs, (nrec + 1) * sizeof *recs);
			recs[nrec++] = cs_buf_detach(&t, NULL);
			cs_buf_printf(&found, "%s\"%s\"", nrec > 1 ? " " : "",
			              recs[nrec - 1]);
		}
	if (nrec == 0) {
		fix = spf_fix(dn, NULL, 0, need, nneed, true);
		dr_list_add(L, "spf", "missing", DR_FAIL, dn, NULL,
		            "the domain publishes no SPF record (v=spf1): "
		            "receivers cannot tell its servers from forgers, "
		            "and Gmail rejects unauthenticated mail",
		            fix);
		goto out;
	}
	if (nrec > 1) {
		fix = spf_fix(dn, recs, nrec, need, nneed, false);
		dr_list_add(L, "spf", "multiple", DR_FAIL, dn,
		            cs_buf_str(&found),
		            "two or more v=spf1 records make SPF a permerror "
		            "(RFC 7208 4.5): every receiver treats the domain "
		            "as having no valid SPF; replace them with one",
		            fix);
		goto out;
	}
	if (dr_spf_check(R->r, SPF_PROBE_IP, dn, NULL, NULL, &o, &e) != 0) {
		w = cs_xasprintf("SPF could not be evaluated: %s", e.msg);
		dr_list_add(L, "spf", "permerror", DR_FAIL, dn,
		            cs_buf_str(&found), w, NULL);
		goto out;
	}
	if (o.result == DR_SPF_TEMPERROR) {
		w = cs_xasprintf(
		    "a DNS error while evaluating SPF (%s): "
		    "receivers get a temperror and defer or reject",
		    o.reason);
		dr_list_add(L, "spf", "dns_error", DR_FAIL, dn,
		            cs_buf_str(&found), w,
		            "check the name servers of the domains the record "
		            "includes");
		goto out;
	}
	if (o.result == DR_SPF_PERMERROR) {
		const char *defect = "permerror";

		if (o.lookups > 10 || strstr(o.reason, "limit 10") ||
		    strstr(o.reason, "lookup limit"))
			defect = "lookup_limit";
		else if (o.voids > 2 || strstr(o.reason, "void"))
			defect = "void_limit";
		w = cs_xasprintf(
		    "SPF evaluation ends in permerror (%s, %d DNS-querying "
		    "terms, %d void lookups): receivers treat it as no valid "
		    "SPF; %s",
		    o.reason, o.lookups, o.voids,
		    strcmp(defect, "lookup_limit") == 0
		        ? "RFC 7208 allows 10 DNS-querying terms in all, "
		          "nested includes counted: replace this record with "
		          "one that names only the senders you use (or their "
		          "ip4:/ip6: ranges)"
		    : strcmp(defect, "void_limit") == 0
		        ? "more than 2 of its names do not exist (RFC 7208 "
		          "4.6.4): remove them"
		        : "correct the record");
		fix = spf_fix(dn, recs, nrec, need, nneed, true);
		dr_list_add(L, "spf", defect, DR_FAIL, dn, cs_buf_str(&found),
		            w, fix);
		goto out;
	}
	*record_ok = true;
	if (o.all_qualifier == '+') {
		fix = spf_fix(dn, recs, nrec, need, nneed, false);
		dr_list_add(
		    L, "spf", "plus_all", DR_FAIL, dn, cs_buf_str(&found),
		    "+all authorises every host on the Internet to send "
		    "as this domain: SPF then proves nothing and "
		    "receivers distrust the domain",
		    fix);
		bad = true;
	} else if (o.all_qualifier == '?') {
		fix = spf_fix(dn, recs, nrec, need, nneed, false);
		dr_list_add(L, "spf", "neutral_all", DR_WARN, dn,
		            cs_buf_str(&found),
		            "?all says nothing about hosts the record does not "
		            "list: forged mail gets neutral, not fail",
		            fix);
		bad = true;
	} else if (o.all_qualifier == 0) {
		fix = spf_fix(dn, recs, nrec, need, nneed, false);
		dr_list_add(L, "spf", "no_all", DR_WARN, dn, cs_buf_str(&found),
		            "the record does not end in -all or ~all: hosts it "
		            "does not list get neutral, not fail",
		            fix);
		bad = true;
	}
	{
		static const struct {
			cs_provider_id id;
			const char *inc;
		} prov[] = {
		    {CS_PROVIDER_GOOGLE, "_spf.google.com"},
		    {CS_PROVIDER_MICROSOFT, "spf.protection.outlook.com"},
		};
		bool has[2] = {D->google, D->microsoft};

		for (i = 0; i < 2; i++) {
			char *subj, *f;

			if (!has[i] || spf_has_domain(&o, prov[i].inc))
				continue;
			free(w);
			w = cs_xasprintf(
			    "the record does not include %s: mail the "
			    "domain's %s inboxes send fails SPF",
			    prov[i].inc, cs_provider_get(prov[i].id)->label);
			subj = cs_xasprintf("%s for %s", dn,
			                    cs_provider_get(prov[i].id)->label);
			f = spf_fix(dn, recs, nrec, need, nneed, false);
			dr_list_add(L, "spf", "provider_not_authorised",
			            DR_FAIL, subj, cs_buf_str(&found), w, f);
			free(subj);
			free(f);
			bad = true;
		}
	}
	if (!bad)
		dr_list_add(L, "spf", "", DR_PASS, dn, cs_buf_str(&found), why,
		            NULL);
out:
	free(w);
	free(fix);
	free_strv(recs, nrec);
	free_strv(need, nneed);
	cs_buf_free(&found);
	dr_spf_out_free(&o);
	net_dns_answer_unref(a);
}

/* A generic inbox: its SMTP host's every address must pass SPF. */
static void check_inbox_spf(run *R, dom *D, const db_inbox *in, host_addrs *h,
                            dr_list *L)
{
	const char *dn = D->rep->domain;
	size_t j;
	bool all_ok = true;

	for (j = 0; j < h->n; j++) {
		dr_spf_out o;
		cs_err e = CS_ERR_INIT;
		char *subj;

		if (is_loopback_ip(h->ip[j]))
			continue;
		memset(&o, 0, sizeof o);
		subj = cs_xasprintf("%s (%s) in the SPF of %s", h->ip[j],
		                    h->host, dn);
		if (dr_spf_check(R->r, h->ip[j], dn, in->email, NULL, &o, &e) !=
		        0 ||
		    o.result != DR_SPF_PASS) {
			char **need = NULL, *fix, *w, *rec;
			size_t nneed = 0;
			char *m = cs_xasprintf(
			    "%s:%s", strchr(h->ip[j], ':') ? "ip6" : "ip4",
			    h->ip[j]);

			need = cs_xcalloc(1, sizeof *need);
			need[nneed++] = m;
			rec = o.record ? o.record : NULL;
			fix = spf_fix(dn, &rec, rec ? 1 : 0, need, nneed,
			              rec == NULL);
			w = cs_xasprintf(
			    "this inbox sends through %s, whose address %s "
			    "gets "
			    "SPF %s at %s (%s): receivers treat its mail as "
			    "unauthenticated",
			    h->host, h->ip[j], dr_spf_result_name(o.result), dn,
			    o.reason[0] ? o.reason : e.msg);
			dr_list_add(L, "spf", "provider_not_authorised",
			            DR_FAIL, subj, o.record, w, fix);
			free(w);
			free(fix);
			free_strv(need, nneed);
			all_ok = false;
		}
		free(subj);
		dr_spf_out_free(&o);
	}
	if (all_ok && h->n > 0) {
		char *subj = cs_xasprintf("%s in the SPF of %s", h->host, dn);

		dr_list_add(L, "spf", "", DR_PASS, subj, NULL,
		            "the inbox's SMTP host is authorised by its "
		            "domain's SPF record",
		            NULL);
		free(subj);
	}
}

/* ---- DKIM -------------------------------------------------------------- */

static const char *dkim_fix_text(run *R, dom *D, const selector *s)
{
	(void)R;
	if (strcmp(s->name, "google") == 0 && D->google)
		return "in the Google Admin console (Apps > Google Workspace "
		       "> Gmail > Authenticate email) generate a 2048-bit key "
		       "with prefix selector 'google', publish the TXT record "
		       "it shows at google._domainkey.DOMAIN, then press Start "
		       "authentication";
	if (strncmp(s->name, "selector", 8) == 0 && D->microsoft)
		return "publish selector1._domainkey.DOMAIN and "
		       "selector2._domainkey.DOMAIN as the CNAMEs the "
		       "Microsoft Defender portal (Email authentication "
		       "settings > DKIM) shows for the domain, with 2048-bit "
		       "keys, then enable signing there";
	return "generate a 2048-bit key (openssl genrsa -out dkim.key 2048), "
	       "publish SELECTOR._domainkey.DOMAIN TXT \"v=DKIM1; k=rsa; "
	       "p=<openssl rsa -in dkim.key -pubout -outform der | base64 "
	       "-w0>\" and have your SMTP server sign with it (d=DOMAIN, "
	       "s=SELECTOR), or publish the key your mail provider gives you";
}

static char *fill(const char *tmpl, const char *selector_, const char *dn)
{
	cs_buf b = CS_BUF_INIT;
	const char *p;

	for (p = tmpl; *p; p++) {
		if (strncmp(p, "SELECTOR", 8) == 0) {
			cs_buf_puts(&b, selector_);
			p += 7;
		} else if (strncmp(p, "DOMAIN", 6) == 0) {
			cs_buf_puts(&b, dn);
			p += 5;
		} else {
			cs_buf_putc(&b, *p);
		}
	}
	return cs_buf_detach(&b, NULL);
}

/* One selector: 1 a usable key (pass or warn line added), 0 none there
 * (nothing added: the caller decides), -1 a failing line added. */
static int check_selector(run *R, dom *D, const selector *s, bool add_missing)
{
	dr_list *L = &D->rep->checks;
	char *name = cs_xasprintf("%s._domainkey.%s", s->name, s->domain);
	net_dns_answer *a = get(R, name, NET_DNS_TXT);
	const char *why = "receivers verify the DKIM signature with this key; "
	                  "Gmail, Yahoo and Outlook.com require DKIM from bulk "
	                  "senders, and DMARC needs it to survive forwarding";
	char *fix = fill(dkim_fix_text(R, D, s), s->name, s->domain);
	cs_buf found = CS_BUF_INIT;
	const char *txt = NULL;
	size_t n = 0, i;
	int rc = 0;

	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++)
		if (a->rr[i].len > 0) {
			txt = a->rr[i].text;
			n = a->rr[i].len;
			break;
		}
	if (txt) {
		clean_text(txt, n, &found);
		if (a->cname)
			cs_buf_printf(&found, " (via CNAME %s)", a->cname);
	}
	if (a->status == NET_DNS_ERROR) {
		char *w =
		    cs_xasprintf("the DKIM key question failed (%s)", a->error);

		dr_list_add(L, "dkim", "dns_error", DR_FAIL, name, NULL, w,
		            "check the domain's name servers and coldseq's "
		            "resolver (config dns.servers)");
		free(w);
		rc = -1;
	} else if (txt == NULL) {
		if (add_missing) {
			char *w = cs_xasprintf(
			    "no DKIM key at %s: receivers cannot verify mail "
			    "signed with selector %s, so it fails DKIM%s",
			    name, s->name,
			    s->seen ? " (receivers saw this selector on "
			              "the inbox's mail)"
			            : "");

			dr_list_add(L, "dkim", "key_missing", DR_FAIL, name,
			            NULL, w, fix);
			free(w);
			rc = -1;
		}
	} else {
		dr_dkim_key k;

		memset(&k, 0, sizeof k);
		dr_dkim_key_parse(txt, n, &k);
		if (k.revoked) {
			dr_list_add(L, "dkim", "key_revoked", DR_FAIL, name,
			            cs_buf_str(&found),
			            "the key is revoked (empty p=): every "
			            "signature with this selector fails",
			            fix);
			rc = -1;
		} else if (!k.valid) {
			char *w = cs_xasprintf(
			    "the key record is malformed (%s): every "
			    "signature with this selector fails",
			    k.error);

			dr_list_add(L, "dkim", "key_malformed", DR_FAIL, name,
			            cs_buf_str(&found), w, fix);
			free(w);
			rc = -1;
		} else if (strcmp(k.k, "rsa") == 0 && k.bits > 0 &&
		           k.bits < 1024) {
			char *w = cs_xasprintf(
			    "a %d-bit RSA key: receivers treat keys under 1024 "
			    "bits as no signature (RFC 8301)",
			    k.bits);

			dr_list_add(L, "dkim", "key_too_short", DR_FAIL, name,
			            cs_buf_str(&found), w, fix);
			free(w);
			rc = -1;
		} else {
			char *w = NULL;
			bool warned = false;

			rc = 1;
			if (strcmp(k.k, "rsa") == 0 && k.bits > 0 &&
			    k.bits < 2048) {
				w = cs_xasprintf(
				    "a %d-bit RSA key: accepted today, but "
				    "2048 bits is the current recommendation",
				    k.bits);
				dr_list_add(L, "dkim", "key_short", DR_WARN,
				            name, cs_buf_str(&found), w, fix);
				free(w);
				warned = true;
			}
			if (k.testing) {
				dr_list_add(
				    L, "dkim", "testing", DR_WARN, name,
				    cs_buf_str(&found),
				    "t=y: the domain says it is testing "
				    "DKIM, and receivers may ignore the "
				    "result",
				    "remove t=y from the key record");
				warned = true;
			}
			if (k.sha1_only) {
				dr_list_add(L, "dkim", "sha1_only", DR_WARN,
				            name, cs_buf_str(&found),
				            "h=sha1 only: RFC 8301 forbids "
				            "SHA-1 signatures",
				            "remove h= from the key record (or "
				            "set h=sha256)");
				warned = true;
			}
			if (!warned) {
				char *kw = cs_xasprintf("%s key of %d bits; %s",
				                        k.k, k.bits, why);

				dr_list_add(L, "dkim", "", DR_PASS, name,
				            cs_buf_str(&found), kw, NULL);
				free(kw);
			}
		}
	}
	free(fix);
	free(name);
	cs_buf_free(&found);
	net_dns_answer_unref(a);
	return rc;
}

static void check_dkim(run *R, dom *D)
{
	const char *dn = D->rep->domain;
	size_t i;
	bool any_probe = false, probe_found = false;
	cs_buf tried = CS_BUF_INIT;

	for (i = 0; i < D->nsel; i++) {
		if (D->sel[i].probe) {
			any_probe = true;
			cs_buf_printf(&tried, "%s%s", tried.len ? ", " : "",
			              D->sel[i].name);
			if (check_selector(R, D, &D->sel[i], false) != 0)
				probe_found = true;
		} else {
			check_selector(R, D, &D->sel[i], true);
		}
	}
	if (any_probe && !probe_found) {
		char *subj =
		    cs_xasprintf("{%s}._domainkey.%s", cs_buf_str(&tried), dn);
		char *fix = cs_xasprintf(
		    "generate a 2048-bit key (openssl genrsa -out dkim.key "
		    "2048), publish SELECTOR._domainkey.%s TXT \"v=DKIM1; "
		    "k=rsa; "
		    "p=<openssl rsa -in dkim.key -pubout -outform der | base64 "
		    "-w0>\" and have your SMTP server sign with it; if the "
		    "domain signs with another selector, name it: coldseq "
		    "config set doctor.dkim_selectors SELECTOR",
		    dn);

		dr_list_add(&D->rep->checks, "dkim", "key_missing", DR_FAIL,
		            subj, NULL,
		            "no DKIM key under the selectors tried, and no "
		            "received copy of this domain's mail showed its "
		            "selector: unsigned mail fails DKIM, which Gmail, "
		            "Yahoo and Outlook.com require from bulk senders",
		            fix);
		free(subj);
		free(fix);
	}
	cs_buf_free(&tried);
}

/* ---- DMARC ------------------------------------------------------------- */

static void check_dmarc(run *R, dom *D)
{
	const char *dn = D->rep->domain;
	dr_list *L = &D->rep->checks;
	dr_dmarc dm;
	cs_err e = CS_ERR_INIT;
	int found;
	size_t i;
	bool bad = false;
	const char *why = "DMARC ties SPF and DKIM to the From domain; Gmail, "
	                  "Yahoo and Outlook.com require it from senders of "
	                  "over 5000 messages a day";

	memset(&dm, 0, sizeof dm);
	found = dr_dmarc_find(R->r, dn, &dm, &e);
	if (found < 0) {
		char *w = cs_xasprintf("the DMARC question failed (%s)", e.msg);

		dr_list_add(L, "dmarc", "dns_error", DR_FAIL, dn, NULL, w,
		            "check the domain's name servers and coldseq's "
		            "resolver (config dns.servers)");
		free(w);
		return;
	}
	if (found == 0) {
		bool bulk = D->rep->daily_capacity > BULK_PER_DAY;
		char *w = cs_xasprintf(
		    "no DMARC record at _dmarc.%s%s%s: the domain's inboxes "
		    "together may send %lld messages a day; %s",
		    dn, strcmp(D->org, dn) ? " or _dmarc." : "",
		    strcmp(D->org, dn) ? D->org : "", D->rep->daily_capacity,
		    bulk ? "over 5000 a day, Gmail, Yahoo and Outlook.com "
		           "reject or junk a bulk sender without DMARC"
		         : "under 5000 a day it is not required yet, but "
		           "receivers trust a domain with DMARC more");
		char *fix = cs_xasprintf(
		    "_dmarc.%s. TXT \"v=DMARC1; p=none; rua=mailto:dmarc@%s\"",
		    dn, dn);

		char *subj = cs_xasprintf("_dmarc.%s", dn);

		dr_list_add(L, "dmarc", "missing", bulk ? DR_FAIL : DR_WARN,
		            subj, NULL, w, fix);
		free(subj);
		free(w);
		free(fix);
		return;
	}
	if (!dm.valid) {
		char *w = cs_xasprintf(
		    "the DMARC record is not valid (%s): receivers ignore it",
		    dm.error);
		char *fix = cs_xasprintf(
		    "%s. TXT \"v=DMARC1; p=none; rua=mailto:dmarc@%s\"",
		    dm.found_at ? dm.found_at : dn, dn);

		dr_list_add(L, "dmarc", "invalid", DR_FAIL,
		            dm.found_at ? dm.found_at : dn, dm.record, w, fix);
		free(w);
		free(fix);
		dr_dmarc_free(&dm);
		return;
	}
	if (dm.rua == NULL || dm.rua[0] == '\0') {
		cs_buf rec = CS_BUF_INIT;
		char *w, *fix;
		size_t n;

		cs_buf_puts(&rec, dm.record ? dm.record : "v=DMARC1; p=none");
		n = rec.len;
		while (n > 0 &&
		       (rec.data[n - 1] == ' ' || rec.data[n - 1] == ';'))
			n--;
		cs_buf_truncate(&rec, n);
		w = cs_xasprintf(
		    "the DMARC record has no rua=: nobody receives the "
		    "aggregate reports that show who sends as %s and whether "
		    "it passes%s",
		    dn,
		    strcmp(dm.p, "none") == 0
		        ? "; with p=none and no reports the record does "
		          "nothing at all"
		        : "");
		fix = cs_xasprintf("%s. TXT \"%s; rua=mailto:dmarc@%s\"",
		                   dm.found_at, cs_buf_str(&rec), dn);
		dr_list_add(L, "dmarc", "no_rua", DR_WARN, dm.found_at,
		            dm.record, w, fix);
		free(w);
		free(fix);
		cs_buf_free(&rec);
		bad = true;
	}
	/* alignment: the d= receivers saw against the From domain */
	for (i = 0; i < D->nsel; i++) {
		const selector *s = &D->sel[i];
		char *w, *subj, *fix;

		if (!s->seen || dr_aligned(s->domain, dn, dm.adkim))
			continue;
		subj = cs_xasprintf("DKIM d=%s for From %s (adkim=%c)",
		                    s->domain, dn, dm.adkim);
		w = cs_xasprintf(
		    "receivers saw this domain's mail signed with d=%s, which "
		    "is not aligned with the From domain %s (%s): the "
		    "signature does not count for DMARC, which then rests on "
		    "SPF alone and fails when mail is forwarded",
		    s->domain, dn,
		    dm.adkim == 's' ? "strict: d= must equal it"
		                    : "relaxed: same organizational domain");
		fix = cs_xasprintf(
		    "have your provider sign with d=%s (publish its DKIM key "
		    "for %s and turn on signing for the domain)%s",
		    dn, dn,
		    dm.adkim == 's' ? ", or relax alignment with adkim=r" : "");
		dr_list_add(L, "dmarc", "misaligned", DR_FAIL, subj, dm.record,
		            w, fix);
		free(subj);
		free(w);
		free(fix);
		bad = true;
	}
	if (!bad) {
		char *w = cs_xasprintf("p=%s; %s", dm.p, why);

		dr_list_add(L, "dmarc", "", DR_PASS, dm.found_at, dm.record, w,
		            NULL);
		free(w);
	}
	dr_dmarc_free(&dm);
}

/* ---- MTA-STS, TLS-RPT (presence, warn only) ---------------------------- */

static void check_presence(run *R, dom *D, const char *check, const char *label,
                           const char *prefix, const char *why,
                           const char *fix_fmt)
{
	const char *dn = D->rep->domain;
	char *name = cs_xasprintf("%s.%s", label, dn);
	net_dns_answer *a = get(R, name, NET_DNS_TXT);
	cs_buf found = CS_BUF_INIT;
	size_t i;

	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++)
		if (starts_ci(a->rr[i].text, a->rr[i].len, prefix)) {
			clean_text(a->rr[i].text, a->rr[i].len, &found);
			break;
		}
	if (found.len) {
		dr_list_add(&D->rep->checks, check, "", DR_PASS, name,
		            cs_buf_str(&found), why, NULL);
	} else {
		char *fix = cs_xasprintf(fix_fmt, dn, dn);

		dr_list_add(&D->rep->checks, check, "missing", DR_WARN, name,
		            NULL, why, fix);
		free(fix);
	}
	cs_buf_free(&found);
	net_dns_answer_unref(a);
	free(name);
}

/* ---- per inbox: PTR ---------------------------------------------------- */

static void check_ptr(run *R, const char *ip, const char *host, dr_list *L)
{
	cs_buf rev = CS_BUF_INIT, found = CS_BUF_INIT;
	net_dns_answer *a;
	char *subj = cs_xasprintf("%s (%s)", ip, host);
	const char *why = "receivers (Gmail first) refuse or junk mail from an "
	                  "address without reverse DNS that resolves back to "
	                  "it (forward-confirmed)";
	size_t i, k;
	bool confirmed = false;

	if (net_dns_reverse_name(ip, &rev, NULL) != 0) {
		free(subj);
		return;
	}
	a = get(R, cs_buf_str(&rev), NET_DNS_PTR);
	if (a->status == NET_DNS_ERROR) {
		char *w = cs_xasprintf("the PTR question for %s failed (%s)",
		                       cs_buf_str(&rev), a->error);

		dr_list_add(L, "ptr", "dns_error", DR_FAIL, subj, NULL, w,
		            "check the reverse zone's name servers and "
		            "coldseq's resolver (config dns.servers)");
		free(w);
	} else if (a->status != NET_DNS_OK || a->n == 0) {
		char *fix = cs_xasprintf(
		    "%s. PTR %s. (set by the owner of the address: your "
		    "hosting provider's reverse DNS setting), with %s "
		    "resolving to %s",
		    cs_buf_str(&rev), host, host, ip);

		dr_list_add(L, "ptr", "ptr_missing", DR_FAIL, subj, NULL, why,
		            fix);
		free(fix);
	} else {
		for (i = 0; i < a->n && !confirmed; i++) {
			int t = strchr(ip, ':') ? NET_DNS_AAAA : NET_DNS_A;
			net_dns_answer *f = get(R, a->rr[i].text, t);

			cs_buf_printf(&found, "%s%s", i ? ", " : "",
			              a->rr[i].text);
			for (k = 0; f->status == NET_DNS_OK && k < f->n; k++)
				if (strcmp(f->rr[k].text, ip) == 0)
					confirmed = true;
			net_dns_answer_unref(f);
		}
		for (; i < a->n; i++)
			cs_buf_printf(&found, ", %s", a->rr[i].text);
		if (confirmed) {
			dr_list_add(L, "ptr", "", DR_PASS, subj,
			            cs_buf_str(&found), why, NULL);
		} else {
			char *w = cs_xasprintf(
			    "the reverse name %s does not resolve back to %s "
			    "(not forward-confirmed): %s",
			    a->rr[0].text, ip, why);
			char *fix = cs_xasprintf(
			    "%s. %s %s (or set the PTR of %s to a name that "
			    "resolves to it)",
			    a->rr[0].text, strchr(ip, ':') ? "AAAA" : "A", ip,
			    ip);

			dr_list_add(L, "ptr", "ptr_mismatch", DR_FAIL, subj,
			            cs_buf_str(&found), w, fix);
			free(w);
			free(fix);
		}
	}
	net_dns_answer_unref(a);
	cs_buf_free(&rev);
	cs_buf_free(&found);
	free(subj);
}

static void check_inbox(run *R, dom *D, size_t i, dr_inbox_report *ir,
                        const bool spf_ok)
{
	const db_inbox *in = R->in[i];
	dr_list *L = &ir->checks;
	host_addrs *h = NULL;
	cs_err e = CS_ERR_INIT;
	size_t j;

	if (in->provider == CS_PROVIDER_GENERIC && in->smtp_host)
		h = host_of(R, in->smtp_host);
	if (h && h->unresolved) {
		char *w = cs_xasprintf(
		    "the inbox's SMTP host %s has no address%s%s: its SPF, "
		    "reverse DNS and block lists cannot be checked",
		    h->host, h->error[0] ? ": " : "", h->error);

		dr_list_add(L, "spf", "host_unresolved", DR_WARN, h->host, NULL,
		            w, "check the inbox's --smtp host name");
		free(w);
	} else if (h && !h->local) {
		if (spf_ok)
			check_inbox_spf(R, D, in, h, L);
		for (j = 0; j < h->n; j++)
			if (!is_loopback_ip(h->ip[j]))
				check_ptr(R, h->ip[j], h->host, L);
		for (j = 0; j < h->n; j++)
			if (!is_loopback_ip(h->ip[j]))
				dr_dnsbl_check(R->r, R->bl, DR_BL_IP, h->ip[j],
				               L);
	}
	if (dr_seen_checks(R->d, in->id, R->o->now, L, &e) != 0)
		cs_log(CS_LOG_WARN, "doctor: inbox %s: %s", in->name, e.msg);
	if (R->unsub_url)
		dr_list_add(
		    L, "headers", "", DR_PASS, in->email, NULL,
		    "campaign messages carry List-Unsubscribe with a "
		    "URL and List-Unsubscribe-Post (RFC 8058 one-click)",
		    NULL);
	else
		dr_list_add(
		    L, "headers", "no_one_click", DR_WARN, in->email,
		    "List-Unsubscribe: <mailto:...> only",
		    "without unsubscribe.url_template campaign messages "
		    "carry no one-click List-Unsubscribe-Post (RFC 8058), "
		    "which Gmail and Yahoo require from bulk senders",
		    "coldseq config set unsubscribe.url_template "
		    "'https://YOUR-SITE/u/{token}'");
}

/* ---- the run ----------------------------------------------------------- */

static void free_run(run *R)
{
	size_t i, j;

	for (i = 0; i < R->nhosts; i++) {
		free_strv(R->hosts[i].ip, R->hosts[i].n);
		free(R->hosts[i].host);
	}
	free(R->hosts);
	for (i = 0; i < R->ndoms; i++) {
		for (j = 0; j < R->doms[i].nsel; j++) {
			free(R->doms[i].sel[j].name);
			free(R->doms[i].sel[j].domain);
		}
		free(R->doms[i].sel);
		free(R->doms[i].inb);
	}
	free(R->doms);
	free(R->in);
	db_inbox_list_free(R->all, R->nall);
}

static int load_lists(run *R, dr_blocklists *own, cs_err *err)
{
	cs_buf path = CS_BUF_INIT;
	int rc;

	if (R->o->blocklists) {
		R->bl = R->o->blocklists;
		return 0;
	}
	if ((rc = db_config_get(R->d, "doctor.blocklists", &path, NULL, err)) !=
	    0) {
		cs_buf_free(&path);
		return rc;
	}
	if (path.len)
		rc = dr_blocklists_load(cs_buf_str(&path), own, err);
	else
		dr_blocklists_default(own);
	cs_buf_free(&path);
	R->bl = own;
	return rc;
}

int dr_run(db *d, net_dns *r, const dr_opts *o, dr_report *out, cs_err *err)
{
	run R;
	dr_blocklists own;
	cs_buf url = CS_BUF_INIT;
	size_t i, k;
	int rc;

	memset(&R, 0, sizeof R);
	memset(&own, 0, sizeof own);
	memset(out, 0, sizeof *out);
	R.d = d;
	R.r = r;
	R.o = o;
	R.rep = out;
	if ((rc = db_inbox_list(d, NULL, &R.all, &R.nall, err)) != 0)
		return rc;
	if ((rc = choose(&R, err)) != 0 ||
	    (rc = load_lists(&R, &own, err)) != 0)
		goto out;
	if ((rc = db_config_get(d, "unsubscribe.url_template", &url, NULL,
	                        err)) != 0)
		goto out;
	R.unsub_url = url.len > 0;
	if ((rc = group(&R, err)) != 0)
		goto out;
	phase1(&R);
	phase2(&R);

	out->inboxes = cs_xcalloc(R.nin + 1, sizeof *out->inboxes);
	out->ninboxes = R.nin;
	for (i = 0; i < R.ndoms; i++) {
		dom *D = &R.doms[i];
		bool spf_ok;

		check_mx(&R, D);
		check_spf(&R, D, &spf_ok);
		check_dkim(&R, D);
		check_dmarc(&R, D);
		dr_dnsbl_check(r, R.bl, DR_BL_DOMAIN, D->rep->domain,
		               &D->rep->checks);
		check_presence(
		    &R, D, "mta_sts", "_mta-sts", "v=STSv1",
		    "MTA-STS tells senders to deliver to this domain only over "
		    "verified TLS (RFC 8461); receivers do not require it",
		    "_mta-sts.%s. TXT \"v=STSv1; id=1\", and serve the policy "
		    "at https://mta-sts.%s/.well-known/mta-sts.txt");
		check_presence(&R, D, "tls_rpt", "_smtp._tls", "v=TLSRPTv1",
		               "TLS-RPT asks senders to report TLS failures "
		               "delivering to this domain (RFC 8460)",
		               "_smtp._tls.%s. TXT \"v=TLSRPTv1; "
		               "rua=mailto:tls-reports@%s\"");
		D->rep->verdict = dr_list_worst(&D->rep->checks);
		for (k = 0; k < D->ninb; k++) {
			size_t j = D->inb[k];
			dr_inbox_report *ir = &out->inboxes[j];
			const db_inbox *in = R.in[j];
			dr_status w;

			ir->id = in->id;
			ir->name = cs_xstrdup(in->name);
			ir->email = cs_xstrdup(in->email);
			ir->domain = D->rep->domain;
			ir->provider = in->provider;
			check_inbox(&R, D, j, ir, spf_ok);
			w = dr_list_worst(&ir->checks);
			ir->verdict = w > D->rep->verdict ? w : D->rep->verdict;
		}
		if (D->rep->verdict > out->verdict)
			out->verdict = D->rep->verdict;
	}
	for (i = 0; i < out->ninboxes; i++)
		if (out->inboxes[i].verdict > out->verdict)
			out->verdict = out->inboxes[i].verdict;
	rc = 0;
out:
	cs_buf_free(&url);
	dr_blocklists_free(&own);
	free_run(&R);
	if (rc != 0)
		dr_report_free(out);
	return rc;
}
