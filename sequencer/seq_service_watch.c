/*
 * seq_service_watch.c - the service's IMAP watchers: per inbox a small
 * state machine (down, busy, idling, waiting); connects, fetches and IDLE
 * exchanges on workers, the plan and the apply on the loop, an idle IDLE
 * parked on uv_poll.  A watcher that synced opens its inbox's follow-ups
 * (the gate); one that lost its connection closes them again.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

/* ---- watchers ---------------------------------------------------------- */

typedef enum wop { OP_SYNC, OP_IDLE } wop;

typedef struct watch_work {
	uv_work_t req;
	wrt *r;
	wop op;
	bool was_idling;
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
	if (r->sv->stopping)
		return;
	watch_job(r, OP_SYNC); /* ends IDLE first */
}

static void poll_closed(uv_handle_t *h)
{
	wrt *r = h->data;

	r->poll_open = false;
	if (r->gone) {
		seq_watcher_close(r->w);
		db_inbox_free(&r->in);
		free(r);
	}
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
		svc_note_watch(sv, &r->in, "down", why.data);
		cs_buf_free(&why);
	} else
		svc_note_watch(sv, &r->in, "down", err->msg);
	cs_log_debug("inbox %s: watcher: %s (retry in %llds)", r->in.name,
	             err->msg, (long long)(backoff / 1000));
	imap_close(r->w->s);
	r->w->s = NULL;
	r->state = W_DOWN;
	r->next_try = cs_mono_ms() + backoff;
	/* replies may come in unseen: follow-ups wait for the next sync */
	seq_sched_gate(sv->s, r->in.id, true);
}

static void watch_done(uv_work_t *req, int status)
{
	watch_work *ww = req->data;
	wrt *r = ww->r;
	svc *sv = r->sv;
	seq_sync_stats st;
	bool more = false;

	(void)status;
	sv->wjobs--;
	r->state = W_WAITING;
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
		if (st.new_events) {
			cs_log_info("inbox %s: %d new event(s)", r->in.name,
			            st.new_events);
			/* stops, pauses and moved due times: look again */
			sv->reload = true;
		}
		more = ww->batch.more;
	}
	seq_watch_batch_free(&ww->batch);
	seq_watch_plan_free(&ww->plan);
	if (r->gone) {
		if (!r->poll_open) {
			seq_watcher_close(r->w);
			db_inbox_free(&r->in);
			free(r);
		} else
			uv_close((uv_handle_t *)&r->poll, poll_closed);
		free(ww);
		svc_tick(sv);
		return;
	}
	if (ww->rc != 0) {
		watch_down(r, &ww->err);
	} else if (ww->op == OP_SYNC) {
		r->fails = 0;
		r->last_sync = cs_mono_ms();
		if (!more) { /* caught up: this inbox's replies are read */
			seq_sched_gate(sv->s, r->in.id, false);
			svc_note_watch(sv, &r->in, "ok", NULL);
		}
		if (!sv->stopping && more)
			watch_job(r, OP_SYNC);
		else if (!sv->stopping && seq_watcher_can_idle(r->w))
			watch_job(r, OP_IDLE);
		else
			r->next_try = cs_mono_ms() + POLL_INTERVAL;
	} else if (ww->fd < 0) {
		r->state = W_IDLING; /* mail is waiting: end IDLE, sync */
		if (!sv->stopping)
			watch_job(r, OP_SYNC);
	} else if (sv->stopping) {
		r->state = W_IDLING;
	} else {
		r->state = W_IDLING;
		if (!r->poll_open) {
			uv_poll_init(&sv->loop, &r->poll, ww->fd);
			r->poll.data = r;
			r->poll_open = true;
		}
		uv_poll_start(&r->poll, UV_READABLE, poll_cb);
	}
	free(ww);
	svc_arm_watchers(sv);
	svc_tick(sv);
}

static void watch_job(wrt *r, wop op)
{
	svc *sv = r->sv;
	watch_work *ww = cs_xcalloc(1, sizeof *ww);
	cs_err err = CS_ERR_INIT;

	ww->r = r;
	ww->op = op;
	ww->was_idling = r->state == W_IDLING;
	/* OAuth2: a (re)connect first waits for a refresh on a worker when
	 * the token is not usable, or once after a failed attempt; it is
	 * restarted when the refresh ends (seq_service_token.c) */
	if (r->w->s == NULL && svc_token_hold(r)) {
		free(ww);
		svc_arm_watchers(sv);
		return;
	}
	/* then a token valid now, read without the network (issue 12; a
	 * no-op for passwords) */
	if (r->w->s == NULL &&
	    seq_watcher_reauth(r->w, r->fails > 0, &err) != 0) {
		free(ww);
		if (err.code == CS_EAUTH) {
			cs_err e2 = CS_ERR_INIT;

			if (seq_sched_auth_lost(sv->s, r->in.id, &e2) != 0)
				cs_log_error("inbox %s: %s", r->in.name,
				             e2.msg);
		}
		watch_down(r, &err);
		svc_arm_watchers(sv);
		return;
	}
	if (op == OP_SYNC && seq_watcher_plan(r->w, &ww->plan, &err) != 0) {
		free(ww);
		svc_fatal_stop(sv, &err);
		return;
	}
	if (ww->was_idling && r->poll_open)
		uv_poll_stop(&r->poll);
	r->state = W_BUSY;
	ww->req.data = ww;
	sv->wjobs++;
	uv_queue_work(&sv->loop, &ww->req, watch_run, watch_done);
}

void svc_watch_start(wrt *r)
{
	watch_job(r, OP_SYNC);
}

/* The watchers' one timer (real time), armed for the earliest of: a
 * reconnect, a sync of a server without IDLE, an IDLE refresh.  Nothing
 * to do: no timer, so an idle service does not wake up. */
static void wtimer_cb(uv_timer_t *t);

void svc_arm_watchers(svc *sv)
{
	int64_t next = INT64_MAX, now = cs_mono_ms();
	size_t i;

	if (sv->stopping)
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

	if (sv->stopping)
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

static int add_watcher(svc *sv, const db_inbox *src, cs_err *err)
{
	wrt *r = cs_xcalloc(1, sizeof *r);
	int rc;

	r->sv = sv;
	if ((rc = db_inbox_get(sv->d, src->name, &r->in, err)) != 0 ||
	    (rc = seq_watcher_new(sv->d, sv->v, sv->o->clock, &r->in, &r->w,
	                          err)) != 0) {
		db_inbox_free(&r->in);
		free(r);
		return rc;
	}
	r->state = W_DOWN;
	/* its follow-ups wait for its first sync (the gate) */
	svc_note_watch(sv, &r->in, "starting", NULL);
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

	svc_note_watch(sv, in, "down", why);
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
	/* inboxes removed: their watchers go */
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
		r->gone = true;
		sv->w[j] = sv->w[--sv->nw];
		if (r->state != W_BUSY) {
			if (r->poll_open)
				uv_close((uv_handle_t *)&r->poll, poll_closed);
			else {
				seq_watcher_close(r->w);
				db_inbox_free(&r->in);
				free(r);
			}
		}
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

void svc_reload_all(svc *sv)
{
	cs_err err = CS_ERR_INIT;

	sv->reload = false;
	if (seq_sched_reload(sv->s, &err) != 0 ||
	    seq_warmup_reload(sv->wu, &err) != 0) {
		cs_log_error("reload: %s", err.msg);
		return;
	}
	svc_token_sync(sv);
	svc_sync_watchers(sv);
}
