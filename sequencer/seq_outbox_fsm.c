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
 * it fails an assert(); in the release build it is refused with CS_EINVAL
 * and nothing is written.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <assert.h>
#include <string.h>

/* The test build asserts the tables; the release build refuses. */
#if defined(__SANITIZE_ADDRESS__)
#define FSM_ASSERT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FSM_ASSERT 1
#endif
#endif

static const char *const onames[SEQ_O_N] = {"queued", "sending", "sent",
                                            "failed", "held"};

/* otab[from][to] */
static const bool otab[SEQ_O_N][SEQ_O_N] = {
    [SEQ_O_QUEUED] =
        {[SEQ_O_QUEUED] = true, [SEQ_O_SENDING] = true, [SEQ_O_FAILED] = true},
    [SEQ_O_SENDING] = {[SEQ_O_SENT] = true,
                       [SEQ_O_QUEUED] = true,
                       [SEQ_O_FAILED] = true,
                       [SEQ_O_HELD] = true},
    [SEQ_O_HELD] =
        {[SEQ_O_SENT] = true, [SEQ_O_QUEUED] = true, [SEQ_O_FAILED] = true},
};

static const char *const pnames[SEQ_P_N] = {"planned", "sending", "sent",
                                            "failed", "dropped"};

static const bool ptab[SEQ_P_N][SEQ_P_N] = {
    [SEQ_P_PLANNED] = {[SEQ_P_PLANNED] = true,
                       [SEQ_P_SENDING] = true,
                       [SEQ_P_DROPPED] = true,
                       [SEQ_P_FAILED] = true},
    [SEQ_P_SENDING] =
        {[SEQ_P_SENT] = true, [SEQ_P_PLANNED] = true, [SEQ_P_FAILED] = true},
    [SEQ_P_FAILED] = {[SEQ_P_SENT] = true},
};

static const char *const purposes[SEQ_PURPOSE_N] = {"campaign", "warmup",
                                                    "test"};

const char *seq_purpose_name(seq_purpose p)
{
	return (unsigned)p < SEQ_PURPOSE_N ? purposes[p] : "?";
}

int seq_purpose_parse(const char *name, seq_purpose *out)
{
	int i;

	for (i = 0; name && i < SEQ_PURPOSE_N; i++)
		if (strcmp(name, purposes[i]) == 0) {
			*out = (seq_purpose)i;
			return 0;
		}
	return -1;
}

const char *seq_ostate_name(seq_ostate s)
{
	return (unsigned)s < SEQ_O_N ? onames[s] : "?";
}

int seq_ostate_parse(const char *name, seq_ostate *out)
{
	int i;

	for (i = 0; name && i < SEQ_O_N; i++)
		if (strcmp(name, onames[i]) == 0) {
			*out = (seq_ostate)i;
			return 0;
		}
	return -1;
}

bool seq_outbox_allowed(seq_ostate from, seq_ostate to)
{
	return (unsigned)from < SEQ_O_N && (unsigned)to < SEQ_O_N &&
	       otab[from][to];
}

const char *seq_pstate_name(seq_pstate s)
{
	return (unsigned)s < SEQ_P_N ? pnames[s] : "?";
}

bool seq_warmup_plan_allowed(seq_pstate from, seq_pstate to)
{
	return (unsigned)from < SEQ_P_N && (unsigned)to < SEQ_P_N &&
	       ptab[from][to];
}

/* A move not in a table: a bug (see the top of this file). */
static int refused(const char *what, long long id, const char *from,
                   const char *to, cs_err *err)
{
	cs_log_error("%s %lld: %s -> %s is not a transition of its state "
	             "machine (a bug in coldseq)",
	             what, id, from, to);
#ifdef FSM_ASSERT
	assert(!"a transition outside the state table");
#endif
	return cs_err_set(err, CS_EINVAL,
	                  "%s %lld: %s -> %s is not a transition of its state "
	                  "machine (a bug in coldseq; nothing was changed)",
	                  what, id, from, to);
}

int seq_outbox_move(db *d, long long id, seq_ostate from, seq_ostate to,
                    const char *reason, int64_t due_at, int64_t now,
                    cs_err *err)
{
	int rc;

	if (!seq_outbox_allowed(from, to))
		return refused("outbox row", id, seq_ostate_name(from),
		               seq_ostate_name(to), err);
	rc = db_outbox_move(d, id, onames[from], onames[to], reason, due_at,
	                    NULL, now, err);
	if (rc == 0)
		cs_log_debug("outbox row %lld: %s -> %s%s%s", id, onames[from],
		             onames[to], reason ? ": " : "",
		             reason ? reason : "");
	return rc;
}

int seq_warmup_plan_move(db *d, long long id, seq_pstate from, seq_pstate to,
                         const char *message_id, int64_t due_at,
                         const char *local_day, int64_t now, cs_err *err)
{
	int rc;

	if (!seq_warmup_plan_allowed(from, to))
		return refused("warmup plan row", id, seq_pstate_name(from),
		               seq_pstate_name(to), err);
	rc = db_warmup_plan_move(d, id, pnames[from], pnames[to], message_id,
	                         due_at, local_day, now, err);
	if (rc == 0)
		cs_log_debug("warmup plan row %lld: %s -> %s", id, pnames[from],
		             pnames[to]);
	return rc;
}
