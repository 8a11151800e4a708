/*
 * db_template.c - templates and their versions.
 *
 * A template name (unique, case-insensitive) has numbered versions 1, 2,
 * ...; each keeps the file's source as imported.  Versions are never
 * changed or removed here: a campaign keeps the version id it started
 * with, whatever is imported later.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

void db_template_free(db_template *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->source);
	free(t->file);
	memset(t, 0, sizeof *t);
}

#define TV_COLS                                                                \
	"v.id, t.name, v.source, v.file, v.version, (SELECT count(*) FROM "    \
	"template_versions w WHERE w.template_id = t.id), v.has_subject, "     \
	"v.has_html, v.created_at"

static void read_tv(sqlite3_stmt *st, db_template *t, bool source)
{
	memset(t, 0, sizeof *t);
	t->version_id = sqlite3_column_int64(st, 0);
	t->name = db_col_str(st, 1);
	t->source = source ? db_col_str(st, 2) : NULL;
	t->file = db_col_str(st, 3);
	t->version = sqlite3_column_int(st, 4);
	t->nversions = sqlite3_column_int(st, 5);
	t->has_subject = sqlite3_column_int(st, 6) != 0;
	t->has_html = sqlite3_column_int(st, 7) != 0;
	t->created_at = sqlite3_column_int64(st, 8);
}

int db_template_get(db *d, const char *name, int version, db_template *out,
                    cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(d,
	                     "SELECT " TV_COLS
	                     " FROM templates t JOIN template_versions v ON "
	                     "v.template_id = t.id WHERE t.name = ?1 AND "
	                     "(?2 = 0 OR v.version = ?2) ORDER BY v.version "
	                     "DESC LIMIT 1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, version);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_tv(st, out, true);
	else if (s == SQLITE_DONE && version)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "template '%s' has no version %d", name,
		                version);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "no template named '%s' (see 'coldseq template "
		                "list')",
		                name);
	else
		rc = db_fail(d, err, "cannot read templates");
	sqlite3_finalize(st);
	return rc;
}

int db_template_by_version(db *d, long long version_id, db_template *out,
                           cs_err *err)
{
	static const char sql[] =
	    "SELECT " TV_COLS " FROM templates t JOIN template_versions v ON "
	    "v.template_id = t.id WHERE v.id = ?1";
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, version_id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_tv(st, out, true);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND, "no template version %lld",
		                version_id);
	else
		rc = db_fail(d, err, "cannot read templates");
	db_done(st);
	return rc;
}

int db_template_add(db *d, const char *name, const char *source,
                    const char *file, bool has_subject, bool has_html,
                    int64_t now, int *version, bool *unchanged, cs_err *err)
{
	db_template cur;
	sqlite3_stmt *st = NULL;
	long long tid = 0;
	int rc;

	*unchanged = false;
	*version = 0;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	rc = db_template_get(d, name, 0, &cur, NULL);
	if (rc == 0) {
		bool same = cur.source && strcmp(cur.source, source) == 0;

		*version = cur.version;
		db_template_free(&cur);
		if (same) {
			*unchanged = true;
			return db_commit(d, err);
		}
	}
	if ((rc = db_prepare(d,
	                     "INSERT INTO templates(name, created_at) VALUES "
	                     "(?1, ?2) ON CONFLICT(name) DO UPDATE SET name = "
	                     "name RETURNING id",
	                     &st, err)) != 0)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_fail(d, err, "cannot store a template");
		goto fail;
	}
	tid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = db_prepare(d,
	                     "INSERT INTO template_versions(template_id, "
	                     "version, source, file, has_subject, has_html, "
	                     "created_at) VALUES (?1, (SELECT "
	                     "coalesce(max(version), 0) + 1 FROM "
	                     "template_versions WHERE template_id = ?1), ?2, "
	                     "?3, ?4, ?5, ?6) RETURNING version",
	                     &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, tid);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	if (file)
		sqlite3_bind_text(st, 3, file, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, has_subject);
	sqlite3_bind_int(st, 5, has_html);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_fail(d, err, "cannot store a template version");
		goto fail;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = db_commit(d, err)) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

int db_template_list(db *d, db_template **out, size_t *n, cs_err *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, s;

	*out = NULL;
	*n = 0;
	if ((rc = db_prepare(d,
	                     "SELECT " TV_COLS
	                     " FROM templates t JOIN template_versions v ON "
	                     "v.template_id = t.id WHERE v.version = (SELECT "
	                     "max(version) FROM template_versions w WHERE "
	                     "w.template_id = t.id) ORDER BY t.name",
	                     &st, err)) != 0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = cs_xrealloc(*out, cap * sizeof **out);
		}
		read_tv(st, &(*out)[(*n)++], false);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot list templates");
		db_template_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

void db_template_list_free(db_template *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		db_template_free(&list[i]);
	free(list);
}
