/*
 * seq_service_token.c - the service's OAuth2 access tokens, refreshed on
 * the worker pool so that the loop never waits for a token endpoint.
 *
 * One entry per oauth2 inbox, at most one refresh in flight for it:
 *
 *   due (refresh_at, real time:     plan (loop: the row and its generation,
 *   seq_token_check), forced   -->  settings, the refresh token opened)
 *   (a server refused the token),        |
 *   or wanted (not usable)               v
 *                                   run (worker: the refresh grant only)
 *                                        |
 *                                        v
 *                                   apply (loop: sealed, stored if the row
 *                                   is still at that generation)
 *                                        |
 *          +--------------+--------------+---------------+
 *          v              v              v               v
 *       stored         raced         invalid_grant    other failure
 *     next due =     plan again     auth_failed       retry after
 *     refresh_at     (at most 3     (seq_token.c),    10 s, 20 s, ...
 *                    rounds)        its new contacts  2 min; the stored
 *                                   released, no      token is used while
 *                                   more tries        usable
 *
 * Then, on the loop: the callbacks of svc_token_force (a send batch the
 * server refused waits there, and goes again with the new token), the
 * inbox's watcher waiting in svc_token_hold is restarted (or added, when
 * it could not be created without a token), and the service's next pass
 * (svc_wake SVC_DUE) dispatches the sends that svc_token_usable held
 * back.
 *
 * Who calls what: send jobs and warmup IMAP jobs ask svc_token_usable
 * before they read credentials, watchers svc_token_hold before a
 * (re)connect; either starts a refresh when the stored token is not
 * usable.  Then seq_token_get, called under them, finds a token it hands
 * out without the network.  Requests only mark the entry and arm the
 * timer (zero delay): a plan, a start or a callback never runs inside the
 * caller, which may be in the middle of a dispatch.
 *
 * Time: the entries' due and retry times are real time (the provider's),
 * on this module's own timer, armed for the earliest; nothing due (every
 * token fresh, or none refreshable): no timer.  The service's own timer
 * may run on a simulated clock and is not mixed with this one.
 *
 * Limits: TOKEN_JOBS refreshes at once (the pool is shared with sends and
 * watchers; a start-up after hours down finds every token expired).
 * A refresh in flight is in the busy set (SVC_TOKEN, by inbox: at most
 * one per inbox), so a stop waits for it (at most 10 s)
 * and stores what they got: a rotated refresh token must not be lost.
 * Stopping starts nothing new; callbacks still waiting are told so.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define TOKEN_JOBS   4        /* refreshes on workers at once */
#define RETRY_MIN_MS 10000LL  /* after a failure: 10 s, 20 s, ... */
#define RETRY_MAX_MS 120000LL /* ... at most 2 min */
#define RACED_MAX    3        /* rounds lost to another process in a row */

typedef struct tok_wait {
	svc_token_cb cb;
	void *arg;
} tok_wait;

typedef struct tok_ent {
	long long inbox_id;
	int64_t due;      /* refresh from here (real ms); INT64_MAX: never */
	int64_t retry_at; /* after a failure: not before (real ms) */
	int fails, raced;
	bool forced; /* the next plan refreshes whatever the token's age */
	bool gone;   /* the inbox left the scheduler: dropped when idle */
	tok_wait *wait;
	size_t nwait;
} tok_ent;

typedef struct tok_job {
	uv_work_t req;
	svc *sv;
	long long inbox_id;
	seq_token_refresh *r;
} tok_job;

struct svc_tokens {
	uv_timer_t timer;
	tok_ent **e; /* pointers: stable while callbacks add entries */
	size_t n;
	bool pumping, again;
};

static void timer_cb(uv_timer_t *t);

/* A refresh of e's inbox is on a worker (the busy set). */
static bool running(const svc *sv, const tok_ent *e)
{
	return svc_busy(sv, e->inbox_id, SVC_TOKEN);
}

static int jobs(const svc *sv)
{
	return svc_jobs(sv, SVC_KIND(SVC_TOKEN));
}

static tok_ent *find(svc_tokens *T, long long id)
{
	size_t i;

	for (i = 0; i < T->n; i++)
		if (T->e[i]->inbox_id == id)
			return T->e[i];
	return NULL;
}

static tok_ent *entry(svc_tokens *T, long long id)
{
	tok_ent *e = find(T, id);

	if (e)
		return e;
	e = cs_xcalloc(1, sizeof *e);
	e->inbox_id = id;
	e->due = INT64_MAX;
	T->e = cs_xrealloc(T->e, (T->n + 1) * sizeof(tok_ent *));
	T->e[T->n++] = e;
	return e;
}

/* Run pump soon, from the loop (never inside the caller). */
static void kick(svc *sv)
{
	svc_tokens *T = sv->tok;

	if (T->pumping)
		T->again = true;
	else
		uv_timer_start(&T->timer, timer_cb, 0, 0);
}

static int64_t backoff(int fails)
{
	int k = fails < 1 ? 0 : fails > 5 ? 5 : fails - 1;
	int64_t ms = RETRY_MIN_MS << k;

	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

/* The inbox's watcher, if it waits for this token: restarted; none yet
 * (its creation needs a usable token): added. */
static void wake_watchers(svc *sv, long long id)
{
	seq_ibox *ib;
	size_t i;

	if (!sv->o->watch || svc_stopping(sv))
		return;
	for (i = 0; i < sv->nw; i++) {
		wrt *r = sv->w[i];

		if (r->in.id != id)
			continue;
		if (r->token_wait) {
			r->token_wait = false;
			svc_watch_start(r);
		}
		return;
	}
	if ((ib = seq_find_inbox(sv->s, id)) != NULL &&
	    svc_token_usable(sv, &ib->in))
		svc_watch_add(sv, &ib->in);
}

/* The refresh of e ended with rc: tell whoever waits.  e may be freed by
 * what the callbacks do (a reload): not used afterwards. */
static void finish(svc *sv, tok_ent *e, int rc, const cs_err *err)
{
	tok_wait *w = e->wait;
	size_t n = e->nwait, i;
	long long id = e->inbox_id;

	e->wait = NULL;
	e->nwait = 0;
	for (i = 0; i < n; i++)
		w[i].cb(sv, w[i].arg, rc, err);
	free(w);
	wake_watchers(sv, id);
}

/* e->due from the row; rc as seq_token_check. */
static int set_due(svc *sv, tok_ent *e, const db_inbox *in,
                   seq_token_info *info, cs_err *err)
{
	int rc = seq_token_check(sv->d, in, cs_clock_now(NULL), info, err);

	if (rc == 0)
		e->due = info->refresh_at;
	return rc;
}

/* A failure that may pass: try again later, the stored token meanwhile
 * (none when nothing is due: a token that cannot be refreshed). */
static void failed(svc *sv, tok_ent *e, const cs_err *err)
{
	seq_ibox *ib = seq_find_inbox(sv->s, e->inbox_id);
	char who[64];

	if (ib)
		snprintf(who, sizeof who, "%s", ib->in.name);
	else
		snprintf(who, sizeof who, "%lld", e->inbox_id);
	e->raced = 0;
	e->fails++;
	e->retry_at = cs_clock_now(NULL) + backoff(e->fails);
	if (e->due == INT64_MAX)
		cs_log_warn("inbox %s: cannot refresh the access token: %s",
		            who, err->msg);
	else
		cs_log_warn("inbox %s: cannot refresh the access token: %s; "
		            "next try in %llds (the stored access token is "
		            "used while it lasts)",
		            who, err->msg,
		            (long long)(backoff(e->fails) / 1000));
}

static void job_run(uv_work_t *req)
{
	tok_job *j = req->data;

	seq_token_refresh_run(j->r);
}

static void job_done(uv_work_t *req, int status);

/* Plan e's refresh and hand it to a worker; or end it at once. */
static void start(svc *sv, tok_ent *e)
{
	seq_ibox *ib = seq_find_inbox(sv->s, e->inbox_id);
	seq_token_refresh *r = NULL;
	seq_token_info info;
	cs_err err = CS_ERR_INIT;
	bool forced = e->forced;
	tok_job *j;
	int rc;

	e->forced = false;
	if (ib == NULL) {
		e->gone = true;
		cs_err_set(&err, CS_ENOTFOUND, "inbox %lld is no longer loaded",
		           e->inbox_id);
		finish(sv, e, CS_ENOTFOUND, &err);
		return;
	}
	if ((rc = seq_token_refresh_plan(sv->d, sv->v, &ib->in, forced, &r,
	                                 &err)) != 0) {
		if (rc == CS_EAUTH) /* pending or auth_failed: a reconnect */
			e->due = INT64_MAX;
		else
			failed(sv, e, &err);
		finish(sv, e, rc, &err);
		return;
	}
	if (r == NULL) { /* not due (another process refreshed), or no row */
		if (set_due(sv, e, &ib->in, &info, &err) != 0) {
			failed(sv, e, &err);
			finish(sv, e, err.code, &err);
		} else
			finish(sv, e, 0, NULL);
		return;
	}
	j = cs_xcalloc(1, sizeof *j);
	j->sv = sv;
	j->inbox_id = e->inbox_id;
	j->r = r;
	j->req.data = j;
	svc_busy_on(sv, e->inbox_id, SVC_TOKEN);
	uv_queue_work(&sv->loop, &j->req, job_run, job_done);
}

/* The earliest time an idle entry may start; none while the jobs are at
 * their limit (a job's end pumps). */
static void arm(svc *sv)
{
	svc_tokens *T = sv->tok;
	int64_t next = INT64_MAX, now = cs_clock_now(NULL);
	size_t i;

	if (svc_stopping(sv) || jobs(sv) >= TOKEN_JOBS) {
		uv_timer_stop(&T->timer);
		return;
	}
	for (i = 0; i < T->n; i++) {
		const tok_ent *e = T->e[i];
		int64_t t;

		if (running(sv, e) || e->gone)
			continue;
		t = e->forced ? now : e->due;
		if (!e->forced && e->retry_at > t)
			t = e->retry_at;
		if (t < next)
			next = t;
	}
	if (next == INT64_MAX)
		uv_timer_stop(&T->timer);
	else
		uv_timer_start(&T->timer, timer_cb,
		               (uint64_t)(next > now ? next - now : 0), 0);
}

/* Drop the entries of inboxes gone, once nothing refers to them. */
static void compact(svc *sv)
{
	svc_tokens *T = sv->tok;
	size_t i, k = 0;

	for (i = 0; i < T->n; i++) {
		tok_ent *e = T->e[i];

		if (e->gone && !running(sv, e) && e->nwait == 0) {
			free(e->wait);
			free(e);
		} else
			T->e[k++] = e;
	}
	T->n = k;
}

/* Start what is due, forced ones first; when stopping, tell the waiting
 * callbacks instead.  Only from the loop's own callbacks (timer, job). */
static void pump(svc *sv)
{
	svc_tokens *T = sv->tok;
	cs_err stop = CS_ERR_INIT;
	size_t i;
	int pass;

	if (T->pumping) {
		T->again = true;
		return;
	}
	T->pumping = true;
	cs_err_set(&stop, CS_ETEMP, "the service is stopping");
	do {
		int64_t now = cs_clock_now(NULL);

		T->again = false;
		for (pass = 0; pass < 2; pass++)
			for (i = 0; i < T->n; i++) {
				tok_ent *e = T->e[i];

				if (running(sv, e))
					continue;
				if (svc_stopping(sv)) {
					if (e->nwait)
						finish(sv, e, CS_ETEMP, &stop);
				} else if (jobs(sv) < TOKEN_JOBS && !e->gone &&
				           (pass == 0 ? e->forced
				                      : e->due <= now &&
				                            e->retry_at <= now))
					start(sv, e);
			}
	} while (T->again);
	T->pumping = false;
	compact(sv);
	arm(sv);
}

static void timer_cb(uv_timer_t *t)
{
	pump(t->data);
}

/* After apply: the entry's next state (the diagram at the top).  Returns
 * rc as it ends (CS_EAUTH: the inbox lost its authorization). */
static int applied(svc *sv, tok_ent *e, int rc, bool raced, cs_err *err)
{
	seq_ibox *ib = seq_find_inbox(sv->s, e->inbox_id);
	seq_token_info info;

	if (rc == 0 && raced) {
		if (++e->raced < RACED_MAX && !svc_stopping(sv)) {
			e->due = 0; /* plan again: the waiting ones wait */
			e->retry_at = 0;
			return 0;
		}
		rc = cs_err_set(err, CS_ETEMP,
		                "inbox %s: the tokens keep changing under this "
		                "process",
		                ib ? ib->in.name : "?");
	}
	if (rc == 0 && ib) {
		e->fails = 0;
		e->raced = 0;
		e->retry_at = 0;
		if ((rc = set_due(sv, e, &ib->in, &info, err)) == 0 &&
		    !info.usable) /* no refresh loop on tokens born expired */
			rc = cs_err_set(err, CS_ETEMP,
			                "inbox %s: the provider's new access "
			                "token is already near its expiry",
			                ib->in.name);
	}
	if (rc == CS_EAUTH) {
		cs_err e2 = CS_ERR_INIT;

		e->due = INT64_MAX;
		if (seq_sched_auth_lost(sv->s, e->inbox_id, &e2) != 0)
			cs_log_error("inbox %lld: %s", e->inbox_id, e2.msg);
	} else if (rc != 0) {
		failed(sv, e, err);
	}
	finish(sv, e, rc, err);
	return rc;
}

static void job_done(uv_work_t *req, int status)
{
	tok_job *j = req->data;
	svc *sv = j->sv;
	tok_ent *e = find(sv->tok, j->inbox_id);
	cs_err err = CS_ERR_INIT;
	bool raced = false;
	int rc;

	(void)status;
	svc_busy_off(sv, j->inbox_id, SVC_TOKEN);
	/* stored even when the inbox left meanwhile or the service stops:
	 * the provider may have rotated the refresh token */
	rc = seq_token_refresh_apply(j->r, &raced, &err);
	seq_token_refresh_free(j->r);
	free(j);
	if (e)
		rc = applied(sv, e, rc, raced, &err);
	pump(sv);
	/* sends held for this token may go; a lost authorization moves
	 * the inbox's rows (the scheduler's part) */
	svc_wake(sv, rc == CS_EAUTH ? SVC_PLAN | SVC_DUE : SVC_DUE);
}

/* ---- what the rest of the service calls --------------------------------- */

void svc_token_start(svc *sv)
{
	svc_tokens *T = cs_xcalloc(1, sizeof *T);

	uv_timer_init(&sv->loop, &T->timer);
	T->timer.data = sv;
	sv->tok = T;
	svc_token_sync(sv);
}

void svc_token_sync(svc *sv)
{
	svc_tokens *T = sv->tok;
	size_t i;

	if (T == NULL)
		return;
	for (i = 0; i < T->n; i++)
		T->e[i]->gone = true;
	for (i = 0; i < sv->s->nib; i++) {
		const db_inbox *in = &sv->s->ib[i].in;
		seq_token_info info;
		cs_err err = CS_ERR_INIT;
		tok_ent *e;

		if (in->auth != DB_AUTH_OAUTH2)
			continue;
		e = entry(T, in->id);
		e->gone = false;
		if (set_due(sv, e, in, &info, &err) != 0)
			cs_log_error("inbox %s: %s", in->name, err.msg);
	}
	kick(sv);
}

bool svc_token_usable(svc *sv, const db_inbox *in)
{
	seq_token_info info;
	cs_err err = CS_ERR_INIT;
	tok_ent *e;

	if (sv->tok == NULL || in->auth != DB_AUTH_OAUTH2)
		return true;
	/* a failure here fails again, without the network, in the caller */
	if (seq_token_check(sv->d, in, cs_clock_now(NULL), &info, &err) != 0 ||
	    info.usable)
		return true;
	e = entry(sv->tok, in->id);
	e->gone = false;
	if (info.refresh_at < e->due)
		e->due = info.refresh_at;
	if (!running(sv, e))
		kick(sv);
	return false;
}

void svc_token_force(svc *sv, long long inbox_id, svc_token_cb cb, void *arg)
{
	tok_ent *e = entry(sv->tok, inbox_id);

	e->wait = cs_xrealloc(e->wait, (e->nwait + 1) * sizeof *e->wait);
	e->wait[e->nwait].cb = cb;
	e->wait[e->nwait].arg = arg;
	e->nwait++;
	e->gone = false;
	if (!running(sv, e)) /* one in flight answers this call too */
		e->forced = true;
	kick(sv);
}

bool svc_token_hold(wrt *r)
{
	svc *sv = r->sv;

	if (sv->tok == NULL || r->in.auth != DB_AUTH_OAUTH2 ||
	    r->w->srv.tls == IMAP_TLS_NONE)
		return false;
	if (r->fails > 0 && !r->w->forced) {
		tok_ent *e = entry(sv->tok, r->in.id);

		/* seq_watcher_reauth then reads what this refresh stored */
		r->w->forced = true;
		e->gone = false;
		if (!running(sv, e)) /* else the one in flight will do */
			e->forced = true;
		kick(sv);
	} else if (svc_token_usable(sv, &r->in)) {
		return false;
	}
	r->token_wait = true;
	r->next_try = INT64_MAX; /* not the watchers' timer: the refresh */
	svc_watcher_enter(r, W_DOWN);
	return true;
}

void svc_token_free(svc *sv)
{
	svc_tokens *T = sv->tok;
	size_t i;

	if (T == NULL)
		return;
	for (i = 0; i < T->n; i++) {
		free(T->e[i]->wait);
		free(T->e[i]);
	}
	free(T->e);
	free(T);
	sv->tok = NULL;
}
