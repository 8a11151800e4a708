/*
 * db_sched.h - part of db.h (include db.h, never this file): campaigns,
 * the scheduler's queries and the outbox.
 */
#ifndef COLDSEQ_DB_SCHED_H
#define COLDSEQ_DB_SCHED_H

/* ---- campaigns (db_campaign.c) ---------------------------------------- */

/* Window days: bit w for weekday w (0 = Sunday). */
typedef struct db_variant {
	long long template_version_id;
	char *template_name; /* owned */
	long long assigned;
} db_variant;

typedef struct db_step {
	int step;         /* 1-based */
	int delay_amount; /* 0 for step 1 */
	char *delay_unit; /* minutes|hours|days|business_days (owned) */
	bool new_thread;
	db_variant *variants; /* owned */
	size_t nvariants;
} db_step;

/* A campaign's status; deleted is read, never set (a deleted campaign's
 * row stays, deleted_at set).  Names: db_campaign.c's table. */
typedef enum db_campaign_status {
	DB_CAMPAIGN_DRAFT = 0,
	DB_CAMPAIGN_ACTIVE,
	DB_CAMPAIGN_PAUSED,
	DB_CAMPAIGN_DELETED
} db_campaign_status;

/* "draft", "active", "paused", "deleted" */
const char *db_campaign_status_name(db_campaign_status s);
bool db_campaign_status_parse(const char *name, db_campaign_status *out);

typedef struct db_campaign {
	long long id;
	char *name, *file, *source, *list; /* list: NULL when none */
	char *inboxes;                     /* selectors, space separated */
	char *timezone;
	db_campaign_status status;
	int window_days, window_from, window_to; /* minutes after midnight */
	bool contact_tz, esp_match, stop_on_auto_reply, stop_company;
	bool allow_parallel;
	int new_per_day;
	db_step *steps; /* owned */
	size_t nsteps;
	int64_t created_at, updated_at;
} db_campaign;

void db_campaign_free(db_campaign *c);
/* Store a checked campaign (steps and variants; variants name templates
 * by template_version_id).  CS_EEXIST when the name is taken. */
int db_campaign_add(db *d, const db_campaign *c, int64_t now, cs_err *err);
/* By name (case-insensitive), with steps and variants; CS_ENOTFOUND. */
int db_campaign_get(db *d, const char *name, db_campaign *out, cs_err *err);
/* By id; same as db_campaign_get. */
int db_campaign_get_id(db *d, long long id, db_campaign *out, cs_err *err);
/* Every campaign, by name, with steps; free with db_campaign_list_free. */
int db_campaign_list(db *d, db_campaign **out, size_t *n, cs_err *err);
void db_campaign_list_free(db_campaign *list, size_t n);
int db_campaign_set_status(db *d, const char *name, db_campaign_status status,
                           int64_t now, cs_err *err);
/* Whether a list of that name exists. */
int db_list_exists(db *d, const char *name, bool *out, cs_err *err);

/* Enrollment counts by state of one campaign. */
typedef struct db_enroll_counts {
	long long active, queued, held, completed, stopped;
} db_enroll_counts;

int db_campaign_counts(db *d, long long campaign_id, db_enroll_counts *out,
                       cs_err *err);

typedef struct db_enroll_result {
	long long enrolled;     /* new enrollments */
	long long already;      /* already in this campaign */
	long long parallel;     /* active in another campaign: skipped */
	long long inactive;     /* replied, bounced, ... : skipped */
	long long not_contacts; /* --contact addresses that are not contacts */
} db_enroll_result;

/* Enroll the members of list (or the one contact email when list is
 * NULL), due at now.  Adds to *out (the caller zeroes it). */
int db_campaign_enroll(db *d, const db_campaign *c, const char *list,
                       const char *email, int64_t now, db_enroll_result *out,
                       cs_err *err);
/* Held enrollments of the campaign back to active (after the user fixed
 * their data); *n gets how many. */
int db_campaign_release_held(db *d, long long campaign_id, int64_t now,
                             long long *n, cs_err *err);

/* Delete campaign id, a draft (never sent anything), whole: steps,
 * variants and any enrollments; CS_ECONFLICT when it is not (anymore). */
int db_campaign_delete_draft(db *d, long long id, cs_err *err);

typedef struct db_retire_result {
	long long stopped; /* enrollments stopped ("campaign deleted") */
	long long dropped; /* queued/deferred/held outbox rows failed */
	char *kept_as;     /* the tombstone's name (owned by the caller) */
} db_retire_result;

/* Delete a campaign that has history, in one transaction: its waiting
 * outbox rows (queued, deferred, held) fail and its active/queued/held
 * enrollments stop, both with reason "campaign deleted", so nothing more
 * of it is ever sent (a row in 'sending' finishes and is recorded).  The
 * row stays as a tombstone, renamed "NAME (deleted)" ("NAME (deleted 2)"
 * ...), deleted_at set: its messages, events and outbox rows keep
 * joining to it (stats, replies), it reads with status "deleted" and no
 * status change or enrollment applies to it; NAME is free again. */
int db_campaign_retire(db *d, long long id, int64_t now, db_retire_result *out,
                       cs_err *err);

/* How far a started campaign got: the highest step with an outbox row
 * (any state; 0: none), contacts that completed, and contacts still in
 * the sequence waiting for step 2 or later. */
typedef struct db_campaign_progress_t {
	int reached;
	long long completed, waiting;
} db_campaign_progress_t;
int db_campaign_progress(db *d, long long id, db_campaign_progress_t *out,
                         cs_err *err);

/* Replace campaign id's settings (everything but name and status) with
 * c's, and its steps after the first `keep` with c's steps keep+1.. (new
 * variants start unassigned); steps 1..keep stay as stored.  The caller
 * (campaign edit) decided that the change is safe. */
int db_campaign_replace(db *d, long long id, const db_campaign *c, int keep,
                        int64_t now, cs_err *err);

/* ---- the scheduler's queries and the outbox (db_sched.c) -------------- */

/* An enrollment's state (the life cycle is seq_sched.c's diagram); the
 * names, the database's words, are db_sched.c's table. */
typedef enum db_enr_state {
	DB_ENR_ACTIVE = 0,
	DB_ENR_QUEUED,
	DB_ENR_HELD,
	DB_ENR_COMPLETED,
	DB_ENR_STOPPED
} db_enr_state;

/* "active", "queued", "held", "completed", "stopped" */
const char *db_enr_state_name(db_enr_state s);
bool db_enr_state_parse(const char *name, db_enr_state *out);

/* One enrollment with what scheduling needs (owned strings). */
typedef struct db_enrollment {
	long long id, campaign_id, contact_id, inbox_id; /* inbox 0: none */
	db_enr_state state;
	int step;
	int64_t due_at, last_sent_at, enrolled_at;
	char *thread_subject, *thread_refs, *reason;
	char *email, *contact_tz; /* the contact's */
	db_contact_status contact_status;
} db_enrollment;

void db_enrollment_free(db_enrollment *e);
/* The earliest active enrollment of inbox_id (a follow-up) in an active
 * campaign with due_at <= now, after (due_at, id) > (after_due, after_id);
 * *found false when none. */
int db_enr_next_followup(db *d, long long inbox_id, int64_t now,
                         int64_t after_due, long long after_id,
                         db_enrollment *out, bool *found, cs_err *err);
/* The earliest active enrollment of campaign_id without an inbox (a new
 * contact) with due_at <= now, after (after_due, after_id). */
int db_enr_next_new(db *d, long long campaign_id, int64_t now,
                    int64_t after_due, long long after_id, db_enrollment *out,
                    bool *found, cs_err *err);
/* One enrollment by id; CS_ENOTFOUND. */
int db_enr_by_id(db *d, long long id, db_enrollment *out, cs_err *err);
/* Step-1 messages of the campaign queued since `since` (new contacts). */
int db_campaign_new_since(db *d, long long campaign_id, int64_t since,
                          long long *out, cs_err *err);
/* One enrollment of (campaign, contact email); CS_ENOTFOUND. */
int db_enr_get(db *d, long long campaign_id, const char *email,
               db_enrollment *out, cs_err *err);
/* Move an active enrollment's due time (window, domain cap). */
int db_enr_set_due(db *d, long long id, int64_t due, int64_t now, cs_err *err);
/* state held|stopped|completed with reason (may be NULL). */
int db_enr_set_state(db *d, long long id, db_enr_state state,
                     const char *reason, int64_t now, cs_err *err);
/* The held enrollments of a campaign, oldest hold first (read first,
 * then fn for each: fn may write the database). */
int db_enr_list_held(db *d, long long campaign_id,
                     int (*fn)(const db_enrollment *e, void *arg), void *arg,
                     cs_err *err);
/* Earliest due_at > now of an active enrollment in an active campaign,
 * and whether one is due at or before now. */
int db_enr_next_due(db *d, int64_t now, int64_t *next, bool *found,
                    bool *pending, cs_err *err);
/* Stop every active/queued/held enrollment of email with reason (queued
 * outbox rows of them are dropped); *n how many. */
int db_enr_stop_contact(db *d, const char *email, const char *reason,
                        int64_t now, long long *n, cs_err *err);
/* Stop the active enrollments of other contacts at email's domain in the
 * campaigns that enroll email and set stop_company_on_reply. */
int db_enr_stop_company(db *d, const char *email, int64_t now, long long *n,
                        cs_err *err);
/* Give step's variants out evenly: the least assigned (lowest index on a
 * tie) gets one more; *variant its index. */
int db_variant_take(db *d, long long campaign_id, int step, int *variant,
                    cs_err *err);

/* Counts of messages from inbox_id: on local_day for the campaign cap
 * (campaign and test) and in total (every purpose); sent since `since`
 * to recipients at domain. */
int db_message_count_caps(db *d, long long inbox_id, const char *local_day,
                          long long *campaign, long long *total, cs_err *err);
int db_message_count_domain(db *d, long long inbox_id, const char *domain,
                            int64_t since, long long *out, cs_err *err);

/* An outbox row's state.  The life cycle (diagram, transition table,
 * the one function that moves a row) is the sequencer's
 * (sequencer/seq_outbox_fsm.c); the names, the database's words, are
 * db_outbox.c's table. */
typedef enum db_ostate {
	DB_O_QUEUED = 0,
	DB_O_SENDING,
	DB_O_SENT,
	DB_O_FAILED,
	DB_O_HELD,
	DB_O_N
} db_ostate;

/* "queued", "sending", "sent", "failed", "held" */
const char *db_ostate_name(db_ostate s);
bool db_ostate_parse(const char *name, db_ostate *out);

/* One outbox row (owned strings).  purpose campaign: enrollment_id, step
 * and variant set; warmup: warmup_plan_id set; test: neither (0). */
typedef struct db_outbox {
	long long id, enrollment_id, inbox_id, warmup_plan_id;
	int step, variant, attempts;
	db_purpose purpose;
	db_ostate state;
	char *message_id, *subject, *in_reply_to, *refs, *reason;
	int64_t due_at, created_at, updated_at;
} db_outbox;

void db_outbox_free(db_outbox *o);
/* Queue a message for an enrollment: the outbox row (state queued, its
 * Message-ID fixed) and the enrollment (state queued, inbox_id set: sticky
 * from here) in one transaction.  *id gets the row id. */
int db_outbox_queue(db *d, const db_outbox *o, int64_t now, long long *id,
                    cs_err *err);
/* Queue a warmup or test row (o->purpose, o->warmup_plan_id for warmup;
 * state queued, Message-ID fixed); no enrollment is touched.  *id gets
 * the row id. */
int db_outbox_add(db *d, const db_outbox *o, int64_t now, long long *id,
                  cs_err *err);
int db_outbox_get(db *d, long long id, db_outbox *out, cs_err *err);
/* Queued rows due at or before now, oldest first, at most limit: fn for
 * each (strings valid during the call). */
int db_outbox_due(db *d, int64_t now, int limit,
                  int (*fn)(const db_outbox *o, void *arg), void *arg,
                  cs_err *err);
/* Every row in state, by id (read first, then fn for each: fn may write
 * the database). */
int db_outbox_list(db *d, db_ostate state,
                   int (*fn)(const db_outbox *o, void *arg), void *arg,
                   cs_err *err);
/* Change a row's state (with reason; due_at when >= 0; a new message_id
 * when not NULL), checking it is in state `from`: CS_ECONFLICT if not. */
int db_outbox_move(db *d, long long id, db_ostate from, db_ostate to,
                   const char *reason, int64_t due_at, const char *message_id,
                   int64_t now, cs_err *err);
/* After a step was sent: the enrollment advances to its next step due at
 * next_due (completed when there is none), remembering the thread. */
int db_enr_sent(db *d, long long id, int next_step, bool completed,
                int64_t sent_at, int64_t next_due, const char *thread_subject,
                const char *thread_refs, int64_t now, cs_err *err);
/* The outbox and enrollment invariants (see sequencer/seq_outbox.c):
 * fn is called with each violation found, as a sentence. */
int db_outbox_check(db *d, int (*fn)(const char *problem, void *arg), void *arg,
                    cs_err *err);
/* The row of an enrollment in flight (queued, sending or held), if
 * any: *found says. */
int db_outbox_inflight(db *d, long long enrollment_id, db_outbox *out,
                       bool *found, cs_err *err);
/* The reasons (prefixes) of queued rows that wait for their inbox or
 * campaign to be active again: when it is, they become due now. */
#define DB_WAIT_INBOX    "waiting for the inbox"
#define DB_WAIT_CAMPAIGN "waiting for the campaign"
/* Queued rows waiting for something that is over (their reason starts
 * with reason_prefix) become due now: those matching `which`, an SQL
 * condition on outbox with ?1 bound to name (db/ only passes its own). */
int db_outbox_wake(db *d, const char *which, const char *name,
                   const char *reason_prefix, int64_t now, cs_err *err);
/* The earliest due time of a queued campaign row (warmup rows wake the
 * warmup planner's way: db_warmup_next_due); *found false when none. */
int db_outbox_next(db *d, int64_t *next, bool *found, cs_err *err);

/* Record the scheduler's pacing for an inbox (service clock). */
int db_inbox_set_next_send(db *d, long long id, int64_t t, cs_err *err);
/* Stop email's enrollments in campaigns with stop_on_auto_reply. */
int db_enr_stop_auto_reply(db *d, const char *email, int64_t now, long long *n,
                           cs_err *err);
/* email's active enrollments wait until at least `until`. */
int db_enr_postpone(db *d, const char *email, int64_t until, int64_t now,
                    long long *n, cs_err *err);
/* Send step again, due then (a soft bounce); only an active or completed
 * enrollment. */
int db_enr_rewind(db *d, long long id, int step, int64_t due, int64_t now,
                  cs_err *err);
/* The campaign row of a Message-ID (CS_ENOTFOUND: none; a warmup or a
 * test message is no campaign step). */
int db_outbox_by_message_id(db *d, const char *message_id, db_outbox *out,
                            cs_err *err);
/* ---- attempts and outbox history (db_attempt.c) ------------------------ */

/* Record an attempt at sending m, before any byte of it goes out: its
 * messages row (added, or back to 'sending' when the Message-ID was tried
 * before) and a send_attempts row numbered one past the last (*attempt).
 * One transaction (a savepoint inside the caller's). */
int db_message_attempt(db *d, const db_message *m, int *attempt, cs_err *err);
/* The outcome of a Message-ID's latest attempt (db_message_set_outcome
 * calls it: callers need not). */
int db_attempt_set_outcome(db *d, const char *message_id, const char *outcome,
                           int code, const char *reply, int64_t now,
                           cs_err *err);
/* Attempts after a message's first from inbox_id on local_day: with the
 * messages rows of the day, what the caps count. */
int db_attempt_count_later(db *d, long long inbox_id, const char *local_day,
                           long long *out, cs_err *err);

/* One attempt (strings valid during the callback). */
typedef struct db_attempt {
	const char *message_id, *local_day, *outcome, *text;
	int attempt, code; /* code 0: none */
	int64_t started_at;
} db_attempt;

/* A Message-ID's attempts, first first. */
int db_attempt_list(db *d, const char *message_id,
                    int (*fn)(const db_attempt *a, void *arg), void *arg,
                    cs_err *err);

/* One entry of a contact's outbox history (strings borrowed; in a list,
 * valid during the callback).  action: a word (unsendable, dropped,
 * retried, resend, resolved_sent, resolved_dropped); detail: why. */
typedef struct db_history {
	long long outbox_id; /* 0: none */
	const char *contact, *campaign, *message_id, *action, *detail;
	int step; /* 0: none */
	int64_t at;
} db_history;

int db_history_add(db *d, const db_history *h, cs_err *err);
/* In the order recorded (the service's clock may be simulated, the CLI's
 * is real): one contact's (outbox_id 0), one row's (contact NULL). */
int db_history_list(db *d, const char *contact, long long outbox_id,
                    int (*fn)(const db_history *h, void *arg), void *arg,
                    cs_err *err);

/* Outbox rows (attempts) of one enrollment's step. */
int db_outbox_count_step(db *d, long long enrollment_id, int step,
                         long long *out, cs_err *err);

#endif
