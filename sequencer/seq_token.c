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
 * Blocking: the service calls this on its loop thread (collect_row,
 * seq_watcher_reauth), so one refresh can hold the loop for at most
 * REFRESH_TIMEOUT_MS.  That is accepted: it happens about once an hour
 * per inbox, and moving it to a worker would split credentials from the
 * database writes that must follow the grant.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdlib.h>
#include <string.h>

#define REFRESH_TIMEOUT_MS 10000  /* one refresh on the loop thread */
#define MAX_MARGIN_MS      300000 /* refresh 5 minutes before expiry */
#define STALE_OK_MS                                                            \
	30000                /* a token this close to expiry is no             \
	                        fallback when a refresh failed */
#define USED_EVERY_MS  60000 /* record use at most this often */
#define DEFAULT_LIFE_S 3600  /* when the answer gives no expires_in */

const char *seq_oauth_scope(const char *provider)
{
	return strcmp(provider, "microsoft") == 0
	           ? "https://outlook.office.com/SMTP.Send "
	             "https://outlook.office.com/IMAP.AccessAsUser.All "
	             "offline_access"
	           : "https://mail.google.com/";
}

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

int seq_oauth_cfg_load(db *d, cs_vault *v, const char *provider,
                       const char *tenant, int timeout_ms, seq_oauth_cfg *out,
                       cs_err *err)
{
	bool ms = strcmp(provider, "microsoft") == 0;
	cs_buf raw = CS_BUF_INIT;
	char key[64];
	int rc;

	memset(out, 0, sizeof *out);
	if (!ms && strcmp(provider, "google") != 0)
		return cs_err_set(err, CS_EINVAL,
		                  "provider \"%s\" has no OAuth2 settings "
		                  "(google or microsoft)",
		                  provider);
	if (tenant == NULL || *tenant == '\0')
		tenant = SEQ_OAUTH_TENANT;
	snprintf(key, sizeof key, "oauth.%s.client_id", provider);
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
	snprintf(key, sizeof key, "oauth.%s.token_url", provider);
	if ((rc = db_config_get(d, key, &raw, NULL, err)) != 0)
		goto fail;
	with_tenant(cs_buf_str(&raw), tenant, &out->token_url);
	cs_buf_clear(&raw);
	snprintf(key, sizeof key, "oauth.%s.%s", provider,
	         ms ? "device_code_url" : "auth_url");
	if ((rc = db_config_get(d, key, &raw, NULL, err)) != 0)
		goto fail;
	with_tenant(cs_buf_str(&raw), tenant,
	            ms ? &out->device_url : &out->auth_url);
	if (!ms) {
		cs_buf blob = CS_BUF_INIT;
		bool found = false;

		rc = db_config_get_sealed(d, "oauth.google.client_secret",
		                          &blob, &found, err);
		if (rc == 0 && found)
			rc = cs_vault_open(
			    v, "meta", "value",
			    DB_CFG_SEALED_PREFIX "oauth.google.client_secret",
			    blob.data, blob.len, &out->client_secret, err);
		cs_buf_free(&blob);
		if (rc)
			goto fail;
	}
	out->scope = seq_oauth_scope(provider);
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
	return in->auth_state == NULL || strcmp(in->auth_state, "ok") == 0;
}

void seq_token_reconnect_cmd(const db_inbox *in, const char *tenant,
                             cs_buf *out)
{
	cs_buf_printf(out, "coldseq inbox connect %s --email %s --name %s",
	              in->provider, in->email, in->name);
	if (strcmp(in->provider, "microsoft") == 0 && tenant && *tenant &&
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
		                strcmp(in->provider, "generic") == 0
		                    ? "google|microsoft"
		                    : in->provider,
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
	if (db_inbox_set_auth(d, in->id, "auth_failed", reason.data, now,
	                      &e2) != 0)
		cs_log_error("inbox %s: %s", in->name, e2.msg);
	cs_log_warn("inbox %s lost its authorization: %s", in->name,
	            reason.data);
	cs_err_set(err, CS_EAUTH, "inbox '%s' needs reconnecting: %s", in->name,
	           reason.data);
	cs_buf_free(&reason);
	return CS_EAUTH;
}

/* Steps 1-3 of the comment at the top.  *raced: another process stored
 * newer tokens meanwhile (nothing returned; read them). */
static int refresh(db *d, cs_vault *v, const db_inbox *in, const db_token *t,
                   int64_t now, cs_secret **out, bool *raced, cs_err *err)
{
	seq_oauth_cfg cfg;
	net_oauth_tokens nt;
	cs_secret *rt = NULL;
	cs_buf ablob = CS_BUF_INIT, rblob = CS_BUF_INIT;
	db_token_set set;
	char until[32];
	int rc;

	*raced = false;
	memset(&nt, 0, sizeof nt);
	if ((rc = seq_oauth_cfg_load(d, v, t->provider, t->tenant,
	                             REFRESH_TIMEOUT_MS, &cfg, err)) != 0)
		return rc;
	if ((rc = cs_vault_open(v, "oauth_tokens", "refresh_token", in->uuid,
	                        t->refresh.data, t->refresh.len, &rt, err)) !=
	    0)
		goto out;
	/* Microsoft wants the scopes again; Google keeps the granted ones */
	rc = net_oauth_refresh(
	    &cfg.client, rt,
	    strcmp(t->provider, "microsoft") == 0 ? cfg.scope : NULL, &nt, err);
	if (rc)
		goto out;
	memset(&set, 0, sizeof set);
	set.inbox_id = in->id;
	set.expires_at =
	    now + (nt.expires_in > 0 ? nt.expires_in : DEFAULT_LIFE_S) * 1000;
	set.now = now;
	set.expect_generation = t->generation;
	if ((rc = cs_vault_seal(v, "inboxes", "secret", in->uuid,
	                        cs_secret_value(nt.access),
	                        cs_secret_len(nt.access), &ablob, err)) != 0 ||
	    (nt.refresh &&
	     (rc = cs_vault_seal(v, "oauth_tokens", "refresh_token", in->uuid,
	                         cs_secret_value(nt.refresh),
	                         cs_secret_len(nt.refresh), &rblob, err)) != 0))
		goto out;
	set.access = ablob.data;
	set.access_len = ablob.len;
	set.refresh = nt.refresh ? rblob.data : NULL;
	set.refresh_len = rblob.len;
	if ((rc = db_token_refreshed(d, &set, raced, err)) != 0 || *raced)
		goto out;
	cs_time_iso8601(set.expires_at, until, sizeof until);
	cs_log_info("inbox %s: access token refreshed, valid until %s%s",
	            in->name, until,
	            nt.refresh ? " (the refresh token was rotated)" : "");
	*out = nt.access;
	nt.access = NULL;
out:
	net_oauth_tokens_free(&nt);
	cs_secret_free(rt);
	cs_buf_free(&ablob);
	cs_buf_free(&rblob);
	seq_oauth_cfg_free(&cfg);
	return rc;
}

int seq_token_get(db *d, cs_vault *v, const db_inbox *in, bool force,
                  cs_secret **out, cs_err *err)
{
	int64_t now = cs_clock_now(NULL); /* the provider's clock */
	db_token t;
	int rc, round;

	*out = NULL;
	if ((rc = db_token_get(d, in->id, &t, err)) != 0)
		return rc;
	if (strcmp(t.auth_state, "auth_failed") == 0) {
		rc = cs_err_set(err, CS_EAUTH,
		                "inbox '%s' needs reconnecting: %s", in->name,
		                t.auth_reason ? t.auth_reason : "(no reason)");
		goto out;
	}
	if (strcmp(t.auth_state, "pending") == 0) {
		rc = cs_err_set(err, CS_EAUTH,
		                "inbox '%s' is not connected yet: run 'coldseq "
		                "inbox connect --pending'",
		                in->name);
		goto out;
	}
	/* no token row: a bearer token given with `inbox add --auth oauth2` */
	if (!t.found && force) {
		rc = cs_err_set(err, CS_EINVAL,
		                "inbox '%s' has a fixed bearer token and no "
		                "refresh token: give a new token with 'coldseq "
		                "inbox set %s --password-stdin', or connect it "
		                "with 'coldseq inbox connect'",
		                in->name, in->name);
		goto out;
	}
	if (!t.found) {
		rc = open_access(d, v, in, out, err);
		goto out;
	}
	for (round = 0; round < 3; round++) {
		db_token again;
		bool raced = false;
		cs_err rerr = CS_ERR_INIT, gerr = CS_ERR_INIT;

		if (!force && t.expires_at - now > margin_ms(&t)) {
			if ((rc = open_access(d, v, in, out, err)) == 0 &&
			    now - t.used_at >= USED_EVERY_MS)
				db_token_used(d, in->id, now, NULL);
			goto out;
		}
		rc = refresh(d, v, in, &t, now, out, &raced, &rerr);
		if (rc == 0 && !raced) {
			db_token_used(d, in->id, now, NULL);
			goto out;
		}
		/* what another process may have stored meanwhile */
		if (db_token_get(d, in->id, &again, &gerr) != 0) {
			rc = gerr.code;
			if (err)
				*err = gerr;
			goto out;
		}
		if (raced || (rc == CS_EAUTH && again.found &&
		              again.generation != t.generation)) {
			/* its tokens are newer than the ones we used */
			db_token_free(&t);
			t = again;
			force = false;
			continue;
		}
		db_token_free(&again);
		if (rc == CS_EAUTH) {
			rc = lose_authorization(d, in, &t, &rerr, now, err);
			goto out;
		}
		if (!force && t.expires_at - now > STALE_OK_MS) {
			cs_log_warn(
			    "inbox %s: cannot refresh the access token "
			    "(%s); using the current one while it lasts",
			    in->name, rerr.msg);
			rc = open_access(d, v, in, out, err);
			goto out;
		}
		cs_err_prefix(&rerr,
		              "inbox '%s': cannot refresh the access token",
		              in->name);
		if (err)
			*err = rerr;
		goto out;
	}
	rc = cs_err_set(err, CS_ETEMP,
	                "inbox '%s': the tokens keep changing under this "
	                "process; try again",
	                in->name);
out:
	db_token_free(&t);
	return rc;
}

bool seq_token_refused(const db_inbox *in, const smtp_result *res)
{
	return strcmp(in->auth, "oauth2") == 0 && res->phase == SMTP_PH_AUTH &&
	       res->verdict.outcome == SMTP_INBOX_FAILURE && res->code >= 500;
}

int seq_sched_auth_lost(seq_sched *s, long long inbox_id, cs_err *err)
{
	seq_ibox *ib = seq_find_inbox(s, inbox_id);
	bool news = ib && seq_inbox_authorized(&ib->in);
	long long n = 0;
	size_t i;
	int rc;

	if ((rc = db_outbox_release_new(s->d, inbox_id, cs_clock_now(s->clock),
	                                &n, err)) != 0)
		return rc;
	if (ib) {
		ib->active = false;
		free(ib->in.auth_state);
		ib->in.auth_state = cs_xstrdup("auth_failed");
	}
	/* released contacts are due now: every campaign looks again, and
	 * recounts its new contacts of the day (the released ones no
	 * longer count) */
	for (i = 0; i < s->ncp; i++) {
		s->cp[i].new_next = 0;
		s->cp[i].day[0] = '\0';
	}
	if (news || n)
		cs_log_warn("inbox %s cannot send until it is reconnected: "
		            "%lld uncontacted contact(s) go to other inboxes; "
		            "its threads in progress wait",
		            ib ? ib->in.name : "?", n);
	return 0;
}
