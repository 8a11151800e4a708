/*
 * seq_explain.c - `campaign explain`: when a contact's next step is due
 * and what holds it now, from the same rules a pass applies, and from
 * what the running service recorded that this process cannot see (its
 * watchers and the inboxes' credentials: seq_service_health.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdlib.h>
#include <string.h>

static void when(cs_buf *out, const char *label, int64_t t, const char *tz)
{
	cs_civil c;

	if (cs_tz_civil(tz, t, &c, NULL) == 0)
		cs_buf_printf(out, "%s%04d-%02d-%02d %02d:%02d %s", label,
		              c.year, c.month, c.day, c.hour, c.minute, tz);
}

int seq_inbox_runtime(db *d, long long inbox_id, long service_pid,
                      db_inbox_runtime *rt, cs_err *err)
{
	bool found = false;
	int rc = db_runtime_get(d, inbox_id, rt, &found, err);

	if (rc == 0 && found && (service_pid <= 0 || rt->pid != service_pid))
		db_runtime_free(rt); /* a service that stopped wrote it */
	return rc;
}

/* " since 2026-12-07 17:31 Europe/Paris" (t in the inbox's zone). */
static void since(cs_buf *out, const db_inbox *in, int64_t t)
{
	if (t > 0)
		when(out, " since ", t, in->timezone);
}

bool seq_runtime_watch_text(const db_inbox *in, const db_inbox_runtime *rt,
                            cs_buf *out)
{
	if (rt->watch_state == DB_WATCH_NONE || rt->watch_state == DB_WATCH_OK)
		return false;
	if (rt->watch_state == DB_WATCH_DOWN)
		cs_buf_printf(out, "waiting for the %s watcher: %s", in->name,
		              rt->watch_error ? rt->watch_error : "down");
	else
		cs_buf_printf(
		    out,
		    "waiting for the %s watcher's first sync (replies "
		    "are read before follow-ups go)",
		    in->name);
	since(out, in, rt->watch_since);
	return true;
}

bool seq_runtime_send_text(const db_inbox *in, const db_inbox_runtime *rt,
                           cs_buf *out)
{
	if (rt->send_error == NULL)
		return false;
	cs_buf_printf(out, "the %s inbox cannot send: %s", in->name,
	              rt->send_error);
	since(out, in, rt->send_since);
	return true;
}

/* "holds:    " lines for what the service recorded of ib, for a step
 * that goes from it (a follow-up also waits for its watcher); *held set
 * when any. */
static int runtime_holds(seq_sched *s, const seq_ibox *ib, bool followup,
                         long service_pid, cs_buf *out, bool *held, cs_err *err)
{
	db_inbox_runtime rt;
	cs_buf line = CS_BUF_INIT;
	int rc;

	if ((rc = seq_inbox_runtime(s->d, ib->in.id, service_pid, &rt, err)) !=
	    0)
		return rc;
	if (seq_runtime_send_text(&ib->in, &rt, &line)) {
		cs_buf_printf(out, "holds:    %s\n", cs_buf_str(&line));
		*held = true;
	}
	cs_buf_clear(&line);
	if (followup && seq_runtime_watch_text(&ib->in, &rt, &line)) {
		cs_buf_printf(out, "holds:    %s\n", cs_buf_str(&line));
		*held = true;
	}
	cs_buf_free(&line);
	db_runtime_free(&rt);
	return 0;
}

/* Where the enrollment is in its steps, in the words of its state:
 * e->step is the step it is at (due next, in the outbox, held), or the
 * one after the last it got (completed, stopped). */
static void step_words(cs_buf *out, const db_enrollment *e, size_t nsteps)
{
	int n = (int)nsteps;

	if (e->state == DB_ENR_COMPLETED)
		cs_buf_printf(out, "all %d step%s sent\n", n,
		              n == 1 ? "" : "s");
	else if (e->state == DB_ENR_STOPPED && e->step > n)
		cs_buf_printf(out, "stopped after the last step (%d of %d)\n",
		              n, n);
	else if (e->state == DB_ENR_STOPPED && e->step <= 1)
		cs_buf_printf(out,
		              "stopped before the first step (%d "
		              "steps)\n",
		              n);
	else if (e->state == DB_ENR_STOPPED)
		cs_buf_printf(out,
		              "stopped after step %d of %d (step %d "
		              "not sent)\n",
		              e->step - 1, n, e->step);
	else if (e->state == DB_ENR_QUEUED)
		cs_buf_printf(out, "step %d of %d in the outbox\n", e->step, n);
	else if (e->state == DB_ENR_HELD)
		cs_buf_printf(out, "step %d of %d held\n", e->step, n);
	else
		cs_buf_printf(out, "next step %d of %d\n", e->step, n);
}

int seq_sched_explain(seq_sched *s, const char *campaign, const char *email,
                      long service_pid, cs_buf *out, cs_err *err)
{
	int64_t now = cs_clock_now(s->clock), open, close;
	db_campaign dc;
	db_enrollment e;
	seq_camp *c = NULL;
	seq_ibox *ib;
	const char *zone;
	bool supp = false, held = false;
	cs_buf why = CS_BUF_INIT;
	size_t i;
	int rc;

	memset(&e, 0, sizeof e);
	if ((rc = db_campaign_get(s->d, campaign, &dc, err)) != 0)
		return rc;
	c = seq_find_camp(s, dc.id);
	db_campaign_free(&dc);
	if (c == NULL)
		return cs_err_set(err, CS_ENOTFOUND, "no campaign '%s'",
		                  campaign);
	if ((rc = db_enr_get(s->d, c->c.id, email, &e, err)) != 0)
		return rc;
	zone = seq_contact_zone(c, e.contact_tz);
	cs_buf_printf(out, "contact:  %s (%s)\n", e.email,
	              db_contact_status_name(e.contact_status));
	cs_buf_printf(out, "campaign: %s (%s), ", c->c.name,
	              db_campaign_status_name(c->c.status));
	step_words(out, &e, c->c.nsteps);
	cs_buf_printf(out, "zone:     %s%s\n", zone,
	              strcmp(zone, c->c.timezone) ? " (the contact's)"
	                                          : " (the campaign's)");
	if (e.state == DB_ENR_COMPLETED || e.state == DB_ENR_STOPPED) {
		cs_buf_printf(out, "state:    %s%s%s\n",
		              db_enr_state_name(e.state), e.reason ? ": " : "",
		              e.reason ? e.reason : "");
		goto out;
	}
	if (e.state == DB_ENR_HELD) {
		cs_buf_printf(out, "state:    held: %s\n",
		              e.reason ? e.reason : "");
		/* see try_enrollment; a removed inbox is a tombstone the
		 * scheduler does not load */
		if (e.step > 1 &&
		    (e.inbox_id == 0 || seq_find_inbox(s, e.inbox_id) == NULL))
			cs_buf_puts(out, "          its thread cannot go on: "
			                 "nothing to resume\n");
		else
			cs_buf_printf(out,
			              "          fix the data, then 'coldseq "
			              "campaign resume %s'\n",
			              c->c.name);
		goto out;
	}
	if (e.state == DB_ENR_QUEUED) {
		db_outbox o;
		bool found = false;

		if ((rc = db_outbox_inflight(s->d, e.id, &o, &found, err)) != 0)
			goto out;
		if (!found)
			cs_buf_puts(out,
			            "state:    queued: handed to the outbox\n");
		else {
			cs_buf_printf(out,
			              "state:    queued: outbox row %lld is %s",
			              o.id, db_ostate_name(o.state));
			if (o.state == DB_O_QUEUED && o.due_at > now) {
				when(out, ", not before ", o.due_at, zone);
				held = true;
			}
			if (o.attempts)
				cs_buf_printf(out, " (%d attempt%s)",
				              o.attempts,
				              o.attempts == 1 ? "" : "s");
			cs_buf_putc(out, '\n');
			if (o.state == DB_O_HELD)
				held = true;
			if (o.reason)
				cs_buf_printf(out, "%s    %s\n",
				              o.state == DB_O_HELD ? "holds:"
				                                   : "last: ",
				              o.reason);
			db_outbox_free(&o);
		}
		/* past the scheduler (and the watcher's gate): only what
		 * keeps its inbox from sending holds it now */
		ib = e.inbox_id ? seq_find_inbox(s, e.inbox_id) : NULL;
		if (ib && (rc = runtime_holds(s, ib, false, service_pid, out,
		                              &held, err)) != 0)
			goto out;
		if (ib && !seq_inbox_authorized(&ib->in)) {
			cs_buf_printf(out, "holds:    the inbox is %s\n",
			              db_auth_state_name(ib->in.auth_state));
			held = true;
		} else if (ib && ib->in.status != DB_INBOX_ACTIVE) {
			cs_buf_printf(
			    out, "holds:    the inbox is %s%s%s\n",
			    db_inbox_status_name(ib->in.status),
			    ib->in.paused_reason ? ": " : "",
			    ib->in.paused_reason ? ib->in.paused_reason : "");
			held = true;
		}
		if (service_pid == 0) {
			cs_buf_puts(out, "holds:    the service is not running "
			                 "on this data directory (start it "
			                 "with 'coldseq run')\n");
			held = true;
		}
		if (!held)
			cs_buf_puts(out, "nothing holds it: being sent (see "
			                 "'coldseq outbox')\n");
		goto out;
	}
	when(out, "due:      ", e.due_at, zone);
	cs_buf_puts(out, e.due_at <= now ? " (due now)\n" : "\n");
	if (service_pid == 0) {
		cs_buf_puts(out, "holds:    the service is not running on this "
		                 "data directory (start it with 'coldseq "
		                 "run')\n");
		held = true;
	}
	if (c->c.status != DB_CAMPAIGN_ACTIVE) {
		cs_buf_printf(out, "holds:    the campaign is %s\n",
		              db_campaign_status_name(c->c.status));
		held = true;
	}
	if ((rc = db_is_suppressed(s->d, e.email, &supp, &why, err)) != 0)
		goto out;
	if (supp) {
		cs_buf_printf(out, "holds:    suppressed (%s)\n",
		              cs_buf_str(&why));
		held = true;
	}
	if ((rc = seq_window_next(&c->c, zone, now > e.due_at ? now : e.due_at,
	                          &open, &close, err)) != 0)
		goto out;
	if (open > now && open > e.due_at) {
		when(out, "holds:    outside the window; it opens ", open,
		     zone);
		cs_buf_putc(out, '\n');
		held = true;
	}
	ib = e.inbox_id ? seq_find_inbox(s, e.inbox_id) : NULL;
	if ((e.inbox_id == 0 && e.step > 1) || (e.inbox_id && ib == NULL)) {
		cs_buf_puts(out, "holds:    the inbox that started this thread "
		                 "was removed: no other inbox may send its "
		                 "follow-ups\n");
		held = true;
	} else if (e.inbox_id == 0) {
		bool any = false;

		if ((rc = seq_sched_roll_camp(s, c, now, err)) != 0)
			goto out;
		cs_buf_printf(out,
		              "inbox:    not chosen yet (first step): new "
		              "contacts today %lld of %d\n",
		              c->new_today, c->c.new_per_day);
		if (c->new_today >= c->c.new_per_day) {
			cs_buf_puts(out,
			            "holds:    the campaign's new contacts "
			            "for today are used up\n");
			held = true;
		}
		for (i = 0; i < c->nib; i++) {
			seq_ibox *x = &s->ib[c->ib[i]];
			db_inbox_runtime rt;
			bool bad;

			if ((rc = seq_ibox_roll(s, x, now, err)) != 0 ||
			    (rc = seq_inbox_runtime(s->d, x->in.id, service_pid,
			                            &rt, err)) != 0)
				goto out;
			/* the scheduler may still choose it: say so */
			cs_buf_clear(&why);
			bad = seq_runtime_send_text(&x->in, &rt, &why);
			if (bad)
				cs_buf_printf(out, "note:     %s\n",
				              cs_buf_str(&why));
			db_runtime_free(&rt);
			if (x->active && !seq_limits_ok(x, now)) {
				cs_buf_printf(out, "note:     inbox %s is ",
				              x->in.name);
				seq_limit_text(x->lim_id, x->lim_used,
				               x->lim_max, out);
				when(out, " until ", x->lim_until,
				     x->in.timezone);
				cs_buf_putc(out, '\n');
			}
			any |= seq_ibox_can_send(x, now) && !bad;
		}
		if (!any) {
			cs_buf_puts(out, "holds:    no inbox of the campaign "
			                 "may send now (caps, provider limits, "
			                 "gaps or pauses)\n");
			held = true;
		}
	} else if (ib) {
		if ((rc = seq_ibox_roll(s, ib, now, err)) != 0)
			goto out;
		cs_buf_printf(out,
		              "inbox:    %s (%s): %lld of %d sent today%s\n",
		              ib->in.name, db_inbox_status_name(ib->in.status),
		              ib->camp_today, ib->cap_today,
		              ib->hard ? "" : ", no 24-hour message limit");
		if ((rc = runtime_holds(s, ib, e.step > 1, service_pid, out,
		                        &held, err)) != 0)
			goto out;
		if (!seq_inbox_authorized(&ib->in)) {
			/* OAuth2: pending, or the grant was withdrawn */
			cs_buf_printf(out, "holds:    the inbox is %s: %s\n",
			              db_auth_state_name(ib->in.auth_state),
			              ib->in.auth_reason
			                  ? ib->in.auth_reason
			                  : "run 'coldseq inbox connect "
			                    "--pending'");
			held = true;
		} else if (ib->in.status != DB_INBOX_ACTIVE) {
			cs_buf_printf(
			    out, "holds:    the inbox is %s%s%s\n",
			    db_inbox_status_name(ib->in.status),
			    ib->in.paused_reason ? ": " : "",
			    ib->in.paused_reason ? ib->in.paused_reason : "");
			held = true;
		} else if (ib->camp_today >= ib->cap_today) {
			when(out,
			     "holds:    the inbox's daily cap is reached; "
			     "its next day starts ",
			     ib->day_end, ib->in.timezone);
			cs_buf_putc(out, '\n');
			held = true;
		} else if (!seq_limits_ok(ib, now)) {
			cs_buf_puts(out, "holds:    the inbox is ");
			seq_limit_text(ib->lim_id, ib->lim_used, ib->lim_max,
			               out);
			when(out, " until ", ib->lim_until, ib->in.timezone);
			cs_buf_putc(out, '\n');
			held = true;
		} else if (ib->next_at > now) {
			when(out,
			     "holds:    pacing gap; the inbox may send "
			     "again at ",
			     ib->next_at, ib->in.timezone);
			cs_buf_putc(out, '\n');
			held = true;
		}
		if (ib->in.domain_hourly_cap > 0) {
			const char *at = strrchr(e.email, '@');
			long long n = 0;

			if (at && (rc = db_message_count_domain(
			               s->d, ib->in.id, at + 1, now - 3600000,
			               &n, err)) != 0)
				goto out;
			if (n >= ib->in.domain_hourly_cap) {
				cs_buf_printf(
				    out,
				    "holds:    %s had %lld messages "
				    "from this inbox in the last hour "
				    "(cap %d)\n",
				    at + 1, n, ib->in.domain_hourly_cap);
				held = true;
			}
		}
	}
	if (!held)
		cs_buf_puts(out, e.due_at <= now ? "nothing holds it: it goes "
		                                   "with the next pass\n"
		                                 : "nothing else holds it\n");
out:
	cs_buf_free(&why);
	db_enrollment_free(&e);
	return rc;
}
