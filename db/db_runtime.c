/*
 * db_runtime.c - what the running service sees of each inbox and the CLI,
 * in another process, cannot: the IMAP watcher's state (its follow-ups
 * wait while it is not synced) and why the inbox's credentials or
 * settings cannot be used to send, each with since when.
 *
 * The service writes a row when a fact changes, never every pass; status
 * and campaign explain read it.  A row carries the pid of the service
 * that wrote it: a reader shows it only when that service still runs.
 * When a service writes a row that another one wrote, the part it did
 * not write is cleared, so nothing of an older run survives as now.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* The names of db_watch_state (db.h), in enum order; none is stored as
 * NULL (the schema's CHECK has the other three). */
static const char *const watch_names[] = {"none", "starting", "ok", "down"};

DB_ENUM_NAMES(watch_state, db_watch_state, watch_names)

void db_runtime_free(db_inbox_runtime *r)
{
	if (r == NULL)
		return;
	free(r->watch_error);
	free(r->send_error);
	memset(r, 0, sizeof *r);
}

int db_runtime_get(db *d, long long inbox_id, db_inbox_runtime *out,
                   bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT pid, watch_state, watch_error, watch_since, send_error, "
	    "send_since FROM inbox_runtime WHERE inbox_id = ?1";
	sqlite3_stmt *st;
	int rc, step;

	memset(out, 0, sizeof *out);
	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*found = true;
		out->inbox_id = inbox_id;
		out->pid = (long)sqlite3_column_int64(st, 0);
		out->watch_state = (db_watch_state)db_col_enum(
		    st, 1, watch_names, CS_NNAMES(watch_names));
		out->watch_error = db_col_str(st, 2);
		out->watch_since = sqlite3_column_int64(st, 3);
		out->send_error = db_col_str(st, 4);
		out->send_since = sqlite3_column_int64(st, 5);
	} else if (step != SQLITE_DONE)
		rc = db_fail(d, err,
		             "cannot read what the service sees of an "
		             "inbox");
	db_done(st);
	return rc;
}

/* One upsert for both halves: ?1 inbox, ?2 pid, ?3 text, ?4 text, ?5
 * since, ?6 now. */
static int upsert(db *d, const char *sql, long long inbox_id, long pid,
                  const char *a, const char *b, int64_t since, int64_t now,
                  cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_int64(st, 2, pid);
	db_bind_opt(st, 3, a);
	db_bind_opt(st, 4, b);
	sqlite3_bind_int64(st, 5, since);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err,
		             "cannot record what the service sees of "
		             "an inbox");
	db_done(st);
	return rc;
}

int db_runtime_set_watch(db *d, long long inbox_id, long pid,
                         db_watch_state state, const char *error, int64_t since,
                         int64_t now, cs_err *err)
{
	/* in DO UPDATE, bare names are the old row's values */
	static const char sql[] =
	    "INSERT INTO inbox_runtime(inbox_id, pid, watch_state, "
	    "watch_error, watch_since, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, "
	    "?6 WHERE EXISTS (SELECT 1 FROM inboxes WHERE id = ?1) "
	    "ON CONFLICT(inbox_id) DO UPDATE SET pid = excluded.pid, "
	    "watch_state = excluded.watch_state, watch_error = "
	    "excluded.watch_error, watch_since = excluded.watch_since, "
	    "send_error = CASE WHEN pid = excluded.pid THEN send_error END, "
	    "send_since = CASE WHEN pid = excluded.pid THEN send_since ELSE 0 "
	    "END, updated_at = excluded.updated_at";

	return upsert(d, sql, inbox_id, pid,
	              state == DB_WATCH_NONE ? NULL
	                                     : db_watch_state_name(state),
	              error, since, now, err);
}

int db_runtime_set_send(db *d, long long inbox_id, long pid, const char *error,
                        int64_t since, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO inbox_runtime(inbox_id, pid, send_error, send_since, "
	    "updated_at) SELECT ?1, ?2, ?3, ?5, ?6 WHERE EXISTS (SELECT 1 FROM "
	    "inboxes WHERE id = ?1) "
	    "ON CONFLICT(inbox_id) DO UPDATE SET pid = excluded.pid, "
	    "send_error = excluded.send_error, send_since = "
	    "excluded.send_since, "
	    "watch_state = CASE WHEN pid = excluded.pid THEN watch_state END, "
	    "watch_error = CASE WHEN pid = excluded.pid THEN watch_error END, "
	    "watch_since = CASE WHEN pid = excluded.pid THEN watch_since ELSE "
	    "0 END, updated_at = excluded.updated_at";

	return upsert(d, sql, inbox_id, pid, error, NULL, since, now, err);
}
