/*
 * db_sched.c - the scheduler's queries: due enrollments, cap counts,
 * variants, stops, and the outbox rows.
 *
 * The hot queries (one per ready inbox and per campaign in a pass) use
 * cached statements and the partial indexes of migration 7, so a pass
 * costs a few index probes whatever the number of enrollments.  The life
 * cycles these rows follow are documented in sequencer/seq_sched.c
 * (enrollments) and sequencer/seq_outbox.c (outbox).
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

#define ENR_COLS                                                               \
	"e.id, e.campaign_id, e.contact_id, coalesce(e.inbox_id, 0), "         \
	"e.state, e.step, e.due_at, coalesce(e.last_sent_at, 0), "             \
	"e.enrolled_at, e.thread_subject, e.thread_refs, e.reason, c.email, "  \
	"c.status, c.timezone"

static const char *const enr_state_names[] = {"active", "queued", "held",
                                              "completed", "stopped"};

DB_ENUM_NAMES(enr_state, db_enr_state, enr_state_names)

void db_enrollment_free(db_enrollment *e)
{
	if (e == NULL)
		return;
	free(e->thread_subject);
	free(e->thread_refs);
	free(e->reason);
	free(e->email);
	free(e->contact_tz);
	memset(e, 0, sizeof *e);
}

static void read_enr(sqlite3_stmt *st, db_enrollment *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->campaign_id = sqlite3_column_int64(st, 1);
	e->contact_id = sqlite3_column_int64(st, 2);
	e->inbox_id = sqlite3_column_int64(st, 3);
	e->state = (db_enr_state)db_col_enum(st, 4, enr_state_names,
	                                     CS_NNAMES(enr_state_names));
	e->step = sqlite3_column_int(st, 5);
	e->due_at = sqlite3_column_int64(st, 6);
	e->last_sent_at = sqlite3_column_int64(st, 7);
	e->enrolled_at = sqlite3_column_int64(st, 8);
	e->thread_subject = db_col_str(st, 9);
	e->thread_refs = db_col_str(st, 10);
	e->reason = db_col_str(st, 11);
	e->email = db_col_str(st, 12);
	e->contact_status = db_col_contact_status(st, 13);
	e->contact_tz = db_col_str(st, 14);
}

/* Run a one-row enrollment query with ?1 key, ?2 now, ?3/?4 the cursor. */
static int next_enr(db *d, const char *sql, long long key, int64_t now,
                    int64_t after_due, long long after_id, db_enrollment *out,
                    bool *found, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, after_due);
	sqlite3_bind_int64(st, 4, after_id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		read_enr(st, out);
		*found = true;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read due enrollments");
	db_done(st);
	return rc;
}

static const char followup_sql[] =
    "SELECT " ENR_COLS " FROM enrollments e JOIN contacts c ON c.id = "
    "e.contact_id JOIN campaigns k ON k.id = e.campaign_id WHERE "
    "e.inbox_id = ?1 AND e.state = 'active' AND e.due_at <= ?2 AND "
    "(e.due_at > ?3 OR (e.due_at = ?3 AND e.id > ?4)) AND k.status = "
    "'active' ORDER BY e.due_at, e.id LIMIT 1";

int db_enr_next_followup(db *d, long long inbox_id, int64_t now,
                         int64_t after_due, long long after_id,
                         db_enrollment *out, bool *found, cs_err *err)
{
	return next_enr(d, followup_sql, inbox_id, now, after_due, after_id,
	                out, found, err);
}

static const char new_sql[] =
    "SELECT " ENR_COLS " FROM enrollments e JOIN contacts c ON c.id = "
    "e.contact_id WHERE e.campaign_id = ?1 AND e.state = 'active' AND "
    "e.inbox_id IS NULL AND e.due_at <= ?2 AND (e.due_at > ?3 OR "
    "(e.due_at = ?3 AND e.id > ?4)) ORDER BY e.due_at, e.id LIMIT 1";

int db_enr_next_new(db *d, long long campaign_id, int64_t now,
                    int64_t after_due, long long after_id, db_enrollment *out,
                    bool *found, cs_err *err)
{
	return next_enr(d, new_sql, campaign_id, now, after_due, after_id, out,
	                found, err);
}

int db_enr_get(db *d, long long campaign_id, const char *email,
               db_enrollment *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_prepare(d,
	                     "SELECT " ENR_COLS
	                     " FROM enrollments e JOIN contacts c ON c.id = "
	                     "e.contact_id WHERE e.campaign_id = ?1 AND "
	                     "c.email = ?2",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_enr(st, out);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "%s is not enrolled in this campaign", email);
	else
		rc = db_fail(d, err, "cannot read the enrollment");
	sqlite3_finalize(st);
	return rc;
}

/* One cached UPDATE binding (?1 id-or-key, ?2 int64, ?3 text, ?4 now). */
int db_exec_update(db *d, const char *sql, long long id, int64_t v,
                   const char *text, int64_t now, long long *changes,
                   cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, v);
	db_bind_opt(st, 3, text);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the schedule");
	else if (changes)
		*changes = sqlite3_changes(d->h);
	db_done(st);
	return rc;
}

int db_count_since(db *d, const char *sql, long long id, int64_t since,
                   long long *a, long long *b, const char *what, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*a = 0;
	if (b)
		*b = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, since);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*a = sqlite3_column_int64(st, 0);
		if (b)
			*b = sqlite3_column_int64(st, 1);
	} else
		rc = db_fail(d, err, what);
	db_done(st);
	return rc;
}

static const char set_due_sql[] =
    "UPDATE enrollments SET due_at = ?2, updated_at = ?4 WHERE id = ?1 AND "
    "state = 'active'";

int db_enr_set_due(db *d, long long id, int64_t due, int64_t now, cs_err *err)
{
	return db_exec_update(d, set_due_sql, id, due, NULL, now, NULL, err);
}

int db_enr_set_state(db *d, long long id, db_enr_state state,
                     const char *reason, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE enrollments SET state = ?5, reason = ?3, updated_at = ?4 "
	    "WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	db_bind_opt(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, db_enr_state_name(state), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update an enrollment");
	db_done(st);
	return rc;
}

int db_enr_next_due(db *d, int64_t now, int64_t *next, bool *found,
                    bool *pending, cs_err *err)
{
	static const char next_sql[] =
	    "SELECT e.due_at FROM enrollments e JOIN campaigns k ON k.id = "
	    "e.campaign_id WHERE e.state = 'active' AND e.due_at > ?1 AND "
	    "k.status = 'active' ORDER BY e.due_at LIMIT 1";
	static const char pend_sql[] =
	    "SELECT 1 FROM enrollments e JOIN campaigns k ON k.id = "
	    "e.campaign_id WHERE e.state = 'active' AND e.due_at <= ?1 AND "
	    "k.status = 'active' LIMIT 1";
	sqlite3_stmt *st;
	int rc;

	*found = *pending = false;
	if ((rc = db_cached(d, next_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*next = sqlite3_column_int64(st, 0);
		*found = true;
	}
	db_done(st);
	if ((rc = db_cached(d, pend_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	*pending = sqlite3_step(st) == SQLITE_ROW;
	db_done(st);
	return 0;
}

int db_enr_stop_contact(db *d, const char *email, const char *reason,
                        int64_t now, long long *n, cs_err *err)
{
	static const char drop_sql[] =
	    "UPDATE outbox SET state = 'failed', reason = ?3, updated_at = ?4 "
	    "WHERE state IN ('queued', 'deferred') AND enrollment_id IN "
	    "(SELECT e.id FROM enrollments e JOIN contacts c ON c.id = "
	    "e.contact_id WHERE c.email = ?2 AND e.state = 'queued')";
	static const char stop_sql[] =
	    "UPDATE enrollments SET state = 'stopped', reason = ?3, "
	    "updated_at = ?4 WHERE contact_id = (SELECT id FROM contacts WHERE "
	    "email = ?2) AND state IN ('active', 'queued', 'held')";
	const char *sqls[2] = {drop_sql, stop_sql};
	sqlite3_stmt *st;
	int rc = 0, i;

	*n = 0;
	for (i = 0; i < 2 && rc == 0; i++) {
		if ((rc = db_cached(d, sqls[i], &st, err)) != 0)
			break;
		sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot stop the contact's steps");
		else if (i == 1)
			*n = sqlite3_changes(d->h);
		db_done(st);
	}
	return rc;
}

int db_enr_stop_company(db *d, const char *email, int64_t now, long long *n,
                        cs_err *err)
{
	const char *at = strrchr(email, '@');
	cs_buf pat = CS_BUF_INIT, why = CS_BUF_INIT;
	sqlite3_stmt *st;
	const char *p;
	int rc;

	*n = 0;
	if (at == NULL)
		return 0;
	cs_buf_puts(&pat, "%@");
	for (p = at + 1; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			cs_buf_putc(&pat, '\\');
		cs_buf_putc(&pat, *p);
	}
	cs_buf_printf(&why, "a colleague replied (%s)", email);
	rc = db_prepare(
	    d,
	    "UPDATE enrollments SET state = 'stopped', reason = ?3, updated_at "
	    "= ?4 WHERE id IN (SELECT o.id FROM enrollments r JOIN contacts rc "
	    "ON rc.id = r.contact_id JOIN campaigns k ON k.id = r.campaign_id "
	    "AND k.stop_company = 1 JOIN enrollments o ON o.campaign_id = "
	    "r.campaign_id JOIN contacts oc ON oc.id = o.contact_id WHERE "
	    "rc.email = ?1 AND o.id <> r.id AND o.state IN ('active', 'held') "
	    "AND oc.email LIKE ?2 ESCAPE '\\')",
	    &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, pat.data, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, why.data, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot stop the company's steps");
		*n = sqlite3_changes(d->h);
		sqlite3_finalize(st);
	}
	cs_buf_free(&pat);
	cs_buf_free(&why);
	return rc;
}

int db_variant_take(db *d, long long campaign_id, int step, int *variant,
                    cs_err *err)
{
	static const char pick_sql[] =
	    "SELECT variant FROM step_variants WHERE campaign_id = ?1 AND step "
	    "= ?2 ORDER BY assigned, variant LIMIT 1";
	static const char inc_sql[] =
	    "UPDATE step_variants SET assigned = assigned + 1 WHERE "
	    "campaign_id = ?1 AND step = ?2 AND variant = ?3";
	sqlite3_stmt *st;
	int rc;

	*variant = 0;
	if ((rc = db_cached(d, pick_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int(st, 2, step);
	if (sqlite3_step(st) == SQLITE_ROW)
		*variant = sqlite3_column_int(st, 0);
	else
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "campaign %lld has no step %d", campaign_id,
		                step);
	db_done(st);
	if (rc || (rc = db_cached(d, inc_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int(st, 2, step);
	sqlite3_bind_int(st, 3, *variant);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot count a variant");
	db_done(st);
	return rc;
}

int db_message_count_caps(db *d, long long inbox_id, const char *local_day,
                          long long *campaign, long long *total, cs_err *err)
{
	static const char sql[] =
	    "SELECT coalesce(sum(purpose IN ('campaign', 'test') OR (purpose "
	    "= 'warmup' AND EXISTS (SELECT 1 FROM warmup w WHERE w.inbox_id = "
	    "?1 AND w.counts_toward_cap))), 0), count(*) FROM messages WHERE "
	    "inbox_id = ?1 AND local_day = ?2";
	sqlite3_stmt *st;
	int rc;

	*campaign = *total = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, local_day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*campaign = sqlite3_column_int64(st, 0);
		*total = sqlite3_column_int64(st, 1);
	} else
		rc = db_fail(d, err, "cannot count the inbox's messages");
	db_done(st);
	if (rc == 0) {
		/* a campaign message tried again under its Message-ID
		 * (db_attempt.c): each later attempt counts once more */
		long long later = 0;

		rc =
		    db_attempt_count_later(d, inbox_id, local_day, &later, err);
		*campaign += later;
		*total += later;
	}
	return rc;
}

int db_message_count_domain(db *d, long long inbox_id, const char *domain,
                            int64_t since, long long *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM messages WHERE inbox_id = ?1 AND "
	    "created_at >= ?2 AND recipient LIKE ?3 ESCAPE '\\') + (SELECT "
	    "count(*) FROM send_attempts a JOIN messages m ON m.message_id = "
	    "a.message_id WHERE a.inbox_id = ?1 AND a.attempt > 1 AND "
	    "a.started_at >= ?2 AND m.recipient LIKE ?3 ESCAPE '\\')";
	cs_buf pat = CS_BUF_INIT;
	sqlite3_stmt *st;
	const char *p;
	int rc;

	*out = 0;
	cs_buf_puts(&pat, "%@");
	for (p = domain; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			cs_buf_putc(&pat, '\\');
		cs_buf_putc(&pat, *p);
	}
	if ((rc = db_cached(d, sql, &st, err)) == 0) {
		sqlite3_bind_int64(st, 1, inbox_id);
		sqlite3_bind_int64(st, 2, since);
		sqlite3_bind_text(st, 3, pat.data, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			*out = sqlite3_column_int64(st, 0);
		else
			rc = db_fail(d, err, "cannot count messages");
		db_done(st);
	}
	cs_buf_free(&pat);
	return rc;
}

int db_enr_sent(db *d, long long id, int next_step, bool completed,
                int64_t sent_at, int64_t next_due, const char *thread_subject,
                const char *thread_refs, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "UPDATE enrollments SET state = CASE WHEN ?3 THEN 'completed' ELSE "
	    "'active' END, step = ?2, last_sent_at = ?4, due_at = ?5, "
	    "thread_subject = ?6, thread_refs = ?7, updated_at = ?8 WHERE id = "
	    "?1 AND state = 'queued'";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, next_step);
	sqlite3_bind_int(st, 3, completed);
	sqlite3_bind_int64(st, 4, sent_at);
	sqlite3_bind_int64(st, 5, next_due);
	db_bind_opt(st, 6, thread_subject);
	db_bind_opt(st, 7, thread_refs);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record a sent step");
	db_done(st);
	return rc;
}

int db_enr_by_id(db *d, long long id, db_enrollment *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT " ENR_COLS " FROM enrollments e JOIN contacts c ON c.id = "
	    "e.contact_id WHERE e.id = ?1";
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_enr(st, out);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND, "no enrollment %lld", id);
	else
		rc = db_fail(d, err, "cannot read the enrollment");
	db_done(st);
	return rc;
}

int db_campaign_new_since(db *d, long long campaign_id, int64_t since,
                          long long *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM outbox o JOIN enrollments e ON e.id = "
	    "o.enrollment_id WHERE e.campaign_id = ?1 AND o.step = 1 AND "
	    "o.created_at >= ?2";
	return db_count_since(d, sql, campaign_id, since, out, NULL,
	                      "cannot count new contacts", err);
}

/* One UPDATE of a contact's enrollments: ?1 email, ?2 int64, ?3 now. */
static int contact_update(db *d, const char *sql, const char *email, int64_t v,
                          int64_t now, long long *n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot update the contact's steps");
	else
		*n = sqlite3_changes(d->h);
	db_done(st);
	return rc;
}

int db_enr_stop_auto_reply(db *d, const char *email, int64_t now, long long *n,
                           cs_err *err)
{
	static const char sql[] =
	    "UPDATE enrollments SET state = 'stopped', reason = 'contact "
	    "auto-replied', updated_at = ?3 WHERE contact_id = (SELECT id FROM "
	    "contacts WHERE email = ?1) AND state IN ('active', 'held') AND "
	    "campaign_id IN (SELECT id FROM campaigns WHERE stop_on_auto_reply "
	    "= 1) AND ?2 = ?2";

	return contact_update(d, sql, email, 0, now, n, err);
}

int db_enr_postpone(db *d, const char *email, int64_t until, int64_t now,
                    long long *n, cs_err *err)
{
	static const char sql[] =
	    "UPDATE enrollments SET due_at = max(due_at, ?2), updated_at = ?3 "
	    "WHERE contact_id = (SELECT id FROM contacts WHERE email = ?1) AND "
	    "state = 'active' AND due_at < ?2";

	return contact_update(d, sql, email, until, now, n, err);
}

int db_enr_rewind(db *d, long long id, int step, int64_t due, int64_t now,
                  cs_err *err)
{
	static const char sql[] =
	    "UPDATE enrollments SET state = 'active', step = ?2, due_at = ?3, "
	    "updated_at = ?4 WHERE id = ?1 AND state IN ('active', "
	    "'completed')";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, step);
	sqlite3_bind_int64(st, 3, due);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot reschedule a step");
	db_done(st);
	return rc;
}

int db_enr_list_held(db *d, long long campaign_id,
                     int (*fn)(const db_enrollment *e, void *arg), void *arg,
                     cs_err *err)
{
	sqlite3_stmt *st;
	db_enrollment *v = NULL;
	size_t n = 0, i;
	int rc, s;

	if ((rc = db_prepare(d,
	                     "SELECT " ENR_COLS
	                     " FROM enrollments e JOIN contacts c ON c.id = "
	                     "e.contact_id WHERE e.campaign_id = ?1 AND "
	                     "e.state = 'held' ORDER BY e.updated_at, e.id",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		v = cs_xrealloc(v, (n + 1) * sizeof *v);
		read_enr(st, &v[n++]);
	}
	if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read held enrollments");
	sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = fn(&v[i], arg);
		db_enrollment_free(&v[i]);
	}
	free(v);
	return rc;
}
