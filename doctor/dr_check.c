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
 * SPF, DKIM and DMARC are judged in dr_auth.c.  coldseq gives the
 * inbox's own address as MAIL FROM (smtp/smtp_session.c), so SPF's
 * identifier is the From domain and always aligned; DKIM alignment is
 * judged from the d= receivers saw on our received copies.
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MS 86400000LL

static const char default_selectors[] = "default,mail,dkim,s1,s2,k1";

/* ---- small helpers ----------------------------------------------------- */

void dr_free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void noop(void *arg, const net_dns_answer *a)
{
	(void)arg;
	(void)a;
}

static void ask(dr_ctx *R, const char *name, int type)
{
	net_dns_query(R->r, name, type, noop, NULL);
}

static void askf(dr_ctx *R, int type, const char *fmt, const char *a,
                 const char *b)
{
	char *q = cs_xasprintf(fmt, a, b);

	ask(R, q, type);
	free(q);
}

net_dns_answer *dr_get(dr_ctx *R, const char *name, int type)
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

static int inbox_index(dr_ctx *R, const char *key)
{
	size_t i;

	for (i = 0; i < R->nall; i++)
		if (strcasecmp(R->all[i].name, key) == 0 ||
		    strcasecmp(R->all[i].email, key) == 0)
			return (int)i;
	return -1;
}

static bool chosen(dr_ctx *R, const db_inbox *in)
{
	size_t i;

	for (i = 0; i < R->nin; i++)
		if (R->in[i] == in)
			return true;
	return false;
}

static int choose(dr_ctx *R, cs_err *err)
{
	const dr_opts *o = R->o;
	size_t i;

	R->in = cs_xcalloc(R->nall + 1, sizeof(db_inbox *));
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

static void add_selector(dr_dom *D, const char *name, const char *domain,
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

static int group(dr_ctx *R, cs_err *err)
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
		dr_dom *D = &R->doms[i];
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

dr_host *dr_host_of(dr_ctx *R, const char *host)
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

bool dr_is_loopback_ip(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

static void phase1(dr_ctx *R)
{
	size_t i, j;

	for (i = 0; i < R->ndoms; i++) {
		dr_dom *D = &R->doms[i];
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
		dr_host *h;
		int fam;

		if (in->provider != CS_PROVIDER_GENERIC ||
		    in->smtp_host == NULL || in->smtp_host[0] == '\0' ||
		    dr_host_of(R, in->smtp_host))
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

static void host_add_ip(dr_host *h, const char *ip)
{
	h->ip = cs_xrealloc(h->ip, (h->n + 1) * sizeof *h->ip);
	h->ip[h->n++] = cs_xstrdup(ip);
}

static void phase2(dr_ctx *R)
{
	size_t i, j;
	static const int types[] = {NET_DNS_A, NET_DNS_AAAA};

	for (i = 0; i < R->nhosts; i++) {
		dr_host *h = &R->hosts[i];
		int fam;

		if (is_literal(h->host, &fam)) {
			host_add_ip(h, h->host);
		} else if (!cs_is_loopback_host(h->host)) {
			for (j = 0; j < 2; j++) {
				net_dns_answer *a =
				    dr_get(R, h->host, types[j]);
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

			if (dr_is_loopback_ip(h->ip[j]))
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

static void check_mx(dr_ctx *R, dr_dom *D)
{
	const char *dn = D->rep->domain;
	dr_list *L = &D->rep->checks;
	net_dns_answer *a = dr_get(R, dn, NET_DNS_MX);
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

/* ---- MTA-STS, TLS-RPT (presence, warn only) ---------------------------- */

static void check_presence(dr_ctx *R, dr_dom *D, const char *check,
                           const char *label, const char *prefix,
                           const char *why, const char *fix_fmt)
{
	const char *dn = D->rep->domain;
	char *name = cs_xasprintf("%s.%s", label, dn);
	net_dns_answer *a = dr_get(R, name, NET_DNS_TXT);
	cs_buf found = CS_BUF_INIT;
	size_t i;

	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++)
		if (starts_ci(a->rr[i].text, a->rr[i].len, prefix)) {
			dr_clean_text(a->rr[i].text, a->rr[i].len, &found);
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

static void check_ptr(dr_ctx *R, const char *ip, const char *host, dr_list *L)
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
	a = dr_get(R, cs_buf_str(&rev), NET_DNS_PTR);
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
			net_dns_answer *f = dr_get(R, a->rr[i].text, t);

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

static void check_inbox(dr_ctx *R, dr_dom *D, size_t i, dr_inbox_report *ir,
                        const bool spf_ok)
{
	const db_inbox *in = R->in[i];
	dr_list *L = &ir->checks;
	dr_host *h = NULL;
	cs_err e = CS_ERR_INIT;
	size_t j;

	if (in->provider == CS_PROVIDER_GENERIC && in->smtp_host)
		h = dr_host_of(R, in->smtp_host);
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
			dr_check_inbox_spf(R, D, in, h, L);
		for (j = 0; j < h->n; j++)
			if (!dr_is_loopback_ip(h->ip[j]))
				check_ptr(R, h->ip[j], h->host, L);
		for (j = 0; j < h->n; j++)
			if (!dr_is_loopback_ip(h->ip[j]))
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

static void free_run(dr_ctx *R)
{
	size_t i, j;

	for (i = 0; i < R->nhosts; i++) {
		dr_free_strv(R->hosts[i].ip, R->hosts[i].n);
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

static int load_lists(dr_ctx *R, dr_blocklists *own, cs_err *err)
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
	dr_ctx R;
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
		dr_dom *D = &R.doms[i];
		bool spf_ok;

		check_mx(&R, D);
		dr_check_spf(&R, D, &spf_ok);
		dr_check_dkim(&R, D);
		dr_check_dmarc(&R, D);
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
