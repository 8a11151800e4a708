/*
 * decode.c - a MIME part's bytes as UTF-8 text.
 *
 * Base64 and quoted-printable (RFC 2045) are decoded here with lenient
 * decoders (junk is skipped, never an error), at most CLS_MAX_TEXT
 * bytes; text is turned into UTF-8 from Latin-1/windows-1252 here and
 * from other charsets (ISO-2022-JP, Shift_JIS, KOI8-R, ...) through ICU;
 * bytes in a charset ICU does not know are kept as they are.  Also the
 * RFC 2047 encoded-words of header values and the tags of an HTML part.
 * Nothing here fails.
 */
#include "cls_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/ucnv.h>
#include <unicode/ustring.h>

/* Append b[0..n) as UTF-8, reading it as ISO-8859-1 (windows-1252's extra
 * characters in 0x80-0x9f become U+0080-U+009F: harmless for matching). */
static void latin1_to_utf8(const char *b, size_t n, cs_buf *out)
{
	size_t i;

	cs_buf_reserve(out, n * 2);
	for (i = 0; i < n; i++) {
		unsigned char ch;
		uint64_t v;

		/* eight ASCII bytes are copied as they are */
		if (n - i >= 8) {
			memcpy(&v, b + i, 8);
			if ((v & 0x8080808080808080u) == 0) {
				memcpy(out->data + out->len, &v, 8);
				out->len += 8;
				i += 7;
				continue;
			}
		}
		ch = (unsigned char)b[i];

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

	if (n == 0 || n > CLS_MAX_TEXT || (cnv = conv_open(cs)) == NULL)
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

/* The value of each base64 character (RFC 2045 6.8); 64 for '=', 65 for
 * every byte outside the alphabet.  A table, not a chain of range tests:
 * the tests mispredict on every few characters of random data. */
#define B64_PAD  64
#define B64_JUNK 65
static const unsigned char b64_tab[256] = {
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 62, 65, 65, 65, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, 65, 65, 65, 64, 65, 65, 65, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 65, 65, 65, 65,
    65, 65, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65,
};

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
	/* four characters (three bytes) at a time while they are all in
	 * the alphabet and nothing is pending, the usual case inside a
	 * line; the rest one by one */
	while (p < e && w < wend) {
		unsigned v = b64_tab[*p];

		if (bits == 0 && e - p >= 4 && wend - w >= 3) {
			unsigned v1 = b64_tab[p[1]], v2 = b64_tab[p[2]],
			         v3 = b64_tab[p[3]];

			if ((v | v1 | v2 | v3) < 64) {
				uint32_t q = v << 18 | v1 << 12 | v2 << 6 | v3;

				w[0] = (char)(q >> 16);
				w[1] = (char)(q >> 8 & 0xff);
				w[2] = (char)(q & 0xff);
				w += 3;
				p += 4;
				continue;
			}
		}
		p++;
		if (v >= 64) {
			if (v == B64_PAD)
				break;
			continue;
		}
		acc = acc << 6 | v;
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
 * is) and append at most CLS_MAX_TEXT bytes of it to out, in UTF-8. */
void cls_decode_part(const char *src, size_t srclen, int enc, const char *cs,
                     cs_buf *out)
{
	size_t room, at = out->len;
	bool as_is = cs == NULL || cs[0] == '\0' || is_utf8(cs);
	cs_buf tmp = CS_BUF_INIT, *dst = as_is ? out : &tmp;
	char *z;

	if (srclen > 2 * (size_t)CLS_MAX_TEXT)
		srclen = 2 * (size_t)CLS_MAX_TEXT;
	room = out->len < CLS_MAX_TEXT ? CLS_MAX_TEXT - out->len : 0;
	if (enc == CLS_CTE_BASE64)
		b64_decode(src, srclen, room, dst);
	else if (enc == CLS_CTE_QP)
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
	char name[80], enc;
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

void cls_decode_words(const char *v, cs_buf *out)
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
			/* not an encoded-word after all: as it is */
			out->len = at;
			if (out->data)
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
void cls_strip_html(cs_buf *b)
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

			/* line breaks at block tags keep paragraphs apart
			 * (<br, <p, <div in any case: a byte | 0x20 is one
			 * of these letters only when it is that letter) */
			if (r + 3 < n) {
				char c1 = (char)(d[r + 1] | 0x20),
				     c2 = (char)(d[r + 2] | 0x20);

				if (c1 == 'p' || (c1 == 'b' && c2 == 'r') ||
				    (c1 == 'd' && c2 == 'i' &&
				     (d[r + 3] | 0x20) == 'v'))
					d[w++] = '\n';
			}
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
