/*
 * ctx.c - the context a command runs in: data directory, database, vault,
 * and the output helpers every command uses.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

char *cli_default_data_dir(const char *flag, cs_err *err)
{
	const char *e;

	if (flag && *flag)
		return cs_xstrdup(flag);
	if ((e = getenv("COLDSEQ_HOME")) && *e)
		return cs_xstrdup(e);
	if ((e = getenv("XDG_DATA_HOME")) && *e == '/')
		return cs_xasprintf("%s/coldseq", e);
	if ((e = getenv("HOME")) && *e)
		return cs_xasprintf("%s/.local/share/coldseq", e);
	cs_err_set(err, CS_EINVAL,
	           "no data directory: give --data-dir DIR or set COLDSEQ_HOME "
	           "(HOME is not set)");
	return NULL;
}

char *cli_key_path(cli_ctx *ctx, bool *recorded)
{
	const char *e;

	if (recorded)
		*recorded = false;
	if (ctx->args->key_file && *ctx->args->key_file)
		return cs_xstrdup(ctx->args->key_file);
	if ((e = getenv("COLDSEQ_KEY_FILE")) && *e)
		return cs_xstrdup(e);
	if (ctx->db) {
		cs_buf b = CS_BUF_INIT;
		bool found = false;

		if (db_meta_get(ctx->db, "vault_key_path", &b, &found, NULL) ==
		        0 &&
		    found && b.len > 0) {
			if (recorded)
				*recorded = true;
			return cs_buf_detach(&b, NULL);
		}
		cs_buf_free(&b);
	}
	return cs_xasprintf("%s/vault.key", ctx->data_dir);
}

/* Why the data directory or its database cannot be used, as a sentence
 * naming the path: permission, not a directory, or not initialised. */
static int data_dir_error(cli_ctx *ctx, const char *path, int e, cs_err *err)
{
	if (e == EACCES || e == EPERM)
		return cs_err_set(err, CS_EIO,
		                  "cannot use %s: permission denied (run "
		                  "coldseq as the user that owns the data "
		                  "directory, or give another --data-dir)",
		                  path);
	if (e == ENOTDIR)
		return cs_err_set(err, CS_EINVAL,
		                  "cannot use %s as the data directory: not a "
		                  "directory",
		                  ctx->data_dir);
	if (e != ENOENT)
		return cs_err_set(err, CS_EIO, "cannot use %s: %s", path,
		                  strerror(e));
	return cs_err_set(err, CS_ENOTFOUND,
	                  "no coldseq data at %s: run 'coldseq init%s%s' "
	                  "first",
	                  ctx->data_dir,
	                  ctx->args->data_dir ? " --data-dir " : "",
	                  ctx->args->data_dir ? ctx->args->data_dir : "");
}

int cli_ctx_open(cli_ctx *ctx, int needs, cs_err *err)
{
	struct stat st;
	const char *deny;
	int rc;

	if (needs == CLI_NEEDS_NOTHING)
		return 0;
	ctx->data_dir = cli_default_data_dir(ctx->args->data_dir, err);
	if (ctx->data_dir == NULL)
		return CS_EINVAL;
	ctx->db_path = cs_xasprintf("%s/coldseq.db", ctx->data_dir);
	if (stat(ctx->data_dir, &st) != 0)
		return data_dir_error(ctx, ctx->data_dir, errno, err);
	if (!S_ISDIR(st.st_mode))
		return data_dir_error(ctx, ctx->data_dir, ENOTDIR, err);
	if (stat(ctx->db_path, &st) != 0) {
		int e = errno;

		/* EACCES here: the directory may not be searched */
		return data_dir_error(
		    ctx, e == EACCES ? ctx->data_dir : ctx->db_path, e, err);
	}
	/* SQLite would open a file it may only read and fail later with
	 * "readonly database"; say what is wrong now */
	deny = access(ctx->db_path, R_OK | W_OK) != 0           ? ctx->db_path
	       : access(ctx->data_dir, R_OK | W_OK | X_OK) != 0 ? ctx->data_dir
	                                                        : NULL;
	if (deny)
		return data_dir_error(ctx, deny, errno, err);
	if ((rc = db_open(ctx->db_path, 0, &ctx->db, err)) != 0)
		return rc;
	if (needs != CLI_NEEDS_VAULT)
		return 0;
	ctx->key_path = cli_key_path(ctx, NULL);
	return cli_vault_load_checked(ctx->db, ctx->key_path, &ctx->vault, err);
}

void cli_ctx_drop(cli_ctx *ctx)
{
	db_close(ctx->db);
	cs_vault_free(ctx->vault);
	ctx->db = NULL;
	ctx->vault = NULL;
}

int cli_ctx_reopen_locked(cli_ctx *ctx, cs_err *err)
{
	int rc;

	cli_ctx_drop(ctx);
	/* the service: checked whole once, however large (db_open) */
	if ((rc = db_open(ctx->db_path, DB_OPEN_FULL_CHECK, &ctx->db, err)) !=
	    0)
		return rc;
	return cli_vault_load_locked(ctx->db, ctx->key_path, &ctx->vault, err);
}

void cli_ctx_close(cli_ctx *ctx)
{
	db_close(ctx->db);
	cs_vault_free(ctx->vault);
	free(ctx->data_dir);
	free(ctx->db_path);
	free(ctx->key_path);
	ctx->db = NULL;
	ctx->vault = NULL;
	ctx->data_dir = ctx->db_path = ctx->key_path = NULL;
}

/* What --json's one-document rule needs to know at the end of a run
 * (cli_json_finish): how many documents the command printed, and the
 * errors it reported (redacted, one per line).  One command per process. */
static int json_docs;
static cs_buf json_errors = CS_BUF_INIT;

void cli_print_json(cli_ctx *ctx, void *cjson)
{
	char *s = cJSON_PrintUnformatted(cjson);
	cs_buf red = CS_BUF_INIT;

	if (s == NULL)
		cs_fatal("cannot format JSON output");
	cs_redact(s, strlen(s), &red);
	cs_buf_putc(&red, '\n');
	fwrite(red.data, 1, red.len, ctx->out);
	fflush(ctx->out);
	json_docs++;
	cJSON_free(s);
	cJSON_Delete(cjson);
	cs_buf_free(&red);
}

/* The most bytes of one value cli_text shows: a DNS record or a name
 * from the network can be 64 KB; a line of a terminal cannot. */
#define CLI_TEXT_MAX 300

const char *cli_text(cs_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0, max = n > CLI_TEXT_MAX ? CLI_TEXT_MAX : n;
	size_t i = 0, k;
	uint32_t cp;

	cs_buf_clear(b);
	while (i < max) {
		k = cs_utf8_seq(s + i, max - i, &cp);
		if (k == 0) { /* no valid UTF-8: the byte, escaped */
			cs_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
			k = 1;
		} else if (cp >= 0x80 && cp <= 0x9f) /* C1: CSI is one */
			cs_buf_printf(b, "\\u%04x", (unsigned)cp);
		else
			cs_escape_ctl(s + i, k, false, b);
		i += k;
	}
	if (n > max)
		cs_buf_puts(b, "...");
	return cs_buf_str(b);
}

void cli_error(const char *fmt, ...)
{
	cs_buf raw = CS_BUF_INIT, red = CS_BUF_INIT, safe = CS_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cs_buf_vprintf(&raw, fmt, ap);
	va_end(ap);
	cs_redact(raw.data, raw.len, &red);
	cs_escape_ctl(red.data, red.len, true, &safe);
	fprintf(stderr, "coldseq: %s\n", cs_buf_str(&safe));
	cs_buf_free(&safe);
	if (json_errors.len)
		cs_buf_putc(&json_errors, '\n');
	cs_buf_append(&json_errors, cs_buf_str(&red), red.len);
	cs_buf_wipe(&raw);
	cs_buf_free(&red);
}

void cli_json_finish(FILE *out, int status)
{
	if (status != CLI_EXIT_OK && json_docs == 0) {
		cJSON *o = cJSON_CreateObject();
		char *s;

		cJSON_AddStringToObject(o, "error",
		                        json_errors.len
		                            ? cs_buf_str(&json_errors)
		                            : "the command failed");
		cJSON_AddNumberToObject(o, "exit", status);
		if ((s = cJSON_PrintUnformatted(o)) == NULL)
			cs_fatal("cannot format JSON output");
		fprintf(out, "%s\n", s); /* already redacted */
		fflush(out);
		cJSON_free(s);
		cJSON_Delete(o);
	}
	cs_buf_free(&json_errors);
}
