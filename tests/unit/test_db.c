/*
 * test_db.c - open, migrations, meta, typed settings, sealed values.
 */
#include "unit.h"

#include <sys/stat.h>

#include <sqlite3.h>

#include "db/db.h"

/* db/db_int.h: the built-in steps, to stop a database at a past version */
const db_migration *db_builtin_migrations(size_t *n);

typedef struct fx {
	char *dir, *path;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);

	f->dir = unit_tmpdir();
	f->path = cs_xasprintf("%s/coldseq.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	unit_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void fresh_open_migrates_to_latest(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_err err = CS_ERR_INIT;
	struct stat st;
	int v = -1;

	assert_int_equal(db_open(f->path, 0, &d, &err), CS_ENOTFOUND);
	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_true(db_latest_version() >= 1);
	assert_int_equal(v, db_latest_version());
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	db_close(d);
}

static const db_migration steps_v2[] = {
    {1, "one", "CREATE TABLE a (x INTEGER);"},
    {2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (7);"},
};

static const db_migration steps_bad[] = {
    {1, "one", "CREATE TABLE a (x INTEGER);"},
    {2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (7);"},
    /* creates a table, then fails: the whole step must roll back */
    {3, "broken", "CREATE TABLE c (z INTEGER); INSERT INTO nosuch VALUES (1);"},
};

static void upgrade_applies_only_new_steps(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_err err = CS_ERR_INIT;
	int v;

	assert_int_equal(
	    db_open(f->path, DB_OPEN_CREATE | DB_OPEN_NO_MIGRATE, &d, &err), 0);
	assert_int_equal(db_migrate(d, steps_v2, 1, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 1);
	/* step 1 again would fail (table exists): it must be skipped */
	assert_int_equal(db_migrate(d, steps_v2, 2, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 2);
	/* idempotent */
	assert_int_equal(db_migrate(d, steps_v2, 2, &err), 0);
	db_close(d);
}

static void failing_migration_rolls_back(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_err err = CS_ERR_INIT;
	int v;

	assert_int_equal(
	    db_open(f->path, DB_OPEN_CREATE | DB_OPEN_NO_MIGRATE, &d, &err), 0);
	assert_int_equal(db_migrate(d, steps_bad, 3, &err), CS_EDB);
	assert_non_null(strstr(err.msg, "migration 3 (broken)"));
	assert_non_null(strstr(err.msg, "stays at schema version 2"));
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 2);
	/* table c from the failed step is gone: re-running the good part of
	 * step 3 would now work */
	static const db_migration fixed[] = {
	    {1, "one", "x"},
	    {2, "two", "x"},
	    {3, "fixed", "CREATE TABLE c (z INTEGER);"},
	};
	assert_int_equal(db_migrate(d, fixed, 3, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 3);
	db_close(d);
}

static void newer_database_refused_unchanged(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_err err = CS_ERR_INIT;
	struct stat before, after;
	int v;

	assert_int_equal(
	    db_open(f->path, DB_OPEN_CREATE | DB_OPEN_NO_MIGRATE, &d, &err), 0);
	assert_int_equal(db_migrate(d, steps_v2, 2, &err), 0);
	/* this build knows only version 1 */
	assert_int_equal(db_migrate(d, steps_v2, 1, &err), CS_EVERSION);
	assert_non_null(strstr(err.msg, "newer coldseq"));
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 2);
	db_close(d);
	/* and db_open with the built-in list refuses a future version */
	assert_int_equal(db_open(f->path, DB_OPEN_NO_MIGRATE, &d, &err), 0);
	static const db_migration future[] = {
	    {900, "future", "CREATE TABLE future_t (x);"},
	};
	assert_int_equal(db_migrate(d, future, 1, &err), 0);
	db_close(d);
	assert_int_equal(stat(f->path, &before), 0);
	assert_int_equal(db_open(f->path, 0, &d, &err), CS_EVERSION);
	assert_null(d);
	assert_non_null(strstr(err.msg, "schema version 900"));
	assert_int_equal(stat(f->path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtime, after.st_mtime);
}

static void meta_round_trip(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_buf b = CS_BUF_INIT;
	bool found;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(db_meta_get(d, "k", &b, &found, NULL), 0);
	assert_false(found);
	assert_int_equal(db_meta_set(d, "k", "a\0b", 3, NULL), 0);
	assert_int_equal(db_meta_set(d, "k", "x\0yz", 4, NULL), 0);
	assert_int_equal(db_meta_get(d, "k", &b, &found, NULL), 0);
	assert_true(found);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "x\0yz", 4);
	cs_buf_free(&b);
	db_close(d);
}

static void config_types_and_defaults(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	bool set;
	long long n;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(db_config_get(d, "inbox.daily_cap", &b, &set, &err),
	                 0);
	assert_string_equal(cs_buf_str(&b), "30");
	assert_false(set);
	assert_int_equal(db_config_set(d, "inbox.daily_cap", "45", &err), 0);
	assert_int_equal(db_config_get_int(d, "inbox.daily_cap", &n, &err), 0);
	assert_int_equal(n, 45);
	assert_int_equal(db_config_set(d, "inbox.daily_cap", "0", &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "inbox.daily_cap"));
	assert_int_equal(db_config_set(d, "inbox.daily_cap", "12abc", &err),
	                 CS_EINVAL);
	/* a rejected value leaves the stored one */
	assert_int_equal(db_config_get_int(d, "inbox.daily_cap", &n, &err), 0);
	assert_int_equal(n, 45);
	assert_int_equal(db_config_set(d, "inbox.min_interval", "2h", &err), 0);
	assert_int_equal(db_config_get_int(d, "inbox.min_interval", &n, &err),
	                 0);
	assert_int_equal(n, 7200);
	assert_int_equal(db_config_set(d, "inbox.min_interval", "9d", &err),
	                 CS_EINVAL);
	assert_int_equal(
	    db_config_set(d, "general.timezone", "Europe/Berlin", &err), 0);
	assert_int_equal(
	    db_config_set(d, "general.timezone", "Mars/Olympus", &err),
	    CS_EINVAL);
	assert_int_equal(
	    db_config_set(d, "general.timezone", "../../etc/passwd", &err),
	    CS_EINVAL);
	assert_int_equal(db_config_set(d, "log.level", "loud", &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "error|warn|info|debug"));
	assert_int_equal(db_config_set(d, "no.such", "1", &err), CS_EUSAGE);
	assert_int_equal(db_config_unset(d, "inbox.daily_cap", &err), 0);
	cs_buf_clear(&b);
	assert_int_equal(db_config_get(d, "inbox.daily_cap", &b, &set, &err),
	                 0);
	assert_string_equal(cs_buf_str(&b), "30");
	assert_false(set);
	cs_buf_free(&b);
	db_close(d);
}

static int collect(const db_sealed *s, void *arg)
{
	cs_buf *b = arg;

	cs_buf_printf(b, "%s.%s:%s:%zu;", s->table, s->column, s->rowkey,
	              s->len);
	return 0;
}

static void sealed_values_listed_and_updated(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	long long n;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(
	    db_inbox_insert_min(d, "a", "a@x.test", "u-1", "BLOB1", 5, &err),
	    0);
	assert_int_equal(
	    db_inbox_insert_min(d, "b", "b@x.test", "u-2", NULL, 0, &err), 0);
	/* names are unique case-insensitively */
	assert_int_equal(
	    db_inbox_insert_min(d, "A", "c@x.test", "u-3", NULL, 0, &err),
	    CS_EDB);
	assert_int_equal(db_sealed_count(d, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(db_sealed_foreach(d, collect, &b, &err), 0);
	assert_string_equal(cs_buf_str(&b), "inboxes.secret:u-1:5;");
	db_sealed s = {"inboxes", "secret", "u-1", "LONGERBLOB", 10};
	assert_int_equal(db_sealed_update(d, &s, &err), 0);
	s.rowkey = "u-missing";
	assert_int_equal(db_sealed_update(d, &s, &err), CS_ENOTFOUND);
	cs_buf_clear(&b);
	assert_int_equal(db_sealed_foreach(d, collect, &b, &err), 0);
	assert_string_equal(cs_buf_str(&b), "inboxes.secret:u-1:10;");
	cs_buf_free(&b);
	db_close(d);
}

/* OAuth2 token rows: connect, refresh with and without rotation, a
 * refresh that raced another process, auth state, sealed listing. */
/* The inbox enums' names are the schema's CHECK words, each parses back,
 * and an inbox written with every value reads back the same. */
static void inbox_enum_names_round_trip(void **state)
{
	static const char *const status[] = {"active", "paused", "error"};
	static const char *const auth[] = {"password", "oauth2"};
	static const char *const astate[] = {"ok", "pending", "auth_failed"};
	static const char *const copy[] = {"auto", "always", "never"};
	db_inbox_status st;
	db_auth_kind ak;
	db_auth_state as;
	db_sent_copy sc;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_string_equal(db_inbox_status_name((db_inbox_status)i),
		                    status[i]);
		assert_true(db_inbox_status_parse(status[i], &st));
		assert_int_equal(st, i);
		assert_string_equal(db_auth_state_name((db_auth_state)i),
		                    astate[i]);
		assert_true(db_auth_state_parse(astate[i], &as));
		assert_int_equal(as, i);
		assert_string_equal(db_sent_copy_name((db_sent_copy)i),
		                    copy[i]);
		assert_true(db_sent_copy_parse(copy[i], &sc));
		assert_int_equal(sc, i);
	}
	for (i = 0; i < 2; i++) {
		assert_string_equal(db_auth_kind_name((db_auth_kind)i),
		                    auth[i]);
		assert_true(db_auth_kind_parse(auth[i], &ak));
		assert_int_equal(ak, i);
	}
	assert_false(db_inbox_status_parse("Active", &st));
	assert_false(db_auth_state_parse(NULL, &as));
	assert_false(db_sent_copy_parse("sometimes", &sc));
	assert_false(db_auth_kind_parse("", &ak));
}

/* The enrollment states' names are the schema's CHECK words. */
static void enr_state_names_round_trip(void **state)
{
	static const char *const names[] = {"active", "queued", "held",
	                                    "completed", "stopped"};
	db_enr_state s;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_string_equal(db_enr_state_name((db_enr_state)i),
		                    names[i]);
		assert_true(db_enr_state_parse(names[i], &s));
		assert_int_equal(s, i);
	}
	assert_false(db_enr_state_parse("sent", &s));
}

/* A campaign's statuses, deleted included (read, never set). */
static void campaign_status_names_round_trip(void **state)
{
	static const char *const names[] = {"draft", "active", "paused",
	                                    "deleted"};
	db_campaign_status s;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_string_equal(
		    db_campaign_status_name((db_campaign_status)i), names[i]);
		assert_true(db_campaign_status_parse(names[i], &s));
		assert_int_equal(s, i);
	}
	assert_false(db_campaign_status_parse("running", &s));
}

static void oauth_tokens_compare_and_set(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_token t;
	db_inbox in;
	db_token_set set;
	bool raced = true, found;
	long long id;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(
	    db_inbox_insert_min(d, "a", "a@x.test", "u-1", "A0", 2, &err), 0);
	assert_int_equal(db_inbox_get(d, "a", &in, &err), 0);
	id = in.id;
	assert_int_equal(in.auth_state, DB_AUTH_OK);
	db_inbox_free(&in);
	assert_int_equal(db_token_get(d, id, &t, &err), 0);
	assert_false(t.found);
	db_token_free(&t);

	memset(&set, 0, sizeof set);
	set.inbox_id = id;
	set.provider = CS_PROVIDER_MICROSOFT;
	set.tenant = "contoso";
	set.access = "A1";
	set.access_len = 2;
	set.refresh = "R1";
	set.refresh_len = 2;
	set.expires_at = 1000;
	set.now = 10;
	assert_int_equal(
	    db_inbox_set_auth(d, id, DB_AUTH_PENDING, NULL, 5, &err), 0);
	assert_int_equal(db_token_connect(d, &set, &err), 0);
	assert_int_equal(db_token_get(d, id, &t, &err), 0);
	assert_true(t.found);
	assert_int_equal(t.auth_state, DB_AUTH_OK); /* a connect clears it */
	assert_string_equal(t.tenant, "contoso");
	assert_int_equal(t.generation, 1);
	assert_int_equal(t.refresh.len, 2);
	assert_int_equal(t.expires_at, 1000);
	db_token_free(&t);

	/* a refresh that keeps the refresh token */
	set.refresh = NULL;
	set.access = "A2";
	set.expires_at = 2000;
	set.now = 20;
	set.expect_generation = 1;
	assert_int_equal(db_token_refreshed(d, &set, &raced, &err), 0);
	assert_false(raced);
	/* one that rotates it */
	set.refresh = "R2xx";
	set.refresh_len = 4;
	set.access = "A3";
	set.now = 30;
	assert_int_equal(db_token_refreshed(d, &set, &raced, &err), 0);
	assert_false(raced);
	assert_int_equal(db_token_get(d, id, &t, &err), 0);
	assert_int_equal(t.generation, 2);
	assert_int_equal(t.refresh.len, 4);
	assert_int_equal(t.refresh_issued_at, 30);
	assert_int_equal(t.refreshed_at, 30);
	db_token_free(&t);
	/* a process that refreshed from generation 1 lost the race:
	 * nothing of it is stored */
	set.access = "A4-late";
	set.access_len = 7;
	assert_int_equal(db_token_refreshed(d, &set, &raced, &err), 0);
	assert_true(raced);
	assert_int_equal(db_inbox_secret(d, "u-1", &b, &found, &err), 0);
	assert_true(found);
	assert_int_equal(b.len, 2); /* still "A3" */
	assert_memory_equal(b.data, "A3", 2);
	cs_buf_clear(&b);

	/* every sealed value is listed for re-keying */
	assert_int_equal(
	    db_config_set_sealed(d, "oauth.google.client_secret", "S", 1, &err),
	    0);
	assert_int_equal(
	    db_config_set(d, "oauth.google.client_secret", "x", &err),
	    CS_EINVAL);
	assert_int_equal(
	    db_config_get(d, "oauth.google.client_secret", &b, &found, &err),
	    0);
	assert_true(found);
	assert_string_equal(cs_buf_str(&b), "(sealed)");
	cs_buf_clear(&b);
	assert_int_equal(db_sealed_foreach(d, collect, &b, &err), 0);
	assert_string_equal(cs_buf_str(&b),
	                    "inboxes.secret:u-1:2;oauth_tokens.refresh_token:"
	                    "u-1:4;meta.value:config/"
	                    "oauth.google.client_secret:1;");
	db_sealed s = {"oauth_tokens", "refresh_token", "u-1", "R3", 2};
	assert_int_equal(db_sealed_update(d, &s, &err), 0);
	assert_int_equal(db_config_unset(d, "oauth.google.client_secret", &err),
	                 0);
	cs_buf_clear(&b);
	assert_int_equal(
	    db_config_get(d, "oauth.google.client_secret", &b, &found, &err),
	    0);
	assert_false(found);

	assert_int_equal(
	    db_inbox_set_auth(d, id, DB_AUTH_FAILED, "why", 40, &err), 0);
	assert_int_equal(db_inbox_get(d, "a", &in, &err), 0);
	assert_int_equal(in.auth_state, DB_AUTH_FAILED);
	assert_string_equal(in.auth_reason, "why");
	db_inbox_free(&in);
	assert_int_equal(
	    db_inbox_set_auth(d, id, (db_auth_state)99, NULL, 40, &err),
	    CS_EINVAL);
	/* the token goes with its inbox (whose row stays, a tombstone) */
	{
		db_inbox_removal r;

		assert_int_equal(db_inbox_remove(d, "a", false, 50, &r, &err),
		                 0);
		assert_string_equal(r.tombstone, "a (removed)");
		db_inbox_removal_free(&r);
	}
	assert_int_equal(db_token_get(d, id, &t, &err), 0);
	assert_false(t.found);
	db_token_free(&t);
	assert_int_equal(db_inbox_get(d, "a", &in, &err), CS_ENOTFOUND);
	cs_buf_free(&b);
	db_close(d);
}

/* Issue 17: a message tried again under its Message-ID (a resend, a
 * retry after a deferral) keeps one messages row, gets one send_attempts
 * row per attempt, and every attempt counts toward the caps once, on the
 * day it was made. */
static int count_attempt(const db_attempt *a, void *arg)
{
	int *n = arg;

	assert_int_equal(a->attempt, ++*n);
	assert_string_equal(a->message_id, "<1@x>");
	return 0;
}

static void attempts_keep_the_message_id_and_count_each(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_err err = CS_ERR_INIT;
	db_message m;
	db_inbox in;
	long long camp = 0, total = 0, dom = 0;
	int attempt = 0, n = 0;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(
	    db_inbox_insert_min(d, "a", "a@x.test", "a", "x", 1, &err), 0);
	assert_int_equal(db_inbox_get(d, "a", &in, &err), 0);
	memset(&m, 0, sizeof m);
	m.message_id = "<1@x>";
	m.inbox_id = in.id;
	m.inbox_email = "a@x.test";
	m.recipient = "c@y.test";
	m.purpose = DB_PURPOSE_CAMPAIGN;
	m.created_at = 1000;
	m.local_day = "2026-12-01";
	assert_int_equal(db_message_attempt(d, &m, &attempt, &err), 0);
	assert_int_equal(attempt, 1);
	assert_int_equal(db_message_set_outcome(d, "<1@x>", "uncertain", 0,
	                                        NULL, 1500, &err),
	                 0);
	/* the same day: both count */
	m.created_at = 2000;
	assert_int_equal(db_message_attempt(d, &m, &attempt, &err), 0);
	assert_int_equal(attempt, 2);
	assert_int_equal(
	    db_message_count_caps(d, in.id, "2026-12-01", &camp, &total, &err),
	    0);
	assert_int_equal(camp, 2);
	assert_int_equal(total, 2);
	assert_int_equal(
	    db_message_count_domain(d, in.id, "y.test", 0, &dom, &err), 0);
	assert_int_equal(dom, 2);
	/* the next day: the third attempt counts there */
	m.created_at = 90000000;
	m.local_day = "2026-12-02";
	assert_int_equal(db_message_attempt(d, &m, &attempt, &err), 0);
	assert_int_equal(attempt, 3);
	assert_int_equal(db_message_set_outcome(d, "<1@x>", "sent", 250, "ok",
	                                        90000100, &err),
	                 0);
	assert_int_equal(
	    db_message_count_caps(d, in.id, "2026-12-01", &camp, &total, &err),
	    0);
	assert_int_equal(camp, 2);
	assert_int_equal(
	    db_message_count_caps(d, in.id, "2026-12-02", &camp, &total, &err),
	    0);
	assert_int_equal(camp, 1);
	assert_int_equal(total, 1);
	assert_int_equal(db_attempt_list(d, "<1@x>", count_attempt, &n, &err),
	                 0);
	assert_int_equal(n, 3);
	db_inbox_free(&in);
	db_close(d);
}

static void nested_transactions_are_savepoints(void **state)
{
	fx *f = *state;
	db *d = NULL;
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	bool found;

	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &d, NULL), 0);
	assert_int_equal(db_begin(d, &err), 0);
	assert_int_equal(db_meta_set(d, "outer", "1", 1, &err), 0);
	/* an inner unit of work that fails rolls back alone */
	assert_int_equal(db_begin(d, &err), 0);
	assert_int_equal(db_meta_set(d, "inner", "2", 1, &err), 0);
	db_rollback(d);
	/* an inner one that succeeds stays with the outer */
	assert_int_equal(db_begin(d, &err), 0);
	assert_int_equal(db_meta_set(d, "inner2", "3", 1, &err), 0);
	assert_int_equal(db_commit(d, &err), 0);
	assert_int_equal(db_commit(d, &err), 0);
	assert_int_equal(db_meta_get(d, "outer", &b, &found, &err), 0);
	assert_true(found);
	assert_int_equal(db_meta_get(d, "inner", &b, &found, &err), 0);
	assert_false(found);
	assert_int_equal(db_meta_get(d, "inner2", &b, &found, &err), 0);
	assert_true(found);
	/* a rolled-back outer transaction takes its committed inner ones */
	assert_int_equal(db_begin(d, &err), 0);
	assert_int_equal(db_begin(d, &err), 0);
	assert_int_equal(db_meta_set(d, "gone", "4", 1, &err), 0);
	assert_int_equal(db_commit(d, &err), 0);
	db_rollback(d);
	assert_int_equal(db_meta_get(d, "gone", &b, &found, &err), 0);
	assert_false(found);
	assert_int_equal(db_commit(d, &err), CS_EDB); /* nothing open */
	cs_buf_free(&b);
	db_close(d);
}

/* One value of a query on a connection of the test's own. */
static long long raw_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A database written at schema 10 (before inbox tombstones) keeps every
 * row through migration 11; from then on removing an inbox keeps its
 * history, and a plain DELETE of it is refused by the history's keys. */
static void migration_11_keeps_rows_and_history(void **state)
{
	static const char rows_v10[] =
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
	    "due_at, inbox_id, thread_refs, enrolled_at, updated_at) VALUES "
	    "(1, 1, 1, 'active', 2, 0, 1, '<m1@x.example>', 0, 0), (2, 1, 2, "
	    "'queued', 1, 0, 1, NULL, 0, 0);"
	    "INSERT INTO messages(message_id, inbox_id, inbox_email, "
	    "recipient, purpose, created_at, local_day, outcome, updated_at) "
	    "VALUES ('<m1@x.example>', 1, 'a@x.example', 'c@y.example', "
	    "'campaign', 0, '1970-01-01', 'sent', 0);"
	    "INSERT INTO outbox(enrollment_id, inbox_id, step, variant, "
	    "message_id, subject, state, due_at, created_at, updated_at) "
	    "VALUES (1, 1, 1, 0, '<m1@x.example>', 'S', 'sent', 0, 0, 0), (2, "
	    "1, 1, 0, '<q1@x.example>', 'S', 'queued', 0, 0, 0);"
	    "INSERT INTO events(inbox_id, msg_key, kind, from_addr, "
	    "related_message_id, contact, received_at) VALUES (1, 'k1', "
	    "'reply', 'c@y.example', '<m1@x.example>', 'c@y.example', 1);";
	static const char history[] =
	    "SELECT (SELECT count(*) FROM inboxes) || '/' || (SELECT count(*) "
	    "FROM messages WHERE inbox_id = 1) || '/' || (SELECT count(*) FROM "
	    "outbox WHERE inbox_id = 1 AND state = 'sent') || '/' || (SELECT "
	    "count(*) FROM events WHERE inbox_id = 1) || '/' || (SELECT "
	    "count(*) FROM enrollments WHERE id = 1 AND inbox_id = 1)";
	fx *f = *state;
	db *d = NULL;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	cs_err err = CS_ERR_INIT;
	const db_migration *m;
	db_inbox_removal r;
	db_inbox *list;
	size_t n, k = 0, nl;
	int v = 0;

	m = db_builtin_migrations(&n);
	while (k < n && m[k].version <= 10)
		k++;
	assert_int_equal(
	    db_open(f->path, DB_OPEN_CREATE | DB_OPEN_NO_MIGRATE, &d, &err), 0);
	assert_int_equal(db_migrate(d, m, k, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, 10);
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, rows_v10, NULL, NULL, NULL),
	                 SQLITE_OK);

	assert_int_equal(db_migrate(d, m, n, &err), 0);
	assert_int_equal(db_schema_version(d, &v, &err), 0);
	assert_int_equal(v, db_latest_version());
	/* every row kept, the file sound, the history's keys restrict */
	assert_int_equal(sqlite3_prepare_v2(h, history, -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
	                    "2/1/1/1/1");
	sqlite3_reset(st);
	assert_int_equal(
	    raw_int(h, "SELECT count(*) FROM pragma_integrity_check WHERE "
	               "integrity_check <> 'ok'"),
	    0);
	assert_int_equal(raw_int(h, "SELECT count(*) FROM "
	                            "pragma_foreign_key_check"),
	                 0);
	assert_int_equal(
	    raw_int(h, "SELECT count(*) FROM sqlite_schema WHERE name IN "
	               "('messages', 'events', 'outbox', 'enrollments') AND "
	               "instr(sql, 'REFERENCES inboxes(id) ON DELETE "
	               "RESTRICT') > 0"),
	    4);

	/* a thread in progress: refused, unless forced */
	assert_int_equal(db_inbox_remove(d, "a", false, 5, &r, &err),
	                 CS_ECONFLICT);
	assert_int_equal(r.threads, 1);
	db_inbox_removal_free(&r);
	assert_int_equal(db_inbox_remove(d, "A", true, 5, &r, &err), 0);
	assert_int_equal(r.stopped, 1);
	assert_int_equal(r.handed_back, 1);
	assert_string_equal(r.tombstone, "a (removed)");
	db_inbox_removal_free(&r);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
	                    "2/1/1/1/1");
	sqlite3_finalize(st);
	assert_int_equal(raw_int(h, "SELECT state = 'stopped' AND reason LIKE "
	                            "'inbox a was removed%' FROM enrollments "
	                            "WHERE id = 1"),
	                 1);
	/* the queued first step goes back to the campaign's other inboxes */
	assert_int_equal(raw_int(h, "SELECT state = 'active' AND inbox_id IS "
	                            "NULL AND due_at = 5 FROM enrollments "
	                            "WHERE id = 2"),
	                 1);
	assert_int_equal(raw_int(h, "SELECT count(*) FROM outbox WHERE "
	                            "enrollment_id = 2"),
	                 0);
	assert_int_equal(raw_int(h, "SELECT secret IS NULL AND removed_at = 5 "
	                            "FROM inboxes WHERE id = 1"),
	                 1);
	assert_int_equal(sqlite3_exec(h, "DELETE FROM inboxes WHERE id = 1",
	                              NULL, NULL, NULL),
	                 SQLITE_CONSTRAINT);
	/* gone for every live use; the name and email are free again */
	assert_int_equal(db_inbox_remove(d, "a", true, 6, &r, &err),
	                 CS_ENOTFOUND);
	db_inbox_removal_free(&r);
	assert_int_equal(
	    db_inbox_insert_min(d, "a", "a@x.example", "u-3", NULL, 0, &err),
	    0);
	assert_int_equal(db_inbox_list(d, NULL, &list, &nl, &err), 0);
	assert_int_equal(nl, 2);
	assert_string_equal(list[0].name, "a");
	assert_string_equal(list[0].uuid, "u-3");
	assert_string_equal(list[1].name, "b");
	db_inbox_list_free(list, nl);
	sqlite3_close(h);
	db_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fresh_open_migrates_to_latest,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(upgrade_applies_only_new_steps,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(failing_migration_rolls_back, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(newer_database_refused_unchanged,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(meta_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(config_types_and_defaults, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sealed_values_listed_and_updated,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        attempts_keep_the_message_id_and_count_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(nested_transactions_are_savepoints,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(migration_11_keeps_rows_and_history,
	                                    setup, teardown),
	    cmocka_unit_test(inbox_enum_names_round_trip),
	    cmocka_unit_test(enr_state_names_round_trip),
	    cmocka_unit_test(campaign_status_names_round_trip),
	    cmocka_unit_test_setup_teardown(oauth_tokens_compare_and_set, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
