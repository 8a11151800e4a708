/*
 * report_text.c - where a report's own prose ends in its text part.
 *
 * A report without MIME structure (or with its parts pasted into one text
 * part) carries, after its prose, a copy of the returned message and
 * sometimes its RFC 3464 fields.  Words and addresses there are not the
 * report's: cls_orig_copy_at() finds where the copy starts (a marker
 * line, or the copy's own header block) and cls_inline_dsn() takes the
 * pasted delivery-status fields as the DSN.
 */
#define _GNU_SOURCE /* memmem */
#include "cls_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* A non-MIME report quotes the original message after a marker line;
 * remember where, so that recipients and words of the original are not
 * taken for the report's. */
static const char *const orig_marks[] = {
    "original message follows",
    "this is a copy of the message",
    "copy of the original message",
    "below this line is a copy of the message",
    "header of the original message",
    "returned message follows",
    "unsent message below",
    "------ original message ------",
    "- the text you sent follows",
    "headers of your message follow",
    NULL,
};
static cls_phr orig_phr = CLS_PHR_ANY(orig_marks);

/* Does t[i..n) start with name (case-insensitive)? */
static bool starts_with(const char *t, size_t n, size_t i, const char *name)
{
	size_t k = strlen(name);

	/* the first letter in either case ends most comparisons (every
	 * name here starts with a letter) */
	return i <= n && n - i >= k && (t[i] | 0x20) == (name[0] | 0x20) &&
	       strncasecmp(t + i, name, k) == 0;
}

/* Where a copied header block starts in t[0..n): a "Received:" or
 * "Return-Path:" line (also quoted, "> Received:") followed by another
 * header field line.  A block with a null Return-Path is a delivery
 * report itself (a report forwarded or returned inside this one), whose
 * words are this report's: it is passed over.  n when there is none. */
static size_t header_copy_at(const char *t, size_t n)
{
	const char *p = t, *end = t + n;

	while (p < end) {
		size_t i = (size_t)(p - t), k = 0;
		const char *nl;

		if (t[i] == '>') /* a quoted copy */
			k = i + 1 < n && t[i + 1] == ' ' ? 2 : 1;
		if ((starts_with(t, n, i + k, "Received: ") ||
		     starts_with(t, n, i + k, "Return-Path: "))) {
			const char *q = cls_memchr(p, '\n', (size_t)(end - p)),
			           *c;

			if (starts_with(t, n, i + k, "Return-Path: <>")) {
				/* skip to the end of this header block */
				const char *blank =
				    memmem(p, (size_t)(end - p), "\n\r\n", 3);

				if (blank == NULL)
					break;
				p = blank + 1;
				continue;
			}
			/* the next line is a continuation or a field */
			q = q ? q + 1 + k : NULL;
			if (q && q < end &&
			    (*q == ' ' || *q == '\t' ||
			     ((c = memchr(q, ':', (size_t)(end - q))) &&
			      c - q < 40 &&
			      memchr(q, ' ', (size_t)(c - q)) == NULL)))
				return i;
		}
		nl = cls_memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

size_t cls_orig_copy_at(const cs_buf *text)
{
	cs_buf low = CS_BUF_INIT;
	size_t lim = (size_t)CLS_WORDS_SCAN * 4;
	size_t n = text->len < lim ? text->len : lim;
	size_t best, i;
	const char *at;

	/* the copy's own header block, else the end; a marker line can
	 * only come before that (it introduces the copy) */
	best = header_copy_at(text->data, n);
	if (best == n)
		best = text->len;
	if (best < n)
		n = best;
	/* search a lower-cased copy of the part that can matter */
	cs_buf_reserve(&low, n + 1);
	/* ASCII letters only, as tolower() in the C locale, inline */
	for (i = 0; i < n; i++) {
		char ch = text->data[i];

		low.data[i] =
		    (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	low.len = n;
	low.data[n] = '\0';
	if (cls_phr_find(&orig_phr, low.data, n, &at) >= 0)
		best = (size_t)(at - low.data);
	cs_buf_free(&low);
	return best;
}

/* RFC 3464 per-recipient fields written into the text part itself
 * (a notice that pastes its "Technical report", or a DSN whose MIME
 * headers were lost): the block of the first "Final-Recipient:" or
 * "Original-Recipient:" line, to the end of the report text, is read as
 * the delivery-status part, and is no longer the report's prose. */
void cls_inline_dsn(cls_msg *m)
{
	const char *t = m->text.data, *p = t;
	size_t n = m->orig_text_at < 65536 ? m->orig_text_at : 65536;
	const char *end = t + n;

	while (p < end) {
		size_t i = (size_t)(p - t);
		const char *nl;

		if (starts_with(t, n, i, "Final-Recipient:") ||
		    starts_with(t, n, i, "Original-Recipient:")) {
			/* back to the start of its block */
			const char *s = p;

			while (s > t) {
				const char *q = s - 1; /* the '\n' ending the
				                         line before */
				const char *b = q;

				while (b > t && b[-1] != '\n')
					b--;
				if (q - b <= 1) /* empty line ("" or "\r") */
					break;
				s = b;
			}
			cs_buf_append(
			    &m->dsn, s,
			    (size_t)(m->text.data + m->orig_text_at - s));
			cs_buf_append(&m->dsn, "\r\n", 2);
			/* the report's prose ends where its fields start */
			m->orig_text_at = (size_t)(s - t);
			return;
		}
		nl = cls_memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}
