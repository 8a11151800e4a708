/*
 * db_limits.h - part of db.h (include db.h, never this file): what the
 * provider limits count (issue 21): the rolling counters and tenants,
 * the sends outside coldseq read from Sent, and the sending domains
 * paused toward a receiving provider.
 */
#ifndef COLDSEQ_DB_LIMITS_H
#define COLDSEQ_DB_LIMITS_H

/* ---- provider limits' counters and tenants (db_limits.c) ------------- */

/* A limit's count over its window ending now, and when one unit frees
 * (the (used - max + 1)-th oldest unit's time + the window; 0 with
 * nothing counted). */
typedef struct db_limit_use {
	long long used;
	int64_t frees_at;
} db_limit_use;

/* Count the units of limit kind k (max: the limit, for frees_at) of
 * inbox_id, or of every inbox of tenant for a tenant-wide kind (tenant
 * NULL: the inbox alone), over (now - window, now]: coldseq's messages
 * and later attempts, sent_external rows and, with queued, the inbox's
 * queued outbox rows (the scheduler's estimate; not for the
 * authoritative check, where the row being recorded is one).  A minute
 * window counts by when the server can have seen a message (db_limits.c
 * says how).  A per-message kind counts nothing. */
int db_limit_count(db *d, long long inbox_id, const char *tenant,
                   const cs_limit_kind *k, long long max, int64_t now,
                   bool queued, db_limit_use *out, cs_err *err);
/* Whether recipient's domain is none of the sending domains (inbox_id's,
 * or every tenant inbox's). */
int db_limit_external(db *d, long long inbox_id, const char *tenant,
                      const char *recipient, bool *external, cs_err *err);
/* Whether m fits caps->lim (inside db_message_add_capped's transaction):
 * caps->lim_over and the limit's figures when it does not. */
int db_limits_check(db *d, const db_message *m, db_caps *caps, cs_err *err);
/* Record a message the mailbox sent outside coldseq (the watcher reads
 * its Sent folder): one row per recipient ('' when it names none),
 * external as the caller found it; the same (inbox, msg_key, recipient)
 * twice is one row. */
int db_sent_external_add(db *d, long long inbox_id, const char *msg_key,
                         const char *recipient, bool external, int64_t sent_at,
                         const char *local_day, cs_err *err);

/* A Microsoft 365 tenant: inboxes with the same --tenant share its
 * external-recipient counter. */
typedef struct db_tenant {
	char *name;
	long long licences;       /* 0: not set (counts as 1) */
	long long external_limit; /* 0: computed from licences */
	long long inboxes;        /* live inboxes naming it */
	long long first_inbox;    /* an inbox of it (its counters; 0: none) */
} db_tenant;

void db_tenant_free(db_tenant *t);
void db_tenant_list_free(db_tenant *v, size_t n);
/* Create or change a tenant: licences and external_limit < 0 keep what
 * is stored (0 when new). */
int db_tenant_set(db *d, const char *name, long long licences,
                  long long external_limit, int64_t now, cs_err *err);
/* A tenant stored or named by a live inbox (*found false: neither). */
int db_tenant_get(db *d, const char *name, db_tenant *out, bool *found,
                  cs_err *err);
/* Every tenant stored or named by a live inbox, by name. */
int db_tenant_list(db *d, db_tenant **out, size_t *n, cs_err *err);

/* ---- the Sent folder's sync: sends outside coldseq (db_sentsync.c) ---- */

/* Whether message_id (with angle brackets) is one coldseq sent, from any
 * inbox and for any purpose (a row of messages). */
int db_sentsync_is_ours(db *d, const char *message_id, bool *ours, cs_err *err);
/* (db_sent_external_add, in db_limits.c, records them.) */
/* Messages sent outside coldseq by inbox_id since `since` (ms), and their
 * recipients (rows naming one). */
int db_sentsync_count(db *d, long long inbox_id, int64_t since,
                      long long *messages, long long *recipients, cs_err *err);

/* ---- a sending domain paused or slowed toward a receiving provider
 * (db_domain_pause.c) ------------------------------------------------------
 *
 * One row per (sending domain, receiving provider): what the provider's
 * refusals that came back as bounces decided (sequencer/seq_domain_pause.c
 * says what pause and slow mean).  A row whose until has passed is over:
 * it stays until the next refusal replaces it, nothing reads it. */
typedef enum db_dpause_mode { DB_DPAUSE_PAUSE, DB_DPAUSE_SLOW } db_dpause_mode;

typedef struct db_domain_pause {
	char *domain;   /* the sending domain, lower case */
	char *provider; /* the receiving provider's name (core/provider.c) */
	db_dpause_mode mode;
	int64_t until;
	char *code;         /* "5.7.26" */
	char *reason;       /* the provider's words, cleaned and capped */
	long long inbox_id; /* the inbox the last refusal came to (0: gone) */
	char *inbox;        /* its name (a removed one's too), or NULL */
	int64_t created_at, updated_at;
} db_domain_pause;

/* "pause", "slow"; the name's mode into *m (false: none). */
const char *db_dpause_mode_name(db_dpause_mode m);
bool db_dpause_mode_parse(const char *s, db_dpause_mode *m);
void db_domain_pause_free(db_domain_pause *p);
void db_domain_pause_list_free(db_domain_pause *v, size_t n);
/* The row of (domain, provider), over or not; *found false when none. */
int db_domain_pause_get(db *d, const char *domain, const char *provider,
                        db_domain_pause *out, bool *found, cs_err *err);
/* Insert p, or replace what the row of (p->domain, p->provider) holds
 * (its created_at stays). */
int db_domain_pause_put(db *d, const db_domain_pause *p, int64_t now,
                        cs_err *err);
/* Rows still in force at now (until > now) of domain (NULL: every
 * domain), by domain then provider; *out is NULL when none (no
 * allocation: the scheduler asks this per candidate). */
int db_domain_pause_list(db *d, const char *domain, int64_t now,
                         db_domain_pause **out, size_t *n, cs_err *err);
/* End the rows of domain toward provider (NULL: every provider) now;
 * *n (may be NULL) gets how many were in force.  Outbox rows waiting for
 * the domain (DB_WAIT_DOMAIN) of its inboxes become due now. */
int db_domain_pause_lift(db *d, const char *domain, const char *provider,
                         int64_t now, long long *n, cs_err *err);
/* fn for each message (any purpose, any outcome) the inboxes at domain
 * made since `since`, newest first, until fn returns non-zero (then that
 * is returned); strings valid during the call. */
int db_domain_sent_since(db *d, const char *domain, int64_t since,
                         int (*fn)(const char *recipient, int64_t at,
                                   void *arg),
                         void *arg, cs_err *err);
/* The reason prefix of a queued row waiting for its domain's pause. */
#define DB_WAIT_DOMAIN "waiting for the domain"

#endif
