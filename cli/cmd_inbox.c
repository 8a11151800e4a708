/*
 * cmd_inbox.c - `coldseq inbox add|set|list|show|remove|pause|resume`.
 *
 * add and set share one option table and the field parser of
 * inbox_fields.c.  The password comes only from stdin (--password-stdin),
 * never from the command line where `ps` would show it, and is stored
 * sealed in the vault, bound to the inbox's UUID.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* Options that map 1:1 to inbox fields, in cli_inbox_field's names. */
static const char *const field_opts[] = {
    "email",          "smtp",     "imap",      "smtp-tls",
    "imap-tls",       "user",     "ca-file",   "display-name",
    "signature-file", "timezone", "daily-cap", "sent-copy",
    "provider",       "auth",     "hard-cap",  "domain-hourly-cap",
    "min-gap",        "ramp",     NULL};

#define COMMON_OPTS                                                            \
	{"email", 0, "ADDR", false, "the inbox's address (From)"},             \
	    {"smtp", 0, "HOST:PORT", false, "SMTP submission server"},         \
	    {"imap", 0, "HOST:PORT", false, "IMAP server"},                    \
	    {"smtp-tls", 0, "MODE", false,                                     \
	     "tls (implicit, default for 465) or starttls"},                   \
	    {"imap-tls", 0, "MODE", false,                                     \
	     "tls (implicit, default for 993) or starttls"},                   \
	    {"user", 0, "LOGIN", false, "login name (default: the email)"},    \
	    {"password-stdin", 0, NULL, false,                                 \
	     "read the password from the first line of stdin"},                \
	    {"ca-file", 0, "PEM", false,                                       \
	     "trust this CA (PEM, one certificate or more) for the servers"},  \
	    {"insecure-tls", 0, NULL, false,                                   \
	     "do NOT verify the servers' certificates (warned at every "       \
	     "connect)"},                                                      \
	    {"display-name", 0, "TEXT", false, "sender name in From"},         \
	    {"signature-file", 0, "F", false, "text appended to messages"},    \
	    {"timezone", 0, "IANA", false, "the inbox's time zone (UTC)"},     \
	    {"daily-cap", 0, "N", false, "messages per local day"},            \
	    {"hard-cap", 0, "N", false,                                        \
	     "same as --limit messages_24h=N (0: the provider's)"},            \
	    {"limit", 0, "NAME=N", true,                                       \
	     "a provider limit (repeatable; 0: off; NAME=default: the "        \
	     "provider's)"},                                                   \
	    {"trial", 0, NULL, false,                                          \
	     "a trial account (Google Workspace: lower limits)"},              \
	    {"no-trial", 0, NULL, false, "not a trial account"},               \
	    {"tenant", 0, "KEY", false,                                        \
	     "share the tenant KEY's external-recipient counter (M365)"},      \
	    {"no-tenant", 0, NULL, false, "belong to no tenant"},              \
	    {"domain-hourly-cap", 0, "N", false,                               \
	     "messages per recipient domain per hour (0: none)"},              \
	    {"min-gap", 0, "DURATION", false,                                  \
	     "least time between campaign sends (0: config)"},                 \
	    {"ramp", 0, "START,STEP", false,                                   \
	     "cold volume ramp: START a day, +STEP a day (off: none)"},        \
	    {"sent-copy", 0, "MODE", false,                                    \
	     "auto|always|never: APPEND to Sent (auto: not for Google/M365)"}, \
	    {"tag", 0, "T", true, "a tag (repeatable)"},                       \
	    {"provider", 0, "P", false, "generic|google|microsoft"},           \
	{                                                                      \
		"auth", 0, "KIND", false,                                      \
		    "password (AUTH PLAIN/LOGIN) or oauth2 (XOAUTH2 bearer "   \
		    "token)"                                                   \
	}

static const cli_opt add_opts[] = {
    COMMON_OPTS,
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt set_opts[] = {
    COMMON_OPTS,
    {"verify-tls", 0, NULL, false, "verify certificates again"},
    {"rename", 0, "NEW", false, "give the inbox a new name"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt list_opts[] = {
    {"tag", 0, "T", false, "only inboxes with this tag"},
    {NULL, 0, NULL, false, NULL},
};

/* Apply every given option of a to in. */
static int apply_opts(const cli_args *a, db_inbox *in, bool replace_tags,
                      cs_err *err)
{
	const cli_opt *o;
	int i, k, rc;

	for (i = 0; field_opts[i]; i++) {
		const char *v = cli_opt_value(a, field_opts[i]);

		if (v && (rc = cli_inbox_field(in, field_opts[i], v, err)) != 0)
			return rc;
	}
	for (i = 0, o = a->cmd->opts; o[i].name; i++) {
		if (strcmp(o[i].name, "limit") != 0)
			continue;
		for (k = 0; k < a->count[i]; k++)
			if ((rc = cli_inbox_field(in, "limit", a->vals[i][k],
			                          err)) != 0)
				return rc;
	}
	if (cli_opt_flag(a, "trial") && cli_opt_flag(a, "no-trial"))
		return cs_err_set(err, CS_EINVAL,
		                  "--trial and --no-trial contradict each "
		                  "other");
	if (cli_opt_value(a, "tenant") && cli_opt_flag(a, "no-tenant"))
		return cs_err_set(err, CS_EINVAL,
		                  "--tenant and --no-tenant contradict each "
		                  "other");
	if (cli_opt_flag(a, "trial") || cli_opt_flag(a, "no-trial"))
		in->trial = cli_opt_flag(a, "trial");
	if (cli_opt_value(a, "tenant") &&
	    (rc = cli_inbox_field(in, "tenant", cli_opt_value(a, "tenant"),
	                          err)) != 0)
		return rc;
	if (cli_opt_flag(a, "no-tenant")) {
		free(in->tenant);
		in->tenant = NULL;
	}
	for (i = 0, o = a->cmd->opts; o[i].name; i++) {
		if (strcmp(o[i].name, "tag") != 0 || a->count[i] == 0)
			continue;
		if (replace_tags) {
			for (k = 0; k < (int)in->ntags; k++)
				free(in->tags[k]);
			in->ntags = 0;
		}
		for (k = 0; k < a->count[i]; k++)
			if ((rc = cli_inbox_field(in, "tag", a->vals[i][k],
			                          err)) != 0)
				return rc;
	}
	if (cli_opt_flag(a, "insecure-tls"))
		in->insecure_tls = true;
	return 0;
}

/* Seal a password for uuid into blob. */
static int seal_stdin_password(cli_ctx *ctx, const char *uuid, cs_buf *blob,
                               cs_err *err)
{
	char *pw = cli_read_secret_stdin(err);
	cs_secret *s;
	int rc;

	if (pw == NULL)
		return CS_EINVAL;
	s = cs_secret_new(pw, strlen(pw));
	cs_memwipe(pw, strlen(pw));
	free(pw);
	rc = cs_vault_seal(ctx->vault, "inboxes", "secret", uuid,
	                   cs_secret_value(s), cs_secret_len(s), blob, err);
	cs_secret_free(s);
	return rc;
}

/* The status to show: auth_failed and pending outrank active/paused. */
static const char *shown_status(const db_inbox *in)
{
	return in->auth_state != DB_AUTH_OK ? db_auth_state_name(in->auth_state)
	                                    : db_inbox_status_name(in->status);
}

static cJSON *inbox_json(cli_ctx *ctx, const db_inbox *in, bool has_secret)
{
	cJSON *o = cJSON_CreateObject(), *tags = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(o, "name", in->name);
	cJSON_AddStringToObject(o, "email", in->email);
	cJSON_AddStringToObject(o, "provider",
	                        cs_provider_get(in->provider)->name);
	cJSON_AddStringToObject(o, "smtp_host", in->smtp_host);
	cJSON_AddNumberToObject(o, "smtp_port", in->smtp_port);
	cJSON_AddStringToObject(o, "smtp_tls", in->smtp_tls);
	cJSON_AddStringToObject(o, "imap_host", in->imap_host);
	cJSON_AddNumberToObject(o, "imap_port", in->imap_port);
	cJSON_AddStringToObject(o, "imap_tls", in->imap_tls);
	cJSON_AddStringToObject(o, "user",
	                        in->username ? in->username : in->email);
	cJSON_AddStringToObject(o, "auth", db_auth_kind_name(in->auth));
	cJSON_AddBoolToObject(o, "has_secret", has_secret);
	if (in->ca_file)
		cJSON_AddStringToObject(o, "ca_file", in->ca_file);
	cJSON_AddBoolToObject(o, "insecure_tls", in->insecure_tls);
	if (in->display_name)
		cJSON_AddStringToObject(o, "display_name", in->display_name);
	cJSON_AddBoolToObject(o, "signature", in->signature != NULL);
	cJSON_AddStringToObject(o, "timezone", in->timezone);
	cJSON_AddNumberToObject(o, "daily_cap", in->daily_cap);
	{
		long long l24 = 0;

		/* the messages_24h override (0: the provider's) */
		cs_limits_get(in->limits, CS_LIM_MESSAGES_24H, &l24);
		cJSON_AddNumberToObject(o, "hard_cap", (double)l24);
	}
	cJSON_AddStringToObject(o, "limit_overrides",
	                        in->limits ? in->limits : "");
	{
		seq_limits l;

		/* each limit in force, counted now (as status shows it) */
		if (in->id > 0 &&
		    seq_limits_get(ctx->db, in, cs_clock_now(NULL), &l, NULL) ==
		        0)
			cJSON_AddItemToObject(o, "limits",
			                      (cJSON *)cli_limits_json(&l));
		else
			cJSON_AddNullToObject(o, "limits");
	}
	cJSON_AddBoolToObject(o, "trial", in->trial);
	cli_json_str(o, "tenant", in->tenant);
	cJSON_AddNumberToObject(o, "domain_hourly_cap", in->domain_hourly_cap);
	cJSON_AddNumberToObject(o, "min_gap", in->min_gap);
	cJSON_AddNumberToObject(o, "ramp_start", in->ramp_start);
	cJSON_AddNumberToObject(o, "ramp_step", in->ramp_step);
	if (in->paused_reason)
		cJSON_AddStringToObject(o, "paused_reason", in->paused_reason);
	cJSON_AddStringToObject(o, "sent_copy",
	                        db_sent_copy_name(in->sent_copy));
	cJSON_AddStringToObject(o, "status", shown_status(in));
	cJSON_AddStringToObject(o, "auth_state",
	                        db_auth_state_name(in->auth_state));
	if (in->auth_reason)
		cJSON_AddStringToObject(o, "auth_reason", in->auth_reason);
	if (in->auth_state != DB_AUTH_OK) {
		cs_buf cmd = CS_BUF_INIT;

		if (in->auth_state == DB_AUTH_PENDING)
			cs_buf_puts(&cmd, "coldseq inbox connect --pending");
		else {
			db_token t;
			bool got = db_token_get(ctx->db, in->id, &t, NULL) == 0;

			seq_token_reconnect_cmd(in, got ? t.tenant : NULL,
			                        &cmd);
			if (got)
				db_token_free(&t);
		}
		cJSON_AddStringToObject(o, "reconnect", cmd.data);
		cs_buf_free(&cmd);
	}
	if (in->auth == DB_AUTH_OAUTH2) {
		cli_token_health h;

		cli_token_health_get(ctx, in, &h);
		if (h.oauth)
			cJSON_AddItemToObject(
			    o, "token", (cJSON *)cli_token_health_json(&h));
	}
	for (i = 0; i < in->ntags; i++)
		cJSON_AddItemToArray(tags, cJSON_CreateString(in->tags[i]));
	cJSON_AddItemToObject(o, "tags", tags);
	return o;
}

static bool has_secret(cli_ctx *ctx, const db_inbox *in)
{
	cs_buf b = CS_BUF_INIT;
	bool found = false;

	db_inbox_secret(ctx->db, in->uuid, &b, &found, NULL);
	cs_buf_free(&b);
	return found;
}

static int run_add(cli_ctx *ctx, const cli_args *a)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	cs_buf blob = CS_BUF_INIT;
	char uuid[37];
	long long cap = 30;
	int rc = CLI_EXIT_FAIL;

	memset(&in, 0, sizeof in);
	if (db_config_get_int(ctx->db, "inbox.daily_cap", &cap, &err) != 0)
		goto fail;
	in.daily_cap = (int)cap;
	if (cli_inbox_field(&in, "name", a->pos[0], &err) != 0 ||
	    apply_opts(a, &in, true, &err) != 0 ||
	    cli_inbox_finish(&in, &err) != 0) {
		cli_error("inbox add: %s", err.msg);
		db_inbox_free(&in);
		return CLI_EXIT_USAGE;
	}
	cli_uuid_v4(uuid);
	in.uuid = cs_xstrdup(uuid);
	if (cli_opt_flag(a, "password-stdin") &&
	    seal_stdin_password(ctx, uuid, &blob, &err) != 0)
		goto fail;
	if (db_inbox_add(ctx->db, &in, blob.len ? blob.data : NULL, blob.len,
	                 &err) != 0)
		goto fail;
	if (a->json)
		cli_print_json(ctx, inbox_json(ctx, &in, blob.len > 0));
	else if (!a->quiet)
		fprintf(ctx->out,
		        "Added inbox %s <%s>: smtp %s:%d (%s), imap "
		        "%s:%d (%s)%s\n",
		        in.name, in.email, in.smtp_host, in.smtp_port,
		        in.smtp_tls, in.imap_host, in.imap_port, in.imap_tls,
		        blob.len ? "" : "; no password yet");
	if (cli_basic_auth_warning(&in))
		fprintf(stderr, "coldseq: warning: %s\n",
		        cli_basic_auth_warning(&in));
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("inbox add: %s", err.msg);
out:
	cs_buf_free(&blob);
	db_inbox_free(&in);
	return rc;
}

static int run_set(cli_ctx *ctx, const cli_args *a)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	cs_buf blob = CS_BUF_INIT;
	const char *rename = cli_opt_value(a, "rename");
	int rc = CLI_EXIT_FAIL;

	if (db_inbox_get(ctx->db, a->pos[0], &in, &err) != 0) {
		cli_error("inbox set: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if ((rename && cli_inbox_field(&in, "name", rename, &err) != 0) ||
	    apply_opts(a, &in, true, &err) != 0 ||
	    cli_inbox_finish(&in, &err) != 0) {
		cli_error("inbox set: %s", err.msg);
		db_inbox_free(&in);
		return CLI_EXIT_USAGE;
	}
	if (cli_opt_flag(a, "verify-tls"))
		in.insecure_tls = false;
	if (cli_opt_flag(a, "password-stdin") &&
	    seal_stdin_password(ctx, in.uuid, &blob, &err) != 0)
		goto fail;
	if (db_begin(ctx->db, &err) != 0)
		goto fail;
	/* settings and password change together or not at all; a new
	 * password ends a refused sign-in (auth_failed) */
	if (db_inbox_update(ctx->db, &in, &err) != 0 ||
	    (blob.len && db_inbox_set_secret(ctx->db, in.uuid, blob.data,
	                                     blob.len, &err) != 0) ||
	    (blob.len && in.auth == DB_AUTH_PASSWORD &&
	     in.auth_state == DB_AUTH_FAILED &&
	     db_inbox_set_auth(ctx->db, in.id, DB_AUTH_OK, NULL,
	                       cs_clock_now(NULL), &err) != 0)) {
		db_rollback(ctx->db);
		goto fail;
	}
	if (db_commit(ctx->db, &err) != 0)
		goto fail;
	if (a->json)
		cli_print_json(ctx, inbox_json(ctx, &in, has_secret(ctx, &in)));
	else if (!a->quiet)
		fprintf(ctx->out, "Updated inbox %s\n", in.name);
	if (cli_basic_auth_warning(&in))
		fprintf(stderr, "coldseq: warning: %s\n",
		        cli_basic_auth_warning(&in));
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("inbox set: %s", err.msg);
out:
	cs_buf_free(&blob);
	db_inbox_free(&in);
	return rc;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	db_inbox *list;
	size_t n, i;
	cs_err err = CS_ERR_INIT;

	if (db_inbox_list(ctx->db, cli_opt_value(a, "tag"), &list, &n, &err) !=
	    0) {
		cli_error("inbox list: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *arr = cJSON_CreateArray();

		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(
			    arr, inbox_json(ctx, &list[i],
			                    has_secret(ctx, &list[i])));
		cli_print_json(ctx, arr);
	} else {
		if (n)
			fprintf(ctx->out, "%-16s %-30s %-26s %5s %-11s %s\n",
			        "NAME", "EMAIL", "SMTP", "CAP", "STATUS",
			        "TAGS");
		for (i = 0; i < n; i++) {
			char smtp[300];
			size_t t;
			cli_token_health h;

			snprintf(smtp, sizeof smtp, "%s:%d", list[i].smtp_host,
			         list[i].smtp_port);
			cli_cell(ctx->out, list[i].name, 16);
			fputc(' ', ctx->out);
			cli_cell(ctx->out, list[i].email, 30);
			fprintf(ctx->out, " %-26s %5d %-11s ", smtp,
			        list[i].daily_cap, shown_status(&list[i]));
			for (t = 0; t < list[i].ntags; t++)
				fprintf(ctx->out, "%s%s", t ? "," : "",
				        list[i].tags[t]);
			fputc('\n', ctx->out);
			/* OAuth2: token health under the inbox's line */
			cli_token_health_get(ctx, &list[i], &h);
			if (h.oauth)
				fprintf(
				    ctx->out,
				    "%-16s token: refreshed %ld day(s) ago, "
				    "refresh token %ld day(s) old%s%s\n",
				    "", h.idle_days, h.refresh_age_days,
				    h.warning[0] ? "; WARNING: " : "",
				    h.warning);
			if (list[i].auth_reason &&
			    list[i].auth_state != DB_AUTH_OK)
				fprintf(ctx->out, "%-16s %s\n", "",
				        list[i].auth_reason);
		}
		if (n == 0 && !a->quiet && cli_opt_value(a, "tag"))
			fprintf(ctx->out,
			        "No inbox has tag \"%s\" (see 'coldseq inbox "
			        "list' for every inbox).\n",
			        cli_opt_value(a, "tag"));
		else if (n == 0 && !a->quiet)
			fprintf(ctx->out,
			        "No inboxes yet: add one with 'coldseq "
			        "inbox add'.\n");
	}
	db_inbox_list_free(list, n);
	return CLI_EXIT_OK;
}

#define DAY_MS 86400000LL

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	const char *dom;
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	size_t t;
	bool sec;
	long long out_msgs = 0, out_rcpts = 0;

	if (db_inbox_get(ctx->db, a->pos[0], &in, &err) != 0) {
		cli_error("inbox show: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	sec = has_secret(ctx, &in);
	/* what the watcher read from Sent that coldseq did not send */
	if (db_sentsync_count(ctx->db, in.id, cs_clock_now(NULL) - DAY_MS,
	                      &out_msgs, &out_rcpts, &err) != 0) {
		cli_error("inbox show: %s", err.msg);
		db_inbox_free(&in);
		return CLI_EXIT_FAIL;
	}
	dom = strrchr(in.email, '@');
	dom = dom ? dom + 1 : in.email;
	if (a->json) {
		cJSON *o = inbox_json(ctx, &in, sec),
		      *so = cJSON_AddObjectToObject(o, "sent_outside_24h");

		cJSON_AddNumberToObject(so, "messages", (double)out_msgs);
		cJSON_AddNumberToObject(so, "recipients", (double)out_rcpts);
		/* its domain's pauses toward providers (cmd_domain.c) */
		if (cli_domain_pauses_show(
		        ctx, dom, cJSON_AddArrayToObject(o, "domain_pauses"),
		        NULL, "", &err) != 0) {
			cJSON_Delete(o);
			cli_error("inbox show: %s", err.msg);
			db_inbox_free(&in);
			return CLI_EXIT_FAIL;
		}
		cli_print_json(ctx, o);
		db_inbox_free(&in);
		return CLI_EXIT_OK;
	}
	fprintf(ctx->out,
	        "name:         %s\nemail:        %s\nprovider:     %s\n"
	        "smtp:         %s:%d (%s)\nimap:         %s:%d (%s)\n"
	        "user:         %s\nauth:         %s (%s)\n"
	        "tls:          %s%s\n"
	        "display name: %s\ntimezone:     %s\ndaily cap:    %d\n"
	        "sent copy:    %s\nstatus:       %s%s%s\n",
	        in.name, in.email, cs_provider_get(in.provider)->name,
	        in.smtp_host, in.smtp_port, in.smtp_tls, in.imap_host,
	        in.imap_port, in.imap_tls, in.username ? in.username : in.email,
	        db_auth_kind_name(in.auth),
	        sec ? "secret stored" : "no secret stored",
	        in.insecure_tls ? "NOT VERIFIED" : "verified",
	        in.ca_file && !in.insecure_tls ? " (CA file set)" : "",
	        in.display_name ? in.display_name : "-", in.timezone,
	        in.daily_cap, db_sent_copy_name(in.sent_copy),
	        shown_status(&in), in.paused_reason ? ": " : "",
	        in.paused_reason ? in.paused_reason : "");
	fprintf(ctx->out,
	        "pacing:       domain cap %d/h%s, min gap "
	        "%ds%s, ramp %d,%d%s\n",
	        in.domain_hourly_cap, in.domain_hourly_cap ? "" : " (none)",
	        in.min_gap, in.min_gap ? "" : " (config)", in.ramp_start,
	        in.ramp_step, in.ramp_start ? "" : " (off)");
	{
		seq_limits l;
		cs_buf b = CS_BUF_INIT;
		int64_t now = cs_clock_now(NULL);

		if (seq_limits_get(ctx->db, &in, now, &l, NULL) == 0) {
			cli_limits_text(&l, in.timezone, now, &b);
			fprintf(ctx->out, "limits:       %s%s%s%s\n",
			        l.n ? b.data : "none",
			        in.trial ? "; trial account" : "",
			        in.limits && *in.limits ? "; overrides: " : "",
			        in.limits && *in.limits ? in.limits : "");
			if (in.tenant)
				fprintf(ctx->out, "tenant:       %s\n",
				        in.tenant);
		}
		cs_buf_free(&b);
	}
	fputs("tags:         ", ctx->out);
	for (t = 0; t < in.ntags; t++)
		fprintf(ctx->out, "%s%s", t ? ", " : "", in.tags[t]);
	fprintf(ctx->out, "%s\n", in.ntags ? "" : "-");
	fprintf(ctx->out,
	        "sent outside coldseq (24 h): %lld message%s, %lld "
	        "recipient%s\n",
	        out_msgs, out_msgs == 1 ? "" : "s", out_rcpts,
	        out_rcpts == 1 ? "" : "s");
	if (in.status != DB_INBOX_ACTIVE && in.paused_until > 0) {
		char u[32];

		cs_time_iso8601(in.paused_until, u, sizeof u);
		fprintf(ctx->out, "paused until: %s\n", u);
	}
	if (cli_basic_auth_warning(&in))
		fprintf(ctx->out, "WARNING:      %s\n",
		        cli_basic_auth_warning(&in));
	if (cli_domain_pauses_show(ctx, dom, NULL, "domain pause:\n",
	                           "              ", &err) != 0)
		cli_error("inbox show: %s", err.msg);
	if (in.auth_state != DB_AUTH_OK)
		fprintf(ctx->out, "sign-in:      %s: %s\n",
		        db_auth_state_name(in.auth_state),
		        in.auth_reason
		            ? in.auth_reason
		            : "run 'coldseq inbox connect --pending'");
	{
		cli_token_health h;
		char ra[32], xa[32];

		cli_token_health_get(ctx, &in, &h);
		if (h.oauth) {
			cs_time_iso8601(h.refreshed_at, ra, sizeof ra);
			cs_time_iso8601(h.expires_at, xa, sizeof xa);
			fprintf(ctx->out,
			        "token:        refreshed %s, access until %s, "
			        "refresh token %ld day(s) old%s%s\n",
			        ra, xa, h.refresh_age_days,
			        h.warning[0] ? "\n              WARNING: " : "",
			        h.warning);
		}
	}
	db_inbox_free(&in);
	return CLI_EXIT_OK;
}

static int run_remove(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	db_inbox_removal r;
	bool force = cli_opt_flag(a, "force");
	int rc;

	rc = db_inbox_remove(ctx->db, a->pos[0], force, cs_clock_now(NULL), &r,
	                     &err);
	if (rc == CS_ECONFLICT) {
		cli_error("inbox remove: %s; nothing was removed.  'coldseq "
		          "inbox remove %s --force' removes it and stops those "
		          "sequences (its history stays)",
		          err.msg, r.name);
		db_inbox_removal_free(&r);
		return CLI_EXIT_FAIL;
	}
	if (rc != 0) {
		cli_error("inbox remove: %s", err.msg);
		db_inbox_removal_free(&r);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "removed", r.name);
		cJSON_AddStringToObject(o, "history_as", r.tombstone);
		cJSON_AddNumberToObject(o, "threads_stopped",
		                        (double)r.stopped);
		cJSON_AddNumberToObject(o, "handed_back",
		                        (double)r.handed_back);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out,
		        "Removed inbox %s; its history stays, shown as "
		        "'%s'\n",
		        r.name, r.tombstone);
		if (r.stopped)
			fprintf(
			    ctx->out,
			    "%lld sequence(s) in progress stopped: no other "
			    "inbox may continue their threads\n",
			    r.stopped);
		if (r.handed_back)
			fprintf(ctx->out,
			        "%lld queued first message(s) go to the "
			        "campaigns' other inboxes\n",
			        r.handed_back);
	}
	db_inbox_removal_free(&r);
	return CLI_EXIT_OK;
}

static int pause_resume(cli_ctx *ctx, const cli_args *a, bool pause)
{
	const char *reason = pause ? cli_opt_value(a, "reason") : NULL;
	cs_err err = CS_ERR_INIT;

	if (db_inbox_set_status(
	        ctx->db, a->pos[0], pause ? DB_INBOX_PAUSED : DB_INBOX_ACTIVE,
	        pause ? (reason ? reason : "paused by the user") : NULL, 0,
	        cs_clock_now(NULL), &err) != 0) {
		cli_error("inbox %s: %s", pause ? "pause" : "resume", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (!a->quiet)
		fprintf(ctx->out, "inbox %s %s\n", a->pos[0],
		        pause ? "paused" : "resumed");
	return CLI_EXIT_OK;
}

static int run_pause(cli_ctx *ctx, const cli_args *a)
{
	return pause_resume(ctx, a, true);
}

static int run_resume(cli_ctx *ctx, const cli_args *a)
{
	return pause_resume(ctx, a, false);
}

static const cli_opt remove_opts[] = {
    {"force", 0, NULL, false,
     "also when threads are in progress: stop their sequences"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt pause_opts[] = {
    {"reason", 0, "TEXT", false, "why (shown by inbox show and status)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_inbox[] = {
    {"inbox", "add", "NAME", "store a new inbox (does not connect)",
     "Stores the inbox's servers and settings; the password, read from\n"
     "stdin with --password-stdin, is encrypted in the vault.  TLS mode\n"
     "defaults from the port (465 and 993 implicit TLS, else STARTTLS);\n"
     "a mode that does not fit the port is named at the first connect\n"
     "('inbox test', send-test, the service) within seconds, with the\n"
     "option that fixes it.  The login defaults to the email; the daily\n"
     "cap to config inbox.daily_cap.  The same email twice is refused.\n"
     "A Microsoft 365 inbox on a password is warned about: Microsoft is\n"
     "retiring Basic authentication for SMTP AUTH (use --auth oauth2).\n\n"
     "Provider limits (rolling windows, as the provider counts them) come\n"
     "from the provider table: messages_24h, recipients_24h, external_24h,\n"
     "unique_external_24h, messages_1m, tenant_external_24h,\n"
     "recipients_per_message.  --limit NAME=N overrides one (0: off;\n"
     "NAME=default: the provider's); --hard-cap N is --limit\n"
     "messages_24h=N.  --trial: a Google Workspace trial account (lower\n"
     "limits).  --tenant KEY: the inbox shares Microsoft 365 tenant KEY's\n"
     "external-recipient counter (see 'coldseq tenant set').\n\n"
     "--json prints the stored inbox (never the password): its settings,\n"
     "limit_overrides, trial, tenant, hard_cap (the messages_24h\n"
     "override, 0: none) and limits (each in force, counted now: [{name,\n"
     "window_s, scope, used, max, frees_at}]).\n\n"
     "Example:\n"
     "  echo \"$PW\" | coldseq inbox add sales1 --email ann@example.com \\\n"
     "      --smtp smtp.example.com:587 --imap imap.example.com:993 \\\n"
     "      --display-name 'Ann Lee' --tag clientA --password-stdin",
     1, 1, CLI_NEEDS_VAULT, add_opts, run_add},
    {"inbox", "set", "NAME", "change an inbox's settings or password",
     "Any option of 'inbox add' changes that setting; --tag replaces the\n"
     "tags; --password-stdin replaces the password (and ends an\n"
     "auth_failed the server's refusal of the old one set).\n\n"
     "--json prints the stored inbox (as 'inbox show --json').\n\n"
     "Examples:\n  coldseq inbox set sales1 --daily-cap 40 --timezone "
     "Europe/Berlin\n"
     "  coldseq inbox set sales1 --limit messages_24h=400 --trial\n"
     "  coldseq inbox set ms1 --tenant contoso",
     1, 1, CLI_NEEDS_VAULT, set_opts, run_set},
    {"inbox", "list", NULL, "list inboxes (never shows secrets)",
     "--json prints an array of inbox objects.\n\n"
     "Example:\n  coldseq inbox list --tag clientA",
     0, 0, CLI_NEEDS_DB, list_opts, run_list},
    {"inbox", "show", "NAME", "show one inbox's settings",
     "Also a pause or slow-down of the inbox's sending domain toward a\n"
     "provider (see 'coldseq domain resume'): the provider, code, the\n"
     "provider's words, until when and the remedy.\n\n"
     "--json prints the inbox object (as 'inbox list --json': settings,\n"
     "status, whether a password is stored, never the password), plus\n"
     "sent_outside_24h {messages, recipients}: what the mailbox sent\n"
     "outside coldseq in the last 24 hours, as the watcher read it from\n"
     "the Sent folder (its header fields only), and domain_pauses:\n"
     "[{domain, provider, mode, until, code, reason, inbox, remedy}].  A\n"
     "paused inbox shows the reason (a provider's answer: its code, its\n"
     "words and what to do) and when the pause ends.\n\n"
     "Example:\n  coldseq inbox show sales1",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {"inbox", "remove", "NAME", "remove an inbox and its stored password",
     "The inbox is never used again (sending, watching, warmup) and its\n"
     "password and tokens are erased, but its history stays: messages,\n"
     "replies, events and stats show it as 'NAME (removed)', and the\n"
     "name and email may be added again.  A queued first message goes\n"
     "to the campaign's other inboxes.\n\n"
     "An inbox with threads in progress (contacts it wrote to whose\n"
     "sequence is not over) is refused: a follow-up never goes from\n"
     "another inbox than the one that started the thread.  --force\n"
     "removes it anyway and stops those sequences, with the reason.\n\n"
     "--json prints {removed, history_as, threads_stopped, handed_back}.\n\n"
     "Example:\n  coldseq inbox remove sales1 --force",
     1, 1, CLI_NEEDS_DB, remove_opts, run_remove},
    {"inbox", "pause", "NAME", "stop sending from an inbox",
     "Nothing is sent from a paused inbox; its contacts' follow-ups wait\n"
     "for it and new contacts go to other inboxes.\n\n"
     "Example:\n  coldseq inbox pause sales1 --reason 'reputation check'",
     1, 1, CLI_NEEDS_DB, pause_opts, run_pause},
    {"inbox", "resume", "NAME", "send from a paused inbox again",
     "Also ends an automatic pause (a policy rejection, a quota).\n\n"
     "Example:\n  coldseq inbox resume sales1",
     1, 1, CLI_NEEDS_DB, NULL, run_resume},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
