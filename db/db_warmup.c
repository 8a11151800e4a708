/*
 * db_warmup.c - warmup: per-inbox settings, the plan of warmup sends (new
 * messages and replies), the receiving side's IMAP actions, and the
 * figures `warmup status` and the health check read.
 *
 * Warmup messages themselves are rows of `messages` with purpose
 * 'warmup' (recorded before DATA like every other send); a receiver
 * knows them by those Message-IDs, so nothing in a message marks it.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* The names of db_pstate and db_warmup_kind (db_warmup.h), in enum order:
 * the database's words (the schema's CHECKs on warmup_plan). */
static const char *const pstate_names[] = {"planned", "sending", "sent",
                                           "failed", "dropped"};
static const char *const kind_names[] = {"new", "reply"};

DB_ENUM_NAMES(pstate, db_pstate, pstate_names)
DB_ENUM_NAMES(warmup_kind, db_warmup_kind, kind_names)

/* The names of db_warmup_act and db_warmup_act_state, in enum order (the
 * schema's CHECKs on warmup_actions). */
static const char *const act_names[] = {"read", "archive"};
static const char *const act_state_names[] = {"planned", "done", "failed"};

DB_ENUM_NAMES(warmup_act, db_warmup_act, act_names)
DB_ENUM_NAMES(warmup_act_state, db_warmup_act_state, act_state_names)

static void copy_day(char out[11], const unsigned char *v)
{
	out[0] = '\0';
	if (v) {
		strncpy(out, (const char *)v, 10);
		out[10] = '\0';
	}
}

int db_warmup_enable(db *d, const db_warmup *w, int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(
	         d,
	         "INSERT INTO warmup(inbox_id, enabled, start, step, max, "
	         "reply_rate, weekdays_only, counts_toward_cap, updated_at) "
	         "VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT "
	         "(inbox_id) DO UPDATE SET enabled = 1, start = ?2, step = ?3, "
	         "max = ?4, reply_rate = ?5, weekdays_only = ?6, "
	         "counts_toward_cap = ?7, updated_at = ?8",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, w->inbox_id);
	sqlite3_bind_int(st, 2, w->start);
	sqlite3_bind_int(st, 3, w->step);
	sqlite3_bind_int(st, 4, w->max);
	sqlite3_bind_int(st, 5, w->reply_rate);
	sqlite3_bind_int(st, 6, w->weekdays_only);
	sqlite3_bind_int(st, 7, w->counts_toward_cap);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot store the warmup settings");
	sqlite3_finalize(st);
	return rc;
}

int db_warmup_disable(db *d, long long inbox_id, int64_t now, bool *found,
                      cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*found = false;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_prepare(d,
	                     "UPDATE warmup SET enabled = 0, updated_at = ?2 "
	                     "WHERE inbox_id = ?1",
	                     &st, err)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot disable warmup");
	*found = sqlite3_changes(d->h) > 0;
	sqlite3_finalize(st);
	if (rc)
		goto out;
	/* what was planned and not yet handed over is not sent: gone, so
	 * that enabling it again the same day plans the day anew (when
	 * none of that day's new sends had gone yet) */
	if ((rc = db_prepare(d,
	                     "DELETE FROM warmup_plan WHERE inbox_id = ?1 AND "
	                     "state = 'planned'",
	                     &st, err)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, inbox_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot drop the planned warmup sends");
	sqlite3_finalize(st);
out:
	if (rc == 0)
		return db_commit(d, err);
	db_rollback(d);
	return rc;
}

void db_warmup_list_free(db_warmup *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(l[i].inbox);
		free(l[i].email);
		free(l[i].timezone);
		free(l[i].paused_reason);
	}
	free(l);
}

int db_warmup_list(db *d, db_warmup **out, size_t *n, cs_err *err)
{
	sqlite3_stmt *st;
	db_warmup *l = NULL;
	size_t k = 0;
	int rc, r;

	*out = NULL;
	*n = 0;
	if ((rc = db_prepare(
	         d,
	         "SELECT w.inbox_id, i.name, i.email, i.provider, i.timezone, "
	         "i.status, i.paused_reason, w.enabled, w.start, w.step, "
	         "w.max, w.reply_rate, w.weekdays_only, w.counts_toward_cap, "
	         "w.first_day, w.last_topic FROM warmup w JOIN inboxes i ON "
	         "i.id = w.inbox_id ORDER BY i.name",
	         &st, err)) != 0)
		return rc;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		db_warmup *w;

		l = cs_xrealloc(l, (k + 1) * sizeof *l);
		w = &l[k++];
		memset(w, 0, sizeof *w);
		w->inbox_id = sqlite3_column_int64(st, 0);
		w->inbox = db_col_str(st, 1);
		w->email = db_col_str(st, 2);
		w->provider =
		    cs_provider_id_of((const char *)sqlite3_column_text(st, 3));
		w->timezone = db_col_str(st, 4);
		w->status = db_col_inbox_status(st, 5);
		w->paused_reason = db_col_str(st, 6);
		w->enabled = sqlite3_column_int(st, 7) != 0;
		w->start = sqlite3_column_int(st, 8);
		w->step = sqlite3_column_int(st, 9);
		w->max = sqlite3_column_int(st, 10);
		w->reply_rate = sqlite3_column_int(st, 11);
		w->weekdays_only = sqlite3_column_int(st, 12) != 0;
		w->counts_toward_cap = sqlite3_column_int(st, 13) != 0;
		copy_day(w->first_day, sqlite3_column_text(st, 14));
		w->last_topic = sqlite3_column_int(st, 15);
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot list the warmup inboxes");
		db_warmup_list_free(l, k);
		l = NULL;
		k = 0;
	}
	sqlite3_finalize(st);
	*out = l;
	*n = k;
	return rc;
}

int db_warmup_note(db *d, long long inbox_id, const char *first_day,
                   int last_topic, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE warmup SET first_day = coalesce(first_day, ?2), "
	    "last_topic = CASE WHEN ?3 >= 0 THEN ?3 ELSE last_topic END, "
	    "updated_at = ?4 WHERE inbox_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	db_bind_opt(st, 2, first_day);
	sqlite3_bind_int(st, 3, last_topic);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the warmup state");
	db_done(st);
	return rc;
}

/* ---- the plan ------------------------------------------------------------ */

int db_warmup_plan_add(db *d, const db_warmup_item *it, int64_t now,
                       bool *added, cs_err *err)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO warmup_plan(inbox_id, local_day, kind, "
	    "to_addr, subject, in_reply_to, refs, due_at, created_at, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)";
	sqlite3_stmt *st;
	int rc;

	if (added)
		*added = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, it->inbox_id);
	sqlite3_bind_text(st, 2, it->local_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_warmup_kind_name(it->kind), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, it->to_addr, -1, SQLITE_STATIC);
	db_bind_opt(st, 5, it->subject);
	db_bind_opt(st, 6, it->in_reply_to);
	db_bind_opt(st, 7, it->refs);
	sqlite3_bind_int64(st, 8, it->due_at);
	sqlite3_bind_int64(st, 9, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot plan a warmup send");
	else if (added)
		*added = sqlite3_changes(d->h) > 0;
	db_done(st);
	return rc;
}

int db_warmup_plan_count(db *d, long long inbox_id, const char *local_day,
                         db_warmup_kind kind, long long *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM warmup_plan WHERE inbox_id = ?1 AND "
	    "local_day = ?2 AND kind = ?3";
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, local_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_warmup_kind_name(kind), -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count the warmup plan");
	db_done(st);
	return rc;
}

/* fn per plan row in state whose due_at <= before, by inbox (id > 0:
 * that row only, whatever its state and due time; unqueued: only rows
 * without an outbox row queued or sending) */
static int plan_rows(db *d, const char *state, int64_t before, long long id,
                     bool unqueued,
                     int (*fn)(const db_warmup_item *it, void *arg), void *arg,
                     cs_err *err)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((rc = db_prepare(
	         d,
	         "SELECT id, inbox_id, local_day, kind, to_addr, subject, "
	         "in_reply_to, refs, due_at, message_id, state FROM "
	         "warmup_plan "
	         "p WHERE (?3 > 0 AND id = ?3) OR (?3 <= 0 AND state = ?1 AND "
	         "due_at <= ?2 AND (?4 = 0 OR NOT EXISTS (SELECT 1 FROM outbox "
	         "o WHERE o.warmup_plan_id = p.id AND o.state IN ('queued', "
	         "'sending')))) ORDER BY inbox_id, due_at, id",
	         &st, err)) != 0)
		return rc;
	db_bind_opt(st, 1, state);
	sqlite3_bind_int64(st, 2, before);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int(st, 4, unqueued);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		db_warmup_item it;

		memset(&it, 0, sizeof it);
		it.id = sqlite3_column_int64(st, 0);
		it.inbox_id = sqlite3_column_int64(st, 1);
		copy_day(it.local_day, sqlite3_column_text(st, 2));
		it.kind = (db_warmup_kind)db_col_enum(st, 3, kind_names,
		                                      CS_NNAMES(kind_names));
		it.to_addr = (const char *)sqlite3_column_text(st, 4);
		it.subject = (const char *)sqlite3_column_text(st, 5);
		it.in_reply_to = (const char *)sqlite3_column_text(st, 6);
		it.refs = (const char *)sqlite3_column_text(st, 7);
		it.due_at = sqlite3_column_int64(st, 8);
		it.message_id = (const char *)sqlite3_column_text(st, 9);
		it.state = (db_pstate)db_col_enum(st, 10, pstate_names,
		                                  CS_NNAMES(pstate_names));
		if ((rc = fn(&it, arg)) != 0)
			break;
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_fail(d, err, "cannot read the warmup plan");
	sqlite3_finalize(st);
	return rc;
}

int db_warmup_plan_due(db *d, int64_t now,
                       int (*fn)(const db_warmup_item *it, void *arg),
                       void *arg, cs_err *err)
{
	return plan_rows(d, "planned", now, 0, false, fn, arg, err);
}

int db_warmup_plan_unqueued(db *d, int64_t now,
                            int (*fn)(const db_warmup_item *it, void *arg),
                            void *arg, cs_err *err)
{
	return plan_rows(d, "planned", now, 0, true, fn, arg, err);
}

int db_warmup_plan_get(db *d, long long id,
                       int (*fn)(const db_warmup_item *it, void *arg),
                       void *arg, cs_err *err)
{
	return plan_rows(d, NULL, 0, id, false, fn, arg, err);
}

int db_warmup_next_due(db *d, int64_t *out, bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT min(t) FROM (SELECT min(due_at) AS t FROM warmup_plan "
	    "WHERE state = 'planned' UNION ALL SELECT min(due_at) FROM "
	    "warmup_actions WHERE state = 'planned')";
	sqlite3_stmt *st;
	int rc;

	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*out = sqlite3_column_int64(st, 0);
			*found = true;
		}
	} else
		rc = db_fail(d, err, "cannot read the warmup plan");
	db_done(st);
	return rc;
}

int db_warmup_plan_move(db *d, long long id, db_pstate from, db_pstate to,
                        const char *message_id, int64_t due_at,
                        const char *local_day, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE warmup_plan SET state = ?2, message_id = coalesce(?3, "
	    "message_id), due_at = CASE WHEN ?4 >= 0 THEN ?4 ELSE due_at END, "
	    "local_day = coalesce(?5, local_day), updated_at = ?6 WHERE id = "
	    "?1 AND state = ?7";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, db_pstate_name(to), -1, SQLITE_STATIC);
	db_bind_opt(st, 3, message_id);
	sqlite3_bind_int64(st, 4, due_at);
	db_bind_opt(st, 5, local_day);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_text(st, 7, db_pstate_name(from), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the warmup plan");
	else if (sqlite3_changes(d->h) != 1)
		rc = cs_err_set(err, CS_ECONFLICT,
		                "warmup plan row %lld is not %s (cannot become "
		                "%s)",
		                id, db_pstate_name(from), db_pstate_name(to));
	db_done(st);
	return rc;
}

/* Outcomes of a warmup message that a receiver's sighting settles as
 * sent: cut off by a crash (sending), lost at start-up (deferred, see
 * seq_warmup_uncertain), or after an unclear reply to the dot. */
#define SEEN_OUTCOMES "('sending', 'uncertain', 'deferred')"

int db_warmup_settle_seen(db *d, long long *mark, int64_t now,
                          long long *settled, cs_err *err)
{
	static const char top_sql[] = "SELECT coalesce(max(id), 0) FROM events";
	/* the plan first: it finds its rows through the messages still
	 * unsettled */
	static const char plan_sql[] =
	    "UPDATE warmup_plan SET state = 'sent', updated_at = ?1 WHERE "
	    "state IN ('sending', 'failed') AND message_id IN (SELECT "
	    "m.message_id FROM events e JOIN messages m ON m.message_id = "
	    "e.related_message_id WHERE e.id > ?2 AND e.id <= ?3 AND e.kind "
	    "= 'warmup' AND m.purpose = 'warmup' AND m.outcome "
	    "IN " SEEN_OUTCOMES ")";
	static const char msg_sql[] =
	    "UPDATE messages SET outcome = 'sent', smtp_reply = 'delivered: "
	    "a receiving inbox saw it', updated_at = ?1 WHERE purpose = "
	    "'warmup' AND outcome IN " SEEN_OUTCOMES " AND message_id IN "
	    "(SELECT related_message_id FROM events WHERE id > ?2 AND id <= "
	    "?3 AND kind = 'warmup')";
	/* and their outbox rows: sending (cut off, or in flight) or failed
	 * (lost at start-up) */
	static const char out_sql[] =
	    "UPDATE outbox SET state = 'sent', reason = 'delivered: a "
	    "receiving inbox saw it', updated_at = ?1 WHERE purpose = 'warmup' "
	    "AND state IN ('sending', 'failed') AND message_id IN (SELECT "
	    "m.message_id FROM events e JOIN messages m ON m.message_id = "
	    "e.related_message_id WHERE e.id > ?2 AND e.id <= ?3 AND e.kind "
	    "= 'warmup' AND m.purpose = 'warmup' AND m.outcome "
	    "IN " SEEN_OUTCOMES ")";
	const char *const upd[3] = {plan_sql, out_sql, msg_sql};
	sqlite3_stmt *st;
	long long top = 0;
	int rc, i;

	*settled = 0;
	if ((rc = db_cached(d, top_sql, &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		top = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot read the events");
	db_done(st);
	if (rc != 0 || top <= *mark)
		return rc;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	for (i = 0; i < 3 && rc == 0; i++) {
		if ((rc = db_cached(d, upd[i], &st, err)) != 0)
			break;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, *mark);
		sqlite3_bind_int64(st, 3, top);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot settle warmup messages");
		else if (i == 2)
			*settled = sqlite3_changes(d->h);
		db_done(st);
	}
	if (rc == 0 && (rc = db_commit(d, err)) == 0)
		*mark = top;
	else
		db_rollback(d);
	return rc;
}

int db_warmup_partner_counts(db *d, long long inbox_id, int64_t since,
                             int (*fn)(const char *to, long long n, void *arg),
                             void *arg, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((rc = db_prepare(d,
	                     "SELECT to_addr, count(*) FROM warmup_plan WHERE "
	                     "inbox_id = ?1 AND kind = 'new' AND state != "
	                     "'dropped' AND due_at >= ?2 GROUP BY 1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_int64(st, 2, since);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn((const char *)sqlite3_column_text(st, 0),
		             sqlite3_column_int64(st, 1), arg)) != 0)
			break;
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_fail(d, err, "cannot count warmup partners");
	sqlite3_finalize(st);
	return rc;
}

/* ---- the receiving side's IMAP actions ---------------------------------- */

int db_warmup_action_add(db *d, const db_warmup_action *a, int64_t now,
                         cs_err *err)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO warmup_actions(inbox_id, message_id, "
	    "action, folder, flag, due_at, created_at, updated_at, "
	    "uidvalidity, uid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, "
	    "?9)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, a->inbox_id);
	sqlite3_bind_text(st, 2, a->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_warmup_act_name(a->action), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, a->flag);
	sqlite3_bind_int64(st, 6, a->due_at);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, a->uidvalidity);
	sqlite3_bind_int64(st, 9, a->uid);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot plan a warmup action");
	db_done(st);
	return rc;
}

int db_warmup_actions_due(db *d, int64_t now,
                          int (*fn)(const db_warmup_action *a, void *arg),
                          void *arg, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((rc = db_prepare(d,
	                     "SELECT id, inbox_id, message_id, action, folder, "
	                     "flag, due_at, attempts, uidvalidity, uid FROM "
	                     "warmup_actions WHERE "
	                     "state = 'planned' AND due_at <= ?1 ORDER BY "
	                     "inbox_id, due_at, id",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		db_warmup_action a;

		memset(&a, 0, sizeof a);
		a.id = sqlite3_column_int64(st, 0);
		a.inbox_id = sqlite3_column_int64(st, 1);
		a.message_id = (const char *)sqlite3_column_text(st, 2);
		a.action = (db_warmup_act)db_col_enum(st, 3, act_names,
		                                      CS_NNAMES(act_names));
		a.folder = (const char *)sqlite3_column_text(st, 4);
		a.flag = sqlite3_column_int(st, 5) != 0;
		a.due_at = sqlite3_column_int64(st, 6);
		a.attempts = sqlite3_column_int(st, 7);
		a.uidvalidity = (uint32_t)sqlite3_column_int64(st, 8);
		a.uid = (uint32_t)sqlite3_column_int64(st, 9);
		if ((rc = fn(&a, arg)) != 0)
			break;
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_fail(d, err, "cannot read the warmup actions");
	sqlite3_finalize(st);
	return rc;
}

int db_warmup_action_set(db *d, long long id, db_warmup_act_state state,
                         int64_t due_at, bool rescued, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE warmup_actions SET state = ?2, due_at = CASE WHEN ?3 >= 0 "
	    "THEN ?3 ELSE due_at END, attempts = attempts + 1, rescued = "
	    "max(rescued, ?4), updated_at = ?5 WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, db_warmup_act_state_name(state), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, due_at);
	sqlite3_bind_int(st, 4, rescued);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update a warmup action");
	db_done(st);
	return rc;
}

/* ---- figures ------------------------------------------------------------- */

static int one_count(db *d, const char *sql, long long inbox_id,
                     const char *day, int64_t a, int64_t b, long long *out,
                     cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	db_bind_opt(st, 2, day);
	sqlite3_bind_int64(st, 3, a);
	sqlite3_bind_int64(st, 4, b);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count warmup figures");
	sqlite3_finalize(st);
	return rc;
}

int db_warmup_day_stats(db *d, long long inbox_id, const char *day,
                        int64_t start, int64_t end, db_warmup_figures *out,
                        cs_err *err)
{
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = one_count(d,
	                    "SELECT count(*) FROM warmup_plan WHERE inbox_id "
	                    "= ?1 AND local_day = ?2 AND state != 'dropped' "
	                    "AND ?3 <= ?4",
	                    inbox_id, day, start, end, &out->planned, err)) ||
	    (rc = one_count(d,
	                    "SELECT count(*) FROM messages WHERE inbox_id = ?1 "
	                    "AND local_day = ?2 AND purpose = 'warmup' AND "
	                    "outcome IN ('sending', 'sent', 'uncertain') AND "
	                    "?3 <= ?4",
	                    inbox_id, day, start, end, &out->sent, err)) ||
	    (rc = one_count(d,
	                    "SELECT count(*) FROM warmup_plan WHERE inbox_id "
	                    "= ?1 AND local_day = ?2 AND kind = 'reply' AND "
	                    "state = 'sent' AND ?3 <= ?4",
	                    inbox_id, day, start, end, &out->replies, err)) ||
	    (rc = one_count(d,
	                    "SELECT count(*) FROM events WHERE inbox_id = ?1 "
	                    "AND kind = 'warmup' AND received_at >= ?3 AND "
	                    "received_at < ?4 AND ?2 IS NOT NULL",
	                    inbox_id, day, start, end, &out->received, err)) ||
	    (rc = one_count(d,
	                    "SELECT count(*) FROM warmup_actions WHERE "
	                    "inbox_id = ?1 AND rescued = 1 AND updated_at >= "
	                    "?3 AND updated_at < ?4 AND ?2 IS NOT NULL",
	                    inbox_id, day, start, end, &out->rescued, err)))
		return rc;
	return 0;
}

int db_warmup_health(db *d, long long inbox_id, int64_t since, long long *seen,
                     long long *in_inbox, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(*), coalesce(sum(e.folder = 'INBOX'), 0) FROM "
	    "events e JOIN messages m ON m.message_id = e.related_message_id "
	    "WHERE e.kind = 'warmup' AND e.inbox_id != ?1 AND m.inbox_id = ?1 "
	    "AND m.purpose = 'warmup' AND m.created_at >= ?2";
	return db_count_since(d, sql, inbox_id, since, seen, in_inbox,
	                      "cannot compute warmup health", err);
}
