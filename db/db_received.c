/*
 * db_received.c - the received_copies table (schema 17): copies of our
 * own messages that other connected inboxes received, with what the
 * receiving server wrote about them, and the two questions the doctor
 * asks of them (pass rates and placement per receiving provider; the
 * DKIM selectors seen).
 *
 * Which results to trust and how they are read is the classifier's
 * (classify/authres.c); here only storage and counting.
 */
#include "db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int db_received_add(db *d, const db_received *r, bool *known, cs_err *err)
{
	static const char find[] =
	    "SELECT inbox_id, purpose, message_id FROM messages "
	    "WHERE message_id = ?1 AND inbox_id IS NOT NULL";
	static const char ins[] =
	    "INSERT OR IGNORE INTO received_copies (receiver_inbox_id, "
	    "message_id, sender_inbox_id, purpose, folder, received_at, spf, "
	    "dkim, dmarc, dkim_domain, dkim_selector, dkim_headers, "
	    "mailfrom_domain, list_unsub) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, ?12, ?13, ?14)";
	sqlite3_stmt *st;
	long long sender = 0;
	char *purpose = NULL, *mid = NULL;
	int rc, s;

	*known = false;
	if (r->message_id == NULL || *r->message_id == '\0')
		return 0;
	if ((rc = db_cached(d, find, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, r->message_id, -1, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_ROW) {
		sender = sqlite3_column_int64(st, 0);
		purpose = db_col_str(st, 1);
		mid = db_col_str(st, 2);
		*known = true;
	} else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot look up a received message");
	db_done(st);
	if (rc || !*known)
		goto out;
	if ((rc = db_cached(d, ins, &st, err)) != 0)
		goto out;
#define T(i, v) sqlite3_bind_text(st, i, (v) ? (v) : "", -1, SQLITE_STATIC)
	sqlite3_bind_int64(st, 1, r->receiver_inbox_id);
	T(2, mid);
	sqlite3_bind_int64(st, 3, sender);
	T(4, purpose);
	T(5, r->folder);
	sqlite3_bind_int64(st, 6, r->received_at);
	T(7, r->spf);
	T(8, r->dkim);
	T(9, r->dmarc);
	T(10, r->dkim_domain);
	T(11, r->dkim_selector);
	T(12, r->dkim_headers);
	T(13, r->mailfrom_domain);
#undef T
	sqlite3_bind_int(st, 14, r->list_unsub & (DB_LU_HEADER | DB_LU_POST));
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record a received copy");
	db_done(st);
out:
	free(purpose);
	free(mid);
	return rc;
}

/*
 * Per receiving provider: the receiving inbox's provider, and for a
 * generic one its address's domain (each generic domain is its own
 * server).  The sender's From domain (f) is its inbox's address's.
 *
 * DMARC: the receiver's dmarc= when it wrote one, else derived as RFC
 * 7489 4.2 says (SPF pass with the MAIL FROM domain aligned, or DKIM pass
 * with d= aligned).  Without the Public Suffix List here, relaxed
 * alignment is taken as "equal, or one a subdomain of the other": it
 * agrees with the organizational-domain rule for a domain and its own
 * subdomains, and calls two sibling subdomains (a.example.com,
 * b.example.com) unaligned, which can only under-count passes.
 */
#define ALIGNED(col)                                                           \
	"(" col " <> '' AND (lower(" col ") = f OR (length(" col               \
	") > length(f) AND substr(lower(" col "), -length(f) - 1) = '.' || "   \
	"f) OR (length(f) > length(" col ") AND substr(f, -length(" col        \
	") - 1) = '.' || lower(" col "))))"

#define SIGNS(h)                                                               \
	"((':' || " h " || ':') LIKE '%:list-unsubscribe:%' AND (':' || " h    \
	" || ':') LIKE '%:list-unsubscribe-post:%')"

/* clang-format off */
#define DMARC_PASS                                                             \
	"sum(CASE WHEN dmarc <> '' THEN dmarc = 'pass' ELSE "                  \
	"(spf = 'pass' AND " ALIGNED("mailfrom_domain") ") OR "                \
	"(dkim = 'pass' AND " ALIGNED("dkim_domain") ") END)"
#define UNSUB_SIGNED                                                           \
	"sum(purpose = 'campaign' AND (list_unsub & 2) <> 0 AND "              \
	SIGNS("dkim_headers") ")"
/* clang-format on */

int db_received_summary(db *d, long long sender_inbox_id, int64_t since,
                        db_received_sum **out, size_t *n, cs_err *err)
{
	static const char sql[] =
	    "WITH c AS (SELECT r.*, CASE WHEN ri.provider = 'generic' THEN "
	    "lower(substr(ri.email, instr(ri.email, '@') + 1)) ELSE "
	    "ri.provider END AS prov, lower(substr(si.email, instr(si.email, "
	    "'@') + 1)) AS f FROM received_copies r JOIN inboxes ri ON ri.id "
	    "= r.receiver_inbox_id JOIN inboxes si ON si.id = "
	    "r.sender_inbox_id WHERE r.sender_inbox_id = ?1 AND "
	    "r.received_at >= ?2) "
	    "SELECT prov, count(*), sum(spf = 'pass'), sum(dkim = "
	    "'pass'), " DMARC_PASS ", sum(spf <> ''), sum(dkim <> ''), "
	    "sum(dmarc <> '' OR spf <> '' OR dkim <> ''), "
	    "sum(folder = 'inbox'), sum(folder = 'junk'), " UNSUB_SIGNED
	    ", sum(purpose = 'campaign'), "
	    "sum(purpose = 'campaign' AND (list_unsub & 1) <> 0), "
	    "sum(purpose = 'campaign' AND (list_unsub & 2) <> 0) "
	    "FROM c GROUP BY prov ORDER BY count(*) DESC, prov";
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, s;

	*out = NULL;
	*n = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, sender_inbox_id);
	sqlite3_bind_int64(st, 2, since);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		db_received_sum *v;
		const char *prov = (const char *)sqlite3_column_text(st, 0);

		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*out = cs_xrealloc(*out, cap * sizeof **out);
		}
		v = &(*out)[(*n)++];
		memset(v, 0, sizeof *v);
		snprintf(v->provider, sizeof v->provider, "%s",
		         prov ? prov : "");
		v->total = sqlite3_column_int64(st, 1);
		v->spf_pass = sqlite3_column_int64(st, 2);
		v->dkim_pass = sqlite3_column_int64(st, 3);
		v->dmarc_pass = sqlite3_column_int64(st, 4);
		v->with_spf = sqlite3_column_int64(st, 5);
		v->with_dkim = sqlite3_column_int64(st, 6);
		v->with_dmarc = sqlite3_column_int64(st, 7);
		v->inbox = sqlite3_column_int64(st, 8);
		v->junk = sqlite3_column_int64(st, 9);
		v->unsub_signed = sqlite3_column_int64(st, 10);
		v->campaign = sqlite3_column_int64(st, 11);
		v->list_unsub = sqlite3_column_int64(st, 12);
		v->list_unsub_post = sqlite3_column_int64(st, 13);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot count the received copies");
		free(*out);
		*out = NULL;
		*n = 0;
	}
	db_done(st);
	return rc;
}

int db_received_selectors(db *d, long long sender_inbox_id, int64_t since,
                          db_dkim_seen **out, size_t *n, cs_err *err)
{
	/* a bare column beside max() comes from the row of the maximum
	 * (SQLite's documented rule): the h= of the most recent copy */
	static const char sql[] =
	    "SELECT dkim_selector, lower(dkim_domain), dkim_headers, "
	    "max(received_at) AS t FROM received_copies WHERE sender_inbox_id "
	    "= ?1 AND received_at >= ?2 AND dkim_selector <> '' GROUP BY "
	    "dkim_selector, lower(dkim_domain) ORDER BY t DESC, dkim_selector";
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, s;

	*out = NULL;
	*n = 0;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, sender_inbox_id);
	sqlite3_bind_int64(st, 2, since);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		db_dkim_seen *v;

		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*out = cs_xrealloc(*out, cap * sizeof **out);
		}
		v = &(*out)[(*n)++];
		v->selector = db_col_str(st, 0);
		v->domain = db_col_str(st, 1);
		v->headers = db_col_str(st, 2);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read the DKIM selectors seen");
		db_dkim_seen_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	db_done(st);
	return rc;
}

void db_dkim_seen_free(db_dkim_seen *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].selector);
		free(v[i].domain);
		free(v[i].headers);
	}
	free(v);
}
