/*
 * smtp_policy.c - the one place that decides what an SMTP reply means.
 *
 * smtp_policy() walks rules[] top to bottom; the first rule whose phase,
 * code range, enhanced-status prefix and text pattern all match decides.
 * Order is the policy: specific provider signals (quota, sender blocked,
 * rate limits) come before the generic classes.  Every rule has a name so
 * logs and tests can say which one fired, an action (what the sender must
 * do beyond this message: smtp_action) and, where the user or an admin
 * can do something, a remedy.
 */
#define _POSIX_C_SOURCE 200809L
#include "smtp.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define PH(p)     (1u << (p))
#define ANY_PHASE 0xffffu
#define PRE_SEND                                                               \
	(PH(SMTP_PH_GREETING) | PH(SMTP_PH_EHLO) | PH(SMTP_PH_STARTTLS) |      \
	 PH(SMTP_PH_AUTH))
#define SENDING                                                                \
	(PH(SMTP_PH_MAIL) | PH(SMTP_PH_RCPT) | PH(SMTP_PH_DATA) |              \
	 PH(SMTP_PH_RSET))

typedef struct rule {
	const char *name;
	unsigned phases;
	int code_lo, code_hi; /* inclusive; 0..0 = no reply */
	const char *enhanced; /* the enhanced status ("5.4.5"), or a prefix
	                         ending in '.' ("5.1."), or NULL */
	const char *patterns; /* '|'-separated substrings (any case), or NULL */
	smtp_outcome outcome;
	smtp_action action;
	bool hard;
	int retry_after_s;
	const char *provider; /* whose answer this is, or NULL */
	const char *remedy;   /* what the user or admin can do, or NULL */
} rule;

#define OUT_OF_SESSION                                                         \
	(PH(SMTP_PH_MAIL) | PH(SMTP_PH_DATA) | PH(SMTP_PH_DATA_END) |          \
	 PH(SMTP_PH_RSET))

/* Remedies are static text, shown after the provider's words. */
#define R_QUOTA_G                                                              \
	"the provider's 24-hour sending limit; sending resumes when it frees"
#define R_QUOTA_M                                                              \
	"Microsoft 365's sending limit for this mailbox (10,000 recipients "   \
	"in 24 hours); sending resumes when it frees"
#define R_BLOCKED                                                              \
	"Microsoft blocked this sender for sending spam: after securing the "  \
	"account, a Microsoft 365 admin must release it in the Microsoft 365 " \
	"Defender portal (Email & collaboration > Review > Restricted "        \
	"entities), then resume the inbox ('coldseq inbox resume')"
#define R_TENANT                                                               \
	"Microsoft blocked the whole tenant's outbound mail: the tenant's "    \
	"admin must contact Microsoft support, then resume the inbox"
#define R_TENANT_IP                                                            \
	"Microsoft refuses this tenant's traffic (its IP reputation, common "  \
	"for new tenants): the tenant's admin must contact Microsoft support " \
	"and verify the tenant's domains, then resume the inbox"
#define R_UNREGISTERED                                                         \
	"Microsoft refuses mail from a domain the tenant has not verified: "   \
	"the admin must add and verify the sending domain (Microsoft 365 "     \
	"admin center > Settings > Domains) or contact Microsoft support, "    \
	"then resume the inbox"
#define R_SMTP_AUTH                                                            \
	"enable Authenticated SMTP for this mailbox (Microsoft 365 admin "     \
	"center > user > Mail > Manage email apps, or Set-CASMailbox "         \
	"-SmtpClientAuthenticationDisabled $false), then resume the inbox"
#define R_TOKEN                                                                \
	"the access token was refused: coldseq refreshes it once; if the "     \
	"fresh one is refused too, reconnect the inbox ('coldseq inbox "       \
	"connect')"
#define R_CREDENTIALS                                                          \
	"the server refused the user name and password: use an app password "  \
	"(Google: 2-Step Verification on, then an app password) and store it " \
	"with 'coldseq inbox set NAME --password-stdin', or re-authorize an "  \
	"OAuth2 inbox ('coldseq inbox connect')"
#define R_BACKOFF                                                              \
	"the provider limits how many sessions a mailbox opens at once; "      \
	"coldseq opens no new one for a while"

static const rule rules[] = {
    /* no reply at all */
    {"lost-after-dot", PH(SMTP_PH_DATA_END), 0, 0, NULL, NULL, SMTP_UNCERTAIN,
     SMTP_ACT_NONE, false, 0, NULL, NULL},
    {"connect-failed", PH(SMTP_PH_CONNECT), 0, 0, NULL, NULL,
     SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false, 300, NULL, NULL},
    {"tls-failed", PH(SMTP_PH_TLS), 0, 0, NULL, NULL, SMTP_INBOX_FAILURE,
     SMTP_ACT_NONE, false, 3600, NULL, NULL},
    {"lost-before-session", PRE_SEND, 0, 0, NULL, NULL, SMTP_INBOX_FAILURE,
     SMTP_ACT_NONE, false, 300, NULL, NULL},
    {"lost-before-data", ANY_PHASE, 0, 0, NULL, NULL, SMTP_DEFERRED,
     SMTP_ACT_NONE, false, 300, NULL, NULL},

    {"accepted", PH(SMTP_PH_DATA_END), 200, 299, NULL, NULL, SMTP_SENT,
     SMTP_ACT_NONE, false, 0, NULL, NULL},

    /* the provider's sending quota: pause until its window frees.  At
     * RCPT a quota text (5.2.2) is the recipient's full mailbox: only
     * Gmail's 5.4.5 means the sender there. */
    {"daily-quota", ANY_PHASE, 400, 599, "5.4.5", NULL, SMTP_REJECTED_POLICY,
     SMTP_ACT_QUOTA, false, 0, "Google", R_QUOTA_G},
    {"submission-quota", OUT_OF_SESSION, 400, 599, NULL,
     "SubmissionQuotaExceeded|submission quota", SMTP_REJECTED_POLICY,
     SMTP_ACT_QUOTA, false, 0, "Microsoft", R_QUOTA_M},
    {"sending-limit", OUT_OF_SESSION, 400, 599, NULL,
     "daily user sending limit|sending limit exceeded|sending quota|"
     "too many messages sent today",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, false, 0, NULL, R_QUOTA_G},

    /* Microsoft: the sender or the tenant is restricted; never retried
     * until the user resumes the inbox */
    {"sender-blocked", ANY_PHASE, 500, 599, "5.1.8", NULL, SMTP_REJECTED_POLICY,
     SMTP_ACT_RESTRICTED, false, 0, "Microsoft", R_BLOCKED},
    {"tenant-blocked", ANY_PHASE, 500, 599, "5.7.705", NULL,
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, false, 0, "Microsoft",
     R_TENANT},
    {"tenant-ip-reputation", ANY_PHASE, 500, 599, "5.7.708", NULL,
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, false, 0, "Microsoft",
     R_TENANT_IP},
    {"tenant-unregistered-domain", ANY_PHASE, 500, 599, "5.7.750", NULL,
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, false, 0, "Microsoft",
     R_UNREGISTERED},

    /* too many sessions or logins: back off the inbox's connections */
    {"too-many-logins", PRE_SEND | SENDING, 454, 454, "4.7.0", NULL,
     SMTP_DEFERRED, SMTP_ACT_BACKOFF_CONNECTIONS, false, 900, "Google",
     R_BACKOFF},
    {"sender-thread-limit", ANY_PHASE, 432, 432, "4.3.2",
     "STOREDRV.ClientSubmit|thread limit", SMTP_DEFERRED,
     SMTP_ACT_BACKOFF_CONNECTIONS, false, 300, "Microsoft", R_BACKOFF},

    /* authentication: what the refusal says decides */
    {"smtp-auth-disabled", PH(SMTP_PH_AUTH), 500, 599, "5.7.139", NULL,
     SMTP_INBOX_FAILURE, SMTP_ACT_SMTP_AUTH_DISABLED, false, 0, "Microsoft",
     R_SMTP_AUTH},
    {"smtp-auth-disabled", PH(SMTP_PH_AUTH), 500, 599, NULL,
     "SmtpClientAuthentication is disabled", SMTP_INBOX_FAILURE,
     SMTP_ACT_SMTP_AUTH_DISABLED, false, 0, "Microsoft", R_SMTP_AUTH},
    /* the XOAUTH2 error challenge said 401 (smtp_session.c adds the
     * challenge's status to the text it hands over) */
    {"xoauth2-token-refused", PH(SMTP_PH_AUTH), 400, 599, NULL,
     "[xoauth2 status=401]|[xoauth2 status=invalid_token]", SMTP_INBOX_FAILURE,
     SMTP_ACT_REFRESH_TOKEN, false, 3600, NULL, R_TOKEN},
    {"token-refused", PH(SMTP_PH_AUTH), 535, 535, "5.7.3", NULL,
     SMTP_INBOX_FAILURE, SMTP_ACT_REFRESH_TOKEN, false, 3600, "Microsoft",
     R_TOKEN},
    {"bad-credentials", PH(SMTP_PH_AUTH), 535, 535, "5.7.8", NULL,
     SMTP_INBOX_FAILURE, SMTP_ACT_AUTH_FAILED, false, 3600, NULL,
     R_CREDENTIALS},
    {"auth-temporary", PH(SMTP_PH_AUTH), 400, 499, NULL, NULL,
     SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false, 600, NULL, NULL},
    {"auth-failed", PH(SMTP_PH_AUTH), 500, 599, NULL, NULL, SMTP_INBOX_FAILURE,
     SMTP_ACT_NONE, false, 3600, NULL, NULL},
    {"auth-required", SENDING, 530, 530, NULL, NULL, SMTP_INBOX_FAILURE,
     SMTP_ACT_NONE, false, 3600, NULL, NULL},
    {"session-refused", PRE_SEND, 500, 599, NULL, NULL, SMTP_INBOX_FAILURE,
     SMTP_ACT_NONE, false, 3600, NULL, NULL},

    /* temporary: too many recipients is not throttling */
    {"too-many-recipients", ANY_PHASE, 452, 452, "4.5.3", NULL, SMTP_DEFERRED,
     SMTP_ACT_NONE, false, 60, NULL, NULL},
    /* provider rate limits slow the inbox down */
    {"rate-limited-unsolicited", ANY_PHASE, 421, 421, "4.7.28", NULL,
     SMTP_DEFERRED, SMTP_ACT_SLOW, false, 7200, "Google", NULL},
    {"rate-limited", ANY_PHASE, 400, 499, "4.7.0", NULL, SMTP_DEFERRED,
     SMTP_ACT_SLOW, false, 3600, NULL, NULL},
    {"rate-limited", ANY_PHASE, 450, 450, "4.2.1", NULL, SMTP_DEFERRED,
     SMTP_ACT_SLOW, false, 3600, NULL, NULL},
    {"rate-limited", ANY_PHASE, 400, 499, NULL,
     "rate limit|too many|try again later|temporarily deferred|throttl",
     SMTP_DEFERRED, SMTP_ACT_SLOW, false, 3600, NULL, NULL},
    {"service-unavailable", ANY_PHASE, 421, 421, NULL, NULL, SMTP_DEFERRED,
     SMTP_ACT_SLOW, false, 900, NULL, NULL},
    {"local-error", ANY_PHASE, 451, 451, NULL, NULL, SMTP_DEFERRED,
     SMTP_ACT_SLOW, false, 900, NULL, NULL},
    {"mailbox-full", PH(SMTP_PH_RCPT), 452, 452, "4.2.2", NULL, SMTP_DEFERRED,
     SMTP_ACT_NONE, false, 3600, NULL, NULL},
    {"temporary", ANY_PHASE, 400, 499, NULL, NULL, SMTP_DEFERRED, SMTP_ACT_NONE,
     false, 900, NULL, NULL},

    /* permanent, about the recipient */
    {"bad-address", PH(SMTP_PH_RCPT) | PH(SMTP_PH_DATA_END), 500, 599, "5.1.",
     NULL, SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true, 0, NULL, NULL},
    {"mailbox-disabled", PH(SMTP_PH_RCPT) | PH(SMTP_PH_DATA_END), 500, 599,
     "5.2.1", NULL, SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true, 0, NULL,
     NULL},
    {"mailbox-full", PH(SMTP_PH_RCPT), 500, 599, "5.2.2", NULL,
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, false, 0, NULL, NULL},
    /* permanent, about the sender: spam blocks, relaying refused */
    {"policy-block", SENDING | PH(SMTP_PH_DATA_END), 500, 599, "5.7.", NULL,
     SMTP_REJECTED_POLICY, SMTP_ACT_NONE, false, 0, NULL, NULL},
    {"unknown-user-text", PH(SMTP_PH_RCPT), 500, 599, NULL,
     "user unknown|unknown user|no such user|does not exist|"
     "invalid recipient|no mailbox|mailbox unavailable|not found",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true, 0, NULL, NULL},
    {"recipient-refused", PH(SMTP_PH_RCPT), 500, 599, NULL, NULL,
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, false, 0, NULL, NULL},
    {"permanent", ANY_PHASE, 500, 599, NULL, NULL, SMTP_REJECTED_POLICY,
     SMTP_ACT_NONE, false, 0, NULL, NULL},
};

/* The rule's enhanced status: exact, or a prefix when it ends in '.'. */
static bool enhanced_matches(const char *want, const char *got)
{
	size_t n = strlen(want);

	if (n && want[n - 1] == '.')
		return strncmp(got, want, n) == 0;
	return strcmp(got, want) == 0;
}

static bool contains_any(const char *text, const char *patterns)
{
	const char *p = patterns;
	char pat[64];

	if (text == NULL)
		return false;
	while (*p) {
		size_t n = strcspn(p, "|"), tl = strlen(text), i;

		if (n < sizeof pat) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			for (i = 0; n > 0 && i + n <= tl; i++)
				if (strncasecmp(text + i, pat, n) == 0)
					return true;
		}
		p += n;
		if (*p == '|')
			p++;
	}
	return false;
}

void smtp_policy(smtp_phase phase, int code, const char *enhanced,
                 const char *text, smtp_verdict *out)
{
	size_t i;

	if (enhanced == NULL)
		enhanced = "";
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const rule *r = &rules[i];

		if (!(r->phases & PH(phase)))
			continue;
		if (code < r->code_lo || code > r->code_hi)
			continue;
		if (r->enhanced && !enhanced_matches(r->enhanced, enhanced))
			continue;
		if (r->patterns && !contains_any(text, r->patterns) &&
		    !contains_any(enhanced, r->patterns))
			continue;
		out->outcome = r->outcome;
		out->action = r->action;
		out->throttle = r->action == SMTP_ACT_SLOW;
		out->hard = r->hard;
		out->retry_after_s = r->retry_after_s;
		out->rule = r->name;
		out->remedy = r->remedy;
		out->provider = r->provider;
		return;
	}
	/* 2xx/3xx where a failure was expected: treat as temporary */
	out->outcome = SMTP_DEFERRED;
	out->action = SMTP_ACT_NONE;
	out->throttle = out->hard = false;
	out->retry_after_s = 900;
	out->rule = "unexpected-reply";
	out->remedy = out->provider = NULL;
}

size_t smtp_parse_enhanced(const char *text, char out[16])
{
	const char *p = text;
	size_t n;
	int part;

	out[0] = '\0';
	if (text == NULL)
		return 0;
	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	p++;
	for (part = 0; part < 2; part++) {
		int digits = 0;

		if (*p++ != '.')
			return 0;
		while (isdigit((unsigned char)*p) && digits < 3) {
			p++;
			digits++;
		}
		if (digits == 0)
			return 0;
	}
	if (*p && !isspace((unsigned char)*p))
		return 0;
	n = (size_t)(p - text);
	memcpy(out, text, n);
	out[n] = '\0';
	return n;
}

const char *smtp_outcome_name(smtp_outcome o)
{
	switch (o) {
	case SMTP_SENT: return "sent";
	case SMTP_DEFERRED: return "deferred";
	case SMTP_REJECTED_RECIPIENT: return "rejected_recipient";
	case SMTP_REJECTED_POLICY: return "rejected_policy";
	case SMTP_INBOX_FAILURE: return "inbox_failure";
	case SMTP_UNCERTAIN: return "uncertain";
	}
	return "?";
}

const char *smtp_action_name(smtp_action a)
{
	switch (a) {
	case SMTP_ACT_NONE: return "none";
	case SMTP_ACT_SLOW: return "slow";
	case SMTP_ACT_BACKOFF_CONNECTIONS: return "backoff_connections";
	case SMTP_ACT_QUOTA: return "quota";
	case SMTP_ACT_RESTRICTED: return "restricted";
	case SMTP_ACT_REFRESH_TOKEN: return "refresh_token";
	case SMTP_ACT_SMTP_AUTH_DISABLED: return "smtp_auth_disabled";
	case SMTP_ACT_AUTH_FAILED: return "auth_failed";
	}
	return "?";
}

const char *smtp_phase_name(smtp_phase p)
{
	static const char *const names[] = {
	    "connect", "tls",  "greeting", "ehlo",     "starttls", "auth",
	    "mail",    "rcpt", "data",     "data-end", "rset"};

	return (size_t)p < sizeof names / sizeof names[0] ? names[p] : "?";
}
