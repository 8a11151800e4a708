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

/* ---- what the receiving server wrote (authres.c) -----------------------
 *
 * Authentication-Results (RFC 8601) and ARC-Authentication-Results
 * (RFC 8617 4.1.1) header values, DKIM-Signature tags (RFC 6376 3.5),
 * and from a whole message the verdicts its receiving server wrote.
 * Comments (nested) are dropped, quoted strings unquoted, every name
 * lower-cased; a value is cut at CLS_AR_MAX_VALUE bytes and made valid
 * UTF-8; at most CLS_AR_MAX_RESULTS results per header and
 * CLS_AR_MAX_PROPS properties per result are kept.  Nothing fails: what
 * cannot be read is left out. */
#define CLS_AR_MAX_RESULTS 32
#define CLS_AR_MAX_PROPS   16
#define CLS_AR_MAX_VALUE   255

typedef struct cls_ar_prop {
	char *name;  /* "smtp.mailfrom", "header.d", ... (ptype.property);
	                a bare word for a vendor's extra ("action") */
	char *value; /* "" for an empty value */
} cls_ar_prop;

/* One "method=result" with what follows it up to the next ';'. */
typedef struct cls_ar_result {
	char *method; /* "spf", "dkim", "dmarc", "arc", "compauth", ...,
	                 its version ("dkim/1") dropped */
	char *result; /* "pass", "fail", "softfail", "none", ... */
	char *reason; /* reason= value, NULL when none */
	cls_ar_prop *props;
	size_t nprops;
} cls_ar_result;

typedef struct cls_authres {
	/* "mx.google.com"; "" when the header names none (Microsoft 365
	 * writes "spf=pass ...; dkim=..." without one) */
	char *authserv_id;
	int instance; /* ARC-Authentication-Results i=; 0 otherwise */
	cls_ar_result *results;
	size_t nresults;
} cls_authres;

/* Parse one header value v[0..n) (unfolded or not); arc: an
 * ARC-Authentication-Results value, which starts with "i=N;".  Fills
 * *out (free with cls_authres_free). */
void cls_authres_parse(const char *v, size_t n, bool arc, cls_authres *out);
void cls_authres_free(cls_authres *a);
/* The value of property name ("header.d") of r, NULL when absent. */
const char *cls_ar_get(const cls_ar_result *r, const char *name);

/* The tags of one DKIM-Signature value the doctor reads; NULL when
 * absent.  d lower-case; h lower-case with white space dropped, its
 * names ':'-separated as written. */
typedef struct cls_dkim_sig {
	char *d, *s, *h;
} cls_dkim_sig;

void cls_dkim_sig_parse(const char *v, size_t n, cls_dkim_sig *out);
void cls_dkim_sig_free(cls_dkim_sig *s);
/* Whether the h= list h (NULL allowed) names field (case-insensitive). */
bool cls_dkim_signs(const char *h, const char *field);

/*
 * What the receiving server said about a message it delivered, read from
 * the message's top header block (raw[0..len), a whole message or its
 * header).  Trust rule (RFC 8601 5: trust only your own authserv-id):
 *  - only fields above the topmost DKIM-Signature count: what lies below
 *    it was there when the sender signed, so none of it is a verdict of
 *    the receiving side (a sender's own outbound Authentication-Results,
 *    as Microsoft 365 adds, sits there);
 *  - of those, the topmost Authentication-Results names the receiving
 *    side's authserv-id (a receiver prepends its fields); only results
 *    of Authentication-Results with that same authserv-id are used, and
 *    ARC-Authentication-Results with that authserv-id (the highest i=)
 *    only for a method the former leave out;
 *  - without such a field the results stay "" (nothing trusted), except
 *    SPF, which falls back to the topmost Received-SPF above the
 *    signature (policyd-spf and others write that instead).
 * A message without any DKIM-Signature has no boundary: then the whole
 * header counts, so a sender's own verdict could be read there only when
 * the receiving side wrote none (and it is always about an unsigned
 * message).
 * Our signature is the DKIM-Signature whose d= is the From domain (or a
 * parent or child of it), else the first; dkim is the receiver's result
 * for that signature (a result naming its d= by header.d or header.i,
 * a pass preferred), else a result naming no domain; with no signature,
 * the first dkim result ("none" as receivers write it).
 */
typedef struct cls_received {
	char *authserv_id;                 /* trusted, NULL when none */
	char spf[16], dkim[16], dmarc[16]; /* result words, "" none */
	char *mailfrom_domain; /* of smtp.mailfrom (or Received-SPF's
	                          envelope-from), lower-case, NULL unknown */
	char *dkim_domain, *dkim_selector, *dkim_headers; /* our signature */
	bool list_unsub, list_unsub_post; /* the fields were present */
} cls_received;

void cls_received_parse(const char *raw, size_t len, cls_received *out);
void cls_received_free(cls_received *r);

#endif
