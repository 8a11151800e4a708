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
