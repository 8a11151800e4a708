/*
 * test_token.c - the times the service keeps for an OAuth2 access token
 * (seq_token_check): when it refreshes ahead on a worker, when the stored
 * token may be handed out without the network, and that both agree with
 * seq_token_get's own margin (so that a usable token never makes
 * seq_token_get refresh on the loop, and a token that is not usable is
 * always due).
 */
#include "unit.h"

#include "db/db.h"
#include "sequencer/seq.h"

#define T0 1800000000000LL /* any real time, ms */

typedef struct fx {
	char *dir, *path;
	db *d;
	db_inbox in; /* what seq_token_check reads: id and auth */
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	f->path = cs_xasprintf("%s/coldseq.db", f->dir);
	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &f->d, &err), 0);
	assert_int_equal(
	    db_inbox_insert_min(f->d, "o", "o@x.test", "u-1", "A0", 2, &err),
	    0);
	assert_int_equal(db_inbox_get(f->d, "o", &f->in, &err), 0);
	f->in.auth = DB_AUTH_OAUTH2;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	db_inbox_free(&f->in);
	db_close(f->d);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* `inbox connect` at T0: a token of life_ms. */
static void connect_at(fx *f, int64_t life_ms)
{
	db_token_set set;
	cs_err err = CS_ERR_INIT;

	memset(&set, 0, sizeof set);
	set.inbox_id = f->in.id;
	set.provider = CS_PROVIDER_MICROSOFT;
	set.access = "A1";
	set.access_len = 2;
	set.refresh = "R1";
	set.refresh_len = 2;
	set.expires_at = T0 + life_ms;
	set.now = T0;
	assert_int_equal(db_token_connect(f->d, &set, &err), 0);
}

static int64_t margin(int64_t life)
{
	return life / 4 < 300000 ? life / 4 : 300000;
}

static void times_agree_with_the_margin(void **state)
{
	/* 1 s and 12 s: the tests' tokens; 1 h and 90 min: the providers' */
	static const int64_t lives[] = {1000,    12000,   60000,
	                                3600000, 5400000, 86400000};
	fx *f = *state;
	size_t k;

	for (k = 0; k < sizeof lives / sizeof lives[0]; k++) {
		int64_t life = lives[k], m = margin(life), step, now;
		seq_token_info in;
		cs_err err = CS_ERR_INIT;
		bool seen_unusable = false;

		connect_at(f, life);
		assert_int_equal(seq_token_check(f->d, &f->in, T0, &in, &err),
		                 0);
		assert_true(in.usable);
		/* ahead of seq_token_get's margin by as much again */
		assert_int_equal(in.refresh_at, T0 + life - 2 * m);
		step = life / 2000 > 0 ? life / 2000 : 1;
		for (now = T0; now <= T0 + life + step; now += step) {
			assert_int_equal(
			    seq_token_check(f->d, &f->in, now, &in, &err), 0);
			if (in.usable) {
				/* seq_token_get hands it out as it is */
				assert_true(T0 + life - now > m);
				assert_false(seen_unusable);
			} else {
				/* whoever waits for it finds it due */
				assert_true(now >= in.refresh_at);
				seen_unusable = true;
			}
		}
		assert_true(seen_unusable);
	}
	/* an hour: refreshed 10 minutes ahead, usable until 5 min 10 s */
	{
		seq_token_info in;

		connect_at(f, 3600000);
		assert_int_equal(seq_token_check(f->d, &f->in,
		                                 T0 + 3600000 - 310001, &in,
		                                 NULL),
		                 0);
		assert_true(in.usable);
		assert_int_equal(in.refresh_at, T0 + 3000000);
		assert_int_equal(seq_token_check(f->d, &f->in,
		                                 T0 + 3600000 - 310000, &in,
		                                 NULL),
		                 0);
		assert_false(in.usable);
	}
}

static void nothing_to_refresh(void **state)
{
	fx *f = *state;
	seq_token_info in;
	cs_err err = CS_ERR_INIT;
	db_inbox gone;

	/* a bearer token given with `inbox add --auth oauth2`: no row */
	assert_int_equal(seq_token_check(f->d, &f->in, T0, &in, &err), 0);
	assert_true(in.usable);
	assert_true(in.refresh_at == INT64_MAX);
	/* pending, auth_failed: seq_token_get answers at once */
	connect_at(f, 1000);
	assert_int_equal(
	    db_inbox_set_auth(f->d, f->in.id, DB_AUTH_PENDING, NULL, T0, &err),
	    0);
	assert_int_equal(seq_token_check(f->d, &f->in, T0 + 5000, &in, &err),
	                 0);
	assert_true(in.usable);
	assert_true(in.refresh_at == INT64_MAX);
	assert_int_equal(db_inbox_set_auth(f->d, f->in.id, DB_AUTH_FAILED,
	                                   "revoked", T0, &err),
	                 0);
	assert_int_equal(seq_token_check(f->d, &f->in, T0 + 5000, &in, &err),
	                 0);
	assert_true(in.usable);
	assert_true(in.refresh_at == INT64_MAX);
	/* passwords: nothing read */
	f->in.auth = DB_AUTH_PASSWORD;
	in.usable = false;
	assert_int_equal(seq_token_check(f->d, &f->in, T0, &in, &err), 0);
	assert_true(in.usable);
	assert_true(in.refresh_at == INT64_MAX);
	/* an inbox removed meanwhile */
	memset(&gone, 0, sizeof gone);
	gone.id = f->in.id + 100;
	gone.auth = DB_AUTH_OAUTH2;
	assert_int_equal(seq_token_check(f->d, &gone, T0, &in, &err),
	                 CS_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(times_agree_with_the_margin, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(nothing_to_refresh, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
