/*
 * db_warmup.h - part of db.h (include db.h, never this file): warmup
 * settings, plan, receiving-side actions and health.
 */
#ifndef COLDSEQ_DB_WARMUP_H
#define COLDSEQ_DB_WARMUP_H

/* ---- warmup (db_warmup.c) ----------------------------------------------- */

/* An inbox's warmup settings, with the inbox fields the planner needs
 * (owned strings: db_warmup_list_free). */
typedef struct db_warmup {
	long long inbox_id;
	char *inbox, *email, *timezone, *paused_reason;
	cs_provider_id provider; /* the inbox's */
	db_inbox_status status;  /* the inbox's */
	bool enabled;
	int start, step, max; /* per day: start + step * (day - 1), <= max */
	int reply_rate;       /* percent of received warmup answered */
	bool weekdays_only, counts_toward_cap;
	char first_day[11]; /* day 1 of the ramp; "" before the first send */
	int last_topic;     /* content topic of the last message (-1) */
} db_warmup;

/* Insert or update the settings of w->inbox_id and enable it (first_day
 * is kept: the ramp goes on where it was). */
int db_warmup_enable(db *d, const db_warmup *w, int64_t now, cs_err *err);
/* Disable; planned sends not yet handed over are deleted. */
int db_warmup_disable(db *d, long long inbox_id, int64_t now, bool *found,
                      cs_err *err);
/* Every inbox ever in warmup (enabled or not), by inbox name. */
int db_warmup_list(db *d, db_warmup **out, size_t *n, cs_err *err);
void db_warmup_list_free(db_warmup *l, size_t n);
/* Set first_day when it is still unset, and last_topic when >= 0. */
int db_warmup_note(db *d, long long inbox_id, const char *first_day,
                   int last_topic, int64_t now, cs_err *err);

/* A warmup plan row's state.  The life cycle (transition table, the one
 * function that moves a row) is the sequencer's
 * (sequencer/seq_outbox_fsm.c); the names, the database's words, are
 * db_warmup.c's tables, like the kind's. */
typedef enum db_pstate {
	DB_P_PLANNED = 0,
	DB_P_SENDING,
	DB_P_SENT,
	DB_P_FAILED,
	DB_P_DROPPED,
	DB_P_N
} db_pstate;

/* "planned", "sending", "sent", "failed", "dropped" */
const char *db_pstate_name(db_pstate s);
bool db_pstate_parse(const char *name, db_pstate *out);

/* A planned send: a new message, or a reply to a partner's. */
typedef enum db_warmup_kind {
	DB_WARMUP_NEW = 0,
	DB_WARMUP_REPLY
} db_warmup_kind;

/* "new", "reply" */
const char *db_warmup_kind_name(db_warmup_kind k);
bool db_warmup_kind_parse(const char *name, db_warmup_kind *out);

/* One planned warmup send; strings borrowed (valid during a callback). */
typedef struct db_warmup_item {
	long long id, inbox_id;
	char local_day[11];
	db_warmup_kind kind;
	const char *to_addr, *subject, *in_reply_to, *refs;
	int64_t due_at;
	db_pstate state;
	const char *message_id; /* once it is 'sending' (its outbox row's) */
} db_warmup_item;

/* Plan it; a second reply of one inbox to one message is ignored
 * (*added false; added may be NULL). */
int db_warmup_plan_add(db *d, const db_warmup_item *it, int64_t now,
                       bool *added, cs_err *err);
/* Rows of kind for (inbox, local_day), whatever became of them (a day
 * whose sends were all dropped over the quota is planned all the same). */
int db_warmup_plan_count(db *d, long long inbox_id, const char *local_day,
                         db_warmup_kind kind, long long *out, cs_err *err);
/* fn per planned row due by now, by inbox then time; non-zero stops. */
int db_warmup_plan_due(db *d, int64_t now,
                       int (*fn)(const db_warmup_item *it, void *arg),
                       void *arg, cs_err *err);
/* fn per planned row due by now that has no outbox row queued or
 * sending: to be queued into the outbox (seq_warmup_queue_due). */
int db_warmup_plan_unqueued(db *d, int64_t now,
                            int (*fn)(const db_warmup_item *it, void *arg),
                            void *arg, cs_err *err);
/* fn for row id, if there is one (whatever its state). */
int db_warmup_plan_get(db *d, long long id,
                       int (*fn)(const db_warmup_item *it, void *arg),
                       void *arg, cs_err *err);
/* The earliest due time of a planned send or IMAP action. */
int db_warmup_next_due(db *d, int64_t *out, bool *found, cs_err *err);
/* Move a row from state `from` to `to` (CS_ECONFLICT when it is not in
 * `from`); message_id / local_day when not NULL, due_at when >= 0.  The
 * sequencer calls it through seq_warmup_plan_move, which checks the
 * state table. */
int db_warmup_plan_move(db *d, long long id, db_pstate from, db_pstate to,
                        const char *message_id, int64_t due_at,
                        const char *local_day, int64_t now, cs_err *err);
/* Warmup messages a receiving inbox recorded (a 'warmup' event) after
 * event id *mark while they were not settled as sent (left 'sending' by a
 * crash, lost at start-up, uncertain) were delivered: they, and their
 * plan rows ('sending' or 'failed'), become 'sent'.  *mark moves to the
 * newest event (0 at first: every event); nothing new: no write.
 * *settled: messages changed. */
int db_warmup_settle_seen(db *d, long long *mark, int64_t now,
                          long long *settled, cs_err *err);
/* fn per partner address: new warmup sends of inbox_id planned since. */
int db_warmup_partner_counts(db *d, long long inbox_id, int64_t since,
                             int (*fn)(const char *to, long long n, void *arg),
                             void *arg, cs_err *err);

/* An IMAP change a receiving inbox makes to a warmup message: read
 * (moved out of Junk first when folder is not INBOX; \Seen, \Flagged
 * when flag) or archive; and its state (planned, done, failed: given
 * up).  The names, the database's words, are db_warmup.c's tables. */
typedef enum db_warmup_act { DB_WACT_READ = 0, DB_WACT_ARCHIVE } db_warmup_act;
typedef enum db_warmup_act_state {
	DB_WACT_PLANNED = 0,
	DB_WACT_DONE,
	DB_WACT_FAILED
} db_warmup_act_state;

/* "read", "archive" */
const char *db_warmup_act_name(db_warmup_act a);
bool db_warmup_act_parse(const char *name, db_warmup_act *out);
/* "planned", "done", "failed" */
const char *db_warmup_act_state_name(db_warmup_act_state s);
bool db_warmup_act_state_parse(const char *name, db_warmup_act_state *out);

/* Strings borrowed. */
typedef struct db_warmup_action {
	long long id, inbox_id;
	db_warmup_act action;
	const char *message_id, *folder;
	uint32_t uidvalidity, uid; /* 0: find it by Message-ID */
	bool flag;
	int64_t due_at;
	int attempts;
} db_warmup_action;

int db_warmup_action_add(db *d, const db_warmup_action *a, int64_t now,
                         cs_err *err);
int db_warmup_actions_due(db *d, int64_t now,
                          int (*fn)(const db_warmup_action *a, void *arg),
                          void *arg, cs_err *err);
/* state done|failed|planned (a retry at due_at); rescued: it was moved
 * out of Junk. */
int db_warmup_action_set(db *d, long long id, db_warmup_act_state state,
                         int64_t due_at, bool rescued, int64_t now,
                         cs_err *err);

/* An inbox's warmup figures for one local day [start, end). */
typedef struct db_warmup_figures {
	long long planned, sent; /* sent: new and replies, as counted */
	long long received, rescued, replies;
} db_warmup_figures;

int db_warmup_day_stats(db *d, long long inbox_id, const char *day,
                        int64_t start, int64_t end, db_warmup_figures *out,
                        cs_err *err);
/* Of inbox_id's warmup messages sent since, how many other inboxes saw
 * (*seen) and how many of those first in INBOX rather than Junk. */
int db_warmup_health(db *d, long long inbox_id, int64_t since, long long *seen,
                     long long *in_inbox, cs_err *err);

#endif
