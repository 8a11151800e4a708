/*
 * db_suppress.c - addresses and domains that coldseq never mails again.
 *
 * Values are stored lower-cased; lookups are case-insensitive (the column
 * is COLLATE NOCASE as well).  An address is suppressed when the address
 * itself or its domain is listed.
 */
#include "db_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *lower(const char *s)
{
	char *p = cs_xstrdup(s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

int db_suppress_add(db *d, const char *kind, const char *value,
                    const char *reason, const char *source, int64_t now,
                    bool *added, cs_err *err)
{
	sqlite3_stmt *st;
	char *v = lower(value);
	int rc;

	if (added)
		*added = false;
	if (strcmp(kind, "address") != 0 && strcmp(kind, "domain") != 0) {
		free(v);
		return cs_err_set(err, CS_EINVAL, "bad suppression kind %s",
		                  kind);
	}
	if ((rc = db_prepare(d,
	                     "INSERT INTO suppressions(kind, value, reason, "
	                     "source, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
	                     "ON CONFLICT(kind, value) DO NOTHING",
	                     &st, err)) != 0) {
		free(v);
		return rc;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	if (source)
		sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot add a suppression");
	else if (added)
		*added = sqlite3_changes(d->h) == 1;
	sqlite3_finalize(st);
	free(v);
	return rc;
}

int db_suppress_remove(db *d, const char *kind, const char *value,
                       bool *removed, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "DELETE FROM suppressions WHERE kind = ?1 AND "
	                     "value = ?2",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot remove a suppression");
	else if (removed)
		*removed = sqlite3_changes(d->h) > 0;
	sqlite3_finalize(st);
	return rc;
}

int db_is_suppressed(db *d, const char *email, bool *out, cs_buf *reason,
                     cs_err *err)
{
	static const char sql[] =
	    "SELECT reason FROM suppressions WHERE (kind = "
	    "'address' AND value = ?1) OR (kind = 'domain' AND "
	    "value = ?2) LIMIT 1";
	const char *at = strrchr(email, '@');
	sqlite3_stmt *st;
	int rc, s;

	*out = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, at ? at + 1 : "", -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		*out = true;
		if (reason)
			cs_buf_puts(reason,
			            (const char *)sqlite3_column_text(st, 0));
	} else if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read suppressions");
	}
	db_done(st);
	/* a forgotten person is kept only as a hash: never mail them again */
	if (rc == 0 && !*out &&
	    (rc = db_is_forgotten(d, email, out, err)) == 0 && *out && reason)
		cs_buf_puts(reason, "forgotten (erased at their request)");
	return rc;
}
