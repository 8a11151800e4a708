/*
 * smtp_policy.c - the one place that decides what an SMTP reply means.
 *
 * smtp_policy() walks rules[] top to bottom; the first rule whose phase,
 * code range, enhanced-status prefix and text pattern all match decides.
 * Order is the policy: specific provider signals (quota, sender blocked,
 * rate limits) come before the generic classes.  Every rule has a name so
 * logs and tests can say which one fired.
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
	const char *enhanced; /* prefix of the enhanced status, or NULL */
	const char *patterns; /* '|'-separated substrings (any case), or NULL */
	smtp_outcome outcome;
	bool throttle, pause_day, hard;
	int retry_after_s;
} rule;

static const rule rules[] = {
    /* no reply at all */
    {"lost-after-dot", PH(SMTP_PH_DATA_END), 0, 0, NULL, NULL, SMTP_UNCERTAIN,
     false, false, false, 0},
    {"connect-failed", PH(SMTP_PH_CONNECT), 0, 0, NULL, NULL,
     SMTP_INBOX_FAILURE, false, false, false, 300},
    {"tls-failed", PH(SMTP_PH_TLS), 0, 0, NULL, NULL, SMTP_INBOX_FAILURE, false,
     false, false, 3600},
    {"lost-before-session", PRE_SEND, 0, 0, NULL, NULL, SMTP_INBOX_FAILURE,
     false, false, false, 300},
    {"lost-before-data", ANY_PHASE, 0, 0, NULL, NULL, SMTP_DEFERRED, false,
     false, false, 300},

    {"accepted", PH(SMTP_PH_DATA_END), 200, 299, NULL, NULL, SMTP_SENT, false,
     false, false, 0},

    /* the provider's daily quota: pause until the inbox's next day */
    {"daily-quota", ANY_PHASE, 400, 599, NULL,
     "5.4.5|SubmissionQuotaExceeded|sending limit|quota exceeded|"
     "too many messages sent today",
     SMTP_REJECTED_POLICY, true, true, false, 0},
    /* Microsoft: sender blocked for outbound spam */
    {"sender-blocked", ANY_PHASE, 500, 599, "5.1.8", NULL, SMTP_REJECTED_POLICY,
     false, false, false, 0},

    /* authentication: the inbox cannot send at all */
    {"auth-temporary", PH(SMTP_PH_AUTH), 400, 499, NULL, NULL,
     SMTP_INBOX_FAILURE, false, false, false, 600},
    {"auth-failed", PH(SMTP_PH_AUTH), 500, 599, NULL, NULL, SMTP_INBOX_FAILURE,
     false, false, false, 3600},
    {"auth-required", SENDING, 530, 530, NULL, NULL, SMTP_INBOX_FAILURE, false,
     false, false, 3600},
    {"session-refused", PRE_SEND, 500, 599, NULL, NULL, SMTP_INBOX_FAILURE,
     false, false, false, 3600},

    /* temporary: too many recipients is not throttling */
    {"too-many-recipients", ANY_PHASE, 452, 452, "4.5.3", NULL, SMTP_DEFERRED,
     false, false, false, 60},
    /* provider rate limits slow the inbox down */
    {"rate-limited-unsolicited", ANY_PHASE, 421, 421, "4.7.28", NULL,
     SMTP_DEFERRED, true, false, false, 7200},
    {"rate-limited", ANY_PHASE, 400, 499, "4.7.0", NULL, SMTP_DEFERRED, true,
     false, false, 3600},
    {"rate-limited", ANY_PHASE, 450, 450, "4.2.1", NULL, SMTP_DEFERRED, true,
     false, false, 3600},
    {"rate-limited", ANY_PHASE, 400, 499, NULL,
     "rate limit|too many|try again later|temporarily deferred|throttl",
     SMTP_DEFERRED, true, false, false, 3600},
    {"service-unavailable", ANY_PHASE, 421, 421, NULL, NULL, SMTP_DEFERRED,
     true, false, false, 900},
    {"local-error", ANY_PHASE, 451, 451, NULL, NULL, SMTP_DEFERRED, true, false,
     false, 900},
    {"mailbox-full", PH(SMTP_PH_RCPT), 452, 452, "4.2.2", NULL, SMTP_DEFERRED,
     false, false, false, 3600},
    {"temporary", ANY_PHASE, 400, 499, NULL, NULL, SMTP_DEFERRED, false, false,
     false, 900},

    /* permanent, about the recipient */
    {"bad-address", PH(SMTP_PH_RCPT) | PH(SMTP_PH_DATA_END), 500, 599, "5.1.",
     NULL, SMTP_REJECTED_RECIPIENT, false, false, true, 0},
    {"mailbox-disabled", PH(SMTP_PH_RCPT) | PH(SMTP_PH_DATA_END), 500, 599,
     "5.2.1", NULL, SMTP_REJECTED_RECIPIENT, false, false, true, 0},
    {"mailbox-full", PH(SMTP_PH_RCPT), 500, 599, "5.2.2", NULL,
     SMTP_REJECTED_RECIPIENT, false, false, false, 0},
    /* permanent, about the sender: spam blocks, relaying refused */
    {"policy-block", SENDING | PH(SMTP_PH_DATA_END), 500, 599, "5.7.", NULL,
     SMTP_REJECTED_POLICY, false, false, false, 0},
    {"unknown-user-text", PH(SMTP_PH_RCPT), 500, 599, NULL,
     "user unknown|unknown user|no such user|does not exist|"
     "invalid recipient|no mailbox|mailbox unavailable|not found",
     SMTP_REJECTED_RECIPIENT, false, false, true, 0},
    {"recipient-refused", PH(SMTP_PH_RCPT), 500, 599, NULL, NULL,
     SMTP_REJECTED_RECIPIENT, false, false, false, 0},
    {"permanent", ANY_PHASE, 500, 599, NULL, NULL, SMTP_REJECTED_POLICY, false,
     false, false, 0},
};

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
		if (r->enhanced &&
		    strncmp(enhanced, r->enhanced, strlen(r->enhanced)) != 0)
			continue;
		if (r->patterns && !contains_any(text, r->patterns) &&
		    !contains_any(enhanced, r->patterns))
			continue;
		out->outcome = r->outcome;
		out->throttle = r->throttle;
		out->pause_day = r->pause_day;
		out->hard = r->hard;
		out->retry_after_s = r->retry_after_s;
		out->rule = r->name;
		return;
	}
	/* 2xx/3xx where a failure was expected: treat as temporary */
	out->outcome = SMTP_DEFERRED;
	out->throttle = out->pause_day = out->hard = false;
	out->retry_after_s = 900;
	out->rule = "unexpected-reply";
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

const char *smtp_phase_name(smtp_phase p)
{
	static const char *const names[] = {
	    "connect", "tls",  "greeting", "ehlo",     "starttls", "auth",
	    "mail",    "rcpt", "data",     "data-end", "rset"};

	return (size_t)p < sizeof names / sizeof names[0] ? names[p] : "?";
}
