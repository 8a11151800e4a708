/*
 * test_classify_general.c - the classifier on wordings and formats no
 * corpus file of ours shows (issue #20): each case is one CLASS of
 * failure (a wording family, an SMTP phase, a recipient structure, a
 * notice without a DSN), written from the RFCs and the MTAs' documented
 * texts, so that a rule that only fits the public corpus fails here.
 */
#include "unit.h"

#include "classify/cls.h"
#include "classify/cls_int.h"

typedef struct gcase {
	const char *name;
	const char *msg;
	cls_kind kind;
	/* recipients in order, "|"-separated; NULL: not checked */
	const char *rcpts;
	int hard;           /* first recipient; -1: not checked */
	const char *reason; /* first recipient; NULL: not checked */
} gcase;

#define HDR_DAEMON                                                             \
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"          \
	"To: sender@example.com\n"                                             \
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\n"

/* One recipient's DSN fields with the given notification text. */
#define DSN(text, fields)                                                      \
	HDR_DAEMON                                                             \
	"Subject: Undelivered Mail Returned to Sender\n"                       \
	"MIME-Version: 1.0\n"                                                  \
	"Content-Type: multipart/report; report-type=delivery-status;\n"       \
	"  boundary=\"BB\"\n\n"                                                \
	"--BB\nContent-Type: text/plain\n\n" text "\n\n"                       \
	"--BB\nContent-Type: message/delivery-status\n\n"                      \
	"Reporting-MTA: dns; mx.example.net\n\n" fields "\n"                   \
	"--BB\nContent-Type: text/rfc822-headers\n\n"                          \
	"From: sender@example.com\nTo: bob@example.org\n"                      \
	"Message-ID: <orig-1@example.com>\nSubject: hello\n\n"                 \
	"--BB--\n"

#define FAILED(rcpt, status, diag)                                             \
	"Final-Recipient: rfc822; " rcpt "\nAction: failed\nStatus: " status   \
	"\nDiagnostic-Code: smtp; " diag "\n"

/* A free-text report from a mail system, our message returned. */
#define NDR(subject, text)                                                     \
	HDR_DAEMON "Subject: " subject "\n"                                    \
	           "Content-Type: text/plain; charset=utf-8\n\n" text          \
	           "\n\n--- Below this line is a copy of the message.\n\n"     \
	           "From: sender@example.com\nTo: bob@example.org\n"           \
	           "Message-ID: <orig-2@example.com>\n\nhi\n"

static const gcase cases[] = {
    /* ---- user-unknown wording families -------------------------------- */
    {"user-unknown words combined differently (noun + absent word)",
     DSN("<bob@example.org>: host mx.example.org said: 550 the "
         "recipient's mailbox is not known here (in reply to RCPT TO "
         "command)",
         FAILED("bob@example.org", "5.0.0",
                "550 the recipient's mailbox is not known here")),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"French user unknown in a mail system's notice",
     NDR("Non remis: hello",
         "Votre message n'a pas pu être remis.\n\n<bob@example.org>:\n"
         "Destinataire inconnu"),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"Chinese user unknown",
     NDR("系统退信", "您发送的邮件无法投递。\n\nbob@example.org\n收件人不存在"),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"Russian user unknown",
     NDR("Ошибка доставки",
         "Ваше письмо не может быть доставлено.\n\nbob@example.org\n"
         "Пользователь не найден"),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"Japanese user unknown",
     NDR("配信エラー", "メールを配信できませんでした。\n\nbob@example.org\n"
                       "宛先が見つかりません"),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"\"doesn't have an account\" wording",
     DSN("<bob@example.org>: host mx.example.org said: 554 delivery "
         "error: dd This user does not have an account here (in reply to "
         "RCPT TO command)",
         FAILED("bob@example.org", "5.0.0",
                "554 delivery error: dd This user does not have an "
                "account here")),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"an X.400 gateway's \"invalid final delivery userid\"",
     DSN("<bob@example.org>: host gw.example.org said: 550 Invalid final "
         "delivery userid (in reply to RCPT TO command)",
         FAILED("bob@example.org", "5.0.0",
                "550 Invalid final delivery userid")),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"a BAD_RECIPIENT-like token",
     DSN("<bob@example.org>: host mx.example.org said: 550 Error: "
         "BAD_RECIPIENT (in reply to RCPT TO command)",
         FAILED("bob@example.org", "5.0.0", "550 Error: BAD_RECIPIENT")),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    /* ---- the SMTP phase and the status -------------------------------- */
    {"user unknown at RCPT TO under 5.7.1 is hard",
     DSN("<bob@example.org>: host mx.example.org said: 550 5.7.1 "
         "<bob@example.org>: Recipient address rejected: User unknown "
         "(in reply to RCPT TO command)",
         FAILED("bob@example.org", "5.7.1",
                "550 5.7.1 <bob@example.org>: Recipient address rejected: "
                "User unknown")),
     CLS_BOUNCE, "bob@example.org", 1, "userunknown"},
    {"user unknown after end of data is a filter's verdict, soft",
     DSN("<bob@example.org>: host mx.example.org said: 550 5.7.1 "
         "Recipient unknown (in reply to end of DATA command)",
         FAILED("bob@example.org", "5.7.1", "550 5.7.1 Recipient unknown")),
     CLS_BOUNCE, "bob@example.org", 0, "filtered"},
    {"refused at the greeting is blocked, whatever the words",
     DSN("<bob@example.org>: host mx.example.org refused to talk to me: "
         "554 No such user here (in reply to initial greeting)",
         FAILED("bob@example.org", "5.0.0", "554 No such user here")),
     CLS_BOUNCE, "bob@example.org", 0, "blocked"},
    /* ---- host or domain not found ------------------------------------- */
    {"a bare domain that does not exist is hostunknown",
     DSN("", FAILED("bob@example.org", "5.0.0",
                    "553 mx.example.org does not exist")),
     CLS_BOUNCE, "bob@example.org", 1, "hostunknown"},
    {"a domain that could not be found, other words",
     DSN("", FAILED("bob@example.org", "5.4.4",
                    "550 5.4.4 the recipient's domain was not found")),
     CLS_BOUNCE, "bob@example.org", 1, "hostunknown"},
    {"DNS try again is not a dead domain",
     DSN("", "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
             "Status: 4.4.3\nDiagnostic-Code: X-Postfix; Host or domain "
             "name not found. Name service error for name=example.org "
             "type=MX: Host not found, try again\n"),
     CLS_BOUNCE, "bob@example.org", 0, NULL},
    /* ---- suspended or disabled ---------------------------------------- */
    {"a locked mailbox is suspended, soft, even with 5.1.1",
     DSN("", FAILED("bob@example.org", "5.1.1",
                    "550 5.1.1 <bob@example.org>: mailbox has been locked "
                    "by the administrator")),
     CLS_BOUNCE, "bob@example.org", 0, "suspend"},
    {"a disabled account beside user-unknown words is suspended",
     DSN("", FAILED("bob@example.org", "5.0.0",
                    "550 User unknown: the account bob is disabled")),
     CLS_BOUNCE, "bob@example.org", 0, "suspend"},
    /* ---- recipients by structure -------------------------------------- */
    {"Original-Recipient before a different Final-Recipient",
     DSN("", "Original-Recipient: rfc822; bob@example.org\n"
             "Final-Recipient: rfc822; bob.smith@mail.example.org\n"
             "Action: failed\nStatus: 5.1.1\n"
             "Diagnostic-Code: smtp; 550 5.1.1 User unknown\n"),
     CLS_BOUNCE, "bob@example.org|bob.smith@mail.example.org", 1,
     "userunknown"},
    {"an X.400 smtp= prefix is stripped",
     NDR("Undeliverable: hello",
         "Your message did not reach some or all of the intended "
         "recipients.\n\n  smtp=bob@example.org\n  User unknown"),
     CLS_BOUNCE, "bob@example.org", -1, NULL},
    {"a list's own addresses and quoted list headers are no recipients",
     NDR("Delivery failure",
         "Delivery to the following recipient failed permanently:\n\n"
         "    bob@example.org\n\nList-Post: <mailto:cats@lists.example.org>\n"
         "Sent through cats-bounces@lists.example.org and "
         "owner-cats@lists.example.org"),
     CLS_BOUNCE, "bob@example.org", -1, NULL},
    {"a help address given in two languages is no recipient",
     NDR("Undelivered Mail",
         "Delivery to bob@example.org failed: no such user.\n"
         "For help, please contact <help@provider.example>\n"
         "お問い合わせ: <help@provider.example>"),
     CLS_BOUNCE, "bob@example.org", -1, NULL},
    /* ---- notices without a DSN ---------------------------------------- */
    {"a provider's localised notice marked Auto-Submitted is a bounce",
     "From: Notifications <noreply@provider.example>\n"
     "To: sender@example.com\nAuto-Submitted: auto-generated\n"
     "Subject: Уведомление\nContent-Type: text/plain; charset=utf-8\n\n"
     "Ваше письмо для bob@example.org не может быть доставлено: ящик "
     "переполнен.\n\n--- Below this line is a copy of the message.\n\n"
     "From: sender@example.com\nTo: bob@example.org\n"
     "Message-ID: <orig-3@example.com>\n\nhi\n",
     CLS_BOUNCE, "bob@example.org", 0, "mailboxfull"},
    {"a virus gateway's notice is a bounce, soft",
     "From: InterScan MSS <antivirus@gw.example.org>\n"
     "To: sender@example.com\nSubject: Virus found in your message\n"
     "Content-Type: text/plain\n\n"
     "The message to bob@example.org contained a virus and was "
     "quarantined.\n\n--- Below this line is a copy of the message.\n\n"
     "From: sender@example.com\nTo: bob@example.org\n"
     "Message-ID: <orig-4@example.com>\n\nhi\n",
     CLS_BOUNCE, "bob@example.org", 0, "virusdetected"},
    {"a challenge/response request is no delay",
     "From: bob@example.org\nTo: sender@example.com\n"
     "Subject: Your message is delayed pending verification\n"
     "\nHello, I am protecting myself from spam. Your message has not "
     "yet been delivered: it will be once you confirm that you are a "
     "real person (click the link below).\n",
     CLS_AUTO_REPLY, NULL, -1, NULL},
    {"a quota rejection sent as a read receipt is a bounce",
     "From: bob@example.org\nTo: sender@example.com\n"
     "Subject: Not read: hello\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; "
     "report-type=disposition-notification; boundary=\"MM\"\n\n"
     "--MM\nContent-Type: text/plain\n\nYour message was deleted "
     "without being read: the mailbox is full.\n\n"
     "--MM\nContent-Type: message/disposition-notification\n\n"
     "Final-Recipient: rfc822; bob@example.org\n"
     "Disposition: automatic-action/MDN-sent-automatically; "
     "deleted/error\nError: mailbox quota exceeded\n\n--MM--\n",
     CLS_BOUNCE, "bob@example.org", 0, "mailboxfull"},
    {"an ordinary read receipt stays other",
     "From: bob@example.org\nTo: sender@example.com\n"
     "Subject: Read: hello\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; "
     "report-type=disposition-notification; boundary=\"MM\"\n\n"
     "--MM\nContent-Type: text/plain\n\nYour message was read.\n\n"
     "--MM\nContent-Type: message/disposition-notification\n\n"
     "Final-Recipient: rfc822; bob@example.org\n"
     "Disposition: manual-action/MDN-sent-manually; displayed\n\n--MM--\n",
     CLS_OTHER, NULL, -1, NULL},
};

/* Every case is checked and every disagreement printed; the test fails
 * at the end when there was one. */
#define WRONG(...)                                                             \
	do {                                                                   \
		print_message(__VA_ARGS__);                                    \
		ok = false;                                                    \
	} while (0)

static bool check(const gcase *t)
{
	cls_class c;
	cs_err err = CS_ERR_INIT;
	bool ok = true;

	assert_int_equal(cls_classify(t->msg, strlen(t->msg), &c, &err), 0);
	if (c.kind != t->kind)
		WRONG("%s: kind %s, want %s\n", t->name, cls_kind_name(c.kind),
		      cls_kind_name(t->kind));
	if (t->rcpts && c.kind == t->kind) {
		cs_buf got = CS_BUF_INIT;
		size_t i;

		for (i = 0; i < c.nrcpts; i++) {
			if (i)
				cs_buf_putc(&got, '|');
			cs_buf_puts(&got, c.rcpts[i].addr);
		}
		if (strcmp(cs_buf_str(&got), t->rcpts) != 0)
			WRONG("%s: recipients '%s', want '%s'\n", t->name,
			      cs_buf_str(&got), t->rcpts);
		cs_buf_free(&got);
		if (c.nrcpts && t->hard >= 0 &&
		    c.rcpts[0].hard != (t->hard == 1))
			WRONG("%s: hard %d (%s %s), want %d\n", t->name,
			      c.rcpts[0].hard, c.rcpts[0].reason,
			      c.rcpts[0].status, t->hard);
		if (c.nrcpts && t->reason &&
		    strcmp(c.rcpts[0].reason, t->reason) != 0)
			WRONG("%s: reason %s (%s), want %s\n", t->name,
			      c.rcpts[0].reason, c.rcpts[0].status, t->reason);
	}
	cls_class_free(&c);
	return ok;
}

static void classes(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		bad += !check(&cases[i]);
	if (bad)
		fail_msg("%zu of %zu cases wrong", bad,
		         sizeof cases / sizeof cases[0]);
}

/* The group numbers families.c returns name the groups they mean. */
static void family_groups_match_the_table(void **state)
{
	(void)state;
	assert_string_equal(cls_reason_patterns[CLS_G_DEFINITE].name,
	                    "userunknown");
	assert_string_equal(cls_reason_patterns[CLS_G_NET_TEMP].name,
	                    "networkerror");
	assert_string_equal(cls_reason_patterns[CLS_G_MAILBOXFULL].name,
	                    "mailboxfull");
	assert_string_equal(cls_reason_patterns[CLS_G_SUSPEND].name, "suspend");
	assert_string_equal(cls_reason_patterns[CLS_G_HOSTUNKNOWN].name,
	                    "hostunknown");
	assert_string_equal(cls_reason_patterns[CLS_G_USERUNKNOWN].name,
	                    "userunknown");
	assert_string_equal(cls_reason_patterns[CLS_G_PHASE + 4].name,
	                    "phase:conn");
	assert_string_equal(cls_reason_patterns[CLS_G_PHASE + 5].name,
	                    "phase:rcpt-said");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(classes),
	    cmocka_unit_test(family_groups_match_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
