/*
 * smtp_message.c - build an RFC 5322 / MIME message with libetpan's
 * builder: header fields (mailimf_*) and body parts (mailmime_*).
 *
 * Our part is the domain rules around it: refuse CR/LF in any header value
 * that came from data (header injection), RFC 2047-encode non-ASCII display
 * names and subjects, choose 7bit or quoted-printable per part, Date from
 * the caller's (service) clock, a Message-ID made here so the caller can
 * record it before DATA, and List-Unsubscribe (RFC 2369, RFC 8058).
 */
#define _GNU_SOURCE /* memmem */
#include "smtp.h"

#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <openssl/rand.h>

#define MAX_HEADER_VALUE 900 /* under the 998 octet line limit */
/* An encoded word may have 75 characters (RFC 2047); 64 leaves room for
 * "Subject: " on the first line, so the writer does not fold before it. */
#define WORD_MAX 64

/* A header value from data must be one line of sane length. */
static int check_value(const char *field, const char *v, cs_err *err)
{
	const char *p;

	if (v == NULL)
		return 0;
	for (p = v; *p; p++)
		if (*p == '\r' || *p == '\n')
			return cs_err_set(
			    err, CS_EINVAL,
			    "%s contains a line break (CR or LF); "
			    "refused so it cannot inject a header",
			    field);
		else if ((unsigned char)*p < 0x20 && *p != '\t')
			return cs_err_set(err, CS_EINVAL,
			                  "%s contains a control character",
			                  field);
	if (p - v > MAX_HEADER_VALUE)
		return cs_err_set(err, CS_EINVAL, "%s is longer than %d bytes",
		                  field, MAX_HEADER_VALUE);
	return 0;
}

/* addr-spec: local@domain, printable ASCII, no spaces or brackets. */
static int check_addr(const char *field, const char *a, cs_err *err)
{
	const char *at, *p;

	if (a == NULL || *a == '\0')
		return cs_err_set(err, CS_EINVAL, "%s address is missing",
		                  field);
	at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 254)
		return cs_err_set(err, CS_EINVAL,
		                  "%s address \"%s\" is not local@domain",
		                  field, a);
	for (p = a; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *p))
			return cs_err_set(
			    err, CS_EINVAL,
			    "%s address \"%s\" has a character not "
			    "allowed in an address",
			    field, a);
	return 0;
}

static bool is_plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20)
			return false;
	return true;
}

void smtp_encode_words(const char *s, cs_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *prefix = "=?UTF-8?Q?";
	size_t word = 0; /* bytes in the current encoded word */
	const unsigned char *p = (const unsigned char *)s;

	if (is_plain_ascii(s)) {
		cs_buf_puts(out, s);
		return;
	}
	while (*p) {
		/* keep a UTF-8 sequence inside one encoded word */
		size_t seq = 1, need, i;

		if (*p >= 0xf0)
			seq = 4;
		else if (*p >= 0xe0)
			seq = 3;
		else if (*p >= 0xc0)
			seq = 2;
		for (i = 1; i < seq; i++)
			if (p[i] == '\0') {
				seq = i;
				break;
			}
		need = 0;
		for (i = 0; i < seq; i++)
			need += (isalnum(p[i]) || p[i] == ' ' ||
			         strchr("!*+-/", p[i])) &&
			                p[i] < 0x80
			            ? 1
			            : 3;
		if (word == 0 || word + need + 2 > WORD_MAX) {
			if (word)
				cs_buf_puts(out, "?= ");
			cs_buf_puts(out, prefix);
			word = strlen(prefix);
		}
		for (i = 0; i < seq; i++) {
			unsigned char c = p[i];

			if (c == ' ')
				cs_buf_putc(out, '_');
			else if (c < 0x80 && (isalnum(c) || strchr("!*+-/", c)))
				cs_buf_putc(out, (char)c);
			else {
				cs_buf_putc(out, '=');
				cs_buf_putc(out, hex[c >> 4]);
				cs_buf_putc(out, hex[c & 15]);
			}
		}
		word += need;
		p += seq;
	}
	cs_buf_puts(out, "?=");
}

char *smtp_new_message_id(const char *from_addr)
{
	unsigned char rnd[16];
	const char *at = from_addr ? strrchr(from_addr, '@') : NULL;
	cs_buf b = CS_BUF_INIT;
	size_t i;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		cs_fatal("RAND_bytes failed");
	cs_buf_putc(&b, '<');
	for (i = 0; i < sizeof rnd; i++)
		cs_buf_printf(&b, "%02x", rnd[i]);
	cs_buf_putc(&b, '@');
	for (at = at ? at + 1 : "coldseq.invalid"; *at; at++)
		cs_buf_putc(&b, (char)tolower((unsigned char)*at));
	cs_buf_putc(&b, '>');
	return cs_buf_detach(&b, NULL);
}

/* "<a@b>" -> malloc'd "a@b" (libetpan adds the brackets). */
static char *strip_brackets(const char *id)
{
	size_t n = strlen(id);

	if (n >= 2 && id[0] == '<' && id[n - 1] == '>')
		return cs_xstrndup(id + 1, n - 2);
	return cs_xstrdup(id);
}

static void free_item(void *p, void *unused)
{
	(void)unused;
	free(p);
}

static void free_id_list(clist *l)
{
	clist_foreach(l, free_item, NULL);
	clist_free(l);
}

/* Parse "<a> <b>" into a clist of malloc'd ids; -1 on a malformed list. */
static clist *id_list(const char *s, cs_err *err, const char *field)
{
	clist *l = clist_new();

	while (*s) {
		const char *open, *close;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		open = s;
		close = strchr(open, '>');
		if (*open != '<' || close == NULL || close == open + 1) {
			free_id_list(l);
			cs_err_set(err, CS_EINVAL,
			           "%s is not a list of <message-id>", field);
			return NULL;
		}
		clist_append(l,
		             cs_xstrndup(open + 1, (size_t)(close - open - 1)));
		s = close + 1;
	}
	return l;
}

static struct mailimf_date_time *make_date(int64_t ms, int off_min)
{
	time_t t = (time_t)(ms / 1000) + (time_t)off_min * 60;
	struct tm tm;
	int zone = (off_min / 60) * 100 + off_min % 60;

	gmtime_r(&t, &tm);
	return mailimf_date_time_new(tm.tm_mday, tm.tm_mon + 1,
	                             tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                             tm.tm_sec, zone);
}

static char *display(const char *name)
{
	cs_buf b = CS_BUF_INIT;

	if (name == NULL || *name == '\0')
		return NULL;
	smtp_encode_words(name, &b);
	return cs_buf_detach(&b, NULL);
}

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

/* ---- body parts -------------------------------------------------------
 *
 * A text part is sent as it was written whenever SMTP allows it: 7bit when
 * it is ASCII, 8bit when it holds UTF-8, as long as no line is longer than
 * 998 octets (RFC 5322 2.1.1).  Only a longer line needs quoted-printable.
 * An 8bit part needs a server that offers 8BITMIME; smtp_send() downgrades
 * it to quoted-printable (smtp_downgrade_8bit) for one that does not.  We
 * encode the part ourselves and hand libetpan the result as already
 * encoded: its own QP writer escapes ASCII punctuation ("doing=3F"). */

#define MAX_BODY_LINE 998

/* Body text with CRLF line ends (into keep); the encoding that keeps it
 * valid. */
static struct mailmime *text_part(const char *type, const char *body,
                                  cs_buf *keep)
{
	struct mailmime_content *ct = mailmime_content_new_with_str(type);
	struct mailmime_parameter *cs =
	    mailmime_param_new_with_data((char *)"charset", (char *)"utf-8");
	bool eight = false, is_long = false;
	size_t line = 0;
	const char *p;
	struct mailmime *m;
	int mech = MAILMIME_MECHANISM_7BIT;

	for (p = body; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			cs_buf_puts(keep, "\r\n");
			line = 0;
			continue;
		}
		if ((unsigned char)*p >= 0x80)
			eight = true;
		if (++line > MAX_BODY_LINE)
			is_long = true;
		cs_buf_putc(keep, *p);
	}
	if (is_long) {
		cs_buf qp = CS_BUF_INIT;

		smtp_qp_encode(keep->data, keep->len, &qp);
		cs_buf_free(keep);
		*keep = qp;
		mech = MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	} else if (eight) {
		mech = MAILMIME_MECHANISM_8BIT;
	}
	clist_append(ct->ct_parameters, cs);
	m = mailmime_new_empty(ct, mailmime_fields_new_encoding(mech));
	mailmime_set_body_text(m, keep->data ? keep->data : (char *)"",
	                       keep->len);
	/* written as it is: libetpan must not encode it again */
	m->mm_data.mm_single->dt_encoded = 1;
	return m;
}

/* RFC 2046 5.1.1: 1 to 70 bchars.  32 hex digits from RAND_bytes (128
 * bits, as Message-IDs): two messages never share one, and it is checked
 * against the parts it encloses, so it cannot occur in them.  The
 * downgrade to quoted-printable cannot create it either: QP output
 * repeats the text's own characters and adds "=", upper-case escapes and
 * line breaks, which split a run of lower-case hex digits rather than make
 * one (short of a 2^-124 chance that "=XY" completes a run the text held). */
static char *new_boundary(const cs_buf *const *parts, size_t nparts)
{
	for (;;) {
		unsigned char rnd[16];
		char *b = cs_xcalloc(1, 2 * sizeof rnd + 1);
		size_t i;
		bool clash = false;

		if (RAND_bytes(rnd, sizeof rnd) != 1)
			cs_fatal("RAND_bytes failed");
		for (i = 0; i < sizeof rnd; i++)
			snprintf(b + 2 * i, 3, "%02x", rnd[i]);
		for (i = 0; i < nparts; i++)
			if (parts[i]->len &&
			    memmem(parts[i]->data, parts[i]->len, b,
			           strlen(b)) != NULL)
				clash = true;
		if (!clash)
			return b;
		free(b);
	}
}

/* A multipart whose boundary we chose.  libetpan makes its own in
 * mailmime_new_empty() (and mailmime_multiple_new(), and the writer when
 * none is set) from an unseeded random(): the same "_6b8b4567_" on every
 * machine.  Drop every boundary it added, then set ours. */
static struct mailmime *multipart(const char *type, char *boundary)
{
	struct mailmime_content *ct = mailmime_content_new_with_str(type);
	struct mailmime *mp =
	    mailmime_new_empty(ct, mailmime_fields_new_empty());
	clistiter *cur = clist_begin(ct->ct_parameters);

	while (cur != NULL) {
		struct mailmime_parameter *pa = clist_content(cur);

		if (strcasecmp(pa->pa_name, "boundary") == 0) {
			cur = clist_delete(ct->ct_parameters, cur);
			mailmime_parameter_free(pa);
		} else {
			cur = clist_next(cur);
		}
	}
	clist_append(ct->ct_parameters, mailmime_param_new_with_data(
	                                    (char *)"boundary", boundary));
	return mp;
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

int smtp_build_message(const smtp_msg_spec *m, cs_buf *out, char **message_id,
                       cs_err *err)
{
	struct mailimf_mailbox_list *from;
	struct mailimf_address_list *to;
	struct mailimf_fields *fields;
	struct mailmime *msg, *body;
	clist *irt = NULL, *refs = NULL;
	cs_buf subj = CS_BUF_INIT, tbody = CS_BUF_INIT, hbody = CS_BUF_INIT;
	MMAPString *s;
	char *mid;
	int col = 0, rc;
	size_t i;

	*message_id = NULL;
	if ((rc = check_addr("From", m->from_addr, err)) ||
	    (rc = check_addr("To", m->to_addr, err)) ||
	    (rc =
	         check_value("the sender's display name", m->from_name, err)) ||
	    (rc = check_value("the recipient's name", m->to_name, err)) ||
	    (rc = check_value("Subject", m->subject, err)) ||
	    (rc = check_value("Message-ID", m->message_id, err)) ||
	    (rc = check_value("In-Reply-To", m->in_reply_to, err)) ||
	    (rc = check_value("References", m->references, err)) ||
	    (rc = check_value("List-Unsubscribe", m->list_unsubscribe_mailto,
	                      err)) ||
	    (rc = check_value("List-Unsubscribe URL", m->list_unsubscribe_url,
	                      err)))
		return rc;
	for (i = 0; i < m->nextra; i++) {
		const char *p;

		if ((rc =
		         check_value(m->extra[i].name, m->extra[i].value, err)))
			return rc;
		for (p = m->extra[i].name; *p; p++)
			if (*p <= ' ' || *p == ':' || (unsigned char)*p >= 0x7f)
				return cs_err_set(
				    err, CS_EINVAL,
				    "\"%s\" is not a header field name",
				    m->extra[i].name);
	}
	if (m->text == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "the message has no text body");
	if (m->in_reply_to &&
	    !(irt = id_list(m->in_reply_to, err, "In-Reply-To")))
		return CS_EINVAL;
	if (m->references &&
	    !(refs = id_list(m->references, err, "References"))) {
		if (irt)
			free_id_list(irt);
		return CS_EINVAL;
	}

	mid = m->message_id ? cs_xstrdup(m->message_id)
	                    : smtp_new_message_id(m->from_addr);
	from = mailimf_mailbox_list_new_empty();
	mailimf_mailbox_list_add(from,
	                         mailimf_mailbox_new(display(m->from_name),
	                                             cs_xstrdup(m->from_addr)));
	to = mailimf_address_list_new_empty();
	mailimf_address_list_add_mb(to, display(m->to_name),
	                            cs_xstrdup(m->to_addr));
	if (m->subject)
		smtp_encode_words(m->subject, &subj);
	fields = mailimf_fields_new_with_data_all(
	    make_date(m->date_ms, m->tz_offset_min), from, NULL, NULL, to, NULL,
	    NULL, strip_brackets(mid), irt, refs,
	    m->subject ? cs_buf_detach(&subj, NULL) : NULL);
	if (m->list_unsubscribe_mailto || m->list_unsubscribe_url) {
		cs_buf lu = CS_BUF_INIT;

		if (m->list_unsubscribe_url)
			cs_buf_printf(&lu, "<%s>", m->list_unsubscribe_url);
		if (m->list_unsubscribe_mailto)
			cs_buf_printf(&lu, "%s<%s>", lu.len ? ", " : "",
			              m->list_unsubscribe_mailto);
		mailimf_fields_add(fields, mailimf_field_new_custom(
		                               cs_xstrdup("List-Unsubscribe"),
		                               cs_buf_detach(&lu, NULL)));
		if (m->list_unsubscribe_url)
			mailimf_fields_add(
			    fields,
			    mailimf_field_new_custom(
			        cs_xstrdup("List-Unsubscribe-Post"),
			        cs_xstrdup("List-Unsubscribe=One-Click")));
	}
	for (i = 0; i < m->nextra; i++) {
		cs_buf v = CS_BUF_INIT;

		smtp_encode_words(m->extra[i].value, &v);
		mailimf_fields_add(fields, mailimf_field_new_custom(
		                               cs_xstrdup(m->extra[i].name),
		                               cs_buf_detach(&v, NULL)));
	}

	msg = mailmime_new_message_data(NULL);
	mailmime_set_imf_fields(msg, fields);
	body = text_part("text/plain", m->text, &tbody);
	if (m->html) {
		struct mailmime *html = text_part("text/html", m->html, &hbody);
		const cs_buf *parts[] = {&tbody, &hbody};
		char *bd = new_boundary(parts, 2);
		struct mailmime *alt = multipart("multipart/alternative", bd);

		free(bd);
		mailmime_smart_add_part(alt, body);
		mailmime_smart_add_part(alt, html);
		body = alt;
	}
	mailmime_smart_add_part(msg, body);
	s = mmap_string_new("");
	rc = mailmime_write_mem(s, &col, msg);
	if (rc == MAILIMF_NO_ERROR) {
		cs_buf_append(out, s->str, s->len);
		*message_id = mid;
		mid = NULL;
	} else {
		cs_err_set(err, CS_EINVAL,
		           "cannot build the message (libetpan "
		           "error %d)",
		           rc);
	}
	mmap_string_free(s);
	mailmime_free(msg);
	free(mid);
	cs_buf_free(&subj);
	cs_buf_free(&tbody);
	cs_buf_free(&hbody);
	return rc == MAILIMF_NO_ERROR ? 0 : CS_EINVAL;
}
