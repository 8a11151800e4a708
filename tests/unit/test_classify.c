/*
 * test_classify.c - the message classifier (classify/cls.h), table-driven:
 * RFC 3464 DSNs, free-text NDRs, ARF complaints, auto-replies in seven
 * languages with their return dates, unsubscribe tokens and wording,
 * replies, and the precedence between them.
 */
#include "unit.h"

#include "classify/cls.h"

typedef struct tcase {
	const char *name;
	const char *msg;
	cls_kind kind;
	const char *rcpt;   /* first recipient, or NULL for none */
	const char *status; /* NULL: not checked */
	int hard;           /* -1: not checked */
	const char *reason; /* NULL: not checked */
	const char *ret;    /* return_date, "" for none */
	const char *token;  /* NULL for none */
} tcase;

#define HDR_DAEMON                                                             \
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"          \
	"To: sender@example.com\n"                                             \
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\n"

#define DSN(action, status, diag)                                              \
	HDR_DAEMON                                                             \
	"Subject: Undelivered Mail Returned to Sender\n"                       \
	"Auto-Submitted: auto-replied\n"                                       \
	"MIME-Version: 1.0\n"                                                  \
	"Content-Type: multipart/report; report-type=delivery-status;\n"       \
	"  boundary=\"BB\"\n\n"                                                \
	"--BB\nContent-Type: text/plain\n\nThis is the mail system.\n\n"       \
	"--BB\nContent-Type: message/delivery-status\n\n"                      \
	"Reporting-MTA: dns; mx.example.net\n\n"                               \
	"Final-Recipient: rfc822; bob@example.org\n"                           \
	"Action: " action "\nStatus: " status "\n"                             \
	"Diagnostic-Code: smtp; " diag "\n\n"                                  \
	"--BB\nContent-Type: text/rfc822-headers\n\n"                          \
	"From: sender@example.com\nTo: bob@example.org\n"                      \
	"Message-ID: <orig-1@example.com>\nSubject: hello\n\n"                 \
	"--BB--\n"

/* A DSN with the given notification text and per-recipient fields. */
#define DSN_TEXT(text, fields)                                                 \
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

/* A free-text report (no MIME) with the given subject and text. */
#define NDR(subject, text)                                                     \
	HDR_DAEMON "Subject: " subject "\n\n" text                             \
	           "\n\n--- Below this line is a copy of the message.\n\n"     \
	           "From: sender@example.com\nTo: bob@example.org\n"           \
	           "Message-ID: <orig-2@example.com>\n\nhi\n"

#define OOO(headers, subject, body)                                            \
	"From: Ana <ana@example.org>\nTo: sender@example.com\n"                \
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\n" headers "Subject: " subject  \
	"\nContent-Type: text/plain; charset=utf-8\n\n" body "\n"

static const tcase cases[] = {
    /* ---- RFC 3464 ---------------------------------------------------- */
    {"dsn user unknown is hard",
     DSN("failed", "5.1.1",
         "550 5.1.1 <bob@example.org>: Recipient address rejected: User "
         "unknown in local recipient table"),
     CLS_BOUNCE, "bob@example.org", "5.1.1", 1, "userunknown", "", NULL},
    {"dsn host unknown is hard",
     DSN("failed", "5.1.2", "Host or domain name not found"), CLS_BOUNCE,
     "bob@example.org", "5.1.2", 1, "hostunknown", "", NULL},
    {"dsn 5.7.1 spam block is soft",
     DSN("failed", "5.7.1",
         "550 5.7.1 Message rejected as spam by Content Filtering"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 0, "spamdetected", "", NULL},
    {"dsn 5.1.1 status but relaying denied is soft, the reply's 5.7.1 kept",
     DSN("failed", "5.1.1", "554 5.7.1 <bob@example.org>: Relay access denied"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 0, "norelaying", "", NULL},
    {"dsn mailbox full is soft",
     DSN("failed", "5.2.2", "552 5.2.2 Mailbox full"), CLS_BOUNCE,
     "bob@example.org", "5.2.2", 0, "mailboxfull", "", NULL},
    {"dsn ip blocklisted is soft",
     DSN("failed", "5.7.1",
         "554 5.7.1 Service unavailable; Client host blocked using "
         "zen.spamhaus.org"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 0, "blocked", "", NULL},
    {"dsn 4.x.x failure is never hard",
     DSN("failed", "4.4.1", "connect to mx.example.org: Connection timed out"),
     CLS_BOUNCE, "bob@example.org", "4.4.1", 0, NULL, "", NULL},
    {"dsn delayed is a delay, soft",
     DSN("delayed", "4.2.1", "450 4.2.1 try again later"), CLS_DELAY,
     "bob@example.org", "4.2.1", 0, NULL, "", NULL},
    {"dsn delivered is other", DSN("delivered", "2.0.0", "250 ok"), CLS_OTHER,
     NULL, NULL, -1, NULL, "", NULL},
    /* ---- reason rules: status, SMTP phase, wording classes ------------ */
    {"X.1.8 bad sender system is rejected, soft",
     DSN("failed", "5.1.8",
         "553 5.1.8 <me@example.com>... Domain of sender address "
         "me@example.com does not exist"),
     CLS_BOUNCE, "bob@example.org", "5.1.8", 0, "rejected", "", NULL},
    {"X.1.7 bad sender mailbox is rejected, soft",
     DSN("failed", "5.1.7", "550 5.1.7 sender mailbox does not exist"),
     CLS_BOUNCE, "bob@example.org", "5.1.7", 0, "rejected", "", NULL},
    {"refusal at MAIL FROM is rejected, soft",
     DSN("failed", "5.1.0",
         "SMTP error from remote mail server after MAIL FROM:<me@example.com>"
         ": 553 5.1.0 unknown user"),
     CLS_BOUNCE, "bob@example.org", "5.1.0", 0, "rejected", "", NULL},
    {"unknown user at RCPT TO stays hard",
     DSN("failed", "5.0.0",
         "host mx.example.org said: 550 unknown user (in reply to RCPT TO "
         "command)"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 1, "userunknown", "", NULL},
    {"unknown user after end of data is filtered, soft",
     DSN("failed", "5.0.0",
         "SMTP error from remote mail server after end of data: 550 unknown "
         "user"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 0, "filtered", "", NULL},
    {"X.2.2 is a full mailbox whatever the words say",
     DSN("failed", "5.2.2", "550 5.2.2 <bob@example.org>... User unknown"),
     CLS_BOUNCE, "bob@example.org", "5.2.2", 0, "mailboxfull", "", NULL},
    {"refused for recipient preferences is filtered, soft",
     DSN("failed", "5.1.1",
         "550 5.1.1 RCP-P2 Refused due to recipient preferences"),
     CLS_BOUNCE, "bob@example.org", "5.1.1", 0, "filtered", "", NULL},
    {"user not listed in the directory is unknown, hard",
     DSN("failed", "5.0.0",
         "User bob (bob@example.org) not listed in Domino Directory"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 1, "userunknown", "", NULL},
    {"host not found, try again is a network error, soft",
     DSN("failed", "5.0.0",
         "Name service error for domain example.org: Host not found, try "
         "again"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 0, "networkerror", "", NULL},
    /* ---- "unknown user" needs evidence the address was refused ------ */
    {"relayed unknown user without status or phase is filtered, soft",
     DSN("failed", "5.0.0", "550 <bob@example.org>: User unknown"), CLS_BOUNCE,
     "bob@example.org", "5.0.0", 0, "filtered", "", NULL},
    {"the reply's own 5.1.1 beats a generic Status 5.0.0",
     DSN("failed", "5.0.0", "550 5.1.1 <bob@example.org>: User unknown"),
     CLS_BOUNCE, "bob@example.org", "5.1.1", 1, "userunknown", "", NULL},
    /* issue #20: the answer to RCPT TO is about the address, whatever
     * X.7 status the server gives with it */
    {"unknown user at RCPT TO with the server's own 5.7.1 is hard",
     DSN("failed", "5.0.0",
         "550 5.7.1 User Unknown: bob@example.org (in reply to RCPT TO "
         "command)"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 1, "userunknown", "", NULL},
    {"unknown user with the server's own 5.7.1, no transcript, is soft",
     DSN("failed", "5.0.0", "550 5.7.1 User Unknown: bob@example.org"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 0, "filtered", "", NULL},
    {"a relaying system's summary status loses to the remote's",
     DSN("failed", "5.0.0",
         "5.1.0 - Unknown address error 550-'5.7.1 <bob@example.org>... "
         "Access denied' (delivery attempts: 0)"),
     CLS_BOUNCE, "bob@example.org", "5.7.1", 0, NULL, "", NULL},
    {"pipelined DATA refused for want of recipients: RCPT, hard",
     DSN_TEXT("   ----- Transcript of session follows -----\n"
              "... while talking to mx.example.org.:\n>>> DATA\n"
              "<<< 550 <bob@example.org>... User unknown\n"
              "<<< 503 5.0.0 Need RCPT (recipient)",
              "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
              "Status: 5.0.0\nDiagnostic-Code: smtp; 550 "
              "<bob@example.org>... User unknown\n"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 1, "userunknown", "", NULL},
    {"the report's own summary beside a relayed reply stands: hard",
     DSN_TEXT("    --- The following addresses had delivery problems ---\n\n"
              "<bob@example.org>   (Unknown user bob@example.org)",
              "Original-Recipient: <bob@example.org>\nAction: failed\n"
              "Diagnostic-Code: smtp; 550 Unknown user bob@example.org\n"),
     CLS_BOUNCE, "bob@example.org", "5.0.0", 1, "userunknown", "", NULL},
    {"the report's own statement, no relayed reply, stands: hard",
     NDR("Undeliverable Mail", "Unknown user: bob@example.org"), CLS_BOUNCE,
     "bob@example.org", "5.0.0", 1, "userunknown", "", NULL},
    {"a local delivery agent's words decide: mail.local unknown user",
     NDR("Returned mail: Service unavailable",
         "   ----- The following addresses had permanent fatal errors "
         "-----\n<bob@example.org>\n\n   ----- Transcript of session "
         "follows -----\nmail.local: unknown user: bob\n554 "
         "<bob@example.org>... Service unavailable"),
     CLS_BOUNCE, "bob@example.org", NULL, 1, "userunknown", "", NULL},
    {"a local delivery agent's words decide: Dovecot quota",
     DSN_TEXT("Your message to <bob> was automatically rejected:\n"
              "Quota exceeded (mailbox for user is full)",
              "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
              "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 "
              "<bob@example.org>... User Unknown\n"),
     CLS_BOUNCE, "bob@example.org", "5.1.1", 0, "mailboxfull", "", NULL},
    {"PowerMTA's bounce category names the reason",
     DSN_TEXT("Delivery report",
              "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
              "Status: 5.2.1\nDiagnostic-Code: smtp; 550 5.2.1 "
              "<bob@example.org>... User Unknown\n"
              "X-PowerMTA-BounceCategory: bad-mailbox\n"),
     CLS_BOUNCE, "bob@example.org", "5.2.1", 1, "userunknown", "", NULL},
    {"Action: expired is a failure, expired, soft",
     DSN_TEXT("Could not deliver.",
              "Final-Recipient: rfc822; bob@example.org\nAction: expired\n"
              "Status: \nDiagnostic-Code: Connection timed out\n"),
     CLS_BOUNCE, "bob@example.org", NULL, 0, "expired", "", NULL},
    {"no Diagnostic-Code: the text's line about the recipient",
     DSN_TEXT("    An error has occurred:\n\n"
              "bob@example.org: 552 5.2.2 <bob@example.org>: Recipient "
              "address rejected: Mailbox full",
              "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
              "Status: 5.0.0\n"),
     CLS_BOUNCE, "bob@example.org", "5.2.2", 0, "mailboxfull", "", NULL},
    {"RFC 3464 fields pasted into a plain text notice",
     HDR_DAEMON "Subject: Delivery Status Notification (Failure)\n\n"
                "An error occurred while trying to deliver the mail to "
                "the following recipients:\nbob@example.org\n\n"
                "Technical report:\n\nReporting-MTA: dns; mx.example.net\n"
                "\nAction: failed\nFinal-Recipient: rfc822; "
                "bob@example.org\nDiagnostic-Code: smtp; 550 5.1.1 "
                "<bob@example.org>... User Unknown\nStatus: 5.1.1\n",
     CLS_BOUNCE, "bob@example.org", "5.1.1", 1, "userunknown", "", NULL},
    {"a boundary lost to broken folding is found in the body",
     "From: postmaster@example.net\nTo: sender@example.com\n"
     "Subject: Undeliverable\nMIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=\"OUT\"\n\n"
     "--OUT\nContent-Type: multipart/alternative;\nboundary=\"IN\"\n\n"
     "--IN\nContent-Type: text/plain\n\nError: Invalid user address\n"
     "550 - Requested action not taken: no such user here\n"
     "  RCPT TO: bob@example.org\n\n--IN--\n\n--OUT--\n",
     CLS_BOUNCE, "bob@example.org", NULL, 1, "userunknown", "", NULL},
    {"ISO-2022-JP text is read as UTF-8 (Notes directory wording)",
     "From: postmaster@example.net\nTo: sender@example.com\n"
     "Subject: Undeliverable message\nMIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=ISO-2022-JP\n\n"
     "------- Failure Reasons  --------\n\n"
     "\x1b$B%G%#%l%/%H%j$N%j%9%H$K$\"$j$^$;$s\x1b(B\n"
     "bob@example.org\n\n------- Returned Message --------\n"
     "Received: from mx.example.com\n    by mx.example.net\n"
     "From: sender@example.com\nTo: bob@example.org\n\nhi\n",
     CLS_BOUNCE, "bob@example.org", NULL, 1, "userunknown", "", NULL},
    {"Amazon SES bounce notification in its SNS envelope",
     "From: no-reply@sns.amazonaws.com\nTo: sender@example.com\n"
     "Subject: AWS Notification Message\n\n"
     "{\"Type\" : \"Notification\", \"Message\" : "
     "\"{\\\"notificationType\\\":\\\"Bounce\\\",\\\"bounce\\\":{"
     "\\\"bounceType\\\":\\\"Permanent\\\",\\\"bounceSubType\\\":"
     "\\\"General\\\",\\\"bouncedRecipients\\\":[{\\\"emailAddress"
     "\\\":\\\"bob@example.org\\\",\\\"action\\\":\\\"failed\\\","
     "\\\"status\\\":\\\"5.1.1\\\",\\\"diagnosticCode\\\":"
     "\\\"smtp; 550 5.1.1 user unknown\\\"}]},\\\"mail\\\":{"
     "\\\"commonHeaders\\\":{\\\"messageId\\\":"
     "\\\"<orig-9@example.com>\\\"}}}\"}\n",
     CLS_BOUNCE, "bob@example.org", "5.1.1", 1, "userunknown", "", NULL},
    /* ---- free-text NDRs ---------------------------------------------- */
    {"qmail text with (#5.1.1)",
     "From: MAILER-DAEMON@mx.example.net\nTo: sender@example.com\n"
     "Subject: failure notice\n\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "I'm afraid I wasn't able to deliver your message to the following "
     "addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
     "work out.\n\n<carol@example.org>:\nSorry, no mailbox here by that "
     "name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n"
     "From: sender@example.com\nTo: carol@example.org\n"
     "Message-ID: <orig-2@example.com>\n\nhi\n",
     CLS_BOUNCE, "carol@example.org", "5.1.1", 1, "userunknown", "", NULL},
    {"exim X-Failed-Recipients, mailbox full",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: sender@example.com\nX-Failed-Recipients: dave@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n\n"
     "This message was created automatically by mail delivery software.\n\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) "
     "failed:\n\n  dave@example.org\n    SMTP error from remote mail server "
     "after RCPT TO:<dave@example.org>:\n    552 5.2.2 Mailbox quota "
     "exceeded\n",
     CLS_BOUNCE, "dave@example.org", "5.2.2", 0, "mailboxfull", "", NULL},
    {"postfix warning text is a delay",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: sender@example.com\nSubject: Delayed Mail (still being retried)\n\n"
     "This is the mail system at host mx.example.net.\n\n"
     "####################################################################\n"
     "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
     "####################################################################\n"
     "\n<erin@example.org>: connect to mx.example.org: Connection refused\n",
     CLS_DELAY, "erin@example.org", NULL, 0, NULL, "", NULL},
    /* ---- ARF ---------------------------------------------------------- */
    {"arf complaint with the complaining recipient",
     "From: fbl@isp.example\nTo: abuse@example.com\nSubject: complaint\n"
     "MIME-Version: 1.0\nContent-Type: multipart/report; "
     "report-type=feedback-report; boundary=\"F\"\n\n"
     "--F\nContent-Type: text/plain\n\nThis is an abuse report.\n\n"
     "--F\nContent-Type: message/feedback-report\n\n"
     "Feedback-Type: abuse\nUser-Agent: fbl/1.0\nVersion: 1\n"
     "Original-Rcpt-To: frank@isp.example\n\n"
     "--F\nContent-Type: text/rfc822-headers\n\n"
     "From: sender@example.com\nTo: frank@isp.example\n"
     "Message-ID: <orig-3@example.com>\n\n--F--\n",
     CLS_COMPLAINT, "frank@isp.example", NULL, -1, "feedback", "", NULL},
    /* ---- auto-replies, seven languages -------------------------------- */
    {"en ooo, no headers, back on 14 December 2026",
     OOO("", "Out of Office",
         "I am out of the office and will be back on 14 December 2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"en plain text with return date, no auto headers",
     OOO("", "Re: our call",
         "Thank you for your email. I am currently out of office with "
         "limited access to email, back on Monday, December 14, 2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"de Abwesenheitsnotiz bis 14.12.2026",
     OOO("Auto-Submitted: auto-replied\n", "Abwesenheitsnotiz",
         "Vielen Dank. Ich bin bis zum 14.12.2026 nicht im Büro."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"fr de retour le 14 décembre",
     OOO("X-Autoreply: yes\n", "Réponse automatique",
         "Je suis absente, de retour le 14 décembre 2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"es hasta el 14 de diciembre de 2026",
     OOO("Precedence: auto_reply\n", "Respuesta automática: hola",
         "Estoy fuera de la oficina hasta el 14 de diciembre de 2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"nl terug op 14 december",
     OOO("Auto-Submitted: auto-replied\n", "Automatisch antwoord: hallo",
         "Ik ben afwezig en terug op 14 december 2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"pt até 14/12/2026",
     OOO("X-Autorespond: yes\n", "Resposta automática",
         "Estou de férias até 14/12/2026."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"it fino al 14 dicembre, year from Date",
     OOO("Precedence: bulk\n", "ciao",
         "Sono fuori ufficio fino al 14 dicembre."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2026-12-14", NULL},
    {"a date before the message date falls in the next year",
     OOO("Auto-Submitted: auto-replied\n", "Automatic reply: hi",
         "I am on vacation until January 5."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "2027-01-05", NULL},
    {"auto-reply without a date",
     OOO("Auto-Submitted: auto-replied\n", "Automatic reply: hi",
         "I am on leave."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "", NULL},
    /* ---- unsubscribe -------------------------------------------------- */
    {"list-unsubscribe token",
     "From: bob@example.org\nTo: inbox@example.com\n"
     "Subject: unsubscribe AbCdEf0123456789_-xyz\n\n",
     CLS_UNSUBSCRIBE, NULL, NULL, -1, NULL, "", "AbCdEf0123456789_-xyz"},
    {"token too short is wording only",
     "From: bob@example.org\nTo: inbox@example.com\n"
     "Subject: unsubscribe abc\n\n",
     CLS_UNSUBSCRIBE, NULL, NULL, -1, NULL, "", NULL},
    {"human asks to be removed",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: Re: intro\n"
     "In-Reply-To: <m1@example.com>\n\nPlease take me off your list.\n",
     CLS_UNSUBSCRIBE, NULL, NULL, -1, NULL, "", NULL},
    {"german removal wording",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: AW: Termin\n\n"
     "Bitte keine weiteren E-Mails.\n",
     CLS_UNSUBSCRIBE, NULL, NULL, -1, NULL, "", NULL},
    {"unsubscribe only in the quoted footer is a reply",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: Re: intro\n"
     "In-Reply-To: <m1@example.com>\n\nSounds good, let's talk Tuesday.\n\n"
     "On Mon, 30 Nov 2026, Sender <sender@example.com> wrote:\n"
     "> Hi Bob\n> Reply unsubscribe to stop these emails.\n",
     CLS_REPLY, NULL, NULL, -1, NULL, "", NULL},
    /* ---- replies and other -------------------------------------------- */
    {"in-reply-to makes a reply",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: hello\n"
     "In-Reply-To: <m1@example.com>\n\nYes, interested.\n",
     CLS_REPLY, NULL, NULL, -1, NULL, "", NULL},
    {"RE : subject makes a reply",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: RE : offre\n\n"
     "Oui.\n",
     CLS_REPLY, NULL, NULL, -1, NULL, "", NULL},
    {"a person mentioning last week's absence is still a reply",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: Re: intro\n"
     "In-Reply-To: <m1@example.com>\n\nSorry, I was out of office last "
     "week. Happy to talk.\n",
     CLS_REPLY, NULL, NULL, -1, NULL, "", NULL},
    {"ordinary mail is other",
     "From: bob@example.org\nTo: inbox@example.com\nSubject: hello\n\n"
     "Hi there.\n",
     CLS_OTHER, NULL, NULL, -1, NULL, "", NULL},
    /* ---- precedence --------------------------------------------------- */
    {"ooo with unsubscribe footer stays an auto-reply",
     OOO("Auto-Submitted: auto-replied\n", "Automatic reply: intro",
         "I am out of the office.\nTo unsubscribe from our newsletter "
         "click here."),
     CLS_AUTO_REPLY, NULL, NULL, -1, NULL, "", NULL},
    {"CR-only line endings and NUL bytes",
     "From: bob@example.org\rTo: inbox@example.com\rSubject: Re: x\r\r"
     "ok\r",
     CLS_REPLY, NULL, NULL, -1, NULL, "", NULL},
};

static void check_case(const tcase *t)
{
	cls_class c;
	cs_err err = CS_ERR_INIT;

	assert_int_equal(cls_classify(t->msg, strlen(t->msg), &c, &err), 0);
	if (c.kind != t->kind)
		fail_msg("%s: kind %s, want %s", t->name, cls_kind_name(c.kind),
		         cls_kind_name(t->kind));
	if (t->rcpt) {
		if (c.nrcpts == 0)
			fail_msg("%s: no recipient", t->name);
		if (strcmp(c.rcpts[0].addr, t->rcpt) != 0)
			fail_msg("%s: recipient %s", t->name, c.rcpts[0].addr);
		if (t->status && strcmp(c.rcpts[0].status, t->status) != 0)
			fail_msg("%s: status %s", t->name, c.rcpts[0].status);
		if (t->hard >= 0 && c.rcpts[0].hard != (t->hard == 1))
			fail_msg("%s: hard %d (%s), want %d", t->name,
			         c.rcpts[0].hard, c.rcpts[0].reason, t->hard);
		if (t->reason && strcmp(c.rcpts[0].reason, t->reason) != 0)
			fail_msg("%s: reason %s", t->name, c.rcpts[0].reason);
	}
	if (strcmp(c.return_date, t->ret) != 0)
		fail_msg("%s: return date '%s'", t->name, c.return_date);
	if (t->token)
		assert_string_equal(c.token ? c.token : "(none)", t->token);
	else
		assert_null(c.token);
	cls_class_free(&c);
}

static void table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_case(&cases[i]);
}

/* Each recipient of a report gets its own words, not its neighbour's. */
static void recipients_keep_their_own_words(void **state)
{
	static const char *const msgs[] = {
	    /* GMX-like blocks, one after the other */
	    NDR("Mail delivery failed: returning message to sender",
	        "A message that you sent could not be delivered to one or "
	        "more of\nits recipients. This is a permanent error.\n\n"
	        "\"bob@example.org\":\nSMTP error from remote server after "
	        "RCPT command:\nhost: mx.example.org\n5.2.1 <bob@example.org>"
	        "... User Unknown\n\"carol@example.org\":\nSMTP error from "
	        "remote server after RCPT command:\nhost: mx.example.org\n"
	        "5.2.2 <carol@example.org>... Mailbox Full"),
	    /* a Sendmail transcript: the exchange that caused a result */
	    NDR("Returned mail: User unknown",
	        "   ----- Transcript of session follows -----\n"
	        "While talking to mx.example.org:\n"
	        ">>> MAIL From:<sender@example.com>\n"
	        "<<< 501 <sender@example.com>... no access from mail server\n"
	        "554 <carol@example.org>... Remote protocol error\n"
	        "While talking to mx.example.net:\n"
	        ">>> RCPT To:<bob@example.org>\n"
	        "<<< 550 <bob@example.org>... User unknown\n"
	        "550 <bob@example.org>... User unknown"),
	};
	static const struct {
		const char *addr, *reason;
		bool hard;
	} want[][2] = {
	    {{"bob@example.org", "userunknown", true},
	     {"carol@example.org", "mailboxfull", false}},
	    /* refused at MAIL FROM: the sender was (issue #20 evidence
	     * table, row 3), soft */
	    {{"carol@example.org", "rejected", false},
	     {"bob@example.org", "userunknown", true}},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		cls_class c;

		assert_int_equal(
		    cls_classify(msgs[i], strlen(msgs[i]), &c, NULL), 0);
		assert_int_equal(c.kind, CLS_BOUNCE);
		assert_int_equal(c.nrcpts, 2);
		for (j = 0; j < 2; j++) {
			const cls_rcpt *r = &c.rcpts[j];

			if (strcmp(r->addr, want[i][j].addr) != 0 ||
			    strcmp(r->reason, want[i][j].reason) != 0 ||
			    r->hard != want[i][j].hard)
				fail_msg("message %zu recipient %zu: %s %s %d",
				         i, j, r->addr, r->reason, r->hard);
		}
		cls_class_free(&c);
	}
}

static void fields_for_the_watcher(void **state)
{
	const char *m = DSN("failed", "5.1.1", "550 5.1.1 User unknown");
	const char *r =
	    "From: \"Bob B.\" <bob@example.org>\n"
	    "To: a@example.com, \"C, D\" <c@example.com>\n"
	    "Subject: =?utf-8?q?R=C3=A9union?=\n"
	    "Message-ID: <r1@example.org>\n"
	    "In-Reply-To: <m1@example.com>\n"
	    "References: <m0@example.com>\n <m1@example.com>\n\nok\n";
	cls_class c;

	(void)state;
	assert_int_equal(cls_classify(m, strlen(m), &c, NULL), 0);
	assert_string_equal(c.orig_message_id, "<orig-1@example.com>");
	assert_string_equal(c.from, "MAILER-DAEMON@mx.example.net");
	cls_class_free(&c);
	assert_int_equal(cls_classify(r, strlen(r), &c, NULL), 0);
	assert_int_equal(c.kind, CLS_REPLY);
	assert_string_equal(c.from, "bob@example.org");
	assert_string_equal(c.to, "a@example.com, c@example.com");
	assert_string_equal(c.subject, "R\xc3\xa9union");
	assert_string_equal(c.message_id, "<r1@example.org>");
	assert_string_equal(c.in_reply_to, "<m1@example.com>");
	assert_string_equal(c.references, "<m0@example.com> <m1@example.com>");
	cls_class_free(&c);
	/* encoded-words in two charsets, the space between them dropped;
	 * a group and a comment in To */
	r = "From: bob@example.org\n"
	    "To: Team: \"A, B\" <a@example.com>, c@example.com (C);, "
	    "d@example.com\n"
	    "Subject: =?ISO-8859-1?Q?Caf=E9_?= =?UTF-8?B?w6k=?= ok\n\nok\n";
	assert_int_equal(cls_classify(r, strlen(r), &c, NULL), 0);
	assert_string_equal(c.to,
	                    "a@example.com, c@example.com, d@example.com");
	assert_string_equal(c.subject, "Caf\xc3\xa9 \xc3\xa9 ok");
	cls_class_free(&c);
	/* something that only starts like an encoded-word stays as it is */
	r = "From: bob@example.org\nSubject: =? =x =?a?Q?b\n\nok\n";
	assert_int_equal(cls_classify(r, strlen(r), &c, NULL), 0);
	assert_string_equal(c.subject, "=? =x =?a?Q?b");
	cls_class_free(&c);
	/* an unclosed angle bracket ends the value, not the search */
	r = "From: bob@example.org\nTo: Ann <a@example.com, d@example.com\n"
	    "Subject: x\n\nok\n";
	assert_int_equal(cls_classify(r, strlen(r), &c, NULL), 0);
	assert_non_null(c.to);
	cls_class_free(&c);
}

/* One unfolder (cls_unfold) serves the top header block and every other
 * header block (a DSN's fields, the returned headers): a folded value is
 * one line, each break and the white space after it one space, trimmed;
 * a continuation line that would take a value past CLS_MAX_LINE is
 * dropped. */
static void folded_fields_unfold_the_same_everywhere(void **state)
{
	static const char dsn[] =
	    "From: MAILER-DAEMON@mx.example.com\r\n"
	    "To: sender@example.com\r\n"
	    "Subject: Undelivered\r\n  Mail\r\n\tReturned  \r\n"
	    "Message-ID:\r\n <dsn1@mx.example.com>\r\n"
	    "References: <a@b>\r\n <c@d>\r\n\t<e@f>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    " boundary=\"XX\"\r\n\r\n"
	    "--XX\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
	    "--XX\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.example.com\r\n\r\n"
	    "Final-Recipient: rfc822;\r\n  bob@example.org\r\n"
	    "Action: failed\r\nStatus:\r\n 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1\r\n  user\r\n\tunknown   \r\n"
	    "--XX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "Message-ID: <orig@example.com>\r\nTo:\r\n bob@example.org\r\n\r\n"
	    "--XX--\r\n";
	cs_buf m = CS_BUF_INIT, want = CS_BUF_INIT;
	cls_class c;

	(void)state;
	assert_int_equal(cls_classify(dsn, sizeof dsn - 1, &c, NULL), 0);
	assert_int_equal(c.kind, CLS_BOUNCE);
	assert_string_equal(c.subject, "Undelivered Mail Returned");
	assert_string_equal(c.message_id, "<dsn1@mx.example.com>");
	assert_string_equal(c.references, "<a@b> <c@d> <e@f>");
	assert_string_equal(c.orig_message_id, "<orig@example.com>");
	assert_int_equal(c.nrcpts, 1);
	assert_string_equal(c.rcpts[0].addr, "bob@example.org");
	assert_string_equal(c.rcpts[0].status, "5.1.1");
	assert_string_equal(c.rcpts[0].diag, "smtp; 550 5.1.1 user unknown");
	cls_class_free(&c);

	/* 5000 + " " + 5000 bytes would pass CLS_MAX_LINE: the second line
	 * goes, and the space before it */
	cs_buf_puts(&m,
	            "From: a@example.org\r\nTo: b@example.org\r\nSubject: ");
	for (size_t i = 0; i < 5000; i++) {
		cs_buf_putc(&m, 'x');
		cs_buf_putc(&want, 'x');
	}
	cs_buf_puts(&m, "\r\n ");
	for (size_t i = 0; i < 5000; i++)
		cs_buf_putc(&m, 'y');
	cs_buf_puts(&m, "\r\n\r\nhello\r\n");
	assert_int_equal(cls_classify(m.data, m.len, &c, NULL), 0);
	assert_string_equal(c.subject, cs_buf_str(&want));
	assert_string_equal(c.to, "b@example.org");
	cls_class_free(&c);
	cs_buf_free(&m);
	cs_buf_free(&want);
}

static void nul_bytes_and_empty_input(void **state)
{
	static const char m[] = "From: a@example.org\nSubject: Re: x\n\n"
	                        "a\0b\0c\n";
	cls_class c;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(cls_classify(m, sizeof m - 1, &c, NULL), 0);
	assert_int_equal(c.kind, CLS_REPLY);
	cls_class_free(&c);
	assert_int_equal(cls_classify("", 0, &c, NULL), 0);
	assert_int_equal(c.kind, CLS_OTHER);
	cls_class_free(&c);
	assert_int_equal(cls_classify(NULL, 5, &c, &err), CS_EINVAL);
	assert_true(err.msg[0] != '\0');
	cls_class_free(&c);
	cls_class_free(NULL);
}

static void kind_names(void **state)
{
	(void)state;
	assert_string_equal(cls_kind_name(CLS_BOUNCE), "bounce");
	assert_string_equal(cls_kind_name(CLS_AUTO_REPLY), "auto_reply");
	assert_string_equal(cls_kind_name(CLS_OTHER), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(recipients_keep_their_own_words),
	    cmocka_unit_test(fields_for_the_watcher),
	    cmocka_unit_test(folded_fields_unfold_the_same_everywhere),
	    cmocka_unit_test(nul_bytes_and_empty_input),
	    cmocka_unit_test(kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
