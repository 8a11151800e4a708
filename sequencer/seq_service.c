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
 * Never twice: an outbox row (campaign step, warmup send or test) is
 * marked 'sending', with its messages row, before the worker sees it
 * (seq_outbox_record).  A row found 'sending' at start-up is looked for
 * in the inbox's Sent folder (seq_dispatch_resolve): found -> sent, not
 * found -> held for the user (`coldseq outbox uncertain`), or lost for a
 * warmup send; it is never sent again blindly.
 *
 * Replies first: each inbox's follow-ups are gated until its watcher has
 * finished a sync in this run (and again after it lost its connection),
 * so replies that came in while the service was down stop their
 * sequences before the next step goes.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

/* ---- crash points (tests only: COLDSEQ_CRASH_AT=point[:n]) ------------- */

void svc_crash_point(svc *sv, const char *point)
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

/* ---- the control socket (the lock: seq_status.c) ----------------------- */

static char *data_path(const char *dir, const char *name)
{
	return cs_xasprintf("%s/%s", dir, name);
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

/* A pass that was due and could start nothing (every worker busy, its
 * inbox busy or waiting for a token) looks again after this much real
 * time at the latest, whatever the clock; what ends meanwhile ticks at
 * once. */
#define STALL_MS 1000

static void arm(svc *sv, int64_t wake, bool stalled);

bool svc_is_busy(svc *sv, long long id)
{
	size_t i;

	for (i = 0; i < sv->nbusy; i++)
		if (sv->busy[i] == id)
			return true;
	return false;
}

void svc_set_busy(svc *sv, long long id, bool busy)
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

void svc_stop(svc *sv)
{
	sv->stopping = true;
	atomic_store(&sv->halt, true);
}

void svc_fatal_stop(svc *sv, const cs_err *err)
{
	cs_log_error("%s", err->msg);
	sv->err = *err;
	sv->exit_rc = err->code ? err->code : CS_EINVAL;
	svc_stop(sv);
	uv_stop(&sv->loop);
}

static void timer_cb(uv_timer_t *t)
{
	svc_tick(t->data);
}

static void again_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
	svc_tick(h->data);
}

void svc_tick(svc *sv)
{
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(sv->o->clock), wake = INT64_MAX;
	int queued = 0, jobs = sv->inflight + sv->wjobs;

	if (sv->stopping) {
		if (sv->inflight == 0 && sv->wjobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	if (sv->o->until && now >= sv->o->until) {
		cs_log_info("the clock passed --until: stopping");
		svc_stop(sv);
		if (sv->inflight == 0 && sv->wjobs == 0)
			uv_stop(&sv->loop);
		return;
	}
	/* ---- warmup (seq_warmup.c): plan, health; may pause inboxes */
	{
		int64_t wwake = INT64_MAX;
		bool changed = false;

		if (seq_warmup_pass(sv->wu, &wwake, &changed, &err) != 0) {
			svc_fatal_stop(sv, &err);
			return;
		}
		if (changed)
			sv->reload = true;
		wake = wwake;
	}
	if (sv->reload)
		svc_reload_all(sv);
	{
		int64_t swake = INT64_MAX;

		if (seq_sched_pass(sv->s, &queued, &swake, &err) != 0) {
			svc_fatal_stop(sv, &err);
			return;
		}
		if (swake < wake)
			wake = swake;
	}
	if (queued)
		svc_crash_point(sv, "queued");
	svc_dispatch(sv);
	arm(sv, wake, queued == 0 && sv->inflight + sv->wjobs == jobs);
}

/* The next tick.  One due now runs at the next turn of the loop, after
 * its I/O (an idle handle: a zero timer started from a timer callback
 * would run again before any I/O, signals and completions included, and
 * the loop would never get out of its timers). */
static void arm(svc *sv, int64_t wake, bool stalled)
{
	int64_t now = cs_clock_now(sv->o->clock), delay;

	if (sv->stopping)
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
		/* jump only when nothing is in flight; completions tick */
		if (sv->inflight || sv->wjobs)
			return;
		if (wake > now)
			cs_clock_advance_to(sv->o->clock, wake);
		uv_idle_start(&sv->again, again_cb);
		return;
	}
	delay = wake > now ? wake - now : 0;
	if (sv->o->speed > 1.0)
		delay = (int64_t)((double)delay / sv->o->speed);
	if (delay == 0) {
		uv_timer_stop(&sv->timer);
		uv_idle_start(&sv->again, again_cb);
		return;
	}
	uv_timer_start(&sv->timer, timer_cb, (uint64_t)delay, 0);
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
		svc_tick(sv);
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
		svc_tick(sv);
		return;
	}
	cs_log_info("%s: finishing what is in flight, then stopping",
	            signum == SIGTERM ? "SIGTERM" : "SIGINT");
	svc_stop(sv);
	uv_timer_stop(&sv->timer);
	uv_idle_stop(&sv->again);
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
	seq_lock *own = NULL; /* the lock when the caller did not take it */
	int rc, sigs[3] = {SIGTERM, SIGINT, SIGHUP}, i;
	char *sock = NULL;
	mode_t old;

	memset(&sv, 0, sizeof sv);
	atomic_init(&sv.halt, false);
	sv.d = d;
	sv.v = v;
	sv.o = o;
	sv.crash_at = getenv("COLDSEQ_CRASH_AT");
	if (sv.crash_at) {
		const char *c = strchr(sv.crash_at, ':');

		sv.crash_n = c ? atoi(c + 1) : 1;
	}
	if (o->lock == NULL &&
	    (rc = seq_lock_take(o->data_dir, SEQ_LOCK_SERVICE, &own, NULL,
	                        err)) != 0)
		return rc;
	if ((rc = seq_sched_open(d, v, o->clock, &sv.s, err)) != 0 ||
	    (rc = seq_warmup_open(d, o->clock, &sv.wu, err)) != 0)
		goto out;
	if (cs_clock_is_sim(o->clock) && (rc = loopback_only(&sv, err)) != 0)
		goto out;
	if (o->watch)
		seq_sched_gate(sv.s, 0, true);
	if ((rc = svc_send_open(&sv, err)) != 0 ||
	    (rc = svc_send_resolve(&sv, err)) != 0)
		goto out;
	uv_loop_init(&sv.loop);
	sv.loop.data = &sv;
	uv_timer_init(&sv.loop, &sv.timer);
	sv.timer.data = &sv;
	uv_idle_init(&sv.loop, &sv.again);
	sv.again.data = &sv;
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
	svc_token_start(&sv);
	svc_sync_watchers(&sv);
	cs_log_info("coldseq running (pid %ld, data %s%s)", (long)getpid(),
	            o->data_dir,
	            cs_clock_is_sim(o->clock) ? ", simulated clock" : "");
	if (o->ready)
		o->ready(o->ready_arg);
	svc_tick(&sv);
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
	/* join the worker pool now: `run` is the process's last use of
	 * libuv, and threads still parked at exit race the leak checker */
	uv_library_shutdown();
	unlink(sock);
out:
	free(sv.busy);
	free(sv.abusy);
	svc_token_free(&sv);
	svc_send_close(&sv);
	seq_warmup_close(sv.wu);
	seq_sched_close(sv.s);
	free(sock);
	/* said while the lock is still held: a log never shows two
	 * services between their "running" and "stopped" lines */
	if (rc == 0)
		cs_log_info("coldseq stopped");
	seq_lock_release(own);
	return rc;
}
