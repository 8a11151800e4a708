/*
 * cmd_classify.c - `coldseq classify [--json] FILE...`: the message
 * classifier (classify/cls.h) over raw RFC 5322 files, offline.
 *
 * "-" reads standard input.  Only the first CLS_MAX_SCAN bytes of a file
 * are read (the classifier looks at no more).  A file that cannot be read
 * is reported on stderr and the others still run; the exit status is then
 * 1.  Output strings are made valid UTF-8 (bad bytes become U+FFFD) so
 * JSON readers never choke on a message's raw bytes.
 */
#include "cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify/cls.h"

/* Read at most max bytes of path ("-" = stdin) into out. */
static int read_capped(const char *path, size_t max, cs_buf *out, cs_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t r;

	if (f == NULL)
		return cs_err_set(err, CS_EIO, "cannot open %s: %s", path,
		                  strerror(errno));
	while (out->len < max &&
	       (r = fread(chunk, 1,
	                  max - out->len < sizeof chunk ? max - out->len
	                                                : sizeof chunk,
	                  f)) > 0)
		cs_buf_append(out, chunk, r);
	if (ferror(f)) {
		int e = errno;

		if (f != stdin)
			fclose(f);
		return cs_err_set(err, CS_EIO, "cannot read %s: %s", path,
		                  strerror(e));
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

/* s as valid UTF-8 (into b); returns b's string. */
static const char *clean(const char *s, cs_buf *b)
{
	cs_buf_clear(b);
	cs_utf8_repair(s, strlen(s), b);
	return cs_buf_str(b);
}

static void add_str(cJSON *o, const char *key, const char *v, cs_buf *tmp)
{
	if (v && *v)
		cJSON_AddStringToObject(o, key, clean(v, tmp));
}

static cJSON *base_json(const char *file, const cls_class *c, cs_buf *tmp)
{
	cJSON *o = cJSON_CreateObject();

	add_str(o, "file", file, tmp);
	cJSON_AddStringToObject(o, "kind", cls_kind_name(c->kind));
	return o;
}

static void add_fields(cJSON *o, const cls_class *c, cs_buf *tmp)
{
	add_str(o, "return_date", c->return_date, tmp);
	add_str(o, "token", c->token, tmp);
	add_str(o, "message_id", c->message_id, tmp);
	add_str(o, "in_reply_to", c->in_reply_to, tmp);
	add_str(o, "from", c->from, tmp);
	add_str(o, "subject", c->subject, tmp);
	add_str(o, "orig_message_id", c->orig_message_id, tmp);
}

/* The results of one file into arr (--json prints one array). */
static void add_json(cJSON *arr, const char *file, const cls_class *c)
{
	cs_buf tmp = CS_BUF_INIT;
	size_t i;

	if ((c->kind == CLS_BOUNCE || c->kind == CLS_DELAY) && c->nrcpts) {
		for (i = 0; i < c->nrcpts; i++) {
			const cls_rcpt *r = &c->rcpts[i];
			cJSON *o = base_json(file, c, &tmp);

			add_str(o, "recipient", r->addr, &tmp);
			cJSON_AddStringToObject(o, "status", r->status);
			cJSON_AddBoolToObject(o, "hard", r->hard);
			cJSON_AddStringToObject(o, "reason", r->reason);
			add_str(o, "diagnostic", r->diag, &tmp);
			add_fields(o, c, &tmp);
			cJSON_AddItemToArray(arr, o);
		}
	} else {
		cJSON *o = base_json(file, c, &tmp);

		if (c->nrcpts)
			add_str(o, "recipient", c->rcpts[0].addr, &tmp);
		add_fields(o, c, &tmp);
		cJSON_AddItemToArray(arr, o);
	}
	cs_buf_free(&tmp);
}

static void print_text(cli_ctx *ctx, const char *file, const cls_class *c)
{
	cs_buf tmp = CS_BUF_INIT;
	const char *kind = cls_kind_name(c->kind);
	size_t i;

	if ((c->kind == CLS_BOUNCE || c->kind == CLS_DELAY) && c->nrcpts) {
		for (i = 0; i < c->nrcpts; i++)
			fprintf(ctx->out, "%-32s %-11s %-36s %-7s %-4s %s\n",
			        file, kind, clean(c->rcpts[i].addr, &tmp),
			        c->rcpts[i].status,
			        c->kind == CLS_DELAY ? "-"
			        : c->rcpts[i].hard   ? "hard"
			                             : "soft",
			        c->rcpts[i].reason);
	} else {
		const char *extra = "";

		if (c->return_date[0])
			extra = c->return_date;
		else if (c->token)
			extra = c->token;
		else if (c->nrcpts)
			extra = c->rcpts[0].addr;
		fprintf(ctx->out, "%-32s %-11s %s\n", file, kind,
		        clean(extra, &tmp));
	}
	cs_buf_free(&tmp);
}

/* --json: a file that could not be classified, in the array. */
static void add_error(cJSON *arr, const char *file, const char *msg)
{
	cs_buf tmp = CS_BUF_INIT;
	cJSON *o = cJSON_CreateObject();

	add_str(o, "file", file, &tmp);
	add_str(o, "error", msg, &tmp);
	cJSON_AddItemToArray(arr, o);
	cs_buf_free(&tmp);
}

static int run_classify(cli_ctx *ctx, const cli_args *a)
{
	cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
	int i, rc = CLI_EXIT_OK;

	for (i = 0; i < a->npos; i++) {
		cs_buf raw = CS_BUF_INIT;
		cs_err err = CS_ERR_INIT;
		cls_class c;

		if (read_capped(a->pos[i], CLS_MAX_SCAN, &raw, &err) != 0) {
			cli_error("classify: %s", err.msg);
			if (arr)
				add_error(arr, a->pos[i], err.msg);
			cs_buf_free(&raw);
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (cls_classify(cs_buf_str(&raw), raw.len, &c, &err) != 0) {
			cli_error("classify: %s: %s", a->pos[i], err.msg);
			if (arr)
				add_error(arr, a->pos[i], err.msg);
			rc = CLI_EXIT_FAIL;
		} else if (arr) {
			add_json(arr, a->pos[i], &c);
		} else {
			print_text(ctx, a->pos[i], &c);
		}
		cls_class_free(&c);
		cs_buf_free(&raw);
	}
	if (arr)
		cli_print_json(ctx, arr);
	fflush(ctx->out);
	return rc;
}

static const char classify_help[] =
    "Reads raw RFC 5322 messages (\"-\" = standard input) and says what\n"
    "each is: bounce, delay, complaint, auto_reply, unsubscribe, reply or\n"
    "other, in that order of precedence.  Nothing is stored; no data\n"
    "directory is needed.\n"
    "\n"
    "Without --json, one aligned line per result: FILE KIND, then for a\n"
    "bounce or delay RECIPIENT STATUS hard|soft REASON (one line per\n"
    "recipient), else the return date, token or complaining recipient.\n"
    "\n"
    "--json prints one array of results, in file order: for a bounce or\n"
    "delay one per\n"
    "recipient {\"file\", \"kind\", \"recipient\", \"status\", \"hard\",\n"
    "\"reason\", \"diagnostic\"}; otherwise {\"file\", \"kind\"} plus\n"
    "\"recipient\" (complaint), \"return_date\" (auto_reply, YYYY-MM-DD),\n"
    "\"token\" (unsubscribe); and, when the message has them,\n"
    "\"message_id\", \"in_reply_to\", \"from\", \"subject\",\n"
    "\"orig_message_id\" (the message a report is about).\n"
    "\n"
    "A file that cannot be read is reported (with --json as {\"file\",\n"
    "\"error\"} in the array) and the others still run; the exit status\n"
    "is then 1.\n"
    "\n"
    "Example:\n"
    "  coldseq classify --json bounce.eml ooo.eml";

const cli_cmd cli_cmds_classify[] = {
    {NULL, "classify", "FILE...", "classify raw messages (bounce, reply, ...)",
     classify_help, 1, -1, CLI_NEEDS_NOTHING, NULL, run_classify},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
