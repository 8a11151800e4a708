/*
 * imap.h - coldseq's IMAP client: what a watched inbox holds.
 *
 * This header is the module's only public interface; every public name
 * starts with imap_.  It holds the IMAP client session (session.c: TLS
 * through net/, login, folder discovery, APPEND), reading folders
 * (fetch.c: EXAMINE, STATUS, UID SEARCH, size-capped BODY.PEEK fetches,
 * IDLE) and changing them (modify.c: flags, moves, Gmail labels).  What a
 * fetched message is, is for the classifier (classify/cls.h): imap/ hands
 * its caller raw bytes and never includes the classifier.
 */
#ifndef COLDSEQ_IMAP_H
#define COLDSEQ_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "net/net.h"

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
/* One message's header fields, as a Sent sync reads them. */
typedef struct imap_header {
	uint32_t uid;
	int64_t internal_ms; /* INTERNALDATE, ms since the epoch; 0 if none */
	cs_buf raw;          /* the asked fields as the server sent them */
} imap_header;

/* UID, INTERNALDATE and BODY.PEEK[HEADER.FIELDS (fields)] of each UID in
 * one UID FETCH (nothing is marked read, no body is transferred); at most
 * cap bytes of header per message.  fields: NULL-terminated names.  UIDs
 * the server no longer has are left out.  Free with imap_headers_free. */
int imap_fetch_header_fields(imap_session *s, const uint32_t *uids, size_t n,
                             const char *const *fields, size_t cap,
                             imap_header **out, size_t *nout, cs_err *err);
void imap_headers_free(imap_header *h, size_t n);
/* The UID (the highest, should there be several) of the message with
 * this Message-ID in the selected folder (EXAMINE or SELECT; UID SEARCH
 * HEADER); *found false when none. */
int imap_uid_by_message_id(imap_session *s, const char *message_id,
                           uint32_t *uid, bool *found, cs_err *err);
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
