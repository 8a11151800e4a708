/*
 * seq_service_loop.c - the service's one pass: what changed is said, not
 * done, by whoever saw it; one pass per loop turn does it, then arms one
 * timer at the earliest next wake.
 *
 *   svc_wake(sv, what) ---+                 timer (the wake, or a stall)
 *   (a job's end, a       |                   | svc_wake(SVC_TIME)
 *   nudge, a signal, the  v                   v
 *   start)            sv->dirty |= what; the idle handle started
 *                          |
 *                          v   at the next loop turn, after its I/O
 *                        pass(dirty)
 *                          |  stopping: uv_stop once no job is in flight
 *                          |  --until passed: stop (the same)
 *                          |  SVC_PLAN: warmup pass (may ask a reload),
 *                          |            reload if asked, scheduling pass;
 *                          |            sv->wake = their earliest wake
 *                          |  SVC_DUE:  dispatch due rows, warmup sends
 *                          |            and warmup IMAP actions
 *                          v
 *                        arm(sv->wake): the timer, or the idle again
 *                        with SVC_TIME when the wake is now (a fast
 *                        clock jumps to it when no job is in flight)
 *
 * Who says what: a nudge or SIGHUP SVC_RELOAD (which implies the rest);
 * the end of a send batch or of warmup IMAP actions SVC_PLAN|SVC_DUE (the
 * counts, caps and due times they recorded); a watcher's sync that read
 * mail, or that opened or closed its inbox's gate, SVC_PLAN|SVC_DUE, one
 * with new events SVC_RELOAD; a token refresh's end SVC_DUE (sends held
 * for it).  Any other job's end says 0: the pass then only re-arms (a
 * fast clock waits for the last job before it jumps; a stop waits for
 * the last job before it ends the loop).  A pass that skips SVC_PLAN
 * keeps the wake of the last one that ran: only SVC_PLAN's inputs move
 * it, and whoever changes those says SVC_PLAN.
 *
 * The busy set: one entry per job in flight, by inbox and kind (send,
 * warmup IMAP, watch, token).  Dispatch skips an inbox with a job of the
 * same kind; the stop drains until the set is empty.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <stdint.h>
#include <stdlib.h>

#include <uv.h>

/* A pass that was due and could start nothing (every worker busy, its
 * inbox busy or waiting for a token) looks again after this much real
 * time at the latest, whatever the clock; what ends meanwhile wakes the
 * loop at once. */
#define STALL_MS 1000

/* ---- the stop ----------------------------------------------------------- */

bool svc_stopping(const svc *sv)
{
	return sv->stopping;
}

void svc_stop(svc *sv)
{
	sv->stopping = true;
	atomic_store(&sv->halt, true);
	svc_doctor_stop(sv);
}

void svc_fatal_stop(svc *sv, const cs_err *err)
{
	cs_log_error("%s", err->msg);
	sv->err = *err;
	sv->exit_rc = err->code ? err->code : CS_EINVAL;
	svc_stop(sv);
	uv_stop(&sv->loop);
}

/* ---- the busy set ------------------------------------------------------- */

void svc_busy_on(svc *sv, long long inbox_id, svc_kind kind)
{
	sv->busy = cs_xrealloc(sv->busy, (sv->nbusy + 1) * sizeof *sv->busy);
	sv->busy[sv->nbusy].inbox_id = inbox_id;
	sv->busy[sv->nbusy].kind = kind;
	sv->nbusy++;
}

void svc_busy_off(svc *sv, long long inbox_id, svc_kind kind)
{
	size_t i;

	for (i = 0; i < sv->nbusy; i++)
		if (sv->busy[i].inbox_id == inbox_id &&
		    sv->busy[i].kind == kind) {
			sv->busy[i] = sv->busy[--sv->nbusy];
			return;
		}
	cs_log_error("inbox %lld: a job ended that was not in flight (kind "
	             "%d)",
	             inbox_id, (int)kind);
	CS_BUG_CHECK(!"svc_busy_off without svc_busy_on");
}

bool svc_busy(const svc *sv, long long inbox_id, svc_kind kind)
{
	size_t i;

	for (i = 0; i < sv->nbusy; i++)
		if (sv->busy[i].inbox_id == inbox_id &&
		    sv->busy[i].kind == kind)
			return true;
	return false;
}

int svc_jobs(const svc *sv, unsigned mask)
{
	size_t i;
	int n = 0;

	for (i = 0; i < sv->nbusy; i++)
		if (mask & SVC_KIND(sv->busy[i].kind))
			n++;
	return n;
}

/* ---- the pass ----------------------------------------------------------- */

static void arm(svc *sv, int64_t wake, bool stalled);

static void again_cb(uv_idle_t *h)
{
	svc *sv = h->data;
	cs_err err = CS_ERR_INIT;
	unsigned what = sv->dirty;
	int64_t now = cs_clock_now(sv->o->clock);
	int queued = 0, jobs = svc_jobs(sv, SVC_ANY_KIND);

	uv_idle_stop(h);
	sv->dirty = 0;
	sv->npass++;
	if (svc_stopping(sv)) {
		if (jobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	if (sv->o->until && now >= sv->o->until) {
		cs_log_info("the clock passed --until: stopping");
		svc_stop(sv);
		if (jobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	if (what & SVC_RELOAD)
		what |= SVC_TIME;
	if (what & SVC_PLAN) {
		int64_t wwake = INT64_MAX, swake = INT64_MAX;
		bool changed = false;

		sv->nplan++;
		/* warmup (seq_warmup.c): plan, health; may pause inboxes */
		if (seq_warmup_pass(sv->wu, &wwake, &changed, &err) != 0) {
			svc_fatal_stop(sv, &err);
			return;
		}
		if (changed || (what & SVC_RELOAD))
			svc_reload_all(sv);
		if (seq_sched_pass(sv->s, &queued, &swake, &err) != 0) {
			svc_fatal_stop(sv, &err);
			return;
		}
		sv->wake = swake < wwake ? swake : wwake;
	}
	if (queued)
		svc_crash_point(sv, "queued");
	if (what & SVC_DUE) {
		sv->ndue++;
		svc_dispatch(sv);
	}
	arm(sv, sv->wake, queued == 0 && svc_jobs(sv, SVC_ANY_KIND) == jobs);
}

void svc_wake(svc *sv, unsigned what)
{
	sv->dirty |= what;
	uv_idle_start(&sv->again, again_cb);
}

static void timer_cb(uv_timer_t *t)
{
	svc_wake(t->data, SVC_TIME);
}

/* The next pass.  One due now runs at the next turn of the loop, after
 * its I/O (the idle handle: a zero timer started from a timer callback
 * would run again before any I/O, signals and completions included, and
 * the loop would never get out of its timers). */
static void arm(svc *sv, int64_t wake, bool stalled)
{
	int64_t now = cs_clock_now(sv->o->clock), delay;

	if (svc_stopping(sv))
		return;
	if (stalled && wake <= now) {
		/* real time: divided by a clock's speed, or jumped over by a
		 * fast one, it would turn into a busy loop */
		uv_timer_start(&sv->timer, timer_cb, STALL_MS, 0);
		return;
	}
	if (sv->o->until && wake > sv->o->until)
		wake = sv->o->until;
	if (wake == INT64_MAX) { /* nothing scheduled: no timer at all */
		uv_timer_stop(&sv->timer);
		return;
	}
	if (sv->o->fast) {
		/* jump only when nothing is in flight; each end wakes */
		if (svc_jobs(sv, SVC_ANY_KIND))
			return;
		if (wake > now)
			cs_clock_advance_to(sv->o->clock, wake);
		svc_wake(sv, SVC_TIME);
		return;
	}
	delay = wake > now ? wake - now : 0;
	if (sv->o->speed > 1.0)
		delay = (int64_t)((double)delay / sv->o->speed);
	if (delay == 0) {
		uv_timer_stop(&sv->timer);
		svc_wake(sv, SVC_TIME);
		return;
	}
	uv_timer_start(&sv->timer, timer_cb, (uint64_t)delay, 0);
}

void svc_loop_init(svc *sv)
{
	sv->wake = INT64_MAX;
	uv_timer_init(&sv->loop, &sv->timer);
	sv->timer.data = sv;
	uv_idle_init(&sv->loop, &sv->again);
	sv->again.data = sv;
}

void svc_loop_report(const svc *sv)
{
	cs_log_debug("loop: %ld passes, %ld planning (warmup and scheduling), "
	             "%ld dispatching",
	             sv->npass, sv->nplan, sv->ndue);
}
