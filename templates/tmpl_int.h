/*
 * tmpl_int.h - the parsed form of a template, shared by the files of
 * templates/ only.
 *
 * A section (subject, text, html) is a sequence of nodes.  Positions are
 * byte offsets into the whole source, so any node can be turned back into
 * "file:line:column".
 */
#ifndef COLDSEQ_TMPL_INT_H
#define COLDSEQ_TMPL_INT_H

#include "tmpl.h"

typedef enum tmpl_kind {
	TK_TEXT, /* literal text (escapes resolved, CR before LF dropped) */
	TK_VAR,  /* {{name}} or {{name|fallback}} */
	TK_IF,   /* {{#if name}} a {{else}} b {{/if}} */
	TK_SPIN, /* {a|b|c} */
} tmpl_kind;

typedef struct tmpl_node tmpl_node;

typedef struct tmpl_seq {
	tmpl_node **v;
	size_t n, cap;
} tmpl_seq;

struct tmpl_node {
	tmpl_kind kind;
	size_t pos;     /* byte offset of the node's first character */
	char *text;     /* TK_TEXT: the text; TK_VAR, TK_IF: the field name */
	size_t len;     /* TK_TEXT: length of text */
	char *fallback; /* TK_VAR: NULL when there is none */
	tmpl_seq then, els; /* TK_IF */
	tmpl_seq *alts;     /* TK_SPIN */
	size_t nalts;
};

struct tmpl {
	char *name;
	char *src; /* a copy of the source, for error excerpts */
	size_t len;
	bool has_subject, has_html;
	tmpl_seq subject, text, html;
};

/* "NAME:LINE:COL: " + msg + the line with a caret, into err. */
int tmpl_error_at(const tmpl *t, size_t pos, cs_err *err, const char *fmt, ...)
    CS_PRINTF(4, 5);
/* Line and column (1-based, column in characters) of pos. */
void tmpl_line_col(const char *src, size_t len, size_t pos, size_t *line,
                   size_t *col);
/* Field names compare ignoring case, and ' ' / '-' equal '_'. */
bool tmpl_name_eq(const char *a, const char *b);

#endif
