/*
 * mime_walk.c - take a raw message apart for the classifier.
 *
 * imap_msg_parse() copies at most IMAP_MAX_SCAN bytes of the message into
 * a normalised buffer (CRLF line ends whatever the input used, NUL bytes
 * turned into spaces, every line cut at IMAP_MAX_LINE bytes), parses the
 * top header block once into a field index, and walks the MIME structure
 * (at most IMAP_MAX_DEPTH deep): each part's Content-Type and
 * Content-Transfer-Encoding are read, a multipart body is cut at its
 * boundary lines, and only what the detectors read is collected: readable
 * text outside any returned message, the delivery-status and
 * feedback-report parts and the header block of the returned original
 * message, which is never parsed further.  Base64 and quoted-printable are
 * decoded here (lenient decoders: junk is skipped, never an error), from
 * at most twice IMAP_MAX_TEXT encoded bytes per part, kept to
 * IMAP_MAX_TEXT decoded bytes, so a 50 MB attachment is never held
 * decoded.  Text is turned into UTF-8 (the detectors' words are
 * ASCII or UTF-8): Latin-1 and windows-1252 here, other charsets
 * (ISO-2022-JP, Shift_JIS, KOI8-R, ...) through ICU; bytes in a charset ICU
 * does not know are kept as they are.  The text is flattened once
 * (imap_flatten) for every detector.
 *
 * Nothing here fails: a part that cannot be read is skipped.
 */
#define _GNU_SOURCE /* memmem */
#include "imap_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>
#include <unicode/ucnv.h>
#include <unicode/ustring.h>

/* ---- normalising -------------------------------------------------------- */

/* Append one line's bytes (no line end) to out, cut at IMAP_MAX_LINE.
 * Lines are short: eight bytes at a time beats a string instruction's
 * start-up cost. */
static inline void put_line(cs_buf *out, const char *p, size_t n)
{
	char *d = out->data + out->len;

	if (n > IMAP_MAX_LINE)
		n = IMAP_MAX_LINE;
	out->len += n + 2;
	if (n >= 128) {
		memcpy(d, p, n);
		d += n;
	} else {
		for (; n >= 8; n -= 8, d += 8, p += 8)
			memcpy(d, p, 8);
		while (n--)
			*d++ = *p++;
	}
	d[0] = '\r';
	d[1] = '\n';
}

static void normalise(const char *raw, size_t len, cs_buf *out)
{
	size_t i = 0;
	const char *p, *end;
	bool any_cr;

	if (len > IMAP_MAX_SCAN)
		len = IMAP_MAX_SCAN;
	/* worst case: every byte a line end that becomes CRLF */
	cs_buf_reserve(out, 2 * len + 4);
	/* an mbox "From " separator line is not a header */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		while (i < len && raw[i] != '\n' && raw[i] != '\r')
			i++;
		if (i < len && raw[i] == '\r')
			i++;
		if (i < len && raw[i] == '\n')
			i++;
	}
	p = raw + i;
	end = raw + len;
	/* LF-only mail (the common case) needs no search for CRs per line */
	any_cr = memchr(p, '\r', (size_t)(end - p)) != NULL;
	while (p < end) {
		const char *nl = imap_memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *cr =
		    any_cr ? imap_memchr(p, '\r', (size_t)(e - p)) : NULL;

		/* "...\r\n" or "...\n": one line; a bare CR inside splits it */
		while (cr && cr + 1 < e) {
			put_line(out, p, (size_t)(cr - p));
			p = cr + 1;
			cr = imap_memchr(p, '\r', (size_t)(e - p));
		}
		put_line(out, p, (size_t)((cr ? cr : e) - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	/* NUL bytes would end the C strings the detectors read */
	{
		char *z = memchr(out->data, '\0', out->len);

		while (z) {
			*z = ' ';
			z = memchr(z + 1, '\0',
			           out->len - (size_t)(z + 1 - out->data));
		}
	}
	if (out->len == 0)
		cs_buf_append(out, "\r\n", 2);
	out->data[out->len] = '\0';
}

/* ---- decoding parts ------------------------------------------------------ */

/* Append b[0..n) as UTF-8, reading it as ISO-8859-1 (windows-1252's extra
 * characters in 0x80-0x9f become U+0080-U+009F: harmless for matching). */
static void latin1_to_utf8(const char *b, size_t n, cs_buf *out)
{
	size_t i;

	cs_buf_reserve(out, n * 2);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (ch < 0x80) {
			out->data[out->len++] = (char)ch;
		} else {
			out->data[out->len++] = (char)(0xc0 | (ch >> 6));
			out->data[out->len++] = (char)(0x80 | (ch & 0x3f));
		}
	}
	out->data[out->len] = '\0';
}

/* ICU converters are slow to open (an alias lookup under a lock) and
 * cheap to clone: one per charset name is opened on first use and kept
 * for the life of the process (read-only from then on, like match.c's
 * tables), and each conversion works on a clone of it. */
#define CONV_SLOTS 16
#define CONV_NAME  40

typedef struct conv_master {
	char name[CONV_NAME]; /* lower case */
	UConverter *cnv;
} conv_master;

static _Atomic(conv_master *) conv_cache[CONV_SLOTS];

/* A converter of its own for charset cs (caller closes it), or NULL. */
static UConverter *conv_open(const char *cs)
{
	char low[CONV_NAME];
	UErrorCode st = U_ZERO_ERROR;
	size_t k;
	int i;

	for (k = 0; cs[k] && k + 1 < sizeof low; k++)
		low[k] = (char)tolower((unsigned char)cs[k]);
	if (cs[k])
		return ucnv_open(cs, &st); /* a name too long to keep */
	low[k] = '\0';
	for (i = 0; i < CONV_SLOTS; i++) {
		conv_master *c =
		    atomic_load_explicit(&conv_cache[i], memory_order_acquire);

		if (c == NULL) {
			conv_master *none = NULL, *nm;
			UConverter *u = ucnv_open(cs, &st);

			if (U_FAILURE(st) || u == NULL)
				return NULL;
			nm = cs_xcalloc(1, sizeof *nm);
			memcpy(nm->name, low, k + 1);
			nm->cnv = u;
			if (atomic_compare_exchange_strong_explicit(
			        &conv_cache[i], &none, nm, memory_order_acq_rel,
			        memory_order_acquire)) {
				c = nm;
			} else { /* another thread filled the slot */
				ucnv_close(u);
				free(nm);
				c = none;
			}
		}
		if (strcmp(c->name, low) == 0)
			return ucnv_clone(c->cnv, &st);
	}
	return ucnv_open(cs, &st);
}

/* Append b[0..n) converted from charset cs to UTF-8 (ICU); false, with
 * nothing appended, when ICU does not know cs or cannot convert. */
static bool icu_to_utf8(const char *b, size_t n, const char *cs, cs_buf *out)
{
	UErrorCode st = U_ZERO_ERROR;
	UConverter *cnv;
	UChar *u;
	int32_t nu, got = 0;
	size_t cap;
	bool ok = false;

	if (n == 0 || n > IMAP_MAX_TEXT || (cnv = conv_open(cs)) == NULL)
		return false;
	/* no charset gives more than one UTF-16 unit per byte, bar a
	 * surrogate pair for four bytes; UTF-8 is at most three bytes per
	 * unit */
	u = cs_xmalloc((n + 16) * sizeof *u);
	nu = ucnv_toUChars(cnv, u, (int32_t)(n + 16), b, (int32_t)n, &st);
	if (U_SUCCESS(st) && nu >= 0) {
		cap = 3 * (size_t)nu + 16;
		cs_buf_reserve(out, cap + 1);
		u_strToUTF8(out->data + out->len, (int32_t)cap, &got, u, nu,
		            &st);
		if (U_SUCCESS(st) && got >= 0 && (size_t)got <= cap) {
			out->len += (size_t)got;
			ok = true;
		}
	}
	if (out->data)
		out->data[out->len] = '\0';
	free(u);
	ucnv_close(cnv);
	return ok;
}

/* Charsets that are UTF-8 or ASCII already: kept as they are. */
static bool is_utf8(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

static bool is_latin1(const char *cs)
{
	static const char *const names[] = {
	    "iso-8859-1", "iso8859-1",    "latin1", "iso-8859-15", "latin-1",
	    "us-ascii",   "windows-1252", "cp1252", NULL,
	};
	int i;

	for (i = 0; names[i]; i++)
		if (strcasecmp(cs, names[i]) == 0)
			return strcasecmp(cs, "us-ascii") != 0;
	return false;
}

/* Transfer-encoding of a part (its Content-Transfer-Encoding value). */
static int cte_of(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= 6 && strncasecmp(v, "base64", 6) == 0)
		return MAILMIME_MECHANISM_BASE64;
	if (n >= 16 && strncasecmp(v, "quoted-printable", 16) == 0)
		return MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	return MAILMIME_MECHANISM_8BIT;
}

/* The value of a base64 character (RFC 2045 6.8), or -1. */
static inline int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static inline int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Base64 of src[0..n) appended to out, at most max bytes: characters
 * outside the alphabet (line ends, white space, junk) are skipped, "="
 * ends the data. */
static void b64_decode(const char *src, size_t n, size_t max, cs_buf *out)
{
	const unsigned char *p = (const unsigned char *)src, *e = p + n;
	uint32_t acc = 0;
	int bits = 0;
	size_t cap = n / 4 * 3 + 3 < max ? n / 4 * 3 + 3 : max;
	char *w, *wend;

	cs_buf_reserve(out, cap);
	w = out->data + out->len;
	wend = w + cap;
	for (; p < e && w < wend; p++) {
		int v = b64_val(*p);

		if (v < 0) {
			if (*p == '=')
				break;
			continue;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*w++ = (char)(acc >> bits & 0xff);
		}
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
}

/* Quoted-printable (RFC 2045 6.7) of src[0..n) appended to out, at most
 * max bytes: "=XX" is a byte, "=" at a line end (white space allowed
 * before it) joins the lines, any other "=" stays as it is. */
static void qp_decode(const char *src, size_t n, size_t max, cs_buf *out)
{
	const char *p = src, *e = src + n;
	size_t cap = n < max ? n : max;
	char *w, *wend;

	cs_buf_reserve(out, cap);
	w = out->data + out->len;
	wend = w + cap;
	while (p < e && w < wend) {
		const char *q, *eq = memchr(p, '=', (size_t)(e - p));
		size_t run = (size_t)((eq ? eq : e) - p);
		int hi, lo;

		/* the bytes up to the next "=" as they are */
		if (run > (size_t)(wend - w))
			run = (size_t)(wend - w);
		memcpy(w, p, run);
		w += run;
		p += run;
		if (eq == NULL || p < eq || w >= wend)
			break;
		if (e - p >= 3 && (hi = hex_val((unsigned char)p[1])) >= 0 &&
		    (lo = hex_val((unsigned char)p[2])) >= 0) {
			*w++ = (char)(hi << 4 | lo);
			p += 3;
			continue;
		}
		for (q = p + 1; q < e && (*q == ' ' || *q == '\t'); q++)
			;
		if (q == e || *q == '\r' || *q == '\n') {
			/* a soft line break */
			if (q < e && *q == '\r')
				q++;
			if (q < e && *q == '\n')
				q++;
			p = q;
			continue;
		}
		*w++ = *p++;
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
}

/* Decode a part's body src[0..srclen) (base64, quoted-printable or as it
 * is) and append at most IMAP_MAX_TEXT bytes of it to out, in UTF-8. */
static void decode_part(const char *src, size_t srclen, int enc, const char *cs,
                        cs_buf *out)
{
	size_t room, at = out->len;
	bool as_is = cs == NULL || cs[0] == '\0' || is_utf8(cs);
	cs_buf tmp = CS_BUF_INIT, *dst = as_is ? out : &tmp;
	char *z;

	if (srclen > 2 * (size_t)IMAP_MAX_TEXT)
		srclen = 2 * (size_t)IMAP_MAX_TEXT;
	room = out->len < IMAP_MAX_TEXT ? IMAP_MAX_TEXT - out->len : 0;
	if (enc == MAILMIME_MECHANISM_BASE64)
		b64_decode(src, srclen, room, dst);
	else if (enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE)
		qp_decode(src, srclen, room, dst);
	else
		cs_buf_append(dst, src, srclen < room ? srclen : room);
	if (!as_is) {
		if (is_latin1(cs))
			latin1_to_utf8(tmp.data ? tmp.data : "", tmp.len, out);
		else if (!icu_to_utf8(tmp.data, tmp.len, cs, out))
			cs_buf_append(out, tmp.data, tmp.len);
		cs_buf_free(&tmp);
	}
	/* decoded bytes may hold NULs: the detectors read C strings */
	if (out->len > at)
		for (z = memchr(out->data + at, '\0', out->len - at); z;
		     z = memchr(z + 1, '\0',
		                out->len - (size_t)(z + 1 - out->data)))
			*z = ' ';
	if (out->len && out->data[out->len - 1] != '\n')
		cs_buf_append(out, "\r\n", 2);
}

#define CT_VAL 80 /* bytes kept of a Content-Type parameter */

/* Append b[0..n), in charset cs, to out as UTF-8. */
static void to_utf8(const char *b, size_t n, const char *cs, cs_buf *out)
{
	bool done = false;

	if (cs && cs[0] && !is_utf8(cs)) {
		if (is_latin1(cs)) {
			latin1_to_utf8(b, n, out);
			done = true;
		} else {
			done = icu_to_utf8(b, n, cs, out);
		}
	}
	if (!done) /* UTF-8 already, or a charset ICU does not know */
		cs_buf_append(out, b, n);
}

/* One RFC 2047 encoded-word at p ("=?charset?B?...?=", "=?cs?Q?...?="):
 * decoded and appended to out, returns its end; NULL (nothing appended)
 * when p holds none. */
static const char *encoded_word(const char *p, cs_buf *out)
{
	const char *cs = p + 2, *q1, *q2, *end;
	char name[CT_VAL], enc;
	size_t k;
	cs_buf raw = CS_BUF_INIT;

	q1 = strchr(cs, '?');
	if (q1 == NULL || q1 == cs || (size_t)(q1 - cs) >= sizeof name ||
	    q1[1] == '\0' || q1[2] != '?')
		return NULL;
	enc = (char)(q1[1] | 0x20);
	if (enc != 'b' && enc != 'q')
		return NULL;
	q2 = q1 + 3;
	end = strstr(q2, "?=");
	if (end == NULL)
		return NULL;
	/* the charset, without an RFC 2231 language ("utf-8*en") */
	for (k = 0; cs + k < q1 && cs[k] != '*'; k++)
		name[k] = cs[k];
	name[k] = '\0';
	if (enc == 'b') {
		b64_decode(q2, (size_t)(end - q2), (size_t)(end - q2), &raw);
	} else {
		const char *t;

		cs_buf_reserve(&raw, (size_t)(end - q2));
		for (t = q2; t < end; t++) {
			int hi, lo;

			if (*t == '_') {
				raw.data[raw.len++] = ' ';
			} else if (*t == '=' && end - t >= 3 &&
			           (hi = hex_val((unsigned char)t[1])) >= 0 &&
			           (lo = hex_val((unsigned char)t[2])) >= 0) {
				raw.data[raw.len++] = (char)(hi << 4 | lo);
				t += 2;
			} else {
				raw.data[raw.len++] = *t;
			}
		}
	}
	to_utf8(raw.data ? raw.data : "", raw.len, name, out);
	cs_buf_free(&raw);
	return end + 2;
}

void imap_decode_words(const char *v, cs_buf *out)
{
	const char *p = v, *ws = NULL;
	bool after_word = false;

	while (*p) {
		const char *e;

		if (p[0] == '=' && p[1] == '?') {
			size_t at = out->len;

			/* white space between two encoded-words is dropped */
			if (ws && !after_word)
				cs_buf_append(out, ws, (size_t)(p - ws));
			if ((e = encoded_word(p, out)) != NULL) {
				ws = NULL;
				after_word = true;
				p = e;
				continue;
			}
			out->len = at;
			out->data[at] = '\0';
		}
		if (*p == ' ' || *p == '\t') {
			if (ws == NULL)
				ws = p;
			p++;
			continue;
		}
		if (ws)
			cs_buf_append(out, ws, (size_t)(p - ws));
		ws = NULL;
		after_word = false;
		cs_buf_append(out, p, 1);
		p++;
	}
	if (ws)
		cs_buf_append(out, ws, (size_t)(p - ws));
	cs_buf_append(out, "", 0);
}

/* Remove tags and decode the commonest entities, in place (b holds no
 * NUL before its end: decode_part saw to that). */
static void strip_html(cs_buf *b)
{
	static const struct {
		const char *ent;
		char ch;
	} ents[] = {{"&nbsp;", ' '}, {"&lt;", '<'},   {"&gt;", '>'},
	            {"&amp;", '&'},  {"&quot;", '"'}, {NULL, 0}};
	char *d = b->data;
	size_t r = 0, w = 0, n = b->len;

	while (r < n) {
		size_t run = strcspn(d + r, "<&");
		int i;

		/* text up to the next tag or entity as it is */
		if (run > n - r)
			run = n - r;
		memmove(d + w, d + r, run);
		w += run;
		r += run;
		if (r >= n)
			break;
		if (d[r] == '<') {
			const char *gt;

			/* line breaks at block tags keep paragraphs apart */
			if (r + 3 < n && (strncasecmp(d + r, "<br", 3) == 0 ||
			                  strncasecmp(d + r, "<p", 2) == 0 ||
			                  strncasecmp(d + r, "<div", 4) == 0))
				d[w++] = '\n';
			gt = memchr(d + r, '>', n - r);
			if (gt == NULL)
				break; /* an unclosed tag runs to the end */
			d[w++] = ' ';
			r = (size_t)(gt - d) + 1;
			continue;
		}
		for (i = 0; ents[i].ent; i++) {
			size_t el = strlen(ents[i].ent);

			if (n - r >= el &&
			    strncasecmp(d + r, ents[i].ent, el) == 0)
				break;
		}
		if (ents[i].ent) {
			d[w++] = ents[i].ch;
			r += strlen(ents[i].ent);
		} else {
			d[w++] = d[r++];
		}
	}
	b->len = w;
	if (b->data)
		b->data[w] = '\0';
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
	imap_msg *m;
	/* the first text/html part, decoded only when there is no
	 * text/plain */
	const char *html;
	size_t html_len;
	int html_enc;
	char html_cs[CT_VAL];
	int parts;
	/* a part's Content-Type, Content-Transfer-Encoding and field
	 * values, reused from part to part (walk() reads the first two
	 * before it goes into any sub-part) */
	cs_buf ct, cte, v;
} walk_state;

/* A Content-Type value taken apart (RFC 2045 5.1): type and subtype,
 * and the parameters the walk uses.  Values longer than the fields are
 * cut; a boundary is at most 70 characters (RFC 2046). */
typedef struct ctype {
	char type[24], sub[48];
	char boundary[CT_VAL], charset[CT_VAL], report[CT_VAL];
} ctype;

static bool tspecial(char ch)
{
	switch (ch) {
	case '(':
	case ')':
	case '<':
	case '>':
	case '@':
	case ',':
	case ';':
	case ':':
	case '\\':
	case '"':
	case '/':
	case '[':
	case ']':
	case '?':
	case '=': return true;
	default: return false;
	}
}

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

	while (p < e && (unsigned char)*p > ' ' && !tspecial(*p)) {
		if (k + 1 < n)
			out[k++] = low ? (char)tolower((unsigned char)*p) : *p;
		p++;
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
	while ((nl = imap_memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl > s && nl[-1] == '\r' && end - nl > 2 && nl[1] == '\r' &&
		    nl[2] == '\n')
			return (size_t)(nl - 1 - s) + 2;
		p = nl + 1;
	}
	return n;
}
static void keep_orig_headers(imap_msg *m, const char *s, size_t n)
{
	size_t h;

	if (m->orig.len || n == 0)
		return;
	h = header_block_len(s, n);
	if (h > IMAP_MAX_TEXT)
		h = IMAP_MAX_TEXT;
	cs_buf_append(&m->orig, s, h);
}

static void walk(walk_state *ws, const char *ctv, size_t ctlen,
                 const char *ctev, size_t ctelen, const char *body, size_t blen,
                 int depth);

/* One part: its header block then its body. */
static void walk_part(walk_state *ws, const char *p, size_t n, int depth)
{
	const char *ctv = NULL, *ctev = NULL;
	size_t ctlen = 0, ctelen = 0, h = header_block_len(p, n), b;
	imap_hdr_iter it;
	const char *nm;
	size_t nl;
	cs_buf *ct = &ws->ct, *cte = &ws->cte;

	cs_buf_clear(ct);
	cs_buf_clear(cte);
	imap_hdr_begin(&it, p, h);
	while (imap_hdr_next(&it, &nm, &nl, &ws->v)) {
		if (nl == 12 && strncasecmp(nm, "Content-Type", 12) == 0 &&
		    ct->len == 0)
			cs_buf_append(ct, ws->v.data, ws->v.len);
		else if (nl == 25 &&
		         strncasecmp(nm, "Content-Transfer-Encoding", 25) ==
		             0 &&
		         cte->len == 0)
			cs_buf_append(cte, ws->v.data, ws->v.len);
	}
	if (ct->len) {
		ctv = ct->data;
		ctlen = ct->len;
	}
	if (cte->len) {
		ctev = cte->data;
		ctelen = cte->len;
	}
	b = h + 2 <= n ? h + 2 : n;
	walk(ws, ctv, ctlen, ctev, ctelen, p + b, n - b, depth);
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
 * than going line by line. */
static const char *find_delim(const char *s, const char *end,
                              const char *needle, size_t nl)
{
	return s < end ? memmem(s, (size_t)(end - s), needle, nl) : NULL;
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

		ps = imap_memchr(d, '\n', (size_t)(end - d));
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
		if (ws->parts > 4 * IMAP_MAX_RCPTS)
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

static void walk(walk_state *ws, const char *ctv, size_t ctlen,
                 const char *ctev, size_t ctelen, const char *body, size_t blen,
                 int depth)
{
	imap_msg *m = ws->m;
	ctype ctbuf, *ct = NULL;
	int enc = ctev ? cte_of(ctev, ctelen) : MAILMIME_MECHANISM_8BIT;

	if (depth > IMAP_MAX_DEPTH || ++ws->parts > 4 * IMAP_MAX_RCPTS)
		return;
	if (ctv && ctype_parse(ctv, ctlen, &ctbuf))
		ct = &ctbuf;
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
					m->report = IMAP_REPORT_DSN;
				else if (strcasecmp(rt, "feedback-report") == 0)
					m->report = IMAP_REPORT_ARF;
				else if (strcasecmp(
				             rt, "disposition-notification") ==
				         0)
					m->report = IMAP_REPORT_MDN;
				else
					m->report = IMAP_REPORT_OTHER;
			}
		}
		if (!(bd && *bd && walk_multipart(ws, body, blen, bd, depth)) &&
		    depth <= 1) {
			/* no boundary or no part: read the body as text */
			decode_part(body, blen, enc, NULL, &m->text);
		}
		return;
	}
	if (ct_is(ct, "message", "rfc822") || ct_is(ct, "message", "global")) {
		/* a returned message: its headers only, never its text */
		keep_orig_headers(m, body, blen);
	} else if (ct_is(ct, "message", "delivery-status") ||
	           ct_is(ct, "message", "global-delivery-status")) {
		if (m->report == IMAP_REPORT_NONE ||
		    m->report == IMAP_REPORT_OTHER)
			m->report = IMAP_REPORT_DSN;
		decode_part(body, blen, enc, NULL, &m->dsn);
		cs_buf_append(&m->dsn, "\r\n", 2);
	} else if (ct_is(ct, "message", "feedback-report")) {
		if (m->report == IMAP_REPORT_NONE ||
		    m->report == IMAP_REPORT_OTHER)
			m->report = IMAP_REPORT_ARF;
		decode_part(body, blen, enc, NULL, &m->arf);
	} else if (ct_is(ct, "message", "disposition-notification")) {
		if (m->report == IMAP_REPORT_NONE)
			m->report = IMAP_REPORT_MDN;
	} else if (ct_is(ct, "text", "rfc822-headers") ||
	           ct_is(ct, "message", "global-headers")) {
		cs_buf tmp = CS_BUF_INIT;

		decode_part(body, blen, enc, NULL, &tmp);
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
		decode_part(body, blen, enc, ct ? ct->charset : NULL, &m->text);
	}
}

/* ---- the top header block, parsed once ---------------------------------- */

static void index_headers(imap_msg *m)
{
	imap_hdr_iter it;
	const char *n;
	size_t nl, cap = 0;
	cs_buf v = CS_BUF_INIT;

	imap_hdr_begin(&it, m->norm.data, m->hdr_len);
	while (imap_hdr_next(&it, &n, &nl, &v)) {
		imap_field *f;

		if (m->nfields == cap) {
			cap = cap ? 2 * cap : 32;
			m->fields = cs_xrealloc(m->fields, cap * sizeof *f);
		}
		f = &m->fields[m->nfields++];
		f->name = n;
		f->nlen = nl;
		f->off = m->vals.len;
		f->vlen = v.len;
		cs_buf_append(&m->vals, v.data ? v.data : "", v.len);
		cs_buf_putc(&m->vals, '\0');
	}
	cs_buf_free(&v);
}

const char *imap_msg_hdr_nth(const imap_msg *m, const char *name, size_t k,
                             size_t *len)
{
	size_t i, want = strlen(name);

	for (i = 0; i < m->nfields; i++) {
		const imap_field *f = &m->fields[i];

		if (f->nlen == want && strncasecmp(f->name, name, want) == 0 &&
		    k-- == 0) {
			if (len)
				*len = f->vlen;
			return m->vals.data + f->off;
		}
	}
	if (len)
		*len = 0;
	return NULL;
}

const char *imap_msg_hdr(const imap_msg *m, const char *name, size_t *len)
{
	return imap_msg_hdr_nth(m, name, 0, len);
}

void imap_msg_parse(const char *raw, size_t len, imap_msg *m)
{
	size_t hlen, b, ctlen = 0, ctelen = 0, n;
	const char *ctv, *ctev;
	walk_state ws;

	normalise(raw, len, &m->norm);
	hlen = header_block_len(m->norm.data, m->norm.len);
	m->hdr_len = hlen;
	/* sized once: the values are no longer than the header block, the
	 * text (mostly) than the message */
	cs_buf_reserve(&m->vals, hlen + 64);
	cs_buf_reserve(&m->text, m->norm.len < 65536 ? m->norm.len : 65536);
	index_headers(m);
	memset(&ws, 0, sizeof ws);
	ws.m = m;
	ctv = imap_msg_hdr(m, "Content-Type", &ctlen);
	ctev = imap_msg_hdr(m, "Content-Transfer-Encoding", &ctelen);
	b = hlen + 2 <= m->norm.len ? hlen + 2 : m->norm.len;
	m->mime_ok = true;
	walk(&ws, ctv, ctlen, ctev, ctelen, m->norm.data + b, m->norm.len - b,
	     1);
	cs_buf_free(&ws.ct);
	cs_buf_free(&ws.cte);
	cs_buf_free(&ws.v);
	if (m->text.len == 0 && ws.html) {
		decode_part(ws.html, ws.html_len, ws.html_enc, ws.html_cs,
		            &m->text);
		strip_html(&m->text);
	}
	/* every buffer allocated and NUL-terminated, even when empty */
	cs_buf_append(&m->vals, "", 0);
	cs_buf_append(&m->text, "", 0);
	cs_buf_append(&m->dsn, "", 0);
	cs_buf_append(&m->arf, "", 0);
	cs_buf_append(&m->orig, "", 0);
	m->orig_text_at =
	    m->multipart ? m->text.len : imap_orig_copy_at(&m->text);
	if (m->dsn.len == 0 && m->text.len)
		imap_inline_dsn(m);
	/* the words every detector reads, flattened once */
	n = m->orig_text_at;
	cs_buf_reserve(&m->flat, n < IMAP_WORDS_SCAN ? n : IMAP_WORDS_SCAN);
	imap_flatten(m->text.data, n < IMAP_REASON_CTX ? n : IMAP_REASON_CTX,
	             &m->flat);
	m->ctx_len = m->flat.len;
	if (n > IMAP_REASON_CTX)
		imap_flatten(m->text.data + IMAP_REASON_CTX,
		             (n < IMAP_WORDS_SCAN ? n : IMAP_WORDS_SCAN) -
		                 IMAP_REASON_CTX,
		             &m->flat);
	cs_buf_append(&m->flat, "", 0);
}

void imap_msg_free(imap_msg *m)
{
	cs_buf_free(&m->norm);
	free(m->fields);
	cs_buf_free(&m->vals);
	cs_buf_free(&m->dsn);
	cs_buf_free(&m->arf);
	cs_buf_free(&m->text);
	cs_buf_free(&m->orig);
	cs_buf_free(&m->flat);
	memset(m, 0, sizeof *m);
}
