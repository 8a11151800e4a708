/*
 * db_domain_pause.c - the domain_pauses table (schema 16): a sending
 * domain paused or slowed toward a receiving provider, and the one
 * question the slow-down asks of messages (what the domain's inboxes
 * sent lately).
 *
 * The rules (how long, pause outranks slow) are the sequencer's
 * (sequencer/seq_domain_pause.c); here only storage.  Domains are stored
 * lower case; the column is COLLATE NOCASE as well.
 */
#include "db_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"pause", "slow"};

const char *db_dpause_mode_name(db_dpause_mode m)
{
	return cs_enum_name(mode_names, CS_NNAMES(mode_names), (int)m);
}

bool db_dpause_mode_parse(const char *s, db_dpause_mode *m)
{
	int v;

	if (!cs_enum_parse(mode_names, CS_NNAMES(mode_names), s, &v))
		return false;
	*m = (db_dpause_mode)v;
	return true;
}

void db_domain_pause_free(db_domain_pause *p)
{
	if (p == NULL)
		return;
	free(p->domain);
	free(p->provider);
	free(p->code);
	free(p->reason);
	free(p->inbox);
	memset(p, 0, sizeof *p);
}

void db_domain_pause_list_free(db_domain_pause *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		db_domain_pause_free(&v[i]);
	free(v);
}

#define COLS                                                                   \
	"p.domain, p.provider, p.mode, p.until, p.code, p.reason, "            \
	"coalesce(p.inbox_id, 0), i.name, p.created_at, p.updated_at "         \
	"FROM domain_pauses p LEFT JOIN inboxes i ON i.id = p.inbox_id "

static void read_row(sqlite3_stmt *st, db_domain_pause *p)
{
	const char *mode = (const char *)sqlite3_column_text(st, 2);

	memset(p, 0, sizeof *p);
	p->domain = db_col_str(st, 0);
	p->provider = db_col_str(st, 1);
	if (!db_dpause_mode_parse(mode, &p->mode))
		p->mode = DB_DPAUSE_PAUSE; /* the CHECK allows no other */
	p->until = sqlite3_column_int64(st, 3);
	p->code = db_col_str(st, 4);
	p->reason = db_col_str(st, 5);
	p->inbox_id = sqlite3_column_int64(st, 6);
	p->inbox = db_col_str(st, 7);
	p->created_at = sqlite3_column_int64(st, 8);
	p->updated_at = sqlite3_column_int64(st, 9);
}

static char *lower(const char *s)
{
	char *p = cs_xstrdup(s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

int db_domain_pause_get(db *d, const char *domain, const char *provider,
                        db_domain_pause *out, bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT " COLS "WHERE p.domain = ?1 AND p.provider = ?2";
	sqlite3_stmt *st;
	int rc, s;

	*found = false;
	memset(out, 0, sizeof *out);
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, provider, -1, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, out);
		*found = true;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the domain's pauses");
	db_done(st);
	return rc;
}

int db_domain_pause_put(db *d, const db_domain_pause *p, int64_t now,
                        cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO domain_pauses (domain, provider, mode, until, code, "
	    "reason, inbox_id, created_at, updated_at) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (domain, provider) DO UPDATE "
	    "SET mode = excluded.mode, until = excluded.until, code = "
	    "excluded.code, reason = excluded.reason, inbox_id = "
	    "excluded.inbox_id, updated_at = excluded.updated_at";
	sqlite3_stmt *st;
	char *dom = lower(p->domain);
	int rc;

	if ((rc = db_cached(d, sql, &st, err)) != 0) {
		free(dom);
		return rc;
	}
	sqlite3_bind_text(st, 1, dom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, db_dpause_mode_name(p->mode), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, p->until);
	sqlite3_bind_text(st, 5, p->code ? p->code : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->reason ? p->reason : "", -1, SQLITE_STATIC);
	if (p->inbox_id > 0)
		sqlite3_bind_int64(st, 7, p->inbox_id);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record the domain's pause");
	db_done(st);
	free(dom);
	return rc;
}

int db_domain_pause_list(db *d, const char *domain, int64_t now,
                         db_domain_pause **out, size_t *n, cs_err *err)
{
	static const char one[] =
	    "SELECT " COLS "WHERE p.domain = ?1 AND p.until > ?2 "
	    "ORDER BY p.provider";
	static const char all[] = "SELECT " COLS "WHERE p.until > ?2 "
	                          "ORDER BY p.domain, p.provider";
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, s;

	*out = NULL;
	*n = 0;
	if ((rc = db_cached(d, domain ? one : all, &st, err)) != 0)
		return rc;
	if (domain)
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*out = cs_xrealloc(*out, cap * sizeof **out);
		}
		read_row(st, &(*out)[(*n)++]);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read the domain pauses");
		db_domain_pause_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	db_done(st);
	return rc;
}

int db_domain_pause_lift(db *d, const char *domain, const char *provider,
                         int64_t now, long long *n, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (n)
		*n = 0;
	if ((rc = db_prepare(d,
	                     "UPDATE domain_pauses SET until = ?3, updated_at "
	                     "= ?3 WHERE domain = ?1 AND (?2 IS NULL OR "
	                     "provider = ?2) AND until > ?3",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	db_bind_opt(st, 2, provider);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot end the domain's pause");
	else if (n)
		*n = sqlite3_changes(d->h);
	sqlite3_finalize(st);
	if (rc == 0)
		/* its messages that waited for the pause go now (those
		 * toward a provider still paused wait again at once) */
		rc = db_outbox_wake(d,
		                    "inbox_id IN (SELECT id FROM inboxes WHERE "
		                    "lower(substr(email, instr(email, '@') + "
		                    "1)) = lower(?1))",
		                    domain, DB_WAIT_DOMAIN, now, err);
	return rc;
}

int db_domain_sent_since(db *d, const char *domain, int64_t since,
                         int (*fn)(const char *recipient, int64_t at,
                                   void *arg),
                         void *arg, cs_err *err)
{
	/* through the inboxes (few) and messages(inbox_id, created_at) */
	static const char sql[] =
	    "SELECT m.recipient, m.created_at FROM inboxes i JOIN messages m "
	    "ON m.inbox_id = i.id WHERE lower(substr(i.email, "
	    "instr(i.email, '@') + 1)) = lower(?1) AND m.created_at >= ?2 "
	    "ORDER BY m.created_at DESC";
	sqlite3_stmt *st;
	int rc, s;

	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn((const char *)sqlite3_column_text(st, 0),
		             sqlite3_column_int64(st, 1), arg)) != 0)
			break;
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read the domain's messages");
	db_done(st);
	return rc;
}
