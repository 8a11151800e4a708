/*
 * seq_dispatch.c - the dispatcher: the one path from "due" to "recorded"
 * for every message that leaves, whatever its purpose, and the one crash
 * resolution.
 *
 *   due plan rows --seq_warmup_queue_due--> outbox (queued)
 *   outbox (queued, due) --walk--> per inbox: a batch (transport open),
 *       each row begun by its purpose (recorded before DATA: 'sending')
 *   batch --transport submit--> [SMTP session, n messages, Sent copy]
 *       --seq_dispatch_done--> each result settled by its purpose
 *
 * What differs between purposes is one row of the table below (begin,
 * settle, crash resolution, whether the row may go while its inbox is
 * paused); caps are each purpose's begin's (campaign cap and hard cap;
 * warmup quota and hard cap; send-test: campaign cap and hard cap, and
 * it never comes here: it is begun and settled at once by seq_send_now).
 *
 * A provider's "too many sessions / threads" answer (Gmail 454 4.7.0,
 * Microsoft 432 4.3.2: SMTP_ACT_BACKOFF_CONNECTIONS) is the dispatcher's
 * business, whatever the purpose: the inbox opens no new session before
 * a wait that doubles with each such answer in a row (the rule's
 * retry_after_s, twice that, ... at most BACKOFF_MAX), its rows due
 * meanwhile wait for it; and while the streak lasts (until a send goes
 * through BACKOFF_STREAK after the last such answer) it sends one message
 * per session, at least the rule's wait apart.
 *
 * Rows are walked oldest due first; consecutive rows of one inbox make
 * one batch (at most the transport's batch_max), an inbox with a batch in
 * flight gets no second one, and no more than max_batches are in flight
 * (rows skipped are looked at again at the next walk).  Whether the
 * transport completes at once (tests, preview, bench: one message at a
 * time through send) or later on the loop (the service's worker pool) is
 * the transport's business; the decisions are the same.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MAX    (8 * 3600000LL)
#define BACKOFF_STREAK 3600000LL

struct seq_dispatch {
	seq_sched *s;
	seq_warmup *w; /* NULL: warmup rows are left alone */
	const seq_transport *t;
	long long *busy; /* inboxes with a batch in flight */
	size_t nbusy;
	int inflight;
	int sent; /* messages recorded as sent (for seq_dispatch_run) */
};

/* ---- the purposes ---------------------------------------------------------
 */

typedef struct purpose_ops {
	/* may go while its inbox is paused (warmup goes on under a health
	 * pause); else the row is begun to move it past the pause */
	bool while_paused;
	int (*begin)(seq_dispatch *dp, const db_outbox *o, seq_job *job,
	             bool *ready, cs_err *err);
	int (*finish)(seq_dispatch *dp, const seq_job *job,
	              const smtp_result *res, cs_err *err);
	int (*uncertain)(seq_dispatch *dp, const db_outbox *o, bool checked,
	                 bool found, const char *why, cs_err *err);
	/* the start-up's verdict, for the log */
	const char *unchecked, *not_found;
} purpose_ops;

static int camp_begin(seq_dispatch *dp, const db_outbox *o, seq_job *job,
                      bool *ready, cs_err *err)
{
	return seq_outbox_begin(dp->s, o->id, job, ready, err);
}

static int camp_finish(seq_dispatch *dp, const seq_job *job,
                       const smtp_result *res, cs_err *err)
{
	return seq_outbox_finish(dp->s, job, res, err);
}

static int camp_uncertain(seq_dispatch *dp, const db_outbox *o, bool checked,
                          bool found, const char *why, cs_err *err)
{
	return seq_outbox_uncertain(dp->s, o->id, checked, found, why, err);
}

static int wu_begin(seq_dispatch *dp, const db_outbox *o, seq_job *job,
                    bool *ready, cs_err *err)
{
	return seq_warmup_begin(dp->w, o, job, ready, err);
}

static int wu_finish(seq_dispatch *dp, const seq_job *job,
                     const smtp_result *res, cs_err *err)
{
	return seq_warmup_finish(dp->w, job, res, err);
}

static int wu_uncertain(seq_dispatch *dp, const db_outbox *o, bool checked,
                        bool found, const char *why, cs_err *err)
{
	(void)why;
	return seq_warmup_uncertain(dp->w, o, checked, found, err);
}

static int test_uncertain(seq_dispatch *dp, const db_outbox *o, bool checked,
                          bool found, const char *why, cs_err *err)
{
	return seq_send_uncertain(dp->s->d, dp->s->clock, o, checked, found,
	                          why, err);
}

static const purpose_ops ops[DB_PURPOSE_N] = {
    [DB_PURPOSE_CAMPAIGN] =
        {false, camp_begin, camp_finish, camp_uncertain,
         "could not check Sent: held",
         "not in Sent: held for 'coldseq outbox uncertain'"},
    [DB_PURPOSE_WARMUP] =
        {true, wu_begin, wu_finish, wu_uncertain,
         "could not check Sent: left as it is, never sent again "
         "(checked again at the next start)",
         "not in Sent: lost, never sent again (warmup)"},
    [DB_PURPOSE_TEST] =
        {false, NULL, NULL, test_uncertain,
         "could not check Sent: failed, never sent again (test)",
         "not in Sent: failed, never sent again (test)"},
};

/* The purpose of row o whose functions this dispatcher has (warmup needs
 * the planner), or NULL. */
static const purpose_ops *ops_of(const seq_dispatch *dp, const db_outbox *o,
                                 db_purpose *p)
{
	*p = o->purpose;
	if ((unsigned)*p >= DB_PURPOSE_N ||
	    (*p == DB_PURPOSE_WARMUP && dp->w == NULL))
		return NULL;
	return &ops[*p];
}

/* ---- life cycle -----------------------------------------------------------
 */

int seq_dispatch_open(seq_sched *s, seq_warmup *w, const seq_transport *t,
                      seq_dispatch **out)
{
	seq_dispatch *dp = cs_xcalloc(1, sizeof *dp);

	dp->s = s;
	dp->w = w;
	dp->t = t;
	*out = dp;
	return 0;
}

void seq_dispatch_close(seq_dispatch *dp)
{
	if (dp == NULL)
		return;
	free(dp->busy);
	free(dp);
}

int seq_dispatch_inflight(const seq_dispatch *dp)
{
	return dp->inflight;
}

static bool is_busy(const seq_dispatch *dp, long long id)
{
	size_t i;

	for (i = 0; i < dp->nbusy; i++)
		if (dp->busy[i] == id)
			return true;
	return false;
}

static void set_busy(seq_dispatch *dp, long long id, bool busy)
{
	size_t i;

	if (busy) {
		dp->busy =
		    cs_xrealloc(dp->busy, (dp->nbusy + 1) * sizeof *dp->busy);
		dp->busy[dp->nbusy++] = id;
		return;
	}
	for (i = 0; i < dp->nbusy; i++)
		if (dp->busy[i] == id) {
			dp->busy[i] = dp->busy[--dp->nbusy];
			return;
		}
}

static size_t batch_max(const seq_transport *t)
{
	if (t->open == NULL || t->batch_max == 0)
		return 1;
	return t->batch_max < SEQ_BATCH_MAX ? t->batch_max : SEQ_BATCH_MAX;
}

static int max_batches(const seq_transport *t)
{
	return t->max_batches > 0 ? t->max_batches : 1;
}

/* ---- recording results ----------------------------------------------------
 */

/* What result res says about the inbox's sessions (see the top). */
static void note_sessions(seq_dispatch *dp, long long inbox_id,
                          const smtp_result *res)
{
	seq_ibox *ib = seq_find_inbox(dp->s, inbox_id);
	int64_t now = cs_clock_now(dp->s->clock), wait;
	char t[32];

	if (ib == NULL)
		return;
	if (res->verdict.outcome == SMTP_SENT) {
		ib->last_sent = now;
		if (ib->backoffs && now - ib->backoff_last >= BACKOFF_STREAK)
			ib->backoffs = 0; /* the streak is over */
		return;
	}
	if (res->verdict.action != SMTP_ACT_BACKOFF_CONNECTIONS)
		return;
	if (ib->backoff_last == now && ib->backoff_until > now)
		return; /* the same session's answer, for its next message */
	ib->backoff_gap = (int64_t)(res->verdict.retry_after_s > 60
	                                ? res->verdict.retry_after_s
	                                : 60) *
	                  1000;
	wait = ib->backoff_gap << (ib->backoffs < 5 ? ib->backoffs : 5);
	if (wait > BACKOFF_MAX)
		wait = BACKOFF_MAX;
	ib->backoffs++;
	ib->backoff_last = now;
	snprintf(ib->backoff_why, sizeof ib->backoff_why, "%d %s %s", res->code,
	         res->enhanced, res->text);
	ib->backoff_until = now + wait;
	if (ib->next_at < ib->backoff_until) /* new contacts: other inboxes */
		ib->next_at = ib->backoff_until;
	cs_time_iso8601(ib->backoff_until, t, sizeof t);
	cs_log_warn("inbox %s: %d session refusal(s) in a row (%s): no new "
	            "session before %s",
	            ib->in.name, ib->backoffs, ib->backoff_why, t);
}

void seq_dispatch_done(seq_batch *b)
{
	seq_dispatch *dp = b->dp;
	size_t i;

	for (i = 0; i < b->n; i++)
		note_sessions(dp, b->inbox_id, &b->res[i]);
	for (i = 0; i < b->n; i++) {
		const seq_job *j = &b->jobs[i];
		cs_err err = CS_ERR_INIT;

		if (ops[j->purpose].finish(dp, j, &b->res[i], &err) != 0)
			cs_log_error("recording the result for %s: %s",
			             j->contact, err.msg);
		else if (b->res[i].verdict.outcome == SMTP_SENT)
			dp->sent++;
		seq_job_free(&b->jobs[i]);
	}
	set_busy(dp, b->inbox_id, false);
	dp->inflight--;
	free(b);
}

/* The one-message-at-a-time transports: each job through send, at once. */
static void submit_each(const seq_transport *t, seq_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		memset(&b->res[i], 0, sizeof b->res[i]);
		t->send(t->arg, &b->jobs[i], &b->res[i]);
	}
	seq_dispatch_done(b);
}

/* ---- the walk -------------------------------------------------------------
 */

typedef struct walk {
	seq_dispatch *dp;
	seq_batch *cur;
	cs_err *err;
} walk;

static void launch(walk *k)
{
	seq_dispatch *dp = k->dp;
	seq_batch *b = k->cur;

	k->cur = NULL;
	if (b == NULL)
		return;
	if (b->n == 0) {
		if (dp->t->discard)
			dp->t->discard(dp->t->arg, b);
		free(b);
		return;
	}
	set_busy(dp, b->inbox_id, true);
	dp->inflight++;
	if (dp->t->open)
		dp->t->submit(dp->t->arg, b);
	else
		submit_each(dp->t, b);
}

/* Until when ib holds a row of purpose p before any begin (0: it does
 * not), the reason into why: a provider that refused more sessions holds
 * every purpose (see the top); a provider's own pause (quota, restricted
 * sender, SMTP AUTH off) holds warmup too, which goes on under coldseq's
 * health pauses (a campaign row's begin waits for any pause itself), to
 * the pause's end or an hour at a time when it has none. */
static int64_t held_until(const seq_ibox *ib, db_purpose p, int64_t now,
                          cs_buf *why)
{
	if (ib->backoff_until > now ||
	    (ib->backoffs && ib->last_sent + ib->backoff_gap > now)) {
		cs_buf_printf(
		    why, "waiting: the provider refused more sessions (%s)",
		    ib->backoff_why);
		return ib->backoff_until > now
		           ? ib->backoff_until
		           : ib->last_sent + ib->backoff_gap;
	}
	if (!ib->active && ib->in.provider_hold && p == DB_PURPOSE_WARMUP) {
		cs_buf_puts(why, ib->in.paused_reason
		                     ? ib->in.paused_reason
		                     : "paused by its provider");
		return ib->in.paused_until > now ? ib->in.paused_until
		                                 : now + 3600000;
	}
	return 0;
}

static int walk_row(const db_outbox *o, void *arg)
{
	walk *k = arg;
	seq_dispatch *dp = k->dp;
	const purpose_ops *po;
	db_purpose p;
	seq_ibox *ib;
	cs_err err = CS_ERR_INIT;
	cs_buf why = CS_BUF_INIT;
	int64_t now = cs_clock_now(dp->s->clock), until;
	bool ready = false;

	if ((po = ops_of(dp, o, &p)) == NULL || po->begin == NULL)
		return 0; /* not this dispatcher's (warmup without planner) */
	if (k->cur && k->cur->inbox_id != o->inbox_id)
		launch(k);
	if (is_busy(dp, o->inbox_id) || dp->inflight >= max_batches(dp->t))
		return 0;
	ib = seq_find_inbox(dp->s, o->inbox_id);
	if (ib == NULL && p == DB_PURPOSE_WARMUP)
		return 0; /* its inbox is not loaded yet */
	if (ib && (until = held_until(ib, p, now, &why)) > 0) {
		/* due again then: the row is not looked at before */
		if ((p == DB_PURPOSE_WARMUP
		         ? seq_warmup_wait(dp->s->d, o, until, why.data, now,
		                           &err)
		         : seq_outbox_move(dp->s->d, o->id, DB_O_QUEUED,
		                           DB_O_QUEUED, why.data, until, now,
		                           &err)) != 0)
			cs_log_error("outbox row %lld: %s", o->id, err.msg);
		cs_buf_free(&why);
		return 0;
	}
	if (ib == NULL || (!ib->active && !po->while_paused)) {
		seq_job none;

		/* paused, lost its authorization, or not loaded: begin moves
		 * the row past the pause without credentials (which would
		 * fail), each wait longer than the last; a first step handed
		 * back to other inboxes meanwhile is gone */
		if (po->begin(dp, o, &none, &ready, &err) != 0 &&
		    err.code != CS_ENOTFOUND)
			cs_log_error("outbox row %lld: %s", o->id, err.msg);
		if (ready) { /* cannot be: it was not active */
			seq_job_free(&none);
			cs_log_error("outbox row %lld: begun while paused",
			             o->id);
		}
		return 0;
	}
	if (k->cur == NULL) {
		seq_batch *b = cs_xcalloc(1, sizeof *b);

		b->dp = dp;
		b->inbox_id = o->inbox_id;
		if (dp->t->open && dp->t->open(dp->t->arg, &ib->in, b) != 0) {
			free(b); /* the transport logged why */
			return 0;
		}
		k->cur = b;
	}
	if (k->cur->n >= batch_max(dp->t) || (ib->backoffs && k->cur->n >= 1))
		return 0; /* a full batch; one per session in a backoff */
	if (po->begin(dp, o, &k->cur->jobs[k->cur->n], &ready, &err) != 0) {
		cs_log_error("outbox row %lld: %s", o->id, err.msg);
		return 0;
	}
	if (ready)
		k->cur->n++;
	return 0;
}

int seq_dispatch_run(seq_dispatch *dp, int limit, int *sent, cs_err *err)
{
	walk k = {dp, NULL, err};
	int before = dp->sent, rc;

	if (dp->w && seq_warmup_queue_due(dp->w, err) != 0)
		cs_log_error("warmup: %s", err->msg); /* the rest still goes */
	rc = db_outbox_due(dp->s->d, cs_clock_now(dp->s->clock), limit,
	                   walk_row, &k, err);
	launch(&k);
	if (sent)
		*sent = dp->sent - before;
	return rc;
}

/* ---- crash resolution -----------------------------------------------------
 */

typedef struct unc_list {
	db_outbox *v;
	size_t n;
} unc_list;

static int collect_sending(const db_outbox *o, void *arg)
{
	unc_list *l = arg;
	db_outbox *c;

	l->v = cs_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	c = &l->v[l->n++];
	*c = *o;
	c->message_id = cs_xstrdup(o->message_id);
	c->subject = o->subject ? cs_xstrdup(o->subject) : NULL;
	c->in_reply_to = o->in_reply_to ? cs_xstrdup(o->in_reply_to) : NULL;
	c->refs = o->refs ? cs_xstrdup(o->refs) : NULL;
	c->reason = o->reason ? cs_xstrdup(o->reason) : NULL;
	return 0;
}

int seq_dispatch_resolve(seq_dispatch *dp, seq_sent_lookup lookup, void *arg,
                         cs_err *err)
{
	unc_list l = {NULL, 0};
	size_t i;
	int rc;

	if ((rc = db_outbox_list(dp->s->d, DB_O_SENDING, collect_sending, &l,
	                         err)) != 0)
		goto out;
	for (i = 0; i < l.n && rc == 0; i++) {
		const db_outbox *o = &l.v[i];
		seq_ibox *ib = seq_find_inbox(dp->s, o->inbox_id);
		const purpose_ops *po;
		db_purpose p;
		cs_err e2 = CS_ERR_INIT;
		bool found = false;
		int frc = CS_ENOTFOUND;

		if ((po = ops_of(dp, o, &p)) == NULL)
			continue;
		if (ib == NULL)
			cs_err_set(&e2, CS_ENOTFOUND, "its inbox is gone");
		else
			frc = lookup(arg, &ib->in, o->message_id, &found, &e2);
		rc = po->uncertain(dp, o, frc == 0, found, frc ? e2.msg : NULL,
		                   err);
		cs_log_warn("%s %lld (%s) was being sent when coldseq stopped: "
		            "%s%s%s",
		            p == DB_PURPOSE_WARMUP ? "warmup send"
		                                   : "outbox row",
		            o->id, o->message_id,
		            frc     ? po->unchecked
		            : found ? "found in Sent: sent"
		                    : po->not_found,
		            frc ? ": " : "", frc ? e2.msg : "");
	}
out:
	for (i = 0; i < l.n; i++)
		db_outbox_free(&l.v[i]);
	free(l.v);
	return rc;
}

/* ---- synchronous users: seq_outbox_dispatch, the simulated run ---------- */

int seq_outbox_dispatch(seq_sched *s, const seq_transport *t, int *sent,
                        cs_err *err)
{
	seq_dispatch *dp;
	int rc;

	*sent = 0;
	if ((rc = seq_dispatch_open(s, NULL, t, &dp)) != 0)
		return cs_err_set(err, rc, "no dispatcher");
	rc = seq_dispatch_run(dp, 1000, sent, err);
	seq_dispatch_close(dp);
	return rc;
}

int seq_sched_run_sim(seq_sched *s, const seq_transport *t, int64_t until,
                      cs_err *err)
{
	int rc, queued, sent, rounds = 0;
	int64_t wake;

	for (;;) {
		if ((rc = seq_sched_pass(s, &queued, &wake, err)) != 0 ||
		    (rc = seq_outbox_dispatch(s, t, &sent, err)) != 0)
			return rc;
		if (queued || sent) {
			if (++rounds > 100000)
				return cs_err_set(
				    err, CS_EINVAL,
				    "the scheduler does not settle");
			continue; /* results changed what is due: look again */
		}
		if (wake == INT64_MAX || wake > until)
			return cs_clock_advance_to(s->clock, until);
		if ((rc = cs_clock_advance_to(s->clock, wake)) != 0)
			return rc;
	}
}
