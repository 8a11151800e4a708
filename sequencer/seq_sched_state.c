/*
 * seq_sched_state.c - what the scheduler knows between passes: inboxes
 * with their local day, counts and caps (ramp; provider limits through
 * seq_limits.c), the
 * campaigns with the inboxes their selectors name, template sources; and
 * loading it all (open, reload after a CLI change, close).
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
	long long v[CS_LIM_COUNT];

	cs_limits_preset(in->provider, in->email, in->trial, v);
	if (cs_limits_override(in->limits, v, NULL) != 0)
		return 0;
	return (int)v[CS_LIM_MESSAGES_24H];
}

/* Midnight at the start of t's local day. */
int seq_day_bounds(const char *tz, int64_t t, char day[11], int64_t *start,
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
	if ((rc = seq_day_bounds(in->timezone, now, out->day, &out->start,
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
			if ((rc = seq_day_bounds(in->timezone, first, fday,
			                         &fstart, &fend, err)) != 0)
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
		return seq_limits_update(s, ib, now, err);
	ib->lim_fresh = false; /* a new day: the limits are counted again */
	if ((rc = seq_inbox_day_get(s->d, &ib->in, now, &t, err)) != 0 ||
	    (rc = seq_limits_update(s, ib, now, err)) != 0)
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
	       seq_limits_ok(ib, now) && ib->next_at <= now;
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
	return seq_inbox_selected(&ib->in, selectors);
}

bool seq_inbox_selected(const db_inbox *in, const char *selectors)
{
	const char *p = selectors;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n == 3 && strncmp(p, "all", 3) == 0)
			return true;
		if (n > 4 && strncmp(p, "tag:", 4) == 0) {
			size_t t;

			for (t = 0; t < in->ntags; t++)
				if (strlen(in->tags[t]) == n - 4 &&
				    strncasecmp(in->tags[t], p + 4, n - 4) == 0)
					return true;
		} else if (strlen(in->name) == n &&
		           strncasecmp(in->name, p, n) == 0)
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
	rc = s->mx ? seq_mx_load_map(s->mx, map.data, err)
	           : seq_mx_new(map.data, &s->mx, err);
	if (rc != 0)
		goto out;
	if (!s->dns_shared) {
		/* a private resolver, asked blocking (CLI paths, simulated
		 * runs), from the config as it is now */
		seq_mx_set_dns(s->mx, NULL, false, NULL, NULL);
		net_dns_free(s->dns);
		s->dns = NULL;
		if ((rc = seq_dns_open(s->d, NULL, &s->dns, err)) != 0)
			goto out;
		seq_mx_set_dns(s->mx, s->dns, false, NULL, NULL);
	}
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
				ib->backoff_until = old[j].backoff_until;
				ib->backoff_last = old[j].backoff_last;
				ib->backoff_gap = old[j].backoff_gap;
				ib->last_sent = old[j].last_sent;
				ib->backoffs = old[j].backoffs;
				memcpy(ib->backoff_why, old[j].backoff_why,
				       sizeof ib->backoff_why);
				break;
			}
		ib->active = ib->in.status == DB_INBOX_ACTIVE &&
		             seq_inbox_authorized(&ib->in);
		ib->min_gap_ms = ib->in.min_gap > 0
		                     ? (int64_t)ib->in.min_gap * 1000
		                     : s->min_gap_ms;
		ib->esp = (seq_esp)ib->in.provider;
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
	if (!s->dns_shared)
		net_dns_free(s->dns);
	seq_mx_free(s->mx);
	free(s->default_tz);
	free(s);
}

void seq_sched_use_dns(seq_sched *s, net_dns *dns, void (*wake)(void *arg),
                       void *arg)
{
	if (!s->dns_shared)
		net_dns_free(s->dns);
	s->dns = dns;
	s->dns_shared = true;
	seq_mx_set_dns(s->mx, dns, true, wake, arg);
}
