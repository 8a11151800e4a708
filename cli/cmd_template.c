/*
 * cmd_template.c - `coldseq template import|list|show|preview`.
 *
 * import checks every file first (a syntax error names file:line:column
 * and shows the line with a caret) and stores nothing unless all parse.
 * preview renders for one stored contact and builds the message with the
 * same builder and unsubscribe token as sending, so what it prints is
 * what would go out (Message-ID and Date aside).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"
#include "smtp/smtp.h"
#include "templates/tmpl.h"

#define MAX_TEMPLATE (1 << 20)

static bool valid_tname(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* File name without directory and extension. */
static char *default_name(const char *path)
{
	const char *b = strrchr(path, '/'), *dot;

	b = b ? b + 1 : path;
	dot = strrchr(b, '.');
	return cs_xstrndup(b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
}

/* What a file that is not UTF-8 most likely is, judged by its bytes:
 * "WINDOWS-1252" when it has bytes 0x80-0x9F that are characters there
 * (curly quotes, euro), "ISO-8859-1" when its only non-ASCII bytes are
 * 0xA0-0xFF, NULL when it holds real UTF-8 sequences too (mixed) or a
 * byte Windows-1252 leaves undefined. */
static const char *legacy_charset(const char *s, size_t n)
{
	size_t i = 0, seg, k;
	bool c1 = false;

	while (i < n) {
		if (cs_utf8_valid(s + i, n - i, &seg))
			seg = n - i;
		for (k = i; k < i + seg; k++)
			if ((unsigned char)s[k] >= 0x80)
				return NULL; /* a real UTF-8 sequence */
		if (i + seg >= n)
			break;
		k = (unsigned char)s[i + seg];
		if (k == 0x81 || k == 0x8d || k == 0x8f || k == 0x90 ||
		    k == 0x9d)
			return NULL;
		if (k < 0xa0)
			c1 = true;
		i += seg + 1;
	}
	return c1 ? "WINDOWS-1252" : "ISO-8859-1";
}

/* A template file is UTF-8 (a BOM is dropped here): else an error naming
 * FILE:LINE:COL of the first bad byte and, when the bytes look like a
 * legacy charset, the iconv command that converts the file. */
static int check_utf8(const char *path, const char *tname, cs_buf *src,
                      cs_err *err)
{
	size_t bad, i, line = 1, col = 1;
	const char *cs;

	if (src->len >= 3 && memcmp(src->data, "\xef\xbb\xbf", 3) == 0) {
		memmove(src->data, src->data + 3, src->len - 3);
		cs_buf_truncate(src, src->len - 3);
	}
	if (src->len == 0 || cs_utf8_valid(src->data, src->len, &bad))
		return 0;
	for (i = 0; i < bad; i++)
		if (src->data[i] == '\n')
			line++, col = 1;
		else if (((unsigned char)src->data[i] & 0xc0) != 0x80)
			col++;
	cs = legacy_charset(src->data, src->len);
	if (cs == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "%s:%zu:%zu: not valid UTF-8 (byte 0x%02X): "
		                  "save the file as UTF-8",
		                  path, line, col,
		                  (unsigned char)src->data[bad]);
	return cs_err_set(
	    err, CS_EINVAL,
	    "%s:%zu:%zu: not valid UTF-8 (byte 0x%02X); the file looks like "
	    "%s.  Convert it, then import the result:\n"
	    "  iconv -f %s -t UTF-8 %s > %s.utf8\n"
	    "  coldseq template import %s.utf8 --name %s",
	    path, line, col, (unsigned char)src->data[bad], cs, cs, path, path,
	    path, tname);
}

typedef struct loaded {
	char *name;
	cs_buf src;
	bool subject, html;
} loaded;

static int run_import(cli_ctx *ctx, const cli_args *a)
{
	const char *name = cli_opt_value(a, "name");
	loaded *files;
	cs_err err = CS_ERR_INIT;
	cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
	int i, n = a->npos, rc = CLI_EXIT_OK;

	if (name && n > 1) {
		cli_error("template import: --name takes one file");
		cJSON_Delete(arr);
		return CLI_EXIT_USAGE;
	}
	files = cs_xcalloc((size_t)n, sizeof *files);
	for (i = 0; i < n && rc == CLI_EXIT_OK; i++) {
		tmpl *t = NULL;

		files[i].name =
		    name ? cs_xstrdup(name) : default_name(a->pos[i]);
		if (!valid_tname(files[i].name)) {
			cli_error("template import: \"%s\" is not a template "
			          "name (letters, digits, '.', '_', '-'; use "
			          "--name)",
			          files[i].name);
			rc = CLI_EXIT_USAGE;
			break;
		}
		if (cs_read_file(a->pos[i], MAX_TEMPLATE, &files[i].src,
		                 &err) != 0 ||
		    check_utf8(a->pos[i], files[i].name, &files[i].src, &err) !=
		        0 ||
		    tmpl_parse(a->pos[i], cs_buf_str(&files[i].src),
		               files[i].src.len, &t, &err) != 0 ||
		    tmpl_check_sender(t, seq_sender_fields, &err) != 0 ||
		    tmpl_check_subject(t, SMTP_HEADER_MAX, &err) != 0) {
			tmpl_free(t);
			cli_error("template import: %s", err.msg);
			rc = CLI_EXIT_FAIL;
			break;
		}
		files[i].subject = tmpl_has_subject(t);
		files[i].html = tmpl_has_html(t);
		tmpl_free(t);
	}
	if (rc == CLI_EXIT_OK && db_begin(ctx->db, &err) != 0) {
		cli_error("template import: %s", err.msg);
		rc = CLI_EXIT_FAIL;
	}
	for (i = 0; i < n && rc == CLI_EXIT_OK; i++) {
		int version = 0;
		bool same = false;

		if (db_template_add(
		        ctx->db, files[i].name, cs_buf_str(&files[i].src),
		        a->pos[i], files[i].subject, files[i].html,
		        cs_clock_now(NULL), &version, &same, &err) != 0) {
			db_rollback(ctx->db);
			cli_error("template import: %s; nothing was stored",
			          err.msg);
			rc = CLI_EXIT_FAIL;
			break;
		}
		if (arr) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", files[i].name);
			cJSON_AddNumberToObject(o, "version", version);
			cJSON_AddBoolToObject(o, "unchanged", same);
			cJSON_AddBoolToObject(o, "subject", files[i].subject);
			cJSON_AddBoolToObject(o, "html", files[i].html);
			cJSON_AddItemToArray(arr, o);
		} else if (!a->quiet) {
			fprintf(ctx->out, "%s %s version %d%s%s\n",
			        same ? "Unchanged" : "Imported", files[i].name,
			        version, files[i].html ? " (text + html)" : "",
			        files[i].subject ? ""
			                         : " (no Subject: follow-up "
			                           "steps only)");
		}
	}
	if (rc == CLI_EXIT_OK && db_commit(ctx->db, &err) != 0) {
		db_rollback(ctx->db);
		cli_error("template import: %s", err.msg);
		rc = CLI_EXIT_FAIL;
	}
	if (rc == CLI_EXIT_OK && arr) {
		cli_print_json(ctx, arr);
		arr = NULL;
	}
	cJSON_Delete(arr);
	for (i = 0; i < n; i++) {
		free(files[i].name);
		cs_buf_free(&files[i].src);
	}
	free(files);
	return rc;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	db_template *list;
	size_t n, i;
	cs_err err = CS_ERR_INIT;

	if (db_template_list(ctx->db, &list, &n, &err) != 0) {
		cli_error("template list: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *arr = cJSON_CreateArray();

		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			char when[32];

			cs_time_iso8601(list[i].created_at, when, sizeof when);
			cJSON_AddStringToObject(o, "name", list[i].name);
			cJSON_AddNumberToObject(o, "version", list[i].version);
			cJSON_AddNumberToObject(o, "versions",
			                        list[i].nversions);
			cJSON_AddBoolToObject(o, "subject",
			                      list[i].has_subject);
			cJSON_AddBoolToObject(o, "html", list[i].has_html);
			cJSON_AddStringToObject(o, "imported_at", when);
			cJSON_AddItemToArray(arr, o);
		}
		cli_print_json(ctx, arr);
	} else {
		fprintf(ctx->out, "%-24s %-8s %-8s %-5s %s\n", "NAME",
		        "VERSION", "SUBJECT", "HTML", "IMPORTED");
		for (i = 0; i < n; i++) {
			char when[32];

			cs_time_iso8601(list[i].created_at, when, sizeof when);
			fprintf(ctx->out, "%-24s %-8d %-8s %-5s %s\n",
			        list[i].name, list[i].version,
			        list[i].has_subject ? "yes" : "no",
			        list[i].has_html ? "yes" : "no", when);
		}
	}
	db_template_list_free(list, n);
	return CLI_EXIT_OK;
}

static int opt_int(const cli_args *a, const char *name, int def, int *out)
{
	const char *v = cli_opt_value(a, name);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 1 || n > 1000) {
		cli_error("template: --%s takes a number from 1, not \"%s\"",
		          name, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	db_template t;
	cs_err err = CS_ERR_INIT;
	const char *at = strrchr(a->pos[0], '@');
	char *name = cs_xstrndup(a->pos[0], at ? (size_t)(at - a->pos[0])
	                                       : strlen(a->pos[0]));
	int version = 0;

	if (at) {
		char *end;
		long n;

		errno = 0;
		n = strtol(at + 1, &end, 10);
		if (errno || *end || end == at + 1 || n < 1 || n > 1000000) {
			cli_error("template show: \"%s\": write NAME or "
			          "NAME@VERSION (e.g. step1@2)",
			          a->pos[0]);
			free(name);
			return CLI_EXIT_USAGE;
		}
		version = (int)n;
	}
	if (db_template_get(ctx->db, name, version, &t, &err) != 0) {
		cli_error("template show: %s", err.msg);
		free(name);
		return CLI_EXIT_FAIL;
	}
	free(name);
	if (a->json) {
		cJSON *o = cJSON_CreateObject();
		char when[32];

		cs_time_iso8601(t.created_at, when, sizeof when);
		cJSON_AddStringToObject(o, "name", t.name);
		cJSON_AddNumberToObject(o, "version", t.version);
		cJSON_AddNumberToObject(o, "versions", t.nversions);
		cJSON_AddNumberToObject(o, "version_id", (double)t.version_id);
		if (t.file)
			cJSON_AddStringToObject(o, "file", t.file);
		cJSON_AddStringToObject(o, "imported_at", when);
		cJSON_AddBoolToObject(o, "subject", t.has_subject);
		cJSON_AddBoolToObject(o, "html", t.has_html);
		cJSON_AddStringToObject(o, "source", t.source);
		cli_print_json(ctx, o);
	} else {
		fputs(t.source, ctx->out);
	}
	db_template_free(&t);
	return CLI_EXIT_OK;
}

/* ---- preview --------------------------------------------------------------
 */

/* --json: what was rendered, and the message as it would be sent. */
static void print_preview_json(cli_ctx *ctx, const db_template *t,
                               const db_contact *c, const db_inbox *from,
                               int step, const char *subject, const cs_buf *raw)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "template", t->name);
	cJSON_AddNumberToObject(o, "version", t->version);
	cJSON_AddStringToObject(o, "contact", c->email);
	if (from)
		cJSON_AddStringToObject(o, "from", from->name);
	else
		cJSON_AddNullToObject(o, "from");
	cJSON_AddNumberToObject(o, "step", step);
	if (subject)
		cJSON_AddStringToObject(o, "subject", subject);
	else
		cJSON_AddNullToObject(o, "subject");
	cJSON_AddStringToObject(o, "message", cs_buf_str(raw));
	cli_print_json(ctx, o);
}

static int run_preview(cli_ctx *ctx, const cli_args *a)
{
	const char *from = cli_opt_value(a, "from");
	const char *contact_arg = cli_opt_value(a, "contact");
	db_template t;
	db_contact c;
	db_inbox in;
	tmpl *tp = NULL;
	seq_compose_in ci;
	cs_buf email = CS_BUF_INIT, deftz = CS_BUF_INIT, raw = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	char *subject = NULL;
	int step, rc = CLI_EXIT_FAIL;

	memset(&t, 0, sizeof t);
	memset(&c, 0, sizeof c);
	memset(&in, 0, sizeof in);
	if (contact_arg == NULL) {
		cli_error("template preview needs --contact EMAIL");
		return CLI_EXIT_USAGE;
	}
	if (cs_email_normalize(contact_arg, &email, &err) != 0) {
		cli_error("template preview: --contact: %s", err.msg);
		return CLI_EXIT_USAGE;
	}
	if (opt_int(a, "step", 0, &step) != 0) {
		cs_buf_free(&email);
		return CLI_EXIT_USAGE;
	}
	if (db_template_get(ctx->db, a->pos[0], 0, &t, &err) != 0 ||
	    db_contact_get(ctx->db, email.data, &c, &err) != 0 ||
	    db_config_get(ctx->db, "general.timezone", &deftz, NULL, &err) != 0)
		goto fail;
	if (tmpl_parse(t.name, t.source, strlen(t.source), &tp, &err) != 0)
		goto fail;
	if (step == 0)
		step = tmpl_has_subject(tp) ? 1 : 2;
	if (step == 1 && !tmpl_has_subject(tp)) {
		cs_err_set(&err, CS_EINVAL,
		           "template '%s' has no Subject, so it can only be a "
		           "follow-up step (--step 2 or later)",
		           t.name);
		goto fail;
	}
	if (from) {
		if (db_inbox_get(ctx->db, from, &in, &err) != 0)
			goto fail;
	} else { /* a placeholder sender */
		in.email = cs_xstrdup("sender@example.com");
		in.display_name = cs_xstrdup("Sam Sender");
		in.signature = cs_xstrdup("Sam Sender\nExample Ltd");
		in.timezone = cs_xstrdup(deftz.data);
	}
	memset(&ci, 0, sizeof ci);
	ci.inbox = &in;
	ci.contact = &c;
	ci.template_source = t.source;
	ci.template_name = t.name;
	ci.campaign = "preview";
	ci.step = step;
	ci.contact_tz = c.timezone ? c.timezone : deftz.data;
	ci.now = cs_clock_now(NULL);
	ci.thread_subject = "[the subject of the campaign's first step]";
	if (seq_compose(ctx->db, ctx->vault, &ci, &raw, &subject, &err) != 0)
		goto fail;
	if (a->json)
		print_preview_json(ctx, &t, &c, from ? &in : NULL, step,
		                   subject, &raw);
	else
		fwrite(raw.data, 1, raw.len, ctx->out);
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("template preview: %s", err.msg);
out:
	tmpl_free(tp);
	free(subject);
	db_template_free(&t);
	db_contact_free(&c);
	db_inbox_free(&in);
	cs_buf_free(&email);
	cs_buf_free(&deftz);
	cs_buf_free(&raw);
	return rc;
}

static const cli_opt import_opts[] = {
    {"name", 0, "NAME", false, "store under this name (one file only)"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt preview_opts[] = {
    {"contact", 0, "EMAIL", false, "render for this contact (required)"},
    {"from", 0, "INBOX", false, "send from this inbox (else a placeholder)"},
    {"step", 0, "N", false, "campaign step (default 1, or 2 without Subject)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_template[] = {
    {"template", "import", "FILE...", "store template files",
     "Checks every file; a syntax error names FILE:LINE:COLUMN and shows\n"
     "the line with a caret, and nothing is stored.  Also refused: text\n"
     "that is not UTF-8 (a BOM is fine; for a Windows-1252 or Latin-1\n"
     "file the error shows the iconv command that converts it), a\n"
     "{{sender.NAME}} other than first_name, last_name, name, email,\n"
     "signature, and a Subject that could render longer than a header\n"
     "carries (900 octets: its text, the longest spintax choice and the\n"
     "longest fallback of each field).  The name is the file\n"
     "name without extension (or --name).  Importing a name again stores\n"
     "a new version (an identical file changes nothing); campaigns keep\n"
     "the version they were started with.\n\n"
     "A template: 'Subject: ...', a blank line, the text body; optionally\n"
     "a line '--- html ---' and an HTML body.  {{field}}, {{field|fallback}},\n"
     "{{sender.first_name}}, {{unsubscribe_url}}, {{day_of_week}},\n"
     "{{#if field}}...{{else}}...{{/if}}, spintax {Hi|Hello}, \\{ for a\n"
     "brace.\n\n"
     "--json prints [{\"name\", \"version\", \"unchanged\", \"subject\", "
     "\"html\"}].\n\n"
     "Example:\n  coldseq template import step1.txt step2.txt",
     1, -1, CLI_NEEDS_DB, import_opts, run_import},
    {"template", "list", NULL, "list templates",
     "The latest version of each template.\n\n"
     "--json prints [{\"name\", \"version\", \"versions\", \"subject\", "
     "\"html\",\n\"imported_at\"}].\n\n"
     "Example:\n  coldseq template list",
     0, 0, CLI_NEEDS_DB, NULL, run_list},
    {"template", "show", "NAME[@VERSION]", "print a stored template",
     "Prints the file as imported: the latest version, or NAME@VERSION.\n\n"
     "--json prints {\"name\", \"version\", \"versions\", \"version_id\", "
     "\"file\",\n\"imported_at\", \"subject\", \"html\", \"source\"}.\n\n"
     "Example:\n  coldseq template show step1@2",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {"template", "preview", "NAME", "print the message a contact would receive",
     "Renders the latest version for --contact and prints the full\n"
     "message exactly as it would be sent (headers, List-Unsubscribe,\n"
     "MIME parts).  Without --from a placeholder sender and campaign\n"
     "stand in.  A field the contact lacks, used without fallback,\n"
     "fails with \"missing field X\".\n\n"
     "--json prints {\"template\", \"version\", \"contact\", \"from\" (the\n"
     "inbox, or null), \"step\", \"subject\", \"message\" (the full "
     "message)}.\n\n"
     "Example:\n"
     "  coldseq template preview step1 --contact ann@example.com "
     "--from sales1",
     1, 1, CLI_NEEDS_VAULT, preview_opts, run_preview},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
