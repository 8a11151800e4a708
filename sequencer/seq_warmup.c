/*
 * seq_warmup.c - the warmup planner: each day's plan, the sends, health.
 *
 * Sending side, per enabled inbox and local day (the inbox's zone):
 *   quota(k) = min(max, start + step * (k - 1)), k = 1 on the first day
 *   the inbox sent warmup (calendar days after that; --weekdays-only
 *   plans nothing on Saturday and Sunday).  The quota caps everything the
 *   inbox sends in warmup that day, new messages and replies: the day's
 *   plan holds quota - quota * reply_rate / 100 new messages (at least
 *   one), leaving room for the replies it will owe; at send time a new
 *   message over the quota (or over the inbox's hard cap) is dropped and
 *   a reply waits for the next day.  Times are uniform in 08:00-18:00
 *   (from now when the day is already under way).  Each message goes to
 *   the least-used partner over 7 days among the other enabled inboxes,
 *   preferring another domain, then another provider.
 *
 * Receiving side: seq_warmup_recv.c.
 *
 * Health (once an hour): of an inbox's warmup messages of 7 days that
 * the receivers saw (10 at least), the share first seen in INBOX rather
 * than Junk.  Under config warmup.health_threshold the inbox's campaign
 * sending pauses with that reason (warmup goes on); at or above it
 * again, a pause of that reason is lifted.
 *
 * Nothing in a message says "warmup": the receiver knows the Message-ID
 * from the messages table.  Warmup sends never enter enrollments, replies
 * or campaign stats.
 *
 * The planner plans in warmup_plan; a plan row that is due is queued into
 * the outbox (purpose warmup) and goes from there like every message:
 * seq_warmup_send.c has the warmup purpose's begin, settle and crash
 * resolution, which the dispatcher (seq_dispatch.c) calls.
 *
 * Plan row life cycle (the table: seq_outbox_fsm.c):
 *
 *   [planned] --begin--> [sending] --taken, uncertain, found in Sent--> [sent]
 *     |  ^  |              |   \--refused, lost (not in Sent)------> [failed]
 *     |  |  | reply over   |                                            |
 *     |  |  +-quota: next  +--deferred, inbox failing: planned again,   |
 *     |  |    day          |  a new message in 10 minutes              |
 *     |  +-----------------+                  a receiver saw it: sent <-+
 *     +--disabled, over the quota, its day gone--> [dropped]
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOUR_MS       WU_HOUR_MS
#define DAY_MS        86400000LL
#define WINDOW_FROM_H WU_WINDOW_FROM_H
#define WINDOW_TO_H   18
#define HEALTH_DAYS   7
#define HEALTH_MIN    10 /* seen messages before health may pause */

static uint64_t rnd(void)
{
	return seq_warmup_rnd();
}

uint64_t seq_warmup_rnd(void)
{
	uint64_t v;

	cs_random_bytes(&v, sizeof v);
	return v;
}

/* Uniform in [0, n). */
static int64_t rnd_below(int64_t n)
{
	return n > 0 ? (int64_t)(rnd() % (uint64_t)n) : 0;
}

int seq_warmup_quota(int start, int step, int max, long long day)
{
	long long q = start + (long long)step * (day > 0 ? day - 1 : 0);

	return q > max ? max : (int)q;
}

static long long day_number(const char *day)
{
	int y = 0, m = 0, d = 0;

	if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return 0;
	return cs_days_from_civil(y, m, d);
}

/* The ramp day (1-based) of `day` for settings w. */
long long seq_warmup_ramp_day(const db_warmup *w, const char *day)
{
	if (w->first_day[0] == '\0')
		return 1;
	return day_number(day) - day_number(w->first_day) + 1;
}

typedef seq_wday dayinfo;

int seq_warmup_day(const char *tz, int64_t t, seq_wday *out, cs_err *err)
{
	cs_civil c;
	int rc;

	if ((rc = cs_tz_civil(tz, t, &c, err)) != 0 ||
	    (rc = cs_tz_make(tz, c.year, c.month, c.day, 0, 0, &out->start,
	                     err)) != 0 ||
	    (rc = cs_tz_make(tz, c.year, c.month, c.day + 1, 0, 0, &out->end,
	                     err)) != 0)
		return rc;
	out->wday = c.wday;
	return cs_tz_day(tz, t, out->day, err);
}

static int day_of(const char *tz, int64_t t, dayinfo *out, cs_err *err)
{
	return seq_warmup_day(tz, t, out, err);
}

db_warmup *seq_warmup_find(seq_warmup *w, long long inbox_id)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->w[i].inbox_id == inbox_id)
			return &w->w[i];
	return NULL;
}

/* Messages not recorded as sent (left by a crash, or in flight) that a
 * receiving inbox recorded since the last look: delivered, so sent (one
 * cheap query when no event came in).  A job in flight records its own
 * result afterwards, as usual. */
static int settle_seen(seq_warmup *w, cs_err *err)
{
	long long n = 0;
	int rc;

	rc = db_warmup_settle_seen(w->d, &w->seen_mark, cs_clock_now(w->clock),
	                           &n, err);
	if (rc == 0 && n > 0)
		cs_log_info(
		    "warmup: %lld message(s) not recorded as sent "
		    "(cut off by a crash, or still in flight) were seen "
		    "by a receiving inbox: sent",
		    n);
	return rc;
}

int seq_warmup_open(db *d, cs_clock *clock, seq_warmup **out, cs_err *err)
{
	seq_warmup *w = cs_xcalloc(1, sizeof *w);
	int rc;

	w->d = d;
	w->clock = clock;
	/* sends cut off by a crash that a receiver saw meanwhile (a CLI
	 * sync) are settled now; the others are the service's start-up's */
	if ((rc = settle_seen(w, err)) != 0 ||
	    (rc = seq_warmup_reload(w, err)) != 0) {
		seq_warmup_close(w);
		*out = NULL;
		return rc;
	}
	*out = w;
	return 0;
}

void seq_warmup_close(seq_warmup *w)
{
	if (w == NULL)
		return;
	db_warmup_list_free(w->w, w->n);
	free(w);
}

int seq_warmup_reload(seq_warmup *w, cs_err *err)
{
	db_warmup_list_free(w->w, w->n);
	w->w = NULL;
	w->n = 0;
	w->health_next = 0; /* settings changed: look at health again */
	return db_warmup_list(w->d, &w->w, &w->n, err);
}

/* ---- planning a day ------------------------------------------------------ */

typedef struct partner {
	const db_warmup *w;
	long long load;
} partner;

static int count_partner(const char *to, long long n, void *arg)
{
	partner *p = arg;
	size_t i;

	for (i = 0; p[i].w; i++)
		if (strcasecmp(p[i].w->email, to) == 0)
			p[i].load += n;
	return 0;
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* The least-used partner; another domain, then another provider, wins
 * among those used as much. */
static partner *pick_partner(partner *p, size_t np, const db_warmup *self)
{
	partner *best = NULL;
	double bk = 0;
	size_t i;

	for (i = 0; i < np; i++) {
		double k = (double)p[i].load;

		if (strcasecmp(domain_of(p[i].w->email),
		               domain_of(self->email)) == 0)
			k += 0.5;
		if (p[i].w->provider == self->provider)
			k += 0.25;
		k += (double)rnd_below(1000) / 10000.0;
		if (best == NULL || k < bk) {
			best = &p[i];
			bk = k;
		}
	}
	return best;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int plan_day(seq_warmup *w, const db_warmup *self, const dayinfo *di,
                    int64_t now, cs_err *err)
{
	int64_t from = di->start + WINDOW_FROM_H * HOUR_MS,
	        to = di->start + WINDOW_TO_H * HOUR_MS, *at;
	int quota = seq_warmup_quota(self->start, self->step, self->max,
	                             seq_warmup_ramp_day(self, di->day));
	int nnew = quota - quota * self->reply_rate / 100, i;
	partner *p;
	size_t np = 0, k;
	int rc = 0;

	if (nnew < 1)
		nnew = 1;
	if (from < now)
		from = now;
	if (from >= to)
		return 0; /* the day's window is over: nothing today */
	p = cs_xcalloc(w->n + 1, sizeof *p);
	for (k = 0; k < w->n; k++)
		if (w->w[k].enabled && w->w[k].inbox_id != self->inbox_id)
			p[np++].w = &w->w[k];
	if (np == 0) {
		free(p);
		return 0; /* a pool of one: nobody to write to */
	}
	if ((rc = db_warmup_partner_counts(w->d, self->inbox_id,
	                                   now - HEALTH_DAYS * DAY_MS,
	                                   count_partner, p, err)) != 0) {
		free(p);
		return rc;
	}
	at = cs_xcalloc((size_t)nnew, sizeof *at);
	for (i = 0; i < nnew; i++)
		at[i] = from + rnd_below(to - from);
	qsort(at, (size_t)nnew, sizeof *at, cmp_i64);
	if ((rc = db_begin(w->d, err)) != 0)
		goto out;
	for (i = 0; i < nnew && rc == 0; i++) {
		partner *to_p = pick_partner(p, np, self);
		db_warmup_item it;

		memset(&it, 0, sizeof it);
		it.inbox_id = self->inbox_id;
		memcpy(it.local_day, di->day, sizeof it.local_day);
		it.kind = DB_WARMUP_NEW;
		it.to_addr = to_p->w->email;
		it.due_at = at[i];
		to_p->load++;
		rc = db_warmup_plan_add(w->d, &it, now, NULL, err);
	}
	if (rc == 0)
		rc = db_commit(w->d, err);
	else
		db_rollback(w->d);
	if (rc == 0)
		cs_log_info("warmup: inbox %s day %s (ramp day %lld): quota "
		            "%d, %d new message(s) planned",
		            self->inbox, di->day,
		            seq_warmup_ramp_day(self, di->day), quota, nnew);
out:
	free(at);
	free(p);
	return rc;
}

/* ---- health -------------------------------------------------------------- */

static int health_check(seq_warmup *w, int64_t now, bool *changed, cs_err *err)
{
	long long threshold = 80;
	size_t i;
	int rc;

	if ((rc = db_config_get_int(w->d, "warmup.health_threshold", &threshold,
	                            err)) != 0)
		return rc;
	for (i = 0; i < w->n; i++) {
		const db_warmup *x = &w->w[i];
		long long seen = 0, good = 0;
		bool ours = x->paused_reason &&
		            strncmp(x->paused_reason, "warmup health", 13) == 0;
		cs_buf why = CS_BUF_INIT;

		if (!x->enabled)
			continue;
		if ((rc = db_warmup_health(w->d, x->inbox_id,
		                           now - HEALTH_DAYS * DAY_MS, &seen,
		                           &good, err)) != 0)
			return rc;
		if (seen < HEALTH_MIN)
			continue;
		if (good * 100 < threshold * seen &&
		    x->status == DB_INBOX_ACTIVE) {
			cs_buf_printf(
			    &why,
			    "warmup health %lld%% (%lld of %lld warmup "
			    "messages in INBOX over 7 days; below "
			    "%lld%%)",
			    good * 100 / seen, good, seen, threshold);
			rc =
			    db_inbox_set_status(w->d, x->inbox, DB_INBOX_PAUSED,
			                        cs_buf_str(&why), 0, now, err);
			if (rc == 0)
				cs_log_warn("inbox %s: campaigns paused: %s",
				            x->inbox, cs_buf_str(&why));
			*changed = true;
		} else if (good * 100 >= threshold * seen && ours &&
		           x->status == DB_INBOX_PAUSED) {
			rc = db_inbox_set_status(
			    w->d, x->inbox, DB_INBOX_ACTIVE, NULL, 0, now, err);
			if (rc == 0)
				cs_log_info("inbox %s: warmup health %lld%%: "
				            "campaigns resume",
				            x->inbox, good * 100 / seen);
			*changed = true;
		}
		cs_buf_free(&why);
		if (rc)
			return rc;
	}
	if (*changed)
		rc = seq_warmup_reload(w, err);
	return rc;
}

int seq_warmup_pass(seq_warmup *w, int64_t *next_wake, bool *changed,
                    cs_err *err)
{
	int64_t now = cs_clock_now(w->clock), due;
	bool found = false;
	size_t i;
	int rc;

	*next_wake = INT64_MAX;
	*changed = false;
	if ((rc = settle_seen(w, err)) != 0)
		return rc;
	for (i = 0; i < w->n; i++) {
		const db_warmup *x = &w->w[i];
		long long have = 0;
		dayinfo di;

		if (!x->enabled)
			continue;
		if ((rc = day_of(x->timezone, now, &di, err)) != 0)
			return rc;
		if (di.end < *next_wake)
			*next_wake = di.end; /* tomorrow is planned then */
		if (x->weekdays_only && (di.wday == 0 || di.wday == 6))
			continue;
		if ((rc = db_warmup_plan_count(w->d, x->inbox_id, di.day,
		                               DB_WARMUP_NEW, &have, err)) != 0)
			return rc;
		if (have == 0 && (rc = plan_day(w, x, &di, now, err)) != 0)
			return rc;
	}
	if (w->n && now >= w->health_next) {
		if ((rc = health_check(w, now, changed, err)) != 0)
			return rc;
		w->health_next = now + HOUR_MS;
	}
	if (w->n && w->health_next < *next_wake)
		*next_wake = w->health_next;
	if ((rc = db_warmup_next_due(w->d, &due, &found, err)) != 0)
		return rc;
	if (found && due < *next_wake)
		*next_wake = due;
	return 0;
}
