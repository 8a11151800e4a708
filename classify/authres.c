/*
 * authres.c - what a receiving server wrote about a message:
 * Authentication-Results (RFC 8601 2.2) and ARC-Authentication-Results
 * (RFC 8617 4.1.1) values, the DKIM-Signature tags the doctor reads
 * (RFC 6376 3.5, through core's tag-list splitter), and, from a whole
 * message, the verdicts of its receiving side (cls_received_parse: the
 * trust rule is written at its declaration in cls.h).
 *
 * The Authentication-Results grammar, as read here:
 *   [i=N ;] authserv-id [version] ( "; none" / *( ";" method[/v]=result
 *       [reason=value] *( ptype.property=value ) ) )
 * CFWS is allowed almost everywhere: comments (which nest, and hold
 * quoted pairs) are dropped first, then the value is split at the ';'
 * outside quoted strings.  Real servers bend it: Microsoft 365 writes no
 * authserv-id and stray words between results ("header.d=none;
 * outlook.com; dmarc=pass action=none ..."), Yahoo writes "from=x.com"
 * after the id without a ';'.  So an item whose first word has no '='
 * is skipped, a first item with a '=' in its first word is a result (no
 * authserv-id), and a word without '=' inside a result is ignored.
 */
#include "cls_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGS 8  /* DKIM-Signature fields looked at */
#define MAX_ARS  16 /* (ARC-)Authentication-Results fields looked at */
#define WORD_MAX 15 /* bytes kept of a method or result word */

static bool is_ws(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/* v[0..n) without comments, into out (NUL-terminated).  A comment becomes
 * one space; quoted strings (and the quoted pairs in them) are kept as
 * written.  An unclosed comment or string runs to the end. */
static void strip_comments(const char *v, size_t n, cs_buf *out)
{
	size_t i;
	int depth = 0;
	bool quoted = false;

	cs_buf_reserve(out, n + 1);
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				cs_buf_putc(out, ' ');
			continue;
		}
		if (quoted) {
			cs_buf_putc(out, c);
			if (c == '\\' && i + 1 < n)
				cs_buf_putc(out, v[++i]);
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (c == '"')
			quoted = true;
		cs_buf_putc(out, c);
	}
	cs_buf_putc(out, '\0');
	out->len--;
}

/* The next ';'-separated item of s[*i..n) (outside quoted strings):
 * [*a, *b); *i moves past the ';'.  false at the end. */
static bool next_item(const char *s, size_t n, size_t *i, size_t *a, size_t *b)
{
	bool quoted = false;
	size_t k;

	if (*i >= n)
		return false;
	*a = *i;
	for (k = *i; k < n; k++) {
		if (quoted) {
			if (s[k] == '\\')
				k++;
			else if (s[k] == '"')
				quoted = false;
		} else if (s[k] == '"')
			quoted = true;
		else if (s[k] == ';')
			break;
	}
	if (k > n)
		k = n;
	*b = k;
	*i = k < n ? k + 1 : n;
	return true;
}

/* One word of an item: a key (up to '=' or white space) or a value (a
 * quoted string, unquoted, else up to white space). */
typedef struct word {
	const char *p;
	size_t n;
} word;

static void skip_ws(const char *s, size_t *i, size_t end)
{
	while (*i < end && is_ws((unsigned char)s[*i]))
		(*i)++;
}

static word read_key(const char *s, size_t *i, size_t end)
{
	word w = {s + *i, 0};

	while (*i < end && !is_ws((unsigned char)s[*i]) && s[*i] != '=')
		(*i)++;
	w.n = (size_t)(s + *i - w.p);
	return w;
}

/* A value into out (cleaned, capped); a quoted string loses its quotes
 * and quoted pairs their backslash. */
static void read_value(const char *s, size_t *i, size_t end, cs_buf *out)
{
	cs_buf raw = CS_BUF_INIT;

	if (*i < end && s[*i] == '"') {
		(*i)++;
		while (*i < end && s[*i] != '"') {
			if (s[*i] == '\\' && *i + 1 < end)
				(*i)++;
			if (raw.len < CLS_AR_MAX_VALUE)
				cs_buf_putc(&raw, s[*i]);
			(*i)++;
		}
		if (*i < end)
			(*i)++;
	} else {
		size_t a = *i;

		while (*i < end && !is_ws((unsigned char)s[*i]))
			(*i)++;
		cs_buf_append(&raw, s + a,
		              *i - a < CLS_AR_MAX_VALUE ? *i - a
		                                        : CLS_AR_MAX_VALUE);
	}
	cs_utf8_clean(cs_buf_str(&raw), CLS_AR_MAX_VALUE, out);
	cs_buf_free(&raw);
}

static char *lower_dup(const char *p, size_t n, size_t cap)
{
	char *s;
	size_t i;

	if (n > cap)
		n = cap;
	s = cs_xstrndup(p, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* a name is ASCII; anything else would be no name at all */
		s[i] = c >= 0x80 || c < 0x20 ? '?' : (char)tolower(c);
	}
	return s;
}

/* key [ws] '=' [ws] value; false (and *i unmoved past the word) when the
 * word has no '='. */
static bool read_pair(const char *s, size_t *i, size_t end, word *key,
                      cs_buf *value)
{
	size_t j;

	skip_ws(s, i, end);
	*key = read_key(s, i, end);
	j = *i;
	skip_ws(s, &j, end);
	if (j >= end || s[j] != '=') {
		if (key->n == 0 && *i < end)
			(*i)++; /* a lone '=' or so: never stick */
		return false;
	}
	j++;
	skip_ws(s, &j, end);
	*i = j;
	cs_buf_clear(value);
	read_value(s, i, end, value);
	return key->n > 0;
}

/* One resinfo s[a..b) into a new result of out; nothing when its first
 * word is not method=result. */
static void add_result(cls_authres *out, const char *s, size_t a, size_t b)
{
	cls_ar_result *r;
	cs_buf val = CS_BUF_INIT;
	size_t i = a, m;
	word key;

	if (out->nresults >= CLS_AR_MAX_RESULTS)
		return;
	m = 0;
	if (read_pair(s, &i, b, &key, &val) &&
	    memchr(key.p, '.', key.n) == NULL) {
		/* "dkim/1": the version is no part of the name */
		while (m < key.n && key.p[m] != '/')
			m++;
		while (m > 0 && is_ws((unsigned char)key.p[m - 1]))
			m--;
	}
	if (m == 0) { /* no method=result: not a result at all */
		cs_buf_free(&val);
		return;
	}
	out->results = cs_xrealloc(out->results,
	                           (out->nresults + 1) * sizeof *out->results);
	r = &out->results[out->nresults++];
	memset(r, 0, sizeof *r);
	r->method = lower_dup(key.p, m, WORD_MAX);
	r->result = lower_dup(cs_buf_str(&val), val.len, WORD_MAX);
	while (i < b) {
		size_t before = i;

		if (!read_pair(s, &i, b, &key, &val)) {
			/* a stray word ("outlook.com"): skip it */
			if (i == before)
				i++;
			continue;
		}
		if (key.n == 6 && strncasecmp(key.p, "reason", 6) == 0) {
			if (r->reason == NULL)
				r->reason = cs_xstrdup(cs_buf_str(&val));
			continue;
		}
		if (r->nprops >= CLS_AR_MAX_PROPS)
			continue;
		r->props =
		    cs_xrealloc(r->props, (r->nprops + 1) * sizeof *r->props);
		r->props[r->nprops].name = lower_dup(key.p, key.n, 64);
		r->props[r->nprops].value = cs_xstrdup(cs_buf_str(&val));
		r->nprops++;
	}
	cs_buf_free(&val);
}

void cls_authres_parse(const char *v, size_t n, bool arc, cls_authres *out)
{
	cs_buf s = CS_BUF_INIT;
	size_t i = 0, a, b;
	bool first = true;

	memset(out, 0, sizeof *out);
	if (v == NULL)
		n = 0;
	strip_comments(v ? v : "", n, &s);
	n = s.len;
	while (next_item(s.data, n, &i, &a, &b)) {
		size_t j = a;

		skip_ws(s.data, &j, b);
		if (j >= b)
			continue;
		/* ARC: "i=N" comes first (RFC 8617 4.1.1) */
		if (arc && first && out->instance == 0 && b - j > 2 &&
		    (s.data[j] == 'i' || s.data[j] == 'I')) {
			size_t k = j + 1;

			skip_ws(s.data, &k, b);
			if (k < b && s.data[k] == '=') {
				k++;
				skip_ws(s.data, &k, b);
				while (k < b &&
				       isdigit((unsigned char)s.data[k]) &&
				       out->instance < 100000)
					out->instance = out->instance * 10 +
					                (s.data[k++] - '0');
				continue;
			}
		}
		if (first) {
			size_t k = j;

			first = false;
			(void)read_key(s.data, &k, b);
			skip_ws(s.data, &k, b);
			if (k >= b || s.data[k] != '=') {
				/* the authserv-id (a token or a quoted
				 * string); a version or junk after it is
				 * ignored */
				cs_buf id = CS_BUF_INIT;

				k = j;
				read_value(s.data, &k, b, &id);
				out->authserv_id =
				    lower_dup(id.data ? id.data : "", id.len,
				              CLS_AR_MAX_VALUE);
				cs_buf_free(&id);
				continue;
			}
			/* no authserv-id: this is a result already */
		}
		add_result(out, s.data, j, b);
	}
	if (out->authserv_id == NULL)
		out->authserv_id = cs_xstrdup("");
	cs_buf_free(&s);
}

void cls_authres_free(cls_authres *a)
{
	size_t i, k;

	if (a == NULL)
		return;
	for (i = 0; i < a->nresults; i++) {
		cls_ar_result *r = &a->results[i];

		for (k = 0; k < r->nprops; k++) {
			free(r->props[k].name);
			free(r->props[k].value);
		}
		free(r->props);
		free(r->method);
		free(r->result);
		free(r->reason);
	}
	free(a->results);
	free(a->authserv_id);
	memset(a, 0, sizeof *a);
}

const char *cls_ar_get(const cls_ar_result *r, const char *name)
{
	size_t i;

	for (i = 0; r && i < r->nprops; i++)
		if (strcmp(r->props[i].name, name) == 0)
			return r->props[i].value;
	return NULL;
}

/* ---- DKIM-Signature ------------------------------------------------------ */

/* t's value with white space dropped (FWS may fold any tag value),
 * lower-cased when lower. */
static char *tag_value(const cs_tag *t, bool lower)
{
	cs_buf raw = CS_BUF_INIT, out = CS_BUF_INIT;
	size_t i;

	for (i = 0; i < t->value_len && raw.len < (size_t)CLS_AR_MAX_VALUE * 4;
	     i++) {
		unsigned char c = (unsigned char)t->value[i];

		if (is_ws(c))
			continue;
		cs_buf_putc(&raw, lower ? (char)tolower(c) : (char)c);
	}
	cs_utf8_clean(cs_buf_str(&raw), (size_t)CLS_AR_MAX_VALUE * 4, &out);
	cs_buf_free(&raw);
	cs_buf_append(&out, "", 0); /* terminated even when empty */
	return cs_buf_detach(&out, NULL);
}

void cls_dkim_sig_parse(const char *v, size_t n, cls_dkim_sig *out)
{
	const char *p = v, *end = v ? v + n : v;
	cs_tag t;
	int rc;

	memset(out, 0, sizeof *out);
	if (v == NULL)
		return;
	while ((rc = cs_tag_next(&p, end, &t)) != 0) {
		char **slot = NULL;

		if (rc < 0) {
			/* a broken item: on to the next ';' */
			const char *semi = memchr(p, ';', (size_t)(end - p));

			if (semi == NULL)
				break;
			p = semi + 1;
			continue;
		}
		if (cs_tag_is(&t, "d"))
			slot = &out->d;
		else if (cs_tag_is(&t, "s"))
			slot = &out->s;
		else if (cs_tag_is(&t, "h"))
			slot = &out->h;
		/* a duplicate tag makes the signature invalid (RFC 6376
		 * 3.2); the first one is what we report */
		if (slot && *slot == NULL)
			*slot = tag_value(&t, slot != &out->s);
	}
}

void cls_dkim_sig_free(cls_dkim_sig *s)
{
	if (s == NULL)
		return;
	free(s->d);
	free(s->s);
	free(s->h);
	memset(s, 0, sizeof *s);
}

bool cls_dkim_signs(const char *h, const char *field)
{
	size_t n = strlen(field);

	while (h && *h) {
		const char *c = strchr(h, ':');
		size_t k = c ? (size_t)(c - h) : strlen(h);

		if (k == n && strncasecmp(h, field, n) == 0)
			return true;
		h = c ? c + 1 : NULL;
	}
	return false;
}

/* ---- the receiving side's verdicts of a message ------------------------- */

/* The domain of an address ("a@b.c" -> "b.c", "<a@b.c>" too, a bare
 * domain as it is), lower-case, NULL when there is none. */
static char *addr_domain(const char *s)
{
	const char *at, *e;

	if (s == NULL)
		return NULL;
	at = strrchr(s, '@');
	s = at ? at + 1 : s;
	while (*s && (*s == '<' || is_ws((unsigned char)*s)))
		s++;
	for (e = s; *e && *e != '>' && !is_ws((unsigned char)*e) && *e != ';';
	     e++)
		;
	while (e > s && e[-1] == '.')
		e--;
	if (e == s)
		return NULL;
	return lower_dup(s, (size_t)(e - s), CLS_AR_MAX_VALUE);
}

/* Whether two lower-case domains are equal or one is under the other
 * (which of the signatures is ours; no Public Suffix List here). */
static bool related_domain(const char *a, const char *b)
{
	size_t na, nb;

	if (a == NULL || b == NULL || !*a || !*b)
		return false;
	na = strlen(a);
	nb = strlen(b);
	if (na == nb)
		return strcasecmp(a, b) == 0;
	if (na > nb)
		return a[na - nb - 1] == '.' && strcasecmp(a + na - nb, b) == 0;
	return b[nb - na - 1] == '.' && strcasecmp(b + nb - na, a) == 0;
}

static void set_word(char dst[16], const char *w)
{
	size_t n = strlen(w);

	if (n > 15)
		n = 15;
	memcpy(dst, w, n);
	dst[n] = '\0';
}

/* The domain a dkim result names: header.d, else header.i's. */
static char *result_domain(const cls_ar_result *r)
{
	const char *d = cls_ar_get(r, "header.d");

	if (d && *d)
		return addr_domain(d);
	d = cls_ar_get(r, "header.i");
	return d && *d ? addr_domain(d) : NULL;
}

/* The dkim verdict for our signature sig (NULL: the message has none)
 * among the trusted results. */
static const char *dkim_verdict(cls_authres *ar, size_t nar, const bool *trust,
                                const cls_dkim_sig *sig)
{
	const char *match = NULL, *anon = NULL, *first = NULL;
	size_t i, k;

	for (i = 0; i < nar; i++) {
		if (!trust[i])
			continue;
		for (k = 0; k < ar[i].nresults; k++) {
			const cls_ar_result *r = &ar[i].results[k];
			const char *sel;
			char *dom;

			if (strcmp(r->method, "dkim") != 0)
				continue;
			if (first == NULL)
				first = r->result;
			dom = result_domain(r);
			sel = cls_ar_get(r, "header.s");
			if (dom == NULL) {
				if (anon == NULL)
					anon = r->result;
			} else if (sig && sig->d &&
			           strcasecmp(dom, sig->d) == 0 &&
			           (sel == NULL || sig->s == NULL ||
			            strcasecmp(sel, sig->s) == 0)) {
				/* two signatures of one domain (RSA and
				 * Ed25519): a pass of either counts */
				if (match == NULL ||
				    strcmp(r->result, "pass") == 0)
					match = r->result;
			}
			free(dom);
		}
	}
	if (sig == NULL)
		return first;
	return match ? match : anon;
}

/* The first result of method among the trusted results, NULL none; its
 * result in *r. */
static const cls_ar_result *first_result(cls_authres *ar, size_t nar,
                                         const bool *trust, const char *method)
{
	size_t i, k;

	for (i = 0; i < nar; i++) {
		if (!trust[i])
			continue;
		for (k = 0; k < ar[i].nresults; k++)
			if (strcmp(ar[i].results[k].method, method) == 0)
				return &ar[i].results[k];
	}
	return NULL;
}

/* Received-SPF: "Pass (comment) key=value; key=value ..." (RFC 7208
 * 9.1): the result word and envelope-from's domain. */
static void received_spf(const char *v, cls_received *out)
{
	cs_buf s = CS_BUF_INIT, val = CS_BUF_INIT;
	size_t i = 0, n;
	word w;

	strip_comments(v, strlen(v), &s);
	n = s.len;
	skip_ws(s.data, &i, n);
	w = read_key(s.data, &i, n);
	if (w.n > 0 && w.n <= WORD_MAX) {
		char *lw = lower_dup(w.p, w.n, WORD_MAX);

		set_word(out->spf, lw);
		free(lw);
	}
	while (i < n) {
		size_t before = i;

		if (s.data[i] == ';') {
			i++;
			continue;
		}
		if (!read_pair(s.data, &i, n, &w, &val)) {
			if (i == before)
				i++;
			continue;
		}
		/* a value may end in the item's ';' */
		if (val.len && val.data[val.len - 1] == ';')
			val.data[--val.len] = '\0';
		if (w.n == 13 && strncasecmp(w.p, "envelope-from", 13) == 0 &&
		    out->mailfrom_domain == NULL)
			out->mailfrom_domain = addr_domain(cs_buf_str(&val));
	}
	cs_buf_free(&s);
	cs_buf_free(&val);
}

static bool name_is(const char *n, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(n, want, nl) == 0;
}

void cls_received_parse(const char *raw, size_t len, cls_received *out)
{
	cls_authres ar[MAX_ARS];
	bool is_arc[MAX_ARS], trust[MAX_ARS];
	cls_dkim_sig sig[MAX_SIGS];
	size_t nar = 0, nsig = 0, i, ours;
	char *from_domain = NULL, *rspf = NULL;
	const cls_ar_result *r;
	const char *name, *w;
	bool below = false;
	cls_hdr_iter it;
	cs_buf val = CS_BUF_INIT;
	size_t nl;
	int best_i = -1;

	memset(out, 0, sizeof *out);
	if (raw == NULL)
		return;
	if (len > CLS_MAX_SCAN)
		len = CLS_MAX_SCAN;
	cls_hdr_begin(&it, raw, len);
	while (cls_hdr_next(&it, &name, &nl, &val)) {
		const char *v = cs_buf_str(&val);

		if (name_is(name, nl, "From")) {
			if (from_domain == NULL) {
				/* the last '@' before any '>' */
				const char *gt = strchr(v, '>');
				char *cut = cs_xstrndup(v, gt ? (size_t)(gt - v)
				                              : strlen(v));

				from_domain =
				    addr_domain(strchr(cut, '@') ? cut : "");
				free(cut);
			}
		} else if (name_is(name, nl, "DKIM-Signature")) {
			below = true;
			if (nsig < MAX_SIGS)
				cls_dkim_sig_parse(v, val.len, &sig[nsig++]);
		} else if (name_is(name, nl, "List-Unsubscribe")) {
			out->list_unsub = true;
		} else if (name_is(name, nl, "List-Unsubscribe-Post")) {
			out->list_unsub_post = true;
		} else if (below) {
			continue;
		} else if (name_is(name, nl, "Authentication-Results") ||
		           name_is(name, nl, "ARC-Authentication-Results")) {
			if (nar < MAX_ARS) {
				is_arc[nar] = nl > 22;
				cls_authres_parse(v, val.len, is_arc[nar],
				                  &ar[nar]);
				nar++;
			}
		} else if (name_is(name, nl, "Received-SPF")) {
			if (rspf == NULL)
				rspf = cs_xstrdup(v);
		}
	}
	cs_buf_free(&val);

	/* the receiving side: the topmost Authentication-Results */
	for (i = 0; i < nar && out->authserv_id == NULL; i++)
		if (!is_arc[i])
			out->authserv_id = cs_xstrdup(ar[i].authserv_id);
	for (i = 0; i < nar; i++)
		trust[i] = out->authserv_id && !is_arc[i] &&
		           strcasecmp(ar[i].authserv_id, out->authserv_id) == 0;

	/* our signature */
	ours = 0;
	for (i = 0; i < nsig; i++)
		if (related_domain(sig[i].d, from_domain)) {
			ours = i;
			break;
		}
	if (nsig) {
		out->dkim_domain = sig[ours].d ? cs_xstrdup(sig[ours].d) : NULL;
		out->dkim_selector =
		    sig[ours].s ? cs_xstrdup(sig[ours].s) : NULL;
		out->dkim_headers =
		    sig[ours].h ? cs_xstrdup(sig[ours].h) : NULL;
	}

	if ((r = first_result(ar, nar, trust, "spf")) != NULL) {
		set_word(out->spf, r->result);
		out->mailfrom_domain =
		    addr_domain(cls_ar_get(r, "smtp.mailfrom"));
	}
	if ((w = dkim_verdict(ar, nar, trust, nsig ? &sig[ours] : NULL)) !=
	    NULL)
		set_word(out->dkim, w);
	if ((r = first_result(ar, nar, trust, "dmarc")) != NULL)
		set_word(out->dmarc, r->result);

	/* ARC-Authentication-Results of the same authserv-id (the highest
	 * instance) for a method the above leave out */
	for (i = 0; out->authserv_id && i < nar; i++)
		if (is_arc[i] &&
		    strcasecmp(ar[i].authserv_id, out->authserv_id) == 0 &&
		    (best_i < 0 || ar[i].instance > ar[best_i].instance))
			best_i = (int)i;
	if (best_i >= 0) {
		bool only[MAX_ARS];

		memset(only, 0, sizeof only);
		only[best_i] = true;
		if (!out->spf[0] &&
		    (r = first_result(ar, nar, only, "spf")) != NULL) {
			set_word(out->spf, r->result);
			out->mailfrom_domain =
			    addr_domain(cls_ar_get(r, "smtp.mailfrom"));
		}
		if (!out->dkim[0] &&
		    (w = dkim_verdict(ar, nar, only,
		                      nsig ? &sig[ours] : NULL)) != NULL)
			set_word(out->dkim, w);
		if (!out->dmarc[0] &&
		    (r = first_result(ar, nar, only, "dmarc")) != NULL)
			set_word(out->dmarc, r->result);
	}
	if (!out->spf[0] && rspf)
		received_spf(rspf, out);

	free(rspf);
	free(from_domain);
	for (i = 0; i < nar; i++)
		cls_authres_free(&ar[i]);
	for (i = 0; i < nsig; i++)
		cls_dkim_sig_free(&sig[i]);
}

void cls_received_free(cls_received *r)
{
	if (r == NULL)
		return;
	free(r->authserv_id);
	free(r->mailfrom_domain);
	free(r->dkim_domain);
	free(r->dkim_selector);
	free(r->dkim_headers);
	memset(r, 0, sizeof *r);
}
