/*
 * db_inbox.c - inbox rows and their tags.
 *
 * Names and emails are unique case-insensitively; a duplicate is reported
 * as CS_EEXIST naming the inbox that already has it.  Tag changes happen in
 * the same transaction as the row, so an inbox is never half-updated.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INBOX_COLS                                                             \
	"id, uuid, name, email, provider, smtp_host, smtp_port, smtp_tls, "    \
	"imap_host, imap_port, imap_tls, username, auth, ca_file, "            \
	"insecure_tls, display_name, signature, timezone, daily_cap, "         \
	"sent_copy, status, created_at, updated_at, hard_cap, "                \
	"domain_hourly_cap, min_gap, ramp_start, ramp_step, paused_reason, "   \
	"paused_until, coalesce(next_send_at, 0), auth_state, auth_reason"

static void read_row(sqlite3_stmt *st, db_inbox *in)
{
	memset(in, 0, sizeof *in);
	in->id = sqlite3_column_int64(st, 0);
	in->uuid = db_col_str(st, 1);
	in->name = db_col_str(st, 2);
	in->email = db_col_str(st, 3);
	in->provider = db_col_str(st, 4);
	in->smtp_host = db_col_str(st, 5);
	in->smtp_port = sqlite3_column_int(st, 6);
	in->smtp_tls = db_col_str(st, 7);
	in->imap_host = db_col_str(st, 8);
	in->imap_port = sqlite3_column_int(st, 9);
	in->imap_tls = db_col_str(st, 10);
	in->username = db_col_str(st, 11);
	in->auth = db_col_str(st, 12);
	in->ca_file = db_col_str(st, 13);
	in->insecure_tls = sqlite3_column_int(st, 14) != 0;
	in->display_name = db_col_str(st, 15);
	in->signature = db_col_str(st, 16);
	in->timezone = db_col_str(st, 17);
	in->daily_cap = sqlite3_column_int(st, 18);
	in->sent_copy = db_col_str(st, 19);
	in->status = db_col_str(st, 20);
	in->created_at = sqlite3_column_int64(st, 21);
	in->updated_at = sqlite3_column_int64(st, 22);
	in->hard_cap = sqlite3_column_int(st, 23);
	in->domain_hourly_cap = sqlite3_column_int(st, 24);
	in->min_gap = sqlite3_column_int(st, 25);
	in->ramp_start = sqlite3_column_int(st, 26);
	in->ramp_step = sqlite3_column_int(st, 27);
	in->paused_reason = db_col_str(st, 28);
	in->paused_until = sqlite3_column_int64(st, 29);
	in->next_send_at = sqlite3_column_int64(st, 30);
	in->auth_state = db_col_str(st, 31);
	in->auth_reason = db_col_str(st, 32);
}

void db_inbox_free(db_inbox *in)
{
	size_t i;

	if (in == NULL)
		return;
	free(in->uuid);
	free(in->name);
	free(in->email);
	free(in->provider);
	free(in->smtp_host);
	free(in->smtp_tls);
	free(in->imap_host);
	free(in->imap_tls);
	free(in->username);
	free(in->auth);
	free(in->ca_file);
	free(in->display_name);
	free(in->signature);
	free(in->timezone);
	free(in->sent_copy);
	free(in->status);
	free(in->paused_reason);
	free(in->auth_state);
	free(in->auth_reason);
	for (i = 0; i < in->ntags; i++)
		free(in->tags[i]);
	free(in->tags);
	memset(in, 0, sizeof *in);
}

/* Bind the settings columns shared by INSERT and UPDATE, as ?1..?20 and
 * ?22..?26 (?21 is the secret of an INSERT). */
static void bind_settings(sqlite3_stmt *st, const db_inbox *in)
{
	db_bind_opt(st, 1, in->uuid);
	db_bind_opt(st, 2, in->name);
	db_bind_opt(st, 3, in->email);
	db_bind_opt(st, 4, in->provider ? in->provider : "generic");
	db_bind_opt(st, 5, in->smtp_host);
	sqlite3_bind_int(st, 6, in->smtp_port);
	db_bind_opt(st, 7, in->smtp_tls ? in->smtp_tls : "starttls");
	db_bind_opt(st, 8, in->imap_host);
	sqlite3_bind_int(st, 9, in->imap_port);
	db_bind_opt(st, 10, in->imap_tls ? in->imap_tls : "tls");
	db_bind_opt(st, 11, in->username);
	db_bind_opt(st, 12, in->auth ? in->auth : "password");
	db_bind_opt(st, 13, in->ca_file);
	sqlite3_bind_int(st, 14, in->insecure_tls ? 1 : 0);
	db_bind_opt(st, 15, in->display_name);
	db_bind_opt(st, 16, in->signature);
	db_bind_opt(st, 17, in->timezone ? in->timezone : "UTC");
	sqlite3_bind_int(st, 18, in->daily_cap);
	db_bind_opt(st, 19, in->sent_copy ? in->sent_copy : "auto");
	sqlite3_bind_int64(st, 20, cs_clock_now(NULL));
	sqlite3_bind_int(st, 22, in->hard_cap);
	sqlite3_bind_int(st, 23, in->domain_hourly_cap);
	sqlite3_bind_int(st, 24, in->min_gap);
	sqlite3_bind_int(st, 25, in->ramp_start);
	sqlite3_bind_int(st, 26, in->ramp_step);
}

/* Which inbox already has this name or email (for a clear message). */
static int duplicate(db *d, const db_inbox *in, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "SELECT name, email FROM inboxes WHERE (name = ?1 "
	                     "OR email = ?2) AND uuid <> ?3",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, in->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, in->uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		const char *e = (const char *)sqlite3_column_text(st, 1);

		if (strcasecmp(n, in->name) == 0)
			rc =
			    cs_err_set(err, CS_EEXIST,
			               "an inbox named '%s' already exists", n);
		else
			rc = cs_err_set(err, CS_EEXIST,
			                "%s is already connected as inbox '%s'",
			                e, n);
	}
	sqlite3_finalize(st);
	return rc;
}

static int write_tags(db *d, const db_inbox *in, long long id, cs_err *err)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if ((rc = db_prepare(d, "DELETE FROM inbox_tags WHERE inbox_id = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot write tags");
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if ((rc = db_prepare(d,
	                     "INSERT OR IGNORE INTO inbox_tags(inbox_id, tag) "
	                     "VALUES (?1, ?2)",
	                     &st, err)) != 0)
		return rc;
	for (i = 0; i < in->ntags && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, in->tags[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot write tags");
	}
	sqlite3_finalize(st);
	return rc;
}

static const char insert_sql[] =
    "INSERT INTO inboxes(uuid, name, email, provider, smtp_host, smtp_port, "
    "smtp_tls, imap_host, imap_port, imap_tls, username, auth, ca_file, "
    "insecure_tls, display_name, signature, timezone, daily_cap, sent_copy, "
    "updated_at, created_at, secret, hard_cap, domain_hourly_cap, min_gap, "
    "ramp_start, ramp_step, auth_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20, "
    "?21, ?22, ?23, ?24, ?25, ?26, ?27)";

static const char update_sql[] =
    "UPDATE inboxes SET name = ?2, email = ?3, provider = ?4, smtp_host = "
    "?5, smtp_port = ?6, smtp_tls = ?7, imap_host = ?8, imap_port = ?9, "
    "imap_tls = ?10, username = ?11, auth = ?12, ca_file = ?13, "
    "insecure_tls = ?14, display_name = ?15, signature = ?16, timezone = "
    "?17, daily_cap = ?18, sent_copy = ?19, updated_at = ?20, hard_cap = "
    "?22, domain_hourly_cap = ?23, min_gap = ?24, ramp_start = ?25, "
    "ramp_step = ?26 WHERE uuid = ?1";

/* Insert (with its sealed secret) or update one inbox and its tags, in one
 * transaction (a savepoint inside the caller's). */
static int write_inbox(db *d, const db_inbox *in, bool insert, const void *blob,
                       size_t blob_len, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	long long id = in->id;
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = duplicate(d, in, err)) != 0)
		goto fail;
	if ((rc = db_prepare(d, insert ? insert_sql : update_sql, &st, err)) !=
	    0)
		goto fail;
	bind_settings(st, in);
	if (insert && blob)
		sqlite3_bind_blob(st, 21, blob, (int)blob_len, SQLITE_STATIC);
	else if (insert)
		sqlite3_bind_null(st, 21);
	if (insert)
		db_bind_opt(st, 27, in->auth_state ? in->auth_state : "ok");
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err,
		             insert ? "cannot add the inbox"
		                    : "cannot update the inbox");
		goto fail;
	}
	if (insert) {
		id = sqlite3_last_insert_rowid(d->h);
	} else if (sqlite3_changes(d->h) != 1) {
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "inbox '%s' no longer exists", in->name);
		goto fail;
	}
	if ((rc = write_tags(d, in, id, err)) != 0)
		goto fail;
	sqlite3_finalize(st);
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

int db_inbox_add(db *d, const db_inbox *in, const void *blob, size_t blob_len,
                 cs_err *err)
{
	return write_inbox(d, in, true, blob, blob_len, err);
}

int db_inbox_update(db *d, const db_inbox *in, cs_err *err)
{
	return write_inbox(d, in, false, NULL, 0, err);
}

int db_inbox_set_secret(db *d, const char *uuid, const void *blob,
                        size_t blob_len, cs_err *err)
{
	db_sealed s = {"inboxes", "secret", uuid, blob, blob_len};

	return db_sealed_update(d, &s, err);
}

static int load_tags(db *d, db_inbox *in, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_prepare(d,
	                     "SELECT tag FROM inbox_tags WHERE inbox_id = ?1 "
	                     "ORDER BY tag",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, in->id);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		in->tags =
		    cs_xrealloc(in->tags, (in->ntags + 1) * sizeof *in->tags);
		in->tags[in->ntags++] = db_col_str(st, 0);
	}
	if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read tags");
	sqlite3_finalize(st);
	return rc;
}

int db_inbox_get(db *d, const char *name, db_inbox *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(
	         d, "SELECT " INBOX_COLS " FROM inboxes WHERE name = ?1", &st,
	         err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_row(st, out);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ENOTFOUND,
		    "no inbox named '%s' (see 'coldseq inbox list')", name);
	else
		rc = db_fail(d, err, "cannot read inboxes");
	sqlite3_finalize(st);
	if (rc == 0 && (rc = load_tags(d, out, err)) != 0)
		db_inbox_free(out);
	return rc;
}

int db_inbox_secret(db *d, const char *uuid, cs_buf *blob, bool *found,
                    cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	*found = false;
	if ((rc = db_prepare(d, "SELECT secret FROM inboxes WHERE uuid = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		cs_buf_append(blob, sqlite3_column_blob(st, 0),
		              (size_t)sqlite3_column_bytes(st, 0));
		*found = true;
	} else if (s != SQLITE_ROW && s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read the inbox secret");
	}
	sqlite3_finalize(st);
	return rc;
}

int db_inbox_list(db *d, const char *tag, db_inbox **out, size_t *n,
                  cs_err *err)
{
	sqlite3_stmt *st;
	db_inbox *list = NULL;
	size_t count = 0, i;
	int rc, s;

	*out = NULL;
	*n = 0;
	rc =
	    db_prepare(d,
	               tag ? "SELECT " INBOX_COLS " FROM inboxes WHERE id IN "
	                     "(SELECT inbox_id FROM inbox_tags WHERE tag = ?1) "
	                     "ORDER BY name"
	                   : "SELECT " INBOX_COLS " FROM inboxes ORDER BY name",
	               &st, err);
	if (rc)
		return rc;
	if (tag)
		sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		list = cs_xrealloc(list, (count + 1) * sizeof *list);
		read_row(st, &list[count++]);
	}
	if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot list inboxes");
	sqlite3_finalize(st);
	for (i = 0; i < count && rc == 0; i++)
		rc = load_tags(d, &list[i], err);
	if (rc) {
		db_inbox_list_free(list, count);
		return rc;
	}
	*out = list;
	*n = count;
	return 0;
}

void db_inbox_list_free(db_inbox *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		db_inbox_free(&list[i]);
	free(list);
}

int db_inbox_remove(db *d, const char *name, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "DELETE FROM inboxes WHERE name = ?1", &st,
	                     err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot remove the inbox");
	else if (sqlite3_changes(d->h) == 0)
		rc = cs_err_set(err, CS_ENOTFOUND, "no inbox named '%s'", name);
	sqlite3_finalize(st);
	return rc;
}

int db_inbox_insert_min(db *d, const char *name, const char *email,
                        const char *uuid, const void *secret_blob,
                        size_t blob_len, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "INSERT INTO inboxes(uuid, name, email, secret, "
	                     "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
	if (secret_blob)
		sqlite3_bind_blob(st, 4, secret_blob, (int)blob_len,
		                  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, cs_clock_now(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot add the inbox");
	sqlite3_finalize(st);
	return rc;
}

int db_inbox_set_status(db *d, const char *name, const char *status,
                        const char *reason, int64_t until, int64_t now,
                        cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "UPDATE inboxes SET status = ?2, paused_reason = "
	                     "?3, paused_until = ?4, updated_at = ?5 WHERE "
	                     "name = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	db_bind_opt(st, 3, reason);
	if (until > 0)
		sqlite3_bind_int64(st, 4, until);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot change the inbox's status");
	else if (sqlite3_changes(d->h) == 0)
		rc = cs_err_set(err, CS_ENOTFOUND, "no inbox named '%s'", name);
	sqlite3_finalize(st);
	if (rc == 0 && strcmp(status, "active") == 0)
		/* its messages that waited for the pause go now */
		rc = db_outbox_wake(d,
		                    "inbox_id = (SELECT id FROM inboxes "
		                    "WHERE name = ?1)",
		                    name, DB_WAIT_INBOX, now, err);
	return rc;
}

int db_inbox_set_next_send(db *d, long long id, int64_t t, cs_err *err)
{
	static const char sql[] =
	    "UPDATE inboxes SET next_send_at = ?2 WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, t);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the inbox's next send");
	db_done(st);
	return rc;
}
