/*
 * cmd_watch.c - `coldseq inbox sync` (the IMAP watcher from the command
 * line) and `coldseq replies` (what it recorded).
 *
 * `inbox sync --once` makes one incremental pass per inbox and exits.
 * Without --once it keeps watching: every inbox's INBOX in IDLE where the
 * server offers it (re-issued every 25 minutes), all waited on by one
 * poll(2) in one thread; Junk and servers without IDLE are read every
 * poll interval (60 s, jittered).  A failed inbox reconnects with a
 * growing delay (5 s doubling to 10 min) without disturbing the others;
 * an OAuth2 token the server refuses is refreshed once per failure streak
 * (seq_auth_refresh_once), not on every reconnect.
 * SIGINT or SIGTERM ends it cleanly.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

#define IDLE_RENEW_MS 1500000LL /* 25 minutes */
#define POLL_MS       60000
#define BACKOFF_MIN   5000
#define BACKOFF_MAX   600000

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	char c = (char)sig;

	if (stop_pipe[1] >= 0 && write(stop_pipe[1], &c, 1) < 0) {
		/* nothing to do in a handler */
	}
}

typedef struct watched {
	db_inbox in;
	seq_watcher *w;
	int64_t retry_at; /* mono ms: reconnect not before */
	int backoff_ms;
	int64_t next_poll; /* mono ms: full pass due */
	int64_t idle_since;
	int fd;    /* IDLE fd, -1 when not idling */
	bool wake; /* sync at the next round */
	bool idling;
	bool refreshed; /* OAuth2: refreshed once in this failure streak */
} watched;

static cJSON *stats_json(const char *name, const seq_sync_stats *st)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "inbox", name);
	cJSON_AddNumberToObject(o, "folders", st->folders);
	cJSON_AddNumberToObject(o, "fetched", st->fetched);
	cJSON_AddNumberToObject(o, "new_events", st->new_events);
	cJSON_AddNumberToObject(o, "suppressed", st->suppressed);
	return o;
}

/* One pass's figures as text (--json is --once only: run_sync). */
static void print_stats(cli_ctx *ctx, const char *name,
                        const seq_sync_stats *st)
{
	if (!ctx->args->json && !ctx->args->quiet) {
		fprintf(
		    ctx->out,
		    "%s: %d folder(s), %d message(s) read, %d new event(s), "
		    "%d address(es) suppressed\n",
		    name, st->folders, st->fetched, st->new_events,
		    st->suppressed);
		fflush(ctx->out);
	}
}

static int64_t jitter(int ms)
{
	unsigned char r;

	cs_random_bytes(&r, 1);
	return ms - ms / 5 + (int64_t)ms * 2 / 5 * r / 255;
}

static void drop(watched *x, const char *why)
{
	cs_log_warn("inbox %s: %s; reconnecting in %d s", x->in.name, why,
	            x->backoff_ms / 1000);
	seq_watcher_close(x->w);
	x->w = NULL;
	x->idling = false;
	x->fd = -1;
	x->retry_at = cs_mono_ms() + x->backoff_ms;
	x->backoff_ms =
	    x->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : x->backoff_ms * 2;
}

/* One login of a watcher for seq_auth_refresh_once: again, with the
 * access token just refreshed and stored. */
static int login_attempt(void *arg, bool again, bool *refused, cs_err *err)
{
	seq_watcher *w = arg;
	int rc;

	if (again && (rc = seq_watcher_reauth(w, false, err)) != 0)
		return rc;
	rc = seq_watcher_connect(w, err);
	*refused = rc == CS_EREFUSED;
	return rc;
}

/* A watcher for in, connected; an OAuth2 token the server refuses is
 * refreshed once (*refreshed: already in this failure streak). */
static int open_watcher(cli_ctx *ctx, cs_clock *clock, const db_inbox *in,
                        seq_watcher **w, bool *refreshed, cs_err *err)
{
	int rc;

	if ((rc = seq_watcher_new(ctx->db, ctx->vault, clock, in, w, err)) ==
	        0 &&
	    (rc = seq_auth_refresh_once(ctx->db, ctx->vault, in, "IMAP",
	                                login_attempt, *w, refreshed, err)) !=
	        0) {
		seq_watcher_close(*w);
		*w = NULL;
	}
	return rc;
}

/* "NAME: connected to HOST:PORT, watching INBOX and Junk (IDLE)": one
 * line per connect, so a watching terminal shows each inbox come up. */
static void print_connected(cli_ctx *ctx, const watched *x)
{
	if (ctx->args->json || ctx->args->quiet)
		return;
	fprintf(ctx->out, "%s: connected to %s:%d, watching INBOX%s%s (%s)\n",
	        x->in.name, x->in.imap_host, x->in.imap_port,
	        x->w->junk ? " and " : "", x->w->junk ? x->w->junk : "",
	        seq_watcher_can_idle(x->w) ? "IDLE" : "polled every minute");
	fflush(ctx->out);
}

/* Connect if needed and make a pass; false when the inbox failed.  The
 * first pass of a connection and every pass that recorded something
 * print their line at once. */
static bool pass(cli_ctx *ctx, cs_clock *clock, watched *x)
{
	seq_sync_stats st;
	cs_err err = CS_ERR_INIT;
	bool fresh = x->w == NULL;

	if (x->w == NULL &&
	    open_watcher(ctx, clock, &x->in, &x->w, &x->refreshed, &err) != 0) {
		drop(x, err.msg);
		return false;
	}
	if (seq_watcher_sync(x->w, &st, &err) != 0) {
		drop(x, err.msg);
		return false;
	}
	x->backoff_ms = BACKOFF_MIN;
	x->refreshed = false;
	x->next_poll = cs_mono_ms() + jitter(POLL_MS);
	if (fresh)
		print_connected(ctx, x);
	if (fresh || st.new_events || st.suppressed || ctx->args->verbose)
		print_stats(ctx, x->in.name, &st);
	return true;
}

static int watch_loop(cli_ctx *ctx, cs_clock *clock, watched *xs, size_t n)
{
	struct pollfd *pf = cs_xcalloc(n + 1, sizeof *pf);
	size_t i;
	bool stop = false;

	if (pipe(stop_pipe) != 0)
		cs_fatal("pipe: %s", strerror(errno));
	fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (i = 0; i < n; i++) {
		xs[i].fd = -1;
		xs[i].backoff_ms = BACKOFF_MIN;
		xs[i].wake = true;
	}
	while (!stop) {
		int64_t now = cs_mono_ms(), next = now + IDLE_RENEW_MS;
		int timeout, rc;
		cs_err err = CS_ERR_INIT;

		for (i = 0; i < n; i++) {
			watched *x = &xs[i];

			if (x->w == NULL && now < x->retry_at) {
				if (x->retry_at < next)
					next = x->retry_at;
				continue;
			}
			if (x->w == NULL || x->wake || now >= x->next_poll) {
				x->wake = false;
				if (!pass(ctx, clock, x))
					continue;
			}
			if (!x->idling && seq_watcher_can_idle(x->w)) {
				if (seq_watcher_idle_start(x->w, &x->fd,
				                           &err) != 0) {
					drop(x, err.msg);
					continue;
				}
				x->idling = true;
				x->idle_since = cs_mono_ms();
			}
			if (x->next_poll < next)
				next = x->next_poll;
			if (x->idling && x->idle_since + IDLE_RENEW_MS < next)
				next = x->idle_since + IDLE_RENEW_MS;
		}
		pf[0].fd = stop_pipe[0];
		pf[0].events = POLLIN;
		pf[0].revents = 0;
		timeout = 0;
		for (i = 0; i < n; i++) {
			pf[i + 1].fd = xs[i].idling ? xs[i].fd : -1;
			pf[i + 1].events = POLLIN;
			pf[i + 1].revents = 0;
			if (xs[i].idling && xs[i].fd < 0)
				timeout = -2; /* data already buffered */
		}
		now = cs_mono_ms();
		if (timeout != -2)
			timeout = next > now ? (int)(next - now) : 0;
		else
			timeout = 0;
		rc = poll(pf, n + 1, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN)
			stop = true;
		now = cs_mono_ms();
		for (i = 0; i < n; i++) {
			watched *x = &xs[i];
			bool woke = x->idling &&
			            (x->fd < 0 || (pf[i + 1].revents & POLLIN));

			if (!x->idling)
				continue;
			if (!woke && !stop && now < x->next_poll &&
			    now < x->idle_since + IDLE_RENEW_MS)
				continue;
			x->idling = false;
			if (seq_watcher_idle_done(x->w, &err) != 0) {
				drop(x, err.msg);
				continue;
			}
			if (woke)
				x->wake = true;
		}
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stop_pipe[0] = stop_pipe[1] = -1;
	free(pf);
	return CLI_EXIT_OK;
}

static int run_sync(cli_ctx *ctx, const cli_args *a)
{
	bool all = cli_opt_flag(a, "all"), once = cli_opt_flag(a, "once");
	cs_err err = CS_ERR_INIT;
	cs_clock *clock = cs_clock_new_real();
	watched *xs = NULL;
	db_inbox *list = NULL;
	size_t n = 0, i;
	int rc = CLI_EXIT_OK;

	if (all == (a->npos == 1)) {
		cli_error("inbox sync takes an inbox NAME or --all.\nSee "
		          "'coldseq inbox sync --help'.");
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	if (a->json && !once) {
		/* watching never ends in one document */
		cli_error("inbox sync: --json needs --once (watching prints "
		          "a line per pass; run it without --json)");
		cs_clock_free(clock);
		return CLI_EXIT_USAGE;
	}
	if (all) {
		if (db_inbox_list(ctx->db, NULL, &list, &n, &err) != 0) {
			cli_error("inbox sync: %s", err.msg);
			cs_clock_free(clock);
			return CLI_EXIT_FAIL;
		}
		xs = cs_xcalloc(n ? n : 1, sizeof *xs);
		for (i = 0; i < n; i++)
			xs[i].in = list[i]; /* moved */
		free(list);
	} else {
		xs = cs_xcalloc(1, sizeof *xs);
		if (db_inbox_get(ctx->db, a->pos[0], &xs[0].in, &err) != 0) {
			cli_error("inbox sync: %s", err.msg);
			free(xs);
			cs_clock_free(clock);
			return CLI_EXIT_FAIL;
		}
		n = 1;
	}
	if (once) {
		cJSON *arr = a->json ? cJSON_CreateArray() : NULL;

		for (i = 0; i < n; i++) {
			seq_watcher *w = NULL;
			seq_sync_stats st;
			bool refreshed = false;

			if (open_watcher(ctx, clock, &xs[i].in, &w, &refreshed,
			                 &err) != 0 ||
			    seq_watcher_sync(w, &st, &err) != 0) {
				cli_error("inbox sync %s: %s", xs[i].in.name,
				          err.msg);
				rc = CLI_EXIT_FAIL;
				if (arr && all) {
					cJSON *o = cJSON_CreateObject();

					cJSON_AddStringToObject(o, "inbox",
					                        xs[i].in.name);
					cJSON_AddStringToObject(o, "error",
					                        err.msg);
					cJSON_AddItemToArray(arr, o);
				}
			} else if (arr) {
				cJSON_AddItemToArray(
				    arr, stats_json(xs[i].in.name, &st));
			} else {
				print_stats(ctx, xs[i].in.name, &st);
			}
			seq_watcher_close(w);
			cs_err_clear(&err);
		}
		/* NAME: its object (a failure: run.c's {"error"}); --all:
		 * an array, an inbox that failed as {"inbox", "error"} */
		if (arr && !all && cJSON_GetArraySize(arr) == 1)
			cli_print_json(ctx, cJSON_DetachItemFromArray(arr, 0));
		else if (arr && all) {
			cli_print_json(ctx, arr);
			arr = NULL;
		}
		cJSON_Delete(arr);
	} else {
		rc = watch_loop(ctx, clock, xs, n);
		for (i = 0; i < n; i++)
			seq_watcher_close(xs[i].w);
	}
	for (i = 0; i < n; i++)
		db_inbox_free(&xs[i].in);
	free(xs);
	cs_clock_free(clock);
	return rc;
}

static void add_str(cJSON *o, const char *k, const char *v, bool null_ok)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else if (null_ok)
		cJSON_AddNullToObject(o, k);
}

typedef struct event_out {
	cli_ctx *ctx;
	cJSON *arr; /* --json: every event, printed as one array */
} event_out;

static int print_event(const db_event_row *r, void *arg)
{
	event_out *eo = arg;
	cli_ctx *ctx = eo->ctx;
	char when[40];

	cs_time_iso8601(r->received_at, when, sizeof when);
	if (ctx->args->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kind", db_event_kind_name(r->kind));
		cJSON_AddStringToObject(o, "inbox", r->inbox);
		add_str(o, "from", r->from_addr, true);
		add_str(o, "contact", r->contact, true);
		add_str(o, "message_id", r->message_id, true);
		add_str(o, "in_reply_to", r->in_reply_to, true);
		add_str(o, "subject", r->subject, true);
		cJSON_AddStringToObject(o, "received_at", when);
		if (r->recipient && *r->recipient)
			cJSON_AddStringToObject(o, "recipient", r->recipient);
		add_str(o, "status", r->status, false);
		if (r->hard >= 0)
			cJSON_AddBoolToObject(o, "hard", r->hard);
		add_str(o, "reason", r->reason, false);
		add_str(o, "return_date", r->return_date, false);
		add_str(o, "folder", r->folder, false);
		add_str(o, "answers", r->related_message_id, false);
		cJSON_AddItemToArray(eo->arr, o);
	} else {
		fprintf(ctx->out, "%s  %-11s %-12s %-28s %s%s%s\n", when,
		        db_event_kind_name(r->kind), r->inbox,
		        r->recipient && *r->recipient ? r->recipient
		        : r->from_addr                ? r->from_addr
		                                      : "-",
		        r->subject ? r->subject : "", r->status ? " " : "",
		        r->status ? r->status : "");
	}
	return 0;
}

static int run_replies(cli_ctx *ctx, const cli_args *a)
{
	db_event_filter f = {0, NULL, NULL, 0};
	const char *since = cli_opt_value(a, "since"),
	           *limit = cli_opt_value(a, "limit");
	db_event_kind k;
	cs_err err = CS_ERR_INIT;
	event_out eo;

	f.kind = cli_opt_value(a, "kind");
	f.inbox = cli_opt_value(a, "inbox");
	if (f.kind && !db_event_kind_parse(f.kind, &k)) {
		cli_error("replies: --kind \"%s\" is not one of bounce, "
		          "delay, complaint, auto_reply, unsubscribe, "
		          "reply, warmup, other",
		          f.kind);
		return CLI_EXIT_USAGE;
	}
	if (since && cs_time_parse_iso8601(since, &f.since, &err) != 0) {
		cli_error("replies: --since: %s", err.msg);
		return CLI_EXIT_USAGE;
	}
	if (limit && (f.limit = atoll(limit)) <= 0) {
		cli_error("replies: --limit \"%s\" is not a positive number",
		          limit);
		return CLI_EXIT_USAGE;
	}
	eo.ctx = ctx;
	eo.arr = a->json ? cJSON_CreateArray() : NULL;
	if (db_event_list(ctx->db, &f, print_event, &eo, &err) != 0) {
		cli_error("replies: %s", err.msg);
		cJSON_Delete(eo.arr);
		return CLI_EXIT_FAIL;
	}
	if (eo.arr)
		cli_print_json(ctx, eo.arr);
	return CLI_EXIT_OK;
}

static const cli_opt sync_opts[] = {
    {"all", 0, NULL, false, "every inbox"},
    {"once", 0, NULL, false, "one incremental pass, then exit"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt replies_opts[] = {
    {"since", 0, "DATE", false, "only events since this ISO 8601 date"},
    {"kind", 0, "K", false,
     "bounce|delay|complaint|auto_reply|unsubscribe|reply|warmup|other"},
    {"inbox", 0, "NAME", false, "only this inbox"},
    {"limit", 0, "N", false, "at most N events"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_watch[] = {
    {"inbox", "sync", "[NAME]",
     "read new mail (INBOX and Junk) and record replies, bounces, ...",
     "Reads only mail that is new since the last pass (per folder\n"
     "UIDVALIDITY and UID); the first pass of an inbox reads back to the\n"
     "day before it was added or first sent.  Nothing is marked read or\n"
     "moved; Sent and Drafts are never read.  Each message becomes one\n"
     "event (see 'coldseq replies'); hard bounces, complaints and\n"
     "unsubscribes suppress the address.  Without --once it keeps\n"
     "watching (IDLE where offered) until SIGINT/SIGTERM.  An OAuth2\n"
     "token the server refuses is refreshed once (see 'inbox test').\n\n"
     "While watching it prints a line per inbox as it connects, and one\n"
     "per pass: the first after a connect, then each that recorded\n"
     "events or suppressed addresses (every pass with --verbose).\n\n"
     "--json prints (with --once only) {\"inbox\", \"folders\", "
     "\"fetched\",\n\"new_events\", \"suppressed\"}; with --all an "
     "array of them, one per\ninbox ({\"inbox\", \"error\"} for one that "
     "failed, and exit 1).\n\n"
     "Example:\n  coldseq inbox sync --all --once",
     0, 1, CLI_NEEDS_VAULT, sync_opts, run_sync},
    {NULL, "replies", NULL, "list what the watcher recorded, newest first",
     "Every kind except warmup unless --kind asks for it.\n\n"
     "--json prints one array (empty when nothing matches) of objects:\n"
     "kind, inbox, from, contact, message_id, in_reply_to, subject,\n"
     "received_at, and where they apply recipient, status, hard, reason,\n"
     "return_date, folder, answers (the Message-ID of our message it\n"
     "answers or reports; for an unsubscribe or out-of-office that names\n"
     "none, the last one this inbox sent to the contact).\n\n"
     "Example:\n  coldseq replies --kind bounce --since 2026-11-01",
     0, 0, CLI_NEEDS_DB, replies_opts, run_replies},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
