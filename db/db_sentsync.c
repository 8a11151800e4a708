/*
 * db_sentsync.c - what the Sent sync (sequencer/seq_watch_sent.c) reads
 * and writes: whether a Message-ID is one coldseq sent, the rows of
 * sent_external (migration 16: one per recipient of a message the mailbox
 * sent outside coldseq) and their count over a window.
 *
 * The Sent folder's cursor is inbox_folders' 'sent' row (db_folder_get,
 * db_folder_set in db_event.c); the caller writes it and the rows in one
 * transaction.
 */
#include "db_int.h"

#include <string.h>

int db_sentsync_is_ours(db *d, const char *message_id, bool *ours, cs_err *err)
{
	static const char sql[] =
	    "SELECT 1 FROM messages WHERE message_id = ?1 LIMIT 1";
	sqlite3_stmt *st;
	int rc, s;

	*ours = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*ours = true;
	else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot look up a sent message");
	db_done(st);
	return rc;
}

/* The lead keeps one of this and helper B's copy (db_limits.c) at the
 * merge: same signature, same INSERT OR IGNORE. */
int db_sent_external_add(db *d, long long inbox_id, const char *msg_key,
                         const char *recipient, bool external, int64_t sent_at,
                         const char *local_day, cs_err *err)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO sent_external(inbox_id, msg_key, "
	    "recipient, external, sent_at, local_day) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, msg_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, recipient ? recipient : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, external ? 1 : 0);
	sqlite3_bind_int64(st, 5, sent_at);
	sqlite3_bind_text(st, 6, local_day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err,
		             "cannot record a message sent outside "
		             "coldseq");
	db_done(st);
	return rc;
}

int db_sentsync_count(db *d, long long inbox_id, int64_t since,
                      long long *messages, long long *recipients, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(DISTINCT msg_key), coalesce(sum(recipient <> ''), "
	    "0) FROM sent_external WHERE inbox_id = ?1 AND sent_at >= ?2";

	return db_count_since(d, sql, inbox_id, since, messages, recipients,
	                      "cannot count messages sent outside coldseq",
	                      err);
}
