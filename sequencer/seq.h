/*
 * seq.h - the sequencer: turning stored inboxes, contacts and campaigns
 * into messages sent, and recording what happened.
 *
 * This first part is the send path shared by `send-test` and (later) the
 * service: connection settings of an inbox, the unsubscribe token, and
 * "send one message now and record it".
 */
#ifndef COLDSEQ_SEQ_H
#define COLDSEQ_SEQ_H

#include "core/core.h"
#include "db/db.h"
#include "imap/imap.h"
#include "smtp/smtp.h"

/* SMTP connection settings and credentials of an inbox.  The secret is
 * decrypted from the vault (caller frees *secret with cs_secret_free). */
int seq_inbox_smtp(db *d, cs_vault *v, const db_inbox *in, smtp_server *srv,
                   smtp_auth *auth, cs_secret **secret, cs_err *err);

/* IMAP settings and credentials of an inbox (*secret: caller frees). */
int seq_inbox_imap(db *d, cs_vault *v, const db_inbox *in, imap_server *srv,
                   imap_auth *auth, cs_secret **secret, cs_err *err);

/* Whether a copy of what the inbox sends belongs in its Sent folder:
 * sent_copy always/never, or auto = not for Google and Microsoft 365, which
 * keep their own copy. */
bool seq_wants_sent_copy(const db_inbox *in);

/* APPEND raw (the exact bytes sent) with \Seen to the inbox's Sent folder
 * (SPECIAL-USE, else by name).  *folder gets the folder used (caller
 * frees). */
int seq_sent_copy(db *d, cs_vault *v, const db_inbox *in, const char *raw,
                  size_t len, char **folder, cs_err *err);

/* The unsubscribe token of (contact, campaign): URL-safe base64 of an
 * HMAC-SHA256 under the vault's unsubscribe key, 22 characters.  The key
 * is made (and sealed in meta) on first use.  out must hold 23 bytes. */
int seq_unsub_token(db *d, cs_vault *v, const char *contact,
                    const char *campaign, char out[23], cs_err *err);

/* What seq_send_now did. */
typedef struct seq_sent {
	char *message_id; /* caller frees */
	smtp_result smtp;
	char local_day[11];
} seq_sent;

/*
 * Send one message from inbox `in` now: check the daily cap, build the
 * message (Date from clock in the inbox's zone), record it as 'sending'
 * with its Message-ID before DATA, send, and store the outcome.  Returns 0
 * when the server accepted it; CS_ETEMP/CS_EINVAL/... with err set when it
 * was not sent (out->smtp says what the server said, when it said it).
 * The raw message is left in raw (for a Sent copy).
 */
int seq_send_now(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                 const smtp_msg_spec *spec, const char *purpose, cs_buf *raw,
                 seq_sent *out, cs_err *err);

/* ---- the watcher (seq_watch.c) ---------------------------------------- */

typedef struct seq_sync_stats {
	int folders;    /* folders read */
	int fetched;    /* messages fetched and classified */
	int new_events; /* events recorded (not seen before) */
	int suppressed; /* addresses newly suppressed */
} seq_sync_stats;

/* One inbox's open IMAP session and what the watcher knows of it.  The
 * db_inbox must outlive the watcher. */
typedef struct seq_watcher {
	db *d;
	cs_clock *clock;
	const db_inbox *in;
	imap_session *s;
	cs_secret *secret;
	char *junk, *sent; /* folder names found; Sent is never scanned */
	bool selected;     /* INBOX is the selected folder (for IDLE) */
} seq_watcher;

int seq_watcher_open(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                     seq_watcher **out, cs_err *err);
void seq_watcher_close(seq_watcher *w);
/* One incremental pass over INBOX and Junk; records events. */
int seq_watcher_sync(seq_watcher *w, seq_sync_stats *st, cs_err *err);
bool seq_watcher_can_idle(seq_watcher *w);
/* IDLE on INBOX in two halves, for waiting on many watchers with one
 * poll(2):
 * start IDLE and get the fd to watch (-1 when data is already buffered:
 * call idle_done at once), then end it. */
int seq_watcher_idle_start(seq_watcher *w, int *fd, cs_err *err);
int seq_watcher_idle_done(seq_watcher *w, cs_err *err);

#endif
