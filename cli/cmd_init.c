/*
 * cmd_init.c - `coldseq init`: create the data directory, the database and
 * the vault key.
 *
 * Idempotent: when the database exists, init reports that and changes
 * nothing.  Crash-safe: the database is built under a temporary name and
 * renamed into place only when complete, so an interrupted init leaves no
 * half-made database that a later command would take for a real one.
 * An existing file is opened only when it is a coldseq database (db_open
 * refuses any other, unchanged); a 0-byte file holds nothing and is
 * replaced.
 */
#define _XOPEN_SOURCE 700
#include "cli_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static void report(cli_ctx *ctx, bool created, bool key_created,
                   const char *key_path)
{
	if (ctx->args->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "data_dir", ctx->data_dir);
		cJSON_AddStringToObject(o, "database", ctx->db_path);
		cJSON_AddStringToObject(o, "key_file", key_path);
		cJSON_AddBoolToObject(o, "created", created);
		cJSON_AddBoolToObject(o, "key_created", key_created);
		cli_print_json(ctx, o);
		return;
	}
	if (!created) {
		fprintf(ctx->out,
		        "coldseq is already initialised in %s (nothing "
		        "changed)\n",
		        ctx->data_dir);
		return;
	}
	fprintf(ctx->out,
	        "Initialised coldseq in %s\n"
	        "  database:  %s\n"
	        "  vault key: %s%s\n"
	        "Keep a copy of the vault key somewhere safe: without it the "
	        "stored passwords\nand tokens cannot be read.\n",
	        ctx->data_dir, ctx->db_path, key_path,
	        key_created ? "" : " (existing key reused)");
}

/* Make the data directory private; say so when we had to tighten it. */
static int prepare_dir(cli_ctx *ctx, cs_err *err)
{
	struct stat st;
	int rc;

	if ((rc = cs_mkdir_p(ctx->data_dir, 0700, err)) != 0)
		return rc;
	if (stat(ctx->data_dir, &st) != 0)
		return cs_err_set(err, CS_EIO, "cannot stat %s: %s",
		                  ctx->data_dir, strerror(errno));
	if ((st.st_mode & 0777) != 0700) {
		if (chmod(ctx->data_dir, 0700) != 0)
			return cs_err_set(err, CS_EIO,
			                  "cannot set mode 0700 on %s: %s",
			                  ctx->data_dir, strerror(errno));
		cs_log_info("set mode 0700 on %s (was %04o)", ctx->data_dir,
		            (unsigned)(st.st_mode & 0777));
	}
	return 0;
}

static int build_db(cli_ctx *ctx, const char *tmp, cs_vault *v,
                    const char *key_path, bool record_key, cs_err *err)
{
	db *d = NULL;
	int rc;

	unlink(tmp);
	if ((rc = db_open(tmp, DB_OPEN_CREATE, &d, err)) != 0)
		return rc;
	if ((rc = db_begin(d, err)) != 0)
		goto out;
	rc = cli_vault_write_check(d, v, err);
	if (rc == 0 && record_key)
		rc = db_meta_set(d, "vault_key_path", key_path,
		                 strlen(key_path), err);
	if (rc == 0)
		rc = db_commit(d, err);
	else
		db_rollback(d);
out:
	db_close(d);
	(void)ctx;
	return rc;
}

static int run_init(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	struct stat st;
	char *key_path = NULL, *tmp = NULL, real[PATH_MAX];
	bool key_created = false, record_key;
	cs_vault *v = NULL;
	int rc;

	(void)a;
	ctx->data_dir = cli_default_data_dir(ctx->args->data_dir, &err);
	if (ctx->data_dir == NULL)
		goto fail;
	ctx->db_path = cs_xasprintf("%s/coldseq.db", ctx->data_dir);
	if (db_file_is_empty(ctx->db_path)) {
		/* holds nothing: what an init stopped half-way leaves */
		cs_log_info("%s is empty (0 bytes): creating the database "
		            "again",
		            ctx->db_path);
	} else if (stat(ctx->db_path, &st) == 0) {
		/* Already there: check it opens (and is ours), change nothing.
		 */
		if (db_open(ctx->db_path, DB_OPEN_FULL_CHECK, &ctx->db, &err) !=
		    0)
			goto fail;
		key_path = cli_key_path(ctx, NULL);
		report(ctx, false, false, key_path);
		free(key_path);
		return CLI_EXIT_OK;
	}
	if (prepare_dir(ctx, &err) != 0)
		goto fail;
	key_path = cli_key_path(ctx, NULL);
	record_key = ctx->args->key_file || getenv("COLDSEQ_KEY_FILE");
	rc = cs_vault_create_key(key_path, &err);
	if (rc == CS_EEXIST) {
		cs_err_clear(&err);
	} else if (rc != 0) {
		goto fail;
	} else {
		key_created = true;
	}
	if (cs_vault_load(key_path, &v, &err) != 0)
		goto fail;
	if (realpath(key_path, real) != NULL) {
		free(key_path);
		key_path = cs_xstrdup(real);
	}
	tmp = cs_xasprintf("%s.init-tmp", ctx->db_path);
	if (build_db(ctx, tmp, v, key_path, record_key, &err) != 0)
		goto fail_tmp;
	if (rename(tmp, ctx->db_path) != 0) {
		cs_err_set(&err, CS_EIO, "cannot rename %s to %s: %s", tmp,
		           ctx->db_path, strerror(errno));
		goto fail_tmp;
	}
	report(ctx, true, key_created, key_path);
	cs_vault_free(v);
	free(key_path);
	free(tmp);
	return CLI_EXIT_OK;
fail_tmp:
	unlink(tmp);
	if (key_created)
		unlink(key_path);
fail:
	cli_error("init: %s", err.msg);
	cs_vault_free(v);
	free(key_path);
	free(tmp);
	return CLI_EXIT_FAIL;
}

const cli_cmd cli_cmds_init[] = {
    {NULL, "init", NULL,
     "create the data directory, the database and the vault key",
     "Creates DIR (mode 0700), DIR/coldseq.db (0600) and a random 32-byte\n"
     "vault key (0600) that encrypts stored passwords and tokens.  The key\n"
     "is DIR/vault.key unless --key-file or COLDSEQ_KEY_FILE names another\n"
     "place (keep it out of database backups that way); a key already at\n"
     "that place is reused.  Running init again changes nothing.  A\n"
     "coldseq.db that coldseq did not make, or a damaged one, is refused\n"
     "and left as it is; an empty (0-byte) one, as an interrupted init\n"
     "leaves, is replaced.\n"
     "\n"
     "--json prints {\"data_dir\", \"database\", \"key_file\", \"created\",\n"
     "\"key_created\"}.\n"
     "\n"
     "Example:\n"
     "  coldseq init --data-dir /var/lib/coldseq --key-file "
     "/etc/coldseq/vault.key",
     0, 0, CLI_NEEDS_NOTHING, NULL, run_init},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
