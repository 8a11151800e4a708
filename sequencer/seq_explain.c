/*
 * seq_explain.c - `campaign explain`: when a contact's next step is due
 * and what holds it now, from the same rules a pass applies.
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

int seq_sched_explain(seq_sched *s, const char *campaign, const char *email,
                      cs_buf *out, cs_err *err)
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
	cs_buf_printf(out, "contact:  %s (%s)\n", e.email, e.contact_status);
	cs_buf_printf(out, "campaign: %s (%s), step %d of %zu\n", c->c.name,
	              c->c.status, e.step, c->c.nsteps);
	cs_buf_printf(out, "zone:     %s%s\n", zone,
	              strcmp(zone, c->c.timezone) ? " (the contact's)"
	                                          : " (the campaign's)");
	if (strcmp(e.state, "completed") == 0 ||
	    strcmp(e.state, "stopped") == 0) {
		cs_buf_printf(out, "state:    %s%s%s\n", e.state,
		              e.reason ? ": " : "", e.reason ? e.reason : "");
		goto out;
	}
	if (strcmp(e.state, "held") == 0) {
		cs_buf_printf(out, "state:    held: %s\n",
		              e.reason ? e.reason : "");
		if (e.step > 1 && e.inbox_id == 0) /* see try_enrollment */
			cs_buf_puts(out, "          its thread cannot go on: "
			                 "nothing to resume\n");
		else
			cs_buf_printf(out,
			              "          fix the data, then 'coldseq "
			              "campaign resume %s'\n",
			              c->c.name);
		goto out;
	}
	if (strcmp(e.state, "queued") == 0) {
		db_outbox o;
		bool found = false;

		if ((rc = db_outbox_inflight(s->d, e.id, &o, &found, err)) != 0)
			goto out;
		if (!found) {
			cs_buf_puts(out, "state:    queued: handed to the "
			                 "outbox, being sent\n");
			goto out;
		}
		cs_buf_printf(out, "state:    queued: outbox row %lld is %s",
		              o.id, o.state);
		if (strcmp(o.state, "queued") == 0 && o.due_at > now)
			when(out, ", not before ", o.due_at, zone);
		if (o.attempts)
			cs_buf_printf(out, " (%d attempt%s)", o.attempts,
			              o.attempts == 1 ? "" : "s");
		cs_buf_putc(out, '\n');
		if (o.reason)
			cs_buf_printf(out, "%s    %s\n",
			              strcmp(o.state, "held") == 0 ? "holds:"
			                                           : "last: ",
			              o.reason);
		db_outbox_free(&o);
		goto out;
	}
	when(out, "due:      ", e.due_at, zone);
	cs_buf_puts(out, e.due_at <= now ? " (due now)\n" : "\n");
	if (strcmp(c->c.status, "active") != 0) {
		cs_buf_printf(out, "holds:    the campaign is %s\n",
		              c->c.status);
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

			if ((rc = seq_ibox_roll(s, x, now, err)) != 0)
				goto out;
			any |= seq_ibox_can_send(x, now);
		}
		if (!any) {
			cs_buf_puts(out, "holds:    no inbox of the campaign "
			                 "may send now (caps, gaps or "
			                 "pauses)\n");
			held = true;
		}
	} else if (ib) {
		if ((rc = seq_ibox_roll(s, ib, now, err)) != 0)
			goto out;
		cs_buf_printf(
		    out, "inbox:    %s (%s): %lld of %d sent today%s\n",
		    ib->in.name, ib->in.status, ib->camp_today, ib->cap_today,
		    ib->hard ? "" : ", no hard daily total");
		if (!seq_inbox_authorized(&ib->in)) {
			/* OAuth2: pending, or the grant was withdrawn */
			cs_buf_printf(out, "holds:    the inbox is %s: %s\n",
			              ib->in.auth_state,
			              ib->in.auth_reason
			                  ? ib->in.auth_reason
			                  : "run 'coldseq inbox connect "
			                    "--pending'");
			held = true;
		} else if (strcmp(ib->in.status, "active") != 0) {
			cs_buf_printf(
			    out, "holds:    the inbox is %s%s%s\n",
			    ib->in.status, ib->in.paused_reason ? ": " : "",
			    ib->in.paused_reason ? ib->in.paused_reason : "");
			held = true;
		} else if (ib->camp_today >= ib->cap_today ||
		           (ib->hard && ib->total_today >= ib->hard)) {
			when(out,
			     "holds:    the inbox's daily cap is reached; "
			     "its next day starts ",
			     ib->day_end, ib->in.timezone);
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
