/*
 * cmd_vault.c - `coldseq vault status|rekey|rotate` (rotate = rekey).
 *
 * rekey order, so that a crash at any point loses nothing:
 *   1. write the new key to KEY.new (0600, fsync)
 *   2. one transaction: re-seal every secret and the key check under it
 *   3. rename KEY.new over KEY
 * A crash before 2 commits leaves KEY valid (KEY.new is removed on the next
 * open); a crash between 2 and 3 leaves KEY.new valid, and the next open
 * finishes the rename (cli_vault_load_checked).
 *
 * A running service holds the old key in memory: the rekey is refused
 * while one runs, and holds the data directory's lock itself from before
 * step 1 until after step 3 (seq_lock_take, SEQ_LOCK_REKEY), so that no
 * service starts meanwhile and no other command touches KEY.new.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

typedef struct status_acc {
	cs_vault *v;
	long long total, bad;
	cJSON *bad_list;
	cs_buf text;
} status_acc;

static int check_one(const db_sealed *s, void *arg)
{
	status_acc *acc = arg;
	cs_secret *sec = NULL;

	acc->total++;
	if (cs_vault_open(acc->v, s->table, s->column, s->rowkey, s->blob,
	                  s->len, &sec, NULL) != 0) {
		cJSON *o = cJSON_CreateObject();

		acc->bad++;
		cJSON_AddStringToObject(o, "table", s->table);
		cJSON_AddStringToObject(o, "column", s->column);
		cJSON_AddStringToObject(o, "row", s->rowkey);
		cJSON_AddItemToArray(acc->bad_list, o);
		cs_buf_printf(&acc->text, "  unreadable: %s.%s of row %s\n",
		              s->table, s->column, s->rowkey);
	}
	cs_secret_free(sec);
	return 0;
}

static int run_status(cli_ctx *ctx, const cli_args *a)
{
	status_acc acc = {NULL, 0, 0, NULL, CS_BUF_INIT};
	cs_err err = CS_ERR_INIT, kerr = CS_ERR_INIT;
	struct stat st;
	bool recorded, key_ok;
	int rc = CLI_EXIT_OK;

	ctx->key_path = cli_key_path(ctx, &recorded);
	key_ok =
	    cli_vault_load_checked(ctx->db, ctx->key_path, &acc.v, &kerr) == 0;
	acc.bad_list = cJSON_CreateArray();
	if (key_ok && db_sealed_foreach(ctx->db, check_one, &acc, &err) != 0) {
		cli_error("vault status: %s", err.msg);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (!key_ok || acc.bad)
		rc = CLI_EXIT_FAIL;
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "key_file", ctx->key_path);
		if (stat(ctx->key_path, &st) == 0) {
			char mode[8];

			snprintf(mode, sizeof mode, "%04o",
			         (unsigned)(st.st_mode & 07777));
			cJSON_AddStringToObject(o, "key_mode", mode);
		}
		cJSON_AddBoolToObject(o, "key_matches", key_ok);
		if (!key_ok)
			cJSON_AddStringToObject(o, "error", kerr.msg);
		cJSON_AddNumberToObject(o, "secrets", (double)acc.total);
		cJSON_AddItemToObject(o, "unreadable", acc.bad_list);
		acc.bad_list = NULL;
		cli_print_json(ctx, o);
		goto out;
	}
	fprintf(ctx->out, "vault key: %s%s\n", ctx->key_path,
	        recorded ? " (set at init)" : "");
	if (!key_ok) {
		fprintf(ctx->out, "key:       does NOT open this database\n");
		cli_error("vault status: %s", kerr.msg);
		goto out;
	}
	fprintf(ctx->out, "key:       matches the database\n");
	fprintf(ctx->out, "secrets:   %lld stored, %lld unreadable\n",
	        acc.total, acc.bad);
	fputs(cs_buf_str(&acc.text), ctx->out);
	if (acc.bad)
		cli_error(
		    "vault status: %lld stored secret(s) failed "
		    "authentication (altered, moved or damaged): enter them "
		    "again",
		    acc.bad);
out:
	cJSON_Delete(acc.bad_list);
	cs_buf_free(&acc.text);
	cs_vault_free(acc.v);
	return rc;
}

/* One re-sealed value waiting for its UPDATE. */
typedef struct resealed {
	char *table, *column, *rowkey;
	cs_buf blob;
} resealed;

typedef struct rekey_acc {
	cs_vault *old, *new;
	resealed *items;
	size_t n;
	cs_err *err;
} rekey_acc;

static int reseal_one(const db_sealed *s, void *arg)
{
	rekey_acc *acc = arg;
	cs_secret *sec = NULL;
	resealed *r;
	int rc;

	rc = cs_vault_open(acc->old, s->table, s->column, s->rowkey, s->blob,
	                   s->len, &sec, acc->err);
	if (rc != 0)
		return rc;
	acc->items = cs_xrealloc(acc->items, (acc->n + 1) * sizeof *acc->items);
	r = &acc->items[acc->n++];
	memset(r, 0, sizeof *r);
	r->table = cs_xstrdup(s->table);
	r->column = cs_xstrdup(s->column);
	r->rowkey = cs_xstrdup(s->rowkey);
	rc = cs_vault_seal(acc->new, s->table, s->column, s->rowkey,
	                   cs_secret_value(sec), cs_secret_len(sec), &r->blob,
	                   acc->err);
	cs_secret_free(sec);
	return rc;
}

static void fsync_dir_of(const char *path)
{
	char *dir = cs_xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* The data directory's lock for a rekey, and the key read again under
 * it (another rekey may have replaced it since the command started). */
static int lock_for_rekey(cli_ctx *ctx, const char *cmd, seq_lock **lock,
                          cs_err *err)
{
	seq_service_state h;
	int rc;

	rc = seq_lock_take(ctx->data_dir, SEQ_LOCK_REKEY, lock, &h, err);
	if (rc == CS_EEXIST && h.running)
		return cs_err_set(
		    err, CS_EEXIST,
		    "coldseq is running for %s (pid %ld) and holds "
		    "the current key: stop it first ('kill -TERM "
		    "%ld' or 'systemctl stop coldseq'), then %s",
		    ctx->data_dir, h.pid, h.pid, cmd);
	if (rc != 0)
		return rc;
	cs_vault_free(ctx->vault);
	ctx->vault = NULL;
	return cli_vault_load_locked(ctx->db, ctx->key_path, &ctx->vault, err);
}

static int run_rekey(cli_ctx *ctx, const cli_args *a)
{
	const char *cmd = strcmp(a->cmd->name, "rotate") == 0 ? "vault rotate"
	                                                      : "vault rekey";
	cs_err err = CS_ERR_INIT;
	rekey_acc acc = {NULL, NULL, NULL, 0, &err};
	char *next = cs_xasprintf("%s.new", ctx->key_path);
	seq_lock *lock = NULL;
	bool in_tx = false;
	size_t i;
	int rc;

	if ((rc = lock_for_rekey(ctx, cmd, &lock, &err)) != 0)
		goto fail;
	acc.old = ctx->vault;
	if ((rc = cs_vault_create_key(next, &err)) != 0)
		goto fail;
	if ((rc = cs_vault_load(next, &acc.new, &err)) != 0)
		goto fail_key;
	if ((rc = db_begin(ctx->db, &err)) != 0)
		goto fail_key;
	in_tx = true;
	if ((rc = db_sealed_foreach(ctx->db, reseal_one, &acc, &err)) != 0)
		goto fail_key;
	for (i = 0; i < acc.n; i++) {
		db_sealed s = {acc.items[i].table, acc.items[i].column,
		               acc.items[i].rowkey, acc.items[i].blob.data,
		               acc.items[i].blob.len};

		if ((rc = db_sealed_update(ctx->db, &s, &err)) != 0)
			goto fail_key;
	}
	if ((rc = cli_vault_write_check(ctx->db, acc.new, &err)) != 0)
		goto fail_key;
	if ((rc = db_commit(ctx->db, &err)) != 0)
		goto fail_key;
	if (rename(next, ctx->key_path) != 0) {
		cli_error("%s: the secrets are now sealed under %s but it "
		          "cannot be renamed to %s (%s); the next command will "
		          "retry the rename",
		          cmd, next, ctx->key_path, strerror(errno));
		rc = CS_EIO;
		goto out;
	}
	fsync_dir_of(ctx->key_path);
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "key_file", ctx->key_path);
		cJSON_AddNumberToObject(o, "resealed", (double)acc.n);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out,
		        "New vault key in %s; %zu secret(s) re-encrypted.\n"
		        "Replace every copy of the old key with this one.\n",
		        ctx->key_path, acc.n);
	}
	goto out;
fail_key:
	if (in_tx)
		db_rollback(ctx->db);
	unlink(next);
fail:
	cli_error("%s: %s (nothing was changed)", cmd, err.msg);
out:
	seq_lock_release(lock);
	for (i = 0; i < acc.n; i++) {
		free(acc.items[i].table);
		free(acc.items[i].column);
		free(acc.items[i].rowkey);
		cs_buf_free(&acc.items[i].blob);
	}
	free(acc.items);
	cs_vault_free(acc.new);
	free(next);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

const cli_cmd cli_cmds_vault[] = {
    {"vault", "status", NULL,
     "show the key file, check it opens the database and every secret",
     "Exits 1 when the key does not belong to the database or a stored\n"
     "secret fails authentication (altered, moved to another row, damaged).\n"
     "\n"
     "--json prints {\"key_file\", \"key_mode\", \"key_matches\", "
     "\"secrets\",\n\"unreadable\": [{\"table\", \"column\", \"row\"}]}.\n"
     "\n"
     "Example:\n  coldseq vault status",
     0, 0, CLI_NEEDS_DB, NULL, run_status},
    {"vault", "rekey", NULL,
     "make a new vault key and re-encrypt every stored secret under it",
     "All secrets are re-encrypted in one transaction; an interrupted rekey\n"
     "is finished or undone by the next command, so no secret is lost.\n"
     "Copies of the old key no longer open anything afterwards.  Refused\n"
     "while a service runs on the data directory (stop it first); a\n"
     "service cannot start while the rekey runs.\n"
     "\n"
     "--json prints {\"key_file\", \"resealed\"}.\n"
     "\n"
     "Example:\n  coldseq vault rekey",
     0, 0, CLI_NEEDS_VAULT, NULL, run_rekey},
    {"vault", "rotate", NULL,
     "the same as 'vault rekey': a new key, every secret re-encrypted",
     "Every stored secret (passwords, OAuth2 access and refresh tokens,\n"
     "sealed settings) is re-encrypted under a new key in one transaction.\n"
     "Refused while a service runs on the data directory (stop it first).\n"
     "\n"
     "--json prints {\"key_file\", \"resealed\"}.\n"
     "\n"
     "Example:\n  coldseq vault rotate",
     0, 0, CLI_NEEDS_VAULT, NULL, run_rekey},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
