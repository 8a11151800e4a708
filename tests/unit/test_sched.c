/*
 * test_sched.c - the scheduler on a simulated clock with a recording
 * transport: rotation, caps, threading, windows across DST, variants,
 * parallel enrollment, held steps, company stops, and preview = run.
 * (Pacing and cap rules one by one: test_sched_rules.c.)
 */
#include "sched_fx.h"

/* ---- acceptance: rotation, caps, threading ------------------------------
 */

static const char *const eight[] = {"p1@c1.test", "p2@c2.test", "p3@c3.test",
                                    "p4@c4.test", "p5@c5.test", "p6@c6.test",
                                    "p7@c7.test", "p8@c8.test", NULL};

static void rotation_caps_threading(void **state)
{
	fx *f = *state;
	char day[11], buf[512];
	size_t i, j;
	int used[3] = {0, 0, 0};

	add_inbox(f, "user1", 4, "UTC", NULL);
	add_inbox(f, "user2", 4, "UTC", NULL);
	add_inbox(f, "user3", 4, "UTC", NULL);
	add_contacts(f, "founders", eight);
	add_template(f, "intro", "Subject: Hello {{first_name}}\n\nHi.\n");
	add_template(f, "fu", "\nFollowing up.\n");
	create_campaign(f,
	                "name: q1\nlist: founders\ninboxes: [user1, user2, "
	                "user3]\ntimezone: UTC\nwindow: {days: [mon, tue, "
	                "wed, thu, fri], from: \"09:00\", to: \"17:00\"}\n"
	                "new_contacts_per_day: 100\nsteps:\n  - template: "
	                "intro\n  - template: fu\n    delay: 1 day\n",
	                true, at("2026-11-30T07:00:00Z"), NULL);
	/* a restart in the middle of day 1: caps come from the database */
	run(f, at("2026-11-30T07:00:00Z"), at("2026-11-30T11:00:00Z"));
	run(f, at("2026-11-30T11:00:00Z"), at("2026-12-03T07:00:00Z"));
	assert_int_equal(f->n, 16);
	for (i = 0; eight[i]; i++) {
		const sent *a = find(f, eight[i], 1), *b = find(f, eight[i], 2);
		char d1[11], d2[11];

		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a->inbox, b->inbox);
		assert_true(b->at >= a->at + 86400000LL);
		cs_tz_day("UTC", a->at, d1, NULL);
		cs_tz_day("UTC", b->at, d2, NULL);
		assert_string_equal(d1, "2026-11-30");
		assert_string_equal(d2, "2026-12-01");
		assert_non_null(
		    header(b->raw, "\nIn-Reply-To:", buf, sizeof buf));
		assert_string_equal(buf, a->msgid);
		assert_non_null(
		    header(b->raw, "\nReferences:", buf, sizeof buf));
		assert_non_null(strstr(buf, a->msgid));
		assert_non_null(header(b->raw, "\nSubject:", buf, sizeof buf));
		assert_string_equal(buf, "Re: Hello Pat");
		used[a->inbox[4] - '1']++;
	}
	for (j = 0; j < 3; j++)
		assert_true(used[j] > 0);
	/* no inbox sends more than 4 in its day */
	for (i = 0; i < f->n; i++) {
		int k = 0;

		cs_tz_day("UTC", f->s[i].at, day, NULL);
		for (j = 0; j < f->n; j++) {
			char d2[11];

			cs_tz_day("UTC", f->s[j].at, d2, NULL);
			k += strcmp(f->s[i].inbox, f->s[j].inbox) == 0 &&
			     strcmp(day, d2) == 0;
		}
		assert_true(k <= 4);
	}
}

/* ---- acceptance: a window across DST, both zones ------------------------
 */

static void window_across_dst(void **state)
{
	fx *f = *state;
	static const char *const eu[] = {"b1@x1.test", "b2@x2.test",
	                                 "b3@x3.test", "b4@x4.test", NULL};
	static const char *const ny[] = {"n1@y1.test,-,America/New_York",
	                                 "n2@y2.test,-,America/New_York",
	                                 "n3@y3.test,-,America/New_York",
	                                 "n4@y4.test,-,America/New_York", NULL};
	size_t i;
	int before = 0, after = 0, nyb = 0, nya = 0;

	add_inbox(f, "eu", 2, "Europe/Berlin", NULL);
	add_inbox(f, "us", 2, "America/New_York", NULL);
	add_contacts(f, "eu", eu);
	add_contacts(f, "ny", ny);
	add_template(f, "intro", "Subject: Hi\n\nHi.\n");
	add_template(f, "fu", "\nAgain.\n");
	/* every day 09-17 in the contact's zone: New York's DST starts
	 * 2026-03-08, Berlin's 2026-03-29; two a day, so each run has sends
	 * on both sides of the change */
	create_campaign(f,
	                "name: ny\nlist: ny\ninboxes: [us]\ntimezone: "
	                "Europe/Berlin\nwindow: {days: [mon, tue, wed, thu, "
	                "fri, sat, sun], from: \"09:00\", to: \"17:00\"}\n"
	                "steps:\n  - template: intro\n  - template: fu\n    "
	                "delay: 1 day\n",
	                true, at("2026-03-06T00:00:00Z"), NULL);
	run(f, at("2026-03-06T00:00:00Z"), at("2026-03-11T00:00:00Z"));
	create_campaign(f,
	                "name: eu\nlist: eu\ninboxes: [eu]\ntimezone: "
	                "Europe/Berlin\nwindow: {days: [mon, tue, wed, thu, "
	                "fri, sat, sun], from: \"09:00\", to: \"17:00\"}\n"
	                "steps:\n  - template: intro\n  - template: fu\n    "
	                "delay: 1 day\n",
	                true, at("2026-03-27T00:00:00Z"), NULL);
	run(f, at("2026-03-27T00:00:00Z"), at("2026-04-01T00:00:00Z"));
	assert_int_equal(f->n, 16);
	for (i = 0; i < f->n; i++) {
		cs_civil c;
		int mod;

		assert_int_equal(
		    cs_tz_civil(f->s[i].zone, f->s[i].at, &c, NULL), 0);
		mod = c.hour * 60 + c.minute;
		assert_true(mod >= 9 * 60 && mod < 17 * 60);
		if (strcmp(f->s[i].zone, "Europe/Berlin") == 0)
			c.offset_min == 60 ? before++ : after++;
		else
			c.offset_min == -300 ? nyb++ : nya++;
	}
	assert_true(nyb > 0 && nya > 0);
	assert_true(before > 0 && after > 0);
}

/* Delays keep the wall-clock time over a DST change; business days skip
 * the weekend. */
static void delays_over_dst_and_weekends(void **state)
{
	int64_t out;
	cs_civil c;

	(void)state;
	/* Saturday 10:00 CET + 1 day = Sunday 10:00 CEST (23 hours) */
	assert_int_equal(seq_delay_apply("Europe/Berlin",
	                                 at("2026-03-28T09:00:00Z"), 1, "days",
	                                 &out, NULL),
	                 0);
	assert_int_equal(out, at("2026-03-29T08:00:00Z"));
	/* Friday + 3 business days = Wednesday, same time */
	assert_int_equal(seq_delay_apply("UTC", at("2026-11-27T10:00:00Z"), 3,
	                                 "business_days", &out, NULL),
	                 0);
	assert_int_equal(out, at("2026-12-02T10:00:00Z"));
	cs_tz_civil("UTC", out, &c, NULL);
	assert_int_equal(c.wday, 3);
	assert_int_equal(seq_delay_apply("UTC", 0, 30, "minutes", &out, NULL),
	                 0);
	assert_int_equal(out, 1800000);
}

/* ---- acceptance: variants, parallel campaigns, held steps --------------- */

static void variants_parallel_held(void **state)
{
	fx *f = *state;
	static const char *const rows[] = {"v1@a1.test,Acme",
	                                   "v2@a2.test,Acme",
	                                   "v3@a3.test,Acme",
	                                   "v4@a4.test,Acme",
	                                   "v5@a5.test,Acme",
	                                   "v6@a6.test,Acme",
	                                   "v7@a7.test,Acme",
	                                   "v8@a8.test,Acme",
	                                   "v9@a9.test,Acme",
	                                   "v10@a10.test,-",
	                                   NULL};
	db_enroll_result r;
	db_enrollment e;
	db_campaign c;
	cs_err err = CS_ERR_INIT;
	size_t i;
	int na = 0, nb = 0;

	add_inbox(f, "s1", 50, "UTC", "team");
	add_inbox(f, "s2", 50, "UTC", "team");
	add_contacts(f, "l", rows);
	add_template(f, "a", "Subject: A\n\nHello from {{company}}.\n");
	add_template(f, "b", "Subject: B\n\nGreetings to {{company}}.\n");
	create_campaign(f,
	                "name: one\nlist: l\ninboxes: [tag:team]\ntimezone: "
	                "UTC\nwindow: {days: [mon, tue, wed, thu, fri], "
	                "from: \"09:00\", to: \"17:00\"}\nsteps:\n  - "
	                "template: [a, b]\n",
	                true, at("2026-11-30T07:00:00Z"), &r);
	assert_int_equal(r.enrolled, 10);
	/* a second campaign over the same list: everyone is busy in "one" */
	create_campaign(f,
	                "name: two\nlist: l\ninboxes: all\ntimezone: UTC\n"
	                "steps:\n  - template: a\n",
	                true, at("2026-11-30T07:00:00Z"), &r);
	assert_int_equal(r.enrolled, 0);
	assert_int_equal(r.parallel, 10);
	run(f, at("2026-11-30T07:00:00Z"), at("2026-12-01T07:00:00Z"));
	assert_int_equal(f->n, 9);
	for (i = 0; i < f->n; i++) {
		if (strcmp(f->s[i].variant, "a") == 0)
			na++;
		else
			nb++;
	}
	assert_true(abs(na - nb) <= 1);
	/* v10 has no company: held, naming the field */
	assert_int_equal(db_campaign_get(f->d, "one", &c, &err), 0);
	assert_int_equal(db_enr_get(f->d, c.id, "v10@a10.test", &e, &err), 0);
	assert_int_equal(e.state, DB_ENR_HELD);
	assert_non_null(strstr(e.reason, "missing field company"));
	db_enrollment_free(&e);
	db_campaign_free(&c);
}

/* ---- stop_company_on_reply, never at free mail ------------------------ */

static void company_stop(void **state)
{
	fx *f = *state;
	static const char *const rows[] = {"ann@corp.test", "bob@corp.test",
	                                   "cy@gmail.com", "di@gmail.com",
	                                   NULL};
	db_campaign c;
	db_enrollment e;
	cs_err err = CS_ERR_INIT;

	add_inbox(f, "s1", 50, "UTC", NULL);
	add_contacts(f, "l", rows);
	add_template(f, "a", "Subject: A\n\nHello.\n");
	add_template(f, "b", "\nAgain.\n");
	create_campaign(f,
	                "name: co\nlist: l\ninboxes: [s1]\ntimezone: UTC\n"
	                "stop_company_on_reply: true\nsteps:\n  - template: "
	                "a\n  - template: b\n    delay: 2 days\n",
	                true, at("2026-11-30T07:00:00Z"), NULL);
	run(f, at("2026-11-30T07:00:00Z"), at("2026-12-01T07:00:00Z"));
	assert_int_equal(f->n, 4);
	assert_int_equal(seq_contact_stop(f->d, "ann@corp.test",
	                                  DB_CONTACT_REPLIED,
	                                  at("2026-12-01T08:00:00Z"), &err),
	                 0);
	assert_int_equal(seq_contact_stop(f->d, "cy@gmail.com",
	                                  DB_CONTACT_REPLIED,
	                                  at("2026-12-01T08:00:00Z"), &err),
	                 0);
	assert_int_equal(db_campaign_get(f->d, "co", &c, &err), 0);
	assert_int_equal(db_enr_get(f->d, c.id, "bob@corp.test", &e, &err), 0);
	assert_int_equal(e.state, DB_ENR_STOPPED);
	db_enrollment_free(&e);
	assert_int_equal(db_enr_get(f->d, c.id, "di@gmail.com", &e, &err), 0);
	assert_int_equal(e.state, DB_ENR_ACTIVE);
	db_enrollment_free(&e);
	db_campaign_free(&c);
	clear_sent(f);
	run(f, at("2026-12-01T08:00:00Z"), at("2026-12-05T07:00:00Z"));
	assert_int_equal(f->n, 1);
	assert_string_equal(f->s[0].contact, "di@gmail.com");
	assert_int_equal(f->s[0].step, 2);
}

/* ---- acceptance: preview is what the transport then receives ---------- */

typedef struct pv {
	seq_preview_row *r;
	char (*strs)[3][64];
	size_t n;
} pv;

static int pv_row(const seq_preview_row *r, void *arg)
{
	pv *p = arg;

	p->r = realloc(p->r, (p->n + 1) * sizeof *p->r);
	p->strs = realloc(p->strs, (p->n + 1) * sizeof *p->strs);
	p->r[p->n] = *r;
	snprintf(p->strs[p->n][0], 64, "%s", r->inbox);
	snprintf(p->strs[p->n][1], 64, "%s", r->contact);
	snprintf(p->strs[p->n][2], 64, "%s", r->variant);
	p->n++;
	return 0;
}

static void preview_matches_run(void **state)
{
	fx *f = *state;
	pv p = {NULL, NULL, 0};
	cs_err err = CS_ERR_INIT;
	size_t i;
	int64_t t0 = at("2026-11-30T06:00:00Z");

	add_inbox(f, "user1", 3, "Europe/Berlin", NULL);
	add_inbox(f, "user2", 5, "UTC", NULL);
	add_inbox(f, "user3", 4, "America/New_York", NULL);
	add_contacts(f, "founders", eight);
	add_template(f, "ia", "Subject: {Hi|Hello} {{first_name}}\n\nA.\n");
	add_template(f, "ib", "Subject: Quick one\n\nB.\n");
	add_template(f, "fu", "\nFollowing up.\n");
	add_template(f, "br", "Subject: Closing the loop\n\nLast one.\n");
	create_campaign(f,
	                "name: q1\nlist: founders\ninboxes: all\ntimezone: "
	                "Europe/Berlin\nnew_contacts_per_day: 5\nsteps:\n  - "
	                "template: [ia, ib]\n  - template: fu\n    delay: 2 "
	                "business days\n  - template: br\n    delay: 4 hours\n"
	                "    new_thread: true\n",
	                false, t0, NULL);
	assert_int_equal(seq_preview(f->d, f->v, "q1", t0, t0 + 8 * 86400000LL,
	                             pv_row, &p, &err),
	                 0);
	assert_int_equal(p.n, 24);
	/* now for real, from the same instant */
	{
		db_campaign c;
		db_enroll_result r;

		assert_int_equal(db_campaign_get(f->d, "q1", &c, &err), 0);
		memset(&r, 0, sizeof r);
		assert_int_equal(db_campaign_enroll(f->d, &c, "founders", NULL,
		                                    t0, &r, &err),
		                 0);
		assert_int_equal(db_campaign_set_status(
		                     f->d, "q1", DB_CAMPAIGN_ACTIVE, t0, &err),
		                 0);
		db_campaign_free(&c);
	}
	run(f, t0, t0 + 8 * 86400000LL);
	assert_int_equal(f->n, p.n);
	for (i = 0; i < p.n; i++) {
		assert_int_equal(f->s[i].at, p.r[i].at);
		assert_string_equal(f->s[i].inbox, p.strs[i][0]);
		assert_string_equal(f->s[i].contact, p.strs[i][1]);
		assert_string_equal(f->s[i].variant, p.strs[i][2]);
		assert_int_equal(f->s[i].step, p.r[i].step);
	}
	free(p.r);
	free(p.strs);
}

/* ---- campaign files: every error names its line ----------------------- */

static void campaign_file_errors(void **state)
{
	fx *f = *state;
	db_campaign c;
	cs_buf errors = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	const char *y = "name: bad\n"
	                "inboxes: [nobody, tag:none]\n"
	                "timezone: Mars/Base\n"
	                "colour: blue\n"
	                "steps:\n"
	                "  - template: nosubj\n"
	                "  - template: ghost\n"
	                "    delay: 3 fortnights\n";

	add_inbox(f, "s1", 10, "UTC", NULL);
	add_template(f, "nosubj", "\nNo subject here.\n");
	assert_int_equal(
	    seq_campaign_parse(f->d, "c.yaml", y, strlen(y), &c, &errors, &err),
	    CS_EINVAL);
	assert_non_null(strstr(errors.data, "c.yaml:2: inboxes: no inbox "
	                                    "named 'nobody'"));
	assert_non_null(strstr(errors.data, "c.yaml:2: inboxes: no inbox has "
	                                    "the tag 'none'"));
	assert_non_null(strstr(errors.data, "c.yaml:3: timezone:"));
	assert_non_null(strstr(errors.data, "c.yaml:4: unknown key 'colour'"));
	assert_non_null(strstr(errors.data, "c.yaml:6: step 1: template "
	                                    "'nosubj' has no Subject"));
	assert_non_null(strstr(errors.data, "c.yaml:7: step 2: no template "
	                                    "named 'ghost'"));
	assert_non_null(strstr(errors.data, "c.yaml:8: step 2: delay"));
	cs_buf_free(&errors);
	/* empty steps */
	y = "name: e\ninboxes: all\nsteps: []\n";
	assert_int_equal(
	    seq_campaign_parse(f->d, "e.yaml", y, strlen(y), &c, &errors, &err),
	    CS_EINVAL);
	assert_non_null(strstr(errors.data, "e.yaml:3: steps: the list is "
	                                    "empty"));
	cs_buf_free(&errors);
	/* YAML syntax */
	y = "name: [unclosed\n";
	assert_int_equal(
	    seq_campaign_parse(f->d, "s.yaml", y, strlen(y), &c, &errors, &err),
	    CS_EINVAL);
	assert_non_null(strstr(err.msg, "s.yaml:"));
	cs_buf_free(&errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(rotation_caps_threading, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(window_across_dst, setup, teardown),
	    cmocka_unit_test(delays_over_dst_and_weekends),
	    cmocka_unit_test_setup_teardown(variants_parallel_held, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(company_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(preview_matches_run, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(campaign_file_errors, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
