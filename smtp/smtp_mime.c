/*
 * smtp_mime.c - content transfer encodings for the message builder
 * (smtp_message.c) and the session (smtp_session.c): a quoted-printable
 * writer that escapes only what RFC 2045 requires and never splits a word
 * that fits on a line, and the downgrade of 8bit parts to quoted-printable
 * for a server that does not offer 8BITMIME (RFC 6152).
 *
 * Pure code over bytes: no I/O, no libetpan.  Returns nothing that can
 * fail; output is appended to the caller's cs_buf.
 */
#include "smtp.h"

#include <string.h>
#include <strings.h>

/* ---- quoted-printable (RFC 2045 6.7) ---------------------------------
 *
 * Only what the RFC requires is escaped: "=", bytes outside printable
 * ASCII (controls, DEL, every byte >= 0x80), and a space or tab that would
 * end a line.  Lines are broken with a soft break ("=" CRLF) so that no
 * encoded line exceeds 76 characters, and only between words: a word (any
 * run without space or tab: a URL, an address) that fits on a line is
 * never split.  A word whose encoding alone is longer than 75 characters
 * cannot fit on any QP line, so it is split as a last resort, and never
 * inside an =XX escape; the decoder joins the pieces again, so a URL still
 * works in every client (QP decoding happens before display). */

#define QP_LINE 76

static bool qp_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Characters c takes in QP, when it does not end its line. */
static size_t qp_len(unsigned char c)
{
	return (c >= 33 && c <= 126 && c != '=') || qp_wsp(c) ? 1 : 3;
}

static void qp_put(cs_buf *out, unsigned char c, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!escape) {
		cs_buf_putc(out, (char)c);
		return;
	}
	cs_buf_putc(out, '=');
	cs_buf_putc(out, hex[c >> 4]);
	cs_buf_putc(out, hex[c & 15]);
}

/* One hard line p[0..n) (no line break in it). */
static void qp_line(const unsigned char *p, size_t n, cs_buf *out)
{
	size_t i = 0, col = 0, rest = 0, k;

	/* rest: what p[i..n) takes encoded; a final space or tab is
	 * escaped (it would be trailing white space) */
	for (k = 0; k < n; k++)
		rest += k == n - 1 && qp_wsp(p[k]) ? 3 : qp_len(p[k]);
	while (i < n) {
		size_t j, w = 0, lim;

		if (col + rest <= QP_LINE) { /* the rest of the line fits */
			for (; i < n; i++)
				qp_put(out, p[i],
				       qp_len(p[i]) == 3 ||
				           (i == n - 1 && qp_wsp(p[i])));
			return;
		}
		if (qp_wsp(p[i])) {
			size_t l = i == n - 1 ? 3 : 1;

			if (col + l > QP_LINE - 1) {
				cs_buf_puts(out, "=\r\n");
				col = 0;
			}
			qp_put(out, p[i], l == 3);
			col += l;
			rest -= l;
			i++;
			continue;
		}
		/* a word: p[i..j) */
		for (j = i; j < n && !qp_wsp(p[j]); j++)
			w += qp_len(p[j]);
		/* the last word of the line may use the 76th column */
		lim = j == n ? QP_LINE : QP_LINE - 1;
		if (col + w > lim && col > 0 && w <= lim) {
			cs_buf_puts(out, "=\r\n");
			col = 0;
		}
		for (; i < j; i++) {
			size_t l = qp_len(p[i]);

			if (col + l > QP_LINE - 1 && col + rest > QP_LINE) {
				/* longer than any line: split it */
				cs_buf_puts(out, "=\r\n");
				col = 0;
			}
			qp_put(out, p[i], l == 3);
			col += l;
			rest -= l;
		}
	}
}

void smtp_qp_encode(const char *s, size_t n, cs_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t e = i;

		while (e < n && p[e] != '\n' &&
		       !(p[e] == '\r' && e + 1 < n && p[e + 1] == '\n'))
			e++;
		qp_line(p + i, e - i, out);
		if (e == n)
			break;
		cs_buf_puts(out, "\r\n");
		i = e + (p[e] == '\r' ? 2 : 1);
	}
}

/* ---- 8bit to quoted-printable, for a server without 8BITMIME ----------
 *
 * Postfix's way (RFC 6152 3): walk the MIME tree, re-encode each part
 * labelled "Content-Transfer-Encoding: 8bit" as quoted-printable and copy
 * everything else byte for byte.  Made for the messages built above. */

#define DOWNGRADE_DEPTH 8

/* The end of the header block of an entity p[0..n): the offset of its
 * body (n when there is none). */
static size_t header_end(const char *p, size_t n)
{
	size_t i;

	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	for (i = 0; i + 3 < n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return n;
}

/* The header field starting at p[0..n): its length including folded
 * lines and the final CRLF. */
static size_t field_len(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		while (i < n && p[i] != '\n')
			i++;
		if (i < n)
			i++;
		if (i >= n || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

static bool field_is(const char *f, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n > l && f[l] == ':' && strncasecmp(f, name, l) == 0;
}

/* The value of the field f[0..n) without the name, unfolded and trimmed,
 * into v. */
static void field_value(const char *f, size_t n, cs_buf *v)
{
	const char *p = memchr(f, ':', n), *end = f + n;

	cs_buf_clear(v);
	for (p = p ? p + 1 : end; p < end; p++)
		if (*p != '\r' && *p != '\n' &&
		    !(v->len == 0 && (*p == ' ' || *p == '\t')))
			cs_buf_putc(v, *p);
	while (v->len &&
	       (v->data[v->len - 1] == ' ' || v->data[v->len - 1] == '\t'))
		cs_buf_truncate(v, v->len - 1);
}

/* The boundary parameter of a multipart Content-Type value, into b;
 * false when it is not a multipart with one. */
static bool boundary_of(const char *ct, cs_buf *b)
{
	const char *p;

	cs_buf_clear(b);
	if (strncasecmp(ct, "multipart/", 10) != 0)
		return false;
	for (p = ct; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				cs_buf_putc(b, *p == '\\' && p[1] ? *++p : *p);
		} else {
			for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
				cs_buf_putc(b, *p);
		}
		return b->len > 0;
	}
	return false;
}

/* Is p[0..n) a delimiter line of boundary b ("--b" then "--", white
 * space or the line end)? */
static bool is_delimiter(const char *p, size_t n, const cs_buf *b)
{
	return n >= b->len + 2 && p[0] == '-' && p[1] == '-' &&
	       memcmp(p + 2, b->data, b->len) == 0;
}

static void downgrade(const char *p, size_t n, cs_buf *out, int depth);

/* The body p[0..n) of a multipart with boundary b. */
static void downgrade_multipart(const char *p, size_t n, const cs_buf *b,
                                cs_buf *out, int depth)
{
	size_t i = 0, part = 0;
	bool in_part = false;

	/* i walks line starts; a part runs from after its delimiter line
	 * to the CRLF before the next one (that CRLF belongs to it) */
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t next = nl ? (size_t)(nl - p) + 1 : n;

		if (is_delimiter(p + i, next - i, b)) {
			bool close = next - i >= b->len + 4 &&
			             memcmp(p + i + 2 + b->len, "--", 2) == 0;

			if (in_part) {
				size_t end = i;

				if (end > part && p[end - 1] == '\n')
					end--;
				if (end > part && p[end - 1] == '\r')
					end--;

				downgrade(p + part, end - part, out, depth + 1);
				cs_buf_append(out, p + end, next - end);
			} else {
				cs_buf_append(out, p + part, next - part);
			}
			part = next;
			in_part = !close;
			if (close) {
				/* the epilogue, as it is */
				cs_buf_append(out, p + next, n - next);
				return;
			}
		}
		i = next;
	}
	/* no closing delimiter: the rest as it is */
	cs_buf_append(out, p + part, n - part);
}

static void downgrade(const char *p, size_t n, cs_buf *out, int depth)
{
	size_t body = header_end(p, n), i, cte_at = 0, cte_len = 0;
	cs_buf v = CS_BUF_INIT, bd = CS_BUF_INIT;
	bool eight = false, multi = false;

	for (i = 0; i < body;) {
		size_t l = field_len(p + i, body - i);

		if (field_is(p + i, l, "Content-Transfer-Encoding")) {
			field_value(p + i, l, &v);
			if (strcasecmp(cs_buf_str(&v), "8bit") == 0) {
				eight = true;
				cte_at = i;
				cte_len = l;
			}
		} else if (field_is(p + i, l, "Content-Type")) {
			field_value(p + i, l, &v);
			multi = boundary_of(cs_buf_str(&v), &bd);
		}
		i += l;
	}
	if (eight && !multi) {
		cs_buf_append(out, p, cte_at);
		cs_buf_puts(out,
		            "Content-Transfer-Encoding: quoted-printable\r\n");
		cs_buf_append(out, p + cte_at + cte_len,
		              body - cte_at - cte_len);
		smtp_qp_encode(p + body, n - body, out);
	} else if (multi && depth < DOWNGRADE_DEPTH) {
		cs_buf_append(out, p, body);
		downgrade_multipart(p + body, n - body, &bd, out, depth);
	} else {
		cs_buf_append(out, p, n);
	}
	cs_buf_free(&v);
	cs_buf_free(&bd);
}

bool smtp_has_8bit(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return true;
	return false;
}

void smtp_downgrade_8bit(const char *data, size_t len, cs_buf *out)
{
	downgrade(data, len, out, 0);
}
