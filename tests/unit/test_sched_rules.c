/*
 * test_sched_rules.c - the scheduler's pacing, caps and preferences, each
 * rule on its own, on a simulated clock with a recording transport.
 */
#include "sched_fx.h"

/* ---- pacing, caps and preferences, each rule on its own --------------- */

static const char *const twenty[] = {
    "a1@one.test", "a2@one.test", "a3@one.test", "a4@one.test", "a5@one.test",
    "a6@one.test", "a7@one.test", "a8@one.test", "a9@one.test", "a10@one.test",
    "b1@two.test", "b2@two.test", "b3@two.test", "b4@two.test", "b5@two.test",
    "b6@two.test", "b7@two.test", "b8@two.test", "b9@two.test", "b10@two.test",
    NULL};

#define ALLDAY                                                                 \
	"window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "           \
	"\"00:00\", to: \"24:00\"}\n"

static int64_t count_day(const fx *f, const char *inbox, const char *day)
{
	size_t i;
	int64_t n = 0;

	for (i = 0; i < f->n; i++) {
		char d[11];

		cs_tz_day("UTC", f->s[i].at, d, NULL);
		n += strcmp(f->s[i].inbox, inbox) == 0 && strcmp(d, day) == 0;
	}
	return n;
}

static void gap_10m(db_inbox *in)
{
	in->min_gap = 600;
}

static void min_gap_and_spread(void **state)
{
	fx *f = *state;
	size_t i, j;

	add_inbox(f, "s1", 20, "UTC", NULL);
	tweak_inbox(f, "s1", gap_10m);
	add_contacts(f, "l", twenty);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(f,
	                "name: g\nlist: l\ninboxes: [s1]\ntimezone: UTC\n"
	                "window: {days: [mon, tue, wed, thu, fri], from: "
	                "\"09:00\", to: \"17:00\"}\nsteps:\n  - template: a\n",
	                true, at("2026-11-30T07:00:00Z"), NULL);
	run(f, at("2026-11-30T07:00:00Z"), at("2026-12-01T00:00:00Z"));
	assert_int_equal(f->n, 20);
	for (i = 1; i < f->n; i++)
		assert_true(f->s[i].at - f->s[i - 1].at >= 600000);
	/* 20 spread over the 8-hour window, not bunched at its start */
	assert_true(f->s[f->n - 1].at - f->s[0].at >= 5 * 3600000LL);
	/* the gaps are jittered, not all equal */
	for (i = 2, j = 0; i < f->n; i++)
		j += (f->s[i].at - f->s[i - 1].at) != (f->s[1].at - f->s[0].at);
	assert_true(j > 0);
}

static void domain_cap_3(db_inbox *in)
{
	in->domain_hourly_cap = 3;
	in->min_gap = 60;
}

static void domain_hourly_cap(void **state)
{
	fx *f = *state;
	size_t i, j;

	add_inbox(f, "s1", 50, "UTC", NULL);
	tweak_inbox(f, "s1", domain_cap_3);
	add_contacts(f, "l", twenty);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(
	    f,
	    "name: d\nlist: l\ninboxes: [s1]\ntimezone: UTC\n" ALLDAY
	    "steps:\n  - template: a\n",
	    true, at("2026-11-30T07:00:00Z"), NULL);
	run(f, at("2026-11-30T07:00:00Z"), at("2026-12-01T07:00:00Z"));
	assert_int_equal(f->n, 20);
	/* in any hour, at most 3 to one domain */
	for (i = 0; i < f->n; i++) {
		const char *dom = strchr(f->s[i].contact, '@');
		int n = 0;

		for (j = 0; j < f->n; j++)
			n += f->s[j].at >= f->s[i].at &&
			     f->s[j].at < f->s[i].at + 3600000 &&
			     strcmp(strchr(f->s[j].contact, '@'), dom) == 0;
		assert_true(n <= 3);
	}
}

static void ramp_2_3(db_inbox *in)
{
	in->ramp_start = 2;
	in->ramp_step = 3;
}

static void hard_4(db_inbox *in)
{
	/* the old hard cap is the rolling messages_24h limit now */
	free(in->limits);
	in->limits = strdup("messages_24h=4");
}

static void ramp_and_hard_cap(void **state)
{
	fx *f = *state;

	add_inbox(f, "r", 30, "UTC", NULL);
	tweak_inbox(f, "r", ramp_2_3);
	add_inbox(f, "h", 30, "UTC", NULL);
	tweak_inbox(f, "h", hard_4);
	add_contacts(f, "l", twenty);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(f,
	                "name: r\nlist: l\ninboxes: [r]\ntimezone: UTC\n" ALLDAY
	                "steps:\n  - template: a\n",
	                true, at("2026-11-30T00:00:00Z"), NULL);
	run(f, at("2026-11-30T00:00:00Z"), at("2026-12-03T00:00:00Z"));
	/* ramp: 2, then 5, then 8 a day */
	assert_int_equal(count_day(f, "r", "2026-11-30"), 2);
	assert_int_equal(count_day(f, "r", "2026-12-01"), 5);
	assert_int_equal(count_day(f, "r", "2026-12-02"), 8);
	clear_sent(f);
	{
		cs_err err = CS_ERR_INIT;

		assert_int_equal(db_campaign_set_status(
		                     f->d, "r", DB_CAMPAIGN_PAUSED, 0, &err),
		                 0);
	}
	create_campaign(f,
	                "name: h\nlist: l\ninboxes: [h]\ntimezone: UTC\n"
	                "allow_parallel: true\n" ALLDAY
	                "steps:\n  - template: a\n",
	                true, at("2026-12-03T00:00:00Z"), NULL);
	run(f, at("2026-12-03T00:00:00Z"), at("2026-12-04T00:00:00Z"));
	/* the provider's 24-hour limit stops the day at 4 though the cap is
	 * 30 (the first send frees a unit only 24 hours later) */
	assert_int_equal(count_day(f, "h", "2026-12-03"), 4);
}

static void followups_before_new_contacts(void **state)
{
	fx *f = *state;
	static const char *const six[] = {"c1@x.test", "c2@x.test", "c3@x.test",
	                                  "c4@x.test", "c5@x.test", "c6@x.test",
	                                  NULL};
	size_t i;

	add_inbox(f, "s1", 3, "UTC", NULL);
	add_contacts(f, "l", six);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	add_template(f, "b", "\nAgain.\n");
	/* the window 00:00-03:00: day 1's three sends fall in it, their
	 * follow-ups (12 hours later) fall outside and wait for day 2's
	 * opening, where new contacts are due too */
	create_campaign(f,
	                "name: o\nlist: l\ninboxes: [s1]\ntimezone: UTC\n"
	                "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
	                "from: \"00:00\", to: \"03:00\"}\n"
	                "steps:\n  - template: a\n  - template: b\n    delay: "
	                "12 hours\n",
	                true, at("2026-11-30T00:00:00Z"), NULL);
	run(f, at("2026-11-30T00:00:00Z"), at("2026-12-02T00:00:00Z"));
	/* day 1: three new contacts; day 2: their three follow-ups take the
	 * whole cap before any new contact */
	assert_int_equal(count_day(f, "s1", "2026-11-30"), 3);
	for (i = 0; i < f->n; i++) {
		char d[11];

		cs_tz_day("UTC", f->s[i].at, d, NULL);
		if (strcmp(d, "2026-12-01") == 0)
			assert_int_equal(f->s[i].step, 2);
	}
	assert_int_equal(count_day(f, "s1", "2026-12-01"), 3);
}

static void google(db_inbox *in)
{
	in->provider = CS_PROVIDER_GOOGLE;
}

static void microsoft(db_inbox *in)
{
	in->provider = CS_PROVIDER_MICROSOFT;
}

static void esp_match_prefers_the_same_provider(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	char *map = cs_xasprintf("%s/mx.map", f->dir);
	FILE *m = fopen(map, "w");
	size_t i;

	assert_non_null(m);
	fputs("# test map\none.test google\ntwo.test microsoft\n", m);
	fclose(m);
	assert_int_equal(db_config_set(f->d, "dns.mx_map", map, &err), 0);
	free(map);
	add_inbox(f, "g", 30, "UTC", NULL);
	tweak_inbox(f, "g", google);
	add_inbox(f, "m", 30, "UTC", NULL);
	tweak_inbox(f, "m", microsoft);
	add_contacts(f, "l", twenty);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(f,
	                "name: e\nlist: l\ninboxes: all\ntimezone: UTC\n"
	                "esp_match: true\n" ALLDAY "steps:\n  - template: a\n",
	                true, at("2026-11-30T00:00:00Z"), NULL);
	run(f, at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z"));
	assert_int_equal(f->n, 20);
	for (i = 0; i < f->n; i++)
		assert_string_equal(f->s[i].inbox,
		                    strstr(f->s[i].contact, "one.test") ? "g"
		                                                        : "m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(min_gap_and_spread, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(domain_hourly_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(ramp_and_hard_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(followups_before_new_contacts,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(esp_match_prefers_the_same_provider,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
