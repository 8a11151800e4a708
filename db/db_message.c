/*
 * db_message.c - every message handed to SMTP.
 *
 * A row is written as 'sending' before DATA, with the Message-ID fixed, so
 * a crash mid-send leaves evidence; the outcome is stored afterwards.  The
 * watcher matches replies and bounces against these rows, and the daily
 * cap and the provider limits (db_limits.c) count them.
 */
#include "db_int.h"

#include <limits.h>
#include <string.h>

/* The names of db_purpose (db.h), in enum order: the database's words
 * (the schema's CHECKs on messages.purpose and outbox.purpose). */
static const char *const purpose_names[] = {"campaign", "warmup", "test"};

DB_ENUM_NAMES(purpose, db_purpose, purpose_names)

db_purpose db_col_purpose(sqlite3_stmt *st, int col)
{
	return (db_purpose)db_col_enum(st, col, purpose_names,
	                               CS_NNAMES(purpose_names));
}

int db_message_add_capped(db *d, const db_message *m, db_caps *caps,
                          bool *refused, cs_err *err)
{
	int rc, attempt;

	*refused = false;
	caps->campaign = caps->total = caps->own = 0;
	caps->lim_over = false;
	caps->lim_left = LLONG_MAX;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_message_count_caps(d, m->inbox_id, m->local_day,
	                                &caps->campaign, &caps->total, err)) !=
	        0 ||
	    (caps->own_quota &&
	     (rc = db_message_count_day(d, m->inbox_id, m->local_day,
	                                m->purpose, &caps->own, err)) != 0))
		goto fail;
	*refused = (caps->cap >= 0 && caps->campaign >= caps->cap) ||
	           (caps->own_quota && caps->own >= caps->quota);
	/* the provider's rolling limits, in the same transaction: no
	 * process can slip a message past them */
	if (!*refused) {
		if ((rc = db_limits_check(d, m, caps, err)) != 0)
			goto fail;
		*refused = caps->lim_over;
	}
	if (!*refused && (rc = db_message_attempt(d, m, &attempt, err)) != 0)
		goto fail;
	if ((rc = db_commit(d, err)) != 0)
		goto fail;
	return 0;
fail:
	db_rollback(d);
	*refused = false;
	return rc;
}

int db_message_set_outcome(db *d, const char *message_id, const char *outcome,
                           int code, const char *reply, int64_t now,
                           cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* the message and its latest attempt agree, or neither changes */
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc =
	         db_prepare(d,
	                    "UPDATE messages SET outcome = ?2, smtp_code = ?3, "
	                    "smtp_reply = ?4, updated_at = ?5 WHERE "
	                    "message_id = ?1",
	                    &st, err)) != 0) {
		db_rollback(d);
		return rc;
	}
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
	if (code > 0)
		sqlite3_bind_int(st, 3, code);
	else
		sqlite3_bind_null(st, 3);
	if (reply && *reply)
		sqlite3_bind_text(st, 4, reply, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the outcome");
	else if (sqlite3_changes(d->h) != 1)
		rc = cs_err_set(err, CS_ENOTFOUND, "no message %s", message_id);
	sqlite3_finalize(st);
	if (rc == 0)
		rc = db_attempt_set_outcome(d, message_id, outcome, code, reply,
		                            now, err);
	if (rc == 0)
		return db_commit(d, err);
	db_rollback(d);
	return rc;
}

int db_message_count_day(db *d, long long inbox_id, const char *local_day,
                         db_purpose purpose, long long *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc =
	         db_prepare(d,
	                    "SELECT count(*) FROM messages WHERE inbox_id = ?1 "
	                    "AND local_day = ?2 AND outcome IN ('sending', "
	                    "'sent', 'uncertain') AND purpose = ?3",
	                    &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, local_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_purpose_name(purpose), -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count messages");
	sqlite3_finalize(st);
	return rc;
}
