/*
 * db_sealed.c - every vault blob stored in the database, by place.
 *
 * The list of sealed columns lives here so that vault re-keying and status
 * cannot forget one: a later issue that adds a sealed column adds it to
 * `columns` below.  Sealed values in meta (the unsubscribe key, secret
 * settings) are listed by key; meta "vault_check" is not: re-keying
 * writes it itself.
 */
#include "db_int.h"

#include <string.h>

typedef struct sealed_col {
	const char *table, *column, *keycol;
	const char *select_sql, *update_sql, *count_sql;
} sealed_col;

static const sealed_col columns[] = {
    {"inboxes", "secret", "uuid",
     "SELECT uuid, secret FROM inboxes WHERE secret IS NOT NULL ORDER BY id",
     "UPDATE inboxes SET secret = ?1 WHERE uuid = ?2",
     "SELECT count(*) FROM inboxes WHERE secret IS NOT NULL"},
    /* bound to the inbox's uuid: stable, unlike the rowid */
    {"oauth_tokens", "refresh_token", "uuid",
     "SELECT i.uuid, t.refresh_token FROM oauth_tokens t JOIN inboxes i ON "
     "i.id = t.inbox_id ORDER BY t.inbox_id",
     "UPDATE oauth_tokens SET refresh_token = ?1 WHERE inbox_id = (SELECT "
     "id FROM inboxes WHERE uuid = ?2)",
     "SELECT count(*) FROM oauth_tokens"},
    {"meta", "value", "key",
     "SELECT key, value FROM meta WHERE key = 'unsub_key' OR key LIKE "
     "'" DB_CFG_SEALED_PREFIX "%' ORDER BY key",
     "UPDATE meta SET value = ?1 WHERE key = ?2",
     "SELECT count(*) FROM meta WHERE key = 'unsub_key' OR key LIKE "
     "'" DB_CFG_SEALED_PREFIX "%'"},
};

#define NCOLS (sizeof columns / sizeof columns[0])

int db_sealed_foreach(db *d, int (*fn)(const db_sealed *s, void *arg),
                      void *arg, cs_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < NCOLS && rc == 0; i++) {
		sqlite3_stmt *st;
		int s;

		if ((rc = db_prepare(d, columns[i].select_sql, &st, err)) != 0)
			return rc;
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			db_sealed v;

			v.table = columns[i].table;
			v.column = columns[i].column;
			v.rowkey = (const char *)sqlite3_column_text(st, 0);
			v.blob = sqlite3_column_blob(st, 1);
			v.len = (size_t)sqlite3_column_bytes(st, 1);
			if ((rc = fn(&v, arg)) != 0)
				break;
		}
		if (rc == 0 && s != SQLITE_DONE)
			rc = db_fail(d, err, "cannot read sealed values");
		sqlite3_finalize(st);
	}
	return rc;
}

int db_sealed_update(db *d, const db_sealed *v, cs_err *err)
{
	size_t i;

	for (i = 0; i < NCOLS; i++) {
		sqlite3_stmt *st;
		int rc;

		if (strcmp(columns[i].table, v->table) != 0 ||
		    strcmp(columns[i].column, v->column) != 0)
			continue;
		if ((rc = db_prepare(d, columns[i].update_sql, &st, err)) != 0)
			return rc;
		sqlite3_bind_blob(st, 1, v->blob, (int)v->len, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v->rowkey, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot update a sealed value");
		else if (sqlite3_changes(d->h) != 1)
			rc = cs_err_set(err, CS_ENOTFOUND,
			                "no %s row with key %s", v->table,
			                v->rowkey);
		sqlite3_finalize(st);
		return rc;
	}
	return cs_err_set(err, CS_EINVAL, "%s.%s is not a sealed column",
	                  v->table, v->column);
}

int db_sealed_count(db *d, long long *out, cs_err *err)
{
	size_t i;

	*out = 0;
	for (i = 0; i < NCOLS; i++) {
		sqlite3_stmt *st;
		int rc;

		if ((rc = db_prepare(d, columns[i].count_sql, &st, err)) != 0)
			return rc;
		if (sqlite3_step(st) == SQLITE_ROW)
			*out += sqlite3_column_int64(st, 0);
		else
			rc = db_fail(d, err, "cannot count sealed values");
		sqlite3_finalize(st);
		if (rc)
			return rc;
	}
	return 0;
}
