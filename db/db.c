/*
 * db.c - open a coldseq database, apply migrations, transactions, meta.
 *
 * Migration contract: the version lives in PRAGMA user_version.  Each step
 * runs inside BEGIN IMMEDIATE ... COMMIT together with its user_version
 * update, re-reading the version inside the transaction so two processes
 * that open at once cannot apply a step twice.  A failing step rolls back
 * whole and leaves the file at the previous version.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int db_fail(db *d, cs_err *err, const char *what)
{
	return cs_err_set(err, CS_EDB, "database %s: %s: %s", d->path, what,
	                  sqlite3_errmsg(d->h));
}

int db_prepare(db *d, const char *sql, sqlite3_stmt **st, cs_err *err)
{
	if (sqlite3_prepare_v2(d->h, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(d, err, "cannot prepare a query");
	return 0;
}

static int exec(db *d, const char *sql, cs_err *err, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cs_err_set(err, CS_EDB, "database %s: %s: %s", d->path, what,
		           msg ? msg : sqlite3_errmsg(d->h));
		sqlite3_free(msg);
		return CS_EDB;
	}
	return 0;
}

/* Transactions nest: the outermost is BEGIN IMMEDIATE ... COMMIT, inner
 * ones are savepoints, so a function that needs atomicity can open its own
 * transaction whether or not its caller has one. */
int db_begin(db *d, cs_err *err)
{
	char sql[48];
	int rc;

	if (d->depth == 0)
		rc = exec(d, "BEGIN IMMEDIATE", err,
		          "cannot start a transaction");
	else {
		snprintf(sql, sizeof sql, "SAVEPOINT sp%d", d->depth);
		rc = exec(d, sql, err, "cannot start a savepoint");
	}
	if (rc == 0)
		d->depth++;
	return rc;
}

int db_commit(db *d, cs_err *err)
{
	char sql[48];
	int rc;

	if (d->depth <= 0)
		return cs_err_set(err, CS_EDB, "commit without a transaction");
	if (d->depth == 1) {
		rc = exec(d, "COMMIT", err, "cannot commit");
		if (rc != 0) {
			/* rolled back here: no caller can leave it open (one
			 * that rolls back too finds nothing left to undo) */
			db_rollback(d);
			return rc;
		}
	} else {
		snprintf(sql, sizeof sql, "RELEASE sp%d", d->depth - 1);
		if ((rc = exec(d, sql, err, "cannot release a savepoint")) != 0)
			return rc;
	}
	d->depth--;
	return 0;
}

void db_rollback(db *d)
{
	char sql[64];

	if (d->depth > 1) {
		d->depth--;
		snprintf(sql, sizeof sql, "ROLLBACK TO sp%d; RELEASE sp%d",
		         d->depth, d->depth);
		sqlite3_exec(d->h, sql, NULL, NULL, NULL);
		return;
	}
	d->depth = 0;
	if (!sqlite3_get_autocommit(d->h))
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

int db_schema_version(db *d, int *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "PRAGMA user_version", &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_fail(d, err, "cannot read the schema version");
	} else {
		*out = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

int db_latest_version(void)
{
	size_t n;
	const db_migration *m = db_builtin_migrations(&n);

	return n ? m[n - 1].version : 0;
}

static int newer_error(db *d, int have, int know, cs_err *err)
{
	return cs_err_set(err, CS_EVERSION,
	                  "database %s was written by a newer coldseq (schema "
	                  "version %d; this coldseq knows up to %d): upgrade "
	                  "coldseq; the database was not changed",
	                  d->path, have, know);
}

int db_migrate(db *d, const db_migration *steps, size_t n, cs_err *err)
{
	int cur = 0, rc, know = n ? steps[n - 1].version : 0;
	size_t i;

	if ((rc = db_schema_version(d, &cur, err)) != 0)
		return rc;
	if (cur > know)
		return newer_error(d, cur, know, err);
	for (i = 0; i < n; i++) {
		char pragma[64];

		if (steps[i].version <= cur)
			continue;
		if ((rc = db_begin(d, err)) != 0)
			return rc;
		/* Another process may have migrated while we waited. */
		if ((rc = db_schema_version(d, &cur, err)) != 0)
			goto fail;
		if (cur > know) {
			db_rollback(d);
			return newer_error(d, cur, know, err);
		}
		if (steps[i].version <= cur) {
			db_rollback(d);
			continue;
		}
		if ((rc = exec(d, steps[i].sql, err, "migration failed")) !=
		    0) {
			cs_err_prefix(err,
			              "migration %d (%s) was rolled back; the "
			              "database stays at schema version %d",
			              steps[i].version, steps[i].name, cur);
			goto fail;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
		         steps[i].version);
		if ((rc = exec(d, pragma, err,
		               "cannot set the schema version")) != 0)
			goto fail;
		if ((rc = db_commit(d, err)) != 0)
			goto fail;
		cur = steps[i].version;
	}
	return 0;
fail:
	db_rollback(d);
	return rc;
}

/* One integer from a read-only query; *sqerr the SQLite error code on
 * failure (0 when the query ran). */
static int query_int(db *d, const char *sql, long long *out, int *sqerr)
{
	sqlite3_stmt *st;
	int s;

	*sqerr = 0;
	*out = 0;
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
		*sqerr = sqlite3_errcode(d->h);
		return -1;
	}
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (s != SQLITE_DONE)
		*sqerr = sqlite3_errcode(d->h);
	sqlite3_finalize(st);
	return *sqerr ? -1 : 0;
}

static int damaged(db *d, const char *what, cs_err *err)
{
	return cs_err_set(err, CS_EDB,
	                  "database %s is damaged (%s): coldseq did not "
	                  "change it; restore it from a backup",
	                  d->path, what);
}

/* Is the existing file at d->path a database coldseq made, and whole?
 * Reads only: nothing is written before this says yes.  coldseq's
 * databases carry DB_APPLICATION_ID (migration 14); ones made before
 * that have coldseq's meta table and a schema version. */
static int identify(db *d, long long size, bool walled, bool full, cs_err *err)
{
	long long app = 0, ver = 0, meta = 0;
	int e, know = db_latest_version();
	sqlite3_stmt *st;
	int rc = 0;

	if (query_int(d, "PRAGMA application_id", &app, &e) != 0 ||
	    query_int(d, "PRAGMA user_version", &ver, &e) != 0 ||
	    query_int(d,
	              "SELECT count(*) FROM sqlite_master WHERE type = "
	              "'table' AND name = 'meta'",
	              &meta, &e) != 0) {
		if ((e & 0xff) == SQLITE_NOTADB)
			return cs_err_set(
			    err, CS_EINVAL,
			    "%s is not a coldseq database (not an SQLite "
			    "database at all): coldseq did not change it; "
			    "move it away and run 'coldseq init', or restore "
			    "it from a backup",
			    d->path);
		if ((e & 0xff) == SQLITE_CORRUPT)
			return damaged(d, sqlite3_errmsg(d->h), err);
		return db_fail(d, err, "cannot read");
	}
	if (ver > know)
		return newer_error(d, (int)ver, know, err);
	if (app != DB_APPLICATION_ID && !(app == 0 && meta == 1 && ver > 0))
		return cs_err_set(
		    err, CS_EINVAL,
		    "%s is not a coldseq database (an SQLite database "
		    "another program made: %s): coldseq did not change "
		    "it; give coldseq a data directory of its own",
		    d->path,
		    app ? "a different application id" : "no coldseq tables");
	/* a file cut short (a copy or a disk that ran out): its header
	 * counts more pages than it holds, unless a write-ahead log holds
	 * them */
	if (size > 0 && !walled) {
		long long pages = 0, psize = 0;

		if (query_int(d, "PRAGMA page_count", &pages, &e) != 0 ||
		    query_int(d, "PRAGMA page_size", &psize, &e) != 0)
			return damaged(d, sqlite3_errmsg(d->h), err);
		if (pages * psize > size)
			return damaged(d,
			               "the file holds fewer pages than its "
			               "header counts: cut short",
			               err);
	}
	/* damage in a page nothing above read: quick_check reads every
	 * page, about 3 ms a megabyte, so every command pays it only up to
	 * DB_FULL_CHECK_MAX; a larger database is checked whole when asked
	 * (DB_OPEN_FULL_CHECK: init, the service's start), and any command
	 * that meets a damaged page later reports SQLITE_CORRUPT */
	if (!full && size > DB_FULL_CHECK_MAX)
		return 0;
	if (sqlite3_prepare_v2(d->h, "PRAGMA quick_check", -1, &st, NULL) !=
	    SQLITE_OK)
		return damaged(d, sqlite3_errmsg(d->h), err);
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = damaged(d, sqlite3_errmsg(d->h), err);
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		cs_buf what = CS_BUF_INIT;
		size_t i;

		cs_buf_printf(&what, "SQLite quick_check: %.200s",
		              (const char *)sqlite3_column_text(st, 0));
		for (i = 0; i < what.len; i++)
			if (what.data[i] == '\n')
				what.data[i] = ' ';
		rc = damaged(d, cs_buf_str(&what), err);
		cs_buf_free(&what);
	}
	sqlite3_finalize(st);
	return rc;
}

/* A 0-byte file (with no write-ahead log holding its pages) is no
 * database at all: SQLite would take it for a new, empty one. */
static bool empty_file(const char *path, const struct stat *st)
{
	struct stat wst;
	char *wal;
	bool walled;

	if (st->st_size != 0)
		return false;
	wal = cs_xasprintf("%s-wal", path);
	walled = stat(wal, &wst) == 0 && wst.st_size > 0;
	free(wal);
	return !walled;
}

/* Whether a write-ahead log beside path holds frames (pages the main
 * file does not have yet). */
static bool wal_in_use(const char *path)
{
	struct stat wst;
	char *wal = cs_xasprintf("%s-wal", path);
	bool in_use = stat(wal, &wst) == 0 && wst.st_size > 32;

	free(wal);
	return in_use;
}

bool db_file_is_empty(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       empty_file(path, &st);
}

int db_open(const char *path, int flags, db **out, cs_err *err)
{
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
	struct stat st;
	bool existed = stat(path, &st) == 0;
	db *d;
	int rc;

	*out = NULL;
	if (!existed && !(flags & DB_OPEN_CREATE))
		return cs_err_set(err, CS_ENOTFOUND,
		                  "database %s does not exist", path);
	if (existed && !(flags & DB_OPEN_NO_MIGRATE)) {
		if (!S_ISREG(st.st_mode))
			return cs_err_set(err, CS_EINVAL,
			                  "database %s is not a file", path);
		if (empty_file(path, &st))
			return cs_err_set(
			    err, CS_EINVAL,
			    "database %s is empty (0 bytes), not a coldseq "
			    "database: an interrupted 'coldseq init' leaves "
			    "that; run 'coldseq init' again (it replaces an "
			    "empty file), or restore the file from a backup",
			    path);
	}
	if (flags & DB_OPEN_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	d = cs_xcalloc(1, sizeof *d);
	d->path = cs_xstrdup(path);
	if (sqlite3_open_v2(path, &d->h, oflags, NULL) != SQLITE_OK) {
		rc = d->h ? db_fail(d, err, "cannot open")
		          : cs_err_set(err, CS_EDB, "cannot open database %s",
		                       path);
		db_close(d);
		return rc;
	}
	if (!existed && chmod(path, 0600) != 0) {
		rc = cs_err_set(err, CS_EIO, "cannot set mode 0600 on %s: %s",
		                path, strerror(errno));
		db_close(d);
		return rc;
	}
	sqlite3_extended_result_codes(d->h, 1);
	sqlite3_busy_timeout(d->h, 5000);
	/* before anything writes (journal_mode writes the header) */
	if (existed && !(flags & DB_OPEN_NO_MIGRATE) &&
	    (rc = identify(d, (long long)st.st_size, wal_in_use(path),
	                   (flags & DB_OPEN_FULL_CHECK) != 0, err)) != 0) {
		db_close(d);
		return rc;
	}
	/* FULL: a commit (an outbox row before DATA) survives power loss.
	 * secure_delete: what a change frees is zeroed, so an erased address
	 * (contacts forget) leaves no copy in free space; Debian's SQLite has
	 * it on by default, other builds do not. */
	rc = exec(d,
	          "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	          "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
	          err, "cannot configure");
	if (rc == 0 && !(flags & DB_OPEN_NO_MIGRATE)) {
		size_t n;
		const db_migration *m = db_builtin_migrations(&n);

		rc = db_migrate(d, m, n, err);
	}
	if (rc != 0) {
		db_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

int db_cached(db *d, const char *sql, sqlite3_stmt **st, cs_err *err)
{
	size_t i;

	for (i = 0; i < DB_STMT_CACHE && d->cache[i].sql; i++)
		if (d->cache[i].sql == sql) {
			*st = d->cache[i].st;
			sqlite3_clear_bindings(*st);
			return 0;
		}
	if (i == DB_STMT_CACHE)
		cs_fatal("db statement cache full: raise DB_STMT_CACHE");
	if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	                       NULL) != SQLITE_OK)
		return db_fail(d, err, "cannot prepare a query");
	d->cache[i].sql = sql;
	d->cache[i].st = *st;
	return 0;
}

void db_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
}

char *db_col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? cs_xstrdup((const char *)t) : NULL;
}

void db_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void db_close(db *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < DB_STMT_CACHE && d->cache[i].sql; i++)
		sqlite3_finalize(d->cache[i].st);
	if (d->h)
		sqlite3_close_v2(d->h);
	free(d->path);
	free(d);
}

const char *db_path(const db *d)
{
	return d->path;
}

int db_meta_get(db *d, const char *key, cs_buf *out, bool *found, cs_err *err)
{
	static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
	sqlite3_stmt *st;
	int rc, s;

	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		cs_buf_append(out, sqlite3_column_blob(st, 0),
		              (size_t)sqlite3_column_bytes(st, 0));
		*found = true;
	} else if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read meta");
	}
	db_done(st);
	return rc;
}

int db_meta_set(db *d, const char *key, const void *val, size_t n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "INSERT INTO meta(key, value) VALUES (?1, ?2) "
	                     "ON CONFLICT(key) DO UPDATE SET value = ?2",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, val, (int)n, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot write meta");
	sqlite3_finalize(st);
	return rc;
}

int db_copy(db *d, const char *path, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "VACUUM INTO ?1", &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot copy the database");
	sqlite3_finalize(st);
	return rc;
}
