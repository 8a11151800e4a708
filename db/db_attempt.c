/*
 * db_attempt.c - attempts at sending a message, and a contact's outbox
 * history.
 *
 * A Message-ID names one message, however often it is tried: an outbox
 * row keeps its Message-ID across a retry after a deferral and a resend
 * after an uncertain end, so a recipient who got the first attempt sees
 * one message.  messages keeps one row per Message-ID (its latest
 * outcome); send_attempts one row per attempt, numbered from 1.  The caps
 * count messages rows plus attempts after the first (db_sched.c).
 *
 * outbox_history records what happened to a contact's outbox rows apart
 * from the SMTP answers: held as unsendable, dropped, retried, resolved.
 */
#include "db_int.h"

#include <string.h>

int db_message_attempt(db *d, const db_message *m, int *attempt, cs_err *err)
{
	/* a message written by an older coldseq has no attempt rows: its
	 * first attempt is its messages row */
	static const char backfill_sql[] =
	    "INSERT OR IGNORE INTO send_attempts(message_id, attempt, "
	    "inbox_id, local_day, started_at, outcome, code, text, "
	    "updated_at) SELECT message_id, 1, inbox_id, local_day, "
	    "created_at, outcome, smtp_code, smtp_reply, updated_at FROM "
	    "messages WHERE message_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
	    "send_attempts WHERE message_id = ?1)";
	static const char msg_sql[] =
	    "INSERT INTO messages(message_id, inbox_id, inbox_email, "
	    "recipient, purpose, subject, created_at, local_day, updated_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7) ON CONFLICT "
	    "(message_id) DO UPDATE SET outcome = 'sending', smtp_code = "
	    "NULL, smtp_reply = NULL, subject = excluded.subject, updated_at "
	    "= excluded.updated_at";
	static const char att_sql[] =
	    "INSERT INTO send_attempts(message_id, attempt, inbox_id, "
	    "local_day, started_at, updated_at) SELECT ?1, "
	    "coalesce(max(attempt), 0) + 1, ?2, ?3, ?4, ?4 FROM send_attempts "
	    "WHERE message_id = ?1 RETURNING attempt";
	sqlite3_stmt *st;
	int rc;

	*attempt = 0;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_cached(d, backfill_sql, &st, err)) != 0)
		goto fail;
	sqlite3_bind_text(st, 1, m->message_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the message's attempts");
	db_done(st);
	if (rc || (rc = db_cached(d, msg_sql, &st, err)) != 0)
		goto fail;
	sqlite3_bind_text(st, 1, m->message_id, -1, SQLITE_STATIC);
	if (m->inbox_id > 0)
		sqlite3_bind_int64(st, 2, m->inbox_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, m->inbox_email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, db_purpose_name(m->purpose), -1,
	                  SQLITE_STATIC);
	db_bind_opt(st, 6, m->subject);
	sqlite3_bind_int64(st, 7, m->created_at);
	sqlite3_bind_text(st, 8, m->local_day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the message");
	db_done(st);
	if (rc || (rc = db_cached(d, att_sql, &st, err)) != 0)
		goto fail;
	sqlite3_bind_text(st, 1, m->message_id, -1, SQLITE_STATIC);
	if (m->inbox_id > 0)
		sqlite3_bind_int64(st, 2, m->inbox_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, m->local_day, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, m->created_at);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*attempt = sqlite3_column_int(st, 0);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot record the attempt");
	} else
		rc = db_fail(d, err, "cannot record the attempt");
	db_done(st);
	if (rc)
		goto fail;
	return db_commit(d, err);
fail:
	db_rollback(d);
	return rc;
}

int db_attempt_set_outcome(db *d, const char *message_id, const char *outcome,
                           int code, const char *reply, int64_t now,
                           cs_err *err)
{
	static const char sql[] =
	    "UPDATE send_attempts SET outcome = ?2, code = ?3, text = ?4, "
	    "updated_at = ?5 WHERE message_id = ?1 AND attempt = (SELECT "
	    "max(attempt) FROM send_attempts WHERE message_id = ?1)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
	if (code > 0)
		sqlite3_bind_int(st, 3, code);
	else
		sqlite3_bind_null(st, 3);
	db_bind_opt(st, 4, reply && *reply ? reply : NULL);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the attempt's outcome");
	db_done(st);
	return rc;
}

int db_attempt_count_later(db *d, long long inbox_id, const char *local_day,
                           long long *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM send_attempts WHERE inbox_id = ?1 AND "
	    "local_day = ?2 AND attempt > 1";
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, local_day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count the inbox's attempts");
	db_done(st);
	return rc;
}

int db_attempt_list(db *d, const char *message_id,
                    int (*fn)(const db_attempt *a, void *arg), void *arg,
                    cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s = SQLITE_DONE;

	if ((rc = db_prepare(d,
	                     "SELECT message_id, attempt, local_day, "
	                     "started_at, outcome, code, text FROM "
	                     "send_attempts WHERE message_id = ?1 ORDER BY "
	                     "attempt",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		db_attempt a;

		memset(&a, 0, sizeof a);
		a.message_id = (const char *)sqlite3_column_text(st, 0);
		a.attempt = sqlite3_column_int(st, 1);
		a.local_day = (const char *)sqlite3_column_text(st, 2);
		a.started_at = sqlite3_column_int64(st, 3);
		a.outcome = (const char *)sqlite3_column_text(st, 4);
		a.code = sqlite3_column_int(st, 5);
		a.text = (const char *)sqlite3_column_text(st, 6);
		rc = fn(&a, arg);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the attempts");
	sqlite3_finalize(st);
	return rc;
}

int db_history_add(db *d, const db_history *h, cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO outbox_history(outbox_id, contact, campaign, step, "
	    "message_id, action, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7, ?8)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	if (h->outbox_id > 0)
		sqlite3_bind_int64(st, 1, h->outbox_id);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 2, h->contact, -1, SQLITE_STATIC);
	db_bind_opt(st, 3, h->campaign);
	if (h->step > 0)
		sqlite3_bind_int(st, 4, h->step);
	else
		sqlite3_bind_null(st, 4);
	db_bind_opt(st, 5, h->message_id);
	sqlite3_bind_text(st, 6, h->action, -1, SQLITE_STATIC);
	db_bind_opt(st, 7, h->detail);
	sqlite3_bind_int64(st, 8, h->at);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the contact's history");
	db_done(st);
	return rc;
}

int db_history_list(db *d, const char *contact, long long outbox_id,
                    int (*fn)(const db_history *h, void *arg), void *arg,
                    cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s = SQLITE_DONE;

	if ((rc = db_prepare(d,
	                     "SELECT outbox_id, contact, campaign, step, "
	                     "message_id, action, detail, at FROM "
	                     "outbox_history WHERE (?1 IS NULL OR contact = "
	                     "?1) AND (?2 = 0 OR outbox_id = ?2) ORDER BY id",
	                     &st, err)) != 0)
		return rc;
	db_bind_opt(st, 1, contact);
	sqlite3_bind_int64(st, 2, outbox_id);
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		db_history h;

		memset(&h, 0, sizeof h);
		h.outbox_id = sqlite3_column_int64(st, 0);
		h.contact = (const char *)sqlite3_column_text(st, 1);
		h.campaign = (const char *)sqlite3_column_text(st, 2);
		h.step = sqlite3_column_int(st, 3);
		h.message_id = (const char *)sqlite3_column_text(st, 4);
		h.action = (const char *)sqlite3_column_text(st, 5);
		h.detail = (const char *)sqlite3_column_text(st, 6);
		h.at = sqlite3_column_int64(st, 7);
		rc = fn(&h, arg);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the contact's history");
	sqlite3_finalize(st);
	return rc;
}
