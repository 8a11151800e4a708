/*
 * db_int.h - declarations shared by the files of db/ only.
 */
#ifndef COLDSEQ_DB_INT_H
#define COLDSEQ_DB_INT_H

#include <sqlite3.h>

#include "db/db.h"

struct db {
	sqlite3 *h;
	char *path;
	int depth; /* nested db_begin calls: savepoints inside the outermost */
};

/* Fill err from the handle's last error, with context; returns CS_EDB. */
int db_fail(db *d, cs_err *err, const char *what);
/* Prepare sql or fail with err; the caller finalizes. */
int db_prepare(db *d, const char *sql, sqlite3_stmt **st, cs_err *err);
/* The built-in migration list. */
const db_migration *db_builtin_migrations(size_t *n);

#endif
