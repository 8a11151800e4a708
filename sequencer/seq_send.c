/*
 * seq_send.c - send one message now, and record it.
 *
 * A test send is an outbox row (purpose test) that goes the one way every
 * message goes, synchronously: the Message-ID is made, the row queued and
 * recorded as 'sending' with its messages row before any byte of DATA
 * goes out (seq_outbox_record: counted against the daily cap and
 * inserted in one write transaction), and settled by seq_outbox_settle.
 * A crash during the SMTP dialogue leaves a row 'sending' that the
 * service's start-up resolves (seq_dispatch_resolve: found in Sent ->
 * sent, else failed; never sent again).
 *
 * Also the SMTP and IMAP logins with the refresh-once rule for OAuth2
 * (seq_smtp_login, seq_imap_login over seq_auth_refresh_once), which every
 * CLI path that authenticates uses.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int seq_inbox_smtp(db *d, cs_vault *v, const db_inbox *in, smtp_server *srv,
                   smtp_auth *auth, cs_secret **secret, cs_err *err)
{
	cs_buf blob = CS_BUF_INIT;
	bool found;
	int rc;

	*secret = NULL;
	memset(srv, 0, sizeof *srv);
	memset(auth, 0, sizeof *auth);
	srv->host = in->smtp_host;
	srv->port = in->smtp_port;
	srv->tls = strcmp(in->smtp_tls, "tls") == 0        ? SMTP_TLS_IMPLICIT
	           : strcmp(in->smtp_tls, "starttls") == 0 ? SMTP_TLS_STARTTLS
	                                                   : SMTP_TLS_NONE;
	srv->tls_opts.ca_file = in->ca_file;
	srv->tls_opts.insecure = in->insecure_tls;
	{
		long long c = 60, m = 300, dt = 600;

		if ((rc = db_config_get_int(d, "smtp.connect_timeout", &c,
		                            err)) ||
		    (rc = db_config_get_int(d, "smtp.command_timeout", &m,
		                            err)) ||
		    (rc = db_config_get_int(d, "smtp.data_timeout", &dt, err)))
			return rc;
		srv->connect_timeout_ms = (int)c * 1000;
		srv->command_timeout_ms = (int)m * 1000;
		srv->data_end_timeout_ms = (int)dt * 1000;
	}
	if (srv->tls == SMTP_TLS_NONE) {
		auth->kind = SMTP_AUTH_NONE;
		return 0;
	}
	if (in->auth == DB_AUTH_OAUTH2) {
		/* an access token valid now: refreshed ahead of its expiry,
		 * which may block up to 10 s (see seq_token.c) */
		if ((rc = seq_token_get(d, v, in, false, secret, err)) != 0)
			return rc;
		auth->kind = SMTP_AUTH_XOAUTH2;
		auth->user = in->username ? in->username : in->email;
		auth->secret = *secret;
		return 0;
	}
	if ((rc = db_inbox_secret(d, in->uuid, &blob, &found, err)) != 0)
		return rc;
	if (!found) {
		cs_buf_free(&blob);
		return cs_err_set(err, CS_EINVAL,
		                  "inbox '%s' has no password stored: run "
		                  "'coldseq inbox set %s --password-stdin'",
		                  in->name, in->name);
	}
	rc = cs_vault_open(v, "inboxes", "secret", in->uuid, blob.data,
	                   blob.len, secret, err);
	cs_buf_free(&blob);
	if (rc)
		return rc;
	auth->kind = SMTP_AUTH_PASSWORD;
	auth->user = in->username ? in->username : in->email;
	auth->secret = *secret;
	return 0;
}

/* The unsubscribe HMAC key: 32 random bytes sealed in meta. */
static int unsub_key(db *d, cs_vault *v, cs_secret **key, cs_err *err)
{
	cs_buf blob = CS_BUF_INIT;
	bool found;
	int rc;

	if ((rc = db_meta_get(d, "unsub_key", &blob, &found, err)) != 0)
		goto out;
	if (!found) {
		unsigned char k[32];

		if (RAND_bytes(k, sizeof k) != 1)
			cs_fatal("RAND_bytes failed");
		rc = cs_vault_seal(v, "meta", "value", "unsub_key", k, sizeof k,
		                   &blob, err);
		cs_memwipe(k, sizeof k);
		if (rc == 0)
			rc = db_meta_set(d, "unsub_key", blob.data, blob.len,
			                 err);
		if (rc)
			goto out;
	}
	rc = cs_vault_open(v, "meta", "value", "unsub_key", blob.data, blob.len,
	                   key, err);
out:
	cs_buf_free(&blob);
	return rc;
}

int seq_unsub_token(db *d, cs_vault *v, const char *contact,
                    const char *campaign, char out[23], cs_err *err)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	    "wxyz0123456789-_";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	cs_buf msg = CS_BUF_INIT;
	cs_secret *key = NULL;
	unsigned bits = 0;
	int rc, i, nbits = 0, o = 0;

	if ((rc = unsub_key(d, v, &key, err)) != 0)
		return rc;
	cs_buf_printf(&msg, "unsub-v1\n%s\n%s", contact, campaign);
	HMAC(EVP_sha256(), cs_secret_value(key), (int)cs_secret_len(key),
	     (const unsigned char *)msg.data, msg.len, mac, &maclen);
	cs_secret_free(key);
	cs_buf_free(&msg);
	/* 22 base64 characters = 132 bits of the MAC */
	for (i = 0; o < 22 && i < (int)maclen; i++) {
		bits = ((bits << 8) | mac[i]) & 0xffffu; /* < 14 bits pending */
		nbits += 8;
		while (nbits >= 6 && o < 22) {
			out[o++] = b64[(bits >> (nbits - 6)) & 63];
			nbits -= 6;
		}
	}
	out[o] = '\0';
	return 0;
}

static int local_offset(const char *tz, int64_t now, int *off, char day[11],
                        cs_err *err)
{
	cs_civil c;
	int rc = cs_tz_civil(tz, now, &c, err);

	if (rc == 0) {
		*off = c.offset_min;
		snprintf(day, 11, "%04u-%02u-%02u", (unsigned)c.year % 10000u,
		         (unsigned)c.month % 100u, (unsigned)c.day % 100u);
	}
	return rc;
}

/* ---- logins with the refresh-once rule (seq_auth_refresh_once) --------- */

typedef struct smtp_try {
	db *d;
	cs_vault *v;
	const db_inbox *in;
	smtp_server *srv;
	smtp_auth *auth;
	cs_secret **secret;
	smtp_session **out;
	smtp_result *res;
} smtp_try;

static int smtp_attempt(void *arg, bool again, bool *refused, cs_err *err)
{
	smtp_try *t = arg;
	int rc;

	if (again) { /* the refreshed token, as stored */
		cs_secret_free(*t->secret);
		*t->secret = NULL;
		if ((rc = seq_inbox_smtp(t->d, t->v, t->in, t->srv, t->auth,
		                         t->secret, err)) != 0)
			return rc;
	}
	memset(t->res, 0, sizeof *t->res);
	if (smtp_open(t->srv, t->auth, t->out, t->res) == 0)
		return 0;
	*refused = seq_token_refused(t->in, t->res);
	return cs_err_set(err, *refused ? CS_EREFUSED : CS_ENET, "%s: %s",
	                  smtp_outcome_name(t->res->verdict.outcome),
	                  t->res->detail);
}

int seq_smtp_login(db *d, cs_vault *v, const db_inbox *in, smtp_server *srv,
                   smtp_auth *auth, cs_secret **secret, smtp_session **out,
                   smtp_result *res, bool *refreshed, cs_err *err)
{
	smtp_try t = {d, v, in, srv, auth, secret, out, res};

	*out = NULL;
	memset(res, 0, sizeof *res);
	return seq_auth_refresh_once(d, v, in, "SMTP", smtp_attempt, &t,
	                             refreshed, err);
}

typedef struct imap_try {
	db *d;
	cs_vault *v;
	const db_inbox *in;
	imap_server *srv;
	imap_auth *auth;
	cs_secret **secret;
	imap_session **out;
} imap_try;

static int imap_attempt(void *arg, bool again, bool *refused, cs_err *err)
{
	imap_try *t = arg;
	int rc;

	if (again) {
		cs_secret_free(*t->secret);
		*t->secret = NULL;
		if ((rc = seq_inbox_imap(t->d, t->v, t->in, t->srv, t->auth,
		                         t->secret, err)) != 0)
			return rc;
	}
	rc = imap_open(t->srv, t->auth, t->out, err);
	*refused = rc == CS_EREFUSED;
	return rc;
}

int seq_imap_login(db *d, cs_vault *v, const db_inbox *in, imap_server *srv,
                   imap_auth *auth, cs_secret **secret, imap_session **out,
                   bool *refreshed, cs_err *err)
{
	imap_try t = {d, v, in, srv, auth, secret, out};

	*out = NULL;
	return seq_auth_refresh_once(d, v, in, "IMAP", imap_attempt, &t,
	                             refreshed, err);
}

/* ---- send one message now ------------------------------------------------ */

static int over_cap(const db_inbox *in, const seq_inbox_day *day,
                    const db_caps *caps, cs_err *err)
{
	if (caps->lim_over) {
		cs_buf b = CS_BUF_INIT;
		char when[40] = "";
		int rc;

		seq_limit_text(caps->lim_id, caps->lim_used, caps->lim_max, &b);
		if (caps->lim_frees_at > 0)
			cs_time_iso8601(caps->lim_frees_at, when, sizeof when);
		rc = cs_err_set(
		    err, CS_ETEMP, "inbox '%s' is %s%s%s; nothing was sent",
		    in->name, b.data, when[0] ? " until " : "", when);
		cs_buf_free(&b);
		return rc;
	}
	return cs_err_set(err, CS_ETEMP,
	                  "inbox '%s' has sent its daily cap of %lld today "
	                  "(%s, %s); nothing was sent",
	                  in->name, caps->cap, day->day, in->timezone);
}

/* What a test send's result does to its outbox row (inside
 * seq_outbox_settle): sent, or failed (a test send is never retried;
 * the messages row keeps what the server said). */
typedef struct tfin {
	db *d;
	long long id;
	bool sent;
	const char *why;
	int64_t now;
	const db_inbox *in;     /* the sending inbox (NULL: no answer) */
	const smtp_result *res; /* its answer */
} tfin;

/* The verdict's effect on the inbox is every purpose's
 * (seq_verdict_effect): a test send that meets the provider's quota
 * pauses the inbox as a campaign step would. */
static int test_effects(void *arg, cs_err *err)
{
	tfin *f = arg;
	seq_verdict_fx fx;
	int rc = 0;

	memset(&fx, 0, sizeof fx);
	if (f->in && f->res)
		rc = seq_verdict_effect(f->d, f->in, f->res, f->now, &fx, err);
	if (rc == 0)
		rc = seq_outbox_move(f->d, f->id, DB_O_SENDING,
		                     f->sent ? DB_O_SENT : DB_O_FAILED,
		                     fx.why.len ? fx.why.data : f->why, -1,
		                     f->now, err);
	seq_verdict_fx_free(&fx);
	return rc;
}

static int test_settle(db *d, const db_inbox *in, long long id,
                       const char *message_id, const smtp_result *res,
                       int64_t now, cs_err *err)
{
	tfin f = {d,
	          id,
	          res->verdict.outcome == SMTP_SENT,
	          res->detail[0] ? res->detail : res->text,
	          now,
	          in,
	          res};

	return seq_outbox_settle(d, message_id, res, test_effects, &f, now,
	                         err);
}

int seq_send_uncertain(db *d, cs_clock *clock, const db_outbox *o, bool checked,
                       bool found, const char *why, cs_err *err)
{
	smtp_result res;

	seq_outbox_unc_result(&res, checked, found, why,
	                      "; a test send is never sent again");
	return test_settle(d, NULL, o->id, o->message_id, &res,
	                   cs_clock_now(clock), err);
}

int seq_send_now(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                 const smtp_msg_spec *spec, db_purpose purpose, cs_buf *raw,
                 seq_sent *out, cs_err *err)
{
	smtp_msg_spec m = *spec;
	smtp_server srv;
	smtp_auth auth;
	smtp_session *s = NULL;
	cs_secret *secret = NULL;
	db_message row;
	seq_inbox_day day;
	db_caps caps = {0};
	db_outbox o;
	long long oid = 0;
	bool over = false;
	int64_t now = cs_clock_now(clock);
	int rc;

	memset(out, 0, sizeof *out);
	if (purpose != DB_PURPOSE_TEST)
		return cs_err_set(err, CS_EINVAL,
		                  "seq_send_now sends test messages only, not "
		                  "'%s'",
		                  db_purpose_name(purpose));
	if ((rc = local_offset(in->timezone, now, &m.tz_offset_min,
	                       out->local_day, err)) != 0)
		return rc;
	{
		cs_buf why = CS_BUF_INIT;
		bool supp = false;

		rc = db_is_suppressed(d, spec->to_addr, &supp, &why, err);
		if (rc == 0 && supp)
			rc = cs_err_set(
			    err, CS_EINVAL,
			    "%s is suppressed (%s); nothing was sent",
			    spec->to_addr, cs_buf_str(&why));
		cs_buf_free(&why);
		if (rc)
			return rc;
	}
	/* the caps the scheduler holds a send against (campaign cap with
	 * its ramp, the daily total); this look is for the message only:
	 * db_message_add_capped below is the check */
	if ((rc = seq_inbox_day_get(d, in, now, &day, err)) != 0)
		return rc;
	memcpy(out->local_day, day.day, sizeof out->local_day);
	caps.cap = day.cap;
	caps.campaign = day.campaign;
	caps.total = day.total;
	if (day.campaign >= day.cap)
		return over_cap(in, &day, &caps, err);
	if ((rc = seq_limits_caps(d, in, &caps, err)) != 0)
		return rc;
	/* credentials first: a pending or auth_failed inbox records nothing */
	if ((rc = seq_inbox_smtp(d, v, in, &srv, &auth, &secret, err)) != 0)
		return rc;
	m.date_ms = now;
	if ((rc = smtp_build_message(&m, raw, &out->message_id, err)) != 0)
		goto unsent;
	memset(&row, 0, sizeof row);
	row.message_id = out->message_id;
	row.inbox_id = in->id;
	row.inbox_email = in->email;
	row.recipient = m.to_addr;
	row.purpose = purpose;
	row.subject = m.subject;
	row.created_at = now;
	row.local_day = out->local_day;
	/* an outbox row like every message's, recorded before DATA the one
	 * way (seq_outbox_record): counted and recorded in one write
	 * transaction, the service and other CLI processes send from the
	 * same inbox */
	memset(&o, 0, sizeof o);
	o.purpose = purpose;
	o.inbox_id = in->id;
	o.message_id = out->message_id;
	o.subject = (char *)(m.subject ? m.subject : "");
	o.due_at = now;
	if ((rc = db_begin(d, err)) != 0)
		goto unsent;
	if ((rc = db_outbox_add(d, &o, now, &oid, err)) != 0 ||
	    (rc = seq_outbox_record(d, oid, &row, &caps, &over, NULL, NULL, now,
	                            err)) != 0 ||
	    over || (rc = db_commit(d, err)) != 0) {
		db_rollback(d);
		if (rc == 0 && over)
			rc = over_cap(in, &day, &caps, err);
		goto unsent;
	}
	if (seq_smtp_login(d, v, in, &srv, &auth, &secret, &s, &out->smtp, NULL,
	                   err) != 0) {
		/* nothing was handed over; err says why (a refused token
		 * was refreshed once first) */
		if (out->smtp.verdict.outcome == SMTP_SENT)
			out->smtp.verdict.outcome = SMTP_INBOX_FAILURE;
		rc = out->smtp.verdict.outcome == SMTP_DEFERRED ||
		             out->smtp.verdict.outcome == SMTP_INBOX_FAILURE
		         ? CS_ETEMP
		         : CS_ENET;
		if (err)
			err->code = rc;
	} else if (smtp_send(s, in->email, m.to_addr, raw->data, raw->len,
	                     &out->smtp) != 0) {
		rc = out->smtp.verdict.outcome == SMTP_DEFERRED ||
		             out->smtp.verdict.outcome == SMTP_INBOX_FAILURE
		         ? CS_ETEMP
		         : CS_ENET;
		cs_err_set(err, rc, "%s: %s",
		           smtp_outcome_name(out->smtp.verdict.outcome),
		           out->smtp.detail);
	}
	smtp_close(s);
	{
		cs_err e2 = CS_ERR_INIT;
		int rc2 = test_settle(d, in, oid, out->message_id, &out->smtp,
		                      cs_clock_now(clock), &e2);

		if (rc2 != 0 && rc == 0) {
			rc = rc2;
			*err = e2;
		}
	}
	cs_secret_free(secret);
	return rc;
unsent: /* nothing recorded: no Message-ID to report */
	free(out->message_id);
	out->message_id = NULL;
	cs_secret_free(secret);
	return rc;
}
