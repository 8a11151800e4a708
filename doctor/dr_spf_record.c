/*
 * dr_spf_record.c - an SPF record as RFC 7208 writes it: the whole
 * record parsed and checked before anything is evaluated (4.6: a syntax
 * error anywhere is permerror), terms (5, 6), domain-specs and macro
 * syntax (7.1), CIDR lengths.  dr_spf.c evaluates what this parses.
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor/doctor_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	dr_spf_mech kind;
} mechs[] = {{"all", DR_SPF_M_ALL}, {"include", DR_SPF_M_INCLUDE},
             {"a", DR_SPF_M_A},     {"mx", DR_SPF_M_MX},
             {"ptr", DR_SPF_M_PTR}, {"ip4", DR_SPF_M_IP4},
             {"ip6", DR_SPF_M_IP6}, {"exists", DR_SPF_M_EXISTS}};

void dr_spf_rec_free(dr_spf_rec *r)
{
	free(r->t);
	memset(r, 0, sizeof *r);
}

int dr_spf_fail_why(char *why, size_t cap, const char *fmt, ...)
    CS_PRINTF(3, 4);
int dr_spf_fail_why(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_delim(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/* toplabel of RFC 7208 12: letters, digits and inner hyphens, not all
 * digits. */
static bool toplabel_ok(const char *s, size_t n)
{
	bool alpha = false, hyphen = false;
	size_t i;

	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return alpha || hyphen;
}

/*
 * One macro-expand at s[0..n) beginning "%{": its length into *len, its
 * letter (as written), keep count (0: all), reverse flag and delimiters.
 * exp: c, r, t are allowed (7.1).
 */
int dr_spf_macro_parse(const char *s, size_t n, bool exp, size_t *len,
                       char *letter, int *keep, bool *rev, const char **dl,
                       size_t *ndl, char *why, size_t cap)
{
	size_t i = 2;
	char l;

	if (i >= n)
		return dr_spf_fail_why(why, cap, "unterminated macro %%{");
	l = (char)tolower((unsigned char)s[i]);
	if (strchr("slodiphvcrt", l) == NULL || s[i] == '\0')
		return dr_spf_fail_why(why, cap, "unknown macro letter %%{%c",
		                       s[i]);
	if (!exp && strchr("crt", l) != NULL)
		return dr_spf_fail_why(
		    why, cap, "macro %%{%c is allowed only in exp= text", s[i]);
	*letter = s[i++];
	*keep = 0;
	if (i < n && isdigit((unsigned char)s[i])) {
		long k = 0;

		while (i < n && isdigit((unsigned char)s[i])) {
			if (k < 1000)
				k = k * 10 + (s[i] - '0');
			i++;
		}
		if (k == 0)
			return dr_spf_fail_why(
			    why, cap,
			    "macro %%{%c0: the digit transformer "
			    "must not be zero",
			    *letter);
		*keep = (int)k;
	}
	*rev = false;
	if (i < n && (s[i] == 'r' || s[i] == 'R')) {
		*rev = true;
		i++;
	}
	*dl = s + i;
	while (i < n && is_delim(s[i]))
		i++;
	*ndl = (size_t)(s + i - *dl);
	if (i >= n || s[i] != '}')
		return dr_spf_fail_why(why, cap, "malformed macro %.*s",
		                       (int)(i + 1 < n ? i + 1 : n), s);
	*len = i + 1;
	return 0;
}

/*
 * A macro-string (RFC 7208 12) at s[0..n); domain: also a domain-spec
 * (it ends in a macro-expand or "." toplabel ["."]).
 */
int dr_spf_spec_check(const char *s, size_t n, bool domain, bool exp, char *why,
                      size_t cap)
{
	size_t i = 0, lit = 0; /* lit: where the last literal run began */
	bool last_macro = false;

	if (domain && n == 0)
		return dr_spf_fail_why(why, cap, "an empty domain");
	while (i < n) {
		if (s[i] == '%') {
			size_t len = 0;
			char letter;
			const char *dl;
			size_t ndl;
			int keep;
			bool rev;

			if (i + 1 < n && (s[i + 1] == '%' || s[i + 1] == '_' ||
			                  s[i + 1] == '-')) {
				i += 2;
			} else if (i + 1 < n && s[i + 1] == '{') {
				if (dr_spf_macro_parse(s + i, n - i, exp, &len,
				                       &letter, &keep, &rev,
				                       &dl, &ndl, why, cap) < 0)
					return -1;
				i += len;
			} else {
				return dr_spf_fail_why(
				    why, cap,
				    "a %% that is not a macro in "
				    "\"%.*s\"",
				    (int)n, s);
			}
			last_macro = true;
			lit = i;
			continue;
		}
		/* explain-string = *( macro-string / SP ) */
		if (((unsigned char)s[i] < 0x21 && !(exp && s[i] == ' ')) ||
		    (unsigned char)s[i] > 0x7e)
			return dr_spf_fail_why(
			    why, cap,
			    "a character that is not allowed in "
			    "\"%.*s\"",
			    (int)n, s);
		last_macro = false;
		i++;
	}
	if (!domain || last_macro)
		return 0;
	/* domain-end = "." toplabel ["."] within the final literal run */
	{
		const char *p = s + lit;
		size_t m = n - lit, dot;

		if (m > 0 && p[m - 1] == '.')
			m--;
		for (dot = m; dot > 0 && p[dot - 1] != '.'; dot--)
			;
		if (dot == 0 || !toplabel_ok(p + dot, m - dot))
			return dr_spf_fail_why(
			    why, cap,
			    "\"%.*s\" does not end in a top-level "
			    "label",
			    (int)n, s);
	}
	return 0;
}

/* "/n" at s[0..n): a cidr length 0..max without a leading zero. */
static int cidr_parse(const char *s, size_t n, int max, int *out, char *why,
                      size_t cap)
{
	int v = 0;
	size_t i;

	if (n < 2 || s[0] != '/')
		return dr_spf_fail_why(why, cap, "a malformed cidr length");
	if (n > 2 && s[1] == '0')
		return dr_spf_fail_why(
		    why, cap, "cidr length %.*s has a leading zero", (int)n, s);
	for (i = 1; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return dr_spf_fail_why(why, cap,
			                       "a malformed cidr length %.*s",
			                       (int)n, s);
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return dr_spf_fail_why(
			    why, cap, "cidr length %.*s is out of range (0-%d)",
			    (int)n, s, max);
	}
	*out = v;
	return 0;
}

/* The trailing "/n" run of s[0..*n): its start, or NULL. */
static const char *tail_cidr(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	if (i == n || i == 0 || s[i - 1] != '/')
		return NULL;
	return s + i - 1;
}

static int term_parse(const char *s, size_t n, dr_spf_rec *r, char *why,
                      size_t cap)
{
	dr_spf_term t;
	size_t i = 0, nl;
	bool qualified = false;
	const char *rest;
	size_t rlen;
	unsigned k;

	memset(&t, 0, sizeof t);
	t.text = s;
	t.text_len = n;
	t.cidr4 = t.cidr6 = -1;
	t.qual = '+';
	if (strchr("+-~?", s[0]) != NULL) {
		t.qual = s[0];
		qualified = true;
		i = 1;
	}
	/* a modifier: name "=" macro-string, name = ALPHA *(ALPHA / DIGIT /
	 * "-" / "_" / ".") */
	nl = i;
	if (nl < n && isalpha((unsigned char)s[nl])) {
		while (nl < n && (isalnum((unsigned char)s[nl]) ||
		                  strchr("-_.", s[nl]) != NULL))
			nl++;
	}
	if (!qualified && nl > 0 && nl < n && s[nl] == '=') {
		const char *v = s + nl + 1;
		size_t vn = n - nl - 1;

		if (nl == 8 && strncasecmp(s, "redirect", 8) == 0) {
			if (r->redirect != NULL)
				return dr_spf_fail_why(
				    why, cap, "redirect= appears twice");
			if (dr_spf_spec_check(v, vn, true, false, why, cap) < 0)
				return -1;
			r->redirect = v;
			r->redirect_len = vn;
		} else if (nl == 3 && strncasecmp(s, "exp", 3) == 0) {
			if (r->exp != NULL)
				return dr_spf_fail_why(why, cap,
				                       "exp= appears twice");
			if (dr_spf_spec_check(v, vn, true, false, why, cap) < 0)
				return -1;
			r->exp = v;
			r->exp_len = vn;
		} else if (dr_spf_spec_check(v, vn, false, true, why, cap) <
		           0) {
			return -1;
		}
		return 0;
	}
	/* a directive */
	nl = i;
	while (nl < n && isalnum((unsigned char)s[nl]))
		nl++;
	for (k = 0; k < sizeof mechs / sizeof mechs[0]; k++)
		if (strlen(mechs[k].name) == nl - i &&
		    strncasecmp(s + i, mechs[k].name, nl - i) == 0)
			break;
	if (k == sizeof mechs / sizeof mechs[0])
		return dr_spf_fail_why(why, cap, "unknown mechanism \"%.*s\"",
		                       (int)n, s);
	t.kind = mechs[k].kind;
	rest = s + nl;
	rlen = n - nl;
	switch (t.kind) {
	case DR_SPF_M_ALL:
		if (rlen != 0)
			return dr_spf_fail_why(
			    why, cap, "\"%.*s\": all takes nothing", (int)n, s);
		if (r->all < 0)
			r->all = (int)r->n;
		break;
	case DR_SPF_M_INCLUDE:
	case DR_SPF_M_EXISTS:
		if (rlen < 1 || rest[0] != ':')
			return dr_spf_fail_why(
			    why, cap, "\"%.*s\" needs :domain", (int)n, s);
		t.spec = rest + 1;
		t.spec_len = rlen - 1;
		if (dr_spf_spec_check(t.spec, t.spec_len, true, false, why,
		                      cap) < 0)
			return -1;
		break;
	case DR_SPF_M_A:
	case DR_SPF_M_MX:
	case DR_SPF_M_PTR: {
		const char *c6 = NULL, *c4 = NULL, *end = rest + rlen;

		if (t.kind != DR_SPF_M_PTR) {
			/* [ "/" cidr4 ] [ "//" cidr6 ], read from the end */
			const char *c = tail_cidr(rest, rlen);

			if (c != NULL && c > rest && c[-1] == '/') {
				c6 = c - 1;
				if (cidr_parse(c, (size_t)(end - c), 128,
				               &t.cidr6, why, cap) < 0)
					return -1;
				end = c6;
				c = tail_cidr(rest, (size_t)(end - rest));
			}
			if (c != NULL) {
				c4 = c;
				if (cidr_parse(c, (size_t)(end - c), 32,
				               &t.cidr4, why, cap) < 0)
					return -1;
				end = c4;
			}
		}
		if (end > rest) {
			if (rest[0] != ':')
				return dr_spf_fail_why(
				    why, cap, "unknown mechanism \"%.*s\"",
				    (int)n, s);
			t.spec = rest + 1;
			t.spec_len = (size_t)(end - rest - 1);
			if (dr_spf_spec_check(t.spec, t.spec_len, true, false,
			                      why, cap) < 0)
				return -1;
		}
		break;
	}
	case DR_SPF_M_IP4:
	case DR_SPF_M_IP6: {
		const char *c, *end = rest + rlen;
		char addr[INET6_ADDRSTRLEN + 1];
		size_t an;
		int fam = t.kind == DR_SPF_M_IP4 ? AF_INET : AF_INET6;

		if (rlen < 2 || rest[0] != ':')
			return dr_spf_fail_why(
			    why, cap, "\"%.*s\" needs :address", (int)n, s);
		c = memchr(rest, '/', rlen);
		if (c != NULL) {
			if (cidr_parse(c, (size_t)(end - c),
			               fam == AF_INET ? 32 : 128,
			               fam == AF_INET ? &t.cidr4 : &t.cidr6,
			               why, cap) < 0)
				return -1;
			end = c;
		}
		an = (size_t)(end - rest - 1);
		if (an == 0 || an >= sizeof addr)
			return dr_spf_fail_why(why, cap,
			                       "\"%.*s\": a malformed address",
			                       (int)n, s);
		memcpy(addr, rest + 1, an);
		addr[an] = '\0';
		if (inet_pton(fam, addr, t.net) != 1)
			return dr_spf_fail_why(
			    why, cap, "\"%.*s\": %s is not an %s address",
			    (int)n, s, addr, fam == AF_INET ? "IPv4" : "IPv6");
		break;
	}
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->t = cs_xrealloc(r->t, r->cap * sizeof *r->t);
	}
	r->t[r->n++] = t;
	return 0;
}

/* Whether a TXT text is an SPF record: "v=spf1" then a space or the end
 * (4.5), case-insensitively. */
bool dr_spf_is_record(const char *s, size_t n)
{
	return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0 &&
	       (n == 6 || s[6] == ' ');
}

/* The whole record, before any evaluation (4.6: a syntax error anywhere
 * is permerror).  The record must outlive r. */
int dr_spf_rec_parse(const char *s, size_t n, dr_spf_rec *r, char *why,
                     size_t cap)
{
	size_t i;

	memset(r, 0, sizeof *r);
	r->all = -1;
	if (!dr_spf_is_record(s, n))
		return dr_spf_fail_why(why, cap, "not a v=spf1 record");
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return dr_spf_fail_why(
			    why, cap,
			    "a control or non-ASCII character at "
			    "offset %zu",
			    i);
	i = 6;
	while (i < n) {
		size_t b;

		while (i < n && s[i] == ' ')
			i++;
		b = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i > b && term_parse(s + b, i - b, r, why, cap) < 0) {
			dr_spf_rec_free(r);
			return -1;
		}
	}
	return 0;
}

int dr_spf_syntax(const char *record, char *why, size_t cap)
{
	dr_spf_rec r;

	if (dr_spf_rec_parse(record, strlen(record), &r, why, cap) < 0)
		return -1;
	dr_spf_rec_free(&r);
	return 0;
}
