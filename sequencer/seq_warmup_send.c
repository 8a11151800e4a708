/*
 * seq_warmup_send.c - the warmup purpose of the outbox: due plan rows
 * queued into the outbox, and each warmup row's begin (the day's quota,
 * the message built, recorded before DATA with its plan row), settle and
 * crash resolution, called by the dispatcher (seq_dispatch.c).
 *
 * A send cut off by a crash (row, plan row and messages row left
 * 'sending') is never sent again: a warmup message is not worth a
 * duplicate.  At start-up it is looked for in the sender's Sent folder
 * (seq_dispatch_resolve), as campaign mail is: found -> sent; not found
 * -> lost (row and plan row 'failed', messages row 'deferred': it counts
 * neither toward the caps nor as sent); Sent not searchable -> left
 * 'sending' (counted; looked for again at the next start-up).  A
 * receiving inbox that records it later (its watcher's 'warmup' event)
 * proves it was delivered: it becomes 'sent' then, whatever start-up
 * decided (seq_warmup_pass, db_warmup_settle_seen).
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_MS (10 * 60000LL)

typedef seq_wday dayinfo;

/* Uniform in [0, n). */
static int64_t rnd_below(int64_t n)
{
	return n > 0 ? (int64_t)(seq_warmup_rnd() % (uint64_t)n) : 0;
}

/* ---- sending: warmup rows of the outbox --------------------------------- */

/* A plan row, copied out of db_warmup_plan_get's callback. */
typedef struct plan {
	bool found;
	long long id, inbox_id;
	char local_day[11];
	db_pstate state;
	bool reply;
	char *to_addr, *subject, *in_reply_to, *refs;
} plan;

static void plan_free(plan *p)
{
	free(p->to_addr);
	free(p->subject);
	free(p->in_reply_to);
	free(p->refs);
	memset(p, 0, sizeof *p);
}

static int copy_plan(const db_warmup_item *it, void *arg)
{
	plan *p = arg;

	p->found = true;
	p->id = it->id;
	p->inbox_id = it->inbox_id;
	memcpy(p->local_day, it->local_day, sizeof p->local_day);
	p->state = it->state;
	p->reply = it->kind == DB_WARMUP_REPLY;
	p->to_addr = cs_xstrdup(it->to_addr);
	p->subject = it->subject ? cs_xstrdup(it->subject) : NULL;
	p->in_reply_to = it->in_reply_to ? cs_xstrdup(it->in_reply_to) : NULL;
	p->refs = it->refs ? cs_xstrdup(it->refs) : NULL;
	return 0;
}

static int get_plan(seq_warmup *w, long long id, plan *p, cs_err *err)
{
	int rc;

	memset(p, 0, sizeof *p);
	if ((rc = db_warmup_plan_get(w->d, id, copy_plan, p, err)) != 0)
		return rc;
	if (!p->found)
		return cs_err_set(err, CS_ENOTFOUND, "no warmup plan row %lld",
		                  id);
	return 0;
}

typedef struct queue_ctx {
	seq_warmup *w;
	int64_t now;
	cs_err *err;
} queue_ctx;

static int queue_one(const db_warmup_item *it, void *arg)
{
	queue_ctx *q = arg;
	const db_warmup *x = seq_warmup_find(q->w, it->inbox_id);
	db_outbox o;
	long long id;
	int rc;

	if (x == NULL) /* not loaded yet: its row waits for the reload */
		return 0;
	memset(&o, 0, sizeof o);
	o.purpose = DB_PURPOSE_WARMUP;
	o.warmup_plan_id = it->id;
	o.inbox_id = it->inbox_id;
	o.message_id = smtp_new_message_id(x->email);
	o.subject = (char *)(it->subject ? it->subject : "");
	o.in_reply_to = (char *)it->in_reply_to;
	o.refs = (char *)it->refs;
	o.due_at = it->due_at;
	rc = db_outbox_add(q->w->d, &o, q->now, &id, q->err);
	if (rc == 0)
		cs_log_debug("warmup plan row %lld: queued as outbox row %lld",
		             it->id, id);
	free(o.message_id);
	return rc;
}

int seq_warmup_queue_due(seq_warmup *w, cs_err *err)
{
	queue_ctx q = {w, cs_clock_now(w->clock), err};

	return db_warmup_plan_unqueued(w->d, q.now, queue_one, &q, err);
}

/* Row o and its plan row p, both still to go, go no more: the plan row
 * to (dropped|failed), the outbox row failed with why. */
static int give_up(seq_warmup *w, const db_outbox *o, const plan *p,
                   db_pstate to, const char *why, int64_t now, cs_err *err)
{
	int rc;

	if ((rc = db_begin(w->d, err)) != 0)
		return rc;
	if ((rc = seq_warmup_plan_move(w->d, p->id, DB_P_PLANNED, to, NULL, -1,
	                               NULL, now, err)) != 0 ||
	    (rc = seq_outbox_move(w->d, o->id, DB_O_QUEUED, DB_O_FAILED, why,
	                          -1, now, err)) != 0 ||
	    (rc = db_commit(w->d, err)) != 0) {
		db_rollback(w->d);
		return rc;
	}
	return 0;
}

/* A reply over the day's quota waits for the next day's window: its plan
 * row and its outbox row, due then. */
static int defer_to_tomorrow(seq_warmup *w, const db_warmup *x,
                             const db_outbox *o, const plan *p,
                             const dayinfo *di, int64_t now, cs_err *err)
{
	dayinfo next;
	int64_t at;
	int rc;

	if ((rc = seq_warmup_day(x->timezone, di->end + WU_HOUR_MS, &next,
	                         err)) != 0)
		return rc;
	at = next.start + WU_WINDOW_FROM_H * WU_HOUR_MS +
	     rnd_below(2 * WU_HOUR_MS);
	if ((rc = db_begin(w->d, err)) != 0)
		return rc;
	if ((rc = seq_warmup_plan_move(w->d, p->id, DB_P_PLANNED, DB_P_PLANNED,
	                               NULL, at, next.day, now, err)) != 0 ||
	    (rc = seq_outbox_move(w->d, o->id, DB_O_QUEUED, DB_O_QUEUED,
	                          "warmup: over the day's quota, waits for the "
	                          "next day",
	                          at, now, err)) != 0 ||
	    (rc = db_commit(w->d, err)) != 0) {
		db_rollback(w->d);
		return rc;
	}
	return 0;
}

int seq_warmup_wait(db *d, const db_outbox *o, int64_t until, const char *why,
                    int64_t now, cs_err *err)
{
	int rc;

	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = seq_warmup_plan_move(d, o->warmup_plan_id, DB_P_PLANNED,
	                               DB_P_PLANNED, NULL, until, NULL, now,
	                               err)) != 0 ||
	    (rc = seq_outbox_move(d, o->id, DB_O_QUEUED, DB_O_QUEUED, why,
	                          until, now, err)) != 0 ||
	    (rc = db_commit(d, err)) != 0) {
		db_rollback(d);
		return rc;
	}
	return 0;
}

static const char *strip_re(const char *s)
{
	if (s == NULL)
		return "";
	while (strncasecmp(s, "Re:", 3) == 0) {
		s += 3;
		while (*s == ' ')
			s++;
	}
	return s;
}

/* The plan row's own writes in seq_outbox_record's transaction. */
typedef struct rec_ctx {
	seq_warmup *w;
	long long plan_id, inbox_id;
	const char *message_id, *day;
	int topic;
	int64_t now;
} rec_ctx;

static int record_plan(void *arg, cs_err *err)
{
	rec_ctx *r = arg;
	int rc = seq_warmup_plan_move(r->w->d, r->plan_id, DB_P_PLANNED,
	                              DB_P_SENDING, r->message_id, -1, r->day,
	                              r->now, err);

	return rc ? rc
	          : db_warmup_note(r->w->d, r->inbox_id, r->day, r->topic,
	                           r->now, err);
}

int seq_warmup_begin(seq_warmup *w, const db_outbox *o, seq_job *job,
                     bool *ready, cs_err *err)
{
	int64_t now = cs_clock_now(w->clock);
	db_warmup *x = seq_warmup_find(w, o->inbox_id);
	plan p;
	db_inbox in;
	dayinfo di;
	cs_civil civ;
	long long sent = 0;
	int quota, topic = -1, rc;
	smtp_msg_spec spec;
	cs_buf subject = CS_BUF_INIT, body = CS_BUF_INIT;
	char *mid = NULL;
	db_message row;
	db_caps caps = {0};
	bool over = false;
	rec_ctx rec;

	memset(job, 0, sizeof *job);
	memset(&in, 0, sizeof in);
	*ready = false;
	if ((rc = get_plan(w, o->warmup_plan_id, &p, err)) != 0)
		return rc;
	if (p.state != DB_P_PLANNED) {
		rc = cs_err_set(err, CS_ECONFLICT, "warmup plan row %lld is %s",
		                p.id, db_pstate_name(p.state));
		goto out;
	}
	if (x == NULL || !x->enabled) {
		rc = give_up(w, o, &p, DB_P_DROPPED, "warmup is off", now, err);
		goto out;
	}
	if ((rc = db_inbox_get(w->d, x->inbox, &in, err)) != 0 ||
	    (rc = seq_warmup_day(x->timezone, now, &di, err)) != 0 ||
	    (rc = cs_tz_civil(x->timezone, now, &civ, err)) != 0 ||
	    (rc = db_message_count_day(w->d, x->inbox_id, di.day,
	                               DB_PURPOSE_WARMUP, &sent, err)) != 0)
		goto out;
	quota = seq_warmup_quota(x->start, x->step, x->max,
	                         seq_warmup_ramp_day(x, di.day));
	if (x->weekdays_only && (di.wday == 0 || di.wday == 6))
		quota = 0;
	if (sent >= quota || (!p.reply && strcmp(p.local_day, di.day) != 0)) {
		/* over the day's warmup (or the inbox's) limit, or a new
		 * message of a day gone by (the service was down) */
		goto over_limit;
	}
	if (p.reply) {
		cs_buf_printf(&subject, "Re: %s", strip_re(p.subject));
		seq_warmup_reply_text(seq_warmup_rnd(), in.display_name, &body);
	} else
		topic = seq_warmup_compose(seq_warmup_rnd(), x->last_topic,
		                           in.display_name, &subject, &body);
	memset(&spec, 0, sizeof spec);
	spec.from_name = in.display_name;
	spec.from_addr = in.email;
	spec.to_addr = p.to_addr;
	spec.subject = cs_buf_str(&subject);
	spec.text = cs_buf_str(&body);
	spec.date_ms = now;
	spec.tz_offset_min = civ.offset_min;
	spec.in_reply_to = p.in_reply_to;
	spec.references = p.refs;
	spec.message_id = o->message_id;
	if ((rc = smtp_build_message(&spec, &job->raw, &mid, err)) != 0) {
		cs_err e2 = CS_ERR_INIT;

		if (give_up(w, o, &p, DB_P_FAILED, err->msg, now, &e2) != 0)
			cs_log_warn("warmup plan row %lld: %s", p.id, e2.msg);
		goto out;
	}
	memset(&row, 0, sizeof row);
	row.message_id = mid;
	row.inbox_id = in.id;
	row.inbox_email = in.email;
	row.recipient = p.to_addr;
	row.purpose = DB_PURPOSE_WARMUP;
	row.subject = spec.subject;
	row.created_at = now;
	row.local_day = di.day;
	/* the authoritative check of the quota and the provider limits
	 * (warmup sends are messages too): counted and
	 * recorded in one write transaction (a CLI send-test or another
	 * process may have sent since the counts above) */
	caps.cap = -1;
	caps.own_quota = true;
	if ((rc = seq_limits_caps(w->d, &in, &caps, err)) != 0)
		goto out;
	caps.quota = quota;
	rec = (rec_ctx){w, p.id, in.id, mid, di.day, topic, now};
	if ((rc = seq_outbox_record(w->d, o->id, &row, &caps, &over,
	                            record_plan, &rec, now, err)) != 0)
		goto out;
	if (over) /* as above: over the limit since the first count */
		goto over_limit;
	/* the cached settings follow what was just stored */
	if (x->first_day[0] == '\0')
		memcpy(x->first_day, di.day, sizeof x->first_day);
	if (topic >= 0)
		x->last_topic = topic;
	job->outbox_id = o->id;
	job->purpose = DB_PURPOSE_WARMUP;
	job->inbox_id = in.id;
	job->inbox = cs_xstrdup(in.name);
	job->from = cs_xstrdup(in.email);
	job->campaign = cs_xstrdup("warmup");
	job->contact = cs_xstrdup(p.to_addr);
	job->variant = cs_xstrdup(p.reply ? "reply" : "new");
	job->message_id = mid;
	mid = NULL;
	job->at = now;
	*ready = true;
	goto out;
over_limit:
	rc = p.reply ? defer_to_tomorrow(w, x, o, &p, &di, now, err)
	             : give_up(w, o, &p, DB_P_DROPPED,
	                       "warmup: over the day's quota or the inbox's "
	                       "limit, or its day is over",
	                       now, err);
out:
	if (!*ready)
		cs_buf_free(&job->raw);
	free(mid);
	cs_buf_free(&subject);
	cs_buf_free(&body);
	db_inbox_free(&in);
	plan_free(&p);
	return rc;
}

/* What a warmup result does to the row and its plan row (inside
 * seq_outbox_settle). */
typedef struct wfin {
	seq_warmup *w;
	const db_outbox *o;
	db_ostate row;  /* the outbox row's end */
	db_pstate plan; /* its plan row's */
	const char *why;
	int64_t due, now;
	const smtp_result *res; /* the server's answer (NULL: none) */
} wfin;

/* What the verdict does to the sending inbox (seq_verdict_effect, as for
 * every purpose) and so to the plan row: a quota or a connection backoff
 * plans the send again for when it ends; a pause with no end, or a
 * refused sign-in, fails it. */
static int warmup_inbox_effect(wfin *f, cs_err *err)
{
	db_warmup *x = seq_warmup_find(f->w, f->o->inbox_id);
	seq_verdict_fx fx;
	db_inbox in;
	int rc;

	if (f->res == NULL || x == NULL)
		return 0;
	memset(&in, 0, sizeof in);
	if ((rc = db_inbox_get(f->w->d, x->inbox, &in, err)) != 0)
		return rc;
	rc = seq_verdict_effect(f->w->d, &in, f->res, f->now, &fx, err);
	if (rc == 0 && fx.kind != SEQ_FX_NONE) {
		f->why = NULL; /* fx.why is freed below: the row's reason */
		if (fx.until) {
			f->row = DB_O_FAILED;
			f->plan = DB_P_PLANNED;
			f->due = fx.until;
		} else {
			f->row = DB_O_FAILED;
			f->plan = DB_P_FAILED;
			f->due = -1;
		}
		rc = seq_outbox_move(f->w->d, f->o->id, DB_O_SENDING, f->row,
		                     fx.why.data, -1, f->now, err);
		if (rc == 0)
			rc = 1; /* the row moved */
	}
	seq_verdict_fx_free(&fx);
	db_inbox_free(&in);
	return rc;
}

static int warmup_effects(void *arg, cs_err *err)
{
	wfin *f = arg;
	int rc;

	if ((rc = warmup_inbox_effect(f, err)) < 0)
		return rc;
	if (rc == 0 &&
	    (rc = seq_outbox_move(f->w->d, f->o->id, DB_O_SENDING, f->row,
	                          f->why, -1, f->now, err)) != 0)
		return rc;
	return seq_warmup_plan_move(f->w->d, f->o->warmup_plan_id, DB_P_SENDING,
	                            f->plan, NULL, f->due, NULL, f->now, err);
}

static int no_effects(void *arg, cs_err *err)
{
	(void)arg;
	(void)err;
	return 0;
}

/* The row of job, still 'sending' (*gone: a receiving inbox's sighting
 * settled it meanwhile, nothing left to record). */
static int sending_row(seq_warmup *w, long long id, db_outbox *o, bool *gone,
                       cs_err *err)
{
	int rc = db_outbox_get(w->d, id, o, err);

	*gone = rc == 0 && o->state != DB_O_SENDING;
	if (*gone)
		cs_log_debug("outbox row %lld is %s already (a receiving inbox "
		             "saw it): only its message's outcome is recorded",
		             id, db_ostate_name(o->state));
	return rc;
}

int seq_warmup_finish(seq_warmup *w, const seq_job *job, const smtp_result *res,
                      cs_err *err)
{
	int64_t now = cs_clock_now(w->clock);
	wfin f;
	db_outbox o;
	bool gone;
	int rc;

	memset(&o, 0, sizeof o);
	if ((rc = sending_row(w, job->outbox_id, &o, &gone, err)) != 0)
		goto out;
	if (gone) { /* the server's word on it still goes to messages */
		rc = seq_outbox_settle(w->d, o.message_id, res, no_effects,
		                       NULL, now, err);
		goto out;
	}
	f = (wfin){w,
	           &o,
	           DB_O_FAILED,
	           DB_P_FAILED,
	           res->detail[0] ? res->detail : res->text,
	           -1,
	           now,
	           res};
	switch (res->verdict.outcome) {
	case SMTP_SENT: f.row = DB_O_SENT, f.plan = DB_P_SENT; break;
	case SMTP_UNCERTAIN: /* may have gone: never again */
		f.row = DB_O_SENT;
		f.plan = DB_P_SENT;
		f.why = "may have been sent (the connection was lost after the "
		        "message's end): never sent again (warmup)";
		break;
	case SMTP_DEFERRED:
	case SMTP_INBOX_FAILURE:
		/* again later, as a new message (a new outbox row) */
		f.plan = DB_P_PLANNED;
		f.due = now + RETRY_MS;
		break;
	default: break;
	}
	rc = seq_outbox_settle(w->d, o.message_id, res, warmup_effects, &f, now,
	                       err);
out:
	db_outbox_free(&o);
	return rc;
}

int seq_warmup_uncertain(seq_warmup *w, const db_outbox *o, bool checked,
                         bool found, cs_err *err)
{
	int64_t now = cs_clock_now(w->clock);
	smtp_result res;
	wfin f;

	if (!checked)
		return 0; /* as it is: 'sending', never again, counted */
	memset(&res, 0, sizeof res);
	f = (wfin){w, o, DB_O_SENT, DB_P_SENT, NULL, -1, now, NULL};
	if (found) {
		res.code = 250;
		res.verdict.outcome = SMTP_SENT;
		snprintf(res.text, sizeof res.text,
		         "found in the Sent folder after a restart");
		f.why = res.text;
	} else {
		/* 'deferred' in messages: counted neither toward the caps nor
		 * as sent */
		res.verdict.outcome = SMTP_DEFERRED;
		snprintf(res.text, sizeof res.text,
		         "lost: was being sent when coldseq stopped and is not "
		         "in the Sent folder; not sent again (warmup)");
		f.row = DB_O_FAILED;
		f.plan = DB_P_FAILED;
		f.why = res.text;
	}
	return seq_outbox_settle(w->d, o->message_id, &res, warmup_effects, &f,
	                         now, err);
}
