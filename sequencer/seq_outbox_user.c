/*
 * seq_outbox_user.c - the user's decisions on an outbox row (`coldseq
 * outbox resolve|drop|retry`): a held row (it may have been sent) marked
 * sent, sent again under its Message-ID, or dropped; a queued row dropped
 * or made due now; a step failed as unsendable composed afresh.  Campaign
 * rows only (warmup sends are never held; a test send is never retried).
 * The row's life cycle: seq_outbox.c; its transitions: seq_outbox_fsm.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <string.h>

/* Whether row o is held: 'held' (may have been sent), or 'failed' as
 * unsendable with its enrollment held on the same step. */
static bool is_held(const db_outbox *o, const db_enrollment *e)
{
	return o->state == DB_O_HELD ||
	       (o->state == DB_O_FAILED && e->state == DB_ENR_HELD &&
	        e->step == o->step);
}

/* A row may go out again only from the inbox that has its thread: a row
 * of a removed inbox (not loaded: `inbox remove` keeps a tombstone that
 * the scheduler never loads) would wait for it for ever. */
static int sendable_again(seq_sched *s, const db_outbox *o, cs_err *err)
{
	if (seq_find_inbox(s, o->inbox_id) != NULL)
		return 0;
	return cs_err_set(err, CS_ECONFLICT,
	                  "outbox row %lld: its inbox was removed, and no "
	                  "other inbox may send it: drop it, or mark it sent "
	                  "if it arrived",
	                  o->id);
}

int seq_outbox_resolve(seq_sched *s, long long outbox_id, seq_resolve how,
                       cs_err *err)
{
	int64_t now = cs_clock_now(s->clock);
	db_outbox o;
	db_enrollment e;
	seq_camp *c;
	int rc;

	memset(&e, 0, sizeof e);
	if ((rc = db_outbox_get(s->d, outbox_id, &o, err)) != 0)
		return rc;
	if ((rc = seq_outbox_campaign_row(&o, err)) != 0)
		goto out;
	if (o.state != DB_O_HELD) {
		rc = cs_err_set(err, CS_ECONFLICT,
		                "outbox row %lld is %s, not held: nothing to "
		                "resolve%s",
		                outbox_id, db_ostate_name(o.state),
		                o.state == DB_O_QUEUED
		                    ? " ('coldseq outbox drop|retry' act on a "
		                      "queued row)"
		                    : "");
		goto out;
	}
	if ((rc = db_enr_by_id(s->d, o.enrollment_id, &e, err)) != 0)
		goto out;
	if ((c = seq_find_camp(s, e.campaign_id)) == NULL) {
		rc = cs_err_set(err, CS_ENOTFOUND, "its campaign is gone");
		goto out;
	}
	if (how == SEQ_RESOLVE_RESEND && (rc = sendable_again(s, &o, err)) != 0)
		goto out;
	if ((rc = db_begin(s->d, err)) != 0)
		goto out;
	switch (how) {
	case SEQ_RESOLVE_SENT:
		if ((rc = seq_outbox_move(s->d, o.id, DB_O_HELD, DB_O_SENT,
		                          "resolved: sent", -1, now, err)) ==
		        0 &&
		    (rc = db_message_set_outcome(s->d, o.message_id, "sent", 0,
		                                 "resolved by the user", now,
		                                 err)) == 0 &&
		    (rc = seq_outbox_history(s, &o, &e, "resolved_sent",
		                             "outbox resolve --sent", now,
		                             err)) == 0)
			rc = seq_outbox_advance(s, c, &o, &e, now, err);
		break;
	case SEQ_RESOLVE_RESEND:
		/* the same Message-ID: if the first attempt did arrive, the
		 * recipient's client shows one message */
		if ((rc = seq_outbox_move(s->d, o.id, DB_O_HELD, DB_O_QUEUED,
		                          "resolved: send again", now, now,
		                          err)) == 0)
			rc = seq_outbox_history(
			    s, &o, &e, "resend",
			    "outbox resolve --resend (same Message-ID)", now,
			    err);
		break;
	case SEQ_RESOLVE_DROP:
		if ((rc = seq_outbox_move(s->d, o.id, DB_O_HELD, DB_O_FAILED,
		                          "resolved: dropped", -1, now, err)) ==
		        0 &&
		    (rc = db_enr_set_state(s->d, e.id, DB_ENR_STOPPED,
		                           "a step was dropped (outbox "
		                           "resolve --drop)",
		                           now, err)) == 0)
			rc = seq_outbox_history(s, &o, &e, "resolved_dropped",
			                        "outbox resolve --drop", now,
			                        err);
		break;
	}
	if (rc == 0)
		rc = db_commit(s->d, err);
	else
		db_rollback(s->d);
out:
	db_outbox_free(&o);
	db_enrollment_free(&e);
	return rc;
}

int seq_outbox_act(seq_sched *s, long long outbox_id, seq_outbox_action how,
                   cs_err *err)
{
	int64_t now = cs_clock_now(s->clock);
	bool drop = how == SEQ_OUTBOX_DROP;
	db_ostate from;
	db_outbox o;
	db_enrollment e;
	int rc;

	memset(&e, 0, sizeof e);
	if ((rc = db_outbox_get(s->d, outbox_id, &o, err)) != 0)
		return rc;
	if ((rc = seq_outbox_campaign_row(&o, err)) != 0 ||
	    (rc = db_enr_by_id(s->d, o.enrollment_id, &e, err)) != 0)
		goto out;
	if (o.state != DB_O_QUEUED && !is_held(&o, &e)) {
		rc = cs_err_set(err, CS_ECONFLICT,
		                "outbox row %lld is %s: only a queued or held "
		                "row can be %s",
		                outbox_id, db_ostate_name(o.state),
		                drop ? "dropped" : "retried");
		goto out;
	}
	if (!drop && o.state != DB_O_FAILED &&
	    (rc = sendable_again(s, &o, err)) != 0)
		goto out;
	from = o.state;
	if ((rc = db_begin(s->d, err)) != 0)
		goto out;
	if (from == DB_O_FAILED) {
		/* unsendable: the enrollment holds the step; retry lets the
		 * scheduler compose it afresh (with the data as it is now) */
		rc = drop ? db_enr_set_state(s->d, e.id, DB_ENR_STOPPED,
		                             "a step was dropped (outbox drop)",
		                             now, err)
		          : db_enr_set_state(s->d, e.id, DB_ENR_ACTIVE, NULL,
		                             now, err);
		if (rc == 0 && !drop)
			rc = db_enr_set_due(s->d, e.id, now, now, err);
	} else if (drop) {
		if ((rc = seq_outbox_move(s->d, o.id, from, DB_O_FAILED,
		                          "dropped (outbox drop)", -1, now,
		                          err)) == 0)
			rc = db_enr_set_state(
			    s->d, e.id, DB_ENR_STOPPED,
			    "a step was dropped (outbox drop)", now, err);
	} else {
		/* held: the same Message-ID (see SEQ_RESOLVE_RESEND) */
		rc = seq_outbox_move(s->d, o.id, from, DB_O_QUEUED,
		                     "retry asked (outbox retry)", now, now,
		                     err);
	}
	if (rc == 0)
		rc = seq_outbox_history(s, &o, &e, drop ? "dropped" : "retried",
		                        drop ? "outbox drop" : "outbox retry",
		                        now, err);
	if (rc == 0)
		rc = db_commit(s->d, err);
	else
		db_rollback(s->d);
	if (rc == 0)
		cs_log_info("outbox row %lld (%s, step %d): %s", o.id, e.email,
		            o.step, drop ? "dropped" : "retry asked");
out:
	db_outbox_free(&o);
	db_enrollment_free(&e);
	return rc;
}
