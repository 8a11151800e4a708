/*
 * tmpl_parse.c - read a template file into its parsed form (tmpl_int.h).
 *
 * One recursive-descent pass per section.  Every refusal names the place
 * as "file:line:column" and shows the line with a caret: an unclosed
 * "{{", an unknown helper, an unbalanced spintax group, an {{#if}} never
 * closed, a header line without a colon.  Nothing here allocates without
 * bound beyond the size of the input: nesting is capped.
 */
#define _POSIX_C_SOURCE 200809L
#include "tmpl_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64
#define MAX_NAME  128

/* What ended a sequence. */
typedef enum term {
	T_END,   /* end of the section */
	T_PIPE,  /* '|' at a spintax group's level */
	T_CLOSE, /* '}' closing a group */
	T_ELSE,  /* {{else}} */
	T_ENDIF, /* {{/if}} */
} term;

enum { IN_GROUP = 1, IN_IF = 2 };

typedef struct parser {
	tmpl *t;
	const char *s; /* the whole source */
	size_t i, end; /* cursor and end of the current section */
	size_t term_pos;
	int depth;
	cs_err *err;
} parser;

/* ---- errors ------------------------------------------------------------ */

void tmpl_line_col(const char *src, size_t len, size_t pos, size_t *line,
                   size_t *col)
{
	size_t i, l = 1, c = 1;

	for (i = 0; i < pos && i < len; i++) {
		if (src[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)src[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

int tmpl_error_at(const tmpl *t, size_t pos, cs_err *err, const char *fmt, ...)
{
	cs_buf b = CS_BUF_INIT;
	size_t line, col, bol = pos, eol = pos, from, i;
	va_list ap;

	if (pos > t->len)
		pos = t->len;
	tmpl_line_col(t->src, t->len, pos, &line, &col);
	cs_buf_printf(&b, "%s:%zu:%zu: ", t->name, line, col);
	va_start(ap, fmt);
	cs_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	bol = eol = pos;
	while (bol > 0 && t->src[bol - 1] != '\n')
		bol--;
	while (eol < t->len && t->src[eol] != '\n' && t->src[eol] != '\r')
		eol++;
	/* a window of the line around the place, so the caret stays in
	 * the 512-byte message */
	from = bol;
	if (pos - bol > 60) {
		from = pos - 40;
		while (from < pos &&
		       ((unsigned char)t->src[from] & 0xc0) == 0x80)
			from++;
	}
	if (eol - from > 100) {
		eol = from + 100;
		while (eol > pos && ((unsigned char)t->src[eol] & 0xc0) == 0x80)
			eol--;
	}
	cs_buf_puts(&b, "\n    ");
	for (i = from; i < eol; i++)
		cs_buf_putc(&b,
		            (unsigned char)t->src[i] < 0x20 && t->src[i] != '\t'
		                ? '?'
		                : t->src[i]);
	cs_buf_puts(&b, "\n    ");
	for (i = from; i < pos; i++)
		if (t->src[i] == '\t')
			cs_buf_putc(&b, '\t');
		else if (((unsigned char)t->src[i] & 0xc0) != 0x80)
			cs_buf_putc(&b, ' ');
	cs_buf_putc(&b, '^');
	cs_err_set(err, CS_EINVAL, "%s", cs_buf_str(&b));
	cs_buf_free(&b);
	return CS_EINVAL;
}

/* ---- names ------------------------------------------------------------- */

static char norm_c(char c)
{
	if (c == ' ' || c == '-')
		return '_';
	return (char)tolower((unsigned char)c);
}

bool tmpl_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (norm_c(*a) != norm_c(*b))
			return false;
	return *a == *b;
}

static bool valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MAX_NAME)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_-. ", s[i]) &&
		    (unsigned char)s[i] < 0x80)
			return false;
	return true;
}

/* ---- nodes ------------------------------------------------------------- */

static void seq_push(tmpl_seq *q, tmpl_node *n)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->v = cs_xrealloc(q->v, q->cap * sizeof(tmpl_node *));
	}
	q->v[q->n++] = n;
}

static void seq_free(tmpl_seq *q);

static void node_free(tmpl_node *n)
{
	size_t i;

	free(n->text);
	free(n->fallback);
	seq_free(&n->then);
	seq_free(&n->els);
	for (i = 0; i < n->nalts; i++)
		seq_free(&n->alts[i]);
	free(n->alts);
	free(n);
}

static void seq_free(tmpl_seq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		node_free(q->v[i]);
	free(q->v);
	memset(q, 0, sizeof *q);
}

static tmpl_node *node_new(tmpl_kind k, size_t pos)
{
	tmpl_node *n = cs_xcalloc(1, sizeof *n);

	n->kind = k;
	n->pos = pos;
	return n;
}

/* Append literal bytes, merging with a preceding text node. */
static void add_text(tmpl_seq *q, size_t pos, const char *s, size_t n)
{
	tmpl_node *last = q->n ? q->v[q->n - 1] : NULL;

	if (n == 0)
		return;
	if (last == NULL || last->kind != TK_TEXT) {
		last = node_new(TK_TEXT, pos);
		seq_push(q, last);
	}
	last->text = cs_xrealloc(last->text, last->len + n + 1);
	memcpy(last->text + last->len, s, n);
	last->len += n;
	last->text[last->len] = '\0';
}

/* ---- the language ------------------------------------------------------ */

static int parse_seq(parser *p, tmpl_seq *out, int ctx, term *why);

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int parse_if(parser *p, tmpl_node *n, int ctx)
{
	term why;
	int rc;

	if ((rc = parse_seq(p, &n->then, IN_IF, &why)) != 0)
		return rc;
	if (why == T_ELSE) {
		if ((rc = parse_seq(p, &n->els, IN_IF, &why)) != 0)
			return rc;
		if (why == T_ELSE)
			return tmpl_error_at(
			    p->t, p->term_pos, p->err,
			    "a second {{else}} in one {{#if}}");
	}
	(void)ctx;
	if (why != T_ENDIF)
		return tmpl_error_at(p->t, n->pos, p->err,
		                     "{{#if %s}} is never closed with {{/if}}",
		                     n->text);
	return 0;
}

/* A tag "{{...}}" at p->i.  Sets *why when it ends the sequence. */
static int parse_tag(parser *p, tmpl_seq *out, int ctx, term *why, bool *ends)
{
	size_t start = p->i, j = p->i + 2, n;
	const char *in;
	tmpl_node *node;

	*ends = false;
	while (j + 1 < p->end && !(p->s[j] == '}' && p->s[j + 1] == '}')) {
		if (p->s[j] == '\n')
			break;
		j++;
	}
	if (j + 1 >= p->end || p->s[j] == '\n')
		return tmpl_error_at(p->t, start, p->err,
		                     "unclosed '{{': a tag ends with '}}' on "
		                     "the same line");
	in = p->s + start + 2;
	n = j - start - 2;
	p->i = j + 2;
	trim(&in, &n);
	if (n == 0)
		return tmpl_error_at(p->t, start, p->err,
		                     "empty tag '{{}}': write a field name, "
		                     "e.g. {{first_name}}");
	if (in[0] == '#') {
		size_t w = 1;
		const char *arg;
		size_t an;

		while (w < n && !isspace((unsigned char)in[w]))
			w++;
		if (w != 3 || strncmp(in, "#if", 3) != 0)
			return tmpl_error_at(p->t, (size_t)(in - p->s), p->err,
			                     "unknown helper '%.*s' (known: "
			                     "#if, else, /if)",
			                     (int)(w > 40 ? 40 : w), in);
		arg = in + w;
		an = n - w;
		trim(&arg, &an);
		if (!valid_name(arg, an))
			return tmpl_error_at(p->t, (size_t)(in - p->s), p->err,
			                     "{{#if}} needs a field name, e.g. "
			                     "{{#if company}}");
		if (++p->depth > MAX_DEPTH)
			return tmpl_error_at(p->t, start, p->err,
			                     "nested more than %d deep",
			                     MAX_DEPTH);
		node = node_new(TK_IF, start);
		node->text = cs_xstrndup(arg, an);
		seq_push(out, node);
		{
			int rc = parse_if(p, node, ctx);

			p->depth--;
			return rc;
		}
	}
	if (n == 4 && strncmp(in, "else", 4) == 0) {
		if (!(ctx & IN_IF))
			return tmpl_error_at(p->t, start, p->err,
			                     "{{else}} without {{#if}}");
		p->term_pos = start;
		*why = T_ELSE;
		*ends = true;
		return 0;
	}
	if (in[0] == '/') {
		const char *h = in + 1;
		size_t hn = n - 1;

		trim(&h, &hn);
		if (hn != 2 || strncmp(h, "if", 2) != 0)
			return tmpl_error_at(p->t, (size_t)(in - p->s), p->err,
			                     "unknown helper '/%.*s' (known: "
			                     "#if, else, /if)",
			                     (int)(hn > 40 ? 40 : hn), h);
		if (!(ctx & IN_IF))
			return tmpl_error_at(p->t, start, p->err,
			                     "{{/if}} without {{#if}}");
		p->term_pos = start;
		*why = T_ENDIF;
		*ends = true;
		return 0;
	}
	{
		const char *bar = memchr(in, '|', n);
		const char *name = in;
		size_t nn = bar ? (size_t)(bar - in) : n;

		trim(&name, &nn);
		if (!valid_name(name, nn))
			return tmpl_error_at(
			    p->t, (size_t)(in - p->s), p->err,
			    "'%.*s' is not a field name (letters, digits, "
			    "'_', '-', '.', spaces)",
			    (int)(nn > 40 ? 40 : nn), name);
		node = node_new(TK_VAR, start);
		node->text = cs_xstrndup(name, nn);
		if (bar) {
			const char *fb = bar + 1;
			size_t fn = n - (size_t)(fb - in);

			trim(&fb, &fn);
			node->fallback = cs_xstrndup(fb, fn);
		}
		seq_push(out, node);
	}
	return 0;
}

/* A brace group at p->i: spintax when it holds '|' at its own level,
 * else literal braces around its content. */
static int parse_group(parser *p, tmpl_seq *out, int ctx, term *why, bool *ends)
{
	size_t start = p->i;
	tmpl_node *n = node_new(TK_SPIN, start);
	term t;
	int rc;

	*ends = false;
	if (++p->depth > MAX_DEPTH) {
		node_free(n);
		return tmpl_error_at(p->t, start, p->err,
		                     "nested more than %d deep", MAX_DEPTH);
	}
	p->i++;
	for (;;) {
		n->alts =
		    cs_xrealloc(n->alts, (n->nalts + 1) * sizeof *n->alts);
		memset(&n->alts[n->nalts], 0, sizeof *n->alts);
		rc = parse_seq(p, &n->alts[n->nalts++],
		               IN_GROUP | (ctx & IN_IF), &t);
		if (rc != 0) {
			node_free(n);
			return rc;
		}
		if (t != T_PIPE)
			break;
	}
	p->depth--;
	if (t == T_CLOSE && n->nalts > 1) {
		seq_push(out, n);
		return 0;
	}
	if (t != T_CLOSE && n->nalts > 1) {
		node_free(n);
		return tmpl_error_at(p->t, start, p->err,
		                     "unbalanced spintax: this '{' is never "
		                     "closed with '}' (write \\{ for a "
		                     "literal brace)");
	}
	/* literal: "{" content ["}"] */
	add_text(out, start, "{", 1);
	{
		tmpl_seq *a = &n->alts[0];
		size_t i;

		for (i = 0; i < a->n; i++) {
			if (a->v[i]->kind == TK_TEXT && out->n &&
			    out->v[out->n - 1]->kind == TK_TEXT) {
				add_text(out, a->v[i]->pos, a->v[i]->text,
				         a->v[i]->len);
				node_free(a->v[i]);
			} else {
				seq_push(out, a->v[i]);
			}
		}
		a->n = 0;
	}
	node_free(n);
	if (t == T_CLOSE) {
		add_text(out, p->i - 1, "}", 1);
		return 0;
	}
	*why = t; /* the end, {{else}} or {{/if}} reached inside */
	*ends = true;
	return 0;
}

static int parse_seq(parser *p, tmpl_seq *out, int ctx, term *why)
{
	int rc;
	bool ends;

	while (p->i < p->end) {
		char c = p->s[p->i];

		if (c == '\\' && p->i + 1 < p->end &&
		    strchr("{}|", p->s[p->i + 1])) {
			add_text(out, p->i, p->s + p->i + 1, 1);
			p->i += 2;
		} else if (c == '{' && p->i + 1 < p->end &&
		           p->s[p->i + 1] == '{' &&
		           !(p->i + 2 < p->end && p->s[p->i + 2] == '{')) {
			if ((rc = parse_tag(p, out, ctx, why, &ends)) != 0)
				return rc;
			if (ends)
				return 0;
		} else if (c == '{') {
			if ((rc = parse_group(p, out, ctx, why, &ends)) != 0)
				return rc;
			if (ends)
				return 0;
		} else if (c == '}' && (ctx & IN_GROUP)) {
			p->i++;
			*why = T_CLOSE;
			return 0;
		} else if (c == '|' && (ctx & IN_GROUP)) {
			p->i++;
			*why = T_PIPE;
			return 0;
		} else if (c == '\r' && p->i + 1 < p->end &&
		           p->s[p->i + 1] == '\n') {
			p->i++; /* CRLF becomes LF */
		} else {
			size_t j = p->i + 1;

			while (j < p->end && !strchr("\\{}|\r", p->s[j]))
				j++;
			add_text(out, p->i, p->s + p->i, j - p->i);
			p->i = j;
		}
	}
	*why = T_END;
	return 0;
}

static int parse_section(parser *p, size_t from, size_t to, tmpl_seq *out)
{
	term why;

	p->i = from;
	p->end = to;
	p->depth = 0;
	return parse_seq(p, out, 0, &why);
}

/* ---- the file ---------------------------------------------------------- */

/* End of the line starting at i (index of '\n' or len), and the end of its
 * content without a trailing CR. */
static size_t line_end(const char *s, size_t len, size_t i, size_t *content)
{
	size_t e = i;

	while (e < len && s[e] != '\n')
		e++;
	*content = e;
	if (*content > i && s[*content - 1] == '\r')
		(*content)--;
	return e;
}

static bool is_html_marker(const char *s, size_t n)
{
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n == 12 && memcmp(s, "--- html ---", 12) == 0;
}

static int parse_headers(parser *p, size_t *body)
{
	const char *s = p->t->src;
	size_t len = p->t->len, i = 0, e, ce;

	while (i < len) {
		const char *colon;
		size_t nlen;

		e = line_end(s, len, i, &ce);
		if (ce == i) { /* the blank line */
			*body = e < len ? e + 1 : len;
			return 0;
		}
		colon = memchr(s + i, ':', ce - i);
		if (colon == NULL)
			return tmpl_error_at(
			    p->t, i, p->err,
			    "a header line without a colon (write "
			    "'Subject: ...', then a blank line, then the "
			    "body)");
		nlen = (size_t)(colon - (s + i));
		if (nlen == 7 && strncasecmp(s + i, "Subject", 7) == 0) {
			size_t v = (size_t)(colon - s) + 1;

			if (p->t->has_subject)
				return tmpl_error_at(p->t, i, p->err,
				                     "a second Subject header");
			while (v < ce && (s[v] == ' ' || s[v] == '\t'))
				v++;
			p->t->has_subject = true;
			{
				int rc =
				    parse_section(p, v, ce, &p->t->subject);

				if (rc != 0)
					return rc;
			}
			if (p->t->subject.n == 0)
				return tmpl_error_at(p->t, v, p->err,
				                     "the Subject is empty");
		} else {
			return tmpl_error_at(p->t, i, p->err,
			                     "unknown header '%.*s' (known: "
			                     "Subject)",
			                     (int)(nlen > 40 ? 40 : nlen),
			                     s + i);
		}
		i = e < len ? e + 1 : len;
	}
	*body = len;
	return 0;
}

int tmpl_parse(const char *name, const char *src, size_t len, tmpl **out,
               cs_err *err)
{
	tmpl *t = cs_xcalloc(1, sizeof *t);
	parser p;
	size_t body = 0, i, html_at = len, html_body = len, e, ce;
	int rc;

	*out = NULL;
	t->name = cs_xstrdup(name);
	t->src = cs_xmalloc(len + 1); /* not strndup: may hold a NUL */
	memcpy(t->src, src, len);
	t->src[len] = '\0';
	t->len = len;
	memset(&p, 0, sizeof p);
	p.t = t;
	p.s = t->src;
	p.err = err;
	if (memchr(src, '\0', len)) {
		rc = tmpl_error_at(
		    t, (size_t)((const char *)memchr(src, '\0', len) - src),
		    err, "a NUL byte: this is not a text file");
		goto fail;
	}
	if ((rc = parse_headers(&p, &body)) != 0)
		goto fail;
	for (i = body; i < len; i = e + 1) {
		e = line_end(t->src, len, i, &ce);
		if (is_html_marker(t->src + i, ce - i)) {
			html_at = i;
			html_body = e < len ? e + 1 : len;
			t->has_html = true;
			break;
		}
		if (e >= len)
			break;
	}
	if ((rc = parse_section(&p, body, html_at, &t->text)) != 0)
		goto fail;
	if (t->has_html &&
	    (rc = parse_section(&p, html_body, len, &t->html)) != 0)
		goto fail;
	{
		bool blank = true;

		for (i = body; i < html_at && blank; i++)
			if (!isspace((unsigned char)t->src[i]))
				blank = false;
		if (blank) {
			rc = tmpl_error_at(t, body, err,
			                   "the template has no body: after "
			                   "the header block and a blank line "
			                   "comes the message text");
			goto fail;
		}
	}
	*out = t;
	return 0;
fail:
	tmpl_free(t);
	return rc;
}

void tmpl_free(tmpl *t)
{
	if (t == NULL)
		return;
	seq_free(&t->subject);
	seq_free(&t->text);
	seq_free(&t->html);
	free(t->name);
	free(t->src);
	free(t);
}

bool tmpl_has_subject(const tmpl *t)
{
	return t->has_subject;
}

bool tmpl_has_html(const tmpl *t)
{
	return t->has_html;
}
