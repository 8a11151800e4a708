/*
 * test_smtp_policy.c - the reply policy (smtp/smtp_policy.c) on real
 * provider replies: each rule's outcome, action, retry, provider and
 * remedy, and enhanced status parsing.
 */
#include "unit.h"

#include "smtp/smtp.h"

typedef struct policy_case {
	smtp_phase phase;
	int code;
	const char *text; /* the reply text after the code, as received */
	smtp_outcome outcome;
	smtp_action action;
	bool hard;
} policy_case;

/* Reply texts as Gmail, Microsoft 365 and Postfix send them. */
static const policy_case cases[] = {
    {SMTP_PH_DATA_END, 250,
     "2.0.0 OK  1700000000 a1-20020a170906000000b009a0000000000si1234567"
     "ejb.123 - gsmtp",
     SMTP_SENT, SMTP_ACT_NONE, false},
    {SMTP_PH_DATA_END, 250, "2.0.0 Ok: queued as 8DAF5A726D4", SMTP_SENT,
     SMTP_ACT_NONE, false},
    {SMTP_PH_DATA_END, 0, NULL, SMTP_UNCERTAIN, SMTP_ACT_NONE, false},
    {SMTP_PH_CONNECT, 0, NULL, SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false},
    {SMTP_PH_TLS, 0, NULL, SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false},
    {SMTP_PH_RCPT, 0, NULL, SMTP_DEFERRED, SMTP_ACT_NONE, false},
    /* Gmail */
    {SMTP_PH_MAIL, 421,
     "4.7.0 Try again later, closing connection. (MAIL) "
     "d1-20020a05600c000000b004000000000sm1234567wmb.1 - gsmtp",
     SMTP_DEFERRED, SMTP_ACT_SLOW, false},
    {SMTP_PH_DATA_END, 421,
     "4.7.28 Gmail has detected an unusual rate of unsolicited mail "
     "originating from your IP address. To protect our users from spam, "
     "mail sent from your IP address has been temporarily rate limited.",
     SMTP_DEFERRED, SMTP_ACT_SLOW, false},
    {SMTP_PH_RCPT, 450,
     "4.2.1 The user you are trying to contact is receiving mail at a rate "
     "that prevents additional messages from being delivered.",
     SMTP_DEFERRED, SMTP_ACT_SLOW, false},
    {SMTP_PH_RCPT, 452, "4.5.3 Your message has too many recipients.",
     SMTP_DEFERRED, SMTP_ACT_NONE, false},
    {SMTP_PH_MAIL, 550,
     "5.4.5 Daily user sending limit exceeded. For more information on "
     "Gmail sending limits go to https://support.google.com/a/answer/166852",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, false},
    {SMTP_PH_AUTH, 534,
     "5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please "
     "log in with your web browser and then try again.",
     SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false},
    {SMTP_PH_AUTH, 535,
     "5.7.8 Username and Password not accepted. For more information, go "
     "to https://support.google.com/mail/?p=BadCredentials",
     SMTP_INBOX_FAILURE, SMTP_ACT_AUTH_FAILED, false},
    {SMTP_PH_RCPT, 550,
     "5.1.1 The email account that you tried to reach does not exist.",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true},
    {SMTP_PH_DATA_END, 550,
     "5.7.1 [203.0.113.5] Our system has detected that this message is "
     "likely unsolicited mail. To reduce the amount of spam sent to Gmail, "
     "this message has been blocked.",
     SMTP_REJECTED_POLICY, SMTP_ACT_NONE, false},
    /* Microsoft 365 */
    {SMTP_PH_AUTH, 535,
     "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Tenant.",
     SMTP_INBOX_FAILURE, SMTP_ACT_SMTP_AUTH_DISABLED, false},
    {SMTP_PH_AUTH, 535,
     "5.7.3 Authentication unsuccessful [AM0PR01CA0000.eurprd01.prod]",
     SMTP_INBOX_FAILURE, SMTP_ACT_REFRESH_TOKEN, false},
    {SMTP_PH_MAIL, 550,
     "5.1.8 Access denied, bad outbound sender. AS(42004) "
     "[DB8EUR05FT000.eop-eur05.prod.protection.outlook.com]",
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, false},
    {SMTP_PH_DATA_END, 554,
     "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
     "Failed to process message due to a permanent exception",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, false},
    {SMTP_PH_RCPT, 550,
     "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
     "address lookup",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true},
    {SMTP_PH_RCPT, 550, "5.2.1 Mailbox cannot be accessed [mailbox disabled]",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true},
    {SMTP_PH_GREETING, 421,
     "4.3.2 Service not available, closing transmission channel", SMTP_DEFERRED,
     SMTP_ACT_SLOW, false},
    {SMTP_PH_MAIL, 451,
     "4.7.500 Server busy. Please try again later from [198.51.100.7]. "
     "(AS800)",
     SMTP_DEFERRED, SMTP_ACT_SLOW, false},
    /* Postfix */
    {SMTP_PH_RCPT, 550,
     "5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown "
     "in virtual mailbox table",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, true},
    {SMTP_PH_AUTH, 535,
     "5.7.8 Error: authentication failed: authentication "
     "failure",
     SMTP_INBOX_FAILURE, SMTP_ACT_AUTH_FAILED, false},
    {SMTP_PH_MAIL, 530, "5.7.0 Must issue a STARTTLS command first",
     SMTP_INBOX_FAILURE, SMTP_ACT_NONE, false},
    {SMTP_PH_RCPT, 554, "5.7.1 <x@elsewhere.test>: Relay access denied",
     SMTP_REJECTED_POLICY, SMTP_ACT_NONE, false},
    {SMTP_PH_RCPT, 450,
     "4.1.2 <x@nodomain.test>: Recipient address rejected: Domain not found",
     SMTP_DEFERRED, SMTP_ACT_NONE, false},
    {SMTP_PH_RCPT, 452, "4.2.2 Mailbox full", SMTP_DEFERRED, SMTP_ACT_NONE,
     false},
    {SMTP_PH_RCPT, 550, "No such user here", SMTP_REJECTED_RECIPIENT,
     SMTP_ACT_NONE, true},
    {SMTP_PH_DATA_END, 552, "5.3.4 Message size exceeds fixed limit",
     SMTP_REJECTED_POLICY, SMTP_ACT_NONE, false},
};

static void policy_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const policy_case *c = &cases[i];
		char enh[16];
		smtp_verdict v;

		smtp_parse_enhanced(c->text, enh);
		smtp_policy(c->phase, c->code, enh, c->text, &v);
		if (v.outcome != c->outcome || v.action != c->action ||
		    v.hard != c->hard ||
		    v.throttle != (c->action == SMTP_ACT_SLOW))
			fail_msg("case %zu (%s %d %s): got %s %s throttle=%d "
			         "hard=%d (rule %s)",
			         i, smtp_phase_name(c->phase), c->code,
			         c->text ? c->text : "-",
			         smtp_outcome_name(v.outcome),
			         smtp_action_name(v.action), v.throttle, v.hard,
			         v.rule);
		if (v.outcome == SMTP_DEFERRED)
			assert_true(v.retry_after_s > 0);
	}
}

/* One case per provider answer of issue 21: the rule, its action, how
 * long to wait, and a remedy for the user. */
typedef struct answer_case {
	const char *rule;
	smtp_phase phase;
	int code;
	const char *text; /* as the provider sends it (after the code) */
	smtp_outcome outcome;
	smtp_action action;
	int retry_after_s; /* -1: any above 0 */
	const char *provider;
	bool remedy;
} answer_case;

static const answer_case answers[] = {
    /* Gmail */
    {"too-many-logins", SMTP_PH_AUTH, 454,
     "4.7.0 Too many login attempts, please try again later. "
     "d2-20020a17090a000000b00000000000000sm123456pjb.1 - gsmtp",
     SMTP_DEFERRED, SMTP_ACT_BACKOFF_CONNECTIONS, 900, "Google", true},
    {"too-many-logins", SMTP_PH_MAIL, 454,
     "4.7.0 Too many concurrent SMTP sessions - gsmtp", SMTP_DEFERRED,
     SMTP_ACT_BACKOFF_CONNECTIONS, 900, "Google", true},
    {"rate-limited", SMTP_PH_MAIL, 421,
     "4.7.0 Try again later, closing connection. (MAIL) - gsmtp", SMTP_DEFERRED,
     SMTP_ACT_SLOW, 3600, NULL, false},
    {"daily-quota", SMTP_PH_MAIL, 550,
     "5.4.5 Daily user sending limit exceeded. For more information on "
     "Gmail sending limits go to https://support.google.com/a/answer/166852"
     " - gsmtp",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, 0, "Google", true},
    {"daily-quota", SMTP_PH_DATA_END, 550,
     "5.4.5 Daily user sending quota exceeded. - gsmtp", SMTP_REJECTED_POLICY,
     SMTP_ACT_QUOTA, 0, "Google", true},
    {"daily-quota", SMTP_PH_RCPT, 550,
     "5.4.5 Daily SMTP relay limit exceeded for user. - gsmtp",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, 0, "Google", true},
    {"bad-credentials", SMTP_PH_AUTH, 535,
     "5.7.8 Username and Password not accepted. For more information, go "
     "to https://support.google.com/mail/?p=BadCredentials - gsmtp",
     SMTP_INBOX_FAILURE, SMTP_ACT_AUTH_FAILED, 3600, NULL, true},
    /* the XOAUTH2 error challenge's status, as smtp_session.c adds it */
    {"xoauth2-token-refused", SMTP_PH_AUTH, 535,
     "5.7.8 Username and Password not accepted. - gsmtp [xoauth2 "
     "status=401]",
     SMTP_INBOX_FAILURE, SMTP_ACT_REFRESH_TOKEN, 3600, NULL, true},
    {"bad-credentials", SMTP_PH_AUTH, 535,
     "5.7.8 Username and Password not accepted. - gsmtp [xoauth2 "
     "status=400]",
     SMTP_INBOX_FAILURE, SMTP_ACT_AUTH_FAILED, 3600, NULL, true},
    {"rate-limited-unsolicited", SMTP_PH_DATA_END, 421,
     "4.7.28 Gmail has detected an unusual rate of unsolicited mail.",
     SMTP_DEFERRED, SMTP_ACT_SLOW, 7200, "Google", false},
    /* Microsoft 365 */
    {"token-refused", SMTP_PH_AUTH, 535,
     "5.7.3 Authentication unsuccessful [SN4PR0201CA0000.namprd02.prod."
     "outlook.com]",
     SMTP_INBOX_FAILURE, SMTP_ACT_REFRESH_TOKEN, 3600, "Microsoft", true},
    {"smtp-auth-disabled", SMTP_PH_AUTH, 535,
     "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled "
     "for more information.",
     SMTP_INBOX_FAILURE, SMTP_ACT_SMTP_AUTH_DISABLED, 0, "Microsoft", true},
    {"smtp-auth-disabled", SMTP_PH_AUTH, 535,
     "5.7.3 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Tenant.",
     SMTP_INBOX_FAILURE, SMTP_ACT_SMTP_AUTH_DISABLED, 0, "Microsoft", true},
    {"submission-quota", SMTP_PH_DATA_END, 554,
     "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
     " Failed to process message due to a permanent exception with message "
     "Cannot submit message.",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, 0, "Microsoft", true},
    {"submission-quota", SMTP_PH_MAIL, 550,
     "5.2.2 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
     " Failed to process message due to a permanent exception",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, 0, "Microsoft", true},
    {"submission-quota", SMTP_PH_DATA, 550, "5.2.2 Submission quota exceeded",
     SMTP_REJECTED_POLICY, SMTP_ACT_QUOTA, 0, "Microsoft", true},
    /* 5.2.2 at RCPT is the recipient's full mailbox, quota text or not */
    {"mailbox-full", SMTP_PH_RCPT, 552,
     "5.2.2 Submission quota exceeded: mailbox full", SMTP_REJECTED_RECIPIENT,
     SMTP_ACT_NONE, 0, NULL, false},
    {"mailbox-full", SMTP_PH_RCPT, 552,
     "5.2.2 The email account that you tried to reach is over quota.",
     SMTP_REJECTED_RECIPIENT, SMTP_ACT_NONE, 0, NULL, false},
    {"sender-blocked", SMTP_PH_MAIL, 550,
     "5.1.8 Access denied, bad outbound sender. AS(42004)",
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, 0, "Microsoft", true},
    {"tenant-blocked", SMTP_PH_DATA_END, 550,
     "5.7.705 Access denied, tenant has exceeded threshold. For more "
     "information please go to http://go.microsoft.com/fwlink/?LinkId="
     "526653 AS(2200)",
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, 0, "Microsoft", true},
    {"tenant-ip-reputation", SMTP_PH_RCPT, 550,
     "5.7.708 Service unavailable. Access denied, traffic not accepted "
     "from this IP. AS(7230)",
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, 0, "Microsoft", true},
    {"tenant-unregistered-domain", SMTP_PH_MAIL, 550,
     "5.7.750 Service unavailable. Client blocked from sending from "
     "unregistered domains. AS(2600)",
     SMTP_REJECTED_POLICY, SMTP_ACT_RESTRICTED, 0, "Microsoft", true},
    {"sender-thread-limit", SMTP_PH_MAIL, 432,
     "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded "
     "[Hostname=AM0PR01MB0000.eurprd01.prod.exchangelabs.com]",
     SMTP_DEFERRED, SMTP_ACT_BACKOFF_CONNECTIONS, 300, "Microsoft", true},
    /* a 5.7.7xx that is not one of them stays a policy block */
    {"policy-block", SMTP_PH_DATA_END, 550, "5.7.70 Something else",
     SMTP_REJECTED_POLICY, SMTP_ACT_NONE, 0, NULL, false},
};

static void provider_answers(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		const answer_case *c = &answers[i];
		char enh[16];
		smtp_verdict v;

		smtp_parse_enhanced(c->text, enh);
		smtp_policy(c->phase, c->code, enh, c->text, &v);
		if (strcmp(v.rule, c->rule) != 0 || v.outcome != c->outcome ||
		    v.action != c->action ||
		    (c->retry_after_s >= 0 &&
		     v.retry_after_s != c->retry_after_s) ||
		    (v.remedy != NULL) != c->remedy ||
		    (c->provider == NULL) != (v.provider == NULL) ||
		    (c->provider && strcmp(c->provider, v.provider) != 0))
			fail_msg("answer %zu (%s %d %s): got rule %s, %s %s, "
			         "retry %d, provider %s, remedy %s",
			         i, smtp_phase_name(c->phase), c->code, c->text,
			         v.rule, smtp_outcome_name(v.outcome),
			         smtp_action_name(v.action), v.retry_after_s,
			         v.provider ? v.provider : "-",
			         v.remedy ? v.remedy : "-");
		if (c->action == SMTP_ACT_RESTRICTED)
			assert_non_null(strstr(v.remedy, "resume"));
		if (c->action == SMTP_ACT_SMTP_AUTH_DISABLED)
			assert_non_null(strstr(
			    v.remedy, "SmtpClientAuthenticationDisabled"));
	}
}

static void enhanced_status_parse(void **state)
{
	char e[16];

	(void)state;
	assert_int_equal(smtp_parse_enhanced("5.1.1 User unknown", e), 5);
	assert_string_equal(e, "5.1.1");
	assert_int_equal(smtp_parse_enhanced("4.7.500 Server busy", e), 7);
	assert_string_equal(e, "4.7.500");
	assert_int_equal(smtp_parse_enhanced("5.1.10", e), 6);
	assert_int_equal(smtp_parse_enhanced("No such user", e), 0);
	assert_string_equal(e, "");
	assert_int_equal(smtp_parse_enhanced("5.1 x", e), 0);
	assert_int_equal(smtp_parse_enhanced("3.1.1 x", e), 0);
	assert_int_equal(smtp_parse_enhanced("5.1.1x", e), 0);
	assert_int_equal(smtp_parse_enhanced(NULL, e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(policy_table),
	    cmocka_unit_test(provider_answers),
	    cmocka_unit_test(enhanced_status_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
