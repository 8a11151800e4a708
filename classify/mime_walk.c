/*
 * mime_walk.c - take a raw message apart for the classifier.
 *
 * cls_msg_parse() copies at most CLS_MAX_SCAN bytes of the message into
 * a normalised buffer (CRLF line ends whatever the input used, NUL bytes
 * turned into spaces, every line cut at CLS_MAX_LINE bytes) and parses
 * the top header block once into a field index (both in msg_head.c), then
 * walks the MIME structure
 * (at most CLS_MAX_DEPTH deep): each part's Content-Type and
 * Content-Transfer-Encoding are read, a multipart body is cut at its
 * boundary lines, and only what the detectors read is collected: readable
 * text outside any returned message, the delivery-status and
 * feedback-report parts and the header block of the returned original
 * message, which is never parsed further.  decode.c turns the readable
 * parts into UTF-8 text, from at most twice CLS_MAX_TEXT encoded bytes
 * per part, so a 50 MB attachment is never held decoded.  The text is
 * flattened once (cls_flatten) for every detector.
 *
 * Nothing here fails: a part that cannot be read is skipped.
 */
#define _GNU_SOURCE /* memmem */
#include "cls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CT_VAL 80 /* bytes kept of a Content-Type parameter */

/* Transfer-encoding of a part (its Content-Transfer-Encoding value). */
static int cte_of(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= 6 && strncasecmp(v, "base64", 6) == 0)
		return CLS_CTE_BASE64;
	if (n >= 16 && strncasecmp(v, "quoted-printable", 16) == 0)
		return CLS_CTE_QP;
	return CLS_CTE_8BIT;
}

/* ---- the walk ------------------------------------------------------------ */

/*
 * The structure is walked here: a part's header block is read for its
 * Content-Type (RFC 2045 5.1, ctype_parse) and Content-Transfer-Encoding, a
 * multipart body is cut at its boundary lines (RFC 2046 5.1.1), and a
 * returned message (message/rfc822) is not parsed at all: only its header
 * block is kept.  Nothing else of a part is looked at, so the cost is the
 * few parts' headers plus decoding the readable ones.
 */
typedef struct walk_state {
	cls_msg *m;
	/* the first text/html part, decoded only when there is no
	 * text/plain */
	const char *html;
	size_t html_len;
	int html_enc;
	char html_cs[CT_VAL];
	int parts;
	/* a part's field values, reused from part to part */
	cs_buf v;
} walk_state;

/* A Content-Type value taken apart (RFC 2045 5.1): type and subtype,
 * and the parameters the walk uses.  Values longer than the fields are
 * cut; a boundary is at most 70 characters (RFC 2046). */
typedef struct ctype {
	char type[24], sub[48];
	char boundary[CT_VAL], charset[CT_VAL], report[CT_VAL];
} ctype;

/* Bytes that end a token in a Content-Type value (RFC 2045 tspecials,
 * space and the control bytes) as a table: a switch per byte mispredicts. */
static const unsigned char tok_end[256] = {
    ['\0'] = 1, [1] = 1,   [2] = 1,   [3] = 1,   [4] = 1,   [5] = 1,
    [6] = 1,    [7] = 1,   [8] = 1,   [9] = 1,   [10] = 1,  [11] = 1,
    [12] = 1,   [13] = 1,  [14] = 1,  [15] = 1,  [16] = 1,  [17] = 1,
    [18] = 1,   [19] = 1,  [20] = 1,  [21] = 1,  [22] = 1,  [23] = 1,
    [24] = 1,   [25] = 1,  [26] = 1,  [27] = 1,  [28] = 1,  [29] = 1,
    [30] = 1,   [31] = 1,  [' '] = 1, ['('] = 1, [')'] = 1, ['<'] = 1,
    ['>'] = 1,  ['@'] = 1, [','] = 1, [';'] = 1, [':'] = 1, ['\\'] = 1,
    ['"'] = 1,  ['/'] = 1, ['['] = 1, [']'] = 1, ['?'] = 1, ['='] = 1,
};

static const char *skip_cfws(const char *p, const char *e)
{
	for (;;) {
		while (p < e &&
		       (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p < e && *p == '(') { /* a comment, not nested further */
			const char *c = memchr(p, ')', (size_t)(e - p));

			p = c ? c + 1 : e;
			continue;
		}
		return p;
	}
}

/* A token into out (size n, lower-cased when low); returns past it. */
static const char *get_token(const char *p, const char *e, char *out, size_t n,
                             bool low)
{
	size_t k = 0;

	while (p < e && !tok_end[(unsigned char)*p]) {
		char ch = *p++;

		if (low && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch + ('a' - 'A'));
		if (k + 1 < n)
			out[k++] = ch;
	}
	out[k] = '\0';
	return p;
}

/* Parse v[0..n) into *ct; false when there is no type/subtype. */
static bool ctype_parse(const char *v, size_t n, ctype *ct)
{
	const char *p = v, *e = v + n;

	memset(ct, 0, sizeof *ct);
	p = get_token(skip_cfws(p, e), e, ct->type, sizeof ct->type, true);
	p = skip_cfws(p, e);
	if (ct->type[0] == '\0' || p >= e || *p != '/')
		return false;
	p = get_token(skip_cfws(p + 1, e), e, ct->sub, sizeof ct->sub, true);
	if (ct->sub[0] == '\0')
		return false;
	for (;;) {
		char name[32], val[CT_VAL], *dst = NULL;
		size_t k = 0, cap = sizeof val;

		p = skip_cfws(p, e);
		while (p < e && *p != ';') /* junk before the next ';' */
			p++;
		if (p >= e)
			break;
		p = get_token(skip_cfws(p + 1, e), e, name, sizeof name, true);
		p = skip_cfws(p, e);
		if (p >= e || *p != '=')
			continue;
		p = skip_cfws(p + 1, e);
		if (p < e && *p == '"') {
			for (p++; p < e && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < e)
					p++;
				if (k + 1 < cap)
					val[k++] = *p;
			}
			if (p < e)
				p++;
			val[k] = '\0';
		} else {
			p = get_token(p, e, val, sizeof val, false);
		}
		if (strcmp(name, "boundary") == 0)
			dst = ct->boundary;
		else if (strcmp(name, "charset") == 0)
			dst = ct->charset;
		else if (strcmp(name, "report-type") == 0)
			dst = ct->report;
		if (dst && dst[0] == '\0')
			snprintf(dst, CT_VAL, "%s", val);
	}
	return true;
}

static bool ct_is(const ctype *ct, const char *type, const char *sub)
{
	return ct && strcmp(ct->type, type) == 0 &&
	       (sub == NULL || strcmp(ct->sub, sub) == 0);
}

/* Header block at the start of s[0..n): up to the first empty line
 * (including the CRLF that ends its last field). */
static size_t header_block_len(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *nl;

	if (n == 0 || s[0] == '\r' || s[0] == '\n')
		return 0;
	/* the first "\r\n\r\n", line by line (lines are short: memchr
	 * per line beats a substring search) */
	while ((nl = cls_memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl > s && nl[-1] == '\r' && end - nl > 2 && nl[1] == '\r' &&
		    nl[2] == '\n')
			return (size_t)(nl - 1 - s) + 2;
		p = nl + 1;
	}
	return n;
}
static void keep_orig_headers(cls_msg *m, const char *s, size_t n)
{
	size_t h;

	if (m->orig.len || n == 0)
		return;
	h = header_block_len(s, n);
	if (h > CLS_MAX_TEXT)
		h = CLS_MAX_TEXT;
	cs_buf_append(&m->orig, s, h);
}

static void walk(walk_state *ws, const ctype *ct, int enc, const char *body,
                 size_t blen, int depth);

/* One part: its header block then its body.  The first non-empty
 * Content-Type and Content-Transfer-Encoding are the part's; the
 * iteration's end (past the empty line, or the part's end) is where the
 * body starts. */
static void walk_part(walk_state *ws, const char *p, size_t n, int depth)
{
	ctype ctbuf, *ct = NULL;
	bool have_ct = false, have_cte = false;
	int enc = CLS_CTE_8BIT;
	cls_hdr_iter it;
	const char *nm;
	size_t nl, b;

	cls_hdr_begin(&it, p, n);
	while (cls_hdr_next(&it, &nm, &nl, &ws->v)) {
		if (ws->v.len == 0)
			continue;
		if (nl == 12 && !have_ct &&
		    strncasecmp(nm, "Content-Type", 12) == 0) {
			have_ct = true;
			if (ctype_parse(ws->v.data, ws->v.len, &ctbuf))
				ct = &ctbuf;
		} else if (nl == 25 && !have_cte &&
		           strncasecmp(nm, "Content-Transfer-Encoding", 25) ==
		               0) {
			have_cte = true;
			enc = cte_of(ws->v.data, ws->v.len);
		}
	}
	b = (size_t)(it.p - p);
	walk(ws, ct, enc, p + b, n - b, depth);
}
/* Is there a boundary delimiter line for bd at d ("--" bd, then "--",
 * white space or the line end)?  *close says "--" bd "--". */
static bool delim_at(const char *d, const char *end, const char *bd, size_t bl,
                     bool *close)
{
	const char *a = d + 2 + bl;

	if ((size_t)(end - d) < 2 + bl || d[0] != '-' || d[1] != '-' ||
	    memcmp(d + 2, bd, bl) != 0)
		return false;
	*close = end - a >= 2 && a[0] == '-' && a[1] == '-';
	return *close || a == end || *a == '\r' || *a == '\n' || *a == ' ' ||
	       *a == '\t';
}

/* The next "\r\n--" bd at or after s (where its CR is), or NULL.  A
 * substring search, which skips through a long attachment much faster
 * than going line by line.  With SSE2, sixteen places at a time are
 * tested for "\n--" (a line that starts like a delimiter, rare in a
 * body: base64 has no '-') and only those are compared; memmem() builds
 * a table for each call, which costs more than most of these searches. */
static const char *find_delim(const char *s, const char *end,
                              const char *needle, size_t nl)
{
	const char *p;

	if (s >= end)
		return NULL;
	p = s + 1; /* where the LF of a delimiter starting at s would be */
#ifdef __SSE2__
	for (; end - p >= 18; p += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i b =
		    _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i c =
		    _mm_loadu_si128((const __m128i *)(const void *)(p + 2));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
		    _mm_cmpeq_epi8(a, _mm_set1_epi8('\n')),
		    _mm_and_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('-')),
		                  _mm_cmpeq_epi8(c, _mm_set1_epi8('-')))));

		while (m) {
			const char *q = p + __builtin_ctz(m) - 1; /* its CR */

			if ((size_t)(end - q) >= nl &&
			    memcmp(q, needle, nl) == 0)
				return q;
			m &= m - 1;
		}
	}
#endif
	return memmem(p - 1, (size_t)(end - (p - 1)), needle, nl);
}

/* Returns false when the body holds no delimiter line at all. */
static bool walk_multipart(walk_state *ws, const char *body, size_t blen,
                           const char *bd, int depth)
{
	const char *end = body + blen, *d = NULL, *s;
	size_t bl = strlen(bd);
	char needle[80];
	bool close = false;

	if (bl == 0 || bl > 70 + 4) /* RFC 2046: at most 70 characters */
		return false;
	needle[0] = '\r';
	needle[1] = '\n';
	needle[2] = needle[3] = '-';
	memcpy(needle + 4, bd, bl + 1); /* with its NUL */
	/* the first delimiter line: at the start or after a line end */
	if (delim_at(body, end, bd, bl, &close)) {
		d = body;
	} else {
		for (s = body; s < end;) {
			const char *hit = find_delim(s, end, needle, bl + 4);

			if (hit == NULL)
				break;
			if (delim_at(hit + 2, end, bd, bl, &close)) {
				d = hit + 2;
				break;
			}
			s = hit + 2;
		}
	}
	if (d == NULL)
		return false;
	while (d && !close) {
		const char *ps, *pe = end, *next = NULL;

		ps = cls_memchr(d, '\n', (size_t)(end - d));
		if (ps == NULL)
			return true;
		ps++;
		for (s = ps - 2; s < end;) {
			const char *hit = find_delim(s, end, needle, bl + 4);

			if (hit == NULL)
				break;
			if (delim_at(hit + 2, end, bd, bl, &close)) {
				pe = hit;
				next = hit + 2;
				break;
			}
			s = hit + 2;
		}
		if (pe > ps)
			walk_part(ws, ps, (size_t)(pe - ps), depth + 1);
		if (ws->parts > 4 * CLS_MAX_RCPTS)
			return true;
		d = next;
	}
	return true;
}

/* The boundary of the first line of body[0..n) that starts with "--"
 * (and is not only dashes), into out (size CT_VAL); false when the body
 * holds none in its first lines. */
static bool guess_boundary(const char *body, size_t n, char *out)
{
	const char *p = body, *end = body + (n < 4096 ? n : 4096);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;

		while (e > p &&
		       (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - p > 2 && p[0] == '-' && p[1] == '-' &&
		    (size_t)(e - p - 2) < CT_VAL &&
		    memchr(p, ' ', (size_t)(e - p)) == NULL) {
			size_t k = (size_t)(e - p - 2), i;

			memcpy(out, p + 2, k);
			out[k] = '\0';
			for (i = 0; i < k && out[i] == '-'; i++)
				;
			if (i < k)
				return true;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return false;
}

static void walk(walk_state *ws, const ctype *ct, int enc, const char *body,
                 size_t blen, int depth)
{
	cls_msg *m = ws->m;

	if (depth > CLS_MAX_DEPTH || ++ws->parts > 4 * CLS_MAX_RCPTS)
		return;
	if (ct_is(ct, "multipart", NULL)) {
		const char *bd = ct->boundary;
		char guess[CT_VAL];

		/* a boundary parameter lost to broken folding: the first
		 * body line that looks like a delimiter names it */
		if (bd[0] == '\0' && guess_boundary(body, blen, guess))
			bd = guess;

		if (depth <= 1) {
			m->multipart = true;
			if (ct_is(ct, "multipart", "report")) {
				const char *rt = ct->report;

				if (strcasecmp(rt, "delivery-status") == 0)
					m->report = CLS_REPORT_DSN;
				else if (strcasecmp(rt, "feedback-report") == 0)
					m->report = CLS_REPORT_ARF;
				else if (strcasecmp(
				             rt, "disposition-notification") ==
				         0)
					m->report = CLS_REPORT_MDN;
				else
					m->report = CLS_REPORT_OTHER;
			}
		}
		if (!(bd && *bd && walk_multipart(ws, body, blen, bd, depth)) &&
		    depth <= 1) {
			/* no boundary or no part: read the body as text */
			cls_decode_part(body, blen, enc, NULL, &m->text);
		}
		return;
	}
	if (ct_is(ct, "message", "rfc822") || ct_is(ct, "message", "global")) {
		/* a returned message: its headers only, never its text */
		keep_orig_headers(m, body, blen);
	} else if (ct_is(ct, "message", "delivery-status") ||
	           ct_is(ct, "message", "global-delivery-status")) {
		if (m->report == CLS_REPORT_NONE ||
		    m->report == CLS_REPORT_OTHER)
			m->report = CLS_REPORT_DSN;
		cls_decode_part(body, blen, enc, NULL, &m->dsn);
		cs_buf_append(&m->dsn, "\r\n", 2);
	} else if (ct_is(ct, "message", "feedback-report")) {
		if (m->report == CLS_REPORT_NONE ||
		    m->report == CLS_REPORT_OTHER)
			m->report = CLS_REPORT_ARF;
		cls_decode_part(body, blen, enc, NULL, &m->arf);
	} else if (ct_is(ct, "message", "disposition-notification")) {
		if (m->report == CLS_REPORT_NONE)
			m->report = CLS_REPORT_MDN;
		cls_decode_part(body, blen, enc, NULL, &m->mdn);
	} else if (ct_is(ct, "text", "rfc822-headers") ||
	           ct_is(ct, "message", "global-headers")) {
		cs_buf tmp = CS_BUF_INIT;

		cls_decode_part(body, blen, enc, NULL, &tmp);
		keep_orig_headers(m, cs_buf_str(&tmp), tmp.len);
		cs_buf_free(&tmp);
	} else if (ct_is(ct, "text", "html")) {
		if (ws->html == NULL) {
			size_t k;

			ws->html = body;
			ws->html_len = blen;
			ws->html_enc = enc;
			for (k = 0;
			     k + 1 < sizeof ws->html_cs && ct->charset[k]; k++)
				ws->html_cs[k] = ct->charset[k];
			ws->html_cs[k] = '\0';
		}
	} else if (ct == NULL || ct_is(ct, "text", NULL)) {
		cls_decode_part(body, blen, enc, ct ? ct->charset : NULL,
		                &m->text);
	}
}

void cls_msg_parse(const char *raw, size_t len, cls_msg *m)
{
	size_t hlen, b, ctlen = 0, ctelen = 0, n;
	const char *ctv, *ctev;
	ctype ctbuf, *ct = NULL;
	walk_state ws;

	cls_normalise(raw, len, &m->norm);
	hlen = cls_index_headers(m);
	m->hdr_len = hlen;
	/* sized once: the text is (mostly) no longer than the message */
	cs_buf_reserve(&m->text, m->norm.len < 65536 ? m->norm.len : 65536);
	memset(&ws, 0, sizeof ws);
	ws.m = m;
	ctv = cls_msg_hdr(m, "Content-Type", &ctlen);
	ctev = cls_msg_hdr(m, "Content-Transfer-Encoding", &ctelen);
	if (ctv && ctype_parse(ctv, ctlen, &ctbuf))
		ct = &ctbuf;
	b = hlen + 2 <= m->norm.len ? hlen + 2 : m->norm.len;
	m->mime_ok = true;
	walk(&ws, ct, ctev ? cte_of(ctev, ctelen) : CLS_CTE_8BIT,
	     m->norm.data + b, m->norm.len - b, 1);
	cs_buf_free(&ws.v);
	if (m->text.len == 0 && ws.html) {
		cls_decode_part(ws.html, ws.html_len, ws.html_enc, ws.html_cs,
		                &m->text);
		cls_strip_html(&m->text);
	}
	/* vals and text allocated and NUL-terminated even when empty; an
	 * empty dsn, arf or orig is left without memory (most are) */
	cs_buf_append(&m->vals, "", 0);
	cs_buf_append(&m->text, "", 0);
	m->orig_text_at =
	    m->multipart ? m->text.len : cls_orig_copy_at(&m->text);
	if (m->dsn.len == 0 && m->text.len)
		cls_inline_dsn(m);
	/* the words every detector reads, flattened once */
	n = m->orig_text_at;
	cs_buf_reserve(&m->flat, n < CLS_WORDS_SCAN ? n : CLS_WORDS_SCAN);
	cls_flatten(m->text.data, n < CLS_REASON_CTX ? n : CLS_REASON_CTX,
	            &m->flat);
	m->ctx_len = m->flat.len;
	if (n > CLS_REASON_CTX)
		cls_flatten(m->text.data + CLS_REASON_CTX,
		            (n < CLS_WORDS_SCAN ? n : CLS_WORDS_SCAN) -
		                CLS_REASON_CTX,
		            &m->flat);
	cs_buf_append(&m->flat, "", 0);
}

void cls_msg_free(cls_msg *m)
{
	cs_buf_free(&m->norm);
	if (m->fields != m->field0)
		free(m->fields);
	cs_buf_free(&m->vals);
	cs_buf_free(&m->dsn);
	cs_buf_free(&m->arf);
	cs_buf_free(&m->mdn);
	cs_buf_free(&m->text);
	cs_buf_free(&m->orig);
	cs_buf_free(&m->flat);
	memset(m, 0, sizeof *m);
}
