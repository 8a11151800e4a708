/*
 * seq_service.c - `coldseq run`: the libuv loop that sends what the
 * scheduler decides and applies what the watchers see.
 *
 * Threads: the loop thread owns the database and the scheduler.  SMTP
 * sessions, IMAP connects, fetches and IDLE exchanges run on the libuv
 * pool (uv_queue_work); they touch only the network and the memory handed
 * to them, and their results come back to the loop (after_work), which
 * records them.  A watcher that only waits in IDLE holds no thread: its
 * socket is watched by the loop with uv_poll.
 *
 * Time: one timer, armed for the scheduler's next wake (nothing due: no
 * timer at all).  On a simulated clock, "fast" jumps straight to the next
 * wake whenever nothing is in flight; "xN" divides real waits by N.
 * Network timeouts and reconnect backoff always use real time.
 *
 * Never twice: an outbox row is marked 'sending', with its messages row,
 * before the worker sees it (seq_outbox_begin).  A row found 'sending' at
 * start-up is looked for in the inbox's Sent folder: found -> sent, not
 * found -> held for the user (`coldseq outbox uncertain`).
 *
 * Replies first: each inbox's follow-ups are gated until its watcher has
 * finished a sync in this run (and again after it lost its connection),
 * so replies that came in while the service was down stop their
 * sequences before the next step goes.
 */
#define _GNU_SOURCE
#include "seq_int.h"

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

#define SEND_BATCH    10
#define IDLE_REFRESH  600000LL /* re-sync an idling inbox (real ms) */
#define POLL_INTERVAL 60000LL  /* servers without IDLE (real ms) */

typedef enum wstate {
	W_DOWN,    /* not connected; next_try says when */
	W_BUSY,    /* a job runs on a worker */
	W_IDLING,  /* IDLE sent, fd polled by the loop */
	W_WAITING, /* connected, no IDLE: next sync at next_try */
} wstate;

typedef struct svc svc;

typedef struct wrt {
	svc *sv;
	db_inbox in; /* owned copy: the scheduler's may be reloaded */
	seq_watcher *w;
	wstate state;
	uv_poll_t poll;
	bool poll_open;
	int64_t next_try;  /* monotonic ms */
	int64_t last_sync; /* monotonic ms */
	int fails;
	bool gone; /* removed by a reload: close when the job returns */
} wrt;

struct svc {
	uv_loop_t loop;
	uv_timer_t timer, wtimer;
	uv_signal_t sig[3];
	uv_pipe_t ctl;
	bool ctl_open;
	db *d;
	cs_vault *v;
	const seq_service_opts *o;
	seq_sched *s;
	seq_warmup *wu;   /* warmup planner (seq_warmup.c) */
	int inflight;     /* send jobs (campaign and warmup) */
	int wjobs;        /* watcher jobs and warmup IMAP jobs */
	long long *abusy; /* inboxes with a warmup IMAP job */
	size_t nabusy;
	long long *busy; /* inboxes with a send job */
	size_t nbusy;
	wrt **w;
	size_t nw;
	bool stopping, reload;
	int exit_rc;
	cs_err err;
	const char *crash_at;
	int crash_n;
};

/* ---- crash points (tests only: COLDSEQ_CRASH_AT=point[:n]) ------------- */

static void crash_point(svc *sv, const char *point)
{
	const char *c = sv->crash_at;
	size_t n = strlen(point);

	if (c == NULL || strncmp(c, point, n) != 0 ||
	    (c[n] != '\0' && c[n] != ':'))
		return;
	if (--sv->crash_n > 0)
		return;
	cs_log_warn("crash point %s: killing myself (test)", point);
	raise(SIGKILL);
}

/* ---- the lock and the control socket ---------------------------------- */

static char *data_path(const char *dir, const char *name)
{
	return cs_xasprintf("%s/%s", dir, name);
}

static int take_lock(const char *data_dir, int *fd_out, cs_err *err)
{
	char *p = data_path(data_dir, "coldseq.pid"), buf[32];
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	seq_service_state st;
	int tries;

	if (fd < 0) {
		int e = errno;

		cs_err_set(err, CS_EIO, "cannot open %s: %s", p, strerror(e));
		free(p);
		return CS_EIO;
	}
	/* a status probe holds a shared lock for an instant: try a little */
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; tries++) {
		struct timespec ts = {0, 50000000};

		if (tries < 10) {
			nanosleep(&ts, NULL);
			continue;
		}
		close(fd);
		memset(&st, 0, sizeof st);
		seq_service_probe(data_dir, &st, NULL);
		cs_err_set(err, CS_EEXIST,
		           "coldseq is already running for %s (pid %ld)",
		           data_dir, st.pid);
		free(p);
		return CS_EEXIST;
	}
	snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 ||
	    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		cs_err_set(err, CS_EIO, "cannot write %s", p);
		close(fd);
		free(p);
		return CS_EIO;
	}
	free(p);
	*fd_out = fd;
	return 0;
}

int seq_service_nudge(const char *data_dir, bool *running, cs_err *err)
{
	char *p = data_path(data_dir, "control.sock");
	struct sockaddr_un sa;
	int fd, rc = 0;

	*running = false;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(p) >= sizeof sa.sun_path) {
		free(p);
		return cs_err_set(err, CS_EINVAL, "data dir path too long");
	}
	memcpy(sa.sun_path, p, strlen(p) + 1);
	free(p);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cs_err_set(err, CS_EIO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		*running = true;
		if (write(fd, "reload\n", 7) != 7)
			rc =
			    cs_err_set(err, CS_EIO, "cannot nudge the service");
	}
	close(fd);
	return rc;
}

/* ---- scheduling -------------------------------------------------------- */

static void arm(svc *sv, int64_t wake);
static void tick(svc *sv);
static void dispatch(svc *sv);
static void watch_start(wrt *r);

static bool is_busy(svc *sv, long long id)
{
	size_t i;

	for (i = 0; i < sv->nbusy; i++)
		if (sv->busy[i] == id)
			return true;
	return false;
}

static void set_busy(svc *sv, long long id, bool busy)
{
	size_t i;

	if (busy) {
		sv->busy =
		    cs_xrealloc(sv->busy, (sv->nbusy + 1) * sizeof *sv->busy);
		sv->busy[sv->nbusy++] = id;
		return;
	}
	for (i = 0; i < sv->nbusy; i++)
		if (sv->busy[i] == id) {
			sv->busy[i] = sv->busy[--sv->nbusy];
			return;
		}
}

static void fatal_stop(svc *sv, const cs_err *err)
{
	cs_log_error("%s", err->msg);
	sv->err = *err;
	sv->exit_rc = err->code ? err->code : CS_EINVAL;
	sv->stopping = true;
	uv_stop(&sv->loop);
}

static void timer_cb(uv_timer_t *t)
{
	tick(t->data);
}

static void reload_all(svc *sv);

static void tick(svc *sv)
{
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(sv->o->clock), wake = INT64_MAX;
	int queued = 0;

	if (sv->stopping) {
		if (sv->inflight == 0 && sv->wjobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	if (sv->o->until && now >= sv->o->until) {
		cs_log_info("the clock passed --until: stopping");
		sv->stopping = true;
		if (sv->inflight == 0 && sv->wjobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	/* ---- warmup (seq_warmup.c): plan, health; may pause inboxes */
	{
		int64_t wwake = INT64_MAX;
		bool changed = false;

		if (seq_warmup_pass(sv->wu, &wwake, &changed, &err) != 0) {
			fatal_stop(sv, &err);
			return;
		}
		if (changed)
			sv->reload = true;
		wake = wwake;
	}
	if (sv->reload)
		reload_all(sv);
	{
		int64_t swake = INT64_MAX;

		if (seq_sched_pass(sv->s, &queued, &swake, &err) != 0) {
			fatal_stop(sv, &err);
			return;
		}
		if (swake < wake)
			wake = swake;
	}
	if (queued)
		crash_point(sv, "queued");
	dispatch(sv);
	arm(sv, wake);
}

static void arm(svc *sv, int64_t wake)
{
	int64_t now = cs_clock_now(sv->o->clock), delay;

	if (sv->stopping)
		return;
	if (sv->o->until && wake > sv->o->until)
		wake = sv->o->until;
	if (wake == INT64_MAX) { /* nothing scheduled: no timer at all */
		uv_timer_stop(&sv->timer);
		return;
	}
	if (sv->o->fast) {
		/* jump only when nothing is in flight; completions tick */
		if (sv->inflight || sv->wjobs)
			return;
		if (wake > now)
			cs_clock_advance_to(sv->o->clock, wake);
		uv_timer_start(&sv->timer, timer_cb, 0, 0);
		return;
	}
	delay = wake > now ? wake - now : 0;
	if (sv->o->speed > 1.0)
		delay = (int64_t)((double)delay / sv->o->speed);
	uv_timer_start(&sv->timer, timer_cb, (uint64_t)delay, 0);
}

/* ---- sending ------------------------------------------------------------ */

typedef struct send_work {
	uv_work_t req;
	svc *sv;
	long long inbox_id;
	db_inbox in; /* owned: srv and auth point into it */
	smtp_server srv;
	smtp_auth auth;
	imap_server isrv;
	imap_auth iauth;
	cs_secret *secret;
	bool sent_copy;
	bool retried;   /* OAuth2: the token was refreshed once already */
	bool auth_lost; /* OAuth2: the provider refused the refresh */
	seq_job jobs[SEND_BATCH];
	smtp_result res[SEND_BATCH];
	size_t n;
} send_work;

static void send_run(uv_work_t *req)
{
	send_work *w = req->data;
	smtp_session *s = NULL;
	size_t i;

	if (smtp_open(&w->srv, &w->auth, &s, &w->res[0]) != 0) {
		for (i = 1; i < w->n; i++)
			w->res[i] = w->res[0];
		return;
	}
	for (i = 0; i < w->n; i++) {
		smtp_send(s, w->jobs[i].from, w->jobs[i].contact,
		          w->jobs[i].raw.data, w->jobs[i].raw.len, &w->res[i]);
		if (w->res[i].verdict.outcome == SMTP_SENT)
			crash_point(w->sv, "after_dot");
		if (w->res[i].verdict.outcome == SMTP_INBOX_FAILURE ||
		    w->res[i].verdict.outcome == SMTP_UNCERTAIN ||
		    !smtp_alive(s)) {
			size_t k;

			/* the rest were never handed over */
			for (k = i + 1; k < w->n; k++) {
				memset(&w->res[k], 0, sizeof w->res[k]);
				w->res[k].verdict.outcome = SMTP_DEFERRED;
				w->res[k].verdict.retry_after_s = 60;
				snprintf(w->res[k].detail,
				         sizeof w->res[k].detail,
				         "not attempted: the session ended");
			}
			break;
		}
	}
	smtp_close(s);
	if (w->sent_copy)
		for (i = 0; i < w->n; i++) {
			char *folder = NULL;
			cs_err err = CS_ERR_INIT;

			if (w->res[i].verdict.outcome != SMTP_SENT)
				continue;
			if (seq_sent_copy_to(
			        &w->isrv, &w->iauth, w->jobs[i].inbox,
			        w->jobs[i].raw.data, w->jobs[i].raw.len,
			        &folder, &err) != 0)
				cs_log_warn("inbox %s: no copy in Sent: %s",
				            w->jobs[i].inbox, err.msg);
			free(folder);
		}
}

static void send_done(uv_work_t *req, int status);

/* OAuth2 (issue 12): the server refused an oauth2 inbox's access token
 * at AUTH (it expired early or was revoked).  Force one refresh and run
 * the whole batch once more, before any result is recorded: AUTH comes
 * before MAIL, so nothing was handed over, and the rows stay 'sending'
 * with their Message-IDs (a crash meanwhile leaves them uncertain, as
 * for any batch in flight).  The refresh runs here, on the loop thread
 * (at most 10 s, seq_token.c).  A second refusal is recorded as usual
 * (inbox failure); a refused refresh marks w->auth_lost. */
static bool oauth_retry(send_work *w)
{
	cs_err err = CS_ERR_INIT;
	cs_secret *fresh = NULL;

	if (w->retried || w->n == 0 || !seq_token_refused(&w->in, &w->res[0]))
		return false;
	w->retried = true;
	if (seq_token_get(w->sv->d, w->sv->v, &w->in, true, &fresh, &err) !=
	    0) {
		cs_log_warn("inbox %s: %s", w->in.name, err.msg);
		w->auth_lost = err.code == CS_EAUTH;
		return false;
	}
	cs_log_info("inbox %s: the server refused the access token; "
	            "refreshed it, trying again once",
	            w->in.name);
	cs_secret_free(w->secret);
	w->secret = fresh;
	w->auth.secret = fresh;
	w->iauth.secret = fresh;
	memset(w->res, 0, sizeof w->res);
	uv_queue_work(&w->sv->loop, &w->req, send_run, send_done);
	return true;
}

static void send_done(uv_work_t *req, int status)
{
	send_work *w = req->data;
	svc *sv = w->sv;
	size_t i;

	(void)status;
	if (!sv->stopping && oauth_retry(w))
		return; /* still in flight, still busy */
	for (i = 0; i < w->n; i++) {
		cs_err err = CS_ERR_INIT;
		smtp_outcome o = w->res[i].verdict.outcome;

		if (o == SMTP_SENT && w->jobs[i].warmup_id)
			cs_log_info("sent warmup (%s) to %s from %s",
			            w->jobs[i].variant, w->jobs[i].contact,
			            w->jobs[i].inbox);
		else if (o == SMTP_SENT)
			cs_log_info("sent %s step %d to %s from %s",
			            w->jobs[i].campaign, w->jobs[i].step,
			            w->jobs[i].contact, w->jobs[i].inbox);
		else
			cs_log_warn("%s to %s from %s: %s",
			            smtp_outcome_name(o), w->jobs[i].contact,
			            w->jobs[i].inbox,
			            w->res[i].detail[0] ? w->res[i].detail
			                                : w->res[i].text);
		if ((w->jobs[i].warmup_id
		         ? seq_warmup_finish(sv->wu, &w->jobs[i], &w->res[i],
		                             &err)
		         : seq_outbox_finish(sv->s, &w->jobs[i], &w->res[i],
		                             &err)) != 0)
			cs_log_error("recording the result for %s: %s",
			             w->jobs[i].contact, err.msg);
		seq_job_free(&w->jobs[i]);
	}
	if (w->auth_lost) {
		cs_err err = CS_ERR_INIT;

		if (seq_sched_auth_lost(sv->s, w->inbox_id, &err) != 0)
			cs_log_error("inbox %s: %s", w->in.name, err.msg);
	}
	set_busy(sv, w->inbox_id, false);
	cs_secret_free(w->secret);
	db_inbox_free(&w->in);
	free(w);
	sv->inflight--;
	tick(sv);
}

typedef struct collect {
	svc *sv;
	send_work *cur;
	int started;
} collect;

static void launch(collect *c)
{
	send_work *w = c->cur;

	c->cur = NULL;
	if (w == NULL)
		return;
	if (w->n == 0) {
		cs_secret_free(w->secret);
		db_inbox_free(&w->in);
		free(w);
		return;
	}
	crash_point(c->sv, "sending");
	w->req.data = w;
	set_busy(c->sv, w->inbox_id, true);
	c->sv->inflight++;
	uv_queue_work(&c->sv->loop, &w->req, send_run, send_done);
	c->started++;
}

/* A send job for one inbox, with its own copy of the inbox and its
 * settings (a reload may free the scheduler's); NULL when the inbox's
 * settings cannot be read (logged). */
static send_work *send_work_new(svc *sv, const db_inbox *src)
{
	send_work *w = cs_xcalloc(1, sizeof *w);
	cs_secret *isec = NULL;
	cs_err err = CS_ERR_INIT;

	w->sv = sv;
	w->inbox_id = src->id;
	if (db_inbox_get(sv->d, src->name, &w->in, &err) != 0 ||
	    seq_inbox_smtp(sv->d, sv->v, &w->in, &w->srv, &w->auth, &w->secret,
	                   &err) != 0) {
		cs_log_error("inbox %s: %s", src->name, err.msg);
		cs_secret_free(w->secret);
		db_inbox_free(&w->in);
		free(w);
		/* OAuth2: the refresh was refused: stop this inbox only (its
		 * next rows are then moved as paused) */
		if (err.code == CS_EAUTH &&
		    seq_sched_auth_lost(sv->s, src->id, &err) != 0)
			cs_log_error("inbox %s: %s", src->name, err.msg);
		return NULL;
	}
	w->sent_copy = seq_wants_sent_copy(&w->in) &&
	               seq_inbox_imap(sv->d, sv->v, &w->in, &w->isrv, &w->iauth,
	                              &isec, &err) == 0;
	/* the same secret: keep one copy alive for both */
	cs_secret_free(isec);
	w->iauth.secret = w->secret;
	return w;
}

static int collect_row(const db_outbox *o, void *arg)
{
	collect *c = arg;
	svc *sv = c->sv;
	cs_err err = CS_ERR_INIT;
	seq_ibox *ib;
	bool ready = false;

	if (c->cur && c->cur->inbox_id != o->inbox_id)
		launch(c);
	if (is_busy(sv, o->inbox_id) || sv->inflight >= sv->o->workers)
		return 0;
	ib = seq_find_inbox(sv->s, o->inbox_id);
	if (ib == NULL)
		return 0;
	if (!ib->active) {
		seq_job none;

		/* paused, or lost its authorization: begin moves the row past
		 * the pause without credentials (which would fail); a first
		 * step handed back to other inboxes meanwhile is gone */
		if (seq_outbox_begin(sv->s, o->id, &none, &ready, &err) != 0 &&
		    err.code != CS_ENOTFOUND)
			cs_log_error("outbox row %lld: %s", o->id, err.msg);
		return 0;
	}
	if (c->cur == NULL && (c->cur = send_work_new(sv, &ib->in)) == NULL)
		return 0;
	if (c->cur->n >= SEND_BATCH)
		return 0;
	if (seq_outbox_begin(sv->s, o->id, &c->cur->jobs[c->cur->n], &ready,
	                     &err) != 0) {
		cs_log_error("outbox row %lld: %s", o->id, err.msg);
		return 0;
	}
	if (ready)
		c->cur->n++;
	return 0;
}

static void warmup_dispatch(svc *sv);

static void dispatch(svc *sv)
{
	collect c = {sv, NULL, 0};
	cs_err err = CS_ERR_INIT;

	if (sv->stopping || sv->inflight >= sv->o->workers)
		return;
	if (db_outbox_due(sv->d, cs_clock_now(sv->o->clock), 200, collect_row,
	                  &c, &err) != 0)
		cs_log_error("outbox: %s", err.msg);
	launch(&c);
	warmup_dispatch(sv);
}

/* ---- warmup: sends through the same jobs, IMAP actions ----------------- */

/* Due warmup sends join the send jobs: same workers, one SMTP session
 * per inbox at a time (an inbox busy with campaign mail waits). */
static int collect_warmup(const db_warmup_item *it, void *arg)
{
	collect *c = arg;
	svc *sv = c->sv;
	cs_err err = CS_ERR_INIT;
	seq_ibox *ib;
	bool ready = false;

	if (c->cur && c->cur->inbox_id != it->inbox_id)
		launch(c);
	if (is_busy(sv, it->inbox_id) || sv->inflight >= sv->o->workers)
		return 0;
	ib = seq_find_inbox(sv->s, it->inbox_id);
	if (ib == NULL)
		return 0;
	if (c->cur == NULL && (c->cur = send_work_new(sv, &ib->in)) == NULL)
		return 0;
	if (c->cur->n >= SEND_BATCH)
		return 0;
	if (seq_warmup_begin(sv->wu, it, &c->cur->jobs[c->cur->n], &ready,
	                     &err) != 0) {
		cs_log_error("warmup send %lld: %s", it->id, err.msg);
		return 0;
	}
	if (ready)
		c->cur->n++;
	return 0;
}

typedef struct act_work {
	uv_work_t req;
	svc *sv;
	long long inbox_id;
	db_inbox in; /* owned: srv and auth point into it */
	imap_server srv;
	imap_auth auth;
	cs_secret *secret;
	seq_warmup_op *ops;
	size_t n;
} act_work;

static bool is_abusy(svc *sv, long long id)
{
	size_t i;

	for (i = 0; i < sv->nabusy; i++)
		if (sv->abusy[i] == id)
			return true;
	return false;
}

static void act_run(uv_work_t *req)
{
	act_work *a = req->data;
	cs_err err = CS_ERR_INIT;

	seq_warmup_imap(&a->srv, &a->auth, a->ops, a->n, &err);
}

static void act_done(uv_work_t *req, int status)
{
	act_work *a = req->data;
	svc *sv = a->sv;
	size_t i;

	(void)status;
	for (i = 0; i < a->n; i++) {
		cs_err err = CS_ERR_INIT;

		if (seq_warmup_op_done(sv->d, sv->o->clock, &a->ops[i], &err) !=
		    0)
			cs_log_error("warmup action %lld: %s", a->ops[i].id,
			             err.msg);
		seq_warmup_op_free(&a->ops[i]);
	}
	for (i = 0; i < sv->nabusy; i++)
		if (sv->abusy[i] == a->inbox_id) {
			sv->abusy[i] = sv->abusy[--sv->nabusy];
			break;
		}
	free(a->ops);
	cs_secret_free(a->secret);
	db_inbox_free(&a->in);
	free(a);
	sv->wjobs--;
	tick(sv);
}

typedef struct act_collect {
	svc *sv;
	act_work *cur;
} act_collect;

static void act_launch(act_collect *c)
{
	act_work *a = c->cur;

	c->cur = NULL;
	if (a == NULL)
		return;
	c->sv->abusy = cs_xrealloc(c->sv->abusy,
	                           (c->sv->nabusy + 1) * sizeof *c->sv->abusy);
	c->sv->abusy[c->sv->nabusy++] = a->inbox_id;
	a->req.data = a;
	c->sv->wjobs++;
	uv_queue_work(&c->sv->loop, &a->req, act_run, act_done);
}

static int collect_action(const db_warmup_action *x, void *arg)
{
	act_collect *c = arg;
	svc *sv = c->sv;
	cs_err err = CS_ERR_INIT;
	seq_warmup_op *op;
	seq_ibox *ib;

	if (c->cur && c->cur->inbox_id != x->inbox_id)
		act_launch(c);
	if (is_abusy(sv, x->inbox_id) ||
	    (ib = seq_find_inbox(sv->s, x->inbox_id)) == NULL)
		return 0;
	if (c->cur == NULL) {
		act_work *a = cs_xcalloc(1, sizeof *a);

		a->sv = sv;
		a->inbox_id = x->inbox_id;
		if (db_inbox_get(sv->d, ib->in.name, &a->in, &err) != 0 ||
		    seq_inbox_imap(sv->d, sv->v, &a->in, &a->srv, &a->auth,
		                   &a->secret, &err) != 0) {
			cs_log_error("inbox %s: %s", ib->in.name, err.msg);
			cs_secret_free(a->secret);
			db_inbox_free(&a->in);
			free(a);
			return 0;
		}
		c->cur = a;
	}
	if (c->cur->n >= 50)
		return 0;
	c->cur->ops =
	    cs_xrealloc(c->cur->ops, (c->cur->n + 1) * sizeof *c->cur->ops);
	op = &c->cur->ops[c->cur->n++];
	memset(op, 0, sizeof *op);
	op->id = x->id;
	op->inbox_id = x->inbox_id;
	op->message_id = cs_xstrdup(x->message_id);
	op->action = cs_xstrdup(x->action);
	op->folder = cs_xstrdup(x->folder);
	op->flag = x->flag;
	op->uidvalidity = x->uidvalidity;
	op->uid = x->uid;
	op->attempts = x->attempts;
	return 0;
}

static void warmup_dispatch(svc *sv)
{
	collect c = {sv, NULL, 0};
	act_collect ac = {sv, NULL};
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(sv->o->clock);

	if (sv->inflight < sv->o->workers &&
	    db_warmup_plan_due(sv->d, now, collect_warmup, &c, &err) != 0)
		cs_log_error("warmup: %s", err.msg);
	launch(&c);
	if (db_warmup_actions_due(sv->d, now, collect_action, &ac, &err) != 0)
		cs_log_error("warmup actions: %s", err.msg);
	act_launch(&ac);
}

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
static void arm_watchers(svc *sv);

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
	if (strcmp(r->in.auth, "oauth2") == 0 && !r->w->forced &&
	    err->code != CS_EAUTH)
		backoff = 0;
	r->fails++;
	cs_log_warn("inbox %s: watcher: %s (retry in %llds)", r->in.name,
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
		tick(sv);
		return;
	}
	if (ww->rc != 0) {
		watch_down(r, &ww->err);
	} else if (ww->op == OP_SYNC) {
		r->fails = 0;
		r->last_sync = cs_mono_ms();
		if (!more) /* caught up: this inbox's replies are read */
			seq_sched_gate(sv->s, r->in.id, false);
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
	arm_watchers(sv);
	tick(sv);
}

static void watch_job(wrt *r, wop op)
{
	svc *sv = r->sv;
	watch_work *ww = cs_xcalloc(1, sizeof *ww);
	cs_err err = CS_ERR_INIT;

	ww->r = r;
	ww->op = op;
	ww->was_idling = r->state == W_IDLING;
	/* OAuth2: a (re)connect gets a token valid now, refreshed once more
	 * after a failed attempt (issue 12; a no-op for passwords) */
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
		arm_watchers(sv);
		return;
	}
	if (op == OP_SYNC && seq_watcher_plan(r->w, &ww->plan, &err) != 0) {
		free(ww);
		fatal_stop(sv, &err);
		return;
	}
	if (ww->was_idling && r->poll_open)
		uv_poll_stop(&r->poll);
	r->state = W_BUSY;
	ww->req.data = ww;
	sv->wjobs++;
	uv_queue_work(&sv->loop, &ww->req, watch_run, watch_done);
}

static void watch_start(wrt *r)
{
	watch_job(r, OP_SYNC);
}

/* The watchers' one timer (real time), armed for the earliest of: a
 * reconnect, a sync of a server without IDLE, an IDLE refresh.  Nothing
 * to do: no timer, so an idle service does not wake up. */
static void wtimer_cb(uv_timer_t *t);

static void arm_watchers(svc *sv)
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
			watch_start(r);
		else if (r->state == W_IDLING &&
		         now - r->last_sync >= IDLE_REFRESH)
			watch_job(r, OP_SYNC);
	}
	arm_watchers(sv);
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
	sv->w = cs_xrealloc(sv->w, (sv->nw + 1) * sizeof(wrt *));
	sv->w[sv->nw++] = r;
	watch_start(r);
	return 0;
}

static void sync_watchers(svc *sv)
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
		if (!have && add_watcher(sv, &sv->s->ib[i].in, &err) != 0)
			cs_log_error("inbox %s: cannot watch: %s",
			             sv->s->ib[i].in.name, err.msg);
	}
}

static void reload_all(svc *sv)
{
	cs_err err = CS_ERR_INIT;

	sv->reload = false;
	if (seq_sched_reload(sv->s, &err) != 0 ||
	    seq_warmup_reload(sv->wu, &err) != 0) {
		cs_log_error("reload: %s", err.msg);
		return;
	}
	sync_watchers(sv);
}

/* ---- control socket and signals -------------------------------------- */

typedef struct ctl_conn {
	uv_pipe_t pipe;
	char buf[64];
} ctl_conn;

static void ctl_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
	ctl_conn *c = h->data;

	(void)sugg;
	b->base = c->buf;
	b->len = sizeof c->buf;
}

static void ctl_closed(uv_handle_t *h)
{
	free(h->data);
}

static void ctl_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	svc *sv = st->loop->data;

	(void)b;
	if (n > 0) { /* any message is a nudge: settings or data changed */
		sv->reload = true;
		tick(sv);
	}
	if (n < 0)
		uv_close((uv_handle_t *)st, ctl_closed);
}

static void ctl_accept(uv_stream_t *server, int status)
{
	ctl_conn *c;

	if (status < 0)
		return;
	c = cs_xcalloc(1, sizeof *c);
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) == 0)
		uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc, ctl_read);
	else
		uv_close((uv_handle_t *)&c->pipe, ctl_closed);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	svc *sv = h->data;
	size_t i;

	if (signum == SIGHUP) {
		cs_log_info("SIGHUP: reloading settings");
		sv->reload = true;
		tick(sv);
		return;
	}
	cs_log_info("%s: finishing what is in flight, then stopping",
	            signum == SIGTERM ? "SIGTERM" : "SIGINT");
	sv->stopping = true;
	uv_timer_stop(&sv->timer);
	uv_timer_stop(&sv->wtimer);
	for (i = 0; i < sv->nw; i++)
		if (sv->w[i]->poll_open && sv->w[i]->state == W_IDLING)
			uv_poll_stop(&sv->w[i]->poll);
	if (sv->inflight == 0 && sv->wjobs == 0)
		uv_stop(&sv->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_NAMED_PIPE && h->data ? ctl_closed
		                                                : NULL);
}

/* ---- start-up: rows left 'sending' by a crash ---------------------------- */

typedef struct unc {
	long long id, inbox_id;
	char *message_id;
} unc;

typedef struct unc_list {
	unc *v;
	size_t n;
} unc_list;

static int collect_sending(const db_outbox *o, void *arg)
{
	unc_list *l = arg;

	l->v = cs_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].id = o->id;
	l->v[l->n].inbox_id = o->inbox_id;
	l->v[l->n].message_id = cs_xstrdup(o->message_id);
	l->n++;
	return 0;
}

/* Look for each uncertain row's Message-ID in its inbox's Sent folder
 * (synchronously, before the loop starts: nothing else runs yet). */
static int resolve_uncertain(svc *sv, cs_err *err)
{
	unc_list l = {NULL, 0};
	size_t i;
	int rc;

	if ((rc = db_outbox_list(sv->d, "sending", collect_sending, &l, err)) !=
	    0)
		return rc;
	for (i = 0; i < l.n && rc == 0; i++) {
		seq_ibox *ib = seq_find_inbox(sv->s, l.v[i].inbox_id);
		imap_server srv;
		imap_auth auth;
		cs_secret *sec = NULL;
		cs_err e2 = CS_ERR_INIT;
		bool found = false;
		int frc = CS_ENOTFOUND;

		if (ib && seq_inbox_imap(sv->d, sv->v, &ib->in, &srv, &auth,
		                         &sec, &e2) == 0)
			frc = seq_sent_find(&srv, &auth, l.v[i].message_id,
			                    &found, &e2);
		cs_secret_free(sec);
		rc = seq_outbox_uncertain(sv->s, l.v[i].id, frc == 0, found,
		                          frc ? e2.msg : NULL, err);
		cs_log_warn("outbox row %lld (%s) was being sent when coldseq "
		            "stopped: %s",
		            l.v[i].id, l.v[i].message_id,
		            frc     ? "could not check Sent: held"
		            : found ? "found in Sent: sent"
		                    : "not in Sent: held for 'coldseq outbox "
		                      "uncertain'");
	}
	for (i = 0; i < l.n; i++)
		free(l.v[i].message_id);
	free(l.v);
	return rc;
}

/* ---- run ------------------------------------------------------------- */

static int loopback_only(svc *sv, cs_err *err)
{
	size_t i;

	for (i = 0; i < sv->s->nib; i++) {
		const db_inbox *in = &sv->s->ib[i].in;

		if (!cs_is_loopback_host(in->smtp_host) ||
		    !cs_is_loopback_host(in->imap_host))
			return cs_err_set(
			    err, CS_EINVAL,
			    "a simulated clock is refused: inbox '%s' uses "
			    "%s, which is not on loopback (a simulated run "
			    "could push days of volume at a real provider)",
			    in->name,
			    cs_is_loopback_host(in->smtp_host) ? in->imap_host
			                                       : in->smtp_host);
	}
	return 0;
}

int seq_service_run(db *d, cs_vault *v, const seq_service_opts *o, cs_err *err)
{
	svc sv;
	int lockfd = -1, rc, sigs[3] = {SIGTERM, SIGINT, SIGHUP}, i;
	char *sock = NULL, *pidp = NULL;
	mode_t old;

	memset(&sv, 0, sizeof sv);
	sv.d = d;
	sv.v = v;
	sv.o = o;
	sv.crash_at = getenv("COLDSEQ_CRASH_AT");
	if (sv.crash_at) {
		const char *c = strchr(sv.crash_at, ':');

		sv.crash_n = c ? atoi(c + 1) : 1;
	}
	if ((rc = take_lock(o->data_dir, &lockfd, err)) != 0)
		return rc;
	if ((rc = seq_sched_open(d, v, o->clock, &sv.s, err)) != 0 ||
	    (rc = seq_warmup_open(d, o->clock, &sv.wu, err)) != 0)
		goto out;
	if (cs_clock_is_sim(o->clock) && (rc = loopback_only(&sv, err)) != 0)
		goto out;
	if (o->watch)
		seq_sched_gate(sv.s, 0, true);
	if ((rc = resolve_uncertain(&sv, err)) != 0)
		goto out;
	uv_loop_init(&sv.loop);
	sv.loop.data = &sv;
	uv_timer_init(&sv.loop, &sv.timer);
	sv.timer.data = &sv;
	uv_timer_init(&sv.loop, &sv.wtimer);
	sv.wtimer.data = &sv;
	for (i = 0; i < 3; i++) {
		uv_signal_init(&sv.loop, &sv.sig[i]);
		sv.sig[i].data = &sv;
		uv_signal_start(&sv.sig[i], signal_cb, sigs[i]);
	}
	sock = data_path(o->data_dir, "control.sock");
	unlink(sock);
	uv_pipe_init(&sv.loop, &sv.ctl, 0);
	sv.ctl.data = NULL;
	old = umask(0177); /* the socket is the owner's only (0600) */
	rc = uv_pipe_bind(&sv.ctl, sock);
	umask(old);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&sv.ctl, 16, ctl_accept);
	if (rc != 0) {
		cs_err_set(err, CS_EIO, "control socket %s: %s", sock,
		           uv_strerror(rc));
		rc = CS_EIO;
		goto loop_out;
	}
	sync_watchers(&sv);
	cs_log_info("coldseq running (pid %ld, data %s%s)", (long)getpid(),
	            o->data_dir,
	            cs_clock_is_sim(o->clock) ? ", simulated clock" : "");
	tick(&sv);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	rc = sv.exit_rc;
	if (rc)
		*err = sv.err;
	/* drain: every job has returned (uv_stop waits for none: finish) */
	while (sv.inflight || sv.wjobs)
		uv_run(&sv.loop, UV_RUN_ONCE);
loop_out:
	for (i = 0; i < (int)sv.nw; i++) {
		cs_err e2 = CS_ERR_INIT;

		if (sv.w[i]->state == W_IDLING)
			seq_watcher_idle_done(sv.w[i]->w, &e2);
		seq_watcher_close(sv.w[i]->w);
		sv.w[i]->w = NULL;
	}
	uv_walk(&sv.loop, close_walk, NULL);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	for (i = 0; i < (int)sv.nw; i++) {
		db_inbox_free(&sv.w[i]->in);
		free(sv.w[i]);
	}
	free(sv.w);
	uv_loop_close(&sv.loop);
	unlink(sock);
out:
	free(sv.busy);
	free(sv.abusy);
	seq_warmup_close(sv.wu);
	seq_sched_close(sv.s);
	pidp = data_path(o->data_dir, "coldseq.pid");
	unlink(pidp);
	free(pidp);
	free(sock);
	if (lockfd >= 0)
		close(lockfd);
	if (rc == 0)
		cs_log_info("coldseq stopped");
	return rc;
}
