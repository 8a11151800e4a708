/*
 * db_limits.c - the provider limits' rolling counters, counted the way
 * the provider counts (issue 21), and the tenants they may be shared in.
 *
 * A unit is one thing a provider counts: a message coldseq recorded
 * (messages.created_at), each later attempt at it (send_attempts, as
 * db_message_count_caps counts them), a message the mailbox sent outside
 * coldseq (sent_external, one row per recipient), and for the
 * scheduler's own estimate each outbox row still queued (it will be sent
 * at or after now).  A limit counts, over the window (now - window, now]:
 *   messages            distinct messages
 *   recipients          every recipient of every message
 *   external            recipients whose domain is none of the sending
 *                       domains (the inbox's, or every inbox's of its
 *                       tenant for a tenant-wide limit)
 *   unique external     distinct such recipients (each at its latest time)
 * and frees one unit at the (used - max + 1)-th oldest unit's time plus
 * the window: a send at 09:10 frees capacity at 09:10 the next day.
 *
 * A window of a minute (Microsoft's 30 messages a minute) is counted by
 * when a message can have reached the server, not when it was recorded:
 * messages are recorded before DATA and sent in batches, so a message
 * still 'sending' counts as sent now (and keeps counting until it
 * settles), a settled one at its settle time (messages.updated_at, never
 * before the server saw it).  Then no 60 s at the server can hold more
 * than the limit: every message the server may see within 60 s of a new
 * one is in the count when the new one is recorded.
 *
 * Returns 0 or a negative CS_ code with err set; SQL lives only here.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- the counters ---------------------------------------------------- */

/* ?1 inbox, ?2 tenant (NULL: the inbox alone), ?3 since (exclusive),
 * ?4 now, ?5 count queued outbox rows, ?6 the limit (for frees).
 * s: the inboxes counted; dom: their domains; u: the units (k the
 * message's key, r the recipient, x external, t the time); g: what the
 * limit counts, one row per unit with its time; NTH: the count and the
 * time of the unit whose leaving frees one. */
/* clang-format off */
#define SCOPE \
	"WITH s(id) AS (SELECT id FROM inboxes WHERE id = ?1 OR " \
	"  (?2 IS NOT NULL AND tenant = ?2)), " \
	"dom(d) AS (SELECT lower(substr(email, instr(email, '@') + 1)) " \
	"  FROM inboxes WHERE id IN s), "
#define EXT(col) \
	"(lower(substr(" col ", instr(" col ", '@') + 1)) NOT IN " \
	"  (SELECT d FROM dom))"
#define UNITS(msg_time, msg_where) \
	"u(k, r, x, t) AS (" \
	"SELECT m.message_id, m.recipient, " EXT("m.recipient") ", " \
	"  " msg_time " FROM messages m " \
	"  WHERE m.inbox_id IN s AND " msg_where " " \
	"UNION ALL SELECT a.message_id || '#' || a.attempt, m.recipient, " \
	"  " EXT("m.recipient") ", a.started_at " \
	"  FROM send_attempts a JOIN messages m ON m.message_id = a.message_id " \
	"  WHERE a.inbox_id IN s AND a.attempt > 1 AND a.started_at > ?3 " \
	"UNION ALL SELECT e.inbox_id || '/' || e.msg_key, e.recipient, " \
	"  e.external, e.sent_at FROM sent_external e " \
	"  WHERE e.inbox_id IN s AND e.sent_at > ?3 " \
	"UNION ALL SELECT 'q' || o.id, 'q' || o.id, 1, ?4 FROM outbox o " \
	"  WHERE ?5 AND o.inbox_id IN s AND o.state = 'queued'), "
/* by record time (24 hours) */
#define U_DAY UNITS("m.created_at", "m.created_at > ?3")
/* by when the server may have seen it (a minute) */
#define U_MIN \
	UNITS("CASE WHEN m.outcome = 'sending' THEN max(?4, m.created_at) " \
	      "ELSE max(m.created_at, m.updated_at) END", \
	      "m.created_at > ?3 - 3600000 AND (m.outcome = 'sending' OR " \
	      "m.updated_at > ?3)")
#define G_MESSAGES   "g(t) AS (SELECT min(t) FROM u GROUP BY k) "
#define G_RECIPIENTS "g(t) AS (SELECT t FROM u) "
#define G_EXTERNAL   "g(t) AS (SELECT t FROM u WHERE x) "
#define G_UNIQUE     "g(t) AS (SELECT max(t) FROM u WHERE x GROUP BY lower(r)) "
#define NTH \
	"SELECT n, t FROM (SELECT count(*) OVER () AS n, " \
	"  row_number() OVER (ORDER BY t) AS rn, t FROM g) " \
	"WHERE rn = max(1, n - ?6 + 1)"
/* clang-format on */

static const char *const count_sql[2][4] = {
    {SCOPE U_DAY G_MESSAGES NTH, SCOPE U_DAY G_RECIPIENTS NTH,
     SCOPE U_DAY G_EXTERNAL NTH, SCOPE U_DAY G_UNIQUE NTH},
    {SCOPE U_MIN G_MESSAGES NTH, SCOPE U_MIN G_RECIPIENTS NTH,
     SCOPE U_MIN G_EXTERNAL NTH, SCOPE U_MIN G_UNIQUE NTH},
};

int db_limit_count(db *d, long long inbox_id, const char *tenant,
                   const cs_limit_kind *k, long long max, int64_t now,
                   bool queued, db_limit_use *out, cs_err *err)
{
	bool minute = k->window_ms > 0 && k->window_ms <= 60000;
	sqlite3_stmt *st;
	int rc, s;

	out->used = 0;
	out->frees_at = 0;
	if (k->what == CS_COUNT_PER_MESSAGE || k->window_ms <= 0)
		return 0;
	if ((rc = db_cached(d, count_sql[minute][k->what], &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	db_bind_opt(st, 2, k->scope == CS_SCOPE_TENANT ? tenant : NULL);
	sqlite3_bind_int64(st, 3, now - k->window_ms);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int(st, 5, queued ? 1 : 0);
	sqlite3_bind_int64(st, 6, max > 0 ? max : 1);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->used = sqlite3_column_int64(st, 0);
		out->frees_at = sqlite3_column_int64(st, 1) + k->window_ms;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot count against a provider limit");
	db_done(st);
	return rc;
}

int db_limit_external(db *d, long long inbox_id, const char *tenant,
                      const char *recipient, bool *external, cs_err *err)
{
	static const char sql[] =
	    SCOPE "x AS (SELECT 1) SELECT " EXT("?3") " FROM x";
	sqlite3_stmt *st;
	int rc;

	*external = true;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	db_bind_opt(st, 2, tenant);
	sqlite3_bind_text(st, 3, recipient ? recipient : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*external = sqlite3_column_int(st, 0) != 0;
	else
		rc = db_fail(d, err, "cannot tell an external recipient");
	db_done(st);
	return rc;
}

/* The recipients one message names (a list separated by commas). */
static long long recipients_of(const char *r)
{
	long long n = 1;

	for (; r && *r; r++)
		n += *r == ',';
	return n;
}

int db_limits_check(db *d, const db_message *m, db_caps *caps, cs_err *err)
{
	bool external = true, ext_known = false;
	int i, rc;

	caps->lim_over = false;
	caps->lim_left = LLONG_MAX;
	for (i = 0; i < CS_LIM_COUNT; i++) {
		const cs_limit_kind *k = cs_limit_kind_get((cs_limit_id)i);
		long long max = caps->lim[i];
		db_limit_use u;

		if (max <= 0)
			continue;
		if (k->what == CS_COUNT_PER_MESSAGE) {
			/* coldseq sends one recipient per message: a
			 * message naming more than the provider takes
			 * is refused here, never handed to SMTP */
			u.used = recipients_of(m->recipient);
			if (u.used <= max)
				continue;
			caps->lim_over = true;
			caps->lim_id = (cs_limit_id)i;
			caps->lim_used = u.used;
			caps->lim_max = max;
			caps->lim_frees_at = 0;
			return 0;
		}
		if (k->what == CS_COUNT_EXTERNAL ||
		    k->what == CS_COUNT_UNIQUE_EXTERNAL) {
			if (!ext_known &&
			    (rc = db_limit_external(d, m->inbox_id,
			                            caps->tenant, m->recipient,
			                            &external, err)) != 0)
				return rc;
			ext_known = true;
			if (!external) /* an internal message does not count */
				continue;
		}
		if ((rc = db_limit_count(d, m->inbox_id, caps->tenant, k, max,
		                         m->created_at, false, &u, err)) != 0)
			return rc;
		if (u.used < max) {
			if (max - u.used - 1 < caps->lim_left)
				caps->lim_left = max - u.used - 1;
			continue;
		}
		caps->lim_over = true;
		caps->lim_id = (cs_limit_id)i;
		caps->lim_used = u.used;
		caps->lim_max = max;
		caps->lim_frees_at = u.frees_at;
		return 0;
	}
	return 0;
}

/* ---- sends made outside coldseq -------------------------------------- */

int db_sent_external_add(db *d, long long inbox_id, const char *msg_key,
                         const char *recipient, bool external, int64_t sent_at,
                         const char *local_day, cs_err *err)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO sent_external(inbox_id, msg_key, "
	    "recipient, external, sent_at, local_day) VALUES (?1, ?2, "
	    "lower(?3), ?4, ?5, ?6)";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, msg_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, recipient ? recipient : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, external ? 1 : 0);
	sqlite3_bind_int64(st, 5, sent_at);
	sqlite3_bind_text(st, 6, local_day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err,
		             "cannot record a message sent outside "
		             "coldseq");
	db_done(st);
	return rc;
}

/* ---- tenants --------------------------------------------------------- */

void db_tenant_free(db_tenant *t)
{
	if (t == NULL)
		return;
	free(t->name);
	memset(t, 0, sizeof *t);
}

void db_tenant_list_free(db_tenant *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		db_tenant_free(&v[i]);
	free(v);
}

int db_tenant_set(db *d, const char *name, long long licences,
                  long long external_limit, int64_t now, cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO tenants(name, licences, external_limit, created_at, "
	    "updated_at) VALUES (?1, max(?2, 0), max(?3, 0), ?4, ?4) ON "
	    "CONFLICT(name) DO UPDATE SET licences = CASE WHEN ?2 >= 0 THEN "
	    "?2 ELSE licences END, external_limit = CASE WHEN ?3 >= 0 THEN "
	    "?3 ELSE external_limit END, updated_at = ?4";
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, licences);
	sqlite3_bind_int64(st, 3, external_limit);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot store the tenant");
	sqlite3_finalize(st);
	return rc;
}

/* Every tenant stored or named by a live inbox, by name; name = ?1 when
 * ?1 is not NULL.  Columns: name, licences, external_limit, inboxes. */
static const char tenant_sql[] =
    "WITH n(name) AS (SELECT name FROM tenants UNION SELECT tenant FROM "
    "inboxes WHERE tenant IS NOT NULL AND removed_at IS NULL) SELECT "
    "n.name, coalesce(t.licences, 0), coalesce(t.external_limit, 0), "
    "(SELECT count(*) FROM inboxes i WHERE i.tenant = n.name AND "
    "i.removed_at IS NULL), (SELECT min(id) FROM inboxes i WHERE "
    "i.tenant = n.name) FROM n LEFT JOIN tenants t ON t.name = n.name "
    "WHERE ?1 IS NULL OR n.name = ?1 ORDER BY n.name";

static void read_tenant(sqlite3_stmt *st, db_tenant *t)
{
	memset(t, 0, sizeof *t);
	t->name = db_col_str(st, 0);
	t->licences = sqlite3_column_int64(st, 1);
	t->external_limit = sqlite3_column_int64(st, 2);
	t->inboxes = sqlite3_column_int64(st, 3);
	t->first_inbox = sqlite3_column_int64(st, 4);
}

int db_tenant_get(db *d, const char *name, db_tenant *out, bool *found,
                  cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	*found = false;
	if ((rc = db_prepare(d, tenant_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_ROW) {
		read_tenant(st, out);
		*found = true;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the tenant");
	sqlite3_finalize(st);
	return rc;
}

int db_tenant_list(db *d, db_tenant **out, size_t *n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	*out = NULL;
	*n = 0;
	if ((rc = db_prepare(d, tenant_sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_null(st, 1);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		*out = cs_xrealloc(*out, (*n + 1) * sizeof **out);
		read_tenant(st, &(*out)[(*n)++]);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot list the tenants");
		db_tenant_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sqlite3_finalize(st);
	return rc;
}
