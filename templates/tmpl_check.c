/*
 * tmpl_check.c - checks `template import` runs on a parsed template beyond
 * its syntax: sender fields the sender cannot fill, and a Subject that no
 * header could carry.
 *
 * Both walk the parsed nodes only; they render nothing and need no
 * contact.
 */
#define _POSIX_C_SOURCE 200809L
#include "tmpl_int.h"

#include <string.h>
#include <strings.h>

static bool known_sender(const char *name, const char *const *known)
{
	for (; *known; known++)
		if (tmpl_name_eq(name, *known))
			return true;
	return false;
}

static int sender_seq(const tmpl *t, const tmpl_seq *q,
                      const char *const *known, cs_err *err)
{
	size_t i, k;
	int rc;

	for (i = 0; i < q->n; i++) {
		const tmpl_node *n = q->v[i];

		if ((n->kind == TK_VAR || n->kind == TK_IF) &&
		    strncasecmp(n->text, "sender.", 7) == 0 &&
		    !known_sender(n->text + 7, known)) {
			cs_buf names = CS_BUF_INIT;

			for (k = 0; known[k]; k++)
				cs_buf_printf(&names, "%ssender.%s",
				              k ? ", " : "", known[k]);
			rc = tmpl_error_at(t, n->pos, err,
			                   "unknown sender field '%s' (known: "
			                   "%s)",
			                   n->text, cs_buf_str(&names));
			cs_buf_free(&names);
			return rc;
		}
		if (n->kind == TK_IF &&
		    ((rc = sender_seq(t, &n->then, known, err)) != 0 ||
		     (rc = sender_seq(t, &n->els, known, err)) != 0))
			return rc;
		for (k = 0; k < n->nalts; k++)
			if ((rc = sender_seq(t, &n->alts[k], known, err)) != 0)
				return rc;
	}
	return 0;
}

int tmpl_check_sender(const tmpl *t, const char *const *known, cs_err *err)
{
	int rc;

	if ((rc = sender_seq(t, &t->subject, known, err)) != 0 ||
	    (rc = sender_seq(t, &t->text, known, err)) != 0)
		return rc;
	return sender_seq(t, &t->html, known, err);
}

/* The longest a sequence can render to, as tmpl_check_subject defines it. */
static size_t worst(const tmpl_seq *q)
{
	size_t i, k, total = 0;

	for (i = 0; i < q->n; i++) {
		const tmpl_node *n = q->v[i];
		size_t a, b;

		switch (n->kind) {
		case TK_TEXT: total += n->len; break;
		case TK_VAR:
			if (n->fallback)
				total += strlen(n->fallback);
			else if (tmpl_name_eq(n->text, "day_of_week"))
				total += strlen("Wednesday");
			break;
		case TK_IF:
			a = worst(&n->then);
			b = worst(&n->els);
			total += a > b ? a : b;
			break;
		case TK_SPIN:
			for (a = 0, k = 0; k < n->nalts; k++) {
				b = worst(&n->alts[k]);
				if (b > a)
					a = b;
			}
			total += a;
			break;
		}
	}
	return total;
}

int tmpl_check_subject(const tmpl *t, size_t max, cs_err *err)
{
	size_t n;

	if (!t->has_subject || t->subject.n == 0)
		return 0;
	n = worst(&t->subject);
	if (n <= max)
		return 0;
	return tmpl_error_at(t, t->subject.v[0]->pos, err,
	                     "the Subject can render to %zu octets (its text, "
	                     "the longest spintax choice and the longest "
	                     "fallback of each field), over the %zu a header "
	                     "carries",
	                     n, max);
}
