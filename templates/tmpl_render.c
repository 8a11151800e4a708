/*
 * tmpl_render.c - turn a parsed template and one contact's values into a
 * subject, a text body and an HTML body.
 *
 * Deterministic: the same template, values, step and day give the same
 * bytes, so `template preview` shows exactly what the sequencer sends.
 * A spintax group's choice is a hash of (seed, step, the group's place in
 * the file); nothing else (no clock, no random source) is consulted,
 * except {{day_of_week}}, which is the caller's now_ms in the contact's
 * zone.
 */
#define _POSIX_C_SOURCE 200809L
#include "tmpl_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct rctx {
	const tmpl *t;
	const tmpl_vars *v;
	bool html;
	cs_err *err;
} rctx;

static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                   "Thursday", "Friday", "Saturday"};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t spin_hash(const char *seed, int step, size_t pos)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the seed */
	const unsigned char *p;

	for (p = (const unsigned char *)(seed ? seed : ""); *p; p++) {
		h ^= (uint64_t)tolower(*p);
		h *= 0x100000001b3ULL;
	}
	return mix(mix(h ^ (uint64_t)(unsigned)step) ^ (uint64_t)pos);
}

static bool blank(const char *s)
{
	if (s == NULL)
		return true;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static const char *find(const tmpl_field *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].name && tmpl_name_eq(f[i].name, name))
			return f[i].value;
	return NULL;
}

/* The value of a field, or NULL when it has none.  day is scratch space
 * for {{day_of_week}}. */
static const char *lookup(const rctx *r, const char *name)
{
	const tmpl_vars *v = r->v;
	const char *val;

	if (strncasecmp(name, "sender.", 7) == 0)
		val = find(v->sender, v->nsender, name + 7);
	else if (tmpl_name_eq(name, "unsubscribe_url"))
		val = v->unsubscribe_url;
	else if (tmpl_name_eq(name, "day_of_week")) {
		cs_civil c;
		const char *tz =
		    v->timezone && *v->timezone ? v->timezone : "UTC";

		if (cs_tz_civil(tz, v->now_ms, &c, NULL) != 0 &&
		    cs_tz_civil("UTC", v->now_ms, &c, NULL) != 0)
			return NULL;
		val = days[c.wday % 7];
	} else
		val = find(v->fields, v->nfields, name);
	return blank(val) ? NULL : val;
}

/* A sender field given as "" (an inbox without a signature): an empty
 * value, not a missing field.  Contact fields stay missing when blank:
 * "Hi ," must not go out. */
static bool sender_empty(const rctx *r, const char *name)
{
	const char *val;

	if (strncasecmp(name, "sender.", 7) != 0)
		return false;
	val = find(r->v->sender, r->v->nsender, name + 7);
	return val != NULL && *val == '\0';
}

static void put_value(const rctx *r, cs_buf *out, const char *s)
{
	if (!r->html) {
		cs_buf_puts(out, s);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '&': cs_buf_puts(out, "&amp;"); break;
		case '<': cs_buf_puts(out, "&lt;"); break;
		case '>': cs_buf_puts(out, "&gt;"); break;
		case '"': cs_buf_puts(out, "&quot;"); break;
		case '\'': cs_buf_puts(out, "&#39;"); break;
		case '\n': cs_buf_puts(out, "<br>\n"); break;
		case '\r': break;
		default: cs_buf_putc(out, *s);
		}
	}
}

static int render_seq(const rctx *r, const tmpl_seq *q, cs_buf *out)
{
	size_t i;
	int rc;

	for (i = 0; i < q->n; i++) {
		const tmpl_node *n = q->v[i];

		switch (n->kind) {
		case TK_TEXT: cs_buf_append(out, n->text, n->len); break;
		case TK_VAR: {
			const char *val = lookup(r, n->text);

			if (val)
				put_value(r, out, val);
			else if (n->fallback)
				cs_buf_puts(out, n->fallback);
			else if (sender_empty(r, n->text))
				; /* a sender's "" is a value: nothing */
			else {
				size_t line, col;

				tmpl_line_col(r->t->src, r->t->len, n->pos,
				              &line, &col);
				return cs_err_set(
				    r->err, CS_EINVAL,
				    "missing field %s (%s:%zu:%zu has no "
				    "fallback; write {{%s|...}} or fill the "
				    "field)",
				    n->text, r->t->name, line, col, n->text);
			}
			break;
		}
		case TK_IF:
			rc = render_seq(
			    r, lookup(r, n->text) ? &n->then : &n->els, out);
			if (rc != 0)
				return rc;
			break;
		case TK_SPIN: {
			uint64_t h = spin_hash(r->v->seed, r->v->step, n->pos);

			rc = render_seq(r, &n->alts[h % n->nalts], out);
			if (rc != 0)
				return rc;
			break;
		}
		}
	}
	return 0;
}

int tmpl_render(const tmpl *t, const tmpl_vars *v, tmpl_out *out, cs_err *err)
{
	rctx r = {t, v, false, err};
	int rc;

	cs_buf_clear(&out->subject);
	cs_buf_clear(&out->text);
	cs_buf_clear(&out->html);
	rc = render_seq(&r, &t->subject, &out->subject);
	if (rc == 0)
		rc = render_seq(&r, &t->text, &out->text);
	if (rc == 0 && t->has_html) {
		r.html = true;
		rc = render_seq(&r, &t->html, &out->html);
	}
	if (rc != 0) {
		cs_buf_clear(&out->subject);
		cs_buf_clear(&out->text);
		cs_buf_clear(&out->html);
	}
	return rc;
}

void tmpl_out_free(tmpl_out *o)
{
	cs_buf_free(&o->subject);
	cs_buf_free(&o->text);
	cs_buf_free(&o->html);
}

/* ---- fields used --------------------------------------------------------- */

typedef struct seen {
	const char **names;
	size_t n;
} seen;

static int walk(const tmpl_seq *q, seen *s, int (*fn)(const char *, void *),
                void *arg)
{
	size_t i, k;
	int rc;

	for (i = 0; i < q->n; i++) {
		const tmpl_node *n = q->v[i];

		if (n->kind == TK_VAR || n->kind == TK_IF) {
			for (k = 0; k < s->n; k++)
				if (tmpl_name_eq(s->names[k], n->text))
					break;
			if (k == s->n) {
				s->names = cs_xrealloc(
				    s->names, (s->n + 1) * sizeof *s->names);
				s->names[s->n++] = n->text;
				if ((rc = fn(n->text, arg)) != 0)
					return rc;
			}
		}
		if (n->kind == TK_IF && ((rc = walk(&n->then, s, fn, arg)) ||
		                         (rc = walk(&n->els, s, fn, arg))))
			return rc;
		for (k = 0; k < n->nalts; k++)
			if ((rc = walk(&n->alts[k], s, fn, arg)) != 0)
				return rc;
	}
	return 0;
}

int tmpl_foreach_field(const tmpl *t, int (*fn)(const char *name, void *arg),
                       void *arg)
{
	seen s = {NULL, 0};
	int rc = walk(&t->subject, &s, fn, arg);

	if (rc == 0)
		rc = walk(&t->text, &s, fn, arg);
	if (rc == 0)
		rc = walk(&t->html, &s, fn, arg);
	free(s.names);
	return rc;
}
