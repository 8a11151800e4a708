/*
 * db_doctor.h - part of db.h (include db.h, never this file): what the
 * deliverability check (issue 22) reads and keeps: copies of our own
 * messages that other connected inboxes received, with what the
 * receiving server wrote about them (Authentication-Results), and the
 * doctor's last verdict per inbox.
 */
#ifndef COLDSEQ_DB_DOCTOR_H
#define COLDSEQ_DB_DOCTOR_H

/* ---- what receivers saw (db_received.c) -------------------------------- */

/* A message one of our inboxes sent (an outbox row of any purpose, known
 * by its Message-ID) as another connected inbox received it. */
typedef struct db_received {
	long long receiver_inbox_id;
	const char *message_id; /* as the messages table stores it ("<..>") */
	const char *folder;     /* "inbox" | "junk": where it first landed */
	int64_t received_at;    /* ms */
	/* results the receiving server wrote (RFC 8601 result words:
	 * "pass", "fail", "softfail", "neutral", "none", "temperror",
	 * "permerror", "policy"; "" when it wrote none) */
	const char *spf, *dkim, *dmarc;
	const char *dkim_domain;     /* d= of our DKIM-Signature, "" none */
	const char *dkim_selector;   /* s= */
	const char *dkim_headers;    /* h=, lower-case, ':'-separated */
	const char *mailfrom_domain; /* smtp.mailfrom's domain, "" unknown */
	int list_unsub; /* DB_LU_HEADER | DB_LU_POST as the copy carried */
} db_received;

enum { DB_LU_HEADER = 1, DB_LU_POST = 2 };

/* Record r once per (receiver, Message-ID): the sender inbox and purpose
 * come from the outbox row with that Message-ID; *known is false (and
 * nothing is written) when no outbox row has it.  A second sighting of
 * the same pair changes nothing (the first folder stands). */
int db_received_add(db *d, const db_received *r, bool *known, cs_err *err);

/* Per receiving provider (the receiving inbox's provider name; for a
 * generic inbox its address's domain), over received_at >= since, for
 * messages sender_inbox_id sent, most copies first.  dmarc_pass counts
 * the receiver's dmarc=pass, or where it wrote no dmarc= an SPF or DKIM
 * pass aligned with the sender's From domain (db_received.c says how
 * alignment is taken without the Public Suffix List). */
typedef struct db_received_sum {
	char provider[32];
	long long total;
	long long spf_pass, dkim_pass, dmarc_pass;
	long long with_spf, with_dkim, with_dmarc; /* had a result at all */
	long long inbox, junk;
	/* campaign copies with List-Unsubscribe-Post whose h= covers both
	 * List-Unsubscribe and -Post (RFC 8058 4) */
	long long unsub_signed;
	long long campaign; /* copies of campaign messages, and of them */
	long long list_unsub, list_unsub_post; /* with each header */
} db_received_sum;
int db_received_summary(db *d, long long sender_inbox_id, int64_t since,
                        db_received_sum **out, size_t *n, cs_err *err);

/* The DKIM selectors (s=) with their signing domains (d=) seen on
 * sender_inbox_id's received copies since `since`, most recent first,
 * each pair once. */
typedef struct db_dkim_seen {
	char *selector, *domain;
	char *headers; /* the h= of the most recent copy */
} db_dkim_seen;
int db_received_selectors(db *d, long long sender_inbox_id, int64_t since,
                          db_dkim_seen **out, size_t *n, cs_err *err);
void db_dkim_seen_free(db_dkim_seen *v, size_t n);

/* ---- the doctor's verdict per inbox (db_doctor.c) ---------------------- */

typedef struct db_doctor_verdict {
	long long inbox_id;
	char verdict[8];    /* "pass" | "warn" | "fail" */
	int64_t checked_at; /* ms */
	char *failing;      /* "spf.lookup_limit,dmarc.missing" ("" none) */
} db_doctor_verdict;

int db_doctor_verdict_set(db *d, long long inbox_id, const char *verdict,
                          const char *failing, int64_t checked_at, cs_err *err);
/* *found false when the inbox was never checked. */
int db_doctor_verdict_get(db *d, long long inbox_id, db_doctor_verdict *out,
                          bool *found, cs_err *err);
void db_doctor_verdict_free(db_doctor_verdict *v);

#endif
