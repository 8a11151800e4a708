/*
 * tmpl.h - the template language: template files, validation, rendering.
 *
 * A template file is a header block ("Subject: ..."), a blank line and the
 * plain-text body; optionally a line "--- html ---" and an HTML body after
 * it.  The subject and both bodies use the same language:
 *
 *   {{first_name}}            a field (built-in or custom, by column name;
 *                             case, spaces and '-' vs '_' do not matter)
 *   {{first_name|there}}      a fallback when the field is empty
 *   {{sender.first_name}}     a sender field; {{unsubscribe_url}};
 *                             {{day_of_week}} in the contact's time zone
 *   {{#if company}}a{{else}}b{{/if}}
 *   {Hi|Hello|Hey}            spintax, nested at will, chosen per
 *                             (contact, step): the preview is what is sent
 *   \{ \} \|                  a literal brace or bar
 *
 * A brace group is spintax only when it holds a '|' at its own level, so
 * CSS and other braces stay literal.  A field with no value and no
 * fallback never renders as a blank: rendering fails ("missing field X").
 *
 * Layering: templates/ depends on core/ only.  The caller looks up the
 * contact, the sender and the unsubscribe URL and passes the values in.
 */
#ifndef COLDSEQ_TMPL_H
#define COLDSEQ_TMPL_H

#include "core/core.h"

typedef struct tmpl tmpl;

/* Parse a whole template file.  name (the file name) starts every error,
 * which reads "NAME:LINE:COLUMN: what" followed by the line and a caret
 * under the place.  Caller frees *out with tmpl_free. */
int tmpl_parse(const char *name, const char *src, size_t len, tmpl **out,
               cs_err *err);
void tmpl_free(tmpl *t);

/* Whether the file has a Subject header (a template without one can only
 * be a follow-up step) and an HTML part. */
bool tmpl_has_subject(const tmpl *t);
bool tmpl_has_html(const tmpl *t);

/* Call fn once per distinct field name the template uses (as written,
 * sender fields with their "sender." prefix); fn returning non-zero stops
 * with that value. */
int tmpl_foreach_field(const tmpl *t, int (*fn)(const char *name, void *arg),
                       void *arg);

/* Every {{sender.NAME}} (field or #if) names one of known (a NULL-ended
 * list, compared as field names are); else CS_EINVAL "NAME:LINE:COL:
 * unknown sender field ..." with the line and a caret. */
int tmpl_check_sender(const tmpl *t, const char *const *known, cs_err *err);
/* Whether the Subject, rendered at its longest, fits max octets (the
 * caller's header limit); else CS_EINVAL "NAME:LINE:COL: the Subject can
 * render to N octets ...".  "At its longest" is defined without any
 * contact: the literal text, plus for each field its fallback (a field
 * without fallback counts 0, {{day_of_week}} 9), the longest spintax
 * alternative, the longer #if branch.  A contact's own values are not
 * counted: they are bounded per field when imported (contacts import
 * refuses a field a header cannot carry), and what a particular contact
 * adds is checked again when its message is built, where an over-long
 * subject holds that one step with the reason. */
int tmpl_check_subject(const tmpl *t, size_t max, cs_err *err);

/* One named value.  A NULL or blank value counts as missing. */
typedef struct tmpl_field {
	const char *name;
	const char *value;
} tmpl_field;

/* What rendering needs; all borrowed for the duration of the call. */
typedef struct tmpl_vars {
	const tmpl_field *fields; /* the contact: built-in and custom */
	size_t nfields;
	const tmpl_field *sender; /* {{sender.NAME}}; a value "" is empty
	                             (renders nothing without a fallback),
	                             NULL is missing */
	size_t nsender;
	const char *unsubscribe_url; /* NULL: {{unsubscribe_url}} missing */
	const char *timezone;        /* the contact's zone; NULL/"": UTC */
	int64_t now_ms;              /* for {{day_of_week}} */
	const char *seed;            /* the contact's identity (address) */
	int step;                    /* campaign step, 1-based */
} tmpl_vars;

typedef struct tmpl_out {
	cs_buf subject, text, html; /* subject/html empty when absent */
} tmpl_out;

#define TMPL_OUT_INIT                                                          \
	{                                                                      \
		CS_BUF_INIT, CS_BUF_INIT, CS_BUF_INIT                          \
	}

/* Render subject, text and HTML (field values HTML-escaped in the HTML
 * part).  Fails with CS_EINVAL and "missing field X (NAME:LINE:COL)" when
 * a field used without fallback has no value; out is then cleared. */
int tmpl_render(const tmpl *t, const tmpl_vars *v, tmpl_out *out, cs_err *err);
void tmpl_out_free(tmpl_out *o);

#endif
