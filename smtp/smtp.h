/*
 * smtp.h - sending: the SMTP client session, message building, and the
 * one policy that turns an SMTP reply into an outcome.
 *
 * Layering: smtp/ uses core/ and net/ only (never imap/ or sequencer/).
 * A session belongs to one thread at a time and does network I/O only; it
 * never touches the database.  Callers record results.
 */
#ifndef COLDSEQ_SMTP_H
#define COLDSEQ_SMTP_H

#include "core/core.h"
#include "net/net.h"

/* ---- reply policy (smtp_policy.c) ------------------------------------ */

/* Where in the dialogue a reply (or a failure) happened. */
typedef enum smtp_phase {
	SMTP_PH_CONNECT,  /* TCP connect */
	SMTP_PH_TLS,      /* TLS handshake and certificate check */
	SMTP_PH_GREETING, /* the 220 banner */
	SMTP_PH_EHLO,
	SMTP_PH_STARTTLS,
	SMTP_PH_AUTH,
	SMTP_PH_MAIL,
	SMTP_PH_RCPT,
	SMTP_PH_DATA,     /* the DATA command (354 expected) */
	SMTP_PH_DATA_END, /* the reply after the final dot */
	SMTP_PH_RSET,
} smtp_phase;

typedef enum smtp_outcome {
	SMTP_SENT,
	SMTP_DEFERRED,           /* retry later (retry_after_s) */
	SMTP_REJECTED_RECIPIENT, /* the address is bad */
	SMTP_REJECTED_POLICY,    /* the sender is the problem: pause inbox */
	SMTP_INBOX_FAILURE,      /* connect/TLS/AUTH: every message waits */
	SMTP_UNCERTAIN,          /* lost after the final dot: may be sent */
} smtp_outcome;

/* What the reply asks of the sender beyond the message's own outcome:
 * one enum, decided by the same rule as the outcome (smtp_policy). */
typedef enum smtp_action {
	SMTP_ACT_NONE,
	SMTP_ACT_SLOW,                /* throttle: slow the inbox down */
	SMTP_ACT_BACKOFF_CONNECTIONS, /* too many sessions/logins: open no
	                                 new session for retry_after_s */
	SMTP_ACT_QUOTA,         /* the provider's sending quota: pause until
	                           its rolling window frees, never before */
	SMTP_ACT_RESTRICTED,    /* sender or tenant blocked: pause with no
	                           end, the admin must act (remedy) */
	SMTP_ACT_REFRESH_TOKEN, /* the access token was refused: refresh it
	                           once and try again */
	SMTP_ACT_SMTP_AUTH_DISABLED, /* SMTP AUTH is off for the mailbox: pause
	                                (the credentials are fine) */
	SMTP_ACT_AUTH_FAILED, /* the credentials are refused: auth_failed */
} smtp_action;

typedef struct smtp_verdict {
	smtp_outcome outcome;
	smtp_action action;
	bool throttle;      /* slow the inbox down (rate limit, 421, 451) */
	bool hard;          /* rejected recipient: the address itself is bad */
	int retry_after_s;  /* deferred / inbox failure: suggested delay */
	const char *rule;   /* the rule that matched (for logs and tests) */
	const char *remedy; /* static: what the user or admin can do, or
	                       NULL when there is nothing to do but wait */
	const char *provider; /* static: whose answer the rule knows
	                         ("Google", "Microsoft") or NULL */
} smtp_verdict;

/* code 0 means no reply at all (connection lost, timeout, TLS failure).
 * enhanced is "x.y.z" or "" ; text is the reply text (may be NULL).
 * After an XOAUTH2 error challenge (RFC 7628 3.2.2) the session passes
 * the final reply's text followed by "[xoauth2 status=NNN]", the
 * challenge's status: 401 is a refused token (SMTP_ACT_REFRESH_TOKEN).
 * The verdict's remedy and provider are static text (or NULL). */
void smtp_policy(smtp_phase phase, int code, const char *enhanced,
                 const char *text, smtp_verdict *out);
const char *smtp_outcome_name(smtp_outcome o);
/* "none", "slow", "backoff_connections", "quota", "restricted",
 * "refresh_token", "smtp_auth_disabled", "auth_failed" */
const char *smtp_action_name(smtp_action a);
const char *smtp_phase_name(smtp_phase p);
/* Copy a leading RFC 3463 status ("5.1.1") of text into out[16];
 * returns its length in text (0 when there is none). */
size_t smtp_parse_enhanced(const char *text, char out[16]);

/* ---- what a header may carry (smtp_message.c) -------------------------
 *
 * The one place the limits of header data are defined.  The builder calls
 * these on every value it writes, and `contacts import` calls the same
 * functions on every contact field (a template may put any field into the
 * Subject or the To name), so import refuses exactly what sending would.
 *
 * SMTP_LINE_MAX: RFC 5322 2.1.1, octets in a line without CRLF.
 * SMTP_HEADER_MAX: octets (UTF-8, before RFC 2047) of one header value taken
 * from data.  Non-ASCII values are written as encoded words of at most 64
 * characters separated by spaces, and the writer folds at spaces, so their
 * lines stay short whatever the length; an ASCII value without a space
 * cannot be folded at all, so the value itself must fit one line with its
 * field name: 900 leaves 98 octets for the name, ": " and a "Re: ".  The
 * To display name ("first_name last_name") has the same limit. */
#define SMTP_LINE_MAX   998
#define SMTP_HEADER_MAX 900

/* value may go into a header: no CR or LF, no control character (below
 * U+0020 except TAB, and DEL), at most max octets.  NULL is fine.  On
 * refusal returns CS_EINVAL and err says "FIELD contains ..." / "FIELD is
 * N octets long ..." (field is how the caller names it).  A value of
 * printable ASCII (0x20-0x7E) and TAB within max is always accepted.  One
 * pass, no allocation. */
int smtp_check_header_text(const char *field, const char *value, size_t max,
                           cs_err *err);
/* value may go into a body: as smtp_check_header_text but line breaks
 * (CR, LF) are fine and there is no length limit.  For data that only
 * ever belongs in a body, such as a contact's multi-line notes. */
int smtp_check_body_text(const char *field, const char *value, cs_err *err);
/* The To display name the builder writes for a contact, "first last"
 * (either may be NULL or empty), checked as smtp_check_header_text with
 * SMTP_HEADER_MAX; no allocation. */
int smtp_check_display_name(const char *field, const char *first,
                            const char *last, cs_err *err);
/* addr is an address as it goes into MAIL FROM / RCPT TO and the From/To
 * header: ASCII (an internationalised domain in its IDNA "xn--" form,
 * which cs_email_normalize makes with libidn2), a dot-atom local part of
 * at most 64 octets, a host name of at most 253 (labels 1-63 letters,
 * digits and '-', not at either end), 254 in all.  CS_EINVAL and the
 * reason otherwise. */
int smtp_check_address(const char *field, const char *addr, cs_err *err);

/* ---- message building (smtp_message.c) ------------------------------- */

typedef struct smtp_header {
	const char *name, *value;
} smtp_header;

/* Everything a message needs.  Strings are UTF-8.  Header values from
 * data (names, subject, custom headers) must not hold CR or LF: building
 * fails with an error naming the field, and nothing is produced. */
typedef struct smtp_msg_spec {
	const char *from_name, *from_addr; /* from_addr required */
	const char *to_name, *to_addr;     /* to_addr required */
	const char *subject;
	const char *text;        /* text/plain body, required */
	const char *html;        /* optional: multipart/alternative */
	int64_t date_ms;         /* Date header, from the service clock */
	int tz_offset_min;       /* of the Date header, e.g. +60 */
	const char *message_id;  /* "<id@domain>"; NULL: generated */
	const char *in_reply_to; /* "<id>" of the message answered */
	const char *references;  /* "<a> <b> ..." */
	const char *list_unsubscribe_mailto; /* "mailto:..." or NULL */
	const char *list_unsubscribe_url;    /* "https://..." or NULL */
	const smtp_header *extra;
	size_t nextra;
} smtp_msg_spec;

/* Build the RFC 5322 message (CRLF line ends) into out.  *message_id gets
 * the Message-ID with angle brackets (caller frees).  Text parts go as
 * written: 7bit when ASCII, 8bit when they hold UTF-8 (smtp_send sends
 * BODY=8BITMIME, or downgrades them to quoted-printable for a server
 * without 8BITMIME), quoted-printable only for a line over 998 octets.
 * The multipart boundary is random per message (RAND_bytes). */
int smtp_build_message(const smtp_msg_spec *m, cs_buf *out, char **message_id,
                       cs_err *err);
/* "<random@domain-of-addr>" (caller frees). */
char *smtp_new_message_id(const char *from_addr);
/* RFC 2047: s as itself when it is printable ASCII, else as UTF-8 "Q"
 * encoded words of at most 64 characters separated by spaces. */
void smtp_encode_words(const char *s, cs_buf *out);

/* ---- transfer encodings (smtp_mime.c) -------------------------------- */

/* Quoted-printable (RFC 2045 6.7) of s[0..n), appended to out.  Line
 * breaks (CRLF or LF) become CRLF.  Escapes only "=", bytes outside
 * printable ASCII and a space or tab at the end of a line; soft breaks
 * keep every line at 76 characters or less and fall between words, so a
 * word that fits on a line (a URL) is never split; a longer one is split
 * as a last resort, never inside an escape. */
void smtp_qp_encode(const char *s, size_t n, cs_buf *out);
/* Does data[0..len) hold a byte >= 0x80 (an 8bit body)? */
bool smtp_has_8bit(const char *data, size_t len);
/* For a server without 8BITMIME: append to out the message data[0..len)
 * with each "Content-Transfer-Encoding: 8bit" part re-encoded as
 * quoted-printable (smtp_qp_encode); headers, other parts, boundaries and
 * the Message-ID stay byte for byte. */
void smtp_downgrade_8bit(const char *data, size_t len, cs_buf *out);

/* ---- session (smtp_session.c) ---------------------------------------- */

typedef enum smtp_tls_mode {
	SMTP_TLS_IMPLICIT, /* TLS from the first byte (465) */
	SMTP_TLS_STARTTLS, /* plaintext greeting, STARTTLS required (587) */
	SMTP_TLS_NONE,     /* tests and benchmarks on loopback only: no AUTH
	                      is ever sent over it */
} smtp_tls_mode;

typedef struct smtp_server {
	const char *host;
	int port;
	smtp_tls_mode tls;
	net_tls_opts tls_opts;
	/* timeouts in ms; 0 = RFC 5321 defaults (connect 60 s, greeting and
	 * commands 300 s, DATA 120 s, after the final dot 600 s) */
	int connect_timeout_ms, command_timeout_ms, data_end_timeout_ms;
} smtp_server;

typedef enum smtp_auth_kind {
	SMTP_AUTH_NONE,     /* only with SMTP_TLS_NONE, for tests */
	SMTP_AUTH_PASSWORD, /* PLAIN or LOGIN, chosen from EHLO */
	SMTP_AUTH_XOAUTH2,  /* bearer token */
} smtp_auth_kind;

typedef struct smtp_auth {
	smtp_auth_kind kind;
	const char *user;
	const cs_secret *secret; /* password or access token */
} smtp_auth;

/* The result of one step: what the server said, and what it means.
 * text is the reply text, length-capped and scrubbed of control bytes. */
typedef struct smtp_result {
	smtp_phase phase;
	int code;          /* 0: no reply */
	char enhanced[16]; /* "5.1.1" or "" */
	char text[512];
	smtp_verdict verdict;
	char detail[512]; /* a human sentence for the user */
} smtp_result;

typedef struct smtp_session smtp_session;

/* Connect, TLS, EHLO, STARTTLS, AUTH.  On failure returns non-zero, res
 * says why (verdict inbox_failure or deferred) and *out is NULL. */
int smtp_open(const smtp_server *srv, const smtp_auth *auth, smtp_session **out,
              smtp_result *res);
/* Send one message to one recipient (MAIL, RCPT, DATA); RSET first when a
 * previous message used the session.  A message with 8bit bytes goes with
 * MAIL FROM:<from> BODY=8BITMIME (RFC 6152) when the server offers
 * 8BITMIME, else its 8bit parts are sent as quoted-printable
 * (smtp_downgrade_8bit); data itself is never changed.  Returns 0 when
 * res->verdict is SMTP_SENT.  After an uncertain or connection failure the
 * session is dead: smtp_alive() turns false. */
int smtp_send(smtp_session *s, const char *from, const char *rcpt,
              const char *data, size_t len, smtp_result *res);
bool smtp_alive(const smtp_session *s);
/* TLS details of the session (NULL for SMTP_TLS_NONE). */
const net_tls_info *smtp_tls(const smtp_session *s);
/* The EHLO keywords the server offered, one per line. */
const char *smtp_capabilities(const smtp_session *s);
/* QUIT (best effort) and free; NULL allowed. */
void smtp_close(smtp_session *s);

#endif
