/*
 * db_auth.c - how an inbox authenticates: its OAuth2 token row, its
 * authorization state, and what an inbox that lost its authorization
 * hands back (queued first messages, to other inboxes).
 *
 * Token values never pass through here in clear: the access token is the
 * inbox's sealed secret (inboxes.secret) and the refresh token a sealed
 * blob in oauth_tokens.refresh_token; both are written in one transaction
 * with the times that describe them, so a rotated refresh token and the
 * access token that came with it replace the old pair together or not at
 * all.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

void db_token_free(db_token *t)
{
	if (t == NULL)
		return;
	free(t->auth_reason);
	free(t->tenant);
	cs_buf_free(&t->refresh);
	memset(t, 0, sizeof *t);
}

int db_token_get(db *d, long long inbox_id, db_token *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(
	         d,
	         "SELECT i.auth_state, i.auth_reason, t.inbox_id, t.provider, "
	         "t.tenant, t.refresh_token, t.generation, "
	         "t.access_expires_at, t.refreshed_at, t.refresh_issued_at, "
	         "coalesce(t.used_at, 0), t.connected_at FROM inboxes i LEFT "
	         "JOIN oauth_tokens t ON t.inbox_id = i.id WHERE i.id = ?1",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		db_auth_state_parse((const char *)sqlite3_column_text(st, 0),
		                    &out->auth_state);
		out->auth_reason = db_col_str(st, 1);
		out->found = sqlite3_column_type(st, 2) != SQLITE_NULL;
		if (out->found) {
			out->provider = cs_provider_id_of(
			    (const char *)sqlite3_column_text(st, 3));
			out->tenant = db_col_str(st, 4);
			cs_buf_append(&out->refresh, sqlite3_column_blob(st, 5),
			              (size_t)sqlite3_column_bytes(st, 5));
			out->generation = sqlite3_column_int64(st, 6);
			out->expires_at = sqlite3_column_int64(st, 7);
			out->refreshed_at = sqlite3_column_int64(st, 8);
			out->refresh_issued_at = sqlite3_column_int64(st, 9);
			out->used_at = sqlite3_column_int64(st, 10);
			out->connected_at = sqlite3_column_int64(st, 11);
		}
	} else if (s == SQLITE_DONE) {
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "inbox %lld no longer exists", inbox_id);
	} else {
		rc = db_fail(d, err, "cannot read the inbox's tokens");
	}
	sqlite3_finalize(st);
	return rc;
}

static int set_secret_by_id(db *d, long long inbox_id, const void *blob,
                            size_t n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "UPDATE inboxes SET secret = ?2 WHERE id = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_blob(st, 2, blob, (int)n, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot store the access token");
	else if (sqlite3_changes(d->h) != 1)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "inbox %lld no longer exists", inbox_id);
	sqlite3_finalize(st);
	return rc;
}

int db_token_connect(db *d, const db_token_set *t, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (t->refresh == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "a connect needs a refresh token");
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = set_secret_by_id(d, t->inbox_id, t->access, t->access_len,
	                           err)) != 0)
		goto fail;
	if ((rc = db_prepare(
	         d,
	         "INSERT INTO oauth_tokens(inbox_id, provider, tenant, "
	         "refresh_token, generation, access_expires_at, refreshed_at, "
	         "refresh_issued_at, used_at, connected_at) VALUES (?1, ?2, "
	         "?3, ?4, 1, ?5, ?6, ?6, NULL, ?6) ON CONFLICT(inbox_id) DO "
	         "UPDATE SET provider = ?2, tenant = ?3, refresh_token = ?4, "
	         "generation = generation + 1, access_expires_at = ?5, "
	         "refreshed_at = ?6, refresh_issued_at = ?6, connected_at = ?6",
	         &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, t->inbox_id);
	sqlite3_bind_text(st, 2, cs_provider_get(t->provider)->name, -1,
	                  SQLITE_STATIC);
	db_bind_opt(st, 3, t->tenant);
	sqlite3_bind_blob(st, 4, t->refresh, (int)t->refresh_len,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, t->expires_at);
	sqlite3_bind_int64(st, 6, t->now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot store the tokens");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = db_inbox_set_auth(d, t->inbox_id, DB_AUTH_OK, NULL, t->now,
	                            err)) != 0)
		goto fail;
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

int db_token_refreshed(db *d, const db_token_set *t, bool *raced, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*raced = false;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	/* compare-and-set: only over the refresh token this grant used */
	if ((rc = db_prepare(
	         d,
	         "UPDATE oauth_tokens SET refresh_token = coalesce(?3, "
	         "refresh_token), generation = generation + (?3 IS NOT NULL), "
	         "refresh_issued_at = CASE WHEN ?3 IS NULL THEN "
	         "refresh_issued_at ELSE ?5 END, access_expires_at = ?4, "
	         "refreshed_at = ?5 WHERE inbox_id = ?1 AND generation = ?2",
	         &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, t->inbox_id);
	sqlite3_bind_int64(st, 2, t->expect_generation);
	if (t->refresh)
		sqlite3_bind_blob(st, 3, t->refresh, (int)t->refresh_len,
		                  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, t->expires_at);
	sqlite3_bind_int64(st, 5, t->now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot store the refreshed tokens");
		goto fail;
	}
	if (sqlite3_changes(d->h) != 1) {
		*raced = true; /* another process refreshed (or reconnected) */
		sqlite3_finalize(st);
		db_rollback(d);
		return 0;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = set_secret_by_id(d, t->inbox_id, t->access, t->access_len,
	                           err)) != 0)
		goto fail;
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

int db_token_used(db *d, long long inbox_id, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE oauth_tokens SET used_at = ?2 WHERE inbox_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the token's use");
	db_done(st);
	return rc;
}

int db_inbox_set_auth(db *d, long long inbox_id, db_auth_state state,
                      const char *reason, int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((int)state < 0 || (int)state > DB_AUTH_FAILED)
		return cs_err_set(err, CS_EINVAL,
		                  "%d is not an authorization state",
		                  (int)state);
	if ((rc = db_prepare(d,
	                     "UPDATE inboxes SET auth_state = ?2, auth_reason "
	                     "= ?3, updated_at = ?4 WHERE id = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, db_auth_state_name(state), -1, SQLITE_STATIC);
	db_bind_opt(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the inbox's authorization");
	else if (sqlite3_changes(d->h) != 1)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "inbox %lld no longer exists", inbox_id);
	sqlite3_finalize(st);
	return rc;
}

int db_outbox_release_new(db *d, long long inbox_id, int64_t now, long long *n,
                          cs_err *err)
{
	/* A queued first step never reached its contact (every earlier
	 * attempt was refused before the server took it), so the contact
	 * may start over with another inbox: the enrollment is active again
	 * without an inbox, due now, and the row goes.  Attempts stay in
	 * messages. */
	static const char *const sqls[] = {
	    "UPDATE enrollments SET state = 'active', inbox_id = NULL, due_at "
	    "= ?2, updated_at = ?2 WHERE id IN (SELECT enrollment_id FROM "
	    "outbox WHERE inbox_id = ?1 AND state = 'queued' AND step = 1) "
	    "AND state = 'queued'",
	    "DELETE FROM outbox WHERE inbox_id = ?1 AND state = 'queued' AND "
	    "step = 1",
	};
	sqlite3_stmt *st;
	size_t i;
	int rc;

	*n = 0;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	for (i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
		if ((rc = db_prepare(d, sqls[i], &st, err)) != 0)
			goto fail;
		sqlite3_bind_int64(st, 1, inbox_id);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot hand messages back");
		else if (i == 0)
			*n = sqlite3_changes(d->h);
		sqlite3_finalize(st);
		if (rc)
			goto fail;
	}
	return db_commit(d, err);
fail:
	db_rollback(d);
	return rc;
}
