/*
 * db_inbox.c - inbox rows and their tags.
 *
 * Names and emails are unique case-insensitively; a duplicate is reported
 * as CS_EEXIST naming the inbox that already has it.  Tag changes happen in
 * the same transaction as the row, so an inbox is never half-updated.
 *
 * A removed inbox is a tombstone: its row stays (removed_at set, renamed
 * "NAME (removed)", no secret) so that the history that refers to it
 * (messages, events, outbox, enrollments) keeps its name and address.
 * Every query here that reads or writes live inboxes skips tombstones;
 * the same name and email may then be added again.
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
	"sent_copy, status, created_at, updated_at, limits, "                  \
	"domain_hourly_cap, min_gap, ramp_start, ramp_step, paused_reason, "   \
	"paused_until, coalesce(next_send_at, 0), auth_state, auth_reason, "   \
	"trial, tenant, provider_hold"

/* The names of the inbox enums (db.h), in enum order: the database's and
 * JSON's words, one table each. */
static const char *const status_names[] = {"active", "paused", "error"};
static const char *const auth_names[] = {"password", "oauth2"};
static const char *const auth_state_names[] = {"ok", "pending", "auth_failed"};
static const char *const sent_copy_names[] = {"auto", "always", "never"};

DB_ENUM_NAMES(inbox_status, db_inbox_status, status_names)
DB_ENUM_NAMES(auth_kind, db_auth_kind, auth_names)
DB_ENUM_NAMES(auth_state, db_auth_state, auth_state_names)
DB_ENUM_NAMES(sent_copy, db_sent_copy, sent_copy_names)

db_inbox_status db_col_inbox_status(sqlite3_stmt *st, int col)
{
	return (db_inbox_status)db_col_enum(st, col, status_names,
	                                    CS_NNAMES(status_names));
}

static void read_row(sqlite3_stmt *st, db_inbox *in)
{
	memset(in, 0, sizeof *in);
	in->id = sqlite3_column_int64(st, 0);
	in->uuid = db_col_str(st, 1);
	in->name = db_col_str(st, 2);
	in->email = db_col_str(st, 3);
	in->provider =
	    cs_provider_id_of((const char *)sqlite3_column_text(st, 4));
	in->smtp_host = db_col_str(st, 5);
	in->smtp_port = sqlite3_column_int(st, 6);
	in->smtp_tls = db_col_str(st, 7);
	in->imap_host = db_col_str(st, 8);
	in->imap_port = sqlite3_column_int(st, 9);
	in->imap_tls = db_col_str(st, 10);
	in->username = db_col_str(st, 11);
	in->auth = (db_auth_kind)db_col_enum(st, 12, auth_names,
	                                     CS_NNAMES(auth_names));
	in->ca_file = db_col_str(st, 13);
	in->insecure_tls = sqlite3_column_int(st, 14) != 0;
	in->display_name = db_col_str(st, 15);
	in->signature = db_col_str(st, 16);
	in->timezone = db_col_str(st, 17);
	in->daily_cap = sqlite3_column_int(st, 18);
	in->sent_copy = (db_sent_copy)db_col_enum(st, 19, sent_copy_names,
	                                          CS_NNAMES(sent_copy_names));
	in->status = (db_inbox_status)db_col_enum(st, 20, status_names,
	                                          CS_NNAMES(status_names));
	in->created_at = sqlite3_column_int64(st, 21);
	in->updated_at = sqlite3_column_int64(st, 22);
	in->limits = db_col_str(st, 23);
	in->domain_hourly_cap = sqlite3_column_int(st, 24);
	in->min_gap = sqlite3_column_int(st, 25);
	in->ramp_start = sqlite3_column_int(st, 26);
	in->ramp_step = sqlite3_column_int(st, 27);
	in->paused_reason = db_col_str(st, 28);
	in->paused_until = sqlite3_column_int64(st, 29);
	in->next_send_at = sqlite3_column_int64(st, 30);
	in->auth_state = (db_auth_state)db_col_enum(
	    st, 31, auth_state_names, CS_NNAMES(auth_state_names));
	in->auth_reason = db_col_str(st, 32);
	in->trial = sqlite3_column_int(st, 33) != 0;
	in->tenant = db_col_str(st, 34);
	in->provider_hold = sqlite3_column_int(st, 35) != 0;
}

void db_inbox_free(db_inbox *in)
{
	size_t i;

	if (in == NULL)
		return;
	free(in->uuid);
	free(in->name);
	free(in->email);
	free(in->smtp_host);
	free(in->smtp_tls);
	free(in->imap_host);
	free(in->imap_tls);
	free(in->username);
	free(in->ca_file);
	free(in->display_name);
	free(in->signature);
	free(in->timezone);
	free(in->paused_reason);
	free(in->auth_reason);
	free(in->limits);
	free(in->tenant);
	for (i = 0; i < in->ntags; i++)
		free(in->tags[i]);
	free(in->tags);
	memset(in, 0, sizeof *in);
}

/* Bind the settings columns shared by INSERT and UPDATE, as ?1..?20,
 * ?22..?26 and ?28..?29 (?21 is the secret of an INSERT, ?27 its
 * auth_state). */
static void bind_settings(sqlite3_stmt *st, const db_inbox *in)
{
	db_bind_opt(st, 1, in->uuid);
	db_bind_opt(st, 2, in->name);
	db_bind_opt(st, 3, in->email);
	db_bind_opt(st, 4, cs_provider_get(in->provider)->name);
	db_bind_opt(st, 5, in->smtp_host);
	sqlite3_bind_int(st, 6, in->smtp_port);
	db_bind_opt(st, 7, in->smtp_tls ? in->smtp_tls : "starttls");
	db_bind_opt(st, 8, in->imap_host);
	sqlite3_bind_int(st, 9, in->imap_port);
	db_bind_opt(st, 10, in->imap_tls ? in->imap_tls : "tls");
	db_bind_opt(st, 11, in->username);
	db_bind_opt(st, 12, db_auth_kind_name(in->auth));
	db_bind_opt(st, 13, in->ca_file);
	sqlite3_bind_int(st, 14, in->insecure_tls ? 1 : 0);
	db_bind_opt(st, 15, in->display_name);
	db_bind_opt(st, 16, in->signature);
	db_bind_opt(st, 17, in->timezone ? in->timezone : "UTC");
	sqlite3_bind_int(st, 18, in->daily_cap);
	db_bind_opt(st, 19, db_sent_copy_name(in->sent_copy));
	sqlite3_bind_int64(st, 20, cs_clock_now(NULL));
	sqlite3_bind_text(st, 22, in->limits ? in->limits : "", -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int(st, 23, in->domain_hourly_cap);
	sqlite3_bind_int(st, 24, in->min_gap);
	sqlite3_bind_int(st, 25, in->ramp_start);
	sqlite3_bind_int(st, 26, in->ramp_step);
	sqlite3_bind_int(st, 28, in->trial ? 1 : 0);
	db_bind_opt(st, 29, in->tenant);
}

/* Which inbox already has this name or email (for a clear message). */
static int duplicate(db *d, const db_inbox *in, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "SELECT name, email FROM inboxes WHERE (name = ?1 "
	                     "OR (email = ?2 AND removed_at IS NULL)) AND uuid "
	                     "<> ?3",
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
    "updated_at, created_at, secret, limits, domain_hourly_cap, min_gap, "
    "ramp_start, ramp_step, auth_state, trial, tenant) VALUES (?1, ?2, ?3, "
    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)";

static const char update_sql[] =
    "UPDATE inboxes SET name = ?2, email = ?3, provider = ?4, smtp_host = "
    "?5, smtp_port = ?6, smtp_tls = ?7, imap_host = ?8, imap_port = ?9, "
    "imap_tls = ?10, username = ?11, auth = ?12, ca_file = ?13, "
    "insecure_tls = ?14, display_name = ?15, signature = ?16, timezone = "
    "?17, daily_cap = ?18, sent_copy = ?19, updated_at = ?20, limits = ?22, "
    "domain_hourly_cap = ?23, min_gap = ?24, ramp_start = ?25, ramp_step = "
    "?26, trial = ?28, tenant = ?29 WHERE uuid = ?1 AND removed_at IS NULL";

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
		db_bind_opt(st, 27, db_auth_state_name(in->auth_state));
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
	if ((rc = db_prepare(d,
	                     "SELECT " INBOX_COLS
	                     " FROM inboxes WHERE name = ?1 AND "
	                     "removed_at IS NULL",
	                     &st, err)) != 0)
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
	                     "AND removed_at IS NULL ORDER BY name"
	                   : "SELECT " INBOX_COLS " FROM inboxes WHERE "
	                     "removed_at IS NULL ORDER BY name",
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

/* ---- removal: a tombstone keeps the history ---------------------------- */

/* Run one statement of a removal: ?1 inbox id, ?2 now, ?3 text, ?4 the
 * inbox's email (those the statement names); *changes (may be NULL) gets
 * the rows changed. */
static int removal_step(db *d, const char *sql, long long id, int64_t now,
                        const char *text, const char *email, long long *changes,
                        cs_err *err)
{
	sqlite3_stmt *st;
	int rc, np;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	np = sqlite3_bind_parameter_count(st);
	sqlite3_bind_int64(st, 1, id);
	if (np >= 2)
		sqlite3_bind_int64(st, 2, now);
	if (np >= 3)
		db_bind_opt(st, 3, text);
	if (np >= 4)
		db_bind_opt(st, 4, email);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot remove the inbox");
	else if (changes)
		*changes = sqlite3_changes(d->h);
	sqlite3_finalize(st);
	return rc;
}

/* A thread in progress: an enrollment of the inbox not over yet, except a
 * first step still queued (nothing reached the contact: every attempt, if
 * any, was refused before the server took it), which another inbox may
 * start afresh. */
static const char threads_sql[] =
    "SELECT count(*) FROM enrollments e WHERE e.inbox_id = ?1 AND e.state "
    "IN ('active', 'queued', 'held') AND NOT (e.state = 'queued' AND "
    "e.step = 1 AND EXISTS (SELECT 1 FROM outbox o WHERE o.enrollment_id = "
    "e.id AND o.step = 1 AND o.state = 'queued'))";

/* In order, in one transaction.  History stays: messages, events, outbox
 * rows sent, failed or held, enrollments (stopped, with the reason). */
static const char *const removal_sqls[] = {
    /* 0: queued first steps go back to the new contacts (as when an
     * inbox loses its authorization, db_outbox_release_new) */
    "UPDATE enrollments SET state = 'active', inbox_id = NULL, due_at = "
    "?2, updated_at = ?2 WHERE id IN (SELECT enrollment_id FROM outbox "
    "WHERE inbox_id = ?1 AND state = 'queued' AND step = 1) AND state = "
    "'queued' AND step = 1",
    "DELETE FROM outbox WHERE inbox_id = ?1 AND state = 'queued' AND step "
    "= 1 AND enrollment_id IN (SELECT id FROM enrollments WHERE inbox_id "
    "IS NULL)",
    /* 2: threads in progress stop (--force); what was queued for them is
     * not sent (as db_enr_stop_contact does); a row being sent settles */
    "UPDATE outbox SET state = 'failed', reason = ?3, updated_at = ?2 "
    "WHERE inbox_id = ?1 AND state IN ('queued', 'deferred')",
    "UPDATE enrollments SET state = 'stopped', reason = ?3, updated_at = "
    "?2 WHERE inbox_id = ?1 AND state IN ('active', 'queued', 'held')",
    /* 4: live state: tags (campaign selectors), watched folders, tokens,
     * warmup settings and what warmup planned from or to it */
    "DELETE FROM inbox_tags WHERE inbox_id = ?1",
    "DELETE FROM inbox_folders WHERE inbox_id = ?1",
    "DELETE FROM oauth_tokens WHERE inbox_id = ?1",
    "DELETE FROM inbox_runtime WHERE inbox_id = ?1",
    "DELETE FROM warmup WHERE inbox_id = ?1",
    "DELETE FROM warmup_plan WHERE state = 'planned' AND (inbox_id = ?1 OR "
    "to_addr = ?4)",
    "DELETE FROM warmup_actions WHERE inbox_id = ?1 AND state = 'planned'",
    /* last: the tombstone: no secret, never active again */
    "UPDATE inboxes SET name = ?3, removed_at = ?2, secret = NULL, status "
    "= 'paused', paused_reason = 'removed', paused_until = NULL, "
    "next_send_at = NULL, updated_at = ?2 WHERE id = ?1",
};

/* A name for the tombstone that no live inbox can have (names have no
 * spaces) and no other tombstone has: "NAME (removed)", "NAME (removed
 * 2)", ... */
static int tombstone_name(db *d, const char *name, char **out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, k, s = SQLITE_ROW;

	*out = NULL;
	if ((rc = db_prepare(d, "SELECT 1 FROM inboxes WHERE name = ?1", &st,
	                     err)) != 0)
		return rc;
	for (k = 1; s == SQLITE_ROW; k++) {
		free(*out);
		*out = k == 1 ? cs_xasprintf("%s (removed)", name)
		              : cs_xasprintf("%s (removed %d)", name, k);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, *out, -1, SQLITE_STATIC);
		s = sqlite3_step(st);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read inboxes");
		free(*out);
		*out = NULL;
	}
	sqlite3_finalize(st);
	return rc;
}

int db_inbox_remove(db *d, const char *name, bool force, int64_t now,
                    db_inbox_removal *out, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	long long id = 0;
	char *email = NULL, *why = NULL;
	const size_t nsqls = sizeof removal_sqls / sizeof removal_sqls[0];
	size_t i;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_prepare(d,
	                     "SELECT id, name, email FROM inboxes WHERE name = "
	                     "?1 AND removed_at IS NULL",
	                     &st, err)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		out->name = db_col_str(st, 1);
		email = db_col_str(st, 2);
	} else if (s == SQLITE_DONE) {
		rc = cs_err_set(
		    err, CS_ENOTFOUND,
		    "no inbox named '%s' (see 'coldseq inbox list')", name);
	} else {
		rc = db_fail(d, err, "cannot read inboxes");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc)
		goto out;
	if ((rc = db_prepare(d, threads_sql, &st, err)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		out->threads = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count the inbox's threads");
	sqlite3_finalize(st);
	st = NULL;
	if (rc)
		goto out;
	if (out->threads > 0 && !force) {
		rc = cs_err_set(err, CS_ECONFLICT,
		                "inbox '%s' has %lld thread(s) in progress "
		                "(contacts it wrote to whose sequence is not "
		                "over), which no other inbox may continue",
		                out->name, out->threads);
		goto out;
	}
	if ((rc = tombstone_name(d, out->name, &out->tombstone, err)) != 0)
		goto out;
	why = cs_xasprintf("inbox %s was removed: no other inbox may continue "
	                   "its thread",
	                   out->name);
	for (i = 0; i < nsqls; i++) {
		long long n = 0;

		/* the last statement makes the tombstone: ?3 is its name */
		rc = removal_step(d, removal_sqls[i], id, now,
		                  i + 1 == nsqls ? out->tombstone : why, email,
		                  &n, err);
		if (rc)
			goto out;
		if (i == 0)
			out->handed_back = n;
		else if (i == 3)
			out->stopped = n;
	}
out:
	free(email);
	free(why);
	if (rc == 0)
		return db_commit(d, err);
	db_rollback(d);
	return rc;
}

void db_inbox_removal_free(db_inbox_removal *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->tombstone);
	memset(r, 0, sizeof *r);
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

int db_inbox_set_status(db *d, const char *name, db_inbox_status status,
                        const char *reason, int64_t until, int64_t now,
                        cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((int)status < 0 || (int)status >= CS_NNAMES(status_names))
		return cs_err_set(err, CS_EINVAL, "%d is not an inbox status",
		                  (int)status);
	if ((rc = db_prepare(d,
	                     "UPDATE inboxes SET status = ?2, paused_reason = "
	                     "?3, paused_until = ?4, updated_at = ?5, "
	                     "provider_hold = 0 WHERE name = ?1 AND "
	                     "removed_at IS NULL",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, db_inbox_status_name(status), -1,
	                  SQLITE_STATIC);
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
	if (rc == 0 && status == DB_INBOX_ACTIVE)
		/* its messages that waited for the pause go now */
		rc = db_outbox_wake(d,
		                    "inbox_id = (SELECT id FROM inboxes "
		                    "WHERE name = ?1)",
		                    name, DB_WAIT_INBOX, now, err);
	return rc;
}

int db_inbox_set_provider_hold(db *d, long long id, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "UPDATE inboxes SET provider_hold = 1 WHERE id = "
	                     "?1 AND status = 'paused'",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot mark the inbox's pause");
	sqlite3_finalize(st);
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
