/*
 * seq_service_send.c - the service's sending: due outbox rows batched per
 * inbox into one SMTP session on a worker (send_run, worker: network
 * only), results recorded on the loop (send_done); warmup sends through
 * the same jobs, and warmup's IMAP actions.
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
	bool again;     /* OAuth2: the batch ran again with a fresh token */
	seq_job jobs[SEND_BATCH];
	smtp_result res[SEND_BATCH];
	size_t n;
} send_work;

/* Results from..n: never handed over, tried again in a minute */
static void not_attempted(send_work *w, size_t from, const char *why)
{
	size_t k;

	for (k = from; k < w->n; k++) {
		memset(&w->res[k], 0, sizeof w->res[k]);
		w->res[k].verdict.outcome = SMTP_DEFERRED;
		w->res[k].verdict.retry_after_s = 60;
		snprintf(w->res[k].detail, sizeof w->res[k].detail,
		         "not attempted: %s", why);
	}
}

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
		if (i > 0 && atomic_load(&w->sv->halt)) {
			/* stopping: hand over nothing more, so a stop waits
			 * for one message at most */
			not_attempted(w, i, "the service is stopping");
			break;
		}
		smtp_send(s, w->jobs[i].from, w->jobs[i].contact,
		          w->jobs[i].raw.data, w->jobs[i].raw.len, &w->res[i]);
		if (w->res[i].verdict.outcome == SMTP_SENT)
			svc_crash_point(w->sv, w->jobs[i].warmup_id
			                           ? "warmup_after_dot"
			                           : "after_dot");
		if (w->res[i].verdict.outcome == SMTP_INBOX_FAILURE ||
		    w->res[i].verdict.outcome == SMTP_UNCERTAIN ||
		    !smtp_alive(s)) {
			not_attempted(w, i + 1, "the session ended");
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

/* The forced refresh of oauth_retry ended (on the loop): with a new token
 * the batch goes once more; else its results are recorded as they are
 * (a refused refresh marks w->auth_lost). */
static void oauth_refreshed(svc *sv, void *arg, int rc, const cs_err *why)
{
	send_work *w = arg;
	cs_err err = CS_ERR_INIT;
	cs_secret *fresh = NULL;

	if (rc == 0 && !svc_stopping(sv) && svc_token_usable(sv, &w->in) &&
	    (rc = seq_token_get(sv->d, sv->v, &w->in, false, &fresh, &err)) ==
	        0) {
		cs_log_info("inbox %s: the server refused the access token; "
		            "refreshed it, trying again once",
		            w->in.name);
		cs_secret_free(w->secret);
		w->secret = fresh;
		w->auth.secret = fresh;
		w->iauth.secret = fresh;
		memset(w->res, 0, sizeof w->res);
		w->again = true;
		uv_queue_work(&sv->loop, &w->req, send_run, send_done);
		return;
	}
	if (rc != 0) {
		cs_log_warn("inbox %s: %s", w->in.name,
		            why && why->code ? why->msg : err.msg);
		w->auth_lost = rc == CS_EAUTH;
	}
	send_done(&w->req, 0); /* w->retried: the results are recorded */
}

/* OAuth2 (issue 12): the server refused an oauth2 inbox's access token
 * at AUTH (it expired early or was revoked).  Force one refresh and run
 * the whole batch once more, before any result is recorded: AUTH comes
 * before MAIL, so nothing was handed over, and the rows stay 'sending'
 * with their Message-IDs (a crash meanwhile leaves them uncertain, as
 * for any batch in flight).  The refresh runs on a worker
 * (seq_service_token.c); the job stays in flight, its inbox busy, until
 * oauth_refreshed.  A second refusal is recorded as usual (inbox
 * failure). */
static bool oauth_retry(send_work *w)
{
	if (w->retried || w->n == 0 || !seq_token_refused(&w->in, &w->res[0]))
		return false;
	w->retried = true;
	svc_token_force(w->sv, w->inbox_id, oauth_refreshed, w);
	return true;
}

static void send_done(uv_work_t *req, int status)
{
	send_work *w = req->data;
	svc *sv = w->sv;
	size_t i;

	(void)status;
	if (!svc_stopping(sv) && oauth_retry(w))
		return; /* still in flight, still busy */
	if (w->again && w->n && seq_token_refused(&w->in, &w->res[0])) {
		/* the refreshed token refused too: the mailbox's or the
		 * app's settings, not the authorization (as in the CLI's
		 * seq_auth_refresh_once) */
		cs_buf why = CS_BUF_INIT;

		seq_token_refused_fresh(&w->in, "SMTP", w->res[0].detail, &why);
		cs_log_warn("%s", why.data);
		cs_buf_free(&why);
	}
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
	svc_busy_off(sv, w->inbox_id, SVC_SEND);
	cs_secret_free(w->secret);
	db_inbox_free(&w->in);
	free(w);
	svc_wake(sv, SVC_PLAN | SVC_DUE);
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
	/* a batch is all campaign rows or all warmup sends */
	svc_crash_point(c->sv,
	                w->jobs[0].warmup_id ? "warmup_sending" : "sending");
	w->req.data = w;
	svc_busy_on(c->sv, w->inbox_id, SVC_SEND);
	uv_queue_work(&c->sv->loop, &w->req, send_run, send_done);
	c->started++;
}

/* A send job for one inbox, with its own copy of the inbox and its
 * settings (a reload may free the scheduler's); NULL when the inbox's
 * settings cannot be read (logged). */
static send_work *send_work_new(svc *sv, const db_inbox *src)
{
	send_work *w;
	cs_secret *isec = NULL;
	cs_err err = CS_ERR_INIT;

	/* OAuth2: a token that needs no refresh here; else the refresh runs
	 * on a worker and its end ticks again (seq_service_token.c) */
	if (!svc_token_usable(sv, src))
		return NULL;
	w = cs_xcalloc(1, sizeof *w);
	w->sv = sv;
	w->inbox_id = src->id;
	if (db_inbox_get(sv->d, src->name, &w->in, &err) != 0 ||
	    seq_inbox_smtp(sv->d, sv->v, &w->in, &w->srv, &w->auth, &w->secret,
	                   &err) != 0) {
		/* tried on every pass: logged (and shown by status and
		 * explain) once, and again when it changes */
		svc_note_send(sv, src, &err);
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
	svc_note_send(sv, src, NULL);
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
	if (svc_busy(sv, o->inbox_id, SVC_SEND) ||
	    svc_jobs(sv, SVC_KIND(SVC_SEND)) >= sv->o->workers)
		return 0;
	ib = seq_find_inbox(sv->s, o->inbox_id);
	if (ib == NULL || !ib->active) {
		seq_job none;

		/* paused, lost its authorization, or not loaded: begin moves
		 * the row past the pause without credentials (which would
		 * fail), each wait longer than the last; a first step handed
		 * back to other inboxes meanwhile is gone */
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

void svc_dispatch(svc *sv)
{
	collect c = {sv, NULL, 0};
	cs_err err = CS_ERR_INIT;

	if (svc_stopping(sv) ||
	    svc_jobs(sv, SVC_KIND(SVC_SEND)) >= sv->o->workers)
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
	if (svc_busy(sv, it->inbox_id, SVC_SEND) ||
	    svc_jobs(sv, SVC_KIND(SVC_SEND)) >= sv->o->workers)
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
	svc_busy_off(sv, a->inbox_id, SVC_WARMUP_IMAP);
	free(a->ops);
	cs_secret_free(a->secret);
	db_inbox_free(&a->in);
	free(a);
	svc_wake(sv, SVC_PLAN | SVC_DUE);
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
	svc_busy_on(c->sv, a->inbox_id, SVC_WARMUP_IMAP);
	a->req.data = a;
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
	if (svc_busy(sv, x->inbox_id, SVC_WARMUP_IMAP) ||
	    (ib = seq_find_inbox(sv->s, x->inbox_id)) == NULL ||
	    (c->cur == NULL && !svc_token_usable(sv, &ib->in)))
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

	if (svc_jobs(sv, SVC_KIND(SVC_SEND)) < sv->o->workers &&
	    db_warmup_plan_due(sv->d, now, collect_warmup, &c, &err) != 0)
		cs_log_error("warmup: %s", err.msg);
	launch(&c);
	if (db_warmup_actions_due(sv->d, now, collect_action, &ac, &err) != 0)
		cs_log_error("warmup actions: %s", err.msg);
	act_launch(&ac);
}
