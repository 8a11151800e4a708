/*
 * seq_sched.c - the scheduler: given campaigns, contacts, inboxes and the
 * clock, what is due, from which inbox, and when.
 *
 * A pass asks "what may go now?" and "when is the next thing due?"; the
 * caller re-arms one timer for that instant (or, on a simulated clock,
 * jumps to it).  A pass costs a few index probes per ready inbox and per
 * campaign, never a scan of the enrollments.
 *
 * Enrollment life cycle (one contact in one campaign):
 *
 *                 enroll
 *                   |
 *                   v        pass: due, window open, inbox
 *   +---------> [active] ----- ready, rendered ----------> [queued]
 *   |               |  \                                       |
 *   | campaign      |   \ render fails                 sent:   | not the
 *   | resume        |    v                         next step   | last step
 *   +---------- [held]   (reason names the field)   <----------+
 *                   |                                          |
 *    reply, bounce, |                          sent: last step v
 *    unsubscribe,   +-------> [stopped]                  [completed]
 *    suppression    (any state but completed; queued outbox rows of the
 *                    enrollment are dropped)
 *
 *   state      function that enters it          invariant
 *   active     db_campaign_enroll, db_enr_sent   no queued/sending outbox
 *                                                row; due_at = when step
 *                                                may go (window aside)
 *   queued     db_outbox_queue                   exactly one outbox row in
 *                                                queued/sending/deferred/held;
 *                                                inbox_id set (sticky)
 *   held       db_enr_set_state                  reason says what to fix
 *   completed  db_enr_sent                       every step sent once
 *   stopped    db_enr_stop_contact/_company      reason says why
 *
 * Rules: follow-ups before new contacts; a contact's first step goes to
 * the ready inbox with the lowest share of its cap used (one on the
 * contact's provider first with esp_match); later steps stay on that
 * inbox and in its thread; caps are per inbox and local day; the capacity
 * left is spread over the window left, jittered +-30%, never closer than
 * the minimum gap; the provider's rolling limits (seq_limits.c) hold an
 * inbox while they are full and never let a pass plan past them.  The jitter is
 * a hash of (inbox, day, count), not a random draw, so a preview on a copy of
 * the database is what happens.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

/* ---- one candidate ------------------------------------------------------ */

typedef enum try_result {
	TRY_QUEUED,  /* an outbox row was made */
	TRY_MOVED,   /* not now: due_at moved, or the enrollment stopped/held */
	TRY_NO_ROOM, /* no inbox may take it now */
	TRY_DNS,     /* left as it is: its provider's MX is being asked */
} try_result;

/* A deterministic jitter in [-0.3, 0.3] for (inbox, day, count). */
static double jitter(long long inbox_id, const char *day, long long n)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	cs_buf b = CS_BUF_INIT;
	uint32_t x;

	cs_buf_printf(&b, "%lld/%s/%lld", inbox_id, day, n);
	SHA256((const unsigned char *)b.data, b.len, h);
	cs_buf_free(&b);
	x = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 |
	    h[3];
	return ((double)x / 4294967295.0) * 0.6 - 0.3;
}

/* After a message was queued from ib: counts and the next send time. */
static void paced(seq_ibox *ib, int64_t now, int64_t window_close)
{
	long long left = ib->cap_today - ib->camp_today;
	double interval;
	int64_t gap;

	/* the cap's capacity is spread over the window; the provider's
	 * rolling limits only gate (seq_limits_ok), so a window that frees
	 * as it rolls is used as it frees */
	if (left <= 0) {
		ib->next_at = ib->day_end;
		return;
	}
	if (ib->lim_room <= 0) {
		/* a rolling limit is the tighter bound: it gates the next
		 * send (lim_until), which goes as soon as a unit frees */
		ib->next_at = now + ib->min_gap_ms;
		return;
	}
	interval = (double)(window_close - now) / (double)(left + 1);
	gap = (int64_t)(interval *
	                (1.0 + jitter(ib->in.id, ib->day, ib->camp_today)));
	if (gap < ib->min_gap_ms)
		gap = ib->min_gap_ms;
	ib->next_at = now + gap;
}

/* Whether ib is under its per-domain hourly cap for email. */
static int domain_ok(seq_sched *s, seq_ibox *ib, const char *email, int64_t now,
                     bool *ok, cs_err *err)
{
	const char *at = strrchr(email, '@');
	long long n = 0;
	int rc;

	*ok = true;
	if (ib->in.domain_hourly_cap <= 0 || at == NULL)
		return 0;
	if ((rc = db_message_count_domain(s->d, ib->in.id, at + 1,
	                                  now - 3600000, &n, err)) != 0)
		return rc;
	*ok = n < ib->in.domain_hourly_cap;
	return 0;
}

/* Pick the inbox for a contact's first step among the campaign's ready
 * inboxes: the lowest share of the cap used, then the lowest id.  With
 * esp_match, only inboxes on the contact's provider while one of them has
 * capacity left today (the contact waits for it), else any.  *capped says
 * that ready inboxes were passed over for the domain's hourly cap, or
 * because their sending domain is paused or slowed toward the contact's
 * provider (seq_domain_pause.c).  *dns_wait: the contact's provider is not
 * known yet (the service's resolver is asking; the answer wakes the
 * planner), so nothing was picked and the contact waits as it is. */
static int pick_inbox(seq_sched *s, seq_camp *c, const char *email, int64_t now,
                      seq_ibox **out, bool *capped, bool *dns_wait, cs_err *err)
{
	const char *at = strrchr(email, '@');
	seq_esp want = SEQ_ESP_OTHER;
	double best_share = 2.0;
	bool match_left = false;
	size_t i;
	int rc;

	*out = NULL;
	*capped = false;
	*dns_wait = false;
	if (c->c.esp_match && at) {
		if (seq_mx_esp(s->mx, at + 1, &want) == SEQ_MX_PENDING) {
			/* the service's resolver is asking: the contact
			 * waits (it is not "other" yet); the answer wakes
			 * the planner */
			*dns_wait = true;
			return 0;
		}
		for (i = 0; i < c->nib; i++) {
			const seq_ibox *ib = &s->ib[c->ib[i]];

			if (ib->esp == want && ib->active &&
			    ib->camp_today < ib->cap_today &&
			    seq_limits_ok(ib, now))
				match_left = true;
		}
	}
	for (i = 0; i < c->nib; i++) {
		seq_ibox *ib = &s->ib[c->ib[i]];
		double share;
		int64_t held;
		bool ok;

		if (!ib->ready || (match_left && ib->esp != want))
			continue;
		if ((rc = domain_ok(s, ib, email, now, &ok, err)) != 0)
			return rc;
		if (!ok) {
			*capped = true;
			continue;
		}
		if ((rc = seq_domain_pause_hold(s, &ib->in, email, now, &held,
		                                NULL, dns_wait, err)) != 0)
			return rc;
		if (*dns_wait) { /* whether a pause holds it: at the answer */
			*out = NULL;
			*capped = false;
			return 0;
		}
		if (held) {
			*capped = true;
			continue;
		}
		share = ib->cap_today
		            ? (double)ib->camp_today / (double)ib->cap_today
		            : 1.0;
		if (share < best_share) {
			best_share = share;
			*out = ib;
		}
	}
	return 0;
}

void seq_compose_step(seq_compose_in *ci, const seq_camp *c, const seq_ibox *ib,
                      const db_contact *ct, const seq_tsrc *ts,
                      const db_enrollment *e, const char *zone, int64_t now)
{
	memset(ci, 0, sizeof *ci);
	ci->inbox = &ib->in;
	ci->contact = ct;
	ci->template_source = ts->source;
	ci->template_name = ts->name;
	ci->campaign = c->c.name;
	ci->step = e->step;
	ci->contact_tz = zone;
	ci->now = now;
	ci->thread_subject = e->thread_subject;
}

/* Hold e with a reason naming the step and what is missing; the
 * contact's history says so too. */
static int hold(seq_sched *s, const seq_camp *c, const db_enrollment *e,
                const char *why, int64_t now, cs_err *err)
{
	db_history h = {.contact = e->email,
	                .campaign = c->c.name,
	                .action = "held",
	                .detail = why,
	                .step = e->step,
	                .at = now};
	int rc;

	cs_log_warn("held: %s, step %d: %s", e->email, e->step, why);
	if ((rc = db_enr_set_state(s->d, e->id, DB_ENR_HELD, why, now, err)) ==
	    0)
		rc = db_history_add(s->d, &h, err);
	return rc;
}

static try_result try_enrollment(seq_sched *s, seq_camp *c, seq_ibox *sticky,
                                 const db_enrollment *e, int64_t now,
                                 int *rc_out, cs_err *err)
{
	const db_step *step;
	const char *zone = seq_contact_zone(c, e->contact_tz);
	const seq_tsrc *ts;
	seq_ibox *ib = sticky;
	db_contact ct;
	db_outbox o;
	seq_compose_in ci;
	cs_buf why = CS_BUF_INIT, raw = CS_BUF_INIT;
	char *subject = NULL, *refs_last = NULL;
	int64_t open, close;
	long long id, n;
	int rc, variant = 0;
	bool supp = false, ok = true;
	try_result res = TRY_MOVED;

	memset(&ct, 0, sizeof ct);
	*rc_out = 0;
	if (e->step < 1 || (size_t)e->step > c->c.nsteps) {
		rc = db_enr_set_state(s->d, e->id, DB_ENR_COMPLETED, NULL, now,
		                      err);
		goto out;
	}
	step = &c->c.steps[e->step - 1];
	if (e->contact_status != DB_CONTACT_ACTIVE) {
		cs_buf_printf(&why, "contact %s",
		              db_contact_status_name(e->contact_status));
		rc =
		    db_enr_stop_contact(s->d, e->email, why.data, now, &n, err);
		goto out;
	}
	if ((rc = db_is_suppressed(s->d, e->email, &supp, &why, err)) != 0)
		goto out;
	if (supp) {
		cs_buf tmp = CS_BUF_INIT;

		cs_buf_printf(&tmp, "suppressed (%s)", cs_buf_str(&why));
		rc = db_enr_set_state(s->d, e->id, DB_ENR_STOPPED, tmp.data,
		                      now, err);
		cs_buf_free(&tmp);
		goto out;
	}
	if (!cs_tz_valid(zone))
		zone = c->c.timezone;
	if ((rc = seq_window_next(&c->c, zone, now, &open, &close, err)) != 0)
		goto out;
	if (open > now) {
		rc = db_enr_set_due(s->d, e->id, open, now, err);
		goto out;
	}
	if (ib) {
		if ((rc = domain_ok(s, ib, e->email, now, &ok, err)) != 0)
			goto out;
		if (!ok) { /* this domain had its share this hour */
			rc =
			    db_enr_set_due(s->d, e->id, now + 600000, now, err);
			goto out;
		}
	} else if (e->step > 1) {
		/* A later step never goes from another inbox than the
		 * thread's ("Re:" a thread it never sent).  Without its
		 * inbox (removed by a coldseq older than schema 11, which
		 * cut the link; `inbox remove` now keeps a tombstone and
		 * stops the inbox's threads), it is held. */
		rc = hold(s, c, e,
		          "the inbox that started this thread was removed: "
		          "no other inbox may send its follow-ups",
		          now, err);
		goto out;
	} else {
		bool capped, dns_wait;

		if ((rc = pick_inbox(s, c, e->email, now, &ib, &capped,
		                     &dns_wait, err)) != 0)
			goto out;
		if (dns_wait) { /* left as it is until the answer */
			res = TRY_DNS;
			goto out;
		}
		if (ib == NULL && capped) { /* the domain had its share */
			rc =
			    db_enr_set_due(s->d, e->id, now + 600000, now, err);
			goto out;
		}
		if (ib == NULL) {
			res = TRY_NO_ROOM;
			goto out;
		}
	}
	if ((rc = db_contact_get(s->d, e->email, &ct, err)) != 0)
		goto out;
	if ((rc = db_begin(s->d, err)) != 0)
		goto out;
	if ((rc = db_variant_take(s->d, c->c.id, e->step, &variant, err)) !=
	        0 ||
	    (size_t)variant >= step->nvariants ||
	    (rc = seq_tsrc_get(s, step->variants[variant].template_version_id,
	                       &ts, err)) != 0) {
		db_rollback(s->d);
		if (rc == 0)
			rc = cs_err_set(err, CS_EINVAL, "bad variant");
		goto out;
	}
	memset(&o, 0, sizeof o);
	o.enrollment_id = e->id;
	o.inbox_id = ib->in.id;
	o.step = e->step;
	o.variant = variant;
	o.message_id = smtp_new_message_id(ib->in.email);
	if (e->step > 1 && !step->new_thread && e->thread_refs) {
		const char *sp = strrchr(e->thread_refs, ' ');

		refs_last = cs_xstrdup(sp ? sp + 1 : e->thread_refs);
		o.in_reply_to = refs_last;
		o.refs = e->thread_refs;
	}
	/* the whole message, as it will go: what the builder refuses (a
	 * header from the contact's data) holds the step now, like a field
	 * the template cannot render, instead of failing at send time */
	seq_compose_step(&ci, c, ib, &ct, ts, e, zone, now);
	ci.message_id = o.message_id;
	ci.in_reply_to = o.in_reply_to;
	ci.references = o.refs;
	if ((rc = seq_compose(s->d, s->v, &ci, &raw, &subject, err)) != 0) {
		db_rollback(s->d);
		free(o.message_id);
		/* only a refusal of the data (CS_EINVAL) holds the contact;
		 * a failing database or vault is an error of the pass */
		if (rc != CS_EINVAL)
			goto out;
		cs_buf_clear(&why);
		cs_buf_printf(&why, "step %d (%s): %s", e->step, ts->name,
		              err->msg);
		rc = hold(s, c, e, why.data, now, err);
		goto out;
	}
	o.subject = subject;
	o.due_at = now;
	rc = db_outbox_queue(s->d, &o, now, &id, err);
	free(o.message_id);
	if (rc == 0)
		rc = db_commit(s->d, err);
	else
		db_rollback(s->d);
	if (rc)
		goto out;
	ib->camp_today++;
	ib->total_today++;
	ib->ready = false;
	seq_limits_took(s, ib);
	paced(ib, now, close);
	if ((rc = db_inbox_set_next_send(s->d, ib->in.id, ib->next_at, err)) !=
	    0)
		goto out;
	if (e->step == 1)
		c->new_today++;
	res = TRY_QUEUED;
out:
	*rc_out = rc;
	db_contact_free(&ct);
	free(subject);
	free(refs_last);
	cs_buf_free(&why);
	cs_buf_free(&raw);
	return rc ? TRY_NO_ROOM : res;
}

/* ---- a pass ------------------------------------------------------------- */

#define MAX_TRIES 64 /* candidates looked at per inbox or campaign */

int seq_sched_roll_camp(seq_sched *s, seq_camp *c, int64_t now, cs_err *err)
{
	int64_t start;

	if (c->day[0] && now < c->day_end)
		return 0;
	{
		int rc = seq_day_bounds(c->c.timezone, now, c->day, &start,
		                        &c->day_end, err);

		if (rc)
			return rc;
		return db_campaign_new_since(s->d, c->c.id, start,
		                             &c->new_today, err);
	}
}

static int followups(seq_sched *s, seq_ibox *ib, int64_t now, int *queued,
                     cs_err *err)
{
	int64_t after_due = INT64_MIN;
	long long after_id = 0;
	int tries, rc = 0;
	bool found = true;

	if (now < ib->fu_next || ib->gated) /* nothing due yet, or the
	                                     * replies are not read yet */
		return 0;
	for (tries = 0; tries < MAX_TRIES && ib->ready; tries++) {
		db_enrollment e;
		seq_camp *c;
		try_result r;

		if ((rc = db_enr_next_followup(s->d, ib->in.id, now, after_due,
		                               after_id, &e, &found, err)) !=
		        0 ||
		    !found)
			break;
		after_due = e.due_at;
		after_id = e.id;
		c = seq_find_camp(s, e.campaign_id);
		if (c == NULL) { /* created after our last reload */
			db_enrollment_free(&e);
			break;
		}
		r = try_enrollment(s, c, ib, &e, now, &rc, err);
		db_enrollment_free(&e);
		if (rc)
			break;
		if (r == TRY_QUEUED)
			(*queued)++;
	}
	ib->fu_next = 0;
	if (rc == 0 && !found) {
		/* remember when the next one is due: until then, no query */
		db_enrollment e;

		if ((rc = db_enr_next_followup(s->d, ib->in.id, INT64_MAX, now,
		                               LLONG_MAX, &e, &found, err)) !=
		    0)
			return rc;
		ib->fu_next = found ? e.due_at : INT64_MAX;
		if (found)
			db_enrollment_free(&e);
	}
	return rc;
}

static bool any_ready(const seq_sched *s, const seq_camp *c)
{
	size_t i;

	for (i = 0; i < c->nib; i++)
		if (s->ib[c->ib[i]].ready)
			return true;
	return false;
}

static int new_contacts(seq_sched *s, seq_camp *c, int64_t now, int *queued,
                        cs_err *err)
{
	int64_t after_due = INT64_MIN;
	long long after_id = 0;
	int tries, rc;
	bool dns_wait = false;

	if (c->c.status != DB_CAMPAIGN_ACTIVE)
		return 0;
	if ((rc = seq_sched_roll_camp(s, c, now, err)) != 0)
		return rc;
	if (now < c->new_next)
		return 0;
	for (tries = 0; tries < MAX_TRIES; tries++) {
		db_enrollment e;
		bool found;
		try_result r;

		if (c->new_today >= c->c.new_per_day || !any_ready(s, c))
			break;
		if ((rc = db_enr_next_new(s->d, c->c.id, now, after_due,
		                          after_id, &e, &found, err)) != 0)
			break;
		if (!found) {
			rc = db_enr_next_new(s->d, c->c.id, INT64_MAX, now,
			                     LLONG_MAX, &e, &found, err);
			c->new_next = rc == 0 && found ? e.due_at : INT64_MAX;
			if (rc == 0 && found)
				db_enrollment_free(&e);
			/* a contact left for its MX is due still: the
			 * passes until the answer (which wakes the planner)
			 * must look at it again */
			if (dns_wait)
				c->new_next = 0;
			break;
		}
		after_due = e.due_at;
		after_id = e.id;
		r = try_enrollment(s, c, NULL, &e, now, &rc, err);
		db_enrollment_free(&e);
		if (rc)
			break;
		if (r == TRY_QUEUED)
			(*queued)++;
		if (r == TRY_DNS)
			dns_wait = true;
	}
	return rc;
}

static int cmp_share(const void *a, const void *b, void *arg)
{
	const seq_sched *s = arg;
	const seq_ibox *x = &s->ib[*(const size_t *)a];
	const seq_ibox *y = &s->ib[*(const size_t *)b];
	double sx = x->cap_today ? (double)x->camp_today / x->cap_today : 1;
	double sy = y->cap_today ? (double)y->camp_today / y->cap_today : 1;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return x->in.id < y->in.id ? -1 : x->in.id > y->in.id;
}

/* Insertion sort with a context (qsort_r is not C11). */
static void sort_ready(seq_sched *s, size_t *v, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		size_t x = v[i];

		for (j = i; j > 0 && cmp_share(&v[j - 1], &x, s) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* An inbox paused until a time that has passed becomes active again. */
static int resume_due(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err)
{
	int rc;

	if (ib->in.status != DB_INBOX_PAUSED || ib->in.paused_until <= 0 ||
	    now < ib->in.paused_until)
		return 0;
	if ((rc = db_inbox_set_status(s->d, ib->in.name, DB_INBOX_ACTIVE, NULL,
	                              0, now, err)) != 0)
		return rc;
	if (seq_inbox_authorized(&ib->in))
		cs_log_info("inbox %s resumed (pause ended)", ib->in.name);
	else
		cs_log_info("inbox %s: pause ended; it still needs "
		            "reconnecting",
		            ib->in.name);
	ib->in.status = DB_INBOX_ACTIVE;
	ib->active = seq_inbox_authorized(&ib->in);
	free(ib->in.paused_reason);
	ib->in.paused_reason = NULL;
	ib->in.paused_until = 0;
	return 0;
}

static int next_wake(seq_sched *s, int64_t now, int64_t *wake, cs_err *err)
{
	int64_t t = INT64_MAX, next = 0;
	bool found, pending;
	size_t i;
	int rc;

	if ((rc = db_enr_next_due(s->d, now, &next, &found, &pending, err)) !=
	    0)
		return rc;
	if (found)
		t = next;
	if ((rc = db_outbox_next(s->d, &next, &found, err)) != 0)
		return rc;
	if (found && next < t)
		t = next > now ? next : now;
	for (i = 0; i < s->nib; i++) {
		seq_ibox *ib = &s->ib[i];
		int64_t c;

		if (!ib->active && ib->in.paused_until > 0) {
			if (ib->in.paused_until < t)
				t = ib->in.paused_until;
			continue;
		}
		if (!pending || ib->idle || !ib->active)
			continue;
		/* work is waiting: when this inbox may take some */
		if (ib->camp_today >= ib->cap_today)
			c = ib->day_end;
		else if (ib->lim_until > now) /* a provider limit frees */
			c = ib->lim_until > ib->next_at ? ib->lim_until
			                                : ib->next_at;
		else
			c = ib->next_at > now ? ib->next_at : ib->day_end;
		if (c < t)
			t = c;
	}
	*wake = t;
	return 0;
}

int seq_sched_pass(seq_sched *s, int *queued, int64_t *wake, cs_err *err)
{
	int64_t now = cs_clock_now(s->clock);
	size_t *order, nready = 0, i, k;
	int rc = 0;

	*queued = 0;
	/* one transaction (one fsync) per pass; each message a savepoint */
	if ((rc = db_begin(s->d, err)) != 0)
		return rc;
	order = cs_xcalloc(s->nib ? s->nib : 1, sizeof *order);
	for (i = 0; i < s->nib; i++) {
		seq_ibox *ib = &s->ib[i];

		if ((rc = resume_due(s, ib, now, err)) != 0 ||
		    (rc = seq_ibox_roll(s, ib, now, err)) != 0)
			goto out;
		ib->ready = seq_ibox_can_send(ib, now);
		ib->idle = false;
		if (ib->ready)
			order[nready++] = i;
	}
	sort_ready(s, order, nready);
	/* due follow-ups first */
	for (k = 0; k < nready; k++)
		if ((rc = followups(s, &s->ib[order[k]], now, queued, err)) !=
		    0)
			goto out;
	/* then new contacts, the campaigns taking turns to go first */
	for (k = 0; k < s->ncp; k++) {
		seq_camp *c = &s->cp[(s->rr + k) % s->ncp];

		if ((rc = new_contacts(s, c, now, queued, err)) != 0)
			goto out;
	}
	if (s->ncp)
		s->rr = (s->rr + 1) % s->ncp;
	for (k = 0; k < nready; k++)
		if (s->ib[order[k]].ready)
			s->ib[order[k]].idle = true;
	rc = next_wake(s, now, wake, err);
out:
	free(order);
	if (rc == 0)
		return db_commit(s->d, err);
	db_rollback(s->d);
	return rc;
}

void seq_sched_gate(seq_sched *s, long long inbox_id, bool gated)
{
	size_t i;

	if (inbox_id == 0) { /* all, and those loaded later */
		s->gate_new = gated;
		for (i = 0; i < s->nib; i++)
			s->ib[i].gated = gated;
		return;
	}
	for (i = 0; i < s->nib; i++)
		if (s->ib[i].in.id == inbox_id)
			s->ib[i].gated = gated;
}

int seq_contact_stop(db *d, const char *email, db_contact_status status,
                     int64_t now, cs_err *err)
{
	const char *at = strrchr(email, '@');
	long long n = 0, m = 0;
	cs_buf why = CS_BUF_INIT;
	int rc;

	cs_buf_printf(&why, "contact %s", db_contact_status_name(status));
	if ((rc = db_contact_mark(d, email, status, now, err)) == 0)
		rc = db_enr_stop_contact(d, email, why.data, now, &n, err);
	if (rc == 0 && status == DB_CONTACT_REPLIED && at &&
	    !seq_is_freemail(at + 1))
		rc = db_enr_stop_company(d, email, now, &m, err);
	if (rc == 0 && (n || m))
		cs_log_info("%s %s: %lld enrollment(s) stopped, %lld at the "
		            "same company",
		            email, db_contact_status_name(status), n, m);
	cs_buf_free(&why);
	return rc;
}
