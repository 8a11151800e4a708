/*
 * seq_outbox_fsm.c - the outbox row's and the warmup plan row's state
 * machines: one transition table each, and the one function every state
 * change of a row goes through (seq_outbox_move, seq_warmup_plan_move).
 *
 * Outbox row (the diagram and each state's invariant: seq_outbox.c):
 *
 *   from     to       performed by
 *   queued   queued   seq_outbox_begin: cannot go now (paused, caps, not
 *                     loaded, an error): due later, the reason says why
 *   queued   sending  seq_outbox_begin: messages + send_attempts rows
 *                     committed with it, before a byte is handed over
 *   queued   failed   seq_outbox_begin (the contact's data cannot make the
 *                     message), seq_outbox_act (drop); in bulk in db/:
 *                     a contact stopped, an inbox removed, a campaign
 *                     deleted (db_enr_stop_contact, db_inbox_remove,
 *                     db_campaign_delete)
 *   sending  sent     seq_outbox_finish (the server took it; or found in
 *                     Sent at start-up, seq_outbox_uncertain)
 *   sending  queued   seq_outbox_finish: deferred, refused by policy, the
 *                     inbox failing: same Message-ID, after a backoff
 *   sending  failed   seq_outbox_finish: recipient refused, or deferred
 *                     for 3 days
 *   sending  held     seq_outbox_finish (lost after the dot),
 *                     seq_outbox_uncertain (not in Sent, or Sent not
 *                     searchable)
 *   held     sent     seq_outbox_resolve --sent
 *   held     queued   seq_outbox_resolve --resend, seq_outbox_act retry
 *                     (same Message-ID)
 *   held     failed   seq_outbox_resolve --drop, seq_outbox_act drop; in
 *                     bulk: a campaign deleted (db_campaign_delete)
 *
 * Every purpose (campaign, warmup, test) follows this one table; what a
 * move does besides (an enrollment advanced, a plan row settled) is the
 * purpose's, in seq_dispatch.c's table.  Nothing leaves sent or failed (a
 * failed row of an unsendable step is retried by composing a new row: the
 * enrollment moves, not the row; a warmup send deferred is planned again
 * as a new row), with one exception done in bulk in db/: a warmup row
 * failed as lost at start-up that a receiving inbox then recorded
 * becomes sent (db_warmup_settle_seen), the proof being its arrival.
 * Queued first-step rows of an inbox that lost its authorization or was
 * removed are deleted, not moved (db_outbox_release_new); queued warmup
 * rows go with their plan row when warmup is disabled.
 *
 * `deferred` is gone (migration 15 drops it from the CHECK): it was never
 * entered.  A deferral is queued -> sending -> queued with the same
 * Message-ID and a later due_at; the reason says "deferred ..." and each
 * attempt has its send_attempts row, which is all a separate state would
 * say.
 *
 * Warmup plan row:
 *
 *   from     to       performed by
 *   planned  planned  seq_warmup_begin: a reply over the day's quota waits
 *                     for the next day's window
 *   planned  sending  seq_warmup_begin: messages row committed with it
 *   planned  dropped  seq_warmup_begin: warmup disabled, over the quota,
 *                     a new message of a day gone by
 *   planned  failed   seq_warmup_begin: the message cannot be built
 *   sending  sent     seq_warmup_finish (taken, or uncertain: never
 *                     again), seq_warmup_uncertain (found in Sent)
 *   sending  planned  seq_warmup_finish: deferred, the inbox failing
 *   sending  failed   seq_warmup_finish (refused), seq_warmup_uncertain
 *                     (lost: not in Sent)
 *   failed   sent     db_warmup_settle_seen, in bulk (and sending -> sent
 *                     likewise): a receiving inbox recorded it, so it was
 *                     delivered
 *
 * Nothing leaves sent or dropped.  Planned rows of an inbox whose warmup
 * is disabled are deleted (db_warmup_disable).
 *
 * A move the table does not have is a bug in coldseq, never something a
 * server or a user did: in the test build (ASan, what every test runs)
 * it fails CS_BUG_CHECK (an assert); in the release build it is refused with
 * CS_EINVAL and nothing is written.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

/* otab[from][to] */
static const bool otab[DB_O_N][DB_O_N] = {
    [DB_O_QUEUED] =
        {[DB_O_QUEUED] = true, [DB_O_SENDING] = true, [DB_O_FAILED] = true},
    [DB_O_SENDING] = {[DB_O_SENT] = true,
                      [DB_O_QUEUED] = true,
                      [DB_O_FAILED] = true,
                      [DB_O_HELD] = true},
    [DB_O_HELD] =
        {[DB_O_SENT] = true, [DB_O_QUEUED] = true, [DB_O_FAILED] = true},
};

static const bool ptab[DB_P_N][DB_P_N] = {
    [DB_P_PLANNED] = {[DB_P_PLANNED] = true,
                      [DB_P_SENDING] = true,
                      [DB_P_DROPPED] = true,
                      [DB_P_FAILED] = true},
    [DB_P_SENDING] =
        {[DB_P_SENT] = true, [DB_P_PLANNED] = true, [DB_P_FAILED] = true},
    [DB_P_FAILED] = {[DB_P_SENT] = true},
};

bool seq_outbox_allowed(db_ostate from, db_ostate to)
{
	return (unsigned)from < DB_O_N && (unsigned)to < DB_O_N &&
	       otab[from][to];
}

bool seq_warmup_plan_allowed(db_pstate from, db_pstate to)
{
	return (unsigned)from < DB_P_N && (unsigned)to < DB_P_N &&
	       ptab[from][to];
}

/* A move not in a table: a bug (see the top of this file). */
static int refused(const char *what, long long id, const char *from,
                   const char *to, cs_err *err)
{
	cs_log_error("%s %lld: %s -> %s is not a transition of its state "
	             "machine (a bug in coldseq)",
	             what, id, from, to);
	CS_BUG_CHECK(!"a transition outside the state table");
	return cs_err_set(err, CS_EINVAL,
	                  "%s %lld: %s -> %s is not a transition of its state "
	                  "machine (a bug in coldseq; nothing was changed)",
	                  what, id, from, to);
}

int seq_outbox_move(db *d, long long id, db_ostate from, db_ostate to,
                    const char *reason, int64_t due_at, int64_t now,
                    cs_err *err)
{
	int rc;

	if (!seq_outbox_allowed(from, to))
		return refused("outbox row", id, db_ostate_name(from),
		               db_ostate_name(to), err);
	rc = db_outbox_move(d, id, from, to, reason, due_at, NULL, now, err);
	if (rc == 0)
		cs_log_debug("outbox row %lld: %s -> %s%s%s", id,
		             db_ostate_name(from), db_ostate_name(to),
		             reason ? ": " : "", reason ? reason : "");
	return rc;
}

int seq_warmup_plan_move(db *d, long long id, db_pstate from, db_pstate to,
                         const char *message_id, int64_t due_at,
                         const char *local_day, int64_t now, cs_err *err)
{
	int rc;

	if (!seq_warmup_plan_allowed(from, to))
		return refused("warmup plan row", id, db_pstate_name(from),
		               db_pstate_name(to), err);
	rc = db_warmup_plan_move(d, id, from, to, message_id, due_at, local_day,
	                         now, err);
	if (rc == 0)
		cs_log_debug("warmup plan row %lld: %s -> %s", id,
		             db_pstate_name(from), db_pstate_name(to));
	return rc;
}
