/*
 * cmd_run.c - `coldseq run` (the service) and `coldseq outbox
 * uncertain|resolve` (messages that may have been sent).
 */
#define _GNU_SOURCE
#include "cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* "+10d", "+36h", "+90m" after base, or an ISO 8601 instant. */
static int parse_until(const char *s, int64_t base, int64_t *out, cs_err *err)
{
	char *end;
	long n;

	if (s[0] != '+')
		return cs_time_parse_iso8601(s, out, err);
	errno = 0;
	n = strtol(s + 1, &end, 10);
	if (end == s + 1 || errno || n <= 0 || n > 100000 ||
	    (strcmp(end, "d") != 0 && strcmp(end, "h") != 0 &&
	     strcmp(end, "m") != 0))
		return cs_err_set(err, CS_EINVAL,
		                  "\"%s\" is not an instant (ISO 8601) or +N "
		                  "with d, h or m (e.g. +10d)",
		                  s);
	*out = base + (int64_t)n * (end[0] == 'd'   ? 86400000
	                            : end[0] == 'h' ? 3600000
	                                            : 60000);
	return 0;
}

/* "sim:START[,xN|,fast]" into a clock. */
static int parse_clock(const char *s, cs_clock **clock, bool *fast,
                       double *speed, cs_err *err)
{
	int64_t now = cs_clock_now(NULL), start = now;
	char buf[128], *comma, *mode = NULL;

	*fast = false;
	*speed = 1.0;
	if (strcmp(s, "real") == 0) {
		*clock = cs_clock_new_real();
		return 0;
	}
	if (strncmp(s, "sim:", 4) != 0 && strcmp(s, "sim") != 0)
		return cs_err_set(err, CS_EINVAL,
		                  "--clock: \"%s\" is not real or "
		                  "sim:START[,xN|,fast]",
		                  s);
	snprintf(buf, sizeof buf, "%s", s[3] == ':' ? s + 4 : "");
	if ((comma = strchr(buf, ',')) != NULL) {
		*comma = '\0';
		mode = comma + 1;
	}
	if (buf[0] && strcmp(buf, "now") != 0 &&
	    cs_time_parse_iso8601(buf, &start, err) != 0)
		return CS_EINVAL;
	if (start < now - 60000)
		return cs_err_set(err, CS_EINVAL,
		                  "--clock: a simulated run starts now or "
		                  "later (what the CLI records carries real "
		                  "time)");
	if (mode && strcmp(mode, "fast") == 0)
		*fast = true;
	else if (mode && mode[0] == 'x') {
		char *end;

		*speed = strtod(mode + 1, &end);
		if (*end || *speed < 1 || *speed > 1e7)
			return cs_err_set(err, CS_EINVAL,
			                  "--clock: \"%s\": the speed is x1 to "
			                  "x10000000",
			                  mode);
	} else if (mode)
		return cs_err_set(err, CS_EINVAL,
		                  "--clock: \"%s\" is not xN or fast", mode);
	*clock = cs_clock_new_sim(start, *fast ? 0 : *speed);
	return 0;
}

/* ---- --detach ------------------------------------------------------------
 *
 * The parent waits on a pipe for the service's word: the service writes
 * "R" and its pid once it holds the lock and is ready (seq_service_opts
 * ready), or "E" and the error when it cannot start; an end of file with
 * nothing means it died at start-up.  The database and the vault are
 * closed before the first fork (SQLite forbids a connection across fork())
 * and opened again by the service once it holds the lock. */

/* Tell the parent (once; the fd is closed and set to -1). */
static void tell_parent(int *fd, char what, const char *msg)
{
	cs_buf b = CS_BUF_INIT;
	size_t off = 0;
	ssize_t n;

	if (*fd < 0)
		return;
	cs_buf_putc(&b, what);
	cs_buf_puts(&b, msg);
	while (off < b.len) {
		n = write(*fd, b.data + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* the parent is gone: nobody to tell */
			break;
		off += (size_t)n;
	}
	cs_buf_free(&b);
	close(*fd);
	*fd = -1;
}

static void service_ready(void *arg)
{
	char pid[24];

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	tell_parent(arg, 'R', pid);
}

/* The parent's side: the exit status of `run --detach`. */
static int wait_for_service(int rfd, pid_t mid, const char *log)
{
	char buf[2048];
	size_t n = 0;
	ssize_t k;

	while (n < sizeof buf - 1) {
		k = read(rfd, buf + n, sizeof buf - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	close(rfd);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n > 1 && buf[0] == 'R') {
		printf("coldseq running in the background (pid %s); log: %s\n",
		       buf + 1, log);
		return CLI_EXIT_OK;
	}
	if (n > 1 && buf[0] == 'E')
		cli_error("run: %s", buf + 1);
	else
		cli_error("run: the background service stopped before it was "
		          "ready; see %s",
		          log);
	return CLI_EXIT_FAIL;
}

/* Fork twice.  Returns 1 in the parent with *exit_rc (it waited for the
 * service's word), 0 in the service with *tell the pipe's write end and
 * its log set up, or an error (nothing forked). */
static int daemonize(cli_ctx *ctx, int *tell, int *exit_rc, cs_err *err)
{
	char *log = cs_xasprintf("%s/coldseq.log", ctx->data_dir);
	cs_err lerr = CS_ERR_INIT;
	int pfd[2], fd;
	pid_t p;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(log);
		return cs_err_set(err, CS_EIO, "pipe: %s", strerror(errno));
	}
	cli_ctx_drop(ctx); /* no SQLite connection across fork() */
	fflush(NULL);
	if ((p = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(log);
		return cs_err_set(err, CS_EIO, "fork: %s", strerror(errno));
	}
	if (p > 0) {
		close(pfd[1]);
		*exit_rc = wait_for_service(pfd[0], p, log);
		free(log);
		return 1;
	}
	close(pfd[0]);
	setsid();
	if ((p = fork()) < 0) {
		char msg[128];

		snprintf(msg, sizeof msg, "fork: %s", strerror(errno));
		tell_parent(&pfd[1], 'E', msg);
		_exit(1);
	}
	if (p > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	if (cs_log_init(cs_log_get_level(), log, &lerr) != 0) {
		tell_parent(&pfd[1], 'E', lerr.msg);
		_exit(1);
	}
	if ((fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	free(log);
	*tell = pfd[1];
	return 0;
}

static int run_run(cli_ctx *ctx, const cli_args *a)
{
	const char *clock_s = cli_opt_value(a, "clock");
	const char *until_s = cli_opt_value(a, "until");
	const char *workers_s = cli_opt_value(a, "workers");
	seq_service_opts o;
	cs_err err = CS_ERR_INIT;
	cs_clock *clock = NULL;
	seq_lock *lock = NULL;
	char env[32];
	int rc, tell = -1, exit_rc = CLI_EXIT_FAIL;

	memset(&o, 0, sizeof o);
	o.data_dir = ctx->data_dir;
	o.workers = 8;
	o.watch = !cli_opt_flag(a, "no-watch");
	if (workers_s) {
		char *end;
		long n = strtol(workers_s, &end, 10);

		if (*workers_s == '\0' || *end || n < 1 || n > 256) {
			cli_error("run: --workers: \"%s\" is not a number "
			          "from 1 to 256",
			          workers_s);
			return CLI_EXIT_USAGE;
		}
		o.workers = (int)n;
	}
	if (parse_clock(clock_s ? clock_s : "real", &clock, &o.fast, &o.speed,
	                &err) != 0) {
		cli_error("run: %s", err.msg);
		return CLI_EXIT_USAGE;
	}
	o.clock = clock;
	if (until_s &&
	    parse_until(until_s, cs_clock_now(clock), &o.until, &err) != 0) {
		cli_error("run: --until: %s", err.msg);
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	if (o.fast && !o.until) {
		cli_error("run: a fast simulated clock needs --until");
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	/* the pool: SMTP sessions plus watcher exchanges (practice 8) */
	snprintf(env, sizeof env, "%d", o.workers + 8);
	setenv("UV_THREADPOOL_SIZE", env, 1);
	if (cli_opt_flag(a, "detach")) {
		rc = daemonize(ctx, &tell, &exit_rc, &err);
		if (rc == 1) { /* the parent: the service has spoken */
			cs_clock_free(clock);
			return exit_rc;
		}
		if (rc != 0) {
			cli_error("run: %s", err.msg);
			cs_clock_free(clock);
			return CLI_EXIT_FAIL;
		}
		o.ready = service_ready;
		o.ready_arg = &tell;
	}
	/* the lock first, then the key: a rekey that ran since the command
	 * started has replaced it, and none can start until we stop */
	rc = seq_lock_take(ctx->data_dir, SEQ_LOCK_SERVICE, &lock, NULL, &err);
	if (rc == 0)
		rc = cli_ctx_reopen_locked(ctx, &err);
	if (rc == 0) {
		o.lock = lock;
		rc = seq_service_run(ctx->db, ctx->vault, &o, &err);
	}
	seq_lock_release(lock);
	cs_clock_free(clock);
	if (rc) {
		tell_parent(&tell, 'E', err.msg);
		cli_error("run: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	tell_parent(&tell, 'E', "the service stopped before it was ready");
	return CLI_EXIT_OK;
}

/* ---- outbox ------------------------------------------------------------- */

typedef struct ulist {
	cli_ctx *ctx;
	cJSON *arr;
	int n;
} ulist;

static int show_held(const db_outbox *o, void *arg)
{
	ulist *u = arg;
	db_enrollment e;
	cs_err err = CS_ERR_INIT;
	const char *contact = "?";

	memset(&e, 0, sizeof e);
	if (db_enr_by_id(u->ctx->db, o->enrollment_id, &e, &err) == 0)
		contact = e.email;
	u->n++;
	if (u->arr) {
		cJSON *x = cJSON_CreateObject();

		cJSON_AddNumberToObject(x, "id", (double)o->id);
		cJSON_AddStringToObject(x, "contact", contact);
		cJSON_AddNumberToObject(x, "step", o->step);
		cJSON_AddStringToObject(x, "message_id", o->message_id);
		cJSON_AddStringToObject(x, "subject", o->subject);
		cJSON_AddStringToObject(x, "reason",
		                        o->reason ? o->reason : "");
		cJSON_AddItemToArray(u->arr, x);
	} else
		fprintf(u->ctx->out, "%-6lld %-32s step %d  %s\n       %s\n",
		        o->id, contact, o->step, o->message_id,
		        o->reason ? o->reason : "");
	db_enrollment_free(&e);
	return 0;
}

static int run_uncertain(cli_ctx *ctx, const cli_args *a)
{
	ulist u = {ctx, NULL, 0};
	cs_err err = CS_ERR_INIT;

	if (a->json)
		u.arr = cJSON_CreateArray();
	if (db_outbox_list(ctx->db, DB_O_HELD, show_held, &u, &err) != 0) {
		cJSON_Delete(u.arr);
		cli_error("outbox uncertain: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (u.arr)
		cli_print_json(ctx, u.arr);
	else if (u.n == 0)
		fprintf(ctx->out, "no held messages\n");
	return CLI_EXIT_OK;
}

static int run_resolve(cli_ctx *ctx, const cli_args *a)
{
	bool sent = cli_opt_flag(a, "sent"), resend = cli_opt_flag(a, "resend"),
	     drop = cli_opt_flag(a, "drop");
	cs_err err = CS_ERR_INIT;
	cs_clock *clock = cs_clock_new_real();
	seq_sched *s = NULL;
	char *end;
	long long id = strtoll(a->pos[0], &end, 10);
	int rc = CLI_EXIT_FAIL;

	if (*end || id <= 0 || sent + resend + drop != 1) {
		cli_error("outbox resolve: give an ID from 'coldseq outbox "
		          "uncertain' and exactly one of --sent, --resend, "
		          "--drop");
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	if (seq_sched_open(ctx->db, ctx->vault, clock, &s, &err) != 0 ||
	    seq_outbox_resolve(s, id,
	                       sent     ? SEQ_RESOLVE_SENT
	                       : resend ? SEQ_RESOLVE_RESEND
	                                : SEQ_RESOLVE_DROP,
	                       &err) != 0)
		cli_error("outbox resolve: %s", err.msg);
	else {
		fprintf(ctx->out, "outbox row %lld: %s\n", id,
		        sent     ? "recorded as sent"
		        : resend ? "queued to be sent again (once, same "
		                   "Message-ID)"
		                 : "dropped; the contact's sequence stops");
		rc = CLI_EXIT_OK;
	}
	seq_sched_close(s);
	cs_clock_free(clock);
	return rc;
}

/* ---- outbox drop / retry / show ----------------------------------------- */

static int row_id(const char *cmd, const char *arg, long long *id)
{
	char *end;

	*id = strtoll(arg, &end, 10);
	if (*arg == '\0' || *end || *id <= 0) {
		cli_error("outbox %s: \"%s\" is not an outbox row id (see "
		          "'coldseq outbox show' or 'coldseq status')",
		          cmd, arg);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* The row as JSON (with its contact), or NULL when it cannot be read. */
static cJSON *row_json(cli_ctx *ctx, const db_outbox *o)
{
	db_enrollment e;
	cs_err err = CS_ERR_INIT;
	cJSON *x = cJSON_CreateObject();
	bool have_e = false;

	memset(&e, 0, sizeof e);
	cJSON_AddNumberToObject(x, "id", (double)o->id);
	cJSON_AddStringToObject(x, "purpose", db_purpose_name(o->purpose));
	have_e = db_enr_by_id(ctx->db, o->enrollment_id, &e, &err) == 0;
	if (have_e)
		cJSON_AddStringToObject(x, "contact", e.email);
	cJSON_AddNumberToObject(x, "step", o->step);
	cJSON_AddStringToObject(x, "state", db_ostate_name(o->state));
	cJSON_AddStringToObject(x, "message_id", o->message_id);
	cJSON_AddStringToObject(x, "subject", o->subject);
	cJSON_AddNumberToObject(x, "attempts", o->attempts);
	cli_json_time(x, "due_at", o->due_at);
	if (o->reason)
		cJSON_AddStringToObject(x, "reason", o->reason);
	else
		cJSON_AddNullToObject(x, "reason");
	if (have_e)
		cJSON_AddStringToObject(x, "contact_state",
		                        db_enr_state_name(e.state));
	db_enrollment_free(&e);
	return x;
}

static int run_act(cli_ctx *ctx, const cli_args *a, seq_outbox_action how)
{
	const char *cmd = how == SEQ_OUTBOX_DROP ? "drop" : "retry";
	cs_err err = CS_ERR_INIT;
	cs_clock *clock;
	seq_sched *s = NULL;
	db_outbox o;
	long long id;
	int rc;

	if ((rc = row_id(cmd, a->pos[0], &id)) != 0)
		return rc;
	clock = cs_clock_new_real();
	rc = CLI_EXIT_FAIL;
	if (seq_sched_open(ctx->db, ctx->vault, clock, &s, &err) != 0 ||
	    seq_outbox_act(s, id, how, &err) != 0 ||
	    db_outbox_get(ctx->db, id, &o, &err) != 0) {
		cli_error("outbox %s: %s", cmd, err.msg);
		goto out;
	}
	if (a->json)
		cli_print_json(ctx, row_json(ctx, &o));
	else
		fprintf(ctx->out, "outbox row %lld: %s\n", id,
		        how == SEQ_OUTBOX_DROP
		            ? "dropped; the contact's sequence stops"
		        : o.state == DB_O_QUEUED
		            ? "queued to be sent now (same Message-ID)"
		            : "the contact's step is released: it is "
		              "composed again with the data as it is now");
	db_outbox_free(&o);
	rc = CLI_EXIT_OK;
out:
	seq_sched_close(s);
	cs_clock_free(clock);
	return rc;
}

static int run_drop(cli_ctx *ctx, const cli_args *a)
{
	return run_act(ctx, a, SEQ_OUTBOX_DROP);
}

static int run_retry(cli_ctx *ctx, const cli_args *a)
{
	return run_act(ctx, a, SEQ_OUTBOX_RETRY);
}

typedef struct shown {
	cli_ctx *ctx;
	cJSON *arr;
} shown;

static void when_text(int64_t t, char out[40])
{
	cs_time_iso8601(t, out, 40);
}

static int show_attempt(const db_attempt *at, void *arg)
{
	shown *w = arg;
	char t[40];

	when_text(at->started_at, t);
	if (w->arr) {
		cJSON *x = cJSON_CreateObject();

		cJSON_AddNumberToObject(x, "attempt", at->attempt);
		cJSON_AddStringToObject(x, "message_id", at->message_id);
		cli_json_time(x, "started_at", at->started_at);
		cJSON_AddStringToObject(x, "outcome", at->outcome);
		if (at->code)
			cJSON_AddNumberToObject(x, "code", at->code);
		if (at->text)
			cJSON_AddStringToObject(x, "text", at->text);
		cJSON_AddItemToArray(w->arr, x);
	} else
		fprintf(w->ctx->out, "  attempt %d  %s  %s%s%s\n", at->attempt,
		        t, at->outcome, at->text ? ": " : "",
		        at->text ? at->text : "");
	return 0;
}

static int show_history(const db_history *h, void *arg)
{
	shown *w = arg;
	char t[40];

	when_text(h->at, t);
	if (w->arr) {
		cJSON *x = cJSON_CreateObject();

		cli_json_time(x, "at", h->at);
		cJSON_AddStringToObject(x, "action", h->action);
		if (h->detail)
			cJSON_AddStringToObject(x, "detail", h->detail);
		if (h->message_id)
			cJSON_AddStringToObject(x, "message_id", h->message_id);
		cJSON_AddItemToArray(w->arr, x);
	} else
		fprintf(w->ctx->out, "  %s  %s%s%s\n", t, h->action,
		        h->detail ? ": " : "", h->detail ? h->detail : "");
	return 0;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	db_outbox o;
	shown w = {ctx, NULL};
	cJSON *x = NULL;
	long long id;
	int rc;

	if ((rc = row_id("show", a->pos[0], &id)) != 0)
		return rc;
	if (db_outbox_get(ctx->db, id, &o, &err) != 0) {
		cli_error("outbox show: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		x = row_json(ctx, &o);
		w.arr = cJSON_AddArrayToObject(x, "attempt_list");
	} else {
		char t[40];

		when_text(o.due_at, t);
		if (o.purpose == DB_PURPOSE_CAMPAIGN)
			fprintf(ctx->out, "outbox row %lld: step %d, ", o.id,
			        o.step);
		else /* warmup and test messages have no step */
			fprintf(ctx->out, "outbox row %lld: %s message, ", o.id,
			        db_purpose_name(o.purpose));
		fprintf(ctx->out,
		        "%s (%d attempt%s)\n"
		        "message-id: %s\nsubject:    %s\ndue:        %s\n",
		        db_ostate_name(o.state), o.attempts,
		        o.attempts == 1 ? "" : "s", o.message_id, o.subject, t);
		if (o.reason)
			fprintf(ctx->out, "reason:     %s\n", o.reason);
		fprintf(ctx->out, "attempts:\n");
	}
	rc = db_attempt_list(ctx->db, o.message_id, show_attempt, &w, &err);
	if (rc == 0) {
		if (x)
			w.arr = cJSON_AddArrayToObject(x, "history");
		else
			fprintf(ctx->out, "history:\n");
		rc = db_history_list(ctx->db, NULL, o.id, show_history, &w,
		                     &err);
	}
	db_outbox_free(&o);
	if (rc) {
		cJSON_Delete(x);
		cli_error("outbox show: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (x)
		cli_print_json(ctx, x);
	return CLI_EXIT_OK;
}

typedef struct chk {
	cli_ctx *ctx;
	cJSON *arr;
	int n;
} chk;

static int one_problem(const char *p, void *arg)
{
	chk *c = arg;

	c->n++;
	if (c->arr)
		cJSON_AddItemToArray(c->arr, cJSON_CreateString(p));
	else
		fprintf(c->ctx->out, "%s\n", p);
	return 0;
}

static int run_check(cli_ctx *ctx, const cli_args *a)
{
	chk c = {ctx, a->json ? cJSON_CreateArray() : NULL, 0};
	cs_err err = CS_ERR_INIT;

	if (db_outbox_check(ctx->db, one_problem, &c, &err) != 0) {
		cJSON_Delete(c.arr);
		cli_error("outbox check: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (c.arr)
		cli_print_json(ctx, c.arr);
	else if (c.n == 0)
		fprintf(ctx->out, "outbox consistent\n");
	return c.n ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static const cli_opt run_opts[] = {
    {"detach", 0, NULL, false, "run in the background (log: DATA/coldseq.log)"},
    {"clock", 0, "CLOCK", false,
     "real (default) or sim:START[,xN|,fast] (loopback inboxes only)"},
    {"until", 0, "TIME", false, "stop when the clock passes TIME (or +10d)"},
    {"workers", 0, "N", false, "SMTP sessions at once (default 8)"},
    {"no-watch", 0, NULL, false, "do not watch the inboxes over IMAP"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt resolve_opts[] = {
    {"sent", 0, NULL, false, "it did go out: record it as sent"},
    {"resend", 0, NULL, false, "send it again, once"},
    {"drop", 0, NULL, false, "do not send it; stop the contact's sequence"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_run[] = {
    {NULL, "run", NULL, "the service: send campaigns, watch inboxes",
     "Runs in the foreground, logging to stderr (journald under systemd),\n"
     "until SIGTERM or SIGINT, which let what is in flight finish.  One\n"
     "instance per data dir; SIGHUP and any CLI change reload settings.\n"
     "--detach returns once the service runs in the background (exit 0,\n"
     "its pid printed), or exits 1 with the reason it could not start\n"
     "(e.g. another service runs: its pid).\n"
     "--clock sim:START[,xN|,fast] runs a simulated clock (tests, demo):\n"
     "START is an ISO 8601 instant or now; xN runs it N times faster;\n"
     "fast jumps to the next due time whenever nothing is in flight\n"
     "(needs --until).  Only loopback inboxes may run on a simulated\n"
     "clock.\n\n"
     "Example:\n  coldseq run\n  coldseq run --clock sim:now,fast --until "
     "+10d",
     0, 0, CLI_NEEDS_VAULT, run_opts, run_run},
    {"outbox", "uncertain", NULL, "messages that may have been sent",
     "Rows held because coldseq stopped while sending them and could not\n"
     "find them in the inbox's Sent folder, or because the connection\n"
     "was lost after the message's end.  --json prints [{id, contact,\n"
     "step, message_id, subject, reason}].\n\n"
     "Example:\n  coldseq outbox uncertain",
     0, 0, CLI_NEEDS_DB, NULL, run_uncertain},
    {"outbox", "check", NULL, "verify the outbox's invariants",
     "Checks what must always hold: a queued contact has exactly one\n"
     "message in flight, every message handed over was recorded first,\n"
     "no step was sent twice.  Prints each violation and exits 1 when\n"
     "there is one.  --json prints an array of sentences (empty: all\n"
     "hold).\n\n"
     "Example:\n  coldseq outbox check",
     0, 0, CLI_NEEDS_DB, NULL, run_check},
    {"outbox", "resolve", "ID", "decide on a held message",
     "--sent records it as sent (the sequence goes on), --resend sends it\n"
     "once more under the same Message-ID (if the first attempt did\n"
     "arrive, the recipient sees one message; both attempts are listed by\n"
     "'outbox show ID'), --drop never sends it (the contact's sequence\n"
     "stops).  Each decision is kept in the row's history.\n\n"
     "Example:\n  coldseq outbox resolve 42 --sent",
     1, 1, CLI_NEEDS_VAULT, resolve_opts, run_resolve},
    {"outbox", "drop", "ID", "never send a queued or held message",
     "The row fails and the contact's sequence stops.  A queued row (one\n"
     "waiting for its inbox, a retry or the caps), a held one (it may\n"
     "have been sent), or one that failed as not sendable (its contact's\n"
     "step is held).  Kept in the row's history.  --json prints the row\n"
     "{id, purpose, contact, step, state, message_id, subject, attempts,\n"
     "due_at, reason, contact_state}.\n\n"
     "Example:\n  coldseq outbox drop 42",
     1, 1, CLI_NEEDS_VAULT, NULL, run_drop},
    {"outbox", "retry", "ID", "send a queued or held message now",
     "A queued row becomes due now; a held one (it may have been sent)\n"
     "is sent again under the same Message-ID; for one that failed as\n"
     "not sendable, the contact's step is released and composed again\n"
     "with the data as it is now (fix the data first).  Kept in the row's\n"
     "history.  --json prints the row as 'outbox drop' does.\n\n"
     "Example:\n  coldseq outbox retry 42",
     1, 1, CLI_NEEDS_VAULT, NULL, run_retry},
    {"outbox", "show", "ID", "one message: its attempts and history",
     "The row's state, Message-ID, subject and reason, every attempt at\n"
     "sending it (time, outcome, the server's answer) and its history\n"
     "(held as not sendable, dropped, retried, resolved).  --json prints\n"
     "the row as 'outbox drop' does, with attempt_list [{attempt,\n"
     "message_id, started_at, outcome, code, text}] and history [{at,\n"
     "action, detail, message_id}].\n\n"
     "Example:\n  coldseq outbox show 42",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
