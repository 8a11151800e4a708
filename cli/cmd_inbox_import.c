/*
 * cmd_inbox_import.c - `coldseq inbox import FILE.csv`: many inboxes at
 * once.
 *
 * The header row names the columns like the options of `inbox add`
 * (name, email, smtp, imap, smtp-tls, imap-tls, user, password, ca-file,
 * insecure-tls, display-name, signature-file, timezone, daily-cap,
 * sent-copy, tags, provider, auth, limits, trial, tenant, hard-cap; '_'
 * works for '-').  OAuth2 rows
 * (google or microsoft, no password) are stored pending.  Each row is
 * validated on its own with the same rules as `inbox add`; a bad row is
 * reported with its line and reason and skipped.  All good rows are stored
 * in one transaction, each inside its own savepoint, so no inbox is ever
 * half-stored and an interrupted import stores nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

static const char *const columns[] = {
    "name",         "email",          "smtp",     "imap",      "smtp-tls",
    "imap-tls",     "user",           "password", "ca-file",   "insecure-tls",
    "display-name", "signature-file", "timezone", "daily-cap", "sent-copy",
    "tags",         "provider",       "auth",     "limits",    "trial",
    "tenant",       "hard-cap",       NULL};

#define MAXCOLS 64

typedef struct import {
	cli_ctx *ctx;
	const char *path;
	int col[MAXCOLS]; /* index into columns[] per CSV column, -1 none */
	size_t ncols;
	bool have_header;
	long long cap_default;
	long long imported, rejected, pending;
	cJSON *rejects;
	/* names and emails seen in the file, lower-cased, '\n'-separated */
	cs_buf seen;
	cs_err *err;
} import;

static int header(import *im, const cs_csv_row *r)
{
	size_t i, k;
	bool have[sizeof columns / sizeof columns[0]] = {false};

	if (r->n > MAXCOLS)
		return cs_err_set(im->err, CS_EINVAL,
		                  "%s:%zu: more than %d columns", im->path,
		                  r->line, MAXCOLS);
	for (i = 0; i < r->n; i++) {
		char name[64] = "";
		size_t n = 0;
		const char *p = r->fields[i];

		while (isspace((unsigned char)*p))
			p++;
		for (; *p && n < sizeof name - 1; p++)
			name[n++] =
			    *p == '_' ? '-' : (char)tolower((unsigned char)*p);
		while (n && isspace((unsigned char)name[n - 1]))
			n--;
		name[n] = '\0';
		if (strcmp(name, "tag") == 0)
			strcpy(name, "tags");
		im->col[i] = -1;
		for (k = 0; columns[k]; k++)
			if (strcmp(columns[k], name) == 0)
				im->col[i] = (int)k;
		if (im->col[i] < 0)
			return cs_err_set(
			    im->err, CS_EINVAL,
			    "%s:%zu: unknown column \"%s\" (columns "
			    "are named like the options of 'inbox "
			    "add', e.g. name, email, smtp, imap, "
			    "password)",
			    im->path, r->line, r->fields[i]);
		have[im->col[i]] = true;
	}
	im->ncols = r->n;
	/* name and email; smtp and imap may come from a provider preset */
	for (k = 0; k < 2; k++)
		if (!have[k])
			return cs_err_set(
			    im->err, CS_EINVAL,
			    "%s:%zu: the header has no \"%s\" column", im->path,
			    r->line, columns[k]);
	im->have_header = true;
	return 0;
}

static void reject(import *im, size_t line, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	im->rejected++;
	cJSON_AddNumberToObject(o, "line", (double)line);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddItemToArray(im->rejects, o);
	if (!im->ctx->args->json)
		cli_error("%s:%zu: %s", im->path, line, reason);
}

/* True when (kind, v) was already seen in this file; remembers it.
 * seen holds "\nkind:value\n" entries (starting with "\n"). */
static bool seen_before(import *im, const char *kind, const char *v)
{
	cs_buf k = CS_BUF_INIT;
	const char *p;
	bool hit;

	cs_buf_printf(&k, "\n%s:", kind);
	for (p = v; *p; p++)
		cs_buf_putc(&k, (char)tolower((unsigned char)*p));
	cs_buf_putc(&k, '\n');
	hit = strstr(cs_buf_str(&im->seen), k.data) != NULL;
	if (!hit)
		cs_buf_append(&im->seen, k.data + 1, k.len - 1);
	cs_buf_free(&k);
	return hit;
}

static int row(const cs_csv_row *r, void *arg)
{
	import *im = arg;
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	cs_buf blob = CS_BUF_INIT;
	const char *password = NULL;
	bool auth_password = false; /* the row says auth=password */
	char uuid[37], reason[600];
	size_t i;
	bool empty = true;

	if (!im->have_header)
		return header(im, r);
	for (i = 0; i < r->n; i++)
		if (r->fields[i][0])
			empty = false;
	if (empty)
		return 0; /* blank line */
	memset(&in, 0, sizeof in);
	in.daily_cap = (int)im->cap_default;
	if (r->n != im->ncols) {
		snprintf(reason, sizeof reason,
		         "has %zu fields, the header has %zu", r->n, im->ncols);
		goto bad;
	}
	for (i = 0; i < r->n; i++) {
		const char *col = columns[im->col[i]], *v = r->fields[i];

		if (*v == '\0')
			continue;
		if (strcmp(col, "password") == 0) {
			password = v;
		} else if (strcmp(col, "insecure-tls") == 0) {
			if (strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0 ||
			    strcasecmp(v, "true") == 0)
				in.insecure_tls = true;
			else if (strcasecmp(v, "no") != 0 &&
			         strcmp(v, "0") != 0 &&
			         strcasecmp(v, "false") != 0) {
				snprintf(
				    reason, sizeof reason,
				    "insecure-tls: \"%s\" is not yes or no", v);
				goto bad;
			}
		} else if (strcmp(col, "limits") == 0) {
			/* NAME=N pairs, as --limit takes them, separated by
			 * ";", "," or spaces */
			char *copy = cs_xstrdup(v), *save = NULL, *t;

			for (t = strtok_r(copy, ";, ", &save); t;
			     t = strtok_r(NULL, ";, ", &save))
				if (cli_inbox_field(&in, "limit", t, &err) != 0)
					break;
			free(copy);
			if (err.code)
				goto bad_err;
		} else if (strcmp(col, "tags") == 0) {
			char *copy = cs_xstrdup(v), *save = NULL, *t;

			for (t = strtok_r(copy, ";, ", &save); t;
			     t = strtok_r(NULL, ";, ", &save))
				if (cli_inbox_field(&in, "tag", t, &err) != 0)
					break;
			free(copy);
			if (err.code)
				goto bad_err;
		} else if (cli_inbox_field(&in, col, v, &err) != 0) {
			goto bad_err;
		} else if (strcmp(col, "auth") == 0) {
			auth_password = in.auth == DB_AUTH_PASSWORD;
		}
	}
	/* An OAuth row (issue 12): google or microsoft without a password
	 * (and not auth=password) is stored pending, on the provider's
	 * servers unless the row names others; 'inbox connect --pending'
	 * signs it in. */
	if (password == NULL && in.provider != CS_PROVIDER_GENERIC &&
	    !auth_password) {
		if (cli_inbox_field(&in, "auth", "oauth2", &err) != 0)
			goto bad_err;
		in.auth_state = DB_AUTH_PENDING;
		cli_inbox_preset(&in);
	}
	if (cli_inbox_finish(&in, &err) != 0)
		goto bad_err;
	if (seen_before(im, "name", in.name)) {
		snprintf(reason, sizeof reason,
		         "inbox name \"%s\" appears twice in the file",
		         in.name);
		goto bad;
	}
	if (seen_before(im, "email", in.email)) {
		snprintf(reason, sizeof reason,
		         "email %s appears twice in the file", in.email);
		goto bad;
	}
	cli_uuid_v4(uuid);
	in.uuid = cs_xstrdup(uuid);
	if (password) {
		cs_secret *s = cs_secret_new(password, strlen(password));
		int rc = cs_vault_seal(im->ctx->vault, "inboxes", "secret",
		                       uuid, cs_secret_value(s),
		                       cs_secret_len(s), &blob, &err);

		cs_secret_free(s);
		if (rc != 0)
			goto bad_err;
	}
	if (db_inbox_add(im->ctx->db, &in, blob.len ? blob.data : NULL,
	                 blob.len, &err) != 0) {
		if (err.code != CS_EEXIST) {
			/* the database failed: stop, store nothing */
			*im->err = err;
			db_inbox_free(&in);
			cs_buf_free(&blob);
			return err.code;
		}
		goto bad_err;
	}
	im->imported++;
	if (in.auth_state == DB_AUTH_PENDING)
		im->pending++;
	db_inbox_free(&in);
	cs_buf_free(&blob);
	return 0;
bad_err:
	snprintf(reason, sizeof reason, "%s", err.msg);
bad:
	reject(im, r->line, reason);
	db_inbox_free(&in);
	cs_buf_free(&blob);
	return 0;
}

static int run_import(cli_ctx *ctx, const cli_args *a)
{
import im;
	cs_err err = CS_ERR_INIT;
	bool dry = cli_opt_flag(a, "dry-run");
	int rc;

	memset(&im, 0, sizeof im);
	im.ctx = ctx;
	im.path = a->pos[0];
	im.err = &err;
	im.rejects = cJSON_CreateArray();
	im.cap_default = 30;
	cs_buf_putc(&im.seen, '\n');
	if (db_config_get_int(ctx->db, "inbox.daily_cap", &im.cap_default,
	                      &err) != 0 ||
	    db_begin(ctx->db, &err) != 0) {
		cli_error("inbox import: %s", err.msg);
		cJSON_Delete(im.rejects);
		return CLI_EXIT_FAIL;
	}
	rc = cs_csv_foreach(im.path, ',', row, &im, &err);
	if (rc == 0 && !im.have_header)
		rc = cs_err_set(&err, CS_EINVAL, "%s is empty", im.path);
	if (rc == 0 && !dry)
		rc = db_commit(ctx->db, &err);
	if (rc != 0 || dry)
		db_rollback(ctx->db);
	if (rc != 0) {
		cli_error("inbox import: %s; nothing was stored", err.msg);
		cJSON_Delete(im.rejects);
		cs_buf_free(&im.seen);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "imported", (double)im.imported);
		cJSON_AddNumberToObject(o, "rejected", (double)im.rejected);
		cJSON_AddNumberToObject(o, "pending", (double)im.pending);
		cJSON_AddBoolToObject(o, "dry_run", dry);
		cJSON_AddItemToObject(o, "rejects", im.rejects);
		im.rejects = NULL;
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out, "%s %lld inbox(es), rejected %lld%s\n",
		        dry ? "Would import" : "Imported", im.imported,
		        im.rejected, im.rejected ? " (reasons above)" : "");
		if (im.pending)
			fprintf(ctx->out,
			        "%lld of them wait for an OAuth2 sign-in: run "
			        "'coldseq inbox connect --pending'\n",
			        im.pending);
	}
	cJSON_Delete(im.rejects);
	cs_buf_free(&im.seen);
	return CLI_EXIT_OK;
}

static const cli_opt import_opts[] = {
    {"dry-run", 0, NULL, false, "check every row, store nothing"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_inbox_import[] = {
    {"inbox", "import", "FILE.csv", "add many inboxes from a CSV file",
     "The header row names the columns like the options of 'inbox add':\n"
     "name, email (required), smtp, imap, smtp-tls, imap-tls, user,\n"
     "password, ca-file, insecure-tls, display-name, signature-file,\n"
     "timezone, daily-cap, sent-copy, tags (separated by ;), provider,\n"
     "auth, limits (NAME=N pairs separated by ;, as --limit), trial (yes\n"
     "or no), tenant, hard-cap.  Each row is checked like 'inbox add'; a bad "
     "row is reported\n"
     "as FILE:LINE: reason and skipped, the good rows are stored together.\n"
     "A row with provider google or microsoft and no password is an OAuth2\n"
     "inbox: stored pending (on the provider's servers unless the row\n"
     "gives smtp and imap) until 'coldseq inbox connect --pending'.\n"
     "Exit 0 when the import completed (even with rejected rows), 1 when\n"
     "nothing was stored.\n\n"
     "--json prints {\"imported\", \"rejected\", \"pending\", \"dry_run\",\n"
     "\"rejects\": [{\"line\", \"reason\"}]}.\n\n"
     "Example:\n  coldseq inbox import inboxes.csv --dry-run",
     1, 1, CLI_NEEDS_VAULT, import_opts, run_import},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
