/*
 * test_smtp.c - the reply policy on real provider replies, enhanced status
 * parsing, message building: encoding, threading, unsubscribe headers and
 * refusal of header injection.
 */
#include "unit.h"

#include "smtp/smtp.h"

typedef struct policy_case {
	smtp_phase phase;
	int code;
	const char *text; /* the reply text after the code, as received */
	smtp_outcome outcome;
	bool throttle, pause_day, hard;
} policy_case;

/* Reply texts as Gmail, Microsoft 365 and Postfix send them. */
static const policy_case cases[] = {
    {SMTP_PH_DATA_END, 250,
     "2.0.0 OK  1700000000 a1-20020a170906000000b009a0000000000si1234567"
     "ejb.123 - gsmtp",
     SMTP_SENT, false, false, false},
    {SMTP_PH_DATA_END, 250, "2.0.0 Ok: queued as 8DAF5A726D4", SMTP_SENT, false,
     false, false},
    {SMTP_PH_DATA_END, 0, NULL, SMTP_UNCERTAIN, false, false, false},
    {SMTP_PH_CONNECT, 0, NULL, SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_TLS, 0, NULL, SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_RCPT, 0, NULL, SMTP_DEFERRED, false, false, false},
    /* Gmail */
    {SMTP_PH_MAIL, 421,
     "4.7.0 Try again later, closing connection. (MAIL) "
     "d1-20020a05600c000000b004000000000sm1234567wmb.1 - gsmtp",
     SMTP_DEFERRED, true, false, false},
    {SMTP_PH_DATA_END, 421,
     "4.7.28 Gmail has detected an unusual rate of unsolicited mail "
     "originating from your IP address. To protect our users from spam, "
     "mail sent from your IP address has been temporarily rate limited.",
     SMTP_DEFERRED, true, false, false},
    {SMTP_PH_RCPT, 450,
     "4.2.1 The user you are trying to contact is receiving mail at a rate "
     "that prevents additional messages from being delivered.",
     SMTP_DEFERRED, true, false, false},
    {SMTP_PH_RCPT, 452, "4.5.3 Your message has too many recipients.",
     SMTP_DEFERRED, false, false, false},
    {SMTP_PH_MAIL, 550,
     "5.4.5 Daily user sending limit exceeded. For more information on "
     "Gmail sending limits go to https://support.google.com/a/answer/166852",
     SMTP_REJECTED_POLICY, true, true, false},
    {SMTP_PH_AUTH, 534,
     "5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please "
     "log in with your web browser and then try again.",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_AUTH, 535,
     "5.7.8 Username and Password not accepted. For more information, go "
     "to https://support.google.com/mail/?p=BadCredentials",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_RCPT, 550,
     "5.1.1 The email account that you tried to reach does not exist.",
     SMTP_REJECTED_RECIPIENT, false, false, true},
    {SMTP_PH_DATA_END, 550,
     "5.7.1 [203.0.113.5] Our system has detected that this message is "
     "likely unsolicited mail. To reduce the amount of spam sent to Gmail, "
     "this message has been blocked.",
     SMTP_REJECTED_POLICY, false, false, false},
    /* Microsoft 365 */
    {SMTP_PH_AUTH, 535,
     "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Tenant.",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_AUTH, 535,
     "5.7.3 Authentication unsuccessful [AM0PR01CA0000.eurprd01.prod]",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_MAIL, 550,
     "5.1.8 Access denied, bad outbound sender. AS(42004) "
     "[DB8EUR05FT000.eop-eur05.prod.protection.outlook.com]",
     SMTP_REJECTED_POLICY, false, false, false},
    {SMTP_PH_DATA_END, 554,
     "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
     "Failed to process message due to a permanent exception",
     SMTP_REJECTED_POLICY, true, true, false},
    {SMTP_PH_RCPT, 550,
     "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
     "address lookup",
     SMTP_REJECTED_RECIPIENT, false, false, true},
    {SMTP_PH_RCPT, 550, "5.2.1 Mailbox cannot be accessed [mailbox disabled]",
     SMTP_REJECTED_RECIPIENT, false, false, true},
    {SMTP_PH_GREETING, 421,
     "4.3.2 Service not available, closing transmission channel", SMTP_DEFERRED,
     true, false, false},
    {SMTP_PH_MAIL, 451,
     "4.7.500 Server busy. Please try again later from [198.51.100.7]. "
     "(AS800)",
     SMTP_DEFERRED, true, false, false},
    /* Postfix */
    {SMTP_PH_RCPT, 550,
     "5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown "
     "in virtual mailbox table",
     SMTP_REJECTED_RECIPIENT, false, false, true},
    {SMTP_PH_AUTH, 535,
     "5.7.8 Error: authentication failed: authentication "
     "failure",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_MAIL, 530, "5.7.0 Must issue a STARTTLS command first",
     SMTP_INBOX_FAILURE, false, false, false},
    {SMTP_PH_RCPT, 554, "5.7.1 <x@elsewhere.test>: Relay access denied",
     SMTP_REJECTED_POLICY, false, false, false},
    {SMTP_PH_RCPT, 450,
     "4.1.2 <x@nodomain.test>: Recipient address rejected: Domain not found",
     SMTP_DEFERRED, false, false, false},
    {SMTP_PH_RCPT, 452, "4.2.2 Mailbox full", SMTP_DEFERRED, false, false,
     false},
    {SMTP_PH_RCPT, 550, "No such user here", SMTP_REJECTED_RECIPIENT, false,
     false, true},
    {SMTP_PH_DATA_END, 552, "5.3.4 Message size exceeds fixed limit",
     SMTP_REJECTED_POLICY, false, false, false},
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
		if (v.outcome != c->outcome || v.throttle != c->throttle ||
		    v.pause_day != c->pause_day || v.hard != c->hard)
			fail_msg("case %zu (%s %d %s): got %s throttle=%d "
			         "pause=%d hard=%d (rule %s)",
			         i, smtp_phase_name(c->phase), c->code,
			         c->text ? c->text : "-",
			         smtp_outcome_name(v.outcome), v.throttle,
			         v.pause_day, v.hard, v.rule);
		if (v.outcome == SMTP_DEFERRED)
			assert_true(v.retry_after_s > 0);
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

static void encoded_words(void **state)
{
	cs_buf b = CS_BUF_INIT;
	char long_name[400];
	size_t i;
	const char *p, *w;

	(void)state;
	smtp_encode_words("Plain ASCII", &b);
	assert_string_equal(cs_buf_str(&b), "Plain ASCII");
	cs_buf_clear(&b);
	smtp_encode_words("Jürgen Müller", &b);
	assert_string_equal(cs_buf_str(&b),
	                    "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=");
	cs_buf_clear(&b);
	/* long text: several words, none over 75 characters, UTF-8 sequences
	 * never split across words */
	long_name[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(long_name, "ä€");
	smtp_encode_words(long_name, &b);
	for (p = cs_buf_str(&b); (w = strstr(p, "=?UTF-8?Q?")) != NULL;) {
		const char *end = strstr(w + 10, "?=");

		assert_non_null(end);
		assert_true(end + 2 - w <= 75);
		/* each word holds whole characters: ä is =C3=A4, € =E2=82=AC */
		assert_true(strncmp(w + 10, "=C3", 3) == 0 ||
		            strncmp(w + 10, "=E2", 3) == 0);
		p = end + 2;
	}
	cs_buf_free(&b);
}

static smtp_msg_spec base_spec(void)
{
	smtp_msg_spec m;

	memset(&m, 0, sizeof m);
	m.from_name = "Jürgen Müller";
	m.from_addr = "sales@Example.COM";
	m.to_name = "Ann Lee";
	m.to_addr = "ann@example.org";
	m.subject = "Grüße";
	m.text = "Hello Ann,\nsecond line\n";
	m.date_ms = 1767603600000LL; /* 2026-01-05T09:00:00Z */
	m.tz_offset_min = 60;
	return m;
}

static void build_headers(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT;
	char *mid = NULL;
	const char *s;

	(void)state;
	m.in_reply_to = "<first@example.com>";
	m.references = "<first@example.com>";
	m.list_unsubscribe_mailto =
	    "mailto:sales@example.com?subject=unsubscribe%20abc";
	m.list_unsubscribe_url = "https://u.example.com/x/abc";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	s = cs_buf_str(&b);
	/* Message-ID made here, on the sender's domain, lower-cased */
	assert_non_null(mid);
	assert_int_equal(mid[0], '<');
	assert_non_null(strstr(mid, "@example.com>"));
	assert_non_null(strstr(s, "Message-ID: "));
	assert_non_null(strstr(s, mid));
	assert_non_null(strstr(s, "Date: Mon, 5 Jan 2026 10:00:00 +0100\r\n"));
	assert_non_null(strstr(
	    s,
	    "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <sales@Example.COM>"));
	assert_non_null(strstr(s, "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"));
	assert_non_null(strstr(s, "In-Reply-To: <first@example.com>\r\n"));
	assert_non_null(strstr(s, "References: <first@example.com>\r\n"));
	assert_non_null(strstr(s, "List-Unsubscribe: "
	                          "<https://u.example.com/x/abc>,"));
	assert_non_null(strstr(s, "List-Unsubscribe-Post: "
	                          "List-Unsubscribe=One-Click\r\n"));
	assert_non_null(strstr(s, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(s, "charset=\"utf-8\""));
	assert_non_null(strstr(s, "\r\n\r\nHello Ann,\r\nsecond line\r\n"));
	/* no bare LF anywhere */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			assert_int_equal(b.data[i - 1], '\r');
	free(mid);
	cs_buf_free(&b);
}

static void build_non_ascii_body_is_qp(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT;
	char *mid = NULL;

	(void)state;
	m.text = "Grüße, Jürgen\n";
	m.html = "<p>Grüße</p>";
	m.message_id = "<fixed@example.com>";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	assert_string_equal(mid, "<fixed@example.com>");
	assert_non_null(strstr(cs_buf_str(&b), "multipart/alternative"));
	assert_non_null(strstr(cs_buf_str(&b),
	                       "Content-Transfer-Encoding: quoted-printable"));
	assert_non_null(strstr(cs_buf_str(&b), "Gr=C3=BC=C3=9Fe, J=C3=BCrgen"));
	assert_non_null(strstr(cs_buf_str(&b), "text/html"));
	free(mid);
	cs_buf_free(&b);
}

static void header_injection_refused(void **state)
{
	static const char *const bad[] = {"Hi\r\nBcc: victim@example.org",
	                                  "Hi\nX-Evil: 1", "Hi\rthere"};
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	char *mid = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		smtp_msg_spec m = base_spec();

		m.subject = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "Subject"));
		assert_int_equal(b.len, 0);
		assert_null(mid);
		m = base_spec();
		m.from_name = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "display name"));
		m = base_spec();
		m.to_name = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
	}
	{
		smtp_msg_spec m = base_spec();
		smtp_header h = {"X-Custom", "a\r\nb"};

		m.extra = &h;
		m.nextra = 1;
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "X-Custom"));
		m.to_addr = "ann@example.org>\r\nBcc: x@y";
		m.nextra = 0;
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		m = base_spec();
		m.references = "not-an-id";
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
	}
	assert_int_equal(b.len, 0);
	cs_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(policy_table),
	    cmocka_unit_test(enhanced_status_parse),
	    cmocka_unit_test(encoded_words),
	    cmocka_unit_test(build_headers),
	    cmocka_unit_test(build_non_ascii_body_is_qp),
	    cmocka_unit_test(header_injection_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
