/*
 * cls.h - coldseq's message classifier: what a message that arrived is.
 *
 * This header is the module's only public interface; every public name
 * starts with cls_ (CLS_ for constants).  The classifier is pure code (no
 * network, no database, no other module than core/): it reads the bytes
 * of one raw RFC 5322 message and says what it is for the sequencer (a
 * bounce, a delay warning, a spam complaint, an auto-reply, an
 * unsubscribe request, a reply, or other), with the fields the watcher
 * needs to match it against what we sent.  Where the bytes come from
 * (an IMAP fetch, a file given to `coldseq classify`) is the caller's
 * business.
 *
 * Limits (so a hostile or broken message costs bounded time and memory):
 * only the first CLS_MAX_SCAN bytes of a message are looked at, every
 * line is cut at CLS_MAX_LINE bytes, each decoded text part is cut at
 * CLS_MAX_TEXT bytes, MIME nesting below CLS_MAX_DEPTH is ignored and at
 * most CLS_MAX_RCPTS recipients are reported.  Nothing a message holds is
 * ever fatal: a message that cannot be parsed is `other`.
 */
#ifndef COLDSEQ_CLS_H
#define COLDSEQ_CLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

#define CLS_MAX_SCAN  (4u << 20)   /* bytes of a message looked at */
#define CLS_MAX_LINE  8192u        /* bytes per line, rest dropped */
#define CLS_MAX_TEXT  (256u << 10) /* decoded bytes kept per text part */
#define CLS_MAX_DEPTH 32           /* MIME nesting followed */
#define CLS_MAX_RCPTS 256          /* recipients reported per message */

/* What a message is, in order of precedence (a DSN that also carries
 * Auto-Submitted is a bounce, an out-of-office that says "unsubscribe" in
 * its footer is an auto-reply, ...). */
typedef enum cls_kind {
	CLS_OTHER = 0,
	CLS_BOUNCE,      /* delivery failed: stop the contact if hard */
	CLS_DELAY,       /* delivery delayed (a warning): never a stop */
	CLS_COMPLAINT,   /* ARF feedback report (RFC 5965) */
	CLS_AUTO_REPLY,  /* RFC 3834 auto-reply, out-of-office */
	CLS_UNSUBSCRIBE, /* List-Unsubscribe mail or a human "remove me" */
	CLS_REPLY,       /* a human answer to some message */
} cls_kind;

/* One recipient of a bounce, delay or complaint. */
typedef struct cls_rcpt {
	char *addr;     /* as reported, trimmed; never NULL */
	char status[8]; /* RFC 3463 "5.1.1", or "" when none was given */
	bool hard;      /* the address itself is bad: suppress it */
	/* Reason name (static string): userunknown, hostunknown, hasmoved,
	 * notaccept, mailboxfull, suspend, blocked, spamdetected, filtered,
	 * policyviolation, rejected, securityerror, mesgtoobig, exceedlimit,
	 * norelaying, toomanyconn, networkerror, systemerror, systemfull,
	 * expired, contenterror, virusdetected, syntaxerror, mailererror,
	 * onhold, undefined; "feedback" for a complaint. */
	const char *reason;
	char *diag; /* the server's words (Diagnostic-Code or text), or NULL */
	/* the host that refused it: the DSN's Remote-MTA, else its
	 * Reporting-MTA ("dns; mx.google.com" gives "mx.google.com"), or
	 * NULL (the receiving provider is read from it) */
	char *mta;
} cls_rcpt;

/*
 * The classifier's answer.  Every string is NUL-terminated UTF-8 or the
 * bytes of the message, owned by the struct (cls_class_free), NULL when
 * the message has none.  Message-IDs keep their angle brackets.
 */
typedef struct cls_class {
	cls_kind kind;
	char *message_id;
	char *in_reply_to;
	char *references; /* as given, white space collapsed */
	char *from;       /* the first address (addr-spec) of From */
	char *to;         /* the addr-specs of To, ", " separated */
	char *subject;    /* RFC 2047 decoded where the charset is known */
	char *date;       /* the Date header as given */
	/* bounce/delay/complaint: Message-ID of the message it is about,
	 * when the report returns that message's headers */
	char *orig_message_id;
	cls_rcpt *rcpts; /* bounce, delay, complaint (may be 0 for one) */
	size_t nrcpts;
	char return_date[11]; /* auto_reply: "YYYY-MM-DD" or "" */
	char *token;          /* unsubscribe: the List-Unsubscribe token */
} cls_class;

/* "bounce", "delay", "complaint", "auto_reply", "unsubscribe", "reply",
 * "other". */
const char *cls_kind_name(cls_kind k);

/*
 * Classify the raw message raw[0..len) (any line endings, NULs allowed).
 * Fills *out (caller frees with cls_class_free, also after a failure).
 * Returns 0; a message too broken to parse is not an error, it is
 * classified from what could be read.  CS_EINVAL with err set only when
 * raw is NULL with len > 0.
 */
int cls_classify(const char *raw, size_t len, cls_class *out, cs_err *err);

/* Release what cls_classify stored; leaves *c zeroed.  NULL is allowed. */
void cls_class_free(cls_class *c);

/* ---- who a sent message went to (copy.c) ------------------------------
 *
 * The Message-ID ("<...>", NULL when none) and every To, Cc and Bcc
 * addr-spec (groups included; at most CLS_MAX_RCPTS) of the header in
 * raw[0..len) (the header fields alone, or a whole message), for counting
 * what a mailbox sent: the watcher reads its Sent folder's copies.  What
 * cannot be parsed is left out; never fails. */
typedef struct cls_copy {
	char *message_id;
	char **rcpts;
	size_t nrcpts;
} cls_copy;

void cls_copy_parse(const char *raw, size_t len, cls_copy *out);
/* Release what cls_copy_parse stored; leaves *c zeroed.  NULL allowed. */
void cls_copy_free(cls_copy *c);

#endif
