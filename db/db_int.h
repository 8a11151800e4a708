/*
 * db_int.h - declarations shared by the files of db/ only.
 */
#ifndef COLDSEQ_DB_INT_H
#define COLDSEQ_DB_INT_H

#include <sqlite3.h>

#include "db/db.h"

#define DB_STMT_CACHE 48

struct db {
	sqlite3 *h;
	char *path;
	int depth; /* nested db_begin calls: savepoints inside the outermost */
	/* prepared statements of hot queries, keyed by their SQL's address */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[DB_STMT_CACHE];
};

/* Fill err from the handle's last error, with context; returns CS_EDB. */
int db_fail(db *d, cs_err *err, const char *what);
/* Prepare sql or fail with err; the caller finalizes. */
int db_prepare(db *d, const char *sql, sqlite3_stmt **st, cs_err *err);
/* A prepared statement for a static SQL string, kept for reuse: the
 * caller must not finalize it, and must sqlite3_reset it (db_done) after
 * use.  Bindings are cleared on each call. */
int db_cached(db *d, const char *sql, sqlite3_stmt **st, cs_err *err);
void db_done(sqlite3_stmt *st);
/* A copy of text column i, or NULL. */
char *db_col_str(sqlite3_stmt *st, int i);
/* Bind text v, or NULL when v is NULL (SQLITE_STATIC: v must outlive the
 * step). */
void db_bind_opt(sqlite3_stmt *st, int i, const char *v);
/* The built-in migration list. */
const db_migration *db_builtin_migrations(size_t *n);

#endif
