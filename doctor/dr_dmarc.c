/*
 * dr_dmarc.c - DMARC records (RFC 7489 6.3, 6.4), their discovery (6.6.3:
 * _dmarc.<From domain>, then _dmarc.<organizational domain>, no further
 * walk), identifier alignment (3.1), and the organizational domain by the
 * Public Suffix List (libpsl, Debian's publicsuffix file when present,
 * else the list built into libpsl; loaded once per process).
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor/doctor_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

/* ---- organizational domain ---------------------------------------------- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_init(void)
{
	psl_ctx_t *p = psl_latest(NULL);

	if (p == NULL)
		p = psl_load_file(PSL_FILE);
	psl_ctx = p != NULL ? p : psl_builtin();
}

static void lower_copy(const char *s, char *out, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	if (i > 0 && out[i - 1] == '.')
		out[i - 1] = '\0';
}

void dr_org_domain(const char *domain, char *out, size_t cap)
{
	char d[256];
	const char *r = NULL;

	if (cap == 0)
		return;
	lower_copy(domain ? domain : "", d, sizeof d);
	pthread_once(&psl_once, psl_init);
	if (psl_ctx != NULL && d[0] != '\0')
		r = psl_registrable_domain(psl_ctx, d);
	snprintf(out, cap, "%s", r != NULL ? r : d);
}

bool dr_aligned(const char *a, const char *b, char mode)
{
	char la[256], lb[256], oa[256], ob[256];

	if (a == NULL || b == NULL)
		return false;
	lower_copy(a, la, sizeof la);
	lower_copy(b, lb, sizeof lb);
	if (la[0] == '\0' || lb[0] == '\0')
		return false;
	if (strcmp(la, lb) == 0)
		return true;
	if (mode == 's')
		return false;
	dr_org_domain(la, oa, sizeof oa);
	dr_org_domain(lb, ob, sizeof ob);
	return strcmp(oa, ob) == 0;
}

/* ---- the record -----------------------------------------------------------
 */

static void invalid(dr_dmarc *d, const char *fmt, ...) CS_PRINTF(2, 3);
static void invalid(dr_dmarc *d, const char *fmt, ...)
{
	va_list ap;

	d->valid = false;
	if (d->error[0] != '\0')
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(d->error, sizeof d->error, fmt, ap);
	va_end(ap);
}

static bool policy_word(const char *v, size_t n, char out[16])
{
	static const char *const words[] = {"none", "quarantine", "reject"};
	size_t i;

	for (i = 0; i < 3; i++)
		if (strlen(words[i]) == n && strncasecmp(v, words[i], n) == 0) {
			strcpy(out, words[i]);
			return true;
		}
	return false;
}

/* At least one syntactically valid DMARC URI (6.4: URI ["!" size]) in a
 * comma-separated list: scheme ":" something, a mailto: with an '@'. */
static bool uri_list_ok(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t b, e, j;
		const char *colon;

		while (i < n && isspace((unsigned char)v[i]))
			i++;
		b = i;
		while (i < n && v[i] != ',')
			i++;
		e = i++;
		while (e > b && isspace((unsigned char)v[e - 1]))
			e--;
		colon = memchr(v + b, ':', e - b);
		if (colon == NULL || colon == v + b || colon + 1 >= v + e ||
		    !isalpha((unsigned char)v[b]))
			continue;
		for (j = b; v + j < colon; j++)
			if (!isalnum((unsigned char)v[j]) && v[j] != '+' &&
			    v[j] != '-' && v[j] != '.')
				break;
		if (v + j != colon)
			continue;
		if ((size_t)(colon - (v + b)) == 6 &&
		    strncasecmp(v + b, "mailto", 6) == 0 &&
		    memchr(colon, '@', (size_t)(v + e - colon)) == NULL)
			continue;
		return true;
	}
	return false;
}

/* Whether txt begins with the tag v=DMARC1 (6.6.3: other TXT records at
 * _dmarc are ignored). */
static bool is_dmarc(const char *txt, size_t n)
{
	const char *p = txt;
	cs_tag t;

	return cs_tag_next(&p, txt + n, &t) == 1 && cs_tag_is(&t, "v") &&
	       t.value_len == 6 && memcmp(t.value, "DMARC1", 6) == 0;
}

void dr_dmarc_parse(const char *txt, size_t n, dr_dmarc *out)
{
	const char *p = txt, *end;
	bool have_p = false, bad_p = false, bad_sp = false, have_sp = false;
	cs_tag t;

	memset(out, 0, sizeof *out);
	out->adkim = out->aspf = 'r';
	out->pct = 100;
	out->valid = true;
	if (txt == NULL) {
		invalid(out, "no record");
		return;
	}
	end = txt + n;
	out->record = cs_xstrndup(txt, n);
	if (!is_dmarc(txt, n)) {
		invalid(out, "not a DMARC record (v=DMARC1 must be the first "
		             "tag)");
		return;
	}
	/* 6.3: a syntax error in the rest of the record is discarded (the
	 * tags before it stand) */
	while (cs_tag_next(&p, end, &t) == 1) {
		if (cs_tag_is(&t, "p") && !have_p) {
			have_p = true;
			bad_p = !policy_word(t.value, t.value_len, out->p);
		} else if (cs_tag_is(&t, "sp") && !have_sp) {
			have_sp = true;
			bad_sp = !policy_word(t.value, t.value_len, out->sp);
		} else if (cs_tag_is(&t, "adkim") || cs_tag_is(&t, "aspf")) {
			/* 6.3: a bad value falls back to the default */
			char m = t.value_len == 1
			             ? (char)tolower((unsigned char)t.value[0])
			             : 0;

			if (m == 'r' || m == 's')
				*(cs_tag_is(&t, "adkim") ? &out->adkim
				                         : &out->aspf) = m;
		} else if (cs_tag_is(&t, "pct")) {
			int v = 0;
			size_t i;

			for (i = 0; i < t.value_len && v <= 100; i++) {
				if (!isdigit((unsigned char)t.value[i]))
					break;
				v = v * 10 + (t.value[i] - '0');
			}
			if (t.value_len > 0 && i == t.value_len && v <= 100)
				out->pct = v;
		} else if (cs_tag_is(&t, "rua") && out->rua == NULL) {
			out->rua = cs_xstrndup(t.value, t.value_len);
		} else if (cs_tag_is(&t, "ruf") && out->ruf == NULL) {
			out->ruf = cs_xstrndup(t.value, t.value_len);
		}
	}
	if (!have_p || bad_p || bad_sp) {
		/* 6.6.3: no valid p= (or a bad sp=) with a valid rua acts as
		 * p=none; without one the record is not usable */
		if (out->rua != NULL &&
		    uri_list_ok(out->rua, strlen(out->rua))) {
			strcpy(out->p, "none");
			strcpy(out->sp, "none");
			return;
		}
		if (!have_p)
			invalid(out, "no p= tag (the policy)");
		else if (bad_p)
			invalid(out, "p= is not none, quarantine or reject");
		else
			invalid(out, "sp= is not none, quarantine or reject");
		return;
	}
	if (!have_sp)
		strcpy(out->sp, out->p);
}

/* _dmarc.<domain>: 1 one DMARC record (parsed into *out), 0 none, 2 more
 * than one (out->error and found_at say so), -1 a DNS error. */
static int find_at(const dr_dns_src *src, const char *domain, dr_dmarc *out,
                   cs_err *err)
{
	char *name = cs_xasprintf("_dmarc.%s", domain);
	net_dns_answer *a = src->query(src->arg, name, NET_DNS_TXT);
	const net_dns_rr *rec = NULL;
	size_t i, nrec = 0;
	int rc = 0;

	if (a->status == NET_DNS_ERROR) {
		cs_err_set(err, CS_ETEMP, "DNS error on TXT %s: %s", name,
		           a->error[0] ? a->error : "no answer");
		rc = -1;
	}
	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++)
		if (is_dmarc(a->rr[i].text, a->rr[i].len) && nrec++ == 0)
			rec = &a->rr[i];
	if (nrec == 1) {
		dr_dmarc_parse(rec->text, rec->len, out);
		out->found_at = cs_xstrdup(name);
		rc = 1;
	} else if (nrec > 1) {
		memset(out, 0, sizeof *out);
		snprintf(
		    out->error, sizeof out->error,
		    "%zu DMARC records at %s (RFC 7489 6.6.3: none applies)",
		    nrec, name);
		out->found_at = cs_xstrdup(name);
		rc = 2;
	}
	src->release(src->arg, a);
	free(name);
	return rc;
}

int dr_dmarc_find_src(const dr_dns_src *src, const char *from_domain,
                      dr_dmarc *out, cs_err *err)
{
	char d[256], org[256];
	int rc;

	memset(out, 0, sizeof *out);
	lower_copy(from_domain ? from_domain : "", d, sizeof d);
	if (d[0] == '\0') {
		cs_err_set(err, CS_EINVAL, "no From domain to look up");
		return -1;
	}
	/* 6.6.3: more than one record ends discovery (no fallback) */
	rc = find_at(src, d, out, err);
	if (rc != 0)
		return rc == 2 ? 0 : rc;
	dr_org_domain(d, org, sizeof org);
	if (strcmp(org, d) == 0)
		return 0;
	rc = find_at(src, org, out, err);
	return rc == 2 ? 0 : rc;
}

int dr_dmarc_find(net_dns *r, const char *from_domain, dr_dmarc *out,
                  cs_err *err)
{
	dr_dns_src src = dr_dns_src_net(r);

	return dr_dmarc_find_src(&src, from_domain, out, err);
}

void dr_dmarc_free(dr_dmarc *d)
{
	if (d == NULL)
		return;
	free(d->rua);
	free(d->ruf);
	free(d->record);
	free(d->found_at);
	memset(d, 0, sizeof *d);
}
