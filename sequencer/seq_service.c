/*
 * seq_service.c - `coldseq run`: the libuv loop that sends what the
 * scheduler decides and applies what the watchers see.
 *
 * Life cycle (seq_service_run):
 *
 *   start      the options, COLDSEQ_CRASH_AT (tests)
 *     |
 *   lock       seq_lock_take (unless the caller holds it): one service
 *     |        per data dir; the scheduler and the warmup planner open;
 *     |        a simulated clock refused off loopback; follow-ups gated
 *     |
 *   resolve    resolve_uncertain: every row a crash left 'sending' is
 *   uncertain  looked for in its Sent folder, synchronously, before the
 *     |        loop exists (nothing else runs yet)
 *     |
 *   catch up   the loop, its timers, signals and the control socket;
 *   watchers   svc_token_start (refreshes due), svc_sync_watchers: one
 *     |        watcher per inbox, each opens its inbox's gate when its
 *     |        first sync is done ("running" is logged, ready() called)
 *     |
 *   serve      uv_run: svc_wake(SVC_ALL), then one pass per turn for
 *     |        what changed or came due (seq_service_loop.c); watchers
 *     |        (seq_service_watch.c), sends (seq_service_send.c) and
 *     |        tokens (seq_service_token.c) report their ends through
 *     |        svc_wake.  Until svc_stopping: a signal, --until, a fatal
 *     |        error
 *     |
 *   drain      uv_run once more until the busy set is empty (every job
 *     |        back and recorded; send workers hand over nothing more)
 *     |
 *   stop       svc_watch_close_all (a DONE owed, then the one teardown),
 *              every handle closed, the pool joined; "stopped" is logged
 *              while the lock is still held, then it is released
 *
 * Threads: the loop thread owns the database and the scheduler.  SMTP
 * sessions, IMAP connects, fetches and IDLE exchanges run on the libuv
 * pool (uv_queue_work); they touch only the network and the memory handed
 * to them, and their results come back to the loop (after_work), which
 * records them.  A watcher that only waits in IDLE holds no thread: its
 * socket is watched by the loop with uv_poll.
 *
 * Time: one timer, armed for the planners' next wake (nothing due: no
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
	if (n > 0) /* any message is a nudge: settings or data changed */
		svc_wake(sv, SVC_RELOAD);
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

	if (signum == SIGHUP) {
		cs_log_info("SIGHUP: reloading settings");
		svc_wake(sv, SVC_RELOAD);
		return;
	}
	cs_log_info("%s: finishing what is in flight, then stopping",
	            signum == SIGTERM ? "SIGTERM" : "SIGINT");
	svc_stop(sv);
	uv_timer_stop(&sv->timer);
	uv_idle_stop(&sv->again);
	svc_watch_pause_all(sv);
	if (svc_jobs(sv, SVC_ANY_KIND) == 0)
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

static void dns_wake(void *arg)
{
	svc_wake(arg, SVC_PLAN);
}

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
	/* ---- lock */
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
	/* ---- resolve uncertain */
	if ((rc = svc_send_open(&sv, err)) != 0 ||
	    (rc = svc_send_resolve(&sv, err)) != 0)
		goto out;
	/* ---- catch up watchers (the loop first) */
	uv_loop_init(&sv.loop);
	sv.loop.data = &sv;
	svc_loop_init(&sv);
	uv_timer_init(&sv.loop, &sv.wtimer);
	sv.wtimer.data = &sv;
	/* one resolver on the loop: the scheduler and the watchers ask it
	 * without blocking; an answer wakes the planner */
	if ((rc = seq_dns_open(d, &sv.loop, &sv.dns, err)) != 0)
		goto loop_out;
	seq_sched_use_dns(sv.s, sv.dns, dns_wake, &sv);
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
	svc_doctor_start(&sv);
	cs_log_info("coldseq running (pid %ld, data %s%s)", (long)getpid(),
	            o->data_dir,
	            cs_clock_is_sim(o->clock) ? ", simulated clock" : "");
	if (o->ready)
		o->ready(o->ready_arg);
	/* ---- serve, until svc_stopping */
	svc_wake(&sv, SVC_ALL);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	rc = sv.exit_rc;
	if (rc)
		*err = sv.err;
	/* ---- drain: every job has returned (uv_stop waits for none) */
	while (svc_jobs(&sv, SVC_ANY_KIND))
		uv_run(&sv.loop, UV_RUN_ONCE);
	svc_loop_report(&sv);
loop_out:
	/* ---- stop */
	svc_watch_close_all(&sv);
	/* its questions end ("cancelled", no wake) and its handles close
	 * before the walk closes the rest */
	net_dns_free(sv.dns);
	sv.dns = NULL;
	uv_walk(&sv.loop, close_walk, NULL);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	free(sv.w);
	uv_loop_close(&sv.loop);
	/* join the worker pool now: `run` is the process's last use of
	 * libuv, and threads still parked at exit race the leak checker */
	uv_library_shutdown();
	if (sock)
		unlink(sock);
out:
	free(sv.busy);
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
