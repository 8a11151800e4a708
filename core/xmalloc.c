/*
 * xmalloc.c - allocation that never returns NULL, and cs_fatal().
 *
 * The one place where running out of memory is handled: print a line and
 * abort.  Nothing else in coldseq checks malloc's result.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("coldseq: fatal: ", stderr);
	va_start(ap, fmt);
	/* clang-analyzer 14 misreads va_start here (false positive) */
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.*)
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void *check(void *p, size_t n)
{
	if (p == NULL && n != 0)
		cs_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *cs_xmalloc(size_t n)
{
	return check(malloc(n ? n : 1), n ? n : 1);
}

void *cs_xcalloc(size_t nmemb, size_t size)
{
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (size && nmemb > SIZE_MAX / size)
		cs_fatal("allocation overflow (%zu x %zu)", nmemb, size);
	return check(calloc(nmemb, size), nmemb * size);
}

void *cs_xrealloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1), n ? n : 1);
}

char *cs_xstrdup(const char *s)
{
	return cs_xstrndup(s, strlen(s));
}

char *cs_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = cs_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *cs_xasprintf(const char *fmt, ...)
{
	cs_buf b = CS_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cs_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return cs_buf_detach(&b, NULL);
}
