/*
 * seq_int.h - what the sequencer's own files share and no other module
 * includes: the inbound-event policy table (seq_policy.c, read by
 * seq_watch.c), the watcher's plan/fetch/apply split and warmup's
 * receiving side for the service's workers (seq_service*.c), and the
 * scheduler's state (seq_sched*.c, seq_outbox*.c, seq_dispatch.c,
 * seq_explain.c, seq_preview.c, seq_token.c, seq_warmup*.c, seq_send.c).
 * White-box unit tests include it too.
 */
#ifndef COLDSEQ_SEQ_INT_H
#define COLDSEQ_SEQ_INT_H

#include "classify/cls.h"
#include "seq.h"

/* ---- what an inbound message does (seq_policy.c) ------------------------
 */

/* What of ours a message is about, as the watcher found it. */
typedef enum seq_event_ctx {
	SEQ_CTX_OWN,       /* ours: sent by this inbox, or from its address */
	SEQ_CTX_WARMUP,    /* a warmup message, or an answer to one */
	SEQ_CTX_MATCHED,   /* names or answers a campaign message of ours */
	SEQ_CTX_UNMATCHED, /* none of the above */
	SEQ_CTX_COUNT
} seq_event_ctx;

/* Actions, run in this order. */
enum {
	SEQ_ACT_STOP = 1u << 0,          /* stop the contact (stop_status) */
	SEQ_ACT_SUPPRESS = 1u << 1,      /* suppress the address (reason) */
	SEQ_ACT_PAUSE_INBOX = 1u << 2,   /* bounce protection */
	SEQ_ACT_RETRY_SOFT = 1u << 3,    /* the step again (seq_soft_bounce) */
	SEQ_ACT_AUTO_REPLY = 1u << 4,    /* stop or wait (seq_auto_reply) */
	SEQ_ACT_SETTLE_WARMUP = 1u << 5, /* seq_warmup_received */
	SEQ_ACT_DOMAIN = 1u << 6, /* pause/slow the sending domain toward the
	                           * refusing provider (domain_mode) */
};

typedef struct seq_event_policy {
	const char *name;     /* the rule's, for logs and tests */
	db_event_kind record; /* the kind the event is stored as */
	unsigned always;      /* SEQ_ACT_* each time the message is read */
	unsigned once;        /* SEQ_ACT_* only when the event is new */
	db_contact_status stop_status; /* for SEQ_ACT_STOP (not active) */
	const char *reason; /* suppression reason for SEQ_ACT_SUPPRESS */
	bool reason_detail; /* + the recipient's status and reason */
	/* SEQ_ACT_DOMAIN: DB_DPAUSE_PAUSE or DB_DPAUSE_SLOW (seq_domain_
	 * pause.c); such a row's SEQ_ACT_RETRY_SOFT retries whatever the
	 * reason word (the provider refused the domain, not the person) */
	int domain_mode;
} seq_event_policy;

/* The row for a message of classifier kind in context ctx; hard is the
 * recipient's (bounce, delay, complaint: 1 hard, 0 soft, -1 when the
 * report names no recipient; -1 otherwise), token whether it carries a
 * List-Unsubscribe token.  A static row; NULL only if the table has a
 * hole (the unit test proves it has none). */
const seq_event_policy *seq_event_policy_find(cls_kind kind, seq_event_ctx ctx,
                                              int hard, bool token);
/* The same, for a recipient whose report gives RFC 3463 status (NULL or
 * "": none) from receiving provider prov: rows that name a provider's
 * code (Gmail 5.7.26, Microsoft 5.7.515, ...) fit only that provider's
 * report of that code. */
const seq_event_policy *seq_event_policy_answer(cls_kind kind,
                                                seq_event_ctx ctx, int hard,
                                                bool token, const char *status,
                                                cs_provider_id prov);
/* Whether some row names status (any provider): only then is the
 * receiving provider worth finding. */
bool seq_event_policy_code(const char *status);

/* ---- a domain paused or slowed toward a provider (seq_domain_pause.c) --
 */

/* The provider that refused r: its report's MTA (Remote-MTA, else
 * Reporting-MTA), the host names in the server's words, else the
 * recipient's domain (well-known domains, then config dns.mx_map and
 * the domain's MX).  mx: the service's (never blocks: an MX not known
 * yet counts as generic, and its lookup starts for the next time); NULL:
 * a private resolver for this one question, blocking (CLI). */
int seq_refusal_provider(db *d, seq_mx *mx, const cls_rcpt *r,
                         cs_provider_id *out, cs_err *err);
/* Policy row p (SEQ_ACT_DOMAIN) fired for r, reported to inbox in, from
 * provider prov: the pause or slow-down of in's domain toward prov is
 * recorded (or extended) and logged.  Inside the watcher's transaction. */
int seq_domain_pause_event(db *d, const db_inbox *in, const seq_event_policy *p,
                           const cls_rcpt *r, cs_provider_id prov, int64_t now,
                           cs_err *err);
/* Whether a campaign message from in to email must wait for a pause or
 * slow-down of in's domain toward email's provider (s's resolver): *until
 * the instant it may go (0: now), and why (may be NULL) appended (a
 * DB_WAIT_DOMAIN reason).  Costs one indexed look-up when the domain has none.
 * While the service's resolver is still asking for email's provider:
 * *dns_wait true and *until 0 (the answer wakes the planner), or, with
 * dns_wait NULL, *until now + 1 (look again at the next pass).
 */
int seq_domain_pause_hold(seq_sched *s, const db_inbox *in, const char *email,
                          int64_t now, int64_t *until, cs_buf *why,
                          bool *dns_wait, cs_err *err);

/* ---- the watcher's split for the service (seq_watch.c) ---------------- */

/* How far one folder was read, handed from the loop to a fetch. */
struct seq_watch_mark {
	const char *role; /* inbox|junk */
	char *name;
	uint32_t uidvalidity, last_uid;
	uint64_t highestmodseq;
};

/* How far Sent was read (its inbox_folders row), handed from the loop to
 * a fetch (seq_watch_sent.c). */
struct seq_sent_mark {
	char *name; /* as stored; NULL: never read */
	uint32_t uidvalidity, last_uid;
	int64_t now;   /* the plan's clock: a copy's time when it has none */
	int64_t since; /* without a cursor only copies from here (25 h) */
};

typedef struct seq_watch_plan {
	struct seq_watch_mark f[2];
	size_t nf;
	int64_t since; /* a first pass reads back to here */
	struct seq_sent_mark sent;
} seq_watch_plan;

/* What a fetch found in one folder: classified messages and the new mark
 * (valid when touched). */
struct seq_watch_got {
	const char *role, *name; /* borrowed from the plan */
	bool touched, more;
	uint32_t uidvalidity, last_uid;
	uint64_t highestmodseq;
	cls_class *cls;
	cls_received *rcv; /* what its receiving server wrote, per cls[i] */
	uint32_t *uids;    /* cls[i] is the message with UID uids[i] */
	size_t n;
};

/* One message read from Sent: its key (Message-ID, else a hash of its
 * header fields), Message-ID (NULL if none), recipients (To, Cc, Bcc)
 * and time (ms). */
struct seq_sent_msg {
	char *msg_key, *message_id;
	char **rcpts;
	size_t nrcpts;
	int64_t sent_at;
};

/* What a fetch read from Sent; name NULL: Sent was not read (none, no
 * room, nothing new), nothing to record. */
struct seq_sent_got {
	char *name;
	bool more;
	uint32_t uidvalidity, last_uid;
	struct seq_sent_msg *m;
	size_t n;
};

typedef struct seq_watch_batch {
	struct seq_watch_got f[2];
	size_t nf;
	bool more; /* more new mail than room: fetch again */
	struct seq_sent_got sent;
} seq_watch_batch;

#define SEQ_WATCH_ROOM 500 /* messages per fetch */

/* Split for the service (STYLE practice 8): new and plan and apply touch
 * the database (loop thread); connect and fetch only the network (a
 * worker).  The batch borrows names from the plan: free the plan after
 * the batch is applied. */
int seq_watcher_plan(seq_watcher *w, seq_watch_plan *p, cs_err *err);
int seq_watcher_fetch(seq_watcher *w, const seq_watch_plan *p, size_t room,
                      seq_watch_batch *b, cs_err *err);
int seq_watcher_apply(seq_watcher *w, const seq_watch_batch *b,
                      seq_sync_stats *st, cs_err *err);
void seq_watch_plan_free(seq_watch_plan *p);
void seq_watch_batch_free(seq_watch_batch *b);

/* The Sent folder's header-only sync (seq_watch_sent.c), called by the
 * three steps above: messages the mailbox sent outside coldseq become
 * sent_external rows.  plan (loop) reads the cursor; fetch (worker: the
 * network only, at most room messages) reads what is new; apply (loop,
 * inside seq_watcher_apply's transaction) records the rows and moves the
 * cursor.  Never changes the server (EXAMINE, BODY.PEEK). */
int seq_watch_sent_plan(seq_watcher *w, struct seq_sent_mark *m, cs_err *err);
int seq_watch_sent_fetch(seq_watcher *w, const struct seq_sent_mark *m,
                         size_t room, struct seq_sent_got *g, cs_err *err);
int seq_watch_sent_apply(seq_watcher *w, const struct seq_sent_got *g,
                         cs_err *err);
void seq_sent_mark_free(struct seq_sent_mark *m);
void seq_sent_got_free(struct seq_sent_got *g);

/* ---- copies of our own mail (seq_watch_received.c) -------------------- */

/* The watcher saw c in folder role ("inbox" | "junk") of inbox in, and
 * another of our inboxes sent it (any purpose: the Message-ID is in
 * messages): record where it landed and what the receiving server wrote
 * (rv), once per (inbox, Message-ID).  Inside the watcher's transaction;
 * a failure is logged, never the watcher's. */
void seq_received_record(db *d, const db_inbox *in, const char *role,
                         const cls_class *c, const cls_received *rv,
                         int64_t now);

/* ---- warmup's receiving side (seq_warmup_recv.c) ----------------------- */

/* The watcher saw a warmup message (first time) in folder (role inbox or
 * junk) of inbox in: plan reading (and the rescue out of Junk) now, and
 * a threaded reply after 10-120 minutes at the inbox's reply rate.
 * Inside the watcher's transaction. */
int seq_warmup_received(db *d, cs_clock *clock, const db_inbox *in,
                        const char *role, const char *folder,
                        uint32_t uidvalidity, uint32_t uid, const cls_class *c,
                        cs_err *err);

/* One IMAP action handed to a worker (owned strings) and its result. */
typedef struct seq_warmup_op {
	long long id, inbox_id;
	db_warmup_act action;
	char *message_id, *folder;
	uint32_t uidvalidity, uid; /* where the watcher saw it (0: unknown) */
	bool flag;
	int attempts;
	int rc;       /* 0 done; else err says why */
	bool rescued; /* it was moved out of Junk */
	bool missing; /* the message is not there (any more) */
	char err[512];
} seq_warmup_op;

/* Network only: one session, every op in turn (a failing op does not
 * stop the others unless the connection is lost). */
int seq_warmup_imap(const imap_server *srv, const imap_auth *auth,
                    seq_warmup_op *ops, size_t n, cs_err *err);
/* Record an op's result (loop thread): a read plans the archive 1-4
 * hours later; a failure is retried (three times). */
int seq_warmup_op_done(db *d, cs_clock *clock, const seq_warmup_op *op,
                       cs_err *err);
void seq_warmup_op_free(seq_warmup_op *op);

/* An inbox as the scheduler sees it, for its current local day. */
typedef struct seq_ibox {
	db_inbox in;
	char day[11];               /* local day (inbox zone) of the counts */
	int64_t day_start, day_end; /* [start, end) of that day */
	long long camp_today;       /* campaign + test messages today */
	long long total_today;      /* every message today */
	int cap_today;              /* campaign cap today (ramp applied) */
	int hard;                   /* messages_24h in force (0: none) */
	/* provider limits (seq_limits.c): those in force, how many more
	 * sends they allow before a recount (a lower bound: queued rows
	 * count, time only frees), and when full, until when (lim_id the
	 * one that frees last, at lim_used/lim_max) */
	long long lim[CS_LIM_COUNT];
	long long lim_room;
	int64_t lim_until;
	cs_limit_id lim_id;
	long long lim_used, lim_max;
	bool lim_fresh;  /* lim_room was counted (else: count at the next
	                    seq_limits_update) */
	int64_t next_at; /* pacing: next campaign send not before */
	int64_t min_gap_ms;
	/* a provider's "too many sessions" answer (seq_dispatch.c): no new
	 * session before backoff_until; while the streak lasts, sends one
	 * at a time at least backoff_gap apart */
	int64_t backoff_until, backoff_last, backoff_gap, last_sent;
	int backoffs;
	char backoff_why[200]; /* the answer: code, enhanced, text */
	seq_esp esp;
	int64_t fu_next; /* no follow-up due before this (0: unknown) */
	bool active;     /* in.status is "active" */
	bool gated;      /* follow-ups wait for the watcher's sync */
	bool ready;      /* during a pass: may send now */
	bool idle;       /* during a pass: was ready and found nothing */
} seq_ibox;

/* A campaign and the inboxes its selectors name now. */
typedef struct seq_camp {
	db_campaign c;
	size_t *ib; /* indexes into seq_sched.ib, ascending */
	size_t nib;
	char day[11]; /* local day (campaign zone) of new_today */
	int64_t day_end;
	long long new_today;
	int64_t new_next; /* no new contact due before this (0: unknown) */
} seq_camp;

/* A template version's source, kept for rendering. */
typedef struct seq_tsrc {
	long long version_id;
	char *name, *source;
} seq_tsrc;

struct seq_sched {
	db *d;
	cs_vault *v;
	cs_clock *clock;
	seq_ibox *ib;
	size_t nib;
	seq_camp *cp;
	size_t ncp;
	seq_tsrc *ts;
	size_t nts;
	seq_mx *mx;      /* stable for the scheduler's life */
	net_dns *dns;    /* what mx asks: owned (private loop) unless */
	bool dns_shared; /* seq_sched_use_dns gave the service's */
	char *default_tz;
	int64_t min_gap_ms; /* config inbox.min_interval */
	size_t rr;          /* campaign the next pass starts with */
	bool gate_new;      /* inboxes loaded later start gated */
};

seq_ibox *seq_find_inbox(seq_sched *s, long long id);
seq_camp *seq_find_camp(seq_sched *s, long long id);
/* Bring an inbox's day, counts and caps up to now. */
int seq_ibox_roll(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err);
/* What seq_compose needs for enrollment e's step from inbox ib. */
void seq_compose_step(seq_compose_in *ci, const seq_camp *c, const seq_ibox *ib,
                      const db_contact *ct, const seq_tsrc *ts,
                      const db_enrollment *e, const char *zone, int64_t now);
/* The local day of t in tz ("YYYY-MM-DD") and its [start, end). */
int seq_day_bounds(const char *tz, int64_t t, char day[11], int64_t *start,
                   int64_t *end, cs_err *err);
/* Bring a campaign's day and its count of new contacts up to now. */
int seq_sched_roll_camp(seq_sched *s, seq_camp *c, int64_t now, cs_err *err);
/* Bring ib's provider limits up to now: recount from the database when
 * never counted, when the in-memory room ran out, or when the time they
 * were full until passed; else nothing (no query). */
int seq_limits_update(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err);
/* A send was queued from ib: one unit less of room (for every inbox of
 * its tenant too). */
void seq_limits_took(seq_sched *s, seq_ibox *ib);
/* The authoritative check refused a message of ib for a limit (caps from
 * db_message_add_capped): full until caps->lim_frees_at. */
void seq_limits_refused(seq_ibox *ib, const db_caps *caps, int64_t now);
/* A message of ib was recorded (caps from db_message_add_capped): at a
 * limit now, the room is counted again at the next update. */
void seq_limits_recorded(seq_ibox *ib, const db_caps *caps);
/* Whether ib's provider limits allow a send now. */
bool seq_limits_ok(const seq_ibox *ib, int64_t now);
/* The caps' limits for a message of in (caps->lim, caps->tenant). */
int seq_limits_caps(db *d, const db_inbox *in, db_caps *caps, cs_err *err);
/* Whether the inbox may send a campaign message now (caps, limits,
 * pause, gap). */
bool seq_ibox_can_send(const seq_ibox *ib, int64_t now);
/* The zone a contact's window and delays use in campaign c. */
const char *seq_contact_zone(const seq_camp *c, const char *contact_tz);
/* The template source of a version (cached). */
int seq_tsrc_get(seq_sched *s, long long version_id, const seq_tsrc **out,
                 cs_err *err);

/* ---- the outbox's shared steps (seq_outbox.c, seq_outbox_user.c) ------ */

/* The one record before DATA (seq_outbox.c), for every purpose: row
 * outbox_id queued -> sending with m's messages and send_attempts rows,
 * counted against caps in the same write transaction (db_message_add_
 * capped), and extra(arg) (the purpose's own rows; may be NULL) in it
 * too.  *over: a cap is full, nothing written (rc 0). */
int seq_outbox_record(db *d, long long outbox_id, const db_message *m,
                      db_caps *caps, bool *over,
                      int (*extra)(void *arg, cs_err *err), void *arg,
                      int64_t now, cs_err *err);
/* The one settle: the transport's result for message_id stored in
 * messages and send_attempts, and effects(arg) (the purpose's moves of
 * its outbox row and the rows it serves), in one transaction. */
int seq_outbox_settle(db *d, const char *message_id, const smtp_result *res,
                      int (*effects)(void *arg, cs_err *err), void *arg,
                      int64_t now, cs_err *err);

/* The result a row found 'sending' at start-up settles with: found in
 * Sent (checked and found): sent; else uncertain, the detail saying why
 * ("was being sent when coldseq stopped and ...", why when Sent could
 * not be searched) and then tail. */
/* What a send's verdict did to the inbox that sent (seq_verdict_effect). */
typedef enum seq_fx_kind {
	SEQ_FX_NONE,        /* nothing beyond the purpose's own handling */
	SEQ_FX_PAUSE,       /* paused until `until` (0: until resumed) */
	SEQ_FX_AUTH_FAILED, /* auth_state auth_failed */
	SEQ_FX_BACKOFF,     /* no new session before `until`; not a pause */
} seq_fx_kind;
typedef struct seq_verdict_fx {
	seq_fx_kind kind;
	int64_t until;
	cs_buf why; /* the stored reason: code, the provider's text (scrubbed
	               by smtp/), whose answer, the remedy */
} seq_verdict_fx;
/* The one mapping from a verdict's action to its inbox, for every purpose
 * (campaign, warmup, send-test), inside seq_outbox_settle's transaction:
 * pauses the inbox (quota: until the provider's 24-hour window frees;
 * restricted, SMTP AUTH disabled: until resumed) or marks it auth_failed
 * in d, logs it, and tells fx (free with seq_verdict_fx_free).  Actions
 * slow and none, and a refused token on an oauth2 inbox (refreshed once
 * before), leave fx SEQ_FX_NONE: the purpose handles them. */
int seq_verdict_effect(db *d, const db_inbox *in, const smtp_result *res,
                       int64_t now, seq_verdict_fx *fx, cs_err *err);
void seq_verdict_fx_free(seq_verdict_fx *fx);
void seq_outbox_unc_result(smtp_result *res, bool checked, bool found,
                           const char *why, const char *tail);
/* The campaign purpose's functions take campaign rows only: CS_EINVAL
 * naming the row's purpose else. */
int seq_outbox_campaign_row(const db_outbox *o, cs_err *err);
/* A line in the contact's history about campaign row o. */
int seq_outbox_history(seq_sched *s, const db_outbox *o, const db_enrollment *e,
                       const char *action, const char *detail, int64_t now,
                       cs_err *err);
/* The step of row o was accepted: the enrollment moves on (same thread
 * unless the next step starts a new one). */
int seq_outbox_advance(seq_sched *s, seq_camp *c, const db_outbox *o,
                       const db_enrollment *e, int64_t now, cs_err *err);
/* A test row (outbox purpose test) found 'sending' at start-up: found in
 * Sent -> sent; else failed, its messages row 'uncertain' (it may have
 * gone: still counted); a test send is never sent again. */
int seq_send_uncertain(db *d, cs_clock *clock, const db_outbox *o, bool checked,
                       bool found, const char *why, cs_err *err);

/* ---- warmup: the planner (seq_warmup.c) and its sends (seq_warmup_send.c) */

#define WU_HOUR_MS       3600000LL
#define WU_WINDOW_FROM_H 8 /* warmup sends go out from 08:00 local */

struct seq_warmup {
	db *d;
	cs_clock *clock;
	db_warmup *w; /* every inbox ever in warmup, its settings */
	size_t n;
	int64_t health_next;
	long long seen_mark; /* events looked at for settle_seen */
};

/* An inbox's local day: "YYYY-MM-DD", [start, end), weekday (0 Sunday). */
typedef struct seq_wday {
	char day[11];
	int64_t start, end;
	int wday;
} seq_wday;

/* Queue every planned send that is due and has no outbox row in flight
 * into the outbox (purpose warmup, its Message-ID fixed now): from there
 * it goes as every message does (seq_dispatch_run). */
int seq_warmup_queue_due(seq_warmup *w, cs_err *err);
/* Warmup row o (queued) and its plan row wait until `until` (the inbox is
 * paused by its provider), with why as the outbox row's reason. */
int seq_warmup_wait(db *d, const db_outbox *o, int64_t until, const char *why,
                    int64_t now, cs_err *err);
/* The purpose's begin for outbox row o (a warmup row, queued): the day's
 * quota and the inbox's hard cap are checked (a new message over them is
 * dropped, a reply waits for the next day), the message is built under
 * the row's Message-ID and recorded (seq_outbox_record) with its plan
 * row 'sending'.  *ready false: nothing to send now. */
int seq_warmup_begin(seq_warmup *w, const db_outbox *o, seq_job *job,
                     bool *ready, cs_err *err);
/* The purpose's settle: sent (or uncertain: never again) -> sent;
 * deferred or the inbox failing -> this row failed, its plan row planned
 * again in 10 minutes (a new message); refused -> failed. */
int seq_warmup_finish(seq_warmup *w, const seq_job *job, const smtp_result *res,
                      cs_err *err);
int seq_warmup_day(const char *tz, int64_t t, seq_wday *out, cs_err *err);
/* The cached settings of inbox_id, NULL when it was never in warmup. */
db_warmup *seq_warmup_find(seq_warmup *w, long long inbox_id);
uint64_t seq_warmup_rnd(void);

#endif
