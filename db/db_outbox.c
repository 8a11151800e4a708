/*
 * db_outbox.c - outbox rows: queue (with the enrollment, in one
 * transaction), read, checked state moves, and the invariants check.  The
 * life cycle is documented in sequencer/seq_outbox.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- outbox ------------------------------------------------------------ */

/* The names of db_ostate (db_sched.h), in enum order: the database's words
 * (the schema's CHECK on outbox.state). */
static const char *const ostate_names[] = {"queued", "sending", "sent",
                                           "failed", "held"};

DB_ENUM_NAMES(ostate, db_ostate, ostate_names)

#define OUT_COLS                                                               \
	"id, coalesce(enrollment_id, 0), inbox_id, step, variant, attempts, "  \
	"message_id, subject, in_reply_to, refs, state, reason, due_at, "      \
	"created_at, updated_at, purpose, coalesce(warmup_plan_id, 0)"

void db_outbox_free(db_outbox *o)
{
	if (o == NULL)
		return;
	free(o->message_id);
	free(o->subject);
	free(o->in_reply_to);
	free(o->refs);
	free(o->reason);
	memset(o, 0, sizeof *o);
}

static void read_out(sqlite3_stmt *st, db_outbox *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->enrollment_id = sqlite3_column_int64(st, 1);
	o->inbox_id = sqlite3_column_int64(st, 2);
	o->step = sqlite3_column_int(st, 3);
	o->variant = sqlite3_column_int(st, 4);
	o->attempts = sqlite3_column_int(st, 5);
	o->message_id = db_col_str(st, 6);
	o->subject = db_col_str(st, 7);
	o->in_reply_to = db_col_str(st, 8);
	o->refs = db_col_str(st, 9);
	o->state = (db_ostate)db_col_enum(st, 10, ostate_names,
	                                  CS_NNAMES(ostate_names));
	o->reason = db_col_str(st, 11);
	o->due_at = sqlite3_column_int64(st, 12);
	o->created_at = sqlite3_column_int64(st, 13);
	o->updated_at = sqlite3_column_int64(st, 14);
	o->purpose = db_col_purpose(st, 15);
	o->warmup_plan_id = sqlite3_column_int64(st, 16);
}

int db_outbox_queue(db *d, const db_outbox *o, int64_t now, long long *id,
                    cs_err *err)
{
	static const char ins_sql[] =
	    "INSERT INTO outbox(enrollment_id, inbox_id, step, variant, "
	    "message_id, subject, in_reply_to, refs, due_at, created_at, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)";
	static const char enr_sql[] =
	    "UPDATE enrollments SET state = 'queued', inbox_id = ?2, "
	    "updated_at "
	    "= ?4 WHERE id = ?1 AND state = 'active' AND ?3 IS NULL";
	sqlite3_stmt *st;
	long long changed = 0;
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_cached(d, ins_sql, &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, o->enrollment_id);
	sqlite3_bind_int64(st, 2, o->inbox_id);
	sqlite3_bind_int(st, 3, o->step);
	sqlite3_bind_int(st, 4, o->variant);
	sqlite3_bind_text(st, 5, o->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, o->subject, -1, SQLITE_STATIC);
	db_bind_opt(st, 7, o->in_reply_to);
	db_bind_opt(st, 8, o->refs);
	sqlite3_bind_int64(st, 9, o->due_at);
	sqlite3_bind_int64(st, 10, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot queue a message");
		db_done(st);
		goto fail;
	}
	*id = sqlite3_last_insert_rowid(d->h);
	db_done(st);
	if ((rc = db_exec_update(d, enr_sql, o->enrollment_id, o->inbox_id,
	                         NULL, now, &changed, err)) != 0)
		goto fail;
	if (changed != 1) {
		rc = cs_err_set(err, CS_ECONFLICT,
		                "enrollment %lld is no longer active",
		                o->enrollment_id);
		goto fail;
	}
	return db_commit(d, err);
fail:
	db_rollback(d);
	return rc;
}

int db_outbox_add(db *d, const db_outbox *o, int64_t now, long long *id,
                  cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO outbox(purpose, warmup_plan_id, inbox_id, message_id, "
	    "subject, in_reply_to, refs, due_at, created_at, updated_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, db_purpose_name(o->purpose), -1,
	                  SQLITE_STATIC);
	if (o->warmup_plan_id > 0)
		sqlite3_bind_int64(st, 2, o->warmup_plan_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, o->inbox_id);
	sqlite3_bind_text(st, 4, o->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, o->subject ? o->subject : "", -1,
	                  SQLITE_STATIC);
	db_bind_opt(st, 6, o->in_reply_to);
	db_bind_opt(st, 7, o->refs);
	sqlite3_bind_int64(st, 8, o->due_at);
	sqlite3_bind_int64(st, 9, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot queue a message");
	else
		*id = sqlite3_last_insert_rowid(d->h);
	db_done(st);
	return rc;
}

/* One row by id (key NULL) or by Message-ID (key). */
static int one_row(db *d, long long id, const char *key, db_outbox *out,
                   cs_err *err)
{
	static const char by_id[] =
	    "SELECT " OUT_COLS " FROM outbox WHERE id = ?1";
	static const char by_mid[] =
	    "SELECT " OUT_COLS " FROM outbox WHERE message_id = ?1 AND "
	    "purpose = 'campaign'";
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_cached(d, key ? by_mid : by_id, &st, err)) != 0)
		return rc;
	if (key)
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_out(st, out);
	else if (s == SQLITE_DONE && key)
		rc = cs_err_set(err, CS_ENOTFOUND, "no outbox row for %s", key);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND, "no outbox row %lld", id);
	else
		rc = db_fail(d, err, "cannot read the outbox");
	db_done(st);
	return rc;
}

int db_outbox_get(db *d, long long id, db_outbox *out, cs_err *err)
{
	return one_row(d, id, NULL, out, err);
}

/* Step st to the end (its rows read first, fn called after: fn may
 * write the database), then release it (db_done when cached, else
 * finalize). */
static int each_row(db *d, sqlite3_stmt *st, bool cached,
                    int (*fn)(const db_outbox *o, void *arg), void *arg,
                    cs_err *err)
{
	db_outbox *rows = NULL;
	size_t n = 0, i;
	int rc = 0, r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rows = cs_xrealloc(rows, (n + 1) * sizeof *rows);
		read_out(st, &rows[n++]);
	}
	if (r != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the outbox");
	if (cached)
		db_done(st);
	else
		sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = fn(&rows[i], arg);
		db_outbox_free(&rows[i]);
	}
	free(rows);
	return rc;
}

int db_outbox_due(db *d, int64_t now, int limit,
                  int (*fn)(const db_outbox *o, void *arg), void *arg,
                  cs_err *err)
{
	static const char sql[] =
	    "SELECT " OUT_COLS " FROM outbox WHERE state = 'queued' AND due_at "
	    "<= ?1 ORDER BY due_at, id LIMIT ?2";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit);
	return each_row(d, st, true, fn, arg, err);
}

int db_outbox_move(db *d, long long id, db_ostate from, db_ostate to,
                   const char *reason, int64_t due_at, const char *message_id,
                   int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE outbox SET state = ?3, reason = ?4, due_at = CASE WHEN ?5 "
	    ">= 0 THEN ?5 ELSE due_at END, message_id = coalesce(?6, "
	    "message_id), attempts = attempts + (?3 = 'sending'), updated_at "
	    "= ?7 WHERE id = ?1 AND state = ?2";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, db_ostate_name(from), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_ostate_name(to), -1, SQLITE_STATIC);
	db_bind_opt(st, 4, reason);
	sqlite3_bind_int64(st, 5, due_at);
	db_bind_opt(st, 6, message_id);
	sqlite3_bind_int64(st, 7, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the outbox");
	else if (sqlite3_changes(d->h) != 1)
		rc = cs_err_set(err, CS_ECONFLICT,
		                "outbox row %lld is not %s (cannot become %s)",
		                id, db_ostate_name(from), db_ostate_name(to));
	db_done(st);
	return rc;
}

int db_outbox_next(db *d, int64_t *next, bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT due_at FROM outbox WHERE state = 'queued' AND purpose = "
	    "'campaign' ORDER BY due_at LIMIT 1";
	sqlite3_stmt *st;
	int rc;

	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*next = sqlite3_column_int64(st, 0);
		*found = true;
	}
	db_done(st);
	return 0;
}

int db_outbox_list(db *d, db_ostate state,
                   int (*fn)(const db_outbox *o, void *arg), void *arg,
                   cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "SELECT " OUT_COLS
	                     " FROM outbox WHERE state = ?1 ORDER BY id",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, db_ostate_name(state), -1, SQLITE_STATIC);
	return each_row(d, st, false, fn, arg, err);
}

int db_outbox_by_message_id(db *d, const char *message_id, db_outbox *out,
                            cs_err *err)
{
	return one_row(d, 0, message_id, out, err);
}

int db_outbox_count_step(db *d, long long enrollment_id, int step,
                         long long *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM outbox WHERE enrollment_id = ?1 AND step = "
	    "?2";
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, enrollment_id);
	sqlite3_bind_int(st, 2, step);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count a step's messages");
	db_done(st);
	return rc;
}

int db_outbox_check(db *d, int (*fn)(const char *problem, void *arg), void *arg,
                    cs_err *err)
{
	static const char *const checks[] = {
	    /* queued enrollment: exactly one row in flight */
	    "SELECT 'enrollment ' || e.id || ' is queued with ' || "
	    "(SELECT count(*) FROM outbox o WHERE o.enrollment_id = e.id AND "
	    "o.state IN ('queued', 'sending', 'held')) || ' rows in flight' "
	    "FROM enrollments e WHERE e.state = 'queued' AND (SELECT count(*) "
	    "FROM outbox o WHERE o.enrollment_id = e.id AND o.state IN "
	    "('queued', 'sending', 'held')) <> 1",
	    /* a queued row belongs to a queued enrollment */
	    "SELECT 'outbox row ' || o.id || ' is queued but its enrollment "
	    "is ' || e.state FROM outbox o JOIN enrollments e ON e.id = "
	    "o.enrollment_id WHERE o.state = 'queued' AND e.state <> 'queued'",
	    /* handed over: recorded in messages before */
	    "SELECT 'outbox row ' || o.id || ' is ' || o.state || ' without "
	    "a messages row' FROM outbox o WHERE o.state IN ('sending', "
	    "'sent', 'held') AND NOT EXISTS (SELECT 1 FROM messages m WHERE "
	    "m.message_id = o.message_id)",
	    /* never twice */
	    "SELECT 'enrollment ' || enrollment_id || ' step ' || step || ' "
	    "was sent ' || count(*) || ' times' FROM outbox WHERE state = "
	    "'sent' AND purpose = 'campaign' GROUP BY enrollment_id, step "
	    "HAVING count(*) > 1",
	    /* a warmup plan row has at most one message in flight, and is
	     * 'sending' exactly while that one is */
	    "SELECT 'warmup plan row ' || p.id || ' is ' || p.state || ' with "
	    "' || count(o.id) || ' outbox rows sending' FROM warmup_plan p "
	    "LEFT JOIN outbox o ON o.warmup_plan_id = p.id AND o.state = "
	    "'sending' GROUP BY p.id HAVING count(o.id) > 1 OR (count(o.id) = "
	    "1) <> (p.state = 'sending')",
	    /* an active enrollment has nothing in flight */
	    "SELECT 'enrollment ' || e.id || ' is active with outbox row ' || "
	    "o.id || ' ' || o.state FROM enrollments e JOIN outbox o ON "
	    "o.enrollment_id = e.id WHERE e.state = 'active' AND o.state IN "
	    "('queued', 'sending')",
	    NULL};
	int i, rc = 0;

	for (i = 0; checks[i] && rc == 0; i++) {
		sqlite3_stmt *st;

		if ((rc = db_prepare(d, checks[i], &st, err)) != 0)
			break;
		while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
			rc = fn((const char *)sqlite3_column_text(st, 0), arg);
		sqlite3_finalize(st);
	}
	return rc;
}

int db_outbox_inflight(db *d, long long enrollment_id, db_outbox *out,
                       bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT " OUT_COLS " FROM outbox WHERE enrollment_id = ?1 AND "
	    "state IN ('queued', 'sending', 'held') ORDER BY id DESC LIMIT 1";
	sqlite3_stmt *st;
	int rc, s;

	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, enrollment_id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		read_out(st, out);
		*found = true;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the outbox");
	db_done(st);
	return rc;
}

int db_outbox_wake(db *d, const char *which, const char *name,
                   const char *reason_prefix, int64_t now, cs_err *err)
{
	cs_buf sql = CS_BUF_INIT;
	sqlite3_stmt *st;
	int rc;

	cs_buf_printf(&sql,
	              "UPDATE outbox SET due_at = ?3 WHERE state = 'queued' "
	              "AND due_at > ?3 AND substr(coalesce(reason, ''), 1, "
	              "length(?2)) = ?2 AND %s",
	              which);
	if ((rc = db_prepare(d, sql.data, &st, err)) == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, reason_prefix, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot update the outbox");
		sqlite3_finalize(st);
	}
	cs_buf_free(&sql);
	return rc;
}
