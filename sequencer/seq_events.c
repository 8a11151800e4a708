/*
 * seq_events.c - what the watcher's events do to sequences, beyond
 * stopping a contact (seq_contact_stop): auto-replies (stop, or wait past
 * the return date), soft bounces (the step again, later, at most three
 * times) and bounce protection (an inbox whose hard bounces pass a
 * threshold is paused).
 *
 * Called on the thread that owns the database (the loop in the service),
 * inside the watcher's transaction.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOFT_RETRIES   3
#define WINDOW_28_DAYS (28LL * 86400000)

int seq_auto_reply(db *d, const char *email, const char *return_date,
                   int64_t now, cs_err *err)
{
	long long n = 0;
	int64_t until;
	int rc;

	if (email == NULL || *email == '\0')
		return 0;
	/* campaigns that stop on an auto-reply */
	if ((rc = db_enr_stop_auto_reply(d, email, now, &n, err)) != 0)
		return rc;
	if (n)
		cs_log_info("%s auto-replied: %lld enrollment(s) stopped",
		            email, n);
	if (return_date == NULL || *return_date == '\0')
		return 0;
	/* the others wait until the day after the return date */
	if ((rc = cs_time_parse_iso8601(return_date, &until, err)) != 0)
		return rc;
	until += 86400000;
	if (until <= now)
		return 0;
	if ((rc = db_enr_postpone(d, email, until, now, &n, err)) == 0 && n)
		cs_log_info("%s is away until %s: %lld next step(s) wait",
		            email, return_date, n);
	return rc;
}

/* Reasons that say the recipient's side refuses the sender: retrying the
 * same message would only add to the sender's bad reputation. */
static bool policy_reason(const char *r)
{
	static const char *const words[] = {
	    "blocked",       "spamdetected", "policyviolation",
	    "filtered",      "rejected",     "securityerror",
	    "virusdetected", "spam",         NULL};
	int i;

	for (i = 0; r && words[i]; i++)
		if (strcmp(r, words[i]) == 0)
			return true;
	return false;
}

int seq_soft_bounce(db *d, const char *message_id, const char *email,
                    const char *reason, int64_t now, cs_err *err)
{
	db_outbox o;
	long long tries = 0;
	int64_t backoff;
	cs_buf why = CS_BUF_INIT;
	int rc;

	memset(&o, 0, sizeof o);
	if (message_id == NULL)
		return 0;
	if ((rc = db_outbox_by_message_id(d, message_id, &o, err)) != 0)
		return rc == CS_ENOTFOUND ? 0 : rc; /* not a campaign step */
	if (o.state != DB_O_SENT)
		goto out;
	if (policy_reason(reason)) {
		cs_buf_printf(&why,
		              "soft bounce for a policy reason (%s): not "
		              "retried",
		              reason);
		rc = db_enr_set_state(d, o.enrollment_id, DB_ENR_STOPPED,
		                      why.data, now, err);
		goto out;
	}
	if ((rc = db_outbox_count_step(d, o.enrollment_id, o.step, &tries,
	                               err)) != 0)
		goto out;
	if (tries > SOFT_RETRIES) {
		cs_buf_printf(&why, "step %d soft-bounced %lld times", o.step,
		              tries);
		rc = db_enr_set_state(d, o.enrollment_id, DB_ENR_STOPPED,
		                      why.data, now, err);
		goto out;
	}
	/* again, later: 4 h, 16 h, 36 h */
	backoff = tries * tries * 4 * 3600000LL;
	rc = db_enr_rewind(d, o.enrollment_id, o.step, now + backoff, now, err);
	if (rc == 0)
		cs_log_info("%s soft-bounced (%s): step %d again in %lld h",
		            email ? email : "?", reason ? reason : "?", o.step,
		            (long long)(backoff / 3600000));
out:
	cs_buf_free(&why);
	db_outbox_free(&o);
	return rc;
}

int seq_bounce_get(db *d, long long inbox_id, int64_t now,
                   seq_bounce_figure *out, cs_err *err)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->pause_percent = 3;
	out->rate = -1.0;
	if ((rc = db_config_get_int(d, "inbox.bounce_pause_percent",
	                            &out->pause_percent, err)) != 0 ||
	    (rc = db_inbox_bounce_counts(d, inbox_id, now - WINDOW_28_DAYS,
	                                 &out->sends, &out->hard, err)) != 0)
		return rc;
	if (out->sends > 0)
		out->rate = (double)out->hard / (double)out->sends;
	out->warn = out->rate > SEQ_BOUNCE_WARN;
	out->over = out->sends >= SEQ_BOUNCE_MIN_SENDS &&
	            out->hard * 100 > out->pause_percent * out->sends;
	return 0;
}

int seq_bounce_protect(db *d, const db_inbox *in, int64_t now, bool *paused,
                       cs_err *err)
{
	seq_bounce_figure f;
	cs_buf why = CS_BUF_INIT;
	int rc;

	if (paused)
		*paused = false;
	if (in->status != DB_INBOX_ACTIVE)
		return 0;
	if ((rc = seq_bounce_get(d, in->id, now, &f, err)) != 0 || !f.over)
		return rc;
	cs_buf_printf(&why,
	              "hard bounces %lld of %lld campaign sends in 28 days "
	              "(over %lld%%): check the list, then 'coldseq inbox "
	              "resume %s'",
	              f.hard, f.sends, f.pause_percent, in->name);
	rc = db_inbox_set_status(d, in->name, DB_INBOX_PAUSED, why.data, 0, now,
	                         err);
	if (rc == 0) {
		cs_log_warn("inbox %s paused: %s", in->name, why.data);
		if (paused)
			*paused = true;
	}
	cs_buf_free(&why);
	return rc;
}
