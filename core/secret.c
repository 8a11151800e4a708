/*
 * secret.c - secret values and the process-wide redaction registry.
 *
 * Why a global: redaction is a safety net at every output boundary (log,
 * error message, JSON).  It must hold even when a caller formats a secret by
 * mistake, so it cannot depend on the caller passing a context.  The
 * registry is the one mutable global in coldseq, guarded by a mutex.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REDACTED "[redacted]"

typedef struct form {
	char *p;
	size_t n;
} form;

struct cs_secret {
	char *value;
	size_t len;
	form *forms; /* registered forms; forms[0] is the value itself */
	size_t nforms;
	cs_secret *next, *prev;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static cs_secret *reg_head;

void cs_memwipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

static void add_form_locked(cs_secret *s, const char *p, size_t n)
{
	if (n < CS_SECRET_MIN_REDACT)
		return;
	s->forms = cs_xrealloc(s->forms, (s->nforms + 1) * sizeof *s->forms);
	s->forms[s->nforms].p = cs_xmalloc(n);
	memcpy(s->forms[s->nforms].p, p, n);
	s->forms[s->nforms].n = n;
	s->nforms++;
}

cs_secret *cs_secret_new(const void *p, size_t n)
{
	cs_secret *s = cs_xcalloc(1, sizeof *s);

	s->value = cs_xmalloc(n + 1);
	if (n)
		memcpy(s->value, p, n);
	s->value[n] = '\0';
	s->len = n;
	pthread_mutex_lock(&reg_lock);
	add_form_locked(s, s->value, n);
	s->next = reg_head;
	if (reg_head)
		reg_head->prev = s;
	reg_head = s;
	pthread_mutex_unlock(&reg_lock);
	return s;
}

const char *cs_secret_value(const cs_secret *s)
{
	return s->value;
}

size_t cs_secret_len(const cs_secret *s)
{
	return s->len;
}

void cs_secret_add_form(cs_secret *s, const char *f, size_t n)
{
	pthread_mutex_lock(&reg_lock);
	add_form_locked(s, f, n);
	pthread_mutex_unlock(&reg_lock);
}

void cs_secret_free(cs_secret *s)
{
	size_t i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&reg_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		reg_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&reg_lock);
	for (i = 0; i < s->nforms; i++) {
		cs_memwipe(s->forms[i].p, s->forms[i].n);
		free(s->forms[i].p);
	}
	free(s->forms);
	cs_memwipe(s->value, s->len);
	free(s->value);
	free(s);
}

/* Length of the longest registered form that starts at s[0], or 0. */
static size_t match_at(const char *s, size_t n)
{
	const cs_secret *e;
	size_t i, best = 0;

	for (e = reg_head; e; e = e->next)
		for (i = 0; i < e->nforms; i++) {
			const form *f = &e->forms[i];

			if (f->n <= n && f->n > best && f->p[0] == s[0] &&
			    memcmp(f->p, s, f->n) == 0)
				best = f->n;
		}
	return best;
}

void cs_redact(const char *s, size_t n, cs_buf *out)
{
	size_t i = 0, start = 0, m;

	pthread_mutex_lock(&reg_lock);
	if (reg_head == NULL) {
		pthread_mutex_unlock(&reg_lock);
		cs_buf_append(out, s, n);
		return;
	}
	while (i < n) {
		m = match_at(s + i, n - i);
		if (m == 0) {
			i++;
			continue;
		}
		cs_buf_append(out, s + start, i - start);
		cs_buf_puts(out, REDACTED);
		i += m;
		start = i;
	}
	cs_buf_append(out, s + start, n - start);
	pthread_mutex_unlock(&reg_lock);
}

void cs_redact_inplace(char *s)
{
	cs_buf b = CS_BUF_INIT;
	size_t n = strlen(s);

	cs_redact(s, n, &b);
	/* The marker may be longer than a short secret; keep within the old
	 * length so the caller's array is never overrun. */
	if (b.len > n)
		cs_buf_truncate(&b, n);
	memcpy(s, cs_buf_str(&b), b.len + 1);
	cs_buf_free(&b);
}
