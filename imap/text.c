/*
 * text.c - the small text helpers every detector of the classifier shares:
 * iterating the fields of a header block (unfolded, each value capped at
 * IMAP_MAX_LINE), flattening text for phrase search (lower case, white
 * space squeezed) and searching it.
 */
#define _GNU_SOURCE /* memmem */
#include "imap_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

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
	const unsigned char *p = (const unsigned char *)src, *e = p + n;
	char *w;
	bool space = out->len > 0 && out->data[out->len - 1] == ' ';

	cs_buf_reserve(out, n + 1);
	w = out->data + out->len;
	for (; p < e; p++) {
		unsigned char ch = *p;

		if (ch <= ' ' && (ch == ' ' || ch == '\t' || ch == '\r' ||
		                  ch == '\n' || ch == '\f' || ch == '\v')) {
			if (!space && w > out->data)
				*w++ = ' ';
			space = true;
			continue;
		}
		space = false;
		*w++ = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	out->len = (size_t)(w - out->data);
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
