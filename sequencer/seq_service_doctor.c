/*
 * seq_service_doctor.c - the service keeps the doctor's verdicts fresh:
 * every doctor.refresh (config, real time; default a day, 0 = never) it
 * runs `coldseq --data-dir DIR doctor --all --json --parent-watch PID` as
 * a child process, which checks every inbox and stores each verdict
 * itself (dr_report_store), for `status` and `campaign start`.
 *
 *   start-up ---- svc_doctor_start: due when the oldest verdict of an
 *      |          active inbox reaches doctor.refresh (never checked: at
 *      |          once), but not before START_DELAY (or doctor.refresh,
 *      |          if shorter) after start-up
 *      v
 *   waiting ----- the timer (real time, never the service clock) ------+
 *      |                                                               |
 *      v                                                               |
 *   running ----- one child at a time; stdout to /dev/null, stderr     |
 *      |          kept (its first KEEP bytes) for the log; killed       |
 *      |          after CHILD_TIMEOUT                                   |
 *      v                                                               |
 *   exited ------ "doctor: N inboxes checked: X fail, Y warn" (read    |
 *                 back from the database); the next run doctor.refresh |
 *                 later ---------------------------------------------- +
 *
 * The loop never waits for the check: the child does the DNS and writes
 * its verdicts; the loop only reads them back.  A simulated clock (tests,
 * the demo) runs no check: the verdicts' times are real.  At the stop
 * (svc_stop) a running child is killed (SIGTERM) and every handle here
 * closed; the state is freed by the last close callback.  A service that
 * dies without a stop (kill -9) takes the child with it: --parent-watch
 * makes the child ask the kernel for SIGKILL when its parent ends.
 */
#define _GNU_SOURCE
#include "seq_service_int.h"

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define START_DELAY   120000LL   /* real ms after start-up, at least */
#define CHILD_TIMEOUT 300000LL   /* real ms: then the child is killed */
#define KEEP          1024       /* bytes of the child's stderr kept */
#define DAY_MS        86400000LL /* doctor.refresh's default */

struct svc_doctor {
	svc *sv;
	uv_timer_t timer; /* the next check */
	uv_timer_t limit; /* the running child's time limit */
	uv_process_t proc;
	uv_pipe_t err; /* the child's stderr; data NULL (see close_walk) */
	bool proc_open, err_open;
	bool running; /* a child runs (or its ends are not all in) */
	bool exited, err_eof;
	bool stopping;
	int nopen; /* handles not closed yet: the state goes at 0 */
	int64_t exit_status;
	int term_signal;
	bool timed_out;
	int64_t started; /* real ms */
	char errbuf[KEEP + 1];
	size_t errlen;
};

bool seq_doctor_stale(const db_doctor_verdict *v, int64_t now)
{
	return now - v->checked_at > SEQ_DOCTOR_STALE_MS;
}

static int64_t real_now(void)
{
	return cs_clock_now(NULL);
}

/* doctor.refresh in ms (0: never); a day when it cannot be read. */
static int64_t refresh_ms(svc *sv)
{
	cs_err err = CS_ERR_INIT;
	long long s;

	if (db_config_get_int(sv->d, "doctor.refresh", &s, &err) != 0) {
		cs_log_warn("doctor: %s; checking daily", err.msg);
		return DAY_MS;
	}
	return s > 0 ? (int64_t)s * 1000 : 0;
}

/* Over the active inboxes: how many, the oldest verdict's time in
 * *oldest (0: one was never checked), and how many verdicts taken at or
 * after since are fail and warn.  -1 when the inboxes cannot be read. */
static int verdicts(svc *sv, int64_t since, int64_t *oldest, int *checked,
                    int *fail, int *warn)
{
	cs_err err = CS_ERR_INIT;
	db_inbox *ins = NULL;
	size_t n = 0, i;
	int active = 0;

	*oldest = INT64_MAX;
	*checked = *fail = *warn = 0;
	if (db_inbox_list(sv->d, NULL, &ins, &n, &err) != 0) {
		cs_log_warn("doctor: %s", err.msg);
		return -1;
	}
	for (i = 0; i < n; i++) {
		db_doctor_verdict v;
		bool found = false;

		if (ins[i].status != DB_INBOX_ACTIVE)
			continue;
		active++;
		if (db_doctor_verdict_get(sv->d, ins[i].id, &v, &found, &err) !=
		    0) {
			cs_log_warn("doctor: %s", err.msg);
			found = false;
		}
		if (!found) {
			*oldest = 0;
			continue;
		}
		if (v.checked_at < *oldest)
			*oldest = v.checked_at;
		if (v.checked_at >= since) {
			(*checked)++;
			*fail += strcmp(v.verdict, "fail") == 0;
			*warn += strcmp(v.verdict, "warn") == 0;
		}
		db_doctor_verdict_free(&v);
	}
	db_inbox_list_free(ins, n);
	return active;
}

static void timer_cb(uv_timer_t *t);

static void arm(svc_doctor *dc, int64_t delay)
{
	if (dc->stopping)
		return;
	if (delay < 0)
		delay = 0;
	cs_log_debug("doctor: next check in %lld s", (long long)(delay / 1000));
	uv_timer_start(&dc->timer, timer_cb, (uint64_t)delay, 0);
}

/* ---- the handles' ends -------------------------------------------------- */

static void closed(uv_handle_t *h)
{
	svc_doctor *dc = h->data;

	if (h == (uv_handle_t *)&dc->proc)
		dc->proc_open = false;
	else if (h == (uv_handle_t *)&dc->err)
		dc->err_open = false;
	if (--dc->nopen == 0 && dc->stopping)
		free(dc);
}

static void close_one(svc_doctor *dc, uv_handle_t *h)
{
	/* the pipe's data stays NULL until here: the service's close_walk
	 * takes a named pipe with data for a control connection */
	h->data = dc;
	uv_close(h, closed);
}

/* The first line of what the child wrote on stderr, for the log. */
static const char *err_line(svc_doctor *dc)
{
	char *nl;

	dc->errbuf[dc->errlen] = '\0';
	nl = strchr(dc->errbuf, '\n');
	if (nl)
		*nl = '\0';
	return dc->errbuf[0] ? dc->errbuf : "no message";
}

/* Both ends are in (the exit and stderr's end): log, plan the next. */
static void finished(svc_doctor *dc)
{
	svc *sv = dc->sv;
	int64_t oldest, refresh;
	int checked, fail, warn;

	dc->running = false;
	uv_timer_stop(&dc->limit);
	close_one(dc, (uv_handle_t *)&dc->proc);
	if (dc->err_open)
		close_one(dc, (uv_handle_t *)&dc->err);
	if (dc->timed_out)
		cs_log_warn("doctor: the check took longer than %lld minutes "
		            "and was stopped",
		            CHILD_TIMEOUT / 60000);
	else if (dc->term_signal)
		cs_log_warn("doctor: the check ended on signal %d",
		            dc->term_signal);
	else if (dc->exit_status != 0 && dc->exit_status != 1)
		/* 1 is "a check fails": a result, not an error */
		cs_log_warn("doctor: the check failed (exit %lld): %s",
		            (long long)dc->exit_status, err_line(dc));
	if (verdicts(sv, dc->started, &oldest, &checked, &fail, &warn) >= 0)
		cs_log_info("doctor: %d inbox%s checked: %d fail, %d warn",
		            checked, checked == 1 ? "" : "es", fail, warn);
	refresh = refresh_ms(sv);
	if (refresh > 0)
		arm(dc, refresh);
	else
		cs_log_info("doctor: doctor.refresh is 0: no further checks");
}

static void exit_cb(uv_process_t *p, int64_t status, int sig)
{
	svc_doctor *dc = p->data;

	dc->exited = true;
	dc->exit_status = status;
	dc->term_signal = sig;
	if (dc->err_eof)
		finished(dc);
}

static void err_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
	static char sink[256];
	svc_doctor *dc = (svc_doctor *)((char *)h - offsetof(svc_doctor, err));

	(void)sugg;
	if (dc->errlen < KEEP) {
		b->base = dc->errbuf + dc->errlen;
		b->len = KEEP - dc->errlen;
	} else { /* the rest is read and dropped */
		b->base = sink;
		b->len = sizeof sink;
	}
}

static void err_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	svc_doctor *dc = (svc_doctor *)((char *)st - offsetof(svc_doctor, err));

	if (n > 0 && b->base == dc->errbuf + dc->errlen)
		dc->errlen += (size_t)n;
	if (n >= 0)
		return;
	uv_read_stop(st);
	dc->err_eof = true;
	if (dc->exited)
		finished(dc);
}

static void limit_cb(uv_timer_t *t)
{
	svc_doctor *dc = t->data;

	if (!dc->running || dc->exited)
		return;
	dc->timed_out = true;
	uv_process_kill(&dc->proc, SIGKILL);
}

/* ---- the check ---------------------------------------------------------- */

static void spawn(svc_doctor *dc)
{
	svc *sv = dc->sv;
	char exe[PATH_MAX], ppid[32];
	size_t len = sizeof exe;
	char *args[11];
	uv_process_options_t po;
	uv_stdio_container_t io[3];
	int rc;

	if ((rc = uv_exepath(exe, &len)) != 0) {
		cs_log_warn("doctor: cannot find coldseq's own program: %s",
		            uv_strerror(rc));
		arm(dc, refresh_ms(sv) > 0 ? refresh_ms(sv) : DAY_MS);
		return;
	}
	snprintf(ppid, sizeof ppid, "%ld", (long)getpid());
	args[0] = exe;
	args[1] = (char *)"--data-dir";
	args[2] = (char *)sv->o->data_dir;
	args[3] = (char *)"doctor";
	args[4] = (char *)"--all";
	args[5] = (char *)"--json";
	args[6] = (char *)"--parent-watch";
	args[7] = ppid;
	args[8] = (char *)"--quiet";
	args[9] = NULL;
	memset(&po, 0, sizeof po);
	memset(io, 0, sizeof io);
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_IGNORE; /* /dev/null: the child stores, we read */
	uv_pipe_init(&sv->loop, &dc->err, 0);
	dc->err.data = NULL;
	dc->err_open = true;
	dc->nopen++;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&dc->err;
	po.file = exe;
	po.args = args;
	po.exit_cb = exit_cb;
	po.stdio = io;
	po.stdio_count = 3;
	dc->exited = dc->err_eof = dc->timed_out = false;
	dc->exit_status = 0;
	dc->term_signal = 0;
	dc->errlen = 0;
	dc->started = real_now();
	rc = uv_spawn(&sv->loop, &dc->proc, &po);
	/* whether or not it started, the handle is initialised: close it */
	dc->proc.data = dc;
	dc->proc_open = true;
	dc->nopen++;
	if (rc != 0) {
		cs_log_warn("doctor: cannot start '%s doctor': %s", exe,
		            uv_strerror(rc));
		close_one(dc, (uv_handle_t *)&dc->proc);
		close_one(dc, (uv_handle_t *)&dc->err);
		arm(dc, refresh_ms(sv) > 0 ? refresh_ms(sv) : DAY_MS);
		return;
	}
	dc->running = true;
	cs_log_debug("doctor: checking every inbox (pid %d)", dc->proc.pid);
	uv_read_start((uv_stream_t *)&dc->err, err_alloc, err_read);
	uv_timer_start(&dc->limit, limit_cb, (uint64_t)CHILD_TIMEOUT, 0);
}

static void timer_cb(uv_timer_t *t)
{
	svc_doctor *dc = t->data;
	svc *sv = dc->sv;
	int64_t refresh, oldest;
	int checked, fail, warn, active;

	if (dc->stopping || svc_stopping(sv) || dc->running)
		return;
	if ((refresh = refresh_ms(sv)) == 0) {
		cs_log_info("doctor: doctor.refresh is 0: no further checks");
		return;
	}
	/* the last child's handles are still closing: a moment later */
	if (dc->proc_open || dc->err_open) {
		uv_timer_start(&dc->timer, timer_cb, 100, 0);
		return;
	}
	active = verdicts(sv, 0, &oldest, &checked, &fail, &warn);
	if (active <= 0) { /* nothing to check (or unreadable): later */
		arm(dc, refresh);
		return;
	}
	spawn(dc);
}

void svc_doctor_start(svc *sv)
{
	svc_doctor *dc;
	int64_t refresh, oldest, due, first, now = real_now();
	int checked, fail, warn;

	if (cs_clock_is_sim(sv->o->clock)) {
		cs_log_debug("doctor: no daily check on a simulated clock");
		return;
	}
	if ((refresh = refresh_ms(sv)) == 0) {
		cs_log_debug("doctor: doctor.refresh is 0: no daily check");
		return;
	}
	dc = cs_xcalloc(1, sizeof *dc);
	dc->sv = sv;
	uv_timer_init(&sv->loop, &dc->timer);
	dc->timer.data = dc;
	uv_timer_init(&sv->loop, &dc->limit);
	dc->limit.data = dc;
	dc->nopen = 2;
	sv->doc = dc;
	/* due when the oldest verdict of an active inbox is refresh old;
	 * never checked (or no active inbox yet): as soon as allowed */
	if (verdicts(sv, 0, &oldest, &checked, &fail, &warn) > 0 &&
	    oldest != INT64_MAX && oldest > 0)
		due = oldest + refresh - now;
	else
		due = 0;
	first = refresh < START_DELAY ? refresh : START_DELAY;
	if (due < first)
		due = first;
	uv_timer_start(&dc->timer, timer_cb, (uint64_t)due, 0);
	cs_log_debug("doctor: first check in %lld s", (long long)(due / 1000));
}

void svc_doctor_stop(svc *sv)
{
	svc_doctor *dc = sv->doc;

	if (dc == NULL || dc->stopping)
		return;
	dc->stopping = true;
	sv->doc = NULL;
	if (dc->running && !dc->exited) {
		cs_log_info("doctor: stopping the check in progress (pid %d)",
		            dc->proc.pid);
		uv_process_kill(&dc->proc, SIGTERM);
	}
	close_one(dc, (uv_handle_t *)&dc->timer);
	close_one(dc, (uv_handle_t *)&dc->limit);
	if (dc->proc_open && !uv_is_closing((uv_handle_t *)&dc->proc))
		close_one(dc, (uv_handle_t *)&dc->proc);
	if (dc->err_open && !uv_is_closing((uv_handle_t *)&dc->err))
		close_one(dc, (uv_handle_t *)&dc->err);
}
