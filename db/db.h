/*
 * db.h - coldseq's storage: SQLite schema, migrations and queries.
 *
 * db/ is the only code that speaks SQL.  Every query is a prepared
 * statement with bound parameters.  A db handle belongs to one thread at a
 * time (in the service: the loop thread).
 *
 * Errors: functions return 0 or a negative CS_E* code and fill err with a
 * sentence naming the database file.
 */
#ifndef COLDSEQ_DB_H
#define COLDSEQ_DB_H

#include "core/core.h"

typedef struct db db;

/* One numbered migration step.  Each runs in its own transaction together
 * with the PRAGMA user_version update, so it applies whole or not at all. */
typedef struct db_migration {
	int version;
	const char *name;
	const char *sql;
} db_migration;

enum {
	DB_OPEN_CREATE = 1,     /* create the file (mode 0600) when missing */
	DB_OPEN_NO_MIGRATE = 2, /* tests: open without applying migrations */
	DB_OPEN_FULL_CHECK = 4, /* quick_check whatever the database's size */
};

/* Up to this size an existing database is checked whole (PRAGMA
 * quick_check) at every open; past it only with DB_OPEN_FULL_CHECK. */
#define DB_FULL_CHECK_MAX (64LL << 20)

/* PRAGMA application_id of every coldseq database ("CSEQ"). */
#define DB_APPLICATION_ID 0x43534551

/* Open path, set WAL, foreign keys, busy timeout, and bring the schema up
 * to date.  A database written by a newer coldseq fails with CS_EVERSION
 * and is left unchanged.  An existing file is first checked, reading only:
 * an empty (0-byte) file, a file that is no SQLite database or one coldseq
 * did not make (CS_EINVAL), and a damaged one (cut short, or PRAGMA
 * quick_check up to DB_FULL_CHECK_MAX or with DB_OPEN_FULL_CHECK; CS_EDB)
 * are refused and never written to (DB_OPEN_NO_MIGRATE skips the check).
 * Caller closes with db_close. */
int db_open(const char *path, int flags, db **out, cs_err *err);
/* Whether path is a 0-byte regular file with no write-ahead log holding
 * pages: what an interrupted init may leave, which holds no data. */
bool db_file_is_empty(const char *path);
void db_close(db *d);
const char *db_path(const db *d);

/* Schema version stored in the file, and the newest this build knows. */
int db_schema_version(db *d, int *out, cs_err *err);
int db_latest_version(void);
/* Apply steps[] (ascending versions) above the current version.  Exposed
 * so tests can run a failing or future step; db_open uses the built-in
 * list. */
int db_migrate(db *d, const db_migration *steps, size_t n, cs_err *err);

/* A consistent copy of the whole database into a new file at path (for
 * projections that must not touch the real data). */
int db_copy(db *d, const char *path, cs_err *err);

/* Transactions (BEGIN IMMEDIATE, so writers queue on busy_timeout); a
 * db_begin inside one opens a savepoint.  An outermost db_commit that
 * fails has rolled the transaction back (db_rollback after it is
 * harmless). */
int db_begin(db *d, cs_err *err);
int db_commit(db *d, cs_err *err);
void db_rollback(db *d);

/* ---- meta: small internal key/value pairs (vault key check, ...) ------ */

/* *found is false (and out unchanged) when the key is not there. */
int db_meta_get(db *d, const char *key, cs_buf *out, bool *found, cs_err *err);
int db_meta_set(db *d, const char *key, const void *val, size_t n, cs_err *err);

/* ---- settings: typed user configuration (`coldseq config`) ----------- */

typedef enum db_config_type {
	DB_CFG_STRING,
	DB_CFG_INT,
	DB_CFG_BOOL,
	DB_CFG_ENUM,
	DB_CFG_DURATION, /* stored as seconds; accepts 90, 90s, 15m, 2h, 1d */
	DB_CFG_TIMEZONE, /* an IANA zone name */
	DB_CFG_URL,      /* http:// or https:// */
	DB_CFG_SECRET,   /* sealed in the vault, never shown (see below) */
} db_config_type;

typedef struct db_config_def {
	const char *key;
	db_config_type type;
	const char *def;     /* default, in canonical form */
	const char *choices; /* DB_CFG_ENUM: "a|b|c" */
	long long min, max;  /* DB_CFG_INT and DB_CFG_DURATION */
	const char *help;    /* one line */
} db_config_def;

/* The known keys, in display order; NULL-key terminated. */
const db_config_def *db_config_defs(void);
/* The definition of key, or NULL for an unknown key. */
const db_config_def *db_config_find(const char *key);
/* Check and canonicalise value for def into out (e.g. "2h" -> "7200").
 * CS_EINVAL with a sentence naming the key when the value is bad. */
int db_config_parse(const db_config_def *def, const char *value, cs_buf *out,
                    cs_err *err);
/* Stored value or the default; *is_set tells which (may be NULL). */
int db_config_get(db *d, const char *key, cs_buf *out, bool *is_set,
                  cs_err *err);
int db_config_get_int(db *d, const char *key, long long *out, cs_err *err);
/* Validate, canonicalise and store. */
int db_config_set(db *d, const char *key, const char *value, cs_err *err);
/* Back to the default; ok when it was not set. */
int db_config_unset(db *d, const char *key, cs_err *err);

/* Secret settings (DB_CFG_SECRET, e.g. oauth.google.client_secret) are
 * never stored in clear: the value is a vault blob in meta under
 * DB_CFG_SEALED_PREFIX KEY, sealed by the caller for ("meta", "value",
 * that meta key).  db_config_set refuses them; db_config_get gives
 * "(sealed)" when set and "" when not, never the value. */
#define DB_CFG_SEALED_PREFIX "config/"
int db_config_set_sealed(db *d, const char *key, const void *blob, size_t n,
                         cs_err *err);
/* The blob (appended); *found false when not set. */
int db_config_get_sealed(db *d, const char *key, cs_buf *blob, bool *found,
                         cs_err *err);

/* ---- sealed secrets: every vault blob stored anywhere ---------------- */

/* One encrypted value and its place (what the vault binds as AAD). */
typedef struct db_sealed {
	const char *table;
	const char *column;
	const char *rowkey; /* stable row key (UUID) */
	const void *blob;
	size_t len;
} db_sealed;

/* Call fn for each sealed value; fn returning non-zero stops with that
 * value.  Pointers are valid only during the call. */
int db_sealed_foreach(db *d, int (*fn)(const db_sealed *s, void *arg),
                      void *arg, cs_err *err);
/* Replace the blob of one sealed value (within the caller's transaction). */
int db_sealed_update(db *d, const db_sealed *s, cs_err *err);
/* Count of sealed values. */
int db_sealed_count(db *d, long long *out, cs_err *err);

/* ---- inboxes (db_inbox.c) --------------------------------------------- */

/* One connected mailbox.  Strings are owned by the struct (db_inbox_free).
 * The secret (password or token) is not here: it is a vault blob bound to
 * ("inboxes", "secret", uuid), read with db_inbox_secret. */
/* An inbox's states and modes.  Code compares these; their names (the
 * words in the database and in JSON) are db_inbox.c's tables, read and
 * written only through the functions below.  An unknown name parses as
 * the first value (the schema's CHECK keeps the database to the names). */
typedef enum db_inbox_status {
	DB_INBOX_ACTIVE = 0,
	DB_INBOX_PAUSED,
	DB_INBOX_ERROR
} db_inbox_status;
typedef enum db_auth_kind { DB_AUTH_PASSWORD = 0, DB_AUTH_OAUTH2 } db_auth_kind;
/* ok; pending: an imported OAuth row, not connected yet; auth_failed: the
 * provider refused the grant (auth_reason names the reconnect command) */
typedef enum db_auth_state {
	DB_AUTH_OK = 0,
	DB_AUTH_PENDING,
	DB_AUTH_FAILED
} db_auth_state;
/* APPEND a copy to Sent: auto (when the provider does not keep one),
 * always, never */
typedef enum db_sent_copy {
	DB_SENT_COPY_AUTO = 0,
	DB_SENT_COPY_ALWAYS,
	DB_SENT_COPY_NEVER
} db_sent_copy;

/* "active", "paused", "error" */
const char *db_inbox_status_name(db_inbox_status s);
bool db_inbox_status_parse(const char *name, db_inbox_status *out);
/* "password", "oauth2" */
const char *db_auth_kind_name(db_auth_kind k);
bool db_auth_kind_parse(const char *name, db_auth_kind *out);
/* "ok", "pending", "auth_failed" */
const char *db_auth_state_name(db_auth_state s);
bool db_auth_state_parse(const char *name, db_auth_state *out);
/* "auto", "always", "never" */
const char *db_sent_copy_name(db_sent_copy m);
bool db_sent_copy_parse(const char *name, db_sent_copy *out);

typedef struct db_inbox {
	long long id;
	char *uuid, *name, *email;
	cs_provider_id provider;    /* stored as its name (core/provider.c) */
	char *smtp_host, *smtp_tls; /* tls|starttls|none */
	int smtp_port;
	char *imap_host, *imap_tls;
	int imap_port;
	char *username;
	db_auth_kind auth;
	char *ca_file, *display_name, *signature, *timezone;
	db_sent_copy sent_copy;
	db_inbox_status status;
	bool insecure_tls;
	int daily_cap;
	/* overrides of the provider's limits, "name=N name=N" (N 0: off;
	 * cs_limits_override); NULL or "": the provider table's */
	char *limits;
	bool trial;   /* a trial account (Google Workspace: lower limits) */
	char *tenant; /* shares a tenant's counters (NULL: none) */
	int domain_hourly_cap;     /* 0: none */
	int min_gap;               /* seconds; 0: config inbox.min_interval */
	int ramp_start, ramp_step; /* 0: no ramp */
	char *paused_reason;
	int64_t paused_until; /* 0: until resumed */
	/* the pause is a provider's answer at submission (quota, restricted
	 * sender, SMTP AUTH off): warmup waits too */
	bool provider_hold;
	int64_t next_send_at; /* pacing: no campaign send before (0: none) */
	/* Only db_inbox_add stores auth_state; afterwards db_inbox_set_auth
	 * changes it. */
	db_auth_state auth_state;
	char *auth_reason;
	char **tags;
	size_t ntags;
	int64_t created_at, updated_at;
} db_inbox;

void db_inbox_free(db_inbox *in);
/* Insert in (in->uuid set by the caller, who sealed blob for it).  The
 * same name or email twice fails with CS_EEXIST naming the inbox that has
 * it. */
int db_inbox_add(db *d, const db_inbox *in, const void *blob, size_t blob_len,
                 cs_err *err);
/* Replace every setting of the inbox with in->uuid (tags too). */
int db_inbox_update(db *d, const db_inbox *in, cs_err *err);
/* Replace the sealed secret. */
int db_inbox_set_secret(db *d, const char *uuid, const void *blob,
                        size_t blob_len, cs_err *err);
/* A live inbox by name (case-insensitive); CS_ENOTFOUND when there is
 * none (a removed inbox is none). */
int db_inbox_get(db *d, const char *name, db_inbox *out, cs_err *err);
/* The sealed secret of uuid (appended to blob); *found false if none. */
int db_inbox_secret(db *d, const char *uuid, cs_buf *blob, bool *found,
                    cs_err *err);
/* All live inboxes (with tag when tag is not NULL), by name: never the
 * removed ones, whose rows only keep the history.  *out is an array
 * the caller frees with db_inbox_list_free. */
int db_inbox_list(db *d, const char *tag, db_inbox **out, size_t *n,
                  cs_err *err);
void db_inbox_list_free(db_inbox *list, size_t n);
/* What `inbox remove` did, or found (free with db_inbox_removal_free,
 * whatever db_inbox_remove returned). */
typedef struct db_inbox_removal {
	char *name;            /* the inbox's name as stored */
	char *tombstone;       /* the name its history shows from now on */
	long long threads;     /* threads in progress found */
	long long stopped;     /* enrollments stopped (threads, with force) */
	long long handed_back; /* queued first steps given back to the
	                        * campaign's other inboxes */
} db_inbox_removal;

/* Remove a live inbox, keeping its history.  Its row stays as a
 * tombstone (removed_at set, renamed "NAME (removed)", secret wiped,
 * never listed, loaded or sent from again), so messages, events, outbox
 * rows and enrollments keep their inbox; its live state goes (tags,
 * folders, tokens, warmup settings and plans).  A queued first step goes
 * back to the campaign's other inboxes.  Threads in progress (a step
 * may have reached the contact, the sequence is not over) make it
 * CS_ECONFLICT unless force, which stops them with a reason: no other
 * inbox may continue a thread.  One transaction; CS_ENOTFOUND when no
 * live inbox has that name. */
int db_inbox_remove(db *d, const char *name, bool force, int64_t now,
                    db_inbox_removal *out, cs_err *err);
void db_inbox_removal_free(db_inbox_removal *r);
/* Insert a bare inbox row; for tests of the sealed-value machinery. */
int db_inbox_insert_min(db *d, const char *name, const char *email,
                        const char *uuid, const void *secret_blob,
                        size_t blob_len, cs_err *err);

/* ---- messages handed to SMTP (db_message.c) -------------------------- */

/* What a message is for (messages.purpose, outbox.purpose); the names,
 * the database's words, are db_message.c's table. */
typedef enum db_purpose {
	DB_PURPOSE_CAMPAIGN = 0, /* a campaign step: its enrollment moves on */
	DB_PURPOSE_WARMUP, /* a warmup send: its warmup_plan row settles */
	DB_PURPOSE_TEST,   /* send-test: sent at once, never again */
	DB_PURPOSE_N
} db_purpose;

/* "campaign", "warmup", "test" */
const char *db_purpose_name(db_purpose p);
bool db_purpose_parse(const char *name, db_purpose *out);

typedef struct db_message {
	const char *message_id; /* with angle brackets */
	long long inbox_id;
	const char *inbox_email, *recipient;
	db_purpose purpose;
	const char *subject;
	int64_t created_at;    /* service clock */
	const char *local_day; /* YYYY-MM-DD in the inbox's time zone */
} db_message;

/* The caps a message must fit in: its inbox's local_day (counts as
 * db_message_count_caps and db_message_count_day define them) and the
 * provider's rolling limits (db_limits.c). */
typedef struct db_caps {
	long long cap;   /* campaign side (campaign, test, warmup that counts
	                    toward the cap); < 0: not checked */
	bool own_quota;  /* also fewer than quota of the message's purpose */
	long long quota; /* messages of that purpose (sending, sent,
	                    uncertain) */
	/* the provider limits in force (seq_limits_of; 0: off) and the
	 * inbox's tenant (tenant-wide limits; NULL: the inbox alone) */
	long long lim[CS_LIM_COUNT];
	const char *tenant;
	/* out: the counts of the day before this message */
	long long campaign, total, own;
	/* out: a provider limit refused it: which, its count and maximum,
	 * and when the window frees one unit (0: never by itself) */
	bool lim_over;
	cs_limit_id lim_id;
	long long lim_used, lim_max;
	int64_t lim_frees_at;
	/* out, when recorded: the least room a limit has left after this
	 * message (LLONG_MAX: no limit counted) */
	long long lim_left;
} db_caps;

/* Record an attempt at m (db_message_attempt: its messages row as
 * 'sending' and a send_attempts row) only if it fits caps: the day's
 * counts and the insert in one write transaction (BEGIN IMMEDIATE; a savepoint
 * inside a caller's transaction, which db_begin also opened IMMEDIATE), so no
 * other process or connection can record a message between the count
 * and the insert.  *refused: over a cap or a provider limit
 * (caps->lim_over says which), nothing written (rc 0).  Every path that
 * sends (service batches, warmup, send-test) records through here. */
int db_message_add_capped(db *d, const db_message *m, db_caps *caps,
                          bool *refused, cs_err *err);
/* Store the outcome (an smtp_outcome_name) and the server's reply. */
int db_message_set_outcome(db *d, const char *message_id, const char *outcome,
                           int code, const char *reply, int64_t now,
                           cs_err *err);
/* Messages of inbox_id on local_day that count toward its cap
 * (sending, sent, uncertain) for purpose. */
int db_message_count_day(db *d, long long inbox_id, const char *local_day,
                         db_purpose purpose, long long *out, cs_err *err);

/* ---- suppressions (db_suppress.c) ------------------------------------ */

/* kind is "address" or "domain"; value is stored lower-cased.  *added
 * (may be NULL) tells whether it was new. */
int db_suppress_add(db *d, const char *kind, const char *value,
                    const char *reason, const char *source, int64_t now,
                    bool *added, cs_err *err);
int db_suppress_remove(db *d, const char *kind, const char *value,
                       bool *removed, cs_err *err);
/* Whether email (or its domain) is suppressed, or the address was
 * forgotten; the reason is appended to reason (may be NULL). */
int db_is_suppressed(db *d, const char *email, bool *out, cs_buf *reason,
                     cs_err *err);

/* ---- contacts, lists, forget (db_contact.c) --------------------------- */

/* A contact's status: active, or why the sequence stopped for good (never
 * back to active; db_contact_mark).  The names, the database's and the
 * JSON's words, are db_contact.c's table. */
typedef enum db_contact_status {
	DB_CONTACT_ACTIVE = 0,
	DB_CONTACT_REPLIED,
	DB_CONTACT_BOUNCED,
	DB_CONTACT_UNSUBSCRIBED,
	DB_CONTACT_COMPLAINED
} db_contact_status;

/* "active", "replied", "bounced", "unsubscribed", "complained" */
const char *db_contact_status_name(db_contact_status s);
bool db_contact_status_parse(const char *name, db_contact_status *out);

/* One contact.  Strings owned by the struct (db_contact_free); absent
 * fields are NULL.  custom is a JSON object text ({"Column": "value"}). */
typedef struct db_contact {
	long long id;
	char *email, *first_name, *last_name, *company, *title, *website;
	char *timezone, *custom;
	db_contact_status status;
	char **lists; /* names; filled by db_contact_get only */
	size_t nlists;
	int64_t created_at, updated_at;
} db_contact;

void db_contact_free(db_contact *c);
/* By normalised address, case-insensitively; CS_ENOTFOUND if none. */
int db_contact_get(db *d, const char *email, db_contact *out, cs_err *err);
/* fn for each contact (of list when not NULL) by address, at most limit
 * (< 0: all); fn returning non-zero stops with that value.  CS_ENOTFOUND
 * when list does not exist. */
int db_contact_foreach(db *d, const char *list, long long limit,
                       int (*fn)(const db_contact *c, void *arg), void *arg,
                       cs_err *err);
/* Erase the contact (row, custom fields, list memberships, address
 * suppression) and keep a salted hash of the address so it is never
 * imported or mailed again.  Sent messages and watcher events keep their
 * rows (caps and counts stay right) but the address in them becomes
 * "forgotten:" and 16 hex digits of the hash, their subjects are emptied,
 * and SMTP replies and bounce reasons lose the address.  *found tells
 * whether it was a contact; the hash is kept either way.  *purged tells
 * whether the WAL, which still holds the old pages, was emptied into the
 * database (false when a reader kept it busy: a later checkpoint does it). */
int db_contact_forget(db *d, const char *email, int64_t now, bool *found,
                      bool *purged, cs_err *err);
/* Whether the normalised address was forgotten. */
int db_is_forgotten(db *d, const char *email, bool *out, cs_err *err);

/* ---- bulk contact import (db_import.c) -------------------------------- */

/*
 * Rows are checked against a snapshot taken at db_import_open (stored
 * addresses, suppressions, forgotten hashes) and against each other, then
 * staged in an unlinked file in stage_dir, outside any transaction: the
 * service keeps writing meanwhile.  db_import_commit stores the staged rows
 * in one transaction.  Memory grows with the number of distinct addresses
 * (about 40 bytes each), never with the file.
 */
typedef struct db_import db_import;

typedef enum db_import_verdict {
	DB_IMP_NEW,        /* not stored yet */
	DB_IMP_EXISTING,   /* a stored contact has this address */
	DB_IMP_DUPLICATE,  /* an earlier row of the file has it */
	DB_IMP_SUPPRESSED, /* address, domain or forgotten hash */
} db_import_verdict;

/* One row to stage; NULL fields are empty. */
typedef struct db_import_row {
	const char *email; /* normalised */
	const char *first_name, *last_name, *company, *title, *website;
	const char *timezone;
	const char *custom; /* JSON object text or NULL */
} db_import_row;

typedef struct db_import_counts {
	long long inserted, updated, raced; /* raced: stored meanwhile */
	long long added;                    /* rows newly on the list */
} db_import_counts;

int db_import_open(db *d, const char *stage_dir, db_import **out, cs_err *err);
/* Classify a normalised address.  NEW and EXISTING addresses are remembered (a
 * later row with it is a DUPLICATE; *first_line names the first).  *reason gets
 * the suppression reason (borrowed, valid until db_import_free). */
db_import_verdict db_import_check(db_import *im, const char *email, size_t line,
                                  size_t *first_line, const char **reason);
int db_import_stage(db_import *im, size_t line, bool existing,
                    const db_import_row *r, cs_err *err);
long long db_import_staged(const db_import *im);
/* The caller knows no service runs on the database (seq_service_probe):
 * db_import_commit may then store through the rollback journal, writing
 * each page once instead of twice (WAL); it falls back to WAL when another
 * connection has the database open. */
void db_import_set_alone(db_import *im, bool alone);
/* Store every staged row in one transaction: new contacts inserted;
 * existing ones updated (update: non-empty values replace, custom fields
 * merge) or left alone; each added to list (created when new; NULL: no
 * list); custom field names registered.  progress (may be NULL) is called
 * now and then with the rows done; returning non-zero aborts and rolls
 * back. */
int db_import_commit(db_import *im, const char *list,
                     const char *const *custom_names, size_t ncustom,
                     bool update, int64_t now,
                     int (*progress)(void *arg, long long done), void *arg,
                     db_import_counts *out, cs_err *err);
void db_import_free(db_import *im);

/* ---- templates and their versions (db_template.c) --------------------- */

typedef struct db_template {
	long long version_id; /* stable: what a campaign keeps */
	char *name, *source, *file;
	int version, nversions;
	bool has_subject, has_html;
	int64_t created_at; /* of this version */
} db_template;

void db_template_free(db_template *t);
/* Store source as the next version of name (created when new).  When it
 * equals the latest version nothing is stored and *unchanged is true.
 * *version gets the version number. */
int db_template_add(db *d, const char *name, const char *source,
                    const char *file, bool has_subject, bool has_html,
                    int64_t now, int *version, bool *unchanged, cs_err *err);
/* Version `version` of name (0: the latest); CS_ENOTFOUND if none. */
int db_template_get(db *d, const char *name, int version, db_template *out,
                    cs_err *err);
/* One version by its id (what a campaign step keeps). */
int db_template_by_version(db *d, long long version_id, db_template *out,
                           cs_err *err);
/* Latest version of every template, by name (source not filled).  Free
 * with db_template_list_free. */
int db_template_list(db *d, db_template **out, size_t *n, cs_err *err);
void db_template_list_free(db_template *list, size_t n);

/* ---- watcher: folder state, events, matching (db_event.c) ------------- */

/* How far a watched folder (role inbox|junk|sent) has been read. */
typedef struct db_folder {
	char *name;
	uint32_t uidvalidity, last_uid;
	uint64_t highestmodseq; /* 0 without CONDSTORE */
} db_folder;

int db_folder_get(db *d, long long inbox_id, const char *role, db_folder *out,
                  bool *found, cs_err *err);
void db_folder_free(db_folder *f);
int db_folder_set(db *d, long long inbox_id, const char *role, const char *name,
                  uint32_t uidvalidity, uint32_t last_uid,
                  uint64_t highestmodseq, int64_t now, cs_err *err);

/* The kinds an event is stored as (the inbound-event policy table,
 * sequencer/seq_policy.c, says which); the names, the database's and the
 * JSON's words, are db_event.c's table. */
typedef enum db_event_kind {
	DB_EV_OTHER = 0,
	DB_EV_BOUNCE,
	DB_EV_DELAY,
	DB_EV_COMPLAINT,
	DB_EV_AUTO_REPLY,
	DB_EV_UNSUBSCRIBE,
	DB_EV_REPLY,
	DB_EV_WARMUP,
	DB_EV_COUNT
} db_event_kind;

/* "other", "bounce", "delay", "complaint", "auto_reply", "unsubscribe",
 * "reply", "warmup"; "other" for a value out of range. */
const char *db_event_kind_name(db_event_kind k);
/* The kind named name; false for an unknown name. */
bool db_event_kind_parse(const char *name, db_event_kind *out);

/* One event; strings borrowed.  hard: 1, 0, or -1 (not applicable). */
typedef struct db_event {
	long long inbox_id;
	const char *msg_key;   /* Message-ID, or a hash of Date/From/Subject */
	const char *recipient; /* reports: the recipient; else NULL */
	db_event_kind kind;
	const char *folder, *from_addr, *subject, *message_id;
	const char *in_reply_to, *related_message_id, *contact;
	const char *status, *reason, *return_date;
	int hard;
	int64_t received_at;
} db_event;

/* Insert unless (inbox, msg_key, recipient) is there; *added says which. */
int db_event_add(db *d, const db_event *e, bool *added, cs_err *err);

typedef struct db_event_row {
	db_event_kind kind;
	const char *inbox, *from_addr, *contact, *message_id;
	const char *in_reply_to, *subject, *recipient, *status, *reason;
	const char *return_date, *folder, *related_message_id;
	int hard;
	int64_t received_at;
} db_event_row;

typedef struct db_event_filter {
	int64_t since;     /* ms; 0 = all */
	const char *kind;  /* a db_event_kind's name; NULL: every kind but
	                      warmup (the CLI's --kind, checked) */
	const char *inbox; /* name or NULL */
	long long limit;   /* 0 = no limit */
} db_event_filter;

/* Events newest first; strings valid during fn. */
int db_event_list(db *d, const db_event_filter *f,
                  int (*fn)(const db_event_row *r, void *arg), void *arg,
                  cs_err *err);

/* A message we sent, as found by the matching lookups (owned strings). */
typedef struct db_sent_ref {
	char *message_id, *recipient, *subject;
	db_purpose purpose;
	int64_t created_at;
} db_sent_ref;

void db_sent_ref_free(db_sent_ref *r);
/* By Message-ID, from inbox_id (0: from any inbox). */
int db_message_by_id(db *d, long long inbox_id, const char *message_id,
                     db_sent_ref *out, bool *found, cs_err *err);
/* The newest message from inbox_id to recipient with this subject. */
int db_message_by_subject(db *d, long long inbox_id, const char *recipient,
                          const char *subject, db_sent_ref *out, bool *found,
                          cs_err *err);
/* The newest message from inbox_id to recipient. */
int db_message_last_to(db *d, long long inbox_id, const char *recipient,
                       db_sent_ref *out, bool *found, cs_err *err);
/* When inbox_id first sent anything. */
int db_message_first_at(db *d, long long inbox_id, int64_t *out, bool *found,
                        cs_err *err);
/* Set a contact's status (replied, bounced, unsubscribed, complained);
 * never back to active, and a stop outranks replied.  No contact: no-op. */
int db_contact_mark(db *d, const char *email, db_contact_status status,
                    int64_t now, cs_err *err);

/* ---- how an inbox authenticates (db_auth.c) ---------------------------- */

/* An inbox's authorization state and, when it was connected with OAuth2,
 * its token row (found).  refresh is the sealed refresh token, bound to
 * ("oauth_tokens", "refresh_token", inbox uuid).  Times: ms, real time. */
typedef struct db_token {
	db_auth_state auth_state; /* of the inbox */
	char *auth_reason;        /* of the inbox */
	bool found;
	cs_provider_id provider; /* google or microsoft when found */
	char *tenant;            /* Microsoft only, may be NULL */
	cs_buf refresh;
	long long generation; /* grows when the refresh token changes */
	int64_t expires_at;   /* of the access token (inboxes.secret) */
	int64_t refreshed_at, refresh_issued_at, used_at, connected_at;
} db_token;

void db_token_free(db_token *t);
/* CS_ENOTFOUND when the inbox is gone; out->found false without a row. */
int db_token_get(db *d, long long inbox_id, db_token *out, cs_err *err);

/* New tokens for an inbox: blobs sealed by the caller (access for
 * ("inboxes", "secret", uuid)). */
typedef struct db_token_set {
	long long inbox_id;
	cs_provider_id provider;
	const char *tenant;
	const void *access;
	size_t access_len;
	const void *refresh; /* NULL: the grant kept the old refresh token */
	size_t refresh_len;
	int64_t expires_at, now;
	long long expect_generation; /* db_token_refreshed: the one used */
} db_token_set;

/* After `inbox connect`: both tokens, their times and auth_state ok, in
 * one transaction (a reconnect replaces the row). */
int db_token_connect(db *d, const db_token_set *t, cs_err *err);
/* After a refresh grant: the access token (and a rotated refresh token)
 * replace the old ones in one transaction, only when the stored
 * generation is still expect_generation; else nothing is written and
 * *raced is true (another process refreshed meanwhile). */
int db_token_refreshed(db *d, const db_token_set *t, bool *raced, cs_err *err);
/* An access token was handed out at now. */
int db_token_used(db *d, long long inbox_id, int64_t now, cs_err *err);
/* auth_state ok|pending|auth_failed with reason (may be NULL). */
int db_inbox_set_auth(db *d, long long inbox_id, db_auth_state state,
                      const char *reason, int64_t now, cs_err *err);
/* The inbox's queued first steps go back to their enrollments (active,
 * no inbox, due now) so other inboxes take those contacts; *n how many. */
int db_outbox_release_new(db *d, long long inbox_id, int64_t now, long long *n,
                          cs_err *err);

/* Pause or resume an inbox (status, reason, until: 0 = until resumed). */
int db_inbox_set_status(db *d, const char *name, db_inbox_status status,
                        const char *reason, int64_t until, int64_t now,
                        cs_err *err);
/* Mark the pause of paused inbox id as a provider's answer
 * (db_inbox.provider_hold); db_inbox_set_status clears it. */
int db_inbox_set_provider_hold(db *d, long long id, cs_err *err);

/* ---- status and statistics (db_stats.c) ------------------------------- */

/* Work waiting or stuck, over every campaign. */
typedef struct db_queue_counts {
	long long queued, sending; /* outbox rows by state */
	long long held; /* outbox rows held: may have been sent (uncertain) */
	long long enr_held; /* enrollments held: a step could not render */
} db_queue_counts;

int db_queue_counts_get(db *d, db_queue_counts *out, cs_err *err);
/* inbox_id's campaign messages created since `since` that the server
 * took or may have taken (sending, sent, uncertain), and how many of
 * those messages a hard-bounce event reports: the one definition of the
 * hard-bounce rate (status shows it, bounce protection acts on it). */
int db_inbox_bounce_counts(db *d, long long inbox_id, int64_t since,
                           long long *sends, long long *hard, cs_err *err);

/* ---- what the running service sees of an inbox (db_runtime.c) -------- */

/* Written by the service only, on change (never every pass), read by the
 * CLI (status, campaign explain): what the CLI's own process cannot know.
 * Times are real time (ms).  A row is the service's with that pid: a
 * reader compares pid with the running service's and ignores the row
 * otherwise (left by a service that has stopped). */
/* The IMAP watcher's state as the service recorded it: none (not
 * watched: NULL in the database), starting (no sync finished yet), ok
 * (synced: its follow-ups may go), down (cannot connect or sync).  The
 * names, the database's and the JSON's words, are db_runtime.c's table. */
typedef enum db_watch_state {
	DB_WATCH_NONE = 0,
	DB_WATCH_STARTING,
	DB_WATCH_OK,
	DB_WATCH_DOWN
} db_watch_state;

/* "none", "starting", "ok", "down" */
const char *db_watch_state_name(db_watch_state s);
bool db_watch_state_parse(const char *name, db_watch_state *out);

typedef struct db_inbox_runtime {
	long long inbox_id;
	long pid;
	db_watch_state watch_state;
	char *watch_error;   /* down: why */
	int64_t watch_since; /* in that state since */
	/* why the inbox's settings or credentials cannot be used to send
	 * (NULL: they could, last time the service tried) */
	char *send_error;
	int64_t send_since;
} db_inbox_runtime;

/* *found false (and *out zeroed) when the inbox has no row. */
int db_runtime_get(db *d, long long inbox_id, db_inbox_runtime *out,
                   bool *found, cs_err *err);
void db_runtime_free(db_inbox_runtime *r);
/* Record the watcher's state for the service pid (the row's send part is
 * cleared when the row was another service's). */
int db_runtime_set_watch(db *d, long long inbox_id, long pid,
                         db_watch_state state, const char *error, int64_t since,
                         int64_t now, cs_err *err);
/* Record why the inbox cannot send (error NULL: it can again). */
int db_runtime_set_send(db *d, long long inbox_id, long pid, const char *error,
                        int64_t since, int64_t now, cs_err *err);

/* How db_campaign_stats splits a campaign's figures. */
typedef enum db_stats_by {
	DB_BY_NONE,
	DB_BY_QUARTER, /* 15-minute spans of outbox.updated_at (every zone's
	                * offset and DST change falls on a quarter hour, so a
	                * caller can fold them into local days) */
	DB_BY_INBOX,
	DB_BY_STEP,
	DB_BY_VARIANT,
} db_stats_by;

/* What one campaign's messages (outbox rows sent or held) led to, for one
 * split value.  Each count is of messages: sent (state sent), and those
 * followed by at least one event of a kind (a reply, a hard or soft
 * bounce, ...). */
typedef struct db_stats_row {
	long long campaign_id;
	long long key;     /* QUARTER: span start (ms); INBOX: inbox id;
	                    * STEP, VARIANT: step; NONE: 0 */
	const char *label; /* INBOX: inbox name; VARIANT: template name */
	int variant;       /* VARIANT: 0-based index in the step */
	long long sent, replied, bounced_hard, bounced_soft, complaints;
	long long unsubscribed, auto_replies;
} db_stats_row;

/* fn per (campaign, split value) with messages, of campaign_id (0: every
 * campaign), ordered by campaign id then split; strings valid during the
 * call.  Warmup never counts. */
int db_campaign_stats(db *d, long long campaign_id, db_stats_by by,
                      int (*fn)(const db_stats_row *r, void *arg), void *arg,
                      cs_err *err);
/* Stopped enrollments of campaign_id by reason ("contact replied",
 * "suppressed", ...: the text before any parenthesis), most first. */
int db_campaign_stops(db *d, long long campaign_id,
                      int (*fn)(const char *reason, long long n, void *arg),
                      void *arg, cs_err *err);

/* The rest of db.h, split by concern; modules include db.h only. */
#include "db/db_sched.h"
#include "db/db_warmup.h"
#include "db/db_limits.h"
#include "db/db_doctor.h"

#endif
