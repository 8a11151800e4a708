/*
 * vault_check.c - prove that the loaded vault key is the database's key.
 *
 * At init coldseq seals a fixed text into meta "vault_check".  Opening it
 * with the loaded key tells "wrong key file" apart from "a stored secret
 * was altered", and catches a wrong key before any secret is needed.
 *
 * A `vault rekey` holds the data directory's lock (seq_lock_take) from
 * before it writes KEY.new until after it renames it over KEY.  So KEY.new
 * is only removed (a rekey that died before its commit) or renamed (one
 * that died after it) by a command that holds that lock, shared for the
 * moment of the change, or exclusive (the rekey, the service); a command
 * that cannot take it leaves both files as they are and uses whichever key
 * opens the database.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sequencer/seq.h"

#define CHECK_TEXT "coldseq vault key check v1"

int cli_vault_write_check(db *d, cs_vault *v, cs_err *err)
{
	cs_buf blob = CS_BUF_INIT;
	int rc;

	rc = cs_vault_seal(v, "meta", "value", "vault_check", CHECK_TEXT,
	                   strlen(CHECK_TEXT), &blob, err);
	if (rc == 0)
		rc = db_meta_set(d, "vault_check", blob.data, blob.len, err);
	cs_buf_free(&blob);
	return rc;
}

int cli_vault_check(db *d, cs_vault *v, const char *key_path, cs_err *err)
{
	cs_buf blob = CS_BUF_INIT;
	cs_secret *s = NULL;
	bool found;
	int rc;

	if ((rc = db_meta_get(d, "vault_check", &blob, &found, err)) != 0)
		goto out;
	if (!found) {
		rc =
		    cs_err_set(err, CS_ECRYPTO,
		               "database %s has no vault key check: it was not "
		               "made by 'coldseq init'",
		               db_path(d));
		goto out;
	}
	rc = cs_vault_open(v, "meta", "value", "vault_check", blob.data,
	                   blob.len, &s, NULL);
	if (rc != 0 || cs_secret_len(s) != strlen(CHECK_TEXT) ||
	    memcmp(cs_secret_value(s), CHECK_TEXT, strlen(CHECK_TEXT)) != 0)
		rc = cs_err_set(err, CS_ECRYPTO,
		                "vault key %s does not belong to database %s: "
		                "give the right key with --key-file or "
		                "COLDSEQ_KEY_FILE",
		                key_path, db_path(d));
out:
	cs_secret_free(s);
	cs_buf_free(&blob);
	return rc;
}

/* Try key file path against the database's check value. */
static int try_key(db *d, const char *path, cs_vault **out)
{
	cs_vault *v = NULL;

	*out = NULL;
	if (cs_vault_load(path, &v, NULL) != 0)
		return -1;
	if (cli_vault_check(d, v, path, NULL) != 0) {
		cs_vault_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* The data directory of database d (DATA/coldseq.db).  Caller frees. */
static char *data_dir_of(db *d)
{
	char *dir = cs_xstrdup(db_path(d)), *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	return dir;
}

/* locked: the caller holds the data directory's lock exclusively; else
 * the cleanup takes it shared for its moment, or leaves the files. */
static int load_checked(db *d, const char *key_path, bool locked,
                        cs_vault **out, cs_err *err)
{
	char *next = cs_xasprintf("%s.new", key_path), *dir = NULL;
	seq_lock *lk = NULL;
	struct stat st;
	bool have_next = stat(next, &st) == 0, may_change = locked;
	int rc;

	*out = NULL;
	if (have_next && !locked) {
		/* a rekey in progress holds the lock: its KEY.new is not
		 * ours to touch */
		dir = data_dir_of(d);
		may_change =
		    seq_lock_take(dir, SEQ_LOCK_SHARED, &lk, NULL, NULL) == 0;
		free(dir);
	}
	rc = cs_vault_load(key_path, out, err);
	if (rc == 0)
		rc = cli_vault_check(d, *out, key_path, err);
	if (rc == 0) {
		if (have_next && may_change) {
			/* A rekey died before its commit: the new key was never
			 * used. */
			cs_log_warn("removing %s left by an interrupted vault "
			            "rekey (never used)",
			            next);
			unlink(next);
		}
		goto out;
	}
	cs_vault_free(*out);
	*out = NULL;
	if (have_next && try_key(d, next, out) == 0) {
		cs_err_clear(err);
		rc = 0;
		/* A rekey committed and has not renamed its key yet: it is
		 * at it now (it holds the lock), or it died (finish it). */
		if (!may_change)
			goto out;
		if (rename(next, key_path) != 0) {
			rc = cs_err_set(
			    err, CS_EIO,
			    "an interrupted vault rekey left the current "
			    "key in %s and it cannot be moved to %s: %s",
			    next, key_path, strerror(errno));
			cs_vault_free(*out);
			*out = NULL;
			goto out;
		}
		cs_log_warn(
		    "finished an interrupted vault rekey: %s is now the "
		    "key",
		    key_path);
	}
out:
	seq_lock_release(lk);
	free(next);
	return rc;
}

int cli_vault_load_checked(db *d, const char *key_path, cs_vault **out,
                           cs_err *err)
{
	return load_checked(d, key_path, false, out, err);
}

int cli_vault_load_locked(db *d, const char *key_path, cs_vault **out,
                          cs_err *err)
{
	return load_checked(d, key_path, true, out, err);
}
