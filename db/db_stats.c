/*
 * db_stats.c - read-only figures for `coldseq status` and `coldseq stats`:
 * the outbox and held steps, an inbox's hard-bounce rate, and per campaign
 * what its messages led to.
 *
 * An event counts for a campaign through the message it answers or
 * reports: events.related_message_id = outbox.message_id, the outbox row's
 * enrollment naming the campaign.  Warmup and test messages have outbox
 * rows too, but no enrollment, and warmup events are never among the
 * kinds read, so neither counts.  Each figure counts outbox rows
 * (messages), not events: a message answered twice is one reply.  Only
 * rows that went out count: sent, and held (the result was lost, so it
 * may have gone; a reply proves it did).  Queued, sending and failed rows
 * cannot have been answered.
 *
 * The outbox counts of `status` are the campaign messages' (warmup and
 * test rows are never held, and the user acts on campaign steps only).
 *
 * Nothing here writes; every query is one statement, so the figures of one
 * call are consistent with each other even while the service writes.
 */
#include "db_int.h"

#include <string.h>

int db_queue_counts_get(db *d, db_queue_counts *out, cs_err *err)
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM outbox WHERE state = 'queued' AND "
	    "purpose = 'campaign'), "
	    "(SELECT count(*) FROM outbox WHERE state = 'sending' AND "
	    "purpose = 'campaign'), "
	    "(SELECT count(*) FROM outbox WHERE state = 'held' AND "
	    "purpose = 'campaign'), "
	    "(SELECT count(*) FROM enrollments WHERE state = 'held')";
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->queued = sqlite3_column_int64(st, 0);
		out->sending = sqlite3_column_int64(st, 1);
		out->held = sqlite3_column_int64(st, 2);
		out->enr_held = sqlite3_column_int64(st, 3);
	} else
		rc = db_fail(d, err, "cannot count the outbox");
	sqlite3_finalize(st);
	return rc;
}

/* The one definition of an inbox's hard-bounce rate (issue 17: status and
 * bounce protection used two): its campaign messages created since
 * `since` that the server took or may have taken (sending, sent,
 * uncertain: the ones a bounce can follow), and how many of those
 * messages (not events: a message reported twice is one) a hard-bounce
 * event reports. */
#define BOUNCEABLE                                                             \
	"m.inbox_id = ?1 AND m.created_at >= ?2 AND m.purpose = 'campaign' "   \
	"AND m.outcome IN ('sending', 'sent', 'uncertain')"

int db_inbox_bounce_counts(db *d, long long inbox_id, int64_t since,
                           long long *sends, long long *hard, cs_err *err)
{
	/* the sends from the (inbox_id, created_at) index; the bounce
	 * events from the time index (a bounce comes after its message) */
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM messages m WHERE " BOUNCEABLE "), "
	    "(SELECT count(DISTINCT m.id) FROM events ev JOIN messages m ON "
	    "m.message_id = ev.related_message_id WHERE ev.received_at >= ?2 "
	    "AND ev.kind = 'bounce' AND ev.hard = 1 AND " BOUNCEABLE ")";

	return db_count_since(d, sql, inbox_id, since, sends, hard,
	                      "cannot count the inbox's bounces", err);
}

/* ---- per campaign ------------------------------------------------------ */

/* What splits the rows: the key, label and variant columns, extra joins,
 * and the grouping and order after the campaign. */
typedef struct split {
	const char *cols, *joins, *group, *order;
} split;

static const split splits[] = {
    [DB_BY_NONE] = {"0, NULL, 0", "", "", ""},
    [DB_BY_QUARTER] = {"o.updated_at / 900000 * 900000, NULL, 0", "", ", 2",
                       ", 2"},
    [DB_BY_INBOX] = {"o.inbox_id, i.name, 0",
                     " LEFT JOIN inboxes i ON i.id = o.inbox_id", ", 2", ", 3"},
    [DB_BY_STEP] = {"o.step, NULL, 0", "", ", 2", ", 2"},
    [DB_BY_VARIANT] = {"o.step, t.name, o.variant",
                       " LEFT JOIN step_variants sv ON sv.campaign_id = "
                       "e.campaign_id AND sv.step = o.step AND sv.variant = "
                       "o.variant LEFT JOIN template_versions tv ON tv.id = "
                       "sv.template_version_id LEFT JOIN templates t ON "
                       "t.id = tv.template_id",
                       ", 2, 4", ", 2, 4"},
};

/* Per Message-ID we sent, which kinds of event followed it (0/1 each). */
#define EVENT_FLAGS                                                            \
	"(SELECT related_message_id AS mid, max(kind = 'reply') AS re, "       \
	"max(kind = 'bounce' AND coalesce(hard, 0) = 1) AS bh, "               \
	"max(kind = 'bounce' AND coalesce(hard, 0) <> 1) AS bs, "              \
	"max(kind = 'complaint') AS co, max(kind = 'unsubscribe') AS un, "     \
	"max(kind = 'auto_reply') AS ar FROM events WHERE related_message_id " \
	"IS NOT NULL AND kind IN ('reply', 'bounce', 'complaint', "            \
	"'unsubscribe', 'auto_reply') GROUP BY related_message_id)"

int db_campaign_stats(db *d, long long campaign_id, db_stats_by by,
                      int (*fn)(const db_stats_row *r, void *arg), void *arg,
                      cs_err *err)
{
	const split *sp;
	cs_buf sql = CS_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int rc, step;

	if ((unsigned)by >= sizeof splits / sizeof splits[0])
		return cs_err_set(err, CS_EINVAL, "unknown statistics split %d",
		                  (int)by);
	sp = &splits[by];
	cs_buf_printf(
	    &sql,
	    "SELECT e.campaign_id, %s, sum(o.state = 'sent'), "
	    "coalesce(sum(v.re), 0), coalesce(sum(v.bh), 0), "
	    "coalesce(sum(v.bs), 0), coalesce(sum(v.co), 0), "
	    "coalesce(sum(v.un), 0), coalesce(sum(v.ar), 0) FROM outbox o "
	    "JOIN enrollments e ON e.id = o.enrollment_id%s LEFT "
	    "JOIN " EVENT_FLAGS
	    " v ON v.mid = o.message_id WHERE o.state IN ('sent', 'held') AND "
	    "(?1 = 0 OR e.campaign_id = ?1) "
	    "GROUP BY 1%s ORDER BY 1%s",
	    sp->cols, sp->joins, sp->group, sp->order);
	rc = db_prepare(d, sql.data, &st, err);
	cs_buf_free(&sql);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		db_stats_row r;

		memset(&r, 0, sizeof r);
		r.campaign_id = sqlite3_column_int64(st, 0);
		r.key = sqlite3_column_int64(st, 1);
		r.label = (const char *)sqlite3_column_text(st, 2);
		r.variant = sqlite3_column_int(st, 3);
		r.sent = sqlite3_column_int64(st, 4);
		r.replied = sqlite3_column_int64(st, 5);
		r.bounced_hard = sqlite3_column_int64(st, 6);
		r.bounced_soft = sqlite3_column_int64(st, 7);
		r.complaints = sqlite3_column_int64(st, 8);
		r.unsubscribed = sqlite3_column_int64(st, 9);
		r.auto_replies = sqlite3_column_int64(st, 10);
		if ((rc = fn(&r, arg)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the campaign statistics");
	sqlite3_finalize(st);
	return rc;
}

int db_campaign_stops(db *d, long long campaign_id,
                      int (*fn)(const char *reason, long long n, void *arg),
                      void *arg, cs_err *err)
{
	/* "suppressed (why)", "a colleague replied (who)": the part before
	 * the parenthesis is the reason; the rest names one contact */
	static const char sql[] =
	    "SELECT CASE WHEN instr(reason, ' (') > 0 THEN substr(reason, 1, "
	    "instr(reason, ' (') - 1) ELSE coalesce(reason, 'no reason "
	    "recorded') END AS why, count(*) FROM enrollments WHERE "
	    "campaign_id = ?1 AND state = 'stopped' GROUP BY why ORDER BY 2 "
	    "DESC, why";
	sqlite3_stmt *st;
	int rc, step;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, campaign_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn((const char *)sqlite3_column_text(st, 0),
		             sqlite3_column_int64(st, 1), arg)) != 0)
			break;
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(d, err, "cannot count the stopped contacts");
	sqlite3_finalize(st);
	return rc;
}
