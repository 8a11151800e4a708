/*
 * seq_outbox.c - the outbox: every message that leaves is a row of it,
 * with a purpose (campaign step, warmup send, send-test).  Here: the one
 * record before DATA (seq_outbox_record) and the one settle
 * (seq_outbox_settle) every purpose goes through, and the campaign
 * purpose's begin, settle and crash resolution.  The dispatcher
 * (seq_dispatch.c) decides what goes and calls each purpose's; the
 * transition table and the one function every state change goes through
 * are in seq_outbox_fsm.c; warmup's purpose is seq_warmup_send.c, the
 * test send's seq_send.c; the user's decisions seq_outbox_user.c.
 *
 * Outbox row life cycle (a campaign row; a warmup or test row takes the
 * same arrows, never held after a send: see their files):
 *
 *   [queued] --begin--> [sending] --finish(sent)--------------> [sent]
 *    ^ |  \                 |  \--finish(rejected recipient)--> [failed]
 *    | |   \ begin: the     |   \-finish(lost after the dot)--> [held]
 *    | |    \ contact's     |                                     |
 *    | |     \ data cannot  +--finish(deferred, policy, inbox      |
 *    | |      v make a         failure): same Message-ID, due      |
 *    | |   [failed]            after a growing backoff             |
 *    | |   (enrollment held,                                       |
 *    | |    "not sendable")                                        |
 *    | +--begin: cannot go now (inbox or campaign paused, not      |
 *    |    loaded, caps, any error): due later, each wait longer    |
 *    +------------- resolve --resend, outbox retry ----------------+
 *                   (same Message-ID)
 *
 *   state    entered by            invariant
 *   queued   db_outbox_queue,      the enrollment is queued; Message-ID
 *            finish (retry),       fixed and stored; nothing handed over
 *            resolve, retry        (or, after a resend, nothing more)
 *   sending  seq_outbox_begin      a messages row with the same Message-ID
 *                                  exists and a send_attempts row for this
 *                                  attempt (committed before the transport
 *                                  sees a byte): the attempt counts toward
 *                                  the caps
 *   sent     finish                the enrollment moved to its next step
 *   failed   finish, stop, drop,   the enrollment is stopped, or held
 *            begin (unsendable)    (unsendable: the reason says what)
 *   held     finish                the message may have been sent: never
 *                                  resent without the user's decision
 *
 * No path puts a row back to queued due at once: every wait is longer
 * than the one before (later()), or fixed by a time that ends (a pause
 * until, the caps' next day), or the row fails.  A Message-ID names the
 * message, not the attempt: a retry keeps it (a deferral or a refusal
 * means the server did not take the message; after an uncertain end the
 * recipient then sees one message if both arrived), and every attempt
 * has its own send_attempts row (db_attempt.c).
 *
 * There is no 'deferred' state (migration 15 dropped it from the CHECK:
 * it was never entered): a deferral is sending -> queued, due after the
 * backoff, the reason saying so.
 *
 * db_outbox_check (`coldseq outbox check`) verifies them for every row;
 * the crash tests call it after each kill.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GIVE_UP_MS  (3 * 86400000LL) /* deferred this long: failed */
#define MAX_BACKOFF (6 * 3600000LL)
#define WAIT_BASE   60000LL /* the first wait of a row that cannot go */

/* Reasons of rows that wait for something the user or the clock ends:
 * an inbox or a campaign that becomes active again makes its waiting rows
 * due (db_inbox_set_status, db_campaign_set_status). */
#define WAIT_INBOX    DB_WAIT_INBOX
#define WAIT_CAMPAIGN DB_WAIT_CAMPAIGN
#define WAIT_LOADED   "waiting for its inbox or campaign to be loaded"

/* When a row that cannot go now is looked at again: at least base, and
 * twice its last wait (the time since its last move), at most
 * MAX_BACKOFF. */
static int64_t later(const db_outbox *o, int64_t base, int64_t now)
{
	int64_t last = now - o->updated_at, d = last > 0 ? 2 * last : 0;

	if (d < base)
		d = base;
	if (d > MAX_BACKOFF)
		d = MAX_BACKOFF;
	return now + d;
}

/* The backoff after the server did not take a message: attempts^2 x 5
 * minutes, at least retry_after_s, at most MAX_BACKOFF. */
static int64_t backoff(const db_outbox *o, int retry_after_s)
{
	int64_t b = (int64_t)o->attempts * o->attempts * 300000;

	if ((int64_t)retry_after_s * 1000 > b)
		b = (int64_t)retry_after_s * 1000;
	if (b < WAIT_BASE)
		b = WAIT_BASE;
	return b > MAX_BACKOFF ? MAX_BACKOFF : b;
}

/* A line in the contact's history about row o. */
int seq_outbox_history(seq_sched *s, const db_outbox *o, const db_enrollment *e,
                       const char *action, const char *detail, int64_t now,
                       cs_err *err)
{
	seq_camp *c = seq_find_camp(s, e->campaign_id);
	db_history h = {.outbox_id = o->id,
	                .contact = e->email,
	                .campaign = c ? c->c.name : NULL,
	                .message_id = o->message_id,
	                .action = action,
	                .detail = detail,
	                .step = o->step,
	                .at = now};

	return db_history_add(s->d, &h, err);
}

/* The row waits (stays queued) until due, with why. */
static int wait_row(seq_sched *s, const db_outbox *o, const char *why,
                    int64_t due, int64_t now, cs_err *err)
{
	return seq_outbox_move(s->d, o->id, DB_O_QUEUED, DB_O_QUEUED, why, due,
	                       now, err);
}

/* The contact's own data cannot make this message (a render error, a
 * header the message builder refuses, a step the campaign no longer
 * has): the row fails without a byte handed over, the enrollment is held
 * with the reason, as the scheduler holds a step whose template cannot
 * render (`campaign resume` or `outbox retry` after the data is fixed),
 * and the contact's history says so.  what: "step N (template): why". */
static int unsendable(seq_sched *s, const db_outbox *o, const db_enrollment *e,
                      const char *what, int64_t now, cs_err *err)
{
	cs_buf why = CS_BUF_INIT;
	int rc;

	cs_buf_printf(&why, "not sendable: %s", what);
	cs_log_warn("held: %s, step %d: %s", e->email, o->step, why.data);
	if ((rc = db_begin(s->d, err)) != 0)
		goto out;
	if ((rc = seq_outbox_move(s->d, o->id, DB_O_QUEUED, DB_O_FAILED,
	                          why.data, -1, now, err)) != 0 ||
	    (rc = db_enr_set_state(s->d, e->id, DB_ENR_HELD, what, now, err)) !=
	        0 ||
	    (rc = seq_outbox_history(s, o, e, "unsendable", what, now, err)) !=
	        0) {
		db_rollback(s->d);
		goto out;
	}
	rc = db_commit(s->d, err);
out:
	cs_buf_free(&why);
	return rc;
}

/* The campaign purpose's functions take campaign rows only. */
int seq_outbox_campaign_row(const db_outbox *o, cs_err *err)
{
	if (o->purpose == DB_PURPOSE_CAMPAIGN)
		return 0;
	return cs_err_set(err, CS_EINVAL,
	                  "outbox row %lld is a %s message, not a campaign "
	                  "step: only a campaign step can be %s",
	                  o->id, db_purpose_name(o->purpose),
	                  o->purpose == DB_PURPOSE_WARMUP
	                      ? "dropped, retried or resolved (warmup sends "
	                        "are never held)"
	                      : "dropped, retried or resolved");
}

int seq_outbox_record(db *d, long long outbox_id, const db_message *m,
                      db_caps *caps, bool *over,
                      int (*extra)(void *arg, cs_err *err), void *arg,
                      int64_t now, cs_err *err)
{
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_message_add_capped(d, m, caps, over, err)) != 0 ||
	    (!*over &&
	     ((rc = seq_outbox_move(d, outbox_id, DB_O_QUEUED, DB_O_SENDING,
	                            NULL, -1, now, err)) != 0 ||
	      (extra && (rc = extra(arg, err)) != 0))) ||
	    (rc = db_commit(d, err)) != 0) {
		db_rollback(d);
		*over = false;
		return rc;
	}
	return 0;
}

int seq_outbox_settle(db *d, const char *message_id, const smtp_result *res,
                      int (*effects)(void *arg, cs_err *err), void *arg,
                      int64_t now, cs_err *err)
{
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = db_message_set_outcome(
	         d, message_id, smtp_outcome_name(res->verdict.outcome),
	         res->code, res->text, now, err)) != 0 ||
	    (rc = effects(arg, err)) != 0 || (rc = db_commit(d, err)) != 0) {
		db_rollback(d);
		return rc;
	}
	return 0;
}

void seq_job_free(seq_job *j)
{
	if (j == NULL)
		return;
	free(j->inbox);
	free(j->from);
	free(j->campaign);
	free(j->contact);
	free(j->variant);
	free(j->message_id);
	free(j->zone);
	cs_buf_free(&j->raw);
	memset(j, 0, sizeof *j);
}

int seq_outbox_begin(seq_sched *s, long long outbox_id, seq_job *job,
                     bool *ready, cs_err *err)
{
	int64_t now = cs_clock_now(s->clock);
	db_outbox o;
	db_enrollment e;
	db_contact ct;
	const seq_tsrc *ts;
	seq_ibox *ib;
	seq_camp *c;
	seq_compose_in ci;
	db_message row;
	db_caps caps = {0};
	int64_t held = 0;
	bool over = false;
	char *subject = NULL;
	const char *zone;
	cs_buf why = CS_BUF_INIT;
	int rc;

	memset(job, 0, sizeof *job);
	memset(&o, 0, sizeof o);
	memset(&e, 0, sizeof e);
	memset(&ct, 0, sizeof ct);
	*ready = false;
	if ((rc = db_outbox_get(s->d, outbox_id, &o, err)) != 0 ||
	    (rc = seq_outbox_campaign_row(&o, err)) != 0 ||
	    (rc = db_enr_by_id(s->d, o.enrollment_id, &e, err)) != 0)
		goto out;
	if (o.state != DB_O_QUEUED) {
		rc = cs_err_set(err, CS_ECONFLICT, "outbox row %lld is %s",
		                outbox_id, db_ostate_name(o.state));
		goto out;
	}
	ib = seq_find_inbox(s, o.inbox_id);
	c = seq_find_camp(s, e.campaign_id);
	if (ib == NULL || c == NULL) {
		/* made after the last reload, or gone: look again later,
		 * longer each time */
		rc = wait_row(s, &o, WAIT_LOADED, later(&o, WAIT_BASE, now),
		              now, err);
		goto out;
	}
	if (c->c.status != DB_CAMPAIGN_ACTIVE) {
		/* nothing of a paused campaign goes; resume wakes it
		 * (db_campaign_set_status) */
		cs_buf_printf(&why, WAIT_CAMPAIGN ": %s",
		              db_campaign_status_name(c->c.status));
		rc = wait_row(s, &o, why.data, later(&o, 3600000, now), now,
		              err);
		goto out;
	}
	if ((rc = seq_ibox_roll(s, ib, now, err)) != 0)
		goto out;
	if (!ib->active) {
		/* wait for the inbox: its pause ends (then due), or the user
		 * resumes it (db_inbox_set_status wakes the row) */
		cs_buf_printf(&why, WAIT_INBOX ": %s%s%s",
		              seq_inbox_authorized(&ib->in)
		                  ? db_inbox_status_name(ib->in.status)
		                  : "not authorized",
		              ib->in.paused_reason ? ": " : "",
		              ib->in.paused_reason ? ib->in.paused_reason : "");
		rc = wait_row(s, &o, why.data,
		              ib->in.paused_until > now
		                  ? ib->in.paused_until
		                  : later(&o, 3600000, now),
		              now, err);
		goto out;
	}
	/* its domain paused or slowed toward the contact's provider
	 * (seq_domain_pause.c): wait until that ends ('domain resume' wakes
	 * the row) */
	if ((rc = seq_domain_pause_hold(s, &ib->in, e.email, now, &held, &why,
	                                NULL, err)) != 0)
		goto out;
	if (held) {
		rc = wait_row(s, &o, why.data, held, now, err);
		goto out;
	}
	/* at the cap now: no need to compose.  Not the authoritative check:
	 * another process may send between here and the insert, so that is
	 * db_message_add_capped below, counting and inserting at once */
	if ((rc = db_message_count_caps(s->d, ib->in.id, ib->day,
	                                &ib->camp_today, &ib->total_today,
	                                err)) != 0)
		goto out;
	if (ib->camp_today >= ib->cap_today)
		goto capped;
	zone = seq_contact_zone(c, e.contact_tz);
	if ((rc = db_contact_get(s->d, e.email, &ct, err)) != 0)
		goto out;
	if (o.step < 1 || (size_t)o.step > c->c.nsteps || o.variant < 0 ||
	    (size_t)o.variant >= c->c.steps[o.step - 1].nvariants) {
		cs_buf_printf(&why,
		              "step %d: the campaign does not have this step "
		              "(variant %d)",
		              o.step, o.variant + 1);
		rc = unsendable(s, &o, &e, why.data, now, err);
		goto out;
	}
	if ((rc = seq_tsrc_get(
	         s,
	         c->c.steps[o.step - 1].variants[o.variant].template_version_id,
	         &ts, err)) != 0)
		goto out;
	seq_compose_step(&ci, c, ib, &ct, ts, &e, zone, now);
	ci.step = o.step; /* a retried step: the row's, not the cursor's */
	ci.message_id = o.message_id;
	ci.in_reply_to = o.in_reply_to;
	ci.references = o.refs;
	if ((rc = seq_compose(s->d, s->v, &ci, &job->raw, &subject, err)) !=
	    0) {
		/* anything but a refusal of the data (CS_EINVAL: the
		 * renderer's and the builder's only code), say the database
		 * or the vault failing, is worth another try later (out:) */
		if (rc != CS_EINVAL)
			goto out;
		/* the contact's data (or the template) cannot make this
		 * message: trying again cannot help */
		cs_buf_printf(&why, "step %d (%s): %s", o.step, ts->name,
		              err->msg);
		rc = unsendable(s, &o, &e, why.data, now, err);
		goto out;
	}
	memset(&row, 0, sizeof row);
	row.message_id = o.message_id;
	row.inbox_id = ib->in.id;
	row.inbox_email = ib->in.email;
	row.recipient = e.email;
	row.purpose = DB_PURPOSE_CAMPAIGN;
	row.subject = subject;
	row.created_at = now;
	row.local_day = ib->day;
	/* the authoritative cap check: the day's count (test sends from the
	 * CLI, other processes) and the insert in one write transaction */
	caps.cap = ib->cap_today;
	if ((rc = seq_limits_caps(s->d, &ib->in, &caps, err)) != 0 ||
	    (rc = seq_outbox_record(s->d, o.id, &row, &caps, &over, NULL, NULL,
	                            now, err)) != 0)
		goto out;
	ib->camp_today = caps.campaign;
	ib->total_today = caps.total;
	if (over && caps.lim_over)
		goto limited;
	if (over)
		goto capped;
	seq_limits_recorded(ib, &caps);
	ib->camp_today++;
	ib->total_today++;
	job->outbox_id = o.id;
	job->purpose = DB_PURPOSE_CAMPAIGN;
	job->inbox_id = ib->in.id;
	job->inbox = cs_xstrdup(ib->in.name);
	job->from = cs_xstrdup(ib->in.email);
	job->campaign = cs_xstrdup(c->c.name);
	job->contact = cs_xstrdup(e.email);
	job->variant = cs_xstrdup(ts->name);
	job->step = o.step;
	job->message_id = cs_xstrdup(o.message_id);
	job->at = now;
	job->zone = cs_xstrdup(zone);
	*ready = true;
	goto out;
capped:
	rc = seq_outbox_move(s->d, o.id, DB_O_QUEUED, DB_O_QUEUED,
	                     "daily cap reached", ib->day_end, now, err);
	goto out;
limited:
	/* a provider limit is full: the row waits until its window frees
	 * a unit, and the scheduler plans nothing more from the inbox */
	seq_limits_refused(ib, &caps, now);
	seq_limit_text(caps.lim_id, caps.lim_used, caps.lim_max, &why);
	rc = seq_outbox_move(s->d, o.id, DB_O_QUEUED, DB_O_QUEUED, why.data,
	                     ib->lim_until, now, err);
out:
	if (rc != 0 && rc != CS_ECONFLICT && o.id && o.state == DB_O_QUEUED &&
	    o.purpose == DB_PURPOSE_CAMPAIGN) {
		/* whatever failed, the row does not come straight back */
		cs_err e2 = CS_ERR_INIT;
		cs_buf w = CS_BUF_INIT;

		cs_buf_printf(&w, "not sent yet: %s", err->msg);
		if (wait_row(s, &o, w.data, later(&o, WAIT_BASE, now), now,
		             &e2) != 0)
			cs_log_warn("outbox row %lld: %s", o.id, e2.msg);
		cs_buf_free(&w);
	}
	if (rc || !*ready)
		cs_buf_free(&job->raw);
	cs_buf_free(&why);
	free(subject);
	db_outbox_free(&o);
	db_enrollment_free(&e);
	db_contact_free(&ct);
	return rc;
}

/* The step was accepted: the enrollment moves on (same thread unless the
 * next step starts a new one). */
int seq_outbox_advance(seq_sched *s, seq_camp *c, const db_outbox *o,
                       const db_enrollment *e, int64_t now, cs_err *err)
{
	const db_step *st = &c->c.steps[o->step - 1];
	bool thread = o->step > 1 && !st->new_thread && e->thread_refs;
	bool completed = (size_t)o->step >= c->c.nsteps;
	cs_buf refs = CS_BUF_INIT, re = CS_BUF_INIT;
	const char *subj = e->thread_subject;
	int64_t due = now;
	int rc = 0;

	if (thread)
		cs_buf_printf(&refs, "%s ", e->thread_refs);
	cs_buf_puts(&refs, o->message_id);
	/* the thread's subject: this one, unless it was our "Re: ..." */
	if (e->thread_subject)
		cs_buf_printf(&re, "Re: %s", e->thread_subject);
	if (!thread || subj == NULL || strcmp(o->subject, cs_buf_str(&re)) != 0)
		subj = o->subject;
	if (!completed) {
		const db_step *nx = &c->c.steps[o->step];

		rc = seq_delay_apply(seq_contact_zone(c, e->contact_tz), now,
		                     nx->delay_amount, nx->delay_unit, &due,
		                     err);
	}
	if (rc == 0)
		rc = db_enr_sent(s->d, e->id, o->step + 1, completed, now, due,
		                 subj, refs.data, now, err);
	if (rc == 0 && !completed) {
		/* the inbox now has a follow-up due then */
		seq_ibox *ib = seq_find_inbox(s, o->inbox_id);

		if (ib && ib->fu_next > due)
			ib->fu_next = due;
	}
	cs_buf_free(&refs);
	cs_buf_free(&re);
	return rc;
}

/* Put the row back in the queue, due at `due` but never before its
 * backoff: the server did not take the message (a deferral, a refusal,
 * no session), so it keeps its Message-ID; the attempt stays in
 * send_attempts. */
static int retry(seq_sched *s, const db_outbox *o, const char *why, int64_t due,
                 int retry_after_s, int64_t now, cs_err *err)
{
	int64_t b = now + backoff(o, retry_after_s);

	return seq_outbox_move(s->d, o->id, DB_O_SENDING, DB_O_QUEUED, why,
	                       due > b ? due : b, now, err);
}

static int pause_inbox(seq_sched *s, seq_ibox *ib, const char *why,
                       int64_t until, int64_t now, cs_err *err)
{
	int rc = db_inbox_set_status(s->d, ib->in.name, DB_INBOX_PAUSED, why,
	                             until, now, err);

	if (rc == 0) {
		cs_log_warn("inbox %s paused: %s", ib->in.name, why);
		ib->in.status = DB_INBOX_PAUSED;
		ib->active = false;
		free(ib->in.paused_reason);
		ib->in.paused_reason = cs_xstrdup(why);
		ib->in.paused_until = until;
	}
	return rc;
}

/* What a campaign step's result does (inside seq_outbox_settle). */
typedef struct fin {
	seq_sched *s;
	seq_camp *c;
	seq_ibox *ib;
	const db_outbox *o;
	const db_enrollment *e;
	const smtp_result *res;
	const char *why;
	int64_t now;
} fin;

/* The scheduler's copy of ib after seq_verdict_effect changed it. */
static int mirror_fx(seq_sched *s, seq_ibox *ib, const seq_verdict_fx *fx,
                     cs_err *err)
{
	switch (fx->kind) {
	case SEQ_FX_PAUSE:
		ib->in.status = DB_INBOX_PAUSED;
		ib->active = false;
		free(ib->in.paused_reason);
		ib->in.paused_reason = cs_xstrdup(fx->why.data);
		ib->in.paused_until = fx->until;
		ib->in.provider_hold = true;
		/* paused until someone acts (a restricted sender, SMTP AUTH
		 * off): its new contacts go to other inboxes */
		if (fx->until == 0)
			return seq_sched_release_new(s, ib->in.id,
			                             "it is resumed", err);
		break;
	case SEQ_FX_AUTH_FAILED:
		free(ib->in.auth_reason);
		ib->in.auth_reason = cs_xstrdup(fx->why.data);
		/* its new contacts go to other inboxes */
		return seq_sched_auth_lost(s, ib->in.id, err);
	case SEQ_FX_BACKOFF:
		if (ib->next_at < fx->until)
			ib->next_at = fx->until;
		break;
	case SEQ_FX_NONE: break;
	}
	return 0;
}

static int campaign_effects(void *arg, cs_err *err)
{
	fin *f = arg;
	seq_sched *s = f->s;
	seq_ibox *ib = f->ib;
	const db_outbox *o = f->o;
	const db_enrollment *e = f->e;
	const smtp_result *res = f->res;
	const smtp_verdict *v = &res->verdict;
	int64_t now = f->now;
	seq_verdict_fx fx;
	int rc = 0;

	if ((rc = seq_verdict_effect(s->d, &ib->in, res, now, &fx, err)) != 0) {
		seq_verdict_fx_free(&fx);
		return rc;
	}
	switch (v->outcome) {
	case SMTP_SENT:
		if ((rc = seq_outbox_move(s->d, o->id, DB_O_SENDING, DB_O_SENT,
		                          NULL, -1, now, err)) == 0)
			rc = seq_outbox_advance(s, f->c, o, e, now, err);
		break;
	case SMTP_DEFERRED:
		/* like an MTA's queue: retry with a growing backoff, give up
		 * when the message has waited for days */
		if (now - o->created_at > GIVE_UP_MS) {
			if ((rc = seq_outbox_move(s->d, o->id, DB_O_SENDING,
			                          DB_O_FAILED, f->why, -1, now,
			                          err)) == 0)
				rc = db_enr_set_state(
				    s->d, e->id, DB_ENR_STOPPED,
				    "not delivered: deferred for 3 days", now,
				    err);
			break;
		}
		rc = retry(s, o, f->why,
		           fx.kind == SEQ_FX_BACKOFF ? fx.until : now,
		           v->retry_after_s, now, err);
		if (v->throttle) /* slow this inbox down */
			ib->next_at = now + 4 * ib->min_gap_ms;
		if (rc == 0)
			rc = mirror_fx(s, ib, &fx, err);
		break;
	case SMTP_REJECTED_RECIPIENT: {
		bool added;

		if ((rc = seq_outbox_move(s->d, o->id, DB_O_SENDING,
		                          DB_O_FAILED, f->why, -1, now, err)) ==
		        0 &&
		    (rc = db_suppress_add(s->d, "address", e->email, f->why,
		                          ib->in.name, now, &added, err)) == 0)
			rc = seq_contact_stop(s->d, e->email,
			                      DB_CONTACT_BOUNCED, now, err);
		break;
	}
	case SMTP_REJECTED_POLICY:
	case SMTP_INBOX_FAILURE: {
		int64_t until;

		if (fx.kind != SEQ_FX_NONE) {
			/* the action decided (and said why); the row waits
			 * for the pause's end, or the user's fix */
			if ((rc = retry(s, o, fx.why.len ? fx.why.data : f->why,
			                fx.until ? fx.until : now,
			                v->retry_after_s, now, err)) == 0)
				rc = mirror_fx(s, ib, &fx, err);
			break;
		}
		until = v->outcome == SMTP_INBOX_FAILURE
		            ? now + (v->retry_after_s > 900
		                         ? (int64_t)v->retry_after_s * 1000
		                         : 900000)
		            : 0;
		if ((rc = retry(s, o, f->why, until ? until : now,
		                v->retry_after_s, now, err)) == 0)
			rc = pause_inbox(s, ib, f->why, until, now, err);
		break;
	}
	case SMTP_UNCERTAIN:
		rc = seq_outbox_move(s->d, o->id, DB_O_SENDING, DB_O_HELD,
		                     res->detail[0]
		                         ? res->detail
		                         : "may have been sent (the connection "
		                           "was lost after the message's end): "
		                           "resolve with 'coldseq outbox "
		                           "resolve'",
		                     -1, now, err);
		break;
	}
	seq_verdict_fx_free(&fx);
	return rc;
}

int seq_outbox_finish(seq_sched *s, const seq_job *job, const smtp_result *res,
                      cs_err *err)
{
	int64_t now = cs_clock_now(s->clock);
	db_outbox o;
	db_enrollment e;
	seq_ibox *ib = seq_find_inbox(s, job->inbox_id);
	seq_camp *c;
	cs_buf why = CS_BUF_INIT;
	fin f;
	int rc;

	memset(&o, 0, sizeof o);
	memset(&e, 0, sizeof e);
	if ((rc = db_outbox_get(s->d, job->outbox_id, &o, err)) != 0 ||
	    (rc = seq_outbox_campaign_row(&o, err)) != 0 ||
	    (rc = db_enr_by_id(s->d, o.enrollment_id, &e, err)) != 0)
		goto out;
	c = seq_find_camp(s, e.campaign_id);
	if (c == NULL || ib == NULL) {
		rc = cs_err_set(
		    err, CS_ENOTFOUND,
		    "outbox row %lld: its inbox or campaign is gone", o.id);
		goto out;
	}
	cs_buf_printf(&why, "%s", res->detail[0] ? res->detail : res->text);
	f = (fin){s, c, ib, &o, &e, res, why.data, now};
	rc = seq_outbox_settle(s->d, o.message_id, res, campaign_effects, &f,
	                       now, err);
out:
	cs_buf_free(&why);
	db_outbox_free(&o);
	db_enrollment_free(&e);
	return rc;
}

void seq_outbox_unc_result(smtp_result *res, bool checked, bool found,
                           const char *why, const char *tail)
{
	memset(res, 0, sizeof *res);
	if (checked && found) {
		res->code = 250;
		res->verdict.outcome = SMTP_SENT;
		snprintf(res->text, sizeof res->text,
		         "found in the Sent folder after a restart");
		return;
	}
	res->verdict.outcome = SMTP_UNCERTAIN;
	snprintf(res->detail, sizeof res->detail,
	         "was being sent when coldseq stopped and %s%s%s",
	         checked ? "is not in the Sent folder"
	                 : "the Sent folder could not be searched: ",
	         checked ? ""
	         : why   ? why
	                 : "",
	         tail);
}

int seq_outbox_uncertain(seq_sched *s, long long outbox_id, bool checked,
                         bool found, const char *why, cs_err *err)
{
	db_outbox o;
	seq_job job;
	smtp_result res;
	cs_buf tail = CS_BUF_INIT;
	int rc;

	if ((rc = db_outbox_get(s->d, outbox_id, &o, err)) != 0)
		return rc;
	memset(&job, 0, sizeof job);
	job.outbox_id = o.id;
	job.inbox_id = o.inbox_id;
	cs_buf_printf(&tail,
	              ": resolve with 'coldseq outbox resolve %lld "
	              "--sent|--resend|--drop'",
	              o.id);
	seq_outbox_unc_result(&res, checked, found, why, tail.data);
	cs_buf_free(&tail);
	rc = seq_outbox_finish(s, &job, &res, err);
	db_outbox_free(&o);
	return rc;
}
