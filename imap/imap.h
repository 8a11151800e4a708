/*
 * imap.h - coldseq's mail-side module: what arrives in a watched inbox.
 *
 * This header is the module's only public interface; every public name
 * starts with imap_.  It holds the IMAP client session (session.c: TLS
 * through net/, login, folder discovery, APPEND) and the message
 * classifier: pure code
 * (no network, no database) that reads one raw RFC 5322 message and says
 * what it is for the sequencer (a bounce, a delay warning, a spam
 * complaint, an auto-reply, an unsubscribe request, a reply, or other),
 * with the fields the watcher needs to match it against what we sent.
 *
 * Limits (so a hostile or broken message costs bounded time and memory):
 * only the first IMAP_MAX_SCAN bytes of a message are looked at, every
 * line is cut at IMAP_MAX_LINE bytes, each decoded text part is cut at
 * IMAP_MAX_TEXT bytes, MIME nesting below IMAP_MAX_DEPTH is ignored and at
 * most IMAP_MAX_RCPTS recipients are reported.  Nothing a message holds is
 * ever fatal: a message that cannot be parsed is `other`.
 */
#ifndef COLDSEQ_IMAP_H
#define COLDSEQ_IMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "net/net.h"

#define IMAP_MAX_SCAN  (4u << 20)   /* bytes of a message looked at */
#define IMAP_MAX_LINE  8192u        /* bytes per line, rest dropped */
#define IMAP_MAX_TEXT  (256u << 10) /* decoded bytes kept per text part */
#define IMAP_MAX_DEPTH 32           /* MIME nesting followed */
#define IMAP_MAX_RCPTS 256          /* recipients reported per message */

/* What a message is, in order of precedence (a DSN that also carries
 * Auto-Submitted is a bounce, an out-of-office that says "unsubscribe" in
 * its footer is an auto-reply, ...). */
typedef enum imap_kind {
	IMAP_OTHER = 0,
	IMAP_BOUNCE,      /* delivery failed: stop the contact if hard */
	IMAP_DELAY,       /* delivery delayed (a warning): never a stop */
	IMAP_COMPLAINT,   /* ARF feedback report (RFC 5965) */
	IMAP_AUTO_REPLY,  /* RFC 3834 auto-reply, out-of-office */
	IMAP_UNSUBSCRIBE, /* List-Unsubscribe mail or a human "remove me" */
	IMAP_REPLY,       /* a human answer to some message */
} imap_kind;

/* One recipient of a bounce, delay or complaint. */
typedef struct imap_rcpt {
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
} imap_rcpt;

/*
 * The classifier's answer.  Every string is NUL-terminated UTF-8 or the
 * bytes of the message, owned by the struct (imap_class_free), NULL when
 * the message has none.  Message-IDs keep their angle brackets.
 */
typedef struct imap_class {
	imap_kind kind;
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
	imap_rcpt *rcpts; /* bounce, delay, complaint (may be 0 for one) */
	size_t nrcpts;
	char return_date[11]; /* auto_reply: "YYYY-MM-DD" or "" */
	char *token;          /* unsubscribe: the List-Unsubscribe token */
} imap_class;

/* "bounce", "delay", "complaint", "auto_reply", "unsubscribe", "reply",
 * "other". */
const char *imap_kind_name(imap_kind k);

/*
 * Classify the raw message raw[0..len) (any line endings, NULs allowed).
 * Fills *out (caller frees with imap_class_free, also after a failure).
 * Returns 0; a message too broken to parse is not an error, it is
 * classified from what could be read.  CS_EINVAL with err set only when
 * raw is NULL with len > 0.
 */
int imap_classify(const char *raw, size_t len, imap_class *out, cs_err *err);

/* Release what imap_classify stored; leaves *c zeroed.  NULL is allowed. */
void imap_class_free(imap_class *c);

/* ---- IMAP session (session.c) ---------------------------------------- */

typedef enum imap_tls_mode {
	IMAP_TLS_IMPLICIT, /* TLS from the first byte (993) */
	IMAP_TLS_STARTTLS, /* plaintext greeting, STARTTLS required (143) */
	IMAP_TLS_NONE,     /* loopback tests only: no login is sent over it */
} imap_tls_mode;

typedef struct imap_server {
	const char *host;
	int port;
	imap_tls_mode tls;
	net_tls_opts tls_opts;
	int timeout_ms; /* connect and every reply; 0 = 60 s */
} imap_server;

typedef enum imap_auth_kind {
	IMAP_AUTH_PASSWORD, /* LOGIN */
	IMAP_AUTH_XOAUTH2,  /* AUTHENTICATE XOAUTH2 with a bearer token */
} imap_auth_kind;

typedef struct imap_auth {
	imap_auth_kind kind;
	const char *user;
	const cs_secret *secret;
} imap_auth;

/* The folders that matter to coldseq, by RFC 6154 SPECIAL-USE attribute,
 * else by the names Gmail, Outlook and others use.  NULL when absent. */
typedef struct imap_folders {
	char *sent, *junk, *drafts, *trash, *archive;
	char *all; /* \All (Gmail's "All Mail": moving there archives) */
	bool by_attribute; /* found through SPECIAL-USE, not by name */
} imap_folders;

typedef struct imap_session imap_session;

/* Connect, TLS (verified, net/), STARTTLS when asked, log in.  On failure
 * err says what failed (connect, certificate, authentication) and *out is
 * NULL; CS_EREFUSED when the server answered the login with a refusal. */
int imap_open(const imap_server *srv, const imap_auth *auth, imap_session **out,
              cs_err *err);
/* TLS details, NULL without TLS. */
const net_tls_info *imap_tls(const imap_session *s);
/* The server's capabilities after login, space separated. */
const char *imap_capabilities(const imap_session *s);
/* LIST the folders and pick Sent, Junk, ... (caller frees with
 * imap_folders_free). */
int imap_find_folders(imap_session *s, imap_folders *out, cs_err *err);
void imap_folders_free(imap_folders *f);
/* APPEND msg to folder, with \Seen when seen. */
int imap_append(imap_session *s, const char *folder, const char *msg,
                size_t len, bool seen, cs_err *err);
/* LOGOUT (best effort) and free; NULL allowed. */
void imap_close(imap_session *s);

/* ---- reading folders (fetch.c) ---------------------------------------- */

typedef struct imap_folder_info {
	uint32_t uidvalidity, uidnext, exists;
	uint64_t highestmodseq; /* 0 when the server has no CONDSTORE */
} imap_folder_info;

/* One fetched message: its UID and at most `cap` bytes of it. */
typedef struct imap_fetched {
	uint32_t uid;
	cs_buf raw;
} imap_fetched;

/* EXAMINE folder (read-only: nothing in it can change through this
 * session). */
int imap_examine(imap_session *s, const char *folder, imap_folder_info *out,
                 cs_err *err);
/* STATUS (UIDNEXT UIDVALIDITY MESSAGES) of a folder without selecting
 * it: the cheap "anything new?" question. */
int imap_status(imap_session *s, const char *folder, imap_folder_info *out,
                cs_err *err);
/* UIDs above after_uid (and, when since_ms > 0, with an internal date on
 * or after that day), ascending.  *uids: caller frees. */
int imap_search_new(imap_session *s, uint32_t after_uid, int64_t since_ms,
                    uint32_t **uids, size_t *n, cs_err *err);
/* Each UID as classification needs it, with BODY.PEEK (never marks
 * anything read): a message of at most cap bytes whole; a larger one,
 * after its BODYSTRUCTURE, as its header and the MIME skeleton with only
 * the text parts, reports and returned headers (64 KiB each), never an
 * attachment.  At most cap bytes per message.  Free with
 * imap_fetched_free. */
int imap_fetch_heads(imap_session *s, const uint32_t *uids, size_t n,
                     size_t cap, imap_fetched **out, size_t *nout, cs_err *err);
void imap_fetched_free(imap_fetched *f, size_t n);
/* Whether folder holds a message with this Message-ID (UID SEARCH HEADER;
 * selects the folder read-only). */
int imap_find_message_id(imap_session *s, const char *folder,
                         const char *message_id, bool *found, cs_err *err);
bool imap_has_idle(imap_session *s);
/* IDLE in two halves: start, then poll *fd (-1: data is already
 * buffered, end at once), then done.  No other command in between. */
int imap_idle_start(imap_session *s, int *fd, cs_err *err);
int imap_idle_done(imap_session *s, cs_err *err);

/* ---- changing a mailbox (modify.c: warmup's receiving side only) ------ */

/* SELECT folder read-write; *out (may be NULL) gets its UIDVALIDITY,
 * UIDNEXT and EXISTS. */
int imap_select(imap_session *s, const char *folder, imap_folder_info *out,
                cs_err *err);
/* The UID (the highest, should there be several) of the message with
 * this Message-ID in the selected folder; *found false when none. */
int imap_uid_by_message_id(imap_session *s, const char *message_id,
                           uint32_t *uid, bool *found, cs_err *err);
/* Add \Seen and/or \Flagged to uid in the selected folder. */
int imap_uid_flag(imap_session *s, uint32_t uid, bool seen, bool flagged,
                  cs_err *err);
/* Move uid from the selected folder to dest: UID MOVE (RFC 6851), else
 * UID COPY, \Deleted and UID EXPUNGE (UIDPLUS) or EXPUNGE. */
int imap_uid_move(imap_session *s, uint32_t uid, const char *dest, cs_err *err);
/* CREATE folder. */
int imap_create(imap_session *s, const char *folder, cs_err *err);
/* Gmail's IMAP extension (X-GM-EXT-1): folders are labels.  There,
 * archiving removes the \Inbox label (the message stays in \All) and
 * "important" is the \Important label. */
bool imap_has_gmail_labels(imap_session *s);
/* Add (add true) or remove one label of uid in the selected folder:
 * UID STORE uid +X-GM-LABELS.SILENT (label), or -X-GM-LABELS.SILENT. */
int imap_uid_gmail_label(imap_session *s, uint32_t uid, const char *label,
                         bool add, cs_err *err);

#endif
