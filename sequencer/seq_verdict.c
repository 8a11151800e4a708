/*
 * seq_verdict.c - what a provider's answer at submission does to the
 * inbox that sent (issue 21): the one mapping from an SMTP verdict's
 * action (smtp/smtp_policy.c's rules) to a pause, an auth failure or a
 * backoff, for every purpose alike (campaign steps in seq_outbox.c,
 * warmup in seq_warmup_send.c, send-test in seq_send.c), with the reason
 * the user reads in status, inbox show and the log.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * One mapping for every purpose (campaign, warmup, send-test): the
 * verdict's action decides.
 *
 *   action               inbox                          message
 *   quota                paused until seq_quota_until   again after it
 *   restricted           paused, no end (user resumes)  waits for resume
 *   smtp_auth_disabled   paused, no end (user resumes)  waits for resume
 *   auth_failed          auth_state auth_failed         waits for the fix
 *   refresh_token        (password inbox) auth_failed;  as auth_failed /
 *                        oauth2: refreshed once before, inbox failure
 *                        here only when that failed too
 *   backoff_connections  no new session for            queued, due then
 *                        retry_after_s (not a pause)
 *   slow, none           the purpose's own handling
 */

/* When the provider's rolling 24-hour window frees for inbox_id: the
 * oldest message in it (coldseq's, a later attempt, or one sent outside
 * coldseq: db_limit_count with no maximum points at the oldest) plus 24
 * hours, else now plus 24 hours; at least a minute away. */
static int seq_quota_until(db *d, long long inbox_id, int64_t now,
                           int64_t *until, cs_err *err)
{
	db_limit_use u;
	int rc = db_limit_count(d, inbox_id, NULL,
	                        cs_limit_kind_get(CS_LIM_MESSAGES_24H),
	                        INT64_MAX, now, false, &u, err);

	if (rc != 0)
		return rc;
	*until = u.used > 0 ? u.frees_at : now + 86400000LL;
	if (*until < now + 60000)
		*until = now + 60000;
	return 0;
}

/* "550 5.4.5 Daily user sending limit exceeded (Google): remedy" */
static void verdict_why(const smtp_result *res, const char *remedy, cs_buf *out)
{
	const smtp_verdict *v = &res->verdict;

	if (res->code)
		cs_buf_printf(out, "%d ", res->code);
	cs_buf_printf(out, "%.200s", res->text[0] ? res->text : res->detail);
	while (out->len && (out->data[out->len - 1] == ' ' ||
	                    out->data[out->len - 1] == '.'))
		out->data[--out->len] = '\0';
	if (v->provider)
		cs_buf_printf(out, " (%s)", v->provider);
	if (remedy)
		cs_buf_printf(out, ": %s", remedy);
}

void seq_verdict_fx_free(seq_verdict_fx *fx)
{
	cs_buf_free(&fx->why);
	memset(fx, 0, sizeof *fx);
}

int seq_verdict_effect(db *d, const db_inbox *in, const smtp_result *res,
                       int64_t now, seq_verdict_fx *fx, cs_err *err)
{
	const smtp_verdict *v = &res->verdict;
	const char *remedy = v->remedy;
	char t[40];
	int rc = 0;

	memset(fx, 0, sizeof *fx);
	if (v->outcome == SMTP_SENT || v->outcome == SMTP_UNCERTAIN ||
	    v->outcome == SMTP_REJECTED_RECIPIENT)
		return 0;
	switch (v->action) {
	case SMTP_ACT_QUOTA:
		fx->kind = SEQ_FX_PAUSE;
		rc = seq_quota_until(d, in->id, now, &fx->until, err);
		break;
	case SMTP_ACT_RESTRICTED:
	case SMTP_ACT_SMTP_AUTH_DISABLED: fx->kind = SEQ_FX_PAUSE; break;
	case SMTP_ACT_REFRESH_TOKEN:
		if (in->auth == DB_AUTH_OAUTH2)
			return 0; /* refreshed once already: an inbox failure */
		fx->kind = SEQ_FX_AUTH_FAILED;
		if (in->provider == CS_PROVIDER_MICROSOFT)
			remedy = "Microsoft refused the password (Basic "
			         "authentication for SMTP AUTH is being "
			         "retired): connect with --auth oauth2 "
			         "('coldseq inbox connect microsoft')";
		else
			remedy = "the server refused the password: store the "
			         "right one with 'coldseq inbox set NAME "
			         "--password-stdin'";
		break;
	case SMTP_ACT_AUTH_FAILED: fx->kind = SEQ_FX_AUTH_FAILED; break;
	case SMTP_ACT_BACKOFF_CONNECTIONS:
		fx->kind = SEQ_FX_BACKOFF;
		fx->until =
		    now +
		    (int64_t)(v->retry_after_s > 60 ? v->retry_after_s : 60) *
		        1000;
		break;
	case SMTP_ACT_SLOW:
	case SMTP_ACT_NONE: return 0;
	}
	if (rc != 0)
		return rc;
	verdict_why(res, remedy, &fx->why);
	switch (fx->kind) {
	case SEQ_FX_PAUSE:
		if ((rc = db_inbox_set_status(d, in->name, DB_INBOX_PAUSED,
		                              fx->why.data, fx->until, now,
		                              err)) != 0 ||
		    (rc = db_inbox_set_provider_hold(d, in->id, err)) != 0)
			return rc;
		if (fx->until) {
			cs_time_iso8601(fx->until, t, sizeof t);
			cs_log_warn("inbox %s paused until %s: %s", in->name, t,
			            fx->why.data);
		} else {
			cs_log_warn("inbox %s paused until it is resumed: %s",
			            in->name, fx->why.data);
		}
		break;
	case SEQ_FX_AUTH_FAILED:
		if ((rc = db_inbox_set_auth(d, in->id, DB_AUTH_FAILED,
		                            fx->why.data, now, err)) != 0)
			return rc;
		cs_log_warn("inbox %s: sign-in refused: %s", in->name,
		            fx->why.data);
		break;
	case SEQ_FX_BACKOFF:
		cs_time_iso8601(fx->until, t, sizeof t);
		cs_log_warn("inbox %s opens no new session before %s: %s",
		            in->name, t, fx->why.data);
		break;
	case SEQ_FX_NONE: break;
	}
	return 0;
}
