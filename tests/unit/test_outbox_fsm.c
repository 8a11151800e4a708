/*
 * test_outbox_fsm.c - every (from, to) pair of outbox states, and of
 * warmup plan states, fed to the one transition function: the pairs of
 * the table move the row (read back from the database), every other pair
 * is refused and leaves the row as it was.  In the test (ASan) build a
 * refused pair fails an assert(), so each one runs in a child process
 * that must die of SIGABRT (or, in a build without the assert, return
 * CS_EINVAL).
 */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "sequencer/seq.h"

typedef struct fx {
	char *dir, *path;
	db *d;
	sqlite3 *raw; /* foreign keys off: rows without their parents */
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	f->path = cs_xasprintf("%s/coldseq.db", f->dir);
	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &f->d, &err), 0);
	assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
	sqlite3_busy_timeout(f->raw, 5000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	sqlite3_close(f->raw);
	db_close(f->d);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static long long insert(fx *f, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(f->raw, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	return sqlite3_last_insert_rowid(f->raw);
}

static long long outbox_row(fx *f, const char *state)
{
	static int n;
	char sql[512];

	snprintf(sql, sizeof sql,
	         "INSERT INTO outbox(enrollment_id, inbox_id, step, variant, "
	         "message_id, subject, state, due_at, created_at, updated_at) "
	         "VALUES (1, 1, 1, 0, '<fsm%d@x>', 's', '%s', 0, 0, 0)",
	         ++n, state);
	return insert(f, sql);
}

static long long plan_row(fx *f, const char *state)
{
	char sql[512];

	snprintf(sql, sizeof sql,
	         "INSERT INTO warmup_plan(inbox_id, local_day, kind, to_addr, "
	         "due_at, state, created_at, updated_at) VALUES (1, "
	         "'2026-12-01', 'new', 'b@x.test', 0, '%s', 0, 0)",
	         state);
	return insert(f, sql);
}

static void state_of(fx *f, const char *table, long long id, char *out,
                     size_t len)
{
	sqlite3_stmt *st;
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT state FROM %s WHERE id = ?1", table);
	assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Run a move that must be refused in a child: it must abort (the test
 * build's assert) or return CS_EINVAL (a build without it). */
static void refused_in_child(fx *f, bool outbox, long long id, int from, int to)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cs_err err = CS_ERR_INIT;
		int rc = outbox
		             ? seq_outbox_move(f->d, id, (db_ostate)from,
		                               (db_ostate)to, "x", -1, 1, &err)
		             : seq_warmup_plan_move(f->d, id, (db_pstate)from,
		                                    (db_pstate)to, NULL, -1,
		                                    NULL, 1, &err);

		_exit(rc == CS_EINVAL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		assert_int_equal(WTERMSIG(status), SIGABRT);
	else
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void outbox_pairs(void **state)
{
	fx *f = *state;
	int from, to, allowed = 0;
	cs_err err = CS_ERR_INIT;
	char got[32];

	for (from = 0; from < DB_O_N; from++)
		for (to = 0; to < DB_O_N; to++) {
			const char *fn = db_ostate_name((db_ostate)from);
			const char *tn = db_ostate_name((db_ostate)to);
			long long id = outbox_row(f, fn);

			if (seq_outbox_allowed((db_ostate)from,
			                       (db_ostate)to)) {
				allowed++;
				if (seq_outbox_move(f->d, id, (db_ostate)from,
				                    (db_ostate)to, "x", -1, 1,
				                    &err) != 0)
					fail_msg("%s -> %s: %s", fn, tn,
					         err.msg);
				state_of(f, "outbox", id, got, sizeof got);
				assert_string_equal(got, tn);
				/* the row is not in `from` any more (unless
				 * it stays): a second move is a conflict */
				if (from != to)
					assert_int_equal(
					    seq_outbox_move(f->d, id,
					                    (db_ostate)from,
					                    (db_ostate)to, "x",
					                    -1, 1, &err),
					    CS_ECONFLICT);
			} else {
				refused_in_child(f, true, id, from, to);
				state_of(f, "outbox", id, got, sizeof got);
				assert_string_equal(got, fn);
			}
		}
	/* the table of seq_outbox_fsm.c has 10 rows */
	assert_int_equal(allowed, 10);
	/* the named pairs, both ways where only one is allowed */
	assert_true(seq_outbox_allowed(DB_O_HELD, DB_O_SENT));
	assert_true(seq_outbox_allowed(DB_O_HELD, DB_O_QUEUED));
	assert_true(seq_outbox_allowed(DB_O_HELD, DB_O_FAILED));
	assert_false(seq_outbox_allowed(DB_O_SENT, DB_O_QUEUED));
	assert_false(seq_outbox_allowed(DB_O_QUEUED, DB_O_SENT));
	assert_false(seq_outbox_allowed(DB_O_QUEUED, DB_O_HELD));
	assert_false(seq_outbox_allowed(DB_O_FAILED, DB_O_QUEUED));
	assert_false(seq_outbox_allowed(DB_O_N, DB_O_QUEUED));
}

static void plan_pairs(void **state)
{
	fx *f = *state;
	int from, to, allowed = 0;
	cs_err err = CS_ERR_INIT;
	char got[32];

	for (from = 0; from < DB_P_N; from++)
		for (to = 0; to < DB_P_N; to++) {
			const char *fn = db_pstate_name((db_pstate)from);
			const char *tn = db_pstate_name((db_pstate)to);
			long long id = plan_row(f, fn);

			if (seq_warmup_plan_allowed((db_pstate)from,
			                            (db_pstate)to)) {
				allowed++;
				if (seq_warmup_plan_move(
				        f->d, id, (db_pstate)from,
				        (db_pstate)to, NULL, -1, NULL, 1,
				        &err) != 0)
					fail_msg("%s -> %s: %s", fn, tn,
					         err.msg);
				state_of(f, "warmup_plan", id, got, sizeof got);
				assert_string_equal(got, tn);
			} else {
				refused_in_child(f, false, id, from, to);
				state_of(f, "warmup_plan", id, got, sizeof got);
				assert_string_equal(got, fn);
			}
		}
	assert_int_equal(allowed, 8);
	assert_false(seq_warmup_plan_allowed(DB_P_SENT, DB_P_PLANNED));
	assert_false(seq_warmup_plan_allowed(DB_P_DROPPED, DB_P_PLANNED));
}

/* Migration 15: no 'deferred' row can be written any more. */
static void no_deferred(void **state)
{
	fx *f = *state;
	char *msg = NULL;
	db_ostate s;

	assert_int_not_equal(
	    sqlite3_exec(f->raw,
	                 "INSERT INTO outbox(enrollment_id, inbox_id, step, "
	                 "variant, message_id, subject, state, due_at, "
	                 "created_at, updated_at) VALUES (1, 1, 1, 0, "
	                 "'<d@x>', 's', 'deferred', 0, 0, 0)",
	                 NULL, NULL, &msg),
	    SQLITE_OK);
	sqlite3_free(msg);
	assert_false(db_ostate_parse("deferred", &s));
	assert_true(db_ostate_parse("held", &s));
	assert_int_equal(s, DB_O_HELD);
}

/* db/db_int.h: the built-in steps, to stop a database at a past version */
const db_migration *db_builtin_migrations(size_t *n);

static long long one(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A database written at schema 14 keeps every row through migration 15:
 * its outbox rows become campaign rows ('deferred', never written, would
 * be 'queued'), warmup sends already handed over get their outbox row in
 * the same state, planned ones none (queued when due); the purpose
 * CHECKs hold from then on. */
static void migration_15_one_outbox(void **state)
{
	static const char rows_v14[] =
	    "INSERT INTO inboxes(id, uuid, name, email, created_at) VALUES "
	    "(1, 'u-1', 'a', 'a@x.example', 0), (2, 'u-2', 'b', 'b@x.example', "
	    "0);"
	    "INSERT INTO contacts(id, email, created_at, updated_at) VALUES "
	    "(1, 'c@y.example', 0, 0), (2, 'd@y.example', 0, 0);"
	    "INSERT INTO campaigns(id, name, source, inboxes, timezone, "
	    "window_days, window_from, window_to, contact_tz, new_per_day, "
	    "esp_match, stop_on_auto_reply, stop_company, allow_parallel, "
	    "status, created_at, updated_at) VALUES (1, 'k', '', 'all', 'UTC', "
	    "127, 0, 1440, 0, 10, 0, 0, 0, 0, 'active', 0, 0);"
	    "INSERT INTO enrollments(id, campaign_id, contact_id, state, step, "
	    "due_at, inbox_id, enrolled_at, updated_at) VALUES (1, 1, 1, "
	    "'queued', 1, 0, 1, 0, 0), (2, 1, 2, 'queued', 1, 0, 1, 0, 0);"
	    "INSERT INTO outbox(id, enrollment_id, inbox_id, step, variant, "
	    "message_id, subject, state, due_at, created_at, updated_at) "
	    "VALUES (7, 1, 1, 1, 0, '<q1@x>', 'S', 'queued', 0, 0, 0), (8, 2, "
	    "1, 1, 0, '<q2@x>', 'S', 'deferred', 0, 0, 0);"
	    "INSERT INTO messages(message_id, inbox_id, inbox_email, "
	    "recipient, purpose, subject, created_at, local_day, outcome, "
	    "updated_at) VALUES ('<w1@x>', 1, 'a@x.example', 'b@x.example', "
	    "'warmup', 'Lunch', 0, '2026-12-01', 'sending', 0), ('<w2@x>', 1, "
	    "'a@x.example', 'b@x.example', 'warmup', 'Books', 0, "
	    "'2026-12-01', 'sent', 0);"
	    "INSERT INTO warmup_plan(id, inbox_id, local_day, kind, to_addr, "
	    "due_at, state, message_id, created_at, updated_at) VALUES (1, 1, "
	    "'2026-12-01', 'new', 'b@x.example', 5, 'sending', '<w1@x>', 0, "
	    "0), (2, 1, '2026-12-01', 'new', 'b@x.example', 5, 'sent', "
	    "'<w2@x>', 0, 0), (3, 1, '2026-12-01', 'new', 'b@x.example', 9, "
	    "'planned', NULL, 0, 0);";
	fx *f = *state;
	db *d = NULL;
	sqlite3 *h = f->raw;
	cs_err err = CS_ERR_INIT;
	const db_migration *m;
	char dir[512];
	size_t n, k = 0;
	int v = 0;

	/* a database of its own, stopped at 14 */
	snprintf(dir, sizeof dir, "%s/v14.db", f->dir);
	m = db_builtin_migrations(&n);
	while (k < n && m[k].version <= 14)
		k++;
	assert_int_equal(
	    db_open(dir, DB_OPEN_CREATE | DB_OPEN_NO_MIGRATE, &d, &err), 0);
	assert_int_equal(db_migrate(d, m, k, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 14);
	assert_int_equal(sqlite3_open(dir, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, rows_v14, NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(db_migrate(d, m, n, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, db_latest_version());

	assert_int_equal(one(h, "SELECT count(*) FROM outbox WHERE purpose = "
	                        "'campaign' AND id IN (7, 8) AND state = "
	                        "'queued' AND warmup_plan_id IS NULL"),
	                 2);
	assert_int_equal(one(h, "SELECT count(*) FROM outbox o JOIN "
	                        "warmup_plan p ON p.id = o.warmup_plan_id AND "
	                        "p.message_id = o.message_id AND p.state = "
	                        "o.state WHERE o.purpose = 'warmup' AND "
	                        "o.enrollment_id IS NULL"),
	                 2);
	assert_int_equal(one(h, "SELECT subject = 'Lunch' AND state = "
	                        "'sending' FROM outbox WHERE message_id = "
	                        "'<w1@x>'"),
	                 1);
	assert_int_equal(one(h, "SELECT count(*) FROM outbox WHERE "
	                        "warmup_plan_id = 3"),
	                 0);
	assert_int_equal(
	    one(h, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	assert_int_equal(one(h, "SELECT count(*) FROM pragma_integrity_check "
	                        "WHERE integrity_check <> 'ok'"),
	                 0);
	assert_int_equal(one(h, "SELECT count(*) FROM sqlite_schema WHERE "
	                        "tbl_name = 'outbox' AND type = 'index'"),
	                 4); /* its three and message_id's UNIQUE */
	/* the purpose CHECKs: a campaign row needs its enrollment, a warmup
	 * row its plan row, a test row neither */
	assert_int_not_equal(
	    sqlite3_exec(h,
	                 "INSERT INTO outbox(purpose, inbox_id, message_id, "
	                 "subject, due_at, created_at, updated_at) VALUES "
	                 "('campaign', 1, '<z1@x>', '', 0, 0, 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(h,
	                 "INSERT INTO outbox(purpose, inbox_id, message_id, "
	                 "subject, due_at, created_at, updated_at) VALUES "
	                 "('warmup', 1, '<z2@x>', '', 0, 0, 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(h,
	                 "INSERT INTO outbox(purpose, enrollment_id, inbox_id, "
	                 "message_id, subject, due_at, created_at, "
	                 "updated_at) VALUES ('test', 1, 1, '<z3@x>', '', 0, "
	                 "0, 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h,
	                 "INSERT INTO outbox(purpose, inbox_id, message_id, "
	                 "subject, due_at, created_at, updated_at) VALUES "
	                 "('test', 1, '<z4@x>', '', 0, 0, 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	db_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(outbox_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(plan_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_deferred, setup, teardown),
	    cmocka_unit_test_setup_teardown(migration_15_one_outbox, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
