/*
 * seq_token.c - a valid OAuth2 access token for an inbox, and what
 * happens when the provider takes the authorization back.
 *
 * seq_token_get hands out the stored access token while it has more than
 * a margin of its life left (a quarter of its lifetime, at most 5
 * minutes), and otherwise refreshes it first.  Expiry is the provider's:
 * times are real time (cs_clock_now(NULL)), never the service's clock,
 * which may be simulated.
 *
 * Refresh, in this order:
 *   1. read the token row (generation g) and open the refresh token
 *   2. the refresh grant (net_oauth_refresh, at most REFRESH_TIMEOUT_MS)
 *   3. one transaction, only if the row is still at generation g: the new
 *      access token, a rotated refresh token (the old one is replaced,
 *      never kept beside it) and their times (db_token_refreshed)
 * If another process (the CLI beside the service) refreshed between 1
 * and 3, its tokens win and are used.  invalid_grant (revoked, expired,
 * password changed) is checked against a concurrent rotation first, then
 * puts only this inbox in auth_failed with the reason and the exact
 * command that reconnects it; other inboxes are untouched.  A temporary
 * failure (network, 5xx) keeps using the stored access token while it is
 * still valid.
 *
 * The refresh is three steps, each its own call, so that an event loop
 * can run step 2 on a worker (seq_service_token.c): plan (step 1, on the
 * thread that owns the database), run (step 2, network only) and apply
 * (step 3, on the database's thread).  seq_token_get chains them in one
 * call, for the CLI, which has no loop: it may block for at most
 * REFRESH_TIMEOUT_MS.
 *
 * A server that refuses the access token at login (SMTP AUTH, IMAP)
 * gets one forced refresh and one more try, on every path that
 * authenticates: seq_auth_refresh_once for the CLI (send-test, inbox
 * test, inbox sync), oauth_retry and the watcher's forced reauth in the
 * service.  invalid_grant there is the auth_failed above; a fresh token
 * refused again is the mailbox's or the app's settings
 * (seq_token_refused_fresh says which), never auth_failed.
 *
 * Times the service uses (seq_token_check), for a token of life L and
 * margin m = min(L/4, 5 min):
 *
 *     refreshed         refresh_at     not usable          expires
 *     |-----------------|--------------|--------|----------|
 *                       <------- LEAD(m) ------><--- m --->
 *                                      <-- s -->
 *
 * From refresh_at the service refreshes on a worker, and retries after a
 * failure while the stored token stays usable (its "stale OK" window is
 * LEAD before the margin instead of the last 30 s).  Usable means
 * seq_token_get(force=false) hands the stored token out without the
 * network, with a slack s = min(L/8, 10 s) for the time between the
 * check and the use.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdlib.h>
#include <string.h>

#define REFRESH_TIMEOUT_MS 10000  /* one refresh grant, all in */
#define MAX_MARGIN_MS      300000 /* refresh 5 minutes before expiry */
#define SLACK_MS           10000  /* seq_token_check: usable with room */
/* a service refreshes this much before seq_token_get would */
#define LEAD(margin) (margin)
#define STALE_OK_MS                                                            \
	30000                /* a token this close to expiry is no             \
	                        fallback when a refresh failed */
#define USED_EVERY_MS  60000 /* record use at most this often */
#define DEFAULT_LIFE_S 3600  /* when the answer gives no expires_in */

/* s with every "{tenant}" replaced by tenant, into out. */
static void with_tenant(const char *s, const char *tenant, cs_buf *out)
{
	const char *p;

	while ((p = strstr(s, "{tenant}")) != NULL) {
		cs_buf_append(out, s, (size_t)(p - s));
		cs_buf_puts(out, tenant);
		s = p + 8;
	}
	cs_buf_puts(out, s);
}

void seq_oauth_cfg_free(seq_oauth_cfg *c)
{
	if (c == NULL)
		return;
	cs_buf_free(&c->token_url);
	cs_buf_free(&c->device_url);
	cs_buf_free(&c->auth_url);
	cs_buf_free(&c->client_id);
	cs_secret_free(c->client_secret);
	memset(c, 0, sizeof *c);
}

int seq_oauth_cfg_load(db *d, cs_vault *v, cs_provider_id provider,
                       const char *tenant, int timeout_ms, seq_oauth_cfg *out,
                       cs_err *err)
{
	const cs_provider *p = cs_provider_get(provider);
	bool device; /* device-code flow, else authorization code */
	cs_buf raw = CS_BUF_INIT;
	char key[64];
	int rc;

	memset(out, 0, sizeof *out);
	if (!p->oauth)
		return cs_err_set(err, CS_EINVAL,
		                  "provider \"%s\" has no OAuth2 settings "
		                  "(google or microsoft)",
		                  p->name);
	device = p->oauth_device_url != NULL;
	if (tenant == NULL || *tenant == '\0')
		tenant = SEQ_OAUTH_TENANT;
	snprintf(key, sizeof key, "oauth.%s.client_id", p->name);
	if ((rc = db_config_get(d, key, &out->client_id, NULL, err)) != 0)
		goto fail;
	if (out->client_id.len == 0) {
		rc = cs_err_set(
		    err, CS_EINVAL,
		    "config %s is not set: register an app (see the "
		    "README, \"Connect Microsoft 365 and Google\") and "
		    "run 'coldseq config set %s ID'",
		    key, key);
		goto fail;
	}
	snprintf(key, sizeof key, "oauth.%s.token_url", p->name);
	if ((rc = db_config_get(d, key, &raw, NULL, err)) != 0)
		goto fail;
	with_tenant(cs_buf_str(&raw), tenant, &out->token_url);
	cs_buf_clear(&raw);
	snprintf(key, sizeof key, "oauth.%s.%s", p->name,
	         device ? "device_code_url" : "auth_url");
	if ((rc = db_config_get(d, key, &raw, NULL, err)) != 0)
		goto fail;
	with_tenant(cs_buf_str(&raw), tenant,
	            device ? &out->device_url : &out->auth_url);
	if (p->oauth_secret) {
		cs_buf blob = CS_BUF_INIT;
		char sealed[96];
		bool found = false;

		snprintf(key, sizeof key, "oauth.%s.client_secret", p->name);
		snprintf(sealed, sizeof sealed, DB_CFG_SEALED_PREFIX "%s", key);
		rc = db_config_get_sealed(d, key, &blob, &found, err);
		if (rc == 0 && found)
			rc =
			    cs_vault_open(v, "meta", "value", sealed, blob.data,
			                  blob.len, &out->client_secret, err);
		cs_buf_free(&blob);
		if (rc)
			goto fail;
	}
	out->scope = p->oauth_scope;
	out->client.token_url = cs_buf_str(&out->token_url);
	out->client.client_id = cs_buf_str(&out->client_id);
	out->client.client_secret = out->client_secret;
	out->client.timeout_ms = timeout_ms;
	cs_buf_free(&raw);
	return 0;
fail:
	cs_buf_free(&raw);
	seq_oauth_cfg_free(out);
	return rc;
}

bool seq_inbox_authorized(const db_inbox *in)
{
	return in->auth_state == DB_AUTH_OK;
}

void seq_token_reconnect_cmd(const db_inbox *in, const char *tenant,
                             cs_buf *out)
{
	cs_buf_printf(out, "coldseq inbox connect %s --email %s --name %s",
	              cs_provider_get(in->provider)->name, in->email, in->name);
	if (in->provider == CS_PROVIDER_MICROSOFT && tenant && *tenant &&
	    strcmp(tenant, SEQ_OAUTH_TENANT) != 0)
		cs_buf_printf(out, " --tenant %s", tenant);
}

/* The stored access token (inboxes.secret). */
static int open_access(db *d, cs_vault *v, const db_inbox *in, cs_secret **out,
                       cs_err *err)
{
	cs_buf blob = CS_BUF_INIT;
	bool found = false;
	int rc;

	if ((rc = db_inbox_secret(d, in->uuid, &blob, &found, err)) != 0)
		return rc;
	if (!found)
		rc = cs_err_set(err, CS_EINVAL,
		                "inbox '%s' has no token stored: run 'coldseq "
		                "inbox connect %s --email %s --name %s'",
		                in->name,
		                cs_provider_get(in->provider)->oauth
		                    ? cs_provider_get(in->provider)->name
		                    : "google|microsoft",
		                in->email, in->name);
	else
		rc = cs_vault_open(v, "inboxes", "secret", in->uuid, blob.data,
		                   blob.len, out, err);
	cs_buf_free(&blob);
	return rc;
}

static int64_t margin_ms(const db_token *t)
{
	int64_t life = t->expires_at - t->refreshed_at;
	int64_t m = life > 0 ? life / 4 : 0;

	return m < MAX_MARGIN_MS ? m : MAX_MARGIN_MS;
}

/* invalid_grant: only this inbox stops, saying how to get it back. */
static int lose_authorization(db *d, const db_inbox *in, const db_token *t,
                              const cs_err *why, int64_t now, cs_err *err)
{
	cs_buf reason = CS_BUF_INIT;
	char when[32];
	cs_err e2 = CS_ERR_INIT;

	cs_time_iso8601(now, when, sizeof when);
	cs_buf_printf(&reason,
	              "the provider refused the refresh token at %s (%s); "
	              "reconnect with: ",
	              when, why->msg);
	seq_token_reconnect_cmd(in, t->tenant, &reason);
	if (db_inbox_set_auth(d, in->id, DB_AUTH_FAILED, reason.data, now,
	                      &e2) != 0)
		cs_log_error("inbox %s: %s", in->name, e2.msg);
	cs_log_warn("inbox %s lost its authorization: %s", in->name,
	            reason.data);
	cs_err_set(err, CS_EAUTH, "inbox '%s' needs reconnecting: %s", in->name,
	           reason.data);
	cs_buf_free(&reason);
	return CS_EAUTH;
}

/* ---- the refresh in three steps ------------------------------------------ */

struct seq_token_refresh {
	db *d;
	cs_vault *v;
	db_inbox in; /* id, uuid, name, email, provider, auth: owned copies */
	db_token t;  /* the row planned from (its generation is checked) */
	int64_t now; /* real time of the plan: the new expiry counts from it */
	seq_oauth_cfg cfg;
	cs_secret *rt; /* the refresh token, opened */
	bool rescope;  /* the refresh repeats the scope (Microsoft) */
	/* what run found */
	int rc;
	cs_err err;
	net_oauth_tokens nt;
};

void seq_token_refresh_free(seq_token_refresh *r)
{
	if (r == NULL)
		return;
	db_inbox_free(&r->in);
	db_token_free(&r->t);
	seq_oauth_cfg_free(&r->cfg);
	cs_secret_free(r->rt);
	net_oauth_tokens_free(&r->nt);
	free(r);
}

/* The row of an inbox that may be refreshed: auth_state ok, and with a
 * token row when force (a fixed bearer token has no refresh token). */
static int read_row(db *d, const db_inbox *in, bool force, db_token *t,
                    cs_err *err)
{
	int rc;

	if ((rc = db_token_get(d, in->id, t, err)) != 0)
		return rc;
	if (t->auth_state == DB_AUTH_FAILED)
		rc = cs_err_set(
		    err, CS_EAUTH, "inbox '%s' needs reconnecting: %s",
		    in->name, t->auth_reason ? t->auth_reason : "(no reason)");
	else if (t->auth_state == DB_AUTH_PENDING)
		rc = cs_err_set(err, CS_EAUTH,
		                "inbox '%s' is not connected yet: run 'coldseq "
		                "inbox connect --pending'",
		                in->name);
	else if (!t->found && force)
		rc = cs_err_set(err, CS_EINVAL,
		                "inbox '%s' has a fixed bearer token and no "
		                "refresh token: give a new token with 'coldseq "
		                "inbox set %s --password-stdin', or connect it "
		                "with 'coldseq inbox connect'",
		                in->name, in->name);
	if (rc)
		db_token_free(t);
	return rc;
}

/* Step 1 from the row t (taken over, freed on failure). */
static int plan_from(db *d, cs_vault *v, const db_inbox *in, db_token *t,
                     int64_t now, seq_token_refresh **out, cs_err *err)
{
	seq_token_refresh *r = cs_xcalloc(1, sizeof *r);
	int rc;

	*out = NULL;
	r->d = d;
	r->v = v;
	r->in.id = in->id;
	r->in.uuid = cs_xstrdup(in->uuid);
	r->in.name = cs_xstrdup(in->name);
	r->in.email = cs_xstrdup(in->email);
	r->in.provider = in->provider;
	r->in.auth = in->auth;
	r->t = *t;
	memset(t, 0, sizeof *t);
	r->now = now;
	r->rescope = cs_provider_get(r->t.provider)->oauth_scope_on_refresh;
	if ((rc = seq_oauth_cfg_load(d, v, r->t.provider, r->t.tenant,
	                             REFRESH_TIMEOUT_MS, &r->cfg, err)) != 0 ||
	    (rc = cs_vault_open(v, "oauth_tokens", "refresh_token", in->uuid,
	                        r->t.refresh.data, r->t.refresh.len, &r->rt,
	                        err)) != 0) {
		seq_token_refresh_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int seq_token_check(db *d, const db_inbox *in, int64_t now, seq_token_info *out,
                    cs_err *err)
{
	db_token t;
	int64_t m, life, slack;
	int rc;

	out->usable = true;
	out->refresh_at = INT64_MAX;
	if (in->auth != DB_AUTH_OAUTH2)
		return 0;
	if ((rc = db_token_get(d, in->id, &t, err)) != 0)
		return rc;
	/* pending, auth_failed, a fixed bearer token: seq_token_get answers
	 * at once, and nothing can be refreshed */
	if (t.found && t.auth_state == DB_AUTH_OK) {
		m = margin_ms(&t);
		life = t.expires_at - t.refreshed_at;
		slack = life > 0 ? life / 8 : 0;
		if (slack > SLACK_MS)
			slack = SLACK_MS;
		out->usable = t.expires_at - now > m + slack;
		out->refresh_at = t.expires_at - m - LEAD(m);
	}
	db_token_free(&t);
	return 0;
}

int seq_token_refresh_plan(db *d, cs_vault *v, const db_inbox *in, bool force,
                           seq_token_refresh **out, cs_err *err)
{
	int64_t now = cs_clock_now(NULL);
	db_token t;
	int rc;

	*out = NULL;
	if ((rc = read_row(d, in, force, &t, err)) != 0)
		return rc;
	if (!t.found ||
	    (!force &&
	     t.expires_at - margin_ms(&t) - LEAD(margin_ms(&t)) > now)) {
		db_token_free(&t);
		return 0;
	}
	return plan_from(d, v, in, &t, now, out, err);
}

/* Step 2: the refresh grant, network only (any thread). */
void seq_token_refresh_run(seq_token_refresh *r)
{
	r->rc = net_oauth_refresh(&r->cfg.client, r->rt,
	                          r->rescope ? r->cfg.scope : NULL, &r->nt,
	                          &r->err);
}

/* Step 3 after a granted refresh: seal and store, if still generation g. */
static int store(seq_token_refresh *r, bool *raced, cs_err *err)
{
	cs_buf ablob = CS_BUF_INIT, rblob = CS_BUF_INIT;
	const net_oauth_tokens *nt = &r->nt;
	db_token_set set;
	char until[32];
	int rc;

	memset(&set, 0, sizeof set);
	set.inbox_id = r->in.id;
	set.expires_at =
	    r->now +
	    (nt->expires_in > 0 ? nt->expires_in : DEFAULT_LIFE_S) * 1000;
	set.now = r->now;
	set.expect_generation = r->t.generation;
	if ((rc = cs_vault_seal(r->v, "inboxes", "secret", r->in.uuid,
	                        cs_secret_value(nt->access),
	                        cs_secret_len(nt->access), &ablob, err)) != 0 ||
	    (nt->refresh &&
	     (rc = cs_vault_seal(r->v, "oauth_tokens", "refresh_token",
	                         r->in.uuid, cs_secret_value(nt->refresh),
	                         cs_secret_len(nt->refresh), &rblob, err)) !=
	         0))
		goto out;
	set.access = ablob.data;
	set.access_len = ablob.len;
	set.refresh = nt->refresh ? rblob.data : NULL;
	set.refresh_len = rblob.len;
	if ((rc = db_token_refreshed(r->d, &set, raced, err)) != 0 || *raced)
		goto out;
	cs_time_iso8601(set.expires_at, until, sizeof until);
	cs_log_info("inbox %s: access token refreshed, valid until %s%s",
	            r->in.name, until,
	            nt->refresh ? " (the refresh token was rotated)" : "");
out:
	cs_buf_free(&ablob);
	cs_buf_free(&rblob);
	return rc;
}

int seq_token_refresh_apply(seq_token_refresh *r, bool *raced, cs_err *err)
{
	db_token again;
	cs_err gerr = CS_ERR_INIT;
	int rc;

	*raced = false;
	if (r->rc == 0)
		return store(r, raced, err);
	if (r->rc != CS_EAUTH) { /* temporary: network, 5xx, timeout */
		if (err) {
			*err = r->err;
			cs_err_prefix(err,
			              "inbox '%s': cannot refresh the access "
			              "token",
			              r->in.name);
		}
		return r->rc;
	}
	/* invalid_grant: unless another process rotated the refresh token
	 * meanwhile (then its tokens are newer than the ones used here) */
	if ((rc = db_token_get(r->d, r->in.id, &again, &gerr)) != 0) {
		if (err)
			*err = gerr;
		return rc;
	}
	*raced = again.found && again.generation != r->t.generation;
	db_token_free(&again);
	if (*raced)
		return 0;
	return lose_authorization(r->d, &r->in, &r->t, &r->err, r->now, err);
}

/* The stored access token, its use recorded now and then. */
static int hand_out(db *d, cs_vault *v, const db_inbox *in, const db_token *t,
                    int64_t now, cs_secret **out, cs_err *err)
{
	int rc = open_access(d, v, in, out, err);

	if (rc == 0 && t->found && now - t->used_at >= USED_EVERY_MS)
		db_token_used(d, in->id, now, NULL);
	return rc;
}

int seq_token_get(db *d, cs_vault *v, const db_inbox *in, bool force,
                  cs_secret **out, cs_err *err)
{
	int rc, round;

	*out = NULL;
	for (round = 0; round < 3; round++) {
		int64_t now = cs_clock_now(NULL); /* the provider's clock */
		seq_token_refresh *r = NULL;
		cs_err rerr = CS_ERR_INIT;
		bool raced = false;
		db_token t;

		if ((rc = read_row(d, in, force, &t, err)) != 0)
			return rc;
		/* no token row: a bearer token given with `inbox add --auth
		 * oauth2`; else the stored token while it has its margin */
		if (!t.found ||
		    (!force && t.expires_at - now > margin_ms(&t))) {
			rc = hand_out(d, v, in, &t, now, out, err);
			db_token_free(&t);
			return rc;
		}
		if ((rc = plan_from(d, v, in, &t, now, &r, err)) != 0)
			return rc;
		seq_token_refresh_run(r);
		rc = seq_token_refresh_apply(r, &raced, &rerr);
		if (rc == 0 && !raced) {
			*out = r->nt.access;
			r->nt.access = NULL;
			db_token_used(d, in->id, now, NULL);
			seq_token_refresh_free(r);
			return 0;
		}
		if (raced) { /* another process's tokens are newer: read them */
			seq_token_refresh_free(r);
			force = false;
			continue;
		}
		if (rc != CS_EAUTH && r->rc != 0 && !force &&
		    r->t.expires_at - now > STALE_OK_MS) {
			cs_log_warn(
			    "inbox %s: cannot refresh the access token "
			    "(%s); using the current one while it lasts",
			    in->name, r->err.msg);
			rc = hand_out(d, v, in, &r->t, now, out, err);
		} else if (err) {
			*err = rerr;
		}
		seq_token_refresh_free(r);
		return rc;
	}
	return cs_err_set(err, CS_ETEMP,
	                  "inbox '%s': the tokens keep changing under this "
	                  "process; try again",
	                  in->name);
}

bool seq_token_refused(const db_inbox *in, const smtp_result *res)
{
	/* the policy's word (smtp_policy: 535 5.7.3, an XOAUTH2 challenge
	 * with status 401), not the reply's strings */
	return in->auth == DB_AUTH_OAUTH2 && res->phase == SMTP_PH_AUTH &&
	       res->verdict.action == SMTP_ACT_REFRESH_TOKEN;
}

int seq_sched_release_new(seq_sched *s, long long inbox_id, const char *cause,
                          cs_err *err)
{
	seq_ibox *ib = seq_find_inbox(s, inbox_id);
	long long n = 0;
	size_t i;
	int rc;

	if ((rc = db_outbox_release_new(s->d, inbox_id, cs_clock_now(s->clock),
	                                &n, err)) != 0)
		return rc;
	if (ib)
		ib->active = false;
	/* released contacts are due now: every campaign looks again, and
	 * recounts its new contacts of the day (the released ones no
	 * longer count) */
	for (i = 0; i < s->ncp; i++) {
		s->cp[i].new_next = 0;
		s->cp[i].day[0] = '\0';
	}
	if (n)
		cs_log_warn("inbox %s cannot send until %s: %lld uncontacted "
		            "contact(s) go to other inboxes; its threads in "
		            "progress wait",
		            ib ? ib->in.name : "?", cause, n);
	return 0;
}

int seq_sched_auth_lost(seq_sched *s, long long inbox_id, cs_err *err)
{
	seq_ibox *ib = seq_find_inbox(s, inbox_id);

	if (ib)
		ib->in.auth_state = DB_AUTH_FAILED;
	return seq_sched_release_new(s, inbox_id, "it is reconnected", err);
}

/* ---- a server refused the token: refresh once ---------------------------- */

void seq_token_refused_fresh(const db_inbox *in, const char *proto,
                             const char *said, cs_buf *out)
{
	bool smtp = strcmp(proto, "SMTP") == 0;
	cs_provider_id p = in->provider;

	cs_buf_printf(out,
	              "inbox '%s': the %s server refuses even a freshly "
	              "refreshed access token, so the authorization is "
	              "valid (no reconnect needed) and the mailbox's or the "
	              "app's settings are not: ",
	              in->name, proto);
	if (p == CS_PROVIDER_MICROSOFT && smtp)
		cs_buf_printf(out,
		              "enable SMTP AUTH for the mailbox "
		              "(Set-CASMailbox -Identity %s "
		              "-SmtpClientAuthenticationDisabled $false) and "
		              "check that the app has the permission SMTP.Send",
		              in->email);
	else if (p == CS_PROVIDER_MICROSOFT)
		cs_buf_printf(
		    out,
		    "enable IMAP for the mailbox (Set-CASMailbox "
		    "-Identity %s -ImapEnabled $true) and check that "
		    "the app has the permission IMAP.AccessAsUser.All",
		    in->email);
	else if (p == CS_PROVIDER_GOOGLE)
		cs_buf_printf(out,
		              "check that the consent screen grants the "
		              "scope %s and that the "
		              "Workspace admin allows IMAP and SMTP for the "
		              "user",
		              cs_provider_get(p)->oauth_scope);
	else
		cs_buf_printf(out,
		              "check that the mailbox accepts XOAUTH2 over %s "
		              "and that the token's scopes include it",
		              proto);
	cs_buf_printf(out,
	              "; then 'coldseq inbox test %s'. The server said: %s",
	              in->name, said);
}

int seq_auth_refresh_once(db *d, cs_vault *v, const db_inbox *in,
                          const char *proto, seq_auth_attempt attempt,
                          void *arg, bool *refreshed, cs_err *err)
{
	cs_err first = CS_ERR_INIT, rerr = CS_ERR_INIT, again = CS_ERR_INIT;
	cs_secret *fresh = NULL;
	cs_buf msg = CS_BUF_INIT;
	bool refused = false, local = false;
	int rc, rc2;

	if (refreshed == NULL)
		refreshed = &local;
	if ((rc = attempt(arg, false, &refused, &first)) == 0)
		return 0;
	if (!refused || in->auth != DB_AUTH_OAUTH2) {
		if (err)
			*err = first;
		return rc;
	}
	if (!*refreshed) {
		*refreshed = true;
		rc2 = seq_token_get(d, v, in, true, &fresh, &rerr);
		cs_secret_free(fresh);
		if (rc2 == CS_EAUTH) /* auth_failed now (or already) */
			return cs_err_set(err, rc2,
			                  "%s (the %s server had refused the "
			                  "access token)",
			                  rerr.msg, proto);
		if (rc2 != 0)
			return cs_err_set(err, rc2,
			                  "%s refused the access token (%s), "
			                  "and refreshing it failed: %s",
			                  proto, first.msg, rerr.msg);
		cs_log_info("inbox %s: the %s server refused the access "
		            "token; refreshed it, trying again once",
		            in->name, proto);
		refused = false;
		if ((rc = attempt(arg, true, &refused, &again)) == 0)
			return 0;
		if (!refused) {
			if (err)
				*err = again;
			return rc;
		}
		first = again;
	}
	seq_token_refused_fresh(in, proto, first.msg, &msg);
	cs_log_warn("%s", msg.data);
	cs_err_set(err, rc, "%s", msg.data);
	cs_buf_free(&msg);
	return rc;
}
