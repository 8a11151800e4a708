/*
 * smtp_message.c - build an RFC 5322 / MIME message with libetpan's
 * builder: header fields (mailimf_*) and body parts (mailmime_*).
 *
 * Our part is the domain rules around it: refuse CR/LF, control characters
 * and over-long values in any header value that came from data (header
 * injection, lines a server refuses: the same checks contacts import runs,
 * smtp_check_header_text and smtp_check_address), RFC 2047-encode
 * non-ASCII display names and subjects, choose 7bit, 8bit or (for a line
 * over 998 octets) quoted-printable per part (the encoders are in
 * smtp_mime.c), a random multipart boundary, Date from the caller's
 * (service) clock, a Message-ID made here so the caller can record it
 * before DATA, and List-Unsubscribe (RFC 2369, RFC 8058).
 */
#define _GNU_SOURCE /* memmem */
#include "smtp.h"

#include <ctype.h>
#include <strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <openssl/rand.h>

/* An encoded word may have 75 characters (RFC 2047); 64 leaves room for
 * "Subject: " on the first line, so the writer does not fold before it. */
#define WORD_MAX 64

static int too_long(const char *field, size_t n, size_t max, cs_err *err)
{
	return cs_err_set(err, CS_EINVAL,
	                  "%s is %zu octets long; a header carries at most %zu "
	                  "(RFC 5322: %d a line)",
	                  field, n, max, SMTP_LINE_MAX);
}

/* The refusal for byte c at offset i (c is below 0x20 or DEL, not TAB). */
static int bad_byte(const char *field, unsigned c, size_t i, cs_err *err)
{
	if (c == '\r' || c == '\n')
		return cs_err_set(
		    err, CS_EINVAL,
		    "%s contains a line break (CR or LF); refused "
		    "so it cannot inject a header",
		    field);
	return cs_err_set(err, CS_EINVAL,
	                  "%s contains a control character (U+%04X at byte "
	                  "%zu)",
	                  field, c, i + 1);
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether some byte of w is below 0x20 or DEL. */
static bool ctl_word(uint64_t w)
{
	uint64_t d = w ^ (ONES * 0x7f);

	return ((((w - ONES * 0x20) & ~w) | ((d - ONES) & ~d)) & HIGHS) != 0;
}

/* The first refused byte of p (n bytes), one at a time: the slow path,
 * for a value that has a control byte somewhere. */
static int first_bad(const char *field, const unsigned char *p, size_t n,
                     bool breaks, cs_err *err)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned c = p[k];

		if ((c < 0x20 || c == 0x7f) && c != '\t' &&
		    !(breaks && (c == '\r' || c == '\n')))
			return bad_byte(field, c, k, err);
	}
	return 0;
}

/* The n bytes at p hold no control character (TAB allowed; CR and LF too
 * when breaks); else the refusal for the first one.  Eight bytes at a
 * time, the tail as the last eight (overlapping); a value shorter than a
 * word byte by byte. */
static inline int check_bytes(const char *field, const unsigned char *p,
                              size_t n, bool breaks, cs_err *err)
{
	uint64_t w;
	size_t i;

	if (n < 8)
		return first_bad(field, p, n, breaks, err);
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&w, p + i, 8);
		if (ctl_word(w))
			return first_bad(field, p, n, breaks, err);
	}
	memcpy(&w, p + n - 8, 8);
	return ctl_word(w) ? first_bad(field, p, n, breaks, err) : 0;
}

int smtp_check_header_text(const char *field, const char *value, size_t max,
                           cs_err *err)
{
	size_t n;

	if (value == NULL)
		return 0;
	n = strlen(value);
	if (n > max)
		return too_long(field, n, max, err);
	return check_bytes(field, (const unsigned char *)value, n, false, err);
}

int smtp_check_body_text(const char *field, const char *value, cs_err *err)
{
	if (value == NULL)
		return 0;
	return check_bytes(field, (const unsigned char *)value, strlen(value),
	                   true, err);
}

int smtp_check_display_name(const char *field, const char *first,
                            const char *last, cs_err *err)
{
	size_t lf = first ? strlen(first) : 0, ll = last ? strlen(last) : 0;
	size_t n = lf + (lf && ll ? 1 : 0) + ll;
	int rc;

	/* as seq_compose writes it: "first last", or whichever is there.
	 * The space between is allowed, so checking the parts is checking
	 * the whole (without building it); only a byte offset in the last
	 * part counts from its own start. */
	if (n > SMTP_HEADER_MAX)
		return too_long(field, n, SMTP_HEADER_MAX, err);
	if ((rc = smtp_check_header_text(field, first, SMTP_HEADER_MAX, err)) !=
	    0)
		return rc;
	return smtp_check_header_text(field, last, SMTP_HEADER_MAX, err);
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* RFC 5322 atext: what a dot-atom local part is made of, besides dots. */
static bool is_atext(unsigned char c)
{
	if (is_alnum((char)c))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '/':
	case '=':
	case '?':
	case '^':
	case '_':
	case '`':
	case '{':
	case '|':
	case '}':
	case '~':
	case '-': return true;
	default: return false;
	}
}

static int not_ascii(const char *field, const char *a, cs_err *err)
{
	return cs_err_set(err, CS_EINVAL,
	                  "%s: \"%s\" is not ASCII (a non-ASCII domain is "
	                  "sent in its xn-- form; a non-ASCII local part needs "
	                  "SMTPUTF8, which coldseq does not use)",
	                  field, a);
}

static int bad_label(const char *field, const char *a, cs_err *err)
{
	return cs_err_set(err, CS_EINVAL,
	                  "%s: \"%s\": the domain has an empty, too long (over "
	                  "63) or hyphen-edged label",
	                  field, a);
}

int smtp_check_address(const char *field, const char *a, cs_err *err)
{
	const unsigned char *p;
	const char *at;
	size_t n, ln, label = 0;

	if (a == NULL || *a == '\0')
		return cs_err_set(err, CS_EINVAL, "%s: the address is missing",
		                  field);
	n = strlen(a);
	if (n > 254)
		return cs_err_set(
		    err, CS_EINVAL,
		    "%s: the address is %zu octets long, over 254", field, n);
	at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0')
		return cs_err_set(err, CS_EINVAL,
		                  "%s: \"%s\" is not an address (local@domain)",
		                  field, a);
	ln = (size_t)(at - a);
	if (ln > 64)
		return cs_err_set(err, CS_EINVAL,
		                  "%s: \"%s\": the part before @ is %zu octets "
		                  "long, over 64",
		                  field, a, ln);
	/* the local part: a dot-atom */
	for (p = (const unsigned char *)a; p < (const unsigned char *)at; p++) {
		if (*p >= 0x80)
			return not_ascii(field, a, err);
		if (*p == '.' &&
		    (p == (const unsigned char *)a || p[1] == '.' ||
		     p + 1 == (const unsigned char *)at))
			return cs_err_set(
			    err, CS_EINVAL,
			    "%s: \"%s\": misplaced dot before the @", field, a);
		if (*p != '.' && !is_atext(*p))
			return cs_err_set(err, CS_EINVAL,
			                  "%s: \"%s\": character '%c' is not "
			                  "allowed before the @",
			                  field, a, *p);
	}
	if (n - ln - 1 > 253)
		return cs_err_set(err, CS_EINVAL,
		                  "%s: \"%s\": the domain is longer than 253 "
		                  "octets",
		                  field, a);
	/* the host name: labels of letters, digits and inner hyphens */
	for (p = (const unsigned char *)at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return bad_label(field, a, err);
			if (*p == '\0')
				return 0;
			label = 0;
			continue;
		}
		if (*p >= 0x80)
			return not_ascii(field, a, err);
		if (*p == '-' && label == 0)
			return bad_label(field, a, err);
		if (!is_alnum((char)*p) && *p != '-')
			return cs_err_set(err, CS_EINVAL,
			                  "%s: \"%s\": character '%c' is not "
			                  "allowed in a host name",
			                  field, a, *p);
		label++;
	}
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
	if ((rc = smtp_check_address("From", m->from_addr, err)) ||
	    (rc = smtp_check_address("To", m->to_addr, err)) ||
	    (rc = smtp_check_header_text("the sender's display name",
	                                 m->from_name, SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("the recipient's name", m->to_name,
	                                 SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("Subject", m->subject, SMTP_HEADER_MAX,
	                                 err)) ||
	    (rc = smtp_check_header_text("Message-ID", m->message_id,
	                                 SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("In-Reply-To", m->in_reply_to,
	                                 SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("References", m->references,
	                                 SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("List-Unsubscribe",
	                                 m->list_unsubscribe_mailto,
	                                 SMTP_HEADER_MAX, err)) ||
	    (rc = smtp_check_header_text("List-Unsubscribe URL",
	                                 m->list_unsubscribe_url,
	                                 SMTP_HEADER_MAX, err)))
		return rc;
	for (i = 0; i < m->nextra; i++) {
		const char *p;

		if ((rc = smtp_check_header_text(m->extra[i].name,
		                                 m->extra[i].value,
		                                 SMTP_HEADER_MAX, err)))
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
