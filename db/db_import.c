/*
 * db_import.c - bulk contact import: check rows against a snapshot, stage
 * them outside the write lock, store them in one short transaction.
 *
 * Why staged: a million-row file takes seconds to read and check; holding
 * the database's write lock that long would make the running service's
 * writes wait past their busy timeout.  So rows are checked against an
 * in-memory snapshot (stored addresses, suppressions, forgotten hashes)
 * and appended to an unlinked file in the data directory; only
 * db_import_commit takes the lock, and it only inserts.  A row stored by
 * someone else meanwhile is caught by the UNIQUE address (counted as
 * "raced").  An interrupted import leaves nothing: the stage file has no
 * name, and the transaction never committed.
 *
 * Memory: the address set (db_strset.c) keeps each distinct address once
 * plus about 16 bytes of index per address; the file itself is streamed.
 *
 * Speed: db_import_commit stores the whole stage with one INSERT ... SELECT
 * from a virtual table that reads the stage file (coldseq_stage, on the
 * connection only while the commit runs).  One statement run instead of
 * one per row keeps the b-tree cursors open: a million rows cost no
 * million statement set-ups and tear-downs.  The counts come from the
 * rowids: new contacts get max(rowid) + 1 each, so the rows inserted are
 * exactly those above the largest rowid before.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- the import ------------------------------------------------------------
 */

#define NFIELDS   8 /* email .. custom, as in db_import_row */
#define STAGE_BUF ((size_t)1 << 16)

struct db_import {
	db *d;
	db_strset seen;       /* stored addresses (line 0) and the file's */
	db_strset sup_addr;   /* suppressed addresses, index = reason */
	db_strset sup_domain; /* suppressed domains */
	char **reasons; /* reason per sup entry: addr first, then domain */
	size_t nreasons;
	db_strset forgotten; /* hex SHA-256 of forgotten addresses */
	cs_buf salt;
	FILE *stage;
	char *iobuf; /* the stage's stdio buffer */
	long long staged, staged_new;
	cs_buf rec; /* one stage record, reused */
	bool full;  /* the address set ran out of room */
	bool alone; /* no service runs: the commit may leave WAL (see there) */
	/* while db_import_commit runs (the virtual table reports here) */
	int (*progress)(void *arg, long long done);
	void *progress_arg;
	long long done;
	int stop; /* non-zero: why the stage scan stopped (err is set) */
	cs_err *err;
};

static char *lower(const char *s)
{
	char *p = cs_xstrdup(s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static int load(db_import *im, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;
	bool found = false;

	/* one read transaction: a consistent snapshot of all three */
	if ((rc = db_prepare(im->d, "SELECT email FROM contacts", &st, err)) !=
	    0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		char *e = lower((const char *)sqlite3_column_text(st, 0));

		if (db_strset_add(&im->seen, e, 0) != 0)
			im->full = true;
		free(e);
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read contacts");
	if ((rc = db_prepare(im->d,
	                     "SELECT kind, value, reason FROM suppressions",
	                     &st, err)) != 0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		char *v = lower((const char *)sqlite3_column_text(st, 1));
		db_strset *set = strcmp(kind, "domain") == 0 ? &im->sup_domain
		                                             : &im->sup_addr;

		if (db_strset_add(set, v, im->nreasons) == 0) {
			im->reasons =
			    cs_xrealloc(im->reasons, (im->nreasons + 1) *
			                                 sizeof *im->reasons);
			im->reasons[im->nreasons++] = cs_xstrdup(
			    (const char *)sqlite3_column_text(st, 2));
		}
		free(v);
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read suppressions");
	if ((rc = db_meta_get(im->d, "forget_salt", &im->salt, &found, err)) !=
	    0)
		return rc;
	if (!found)
		return 0;
	if ((rc = db_prepare(im->d, "SELECT hex(hash) FROM forgotten", &st,
	                     err)) != 0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		(void)db_strset_add(&im->forgotten,
		                    (const char *)sqlite3_column_text(st, 0),
		                    0);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read forgotten addresses");
	return 0;
}

int db_import_open(db *d, const char *stage_dir, db_import **out, cs_err *err)
{
	db_import *im = cs_xcalloc(1, sizeof *im);
	char *path = cs_xasprintf("%s/.import-stage.XXXXXX", stage_dir);
	int fd, rc;

	*out = NULL;
	im->d = d;
	fd = mkstemp(path);
	if (fd < 0) {
		rc = cs_err_set(err, CS_EIO,
		                "cannot create a stage file in %s: %s",
		                stage_dir, strerror(errno));
		free(path);
		db_import_free(im);
		return rc;
	}
	unlink(path); /* nameless: gone with the process, whatever happens */
	free(path);
	im->stage = fdopen(fd, "w+b");
	if (im->stage == NULL)
		cs_fatal("fdopen failed");
	/* glibc ignores the size without a buffer: give it one (a 4 KiB
	 * default costs a system call per 4 KiB of a 200 MB stage) */
	im->iobuf = cs_xmalloc(STAGE_BUF);
	setvbuf(im->stage, im->iobuf, _IOFBF, STAGE_BUF);
	if ((rc = load(im, err)) != 0) {
		db_import_free(im);
		return rc;
	}
	*out = im;
	return 0;
}

static bool is_forgotten(db_import *im, const char *email)
{
	static const char hexd[] = "0123456789ABCDEF";
	unsigned char h[32];
	char hex[65];
	size_t slot, i;
	EVP_MD_CTX *c;

	if (im->forgotten.n == 0)
		return false;
	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, im->salt.data, im->salt.len) != 1 ||
	    EVP_DigestUpdate(c, email, strlen(email)) != 1 ||
	    EVP_DigestFinal_ex(c, h, NULL) != 1)
		cs_fatal("SHA-256 failed");
	EVP_MD_CTX_free(c);
	for (i = 0; i < 32; i++) {
		hex[2 * i] = hexd[h[i] >> 4];
		hex[2 * i + 1] = hexd[h[i] & 15];
	}
	hex[64] = '\0';
	return db_strset_find(&im->forgotten, hex, &slot) >= 0;
}

db_import_verdict db_import_check(db_import *im, const char *email, size_t line,
                                  size_t *first_line, const char **reason)
{
	char key[320];
	size_t n = strlen(email), i, slot;
	const char *at;
	uint64_t h;
	long e;

	*first_line = 0;
	*reason = NULL;
	if (n >= sizeof key)
		n = sizeof key - 1;
	h = DB_HASH_INIT;
	for (i = 0; i < n; i++) {
		key[i] = (char)tolower((unsigned char)email[i]);
		h = db_hash_byte(h, (unsigned char)key[i]);
	}
	key[n] = '\0';
	h = db_hash_end(h); /* = db_hash_str(key) */
	/* the suppression checks overlap loading the slot */
	db_strset_prefetch(&im->seen, h);
	if ((e = db_strset_find(&im->sup_addr, key, &slot)) >= 0) {
		*reason = im->reasons[im->sup_addr.line[e]];
		return DB_IMP_SUPPRESSED;
	}
	at = strrchr(key, '@');
	if (at && (e = db_strset_find(&im->sup_domain, at + 1, &slot)) >= 0) {
		*reason = im->reasons[im->sup_domain.line[e]];
		return DB_IMP_SUPPRESSED;
	}
	if (is_forgotten(im, key)) {
		*reason = "forgotten (contacts forget)";
		return DB_IMP_SUPPRESSED;
	}
	if ((e = db_strset_find_h(&im->seen, key, h, &slot)) >= 0) {
		*first_line = im->seen.line[e];
		if (*first_line)
			return DB_IMP_DUPLICATE;
		/* stored: a later row of the file with it is a duplicate */
		im->seen.line[e] = (uint32_t)line;
		return DB_IMP_EXISTING;
	}
	if (db_strset_add_h(&im->seen, key, h, line) != 0)
		im->full = true; /* the UNIQUE index still catches it */
	return DB_IMP_NEW;
}

/* Record: u32 length of the rest, u8 existing, then NFIELDS of
 * (u32 length or UINT32_MAX for NULL, bytes). */

int db_import_stage(db_import *im, size_t line, bool existing,
                    const db_import_row *r, cs_err *err)
{
	const char *f[NFIELDS] = {r->email,    r->first_name, r->last_name,
	                          r->company,  r->title,      r->website,
	                          r->timezone, r->custom};
	cs_buf *b = &im->rec;
	uint32_t len[NFIELDS], total = 1;
	size_t i;
	char *w;

	(void)line;
	for (i = 0; i < NFIELDS; i++) {
		len[i] = f[i] && *f[i] ? (uint32_t)strlen(f[i]) : UINT32_MAX;
		total += 4 + (len[i] == UINT32_MAX ? 0 : len[i]);
	}
	cs_buf_clear(b);
	cs_buf_reserve(b, 4 + (size_t)total);
	w = b->data;
	memcpy(w, &total, 4);
	w[4] = existing ? 1 : 0;
	w += 5;
	for (i = 0; i < NFIELDS; i++) {
		memcpy(w, &len[i], 4);
		w += 4;
		if (len[i] != UINT32_MAX) {
			memcpy(w, f[i], len[i]);
			w += len[i];
		}
	}
	b->len = (size_t)(w - b->data);
	if (fwrite(b->data, 1, b->len, im->stage) != b->len)
		return cs_err_set(err, CS_EIO,
		                  "cannot write the stage file: %s",
		                  strerror(errno));
	im->staged++;
	if (!existing)
		im->staged_new++;
	return 0;
}

long long db_import_staged(const db_import *im)
{
	return im->staged;
}

/* Read the next record into b; fields point into b (not NUL-terminated:
 * bound with their lengths).  Returns 1 at the end of the file. */
static int next_record(FILE *f, cs_buf *b, bool *existing,
                       const char *fields[NFIELDS], uint32_t lens[NFIELDS],
                       cs_err *err)
{
	uint32_t total;
	size_t i, at = 1;

	if (fread(&total, 4, 1, f) != 1)
		return feof(f) ? 1
		               : cs_err_set(err, CS_EIO,
		                            "cannot read the stage file");
	cs_buf_clear(b);
	cs_buf_reserve(b, total);
	if (fread(b->data, 1, total, f) != total)
		return cs_err_set(err, CS_EIO, "the stage file is short");
	b->len = total;
	*existing = b->data[0] != 0;
	for (i = 0; i < NFIELDS; i++) {
		if (at + 4 > total)
			return cs_err_set(err, CS_EIO, "the stage file is bad");
		memcpy(&lens[i], b->data + at, 4);
		at += 4;
		if (lens[i] == UINT32_MAX) {
			fields[i] = NULL;
			continue;
		}
		if (lens[i] > total - at)
			return cs_err_set(err, CS_EIO, "the stage file is bad");
		fields[i] = b->data + at;
		at += lens[i];
	}
	return 0;
}

/* ---- the stage as a virtual table -------------------------------------- */

/* Columns of coldseq_stage, in stage record order, then the flag. */
#define ST_CUSTOM   7
#define ST_EXISTING NFIELDS

typedef struct stage_vtab {
	sqlite3_vtab base; /* first: SQLite's view of it */
	db_import *im;
} stage_vtab;

typedef struct stage_cursor {
	sqlite3_vtab_cursor base; /* first */
	db_import *im;
	cs_buf rec; /* the current record; fields point into it */
	const char *f[NFIELDS];
	uint32_t lens[NFIELDS];
	bool existing, eof;
	sqlite3_int64 rowid;
} stage_cursor;

static int stage_connect(sqlite3 *h, void *aux, int argc,
                         const char *const *argv, sqlite3_vtab **out,
                         char **errmsg)
{
	stage_vtab *v;
	int rc;

	(void)argc;
	(void)argv;
	(void)errmsg;
	rc = sqlite3_declare_vtab(h, "CREATE TABLE x(email, first_name, "
	                             "last_name, company, title, website, "
	                             "timezone, custom, existing)");
	if (rc != SQLITE_OK)
		return rc;
	/* only in statements of this code, never from a schema object */
	sqlite3_vtab_config(h, SQLITE_VTAB_DIRECTONLY);
	v = cs_xcalloc(1, sizeof *v);
	v->im = aux;
	*out = &v->base;
	return SQLITE_OK;
}

static int stage_disconnect(sqlite3_vtab *vt)
{
	free(vt);
	return SQLITE_OK;
}

static int stage_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	const stage_vtab *v = (const stage_vtab *)vt;

	/* a full scan, always: no constraint is used */
	info->estimatedRows = v->im->staged > 0 ? v->im->staged : 1;
	info->estimatedCost = (double)info->estimatedRows;
	return SQLITE_OK;
}

static int stage_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	stage_cursor *c = cs_xcalloc(1, sizeof *c);

	c->im = ((stage_vtab *)vt)->im;
	c->eof = true;
	*out = &c->base;
	return SQLITE_OK;
}

static int stage_close(sqlite3_vtab_cursor *cur)
{
	stage_cursor *c = (stage_cursor *)cur;

	cs_buf_free(&c->rec);
	free(c);
	return SQLITE_OK;
}

/* A failed read or a progress function that says stop ends the statement:
 * im->stop and im->err say why. */
static int stage_stop(stage_cursor *c, int rc)
{
	c->im->stop = rc;
	sqlite3_free(c->base.pVtab->zErrMsg);
	c->base.pVtab->zErrMsg = sqlite3_mprintf("%s", c->im->err->msg);
	return SQLITE_ERROR;
}

static int stage_next(sqlite3_vtab_cursor *cur)
{
	stage_cursor *c = (stage_cursor *)cur;
	db_import *im = c->im;
	int rc;

	rc = next_record(im->stage, &c->rec, &c->existing, c->f, c->lens,
	                 im->err);
	if (rc == 1) {
		c->eof = true;
		return SQLITE_OK;
	}
	if (rc != 0)
		return stage_stop(c, rc);
	c->rowid++;
	if (im->progress && (++im->done & 0x3fff) == 0 &&
	    (rc = im->progress(im->progress_arg, im->done)) != 0) {
		cs_err_set(im->err, rc,
		           "interrupted while storing; nothing was stored");
		return stage_stop(c, rc);
	}
	return SQLITE_OK;
}

static int stage_filter(sqlite3_vtab_cursor *cur, int idx_num,
                        const char *idx_str, int argc, sqlite3_value **argv)
{
	stage_cursor *c = (stage_cursor *)cur;

	(void)idx_num;
	(void)idx_str;
	(void)argc;
	(void)argv;
	c->eof = false;
	c->rowid = 0;
	if (fseek(c->im->stage, 0, SEEK_SET) != 0)
		return stage_stop(c, cs_err_set(c->im->err, CS_EIO,
		                                "cannot read the stage file"));
	return stage_next(cur);
}

static int stage_eof(sqlite3_vtab_cursor *cur)
{
	return ((const stage_cursor *)cur)->eof;
}

static int stage_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	const stage_cursor *c = (const stage_cursor *)cur;

	if (i == ST_EXISTING)
		sqlite3_result_int(ctx, c->existing);
	else if (i >= 0 && i < NFIELDS && c->f[i])
		sqlite3_result_text(ctx, c->f[i], (int)c->lens[i],
		                    SQLITE_TRANSIENT);
	else if (i == ST_CUSTOM)
		sqlite3_result_text(ctx, "{}", 2, SQLITE_STATIC);
	else
		sqlite3_result_null(ctx);
	return SQLITE_OK;
}

static int stage_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
	*out = ((const stage_cursor *)cur)->rowid;
	return SQLITE_OK;
}

/* Eponymous-only (no xCreate): usable as "FROM coldseq_stage". */
static const sqlite3_module stage_module = {
    .iVersion = 0,
    .xConnect = stage_connect,
    .xBestIndex = stage_best_index,
    .xDisconnect = stage_disconnect,
    .xOpen = stage_open,
    .xClose = stage_close,
    .xFilter = stage_filter,
    .xNext = stage_next,
    .xEof = stage_eof,
    .xColumn = stage_column,
    .xRowid = stage_rowid,
};

/* ---- storing ------------------------------------------------------------ */

/* The id of list `name`, created when new. */
static int list_id(db *d, const char *name, int64_t now, long long *id,
                   cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "INSERT INTO lists(name, created_at) VALUES (?1, "
	                     "?2) ON CONFLICT(name) DO UPDATE SET name = name "
	                     "RETURNING id",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot create the list");
	sqlite3_finalize(st);
	return rc;
}

static int register_fields(db *d, const char *const *names, size_t n,
                           int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = db_prepare(d,
	                     "INSERT INTO contact_fields(name, created_at) "
	                     "VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
	                     &st, err)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot register a custom field");
	}
	sqlite3_finalize(st);
	return rc;
}

static int max_id(db *d, long long *out, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "SELECT coalesce(max(id), 0) FROM contacts",
	                     &st, err)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot read contacts");
	sqlite3_finalize(st);
	return rc;
}

/* Run sql over the stage, binding ?1..?3 to a, b, c.  A stop from the
 * stage scan (read error, progress said stop) is reported as such. */
static int run_stage(db_import *im, const char *sql, long long a, long long b,
                     long long c, const char *what, cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(im->d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	im->done = 0;
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = im->stop ? im->stop : db_fail(im->d, err, what);
	sqlite3_finalize(st);
	return rc;
}

#define INSERT_STAGE                                                           \
	"INSERT INTO contacts(email, first_name, last_name, company, title, "  \
	"website, timezone, custom, created_at, updated_at) SELECT email, "    \
	"first_name, last_name, company, title, website, timezone, custom, "   \
	"?1, ?1 FROM coldseq_stage WHERE ?2 OR NOT existing ON "               \
	"CONFLICT(email) "

/* skip: rows known to exist are only added to the list */
static const char insert_skip[] = INSERT_STAGE "DO NOTHING";

static const char insert_update[] =
    INSERT_STAGE "DO UPDATE SET "
                 "first_name = coalesce(excluded.first_name, first_name), "
                 "last_name = coalesce(excluded.last_name, last_name), "
                 "company = coalesce(excluded.company, company), "
                 "title = coalesce(excluded.title, title), "
                 "website = coalesce(excluded.website, website), "
                 "timezone = coalesce(excluded.timezone, timezone), "
                 "custom = json_patch(custom, excluded.custom), "
                 "updated_at = excluded.updated_at";

/* List members: the contacts inserted (ids above ?3) ... */
static const char member_new[] =
    "INSERT INTO list_members(list_id, contact_id, added_at) SELECT ?1, id, "
    "?2 FROM contacts WHERE id > ?3 ON CONFLICT DO NOTHING";
/* ... and, with update, those updated: the rows known to exist, and every
 * row when some new ones turned out stored meanwhile (?3 true).  CROSS
 * JOIN keeps the stage outside: one index look-up per row. */
static const char member_updated[] =
    "INSERT INTO list_members(list_id, contact_id, added_at) SELECT ?1, "
    "c.id, ?2 FROM coldseq_stage s CROSS JOIN contacts c ON c.email = "
    "s.email WHERE s.existing OR ?3 ON CONFLICT DO NOTHING";

void db_import_set_alone(db_import *im, bool alone)
{
	im->alone = alone;
}

/* Switch the connection's journal mode; true when SQLite took it (it
 * keeps WAL while another connection has the database open). */
static bool journal_mode(db *d, const char *mode)
{
	char sql[48];
	sqlite3_stmt *st;
	bool took = false;

	snprintf(sql, sizeof sql, "PRAGMA journal_mode = %s", mode);
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *got = (const char *)sqlite3_column_text(st, 0);

		took = got && strcasecmp(got, mode) == 0;
	}
	sqlite3_finalize(st);
	return took;
}

int db_import_commit(db_import *im, const char *list,
                     const char *const *custom_names, size_t ncustom,
                     bool update, int64_t now,
                     int (*progress)(void *arg, long long done), void *arg,
                     db_import_counts *out, cs_err *err)
{
	db *d = im->d;
	long long lid = 0, before = 0, after = 0, changed;
	bool rolled = false;
	int rc;

	memset(out, 0, sizeof *out);
	if (fflush(im->stage) != 0)
		return cs_err_set(err, CS_EIO, "cannot write the stage file");
	/* the checks are done: give their memory to the page cache, so the
	 * index inserts of a big import stay in memory */
	db_strset_free(&im->seen);
	im->progress = progress;
	im->progress_arg = arg;
	im->stop = 0;
	im->err = err;
	if (sqlite3_create_module_v2(d->h, "coldseq_stage", &stage_module, im,
	                             NULL) != SQLITE_OK)
		return db_fail(d, err, "cannot read the stage file");
	sqlite3_exec(d->h, "PRAGMA cache_size = -32768", NULL, NULL, NULL);
	/* In WAL mode every page of a big import is written twice (into the
	 * log, then by the checkpoint into the file) and read back once: 3
	 * of the 4 seconds of a million rows.  When no service runs (the
	 * caller says so), this one transaction uses the rollback journal:
	 * new pages go straight into the file, since a rollback journal keeps
	 * only the pages that existed before, and the commit is as atomic and
	 * durable (synchronous FULL; a crash leaves a hot journal that the
	 * next open rolls back).  Another process that opens the database
	 * meanwhile waits on its busy timeout (the commit of a million rows
	 * takes about a second).  With another connection open SQLite keeps
	 * WAL, and the import runs as it would with the service. */
	if (im->alone)
		rolled = journal_mode(d, "delete");
	if ((rc = db_begin(d, err)) != 0)
		goto out;
	if (list && (rc = list_id(d, list, now, &lid, err)) != 0)
		goto fail;
	if ((rc = register_fields(d, custom_names, ncustom, now, err)) != 0)
		goto fail;
	if ((rc = max_id(d, &before, err)) != 0)
		goto fail;
	/* past INT64_MAX - n, SQLite picks new rowids at random */
	if (before > INT64_MAX - im->staged - 1) {
		rc = cs_err_set(err, CS_EDB, "contact ids are exhausted");
		goto fail;
	}
	if ((rc = run_stage(im, update ? insert_update : insert_skip, now,
	                    update, 0, "cannot store the contacts", err)) != 0)
		goto fail;
	changed = sqlite3_changes64(d->h);
	if ((rc = max_id(d, &after, err)) != 0)
		goto fail;
	out->inserted = after - before;
	if (update) {
		out->updated = changed - out->inserted;
		if (im->staged_new > out->inserted)
			out->raced = im->staged_new - out->inserted;
	} else {
		out->raced = im->staged_new - changed;
	}
	if (list) {
		if ((rc = run_stage(im, member_new, lid, now, before,
		                    "cannot add to the list", err)) != 0)
			goto fail;
		out->added = sqlite3_changes64(d->h);
		/* stored contacts: updated ones, or (skip) those staged as
		 * existing; a row stored meanwhile only when updating */
		if (im->staged > im->staged_new || (update && out->raced > 0)) {
			if ((rc = run_stage(im, member_updated, lid, now,
			                    update && out->raced > 0,
			                    "cannot add to the list", err)) !=
			    0)
				goto fail;
			out->added += sqlite3_changes64(d->h);
		}
	}
	if ((rc = db_commit(d, err)) != 0)
		goto fail;
	goto out;
fail:
	db_rollback(d);
out:
	sqlite3_create_module_v2(d->h, "coldseq_stage", NULL, NULL, NULL);
	sqlite3_exec(d->h, "PRAGMA cache_size = -2000", NULL, NULL, NULL);
	/* back to WAL (db_open sets it again at every open should this
	 * fail: a reader kept the database busy) */
	if (rolled && !journal_mode(d, "wal"))
		cs_log_warn("database %s: could not switch back to WAL after "
		            "the import (the next open does)",
		            d->path);
	im->progress = NULL;
	im->err = NULL;
	return rc;
}

void db_import_free(db_import *im)
{
	size_t i;

	if (im == NULL)
		return;
	db_strset_free(&im->seen);
	db_strset_free(&im->sup_addr);
	db_strset_free(&im->sup_domain);
	db_strset_free(&im->forgotten);
	for (i = 0; i < im->nreasons; i++)
		free(im->reasons[i]);
	free(im->reasons);
	cs_buf_free(&im->salt);
	cs_buf_free(&im->rec);
	if (im->stage)
		fclose(im->stage);
	free(im->iobuf);
	free(im);
}
