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
 * the minimum gap.  The jitter is a hash of (inbox, day, count), not a
 * random draw, so a preview on a copy of the database is what happens.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

seq_ibox *seq_find_inbox(seq_sched *s, long long id)
{
	size_t lo = 0, hi = s->nib;

	while (lo < hi) { /* ib is ordered by id */
		size_t mid = (lo + hi) / 2;

		if (s->ib[mid].in.id == id)
			return &s->ib[mid];
		if (s->ib[mid].in.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

seq_camp *seq_find_camp(seq_sched *s, long long id)
{
	size_t i;

	for (i = 0; i < s->ncp; i++)
		if (s->cp[i].c.id == id)
			return &s->cp[i];
	return NULL;
}

const char *seq_contact_zone(const seq_camp *c, const char *contact_tz)
{
	if (c->c.contact_tz && contact_tz && *contact_tz)
		return contact_tz;
	return c->c.timezone;
}

int seq_tsrc_get(seq_sched *s, long long version_id, const seq_tsrc **out,
                 cs_err *err)
{
	db_template t;
	size_t i;
	int rc;

	for (i = 0; i < s->nts; i++)
		if (s->ts[i].version_id == version_id) {
			*out = &s->ts[i];
			return 0;
		}
	if ((rc = db_template_by_version(s->d, version_id, &t, err)) != 0)
		return rc;
	s->ts = cs_xrealloc(s->ts, (s->nts + 1) * sizeof *s->ts);
	s->ts[s->nts].version_id = version_id;
	s->ts[s->nts].name = t.name;
	s->ts[s->nts].source = t.source;
	t.name = t.source = NULL;
	db_template_free(&t);
	*out = &s->ts[s->nts++];
	return 0;
}

int seq_inbox_hard_cap(const db_inbox *in)
{
	const char *at = strrchr(in->email, '@');

	if (in->hard_cap > 0)
		return in->hard_cap;
	if (strcmp(in->provider, "google") == 0)
		return at && (strcasecmp(at + 1, "gmail.com") == 0 ||
		              strcasecmp(at + 1, "googlemail.com") == 0)
		           ? 500
		           : 2000;
	if (strcmp(in->provider, "microsoft") == 0)
		return 10000;
	return 0;
}

/* Midnight at the start of t's local day. */
static int day_bounds(const char *tz, int64_t t, char day[11], int64_t *start,
                      int64_t *end, cs_err *err)
{
	cs_civil c;
	int rc;

	if ((rc = cs_tz_civil(tz, t, &c, err)) != 0 ||
	    (rc = cs_tz_make(tz, c.year, c.month, c.day, 0, 0, start, err)) !=
	        0 ||
	    (rc = cs_tz_make(tz, c.year, c.month, c.day + 1, 0, 0, end, err)) !=
	        0)
		return rc;
	return cs_tz_day(tz, t, day, err);
}

int seq_inbox_day_get(db *d, const db_inbox *in, int64_t now,
                      seq_inbox_day *out, cs_err *err)
{
	int64_t first = 0, fstart, fend;
	bool found = false;
	char fday[11];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = day_bounds(in->timezone, now, out->day, &out->start,
	                     &out->end, err)) != 0 ||
	    (rc = db_message_count_caps(d, in->id, out->day, &out->campaign,
	                                &out->total, err)) != 0)
		return rc;
	out->cap = in->daily_cap;
	out->hard = seq_inbox_hard_cap(in);
	if (in->ramp_start > 0) {
		long long days = 0, cap;

		if ((rc = db_message_first_at(d, in->id, &first, &found,
		                              err)) != 0)
			return rc;
		if (found) {
			if ((rc = day_bounds(in->timezone, first, fday, &fstart,
			                     &fend, err)) != 0)
				return rc;
			days = (out->start - fstart + 43200000) / 86400000;
		}
		cap = in->ramp_start + (long long)in->ramp_step * days;
		if (cap < out->cap)
			out->cap = (int)cap;
	}
	return 0;
}

int seq_ibox_roll(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err)
{
	seq_inbox_day t;
	int rc;

	if (ib->day[0] && now >= ib->day_start && now < ib->day_end)
		return 0;
	if ((rc = seq_inbox_day_get(s->d, &ib->in, now, &t, err)) != 0)
		return rc;
	memcpy(ib->day, t.day, sizeof ib->day);
	ib->day_start = t.start;
	ib->day_end = t.end;
	ib->camp_today = t.campaign;
	ib->total_today = t.total;
	ib->cap_today = t.cap;
	ib->hard = t.hard;
	/* bounce protection, once a day: the sends grew, the rate moved */
	if (ib->active) {
		bool paused = false;

		if ((rc = seq_bounce_protect(s->d, &ib->in, now, &paused,
		                             err)) != 0)
			return rc;
		if (paused) {
			db_inbox fresh;

			if ((rc = db_inbox_get(s->d, ib->in.name, &fresh,
			                       err)) != 0)
				return rc;
			db_inbox_free(&ib->in);
			ib->in = fresh;
			ib->active = false;
		}
	}
	return 0;
}

bool seq_ibox_can_send(const seq_ibox *ib, int64_t now)
{
	return ib->active && ib->camp_today < ib->cap_today &&
	       (ib->hard == 0 || ib->total_today < ib->hard) &&
	       ib->next_at <= now;
}

/* ---- loading --------------------------------------------------------- */

static void free_state(seq_sched *s)
{
	size_t i;

	for (i = 0; i < s->ncp; i++) {
		db_campaign_free(&s->cp[i].c);
		free(s->cp[i].ib);
	}
	free(s->cp);
	s->cp = NULL;
	s->ncp = 0;
	for (i = 0; i < s->nts; i++) {
		free(s->ts[i].name);
		free(s->ts[i].source);
	}
	free(s->ts);
	s->ts = NULL;
	s->nts = 0;
}

static bool selected(const seq_ibox *ib, const char *selectors)
{
	const char *p = selectors;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n == 3 && strncmp(p, "all", 3) == 0)
			return true;
		if (n > 4 && strncmp(p, "tag:", 4) == 0) {
			size_t t;

			for (t = 0; t < ib->in.ntags; t++)
				if (strlen(ib->in.tags[t]) == n - 4 &&
				    strncasecmp(ib->in.tags[t], p + 4, n - 4) ==
				        0)
					return true;
		} else if (strlen(ib->in.name) == n &&
		           strncasecmp(ib->in.name, p, n) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static int cmp_ibox(const void *a, const void *b)
{
	const seq_ibox *x = a, *y = b;

	return x->in.id < y->in.id ? -1 : x->in.id > y->in.id;
}

int seq_sched_reload(seq_sched *s, cs_err *err)
{
	db_inbox *list = NULL;
	db_campaign *camps = NULL;
	seq_ibox *old = s->ib;
	size_t n = 0, nc = 0, i, j, nold = s->nib;
	cs_buf tz = CS_BUF_INIT, map = CS_BUF_INIT;
	long long gap = 120;
	int64_t now = cs_clock_now(s->clock);
	int rc;

	if ((rc = db_config_get(s->d, "general.timezone", &tz, NULL, err)) !=
	        0 ||
	    (rc = db_config_get_int(s->d, "inbox.min_interval", &gap, err)) !=
	        0 ||
	    (rc = db_config_get(s->d, "dns.mx_map", &map, NULL, err)) != 0)
		goto out;
	seq_mx_free(s->mx);
	s->mx = NULL;
	if ((rc = seq_mx_new(map.data, 3000, &s->mx, err)) != 0)
		goto out;
	free(s->default_tz);
	s->default_tz = cs_buf_detach(&tz, NULL);
	s->min_gap_ms = gap * 1000;
	if ((rc = db_inbox_list(s->d, NULL, &list, &n, err)) != 0 ||
	    (rc = db_campaign_list(s->d, &camps, &nc, err)) != 0)
		goto out;
	/* inboxes: keep each one's pacing and counts across a reload */
	s->ib = cs_xcalloc(n ? n : 1, sizeof *s->ib);
	s->nib = n;
	for (i = 0; i < n; i++) {
		seq_ibox *ib = &s->ib[i];

		ib->in = list[i];
		/* pacing survives restarts; a time more than a day ahead was
		 * set by a simulated clock and means nothing now */
		ib->next_at = ib->in.next_send_at <= now + 86400000
		                  ? ib->in.next_send_at
		                  : 0;
		ib->gated = s->gate_new;
		for (j = 0; j < nold; j++)
			if (old[j].in.id == ib->in.id) {
				ib->next_at = old[j].next_at;
				ib->gated = old[j].gated;
				break;
			}
		ib->active = strcmp(ib->in.status, "active") == 0 &&
		             seq_inbox_authorized(&ib->in);
		ib->min_gap_ms = ib->in.min_gap > 0
		                     ? (int64_t)ib->in.min_gap * 1000
		                     : s->min_gap_ms;
		ib->esp = strcmp(ib->in.provider, "google") == 0
		              ? SEQ_ESP_GOOGLE
		          : strcmp(ib->in.provider, "microsoft") == 0
		              ? SEQ_ESP_MICROSOFT
		              : SEQ_ESP_OTHER;
	}
	free(list); /* the structs moved into s->ib */
	list = NULL;
	n = 0;
	qsort(s->ib, s->nib, sizeof *s->ib, cmp_ibox);
	for (j = 0; j < nold; j++)
		db_inbox_free(&old[j].in);
	free(old);
	free_state(s);
	s->cp = cs_xcalloc(nc ? nc : 1, sizeof *s->cp);
	s->ncp = nc;
	for (i = 0; i < nc; i++) {
		seq_camp *c = &s->cp[i];

		c->c = camps[i];
		for (j = 0; j < s->nib; j++)
			if (selected(&s->ib[j], c->c.inboxes)) {
				c->ib = cs_xrealloc(c->ib, (c->nib + 1) *
				                               sizeof *c->ib);
				c->ib[c->nib++] = j;
			}
	}
	free(camps);
	camps = NULL;
	nc = 0;
out:
	db_inbox_list_free(list, n);
	db_campaign_list_free(camps, nc);
	cs_buf_free(&tz);
	cs_buf_free(&map);
	return rc;
}

int seq_sched_open(db *d, cs_vault *v, cs_clock *clock, seq_sched **out,
                   cs_err *err)
{
	seq_sched *s = cs_xcalloc(1, sizeof *s);
	int rc;

	s->d = d;
	s->v = v;
	s->clock = clock;
	if ((rc = seq_sched_reload(s, err)) != 0) {
		seq_sched_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void seq_sched_close(seq_sched *s)
{
	size_t i;

	if (s == NULL)
		return;
	free_state(s);
	for (i = 0; i < s->nib; i++)
		db_inbox_free(&s->ib[i].in);
	free(s->ib);
	seq_mx_free(s->mx);
	free(s->default_tz);
	free(s);
}

/* ---- one candidate ------------------------------------------------------ */

typedef enum try_result {
	TRY_QUEUED,  /* an outbox row was made */
	TRY_MOVED,   /* not now: due_at moved, or the enrollment stopped/held */
	TRY_NO_ROOM, /* no inbox may take it now */
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

	if (ib->hard && ib->hard - ib->total_today < left)
		left = ib->hard - ib->total_today;
	if (left <= 0) {
		ib->next_at = ib->day_end;
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
 * that ready inboxes were passed over for the domain's hourly cap. */
static int pick_inbox(seq_sched *s, seq_camp *c, const char *email, int64_t now,
                      seq_ibox **out, bool *capped, cs_err *err)
{
	const char *at = strrchr(email, '@');
	seq_esp want = SEQ_ESP_OTHER;
	double best_share = 2.0;
	bool match_left = false;
	size_t i;
	int rc;

	*out = NULL;
	*capped = false;
	if (c->c.esp_match && at) {
		want = seq_mx_provider(s->mx, at + 1);
		for (i = 0; i < c->nib; i++) {
			const seq_ibox *ib = &s->ib[c->ib[i]];

			if (ib->esp == want && ib->active &&
			    ib->camp_today < ib->cap_today &&
			    (ib->hard == 0 || ib->total_today < ib->hard))
				match_left = true;
		}
	}
	for (i = 0; i < c->nib; i++) {
		seq_ibox *ib = &s->ib[c->ib[i]];
		double share;
		bool ok;

		if (!ib->ready || (match_left && ib->esp != want))
			continue;
		if ((rc = domain_ok(s, ib, email, now, &ok, err)) != 0)
			return rc;
		if (!ok) {
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

/* Hold e with a reason naming the step and what is missing. */
static int hold(seq_sched *s, const db_enrollment *e, const char *why,
                int64_t now, cs_err *err)
{
	cs_log_warn("held: %s, step %d: %s", e->email, e->step, why);
	return db_enr_set_state(s->d, e->id, "held", why, now, err);
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
	cs_buf why = CS_BUF_INIT;
	char *subject = NULL, *refs_last = NULL;
	int64_t open, close;
	long long id, n;
	int rc, variant = 0;
	bool supp = false, ok = true;
	try_result res = TRY_MOVED;

	memset(&ct, 0, sizeof ct);
	*rc_out = 0;
	if (e->step < 1 || (size_t)e->step > c->c.nsteps) {
		rc = db_enr_set_state(s->d, e->id, "completed", NULL, now, err);
		goto out;
	}
	step = &c->c.steps[e->step - 1];
	if (strcmp(e->contact_status, "active") != 0) {
		cs_buf_printf(&why, "contact %s", e->contact_status);
		rc =
		    db_enr_stop_contact(s->d, e->email, why.data, now, &n, err);
		goto out;
	}
	if ((rc = db_is_suppressed(s->d, e->email, &supp, &why, err)) != 0)
		goto out;
	if (supp) {
		cs_buf tmp = CS_BUF_INIT;

		cs_buf_printf(&tmp, "suppressed (%s)", cs_buf_str(&why));
		rc = db_enr_set_state(s->d, e->id, "stopped", tmp.data, now,
		                      err);
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
	} else {
		bool capped;

		if ((rc = pick_inbox(s, c, e->email, now, &ib, &capped, err)) !=
		    0)
			goto out;
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
	seq_compose_step(&ci, c, ib, &ct, ts, e, zone, now);
	if (seq_compose(s->d, s->v, &ci, NULL, &subject, err) != 0) {
		db_rollback(s->d);
		cs_buf_clear(&why);
		cs_buf_printf(&why, "step %d (%s): %s", e->step, ts->name,
		              err->msg);
		rc = hold(s, e, why.data, now, err);
		goto out;
	}
	memset(&o, 0, sizeof o);
	o.enrollment_id = e->id;
	o.inbox_id = ib->in.id;
	o.step = e->step;
	o.variant = variant;
	o.message_id = smtp_new_message_id(ib->in.email);
	o.subject = subject;
	if (e->step > 1 && !step->new_thread && e->thread_refs) {
		const char *sp = strrchr(e->thread_refs, ' ');

		refs_last = cs_xstrdup(sp ? sp + 1 : e->thread_refs);
		o.in_reply_to = refs_last;
		o.refs = e->thread_refs;
	}
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
		int rc = day_bounds(c->c.timezone, now, c->day, &start,
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

	if (strcmp(c->c.status, "active") != 0)
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

	if (strcmp(ib->in.status, "paused") != 0 || ib->in.paused_until <= 0 ||
	    now < ib->in.paused_until)
		return 0;
	if ((rc = db_inbox_set_status(s->d, ib->in.name, "active", NULL, 0, now,
	                              err)) != 0)
		return rc;
	if (seq_inbox_authorized(&ib->in))
		cs_log_info("inbox %s resumed (pause ended)", ib->in.name);
	else
		cs_log_info("inbox %s: pause ended; it still needs "
		            "reconnecting",
		            ib->in.name);
	free(ib->in.status);
	ib->in.status = cs_xstrdup("active");
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
		if (ib->camp_today >= ib->cap_today ||
		    (ib->hard && ib->total_today >= ib->hard))
			c = ib->day_end;
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

int seq_contact_stop(db *d, const char *email, const char *status, int64_t now,
                     cs_err *err)
{
	const char *at = strrchr(email, '@');
	long long n = 0, m = 0;
	cs_buf why = CS_BUF_INIT;
	int rc;

	cs_buf_printf(&why, "contact %s", status);
	if ((rc = db_contact_mark(d, email, status, now, err)) == 0)
		rc = db_enr_stop_contact(d, email, why.data, now, &n, err);
	if (rc == 0 && strcmp(status, "replied") == 0 && at &&
	    !seq_is_freemail(at + 1))
		rc = db_enr_stop_company(d, email, now, &m, err);
	if (rc == 0 && (n || m))
		cs_log_info("%s %s: %lld enrollment(s) stopped, %lld at the "
		            "same company",
		            email, status, n, m);
	cs_buf_free(&why);
	return rc;
}
