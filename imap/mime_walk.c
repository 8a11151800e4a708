/*
 * mime_walk.c - take a raw message apart for the classifier.
 *
 * imap_msg_parse() copies at most IMAP_MAX_SCAN bytes of the message into
 * a normalised buffer (CRLF line ends whatever the input used, NUL bytes
 * turned into spaces, every line cut at IMAP_MAX_LINE bytes), hands that to
 * libetpan's MIME parser and walks the tree (at most IMAP_MAX_DEPTH deep)
 * collecting what the detectors read: readable text outside any returned
 * message, the delivery-status and feedback-report parts and the header
 * block of the returned original message.  Each part is decoded
 * (base64/quoted-printable) from at most twice IMAP_MAX_TEXT encoded bytes
 * and kept to IMAP_MAX_TEXT decoded bytes, so a 50 MB attachment is never
 * held decoded.  Latin-1 and windows-1252 text is turned into UTF-8; other
 * charsets are kept as bytes (the detectors' words are ASCII or UTF-8).
 *
 * Also the small text helpers every detector shares (header iteration,
 * flattening, searching).  Nothing here fails: a part libetpan cannot
 * parse is skipped.
 */
#define _GNU_SOURCE /* memmem */
#include "imap_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

/* ---- normalising -------------------------------------------------------- */

static void normalise(const char *raw, size_t len, cs_buf *out)
{
	size_t i, linelen = 0;

	if (len > IMAP_MAX_SCAN)
		len = IMAP_MAX_SCAN;
	cs_buf_reserve(out, len + len / 32 + 4);
	i = 0;
	/* an mbox "From " separator line is not a header: libetpan would
	 * take the whole message for a body */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		while (i < len && raw[i] != '\n' && raw[i] != '\r')
			i++;
		if (i < len && raw[i] == '\r')
			i++;
		if (i < len && raw[i] == '\n')
			i++;
	}
	for (; i < len; i++) {
		char ch = raw[i];

		if (ch == '\r' || ch == '\n') {
			if (ch == '\r' && i + 1 < len && raw[i + 1] == '\n')
				i++;
			cs_buf_append(out, "\r\n", 2);
			linelen = 0;
			continue;
		}
		if (linelen >= IMAP_MAX_LINE)
			continue;
		linelen++;
		if (out->len + 2 >= out->cap)
			cs_buf_reserve(out, 4096);
		out->data[out->len++] = ch == '\0' ? ' ' : ch;
	}
	cs_buf_reserve(out, 2);
	if (out->len == 0 ||
	    !(out->len >= 2 && out->data[out->len - 1] == '\n'))
		cs_buf_append(out, "\r\n", 2);
	out->data[out->len] = '\0';
}

/* ---- header blocks ------------------------------------------------------ */

void imap_hdr_begin(imap_hdr_iter *it, const char *blk, size_t len)
{
	it->p = blk;
	it->end = blk + len;
	it->done = false;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

bool imap_hdr_next(imap_hdr_iter *it, const char **name, size_t *nlen,
                   cs_buf *value)
{
	for (;;) {
		const char *p = it->p, *eol, *colon, *v;

		if (it->done || p >= it->end)
			return false;
		eol = line_end(p, it->end);
		if (eol == p || (eol == p + 1 && *p == '\r')) {
			/* empty line: end of block */
			it->p = eol < it->end ? eol + 1 : eol;
			it->done = true;
			return false;
		}
		it->p = eol < it->end ? eol + 1 : eol;
		if (*p == ' ' || *p == '\t')
			continue; /* stray continuation */
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			continue; /* not a field (e.g. an mbox "From " line) */
		*name = p;
		*nlen = (size_t)(colon - p);
		while (*nlen > 0 &&
		       (p[*nlen - 1] == ' ' || p[*nlen - 1] == '\t'))
			(*nlen)--;
		cs_buf_clear(value);
		v = colon + 1;
		for (;;) {
			const char *e = eol;

			if (e > v && e[-1] == '\r')
				e--;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			if (value->len && v < e)
				cs_buf_putc(value, ' ');
			if (value->len + (size_t)(e - v) < IMAP_MAX_LINE)
				cs_buf_append(value, v, (size_t)(e - v));
			/* continuation lines */
			if (it->p >= it->end ||
			    (*it->p != ' ' && *it->p != '\t'))
				break;
			v = it->p;
			eol = line_end(v, it->end);
			it->p = eol < it->end ? eol + 1 : eol;
		}
		while (value->len > 0 &&
		       isspace((unsigned char)value->data[value->len - 1]))
			value->len--;
		if (value->data)
			value->data[value->len] = '\0';
		return true;
	}
}

bool imap_hdr_get(const char *blk, size_t len, const char *name, cs_buf *value)
{
	imap_hdr_iter it;
	const char *n;
	size_t nl, want = strlen(name);

	imap_hdr_begin(&it, blk, len);
	while (imap_hdr_next(&it, &n, &nl, value))
		if (nl == want && strncasecmp(n, name, nl) == 0)
			return true;
	cs_buf_clear(value);
	return false;
}

/* ---- text helpers -------------------------------------------------------- */

void imap_flatten(const char *src, size_t n, cs_buf *out)
{
	size_t i;
	bool space = out->len > 0 && out->data[out->len - 1] == ' ';

	cs_buf_reserve(out, n + 1);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
		    ch == '\f' || ch == '\v') {
			if (!space && out->len > 0)
				out->data[out->len++] = ' ';
			space = true;
			continue;
		}
		space = false;
		out->data[out->len++] = (char)tolower(ch);
	}
	out->data[out->len] = '\0';
}

const char *imap_find(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle));
}

int imap_find_any(const char *hay, size_t n, const char *const *list,
                  const char **at)
{
	int i;

	for (i = 0; list[i]; i++) {
		const char *p = imap_find(hay, n, list[i]);

		if (p) {
			if (at)
				*at = p;
			return i;
		}
	}
	return -1;
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

/* Decode part p's body and append at most IMAP_MAX_TEXT bytes to out. */
static void decode_part(struct mailmime *p, cs_buf *out)
{
	struct mailmime_data *d = p->mm_body;
	const char *src;
	size_t srclen, idx = 0, dlen = 0, room;
	char *dec = NULL, *cs;
	int enc;

	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT)
		return;
	src = d->dt_data.dt_text.dt_data;
	srclen = d->dt_data.dt_text.dt_length;
	if (srclen > 2 * (size_t)IMAP_MAX_TEXT)
		srclen = 2 * (size_t)IMAP_MAX_TEXT;
	enc = d->dt_encoded ? d->dt_encoding : MAILMIME_MECHANISM_8BIT;
	if (enc != MAILMIME_MECHANISM_BASE64 &&
	    enc != MAILMIME_MECHANISM_QUOTED_PRINTABLE)
		enc = MAILMIME_MECHANISM_8BIT;
	if (mailmime_part_parse(src, srclen, &idx, enc, &dec, &dlen) !=
	    MAILIMF_NO_ERROR)
		return;
	room = out->len < IMAP_MAX_TEXT ? IMAP_MAX_TEXT - out->len : 0;
	if (dlen > room)
		dlen = room;
	cs = p->mm_content_type
	         ? mailmime_content_charset_get(p->mm_content_type)
	         : NULL;
	{
		/* decoded bytes may hold NULs: the detectors read C strings */
		size_t at = out->len, k;

		if (cs && is_latin1(cs))
			latin1_to_utf8(dec, dlen, out);
		else
			cs_buf_append(out, dec, dlen);
		for (k = at; k < out->len; k++)
			if (out->data[k] == '\0')
				out->data[k] = ' ';
	}
	if (out->len && out->data[out->len - 1] != '\n')
		cs_buf_append(out, "\r\n", 2);
	mailmime_decoded_part_free(dec);
}

/* Remove tags and decode the commonest entities, in place. */
static void strip_html(cs_buf *b)
{
	size_t r = 0, w = 0;
	bool in_tag = false;

	for (r = 0; r < b->len; r++) {
		char ch = b->data[r];

		if (in_tag) {
			if (ch == '>') {
				in_tag = false;
				b->data[w++] = ' ';
			}
			continue;
		}
		if (ch == '<') {
			/* line breaks at block tags keep paragraphs apart */
			in_tag = true;
			if (r + 3 < b->len &&
			    (strncasecmp(b->data + r, "<br", 3) == 0 ||
			     strncasecmp(b->data + r, "<p", 2) == 0 ||
			     strncasecmp(b->data + r, "<div", 4) == 0))
				b->data[w++] = '\n';
			continue;
		}
		if (ch == '&') {
			static const struct {
				const char *ent;
				char ch;
			} ents[] = {{"&nbsp;", ' '}, {"&lt;", '<'},
			            {"&gt;", '>'},   {"&amp;", '&'},
			            {"&quot;", '"'}, {NULL, 0}};
			int i;

			for (i = 0; ents[i].ent; i++) {
				size_t el = strlen(ents[i].ent);

				if (b->len - r >= el &&
				    strncasecmp(b->data + r, ents[i].ent, el) ==
				        0) {
					b->data[w++] = ents[i].ch;
					r += el - 1;
					break;
				}
			}
			if (ents[i].ent)
				continue;
		}
		b->data[w++] = ch;
	}
	b->len = w;
	if (b->data)
		b->data[w] = '\0';
}

/* ---- the walk ------------------------------------------------------------ */

typedef struct walk_state {
	imap_msg *m;
	cs_buf html; /* text/html, used when there is no text/plain */
	int parts;
} walk_state;

static bool ct_is(struct mailmime_content *ct, const char *type,
                  const char *sub)
{
	const char *t = NULL;

	if (ct == NULL || ct->ct_type == NULL || ct->ct_subtype == NULL)
		return false;
	if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE) {
		switch (ct->ct_type->tp_data.tp_discrete_type->dt_type) {
		case MAILMIME_DISCRETE_TYPE_TEXT: t = "text"; break;
		case MAILMIME_DISCRETE_TYPE_APPLICATION:
			t = "application";
			break;
		case MAILMIME_DISCRETE_TYPE_EXTENSION:
			t = ct->ct_type->tp_data.tp_discrete_type->dt_extension;
			break;
		default: t = "";
		}
	} else if (ct->ct_type->tp_data.tp_composite_type) {
		switch (ct->ct_type->tp_data.tp_composite_type->ct_type) {
		case MAILMIME_COMPOSITE_TYPE_MESSAGE: t = "message"; break;
		case MAILMIME_COMPOSITE_TYPE_MULTIPART: t = "multipart"; break;
		default: t = ct->ct_type->tp_data.tp_composite_type->ct_token;
		}
	}
	return t && strcasecmp(t, type) == 0 &&
	       (sub == NULL || strcasecmp(ct->ct_subtype, sub) == 0);
}

static const char *ct_param(struct mailmime_content *ct, const char *name)
{
	clistiter *it;

	if (ct == NULL || ct->ct_parameters == NULL)
		return NULL;
	for (it = clist_begin(ct->ct_parameters); it; it = clist_next(it)) {
		struct mailmime_parameter *pa = clist_content(it);

		if (pa->pa_name && strcasecmp(pa->pa_name, name) == 0)
			return pa->pa_value;
	}
	return NULL;
}

/* Header block at the start of s[0..n): up to the first empty line. */
static size_t header_block_len(const char *s, size_t n)
{
	const char *e = memmem(s, n, "\r\n\r\n", 4);

	if (s[0] == '\r' || s[0] == '\n')
		return 0;
	return e ? (size_t)(e - s) + 2 : n;
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

static void walk(walk_state *ws, struct mailmime *p, int depth, bool in_orig)
{
	imap_msg *m = ws->m;
	struct mailmime_content *ct = p->mm_content_type;

	if (depth > IMAP_MAX_DEPTH || ++ws->parts > 4 * IMAP_MAX_RCPTS)
		return;
	switch (p->mm_type) {
	case MAILMIME_MULTIPLE: {
		clistiter *it;

		if (depth <= 1 && ct_is(ct, "multipart", "report") &&
		    m->report == IMAP_REPORT_NONE) {
			const char *rt = ct_param(ct, "report-type");

			if (rt && strcasecmp(rt, "delivery-status") == 0)
				m->report = IMAP_REPORT_DSN;
			else if (rt && strcasecmp(rt, "feedback-report") == 0)
				m->report = IMAP_REPORT_ARF;
			else if (rt && strcasecmp(
			                   rt, "disposition-notification") == 0)
				m->report = IMAP_REPORT_MDN;
			else
				m->report = IMAP_REPORT_OTHER;
		}
		if (depth <= 1)
			m->multipart = true;
		if (p->mm_data.mm_multipart.mm_mp_list == NULL)
			return;
		for (it = clist_begin(p->mm_data.mm_multipart.mm_mp_list); it;
		     it = clist_next(it))
			walk(ws, clist_content(it), depth + 1, in_orig);
		return;
	}
	case MAILMIME_MESSAGE:
		if (depth > 0) {
			/* a returned message: keep its headers, not its text */
			if (!in_orig && p->mm_body &&
			    p->mm_body->dt_type == MAILMIME_DATA_TEXT)
				keep_orig_headers(
				    m, p->mm_body->dt_data.dt_text.dt_data,
				    p->mm_body->dt_data.dt_text.dt_length);
			in_orig = true;
		}
		if (p->mm_data.mm_message.mm_msg_mime)
			walk(ws, p->mm_data.mm_message.mm_msg_mime, depth + 1,
			     in_orig);
		return;
	case MAILMIME_SINGLE: break;
	default: return;
	}
	if (in_orig)
		return;
	if (ct_is(ct, "message", "delivery-status") ||
	    ct_is(ct, "message", "global-delivery-status")) {
		if (m->report == IMAP_REPORT_NONE ||
		    m->report == IMAP_REPORT_OTHER)
			m->report = IMAP_REPORT_DSN;
		decode_part(p, &m->dsn);
		cs_buf_append(&m->dsn, "\r\n", 2);
	} else if (ct_is(ct, "message", "feedback-report")) {
		if (m->report == IMAP_REPORT_NONE ||
		    m->report == IMAP_REPORT_OTHER)
			m->report = IMAP_REPORT_ARF;
		decode_part(p, &m->arf);
	} else if (ct_is(ct, "message", "disposition-notification")) {
		if (m->report == IMAP_REPORT_NONE)
			m->report = IMAP_REPORT_MDN;
	} else if (ct_is(ct, "text", "rfc822-headers") ||
	           ct_is(ct, "message", "global-headers") ||
	           ct_is(ct, "message", "rfc822")) {
		cs_buf tmp = CS_BUF_INIT;

		decode_part(p, &tmp);
		keep_orig_headers(m, cs_buf_str(&tmp), tmp.len);
		cs_buf_free(&tmp);
	} else if (ct_is(ct, "text", "html")) {
		decode_part(p, &ws->html);
	} else if (ct == NULL || ct_is(ct, "text", NULL)) {
		decode_part(p, &m->text);
	}
}

/* A non-MIME report quotes the original message after a marker line;
 * remember where, so that recipients and words of the original are not
 * taken for the report's. */
static size_t find_orig_copy(imap_msg *m)
{
	static const char *const marks[] = {
	    "original message follows",
	    "this is a copy of the message",
	    "copy of the original message",
	    "below this line is a copy of the message",
	    "header of the original message",
	    "original message header",
	    "returned message follows",
	    "the original message was received",
	    "unsent message below",
	    "------ original message ------",
	    "- the text you sent follows",
	    "headers of your message follow",
	    NULL,
	};
	cs_buf low = CS_BUF_INIT;
	size_t lim = (size_t)IMAP_WORDS_SCAN * 4;
	size_t n = m->text.len < lim ? m->text.len : lim;
	size_t best = m->text.len, i;

	/* search a lower-cased copy (of the part that can matter) */
	cs_buf_append(&low, cs_buf_str(&m->text), n);
	for (i = 0; i < n; i++)
		low.data[i] = (char)tolower((unsigned char)low.data[i]);
	for (i = 0; marks[i]; i++) {
		const char *p = memmem(low.data, n, marks[i], strlen(marks[i]));

		if (p && (size_t)(p - low.data) < best)
			best = (size_t)(p - low.data);
	}
	cs_buf_free(&low);
	return best;
}

/* libetpan parses every header of the message into typed structures;
 * the MIME walk needs only the MIME fields.  So the top header block is
 * kept aside (m->hdr) and replaced, in place just before the body, by its
 * Content-Type and Content-Transfer-Encoding fields: a large part of the
 * parse time saved, and the body is not copied.  Returns where the
 * shortened message starts in m->norm. */
static size_t mime_only_headers(imap_msg *m)
{
	static const char *const keep[] = {"Content-Type",
	                                   "Content-Transfer-Encoding", NULL};
	cs_buf mini = CS_BUF_INIT, v = CS_BUF_INIT;
	size_t body = m->hdr.len, start;
	int i;

	cs_buf_puts(&mini, "MIME-Version: 1.0\r\n");
	for (i = 0; keep[i]; i++)
		if (imap_hdr_get(m->hdr.data, m->hdr.len, keep[i], &v))
			cs_buf_printf(&mini, "%s: %s\r\n", keep[i], v.data);
	cs_buf_free(&v);
	if (mini.len > body) { /* cannot happen: the fields came from there */
		cs_buf_free(&mini);
		return 0;
	}
	start = body - mini.len;
	memcpy(m->norm.data + start, mini.data, mini.len);
	cs_buf_free(&mini);
	return start;
}

void imap_msg_parse(const char *raw, size_t len, imap_msg *m)
{
	struct mailmime *mime = NULL;
	size_t idx = 0, start, hlen;
	walk_state ws;

	normalise(raw, len, &m->norm);
	hlen = header_block_len(m->norm.data, m->norm.len);
	cs_buf_append(&m->hdr, m->norm.data, hlen);
	memset(&ws, 0, sizeof ws);
	ws.m = m;
	start = hlen ? mime_only_headers(m) : 0;
	if (mailmime_parse(m->norm.data + start, m->norm.len - start, &idx,
	                   &mime) == MAILIMF_NO_ERROR &&
	    mime) {
		m->mime_ok = true;
		walk(&ws, mime, 0, false);
		mailmime_free(mime);
	}
	if (!m->mime_ok) {
		/* unparseable: everything after the headers is text */
		size_t b = hlen + 2 <= m->norm.len ? hlen + 2 : m->norm.len;
		size_t n = m->norm.len - b;

		cs_buf_append(&m->text, m->norm.data + b,
		              n < IMAP_MAX_TEXT ? n : IMAP_MAX_TEXT);
	}
	if (m->text.len == 0 && ws.html.len) {
		strip_html(&ws.html);
		cs_buf_append(&m->text, cs_buf_str(&ws.html), ws.html.len);
	}
	cs_buf_free(&ws.html);
	/* every buffer allocated and NUL-terminated, even when empty */
	cs_buf_append(&m->hdr, "", 0);
	cs_buf_append(&m->text, "", 0);
	cs_buf_append(&m->dsn, "", 0);
	cs_buf_append(&m->arf, "", 0);
	cs_buf_append(&m->orig, "", 0);
	m->orig_text_at = m->multipart ? m->text.len : find_orig_copy(m);
}

void imap_msg_free(imap_msg *m)
{
	cs_buf_free(&m->norm);
	cs_buf_free(&m->hdr);
	cs_buf_free(&m->dsn);
	cs_buf_free(&m->arf);
	cs_buf_free(&m->text);
	cs_buf_free(&m->orig);
	memset(m, 0, sizeof *m);
}
