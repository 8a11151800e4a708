/*
 * buf.c - the growable byte buffer (see the realloc rule in core.h).
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_buf_reserve(cs_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		cs_fatal("buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = cs_xrealloc(b->data, cap);
	b->cap = cap;
}

void cs_buf_append(cs_buf *b, const void *p, size_t n)
{
	cs_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cs_buf_puts(cs_buf *b, const char *s)
{
	cs_buf_append(b, s, strlen(s));
}

void cs_buf_putc(cs_buf *b, char c)
{
	cs_buf_append(b, &c, 1);
}

void cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	cs_buf_reserve(b, 64);
	va_copy(ap2, ap);
	/* va_copy initialised ap2; the analyzer loses track of it when
	 * ap is a caller's va_start (a false positive) */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		cs_fatal("bad format string \"%s\"", fmt);
	if ((size_t)n >= b->cap - b->len) {
		cs_buf_reserve(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void cs_buf_printf(cs_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cs_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void cs_buf_clear(cs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cs_buf_truncate(cs_buf *b, size_t n)
{
	if (n < b->len) {
		b->len = n;
		b->data[n] = '\0';
	}
}

const char *cs_buf_str(const cs_buf *b)
{
	return b->data ? b->data : "";
}

char *cs_buf_detach(cs_buf *b, size_t *len)
{
	char *p;

	if (b->data == NULL) { /* never written: still a string */
		if (len)
			*len = 0;
		return cs_xstrdup("");
	}
	b->data[b->len] = '\0';
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void cs_buf_wipe(cs_buf *b)
{
	if (b->data)
		cs_memwipe(b->data, b->cap);
	cs_buf_free(b);
}

void cs_buf_free(cs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
