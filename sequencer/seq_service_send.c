/*
 * seq_service_send.c - the service's sending: its seq_transport (each
 * batch the dispatcher makes, one inbox's messages, in one SMTP session on
 * a worker: send_run, network only; results handed back to the dispatcher
 * on the loop: send_done), the start-up's crash resolution through the
 * dispatcher, and warmup's IMAP actions.
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

/* ---- sending: the service's transport ---------------------------------- */

/* The dispatcher (seq_dispatch.c) decides what goes; this transport runs
 * each batch (one inbox: one SMTP session, n messages, the Sent copy) on
 * a worker, with the crash points, the OAuth2 refresh-once retry and the
 * halt between messages, and hands it back on the loop. */
struct svc_send {
	seq_transport t;
	seq_dispatch *dp;
};

typedef struct send_work {
	uv_work_t req;
	svc *sv;
	seq_batch *b; /* the dispatcher's, until seq_dispatch_done */
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
} send_work;

/* The crash point of a purpose: `base` for campaign rows, "warmup_" base
 * for warmup sends (tests only, see svc_crash_point). */
static void crash_at(svc *sv, db_purpose p, const char *base)
{
	char point[32];

	snprintf(point, sizeof point, "%s%s",
	         p == DB_PURPOSE_WARMUP ? "warmup_" : "", base);
	svc_crash_point(sv, point);
}

/* Results from..n: never handed over, tried again in a minute */
static void not_attempted(seq_batch *b, size_t from, const char *why)
{
	size_t k;

	for (k = from; k < b->n; k++) {
		memset(&b->res[k], 0, sizeof b->res[k]);
		b->res[k].verdict.outcome = SMTP_DEFERRED;
		b->res[k].verdict.retry_after_s = 60;
		snprintf(b->res[k].detail, sizeof b->res[k].detail,
		         "not attempted: %s", why);
	}
}

/* The verdict stops the whole inbox (seq_verdict_effect pauses it or
 * holds its sessions back). */
static bool stops_inbox(const smtp_verdict *v)
{
	return v->action == SMTP_ACT_QUOTA ||
	       v->action == SMTP_ACT_RESTRICTED ||
	       v->action == SMTP_ACT_BACKOFF_CONNECTIONS;
}

/* Worker: network only. */
static void send_run(uv_work_t *req)
{
	send_work *w = req->data;
	seq_batch *b = w->b;
	smtp_session *s = NULL;
	size_t i;

	if (smtp_open(&w->srv, &w->auth, &s, &b->res[0]) != 0) {
		for (i = 1; i < b->n; i++)
			b->res[i] = b->res[0];
		return;
	}
	for (i = 0; i < b->n; i++) {
		if (i > 0 && atomic_load(&w->sv->halt)) {
			/* stopping: hand over nothing more, so a stop waits
			 * for one message at most */
			not_attempted(b, i, "the service is stopping");
			break;
		}
		smtp_send(s, b->jobs[i].from, b->jobs[i].contact,
		          b->jobs[i].raw.data, b->jobs[i].raw.len, &b->res[i]);
		if (b->res[i].verdict.outcome == SMTP_SENT)
			crash_at(w->sv, b->jobs[i].purpose, "after_dot");
		if (b->res[i].verdict.outcome == SMTP_INBOX_FAILURE ||
		    b->res[i].verdict.outcome == SMTP_UNCERTAIN ||
		    !smtp_alive(s)) {
			not_attempted(b, i + 1, "the session ended");
			break;
		}
		if (stops_inbox(&b->res[i].verdict)) {
			/* the provider refuses this sender, not this message:
			 * the next ones would meet the same answer */
			not_attempted(b, i + 1, b->res[i].verdict.rule);
			break;
		}
	}
	smtp_close(s);
	if (w->sent_copy)
		for (i = 0; i < b->n; i++) {
			char *folder = NULL;
			cs_err err = CS_ERR_INIT;

			if (b->res[i].verdict.outcome != SMTP_SENT)
				continue;
			if (seq_sent_copy_to(
			        &w->isrv, &w->iauth, b->jobs[i].inbox,
			        b->jobs[i].raw.data, b->jobs[i].raw.len,
			        &folder, &err) != 0)
				cs_log_warn("inbox %s: no copy in Sent: %s",
				            b->jobs[i].inbox, err.msg);
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
		memset(w->b->res, 0, sizeof w->b->res);
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
	if (w->retried || w->b->n == 0 ||
	    !seq_token_refused(&w->in, &w->b->res[0]))
		return false;
	w->retried = true;
	svc_token_force(w->sv, w->inbox_id, oauth_refreshed, w);
	return true;
}

static void send_work_free(send_work *w)
{
	cs_secret_free(w->secret);
	db_inbox_free(&w->in);
	free(w);
}

/* What the service says of each message (the dispatcher's synchronous
 * users, preview and the simulated runs, say nothing). */
static void log_result(const seq_job *j, const smtp_result *r)
{
	smtp_outcome o = r->verdict.outcome;

	if (o == SMTP_SENT && j->purpose == DB_PURPOSE_WARMUP)
		cs_log_info("sent warmup (%s) to %s from %s", j->variant,
		            j->contact, j->inbox);
	else if (o == SMTP_SENT)
		cs_log_info("sent %s step %d to %s from %s", j->campaign,
		            j->step, j->contact, j->inbox);
	else
		cs_log_warn("%s to %s from %s: %s", smtp_outcome_name(o),
		            j->contact, j->inbox,
		            r->detail[0] ? r->detail : r->text);
}

static void send_done(uv_work_t *req, int status)
{
	send_work *w = req->data;
	svc *sv = w->sv;
	size_t i;

	(void)status;
	if (!svc_stopping(sv) && oauth_retry(w))
		return; /* still in flight, still busy */
	if (w->again && w->b->n && seq_token_refused(&w->in, &w->b->res[0])) {
		/* the refreshed token refused too: the mailbox's or the
		 * app's settings, not the authorization (as in the CLI's
		 * seq_auth_refresh_once) */
		cs_buf why = CS_BUF_INIT;

		seq_token_refused_fresh(&w->in, "SMTP", w->b->res[0].detail,
		                        &why);
		cs_log_warn("%s", why.data);
		cs_buf_free(&why);
	}
	for (i = 0; i < w->b->n; i++)
		log_result(&w->b->jobs[i], &w->b->res[i]);
	seq_dispatch_done(w->b); /* records each result, frees the batch */
	if (w->auth_lost) {
		cs_err err = CS_ERR_INIT;

		if (seq_sched_auth_lost(sv->s, w->inbox_id, &err) != 0)
			cs_log_error("inbox %s: %s", w->in.name, err.msg);
	}
	svc_busy_off(sv, w->inbox_id, SVC_SEND);
	send_work_free(w);
	svc_wake(sv, SVC_PLAN | SVC_DUE);
}

/* open: a send job for inbox src, with its own copy of the inbox and its
 * settings (a reload may free the scheduler's); non-zero when the
 * inbox's credentials cannot be used now (logged). */
static int tr_open(void *arg, const db_inbox *src, seq_batch *b)
{
	svc *sv = arg;
	send_work *w;
	cs_secret *isec = NULL;
	cs_err err = CS_ERR_INIT;

	/* OAuth2: a token that needs no refresh here; else the refresh runs
	 * on a worker and its end ticks again (seq_service_token.c) */
	if (!svc_token_usable(sv, src))
		return -1;
	w = cs_xcalloc(1, sizeof *w);
	w->sv = sv;
	w->inbox_id = src->id;
	if (db_inbox_get(sv->d, src->name, &w->in, &err) != 0 ||
	    seq_inbox_smtp(sv->d, sv->v, &w->in, &w->srv, &w->auth, &w->secret,
	                   &err) != 0) {
		/* tried on every pass: logged (and shown by status and
		 * explain) once, and again when it changes */
		svc_note_send(sv, src, &err);
		send_work_free(w);
		/* OAuth2: the refresh was refused: stop this inbox only (its
		 * next rows are then moved as paused) */
		if (err.code == CS_EAUTH &&
		    seq_sched_auth_lost(sv->s, src->id, &err) != 0)
			cs_log_error("inbox %s: %s", src->name, err.msg);
		return -1;
	}
	svc_note_send(sv, src, NULL);
	w->sent_copy = seq_wants_sent_copy(&w->in) &&
	               seq_inbox_imap(sv->d, sv->v, &w->in, &w->isrv, &w->iauth,
	                              &isec, &err) == 0;
	/* the same secret: keep one copy alive for both */
	cs_secret_free(isec);
	w->iauth.secret = w->secret;
	w->b = b;
	b->priv = w;
	return 0;
}

static void tr_discard(void *arg, seq_batch *b)
{
	(void)arg;
	send_work_free(b->priv);
	b->priv = NULL;
}

static void tr_submit(void *arg, seq_batch *b)
{
	svc *sv = arg;
	send_work *w = b->priv;
	bool seen[DB_PURPOSE_N] = {false};
	size_t i;

	/* each purpose in the batch reaches its point once: marked
	 * 'sending', not yet handed to the worker */
	for (i = 0; i < b->n; i++)
		if (!seen[b->jobs[i].purpose]) {
			seen[b->jobs[i].purpose] = true;
			crash_at(sv, b->jobs[i].purpose, "sending");
		}
	w->req.data = w;
	svc_busy_on(sv, w->inbox_id, SVC_SEND);
	uv_queue_work(&sv->loop, &w->req, send_run, send_done);
}

int svc_send_open(svc *sv, cs_err *err)
{
	svc_send *x = cs_xcalloc(1, sizeof *x);
	int rc;

	x->t.arg = sv;
	x->t.open = tr_open;
	x->t.submit = tr_submit;
	x->t.discard = tr_discard;
	x->t.batch_max = SEND_BATCH;
	x->t.max_batches = sv->o->workers;
	if ((rc = seq_dispatch_open(sv->s, sv->wu, &x->t, &x->dp)) != 0) {
		free(x);
		return cs_err_set(err, rc, "cannot start the dispatcher");
	}
	sv->snd = x;
	return 0;
}

void svc_send_close(svc *sv)
{
	if (sv->snd == NULL)
		return;
	seq_dispatch_close(sv->snd->dp);
	free(sv->snd);
	sv->snd = NULL;
}

/* The crash resolution's look-up: the inbox's Sent folder, over IMAP
 * (before the loop starts: nothing else runs yet). */
static int sent_lookup(void *arg, const db_inbox *in, const char *message_id,
                       bool *found, cs_err *err)
{
	svc *sv = arg;
	imap_server srv;
	imap_auth auth;
	cs_secret *sec = NULL;
	int rc;

	if ((rc = seq_inbox_imap(sv->d, sv->v, in, &srv, &auth, &sec, err)) ==
	    0)
		rc = seq_sent_find(&srv, &auth, message_id, found, err);
	cs_secret_free(sec);
	return rc;
}

int svc_send_resolve(svc *sv, cs_err *err)
{
	return seq_dispatch_resolve(sv->snd->dp, sent_lookup, sv, err);
}

static void warmup_dispatch(svc *sv);

void svc_dispatch(svc *sv)
{
	cs_err err = CS_ERR_INIT;

	if (svc_stopping(sv) ||
	    svc_jobs(sv, SVC_KIND(SVC_SEND)) >= sv->o->workers)
		return;
	if (seq_dispatch_run(sv->snd->dp, 200, NULL, &err) != 0)
		cs_log_error("outbox: %s", err.msg);
	warmup_dispatch(sv);
}

/* ---- warmup's IMAP actions (the receiving side) ------------------------ */

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
	op->action = x->action;
	op->folder = cs_xstrdup(x->folder);
	op->flag = x->flag;
	op->uidvalidity = x->uidvalidity;
	op->uid = x->uid;
	op->attempts = x->attempts;
	return 0;
}

static void warmup_dispatch(svc *sv)
{
	act_collect ac = {sv, NULL};
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(sv->o->clock);

	if (db_warmup_actions_due(sv->d, now, collect_action, &ac, &err) != 0)
		cs_log_error("warmup actions: %s", err.msg);
	act_launch(&ac);
}
