/*
 * db_contact.c - contacts: lookup, listing, and `forget` (erase personal
 * data, keep a salted hash as a suppression).
 *
 * Addresses are stored normalised (cs_email_normalize) in a column that is
 * COLLATE NOCASE; since normalised addresses are ASCII, that makes every
 * lookup case-insensitive.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* The names of db_contact_status (db.h), in enum order: the database's
 * words (the schema's CHECK on contacts.status). */
static const char *const status_names[] = {"active", "replied", "bounced",
                                           "unsubscribed", "complained"};

DB_ENUM_NAMES(contact_status, db_contact_status, status_names)

db_contact_status db_col_contact_status(sqlite3_stmt *st, int col)
{
	return (db_contact_status)db_col_enum(st, col, status_names,
	                                      CS_NNAMES(status_names));
}

/* ---- contacts ------------------------------------------------------------ */

#define CONTACT_COLS                                                           \
	"c.id, c.email, c.first_name, c.last_name, c.company, c.title, "       \
	"c.website, c.timezone, c.custom, c.status, c.created_at, "            \
	"c.updated_at"

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? cs_xstrdup((const char *)t) : NULL;
}

static void read_contact(sqlite3_stmt *st, db_contact *c)
{
	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(st, 0);
	c->email = col_str(st, 1);
	c->first_name = col_str(st, 2);
	c->last_name = col_str(st, 3);
	c->company = col_str(st, 4);
	c->title = col_str(st, 5);
	c->website = col_str(st, 6);
	c->timezone = col_str(st, 7);
	c->custom = col_str(st, 8);
	c->status = db_col_contact_status(st, 9);
	c->created_at = sqlite3_column_int64(st, 10);
	c->updated_at = sqlite3_column_int64(st, 11);
}

void db_contact_free(db_contact *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->email);
	free(c->first_name);
	free(c->last_name);
	free(c->company);
	free(c->title);
	free(c->website);
	free(c->timezone);
	free(c->custom);
	for (i = 0; i < c->nlists; i++)
		free(c->lists[i]);
	free(c->lists);
	memset(c, 0, sizeof *c);
}

/* cached: the scheduler reads a contact for every message it queues */
static const char contact_by_email[] =
    "SELECT " CONTACT_COLS " FROM contacts c WHERE c.email = ?1";
static const char lists_of_contact[] =
    "SELECT l.name FROM list_members m JOIN lists l ON l.id = m.list_id "
    "WHERE m.contact_id = ?1 ORDER BY l.name";

int db_contact_get(db *d, const char *email, db_contact *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof *out);
	if ((rc = db_cached(d, contact_by_email, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_contact(st, out);
	else if (s == SQLITE_DONE)
		rc = cs_err_set(err, CS_ENOTFOUND, "no contact %s", email);
	else
		rc = db_fail(d, err, "cannot read contacts");
	db_done(st);
	if (rc != 0)
		return rc;
	if ((rc = db_cached(d, lists_of_contact, &st, err)) != 0) {
		db_contact_free(out);
		return rc;
	}
	sqlite3_bind_int64(st, 1, out->id);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		out->lists = cs_xrealloc(out->lists, (out->nlists + 1) *
		                                         sizeof *out->lists);
		out->lists[out->nlists++] = col_str(st, 0);
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(d, err, "cannot read lists");
		db_contact_free(out);
	}
	db_done(st);
	return rc;
}

int db_contact_foreach(db *d, const char *list, long long limit,
                       int (*fn)(const db_contact *c, void *arg), void *arg,
                       cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;

	if (list) {
		if ((rc = db_prepare(d, "SELECT 1 FROM lists WHERE name = ?1",
		                     &st, err)) != 0)
			return rc;
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
		s = sqlite3_step(st);
		sqlite3_finalize(st);
		if (s != SQLITE_ROW)
			return cs_err_set(err, CS_ENOTFOUND,
			                  "no list named '%s'", list);
		rc = db_prepare(d,
		                "SELECT " CONTACT_COLS
		                " FROM contacts c JOIN list_members m ON "
		                "m.contact_id = c.id JOIN lists l ON l.id = "
		                "m.list_id WHERE l.name = ?1 ORDER BY c.email "
		                "LIMIT ?2",
		                &st, err);
	} else {
		rc = db_prepare(d,
		                "SELECT " CONTACT_COLS
		                " FROM contacts c ORDER BY c.email LIMIT ?2",
		                &st, err);
	}
	if (rc != 0)
		return rc;
	if (list)
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit < 0 ? -1 : limit);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		db_contact c;

		read_contact(st, &c);
		rc = fn(&c, arg);
		db_contact_free(&c);
		if (rc != 0)
			break;
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read contacts");
	sqlite3_finalize(st);
	return rc;
}

/* ---- forget -------------------------------------------------------------- */

/* SHA-256 of (salt || lower-case address); the salt (16 random bytes in
 * meta) is made on first use, so hashes mean nothing outside this
 * database. */
static int forget_hash(db *d, const char *email, bool create,
                       unsigned char out[32], bool *have_salt, cs_err *err)
{
	cs_buf salt = CS_BUF_INIT;
	bool found = false;
	EVP_MD_CTX *h;
	char *lc;
	size_t i;
	int rc;

	*have_salt = false;
	if ((rc = db_meta_get(d, "forget_salt", &salt, &found, err)) != 0)
		goto out;
	if (!found) {
		unsigned char s[16];

		if (!create)
			goto out;
		cs_random_bytes(s, sizeof s);
		if ((rc = db_meta_set(d, "forget_salt", s, sizeof s, err)) != 0)
			goto out;
		cs_buf_append(&salt, s, sizeof s);
	}
	*have_salt = true;
	lc = cs_xstrdup(email);
	for (i = 0; lc[i]; i++)
		lc[i] = (char)tolower((unsigned char)lc[i]);
	h = EVP_MD_CTX_new();
	if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h, salt.data, salt.len) != 1 ||
	    EVP_DigestUpdate(h, lc, i) != 1 ||
	    EVP_DigestFinal_ex(h, out, NULL) != 1)
		cs_fatal("SHA-256 failed");
	EVP_MD_CTX_free(h);
	free(lc);
out:
	cs_buf_free(&salt);
	return rc;
}

int db_is_forgotten(db *d, const char *email, bool *out, cs_err *err)
{
	static const char sql[] = "SELECT 1 FROM forgotten WHERE hash = ?1";
	unsigned char h[32];
	bool have;
	sqlite3_stmt *st;
	int rc, s;

	*out = false;
	if ((rc = forget_hash(d, email, false, h, &have, err)) != 0 || !have)
		return rc;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*out = true;
	else if (s != SQLITE_DONE)
		rc = db_fail(d, err, "cannot read forgotten addresses");
	db_done(st);
	return rc;
}

static int exec1(db *d, const char *sql, const char *email, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot forget a contact");
	sqlite3_finalize(st);
	return rc;
}

static int exec2(db *d, const char *sql, const char *email, const char *ph,
                 cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ph, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot forget a contact");
	sqlite3_finalize(st);
	return rc;
}

/* What the sent messages and the watcher's events keep of the address:
 * their rows stay (daily caps, bounce and reply counts stay right), the
 * address becomes the placeholder (?2), and the texts that can carry it or
 * other personal data go: subjects (names from templates, the contact's
 * own words) are emptied; an SMTP reply or a bounce reason that quotes the
 * address keeps its text with the address replaced (lower-cased: SQLite's
 * replace() is case-sensitive).  Columns are NOCASE, so ?1 matches any
 * spelling. */
static const char forget_messages[] =
    "UPDATE messages SET recipient = ?2, subject = NULL, smtp_reply = CASE "
    "WHEN instr(lower(smtp_reply), lower(?1)) > 0 THEN "
    "replace(lower(smtp_reply), lower(?1), ?2) ELSE smtp_reply END WHERE "
    "recipient = ?1";
static const char forget_events[] =
    "UPDATE events SET "
    "recipient = CASE WHEN recipient = ?1 THEN ?2 ELSE recipient END, "
    "contact = CASE WHEN contact = ?1 THEN ?2 ELSE contact END, "
    "from_addr = CASE WHEN from_addr = ?1 THEN ?2 ELSE from_addr END, "
    "subject = NULL, reason = CASE WHEN instr(lower(reason), lower(?1)) > 0 "
    "THEN replace(lower(reason), lower(?1), ?2) ELSE reason END "
    "WHERE recipient = ?1 OR contact = ?1 OR from_addr = ?1";

int db_contact_forget(db *d, const char *email, int64_t now, bool *found,
                      bool *purged, cs_err *err)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char h[32];
	char ph[32] = "forgotten:";
	bool have;
	sqlite3_stmt *st;
	size_t i, n = strlen(ph);
	int rc;

	*found = false;
	*purged = false;
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if ((rc = forget_hash(d, email, true, h, &have, err)) != 0)
		goto fail;
	/* the placeholder: 8 bytes of the salted hash, meaningless outside
	 * this database, the same for every row of one address */
	for (i = 0; i < 8; i++) {
		ph[n++] = hexd[h[i] >> 4];
		ph[n++] = hexd[h[i] & 15];
	}
	ph[n] = '\0';
	if ((rc = db_prepare(d,
	                     "INSERT INTO forgotten(hash, created_at) VALUES "
	                     "(?1, ?2) ON CONFLICT(hash) DO NOTHING",
	                     &st, err)) != 0)
		goto fail;
	sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot record a forgotten address");
	sqlite3_finalize(st);
	if (rc != 0)
		goto fail;
	/* list memberships go with the row (ON DELETE CASCADE) */
	if ((rc = exec1(d, "DELETE FROM contacts WHERE email = ?1", email,
	                err)) != 0)
		goto fail;
	*found = sqlite3_changes(d->h) > 0;
	/* the plain address suppression is replaced by the hash */
	if ((rc = db_suppress_remove(d, "address", email, NULL, err)) != 0)
		goto fail;
	if ((rc = exec2(d, forget_messages, email, ph, err)) != 0 ||
	    (rc = exec2(d, forget_events, email, ph, err)) != 0)
		goto fail;
	if ((rc = db_commit(d, err)) != 0)
		goto fail;
	/* Old page images holding the address are still in the WAL (and in
	 * the main file until a checkpoint): copy the new pages in and empty
	 * the WAL.  A reader that holds an old snapshot past the busy timeout
	 * keeps them there until a later checkpoint (*purged false). */
	if (d->depth == 0)
		*purged = sqlite3_wal_checkpoint_v2(d->h, NULL,
		                                    SQLITE_CHECKPOINT_TRUNCATE,
		                                    NULL, NULL) == SQLITE_OK;
	return 0;
fail:
	db_rollback(d);
	return rc;
}
