/*
 * dr_auth.c - the sending domain's authentication records, as receivers
 * judge them: SPF (one record, within its limits, authorising the
 * inboxes' providers and hosts), DKIM (a usable key for each selector
 * the provider uses or receivers saw), DMARC (present, reported,
 * aligned).  Each failing line carries the exact record to publish.
 * dr_check.c runs them after the answers are in the resolver's cache.
 *
 * The SPF of a domain is evaluated for SPF_PROBE_IP (a documentation
 * address no record authorises), so that the whole record is walked:
 * every include, the lookup and void limits.
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPF_PROBE_IP "192.0.2.0"
#define BULK_PER_DAY 5000

/* ---- SPF --------------------------------------------------------------- */

/* The mechanisms the domain's inboxes need in its SPF record. */
static void spf_needed(dr_ctx *R, dr_dom *D, char ***out, size_t *n)
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
		dr_host *h;

		if (in->provider != CS_PROVIDER_GENERIC || !in->smtp_host ||
		    (h = dr_host_of(R, in->smtp_host)) == NULL || h->local)
			continue;
		if (h->unresolved) {
			char *m = cs_xasprintf("a:%s", h->host);

			NEED(m);
			free(m);
			continue;
		}
		for (j = 0; j < h->n; j++) {
			char *m;

			if (dr_is_loopback_ip(h->ip[j]))
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
void dr_check_spf(dr_ctx *R, dr_dom *D, bool *record_ok)
{
	const char *dn = D->rep->domain;
	dr_list *L = &D->rep->checks;
	net_dns_answer *a = dr_get(R, dn, NET_DNS_TXT);
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
		if (dr_spf_is_record(a->rr[i].text, a->rr[i].len)) {
			cs_buf t = CS_BUF_INIT;

			dr_clean_text(a->rr[i].text, a->rr[i].len, &t);
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
	dr_free_strv(recs, nrec);
	dr_free_strv(need, nneed);
	cs_buf_free(&found);
	dr_spf_out_free(&o);
	net_dns_answer_unref(a);
}

/* A generic inbox: its SMTP host's every address must pass SPF. */
void dr_check_inbox_spf(dr_ctx *R, dr_dom *D, const db_inbox *in, dr_host *h,
                        dr_list *L)
{
	const char *dn = D->rep->domain;
	size_t j;
	bool all_ok = true;

	for (j = 0; j < h->n; j++) {
		dr_spf_out o;
		cs_err e = CS_ERR_INIT;
		char *subj;

		if (dr_is_loopback_ip(h->ip[j]))
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
			dr_free_strv(need, nneed);
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

static const char *dkim_fix_text(dr_ctx *R, dr_dom *D, const dr_selector *s)
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
static int check_selector(dr_ctx *R, dr_dom *D, const dr_selector *s,
                          bool add_missing)
{
	dr_list *L = &D->rep->checks;
	char *name = cs_xasprintf("%s._domainkey.%s", s->name, s->domain);
	net_dns_answer *a = dr_get(R, name, NET_DNS_TXT);
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
		dr_clean_text(txt, n, &found);
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
				/* no signature can verify: rsa-sha1 ones are
				 * invalid (RFC 8301 3.1), and an rsa-sha256
				 * one may not use a key whose h= leaves
				 * sha256 out (RFC 6376 6.1.2) */
				dr_list_add(
				    L, "dkim", "sha1_only", DR_FAIL, name,
				    cs_buf_str(&found),
				    "h=sha1 only: every signature with "
				    "this selector fails (receivers "
				    "refuse SHA-1 signatures, RFC 8301, "
				    "and this key refuses SHA-256 ones)",
				    "remove h= from the key record (or "
				    "set h=sha256)");
				warned = true;
				rc = -1;
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

void dr_check_dkim(dr_ctx *R, dr_dom *D)
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
	if (D->nsel == 0) {
		/* doctor.dkim_selectors set empty and no copy seen */
		char *subj = cs_xasprintf("SELECTOR._domainkey.%s", dn);

		dr_list_add(&D->rep->checks, "dkim", "selector_unknown",
		            DR_WARN, subj, NULL,
		            "no selector to check: none is configured to try "
		            "and no received copy of this domain's mail "
		            "showed one, so its DKIM key was not checked",
		            "name the selector your SMTP server signs with: "
		            "coldseq config set doctor.dkim_selectors "
		            "SELECTOR");
		free(subj);
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

void dr_check_dmarc(dr_ctx *R, dr_dom *D)
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
		const dr_selector *s = &D->sel[i];
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
