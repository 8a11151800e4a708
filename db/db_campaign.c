/*
 * db_campaign.c - campaigns, their steps and variants, and enrollment.
 *
 * A campaign is stored whole (row, steps, variants) in one transaction,
 * after sequencer/ checked the YAML.  Variants keep the template version
 * that was current at creation, so importing a template again never
 * changes a running campaign.  Enrollment is one INSERT ... SELECT per
 * list, so a list of a million contacts enrolls in one statement.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"draft", "active", "paused",
                                           "deleted"};

DB_ENUM_NAMES(campaign_status, db_campaign_status, status_names)

void db_campaign_free(db_campaign *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	free(c->name);
	free(c->file);
	free(c->source);
	free(c->list);
	free(c->inboxes);
	free(c->timezone);
	for (i = 0; i < c->nsteps; i++) {
		free(c->steps[i].delay_unit);
		for (j = 0; j < c->steps[i].nvariants; j++)
			free(c->steps[i].variants[j].template_name);
		free(c->steps[i].variants);
	}
	free(c->steps);
	memset(c, 0, sizeof *c);
}

void db_campaign_list_free(db_campaign *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		db_campaign_free(&list[i]);
	free(list);
}

/* Insert c's steps as steps first + 1, first + 2, ... of campaign id. */
static int step_rows_from(db *d, const db_campaign *c, long long id, int first,
                          cs_err *err)
{
	sqlite3_stmt *st = NULL, *sv = NULL;
	size_t i, j;
	int rc;

	if ((rc = db_prepare(d,
	                     "INSERT INTO campaign_steps(campaign_id, step, "
	                     "delay_amount, delay_unit, new_thread) VALUES "
	                     "(?1, ?2, ?3, ?4, ?5)",
	                     &st, err)) != 0 ||
	    (rc = db_prepare(d,
	                     "INSERT INTO step_variants(campaign_id, step, "
	                     "variant, template_version_id) VALUES (?1, ?2, "
	                     "?3, ?4)",
	                     &sv, err)) != 0)
		goto out;
	for (i = 0; i < c->nsteps; i++) {
		const db_step *s = &c->steps[i];

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, first + (int)i + 1);
		sqlite3_bind_int(st, 3, s->delay_amount);
		sqlite3_bind_text(st, 4, s->delay_unit, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, s->new_thread);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_fail(d, err, "cannot store a campaign step");
			goto out;
		}
		for (j = 0; j < s->nvariants; j++) {
			sqlite3_reset(sv);
			sqlite3_bind_int64(sv, 1, id);
			sqlite3_bind_int(sv, 2, first + (int)i + 1);
			sqlite3_bind_int(sv, 3, (int)j);
			sqlite3_bind_int64(sv, 4,
			                   s->variants[j].template_version_id);
			if (sqlite3_step(sv) != SQLITE_DONE) {
				rc = db_fail(d, err,
				             "cannot store a step's template");
				goto out;
			}
		}
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(sv);
	return rc;
}

/* A campaign's settings as parameters ?2 (file) to ?16 (now) of the
 * INSERT (?1 its name) and of the UPDATE (?1 its id): one list for both. */
static void bind_settings(sqlite3_stmt *st, const db_campaign *c, int64_t now)
{
	db_bind_opt(st, 2, c->file);
	sqlite3_bind_text(st, 3, c->source, -1, SQLITE_STATIC);
	db_bind_opt(st, 4, c->list);
	sqlite3_bind_text(st, 5, c->inboxes, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->timezone, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, c->window_days);
	sqlite3_bind_int(st, 8, c->window_from);
	sqlite3_bind_int(st, 9, c->window_to);
	sqlite3_bind_int(st, 10, c->contact_tz);
	sqlite3_bind_int(st, 11, c->new_per_day);
	sqlite3_bind_int(st, 12, c->esp_match);
	sqlite3_bind_int(st, 13, c->stop_on_auto_reply);
	sqlite3_bind_int(st, 14, c->stop_company);
	sqlite3_bind_int(st, 15, c->allow_parallel);
	sqlite3_bind_int64(st, 16, now);
}

int db_campaign_add(db *d, const db_campaign *c, int64_t now, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_prepare(
	         d,
	         "INSERT INTO campaigns(name, file, source, list_id, inboxes, "
	         "timezone, window_days, window_from, window_to, contact_tz, "
	         "new_per_day, esp_match, stop_on_auto_reply, stop_company, "
	         "allow_parallel, created_at, updated_at) VALUES (?1, ?2, ?3, "
	         "(SELECT id FROM lists WHERE name = ?4), ?5, ?6, ?7, ?8, ?9, "
	         "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
	         &st, err)) != 0)
		goto fail;
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	bind_settings(st, c, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(d->h) == SQLITE_CONSTRAINT_UNIQUE)
			rc = cs_err_set(err, CS_EEXIST,
			                "a campaign named '%s' already exists",
			                c->name);
		else
			rc = db_fail(d, err, "cannot store the campaign");
		goto fail;
	}
	if ((rc = step_rows_from(d, c, sqlite3_last_insert_rowid(d->h), 0,
	                         err)) != 0)
		goto fail;
	sqlite3_finalize(st);
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

#define CAMP_COLS                                                              \
	"c.id, c.name, c.file, c.source, l.name, c.inboxes, c.timezone, "      \
	"c.window_days, c.window_from, c.window_to, c.contact_tz, "            \
	"c.new_per_day, c.esp_match, c.stop_on_auto_reply, c.stop_company, "   \
	"c.allow_parallel, CASE WHEN c.deleted_at IS NULL THEN c.status "      \
	"ELSE 'deleted' END, c.created_at, c.updated_at"

static void read_campaign(sqlite3_stmt *st, db_campaign *c)
{
	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(st, 0);
	c->name = db_col_str(st, 1);
	c->file = db_col_str(st, 2);
	c->source = db_col_str(st, 3);
	c->list = db_col_str(st, 4);
	c->inboxes = db_col_str(st, 5);
	c->timezone = db_col_str(st, 6);
	c->window_days = sqlite3_column_int(st, 7);
	c->window_from = sqlite3_column_int(st, 8);
	c->window_to = sqlite3_column_int(st, 9);
	c->contact_tz = sqlite3_column_int(st, 10) != 0;
	c->new_per_day = sqlite3_column_int(st, 11);
	c->esp_match = sqlite3_column_int(st, 12) != 0;
	c->stop_on_auto_reply = sqlite3_column_int(st, 13) != 0;
	c->stop_company = sqlite3_column_int(st, 14) != 0;
	c->allow_parallel = sqlite3_column_int(st, 15) != 0;
	c->status = (db_campaign_status)db_col_enum(st, 16, status_names,
	                                            CS_NNAMES(status_names));
	c->created_at = sqlite3_column_int64(st, 17);
	c->updated_at = sqlite3_column_int64(st, 18);
}

/* Steps and variants of c (c->id set). */
static int read_steps(db *d, db_campaign *c, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s0;

	if ((rc =
	         db_prepare(d,
	                    "SELECT s.step, s.delay_amount, s.delay_unit, "
	                    "s.new_thread, v.variant, v.template_version_id, "
	                    "t.name, v.assigned FROM campaign_steps s JOIN "
	                    "step_variants v ON v.campaign_id = s.campaign_id "
	                    "AND v.step = s.step JOIN template_versions tv ON "
	                    "tv.id = v.template_version_id JOIN templates t ON "
	                    "t.id = tv.template_id WHERE s.campaign_id = ?1 "
	                    "ORDER BY s.step, v.variant",
	                    &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, c->id);
	while ((s0 = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_int(st, 0);
		db_step *s;
		db_variant *v;

		if ((size_t)n > c->nsteps) {
			c->steps =
			    cs_xrealloc(c->steps, (size_t)n * sizeof *c->steps);
			memset(&c->steps[c->nsteps], 0,
			       ((size_t)n - c->nsteps) * sizeof *c->steps);
			c->nsteps = (size_t)n;
		}
		s = &c->steps[n - 1];
		s->step = n;
		s->delay_amount = sqlite3_column_int(st, 1);
		if (s->delay_unit == NULL)
			s->delay_unit = db_col_str(st, 2);
		s->new_thread = sqlite3_column_int(st, 3) != 0;
		s->variants = cs_xrealloc(s->variants, (s->nvariants + 1) *
		                                           sizeof *s->variants);
		v = &s->variants[s->nvariants++];
		v->template_version_id = sqlite3_column_int64(st, 5);
		v->template_name = db_col_str(st, 6);
		v->assigned = sqlite3_column_int64(st, 7);
	}
	if (s0 != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read campaign steps");
	sqlite3_finalize(st);
	return rc;
}

static int get_by(db *d, const char *where, const char *name, long long id,
                  db_campaign *out, cs_err *err)
{
	cs_buf sql = CS_BUF_INIT;
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	cs_buf_printf(&sql,
	              "SELECT " CAMP_COLS " FROM campaigns c LEFT JOIN lists l "
	              "ON l.id = c.list_id WHERE %s",
	              where);
	rc = db_prepare(d, sql.data, &st, err);
	cs_buf_free(&sql);
	if (rc)
		return rc;
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_campaign(st, out);
	else if (s == SQLITE_DONE)
		rc = name ? cs_err_set(err, CS_ENOTFOUND,
		                       "no campaign named '%s' (see 'coldseq "
		                       "campaign list')",
		                       name)
		          : cs_err_set(err, CS_ENOTFOUND, "no campaign %lld",
		                       id);
	else
		rc = db_fail(d, err, "cannot read campaigns");
	sqlite3_finalize(st);
	if (rc == 0 && (rc = read_steps(d, out, err)) != 0)
		db_campaign_free(out);
	return rc;
}

int db_campaign_get(db *d, const char *name, db_campaign *out, cs_err *err)
{
	return get_by(d, "c.name = ?1", name, 0, out, err);
}

int db_campaign_get_id(db *d, long long id, db_campaign *out, cs_err *err)
{
	return get_by(d, "c.id = ?1", NULL, id, out, err);
}

int db_campaign_list(db *d, db_campaign **out, size_t *n, cs_err *err)
{
	sqlite3_stmt *st;
	db_campaign *v = NULL;
	size_t k = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_prepare(d,
	                     "SELECT " CAMP_COLS
	                     " FROM campaigns c LEFT JOIN lists l ON l.id = "
	                     "c.list_id ORDER BY c.name",
	                     &st, err)) != 0)
		return rc;
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = cs_xrealloc(v, (k + 1) * sizeof *v);
		read_campaign(st, &v[k++]);
	}
	sqlite3_finalize(st);
	for (i = 0; i < k && rc == 0; i++)
		rc = read_steps(d, &v[i], err);
	if (rc) {
		db_campaign_list_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int db_campaign_set_status(db *d, const char *name, db_campaign_status status,
                           int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "UPDATE campaigns SET status = ?2, updated_at = "
	                     "?3 WHERE name = ?1 AND deleted_at IS NULL",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, db_campaign_status_name(status), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot change the campaign");
	else if (sqlite3_changes(d->h) == 0)
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "no campaign named '%s' (a deleted campaign "
		                "cannot change)",
		                name);
	sqlite3_finalize(st);
	if (rc == 0 && status == DB_CAMPAIGN_ACTIVE)
		/* its messages that waited for the pause go now */
		rc = db_outbox_wake(d,
		                    "enrollment_id IN (SELECT e.id FROM "
		                    "enrollments e JOIN campaigns k ON k.id = "
		                    "e.campaign_id WHERE k.name = ?1)",
		                    name, DB_WAIT_CAMPAIGN, now, err);
	return rc;
}

int db_list_exists(db *d, const char *name, bool *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "SELECT 1 FROM lists WHERE name = ?1", &st,
	                     err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	*out = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return 0;
}

int db_campaign_counts(db *d, long long campaign_id, db_enroll_counts *out,
                       cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(d,
	                     "SELECT state, count(*) FROM enrollments WHERE "
	                     "campaign_id = ?1 GROUP BY state",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		db_enr_state s = DB_ENR_STOPPED;
		long long n = sqlite3_column_int64(st, 1);

		db_enr_state_parse((const char *)sqlite3_column_text(st, 0),
		                   &s);
		switch (s) {
		case DB_ENR_ACTIVE: out->active = n; break;
		case DB_ENR_QUEUED: out->queued = n; break;
		case DB_ENR_HELD: out->held = n; break;
		case DB_ENR_COMPLETED: out->completed = n; break;
		case DB_ENR_STOPPED: out->stopped = n; break;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* The candidates of an enrollment: members of list ?1, or the contact with
 * address ?5 when ?1 is NULL. */
#define CANDIDATES                                                             \
	"(SELECT c.id AS cid, c.status AS cstatus FROM contacts c WHERE "      \
	"(?1 IS NULL AND c.email = ?5) OR (?1 IS NOT NULL AND c.id IN "        \
	"(SELECT m.contact_id FROM list_members m JOIN lists l ON l.id = "     \
	"m.list_id WHERE l.name = ?1)))"
#define BUSY_ELSEWHERE                                                         \
	"EXISTS (SELECT 1 FROM enrollments o WHERE o.contact_id = k.cid AND "  \
	"o.campaign_id <> ?2 AND o.state IN ('active', 'queued', 'held'))"
#define ALREADY                                                                \
	"EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign_id = ?2 AND "    \
	"e.contact_id = k.cid)"

static int count_q(db *d, const char *sql, const db_campaign *c,
                   const char *list, const char *email, long long *out,
                   cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	db_bind_opt(st, 1, list);
	sqlite3_bind_int64(st, 2, c->id);
	db_bind_opt(st, 5, email);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out += sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot count contacts to enroll");
	sqlite3_finalize(st);
	return rc;
}

int db_campaign_enroll(db *d, const db_campaign *c, const char *list,
                       const char *email, int64_t now, db_enroll_result *out,
                       cs_err *err)
{
	sqlite3_stmt *st = NULL;
	long long found = 0;
	int rc;

	if (c->status == DB_CAMPAIGN_DELETED)
		return cs_err_set(
		    err, CS_ECONFLICT,
		    "campaign '%s' was deleted: it enrolls nobody", c->name);
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = count_q(d, "SELECT count(*) FROM " CANDIDATES " k", c, list,
	                  email, &found, err)) != 0)
		goto fail;
	if (email && found == 0)
		out->not_contacts++;
	if ((rc = count_q(
	         d, "SELECT count(*) FROM " CANDIDATES " k WHERE " ALREADY, c,
	         list, email, &out->already, err)) != 0 ||
	    (rc = count_q(d,
	                  "SELECT count(*) FROM " CANDIDATES
	                  " k WHERE k.cstatus <> 'active' AND NOT " ALREADY,
	                  c, list, email, &out->inactive, err)) != 0)
		goto fail;
	if (!c->allow_parallel &&
	    (rc = count_q(d,
	                  "SELECT count(*) FROM " CANDIDATES
	                  " k WHERE k.cstatus = 'active' AND NOT " ALREADY
	                  " AND " BUSY_ELSEWHERE,
	                  c, list, email, &out->parallel, err)) != 0)
		goto fail;
	if ((rc = db_prepare(d,
	                     "INSERT INTO enrollments(campaign_id, contact_id, "
	                     "due_at, enrolled_at, updated_at) SELECT ?2, "
	                     "k.cid, ?3, ?3, ?3 FROM " CANDIDATES
	                     " k WHERE k.cstatus = 'active' AND NOT " ALREADY
	                     " AND (?4 OR NOT " BUSY_ELSEWHERE
	                     ") ORDER BY k.cid",
	                     &st, err)) != 0)
		goto fail;
	db_bind_opt(st, 1, list);
	sqlite3_bind_int64(st, 2, c->id);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int(st, 4, c->allow_parallel);
	db_bind_opt(st, 5, email);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot enroll contacts");
		goto fail;
	}
	out->enrolled += sqlite3_changes(d->h);
	sqlite3_finalize(st);
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}

int db_campaign_release_held(db *d, long long campaign_id, int64_t now,
                             long long *n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "UPDATE enrollments SET state = 'active', reason "
	                     "= NULL, due_at = max(due_at, ?2), updated_at = "
	                     "?2 WHERE campaign_id = ?1 AND state = 'held'",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot release held contacts");
	*n = sqlite3_changes(d->h);
	sqlite3_finalize(st);
	return rc;
}

/* ---- delete and edit (issue 18) ------------------------------------- */

/* One statement with ?1 = id, ?2 = now, ?3 = text (each bound only when
 * the statement uses it); *changes how many rows
 * it changed (may be NULL). */
static int run1(db *d, const char *sql, long long id, int64_t now,
                const char *text, long long *changes, const char *what,
                cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	db_bind_opt(st, 3, text);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, what);
	else if (changes)
		*changes = sqlite3_changes(d->h);
	sqlite3_finalize(st);
	return rc;
}

int db_campaign_delete_draft(db *d, long long id, cs_err *err)
{
	long long n = 0;
	int rc;

	rc = run1(d,
	          "DELETE FROM campaigns WHERE id = ?1 AND status = 'draft' "
	          "AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
	          "outbox o JOIN enrollments e ON e.id = o.enrollment_id "
	          "WHERE e.campaign_id = ?1)",
	          id, 0, NULL, &n, "cannot delete the campaign", err);
	if (rc == 0 && n == 0)
		rc = cs_err_set(err, CS_ECONFLICT,
		                "the campaign is no longer an unused draft "
		                "(it changed meanwhile); nothing was deleted");
	return rc;
}

int db_campaign_retire(db *d, long long id, int64_t now, db_retire_result *out,
                       cs_err *err)
{
	static const char *const reason = "campaign deleted";
	sqlite3_stmt *st = NULL;
	char *name = NULL;
	int rc, i, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_prepare(d,
	                     "SELECT name FROM campaigns WHERE id = ?1 AND "
	                     "deleted_at IS NULL",
	                     &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "the campaign is gone or already deleted");
		goto fail;
	}
	name = db_col_str(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	/* rows waiting to go never go: not queued, not retried, not
	 * released (a row being sent now finishes and is recorded) */
	if ((rc = run1(d,
	               "UPDATE outbox SET state = 'failed', reason = ?3, "
	               "updated_at = ?2 WHERE state IN ('queued', 'deferred', "
	               "'held') AND enrollment_id IN (SELECT id FROM "
	               "enrollments WHERE campaign_id = ?1)",
	               id, now, reason, &out->dropped,
	               "cannot drop the campaign's waiting messages", err)) !=
	        0 ||
	    (rc = run1(d,
	               "UPDATE enrollments SET state = 'stopped', reason = ?3, "
	               "updated_at = ?2 WHERE campaign_id = ?1 AND state IN "
	               "('active', 'queued', 'held')",
	               id, now, reason, &out->stopped,
	               "cannot stop the campaign's contacts", err)) != 0)
		goto fail;
	/* the name is free again; the tombstone keeps a name no campaign
	 * file can give (names have no spaces or parentheses) */
	if ((rc = db_prepare(d,
	                     "UPDATE campaigns SET name = ?2, status = "
	                     "'paused', deleted_at = ?3, updated_at = ?3 "
	                     "WHERE id = ?1",
	                     &st, err)) != 0)
		goto fail;
	for (i = 1; i < 1000; i++) {
		char *tomb = i == 1 ? cs_xasprintf("%s (deleted)", name)
		                    : cs_xasprintf("%s (deleted %d)", name, i);

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, tomb, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, now);
		s = sqlite3_step(st);
		if (s == SQLITE_DONE) {
			out->kept_as = tomb;
			break;
		}
		free(tomb);
		if (sqlite3_extended_errcode(d->h) !=
		    SQLITE_CONSTRAINT_UNIQUE) {
			rc =
			    db_fail(d, err, "cannot mark the campaign deleted");
			goto fail;
		}
	}
	if (out->kept_as == NULL) {
		rc = cs_err_set(err, CS_EEXIST,
		                "too many deleted campaigns named '%s'", name);
		goto fail;
	}
	sqlite3_finalize(st);
	free(name);
	if ((rc = db_commit(d, err)) != 0) {
		db_rollback(d);
		free(out->kept_as);
		out->kept_as = NULL;
	}
	return rc;
fail:
	sqlite3_finalize(st);
	free(name);
	db_rollback(d);
	return rc;
}

int db_campaign_progress(db *d, long long id, db_campaign_progress_t *out,
                         cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(
	         d,
	         "SELECT (SELECT coalesce(max(o.step), 0) FROM outbox o JOIN "
	         "enrollments e ON e.id = o.enrollment_id WHERE e.campaign_id "
	         "= ?1), (SELECT count(*) FROM enrollments WHERE campaign_id = "
	         "?1 AND state = 'completed'), (SELECT count(*) FROM "
	         "enrollments WHERE campaign_id = ?1 AND state IN ('active', "
	         "'queued', 'held') AND step > 1)",
	         &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->reached = sqlite3_column_int(st, 0);
		out->completed = sqlite3_column_int64(st, 1);
		out->waiting = sqlite3_column_int64(st, 2);
	} else
		rc = db_fail(d, err, "cannot read the campaign's progress");
	sqlite3_finalize(st);
	return rc;
}

int db_campaign_replace(db *d, long long id, const db_campaign *c, int keep,
                        int64_t now, cs_err *err)
{
	sqlite3_stmt *st = NULL;
	db_campaign tail;
	int rc;

	if ((size_t)keep > c->nsteps)
		return cs_err_set(err, CS_EINVAL,
		                  "cannot keep %d steps of a %zu-step campaign",
		                  keep, c->nsteps);
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_prepare(
	         d,
	         "UPDATE campaigns SET file = ?2, source = ?3, list_id = "
	         "(SELECT id FROM lists WHERE name = ?4), inboxes = ?5, "
	         "timezone = ?6, window_days = ?7, window_from = ?8, window_to "
	         "= ?9, contact_tz = ?10, new_per_day = ?11, esp_match = ?12, "
	         "stop_on_auto_reply = ?13, stop_company = ?14, allow_parallel "
	         "= ?15, updated_at = ?16 WHERE id = ?1 AND deleted_at IS NULL",
	         &st, err)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	bind_settings(st, c, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot change the campaign");
		goto fail;
	}
	if (sqlite3_changes(d->h) == 0) {
		rc = cs_err_set(err, CS_ENOTFOUND,
		                "the campaign is gone or was deleted");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = run1(d,
	               "DELETE FROM step_variants WHERE campaign_id = ?1 AND "
	               "step > ?2",
	               id, keep, NULL, NULL, "cannot replace the steps",
	               err)) != 0 ||
	    (rc = run1(d,
	               "DELETE FROM campaign_steps WHERE campaign_id = ?1 AND "
	               "step > ?2",
	               id, keep, NULL, NULL, "cannot replace the steps",
	               err)) != 0)
		goto fail;
	/* steps keep..nsteps, numbered from keep + 1 */
	tail = *c;
	tail.steps = c->steps + keep;
	tail.nsteps = c->nsteps - (size_t)keep;
	if ((rc = step_rows_from(d, &tail, id, keep, err)) != 0)
		goto fail;
	return db_commit(d, err);
fail:
	sqlite3_finalize(st);
	db_rollback(d);
	return rc;
}
