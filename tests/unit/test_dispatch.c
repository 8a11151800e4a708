/*
 * test_dispatch.c - the production dispatcher (seq_dispatch.c) driven
 * through a recording batch transport, the way the service drives it
 * with its SMTP transport: batches per inbox completed later (as the
 * worker pool does), rotation across inboxes, the caps, the inbox busy
 * with a batch, the crash resolution (rows left 'sending', found or not
 * in "Sent" through a scripted Sent-folder look-up) and a warmup exchange (a
 * new message and its reply), all through seq_dispatch_run / seq_dispatch_done
 * / seq_dispatch_resolve.
 */
#include "sched_fx.h"

#include <sqlite3.h>

/* ---- the recording batch transport -------------------------------------- */

#define MAXB 64

typedef struct rec {
	seq_batch *pending[MAXB]; /* submitted, not yet done */
	size_t npending;
	int opened, discarded, batches, max_inflight, inflight;
	bool refuse; /* open says the inbox cannot send now */
	/* every message handed over, in order */
	struct {
		long long inbox_id;
		db_purpose purpose;
		char contact[64], msgid[128];
		int step, batch;
		int64_t at; /* the job's time (the service clock) */
		char *raw;
	} msg[256];
	size_t nmsg;
} rec;

static int r_open(void *arg, const db_inbox *in, seq_batch *b)
{
	rec *r = arg;

	assert_int_equal(in->id, b->inbox_id);
	if (r->refuse)
		return -1;
	r->opened++;
	b->priv = r;
	return 0;
}

static void r_discard(void *arg, seq_batch *b)
{
	rec *r = arg;

	assert_ptr_equal(b->priv, r);
	r->discarded++;
}

static void r_submit(void *arg, seq_batch *b)
{
	rec *r = arg;
	size_t i;

	assert_true(b->n >= 1 && b->n <= 3);
	/* an inbox busy with a batch gets no second one */
	for (i = 0; i < r->npending; i++)
		assert_int_not_equal(r->pending[i]->inbox_id, b->inbox_id);
	r->batches++;
	for (i = 0; i < b->n; i++) {
		assert_true(r->nmsg < 256);
		/* one inbox per batch: one SMTP session */
		assert_int_equal(b->jobs[i].inbox_id, b->inbox_id);
		r->msg[r->nmsg].inbox_id = b->inbox_id;
		r->msg[r->nmsg].purpose = b->jobs[i].purpose;
		snprintf(r->msg[r->nmsg].contact, 64, "%s", b->jobs[i].contact);
		snprintf(r->msg[r->nmsg].msgid, 128, "%s",
		         b->jobs[i].message_id);
		r->msg[r->nmsg].step = b->jobs[i].step;
		r->msg[r->nmsg].batch = r->batches;
		r->msg[r->nmsg].at = b->jobs[i].at;
		r->msg[r->nmsg].raw =
		    strndup(b->jobs[i].raw.data, b->jobs[i].raw.len);
		r->nmsg++;
		memset(&b->res[i], 0, sizeof b->res[i]);
		b->res[i].code = 250;
		b->res[i].verdict.outcome = SMTP_SENT;
	}
	/* later, as a worker would: complete() */
	assert_true(r->npending < MAXB);
	r->pending[r->npending++] = b;
	if (++r->inflight > r->max_inflight)
		r->max_inflight = r->inflight;
}

/* The worker pool finishes: every pending batch handed back. */
static void complete(rec *r)
{
	size_t i;

	for (i = 0; i < r->npending; i++) {
		r->inflight--;
		seq_dispatch_done(r->pending[i]);
	}
	r->npending = 0;
}

static void rec_free(rec *r)
{
	size_t i;

	for (i = 0; i < r->nmsg; i++)
		free(r->msg[i].raw);
}

static seq_transport transport(rec *r)
{
	seq_transport t = {.arg = r,
	                   .open = r_open,
	                   .submit = r_submit,
	                   .discard = r_discard,
	                   .batch_max = 3,
	                   .max_batches = 2};

	return t;
}

/* Run the scheduler and the dispatcher on clock until `until`, as the
 * service does: pass, dispatch, the batches complete, next wake. */
static void drive(seq_sched *s, seq_warmup *w, seq_dispatch *dp, rec *r,
                  cs_clock *clock, int64_t until)
{
	cs_err err = CS_ERR_INIT;
	int rounds = 0;

	for (;;) {
		int queued = 0;
		int64_t wake = INT64_MAX, wwake = INT64_MAX;
		bool changed = false;
		size_t before = r->nmsg;

		assert_true(++rounds < 100000);
		if (w)
			assert_int_equal(
			    seq_warmup_pass(w, &wwake, &changed, &err), 0);
		assert_int_equal(seq_sched_pass(s, &queued, &wake, &err), 0);
		if (seq_dispatch_run(dp, 200, NULL, &err) != 0)
			fail_msg("dispatch: %s", err.msg);
		assert_true(seq_dispatch_inflight(dp) <= 3);
		complete(r);
		if (queued || r->nmsg != before)
			continue;
		if (wwake < wake)
			wake = wwake;
		if (wake == INT64_MAX || wake > until) {
			assert_int_equal(cs_clock_advance_to(clock, until), 0);
			return;
		}
		if (wake <= cs_clock_now(clock))
			wake = cs_clock_now(clock) + 1000;
		assert_int_equal(cs_clock_advance_to(clock, wake), 0);
	}
}

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

static long long count(fx *f, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char *p = cs_xasprintf("%s/coldseq.db", f->dir);
	long long n;

	assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	free(p);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static const char *const nine[] = {
    "p1@c1.test", "p2@c2.test", "p3@c3.test", "p4@c4.test", "p5@c5.test",
    "p6@c6.test", "p7@c7.test", "p8@c8.test", "p9@c9.test", NULL};

static void campaign(fx *f, int64_t t0)
{
	add_inbox(f, "user1", 2, "UTC", NULL);
	add_inbox(f, "user2", 2, "UTC", NULL);
	add_inbox(f, "user3", 2, "UTC", NULL);
	add_contacts(f, "l", nine);
	add_template(f, "intro", "Subject: Hello {{first_name}}\n\nHi.\n");
	create_campaign(f,
	                "name: q1\nlist: l\ninboxes: [user1, user2, user3]\n"
	                "timezone: UTC\nwindow: {days: [mon, tue, wed, thu, "
	                "fri, sat, sun], from: \"00:00\", to: \"24:00\"}\n"
	                "new_contacts_per_day: 100\nsteps:\n  - template: "
	                "intro\n",
	                true, t0, NULL);
}

static int no_problem(const char *problem, void *arg)
{
	(void)arg;
	fail_msg("outbox check: %s", problem);
	return -1;
}

/* The outbox's invariants (`coldseq outbox check`) hold. */
static void check(fx *f)
{
	cs_err err = CS_ERR_INIT;

	assert_int_equal(db_outbox_check(f->d, no_problem, NULL, &err), 0);
}

/* ---- rotation, caps, batches, busy inboxes --------------------------------
 */

static void rotation_caps_batches(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-12-01T00:00:00Z");
	cs_clock *clock = cs_clock_new_sim(t0, 0);
	seq_sched *s = NULL;
	seq_dispatch *dp = NULL;
	cs_err err = CS_ERR_INIT;
	rec r;
	seq_transport t;
	int per[3] = {0, 0, 0}, q = 0;
	int64_t wake;
	size_t i, j;

	memset(&r, 0, sizeof r);
	t = transport(&r);
	campaign(f, t0);
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	assert_int_equal(seq_dispatch_open(s, NULL, &t, &dp), 0);

	/* the first batches stay in flight: their inboxes get no second
	 * one, and no more than max_batches go at once */
	assert_int_equal(seq_sched_pass(s, &q, &wake, &err), 0);
	assert_true(q >= 3);
	/* a second row per inbox due too (its pacing gap, half the day
	 * at most, gone by) */
	assert_int_equal(cs_clock_advance_to(clock, t0 + 16 * 3600000LL), 0);
	assert_int_equal(seq_sched_pass(s, &q, &wake, &err), 0);
	assert_true(q >= 3);
	assert_int_equal(seq_dispatch_run(dp, 200, NULL, &err), 0);
	assert_int_equal(r.batches, 2);
	assert_int_equal(seq_dispatch_inflight(dp), 2);
	assert_int_equal(seq_dispatch_run(dp, 200, NULL, &err), 0);
	assert_int_equal(r.batches, 2); /* both slots taken */
	assert_true(r.msg[0].inbox_id != r.msg[r.nmsg - 1].inbox_id);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE state = "
	                          "'sending'"),
	                 (long long)r.nmsg);
	/* an inbox that cannot open a session now: nothing of it begun */
	complete(&r);
	r.refuse = true;
	{
		size_t before = r.nmsg;

		assert_int_equal(seq_sched_pass(s, &q, &wake, &err), 0);
		assert_int_equal(seq_dispatch_run(dp, 200, NULL, &err), 0);
		assert_int_equal(r.nmsg, before);
		assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE "
		                          "state = 'sending'"),
		                 0);
	}
	r.refuse = false;
	/* all three at once now: the row of an inbox whose batch is in
	 * flight waits for the next walk (r_submit checks) */
	t.max_batches = 10;
	{
		size_t before = r.nmsg;

		assert_int_equal(seq_dispatch_run(dp, 200, NULL, &err), 0);
		assert_int_equal(r.npending, 3);
		assert_true(r.nmsg - before >= 3);
		complete(&r);
	}

	/* the rest of the days: three inboxes of 2 a day send 9 contacts
	 * in two days, each inbox its share, never over its cap */
	drive(s, NULL, dp, &r, clock, at("2026-12-03T00:00:00Z"));
	assert_int_equal(r.nmsg, 9);
	assert_int_equal(r.max_inflight, 3);
	for (i = 0; i < r.nmsg; i++) {
		assert_int_equal(r.msg[i].purpose, DB_PURPOSE_CAMPAIGN);
		assert_int_equal(r.msg[i].step, 1);
		per[r.msg[i].inbox_id - inbox_id(f, "user1")]++;
		for (j = 0; j < i; j++) /* each contact once */
			assert_string_not_equal(r.msg[i].contact,
			                        r.msg[j].contact);
	}
	for (j = 0; j < 3; j++)
		assert_true(per[j] >= 2 && per[j] <= 4);
	assert_int_equal(count(f, "SELECT max(n) FROM (SELECT count(*) AS n "
	                          "FROM messages GROUP BY inbox_id, "
	                          "local_day)"),
	                 2);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE state = "
	                          "'sent' AND purpose = 'campaign'"),
	                 9);
	assert_true(r.opened >= r.batches);
	check(f);

	seq_dispatch_close(dp);
	seq_sched_close(s);
	cs_clock_free(clock);
	rec_free(&r);
}

/* ---- crash resolution --------------------------------------------------- */

typedef struct sent_folder { /* what the Sent folder answers, scripted */
	const char *found, *unsearchable; /* Message-IDs */
	int calls;
} sent_folder;

static int lookup(void *arg, const db_inbox *in, const char *message_id,
                  bool *found, cs_err *err)
{
	sent_folder *x = arg;

	assert_non_null(in);
	x->calls++;
	*found = x->found && strcmp(message_id, x->found) == 0;
	if (x->unsearchable && strcmp(message_id, x->unsearchable) == 0)
		return cs_err_set(err, CS_ENET, "IMAP: connection refused");
	return 0;
}

static void crash_resolution(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-12-01T09:00:00Z");
	cs_clock *clock = cs_clock_new_sim(t0, 0);
	seq_sched *s = NULL;
	seq_dispatch *dp = NULL;
	cs_err err = CS_ERR_INIT;
	rec r;
	seq_transport t;
	sent_folder x = {NULL, NULL, 0};
	char sql[512];
	int q;
	int64_t wake;
	size_t i;

	memset(&r, 0, sizeof r);
	t = transport(&r);
	t.max_batches = 3;
	campaign(f, t0);
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	assert_int_equal(seq_dispatch_open(s, NULL, &t, &dp), 0);
	assert_int_equal(seq_sched_pass(s, &q, &wake, &err), 0);
	assert_int_equal(seq_dispatch_run(dp, 200, NULL, &err), 0);
	assert_true(r.nmsg >= 3);
	/* the process dies with the batches in flight: nothing recorded */
	for (i = 0; i < r.npending; i++) {
		size_t k;

		for (k = 0; k < r.pending[i]->n; k++)
			seq_job_free(&r.pending[i]->jobs[k]);
		free(r.pending[i]);
	}
	r.npending = 0;
	seq_dispatch_close(dp);
	seq_sched_close(s);

	/* the next start: one found in Sent, one not, one unsearchable */
	x.found = r.msg[0].msgid;
	x.unsearchable = r.msg[1].msgid;
	/* and a send-test the crash cut off too (as seq_send_now records
	 * it): never sent again */
	{
		db_outbox o;
		db_message m;
		long long oid = 0;
		int attempt = 0;

		memset(&o, 0, sizeof o);
		o.purpose = DB_PURPOSE_TEST;
		o.inbox_id = inbox_id(f, "user1");
		o.message_id = "<t1@a.test>";
		o.subject = "a test";
		o.due_at = t0;
		assert_int_equal(db_outbox_add(f->d, &o, t0, &oid, &err), 0);
		memset(&m, 0, sizeof m);
		m.message_id = "<t1@a.test>";
		m.inbox_id = o.inbox_id;
		m.inbox_email = "user1@a.test";
		m.recipient = "me@example.org";
		m.purpose = DB_PURPOSE_TEST;
		m.created_at = t0;
		m.local_day = "2026-12-01";
		assert_int_equal(db_message_attempt(f->d, &m, &attempt, &err),
		                 0);
		assert_int_equal(seq_outbox_move(f->d, oid, DB_O_QUEUED,
		                                 DB_O_SENDING, NULL, -1, t0,
		                                 &err),
		                 0);
	}
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	assert_int_equal(seq_dispatch_open(s, NULL, &t, &dp), 0);
	assert_int_equal(seq_dispatch_resolve(dp, lookup, &x, &err), 0);
	check(f);
	assert_int_equal(x.calls, (int)r.nmsg + 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox o JOIN messages "
	                          "m ON m.message_id = o.message_id WHERE "
	                          "o.purpose = 'test' AND o.state = 'failed' "
	                          "AND m.outcome = 'uncertain' AND o.reason "
	                          "LIKE '%never sent again%'"),
	                 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM outbox o JOIN enrollments e ON e.id = "
	         "o.enrollment_id WHERE o.message_id = '%s' AND o.state = "
	         "'sent' AND e.state = 'completed'",
	         r.msg[0].msgid);
	assert_int_equal(count(f, sql), 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM outbox WHERE message_id = '%s' AND "
	         "state = 'held' AND reason LIKE '%%could not be searched%%'",
	         r.msg[1].msgid);
	assert_int_equal(count(f, sql), 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM outbox WHERE message_id = '%s' AND "
	         "state = 'held' AND reason LIKE '%%not in the Sent folder%%'",
	         r.msg[2].msgid);
	assert_int_equal(count(f, sql), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE state = "
	                          "'sending'"),
	                 0);
	/* held: never sent again by the dispatcher */
	{
		size_t before = r.nmsg;

		drive(s, NULL, dp, &r, clock, at("2026-12-01T23:00:00Z"));
		for (i = before; i < r.nmsg; i++) {
			assert_string_not_equal(r.msg[i].msgid, r.msg[1].msgid);
			assert_string_not_equal(r.msg[i].msgid, r.msg[2].msgid);
		}
	}
	seq_dispatch_close(dp);
	seq_sched_close(s);
	cs_clock_free(clock);
	rec_free(&r);
}

/* ---- a warmup exchange through the same path ---------------------------- */

static void enable(fx *f, long long id)
{
	db_warmup w;
	cs_err err = CS_ERR_INIT;

	memset(&w, 0, sizeof w);
	w.inbox_id = id;
	w.start = 2;
	w.step = 0;
	w.max = 2;
	w.reply_rate = 50; /* a day: 1 new message, room for 1 reply */
	assert_int_equal(db_warmup_enable(f->d, &w, 1, &err), 0);
}

static void warmup_exchange(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-12-01T08:00:00Z");
	cs_clock *clock = cs_clock_new_sim(t0, 0);
	seq_sched *s = NULL;
	seq_warmup *w = NULL;
	seq_dispatch *dp = NULL;
	cs_err err = CS_ERR_INIT;
	rec r;
	seq_transport t;
	long long a, b;
	size_t i, na = 0, nb = 0, first = 0;
	db_warmup_item it;
	char *refs;

	memset(&r, 0, sizeof r);
	t = transport(&r);
	add_inbox(f, "wa", 5, "UTC", NULL);
	add_inbox(f, "wb", 5, "UTC", NULL);
	a = inbox_id(f, "wa");
	b = inbox_id(f, "wb");
	enable(f, a);
	enable(f, b);
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	assert_int_equal(seq_warmup_open(f->d, clock, &w, &err), 0);
	assert_int_equal(seq_dispatch_open(s, w, &t, &dp), 0);
	drive(s, w, dp, &r, clock, at("2026-12-01T18:00:00Z"));
	/* each inbox's new message of the day, to the other */
	for (i = 0; i < r.nmsg; i++) {
		assert_int_equal(r.msg[i].purpose, DB_PURPOSE_WARMUP);
		if (r.msg[i].inbox_id == a) {
			assert_string_equal(r.msg[i].contact, "wb@a.test");
			if (na++ == 0)
				first = i;
		} else {
			assert_string_equal(r.msg[i].contact, "wa@a.test");
			nb++;
		}
	}
	assert_int_equal(na, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM warmup_plan p JOIN "
	                          "outbox o ON o.warmup_plan_id = p.id AND "
	                          "o.message_id = p.message_id WHERE p.state = "
	                          "'sent' AND o.state = 'sent' AND o.purpose = "
	                          "'warmup'"),
	                 2);
	assert_int_equal(count(f, "SELECT count(*) FROM messages WHERE purpose "
	                          "= 'warmup' AND outcome = 'sent'"),
	                 2);

	/* wb's watcher saw a's first message: the receiving side plans a
	 * reply (as seq_warmup_received does), which goes out next day
	 * from wb, in a's thread, through the same dispatcher */
	memset(&it, 0, sizeof it);
	it.inbox_id = b;
	strcpy(it.local_day, "2026-12-02");
	it.kind = DB_WARMUP_REPLY;
	it.to_addr = "wa@a.test";
	it.subject = "Hello";
	it.in_reply_to = r.msg[first].msgid;
	refs = r.msg[first].msgid;
	it.refs = refs;
	it.due_at = at("2026-12-02T09:00:00Z");
	assert_int_equal(db_warmup_plan_add(f->d, &it, t0, NULL, &err), 0);
	{
		size_t before = r.nmsg, k, replies = 0;

		drive(s, w, dp, &r, clock, at("2026-12-02T18:00:00Z"));
		for (k = before; k < r.nmsg; k++) {
			char want[160];

			if (r.msg[k].inbox_id != b ||
			    strstr(r.msg[k].raw, "In-Reply-To:") == NULL)
				continue;
			replies++;
			snprintf(want, sizeof want, "In-Reply-To: %s",
			         r.msg[first].msgid);
			assert_non_null(strstr(r.msg[k].raw, want));
			assert_non_null(strstr(r.msg[k].raw, "Subject: Re: "
			                                     "Hello"));
		}
		assert_int_equal(replies, 1);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE state <> "
	                          "'sent'"),
	                 0);
	check(f);
	/* nothing of it is a campaign's */
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE "
	                          "enrollment_id IS NOT NULL"),
	                 0);

	seq_dispatch_close(dp);
	seq_warmup_close(w);
	seq_sched_close(s);
	cs_clock_free(clock);
	rec_free(&r);
}

/* A provider's refusal at submission (quota, restricted sender) pauses
 * the inbox for every purpose: its warmup waits for the pause's end,
 * while coldseq's own health pause leaves warmup going. */
static void warmup_waits_for_a_provider_pause(void **state)
{
	fx *f = *state;
	int64_t t0 = at("2026-12-01T08:00:00Z"),
	        end = at("2026-12-02T04:00:00Z");
	cs_clock *clock = cs_clock_new_sim(t0, 0);
	seq_sched *s = NULL;
	seq_warmup *w = NULL;
	seq_dispatch *dp = NULL;
	cs_err err = CS_ERR_INIT;
	rec r;
	seq_transport t;
	long long a, b;
	size_t i, na = 0, nb = 0;

	memset(&r, 0, sizeof r);
	t = transport(&r);
	add_inbox(f, "wa", 5, "UTC", NULL);
	add_inbox(f, "wb", 5, "UTC", NULL);
	a = inbox_id(f, "wa");
	b = inbox_id(f, "wb");
	enable(f, a);
	enable(f, b);
	/* wa: Gmail's daily limit answer; wb: a health pause of coldseq's */
	assert_int_equal(db_inbox_set_status(f->d, "wa", DB_INBOX_PAUSED,
	                                     "550 5.4.5 Daily user sending "
	                                     "limit exceeded (Google)",
	                                     end, t0, &err),
	                 0);
	assert_int_equal(db_inbox_set_provider_hold(f->d, a, &err), 0);
	assert_int_equal(db_inbox_set_status(f->d, "wb", DB_INBOX_PAUSED,
	                                     "warmup health 40%", 0, t0, &err),
	                 0);
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	assert_int_equal(seq_warmup_open(f->d, clock, &w, &err), 0);
	assert_int_equal(seq_dispatch_open(s, w, &t, &dp), 0);
	drive(s, w, dp, &r, clock, at("2026-12-01T23:00:00Z"));
	for (i = 0; i < r.nmsg; i++)
		na += r.msg[i].inbox_id == a;
	assert_int_equal(na, 0); /* not before the pause ends */
	for (i = 0; i < r.nmsg; i++)
		nb += r.msg[i].inbox_id == b;
	assert_int_equal(nb, 1); /* a health pause: warmup goes on */
	/* wa's queued warmup row waits for the pause's end, not a spin */
	assert_int_equal(count(f, "SELECT count(*) FROM outbox o JOIN inboxes "
	                          "i ON i.id = o.inbox_id WHERE i.name = 'wa' "
	                          "AND o.state = 'queued' AND o.due_at >= "
	                          "i.paused_until"),
	                 1);
	drive(s, w, dp, &r, clock, at("2026-12-02T18:00:00Z"));
	for (i = 0, na = 0; i < r.nmsg; i++)
		if (r.msg[i].inbox_id == a) {
			na++;
			assert_true(r.msg[i].at >= end);
		}
	assert_true(na >= 1); /* after it: sent */

	seq_dispatch_close(dp);
	seq_warmup_close(w);
	seq_sched_close(s);
	cs_clock_free(clock);
	rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(rotation_caps_batches, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(crash_resolution, setup, teardown),
	    cmocka_unit_test_setup_teardown(warmup_exchange, setup, teardown),
	    cmocka_unit_test_setup_teardown(warmup_waits_for_a_provider_pause,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
