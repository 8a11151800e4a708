/*
 * seq_limits.c - the provider limits as the scheduler holds them: which
 * are in force for an inbox (the provider table, its overrides, its
 * tenant), and a cheap in-memory estimate of how many more sends they
 * allow, so a pass plans no send the provider would refuse without a
 * query per candidate.
 *
 * The estimate is conservative: lim_room is counted from the database
 * (messages, later attempts, sends outside coldseq and the inbox's queued
 * outbox rows, db_limit_count) and only goes down as sends are queued;
 * time passing only frees units, so the true room is never smaller.  It
 * is counted again when the inbox is first seen, on a new local day,
 * when the room runs out, when a message recorded (by any process) leaves
 * a limit with no room, and when the time the limits were full until
 * passes.  The authoritative
 * check is db_message_add_capped's, in the write transaction that records
 * the message (seq_limits_refused takes its answer back).
 *
 * Microsoft's 30 messages a minute hold whatever the caps and the
 * catch-up after downtime: the scheduler queues at most one message per
 * inbox per pass (and paces them), and the record before DATA counts a
 * minute by when the server can have seen each message (db_limits.c), so
 * a backlog dispatched at once is refused past the 30th until the first
 * ones settle and a minute has gone by.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

int seq_limits_of(db *d, const db_inbox *in, long long out[CS_LIM_COUNT],
                  cs_err *err)
{
	int rc;

	cs_limits_preset(in->provider, in->email, in->trial, out);
	if (cs_limits_override(in->limits, out, err) != 0)
		return cs_err_prefix(err, "inbox '%s' limits", in->name);
	if (out[CS_LIM_TENANT_EXTERNAL_24H] == CS_LIM_FROM_TENANT) {
		db_tenant t;
		bool found = false;

		memset(&t, 0, sizeof t);
		if (in->tenant &&
		    (rc = db_tenant_get(d, in->tenant, &t, &found, err)) != 0)
			return rc;
		out[CS_LIM_TENANT_EXTERNAL_24H] =
		    cs_limit_tenant_external(t.licences, t.external_limit);
		db_tenant_free(&t);
	}
	return 0;
}

int seq_limits_caps(db *d, const db_inbox *in, db_caps *caps, cs_err *err)
{
	caps->tenant = in->tenant;
	return seq_limits_of(d, in, caps->lim, err);
}

static int count_all(db *d, const db_inbox *in, const long long *lim,
                     int64_t now, bool queued, seq_limits *out, cs_err *err)
{
	int i, rc;

	memset(out, 0, sizeof *out);
	for (i = 0; i < CS_LIM_COUNT; i++) {
		const cs_limit_kind *k = cs_limit_kind_get((cs_limit_id)i);
		seq_limit_now *v;
		db_limit_use u;

		if (lim[i] <= 0 || k->what == CS_COUNT_PER_MESSAGE)
			continue;
		if ((rc = db_limit_count(d, in->id, in->tenant, k, lim[i], now,
		                         queued, &u, err)) != 0)
			return rc;
		v = &out->v[out->n++];
		v->id = (cs_limit_id)i;
		v->used = u.used;
		v->max = lim[i];
		v->frees_at = u.frees_at;
	}
	return 0;
}

int seq_limits_get(db *d, const db_inbox *in, int64_t now, seq_limits *out,
                   cs_err *err)
{
	long long lim[CS_LIM_COUNT];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = seq_limits_of(d, in, lim, err)) != 0)
		return rc;
	return count_all(d, in, lim, now, false, out, err);
}

void seq_limit_text(cs_limit_id id, long long used, long long max, cs_buf *b)
{
	const cs_limit_kind *k = cs_limit_kind_get(id);

	if (k == NULL)
		return;
	cs_buf_printf(b, "at the provider's %s limit (%s %lld/%lld)", k->label,
	              k->name, used, max);
}

static int recount(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err)
{
	seq_limits l;
	size_t i;
	int rc;

	if ((rc = seq_limits_of(s->d, &ib->in, ib->lim, err)) != 0 ||
	    (rc = count_all(s->d, &ib->in, ib->lim, now, true, &l, err)) != 0)
		return rc;
	ib->lim_room = LLONG_MAX;
	ib->lim_until = 0;
	for (i = 0; i < l.n; i++) {
		const seq_limit_now *v = &l.v[i];
		long long room = v->max - v->used;

		if (room < ib->lim_room)
			ib->lim_room = room;
		if (room > 0)
			continue;
		/* full: every full limit must free a unit first */
		if (v->frees_at > ib->lim_until || ib->lim_until == 0) {
			ib->lim_until =
			    v->frees_at > now ? v->frees_at : now + 60000;
			ib->lim_id = v->id;
			ib->lim_used = v->used;
			ib->lim_max = v->max;
		}
	}
	ib->hard = (int)ib->lim[CS_LIM_MESSAGES_24H];
	ib->lim_fresh = true;
	return 0;
}

int seq_limits_update(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err)
{
	if (ib->lim_fresh && ib->lim_room > 0 && ib->lim_until == 0)
		return 0;
	if (ib->lim_fresh && ib->lim_until > now)
		return 0; /* full until then: nothing to count */
	return recount(s, ib, now, err);
}

void seq_limits_took(seq_sched *s, seq_ibox *ib)
{
	size_t i;

	if (ib->lim_room != LLONG_MAX && --ib->lim_room <= 0)
		ib->lim_fresh = false;
	if (ib->in.tenant == NULL || ib->lim[CS_LIM_TENANT_EXTERNAL_24H] <= 0)
		return;
	/* the tenant's counter is shared: its other inboxes have one unit
	 * less too (their room may be another limit's: recount when out) */
	for (i = 0; i < s->nib; i++) {
		seq_ibox *o = &s->ib[i];

		if (o == ib || o->in.tenant == NULL ||
		    strcasecmp(o->in.tenant, ib->in.tenant) != 0 ||
		    o->lim_room == LLONG_MAX)
			continue;
		if (--o->lim_room <= 0)
			o->lim_fresh = false;
	}
}

void seq_limits_refused(seq_ibox *ib, const db_caps *caps, int64_t now)
{
	ib->lim_room = 0;
	ib->lim_fresh = true;
	ib->lim_until =
	    caps->lim_frees_at > now ? caps->lim_frees_at : now + 60000;
	ib->lim_id = caps->lim_id;
	ib->lim_used = caps->lim_used;
	ib->lim_max = caps->lim_max;
}

void seq_limits_recorded(seq_ibox *ib, const db_caps *caps)
{
	/* the database's count, which sees every process's sends (warmup,
	 * send-test, a second service), says the limit is reached: do not
	 * trust the in-memory room */
	if (caps->lim_left <= 0)
		ib->lim_fresh = false;
}

bool seq_limits_ok(const seq_ibox *ib, int64_t now)
{
	if (!ib->lim_fresh) /* not counted yet: the pass counts first */
		return ib->lim_room > 0;
	return ib->lim_room > 0 && ib->lim_until <= now;
}
