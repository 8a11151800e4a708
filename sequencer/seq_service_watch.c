/*
 * seq_service_watch.c - the service's IMAP watchers: per inbox a small
 * state machine; connects, fetches and IDLE exchanges on workers, the
 * plan and the apply on the loop, an idle IDLE parked on uv_poll.  A
 * watcher that synced opens its inbox's follow-ups (the gate); one that
 * lost its connection closes them again.
 *
 *   add_watcher
 *       |                 svc_token_hold (its token not usable, or a
 *       v            +--+ forced refresh first), watch_down (the token
 *    [DOWN] <--------+  | could not be read): DOWN -> DOWN
 *     |   ^ ^-----------+
 *     |   |
 *     |   +-- watch_down (a job failed; or, dropped, its job ended)
 *     |   |
 *     |   |        job ok (a sync; an IDLE that found mail waiting)
 *     v   |       +------------------------------------> [WAITING]
 *  watch_job --> [BUSY]                                  |  next_try
 *     ^                   IDLE started: fd on uv_poll    |  (no IDLE),
 *     |           +------------------------------------> |  more to
 *     |           v                                      |  fetch
 *     |       [IDLING]                                   |
 *     |           | readable, IDLE_REFRESH               |
 *     +-----------+--------------------------------------+
 *
 *   state    entered by               invariant
 *   DOWN     add_watcher, watch_down, no session (w->s NULL); next_try,
 *            svc_token_hold           or token_wait (INT64_MAX)
 *   BUSY     watch_job                one job on a worker uses w (the
 *                                     busy set has it: SVC_WATCH)
 *   WAITING  watch_done               a session; no IDLE running unless
 *                                     idle_owed (then the next job ends
 *                                     it first)
 *   IDLING   watch_done               a session in IDLE (idle_owed); its
 *                                     fd polled, unless stopping
 *
 * Every change goes through svc_watcher_enter (checked against the
 * table below, logged at debug); every watcher leaves through
 * watcher_drop.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>

/* ---- states ------------------------------------------------------------ */

static const bool allowed[W_NSTATES][W_NSTATES] = {
    /*              to: DOWN   BUSY   IDLING WAITING */
    [W_DOWN] = {true, true, false, false},
    [W_BUSY] = {true, false, true, true},
    [W_IDLING] = {false, true, false, false},
    [W_WAITING] = {false, true, false, false},
};

bool svc_watcher_allowed(wstate from, wstate to)
{
	return from >= 0 && from < W_NSTATES && to >= 0 && to < W_NSTATES &&
	       allowed[from][to];
}

const char *svc_wstate_name(wstate s)
{
	static const char *const names[W_NSTATES] = {"down", "busy", "idling",
	                                             "waiting"};

	return s >= 0 && s < W_NSTATES ? names[s] : "?";
}

void svc_watcher_enter(wrt *r, wstate to)
{
	wstate from = r->state;

	if (!svc_watcher_allowed(from, to)) {
		cs_log_error("inbox %s: watcher: %s -> %s is not a transition "
		             "(a bug)",
		             r->in.name, svc_wstate_name(from),
		             svc_wstate_name(to));
		CS_BUG_CHECK(!"watcher state transition refused");
	}
	cs_log_debug("inbox %s: watcher %s -> %s%s", r->in.name,
	             svc_wstate_name(from), svc_wstate_name(to),
	             r->idle_owed ? " (IDLE running)" : "");
	r->state = to;
}

/* Hold (gated) or release in's follow-ups; true when that changed. */
static bool gate(svc *sv, const db_inbox *in, bool gated)
{
	seq_ibox *ib = seq_find_inbox(sv->s, in->id);
	bool was = ib ? ib->gated : !gated;

	seq_sched_gate(sv->s, in->id, gated);
	return was != gated;
}

/* ---- the one teardown --------------------------------------------------- */

static void poll_closed(uv_handle_t *h);

/* r leaves for good: out of sv->w (when there), its poll handle closed,
 * its session closed and its memory freed (in the handle's close
 * callback when it has one).  With a job in flight it is only marked
 * gone: watch_done calls this again when the job returns.  No IMAP
 * exchange here (a DONE owed is the stop's: svc_watch_close_all). */
static void watcher_drop(wrt *r)
{
	svc *sv = r->sv;
	size_t i;

	for (i = 0; i < sv->nw; i++)
		if (sv->w[i] == r) {
			sv->w[i] = sv->w[--sv->nw];
			break;
		}
	r->gone = true;
	if (r->state == W_BUSY)
		return;
	if (r->poll_open) {
		if (!uv_is_closing((uv_handle_t *)&r->poll))
			uv_close((uv_handle_t *)&r->poll, poll_closed);
		return;
	}
	seq_watcher_close(r->w);
	db_inbox_free(&r->in);
	free(r);
}

static void poll_closed(uv_handle_t *h)
{
	wrt *r = h->data;

	r->poll_open = false;
	watcher_drop(r);
}

/* ---- jobs --------------------------------------------------------------- */

typedef enum wop { OP_SYNC, OP_IDLE } wop;

typedef struct watch_work {
	uv_work_t req;
	wrt *r;
	wop op;
	bool was_idling; /* end the IDLE first (it was owed) */
	seq_watch_plan plan;
	seq_watch_batch batch;
	int fd;
	int rc;
	cs_err err;
} watch_work;

static void watch_run(uv_work_t *req)
{
	watch_work *ww = req->data;
	seq_watcher *w = ww->r->w;

	ww->err.code = 0;
	if (ww->was_idling && seq_watcher_idle_done(w, &ww->err) != 0) {
		ww->rc = ww->err.code;
		return;
	}
	if (w->s == NULL && (ww->rc = seq_watcher_connect(w, &ww->err)) != 0)
		return;
	if (ww->op == OP_SYNC)
		ww->rc = seq_watcher_fetch(w, &ww->plan, SEQ_WATCH_ROOM,
		                           &ww->batch, &ww->err);
	else
		ww->rc = seq_watcher_idle_start(w, &ww->fd, &ww->err);
}

static void watch_job(wrt *r, wop op);

static void poll_cb(uv_poll_t *p, int status, int events)
{
	wrt *r = p->data;

	(void)status;
	(void)events;
	uv_poll_stop(p);
	if (svc_stopping(r->sv))
		return;
	watch_job(r, OP_SYNC); /* ends IDLE first */
}

static void watch_down(wrt *r, const cs_err *err)
{
	svc *sv = r->sv;
	int64_t backoff = 5000LL << (r->fails < 6 ? r->fails : 6);

	/* OAuth2 (issue 12): the token may have been dropped early by the
	 * provider: try again at once, with a forced refresh (watch_job ->
	 * seq_watcher_reauth), once per failure streak */
	if (r->in.auth == DB_AUTH_OAUTH2 && !r->w->forced &&
	    err->code != CS_EAUTH)
		backoff = 0;
	r->fails++;
	/* logged (and recorded for status and explain) when it changes;
	 * each retry only at debug level.  A login refused right after the
	 * forced refresh is the mailbox's or the app's settings, not a lost
	 * authorization: say so, with the remedy (as the CLI's logins do) */
	if (r->in.auth == DB_AUTH_OAUTH2 && r->w->forced &&
	    err->code == CS_EREFUSED) {
		cs_buf why = CS_BUF_INIT;

		seq_token_refused_fresh(&r->in, "IMAP", err->msg, &why);
		svc_note_watch(sv, &r->in, DB_WATCH_DOWN, why.data);
		cs_buf_free(&why);
	} else
		svc_note_watch(sv, &r->in, DB_WATCH_DOWN, err->msg);
	cs_log_debug("inbox %s: watcher: %s (retry in %llds)", r->in.name,
	             err->msg, (long long)(backoff / 1000));
	imap_close(r->w->s);
	r->w->s = NULL;
	r->idle_owed = false; /* the session it was owed to is gone */
	r->next_try = cs_mono_ms() + backoff;
	svc_watcher_enter(r, W_DOWN);
	/* replies may come in unseen: follow-ups wait for the next sync */
	if (gate(sv, &r->in, true))
		svc_wake(sv, SVC_PLAN);
}

/* A sync job ended well: the gate, and the next job (or the poll). */
static unsigned synced(wrt *r, bool more)
{
	svc *sv = r->sv;
	unsigned what = 0;

	r->fails = 0;
	r->last_sync = cs_mono_ms();
	svc_watcher_enter(r, W_WAITING);
	if (!more) { /* caught up: this inbox's replies are read */
		if (gate(sv, &r->in, false))
			what |= SVC_PLAN | SVC_DUE;
		svc_note_watch(sv, &r->in, DB_WATCH_OK, NULL);
	}
	if (!svc_stopping(sv) && more)
		watch_job(r, OP_SYNC);
	else if (!svc_stopping(sv) && seq_watcher_can_idle(r->w))
		watch_job(r, OP_IDLE);
	else
		r->next_try = cs_mono_ms() + POLL_INTERVAL;
	return what;
}

/* An IDLE job ended well: IDLE runs on the server now (DONE owed). */
static void idle_started(wrt *r, int fd)
{
	svc *sv = r->sv;

	r->idle_owed = true;
	if (fd < 0) { /* mail is waiting: end IDLE, sync */
		svc_watcher_enter(r, W_WAITING);
		if (!svc_stopping(sv))
			watch_job(r, OP_SYNC);
		return;
	}
	svc_watcher_enter(r, W_IDLING);
	if (svc_stopping(sv))
		return;
	if (!r->poll_open) {
		uv_poll_init(&sv->loop, &r->poll, fd);
		r->poll.data = r;
		r->poll_open = true;
	}
	uv_poll_start(&r->poll, UV_READABLE, poll_cb);
}

static void watch_done(uv_work_t *req, int status)
{
	watch_work *ww = req->data;
	wrt *r = ww->r;
	svc *sv = r->sv;
	seq_sync_stats st;
	bool more = false;
	unsigned what = 0;

	(void)status;
	svc_busy_off(sv, r->in.id, SVC_WATCH);
	if (ww->op == OP_SYNC && (ww->rc == 0 || ww->batch.nf)) {
		cs_err e2 = CS_ERR_INIT;

		memset(&st, 0, sizeof st);
		if (!r->gone &&
		    seq_watcher_apply(r->w, &ww->batch, &st, &e2) != 0) {
			cs_log_error("inbox %s: %s", r->in.name, e2.msg);
			if (ww->rc == 0) {
				ww->rc = e2.code;
				ww->err = e2;
			}
		}
		/* warmup mail, moved due times; sends outside coldseq */
		if (ww->batch.nf || ww->batch.sent.n)
			what |= SVC_PLAN | SVC_DUE;
		if (st.new_events) {
			cs_log_info("inbox %s: %d new event(s)", r->in.name,
			            st.new_events);
			/* stops, pauses and moved due times: look again */
			what |= SVC_RELOAD;
		}
		more = ww->batch.more;
	}
	seq_watch_batch_free(&ww->batch);
	seq_watch_plan_free(&ww->plan);
	if (r->gone) {
		svc_watcher_enter(r, W_DOWN);
		watcher_drop(r);
	} else if (ww->rc != 0)
		watch_down(r, &ww->err);
	else if (ww->op == OP_SYNC)
		what |= synced(r, more);
	else
		idle_started(r, ww->fd);
	free(ww);
	svc_arm_watchers(sv);
	svc_wake(sv, what);
}

static void watch_job(wrt *r, wop op)
{
	svc *sv = r->sv;
	watch_work *ww;
	cs_err err = CS_ERR_INIT;

	/* OAuth2: a (re)connect first waits for a refresh on a worker when
	 * the token is not usable, or once after a failed attempt; it is
	 * restarted when the refresh ends (seq_service_token.c) */
	if (r->w->s == NULL && svc_token_hold(r)) {
		svc_arm_watchers(sv);
		return;
	}
	/* then a token valid now, read without the network (issue 12; a
	 * no-op for passwords) */
	if (r->w->s == NULL &&
	    seq_watcher_reauth(r->w, r->fails > 0, &err) != 0) {
		if (err.code == CS_EAUTH) {
			cs_err e2 = CS_ERR_INIT;

			if (seq_sched_auth_lost(sv->s, r->in.id, &e2) != 0)
				cs_log_error("inbox %s: %s", r->in.name,
				             e2.msg);
			svc_wake(sv, SVC_PLAN | SVC_DUE);
		}
		watch_down(r, &err);
		svc_arm_watchers(sv);
		return;
	}
	ww = cs_xcalloc(1, sizeof *ww);
	ww->r = r;
	ww->op = op;
	if (op == OP_SYNC && seq_watcher_plan(r->w, &ww->plan, &err) != 0) {
		free(ww);
		svc_fatal_stop(sv, &err);
		return;
	}
	/* the job takes the DONE owed: it sends it first */
	ww->was_idling = r->idle_owed;
	r->idle_owed = false;
	if (ww->was_idling && r->poll_open)
		uv_poll_stop(&r->poll);
	svc_watcher_enter(r, W_BUSY);
	ww->req.data = ww;
	svc_busy_on(sv, r->in.id, SVC_WATCH);
	uv_queue_work(&sv->loop, &ww->req, watch_run, watch_done);
}

void svc_watch_start(wrt *r)
{
	watch_job(r, OP_SYNC);
}

/* ---- the watchers' timer ------------------------------------------------ */

/* The watchers' one timer (real time), armed for the earliest of: a
 * reconnect, a sync of a server without IDLE, an IDLE refresh.  Nothing
 * to do: no timer, so an idle service does not wake up. */
static void wtimer_cb(uv_timer_t *t);

void svc_arm_watchers(svc *sv)
{
	int64_t next = INT64_MAX, now = cs_mono_ms();
	size_t i;

	if (svc_stopping(sv))
		return;
	for (i = 0; i < sv->nw; i++) {
		const wrt *r = sv->w[i];
		int64_t t = INT64_MAX;

		if (r->state == W_DOWN || r->state == W_WAITING)
			t = r->next_try;
		else if (r->state == W_IDLING)
			t = r->last_sync + IDLE_REFRESH;
		if (t < next)
			next = t;
	}
	if (next == INT64_MAX)
		uv_timer_stop(&sv->wtimer);
	else
		uv_timer_start(&sv->wtimer, wtimer_cb,
		               (uint64_t)(next > now ? next - now : 0), 0);
}

static void wtimer_cb(uv_timer_t *t)
{
	svc *sv = t->data;
	int64_t now = cs_mono_ms();
	size_t i;

	if (svc_stopping(sv))
		return;
	for (i = 0; i < sv->nw; i++) {
		wrt *r = sv->w[i];

		if ((r->state == W_DOWN || r->state == W_WAITING) &&
		    now >= r->next_try)
			svc_watch_start(r);
		else if (r->state == W_IDLING &&
		         now - r->last_sync >= IDLE_REFRESH)
			watch_job(r, OP_SYNC);
	}
	svc_arm_watchers(sv);
}

/* ---- the set of watchers ------------------------------------------------ */

static int add_watcher(svc *sv, const db_inbox *src, cs_err *err)
{
	wrt *r = cs_xcalloc(1, sizeof *r);
	int rc;

	r->sv = sv;
	r->state = W_DOWN;
	if ((rc = db_inbox_get(sv->d, src->name, &r->in, err)) != 0 ||
	    (rc = seq_watcher_new(sv->d, sv->v, sv->o->clock, &r->in, &r->w,
	                          err)) != 0) {
		db_inbox_free(&r->in);
		free(r);
		return rc;
	}
	r->w->mx = sv->s->mx; /* the service's resolver: never blocks */
	/* its follow-ups wait for its first sync (the gate) */
	svc_note_watch(sv, &r->in, DB_WATCH_STARTING, NULL);
	sv->w = cs_xrealloc(sv->w, (sv->nw + 1) * sizeof(wrt *));
	sv->w[sv->nw++] = r;
	svc_watch_start(r);
	return 0;
}

/* No watcher could be made for in (its settings or secret cannot be
 * read): its follow-ups wait (the gate stays closed); tried again at each
 * reload, logged and recorded once. */
static void watch_failed(svc *sv, const db_inbox *in, const cs_err *err)
{
	char *why = cs_xasprintf("cannot watch: %s", err->msg);

	svc_note_watch(sv, in, DB_WATCH_DOWN, why);
	free(why);
}

void svc_watch_add(svc *sv, const db_inbox *in)
{
	cs_err err = CS_ERR_INIT;

	if (add_watcher(sv, in, &err) != 0)
		watch_failed(sv, in, &err);
}

void svc_sync_watchers(svc *sv)
{
	size_t i, j;
	cs_err err = CS_ERR_INIT;

	if (!sv->o->watch)
		return;
	/* inboxes removed: their watchers go (forgotten here, so that j
	 * visits the one moved into their place) */
	for (j = 0; j < sv->nw;) {
		wrt *r = sv->w[j];
		bool keep = false;

		for (i = 0; i < sv->s->nib; i++)
			if (sv->s->ib[i].in.id == r->in.id)
				keep = true;
		if (keep) {
			j++;
			continue;
		}
		sv->w[j] = sv->w[--sv->nw];
		watcher_drop(r);
	}
	for (i = 0; i < sv->s->nib; i++) {
		bool have = false;

		for (j = 0; j < sv->nw; j++)
			if (sv->w[j]->in.id == sv->s->ib[i].in.id)
				have = true;
		/* OAuth2: added once its token is usable (its refresh runs
		 * on a worker and adds it: seq_service_token.c) */
		if (!have && svc_token_usable(sv, &sv->s->ib[i].in) &&
		    add_watcher(sv, &sv->s->ib[i].in, &err) != 0)
			watch_failed(sv, &sv->s->ib[i].in, &err);
	}
}

void svc_watch_pause_all(svc *sv)
{
	size_t i;

	uv_timer_stop(&sv->wtimer);
	for (i = 0; i < sv->nw; i++)
		if (sv->w[i]->poll_open && sv->w[i]->state == W_IDLING)
			uv_poll_stop(&sv->w[i]->poll);
}

void svc_watch_close_all(svc *sv)
{
	while (sv->nw) {
		wrt *r = sv->w[sv->nw - 1];
		cs_err err = CS_ERR_INIT;

		if (r->idle_owed)
			seq_watcher_idle_done(r->w, &err);
		r->idle_owed = false;
		watcher_drop(r);
	}
}

void svc_reload_all(svc *sv)
{
	cs_err err = CS_ERR_INIT;

	if (seq_sched_reload(sv->s, &err) != 0 ||
	    seq_warmup_reload(sv->wu, &err) != 0) {
		cs_log_error("reload: %s", err.msg);
		return;
	}
	svc_token_sync(sv);
	svc_sync_watchers(sv);
}
