/*
 * test_limits.c - the provider limits (issue 21): the table and its
 * overrides, the rolling counters (window math, sends outside coldseq,
 * tenants), the authoritative refusal at record time, Microsoft's 30 a
 * minute through a catch-up, and a three-day simulated run that keeps
 * every rolling window full and never over.
 */
#include "sched_fx.h"

#include "sequencer/seq_int.h"

#define ALLDAY                                                                 \
	"window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "           \
	"\"00:00\", to: \"24:00\"}\n"

/* ---- the table ---------------------------------------------------------- */

static void preset_table(void **state)
{
	long long v[CS_LIM_COUNT];

	(void)state;
	/* Google Workspace */
	cs_limits_preset(CS_PROVIDER_GOOGLE, "a@contoso.com", false, v);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 2000);
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 10000);
	assert_int_equal(v[CS_LIM_EXTERNAL_24H], 3000);
	assert_int_equal(v[CS_LIM_UNIQUE_EXTERNAL_24H], 2000);
	assert_int_equal(v[CS_LIM_RECIPIENTS_PER_MESSAGE], 100);
	assert_int_equal(v[CS_LIM_MESSAGES_1M], 0);
	/* on trial */
	cs_limits_preset(CS_PROVIDER_GOOGLE, "a@contoso.com", true, v);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 500);
	assert_int_equal(v[CS_LIM_UNIQUE_EXTERNAL_24H], 500);
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 10000);
	/* Gmail (consumer): 500 messages, 500 recipients; trial means
	 * nothing there */
	cs_limits_preset(CS_PROVIDER_GOOGLE, "a@gmail.com", true, v);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 500);
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 500);
	assert_int_equal(v[CS_LIM_EXTERNAL_24H], 0);
	assert_int_equal(v[CS_LIM_UNIQUE_EXTERNAL_24H], 0);
	assert_int_equal(v[CS_LIM_RECIPIENTS_PER_MESSAGE], 100);
	/* Microsoft 365 */
	cs_limits_preset(CS_PROVIDER_MICROSOFT, "a@contoso.com", false, v);
	assert_int_equal(v[CS_LIM_MESSAGES_1M], 30);
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 10000);
	assert_int_equal(v[CS_LIM_TENANT_EXTERNAL_24H], CS_LIM_FROM_TENANT);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 0);
	/* generic: none */
	cs_limits_preset(CS_PROVIDER_GENERIC, "a@gmail.com", false, v);
	for (int i = 0; i < CS_LIM_COUNT; i++)
		assert_int_equal(v[i], 0);
	/* the tenant formula: floor(500 * licences^0.7 + 9500) */
	assert_int_equal(cs_limit_tenant_external(0, 0), 10000);
	assert_int_equal(cs_limit_tenant_external(1, 0), 10000);
	assert_int_equal(cs_limit_tenant_external(40, 0), 16113);
	assert_int_equal(cs_limit_tenant_external(1000, 0), 72446);
	assert_int_equal(cs_limit_tenant_external(40, 12000), 12000);
}

static void overrides(void **state)
{
	cs_err err = CS_ERR_INIT;
	long long v[CS_LIM_COUNT], n = -1;
	char *s = NULL;

	(void)state;
	assert_int_equal(cs_limits_edit(&s, "recipients_24h", 7, &err), 0);
	assert_int_equal(cs_limits_edit(&s, "messages_24h", 0, &err), 0);
	assert_string_equal(s, "messages_24h=0 recipients_24h=7");
	assert_true(cs_limits_get(s, CS_LIM_RECIPIENTS_24H, &n));
	assert_int_equal(n, 7);
	assert_false(cs_limits_get(s, CS_LIM_MESSAGES_1M, &n));
	cs_limits_preset(CS_PROVIDER_GOOGLE, "a@contoso.com", false, v);
	assert_int_equal(cs_limits_override(s, v, &err), 0);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 0); /* 0: off */
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 7);
	assert_int_equal(v[CS_LIM_EXTERNAL_24H], 3000); /* untouched */
	/* NAME=default (n < 0) drops the override */
	assert_int_equal(cs_limits_edit(&s, "messages_24h", -1, &err), 0);
	assert_string_equal(s, "recipients_24h=7");
	assert_int_equal(cs_limits_edit(&s, "recipients_24h", -1, &err), 0);
	assert_null(s);
	/* an unknown name: a clear error listing the names */
	assert_int_equal(cs_limits_edit(&s, "messages_day", 3, &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "messages_day"));
	assert_non_null(strstr(err.msg, "unique_external_24h"));
	assert_int_equal(cs_limits_override("messages_24h=x", v, &err),
	                 CS_EINVAL);
	free(s);
}

/* ---- the counters -------------------------------------------------------- */

static long long inbox_id(fx *f, const char *name)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	long long id;

	assert_int_equal(db_inbox_get(f->d, name, &in, &err), 0);
	id = in.id;
	db_inbox_free(&in);
	return id;
}

/* Record a message from inbox name to rcpt at t through the
 * authoritative check with the inbox's limits in force; *refused and
 * caps say what it answered. */
static void record(fx *f, const char *name, const char *rcpt, int64_t t,
                   bool *refused, db_caps *caps)
{
	static int seq;
	db_inbox in;
	db_message m;
	cs_err err = CS_ERR_INIT;
	char mid[64], day[11];

	assert_int_equal(db_inbox_get(f->d, name, &in, &err), 0);
	memset(caps, 0, sizeof *caps);
	caps->cap = -1;
	assert_int_equal(seq_limits_caps(f->d, &in, caps, &err), 0);
	snprintf(mid, sizeof mid, "<m%d@a.test>", ++seq);
	cs_tz_day("UTC", t, day, NULL);
	memset(&m, 0, sizeof m);
	m.message_id = mid;
	m.inbox_id = in.id;
	m.inbox_email = in.email;
	m.recipient = rcpt;
	m.purpose = DB_PURPOSE_CAMPAIGN;
	m.subject = "s";
	m.created_at = t;
	m.local_day = day;
	caps->tenant = in.tenant; /* valid while in is */
	assert_int_equal(db_message_add_capped(f->d, &m, caps, refused, &err),
	                 0);
	caps->tenant = NULL;
	if (!*refused)
		assert_int_equal(db_message_set_outcome(f->d, mid, "sent", 250,
		                                        "ok", t, &err),
		                 0);
	db_inbox_free(&in);
}

static const char *lim_text;

static void set_limits(db_inbox *in)
{
	free(in->limits);
	in->limits = strdup(lim_text);
}

static void limit(fx *f, const char *name, const char *text)
{
	lim_text = text;
	tweak_inbox(f, name, set_limits);
}

static void window_math(void **state)
{
	fx *f = *state;
	db_caps caps;
	bool refused;

	add_inbox(f, "w", 100, "UTC", NULL);
	limit(f, "w", "messages_24h=2");
	record(f, "w", "x@b.test", at("2026-12-01T09:10:00Z"), &refused, &caps);
	assert_false(refused);
	record(f, "w", "y@b.test", at("2026-12-01T15:00:00Z"), &refused, &caps);
	assert_false(refused);
	/* full: across midnight too (the window rolls, the day does not
	 * matter) */
	record(f, "w", "z@b.test", at("2026-12-02T00:30:00Z"), &refused, &caps);
	assert_true(refused);
	assert_true(caps.lim_over);
	assert_int_equal(caps.lim_id, CS_LIM_MESSAGES_24H);
	assert_int_equal(caps.lim_used, 2);
	assert_int_equal(caps.lim_max, 2);
	/* a send at 09:10 frees capacity at 09:10 the next day */
	assert_int_equal(caps.lim_frees_at, at("2026-12-02T09:10:00Z"));
	record(f, "w", "z@b.test", at("2026-12-02T09:09:59Z"), &refused, &caps);
	assert_true(refused);
	record(f, "w", "z@b.test", at("2026-12-02T09:10:00Z"), &refused, &caps);
	assert_false(refused);
	/* and now 15:00's is the one that frees next */
	record(f, "w", "q@b.test", at("2026-12-02T10:00:00Z"), &refused, &caps);
	assert_true(refused);
	assert_int_equal(caps.lim_frees_at, at("2026-12-02T15:00:00Z"));
	/* an override of 0 turns the limit off */
	limit(f, "w", "messages_24h=0");
	record(f, "w", "q@b.test", at("2026-12-02T10:00:00Z"), &refused, &caps);
	assert_false(refused);
}

static void trial_and_consumer(void **state)
{
	fx *f = *state;
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	long long v[CS_LIM_COUNT];

	add_inbox(f, "g", 100, "UTC", NULL);
	assert_int_equal(db_inbox_get(f->d, "g", &in, &err), 0);
	in.provider = CS_PROVIDER_GOOGLE;
	in.trial = true;
	assert_int_equal(db_inbox_update(f->d, &in, &err), 0);
	db_inbox_free(&in);
	assert_int_equal(db_inbox_get(f->d, "g", &in, &err), 0);
	assert_true(in.trial); /* stored */
	assert_int_equal(seq_limits_of(f->d, &in, v, &err), 0);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 500);
	assert_int_equal(seq_inbox_hard_cap(&in), 500);
	free(in.email);
	in.email = strdup("g@gmail.com");
	in.trial = false;
	assert_int_equal(seq_limits_of(f->d, &in, v, &err), 0);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 500);
	assert_int_equal(v[CS_LIM_RECIPIENTS_24H], 500);
	assert_int_equal(v[CS_LIM_EXTERNAL_24H], 0);
	free(in.email);
	in.email = strdup("g@a.test");
	assert_int_equal(seq_limits_of(f->d, &in, v, &err), 0);
	assert_int_equal(v[CS_LIM_MESSAGES_24H], 2000);
	db_inbox_free(&in);
}

static void sent_external_counted(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	const cs_limit_kind *km = cs_limit_kind_get(CS_LIM_MESSAGES_24H);
	const cs_limit_kind *kr = cs_limit_kind_get(CS_LIM_RECIPIENTS_24H);
	const cs_limit_kind *ke = cs_limit_kind_get(CS_LIM_EXTERNAL_24H);
	const cs_limit_kind *ku = cs_limit_kind_get(CS_LIM_UNIQUE_EXTERNAL_24H);
	int64_t t0 = at("2026-12-01T08:00:00Z"),
	        now = at("2026-12-01T20:00:00Z");
	db_limit_use u;
	db_caps caps;
	bool refused;
	long long id;

	add_inbox(f, "s", 100, "UTC", NULL);
	id = inbox_id(f, "s");
	/* coldseq: one to a colleague (same domain), one outside */
	record(f, "s", "pat@a.test", t0, &refused, &caps);
	record(f, "s", "ext1@b.test", t0 + 1000, &refused, &caps);
	/* the person using the mailbox: one message to three people (two
	 * outside, one of them ext1 again), another to ext1 */
	assert_int_equal(db_sent_external_add(f->d, id, "<h1@a.test>",
	                                      "boss@a.test", false, t0 + 2000,
	                                      "2026-12-01", &err),
	                 0);
	assert_int_equal(db_sent_external_add(f->d, id, "<h1@a.test>",
	                                      "EXT1@b.test", true, t0 + 2000,
	                                      "2026-12-01", &err),
	                 0);
	assert_int_equal(db_sent_external_add(f->d, id, "<h1@a.test>",
	                                      "ext2@c.test", true, t0 + 2000,
	                                      "2026-12-01", &err),
	                 0);
	assert_int_equal(db_sent_external_add(f->d, id, "<h2@a.test>",
	                                      "ext1@b.test", true, t0 + 3000,
	                                      "2026-12-01", &err),
	                 0);
	/* the same row twice is one row */
	assert_int_equal(db_sent_external_add(f->d, id, "<h2@a.test>",
	                                      "ext1@b.test", true, t0 + 3000,
	                                      "2026-12-01", &err),
	                 0);
	assert_int_equal(
	    db_limit_count(f->d, id, NULL, km, 10, now, false, &u, &err), 0);
	assert_int_equal(u.used, 4); /* 2 of coldseq's, h1, h2 */
	assert_int_equal(
	    db_limit_count(f->d, id, NULL, kr, 10, now, false, &u, &err), 0);
	assert_int_equal(u.used, 6);
	assert_int_equal(
	    db_limit_count(f->d, id, NULL, ke, 10, now, false, &u, &err), 0);
	assert_int_equal(u.used, 4); /* ext1 (coldseq), EXT1, ext2, ext1 */
	assert_int_equal(
	    db_limit_count(f->d, id, NULL, ku, 2, now, false, &u, &err), 0);
	assert_int_equal(u.used, 2); /* ext1, ext2 */
	/* unique: a recipient leaves the window with its latest send:
	 * ext2 (t0 + 2 s) before ext1 (last sent at t0 + 3 s) */
	assert_int_equal(u.frees_at, t0 + 2000 + 86400000);
	/* the 2nd oldest message + 24 h frees the 4-of-3 window */
	assert_int_equal(
	    db_limit_count(f->d, id, NULL, km, 3, now, false, &u, &err), 0);
	assert_int_equal(u.frees_at, t0 + 1000 + 86400000);
	/* and a day later none of it counts */
	assert_int_equal(db_limit_count(f->d, id, NULL, kr, 10,
	                                t0 + 86400000 + 3000, false, &u, &err),
	                 0);
	assert_int_equal(u.used, 0);
	/* they count at record time: 4 messages in the window, limit 4 */
	limit(f, "s", "messages_24h=4");
	record(f, "s", "ext3@d.test", now, &refused, &caps);
	assert_true(refused);
	assert_int_equal(caps.lim_used, 4);
}

static void tenant_shared(void **state)
{
	fx *f = *state;
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	db_caps caps;
	bool refused;
	int64_t t0 = at("2026-12-01T08:00:00Z");

	add_inbox(f, "t1", 100, "UTC", NULL); /* t1@a.test */
	add_inbox(f, "t2", 100, "UTC", NULL);
	{
		const char *names[] = {"t1", "t2"};

		for (int i = 0; i < 2; i++) {
			assert_int_equal(
			    db_inbox_get(f->d, names[i], &in, &err), 0);
			in.provider = CS_PROVIDER_MICROSOFT;
			in.tenant = strdup("Contoso");
			if (i == 1) {
				free(in.email);
				in.email = strdup("t2@b.test");
			}
			assert_int_equal(db_inbox_update(f->d, &in, &err), 0);
			db_inbox_free(&in);
		}
	}
	assert_int_equal(db_tenant_set(f->d, "contoso", -1, 2, t0, &err), 0);
	/* to the tenant's other domain: not external */
	record(f, "t1", "x@b.test", t0, &refused, &caps);
	assert_false(refused);
	record(f, "t1", "x@out.test", t0 + 1, &refused, &caps);
	assert_false(refused);
	record(f, "t2", "y@out.test", t0 + 2, &refused, &caps);
	assert_false(refused);
	/* the tenant's counter is full: t2 refused for t1's sends too */
	record(f, "t2", "z@out.test", t0 + 3, &refused, &caps);
	assert_true(refused);
	assert_int_equal(caps.lim_id, CS_LIM_TENANT_EXTERNAL_24H);
	assert_int_equal(caps.lim_used, 2);
	assert_int_equal(caps.lim_frees_at, t0 + 1 + 86400000);
	/* an internal message still goes */
	record(f, "t2", "w@a.test", t0 + 4, &refused, &caps);
	assert_false(refused);
	/* the licence formula when no limit is set */
	assert_int_equal(db_tenant_set(f->d, "contoso", 40, 0, t0, &err), 0);
	assert_int_equal(db_inbox_get(f->d, "t1", &in, &err), 0);
	{
		long long v[CS_LIM_COUNT];

		assert_int_equal(seq_limits_of(f->d, &in, v, &err), 0);
		assert_int_equal(v[CS_LIM_TENANT_EXTERNAL_24H], 16113);
	}
	db_inbox_free(&in);
	{
		db_tenant *t = NULL;
		size_t n = 0;

		assert_int_equal(db_tenant_list(f->d, &t, &n, &err), 0);
		assert_int_equal(n, 1);
		assert_int_equal(t[0].inboxes, 2);
		assert_int_equal(t[0].licences, 40);
		db_tenant_list_free(t, n);
	}
}

static void one_recipient_per_message(void **state)
{
	fx *f = *state;
	db_caps caps;
	bool refused;

	add_inbox(f, "r", 100, "UTC", NULL);
	limit(f, "r", "recipients_per_message=1");
	record(f, "r", "a@b.test,c@d.test", at("2026-12-01T08:00:00Z"),
	       &refused, &caps);
	assert_true(refused);
	assert_int_equal(caps.lim_id, CS_LIM_RECIPIENTS_PER_MESSAGE);
	record(f, "r", "a@b.test", at("2026-12-01T08:00:00Z"), &refused, &caps);
	assert_false(refused);
}

/* ---- Microsoft: 30 a minute, whatever the backlog -------------------- */

/* The most sends of inbox in any window of w ms (ending at a send). */
static long long most_in(const fx *f, const char *inbox, int64_t w)
{
	long long most = 0;

	for (size_t i = 0; i < f->n; i++) {
		long long n = 0;

		if (strcmp(f->s[i].inbox, inbox) != 0)
			continue;
		for (size_t j = 0; j < f->n; j++)
			n += strcmp(f->s[j].inbox, inbox) == 0 &&
			     f->s[j].at > f->s[i].at - w &&
			     f->s[j].at <= f->s[i].at;
		if (n > most)
			most = n;
	}
	return most;
}

static void in_flight_minute(void **state)
{
	fx *f = *state;
	db_inbox in;
	db_message m;
	db_caps caps;
	cs_err err = CS_ERR_INIT;
	int64_t t0 = at("2026-12-01T08:00:00Z");
	char mid[40][32];
	bool refused;
	int i;

	add_inbox(f, "ms", 1000, "UTC", NULL);
	assert_int_equal(db_inbox_get(f->d, "ms", &in, &err), 0);
	in.provider = CS_PROVIDER_MICROSOFT;
	assert_int_equal(db_inbox_update(f->d, &in, &err), 0);
	/* a backlog after downtime: 31 recorded at once before DATA */
	for (i = 0; i < 31; i++) {
		memset(&caps, 0, sizeof caps);
		caps.cap = -1;
		assert_int_equal(seq_limits_caps(f->d, &in, &caps, &err), 0);
		snprintf(mid[i], sizeof mid[i], "<b%d@a.test>", i);
		memset(&m, 0, sizeof m);
		m.message_id = mid[i];
		m.inbox_id = in.id;
		m.inbox_email = in.email;
		m.recipient = "x@out.test";
		m.purpose = DB_PURPOSE_CAMPAIGN;
		m.created_at = t0;
		m.local_day = "2026-12-01";
		assert_int_equal(
		    db_message_add_capped(f->d, &m, &caps, &refused, &err), 0);
		assert_int_equal(refused, i == 30);
	}
	assert_int_equal(caps.lim_id, CS_LIM_MESSAGES_1M);
	/* the batch is slow: the 30 reach the server over 50 s.  Until
	 * a minute after the last of them settled, nothing more goes: a
	 * message recorded earlier would meet them in one server minute */
	for (i = 0; i < 30; i++)
		assert_int_equal(db_message_set_outcome(f->d, mid[i], "sent",
		                                        250, "ok", t0 + 50000,
		                                        &err),
		                 0);
	m.message_id = "<late@a.test>";
	for (int64_t t = t0 + 60000; t < t0 + 110000; t += 10000) {
		m.created_at = t;
		memset(&caps, 0, sizeof caps);
		caps.cap = -1;
		assert_int_equal(seq_limits_caps(f->d, &in, &caps, &err), 0);
		assert_int_equal(
		    db_message_add_capped(f->d, &m, &caps, &refused, &err), 0);
		assert_true(refused);
		assert_int_equal(caps.lim_frees_at, t0 + 50000 + 60000);
	}
	m.created_at = t0 + 110000;
	memset(&caps, 0, sizeof caps);
	caps.cap = -1;
	assert_int_equal(seq_limits_caps(f->d, &in, &caps, &err), 0);
	assert_int_equal(db_message_add_capped(f->d, &m, &caps, &refused, &err),
	                 0);
	if (refused)
		fail_msg("refused: %s %lld/%lld until %lld (t0 + %lld)",
		         cs_limit_kind_get(caps.lim_id)->name, caps.lim_used,
		         caps.lim_max, (long long)caps.lim_frees_at,
		         (long long)(caps.lim_frees_at - t0));
	db_inbox_free(&in);
}

static void ms_fast(db_inbox *in)
{
	in->provider = CS_PROVIDER_MICROSOFT;
	in->min_gap = 1; /* pacing alone would allow 60 a minute */
}

static void ms_catch_up(void **state)
{
	fx *f = *state;
	enum { N = 400 };
	static char rows[N][32];
	const char *list[N + 1];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(rows[i], sizeof rows[i], "c%d@d%d.test", i, i % 7);
		list[i] = rows[i];
	}
	list[N] = NULL;
	add_inbox(f, "ms", 10000, "UTC", NULL);
	tweak_inbox(f, "ms", ms_fast);
	add_contacts(f, "l", list);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	/* enrolled at 06:00, the service down until 09:00: every contact
	 * is due at once, and the window is one hour */
	create_campaign(f,
	                "name: c\nlist: l\ninboxes: [ms]\ntimezone: UTC\n"
	                "new_contacts_per_day: 1000\n"
	                "window: {days: [mon, tue, wed, thu, fri, sat, sun], "
	                "from: \"09:00\", to: \"10:00\"}\n"
	                "steps:\n  - template: a\n",
	                true, at("2026-11-30T06:00:00Z"), NULL);
	run(f, at("2026-11-30T09:00:00Z"), at("2026-11-30T10:00:00Z"));
	assert_int_equal(f->n, N);
	assert_true(most_in(f, "ms", 60000) <= 30);
	/* and the minute is used: 400 at 30 a minute take 13.3 minutes */
	fprintf(stderr, "# 400 sent in %.1f minutes\n",
	        (double)(f->s[N - 1].at - f->s[0].at) / 60000.0);
	assert_true(f->s[N - 1].at - f->s[0].at <= 14 * 60000);
}

/* ---- three simulated days: full and never over ---------------------- */

static long long count_of(const fx *f, const char *inbox)
{
	long long n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->s[i].inbox, inbox) == 0;
	return n;
}

static void sim_three_days(void **state)
{
	fx *f = *state;
	enum { N = 200, LIMIT = 20 };
	static char rows[N][32];
	const char *list[N + 1];
	int64_t start = at("2026-11-30T00:00:00Z"), fill = 0;
	size_t i, j, k;

	for (i = 0; i < N; i++) {
		snprintf(rows[i], sizeof rows[i], "c%zu@d%zu.test", i, i % 11);
		list[i] = rows[i];
	}
	list[N] = NULL;
	add_inbox(f, "r1", 30, "UTC", NULL);
	limit(f, "r1", "messages_24h=20");
	/* a second inbox, without limits, keeps the loop waking while r1
	 * is full (as a service's other inboxes do) */
	add_inbox(f, "r2", 30, "UTC", NULL);
	add_contacts(f, "l", list);
	add_template(f, "a", "Subject: A\n\nHi.\n");
	create_campaign(f,
	                "name: c\nlist: l\ninboxes: [r1, r2]\ntimezone: UTC\n"
	                "new_contacts_per_day: 1000\n" ALLDAY
	                "steps:\n  - template: a\n",
	                true, start, NULL);
	run(f, start, start + 3 * 86400000LL);
	assert_true(count_of(f, "r1") >= 3 * LIMIT - 1);
	{
		/* the scheduler planned nothing the limit would refuse: no
		 * row waits in the outbox for the window to free */
		db_queue_counts q;
		cs_err err = CS_ERR_INIT;

		assert_int_equal(db_queue_counts_get(f->d, &q, &err), 0);
		assert_int_equal(q.queued, 0);
	}
	/* never over: no 24 hours ending at a send hold more than 20 */
	assert_true(most_in(f, "r1", 86400000) <= LIMIT);
	/* full: once the window first filled, every 24 hours ending just
	 * before a send (the emptiest moments) hold at least 95% */
	for (i = 0, k = 0; i < f->n && k < LIMIT; i++)
		if (strcmp(f->s[i].inbox, "r1") == 0 && ++k == LIMIT)
			fill = f->s[i].at;
	for (i = 0; i < f->n; i++) {
		int64_t t = f->s[i].at - 1;
		long long n = 0;

		if (strcmp(f->s[i].inbox, "r1") != 0 || t < fill)
			continue;
		for (j = 0; j < f->n; j++)
			n += strcmp(f->s[j].inbox, "r1") == 0 &&
			     f->s[j].at > t - 86400000 && f->s[j].at <= t;
		assert_true(n * 100 >= LIMIT * 95);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(preset_table),
	    cmocka_unit_test(overrides),
	    cmocka_unit_test_setup_teardown(window_math, setup, teardown),
	    cmocka_unit_test_setup_teardown(trial_and_consumer, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sent_external_counted, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tenant_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(one_recipient_per_message, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(in_flight_minute, setup, teardown),
	    cmocka_unit_test_setup_teardown(ms_catch_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(sim_three_days, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
