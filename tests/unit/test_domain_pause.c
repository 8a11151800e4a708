/*
 * test_domain_pause.c - a sending domain paused or slowed toward a
 * receiving provider (sequencer/seq_domain_pause.c): which provider
 * refused, how a pause and a slow-down merge, and what the scheduler does
 * with each, on a simulated clock with a recording transport.  The
 * watcher's side on the real stack is tests/watch/test_domain_pause.py.
 */
#include "sched_fx.h"

#include "sequencer/seq_int.h"

#define ALLDAY                                                                 \
	"window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "           \
	"\"00:00\", to: \"24:00\"}\n"
#define MINUTE 60000LL
#define HOUR   3600000LL

static const char *const contacts[] = {
    "g1@one.test",   "g2@one.test", "g3@one.test",   "g4@one.test",
    "g5@one.test",   "g6@one.test", "o1@three.test", "o2@three.test",
    "o3@three.test", NULL};

static void fast(db_inbox *in)
{
	in->min_gap = 30;
	in->daily_cap = 500;
}

static void at_b(db_inbox *in)
{
	fast(in);
	free(in->email);
	in->email = cs_xstrdup("b@b.test");
}

/* a1 and a2 at a.test (b at b.test when with_b), contacts at one.test
 * (Google by the map) and three.test (other), one step. */
static void world(fx *f, bool with_b, int64_t start)
{
	cs_err err = CS_ERR_INIT;
	char *map = cs_xasprintf("%s/mx_map", f->dir);
	FILE *m = fopen(map, "w");

	assert_non_null(m);
	fputs("one.test google\nthree.test other\n", m);
	fclose(m);
	assert_int_equal(db_config_set(f->d, "dns.mx_map", map, &err), 0);
	free(map);
	add_inbox(f, "a1", 500, "UTC", NULL);
	tweak_inbox(f, "a1", fast);
	add_inbox(f, "a2", 500, "UTC", NULL);
	tweak_inbox(f, "a2", fast);
	if (with_b) {
		add_inbox(f, "b", 500, "UTC", NULL);
		tweak_inbox(f, "b", at_b);
	}
	add_contacts(f, "l", contacts);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(f,
	                "name: c\nlist: l\ninboxes: all\ntimezone: UTC\n"
	                "new_contacts_per_day: 500\n" ALLDAY
	                "steps:\n  - template: a\n",
	                true, start, NULL);
}

static void put(fx *f, const char *mode, int64_t until, int64_t now)
{
	db_domain_pause p;
	cs_err err = CS_ERR_INIT;

	memset(&p, 0, sizeof p);
	p.domain = "a.test";
	p.provider = "google";
	assert_true(db_dpause_mode_parse(mode, &p.mode));
	p.until = until;
	p.code = "5.7.26";
	p.reason = "blocked";
	assert_int_equal(db_domain_pause_put(f->d, &p, now, &err), 0);
}

/* A pause: nothing from a.test to Google before it ends; three.test's
 * contacts go at once; after it, Google's go too. */
static void pause_holds_only_that_provider(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-11-30T01:00:00Z"), until = t0 + 3 * HOUR;
	size_t i, google = 0;

	world(f, false, t0);
	put(f, "pause", until, t0);
	run(f, t0, t0 + 6 * HOUR);
	assert_int_equal(f->n, 9);
	for (i = 0; i < f->n; i++) {
		if (strstr(f->s[i].contact, "@one.test")) {
			assert_true(f->s[i].at >= until);
			google++;
		} else
			assert_true(f->s[i].at < t0 + HOUR);
	}
	assert_int_equal(google, 6);
}

/* With an inbox of another domain, Google's contacts go from it during
 * the pause, never from a.test's. */
static void pause_picks_another_domain(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-11-30T01:00:00Z"), until = t0 + 3 * HOUR;
	size_t i;

	world(f, true, t0);
	put(f, "pause", until, t0);
	run(f, t0, t0 + 2 * HOUR);
	assert_int_equal(f->n, 9);
	for (i = 0; i < f->n; i++)
		if (strstr(f->s[i].contact, "@one.test"))
			assert_string_equal(f->s[i].inbox, "b");
}

/* A slow-down: a.test's inboxes together send one message per 15
 * minutes to Google until it ends; others as fast as pacing allows. */
static void slow_spaces_the_domain(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-11-30T01:00:00Z"), until = t0 + 2 * HOUR;
	int64_t last = 0;
	size_t i, google = 0;

	world(f, false, t0);
	put(f, "slow", until, t0);
	run(f, t0, t0 + 4 * HOUR);
	assert_int_equal(f->n, 9);
	for (i = 0; i < f->n; i++) {
		if (!strstr(f->s[i].contact, "@one.test")) {
			assert_true(f->s[i].at < t0 + HOUR);
			continue;
		}
		if (last && f->s[i].at < until)
			assert_true(f->s[i].at - last >= 15 * MINUTE);
		last = f->s[i].at;
		google++;
	}
	assert_int_equal(google, 6);
	/* in two hours, at most 8 (one per 15 minutes): here the first
	 * ones at t0, +15, +30, ... */
	for (i = 0, google = 0; i < f->n; i++)
		google += strstr(f->s[i].contact, "@one.test") &&
		          f->s[i].at < t0 + 45 * MINUTE;
	assert_true(google <= 3);
}

/* The watcher's effect: pause 24 h, extended by a repeat; a slow-down
 * during a pause keeps the pause; a pause upgrades a slow-down. */
static void events_merge(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	db_inbox in;
	db_domain_pause p;
	cls_rcpt r;
	bool found;
	int64_t t0 = at("2026-11-30T01:00:00Z");
	const seq_event_policy *pause =
	    seq_event_policy_answer(CLS_BOUNCE, SEQ_CTX_MATCHED, 0, false,
	                            "5.7.26", CS_PROVIDER_GOOGLE);
	const seq_event_policy *slow =
	    seq_event_policy_answer(CLS_BOUNCE, SEQ_CTX_MATCHED, 0, false,
	                            "4.7.28", CS_PROVIDER_GOOGLE);

	add_inbox(f, "a1", 30, "UTC", NULL);
	assert_int_equal(db_inbox_get(f->d, "a1", &in, &err), 0);
	memset(&r, 0, sizeof r);
	r.addr = "x@gmail.com";
	r.reason = "blocked";
	r.diag = "smtp; 550-5.7.26 unauthenticated - gsmtp";
	snprintf(r.status, sizeof r.status, "5.7.26");
	assert_int_equal(seq_domain_pause_event(f->d, &in, pause, &r,
	                                        CS_PROVIDER_GOOGLE, t0, &err),
	                 0);
	assert_int_equal(
	    db_domain_pause_get(f->d, "a.test", "google", &p, &found, &err), 0);
	assert_true(found);
	assert_int_equal(p.mode, DB_DPAUSE_PAUSE);
	assert_true(p.until == t0 + 24 * HOUR);
	assert_string_equal(p.code, "5.7.26");
	assert_string_equal(p.reason, "550-5.7.26 unauthenticated - gsmtp");
	db_domain_pause_free(&p);
	/* a rate refusal an hour later: still a pause, as long */
	snprintf(r.status, sizeof r.status, "4.7.28");
	assert_int_equal(seq_domain_pause_event(f->d, &in, slow, &r,
	                                        CS_PROVIDER_GOOGLE, t0 + HOUR,
	                                        &err),
	                 0);
	assert_int_equal(
	    db_domain_pause_get(f->d, "a.test", "google", &p, &found, &err), 0);
	assert_int_equal(p.mode, DB_DPAUSE_PAUSE);
	assert_string_equal(p.code, "5.7.26");
	assert_true(p.until == t0 + 24 * HOUR);
	db_domain_pause_free(&p);
	/* a repeat of the pause 2 h later: 24 h from then */
	snprintf(r.status, sizeof r.status, "5.7.26");
	assert_int_equal(seq_domain_pause_event(f->d, &in, pause, &r,
	                                        CS_PROVIDER_GOOGLE,
	                                        t0 + 2 * HOUR, &err),
	                 0);
	assert_int_equal(
	    db_domain_pause_get(f->d, "a.test", "google", &p, &found, &err), 0);
	assert_true(p.until == t0 + 26 * HOUR);
	db_domain_pause_free(&p);
	/* after it ended, a slow-down is a slow-down of 2 h */
	snprintf(r.status, sizeof r.status, "4.7.28");
	assert_int_equal(seq_domain_pause_event(f->d, &in, slow, &r,
	                                        CS_PROVIDER_GOOGLE,
	                                        t0 + 30 * HOUR, &err),
	                 0);
	assert_int_equal(
	    db_domain_pause_get(f->d, "a.test", "google", &p, &found, &err), 0);
	assert_int_equal(p.mode, DB_DPAUSE_SLOW);
	assert_true(p.until == t0 + 32 * HOUR);
	db_domain_pause_free(&p);
	/* the user lifts it: not in force any more */
	{
		db_domain_pause *v = NULL;
		size_t n = 0;
		long long lifted = 0;

		assert_int_equal(db_domain_pause_lift(f->d, "A.test", NULL,
		                                      t0 + 31 * HOUR, &lifted,
		                                      &err),
		                 0);
		assert_int_equal(lifted, 1);
		assert_int_equal(db_domain_pause_list(
		                     f->d, NULL, t0 + 31 * HOUR, &v, &n, &err),
		                 0);
		assert_int_equal(n, 0);
	}
	db_inbox_free(&in);
}

/* Which provider refused: the report's MTA, the hosts in its words,
 * else the recipient's domain. */
static void refusal_provider(void **state)
{
	cls_rcpt r;
	cs_provider_id id;

	(void)state;
	memset(&r, 0, sizeof r);
	r.addr = "bob@corp.test";
	r.mta = "gmail-smtp-in.l.google.com";
	assert_int_equal(seq_refusal_provider(NULL, NULL, &r, &id, NULL), 0);
	assert_int_equal(id, CS_PROVIDER_GOOGLE);
	r.mta = "mail.example.test"; /* our own relay's report */
	r.diag = "smtp; 550 5.7.515 Access denied, sending domain a.test "
	         "doesn't meet the required authentication level. "
	         "[BN1NAM02FT037.eop-nam02.prod.protection.outlook.com]";
	assert_int_equal(seq_refusal_provider(NULL, NULL, &r, &id, NULL), 0);
	assert_int_equal(id, CS_PROVIDER_MICROSOFT);
	r.diag = "smtp; 421-4.7.28 unusual rate of unsolicited mail - gsmtp";
	assert_int_equal(seq_refusal_provider(NULL, NULL, &r, &id, NULL), 0);
	assert_int_equal(id, CS_PROVIDER_GOOGLE);
	r.diag = "smtp; 550 5.7.26 refused";
	r.addr = "bob@outlook.com";
	assert_int_equal(seq_refusal_provider(NULL, NULL, &r, &id, NULL), 0);
	assert_int_equal(id, CS_PROVIDER_MICROSOFT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(pause_holds_only_that_provider,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(pause_picks_another_domain, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(slow_spaces_the_domain, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(events_merge, setup, teardown),
	    cmocka_unit_test(refusal_provider),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
