/*
 * db_event.c - what the watcher records: folder sync state, events, and
 * the lookups that tie an incoming message to one we sent.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* The names of db_event_kind (db.h), in enum order: the database's words
 * (the schema's CHECK on events.kind). */
static const char *const kind_names[] = {
    "other",      "bounce",      "delay", "complaint",
    "auto_reply", "unsubscribe", "reply", "warmup"};

DB_ENUM_NAMES(event_kind, db_event_kind, kind_names)

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? cs_xstrdup((const char *)t) : NULL;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int db_folder_get(db *d, long long inbox_id, const char *role, db_folder *out,
                  bool *found, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	*found = false;
	if ((rc = db_prepare(
	         d,
	         "SELECT name, uidvalidity, last_uid, highestmodseq FROM "
	         "inbox_folders WHERE inbox_id = ?1 AND role = ?2",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->name = col(st, 0);
		out->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		out->last_uid = (uint32_t)sqlite3_column_int64(st, 2);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
		*found = true;
	} else if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read folder state");
	}
	sqlite3_finalize(st);
	return rc;
}

void db_folder_free(db_folder *f)
{
	free(f->name);
	f->name = NULL;
}

int db_folder_set(db *d, long long inbox_id, const char *role, const char *name,
                  uint32_t uidvalidity, uint32_t last_uid,
                  uint64_t highestmodseq, int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(
	         d,
	         "INSERT INTO inbox_folders(inbox_id, role, name, "
	         "uidvalidity, last_uid, synced_at, highestmodseq) VALUES "
	         "(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(inbox_id, role) "
	         "DO UPDATE SET name = ?3, uidvalidity = ?4, last_uid = ?5, "
	         "synced_at = ?6, highestmodseq = ?7",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, uidvalidity);
	sqlite3_bind_int64(st, 5, last_uid);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)highestmodseq);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot store folder state");
	sqlite3_finalize(st);
	return rc;
}

int db_event_add(db *d, const db_event *e, bool *added, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*added = false;
	if ((rc = db_prepare(
	         d,
	         "INSERT INTO events(inbox_id, msg_key, recipient, kind, "
	         "folder, "
	         "from_addr, subject, message_id, in_reply_to, "
	         "related_message_id, contact, status, hard, reason, "
	         "return_date, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	         "?7, "
	         "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT DO "
	         "NOTHING",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, e->inbox_id);
	sqlite3_bind_text(st, 2, e->msg_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->recipient ? e->recipient : "", -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, db_event_kind_name(e->kind), -1,
	                  SQLITE_STATIC);
	bind_opt(st, 5, e->folder);
	bind_opt(st, 6, e->from_addr);
	bind_opt(st, 7, e->subject);
	bind_opt(st, 8, e->message_id);
	bind_opt(st, 9, e->in_reply_to);
	bind_opt(st, 10, e->related_message_id);
	bind_opt(st, 11, e->contact);
	bind_opt(st, 12, e->status);
	if (e->hard >= 0)
		sqlite3_bind_int(st, 13, e->hard);
	else
		sqlite3_bind_null(st, 13);
	bind_opt(st, 14, e->reason);
	bind_opt(st, 15, e->return_date);
	sqlite3_bind_int64(st, 16, e->received_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record an event");
	else
		*added = sqlite3_changes(d->h) == 1;
	sqlite3_finalize(st);
	return rc;
}

void db_sent_ref_free(db_sent_ref *r)
{
	free(r->message_id);
	free(r->recipient);
	free(r->subject);
	memset(r, 0, sizeof *r);
}

static int find_one(db *d, const char *sql, long long inbox_id, const char *a,
                    const char *b, db_sent_ref *out, bool *found, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	*found = false;
	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	bind_opt(st, 2, a);
	bind_opt(st, 3, b);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->message_id = col(st, 0);
		out->recipient = col(st, 1);
		out->purpose = db_col_purpose(st, 2);
		out->subject = col(st, 3);
		out->created_at = sqlite3_column_int64(st, 4);
		*found = true;
	} else if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read messages");
	}
	sqlite3_finalize(st);
	return rc;
}

#define REF_COLS "message_id, recipient, purpose, subject, created_at"

int db_message_by_id(db *d, long long inbox_id, const char *message_id,
                     db_sent_ref *out, bool *found, cs_err *err)
{
	/* inbox_id 0: any inbox (warmup partners live in the same database) */
	return find_one(d,
	                "SELECT " REF_COLS
	                " FROM messages WHERE message_id = ?2 "
	                "AND (?1 = 0 OR inbox_id = ?1)",
	                inbox_id, message_id, NULL, out, found, err);
}

int db_message_by_subject(db *d, long long inbox_id, const char *recipient,
                          const char *subject, db_sent_ref *out, bool *found,
                          cs_err *err)
{
	return find_one(
	    d,
	    "SELECT " REF_COLS " FROM messages WHERE inbox_id = ?1 "
	    "AND recipient = ?2 AND subject = ?3 AND outcome IN "
	    "('sent', 'uncertain') ORDER BY created_at DESC LIMIT 1",
	    inbox_id, recipient, subject, out, found, err);
}

int db_message_last_to(db *d, long long inbox_id, const char *recipient,
                       db_sent_ref *out, bool *found, cs_err *err)
{
	return find_one(
	    d,
	    "SELECT " REF_COLS " FROM messages WHERE inbox_id = ?1 "
	    "AND recipient = ?2 AND outcome IN ('sent', 'uncertain') "
	    "ORDER BY created_at DESC LIMIT 1",
	    inbox_id, recipient, NULL, out, found, err);
}

int db_message_first_at(db *d, long long inbox_id, int64_t *out, bool *found,
                        cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*found = false;
	if ((rc = db_prepare(d,
	                     "SELECT min(created_at) FROM messages WHERE "
	                     "inbox_id = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(st, 0);
		*found = true;
	}
	sqlite3_finalize(st);
	return 0;
}

int db_contact_mark(db *d, const char *email, db_contact_status status,
                    int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* a stop never goes back to active, and bounced/complained/
	 * unsubscribed outrank replied */
	if ((rc = db_prepare(d,
	                     "UPDATE contacts SET status = ?2, updated_at = ?3 "
	                     "WHERE email = ?1 AND (status = 'active' OR "
	                     "(status = 'replied' AND ?2 <> 'replied'))",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, db_contact_status_name(status), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the contact");
	sqlite3_finalize(st);
	return rc;
}

int db_event_list(db *d, const db_event_filter *f,
                  int (*fn)(const db_event_row *r, void *arg), void *arg,
                  cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_prepare(
	         d,
	         "SELECT e.kind, i.name, e.from_addr, e.contact, e.message_id, "
	         "e.in_reply_to, e.subject, e.received_at, e.recipient, "
	         "e.status, e.hard, e.reason, e.return_date, e.folder, "
	         "e.related_message_id FROM events e JOIN inboxes i ON i.id = "
	         "e.inbox_id WHERE e.received_at >= ?1 AND (?2 IS NULL AND "
	         "e.kind <> 'warmup' OR e.kind = ?2) AND (?3 IS NULL OR i.name "
	         "= "
	         "?3) ORDER BY e.received_at DESC, e.id DESC LIMIT ?4",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, f->since);
	bind_opt(st, 2, f->kind);
	bind_opt(st, 3, f->inbox);
	sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : -1);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		db_event_row r;

		r.kind = (db_event_kind)db_col_enum(st, 0, kind_names,
		                                    CS_NNAMES(kind_names));
		r.inbox = (const char *)sqlite3_column_text(st, 1);
		r.from_addr = (const char *)sqlite3_column_text(st, 2);
		r.contact = (const char *)sqlite3_column_text(st, 3);
		r.message_id = (const char *)sqlite3_column_text(st, 4);
		r.in_reply_to = (const char *)sqlite3_column_text(st, 5);
		r.subject = (const char *)sqlite3_column_text(st, 6);
		r.received_at = sqlite3_column_int64(st, 7);
		r.recipient = (const char *)sqlite3_column_text(st, 8);
		r.status = (const char *)sqlite3_column_text(st, 9);
		r.hard = sqlite3_column_type(st, 10) == SQLITE_NULL
		             ? -1
		             : sqlite3_column_int(st, 10);
		r.reason = (const char *)sqlite3_column_text(st, 11);
		r.return_date = (const char *)sqlite3_column_text(st, 12);
		r.folder = (const char *)sqlite3_column_text(st, 13);
		r.related_message_id =
		    (const char *)sqlite3_column_text(st, 14);
		if ((rc = fn(&r, arg)) != 0)
			break;
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot list events");
	sqlite3_finalize(st);
	return rc;
}
