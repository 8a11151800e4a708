/*
 * test_warmup.c - warmup's pure parts and its storage: the ramp, the
 * content corpus (enough distinct subjects and bodies, no topic twice in
 * a row, no fixed marker), settings, the plan's reply dedupe and the
 * health figure; a day planned once; sends a crash cut off (found in
 * Sent, lost, not checked, seen later by a receiver).
 */
#include "unit.h"

#include <sqlite3.h>

#include "db/db.h"
#include "sequencer/seq.h"

static void ramp(void **state)
{
	static const struct {
		int start, step, max;
		long long day;
		int want;
	} t[] = {
	    {2, 2, 40, 1, 2},   {2, 2, 40, 2, 4},   {2, 2, 40, 10, 20},
	    {2, 2, 40, 20, 40}, {2, 2, 40, 60, 40}, {5, 0, 40, 9, 5},
	    {3, 5, 10, 3, 10},  {2, 2, 40, 0, 2},
	};
	db_warmup w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_int_equal(
		    seq_warmup_quota(t[i].start, t[i].step, t[i].max, t[i].day),
		    t[i].want);
	memset(&w, 0, sizeof w);
	assert_int_equal(seq_warmup_ramp_day(&w, "2026-12-01"), 1);
	strcpy(w.first_day, "2026-11-28");
	assert_int_equal(seq_warmup_ramp_day(&w, "2026-11-28"), 1);
	assert_int_equal(seq_warmup_ramp_day(&w, "2026-12-01"), 4);
	assert_int_equal(seq_warmup_ramp_day(&w, "2027-01-01"), 35);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t distinct(char **v, size_t n)
{
	size_t i, k = n ? 1 : 0;

	qsort(v, n, sizeof *v, cmp_str);
	for (i = 1; i < n; i++)
		if (strcmp(v[i], v[i - 1]) != 0)
			k++;
	return k;
}

static void corpus(void **state)
{
	enum { N = 4000 };
	char **subj = calloc(N, sizeof *subj), **body = calloc(N, sizeof *body);
	int prev = -1, i;
	cs_buf r = CS_BUF_INIT;

	(void)state;
	assert_true(seq_warmup_subject_count() >= 200);
	assert_true(seq_warmup_body_count() >= 200);
	for (i = 0; i < N; i++) {
		cs_buf s = CS_BUF_INIT, b = CS_BUF_INIT;
		int topic =
		    seq_warmup_compose((uint64_t)i * 7919u + 1, prev,
		                       i % 2 ? "Ann Lee" : NULL, &s, &b);

		assert_true(topic >= 0);
		assert_int_not_equal(topic, prev); /* never twice in a row */
		prev = topic;
		assert_true(s.len > 10 && s.len < 80);
		assert_null(strchr(cs_buf_str(&s), '\n'));
		assert_true(b.len > 60);
		subj[i] = cs_buf_detach(&s, NULL);
		body[i] = cs_buf_detach(&b, NULL);
	}
	/* the corpus really combines: most subjects and bodies show up */
	assert_true(distinct(subj, N) >= 200);
	assert_true(distinct(body, N) >= 1000);
	for (i = 0; i < N; i++) {
		free(subj[i]);
		free(body[i]);
	}
	free(subj);
	free(body);
	seq_warmup_reply_text(42, "Ann", &r);
	assert_non_null(strstr(cs_buf_str(&r), "Ann"));
	cs_buf_free(&r);
}

typedef struct fx {
	char *dir, path[512];
	db *d;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	snprintf(f->path, sizeof f->path, "%s/c.db", f->dir);
	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &f->d, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	db_close(f->d);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static long long add_inbox(db *d, const char *name, const char *email)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	long long id;

	assert_int_equal(
	    db_inbox_insert_min(d, name, email, name, "x", 1, &err), 0);
	assert_int_equal(db_inbox_get(d, name, &in, &err), 0);
	id = in.id;
	db_inbox_free(&in);
	return id;
}

/* When add_msg says the message was sent (ms). */
static int64_t msg_at = 1000;

static void add_msg(db *d, long long inbox, const char *from, const char *id,
                    const char *to)
{
	db_message m;
	cs_err err = CS_ERR_INIT;
	int attempt = 0;

	memset(&m, 0, sizeof m);
	m.message_id = id;
	m.inbox_id = inbox;
	m.inbox_email = from;
	m.recipient = to;
	m.purpose = DB_PURPOSE_WARMUP;
	m.created_at = msg_at;
	m.local_day = "2026-12-01";
	assert_int_equal(db_message_attempt(d, &m, &attempt, &err), 0);
	assert_int_equal(attempt, 1);
}

static void seen(db *d, long long inbox, const char *id, const char *folder)
{
	db_event e;
	cs_err err = CS_ERR_INIT;
	bool added;

	memset(&e, 0, sizeof e);
	e.inbox_id = inbox;
	e.msg_key = id;
	e.kind = DB_EV_WARMUP;
	e.folder = folder;
	e.message_id = id;
	e.related_message_id = id;
	e.hard = -1;
	e.received_at = 2000;
	assert_int_equal(db_event_add(d, &e, &added, &err), 0);
	assert_true(added);
}

static void storage(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	long long a = add_inbox(f->d, "a", "a@x.test"),
	          b = add_inbox(f->d, "b", "b@y.test"), n, good;
	db_warmup w, *l = NULL;
	db_warmup_item it;
	size_t nl = 0;
	bool found, added;

	memset(&w, 0, sizeof w);
	w.inbox_id = a;
	w.start = 2;
	w.step = 3;
	w.max = 9;
	w.reply_rate = 50;
	assert_int_equal(db_warmup_enable(f->d, &w, 1, &err), 0);
	assert_int_equal(db_warmup_note(f->d, a, "2026-12-01", 4, 1, &err), 0);
	/* first_day is kept once set */
	assert_int_equal(db_warmup_note(f->d, a, "2026-12-05", -1, 1, &err), 0);
	assert_int_equal(db_warmup_list(f->d, &l, &nl, &err), 0);
	assert_int_equal(nl, 1);
	assert_string_equal(l[0].inbox, "a");
	assert_string_equal(l[0].first_day, "2026-12-01");
	assert_int_equal(l[0].last_topic, 4);
	assert_int_equal(l[0].step, 3);
	assert_true(l[0].enabled);
	db_warmup_list_free(l, nl);

	/* one reply per message and inbox */
	memset(&it, 0, sizeof it);
	it.inbox_id = a;
	strcpy(it.local_day, "2026-12-01");
	it.kind = DB_WARMUP_REPLY;
	it.to_addr = "b@y.test";
	it.in_reply_to = "<m1@y.test>";
	it.due_at = 5000;
	assert_int_equal(db_warmup_plan_add(f->d, &it, 1, &added, &err), 0);
	assert_true(added);
	assert_int_equal(db_warmup_plan_add(f->d, &it, 1, &added, &err), 0);
	assert_false(added);
	assert_int_equal(db_warmup_plan_count(f->d, a, "2026-12-01",
	                                      DB_WARMUP_REPLY, &n, &err),
	                 0);
	assert_int_equal(n, 1);
	/* disabling drops what is planned */
	assert_int_equal(db_warmup_disable(f->d, a, 2, &found, &err), 0);
	assert_true(found);
	assert_int_equal(db_warmup_plan_count(f->d, a, "2026-12-01",
	                                      DB_WARMUP_REPLY, &n, &err),
	                 0);
	assert_int_equal(n, 0);

	/* health: b's messages seen by a, 3 in INBOX and 1 in Junk */
	add_msg(f->d, b, "b@y.test", "<1@y>", "a@x.test");
	add_msg(f->d, b, "b@y.test", "<2@y>", "a@x.test");
	add_msg(f->d, b, "b@y.test", "<3@y>", "a@x.test");
	add_msg(f->d, b, "b@y.test", "<4@y>", "a@x.test");
	add_msg(f->d, a, "a@x.test", "<5@x>", "b@y.test");
	seen(f->d, a, "<1@y>", "INBOX");
	seen(f->d, a, "<2@y>", "INBOX");
	seen(f->d, a, "<3@y>", "Junk");
	seen(f->d, a, "<4@y>", "INBOX");
	seen(f->d, b, "<5@x>", "Junk");
	assert_int_equal(db_warmup_health(f->d, b, 0, &n, &good, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(good, 3);
	assert_int_equal(db_warmup_health(f->d, a, 0, &n, &good, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(good, 0);
	/* only messages sent in the window count */
	assert_int_equal(db_warmup_health(f->d, b, 1001, &n, &good, &err), 0);
	assert_int_equal(n, 0);

	/* warmup counts toward the hard total always, toward the campaign
	 * cap only with counts_toward_cap */
	{
		long long camp = 0, total = 0;

		w.inbox_id = b;
		assert_int_equal(db_warmup_enable(f->d, &w, 3, &err), 0);
		assert_int_equal(db_message_count_caps(f->d, b, "2026-12-01",
		                                       &camp, &total, &err),
		                 0);
		assert_int_equal(camp, 0);
		assert_int_equal(total, 4);
		w.counts_toward_cap = true;
		assert_int_equal(db_warmup_enable(f->d, &w, 4, &err), 0);
		assert_int_equal(db_message_count_caps(f->d, b, "2026-12-01",
		                                       &camp, &total, &err),
		                 0);
		assert_int_equal(camp, 4);
		assert_int_equal(total, 4);
	}
}

typedef struct planrow {
	char to[64];
	int64_t due;
	long long id;
} planrow;

typedef struct planset {
	planrow v[256];
	size_t n;
	long long inbox;
} planset;

static int collect_plan(const db_warmup_item *it, void *arg)
{
	planset *p = arg;

	if (it->inbox_id == p->inbox && it->kind == DB_WARMUP_NEW &&
	    p->n < 256) {
		snprintf(p->v[p->n].to, sizeof p->v[p->n].to, "%s",
		         it->to_addr);
		p->v[p->n].due = it->due_at;
		p->v[p->n].id = it->id;
		p->n++;
	}
	return 0;
}

static void enable(db *d, long long id, bool weekdays)
{
	db_warmup w;
	cs_err err = CS_ERR_INIT;

	memset(&w, 0, sizeof w);
	w.inbox_id = id;
	w.start = 10;
	w.step = 0;
	w.max = 10;
	w.reply_rate = 30;
	w.weekdays_only = weekdays;
	assert_int_equal(db_warmup_enable(d, &w, 1, &err), 0);
}

static void inbox_status(db *d, const char *name, char *out, size_t n)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;

	assert_int_equal(db_inbox_get(d, name, &in, &err), 0);
	snprintf(out, n, "%s:%s", db_inbox_status_name(in.status),
	         in.paused_reason ? in.paused_reason : "");
	db_inbox_free(&in);
}

/* The planner on a simulated clock: weekdays only, the day's count and
 * window, partners (never itself, fair), health pausing and resuming. */
static void planner(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	long long a = add_inbox(f->d, "a", "a@x.test"),
	          b = add_inbox(f->d, "b", "b@x.test"),
	          c = add_inbox(f->d, "c", "c@y.test"),
	          d = add_inbox(f->d, "d", "d@z.test");
	int64_t sat = 0, wake = 0;
	cs_clock *clk;
	seq_warmup *w = NULL;
	bool changed = false;
	planset ps;
	long long per[3] = {0, 0, 0};
	char st[300], id[32];
	size_t i;
	int day, k;

	(void)d;
	enable(f->d, a, true);
	enable(f->d, b, false);
	enable(f->d, c, false);
	enable(f->d, d, false);
	/* Saturday 2026-11-28, 00:30 UTC */
	assert_int_equal(
	    cs_time_parse_iso8601("2026-11-28T00:30:00Z", &sat, &err), 0);
	clk = cs_clock_new_sim(sat, 0);
	assert_int_equal(seq_warmup_open(f->d, clk, &w, &err), 0);
	for (day = 0; day < 3; day++) {
		assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
		assert_true(wake <= sat + (day + 1) * 86400000LL - 1800000);
		cs_clock_advance(clk, 86400000LL);
	}
	/* a (weekdays only): Monday only; b: 10 - 30% = 7 a day */
	memset(&ps, 0, sizeof ps);
	ps.inbox = a;
	assert_int_equal(
	    db_warmup_plan_due(f->d, INT64_MAX, collect_plan, &ps, &err), 0);
	assert_int_equal(ps.n, 7);
	for (i = 0; i < ps.n; i++)
		assert_true(ps.v[i].due >= sat + 2 * 86400000LL - 1800000);
	memset(&ps, 0, sizeof ps);
	ps.inbox = b;
	assert_int_equal(
	    db_warmup_plan_due(f->d, INT64_MAX, collect_plan, &ps, &err), 0);
	assert_int_equal(ps.n, 21);
	for (i = 0; i < ps.n; i++) {
		int64_t in_day = (ps.v[i].due - sat + 1800000) % 86400000LL;

		assert_true(in_day >= 8 * 3600000LL && in_day < 18 * 3600000LL);
		assert_string_not_equal(ps.v[i].to, "b@x.test");
		per[strcmp(ps.v[i].to, "a@x.test") == 0   ? 0
		    : strcmp(ps.v[i].to, "c@y.test") == 0 ? 1
		                                          : 2]++;
	}
	/* fair: 7 each, the same-domain partner never ahead */
	assert_true(per[0] >= 6 && per[0] <= 7);
	assert_true(per[1] >= 7 && per[1] <= 8);
	assert_true(per[2] >= 7 && per[2] <= 8);

	/* health: c's warmup found in Junk 10 times of 10 -> paused */
	msg_at = cs_clock_now(clk);
	for (k = 0; k < 10; k++) {
		snprintf(id, sizeof id, "<j%d@y>", k);
		add_msg(f->d, c, "c@y.test", id, "a@x.test");
		seen(f->d, a, id, "Junk");
	}
	cs_clock_advance(clk, 3600000LL);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	assert_true(changed);
	inbox_status(f->d, "c", st, sizeof st);
	assert_non_null(strstr(st, "paused:warmup health 0%"));
	/* 40 more in INBOX: 80% -> resumes at the next hourly check */
	for (k = 0; k < 40; k++) {
		snprintf(id, sizeof id, "<i%d@y>", k);
		add_msg(f->d, c, "c@y.test", id, "a@x.test");
		seen(f->d, a, id, "INBOX");
	}
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	assert_false(changed); /* not before the hour is up */
	cs_clock_advance(clk, 3600000LL);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	assert_true(changed);
	inbox_status(f->d, "c", st, sizeof st);
	assert_string_equal(st, "active:");
	/* a pause for another reason is never lifted by warmup */
	assert_int_equal(db_inbox_set_status(f->d, "c", DB_INBOX_PAUSED,
	                                     "by hand", 0, 1, &err),
	                 0);
	assert_int_equal(seq_warmup_reload(w, &err), 0);
	cs_clock_advance(clk, 3600000LL);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	inbox_status(f->d, "c", st, sizeof st);
	assert_string_equal(st, "paused:by hand");
	seq_warmup_close(w);
	cs_clock_free(clk);
	msg_at = 1000;
}

static size_t planned_new(db *d, long long inbox)
{
	planset ps;
	cs_err err = CS_ERR_INIT;

	memset(&ps, 0, sizeof ps);
	ps.inbox = inbox;
	assert_int_equal(
	    db_warmup_plan_due(d, INT64_MAX, collect_plan, &ps, &err), 0);
	return ps.n;
}

/* A day is planned once: when every new send of the day was dropped
 * (its replies took the quota), the next pass plans no more (it used to
 * plan them again and again at the same instant, and the service never
 * got past it).  Disabling deletes what is planned, so enabling again
 * the same day plans the day anew. */
static void planned_once_a_day(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	long long a = add_inbox(f->d, "a", "a@x.test"),
	          b = add_inbox(f->d, "b", "b@y.test");
	int64_t t0 = 0, wake = 0;
	cs_clock *clk;
	seq_warmup *w = NULL;
	bool changed = false, found = false;
	planset ps;
	size_t i;

	enable(f->d, a, false);
	enable(f->d, b, false);
	assert_int_equal(
	    cs_time_parse_iso8601("2026-12-01T07:00:00Z", &t0, &err), 0);
	clk = cs_clock_new_sim(t0, 0);
	assert_int_equal(seq_warmup_open(f->d, clk, &w, &err), 0);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	memset(&ps, 0, sizeof ps);
	ps.inbox = a;
	assert_int_equal(
	    db_warmup_plan_due(f->d, INT64_MAX, collect_plan, &ps, &err), 0);
	assert_int_equal(ps.n, 7); /* 10 - 30% for replies */
	for (i = 0; i < ps.n; i++)
		assert_int_equal(db_warmup_plan_move(f->d, ps.v[i].id,
		                                     DB_P_PLANNED, DB_P_DROPPED,
		                                     NULL, -1, NULL, t0, &err),
		                 0);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	assert_int_equal(planned_new(f->d, a), 0);

	/* disable + enable the same day: planned anew */
	assert_int_equal(planned_new(f->d, b), 7);
	assert_int_equal(db_warmup_disable(f->d, b, t0, &found, &err), 0);
	assert_true(found);
	assert_int_equal(planned_new(f->d, b), 0);
	enable(f->d, b, false);
	assert_int_equal(seq_warmup_reload(w, &err), 0);
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	assert_int_equal(planned_new(f->d, b), 7);
	seq_warmup_close(w);
	cs_clock_free(clk);
}

/* One text column of the first row of sql (with ?1 = arg), read through
 * a connection of its own, as a user's sqlite3 shell would. */
static void peek(const fx *f, const char *sql, const char *arg, char *out,
                 size_t n)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(
	    sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* "plan state/message outcome" of the send with Message-ID id. */
static void fate(const fx *f, const char *id, char *out, size_t n)
{
	peek(f,
	     "SELECT p.state || '/' || m.outcome FROM warmup_plan p JOIN "
	     "messages m ON m.message_id = p.message_id WHERE p.message_id = "
	     "?1",
	     id, out, n);
}

typedef struct idset {
	char v[8][32];
	size_t n;
} idset;

static int collect_sending(const db_outbox *o, void *arg)
{
	idset *s = arg;

	assert_int_equal(o->state, DB_O_SENDING);
	assert_int_equal(o->purpose, DB_PURPOSE_WARMUP);
	assert_true(o->warmup_plan_id > 0);
	if (s->n < 8)
		snprintf(s->v[s->n++], sizeof s->v[0], "%s", o->message_id);
	return 0;
}

/* Plan a new message from inbox to `to`, queue it into the outbox under
 * id and mark both 'sending', with its messages row, as the dispatcher
 * and seq_warmup_begin do before DATA; returns the plan row. */
static long long cut_off(fx *f, long long inbox, const char *from,
                         const char *to, const char *id)
{
	db_warmup_item it;
	db_outbox o;
	cs_err err = CS_ERR_INIT;
	char buf[32];
	long long oid = 0;

	memset(&it, 0, sizeof it);
	it.inbox_id = inbox;
	strcpy(it.local_day, "2026-12-01");
	it.kind = DB_WARMUP_NEW;
	it.to_addr = to;
	it.due_at = 500;
	assert_int_equal(db_warmup_plan_add(f->d, &it, 1, NULL, &err), 0);
	peek(f, "SELECT max(id) FROM warmup_plan WHERE ?1 IS NOT NULL", "x",
	     buf, sizeof buf);
	memset(&o, 0, sizeof o);
	o.purpose = DB_PURPOSE_WARMUP;
	o.warmup_plan_id = atoll(buf);
	o.inbox_id = inbox;
	o.message_id = (char *)id;
	o.subject = "s";
	o.due_at = 500;
	assert_int_equal(db_outbox_add(f->d, &o, 1, &oid, &err), 0);
	add_msg(f->d, inbox, from, id, to);
	assert_int_equal(seq_outbox_move(f->d, oid, DB_O_QUEUED, DB_O_SENDING,
	                                 NULL, -1, 600, &err),
	                 0);
	assert_int_equal(seq_warmup_plan_move(f->d, atoll(buf), DB_P_PLANNED,
	                                      DB_P_SENDING, id, -1, NULL, 600,
	                                      &err),
	                 0);
	return atoll(buf);
}

/* The start-up's verdict on the send with Message-ID id. */
static int unc(fx *f, seq_warmup *w, const char *id, bool checked, bool found)
{
	db_outbox o;
	cs_err err = CS_ERR_INIT;
	char buf[32];
	int rc;

	peek(f, "SELECT id FROM outbox WHERE message_id = ?1", id, buf,
	     sizeof buf);
	assert_int_equal(db_outbox_get(f->d, atoll(buf), &o, &err), 0);
	rc = seq_warmup_uncertain(w, &o, checked, found, &err);
	db_outbox_free(&o);
	return rc;
}

/* Sends a crash cut off: the start-up's verdicts (found in Sent: sent;
 * not found: lost, not counted; not checked: left), then a receiver's
 * sighting makes the lost and the left ones sent, and nothing else. */
static void crash_leftovers(void **state)
{
	fx *f = *state;
	cs_err err = CS_ERR_INIT;
	long long a = add_inbox(f->d, "a", "a@x.test"),
	          b = add_inbox(f->d, "b", "b@y.test"), p1, p2, p3, p4, n = 0;
	cs_clock *clk = cs_clock_new_sim(1000, 0);
	seq_warmup *w = NULL;
	int64_t wake = 0;
	bool changed = false;
	idset left;
	char st[64];

	enable(f->d, a, false);
	enable(f->d, b, false);
	p1 = cut_off(f, a, "a@x.test", "b@y.test", "<c1@x>");
	p2 = cut_off(f, a, "a@x.test", "b@y.test", "<c2@x>");
	p3 = cut_off(f, a, "a@x.test", "b@y.test", "<c3@x>");
	/* a send that failed for good: a receiver's word never changes it */
	p4 = cut_off(f, a, "a@x.test", "b@y.test", "<c4@x>");
	assert_int_equal(db_message_set_outcome(f->d, "<c4@x>",
	                                        "rejected_recipient", 550, "no",
	                                        700, &err),
	                 0);
	assert_int_equal(db_warmup_plan_move(f->d, p4, DB_P_SENDING,
	                                     DB_P_FAILED, NULL, -1, NULL, 700,
	                                     &err),
	                 0);
	{
		char buf[32];

		peek(f, "SELECT id FROM outbox WHERE message_id = ?1", "<c4@x>",
		     buf, sizeof buf);
		assert_int_equal(seq_outbox_move(f->d, atoll(buf), DB_O_SENDING,
		                                 DB_O_FAILED, "no", -1, 700,
		                                 &err),
		                 0);
	}
	assert_int_equal(seq_warmup_open(f->d, clk, &w, &err), 0);
	memset(&left, 0, sizeof left);
	assert_int_equal(
	    db_outbox_list(f->d, DB_O_SENDING, collect_sending, &left, &err),
	    0);
	assert_int_equal(left.n, 3);
	assert_string_equal(left.v[0], "<c1@x>");
	assert_string_equal(left.v[2], "<c3@x>");

	assert_int_equal(unc(f, w, "<c1@x>", true, true), 0);
	assert_int_equal(unc(f, w, "<c2@x>", true, false), 0);
	assert_int_equal(unc(f, w, "<c3@x>", false, false), 0);
	fate(f, "<c1@x>", st, sizeof st);
	assert_string_equal(st, "sent/sent");
	fate(f, "<c2@x>", st, sizeof st);
	assert_string_equal(st, "failed/deferred");
	peek(f, "SELECT smtp_reply FROM messages WHERE message_id = ?1",
	     "<c2@x>", st, sizeof st);
	assert_non_null(strstr(st, "lost"));
	fate(f, "<c3@x>", st, sizeof st);
	assert_string_equal(st, "sending/sending");
	/* the day counts what went or may have gone: c1 and c3, not c2 */
	assert_int_equal(db_message_count_day(f->d, a, "2026-12-01",
	                                      DB_PURPOSE_WARMUP, &n, &err),
	                 0);
	assert_int_equal(n, 2);
	/* only the unchecked one is left for the next start-up */
	memset(&left, 0, sizeof left);
	assert_int_equal(
	    db_outbox_list(f->d, DB_O_SENDING, collect_sending, &left, &err),
	    0);
	assert_int_equal(left.n, 1);
	assert_string_equal(left.v[0], "<c3@x>");

	/* b's watcher records c2, c3 and c4: c2 and c3 were delivered */
	seen(f->d, b, "<c2@x>", "INBOX");
	seen(f->d, b, "<c3@x>", "Junk");
	seen(f->d, b, "<c4@x>", "INBOX");
	assert_int_equal(seq_warmup_pass(w, &wake, &changed, &err), 0);
	fate(f, "<c2@x>", st, sizeof st);
	assert_string_equal(st, "sent/sent");
	fate(f, "<c3@x>", st, sizeof st);
	assert_string_equal(st, "sent/sent");
	fate(f, "<c4@x>", st, sizeof st);
	assert_string_equal(st, "failed/rejected_recipient");
	/* their outbox rows agree with their plan rows */
	assert_true(p1 < p2 && p2 < p3);
	peek(f,
	     "SELECT group_concat(state, ',') FROM (SELECT state FROM "
	     "outbox WHERE purpose = ?1 ORDER BY id)",
	     "warmup", st, sizeof st);
	assert_string_equal(st, "sent,sent,sent,failed");
	fate(f, "<c1@x>", st, sizeof st);
	assert_string_equal(st, "sent/sent");
	peek(f, "SELECT smtp_reply FROM messages WHERE message_id = ?1",
	     "<c1@x>", st, sizeof st);
	assert_non_null(strstr(st, "Sent folder"));
	assert_int_equal(db_message_count_day(f->d, a, "2026-12-01",
	                                      DB_PURPOSE_WARMUP, &n, &err),
	                 0);
	assert_int_equal(n, 3);
	seq_warmup_close(w);

	/* a CLI sync while the service was down: settled at the next open */
	{
		long long p5 = cut_off(f, a, "a@x.test", "b@y.test", "<c5@x>");

		(void)p5;
		seen(f->d, b, "<c5@x>", "INBOX");
		assert_int_equal(seq_warmup_open(f->d, clk, &w, &err), 0);
		fate(f, "<c5@x>", st, sizeof st);
		assert_string_equal(st, "sent/sent");
		seq_warmup_close(w);
	}
	cs_clock_free(clk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ramp),
	    cmocka_unit_test(corpus),
	    cmocka_unit_test_setup_teardown(storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(planner, setup, teardown),
	    cmocka_unit_test_setup_teardown(planned_once_a_day, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(crash_leftovers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
